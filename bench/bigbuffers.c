/* bigbuffers.c — big zeroed buffers that cycle:
 *
 *   bigbuffers [SECONDS [SEED [LIVE]]] [--min-mib N] [--max-mib N] [--json]
 *
 * It stands for programs that keep a working set of large buffers and
 * replace them as they go: a media pipeline's frames, a database's sort and
 * hash buffers, a server's per-request arenas, a compressor's windows. LIVE
 * buffers (default 20) of N MiB, uniform between --min-mib and --max-mib
 * (default 5 and 25), are alive at once; one picked at random is freed and
 * replaced by a new one, zeroed whole, as C++'s make_unique<char[]>(n) or
 * calloc-then-fill code does. The allocator decides whether that zeroing
 * writes memory the process already has or faults in fresh pages one by
 * one, which is most of what this workload measures. Throughput counts
 * replacements per second. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MIB ((size_t)1 << 20)

static const bench_cli_t CLI = {
    .prog = "bigbuffers",
    .count_name = "LIVE",
    .count_help = "buffers alive at once",
    .count_default = 20,
    .count_max = 4096,
    .counts = "  --min-mib N, --max-mib N  buffer sizes, uniform between them in MiB (default 5, "
              "25)\nCounts buffers replaced (freed, allocated and zeroed) per second.",
};

/* Called through a volatile pointer: gcc would otherwise fuse malloc and
 * this memset into calloc, and measure an allocator's calloc (which may
 * skip both the zeroing and the page faults) instead of a program that
 * writes its whole buffer. */
static void *(*volatile zero_fill)(void *, int, size_t) = memset;

static unsigned char *make(lran2_t *g, size_t lo, size_t hi, size_t *size_out) {
    size_t size = lo + (size_t)lran2_below(g, hi - lo + 1);
    unsigned char *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "bigbuffers: malloc(%zu) failed\n", size);
        exit(1);
    }
    zero_fill(p, 0, size);
    p[0] = 0x5A;
    p[size - 1] = 0xA5;
    *size_out = size;
    return p;
}

int main(int argc, char **argv) {
    long min_mib = 5, max_mib = 25;
    if (!bench_take_long("bigbuffers", &argc, argv, "--min-mib", 1, 4096, &min_mib) ||
        !bench_take_long("bigbuffers", &argc, argv, "--max-mib", 1, 4096, &max_mib))
        return 2;
    if (min_mib > max_mib) {
        fprintf(stderr, "bigbuffers: --min-mib %ld is above --max-mib %ld\n", min_mib, max_mib);
        return 2;
    }
    bench_args_t args;
    int status = bench_parse_args(&CLI, argc, argv, &args);
    if (status >= 0) return status;
    long live = args.count;
    size_t lo = (size_t)min_mib * MIB, hi = (size_t)max_mib * MIB;

    unsigned char **bufs = calloc((size_t)live, sizeof *bufs);
    size_t *sizes = calloc((size_t)live, sizeof *sizes);
    if (bufs == NULL || sizes == NULL) {
        fprintf(stderr, "bigbuffers: out of memory\n");
        return 1;
    }
    lran2_t g;
    lran2_seed(&g, args.seed);
    for (long i = 0; i < live; i++) bufs[i] = make(&g, lo, hi, &sizes[i]);

    unsigned long long ops = 0;
    double start = bench_now(), deadline = start + args.seconds, now;
    do {
        size_t victim = (size_t)lran2_below(&g, (uint64_t)live);
        unsigned char *old = bufs[victim];
        if (old[0] != 0x5A || old[sizes[victim] - 1] != 0xA5 || old[sizes[victim] / 2] != 0) {
            fprintf(stderr, "bigbuffers: buffer %zu corrupted\n", victim);
            return 1;
        }
        free(old);
        bufs[victim] = make(&g, lo, hi, &sizes[victim]);
        ops++;
        now = bench_now();
    } while (now < deadline);

    bench_report((double)ops, now - start, 1, args.json);
    for (long i = 0; i < live; i++) free(bufs[i]);
    free(bufs);
    free(sizes);
    return 0;
}
