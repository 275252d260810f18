/* launcher_profiles.c — `hakmem profiles`: every profile -p NAME can
 * find, with what it is for and the workload it was tuned on.
 *
 * Both come from the profile's header, the `# key: value` comment lines
 * hak-tune writes before the first knob (configs/README.md): the objective,
 * its constraints and the measured gain say what a profile is for, the
 * workload and its command what it was measured on. A profile without
 * such a header (the default, one written by hand) is described by its
 * first comment line. */
#include "launcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char first[256]; /* the first comment line */
    char workload[128], bench[512], cmd[512], objective[32], constraints[256], gain[512], date[32];
} header_t;

/* "# key: value" with key in lower-case words; the first line of a key
 * wins, as configs/README.md says. */
static void header_line(header_t *h, const char *text) {
    static const struct {
        const char *key;
        size_t off, cap;
    } keys[] = {
        {"workload", offsetof(header_t, workload), sizeof((header_t *)0)->workload},
        {"bench", offsetof(header_t, bench), sizeof((header_t *)0)->bench},
        {"cmd", offsetof(header_t, cmd), sizeof((header_t *)0)->cmd},
        {"objective", offsetof(header_t, objective), sizeof((header_t *)0)->objective},
        {"constraints", offsetof(header_t, constraints), sizeof((header_t *)0)->constraints},
        {"gain", offsetof(header_t, gain), sizeof((header_t *)0)->gain},
        {"date", offsetof(header_t, date), sizeof((header_t *)0)->date},
    };
    size_t klen = strspn(text, "abcdefghijklmnopqrstuvwxyz ");
    if (klen == 0 || text[klen] != ':' || (text[klen + 1] != ' ' && text[klen + 1] != '\t')) return;
    const char *value = text + klen + 1;
    value += strspn(value, " \t");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *field = (char *)h + keys[i].off;
        if (strlen(keys[i].key) == klen && strncmp(text, keys[i].key, klen) == 0 &&
            field[0] == '\0')
            snprintf(field, keys[i].cap, "%s", value);
    }
}

/* Only comment lines before the first knob count. */
static void read_header(const char *path, header_t *h) {
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "r");
    if (f == NULL) return;
    char line[1024];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *p = line + strspn(line, " \t");
        if (*p == '\0') continue;
        if (*p != '#') break;
        p++;
        p += strspn(p, " \t");
        if (h->first[0] == '\0' && *p != '\0') snprintf(h->first, sizeof h->first, "%s", p);
        header_line(h, p);
    }
    fclose(f);
}

static void purpose(const header_t *h, char *buf, size_t cap) {
    const char *goal = strcmp(h->objective, "throughput") == 0 ? "the most throughput"
                       : strcmp(h->objective, "rss") == 0      ? "the least peak RSS"
                       : strcmp(h->objective, "sys") == 0      ? "the least kernel time"
                                                               : NULL;
    if (goal == NULL) {
        snprintf(buf, cap, "%s",
                 h->first[0] && strstr(h->first, "written by hak-tune") == NULL
                     ? h->first
                     : "(no header saying what it is for)");
        return;
    }
    /* The gain's first clause is the objective's; the rest is detail. */
    int gain_len = (int)strcspn(h->gain, ";");
    snprintf(buf, cap, "%s%s%s%s%.*s%s", goal, h->constraints[0] ? " with " : "", h->constraints,
             gain_len ? " (measured: " : "", gain_len, h->gain, gain_len ? ")" : "");
}

static void tuned_on(const header_t *h, char *buf, size_t cap) {
    const char *how = h->bench[0] ? h->bench : h->cmd;
    char date[16] = "";
    if (h->date[0]) snprintf(date, sizeof date, ", %.10s", h->date);
    if (h->workload[0] == '\0')
        snprintf(buf, cap, "-");
    else if ((strcmp(h->workload, "custom") == 0 || strcmp(h->workload, "command") == 0) && how[0])
        snprintf(buf, cap, "%s (%s%s)", how, h->workload, date);
    else if (how[0])
        snprintf(buf, cap, "%s (%s%s)", h->workload, how, date);
    else
        snprintf(buf, cap, "%s%s", h->workload, date);
}

int hl_list_profiles(const hl_self_t *self) {
    char dirs[16][PATH_MAX];
    int ndirs = hl_profile_dirs(self, dirs, 16), shown = 0;
    printf("Profiles for -p NAME (HAKMEM_CONFIG=NAME), looked up in this order; the first\n"
           "directory that holds NAME.cfg wins.\n");
    for (int i = 0; i < ndirs; i++) {
        int n;
        char **names = hl_profile_list(dirs[i], &n);
        printf("\n%s%s\n", dirs[i], names == NULL ? ": missing" : n == 0 ? ": no profiles" : "");
        int width = 10;
        for (int j = 0; j < n; j++)
            if ((int)strlen(names[j]) > width) width = (int)strlen(names[j]);
        for (int j = 0; j < n; j++) {
            char path[PATH_MAX], what[1024], on[1024], earlier[PATH_MAX] = "";
            if (!hl_profile_path(dirs[i], names[j], path, sizeof path)) continue;
            for (int k = 0; k < i && earlier[0] == '\0'; k++)
                if (!hl_profile_path(dirs[k], names[j], earlier, sizeof earlier)) earlier[0] = '\0';
            header_t h;
            read_header(path, &h);
            purpose(&h, what, sizeof what);
            tuned_on(&h, on, sizeof on);
            printf("  %-*s  %s\n  %-*s  tuned on: %s\n", width, names[j], what, width, "", on);
            if (earlier[0])
                printf("  %-*s  hidden: -p %s finds %s\n", width, "", names[j], earlier);
            shown++;
        }
        hl_profile_list_free(names, n);
    }
    if (shown == 0) {
        fprintf(stderr, "hakmem: no profiles found (set HAKMEM_PROFILE_PATH, or install hakmem)\n");
        return 1;
    }
    return 0;
}
