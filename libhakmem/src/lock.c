/* lock.c — the slow half of hakmem's spinlock, and the clock.
 *
 * Locks guard only slow paths (page lists, the pending queue, the OS pools)
 * and are held for short, bounded work, so spinning briefly and then
 * yielding beats a futex: no syscall in the common uncontended case, and no
 * convoy when a holder is descheduled on this 2-core machine. */
#include "internal.h"

#include <sched.h>
#include <time.h>

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

void hak_lock_slow(hak_lock_t *l) {
    for (unsigned spins = 0;; spins++) {
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
            !atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
            return;
        if (spins < 64)
            cpu_relax();
        else
            sched_yield();
    }
}

uint64_t hak_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
