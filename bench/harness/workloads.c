/* workloads.c — the workloads of bench/: one table, which compare and
 * sweep run by name, hak-tune --bench tunes and hak-tune --verify --cross
 * lays out as columns.
 *
 * argv[1] is always the duration in seconds, so --seconds can replace it
 * uniformly and two runs that differ only in it are the same workload. */
#include "harness.h"

#include <string.h>

const hr_workload_t hr_workloads[HR_NWORKLOADS] = {
    {"larson-mid",
     "larson",
     {"larson", "5", "2048", "32768", "10000", "1", "12345", "4", NULL},
     "throughput",
     "server threads freeing each other's 2-32 KiB blocks, new thread every 10k ops"},
    {"larson-small",
     NULL,
     {"larson", "5", "8", "1000", "5000", "100", "4141", "2", NULL},
     "throughput",
     "server threads freeing each other's 8-1000 B blocks"},
    {"prodcons",
     NULL,
     {"prodcons", "5", "4242", NULL},
     "throughput",
     "pipeline: 64 B-4 KiB blocks freed by another thread"},
    {"churn",
     NULL,
     {"churn", "5", "4242", NULL},
     "throughput",
     "interpreter-style small-object churn, one thread"},
    {"realloc",
     NULL,
     {"realloc", "5", "4242", NULL},
     "throughput",
     "string builders and doubling vectors"},
    {"largeblocks",
     NULL,
     {"largeblocks", "5", "4242", NULL},
     "throughput",
     "64 KiB-8 MiB buffers, touched per page"},
    {"bigbuffers",
     NULL,
     {"bigbuffers", "5", "4242", NULL},
     "throughput",
     "media frames, sort buffers: 20 live 5-25 MiB buffers replaced one at a time, zeroed whole"},
    {"handoff",
     NULL,
     {"prodcons", "5", "4242", "2", "--batch", "1000", "--size", "64", NULL},
     "throughput",
     "message queues, event loops: batches of 1000 64 B blocks freed by another thread"},
    {"falseshare",
     NULL,
     {"falseshare", "5", "4242", NULL},
     "throughput",
     "per-thread counters, queue nodes: hot 8 B objects an allocator may let threads share a line"},
    {"localmix",
     NULL,
     {"localmix", "5", "4242", NULL},
     "throughput",
     "thread-per-request servers: own 8 B-4 KiB blocks, 1 step in 500 a 256 KiB-4 MiB one"},
    {"bintree",
     NULL,
     {"bintree", "5", "4242", NULL},
     "throughput",
     "compilers, DOMs, interpreters: one thread building and dropping trees of 32 B nodes"},
};

const hr_workload_t *hr_workload_find(const char *name) {
    for (int w = 0; w < HR_NWORKLOADS; w++)
        if (strcmp(hr_workloads[w].name, name) == 0 ||
            (hr_workloads[w].alias && strcmp(hr_workloads[w].alias, name) == 0))
            return &hr_workloads[w];
    return NULL;
}

void hr_workload_args(const hr_workload_t *w, const char *seconds, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int a = 1; w->args[a] && n < cap; a++) {
        const char *v = a == 1 && seconds ? seconds : w->args[a];
        int k = snprintf(buf + n, cap - n, "%s%s", a > 1 ? " " : "", v);
        if (k < 0) break;
        n += (size_t)k;
    }
}

void hr_workload_argv(const hr_workload_t *w, const char *prog, const char *seconds,
                      const char **argv) {
    int n = 0;
    argv[n++] = prog;
    for (int a = 1; w->args[a]; a++) argv[n++] = a == 1 && seconds ? seconds : w->args[a];
    argv[n] = NULL;
}
