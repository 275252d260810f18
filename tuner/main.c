/* main.c — hak-tune's command line: reads and checks the options, finds
 * the workload and libhakmem.so, and runs calibration, search and
 * confirmation in order, writing the profile, the log and the plot even
 * when the user stops it with Ctrl-C.
 *
 * Exit status: 0 a profile was written (tuned, or the default when nothing
 * was clearly better); 1 the default profile itself does not run, or a
 * file could not be written; 2 bad usage; 130 interrupted (the best profile
 * so far and the log are still written). */
#include "tune.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HT_INSTALL_LIBDIR
#define HT_INSTALL_LIBDIR "/usr/local/lib"
#endif
#ifndef HT_REL_LIBDIR
#define HT_REL_LIBDIR "lib"
#endif

volatile sig_atomic_t ht_stop;

static void on_signal(int sig) {
    (void)sig;
    ht_stop = 1;
}

void ht_trap_interrupts(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends hak-tune at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void usage(FILE *f) {
    fputs(
        "usage: hak-tune --bench NAME [--bench-args 'ARGS'] [options] [-o FILE]\n"
        "       hak-tune --cmd 'PROGRAM ARGS' [--metric REGEX | --metric wall] [options] [-o "
        "FILE]\n"
        "       hak-tune --verify [--cross | --list] [options] [PROFILE...]   (see --verify "
        "--help)\n"
        "\n"
        "Searches hakmem profiles for the one that maximises a workload's throughput while its\n"
        "kernel time stays under a cap (or minimises its peak RSS or kernel time while its\n"
        "throughput stays near the default's), and writes that profile. Each candidate runs\n"
        "with LD_PRELOAD=libhakmem.so and HAKMEM_CONFIG=candidate (strict), under a timeout; a\n"
        "run in which hakmem served nothing is refused. See tuner/README.md for the strategy.\n"
        "\n"
        "Workload (one of):\n"
        "  --bench NAME          a workload of bench/: larson (= larson-mid), larson-mid,\n"
        "                        larson-small, prodcons, churn, realloc, largeblocks\n"
        "  --bench-args 'ARGS'   its arguments instead of bench/README.md's (--larson-args is the\n"
        "                        same), e.g. --larson-args '2 2048 32768 10000 1 12345 4'\n"
        "  --bench-dir DIR       where the bench programs are (default: ../bench next to "
        "hak-tune)\n"
        "  --cmd 'PROGRAM ARGS'  any program; quotes and backslashes work as in a shell, nothing\n"
        "                        else does (use --cmd \"sh -c '...'\" for pipes or variables)\n"
        "  --metric REGEX        the number to maximise: the last match of REGEX (POSIX extended)\n"
        "                        in stdout, else stderr; its first group, or the whole match\n"
        "                        (default: 'Throughput = N')\n"
        "  --metric wall         maximise 1 / wall-clock seconds instead\n"
        "\n"
        "Budget and noise:\n"
        "  --max-evals N         candidate profiles to measure (default 40); the default's\n"
        "                        calibration and the final confirmation come on top\n"
        "  --time-budget S       stop searching early enough to finish in S seconds (suffix m, h;\n"
        "                        default 10m, so larson-mid's 5 s runs fit; 0: no limit)\n"
        "  --repeats N           runs per candidate (default 3); a candidate that could beat the\n"
        "                        best within the noise gets up to --max-repeats (default 2 x N)\n"
        "  --calibrate N         runs of the default that measure the noise (default 5)\n"
        "  --recheck N           run the default again after every N evaluations (default 5;\n"
        "                        0: never); the default's figures, which the caps' floor and\n"
        "                        every ratio use, are the median of its last --calibrate runs,\n"
        "                        so a machine that speeds up or slows down is followed\n"
        "  --confirm N           interleaved pairs (default, tuned) that decide the result\n"
        "                        (default 5)\n"
        "  --min-gain F          the confirmed median gain the tuned profile needs on the\n"
        "                        objective, else the default is written (default 0.02 = 2%; for\n"
        "                        rss and sys a ratio to the default of at most 1 / (1 + F))\n"
        "  --timeout S           kill a run after S seconds (default: 5 x the slowest\n"
        "                        calibration run, at least 10 s; calibration itself gets 600 s)\n"
        "\n"
        "Objective and constraints (each judged on the median over a candidate's repeats):\n"
        "  --objective NAME      throughput (default): maximise the metric, under the caps;\n"
        "                        rss: minimise the peak RSS of a run (memory-lean profile);\n"
        "                        sys: minimise the kernel (sys) seconds of a run; both keep the\n"
        "                        metric at least --min-throughput-frac x the default's\n"
        "  --min-throughput-frac F  with rss or sys: the metric's floor, a fraction of the\n"
        "                        default's calibrated median (default 0.9)\n"
        "  --max-sys-frac F      kernel time / (user + kernel time) of a run at most F (default\n"
        "                        0.05 for throughput; with rss only when given; not with sys)\n"
        "  --max-sys S           instead: kernel time at most S seconds a run\n"
        "  --max-rss MiB         peak RSS of a run at most MiB (throughput or sys; default none)\n"
        "\n"
        "Search:\n"
        "  --algorithm NAME      the NLopt algorithm for the numeric knobs (default LN_COBYLA,\n"
        "                        which handles the cap itself; others, e.g. LN_SBPLX, LN_BOBYQA,\n"
        "                        LN_NELDERMEAD, GN_ISRES, run inside AUGLAG, or AUGLAG:LN_xxx);\n"
        "                        'random' samples the whole space uniformly (the baseline)\n"
        "  --seed N              seeds every random choice (default 1)\n"
        "  --space FILE          fix or narrow knobs (libconfig): `knob = value;` fixes it,\n"
        "                        `knob = [low, high];` narrows a numeric knob,\n"
        "                        `knob = [\"a\", \"b\"];` restricts a choice\n"
        "  --print-space         print the search space (after --space) and exit\n"
        "\n"
        "Output:\n"
        "  -o, --output FILE     the profile (default tuned.cfg)\n"
        "  --log FILE            every run as JSON lines (default: FILE without .cfg + "
        ".runs.jsonl)\n"
        "  --resume              replay the runs in --log instead of making them again, then go "
        "on\n"
        "  --svg FILE            convergence and trade-off plot (default: FILE without .cfg + "
        ".svg)\n"
        "  --lib PATH            libhakmem.so (default: ../libhakmem/libhakmem.so next to\n"
        "                        hak-tune, else ../" HT_REL_LIBDIR "/libhakmem.so(.0), else\n"
        "                        " HT_INSTALL_LIBDIR "/libhakmem.so)\n"
        "  --quiet               no progress lines (the summary is still printed)\n"
        "  --help, --version\n"
        "\n"
        "Checking profiles:\n"
        "  --verify PROFILE...   re-measure each profile against the default on the workload its\n"
        "                        header names; exit 1 naming those that do not beat it\n"
        "                        (hak-tune --verify --help lists its options; --cross: every\n"
        "                        profile on every workload)\n"
        "\n"
        "Ctrl-C stops the search and still writes the best profile so far, the log and the plot\n"
        "(exit status 130).\n",
        f);
}

_Noreturn void ht_bad_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hak-tune: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see hak-tune --help)\n");
    va_end(ap);
    exit(2);
}

bool ht_is_opt(const char *arg, const char *name) {
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

const char *ht_value_of(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 >= argc) ht_bad_usage("%s needs a value", name);
    return argv[++*i];
}

long ht_int_opt(const char *name, const char *text, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "hak-tune: %s '%s': expected an integer from %ld to %ld\n", name, text, lo,
                hi);
        exit(2);
    }
    return v;
}

double ht_num_opt(const char *name, const char *text, double lo, double hi, bool suffixes) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (suffixes && end != text && (*end == 's' || *end == 'm' || *end == 'h') && !end[1]) {
        v *= *end == 'h' ? 3600 : *end == 'm' ? 60 : 1;
        end++;
    }
    if (errno || end == text || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "hak-tune: %s '%s': expected a number from %g to %g%s\n", name, text, lo,
                hi, suffixes ? " (seconds; suffix s, m or h allowed)" : "");
        exit(2);
    }
    return v;
}

bool ht_find_lib(const char *given, char *out, size_t cap) {
    char tried[3 * PATH_MAX];
    if (hr_find_lib(given, out, cap, tried, sizeof tried)) return true;
    fprintf(stderr, "hak-tune: libhakmem.so not found: tried %s; build it or pass --lib PATH\n",
            tried);
    return false;
}

bool ht_find_bench(const char *prog, const char *given_dir, char *out, size_t cap) {
    char dir[PATH_MAX], tried[2][PATH_MAX + 64];
    int n = 0;
    hr_self_dir(dir, sizeof dir);
    if (given_dir) {
        snprintf(tried[n++], sizeof tried[0], "%s/%s", given_dir, prog);
    } else {
        snprintf(tried[n++], sizeof tried[0], "%s/../bench/%s", dir, prog);
        snprintf(tried[n++], sizeof tried[0], "%s/%s", dir, prog);
    }
    for (int i = 0; i < n; i++) {
        char abs[PATH_MAX];
        if (realpath(tried[i], abs) && access(abs, X_OK) == 0) {
            snprintf(out, cap, "%s", abs);
            return true;
        }
    }
    fprintf(stderr,
            "hak-tune: the bench program '%s' was not found: tried %s%s%s; build bench/ or pass "
            "--bench-dir DIR (or use --cmd)\n",
            prog, tried[0], n > 1 ? " and " : "", n > 1 ? tried[1] : "");
    return false;
}

/* "tuned.cfg" + ".svg" -> "tuned.svg" */
static void derived_path(const char *out, const char *ext, char *buf, size_t cap) {
    size_t n = strlen(out);
    if (n > 4 && strcmp(out + n - 4, ".cfg") == 0) n -= 4;
    snprintf(buf, cap, "%.*s%s", (int)n, out, ext);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--verify") == 0) return ht_verify_main(argc, argv);
    static ht_tuner_t t;
    t.max_evals = 40;
    t.repeats = 3;
    t.max_repeats = 0;
    t.calib_runs = 5;
    t.confirm_pairs = 5;
    t.recheck_every = 5;
    t.time_budget = 600; /* the default budget ends within 10 minutes */
    t.max_sys_frac = 0.05;
    t.min_gain = 0.02;
    t.seed = 1;
    snprintf(t.algorithm, sizeof t.algorithm, "LN_COBYLA");
    t.stop = &ht_stop;
    const char *bench = NULL, *bench_args = NULL, *bench_dir = NULL, *cmd = NULL, *metric = NULL,
               *output = "tuned.cfg", *log_path = NULL, *svg_path = NULL, *lib = NULL,
               *space_file = NULL;
    bool resume = false, print_space = false, sys_frac_given = false, floor_given = false;
    t.min_tput_frac = 0.9;
    double timeout = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("hak-tune %s\n", HT_VERSION);
            return 0;
        } else if (ht_is_opt(a, "--bench")) {
            bench = ht_value_of(argc, argv, &i, "--bench");
        } else if (ht_is_opt(a, "--bench-args")) {
            bench_args = ht_value_of(argc, argv, &i, "--bench-args");
        } else if (ht_is_opt(a, "--larson-args")) {
            bench_args = ht_value_of(argc, argv, &i, "--larson-args");
        } else if (ht_is_opt(a, "--bench-dir")) {
            bench_dir = ht_value_of(argc, argv, &i, "--bench-dir");
        } else if (ht_is_opt(a, "--cmd")) {
            cmd = ht_value_of(argc, argv, &i, "--cmd");
        } else if (ht_is_opt(a, "--metric")) {
            metric = ht_value_of(argc, argv, &i, "--metric");
        } else if (ht_is_opt(a, "--output")) {
            output = ht_value_of(argc, argv, &i, "--output");
        } else if (strcmp(a, "-o") == 0) {
            output = ht_value_of(argc, argv, &i, "-o");
        } else if (ht_is_opt(a, "--log")) {
            log_path = ht_value_of(argc, argv, &i, "--log");
        } else if (ht_is_opt(a, "--svg")) {
            svg_path = ht_value_of(argc, argv, &i, "--svg");
        } else if (ht_is_opt(a, "--lib")) {
            lib = ht_value_of(argc, argv, &i, "--lib");
        } else if (ht_is_opt(a, "--space")) {
            space_file = ht_value_of(argc, argv, &i, "--space");
        } else if (ht_is_opt(a, "--max-evals")) {
            t.max_evals = (int)ht_int_opt("--max-evals", ht_value_of(argc, argv, &i, "--max-evals"),
                                          1, 100000);
        } else if (ht_is_opt(a, "--repeats")) {
            t.repeats =
                (int)ht_int_opt("--repeats", ht_value_of(argc, argv, &i, "--repeats"), 1, 1000);
        } else if (ht_is_opt(a, "--max-repeats")) {
            t.max_repeats = (int)ht_int_opt("--max-repeats",
                                            ht_value_of(argc, argv, &i, "--max-repeats"), 1, 1000);
        } else if (ht_is_opt(a, "--calibrate")) {
            t.calib_runs =
                (int)ht_int_opt("--calibrate", ht_value_of(argc, argv, &i, "--calibrate"), 2, 1000);
        } else if (ht_is_opt(a, "--recheck")) {
            t.recheck_every =
                (int)ht_int_opt("--recheck", ht_value_of(argc, argv, &i, "--recheck"), 0, 1000);
        } else if (ht_is_opt(a, "--confirm")) {
            t.confirm_pairs =
                (int)ht_int_opt("--confirm", ht_value_of(argc, argv, &i, "--confirm"), 1, 1000);
        } else if (ht_is_opt(a, "--time-budget")) {
            t.time_budget = ht_num_opt("--time-budget",
                                       ht_value_of(argc, argv, &i, "--time-budget"), 0, 1e7, true);
        } else if (ht_is_opt(a, "--timeout")) {
            timeout =
                ht_num_opt("--timeout", ht_value_of(argc, argv, &i, "--timeout"), 0.1, 1e6, true);
        } else if (ht_is_opt(a, "--max-sys-frac")) {
            t.max_sys_frac = ht_num_opt(
                "--max-sys-frac", ht_value_of(argc, argv, &i, "--max-sys-frac"), 1e-6, 1, false);
            sys_frac_given = true;
        } else if (ht_is_opt(a, "--max-sys")) {
            t.max_sys_s =
                ht_num_opt("--max-sys", ht_value_of(argc, argv, &i, "--max-sys"), 1e-6, 1e6, true);
            t.cap_seconds = true;
        } else if (ht_is_opt(a, "--objective")) {
            const char *v = ht_value_of(argc, argv, &i, "--objective");
            if (!ht_objective_parse(v, &t.objective)) {
                fprintf(stderr,
                        "hak-tune: --objective '%s': expected throughput, rss (minimise peak RSS) "
                        "or sys (minimise kernel time)\n",
                        v);
                return 2;
            }
        } else if (ht_is_opt(a, "--min-throughput-frac")) {
            t.min_tput_frac =
                ht_num_opt("--min-throughput-frac",
                           ht_value_of(argc, argv, &i, "--min-throughput-frac"), 0.01, 1, false);
            floor_given = true;
        } else if (ht_is_opt(a, "--max-rss")) {
            t.max_rss_mib = ht_num_opt("--max-rss", ht_value_of(argc, argv, &i, "--max-rss"), 0.001,
                                       1e9, false);
        } else if (ht_is_opt(a, "--min-gain")) {
            t.min_gain =
                ht_num_opt("--min-gain", ht_value_of(argc, argv, &i, "--min-gain"), 0, 10, false);
        } else if (ht_is_opt(a, "--algorithm")) {
            snprintf(t.algorithm, sizeof t.algorithm, "%s",
                     ht_value_of(argc, argv, &i, "--algorithm"));
        } else if (ht_is_opt(a, "--seed")) {
            t.seed = (unsigned long)ht_int_opt("--seed", ht_value_of(argc, argv, &i, "--seed"), 0,
                                               LONG_MAX);
        } else if (strcmp(a, "--resume") == 0) {
            resume = true;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            t.quiet = true;
        } else if (strcmp(a, "--print-space") == 0) {
            print_space = true;
        } else {
            ht_bad_usage("unknown option or stray argument '%s'", a);
        }
    }
    if (t.max_repeats == 0) t.max_repeats = 2 * t.repeats;
    if (t.max_repeats < t.repeats) t.max_repeats = t.repeats;
    if (sys_frac_given && t.cap_seconds)
        ht_bad_usage("--max-sys-frac and --max-sys both given: the cap is one or the other");
    const char *objname = ht_objective_name(t.objective);
    if (t.objective == HT_OBJ_THROUGHPUT && floor_given)
        ht_bad_usage("--min-throughput-frac goes with --objective rss or sys: the throughput "
                     "objective has no floor");
    if (t.objective == HT_OBJ_SYS && (sys_frac_given || t.cap_seconds))
        ht_bad_usage(
            "--objective sys minimises kernel time: --max-sys-frac and --max-sys do not go "
            "with it");
    if (t.objective == HT_OBJ_RSS && t.max_rss_mib > 0)
        ht_bad_usage("--objective rss minimises peak RSS: --max-rss does not go with it");
    /* The default cap is the throughput objective's; the others have the
     * floor, and take a kernel-time cap only when asked for one. */
    t.sys_cap = t.objective == HT_OBJ_THROUGHPUT || sys_frac_given || t.cap_seconds;

    ht_space_init(&t.space);
    if (space_file && !ht_space_load(&t.space, space_file)) return 2;
    if (print_space) {
        ht_space_print(&t.space, stdout);
        return 0;
    }
    char why[400];
    if (!ht_search_check_algorithm(t.algorithm, why, sizeof why)) {
        fprintf(stderr, "hak-tune: --algorithm: %s\n", why);
        return 2;
    }

    /* the workload */
    if (!bench == !cmd) ht_bad_usage("give one workload: --bench NAME or --cmd 'PROGRAM ARGS'");
    if (bench_args && !bench) ht_bad_usage("--bench-args goes with --bench, not --cmd");
    if (metric && bench)
        ht_bad_usage("--metric goes with --cmd: bench programs print 'Throughput = N'");
    char workload[600], full_cmd[8192], bench_line[4200] = "";
    const char *wl_name = "command";
    char prog_path[PATH_MAX];
    if (bench) {
        const hr_workload_t *b = hr_workload_find(bench);
        if (!b) {
            fprintf(stderr, "hak-tune: --bench '%s': unknown workload; expected one of", bench);
            for (int i = 0, n = 0; i < HR_NWORKLOADS; i++) {
                if (hr_workloads[i].alias)
                    fprintf(stderr, "%s %s", n++ ? "," : "", hr_workloads[i].alias);
                fprintf(stderr, "%s %s", n++ ? "," : "", hr_workloads[i].name);
            }
            fprintf(stderr, " (or use --cmd)\n");
            return 2;
        }
        const char *prog = b->args[0];
        char args[1024];
        hr_workload_args(b, NULL, args, sizeof args);
        if (!ht_find_bench(prog, bench_dir, prog_path, sizeof prog_path)) return 1;
        snprintf(full_cmd, sizeof full_cmd, "'%s' %s", prog_path, bench_args ? bench_args : args);
        ht_fmt(workload, sizeof workload, "%s (bench/%s %s)", bench_args ? prog : b->name, prog,
               bench_args ? bench_args : args);
        snprintf(bench_line, sizeof bench_line, "%s %s", prog, bench_args ? bench_args : args);
        /* The same arguments under another spelling are still that workload. */
        wl_name = !bench_args || strcmp(bench_args, args) == 0 ? b->name : "custom";
    } else {
        snprintf(full_cmd, sizeof full_cmd, "%s", cmd);
        snprintf(workload, sizeof workload, "command");
    }
    if (!ht_split_command(full_cmd, &t.runner.argv, &t.runner.argc, why, sizeof why)) {
        fprintf(stderr, "hak-tune: %s '%s': %s\n", bench ? "--bench-args" : "--cmd",
                bench ? (bench_args ? bench_args : "") : cmd, why);
        return 2;
    }
    if (!ht_find_lib(lib, t.runner.lib, sizeof t.runner.lib)) return 1;
    const char *tmpdir = getenv("TMPDIR");
    int rc = ht_runner_init(&t.runner, metric, tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (rc) return rc;
    t.runner.stop = &ht_stop;
    t.runner.timeout_s = timeout > 0 ? timeout : 600;

    char log_buf[4200], svg_buf[4200];
    if (!log_path) derived_path(output, ".runs.jsonl", log_buf, sizeof log_buf), log_path = log_buf;
    if (!svg_path) derived_path(output, ".svg", svg_buf, sizeof svg_buf), svg_path = svg_buf;
    char err[600];
    t.log = ht_log_open(log_path, resume, &t.runner, workload, objname, err, sizeof err);
    if (!t.log) {
        fprintf(stderr, "hak-tune: %s\n", err);
        ht_runner_done(&t.runner);
        return 2;
    }

    extern char **environ;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "HAKMEM_", 7) == 0 && !t.quiet)
            fprintf(stderr,
                    "hak-tune: note: %.*s is not passed to the runs (candidates set every "
                    "knob)\n",
                    (int)(strcspn(*e, "=")), *e);

    ht_trap_interrupts();

    char invocation[8192];
    ht_command_text(argv, argc, invocation, sizeof invocation);
    ht_origin_t origin = {wl_name, bench ? bench_line : NULL, full_cmd, invocation};
    ht_command_text(t.runner.argv, t.runner.argc, full_cmd, sizeof full_cmd);
    t.rng = t.seed * 0x9e3779b97f4a7c15ULL + 1;
    ht_profile_defaults(&t.defaults);
    t.t_start = hr_now();
    char cons[300];
    ht_constraints_text(&t, cons, sizeof cons);
    if (!t.quiet) {
        fprintf(stderr, "hak-tune: %s: %s\n", workload, full_cmd);
        fprintf(stderr,
                "hak-tune: objective %s (%s %s), subject to %s; %d evaluations x %d-%d runs, %s, "
                "seed %lu; log %s%s\n",
                objname, t.objective == HT_OBJ_THROUGHPUT ? "maximise" : "minimise",
                ht_obj_label(&t), cons, t.max_evals, t.repeats, t.max_repeats, t.algorithm, t.seed,
                log_path, resume ? " (resuming)" : "");
    }

    int status = 0;
    ht_confirm_t cf;
    memset(&cf, 0, sizeof cf);
    const ht_cand_t *winner = NULL;
    ht_profile_t chosen = t.defaults;
    char title[1200];

    if (!ht_calibrate(&t)) {
        if (t.interrupted) {
            fprintf(stderr,
                    "hak-tune: interrupted during calibration; writing the default profile\n");
            status = 130;
            goto write;
        }
        fprintf(stderr, "hak-tune: the default profile does not run: %s: %s\n",
                hr_status_name(t.def->st), t.def->reason);
        fprintf(stderr,
                "hak-tune: nothing to tune against; fix the command first "
                "(try it by hand with LD_PRELOAD=%s)\n",
                t.runner.lib);
        ht_log_close(t.log);
        ht_runner_done(&t.runner);
        return 1;
    }
    if (timeout <= 0) {
        double slowest = 0;
        for (int i = 0; i < t.def->nruns; i++)
            if (t.def->runs[i].wall > slowest) slowest = t.def->runs[i].wall;
        t.runner.timeout_s = fmax(10, 5 * slowest);
    }
    /* rusage splits CPU time between user and kernel by sampling the
     * scheduler tick (4 ms at the usual HZ=250): on a short run the split
     * comes in steps of a whole tick. */
    double cpu = t.def->user + t.def->sys;
    if (cpu < 0.1 && (t.sys_cap || t.objective == HT_OBJ_SYS))
        fprintf(stderr,
                "hak-tune: warning: a run of the default uses %.0f ms of CPU time; the kernel "
                "splits it between user and sys by the tick, so its sys fraction moves in steps "
                "of about %.0f%% and kernel time is judged on noise: give the workload more work "
                "per run\n",
                1000 * cpu, cpu > 0.004 ? 100 * 0.004 / cpu : 100.0);
    if (!t.quiet) {
        char m[32], broken[300] = "";
        ht_fmt_metric(t.def->metric, m, sizeof m);
        ht_fig_t df = ht_cand_fig(t.def);
        ht_excess_text(&t, &df, t.def->metric, broken, sizeof broken);
        fprintf(stderr,
                "calibration: default %s (median of %d), sys fraction %.3f, sys %.2fs, peak RSS "
                "%.1f MiB; noise of %s %.1f%% a run%s%s; timeout %.0fs\n",
                m, t.def->nruns, t.def->sysfrac, t.def->sys, t.def->rss_kb / 1024, ht_obj_label(&t),
                100 * t.noise, broken[0] ? " -- the DEFAULT BREAKS " : "", broken,
                t.runner.timeout_s);
    }

    ht_search(&t);
    winner = t.best;
    if (t.interrupted) {
        status = 130;
        if (winner) chosen = winner->p;
        fprintf(stderr, "hak-tune: interrupted: writing the best profile so far (not confirmed)\n");
        goto write;
    }
    if (winner == NULL) {
        const ht_cand_t *least = NULL;
        for (int i = 0; i < t.ncands; i++)
            if (t.cands[i]->violates && (!least || t.cands[i]->excess < least->excess))
                least = t.cands[i];
        char broken[300] = "";
        if (least) {
            ht_fig_t lf = ht_cand_fig(least);
            ht_excess_text(&t, &lf, t.def->metric, broken, sizeof broken);
        }
        ht_fmt(cf.verdict, sizeof cf.verdict,
               "no candidate met the constraints (%s), not even the default; the closest was "
               "evaluation %d (%s): writing the default; loosen them to tune",
               cons, least ? least->eval : 0, least ? broken : "none ran");
    } else if (winner == t.def) {
        snprintf(cf.verdict, sizeof cf.verdict,
                 "no candidate beat the default in the search: writing the default");
    } else {
        /* Constraints are judged on noisy runs: a winner on the edge of one
         * can pass in the search and fail in confirmation. Then the best
         * candidate clearly inside them all gets one confirmation of its
         * own. */
        ht_cand_t *w = (ht_cand_t *)winner;
        const ht_cand_t *tried = NULL; /* the first one confirmed */
        char first_fail[200] = "";
        enum { ATTEMPTS = 2 };
        for (int attempt = 0; attempt < ATTEMPTS && w; attempt++) {
            if (!tried) tried = w;
            if (!t.quiet)
                fprintf(stderr, "confirming evaluation %d against the default\n", w->eval);
            ht_confirm(&t, w, &cf);
            winner = w;
            if (t.interrupted) {
                status = 130;
                chosen = w->p;
                break;
            }
            if (cf.adopted) chosen = w->p;
            if (first_fail[0]) {
                char v[sizeof cf.verdict];
                ht_fmt(v, sizeof v, "%s; %s", first_fail, cf.verdict);
                ht_fmt(cf.verdict, sizeof cf.verdict, "%s", v);
            }
            if (cf.adopted || !cf.w_ok || cf.w_feasible || attempt + 1 == ATTEMPTS) break;
            char broken[300] = "";
            ht_fig_t wf = {cf.ratio_med, cf.w_sysfrac, cf.w_sys, cf.w_rss};
            ht_excess_text(&t, &wf, 1, broken, sizeof broken);
            ht_fmt(first_fail, sizeof first_fail,
                   "evaluation %d broke a constraint in confirmation (%s)", w->eval, broken);
            ht_cand_t *next = NULL;
            for (int i = 0; i < t.ncands; i++) {
                ht_cand_t *c = t.cands[i];
                if (c == w || c == tried || c == t.def || !ht_clearly_feasible(&t, c)) continue;
                if (!next || ht_obj_gain(&t, c->obj, next->obj) > 1) next = c;
            }
            /* Only one that is itself better than the default is worth it. */
            if (next && !(ht_obj_gain(&t, next->obj, t.def->obj) > 1)) next = NULL;
            if (next && !t.quiet)
                fprintf(stderr,
                        "hak-tune: %s; confirming evaluation %d, clearly inside the "
                        "constraints\n",
                        first_fail, next->eval);
            w = next;
        }
    }

write:
    ht_fmt(title, sizeof title, "hak-tune: %s, objective %s, %s, %d evaluations, %s", workload,
           objname, cons, t.evals, t.algorithm);
    if (!ht_write_profile(&t, output, &chosen, winner, &cf, &origin)) status = status ? status : 1;
    const ht_cand_t *chosen_c = ht_find(&t, &chosen);
    if (!ht_write_svg(&t, svg_path, chosen_c, title)) {
        fprintf(stderr, "hak-tune: cannot write %s: %s\n", svg_path, strerror(errno));
        status = status ? status : 1;
    }
    ht_summary(&t, &cf, stdout);
    printf("wrote %s (%s), log %s, plot %s\n", output,
           ht_profile_equal(&chosen, &t.defaults) ? "the default profile" : "the tuned profile",
           log_path, svg_path);
    fflush(stdout);
    ht_log_close(t.log);
    ht_runner_done(&t.runner);
    return status;
}
