/* runner.c — one run of the workload under a candidate profile: the
 * candidate written where HAKMEM_CONFIG points, LD_PRELOAD=libhakmem.so,
 * strict mode, hakmem's stats, and nothing inherited that would change
 * what is measured; the harness runs it (or, with --server, the server
 * under all that and the client beside it) and classifies it, and the
 * result is kept as the log stores it. A run stopped at the capping time
 * is "capped", not a failure. The peers run the same way under their own
 * allocator. Also: command lines, split and quoted as a shell reads and
 * writes them.
 *
 * The stats are the proof that hakmem ran: a run in which hakmem served
 * nothing, or wrote no stats at all, is refused, never scored. */
#include "tune.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    char why[200];
    if (!hr_metric_init(&r->metric, metric, why, sizeof why)) {
        fprintf(stderr,
                "hak-tune: --metric '%s': not a regular expression (%s); expected a POSIX "
                "extended regex whose first group captures the number, or 'wall'\n",
                metric, why);
        return 2;
    }
    snprintf(r->workdir, sizeof r->workdir, "%s/hak-tune.XXXXXX", parent);
    if (mkdtemp(r->workdir) == NULL) {
        fprintf(stderr, "hak-tune: cannot create a work directory in %s: %s (set TMPDIR)\n", parent,
                strerror(errno));
        r->workdir[0] = '\0';
        return 1;
    }
    snprintf(r->profile_path, sizeof r->profile_path, "%s/candidate.cfg", r->workdir);
    snprintf(r->server_out, sizeof r->server_out, "%s/server.out", r->workdir);
    char err[600];
    if (!hr_stats_dir_open(&r->stats, "hak-tune-stats", err, sizeof err)) {
        fprintf(stderr, "hak-tune: %s\n", err);
        return 1;
    }
    return 0;
}

void ht_runner_done(ht_runner_t *r) {
    hr_stats_dir_close(&r->stats);
    if (r->workdir[0]) {
        unlink(r->profile_path);
        unlink(r->server_out);
        rmdir(r->workdir);
    }
    hr_metric_done(&r->metric);
}

/* ---- one run ---------------------------------------------------------------- */

static bool write_candidate(const ht_runner_t *r, const ht_profile_t *p) {
    FILE *f = fopen(r->profile_path, "w");
    if (!f) return false;
    fputs("# candidate profile written by hak-tune for one run\n", f);
    ht_profile_write_knobs(f, p);
    return fclose(f) == 0;
}

/* The harness's result as the tuner keeps it. */
static void keep(const ht_runner_t *r, const hr_result_t *res, double limit, ht_run_t *out) {
    memset(out, 0, sizeof *out);
    out->st = res->status;
    snprintf(out->reason, sizeof out->reason, "%s", res->reason);
    /* Stopped at the capping time, not at the timeout: slower than the
     * best by the margin, so it cannot win. That is a measurement (a
     * bound), not a failure. */
    if (res->status == HR_TIMEOUT && r->cap_s > 0 && limit == r->cap_s && res->wall_s >= limit) {
        out->st = HR_CAPPED;
        ht_fmt(out->reason, sizeof out->reason,
               "stopped at %.2f s: slower than the best so far by more than the capping margin",
               r->cap_s);
    }
    out->metric = res->status == HR_OK ? res->metric : NAN;
    out->wall = out->st == HR_CAPPED ? r->cap_s : res->wall_s;
    out->user = res->user_s;
    out->sys = res->sys_s;
    out->rss_kb = (double)res->maxrss_kib;
    if (res->have_stats) {
        const long long *v = res->stats.v;
        out->have_stats = true;
        memcpy(out->stats, v, sizeof out->stats);
        out->served = (double)hr_stats_served(&res->stats);
        out->libc = (double)v[HAK_S_libc_alloc];
        out->mmap = (double)v[HAK_S_os_mmap];
        out->munmap = (double)v[HAK_S_os_munmap];
        out->madvise = (double)v[HAK_S_os_madvise];
        out->mapped_peak = (double)v[HAK_S_bytes_mapped_peak];
    }
}

/* ENV (NENV of them) on the workload, or with --server on the server. */
static void run_env(ht_runner_t *r, char *const *argv, const hr_metric_t *metric,
                    const hr_env_t *env, int nenv, bool stats, ht_run_t *out) {
    double limit = r->cap_s > 0 && r->cap_s < r->timeout_s ? r->cap_s : r->timeout_s;
    hr_result_t res;
    if (r->server_argv) {
        hr_server_job_t job = {.server_argv = (const char *const *)r->server_argv,
                               .client_argv = (const char *const *)argv,
                               .env = env,
                               .nenv = nenv,
                               .drop_hakmem = true,
                               .timeout_s = limit,
                               .ready_s = fmin(r->timeout_s, 60),
                               .stop_s = 10,
                               .output = r->server_out,
                               .stop = r->stop,
                               .metric = metric,
                               .stats = stats ? &r->stats : NULL,
                               .lib = r->lib};
        hr_proc_t client;
        hr_run_server(&job, &client, &res);
        hr_proc_free(&client);
    } else {
        hr_job_t job = {
            .spawn = {.argv = (const char *const *)argv,
                      .env = env,
                      .nenv = nenv,
                      .drop_hakmem = true,
                      .timeout_s = limit,
                      .stop = r->stop},
            .metric = metric,
            .stats = stats ? &r->stats : NULL,
            .lib = r->lib,
        };
        hr_proc_t p;
        hr_run(&job, &p, &res);
        hr_proc_free(&p);
    }
    keep(r, &res, limit, out);
}

void ht_run_with(ht_runner_t *r, char *const *argv, const hr_metric_t *metric, const char *path,
                 ht_run_t *out) {
    /* A profile hakmem would not accept must fail loudly (strict mode), not
     * run on defaults and be scored as if it were that profile. Inherited
     * HAKMEM_ settings are dropped: an inherited HAKMEM_ALIGN_MODE would
     * beat every candidate and the search would measure one point only. */
    hr_env_t env[] = {
        {"LD_PRELOAD", r->lib},
        {"HAKMEM_CONFIG", path},
        {"HAKMEM_STRICT", "1"},
    };
    run_env(r, argv, metric, env, 3, true, out);
}

void ht_run_peer(ht_runner_t *r, const char *peer_lib, ht_run_t *out) {
    hr_env_t env[] = {{"LD_PRELOAD", peer_lib}};
    run_env(r, r->argv, &r->metric, env, peer_lib ? 1 : 0, false, out);
}

void ht_run_file(ht_runner_t *r, const char *path, ht_run_t *out) {
    ht_run_with(r, r->argv, &r->metric, path, out);
}

void ht_run(ht_runner_t *r, const ht_profile_t *p, ht_run_t *out) {
    if (!write_candidate(r, p)) {
        memset(out, 0, sizeof *out);
        out->metric = NAN;
        out->st = HR_EXEC_FAILED;
        ht_fmt(out->reason, sizeof out->reason, "cannot write %s: %s", r->profile_path,
               strerror(errno));
        return;
    }
    ht_run_file(r, r->profile_path, out);
}
