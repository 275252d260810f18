/* mattered.c — what mattered: after the search, each knob of the winner is
 * varied alone (back to its default when the winner changed it, else one
 * step of its search range, or the next value of a choice), and the knobs
 * whose variation moved the objective beyond the noise are reported, in
 * the summary, the report and the profile's header.
 *
 * A user should learn that a program wants a large span cache, not just
 * get a file: the knobs the winner changed come first, since they are the
 * finding, and the others follow as the time budget allows. The variants
 * are ordinary evaluations (cached, logged, capped), numbered -1, -2, ...
 * apart from the search's budget of evaluations. */
#include "tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VARIANT_STEP 0.25 /* as screening's step, in search coordinates */

/* The one variant of knob k of p: the default's value when p changed it,
 * else a step up (down at the top), else the next choice. */
static bool variant(const ht_tuner_t *t, const ht_profile_t *p, int k, ht_profile_t *out) {
    const ht_dim_t *d = &t->space.dim[k];
    *out = *p;
    if (d->role == HT_FIXED) return false;
    if (p->v[k] != t->defaults.v[k]) {
        out->v[k] = t->defaults.v[k];
        if (ht_space_contains(&t->space, out)) return true;
        *out = *p;
    }
    if (d->role == HT_NUMERIC)
        return ht_step(t, p, k, VARIANT_STEP, HT_UP, out) ||
               ht_step(t, p, k, VARIANT_STEP, HT_DOWN, out);
    for (unsigned j = 0; j < d->nchoices; j++)
        if (d->choices[j] == p->v[k]) {
            out->v[k] = d->choices[(j + 1) % d->nchoices];
            return out->v[k] != p->v[k];
        }
    return false;
}

void ht_what_mattered(ht_tuner_t *t, const ht_cand_t *w) {
    ht_mattered_t *m = &t->mattered;
    memset(m, 0, sizeof *m);
    if (!w || w->st != HR_OK || t->interrupted) return;
    m->around = w->eval;
    int order[HAK_KNOB_COUNT], n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < HAK_KNOB_COUNT; k++)
            if ((w->p.v[k] != t->defaults.v[k]) == (pass == 0) && t->space.dim[k].role != HT_FIXED)
                order[n++] = k;
    if (!t->quiet && n)
        fprintf(stderr, "what mattered: each knob of evaluation %d varied alone (%d knobs)\n",
                w->eval, n);
    t->analysing = true;
    /* The winner's own figure was taken early in the search, perhaps in
     * a quieter or busier minute than the variants': it gets its full
     * runs now, beside them. */
    ht_remeasure(t, (ht_cand_t *)w, t->max_repeats);
    for (int i = 0; i < n; i++) {
        int k = order[i];
        ht_profile_t q;
        if (!variant(t, &w->p, k, &q)) continue;
        ht_cand_t *c = ht_evaluate(t, &q, "mattered");
        if (!c) {
            m->unmeasured = n - i;
            break;
        }
        ht_effect_t *e = &m->e[m->n++];
        e->knob = k;
        e->value = q.v[k];
        e->eval = c->eval;
        e->st = c->st;
        e->violates = c->violates && w->feasible;
        e->gain = c->st == HR_OK ? ht_obj_gain(t, w->obj, c->obj) : NAN;
        if (c->st == HR_CAPPED && c->bound > 0) e->gain = ht_obj_gain(t, w->obj, c->bound);
    }
    t->analysing = false;
    /* Two medians differ by noise alone by about noise x sqrt(1/n1 +
     * 1/n2) (x 1.25 for medians); three of those is beyond the noise, and
     * never less than the gain a profile needs to be written. The noise is
     * the one the variants' own repeats leave the search with. */
    double sd = t->noise * 1.25 * sqrt(1.0 / w->nruns + 1.0 / t->repeats);
    m->threshold = fmax(3 * sd, log(1 + t->min_gain));
    for (int i = 0; i < m->n; i++) {
        ht_effect_t *e = &m->e[i];
        e->mattered = e->st != HR_OK || e->violates || !(fabs(log(e->gain)) <= m->threshold);
    }
}

/* Most first: failures and capped variants, then by how far they moved. */
static int cmp_effect(const void *a, const void *b) {
    const ht_effect_t *x = a, *y = b;
    double ex = x->st != HR_OK ? INFINITY : fabs(log(x->gain));
    double ey = y->st != HR_OK ? INFINITY : fabs(log(y->gain));
    return (ex < ey) - (ex > ey);
}

/* "large_cache_bytes (1g; at 64m: throughput x0.083)" */
static void effect_text(const ht_tuner_t *t, const ht_effect_t *e, const ht_profile_t *w, char *buf,
                        size_t cap) {
    char a[64], b[64], what[120];
    hak_knob_format((hak_knob_id_t)e->knob, w->v[e->knob], a, sizeof a);
    hak_knob_format((hak_knob_id_t)e->knob, e->value, b, sizeof b);
    if (e->st == HR_CAPPED)
        ht_fmt(what, sizeof what, "capped, %s x%.3g or worse", ht_obj_label(t), 1 / e->gain);
    else if (e->st != HR_OK)
        ht_fmt(what, sizeof what, "%s", hr_status_name(e->st));
    else
        ht_fmt(what, sizeof what, "%s x%.3g%s%s", ht_obj_label(t),
               t->objective == HT_OBJ_THROUGHPUT ? 1 / e->gain : e->gain,
               e->violates ? ", breaks a constraint" : "",
               e->mattered && e->gain < 1 ? ", better than the winner" : "");
    ht_fmt(buf, cap, "%s (%s; at %s: %s)", hak_knob_table[e->knob].name, a, b, what);
}

static ht_effect_t *sorted(const ht_mattered_t *m) {
    ht_effect_t *v = malloc((size_t)(m->n ? m->n : 1) * sizeof *v);
    if (!v) abort();
    memcpy(v, m->e, (size_t)m->n * sizeof *v);
    qsort(v, (size_t)m->n, sizeof *v, cmp_effect);
    return v;
}

static const ht_cand_t *around(ht_tuner_t *t) {
    for (int i = 0; i < t->ncands; i++)
        if (t->cands[i]->eval == t->mattered.around) return t->cands[i];
    return NULL;
}

void ht_mattered_text(const ht_tuner_t *t, char *buf, size_t cap) {
    const ht_mattered_t *m = &t->mattered;
    const ht_cand_t *w = around((ht_tuner_t *)t);
    if (!m->around || !w) {
        ht_fmt(buf, cap, "not measured");
        return;
    }
    ht_effect_t *v = sorted(m);
    size_t len = 0;
    int quiet = 0;
    buf[0] = '\0';
    for (int i = 0; i < m->n; i++) {
        if (!v[i].mattered) {
            quiet++;
            continue;
        }
        char e[300];
        effect_text(t, &v[i], &w->p, e, sizeof e);
        int k = snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", len ? ", " : "", e);
        if (k > 0) len += (size_t)k;
    }
    free(v);
    if (len >= cap) len = cap - 1;
    char tail[200];
    int off =
        snprintf(tail, sizeof tail, "%s%d other%s within the noise (%.1f%%)", len ? "; " : "none; ",
                 quiet, quiet == 1 ? "" : "s", 100 * (exp(m->threshold) - 1));
    if (m->unmeasured && off > 0 && (size_t)off < sizeof tail)
        snprintf(tail + off, sizeof tail - (size_t)off, "; %d not varied for lack of time",
                 m->unmeasured);
    snprintf(buf + len, cap - len, "%s", tail);
}

void ht_mattered_print(const ht_tuner_t *t, FILE *f) {
    const ht_mattered_t *m = &t->mattered;
    const ht_cand_t *w = around((ht_tuner_t *)t);
    if (!m->around || !w) return;
    fprintf(f,
            "what mattered: each knob of evaluation %d varied alone; beyond the noise means "
            "moving %s by more than %.1f%%\n",
            m->around, ht_obj_label(t), 100 * (exp(m->threshold) - 1));
    ht_effect_t *v = sorted(m);
    for (int i = 0; i < m->n; i++) {
        char e[300];
        effect_text(t, &v[i], &w->p, e, sizeof e);
        fprintf(f, "  %-9s %s\n", v[i].mattered ? "MATTERED" : "-", e);
    }
    free(v);
    if (m->unmeasured)
        fprintf(f, "  (%d knob%s not varied: the time budget ran out)\n", m->unmeasured,
                m->unmeasured == 1 ? "" : "s");
}
