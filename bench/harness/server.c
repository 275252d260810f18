/* server.c — one measured run of a server driven by a client: a free port,
 * the server started afresh in its own process group and waited for until
 * it accepts connections, the client run to its end, then the server shut
 * down cleanly (SIGTERM, then wait4 for its CPU times and peak RSS), and
 * the one status all of that comes to.
 *
 * Only the server gets the job's environment (the preloaded allocator and
 * its profile): the client is the load generator, and its allocator is not
 * what is measured. The figures are the server's, the metric the client's,
 * and the server's hakmem stats, written at its exit, prove that hakmem
 * served the run. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int hr_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool accepting(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

char **hr_with_port(const char *const *argv, int port) {
    int n = 0;
    while (argv[n]) n++;
    char **out = calloc((size_t)n + 1, sizeof *out);
    if (!out) return NULL;
    char num[16];
    snprintf(num, sizeof num, "%d", port);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(argv[i]) + 1, k = 0;
        for (const char *s = argv[i]; (s = strstr(s, "{port}")) != NULL; s += 6) k++;
        char *w = malloc(len + k * strlen(num));
        if (!w) {
            hr_argv_free(out);
            return NULL;
        }
        out[i] = w;
        for (const char *s = argv[i]; *s;) {
            if (strncmp(s, "{port}", 6) == 0) {
                w = stpcpy(w, num);
                s += 6;
            } else {
                *w++ = *s++;
            }
        }
        *w = '\0';
    }
    return out;
}

void hr_argv_free(char **argv) {
    for (int i = 0; argv && argv[i]; i++) free(argv[i]);
    free(argv);
}

bool hr_has_port(const char *const *argv) {
    for (int i = 0; argv[i]; i++)
        if (strstr(argv[i], "{port}")) return true;
    return false;
}

/* The server's output, read back into P as its stderr, so that the
 * classification and the reasons read it as they read any process's. */
static void read_output(const char *path, hr_proc_t *p) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    /* The last 64 KiB are where a dying server says why. */
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        if (end > 65536)
            fseek(f, end - 65536, SEEK_SET);
        else
            rewind(f);
    }
    char *buf = malloc(65537);
    if (buf) {
        size_t n = fread(buf, 1, 65536, f);
        buf[n] = '\0';
        p->err.data = buf;
        p->err.len = n;
        p->err.cap = 65537;
    }
    fclose(f);
}

static double tv_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

typedef struct {
    pid_t pid;
    bool reaped;
    int wstatus;
    struct rusage ru;
} server_t;

static bool reap(server_t *s, int flags) {
    if (s->reaped) return true;
    pid_t got = wait4(s->pid, &s->wstatus, flags, &s->ru);
    if (got == s->pid) {
        s->reaped = true;
        kill(-s->pid, SIGKILL); /* whatever it started goes with it */
    }
    return s->reaped;
}

static bool start(const hr_server_job_t *job, char *const *argv, server_t *s, int *exec_errno) {
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) != 0) {
        *exec_errno = errno;
        return false;
    }
    int out = open(job->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        *exec_errno = errno;
        close(ep[0]), close(ep[1]);
        return false;
    }
    fflush(NULL);
    s->pid = fork();
    if (s->pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        hr_apply_env(job->env, job->nenv, job->drop_hakmem);
        execvp(argv[0], argv);
        int e = errno;
        ssize_t ignored = write(ep[1], &e, sizeof e);
        (void)ignored;
        _exit(127);
    }
    int fork_errno = errno;
    close(out);
    close(ep[1]);
    if (s->pid < 0) {
        *exec_errno = fork_errno;
        close(ep[0]);
        return false;
    }
    setpgid(s->pid, s->pid);
    int e = 0;
    /* The pipe closes at a successful exec, so this waits no longer. */
    if (read(ep[0], &e, sizeof e) == (ssize_t)sizeof e) *exec_errno = e ? e : ENOEXEC;
    close(ep[0]);
    if (*exec_errno) reap(s, 0);
    return *exec_errno == 0;
}

/* Polls until the server accepts a connection on PORT. 0 ready, 1 it
 * ended first, 2 too long, 3 the caller stopped. */
static int wait_ready(const hr_server_job_t *job, server_t *s, int port) {
    double t0 = hr_now();
    for (;;) {
        if (reap(s, WNOHANG)) return 1;
        if (accepting(port)) return 0;
        if (job->stop && *job->stop) return 3;
        if (hr_now() - t0 > job->ready_s) return 2;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Whether the server is gone within secs. */
static bool reap_within(server_t *s, double secs) {
    double t0 = hr_now();
    while (!reap(s, WNOHANG)) {
        if (hr_now() - t0 > secs) return false;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* SIGTERM, then up to STOP_S for it to exit: false when it had to be
 * killed. */
static bool shut_down(server_t *s, double stop_s) {
    if (s->reaped) return true;
    kill(s->pid, SIGTERM);
    if (reap_within(s, stop_s)) return true;
    kill(-s->pid, SIGKILL);
    reap(s, 0);
    return false;
}

/* A server that dies mid-run takes its client down with it, and the client
 * can see the connection go before the kernel has finished the server (an
 * abort writing its core, a loaded machine): after a client that failed,
 * the server gets this long to be found dead before it is asked to stop,
 * or its death would count as a crash at shutdown. */
#define DEATH_GRACE_S 1.0

static void server_figures(const server_t *s, hr_proc_t *sp, hr_result_t *r) {
    sp->wstatus = s->wstatus;
    r->user_s = sp->user_s = tv_s(s->ru.ru_utime);
    r->sys_s = sp->sys_s = tv_s(s->ru.ru_stime);
    r->maxrss_kib = sp->maxrss_kib = s->ru.ru_maxrss;
}

void hr_run_server(const hr_server_job_t *job, hr_proc_t *client, hr_result_t *r) {
    memset(r, 0, sizeof *r);
    memset(client, 0, sizeof *client);
    r->metric = NAN;
    r->status = HR_OK;
    hr_proc_t sp = {0};
    server_t s = {0};
    char **sargv = NULL, **cargv = NULL;
    hr_env_t *env = NULL;
    int port = hr_free_port();
    if (port <= 0) {
        r->status = HR_EXEC_FAILED;
        hr_reason(r, "no free TCP port on 127.0.0.1: %s", strerror(errno));
        return;
    }
    r->port = port;
    sargv = hr_with_port(job->server_argv, port);
    cargv = hr_with_port(job->client_argv, port);
    if (!sargv || !cargv) {
        r->status = HR_EXEC_FAILED;
        hr_reason(r, "out of memory");
        goto done;
    }
    env = malloc(((size_t)job->nenv + 1) * sizeof *env);
    if (!env) {
        r->status = HR_EXEC_FAILED;
        hr_reason(r, "out of memory");
        goto done;
    }
    if (job->nenv) memcpy(env, job->env, (size_t)job->nenv * sizeof *env);
    int nenv = job->nenv;
    if (job->stats) {
        env[nenv++] = (hr_env_t){"HAKMEM_STATS_FILE", job->stats->file};
        hr_stats_dir_clear(job->stats);
    }
    hr_server_job_t sj = *job;
    sj.env = env;
    sj.nenv = nenv;
    int exec_errno = 0;
    if (!start(&sj, sargv, &s, &exec_errno)) {
        r->status = HR_EXEC_FAILED;
        hr_reason(r, "cannot run the server %s: %s", sargv[0], strerror(exec_errno));
        goto done;
    }

    int ready = wait_ready(job, &s, port);
    if (ready != 0) {
        if (ready != 1) {
            kill(-s.pid, SIGKILL);
            reap(&s, 0);
        }
        read_output(job->output, &sp);
        server_figures(&s, &sp, r);
        char line[160];
        hr_last_line(hr_err(&sp), line, sizeof line);
        if (ready == 3) {
            r->status = HR_INTERRUPTED;
            hr_reason(r, "interrupted by the user");
        } else if (ready == 2) {
            r->status = HR_TIMEOUT;
            hr_reason(r, "the server did not accept connections on port %d within %.0f s%s%s", port,
                      job->ready_s, line[0] ? ": " : "", line);
        } else if (!hr_process_failed(sargv[0], job->lib, job->ready_s, &sp, r)) {
            r->status = HR_CRASH;
            hr_reason(r, "the server exited (status 0) before accepting connections on port %d%s%s",
                      port, line[0] ? ": " : "", line);
        } else if (r->status == HR_CRASH || r->status == HR_EXIT) {
            char why[sizeof r->reason];
            snprintf(why, sizeof why, "%s", r->reason);
            r->status = HR_CRASH;
            hr_reason(r, "the server died before accepting connections on port %d: %s", port, why);
        }
        goto done;
    }

    hr_spawn_t cs = {.argv = (const char *const *)cargv,
                     .env = NULL,
                     .nenv = 0,
                     .drop_hakmem = true,
                     .timeout_s = job->timeout_s,
                     .stop = job->stop};
    hr_spawn(&cs, client);
    r->wall_s = client->wall_s;
    r->exit_code = hr_exit_code(client);
    r->signal = hr_signal(client);
    bool client_ok = r->exit_code == 0 && r->signal == 0;
    bool died = client_ok ? reap(&s, WNOHANG) : reap_within(&s, DEATH_GRACE_S);
    bool stopped = shut_down(&s, job->stop_s);
    read_output(job->output, &sp);
    server_figures(&s, &sp, r);
    char sline[160];
    hr_last_line(hr_err(&sp), sline, sizeof sline);
    char why[200] = "";
    if (job->stats) r->have_stats = hr_stats_read(job->stats, &r->stats, why, sizeof why);

    if (client->interrupted) {
        r->status = HR_INTERRUPTED;
        hr_reason(r, "interrupted by the user");
    } else if (died) {
        /* A server that goes while its client runs crashed, whatever the
         * client then said. */
        hr_result_t sr = {0};
        if (!hr_process_failed(sargv[0], job->lib, job->timeout_s, &sp, &sr))
            hr_reason(&sr, "exit status 0");
        r->status =
            sr.status == HR_REJECTED || sr.status == HR_PRELOAD_FAILED ? sr.status : HR_CRASH;
        hr_reason(r, "the server died during the run: %s", sr.reason);
    } else if (!stopped) {
        r->status = HR_TIMEOUT;
        hr_reason(r,
                  "the server did not exit within %.0f s of SIGTERM: killed, so its stats are lost",
                  job->stop_s);
    } else if (WIFSIGNALED(s.wstatus) && WTERMSIG(s.wstatus) != SIGTERM) {
        char sig[32];
        hr_signal_name(WTERMSIG(s.wstatus), sig, sizeof sig);
        r->status = HR_CRASH;
        hr_reason(r, "the server crashed at shutdown: killed by %s%s%s", sig, sline[0] ? ": " : "",
                  sline);
    } else if (hr_process_failed(cargv[0], NULL, job->timeout_s, client, r)) {
        /* A client that fails fails the candidate: what it measured is
         * not a run of the workload. */
        char cwhy[sizeof r->reason];
        snprintf(cwhy, sizeof cwhy, "%s", r->reason);
        hr_reason(r, "the client failed: %s", cwhy);
    } else {
        char nostats[300];
        if (WIFSIGNALED(s.wstatus))
            snprintf(nostats, sizeof nostats,
                     "the server ended by SIGTERM's default action, so hakmem wrote no stats: a "
                     "server must exit normally on SIGTERM (as redis-server does) to be tuned");
        else
            snprintf(nostats, sizeof nostats,
                     "the server's hakmem wrote no stats: the preload did not take%s%s",
                     why[0] ? "; " : "", why);
        hr_judge_output(job->metric, client, "the client's output", job->stats != NULL,
                        "the server's hakmem", nostats, r);
    }
done:
    free(env);
    hr_proc_free(&sp);
    hr_argv_free(sargv);
    hr_argv_free(cargv);
}
