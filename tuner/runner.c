/* runner.c — one run of the workload under a candidate profile: fork/exec
 * with LD_PRELOAD=libhakmem.so and HAKMEM_CONFIG=candidate, a timeout, the
 * rusage from wait4, the metric from its output and hakmem's own stats read
 * back, all folded into one status.
 *
 * The stats are the proof that hakmem ran: ld.so silently ignores a preload
 * it cannot apply (a static or setuid program, a wrong path), and a run in
 * which hakmem served nothing measured the C library's allocator. Both are
 * refused, never scored. */
#include "tune.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define OUT_KEEP ((size_t)1 << 20) /* the tail of a run's output worth keeping */

static const char *const status_names[HT_STATUS_COUNT] = {
#define HT_STATUS_NAME(id, name) name,
    HT_STATUSES(HT_STATUS_NAME)
#undef HT_STATUS_NAME
};

const char *ht_status_name(ht_status_t st) {
    return st < HT_STATUS_COUNT ? status_names[st] : "?";
}

bool ht_status_parse(const char *name, ht_status_t *out) {
    for (int i = 0; i < HT_STATUS_COUNT; i++)
        if (strcmp(status_names[i], name) == 0) {
            *out = (ht_status_t)i;
            return true;
        }
    return false;
}

/* ---- command lines ------------------------------------------------------ */

bool ht_split_command(const char *text, char ***argv_out, int *argc_out, char *why, size_t cap) {
    size_t len = strlen(text);
    char **argv = calloc(len / 2 + 2, sizeof *argv);
    char *word = malloc(len + 1);
    int argc = 0;
    const char *s = text;
    if (!argv || !word) {
        ht_fmt(why, cap, "out of memory");
        goto bad;
    }
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n') s++;
        if (*s == '\0') break;
        size_t n = 0;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
            if (*s == '\'') {
                const char *end = strchr(s + 1, '\'');
                if (!end) {
                    ht_fmt(why, cap, "unterminated ' quote");
                    goto bad;
                }
                memcpy(word + n, s + 1, (size_t)(end - s - 1));
                n += (size_t)(end - s - 1);
                s = end + 1;
            } else if (*s == '"') {
                s++;
                while (*s && *s != '"') {
                    if (*s == '\\' && s[1] && strchr("\"\\$`", s[1])) s++;
                    word[n++] = *s++;
                }
                if (*s != '"') {
                    ht_fmt(why, cap, "unterminated \" quote");
                    goto bad;
                }
                s++;
            } else if (*s == '\\') {
                if (s[1] == '\0') {
                    ht_fmt(why, cap, "a backslash ends the command");
                    goto bad;
                }
                word[n++] = s[1];
                s += 2;
            } else {
                word[n++] = *s++;
            }
        }
        word[n] = '\0';
        argv[argc] = strdup(word);
        if (!argv[argc++]) {
            ht_fmt(why, cap, "out of memory");
            goto bad;
        }
    }
    free(word);
    if (argc == 0) {
        ht_fmt(why, cap, "the command is empty");
        free(argv);
        return false;
    }
    argv[argc] = NULL;
    *argv_out = argv;
    *argc_out = argc;
    return true;
bad:
    for (int i = 0; argv && i < argc; i++) free(argv[i]);
    free(argv);
    free(word);
    return false;
}

void ht_command_text(char *const *argv, int argc, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && n + 1 < cap; i++) {
        const char *a = argv[i];
        bool plain = a[0] != '\0';
        for (const char *c = a; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+%@",
                        *c))
                plain = false;
        if (i) buf[n++] = ' ';
        if (plain) {
            n += (size_t)snprintf(buf + n, cap - n, "%s", a);
        } else {
            if (n + 1 < cap) buf[n++] = '\'';
            for (const char *c = a; *c && n + 5 < cap; c++) {
                if (*c == '\'') {
                    memcpy(buf + n, "'\\''", 4);
                    n += 4;
                } else {
                    buf[n++] = *c;
                }
            }
            if (n + 1 < cap) buf[n++] = '\'';
        }
        if (n >= cap) n = cap - 1;
        buf[n] = '\0';
    }
}

/* ---- set-up --------------------------------------------------------------- */

int ht_runner_init(ht_runner_t *r, const char *metric, const char *parent) {
    if (metric == NULL) {
        r->metric = HT_METRIC_THROUGHPUT;
        metric = "Throughput = ([0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?)";
    } else if (strcmp(metric, "wall") == 0) {
        r->metric = HT_METRIC_WALL;
    } else {
        r->metric = HT_METRIC_REGEX;
    }
    snprintf(r->metric_text, sizeof r->metric_text, "%s", metric);
    if (r->metric != HT_METRIC_WALL) {
        int e = regcomp(&r->re, metric, REG_EXTENDED);
        if (e != 0) {
            char msg[200];
            regerror(e, &r->re, msg, sizeof msg);
            fprintf(stderr,
                    "hak-tune: --metric '%s': not a regular expression (%s); expected a POSIX "
                    "extended regex whose first group captures the number, or 'wall'\n",
                    metric, msg);
            return 2;
        }
    }
    snprintf(r->workdir, sizeof r->workdir, "%s/hak-tune.XXXXXX", parent);
    if (mkdtemp(r->workdir) == NULL) {
        fprintf(stderr, "hak-tune: cannot create a work directory in %s: %s (set TMPDIR)\n", parent,
                strerror(errno));
        return 1;
    }
    snprintf(r->profile_path, sizeof r->profile_path, "%s/candidate.cfg", r->workdir);
    snprintf(r->stats_dir, sizeof r->stats_dir, "%s/stats", r->workdir);
    if (mkdir(r->stats_dir, 0700) != 0) {
        fprintf(stderr, "hak-tune: cannot create %s: %s\n", r->stats_dir, strerror(errno));
        return 1;
    }
    /* The child's environment: the caller's, but no preload and no HAKMEM_
     * settings of its own: an inherited HAKMEM_ALIGN_MODE would beat every
     * candidate profile and the search would measure one point only. */
    int n = 0;
    for (char **e = environ; *e; e++) n++;
    r->envp = calloc((size_t)n + 8, sizeof *r->envp);
    if (!r->envp) return 1;
    r->nenv = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) == 0 || strncmp(*e, "HAKMEM_", 7) == 0) continue;
        r->envp[r->nenv++] = *e;
    }
    return 0;
}

static void clear_stats(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

void ht_runner_done(ht_runner_t *r) {
    if (r->workdir[0]) {
        clear_stats(r->stats_dir);
        rmdir(r->stats_dir);
        unlink(r->profile_path);
        rmdir(r->workdir);
    }
    if (r->metric != HT_METRIC_WALL && r->metric_text[0]) regfree(&r->re);
    free(r->envp);
}

/* ---- one run ---------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len;
} tail_t;

/* Keeps the last OUT_KEEP bytes: the metric line comes at the end. */
static void tail_add(tail_t *t, const char *s, size_t n) {
    if (t->data == NULL && (t->data = malloc(2 * OUT_KEEP + 1)) == NULL) return;
    if (n > OUT_KEEP) {
        s += n - OUT_KEEP;
        n = OUT_KEEP;
    }
    if (t->len + n > 2 * OUT_KEEP) {
        size_t drop = t->len + n - OUT_KEEP;
        memmove(t->data, t->data + drop, t->len - drop);
        t->len -= drop;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static const char *tail_str(const tail_t *t) {
    return t->data ? t->data : "";
}

static double tv_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static bool write_candidate(const ht_runner_t *r, const ht_profile_t *p) {
    FILE *f = fopen(r->profile_path, "w");
    if (!f) return false;
    fputs("# candidate profile written by hak-tune for one run\n", f);
    ht_profile_write_knobs(f, p);
    return fclose(f) == 0;
}

/* The last match of the metric in text; false when there is none. */
static bool find_metric(const ht_runner_t *r, const char *text, double *out) {
    bool found = false;
    const char *s = text;
    regmatch_t m[2];
    while (*s && regexec(&r->re, s, 2, m, s == text ? 0 : REG_NOTBOL) == 0) {
        regmatch_t g = m[1].rm_so >= 0 ? m[1] : m[0];
        char num[64];
        size_t n = (size_t)(g.rm_eo - g.rm_so);
        if (n >= sizeof num) n = sizeof num - 1;
        memcpy(num, s + g.rm_so, n);
        num[n] = '\0';
        char *end;
        double v = strtod(num, &end);
        if (end != num && isfinite(v) && v >= 0) {
            *out = v;
            found = true;
        }
        s += m[0].rm_eo > 0 ? m[0].rm_eo : 1;
    }
    return found;
}

/* Sums every stats file the run's processes wrote (a workload may fork);
 * false when there is none. */
static bool read_stats(const ht_runner_t *r, ht_run_t *out, char *why, size_t cap) {
    DIR *d = opendir(r->stats_dir);
    if (!d) return false;
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[8192], text[8192];
        snprintf(path, sizeof path, "%s/%s", r->stats_dir, e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        if (n <= 0) continue;
        text[n] = '\0';
        char err[80];
        ht_json_t *j = ht_json_parse(text, err, sizeof err);
        if (!j) {
            ht_fmt(why, cap, "unreadable stats file %s: %s", e->d_name, err);
            continue;
        }
        files++;
        out->served += ht_json_num(j, "tiny_alloc", 0) + ht_json_num(j, "mid_alloc", 0) +
                       ht_json_num(j, "large_alloc", 0);
        out->libc += ht_json_num(j, "libc_alloc", 0);
        out->mmap += ht_json_num(j, "os_mmap", 0);
        out->munmap += ht_json_num(j, "os_munmap", 0);
        out->madvise += ht_json_num(j, "os_madvise", 0);
        double peak = ht_json_num(j, "bytes_mapped_peak", 0);
        if (peak > out->mapped_peak) out->mapped_peak = peak;
        ht_json_free(j);
    }
    closedir(d);
    return files > 0;
}

/* The last non-empty line of text, shortened, for a reason. */
static void last_line(const char *text, char *buf, size_t cap) {
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' ')) n--;
    size_t start = n;
    while (start && text[start - 1] != '\n') start--;
    size_t len = n - start;
    if (len > 120) len = 120;
    snprintf(buf, cap, "%.*s", (int)len, text + start);
}

static const char *signal_text(int sig) {
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGABRT:
        return "SIGABRT";
    case SIGBUS:
        return "SIGBUS";
    case SIGFPE:
        return "SIGFPE";
    case SIGILL:
        return "SIGILL";
    case SIGKILL:
        return "SIGKILL";
    case SIGTERM:
        return "SIGTERM";
    default:
        return NULL;
    }
}

static _Noreturn void child(const ht_runner_t *r, char **envp, int out, int err, int ep) {
    setpgid(0, 0); /* so a timeout kills whatever the workload started */
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    execvpe(r->argv[0], r->argv, envp);
    int e = errno;
    ssize_t ignored = write(ep, &e, sizeof e);
    (void)ignored;
    _exit(127);
}

void ht_run(ht_runner_t *r, const ht_profile_t *p, ht_run_t *out) {
    memset(out, 0, sizeof *out);
    out->metric = NAN;
    if (!write_candidate(r, p)) {
        out->st = HT_EXEC_FAILED;
        ht_fmt(out->reason, sizeof out->reason, "cannot write %s: %s", r->profile_path,
               strerror(errno));
        return;
    }
    clear_stats(r->stats_dir);

    char e_pre[4200], e_cfg[4300], e_stats[4300];
    snprintf(e_pre, sizeof e_pre, "LD_PRELOAD=%s", r->lib);
    snprintf(e_cfg, sizeof e_cfg, "HAKMEM_CONFIG=%s", r->profile_path);
    snprintf(e_stats, sizeof e_stats, "HAKMEM_STATS_FILE=%s/%%p.json", r->stats_dir);
    int n = r->nenv;
    r->envp[n++] = e_pre;
    r->envp[n++] = e_cfg;
    r->envp[n++] = e_stats;
    /* A candidate hakmem would not accept must fail loudly, not run on
     * defaults and be scored as if it were that candidate. */
    r->envp[n++] = "HAKMEM_STRICT=1";
    r->envp[n] = NULL;

    int po[2], pe[2], ep[2];
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
        out->st = HT_EXEC_FAILED;
        ht_fmt(out->reason, sizeof out->reason, "pipe: %s", strerror(errno));
        r->envp[r->nenv] = NULL;
        return;
    }
    fflush(NULL);
    double t0 = ht_now();
    pid_t pid = fork();
    if (pid == 0) child(r, r->envp, po[1], pe[1], ep[1]);
    r->envp[r->nenv] = NULL;
    close(po[1]);
    close(pe[1]);
    close(ep[1]);
    if (pid < 0) {
        out->st = HT_EXEC_FAILED;
        ht_fmt(out->reason, sizeof out->reason, "fork: %s", strerror(errno));
        close(po[0]);
        close(pe[0]);
        close(ep[0]);
        return;
    }
    setpgid(pid, pid); /* also here: whichever side runs first, the group exists */

    tail_t so = {0}, se = {0};
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    int wstatus = 0;
    bool reaped = false, timed_out = false, interrupted = false;
    double t1 = t0;
    while (!reaped || fds[0].fd >= 0 || fds[1].fd >= 0) {
        if (!reaped && wait4(pid, &wstatus, WNOHANG, &ru) == pid) {
            reaped = true;
            t1 = ht_now();
            /* Leftovers of the workload would steal the next run's CPU. */
            kill(-pid, SIGKILL);
        }
        if (!reaped && !timed_out && !interrupted) {
            if (r->stop && *r->stop) {
                interrupted = true;
                kill(-pid, SIGKILL);
            } else if (ht_now() - t0 > r->timeout_s) {
                timed_out = true;
                kill(-pid, SIGKILL);
            }
        }
        int got = poll(fds, 2, reaped ? 0 : 20);
        if (got < 0 && errno != EINTR) break;
        bool any = false;
        for (int i = 0; i < 2 && got > 0; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buf[65536];
            ssize_t k = read(fds[i].fd, buf, sizeof buf);
            if (k > 0) {
                tail_add(i == 0 ? &so : &se, buf, (size_t)k);
                any = true;
            } else if (k == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
        /* Reaped and nothing left to read now: a grandchild that escaped the
         * group may hold the pipes open forever. */
        if (reaped && !any) break;
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    int exec_errno = 0;
    if (read(ep[0], &exec_errno, sizeof exec_errno) != (ssize_t)sizeof exec_errno) exec_errno = 0;
    close(ep[0]);

    out->wall = t1 - t0;
    out->user = tv_s(ru.ru_utime);
    out->sys = tv_s(ru.ru_stime);
    out->rss_kb = (double)ru.ru_maxrss;
    const char *err = tail_str(&se);
    char line[160];
    last_line(err, line, sizeof line);

    if (exec_errno) {
        out->st = HT_EXEC_FAILED;
        ht_fmt(out->reason, sizeof out->reason, "cannot run %s: %s", r->argv[0],
               strerror(exec_errno));
    } else if (interrupted) {
        out->st = HT_INTERRUPTED;
        ht_fmt(out->reason, sizeof out->reason, "interrupted by the user");
    } else if (timed_out) {
        out->st = HT_TIMEOUT;
        ht_fmt(out->reason, sizeof out->reason, "still running after %.1f s: killed", r->timeout_s);
    } else if (strstr(err, "cannot be preloaded")) {
        out->st = HT_PRELOAD_FAILED;
        ht_fmt(out->reason, sizeof out->reason, "ld.so could not preload %s", r->lib);
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 2 &&
               (strstr(err, "refusing to start") || strncmp(line, "hakmem: ", 8) == 0)) {
        /* strict mode: hakmem's own message, then exit status 2 */
        out->st = HT_REJECTED;
        ht_fmt(out->reason, sizeof out->reason, "hakmem refused the profile: %s", line);
    } else if (WIFSIGNALED(wstatus)) {
        const char *name = signal_text(WTERMSIG(wstatus));
        out->st = HT_CRASH;
        if (name)
            ht_fmt(out->reason, sizeof out->reason, "killed by %s%s%s", name, line[0] ? ": " : "",
                   line);
        else
            ht_fmt(out->reason, sizeof out->reason, "killed by signal %d%s%s", WTERMSIG(wstatus),
                   line[0] ? ": " : "", line);
    } else if (WEXITSTATUS(wstatus) != 0) {
        out->st = HT_EXIT;
        ht_fmt(out->reason, sizeof out->reason, "exit status %d%s%s", WEXITSTATUS(wstatus),
               line[0] ? ": " : "", line);
    } else {
        bool have = true;
        if (r->metric == HT_METRIC_WALL)
            out->metric = out->wall > 0 ? 1.0 / out->wall : NAN;
        else
            have = find_metric(r, tail_str(&so), &out->metric) || find_metric(r, err, &out->metric);
        char why[160] = "";
        if (!have) {
            out->st = HT_NO_METRIC;
            ht_fmt(out->reason, sizeof out->reason, "no match for /%s/ in its output",
                   r->metric_text);
        } else if (!read_stats(r, out, why, sizeof why)) {
            out->st = HT_NO_STATS;
            ht_fmt(out->reason, sizeof out->reason,
                   "hakmem wrote no stats: the preload did not take (a static or setuid "
                   "program?)%s%s",
                   why[0] ? "; " : "", why);
        } else if (out->served <= 0) {
            out->st = HT_UNSERVED;
            ht_fmt(out->reason, sizeof out->reason,
                   "hakmem served no allocation (%.0f went to the C library): this run "
                   "measured another allocator",
                   out->libc);
        } else {
            out->st = HT_OK;
        }
    }
    free(so.data);
    free(se.data);
}
