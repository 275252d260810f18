/* purge.c — the purge thread: gives back the pooled pages and cached spans
 * that waited past release_delay_ms when the program itself has stopped
 * calling the allocator.
 *
 * Expiry otherwise runs on the program's own slow paths, so a program that
 * frees a burst and then sleeps, or waits on a socket, would keep what it
 * freed for as long as it sleeps. A thread is a cost and a surprise to some
 * programs (a sandbox that must stay single-threaded to unshare its user
 * namespace, a tool that counts its threads), so none is started until a
 * tier keeps more than its fixed floor: a small program never gets one, a
 * program that held hundreds of megabytes does, once. It blocks every
 * signal, allocates nothing, and wakes once per release_delay_ms while
 * anything is kept (ten times less often otherwise). A forked child starts
 * its own, again only when it needs one. purge_thread = 0 turns it off. */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

enum { PURGE_NONE, PURGE_WANTED, PURGE_RUNNING, PURGE_FAILED };
static _Atomic(int) state;

void hak_purge_wanted(void) {
    if (!hak_knob(PURGE_THREAD)) return;
    int none = PURGE_NONE;
    if (atomic_load_explicit(&state, memory_order_relaxed) == PURGE_NONE)
        atomic_compare_exchange_strong_explicit(&state, &none, PURGE_WANTED, memory_order_relaxed,
                                                memory_order_relaxed);
}

static void sleep_us(uint64_t us) {
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void *purge_main(void *arg) {
    (void)arg;
    prctl(PR_SET_NAME, "hakmem-purge", 0, 0, 0); /* what ps and top show */
    uint64_t period = (uint64_t)hak_knob(RELEASE_DELAY_MS) * 1000u;
    if (period < 10000) period = 10000;
    for (;;) {
        uint64_t now = hak_now_us();
        bool large = hak_large_expire(now);
        bool pages = hak_os_expire(now);
        if (large || pages) hak_gstat_add(HAK_S_purged, 1);
        sleep_us(hak_large_kept() || hak_os_kept() ? period : period * 10);
    }
    return NULL;
}

void hak_purge_start(void) {
    if (hak_likely(atomic_load_explicit(&state, memory_order_relaxed) != PURGE_WANTED)) return;
    int wanted = PURGE_WANTED;
    if (!atomic_compare_exchange_strong_explicit(&state, &wanted, PURGE_RUNNING,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return;
    /* What pthread_create allocates (the thread's TLS bookkeeping) is the C
     * library's, as at start-up: this thread may be inside a slow path. The
     * new thread inherits a mask that blocks every signal, so it never
     * takes one meant for the program's threads. */
    hak_heap_t *saved = hak_tls_heap;
    hak_tls_heap = &hak_heap_libc;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_t t;
    bool ok = pthread_attr_init(&attr) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 << 10);
        ok = pthread_create(&t, &attr, purge_main, NULL) == 0;
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    hak_tls_heap = saved;
    /* A process out of threads runs on without one, as before; no retry. */
    if (!ok) atomic_store_explicit(&state, PURGE_FAILED, memory_order_relaxed);
}

void hak_purge_fork_child(void) {
    /* The thread did not follow the fork. */
    if (atomic_load_explicit(&state, memory_order_relaxed) == PURGE_RUNNING)
        atomic_store_explicit(&state, PURGE_NONE, memory_order_relaxed);
}
