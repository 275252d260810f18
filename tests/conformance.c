/* conformance.c — the glibc semantics a malloc replacement must keep, one
 * named rule each: what programs written against glibc silently rely on
 * (unique malloc(0), errno after free, ENOMEM on overflow, zeroed calloc,
 * alignment, usable sizes, realloc across tiers).
 *
 * Runs under any allocator. When hakmem is loaded (preloaded or linked),
 * rules about which blocks hakmem serves are checked too, following the
 * HAKMEM_WRAP_* settings in the environment. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define KiB ((size_t)1024)
#define MiB (KiB * KiB)

static const char *g_rule;
static int g_rule_failures;
static int g_passed, g_failed;
static tu_is_ours_fn g_is_ours;
static size_t g_page;

/* Only the first few failures of a rule are printed: one broken invariant
 * tends to fail for every size in a sweep. */
__attribute__((format(printf, 3, 4))) static bool expect_at(int line, bool ok, const char *fmt,
                                                            ...) {
    if (ok) return true;
    if (g_rule_failures++ < 8) {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL [%s] line %d: ", g_rule, line);
        vprintf(fmt, ap);
        putchar('\n');
        va_end(ap);
        fflush(stdout);
    }
    return false;
}
#define EXPECT(cond, ...) expect_at(__LINE__, (cond), __VA_ARGS__)

static void run_rule(const char *name, void (*fn)(void)) {
    g_rule = name;
    g_rule_failures = 0;
    fn();
    if (g_rule_failures) {
        printf("FAIL %s (%d failed checks)\n", name, g_rule_failures);
        g_failed++;
    } else {
        printf("ok   %s\n", name);
        g_passed++;
    }
    fflush(stdout);
}

/* A failed realloc leaves the block valid and the tests go on using it, which
 * gcc's -Wuse-after-free cannot know; the old pointer is laundered so the
 * warning has nothing to track. */
static void *try_realloc(void *p, size_t n) {
    return realloc(tu_launder(p), n);
}
static void *try_reallocarray(void *p, size_t k, size_t n) {
    return reallocarray(tu_launder(p), k, n);
}

static void errno_set(int v) {
    errno = v;
    tu_clobber();
}

static int errno_now(void) {
    tu_clobber();
    return errno;
}

static bool aligned_to(const void *p, size_t a) {
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* Position- and salt-dependent, so a block copied to the wrong offset or
 * confused with another block does not verify. */
static unsigned char pat(size_t i, unsigned salt) {
    return (unsigned char)(i * 131u + (i >> 8) * 7u + salt * 29u + 1u);
}

static void fill(void *p, size_t n, unsigned salt) {
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[i] = pat(i, salt);
}

/* Returns the first bad offset, or n when all match. */
static size_t verify(const void *p, size_t n, unsigned salt) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pat(i, salt)) return i;
    return n;
}

static size_t first_nonzero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return i;
    return n;
}

/* Sizes on both sides of every tier boundary and of glibc's mmap threshold,
 * up to 2 MiB. */
static size_t g_sizes[512];
static size_t g_nsizes;

static void add_size(size_t n) {
    for (size_t i = 0; i < g_nsizes; i++)
        if (g_sizes[i] == n) return;
    if (g_nsizes < sizeof g_sizes / sizeof g_sizes[0]) g_sizes[g_nsizes++] = n;
}

static void build_sizes(void) {
    for (size_t n = 0; n <= 64; n++) add_size(n);
    for (size_t n = 72; n <= TU_TINY_MAX + 64; n += 40) add_size(n);
    for (size_t p = 128; p <= 2 * MiB; p *= 2) {
        add_size(p - 1);
        add_size(p);
        add_size(p + 1);
        add_size(p + p / 2);
    }
    add_size(TU_TINY_MAX);
    add_size(TU_TINY_MAX + 1);
    add_size(TU_MID_MAX);
    add_size(TU_MID_MAX + 1);
    add_size(3000);
    add_size(5000);
    add_size(200000);
}

/* ---- basic entry points ------------------------------------------------ */

static void rule_malloc_zero(void) {
    enum { N = 64 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = tu_launder(malloc(0));
        EXPECT(p[i] != NULL, "malloc(0) #%d returned NULL", i);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            EXPECT(p[i] == NULL || p[i] != p[j], "malloc(0) returned %p twice", p[i]);
    for (int i = 0; i < N; i++) free(p[i]);
}

static void rule_calloc_zero(void) {
    void *a = tu_launder(calloc(0, 0));
    void *b = tu_launder(calloc(0, 16));
    void *c = tu_launder(calloc(16, 0));
    EXPECT(a && b && c, "calloc with a zero argument returned NULL (%p %p %p)", a, b, c);
    EXPECT(a != b && b != c && a != c, "calloc zero-size results not unique: %p %p %p", a, b, c);
    free(a);
    free(b);
    free(c);
}

static void rule_free_null(void) {
    errno_set(0);
    free(NULL);
    EXPECT(errno_now() == 0, "free(NULL) changed errno to %d", errno);
    /* The allocator must still work after a NULL free at any point. */
    void *p = tu_launder(malloc(32));
    EXPECT(p != NULL, "malloc after free(NULL) failed");
    free(p);
    free(NULL);
}

static void rule_free_errno(void) {
    static const size_t sizes[] = {0, 16, 100, 1024, 5000, 32768, 200000, 4 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = tu_launder(malloc(sizes[i]));
        if (!EXPECT(p != NULL, "malloc(%zu) failed", sizes[i])) continue;
        memset(p, 1, sizes[i]);
        errno_set(4242);
        free(p);
        EXPECT(errno_now() == 4242, "free of a %zu-byte block changed errno to %d", sizes[i],
               errno);
    }
    static const size_t aligns[] = {64, 4096, 65536, 2 * MiB};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        void *p = tu_launder(memalign(aligns[i], 3000));
        if (!EXPECT(p != NULL, "memalign(%zu, 3000) failed", aligns[i])) continue;
        errno_set(4243);
        free(p);
        EXPECT(errno_now() == 4243, "free of a %zu-aligned block changed errno to %d", aligns[i],
               errno);
    }
}

static void rule_realloc_null(void) {
    static const size_t sizes[] = {0, 1, 100, 5000, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *p = tu_launder(realloc(NULL, n));
        if (!EXPECT(p != NULL, "realloc(NULL, %zu) returned NULL", n)) continue;
        EXPECT(malloc_usable_size(p) >= n, "realloc(NULL, %zu): usable size %zu", n,
               malloc_usable_size(p));
        EXPECT(aligned_to(p, 16), "realloc(NULL, %zu) = %p not 16-byte aligned", n, p);
        fill(p, n, 3);
        EXPECT(verify(p, n, 3) == n, "realloc(NULL, %zu) block not writable", n);
        /* It must be an ordinary block: growable and freeable. */
        void *q = try_realloc(p, n + 100);
        if (EXPECT(q != NULL, "realloc of a realloc(NULL, %zu) block failed", n)) {
            EXPECT(verify(q, n, 3) == n, "contents lost growing a realloc(NULL, %zu) block", n);
            free(q);
        } else {
            free(p);
        }
    }
}

/* Walks a block through the given sizes, checking at each step that the
 * prefix both sizes share survived the move. */
static void realloc_walk(const size_t *sizes, size_t n) {
    unsigned char *p = tu_launder(malloc(sizes[0]));
    if (!EXPECT(p != NULL, "malloc(%zu) failed", sizes[0])) return;
    fill(p, sizes[0], 0);
    for (size_t i = 1; i < n; i++) {
        size_t from = sizes[i - 1], to = sizes[i];
        unsigned char *q = try_realloc(p, to);
        if (!EXPECT(q != NULL, "realloc %zu -> %zu returned NULL", from, to)) {
            free(p);
            return;
        }
        size_t keep = from < to ? from : to;
        size_t bad = verify(q, keep, (unsigned)(i - 1));
        EXPECT(bad == keep, "realloc %zu -> %zu: byte %zu of %zu lost (%p -> %p)", from, to, bad,
               keep, (void *)p, (void *)q);
        EXPECT(malloc_usable_size(q) >= to, "realloc %zu -> %zu: usable size %zu", from, to,
               malloc_usable_size(q));
        EXPECT(aligned_to(q, 16), "realloc %zu -> %zu = %p not 16-byte aligned", from, to,
               (void *)q);
        fill(q, to, (unsigned)i);
        p = q;
    }
    free(p);
}

static void rule_realloc_tiers(void) {
    static const size_t down_up[] = {100, 5000, 200000, 3000, 50};
    static const size_t edges[] = {1,   TU_TINY_MAX, TU_TINY_MAX + 1, TU_MID_MAX, TU_MID_MAX + 1,
                                   MiB, 16,          4 * MiB,         8,          40000,
                                   1000};
    static const size_t jumps[] = {200000, 50, 200000, 5000, 100, 2 * MiB, 7};
    realloc_walk(down_up, sizeof down_up / sizeof down_up[0]);
    realloc_walk(edges, sizeof edges / sizeof edges[0]);
    realloc_walk(jumps, sizeof jumps / sizeof jumps[0]);
}

static void rule_realloc_within_tier(void) {
    static const size_t tiny[] = {24, 40, 24, 100, 1000, 16, 1024};
    static const size_t mid[] = {5000, 6000, 4000, 20000, 32768, 2000};
    static const size_t large[] = {200000, 300000, 150000, 1 * MiB, 40000, 3 * MiB, 100000};
    realloc_walk(tiny, sizeof tiny / sizeof tiny[0]);
    realloc_walk(mid, sizeof mid / sizeof mid[0]);
    realloc_walk(large, sizeof large / sizeof large[0]);
}

static void rule_realloc_aligned(void) {
    static const size_t aligns[] = {32, 256, 4096, 65536, MiB};
    static const size_t sizes[] = {100, 5000, 200000};
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            void *p = NULL;
            int rc = posix_memalign(&p, aligns[a], n);
            if (!EXPECT(rc == 0 && p, "posix_memalign(%zu, %zu) failed: %d", aligns[a], n, rc))
                continue;
            fill(p, n, 9);
            size_t to = n * 3 + 7;
            void *q = try_realloc(p, to);
            if (!EXPECT(q != NULL, "realloc of a %zu-aligned block failed", aligns[a])) {
                free(p);
                continue;
            }
            EXPECT(verify(q, n, 9) == n, "realloc of %zu-aligned %zu-byte block lost contents",
                   aligns[a], n);
            void *r = try_realloc(q, n / 2);
            if (EXPECT(r != NULL, "shrinking realloc failed")) {
                EXPECT(verify(r, n / 2, 9) == n / 2, "shrinking realloc lost contents");
                free(r);
            } else {
                free(q);
            }
        }
}

/* glibc (REALLOC_ZERO_BYTES_FREES) frees the block and returns NULL; C23
 * leaves it undefined, but programs written on glibc rely on it. */
static void rule_realloc_zero(void) {
    static const size_t sizes[] = {1, 100, 5000, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = tu_launder(malloc(sizes[i]));
        if (!EXPECT(p != NULL, "malloc(%zu) failed", sizes[i])) continue;
        memset(p, 7, sizes[i]);
        void *r = realloc(p, tu_hide(0));
        EXPECT(r == NULL, "realloc(%zu-byte block, 0) returned %p, glibc returns NULL", sizes[i],
               r);
        free(r);
    }
}

/* ---- failure paths ----------------------------------------------------- */

static void rule_calloc_overflow(void) {
    static const size_t cases[][2] = {
        {SIZE_MAX, 2},
        {2, SIZE_MAX},
        {(size_t)1 << 32, (size_t)1 << 32},
        {SIZE_MAX / 16 + 1, 16},
        {(SIZE_MAX >> 1) + 1, 2},
        {65537, SIZE_MAX / 65536},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno_set(0);
        void *p = calloc(tu_hide(cases[i][0]), tu_hide(cases[i][1]));
        EXPECT(p == NULL && errno_now() == ENOMEM,
               "calloc(%zu, %zu) = %p errno %d, want NULL/ENOMEM", cases[i][0], cases[i][1], p,
               errno);
        free(p);
    }
}

static void rule_reallocarray(void) {
    errno_set(0);
    void *p = reallocarray(NULL, tu_hide(SIZE_MAX), tu_hide(2));
    EXPECT(p == NULL && errno_now() == ENOMEM, "reallocarray(NULL, SIZE_MAX, 2) = %p errno %d", p,
           errno);
    free(p);

    static const size_t sizes[] = {100, 5000, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *b = tu_launder(malloc(n));
        if (!EXPECT(b != NULL, "malloc(%zu) failed", n)) continue;
        fill(b, n, 5);
        errno_set(0);
        void *r = try_reallocarray(b, tu_hide((size_t)1 << 33), tu_hide((size_t)1 << 33));
        EXPECT(r == NULL && errno_now() == ENOMEM,
               "reallocarray(%zu-byte block, 2^33, 2^33) = %p errno %d", n, r, errno);
        /* On failure the old block stays valid and unchanged. */
        EXPECT(verify(b, n, 5) == n, "failed reallocarray damaged the %zu-byte block", n);
        void *g = try_reallocarray(b, 3, n);
        if (EXPECT(g != NULL, "reallocarray(%zu-byte block, 3, %zu) failed", n, n)) {
            EXPECT(verify(g, n, 5) == n, "reallocarray lost contents of a %zu-byte block", n);
            EXPECT(malloc_usable_size(g) >= 3 * n, "reallocarray: usable %zu < %zu",
                   malloc_usable_size(g), 3 * n);
            free(g);
        } else {
            free(b);
        }
    }
}

static void rule_huge(void) {
    static const size_t huge[] = {SIZE_MAX / 2, (size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - 4096,
                                  (size_t)1 << 62};
    void *keep = tu_launder(malloc(100));
    if (!EXPECT(keep != NULL, "malloc(100) failed")) return;
    fill(keep, 100, 11);
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        size_t n = tu_hide(huge[i]);
        void *p;
#define HUGE_CASE(call)                                                                            \
    do {                                                                                           \
        errno_set(0);                                                                              \
        p = call;                                                                                  \
        EXPECT(p == NULL && errno_now() == ENOMEM,                                                 \
               "%s with n=%#zx = %p errno %d, want NULL/ENOMEM", #call, n, p, errno);              \
        free(p);                                                                                   \
    } while (0)
        HUGE_CASE(malloc(n));
        HUGE_CASE(calloc(1, n));
        HUGE_CASE(calloc(n, 1));
        HUGE_CASE(realloc(NULL, n));
        HUGE_CASE(reallocarray(NULL, n, 1));
        HUGE_CASE(aligned_alloc(64, n));
        HUGE_CASE(memalign(4096, n));
        HUGE_CASE(valloc(n));
        HUGE_CASE(pvalloc(n));
#undef HUGE_CASE
        errno_set(0);
        p = try_realloc(keep, n);
        EXPECT(p == NULL && errno_now() == ENOMEM,
               "realloc(block, %#zx) = %p errno %d, want NULL/ENOMEM", n, p, errno);
        if (p) keep = p; /* the old block is gone; carry on with the new one */
        void *m = &g_rule;
        int rc = posix_memalign(&m, 64, n);
        EXPECT(rc == ENOMEM, "posix_memalign(64, %#zx) returned %d, want ENOMEM", n, rc);
        EXPECT(m == (void *)&g_rule, "failed posix_memalign changed *memptr");
    }
    EXPECT(verify(keep, 100, 11) == 100, "failed realloc damaged the original block");
    free(keep);
}

/* ---- calloc ------------------------------------------------------------ */

/* Blocks are dirtied and freed first so that calloc gets recycled memory,
 * which is where an allocator that skips the memset for "fresh" pages
 * goes wrong. */
static void calloc_reuse(size_t n, int count) {
    void *blk[64];
    for (int i = 0; i < count; i++) {
        blk[i] = tu_launder(malloc(n));
        if (!EXPECT(blk[i] != NULL, "malloc(%zu) failed", n)) return;
        memset(blk[i], 0xA5, malloc_usable_size(blk[i]));
    }
    for (int i = count - 1; i >= 0; i--) free(blk[i]);
    for (int i = 0; i < count; i++) {
        /* Alternate the argument order and split: count*size is what counts. */
        blk[i] = (i % 3 == 0)   ? calloc(1, n)
                 : (i % 3 == 1) ? calloc(n, 1)
                                : calloc(n ? 2 : 0, n / 2 + (n & 1));
        blk[i] = tu_launder(blk[i]);
        if (!EXPECT(blk[i] != NULL, "calloc for %zu bytes failed", n)) continue;
        size_t bad = first_nonzero(blk[i], n);
        EXPECT(bad == n, "calloc for %zu bytes after reuse: byte %zu is %#x", n, bad,
               bad < n ? ((unsigned char *)blk[i])[bad] : 0u);
    }
    for (int i = 0; i < count; i++) free(blk[i]);
}

static void rule_calloc_zeroes(void) {
    for (size_t i = 0; i < g_nsizes; i++) {
        size_t n = g_sizes[i];
        calloc_reuse(n, n <= TU_MID_MAX ? 48 : 4);
    }
    calloc_reuse(4 * MiB, 2);
    calloc_reuse(8 * MiB + 123, 2);
}

/* ---- alignment --------------------------------------------------------- */

static void rule_posix_memalign_einval(void) {
    static const size_t bad[] = {0,
                                 1,
                                 2,
                                 4,
                                 3,
                                 12,
                                 24,
                                 48,
                                 65537,
                                 3 * 4096,
                                 SIZE_MAX,
                                 sizeof(void *) / 2,
                                 sizeof(void *) + 1};
    static int sentinel;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *p = &sentinel;
        int rc = posix_memalign(&p, tu_hide(bad[i]), 64);
        EXPECT(rc == EINVAL, "posix_memalign(alignment %zu) returned %d, want EINVAL", bad[i], rc);
        EXPECT(p == &sentinel, "posix_memalign(alignment %zu) changed *memptr on error", bad[i]);
        if (rc == 0 && p != &sentinel) free(p);
    }
    /* A power of two no mapping can satisfy fails one way or the other, but
     * *memptr is still left alone. */
    void *p = &sentinel;
    int rc = posix_memalign(&p, tu_hide((size_t)1 << 63), 64);
    EXPECT(rc == EINVAL || rc == ENOMEM, "posix_memalign(2^63) returned %d", rc);
    EXPECT(p == &sentinel, "posix_memalign(2^63) changed *memptr on error");
}

enum { AL_POSIX, AL_ALIGNED, AL_MEMALIGN, AL_COUNT };
static const char *const al_name[AL_COUNT] = {"posix_memalign", "aligned_alloc", "memalign"};

static void *alloc_aligned(int how, size_t a, size_t n) {
    void *p = NULL;
    switch (how) {
    case AL_POSIX:
        if (posix_memalign(&p, a, n) != 0) p = NULL;
        break;
    case AL_ALIGNED:
        p = aligned_alloc(a, n);
        break;
    default:
        p = memalign(a, n);
        break;
    }
    return tu_launder(p);
}

/* Several blocks at once, each filled in full, so an aligned block that
 * overhangs its mapping or overlaps a neighbour shows up. */
static void rule_aligned_sizes(void) {
    for (size_t a = 8; a <= 8 * MiB; a *= 2) {
        /* Size 0 too: glibc returns an aligned minimum block, not NULL. */
        const size_t sizes[] = {0, 1, 100, 5000, a, a + 1, 200000};
        for (int how = 0; how < AL_COUNT; how++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                size_t n = sizes[s];
                if (a >= MiB && n == a + 1) continue; /* keep big cases few */
                enum { K = 3 };
                void *p[K];
                for (int k = 0; k < K; k++) {
                    p[k] = alloc_aligned(how, a, n);
                    if (!EXPECT(p[k] != NULL, "%s(%zu, %zu) returned NULL", al_name[how], a, n))
                        continue;
                    EXPECT(aligned_to(p[k], a), "%s(%zu, %zu) = %p misaligned", al_name[how], a, n,
                           p[k]);
                    EXPECT(malloc_usable_size(p[k]) >= n, "%s(%zu, %zu): usable size %zu",
                           al_name[how], a, n, malloc_usable_size(p[k]));
                    fill(p[k], n, (unsigned)k + 20);
                }
                for (int k = 0; k < K; k++)
                    if (p[k])
                        EXPECT(verify(p[k], n, (unsigned)k + 20) == n,
                               "%s(%zu, %zu): block %d overwritten", al_name[how], a, n, k);
                for (int k = 0; k < K; k++) free(p[k]);
            }
    }
}

static void rule_valloc_pvalloc(void) {
    static const size_t sizes[] = {1, 100, 4095, 4096, 4097, 5000, 40000, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        size_t rounded = (n + g_page - 1) / g_page * g_page;
        void *v = tu_launder(valloc(n));
        if (EXPECT(v != NULL, "valloc(%zu) returned NULL", n)) {
            EXPECT(aligned_to(v, g_page), "valloc(%zu) = %p not page aligned", n, v);
            EXPECT(malloc_usable_size(v) >= n, "valloc(%zu): usable %zu", n, malloc_usable_size(v));
            fill(v, n, 13);
            EXPECT(verify(v, n, 13) == n, "valloc(%zu) block not writable", n);
        }
        void *p = tu_launder(pvalloc(n));
        if (EXPECT(p != NULL, "pvalloc(%zu) returned NULL", n)) {
            EXPECT(aligned_to(p, g_page), "pvalloc(%zu) = %p not page aligned", n, p);
            EXPECT(malloc_usable_size(p) >= rounded,
                   "pvalloc(%zu): usable %zu, want >= %zu (rounded to pages)", n,
                   malloc_usable_size(p), rounded);
            /* The rounded-up tail is the caller's to use. */
            fill(p, rounded, 14);
            EXPECT(verify(p, rounded, 14) == rounded, "pvalloc(%zu) tail not writable", n);
        }
        if (v) EXPECT(verify(v, n, 13) == n, "valloc(%zu) block overwritten by pvalloc", n);
        free(v);
        free(p);
    }
}

/* glibc's MALLOC_ALIGNMENT on x86-64 is 16; SSE code (and gcc's
 * vectoriser) relies on it for every block, even 1-byte ones. */
static void rule_align16(void) {
    int failures_before = g_rule_failures;
    for (size_t i = 0; i < g_nsizes && g_rule_failures == failures_before; i++) {
        size_t n = g_sizes[i];
        void *r[10];
        r[0] = malloc(n);
        r[1] = calloc(1, n);
        r[2] = realloc(NULL, n);
        r[3] = reallocarray(NULL, n, 1);
        r[4] = aligned_alloc(8, n);
        r[5] = memalign(8, n);
        if (posix_memalign(&r[6], sizeof(void *), n) != 0) r[6] = NULL;
        r[7] = valloc(n);
        r[8] = pvalloc(n);
        r[9] = malloc(n / 2 + 1);
        void *grown = (r[9] && n) ? realloc(r[9], n) : NULL; /* realloc(p, 0) would free */
        if (grown) r[9] = grown;
        static const char *const fn[10] = {
            "malloc",           "calloc",       "realloc(NULL)",     "reallocarray",
            "aligned_alloc(8)", "memalign(8)",  "posix_memalign(8)", "valloc",
            "pvalloc",          "realloc(grow)"};
        for (int k = 0; k < 10; k++) {
            r[k] = tu_launder(r[k]);
            if (EXPECT(r[k] != NULL, "%s(%zu) returned NULL", fn[k], n))
                EXPECT(aligned_to(r[k], 16), "%s(%zu) = %p is not 16-byte aligned", fn[k], n, r[k]);
            free(r[k]);
        }
    }
}

/* ---- usable size and overlap ------------------------------------------- */

static void rule_usable_null(void) {
    EXPECT(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = %zu",
           malloc_usable_size(NULL));
}

/* Same-size blocks are allocated back to back, so they are likely to be
 * neighbours: writing all of one block's usable size must not reach the
 * next. */
static void rule_usable_writable(void) {
    static const size_t sizes[] = {0,    1,    8,    15,    16,    24,     100,    1000,
                                   1024, 1025, 5000, 32768, 32769, 100000, MiB + 3};
    enum { K = 24 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        int count = n > TU_MID_MAX ? 4 : K;
        unsigned char *p[K];
        size_t u[K];
        for (int k = 0; k < count; k++) {
            p[k] = tu_launder(k % 2 ? malloc(n) : memalign(64, n));
            if (!EXPECT(p[k] != NULL, "allocation of %zu bytes failed", n)) return;
            u[k] = malloc_usable_size(p[k]);
            EXPECT(u[k] >= n, "malloc_usable_size = %zu for a %zu-byte request", u[k], n);
            memset(p[k], k + 1, u[k]);
        }
        for (int k = 0; k < count; k++) {
            for (size_t i = 0; i < u[k]; i++)
                if (p[k][i] != (unsigned char)(k + 1)) {
                    EXPECT(false,
                           "%zu-byte block %d (usable %zu): byte %zu overwritten by a "
                           "neighbour's usable area",
                           n, k, u[k], i);
                    break;
                }
            EXPECT(malloc_usable_size(p[k]) == u[k], "usable size of a live block changed");
        }
        for (int k = 0; k < count; k++) free(p[k]);
    }
}

struct span {
    uintptr_t lo, hi;
    unsigned char tag;
};

static int span_cmp(const void *a, const void *b) {
    const struct span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void *any_alloc(uint64_t *rng, size_t n) {
    void *p = NULL;
    switch (tu_rand(rng) % 7) {
    case 0:
        return calloc(1, n);
    case 1:
        return realloc(NULL, n);
    case 2:
        return memalign((size_t)16 << (tu_rand(rng) % 8), n);
    case 3:
        return aligned_alloc(64, n);
    case 4:
        return posix_memalign(&p, 4096, n) == 0 ? p : NULL;
    default:
        return malloc(n);
    }
}

/* Live blocks from every entry point, with holes punched and refilled so
 * that recycled memory is included: no two usable ranges may intersect. */
static void rule_no_overlap(void) {
    enum { N = 2400 };
    static void *blk[N];
    static size_t len[N];
    static struct span sp[N];
    uint64_t rng = 0x5eed;
    for (int i = 0; i < N; i++) {
        size_t n =
            (i % 100 == 0) ? tu_rand_size(&rng, 1, 2 * MiB) : tu_rand_size(&rng, 1, 64 * KiB);
        blk[i] = tu_launder(any_alloc(&rng, n));
        len[i] = n;
        if (!EXPECT(blk[i] != NULL, "allocation of %zu bytes failed", n)) return;
    }
    for (int i = 0; i < N; i += 3) {
        free(blk[i]);
        len[i] = tu_rand_size(&rng, 1, 64 * KiB);
        blk[i] = tu_launder(any_alloc(&rng, len[i]));
        if (!EXPECT(blk[i] != NULL, "allocation of %zu bytes failed", len[i])) return;
    }
    for (int i = 0; i < N; i++) {
        size_t u = malloc_usable_size(blk[i]);
        EXPECT(u >= len[i], "usable %zu < request %zu", u, len[i]);
        sp[i].lo = (uintptr_t)blk[i];
        sp[i].hi = sp[i].lo + u;
        sp[i].tag = (unsigned char)(i % 251 + 1);
        memset(blk[i], sp[i].tag, u);
    }
    for (int i = 0; i < N; i++) {
        const unsigned char *b = blk[i];
        for (size_t j = 0; j < sp[i].hi - sp[i].lo; j++)
            if (b[j] != sp[i].tag) {
                EXPECT(false, "block %p: byte %zu overwritten by another block", blk[i], j);
                break;
            }
    }
    qsort(sp, N, sizeof sp[0], span_cmp);
    for (int i = 1; i < N; i++)
        EXPECT(sp[i - 1].hi <= sp[i].lo, "blocks [%#lx,%#lx) and [%#lx,%#lx) overlap",
               (unsigned long)sp[i - 1].lo, (unsigned long)sp[i - 1].hi, (unsigned long)sp[i].lo,
               (unsigned long)sp[i].hi);
    for (int i = 0; i < N; i++) free(blk[i]);
}

/* ---- hakmem-only rules ------------------------------------------------- */

static bool wrapped(const char *tier) {
    char name[64];
    snprintf(name, sizeof name, "HAKMEM_WRAP_%s", tier);
    return tu_env_long(name, 1) != 0;
}

/* A tier that is not wrapped must go to the C library, so the check runs
 * both ways. */
static void rule_hakmem_tiers(void) {
    static const struct {
        size_t n;
        const char *tier;
    } cases[] = {{100, "TINY"}, {5000, "MID"}, {200000, "LARGE"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *p = tu_launder(malloc(cases[i].n));
        if (!EXPECT(p != NULL, "malloc(%zu) failed", cases[i].n)) continue;
        bool want = wrapped(cases[i].tier);
        EXPECT((g_is_ours(p) != 0) == want, "malloc(%zu): hak_is_ours = %d but HAKMEM_WRAP_%s=%s",
               cases[i].n, g_is_ours(p), cases[i].tier, want ? "1" : "0");
        free(p);
    }
    int local;
    EXPECT(!g_is_ours(NULL), "hak_is_ours(NULL) is true");
    EXPECT(!g_is_ours(&local), "hak_is_ours(stack address) is true");
}

/* With every tier wrapped no block may come from glibc, or pointers of two
 * allocators mix (jemalloc's crash on a pvalloc pointer). */
static void rule_hakmem_everything(void) {
    static const size_t sizes[] = {0, 100, 5000, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *r[10];
        r[0] = malloc(n);
        r[1] = calloc(1, n);
        r[2] = realloc(NULL, n);
        r[3] = reallocarray(NULL, n, 1);
        r[4] = aligned_alloc(64, n);
        r[5] = memalign(4096, n);
        if (posix_memalign(&r[6], 65536, n) != 0) r[6] = NULL;
        r[7] = valloc(n);
        r[8] = pvalloc(n);
        r[9] = n ? realloc(malloc(1), n) : realloc(NULL, 0); /* realloc(p, 0) would free */
        static const char *const fn[10] = {
            "malloc",   "calloc",         "realloc(NULL)", "reallocarray", "aligned_alloc",
            "memalign", "posix_memalign", "valloc",        "pvalloc",      "realloc"};
        for (int k = 0; k < 10; k++) {
            r[k] = tu_launder(r[k]);
            if (EXPECT(r[k] != NULL, "%s(%zu) failed", fn[k], n))
                EXPECT(g_is_ours(r[k]), "%s(%zu) = %p was not served by hakmem", fn[k], n, r[k]);
            free(r[k]);
        }
    }
}

/* Blocks the C library handed out (unwrapped tiers, or requests made while
 * the profile is read) reach hakmem's free, realloc and usable-size. */
static void rule_hakmem_libc_blocks(void) {
    void *(*libc_malloc)(size_t);
    void *sym = dlsym(RTLD_DEFAULT, "__libc_malloc");
    if (!EXPECT(sym != NULL, "__libc_malloc not found")) return;
    memcpy(&libc_malloc, &sym, sizeof libc_malloc);
    static const size_t sizes[] = {100, 5000, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *a = tu_launder(libc_malloc(n));
        void *b = tu_launder(libc_malloc(n));
        if (!EXPECT(a && b, "__libc_malloc(%zu) failed", n)) continue;
        EXPECT(!g_is_ours(a), "hak_is_ours claims a glibc block");
        EXPECT(malloc_usable_size(a) >= n, "malloc_usable_size of a glibc block: %zu",
               malloc_usable_size(a));
        fill(b, n, 17);
        void *c = try_realloc(b, n * 2 + 5000);
        if (EXPECT(c != NULL, "realloc of a glibc block failed")) {
            EXPECT(verify(c, n, 17) == n, "realloc of a %zu-byte glibc block lost contents", n);
            free(c);
        }
        free(a);
    }
}

int main(int argc, char **argv) {
    int expect = tu_take_expect_flag(&argc, argv);
    g_is_ours = tu_check_hakmem("conformance", expect);
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    build_sizes();

    run_rule("malloc(0) returns a unique non-NULL pointer", rule_malloc_zero);
    run_rule("calloc with a zero count or size returns a unique non-NULL pointer",
             rule_calloc_zero);
    run_rule("free(NULL) is a no-op", rule_free_null);
    run_rule("free preserves errno", rule_free_errno);
    run_rule("realloc(NULL, n) behaves as malloc(n)", rule_realloc_null);
    run_rule("realloc keeps contents when the block moves between tiers", rule_realloc_tiers);
    run_rule("realloc keeps contents when growing and shrinking within a tier",
             rule_realloc_within_tier);
    run_rule("realloc keeps contents of aligned blocks", rule_realloc_aligned);
    run_rule("realloc(p, 0) frees p and returns NULL", rule_realloc_zero);
    run_rule("calloc overflow returns NULL with ENOMEM", rule_calloc_overflow);
    run_rule("reallocarray overflow returns NULL with ENOMEM and keeps the block",
             rule_reallocarray);
    run_rule("huge sizes return NULL with ENOMEM from every entry point", rule_huge);
    run_rule("calloc returns zeroed memory, fresh and reused, in every tier", rule_calloc_zeroes);
    run_rule("posix_memalign returns EINVAL for bad alignments and leaves *memptr alone",
             rule_posix_memalign_einval);
    run_rule("posix_memalign, aligned_alloc and memalign honour alignments 8 B to 8 MiB",
             rule_aligned_sizes);
    run_rule("valloc and pvalloc are page aligned and pvalloc rounds up to a page",
             rule_valloc_pvalloc);
    run_rule("every entry point returns 16-byte aligned blocks for sizes 0 to 2 MiB", rule_align16);
    run_rule("malloc_usable_size(NULL) is 0", rule_usable_null);
    run_rule("malloc_usable_size covers the request and all of it is writable",
             rule_usable_writable);
    run_rule("live blocks never overlap", rule_no_overlap);

    if (g_is_ours) {
        run_rule("hakmem serves exactly the wrapped tiers", rule_hakmem_tiers);
        if (wrapped("TINY") && wrapped("MID") && wrapped("LARGE"))
            run_rule("hakmem serves every entry point when all tiers are wrapped",
                     rule_hakmem_everything);
        else
            printf("skip hakmem serves every entry point (a tier is unwrapped)\n");
        run_rule("free, realloc and malloc_usable_size accept C-library blocks",
                 rule_hakmem_libc_blocks);
    } else {
        printf("skip hakmem rules (hak_is_ours not found: not running under hakmem)\n");
    }

    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
