/* verify.c — hak-tune --verify: re-measures profiles against the default on
 * the workload each was tuned for, which its header names, and --cross:
 * every profile on every workload, as a markdown table.
 *
 * A run is made exactly as the tuner makes one (runner.c): LD_PRELOAD,
 * HAKMEM_CONFIG=the profile in strict mode, hakmem's stats as the proof it
 * served the run, nothing HAKMEM_ inherited. Default and profile run in
 * interleaved pairs, default first, then profile first, so a drifting
 * machine favours neither; the verdict is the median pair ratio of the
 * objective, with the same rule a confirmation has (a gain of --min-gain,
 * better in most pairs, and for rss and sys the throughput floor).
 *
 * Exit status: 0 every profile beats the default (or --list, --cross
 * finished); 1 some do not, or a header is unusable; 2 bad usage or a
 * missing build; 130 interrupted. */
#include "tune.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef HT_SOURCE_CONFIGS
#define HT_SOURCE_CONFIGS "configs"
#endif
#ifndef HT_PROFILE_DIR
#define HT_PROFILE_DIR "/usr/local/share/hakmem"
#endif

#define MAX_PROBLEMS 8

static const char *const required[] = {"workload", "metric",  "objective", "constraints",
                                       "gain",     "command", "tuned by",  "date"};

/* ---- options ------------------------------------------------------------------ */

static struct {
    const char *build, *lib_given, *bin_given, *configs, *default_given, *seconds;
    int pairs;
    double timeout_s, min_gain;
    bool cross, list, quiet, bench_workloads;
    char lib[PATH_MAX], bin_dir[PATH_MAX], default_path[PATH_MAX];
    char invocation[8192];
} opt = {.pairs = 5, .timeout_s = 120, .min_gain = 0.02, .bench_workloads = true};

static void usage(FILE *f) {
    fputs("usage: hak-tune --verify [options] [PROFILE...]\n"
          "       hak-tune --verify --cross [options] [PROFILE...]\n"
          "       hak-tune --verify --list [PROFILE...]\n"
          "\n"
          "Re-measures hakmem profiles against the default on the workload each was tuned for\n"
          "(its header says which, and its objective), in interleaved pairs, and exits 1 naming\n"
          "every profile that does not beat the default there. --cross measures every profile on\n"
          "every workload and prints a markdown table of throughput ratios to the default.\n"
          "PROFILE: default every *.cfg of --configs but default.cfg.\n"
          "\n"
          "  --build DIR           build tree holding libhakmem/ and bench/ (default: the one\n"
          "                        holding this hak-tune)\n"
          "  --lib PATH            libhakmem.so (default: BUILD/libhakmem/libhakmem.so)\n"
          "  --bin-dir DIR         the bench programs (default: BUILD/bench; --bench-dir too)\n"
          "  --configs DIR         where the profiles are (default: the source tree's configs/,\n"
          "                        else the installed profiles)\n"
          "  --default FILE        the profile measured against (default: CONFIGS/default.cfg)\n"
          "  --pairs N             interleaved (default, profile) pairs; --cross: rounds (5)\n"
          "  --seconds S           replace the duration (first argument) of bench workloads\n"
          "  --timeout S           kill a run after S seconds (120)\n"
          "  --min-gain F          the median gain a profile needs on its objective: a ratio >=\n"
          "                        1 + F for throughput, <= 1 / (1 + F) for rss and sys (0.02)\n"
          "  --cross               every profile on every workload: a markdown table\n"
          "  --no-bench-workloads  --cross: only the workloads the profiles were tuned for\n"
          "  --list                read the headers and print what would be run; no runs\n"
          "  --quiet               no progress lines\n"
          "\n"
          "Exit status: 0 every profile beats the default (or --list/--cross finished); 1 some\n"
          "do not, or a header is unusable; 2 bad usage or a missing build; 130 interrupted.\n"
          "The header format is in configs/README.md.\n",
          f);
}

static _Noreturn void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void die(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hak-tune: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...) {
    if (opt.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- profiles and their headers ---------------------------------------------- */

typedef struct {
    char path[PATH_MAX], name[256], stem[256];
    ht_header_t h;
    char problem[MAX_PROBLEMS][320];
    int nproblems;
    char **argv; /* the workload, as the header gives it */
    int argc;
    bool bench; /* "# bench:" (else "# cmd:") */
    ht_objective_t objective;
    double floor; /* the throughput floor of rss and sys; NAN when none */
    hr_metric_t metric;
} vprof_t;

static void problem(vprof_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(vprof_t *p, const char *fmt, ...) {
    if (p->nproblems == MAX_PROBLEMS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->problem[p->nproblems++], sizeof p->problem[0], fmt, ap);
    va_end(ap);
}

/* "throughput >= F x default" in the constraints; NAN when absent. */
static double floor_of(const char *constraints) {
    const char *s = constraints ? strstr(constraints, "throughput >= ") : NULL;
    if (!s) return NAN;
    char *end;
    double f = strtod(s + 14, &end);
    return end != s + 14 && strncmp(end, " x default", 10) == 0 ? f : NAN;
}

/* "OBJECTIVE xRATIO (min A, max B)": a gain that was measured. */
static bool measured_gain(const char *gain) {
    regex_t re;
    if (regcomp(&re, "^[a-zA-Z ]+ x[0-9.]+ \\(min [0-9.]+, max [0-9.]+\\)",
                REG_EXTENDED | REG_NOSUB))
        return true;
    bool ok = regexec(&re, gain, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static void profile_read(vprof_t *p, const char *path) {
    memset(p, 0, sizeof *p);
    p->floor = NAN;
    if (!realpath(path, p->path)) snprintf(p->path, sizeof p->path, "%s", path);
    const char *base = strrchr(p->path, '/');
    ht_fmt(p->name, sizeof p->name, "%s", base ? base + 1 : p->path);
    snprintf(p->stem, sizeof p->stem, "%s", p->name);
    size_t n = strlen(p->stem);
    if (n > 4 && strcmp(p->stem + n - 4, ".cfg") == 0) p->stem[n - 4] = '\0';
    char why[300];
    if (!ht_header_read(p->path, &p->h, why, sizeof why)) {
        problem(p, "%s", why);
        return;
    }
    const ht_header_t *h = &p->h;
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        const char *v = ht_header_get(h, required[i]);
        if (!v || !v[0]) problem(p, "no '# %s:' line", required[i]);
    }
    const char *bench = ht_header_get(h, "bench"), *cmd = ht_header_get(h, "cmd");
    if (bench && cmd) {
        problem(p, "both '# bench:' and '# cmd:' lines");
    } else if (bench || cmd) {
        p->bench = bench != NULL;
        const char *kind = bench ? "bench" : "cmd";
        if (!ht_split_command(bench ? bench : cmd, &p->argv, &p->argc, why, sizeof why)) {
            if (strcmp(why, "the command is empty") == 0)
                problem(p, "'# %s:' is empty", kind);
            else
                problem(p, "'# %s:' cannot be split: %s", kind, why);
        }
    } else if (ht_header_get(h, "server")) {
        problem(p, "a server's profile ('# server:' and '# client:'): --verify does not run "
                   "servers; hak-tune --server ... --client ... measures it again");
    } else {
        problem(p, "no '# bench:' or '# cmd:' line: which workload is it for?");
    }
    const char *obj = ht_header_get(h, "objective");
    bool has_obj = obj && ht_objective_parse(obj, &p->objective);
    if (obj && !has_obj) problem(p, "'# objective: %s': expected one of throughput, rss, sys", obj);
    const char *cons = ht_header_get(h, "constraints");
    p->floor = floor_of(cons);
    if (has_obj && p->objective != HT_OBJ_THROUGHPUT && isnan(p->floor) && cons && cons[0])
        problem(p, "objective %s but no 'throughput >= F x default' in '# constraints:'", obj);
    const char *met = ht_header_get(h, "metric");
    if (met && !hr_metric_from_header(&p->metric, met, why, sizeof why))
        problem(p, "'# metric: %s': %s", met, why);
    const char *gain = ht_header_get(h, "gain");
    if (gain && gain[0] && !measured_gain(gain))
        problem(p, "'# gain: %.60s': not a measured gain (OBJECTIVE xRATIO (min A, max B) ...)",
                gain);
}

/* ---- workloads ---------------------------------------------------------------- */

/* One workload: of a profile's header, or one of bench/'s for --cross. */
typedef struct {
    char **argv;
    int argc;
    bool bench;
    const hr_metric_t *metric;
    const char *workload; /* the header's name for it: larson-mid, custom, command */
    const char *stem;     /* the profile's file name without .cfg, or the workload's name */
    char name[256];       /* as --cross heads its column */
} vwork_t;

static vwork_t work_of(const vprof_t *p) {
    vwork_t w = {p->argv, p->argc, p->bench, &p->metric, ht_header_get(&p->h, "workload"),
                 p->stem, ""};
    return w;
}

/* A bench program's first argument is its duration: the same workload
 * whatever it is. */
static bool same_work(const vwork_t *a, const vwork_t *b) {
    if (a->bench != b->bench || a->argc != b->argc) return false;
    for (int i = 0; i < a->argc; i++)
        if (!(a->bench && i == 1) && strcmp(a->argv[i], b->argv[i]) != 0) return false;
    return true;
}

static void work_text(const vwork_t *w, char *buf, size_t cap) {
    ht_command_text(w->argv, w->argc, buf, cap);
}

/* The command to run: bench programs from the bench directory, their first
 * argument replaced by --seconds. ARGV holds argc + 1 pointers. */
static void work_argv(const vwork_t *w, char *prog, size_t cap, char **argv) {
    for (int i = 0; i < w->argc; i++) argv[i] = w->argv[i];
    argv[w->argc] = NULL;
    if (!w->bench) return;
    snprintf(prog, cap, "%s/%s", opt.bin_dir, w->argv[0]);
    argv[0] = prog;
    if (opt.seconds && w->argc > 1) argv[1] = (char *)opt.seconds;
}

/* ---- the report's head ---------------------------------------------------------- */

static void session_lines(FILE *f) {
    char commit[128] = "";
    const char *git[] = {"git", "-C", opt.configs, "describe", "--always", "--dirty", NULL};
    hr_spawn_t sp = {git, NULL, 0, false, 10, NULL};
    hr_proc_t p;
    hr_spawn(&sp, &p);
    if (!p.exec_errno && !p.timed_out && hr_exit_code(&p) == 0 && !hr_signal(&p))
        snprintf(commit, sizeof commit, "%.*s", (int)strcspn(hr_out(&p), "\n"), hr_out(&p));
    hr_proc_free(&p);
    hr_session_t s;
    hr_session_read(&s);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    fprintf(f, "Command: `%s`\n\n", opt.invocation);
    fprintf(f, "- date: %s; commit: %s\n", date,
            commit[0] ? commit : "unknown (not a git checkout)");
    fprintf(f, "- host: %s, %ld CPUs, load average at start %.2f, %.2f, %.2f\n", s.host, s.cpus,
            s.load[0], s.load[1], s.load[2]);
}

/* ---- one profile against the default ---------------------------------------------- */

static const char *label_of(ht_objective_t o) {
    return o == HT_OBJ_RSS ? "peak RSS" : o == HT_OBJ_SYS ? "kernel time" : "throughput";
}

static void fmt_obj(ht_objective_t o, double v, char *buf, size_t cap) {
    if (o == HT_OBJ_RSS)
        snprintf(buf, cap, "%.1f MiB", v / 1024);
    else if (o == HT_OBJ_SYS)
        snprintf(buf, cap, "%.3f s", v);
    else
        ht_fmt_metric(v, buf, cap);
}

static double sysfrac(const ht_run_t *r) {
    double cpu = r->user + r->sys;
    return cpu > 0 ? r->sys / cpu : 0;
}

/* One more reason in a "; "-separated list. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len && *len + 2 < cap) {
        memcpy(buf + *len, "; ", 3);
        *len += 2;
    }
    if (*len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0) *len += (size_t)n;
}

/* False when interrupted; else *BEATS and the line TEXT. */
static bool verify_one(ht_runner_t *run, const vprof_t *pr, bool *beats, char *text, size_t cap) {
    /* The tuner's own measures of the objective and its ratios. */
    ht_tuner_t t;
    memset(&t, 0, sizeof t);
    t.objective = pr->objective;
    bool up = pr->objective == HT_OBJ_THROUGHPUT;
    const char *label = label_of(pr->objective);
    vwork_t w = work_of(pr);
    char prog[PATH_MAX + 300], *argv[w.argc + 1];
    work_argv(&w, prog, sizeof prog, argv);
    int n = opt.pairs, ok = 0, wins = 0, nd = 0, np = 0;
    double ratio[n], tratio[n], dsf[n], psf[n];
    char failed[400] = "";
    for (int i = 0; i < n; i++) {
        ht_run_t d, p;
        const char *first = i % 2 ? pr->path : opt.default_path;
        const char *second = i % 2 ? opt.default_path : pr->path;
        ht_run_with(run, argv, &pr->metric, first, i % 2 ? &p : &d);
        if (ht_stop) return false;
        ht_run_with(run, argv, &pr->metric, second, i % 2 ? &d : &p);
        if (ht_stop) return false;
        if (d.st == HR_OK) dsf[nd++] = sysfrac(&d);
        if (p.st == HR_OK) psf[np++] = sysfrac(&p);
        if (d.st != HR_OK || p.st != HR_OK) {
            const ht_run_t *bad = p.st != HR_OK ? &p : &d;
            const char *who = p.st != HR_OK ? "profile" : "default";
            if (!failed[0])
                ht_fmt(failed, sizeof failed, "the %s's run failed: %s: %s", who,
                       hr_status_name(bad->st), bad->reason);
            progress("  pair %d/%d: %s %s: %s", i + 1, n, who, hr_status_name(bad->st),
                     bad->reason);
            continue;
        }
        double od = ht_obj_of(&t, d.metric, d.sys, d.rss_kb);
        double op = ht_obj_of(&t, p.metric, p.sys, p.rss_kb);
        double ro = ht_obj_ratio(&t, op, od);
        double rt = d.metric > 0 ? p.metric / d.metric : NAN;
        wins += up ? ro > 1 : ro < 1;
        ratio[ok] = ro;
        tratio[ok] = rt;
        ok++;
        char a[32], b[32], extra[200] = "";
        if (!up) {
            char fd[32], fp[32];
            fmt_obj(pr->objective, od, fd, sizeof fd);
            fmt_obj(pr->objective, op, fp, sizeof fp);
            ht_fmt(extra, sizeof extra, "; %s default %s, profile %s, ratio %.3f", label, fd, fp,
                   ro);
        }
        ht_fmt_metric(d.metric, a, sizeof a);
        ht_fmt_metric(p.metric, b, sizeof b);
        progress("  pair %d/%d: default %s, profile %s, ratio %.3f%s", i + 1, n, a, b, rt, extra);
    }
    *beats = false;
    if (ok == 0) {
        ht_fmt(text, cap, "%s: no pair measured (%s)", pr->name, failed);
        return true;
    }
    double lo, hi, tlo, thi;
    double med = hr_median_range(ratio, ok, &lo, &hi);
    double tmed = hr_median_range(tratio, ok, &tlo, &thi);
    size_t len = (size_t)snprintf(text, cap, "%s: %s x%.3f (min %.3f, max %.3f), %s %d of %d pairs",
                                  pr->name, label, med, lo, hi, up ? "won" : "lower in", wins, ok);
    if (!up && len < cap)
        len += (size_t)snprintf(text + len, cap - len, "; throughput x%.3f (min %.3f, max %.3f)",
                                tmed, tlo, thi);
    if (len < cap)
        len += (size_t)snprintf(text + len, cap - len, "; sys fraction %.3f (default %.3f)",
                                hr_median(psf, np), hr_median(dsf, nd));
    double goal = up ? 1 + opt.min_gain : 1 / (1 + opt.min_gain);
    char why[800] = "";
    size_t wl = 0;
    if (failed[0]) append(why, sizeof why, &wl, "%s", failed);
    if (up && !(med >= goal)) append(why, sizeof why, &wl, "median ratio %.3f < %.3f", med, goal);
    if (!up && !(med <= goal))
        append(why, sizeof why, &wl, "median %s ratio %.3f > %.3f", label, med, goal);
    if (2 * wins <= ok) append(why, sizeof why, &wl, "better in only %d of %d pairs", wins, ok);
    if (!up && !isnan(pr->floor) && !(tmed >= pr->floor))
        append(why, sizeof why, &wl, "throughput x%.3f below its floor %g", tmed, pr->floor);
    *beats = why[0] == '\0';
    if (len < cap) {
        if (*beats)
            snprintf(text + len, cap - len, ": beats the default");
        else
            snprintf(text + len, cap - len, ": DOES NOT BEAT THE DEFAULT (%s)", why);
    }
    return true;
}

/* ---- the cross table -------------------------------------------------------------- */

/* bench/'s named workloads, from the harness's table. */
static int bench_works(vwork_t *w, const hr_metric_t *throughput) {
    int n = 0;
    for (int i = 0; i < HR_NWORKLOADS; i++) {
        const hr_workload_t *b = &hr_workloads[i];
        int argc = 0;
        while (b->args[argc]) argc++;
        char **argv = calloc((size_t)argc + 1, sizeof *argv);
        if (!argv) die(1, "out of memory");
        for (int a = 0; a < argc; a++) argv[a] = (char *)b->args[a];
        w[n++] = (vwork_t){argv, argc, true, throughput, b->name, b->name, ""};
    }
    return n;
}

static int cross(ht_runner_t *run, vprof_t **profs, int nprofs) {
    hr_metric_t throughput;
    char why[200];
    if (!hr_metric_init(&throughput, NULL, why, sizeof why)) die(1, "%s", why);
    vwork_t *works = calloc((size_t)(HR_NWORKLOADS + nprofs), sizeof *works);
    if (!works) die(1, "out of memory");
    int nw = opt.bench_workloads ? bench_works(works, &throughput) : 0, nbench = nw;
    /* Then each other workload of a profile once, in profile order: a
     * profile tuned on a named workload with another duration shares its
     * column. */
    for (int i = 0; i < nprofs; i++) {
        vwork_t w = work_of(profs[i]);
        bool seen = false;
        for (int k = 0; k < nw; k++) seen = seen || same_work(&works[k], &w);
        if (!seen) works[nw++] = w;
    }
    for (int k = 0; k < nw; k++) {
        vwork_t *w = &works[k];
        int clash = 0;
        for (int j = 0; j < nw; j++) clash += strcmp(works[j].workload, w->workload) == 0;
        bool own =
            k < nbench || (strcmp(w->workload, "custom") != 0 &&
                           strcmp(w->workload, "command") != 0 && w->workload[0] && clash == 1);
        snprintf(w->name, sizeof w->name, "%s", own ? w->workload : w->stem);
        if (w->bench) {
            char prog[PATH_MAX + 300];
            snprintf(prog, sizeof prog, "%s/%s", opt.bin_dir, w->argv[0]);
            if (access(prog, X_OK) != 0)
                die(2,
                    "workload %s: the bench program %s is not there: build bench/, or pass "
                    "--build DIR or --bin-dir DIR",
                    w->name, prog);
        }
    }
    int ncols = nprofs + 1, rounds = opt.pairs, nruns = nw * ncols * rounds, done = 0;
    progress("hak-tune: %d profiles (default included) x %d workloads x %d rounds = %d runs", ncols,
             nw, rounds, nruns);
    const char **col_path = calloc((size_t)ncols, sizeof *col_path);
    const char **col_name = calloc((size_t)ncols, sizeof *col_name);
    char(*cells)[64] = calloc((size_t)(ncols * nw), sizeof *cells);
    ht_run_t *runs = calloc((size_t)(ncols * rounds), sizeof *runs);
    double *ratios = calloc((size_t)rounds, sizeof *ratios);
    if (!col_path || !col_name || !cells || !runs || !ratios) die(1, "out of memory");
    col_path[0] = opt.default_path;
    col_name[0] = "default";
    for (int i = 0; i < nprofs; i++)
        col_path[i + 1] = profs[i]->path, col_name[i + 1] = profs[i]->stem;

    for (int k = 0; k < nw; k++) {
        const vwork_t *w = &works[k];
        char prog[PATH_MAX + 300], *argv[w->argc + 1];
        work_argv(w, prog, sizeof prog, argv);
        for (int rnd = 0; rnd < rounds; rnd++) {
            /* Rotated each round: no profile always runs right after another. */
            for (int j = 0; j < ncols; j++) {
                int c = (rnd + j) % ncols;
                ht_run_t *r = &runs[c * rounds + rnd];
                ht_run_with(run, argv, w->metric, col_path[c], r);
                if (ht_stop) return 130;
                done++;
                char m[32];
                ht_fmt_metric(r->metric, m, sizeof m);
                if (r->st == HR_OK)
                    progress("[%d/%d] %-14s %-16s %s", done, nruns, w->name, col_name[c], m);
                else
                    progress("[%d/%d] %-14s %-16s %s: %s", done, nruns, w->name, col_name[c],
                             hr_status_name(r->st), r->reason);
            }
        }
        for (int c = 0; c < ncols; c++) {
            int n = 0;
            const ht_run_t *bad = NULL;
            for (int rnd = 0; rnd < rounds; rnd++) {
                const ht_run_t *d = &runs[rnd], *p = &runs[c * rounds + rnd];
                if (p->st != HR_OK && !bad) bad = p;
                if (d->st == HR_OK && p->st == HR_OK && d->metric > 0)
                    ratios[n++] = p->metric / d->metric;
            }
            char *cell = cells[c * nw + k];
            double lo, hi;
            if (n == 0) {
                if (bad)
                    snprintf(cell, 64, "failed (%s)", hr_status_name(bad->st));
                else
                    snprintf(cell, 64, "-");
            } else {
                double med = hr_median_range(ratios, n, &lo, &hi);
                int len = snprintf(cell, 64, "%.2f (%.2f–%.2f)", med, lo, hi);
                if (n < rounds && len > 0 && len < 64)
                    snprintf(cell + len, (size_t)(64 - len), " %d/%d ok", n, rounds);
            }
        }
    }

    printf("## Cross table: throughput ratio to the default\n\n");
    session_lines(stdout);
    printf("- each cell: median over %d rounds of the profile's throughput over the default's in "
           "the same round (min–max), so 1.00 is the default; every profile and the default run "
           "once a round, the order rotated each round; in bold, a profile on its own workload\n",
           rounds);
    printf("- library: %s", opt.lib);
    if (opt.seconds) printf("; durations replaced by %s s", opt.seconds);
    printf("\n\n| profile | objective |");
    for (int k = 0; k < nw; k++) printf(" %s |", works[k].name);
    printf("\n|---|---|");
    for (int k = 0; k < nw; k++) printf("---:|");
    printf("\n");
    for (int i = 0; i < nprofs; i++) {
        vwork_t own = work_of(profs[i]);
        printf("| `%s` | %s |", profs[i]->stem, ht_objective_name(profs[i]->objective));
        for (int k = 0; k < nw; k++) {
            bool bold = same_work(&own, &works[k]);
            printf(" %s%s%s |", bold ? "**" : "", cells[(i + 1) * nw + k], bold ? "**" : "");
        }
        printf("\n");
    }
    printf("\nWorkloads:\n\n");
    for (int k = 0; k < nw; k++) {
        char text[4096];
        work_text(&works[k], text, sizeof text);
        printf("- %s: `%s` (%s)\n", works[k].name, text, works[k].bench ? "bench" : "cmd");
    }
    for (int k = 0; k < nbench; k++) free(works[k].argv);
    free(works), free(col_path), free(col_name), free(cells), free(runs), free(ratios);
    hr_metric_done(&throughput);
    return 0;
}

/* ---- set-up --------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.cfg of DIR but default.cfg, sorted. */
static int list_configs(const char *dir, char ***out) {
    DIR *d = opendir(dir);
    if (!d) die(2, "--configs %s: %s", dir, strerror(errno));
    int n = 0, cap = 16;
    char **v = malloc((size_t)cap * sizeof *v);
    struct dirent *e;
    while (v && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".cfg") != 0 ||
            strcmp(e->d_name, "default.cfg") == 0)
            continue;
        if (n == cap && !(v = realloc(v, (size_t)(cap *= 2) * sizeof *v))) break;
        size_t sz = strlen(dir) + len + 2;
        if ((v[n] = malloc(sz)) == NULL) break;
        snprintf(v[n++], sz, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (!v) die(1, "out of memory");
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static void parse_args(int argc, char **argv, const char ***paths, int *npaths) {
    *paths = calloc((size_t)argc, sizeof **paths);
    if (!*paths) die(1, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--verify") == 0) {
            continue;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (ht_is_opt(a, "--build")) {
            opt.build = ht_value_of(argc, argv, &i, "--build");
        } else if (ht_is_opt(a, "--lib")) {
            opt.lib_given = ht_value_of(argc, argv, &i, "--lib");
        } else if (ht_is_opt(a, "--bin-dir")) {
            opt.bin_given = ht_value_of(argc, argv, &i, "--bin-dir");
        } else if (ht_is_opt(a, "--bench-dir")) {
            opt.bin_given = ht_value_of(argc, argv, &i, "--bench-dir");
        } else if (ht_is_opt(a, "--configs")) {
            opt.configs = ht_value_of(argc, argv, &i, "--configs");
        } else if (ht_is_opt(a, "--default")) {
            opt.default_given = ht_value_of(argc, argv, &i, "--default");
        } else if (ht_is_opt(a, "--pairs")) {
            opt.pairs = (int)ht_int_opt("--pairs", ht_value_of(argc, argv, &i, "--pairs"), 1, 1000);
        } else if (ht_is_opt(a, "--seconds")) {
            opt.seconds = ht_value_of(argc, argv, &i, "--seconds");
            char *end;
            double s = strtod(opt.seconds, &end);
            if (end == opt.seconds || *end || !(s > 0))
                ht_bad_usage("--seconds '%s': expected a duration in seconds > 0", opt.seconds);
        } else if (ht_is_opt(a, "--timeout")) {
            opt.timeout_s =
                ht_num_opt("--timeout", ht_value_of(argc, argv, &i, "--timeout"), 0.1, 1e6, true);
        } else if (ht_is_opt(a, "--min-gain")) {
            opt.min_gain =
                ht_num_opt("--min-gain", ht_value_of(argc, argv, &i, "--min-gain"), 0, 10, false);
        } else if (strcmp(a, "--cross") == 0) {
            opt.cross = true;
        } else if (strcmp(a, "--list") == 0) {
            opt.list = true;
        } else if (strcmp(a, "--no-bench-workloads") == 0) {
            opt.bench_workloads = false;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            opt.quiet = true;
        } else if (a[0] == '-' && a[1]) {
            ht_bad_usage("--verify: unknown option '%s'", a);
        } else {
            (*paths)[(*npaths)++] = a;
        }
    }
    if (opt.cross && opt.list) ht_bad_usage("--cross and --list: one or the other");
}

/* --configs, else the source tree's (a build tree's hak-tune), else the
 * installed profiles. */
static void find_configs(char *buf, size_t cap) {
    const char *dir = opt.configs                                           ? opt.configs
                      : access(HT_SOURCE_CONFIGS "/default.cfg", R_OK) == 0 ? HT_SOURCE_CONFIGS
                                                                            : HT_PROFILE_DIR;
    if (!realpath(dir, buf)) snprintf(buf, cap, "%s", dir);
}

/* The library and the bench directory: --lib and --bin-dir, else in
 * --build, else as hak-tune finds them next to itself. */
static void find_build(void) {
    char tried[3 * PATH_MAX];
    if (opt.lib_given || opt.build) {
        char path[PATH_MAX + 64];
        if (opt.lib_given)
            snprintf(path, sizeof path, "%s", opt.lib_given);
        else
            snprintf(path, sizeof path, "%s/libhakmem/libhakmem.so", opt.build);
        if (!realpath(path, opt.lib) || access(opt.lib, R_OK) != 0)
            die(2, "libhakmem.so not found at %s: build first, or pass --build DIR or --lib PATH",
                path);
    } else if (!hr_find_lib(NULL, opt.lib, sizeof opt.lib, tried, sizeof tried)) {
        die(2, "libhakmem.so not found: tried %s; build first, or pass --build DIR or --lib PATH",
            tried);
    }
    char dir[PATH_MAX + 64];
    if (opt.bin_given) {
        snprintf(dir, sizeof dir, "%s", opt.bin_given);
    } else if (opt.build) {
        snprintf(dir, sizeof dir, "%s/bench", opt.build);
    } else {
        char self[PATH_MAX];
        hr_self_dir(self, sizeof self);
        snprintf(dir, sizeof dir, "%s/../bench", self);
    }
    if (!realpath(dir, opt.bin_dir)) ht_fmt(opt.bin_dir, sizeof opt.bin_dir, "%s", dir);
}

int ht_verify_main(int argc, char **argv) {
    const char **paths;
    int npaths = 0;
    parse_args(argc, argv, &paths, &npaths);
    ht_command_text(argv, argc, opt.invocation, sizeof opt.invocation);
    char configs[PATH_MAX];
    find_configs(configs, sizeof configs);
    opt.configs = configs;
    char default_path[PATH_MAX + 16];
    if (opt.default_given)
        snprintf(default_path, sizeof default_path, "%s", opt.default_given);
    else
        snprintf(default_path, sizeof default_path, "%s/default.cfg", configs);
    if (!realpath(default_path, opt.default_path))
        ht_fmt(opt.default_path, sizeof opt.default_path, "%s", default_path);

    char **found = NULL;
    int nprofs = npaths ? npaths : list_configs(configs, &found);
    vprof_t **profs = calloc((size_t)nprofs + 1, sizeof *profs);
    if (!profs) die(1, "out of memory");
    char bad[2048] = "";
    size_t blen = 0;
    for (int i = 0; i < nprofs; i++) {
        if ((profs[i] = malloc(sizeof *profs[i])) == NULL) die(1, "out of memory");
        profile_read(profs[i], npaths ? paths[i] : found[i]);
        for (int k = 0; k < profs[i]->nproblems; k++)
            fprintf(stderr, "hak-tune: %s: %s\n", profs[i]->path, profs[i]->problem[k]);
        if (profs[i]->nproblems && blen < sizeof bad)
            blen += (size_t)snprintf(bad + blen, sizeof bad - blen, "%s%s", blen ? ", " : "",
                                     profs[i]->name);
    }

    if (opt.list) {
        for (int i = 0; i < nprofs; i++) {
            const vprof_t *p = profs[i];
            if (p->nproblems) continue;
            char text[4096];
            vwork_t w = work_of(p);
            work_text(&w, text, sizeof text);
            printf("%s: workload %s (%s: %s), objective %s", p->name,
                   ht_header_get(&p->h, "workload"), p->bench ? "bench" : "cmd", text,
                   ht_objective_name(p->objective));
            if (!isnan(p->floor)) printf(", floor %g x default", p->floor);
            printf("\n");
        }
        if (nprofs == 0) printf("no profiles to verify in %s (only default.cfg?)\n", configs);
        return bad[0] ? 1 : 0;
    }
    if (bad[0]) die(1, "cannot verify %s: fix the header (format in configs/README.md)", bad);
    if (nprofs == 0) {
        printf("hak-tune: no profiles to verify in %s (only default.cfg?)\n", configs);
        return 0;
    }
    if (access(opt.default_path, R_OK) != 0)
        die(2, "the default profile %s cannot be read", opt.default_path);
    find_build();
    for (int i = 0; i < nprofs; i++) {
        const vprof_t *p = profs[i];
        char prog[PATH_MAX + 300];
        snprintf(prog, sizeof prog, "%s/%s", opt.bin_dir, p->argv[0]);
        if (p->bench && access(prog, X_OK) != 0)
            die(2,
                "%s: the bench program %s is not there: build bench/, or pass --build DIR or "
                "--bin-dir DIR",
                p->name, prog);
        if (!p->bench && opt.seconds)
            fprintf(stderr, "hak-tune: note: %s is a command workload: --seconds does not apply\n",
                    p->name);
    }

    ht_runner_t run;
    memset(&run, 0, sizeof run);
    const char *tmpdir = getenv("TMPDIR");
    int rc = ht_runner_init(&run, NULL, tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (rc) return rc;
    snprintf(run.lib, sizeof run.lib, "%s", opt.lib);
    run.timeout_s = opt.timeout_s;
    run.stop = &ht_stop;
    ht_trap_interrupts();

    int status = 0;
    if (opt.cross) {
        status = cross(&run, profs, nprofs);
        if (status == 130) fprintf(stderr, "hak-tune: interrupted: no table\n");
    } else {
        session_lines(stdout);
        printf("- %d interleaved (default, profile) pairs each, alternating which runs first; "
               "default: %s; library: %s\n\n",
               opt.pairs, opt.default_path, opt.lib);
        fflush(stdout);
        char losers[2048] = "";
        size_t ll = 0;
        int nlosers = 0;
        for (int i = 0; i < nprofs && status == 0; i++) {
            const vprof_t *p = profs[i];
            char text[2048], wt[4096];
            vwork_t w = work_of(p);
            work_text(&w, wt, sizeof wt);
            progress("%s: workload %s (%s), objective %s", p->name,
                     ht_header_get(&p->h, "workload"), wt, ht_objective_name(p->objective));
            bool beats;
            if (!verify_one(&run, p, &beats, text, sizeof text)) {
                fprintf(stderr, "hak-tune: interrupted\n");
                status = 130;
                break;
            }
            printf("%s\n", text);
            fflush(stdout);
            if (!beats) {
                nlosers++;
                if (ll < sizeof losers)
                    ll += (size_t)snprintf(losers + ll, sizeof losers - ll, "%s%s", ll ? ", " : "",
                                           p->name);
            }
        }
        if (status == 0 && nlosers) {
            printf("\nhak-tune: %d of %d profiles do not beat the default on their own workload: "
                   "%s\n",
                   nlosers, nprofs, losers);
            status = 1;
        } else if (status == 0) {
            printf("\nhak-tune: all %d profiles beat the default on their own workload\n", nprofs);
        }
    }
    ht_runner_done(&run);
    for (int i = 0; i < nprofs; i++) {
        hr_metric_done(&profs[i]->metric);
        if (profs[i]->argv)
            for (int k = 0; k < profs[i]->argc; k++) free(profs[i]->argv[k]);
        free(profs[i]->argv);
        free(profs[i]);
        if (found) free(found[i]);
    }
    free(profs);
    free(found);
    free(paths);
    return status;
}
