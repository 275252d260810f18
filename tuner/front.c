/* front.c — the trade-off front (--front rss|sys): the best throughput
 * under each of a series of bounds on peak RSS (or kernel seconds), each
 * bound's winner confirmed against the default in interleaved pairs, one
 * profile per point, a table, and a plot with glibc, mimalloc, jemalloc
 * and tcmalloc measured on the same workload as reference points.
 *
 * One search serves every bound: the candidates measured for one bound are
 * judged again under the next (measure.c's cache), so the later, tighter
 * bounds start from what the earlier ones found. The bounds are fractions
 * of the default's own median, so a front means the same on any program. */
#include "tune.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PEER_ROUNDS   3 /* rounds of (default, glibc, peers...), interleaved */
#define MIN_PER_POINT 8 /* evaluations each bound gets at least */

/* The knobs that trade the bounded figure, each the way that lowers it:
 * tried first when nothing measured yet meets a bound. Less kept mapped
 * and cached for peak RSS; more kept for reuse (fewer calls into the
 * kernel) for kernel time. */
static const int rss_levers[] = {HAK_K_CHUNK_POOL_PAGES,  HAK_K_TCACHE_BYTES,
                                 HAK_K_LARGE_CACHE_BYTES, HAK_K_RETAIN_PCT,
                                 HAK_K_RELEASE_DELAY_MS,  HAK_K_TCACHE_MAX_BYTES,
                                 HAK_K_TCACHE_COUNT,      HAK_K_LARGE_CACHE_SPANS};
static const ht_dir_t rss_dirs[] = {HT_DOWN, HT_DOWN, HT_DOWN, HT_DOWN,
                                    HT_DOWN, HT_DOWN, HT_DOWN, HT_DOWN};
static const int sys_levers[] = {HAK_K_CHUNK_POOL_PAGES,  HAK_K_RELEASE_DELAY_MS, HAK_K_RETAIN_PCT,
                                 HAK_K_LARGE_CACHE_BYTES, HAK_K_ALIGN_MODE,       HAK_K_THP_MIN};
static const ht_dir_t sys_dirs[] = {HT_UP, HT_UP, HT_UP, HT_UP, HT_EITHER, HT_EITHER};
_Static_assert(sizeof rss_levers / sizeof rss_levers[0] == sizeof rss_dirs / sizeof rss_dirs[0],
               "a direction for every lever");
_Static_assert(sizeof sys_levers / sizeof sys_levers[0] == sizeof sys_dirs / sizeof sys_dirs[0],
               "a direction for every lever");

typedef struct {
    double frac, bound;
    ht_cand_t *best; /* NULL: nothing met the bound */
    ht_confirm_t cf;
    bool confirmed; /* every pair ran and the bound held on their medians */
    char path[4200];
} point_t;

typedef struct {
    const char *name, *lib, *color;
    bool installed;
    double metric, rss_kb, sys; /* medians */
    double ratio;               /* metric over the default's of the same rounds */
    int ok;
} peer_t;

static void set_bound(ht_tuner_t *t, bool rss, double bound) {
    if (rss) {
        t->max_rss_mib = bound;
    } else {
        t->sys_cap = t->cap_seconds = true;
        t->sys_rel = false;
        t->max_sys_s = bound;
    }
    ht_rejudge(t);
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* One run of the default or of a peer, replayed from the log when it has
 * it. */
static bool peer_run(ht_tuner_t *t, const peer_t *p, int round, ht_run_t *r) {
    if (*t->stop) {
        t->interrupted = true;
        return false;
    }
    if (p->lib == t->runner.lib) {
        ht_profile_t d = t->defaults;
        if (ht_log_replay(t->log, &d, r)) return true;
        ht_run(&t->runner, &d, r);
        if (r->st == HR_INTERRUPTED) {
            t->interrupted = true;
            return false;
        }
        ht_log_run(t->log, &d, HT_PHASE_PEER, 0, round, r);
        return true;
    }
    if (ht_log_replay_peer(t->log, p->name, r)) return true;
    ht_run_peer(&t->runner, p->lib, r);
    if (r->st == HR_INTERRUPTED) {
        t->interrupted = true;
        return false;
    }
    ht_log_peer(t->log, p->name, round, r);
    return true;
}

/* The default (hakmem's default profile) and every installed peer, in
 * rounds, the order rotated each round, so that a drift of the machine
 * favours none. */
static int measure_peers(ht_tuner_t *t, peer_t *peers) {
    int n = 0;
    peers[n++] = (peer_t){"hakmem default", t->runner.lib, "#000", true, NAN, NAN, NAN, NAN, 0};
    peers[n++] = (peer_t){"glibc", NULL, "#7f7f7f", true, NAN, NAN, NAN, NAN, 0};
    for (int i = 0; i < HR_NPEERS; i++) {
        bool there = access(hr_peers[i].lib, R_OK) == 0;
        peers[n++] = (peer_t){
            hr_peers[i].name, hr_peers[i].lib, hr_peers[i].color, there, NAN, NAN, NAN, NAN, 0};
        if (!there && !t->quiet)
            fprintf(stderr, "front: %s is not installed (%s missing; apt-get install %s)\n",
                    hr_peers[i].name, hr_peers[i].lib, hr_peers[i].package);
    }
    double v[HR_NPEERS + 2][3][PEER_ROUNDS];
    int got[HR_NPEERS + 2] = {0};
    for (int round = 0; round < PEER_ROUNDS && !t->interrupted; round++) {
        for (int j = 0; j < n && !t->interrupted; j++) {
            int i = (j + round) % n;
            if (!peers[i].installed) continue;
            ht_run_t r;
            if (!peer_run(t, &peers[i], round + 1, &r)) break;
            if (!t->quiet)
                fprintf(stderr, "front: reference %d/%d: %s %s\n", round + 1, PEER_ROUNDS,
                        peers[i].name, r.st == HR_OK ? "ok" : r.reason);
            if (r.st != HR_OK) continue;
            v[i][0][got[i]] = r.metric;
            v[i][1][got[i]] = r.rss_kb;
            v[i][2][got[i]] = r.sys;
            got[i]++;
        }
    }
    for (int i = 0; i < n; i++) {
        peers[i].ok = got[i];
        peers[i].metric = hr_median(v[i][0], got[i]);
        peers[i].rss_kb = hr_median(v[i][1], got[i]);
        peers[i].sys = hr_median(v[i][2], got[i]);
    }
    for (int i = 0; i < n; i++)
        peers[i].ratio = peers[0].metric > 0 ? peers[i].metric / peers[0].metric : NAN;
    return n;
}

/* "front-rss-96m.cfg" beside OUTPUT. */
static void point_path(const char *output, bool rss, double bound, char *buf, size_t cap) {
    size_t n = strlen(output);
    if (n > 4 && strcmp(output + n - 4, ".cfg") == 0) n -= 4;
    if (rss)
        ht_fmt(buf, cap, "%.*s-rss-%.0fm.cfg", (int)n, output, bound);
    else
        ht_fmt(buf, cap, "%.*s-sys-%.3gs.cfg", (int)n, output, bound);
}

static void write_table(FILE *f, const ht_tuner_t *t, bool rss, const point_t *pts, int np,
                        const peer_t *peers, int npeers) {
    const char *unit = rss ? "MiB" : "s";
    fprintf(f,
            "| point | bound (%s) | profile | throughput / default (min-max) | peak RSS (MiB) "
            "| sys (s) | confirmed | knobs (vs default) |\n",
            unit);
    fprintf(f, "|---|---:|---|---|---:|---:|---|---|\n");
    for (int i = 0; i < np; i++) {
        const point_t *p = &pts[i];
        char diff[512] = "-";
        if (p->best) ht_profile_diff(&p->best->p, &t->defaults, diff, sizeof diff);
        const char *base = strrchr(p->path, '/');
        base = base ? base + 1 : p->path;
        if (!p->best) {
            fprintf(f, "| %.2g x default | %.4g | - | nothing met the bound | - | - | - | - |\n",
                    p->frac, p->bound);
        } else if (p->cf.pairs) {
            fprintf(
                f, "| %.2g x default | %.4g | %s | x%.3f (%.3f-%.3f) | %.1f | %.3f | %s | %s |\n",
                p->frac, p->bound, base, p->cf.ratio_med, p->cf.ratio_min, p->cf.ratio_max,
                p->cf.w_rss / 1024, p->cf.w_sys, p->confirmed ? "yes" : "no: see its header", diff);
        } else {
            fprintf(f, "| %.2g x default | %.4g | %s | x%.3f (search) | %.1f | %.3f | %s | %s |\n",
                    p->frac, p->bound, base, p->best->metric / t->def->metric,
                    p->best->rss_kb / 1024, p->best->sys,
                    p->best == t->def ? "the default" : "not confirmed", diff);
        }
    }
    for (int i = 0; i < npeers; i++) {
        const peer_t *p = &peers[i];
        if (!p->installed || !p->ok)
            fprintf(f, "| %s | - | - | %s | - | - | - | - |\n", p->name,
                    p->installed ? "did not run" : "not installed");
        else
            fprintf(f, "| %s | - | - | x%.3f (median of %d rounds) | %.1f | %.3f | - | - |\n",
                    p->name, p->ratio, p->ok, p->rss_kb / 1024, p->sys);
    }
}

int ht_front(ht_tuner_t *t, const ht_front_opts_t *o, const ht_origin_t *origin) {
    bool rss = strcmp(o->kind, "rss") == 0;
    const char *what = rss ? "peak RSS" : "kernel seconds";
    double base = rss ? t->def->rss_kb / 1024 : t->def->sys;
    if (!(base > 0)) {
        fprintf(stderr,
                "hak-tune: --front %s: the default's median %s is %g: there is nothing to bound; "
                "give the workload more to do\n",
                o->kind, what, base);
        return 1;
    }
    int np = o->nfracs;
    point_t *pts = calloc((size_t)np, sizeof *pts);
    if (!pts) abort();
    double fr[16];
    memcpy(fr, o->fracs, (size_t)np * sizeof *fr);
    qsort(fr, (size_t)np, sizeof *fr, cmp_desc); /* loosest first */
    for (int i = 0; i < np; i++) {
        pts[i].frac = fr[i];
        pts[i].bound = fr[i] * base;
        point_path(o->output, rss, pts[i].bound, pts[i].path, sizeof pts[i].path);
    }
    if (!t->quiet)
        fprintf(stderr,
                "front: %d bounds on %s from %.3g to %.3g %s (%.2g to %.2g x the default's "
                "%.3g), %d evaluations shared among them\n",
                np, what, pts[np - 1].bound, pts[0].bound, rss ? "MiB" : "s", fr[np - 1], fr[0],
                base, t->max_evals);

    /* The searches leave time for every point's confirmation and the
     * peers' rounds: the search's own reserve covers one confirmation. */
    double budget = t->time_budget;
    double run = t->def->wall;
    if (budget > 0) {
        double later = (np - 1) * ht_confirm_cost(t) + PEER_ROUNDS * (HR_NPEERS + 2) * run;
        t->time_budget = fmax(hr_now() - t->t_start + run, budget - later);
    }
    int total = t->max_evals, start = t->evals;
    int per = total / np > MIN_PER_POINT ? total / np : MIN_PER_POINT;
    for (int i = 0; i < np && !t->interrupted; i++) {
        set_bound(t, rss, pts[i].bound);
        t->max_evals = start + per * (i + 1);
        if (!t->quiet)
            fprintf(stderr, "front: point %d of %d: %s <= %.4g %s, evaluations up to %d\n", i + 1,
                    np, what, pts[i].bound, rss ? "MiB" : "s", t->max_evals);
        if (i == 0) {
            ht_search(t);
            continue;
        }
        /* Nothing measured meets this bound: the knobs that lower the
         * bounded figure first, then the search from where they led. */
        if (!t->best) {
            if (rss)
                ht_search_toward(t, rss_levers, rss_dirs,
                                 (int)(sizeof rss_levers / sizeof *rss_levers));
            else
                ht_search_toward(t, sys_levers, sys_dirs,
                                 (int)(sizeof sys_levers / sizeof *sys_levers));
        }
        ht_search_again(t);
    }
    t->time_budget = budget;
    t->max_evals = total;

    int status = 0;
    for (int i = 0; i < np && !t->interrupted; i++) {
        point_t *p = &pts[i];
        set_bound(t, rss, p->bound);
        p->best = t->best;
        if (!p->best || p->best == t->def) continue;
        if (!t->quiet)
            fprintf(stderr, "front: confirming point %d (%s <= %.4g), evaluation %d\n", i + 1, what,
                    p->bound, p->best->eval);
        ht_confirm(t, p->best, &p->cf);
        /* A point of the front is a trade, not a claim to beat the
         * default: it is confirmed when every run succeeded and the bound
         * held on the pairs' medians. */
        p->confirmed = p->cf.done && p->cf.w_ok && p->cf.w_feasible;
        p->cf.adopted = p->confirmed;
        ht_fmt(p->cf.verdict, sizeof p->cf.verdict,
               "%s: throughput x%.3f (min %.3f, max %.3f) of the default in %d pairs, %s %.4g "
               "against the bound %.4g",
               p->confirmed ? "point confirmed" : "point NOT confirmed", p->cf.ratio_med,
               p->cf.ratio_min, p->cf.ratio_max, p->cf.pairs, what,
               rss ? p->cf.w_rss / 1024 : p->cf.w_sys, p->bound);
    }
    if (t->interrupted) status = 130;

    peer_t peers[HR_NPEERS + 2];
    int npeers = t->interrupted ? 0 : measure_peers(t, peers);
    if (t->interrupted) status = 130;

    /* One profile per point, its header naming its bound. */
    for (int i = 0; i < np; i++) {
        point_t *p = &pts[i];
        if (!p->best) continue;
        set_bound(t, rss, p->bound);
        char front_line[300];
        ht_fmt(front_line, sizeof front_line,
               "%s, point %d of %d: %s <= %.4g %s (%.2g x the default's %.4g)", o->kind, i + 1, np,
               what, p->bound, rss ? "MiB" : "s", p->frac, base);
        ht_origin_t org = *origin;
        org.front = front_line;
        if (!ht_write_profile(t, p->path, &p->best->p, p->best, p->cf.pairs ? &p->cf : NULL, &org))
            status = status ? status : 1;
    }

    char md[4200];
    size_t n = strlen(o->output);
    if (n > 4 && strcmp(o->output + n - 4, ".cfg") == 0) n -= 4;
    ht_fmt(md, sizeof md, "%.*s.front.md", (int)n, o->output);
    FILE *f = fopen(md, "w");
    if (f) {
        fprintf(f, "# hak-tune --front %s: %s\n\n", o->kind, origin->command);
        write_table(f, t, rss, pts, np, peers, npeers);
        if (fclose(f) != 0) status = status ? status : 1;
    } else {
        fprintf(stderr, "hak-tune: cannot write %s: %s\n", md, strerror(errno));
        status = status ? status : 1;
    }
    printf("\nhak-tune --front %s: %d evaluations, %d runs made, %d replayed\n", o->kind, t->evals,
           t->runs_made, t->runs_replayed);
    write_table(stdout, t, rss, pts, np, peers, npeers);

    ht_front_mark_t marks[16 + HR_NPEERS + 2];
    int nm = 0;
    char labels[16][64];
    for (int i = np - 1; i >= 0; i--) {
        const point_t *p = &pts[i];
        if (!p->best) continue;
        ht_fmt(labels[i], sizeof labels[i], "%.2g x", p->frac);
        double x = p->cf.pairs ? (rss ? p->cf.w_rss / 1024 : p->cf.w_sys)
                               : (rss ? p->best->rss_kb / 1024 : p->best->sys);
        double y = p->cf.pairs ? p->cf.ratio_med : p->best->metric / t->def->metric;
        marks[nm++] =
            (ht_front_mark_t){labels[i], x, y, p->confirmed || p->best == t->def, false, NULL};
    }
    for (int i = 0; i < npeers; i++) {
        if (!peers[i].ok) continue;
        marks[nm++] = (ht_front_mark_t){peers[i].name,  rss ? peers[i].rss_kb / 1024 : peers[i].sys,
                                        peers[i].ratio, true,
                                        i > 0,          peers[i].color};
    }
    char title[1200], xl[64];
    ht_fmt(title, sizeof title, "hak-tune --front %s: %s", o->kind, origin->command);
    ht_fmt(xl, sizeof xl, "%s", rss ? "peak RSS, MiB" : "kernel time, s");
    if (!ht_write_front_svg(o->svg, title, xl, marks, nm)) {
        fprintf(stderr, "hak-tune: cannot write %s: %s\n", o->svg, strerror(errno));
        status = status ? status : 1;
    }
    if (o->report) {
        ht_report_t rep = {title, NULL, NULL, o->svg, md, origin, NULL};
        if (!ht_write_report(t, o->report, NULL, &rep)) status = status ? status : 1;
    }
    int written = 0;
    for (int i = 0; i < np; i++) written += pts[i].best != NULL;
    printf("wrote %d profile%s (", written, written == 1 ? "" : "s");
    for (int i = 0, k = 0; i < np; i++)
        if (pts[i].best) printf("%s%s", k++ ? ", " : "", pts[i].path);
    printf("), table %s, plot %s%s%s\n", md, o->svg, o->report ? ", report in " : "",
           o->report ? o->report : "");
    free(pts);
    return status;
}
