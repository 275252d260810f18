/* hakmem — runs a program with hakmem as its allocator: sets LD_PRELOAD,
 * HAKMEM_CONFIG and the HAKMEM_<KNOB> variables from its options, checks
 * them against the knob table, and execs the program.
 *
 * Settings are validated here, with the library's own parser, so that a
 * typo stops the launch with a "did you mean" instead of becoming a
 * warning in the middle of the program's output. This file owns the
 * command line and the environment; launcher_paths.c finds the library
 * and the profiles, launcher_program.c vets the program. */
#include "hakmem.h"
#include "knobs.h"
#include "launcher.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fputs("usage: hakmem [OPTIONS] [--] PROGRAM [ARGS...]   run PROGRAM with hakmem as its malloc\n"
          "       hakmem profiles                          list the profiles -p NAME can find\n"
          "       hakmem config [hakmem-config ARGS]       check a profile (see hakmem config "
          "--help)\n"
          "       hakmem --help | --version\n"
          "\n"
          "Options (before PROGRAM; -- ends them):\n"
          "  -p, --profile PROFILE  read the profile PROFILE: a file (a path, or a name ending\n"
          "                         in .cfg) or the NAME of a shipped one (hakmem profiles)\n"
          "  -s, --set KNOB=VALUE   set a knob (hakmem config --knobs lists them), e.g.\n"
          "                         -s align_mode=relaxed -s tiny_max=2k; beats the profile\n"
          "  --stats                print hakmem's counters to stderr when PROGRAM exits\n"
          "  --stats=json           the same as one JSON line\n"
          "  --stats=FILE           write them as JSON to FILE (%p becomes the process id)\n"
          "  --strict               refuse to start PROGRAM (exit status 2) on any bad setting\n"
          "  --verbose              say what is run, and have hakmem report its settings\n"
          "  --lib PATH             preload this libhakmem.so instead of the one found\n"
          "\n"
          "What it does: sets LD_PRELOAD to libhakmem.so, put before whatever LD_PRELOAD held\n"
          "already (so that hakmem's malloc wins over another preloaded allocator), sets\n"
          "HAKMEM_CONFIG, HAKMEM_<KNOB>, HAKMEM_STATS, HAKMEM_STATS_FILE, HAKMEM_STRICT and\n"
          "HAKMEM_VERBOSE from the options (variables already in the environment are kept\n"
          "unless an option sets them), then execs PROGRAM, found in PATH as a shell would.\n"
          "Knob names and values are checked first, with the library's own rules.\n"
          "\n"
          "libhakmem.so is looked for next to hakmem (a build tree: build/libhakmem/), then in\n"
          "the lib directory of the prefix hakmem is installed in, then where it was meant to\n"
          "be installed. Profile names are looked up in HAKMEM_PROFILE_PATH (directories,\n"
          "colon-separated), then among the shipped profiles (configs/ of the source tree\n"
          "when run from the build tree, else PREFIX/share/hakmem).\n"
          "\n"
          "hakmem refuses, saying why, a PROGRAM that LD_PRELOAD cannot reach: a statically\n"
          "linked one (link libhakmem.a into it instead), one for another machine or word\n"
          "size, and one that is set-user-ID or set-group-ID to another user or has file\n"
          "capabilities (the loader ignores LD_PRELOAD for those). A #! script is judged by\n"
          "its interpreter.\n"
          "\n"
          "Exit status: PROGRAM's own; 2 for a bad option, knob, value or profile; 126 when\n"
          "PROGRAM cannot be run under hakmem; 127 when it is not found.\n"
          "\n"
          "Examples:\n"
          "  hakmem --stats python3 -c 'print(len(list(range(10**6))))'\n"
          "  hakmem -p larson-mid -- ./server\n"
          "  hakmem -p my.cfg -s chunk_pool_pages=2048 --strict -- make -j2\n"
          "See hakmem(1) and, for the knobs and the profile format, hakmem(3).\n",
          f);
}

static _Noreturn void bad_usage(const char *fmt, const char *arg) {
    fputs("hakmem: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (see hakmem --help)\n", stderr);
    exit(HL_EXIT_USAGE);
}

/* The launcher's own account of what it set, for --verbose. */
static char said[8192];
static size_t said_len;

static void set(const char *name, const char *value) {
    if (setenv(name, value, 1) != 0) {
        perror("hakmem: setenv");
        exit(HL_EXIT_USAGE);
    }
    if (said_len < sizeof said) {
        int w = snprintf(said + said_len, sizeof said - said_len, " %s=%s", name, value);
        if (w > 0) said_len += (size_t)w;
    }
}

/* -s KNOB=VALUE: the name in any case, with or without HAKMEM_. */
static void set_knob(const char *arg) {
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        bad_usage("-s %s: expected KNOB=VALUE, e.g. -s align_mode=relaxed", arg);
    char name[64], var[80];
    const char *n0 = arg;
    size_t len = (size_t)(eq - arg);
    if (len > 7 && strncasecmp(n0, "HAKMEM_", 7) == 0) n0 += 7, len -= 7;
    if (len >= sizeof name) len = sizeof name - 1;
    for (size_t i = 0; i < len; i++)
        name[i] = (n0[i] >= 'A' && n0[i] <= 'Z') ? (char)(n0[i] - 'A' + 'a') : n0[i];
    name[len] = '\0';
    int k = hak_knob_find(name);
    if (k < 0) {
        const char *near = hak_knob_suggest(name);
        fprintf(stderr, "hakmem: -s %s: unknown knob '%s'", arg, name);
        if (near != NULL) fprintf(stderr, " (did you mean %s?)", near);
        fprintf(stderr, "; hakmem config --knobs lists them\n");
        exit(HL_EXIT_USAGE);
    }
    long long v;
    if (!hak_knob_parse((hak_knob_id_t)k, eq + 1, &v)) {
        char allowed[160];
        hak_knob_allowed((hak_knob_id_t)k, allowed, sizeof allowed);
        fprintf(stderr, "hakmem: -s %s: %s must be %s\n", arg, name, allowed);
        exit(HL_EXIT_USAGE);
    }
    snprintf(var, sizeof var, "HAKMEM_%s", name);
    for (char *c = var + 7; *c; c++)
        if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
    set(var, eq + 1);
}

/* --stats=FILE is written by the program at exit, wherever it has gone by
 * then: anchor a relative name here. */
static void set_stats_file(const char *file) {
    if (file[0] == '\0') bad_usage("--stats=%s: expected json or a file name", file);
    char path[PATH_MAX * 2], cwd[PATH_MAX];
    if (file[0] != '/' && getcwd(cwd, sizeof cwd) != NULL)
        snprintf(path, sizeof path, "%s/%s", cwd, file);
    else
        snprintf(path, sizeof path, "%s", file);
    set("HAKMEM_STATS_FILE", path);
}

/* libhakmem.so first: the first object that defines malloc serves the
 * whole process. Other entries keep their order; another copy of
 * libhakmem is dropped, since two allocators of one kind would only
 * confuse which one served. */
static void set_preload(const char *lib) {
    if (strpbrk(lib, " :") != NULL) {
        fprintf(stderr,
                "hakmem: %s: LD_PRELOAD cannot hold a path with a space or a colon; install or "
                "copy libhakmem.so elsewhere, or pass --lib PATH\n",
                lib);
        exit(HL_EXIT_CANNOT);
    }
    const char *old = getenv("LD_PRELOAD");
    size_t cap = strlen(lib) + (old ? strlen(old) : 0) + 2;
    char *value = malloc(cap);
    if (value == NULL) {
        perror("hakmem");
        exit(HL_EXIT_CANNOT);
    }
    size_t n = (size_t)snprintf(value, cap, "%s", lib);
    for (const char *p = old; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, " :");
        const char *base = p;
        for (size_t i = 0; i < len; i++)
            if (p[i] == '/') base = p + i + 1;
        bool ours = (size_t)(p + len - base) >= 12 && strncmp(base, "libhakmem.so", 12) == 0;
        if (len > 0 && !ours) n += (size_t)snprintf(value + n, cap - n, ":%.*s", (int)len, p);
        p += len;
        if (*p != '\0') p++;
    }
    set("LD_PRELOAD", value);
    free(value);
}

/* `hakmem config ...` is hakmem-config, which lies next to hakmem. It
 * resolves a profile name as the library does; the launcher's own profile
 * directory joins the search, so that names work wherever hakmem is (a
 * build tree, an unpacked package) as they do for -p. */
static int run_config(const hl_self_t *self, char **argv) {
    char tool[PATH_MAX + 32];
    const char *path = getenv("HAKMEM_PROFILE_PATH");
    size_t cap = (path ? strlen(path) : 0) + strlen(self->profiles) + 2;
    char *dirs = malloc(cap);
    if (dirs != NULL) {
        snprintf(dirs, cap, "%s%s%s", path ? path : "", path && *path ? ":" : "", self->profiles);
        setenv("HAKMEM_PROFILE_PATH", dirs, 1);
        free(dirs);
    }
    snprintf(tool, sizeof tool, "%s/hakmem-config", self->dir);
    argv[0] = tool;
    execv(tool, argv);
    fprintf(stderr, "hakmem: cannot run %s: %s\n", tool, strerror(errno));
    return HL_EXIT_NOTFOUND;
}

/* The option's value: "--opt=V", "-oV", or the next argument. */
static const char *value_of(int argc, char **argv, int *i, const char *longname, char shortname) {
    const char *a = argv[*i];
    size_t n = strlen(longname);
    if (strncmp(a, longname, n) == 0 && a[n] == '=') return a + n + 1;
    if (shortname && a[0] == '-' && a[1] == shortname && a[2] != '\0') return a + 2;
    if (*i + 1 >= argc) bad_usage("%s needs a value", a);
    return argv[++*i];
}

static bool is(const char *a, const char *longname, char shortname) {
    size_t n = strlen(longname);
    if (strncmp(a, longname, n) == 0 && (a[n] == '\0' || a[n] == '=')) return true;
    return shortname && a[0] == '-' && a[1] == shortname;
}

int main(int argc, char **argv) {
    hl_self_t self;
    hl_self(&self);
    if (argc > 1 && strcmp(argv[1], "profiles") == 0) {
        if (argc > 2) bad_usage("profiles takes no arguments (got '%s')", argv[2]);
        return hl_list_profiles(&self);
    }
    if (argc > 1 && strcmp(argv[1], "config") == 0) return run_config(&self, argv + 1);

    const char *lib_given = NULL, *profile = NULL;
    bool verbose = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') break;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            char lib[PATH_MAX];
            printf("hakmem %s\nlibrary: %s\n", HAKMEM_VERSION_STRING,
                   hl_find_lib(&self, NULL, true, lib, sizeof lib) ? lib : "not found");
            return 0;
        } else if (is(a, "--profile", 'p')) {
            profile = value_of(argc, argv, &i, "--profile", 'p');
        } else if (is(a, "--set", 's')) {
            set_knob(value_of(argc, argv, &i, "--set", 's'));
        } else if (strcmp(a, "--stats") == 0) {
            set("HAKMEM_STATS", "1");
        } else if (strncmp(a, "--stats=", 8) == 0) {
            if (strcmp(a + 8, "json") == 0)
                set("HAKMEM_STATS", "json");
            else
                set_stats_file(a + 8);
        } else if (strcmp(a, "--strict") == 0) {
            set("HAKMEM_STRICT", "1");
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = true;
            set("HAKMEM_VERBOSE", "1");
        } else if (is(a, "--lib", 0)) {
            lib_given = value_of(argc, argv, &i, "--lib", 0);
        } else {
            bad_usage("unknown option '%s'", a);
        }
    }
    if (i >= argc) bad_usage("%s", "no program to run");

    if (profile != NULL) {
        char path[PATH_MAX];
        if (!hl_resolve_profile(&self, profile, path, sizeof path)) return HL_EXIT_USAGE;
        set("HAKMEM_CONFIG", path);
    }
    char lib[PATH_MAX], prog[PATH_MAX];
    if (!hl_find_lib(&self, lib_given, false, lib, sizeof lib)) return HL_EXIT_CANNOT;
    int rc = hl_check_program(argv[i], prog, sizeof prog);
    if (rc != 0) return rc;
    set_preload(lib);
    if (verbose) fprintf(stderr, "hakmem: running %s with%s\n", prog, said);
    execv(prog, argv + i);
    int err = errno;
    fprintf(stderr, "hakmem: cannot run %s: %s\n", prog, strerror(err));
    return err == ENOENT ? HL_EXIT_NOTFOUND : HL_EXIT_CANNOT;
}
