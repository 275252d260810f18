/* driver.h — what the two bench drivers, compare and sweep, share beyond
 * the harness: their messages and exits, Ctrl-C, the options they both
 * take, where they find the workload programs and the library, and how
 * they print a run and a row (progress lines, status tallies, numbers with
 * thousands separators, the session line). */
#ifndef HAKMEM_BENCH_DRIVER_H
#define HAKMEM_BENCH_DRIVER_H

#include "harness.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

/* Prefix of every message; each driver sets it first thing in main. */
extern const char *driver_name;

/* Set by SIGINT/SIGTERM once driver_trap_interrupts ran: the running child
 * is killed and the driver reports what it measured so far. */
extern volatile sig_atomic_t driver_interrupted;
void driver_trap_interrupts(void);

_Noreturn void driver_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *driver_strdup(const char *s);

/* ---- workloads ------------------------------------------------------------- */

/* Both usage texts list the workloads from the table, so one added to it
 * shows up in each. */
void workloads_usage(FILE *f);
/* A usage error naming the known workloads; EXTRA is what else the driver
 * accepts in their place ("" when nothing). */
_Noreturn void workload_unknown(const char *name, const char *extra);
/* The command a run executes, as a report shows it: program name rather
 * than path, with the duration --seconds put in place (SECONDS NULL: none). */
void workload_print_command(FILE *f, const hr_workload_t *w, const char *seconds);
/* The directory the workload programs are taken from: --bin-dir GIVEN, or
 * the driver's own (DIR holds PATH_MAX bytes). */
void find_bin_dir(const char *given, char *dir, size_t cap);
/* PROG (CAP bytes) is workload W's program in BIN_DIR. */
void workload_prog(const char *bin_dir, const hr_workload_t *w, char *prog, size_t cap);
/* Like workload_prog, but a program that is not there ends the driver: a
 * missing build must not show up as a column of exec-failed runs. */
void workload_require(const char *bin_dir, const hr_workload_t *w, char *prog, size_t cap);
/* The library both drivers preload, found as hr_find_lib does, into ABS
 * (PATH_MAX bytes); without it they cannot run at all. HINT follows the
 * message about a missing default: what this driver's user can do. */
void need_hakmem_lib(const char *given, char *abs, const char *hint);

/* ---- runs and rows ------------------------------------------------------------- */

/* How the runs of one row ended, with the distinct signals and exit codes:
 * "failed" alone would not say whether to look for a bug or a timeout. */
typedef struct {
    int count[HR_STATUS_COUNT];
    int codes[HR_STATUS_COUNT][4]; /* distinct signals (crash) or exit codes (exit) */
    int ncodes[HR_STATUS_COUNT];
} tally_t;

void tally_add(tally_t *t, hr_status_t st, int sig, int exit_code);
/* "3 ok, 1 timeout, 1 crash (SIGSEGV)" — or just "ok" when nothing failed. */
void tally_text(const tally_t *t, char *buf, size_t cap);

/* "[ 3/10] LABEL #R  STATUS  N ops/s  user ..." on stderr, LABEL padded to
 * WIDTH so the columns line up; no newline, so the driver may add to it. */
void progress_begin(int done, int total, const char *label, int width, int repeat,
                    const hr_result_t *m);
/* The CSV columns every driver's runs file has, in this order:
 * repeat,status,exit_code,signal,throughput,wall_s,user_s,sys_s */
void csv_measure(FILE *f, int repeat, const hr_result_t *m);

/* 12345678 -> "12,345,678"; NAN -> "–". */
void commas(double v, char *buf, size_t cap);
/* "min–max" of a median's runs, or "–" when there were none (MIN is NAN). */
void commas_range(double min, double max, char *buf, size_t cap);
void fmt_num(double v, const char *fmt, char *buf, size_t cap);
/* "- date: ...; host: ..., N CPUs, load average at start L" */
void session_print(FILE *f, const hr_session_t *s);

/* ---- options --------------------------------------------------------------------- */

/* The checks behind --repeats, --timeout and --seconds; each driver words
 * its own complaint. */
bool parse_repeats(const char *v, int *out);
bool parse_duration(const char *v, double *out);
/* "--name VALUE" or "--name=VALUE"; a missing value is a usage error. */
const char *need_value(int argc, char **argv, int *i, const char *name);
bool is_opt(const char *arg, const char *name);

/* An option whose value is kept as typed (a path or a list): NAME's value
 * goes to *VALUE. */
typedef struct {
    const char *name;
    const char **value;
} text_opt_t;

/* The options every driver handles alike: --help/-h (usage on stdout, exit
 * 0) and those of TEXTS, a list ended by a NULL name. False when argv[*i]
 * is none of them, so the driver goes on to its own. */
bool driver_option(int argc, char **argv, int *i, void (*usage)(FILE *), const text_opt_t *texts);

#endif
