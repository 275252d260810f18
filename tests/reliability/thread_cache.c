/* thread_cache.c — the thread caches' life, with the allocator called
 * directly (hak_alloc, hak_free) so that the heaps can be looked at:
 *
 *   grow     a cache that overflows and runs empty in turn doubles its
 *            limit up to tcache_max_bytes (or 1024 blocks) instead of
 *            flushing, while all caches' growth stays within
 *            tcache_grow_pct of the pool's memory in use (plus HAK_TC_GROW_BASE); one
 *            that only overflows (a thread that frees what others
 *            allocate) grows to tcache_bytes' worth only; one at its bound
 *            or with no budget left flushes;
 *   handover a thread's exit leaves its cached blocks in its heap, and the
 *            next thread to start takes the heap over with them;
 *   idle     blocks cached in the heap of a thread that exited are returned
 *            to their pages once the heap has been idle past the threshold
 *            and another thread runs short of pages: that thread gets them,
 *            not fresh memory;
 *   reclaim  under memory pressure (hak_heaps_reclaim) they go back too;
 *   budget   a thread that exits with empty caches gives their growth back
 *            to the budget at once.
 *
 * Usage: thread_cache */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "testutil.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define die(...) tu_die("thread_cache", __VA_ARGS__)

static hak_heap_t *heap(void) {
    hak_heap_t *h = hak_tls_heap;
    if (h->kind != HAK_HEAP_REAL) die("the thread has no heap of its own");
    return h;
}

static uint64_t stat_of(hak_heap_t *h, hak_stat_id_t id) {
    return hak_counter_get(&h->stats[id]);
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

/* ---- grow ------------------------------------------------------------ */

static uint64_t free_all(void **p, int n) {
    uint64_t flushes = stat_of(heap(), HAK_S_slow_free);
    for (int i = 0; i < n; i++) hak_free(p[i]);
    return stat_of(heap(), HAK_S_slow_free) - flushes;
}

static void alloc_all(void **p, int n, size_t size) {
    for (int i = 0; i < n; i++)
        if ((p[i] = hak_alloc(size)) == NULL) die("hak_alloc(%zu) failed", size);
}

static void *free_elsewhere(void *arg) {
    void **p = arg;
    unsigned cls = hak_class_of_size(64);
    hak_free(hak_alloc(64)); /* a heap, and one block in this class's cache */
    uint32_t first = hak_tc_limit(heap(), cls);
    uint32_t bound = (uint32_t)(hak_knob(TCACHE_BYTES) / 64);
    if (free_all(p, 1000) == 0) die("a thread freeing 1000 blocks never flushed");
    uint32_t now = hak_tc_limit(heap(), cls);
    if (now > bound)
        die("the cache of a thread that only frees grew from %u to %u, past tcache_bytes' %u "
            "blocks",
            first, now, bound);
    /* More than the one doubling that the refill of its start allows. */
    if (now <= 2 * first)
        die("the cache of a thread that only frees stayed at %u (first %u), below tcache_bytes' "
            "%u blocks: every %u frees cost a flush",
            now, first, bound, now / 2 + 1);
    return NULL;
}

/* A producer: allocates blocks that another thread frees, and then
 * allocates again from its pages, whose free lists the other thread's
 * frees made longer than its cache takes at once. */
static void *free_all_thread(void *arg) {
    hak_free(hak_alloc(64)); /* a heap of its own */
    free_all(arg, 1000);
    return NULL;
}

static void *produce(void *arg) {
    void **p = arg;
    unsigned cls = hak_class_of_size(64);
    hak_free(hak_alloc(64));
    uint32_t first = hak_tc_limit(heap(), cls);
    for (int r = 0; r < 6; r++) {
        alloc_all(p, 1000, 64);
        pthread_t t;
        if (pthread_create(&t, NULL, free_all_thread, p) != 0 || pthread_join(t, NULL) != 0)
            die("pthread_create or pthread_join failed");
    }
    uint32_t now = hak_tc_limit(heap(), cls);
    if (now <= 2 * first)
        die("the cache of a thread that only allocates what another frees stayed at %u (first "
            "%u): every refill walks a list of blocks the other thread freed",
            now, first);
    return NULL;
}

static void test_grow(void) {
    enum { N = 1000, SIZE = 64, ROUNDS = 8 };
    static void *p[N];
    unsigned cls = hak_class_of_size(SIZE);
    alloc_all(p, N, SIZE);
    hak_heap_t *h = heap();
    uint32_t first = hak_tc_limit(h, cls);
    uint64_t grown = stat_of(h, HAK_S_cache_grown);
    if (first >= N)
        die("class %u starts with a limit of %u: the test needs one below %d", cls, first, N);
    /* With no budget for growth, caches keep their first limits. */
    long long pct = hak_knob(TCACHE_GROW_PCT);
    hak_knob_value[HAK_K_TCACHE_GROW_PCT] = 0;
    if (free_all(p, N) == 0) die("with tcache_grow_pct = 0, %d frees never flushed", N);
    if (hak_tc_limit(h, cls) != first)
        die("with tcache_grow_pct = 0 the cache grew from %u to %u", first, hak_tc_limit(h, cls));
    /* Runs of N frees and N allocations: the cache overflows and runs
     * empty in turn, so it doubles once a round until N fit. This process
     * uses little memory, so the budget is all of it. */
    hak_knob_value[HAK_K_TCACHE_GROW_PCT] = 100;
    alloc_all(p, N, SIZE);
    uint64_t flushed = free_all(p, N);
    for (int r = 1; r < ROUNDS && flushed != 0; r++) {
        alloc_all(p, N, SIZE);
        flushed = free_all(p, N);
    }
    if (flushed != 0)
        die("after %d rounds of %d frees and allocations the %d-byte cache still flushes (limit "
            "%u, first %u)",
            ROUNDS, N, SIZE, hak_tc_limit(h, cls), first);
    if (hak_tc_limit(h, cls) < N)
        die("the cache holds %d blocks with a limit of %u", N, hak_tc_limit(h, cls));
    if (stat_of(h, HAK_S_cache_grown) == grown) die("cache_grown did not count the growth");
    if (hak_tc_limit(h, cls) * SIZE > hak_pool_bytes_live() + HAK_TC_GROW_BASE)
        die("the cache grew to %u blocks of %d bytes, past the pool's %llu bytes in use + %llu",
            hak_tc_limit(h, cls), SIZE, (unsigned long long)hak_pool_bytes_live(),
            (unsigned long long)HAK_TC_GROW_BASE);

    /* A thread that only frees (a consumer) grows its cache to
     * tcache_bytes' worth (here 256 blocks of 64 bytes), not to
     * tcache_max_bytes' (1024). */
    pthread_t t;
    alloc_all(p, N, SIZE);
    long long bytes = hak_knob(TCACHE_BYTES);
    hak_knob_value[HAK_K_TCACHE_BYTES] = 16384;
    if (pthread_create(&t, NULL, free_elsewhere, p) != 0 || pthread_join(t, NULL) != 0)
        die("pthread_create or pthread_join failed");
    hak_knob_value[HAK_K_TCACHE_BYTES] = bytes;

    /* A producer's cache grows as well. */
    if (pthread_create(&t, NULL, produce, p) != 0 || pthread_join(t, NULL) != 0)
        die("pthread_create or pthread_join failed");

    /* A class already at its bound flushes: 4 KiB blocks, bound 16 KiB. */
    enum { M = 200, BIG = 4096 };
    static void *q[M];
    long long saved = hak_knob(TCACHE_MAX_BYTES);
    hak_knob_value[HAK_K_TCACHE_MAX_BYTES] = 16384;
    unsigned big = hak_class_of_size(BIG);
    alloc_all(q, M, BIG);
    uint32_t limit = hak_tc_limit(h, big);
    if (free_all(q, M) == 0) die("a cache at its bound never flushed");
    if (hak_tc_limit(h, big) != limit)
        die("the %d-byte cache grew from %u to %u past tcache_max_bytes = 16384", BIG, limit,
            hak_tc_limit(h, big));
    hak_knob_value[HAK_K_TCACHE_MAX_BYTES] = saved;
    hak_knob_value[HAK_K_TCACHE_GROW_PCT] = pct;
    printf("grow ok: the %d-byte cache grew from %u to %u blocks; a freeing thread's to "
           "tcache_bytes' worth, a producer's, a bounded one not at all\n",
           SIZE, first, hak_tc_limit(h, cls));
}

/* ---- handover, idle ---------------------------------------------------- */

enum { BLOCKS = 40, SIZE = 8192 };
static void *given[BLOCKS];
static hak_heap_t *first_heap;
static uint32_t cached_at_exit;
static uintptr_t regions[1024]; /* the 64 KiB pages the cached blocks live in */
static unsigned nregions;

static bool in_regions(const void *p) {
    for (unsigned i = 0; i < nregions; i++)
        if (regions[i] == (uintptr_t)p >> HAK_PAGE_SHIFT) return true;
    return false;
}

static unsigned cls_of_size(void) {
    return hak_class_of_size(SIZE);
}

/* Allocates BLOCKS blocks, frees them (into its cache, as far as it holds
 * them), and exits. */
static void *filler(void *arg) {
    (void)arg;
    for (int i = 0; i < BLOCKS; i++)
        if ((given[i] = hak_alloc(SIZE)) == NULL) die("hak_alloc(%d) failed", SIZE);
    first_heap = heap();
    nregions = 0;
    for (int i = 0; i < BLOCKS; i++) regions[nregions++] = (uintptr_t)given[i] >> HAK_PAGE_SHIFT;
    for (int i = 0; i < BLOCKS; i++) hak_free(given[i]);
    cached_at_exit = hak_tc_count(first_heap, cls_of_size());
    for (hak_block_t *b = first_heap->tc_head[cls_of_size()]; b != NULL && nregions < 1024;
         b = b->next)
        regions[nregions++] = (uintptr_t)b >> HAK_PAGE_SHIFT;
    if (cached_at_exit == 0) die("no block cached after %d frees", BLOCKS);
    return NULL;
}

/* The next thread: takes the heap over, caches and all. */
static void *successor(void *arg) {
    (void)arg;
    void *p = hak_alloc(SIZE);
    hak_heap_t *h = heap();
    if (h != first_heap) die("a new thread did not take over the heap of the thread that exited");
    if (p != given[BLOCKS - 1])
        die("the new thread's first %d-byte block %p is not the last one its predecessor freed "
            "(%p)",
            SIZE, p, given[BLOCKS - 1]);
    if (hak_tc_count(h, cls_of_size()) != cached_at_exit - 1)
        die("the heap came with %u cached blocks, not %u", hak_tc_count(h, cls_of_size()) + 1,
            cached_at_exit);
    hak_free(p);
    return NULL;
}

static void run_thread(void *(*fn)(void *)) {
    pthread_t t;
    if (pthread_create(&t, NULL, fn, NULL) != 0) die("pthread_create failed");
    if (pthread_join(t, NULL) != 0) die("pthread_join failed");
}

static void test_handover_idle(void) {
    run_thread(filler);
    run_thread(successor);
    printf("handover ok: the next thread took the heap with its %u cached blocks\n",
           cached_at_exit);

    /* The heap now waits with the cached blocks. This thread has no page
     * of the class: once the heap has been idle past the threshold, a
     * refill returns those blocks to their pages and takes from them. */
    sleep_ms(hak_knob(IDLE_THRESHOLD_US) / 1000 * 3 + 10);
    /* A thread's slow paths may go on using a clock reading from before a
     * sleep for up to 63 of them (heap.c): start afresh, as this thread
     * would after that many. */
    heap()->clock_left = 0;
    static void *mine[BLOCKS];
    for (int i = 0; i < BLOCKS; i++)
        if ((mine[i] = hak_alloc(SIZE)) == NULL) die("hak_alloc(%d) failed", SIZE);
    unsigned left = hak_tc_count(first_heap, cls_of_size());
    if (left != 0) die("%u blocks still cached in the idle heap of an exited thread", left);
    for (int i = 0; i < BLOCKS; i++)
        if (!in_regions(mine[i]))
            die("block %d (%p) is fresh memory, not in a page of the exited thread's blocks", i,
                mine[i]);
    for (int i = 0; i < BLOCKS; i++) hak_free(mine[i]);
    printf("idle ok: the exited thread's cached blocks served another thread\n");
}

/* ---- reclaim ------------------------------------------------------------- */

static void test_reclaim(void) {
    run_thread(filler);
    if (hak_tc_count(first_heap, cls_of_size()) != cached_at_exit)
        die("the exiting thread's cache is gone");
    if (!hak_heaps_reclaim()) die("hak_heaps_reclaim found nothing to return");
    if (hak_tc_count(first_heap, cls_of_size()) != 0)
        die("%u blocks still cached after hak_heaps_reclaim",
            hak_tc_count(first_heap, cls_of_size()));
    if (hak_heaps_reclaim()) die("a second hak_heaps_reclaim found blocks again");
    printf("reclaim ok\n");
}

/* ---- budget -------------------------------------------------------------- */

typedef struct {
    void **p; /* blocks the thread left live, for main to free */
    int n;
    uint32_t first; /* the grown cache's first limit */
} budget_run_t;

/* Grows one cache, then hands every cached block out again and exits with
 * all caches empty: its heap has nothing for a successor, so its growth
 * must go back to the budget at once. */
static void *grow_then_empty(void *arg) {
    enum { N = 300, SIZE = 48 };
    static void *p[N + 1024];
    (void)arg;
    unsigned cls = hak_class_of_size(SIZE);
    alloc_all(p, N, SIZE);
    hak_heap_t *h = heap();
    uint32_t first = hak_tc_limit(h, cls);
    for (int r = 0; r < 4; r++) {
        free_all(p, N);
        alloc_all(p, N, SIZE);
    }
    if (hak_tc_limit(h, cls) <= first) die("the %d-byte cache did not grow from %u", SIZE, first);
    if (h->grown_bytes == 0) die("the heap's growth was not counted");
    /* Empty the cache: take out what it holds, keep the blocks live. */
    int extra = (int)hak_tc_count(h, cls);
    alloc_all(p + N, extra, SIZE);
    for (unsigned c = 1; c <= hak_class_count; c++)
        if (h->tc_head[c] != NULL) die("class %u still caches blocks", c);
    first_heap = h;
    static budget_run_t out;
    out = (budget_run_t){p, N + extra, first};
    return &out;
}

static void test_budget(void) {
    long long pct = hak_knob(TCACHE_GROW_PCT);
    hak_knob_value[HAK_K_TCACHE_GROW_PCT] = 100;
    pthread_t t;
    void *ret;
    if (pthread_create(&t, NULL, grow_then_empty, NULL) != 0 || pthread_join(t, &ret) != 0)
        die("pthread_create or pthread_join failed");
    hak_knob_value[HAK_K_TCACHE_GROW_PCT] = pct;
    unsigned cls = hak_class_of_size(48);
    if (first_heap->grown_bytes != 0)
        die("a heap abandoned with empty caches still holds %llu bytes of growth",
            (unsigned long long)first_heap->grown_bytes);
    budget_run_t *out = ret;
    if (hak_tc_limit(first_heap, cls) != out->first)
        die("its cache kept a limit of %u, not its first %u", hak_tc_limit(first_heap, cls),
            out->first);
    free_all(out->p, out->n);
    printf("budget ok: a heap left with empty caches gave its growth back\n");
}

int main(void) {
    if (hak_alloc(1) == NULL) die("hakmem did not start");
    if (hak_knob(HARDENED)) die("run without hardened mode: it has no fast-path caches");
    test_grow();
    test_handover_idle();
    test_reclaim();
    test_budget();
    return 0;
}
