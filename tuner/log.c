/* log.c — the run log: one JSON object a line, every run the tuner made,
 * and its replay for --resume.
 *
 * Replay needs no saved search state. The search is deterministic given
 * its seed and the measurements it sees, so a resumed tuner starts from
 * scratch and, whenever it wants to run profile P for the n-th time, takes
 * the n-th logged run of P instead of running it. It walks the old path at
 * no cost and carries on where the log ends. */
#include "tune.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    ht_profile_t p;
    ht_run_t r;
    bool used;
} rec_t;

struct ht_log_s {
    FILE *f;
    char path[4096];
    rec_t *recs;
    int nrecs, caprecs;
    bool cut; /* the last line has no newline: the writer was killed mid-line */
};

static void now_text(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S %z", &tm);
}

static void command_text(const ht_runner_t *r, char *buf, size_t cap) {
    ht_command_text(r->argv, r->argc, buf, cap);
}

static bool knobs_from_json(const ht_json_t *obj, ht_profile_t *p) {
    if (!obj || obj->type != HT_J_OBJ) return false;
    int seen = 0;
    for (const ht_json_t *m = obj->child; m; m = m->next) {
        int k = m->key ? hak_knob_find(m->key) : -1;
        if (k < 0) return false; /* a knob this tuner does not know */
        long long v;
        if (m->type == HT_J_NUM) {
            v = llround(m->num);
        } else if (m->type == HT_J_BOOL) {
            v = m->b;
        } else if (m->type == HT_J_STR) {
            if (!hak_knob_parse((hak_knob_id_t)k, m->str, &v)) return false;
        } else {
            return false;
        }
        p->v[k] = v;
        seen++;
    }
    return seen == HAK_KNOB_COUNT;
}

static bool run_from_json(const ht_json_t *j, ht_run_t *r) {
    memset(r, 0, sizeof *r);
    const char *st = ht_json_str(j, "status");
    if (!st || !ht_status_parse(st, &r->st)) return false;
    const char *reason = ht_json_str(j, "reason");
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
    r->metric = ht_json_num(j, "metric", NAN);
    r->wall = ht_json_num(j, "wall", 0);
    r->user = ht_json_num(j, "user", 0);
    r->sys = ht_json_num(j, "sys", 0);
    r->rss_kb = ht_json_num(j, "maxrss_kb", 0);
    r->served = ht_json_num(j, "served", 0);
    r->libc = ht_json_num(j, "libc", 0);
    r->mmap = ht_json_num(j, "mmap", 0);
    r->munmap = ht_json_num(j, "munmap", 0);
    r->madvise = ht_json_num(j, "madvise", 0);
    r->mapped_peak = ht_json_num(j, "mapped_peak", 0);
    return true;
}

/* The header's field must equal what this tuner runs; else resuming would
 * replay another experiment's numbers as this one's. */
static bool header_matches(const ht_json_t *h, const char *key, const char *want, const char *path,
                           char *err, size_t errcap) {
    const char *got = ht_json_str(h, key);
    if (got && strcmp(got, want) == 0) return true;
    snprintf(err, errcap,
             "--resume: %s was written for %s '%s', not '%s'; use another --log or drop --resume",
             path, key, got ? got : "(none)", want);
    return false;
}

static bool load(ht_log_t *l, const ht_runner_t *r, const char *objective, char *err,
                 size_t errcap) {
    FILE *f = fopen(l->path, "r");
    if (!f) {
        snprintf(err, errcap, "--resume: cannot read the log %s: %s", l->path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, bad = 0, unknown = 0;
    bool ok = true;
    char cmd[8192];
    command_text(r, cmd, sizeof cmd);
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        l->cut = line[n - 1] != '\n';
        char jerr[80];
        ht_json_t *j = ht_json_parse(line, jerr, sizeof jerr);
        const char *kind = j ? ht_json_str(j, "kind") : NULL;
        if (lineno == 1) {
            if (!kind || strcmp(kind, "header") != 0) {
                snprintf(err, errcap, "--resume: %s is not a hak-tune log (line 1: %s)", l->path,
                         j ? "no header" : jerr);
                ok = false;
            } else {
                /* Logs from before --objective were all for throughput. */
                const char *obj = ht_json_str(j, "objective");
                ok = header_matches(j, "command", cmd, l->path, err, errcap) &&
                     header_matches(j, "metric", r->metric_text, l->path, err, errcap) &&
                     header_matches(j, "lib", r->lib, l->path, err, errcap);
                if (ok && strcmp(obj ? obj : "throughput", objective) != 0) {
                    snprintf(err, errcap,
                             "--resume: %s was written for --objective %s, not %s: a search for "
                             "another objective takes other steps; use another --log, or "
                             "--objective %s",
                             l->path, obj ? obj : "throughput", objective,
                             obj ? obj : "throughput");
                    ok = false;
                }
            }
            ht_json_free(j);
            if (!ok) break;
            continue;
        }
        if (!j) {
            bad++;
            continue;
        }
        if (kind && strcmp(kind, "run") == 0) {
            rec_t rec = {0};
            if (!knobs_from_json(ht_json_get(j, "knobs"), &rec.p)) {
                unknown++;
            } else if (run_from_json(j, &rec.r) && rec.r.st != HT_INTERRUPTED) {
                if (l->nrecs == l->caprecs) {
                    l->caprecs = l->caprecs ? 2 * l->caprecs : 256;
                    l->recs = realloc(l->recs, (size_t)l->caprecs * sizeof *l->recs);
                    if (!l->recs) abort();
                }
                l->recs[l->nrecs++] = rec;
            }
        }
        ht_json_free(j);
    }
    free(line);
    fclose(f);
    if (ok && lineno == 0) {
        snprintf(err, errcap, "--resume: the log %s is empty", l->path);
        ok = false;
    }
    if (ok && bad)
        fprintf(stderr, "hak-tune: %s: %d unreadable line%s skipped (a run cut short?)\n", l->path,
                bad, bad == 1 ? "" : "s");
    if (ok && unknown)
        fprintf(stderr,
                "hak-tune: %s: %d run%s name knobs this hak-tune does not have; not replayed\n",
                l->path, unknown, unknown == 1 ? "" : "s");
    return ok;
}

ht_log_t *ht_log_open(const char *path, bool resume, const ht_runner_t *r, const char *workload,
                      const char *objective, char *err, size_t errcap) {
    ht_log_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    snprintf(l->path, sizeof l->path, "%s", path);
    char date[64];
    now_text(date, sizeof date);
    if (resume) {
        if (access(path, F_OK) != 0) {
            snprintf(err, errcap, "--resume: no log %s to resume (run without --resume first)",
                     path);
            free(l);
            return NULL;
        }
        if (!load(l, r, objective, err, errcap)) {
            free(l->recs);
            free(l);
            return NULL;
        }
        l->f = fopen(path, "a");
    } else {
        if (access(path, F_OK) == 0) {
            /* A long search is not lost to a repeated command line. */
            char old[4200];
            snprintf(old, sizeof old, "%s.old", path);
            if (rename(path, old) == 0)
                fprintf(stderr, "hak-tune: moved the previous log to %s (--resume continues one)\n",
                        old);
        }
        l->f = fopen(path, "w");
    }
    if (!l->f) {
        snprintf(err, errcap, "cannot write the log %s: %s", path, strerror(errno));
        free(l->recs);
        free(l);
        return NULL;
    }
    if (resume) {
        if (l->cut) fputc('\n', l->f); /* the cut line stays unreadable, alone */
        fprintf(l->f, "{\"kind\":\"resume\",\"date\":");
        ht_json_put_str(l->f, date);
        fprintf(l->f, ",\"replayable\":%d}\n", l->nrecs);
    } else {
        char cmd[8192];
        command_text(r, cmd, sizeof cmd);
        fprintf(l->f, "{\"kind\":\"header\",\"hak_tune\":\"%s\",\"workload\":", HT_VERSION);
        ht_json_put_str(l->f, workload);
        fprintf(l->f, ",\"command\":");
        ht_json_put_str(l->f, cmd);
        fprintf(l->f, ",\"metric\":");
        ht_json_put_str(l->f, r->metric_text);
        fprintf(l->f, ",\"lib\":");
        ht_json_put_str(l->f, r->lib);
        fprintf(l->f, ",\"objective\":");
        ht_json_put_str(l->f, objective);
        fprintf(l->f, ",\"date\":");
        ht_json_put_str(l->f, date);
        fprintf(l->f, "}\n");
    }
    fflush(l->f);
    return l;
}

int ht_log_replayable(const ht_log_t *l) {
    return l ? l->nrecs : 0;
}

bool ht_log_replay(ht_log_t *l, const ht_profile_t *p, ht_run_t *out) {
    if (!l) return false;
    for (int i = 0; i < l->nrecs; i++) {
        if (l->recs[i].used || !ht_profile_equal(&l->recs[i].p, p)) continue;
        l->recs[i].used = true;
        *out = l->recs[i].r;
        return true;
    }
    return false;
}

static const char *const phase_name[] = {"calibrate", "search", "confirm"};

static void put_num(FILE *f, const char *key, double v) {
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.10g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

void ht_log_run(ht_log_t *l, const ht_profile_t *p, ht_phase_t phase, int eval, int repeat,
                const ht_run_t *r) {
    if (!l || !l->f) return;
    FILE *f = l->f;
    char date[64];
    now_text(date, sizeof date);
    fprintf(f, "{\"kind\":\"run\",\"phase\":\"%s\",\"eval\":%d,\"repeat\":%d,\"status\":\"%s\"",
            phase_name[phase], eval, repeat, ht_status_name(r->st));
    fprintf(f, ",\"reason\":");
    ht_json_put_str(f, r->reason);
    put_num(f, "metric", r->metric);
    put_num(f, "wall", r->wall);
    put_num(f, "user", r->user);
    put_num(f, "sys", r->sys);
    put_num(f, "maxrss_kb", r->rss_kb);
    put_num(f, "served", r->served);
    put_num(f, "libc", r->libc);
    put_num(f, "mmap", r->mmap);
    put_num(f, "munmap", r->munmap);
    put_num(f, "madvise", r->madvise);
    put_num(f, "mapped_peak", r->mapped_peak);
    fprintf(f, ",\"date\":");
    ht_json_put_str(f, date);
    fprintf(f, ",\"knobs\":{");
    for (int k = 0; k < HAK_KNOB_COUNT; k++) {
        const hak_knob_info_t *kn = &hak_knob_table[k];
        fprintf(f, "%s\"%s\":", k ? "," : "", kn->name);
        if (kn->type == HAK_T_ENUM)
            ht_json_put_str(f, kn->values[p->v[k]]);
        else if (kn->type == HAK_T_BOOL)
            fputs(p->v[k] ? "true" : "false", f);
        else
            fprintf(f, "%lld", p->v[k]);
    }
    fprintf(f, "}}\n");
    /* Flushed per run: an interrupted or killed tuner keeps what it paid for. */
    fflush(f);
}

void ht_log_close(ht_log_t *l) {
    if (!l) return;
    if (l->f) fclose(l->f);
    free(l->recs);
    free(l);
}
