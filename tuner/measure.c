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
#include <time.h>

double ht_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t ht_rand(ht_tuner_t *t) {
    uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double ht_rand01(ht_tuner_t *t) {
    return (double)(ht_rand(t) >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ht_median(double *v, int n) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double ht_cap_value(const ht_tuner_t *t, double sysfrac, double sys) {
    return t->cap_seconds ? sys : sysfrac;
}

double ht_cap_limit(const ht_tuner_t *t) {
    return t->cap_seconds ? t->max_sys_s : t->max_sys_frac;
}

static double sysfrac_of(const ht_run_t *r) {
    double cpu = r->user + r->sys;
    return cpu > 0 ? r->sys / cpu : 0;
}

static int rank_of(const ht_cand_t *c) {
    return c->feasible ? 0 : c->over_cap ? 1 : 2;
}

bool ht_better(const ht_tuner_t *t, const ht_cand_t *a, const ht_cand_t *b) {
    int ra = rank_of(a), rb = rank_of(b);
    if (ra != rb) return ra < rb;
    if (ra == 0) return a->metric > b->metric;
    if (ra == 1) return ht_cap_value(t, a->sysfrac, a->sys) < ht_cap_value(t, b->sysfrac, b->sys);
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
        return true;
    }
    double t0 = ht_now();
    ht_run(&t->runner, p, r);
    if (r->st == HT_INTERRUPTED) {
        t->interrupted = true;
        return false;
    }
    t->measured_s += ht_now() - t0;
    t->runs_made++;
    ht_log_run(t->log, p, phase, eval, repeat, r);
    return true;
}

static void summarize(ht_tuner_t *t, ht_cand_t *c) {
    int n = 0;
    double *m = malloc(((size_t)c->nruns + 1) * 5 * sizeof *m);
    if (!m) abort();
    double *sf = m + c->nruns + 1, *sy = sf + c->nruns + 1, *us = sy + c->nruns + 1,
           *rs = us + c->nruns + 1;
    c->st = HT_OK;
    c->reason[0] = '\0';
    for (int i = 0; i < c->nruns; i++) {
        const ht_run_t *r = &c->runs[i];
        if (r->st != HT_OK) {
            if (c->st == HT_OK) {
                c->st = r->st;
                snprintf(c->reason, sizeof c->reason, "%s", r->reason);
            }
            continue;
        }
        m[n] = r->metric;
        sf[n] = sysfrac_of(r);
        sy[n] = r->sys;
        us[n] = r->user;
        rs[n] = r->rss_kb;
        n++;
    }
    c->metric = ht_median(m, n);
    c->metric_min = n ? m[0] : NAN;
    c->metric_max = n ? m[n - 1] : NAN;
    c->sysfrac = ht_median(sf, n);
    c->sys = ht_median(sy, n);
    c->user = ht_median(us, n);
    c->rss_kb = ht_median(rs, n);
    c->served = 0;
    for (int i = 0; i < c->nruns; i++)
        if (c->runs[i].st == HT_OK) c->served = fmax(c->served, c->runs[i].served);
    free(m);
    c->over_cap = c->st == HT_OK && n > 0 && ht_cap_value(t, c->sysfrac, c->sys) > ht_cap_limit(t);
    c->feasible = c->st == HT_OK && n > 0 && !c->over_cap;
}

/* The machine's noise changes while a search runs (other jobs come and
 * go), so the calibration's estimate is raised when the repeats of all
 * candidates show more: the pooled standard deviation of log(metric), once
 * it rests on at least 10 degrees of freedom. */
static void update_noise(ht_tuner_t *t) {
    double ss = 0;
    int dof = 0;
    for (int i = 0; i < t->ncands; i++) {
        const ht_cand_t *c = t->cands[i];
        double sum = 0;
        int n = 0;
        for (int j = 0; j < c->nruns; j++)
            if (c->runs[j].st == HT_OK && c->runs[j].metric > 0) {
                sum += log(c->runs[j].metric);
                n++;
            }
        if (n < 2) continue;
        double mean = sum / n;
        for (int j = 0; j < c->nruns; j++)
            if (c->runs[j].st == HT_OK && c->runs[j].metric > 0)
                ss += (log(c->runs[j].metric) - mean) * (log(c->runs[j].metric) - mean);
        dof += n - 1;
    }
    t->noise_pooled = dof >= 10 ? sqrt(ss / dof) : 0;
    t->noise = fmax(t->noise_calib, t->noise_pooled);
}

/* Worth more runs: it ran, it is not clearly over the cap, and within the
 * noise it could beat the best. Runs spent here decide the winner; runs
 * spent on clear losers would not. */
static bool could_win(const ht_tuner_t *t, const ht_cand_t *c) {
    if (c->st != HT_OK) return false;
    if (ht_cap_value(t, c->sysfrac, c->sys) > 1.25 * ht_cap_limit(t)) return false;
    if (t->best == NULL) return true;
    return c->metric >= t->best->metric * (1.0 - 2.0 * t->noise);
}

bool ht_budget_left(ht_tuner_t *t) {
    if (*t->stop) {
        t->interrupted = true;
        return false;
    }
    if (t->evals >= t->max_evals) return false;
    if (t->time_budget > 0) {
        double per_run = t->def && t->def->nruns ? t->def->runs[0].wall : 0;
        if (t->runs_made > 0) per_run = t->measured_s / t->runs_made;
        double next = per_run * t->repeats;
        double confirm = per_run * 2 * t->confirm_pairs;
        if (ht_now() - t->t_start + next + confirm > t->time_budget) return false;
    }
    return true;
}

ht_cand_t *ht_evaluate(ht_tuner_t *t, const ht_profile_t *p, const char *origin) {
    ht_cand_t *c = ht_find(t, p);
    if (c) {
        t->cache_hits++;
        return c;
    }
    if (!ht_budget_left(t)) return NULL;
    c = cand_new(t, p, origin);
    c->eval = ++t->evals;
    double t0 = ht_now();
    int made = 0;
    for (int round = 0; round < 2; round++) {
        int want = round == 0 && !t->careful ? t->repeats : t->max_repeats;
        while (c->nruns < want) {
            ht_run_t r;
            bool replayed;
            if (!one_run(t, p, HT_PHASE_SEARCH, c->eval, c->nruns + 1, &r, &replayed)) {
                /* Half a measurement is no measurement: forget it, so a
                 * resumed tuner measures it whole. */
                cand_drop_last(t);
                t->evals--;
                return NULL;
            }
            made += !replayed;
            c->nreplayed += replayed;
            cand_add_run(c, &r);
            if (r.st != HT_OK) break; /* a crash or a hang is not averaged away */
        }
        summarize(t, c);
        update_noise(t);
        if (round == 0 && !could_win(t, c)) break;
    }
    c->seconds = ht_now() - t0;
    if (made) t->measured_evals++;
    if (c->feasible && (t->best == NULL || c->metric > t->best->metric)) t->best = c;
    c->best_after = t->best ? t->best->metric : NAN;
    ht_progress(t, c);
    return c;
}

bool ht_calibrate(ht_tuner_t *t) {
    ht_cand_t *d = cand_new(t, &t->defaults, "default");
    t->def = d;
    d->eval = 0;
    double t0 = ht_now();
    for (int i = 0; i < t->calib_runs; i++) {
        ht_run_t r;
        bool replayed;
        if (!one_run(t, &d->p, HT_PHASE_CALIBRATE, 0, i + 1, &r, &replayed)) {
            summarize(t, d);
            return false;
        }
        d->nreplayed += replayed;
        cand_add_run(d, &r);
        if (!t->quiet)
            fprintf(stderr, "calibrate %d/%d: %s%s\n", i + 1, t->calib_runs,
                    r.st == HT_OK ? "ok" : r.reason, replayed ? " (replayed)" : "");
        if (r.st != HT_OK) break;
    }
    d->seconds = ht_now() - t0;
    summarize(t, d);
    if (d->st != HT_OK) return false;
    /* The spread of one run: the larger of two estimates of a standard
     * deviation, the MAD (robust) and the range over its expected value
     * for n normal samples (which a single slow run does move: on a shared
     * machine such runs are real). Five runs can look calm by chance; a
     * floor keeps that from making every difference look significant. */
    static const double expected_range[] = {0,     0,     1.128, 1.693, 2.059, 2.326,
                                            2.534, 2.704, 2.847, 2.970, 3.078};
    int n = d->nruns;
    double *dev = malloc((size_t)n * sizeof *dev);
    if (!dev) abort();
    double lo = d->runs[0].metric, hi = lo;
    for (int i = 0; i < n; i++) {
        dev[i] = fabs(d->runs[i].metric - d->metric);
        lo = fmin(lo, d->runs[i].metric);
        hi = fmax(hi, d->runs[i].metric);
    }
    double sd_mad = 1.4826 * ht_median(dev, n);
    double sd_range = (hi - lo) / (n <= 10 ? expected_range[n] : 3.078 + 0.5 * log(n / 10.0));
    free(dev);
    t->noise_calib = d->metric > 0 ? fmax(sd_mad, sd_range) / d->metric : 0;
    if (t->noise_calib < 0.01) t->noise_calib = 0.01;
    update_noise(t);
    if (d->feasible) t->best = d;
    d->best_after = t->best ? t->best->metric : NAN;
    return true;
}

/* ---- confirmation --------------------------------------------------------- */

void ht_confirm(ht_tuner_t *t, ht_cand_t *w, ht_confirm_t *o) {
    memset(o, 0, sizeof *o);
    o->eval = w->eval;
    int want = t->confirm_pairs;
    double *buf = calloc((size_t)want * 9 + 9, sizeof *buf);
    if (!buf) abort();
    double *wm = buf, *dm = wm + want + 1, *ratio = dm + want + 1, *wsf = ratio + want + 1,
           *dsf = wsf + want + 1, *wsy = dsf + want + 1, *dsy = wsy + want + 1,
           *wrs = dsy + want + 1, *drs = wrs + want + 1;
    int nw = 0, nd = 0, nr = 0;
    o->w_ok = o->d_ok = true;
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
        if (rw.st == HT_OK) {
            wm[nw] = rw.metric;
            wsf[nw] = sysfrac_of(&rw);
            wsy[nw] = rw.sys;
            wrs[nw] = rw.rss_kb;
            nw++;
        } else if (o->w_ok) {
            o->w_ok = false;
            snprintf(o->verdict, sizeof o->verdict, "the tuned profile failed in confirmation: %s",
                     rw.reason);
        }
        if (rd.st == HT_OK) {
            dm[nd] = rd.metric;
            dsf[nd] = sysfrac_of(&rd);
            dsy[nd] = rd.sys;
            drs[nd] = rd.rss_kb;
            nd++;
        } else {
            o->d_ok = false;
        }
        if (rw.st == HT_OK && rd.st == HT_OK && rd.metric > 0) {
            ratio[nr++] = rw.metric / rd.metric;
            o->wins += rw.metric > rd.metric;
        }
        if (!t->quiet) {
            char a[32], b[32];
            ht_fmt_metric(rd.metric, a, sizeof a);
            ht_fmt_metric(rw.metric, b, sizeof b);
            fprintf(stderr, "confirm %d/%d: default %s, tuned %s", i + 1, want,
                    rd.st == HT_OK ? a : rd.reason, rw.st == HT_OK ? b : rw.reason);
            if (rw.st == HT_OK && rd.st == HT_OK && rd.metric > 0)
                fprintf(stderr, ", ratio %.3f", rw.metric / rd.metric);
            fputc('\n', stderr);
        }
    }
    o->done = o->pairs == want;
    o->ratio_med = ht_median(ratio, nr);
    o->ratio_min = nr ? ratio[0] : NAN;
    o->ratio_max = nr ? ratio[nr - 1] : NAN;
    o->w_metric = ht_median(wm, nw);
    o->d_metric = ht_median(dm, nd);
    o->w_sysfrac = ht_median(wsf, nw);
    o->d_sysfrac = ht_median(dsf, nd);
    o->w_sys = ht_median(wsy, nw);
    o->d_sys = ht_median(dsy, nd);
    o->w_rss = ht_median(wrs, nw);
    o->d_rss = ht_median(drs, nd);
    free(buf);
    double lim = ht_cap_limit(t);
    o->w_feasible = o->w_ok && nw > 0 && ht_cap_value(t, o->w_sysfrac, o->w_sys) <= lim;
    o->d_feasible = o->d_ok && nd > 0 && ht_cap_value(t, o->d_sysfrac, o->d_sys) <= lim;
    int need = (3 * o->pairs + 3) / 4; /* at least three pairs in four */
    if (!o->done) {
        snprintf(o->verdict, sizeof o->verdict,
                 "interrupted during confirmation after %d of %d pairs: not confirmed", o->pairs,
                 want);
    } else if (!o->w_ok) {
        /* verdict already says which run failed */
    } else if (!o->w_feasible) {
        snprintf(o->verdict, sizeof o->verdict,
                 "the tuned profile went over the kernel-time cap in confirmation (%.3g > %.3g): "
                 "writing the default",
                 ht_cap_value(t, o->w_sysfrac, o->w_sys), lim);
    } else if (!o->d_feasible) {
        o->adopted = true;
        snprintf(o->verdict, sizeof o->verdict,
                 "the default is over the kernel-time cap (%.3g > %.3g) and the tuned profile "
                 "meets it (%.3g): writing the tuned profile",
                 ht_cap_value(t, o->d_sysfrac, o->d_sys), lim,
                 ht_cap_value(t, o->w_sysfrac, o->w_sys));
    } else if (o->ratio_med >= 1.0 + t->min_gain && o->wins >= need) {
        o->adopted = true;
        snprintf(o->verdict, sizeof o->verdict,
                 "tuned is better: median ratio %.3f (min %.3f, max %.3f), won %d of %d pairs",
                 o->ratio_med, o->ratio_min, o->ratio_max, o->wins, o->pairs);
    } else {
        snprintf(o->verdict, sizeof o->verdict,
                 "tuned is not clearly better than the default: median ratio %.3f (min %.3f, max "
                 "%.3f), won %d of %d pairs (needed >= %.2f and %d wins): writing the default",
                 o->ratio_med, o->ratio_min, o->ratio_max, o->wins, o->pairs, 1.0 + t->min_gain,
                 need);
    }
}
