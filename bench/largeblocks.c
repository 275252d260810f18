/* largeblocks.c — large-block workload:
 *
 *   largeblocks [SECONDS [SEED [LIVE]]] [--json]
 *
 * It stands for programs that handle whole files, images or network
 * buffers: blocks of 64 KiB–8 MiB are allocated, written once per page and
 * freed, with only LIVE of them (default 4) alive at a time. Every block is
 * beyond the small tiers, so this times the large path and the kernel:
 * mmap/munmap, page faults, and how much a span cache saves. Sizes are
 * log-uniform, so 64 KiB blocks are as common as 4 MiB ones, as in real
 * programs. Throughput counts allocations per second. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MIN_SHIFT 16 /* 64 KiB */
#define MAX_SHIFT 23 /* 8 MiB */
#define PAGE      4096

static size_t random_size(lran2_t *g) {
    unsigned shift = MIN_SHIFT + (unsigned)lran2_below(g, MAX_SHIFT - MIN_SHIFT);
    size_t base = (size_t)1 << shift;
    return base + (size_t)lran2_below(g, base); /* [2^shift, 2^(shift+1)) */
}

static unsigned char *make(lran2_t *g, size_t *size_out) {
    size_t size = random_size(g);
    unsigned char *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "largeblocks: malloc(%zu) failed\n", size);
        exit(1);
    }
    /* One write per page faults every page in, as filling a buffer would,
     * without timing a full memset. */
    for (size_t i = 0; i < size; i += PAGE) p[i] = (unsigned char)(i >> 12);
    p[size - 1] = 0xA5;
    *size_out = size;
    return p;
}

static const bench_cli_t CLI = {
    .prog = "largeblocks",
    .count_name = "LIVE",
    .count_help = "blocks alive at once",
    .count_default = 4,
    .count_max = 1024,
    .counts = "Counts allocations of 64 KiB-8 MiB blocks per second.",
};

int main(int argc, char **argv) {
    bench_args_t args;
    int status = bench_parse_args(&CLI, argc, argv, &args);
    if (status >= 0) return status;
    long live = args.count;

    unsigned char **blocks = calloc((size_t)live, sizeof *blocks);
    size_t *sizes = calloc((size_t)live, sizeof *sizes);
    if (blocks == NULL || sizes == NULL) {
        fprintf(stderr, "largeblocks: out of memory\n");
        return 1;
    }
    lran2_t g;
    lran2_seed(&g, args.seed);
    for (long i = 0; i < live; i++) blocks[i] = make(&g, &sizes[i]);

    unsigned long long ops = 0;
    double start = bench_now(), deadline = start + args.seconds, now;
    do {
        size_t victim = (size_t)lran2_below(&g, (uint64_t)live);
        unsigned char *old = blocks[victim];
        if (old[sizes[victim] - 1] != 0xA5 || old[PAGE] != 1) {
            fprintf(stderr, "largeblocks: block %zu corrupted\n", victim);
            return 1;
        }
        free(old);
        blocks[victim] = make(&g, &sizes[victim]);
        ops++;
        now = bench_now(); /* an operation costs far more than the clock */
    } while (now < deadline);

    bench_report((double)ops, now - start, 1, args.json);
    return 0;
}
