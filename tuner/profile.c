/* profile.c — a profile as the tuner holds it: one value per knob of the
 * table, written out the way the loader reads it back.
 *
 * Values are formatted by hak_knob_format, the library's own formatter, so
 * whatever the tuner writes the loader accepts in strict mode. */
#include "tune.h"

#include <string.h>

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
