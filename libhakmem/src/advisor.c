/* advisor.c — the advisor: the rules that read a run's counters and say
 * which knob to reach for, declared once in RULES below, and the sentence
 * each one says at the end of the text report (HAKMEM_STATS=1). The JSON
 * names the rules that fired ("advice"); hakmem-config --rules lists them;
 * tuner/TUNING.md is the guide they follow, with a measured example each.
 *
 * A rule fires only on what a knob can change, and only well past what a
 * program that needs no tuning shows: its figure must reach a threshold set
 * far above a quiet program's, and a ratio besides where a large program
 * would reach any absolute figure. Advice runs at exit, in a destructor:
 * it formats into the caller's buffer and allocates nothing. */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Numbers with their thousands grouped ("69,086"), formatted into the
 * caller's frame: one sentence needs a few at once. */
typedef struct {
    char buf[6][32];
    unsigned next;
} nums_t;

static const char *num(nums_t *ns, uint64_t x) {
    char digits[24], *out = ns->buf[ns->next++ % 6];
    size_t len = hak_fmt(digits, sizeof digits, "%llu", (unsigned long long)x), n = 0;
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) out[n++] = ',';
        out[n++] = digits[i];
    }
    out[n] = '\0';
    return out;
}

static bool pooled(void) {
    hak_align_mode_t m = (hak_align_mode_t)hak_knob(ALIGN_MODE);
    return m == HAK_ALIGN_CHUNK_POOL || m == HAK_ALIGN_RESERVE;
}

static uint64_t small_ops(const uint64_t *v) {
    return v[HAK_S_fast_alloc] + v[HAK_S_slow_alloc] + v[HAK_S_fast_free] + v[HAK_S_slow_free];
}

static uint64_t large_misses(const uint64_t *v) {
    return v[HAK_S_large_alloc] > v[HAK_S_large_cache_hit]
               ? v[HAK_S_large_alloc] - v[HAK_S_large_cache_hit]
               : 0;
}

static uint64_t all_allocs(const uint64_t *v) {
    return v[HAK_S_tiny_alloc] + v[HAK_S_mid_alloc] + v[HAK_S_large_alloc] + v[HAK_S_libc_alloc];
}

static bool some_unwrapped(void) {
    return !hak_knob(WRAP_TINY) || !hak_knob(WRAP_MID) || !hak_knob(WRAP_LARGE);
}

/* The tiers left to the C library, for the libc rule's sentence. */
static const char *unwrapped(char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    if (!hak_knob(WRAP_TINY)) n += hak_fmt(buf + n, cap - n, "wrap_tiny");
    if (!hak_knob(WRAP_MID) && n < cap) n += hak_fmt(buf + n, cap - n, "%swrap_mid", n ? ", " : "");
    if (!hak_knob(WRAP_LARGE) && n < cap) hak_fmt(buf + n, cap - n, "%swrap_large", n ? ", " : "");
    return buf;
}

static const char *mode_name(void) {
    return hak_knob_table[HAK_K_ALIGN_MODE].values[hak_knob(ALIGN_MODE)];
}

/* The rules.
 *   X(id, figure, threshold, when, figure_text, when_text, knobs, advice...)
 * figure: what the rule measures, from the counters v[]; it fires when the
 * figure reaches threshold and `when` holds. figure_text, when_text, knobs:
 * the same in words, and what it suggests, for hakmem-config --rules.
 * advice: the sentence, a format and its arguments, checked by the
 * compiler; F is the figure, N(x) a number with its thousands grouped,
 * K(name) a knob's value. */
#define N(x) num(&ns, (x))
#define K(k) hak_knob(k)
#define RULES(X)                                                                                   \
    X(churn, v[HAK_S_churn_bytes], 64ull << 20, pooled(), "churn_bytes",                           \
      "align_mode is chunk_pool or reserve",                                                       \
      "retain_pct, chunk_pool_pages, large_cache_bytes, release_delay_ms",                         \
      "%s MiB were taken fresh from the kernel within a second of memory going back to it "        \
      "(churn_bytes), each 4 KiB of it a page fault when touched: a larger retain_pct (now %lld) " \
      "keeps "                                                                                     \
      "more of the recent peak mapped, as do the floors chunk_pool_pages (now %lld pages) and "    \
      "large_cache_bytes (now %s bytes); release_delay_ms (now %lld) is how long freed memory "    \
      "waits",                                                                                     \
      N(F >> 20), K(RETAIN_PCT), K(CHUNK_POOL_PAGES), N((uint64_t)K(LARGE_CACHE_BYTES)),           \
      K(RELEASE_DELAY_MS))                                                                         \
    X(large_cache, large_misses(v), 1024,                                                          \
      F * 2 >= v[HAK_S_large_alloc] && v[HAK_S_large_free] * 2 >= v[HAK_S_large_alloc],            \
      "large_alloc - large_cache_hit",                                                             \
      "that is at least half of large_alloc, and large_free is at least half of large_alloc",      \
      "large_cache_bytes, large_cache_spans, release_delay_ms",                                    \
      "%s of %s large allocations found no freed span in the cache and were mapped fresh "         \
      "(large_alloc - large_cache_hit), while %s large blocks were freed: a larger "               \
      "large_cache_bytes (now %s) or large_cache_spans (now %lld) keeps freed spans for reuse; "   \
      "release_delay_ms (now %lld) is how long they wait",                                         \
      N(F), N(v[HAK_S_large_alloc]), N(v[HAK_S_large_free]), N((uint64_t)K(LARGE_CACHE_BYTES)),    \
      K(LARGE_CACHE_SPANS), K(RELEASE_DELAY_MS))                                                   \
    X(unpooled, v[HAK_S_os_munmap], 1024, !pooled(), "os_munmap",                                  \
      "align_mode is overalloc or relaxed (which pool no page)", "align_mode",                     \
      "%s munmap calls (os_munmap) for %s pages of 64 KiB (os_page_fresh): align_mode = %s maps "  \
      "every page anew and unmaps it when it empties; align_mode = reserve (the default) or "      \
      "chunk_pool keeps freed pages for reuse",                                                    \
      N(F), N(v[HAK_S_os_page_fresh]), mode_name())                                                \
    X(tcache, v[HAK_S_slow_alloc] + v[HAK_S_slow_free], 100000,                                    \
      F * 10 >= small_ops(v) &&                                                                    \
          v[HAK_S_remote_free] * 2 < v[HAK_S_fast_free] + v[HAK_S_slow_free],                      \
      "slow_alloc + slow_free",                                                                    \
      "that is at least a tenth of fast_alloc + slow_alloc + fast_free + slow_free, and "          \
      "remote_free is less than half of fast_free + slow_free",                                    \
      "tcache_count, tcache_bytes, tcache_grow_pct",                                               \
      "%s%% of small allocations and frees went past the thread cache (slow_alloc %s, slow_free "  \
      "%s): the caches are too small for this program; raise tcache_count (now %lld) and "         \
      "tcache_bytes (now %lld), which size each class's cache at first, or tcache_grow_pct (now "  \
      "%lld), which lets a cache that overflows and runs empty grow",                              \
      N(F * 100 / small_ops(v)), N(v[HAK_S_slow_alloc]), N(v[HAK_S_slow_free]), K(TCACHE_COUNT),   \
      K(TCACHE_BYTES), K(TCACHE_GROW_PCT))                                                         \
    X(libc, v[HAK_S_libc_alloc], 10000, some_unwrapped() && F * 2 >= all_allocs(v), "libc_alloc",  \
      "that is at least half of all allocations, and a wrap_* knob is false",                      \
      "wrap_tiny, wrap_mid, wrap_large",                                                           \
      "the C library served %s of %s allocations (libc_alloc) because %s = false: hakmem's "       \
      "knobs, counters and advice cover only the rest; wrap_tiny, wrap_mid and wrap_large = "      \
      "true (the defaults) give every tier to hakmem",                                             \
      N(F), N(all_allocs(v)), unwrapped(wraps, sizeof wraps))

enum {
#define RULE_ENUM(id, ...) R_##id,
    RULES(RULE_ENUM)
#undef RULE_ENUM
        RULE_COUNT
};

const unsigned hak_rule_count = RULE_COUNT;

const hak_rule_info_t hak_rule_table[] = {
#define RULE_INFO(id, figure, threshold, when, figure_text, when_text, knobs, ...)                 \
    [R_##id] = {#id, threshold, figure_text, when_text, knobs},
    RULES(RULE_INFO)
#undef RULE_INFO
};

bool hak_rule_fires(unsigned r, const uint64_t v[HAK_STAT_COUNT]) {
    switch (r) {
#define RULE_FIRES(id, figure, threshold, when, ...)                                               \
    case R_##id: {                                                                                 \
        uint64_t F = (figure);                                                                     \
        return F >= (threshold) && (when);                                                         \
    }
        RULES(RULE_FIRES)
#undef RULE_FIRES
    }
    return false;
}

size_t hak_rule_advice(unsigned r, const uint64_t v[HAK_STAT_COUNT], char *buf, size_t cap) {
    nums_t ns = {.next = 0};
    char wraps[48];
    (void)wraps;
    switch (r) {
#define RULE_SAY(id, figure, threshold, when, figure_text, when_text, knobs, ...)                  \
    case R_##id: {                                                                                 \
        uint64_t F = (figure);                                                                     \
        (void)F;                                                                                   \
        return hak_fmt(buf, cap, __VA_ARGS__);                                                     \
    }
        RULES(RULE_SAY)
#undef RULE_SAY
    }
    return hak_fmt(buf, cap, "%s", "");
}

/* A character an argument may hold bare on hak-tune's --cmd line; one
 * that needs a shell's protection beyond double quotes makes the advice
 * name no command at all. */
static bool bare_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("_-./=:,+@%", c) != NULL;
}
static bool quotable_char(char c) {
    return (unsigned char)c >= 0x20 && c != 0x7f && strchr("'\"\\$`", c) == NULL;
}

/* The program's own command line, from /proc/self/cmdline, as hak-tune
 * --cmd reads it (words split by spaces, double quotes group); false when
 * it cannot be written so or does not fit. */
static bool own_command(char *buf, size_t cap) {
    char raw[1024];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t len = read(fd, raw, sizeof raw);
    close(fd);
    if (len <= 0 || (size_t)len == sizeof raw || raw[len - 1] != '\0') return false;
    size_t n = 0;
    for (const char *a = raw; a < raw + len; a += strlen(a) + 1) {
        bool bare = *a != '\0';
        for (const char *c = a; *c; c++) {
            if (!quotable_char(*c)) return false;
            bare &= bare_char(*c);
        }
        n += hak_fmt(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, bare ? "%s%s" : "%s\"%s\"",
                     n ? " " : "", a);
    }
    return n > 0 && n < cap;
}

size_t hak_advice_tune(char *buf, size_t cap) {
    char cmd[512];
    if (!own_command(cmd, sizeof cmd)) hak_fmt(cmd, sizeof cmd, "PROGRAM ARGS");
    return hak_fmt_esc(buf, cap,
                       "or measure instead of guessing: hak-tune --cmd '%s' --metric wall "
                       "-o tuned.cfg (--metric REGEX for a figure the program prints)",
                       cmd);
}
