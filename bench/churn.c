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
#include <limits.h>
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

static void usage(FILE *f) {
    fprintf(f, "usage: churn [SECONDS [SEED [LIVE]]] [--json]\n"
               "  SECONDS  run time (default 5)\n"
               "  SEED     random seed (default 1)\n"
               "  LIVE     objects kept alive (default 100000)\n"
               "Counts allocations per second (each replaces a random live object).\n");
}

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
    bool help;
    bool json = bench_take_flags(&argc, argv, &help);
    if (help) {
        usage(stdout);
        return 0;
    }
    double seconds = 5;
    long seed = 1, live = 100000;
    if (argc > 4) {
        usage(stderr);
        return 2;
    }
    if ((argc > 1 && !bench_parse_seconds("churn", argv[1], &seconds)) ||
        (argc > 2 && !bench_parse_long("churn", "SEED", argv[2], LONG_MIN, LONG_MAX, &seed)) ||
        (argc > 3 && !bench_parse_long("churn", "LIVE", argv[3], 1, 100000000L, &live)))
        return 2;

    unsigned char **objs = malloc((size_t)live * sizeof *objs);
    if (objs == NULL) {
        fprintf(stderr, "churn: cannot allocate %ld slots\n", live);
        return 1;
    }
    lran2_t g;
    lran2_seed(&g, seed);
    for (long i = 0; i < live; i++) objs[i] = make(&g);

    unsigned long long ops = 0;
    double start = bench_now(), deadline = start + seconds, now;
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

    bench_report((double)ops, now - start, 1, json);
    return 0;
}
