/* svg.c — the pictures of a search, drawn by hand as SVG: convergence of
 * the objective (every evaluation and the best so far), and the metric
 * against kernel time and against peak RSS for every candidate that ran,
 * so the trade-off the constraints cut through is visible; and the
 * trade-off front of --front, with the peers placed on it.
 *
 * Everything is drawn as a ratio to the default's median: the default sits
 * at 1 in every panel and gains read directly. */
#include "tune.h"

#include <math.h>
#include <string.h>

#define PANEL_W  380
#define PANEL_H  300
#define MARGIN_L 58
#define MARGIN_T 48
#define MARGIN_B 48
#define GAP      40

typedef struct {
    FILE *f;
    double x0, y0, w, h;       /* plot area in pixels */
    double xlo, xhi, ylo, yhi; /* data range */
} panel_t;

static double px(const panel_t *p, double x) {
    return p->x0 + (x - p->xlo) / (p->xhi - p->xlo) * p->w;
}

static double py(const panel_t *p, double y) {
    return p->y0 + p->h - (y - p->ylo) / (p->yhi - p->ylo) * p->h;
}

static double nice_step(double range) {
    double raw = range / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* Pads a range and snaps it to ticks. */
static void set_range(double *lo, double *hi) {
    if (!isfinite(*lo) || !isfinite(*hi)) *lo = 0, *hi = 1;
    if (*hi - *lo < 1e-9) {
        double d = fabs(*hi) > 0 ? fabs(*hi) * 0.1 : 1;
        *lo -= d;
        *hi += d;
    }
    double pad = (*hi - *lo) * 0.05;
    *lo -= pad;
    *hi += pad;
    double s = nice_step(*hi - *lo);
    *lo = floor(*lo / s) * s;
    *hi = ceil(*hi / s) * s;
}

static void axes(panel_t *p, const char *title, const char *xlabel, const char *ylabel) {
    FILE *f = p->f;
    fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#fff' stroke='#999'/>\n",
            p->x0, p->y0, p->w, p->h);
    double sx = nice_step(p->xhi - p->xlo), sy = nice_step(p->yhi - p->ylo);
    for (double x = ceil(p->xlo / sx) * sx; x <= p->xhi + sx * 1e-6; x += sx) {
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#eee'/>\n", px(p, x),
                p->y0, px(p, x), p->y0 + p->h);
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle'>%g</text>\n",
                px(p, x), p->y0 + p->h + 15, fabs(x) < sx * 1e-6 ? 0 : x);
    }
    for (double y = ceil(p->ylo / sy) * sy; y <= p->yhi + sy * 1e-6; y += sy) {
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#eee'/>\n", p->x0,
                py(p, y), p->x0 + p->w, py(p, y));
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='11' text-anchor='end'>%g</text>\n",
                p->x0 - 5, py(p, y) + 4, fabs(y) < sy * 1e-6 ? 0 : y);
    }
    fprintf(f, "<text x='%.1f' y='%.1f' font-size='13' font-weight='bold' text-anchor='middle'>",
            p->x0 + p->w / 2, p->y0 - 10);
    hr_xml_text(f, title);
    fprintf(f, "</text>\n<text x='%.1f' y='%.1f' font-size='12' text-anchor='middle'>",
            p->x0 + p->w / 2, p->y0 + p->h + 34);
    hr_xml_text(f, xlabel);
    fprintf(f,
            "</text>\n<text x='%.1f' y='%.1f' font-size='12' text-anchor='middle' "
            "transform='rotate(-90 %.1f %.1f)'>",
            p->x0 - 42, p->y0 + p->h / 2, p->x0 - 42, p->y0 + p->h / 2);
    hr_xml_text(f, ylabel);
    fprintf(f, "</text>\n");
    /* the default's level */
    if (1 >= p->ylo && 1 <= p->yhi)
        fprintf(f,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#555' "
                "stroke-dasharray='4 3'/>\n",
                p->x0, py(p, 1), p->x0 + p->w, py(p, 1));
}

/* The document, its background and its title. */
static void svg_open(FILE *f, double w, double h, const char *title) {
    fprintf(f,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
            "font-family='sans-serif'>\n<rect width='100%%' height='100%%' fill='#fafafa'/>\n",
            w, h);
    fprintf(f, "<text x='10' y='18' font-size='14'>");
    hr_xml_text(f, title);
    fprintf(f, "</text>\n");
}

static const char *colour(const ht_cand_t *c) {
    return c->feasible ? "#1f77b4" : c->violates ? "#ff7f0e" : "#d62728";
}

/* A limit across a panel: vertical at x, or horizontal at y. */
static void limit_line(const panel_t *p, bool vertical, double v, const char *label) {
    if (!isfinite(v)) return;
    if (vertical)
        fprintf(p->f,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#d62728' "
                "stroke-dasharray='6 3'/><text x='%.1f' y='%.1f' font-size='10' "
                "fill='#d62728'>%s</text>\n",
                px(p, v), p->y0, px(p, v), p->y0 + p->h, px(p, v) + 3, p->y0 + 12, label);
    else
        fprintf(p->f,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#d62728' "
                "stroke-dasharray='6 3'/><text x='%.1f' y='%.1f' font-size='10' "
                "fill='#d62728'>%s</text>\n",
                p->x0, py(p, v), p->x0 + p->w, py(p, v), p->x0 + 4, py(p, v) - 3, label);
}

static void dot(const panel_t *p, double x, double y, const ht_cand_t *c) {
    if (!isfinite(x) || !isfinite(y)) return;
    fprintf(p->f,
            "<circle cx='%.1f' cy='%.1f' r='3.5' fill='%s' fill-opacity='%s'>"
            "<title>eval %d</title></circle>\n",
            px(p, x), py(p, y), colour(c), c->feasible ? "0.8" : "0.35", c->eval);
}

static void mark(const panel_t *p, double x, double y, const char *fill, const char *label) {
    if (!isfinite(x) || !isfinite(y)) return;
    fprintf(p->f,
            "<rect x='%.1f' y='%.1f' width='9' height='9' fill='none' stroke='%s' "
            "stroke-width='2'/>\n",
            px(p, x) - 4.5, py(p, y) - 4.5, fill);
    fprintf(p->f, "<text x='%.1f' y='%.1f' font-size='10' fill='%s'>%s</text>\n", px(p, x) + 7,
            py(p, y) - 5, fill, label);
}

bool ht_write_svg(ht_tuner_t *t, const char *path, const ht_cand_t *chosen, const char *title) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    double dm = t->def && t->def->metric > 0 ? t->def->metric : 1;
    double dobj = t->def ? t->def->obj : NAN;
    bool up = t->objective == HT_OBJ_THROUGHPUT;
    bool floor_on = ht_con_active(t, HT_CON_FLOOR), rss_cap = ht_con_active(t, HT_CON_RSS);
    double W = MARGIN_L + 3 * (PANEL_W + MARGIN_L) + 2 * GAP - MARGIN_L + 20;
    double H = MARGIN_T + PANEL_H + MARGIN_B + 40;
    svg_open(f, W, H, title);

    /* the ranges: every candidate that ran */
    double ylo = floor_on ? t->min_tput_frac : 1, yhi = 1, olo = 1, ohi = 1;
    ht_fig_t ref = ht_ref(t);
    double cap = t->sys_cap ? ht_cap_limit(t, &ref) : NAN;
    double slo = 0, shi = isfinite(cap) ? cap : 0, rlo = INFINITY, rhi = -INFINITY;
    if (rss_cap) rlo = rhi = t->max_rss_mib;
    int maxeval = 1;
    for (int i = 0; i < t->ncands; i++) {
        const ht_cand_t *c = t->cands[i];
        if (c->eval > maxeval) maxeval = c->eval;
        if (c->st != HR_OK) continue;
        double r = c->metric / dm, s = ht_cap_value(t, c->sysfrac, c->sys), m = c->rss_kb / 1024;
        double o = ht_obj_ratio(t, c->obj, dobj);
        if (r < ylo) ylo = r;
        if (r > yhi) yhi = r;
        if (o < olo) olo = o;
        if (o > ohi) ohi = o;
        if (s > shi) shi = s;
        if (m < rlo) rlo = m;
        if (m > rhi) rhi = m;
    }
    set_range(&ylo, &yhi);
    set_range(&olo, &ohi);
    set_range(&slo, &shi);
    if (slo < 0) slo = 0;
    set_range(&rlo, &rhi);
    if (rlo < 0) rlo = 0;
    double xlo = 0, xhi = maxeval;
    set_range(&xlo, &xhi);
    if (xlo < 0) xlo = 0;

    panel_t conv = {f, MARGIN_L, MARGIN_T, PANEL_W, PANEL_H, xlo, xhi, olo, ohi};
    panel_t sys = conv, rss = conv;
    sys.ylo = rss.ylo = ylo;
    sys.yhi = rss.yhi = yhi;
    sys.x0 += PANEL_W + MARGIN_L + GAP;
    sys.xlo = slo;
    sys.xhi = shi;
    rss.x0 = sys.x0 + PANEL_W + MARGIN_L + GAP;
    rss.xlo = rlo;
    rss.xhi = rhi;

    char ctitle[96], ylabel[64];
    snprintf(ctitle, sizeof ctitle, "convergence: %s (%s)", ht_obj_label(t),
             up ? "higher is better" : "lower is better");
    snprintf(ylabel, sizeof ylabel, "%s / default", up ? "metric" : ht_obj_label(t));
    axes(&conv, ctitle, "evaluation", ylabel);
    /* failures sit on the floor of the plot, so they are seen and counted */
    for (int i = 0; i < t->ncands; i++) {
        const ht_cand_t *c = t->cands[i];
        if (c->st == HR_OK)
            dot(&conv, c->eval, ht_obj_ratio(t, c->obj, dobj), c);
        else
            fprintf(f,
                    "<text x='%.1f' y='%.1f' font-size='11' fill='#d62728' "
                    "text-anchor='middle'>x<title>eval %d: %s</title></text>\n",
                    px(&conv, c->eval), py(&conv, up ? olo : ohi) + (up ? -3 : 12), c->eval,
                    hr_status_name(c->st));
    }
    /* best so far: a step line over the evaluations in order */
    fprintf(f, "<polyline fill='none' stroke='#2ca02c' stroke-width='2' points='");
    double prev = NAN;
    for (int e = 0; e <= maxeval; e++) {
        for (int i = 0; i < t->ncands; i++) {
            const ht_cand_t *c = t->cands[i];
            if (c->eval != e || !isfinite(c->best_after)) continue;
            double y = ht_obj_ratio(t, c->best_after, dobj);
            if (isfinite(prev)) fprintf(f, "%.1f,%.1f ", px(&conv, e), py(&conv, prev));
            fprintf(f, "%.1f,%.1f ", px(&conv, e), py(&conv, y));
            prev = y;
        }
    }
    if (isfinite(prev)) fprintf(f, "%.1f,%.1f", px(&conv, maxeval), py(&conv, prev));
    fprintf(f, "'/>\n");

    char xl[64];
    snprintf(xl, sizeof xl, "%s", t->cap_seconds ? "kernel time, s" : "sys / (user + sys)");
    axes(&sys, "metric against kernel time", xl, "metric / default");
    if (t->sys_cap) limit_line(&sys, true, cap, t->sys_rel ? "default's + tolerance" : "cap");
    if (floor_on) limit_line(&sys, false, t->min_tput_frac, "floor");
    axes(&rss, "metric against peak RSS", "peak RSS, MiB", "metric / default");
    if (rss_cap) limit_line(&rss, true, t->max_rss_mib, "cap");
    if (floor_on) limit_line(&rss, false, t->min_tput_frac, "floor");
    for (int i = 0; i < t->ncands; i++) {
        const ht_cand_t *c = t->cands[i];
        if (c->st != HR_OK) continue;
        dot(&sys, ht_cap_value(t, c->sysfrac, c->sys), c->metric / dm, c);
        dot(&rss, c->rss_kb / 1024, c->metric / dm, c);
    }
    if (t->def && t->def->st == HR_OK) {
        mark(&sys, ht_cap_value(t, t->def->sysfrac, t->def->sys), 1, "#000", "default");
        mark(&rss, t->def->rss_kb / 1024, 1, "#000", "default");
    }
    if (chosen && chosen != t->def && chosen->st == HR_OK) {
        mark(&sys, ht_cap_value(t, chosen->sysfrac, chosen->sys), chosen->metric / dm, "#2ca02c",
             "chosen");
        mark(&rss, chosen->rss_kb / 1024, chosen->metric / dm, "#2ca02c", "chosen");
    }
    /* legend */
    double ly = H - 14;
    fprintf(f,
            "<g font-size='11'><circle cx='20' cy='%.1f' r='4' fill='#1f77b4'/><text x='28' "
            "y='%.1f'>meets the constraints</text><circle cx='170' cy='%.1f' r='4' fill='#ff7f0e' "
            "fill-opacity='0.5'/><text x='178' y='%.1f'>breaks one</text><text x='266' "
            "y='%.1f' fill='#d62728'>x</text><text x='278' y='%.1f'>failed (crash, timeout, "
            "...)</text><line x1='430' y1='%.1f' x2='450' y2='%.1f' stroke='#2ca02c' "
            "stroke-width='2'/><text x='455' y='%.1f'>best so far</text><line x1='550' y1='%.1f' "
            "x2='570' y2='%.1f' stroke='#555' stroke-dasharray='4 3'/><text x='575' "
            "y='%.1f'>default = 1</text></g>\n",
            ly - 4, ly, ly - 4, ly, ly, ly, ly - 4, ly - 4, ly, ly - 4, ly - 4, ly);
    fprintf(f, "</svg>\n");
    return fclose(f) == 0;
}

bool ht_write_front_svg(const char *path, const char *title, const char *xlabel,
                        const ht_front_mark_t *m, int n) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    double xlo = INFINITY, xhi = -INFINITY, ylo = 1, yhi = 1;
    for (int i = 0; i < n; i++) {
        if (!isfinite(m[i].x) || !isfinite(m[i].y)) continue;
        xlo = fmin(xlo, m[i].x);
        xhi = fmax(xhi, m[i].x);
        ylo = fmin(ylo, m[i].y);
        yhi = fmax(yhi, m[i].y);
    }
    set_range(&xlo, &xhi);
    if (xlo < 0) xlo = 0;
    set_range(&ylo, &yhi);
    if (ylo < 0) ylo = 0;
    double W = MARGIN_L + 2 * PANEL_W + 200, H = MARGIN_T + 1.5 * PANEL_H + MARGIN_B + 30;
    svg_open(f, W, H, title);
    panel_t p = {f, MARGIN_L, MARGIN_T, 2 * PANEL_W, 1.5 * PANEL_H, xlo, xhi, ylo, yhi};
    axes(&p, "throughput against the bound (up and to the left is better)", xlabel,
         "metric / default's");
    /* the front: its points in the order of their bounds, joined */
    fprintf(f, "<polyline fill='none' stroke='#2ca02c' stroke-width='2' points='");
    for (int i = 0; i < n; i++)
        if (!m[i].peer && isfinite(m[i].x) && isfinite(m[i].y) && m[i].color == NULL)
            fprintf(f, "%.1f,%.1f ", px(&p, m[i].x), py(&p, m[i].y));
    fprintf(f, "'/>\n");
    for (int i = 0; i < n; i++) {
        const ht_front_mark_t *k = &m[i];
        if (!isfinite(k->x) || !isfinite(k->y)) continue;
        const char *c = k->color ? k->color : "#2ca02c";
        if (k->peer)
            fprintf(f,
                    "<path d='M %.1f %.1f l 6 6 l -6 6 l -6 -6 z' fill='%s' fill-opacity='0.8'/>\n",
                    px(&p, k->x), py(&p, k->y) - 6, c);
        else
            fprintf(f, "<circle cx='%.1f' cy='%.1f' r='5' fill='%s' stroke='%s'/>\n", px(&p, k->x),
                    py(&p, k->y), k->confirmed ? c : "#fff", c);
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='11' fill='%s'>", px(&p, k->x) + 8,
                py(&p, k->y) - 6, c);
        hr_xml_text(f, k->label);
        fprintf(f, "</text>\n");
    }
    double ly = H - 14;
    fprintf(f,
            "<g font-size='11'><circle cx='20' cy='%.1f' r='5' fill='#2ca02c'/><text x='30' "
            "y='%.1f'>front point, confirmed</text><circle cx='190' cy='%.1f' r='5' fill='#fff' "
            "stroke='#2ca02c'/><text x='200' y='%.1f'>not confirmed</text><path d='M 320 %.1f l "
            "6 6 l -6 6 l -6 -6 z' fill='#7f7f7f'/><text x='332' y='%.1f'>another allocator, "
            "same workload</text></g>\n",
            ly - 4, ly, ly - 4, ly, ly - 10, ly);
    fprintf(f, "</svg>\n");
    return fclose(f) == 0;
}
