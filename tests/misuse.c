/* misuse.c — one wrong free, in one of eight shapes, of a block of one of
 * three sizes; tests/misuse.sh runs every pair and checks that the program
 * ends with hakmem's one message and abort().
 *
 *   misuse SHAPE SIZE [--expect-hakmem]
 *
 * SHAPE:
 *   double-now          free(p); free(p)
 *   double-later        free(p), then frees of 100 other blocks of its size, then free(p)
 *   double-interleaved  free(p); free(q); free(p)
 *   double-reuse        free(p); free(q); free(p), then three blocks of its size
 *                       taken and written (the third is p again)
 *   write-after-free    free(p), a write into p's second word, then a block
 *                       of its size taken (p)
 *   double-flush        frees of 10,000 other blocks of its size around
 *                       free(p); free(q); free(p): the cache overflows and
 *                       gives its newest blocks back to their pages
 *   double-pooled       frees of eight pages' worth of blocks of its size, then
 *                       one of the first freed again: its page is empty by then,
 *                       back in hakmem's page pool, still mapped
 *   interior            free(p + 1)
 *   stack               free() of an array of SIZE bytes on this thread's stack
 *   stack-other         free() of an array on another live thread's stack (one that
 *                       has allocated)
 *   unmapped            free() of an address where nothing is mapped
 *   one                 free((void *)1)
 *   key-in-data         no misuse: live blocks whose second word holds the
 *                       free key (learned from a freed block) are freed; the
 *                       program must run to its end
 *   pool-reused         no misuse: eight pages' worth of blocks freed, their
 *                       pages given back to the kernel (run it where the pool
 *                       keeps none), then a mapping of the program's own at
 *                       one of those pages, laid out as glibc lays out a block
 *                       of its own mapping: malloc_usable_size and free of
 *                       that block go to the C library, which unmaps it; the
 *                       program must run to its end
 * A case that returns prints "returned" and exits 0: the misuse went
 * unnoticed, unless the allocator finds it at exit (hakmem checks the
 * exiting thread's caches then: a double free it let into a cache). */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

static size_t size;
static pthread_barrier_t ready, done;
static char *volatile other_stack;

/* Frees what the compiler cannot see through. */
static void free_it(void *p) {
    free(tu_launder(p));
}

/* Keeps an array on its stack until the main thread has freed it. Like
 * nearly every thread, it has allocated: hakmem knows the stacks of the
 * threads it has a heap for. */
static void *stack_owner(void *arg) {
    (void)arg;
    free_it(malloc(64));
    char buf[256 * 1024];
    buf[0] = 1;
    other_stack = buf;
    pthread_barrier_wait(&ready);
    pthread_barrier_wait(&done); /* never: the free aborts */
    return NULL;
}

static char *block(void) {
    char *p = malloc(size);
    if (p == NULL) tu_die("misuse", "malloc(%zu) failed", size);
    memset(p, 'a', size);
    return p;
}

static void key_in_data(void) {
    /* A freed block's second word is the key (a read of freed memory:
     * this test's business, not a program's). */
    uintptr_t *probe = (uintptr_t *)block();
    free_it(probe);
    uintptr_t key = ((volatile uintptr_t *)probe)[1];
    enum { N = 300 };
    char *live[N];
    for (int i = 0; i < N; i++) {
        live[i] = block();
        ((uintptr_t *)live[i])[1] = key;
    }
    for (int i = 0; i < N; i++) free_it(live[i]);
    for (int i = 0; i < N; i++) {
        live[i] = block();
        ((uintptr_t *)live[i])[1] = key;
    }
    for (int i = N - 1; i >= 0; i--) free_it(live[i]);
    printf("key-in-data: %d blocks of %zu bytes holding the key freed, none taken for free\n",
           2 * N, size);
}

static void pool_reused(void) {
    enum { PAGE = 65536 };
    size_t n = 8 * PAGE / size + 1;
    char **v = malloc(n * sizeof *v);
    if (v == NULL) tu_die("misuse", "malloc failed");
    for (size_t i = 0; i < n; i++) v[i] = block();
    char *page = (char *)((uintptr_t)v[n / 4] & ~(uintptr_t)(PAGE - 1));
    for (size_t i = 0; i < n; i++) free_it(v[i]);
    free(v);
    char *m = mmap(page, PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m == MAP_FAILED || m != page)
        tu_die("misuse",
               "cannot map %p: the page of freed blocks is still mapped (the pool kept it)",
               (void *)page);
    /* glibc's chunk of its own mapping: no previous size, then the
     * mapping's length with IS_MMAPPED (2); the block follows. */
    ((size_t *)m)[0] = 0;
    ((size_t *)m)[1] = PAGE | 2;
    void *p = m + 2 * sizeof(size_t);
    size_t usable = malloc_usable_size(p);
    if (usable != PAGE - 2 * sizeof(size_t))
        tu_die("misuse", "malloc_usable_size(%p) = %zu, expected %zu from the C library", p, usable,
               (size_t)PAGE - 2 * sizeof(size_t));
    free_it(p);
    printf("pool-reused: a mapping of the program's own where hakmem's page was, taken for the C "
           "library's\n");
}

int main(int argc, char **argv) {
    int expect = tu_take_expect_flag(&argc, argv);
    tu_check_hakmem("misuse", expect);
    if (argc != 3) {
        fprintf(stderr, "usage: misuse SHAPE SIZE [--expect-hakmem]\n");
        return 2;
    }
    const char *shape = argv[1];
    size = (size_t)atol(argv[2]);
    if (size < 16) size = 16; /* the key test writes the second word */
    setvbuf(stdout, NULL, _IONBF, 0);

    if (strcmp(shape, "double-now") == 0) {
        char *p = block();
        free_it(p);
        free_it(p);
    } else if (strcmp(shape, "double-later") == 0) {
        char *p = block(), *others[100];
        for (int i = 0; i < 100; i++) others[i] = block();
        free_it(p);
        for (int i = 0; i < 100; i++) free_it(others[i]);
        free_it(p);
    } else if (strcmp(shape, "double-interleaved") == 0) {
        char *p = block(), *q = block();
        free_it(p);
        free_it(q);
        free_it(p);
    } else if (strcmp(shape, "double-reuse") == 0) {
        char *p = block(), *q = block();
        free_it(p);
        free_it(q);
        free_it(p);
        for (int i = 0; i < 3; i++) block();
    } else if (strcmp(shape, "double-flush") == 0) {
        enum { N = 10000 };
        static char *others[N];
        char *p = block(), *q = block();
        for (int i = 0; i < N; i++) others[i] = block();
        for (int i = 0; i < N / 2; i++) free_it(others[i]);
        free_it(p);
        free_it(q);
        free_it(p);
        for (int i = N / 2; i < N; i++) free_it(others[i]);
    } else if (strcmp(shape, "double-pooled") == 0) {
        size_t n = 8 * 65536 / size + 1;
        char **v = malloc(n * sizeof *v);
        if (v == NULL) tu_die("misuse", "malloc failed");
        for (size_t i = 0; i < n; i++) v[i] = block();
        for (size_t i = 0; i < n; i++) free_it(v[i]);
        free_it(v[n / 4]);
    } else if (strcmp(shape, "write-after-free") == 0) {
        char *p = block();
        free_it(p);
        ((volatile uintptr_t *)tu_launder(p))[1] = 42;
        block();
    } else if (strcmp(shape, "interior") == 0) {
        char *p = block();
        free_it(p + 1);
    } else if (strcmp(shape, "stack") == 0) {
        char *buf = alloca(size);
        memset(buf, 0, size);
        free_it(buf);
    } else if (strcmp(shape, "stack-other") == 0) {
        pthread_t t;
        pthread_barrier_init(&ready, NULL, 2);
        pthread_barrier_init(&done, NULL, 2);
        if (pthread_create(&t, NULL, stack_owner, NULL) != 0) tu_die("misuse", "pthread_create");
        pthread_barrier_wait(&ready);
        free_it(other_stack);
    } else if (strcmp(shape, "unmapped") == 0) {
        /* A page mapped and unmapped again: nothing is there now, nor near
         * any block. */
        long page = sysconf(_SC_PAGESIZE);
        char *m = mmap(NULL, (size_t)page * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (m == MAP_FAILED) tu_die("misuse", "mmap failed");
        munmap(m, (size_t)page * 3);
        free_it(m + page + 16);
    } else if (strcmp(shape, "one") == 0) {
        free_it((void *)1);
    } else if (strcmp(shape, "key-in-data") == 0) {
        key_in_data();
        return 0;
    } else if (strcmp(shape, "pool-reused") == 0) {
        pool_reused();
        return 0;
    } else {
        fprintf(stderr, "misuse: unknown shape '%s'\n", shape);
        return 2;
    }
    puts("returned");
    return 0;
}
