/* stats.c — the counters: collection, the text report, JSON, and the
 * report at exit that HAKMEM_STATS and HAKMEM_STATS_FILE ask for. Both
 * name the profile the run was read from and end with the advisor's
 * (advisor.c): advice in words, the ids of the rules that fired in JSON.
 *
 * Counters are declared once, in HAK_STATS (knobs.h). Threads count in
 * their own heap; exited heaps and the OS layer add to global atomics; a
 * report sums both. Output is formatted on the stack and written with
 * write(2): the report runs at exit, when stdio may already be torn down. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Atomic(uint64_t) hak_global_stats[HAK_STAT_COUNT];

enum { REPORT_NONE, REPORT_TEXT, REPORT_JSON };
static int report_mode;
static char report_file[1024];

void hak_stats_mapped(long long delta) {
    uint64_t now = atomic_fetch_add_explicit(&hak_global_stats[HAK_S_bytes_mapped], (uint64_t)delta,
                                             memory_order_relaxed) +
                   (uint64_t)delta;
    uint64_t peak =
        atomic_load_explicit(&hak_global_stats[HAK_S_bytes_mapped_peak], memory_order_relaxed);
    while (delta > 0 && now > peak &&
           !atomic_compare_exchange_weak_explicit(&hak_global_stats[HAK_S_bytes_mapped_peak], &peak,
                                                  now, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

static void collect(uint64_t out[HAK_STAT_COUNT]) {
    for (unsigned i = 0; i < HAK_STAT_COUNT; i++)
        out[i] = atomic_load_explicit(&hak_global_stats[i], memory_order_relaxed);
    if (hak_ready()) hak_heaps_sum(out);
}

/* Writes one line that quotes a path: control characters escaped. */
#define WRITE_LINE(fd, ...)                                                                        \
    do {                                                                                           \
        char line_[1400];                                                                          \
        size_t n_ = hak_fmt_esc(line_, sizeof line_ - 1, __VA_ARGS__);                             \
        if (n_ > sizeof line_ - 2) n_ = sizeof line_ - 2;                                          \
        line_[n_++] = '\n';                                                                        \
        hak_write_all(fd, line_, n_);                                                              \
    } while (0)

/* The advice: one line a rule that fires, then how to measure rather
 * than take the rules' word for it. */
static void print_advice(int fd, const uint64_t v[HAK_STAT_COUNT]) {
    bool any = false;
    for (unsigned r = 0; r < hak_rule_count; r++) {
        if (!hak_rule_fires(r, v)) continue;
        if (!any)
            WRITE_LINE(fd, "advice (tuner/TUNING.md explains each rule; hakmem-config --rules "
                           "lists them):");
        any = true;
        char text[1024];
        hak_rule_advice(r, v, text, sizeof text);
        WRITE_LINE(fd, "  %s: %s", hak_rule_table[r].id, text);
    }
    if (!any) {
        WRITE_LINE(fd, "advice: none (no rule of hakmem-config --rules fired)");
        return;
    }
    char tune[1024];
    hak_advice_tune(tune, sizeof tune);
    WRITE_LINE(fd, "  %s", tune);
}

hak_export void hak_stats_print(int fd) {
    uint64_t v[HAK_STAT_COUNT];
    collect(v);
    char line[256];
    size_t n = hak_fmt(line, sizeof line, "hakmem %s stats (pid %d)\n", HAKMEM_VERSION_STRING,
                       (int)getpid());
    hak_write_all(fd, line, n);
    if (hak_options_system_state == HAK_PROFILE_READ)
        WRITE_LINE(fd, "  system profile %s", hak_system_profile_path);
    if (hak_options_profile[0] == '\0')
        WRITE_LINE(fd, "  profile: none, the built-in defaults%s",
                   hak_options_system_state == HAK_PROFILE_READ ? " and the system profile" : "");
    else
        WRITE_LINE(fd, "  profile %s%s", hak_options_profile,
                   hak_options_profile_state == HAK_PROFILE_READ ? "" : " (not read)");
    for (unsigned i = 0; i < HAK_STAT_COUNT; i++) {
        char num[24];
        size_t w = hak_fmt(num, sizeof num, "%llu", (unsigned long long)v[i]);
        n = hak_fmt(line, sizeof line, "  %s", hak_stat_name[i]);
        while (n < 22 + 14 - w && n < 64) line[n++] = ' ';
        n += hak_fmt(line + n, sizeof line - n, "%s  %s\n", num, hak_stat_help[i]);
        hak_write_all(fd, line, n < sizeof line ? n : sizeof line - 1);
    }
    print_advice(fd, v);
}

/* Appends s to the JSON in buf as a string, or null. */
static size_t json_string(char *buf, size_t cap, size_t n, const char *s) {
#define PUT(...) (n += hak_fmt(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, __VA_ARGS__))
    if (s == NULL) return PUT("null");
    PUT("\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            PUT("\\%c", *s);
        else if (c < 0x20)
            PUT("\\u00%c%c", "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
        else
            PUT("%c", *s);
    }
    return PUT("\"");
#undef PUT
}

hak_export size_t hak_stats_json(char *buf, size_t cap) {
    uint64_t v[HAK_STAT_COUNT];
    collect(v);
    size_t n =
        hak_fmt(buf, cap, "{\"version\":\"%s\",\"pid\":%d", HAKMEM_VERSION_STRING, (int)getpid());
    n += hak_fmt(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, ",\"profile\":");
    n = json_string(buf, cap, n,
                    hak_options_profile_state == HAK_PROFILE_READ ? hak_options_profile : NULL);
    n += hak_fmt(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, ",\"system_profile\":");
    n = json_string(buf, cap, n,
                    hak_options_system_state == HAK_PROFILE_READ ? hak_system_profile_path : NULL);
    for (unsigned i = 0; i < HAK_STAT_COUNT; i++)
        n += hak_fmt(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, ",\"%s\":%llu",
                     hak_stat_name[i], (unsigned long long)v[i]);
    n += hak_fmt(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, ",\"advice\":[");
    for (unsigned r = 0, k = 0; r < hak_rule_count; r++)
        if (hak_rule_fires(r, v))
            n += hak_fmt(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "%s\"%s\"",
                         k++ ? "," : "", hak_rule_table[r].id);
    n += hak_fmt(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "]}");
    return n;
}

hak_export long long hak_stat(const char *name) {
    for (unsigned i = 0; i < HAK_STAT_COUNT; i++) {
        if (strcmp(name, hak_stat_name[i]) == 0) {
            uint64_t v[HAK_STAT_COUNT];
            collect(v);
            return (long long)v[i];
        }
    }
    return -1;
}

void hak_stats_init(void) {
    const char *mode = hak_getenv("HAKMEM_STATS"); /* start-up only */
    if (mode != NULL && mode[0] != '\0' && strcmp(mode, "0") != 0)
        report_mode = strcmp(mode, "json") == 0 ? REPORT_JSON : REPORT_TEXT;
    const char *file = hak_getenv("HAKMEM_STATS_FILE");
    if (file != NULL && file[0] != '\0') {
        if (strlen(file) >= sizeof report_file)
            hak_msg("HAKMEM_STATS_FILE is longer than %zu bytes; ignored", sizeof report_file - 1);
        else
            memcpy(report_file, file, strlen(file) + 1);
    }
}

/* The report file's name with %p replaced by the pid, so every process of a
 * multi-process program writes its own. */
static void expand_path(char *out, size_t cap) {
    size_t n = 0;
    for (const char *s = report_file; *s && n + 1 < cap; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += hak_fmt(out + n, cap - n, "%d", (int)getpid());
            s++;
        } else {
            out[n++] = *s;
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
}

/* The stats file often sits in a shared directory such as /tmp, where
 * another user may have planted a name first: a symbolic link to a file of
 * ours, a FIFO that would hang the exit, or a file of theirs that would
 * receive our counters. Only a regular file of our own is written, created
 * readable by us alone, and it is truncated only once it has passed. */
static void write_report_file(const char *json, size_t n) {
    char path[1100];
    expand_path(path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == ELOOP)
            hak_msg("stats file %s: is a symbolic link; not written", path);
        else if (errno == ENXIO) /* a FIFO nobody reads, or a socket */
            hak_msg("stats file %s: not a regular file; not written", path);
        else
            hak_msg("stats file %s: cannot write: %s; not written", path, hak_errno_text(errno));
        return;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_uid != geteuid())
        why = "owned by another user";
    else if (ftruncate(fd, 0) != 0)
        why = "cannot be truncated";
    if (why != NULL)
        hak_msg("stats file %s: %s; not written", path, why);
    else
        hak_write_all(fd, json, n);
    close(fd);
}

__attribute__((destructor)) static void report_at_exit(void) {
    if (!hak_ready()) return;
    if (report_mode == REPORT_TEXT) hak_stats_print(STDERR_FILENO);
    if (report_mode == REPORT_JSON || report_file[0] != '\0') {
        char json[8192];
        size_t n = hak_stats_json(json, sizeof json - 1);
        if (n > sizeof json - 2) n = sizeof json - 2;
        json[n++] = '\n';
        if (report_mode == REPORT_JSON) hak_write_all(STDERR_FILENO, json, n);
        if (report_file[0] != '\0') write_report_file(json, n);
    }
}
