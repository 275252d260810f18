/* run.c — one measured run: the process, the metric from its output,
 * hakmem's stats, and the one status all of that comes to, with a reason a
 * person can act on. Every tool classifies a run here, so a crash, a hang
 * or a run of the wrong allocator reads the same in compare, sweep and
 * hak-tune. */
#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void hr_reason(hr_result_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

bool hr_process_failed(const char *prog, const char *lib, double timeout_s, const hr_proc_t *p,
                       hr_result_t *r) {
    const char *err = hr_err(p);
    char line[160];
    hr_last_line(err, line, sizeof line);
    if (p->exec_errno) {
        r->status = HR_EXEC_FAILED;
        hr_reason(r, "cannot run %s: %s", prog, strerror(p->exec_errno));
    } else if (p->interrupted) {
        r->status = HR_INTERRUPTED;
        hr_reason(r, "interrupted by the user");
    } else if (p->timed_out) {
        r->status = HR_TIMEOUT;
        hr_reason(r, "still running after %.1f s: killed", timeout_s);
    } else if (strstr(err, "cannot be preloaded")) {
        /* ld.so goes on without the library: the run was glibc's. */
        r->status = HR_PRELOAD_FAILED;
        hr_reason(r, "ld.so could not preload %s", lib ? lib : "the library");
    } else if (WIFEXITED(p->wstatus) && WEXITSTATUS(p->wstatus) == 2 &&
               (strstr(err, "refusing to start") || strncmp(line, "hakmem: ", 8) == 0)) {
        /* strict mode: hakmem's own message, then exit status 2 */
        r->status = HR_REJECTED;
        hr_reason(r, "hakmem refused the profile: %s", line);
    } else if (WIFSIGNALED(p->wstatus)) {
        char sig[32];
        hr_signal_name(WTERMSIG(p->wstatus), sig, sizeof sig);
        r->status = HR_CRASH;
        hr_reason(r, "killed by %s%s%s", sig, line[0] ? ": " : "", line);
    } else if (WEXITSTATUS(p->wstatus) != 0) {
        r->status = HR_EXIT;
        hr_reason(r, "exit status %d%s%s", WEXITSTATUS(p->wstatus), line[0] ? ": " : "", line);
    } else {
        return false;
    }
    return true;
}

void hr_run(const hr_job_t *job, hr_proc_t *p, hr_result_t *r) {
    memset(r, 0, sizeof *r);
    r->metric = NAN;
    hr_spawn_t s = job->spawn;
    hr_env_t env[job->spawn.nenv + 1];
    if (job->stats) {
        int n = s.nenv;
        if (n) memcpy(env, s.env, (size_t)n * sizeof *env);
        env[n++] = (hr_env_t){"HAKMEM_STATS_FILE", job->stats->file};
        s.env = env;
        s.nenv = n;
        hr_stats_dir_clear(job->stats);
    }
    hr_spawn(&s, p);
    r->exit_code = hr_exit_code(p);
    r->signal = hr_signal(p);
    r->wall_s = p->wall_s;
    r->user_s = p->user_s;
    r->sys_s = p->sys_s;
    r->maxrss_kib = p->maxrss_kib;
    char why[200] = "";
    if (job->stats) r->have_stats = hr_stats_read(job->stats, &r->stats, why, sizeof why);

    r->status = HR_OK;
    if (hr_process_failed(job->spawn.argv[0], job->lib, job->spawn.timeout_s, p, r)) return;
    char nostats[300];
    snprintf(nostats, sizeof nostats,
             "hakmem wrote no stats: the preload did not take (a static or setuid program?)%s%s",
             why[0] ? "; " : "", why);
    hr_judge_output(job->metric, p, "its output", job->stats != NULL, "hakmem", nostats, r);
}

void hr_judge_output(const hr_metric_t *metric, const hr_proc_t *p, const char *output,
                     bool want_stats, const char *whose, const char *no_stats, hr_result_t *r) {
    if (!hr_metric_read(metric, p, &r->metric)) {
        r->status = HR_NO_METRIC;
        r->metric = NAN;
        hr_reason(r, "no match for /%s/ in %s", metric->regex, output);
    } else if (want_stats && !r->have_stats) {
        r->status = HR_NO_STATS;
        hr_reason(r, "%s", no_stats);
    } else if (want_stats && hr_stats_served(&r->stats) <= 0) {
        r->status = HR_UNSERVED;
        hr_reason(r,
                  "%s served no allocation (%lld went to the C library): this run measured another "
                  "allocator",
                  whose, r->stats.v[HAK_S_libc_alloc]);
    }
}
