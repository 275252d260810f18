/* options.c — how settings reach the knob table at start-up: the
 * administrator's system profile, the profile named by HAKMEM_CONFIG, then
 * the HAKMEM_<KNOB> environment overrides, and the check that every HAKMEM_
 * variable means something. A secure-execution process (setuid, setgid,
 * file capabilities) reads the system profile alone and obeys no variable. A bad value is
 * reported in one line naming the variable, the knob and what is allowed,
 * and the default is kept; in strict mode start-up ends instead. With
 * HAKMEM_VERBOSE, the start-up report says what all of it came to. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#ifndef HAKMEM_SYSTEM_PROFILE
#define HAKMEM_SYSTEM_PROFILE "/etc/hakmem.cfg"
#endif

bool hak_options_clean = true;
bool hak_secure;
hak_profile_state_t hak_options_system_state;
char hak_options_profile[1024];
hak_profile_state_t hak_options_profile_state;
bool hak_options_verbose;
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
static const char *const plain_vars[] = {"CONFIG",     "PROFILE_PATH", "STATS",
                                         "STATS_FILE", "VERBOSE",      NULL};

/* HAKMEM_VERBOSE takes the words a boolean knob takes; anything else is a
 * bad setting like a bad knob value. */
static bool apply_verbose(void) {
    const char *text = hak_getenv("HAKMEM_VERBOSE"); /* start-up only */
    if (text == NULL || hak_bool_parse(text, &hak_options_verbose)) return true;
    hak_msg("environment HAKMEM_VERBOSE=\"%s\": must be true or false (1 or 0); %s", text,
            hak_knob_value[HAK_K_STRICT] ? "strict mode: refusing to start" : "ignored");
    return false;
}

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
static bool load(const char *path, hak_knob_source_t src, hak_profile_state_t *state) {
    if (hak_knob_src[HAK_K_STRICT] != HAK_SRC_ENV) return hak_profile_load(path, src, state);
    long long strict = hak_knob_value[HAK_K_STRICT];
    bool ok = hak_profile_load(path, src, state);
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
    ok &= load(hak_system_profile_path, HAK_SRC_SYSTEM, &hak_options_system_state);
    char resolved[sizeof hak_options_profile];
    const char *path = hak_profile_resolve(
        hak_getenv("HAKMEM_CONFIG"), hak_getenv("HAKMEM_PROFILE_PATH"), resolved, sizeof resolved);
    if (path != NULL && path[0] != '\0') {
        hak_fmt(hak_options_profile, sizeof hak_options_profile, "%s", path);
        ok &= load(path, HAK_SRC_PROFILE, &hak_options_profile_state);
    }
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++)
        if (k != HAK_K_STRICT) ok &= apply_env((hak_knob_id_t)k);
    ok &= apply_verbose();
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

/* Appends "hakmem: " and one line to the report, control characters in
 * what the environment or a file supplied escaped. */
#define REPORT(...)                                                                                \
    do {                                                                                           \
        n += hak_fmt_esc(buf + n, sizeof buf - n, "hakmem: " __VA_ARGS__);                         \
        if (n > sizeof buf - 2) n = sizeof buf - 2;                                                \
        buf[n++] = '\n';                                                                           \
    } while (0)

/* As jemalloc's confirm_conf: what this process runs on, said once, so
 * that a profile that was never read or a variable that never reached the
 * program shows before any measurement is trusted. One write, so that it
 * stays one block among other threads' output. */
void hak_options_report(void) {
    char buf[6144];
    size_t n = 0;
    REPORT("hakmem %s (pid %d): settings at start-up", HAKMEM_VERSION_STRING, (int)getpid());
    static const char *const state[] = {
        [HAK_PROFILE_ABSENT] = "absent",
        [HAK_PROFILE_REFUSED] = "not read (said why above)",
        [HAK_PROFILE_READ] = "read",
    };
    REPORT("  system profile %s: %s", hak_system_profile_path, state[hak_options_system_state]);
    if (hak_options_profile[0] != '\0')
        REPORT("  profile %s: %s", hak_options_profile, state[hak_options_profile_state]);
    else
        REPORT("  profile: none (HAKMEM_CONFIG is not set)");
    unsigned changed = 0;
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        if (hak_knob_value[k] == hak_knob_table[k].def) continue;
        char v[48], def[48];
        hak_knob_format((hak_knob_id_t)k, hak_knob_value[k], v, sizeof v);
        hak_knob_format((hak_knob_id_t)k, hak_knob_table[k].def, def, sizeof def);
        REPORT("  %s = %s;  # %s (default %s)", hak_knob_table[k].name, v,
               hak_knob_source_name[hak_knob_src[k]], def);
        changed++;
    }
    if (changed == 0)
        REPORT("  every knob at its default");
    else
        REPORT("  every other knob at its default (hakmem-config --defaults lists them)");
    hak_write_all(STDERR_FILENO, buf, n);
}
