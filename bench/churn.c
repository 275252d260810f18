/* churn.c — single-thread small-object churn:
 *
 *   churn [SECONDS [SEED [LIVE]]] [--json]
 *
 * It stands for an interpreter or compiler front end: one thread keeps a
 * working set of LIVE small objects (8–256 B, default 100000 of them) and
 * endlessly replaces random ones, the way AST nodes, strings and boxed
 * values die and are born. Nothing is remote, so this times the owner's
 * fast path and how well freed blocks are reused. Throughput counts
 * allocations per second. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MIN_OBJ 8
#define MAX_OBJ 256
/* Reading the clock costs ~20 ns; once per batch keeps it out of the
 * figure while still stopping within a millisecond of the deadline. */
#define BATCH 4096

static const bench_cli_t CLI = {
    .prog = "churn",
    .count_name = "LIVE",
    .count_help = "objects kept alive",
    .count_default = 100000,
    .count_max = 100000000L,
    .counts = "Counts allocations per second (each replaces a random live object).",
};

static unsigned char *make(lran2_t *g) {
    size_t size = MIN_OBJ + (size_t)lran2_below(g, MAX_OBJ - MIN_OBJ + 1);
    unsigned char *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "churn: malloc(%zu) failed\n", size);
        exit(1);
    }
    /* Objects get initialised when born: touch both ends like a header
     * and a trailing field would; both hold size - 1, so the victim check
     * needs no size table. */
    p[0] = (unsigned char)(size - 1);
    p[size - 1] = (unsigned char)(size - 1);
    return p;
}

int main(int argc, char **argv) {
    bench_args_t args;
    int status = bench_parse_args(&CLI, argc, argv, &args);
    if (status >= 0) return status;
    long live = args.count;

    unsigned char **objs = malloc((size_t)live * sizeof *objs);
    if (objs == NULL) {
        fprintf(stderr, "churn: cannot allocate %ld slots\n", live);
        return 1;
    }
    lran2_t g;
    lran2_seed(&g, args.seed);
    for (long i = 0; i < live; i++) objs[i] = make(&g);

    unsigned long long ops = 0;
    double start = bench_now(), deadline = start + args.seconds, now;
    do {
        for (int i = 0; i < BATCH; i++) {
            size_t victim = (size_t)lran2_below(&g, (uint64_t)live);
            unsigned char *old = objs[victim];
            /* Reading the victim before freeing it is what a real program
             * does, and it catches a block handed out twice. */
            if (old[old[0]] != old[0]) { /* old[0] is size - 1 */
                fprintf(stderr, "churn: object %zu corrupted\n", victim);
                return 1;
            }
            free(old);
            objs[victim] = make(&g);
        }
        ops += BATCH;
        now = bench_now();
    } while (now < deadline);

    bench_report((double)ops, now - start, 1, args.json);
    return 0;
}
