/* early.c — allocation outside the comfortable middle of a program's life:
 * from a library's constructor and our own (before main), from atexit
 * handlers and destructors (after main), and from pthread key destructors
 * while threads exit, including one that allocates again after the
 * allocator's own thread-exit cleanup may already have run.
 *
 * A failure after main has returned can only show in the exit status, so the
 * handlers leave with _exit(1) when something is wrong, and a last handler
 * checks that the allocating one ran at all. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

int early_lib_check(void); /* early_lib.c */

#define NTHREADS 32

static const size_t sizes[] = {0, 24, 700, 1025, 5000, 32768, 100000, 1 << 21};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void *g_ctor_block;
static int g_ctor_errors;
static atomic_int g_key_runs, g_key_errors;
static volatile int g_atexit_ran;
static pthread_key_t g_key;

static void die(const char *msg) {
    if (write(2, msg, strlen(msg)) < 0) _exit(1);
    _exit(1);
}

/* Every size once, written in full; returns the number of failures. */
static int churn_all_sizes(void) {
    int errors = 0;
    for (size_t i = 0; i < NSIZES; i++) {
        void *p = tu_launder(malloc(sizes[i]));
        void *z = tu_launder(calloc(1, sizes[i]));
        if (!p || !z) {
            errors++;
        } else {
            memset(p, 0x5c, sizes[i]);
            for (size_t k = 0; k < sizes[i]; k += 97)
                if (((unsigned char *)z)[k]) errors++;
        }
        free(p);
        free(z);
    }
    return errors;
}

/* Priority 101 runs before any default-priority constructor of this
 * program, as early as user code can get. */
__attribute__((constructor(101))) static void early_ctor(void) {
    g_ctor_errors = churn_all_sizes();
    g_ctor_block = malloc(5000);
    if (g_ctor_block)
        memset(g_ctor_block, 0x77, 5000);
    else
        g_ctor_errors++;
}

__attribute__((destructor)) static void late_dtor(void) {
    if (churn_all_sizes()) die("FAIL early: allocation in a destructor failed\n");
}

/* Registered first, so it runs last among the handlers. */
static void atexit_last(void) {
    if (!g_atexit_ran) die("FAIL early: the allocating atexit handler did not run\n");
    if (churn_all_sizes()) die("FAIL early: allocation in the last atexit handler failed\n");
    static const char ok[] = "early: atexit handlers allocated fine\n";
    if (write(1, ok, sizeof ok - 1) < 0) _exit(1);
}

static void atexit_alloc(void) {
    char *s = strdup("an atexit handler allocates");
    if (!s) die("FAIL early: strdup in an atexit handler failed\n");
    if (churn_all_sizes()) die("FAIL early: allocation in an atexit handler failed\n");
    char *t = realloc(s, 100000);
    if (!t || strcmp(t, "an atexit handler allocates") != 0)
        die("FAIL early: realloc in an atexit handler failed\n");
    free(t);
    g_atexit_ran = 1;
}

/* Runs after the thread's function returned. The first round stores a new
 * block, so glibc calls the destructor a second time: by then any key the
 * allocator uses for its own thread cleanup may have run already. */
static void key_dtor(void *v) {
    uintptr_t *blk = v;
    atomic_fetch_add(&g_key_runs, 1);
    if (blk[0] != (uintptr_t)blk) atomic_fetch_add(&g_key_errors, 1);
    uintptr_t round = blk[1];
    free(blk);
    if (churn_all_sizes()) atomic_fetch_add(&g_key_errors, 1);
    if (round == 0) {
        uintptr_t *again = malloc(2 * sizeof *again);
        if (!again) {
            atomic_fetch_add(&g_key_errors, 1);
            return;
        }
        again[0] = (uintptr_t)again;
        again[1] = 1;
        pthread_setspecific(g_key, again);
    }
}

static void *thread_main(void *arg) {
    (void)arg;
    uintptr_t *blk = malloc(2 * sizeof *blk);
    if (!blk) return (void *)1;
    blk[0] = (uintptr_t)blk;
    blk[1] = 0;
    pthread_setspecific(g_key, blk);
    return churn_all_sizes() ? (void *)1 : NULL;
}

int main(int argc, char **argv) {
    int expect = tu_take_expect_flag(&argc, argv);
    tu_check_hakmem("early", expect);
    int failed = 0;

    if (g_ctor_errors) {
        printf("FAIL early: allocation in a program constructor failed (%d)\n", g_ctor_errors);
        failed = 1;
    }
    const unsigned char *cb = g_ctor_block;
    for (size_t k = 0; cb && k < 5000; k++)
        if (cb[k] != 0x77) {
            printf("FAIL early: block allocated before main damaged at byte %zu\n", k);
            failed = 1;
            break;
        }
    if (cb && malloc_usable_size(g_ctor_block) < 5000) {
        printf("FAIL early: malloc_usable_size of a pre-main block is %zu\n",
               malloc_usable_size(g_ctor_block));
        failed = 1;
    }
    free(g_ctor_block);

    int lib_errors = early_lib_check();
    if (lib_errors) {
        printf("FAIL early: %d problems with blocks from a library constructor\n", lib_errors);
        failed = 1;
    }

    if (pthread_key_create(&g_key, key_dtor) != 0) {
        printf("FAIL early: pthread_key_create failed\n");
        return 1;
    }
    for (int round = 0; round < 4; round++) {
        pthread_t t[NTHREADS / 4];
        for (int i = 0; i < NTHREADS / 4; i++)
            if (pthread_create(&t[i], NULL, thread_main, NULL) != 0) {
                printf("FAIL early: pthread_create failed\n");
                return 1;
            }
        for (int i = 0; i < NTHREADS / 4; i++) {
            void *r;
            pthread_join(t[i], &r);
            if (r) {
                printf("FAIL early: allocation failed in a thread\n");
                failed = 1;
            }
        }
    }
    if (atomic_load(&g_key_runs) != 2 * NTHREADS || atomic_load(&g_key_errors)) {
        printf("FAIL early: key destructors ran %d times (want %d) with %d errors\n",
               atomic_load(&g_key_runs), 2 * NTHREADS, atomic_load(&g_key_errors));
        failed = 1;
    }

    atexit(atexit_last);
    atexit(atexit_alloc);
    if (failed) return 1;
    printf("early: constructors, key destructors: ok\n");
    fflush(stdout);
    return 0;
}
