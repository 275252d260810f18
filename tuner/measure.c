/* measure.c — turning noisy runs into judgements: calibration on the
 * default, a candidate's repeated runs and their medians, extra runs for
 * candidates that could win, the cache of measured points, the budget, and
 * the final interleaved confirmation against the default.
 *
 * The machine is shared and a run's throughput can move by a quarter from
 * one run to the next, so nothing here trusts one run: a candidate is its
 * median, the noise it is judged against comes from repeated runs of the
 * default, and the gain reported is the median of paired ratios measured
 * side by side. */
#include "tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t ht_rand(ht_tuner_t *t) {
    uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double ht_rand01(ht_tuner_t *t) {
    return (double)(ht_rand(t) >> 11) * (1.0 / 9007199254740992.0);
}

double ht_cap_value(const ht_tuner_t *t, double sysfrac, double sys) {
    return t->cap_seconds ? sys : sysfrac;
}

/* The relative cap's limit: the default's median and a tolerance for
 * the noise of kernel time, which the kernel samples by its tick (4 ms): a
 * candidate that spends what the default spends must not break it by
 * chance. */
double ht_cap_limit(const ht_tuner_t *t, const ht_fig_t *ref) {
    if (!t->sys_rel) return t->cap_seconds ? t->max_sys_s : t->max_sys_frac;
    if (!ref) return NAN;
    double v = t->cap_seconds ? ref->sys : ref->sysfrac;
    return v * (1 + t->sys_rel_tol) + t->sys_rel_abs;
}

ht_fig_t ht_ref(const ht_tuner_t *t) {
    return t->def ? ht_cand_fig(t->def) : (ht_fig_t){NAN, NAN, NAN, NAN};
}

static double sysfrac_of(const ht_run_t *r) {
    double cpu = r->user + r->sys;
    return cpu > 0 ? r->sys / cpu : 0;
}

/* ---- the objective and the constraints --------------------------------------- */

static const char *const objective_names[] = {"throughput", "rss", "sys"};

const char *ht_objective_name(ht_objective_t o) {
    return o <= HT_OBJ_SYS ? objective_names[o] : "?";
}

bool ht_objective_parse(const char *name, ht_objective_t *out) {
    for (int i = 0; i <= HT_OBJ_SYS; i++)
        if (strcmp(objective_names[i], name) == 0) {
            *out = (ht_objective_t)i;
            return true;
        }
    return false;
}

/* Kernel seconds come in scheduler ticks and may be 0: ratios of them get
 * a millisecond on both sides. */
#define SYS_EPS 0.001
/* Five ticks of 4 ms: what a relative kernel-time cap allows beyond the
 * default's median whatever its spread. */
#define TICKS_S 0.020

double ht_obj_of(const ht_tuner_t *t, double metric, double sys, double rss_kb) {
    switch (t->objective) {
    case HT_OBJ_RSS:
        return rss_kb;
    case HT_OBJ_SYS:
        return sys;
    case HT_OBJ_THROUGHPUT:
        break;
    }
    return metric;
}

double ht_obj_ratio(const ht_tuner_t *t, double v, double ref) {
    double eps = t->objective == HT_OBJ_SYS ? SYS_EPS : 0;
    return ref + eps > 0 ? (v + eps) / (ref + eps) : NAN;
}

double ht_obj_gain(const ht_tuner_t *t, double v, double ref) {
    double r = ht_obj_ratio(t, v, ref);
    if (t->objective == HT_OBJ_THROUGHPUT) return r;
    return r > 0 ? 1 / r : r == 0 ? INFINITY : NAN;
}

const char *ht_obj_label(const ht_tuner_t *t) {
    return t->objective == HT_OBJ_RSS   ? "peak RSS"
           : t->objective == HT_OBJ_SYS ? "kernel time"
                                        : "throughput";
}

ht_fig_t ht_cand_fig(const ht_cand_t *c) {
    return (ht_fig_t){c->metric, c->sysfrac, c->sys, c->rss_kb};
}

bool ht_con_active(const ht_tuner_t *t, ht_con_t k) {
    switch (k) {
    case HT_CON_SYS:
        return t->sys_cap;
    case HT_CON_RSS:
        return t->max_rss_mib > 0;
    case HT_CON_FLOOR:
        return t->objective != HT_OBJ_THROUGHPUT;
    case HT_CON_COUNT:
        break;
    }
    return false;
}

double ht_con_value(const ht_tuner_t *t, ht_con_t k, const ht_fig_t *f) {
    switch (k) {
    case HT_CON_SYS:
        return ht_cap_value(t, f->sysfrac, f->sys);
    case HT_CON_RSS:
        return f->rss_kb / 1024;
    case HT_CON_FLOOR:
    case HT_CON_COUNT:
        break;
    }
    return f->metric;
}

double ht_con_limit(const ht_tuner_t *t, ht_con_t k, const ht_fig_t *ref) {
    switch (k) {
    case HT_CON_SYS:
        return ht_cap_limit(t, ref);
    case HT_CON_RSS:
        return t->max_rss_mib;
    case HT_CON_FLOOR:
    case HT_CON_COUNT:
        break;
    }
    return t->min_tput_frac * ref->metric;
}

double ht_con_excess(const ht_tuner_t *t, ht_con_t k, const ht_fig_t *f, const ht_fig_t *ref) {
    double v = ht_con_value(t, k, f), lim = ht_con_limit(t, k, ref);
    if (!isfinite(v) || !(lim > 0)) return 1;
    return k == HT_CON_FLOOR ? (lim - v) / lim : (v - lim) / lim;
}

double ht_excess(const ht_tuner_t *t, const ht_fig_t *f, const ht_fig_t *ref) {
    double worst = -1;
    for (int k = 0; k < HT_CON_COUNT; k++)
        if (ht_con_active(t, (ht_con_t)k))
            worst = fmax(worst, ht_con_excess(t, (ht_con_t)k, f, ref));
    return worst;
}

static void con_text(const ht_tuner_t *t, ht_con_t k, const ht_fig_t *f, const ht_fig_t *ref,
                     char *buf, size_t cap) {
    double lim = ht_con_limit(t, k, ref);
    const char *what = t->cap_seconds ? "sys seconds" : "sys/(user+sys)";
    switch (k) {
    case HT_CON_SYS:
        if (f)
            ht_fmt(buf, cap, "%s %.3g > %s %.3g", what, ht_con_value(t, k, f),
                   t->sys_rel ? "the default's" : "cap", lim);
        else if (!t->sys_rel)
            ht_fmt(buf, cap, "%s <= %.3g", what, lim);
        else if (isfinite(lim))
            ht_fmt(buf, cap, "%s <= %.3g (the default's median %.3g + %.0f%% + %.3g for its noise)",
                   what, lim, t->cap_seconds ? ref->sys : ref->sysfrac, 100 * t->sys_rel_tol,
                   t->sys_rel_abs);
        else
            ht_fmt(buf, cap, "%s <= the default's median (+ a tolerance for its noise)", what);
        break;
    case HT_CON_RSS:
        if (f)
            ht_fmt(buf, cap, "peak RSS %.1f MiB > cap %.4g MiB", ht_con_value(t, k, f), lim);
        else
            ht_fmt(buf, cap, "peak RSS <= %.4g MiB", lim);
        break;
    case HT_CON_FLOOR:
    case HT_CON_COUNT:
        if (f)
            ht_fmt(buf, cap, "throughput x%.3f of the default < floor %.3g",
                   ref->metric > 0 ? f->metric / ref->metric : NAN, t->min_tput_frac);
        else
            ht_fmt(buf, cap, "throughput >= %.3g x default", t->min_tput_frac);
        break;
    }
}

void ht_excess_text(const ht_tuner_t *t, const ht_fig_t *f, const ht_fig_t *ref, char *buf,
                    size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < HT_CON_COUNT && n + 1 < cap; k++) {
        if (!ht_con_active(t, (ht_con_t)k) || ht_con_excess(t, (ht_con_t)k, f, ref) <= 0) continue;
        if (n) n += (size_t)snprintf(buf + n, cap - n, "; ");
        if (n < cap) con_text(t, (ht_con_t)k, f, ref, buf + n, cap - n);
        n = strlen(buf);
    }
}

void ht_constraints_text(const ht_tuner_t *t, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    ht_fig_t ref = ht_ref(t);
    for (int k = HT_CON_COUNT - 1; k >= 0 && n + 1 < cap; k--) {
        if (!ht_con_active(t, (ht_con_t)k)) continue;
        if (n) n += (size_t)snprintf(buf + n, cap - n, "; ");
        if (n < cap) con_text(t, (ht_con_t)k, NULL, &ref, buf + n, cap - n);
        n = strlen(buf);
    }
    if (!buf[0]) snprintf(buf, cap, "none");
}

bool ht_clearly_feasible(const ht_tuner_t *t, const ht_cand_t *c) {
    if (!c->feasible || !t->def) return false;
    ht_fig_t f = ht_cand_fig(c), ref = ht_ref(t);
    for (int k = 0; k < HT_CON_COUNT; k++) {
        if (!ht_con_active(t, (ht_con_t)k)) continue;
        double margin = k == HT_CON_FLOOR ? (1 - t->min_tput_frac) / 2 / t->min_tput_frac : 0.2;
        if (ht_con_excess(t, (ht_con_t)k, &f, &ref) > -margin) return false;
    }
    return true;
}

/* A capped candidate ran fine as far as it went, but slower than the best
 * by the margin: after every candidate that ran to the end, before every
 * failure. */
static int rank_of(const ht_cand_t *c) {
    return c->feasible ? 0 : c->violates ? 1 : c->st == HR_CAPPED ? 2 : 3;
}

bool ht_better(const ht_tuner_t *t, const ht_cand_t *a, const ht_cand_t *b) {
    int ra = rank_of(a), rb = rank_of(b);
    if (ra != rb) return ra < rb;
    if (ra == 0) return ht_obj_gain(t, a->obj, b->obj) > 1;
    if (ra == 1) return a->excess < b->excess;
    if (ra == 2) return a->bound > b->bound;
    return false;
}

ht_cand_t *ht_find(ht_tuner_t *t, const ht_profile_t *p) {
    for (int i = 0; i < t->ncands; i++)
        if (ht_profile_equal(&t->cands[i]->p, p)) return t->cands[i];
    return NULL;
}

static ht_cand_t *cand_new(ht_tuner_t *t, const ht_profile_t *p, const char *origin) {
    if (t->ncands == t->capcands) {
        t->capcands = t->capcands ? 2 * t->capcands : 64;
        t->cands = realloc(t->cands, (size_t)t->capcands * sizeof *t->cands);
        if (!t->cands) abort();
    }
    ht_cand_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->p = *p;
    snprintf(c->origin, sizeof c->origin, "%s", origin);
    c->metric = c->metric_min = c->metric_max = c->best_after = NAN;
    c->obj = c->obj_min = c->obj_max = c->excess = c->wall = c->bound = NAN;
    t->cands[t->ncands++] = c;
    return c;
}

static void cand_drop_last(ht_tuner_t *t) {
    ht_cand_t *c = t->cands[--t->ncands];
    free(c->runs);
    free(c);
}

static void cand_add_run(ht_cand_t *c, const ht_run_t *r) {
    if (c->nruns == c->caproom) {
        c->caproom = c->caproom ? 2 * c->caproom : 8;
        c->runs = realloc(c->runs, (size_t)c->caproom * sizeof *c->runs);
        if (!c->runs) abort();
    }
    c->runs[c->nruns++] = *r;
}

/* One run of p: replayed from the log when it holds one, else made and
 * logged. False when the user interrupted. */
static bool one_run(ht_tuner_t *t, const ht_profile_t *p, ht_phase_t phase, int eval, int repeat,
                    ht_run_t *r, bool *replayed) {
    *replayed = false;
    if (*t->stop) {
        t->interrupted = true;
        return false;
    }
    if (ht_log_replay(t->log, p, r)) {
        *replayed = true;
        t->runs_replayed++;
        t->spent_wall += r->wall;
        return true;
    }
    double t0 = hr_now();
    ht_run(&t->runner, p, r);
    if (r->st == HR_INTERRUPTED) {
        t->interrupted = true;
        return false;
    }
    t->measured_s += hr_now() - t0;
    t->spent_wall += r->wall;
    t->runs_made++;
    ht_log_run(t->log, p, phase, eval, repeat, r);
    return true;
}

static void summarize(ht_tuner_t *t, ht_cand_t *c) {
    int n = 0;
    double *m = malloc(((size_t)c->nruns + 1) * 7 * sizeof *m);
    if (!m) abort();
    double *sf = m + c->nruns + 1, *sy = sf + c->nruns + 1, *us = sy + c->nruns + 1,
           *rs = us + c->nruns + 1, *ob = rs + c->nruns + 1, *wa = ob + c->nruns + 1;
    c->st = HR_OK;
    c->reason[0] = '\0';
    c->bound = NAN;
    for (int i = 0; i < c->nruns; i++) {
        const ht_run_t *r = &c->runs[i];
        if (r->st != HR_OK) {
            if (c->st == HR_OK) {
                c->st = r->st;
                snprintf(c->reason, sizeof c->reason, "%s", r->reason);
                if (r->st == HR_CAPPED && r->wall > 0) c->bound = 1 / r->wall;
            }
            continue;
        }
        wa[n] = r->wall;
        m[n] = r->metric;
        sf[n] = sysfrac_of(r);
        sy[n] = r->sys;
        us[n] = r->user;
        rs[n] = r->rss_kb;
        ob[n] = ht_obj_of(t, r->metric, r->sys, r->rss_kb);
        n++;
    }
    c->metric = hr_median_range(m, n, &c->metric_min, &c->metric_max);
    c->sysfrac = hr_median(sf, n);
    c->sys = hr_median(sy, n);
    c->user = hr_median(us, n);
    c->rss_kb = hr_median(rs, n);
    c->obj = hr_median_range(ob, n, &c->obj_min, &c->obj_max);
    c->wall = hr_median(wa, n);
    c->served = 0;
    for (int i = 0; i < c->nruns; i++)
        if (c->runs[i].st == HR_OK) c->served = fmax(c->served, c->runs[i].served);
    free(m);
    /* The floor and a relative cap are relative to the default's
     * calibrated medians: while the default itself is summarised, those
     * are its own. */
    ht_fig_t f = ht_cand_fig(c), ref = t->def ? ht_cand_fig(t->def) : f;
    c->excess = n > 0 ? ht_excess(t, &f, &ref) : NAN;
    c->violates = c->st == HR_OK && n > 0 && c->excess > 0;
    c->feasible = c->st == HR_OK && n > 0 && !c->violates;
}

/* log of a run's objective measure, NAN when it has none (kernel seconds
 * get SYS_EPS, as in their ratios). */
static double obj_log(const ht_tuner_t *t, const ht_run_t *r) {
    if (r->st != HR_OK) return NAN;
    double v = ht_obj_of(t, r->metric, r->sys, r->rss_kb);
    if (t->objective == HT_OBJ_SYS) v += SYS_EPS;
    return v > 0 ? log(v) : NAN;
}

/* The machine's noise changes while a search runs (other jobs come and
 * go), so the calibration's estimate is raised when the repeats of all
 * candidates show more: the pooled standard deviation of the log of the
 * objective's measure, once it rests on at least 10 degrees of freedom. */
static void update_noise(ht_tuner_t *t) {
    double ss = 0;
    int dof = 0;
    for (int i = 0; i < t->ncands; i++) {
        const ht_cand_t *c = t->cands[i];
        double sum = 0;
        int n = 0;
        for (int j = 0; j < c->nruns; j++) {
            double l = obj_log(t, &c->runs[j]);
            if (isfinite(l)) sum += l, n++;
        }
        if (n < 2) continue;
        double mean = sum / n;
        for (int j = 0; j < c->nruns; j++) {
            double l = obj_log(t, &c->runs[j]);
            if (isfinite(l)) ss += (l - mean) * (l - mean);
        }
        dof += n - 1;
    }
    t->noise_pooled = dof >= 10 ? sqrt(ss / dof) : 0;
    t->noise = fmax(t->noise_calib, t->noise_pooled);
}

/* Worth more runs: it ran, it does not clearly break a constraint (by a
 * quarter of the limit), and within the noise it could beat the best. Runs
 * spent here decide the winner; runs spent on clear losers would not. */
static bool could_win(const ht_tuner_t *t, const ht_cand_t *c) {
    if (c->st != HR_OK) return false;
    if (c->excess > 0.25) return false;
    if (t->best == NULL) return true;
    return ht_obj_gain(t, c->obj, t->best->obj) >= 1.0 - 2.0 * t->noise;
}

static void recheck_default(ht_tuner_t *t);

ht_cand_t *ht_evaluate(ht_tuner_t *t, const ht_profile_t *p, const char *origin) {
    ht_cand_t *c = ht_find(t, p);
    if (c) {
        t->cache_hits++;
        return c;
    }
    if (!ht_budget_left(t)) return NULL;
    c = cand_new(t, p, origin);
    c->eval = t->analysing ? -++t->analysed : ++t->evals;
    double t0 = hr_now();
    int made = 0;
    for (int round = 0; round < 2; round++) {
        int want = round == 0 && !t->careful ? t->repeats : t->max_repeats;
        while (c->nruns < want) {
            ht_run_t r;
            bool replayed;
            t->runner.cap_s = ht_cap_time(t);
            bool ran = one_run(t, p, HT_PHASE_SEARCH, c->eval, c->nruns + 1, &r, &replayed);
            t->runner.cap_s = 0;
            if (!ran) {
                /* Half a measurement is no measurement: forget it, so a
                 * resumed tuner measures it whole. */
                cand_drop_last(t);
                if (t->analysing)
                    t->analysed--;
                else
                    t->evals--;
                return NULL;
            }
            made += !replayed;
            c->nreplayed += replayed;
            cand_add_run(c, &r);
            t->capped_runs += r.st == HR_CAPPED;
            /* A crash or a hang is not averaged away; a capped run says
             * enough: it cannot win. */
            if (r.st != HR_OK) break;
        }
        summarize(t, c);
        update_noise(t);
        ht_spend_by_noise(t);
        /* What mattered's variants are not racing for the win: their
         * first runs say what they need to. */
        if (round == 0 && (t->analysing || !could_win(t, c))) break;
    }
    c->seconds = hr_now() - t0;
    if (made) t->measured_evals++;
    /* What mattered's variants describe the winner; they do not compete
     * with it (a variant that beats it is reported as such). */
    if (!t->analysing && c->feasible &&
        (t->best == NULL || ht_obj_gain(t, c->obj, t->best->obj) > 1))
        t->best = c;
    c->best_after = t->best ? t->best->obj : NAN;
    ht_progress(t, c);
    recheck_default(t);
    return c;
}

void ht_remeasure(ht_tuner_t *t, ht_cand_t *c, int runs) {
    if (c->st != HR_OK) return;
    while (c->nruns < runs) {
        ht_run_t r;
        bool replayed;
        t->runner.cap_s = 0;
        if (!one_run(t, &c->p, HT_PHASE_SEARCH, c->eval, c->nruns + 1, &r, &replayed)) return;
        c->nreplayed += replayed;
        cand_add_run(c, &r);
        if (r.st != HR_OK) break;
    }
    summarize(t, c);
    update_noise(t);
}

void ht_rejudge(ht_tuner_t *t) {
    t->best = NULL;
    if (t->def) summarize(t, t->def);
    for (int i = 0; i < t->ncands; i++) {
        ht_cand_t *c = t->cands[i];
        if (c != t->def) summarize(t, c);
        if (c->eval >= 0 && c->feasible &&
            (t->best == NULL || ht_obj_gain(t, c->obj, t->best->obj) > 1))
            t->best = c;
    }
}

/* The machine's speed drifts over a search (other jobs, the host), and a
 * calibration taken at its start was seen to read the default 10-20 %
 * below what interleaved pairs measured minutes later, which let the
 * search pass candidates that then broke a throughput floor in
 * confirmation. So every recheck_every evaluations the default runs once
 * more, its figures become the median of its latest calib_runs runs, and
 * every candidate is judged again against them. A default far slower than
 * the candidates (whose runs capping cuts short) would eat the budget, so
 * it runs again only once the search has spent recheck_every of its run
 * times since the last. */
static void recheck_default(ht_tuner_t *t) {
    ht_cand_t *d = t->def;
    if (t->recheck_every <= 0 || d == NULL || t->analysing || t->evals % t->recheck_every != 0)
        return;
    /* Counted in the runs' own wall times, not the clock: a resumed
     * search replays them in no time and must recheck where this one did. */
    if (t->spent_wall - t->last_recheck < t->recheck_every * d->wall) return;
    ht_run_t r;
    bool replayed;
    if (!one_run(t, &d->p, HT_PHASE_CALIBRATE, 0, d->nruns + 1, &r, &replayed)) return;
    t->last_recheck = t->spent_wall;
    d->nreplayed += replayed;
    if (r.st != HR_OK) return; /* it ran before: a failure now is the machine's */
    if (d->nruns >= t->calib_runs) {
        memmove(d->runs, d->runs + 1, (size_t)(d->nruns - 1) * sizeof *d->runs);
        d->nruns--;
    }
    cand_add_run(d, &r);
    ht_rejudge(t);
    if (!t->quiet)
        fprintf(stderr, "recheck: default %.4g now (median of its last %d runs)\n", d->metric,
                d->nruns);
}

/* The relative spread of one run's VALUES around MID: the larger of two
 * estimates of a standard deviation, the MAD (robust) and the range over
 * its expected value for n normal samples (which a single slow run does
 * move: on a shared machine such runs are real). */
static double spread(const double *values, int n, double mid) {
    static const double expected_range[] = {0,     0,     1.128, 1.693, 2.059, 2.326,
                                            2.534, 2.704, 2.847, 2.970, 3.078};
    if (n < 2 || !(mid > 0)) return 0;
    double *dev = malloc((size_t)n * sizeof *dev);
    if (!dev) abort();
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        dev[i] = fabs(values[i] - mid);
        lo = fmin(lo, values[i]);
        hi = fmax(hi, values[i]);
    }
    double sd_mad = 1.4826 * hr_median(dev, n);
    double sd_range = (hi - lo) / (n <= 10 ? expected_range[n] : 3.078 + 0.5 * log(n / 10.0));
    free(dev);
    return fmax(sd_mad, sd_range) / mid;
}

/* The noise of one run of the objective, and the relative cap's tolerance,
 * from the default's runs so far. Five runs can look calm by chance; a
 * floor keeps that from making every difference look significant. */
static void calib_noise(ht_tuner_t *t, const ht_cand_t *d) {
    double eps = t->objective == HT_OBJ_SYS ? SYS_EPS : 0;
    double *v = malloc(((size_t)d->nruns + 1) * 3 * sizeof *v), *k = v + d->nruns + 1,
           *cpu = k + d->nruns + 1;
    if (!v) abort();
    int n = 0;
    for (int i = 0; i < d->nruns; i++) {
        const ht_run_t *r = &d->runs[i];
        if (r->st != HR_OK) continue;
        v[n] = ht_obj_of(t, r->metric, r->sys, r->rss_kb) + eps;
        k[n] = t->cap_seconds ? r->sys : sysfrac_of(r);
        cpu[n] = r->user + r->sys;
        n++;
    }
    t->noise_calib = fmax(0.01, spread(v, n, d->obj + eps));
    /* The relative cap: 10 % over the default's median, plus five ticks of
     * the kernel's sampling (a share of a short run moves in steps of a
     * tick over its CPU time, and a median of one or two runs is a few
     * ticks either way) or twice the spread of the default's own runs,
     * whichever is more. */
    double kmid = t->cap_seconds ? d->sys : d->sysfrac, c = hr_median(cpu, n);
    double ticks = t->cap_seconds ? TICKS_S : c > 0 ? fmin(0.5, TICKS_S / c) : 0.5;
    t->sys_rel_tol = 0.10;
    t->sys_rel_abs = fmax(ticks, 2 * spread(k, n, kmid) * kmid);
    free(v);
    update_noise(t);
}

/* The guide reads the median of each counter over the default's runs: one
 * run's counters can catch a burst. */
static void read_guide(ht_tuner_t *t, const ht_cand_t *d) {
    long long med[HAK_STAT_COUNT];
    double *v = malloc(((size_t)d->nruns + 1) * sizeof *v);
    if (!v) abort();
    bool have = false;
    for (int s = 0; s < HAK_STAT_COUNT; s++) {
        int n = 0;
        for (int i = 0; i < d->nruns; i++)
            if (d->runs[i].st == HR_OK && d->runs[i].have_stats)
                v[n++] = (double)d->runs[i].stats[s];
        have |= n > 0;
        med[s] = n ? (long long)llround(hr_median(v, n)) : 0;
    }
    free(v);
    ht_guide_read(&t->guide, med, have, d->wall);
}

bool ht_calibrate(ht_tuner_t *t) {
    ht_cand_t *d = cand_new(t, &t->defaults, "default");
    t->def = d;
    d->eval = 0;
    double t0 = hr_now();
    /* By the noise: three runs, and the rest of --calibrate only when
     * those three disagree by more than 2.5 %. */
    int want = t->calib_auto && t->calib_runs > 3 ? 3 : t->calib_runs;
    for (int i = 0; i < want; i++) {
        ht_run_t r;
        bool replayed;
        if (!one_run(t, &d->p, HT_PHASE_CALIBRATE, 0, i + 1, &r, &replayed)) {
            summarize(t, d);
            return false;
        }
        d->nreplayed += replayed;
        cand_add_run(d, &r);
        if (!t->quiet)
            fprintf(stderr, "calibrate %d/%d: %s%s\n", i + 1, want, r.st == HR_OK ? "ok" : r.reason,
                    replayed ? " (replayed)" : "");
        if (r.st != HR_OK) break;
        if (i + 1 == want && want < t->calib_runs) {
            summarize(t, d);
            calib_noise(t, d);
            if (t->noise_calib > 0.025) {
                if (!t->quiet)
                    fprintf(stderr,
                            "calibration: the default's runs spread by %.1f%%: %d runs more\n",
                            100 * t->noise_calib, t->calib_runs - want);
                want = t->calib_runs;
            }
        }
    }
    d->seconds = hr_now() - t0;
    t->last_recheck = t->spent_wall;
    summarize(t, d);
    if (d->st != HR_OK) return false;
    calib_noise(t, d);
    ht_spend_by_noise(t);
    summarize(t, d); /* the relative cap's tolerance is known now */
    if (d->feasible) t->best = d;
    d->best_after = t->best ? t->best->obj : NAN;
    read_guide(t, d);
    return true;
}

ht_cand_t *ht_least_excess(ht_tuner_t *t) {
    ht_cand_t *least = NULL;
    for (int i = 0; i < t->ncands; i++)
        if (t->cands[i]->violates && (!least || t->cands[i]->excess < least->excess))
            least = t->cands[i];
    return least;
}

/* ---- confirmation --------------------------------------------------------- */

/* After three pairs, whether the rest can change nothing: every run
 * succeeded and the tuned profile won each pair by more than the gain
 * asked for plus twice the noise of a run. */
static bool decisive(const ht_tuner_t *t, const ht_confirm_t *o) {
    double margin = 1 + t->min_gain + 2 * t->noise;
    for (int i = 0; i < o->pairs; i++) {
        double d = o->pdo[i], w = o->pwo[i];
        if (!isfinite(d) || !isfinite(w) || !(ht_obj_gain(t, w, d) >= margin)) return false;
    }
    return o->pairs >= 3;
}

void ht_confirm(ht_tuner_t *t, ht_cand_t *w, ht_confirm_t *o) {
    memset(o, 0, sizeof *o);
    o->eval = w->eval;
    int want = t->confirm_pairs;
    o->wanted = want;
    double *buf = calloc((size_t)want * 16 + 16, sizeof *buf);
    if (!buf) abort();
    double *wm = buf, *dm = wm + want + 1, *ratio = dm + want + 1, *wsf = ratio + want + 1,
           *dsf = wsf + want + 1, *wsy = dsf + want + 1, *dsy = wsy + want + 1,
           *wrs = dsy + want + 1, *drs = wrs + want + 1, *oratio = drs + want + 1,
           *wob = oratio + want + 1, *dob = wob + want + 1, *wex = dob + want + 1,
           *dex = wex + want + 1;
    int nw = 0, nd = 0, nr = 0, nx = 0, closer = 0;
    bool all_meet = true; /* the tuned profile met the constraints in every pair so far */
    o->w_ok = o->d_ok = true;
    for (int i = 0; i < HT_MAX_PAIRS; i++) o->pd[i] = o->pw[i] = o->pdo[i] = o->pwo[i] = NAN;
    for (int i = 0; i < want; i++) {
        /* A B, then B A: a machine getting slower or faster during the
         * pairs favours neither. */
        ht_run_t rw, rd;
        bool rep;
        bool wfirst = i % 2 == 1;
        bool ok = wfirst ? one_run(t, &w->p, HT_PHASE_CONFIRM, w->eval, i + 1, &rw, &rep) &&
                               one_run(t, &t->def->p, HT_PHASE_CONFIRM, 0, i + 1, &rd, &rep)
                         : one_run(t, &t->def->p, HT_PHASE_CONFIRM, 0, i + 1, &rd, &rep) &&
                               one_run(t, &w->p, HT_PHASE_CONFIRM, w->eval, i + 1, &rw, &rep);
        if (!ok) break;
        o->pairs++;
        double ow = ht_obj_of(t, rw.metric, rw.sys, rw.rss_kb);
        double od = ht_obj_of(t, rd.metric, rd.sys, rd.rss_kb);
        if (i < HT_MAX_PAIRS) {
            o->pd[i] = rd.st == HR_OK ? rd.metric : NAN;
            o->pw[i] = rw.st == HR_OK ? rw.metric : NAN;
            o->pdo[i] = rd.st == HR_OK ? od : NAN;
            o->pwo[i] = rw.st == HR_OK ? ow : NAN;
        }
        if (rw.st == HR_OK) {
            wm[nw] = rw.metric;
            wsf[nw] = sysfrac_of(&rw);
            wsy[nw] = rw.sys;
            wrs[nw] = rw.rss_kb;
            wob[nw] = ow;
            nw++;
        } else if (o->w_ok) {
            o->w_ok = false;
            ht_fmt(o->verdict, sizeof o->verdict, "the tuned profile failed in confirmation: %s",
                   rw.reason);
        }
        if (rd.st == HR_OK) {
            dm[nd] = rd.metric;
            dsf[nd] = sysfrac_of(&rd);
            dsy[nd] = rd.sys;
            drs[nd] = rd.rss_kb;
            dob[nd] = od;
            nd++;
        } else {
            o->d_ok = false;
        }
        bool both = rw.st == HR_OK && rd.st == HR_OK;
        if (both && rd.metric > 0) ratio[nr] = rw.metric / rd.metric;
        if (both && rd.metric > 0 && isfinite(ht_obj_ratio(t, ow, od))) {
            oratio[nr++] = ht_obj_ratio(t, ow, od);
            o->wins += ht_obj_gain(t, ow, od) > 1;
            /* Each pair's excess over the constraints, for a search that
             * could only come closer to them. */
            ht_fig_t pw = {rw.metric / rd.metric, sysfrac_of(&rw), rw.sys, rw.rss_kb};
            ht_fig_t pd = {1, sysfrac_of(&rd), rd.sys, rd.rss_kb};
            wex[nx] = ht_excess(t, &pw, &pd);
            dex[nx] = ht_excess(t, &pd, &pd);
            closer += wex[nx] < dex[nx];
            all_meet &= wex[nx] <= 0;
            nx++;
        }
        if (!t->quiet) {
            char a[32], b[32];
            ht_fmt_metric(rd.metric, a, sizeof a);
            ht_fmt_metric(rw.metric, b, sizeof b);
            fprintf(stderr, "confirm %d/%d: default %s, tuned %s", i + 1, want,
                    rd.st == HR_OK ? a : rd.reason, rw.st == HR_OK ? b : rw.reason);
            if (both && rd.metric > 0) fprintf(stderr, ", ratio %.3f", rw.metric / rd.metric);
            if (both && t->objective == HT_OBJ_RSS)
                fprintf(stderr, "; peak RSS default %.1f MiB, tuned %.1f MiB, ratio %.3f",
                        rd.rss_kb / 1024, rw.rss_kb / 1024, ht_obj_ratio(t, ow, od));
            if (both && t->objective == HT_OBJ_SYS)
                fprintf(stderr, "; sys default %.3f s, tuned %.3f s, ratio %.3f", rd.sys, rw.sys,
                        ht_obj_ratio(t, ow, od));
            fputc('\n', stderr);
        }
        /* Pairs cost two runs each, and a slow workload's are the largest
         * share of its budget: once three leave no doubt, the rest are
         * not made. */
        if (t->confirm_auto && i == 2 && want > 3 && all_meet && nx == 3 && decisive(t, o)) {
            if (!t->quiet)
                fprintf(stderr,
                        "confirm: 3 of 3 pairs won by more than %.0f%% each: the other %d are "
                        "not needed\n",
                        100 * (t->min_gain + 2 * t->noise), want - 3);
            want = o->pairs;
            break;
        }
    }
    o->done = o->pairs == want;
    o->oratio_med = hr_median_range(oratio, nr, &o->oratio_min, &o->oratio_max);
    o->ratio_med = hr_median_range(ratio, nr, &o->ratio_min, &o->ratio_max);
    o->w_metric = hr_median(wm, nw);
    o->d_metric = hr_median(dm, nd);
    o->w_sysfrac = hr_median(wsf, nw);
    o->d_sysfrac = hr_median(dsf, nd);
    o->w_sys = hr_median(wsy, nw);
    o->d_sys = hr_median(dsy, nd);
    o->w_rss = hr_median(wrs, nw);
    o->d_rss = hr_median(drs, nd);
    o->w_obj = hr_median(wob, nw);
    o->d_obj = hr_median(dob, nd);
    free(buf);
    /* Each side's medians against the constraints, relative to the
     * default's medians in these pairs; the floor against the pairs' own
     * ratios (the default is 1 by definition), which cancels a drift of the
     * machine since calibration. */
    ht_fig_t wf = {o->ratio_med, o->w_sysfrac, o->w_sys, o->w_rss};
    ht_fig_t df = {1, o->d_sysfrac, o->d_sys, o->d_rss};
    char broken[300] = "", dbroken[300] = "";
    o->w_excess = nr > 0 ? ht_excess(t, &wf, &df) : NAN;
    o->d_excess = nd > 0 ? ht_excess(t, &df, &df) : NAN;
    o->w_feasible = o->w_ok && nw > 0 && nr > 0 && o->w_excess <= 0;
    o->d_feasible = o->d_ok && nd > 0 && o->d_excess <= 0;
    int need = (3 * o->pairs + 3) / 4; /* at least three pairs in four */
    bool up = t->objective == HT_OBJ_THROUGHPUT;
    double goal = up ? 1.0 + t->min_gain : 1.0 / (1.0 + t->min_gain);
    const char *label = ht_obj_label(t);
    if (!o->done) {
        ht_fmt(o->verdict, sizeof o->verdict,
               "interrupted during confirmation after %d of %d pairs: not confirmed", o->pairs,
               want);
    } else if (!o->w_ok) {
        /* verdict already says which run failed */
    } else if (!o->w_feasible && !o->d_feasible && o->d_ok && nd > 0) {
        /* Neither meets them: the search could only come closer. */
        ht_excess_text(t, &wf, &df, broken, sizeof broken);
        ht_excess_text(t, &df, &df, dbroken, sizeof dbroken);
        if (o->w_excess < o->d_excess && closer >= need) {
            o->adopted = o->closer = true;
            ht_fmt(o->verdict, sizeof o->verdict,
                   "neither profile meets the constraints, but the tuned one comes closer (tuned: "
                   "%s; default: %s), closer in %d of %d pairs, %s x%.3f: writing the tuned "
                   "profile",
                   broken, dbroken, closer, o->pairs, label, o->oratio_med);
        } else {
            ht_fmt(o->verdict, sizeof o->verdict,
                   "neither profile meets the constraints and the tuned one does not come clearly "
                   "closer (tuned: %s; default: %s; closer in %d of %d pairs): writing the default",
                   broken, dbroken, closer, o->pairs);
        }
    } else if (!o->w_feasible) {
        ht_excess_text(t, &wf, &df, broken, sizeof broken);
        ht_fmt(o->verdict, sizeof o->verdict,
               "the tuned profile broke a constraint in confirmation (%s): writing the default",
               broken[0] ? broken : "no pair measured");
    } else if (!o->d_feasible) {
        o->adopted = true;
        ht_excess_text(t, &df, &df, broken, sizeof broken);
        ht_fmt(o->verdict, sizeof o->verdict,
               "the default breaks a constraint (%s) and the tuned profile meets them: writing the "
               "tuned profile",
               broken);
    } else if ((up ? o->oratio_med >= goal : o->oratio_med <= goal) && o->wins >= need) {
        o->adopted = true;
        ht_fmt(o->verdict, sizeof o->verdict,
               "tuned is better: %s median ratio %.3f (min %.3f, max %.3f), %s %d of %d pairs",
               label, o->oratio_med, o->oratio_min, o->oratio_max, up ? "won" : "lower in", o->wins,
               o->pairs);
    } else {
        ht_fmt(o->verdict, sizeof o->verdict,
               "tuned is not clearly better than the default: %s median ratio %.3f (min %.3f, max "
               "%.3f), %s %d of %d pairs (needed %s %.3f and %d): writing the default",
               label, o->oratio_med, o->oratio_min, o->oratio_max, up ? "won" : "lower in", o->wins,
               o->pairs, up ? ">=" : "<=", goal, need);
    }
}
