/* space.c — the search space: which knobs the tuner may change, over which
 * values, and how a point of the numeric search becomes a profile.
 *
 * Everything starts from the knob table (bounds, scale, tunable flag), so a
 * knob added to the library is searched without touching the tuner. A
 * --space file (libconfig, like a profile) then fixes knobs, narrows their
 * ranges or restricts their choices. Numeric knobs live in [0,1]
 * coordinates, log-scaled where the table says so, because the optimisers
 * take steps of one size in every direction and a log knob's interesting
 * values span orders of magnitude. */
#include "tune.h"

#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <string.h>

static double axis(const ht_dim_t *d, double v) {
    return d->log ? log(v + d->shift) : v;
}

static void set_choices_all(ht_dim_t *d, const hak_knob_info_t *kn) {
    d->nchoices = 0;
    if (kn->type == HAK_T_BOOL) {
        d->choices[d->nchoices++] = 0;
        d->choices[d->nchoices++] = 1;
        return;
    }
    for (unsigned i = 0; kn->values[i] != NULL && d->nchoices < HT_MAX_CHOICES; i++)
        d->choices[d->nchoices++] = i;
}

static void reindex(ht_space_t *s) {
    s->nnumeric = s->nchoice = 0;
    for (int k = 0; k < HAK_KNOB_COUNT; k++) {
        ht_dim_t *d = &s->dim[k];
        if (d->role == HT_NUMERIC && d->lo == d->hi) {
            d->role = HT_FIXED;
            d->fixed = d->lo;
        }
        if (d->role == HT_CHOICE && d->nchoices == 1) {
            d->role = HT_FIXED;
            d->fixed = d->choices[0];
        }
        switch (d->role) {
        case HT_FIXED:
            d->start = d->fixed;
            break;
        case HT_NUMERIC:
            d->start = hak_knob_table[k].def;
            if (d->start < d->lo) d->start = d->lo;
            if (d->start > d->hi) d->start = d->hi;
            s->numeric[s->nnumeric++] = k;
            break;
        case HT_CHOICE: {
            d->start = d->choices[0];
            for (unsigned i = 0; i < d->nchoices; i++)
                if (d->choices[i] == hak_knob_table[k].def) d->start = d->choices[i];
            s->choice[s->nchoice++] = k;
            break;
        }
        }
    }
}

void ht_space_init(ht_space_t *s) {
    memset(s, 0, sizeof *s);
    for (int k = 0; k < HAK_KNOB_COUNT; k++) {
        const hak_knob_info_t *kn = &hak_knob_table[k];
        ht_dim_t *d = &s->dim[k];
        if (!kn->tunable) {
            d->role = HT_FIXED;
            d->fixed = kn->def;
        } else if (kn->type == HAK_T_BOOL || kn->type == HAK_T_ENUM) {
            d->role = HT_CHOICE;
            set_choices_all(d, kn);
        } else {
            d->role = HT_NUMERIC;
            d->lo = kn->min;
            d->hi = kn->max;
            d->log = kn->scale == HAK_SCALE_LOG;
            d->shift = d->lo <= 0 ? 1.0 - (double)d->lo : 0.0;
        }
    }
    reindex(s);
}

void ht_space_start(const ht_space_t *s, ht_profile_t *p) {
    for (int k = 0; k < HAK_KNOB_COUNT; k++) p->v[k] = s->dim[k].start;
}

/* A value the search may land on. Integers are rounded, as NLopt knows only
 * reals; on a log axis values past 100 keep two significant digits and
 * sizes a multiple of 16, since runs cannot tell 10000 from 10100 apart
 * and a coarser grid lets the cache recognise points already measured. */
static long long quantize(int k, const ht_dim_t *d, double v) {
    if (!isfinite(v)) v = (double)d->start;
    double r = nearbyint(v);
    if (d->log && fabs(r) >= 100) {
        double mag = pow(10.0, floor(log10(fabs(r))) - 1);
        r = nearbyint(r / mag) * mag;
        if (hak_knob_table[k].type == HAK_T_SIZE) r = nearbyint(r / 16) * 16;
    }
    if (r < (double)d->lo) r = (double)d->lo;
    if (r > (double)d->hi) r = (double)d->hi;
    return (long long)r;
}

static double coord(const ht_dim_t *d, long long v) {
    double a0 = axis(d, (double)d->lo), a1 = axis(d, (double)d->hi);
    double x = (double)v;
    if (x < (double)d->lo) x = (double)d->lo;
    if (x > (double)d->hi) x = (double)d->hi;
    return a1 > a0 ? (axis(d, x) - a0) / (a1 - a0) : 0;
}

void ht_space_apply(const ht_space_t *s, const double *u, ht_profile_t *p) {
    for (int i = 0; i < s->nnumeric; i++) {
        int k = s->numeric[i];
        const ht_dim_t *d = &s->dim[k];
        double x = u[i];
        if (!(x >= 0)) x = 0; /* also NaN */
        if (x > 1) x = 1;
        /* A coordinate nobody moved keeps its value exactly: the grid below
         * must not shift a default (1024 is not on it) whenever some other
         * knob takes a step. */
        if (p->v[k] >= d->lo && p->v[k] <= d->hi && fabs(x - coord(d, p->v[k])) < 1e-12) continue;
        double a0 = axis(d, (double)d->lo), a1 = axis(d, (double)d->hi);
        double a = a0 + x * (a1 - a0);
        double v = d->log ? exp(a) - d->shift : a;
        p->v[k] = quantize(k, d, v);
    }
}

void ht_space_coords(const ht_space_t *s, const ht_profile_t *p, double *u) {
    for (int i = 0; i < s->nnumeric; i++) u[i] = coord(&s->dim[s->numeric[i]], p->v[s->numeric[i]]);
}

bool ht_space_contains(const ht_space_t *s, const ht_profile_t *p) {
    for (int k = 0; k < HAK_KNOB_COUNT; k++) {
        const ht_dim_t *d = &s->dim[k];
        long long v = p->v[k];
        switch (d->role) {
        case HT_FIXED:
            if (v != d->fixed) return false;
            break;
        case HT_NUMERIC:
            if (v < d->lo || v > d->hi) return false;
            break;
        case HT_CHOICE: {
            bool found = false;
            for (unsigned i = 0; i < d->nchoices; i++) found |= d->choices[i] == v;
            if (!found) return false;
            break;
        }
        }
    }
    return true;
}

/* ---- --space files ------------------------------------------------------ */

static bool is_scalar(int type) {
    return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 || type == CONFIG_TYPE_BOOL ||
           type == CONFIG_TYPE_STRING || type == CONFIG_TYPE_FLOAT;
}

/* One scalar setting as a value of knob k, read as the profile loader
 * reads it (sizes may be strings with suffixes, booleans may be 0/1). */
static bool scalar_value(int k, const config_setting_t *s, long long *out) {
    const hak_knob_info_t *kn = &hak_knob_table[k];
    int type = config_setting_type(s);
    if (type == CONFIG_TYPE_STRING)
        return hak_knob_parse((hak_knob_id_t)k, config_setting_get_string(s), out);
    if (type == CONFIG_TYPE_BOOL) {
        if (kn->type != HAK_T_BOOL) return false;
        *out = config_setting_get_bool(s);
        return true;
    }
    if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
        if (kn->type == HAK_T_ENUM) return false;
        *out = config_setting_get_int64(s);
        return *out >= kn->min && *out <= kn->max;
    }
    return false;
}

static void scalar_text(const config_setting_t *s, char *buf, size_t cap) {
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, cap, "%lld", (long long)config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_BOOL:
        snprintf(buf, cap, "%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    case CONFIG_TYPE_STRING:
        snprintf(buf, cap, "\"%s\"", config_setting_get_string(s));
        break;
    case CONFIG_TYPE_FLOAT:
        snprintf(buf, cap, "%g", config_setting_get_float(s));
        break;
    default:
        snprintf(buf, cap, "a group");
        break;
    }
}

static bool space_setting(ht_space_t *sp, const char *path, config_setting_t *s) {
    const char *name = config_setting_name(s);
    int line = (int)config_setting_source_line(s);
    int k = name ? hak_knob_find(name) : -1;
    if (k < 0) {
        const char *near = name ? hak_knob_suggest(name) : NULL;
        fprintf(
            stderr,
            "hak-tune: space %s:%d: unknown knob \"%s\"%s%s%s (hakmem-config --knobs lists them)\n",
            path, line, name ? name : "?", near ? " (did you mean " : "", near ? near : "",
            near ? "?)" : "");
        return false;
    }
    const hak_knob_info_t *kn = &hak_knob_table[k];
    ht_dim_t *d = &sp->dim[k];
    char allowed[200];
    hak_knob_allowed((hak_knob_id_t)k, allowed, sizeof allowed);
    d->from_space = true;
    int type = config_setting_type(s);
    long long v;
    if (is_scalar(type)) {
        if (!scalar_value(k, s, &v)) {
            char got[128];
            scalar_text(s, got, sizeof got);
            fprintf(stderr,
                    "hak-tune: space %s:%d: %s = %s: must be %s (a fixed value), "
                    "[LOW, HIGH] (a range) or a list of choices\n",
                    path, line, name, got, allowed);
            return false;
        }
        d->role = HT_FIXED;
        d->fixed = v;
        return true;
    }
    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
        fprintf(stderr,
                "hak-tune: space %s:%d: %s is a group; expected a value, [LOW, HIGH] or a "
                "list of choices\n",
                path, line, name);
        return false;
    }
    if (!kn->tunable) {
        fprintf(stderr,
                "hak-tune: space %s:%d: %s is not a tunable knob: it can be fixed "
                "(%s = VALUE;) but not searched\n",
                path, line, name, name);
        return false;
    }
    int n = config_setting_length(s);
    long long vals[HT_MAX_CHOICES];
    if (n < 1 || n > HT_MAX_CHOICES) {
        fprintf(stderr, "hak-tune: space %s:%d: %s: %d values listed; expected 1 to %d\n", path,
                line, name, n, HT_MAX_CHOICES);
        return false;
    }
    for (int i = 0; i < n; i++) {
        config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (!is_scalar(config_setting_type(e)) || !scalar_value(k, e, &vals[i])) {
            char got[128];
            scalar_text(e, got, sizeof got);
            fprintf(stderr, "hak-tune: space %s:%d: %s: %s (item %d of the list) must be %s\n",
                    path, line, name, got, i + 1, allowed);
            return false;
        }
    }
    if (kn->type == HAK_T_BOOL || kn->type == HAK_T_ENUM) {
        d->role = HT_CHOICE;
        d->nchoices = 0;
        for (int i = 0; i < n; i++) {
            bool dup = false;
            for (unsigned j = 0; j < d->nchoices; j++) dup |= d->choices[j] == vals[i];
            if (!dup) d->choices[d->nchoices++] = vals[i];
        }
        return true;
    }
    if (n != 2 || vals[0] > vals[1]) {
        fprintf(stderr,
                "hak-tune: space %s:%d: %s: a numeric knob takes [LOW, HIGH] with "
                "LOW <= HIGH, each %s\n",
                path, line, name, allowed);
        return false;
    }
    d->role = HT_NUMERIC;
    d->lo = vals[0];
    d->hi = vals[1];
    return true;
}

bool ht_space_load(ht_space_t *sp, const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "hak-tune: --space %s: cannot read: %s\n", path, strerror(errno));
        return false;
    }
    fclose(f);
    config_t cfg;
    config_init(&cfg);
    if (config_read_file(&cfg, path) != CONFIG_TRUE) {
        fprintf(stderr,
                "hak-tune: space %s:%d: %s (expected libconfig lines like "
                "`knob = value;` or `knob = [low, high];`)\n",
                path, config_error_line(&cfg), config_error_text(&cfg));
        config_destroy(&cfg);
        return false;
    }
    config_setting_t *root = config_root_setting(&cfg);
    bool ok = true;
    int n = config_setting_length(root);
    for (int i = 0; i < n; i++)
        ok &= space_setting(sp, path, config_setting_get_elem(root, (unsigned)i));
    config_destroy(&cfg);
    reindex(sp);
    return ok;
}

void ht_space_print(const ht_space_t *s, FILE *f) {
    fprintf(f, "%-20s %-8s %s\n", "knob", "role", "values searched");
    for (int k = 0; k < HAK_KNOB_COUNT; k++) {
        const ht_dim_t *d = &s->dim[k];
        char a[64], b[64];
        switch (d->role) {
        case HT_FIXED:
            hak_knob_format((hak_knob_id_t)k, d->fixed, a, sizeof a);
            fprintf(f, "%-20s %-8s %s%s\n", hak_knob_table[k].name, "fixed", a,
                    hak_knob_table[k].tunable ? "" : " (not tunable)");
            break;
        case HT_NUMERIC:
            hak_knob_format((hak_knob_id_t)k, d->lo, a, sizeof a);
            hak_knob_format((hak_knob_id_t)k, d->hi, b, sizeof b);
            fprintf(f, "%-20s %-8s %s .. %s, %s scale\n", hak_knob_table[k].name, "numeric", a, b,
                    d->log ? "log" : "linear");
            break;
        case HT_CHOICE:
            fprintf(f, "%-20s %-8s", hak_knob_table[k].name, "raced");
            for (unsigned i = 0; i < d->nchoices; i++) {
                hak_knob_format((hak_knob_id_t)k, d->choices[i], a, sizeof a);
                fprintf(f, "%s%s", i ? " | " : " ", a);
            }
            fputc('\n', f);
            break;
        }
    }
}
