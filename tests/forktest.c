/* forktest.c — fork while other threads are inside the allocator. The child
 * inherits whatever locks and lists were held mid-operation; the
 * allocator's atfork handlers must leave it a usable heap. Each child checks
 * and frees blocks inherited from the parent's threads (whose owners do not
 * exist in the child), allocates in every tier, starts a thread of its own,
 * and leaves with _exit(0). A deadlock fails through watchdogs instead of
 * hanging the suite.
 *
 * Usage: forktest [forks=200] [threads=3] [--expect-hakmem] */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NSLOTS        512
#define MAX_THR       16
#define CHILD_SECONDS 20 /* a child normally needs milliseconds */
#define EXIT_HUNG     3
#define EXIT_BROKEN   4

/* Blocks carry their size and a fill byte so that any process holding them
 * (the parent's threads or a child) can check them before freeing. */
struct hdr {
    uint32_t size;
    uint32_t tag;
};

static _Atomic(void *) g_slots[NSLOTS];
static atomic_int g_stop;

static void say(const char *msg) {
    if (write(2, msg, strlen(msg)) < 0) _exit(EXIT_BROKEN);
}

/* Both the parent's overall watchdog and a child's own land here (the child
 * inherits the handler); only async-signal-safe calls. */
static void on_alarm(int sig) {
    (void)sig;
    say("FAIL forktest: watchdog expired: a process hung (allocator deadlock after fork?)\n");
    _exit(EXIT_HUNG);
}

static void *make(uint64_t *rng) {
    unsigned r = (unsigned)(tu_rand(rng) % 100);
    size_t n = r < 70   ? tu_rand_size(rng, sizeof(struct hdr) + 1, TU_TINY_MAX)
               : r < 98 ? tu_rand_size(rng, TU_TINY_MAX + 1, TU_MID_MAX)
                        : tu_rand_size(rng, TU_MID_MAX + 1, 256 * 1024);
    void *p = NULL;
    switch (tu_rand(rng) % 4) {
    case 0:
        p = calloc(1, n);
        break;
    case 1:
        if (posix_memalign(&p, (size_t)64 << (tu_rand(rng) % 8), n) != 0) p = NULL;
        break;
    default:
        p = malloc(n);
        break;
    }
    if (!p) return NULL;
    struct hdr h = {(uint32_t)n, (uint32_t)(tu_rand(rng) & 0xff) | 1};
    memset(p, (int)h.tag, n);
    memcpy(p, &h, sizeof h);
    return p;
}

static int intact(const void *p) {
    struct hdr h;
    memcpy(&h, p, sizeof h);
    if (h.size <= sizeof h || h.size > 512 * 1024 || h.tag > 0xff) return 0;
    const unsigned char *b = p;
    for (size_t i = sizeof h; i < h.size; i += 7)
        if (b[i] != h.tag) return 0;
    return b[h.size - 1] == h.tag;
}

static void *churner(void *arg) {
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ULL | 1;
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        void *p = make(&rng);
        if (!p) {
            say("FAIL forktest: allocation failed in a parent thread\n");
            _exit(1);
        }
        void *old = atomic_exchange(&g_slots[tu_rand(&rng) % NSLOTS], p);
        if (old) {
            if (!intact(old)) {
                say("FAIL forktest: block damaged in the parent\n");
                _exit(1);
            }
            free(old);
        }
    }
    return NULL;
}

static void *child_thread(void *arg) {
    uint64_t rng = (uint64_t)(uintptr_t)arg | 1;
    void *keep[64] = {0};
    for (int i = 0; i < 2000; i++) {
        int k = (int)(tu_rand(&rng) % 64);
        if (keep[k] && !intact(keep[k])) return (void *)"block damaged in a child's thread";
        free(keep[k]);
        keep[k] = make(&rng);
        if (!keep[k]) return (void *)"allocation failed in a child's thread";
    }
    for (int k = 0; k < 64; k++) free(keep[k]);
    return NULL;
}

static void child_fail(const char *why) {
    say("FAIL forktest (child): ");
    say(why);
    say("\n");
    _exit(1);
}

static void child(uint64_t seed) {
    alarm(CHILD_SECONDS);
    uint64_t rng = seed | 1;
    /* Blocks the parent's threads were juggling at the moment of the fork:
     * their owners do not exist here. */
    for (int i = 0; i < 64; i++) {
        void *p = atomic_exchange(&g_slots[tu_rand(&rng) % NSLOTS], NULL);
        if (!p) continue;
        if (!intact(p)) child_fail("inherited block damaged");
        if (i % 4 == 0) {
            struct hdr h;
            memcpy(&h, p, sizeof h);
            unsigned char *q = realloc(p, h.size * 2);
            if (!q) child_fail("realloc of an inherited block failed");
            for (size_t k = sizeof h; k < h.size; k += 13)
                if (q[k] != h.tag) child_fail("realloc of an inherited block lost contents");
            free(q);
        } else {
            free(p);
        }
    }
    void *keep[128] = {0};
    for (int i = 0; i < 1000; i++) {
        int k = (int)(tu_rand(&rng) % 128);
        if (keep[k] && !intact(keep[k])) child_fail("block damaged in the child");
        free(keep[k]);
        keep[k] = make(&rng);
        if (!keep[k]) child_fail("allocation failed in the child");
    }
    void *big = malloc(4 << 20);
    if (!big) child_fail("malloc(4 MiB) failed");
    memset(big, 1, 4 << 20);
    free(big);
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)seed) != 0)
        child_fail("pthread_create failed");
    void *err = NULL;
    pthread_join(t, &err);
    if (err) child_fail(err);
    for (int k = 0; k < 128; k++) free(keep[k]);
    _exit(0);
}

/* Polls rather than blocking in waitpid, so a child stuck before its own
 * alarm is armed (inside fork's child handlers) is killed, not waited on. */
static int reap(pid_t pid, int n) {
    double deadline = tu_now() + CHILD_SECONDS + 10;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            printf("FAIL forktest: waitpid: %s\n", strerror(errno));
            return 0;
        }
        if (tu_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            printf("FAIL forktest: child %d (fork #%d) hung and was killed\n", (int)pid, n);
            return 0;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 1;
    if (WIFEXITED(status))
        printf("FAIL forktest: child of fork #%d exited with %d%s\n", n, WEXITSTATUS(status),
               WEXITSTATUS(status) == EXIT_HUNG ? " (its watchdog fired: deadlock)" : "");
    else if (WIFSIGNALED(status))
        printf("FAIL forktest: child of fork #%d killed by signal %d (%s)\n", n, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    return 0;
}

struct fork_job {
    int n;
    int ok;
};

static int fork_once(int n) {
    pid_t pid = fork();
    if (pid < 0) {
        printf("FAIL forktest: fork #%d: %s\n", n, strerror(errno));
        return 0;
    }
    if (pid == 0) child(0xC0FFEEULL * (uint64_t)(n + 1));
    return reap(pid, n);
}

/* Some forks come from a short-lived thread: the child then runs on a
 * thread that is not main, with that thread's allocator state. */
static void *fork_from_thread(void *arg) {
    struct fork_job *j = arg;
    j->ok = fork_once(j->n);
    return NULL;
}

int main(int argc, char **argv) {
    int expect = tu_take_expect_flag(&argc, argv);
    tu_check_hakmem("forktest", expect);
    int forks = argc > 1 ? atoi(argv[1]) : 200;
    int nthr = argc > 2 ? atoi(argv[2]) : 3;
    if (forks < 1 || nthr < 1 || nthr > MAX_THR) {
        fprintf(stderr, "usage: forktest [forks>=1] [threads 1..%d] [--expect-hakmem]\n", MAX_THR);
        return 2;
    }
    fflush(stdout); /* children must not flush the parent's buffer again */
    signal(SIGALRM, on_alarm);
    alarm((unsigned)(60 + forks / 2));

    pthread_t tid[MAX_THR];
    for (int i = 0; i < nthr; i++)
        if (pthread_create(&tid[i], NULL, churner, (void *)(uintptr_t)(i + 1)) != 0) {
            printf("FAIL forktest: pthread_create failed\n");
            return 1;
        }
    int failed = 0;
    for (int n = 0; n < forks && failed < 3; n++) {
        int ok;
        if (n % 4 == 3) {
            struct fork_job j = {n, 0};
            pthread_t t;
            if (pthread_create(&t, NULL, fork_from_thread, &j) != 0) {
                printf("FAIL forktest: pthread_create failed\n");
                return 1;
            }
            pthread_join(t, NULL);
            ok = j.ok;
        } else {
            ok = fork_once(n);
        }
        if (!ok) failed++;
        fflush(stdout);
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < nthr; i++) pthread_join(tid[i], NULL);
    for (int s = 0; s < NSLOTS; s++) {
        void *p = atomic_exchange(&g_slots[s], NULL);
        if (p && !intact(p)) {
            printf("FAIL forktest: block damaged in the parent after the forks\n");
            return 1;
        }
        free(p);
    }
    alarm(0);
    if (failed) {
        printf("forktest: %d failed forks\n", failed);
        return 1;
    }
    printf("forktest: %d forks with %d allocating threads: ok\n", forks, nthr);
    return 0;
}
