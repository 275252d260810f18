/* profile.c — a profile: as the tuner holds it (one value per knob of the
 * table), and as a file: the knobs written the way the loader reads them
 * back, under a header of "# key: value" lines that says what the profile
 * was tuned for, how and with what result. The header is written here and
 * read back here (for --verify); configs/README.md documents it.
 *
 * Values are formatted by hak_knob_format, the library's own formatter, so
 * whatever the tuner writes the loader accepts in strict mode. */
#include "tune.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void ht_profile_defaults(ht_profile_t *p) {
    for (int k = 0; k < HAK_KNOB_COUNT; k++) p->v[k] = hak_knob_table[k].def;
}

bool ht_profile_equal(const ht_profile_t *a, const ht_profile_t *b) {
    return memcmp(a->v, b->v, sizeof a->v) == 0;
}

void ht_profile_write_knobs(FILE *f, const ht_profile_t *p) {
    for (int k = 0; k < HAK_KNOB_COUNT; k++) {
        char v[64];
        hak_knob_format((hak_knob_id_t)k, p->v[k], v, sizeof v);
        fprintf(f, "%s = %s;  # %s\n", hak_knob_table[k].name, v, hak_knob_table[k].help);
    }
}

void ht_profile_diff(const ht_profile_t *p, const ht_profile_t *base, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < HAK_KNOB_COUNT && n < cap; k++) {
        if (p->v[k] == base->v[k]) continue;
        char v[64];
        hak_knob_format((hak_knob_id_t)k, p->v[k], v, sizeof v);
        /* Quotes only add noise on a progress line. */
        char *q;
        while ((q = strchr(v, '"')) != NULL) memmove(q, q + 1, strlen(q));
        int w = snprintf(buf + n, cap - n, "%s%s=%s", n ? " " : "", hak_knob_table[k].name, v);
        if (w < 0) break;
        n += (size_t)w;
    }
    if (buf[0] == '\0') snprintf(buf, cap, "defaults");
}

/* ---- the header, written ---------------------------------------------------- */

/* "x1.123 (min 1.050, max 1.210), won 5 of 5 pairs" and the rest: the
 * confirmed gain on the objective, then the throughput and kernel time. */
static void gain_text(const ht_tuner_t *t, const ht_confirm_t *cf, char *buf, size_t cap) {
    char sys[120];
    if (t->cap_seconds || t->objective == HT_OBJ_SYS)
        ht_fmt(sys, sizeof sys, "sys %.3f s (default %.3f s)", cf->w_sys, cf->d_sys);
    else
        ht_fmt(sys, sizeof sys, "sys fraction %.3f (default %.3f)", cf->w_sysfrac, cf->d_sysfrac);
    if (t->objective == HT_OBJ_THROUGHPUT)
        ht_fmt(buf, cap, "throughput x%.3f (min %.3f, max %.3f), won %d of %d pairs; %s",
               cf->ratio_med, cf->ratio_min, cf->ratio_max, cf->wins, cf->pairs, sys);
    else
        ht_fmt(buf, cap,
               "%s x%.3f (min %.3f, max %.3f), lower in %d of %d pairs; throughput x%.3f (min "
               "%.3f, max %.3f); %s; peak RSS %.1f MiB (default %.1f MiB)",
               ht_obj_label(t), cf->oratio_med, cf->oratio_min, cf->oratio_max, cf->wins, cf->pairs,
               cf->ratio_med, cf->ratio_min, cf->ratio_max, sys, cf->w_rss / 1024,
               cf->d_rss / 1024);
}

bool ht_write_profile(ht_tuner_t *t, const char *path, const ht_profile_t *p,
                      const ht_cand_t *winner, const ht_confirm_t *cf, const ht_origin_t *o) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "hak-tune: cannot write %s: %s\n", tmp, strerror(errno));
        return false;
    }
    char date[64], host[256] = "?", mf[600], cons[300], gain[600], a[32], b[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %z", &tm);
    gethostname(host, sizeof host - 1);
    hr_metric_header(&t->runner.metric, mf, sizeof mf);
    ht_constraints_text(t, cons, sizeof cons);
    bool tuned = !ht_profile_equal(p, &t->defaults);
    bool confirmed = cf && cf->pairs && cf->done;
    if (!tuned)
        ht_fmt(gain, sizeof gain, "none: these are the defaults");
    else if (confirmed && cf->adopted)
        gain_text(t, cf, gain, sizeof gain);
    else
        ht_fmt(gain, sizeof gain, "not confirmed: %s",
               cf && cf->verdict[0] ? cf->verdict
                                    : "interrupted before the interleaved confirmation");
    /* "key: value" lines, machine-readable, whose format configs/README.md
     * documents and ht_header_read reads back; then the details. */
    fprintf(f, "# hakmem profile written by hak-tune %s\n", HT_VERSION);
    fprintf(f, "# workload:    %s\n", o->name);
    if (o->bench) {
        fprintf(f, "# bench:       %s\n", o->bench);
    } else if (o->server) {
        fprintf(f, "# server:      %s\n", o->server);
        fprintf(f, "# client:      %s\n", o->command);
    } else {
        fprintf(f, "# cmd:         %s\n", o->command);
    }
    fprintf(f, "# metric:      %s\n", mf);
    fprintf(f, "# objective:   %s\n", ht_objective_name(t->objective));
    fprintf(f, "# constraints: %s\n", cons);
    fprintf(f, "# gain:        %s\n", gain);
    if (o->front) fprintf(f, "# front:       %s\n", o->front);
    /* What mattered is said of the profile it was measured around. */
    const ht_cand_t *around = NULL;
    for (int i = 0; i < t->ncands && t->mattered.around; i++)
        if (t->cands[i]->eval == t->mattered.around) around = t->cands[i];
    if (around && ht_profile_equal(&around->p, p)) {
        char m[HT_HEADER_VALUE];
        ht_mattered_text(t, m, sizeof m);
        fprintf(f, "# mattered:    %s\n", m);
    }
    fprintf(f, "# command:     HAKMEM_CONFIG=%s LD_PRELOAD=%s %s\n", path, t->runner.lib,
            o->server ? o->server : o->command);
    fprintf(f, "# tuned by:    %s\n", o->invocation);
    fprintf(f, "# date:        %s\n", date);
    fprintf(f, "# host:        %s\n", host);
    fprintf(f,
            "# search:      %d evaluations, %d runs (%d replayed, %d capped), algorithm %s, seed "
            "%lu, repeats %d-%d, noise of %s %.1f%% a run\n",
            t->evals, t->runs_made + t->runs_replayed, t->runs_replayed, t->capped_runs,
            t->algorithm, t->seed, t->repeats, t->max_repeats, ht_obj_label(t), 100 * t->noise);
    if (cf && cf->pairs) {
        ht_fmt_metric(cf->w_metric, a, sizeof a);
        ht_fmt_metric(cf->d_metric, b, sizeof b);
        fprintf(f,
                "# measured in %d interleaved pairs, evaluation %d against the default "
                "(medians):\n",
                cf->pairs, cf->eval);
        fprintf(f,
                "#   metric        candidate %-10s default %-10s ratio %.3f (min %.3f, max %.3f)%s",
                a, b, cf->ratio_med, cf->ratio_min, cf->ratio_max,
                t->objective == HT_OBJ_THROUGHPUT ? "" : "\n");
        if (t->objective == HT_OBJ_THROUGHPUT)
            fprintf(f, ", candidate won %d of %d\n", cf->wins, cf->pairs);
        fprintf(f, "#   sys fraction  candidate %-10.3f default %-10.3f (sys %.3f s vs %.3f s)",
                cf->w_sysfrac, cf->d_sysfrac, cf->w_sys, cf->d_sys);
        if (t->objective == HT_OBJ_SYS)
            fprintf(f, ", sys ratio %.3f (min %.3f, max %.3f), candidate lower in %d of %d",
                    cf->oratio_med, cf->oratio_min, cf->oratio_max, cf->wins, cf->pairs);
        fprintf(f, "\n#   peak RSS      candidate %-10.1f default %-10.1f (MiB)", cf->w_rss / 1024,
                cf->d_rss / 1024);
        if (t->objective == HT_OBJ_RSS)
            fprintf(f, ", ratio %.3f (min %.3f, max %.3f), candidate lower in %d of %d",
                    cf->oratio_med, cf->oratio_min, cf->oratio_max, cf->wins, cf->pairs);
        fprintf(f, "\n# verdict:     %s\n", cf->verdict);
    } else if (winner && winner != t->def && t->def) {
        ht_fmt_metric(winner->metric, a, sizeof a);
        ht_fmt_metric(t->def->metric, b, sizeof b);
        fprintf(f, "# NOT CONFIRMED: the search was interrupted before the interleaved "
                   "confirmation; figures from the search runs:\n");
        fprintf(f, "#   metric        tuned %s (%d runs), default %s (%d runs), ratio %.3f\n", a,
                winner->nruns, b, t->def->nruns, winner->metric / t->def->metric);
        fprintf(f, "#   sys fraction  tuned %.3f, default %.3f\n", winner->sysfrac,
                t->def->sysfrac);
        fprintf(f, "#   peak RSS      tuned %.1f MiB, default %.1f MiB\n", winner->rss_kb / 1024,
                t->def->rss_kb / 1024);
    } else if (t->def && t->def->nruns) {
        ht_fmt_metric(t->def->metric, b, sizeof b);
        fprintf(f,
                "# measured: default %s (median of %d runs), sys fraction %.3f, peak RSS %.1f "
                "MiB\n",
                b, t->def->nruns, t->def->sysfrac, t->def->rss_kb / 1024);
        fprintf(f, "# verdict:     %s\n",
                cf && cf->verdict[0] ? cf->verdict : "no candidate beat the default");
    }
    fprintf(f, "# %s\n\n",
            tuned ? "the knobs below are the tuned profile"
                  : "the knobs below are the defaults: tuning found nothing clearly better");
    ht_profile_write_knobs(f, p);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "hak-tune: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return false;
    }
    return true;
}

/* ---- the header, read back ---------------------------------------------------- */

/* "#", spaces, a key of lower-case words, ":", spaces, the value: false for
 * any other line. */
static bool header_line(const char *line, char *key, size_t kcap, char *val, size_t vcap) {
    const char *p = line;
    if (*p++ != '#') return false;
    while (*p == ' ' || *p == '\t') p++;
    const char *k = p;
    if (!islower((unsigned char)*p)) return false;
    while (islower((unsigned char)*p) || *p == ' ') p++;
    if (*p != ':') return false;
    size_t kn = (size_t)(p - k);
    while (kn && k[kn - 1] == ' ') kn--;
    p++;
    while (*p == ' ' || *p == '\t') p++;
    size_t vn = strlen(p);
    while (vn && isspace((unsigned char)p[vn - 1])) vn--;
    snprintf(key, kcap, "%.*s", (int)kn, k);
    snprintf(val, vcap, "%.*s", (int)vn, p);
    return true;
}

bool ht_header_read(const char *path, ht_header_t *h, char *why, size_t cap) {
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, cap, "cannot read: %s", strerror(errno));
        return false;
    }
    char line[HT_HEADER_VALUE + 128];
    /* Only the comment lines before the first knob; the first line of
     * each key wins. */
    while (fgets(line, sizeof line, f)) {
        const char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s != '#' && *s != '\n' && *s != '\r' && *s != '\0') break;
        char key[64], val[HT_HEADER_VALUE];
        if (!header_line(s, key, sizeof key, val, sizeof val) || ht_header_get(h, key)) continue;
        if (h->n == HT_HEADER_MAX) break;
        snprintf(h->key[h->n], sizeof h->key[0], "%s", key);
        snprintf(h->value[h->n], sizeof h->value[0], "%s", val);
        h->n++;
    }
    fclose(f);
    return true;
}

const char *ht_header_get(const ht_header_t *h, const char *key) {
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->key[i], key) == 0) return h->value[i];
    return NULL;
}
