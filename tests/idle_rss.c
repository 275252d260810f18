/* idle_rss.c — a program that frees everything and then makes no allocator
 * call must still get its memory back after the release delay.
 *
 *   idle_rss [MIB [SECONDS [LIMIT_MIB]]] [--expect-hakmem]
 *
 * THREADS threads each allocate MIB/THREADS MiB in blocks of 1-64 KiB and
 * write them; each frees half of its blocks and hands the other half to
 * the main thread, which frees them (remote frees); the threads stay alive
 * and idle. Then nobody calls the allocator: the main thread reads its RSS
 * from /proc/self/statm every 100 ms for SECONDS and passes once the RSS is
 * within LIMIT_MIB of what it was before the burst. It prints every sample.
 * Exit status: 0 when the RSS came down, 1 when it did not. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define THREADS 4

static long mib = 200;
static pthread_barrier_t start_line, done_line;

typedef struct {
    unsigned seed;
    void **handed; /* blocks for the main thread to free */
    size_t nhanded;
} worker_t;

/* Resident set in KiB (testutil.h reads it without allocating). */
static long rss_kib(void) {
    return (long)(tu_rss_bytes() / 1024);
}

static void *worker(void *arg) {
    worker_t *w = arg;
    size_t budget = (size_t)mib * 1048576 / THREADS, used = 0, n = 0, cap = budget / 512 + 16;
    void **blocks = malloc(cap * sizeof *blocks);
    w->handed = malloc(cap * sizeof *w->handed);
    if (blocks == NULL || w->handed == NULL) tu_die("idle_rss", "out of memory");
    pthread_barrier_wait(&start_line);
    while (used < budget && n < cap) {
        size_t size = 1024 + (size_t)(rand_r(&w->seed) % (64 * 1024 - 1024));
        char *p = malloc(size);
        if (p == NULL) tu_die("idle_rss", "malloc failed");
        memset(p, (int)n, size);
        blocks[n++] = p;
        used += size;
    }
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0)
            free(blocks[i]);
        else
            w->handed[w->nhanded++] = blocks[i];
    }
    free(blocks);
    pthread_barrier_wait(&done_line);
    /* Stay alive and idle: a thread that exits runs hakmem's code. */
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv) {
    double seconds = 6;
    long limit = 24;
    tu_check_hakmem("idle_rss", tu_take_expect_flag(&argc, argv));
    if (argc > 1) mib = atol(argv[1]);
    if (argc > 2) seconds = atof(argv[2]);
    if (argc > 3) limit = atol(argv[3]);
    if (mib <= 0 || seconds <= 0 || limit <= 0) {
        fprintf(stderr, "usage: idle_rss [MIB [SECONDS [LIMIT_MIB]]]\n");
        return 2;
    }
    static worker_t w[THREADS];
    pthread_t t[THREADS];
    pthread_barrier_init(&start_line, NULL, THREADS + 1);
    pthread_barrier_init(&done_line, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++) {
        w[i].seed = (unsigned)i + 1;
        if (pthread_create(&t[i], NULL, worker, &w[i]) != 0)
            tu_die("idle_rss", "pthread_create failed");
    }
    pthread_barrier_wait(&start_line);
    long before = rss_kib();
    pthread_barrier_wait(&done_line);
    long peak = rss_kib();
    for (int i = 0; i < THREADS; i++) {
        for (size_t j = 0; j < w[i].nhanded; j++) free(w[i].handed[j]);
        free(w[i].handed);
    }
    printf("idle_rss: %ld MiB in blocks of 1-64 KiB; RSS %ld MiB before, %ld MiB at the peak\n",
           mib, before / 1024, peak / 1024);
    /* From here on, no allocator call. */
    struct timespec step = {0, 100 * 1000 * 1000};
    long now = peak;
    for (int i = 0; i < (int)(seconds * 10); i++) {
        nanosleep(&step, NULL);
        now = rss_kib();
        if (i % 5 == 4)
            printf("idle_rss: after %.1f s idle: RSS %ld MiB\n", (i + 1) / 10.0, now / 1024);
        if (now - before <= limit * 1024) {
            printf("idle_rss: ok: RSS back to %ld MiB (%ld MiB above the start) after %.1f s\n",
                   now / 1024, (now - before) / 1024, (i + 1) / 10.0);
            return 0;
        }
    }
    printf("idle_rss: FAIL: RSS still %ld MiB after %.1f s idle, %ld MiB above the start (limit "
           "%ld)\n",
           now / 1024, seconds, (now - before) / 1024, limit);
    return 1;
}
