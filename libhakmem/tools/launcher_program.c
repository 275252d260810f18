/* launcher_program.c — finds the program `hakmem` is asked to run and
 * makes sure LD_PRELOAD will reach it.
 *
 * The dynamic loader is what preloads libhakmem.so, and it silently does
 * not where it never runs (a static program), cannot load the library (a
 * program of another word size or machine), or ignores the environment
 * (secure-execution mode: set-user-ID or set-group-ID to someone else,
 * file capabilities). A run that silently used the C library's allocator
 * would look like hakmem's, so each of these is refused, saying why. */
#include "launcher.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define HL_MAX_INTERP_DEPTH 4 /* the kernel follows at most that many #! levels */

/* The launcher's own ELF identity: libhakmem.so was built alongside it. */
static bool own_elf(unsigned char *cls, unsigned *machine) {
    ElfW(Ehdr) eh;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh;
    close(fd);
    if (!ok) return false;
    *cls = eh.e_ident[EI_CLASS];
    *machine = eh.e_machine;
    return true;
}

static const char *class_name(unsigned char cls) {
    return cls == ELFCLASS32 ? "32-bit" : cls == ELFCLASS64 ? "64-bit" : "unknown word size";
}

/* Resolves name as execvp would. 0 with the path in out, else the exit
 * status after saying why. */
static int find_program(const char *name, char *out, size_t cap) {
    if (strchr(name, '/') != NULL) {
        struct stat st;
        if (stat(name, &st) != 0) {
            fprintf(stderr, "hakmem: %s: %s\n", name, strerror(errno));
            return errno == ENOENT || errno == ENOTDIR ? HL_EXIT_NOTFOUND : HL_EXIT_CANNOT;
        }
        snprintf(out, cap, "%s", name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL) path = "/usr/local/bin:/usr/bin:/bin";
    char denied[PATH_MAX] = "";
    for (const char *p = path;;) {
        size_t len = strcspn(p, ":");
        char cand[PATH_MAX];
        /* An empty entry means the current directory, as for execvp. */
        int w = len == 0 ? snprintf(cand, sizeof cand, "%s", name)
                         : snprintf(cand, sizeof cand, "%.*s/%s", (int)len, p, name);
        struct stat st;
        if (w > 0 && (size_t)w < sizeof cand && stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(cand, X_OK) == 0) {
                snprintf(out, cap, "%s", cand);
                return 0;
            }
            if (denied[0] == '\0') snprintf(denied, sizeof denied, "%s", cand);
        }
        if (p[len] == '\0') break;
        p += len + 1;
    }
    if (denied[0] != '\0') {
        fprintf(stderr, "hakmem: %s: found %s, but it is not executable\n", name, denied);
        return HL_EXIT_CANNOT;
    }
    fprintf(stderr, "hakmem: %s: command not found (searched PATH=%s)\n", name, path);
    return HL_EXIT_NOTFOUND;
}

/* Set-user-ID or set-group-ID to someone else, or file capabilities: the
 * kernel asks the loader for secure-execution mode, which drops LD_PRELOAD
 * (but for libraries in the standard directories that are themselves
 * set-user-ID, which libhakmem.so is not). */
static int check_secure(const char *path, const struct stat *st) {
    const char *why = NULL;
    char owner[64];
    if ((st->st_mode & S_ISUID) && st->st_uid != geteuid()) {
        snprintf(owner, sizeof owner, "set-user-ID (owner uid %u)", (unsigned)st->st_uid);
        why = owner;
    } else if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != getegid()) {
        snprintf(owner, sizeof owner, "set-group-ID (group gid %u)", (unsigned)st->st_gid);
        why = owner;
    } else if (getxattr(path, "security.capability", NULL, 0) > 0) {
        why = "given file capabilities (security.capability)";
    }
    if (why == NULL) return 0;
    fprintf(stderr,
            "hakmem: %s is %s: the dynamic loader runs it in secure-execution mode and ignores "
            "LD_PRELOAD, so hakmem would not be used; run it without the launcher, or link it "
            "with libhakmem\n",
            path, why);
    return HL_EXIT_CANNOT;
}

static int check_elf(const char *path, int fd, const struct stat *st) {
    ElfW(Ehdr) eh;
    if (pread(fd, &eh, sizeof eh, 0) < (ssize_t)EI_NIDENT + 4) {
        fprintf(stderr, "hakmem: %s: too short for an ELF program\n", path);
        return HL_EXIT_CANNOT;
    }
    unsigned char cls = 0;
    unsigned machine = 0;
    if (own_elf(&cls, &machine) && (eh.e_ident[EI_CLASS] != cls || eh.e_machine != machine)) {
        fprintf(stderr,
                "hakmem: %s is a %s program for ELF machine %u, and libhakmem.so a %s one for "
                "machine %u: the loader cannot preload it there\n",
                path, class_name(eh.e_ident[EI_CLASS]), (unsigned)eh.e_machine, class_name(cls),
                machine);
        return HL_EXIT_CANNOT;
    }
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
        fprintf(stderr, "hakmem: %s: an ELF file, but not a program (type %u)\n", path,
                (unsigned)eh.e_type);
        return HL_EXIT_CANNOT;
    }
    bool interp = false;
    for (unsigned i = 0; i < eh.e_phnum && !interp; i++) {
        ElfW(Phdr) ph;
        off_t at = (off_t)eh.e_phoff + (off_t)i * eh.e_phentsize;
        if (pread(fd, &ph, sizeof ph, at) != (ssize_t)sizeof ph) break;
        interp = ph.p_type == PT_INTERP;
    }
    if (!interp) {
        fprintf(stderr,
                "hakmem: %s has no program interpreter (it is statically linked): the dynamic "
                "loader never runs, so LD_PRELOAD cannot bring hakmem in; link libhakmem.a into "
                "it instead (pkg-config --static --libs hakmem)\n",
                path);
        return HL_EXIT_CANNOT;
    }
    return check_secure(path, st);
}

static int check_file(const char *path, int depth);

/* "#!INTERP [ARG]": the kernel runs INTERP, and `#!/usr/bin/env NAME`
 * runs NAME from PATH; each is the program the loader starts. */
static int check_script(const char *path, const char *head, int depth) {
    const char *p = head + 2;
    while (*p == ' ' || *p == '\t') p++;
    size_t len = strcspn(p, " \t\n");
    if (len == 0 || len >= PATH_MAX) {
        fprintf(stderr, "hakmem: %s: a #! line without an interpreter\n", path);
        return HL_EXIT_CANNOT;
    }
    char interp[PATH_MAX];
    snprintf(interp, sizeof interp, "%.*s", (int)len, p);
    int rc = check_file(interp, depth + 1);
    if (rc != 0) {
        fprintf(stderr, "hakmem: (%s is the interpreter of %s)\n", interp, path);
        return rc;
    }
    const char *base = strrchr(interp, '/');
    base = base ? base + 1 : interp;
    p += len;
    while (*p == ' ' || *p == '\t') p++;
    size_t alen = strcspn(p, " \t\n");
    /* env with options (-S, -i, ...) is past what is worth guessing. */
    if (strcmp(base, "env") != 0 || alen == 0 || *p == '-' || alen >= PATH_MAX) return 0;
    char name[PATH_MAX], found[PATH_MAX];
    snprintf(name, sizeof name, "%.*s", (int)alen, p);
    rc = find_program(name, found, sizeof found);
    if (rc == 0) rc = check_file(found, depth + 1);
    if (rc != 0) fprintf(stderr, "hakmem: (%s runs %s through %s)\n", path, name, interp);
    return rc;
}

static int check_file(const char *path, int depth) {
    if (depth > HL_MAX_INTERP_DEPTH) {
        fprintf(stderr, "hakmem: %s: more than %d levels of #! interpreters\n", path,
                HL_MAX_INTERP_DEPTH);
        return HL_EXIT_CANNOT;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int err = errno;
        fprintf(stderr, "hakmem: %s: %s\n", path, strerror(err));
        if (fd >= 0) close(fd);
        return err == ENOENT ? HL_EXIT_NOTFOUND : HL_EXIT_CANNOT;
    }
    int rc = 0;
    char head[PATH_MAX + 64];
    ssize_t n;
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "hakmem: %s is a directory, not a program\n", path);
        rc = HL_EXIT_CANNOT;
    } else if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "hakmem: %s is not a regular file\n", path);
        rc = HL_EXIT_CANNOT;
    } else if (access(path, X_OK) != 0) {
        fprintf(stderr, "hakmem: %s is not executable (mode %03o)\n", path,
                (unsigned)(st.st_mode & 0777));
        rc = HL_EXIT_CANNOT;
    } else if ((n = pread(fd, head, sizeof head - 1, 0)) >= 4 &&
               memcmp(head, ELFMAG, SELFMAG) == 0) {
        rc = check_elf(path, fd, &st);
    } else if (n >= 2 && head[0] == '#' && head[1] == '!') {
        head[n] = '\0';
        rc = check_script(path, head, depth);
    } else {
        fprintf(stderr, "hakmem: %s is neither an ELF program nor a #! script\n", path);
        rc = HL_EXIT_CANNOT;
    }
    close(fd);
    return rc;
}

int hl_check_program(const char *name, char *out, size_t cap) {
    int rc = find_program(name, out, cap);
    return rc != 0 ? rc : check_file(out, 0);
}
