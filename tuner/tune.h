/* tune.h — the one internal header of hak-tune: the types the parts share
 * (profiles, runs, candidates, the tuner's state) and the functions each
 * file offers the others.
 *
 * hak-tune links the knob table and the profile loader of libhakmem
 * (hakmem_knobs, through knobs.h), never the allocator itself: the search
 * space, the profiles it writes and their validation all come from that one
 * table. */
#ifndef HT_TUNE_H
#define HT_TUNE_H

#include "hakmem.h"
#include "harness.h"
#include "knobs.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HT_VERSION HAKMEM_VERSION_STRING

/* ------------------------------------------------------------------------
 * Profiles: one value per knob of the table, as the loader stores them.
 * ---------------------------------------------------------------------- */

typedef struct {
    long long v[HAK_KNOB_COUNT];
} ht_profile_t;

void ht_profile_defaults(ht_profile_t *p);
bool ht_profile_equal(const ht_profile_t *a, const ht_profile_t *b);
/* Every knob as a `name = value;` line, with its help as a comment. */
void ht_profile_write_knobs(FILE *f, const ht_profile_t *p);
/* The knobs that differ from `base`, "name=value name=value", for
 * progress lines; "defaults" when none do. */
void ht_profile_diff(const ht_profile_t *p, const ht_profile_t *base, char *buf, size_t cap);

/* A profile file's header: its "# key: value" lines (configs/README.md),
 * as read back. */
#define HT_HEADER_MAX   32
#define HT_HEADER_VALUE 4096
typedef struct {
    char key[HT_HEADER_MAX][64];
    char value[HT_HEADER_MAX][HT_HEADER_VALUE];
    int n;
} ht_header_t;

/* False, with why, when the file cannot be read. */
bool ht_header_read(const char *path, ht_header_t *h, char *why, size_t cap);
/* The value of KEY, or NULL when the header has no such line. */
const char *ht_header_get(const ht_header_t *h, const char *key);

/* ------------------------------------------------------------------------
 * The search space (space.c): the knob table, narrowed by --space.
 * Numeric knobs are searched in [0,1] coordinates, log-scaled where the
 * table says so; choices (booleans, enums) are raced, never interpolated.
 * ---------------------------------------------------------------------- */

typedef enum { HT_FIXED, HT_NUMERIC, HT_CHOICE } ht_role_t;

#define HT_MAX_CHOICES 16

typedef struct {
    ht_role_t role;
    long long lo, hi;  /* numeric: the range searched */
    bool log;          /* numeric: coordinates are log(v + shift) */
    double shift;      /* makes a range starting at 0 loggable */
    long long fixed;   /* fixed: the value */
    unsigned nchoices; /* choice: the allowed values */
    long long choices[HT_MAX_CHOICES];
    long long start; /* where the search starts: the default, clamped */
    bool from_space; /* --space said something about this knob */
} ht_dim_t;

typedef struct {
    ht_dim_t dim[HAK_KNOB_COUNT];
    int numeric[HAK_KNOB_COUNT]; /* knob ids of the numeric dimensions */
    int nnumeric;
    int choice[HAK_KNOB_COUNT]; /* knob ids of the raced knobs */
    int nchoice;
} ht_space_t;

void ht_space_init(ht_space_t *s);
/* Applies a --space file; false (each problem reported) when it is bad. */
bool ht_space_load(ht_space_t *s, const char *path);
/* The defaults with --space applied: where the search starts. */
void ht_space_start(const ht_space_t *s, ht_profile_t *p);
/* Numeric coordinates u[nnumeric] onto p (choices and fixed knobs kept),
 * rounded to the values a profile can hold. */
void ht_space_apply(const ht_space_t *s, const double *u, ht_profile_t *p);
void ht_space_coords(const ht_space_t *s, const ht_profile_t *p, double *u);
bool ht_space_contains(const ht_space_t *s, const ht_profile_t *p);
void ht_space_print(const ht_space_t *s, FILE *f);

/* ------------------------------------------------------------------------
 * One run of the workload under a profile (runner.c), made and classified
 * by the harness (bench/harness/harness.h).
 * ---------------------------------------------------------------------- */

typedef struct {
    hr_status_t st;
    char reason[240];
    double metric; /* throughput, or 1/wall */
    double wall, user, sys;
    double rss_kb;
    double served, libc, mmap, munmap, madvise, mapped_peak; /* hakmem's stats */
    bool have_stats;
    long long stats[HAK_STAT_COUNT]; /* every counter, for the guide (guide.c) */
} ht_run_t;

typedef struct {
    char **argv; /* the workload, or with --server the client; argv[0] a path or a
                    name looked up in PATH */
    int argc;
    char **server_argv; /* --server: the server, which alone is preloaded; NULL otherwise */
    int server_argc;
    char lib[4096]; /* absolute path of libhakmem.so */
    hr_metric_t metric;
    double timeout_s;
    double cap_s;       /* > 0: the next run is stopped at this many seconds as capped */
    char workdir[4096]; /* private: the candidate profile, the server's output */
    char profile_path[4200];
    char server_out[4200];
    hr_stats_dir_t stats;
    volatile sig_atomic_t *stop;
} ht_runner_t;

/* 0, or with a message 2 for a bad --metric, 1 when no work directory can
 * be made: hak-tune's exit status. */
int ht_runner_init(ht_runner_t *r, const char *metric, const char *workdir_parent);
void ht_runner_done(ht_runner_t *r);
/* Runs the workload under profile p, written to the work directory. */
void ht_run(ht_runner_t *r, const ht_profile_t *p, ht_run_t *out);
/* ... under the profile file PATH. */
void ht_run_file(ht_runner_t *r, const char *path, ht_run_t *out);
/* ... and another workload and metric than the runner's (--verify). */
void ht_run_with(ht_runner_t *r, char *const *argv, const hr_metric_t *metric, const char *path,
                 ht_run_t *out);
/* The workload under another allocator: PEER_LIB preloaded instead of
 * hakmem (NULL: the C library's own), no profile, no stats. */
void ht_run_peer(ht_runner_t *r, const char *peer_lib, ht_run_t *out);
/* The command as a shell would read it, for headers and messages. */
void ht_command_text(char *const *argv, int argc, char *buf, size_t cap);
/* Splits a command line (quotes and backslashes as a shell reads them, no
 * expansions); false with the reason when it is malformed or empty. */
bool ht_split_command(const char *text, char ***argv, int *argc, char *why, size_t cap);

/* ------------------------------------------------------------------------
 * Candidates and the tuner's state.
 * ---------------------------------------------------------------------- */

typedef enum { HT_PHASE_CALIBRATE, HT_PHASE_SEARCH, HT_PHASE_CONFIRM, HT_PHASE_PEER } ht_phase_t;

/* What the search optimises: the metric (maximised), or the median peak
 * RSS or kernel seconds of a run (minimised, with the metric held to a
 * floor relative to the default). */
typedef enum { HT_OBJ_THROUGHPUT, HT_OBJ_RSS, HT_OBJ_SYS } ht_objective_t;

const char *ht_objective_name(ht_objective_t o);
bool ht_objective_parse(const char *name, ht_objective_t *out);

/* The constraints a candidate is judged on; which are active depends on
 * the objective and the options (ht_con_active). */
typedef enum { HT_CON_SYS, HT_CON_RSS, HT_CON_FLOOR, HT_CON_COUNT } ht_con_t;

/* The medians a candidate, or one side of a confirmation, is judged on. */
typedef struct {
    double metric, sysfrac, sys, rss_kb;
} ht_fig_t;

typedef struct {
    ht_profile_t p;
    int eval;        /* evaluation number; 0 for the default's calibration; negative: what
                        mattered's variants, counted apart from the search's budget */
    char origin[24]; /* which part of the search proposed it */
    ht_run_t *runs;
    int nruns, caproom;
    int nreplayed;
    hr_status_t st; /* OK, or the first failed run's status */
    char reason[240];
    double metric, metric_min, metric_max; /* over ok runs: median, min, max */
    double sysfrac, sys, user, rss_kb, served;
    double wall; /* median wall seconds of its ok runs: capping stops others at a multiple */
    double obj, obj_min, obj_max; /* the objective's measure (ht_obj_of): median, min, max */
    double excess;     /* the worst constraint's normalised excess (ht_excess); > 0 violated */
    bool violates;     /* ran fine, but breaks a constraint (over a cap, under the floor) */
    bool feasible;     /* ran fine and meets every constraint: it may win */
    double bound;      /* capped: the metric is below this (1 / the wall it was stopped at) */
    double best_after; /* best objective measure once this one was judged (convergence) */
    double seconds;    /* wall time spent measuring it */
} ht_cand_t;

#define HT_MAX_PAIRS 64 /* pairs kept one by one, for the report */

typedef struct {
    int eval;                                  /* the candidate confirmed */
    int pairs;                                 /* pairs made */
    int wanted;                                /* pairs asked for (fewer when decisive early) */
    double ratio_med, ratio_min, ratio_max;    /* metric (throughput), tuned / default */
    double oratio_med, oratio_min, oratio_max; /* the objective's measure, tuned / default */
    int wins;                                  /* pairs the winner won on the objective */
    double w_metric, d_metric;                 /* medians */
    double w_obj, d_obj;
    double w_sysfrac, d_sysfrac, w_sys, d_sys;
    double w_rss, d_rss;
    bool w_ok, d_ok; /* every run of each succeeded */
    bool w_feasible, d_feasible;
    bool done;                 /* all pairs made */
    bool adopted;              /* the winner is written */
    bool closer;               /* neither meets the constraints; the winner comes closer */
    double w_excess, d_excess; /* the worst constraint's excess on each side's medians */
    /* pair by pair: the metric and the objective's measure, default and
     * tuned (NAN for a failed run) */
    double pd[HT_MAX_PAIRS], pw[HT_MAX_PAIRS], pdo[HT_MAX_PAIRS], pwo[HT_MAX_PAIRS];
    char verdict[600];
} ht_confirm_t;

typedef struct ht_log_s ht_log_t;

/* ------------------------------------------------------------------------
 * The guide (guide.c): the default's own counters say where its time goes;
 * the rules that fire name the knobs that govern what they show, tried
 * before the rest.
 * ---------------------------------------------------------------------- */

typedef enum { HT_UP, HT_DOWN, HT_EITHER } ht_dir_t;

#define HT_GUIDE_RULES 16

typedef struct {
    int rule;     /* index into the rules table */
    double score; /* its measure over its threshold: >= 1 fired */
    char evidence[200];
} ht_fired_t;

typedef struct {
    bool read;                        /* the default's counters were there to read */
    ht_fired_t fired[HT_GUIDE_RULES]; /* strongest first */
    int nfired;
    int knob[HAK_KNOB_COUNT]; /* the knobs the fired rules name, in their order */
    ht_dir_t dir[HAK_KNOB_COUNT];
    int from[HAK_KNOB_COUNT]; /* the rule (index into fired) that named it first */
    int nknobs;
} ht_guide_t;

/* The rules against the counters COUNTERS (medians of the default's runs)
 * of runs that took WALL seconds. */
void ht_guide_read(ht_guide_t *g, const long long *counters, bool have, double wall);
void ht_guide_print(const ht_guide_t *g, FILE *f);
/* The rule's name ("large-fresh") and what it says of the knobs. */
const char *ht_guide_rule_name(int rule);
const char *ht_guide_rule_says(int rule);
/* The rules as a markdown table, for tuner/README.md (--print-rules). */
void ht_guide_rules_table(FILE *f);

/* ------------------------------------------------------------------------
 * What mattered (mattered.c): each knob of the winner varied alone.
 * ---------------------------------------------------------------------- */

typedef struct {
    int knob;
    long long value; /* the variant's value of it */
    double gain;     /* winner's objective over the variant's: > 1 the winner's value is better */
    hr_status_t st;  /* the variant's */
    bool violates;   /* the variant broke a constraint the winner meets */
    bool mattered;
    int eval;
} ht_effect_t;

typedef struct {
    int around; /* the evaluation whose knobs were varied; 0: not done */
    ht_effect_t e[HAK_KNOB_COUNT];
    int n;            /* measured */
    int unmeasured;   /* knobs the budget left no time for */
    double threshold; /* |ln gain| beyond it moved the objective beyond the noise */
} ht_mattered_t;

typedef struct {
    /* options */
    int max_evals, repeats, max_repeats, calib_runs, confirm_pairs;
    int recheck_every; /* evaluations between runs of the default (0: never) */
    bool repeats_auto, calib_auto, confirm_auto; /* spent by the noise measured */
    double time_budget, max_sys_frac, max_sys_s, min_gain;
    bool cap_seconds;  /* the kernel-time cap is in seconds, not a fraction */
    bool sys_cap;      /* the kernel-time cap applies (always for throughput) */
    bool sys_rel;      /* ... relative to the default's own median (no cap given) */
    double cap_margin; /* capping: a run is stopped at the best's wall x (1 + it); 0 off; <0 auto */
    bool capping;      /* capping applies: the metric is the wall time */
    bool guided;       /* the counters order the search (--no-guide: they do not) */
    ht_objective_t objective;
    double min_tput_frac; /* rss, sys: the metric's floor, a fraction of the default's */
    double max_rss_mib;   /* the peak-RSS cap; 0: none */
    unsigned long seed;
    char algorithm[64];
    bool quiet;
    /* parts */
    ht_space_t space;
    ht_runner_t runner;
    ht_log_t *log;
    /* state */
    ht_cand_t **cands;
    int ncands, capcands;
    ht_cand_t *def, *best;
    ht_profile_t defaults;
    int evals, runs_made, runs_replayed, cache_hits, capped_runs;
    int analysed;       /* what mattered's variants measured (their eval numbers are -1, -2, ...) */
    bool analysing;     /* measuring what mattered: max_evals does not apply */
    double sys_rel_tol; /* the relative cap's tolerance over the default's median: a fraction */
    double sys_rel_abs; /* ... and an amount, for the tick's steps and the runs' spread */
    double spent_wall;  /* wall seconds of every run so far, made or replayed */
    double last_recheck; /* spent_wall when the default last ran */
    ht_guide_t guide;
    ht_mattered_t mattered;
    double noise;        /* relative spread of one run's objective: the larger of the two below */
    double noise_calib;  /* ... from the calibration runs of the default */
    double noise_pooled; /* ... pooled over every candidate's repeats (0: too few yet) */
    double t_start;      /* monotonic seconds */
    double measured_s;   /* seconds spent in runs actually made (not replayed) */
    int measured_evals;  /* evaluations with at least one run made */
    volatile sig_atomic_t *stop;
    bool interrupted;
    bool careful; /* every candidate gets max_repeats runs (screening) */
    uint64_t rng;
} ht_tuner_t;

/* measure.c */
bool ht_calibrate(ht_tuner_t *t);
/* Judges every candidate again (after the default's figures or a
 * constraint changed) and finds the best. */
void ht_rejudge(ht_tuner_t *t);
/* More runs of a measured candidate, up to RUNS in all. */
void ht_remeasure(ht_tuner_t *t, ht_cand_t *c, int runs);
/* Measures p (or returns its cached result); NULL when the budget is spent
 * or the user interrupted. */
ht_cand_t *ht_evaluate(ht_tuner_t *t, const ht_profile_t *p, const char *origin);
ht_cand_t *ht_find(ht_tuner_t *t, const ht_profile_t *p);
/* The kernel-time cap's measure of a candidate: sys fraction, or sys seconds. */
double ht_cap_value(const ht_tuner_t *t, double sysfrac, double sys);
/* Its limit: the absolute cap, or the relative one on the default's
 * figures REF. */
double ht_cap_limit(const ht_tuner_t *t, const ht_fig_t *ref);
/* The objective's measure in its own units: the metric, peak RSS in KiB,
 * or kernel seconds. */
double ht_obj_of(const ht_tuner_t *t, double metric, double sys, double rss_kb);
/* v relative to ref on the objective's measure (kernel seconds get 1 ms
 * added to both, so a run with none is not infinitely better). */
double ht_obj_ratio(const ht_tuner_t *t, double v, double ref);
/* How much better v is than ref: > 1 better, whichever way the objective
 * points. */
double ht_obj_gain(const ht_tuner_t *t, double v, double ref);
/* "throughput", "peak RSS", "kernel time": what the objective measures. */
const char *ht_obj_label(const ht_tuner_t *t);
ht_fig_t ht_cand_fig(const ht_cand_t *c);
bool ht_con_active(const ht_tuner_t *t, ht_con_t k);
/* A constraint's measure of f: the cap value, peak RSS in MiB, the metric. */
double ht_con_value(const ht_tuner_t *t, ht_con_t k, const ht_fig_t *f);
/* Its limit against the default's figures REF (the floor is min_tput_frac
 * x its metric, the relative kernel-time cap its median and a tolerance). */
double ht_con_limit(const ht_tuner_t *t, ht_con_t k, const ht_fig_t *ref);
/* By how much f breaks constraint k, relative to its limit: <= 0 met. */
double ht_con_excess(const ht_tuner_t *t, ht_con_t k, const ht_fig_t *f, const ht_fig_t *ref);
/* The largest excess over the active constraints (-1 when none is active). */
double ht_excess(const ht_tuner_t *t, const ht_fig_t *f, const ht_fig_t *ref);
/* The broken constraints, "sys/(user+sys) 0.31 > 0.25; ...", or "". */
void ht_excess_text(const ht_tuner_t *t, const ht_fig_t *f, const ht_fig_t *ref, char *buf,
                    size_t cap);
/* The active constraints, "throughput >= 0.9 x default; ...", or "none";
 * a relative cap with its figure once the default is calibrated. */
void ht_constraints_text(const ht_tuner_t *t, char *buf, size_t cap);
/* The default's figures every constraint is relative to. */
ht_fig_t ht_ref(const ht_tuner_t *t);
/* Inside every constraint with a margin: caps at 0.8 of their limit, the
 * floor half-way between it and the default. */
bool ht_clearly_feasible(const ht_tuner_t *t, const ht_cand_t *c);
/* a ranks strictly before b: feasible first, then the better objective;
 * among candidates that break a constraint, the smaller excess; failures
 * last. */
bool ht_better(const ht_tuner_t *t, const ht_cand_t *a, const ht_cand_t *b);
void ht_confirm(ht_tuner_t *t, ht_cand_t *winner, ht_confirm_t *out);
/* The candidate whose constraints' excess is smallest, among those that
 * break one; NULL when none ran. */
ht_cand_t *ht_least_excess(ht_tuner_t *t);

/* budget.c: what the time allows, said up front, and capping. */
bool ht_budget_left(ht_tuner_t *t);
/* The wall time at which a search run is stopped as capped; 0: none. */
double ht_cap_time(const ht_tuner_t *t);
/* Repeats by the noise measured, unless the user fixed them. */
void ht_spend_by_noise(ht_tuner_t *t);
/* After calibration: how many evaluations the budget allows at the
 * measured run time, and what the whole search would need. Returns the
 * number it allows (max_evals when there is no time limit). */
int ht_plan(ht_tuner_t *t, FILE *f);
/* Seconds a candidate's measurement is expected to take, and the
 * confirmation. */
double ht_cand_cost(const ht_tuner_t *t);
double ht_confirm_cost(const ht_tuner_t *t);
/* "2m05s" */
void ht_fmt_duration(double s, char *buf, size_t cap);
uint64_t ht_rand(ht_tuner_t *t);
double ht_rand01(ht_tuner_t *t);

/* search.c */
/* false when the algorithm name is unknown (with a message). */
bool ht_search_check_algorithm(const char *name, char *why, size_t cap);
void ht_search(ht_tuner_t *t);
/* The numeric search again from the best candidate within the
 * constraints as they are now (--front's later points). */
void ht_search_again(ht_tuner_t *t);
/* Steps along KNOBS (N of them, each the way DIRS says) from the best
 * candidate, or the one that breaks the constraints least, until the
 * budget's evaluations are spent or every knob was tried. */
void ht_search_toward(ht_tuner_t *t, const int *knobs, const ht_dir_t *dirs, int n);
/* A point STEP away from p along knob k's search coordinate (DIR up or
 * down), rounded; false when that leaves the range or rounds back to p. */
bool ht_step(const ht_tuner_t *t, const ht_profile_t *p, int k, double step, ht_dir_t dir,
             ht_profile_t *out);

/* mattered.c */
void ht_what_mattered(ht_tuner_t *t, const ht_cand_t *winner);
/* "large_cache_bytes (1g; at its default 64m: x0.12); ..." for the
 * summary and the header; "not measured" when it was not. */
void ht_mattered_text(const ht_tuner_t *t, char *buf, size_t cap);
void ht_mattered_print(const ht_tuner_t *t, FILE *f);

/* log.c */
ht_log_t *ht_log_open(const char *path, bool resume, const ht_runner_t *r, const char *workload,
                      const char *objective, char *err, size_t errcap);
/* The next unused logged run of p, if any: replayed instead of run. */
bool ht_log_replay(ht_log_t *l, const ht_profile_t *p, ht_run_t *out);
void ht_log_run(ht_log_t *l, const ht_profile_t *p, ht_phase_t phase, int eval, int repeat,
                const ht_run_t *r);
/* A peer's run (--front): logged, never replayed by profile. */
void ht_log_peer(ht_log_t *l, const char *peer, int repeat, const ht_run_t *r);
/* The next unused logged run of PEER, if any. */
bool ht_log_replay_peer(ht_log_t *l, const char *peer, ht_run_t *out);
int ht_log_replayable(const ht_log_t *l);
void ht_log_close(ht_log_t *l);

/* report.c */
void ht_progress(ht_tuner_t *t, const ht_cand_t *c);
void ht_summary(ht_tuner_t *t, const ht_confirm_t *cf, FILE *f);
void ht_fmt_metric(double v, char *buf, size_t cap);
/* The ranking the summary prints: every candidate, best first (free it). */
const ht_cand_t **ht_ranked(ht_tuner_t *t, int *n);
/* snprintf for text that may be cut to its buffer on purpose (reasons,
 * labels): gcc's truncation warnings do not follow it here. */
void ht_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* profile.c: the profile file, its header written (and read, above). */
typedef struct {
    const char *name;       /* the header's workload: larson-mid, ..., custom, command or server */
    const char *bench;      /* "larson 5 2048 ...": bench program and arguments; NULL for --cmd */
    const char *command;    /* the workload's command line (--server: the client's) */
    const char *server;     /* --server: the server's command line; NULL otherwise */
    const char *invocation; /* hak-tune's own command line */
    const char *front;      /* --front: which point of the front this is; NULL otherwise */
} ht_origin_t;
bool ht_write_profile(ht_tuner_t *t, const char *path, const ht_profile_t *p,
                      const ht_cand_t *winner, const ht_confirm_t *cf, const ht_origin_t *o);

/* front.c: --front rss|sys, the trade-off front; its exit status. */
typedef struct {
    const char *kind; /* "rss" or "sys" */
    double fracs[16]; /* the bounds, as fractions of the default's median */
    int nfracs;
    const char *output; /* -o: the points' profiles are named after it */
    const char *svg;    /* the front's plot */
    const char *report; /* --report DIR, or NULL */
} ht_front_opts_t;
int ht_front(ht_tuner_t *t, const ht_front_opts_t *o, const ht_origin_t *origin);

/* html.c: --report DIR, one static page. A front point's table, peers and
 * plot come with FRONT_MD and FRONT_SVG (NULL for a single profile). */
typedef struct {
    const char *title, *profile, *svg, *front_svg, *front_md;
    const ht_origin_t *origin;
    const ht_cand_t *chosen; /* the written profile's candidate, marked on the plot */
} ht_report_t;
bool ht_write_report(ht_tuner_t *t, const char *dir, const ht_confirm_t *cf,
                     const ht_report_t *rep);

/* main.c: Ctrl-C (or SIGTERM) sets ht_stop once ht_trap_interrupts ran;
 * a second one ends hak-tune at once. */
extern volatile sig_atomic_t ht_stop;
void ht_trap_interrupts(void);
/* main.c: options, as every mode of hak-tune reads them. A bad one ends
 * hak-tune with a message naming it and exit status 2. */
_Noreturn void ht_bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool ht_is_opt(const char *arg, const char *name);
const char *ht_value_of(int argc, char **argv, int *i, const char *name);
long ht_int_opt(const char *name, const char *text, long lo, long hi);
double ht_num_opt(const char *name, const char *text, double lo, double hi, bool suffixes);
/* libhakmem.so (GIVEN, or where hr_find_lib looks), with a message when
 * it is not there; the bench program PROG in GIVEN_DIR or next to
 * hak-tune. */
bool ht_find_lib(const char *given, char *out, size_t cap);
bool ht_find_bench(const char *prog, const char *given_dir, char *out, size_t cap);

/* verify.c: hak-tune --verify, whose own options it reads; its exit status. */
int ht_verify_main(int argc, char **argv);

/* svg.c */
bool ht_write_svg(ht_tuner_t *t, const char *path, const ht_cand_t *chosen, const char *title);
/* The front: throughput against peak RSS (or kernel seconds), its points
 * joined in order, the default and the peers marked. */
typedef struct {
    const char *label; /* "0.8 x default", "glibc", ... */
    double x, y;       /* peak RSS in MiB (or kernel seconds); metric / default's */
    bool confirmed;    /* a point measured in confirmation (else the search's figure) */
    bool peer;
    const char *color;
} ht_front_mark_t;
bool ht_write_front_svg(const char *path, const char *title, const char *xlabel,
                        const ht_front_mark_t *m, int n);

#endif /* HT_TUNE_H */
