/* main.c — hak-tune's command line: reads and checks the options, finds
 * the workload (a command, a bench program, or a server and its client)
 * and libhakmem.so, and runs calibration, search, what mattered and
 * confirmation in order, writing the profile, the log, the plot and the
 * report even when the user stops it with Ctrl-C; --front hands the
 * calibrated tuner to front.c.
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
        "       hak-tune --server 'SERVER {port}' --client 'CLIENT {port}' --metric REGEX "
        "[options]\n"
        "       hak-tune --verify [--cross | --list] [options] [PROFILE...]   (see --verify "
        "--help)\n"
        "\n"
        "Searches hakmem profiles for the one that maximises a workload's throughput while its\n"
        "kernel time stays no higher than the default profile's own (or minimises its peak RSS\n"
        "or kernel time while its throughput stays near the default's), and writes that\n"
        "profile. Each candidate runs with LD_PRELOAD=libhakmem.so and HAKMEM_CONFIG=candidate\n"
        "(strict), under a timeout; a run in which hakmem served nothing is refused. The\n"
        "default's own counters choose which knobs are tried first. See tuner/README.md.\n"
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
        "  --metric wall         maximise 1 / wall-clock seconds instead; a run that takes longer\n"
        "                        than the best's time x (1 + --cap-margin) is stopped, \"capped\"\n"
        "  --server 'SERVER ARGS'  a server to tune, driven by --client: started afresh for each\n"
        "                        run on a free port ({port} in either command is replaced by it),\n"
        "                        waited for until it accepts connections on 127.0.0.1, stopped\n"
        "                        with SIGTERM after the client ends; only the server is "
        "preloaded,\n"
        "                        its CPU times and peak RSS are measured, and it must exit "
        "normally\n"
        "                        on SIGTERM (its hakmem stats prove it served)\n"
        "  --client 'CLIENT ARGS'  the load generator; --metric is read from its output; a client\n"
        "                        that fails fails the candidate, a server that dies crashes it\n"
        "\n"
        "Budget and noise:\n"
        "  --max-evals N         candidate profiles to measure (default 40); the default's\n"
        "                        calibration and the final confirmation come on top\n"
        "  --time-budget S       stop searching early enough to finish in S seconds (suffix m, h;\n"
        "                        default 10m, so larson-mid's 5 s runs fit; 0: no limit)\n"
        "  --repeats N           runs per candidate (default: by the noise of the default's runs:\n"
        "                        1 under 2.5%, 2 under 5%, else 3); a candidate that could beat\n"
        "                        the best within the noise gets up to --max-repeats (2 x N)\n"
        "  --calibrate N         runs of the default that measure the noise (default 5, of which\n"
        "                        the last 2 only when the first 3 spread by more than 2.5%)\n"
        "  --recheck N           run the default again after every N evaluations (default 5;\n"
        "                        0: never); the default's figures, which the caps' floor and\n"
        "                        every ratio use, are the median of its last --calibrate runs,\n"
        "                        so a machine that speeds up or slows down is followed\n"
        "  --confirm N           interleaved pairs (default, tuned) that decide the result\n"
        "                        (default 5, or 3 when the tuned profile wins all three by more\n"
        "                        than --min-gain plus twice the noise)\n"
        "  --cap-margin F        --metric wall: stop a search run at the best's wall time x\n"
        "                        (1 + F) and record it as capped (default: the larger of 0.2 and\n"
        "                        3 x the noise; 0: never)\n"
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
        "  --max-sys-frac F      kernel time / (user + kernel time) of a run at most F; without "
        "it\n"
        "                        or --max-sys, throughput is searched with kernel time no higher\n"
        "                        than the default's own median (its share; its seconds with\n"
        "                        --metric wall) plus a tolerance for its noise; with rss only "
        "when\n"
        "                        given; not with sys. A default that breaks a cap given is said\n"
        "                        so, and the search first looks for profiles that meet it\n"
        "  --max-sys S           instead: kernel time at most S seconds a run\n"
        "  --max-rss MiB         peak RSS of a run at most MiB (throughput or sys; default none)\n"
        "\n"
        "The trade-off front:\n"
        "  --front rss|sys       maximise throughput under a series of bounds on peak RSS (or\n"
        "                        kernel seconds), each bound's winner confirmed; writes one "
        "profile\n"
        "                        per point (FILE-rss-N.cfg), a table (FILE.front.md) and a plot\n"
        "                        (FILE.front.svg) with glibc, mimalloc, jemalloc and tcmalloc\n"
        "                        measured on the same workload\n"
        "  --front-points LIST   the bounds, as fractions of the default's median (default\n"
        "                        0.6,0.8,1,1.25,1.6)\n"
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
        "  --no-guide            do not let the default's counters choose which knobs go first\n"
        "  --print-guide         run the default once, print the rules its counters fire and the\n"
        "                        knobs they put first, and exit\n"
        "  --print-rules         print the guide's rules as a markdown table and exit\n"
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
        "  --report DIR          also write DIR/index.html: the plots, the ranked table, the "
        "verdict\n"
        "                        with its pairs and what mattered; static, no scripts, no network\n"
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

/* "0.6,0.8,1" into FRACS; false when it is not such a list. */
static int parse_fracs(const char *text, double *fracs, int max) {
    int n = 0;
    const char *s = text;
    while (*s && n < max) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !isfinite(v) || v <= 0 || v > 100) return 0;
        fracs[n++] = v;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return 0;
    }
    return *s ? 0 : n;
}

/* What the header and the verdict say when nothing was confirmed: why,
 * never a verdict about a search that did not run. */
static void unconfirmed_verdict(ht_tuner_t *t, ht_confirm_t *cf, const char *cons, int planned) {
    if (t->evals == 0)
        ht_fmt(cf->verdict, sizeof cf->verdict,
               "the search did not run: %s (%d evaluations planned); writing the default "
               "untuned",
               t->max_evals == 0 ? "no evaluation was allowed"
               : planned == 0    ? "the time budget had no room for one evaluation after the "
                                   "calibration and the confirmation it must leave time for"
                                 : "it was stopped before its first evaluation",
               planned);
    else if (!t->best)
        ht_fmt(cf->verdict, sizeof cf->verdict,
               "no candidate met the constraints (%s), not even the default, and none came "
               "clearly closer in %d evaluations: writing the default",
               cons, t->evals);
    else
        ht_fmt(cf->verdict, sizeof cf->verdict,
               "no candidate beat the default in %d evaluations: writing the default", t->evals);
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
    t.cap_margin = -1;
    t.guided = true;
    t.repeats_auto = t.calib_auto = t.confirm_auto = true;
    snprintf(t.algorithm, sizeof t.algorithm, "LN_COBYLA");
    t.stop = &ht_stop;
    const char *bench = NULL, *bench_args = NULL, *bench_dir = NULL, *cmd = NULL, *metric = NULL,
               *output = "tuned.cfg", *log_path = NULL, *svg_path = NULL, *lib = NULL,
               *space_file = NULL, *server = NULL, *client = NULL, *front = NULL,
               *front_points = NULL, *report_dir = NULL;
    bool resume = false, print_space = false, sys_frac_given = false, floor_given = false;
    bool print_guide = false, print_rules = false;
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
        } else if (ht_is_opt(a, "--server")) {
            server = ht_value_of(argc, argv, &i, "--server");
        } else if (ht_is_opt(a, "--client")) {
            client = ht_value_of(argc, argv, &i, "--client");
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
        } else if (ht_is_opt(a, "--report")) {
            report_dir = ht_value_of(argc, argv, &i, "--report");
        } else if (ht_is_opt(a, "--lib")) {
            lib = ht_value_of(argc, argv, &i, "--lib");
        } else if (ht_is_opt(a, "--space")) {
            space_file = ht_value_of(argc, argv, &i, "--space");
        } else if (ht_is_opt(a, "--front-points")) {
            front_points = ht_value_of(argc, argv, &i, "--front-points");
        } else if (ht_is_opt(a, "--front")) {
            front = ht_value_of(argc, argv, &i, "--front");
        } else if (ht_is_opt(a, "--max-evals")) {
            t.max_evals = (int)ht_int_opt("--max-evals", ht_value_of(argc, argv, &i, "--max-evals"),
                                          1, 100000);
        } else if (ht_is_opt(a, "--repeats")) {
            t.repeats =
                (int)ht_int_opt("--repeats", ht_value_of(argc, argv, &i, "--repeats"), 1, 1000);
            t.repeats_auto = false;
        } else if (ht_is_opt(a, "--max-repeats")) {
            t.max_repeats = (int)ht_int_opt("--max-repeats",
                                            ht_value_of(argc, argv, &i, "--max-repeats"), 1, 1000);
            t.repeats_auto = false;
        } else if (ht_is_opt(a, "--calibrate")) {
            t.calib_runs =
                (int)ht_int_opt("--calibrate", ht_value_of(argc, argv, &i, "--calibrate"), 2, 1000);
            t.calib_auto = false;
        } else if (ht_is_opt(a, "--recheck")) {
            t.recheck_every =
                (int)ht_int_opt("--recheck", ht_value_of(argc, argv, &i, "--recheck"), 0, 1000);
        } else if (ht_is_opt(a, "--confirm")) {
            t.confirm_pairs =
                (int)ht_int_opt("--confirm", ht_value_of(argc, argv, &i, "--confirm"), 1, 1000);
            t.confirm_auto = false;
        } else if (ht_is_opt(a, "--time-budget")) {
            t.time_budget = ht_num_opt("--time-budget",
                                       ht_value_of(argc, argv, &i, "--time-budget"), 0, 1e7, true);
        } else if (ht_is_opt(a, "--timeout")) {
            timeout =
                ht_num_opt("--timeout", ht_value_of(argc, argv, &i, "--timeout"), 0.1, 1e6, true);
        } else if (ht_is_opt(a, "--cap-margin")) {
            t.cap_margin = ht_num_opt("--cap-margin", ht_value_of(argc, argv, &i, "--cap-margin"),
                                      0, 100, false);
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
        } else if (strcmp(a, "--no-guide") == 0) {
            t.guided = false;
        } else if (strcmp(a, "--print-guide") == 0) {
            print_guide = true;
        } else if (strcmp(a, "--print-rules") == 0) {
            print_rules = true;
        } else {
            ht_bad_usage("unknown option or stray argument '%s'", a);
        }
    }
    if (print_rules) {
        ht_guide_rules_table(stdout);
        return 0;
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
    ht_front_opts_t fo = {.kind = front};
    if (front) {
        if (strcmp(front, "rss") != 0 && strcmp(front, "sys") != 0)
            ht_bad_usage("--front '%s': expected rss (bounds on peak RSS) or sys (bounds on "
                         "kernel seconds)",
                         front);
        if (t.objective != HT_OBJ_THROUGHPUT)
            ht_bad_usage("--front maximises throughput under each bound: --objective %s does not "
                         "go with it",
                         objname);
        if ((strcmp(front, "rss") == 0 && t.max_rss_mib > 0) ||
            (strcmp(front, "sys") == 0 && (sys_frac_given || t.cap_seconds)))
            ht_bad_usage("--front %s sets its own bounds on %s: drop %s", front,
                         strcmp(front, "rss") == 0 ? "peak RSS" : "kernel time",
                         strcmp(front, "rss") == 0 ? "--max-rss" : "--max-sys-frac/--max-sys");
        fo.nfracs = parse_fracs(front_points ? front_points : "0.6,0.8,1,1.25,1.6", fo.fracs, 16);
        if (fo.nfracs == 0)
            ht_bad_usage("--front-points '%s': expected up to 16 fractions of the default's "
                         "median, comma-separated, e.g. 0.6,0.8,1,1.25",
                         front_points);
    } else if (front_points) {
        ht_bad_usage("--front-points goes with --front rss or --front sys");
    }
    /* The default kernel-time constraint is the default profile's own
     * figure: a program that spends 43 % of its CPU time in the kernel under
     * the default must not be refused every candidate by a cap measured on
     * another program. An absolute cap applies only when the user gives
     * one. */
    t.sys_cap = t.objective == HT_OBJ_THROUGHPUT || sys_frac_given || t.cap_seconds;
    t.sys_rel = t.objective == HT_OBJ_THROUGHPUT && !sys_frac_given && !t.cap_seconds;
    if (front && (strcmp(front, "rss") == 0 || strcmp(front, "sys") == 0) && t.sys_rel)
        t.sys_cap = t.sys_rel = false; /* the front is one trade-off at a time */

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
    if (server || client) {
        if (!server || !client)
            ht_bad_usage("--server and --client go together: the server to tune and the client "
                         "that drives it");
        if (bench || cmd)
            ht_bad_usage("--server/--client is the workload: --bench and --cmd do not go with it");
        if (!metric)
            ht_bad_usage("--server needs --metric REGEX (or wall): the figure to read from the "
                         "client's output, e.g. --metric 'GET: ([0-9.]+) requests per second'");
    } else if (!bench == !cmd) {
        ht_bad_usage("give one workload: --bench NAME, --cmd 'PROGRAM ARGS' or --server with "
                     "--client");
    }
    if (bench_args && !bench) ht_bad_usage("--bench-args goes with --bench, not --cmd");
    if (metric && bench)
        ht_bad_usage("--metric goes with --cmd: bench programs print 'Throughput = N'");
    char workload[600], full_cmd[8192], bench_line[4200] = "", server_cmd[8192] = "";
    const char *wl_name = server ? "server" : "command";
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
        snprintf(full_cmd, sizeof full_cmd, "%s", server ? client : cmd);
        snprintf(workload, sizeof workload, "%s", server ? "server" : "command");
    }
    if (!ht_split_command(full_cmd, &t.runner.argv, &t.runner.argc, why, sizeof why)) {
        fprintf(stderr, "hak-tune: %s '%s': %s\n",
                bench    ? "--bench-args"
                : server ? "--client"
                         : "--cmd",
                bench ? (bench_args ? bench_args : "") : full_cmd, why);
        return 2;
    }
    if (server) {
        if (!ht_split_command(server, &t.runner.server_argv, &t.runner.server_argc, why,
                              sizeof why)) {
            fprintf(stderr, "hak-tune: --server '%s': %s\n", server, why);
            return 2;
        }
        if (!hr_has_port((const char *const *)t.runner.server_argv) ||
            !hr_has_port((const char *const *)t.runner.argv))
            ht_bad_usage("--server and --client each need {port} where the port goes (a free one "
                         "is chosen for every run), e.g. --server 'redis-server --port {port}'");
    }
    if (!ht_find_lib(lib, t.runner.lib, sizeof t.runner.lib)) return 1;
    const char *tmpdir = getenv("TMPDIR");
    int rc = ht_runner_init(&t.runner, metric, tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (rc) return rc;
    t.runner.stop = &ht_stop;
    t.runner.timeout_s = timeout > 0 ? timeout : 600;
    /* Capping needs a metric that is the run's time. */
    t.capping = t.runner.metric.kind == HR_METRIC_WALL && t.objective == HT_OBJ_THROUGHPUT &&
                t.cap_margin != 0;
    /* A program that does fixed work (--metric wall) spends its kernel
     * time per run, whatever its speed: its relative cap is in seconds,
     * since a faster profile with the same kernel seconds has a larger
     * share of a shorter run. */
    if (t.sys_rel && t.runner.metric.kind == HR_METRIC_WALL) t.cap_seconds = true;

    char log_buf[4200], svg_buf[4200];
    if (!log_path) derived_path(output, ".runs.jsonl", log_buf, sizeof log_buf), log_path = log_buf;
    if (!svg_path) derived_path(output, ".svg", svg_buf, sizeof svg_buf), svg_path = svg_buf;
    char err[600];
    if (server) {
        ht_command_text(t.runner.server_argv, t.runner.server_argc, server_cmd, sizeof server_cmd);
        size_t n = strlen(workload);
        ht_fmt(workload + n, sizeof workload - n, " %s", server_cmd);
    }
    /* --print-guide measures the default once and writes nothing. */
    t.log = print_guide
                ? NULL
                : ht_log_open(log_path, resume, &t.runner, workload, objname, err, sizeof err);
    if (!t.log && !print_guide) {
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
    ht_origin_t origin = {
        wl_name, bench ? bench_line : NULL, full_cmd, server ? server_cmd : NULL, invocation, NULL};
    ht_command_text(t.runner.argv, t.runner.argc, full_cmd, sizeof full_cmd);
    t.rng = t.seed * 0x9e3779b97f4a7c15ULL + 1;
    ht_profile_defaults(&t.defaults);
    t.t_start = hr_now();
    char cons[400];
    ht_constraints_text(&t, cons, sizeof cons);
    if (!t.quiet) {
        fprintf(stderr, "hak-tune: %s: %s\n", workload, full_cmd);
        fprintf(stderr,
                "hak-tune: objective %s (%s %s), subject to %s; %d evaluations, %s, seed %lu; log "
                "%s%s\n",
                objname, t.objective == HT_OBJ_THROUGHPUT ? "maximise" : "minimise",
                ht_obj_label(&t), cons, t.max_evals, t.algorithm, t.seed, log_path,
                resume ? " (resuming)" : "");
    }
    if (print_guide) t.calib_runs = 1, t.calib_auto = false;

    int status = 0;
    ht_confirm_t cf;
    memset(&cf, 0, sizeof cf);
    const ht_cand_t *winner = NULL;
    ht_profile_t chosen = t.defaults;
    char title[1200];
    int planned = t.max_evals;

    if (!ht_calibrate(&t)) {
        if (t.interrupted) {
            fprintf(stderr,
                    "hak-tune: interrupted during calibration; writing the default profile\n");
            status = 130;
            ht_fmt(cf.verdict, sizeof cf.verdict,
                   "interrupted during calibration: the search did not run; writing the default");
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
    if (print_guide) {
        ht_guide_print(&t.guide, stdout);
        ht_log_close(t.log);
        ht_runner_done(&t.runner);
        return 0;
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
    ht_constraints_text(&t, cons, sizeof cons);
    if (!t.quiet) {
        char m[32];
        ht_fmt_metric(t.def->metric, m, sizeof m);
        fprintf(stderr,
                "calibration: default %s (median of %d), sys fraction %.3f, sys %.2fs, peak RSS "
                "%.1f MiB; noise of %s %.1f%% a run; timeout %.0fs; constraints: %s\n",
                m, t.def->nruns, t.def->sysfrac, t.def->sys, t.def->rss_kb / 1024, ht_obj_label(&t),
                100 * t.noise, t.runner.timeout_s, cons);
        ht_guide_print(&t.guide, stderr);
    }
    if (t.def->violates) {
        /* Said plainly, with the figure; the search then ranks candidates
         * by how far they break it until one meets it. */
        char broken[300];
        ht_fig_t df = ht_cand_fig(t.def), ref = ht_ref(&t);
        ht_excess_text(&t, &df, &ref, broken, sizeof broken);
        fprintf(stderr,
                "hak-tune: the default breaks a constraint: %s (median of its %d runs); the "
                "search first looks for profiles that meet it, ranked by how far they break it, "
                "then for the %s among those\n",
                broken, t.def->nruns, ht_obj_label(&t));
    }
    planned = ht_plan(&t, t.quiet ? NULL : stderr);
    if (front) {
        char fsvg[4200];
        derived_path(output, ".front.svg", fsvg, sizeof fsvg);
        fo.output = output;
        fo.svg = fsvg;
        fo.report = report_dir;
        status = ht_front(&t, &fo, &origin);
        ht_log_close(t.log);
        ht_runner_done(&t.runner);
        return status;
    }

    ht_search(&t);
    if (t.best && t.best != t.def && !t.interrupted) ht_what_mattered(&t, t.best);
    winner = t.best;
    if (t.interrupted) {
        status = 130;
        if (winner) chosen = winner->p;
        fprintf(stderr, "hak-tune: interrupted: writing the best profile so far (not confirmed)\n");
        goto write;
    }
    if (winner == NULL) {
        /* Nothing meets the constraints: the one that comes closest, when
         * it is clearly closer than the default, gets the confirmation. */
        ht_cand_t *least = ht_least_excess(&t);
        if (least && least != t.def && least->excess < 0.9 * t.def->excess) {
            if (!t.quiet)
                fprintf(stderr,
                        "hak-tune: no candidate met the constraints; evaluation %d comes closest: "
                        "confirming it against the default\n",
                        least->eval);
            ht_confirm(&t, least, &cf);
            winner = least;
            if (t.interrupted) status = 130;
            if (cf.adopted || t.interrupted) chosen = least->p;
        } else {
            unconfirmed_verdict(&t, &cf, cons, planned);
        }
    } else if (winner == t.def) {
        unconfirmed_verdict(&t, &cf, cons, planned);
    } else {
        /* Constraints are judged on noisy runs: a winner on the edge of one
         * can pass in the search and fail in confirmation. Then the best
         * candidate clearly inside them all gets one confirmation of its
         * own. */
        ht_cand_t *w = (ht_cand_t *)winner;
        const ht_cand_t *tried = NULL; /* the first one confirmed */
        char first_fail[300] = "";
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
            ht_fig_t df = {1, cf.d_sysfrac, cf.d_sys, cf.d_rss};
            ht_excess_text(&t, &wf, &df, broken, sizeof broken);
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
    if (report_dir) {
        ht_report_t rep = {title, output, svg_path, NULL, NULL, &origin, chosen_c};
        if (!ht_write_report(&t, report_dir, &cf, &rep)) status = status ? status : 1;
    }
    printf("wrote %s (%s), log %s, plot %s%s%s%s\n", output,
           ht_profile_equal(&chosen, &t.defaults) ? "the default profile" : "the tuned profile",
           log_path, svg_path, report_dir ? ", report " : "", report_dir ? report_dir : "",
           report_dir ? "/index.html" : "");
    fflush(stdout);
    ht_log_close(t.log);
    ht_runner_done(&t.runner);
    return status;
}
