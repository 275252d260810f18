/* launcher_paths.c — where the `hakmem` launcher stands and what it finds
 * around itself: libhakmem.so and the shipped profiles.
 *
 * Everything is found relative to the launcher's own executable first, so
 * a build tree works without installing and an installed tree works
 * wherever it was unpacked (dpkg -x into a scratch root, a relocated
 * prefix); the paths CMake meant to install to come last. */
#include "launcher.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set by CMake: the installed layout, relative to the bin directory and in
 * full, and the source tree's configs/ for a launcher run from the build. */
#ifndef HL_BIN_TO_LIB
#define HL_BIN_TO_LIB "../lib"
#endif
#ifndef HL_BIN_TO_PROFILES
#define HL_BIN_TO_PROFILES "../share/hakmem"
#endif
#ifndef HL_INSTALL_LIBDIR
#define HL_INSTALL_LIBDIR "/usr/local/lib"
#endif
#ifndef HL_INSTALL_PROFILES
#define HL_INSTALL_PROFILES "/usr/local/share/hakmem"
#endif
#ifndef HL_SOURCE_CONFIGS
#define HL_SOURCE_CONFIGS "configs"
#endif
#ifndef HL_SONAME
#define HL_SONAME "libhakmem.so.0"
#endif

/* out = a/b (b may be empty: out = a); false when it does not fit, which
 * makes the path one that is not there. */
static bool join(char *out, size_t cap, const char *a, const char *b) {
    int w = snprintf(out, cap, b[0] ? "%s/%s" : "%s", a, b);
    return w >= 0 && (size_t)w < cap;
}

static bool readable_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

void hl_self(hl_self_t *self) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        /* No /proc: the installed paths below still apply. */
        snprintf(self->dir, sizeof self->dir, "/nonexistent");
    } else {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) *slash = '\0';
        snprintf(self->dir, sizeof self->dir, "%s", exe);
    }
    char lib[PATH_MAX];
    self->build_tree = join(lib, sizeof lib, self->dir, "libhakmem.so") && readable_file(lib);
    char dir[PATH_MAX];
    if (!join(dir, sizeof dir, self->build_tree ? HL_SOURCE_CONFIGS : self->dir,
              self->build_tree ? "" : HL_BIN_TO_PROFILES) ||
        realpath(dir, self->profiles) == NULL)
        snprintf(self->profiles, sizeof self->profiles, "%.*s", PATH_MAX - 1, dir);
}

bool hl_find_lib(const hl_self_t *self, const char *given, bool quiet, char *out, size_t cap) {
    char tried[6][PATH_MAX + 64];
    int n = 0;
    if (given != NULL) {
        snprintf(tried[n++], sizeof tried[0], "%s", given);
    } else {
        snprintf(tried[n++], sizeof tried[0], "%s/libhakmem.so", self->dir);
        /* The shared library package holds only the soname; the bare .so
         * link comes with the development files. */
        snprintf(tried[n++], sizeof tried[0], "%s/%s/%s", self->dir, HL_BIN_TO_LIB, HL_SONAME);
        snprintf(tried[n++], sizeof tried[0], "%s/%s/libhakmem.so", self->dir, HL_BIN_TO_LIB);
        snprintf(tried[n++], sizeof tried[0], "%s/%s", HL_INSTALL_LIBDIR, HL_SONAME);
        snprintf(tried[n++], sizeof tried[0], "%s/libhakmem.so", HL_INSTALL_LIBDIR);
    }
    for (int i = 0; i < n; i++) {
        char abs[PATH_MAX];
        if (readable_file(tried[i]) && realpath(tried[i], abs) != NULL && strlen(abs) < cap) {
            memcpy(out, abs, strlen(abs) + 1);
            return true;
        }
    }
    if (quiet) return false;
    if (given != NULL) {
        fprintf(stderr, "hakmem: --lib %s: %s\n", given,
                access(given, F_OK) == 0 ? "not a readable file" : "no such file");
        return false;
    }
    fprintf(stderr, "hakmem: libhakmem.so not found; tried:\n");
    for (int i = 0; i < n; i++) fprintf(stderr, "  %s\n", tried[i]);
    fprintf(stderr, "build it (cmake --build build) or pass --lib PATH\n");
    return false;
}

static void add_dir(char dirs[][PATH_MAX], int *n, int max, const char *d, size_t len) {
    if (len == 0 || len >= PATH_MAX || *n >= max) return;
    char dir[PATH_MAX], real[PATH_MAX];
    memcpy(dir, d, len);
    dir[len] = '\0';
    const char *use = realpath(dir, real) != NULL ? real : dir;
    for (int i = 0; i < *n; i++)
        if (strcmp(dirs[i], use) == 0) return;
    snprintf(dirs[(*n)++], PATH_MAX, "%s", use);
}

int hl_profile_dirs(const hl_self_t *self, char dirs[][PATH_MAX], int max) {
    int n = 0;
    const char *path = getenv("HAKMEM_PROFILE_PATH");
    while (path != NULL && *path != '\0') {
        size_t len = strcspn(path, ":");
        add_dir(dirs, &n, max, path, len);
        path += len;
        if (*path == ':') path++;
    }
    add_dir(dirs, &n, max, self->profiles, strlen(self->profiles));
    /* Where the library itself looks when HAKMEM_CONFIG holds a name. */
    add_dir(dirs, &n, max, HL_INSTALL_PROFILES, strlen(HL_INSTALL_PROFILES));
    return n;
}

bool hl_profile_path(const char *dir, const char *name, char *out, size_t cap) {
    char file[NAME_MAX + 1];
    int w = snprintf(file, sizeof file, "%s.cfg", name);
    return w > 0 && (size_t)w < sizeof file && join(out, cap, dir, file) && readable_file(out);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **hl_profile_list(const char *dir, int *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) return NULL;
    int cap = 16;
    char **names = malloc((size_t)cap * sizeof *names);
    struct dirent *e;
    while (names != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".cfg") != 0) continue;
        if (*n == cap) {
            char **more = realloc(names, (size_t)(cap *= 2) * sizeof *names);
            if (more == NULL) break;
            names = more;
        }
        char *name = strndup(e->d_name, len - 4);
        if (name != NULL) names[(*n)++] = name;
    }
    closedir(d);
    if (names != NULL) qsort(names, (size_t)*n, sizeof *names, by_name);
    return names;
}

void hl_profile_list_free(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* "a, b, c": the profiles of dir, for messages. */
static void profile_names(const char *dir, char *buf, size_t cap) {
    int n;
    char **names = hl_profile_list(dir, &n);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", names[i]);
        if (w > 0) used += (size_t)w;
    }
    hl_profile_list_free(names, n);
}

bool hl_resolve_profile(const hl_self_t *self, const char *value, char *out, size_t cap) {
    char dirs[16][PATH_MAX];
    int ndirs = hl_profile_dirs(self, dirs, 16);
    size_t len = strlen(value);
    if (len == 0) {
        fprintf(stderr, "hakmem: -p needs a profile: a file or the name of a shipped one "
                        "(hakmem profiles lists them)\n");
        return false;
    }
    /* The library's own rule: a slash or a .cfg ending makes a path. */
    if (strchr(value, '/') != NULL || (len > 4 && strcmp(value + len - 4, ".cfg") == 0)) {
        struct stat st;
        char real[PATH_MAX];
        if (stat(value, &st) != 0) {
            fprintf(stderr, "hakmem: profile %s: %s", value, strerror(errno));
            /* "-p larson-mid.cfg" meant the shipped one, most likely. */
            for (int i = 0; strchr(value, '/') == NULL && i < ndirs; i++) {
                char shipped[PATH_MAX];
                if (join(shipped, sizeof shipped, dirs[i], value) && readable_file(shipped)) {
                    fprintf(stderr, " (the shipped profile of that name is -p %.*s)",
                            (int)(len - 4), value);
                    break;
                }
            }
            fputc('\n', stderr);
            return false;
        }
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr,
                    "hakmem: profile %s: not a regular file (a libconfig file was "
                    "expected)\n",
                    value);
            return false;
        }
        if (access(value, R_OK) != 0 || realpath(value, real) == NULL) {
            fprintf(stderr, "hakmem: profile %s: %s\n", value, strerror(errno));
            return false;
        }
        snprintf(out, cap, "%s", real);
        return true;
    }
    for (int i = 0; i < ndirs; i++) {
        char path[PATH_MAX];
        if (hl_profile_path(dirs[i], value, path, sizeof path)) return join(out, cap, path, "");
    }
    fprintf(stderr, "hakmem: no profile named '%s' (%s.cfg) in:\n", value, value);
    for (int i = 0; i < ndirs; i++) {
        char names[1024];
        profile_names(dirs[i], names, sizeof names);
        fprintf(stderr, "  %s%s%s%s\n", dirs[i], names[0] ? " (" : "", names,
                names[0]                     ? ")"
                : access(dirs[i], F_OK) == 0 ? " (no profiles)"
                                             : " (missing)");
    }
    fprintf(stderr, "hakmem profiles lists them; a file is given by its path (-p ./my.cfg)\n");
    return false;
}
