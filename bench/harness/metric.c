/* metric.c — the figure a run is judged by: the bench programs'
 * "Throughput = N" line, the first group of the last match of any POSIX
 * extended regex, or 1 / wall seconds for a program that prints nothing
 * useful. The same three a profile header names in its "# metric:" line. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool hr_metric_init(hr_metric_t *m, const char *spec, char *why, size_t cap) {
    memset(m, 0, sizeof *m);
    if (spec == NULL || strcmp(spec, "throughput") == 0) {
        m->kind = HR_METRIC_THROUGHPUT;
        spec = HR_THROUGHPUT_RE;
    } else if (strcmp(spec, "wall") == 0) {
        m->kind = HR_METRIC_WALL;
        snprintf(m->regex, sizeof m->regex, "wall");
        return true;
    } else {
        m->kind = HR_METRIC_REGEX;
    }
    snprintf(m->regex, sizeof m->regex, "%s", spec);
    int e = regcomp(&m->re, spec, REG_EXTENDED);
    if (e != 0) {
        char msg[200];
        regerror(e, &m->re, msg, sizeof msg);
        snprintf(why, cap, "%s", msg);
        return false;
    }
    m->compiled = true;
    return true;
}

bool hr_metric_from_header(hr_metric_t *m, const char *field, char *why, size_t cap) {
    if (strcmp(field, "throughput") == 0 || strcmp(field, "wall") == 0)
        return hr_metric_init(m, field, why, cap);
    if (strncmp(field, "regex ", 6) == 0 && field[6]) return hr_metric_init(m, field + 6, why, cap);
    snprintf(why, cap, "expected throughput, wall or regex REGEX");
    return false;
}

void hr_metric_header(const hr_metric_t *m, char *buf, size_t cap) {
    if (m->kind == HR_METRIC_REGEX)
        snprintf(buf, cap, "regex %s", m->regex);
    else
        snprintf(buf, cap, "%s", m->kind == HR_METRIC_WALL ? "wall" : "throughput");
}

void hr_metric_done(hr_metric_t *m) {
    if (m->compiled) regfree(&m->re);
    m->compiled = false;
}

static bool last_match(const hr_metric_t *m, const char *text, double *out) {
    bool found = false;
    const char *s = text;
    regmatch_t g[2];
    while (*s && regexec(&m->re, s, 2, g, s == text ? 0 : REG_NOTBOL) == 0) {
        regmatch_t k = g[1].rm_so >= 0 ? g[1] : g[0];
        char num[64];
        size_t n = (size_t)(k.rm_eo - k.rm_so);
        if (n >= sizeof num) n = sizeof num - 1;
        memcpy(num, s + k.rm_so, n);
        num[n] = '\0';
        char *end;
        double v = strtod(num, &end);
        if (end != num && isfinite(v) && v >= 0) {
            *out = v;
            found = true;
        }
        s += g[0].rm_eo > 0 ? g[0].rm_eo : 1;
    }
    return found;
}

bool hr_metric_read(const hr_metric_t *m, const hr_proc_t *p, double *out) {
    if (m->kind == HR_METRIC_WALL) {
        if (!(p->wall_s > 0)) return false;
        *out = 1.0 / p->wall_s;
        return true;
    }
    return last_match(m, hr_out(p), out) || last_match(m, hr_err(p), out);
}
