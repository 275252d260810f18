/* spawn.c — one process, start to end: forked into its own process group
 * (so a timeout or Ctrl-C kills everything the workload started), stdin
 * from /dev/null, stdout and stderr collected and capped, killed at its
 * timeout or when the caller's stop flag is set, and reaped with wait4 for
 * its CPU times and peak RSS. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define HEAD_KEEP ((size_t)64 << 10)
#define TAIL_KEEP ((size_t)1 << 20)

double hr_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- capped output ----------------------------------------------------------- */

static bool grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    char *d = realloc(*buf, c);
    if (d == NULL) return false;
    *buf = d;
    *cap = c;
    return true;
}

/* Out of memory loses output, never the run: the status still comes from
 * the process. */
static void output_add(hr_output_t *o, const char *s, size_t n) {
    if (o->len < HEAD_KEEP) {
        size_t k = n < HEAD_KEEP - o->len ? n : HEAD_KEEP - o->len;
        if (!grow(&o->data, &o->cap, o->len + k + 1)) return;
        memcpy(o->data + o->len, s, k);
        o->len += k;
        o->data[o->len] = '\0';
        s += k;
        n -= k;
    }
    if (n == 0) return;
    if (o->tail == NULL && (o->tail = malloc(2 * TAIL_KEEP)) == NULL) return;
    if (n > TAIL_KEEP) {
        o->cut += n - TAIL_KEEP;
        s += n - TAIL_KEEP;
        n = TAIL_KEEP;
    }
    if (o->tail_len + n > 2 * TAIL_KEEP) {
        size_t drop = o->tail_len + n - TAIL_KEEP;
        memmove(o->tail, o->tail + drop, o->tail_len - drop);
        o->tail_len -= drop;
        o->cut += drop;
    }
    memcpy(o->tail + o->tail_len, s, n);
    o->tail_len += n;
}

/* Head, a line for what was left out, tail: one string. */
static void output_finish(hr_output_t *o) {
    if (o->tail == NULL) return;
    char mark[80] = "";
    if (o->cut) snprintf(mark, sizeof mark, "\n[... %zu bytes left out ...]\n", o->cut);
    size_t m = strlen(mark);
    if (grow(&o->data, &o->cap, o->len + m + o->tail_len + 1)) {
        memcpy(o->data + o->len, mark, m);
        memcpy(o->data + o->len + m, o->tail, o->tail_len);
        o->len += m + o->tail_len;
        o->data[o->len] = '\0';
    }
    free(o->tail);
    o->tail = NULL;
    o->tail_len = 0;
}

const char *hr_out(const hr_proc_t *p) {
    return p->out.data ? p->out.data : "";
}

const char *hr_err(const hr_proc_t *p) {
    return p->err.data ? p->err.data : "";
}

void hr_proc_free(hr_proc_t *p) {
    free(p->out.data);
    free(p->err.data);
    free(p->out.tail);
    free(p->err.tail);
    p->out = p->err = (hr_output_t){0};
}

int hr_exit_code(const hr_proc_t *p) {
    return WIFEXITED(p->wstatus) ? WEXITSTATUS(p->wstatus) : 0;
}

int hr_signal(const hr_proc_t *p) {
    return WIFSIGNALED(p->wstatus) ? WTERMSIG(p->wstatus) : 0;
}

void hr_last_line(const char *text, char *buf, size_t cap) {
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' ')) n--;
    size_t start = n;
    while (start && text[start - 1] != '\n') start--;
    size_t len = n - start;
    if (len > 120) len = 120;
    snprintf(buf, cap, "%.*s", (int)len, text + start);
}

/* ---- the child ------------------------------------------------------------------ */

static void drop_inherited_hakmem(void) {
    for (;;) {
        char **e = environ;
        while (*e && strncmp(*e, "HAKMEM_", 7) != 0) e++;
        if (*e == NULL) return;
        char name[256];
        size_t n = strcspn(*e, "=");
        if (n >= sizeof name) n = sizeof name - 1;
        memcpy(name, *e, n);
        name[n] = '\0';
        if (unsetenv(name) != 0) return;
    }
}

void hr_apply_env(const hr_env_t *env, int nenv, bool drop_hakmem) {
    unsetenv("LD_PRELOAD");
    if (drop_hakmem) drop_inherited_hakmem();
    for (int i = 0; i < nenv; i++) {
        if (env[i].value)
            setenv(env[i].name, env[i].value, 1);
        else
            unsetenv(env[i].name);
    }
}

static _Noreturn void child(const hr_spawn_t *s, int out, int err, int errpipe) {
    setpgid(0, 0);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO); /* a background group must not read the tty */
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    hr_apply_env(s->env, s->nenv, s->drop_hakmem);
    execvp(s->argv[0], (char *const *)s->argv);
    int e = errno;
    ssize_t ignored = write(errpipe, &e, sizeof e);
    (void)ignored;
    _exit(127);
}

/* ---- the parent ------------------------------------------------------------------ */

static double tv_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

void hr_spawn(const hr_spawn_t *s, hr_proc_t *p) {
    memset(p, 0, sizeof *p);
    int out[2], err[2], ep[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        p->exec_errno = errno;
        return;
    }
    if (pipe2(err, O_CLOEXEC) != 0) {
        p->exec_errno = errno;
        close(out[0]), close(out[1]);
        return;
    }
    if (pipe2(ep, O_CLOEXEC) != 0) {
        p->exec_errno = errno;
        close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        return;
    }
    fflush(NULL);
    double t0 = hr_now();
    pid_t pid = fork();
    if (pid == 0) child(s, out[1], err[1], ep[1]);
    int fork_errno = errno;
    close(out[1]);
    close(err[1]);
    close(ep[1]);
    if (pid < 0) {
        p->exec_errno = fork_errno;
        close(out[0]), close(err[0]), close(ep[0]);
        return;
    }
    setpgid(pid, pid); /* also here: whichever side runs first, the group exists */
    p->pid = pid;

    struct pollfd fds[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    bool reaped = false, killed = false;
    double t1 = t0;
    while (!reaped || fds[0].fd >= 0 || fds[1].fd >= 0) {
        if (!reaped && wait4(pid, &p->wstatus, WNOHANG, &ru) == pid) {
            reaped = true;
            t1 = hr_now();
            /* Leftovers of the workload would steal the next run's CPU. */
            kill(-pid, SIGKILL);
        }
        if (!reaped && !killed) {
            bool stop = s->stop && *s->stop;
            if (stop || hr_now() - t0 > s->timeout_s) {
                kill(-pid, SIGKILL);
                killed = true;
                p->interrupted = stop;
                p->timed_out = !stop;
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
                output_add(i == 0 ? &p->out : &p->err, buf, (size_t)k);
                any = true;
            } else if (k == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
        /* Reaped and nothing left to read now: a grandchild that left the
         * group may hold the pipes open forever. */
        if (reaped && !any) break;
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    if (!reaped) {
        /* poll failed: the run cannot be watched any longer. */
        kill(-pid, SIGKILL);
        wait4(pid, &p->wstatus, 0, &ru);
        t1 = hr_now();
    }
    int e = 0;
    if (read(ep[0], &e, sizeof e) == (ssize_t)sizeof e) p->exec_errno = e ? e : ENOEXEC;
    close(ep[0]);
    output_finish(&p->out);
    output_finish(&p->err);
    p->wall_s = t1 - t0;
    p->user_s = tv_s(ru.ru_utime);
    p->sys_s = tv_s(ru.ru_stime);
    p->maxrss_kib = ru.ru_maxrss;
}
