/* guide.c — the rules that let the default's own counters guide the
 * search: each reads a few of hakmem's stats from the default's
 * calibration runs, fires when they show where a program's time goes, and
 * names the knobs that govern what they show, with the direction worth
 * trying first. The search tries those knobs first, strongest rule first,
 * and only then spends its budget on the rest (search.c).
 *
 * The rules are this one table; tuner/README.md prints it (hak-tune
 * --print-rules writes the markdown), and TUNING.md explains the same
 * counters to people tuning by hand. A search that takes 20 minutes to
 * reach the one knob that matters has failed its user, even if it gets
 * there: a rule costs nothing when it does not fire, and when it does it
 * puts one knob's evaluation where twenty might have been spent. */
#include "tune.h"

#include <math.h>
#include <string.h>

typedef struct {
    hak_stat_id_t id;
    int sign; /* +1 or -1 */
} term_t;

typedef struct {
    int knob;
    ht_dir_t dir;
} lever_t;

#define MAX_TERMS  3
#define MAX_LEVERS 5

typedef struct {
    const char *name;
    term_t num[MAX_TERMS]; /* summed */
    int nnum;
    term_t den[MAX_TERMS]; /* summed; none: the numerator itself, or per second */
    int nden;
    bool per_second;  /* the numerator per second of the run */
    double threshold; /* the measure at which it fires */
    double least;     /* and the numerator must be at least this: a few events prove nothing */
    bool usage; /* it says what the program uses, not that something goes wrong: it ranks after
                   every rule that does */
    lever_t knobs[MAX_LEVERS];
    int nknobs;
    const char *says;
} rule_t;

#define S(x)                                                                                       \
    { HAK_S_##x, 1 }
#define NEG(x)                                                                                     \
    { HAK_S_##x, -1 }
#define K(x) HAK_K_##x

static const rule_t rules[] = {
    {"churn",
     {S(churn_bytes)},
     1,
     {S(bytes_mapped_peak)},
     1,
     false,
     1.0,
     16 << 20,
     false,
     {{K(RETAIN_PCT), HT_UP},
      {K(RELEASE_DELAY_MS), HT_UP},
      {K(LARGE_CACHE_BYTES), HT_UP},
      {K(CHUNK_POOL_PAGES), HT_UP}},
     4,
     "memory given back to the kernel is taken fresh again within a second, more than the "
     "peak mapped: keep more of it, longer"},
    {"large-fresh",
     {S(large_alloc), NEG(large_cache_hit)},
     2,
     {S(large_alloc)},
     1,
     false,
     0.25,
     32,
     false,
     {{K(LARGE_CACHE_BYTES), HT_UP},
      {K(LARGE_CACHE_SPANS), HT_UP},
      {K(RETAIN_PCT), HT_UP},
      {K(THP_MIN), HT_EITHER}},
     4,
     "large allocations are fresh mappings, not span-cache hits: a larger span cache"},
    {"madvise",
     {S(os_madvise)},
     1,
     {{0, 0}},
     0,
     true,
     500,
     1000,
     false,
     {{K(CHUNK_POOL_PAGES), HT_UP}, {K(RELEASE_DELAY_MS), HT_UP}, {K(RETAIN_PCT), HT_UP}},
     3,
     "pages go back to the kernel with madvise and fault in again: a larger page pool"},
    {"os-calls",
     {S(os_mmap), S(os_munmap)},
     2,
     {{0, 0}},
     0,
     true,
     500,
     1000,
     false,
     /* In the default alignment mode (reserve) pages come from a reserved
      * range, and most of the mappings a program makes are its large
      * blocks' (bigbuffers: a thousand a second, where this rule and
      * large-fresh fire about as strongly, either one first): what is kept
      * for reuse comes before the alignment mode, which matters where pages
      * are mapped one by one (the seed's MF2 pool). */
     {{K(LARGE_CACHE_BYTES), HT_UP},
      {K(CHUNK_POOL_PAGES), HT_UP},
      {K(RELEASE_DELAY_MS), HT_UP},
      {K(ALIGN_MODE), HT_EITHER}},
     4,
     "the OS layer maps and unmaps often: more kept for reuse, or another alignment mode"},
    {"page-cycle",
     {S(page_released)},
     1,
     {S(page_new)},
     1,
     false,
     0.5,
     64,
     false,
     {{K(CHUNK_POOL_PAGES), HT_UP}, {K(RELEASE_DELAY_MS), HT_UP}, {K(RETAIN_PCT), HT_UP}},
     3,
     "pages are released empty and carved fresh again: keep more of them in the pool"},
    {"tcache-miss",
     {S(slow_alloc), S(slow_free)},
     2,
     {S(fast_alloc), S(fast_free)},
     2,
     false,
     0.05,
     1000,
     false,
     {{K(TCACHE_COUNT), HT_UP},
      {K(TCACHE_BYTES), HT_UP},
      {K(TCACHE_MAX_BYTES), HT_UP},
      {K(TCACHE_GROW_PCT), HT_UP}},
     4,
     "the thread caches refill and flush often: larger thread caches"},
    {"cache-grown",
     {S(cache_grown)},
     1,
     {{0, 0}},
     0,
     false,
     16,
     16,
     false,
     {{K(TCACHE_MAX_BYTES), HT_UP}, {K(TCACHE_GROW_PCT), HT_UP}, {K(TCACHE_BYTES), HT_UP}},
     3,
     "thread caches overflowed and grew: let them start or grow larger"},
    {"remote",
     {S(remote_free)},
     1,
     {S(tiny_free), S(mid_free)},
     2,
     false,
     0.10,
     1000,
     false,
     {{K(DRAIN_SCAN), HT_EITHER}, {K(IDLE_THRESHOLD_US), HT_EITHER}, {K(TCACHE_COUNT), HT_UP}},
     3,
     "small blocks are freed by other threads than their owners: how owners collect them"},
    {"drain",
     {S(drain)},
     1,
     {S(remote_free)},
     1,
     false,
     0.25,
     1000,
     false,
     {{K(DRAIN_SCAN), HT_UP}, {K(TCACHE_COUNT), HT_UP}},
     2,
     "owners collect their remote frees a few blocks at a time: scan more pages per refill"},
    {"pending",
     {S(pending_enqueued)},
     1,
     {{0, 0}},
     0,
     false,
     100,
     100,
     false,
     {{K(IDLE_THRESHOLD_US), HT_EITHER}},
     1,
     "pages of idle or exited owners are handed on: when an owner counts as idle"},
    {"thread-churn",
     {S(threads_started)},
     1,
     {{0, 0}},
     0,
     true,
     100,
     100,
     true,
     {{K(IDLE_THRESHOLD_US), HT_EITHER}, {K(TCACHE_COUNT), HT_EITHER}},
     2,
     "threads come and go many times a second: what a thread keeps, and when its pages move on"},
    {"mid-deferred",
     {S(mid_deferred)},
     1,
     {S(mid_alloc), S(mid_deferred)},
     2,
     false,
     0.10,
     1000,
     false,
     {{K(MID_OPEN_AFTER), HT_DOWN}},
     1,
     "mid-size requests wait in the large tier for the mid tier to open: open it sooner"},
    {"large-busy",
     {S(large_alloc)},
     1,
     {S(tiny_alloc), S(mid_alloc), S(large_alloc)},
     3,
     false,
     0.01,
     100,
     true,
     {{K(THP_MIN), HT_EITHER}, {K(LARGE_CACHE_BYTES), HT_UP}, {K(WRAP_LARGE), HT_EITHER}},
     3,
     "the large tier serves a share of the allocations: its huge pages and span cache, or the C "
     "library"},
    {"mid-busy",
     {S(mid_alloc)},
     1,
     {S(tiny_alloc), S(mid_alloc), S(large_alloc)},
     3,
     false,
     0.30,
     1000,
     true,
     {{K(WRAP_MID), HT_EITHER}, {K(DRAIN_SCAN), HT_EITHER}},
     2,
     "the mid tier (the MF2 pool) serves most allocations: whether hakmem or the C library "
     "should"},
};
#define NRULES (int)(sizeof rules / sizeof rules[0])

_Static_assert(sizeof rules / sizeof rules[0] <= HT_GUIDE_RULES, "ht_guide_t holds every rule");

static double sum(const term_t *t, int n, const long long *c) {
    double v = 0;
    for (int i = 0; i < n; i++) v += t[i].sign * (double)c[t[i].id];
    return v;
}

static void terms_text(const term_t *t, int n, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++) {
        int k = snprintf(buf + len, cap - len, "%s%s",
                         i == 0          ? ""
                         : t[i].sign < 0 ? " - "
                                         : " + ",
                         hak_stat_name[t[i].id]);
        if (k < 0) break;
        len += (size_t)k;
    }
}

/* How the rule's measure reads: "a / b", "a per second", "a". */
static void measure_text(const rule_t *r, char *buf, size_t cap) {
    char num[160], den[160];
    terms_text(r->num, r->nnum, num, sizeof num);
    terms_text(r->den, r->nden, den, sizeof den);
    if (r->nden)
        ht_fmt(buf, cap, "%s%s%s / %s%s%s", r->nnum > 1 ? "(" : "", num, r->nnum > 1 ? ")" : "",
               r->nden > 1 ? "(" : "", den, r->nden > 1 ? ")" : "");
    else
        ht_fmt(buf, cap, "%s%s", num, r->per_second ? " per second" : " a run");
}

const char *ht_guide_rule_name(int rule) {
    return rule >= 0 && rule < NRULES ? rules[rule].name : "?";
}

const char *ht_guide_rule_says(int rule) {
    return rule >= 0 && rule < NRULES ? rules[rule].says : "?";
}

static void add_knob(ht_guide_t *g, int knob, ht_dir_t dir, int from) {
    for (int i = 0; i < g->nknobs; i++) {
        if (g->knob[i] != knob) continue;
        if (g->dir[i] != dir) g->dir[i] = HT_EITHER; /* two rules disagree: try both ways */
        return;
    }
    g->knob[g->nknobs] = knob;
    g->dir[g->nknobs] = dir;
    g->from[g->nknobs] = from;
    g->nknobs++;
}

void ht_guide_read(ht_guide_t *g, const long long *c, bool have, double wall) {
    memset(g, 0, sizeof *g);
    g->read = have;
    if (!have) return;
    for (int i = 0; i < NRULES; i++) {
        const rule_t *r = &rules[i];
        double num = sum(r->num, r->nnum, c), den = r->nden ? sum(r->den, r->nden, c) : 1;
        if (r->per_second) den = wall > 0 ? wall : 1;
        if (!(num >= r->least) || !(den > 0)) continue;
        double v = num / den;
        if (!(v >= r->threshold)) continue;
        ht_fired_t *f = &g->fired[g->nfired++];
        f->rule = i;
        /* A rule that only says what the program uses ranks below every
         * rule that says something goes wrong, however far it fired. */
        f->score = r->usage ? 1 - 1 / (1 + v / r->threshold) : v / r->threshold;
        char m[200];
        measure_text(r, m, sizeof m);
        ht_fmt(f->evidence, sizeof f->evidence, "%s = %.3g (fires at %.3g)", m, v, r->threshold);
    }
    /* Strongest first: the measure furthest beyond its threshold. */
    for (int i = 1; i < g->nfired; i++)
        for (int j = i; j > 0 && g->fired[j].score > g->fired[j - 1].score; j--) {
            ht_fired_t x = g->fired[j];
            g->fired[j] = g->fired[j - 1];
            g->fired[j - 1] = x;
        }
    for (int i = 0; i < g->nfired; i++) {
        const rule_t *r = &rules[g->fired[i].rule];
        for (int k = 0; k < r->nknobs; k++) add_knob(g, r->knobs[k].knob, r->knobs[k].dir, i);
    }
}

static const char *dir_text(ht_dir_t d) {
    return d == HT_UP ? "up" : d == HT_DOWN ? "down" : "either way";
}

void ht_guide_print(const ht_guide_t *g, FILE *f) {
    if (!g->read) {
        fprintf(f, "guide: the default's runs wrote no counters; the search goes in its usual "
                   "order\n");
        return;
    }
    if (g->nfired == 0) {
        fprintf(f, "guide: no rule fires on the default's counters; the search goes in its usual "
                   "order\n");
        return;
    }
    for (int i = 0; i < g->nfired; i++)
        fprintf(f, "guide: %s: %s; %s\n", rules[g->fired[i].rule].name, g->fired[i].evidence,
                rules[g->fired[i].rule].says);
    fprintf(f, "guide: first tried:");
    for (int i = 0; i < g->nknobs; i++)
        fprintf(f, "%s %s (%s)", i ? "," : "", hak_knob_table[g->knob[i]].name,
                dir_text(g->dir[i]));
    fputc('\n', f);
}

void ht_guide_rules_table(FILE *f) {
    fprintf(f,
            "| rule | measure (the default's runs, median) | fires at | knobs tried first | what "
            "it says |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    for (int i = 0; i < NRULES; i++) {
        const rule_t *r = &rules[i];
        char m[200];
        measure_text(r, m, sizeof m);
        fprintf(f, "| %s | `%s` | >= %g, numerator >= %.0f | ", r->name, m, r->threshold, r->least);
        for (int k = 0; k < r->nknobs; k++)
            fprintf(f, "%s`%s` %s", k ? ", " : "", hak_knob_table[r->knobs[k].knob].name,
                    r->knobs[k].dir == HT_UP     ? "up"
                    : r->knobs[k].dir == HT_DOWN ? "down"
                                                 : "either");
        fprintf(f, " | %s%s |\n", r->says, r->usage ? " (ranks after the others)" : "");
    }
}
