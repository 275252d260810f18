/* getattr.c — threads whose first allocation happens inside
 * pthread_getattr_np, as every thread a Rust program spawns does (its
 * standard library asks for the stack's guard first thing) and as ld.lld's
 * main thread did. glibc holds the thread's own lock while that call
 * allocates (the affinity mask; for the main thread also a FILE on
 * /proc/self/maps), so an allocator that asks pthread_getattr_np in turn
 * from inside malloc waits on that lock for ever. hakmem did, when it made
 * a thread's heap.
 *
 * The main thread calls pthread_getattr_np before anything else that could
 * allocate; then threads do the same, a few at a time, some after
 * allocating and some before. Each checks that the stack it was told of
 * holds one of its locals. A hang is reported by an alarm, not by the
 * test's timeout, so the message says what hung.
 *
 * Usage: getattr [threads=64] [--expect-hakmem] */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static volatile const char *g_step = "the main thread's first pthread_getattr_np";

static void on_alarm(int sig) {
    (void)sig;
    static const char head[] = "FAIL getattr: hung in ";
    if (write(2, head, sizeof head - 1) < 0) _exit(1);
    const char *s = (const char *)g_step;
    if (write(2, s, strlen(s)) < 0) _exit(1);
    if (write(2, " (a thread waiting on its own lock?)\n", 37) < 0) _exit(1);
    _exit(1);
}

/* Whether the calling thread's stack, as pthread_getattr_np tells it, holds
 * `local`; 0 when it does, else a message. */
static const char *stack_check(const void *local) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return "pthread_getattr_np failed";
    void *addr;
    size_t size;
    const char *err = NULL;
    if (pthread_attr_getstack(&attr, &addr, &size) != 0)
        err = "pthread_attr_getstack failed";
    else if ((uintptr_t)local < (uintptr_t)addr || (uintptr_t)local >= (uintptr_t)addr + size)
        err = "the stack it reports does not hold a local variable";
    pthread_attr_destroy(&attr);
    return err;
}

static void *thread_main(void *arg) {
    int local = 0;
    uintptr_t i = (uintptr_t)arg;
    void *early = NULL;
    if (i % 2 == 1) early = malloc(64 + i); /* half allocate first */
    const char *err = stack_check(&local);
    free(early);
    if (err == NULL) {
        void *p = malloc(100 + i); /* and allocation goes on afterwards */
        if (p == NULL) err = "malloc failed after pthread_getattr_np";
        free(p);
    }
    return (void *)err;
}

int main(int argc, char **argv) {
    int local = 0;
    signal(SIGALRM, on_alarm);
    alarm(20);
    const char *err = stack_check(&local);
    if (err != NULL) {
        fprintf(stderr, "FAIL getattr: main thread: %s\n", err);
        return 1;
    }
    g_step = "a thread's first pthread_getattr_np";
    int expect = tu_take_expect_flag(&argc, argv);
    tu_check_hakmem("getattr", expect);
    long threads = argc > 1 ? atol(argv[1]) : 64;
    for (long done = 0; done < threads; done += 4) {
        pthread_t t[4];
        int n = 0;
        for (; n < 4 && done + n < threads; n++)
            if (pthread_create(&t[n], NULL, thread_main, (void *)(uintptr_t)(done + n)) != 0) {
                fprintf(stderr, "FAIL getattr: pthread_create failed\n");
                return 1;
            }
        for (int k = 0; k < n; k++) {
            void *r;
            pthread_join(t[k], &r);
            if (r != NULL) {
                fprintf(stderr, "FAIL getattr: thread %ld: %s\n", done + k, (const char *)r);
                return 1;
            }
        }
    }
    alarm(0);
    printf("getattr: ok (main thread and %ld threads asked pthread_getattr_np first)\n", threads);
    return 0;
}
