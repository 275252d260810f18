/* search.c — where the tuner looks next: first the knobs the default's
 * counters point at (guide.c), each moved the way its rule says while that
 * pays; then the other choices raced one knob at a time, then NLopt over
 * the numeric knobs of the best one or two choice settings, restarted
 * while budget remains; or pure random search, the baseline the strategy
 * has to beat.
 *
 * NLopt knows neither integers nor categories. Integers: NLopt moves in
 * [0,1] coordinates, the objective rounds them to a profile, and the
 * tuner's cache answers points that round alike without a run. Categories:
 * they are never interpolated, only raced (see tuner/README.md). The
 * objective is a ratio to the default, larger better whichever way it
 * points (throughput up, peak RSS or kernel time down). Each constraint
 * (the kernel-time cap, the peak-RSS cap, the throughput floor) is an NLopt
 * inequality constraint, its excess over the limit scaled by the limit:
 * COBYLA takes them natively, any other algorithm is wrapped in AUGLAG.
 * Independently of NLopt, a candidate that breaks one never becomes the
 * best (measure.c). */
#include "tune.h"

#include <ctype.h>
#include <math.h>
#include <nlopt.h>
#include <stdint.h>
#include <string.h>

#define STEP_START 0.25  /* first trust radius, in [0,1] coordinates */
#define STEP_MIN   0.04  /* below it, a restart goes somewhere new */
#define XTOL       0.002 /* about the grid a log knob is rounded to */

typedef struct {
    nlopt_algorithm alg, local; /* local: NLOPT_NUM_ALGORITHMS when none */
    bool random;
} algo_t;

static bool native_constraints(nlopt_algorithm a) {
    return a == NLOPT_LN_COBYLA || a == NLOPT_GN_ISRES || a == NLOPT_GN_ORIG_DIRECT ||
           a == NLOPT_GN_ORIG_DIRECT_L || a == NLOPT_GN_AGS || a == NLOPT_AUGLAG ||
           a == NLOPT_LN_AUGLAG || a == NLOPT_AUGLAG_EQ || a == NLOPT_LN_AUGLAG_EQ;
}

/* "ln_sbplx", "NLOPT_LN_SBPLX" and "LN_SBPLX" are one algorithm. */
static nlopt_algorithm find_algorithm(const char *name) {
    char up[64];
    size_t n = 0;
    for (; name[n] && n + 1 < sizeof up; n++) up[n] = (char)toupper((unsigned char)name[n]);
    up[n] = '\0';
    const char *s = strncmp(up, "NLOPT_", 6) == 0 ? up + 6 : up;
    return nlopt_algorithm_from_string(s);
}

static bool parse_algorithm(const char *name, algo_t *a, char *why, size_t cap) {
    a->random = false;
    a->local = NLOPT_NUM_ALGORITHMS;
    if (strcmp(name, "random") == 0) {
        a->random = true;
        return true;
    }
    char outer[64];
    snprintf(outer, sizeof outer, "%s", name);
    char *colon = strchr(outer, ':');
    if (colon) *colon = '\0';
    int alg = find_algorithm(outer);
    if (alg < 0) {
        snprintf(why, cap,
                 "unknown algorithm '%s': expected random or an NLopt derivative-free name "
                 "such as LN_COBYLA, LN_SBPLX, LN_BOBYQA, LN_NELDERMEAD, GN_ISRES, or "
                 "AUGLAG:LN_SBPLX",
                 name);
        return false;
    }
    const char *full = nlopt_algorithm_to_string((nlopt_algorithm)alg);
    if (full && (full[1] == 'D' || strstr(full, "MLSL"))) {
        snprintf(why, cap,
                 "algorithm '%s' needs %s; a measured workload has no gradient: use a "
                 "derivative-free one (LN_* or GN_*)",
                 name, strstr(full, "MLSL") ? "a local gradient optimizer" : "derivatives");
        return false;
    }
    a->alg = (nlopt_algorithm)alg;
    if (colon) {
        int local = find_algorithm(colon + 1);
        if (!(a->alg == NLOPT_AUGLAG || a->alg == NLOPT_LN_AUGLAG)) {
            snprintf(why, cap, "'%s': only AUGLAG takes a local algorithm (AUGLAG:LN_SBPLX)", name);
            return false;
        }
        const char *lf = local >= 0 ? nlopt_algorithm_to_string((nlopt_algorithm)local) : NULL;
        if (!lf || lf[0] != 'L' || lf[1] != 'N') {
            snprintf(why, cap,
                     "'%s': the local algorithm must be a derivative-free local one (LN_*)", name);
            return false;
        }
        a->local = (nlopt_algorithm)local;
    } else if (a->alg == NLOPT_AUGLAG || a->alg == NLOPT_LN_AUGLAG) {
        a->local = NLOPT_LN_SBPLX;
    }
    return true;
}

bool ht_search_check_algorithm(const char *name, char *why, size_t cap) {
    algo_t a;
    return parse_algorithm(name, &a, why, cap);
}

/* ---- the numeric phase: NLopt within one setting of the choices ----------- */

typedef struct ctx_s {
    ht_tuner_t *t;
    ht_profile_t base;           /* the choices and the fixed knobs */
    double full[HAK_KNOB_COUNT]; /* coordinates of every numeric knob */
    int active[HAK_KNOB_COUNT];  /* the ones NLopt moves */
    int nactive;
    nlopt_opt opt;
    struct con_s {
        struct ctx_s *c;
        ht_con_t k;
    } cons[HT_CON_COUNT];
    int budget_end;
    bool out; /* budget, user or a switch to the runner-up said stop */
    /* the runner-up setting of the choices, tried once at the best point */
    const ht_profile_t *runner_up;
    int runner_up_at;
    ht_cand_t *switched; /* the runner-up's candidate when it won */
} ctx_t;

static bool same_choices(const ht_space_t *s, const ht_profile_t *a, const ht_profile_t *b) {
    for (int i = 0; i < s->nchoice; i++)
        if (a->v[s->choice[i]] != b->v[s->choice[i]]) return false;
    return true;
}

/* The best candidate measured so far with the choices of p. */
static ht_cand_t *best_with(ht_tuner_t *t, const ht_profile_t *p) {
    ht_cand_t *best = NULL;
    for (int i = 0; i < t->ncands; i++) {
        ht_cand_t *c = t->cands[i];
        if (!ht_space_contains(&t->space, &c->p) || !same_choices(&t->space, &c->p, p)) continue;
        if (!best || ht_better(t, c, best)) best = c;
    }
    return best;
}

static void stop(ctx_t *c) {
    c->out = true;
    if (c->opt) nlopt_force_stop(c->opt);
}

/* The runner-up's choices at the leader's best numeric point: one
 * evaluation decides whether the rest of the budget stays here. */
static bool try_runner_up(ctx_t *c) {
    ht_tuner_t *t = c->t;
    c->runner_up_at = INT32_MAX;
    ht_cand_t *lead = best_with(t, &c->base);
    ht_profile_t p = lead->p;
    for (int i = 0; i < t->space.nchoice; i++)
        p.v[t->space.choice[i]] = c->runner_up->v[t->space.choice[i]];
    ht_cand_t *other = ht_evaluate(t, &p, "runner-up");
    if (!other) {
        stop(c);
        return false;
    }
    /* Moving costs a fresh start of the optimiser: only for a clear win. */
    bool wins = other->feasible &&
                (!lead->feasible || ht_obj_gain(t, other->obj, lead->obj) > 1 + t->noise);
    if (!t->quiet)
        fprintf(stderr, "runner-up choices at the best point so far: %s\n",
                wins ? "better; the search moves there" : "not better; the search goes on");
    if (wins) {
        c->switched = other;
        stop(c);
    }
    return !wins;
}

static ht_cand_t *at(ctx_t *c, const double *x) {
    ht_tuner_t *t = c->t;
    double u[HAK_KNOB_COUNT];
    memcpy(u, c->full, sizeof u);
    for (int i = 0; i < c->nactive; i++) u[c->active[i]] = x[i];
    ht_profile_t p = c->base;
    ht_space_apply(&t->space, u, &p);
    ht_cand_t *cand = ht_find(t, &p);
    if (cand) {
        t->cache_hits++;
        return cand;
    }
    if (c->out || t->evals >= c->budget_end) {
        stop(c);
        return NULL;
    }
    if (c->runner_up && t->evals >= c->runner_up_at && !try_runner_up(c)) return NULL;
    if ((cand = ht_evaluate(t, &p, "nlopt")) == NULL) stop(c);
    return cand;
}

static double objective(unsigned n, const double *x, double *grad, void *data) {
    (void)n;
    (void)grad;
    ctx_t *c = data;
    ht_tuner_t *t = c->t;
    ht_cand_t *cand = at(c, x);
    /* A failed candidate is worth nothing; it still steers the search
     * away, which is what the rest of the search needs. A candidate that
     * breaks a constraint cannot win, so it is never reported better than
     * the best one within them: else the optimiser, which tolerates
     * violations on its way, keeps being drawn to the good side of a cap
     * (COBYLA did, on testload, for a quarter of its budget). */
    /* A capped candidate is slower than the bound it was stopped at. */
    if (cand && cand->st == HR_CAPPED && cand->bound > 0 && t->best)
        return fmin(ht_obj_gain(t, cand->bound, t->def->obj),
                    ht_obj_gain(t, t->best->obj, t->def->obj));
    if (!cand || cand->st != HR_OK) return 0;
    double g = ht_obj_gain(t, cand->obj, t->def->obj);
    if (cand->violates && t->best) g = fmin(g, ht_obj_gain(t, t->best->obj, t->def->obj));
    return isfinite(g) ? g : 1e6;
}

static double constraint(unsigned n, const double *x, double *grad, void *data) {
    (void)n;
    (void)grad;
    struct con_s *k = data;
    ctx_t *c = k->c;
    ht_cand_t *cand = at(c, x);
    if (!cand) return 0;
    if (cand->st != HR_OK) return 1;
    ht_fig_t f = ht_cand_fig(cand), ref = ht_ref(c->t);
    return ht_con_excess(c->t, k->k, &f, &ref);
}

static nlopt_opt make_opt(const algo_t *a, unsigned n, ctx_t *c, double step) {
    bool wrap = !native_constraints(a->alg);
    nlopt_opt opt = nlopt_create(wrap ? NLOPT_AUGLAG : a->alg, n);
    if (!opt) return NULL;
    nlopt_set_lower_bounds1(opt, 0.0);
    nlopt_set_upper_bounds1(opt, 1.0);
    nlopt_set_max_objective(opt, objective, c);
    for (int k = 0; k < HT_CON_COUNT; k++) {
        if (!ht_con_active(c->t, (ht_con_t)k)) continue;
        c->cons[k] = (struct con_s){c, (ht_con_t)k};
        nlopt_add_inequality_constraint(opt, constraint, &c->cons[k], 0.0);
    }
    nlopt_set_xtol_abs1(opt, XTOL);
    nlopt_set_initial_step1(opt, step);
    /* NLopt counts cache hits too; the tuner's own budget is the real stop. */
    int left = c->budget_end - c->t->evals;
    nlopt_set_maxeval(opt, 4 * (left > 0 ? left : 1) + 2 * (int)n + 4);
    if (wrap || a->local != NLOPT_NUM_ALGORITHMS) {
        nlopt_algorithm la = wrap ? a->alg : a->local;
        nlopt_opt local = nlopt_create(la, n);
        if (!local) {
            nlopt_destroy(opt);
            return NULL;
        }
        nlopt_set_xtol_abs1(local, XTOL);
        nlopt_set_ftol_rel(local, 1e-4);
        nlopt_set_initial_step1(local, step);
        nlopt_set_local_optimizer(opt, local);
        nlopt_destroy(local); /* set_local_optimizer copied it */
    }
    return opt;
}

/* One step of STEP_START along each numeric knob from the best point so
 * far. The knobs whose step moves the objective by less than the noise of one
 * run (about 1.5 standard deviations of the difference of two medians of
 * six runs), and changes neither success nor feasibility, are left where
 * they are. A local method's first model costs an evaluation per knob it
 * moves, and most knobs do nothing for a given workload: NLopt then works
 * in the few that matter. Returns the knobs kept; all of them when the
 * budget is too small to screen or nothing stood out. */
static int screen(ht_tuner_t *t, const ht_profile_t *base, int *active, const bool *probed,
                  const bool *matters) {
    const ht_space_t *s = &t->space;
    int n = s->nnumeric, kept = 0, unprobed = 0;
    for (int i = 0; i < n; i++) active[i] = i;
    for (int i = 0; i < n; i++) unprobed += !probed[s->numeric[i]];
    if (t->max_evals - t->evals < 2 * unprobed + 4) return n;
    ht_cand_t *b0 = best_with(t, base);
    double u0[HAK_KNOB_COUNT];
    ht_space_coords(s, &b0->p, u0);
    /* Each step is judged once, against the noise: on all the runs a
     * candidate may get, which halves the chance of dropping a knob that
     * matters or keeping one that does not. */
    t->careful = true;
    char names[1024] = "";
    double both[HAK_KNOB_COUNT]; /* every step that helped, taken at once */
    memcpy(both, u0, sizeof both);
    int helped = 0;
    for (int i = 0; i < n; i++) {
        /* The guide already moved this one: its verdict stands. */
        if (probed[s->numeric[i]]) {
            if (matters[s->numeric[i]]) {
                active[kept++] = i;
                size_t len = strlen(names);
                snprintf(names + len, sizeof names - len, " %s",
                         hak_knob_table[s->numeric[i]].name);
            }
            continue;
        }
        double u[HAK_KNOB_COUNT];
        memcpy(u, u0, sizeof u);
        u[i] = u0[i] + STEP_START <= 1 ? u0[i] + STEP_START : u0[i] - STEP_START;
        ht_profile_t p = b0->p;
        ht_space_apply(s, u, &p);
        ht_cand_t *c = ht_profile_equal(&p, &b0->p) ? NULL : ht_evaluate(t, &p, "screen");
        if (!c) {
            if (t->interrupted || !ht_budget_left(t)) {
                t->careful = false;
                return n;
            }
            active[kept++] = i; /* too narrow a range to step: keep it */
            continue;
        }
        double gain = ht_obj_gain(t, c->obj, b0->obj);
        double change = isfinite(gain) ? fabs(gain - 1) : 1;
        if (c->feasible && gain > 1 + t->noise) {
            both[i] = u[i];
            helped++;
        }
        if (c->st != HR_OK || c->feasible != b0->feasible || !(change <= t->noise)) {
            active[kept++] = i;
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, " %s", hak_knob_table[s->numeric[i]].name);
        }
    }
    t->careful = false;
    if (!t->quiet)
        fprintf(stderr, "screening: %d of %d numeric knobs move %s beyond the noise:%s%s\n", kept,
                n, ht_obj_label(t), names, kept ? "" : " none; searching all");
    /* Knobs rarely interact so much that steps which each helped hurt
     * together; one evaluation finds out, and the search then starts
     * there rather than rebuilding the same steps itself. */
    if (helped >= 2) {
        ht_profile_t p = b0->p;
        ht_space_apply(s, both, &p);
        ht_evaluate(t, &p, "screen");
    }
    if (kept == 0) {
        for (int i = 0; i < n; i++) active[i] = i;
        kept = n;
    }
    return kept;
}

/* NLopt from the best point with the choices of base, restarted while the
 * budget lasts. Returns the runner-up's candidate when it won its trial. */
static ht_cand_t *numeric_search(ht_tuner_t *t, const algo_t *a, const ht_profile_t *base,
                                 const int *active, int nactive, double step,
                                 const ht_profile_t *runner_up, int runner_up_at) {
    ctx_t c = {.t = t,
               .base = *base,
               .nactive = nactive,
               .budget_end = t->max_evals,
               .runner_up = runner_up,
               .runner_up_at = runner_up_at};
    memcpy(c.active, active, (size_t)nactive * sizeof *active);
    double x[HAK_KNOB_COUNT];
    int idle_rounds = 0;
    ht_cand_t *from = best_with(t, base);
    for (int round = 0; round < 64 && !c.out && t->evals < c.budget_end; round++) {
        ht_space_coords(&t->space, &from->p, c.full);
        c.base = from->p;
        for (int i = 0; i < nactive; i++) x[i] = c.full[active[i]];
        int evals_before = t->evals;
        c.opt = make_opt(a, (unsigned)nactive, &c, step);
        if (!c.opt) {
            fprintf(stderr, "hak-tune: NLopt could not set up %s in %d dimensions\n", t->algorithm,
                    nactive);
            return NULL;
        }
        double f;
        nlopt_result res = nlopt_optimize(c.opt, x, &f);
        nlopt_destroy(c.opt);
        c.opt = NULL;
        if (c.switched || c.out || t->interrupted) break;
        if (res < 0 && res != NLOPT_ROUNDOFF_LIMITED && !t->quiet)
            fprintf(stderr, "hak-tune: NLopt stopped: %s; restarting\n",
                    nlopt_result_to_string(res));
        /* Converged. Again from the best point with a smaller step; once
         * that is small, or rounds stop measuring anything new, from a
         * random point of the knobs searched. */
        ht_cand_t *best = best_with(t, base);
        idle_rounds = t->evals == evals_before ? idle_rounds + 1 : 0;
        step = best != from ? STEP_START : step / 2;
        from = best;
        if (step < STEP_MIN || idle_rounds >= 2) {
            double u[HAK_KNOB_COUNT];
            ht_space_coords(&t->space, &from->p, u);
            for (int i = 0; i < nactive; i++) u[active[i]] = ht_rand01(t);
            ht_profile_t p = from->p;
            ht_space_apply(&t->space, u, &p);
            ht_cand_t *r = ht_evaluate(t, &p, "restart");
            if (!r) break;
            from = r;
            step = STEP_START;
            idle_rounds = 0;
        }
    }
    return c.switched;
}

/* ---- the choices: raced one knob at a time -------------------------------- */

/* Every other value of choice knob k at base; base becomes the best.
 * False when the budget ran out. MOVED: some value changed the outcome
 * beyond the noise. */
static bool race_one(ht_tuner_t *t, ht_profile_t *base, int k, const char *origin, bool *moved) {
    const ht_dim_t *d = &t->space.dim[k];
    ht_profile_t best = *base;
    ht_cand_t *bc = ht_find(t, base), *b0 = bc;
    for (unsigned j = 0; j < d->nchoices; j++) {
        if (d->choices[j] == base->v[k]) continue;
        ht_profile_t p = *base;
        p.v[k] = d->choices[j];
        ht_cand_t *c = ht_evaluate(t, &p, origin);
        if (!c) return false;
        if (moved && b0) {
            double g = ht_obj_gain(t, c->obj, b0->obj);
            *moved |= c->st != b0->st || c->feasible != b0->feasible || !(fabs(g - 1) <= t->noise);
        }
        if (!bc || ht_better(t, c, bc)) {
            bc = c;
            best = p;
        }
    }
    *base = best;
    return true;
}

static void race_choices(ht_tuner_t *t, ht_profile_t *base, const bool *probed) {
    const ht_space_t *s = &t->space;
    for (int i = 0; i < s->nchoice && !t->interrupted; i++)
        if (!probed[s->choice[i]] && !race_one(t, base, s->choice[i], "race", NULL)) return;
}

bool ht_step(const ht_tuner_t *t, const ht_profile_t *p, int k, double step, ht_dir_t dir,
             ht_profile_t *out) {
    const ht_space_t *s = &t->space;
    int i = 0;
    while (i < s->nnumeric && s->numeric[i] != k) i++;
    if (i == s->nnumeric) return false;
    double u[HAK_KNOB_COUNT];
    ht_space_coords(s, p, u);
    double x = u[i] + (dir == HT_DOWN ? -step : step);
    /* Past an end of the range: to the end, a shorter step, unless there
     * already. */
    if (x > 1) x = u[i] < 1 - 1e-9 ? 1 : NAN;
    if (x < 0) x = u[i] > 1e-9 ? 0 : NAN;
    if (isnan(x)) return false;
    u[i] = x;
    *out = *p;
    ht_space_apply(s, u, out);
    return !ht_profile_equal(out, p);
}

/* a beats b by more than the noise, or is within the constraints where b
 * is not, or breaks them by clearly less. */
static bool clearly_better(const ht_tuner_t *t, const ht_cand_t *a, const ht_cand_t *b) {
    if (a->feasible && !b->feasible) return true;
    if (a->feasible) return ht_obj_gain(t, a->obj, b->obj) > 1 + t->noise;
    if (a->violates && b->violates) return a->excess < 0.9 * b->excess;
    return false;
}

#define GUIDED_STEPS 3 /* steps one knob may take while each pays */

/* One step of numeric knob k from the best point so far; the best moves
 * there when it is clearly better. Returns the candidate, NULL when the
 * budget ran out; *NONE when no step was possible. */
static ht_cand_t *guided_step(ht_tuner_t *t, ht_profile_t *base, int k, ht_dir_t dir, bool *matters,
                              bool *helped, bool *none) {
    *none = false;
    *helped = false;
    ht_cand_t *cur = ht_find(t, base);
    ht_profile_t p;
    if (!cur || !ht_step(t, &cur->p, k, STEP_START, dir, &p)) {
        *none = true;
        return cur;
    }
    ht_cand_t *c = ht_evaluate(t, &p, "guided");
    if (!c) return NULL;
    double gain = ht_obj_gain(t, c->obj, cur->obj);
    *matters |= c->st != cur->st || c->feasible != cur->feasible || !(fabs(gain - 1) <= t->noise);
    if (clearly_better(t, c, cur)) {
        *base = c->p;
        *helped = true;
    }
    return c;
}

/* The point to step from: the best so far, or while nothing meets the
 * constraints the one that breaks them least. */
static ht_cand_t *leader(ht_tuner_t *t, const ht_profile_t *base) {
    if (t->best && ht_space_contains(&t->space, &t->best->p)) return t->best;
    ht_cand_t *least = ht_least_excess(t);
    if (least && ht_space_contains(&t->space, &least->p)) return least;
    return ht_find(t, base);
}

/* KNOBS (N of them, each the way DIRS says) from the leader, until the
 * evaluation END. First one step of each (a choice is raced), so that the
 * knob that matters is reached after as many evaluations as there are
 * knobs before it, not after every step of theirs; then more steps of
 * those that paid, and the other way for those that may go either way.
 * PROBED and MATTERS say which knobs were tried and which of those moved
 * the outcome beyond the noise. */
static void walk(ht_tuner_t *t, ht_profile_t *base, const int *knobs, const ht_dir_t *dirs, int n,
                 int end, bool *probed, bool *matters) {
    bool paid[HAK_KNOB_COUNT] = {0}, none, helped;
    for (int i = 0; i < n && t->evals < end && !t->interrupted; i++) {
        int k = knobs[i];
        const ht_dim_t *d = &t->space.dim[k];
        if (d->role == HT_FIXED || probed[k]) continue;
        probed[k] = true;
        /* A recheck of the default may have moved the best. */
        ht_cand_t *from = leader(t, base);
        if (from) *base = from->p;
        if (d->role == HT_CHOICE) {
            if (!race_one(t, base, k, "guided", &matters[k])) return;
            continue;
        }
        ht_dir_t dir = dirs[i] == HT_DOWN ? HT_DOWN : HT_UP;
        if (!guided_step(t, base, k, dir, &matters[k], &paid[k], &none)) return;
        if (none && dirs[i] == HT_EITHER &&
            !guided_step(t, base, k, HT_DOWN, &matters[k], &paid[k], &none))
            return;
    }
    for (int i = 0; i < n && t->evals < end && !t->interrupted; i++) {
        int k = knobs[i];
        if (t->space.dim[k].role != HT_NUMERIC || !probed[k]) continue;
        ht_cand_t *from = leader(t, base);
        if (from) *base = from->p;
        if (!paid[k] && dirs[i] != HT_EITHER) continue;
        ht_dir_t dir = paid[k] && dirs[i] == HT_DOWN ? HT_DOWN : paid[k] ? HT_UP : HT_DOWN;
        for (int step = paid[k] ? 1 : 0; step < GUIDED_STEPS && t->evals < end; step++) {
            if (!guided_step(t, base, k, dir, &matters[k], &helped, &none)) return;
            if (!helped) break;
        }
    }
}

/* The knobs the guide names, in its order: up to half the budget. */
static void guided(ht_tuner_t *t, ht_profile_t *base, bool *probed, bool *matters) {
    const ht_guide_t *g = &t->guide;
    if (!t->guided || g->nknobs == 0) return;
    if (!t->quiet) {
        fprintf(stderr, "guided: the default's counters point at");
        for (int i = 0; i < g->nknobs; i++)
            fprintf(stderr, "%s %s", i ? "," : "", hak_knob_table[g->knob[i]].name);
        fprintf(stderr, " (hak-tune --print-guide says why)\n");
    }
    walk(t, base, g->knob, g->dir, g->nknobs, t->evals + (t->max_evals + 1) / 2, probed, matters);
}

void ht_search_toward(ht_tuner_t *t, const int *knobs, const ht_dir_t *dirs, int n) {
    ht_profile_t base = t->def->p;
    bool probed[HAK_KNOB_COUNT] = {0}, matters[HAK_KNOB_COUNT] = {0};
    walk(t, &base, knobs, dirs, n, t->max_evals, probed, matters);
}

static void strategy(ht_tuner_t *t, const algo_t *a) {
    const ht_space_t *s = &t->space;
    ht_profile_t base;
    ht_space_start(s, &base);
    ht_cand_t *start = ht_evaluate(t, &base, "start");
    if (!start) return;
    if (ht_space_contains(s, &t->def->p) && ht_better(t, t->def, start)) base = t->def->p;
    bool probed[HAK_KNOB_COUNT] = {0}, matters[HAK_KNOB_COUNT] = {0};
    guided(t, &base, probed, matters);
    if (t->interrupted) return;
    if (t->best && ht_space_contains(s, &t->best->p)) base = t->best->p;
    race_choices(t, &base, probed);
    if (t->interrupted || s->nnumeric == 0 || !ht_budget_left(t)) return;

    /* The runner-up setting of the choices stays in the running when,
     * within the noise, it could still be the better one: racing at
     * default numeric values cannot tell them apart. It does not get a
     * search of its own (a local method's first model costs an evaluation
     * per knob); it is tried once at the leader's best point, two thirds
     * into the numeric budget, and the rest goes to whichever is better. */
    ht_cand_t *first = best_with(t, &base), *second = NULL;
    for (int i = 0; i < t->ncands; i++) {
        ht_cand_t *c = t->cands[i];
        if (!ht_space_contains(s, &c->p) || same_choices(s, &c->p, &first->p)) continue;
        ht_cand_t *b = best_with(t, &c->p);
        if (!second || ht_better(t, b, second)) second = b;
    }
    if (second && !(second->feasible && first->feasible &&
                    ht_obj_gain(t, second->obj, first->obj) >= 1.0 - 2.0 * t->noise))
        second = NULL;
    int active[HAK_KNOB_COUNT];
    int nactive = screen(t, &first->p, active, probed, matters);
    if (t->interrupted) return;
    if (!t->quiet)
        fprintf(stderr, "numeric search: %d knobs, %s%s\n", nactive, t->algorithm,
                native_constraints(a->alg) ? "" : " (in AUGLAG for the constraints)");
    int left = t->max_evals - t->evals;
    /* Screening already took steps of STEP_START: a smaller first step. */
    double step = nactive < s->nnumeric ? STEP_START / 2 : STEP_START;
    ht_cand_t *moved = numeric_search(t, a, &first->p, active, nactive, step,
                                      second ? &second->p : NULL, t->evals + (2 * left) / 3);
    if (moved && !t->interrupted)
        numeric_search(t, a, &moved->p, active, nactive, STEP_START, NULL, INT32_MAX);
}

static void random_search(ht_tuner_t *t) {
    const ht_space_t *s = &t->space;
    double u[HAK_KNOB_COUNT];
    for (int tries = 0; tries < 100 * t->max_evals && ht_budget_left(t); tries++) {
        ht_profile_t p;
        ht_space_start(s, &p);
        for (int i = 0; i < s->nnumeric; i++) u[i] = ht_rand01(t);
        ht_space_apply(s, u, &p);
        for (int i = 0; i < s->nchoice; i++) {
            const ht_dim_t *d = &s->dim[s->choice[i]];
            p.v[s->choice[i]] = d->choices[ht_rand(t) % d->nchoices];
        }
        if (ht_find(t, &p)) continue;
        if (!ht_evaluate(t, &p, "random")) break;
    }
}

void ht_search_again(ht_tuner_t *t) {
    algo_t a;
    char why[300];
    if (!parse_algorithm(t->algorithm, &a, why, sizeof why) || a.random) {
        random_search(t);
        return;
    }
    ht_cand_t *from = leader(t, &t->def->p);
    if (!from || t->space.nnumeric == 0) return;
    int active[HAK_KNOB_COUNT];
    for (int i = 0; i < t->space.nnumeric; i++) active[i] = i;
    numeric_search(t, &a, &from->p, active, t->space.nnumeric, STEP_START, NULL, INT32_MAX);
}

void ht_search(ht_tuner_t *t) {
    algo_t a;
    char why[300];
    if (!parse_algorithm(t->algorithm, &a, why, sizeof why)) return; /* checked by main */
    nlopt_srand(t->seed);
    if (a.random)
        random_search(t);
    else
        strategy(t, &a);
}
