/* core_unit.c — the allocator called directly (hak_alloc, hak_free,
 * hak_alloc_zeroed, hak_alloc_aligned, hak_realloc, hak_usable_size), with
 * no interposition: the process keeps the C library's malloc, or a
 * sanitizer's. That is what lets the allocator's own sources be built with
 * AddressSanitizer, UndefinedBehaviorSanitizer or ThreadSanitizer (see
 * CMakeLists.txt): the sanitizers then check hakmem's code, while this
 * program checks what hakmem hands out against a shadow record of every
 * live block (alignment, usable size, no overlap, contents kept, zeroing).
 *
 * Usage: core_unit [single|threads|all] [scale=1] [no-mremap]
 *   single   every size and alignment, realloc across tiers, zeroing,
 *            errors, counters
 *   threads  blocks passed between threads and freed there, threads that
 *            exit while others still hold their blocks, stats read while
 *            others allocate
 * scale multiplies the amount of work of the threaded part. no-mremap keeps
 * the threaded part's reallocs off the large-to-large path, which moves
 * blocks with mremap: ThreadSanitizer does not intercept mremap, so when
 * the kernel gives a moved block's old addresses to another thread's next
 * mapping it reports the two threads' accesses as a race, although the
 * kernel orders them. */
#ifndef _GNU_SOURCE /* the sanitizer builds pass the allocator's own -D flags */
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "FAIL core_unit: %s\n", buf);
    fflush(stderr);
    _exit(1);
}

static uint64_t rnd(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Small sizes dominate, as in real programs, and every tier is reached. */
static size_t rnd_size(uint64_t *s, size_t max) {
    unsigned bits = (unsigned)(rnd(s) % 23); /* up to 4 MiB */
    size_t n = (size_t)(rnd(s) & (((size_t)2 << bits) - 1));
    return n <= max ? n : n % (max + 1);
}

/* ---- the shadow record of a block ---------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t n;       /* requested */
    size_t usable;  /* what hak_usable_size promised when it was handed out */
    size_t stamped; /* the usable size when the pattern was written */
    uint32_t seed;
} blk_t;

static unsigned char pat(uint32_t seed, size_t i) {
    return (unsigned char)(seed + i * 7u + (i >> 8) * 13u);
}

/* The next byte to write or check: every one of the first 1 KiB and of
 * the last 64 bytes, then a sample, so that multi-megabyte blocks stay
 * cheap under ThreadSanitizer (the single-threaded part checks overlaps
 * exactly, with check_disjoint). */
static size_t next_byte(size_t i, size_t n) {
    return i < KiB || i + 64 >= n ? i + 1 : i + 61;
}

/* Every usable byte is written, not only the requested ones: the usable
 * size is a promise, and a block handed out twice or overlapping another
 * shows up as a mismatch in one of them. */
static void stamp(blk_t *b, uint32_t seed) {
    b->seed = seed;
    b->stamped = b->usable;
    for (size_t i = 0; i < b->usable; i = next_byte(i, b->usable)) b->p[i] = pat(seed, i);
}

/* Checks the pattern up to `upto` (after realloc: the bytes both sizes
 * share), at the bytes stamp() wrote. */
static void verify(const blk_t *b, size_t upto, const char *when) {
    if (upto > b->stamped) upto = b->stamped;
    for (size_t i = 0; i < upto; i = next_byte(i, b->stamped))
        if (b->p[i] != pat(b->seed, i))
            die("%s: block %p (%zu bytes, usable %zu): byte %zu is %#x, want %#x", when,
                (void *)b->p, b->n, b->usable, i, b->p[i], pat(b->seed, i));
}

/* What every block the allocator hands out must satisfy. */
static void accept(blk_t *b, void *p, size_t n, size_t align, const char *what) {
    if (p == NULL) die("%s(%zu) returned NULL (errno %d)", what, n, errno);
    if ((uintptr_t)p % align != 0) die("%s(%zu) = %p: not %zu-aligned", what, n, p, align);
    if (hak_registry_get(p) == 0) die("%s(%zu) = %p: not in the registry", what, n, p);
    size_t u = hak_usable_size(p);
    if (u < n) die("%s(%zu) = %p: usable size %zu", what, n, p, u);
    b->p = p;
    b->n = n;
    b->usable = u;
}

static int by_address(const void *a, const void *b) {
    const blk_t *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

/* Live blocks never share a byte (sorts the array). */
static void check_disjoint(blk_t *v, size_t n) {
    qsort(v, n, sizeof *v, by_address);
    for (size_t i = 1; i < n; i++)
        if (v[i - 1].p + v[i - 1].usable > v[i].p)
            die("live blocks overlap: %p+%zu and %p+%zu", (void *)v[i - 1].p, v[i - 1].usable,
                (void *)v[i].p, v[i].usable);
}

static long long stat_of(const char *name) {
    long long v = hak_stat(name);
    if (v < 0) die("no counter named %s", name);
    return v;
}

/* Every block handed out has been freed: each tier's counts agree. */
static void check_balanced(const char *when) {
    static const char *const tiers[] = {"tiny", "mid", "large"};
    for (int t = 0; t < 3; t++) {
        char a[32], f[32];
        snprintf(a, sizeof a, "%s_alloc", tiers[t]);
        snprintf(f, sizeof f, "%s_free", tiers[t]);
        long long na = stat_of(a), nf = stat_of(f);
        if (na != nf) die("%s: %s = %lld but %s = %lld", when, a, na, f, nf);
    }
}

/* ---- single thread -------------------------------------------------------- */

static void test_sizes(void) {
    enum { MAXLIVE = 6000 };
    static blk_t live[MAXLIVE];
    size_t nlive = 0;
    uint32_t seed = 1;
    /* Every size up to 4 KiB, then steps through the mid tier and beyond. */
    for (size_t n = 0; n <= 70000; n += n < 4096 ? 1 : 61) {
        if (nlive == MAXLIVE) die("too many sizes");
        accept(&live[nlive], hak_alloc(n), n, HAK_MIN_ALIGN, "hak_alloc");
        stamp(&live[nlive], seed++);
        nlive++;
    }
    static const size_t big[] = {100 * KiB, 256 * KiB - 1, MiB, 4 * MiB + 1};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        accept(&live[nlive], hak_alloc(big[i]), big[i], HAK_MIN_ALIGN, "hak_alloc");
        stamp(&live[nlive], seed++);
        nlive++;
    }
    check_disjoint(live, nlive);
    for (size_t i = 0; i < nlive; i++) verify(&live[i], SIZE_MAX, "before free");
    for (size_t i = 0; i < nlive; i++) hak_free(live[i].p);
}

static void test_aligned(void) {
    enum { MAXLIVE = 512 };
    static blk_t live[MAXLIVE];
    size_t nlive = 0;
    static const size_t sizes[] = {0, 1, 16, 100, 1000, 4096, 5000, 32768, 40000, 300 * KiB};
    for (size_t align = 16; align <= MiB; align *= 2) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            if (nlive == MAXLIVE) die("too many aligned blocks");
            accept(&live[nlive], hak_alloc_aligned(sizes[i], align), sizes[i], align,
                   "hak_alloc_aligned");
            stamp(&live[nlive], (uint32_t)(align + i));
            nlive++;
        }
    }
    check_disjoint(live, nlive);
    for (size_t i = 0; i < nlive; i++) {
        verify(&live[i], SIZE_MAX, "aligned, before free");
        hak_free(live[i].p);
    }
}

/* Zeroed memory is zero even when the block, or its large span, was used
 * and dirtied before. */
static void test_zeroed(void) {
    static const size_t sizes[] = {1, 16, 48, 1000, 1024, 5000, 32768, 40000, 200 * KiB, 3 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        for (int round = 0; round < 3; round++) {
            blk_t dirty;
            accept(&dirty, hak_alloc(n), n, HAK_MIN_ALIGN, "hak_alloc");
            memset(dirty.p, 0xff, dirty.usable);
            hak_free(dirty.p);
            blk_t z;
            accept(&z, hak_alloc_zeroed(n), n, HAK_MIN_ALIGN, "hak_alloc_zeroed");
            for (size_t k = 0; k < n; k++)
                if (z.p[k] != 0) die("hak_alloc_zeroed(%zu): byte %zu is %#x", n, k, z.p[k]);
            hak_free(z.p);
        }
    }
}

/* realloc keeps the bytes both sizes share, across every tier boundary, in
 * both directions. */
static void test_realloc(void) {
    static const size_t steps[] = {1,     16,      17,        1024,      1025,        5000,
                                   32768, 32769,   200 * KiB, 3 * MiB,   3 * MiB + 1, 8 * MiB,
                                   MiB,   40000,   32768,     4000,      1000,        24,
                                   8,     1 * MiB, 100 * KiB, 128 * KiB, 16};
    blk_t b;
    accept(&b, hak_realloc(NULL, steps[0]), steps[0], HAK_MIN_ALIGN, "hak_realloc(NULL)");
    stamp(&b, 99);
    for (size_t i = 1; i < sizeof steps / sizeof steps[0]; i++) {
        blk_t old = b;
        size_t n = steps[i];
        void *q = hak_realloc(b.p, n);
        accept(&b, q, n, HAK_MIN_ALIGN, "hak_realloc");
        b.seed = old.seed;
        b.stamped = old.stamped;
        verify(&b, old.usable < n ? old.usable : n, "after realloc");
        stamp(&b, (uint32_t)(100 + i));
    }
    if (hak_realloc(b.p, 0) != NULL) die("hak_realloc(p, 0) did not return NULL");
    check_balanced("after realloc(p, 0)");
}

/* Requests that cannot be met fail with ENOMEM and change nothing. */
static void test_errors(void) {
    errno = 0;
    if (hak_alloc(SIZE_MAX) != NULL || errno != ENOMEM) die("hak_alloc(SIZE_MAX) did not fail");
    errno = 0;
    if (hak_alloc_zeroed(SIZE_MAX / 2) != NULL || errno != ENOMEM)
        die("hak_alloc_zeroed(SIZE_MAX / 2) did not fail");
    errno = 0;
    if (hak_alloc_aligned((size_t)PTRDIFF_MAX, 64) != NULL || errno != ENOMEM)
        die("hak_alloc_aligned(PTRDIFF_MAX, 64) did not fail");
    static const size_t sizes[] = {16, 5000, 200 * KiB};
    for (size_t i = 0; i < 3; i++) {
        blk_t b;
        accept(&b, hak_alloc(sizes[i]), sizes[i], HAK_MIN_ALIGN, "hak_alloc");
        stamp(&b, 7);
        errno = 0;
        if (hak_realloc(b.p, SIZE_MAX - 4096) != NULL || errno != ENOMEM)
            die("hak_realloc(%zu-byte block, SIZE_MAX - 4096) did not fail", sizes[i]);
        verify(&b, SIZE_MAX, "after a failed realloc");
        hak_free(b.p);
    }
    /* Not ours: the stack, and the process's own malloc (which hak_free
     * hands back to the C library: unsafe under a sanitizer, so only
     * looked up). */
    int local;
    void *theirs = malloc(64);
    if (hak_registry_get(&local) != 0) die("a stack address is in the registry");
    if (hak_registry_get(theirs) != 0) die("a block of the process's malloc is in the registry");
    free(theirs);
    hak_free(NULL);
}

/* Until the mid tier opens, a request above 8 KiB is a large span with no
 * granule of slack, even when cut from a longer cached span; the request
 * that makes mid_open_after of them opens the mid tier, and blocks of
 * both kinds are freed alike. Runs first: later steps open the tier. */
static void test_deferred(void) {
    long long after = hak_knob(MID_OPEN_AFTER), done = stat_of("mid_deferred");
    if (after == 0 || done >= after) {
        printf("core_unit: deferred mid requests not checked (mid_open_after = %lld, %lld "
               "made)\n",
               after, done);
        return;
    }
    uint8_t *big = hak_alloc(60 * KiB);
    if (big == NULL) die("hak_alloc(60 KiB) failed");
    memset(big, 0x5a, 60 * KiB);
    hak_free(big);
    uint8_t *first = hak_alloc(9000);
    if (first == NULL) die("hak_alloc(9000) failed");
    if ((hak_registry_get(first) & HAK_REG_CLASS_MASK) != 0)
        die("a 9000-byte request came from a mid page before the mid tier opened");
    if (hak_usable_size(first) != 3 * HAK_GRANULE)
        die("a 9000-byte block from the large tier holds %zu bytes, not 3 granules",
            hak_usable_size(first));
    if (stat_of("mid_deferred") != done + 1) die("mid_deferred did not count a deferred request");
    for (long long k = done + 1; k < after; k++) {
        void *p = hak_alloc(12000);
        if (p == NULL || (hak_registry_get(p) & HAK_REG_CLASS_MASK) != 0)
            die("request %lld of 12000 bytes, before the mid tier opened: %s", k,
                p == NULL ? "failed" : "from a mid page");
        hak_free(p);
    }
    uint8_t *mid = hak_alloc(12000);
    if (mid == NULL || (hak_registry_get(mid) & HAK_REG_CLASS_MASK) == 0)
        die("a 12000-byte request after %lld deferred ones did not come from a mid page", after);
    if (stat_of("mid_deferred") != after)
        die("mid_deferred = %lld after the mid tier opened at %lld", stat_of("mid_deferred"),
            after);
    hak_free(first);
    hak_free(mid);
}

/* A cached span older than release_delay_ms is unmapped on the heaps' slow
 * paths too, not only when another large block is freed: with deferred
 * mid-size frees filling the span cache, a program that stops freeing
 * large blocks would otherwise keep them committed for good. */
static void test_large_expire(void) {
    long long saved = hak_knob(RELEASE_DELAY_MS);
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 0;
    uint8_t *p = hak_alloc(200 * KiB);
    if (p == NULL) die("hak_alloc(200 KiB) failed");
    memset(p, 1, 200 * KiB);
    hak_free(p);
    if (hak_registry_get(p) == 0) die("a freed 200 KiB span was unmapped at once, not cached");
    usleep(2000);
    enum { N = 4096 };
    static void *blk[N];
    bool gone = false;
    for (int round = 0; round < 64 && !gone; round++) {
        for (int i = 0; i < N; i++)
            if ((blk[i] = hak_alloc(48)) == NULL) die("hak_alloc(48) failed");
        for (int i = 0; i < N; i++) hak_free(blk[i]);
        gone = hak_registry_get(p) == 0;
    }
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = saved;
    if (!gone)
        die("a cached span past release_delay_ms = 0 stayed mapped through 64 rounds of "
            "small allocations and frees");
}

/* Retention's clock (internal.h): what a tier kept goes back one delay
 * after the program's last call into it, and waits HAK_ACTIVE_SCALE delays
 * while the program still calls it (at least 2); a peak bounds what is
 * kept for as long.
 * Times are made up (hak_retain_t is plain data), so nothing here waits. */
static void test_retention(void) {
    hak_retain_t r;
    memset(&r, 0, sizeof r);
    const uint64_t s = 1000000, t = 100 * s;
    uint64_t d = hak_retain_delay(&r);
    if (d == 0) die("the release delay is 0 (run without HAKMEM_RELEASE_DELAY_MS)");
    hak_retain_active(&r, t);
    /* Freed at t, the program's last call: idle from t + d on. */
    if (hak_retain_past(&r, t, t + d / 2))
        die("memory freed %llu us ago went back within the delay", (unsigned long long)(d / 2));
    if (!hak_retain_past(&r, t, t + d + d / 2))
        die("memory freed at the program's last call was kept %llu us after it, past the "
            "delay of %llu us",
            (unsigned long long)(d + d / 2), (unsigned long long)d);
    /* Still called: kept up to HAK_ACTIVE_SCALE delays. */
    uint64_t now = t + 2 * d;
    hak_retain_active(&r, now - d / 2);
    if (hak_retain_past(&r, t, now))
        die("memory unused for 2 delays went back while the program still called the tier");
    now = t + (HAK_ACTIVE_SCALE + 1) * d;
    hak_retain_active(&r, now - d / 2);
    if (!hak_retain_past(&r, t, now))
        die("memory unused for %d delays was kept: the active limit is %d", HAK_ACTIVE_SCALE + 1,
            HAK_ACTIVE_SCALE);
    /* The peak of a burst still bounds what is kept 2 delays later, after
     * a smaller one. */
    memset(&r, 0, sizeof r);
    hak_retain_note(&r, 1000, t);
    hak_retain_note(&r, 0, t + 1);
    hak_retain_note(&r, 10, t + 2 * d);
    if (hak_retain_cap(0, &r, 10) < 990)
        die("2 delays after a peak of 1000, with 10 in use, the tier may keep %llu, not 990",
            (unsigned long long)hak_retain_cap(0, &r, 10));
}

/* The page pool serves the large tier too (hak_os_take_run), so a program
 * that calls only the large tier is still using the pool: its pages wait
 * HAK_ACTIVE_SCALE delays, not one (redis: LPUSH of 64 KiB values faulted
 * in 400 MB afresh after SET and GET had called only the large tier for two
 * seconds). Once the program stops calling, they go after one delay. Real
 * time, with a delay long enough that a stall of the loaded machine between
 * two calls does not decide it. */
static void test_pool_large_calls(void) {
    /* Only reserve mode's pooled pages serve the large tier. */
    if ((hak_align_mode_t)hak_knob(ALIGN_MODE) != HAK_ALIGN_RESERVE) return;
    long long saved = hak_knob(RELEASE_DELAY_MS);
    const uint64_t d = 300000;
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = (long long)(d / 1000);
    enum { N = 4096 };
    static void *blk[N];
    for (int i = 0; i < N; i++)
        if ((blk[i] = hak_alloc(1000)) == NULL) die("hak_alloc(1000) failed");
    /* Read before any page reaches the pool: no page is older than this,
     * whatever stalls come between. */
    uint64_t start = hak_now_us(), now;
    for (int i = 0; i < N; i++) hak_free(blk[i]);
    if (!hak_os_kept()) die("no page reached the pool after %d blocks of 1000 bytes were freed", N);
    while ((now = hak_now_us()) - start < 2 * d + d / 3) {
        void *p = hak_alloc(200 * KiB);
        if (p == NULL) die("hak_alloc(200 KiB) failed");
        hak_free(p);
        hak_os_expire(now);
        usleep(1000);
    }
    if (!hak_os_kept())
        die("pooled pages went back within %llu ms while the program called the large tier every "
            "millisecond: they may wait %d delays of %llu ms",
            (unsigned long long)((now - start) / 1000), HAK_ACTIVE_SCALE,
            (unsigned long long)(d / 1000));
    usleep((useconds_t)(d + d / 2));
    hak_os_expire(hak_now_us());
    bool kept = hak_os_kept();
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = saved;
    if (kept)
        die("pooled pages stayed %llu ms after the program's last call, past the delay of %llu ms",
            (unsigned long long)((d + d / 2) / 1000), (unsigned long long)(d / 1000));
}

/* The free fast path's block-start test (one multiply by a reciprocal)
 * agrees with a division for every class and every offset in a page. */
static void test_block_start(void) {
    for (unsigned c = 1; c <= hak_class_count; c++)
        for (uint32_t n = 0; n < HAK_PAGE_SIZE; n++)
            if (hak_class_starts_block(c, n) != (n % hak_class_size[c] == 0))
                die("class %u (%u bytes): offset %u taken for %s", c, hak_class_size[c], n,
                    n % hak_class_size[c] == 0 ? "an interior pointer" : "a block start");
}

/* The class table: sizes rise in steps of 16 bytes at least, the largest
 * is the largest page block, and above 4 KiB each class is the largest
 * size of which its count of blocks fits a page, so that a page wastes
 * less than 16 bytes a block (sqlite's 4368-byte blocks, 15 a page). */
static void test_classes(void) {
    hak_free(hak_alloc(1)); /* the table is filled at start-up */
    if (hak_class_size[hak_class_count] != HAK_SMALL_LIMIT)
        die("the largest class holds %u bytes, not %u", hak_class_size[hak_class_count],
            (unsigned)HAK_SMALL_LIMIT);
    for (unsigned c = 1; c <= hak_class_count; c++) {
        uint32_t s = hak_class_size[c], prev = c > 1 ? hak_class_size[c - 1] : 0;
        if (s % 16 != 0 || s <= prev) die("class %u: %u bytes after %u", c, s, prev);
        if (s <= 4096) continue;
        uint32_t k = (uint32_t)(HAK_PAGE_SIZE / s);
        if ((s + 16) * k <= HAK_PAGE_SIZE)
            die("class %u (%u bytes): %u blocks a page would fit in %u bytes each", c, s, k,
                s + 16);
        if (prev > 4096 && HAK_PAGE_SIZE / prev != k + 1)
            die("class %u (%u bytes, %u a page) follows %u bytes (%u a page): a count is missing",
                c, s, k, prev, (unsigned)(HAK_PAGE_SIZE / prev));
    }
    unsigned c = hak_class_of[(4368 + 15) >> 4];
    if (c == 0 || hak_class_size[c] != 4368)
        die("a 4368-byte request takes class %u (%u bytes), not the 4368-byte class", c,
            c ? hak_class_size[c] : 0);
}

static void run_single(void) {
    test_pool_large_calls(); /* first: no earlier test's give-back has stretched the delay */
    test_classes();
    test_block_start();
    test_deferred();
    test_large_expire();
    test_retention();
    test_sizes();
    test_aligned();
    test_zeroed();
    test_realloc();
    test_errors();
    check_balanced("single-threaded part");
    printf("core_unit single: ok\n");
}

/* ---- threads ------------------------------------------------------------- */

/* A mailbox of blocks in transit between threads. The mutex orders the
 * sender's writes before the receiver's reads, as any program that passes
 * memory between threads must. */
enum { BOX_CAP = 4096 };
static struct {
    pthread_mutex_t lock;
    blk_t blk[BOX_CAP];
    size_t n;
} box = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool box_put(const blk_t *b) {
    pthread_mutex_lock(&box.lock);
    bool ok = box.n < BOX_CAP;
    if (ok) box.blk[box.n++] = *b;
    pthread_mutex_unlock(&box.lock);
    return ok;
}

static bool box_take(blk_t *out, uint64_t *rng) {
    pthread_mutex_lock(&box.lock);
    bool ok = box.n > 0;
    if (ok) {
        size_t i = (size_t)(rnd(rng) % box.n);
        *out = box.blk[i];
        box.blk[i] = box.blk[--box.n];
    }
    pthread_mutex_unlock(&box.lock);
    return ok;
}

static void release(blk_t *b, const char *when) {
    verify(b, SIZE_MAX, when);
    hak_free(b->p);
}

/* One block of a random size through a random entry point. */
static void make(blk_t *b, uint64_t *rng, size_t max) {
    size_t n = rnd_size(rng, max);
    unsigned kind = (unsigned)(rnd(rng) % 8);
    if (kind == 0) {
        size_t align = (size_t)32 << (rnd(rng) % 12); /* 32 B .. 64 KiB */
        accept(b, hak_alloc_aligned(n, align), n, align, "hak_alloc_aligned");
    } else if (kind == 1) {
        accept(b, hak_alloc_zeroed(n), n, HAK_MIN_ALIGN, "hak_alloc_zeroed");
        for (size_t i = 0; i < n; i = next_byte(i, n))
            if (b->p[i] != 0) die("hak_alloc_zeroed(%zu): byte %zu is %#x", n, i, b->p[i]);
    } else {
        accept(b, hak_alloc(n), n, HAK_MIN_ALIGN, "hak_alloc");
    }
    stamp(b, (uint32_t)rnd(rng));
}

static size_t realloc_max = 256 * KiB;

typedef struct {
    pthread_t tid;
    uint64_t rng;
    long ops;
    blk_t keep[64];
} worker_t;

/* Allocates, sends blocks to others, frees what others sent, reallocates
 * what it received, and leaves with blocks still in the mailbox and in
 * its own hands (main frees those after the thread has exited). */
static void *worker(void *arg) {
    worker_t *w = arg;
    for (size_t i = 0; i < 64; i++) make(&w->keep[i], &w->rng, 64 * KiB);
    for (long k = 0; k < w->ops; k++) {
        blk_t b;
        unsigned r = (unsigned)(rnd(&w->rng) % 10);
        if (r < 4) {
            make(&b, &w->rng, r == 0 ? 4 * MiB : 40 * KiB);
            if (!box_put(&b)) release(&b, "mailbox full");
        } else if (r < 8) {
            if (box_take(&b, &w->rng)) release(&b, "received, before free");
        } else if (r < 9) {
            if (box_take(&b, &w->rng)) {
                verify(&b, SIZE_MAX, "received, before realloc");
                blk_t old = b;
                size_t n = 1 + rnd_size(&w->rng, realloc_max - 1); /* 0 would free it */
                accept(&b, hak_realloc(b.p, n), n, HAK_MIN_ALIGN, "hak_realloc");
                b.seed = old.seed;
                b.stamped = old.stamped;
                verify(&b, old.usable < n ? old.usable : n, "received, after realloc");
                stamp(&b, (uint32_t)rnd(&w->rng));
                if (!box_put(&b)) release(&b, "mailbox full");
            }
        } else {
            size_t i = (size_t)(rnd(&w->rng) % 64);
            release(&w->keep[i], "own block");
            make(&w->keep[i], &w->rng, 64 * KiB);
        }
    }
    return NULL;
}

static _Atomic(int) reader_stop;

/* Reads the counters while the others count: what a monitoring thread of a
 * real program does through hak_stats_json. */
static void *stats_reader(void *arg) {
    (void)arg;
    char buf[4096];
    long reads = 0;
    while (!atomic_load(&reader_stop)) {
        size_t n = hak_stats_json(buf, sizeof buf);
        if (n == 0 || buf[0] != '{') die("hak_stats_json wrote nothing");
        reads++;
        usleep(1000);
    }
    return (void *)(intptr_t)reads;
}

static void run_threads(long scale) {
    enum { WAVES = 12, PER_WAVE = 3 };
    static worker_t w[WAVES * PER_WAVE];
    pthread_t reader;
    if (pthread_create(&reader, NULL, stats_reader, NULL) != 0) die("pthread_create");
    long remote_before = stat_of("remote_free");
    /* Waves of threads: each wave runs while the previous one's blocks are
     * still in the mailbox, so blocks of exited threads are freed by
     * threads that never knew them. */
    for (int wave = 0; wave < WAVES; wave++) {
        for (int i = 0; i < PER_WAVE; i++) {
            worker_t *x = &w[wave * PER_WAVE + i];
            x->rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(wave * PER_WAVE + i + 1) | 1;
            x->ops = 1000 * scale;
            if (pthread_create(&x->tid, NULL, worker, x) != 0) die("pthread_create");
        }
        for (int i = 0; i < PER_WAVE; i++) pthread_join(w[wave * PER_WAVE + i].tid, NULL);
        /* The exited wave's own blocks: freed by main, into pages whose
         * owner is gone. */
        for (int i = 0; i < PER_WAVE; i++)
            for (size_t k = 0; k < 64; k++)
                release(&w[wave * PER_WAVE + i].keep[k], "exited thread's block");
    }
    atomic_store(&reader_stop, 1);
    void *reads;
    pthread_join(reader, &reads);
    uint64_t rng = 1;
    blk_t b;
    size_t left = 0;
    while (box_take(&b, &rng)) {
        release(&b, "left in the mailbox");
        left++;
    }
    check_balanced("threaded part");
    long remote = stat_of("remote_free") - remote_before;
    if (remote == 0) die("no block was freed by another thread than its owner");
    printf("core_unit threads: ok (%d threads, %ld remote frees, %zu blocks outlived their "
           "threads, %ld stats reads)\n",
           WAVES * PER_WAVE, remote, left, (long)(intptr_t)reads);
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "all";
    long scale = argc > 2 ? atol(argv[2]) : 1;
    if (scale < 1) scale = 1;
    if (argc > 3 && strcmp(argv[3], "no-mremap") == 0) realloc_max = HAK_SMALL_LIMIT;
    bool single = strcmp(what, "single") == 0 || strcmp(what, "all") == 0;
    bool threads = strcmp(what, "threads") == 0 || strcmp(what, "all") == 0;
    if (!single && !threads) {
        fprintf(stderr, "usage: core_unit [single|threads|all] [scale]\n");
        return 2;
    }
    if (single) run_single();
    if (threads) run_threads(scale);
    return 0;
}
