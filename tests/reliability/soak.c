/* soak.c — a long run of the stress workload with thread churn and fork,
 * sampling resident memory every second: after warm-up, memory must stop
 * growing.
 *
 * Worker threads allocate blocks of every tier through every entry point,
 * publish them in shared slots, and free or reallocate what other threads
 * published (most frees are remote); each worker exits after a random
 * number of operations and main starts a new one, so heaps are abandoned
 * and taken over all the time. Once a second main forks: the child frees
 * and checks blocks it inherited from threads that do not exist in it,
 * allocates in every tier from a thread of its own, and exits.
 *
 * The live set is bounded by construction (NSLOTS blocks of at most
 * MAX_BLOCK bytes), so a sound allocator's footprint reaches a plateau.
 * After the warm-up, the rest of the run is cut into two halves; the
 * median RSS of the second may exceed the first's by at most GROWTH_SHARE
 * plus GROWTH_SLACK. A leak proportional to the work done (per operation,
 * per thread, per fork) moves the whole second half up by about as much as
 * the first half grew over its own length, and fails once it is beyond
 * that bound; what the bound allows is noise: the live set itself
 * fluctuates by a few MiB (3 % of blocks are up to 256 KiB), and caches
 * fill to their limits. Medians, not peaks: a burst of large blocks lifts
 * one sample, a leak lifts them all. The same bound holds hakmem's own
 * count of mapped bytes, which is exact.
 *
 * Usage: soak [seconds=60] [threads=4] [--expect-hakmem]
 * The ctest runs it for 60 s; tests/RELIABILITY.md gives the 10-minute
 * command. Nothing about speed is asserted. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NSLOTS       4096
#define MAX_BLOCK    (256 * 1024)
#define MAX_THREADS  16
#define MAX_SAMPLES  4000
#define GROWTH_SHARE 0.10
#define GROWTH_SLACK (8.0 * 1024 * 1024)
#define CHILD_LIMIT  20 /* seconds a forked child may take before it counts as hung */
#define MiB          (1024.0 * 1024.0)

/* Blocks carry their size and a tag byte, written at both ends and in a
 * sample of the middle; whoever frees a block checks them. */
struct hdr {
    uint32_t size;
    uint32_t tag;
};

static _Atomic(void *) g_slots[NSLOTS];
static atomic_int g_stop;
static atomic_long g_ops, g_shared_frees;
static long (*g_hak_stat)(const char *);

#define die(...) tu_die("soak", __VA_ARGS__)

static size_t next_checked(size_t i, size_t n) {
    return i < 64 || i + 64 >= n ? i + 1 : i + 509;
}

static void *make(uint64_t *rng) {
    unsigned r = (unsigned)(tu_rand(rng) % 100);
    size_t n = r < 70   ? tu_rand_size(rng, sizeof(struct hdr), TU_TINY_MAX)
               : r < 97 ? tu_rand_size(rng, TU_TINY_MAX + 1, TU_MID_MAX)
                        : tu_rand_size(rng, TU_MID_MAX + 1, MAX_BLOCK);
    void *p = NULL;
    switch (tu_rand(rng) % 6) {
    case 0:
        p = calloc(1, n);
        break;
    case 1:
        if (posix_memalign(&p, (size_t)64 << (tu_rand(rng) % 7), n) != 0) p = NULL;
        break;
    case 2:
        p = realloc(NULL, n);
        break;
    default:
        p = malloc(n);
    }
    if (p == NULL) die("allocation of %zu bytes failed (errno %d)", n, errno);
    struct hdr h = {(uint32_t)n, (uint32_t)(tu_rand(rng) | 1)};
    memcpy(p, &h, sizeof h);
    unsigned char *b = p;
    for (size_t i = sizeof h; i < n; i = next_checked(i, n)) b[i] = (unsigned char)h.tag;
    return p;
}

static struct hdr check(const void *p, const char *when) {
    struct hdr h;
    memcpy(&h, p, sizeof h);
    if (h.size < sizeof h || h.size > MAX_BLOCK || !(h.tag & 1))
        die("%s: header of block %p damaged (size %u, tag %#x)", when, p, h.size, h.tag);
    const unsigned char *b = p;
    for (size_t i = sizeof h; i < h.size; i = next_checked(i, h.size))
        if (b[i] != (unsigned char)h.tag)
            die("%s: block %p (%u bytes): byte %zu is %#x, want %#x", when, p, h.size, i, b[i],
                h.tag & 0xff);
    return h;
}

static void *worker(void *arg) {
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    long ops = 20000 + (long)(tu_rand(&rng) % 40000), shared = 0;
    void *own[32] = {0};
    for (long k = 0; k < ops && !atomic_load_explicit(&g_stop, memory_order_relaxed); k++) {
        unsigned r = (unsigned)(tu_rand(&rng) % 100);
        _Atomic(void *) *slot = &g_slots[tu_rand(&rng) % NSLOTS];
        if (r < 55) {
            void *old = atomic_exchange(slot, make(&rng));
            if (old) {
                check(old, "before free");
                free(old);
                shared++;
            }
        } else if (r < 65) {
            void *old = atomic_exchange(slot, NULL);
            if (old) {
                struct hdr h = check(old, "before realloc");
                size_t n = tu_rand_size(&rng, sizeof h, MAX_BLOCK);
                unsigned char *q = realloc(old, n);
                if (q == NULL) die("realloc to %zu bytes failed", n);
                /* Grown bytes get the tag, the shared ones must have kept it. */
                h.size = (uint32_t)n;
                memcpy(q, &h, sizeof h);
                for (size_t i = sizeof h; i < n; i++) q[i] = (unsigned char)h.tag;
                void *prev = atomic_exchange(slot, q);
                if (prev) {
                    check(prev, "before free");
                    free(prev);
                }
            }
        } else {
            unsigned i = (unsigned)(tu_rand(&rng) % 32);
            if (own[i]) {
                check(own[i], "before free of an own block");
                free(own[i]);
            }
            own[i] = make(&rng);
        }
    }
    /* Half of the own blocks outlive the thread, in the slots. */
    for (unsigned i = 0; i < 32; i++) {
        if (own[i] == NULL) continue;
        void *prev = i % 2 ? atomic_exchange(&g_slots[tu_rand(&rng) % NSLOTS], own[i]) : own[i];
        if (prev) {
            check(prev, "at thread exit");
            free(prev);
        }
    }
    atomic_fetch_add(&g_ops, ops);
    atomic_fetch_add(&g_shared_frees, shared);
    return (void *)1;
}

static void *child_thread(void *arg) {
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < 200; i++) free(make(&rng));
    return NULL;
}

/* In the child of a fork: only this thread exists. */
static void child(uint64_t seed) {
    alarm(CHILD_LIMIT);
    uint64_t rng = seed;
    for (int i = 0; i < 64; i++) {
        void *p = atomic_exchange(&g_slots[tu_rand(&rng) % NSLOTS], NULL);
        if (p) {
            check(p, "inherited by a child");
            free(p);
        }
    }
    void *mine[16];
    for (int i = 0; i < 16; i++) mine[i] = make(&rng);
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(seed | 1)) != 0) _exit(5);
    pthread_join(t, NULL);
    for (int i = 0; i < 16; i++) {
        check(mine[i], "child's own block");
        free(mine[i]);
    }
    _exit(0);
}

struct series {
    double v[MAX_SAMPLES];
    int n;
};

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const struct series *s, int from, int to) {
    static double tmp[MAX_SAMPLES];
    int n = 0;
    for (int i = from; i < to && i < s->n; i++) tmp[n++] = s->v[i];
    if (n == 0) return 0;
    qsort(tmp, (size_t)n, sizeof tmp[0], by_value);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* The plateau check described at the top. */
static bool plateau(const char *what, const struct series *s, int warm) {
    int mid = warm + (s->n - warm) / 2;
    double a = median(s, warm, mid), b = median(s, mid, s->n);
    double bound = a * (1 + GROWTH_SHARE) + GROWTH_SLACK;
    printf("soak: %s median %.1f MiB in seconds %d-%d, %.1f MiB in seconds %d-%d (bound %.1f "
           "MiB)\n",
           what, a / MiB, warm, mid, b / MiB, mid, s->n, bound / MiB);
    if (b > bound) {
        printf("FAIL soak: %s still grows after warm-up: %.1f MiB > %.1f MiB\n", what, b / MiB,
               bound / MiB);
        return false;
    }
    return true;
}

int main(int argc, char **argv) {
    int expect = tu_take_expect_flag(&argc, argv);
    tu_is_ours_fn ours = tu_check_hakmem("soak", expect);
    int seconds = argc > 1 ? atoi(argv[1]) : 60;
    int nthreads = argc > 2 ? atoi(argv[2]) : 4;
    if (seconds < 8 || seconds >= MAX_SAMPLES || nthreads < 1 || nthreads > MAX_THREADS) {
        fprintf(stderr, "usage: soak [seconds 8..%d] [threads 1..%d] [--expect-hakmem]\n",
                MAX_SAMPLES - 1, MAX_THREADS);
        return 2;
    }
    if (ours) {
        void *sym = dlsym(RTLD_DEFAULT, "hak_stat");
        memcpy(&g_hak_stat, &sym, sizeof sym);
    }
    /* A quarter of the run, at least 5 s: long enough for every slot to
     * have been filled many times over and the caches to reach their
     * limits. */
    int warm = seconds / 4 < 5 ? 5 : seconds / 4;

    pthread_t tid[MAX_THREADS];
    uint64_t rng = 0x5eed;
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)(tu_rand(&rng) | 1)) != 0)
            die("pthread_create failed");
    static struct series rss, mapped;
    long forks = 0, threads = nthreads;
    double start = tu_now(), next_sample = start + 1;
    while (rss.n < seconds) {
        /* Thread churn: replace each worker that has finished. */
        for (int i = 0; i < nthreads; i++) {
            if (pthread_tryjoin_np(tid[i], NULL) != 0) continue;
            if (pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)(tu_rand(&rng) | 1)) != 0)
                die("pthread_create failed");
            threads++;
        }
        if (tu_now() < next_sample) {
            usleep(10000);
            continue;
        }
        next_sample += 1;
        rss.v[rss.n++] = (double)tu_rss_bytes();
        if (g_hak_stat) mapped.v[mapped.n++] = (double)g_hak_stat("bytes_mapped");

        pid_t pid = fork();
        if (pid < 0) die("fork: %s", strerror(errno));
        if (pid == 0) child(tu_rand(&rng));
        int status;
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR) die("waitpid: %s", strerror(errno));
        if (WIFSIGNALED(status))
            die("forked child %d killed by signal %d%s", (int)pid, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (hung: a lock inherited held?)" : "");
        if (WEXITSTATUS(status) != 0)
            die("forked child %d exited with status %d", (int)pid, WEXITSTATUS(status));
        forks++;
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < nthreads; i++) pthread_join(tid[i], NULL);
    for (int s = 0; s < NSLOTS; s++) {
        void *p = atomic_exchange(&g_slots[s], NULL);
        if (p) {
            check(p, "final drain");
            free(p);
        }
    }
    double took = tu_now() - start;
    printf("soak: %.0f s, %ld threads (%d at a time), %ld forks, %ld operations, %ld frees of "
           "blocks from the shared slots\n",
           took, threads, nthreads, forks, atomic_load(&g_ops), atomic_load(&g_shared_frees));
    printf("soak: RSS every second (MiB):");
    for (int i = 0; i < rss.n; i++) printf("%s%.0f", i % 20 ? " " : "\n  ", rss.v[i] / MiB);
    printf("\n");
    bool ok = plateau("RSS", &rss, warm);
    if (mapped.n) ok &= plateau("hakmem bytes_mapped", &mapped, warm);
    if (threads < 2L * nthreads) {
        printf("FAIL soak: only %ld threads were started: no churn\n", threads);
        ok = false;
    }
    printf("soak: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
