/* budget.c — what the time allows: the runs a candidate gets by the noise
 * measured, the time at which a run is stopped because it can no longer
 * win (adaptive capping), whether there is time for one more evaluation
 * with the confirmation and the analysis still to come, and the plan said
 * up front, right after calibration.
 *
 * A program that runs 40 s is as tunable as one that runs 2 s only if the
 * budget is spent on what can still change the answer: one run a candidate
 * when the runs agree, none of a loser's seconds past the point where it
 * has lost, and three confirmation pairs when three leave no doubt. */
#include "tune.h"

#include <math.h>

/* The capping margin: a run that takes this much longer than the best's
 * median cannot beat it, even allowing for the noise of a run. */
static double margin(const ht_tuner_t *t) {
    return t->cap_margin > 0 ? t->cap_margin : fmax(0.2, 3 * t->noise);
}

/* What mattered measures how much a variant loses, not only that it
 * loses: its runs may go on to three times the winner's. */
double ht_cap_time(const ht_tuner_t *t) {
    if (!t->capping || !t->best || !(t->best->wall > 0)) return 0;
    return t->best->wall * (1 + (t->analysing ? fmax(2, margin(t)) : margin(t)));
}

/* Seconds one run of a candidate is expected to take: the average so far,
 * but never more than a capped run may. */
static double run_estimate(const ht_tuner_t *t) {
    double avg = t->runs_made ? t->measured_s / t->runs_made : t->def ? t->def->wall : 0;
    if (!(avg > 0) && t->def) avg = t->def->wall;
    double cap = ht_cap_time(t);
    return cap > 0 && cap < avg ? cap : avg;
}

double ht_cand_cost(const ht_tuner_t *t) {
    return run_estimate(t) * t->repeats;
}

/* Three pairs when the best already leads by far more than the noise (the
 * rest are then left out), else every pair asked for. */
static int confirm_pairs_expected(const ht_tuner_t *t) {
    if (!t->confirm_auto || t->confirm_pairs <= 3) return t->confirm_pairs;
    if (t->best && t->def && t->best != t->def &&
        ht_obj_gain(t, t->best->obj, t->def->obj) >= 1 + t->min_gain + 4 * t->noise)
        return 3;
    return t->confirm_pairs;
}

double ht_confirm_cost(const ht_tuner_t *t) {
    double dw = t->def && t->def->wall > 0 ? t->def->wall : run_estimate(t);
    double bw = t->best && t->best->wall > 0 ? t->best->wall : dw;
    return confirm_pairs_expected(t) * (dw + bw);
}

/* What mattered varies each knob the best changed from the default:
 * reserved, so that the search leaves time to say why it won. */
static double analysis_cost(const ht_tuner_t *t) {
    if (!t->best || t->best == t->def) return 0;
    int changed = 0;
    for (int k = 0; k < HAK_KNOB_COUNT; k++) changed += t->best->p.v[k] != t->defaults.v[k];
    return changed * ht_cand_cost(t);
}

bool ht_budget_left(ht_tuner_t *t) {
    if (*t->stop) {
        t->interrupted = true;
        return false;
    }
    if (!t->analysing && t->evals >= t->max_evals) return false;
    if (t->time_budget > 0) {
        double reserve = ht_confirm_cost(t) + (t->analysing ? 0 : analysis_cost(t));
        if (hr_now() - t->t_start + ht_cand_cost(t) + reserve > t->time_budget) return false;
    }
    return true;
}

void ht_spend_by_noise(ht_tuner_t *t) {
    if (!t->repeats_auto) return;
    /* One run tells a candidate from the best when runs agree to 2.5 %;
     * beyond 5 % the median of three is needed. */
    t->repeats = t->noise < 0.025 ? 1 : t->noise < 0.05 ? 2 : 3;
    t->max_repeats = t->repeats < 2 ? 2 : 2 * t->repeats;
}

int ht_plan(ht_tuner_t *t, FILE *f) {
    const ht_cand_t *d = t->def;
    double elapsed = hr_now() - t->t_start, run = d->wall;
    double cand = run * t->repeats, confirm = ht_confirm_cost(t);
    double rechecks = t->recheck_every > 0 ? (double)t->max_evals / t->recheck_every * run : 0;
    double whole = elapsed + t->max_evals * cand + confirm + rechecks;
    int affordable = t->max_evals;
    char a[16], b[16], c[16], w[16];
    ht_fmt_duration(elapsed, a, sizeof a);
    ht_fmt_duration(confirm, b, sizeof b);
    ht_fmt_duration(whole, w, sizeof w);
    if (t->time_budget > 0) {
        double left = t->time_budget - elapsed - confirm;
        affordable = left > 0 ? (int)floor(left / (cand > 0 ? cand : 1)) : 0;
        if (affordable > t->max_evals) affordable = t->max_evals;
    }
    if (!f) return affordable;
    fprintf(f,
            "budget: a run of the default takes %.3g s and its runs spread by %.1f%%: %d run%s a "
            "candidate (%d when it could win); calibration took %s; confirmation needs %s%d "
            "interleaved pairs (about %s at the default's speed)\n",
            run, 100 * t->noise, t->repeats, t->repeats == 1 ? "" : "s", t->max_repeats, a,
            t->confirm_auto && t->confirm_pairs > 3 ? "3 to " : "", t->confirm_pairs, b);
    if (t->time_budget > 0) {
        ht_fmt_duration(t->time_budget, c, sizeof c);
        if (affordable < t->max_evals)
            fprintf(f,
                    "budget: the %s budget leaves room for about %d of the %d evaluations at %.3g "
                    "s each%s; all %d would need --time-budget %s%s\n",
                    c, affordable, t->max_evals, cand,
                    t->capping ? " (more once runs are capped at the best's time x (1 + margin))"
                               : "",
                    t->max_evals, w, t->capping ? " at most" : "");
        else
            fprintf(f,
                    "budget: the %s budget has room for all %d evaluations at %.3g s each (about "
                    "%s in all)\n",
                    c, t->max_evals, cand, w);
        if (affordable == 0)
            fprintf(f,
                    "budget: not one evaluation fits: the search will not run; give --time-budget "
                    "%s or more, or a shorter run of the workload\n",
                    w);
    } else {
        fprintf(f, "budget: no time limit; %d evaluations at %.3g s each take about %s\n",
                t->max_evals, cand, w);
    }
    return affordable;
}
