/* launcher.h — what the parts of the `hakmem` launcher offer each other:
 * where it stands (build tree or installed prefix) and what lies around it
 * (libhakmem.so, hakmem-config, the shipped profiles), the checks a
 * program must pass before LD_PRELOAD can bring hakmem into it, and the
 * `profiles` subcommand.
 *
 * The launcher links the knob table (hakmem_knobs), never the allocator:
 * it validates settings with the library's own parser and then execs the
 * program, which the dynamic loader joins to libhakmem.so. */
#ifndef HAKMEM_LAUNCHER_H
#define HAKMEM_LAUNCHER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit statuses of the launcher itself, as env(1) and the shells use them. */
#define HL_EXIT_USAGE    2   /* bad option, knob, value or profile */
#define HL_EXIT_CANNOT   126 /* found, but cannot run (under hakmem) */
#define HL_EXIT_NOTFOUND 127 /* no such program */

/* ---- where the launcher is (launcher_paths.c) ---------------------------- */

typedef struct {
    char dir[PATH_MAX];      /* the directory holding the launcher itself */
    bool build_tree;         /* libhakmem.so lies next to it (build/libhakmem/) */
    char profiles[PATH_MAX]; /* its own profile directory: configs/ or PREFIX/share/hakmem */
} hl_self_t;

void hl_self(hl_self_t *self);
/* libhakmem.so to preload: `given` if not NULL, else next to the launcher
 * (build tree), else in the prefix it is installed in, else where it was
 * meant to be installed. False (having said what was tried, unless quiet)
 * if none is readable. The path is absolute. */
bool hl_find_lib(const hl_self_t *self, const char *given, bool quiet, char *out, size_t cap);
/* The directories a profile name is looked up in, in order, each once:
 * HAKMEM_PROFILE_PATH, the launcher's own, the library's built-in one.
 * Returns how many were written (existing or not). */
int hl_profile_dirs(const hl_self_t *self, char dirs[][PATH_MAX], int max);
/* The names (without .cfg) of the profiles in dir, sorted; *n of them.
 * NULL when dir cannot be read. Free with hl_profile_list_free. */
char **hl_profile_list(const char *dir, int *n);
void hl_profile_list_free(char **names, int n);
/* dir/NAME.cfg into out; true when it is a readable file. */
bool hl_profile_path(const char *dir, const char *name, char *out, size_t cap);
/* -p VALUE as a file: a path as given (it must be a readable file) or a
 * name looked up as NAME.cfg in hl_profile_dirs. False after saying why. */
bool hl_resolve_profile(const hl_self_t *self, const char *value, char *out, size_t cap);

/* ---- the program (launcher_program.c) ------------------------------------ */

/* Finds `name` as execvp would (a slash means a path, else PATH) and checks
 * that the dynamic loader would honour LD_PRELOAD in it: an ELF program of
 * the launcher's own class and machine with a program interpreter, not
 * set-user-ID or set-group-ID to someone else, no file capabilities; a #!
 * script is judged by its interpreter. Returns 0 with the path in `out`,
 * else the exit status after saying, naming the program, why not. */
int hl_check_program(const char *name, char *out, size_t cap);

/* ---- `hakmem profiles` (launcher_profiles.c) ------------------------------ */

/* Lists every profile of hl_profile_dirs with its purpose and the workload
 * it was tuned on, read from its header (configs/README.md). */
int hl_list_profiles(const hl_self_t *self);

#endif /* HAKMEM_LAUNCHER_H */
