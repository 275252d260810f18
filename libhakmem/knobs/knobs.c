/* knobs.c — the knob table and the counter names, expanded from the lists
 * in knobs.h, and the helpers every reader of the table shares: parsing a
 * value as a profile or the environment writes it, formatting it back,
 * saying what a knob allows, and finding a knob by name (or the one a typo
 * meant). Where the values come from at start-up is options.c's business. */
#include "internal.h"

#include <string.h>

static const char *const hak_align_mode_names[] = {HAK_ALIGN_MODE_NAMES, NULL};

const hak_knob_info_t hak_knob_table[HAK_KNOB_COUNT] = {
#define HAK_KNOB_ROW(id, name, type, def, min, max, scale, tunable, values, help)                  \
    [HAK_K_##id] = {name, type, def, min, max, scale, tunable, values, help},
    HAK_KNOBS(HAK_KNOB_ROW)
#undef HAK_KNOB_ROW
};

long long hak_knob_value[HAK_KNOB_COUNT] = {
#define HAK_KNOB_DEF(id, name, type, def, ...) [HAK_K_##id] = def,
    HAK_KNOBS(HAK_KNOB_DEF)
#undef HAK_KNOB_DEF
};

hak_knob_source_t hak_knob_src[HAK_KNOB_COUNT];

const char *const hak_knob_source_name[] = {
    [HAK_SRC_DEFAULT] = "default",
    [HAK_SRC_SYSTEM] = "system",
    [HAK_SRC_PROFILE] = "profile",
    [HAK_SRC_ENV] = "environment",
};

const char *const hak_stat_name[HAK_STAT_COUNT] = {
#define HAK_STAT_NAME(id, help) [HAK_S_##id] = #id,
    HAK_STATS(HAK_STAT_NAME)
#undef HAK_STAT_NAME
};

const char *const hak_stat_help[HAK_STAT_COUNT] = {
#define HAK_STAT_HELP(id, help) [HAK_S_##id] = help,
    HAK_STATS(HAK_STAT_HELP)
#undef HAK_STAT_HELP
};

int hak_knob_find(const char *name) {
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++)
        if (strcmp(hak_knob_table[k].name, name) == 0) return (int)k;
    return -1;
}

static unsigned edit_distance(const char *a, const char *b) {
    unsigned row[64];
    size_t la = strlen(a), lb = strlen(b);
    if (la >= 63 || lb >= 63) return 99;
    for (size_t j = 0; j <= lb; j++) row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *hak_knob_suggest(const char *name) {
    const char *best = NULL;
    unsigned best_d = 4;
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        unsigned d = edit_distance(name, hak_knob_table[k].name);
        if (d < best_d) {
            best_d = d;
            best = hak_knob_table[k].name;
        }
    }
    return best;
}

static bool word_eq(const char *a, const char *b) {
    while (*a && *b) {
        char x = *a++, y = *b++;
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return false;
    }
    return *a == *b;
}

bool hak_bool_parse(const char *text, bool *out) {
    if (word_eq(text, "1") || word_eq(text, "true") || word_eq(text, "yes") ||
        word_eq(text, "on")) {
        *out = true;
        return true;
    }
    if (word_eq(text, "0") || word_eq(text, "false") || word_eq(text, "no") ||
        word_eq(text, "off")) {
        *out = false;
        return true;
    }
    return false;
}

bool hak_knob_parse(hak_knob_id_t k, const char *text, long long *out) {
    const hak_knob_info_t *kn = &hak_knob_table[k];
    switch (kn->type) {
    case HAK_T_BOOL: {
        bool b;
        if (!hak_bool_parse(text, &b)) return false;
        *out = b;
        return true;
    }
    case HAK_T_ENUM:
        for (long long i = 0; kn->values[i] != NULL; i++)
            if (word_eq(text, kn->values[i])) {
                *out = i;
                return true;
            }
        return false;
    case HAK_T_INT:
    case HAK_T_SIZE: {
        const char *s = text;
        if (*s < '0' || *s > '9') return false;
        unsigned long long v = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (v > (unsigned long long)INT64_MAX / 10) return false;
            v = v * 10 + (unsigned)(*s - '0');
        }
        unsigned shift = 0;
        if (kn->type == HAK_T_SIZE && *s != '\0' && s[1] == '\0') {
            switch (*s) {
            case 'k':
            case 'K':
                shift = 10;
                s++;
                break;
            case 'm':
            case 'M':
                shift = 20;
                s++;
                break;
            case 'g':
            case 'G':
                shift = 30;
                s++;
                break;
            default:
                break;
            }
        }
        if (*s != '\0' || v > ((unsigned long long)INT64_MAX >> shift)) return false;
        *out = (long long)(v << shift);
        return *out >= kn->min && *out <= kn->max;
    }
    }
    return false;
}

size_t hak_knob_allowed(hak_knob_id_t k, char *buf, size_t cap) {
    const hak_knob_info_t *kn = &hak_knob_table[k];
    switch (kn->type) {
    case HAK_T_BOOL:
        return hak_fmt(buf, cap, "true or false (1 or 0)");
    case HAK_T_ENUM: {
        size_t n = 0;
        buf[0] = '\0';
        for (unsigned i = 0; kn->values[i] != NULL; i++)
            n += hak_fmt(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, "%s%s", i ? "|" : "",
                         kn->values[i]);
        return n;
    }
    case HAK_T_SIZE:
        return hak_fmt(buf, cap, "a size from %lld to %lld bytes (k, m, g suffixes allowed)",
                       kn->min, kn->max);
    case HAK_T_INT:
        return hak_fmt(buf, cap, "an integer from %lld to %lld", kn->min, kn->max);
    }
    return 0;
}

size_t hak_knob_format(hak_knob_id_t k, long long v, char *buf, size_t cap) {
    const hak_knob_info_t *kn = &hak_knob_table[k];
    if (kn->type == HAK_T_ENUM) return hak_fmt(buf, cap, "\"%s\"", kn->values[v]);
    if (kn->type == HAK_T_BOOL) return hak_fmt(buf, cap, "%s", v ? "true" : "false");
    return hak_fmt(buf, cap, "%lld", v);
}
