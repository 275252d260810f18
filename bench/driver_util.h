/* driver_util.h — what the drivers (compare, sweep) share: the workload
 * table, running one workload in its own process group under a timeout while
 * collecting its output and rusage, the run statuses and how a finished
 * process maps onto them, what a run measured and how it is shown, the
 * session a report is headed with, the few statistics and number formats
 * both report with, and the options and set-up they have in common.
 *
 * Header-only, like bench_util.h, so each driver stays one translation unit;
 * everything is static inline so a driver that skips a helper still builds
 * warning-free. The drivers are single-threaded: the child side of the fork
 * may call setenv. */
#ifndef HAKMEM_BENCH_DRIVER_UTIL_H
#define HAKMEM_BENCH_DRIVER_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS   12
#define OUTPUT_CAP (1 << 20) /* keep at most 1 MiB of a run's stdout/stderr */

/* Prefix of every message; each driver sets it first thing in main. */
static const char *driver_name = "bench";

/* Set by SIGINT/SIGTERM once driver_trap_interrupts ran: the running child
 * is killed and the driver reports what it measured so far. */
static volatile sig_atomic_t driver_interrupted;

static inline void driver_on_signal(int sig) {
    (void)sig;
    driver_interrupted = 1;
}

static inline void driver_trap_interrupts(void) {
    /* No SA_RESTART: Ctrl-C must wake the poll loop so the running child is
     * killed and what was measured so far still gets reported. */
    struct sigaction sa = {.sa_handler = driver_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static inline void driver_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void driver_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", driver_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static inline char *driver_strdup(const char *s) {
    char *d = strdup(s);
    if (d == NULL) driver_die("out of memory");
    return d;
}

/* ---- the workloads --------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *args[MAX_ARGS]; /* program, SECONDS, ...; NULL-terminated */
    const char *stands_for;
} workload_t;

/* argv[1] is always the duration, so --seconds can override it uniformly. */
static const workload_t WORKLOADS[] = {
    {"larson-mid",
     {"larson", "5", "2048", "32768", "10000", "1", "12345", "4", NULL},
     "server threads freeing each other's 2-32 KiB blocks, new thread every 10k ops"},
    {"larson-small",
     {"larson", "5", "8", "1000", "5000", "100", "4141", "2", NULL},
     "server threads freeing each other's 8-1000 B blocks"},
    {"prodcons",
     {"prodcons", "5", "4242", NULL},
     "pipeline: 64 B-4 KiB blocks freed by another thread"},
    {"churn", {"churn", "5", "4242", NULL}, "interpreter-style small-object churn, one thread"},
    {"realloc", {"realloc", "5", "4242", NULL}, "string builders and doubling vectors"},
    {"largeblocks", {"largeblocks", "5", "4242", NULL}, "64 KiB-8 MiB buffers, touched per page"},
};
#define N_WORKLOADS (sizeof WORKLOADS / sizeof WORKLOADS[0])

/* -1 when NAME is not a workload. */
static inline int workload_find(const char *name) {
    for (size_t w = 0; w < N_WORKLOADS; w++)
        if (strcmp(WORKLOADS[w].name, name) == 0) return (int)w;
    return -1;
}

/* Both usage texts list the workloads from the table, so one added to it
 * shows up in each. */
static inline void workloads_usage(FILE *f) {
    for (size_t i = 0; i < N_WORKLOADS; i++) {
        fprintf(f, "  %-13s", WORKLOADS[i].name);
        for (int a = 0; WORKLOADS[i].args[a]; a++) fprintf(f, " %s", WORKLOADS[i].args[a]);
        fprintf(f, "\n  %13s (%s)\n", "", WORKLOADS[i].stands_for);
    }
}

/* A usage error naming the known workloads; EXTRA is what else the driver
 * accepts in their place ("" when nothing). */
static inline void workload_unknown(const char *name, const char *extra) {
    fprintf(stderr, "%s: unknown workload '%s'; known:", driver_name, name);
    for (size_t k = 0; k < N_WORKLOADS; k++) fprintf(stderr, " %s", WORKLOADS[k].name);
    fprintf(stderr, "%s\n", extra);
    exit(2);
}

/* The command a run executes, as a report shows it: program name rather
 * than path, with the duration --seconds put in place (SECONDS NULL: none). */
static inline void workload_print_command(FILE *f, const workload_t *w, const char *seconds) {
    for (int a = 0; w->args[a]; a++)
        fprintf(f, "%s%s", a ? " " : "", a == 1 && seconds ? seconds : w->args[a]);
}

/* argv for one run: the program's path, then its arguments with the
 * duration replaced by SECONDS when that is not NULL. */
static inline void workload_argv(const workload_t *w, const char *prog, const char *seconds,
                                 const char **argv) {
    int n = 0;
    argv[n++] = prog;
    for (int a = 1; w->args[a]; a++) argv[n++] = (a == 1 && seconds) ? seconds : w->args[a];
    argv[n] = NULL;
}

/* ---- run statuses ---------------------------------------------------------- */

/* The last three are for drivers that read hakmem's own stats (sweep):
 * compare never sets them. */
typedef enum {
    ST_OK,
    ST_TIMEOUT,
    ST_CRASH,
    ST_EXIT,
    ST_NO_THROUGHPUT,
    ST_PRELOAD_FAILED,
    ST_EXEC_FAILED,
    ST_INTERRUPTED,
    ST_REJECTED, /* hakmem refused a setting the driver made */
    ST_NO_STATS, /* hakmem wrote no stats file: was it even loaded? */
    ST_UNSERVED, /* hakmem was loaded but served no allocation itself */
    ST_COUNT
} status_t;

static const char *const STATUS_NAME[ST_COUNT] = {
    "ok",          "timeout",     "crash",    "exit",     "no-throughput", "preload-failed",
    "exec-failed", "interrupted", "rejected", "no-stats", "unserved",
};

static inline void sig_name(int sig, char *buf, size_t cap) {
    static const struct {
        int sig;
        const char *name;
    } names[] = {{SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},
                 {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},   {SIGKILL, "SIGKILL"},
                 {SIGTERM, "SIGTERM"}, {SIGTRAP, "SIGTRAP"}, {SIGSYS, "SIGSYS"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig) {
            snprintf(buf, cap, "%s", names[i].name);
            return;
        }
    snprintf(buf, cap, "signal %d", sig);
}

/* "crash(SIGSEGV)", "exit(3)" or the bare status name, for progress lines. */
static inline void status_short(status_t st, int sig, int exit_code, char *buf, size_t cap) {
    char s[32];
    if (st == ST_CRASH) {
        sig_name(sig, s, sizeof s);
        snprintf(buf, cap, "crash(%s)", s);
    } else if (st == ST_EXIT) {
        snprintf(buf, cap, "exit(%d)", exit_code);
    } else {
        snprintf(buf, cap, "%s", STATUS_NAME[st]);
    }
}

/* How the runs of one row ended, with the distinct signals and exit codes:
 * "failed" alone would not say whether to look for a bug or a timeout. */
typedef struct {
    int count[ST_COUNT];
    int codes[ST_COUNT][4]; /* distinct signals (crash) or exit codes (exit) */
    int ncodes[ST_COUNT];
} tally_t;

static inline void tally_add(tally_t *t, status_t st, int sig, int exit_code) {
    t->count[st]++;
    if (st != ST_CRASH && st != ST_EXIT) return;
    int code = st == ST_CRASH ? sig : exit_code;
    int k = 0, *n = &t->ncodes[st];
    while (k < *n && t->codes[st][k] != code) k++;
    if (k == *n && *n < 4) t->codes[st][(*n)++] = code;
}

/* "3 ok, 1 timeout, 1 crash (SIGSEGV)" — or just "ok" when nothing failed. */
static inline void tally_text(const tally_t *t, char *buf, size_t cap) {
    int runs = 0;
    for (int st = 0; st < ST_COUNT; st++) runs += t->count[st];
    if (t->count[ST_OK] == runs) {
        snprintf(buf, cap, "%s", runs ? "ok" : "not run");
        return;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int st = 0; st < ST_COUNT; st++) {
        if (t->count[st] == 0) continue;
        len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%d %s", len ? ", " : "",
                                t->count[st], STATUS_NAME[st]);
        for (int k = 0; k < t->ncodes[st]; k++) {
            char code[32];
            if (st == ST_CRASH)
                sig_name(t->codes[st][k], code, sizeof code);
            else
                snprintf(code, sizeof code, "%d", t->codes[st][k]);
            len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s%s", k ? " " : " (",
                                    code, k + 1 == t->ncodes[st] ? ")" : "");
        }
    }
}

/* ---- running one workload -------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static inline void buf_add(buf_t *b, const char *s, size_t n) {
    if (b->len + n > OUTPUT_CAP) n = OUTPUT_CAP - b->len;
    if (n == 0) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL) driver_die("out of memory");
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static inline const char *buf_str(const buf_t *b) {
    return b->data ? b->data : "";
}

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double tv_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

/* The last "Throughput = N" line wins; -1 when there is none. */
static inline double parse_throughput(const char *out) {
    double result = -1;
    const char *key = "Throughput = ";
    for (const char *p = out; p && (p = strstr(p, key)) != NULL; p += strlen(key)) {
        char *end;
        double v = strtod(p + strlen(key), &end);
        if (end != p + strlen(key) && v >= 0 && isfinite(v)) result = v;
    }
    return result;
}

/* One variable for the child's environment; value NULL removes it. */
typedef struct {
    const char *name, *value;
} env_t;

typedef struct {
    const char *prog;        /* path to execute */
    const char *const *argv; /* NULL-terminated; argv[0] is prog */
    const env_t *env;        /* applied in order after LD_PRELOAD is removed */
    int nenv;
    double timeout_s; /* driver_interrupted also ends the run */
} spawn_t;

typedef struct {
    pid_t pid;
    buf_t out, err;
    int wstatus;
    struct rusage ru;
    double wall_s;
    int exec_errno; /* 0 unless exec failed */
    bool timed_out, interrupted;
} proc_t;

static inline void proc_child(const spawn_t *s, int out, int err, int errpipe) {
    setpgid(0, 0); /* so a timeout kills the whole tree */
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO); /* a background group must not read the tty */
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    close(out);
    close(err);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    /* No preload unless asked for, whatever the driver's caller had: an
     * inherited one would silently change what is measured. */
    unsetenv("LD_PRELOAD");
    for (int i = 0; i < s->nenv; i++) {
        if (s->env[i].value)
            setenv(s->env[i].name, s->env[i].value, 1);
        else
            unsetenv(s->env[i].name);
    }
    execv(s->prog, (char *const *)s->argv);
    int e = errno;
    ssize_t ignored = write(errpipe, &e, sizeof e);
    (void)ignored;
    _exit(127);
}

/* Runs one process to completion (or to its timeout, or the driver's
 * interruption), keeping its stdout and stderr and its rusage from wait4.
 * Release P with proc_free. */
static inline void proc_run(const spawn_t *s, proc_t *p) {
    memset(p, 0, sizeof *p);
    int out[2], err[2], ep[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(ep, O_CLOEXEC))
        driver_die("pipe: %s", strerror(errno));
    fflush(NULL);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) driver_die("fork: %s", strerror(errno));
    if (pid == 0) proc_child(s, out[1], err[1], ep[1]);
    setpgid(pid, pid); /* also here: whichever runs first, the group exists */
    close(out[1]);
    close(err[1]);
    close(ep[1]);
    p->pid = pid;

    struct pollfd fds[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
    double deadline = t0 + s->timeout_s;
    bool reaped = false, killed = false;
    double t1 = t0;

    for (;;) {
        if (!reaped) {
            pid_t got = wait4(pid, &p->wstatus, WNOHANG, &p->ru);
            if (got == pid) {
                reaped = true;
                t1 = now_s();
                /* Leftover children of the workload would steal CPU from
                 * the next run: the whole group goes with its leader. */
                kill(-pid, SIGKILL);
            }
        }
        bool open = fds[0].fd >= 0 || fds[1].fd >= 0;
        if (reaped && !open) break;
        double now = now_s();
        bool stop = driver_interrupted;
        if (!reaped && !killed && (now >= deadline || stop)) {
            kill(-pid, SIGKILL);
            killed = true;
            p->timed_out = !stop;
            p->interrupted = stop;
        }
        /* Once both pipes are at EOF only the reap is left; poll then just
         * sleeps briefly. After the reap, a grandchild holding the pipes
         * must not keep us waiting: read what is there and stop. */
        int ms = open && !reaped ? 50 : 1;
        if (reaped) ms = 0;
        int n = poll(fds, 2, ms);
        if (n < 0 && errno != EINTR) driver_die("poll: %s", strerror(errno));
        for (int i = 0; i < 2 && n > 0; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char tmp[65536];
            ssize_t got = read(fds[i].fd, tmp, sizeof tmp);
            if (got > 0) {
                buf_add(i == 0 ? &p->out : &p->err, tmp, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
        if (reaped && (n <= 0)) break;
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);

    int e = 0;
    if (read(ep[0], &e, sizeof e) == (ssize_t)sizeof e) p->exec_errno = e ? e : ENOEXEC;
    close(ep[0]);
    p->wall_s = t1 - t0;
}

static inline void proc_free(proc_t *p) {
    free(p->out.data);
    free(p->err.data);
    p->out = p->err = (buf_t){0};
}

static inline int proc_exit_code(const proc_t *p) {
    return WIFEXITED(p->wstatus) ? WEXITSTATUS(p->wstatus) : 0;
}

static inline int proc_signal(const proc_t *p) {
    return WIFSIGNALED(p->wstatus) ? WTERMSIG(p->wstatus) : 0;
}

/* The status of a finished workload run from the process alone; THROUGHPUT
 * is what parse_throughput found in its stdout. */
static inline status_t proc_status(const proc_t *p, double throughput) {
    if (p->exec_errno) return ST_EXEC_FAILED;
    if (p->interrupted) return ST_INTERRUPTED;
    if (p->timed_out) return ST_TIMEOUT;
    /* ld.so ignores a preload it cannot load: the run was glibc's. */
    if (strstr(buf_str(&p->err), "cannot be preloaded")) return ST_PRELOAD_FAILED;
    if (WIFSIGNALED(p->wstatus)) return ST_CRASH;
    if (proc_exit_code(p) != 0) return ST_EXIT;
    if (throughput < 0) return ST_NO_THROUGHPUT;
    return ST_OK;
}

/* ---- what a run measured ---------------------------------------------------- */

/* The part of a run record both drivers keep for every workload run. */
typedef struct {
    status_t status;
    int exit_code;                            /* for ST_EXIT */
    int signal;                               /* for ST_CRASH and the kill of ST_TIMEOUT */
    double throughput, wall_s, user_s, sys_s; /* throughput: -1 when none was printed */
    long maxrss_kib;
} measure_t;

/* Runs S to completion like proc_run and reads off what it measured; P keeps
 * the output for whatever else the driver looks at (release with proc_free). */
static inline void measure_run(const spawn_t *s, proc_t *p, measure_t *m) {
    proc_run(s, p);
    m->wall_s = p->wall_s;
    m->user_s = tv_s(p->ru.ru_utime);
    m->sys_s = tv_s(p->ru.ru_stime);
    m->maxrss_kib = p->ru.ru_maxrss;
    m->throughput = parse_throughput(buf_str(&p->out));
    m->exit_code = proc_exit_code(p);
    m->signal = proc_signal(p);
    m->status = proc_status(p, m->throughput);
}

/* ---- statistics and formats ------------------------------------------------ */

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts V in place (so V[0] and V[n-1] are then min and max); NAN for n=0. */
static inline double median(double *v, int n) {
    if (n == 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* 12345678 -> "12,345,678"; NAN -> "–". */
static inline void commas(double v, char *buf, size_t cap) {
    if (isnan(v)) {
        snprintf(buf, cap, "–");
        return;
    }
    char digits[64];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t n = strlen(digits), o = 0;
    size_t first = digits[0] == '-' ? 1 : 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i > first && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

static inline void fmt_num(double v, const char *fmt, char *buf, size_t cap) {
    if (isnan(v))
        snprintf(buf, cap, "–");
    else
        snprintf(buf, cap, fmt, v);
}

/* "[ 3/10] LABEL #R  STATUS  N ops/s  user ..." on stderr, LABEL padded to
 * WIDTH so the columns line up; no newline, so the driver may add to it. */
static inline void progress_begin(int done, int total, const char *label, int width, int repeat,
                                  const measure_t *m) {
    char tp[40], st[48];
    commas(m->throughput >= 0 ? m->throughput : NAN, tp, sizeof tp);
    status_short(m->status, m->signal, m->exit_code, st, sizeof st);
    fprintf(stderr,
            "[%*d/%d] %-*s #%d  %-14s %14s ops/s  user %6.2f s  sys %6.2f s  rss %7.1f MiB  "
            "wall %6.2f s",
            total >= 100 ? 3 : 2, done, total, width, label, repeat + 1, st, tp, m->user_s,
            m->sys_s, (double)m->maxrss_kib / 1024.0, m->wall_s);
}

/* The CSV columns every driver's runs file has, in this order:
 * repeat,status,exit_code,signal,throughput,wall_s,user_s,sys_s */
static inline void csv_measure(FILE *f, int repeat, const measure_t *m) {
    fprintf(f, "%d,%s,%d,%d,", repeat + 1, STATUS_NAME[m->status], m->exit_code, m->signal);
    if (m->throughput >= 0) fprintf(f, "%.0f", m->throughput);
    fprintf(f, ",%.3f,%.3f,%.3f", m->wall_s, m->user_s, m->sys_s);
}

/* "min–max" of a median's runs, or "–" when there were none (MIN is NAN). */
static inline void commas_range(double min, double max, char *buf, size_t cap) {
    char lo[40], hi[40];
    commas(min, lo, sizeof lo);
    commas(max, hi, sizeof hi);
    if (isnan(min))
        snprintf(buf, cap, "–");
    else
        snprintf(buf, cap, "%s–%s", lo, hi);
}

/* ---- the session ------------------------------------------------------------- */

/* Where and when a report was made: a figure from a loaded or different
 * machine is not comparable, so every report says. */
typedef struct {
    char date[64], host[128];
    double load; /* 1-minute load average at the start; NAN if unknown */
    long cpus;
} session_t;

static inline void session_read(session_t *s) {
    time_t now = time(NULL);
    strftime(s->date, sizeof s->date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    if (gethostname(s->host, sizeof s->host - 1) != 0) snprintf(s->host, sizeof s->host, "?");
    s->load = NAN;
    getloadavg(&s->load, 1);
    s->cpus = sysconf(_SC_NPROCESSORS_ONLN);
}

static inline void session_print(FILE *f, const session_t *s) {
    fprintf(f, "- date: %s; host: %s, %ld CPUs, load average at start %.2f\n", s->date, s->host,
            s->cpus, s->load);
}

/* ---- setting up ------------------------------------------------------------ */

/* The directory holding the running driver: workloads live next to it. */
static inline void find_self_dir(char *dir, size_t cap) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) driver_die("cannot read /proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL) driver_die("odd /proc/self/exe: %s", self);
    *slash = '\0';
    snprintf(dir, cap, "%s", self);
}

/* The libhakmem.so to preload: GIVEN, or by default ../libhakmem/libhakmem.so
 * from the driver's directory (where the build puts it). TRIED gets the
 * path looked at, for the caller's message; ABS (PATH_MAX bytes) the
 * absolute path, since ld.so resolves a relative LD_PRELOAD against each
 * child's cwd and silently ignores a missing one. False (errno set) when
 * it is not a readable file. */
static inline bool find_hakmem_lib(const char *given, char *tried, size_t cap, char *abs) {
    if (given) {
        snprintf(tried, cap, "%s", given);
    } else {
        /* /proc/self/exe is already canonical: ".." is just a strip. */
        char dir[PATH_MAX];
        find_self_dir(dir, sizeof dir);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        snprintf(tried, cap, "%s/libhakmem/libhakmem.so", dir);
    }
    return realpath(tried, abs) != NULL && access(abs, R_OK) == 0;
}

/* The library both drivers preload, found as find_hakmem_lib does, into ABS
 * (PATH_MAX bytes); without it they cannot run at all. HINT follows the
 * message about a missing default: what this driver's user can do. */
static inline void need_hakmem_lib(const char *given, char *abs, const char *hint) {
    char tried[PATH_MAX * 2];
    if (find_hakmem_lib(given, tried, sizeof tried, abs)) return;
    if (given) driver_die("cannot read --lib %s: %s", tried, strerror(errno));
    driver_die("no hakmem library at %s (the default, next to the %s binary)%s", tried, driver_name,
               hint);
}

/* The directory the workload programs are taken from: --bin-dir GIVEN, or
 * the driver's own (DIR holds PATH_MAX bytes). */
static inline void find_bin_dir(const char *given, char *dir, size_t cap) {
    if (given == NULL) {
        find_self_dir(dir, cap);
        return;
    }
    if (realpath(given, dir) == NULL) driver_die("--bin-dir %s: %s", given, strerror(errno));
}

/* PROG (CAP bytes) is workload W's program in BIN_DIR. */
static inline void workload_prog(const char *bin_dir, const workload_t *w, char *prog, size_t cap) {
    snprintf(prog, cap, "%s/%s", bin_dir, w->args[0]);
}

/* Like workload_prog, but a program that is not there ends the driver: a
 * missing build must not show up as a column of exec-failed runs. */
static inline void workload_require(const char *bin_dir, const workload_t *w, char *prog,
                                    size_t cap) {
    workload_prog(bin_dir, w, prog, cap);
    if (access(prog, X_OK) != 0)
        driver_die("workload %s needs %s, which is not an executable (%s); build the bench "
                   "targets or pass --bin-dir",
                   w->name, prog, strerror(errno));
}

/* The checks behind --repeats, --timeout and --seconds; each driver words
 * its own complaint. */
static inline bool parse_repeats(const char *v, int *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 1 || n > 1000) return false;
    *out = (int)n;
    return true;
}

static inline bool parse_duration(const char *v, double *out) {
    char *end;
    double t = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(t > 0) || t > 86400) return false;
    *out = t;
    return true;
}

/* "--name VALUE" or "--name=VALUE"; a missing value is a usage error. */
static inline const char *need_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value (see --help)\n", driver_name, name);
        exit(2);
    }
    return argv[++*i];
}

static inline bool is_opt(const char *arg, const char *name) {
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* An option whose value is kept as typed (a path or a list): NAME's value
 * goes to *VALUE. */
typedef struct {
    const char *name;
    const char **value;
} text_opt_t;

/* The options every driver handles alike: --help/-h (usage on stdout, exit
 * 0) and those of TEXTS, a list ended by a NULL name. False when argv[*i]
 * is none of them, so the driver goes on to its own. */
static inline bool driver_option(int argc, char **argv, int *i, void (*usage)(FILE *),
                                 const text_opt_t *texts) {
    const char *a = argv[*i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        usage(stdout);
        exit(0);
    }
    for (; texts->name; texts++)
        if (is_opt(a, texts->name)) {
            *texts->value = need_value(argc, argv, i, texts->name);
            return true;
        }
    return false;
}

#endif
