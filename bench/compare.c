/* compare.c — the side-by-side comparison: runs each workload under glibc,
 * hakmem and every installed peer allocator, interleaved and repeated, and
 * reports medians and spreads as a markdown table (stdout), CSV files and a
 * hand-drawn SVG chart of throughput relative to glibc.
 *
 * The machine is shared and noisy, so a figure only means something as a
 * ratio against peers measured in the same session, interleaved, as a
 * median of several runs; every run, failed or not, is kept and shown. */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ALLOCS 8

/* ---- what is compared ---------------------------------------------------- */

typedef struct {
    const char *name;
    const char *lib;     /* preloaded library; NULL for glibc */
    const char *package; /* Debian package, for peers */
    const char *color;   /* chart colour */
    bool peer;           /* counts for "best peer" */
    bool hakmem;
} alloc_t;

typedef struct {
    int workload, alloc, repeat;
    hr_result_t m;
    double live; /* the workload's "Peak live = N bytes"; NAN when it says none */
    char *log;   /* this run's output file; NULL when it could not be written */
} run_t;

typedef struct {
    int runs, ok;
    tally_t tally;
    double median, min, max, user_s, sys_s;
    long peak_rss_kib;
    /* Where the workload reports its live bytes (their most depends on the
     * allocator's speed): the largest of the runs, and the largest peak RSS
     * beyond them, the part of peak RSS that is the allocator's; -1: none. */
    long live_kib, beyond_live_kib;
    double ratio_glibc, ratio_best; /* NAN when undefined */
    /* Paired: in each repeat, the throughput over the best other peer's in
     * the same repeat; the median and range of those (NAN: no pair). A slow
     * spell of the machine hits both sides of a pair, where medians taken
     * apart may each catch a different one. */
    int pairs;
    double paired, paired_min, paired_max;
} summary_t;

/* ---- options --------------------------------------------------------------- */

static struct {
    const char *lib;
    const char *profile;
    const char *out_dir;
    const char *bin_dir;
    const char *seconds;
    int repeats;
    double timeout_s;
    bool no_hakmem;
} opt = {.out_dir = "compare-out", .repeats = 5, .timeout_s = 60};

static alloc_t g_allocs[MAX_ALLOCS];
static int g_nallocs;
static int g_wl[HR_NWORKLOADS];
static int g_nwl;
static char g_bin_dir[PATH_MAX];
static hr_session_t g_session;
static char g_missing[256];  /* " pkg pkg" of the peers not installed */
static hr_metric_t g_metric; /* every workload prints its throughput */
static hr_metric_t g_live;   /* some print their peak live bytes too */

static void usage(FILE *f) {
    fprintf(f,
            "usage: compare [OPTIONS] WORKLOAD...\n"
            "\n"
            "Runs each WORKLOAD under glibc (no preload), hakmem (LD_PRELOAD) and every\n"
            "installed peer (mimalloc, jemalloc, tcmalloc), interleaved: for each repeat,\n"
            "every allocator runs once in turn. Prints a markdown table per workload on\n"
            "stdout, one progress line per run on stderr, and writes runs.csv,\n"
            "summary.csv, summary.md, ratios.svg and logs/ (each run's output) to --out.\n"
            "\n"
            "Options:\n"
            "  --lib PATH       libhakmem.so to preload (default: ../libhakmem/libhakmem.so\n"
            "                   relative to the directory holding this compare binary)\n"
            "  --profile FILE   hakmem profile, passed as HAKMEM_CONFIG to hakmem runs only\n"
            "                   (without it, hakmem runs inherit HAKMEM_* from the environment)\n"
            "  --no-hakmem      compare glibc and the peers only\n"
            "  --repeats N      runs per allocator and workload (default 5)\n"
            "  --timeout S      kill a run after S seconds (default 60)\n"
            "  --seconds S      override every workload's duration (default: as listed)\n"
            "  --out DIR        where CSV, SVG and logs go (default ./compare-out)\n"
            "  --bin-dir DIR    where the workload programs are (default: compare's own dir)\n"
            "  --help           this text\n"
            "\n"
            "Workloads ('all' selects every one):\n");
    workloads_usage(f);
    fprintf(f, "\n"
               "Per allocator: median throughput, min-max, median user and sys seconds, peak\n"
               "RSS (from wait4), and the ratio of the median to glibc's and to the best\n"
               "peer's (highest median among glibc, mimalloc, jemalloc, tcmalloc). Summaries\n"
               "use the runs that succeeded; a run that crashed, timed out, printed no\n"
               "throughput or whose preload failed is listed with its status, never dropped.\n"
               "Exit status: 0 when every run was made (whatever their status), 1 on errors,\n"
               "2 on bad usage, 130 when interrupted (results so far are still written).\n");
}

static void parse_args(int argc, char **argv) {
    const text_opt_t texts[] = {{"--lib", &opt.lib},
                                {"--profile", &opt.profile},
                                {"--out", &opt.out_dir},
                                {"--bin-dir", &opt.bin_dir},
                                {NULL, NULL}};
    bool chosen[HR_NWORKLOADS] = {false};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (driver_option(argc, argv, &i, usage, texts)) continue;
        if (strcmp(a, "--no-hakmem") == 0) {
            opt.no_hakmem = true;
        } else if (is_opt(a, "--repeats")) {
            if (!parse_repeats(need_value(argc, argv, &i, "--repeats"), &opt.repeats)) {
                fprintf(stderr, "compare: --repeats must be an integer from 1 to 1000\n");
                exit(2);
            }
        } else if (is_opt(a, "--timeout")) {
            if (!parse_duration(need_value(argc, argv, &i, "--timeout"), &opt.timeout_s)) {
                fprintf(stderr, "compare: --timeout must be seconds > 0\n");
                exit(2);
            }
        } else if (is_opt(a, "--seconds")) {
            double t;
            opt.seconds = need_value(argc, argv, &i, "--seconds");
            if (!parse_duration(opt.seconds, &t)) {
                fprintf(stderr, "compare: --seconds must be a duration > 0\n");
                exit(2);
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "compare: unknown option '%s' (see --help)\n", a);
            exit(2);
        } else if (strcmp(a, "all") == 0) {
            for (size_t w = 0; w < HR_NWORKLOADS; w++) chosen[w] = true;
        } else {
            const hr_workload_t *w = hr_workload_find(a);
            if (w == NULL) workload_unknown(a, " all");
            chosen[w - hr_workloads] = true;
        }
    }
    /* Table order, not command-line order, so reports always line up. */
    for (size_t w = 0; w < HR_NWORKLOADS; w++)
        if (chosen[w]) g_wl[g_nwl++] = (int)w;
    if (g_nwl == 0) {
        fprintf(stderr, "compare: no workload given (try 'compare all' or --help)\n");
        exit(2);
    }
    if (opt.timeout_s < (opt.seconds ? strtod(opt.seconds, NULL) : 5.0))
        fprintf(stderr,
                "compare: warning: --timeout %.1f s is shorter than the workload "
                "duration; every run will time out\n",
                opt.timeout_s);
}

/* ---- setting up ---------------------------------------------------------- */

static void setup_allocators(char *missing_pkgs, size_t cap) {
    g_allocs[g_nallocs++] = (alloc_t){"glibc", NULL, NULL, "#7f7f7f", true, false};

    if (!opt.no_hakmem) {
        char abs[PATH_MAX];
        need_hakmem_lib(opt.lib, abs,
                        ";\n  build the 'hakmem' target, pass --lib PATH, or --no-hakmem to "
                        "compare the peers only");
        g_allocs[g_nallocs++] =
            (alloc_t){"hakmem", driver_strdup(abs), NULL, "#d62728", false, true};
    }
    if (opt.profile) {
        char abs[PATH_MAX];
        if (realpath(opt.profile, abs) == NULL || access(abs, R_OK) != 0)
            driver_die("cannot read --profile %s: %s", opt.profile, strerror(errno));
        if (opt.no_hakmem)
            fprintf(stderr, "compare: warning: --profile is unused with --no-hakmem\n");
        opt.profile = driver_strdup(abs);
    }

    missing_pkgs[0] = '\0';
    for (size_t p = 0; p < HR_NPEERS; p++) {
        const hr_peer_t *peer = &hr_peers[p];
        if (access(peer->lib, R_OK) == 0) {
            g_allocs[g_nallocs++] =
                (alloc_t){peer->name, peer->lib, peer->package, peer->color, true, false};
        } else {
            fprintf(stderr, "compare: peer %s is not installed (%s missing)\n", peer->name,
                    peer->lib);
            size_t len = strlen(missing_pkgs);
            snprintf(missing_pkgs + len, cap - len, " %s", peer->package);
        }
    }
    if (missing_pkgs[0])
        fprintf(stderr, "compare: to compare against them too: apt-get install%s\n", missing_pkgs);
}

static void check_programs(void) {
    find_bin_dir(opt.bin_dir, g_bin_dir, sizeof g_bin_dir);
    for (int i = 0; i < g_nwl; i++) {
        char prog[PATH_MAX * 2];
        workload_require(g_bin_dir, &hr_workloads[g_wl[i]], prog, sizeof prog);
    }
}

static void mkdir_p(const char *path) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                driver_die("mkdir %s: %s", buf, strerror(errno));
            if (c == '\0') break;
            *p = c;
        }
    }
}

/* ---- running one workload ------------------------------------------------ */

static void run_one(run_t *r) {
    const hr_workload_t *w = &hr_workloads[r->workload];
    const alloc_t *al = &g_allocs[r->alloc];
    char prog[PATH_MAX * 2];
    const char *argv[HR_MAX_ARGS + 1];
    workload_prog(g_bin_dir, w, prog, sizeof prog);
    hr_workload_argv(w, prog, opt.seconds, argv);

    hr_env_t env[2];
    int nenv = 0;
    if (al->lib) env[nenv++] = (hr_env_t){"LD_PRELOAD", al->lib};
    if (al->hakmem && opt.profile) env[nenv++] = (hr_env_t){"HAKMEM_CONFIG", opt.profile};
    /* HAKMEM_* variables are inherited: knob overrides and HAKMEM_STATS=1
     * are how compare's user sets hakmem up without a profile. */
    hr_job_t job = {.spawn = {argv, env, nenv, false, opt.timeout_s, &driver_interrupted},
                    .metric = &g_metric,
                    .lib = al->lib};
    hr_proc_t p;
    hr_run(&job, &p, &r->m);
    if (r->m.status != HR_OK || !hr_metric_read(&g_live, &p, &r->live)) r->live = NAN;

    /* Every run's output is kept: a failure must be explainable later. */
    char log[PATH_MAX * 2];
    snprintf(log, sizeof log, "%s/logs/%s-%s-r%d.log", opt.out_dir, w->name, al->name,
             r->repeat + 1);
    FILE *f = fopen(log, "w");
    if (f) {
        fprintf(f, "command:");
        if (al->lib) fprintf(f, " LD_PRELOAD=%s", al->lib);
        if (al->hakmem && opt.profile) fprintf(f, " HAKMEM_CONFIG=%s", opt.profile);
        for (int a = 0; argv[a]; a++) fprintf(f, " %s", argv[a]);
        fprintf(f, "\nstatus: %s", hr_status_name(r->m.status));
        if (p.exec_errno) fprintf(f, " (%s)", strerror(p.exec_errno));
        if (r->m.signal) fprintf(f, " (signal %d, %s)", r->m.signal, strsignal(r->m.signal));
        if (r->m.status == HR_EXIT) fprintf(f, " (exit %d)", r->m.exit_code);
        fprintf(f, "\nwall %.3f s, user %.3f s, sys %.3f s, max RSS %ld KiB\n", r->m.wall_s,
                r->m.user_s, r->m.sys_s, r->m.maxrss_kib);
        fprintf(f, "--- stdout ---\n%s--- stderr ---\n%s", hr_out(&p), hr_err(&p));
        fclose(f);
        r->log = driver_strdup(log);
    } else {
        fprintf(stderr, "compare: cannot write %s: %s\n", log, strerror(errno));
    }
    hr_proc_free(&p);
}

/* ---- statistics ---------------------------------------------------------- */

/* The peer other than `except` (-1: none) with the best median. */
static int best_peer(const summary_t *s, int except) {
    int best = -1;
    for (int a = 0; a < g_nallocs; a++)
        if (a != except && g_allocs[a].peer && s[a].ok &&
            (best < 0 || s[a].median > s[best].median))
            best = a;
    return best;
}

/* The paired ratios of every allocator of workload wl (summary_t): each
 * run over its partner's in the same repeat, the partner being the other
 * peer with the best median. Not the best of the others in each repeat:
 * the best of several noisy runs beats a typical one, and would count that
 * against every allocator even among equals (four allocators level on a
 * server read 0.85-0.95 that way). */
static void summarise_pairs(const run_t *runs, int nruns, int wl, summary_t *s) {
    double *ratio = malloc(((size_t)opt.repeats + 1) * MAX_ALLOCS * sizeof *ratio);
    if (ratio == NULL) driver_die("out of memory");
    int partner[MAX_ALLOCS];
    for (int a = 0; a < g_nallocs; a++) {
        s[a].pairs = 0;
        partner[a] = best_peer(s, a);
    }
    for (int rep = 0; rep < opt.repeats; rep++) {
        double tp[MAX_ALLOCS];
        for (int a = 0; a < g_nallocs; a++) tp[a] = NAN;
        for (int i = 0; i < nruns; i++)
            if (runs[i].workload == wl && runs[i].repeat == rep && runs[i].m.status == HR_OK)
                tp[runs[i].alloc] = runs[i].m.metric;
        for (int a = 0; a < g_nallocs; a++) {
            int b = partner[a];
            if (b >= 0 && !isnan(tp[a]) && tp[b] > 0)
                ratio[a * (opt.repeats + 1) + s[a].pairs++] = tp[a] / tp[b];
        }
    }
    for (int a = 0; a < g_nallocs; a++) {
        double *r = ratio + a * (opt.repeats + 1);
        s[a].paired = hr_median_range(r, s[a].pairs, &s[a].paired_min, &s[a].paired_max);
    }
    free(ratio);
}

static void summarise(const run_t *runs, int nruns, int wl, summary_t *s) {
    double *tp = malloc(3 * ((size_t)nruns + 1) * sizeof *tp);
    if (tp == NULL) driver_die("out of memory");
    double *us = tp + nruns + 1, *ss = us + nruns + 1;
    for (int a = 0; a < g_nallocs; a++) {
        summary_t *x = &s[a];
        memset(x, 0, sizeof *x);
        x->live_kib = x->beyond_live_kib = -1;
        for (int i = 0; i < nruns; i++) {
            const run_t *r = &runs[i];
            if (r->workload != wl || r->alloc != a) continue;
            x->runs++;
            tally_add(&x->tally, r->m.status, r->m.signal, r->m.exit_code);
            if (r->m.status != HR_OK) continue;
            tp[x->ok] = r->m.metric;
            us[x->ok] = r->m.user_s;
            ss[x->ok] = r->m.sys_s;
            if (r->m.maxrss_kib > x->peak_rss_kib) x->peak_rss_kib = r->m.maxrss_kib;
            if (!isnan(r->live)) {
                long live = lround(r->live / 1024.0); /* as runs.csv rounds it */
                if (live > x->live_kib) x->live_kib = live;
                if (r->m.maxrss_kib - live > x->beyond_live_kib)
                    x->beyond_live_kib = r->m.maxrss_kib - live;
            }
            x->ok++;
        }
        x->median = hr_median(tp, x->ok); /* sorts tp: min and max are its ends */
        x->min = x->ok ? tp[0] : NAN;
        x->max = x->ok ? tp[x->ok - 1] : NAN;
        x->user_s = hr_median(us, x->ok);
        x->sys_s = hr_median(ss, x->ok);
    }
    free(tp);
    summarise_pairs(runs, nruns, wl, s);
    int b = best_peer(s, -1);
    double glibc = s[0].median, best = b >= 0 ? s[b].median : NAN;
    for (int a = 0; a < g_nallocs; a++) {
        bool ok = s[a].ok > 0;
        s[a].ratio_glibc = ok && glibc > 0 ? s[a].median / glibc : NAN;
        s[a].ratio_best = ok && best > 0 ? s[a].median / best : NAN;
    }
}

/* ---- reports ------------------------------------------------------------- */

static void print_markdown(FILE *f, const run_t *runs, int nruns) {
    fprintf(f, "# Allocator comparison\n\n");
    session_print(f, &g_session);
    fprintf(f, "- %d repeats per allocator, interleaved; timeout %.0f s per run%s\n", opt.repeats,
            opt.timeout_s, driver_interrupted ? "; INTERRUPTED, partial results" : "");
    for (int a = 0; a < g_nallocs; a++)
        if (g_allocs[a].hakmem)
            fprintf(f, "- hakmem: %s, profile: %s\n", g_allocs[a].lib,
                    opt.profile ? opt.profile : "none (defaults)");
    if (g_missing[0]) fprintf(f, "- peers not installed (apt-get install%s)\n", g_missing);
    fprintf(f, "- summaries use successful runs only; ratios are of medians, except paired: the "
               "median over repeats of the run's throughput over that of the other peer with the "
               "best median in the same repeat (min–max)\n");
    for (int i = 0; i < g_nwl; i++) {
        const hr_workload_t *w = &hr_workloads[g_wl[i]];
        summary_t s[MAX_ALLOCS];
        summarise(runs, nruns, g_wl[i], s);
        fprintf(f, "\n## %s\n\n`", w->name);
        workload_print_command(f, w, opt.seconds);
        fprintf(f, "` — %s\n\n", w->stands_for);
        fprintf(f, "| allocator | runs ok | median ops/s | min–max ops/s | × glibc | × best peer "
                   "| paired × best other peer | user s | sys s | peak RSS MiB | status |\n"
                   "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for (int a = 0; a < g_nallocs; a++) {
            char med[40], range[96], rg[16], rb[16], pr[48], us[16], ss[16], rss[24], st[200];
            commas(s[a].median, med, sizeof med);
            commas_range(s[a].min, s[a].max, range, sizeof range);
            fmt_num(s[a].ratio_glibc, "%.2f", rg, sizeof rg);
            fmt_num(s[a].ratio_best, "%.2f", rb, sizeof rb);
            if (s[a].pairs)
                snprintf(pr, sizeof pr, "%.2f (%.2f–%.2f)", s[a].paired, s[a].paired_min,
                         s[a].paired_max);
            else
                snprintf(pr, sizeof pr, "–");
            fmt_num(s[a].user_s, "%.2f", us, sizeof us);
            fmt_num(s[a].sys_s, "%.2f", ss, sizeof ss);
            fmt_num(s[a].ok ? (double)s[a].peak_rss_kib / 1024.0 : NAN, "%.1f", rss, sizeof rss);
            tally_text(&s[a].tally, st, sizeof st);
            fprintf(f, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                    g_allocs[a].name, s[a].ok, s[a].runs, med, range, rg, rb, pr, us, ss, rss, st);
        }
        const char *sep = "\nPeak live MiB (the workload's own blocks at their most) and peak "
                          "RSS beyond them, the largest of the runs: ";
        for (int a = 0; a < g_nallocs; a++) {
            if (s[a].live_kib < 0) continue;
            fprintf(f, "%s%s %.1f, %.1f", sep, g_allocs[a].name, (double)s[a].live_kib / 1024.0,
                    (double)s[a].beyond_live_kib / 1024.0);
            sep = "; ";
        }
        if (sep[0] != '\n') fprintf(f, ".\n");
        int b = best_peer(s, -1);
        if (b >= 0) {
            char med[40];
            commas(s[b].median, med, sizeof med);
            fprintf(f, "\nBest peer: %s (%s ops/s).\n", g_allocs[b].name, med);
        } else {
            fprintf(f, "\nNo peer completed a run: no best-peer ratio.\n");
        }
    }
}

static FILE *open_out(const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", opt.out_dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) fprintf(stderr, "compare: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static void csv_num(FILE *f, double v, const char *fmt) {
    if (!isnan(v)) fprintf(f, fmt, v);
}

static void write_csv(const run_t *runs, int nruns) {
    char path[PATH_MAX * 2];
    FILE *f = open_out("runs.csv", path, sizeof path);
    if (f) {
        fprintf(f, "workload,allocator,repeat,status,exit_code,signal,throughput,wall_s,user_s,"
                   "sys_s,maxrss_kib,live_peak_kib,log\n");
        for (int i = 0; i < nruns; i++) {
            const run_t *r = &runs[i];
            fprintf(f, "%s,%s,", hr_workloads[r->workload].name, g_allocs[r->alloc].name);
            csv_measure(f, r->repeat, &r->m);
            fprintf(f, ",%ld,", r->m.maxrss_kib);
            csv_num(f, r->live / 1024.0, "%.0f");
            fprintf(f, ",\"%s\"\n", r->log ? r->log : "");
        }
        fclose(f);
    }
    f = open_out("summary.csv", path, sizeof path);
    if (f) {
        fprintf(f,
                "workload,allocator,runs,ok_runs,median_throughput,min_throughput,"
                "max_throughput,ratio_glibc,ratio_best_peer,paired_best_peer,paired_min,paired_max,"
                "median_user_s,median_sys_s,"
                "peak_rss_kib,peak_live_kib,peak_rss_beyond_live_kib,status\n");
        for (int i = 0; i < g_nwl; i++) {
            summary_t s[MAX_ALLOCS];
            summarise(runs, nruns, g_wl[i], s);
            for (int a = 0; a < g_nallocs; a++) {
                char st[200];
                tally_text(&s[a].tally, st, sizeof st);
                fprintf(f, "%s,%s,%d,%d", hr_workloads[g_wl[i]].name, g_allocs[a].name, s[a].runs,
                        s[a].ok);
                const struct {
                    double v;
                    const char *fmt;
                } cols[] = {{s[a].median, "%.0f"},     {s[a].min, "%.0f"},
                            {s[a].max, "%.0f"},        {s[a].ratio_glibc, "%.4f"},
                            {s[a].ratio_best, "%.4f"}, {s[a].paired, "%.4f"},
                            {s[a].paired_min, "%.4f"}, {s[a].paired_max, "%.4f"},
                            {s[a].user_s, "%.3f"},     {s[a].sys_s, "%.3f"}};
                for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
                    fputc(',', f);
                    csv_num(f, cols[c].v, cols[c].fmt);
                }
                fprintf(f, ",%ld,", s[a].peak_rss_kib);
                if (s[a].live_kib >= 0)
                    fprintf(f, "%ld,%ld", s[a].live_kib, s[a].beyond_live_kib);
                else
                    fputc(',', f);
                fprintf(f, ",\"%s\"\n", st);
            }
        }
        fclose(f);
    }
}

/* The chart: one group of bars per workload, one bar per allocator, on a
 * log2 axis around 1× (glibc) so 2× faster and 2× slower look alike and a
 * 30× outlier does not flatten everything else. Bars start at 1×;
 * whiskers span the min–max of the runs, divided by glibc's median. */
static void write_svg(const run_t *runs, int nruns, const char *subtitle) {
    char path[PATH_MAX * 2];
    FILE *f = open_out("ratios.svg", path, sizeof path);
    if (f == NULL) return;

    summary_t sum[HR_NWORKLOADS][MAX_ALLOCS];
    double lo = log2(0.8), hi = log2(1.25);
    for (int i = 0; i < g_nwl; i++) {
        summarise(runs, nruns, g_wl[i], sum[i]);
        double g = sum[i][0].median;
        if (!(g > 0)) continue;
        for (int a = 0; a < g_nallocs; a++) {
            if (!sum[i][a].ok) continue;
            if (sum[i][a].min > 0) lo = fmin(lo, log2(sum[i][a].min / g));
            hi = fmax(hi, log2(sum[i][a].max / g));
        }
    }
    lo = floor(lo);
    hi = ceil(hi + 0.2); /* room for the value label over the tallest bar */
    int tick_step = hi - lo > 10 ? 2 : 1;

    const double bar_w = 20, bar_gap = 4, group_gap = 36, left = 70, top = 70, plot_h = 320;
    const double group_w = g_nallocs * (bar_w + bar_gap) - bar_gap;
    const double plot_w = g_nwl * group_w + (g_nwl + 1) * group_gap;
    const double width = fmax(left + plot_w + 150, 780), height = top + plot_h + 70;
#define Y(v) (top + (hi - (v)) / (hi - lo) * plot_h)

    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"24\" font-size=\"16\" font-weight=\"bold\">Throughput relative "
            "to glibc (median of %d runs; whiskers: min–max)</text>\n"
            "<text x=\"%.0f\" y=\"44\" fill=\"#555\">",
            width, height, width, height, left, opt.repeats, left);
    hr_xml_text(f, subtitle);
    fputs("</text>\n", f);

    for (int t = (int)lo; t <= (int)hi; t++) {
        if ((t - (int)lo) % tick_step) continue;
        double y = Y(t), r = exp2(t);
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "%s/>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g×</text>\n",
                left, left + plot_w, y, y, t == 0 ? "#000" : "#ddd",
                t == 0 ? "stroke-width=\"1.5\" " : "", left - 6, y + 4, r);
    }
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n"
            "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">"
            "throughput ÷ glibc median (log scale)</text>\n",
            left, left, top, top + plot_h, top + plot_h / 2);

    for (int i = 0; i < g_nwl; i++) {
        double gx = left + group_gap + i * (group_w + group_gap);
        fprintf(
            f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n",
            gx + group_w / 2, top + plot_h + 22, hr_workloads[g_wl[i]].name);
        double g = sum[i][0].median;
        if (!(g > 0)) {
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#b00\">glibc "
                    "failed: no ratios</text>\n",
                    gx + group_w / 2, Y(0) - 8);
            continue;
        }
        for (int a = 0; a < g_nallocs; a++) {
            const summary_t *s = &sum[i][a];
            double x = gx + a * (bar_w + bar_gap), cx = x + bar_w / 2;
            if (!s->ok) {
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#b00\" "
                        "font-weight=\"bold\">✗</text>\n",
                        cx, Y(0) - 4);
                fprintf(f,
                        "<text transform=\"translate(%.1f %.1f) rotate(-90)\" fill=\"#b00\" "
                        "font-size=\"10\">%s failed</text>\n",
                        cx + 3, Y(0) - 16, g_allocs[a].name);
                continue;
            }
            double v = log2(s->median / g);
            double y0 = Y(0), y1 = Y(v);
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                    "<title>%s %s: %.3f× glibc (%d/%d runs ok)</title></rect>\n",
                    x, fmin(y0, y1), bar_w, fmax(fabs(y1 - y0), 1.0), g_allocs[a].color,
                    hr_workloads[g_wl[i]].name, g_allocs[a].name, s->median / g, s->ok, s->runs);
            double wlo = Y(log2(s->min / g)), whi = Y(log2(s->max / g));
            fprintf(f,
                    "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"#000\" "
                    "fill=\"none\"/>\n",
                    cx, wlo, whi, cx - 4, wlo, cx + 4, cx - 4, whi, cx + 4);
            double ty = v >= 0 ? fmin(y1, whi) - 4 : fmax(y1, wlo) + 12;
            fprintf(
                f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\">%.2f</text>\n",
                cx, ty, s->median / g);
            if (s->ok < s->runs)
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#b00\" "
                        "font-size=\"9\">%d/%d</text>\n",
                        cx, top + plot_h + 36, s->ok, s->runs);
        }
    }

    double lx = left + plot_w + 20;
    for (int a = 0; a < g_nallocs; a++) {
        double y = top + 10 + a * 20;
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                lx, y - 10, g_allocs[a].color, lx + 18, y, g_allocs[a].name);
    }
    fprintf(f, "</svg>\n");
#undef Y
    fclose(f);
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv) {
    driver_name = "compare";
    parse_args(argc, argv);
    setup_allocators(g_missing, sizeof g_missing);
    check_programs();
    mkdir_p(opt.out_dir);
    char logs[PATH_MAX];
    snprintf(logs, sizeof logs, "%s/logs", opt.out_dir);
    mkdir_p(logs);

    driver_trap_interrupts();
    hr_session_read(&g_session);
    char why[200];
    if (!hr_metric_init(&g_metric, NULL, why, sizeof why) ||
        !hr_metric_init(&g_live, "Peak live = ([0-9]+) bytes", why, sizeof why))
        driver_die("metric: %s", why);

    int total = g_nwl * opt.repeats * g_nallocs, done = 0;
    run_t *runs = calloc((size_t)total, sizeof *runs);
    if (runs == NULL) driver_die("out of memory");

    /* Interleaved per workload (A B C ... A B C ...) so drift in machine
     * load hits every allocator alike. */
    for (int i = 0; i < g_nwl && !driver_interrupted; i++) {
        for (int rep = 0; rep < opt.repeats && !driver_interrupted; rep++) {
            for (int a = 0; a < g_nallocs && !driver_interrupted; a++) {
                run_t *r = &runs[done];
                *r = (run_t){.workload = g_wl[i], .alloc = a, .repeat = rep};
                run_one(r);
                done++;
                char label[64];
                snprintf(label, sizeof label, "%-12s %-8s", hr_workloads[r->workload].name,
                         g_allocs[a].name);
                progress_begin(done, total, label, 0, rep, &r->m);
                fputc('\n', stderr);
            }
        }
    }

    char subtitle[512];
    snprintf(subtitle, sizeof subtitle, "%s, %ld CPUs, %s%s", g_session.host, g_session.cpus,
             g_session.date, driver_interrupted ? " (interrupted: partial)" : "");
    print_markdown(stdout, runs, done);
    fflush(stdout);
    char path[PATH_MAX * 2];
    FILE *md = open_out("summary.md", path, sizeof path);
    if (md) {
        print_markdown(md, runs, done);
        fclose(md);
    }
    write_csv(runs, done);
    write_svg(runs, done, subtitle);
    fprintf(stderr, "compare: wrote %s/{summary.md,runs.csv,summary.csv,ratios.svg,logs/}\n",
            opt.out_dir);
    for (int i = 0; i < done; i++) free(runs[i].log);
    free(runs);
    return driver_interrupted ? 130 : 0;
}
