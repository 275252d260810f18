/* realloc.c — realloc growth workload:
 *
 *   realloc [SECONDS [SEED [ACTIVE]]] [--json]
 *
 * It stands for code that builds strings and dynamic arrays without knowing
 * their final size: string builders appending a few bytes at a time
 * (JSON/HTML writers, log formatting) and vectors doubling their capacity
 * (std::vector, Python lists, growable buffers). ACTIVE objects (default 16)
 * grow interleaved, so a block's neighbour is often live and in-place growth
 * is not free; each is checked and freed when it reaches its final size.
 * Throughput counts realloc calls per second. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define STRING_MAX (16 * 1024)  /* final size of a string: up to 16 KiB */
#define VECTOR_MAX (512 * 1024) /* final size of a vector: up to 512 KiB */
#define BATCH      1024

typedef struct {
    unsigned char *p;
    size_t len;    /* bytes in use (and written) */
    size_t target; /* free once len reaches it */
    bool doubling; /* vector (x2) or string (+1..32 bytes) */
    unsigned char tag;
} grower_t;

static unsigned char byte_at(const grower_t *o, size_t i) {
    return (unsigned char)(o->tag + i * 31u);
}

static void start(grower_t *o, lran2_t *g) {
    o->doubling = lran2_below(g, 2) == 0;
    o->target = o->doubling ? 64 + (size_t)lran2_below(g, VECTOR_MAX - 64)
                            : 16 + (size_t)lran2_below(g, STRING_MAX - 16);
    o->len = 0;
    o->p = NULL; /* the first realloc(NULL, n) is the malloc */
    o->tag = (unsigned char)lran2(g);
}

/* A vector writes each element it appends but a real one seldom touches
 * all bytes at once; writing one byte per cache line keeps memory traffic
 * realistic without turning the benchmark into a memset test. */
static void fill(grower_t *o, size_t from, size_t to) {
    size_t step = o->doubling ? 64 : 1;
    for (size_t i = from; i < to; i += step) o->p[i] = byte_at(o, i);
    o->p[to - 1] = byte_at(o, to - 1);
}

/* realloc must have kept the contents: check the first and last byte the
 * object had before it grew, and a few in between. Vectors grow from 16 B
 * by doubling, so every multiple of 64 below their length was written. */
static bool intact(const grower_t *o, size_t len) {
    if (len == 0) return true;
    for (size_t k = 0; k < 4; k++) {
        size_t i = len * k / 4;
        if (o->doubling) i &= ~(size_t)63; /* fill() wrote only these */
        if (o->p[i] != byte_at(o, i)) return false;
    }
    return o->p[len - 1] == byte_at(o, len - 1);
}

static const bench_cli_t CLI = {
    .prog = "realloc",
    .count_name = "ACTIVE",
    .count_help = "objects growing at once",
    .count_default = 16,
    .count_max = 1000000L,
    .counts = "Counts realloc calls per second (strings grow by 1-32 B, vectors double).",
};

int main(int argc, char **argv) {
    bench_args_t args;
    int status = bench_parse_args(&CLI, argc, argv, &args);
    if (status >= 0) return status;
    long active = args.count;

    grower_t *objs = calloc((size_t)active, sizeof *objs);
    if (objs == NULL) {
        fprintf(stderr, "realloc: out of memory\n");
        return 1;
    }
    lran2_t g;
    lran2_seed(&g, args.seed);
    for (long i = 0; i < active; i++) start(&objs[i], &g);

    unsigned long long ops = 0;
    double t0 = bench_now(), deadline = t0 + args.seconds, now;
    do {
        for (int n = 0; n < BATCH; n++) {
            grower_t *o = &objs[lran2_below(&g, (uint64_t)active)];
            size_t len =
                o->doubling ? (o->len ? 2 * o->len : 16) : o->len + 1 + (size_t)lran2_below(&g, 32);
            if (len > o->target) len = o->target;
            unsigned char *p = realloc(o->p, len);
            if (p == NULL) {
                fprintf(stderr, "realloc: realloc(%zu) failed\n", len);
                return 1;
            }
            o->p = p;
            if (!intact(o, o->len)) {
                fprintf(stderr, "realloc: contents lost growing %zu -> %zu bytes\n", o->len, len);
                return 1;
            }
            fill(o, o->len, len);
            o->len = len;
            if (len == o->target) {
                free(o->p);
                start(o, &g);
            }
        }
        ops += BATCH;
        now = bench_now();
    } while (now < deadline);

    bench_report((double)ops, now - t0, 1, args.json);
    return 0;
}
