/* cache_parked.c — full thread caches set aside whole (heap.c, "Full caches
 * set aside"), with the allocator called directly so that the heap can be
 * looked at:
 *
 *   reuse     a thread that frees a run of blocks many caches long and
 *             then allocates as many again sets its full caches aside and
 *             takes them back: cache_parked counts, the second run carves
 *             no page, every block comes back once, and the stats still
 *             count every block freed;
 *   consumer  a thread that frees blocks of a class it never allocates
 *             sets nothing aside: its flushes return them to their pages;
 *   bound     a class keeps at most tcache_max_bytes aside;
 *   decay     what stays aside for a release delay goes back to its pages
 *             (parked_returned), and the pages it emptied go to the OS
 *             layer;
 *   twice     a block freed again while it waits on a list set aside is
 *             found when the lists are taken back: the program ends with
 *             "double free of" that block;
 *   wild      a write after free into the words that link the lists ends
 *             the program with a message that names the block, never a
 *             crash inside hakmem.
 *
 * Usage: HAKMEM_RELEASE_DELAY_MS=50 HAKMEM_PURGE_THREAD=0 cache_parked */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define die(...) tu_die("cache_parked", __VA_ARGS__)

enum { N = 20000, SIZE = 64 };
static void *blocks[N];

static hak_heap_t *heap(void) {
    hak_heap_t *h = hak_tls_heap;
    if (h->kind != HAK_HEAP_REAL) die("the thread has no heap of its own");
    return h;
}

static uint64_t stat_of(hak_heap_t *h, hak_stat_id_t id) {
    return hak_counter_get(&h->stats[id]);
}

static void alloc_all(void **p, int n, size_t size) {
    for (int i = 0; i < n; i++)
        if ((p[i] = hak_alloc(size)) == NULL) die("hak_alloc(%zu) failed", size);
}

static void free_all(void **p, int n) {
    for (int i = 0; i < n; i++) hak_free(p[i]);
}

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Small blocks allocated less blocks freed, from the stats of all heaps. */
static int64_t small_live(void) {
    uint64_t s[HAK_STAT_COUNT] = {0};
    hak_heaps_sum(s);
    return (int64_t)(s[HAK_S_tiny_alloc] + s[HAK_S_mid_alloc]) -
           (int64_t)(s[HAK_S_tiny_free] + s[HAK_S_mid_free]);
}

/* Rounds of N allocations and N frees, until the class's cache is at its
 * bound and has run empty since: the state in which it sets aside. */
static void warm(void) {
    for (int r = 0; r < 4; r++) {
        alloc_all(blocks, N, SIZE);
        free_all(blocks, N);
    }
}

static void test_reuse(void) {
    unsigned cls = hak_class_of_size(SIZE);
    warm();
    hak_heap_t *h = heap();
    alloc_all(blocks, N, SIZE);
    for (int i = 0; i < N; i++) memset(blocks[i], i & 0xff, SIZE);
    int64_t live0 = small_live();
    uint64_t parked0 = stat_of(h, HAK_S_cache_parked);
    free_all(blocks, N);
    uint64_t lists = stat_of(h, HAK_S_cache_parked) - parked0;
    uint32_t limit = hak_tc_limit(h, cls);
    if (lists < (uint64_t)N / limit - 1)
        die("%d frees with a full cache of %u blocks set aside %llu lists, expected %d or more", N,
            limit, (unsigned long long)lists, N / (int)limit - 1);
    if (h->parked[cls] == 0 || h->park[cls] == NULL) die("nothing is set aside after the frees");
    if (small_live() != live0 - N)
        die("the stats count %lld small blocks live after %d were freed, %lld before",
            (long long)small_live(), N, (long long)live0);

    static void *again[N];
    uint64_t carved = stat_of(h, HAK_S_page_new);
    alloc_all(again, N, SIZE);
    if (stat_of(h, HAK_S_page_new) != carved)
        die("the second run carved %llu fresh pages with %u blocks set aside",
            (unsigned long long)(stat_of(h, HAK_S_page_new) - carved), h->parked[cls]);
    /* Every block of the second run is one of the first, and none twice. */
    qsort(blocks, N, sizeof *blocks, cmp_ptr);
    qsort(again, N, sizeof *again, cmp_ptr);
    for (int i = 0; i < N; i++)
        if (again[i] != blocks[i])
            die("block %d of the second run, %p, is not the first run's %p", i, again[i],
                blocks[i]);
    memcpy(blocks, again, sizeof again);
    free_all(blocks, N);
    printf("reuse: %llu lists of up to %u blocks set aside and taken back\n",
           (unsigned long long)lists, limit);
}

/* ---- consumer --------------------------------------------------------- */

static void *consume(void *arg) {
    (void)arg;
    hak_free(hak_alloc(16)); /* a heap of its own, no block of SIZE */
    hak_heap_t *h = heap();
    free_all(blocks, N);
    if (stat_of(h, HAK_S_cache_parked) != 0)
        die("a thread that never allocated the class set %llu lists aside",
            (unsigned long long)stat_of(h, HAK_S_cache_parked));
    return NULL;
}

static void test_consumer(void) {
    alloc_all(blocks, N, SIZE);
    pthread_t t;
    if (pthread_create(&t, NULL, consume, NULL) != 0 || pthread_join(t, NULL) != 0)
        die("pthread_create or pthread_join failed");
    printf("consumer: nothing set aside\n");
}

/* ---- bound ------------------------------------------------------------ */

static void test_bound(void) {
    unsigned cls = hak_class_of_size(SIZE);
    long long max = hak_knob(TCACHE_MAX_BYTES);
    hak_knob_value[HAK_K_TCACHE_MAX_BYTES] = 256 * 1024;
    warm();
    hak_heap_t *h = heap();
    alloc_all(blocks, N, SIZE);
    free_all(blocks, N);
    uint64_t aside = (uint64_t)h->parked[cls] * SIZE;
    hak_knob_value[HAK_K_TCACHE_MAX_BYTES] = max;
    if (aside > 256 * 1024)
        die("%llu bytes set aside with tcache_max_bytes at 256 KiB", (unsigned long long)aside);
    if (aside == 0) die("nothing set aside under a bound of 256 KiB");
    printf("bound: %llu bytes aside of 256 KiB\n", (unsigned long long)aside);
}

/* ---- decay ------------------------------------------------------------ */

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

static void test_decay(void) {
    unsigned cls = hak_class_of_size(SIZE);
    warm();
    hak_heap_t *h = heap();
    alloc_all(blocks, N, SIZE);
    free_all(blocks, N);
    uint32_t aside = h->parked[cls];
    if (aside == 0) die("nothing set aside before the decay");
    uint64_t returned = stat_of(h, HAK_S_parked_returned);
    uint64_t released = atomic_load(&hak_global_stats[HAK_S_page_released]);
    long delay = hak_knob(RELEASE_DELAY_MS);
    /* Slow paths of another class, a release delay apart, are when the
     * heap looks: the first look sees what is aside, the next gives back
     * what stayed. */
    static void *other[2000];
    int looks = 0;
    for (; looks < 40 && h->parked[cls] != 0; looks++) {
        sleep_ms(delay / 2 + 1);
        alloc_all(other, 2000, 256);
        free_all(other, 2000);
    }
    if (h->parked[cls] != 0)
        die("%u of %u blocks are still aside after %d half release delays of no use",
            h->parked[cls], aside, looks);
    if (stat_of(h, HAK_S_parked_returned) - returned < aside)
        die("parked_returned counted %llu blocks, %u were aside",
            (unsigned long long)(stat_of(h, HAK_S_parked_returned) - returned), aside);
    if (atomic_load(&hak_global_stats[HAK_S_page_released]) == released)
        die("%u blocks went back to their pages, and no page emptied", aside);
    printf("decay: %u blocks back to their pages, %llu pages released\n", aside,
           (unsigned long long)(atomic_load(&hak_global_stats[HAK_S_page_released]) - released));
}

/* ---- twice and wild: in a child, whose message is checked ------------- */

/* Runs fn(arg) in a child, which must end by SIGABRT with `want` in its
 * message. */
static void expect_abort(const char *name, void (*fn)(hak_block_t *), hak_block_t *arg,
                         const char *want) {
    int fd[2];
    if (pipe(fd) != 0) die("pipe failed");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fd[1]);
    char msg[1024];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof msg - 1 && (r = read(fd[0], msg + len, sizeof msg - 1 - len)) > 0)
        len += (size_t)r;
    msg[len] = 0;
    close(fd[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid) die("waitpid failed");
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        die("%s: the child ended with status %#x, not SIGABRT; it said: %s", name, status, msg);
    if (strstr(msg, want) == NULL) die("%s: the message lacks \"%s\": %s", name, want, msg);
    printf("%s: %s", name, msg);
}

/* The last list set aside for SIZE: its head block. */
static hak_block_t *set_aside(void) {
    warm();
    alloc_all(blocks, N, SIZE);
    free_all(blocks, N);
    hak_block_t *top = heap()->park[hak_class_of_size(SIZE)];
    if (top == NULL) die("nothing set aside");
    return top;
}

static void free_again(hak_block_t *b) {
    hak_free(b);
    alloc_all(blocks, N, SIZE); /* takes every list back */
}

static void write_link(hak_block_t *top) {
    ((uintptr_t *)top)[2] = 0x1234567; /* the link to the list below */
    alloc_all(blocks, N, SIZE);
}

static void test_twice_and_wild(void) {
    hak_block_t *top = set_aside();
    hak_block_t *b = top->next->next; /* on the list, not its head */
    char want[64];
    snprintf(want, sizeof want, "double free of %p", (void *)b);
    expect_abort("twice", free_again, b, want);
    snprintf(want, sizeof want, "%p, or a write to it after free", (void *)top);
    expect_abort("wild", write_link, top, want);
}

int main(void) {
    if (hak_knob(RELEASE_DELAY_MS) == 0) die("run with HAKMEM_RELEASE_DELAY_MS=50");
    if (!hak_init()) die("hak_init failed");
    test_reuse();
    test_consumer();
    test_bound();
    test_decay();
    test_twice_and_wild();
    printf("cache_parked: ok\n");
    return 0;
}
