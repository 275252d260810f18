/* localmix.c — threads that mostly free their own blocks, with now and
 * then a large one:
 *
 *   localmix [SECONDS [SEED [THREADS]]] [--json]
 *
 * It stands for a thread-per-request server or a parallel build: each
 * thread keeps a working set of 1000 blocks of 8 B-4 KiB, replaces one at
 * random at each step, and frees only what it allocated; one step in 500
 * allocates a block of 256 KiB-4 MiB instead (a file read, a response
 * body), which it writes once per page and frees at its next turn. Small
 * blocks take the thread caches' fast paths; the large ones test that the
 * large tier neither costs a syscall each nor drags the rest down.
 * Throughput counts steps per second, all threads together. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define SLOTS     1000
#define LARGE_ONE 500 /* one step in LARGE_ONE allocates a large block */
#define SMALL_MAX 4096
#define LARGE_MIN (256 << 10)
#define LARGE_MAX (4 << 20)

static atomic_bool stop;

typedef struct {
    long seed, index;
    unsigned long long steps;
} worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    lran2_t g;
    lran2_seed(&g, bench_mix_seed(w->seed, w->index, 0));
    unsigned char *slot[SLOTS] = {0};
    unsigned char *large = NULL;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        if (lran2_below(&g, LARGE_ONE) == 0) {
            free(large);
            size_t n = LARGE_MIN + (size_t)lran2_below(&g, LARGE_MAX - LARGE_MIN);
            large = malloc(n);
            if (large == NULL) goto oom;
            for (size_t i = 0; i < n; i += 4096) large[i] = (unsigned char)i;
        } else {
            size_t k = (size_t)lran2_below(&g, SLOTS);
            free(slot[k]);
            size_t n = 8 + (size_t)lran2_below(&g, SMALL_MAX - 8);
            if ((slot[k] = malloc(n)) == NULL) goto oom;
            slot[k][0] = (unsigned char)n;
            slot[k][n - 1] = (unsigned char)k;
        }
        w->steps++;
    }
    for (int k = 0; k < SLOTS; k++) free(slot[k]);
    free(large);
    return NULL;
oom:
    fprintf(stderr, "localmix: malloc failed\n");
    exit(1);
}

static const bench_cli_t CLI = {
    .prog = "localmix",
    .count_name = "THREADS",
    .count_help = "threads, each with its own working set",
    .count_default = 2,
    .count_max = 256,
    .counts = "Counts steps (a block of 8 B-4 KiB replaced, or one in 500 a large block) "
              "per second.",
};

int main(int argc, char **argv) {
    bench_args_t args;
    int status = bench_parse_args(&CLI, argc, argv, &args);
    if (status >= 0) return status;
    long n = args.count;
    worker_t *w = calloc((size_t)n, sizeof *w);
    if (w == NULL) return 1;
    for (long i = 0; i < n; i++) w[i] = (worker_t){.seed = args.seed, .index = i};
    double start;
    if (!bench_run_threads("localmix", n, work, w, sizeof *w, args.seconds, &stop, &start))
        return 1;
    unsigned long long steps = 0;
    for (long i = 0; i < n; i++) steps += w[i].steps;
    bench_report((double)steps, bench_now() - start, n, args.json);
    return 0;
}
