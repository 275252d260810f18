/* internal.h — the one internal header of libhakmem: the knob and stats
 * tables, the shared types (blocks, pages, spans, heaps) and the functions
 * the source files offer each other.
 *
 * Nothing declared here may allocate through malloc, use stdio, call dlsym or
 * read the environment after start-up: every function below can be reached
 * from inside malloc or free. */
#ifndef HAK_INTERNAL_H
#define HAK_INTERNAL_H

#include "hakmem.h"
#include "knobs.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Everything declared below lives in this library: hidden, so that the
 * fast paths reach a table with one RIP-relative load rather than through
 * the GOT. What the C library defines says so. */
#pragma GCC visibility push(hidden)

#define hak_likely(x)   __builtin_expect(!!(x), 1)
#define hak_unlikely(x) __builtin_expect(!!(x), 0)
#define hak_noinline    __attribute__((noinline))
#define hak_cold        __attribute__((cold, noinline))
#define hak_export      __attribute__((visibility("default")))

/* ------------------------------------------------------------------------
 * Assertions: the invariants comments used to state, checked.
 *   hak_assert(c)       debug builds (HAK_DEBUG >= 1): O(1) checks anywhere
 *   hak_assert_deep(c)  HAK_DEBUG >= 2: walks and recounts, slow paths only
 *   hak_check(c, ...)   every build: cheap checks on slow paths where going
 *                       on would corrupt memory; the message says what broke
 * HAK_DEBUG is 0 where NDEBUG is defined (Release, RelWithDebInfo), else 2.
 * A failed assertion is a bug in hakmem, not in the program: it names the
 * condition and where it sits, and aborts.
 * ---------------------------------------------------------------------- */

#ifndef HAK_DEBUG
#ifdef NDEBUG
#define HAK_DEBUG 0
#else
#define HAK_DEBUG 2
#endif
#endif

_Noreturn void hak_assert_fail(const char *cond, const char *file, int line, const char *func);
#if HAK_DEBUG >= 1
#define hak_assert(c) (hak_likely(c) ? (void)0 : hak_assert_fail(#c, __FILE__, __LINE__, __func__))
#else
/* Names stay used and nothing runs; not sizeof, which leaves a check
 * function referenced only there "unneeded" to clang. */
#define hak_assert(c) ((void)(0 && (c)))
#endif
#if HAK_DEBUG >= 2
#define hak_assert_deep(c) hak_assert(c)
#else
#define hak_assert_deep(c) ((void)(0 && (c)))
#endif
#define hak_check(c, ...)                                                                          \
    do {                                                                                           \
        if (hak_unlikely(!(c))) hak_fatal(__VA_ARGS__);                                            \
    } while (0)

/* ------------------------------------------------------------------------
 * Geometry
 * ---------------------------------------------------------------------- */

#define HAK_PAGE_SHIFT      16 /* the MF2 page: 64 KiB */
#define HAK_PAGE_SIZE       ((size_t)1 << HAK_PAGE_SHIFT)
#define HAK_GRANULE_SHIFT   12 /* registry resolution and OS page */
#define HAK_GRANULE         ((size_t)1 << HAK_GRANULE_SHIFT)
#define HAK_MIN_ALIGN       16
#define HAK_SMALL_LIMIT     32768 /* the largest block a page class can hold */
#define HAK_CLASS_MAX       47    /* classes 1..46; 0 means "not ours to serve" */
#define HAK_MAX_ALIGN_SMALL 4096  /* every page start is at least this aligned */
/* Requests above this fail with ENOMEM, as glibc refuses sizes beyond
 * PTRDIFF_MAX; leaving headroom keeps the rounding arithmetic from wrapping. */
#define HAK_MAX_REQUEST ((size_t)PTRDIFF_MAX - ((size_t)64 << 20))

/* ------------------------------------------------------------------------
 * Settings: the knob table and the counter names live in knobs.h, which the
 * tools share; what only start-up needs of them is here.
 * ---------------------------------------------------------------------- */

/* getenv without the C library, and NULL for everything in a secure
 * process; start-up only. */
const char *hak_getenv(const char *name);
/* Reads a libconfig profile into the table as source src (profile.c);
 * false on any error, each reported on stderr. *state (when state is not
 * NULL): what became of the file. */
bool hak_profile_load(const char *path, hak_knob_source_t src, hak_profile_state_t *state);
/* A profile name (no slash, no .cfg) as NAME.cfg in the directories of
 * `dirs` (colon-separated), then the installed profile directory. */
const char *hak_profile_resolve(const char *value, const char *dirs, char *buf, size_t cap);

/* ------------------------------------------------------------------------
 * Stats counters (the list is HAK_STATS in knobs.h). Per-tier allocation
 * and free counts come from the per-class counters in each heap's cache,
 * so the fast path pays one increment in a line it has already loaded.
 * ---------------------------------------------------------------------- */

/* A heap's counters have one writer, its thread, and are read by whoever
 * reports. The writer's plain increment is one instruction on the fast
 * path (a relaxed atomic store would cost four); the reader's relaxed load
 * sees either the old or the new value of an aligned word. */
typedef uint64_t hak_counter_t;
static inline void hak_counter_add(hak_counter_t *c, uint64_t n) {
    *c += n;
}
static inline uint64_t hak_counter_get(const hak_counter_t *c) {
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}
/* The same, for a cache's room (which the stats derive frees from). */
static inline int32_t hak_counter_get_i32(const int32_t *c) {
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Counters updated by many threads at once (OS layer, exited heaps). */
extern _Atomic(uint64_t) hak_global_stats[HAK_STAT_COUNT];
static inline void hak_gstat_add(hak_stat_id_t id, uint64_t n) {
    atomic_fetch_add_explicit(&hak_global_stats[id], n, memory_order_relaxed);
}
void hak_stats_mapped(long long delta);
void hak_stats_init(void); /* start-up: reads HAKMEM_STATS, HAKMEM_STATS_FILE */

/* ------------------------------------------------------------------------
 * Messages: formatted on the stack, written with write(2).
 * ---------------------------------------------------------------------- */

/* printf's format strings, checked by the compiler, but only %s %c %d %i
 * %u %x %p %% with the l, ll and z modifiers (msg.c): no widths, no
 * floating point. hak_msg writes "hakmem: " + one line to stderr. */
#define hak_printf_like(f, a) __attribute__((format(printf, f, a)))
void hak_msg(const char *fmt, ...) hak_printf_like(1, 2);
_Noreturn void hak_fatal(const char *fmt, ...) hak_printf_like(1, 2);
size_t hak_fmt(char *buf, size_t cap, const char *fmt, ...) hak_printf_like(3, 4);
/* hak_fmt for one line of a report that quotes what the environment or a
 * file supplied: control characters come out as escapes, as in hak_msg, so
 * the caller adds the line's newline itself. */
size_t hak_fmt_esc(char *buf, size_t cap, const char *fmt, ...) hak_printf_like(3, 4);
/* write(2) until all of buf is out or the descriptor fails; errno is kept,
 * so that a report never changes what the program sees. */
void hak_write_all(int fd, const char *buf, size_t n);
/* What errno e means, in words of our own: strerror may allocate. */
const char *hak_errno_text(int e);

/* ------------------------------------------------------------------------
 * Locks: a spinlock that yields; held only on slow paths and never across a
 * call that could re-enter the allocator.
 * ---------------------------------------------------------------------- */

typedef struct {
    _Atomic(int) v;
} hak_lock_t;

void hak_lock_slow(hak_lock_t *l);
/* Set in the thread that is forking, between hakmem's prepare handler (which
 * holds every lock) and its parent or child handler: fork handlers that other
 * libraries registered earlier run in that window, and may allocate. That
 * thread then already has every lock to itself, so taking one is a no-op;
 * every other thread is kept out by the locks themselves. */
extern __thread bool hak_forking __attribute__((tls_model("initial-exec")));
static inline void hak_lock(hak_lock_t *l) {
    if (hak_unlikely(hak_forking)) return;
    if (hak_likely(!atomic_exchange_explicit(&l->v, 1, memory_order_acquire))) return;
    hak_lock_slow(l);
}
static inline bool hak_trylock(hak_lock_t *l) {
    if (hak_unlikely(hak_forking)) return true;
    return atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
           !atomic_exchange_explicit(&l->v, 1, memory_order_acquire);
}
static inline void hak_unlock(hak_lock_t *l) {
    if (hak_unlikely(hak_forking)) return;
    atomic_store_explicit(&l->v, 0, memory_order_release);
}
static inline void hak_lock_reset(hak_lock_t *l) {
    atomic_store_explicit(&l->v, 0, memory_order_relaxed);
}
/* Held by some thread, which the caller knows to be itself. */
#define hak_assert_locked(l) hak_assert(atomic_load_explicit(&(l)->v, memory_order_relaxed) != 0)

uint64_t hak_now_us(void);

/* ------------------------------------------------------------------------
 * Doubly linked lists kept as a head and a tail: the heaps' page lists
 * (heap.c), the large-span cache (large.c) and the OS layer's page pool
 * (os.c). The _VIA forms name the link fields, for a node on two lists at
 * once; the plain forms use `next` and `prev`. The caller holds the lock
 * that guards the list; head, tail and n must be plain lvalues (each is
 * evaluated more than once).
 * ---------------------------------------------------------------------- */

#define HAK_DLIST_PUSH_FRONT_VIA(head, tail, n, next, prev)                                        \
    do {                                                                                           \
        (n)->prev = NULL;                                                                          \
        (n)->next = (head);                                                                        \
        if (head)                                                                                  \
            (head)->prev = (n);                                                                    \
        else                                                                                       \
            (tail) = (n);                                                                          \
        (head) = (n);                                                                              \
    } while (0)

#define HAK_DLIST_PUSH_BACK(head, tail, n)                                                         \
    do {                                                                                           \
        (n)->next = NULL;                                                                          \
        (n)->prev = (tail);                                                                        \
        if (tail)                                                                                  \
            (tail)->next = (n);                                                                    \
        else                                                                                       \
            (head) = (n);                                                                          \
        (tail) = (n);                                                                              \
    } while (0)

/* Whether n sits on the list of head and tail, judged by its neighbours
 * (O(1)): what every removal asserts. */
#define HAK_DLIST_LINKED_VIA(head, tail, n, next, prev)                                            \
    (((n)->prev != NULL ? (n)->prev->next == (n) : (head) == (n)) &&                               \
     ((n)->next != NULL ? (n)->next->prev == (n) : (tail) == (n)))

#define HAK_DLIST_REMOVE_VIA(head, tail, n, next, prev)                                            \
    do {                                                                                           \
        hak_assert(HAK_DLIST_LINKED_VIA(head, tail, n, next, prev));                               \
        if ((n)->prev)                                                                             \
            (n)->prev->next = (n)->next;                                                           \
        else                                                                                       \
            (head) = (n)->next;                                                                    \
        if ((n)->next)                                                                             \
            (n)->next->prev = (n)->prev;                                                           \
        else                                                                                       \
            (tail) = (n)->prev;                                                                    \
        (n)->next = (n)->prev = NULL;                                                              \
    } while (0)

#define HAK_DLIST_PUSH_FRONT(head, tail, n) HAK_DLIST_PUSH_FRONT_VIA(head, tail, n, next, prev)
#define HAK_DLIST_REMOVE(head, tail, n)     HAK_DLIST_REMOVE_VIA(head, tail, n, next, prev)

/* ------------------------------------------------------------------------
 * Size classes (size_class.c)
 * ---------------------------------------------------------------------- */

typedef enum { HAK_TIER_NONE, HAK_TIER_TINY, HAK_TIER_MID, HAK_TIER_LARGE } hak_tier_t;

/* class of a request of n <= HAK_SMALL_LIMIT bytes: hak_class_of[(n + 15) >> 4];
 * 0 when the tier of that size is not wrapped or is large, or when the
 * class is above 8 KiB and the mid tier has not opened yet
 * (mid_open_after). Entries change once, at that opening, while other
 * threads read them: hence the relaxed atomic accesses, as cheap as plain
 * ones on every target we build for. */
extern uint8_t hak_class_of[(HAK_SMALL_LIMIT >> 4) + 1];
static inline unsigned hak_class_of_size(size_t n) {
    return __atomic_load_n(&hak_class_of[(n + 15) >> 4], __ATOMIC_RELAXED);
}
extern uint32_t hak_class_size[HAK_CLASS_MAX];
/* ceil(2^32 / hak_class_size[c]): an offset n < 2^16 into a page is a
 * multiple of the class's block size exactly when (uint32_t)(n * recip) <
 * recip (Lemire, Kaser and Kurz's divisibility test; sizes and offsets are
 * below 2^16, so 32 bits suffice). One multiply instead of a division. */
extern uint32_t hak_class_recip[HAK_CLASS_MAX];
static inline bool hak_class_starts_block(uintptr_t cls, uint32_t offset) {
    return offset * hak_class_recip[cls] < hak_class_recip[cls];
}
extern uint8_t hak_class_tier[HAK_CLASS_MAX];
extern unsigned hak_class_count;
void hak_size_class_init(void);
/* The smallest class whose blocks all start on an `align` boundary and hold
 * n bytes; 0 when none does. */
unsigned hak_class_for_aligned(size_t n, size_t align);
hak_tier_t hak_tier_of_size(size_t n);
bool hak_tier_wrapped(hak_tier_t t);
/* Whether class cls serves requests now: false for a class above 8 KiB
 * until the mid tier opens. */
bool hak_class_open(unsigned cls);
/* Counts a mid-size request the large tier served because its class was
 * not open; the mid_open_after-th opens the mid tier. */
void hak_mid_deferred(void);
/* In a forked child: completes an opening the fork interrupted. */
void hak_size_class_fork_child(void);

/* ------------------------------------------------------------------------
 * Blocks, pages (pool.c) and spans (large.c)
 * ---------------------------------------------------------------------- */

/* A free block. `key` marks it as free (HAK_FREE_KEY): every free writes
 * it, malloc checks it on the block it hands out (whose line it reads for
 * `next` anyway) and clears it. So a block freed twice is found when it
 * would be handed out the second time, before two owners share it, and a
 * write into a free block's second word is found too. The free fast path
 * does not read it: on a cold block that load is a cache miss the
 * program waits for (larson-mid 1.2 times faster without it), where the
 * stores drain on their own. The walks of a cache (a flush's, the checks
 * at exit, hak_heap_check_cache) find a block linked twice before it can
 * reach its page twice, and hardened mode's every free checks the key on
 * free. Every block is at least 16 bytes, so both words fit. */
typedef struct hak_block_s {
    struct hak_block_s *next;
    uintptr_t key;
} hak_block_t;

/* The key is a constant that fits an instruction's 32-bit immediate (sign
 * extended), so free stores it and malloc compares it with no load of a
 * variable: a random key per process cost those two loads, 2 of the
 * check's 6 instructions a malloc+free pair (bench/fastpath). Its value is
 * no user-space pointer (the top 32 bits set: a kernel address), odd (no
 * aligned pointer of any kind), a NaN that arithmetic never produces as a
 * double, an integer below -2^30 as a long, and no famous constant. A
 * program whose data holds it is never taken for a double free (only
 * blocks the allocator owns are read); such data in a block freed twice
 * only hides that double free, as any value would that a random key could
 * not rule out either. The flush's mark flips bit 1. */
#define HAK_FREE_KEY ((uintptr_t)0xffffffffa5c39e1bull)

struct hak_heap_s;

/* Descriptor of one 64 KiB page of the MF2 pool. Lives in metadata, not in
 * the page, so a page holds two 32 KiB blocks. Owner-only fields are touched
 * by the owning heap under its lock; `remote` is the only field others
 * write, and it sits on its own cache line. */
typedef struct hak_page_s {
    hak_block_t *free; /* blocks the owner returned */
    uint8_t *bump;     /* next never-used block; only grows (atomic stores) */
    uint8_t *end;      /* end of the carvable area */
    uint8_t *base;     /* page start */
    uint32_t used;     /* blocks out of the page: in caches or in use */
    uint32_t capacity; /* blocks the page holds */
    uint32_t block_size;
    uint8_t cls;
    uint8_t os_tag; /* what the OS layer has backed (hak_os_page_alloc) */
    uint8_t list;   /* which owner list holds it (HAK_LIST_*) */
    _Atomic(uint8_t) in_pending;
    struct hak_page_s *next, *prev;         /* owner's list */
    struct hak_page_s *pnext;               /* pending queue */
    _Atomic(struct hak_heap_s *) owner;     /* NULL: orphaned */
    uint32_t nfree;                         /* blocks on `free` */
    _Alignas(64) _Atomic(uintptr_t) remote; /* other threads' frees: list | count << 48 */
} hak_page_t;

enum { HAK_LIST_NONE, HAK_LIST_AVAIL, HAK_LIST_FULL };

typedef struct {
    hak_page_t *head, *tail;
} hak_page_list_t;

/* A large block, or a free run of granules waiting in the span cache: a
 * span of whole granules, part or all of a mapping. */
typedef struct hak_span_s {
    uint8_t *map;                     /* span start */
    size_t map_len;                   /* span length */
    uint8_t *block;                   /* what the user got */
    size_t usable;                    /* bytes usable from block */
    struct hak_span_s *next, *prev;   /* cache age list, newest first */
    struct hak_span_s *bnext, *bprev; /* cache size bin, newest first */
    uint64_t freed_us;                /* when it entered the cache */
    bool cached;                      /* free, waiting in the cache */
    bool clean;                       /* never handed out since the kernel mapped it: zero */
    bool reserve;                     /* in the page pool's reserved regions (large.c) */
    bool held;                        /* cached past its age, not on the age list (large.c) */
    bool look;                        /* in use, to be looked at when freed (os.c) */
} hak_span_t;

void hak_pool_init(void);
hak_page_t *hak_page_new(struct hak_heap_s *h, unsigned cls);
void hak_page_release(hak_page_t *pg);
/* Bytes of the pool's pages that hold blocks (carved and not released). */
uint64_t hak_pool_bytes_live(void);
unsigned hak_page_drain(hak_page_t *pg);
void hak_page_push_remote(hak_page_t *pg, hak_block_t *first, hak_block_t *last, unsigned n);
void hak_pending_push(hak_page_t *pg);
void hak_pending_requeue(hak_page_t *pg);
hak_page_t *hak_pending_pop(unsigned cls);
void hak_pool_lock_all(void);
void hak_pool_unlock_all(bool child);

/* ------------------------------------------------------------------------
 * Retention (os.c's page pool and large.c's span cache): what freed memory
 * each keeps for reuse follows the program. A tier may keep free whatever
 * brings its memory in use back to retain_pct percent of its recent peak,
 * plus what churn showed it needs, and never less than its fixed floor;
 * whatever is kept goes back once older than the tier's delay (the pool's
 * pages in huge pages partly in use wait for an idle program), on the slow
 * paths or from the purge thread: release_delay_ms, stretched while the
 * program shows it too short, and HAK_ACTIVE_SCALE times that while the
 * program still calls the tier (for the page pool, the large tier too: its
 * pages serve that tier, hak_os_note_large_call).
 * ---------------------------------------------------------------------- */

/* What a tier may keep: the most it had in use recently, and a boost that
 * churn earns. The peak is the larger of this window's maximum and the last
 * one's, a window being HAK_ACTIVE_SCALE times release_delay_ms long (at
 * least 10 ms; hak_retain_window), so that a peak is remembered between one
 * and two windows. A share of the peak is not enough for a program that
 * holds its peak and replaces part of it (20 big buffers, one at a time):
 * what it frees goes back, and what it asks for next comes fresh from the
 * kernel, a page fault per 4 KiB. So when the tier takes memory fresh
 * within a window of giving memory back because of its bound (not its age),
 * the bound was too tight: the boost grows by what was taken, up to a
 * share of retain_pct's share of the peak that the tier sets (`most`, in
 * percent: so retain_pct 0 still keeps nothing), and a window without such
 * churn halves it. glibc's mmap threshold rises the
 * same way when a freed mapping shows it too low, but never comes down. The
 * caller holds the lock of the tier. */
typedef struct {
    uint64_t cur, prev, window_us;
    uint64_t boost;        /* kept beyond retain_pct of the peak, in in_use's unit */
    uint64_t gaveback_us;  /* when the bound last sent memory back (0: never) */
    bool churned;          /* fresh memory taken soon after, this window */
    uint8_t stretch;       /* the delay is release_delay_ms << stretch (read unlocked) */
    uint64_t aged_us;      /* when the delay last sent memory back (0: not since) */
    uint64_t stretched_us; /* when stretch last changed */
    uint64_t active_us;    /* the program's last call the memory may serve (read unlocked) */
} hak_retain_t;

/* The delay, too, follows the program. A server whose bursts come a few
 * seconds apart frees a burst's memory, sees it go back to the kernel a
 * second later, and faults it all in again at the next burst (redis:
 * FLUSHALL, then 64 KiB values pipelined at half tcmalloc's rate with the
 * default second, level with it at ten). So when a tier takes memory fresh
 * within its delay of having given memory back for its age, the delay
 * doubles, up to HAK_STRETCH_MAX doublings (16 s from the default second:
 * jemalloc's decay is 10 s); after eight delays without that, it halves. A
 * release_delay_ms of 0 stays 0. */
#define HAK_STRETCH_MAX 4

static inline uint64_t hak_retain_delay(const hak_retain_t *r) {
    return (uint64_t)hak_knob(RELEASE_DELAY_MS) * 1000u
           << __atomic_load_n(&r->stretch, __ATOMIC_RELAXED);
}

/* The delay is for a program that has stopped calling the tier. One that
 * still calls it is using less than it kept, for now: a server between
 * bursts (redis: FLUSHALL, SET and GET of 64 KiB values for a second, then
 * LPUSH of as many bytes as it freed). What sat unused for a second there
 * went back while SET ran, and LPUSH faulted all of it in again, a third
 * of tcmalloc's rate in one round of three, as the timing fell. So while
 * the program called the tier within the delay, kept memory waits
 * HAK_ACTIVE_SCALE delays (4 s from the default second; jemalloc's decay
 * is 10 s whatever the program does); an idle one's goes after one, as
 * before. The program's calls note it (hak_retain_active), never the
 * purge thread's looks. */
#define HAK_ACTIVE_SCALE 4 /* release_delay_ms's help in knobs.h says "4 times" */

static inline void hak_retain_active(hak_retain_t *r, uint64_t now) {
    __atomic_store_n(&r->active_us, now, __ATOMIC_RELAXED);
}

/* Whether the program, at `at` (0: not asked), has not called the tier for
 * its delay: what is kept past its age for a reason (a part of a huge page,
 * a part of a pool page) may go back now. No lock needed. */
static inline bool hak_retain_idle(const hak_retain_t *r, uint64_t at) {
    uint64_t active = __atomic_load_n(&r->active_us, __ATOMIC_RELAXED);
    return at > active && at - active > hak_retain_delay(r);
}

/* The age past which kept memory goes back at `now`. */
static inline uint64_t hak_retain_age_limit(const hak_retain_t *r, uint64_t now) {
    uint64_t delay = hak_retain_delay(r);
    return hak_retain_idle(r, now) ? delay : delay * HAK_ACTIVE_SCALE;
}

/* Whether what was freed at `stamp` (hak_now_us; 0: nothing is) has
 * waited past r's age limit at `now`; no lock needed. A stamp later than
 * now, made by a thread that read the clock after the caller, is young,
 * not 2^64 us old. */
static inline bool hak_retain_past(const hak_retain_t *r, uint64_t stamp, uint64_t now) {
    return stamp != 0 && now > stamp && now - stamp > hak_retain_age_limit(r, now);
}

/* A peak is remembered as long as an active program's kept memory waits
 * under the unstretched delay (HAK_ACTIVE_SCALE times release_delay_ms):
 * with a window of one delay, the bound fell with it and gave back what
 * the age limit kept. The window does not follow a stretched delay. */
static inline uint64_t hak_retain_window(void) {
    uint64_t len = (uint64_t)hak_knob(RELEASE_DELAY_MS) * 1000u * HAK_ACTIVE_SCALE;
    return len < 10000 ? 10000 : len;
}

static inline uint64_t hak_retain_peak(const hak_retain_t *r) {
    return r->cur > r->prev ? r->cur : r->prev;
}

static inline void hak_retain_note(hak_retain_t *r, uint64_t in_use, uint64_t now) {
    uint64_t len = hak_retain_window();
    if (now >= r->window_us + len) {
        bool stale = now >= r->window_us + 2 * len;
        r->prev = stale ? in_use : r->cur;
        r->cur = in_use;
        r->window_us = now;
        r->boost = stale ? 0 : r->churned ? r->boost : r->boost / 2;
        r->churned = false;
    }
    if (in_use > r->cur) r->cur = in_use;
    if (r->stretch > 0 && now > r->stretched_us &&
        now - r->stretched_us > 8 * hak_retain_delay(r)) {
        __atomic_store_n(&r->stretch, (uint8_t)(r->stretch - 1), __ATOMIC_RELAXED);
        r->stretched_us = now;
    }
}

/* The tier sent memory back to the kernel at `now`: for its bound, or
 * (bound false) for its age. Fresh memory soon after raises the one or
 * stretches the other (hak_retain_fresh). */
static inline void hak_retain_gave_back(hak_retain_t *r, bool bound, uint64_t now) {
    if (bound)
        r->gaveback_us = now;
    else
        r->aged_us = now;
}

/* The tier took `n` fresh from the kernel at `now`, counted in the unit of
 * its in_use (bytes for the span cache, pages for the page pool); its boost
 * may reach most_pct percent of retain_pct's share of the peak. */
static inline void hak_retain_fresh(hak_retain_t *r, uint64_t n, uint64_t now, unsigned most_pct) {
    if (r->aged_us != 0 && now >= r->aged_us && now - r->aged_us <= hak_retain_delay(r)) {
        if (r->stretch < HAK_STRETCH_MAX) {
            __atomic_store_n(&r->stretch, (uint8_t)(r->stretch + 1), __ATOMIC_RELAXED);
            hak_gstat_add(HAK_S_delay_stretched, 1);
        }
        r->stretched_us = now;
        r->aged_us = 0; /* one doubling per give-back */
    }
    if (r->gaveback_us == 0 || now < r->gaveback_us || now - r->gaveback_us >= hak_retain_window())
        return;
    uint64_t most = hak_retain_peak(r) / 100 * (uint64_t)hak_knob(RETAIN_PCT) / 100 * most_pct;
    r->boost = r->boost + n < most ? r->boost + n : most;
    r->churned = true;
}

/* How much free memory a tier may keep, in_use being what it has in use. */
static inline uint64_t hak_retain_cap(uint64_t floor, const hak_retain_t *r, uint64_t in_use) {
    uint64_t want = hak_retain_peak(r) / 100 * (uint64_t)hak_knob(RETAIN_PCT) + r->boost;
    uint64_t room = want > in_use ? want - in_use : 0;
    return room > floor ? room : floor;
}

/* Memory given back to the kernel, and taken fresh from it: taking bytes
 * within a second of a give-back counts them as churn (churn_bytes), the
 * price of retention that was too short. */
void hak_os_note_giveback(void);
void hak_os_note_fresh(size_t bytes);
/* A give-back taken out of a pool or cache under its lock, and made (the
 * memory is the kernel's again): hak_os_reclaim waits for those between. */
void hak_os_giveback_taken(void);
void hak_os_giveback_made(void);

/* The purge thread (purge.c): once a tier keeps more than its floor, a
 * thread started on a slow path returns what waited past release_delay_ms
 * even when the program makes no more calls. hak_purge_wanted asks for it
 * from wherever memory is kept (any lock held); hak_purge_start, called on
 * slow paths with no hakmem lock held, starts it when it was asked for. */
void hak_purge_wanted(void);
void hak_purge_start(void);
void hak_purge_fork_child(void);

/* What the program asks back (trim.c): every tier's free memory at once;
 * true when any went (malloc_trim's result). */
bool hak_trim(void);

void *hak_large_alloc(size_t n, size_t align, bool zero);
void hak_large_free(hak_span_t *sp);
/* Unmaps the cached spans older than release_delay_ms; cheap when there
 * are none (one relaxed load). now: a recent clock reading. true when it
 * gave anything back. */
bool hak_large_expire(uint64_t now);
/* The span cache's release delay now: release_delay_ms, stretched. */
uint64_t hak_large_delay_us(void);
/* Whether the span cache keeps anything (one relaxed load). */
bool hak_large_kept(void);
/* Resizes sp's mapping to hold n bytes; NULL (sp unchanged) on failure. */
void *hak_large_realloc(hak_span_t *sp, size_t n);
/* Unmaps every cached span (memory pressure); true when there was any. */
bool hak_large_reclaim(void);
/* hak_trim's part in the large tier: every cached span goes back now
 * (reserve spans to the page pool), but parts of pages held until the rest
 * of their page is free; true when any did. */
bool hak_large_trim(void);
/* Whether p is a granule of a span the cache gave back to the kernel
 * lately: a block there was freed before (for free's error message). */
bool hak_large_gone(const void *p);
void hak_large_lock_all(void);
void hak_large_unlock_all(bool child);

/* ------------------------------------------------------------------------
 * Thread heaps and their caches (heap.c)
 * ---------------------------------------------------------------------- */

/* Where a thread's stack lies (stack.c): two notes taken when its heap is
 * made, and what /proc/self/maps said of them once asked. */
typedef struct {
    uintptr_t sp;  /* the stack pointer then */
    uintptr_t top; /* pthread_self(): glibc keeps it above the stack, in its mapping */
    _Atomic(uintptr_t) map_lo, map_hi; /* the mapping holding top, once looked at */
    _Atomic(int) state;
} hak_stack_t;

/* Takes the calling thread's notes; no system call. */
void hak_stack_note(hak_stack_t *st);
/* Whether p lies on the main thread's stack ([stack] in /proc/self/maps,
 * with its room to grow; read once a process, on the first question). */
bool hak_on_main_stack(const void *p);
/* Whether the notes were taken on the main thread's stack. */
bool hak_stack_is_main(const hak_stack_t *st);
/* Whether p lies on the stack of the thread (not the main one) that took
 * st; self: the caller is that thread, whose deeper frames count too. */
bool hak_stack_holds(hak_stack_t *st, const void *p, bool self);

/* A heap's thread cache holds free blocks per class, as parallel arrays
 * indexed by the class so that the fast paths address an entry with a
 * scaled index and no multiply. The fast paths keep only `room`, what free
 * may still add (one decrement-and-test on free, not a count compared with
 * a limit); the count is limit - room, and a limit of 0 (the sentinel
 * heaps, hardened mode) makes every free take the slow path. Frees are not
 * counted on the fast path: every block enters the cache by a free or a
 * refill and leaves it by an allocation or a flush, so the slow paths'
 * refill and flush counts and the allocation count give them (stats.c). */
typedef struct hak_heap_s {
    hak_block_t *tc_head[HAK_CLASS_MAX];
    int32_t tc_room[HAK_CLASS_MAX];
    hak_counter_t tc_nalloc[HAK_CLASS_MAX];
    uint32_t tc_limit[HAK_CLASS_MAX];
    /* hak_class_recip, copied where the free fast path already has a
     * register pointing: the multiply reads it in place. */
    uint32_t tc_recip[HAK_CLASS_MAX];
    hak_counter_t tc_nrefill[HAK_CLASS_MAX]; /* blocks in by refills */
    hak_counter_t tc_nflush[HAK_CLASS_MAX];  /* blocks out by flushes */
    uint64_t tc_nalloc_seen[HAK_CLASS_MAX];  /* tc_nalloc when the cache last overflowed */
    hak_counter_t stats[HAK_STAT_COUNT];
    hak_page_list_t avail[HAK_CLASS_MAX];
    hak_page_list_t full[HAK_CLASS_MAX];
    /* The caches' limits; tc_limit is the same, except in hardened mode,
     * where it is 0 so that every free takes the slow path and its
     * double-free check. */
    uint16_t hard_limit[HAK_CLASS_MAX];
    /* Whether a class's cache ran empty since it last grew (heap.c). */
    bool tc_refilled[HAK_CLASS_MAX];
    /* Full caches set aside whole (heap.c, "Full caches set aside"): each
     * class's last list set aside, the blocks of all its lists (also read
     * by the stats), and the fewest there were since the last look. */
    hak_block_t *park[HAK_CLASS_MAX];
    uint32_t parked[HAK_CLASS_MAX];
    uint32_t park_low[HAK_CLASS_MAX];
    uint64_t park_seen_us; /* when the lists set aside were last looked at */
    hak_lock_t lock;       /* owner's page lists against adopters */
    uint64_t stamped_us;   /* owner's copy of the last stamp it published */
    uint64_t clock_us;     /* the slow paths' last clock reading (heap.c) */
    uint32_t clock_skip, clock_left;
    /* Read by every thread that frees into this heap's pages: on a line of
     * its own, and written only when it moves by a fraction of the idle
     * threshold, so those reads do not keep stealing the lock's line. */
    _Alignas(64) _Atomic(uint64_t) last_active_us;
    char pad_after_stamp_[56];
    hak_stack_t stack;                 /* where the owner thread's stack lies (stack.c) */
    struct hak_heap_s *next_all;       /* every heap */
    struct hak_heap_s *next_abandoned; /* heaps of exited threads */
    bool abandoned;
    bool cache_kept;      /* abandoned with cached blocks (heap.c) */
    uint64_t grown_bytes; /* what its caches grew by beyond their first limits */
    unsigned sweep_cls;   /* the class the next sweep looks at */
    int kind;
} hak_heap_t;

enum { HAK_HEAP_REAL, HAK_HEAP_NONE, HAK_HEAP_BUSY, HAK_HEAP_LIBC, HAK_HEAP_DEAD };

/* Sentinels: all with empty caches of limit 0, so the fast paths fail into
 * the slow path, which reads `kind`:
 *  none: the thread has no heap yet;  busy: the thread is inside a slow path
 *  (any call now is a re-entry);  libc: the thread is
 *  reading its profile, its requests go to the C library;  dead: the thread
 *  released its heap at exit. */
extern hak_heap_t hak_heap_none, hak_heap_busy, hak_heap_libc, hak_heap_dead;
extern __thread hak_heap_t *hak_tls_heap __attribute__((tls_model("initial-exec")));

static inline void hak_heap_stat(hak_heap_t *h, hak_stat_id_t id, uint64_t n) {
    hak_counter_add(&h->stats[id], n);
}

hak_heap_t *hak_heap_acquire(void);
/* Whose stack p lies on: "this thread", "another thread" (looked for only
 * when `others`), or NULL when it is on no stack hakmem knows of: the
 * main thread's, or one of a thread with a heap (heap.c). */
const char *hak_stack_owner(const void *p, bool others);
void *hak_heap_refill(hak_heap_t *h, unsigned cls);
/* The cache limit of class cls, whichever mode. */
static inline uint32_t hak_tc_limit(const hak_heap_t *h, uintptr_t cls) {
    return hak_knob(HARDENED) ? h->hard_limit[cls] : h->tc_limit[cls];
}
static inline uint32_t hak_tc_count(const hak_heap_t *h, uintptr_t cls) {
    return (uint32_t)((int64_t)h->tc_limit[cls] - h->tc_room[cls]);
}
static inline void hak_tc_set_count(hak_heap_t *h, uintptr_t cls, uint32_t count) {
    h->tc_room[cls] = (int32_t)((int64_t)h->tc_limit[cls] - count);
}
void hak_heap_flush(hak_heap_t *h, unsigned cls, hak_block_t *extra);
/* Doubles the cache of class cls, within tcache_max_bytes, if it has run
 * empty since it last grew; false otherwise (a full cache's caller
 * flushes). */
bool hak_heap_grow(hak_heap_t *h, unsigned cls);
/* What the caches' growth budget counts on top of the pool's memory in
 * use (hak_heap_grow says why). */
#define HAK_TC_GROW_BASE ((uint64_t)8 << 20)
void hak_heap_free_unowned(hak_page_t *pg, hak_block_t *b);
/* Checks cache cls of h (its thread's, or an abandoned heap's under
 * heaps_lock: nothing changes it meanwhile) and says whether b is in it:
 * ends the program if a block in it lacks the free key or the list runs
 * beyond the cache's count (a block linked twice closes it into a loop). */
bool hak_heap_check_cache(hak_heap_t *h, unsigned cls, const hak_block_t *b);
void hak_heap_thread_exit(void *arg);
/* Returns the blocks cached in heaps of exited threads to their pages
 * (memory pressure); true when there were any. No lock but the caller's
 * own heap lock may be held. */
bool hak_heaps_reclaim(void);
/* hak_trim's part in the thread heaps: h's caches (h: the calling thread's
 * heap, any kind) and exited threads' back to their pages. */
void hak_heap_trim(hak_heap_t *h);
void hak_heaps_lock_all(void);
void hak_heaps_unlock_all(bool child);
void hak_heaps_sum(uint64_t out[HAK_STAT_COUNT]);

/* ------------------------------------------------------------------------
 * Registry (registry.c): address -> descriptor, lock-free to read.
 * An entry is a descriptor pointer (64-byte aligned) with the size class in
 * its low 6 bits: a page's blocks have class 1..46, a large span class 0.
 * Pages are found in the page map (one entry per 64 KiB), spans and the
 * unaligned pages of align_mode relaxed in the span table (one entry per
 * 4 KiB granule).
 * ---------------------------------------------------------------------- */

#define HAK_REG_CLASS_MASK  ((uintptr_t)63)
#define HAK_ADDR_BITS       47
#define HAK_PAGEMAP_L2_BITS 16 /* a leaf: 512 KiB, for 4 GiB of addresses */
#define HAK_PAGEMAP_L1_BITS (HAK_ADDR_BITS - HAK_PAGE_SHIFT - HAK_PAGEMAP_L2_BITS)
#define HAK_SPANS_L2_BITS   18 /* a leaf: 2 MiB, for 1 GiB of addresses */
#define HAK_SPANS_L1_BITS   (HAK_ADDR_BITS - HAK_GRANULE_SHIFT - HAK_SPANS_L2_BITS)
/* The page-map entry of a page that waits, still mapped, in the OS layer's
 * pool in align_mode chunk_pool (os.c): memory hakmem freed, which glibc's
 * free must not be handed. Class 0 sends free's fast path to the slow one;
 * hak_registry_get reads it as 0 (no block is there) and free's check of a
 * pointer it does not know finds it (alloc.c, check_foreign). Reserve mode
 * answers the same question from its regions' maps instead. */
#define HAK_REG_POOLED ((uintptr_t)64)

extern _Atomic(_Atomic(uintptr_t) *) hak_pagemap_l1[(size_t)1 << HAK_PAGEMAP_L1_BITS];
extern _Atomic(_Atomic(uintptr_t) *) hak_spans_l1[(size_t)1 << HAK_SPANS_L1_BITS];

static inline uintptr_t hak_radix_get(_Atomic(_Atomic(uintptr_t) *) *l1, unsigned shift,
                                      unsigned leaf_bits, uintptr_t a) {
    uintptr_t i = a >> (shift + leaf_bits);
    if (hak_unlikely(i >> (HAK_ADDR_BITS - shift - leaf_bits))) return 0; /* beyond 47 bits */
    _Atomic(uintptr_t) *leaf = atomic_load_explicit(&l1[i], memory_order_acquire);
    if (hak_unlikely(leaf == NULL)) return 0;
    return atomic_load_explicit(&leaf[(a >> shift) & (((uintptr_t)1 << leaf_bits) - 1)],
                                memory_order_acquire);
}
/* The entry of the pool page holding p, or 0: what every small free needs. */
static inline uintptr_t hak_pagemap_get(const void *p) {
    return hak_radix_get(hak_pagemap_l1, HAK_PAGE_SHIFT, HAK_PAGEMAP_L2_BITS, (uintptr_t)p);
}
/* The entry of the page or span holding p, or 0 (not ours). */
static inline uintptr_t hak_registry_get(const void *p) {
    uintptr_t e = hak_pagemap_get(p);
    if (e != 0 && e != HAK_REG_POOLED) return e;
    return hak_radix_get(hak_spans_l1, HAK_GRANULE_SHIFT, HAK_SPANS_L2_BITS, (uintptr_t)p);
}
/* Maps the 64 KiB page at `page` to `entry`; false when the map itself
 * cannot be mapped. Clearing (entry 0) never fails. */
bool hak_registry_set_page(const void *page, uintptr_t entry);
/* Maps the span granules of [p, p + len) to `entry`; false when the table
 * itself cannot be mapped (then part of the range may be set: the caller
 * clears it). Clearing never fails. */
bool hak_registry_set(const void *p, size_t len, uintptr_t entry);
/* Maps the span table's leaves for [p, p + len) without changing an entry,
 * so that a later hak_registry_set of the range cannot fail. */
bool hak_registry_reserve(const void *p, size_t len);

/* ------------------------------------------------------------------------
 * OS layer (os.c): the only caller of mmap, munmap and madvise.
 * ---------------------------------------------------------------------- */

/* Start-up: reads the kernel's transparent huge page mode. */
void hak_os_init(void);
void *hak_os_map(size_t len);
void *hak_os_map_aligned(size_t len, size_t align);
/* A mapping for a large block: as hak_os_map_aligned, but one of at least
 * thp_min bytes is 2 MiB aligned and asked for transparent huge pages, once
 * the program has been seen to fill such blocks. */
void *hak_os_map_large(size_t len, size_t align);
/* The huge page a block of len bytes from hak_os_map_large is mapped
 * with, 2 MiB aligned, or 0 when its pages stay small. */
size_t hak_os_huge_page(size_t len);
/* The large tier made, or frees, [p, p + len), a block's span: whether the
 * program fills such blocks (the one made before this one, the one freed)
 * decides whether they ask for huge pages from now on. A few mincore
 * calls, only until one is found filled. */
void hak_os_large_made(const void *p, size_t len);
void hak_os_large_freed(const void *p, size_t len);
/* Whether the kernel moves a range of several mappings with one mremap of
 * unchanged size (hak_os_move), as every block made of moved spans is. */
bool hak_os_moves_spans(void);
void hak_os_unmap(void *p, size_t len);
void hak_os_decommit(void *p, size_t len);
/* Grows or shrinks the mapping at p where it is; false if it cannot. */
bool hak_os_resize(void *p, size_t old_len, size_t new_len);
/* Moves the mapping at p, resized, onto the caller's mapping `to` of
 * new_len bytes, which it replaces; false (nothing changed) if it cannot. */
bool hak_os_move(void *p, size_t old_len, size_t new_len, void *to);
/* A pool page's tag: what of it the kernel has backed. HAK_OS_TAG_FULL:
 * all of it; a class: the 4 KiB pages holding that class's block starts;
 * HAK_OS_TAG_NONE: nothing (a fresh or decommitted page). */
#define HAK_OS_TAG_FULL 0
#define HAK_OS_TAG_NONE 0xff
uint8_t hak_os_class_tag(unsigned cls);
/* The tag of a page that had tag `had` once blocks of class cls have used
 * it: what hak_os_page_free takes back. */
uint8_t hak_os_tag_after(uint8_t had, unsigned cls);
/* A 64 KiB page for blocks of class cls; *had is its tag as it comes. */
void *hak_os_page_alloc(unsigned cls, uint8_t *had);
void hak_os_page_free(void *p, uint8_t tag);
/* Gives back the pooled pages past their age (os.c, pool_expire: pages of
 * a huge page partly in use wait until the program is idle); cheap when
 * there are none (a few relaxed loads). now: a recent clock reading. true
 * when it gave anything back. */
bool hak_os_expire(uint64_t now);
/* hak_trim's part in the page pool: every pooled page goes back now, whatever
 * its age, retention's bound or its huge page; true when any did. */
bool hak_os_trim(void);
/* Whether the page pool keeps anything (one relaxed load). */
bool hak_os_kept(void);
/* For the large tier: a run of adjacent pooled pages, at least len bytes
 * and at most `most` if the run goes on, taken out of the pool (reserve
 * mode only); its length in *got, committed, with old contents. NULL when
 * the pool holds no such run. */
void *hak_os_take_run(size_t len, size_t most, size_t *got);
/* For the large tier: gives back [start, start + len), whole pool pages that
 * hak_os_take_run once lent it, as the pool gives back its own expired
 * pages (in huge pages, only a whole huge page at a time); unmaps what is
 * no longer in a region the pool tracks. No lock held. */
void hak_os_return_run(uint8_t *start, size_t len);
/* The program called the large tier at `now`. In reserve mode the pool's
 * pages serve the large tier too (hak_os_take_run), so such a call keeps
 * them as one into the pool would (hak_retain_age_limit). Takes no lock. */
void hak_os_note_large_call(uint64_t now);
/* Whether p, an address no page or span of a tier holds (free's check of a
 * pointer it does not know, alloc.c), lies in a page the OS layer keeps,
 * still mapped, after a tier freed it: in reserve mode only, and only while
 * the page is pooled or decommitted and waiting to serve again (not while
 * it is being decommitted). Elsewhere in a region the answer is no: pages
 * given back leave holes where anyone's mappings may come. *near: whether a
 * region meets [lo, hi). Takes the OS layer's lock; no other hakmem lock
 * may be held. */
bool hak_os_freed(const void *p, uintptr_t lo, uintptr_t hi, bool *near);
/* Changes whenever a region is added or dropped: hak_os_freed's *near
 * about [lo, hi) holds while this stays the same. No lock. */
unsigned hak_os_regions_gen(void);
/* Takes back a page of hak_os_page_alloc that was never used, as it came. */
void hak_os_page_unused(void *p, uint8_t had);
bool hak_os_reclaim(void);
void hak_os_lock_all(void);
void hak_os_unlock_all(bool child);

/* ------------------------------------------------------------------------
 * Metadata (meta.c): descriptors and heaps, recycled, never unmapped.
 * ---------------------------------------------------------------------- */

typedef enum { HAK_META_PAGE, HAK_META_SPAN, HAK_META_HEAP, HAK_META_KINDS } hak_meta_kind_t;
void *hak_meta_alloc(hak_meta_kind_t kind);
void hak_meta_free(hak_meta_kind_t kind, void *p);
void hak_meta_lock_all(void);
void hak_meta_unlock_all(bool child);

/* ------------------------------------------------------------------------
 * Start-up (init.c) and the C library's own allocator
 * ---------------------------------------------------------------------- */

extern _Atomic(int) hak_state; /* HAK_STATE_* */
enum { HAK_STATE_NONE, HAK_STATE_STARTING, HAK_STATE_READY };
static inline bool hak_ready(void) {
    return hak_likely(atomic_load_explicit(&hak_state, memory_order_acquire) == HAK_STATE_READY);
}
/* true once the allocator is ready; false while another call is starting it
 * (the caller then hands its request to the C library). */
bool hak_init(void);
void hak_thread_register(hak_heap_t *h);

#pragma GCC visibility push(default)
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
#pragma GCC visibility pop
size_t hak_libc_usable_size(void *p);
/* The program break when hakmem started: the C library's main heap lies
 * between it and the current break (UINTPTR_MAX: unknown). */
extern uintptr_t hak_brk_start;

/* ------------------------------------------------------------------------
 * The allocator proper (alloc.c), called by the exported entry points.
 * ---------------------------------------------------------------------- */

void *hak_alloc_slow(size_t n);
/* A free block met without the free key: freed twice (handed out once
 * already) or written after its free. `by`: who met it ("malloc"). Ends
 * the program. */
_Noreturn void hak_bad_free_block(const hak_block_t *b, const char *by);
/* entry: p's page-map entry as the fast path read it (0: not in a page). */
void hak_free_slow(void *p, uintptr_t entry);
/* hak_free_slow for a free whose cache was full: the fast path took a
 * room it did not have, and this gives it back before going on. */
void hak_free_full(void *p, uintptr_t entry);
void *hak_alloc_aligned(size_t n, size_t align);
void *hak_alloc_zeroed(size_t n);
void *hak_realloc(void *p, size_t n);
size_t hak_usable_size(const void *p);

static inline void *hak_alloc(size_t n) {
    if (hak_likely(n <= HAK_SMALL_LIMIT)) {
        hak_heap_t *h = hak_tls_heap;
        uintptr_t cls = hak_class_of_size(n);
        hak_block_t *b = h->tc_head[cls];
        if (hak_likely(b != NULL)) {
            if (hak_unlikely(b->key != HAK_FREE_KEY)) hak_bad_free_block(b, "malloc");
            hak_block_t *next = b->next;
            h->tc_head[cls] = next;
            /* The next malloc of the class reads that block first (its
             * key): a cache miss for a program whose freed blocks went cold
             * (bintree: 29 % of malloc's samples on that load). Started
             * now, it overlaps the caller's work; a prefetch never faults,
             * whatever a damaged link holds. */
            __builtin_prefetch(next);
            h->tc_room[cls]++;
            hak_counter_add(&h->tc_nalloc[cls], 1);
            b->key = 0;
            return b;
        }
    }
    return hak_alloc_slow(n);
}

/* The free fast path: a block of a page this thread's cache takes. Every
 * check it makes is one a wrong free must fail (internal.h's callers of
 * hak_free_slow repeat them with a message): the address is within the page
 * map (an address beyond 47 bits takes the slow path) and the page's class
 * says where blocks start. It reads nothing from the block, and leaves
 * double frees to malloc and the cache's walks (hak_block_t says why). The
 * cache's room is decremented first and given back on the rare way out: a
 * sign test, no compare with a limit. */
static inline void hak_free(void *p) {
    uintptr_t a = (uintptr_t)p, e = 0;
    uintptr_t i = a >> (HAK_PAGE_SHIFT + HAK_PAGEMAP_L2_BITS);
    if (hak_likely(i < ((uintptr_t)1 << HAK_PAGEMAP_L1_BITS))) {
        _Atomic(uintptr_t) *leaf = atomic_load_explicit(&hak_pagemap_l1[i], memory_order_acquire);
        if (hak_likely(leaf != NULL))
            e = atomic_load_explicit(
                &leaf[(a >> HAK_PAGE_SHIFT) & (((uintptr_t)1 << HAK_PAGEMAP_L2_BITS) - 1)],
                memory_order_acquire);
    }
    uintptr_t cls = e & HAK_REG_CLASS_MASK;
    hak_block_t *b = (hak_block_t *)p;
    hak_heap_t *h = hak_tls_heap;
    uint32_t offset = (uint32_t)(a & (HAK_PAGE_SIZE - 1));
    /* tc_recip[0] is 0, so an address in no page (class 0) fails the
     * offset test too, and needs no test of its own. */
    if (hak_likely(offset * h->tc_recip[cls] < h->tc_recip[cls])) {
        if (hak_likely(--h->tc_room[cls] >= 0)) {
            b->key = HAK_FREE_KEY;
            b->next = h->tc_head[cls];
            h->tc_head[cls] = b;
            return;
        }
        hak_free_full(p, e); /* gives the room back first */
        return;
    }
    hak_free_slow(p, e);
}

#pragma GCC visibility pop

#endif /* HAK_INTERNAL_H */
