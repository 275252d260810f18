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
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    ht_profile_t p;
    char peer[32]; /* a peer's run (--front): its allocator; "" for hakmem's */
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

static const char *const phase_name[] = {"calibrate", "search", "confirm", "peer"};

/* One object a line, flushed: an interrupted or killed tuner keeps every
 * run it paid for. Keys keep their order, so a line reads as written. */
static void put_line(FILE *f, json_t *j) {
    if (j == NULL) return; /* out of memory: the run is lost to the log, not to the search */
    json_dumpf(j, f, JSON_COMPACT | JSON_REAL_PRECISION(10));
    fputc('\n', f);
    fflush(f);
    json_decref(j);
}

static void now_text(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S %z", &tm);
}

static void command_text(const ht_runner_t *r, char *buf, size_t cap) {
    ht_command_text(r->argv, r->argc, buf, cap);
}

static bool knobs_from_json(json_t *obj, ht_profile_t *p) {
    if (!json_is_object(obj)) return false;
    int seen = 0;
    const char *key;
    json_t *m;
    json_object_foreach(obj, key, m) {
        int k = hak_knob_find(key);
        if (k < 0) return false; /* a knob this tuner does not know */
        long long v;
        if (json_is_number(m)) {
            v = llround(json_number_value(m));
        } else if (json_is_boolean(m)) {
            v = json_is_true(m);
        } else if (json_is_string(m)) {
            if (!hak_knob_parse((hak_knob_id_t)k, json_string_value(m), &v)) return false;
        } else {
            return false;
        }
        p->v[k] = v;
        seen++;
    }
    return seen == HAK_KNOB_COUNT;
}

static const char *str_of(json_t *j, const char *key) {
    return json_string_value(json_object_get(j, key));
}

/* A number, or DEF when it is missing or null (a non-finite figure). */
static double num_of(json_t *j, const char *key, double def) {
    json_t *v = json_object_get(j, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

static bool run_from_json(json_t *j, ht_run_t *r) {
    memset(r, 0, sizeof *r);
    const char *st = str_of(j, "status");
    if (!st || !hr_status_parse(st, &r->st)) return false;
    const char *reason = str_of(j, "reason");
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
    r->metric = num_of(j, "metric", NAN);
    r->wall = num_of(j, "wall", 0);
    r->user = num_of(j, "user", 0);
    r->sys = num_of(j, "sys", 0);
    r->rss_kb = num_of(j, "maxrss_kb", 0);
    r->served = num_of(j, "served", 0);
    r->libc = num_of(j, "libc", 0);
    r->mmap = num_of(j, "mmap", 0);
    r->munmap = num_of(j, "munmap", 0);
    r->madvise = num_of(j, "madvise", 0);
    r->mapped_peak = num_of(j, "mapped_peak", 0);
    /* Every counter, which the guide reads from the default's runs: a
     * replayed search must see what the first one saw. */
    json_t *counters = json_object_get(j, "stats");
    if (json_is_object(counters)) {
        r->have_stats = true;
        for (int i = 0; i < HAK_STAT_COUNT; i++) {
            json_t *v = json_object_get(counters, hak_stat_name[i]);
            if (json_is_integer(v)) r->stats[i] = (long long)json_integer_value(v);
        }
    }
    return true;
}

/* The header's field must equal what this tuner runs; else resuming would
 * replay another experiment's numbers as this one's. */
static bool header_matches(json_t *h, const char *key, const char *want, const char *path,
                           char *err, size_t errcap) {
    const char *got = str_of(h, key);
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
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        const char *kind = j ? str_of(j, "kind") : NULL;
        if (lineno == 1) {
            if (!kind || strcmp(kind, "header") != 0) {
                snprintf(err, errcap, "--resume: %s is not a hak-tune log (line 1: %s)", l->path,
                         j ? "no header" : jerr.text);
                ok = false;
            } else {
                /* Logs from before --objective were all for throughput. */
                const char *obj = str_of(j, "objective");
                ok = header_matches(j, "command", cmd, l->path, err, errcap) &&
                     header_matches(j, "metric", r->metric.regex, l->path, err, errcap) &&
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
            json_decref(j);
            if (!ok) break;
            continue;
        }
        if (!j) {
            bad++;
            continue;
        }
        if (kind && strcmp(kind, "peer") == 0) {
            rec_t rec = {0};
            const char *peer = str_of(j, "peer");
            if (peer && run_from_json(j, &rec.r) && rec.r.st != HR_INTERRUPTED) {
                snprintf(rec.peer, sizeof rec.peer, "%s", peer);
                if (l->nrecs == l->caprecs) {
                    l->caprecs = l->caprecs ? 2 * l->caprecs : 256;
                    l->recs = realloc(l->recs, (size_t)l->caprecs * sizeof *l->recs);
                    if (!l->recs) abort();
                }
                l->recs[l->nrecs++] = rec;
            }
        } else if (kind && strcmp(kind, "run") == 0) {
            rec_t rec = {0};
            if (!knobs_from_json(json_object_get(j, "knobs"), &rec.p)) {
                unknown++;
            } else if (run_from_json(j, &rec.r) && rec.r.st != HR_INTERRUPTED) {
                if (l->nrecs == l->caprecs) {
                    l->caprecs = l->caprecs ? 2 * l->caprecs : 256;
                    l->recs = realloc(l->recs, (size_t)l->caprecs * sizeof *l->recs);
                    if (!l->recs) abort();
                }
                l->recs[l->nrecs++] = rec;
            }
        }
        json_decref(j);
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
        put_line(l->f, json_pack("{s:s, s:s, s:i}", "kind", "resume", "date", date, "replayable",
                                 l->nrecs));
    } else {
        char cmd[8192];
        command_text(r, cmd, sizeof cmd);
        put_line(l->f,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kind", "header", "hak_tune",
                           HT_VERSION, "workload", workload, "command", cmd, "metric",
                           r->metric.regex, "lib", r->lib, "objective", objective, "date", date));
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
        if (l->recs[i].used || l->recs[i].peer[0] || !ht_profile_equal(&l->recs[i].p, p)) continue;
        l->recs[i].used = true;
        *out = l->recs[i].r;
        return true;
    }
    return false;
}

bool ht_log_replay_peer(ht_log_t *l, const char *peer, ht_run_t *out) {
    if (!l) return false;
    for (int i = 0; i < l->nrecs; i++) {
        if (l->recs[i].used || strcmp(l->recs[i].peer, peer) != 0) continue;
        l->recs[i].used = true;
        *out = l->recs[i].r;
        return true;
    }
    return false;
}

/* A figure, or null when it has none (NAN from a failed run). */
static json_t *num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* The figures of a run, as a JSON object the caller completes. */
static json_t *run_json(const char *kind, const ht_run_t *r) {
    char date[64];
    now_text(date, sizeof date);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
                  "s:o, s:s}",
                  "kind", kind, "status", hr_status_name(r->st), "reason", r->reason, "metric",
                  num(r->metric), "wall", num(r->wall), "user", num(r->user), "sys", num(r->sys),
                  "maxrss_kb", num(r->rss_kb), "served", num(r->served), "libc", num(r->libc),
                  "mmap", num(r->mmap), "munmap", num(r->munmap), "madvise", num(r->madvise),
                  "mapped_peak", num(r->mapped_peak), "date", date);
    if (j && r->have_stats) {
        json_t *st = json_object();
        for (int i = 0; i < HAK_STAT_COUNT; i++)
            json_object_set_new(st, hak_stat_name[i], json_integer(r->stats[i]));
        json_object_set_new(j, "stats", st);
    }
    return j;
}

void ht_log_peer(ht_log_t *l, const char *peer, int repeat, const ht_run_t *r) {
    if (!l || !l->f) return;
    json_t *j = run_json("peer", r);
    if (j) {
        json_object_set_new(j, "peer", json_string(peer));
        json_object_set_new(j, "repeat", json_integer(repeat));
    }
    put_line(l->f, j);
}

void ht_log_run(ht_log_t *l, const ht_profile_t *p, ht_phase_t phase, int eval, int repeat,
                const ht_run_t *r) {
    if (!l || !l->f) return;
    json_t *knobs = json_object();
    for (int k = 0; k < HAK_KNOB_COUNT; k++) {
        const hak_knob_info_t *kn = &hak_knob_table[k];
        json_t *v = kn->type == HAK_T_ENUM   ? json_string(kn->values[p->v[k]])
                    : kn->type == HAK_T_BOOL ? json_boolean(p->v[k])
                                             : json_integer(p->v[k]);
        json_object_set_new(knobs, kn->name, v);
    }
    /* The order the tests and people read: phase, evaluation, repeat,
     * status, figures, then the knobs and the counters. */
    json_t *j = json_pack("{s:s, s:s, s:i, s:i}", "kind", "run", "phase", phase_name[phase], "eval",
                          eval, "repeat", repeat);
    json_t *fig = run_json("run", r);
    if (j && fig) {
        const char *key;
        json_t *v;
        json_object_foreach(fig, key, v) {
            if (strcmp(key, "kind") != 0 && strcmp(key, "stats") != 0) json_object_set(j, key, v);
        }
        json_object_set_new(j, "knobs", knobs);
        json_t *st = json_object_get(fig, "stats");
        if (st) json_object_set(j, "stats", st);
    } else {
        json_decref(knobs);
    }
    json_decref(fig);
    put_line(l->f, j);
}

void ht_log_close(ht_log_t *l) {
    if (!l) return;
    if (l->f) fclose(l->f);
    free(l->recs);
    free(l);
}
