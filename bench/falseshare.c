/* falseshare.c — false sharing the allocator causes:
 *
 *   falseshare [SECONDS [SEED [THREADS]]] [--size BYTES] [--json]
 *
 * It stands for programs whose threads each own small, hot objects: a
 * per-connection counter, a worker's statistics, a lock-free queue node.
 * The main thread allocates one small block per worker (--size, default 8
 * bytes) and hands it over; each worker frees it, then over and over
 * allocates a block of that size, writes it many times, and frees it. If
 * the allocator gives two threads' blocks the same 64-byte cache line,
 * every write moves the line between CPUs: that, not the allocation, is
 * what this measures (Hoard's cache-scratch, in spirit). Throughput counts
 * blocks written through (a thousand writes each) per second, all threads
 * together. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define WRITES 1000

static long block_size = 8;
static atomic_bool stop;

typedef struct {
    _Alignas(64) unsigned char *handed; /* the main thread's block, freed first */
    unsigned long long rounds;
} worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    free(w->handed);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        volatile unsigned char *p = malloc((size_t)block_size);
        if (p == NULL) {
            fprintf(stderr, "falseshare: malloc(%ld) failed\n", block_size);
            exit(1);
        }
        for (int i = 0; i < WRITES; i++) p[i % block_size] = (unsigned char)i;
        free((void *)p);
        w->rounds++;
    }
    return NULL;
}

static const bench_cli_t CLI = {
    .prog = "falseshare",
    .seed_help = "unused (kept for the common command line)",
    .count_name = "THREADS",
    .count_help = "worker threads",
    .count_default = 2,
    .count_max = 256,
    .counts = "  --size BYTES   the blocks' size (default 8)\n"
              "Counts blocks allocated, written 1000 times and freed, per second.",
};

int main(int argc, char **argv) {
    if (!bench_take_long("falseshare", &argc, argv, "--size", 1, 4096, &block_size)) return 2;
    bench_args_t args;
    int status = bench_parse_args(&CLI, argc, argv, &args);
    if (status >= 0) return status;
    long n = args.count;
    worker_t *w = aligned_alloc(64, (size_t)n * sizeof *w);
    if (w == NULL) {
        fprintf(stderr, "falseshare: out of memory\n");
        return 1;
    }
    /* Allocated together by one thread: an allocator that packs them into
     * one line shares it between the workers from the first write. */
    for (long i = 0; i < n; i++) {
        w[i] = (worker_t){.handed = malloc((size_t)block_size)};
        if (w[i].handed == NULL) return 1;
        memset(w[i].handed, 0, (size_t)block_size);
    }
    double start;
    if (!bench_run_threads("falseshare", n, work, w, sizeof *w, args.seconds, &stop, &start))
        return 1;
    unsigned long long rounds = 0;
    for (long i = 0; i < n; i++) rounds += w[i].rounds;
    bench_report((double)rounds, bench_now() - start, n, args.json);
    return 0;
}
