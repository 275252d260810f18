/* thread_cache.c — the thread caches' life, with the allocator called
 * directly (hak_alloc, hak_free) so that the heaps can be looked at:
 *
 *   grow     a cache that overflows doubles its limit up to
 *            tcache_max_bytes (or 1024 blocks) instead of flushing, and one
 *            already at that bound flushes;
 *   handover a thread's exit leaves its cached blocks in its heap, and the
 *            next thread to start takes the heap over with them;
 *   idle     blocks cached in the heap of a thread that exited are returned
 *            to their pages once the heap has been idle past the threshold
 *            and another thread runs short of pages: that thread gets them,
 *            not fresh memory;
 *   reclaim  under memory pressure (hak_heaps_reclaim) they go back too.
 *
 * Usage: thread_cache */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "FAIL thread_cache: %s\n", buf);
    fflush(stderr);
    _exit(1);
}

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

static void test_grow(void) {
    enum { N = 1000, SIZE = 64 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        if ((p[i] = hak_alloc(SIZE)) == NULL) die("hak_alloc(%d) failed", SIZE);
    hak_heap_t *h = heap();
    unsigned cls = hak_class_of[(SIZE + 15) >> 4];
    uint32_t first = hak_tc_limit(h, cls);
    uint64_t flushes = stat_of(h, HAK_S_slow_free), grown = stat_of(h, HAK_S_cache_grown);
    uint32_t before = hak_tc_count(h, cls); /* what the last refill left */
    for (int i = 0; i < N; i++) hak_free(p[i]);
    if (first >= N)
        die("class %u starts with a limit of %u: the test needs one below %d", cls, first, N);
    if (hak_tc_limit(h, cls) < before + N)
        die("%d frees of %d-byte blocks left the cache's limit at %u (it started at %u)", N, SIZE,
            hak_tc_limit(h, cls), first);
    if (stat_of(h, HAK_S_slow_free) != flushes)
        die("the cache flushed %llu times while it could still grow",
            (unsigned long long)(stat_of(h, HAK_S_slow_free) - flushes));
    if (stat_of(h, HAK_S_cache_grown) == grown) die("cache_grown did not count the growth");
    if (hak_tc_count(h, cls) != before + N)
        die("%u blocks cached after %d frees into a cache of %u", hak_tc_count(h, cls), N, before);

    /* A class already at its bound flushes: 4 KiB blocks, bound 16 KiB. */
    enum { M = 200, BIG = 4096 };
    static void *q[M];
    long long saved = hak_knob(TCACHE_MAX_BYTES);
    hak_knob_value[HAK_K_TCACHE_MAX_BYTES] = 16384;
    for (int i = 0; i < M; i++)
        if ((q[i] = hak_alloc(BIG)) == NULL) die("hak_alloc(%d) failed", BIG);
    unsigned big = hak_class_of[(BIG + 15) >> 4];
    uint32_t limit = hak_tc_limit(h, big);
    flushes = stat_of(h, HAK_S_slow_free);
    for (int i = 0; i < M; i++) hak_free(q[i]);
    if (hak_tc_limit(h, big) != limit)
        die("the %d-byte cache grew from %u to %u past tcache_max_bytes = 16384", BIG, limit,
            hak_tc_limit(h, big));
    if (stat_of(h, HAK_S_slow_free) == flushes) die("a cache at its bound never flushed");
    hak_knob_value[HAK_K_TCACHE_MAX_BYTES] = saved;
    printf("grow ok: the %d-byte cache grew from %u to %u blocks without a flush\n", SIZE, first,
           hak_tc_limit(h, cls));
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
    return hak_class_of[(SIZE + 15) >> 4];
}

/* Allocates BLOCKS blocks, frees them all into its cache, and exits. */
static void *filler(void *arg) {
    (void)arg;
    for (int i = 0; i < BLOCKS; i++)
        if ((given[i] = hak_alloc(SIZE)) == NULL) die("hak_alloc(%d) failed", SIZE);
    first_heap = heap();
    uint32_t before = hak_tc_count(first_heap, cls_of_size()); /* the last refill's rest */
    for (int i = 0; i < BLOCKS; i++) hak_free(given[i]);
    cached_at_exit = hak_tc_count(first_heap, cls_of_size());
    nregions = 0;
    for (hak_block_t *b = first_heap->tc_head[cls_of_size()]; b != NULL && nregions < 1024;
         b = b->next)
        regions[nregions++] = (uintptr_t)b >> HAK_PAGE_SHIFT;
    if (cached_at_exit != before + BLOCKS)
        die("%u blocks cached after %d frees into a cache of %u", cached_at_exit, BLOCKS, before);
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
            die("block %d (%p) is fresh memory, not one of the %u blocks the exited thread "
                "cached",
                i, mine[i], cached_at_exit);
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

int main(void) {
    if (hak_alloc(1) == NULL) die("hakmem did not start");
    if (hak_knob(HARDENED)) die("run without hardened mode: it has no fast-path caches");
    test_grow();
    test_handover_idle();
    test_reclaim();
    return 0;
}
