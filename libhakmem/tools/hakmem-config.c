/* hakmem-config — checks a profile without running a program under hakmem,
 * and writes out the knob table for the docs and the default profile.
 *
 * It reads a profile with the same loader and table the library uses, so
 * what it reports is exactly what a preloaded program would run on. */
#include "knobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: hakmem-config [--strict] [FILE]   check a profile: print every knob's\n"
            "                                         effective value and its source\n"
            "       hakmem-config --system [--strict] check the system profile alone\n"
            "       hakmem-config --defaults          print the default profile\n"
            "       hakmem-config --knobs[=man]       print the knob table (markdown, or roff\n"
            "                                         for the KNOBS section of hakmem(3))\n"
            "       hakmem-config --counters[=man]    print the counters hak_stat() reads\n"
            "       hakmem-config --rules[=man]       print the advisor's rules (the advice\n"
            "                                         at the end of HAKMEM_STATS=1)\n"
            "\n"
            "Every process reads, in this order: the built-in defaults, the system profile\n"
            "%s (only when it is a regular file owned by root that no one else may\n"
            "write), the profile FILE or $HAKMEM_CONFIG, then the HAKMEM_<KNOB> variables; each\n"
            "beats the ones before it, as the source column shows. A setuid or setgid program\n"
            "(or one with file capabilities) reads the system profile alone.\n\n",
            hak_system_profile_path);
    fputs("FILE defaults to $HAKMEM_CONFIG; without either, the defaults and the system\n"
          "profile are shown.\n"
          "Problems are reported on stderr, one line each, naming the file, line, knob and what\n"
          "is allowed. Exit status: 0 when the profile is clean, 1 when anything was wrong\n"
          "(the library would run on defaults for what was bad), 2 on bad usage.\n"
          "--strict checks as the library does with strict = true (or HAKMEM_STRICT=1): any\n"
          "problem is an error, and no values are printed, since the library would not start.\n",
          f);
}

static const char *type_name(hak_knob_type_t t) {
    switch (t) {
    case HAK_T_INT:
        return "integer";
    case HAK_T_SIZE:
        return "size";
    case HAK_T_BOOL:
        return "boolean";
    case HAK_T_ENUM:
        return "choice";
    }
    return "?";
}

static void print_defaults(void) {
    puts("# hakmem default profile: every knob at its built-in default.\n"
         "# hakmem runs on exactly these values when HAKMEM_CONFIG is not set.\n"
         "# Written by `hakmem-config --defaults` from the knob table.");
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        const hak_knob_info_t *kn = &hak_knob_table[k];
        char v[48], allowed[160];
        hak_knob_format((hak_knob_id_t)k, kn->def, v, sizeof v);
        hak_knob_allowed((hak_knob_id_t)k, allowed, sizeof allowed);
        printf("\n# %s (%s)\n%s = %s;\n", kn->help, allowed, kn->name, v);
    }
}

static void print_knobs(void) {
    puts("| knob | type | default | allowed | tuned | meaning |\n|---|---|---|---|---|---|");
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        const hak_knob_info_t *kn = &hak_knob_table[k];
        char v[48], allowed[160];
        hak_knob_format((hak_knob_id_t)k, kn->def, v, sizeof v);
        hak_knob_allowed((hak_knob_id_t)k, allowed, sizeof allowed);
        for (char *c = allowed; *c; c++)
            if (*c == '|') *c = '/'; /* a table cell cannot hold a bar */
        printf("| `%s` | %s | `%s` | %s | %s | %s |\n", kn->name, type_name(kn->type), v, allowed,
               kn->tunable ? (kn->scale == HAK_SCALE_LOG ? "log scale" : "yes") : "no", kn->help);
    }
}

/* Text from the tables inside a roff line: a backslash is the escape
 * character, and a leading dot or quote would start a request. */
static void roff(const char *text) {
    if (text[0] == '.' || text[0] == '\'') fputs("\\&", stdout);
    for (const char *c = text; *c; c++) {
        if (*c == '\\')
            fputs("\\e", stdout);
        else if (*c == '-')
            fputs("\\-", stdout); /* ranges and values, never a hyphenation point */
        else
            putchar(*c);
    }
}

/* The KNOBS section of hakmem(3), generated at build time: the page can
 * only list the table's knobs, with the table's defaults and limits. */
static void print_knobs_man(void) {
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        const hak_knob_info_t *kn = &hak_knob_table[k];
        char v[48], allowed[160], var[64];
        hak_knob_format((hak_knob_id_t)k, kn->def, v, sizeof v);
        hak_knob_allowed((hak_knob_id_t)k, allowed, sizeof allowed);
        snprintf(var, sizeof var, "HAKMEM_%s", kn->name);
        for (char *c = var; *c; c++)
            if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
        printf(".TP\n\\fB%s\\fR = ", kn->name);
        roff(v);
        printf(" (%s)\n", type_name(kn->type));
        roff(kn->help);
        puts(".");
        fputs("Allowed: ", stdout);
        roff(allowed);
        printf("; environment \\fB");
        roff(var);
        printf("\\fR; %s.\n", !kn->tunable                 ? "hak\\-tune leaves it alone"
                              : kn->scale == HAK_SCALE_LOG ? "hak\\-tune searches it on a log scale"
                                                           : "hak\\-tune searches it");
    }
}

static void print_counters(bool man) {
    for (unsigned i = 0; i < HAK_STAT_COUNT; i++) {
        if (!man) {
            printf("%-18s %s\n", hak_stat_name[i], hak_stat_help[i]);
            continue;
        }
        fputs(".TP\n.B ", stdout);
        roff(hak_stat_name[i]);
        putchar('\n');
        roff(hak_stat_help[i]);
        puts(".");
    }
}

/* The advisor's rules: what each reads, its threshold, what it suggests.
 * tuner/TUNING.md explains each one with a measured example. */
static void print_rules(bool man) {
    for (unsigned r = 0; r < hak_rule_count; r++) {
        const hak_rule_info_t *ru = &hak_rule_table[r];
        char threshold[32];
        snprintf(threshold, sizeof threshold, "%llu", (unsigned long long)ru->threshold);
        if (!man) {
            printf("%-12s fires when %s >= %s\n%12s and %s;\n%12s suggests %s\n", ru->id,
                   ru->figure, threshold, "", ru->when, "", ru->knobs);
            continue;
        }
        fputs(".TP\n.B ", stdout);
        roff(ru->id);
        fputs("\nFires when ", stdout);
        roff(ru->figure);
        fputs(" \\(>= ", stdout);
        roff(threshold);
        fputs(" and ", stdout);
        roff(ru->when);
        fputs("; suggests ", stdout);
        roff(ru->knobs);
        puts(".");
    }
}

extern char **environ;

/* --system: what the system profile alone makes of the defaults, as a
 * secure process would read it (and with --strict, as strictly). */
static void system_only(void) {
    for (char **e = environ; *e != NULL;) {
        if (strncmp(*e, "HAKMEM_", 7) == 0 && strncmp(*e, "HAKMEM_STRICT=", 14) != 0) {
            char name[256];
            size_t len = strcspn(*e, "=");
            snprintf(name, sizeof name, "%.*s", (int)len, *e);
            unsetenv(name); /* shifts the rest down: look at *e again */
        } else {
            e++;
        }
    }
    struct stat st;
    if (lstat(hak_system_profile_path, &st) != 0 && errno == ENOENT)
        printf("# no system profile at %s: processes start from the built-in defaults\n",
               hak_system_profile_path);
    else
        printf("# system profile %s\n", hak_system_profile_path);
}

int main(int argc, char **argv) {
    const char *file = NULL;
    bool system = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--defaults") == 0) {
            print_defaults();
            return 0;
        } else if (strcmp(a, "--knobs") == 0 || strcmp(a, "--knobs=markdown") == 0) {
            print_knobs();
            return 0;
        } else if (strcmp(a, "--knobs=man") == 0) {
            print_knobs_man();
            return 0;
        } else if (strcmp(a, "--counters") == 0 || strcmp(a, "--counters=man") == 0) {
            print_counters(a[10] == '=');
            return 0;
        } else if (strcmp(a, "--rules") == 0 || strcmp(a, "--rules=man") == 0) {
            print_rules(a[7] == '=');
            return 0;
        } else if (strcmp(a, "--system") == 0) {
            system = true;
        } else if (strcmp(a, "--strict") == 0) {
            setenv("HAKMEM_STRICT", "1", 1);
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "hakmem-config: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (file == NULL) {
            file = a;
        } else {
            fprintf(stderr, "hakmem-config: one profile at a time (got '%s' and '%s')\n", file, a);
            return 2;
        }
    }
    if (system && file != NULL) {
        fprintf(stderr, "hakmem-config: --system checks %s, not a FILE (got '%s')\n",
                hak_system_profile_path, file);
        return 2;
    }
    if (system) system_only();
    if (file != NULL) setenv("HAKMEM_CONFIG", file, 1);
    if (!hak_options_init()) {
        /* No run would use these values: the library would not start. */
        fprintf(stderr, "hakmem-config: strict mode: the library would refuse to start (exit "
                        "status 2) with these settings\n");
        return 1;
    }
    bool clean = hak_options_clean;
    char buf[8192];
    size_t n = hak_options_dump(buf, sizeof buf);
    fwrite(buf, 1, n < sizeof buf ? n : sizeof buf - 1, stdout);
    return clean ? 0 : 1;
}
