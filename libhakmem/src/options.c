/* options.c — how settings reach the knob table at start-up: the
 * administrator's system profile, the profile named by HAKMEM_CONFIG, then
 * the HAKMEM_<KNOB> environment overrides, and the check that every HAKMEM_
 * variable means something. A secure-execution process (setuid, setgid,
 * file capabilities) reads the system profile alone and obeys no variable. A bad value is
 * reported in one line naming the variable, the knob and what is allowed,
 * and the default is kept; in strict mode start-up ends instead. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#ifndef HAKMEM_SYSTEM_PROFILE
#define HAKMEM_SYSTEM_PROFILE "/etc/hakmem.cfg"
#endif

bool hak_options_clean = true;
bool hak_secure;
const char hak_system_profile_path[] = HAKMEM_SYSTEM_PROFILE;

extern char **environ;

/* getenv without the C library: the allocator must not depend on what a
 * wrapped getenv might do, and a symbol check holds it to that. A secure
 * process sees no variable at all, so nothing its caller sets (a profile to
 * read, a stats file to write) reaches it, whatever the variable. */
const char *hak_getenv(const char *name) {
    if (hak_secure || environ == NULL) return NULL;
    size_t len = strlen(name);
    for (char **e = environ; *e != NULL; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return *e + len + 1;
    return NULL;
}

/* HAKMEM_ + the knob's name in capitals. */
static void env_name(hak_knob_id_t k, char *buf, size_t cap) {
    size_t n = hak_fmt(buf, cap, "HAKMEM_%s", hak_knob_table[k].name);
    for (size_t i = 7; i < n && i < cap; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 'a' + 'A');
}

static bool apply_env(hak_knob_id_t k) {
    char name[64];
    env_name(k, name, sizeof name);
    const char *text = hak_getenv(name); /* start-up only */
    if (text == NULL) return true;
    long long v;
    if (hak_knob_parse(k, text, &v)) {
        hak_knob_value[k] = v;
        hak_knob_src[k] = HAK_SRC_ENV;
        return true;
    }
    char allowed[160], def[48];
    hak_knob_allowed(k, allowed, sizeof allowed);
    hak_knob_format(k, hak_knob_value[k], def, sizeof def);
    if (hak_knob_value[HAK_K_STRICT])
        hak_msg("environment %s=\"%s\": %s must be %s; strict mode: refusing to start", name, text,
                hak_knob_table[k].name, allowed);
    else
        hak_msg("environment %s=\"%s\": %s must be %s; keeping %s", name, text,
                hak_knob_table[k].name, allowed, def);
    return false;
}

/* HAKMEM_ variables that are not knobs. */
static const char *const plain_vars[] = {"CONFIG", "PROFILE_PATH", "STATS", "STATS_FILE", NULL};

/* A HAKMEM_ variable that is neither a knob nor one of the plain ones is a
 * typo until proven otherwise: say so, with the nearest name. */
static bool check_unknown_vars(void) {
    if (hak_secure || environ == NULL) return true;
    bool ok = true;
    for (char **e = environ; *e != NULL; e++) {
        if (strncmp(*e, "HAKMEM_", 7) != 0) continue;
        const char *name = *e + 7;
        size_t len = strcspn(name, "=");
        char lower[64], var[80];
        if (len >= sizeof lower) len = sizeof lower - 1;
        hak_fmt(var, sizeof var, "HAKMEM_%s", "");
        memcpy(var + 7, name, len);
        var[7 + len] = '\0';
        for (size_t i = 0; i < len; i++)
            lower[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
        lower[len] = '\0';
        bool known = hak_knob_find(lower) >= 0;
        for (unsigned i = 0; !known && plain_vars[i] != NULL; i++)
            known = strlen(plain_vars[i]) == len && strncmp(name, plain_vars[i], len) == 0;
        if (known) continue;
        const char *near = hak_knob_suggest(lower);
        char upper[64] = "";
        if (near != NULL) {
            size_t n = hak_fmt(upper, sizeof upper, "%s", near);
            for (size_t i = 0; i < n && i < sizeof upper; i++)
                if (upper[i] >= 'a' && upper[i] <= 'z') upper[i] = (char)(upper[i] - 'a' + 'A');
        }
        const char *tail =
            hak_knob_value[HAK_K_STRICT] ? "strict mode: refusing to start" : "ignored";
        if (near != NULL)
            hak_msg("environment %s: unknown variable (did you mean HAKMEM_%s?); %s", var, upper,
                    tail);
        else
            hak_msg("environment %s: unknown variable (knobs: hakmem-config --knobs); %s", var,
                    tail);
        ok = false;
    }
    return ok;
}

/* Loads a profile as source src; a strict set in the environment stays, since
 * the environment beats every profile, for strict as for every knob. */
static bool load(const char *path, hak_knob_source_t src) {
    if (hak_knob_src[HAK_K_STRICT] != HAK_SRC_ENV) return hak_profile_load(path, src);
    long long strict = hak_knob_value[HAK_K_STRICT];
    bool ok = hak_profile_load(path, src);
    hak_knob_value[HAK_K_STRICT] = strict;
    hak_knob_src[HAK_K_STRICT] = HAK_SRC_ENV;
    return ok;
}

bool hak_options_init(void) {
    /* Before anything is read. getauxval only reads what the kernel left on
     * the stack: no allocation, no system call. */
    hak_secure = getauxval(AT_SECURE) != 0;
    /* strict first, from wherever it is set: it decides what an error does. */
    bool ok = apply_env(HAK_K_STRICT);
    ok &= load(hak_system_profile_path, HAK_SRC_SYSTEM);
    char resolved[1024];
    const char *path = hak_profile_resolve(
        hak_getenv("HAKMEM_CONFIG"), hak_getenv("HAKMEM_PROFILE_PATH"), resolved, sizeof resolved);
    if (path != NULL && path[0] != '\0') ok &= load(path, HAK_SRC_PROFILE);
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++)
        if (k != HAK_K_STRICT) ok &= apply_env((hak_knob_id_t)k);
    ok &= check_unknown_vars();
    hak_options_clean = ok;
    /* A secure process never refuses to start: it could not tell its caller
     * why, and the caller could not fix it. It runs on the defaults for
     * whatever the system profile got wrong. */
    return ok || !hak_knob_value[HAK_K_STRICT] || hak_secure;
}

size_t hak_options_dump(char *buf, size_t cap) {
    size_t n = 0;
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        char v[48];
        hak_knob_format((hak_knob_id_t)k, hak_knob_value[k], v, sizeof v);
        n += hak_fmt(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "%s = %s;  # %s\n",
                     hak_knob_table[k].name, v, hak_knob_source_name[hak_knob_src[k]]);
    }
    return n;
}
