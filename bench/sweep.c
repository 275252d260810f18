/* sweep.c — one workload under hakmem across the values of one knob: runs
 * interleaved and repeated, and per value the medians of throughput, user
 * and sys time, peak RSS and the hakmem counters that show what the knob
 * changed, read back from the stats file each run leaves at exit.
 *
 * A knob that "has no effect" is usually a knob that was never applied, so
 * before measuring anything the knob and every value are checked with
 * hakmem-config, the counters against a trial run's stats, and every run
 * whose settings hakmem refused, or in which hakmem served nothing, says so
 * in its status instead of passing for a measurement. */
#define _GNU_SOURCE
#include "driver.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define MAX_VALUES   64
#define MAX_COUNTERS 16
#define KNOB_VARS    3 /* the wrap pseudo-knob sets three variables */
/* hakmem-config and the trial run are quick; longer means something hangs. */
#define CHECK_TIMEOUT_S 30

/* Counters that show what each knob acts on: pages and mappings for the OS
 * layer's knobs, page hand-over for the idle threshold, tiers for wrap. */
#define END (-1)
#define OS_COUNTERS                                                                                \
    {                                                                                              \
        HAK_S_page_new, HAK_S_os_mmap, HAK_S_os_munmap, HAK_S_os_madvise, HAK_S_bytes_mapped_peak, \
            END                                                                                    \
    }
#define TIER_COUNTERS                                                                              \
    { HAK_S_tiny_alloc, HAK_S_mid_alloc, HAK_S_large_alloc, HAK_S_libc_alloc, END }
static const struct {
    const char *knob;
    int counters[8]; /* ended by END */
} DEFAULT_COUNTERS[] = {
    {"align_mode", OS_COUNTERS},
    {"chunk_pool_pages", OS_COUNTERS},
    {"idle_threshold_us",
     {HAK_S_page_new, HAK_S_page_reused, HAK_S_page_adopted, HAK_S_pending_enqueued, END}},
    {"wrap", TIER_COUNTERS},
    {"wrap_tiny", TIER_COUNTERS},
    {"wrap_mid", TIER_COUNTERS},
    {"wrap_large", TIER_COUNTERS},
};
static const int OTHER_COUNTERS[] = {HAK_S_page_new, HAK_S_os_mmap, HAK_S_os_munmap, END};

typedef struct {
    int value, repeat;
    hr_result_t m;
    long long counter[MAX_COUNTERS]; /* -1: not in the stats (or no stats) */
    char note[240];                  /* why a run failed, from its stderr */
} run_t;

/* ---- options and state ----------------------------------------------------- */

static struct {
    const char *lib;
    const char *bin_dir;
    const char *seconds;
    const char *csv;
    const char *counters;
    int repeats;
    double timeout_s;
} opt = {.repeats = 3, .timeout_s = 60};

static char g_knob[64];            /* lower case, as hakmem spells it */
static bool g_wrap;                /* the wrap pseudo-knob */
static char g_vars[KNOB_VARS][80]; /* HAKMEM_... variables a value sets */
static int g_nvars;
static char *g_values[MAX_VALUES];
static int g_nvalues;
static int g_workload;
static const char *g_counter[MAX_COUNTERS]; /* names, as reports show them */
static int g_counter_id[MAX_COUNTERS];      /* hak_stat_name's index; -1: unknown */
static int g_ncounters;
static char g_lib[PATH_MAX], g_prog[PATH_MAX * 2];
static char g_command[4096];
static hr_session_t g_session;
static char g_version[32];   /* hakmem's, from the trial run's stats */
static hr_metric_t g_metric; /* every workload prints its throughput */

static void print_counters(FILE *f, const char *knob, const int *ids) {
    fprintf(f, "  %-18s", knob);
    for (int c = 0; ids[c] != END; c++) fprintf(f, "%s%s", c ? "," : " ", hak_stat_name[ids[c]]);
    fputc('\n', f);
}

static void usage(FILE *f) {
    fprintf(f, "usage: sweep [OPTIONS] KNOB VALUE[,VALUE...] WORKLOAD\n"
               "\n"
               "Runs WORKLOAD under hakmem (LD_PRELOAD) once per VALUE of KNOB, set through\n"
               "the environment as HAKMEM_<KNOB in capitals>=VALUE, and that REPEATS times,\n"
               "interleaved (v1 v2 v3 v1 v2 v3 ...) so drift in machine load hits every value\n"
               "alike. Prints a markdown table on stdout, one row per value, headed by the\n"
               "exact command line; one progress line per run on stderr.\n"
               "\n"
               "KNOB is any knob of `hakmem-config --knobs` (align_mode, chunk_pool_pages,\n"
               "idle_threshold_us, wrap_mid, tcache_count, ...), or the pseudo-knob 'wrap',\n"
               "whose values are 3-digit masks TML setting HAKMEM_WRAP_TINY=T, HAKMEM_WRAP_MID=M\n"
               "and HAKMEM_WRAP_LARGE=L (e.g. 111,011,101,110,000).\n"
               "\n"
               "Options:\n"
               "  --lib PATH       libhakmem.so to preload (default: ../libhakmem/libhakmem.so\n"
               "                   relative to the directory holding this sweep binary)\n"
               "  --repeats N      runs per value (default 3)\n"
               "  --timeout S      kill a run after S seconds (default 60)\n"
               "  --seconds S      override the workload's duration (default: as listed)\n"
               "  --counters LIST  hakmem counters to report, comma-separated (default: by knob,\n"
               "                   below; a name hakmem does not have lists those it has)\n"
               "  --csv FILE       also write one CSV row per run to FILE\n"
               "  --bin-dir DIR    where the workload programs are (default: sweep's own dir)\n"
               "  --help           this text\n"
               "\n"
               "Default counters:\n");
    for (size_t i = 0; i < sizeof DEFAULT_COUNTERS / sizeof DEFAULT_COUNTERS[0]; i++)
        print_counters(f, DEFAULT_COUNTERS[i].knob, DEFAULT_COUNTERS[i].counters);
    print_counters(f, "any other knob", OTHER_COUNTERS);
    fprintf(f, "\nWorkloads:\n");
    workloads_usage(f);
    fprintf(f, "\n"
               "Before measuring, the knob and each value are checked with hakmem-config (next\n"
               "to the library, if there) and the counters against a trial run's stats, so a\n"
               "typo stops the sweep instead of measuring the default N times.\n"
               "\n"
               "Each run writes hakmem's counters to a private HAKMEM_STATS_FILE; other HAKMEM_*\n"
               "variables are inherited (the header lists them). Per value the table gives:\n"
               "runs measured out of runs made, median throughput and min-max, median user and\n"
               "sys seconds, sys %% (median of each run's sys/(user+sys)), peak RSS (median of\n"
               "each run's ru_maxrss from wait4), the median of each counter (bytes_* ones in\n"
               "MiB), and a status.\n"
               "\n"
               "Statuses: ok; unserved (hakmem was loaded but tiny_alloc+mid_alloc+large_alloc\n"
               "is 0: every request went to the C library, as wrap=000 asks; still measured,\n"
               "since that is what the setting costs); and the failures, which are shown but\n"
               "left out of the medians: crash (signal), exit (code), timeout, no-metric,\n"
               "no-stats (no stats file: hakmem may not have been loaded at all), rejected\n"
               "(hakmem refused the value and ran with its default), preload-failed,\n"
               "exec-failed, interrupted. A failed run's last line of stderr is shown too.\n"
               "\n"
               "CSV columns: knob, value, repeat, status, exit_code, signal, throughput,\n"
               "wall_s, user_s, sys_s, sys_fraction, maxrss_kib, one per counter (empty when\n"
               "unknown), note.\n"
               "\n"
               "Exit status: 0 when every run was made (whatever their status), 1 on errors,\n"
               "2 on bad usage or a knob, value or counter hakmem does not know, 130 when\n"
               "interrupted (the table so far is still printed).\n"
               "\n"
               "Example:\n"
               "  sweep --seconds 3 align_mode overalloc,chunk_pool,reserve,relaxed larson-mid\n");
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("sweep: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see --help)\n", stderr);
    va_end(ap);
    exit(2);
}

/* ---- arguments ------------------------------------------------------------- */

static double parse_seconds(const char *v, const char *name) {
    double t;
    if (!parse_duration(v, &t)) usage_error("%s must be seconds > 0, not '%s'", name, v);
    return t;
}

/* Splits LIST at commas into OUT (pointers into a copy); empty items and
 * more than CAP of them are usage errors naming WHAT. */
static int split_list(const char *list, char **out, int cap, const char *what) {
    char *copy = driver_strdup(list);
    int n = 0;
    for (char *p = copy;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (*p == '\0') usage_error("empty item in the %s list '%s'", what, list);
        if (n == cap) usage_error("more than %d %ss", cap, what);
        out[n++] = p;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

static void set_knob(const char *arg) {
    size_t n = strlen(arg);
    if (n == 0 || n >= sizeof g_knob) usage_error("'%s' is not a knob name", arg);
    for (size_t i = 0; i <= n; i++) {
        char c = arg[i] == '-' ? '_' : (char)tolower((unsigned char)arg[i]);
        if (c && !isalnum((unsigned char)c) && c != '_')
            usage_error("'%s' is not a knob name (letters, digits and _)", arg);
        g_knob[i] = c;
    }
    g_wrap = strcmp(g_knob, "wrap") == 0;
    if (g_wrap) {
        snprintf(g_vars[0], sizeof g_vars[0], "HAKMEM_WRAP_TINY");
        snprintf(g_vars[1], sizeof g_vars[1], "HAKMEM_WRAP_MID");
        snprintf(g_vars[2], sizeof g_vars[2], "HAKMEM_WRAP_LARGE");
        g_nvars = 3;
    } else {
        int len = snprintf(g_vars[0], sizeof g_vars[0], "HAKMEM_%s", g_knob);
        for (int i = 7; i < len; i++) g_vars[0][i] = (char)toupper((unsigned char)g_vars[0][i]);
        g_nvars = 1;
    }
    /* These two are how sweep reads the counters back, not knobs. */
    if (strcmp(g_knob, "stats") == 0 || strcmp(g_knob, "stats_file") == 0)
        usage_error("%s is set by sweep itself; it cannot be swept", g_vars[0]);
}

static void set_counters(void) {
    if (opt.counters == NULL) {
        const int *ids = OTHER_COUNTERS;
        for (size_t i = 0; i < sizeof DEFAULT_COUNTERS / sizeof DEFAULT_COUNTERS[0]; i++)
            if (strcmp(DEFAULT_COUNTERS[i].knob, g_knob) == 0) ids = DEFAULT_COUNTERS[i].counters;
        for (g_ncounters = 0; ids[g_ncounters] != END; g_ncounters++) {
            g_counter_id[g_ncounters] = ids[g_ncounters];
            g_counter[g_ncounters] = hak_stat_name[ids[g_ncounters]];
        }
        return;
    }
    char *items[MAX_COUNTERS];
    g_ncounters = split_list(opt.counters, items, MAX_COUNTERS, "counter");
    for (int i = 0; i < g_ncounters; i++) {
        for (const char *c = items[i]; *c; c++)
            if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_')
                usage_error("'%s' is not a counter name", items[i]);
        g_counter[i] = items[i];
        g_counter_id[i] = hr_stat_find(items[i]); /* an unknown one is named after the trial */
    }
}

static void parse_args(int argc, char **argv) {
    const text_opt_t texts[] = {{"--lib", &opt.lib},
                                {"--bin-dir", &opt.bin_dir},
                                {"--csv", &opt.csv},
                                {"--counters", &opt.counters},
                                {NULL, NULL}};
    const char *pos[3];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (driver_option(argc, argv, &i, usage, texts)) continue;
        if (is_opt(a, "--repeats")) {
            const char *v = need_value(argc, argv, &i, "--repeats");
            if (!parse_repeats(v, &opt.repeats))
                usage_error("--repeats must be an integer from 1 to 1000, not '%s'", v);
        } else if (is_opt(a, "--timeout")) {
            opt.timeout_s = parse_seconds(need_value(argc, argv, &i, "--timeout"), "--timeout");
        } else if (is_opt(a, "--seconds")) {
            opt.seconds = need_value(argc, argv, &i, "--seconds");
            parse_seconds(opt.seconds, "--seconds");
        } else if (a[0] == '-' && a[1] != '\0') {
            usage_error("unknown option '%s'", a);
        } else {
            if (npos == 3) usage_error("too many arguments: '%s'", a);
            pos[npos++] = a;
        }
    }
    if (npos < 3) usage_error("needs KNOB VALUE[,VALUE...] WORKLOAD");

    set_knob(pos[0]);
    g_nvalues = split_list(pos[1], g_values, MAX_VALUES, "value");
    if (g_wrap)
        for (int v = 0; v < g_nvalues; v++) {
            const char *m = g_values[v];
            if (strlen(m) != 3 || strspn(m, "01") != 3)
                usage_error("wrap values are 3-digit masks of 0 and 1 for tiny, mid and large "
                            "(e.g. 111,011,000), not '%s'",
                            m);
        }
    const hr_workload_t *w = hr_workload_find(pos[2]);
    if (w == NULL) workload_unknown(pos[2], "");
    g_workload = (int)(w - hr_workloads);
    set_counters();
    double dur = opt.seconds ? strtod(opt.seconds, NULL) : atof(hr_workloads[g_workload].args[1]);
    if (opt.timeout_s < dur)
        fprintf(stderr,
                "sweep: warning: --timeout %.1f s is shorter than the workload's %.1f s; "
                "every run will time out\n",
                opt.timeout_s, dur);
}

/* The command line as typed, quoted where a shell would need it, so the
 * table's header can be pasted back to reproduce it. */
static void record_command(int argc, char **argv) {
    size_t len = 0;
    for (int i = 0; i < argc && len + 1 < sizeof g_command; i++) {
        const char *a = argv[i];
        bool plain = *a != '\0';
        for (const char *c = a; *c; c++)
            if (!isalnum((unsigned char)*c) && !strchr("_./,=:+-%@", *c)) plain = false;
        len += (size_t)snprintf(g_command + len, sizeof g_command - len, "%s", i ? " " : "");
        if (len >= sizeof g_command) break;
        if (plain) {
            len += (size_t)snprintf(g_command + len, sizeof g_command - len, "%s", a);
        } else {
            len += (size_t)snprintf(g_command + len, sizeof g_command - len, "'");
            for (const char *c = a; *c && len + 5 < sizeof g_command; c++)
                len += (size_t)snprintf(g_command + len, sizeof g_command - len, "%s",
                                        *c == '\'' ? "'\\''" : (char[]){*c, '\0'});
            if (len < sizeof g_command)
                len += (size_t)snprintf(g_command + len, sizeof g_command - len, "'");
        }
    }
}

/* ---- hakmem's stats files ------------------------------------------------------ */

/* Each run's stats land in a private directory; it goes when sweep ends,
 * however it ends (Ctrl-C included: sweep then still returns from main). */
static hr_stats_dir_t g_stats;

static void remove_stats_dir(void) {
    hr_stats_dir_close(&g_stats);
}

static void make_stats_dir(void) {
    char why[600];
    if (!hr_stats_dir_open(&g_stats, "hakmem-sweep", why, sizeof why)) driver_die("%s", why);
    atexit(remove_stats_dir);
}

/* ---- the child's environment ------------------------------------------------- */

/* LD_PRELOAD and the knob's variables for value V; V < 0 means none of the
 * knob's (the trial run, with hakmem's defaults). The stats file is the
 * harness's to add. */
static int build_env(int v, hr_env_t *env, char digits[KNOB_VARS][2]) {
    int n = 0;
    env[n++] = (hr_env_t){"LD_PRELOAD", g_lib};
    for (int i = 0; v >= 0 && i < g_nvars; i++) {
        const char *value = g_values[v];
        if (g_wrap) {
            digits[i][0] = g_values[v][i];
            digits[i][1] = '\0';
            value = digits[i];
        }
        env[n++] = (hr_env_t){g_vars[i], value};
    }
    return n;
}

/* The line of stderr that starts at or after P, trimmed, into OUT. */
static void line_at(const char *p, char *out, size_t cap) {
    const char *end = strchr(p, '\n');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* hakmem's complaint about one of the variables sweep set, if any:
 * `hakmem: environment HAKMEM_X="v": ...; keeping ...`. */
static const char *knob_complaint(const char *err) {
    for (int i = 0; i < g_nvars; i++) {
        char needle[sizeof g_vars + 16]; /* gcc cannot see that i < g_nvars */
        snprintf(needle, sizeof needle, "environment %s=", g_vars[i]);
        const char *hit = strstr(err, needle);
        if (hit) {
            while (hit > err && hit[-1] != '\n') hit--;
            return hit;
        }
    }
    return NULL;
}

/* ---- checks before measuring ------------------------------------------------- */

/* hakmem-config sits next to the library in a build tree and in ../bin
 * when installed; without it the knob cannot be checked before running. */
static bool find_config_tool(char *path, size_t cap) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", g_lib);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    snprintf(path, cap, "%s/hakmem-config", dir);
    if (access(path, X_OK) == 0) return true;
    snprintf(path, cap, "%s/../bin/hakmem-config", dir);
    return access(path, X_OK) == 0;
}

/* The line "KNOB = VALUE;  # SOURCE" of hakmem-config's report, or NULL. */
static const char *config_line(const char *out, const char *knob) {
    size_t n = strlen(knob);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, knob, n) == 0 && strncmp(p + n, " = ", 3) == 0) return p;
    return NULL;
}

static void run_config_tool(const char *tool, const hr_env_t *env, int nenv, hr_proc_t *p) {
    const char *argv[] = {tool, NULL};
    hr_spawn_t sp = {argv, env, nenv, false, CHECK_TIMEOUT_S, &driver_interrupted};
    hr_spawn(&sp, p);
    if (p->exec_errno || p->timed_out || p->interrupted || hr_signal(p))
        driver_die("%s did not run through (%s)", tool,
                   p->exec_errno ? strerror(p->exec_errno) : "killed or timed out");
}

/* Every value through hakmem-config, which reports exactly what the
 * library would do with it: an unknown knob is simply absent from its
 * report, and a bad value is its exit status 1 with hakmem's own message. */
static void check_knob(void) {
    char tool[PATH_MAX + 32];
    if (!find_config_tool(tool, sizeof tool)) {
        fprintf(stderr,
                "sweep: warning: no hakmem-config next to %s: the knob name cannot be checked "
                "(an unknown knob would silently change nothing); bad values still show up "
                "as status 'rejected'\n",
                g_lib);
        return;
    }
    hr_proc_t p;
    run_config_tool(tool, NULL, 0, &p);
    for (int i = 0; i < g_nvars; i++) {
        const char *knob = g_vars[i] + 7; /* past HAKMEM_ */
        char lower[80];
        size_t k = 0;
        for (; knob[k] && k + 1 < sizeof lower; k++)
            lower[k] = (char)tolower((unsigned char)knob[k]);
        lower[k] = '\0';
        if (config_line(hr_out(&p), lower) == NULL) {
            fprintf(stderr, "sweep: hakmem has no knob '%s'; its knobs:", lower);
            for (const char *l = hr_out(&p); *l;) {
                const char *eq = strstr(l, " = ");
                const char *nl = strchr(l, '\n');
                if (eq && (!nl || eq < nl)) fprintf(stderr, " %.*s", (int)(eq - l), l);
                if (!nl) break;
                l = nl + 1;
            }
            fputs(" (and the pseudo-knob wrap)\n", stderr);
            exit(2);
        }
    }
    hr_proc_free(&p);

    for (int v = 0; v < g_nvalues; v++) {
        hr_env_t env[1 + KNOB_VARS];
        char digits[KNOB_VARS][2];
        int n = build_env(v, env, digits);
        run_config_tool(tool, env + 1, n - 1, &p); /* the tool needs no preload */
        const char *why = knob_complaint(hr_err(&p));
        if (hr_exit_code(&p) != 0 || why) {
            char line[300];
            if (why)
                line_at(why, line, sizeof line);
            else
                hr_last_line(hr_err(&p), line, sizeof line);
            if (why)
                fprintf(stderr, "sweep: value '%s' of %s is not accepted: %s\n", g_values[v],
                        g_knob, line);
            else
                fprintf(stderr, "sweep: hakmem-config fails with value '%s' of %s: %s\n",
                        g_values[v], g_knob, line);
            exit(2);
        }
        hr_proc_free(&p);
    }
}

static _Noreturn void no_such_counters(const hr_stats_t *trial) {
    fprintf(stderr, "sweep: its counters:");
    for (int i = 0; i < HAK_STAT_COUNT; i++)
        if (trial == NULL || trial->have[i]) fprintf(stderr, " %s", hak_stat_name[i]);
    fputc('\n', stderr);
    exit(2);
}

/* A trial run of the workload's --help under the preload: proves the
 * library loads and writes its stats, and tells which counters exist. */
static void check_counters(void) {
    const char *argv[] = {g_prog, "--help", NULL};
    hr_env_t env[1 + KNOB_VARS];
    char digits[KNOB_VARS][2];
    int nenv = build_env(-1, env, digits);
    hr_job_t job = {.spawn = {argv, env, nenv, false, CHECK_TIMEOUT_S, &driver_interrupted},
                    .metric = &g_metric,
                    .stats = &g_stats,
                    .lib = g_lib};
    hr_proc_t p;
    hr_result_t trial;
    hr_run(&job, &p, &trial);
    if (trial.status == HR_PRELOAD_FAILED)
        driver_die("ld.so cannot preload %s:\n%s", g_lib, hr_err(&p));
    hr_proc_free(&p);
    bool bad = false;
    if (!trial.have_stats) {
        for (int c = 0; c < g_ncounters; c++)
            if (g_counter_id[c] < 0) {
                fprintf(stderr, "sweep: hakmem has no counter '%s'\n", g_counter[c]);
                bad = true;
            }
        if (bad) no_such_counters(NULL);
        fprintf(stderr,
                "sweep: warning: a trial run under %s left no stats file it could read; the "
                "counters cannot be checked, and runs without stats will show as no-stats\n",
                g_lib);
        return;
    }
    snprintf(g_version, sizeof g_version, "%s", trial.stats.version);
    for (int c = 0; c < g_ncounters; c++)
        if (g_counter_id[c] < 0 || !trial.stats.have[g_counter_id[c]]) {
            fprintf(stderr, "sweep: hakmem has no counter '%s'\n", g_counter[c]);
            bad = true;
        }
    if (bad) no_such_counters(&trial.stats);
}

static void setup(void) {
    need_hakmem_lib(opt.lib, g_lib, "; build the 'hakmem' target or pass --lib PATH");
    char bin[PATH_MAX];
    find_bin_dir(opt.bin_dir, bin, sizeof bin);
    workload_require(bin, &hr_workloads[g_workload], g_prog, sizeof g_prog);
    char why[200];
    if (!hr_metric_init(&g_metric, NULL, why, sizeof why)) driver_die("metric: %s", why);
    make_stats_dir();
    check_knob();
    check_counters();
}

/* ---- one run ------------------------------------------------------------------ */

static void run_one(run_t *r) {
    const char *argv[HR_MAX_ARGS + 1];
    hr_workload_argv(&hr_workloads[g_workload], g_prog, opt.seconds, argv);
    hr_env_t env[1 + KNOB_VARS];
    char digits[KNOB_VARS][2];
    int nenv = build_env(r->value, env, digits);
    /* Other HAKMEM_* variables are inherited: a knob may be swept with
     * another one fixed. */
    hr_job_t job = {.spawn = {argv, env, nenv, false, opt.timeout_s, &driver_interrupted},
                    .metric = &g_metric,
                    .stats = &g_stats,
                    .lib = g_lib};
    hr_proc_t p;
    hr_run(&job, &p, &r->m);
    for (int c = 0; c < g_ncounters; c++)
        r->counter[c] = r->m.have_stats && r->m.stats.have[g_counter_id[c]]
                            ? r->m.stats.v[g_counter_id[c]]
                            : -1;

    const char *why = knob_complaint(hr_err(&p));
    bool ran = r->m.status == HR_OK || r->m.status == HR_EXIT || r->m.status == HR_NO_STATS ||
               r->m.status == HR_UNSERVED || r->m.status == HR_NO_METRIC;
    if (ran && why) {
        /* hakmem ran with its default instead: not a measurement of V. */
        r->m.status = HR_REJECTED;
        line_at(why, r->note, sizeof r->note);
    } else if (r->m.status == HR_UNSERVED) {
        /* Measured all the same: that is what wrap=000 costs. */
    } else if (r->m.status != HR_OK && r->m.status != HR_INTERRUPTED) {
        snprintf(r->note, sizeof r->note, "%s", r->m.reason);
    }
    hr_proc_free(&p);
}

static bool measured(const run_t *r) {
    return r->m.status == HR_OK || r->m.status == HR_UNSERVED;
}

/* ---- reports ------------------------------------------------------------------ */

typedef struct {
    int runs, measured;
    tally_t tally;
    double median, min, max, user_s, sys_s, sys_frac, rss_kib;
    double counter[MAX_COUNTERS]; /* NAN when no measured run had it */
} summary_t;

static double sys_fraction(const run_t *r) {
    double t = r->m.user_s + r->m.sys_s;
    return t > 0 ? r->m.sys_s / t : NAN;
}

static void summarise(const run_t *runs, int nruns, int v, summary_t *s) {
    memset(s, 0, sizeof *s);
    double *tmp = malloc(((size_t)nruns + 1) * 6 * sizeof *tmp);
    if (tmp == NULL) driver_die("out of memory");
    double *tp = tmp, *us = tp + nruns + 1, *ss = us + nruns + 1, *sf = ss + nruns + 1,
           *rss = sf + nruns + 1, *cv = rss + nruns + 1;
    int nsf = 0;
    for (int i = 0; i < nruns; i++) {
        const run_t *r = &runs[i];
        if (r->value != v) continue;
        s->runs++;
        tally_add(&s->tally, r->m.status, r->m.signal, r->m.exit_code);
        if (!measured(r)) continue;
        tp[s->measured] = r->m.metric;
        us[s->measured] = r->m.user_s;
        ss[s->measured] = r->m.sys_s;
        rss[s->measured] = (double)r->m.maxrss_kib;
        s->measured++;
        if (!isnan(sys_fraction(r))) sf[nsf++] = sys_fraction(r);
    }
    s->median = hr_median(tp, s->measured); /* sorts tp: min and max are its ends */
    s->min = s->measured ? tp[0] : NAN;
    s->max = s->measured ? tp[s->measured - 1] : NAN;
    s->user_s = hr_median(us, s->measured);
    s->sys_s = hr_median(ss, s->measured);
    s->sys_frac = hr_median(sf, nsf);
    s->rss_kib = hr_median(rss, s->measured);
    for (int c = 0; c < g_ncounters; c++) {
        int n = 0;
        for (int i = 0; i < nruns; i++)
            if (runs[i].value == v && measured(&runs[i]) && runs[i].counter[c] >= 0)
                cv[n++] = (double)runs[i].counter[c];
        s->counter[c] = hr_median(cv, n);
    }
    free(tmp);
}

/* Byte counters read better in MiB; the CSV keeps them exact. */
static bool is_bytes(const char *counter) {
    return strncmp(counter, "bytes", 5) == 0;
}

static void print_markdown(FILE *f, const run_t *runs, int nruns) {
    const hr_workload_t *w = &hr_workloads[g_workload];
    fprintf(f, "### `%s` on %s\n\n", g_knob, w->name);
    fprintf(f, "Command: `%s`\n\n", g_command);
    session_print(f, &g_session);
    fprintf(f, "- each run: `");
    workload_print_command(f, w, opt.seconds);
    fprintf(f, "` with LD_PRELOAD=%s (hakmem %s) and ", g_lib, g_version[0] ? g_version : "?");
    if (g_wrap)
        fprintf(f, "HAKMEM_WRAP_TINY/MID/LARGE set from the 3-digit mask");
    else
        fprintf(f, "%s=VALUE", g_vars[0]);
    fprintf(f, "; %d repeats, interleaved across values; timeout %.0f s%s\n", opt.repeats,
            opt.timeout_s, driver_interrupted ? "; INTERRUPTED, partial results" : "");
    fprintf(f, "- inherited from the environment:");
    int inherited = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "HAKMEM_", 7) == 0) {
            bool ours = strncmp(*e, "HAKMEM_STATS_FILE=", 18) == 0;
            for (int i = 0; i < g_nvars; i++) {
                size_t n = strlen(g_vars[i]);
                if (strncmp(*e, g_vars[i], n) == 0 && (*e)[n] == '=') ours = true;
            }
            fprintf(f, "%s %s%s", inherited++ ? "," : "", *e, ours ? " (overridden)" : "");
        }
    fprintf(f, "%s\n", inherited ? "" : " no HAKMEM_* variables");
    fprintf(f, "- medians over the measured runs (status ok or unserved); sys %% is each run's "
               "sys/(user+sys), peak RSS each run's ru_maxrss; counters from hakmem's stats at "
               "exit\n\n");

    fprintf(f,
            "| %s | runs | median ops/s | min–max ops/s | user s | sys s | sys %% | "
            "peak RSS MiB |",
            g_wrap ? "wrap (tiny mid large)" : g_knob);
    for (int c = 0; c < g_ncounters; c++)
        fprintf(f, " %s%s |", g_counter[c], is_bytes(g_counter[c]) ? " MiB" : "");
    fprintf(f, " status |\n|---|---:|---:|---:|---:|---:|---:|---:|");
    for (int c = 0; c < g_ncounters; c++) fprintf(f, "---:|");
    fprintf(f, "---|\n");

    for (int v = 0; v < g_nvalues; v++) {
        summary_t s;
        summarise(runs, nruns, v, &s);
        char med[40], range[96], us[16], ss[16], sf[16], rss[24], st[300];
        commas(s.median, med, sizeof med);
        commas_range(s.min, s.max, range, sizeof range);
        fmt_num(s.user_s, "%.2f", us, sizeof us);
        fmt_num(s.sys_s, "%.2f", ss, sizeof ss);
        fmt_num(s.sys_frac * 100, "%.0f%%", sf, sizeof sf);
        fmt_num(s.rss_kib / 1024.0, "%.1f", rss, sizeof rss);
        tally_text(&s.tally, st, sizeof st);
        fprintf(f, "| %s | %d/%d | %s | %s | %s | %s | %s | %s |", g_values[v], s.measured, s.runs,
                med, range, us, ss, sf, rss);
        for (int c = 0; c < g_ncounters; c++) {
            char num[40];
            if (is_bytes(g_counter[c]))
                fmt_num(s.counter[c] / 1048576.0, "%.1f", num, sizeof num);
            else
                commas(s.counter[c], num, sizeof num);
            fprintf(f, " %s |", num);
        }
        fprintf(f, " %s |\n", st);
    }
    /* Failures are in the table's status column; their reasons go here so
     * the table stays readable and nothing is lost. */
    bool header = false;
    for (int i = 0; i < nruns; i++) {
        const run_t *r = &runs[i];
        if (measured(r) || r->m.status == HR_INTERRUPTED) continue;
        if (!header) fprintf(f, "\nFailed runs:\n\n");
        header = true;
        char st[48];
        hr_status_short(r->m.status, r->m.signal, r->m.exit_code, st, sizeof st);
        fprintf(f, "- %s=%s #%d: %s%s%s\n", g_knob, g_values[r->value], r->repeat + 1, st,
                r->note[0] ? ": " : "", r->note);
    }
}

static void csv_text(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_csv(const run_t *runs, int nruns) {
    FILE *f = fopen(opt.csv, "w");
    if (f == NULL) {
        fprintf(stderr, "sweep: cannot write %s: %s\n", opt.csv, strerror(errno));
        return;
    }
    fprintf(f, "knob,value,repeat,status,exit_code,signal,throughput,wall_s,user_s,sys_s,"
               "sys_fraction,maxrss_kib");
    for (int c = 0; c < g_ncounters; c++) fprintf(f, ",%s", g_counter[c]);
    fprintf(f, ",note\n");
    for (int i = 0; i < nruns; i++) {
        const run_t *r = &runs[i];
        fprintf(f, "%s,", g_knob);
        csv_text(f, g_values[r->value]);
        fputc(',', f);
        csv_measure(f, r->repeat, &r->m);
        fputc(',', f);
        if (!isnan(sys_fraction(r))) fprintf(f, "%.4f", sys_fraction(r));
        fprintf(f, ",%ld", r->m.maxrss_kib);
        for (int c = 0; c < g_ncounters; c++) {
            fputc(',', f);
            if (r->counter[c] >= 0) fprintf(f, "%lld", r->counter[c]);
        }
        fputc(',', f);
        csv_text(f, r->note);
        fputc('\n', f);
    }
    if (fclose(f) != 0) fprintf(stderr, "sweep: writing %s: %s\n", opt.csv, strerror(errno));
}

static void progress(const run_t *r, int done, int total) {
    char label[120];
    snprintf(label, sizeof label, "%s=%s", g_knob, g_values[r->value]);
    progress_begin(done, total, label, 28, r->repeat, &r->m);
    for (int c = 0; c < g_ncounters; c++)
        if (r->counter[c] >= 0)
            fprintf(stderr, "%s%s=%lld", c ? " " : "  ", g_counter[c], r->counter[c]);
    fputc('\n', stderr);
    if (r->note[0]) fprintf(stderr, "        %s\n", r->note);
}

/* ---- main --------------------------------------------------------------------- */

int main(int argc, char **argv) {
    driver_name = "sweep";
    record_command(argc, argv);
    parse_args(argc, argv);

    driver_trap_interrupts();
    setup();
    hr_session_read(&g_session);

    int total = g_nvalues * opt.repeats, done = 0;
    run_t *runs = calloc((size_t)total, sizeof *runs);
    if (runs == NULL) driver_die("out of memory");

    /* Interleaved (v1 v2 v3 v1 v2 v3 ...) so drift in machine load hits
     * every value alike. */
    for (int rep = 0; rep < opt.repeats && !driver_interrupted; rep++) {
        for (int v = 0; v < g_nvalues && !driver_interrupted; v++) {
            run_t *r = &runs[done];
            *r = (run_t){.value = v, .repeat = rep};
            run_one(r);
            done++;
            progress(r, done, total);
        }
    }

    print_markdown(stdout, runs, done);
    fflush(stdout);
    if (opt.csv) write_csv(runs, done);
    free(runs);
    return driver_interrupted ? 130 : 0;
}
