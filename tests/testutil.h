/* testutil.h — what the test programs share: finding out at run time whether
 * hakmem serves this process, keeping the optimiser away from allocations, a
 * per-thread PRNG, a monotonic clock and the tier sizes the tests aim at.
 *
 * Every program built on this must also pass under glibc or a stand-in
 * allocator, so nothing here links against hakmem: its extras are looked up
 * with dlsym and are NULL when hakmem is not loaded. */
#ifndef HAKMEM_TESTUTIL_H
#define HAKMEM_TESTUTIL_H

/* RTLD_DEFAULT and the glibc allocation extras need it before any include. */
#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE at the top of the test program"
#endif

#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Tier limits as the library's defaults set them; the tests use them only to
 * pick sizes on both sides of each boundary. */
#define TU_TINY_MAX ((size_t)1024)
#define TU_MID_MAX  ((size_t)32768)

typedef int (*tu_is_ours_fn)(const void *);

/* RTLD_DEFAULT finds the symbol whether hakmem was preloaded or linked. */
static inline tu_is_ours_fn tu_find_hakmem(void) {
    tu_is_ours_fn fn;
    void *sym = dlsym(RTLD_DEFAULT, "hak_is_ours");
    memcpy(&fn, &sym, sizeof fn);
    return fn;
}

/* Removes every `flag` from argv, wherever it stands; 1 if there was one. */
static inline int tu_take_flag(int *argc, char **argv, const char *flag) {
    int found = 0, out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], flag) == 0)
            found = 1;
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return found;
}

/* Removes "--expect-hakmem" from argv. A preload whose path is wrong only
 * makes ld.so print a warning and run glibc, so the ctest runs ask for this
 * and fail instead of passing on the wrong allocator. */
static inline int tu_take_expect_flag(int *argc, char **argv) {
    return tu_take_flag(argc, argv, "--expect-hakmem");
}

static inline tu_is_ours_fn tu_check_hakmem(const char *prog, int expected) {
    tu_is_ours_fn fn = tu_find_hakmem();
    if (expected && !fn) {
        fprintf(stderr,
                "FAIL %s: --expect-hakmem given but hak_is_ours is not exported "
                "(LD_PRELOAD ignored or wrong library?)\n",
                prog);
        exit(1);
    }
    printf("%s: running under %s\n", prog, fn ? "hakmem" : "another allocator");
    return fn;
}

/* An unset or non-numeric variable means the library default (wrapped). */
static inline long tu_env_long(const char *name, long dflt) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *end;
    long x = strtol(v, &end, 10);
    return *end == '\0' ? x : dflt;
}

/* gcc may delete a malloc/free pair whose block never escapes, or fold a
 * comparison of two fresh pointers; passing them through an empty asm makes
 * every allocation observable. */
static inline void *tu_launder(void *p) {
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

/* clang assumes the allocation functions never touch errno and would
 * forward a store of errno across the call to the load after it; a memory
 * clobber on both sides makes the check see what the call did. */
static inline void tu_clobber(void) {
    __asm__ volatile("" : : : "memory");
}

/* Hides a constant size so gcc neither warns about an impossible request nor
 * assumes the call's result. */
static inline size_t tu_hide(size_t n) {
    __asm__ volatile("" : "+r"(n));
    return n;
}

/* xorshift64*: reproducible per seed, no shared state between threads. */
static inline uint64_t tu_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in the exponent: small sizes dominate, as in real programs, yet
 * every tier up to max is reached. */
static inline size_t tu_rand_size(uint64_t *s, size_t min, size_t max) {
    unsigned lo = 0, hi = 0;
    while (lo < 63 && ((size_t)2 << lo) <= min) lo++;
    while (hi < 63 && ((size_t)2 << hi) <= max) hi++;
    for (;;) {
        unsigned bits = lo + (unsigned)(tu_rand(s) % (hi - lo + 1));
        size_t n = ((size_t)1 << bits) + (tu_rand(s) & (((size_t)1 << bits) - 1));
        if (n >= min && n <= max) return n;
    }
}

static inline double tu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reports "FAIL PROG: message" through write(2) and leaves with _exit:
 * other threads may still be running, and exit() would run destructors
 * under their feet. */
__attribute__((noreturn, format(printf, 2, 3))) static inline void tu_die(const char *prog,
                                                                          const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
    buf[n++] = '\n';
    if (write(2, "FAIL ", 5) < 0 || write(2, prog, strlen(prog)) < 0 || write(2, ": ", 2) < 0 ||
        write(2, buf, (size_t)n) < 0)
        _exit(1);
    _exit(1);
}

/* The process's resident set now, from /proc/self/statm (0 if unreadable);
 * no allocation, so it can be sampled while the allocator is under test. */
static inline size_t tu_rss_bytes(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long size, resident;
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2) return 0;
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Whether the mapping that holds p was advised MADV_HUGEPAGE (VmFlags "hg"
 * in /proc/self/smaps): 1 or 0, or -1 when no mapping there holds p. An
 * unreadable smaps ends prog. */
static inline int tu_advised_huge(const char *prog, const void *p) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL) tu_die(prog, "cannot read /proc/self/smaps");
    char line[512];
    int inside = 0, hg = -1;
    while (hg < 0 && fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        const char *dash = strchr(line, '-'), *space = strchr(line, ' ');
        if (dash != NULL && space != NULL && dash < space &&
            sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0)
            hg = strstr(line, " hg") != NULL;
    }
    fclose(f);
    return hg;
}

#endif /* HAKMEM_TESTUTIL_H */
