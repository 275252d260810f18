/* stats.c — hakmem's stats, read back: every process of a run writes its
 * counters as one JSON object at exit (HAKMEM_STATS_FILE=DIR/%p.json, a
 * directory of the run's own), and the run's figures are their sum. The
 * counter names come from knobs.h, the list the allocator writes from.
 *
 * They are the proof that hakmem ran: ld.so silently ignores a preload it
 * cannot apply (a static or setuid program, a wrong path), and a run in
 * which hakmem served nothing measured the C library's allocator. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool hr_stats_dir_open(hr_stats_dir_t *d, const char *prefix, char *why, size_t cap) {
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    snprintf(d->dir, sizeof d->dir, "%s/%s.XXXXXX", base, prefix);
    if (mkdtemp(d->dir) == NULL) {
        snprintf(why, cap, "cannot create a directory for the stats files in %s: %s (set TMPDIR)",
                 base, strerror(errno));
        d->dir[0] = '\0';
        return false;
    }
    snprintf(d->file, sizeof d->file, "%s/%%p.json", d->dir);
    return true;
}

void hr_stats_dir_clear(const hr_stats_dir_t *d) {
    DIR *dir = d->dir[0] ? opendir(d->dir) : NULL;
    if (dir == NULL) return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", d->dir, e->d_name);
        unlink(path);
    }
    closedir(dir);
}

void hr_stats_dir_close(hr_stats_dir_t *d) {
    if (d->dir[0] == '\0') return;
    hr_stats_dir_clear(d);
    rmdir(d->dir);
    d->dir[0] = '\0';
}

int hr_stat_find(const char *name) {
    for (int i = 0; i < HAK_STAT_COUNT; i++)
        if (strcmp(hak_stat_name[i], name) == 0) return i;
    return -1;
}

/* A peak is a peak of each process: the run's is the largest. */
static bool is_peak(int i) {
    size_t n = strlen(hak_stat_name[i]);
    return n > 5 && strcmp(hak_stat_name[i] + n - 5, "_peak") == 0;
}

static bool add_file(const char *path, const char *name, hr_stats_t *st, char *why, size_t cap) {
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (j == NULL || !json_is_object(j)) {
        snprintf(why, cap, "unreadable stats file %s: %s", name,
                 j ? "not a JSON object" : jerr.text);
        json_decref(j);
        return false;
    }
    for (int i = 0; i < HAK_STAT_COUNT; i++) {
        json_t *v = json_object_get(j, hak_stat_name[i]);
        if (!json_is_number(v)) continue;
        long long x =
            json_is_integer(v) ? (long long)json_integer_value(v) : (long long)json_number_value(v);
        if (!st->have[i] || !is_peak(i))
            st->v[i] += x;
        else if (x > st->v[i])
            st->v[i] = x;
        st->have[i] = true;
    }
    const char *version = json_string_value(json_object_get(j, "version"));
    if (version) snprintf(st->version, sizeof st->version, "%s", version);
    json_decref(j);
    return true;
}

bool hr_stats_read(const hr_stats_dir_t *d, hr_stats_t *st, char *why, size_t cap) {
    memset(st, 0, sizeof *st);
    if (cap) why[0] = '\0';
    DIR *dir = opendir(d->dir);
    if (dir == NULL) return false;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", d->dir, e->d_name);
        if (add_file(path, e->d_name, st, why, cap)) st->files++;
    }
    closedir(dir);
    return st->files > 0;
}

static const hak_stat_id_t served_by[] = {HAK_S_tiny_alloc, HAK_S_mid_alloc, HAK_S_large_alloc};

long long hr_stats_served(const hr_stats_t *st) {
    long long n = 0;
    for (size_t i = 0; i < sizeof served_by / sizeof served_by[0]; i++) n += st->v[served_by[i]];
    return n;
}
