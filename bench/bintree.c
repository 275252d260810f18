/* bintree.c — one thread building and dropping trees:
 *
 *   bintree [SECONDS [SEED [DEPTH]]] [--json]
 *
 * It stands for the allocation-bound single-threaded program: a compiler's
 * syntax trees, a JSON or XML document object model, an interpreter's
 * objects, a bignum library's temporaries. One long-lived tree of DEPTH
 * (default 16) stays alive while trees of every depth from 4 to DEPTH are
 * built node by node, walked once and freed, over and over (the shape of
 * the binary-trees benchmark). Nodes are 32 bytes: two children and a
 * value. Throughput counts nodes allocated per second. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

typedef struct node {
    struct node *left, *right;
    long value;
    long pad;
} node_t;

static unsigned long long made;
static volatile long sink; /* the walks' sum: keeps them from being optimised away */

static node_t *build(int depth, long value) {
    node_t *n = malloc(sizeof *n);
    if (n == NULL) {
        fprintf(stderr, "bintree: malloc failed\n");
        exit(1);
    }
    made++;
    n->value = value;
    n->left = depth > 0 ? build(depth - 1, 2 * value) : NULL;
    n->right = depth > 0 ? build(depth - 1, 2 * value + 1) : NULL;
    return n;
}

static long walk(const node_t *n) {
    return n == NULL ? 0 : n->value + walk(n->left) - walk(n->right);
}

static void drop(node_t *n) {
    if (n == NULL) return;
    drop(n->left);
    drop(n->right);
    free(n);
}

static const bench_cli_t CLI = {
    .prog = "bintree",
    .seed_help = "the long-lived tree's root value",
    .count_name = "DEPTH",
    .count_help = "depth of the long-lived tree and of the largest short-lived one",
    .count_default = 16,
    .count_max = 24,
    .counts = "Counts tree nodes (32 bytes) allocated per second.",
};

int main(int argc, char **argv) {
    bench_args_t args;
    int status = bench_parse_args(&CLI, argc, argv, &args);
    if (status >= 0) return status;
    int depth = (int)(args.count < 4 ? 4 : args.count);
    node_t *keep = build(depth, args.seed);
    long check = 0;
    made = 0;
    double start = bench_now(), now;
    do {
        for (int d = 4; d <= depth; d += 2) {
            node_t *t = build(d, d);
            check += walk(t);
            drop(t);
        }
        now = bench_now();
    } while (now < start + args.seconds);
    sink = check + walk(keep); /* the long-lived tree stays alive to the end */
    drop(keep);
    bench_report((double)made, now - start, 1, args.json);
    return 0;
}
