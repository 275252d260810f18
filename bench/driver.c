/* driver.c — what compare and sweep share beyond the harness (driver.h):
 * messages, Ctrl-C, common options, finding programs and the library, and
 * the way a run and a row of runs are printed. */
#include "driver.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *driver_name = "bench";
volatile sig_atomic_t driver_interrupted;

static void on_signal(int sig) {
    (void)sig;
    driver_interrupted = 1;
}

void driver_trap_interrupts(void) {
    /* No SA_RESTART: Ctrl-C must wake the poll loop so the running child is
     * killed and what was measured so far still gets reported. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void driver_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", driver_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

char *driver_strdup(const char *s) {
    char *d = strdup(s);
    if (d == NULL) driver_die("out of memory");
    return d;
}

/* ---- workloads ------------------------------------------------------------- */

void workloads_usage(FILE *f) {
    for (int i = 0; i < HR_NWORKLOADS; i++) {
        fprintf(f, "  %-13s", hr_workloads[i].name);
        for (int a = 0; hr_workloads[i].args[a]; a++) fprintf(f, " %s", hr_workloads[i].args[a]);
        fprintf(f, "\n  %13s (%s)\n", "", hr_workloads[i].stands_for);
    }
}

void workload_unknown(const char *name, const char *extra) {
    fprintf(stderr, "%s: unknown workload '%s'; known:", driver_name, name);
    for (int k = 0; k < HR_NWORKLOADS; k++) fprintf(stderr, " %s", hr_workloads[k].name);
    fprintf(stderr, "%s\n", extra);
    exit(2);
}

void workload_print_command(FILE *f, const hr_workload_t *w, const char *seconds) {
    char args[1024];
    hr_workload_args(w, seconds, args, sizeof args);
    fprintf(f, "%s %s", w->args[0], args);
}

static void self_dir_or_die(char *dir, size_t cap) {
    hr_self_dir(dir, cap);
    if (strcmp(dir, ".") == 0) driver_die("cannot read /proc/self/exe: %s", strerror(errno));
}

void find_bin_dir(const char *given, char *dir, size_t cap) {
    if (given == NULL) {
        self_dir_or_die(dir, cap);
        return;
    }
    if (realpath(given, dir) == NULL) driver_die("--bin-dir %s: %s", given, strerror(errno));
}

void workload_prog(const char *bin_dir, const hr_workload_t *w, char *prog, size_t cap) {
    snprintf(prog, cap, "%s/%s", bin_dir, w->args[0]);
}

void workload_require(const char *bin_dir, const hr_workload_t *w, char *prog, size_t cap) {
    workload_prog(bin_dir, w, prog, cap);
    if (access(prog, X_OK) != 0)
        driver_die("workload %s needs %s, which is not an executable (%s); build the bench "
                   "targets or pass --bin-dir",
                   w->name, prog, strerror(errno));
}

void need_hakmem_lib(const char *given, char *abs, const char *hint) {
    char tried[PATH_MAX * 3];
    if (hr_find_lib(given, abs, PATH_MAX, tried, sizeof tried)) return;
    if (given) driver_die("cannot read --lib %s: %s", given, strerror(errno));
    driver_die("no hakmem library at %s (the defaults, next to the %s binary and where it is "
               "installed)%s",
               tried, driver_name, hint);
}

/* ---- runs and rows ------------------------------------------------------------- */

void tally_add(tally_t *t, hr_status_t st, int sig, int exit_code) {
    t->count[st]++;
    if (st != HR_CRASH && st != HR_EXIT) return;
    int code = st == HR_CRASH ? sig : exit_code;
    int k = 0, *n = &t->ncodes[st];
    while (k < *n && t->codes[st][k] != code) k++;
    if (k == *n && *n < 4) t->codes[st][(*n)++] = code;
}

void tally_text(const tally_t *t, char *buf, size_t cap) {
    int runs = 0;
    for (int st = 0; st < HR_STATUS_COUNT; st++) runs += t->count[st];
    if (t->count[HR_OK] == runs) {
        snprintf(buf, cap, "%s", runs ? "ok" : "not run");
        return;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int st = 0; st < HR_STATUS_COUNT; st++) {
        if (t->count[st] == 0) continue;
        len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%d %s", len ? ", " : "",
                                t->count[st], hr_status_name((hr_status_t)st));
        for (int k = 0; k < t->ncodes[st]; k++) {
            char code[32];
            if (st == HR_CRASH)
                hr_signal_name(t->codes[st][k], code, sizeof code);
            else
                snprintf(code, sizeof code, "%d", t->codes[st][k]);
            len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s%s", k ? " " : " (",
                                    code, k + 1 == t->ncodes[st] ? ")" : "");
        }
    }
}

void progress_begin(int done, int total, const char *label, int width, int repeat,
                    const hr_result_t *m) {
    char tp[40], st[48];
    commas(m->metric, tp, sizeof tp);
    hr_status_short(m->status, m->signal, m->exit_code, st, sizeof st);
    fprintf(stderr,
            "[%*d/%d] %-*s #%d  %-14s %14s ops/s  user %6.2f s  sys %6.2f s  rss %7.1f MiB  "
            "wall %6.2f s",
            total >= 100 ? 3 : 2, done, total, width, label, repeat + 1, st, tp, m->user_s,
            m->sys_s, (double)m->maxrss_kib / 1024.0, m->wall_s);
}

void csv_measure(FILE *f, int repeat, const hr_result_t *m) {
    fprintf(f, "%d,%s,%d,%d,", repeat + 1, hr_status_name(m->status), m->exit_code, m->signal);
    if (!isnan(m->metric)) fprintf(f, "%.0f", m->metric);
    fprintf(f, ",%.3f,%.3f,%.3f", m->wall_s, m->user_s, m->sys_s);
}

void commas(double v, char *buf, size_t cap) {
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

void commas_range(double min, double max, char *buf, size_t cap) {
    char lo[40], hi[40];
    commas(min, lo, sizeof lo);
    commas(max, hi, sizeof hi);
    if (isnan(min))
        snprintf(buf, cap, "–");
    else
        snprintf(buf, cap, "%s–%s", lo, hi);
}

void fmt_num(double v, const char *fmt, char *buf, size_t cap) {
    if (isnan(v))
        snprintf(buf, cap, "–");
    else
        snprintf(buf, cap, fmt, v);
}

void session_print(FILE *f, const hr_session_t *s) {
    fprintf(f, "- date: %s; host: %s, %ld CPUs, load average at start %.2f\n", s->date, s->host,
            s->cpus, s->load[0]);
}

/* ---- options --------------------------------------------------------------------- */

bool parse_repeats(const char *v, int *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 1 || n > 1000) return false;
    *out = (int)n;
    return true;
}

bool parse_duration(const char *v, double *out) {
    char *end;
    double t = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(t > 0) || t > 86400) return false;
    *out = t;
    return true;
}

const char *need_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value (see --help)\n", driver_name, name);
        exit(2);
    }
    return argv[++*i];
}

bool is_opt(const char *arg, const char *name) {
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

bool driver_option(int argc, char **argv, int *i, void (*usage)(FILE *), const text_opt_t *texts) {
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
