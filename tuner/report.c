/* report.c — what the tuner tells its user: a progress line per
 * evaluation and the summary table at the end (the profile's header is
 * profile.c's).
 *
 * Every figure printed here is a measured median; a gain is only ever
 * stated from the interleaved confirmation, with its spread. */
#include "tune.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void ht_fmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

void ht_fmt_metric(double v, char *buf, size_t cap) {
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else if (v >= 1e9)
        snprintf(buf, cap, "%.3gG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, cap, "%.3gM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, cap, "%.3gk", v / 1e3);
    else
        snprintf(buf, cap, "%.4g", v);
}

void ht_fmt_duration(double s, char *buf, size_t cap) {
    if (!isfinite(s) || s < 0) s = 0;
    long v = lround(s);
    if (v >= 3600)
        ht_fmt(buf, cap, "%ldh%02ldm", v / 3600, v / 60 % 60);
    else if (v >= 60)
        ht_fmt(buf, cap, "%ldm%02lds", v / 60, v % 60);
    else
        ht_fmt(buf, cap, "%lds", v);
}

static double ratio(const ht_tuner_t *t, double m) {
    return t->def && t->def->metric > 0 ? m / t->def->metric : NAN;
}

/* The objective's measure as a progress line or table shows it. */
static void fmt_obj(const ht_tuner_t *t, double v, char *buf, size_t cap) {
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else if (t->objective == HT_OBJ_RSS)
        snprintf(buf, cap, "%.1fM", v / 1024);
    else if (t->objective == HT_OBJ_SYS)
        snprintf(buf, cap, "%.3fs", v);
    else
        ht_fmt_metric(v, buf, cap);
}

/* What a candidate that ran fine but cannot win breaks. */
static const char *violation_tag(const ht_tuner_t *t, const ht_cand_t *c) {
    if (!c->violates || !t->def) return "";
    ht_fig_t f = ht_cand_fig(c), ref = ht_ref(t);
    if (ht_con_active(t, HT_CON_FLOOR) && ht_con_excess(t, HT_CON_FLOOR, &f, &ref) > 0)
        return " BELOW FLOOR";
    if (ht_con_active(t, HT_CON_RSS) && ht_con_excess(t, HT_CON_RSS, &f, &ref) > 0)
        return " OVER RSS CAP";
    return " OVER CAP";
}

void ht_progress(ht_tuner_t *t, const ht_cand_t *c) {
    if (t->quiet) return;
    char m[32], el[16], left[16], best[64], diff[512];
    double elapsed = hr_now() - t->t_start;
    double per_run = t->runs_made ? t->measured_s / t->runs_made
                                  : (t->def && t->def->nruns ? t->def->runs[0].wall : 0);
    double per_eval = t->measured_evals ? t->measured_s / t->measured_evals : per_run * t->repeats;
    double rest = per_eval * (t->max_evals - t->evals) + per_run * 2 * t->confirm_pairs;
    if (t->time_budget > 0 && rest > t->time_budget - elapsed) rest = t->time_budget - elapsed;
    ht_fmt_duration(elapsed, el, sizeof el);
    ht_fmt_duration(rest, left, sizeof left);
    bool up = t->objective == HT_OBJ_THROUGHPUT;
    if (t->best && up)
        snprintf(best, sizeof best, "best x%.3f (#%d)", ratio(t, t->best->metric), t->best->eval);
    else if (t->best)
        snprintf(best, sizeof best, "best %s x%.3f (#%d)",
                 t->objective == HT_OBJ_RSS ? "RSS" : "sys",
                 ht_obj_ratio(t, t->best->obj, t->def->obj), t->best->eval);
    else
        snprintf(best, sizeof best, "best: none within the constraints");
    ht_profile_diff(&c->p, &t->defaults, diff, sizeof diff);
    if (c->eval < 0)
        fprintf(stderr, "[what mattered %d] ", -c->eval);
    else
        fprintf(stderr, "[%*d/%d] ", t->max_evals >= 100 ? 3 : 2, c->eval, t->max_evals);
    if (c->st != HR_OK) {
        fprintf(stderr, "%s: %s", hr_status_name(c->st), c->reason);
    } else {
        ht_fmt_metric(c->metric, m, sizeof m);
        fprintf(stderr, "%s x%.3f (%d runs)", m, ratio(t, c->metric), c->nruns);
        if (t->objective == HT_OBJ_SYS)
            fprintf(stderr, " sys %.3fs x%.3f", c->sys, ht_obj_ratio(t, c->obj, t->def->obj));
        else if (t->cap_seconds)
            fprintf(stderr, " sys %.2fs", c->sys);
        else
            fprintf(stderr, " sys %.1f%%", 100 * c->sysfrac);
        if (t->objective == HT_OBJ_RSS || ht_con_active(t, HT_CON_RSS))
            fprintf(stderr, " rss %.1fM", c->rss_kb / 1024);
        if (t->objective == HT_OBJ_RSS)
            fprintf(stderr, " x%.3f", ht_obj_ratio(t, c->obj, t->def->obj));
        fputs(violation_tag(t, c), stderr);
    }
    fprintf(stderr, " | %s | %s, ~%s left%s | %s\n", best, el, left,
            c->nreplayed == c->nruns ? " (replayed)" : "", diff);
}

/* ---- summary -------------------------------------------------------------- */

static const ht_tuner_t *sort_tuner; /* qsort takes no context */

static int cmp_rank(const void *a, const void *b) {
    const ht_cand_t *x = *(const ht_cand_t *const *)a, *y = *(const ht_cand_t *const *)b;
    if (ht_better(sort_tuner, x, y)) return -1;
    if (ht_better(sort_tuner, y, x)) return 1;
    return (x->eval > y->eval) - (x->eval < y->eval);
}

const ht_cand_t **ht_ranked(ht_tuner_t *t, int *n) {
    *n = t->ncands;
    const ht_cand_t **v = malloc((size_t)(*n ? *n : 1) * sizeof *v);
    if (!v) abort();
    for (int i = 0; i < *n; i++) v[i] = t->cands[i];
    sort_tuner = t;
    qsort(v, (size_t)*n, sizeof *v, cmp_rank);
    return v;
}

/* The objective's ratio column, for rss and sys only (for throughput the
 * metric's ratio is the objective's). */
static const char *obj_col(const ht_tuner_t *t) {
    return t->objective == HT_OBJ_RSS ? "RSS ratio" : t->objective == HT_OBJ_SYS ? "sys ratio" : "";
}

static void row(FILE *f, const ht_tuner_t *t, const char *label, const ht_cand_t *c) {
    char m[32], lo[32], hi[32], range[72], cv[32], oc[32] = "", diff[512];
    const char *st = c->st != HR_OK ? hr_status_name(c->st) : c->violates ? "violates" : "ok";
    int ow = obj_col(t)[0] ? 10 : 0;
    ht_profile_diff(&c->p, &t->defaults, diff, sizeof diff);
    if (c->st != HR_OK) {
        fprintf(f, "%-7s %4d  %-8s %-7s %-*s%-17s %-9s %9s %4d  %-9s %s\n", label, c->eval, "-",
                "-", ow, ow ? "-" : "", "-", "-", "-", c->nruns, st, diff);
        return;
    }
    ht_fmt_metric(c->metric, m, sizeof m);
    ht_fmt_metric(c->metric_min, lo, sizeof lo);
    ht_fmt_metric(c->metric_max, hi, sizeof hi);
    snprintf(range, sizeof range, "%s..%s", lo, hi);
    if (t->objective == HT_OBJ_SYS)
        snprintf(cv, sizeof cv, "%.3f", c->sys);
    else if (t->cap_seconds)
        snprintf(cv, sizeof cv, "%.2f", c->sys);
    else
        snprintf(cv, sizeof cv, "%.3f", c->sysfrac);
    if (ow) snprintf(oc, sizeof oc, "%.3f", ht_obj_ratio(t, c->obj, t->def->obj));
    fprintf(f, "%-7s %4d  %-8s %-7.3f %-*s%-17s %-9s %8.1fM %4d  %-9s %s\n", label, c->eval, m,
            ratio(t, c->metric), ow, oc, range, cv, c->rss_kb / 1024, c->nruns, st, diff);
}

void ht_summary(ht_tuner_t *t, const ht_confirm_t *cf, FILE *f) {
    char el[16], cons[300];
    ht_fmt_duration(hr_now() - t->t_start, el, sizeof el);
    ht_constraints_text(t, cons, sizeof cons);
    fprintf(f,
            "\nhak-tune: %d evaluations (and %d variants of what mattered), %d runs made, %d "
            "replayed from the log, %d cache hits, %s; noise of %s %.1f%% a run (calibration "
            "%.1f%%, all candidates %.1f%%)\n",
            t->evals, t->analysed, t->runs_made, t->runs_replayed, t->cache_hits, el,
            ht_obj_label(t), 100 * t->noise, 100 * t->noise_calib, 100 * t->noise_pooled);
    fprintf(f, "objective: %s, %s %s, subject to %s; ranked by it\n",
            ht_objective_name(t->objective),
            t->objective == HT_OBJ_THROUGHPUT ? "maximise" : "minimise",
            t->objective == HT_OBJ_THROUGHPUT ? "the metric"
            : t->objective == HT_OBJ_RSS      ? "median peak RSS"
                                              : "median kernel seconds",
            cons);
    int ow = obj_col(t)[0] ? 10 : 0;
    fprintf(f, "%-7s %4s  %-8s %-7s %-*s%-17s %-9s %9s %4s  %-9s %s\n", "rank", "eval", "metric",
            "ratio", ow, obj_col(t), "min..max",
            t->cap_seconds || t->objective == HT_OBJ_SYS ? "sys s" : "sys frac", "peak RSS", "runs",
            "status", "knobs (vs default)");
    int n;
    const ht_cand_t **v = ht_ranked(t, &n);
    int shown = 0, failed = 0, over = 0, capped = 0;
    int by_status[HR_STATUS_COUNT] = {0};
    for (int i = 0; i < n; i++) {
        if (v[i]->eval < 0) {
            /* what mattered's variants: counted in its own lines */
        } else if (v[i]->st == HR_CAPPED) {
            capped++;
        } else if (v[i]->st != HR_OK) {
            failed++;
            by_status[v[i]->st]++;
        } else if (v[i]->violates) {
            over++;
        }
        if (shown < 10 && v[i] != t->def && v[i]->eval >= 0) {
            char label[16];
            snprintf(label, sizeof label, "%d", shown + 1);
            row(f, t, label, v[i]);
            shown++;
        }
    }
    if (t->def) row(f, t, "default", t->def);
    free(v);
    fprintf(f, "broke a constraint: %d; failed: %d", over, failed);
    for (int s = 0; s < HR_STATUS_COUNT; s++)
        if (by_status[s]) fprintf(f, " (%s %d)", hr_status_name((hr_status_t)s), by_status[s]);
    fputc('\n', f);
    if (capped)
        fprintf(f,
                "capped: %d candidates, stopped at the best's time x (1 + margin) once they could "
                "no longer win (%d runs)\n",
                capped, t->capped_runs);
    ht_mattered_print(t, f);
    if (cf && cf->pairs) {
        char a[32], b[32];
        ht_fmt_metric(cf->w_metric, a, sizeof a);
        ht_fmt_metric(cf->d_metric, b, sizeof b);
        if (t->objective != HT_OBJ_THROUGHPUT) {
            char wo[32], dobj[32];
            fmt_obj(t, cf->w_obj, wo, sizeof wo);
            fmt_obj(t, cf->d_obj, dobj, sizeof dobj);
            fprintf(f,
                    "confirmation, %d interleaved pairs: %s tuned %s, default %s; %s ratio median "
                    "%.3f (min %.3f, max %.3f), tuned lower in %d; throughput tuned %s, default "
                    "%s, ratio median %.3f (min %.3f, max %.3f); ",
                    cf->pairs, ht_obj_label(t), wo, dobj, ht_obj_label(t), cf->oratio_med,
                    cf->oratio_min, cf->oratio_max, cf->wins, a, b, cf->ratio_med, cf->ratio_min,
                    cf->ratio_max);
        } else {
            fprintf(f,
                    "confirmation, %d interleaved pairs: tuned %s, default %s; ratio median %.3f "
                    "(min %.3f, max %.3f), tuned won %d; ",
                    cf->pairs, a, b, cf->ratio_med, cf->ratio_min, cf->ratio_max, cf->wins);
        }
        if (t->cap_seconds)
            fprintf(f, "sys tuned %.2fs, default %.2fs\n", cf->w_sys, cf->d_sys);
        else
            fprintf(f, "sys fraction tuned %.3f, default %.3f\n", cf->w_sysfrac, cf->d_sysfrac);
    }
    if (cf && cf->verdict[0]) fprintf(f, "verdict: %s\n", cf->verdict);
}
