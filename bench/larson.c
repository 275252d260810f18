/* larson.c — the Larson–Krishnan server workload, command-line compatible
 * with the classic driver:
 *
 *   larson SECONDS MIN_SIZE MAX_SIZE CHUNKS_PER_THREAD ROUNDS SEED THREADS [--json]
 *
 * It stands for a long-running server whose requests are served by
 * short-lived threads: each thread frees blocks that earlier threads (and the
 * main thread) allocated, so most frees are remote and every thread exit
 * hands pages on. Throughput counts allocations per second. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

/* One slice of the shared block array. The slice record outlives each of
 * its threads: a worker hands it to its successor and never touches it
 * again, so no two threads ever use it at once. */
typedef struct {
    char **blocks;
    size_t chunks;
    uint64_t ops_quota; /* ROUNDS x CHUNKS allocations per thread */
    long slice;
    long generation;
} slice_t;

static size_t g_min_size, g_max_size;
static long g_seed;
static atomic_bool g_stop;
static atomic_long g_live;            /* workers started and not yet finished */
static atomic_ullong g_allocations;   /* flushed by each worker as it ends */
static atomic_long g_threads_started; /* including the first THREADS */
static atomic_long g_spawn_failures;

static size_t random_size(lran2_t *g) {
    if (g_max_size == g_min_size) return g_min_size;
    return g_min_size + (size_t)lran2_below(g, g_max_size - g_min_size);
}

static void *worker(void *arg);

/* The classic driver creates each thread joinable and never joins it; we
 * keep that, since the allocator must cope with exactly that churn. */
static bool spawn(slice_t *s) {
    pthread_t t;
    atomic_fetch_add(&g_live, 1);
    if (pthread_create(&t, NULL, worker, s) != 0) {
        atomic_fetch_sub(&g_live, 1);
        return false;
    }
    atomic_fetch_add(&g_threads_started, 1);
    return true;
}

static void *worker(void *arg) {
    slice_t *s = arg;
    unsigned long long allocations = 0;

    for (;;) {
        lran2_t g;
        lran2_seed(&g, bench_mix_seed(g_seed, s->slice, s->generation));
        uint64_t done = 0;
        while (done < s->ops_quota) {
            if (atomic_load_explicit(&g_stop, memory_order_relaxed)) break;
            size_t victim = (size_t)lran2_below(&g, s->chunks);
            free(s->blocks[victim]);
            size_t size = random_size(&g);
            char *p = malloc(size);
            if (p == NULL) {
                fprintf(stderr, "larson: malloc(%zu) failed\n", size);
                exit(1);
            }
            p[0] = (char)done;
            s->blocks[victim] = p;
            done++;
        }
        allocations += done;
        if (atomic_load(&g_stop)) break;

        /* Quota done: hand the slice to a fresh thread and die. */
        s->generation++;
        atomic_fetch_add(&g_allocations, allocations);
        allocations = 0;
        if (spawn(s)) break;
        /* Out of threads or mappings (un-joined stacks pile up): keep the
         * slice going here rather than losing it, and say so once. */
        if (atomic_fetch_add(&g_spawn_failures, 1) == 0)
            fprintf(stderr, "larson: pthread_create failed; continuing in the old thread\n");
    }

    atomic_fetch_add(&g_allocations, allocations);
    atomic_fetch_sub(&g_live, 1); /* last touch of shared state */
    return NULL;
}

static void usage(FILE *f) {
    fprintf(f, "usage: larson SECONDS MIN_SIZE MAX_SIZE CHUNKS_PER_THREAD ROUNDS SEED THREADS "
               "[--json]\n"
               "  e.g. larson 5 2048 32768 10000 1 12345 4   (larson-mid)\n"
               "       larson 5 8 1000 5000 100 4141 2      (larson-small)\n");
}

int main(int argc, char **argv) {
    bool json;
    int status = bench_start(&argc, argv, 7, 7, &json);
    if (status >= 0) {
        usage(status == 0 ? stdout : stderr);
        return status;
    }

    double seconds;
    long min_size, max_size, chunks, rounds, seed, threads;
    if (!bench_parse_seconds("larson", argv[1], &seconds) ||
        !bench_parse_long("larson", "MIN_SIZE", argv[2], 1, 1L << 40, &min_size) ||
        !bench_parse_long("larson", "MAX_SIZE", argv[3], 1, 1L << 40, &max_size) ||
        !bench_parse_long("larson", "CHUNKS_PER_THREAD", argv[4], 1, 100000000L, &chunks) ||
        !bench_parse_long("larson", "ROUNDS", argv[5], 1, 1000000000L, &rounds) ||
        !bench_parse_long("larson", "SEED", argv[6], LONG_MIN, LONG_MAX, &seed) ||
        !bench_parse_long("larson", "THREADS", argv[7], 1, 4096, &threads))
        return 2;
    if (min_size > max_size) {
        fprintf(stderr, "larson: MIN_SIZE must be ≤ MAX_SIZE (got %ld > %ld)\n", min_size,
                max_size);
        return 2;
    }
    if ((unsigned long long)chunks * (unsigned long long)threads > 1000000000ULL) {
        fprintf(stderr, "larson: CHUNKS_PER_THREAD × THREADS must be ≤ 1000000000\n");
        return 2;
    }

    g_min_size = (size_t)min_size;
    g_max_size = (size_t)max_size;
    g_seed = seed;

    size_t total = (size_t)chunks * (size_t)threads;
    char **blocks = malloc(total * sizeof *blocks);
    slice_t *slices = calloc((size_t)threads, sizeof *slices);
    if (blocks == NULL || slices == NULL) {
        fprintf(stderr, "larson: cannot allocate %zu block slots\n", total);
        return 1;
    }

    /* Every slice starts full of blocks the main thread allocated, in
     * shuffled order, so first frees are remote and neighbours are mixed. */
    lran2_t g;
    lran2_seed(&g, seed);
    for (size_t i = 0; i < total; i++) {
        size_t size = random_size(&g);
        blocks[i] = malloc(size);
        if (blocks[i] == NULL) {
            fprintf(stderr, "larson: malloc(%zu) failed during set-up\n", size);
            return 1;
        }
        blocks[i][0] = (char)i;
    }
    for (size_t i = total - 1; i > 0; i--) {
        size_t j = (size_t)lran2_below(&g, i + 1);
        char *t = blocks[i];
        blocks[i] = blocks[j];
        blocks[j] = t;
    }

    double start = bench_now();
    for (long i = 0; i < threads; i++) {
        slices[i] = (slice_t){.blocks = blocks + (size_t)i * (size_t)chunks,
                              .chunks = (size_t)chunks,
                              .ops_quota = (uint64_t)rounds * (uint64_t)chunks,
                              .slice = i,
                              .generation = 0};
        if (!spawn(&slices[i])) {
            fprintf(stderr, "larson: cannot create thread %ld\n", i);
            return 1;
        }
    }

    bench_sleep_until(start + seconds);
    atomic_store(&g_stop, true);
    /* A worker bumps g_live for its successor before dropping its own, so
     * zero means every chain has ended, not that one is between threads. */
    while (atomic_load(&g_live) > 0) bench_sleep_until(bench_now() + 100e-6);
    double elapsed = bench_now() - start;

    /* Remaining blocks are left to process exit: freeing them would only
     * add time that is not part of the workload. */
    bench_report((double)atomic_load(&g_allocations), elapsed, atomic_load(&g_threads_started),
                 json);
    /* Each dead thread keeps its stack mapped (never joined); near
     * vm.max_map_count / 2 threads creation fails and the run measures
     * less thread churn than asked: say so rather than hide it. */
    if (atomic_load(&g_spawn_failures) > 0)
        fprintf(stderr, "larson: %ld thread creations failed after %ld threads\n",
                atomic_load(&g_spawn_failures), atomic_load(&g_threads_started));
    return 0;
}
