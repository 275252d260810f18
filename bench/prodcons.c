/* prodcons.c — producer–consumer workload:
 *
 *   prodcons [SECONDS [SEED [PAIRS]]] [--batch N] [--size BYTES] [--json]
 *
 * It stands for a pipeline server (a network thread parsing requests into
 * buffers that worker threads consume, a logger thread draining messages):
 * every block is allocated by one thread and freed by another, so all frees
 * are remote. PAIRS producer threads (default 2) each feed one consumer
 * through a bounded single-producer/single-consumer ring. Producers fill
 * each 64 B–4 KiB block (or --size BYTES, at least 16) with a pattern;
 * consumers check it before freeing, so a block handed out twice or
 * overwritten is caught, not timed. With --batch N the producer hands its
 * blocks over N at a time, as a message queue, an event loop or a garbage
 * collector's sweep does: the consumer frees a whole batch of blocks it
 * never allocated at once.
 *
 * Each pair's producer and consumer are pinned to different CPUs (the
 * process's allowed CPUs in turn), the way a pipeline's stages run. Left to
 * the scheduler, 4 threads on 2 CPUs sometimes share a CPU pairwise, and
 * then every block stays in that CPU's cache: on this 2-CPU machine runs
 * came out at either about 12M or 25M blocks/s depending on that placement
 * alone, and an allocator that sleeps on futexes (glibc here) drew the
 * shared placement more often, through the scheduler's wake-up affinity.
 *
 * How full the rings run depends on the allocator: when its malloc is
 * faster than its remote free, the producers outrun the consumers and the
 * rings fill (with --batch 1000, 64 MiB of blocks a ring), which is the
 * program's memory, not the allocator's. So prodcons also reports the most
 * bytes its rings held ("Peak live"), for peak RSS to be read beyond. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MIN_BLOCK  64
#define MAX_BLOCK  4096
#define RING_SLOTS 1024 /* power of two */

static long batch = 1, fixed_size;

/* A lock-free ring rather than mutex+condvar: with a lock per block the
 * benchmark would time futexes, not the allocator. Head and tail sit on
 * separate cache lines so producer and consumer do not false-share. */
typedef struct {
    _Alignas(64) atomic_size_t head; /* next slot the consumer reads */
    _Alignas(64) atomic_size_t tail; /* next slot the producer writes */
    _Alignas(64) void *slot[RING_SLOTS];
} ring_t;

typedef struct {
    uint32_t size;
    uint32_t seq;
} header_t;

/* A line each: a producer and its consumer count every block, and counts
 * sharing a line would time the benchmark's own false sharing. */
typedef struct {
    _Alignas(64) ring_t *ring;
    long index;
    long seed;
    unsigned long long count; /* blocks produced or consumed */
    atomic_size_t bytes;      /* of blocks and batch arrays made or freed; written by the role */
    atomic_size_t ring_live;  /* consumer: bytes its ring held at its last sample */
    size_t live_peak;         /* consumer: most bytes all rings held at one of its samples */
} role_t;

static role_t *g_roles; /* producer 2i, consumer 2i + 1 */
static long g_pairs;

static atomic_bool g_stop;

static void ring_push(ring_t *r, void *p) {
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    /* Two cores and 2 × PAIRS threads: spinning without yielding would
     * starve the very thread we are waiting for. */
    while (tail - atomic_load_explicit(&r->head, memory_order_acquire) == RING_SLOTS) sched_yield();
    r->slot[tail & (RING_SLOTS - 1)] = p;
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
}

static void *ring_pop(ring_t *r) {
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    while (atomic_load_explicit(&r->tail, memory_order_acquire) == head) sched_yield();
    void *p = r->slot[head & (RING_SLOTS - 1)];
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return p;
}

static unsigned char pattern(uint32_t seq) {
    return (unsigned char)(seq * 167u + 13u);
}

static void add_bytes(role_t *role, size_t n) {
    atomic_store_explicit(&role->bytes,
                          atomic_load_explicit(&role->bytes, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* The bytes all rings hold now, as this consumer sees them: its own ring's
 * exactly (what its producer made, read after what it freed itself, less
 * that), the others' as their consumers last published them. Reading the
 * producer's line each block would slow the consumer, so a consumer samples
 * once a batch, or once every SAMPLE_EVERY blocks. */
#define SAMPLE_EVERY 64
static void sample_live(role_t *self) {
    const role_t *made_by = self - 1; /* consumer 2i + 1, producer 2i */
    size_t made = atomic_load_explicit(&made_by->bytes, memory_order_relaxed);
    size_t own = made - atomic_load_explicit(&self->bytes, memory_order_relaxed);
    atomic_store_explicit(&self->ring_live, own, memory_order_relaxed);
    size_t all = own;
    for (long i = 0; i < g_pairs; i++)
        if (&g_roles[2 * i + 1] != self)
            all += atomic_load_explicit(&g_roles[2 * i + 1].ring_live, memory_order_relaxed);
    if (all > self->live_peak) self->live_peak = all;
}

/* One block, filled with its producer's pattern and counted as made. */
static unsigned char *make(lran2_t *g, uint32_t seq, role_t *role) {
    size_t size = fixed_size ? (size_t)fixed_size
                             : MIN_BLOCK + (size_t)lran2_below(g, MAX_BLOCK - MIN_BLOCK + 1);
    unsigned char *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "prodcons: malloc(%zu) failed\n", size);
        exit(1);
    }
    memset(p, pattern(seq), size);
    memcpy(p, &(header_t){.size = (uint32_t)size, .seq = seq}, sizeof(header_t));
    add_bytes(role, size);
    return p;
}

static void *producer(void *arg) {
    role_t *role = arg;
    lran2_t g;
    lran2_seed(&g, bench_mix_seed(role->seed, role->index, 0));
    uint32_t seq = 0;
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        if (batch == 1) {
            ring_push(role->ring, make(&g, seq++, role));
            role->count++;
            continue;
        }
        /* A batch travels as an array of its blocks, allocated too. */
        unsigned char **b = malloc((size_t)batch * sizeof *b);
        if (b == NULL) {
            fprintf(stderr, "prodcons: out of memory for a batch\n");
            exit(1);
        }
        add_bytes(role, (size_t)batch * sizeof *b);
        for (long i = 0; i < batch; i++) b[i] = make(&g, seq++, role);
        ring_push(role->ring, b);
        role->count += (unsigned long long)batch;
    }
    ring_push(role->ring, NULL); /* end of stream */
    return NULL;
}

/* Checks one block and frees it. */
static void take(role_t *role, unsigned char *p, uint32_t *expect) {
    header_t h;
    memcpy(&h, p, sizeof h);
    unsigned char c = pattern(h.seq);
    size_t lo = fixed_size ? (size_t)fixed_size : MIN_BLOCK;
    size_t hi = fixed_size ? (size_t)fixed_size : MAX_BLOCK;
    /* Sampling every 256th byte plus the last keeps the check cheaper than
     * the fill while still catching a block that was reused. */
    bool ok = h.seq == *expect && h.size >= lo && h.size <= hi && p[h.size - 1] == c;
    for (size_t i = sizeof h; ok && i < h.size; i += 256) ok = p[i] == c;
    if (!ok) {
        fprintf(stderr, "prodcons: corrupt block %p from producer %ld (seq %u, expected %u)\n",
                (void *)p, role->index, h.seq, *expect);
        exit(1);
    }
    free(p);
    (*expect)++;
    role->count++;
    add_bytes(role, h.size);
}

static void *consumer(void *arg) {
    role_t *role = arg;
    uint32_t expect = 0;
    void *p;
    while ((p = ring_pop(role->ring)) != NULL) {
        if (batch > 1 || role->count % SAMPLE_EVERY == 0) sample_live(role);
        if (batch == 1) {
            take(role, p, &expect);
            continue;
        }
        unsigned char **b = p;
        for (long i = 0; i < batch; i++) take(role, b[i], &expect);
        free(b);
        add_bytes(role, (size_t)batch * sizeof *b);
    }
    return NULL;
}

static const bench_cli_t CLI = {
    .prog = "prodcons",
    .seed_help = "random seed for block sizes",
    .count_name = "PAIRS",
    .count_help = "producer/consumer thread pairs",
    .count_default = 2,
    .count_max = 256,
    .counts = "  --batch N      hand blocks over N at a time (default 1)\n"
              "  --size BYTES   every block this size (default 64-4096, random)\n"
              "Counts blocks passed from producer to consumer and freed, per second,\n"
              "and reports the most bytes the rings held (Peak live).\n"
              "Each pair's producer and consumer are pinned to different CPUs.",
};

/* Creation attributes pinning thread number `nth` (producer 2i, consumer
 * 2i + 1) to the nth of the allowed CPUs, modulo their number; false when
 * there is one CPU or affinity is unavailable (threads then float). */
static bool pin_attr(pthread_attr_t *attr, const cpu_set_t *allowed, long nth) {
    int n = CPU_COUNT(allowed);
    if (n < 2) return false;
    long want = nth % n;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, allowed) || want-- > 0) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        return pthread_attr_init(attr) == 0 &&
               pthread_attr_setaffinity_np(attr, sizeof one, &one) == 0;
    }
    return false;
}

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg, const cpu_set_t *allowed,
                        long nth) {
    pthread_attr_t attr;
    bool pinned = allowed != NULL && pin_attr(&attr, allowed, nth);
    int rc = pthread_create(t, pinned ? &attr : NULL, fn, arg);
    if (pinned) pthread_attr_destroy(&attr);
    return rc;
}

int main(int argc, char **argv) {
    if (!bench_take_long("prodcons", &argc, argv, "--batch", 1, 1000000, &batch) ||
        !bench_take_long("prodcons", &argc, argv, "--size", 16, 1 << 20, &fixed_size))
        return 2;
    bench_args_t args;
    int status = bench_parse_args(&CLI, argc, argv, &args);
    if (status >= 0) return status;
    long pairs = args.count;
    cpu_set_t allowed;
    bool have_cpus = sched_getaffinity(0, sizeof allowed, &allowed) == 0;

    ring_t *rings = aligned_alloc(64, (size_t)pairs * sizeof(ring_t));
    role_t *roles = aligned_alloc(64, (size_t)pairs * 2 * sizeof *roles);
    pthread_t *tids = calloc((size_t)pairs * 2, sizeof *tids);
    if (rings == NULL || roles == NULL || tids == NULL) {
        fprintf(stderr, "prodcons: out of memory\n");
        return 1;
    }
    memset(roles, 0, (size_t)pairs * 2 * sizeof *roles);
    g_roles = roles;
    g_pairs = pairs;

    for (long i = 0; i < pairs; i++) { /* all before any thread: consumers read every role */
        atomic_init(&rings[i].head, 0);
        atomic_init(&rings[i].tail, 0);
        for (long k = 2 * i; k <= 2 * i + 1; k++) {
            roles[k].ring = &rings[i];
            roles[k].index = i;
            roles[k].seed = args.seed;
        }
    }
    double start = bench_now();
    for (long i = 0; i < pairs; i++) {
        const cpu_set_t *cpus = have_cpus ? &allowed : NULL;
        if (start_thread(&tids[2 * i + 1], consumer, &roles[2 * i + 1], cpus, 2 * i + 1) != 0 ||
            start_thread(&tids[2 * i], producer, &roles[2 * i], cpus, 2 * i) != 0) {
            fprintf(stderr, "prodcons: cannot create threads\n");
            return 1;
        }
    }
    bench_sleep_until(start + args.seconds);
    atomic_store(&g_stop, true);
    for (long i = 0; i < 2 * pairs; i++) pthread_join(tids[i], NULL);
    double elapsed = bench_now() - start;

    unsigned long long consumed = 0;
    size_t live_peak = 0;
    for (long i = 0; i < pairs; i++) {
        consumed += roles[2 * i + 1].count;
        if (roles[2 * i + 1].live_peak > live_peak) live_peak = roles[2 * i + 1].live_peak;
    }
    bench_report_live((double)consumed, elapsed, 2 * pairs, (double)live_peak, args.json);
    return 0;
}
