/* advice_rules.c — each rule of the advisor (libhakmem/src/advisor.c) on
 * counters made up to sit at its edges: it fires at its threshold and not
 * one below, and each of its other conditions (a ratio, the mode, the wrap
 * levels) holds it back when it fails. tests/advice.sh shows the rules on
 * real runs; this pins down their arithmetic, which no run of a few seconds
 * lands on exactly. Every rule of the table must have its case here.
 * Links hakmem_knobs, as the tools do. */
#include "knobs.h"

#include <stdio.h>
#include <string.h>

static int failures, checks;
static uint64_t v[HAK_STAT_COUNT];

static unsigned rule(const char *id) {
    for (unsigned r = 0; r < hak_rule_count; r++)
        if (strcmp(hak_rule_table[r].id, id) == 0) return r;
    fprintf(stderr, "FAIL no rule named %s\n", id);
    failures++;
    return 0;
}

static void expect(const char *id, bool fires, const char *what) {
    checks++;
    bool got = hak_rule_fires(rule(id), v);
    if (got == fires) return;
    fprintf(stderr, "FAIL %s: %s: expected it %s\n", id, what, fires ? "to fire" : "silent");
    failures++;
}

/* The sentence holds `part`. */
static void says(const char *id, const char *part) {
    char text[1024];
    checks++;
    hak_rule_advice(rule(id), v, text, sizeof text);
    if (strstr(text, part) != NULL) return;
    fprintf(stderr, "FAIL %s: the advice lacks \"%s\": %s\n", id, part, text);
    failures++;
}

static void reset(void) {
    memset(v, 0, sizeof v);
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) hak_knob_value[k] = hak_knob_table[k].def;
}

static void churn(void) {
    reset();
    v[HAK_S_churn_bytes] = 64ull << 20;
    expect("churn", true, "64 MiB of churn");
    says("churn", "64 MiB were taken fresh");
    says("churn", "retain_pct (now 100)");
    v[HAK_S_churn_bytes]--;
    expect("churn", false, "one byte short of 64 MiB");
    v[HAK_S_churn_bytes] = 1ull << 30;
    hak_knob_value[HAK_K_ALIGN_MODE] = HAK_ALIGN_CHUNK_POOL;
    expect("churn", true, "align_mode chunk_pool");
    hak_knob_value[HAK_K_ALIGN_MODE] = HAK_ALIGN_OVERALLOC;
    expect("churn", false, "align_mode overalloc (no pool to keep pages in)");
}

static void large_cache(void) {
    reset();
    v[HAK_S_large_alloc] = 2048;
    v[HAK_S_large_cache_hit] = 1024;
    v[HAK_S_large_free] = 2048;
    expect("large_cache", true, "1024 misses of 2048");
    says("large_cache", "1,024 of 2,048 large allocations");
    v[HAK_S_large_cache_hit] = 1025;
    expect("large_cache", false, "1023 misses");
    v[HAK_S_large_alloc] = 2049;
    expect("large_cache", false, "1024 misses, fewer than half of 2049");
    v[HAK_S_large_alloc] = 2048;
    v[HAK_S_large_cache_hit] = 1024;
    v[HAK_S_large_free] = 1023;
    expect("large_cache", false, "fewer than half of the blocks freed");
    v[HAK_S_large_cache_hit] = 5000; /* realloc's hits count too */
    expect("large_cache", false, "more hits than allocations");
}

static void unpooled(void) {
    reset();
    v[HAK_S_os_munmap] = 1024;
    expect("unpooled", false, "align_mode reserve");
    hak_knob_value[HAK_K_ALIGN_MODE] = HAK_ALIGN_OVERALLOC;
    expect("unpooled", true, "1024 munmaps, overalloc");
    says("unpooled", "align_mode = overalloc maps");
    hak_knob_value[HAK_K_ALIGN_MODE] = HAK_ALIGN_RELAXED;
    expect("unpooled", true, "1024 munmaps, relaxed");
    v[HAK_S_os_munmap] = 1023;
    expect("unpooled", false, "1023 munmaps");
}

static void tcache(void) {
    reset();
    v[HAK_S_slow_alloc] = 50000;
    v[HAK_S_slow_free] = 50000;
    v[HAK_S_fast_alloc] = 450000;
    v[HAK_S_fast_free] = 450000;
    expect("tcache", true, "100,000 slow of 1,000,000");
    says("tcache", "10% of small allocations and frees");
    v[HAK_S_slow_free] = 49999;
    v[HAK_S_fast_free] = 450001;
    expect("tcache", false, "99,999 slow");
    v[HAK_S_slow_free] = 50000;
    v[HAK_S_fast_free] = 450001;
    expect("tcache", false, "just under a tenth");
    v[HAK_S_fast_free] = 450000;
    v[HAK_S_remote_free] = 250000;
    expect("tcache", false, "half the frees remote (a consumer's cache only overflows)");
    v[HAK_S_remote_free] = 249999;
    expect("tcache", true, "just under half the frees remote");
}

static void libc(void) {
    reset();
    v[HAK_S_libc_alloc] = 10000;
    v[HAK_S_tiny_alloc] = 10000;
    expect("libc", false, "every tier wrapped (start-up's requests)");
    hak_knob_value[HAK_K_WRAP_MID] = 0;
    hak_knob_value[HAK_K_WRAP_LARGE] = 0;
    expect("libc", true, "10,000 of 20,000 with wrap_mid and wrap_large off");
    says("libc", "because wrap_mid, wrap_large = false");
    v[HAK_S_tiny_alloc] = 10001;
    expect("libc", false, "fewer than half");
    v[HAK_S_tiny_alloc] = 0;
    v[HAK_S_libc_alloc] = 9999;
    expect("libc", false, "9,999");
}

int main(void) {
    static const struct {
        const char *id;
        void (*check)(void);
    } cases[] = {{"churn", churn},
                 {"large_cache", large_cache},
                 {"unpooled", unpooled},
                 {"tcache", tcache},
                 {"libc", libc}};
    unsigned n = sizeof cases / sizeof cases[0];
    for (unsigned i = 0; i < n; i++) cases[i].check();
    for (unsigned r = 0; r < hak_rule_count; r++) {
        bool found = false;
        for (unsigned i = 0; i < n; i++) found |= strcmp(cases[i].id, hak_rule_table[r].id) == 0;
        if (!found) {
            fprintf(stderr, "FAIL rule %s has no case in advice_rules.c\n", hak_rule_table[r].id);
            failures++;
        }
    }
    printf("%d checks of %u rules, %d failed\n", checks, hak_rule_count, failures);
    return failures != 0;
}
