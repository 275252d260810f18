/* harness.h — running a workload and measuring it, for every tool that
 * does (compare, sweep, hak-tune): the workload table, one process run in
 * its own group under a timeout with its output and rusage, the statuses a
 * run ends in, the metric read from its output, hakmem's stats read back
 * (the proof that hakmem served the run), medians, where a report was
 * made, and text for the charts.
 *
 * The library never prints and never exits: a failure is a status with a
 * reason, and what to say about it is the tool's business. The tools are
 * single-threaded; hr_spawn's child sets its environment between fork and
 * exec. */
#ifndef HR_HARNESS_H
#define HR_HARNESS_H

#include "knobs.h"

#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* ------------------------------------------------------------------------
 * The workloads of bench/ (workloads.c): the one table compare, sweep and
 * hak-tune list and run.
 * ---------------------------------------------------------------------- */

#define HR_MAX_ARGS   12
#define HR_NWORKLOADS 11

typedef struct {
    const char *name;
    const char *alias;             /* another name it answers to, or NULL */
    const char *args[HR_MAX_ARGS]; /* program, SECONDS, ...; NULL-terminated */
    const char *metric;            /* as a profile header names it: "throughput" */
    const char *stands_for;        /* the real programs it imitates */
} hr_workload_t;

extern const hr_workload_t hr_workloads[HR_NWORKLOADS];

/* By name or alias; NULL when there is none. */
const hr_workload_t *hr_workload_find(const char *name);
/* The arguments after the program, joined by spaces, with the duration
 * (the first argument) replaced by SECONDS unless that is NULL. */
void hr_workload_args(const hr_workload_t *w, const char *seconds, char *buf, size_t cap);
/* argv for one run: PROG, then the arguments as hr_workload_args has them.
 * ARGV holds HR_MAX_ARGS + 1 pointers. */
void hr_workload_argv(const hr_workload_t *w, const char *prog, const char *seconds,
                      const char **argv);

/* ------------------------------------------------------------------------
 * Statuses (status.c): how a run ended. One list for every tool. "capped"
 * is no failure: the caller stopped a run that could no longer beat its
 * best (hak-tune's adaptive capping), and the run is slower than that.
 * ---------------------------------------------------------------------- */

#define HR_STATUSES(X)                                                                             \
    X(OK, "ok")                                                                                    \
    X(CRASH, "crash")                                                                              \
    X(EXIT, "exit")                                                                                \
    X(TIMEOUT, "timeout")                                                                          \
    X(NO_METRIC, "no-metric")                                                                      \
    X(NO_STATS, "no-stats")                                                                        \
    X(UNSERVED, "unserved")                                                                        \
    X(REJECTED, "rejected")                                                                        \
    X(PRELOAD_FAILED, "preload-failed")                                                            \
    X(EXEC_FAILED, "exec-failed")                                                                  \
    X(INTERRUPTED, "interrupted")                                                                  \
    X(CAPPED, "capped")

typedef enum {
#define HR_STATUS_ENUM(id, name) HR_##id,
    HR_STATUSES(HR_STATUS_ENUM)
#undef HR_STATUS_ENUM
        HR_STATUS_COUNT
} hr_status_t;

const char *hr_status_name(hr_status_t st);
bool hr_status_parse(const char *name, hr_status_t *out);
/* "SIGSEGV", or "signal N" for a signal without a name. */
void hr_signal_name(int sig, char *buf, size_t cap);
/* "crash(SIGSEGV)", "exit(3)" or the bare name, for progress lines. */
void hr_status_short(hr_status_t st, int sig, int exit_code, char *buf, size_t cap);

/* ------------------------------------------------------------------------
 * One process (spawn.c).
 * ---------------------------------------------------------------------- */

/* A process's stdout or stderr, capped: the first 64 KiB (where ld.so and
 * hakmem complain) and the last 1 MiB (where the metric is) are kept, and
 * what lay between is replaced by a line saying how much was left out. */
typedef struct {
    char *data;
    size_t len, cap;
    char *tail; /* past the head: the latest bytes */
    size_t tail_len;
    size_t cut; /* bytes dropped between head and tail */
} hr_output_t;

/* One variable for the child's environment; a NULL value removes it. */
typedef struct {
    const char *name, *value;
} hr_env_t;

typedef struct {
    const char *const *argv; /* argv[0]: a path, or a name looked up in PATH */
    const hr_env_t *env;     /* applied in order, after the inherited ones below are gone */
    int nenv;
    /* An inherited LD_PRELOAD is always removed: it would silently change
     * what is measured. With drop_hakmem, so are inherited HAKMEM_* ones. */
    bool drop_hakmem;
    double timeout_s;
    volatile sig_atomic_t *stop; /* once set, the run is killed as interrupted */
} hr_spawn_t;

typedef struct {
    pid_t pid;
    hr_output_t out, err;
    int wstatus;
    double wall_s, user_s, sys_s;
    long maxrss_kib;
    int exec_errno; /* 0, or why the program could not be started */
    bool timed_out, interrupted;
} hr_proc_t;

/* In a child between fork and exec: drops the inherited LD_PRELOAD (and,
 * with DROP_HAKMEM, every HAKMEM_* variable), then applies ENV in order. */
void hr_apply_env(const hr_env_t *env, int nenv, bool drop_hakmem);

/* Runs one process to its end, its timeout or the caller's stop: its
 * stdout, stderr and (from wait4) its CPU times and peak RSS. The whole
 * process group goes when its leader does. Release with hr_proc_free. */
void hr_spawn(const hr_spawn_t *s, hr_proc_t *p);
void hr_proc_free(hr_proc_t *p);
const char *hr_out(const hr_proc_t *p);
const char *hr_err(const hr_proc_t *p);
int hr_exit_code(const hr_proc_t *p); /* 0 unless it exited with a code */
int hr_signal(const hr_proc_t *p);    /* 0 unless a signal ended it */
/* The last non-empty line of TEXT, at most 120 characters. */
void hr_last_line(const char *text, char *buf, size_t cap);
double hr_now(void); /* monotonic seconds */

/* ------------------------------------------------------------------------
 * The metric (metric.c): the figure a run is judged by.
 * ---------------------------------------------------------------------- */

/* The bench programs' line. */
#define HR_THROUGHPUT_RE "Throughput = ([0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?)"

typedef enum { HR_METRIC_THROUGHPUT, HR_METRIC_REGEX, HR_METRIC_WALL } hr_metric_kind_t;

typedef struct {
    hr_metric_kind_t kind;
    char regex[512]; /* as given; the throughput line's for THROUGHPUT */
    regex_t re;
    bool compiled;
} hr_metric_t;

/* SPEC: NULL or "throughput" (the last "Throughput = N" line), "wall" (1 /
 * wall seconds), or a POSIX extended regex whose first group is the number.
 * False, with regerror's text, when the regex does not compile. */
bool hr_metric_init(hr_metric_t *m, const char *spec, char *why, size_t cap);
/* As a profile header writes it: "throughput", "wall" or "regex REGEX". */
bool hr_metric_from_header(hr_metric_t *m, const char *field, char *why, size_t cap);
void hr_metric_header(const hr_metric_t *m, char *buf, size_t cap);
void hr_metric_done(hr_metric_t *m);
/* The last match in stdout, else in stderr (the wall metric reads the
 * clock); false when there is none. */
bool hr_metric_read(const hr_metric_t *m, const hr_proc_t *p, double *out);

/* ------------------------------------------------------------------------
 * hakmem's stats, read back (stats.c): each run writes them at exit to a
 * private directory (HAKMEM_STATS_FILE=DIR/%p.json).
 * ---------------------------------------------------------------------- */

typedef struct {
    long long v[HAK_STAT_COUNT]; /* summed over the run's processes; *_peak: the largest */
    bool have[HAK_STAT_COUNT];   /* the counter was in some file */
    int files;
    char version[32];
} hr_stats_t;

typedef struct {
    char dir[4096];
    char file[4200]; /* the HAKMEM_STATS_FILE value */
} hr_stats_dir_t;

/* A new directory under $TMPDIR (or /tmp) named after PREFIX; false with
 * the reason when it cannot be made. */
bool hr_stats_dir_open(hr_stats_dir_t *d, const char *prefix, char *why, size_t cap);
void hr_stats_dir_clear(const hr_stats_dir_t *d);
void hr_stats_dir_close(hr_stats_dir_t *d);
/* Every file in the directory, summed. False when none could be read; WHY
 * then says what was wrong with the one that could not. */
bool hr_stats_read(const hr_stats_dir_t *d, hr_stats_t *st, char *why, size_t cap);
/* Allocations hakmem served from its own tiers: zero means the run
 * measured the C library's allocator. */
long long hr_stats_served(const hr_stats_t *st);
/* The counter called NAME, or -1. */
int hr_stat_find(const char *name);

/* ------------------------------------------------------------------------
 * One measured run (run.c): a process, its status, its metric and, when
 * asked for, hakmem's stats.
 * ---------------------------------------------------------------------- */

typedef struct {
    hr_spawn_t spawn;
    const hr_metric_t *metric;
    hr_stats_dir_t *stats; /* NULL: hakmem's stats are not read */
    const char *lib;       /* the preloaded library, for the reason of preload-failed */
} hr_job_t;

typedef struct {
    hr_status_t status;
    char reason[240]; /* for every status but OK */
    int exit_code, signal;
    double metric; /* NAN when none was read */
    double wall_s, user_s, sys_s;
    long maxrss_kib;
    bool have_stats;
    hr_stats_t stats;
    int port; /* a server's run: the port it served on */
} hr_result_t;

/* Runs JOB and classifies it: exec-failed, interrupted, timeout,
 * preload-failed, rejected (hakmem refused to start), crash, exit,
 * no-metric, no-stats, unserved, ok — the first that applies. P keeps the
 * output for whatever else the caller looks at (release with
 * hr_proc_free). */
void hr_run(const hr_job_t *job, hr_proc_t *p, hr_result_t *r);
/* R's reason, formatted; cut to its buffer on purpose. */
void hr_reason(hr_result_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Once the process (or the server and its client) ran clean: no-metric when
 * the metric is not in P's output (OUTPUT names it in the reason), else,
 * with WANT_STATS, no-stats (NO_STATS is the reason) or unserved (WHOSE
 * names the hakmem that served nothing). R's stats are already read. */
void hr_judge_output(const hr_metric_t *metric, const hr_proc_t *p, const char *output,
                     bool want_stats, const char *whose, const char *no_stats, hr_result_t *r);
/* What the process alone says, as hr_run classifies it (PROG and LIB name
 * the program and the preloaded library in reasons, TIMEOUT_S the limit it
 * was killed at): false when it ran to a clean exit. */
bool hr_process_failed(const char *prog, const char *lib, double timeout_s, const hr_proc_t *p,
                       hr_result_t *r);

/* ------------------------------------------------------------------------
 * A server driven by a client (server.c): the server, with the job's
 * environment, started afresh on a free port and waited for until it
 * accepts connections on 127.0.0.1; the client run to its end; the server
 * shut down with SIGTERM and reaped. The metric is read from the client's
 * output; CPU times and peak RSS are the server's (from wait4), wall time
 * the client's; hakmem's stats are the server's. Statuses: the server
 * exited or died before it accepted connections or while the client ran
 * (crash), did not accept in time or did not exit after SIGTERM (timeout),
 * crashed at shutdown (crash), was refused by hakmem (rejected); the
 * client failed (exit, crash, timeout, exec-failed: "the client failed:
 * ..."); no-metric, no-stats and unserved as for hr_run.
 * ---------------------------------------------------------------------- */

typedef struct {
    const char *const *server_argv; /* "{port}" in any word becomes the port */
    const char *const *client_argv; /* likewise */
    const hr_env_t *env;            /* the server's; the client gets none of it */
    int nenv;
    bool drop_hakmem;            /* as hr_spawn_t's, for both */
    double timeout_s;            /* the client's limit */
    double ready_s;              /* how long the server may take to accept a connection */
    double stop_s;               /* how long it may take to exit after SIGTERM */
    const char *output;          /* file for the server's stdout and stderr */
    volatile sig_atomic_t *stop; /* once set, the run ends as interrupted */
    const hr_metric_t *metric;   /* read from the client */
    hr_stats_dir_t *stats;       /* the server's; NULL: not read */
    const char *lib;             /* the preloaded library, for reasons */
} hr_server_job_t;

/* CLIENT keeps the client's output (release with hr_proc_free). */
void hr_run_server(const hr_server_job_t *job, hr_proc_t *client, hr_result_t *r);
/* A TCP port on 127.0.0.1 nobody listens on now, or -1. */
int hr_free_port(void);
/* A copy of ARGV with "{port}" replaced by PORT (NULL when out of
 * memory); release with hr_argv_free. */
char **hr_with_port(const char *const *argv, int port);
void hr_argv_free(char **argv);
/* Whether some word of ARGV holds "{port}". */
bool hr_has_port(const char *const *argv);

/* ------------------------------------------------------------------------
 * The peers (peers.c): the other allocators a figure is set against, as
 * Debian installs them. glibc, the C library's own, is not in the table:
 * it needs no preload.
 * ---------------------------------------------------------------------- */

typedef struct {
    const char *name;    /* "mimalloc" */
    const char *lib;     /* the library to preload */
    const char *package; /* the Debian package that installs it */
    const char *color;   /* its colour in charts */
} hr_peer_t;

#define HR_NPEERS 3
extern const hr_peer_t hr_peers[HR_NPEERS];

/* ------------------------------------------------------------------------
 * Figures (median.c).
 * ---------------------------------------------------------------------- */

/* Sorts V; NAN for none. */
double hr_median(double *v, int n);
/* The median and, through LO and HI, the extremes (NAN for none). */
double hr_median_range(double *v, int n, double *lo, double *hi);

/* ------------------------------------------------------------------------
 * Where and when (session.c, locate.c).
 * ---------------------------------------------------------------------- */

/* A figure from a loaded or different machine is not comparable, so every
 * report says where and when it was made. */
typedef struct {
    char date[64], host[128];
    double load[3]; /* load averages at the start; NAN if unknown */
    long cpus;
} hr_session_t;

void hr_session_read(hr_session_t *s);

/* The directory holding the running program. */
void hr_self_dir(char *dir, size_t cap);
/* The libhakmem.so to preload: GIVEN, or the first readable of the build
 * tree's (../libhakmem/ next to the tool), an installed tree's
 * (../LIBDIR/) and the configured install directory's. ABS gets its
 * absolute path, since ld.so resolves a relative LD_PRELOAD against each
 * child's cwd and ignores a missing one without a word. False when none
 * is there: TRIED then lists what was looked at. */
bool hr_find_lib(const char *given, char *abs, size_t cap, char *tried, size_t tried_cap);

/* TEXT written into an SVG (or any XML) element, escaped (xml.c). */
void hr_xml_text(FILE *f, const char *text);

#endif /* HR_HARNESS_H */
