/* init.c — start-up, thread registration and fork.
 *
 * Start-up is lazy (the first slow path, or the library constructor,
 * whichever comes first) and must survive being entered from ld.so, from
 * another library's constructor, or from inside itself: while this thread
 * reads its settings, its requests go to the C library, and requests from
 * other threads do too until the allocator is marked ready. The fork
 * handlers are registered before that mark, so no fork can ever copy a lock
 * hakmem holds. */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

_Atomic(int) hak_state;
uintptr_t hak_brk_start = UINTPTR_MAX;
static pthread_key_t thread_key;
static bool have_key;

__thread bool hak_forking __attribute__((tls_model("initial-exec")));
static __thread bool fork_locked __attribute__((tls_model("initial-exec")));
static __thread bool starting __attribute__((tls_model("initial-exec")));

static void fork_prepare(void) {
    /* A fork while another thread is starting hakmem waits for it: the
     * child must not inherit a start-up that nobody will finish. */
    while (atomic_load_explicit(&hak_state, memory_order_acquire) == HAK_STATE_STARTING &&
           !starting)
        sched_yield();
    fork_locked = hak_ready();
    if (!fork_locked) return;
    hak_heaps_lock_all();
    hak_pool_lock_all();
    hak_large_lock_all();
    hak_os_lock_all();
    hak_meta_lock_all();
    hak_forking = true;
}

static void fork_parent(void) {
    if (!fork_locked) return;
    fork_locked = false;
    hak_forking = false;
    hak_meta_unlock_all(false);
    hak_os_unlock_all(false);
    hak_large_unlock_all(false);
    hak_pool_unlock_all(false);
    hak_heaps_unlock_all(false);
}

static void fork_child(void) {
    if (!fork_locked) return;
    fork_locked = false;
    hak_forking = false;
    hak_meta_unlock_all(true);
    hak_os_unlock_all(true);
    hak_large_unlock_all(true);
    hak_pool_unlock_all(true);
    hak_heaps_unlock_all(true);
    hak_size_class_fork_child();
    hak_purge_fork_child();
}

bool hak_init(void) {
    int expected = HAK_STATE_NONE;
    if (!atomic_compare_exchange_strong_explicit(&hak_state, &expected, HAK_STATE_STARTING,
                                                 memory_order_acq_rel, memory_order_acquire))
        return expected == HAK_STATE_READY;

    /* Anything this thread allocates while starting (the profile loader,
     * pthread internals) is the C library's. */
    hak_heap_t *saved = hak_tls_heap;
    hak_tls_heap = &hak_heap_libc;
    starting = true;
    /* Where the C library's main heap starts, before it serves anything. */
    void *brk = sbrk(0);
    if (brk != (void *)-1) hak_brk_start = (uintptr_t)brk;
    if (!hak_options_init()) _exit(2);
    hak_size_class_init();
    hak_stats_init();
    hak_os_init();
    if (hak_options_verbose) hak_options_report();
    have_key = pthread_key_create(&thread_key, hak_heap_thread_exit) == 0;
    if (!have_key) hak_msg("pthread_key_create failed: thread caches will not be flushed at exit");
    if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
        hak_msg("pthread_atfork failed: fork may deadlock");
    hak_tls_heap = saved;
    starting = false;
    atomic_store_explicit(&hak_state, HAK_STATE_READY, memory_order_release);
    return true;
}

void hak_thread_register(hak_heap_t *h) {
    if (!have_key) return;
    /* pthread_setspecific may allocate its second-level key block. */
    hak_heap_t *saved = hak_tls_heap;
    hak_tls_heap = &hak_heap_libc;
    pthread_setspecific(thread_key, h);
    hak_tls_heap = saved;
}

__attribute__((constructor)) static void hak_constructor(void) {
    hak_init();
}
