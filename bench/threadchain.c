/* threadchain.c — larson's thread churn with no allocation at all:
 *
 *   threadchain [SECONDS [SEED [THREADS]]] [--json]
 *
 * Four chains of threads, each thread starting its successor and exiting,
 * never joined, as larson's workers do once their quota is done, until
 * THREADS have started or SECONDS have passed. Under /usr/bin/time it gives
 * the kernel time a started thread costs by itself (clone3, a fresh stack
 * mapped and faulted in, glibc's madvise of it at exit): the floor under
 * any allocator's kernel time on larson, which starts one thread per
 * 10,000 allocations. SEED is accepted for the shared command line and
 * unused. Throughput counts threads started per second. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "bench_util.h"

static const bench_cli_t CLI = {
    .prog = "threadchain",
    .seed_help = "unused",
    .count_name = "THREADS",
    .count_help = "threads to start, in 4 chains",
    .count_default = 10000,
    /* Each un-joined thread keeps its stack and guard page mapped: two of
     * the kernel's default 65530 mappings a process. */
    .count_max = 30000,
    .counts = "Counts threads started per second (larson starts one per 10,000 allocations).",
};

#define CHAINS 4

static atomic_bool g_stop;
static atomic_long g_live, g_started, g_failed, g_quota;

static void *link_thread(void *arg);

static bool spawn(void) {
    pthread_t t;
    atomic_fetch_add(&g_live, 1);
    if (pthread_create(&t, NULL, link_thread, NULL) != 0) {
        atomic_fetch_sub(&g_live, 1);
        return false;
    }
    atomic_fetch_add(&g_started, 1);
    return true;
}

static void *link_thread(void *arg) {
    (void)arg;
    /* A successor before this one ends, so g_live never dips to zero
     * while a chain goes on; a chain whose spawn fails just ends. */
    if (!atomic_load_explicit(&g_stop, memory_order_relaxed) &&
        atomic_load(&g_started) < atomic_load(&g_quota) && !spawn())
        atomic_fetch_add(&g_failed, 1);
    atomic_fetch_sub(&g_live, 1);
    return NULL;
}

int main(int argc, char **argv) {
    bench_args_t args;
    int status = bench_parse_args(&CLI, argc, argv, &args);
    if (status >= 0) return status;

    atomic_store(&g_quota, args.count);
    double start = bench_now();
    for (long i = 0; i < CHAINS && i < args.count; i++) {
        if (!spawn()) {
            fprintf(stderr, "threadchain: cannot create thread %ld\n", i);
            return 1;
        }
    }
    double deadline = start + args.seconds;
    while (atomic_load(&g_live) > 0 && bench_now() < deadline)
        bench_sleep_until(bench_now() + 1e-3);
    atomic_store(&g_stop, true);
    while (atomic_load(&g_live) > 0) bench_sleep_until(bench_now() + 100e-6);
    double elapsed = bench_now() - start;

    bench_report((double)atomic_load(&g_started), elapsed, atomic_load(&g_started), args.json);
    if (atomic_load(&g_failed) > 0)
        fprintf(stderr, "threadchain: %ld thread creations failed (un-joined stacks pile up)\n",
                atomic_load(&g_failed));
    return 0;
}
