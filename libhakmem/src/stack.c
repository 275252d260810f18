/* stack.c — where the threads' stacks lie, for free's message about an
 * address on one (alloc.c, check_foreign): glibc would take such an address
 * for one of its blocks and read a header there.
 *
 * Never asked of pthread_getattr_np: that call holds the thread's own lock
 * while it allocates (its affinity mask; for the main thread a FILE on
 * /proc/self/maps), so a thread whose first allocation comes from inside
 * it would ask again from inside malloc and wait on its own lock for ever.
 * Every thread a Rust program spawns starts that way, and so did ld.lld's
 * main thread. Instead a heap notes, when it is made, two addresses
 * (hak_stack_note): the stack pointer, and the thread's descriptor, which
 * glibc keeps at the top of the mapping that holds the thread's stack. An
 * address between the two is on that thread's stack once /proc/self/maps
 * shows both in one mapping: the stack pointer may have been on a
 * coroutine's stack, and an address between that and the descriptor could
 * be anyone's. The main thread's descriptor is not on its stack: its stack
 * is the mapping the kernel labels [stack], with the room below it that
 * RLIMIT_STACK lets it grow into, as glibc reckons it.
 *
 * /proc/self/maps is the kernel's (no user can plant it), read with plain
 * system calls into a buffer on the stack, and only when a free of an
 * address hakmem does not own asks whose stack it is on: once for the main
 * thread's, and once a thread for the others', and for another thread only
 * when the address lies between its two notes. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

enum { STACK_UNSEEN, STACK_SAME, STACK_APART };

/* What one pass over /proc/self/maps found: the mapping holding `want`, and
 * the one the kernel labels [stack] with the end of the mapping below it. */
typedef struct {
    uintptr_t want;
    uintptr_t lo, hi; /* holding want (0, 0: none) */
    uintptr_t stack_lo, stack_hi, below_stack;
} maps_look_t;

static void maps_line(maps_look_t *m, uintptr_t lo, uintptr_t hi, bool stack, uintptr_t *prev) {
    if (m->want >= lo && m->want < hi) {
        m->lo = lo;
        m->hi = hi;
    }
    if (stack) {
        m->stack_lo = lo;
        m->stack_hi = hi;
        m->below_stack = *prev;
    }
    *prev = hi;
}

/* One pass, a byte at a time: each line starts "lo-hi " in hex and the
 * main stack's ends " [stack]". false when the file cannot be read. errno
 * is kept: the caller is a free. */
static bool maps_look(maps_look_t *m) {
    int saved = errno;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errno = saved;
        return false;
    }
    static const char label[] = " [stack]";
    const unsigned label_len = sizeof label - 1;
    char buf[1024];
    uintptr_t lo = 0, hi = 0, prev = 0;
    int field = 0;      /* 0: lo, 1: hi, 2: the rest of the line */
    unsigned match = 0; /* how much of the label the line's tail matches */
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            if (c == '\n') {
                maps_line(m, lo, hi, match == label_len, &prev);
                lo = hi = 0;
                field = 0;
                match = 0;
                continue;
            }
            if (field < 2) {
                unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                    : 16u;
                if (d < 16) {
                    if (field == 0)
                        lo = lo << 4 | d;
                    else
                        hi = hi << 4 | d;
                } else {
                    field++;
                }
                continue;
            }
            match = match < label_len && c == label[match] ? match + 1 : c == label[0] ? 1 : 0;
        }
    }
    close(fd);
    errno = saved;
    return n == 0;
}

/* The main thread's stack, once a process: [lo, hi), or 0, 0. */
static _Atomic(uintptr_t) main_lo, main_hi;
static _Atomic(bool) main_seen; /* main_lo and main_hi are set */

static void main_stack(uintptr_t *lo, uintptr_t *hi) {
    if (!atomic_load_explicit(&main_seen, memory_order_acquire)) {
        maps_look_t m = {0};
        if (maps_look(&m) && m.stack_hi != 0) {
            /* Room to grow, as glibc's pthread_getattr_np counts it: the
             * limit, but not into the mapping below. */
            struct rlimit rl;
            uintptr_t room = m.stack_hi - m.below_stack;
            if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                rl.rlim_cur < room)
                room = (uintptr_t)rl.rlim_cur;
            if (room < m.stack_hi - m.stack_lo) room = m.stack_hi - m.stack_lo;
            atomic_store_explicit(&main_lo, m.stack_hi - room, memory_order_relaxed);
            atomic_store_explicit(&main_hi, m.stack_hi, memory_order_relaxed);
        }
        atomic_store_explicit(&main_seen, true, memory_order_release);
    }
    *lo = atomic_load_explicit(&main_lo, memory_order_relaxed);
    *hi = atomic_load_explicit(&main_hi, memory_order_relaxed);
}

void hak_stack_note(hak_stack_t *st) {
    /* Atomic: another thread's walk may read a heap taken over meanwhile. */
    __atomic_store_n(&st->sp, (uintptr_t)__builtin_frame_address(0), __ATOMIC_RELAXED);
    __atomic_store_n(&st->top, (uintptr_t)pthread_self(), __ATOMIC_RELAXED);
    atomic_store_explicit(&st->state, STACK_UNSEEN, memory_order_relaxed);
}

bool hak_on_main_stack(const void *p) {
    uintptr_t lo, hi;
    main_stack(&lo, &hi);
    return (uintptr_t)p >= lo && (uintptr_t)p < hi;
}

bool hak_stack_is_main(const hak_stack_t *st) {
    return hak_on_main_stack((const void *)__atomic_load_n(&st->sp, __ATOMIC_RELAXED));
}

/* Whether st's two notes lie in one mapping, looked at once (racing looks
 * agree). */
static bool notes_agree(hak_stack_t *st) {
    int state = atomic_load_explicit(&st->state, memory_order_acquire);
    if (state == STACK_UNSEEN) {
        uintptr_t sp = __atomic_load_n(&st->sp, __ATOMIC_RELAXED);
        maps_look_t m = {.want = __atomic_load_n(&st->top, __ATOMIC_RELAXED)};
        bool same = maps_look(&m) && m.hi != 0 && sp >= m.lo && sp < m.hi;
        atomic_store_explicit(&st->map_lo, m.lo, memory_order_relaxed);
        atomic_store_explicit(&st->map_hi, m.hi, memory_order_relaxed);
        state = same ? STACK_SAME : STACK_APART;
        atomic_store_explicit(&st->state, state, memory_order_release);
    }
    return state == STACK_SAME;
}

bool hak_stack_holds(hak_stack_t *st, const void *p, bool self) {
    uintptr_t a = (uintptr_t)p;
    if (a >= __atomic_load_n(&st->top, __ATOMIC_RELAXED)) return false;
    if (a >= __atomic_load_n(&st->sp, __ATOMIC_RELAXED)) return notes_agree(st);
    /* Below the first note lie the frames of calls deeper than that one:
     * the caller's own, while it runs on that stack. */
    uintptr_t now = (uintptr_t)__builtin_frame_address(0);
    return self && a >= now && notes_agree(st) &&
           now >= atomic_load_explicit(&st->map_lo, memory_order_relaxed) &&
           now < atomic_load_explicit(&st->map_hi, memory_order_relaxed);
}
