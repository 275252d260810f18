/* html.c — the tuning report (--report DIR): one static index.html beside
 * its plots, for a person to read or to attach to a review. It holds what
 * the summary holds — the verdict with every confirmation pair, what
 * mattered, the ranked candidates, the profile's knobs — and the plots as
 * images in the same directory. No script, no style sheet or font from
 * the network: it opens the same from a disk, a mail or an archive. */
#include "tune.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RANKED_ROWS 20

static void text(FILE *f, const char *s) {
    hr_xml_text(f, s ? s : "");
}

static void th(FILE *f, const char *const *cols, int n) {
    fputs("<tr>", f);
    for (int i = 0; i < n; i++) {
        fputs("<th>", f);
        text(f, cols[i]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
}

/* Copies SRC to DIR/NAME, so the page and its images travel together. */
static bool copy_into(const char *src, const char *dir, const char *name) {
    char path[4400];
    ht_fmt(path, sizeof path, "%s/%s", dir, name);
    FILE *in = fopen(src, "rb");
    if (!in) return false;
    FILE *out = fopen(path, "wb");
    if (!out) {
        fclose(in);
        return false;
    }
    char buf[65536];
    size_t n;
    bool ok = true;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) ok &= fwrite(buf, 1, n, out) == n;
    fclose(in);
    return fclose(out) == 0 && ok;
}

static void pairs_table(FILE *f, const ht_tuner_t *t, const ht_confirm_t *cf) {
    static const char *const cols[] = {"pair", "default", "tuned", "ratio", "won"};
    fputs("<table>\n", f);
    th(f, cols, 5);
    int n = cf->pairs < HT_MAX_PAIRS ? cf->pairs : HT_MAX_PAIRS;
    for (int i = 0; i < n; i++) {
        char d[32], w[32];
        ht_fmt_metric(cf->pd[i], d, sizeof d);
        ht_fmt_metric(cf->pw[i], w, sizeof w);
        double r = ht_obj_ratio(t, cf->pwo[i], cf->pdo[i]);
        bool won = isfinite(r) && ht_obj_gain(t, cf->pwo[i], cf->pdo[i]) > 1;
        fprintf(f, "<tr><td>%d</td><td>%s</td><td>%s</td><td>%.3f</td><td>%s</td></tr>\n", i + 1, d,
                w, r, won ? "yes" : "no");
    }
    fputs("</table>\n", f);
}

static void mattered_table(FILE *f, const ht_tuner_t *t) {
    const ht_mattered_t *m = &t->mattered;
    if (!m->around) {
        fputs("<p>Not measured (nothing beat the default, or the search was stopped).</p>\n", f);
        return;
    }
    fprintf(f,
            "<p>Each knob of evaluation %d varied alone; beyond the noise means moving the "
            "objective by more than %.1f%%.</p>\n<table>\n",
            m->around, 100 * (exp(m->threshold) - 1));
    static const char *const cols[] = {"knob", "winner", "varied to", "objective, varied / winner",
                                       "mattered"};
    th(f, cols, 5);
    const ht_cand_t *w = NULL;
    for (int i = 0; i < t->ncands; i++)
        if (t->cands[i]->eval == m->around) w = t->cands[i];
    for (int i = 0; i < m->n && w; i++) {
        const ht_effect_t *e = &m->e[i];
        char a[64], b[64], r[64];
        hak_knob_format((hak_knob_id_t)e->knob, w->p.v[e->knob], a, sizeof a);
        hak_knob_format((hak_knob_id_t)e->knob, e->value, b, sizeof b);
        double ratio = t->objective == HT_OBJ_THROUGHPUT ? 1 / e->gain : e->gain;
        if (e->st == HR_CAPPED)
            ht_fmt(r, sizeof r, "x%.3g or worse (capped)", ratio);
        else if (e->st != HR_OK)
            ht_fmt(r, sizeof r, "%s", hr_status_name(e->st));
        else
            ht_fmt(r, sizeof r, "x%.3g%s", ratio, e->violates ? ", breaks a constraint" : "");
        fprintf(f, "<tr><td>%s</td><td>", hak_knob_table[e->knob].name);
        text(f, a);
        fputs("</td><td>", f);
        text(f, b);
        fprintf(f, "</td><td>%s</td><td>%s</td></tr>\n", r, e->mattered ? "<b>yes</b>" : "no");
    }
    fputs("</table>\n", f);
    if (m->unmeasured)
        fprintf(f, "<p>%d knobs were not varied: the time budget ran out.</p>\n", m->unmeasured);
}

static void ranked_table(FILE *f, ht_tuner_t *t) {
    static const char *const cols[] = {"rank",     "eval",         "metric", "ratio",  "min..max",
                                       "sys frac", "peak RSS MiB", "runs",   "status", "knobs"};
    fputs("<table>\n", f);
    th(f, cols, 10);
    int n;
    const ht_cand_t **v = ht_ranked(t, &n);
    for (int i = 0, shown = 0; i < n && shown < RANKED_ROWS; i++) {
        const ht_cand_t *c = v[i];
        if (c->eval < 0) continue; /* what mattered's variants have their own table */
        char m[32], lo[32], hi[32], diff[512];
        ht_fmt_metric(c->metric, m, sizeof m);
        ht_fmt_metric(c->metric_min, lo, sizeof lo);
        ht_fmt_metric(c->metric_max, hi, sizeof hi);
        ht_profile_diff(&c->p, &t->defaults, diff, sizeof diff);
        const char *st = c->st != HR_OK ? hr_status_name(c->st) : c->violates ? "violates" : "ok";
        fprintf(f, "<tr%s><td>%s</td><td>%d</td><td>%s</td><td>%.3f</td><td>%s..%s</td>",
                c == t->def ? " class='def'" : "", c == t->def ? "default" : "", c->eval, m,
                t->def->metric > 0 ? c->metric / t->def->metric : NAN, lo, hi);
        fprintf(f, "<td>%.3f</td><td>%.1f</td><td>%d</td><td>%s</td><td>", c->sysfrac,
                c->rss_kb / 1024, c->nruns, st);
        text(f, diff);
        fputs("</td></tr>\n", f);
        if (c == t->def) continue;
        shown++;
    }
    free(v);
    fputs("</table>\n", f);
}

/* The markdown table front.c wrote, as an HTML table. */
static void front_table(FILE *f, const char *md) {
    FILE *in = fopen(md, "r");
    if (!in) return;
    char line[4096];
    fputs("<table>\n", f);
    bool head = true;
    while (fgets(line, sizeof line, in)) {
        if (line[0] != '|') continue;
        if (strncmp(line, "|---", 4) == 0) continue;
        fputs("<tr>", f);
        char *s = line + 1;
        for (char *bar; (bar = strchr(s, '|')) != NULL; s = bar + 1) {
            *bar = '\0';
            fputs(head ? "<th>" : "<td>", f);
            text(f, s);
            fputs(head ? "</th>" : "</td>", f);
        }
        fputs("</tr>\n", f);
        head = false;
    }
    fputs("</table>\n", f);
    fclose(in);
}

bool ht_write_report(ht_tuner_t *t, const char *dir, const ht_confirm_t *cf,
                     const ht_report_t *rep) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "hak-tune: --report %s: cannot create the directory: %s\n", dir,
                strerror(errno));
        return false;
    }
    bool ok = true;
    if (rep->svg) ok &= copy_into(rep->svg, dir, "search.svg");
    if (rep->front_svg) ok &= copy_into(rep->front_svg, dir, "front.svg");
    char path[4400];
    ht_fmt(path, sizeof path, "%s/index.html", dir);
    FILE *f = fopen(path, "w");
    if (!f || !ok) {
        fprintf(stderr, "hak-tune: --report %s: cannot write %s: %s\n", dir, f ? "the plots" : path,
                strerror(errno));
        if (f) fclose(f);
        return false;
    }
    hr_session_t ses;
    hr_session_read(&ses);
    char cons[400], el[16];
    ht_constraints_text(t, cons, sizeof cons);
    ht_fmt_duration(hr_now() - t->t_start, el, sizeof el);
    fputs("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>", f);
    text(f, rep->title);
    fputs("</title>\n<style>body{font-family:sans-serif;max-width:72em;margin:1em auto;padding:0 "
          "1em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
          "padding:.2em .5em;text-align:left;font-size:90%}tr.def{background:#eee}"
          "pre{background:#f6f6f6;padding:.5em;overflow-x:auto}img{max-width:100%}</style>\n"
          "</head><body>\n<h1>hak-tune report</h1>\n<p>",
          f);
    text(f, rep->title);
    fputs("</p>\n<table>\n", f);
    const ht_origin_t *o = rep->origin;
    const char *rows[][2] = {{"workload", o ? o->name : ""},
                             {o && o->server ? "server" : "", o ? o->server : NULL},
                             {o && o->server ? "client" : "command", o ? o->command : ""},
                             {"tuned by", o ? o->invocation : ""},
                             {"objective", ht_objective_name(t->objective)},
                             {"constraints", cons},
                             {"date", ses.date},
                             {"host", ses.host}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (!rows[i][1] || !rows[i][0][0]) continue;
        fprintf(f, "<tr><th>%s</th><td>", rows[i][0]);
        text(f, rows[i][1]);
        fputs("</td></tr>\n", f);
    }
    fprintf(f,
            "<tr><th>search</th><td>%d evaluations, %d runs made (%d replayed, %d capped), "
            "noise %.1f%% a run, %s</td></tr>\n</table>\n",
            t->evals, t->runs_made, t->runs_replayed, t->capped_runs, 100 * t->noise, el);
    if (cf) {
        fputs("<h2>Verdict</h2>\n<p>", f);
        text(f, cf->verdict[0] ? cf->verdict : "no confirmation was made");
        fputs("</p>\n", f);
        if (cf->pairs) {
            fprintf(f,
                    "<p>%d interleaved pairs (default and tuned, alternating which ran first); "
                    "the ratio is of %s, tuned over default.</p>\n",
                    cf->pairs, ht_obj_label(t));
            pairs_table(f, t, cf);
        }
    }
    if (rep->front_md) {
        fputs("<h2>The trade-off front</h2>\n", f);
        front_table(f, rep->front_md);
    }
    if (rep->front_svg) fputs("<p><img src='front.svg' alt='the trade-off front'></p>\n", f);
    if (!rep->front_md) {
        fputs("<h2>What mattered</h2>\n", f);
        mattered_table(f, t);
    }
    if (rep->svg)
        fputs("<h2>The search</h2>\n<p><img src='search.svg' alt='convergence and trade-offs of "
              "the search'></p>\n",
              f);
    fputs("<h2>Candidates, best first</h2>\n", f);
    ranked_table(f, t);
    if (rep->profile) {
        fputs("<h2>The profile</h2>\n<p>", f);
        text(f, rep->profile);
        fputs("</p>\n<pre>", f);
        FILE *p = fopen(rep->profile, "r");
        char line[4200];
        while (p && fgets(line, sizeof line, p)) text(f, line);
        if (p) fclose(p);
        fputs("</pre>\n", f);
    }
    fputs("</body></html>\n", f);
    return fclose(f) == 0;
}
