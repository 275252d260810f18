/* trim.c — a program that asks for its free memory back with malloc_trim
 * gets it at once.
 *
 *   trim [LIMIT_MIB] [--no-trim] [--expect-hakmem]
 *
 * A burst: a thread allocates 64 MiB in blocks of 1-64 KiB, frees half and
 * exits with the other half still allocated, which the main thread then
 * frees (remote frees, an exited thread's caches); the main thread
 * allocates 128 MiB in blocks of every tier, from 16 B to 2 MiB, writes
 * them and frees them all. Then malloc_trim(0) must say it released memory,
 * and the RSS (/proc/self/statm) must be within LIMIT_MIB (default 24) of
 * what it was before the burst; under hakmem its counter of trims must read
 * 1. The burst also makes and drops 48 MiB of small blocks in the main
 * thread twice, which its caches set aside whole. --no-trim is the control:
 * the burst, nothing asked, and the program passes only when the RSS stays
 * above the limit (run it with a long release delay and idle threshold).
 * Exit status: 0 when every check held, 1 otherwise. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef long long (*stat_fn)(const char *);

static int failures;

static void check(int ok, const char *what) {
    printf("trim: %s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) failures++;
}

/* Resident set in KiB (testutil.h reads it without allocating). */
static long rss_kib(void) {
    return (long)(tu_rss_bytes() / 1024);
}

typedef struct {
    unsigned seed;
    void **kept;
    size_t nkept;
} worker_t;

static void *worker(void *arg) {
    worker_t *w = arg;
    size_t budget = (size_t)64 << 20, used = 0, n = 0, cap = budget / 1024;
    void **blocks = malloc(cap * sizeof *blocks);
    w->kept = malloc(cap * sizeof *w->kept);
    if (blocks == NULL || w->kept == NULL) tu_die("trim", "out of memory");
    while (used < budget && n < cap) {
        size_t size = 1024 + (size_t)(rand_r(&w->seed) % (63 * 1024));
        char *p = malloc(size);
        if (p == NULL) tu_die("trim", "malloc failed");
        memset(p, 0x5a, size);
        blocks[n++] = p;
        used += size;
    }
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0)
            free(blocks[i]);
        else
            w->kept[w->nkept++] = blocks[i];
    }
    free(blocks);
    return NULL;
}

/* A size of every tier: tiny, mid, large up to 2 MiB. */
static size_t any_size(unsigned *seed) {
    switch (rand_r(seed) % 4) {
    case 0:
        return 16 + (size_t)(rand_r(seed) % 1008);
    case 1:
        return 1024 + (size_t)(rand_r(seed) % (31 * 1024));
    case 2:
        return 64 * 1024 + (size_t)(rand_r(seed) % (448 * 1024));
    default:
        return 512 * 1024 + (size_t)(rand_r(seed) % (1536 * 1024));
    }
}

/* Small blocks the main thread makes and drops twice over, as a program
 * that builds and drops a structure: its caches fill and are set aside
 * whole, holding their pages, which only the thread itself can give back. */
static void small_cycles(void) {
    enum { N = 1 << 18 };
    static void *blocks[N];
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < N; i++) {
            size_t size = 16u << (i % 8); /* 16 B to 2 KiB: 48 MiB a round */
            blocks[i] = malloc(size);
            if (blocks[i] == NULL) tu_die("trim", "malloc failed");
            memset(blocks[i], 0x3c, size);
        }
        for (size_t i = 0; i < N; i++) free(blocks[i]);
    }
}

static void burst(unsigned seed) {
    worker_t w = {.seed = seed};
    pthread_t t;
    if (pthread_create(&t, NULL, worker, &w) != 0) tu_die("trim", "pthread_create failed");
    pthread_join(t, NULL);
    for (size_t i = 0; i < w.nkept; i++) free(w.kept[i]);
    free(w.kept);
    small_cycles();
    size_t budget = (size_t)128 << 20, used = 0, n = 0, cap = 1 << 16;
    void **blocks = malloc(cap * sizeof *blocks);
    if (blocks == NULL) tu_die("trim", "out of memory");
    while (used < budget && n < cap) {
        size_t size = any_size(&seed);
        char *p = malloc(size);
        if (p == NULL) tu_die("trim", "malloc failed");
        memset(p, 0xa5, size);
        blocks[n++] = p;
        used += size;
    }
    for (size_t i = 0; i < n; i++) free(blocks[i]);
    free(blocks);
}

/* The RSS after a burst and what was asked, against the start. */
static void check_back(long before, long limit, long kept, const char *how) {
    long now = rss_kib();
    char what[200];
    snprintf(what, sizeof what,
             "%s: RSS %ld MiB after the burst, %ld MiB after (%ld MiB above the start, limit %ld)",
             how, kept / 1024, now / 1024, (now - before) / 1024, limit);
    check(now - before <= limit * 1024, what);
}

int main(int argc, char **argv) {
    tu_is_ours_fn ours = tu_check_hakmem("trim", tu_take_expect_flag(&argc, argv));
    int no_trim = tu_take_flag(&argc, argv, "--no-trim");
    long limit = argc > 1 ? atol(argv[1]) : 24;
    if (limit <= 0) {
        fprintf(stderr, "usage: trim [LIMIT_MIB] [--no-trim] [--expect-hakmem]\n");
        return 2;
    }
    long before = rss_kib();
    burst(1);
    long kept = rss_kib();
    if (no_trim) {
        /* The control: the same burst, nothing asked, and the RSS must
         * stay up (with a long release delay), or the checks below could
         * not fail. */
        long now = rss_kib();
        printf("trim: nothing asked: RSS %ld MiB after the burst, %ld MiB now (%ld MiB above the "
               "start, limit %ld)\n",
               kept / 1024, now / 1024, (now - before) / 1024, limit);
        check(now - before > limit * 1024, "without malloc_trim the RSS stays above the limit");
        return failures ? 1 : 0;
    }
    void *st = dlsym(RTLD_DEFAULT, "hak_stat");
    stat_fn stat;
    memcpy(&stat, &st, sizeof stat);
    long long parked = stat != NULL ? stat("cache_parked") : 0;
    long long returned = stat != NULL ? stat("parked_returned") : 0;
    check(malloc_trim(0) == 1, "malloc_trim(0) says it released memory");
    check_back(before, limit, kept, "malloc_trim(0)");

    if (ours == NULL) return failures ? 1 : 0;
    check(stat != NULL && stat("trims") == 1, "hakmem counted the trim");
    /* The thread's own part, which the RSS alone would hardly show: the
     * caches it set aside went back to their pages. */
    printf("trim: caches set aside %lld times; blocks set aside returned: %lld before the trim, "
           "%lld after\n",
           parked, returned, stat != NULL ? stat("parked_returned") : 0);
    check(parked > 0, "the burst made the main thread set caches aside");
    check(stat != NULL && stat("parked_returned") > returned,
          "malloc_trim returned the blocks this thread set aside");
    return failures ? 1 : 0;
}
