/* profile.c — reading a libconfig profile (HAKMEM_CONFIG) into the knob
 * table.
 *
 * Runs once, at start-up, while this thread's own allocations go to the C
 * library (libconfig calls fopen and malloc). Every problem is one line on
 * stderr naming the file, the line, the knob and what is allowed, and the
 * knob keeps its default; in strict mode the caller then ends start-up.
 * A profile is flat: `knob = value;` at the top level, comments allowed. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef HAKMEM_PROFILE_DIR
#define HAKMEM_PROFILE_DIR "/usr/local/share/hakmem"
#endif

#define PROFILE_MAX_BYTES ((off_t)1 << 20)

/* Converts one setting to knob k's value; false (with the reason in why)
 * when its type or value does not fit. */
static bool setting_value(hak_knob_id_t k, config_setting_t *s, long long *out) {
    const hak_knob_info_t *kn = &hak_knob_table[k];
    int type = config_setting_type(s);
    switch (kn->type) {
    case HAK_T_BOOL:
        if (type == CONFIG_TYPE_BOOL) {
            *out = config_setting_get_bool(s);
            return true;
        }
        if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
            *out = config_setting_get_int64(s);
            return *out == 0 || *out == 1;
        }
        return false;
    case HAK_T_ENUM:
        return type == CONFIG_TYPE_STRING && hak_knob_parse(k, config_setting_get_string(s), out);
    case HAK_T_SIZE:
        if (type == CONFIG_TYPE_STRING) return hak_knob_parse(k, config_setting_get_string(s), out);
        /* fall through */
    case HAK_T_INT:
        if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) return false;
        *out = config_setting_get_int64(s);
        return *out >= kn->min && *out <= kn->max;
    }
    return false;
}

/* The setting's value as written, for messages. */
static void setting_text(config_setting_t *s, char *buf, size_t cap) {
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        hak_fmt(buf, cap, "%lld", (long long)config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_BOOL:
        hak_fmt(buf, cap, "%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    case CONFIG_TYPE_STRING:
        hak_fmt(buf, cap, "\"%s\"", config_setting_get_string(s));
        break;
    case CONFIG_TYPE_FLOAT:
        hak_fmt(buf, cap, "a floating-point number");
        break;
    case CONFIG_TYPE_GROUP:
        hak_fmt(buf, cap, "a group");
        break;
    default:
        hak_fmt(buf, cap, "a list");
        break;
    }
}

/* The load in progress: which profile it reads, and whether it may speak.
 * A secure-execution process reads the system profile in silence: its
 * caller must learn nothing about a file it may not be able to read. Start-up
 * is single-threaded, so plain statics do. */
static const char *kind = "profile";
static bool quiet;
#define say(...)                                                                                   \
    do {                                                                                           \
        if (!quiet) hak_msg(__VA_ARGS__);                                                          \
    } while (0)

static const char *consequence(void) {
    return hak_knob_value[HAK_K_STRICT] ? "strict mode: refusing to start" : "running on defaults";
}

/* Opens path for reading and checks it is a regular file of sane size, so
 * libconfig only ever sees something worth parsing, and parses the file it
 * checked, not whatever the path names a moment later. The system profile
 * must also be root's and writable by no one else, and is never reached
 * through a symbolic link: it steers every process on the machine,
 * setuid ones included. -1: refused (said why); -2: the system profile is
 * absent, which is the usual case and no error. */
static int profile_open(const char *path, bool system, size_t *size) {
    /* O_NONBLOCK: opening a FIFO must not hang start-up; fstat refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (system ? O_NOFOLLOW : 0));
    if (fd < 0 && errno == ENOENT && system) return -2;
    if (fd < 0 && errno == ENOENT && strchr(path, '/') == NULL) {
        say("profile %s: no such file, nor a shipped profile of that name in "
            "HAKMEM_PROFILE_PATH or %s; %s",
            path, HAKMEM_PROFILE_DIR, consequence());
        return -1;
    }
    if (fd < 0 && errno == ELOOP && system) {
        say("%s %s: is a symbolic link, which the system profile may not be; not read", kind, path);
        return -1;
    }
    if (fd < 0) {
        say("%s %s: cannot read: %s; %s", kind, path, hak_errno_text(errno), consequence());
        return -1;
    }
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        say("%s %s: cannot read: is a directory; %s", kind, path, consequence());
    } else if (!S_ISREG(st.st_mode)) {
        say("%s %s: not a regular file; %s", kind, path, consequence());
    } else if (system && st.st_uid != 0) {
        say("%s %s: owned by uid %u, but it must be owned by root; not read", kind, path,
            (unsigned)st.st_uid);
    } else if (system && (st.st_mode & (S_IWGRP | S_IWOTH))) {
        bad = (st.st_mode & S_IWOTH) ? "anyone" : "its group";
        say("%s %s: writable by %s (mode %u%u%u), but only root may write it; not read", kind, path,
            bad, (unsigned)(st.st_mode >> 6) & 7, (unsigned)(st.st_mode >> 3) & 7,
            (unsigned)st.st_mode & 7);
    } else if (st.st_size > PROFILE_MAX_BYTES) {
        say("%s %s: %lld bytes, but a profile is at most %lld bytes; %s", kind, path,
            (long long)st.st_size, (long long)PROFILE_MAX_BYTES, consequence());
    } else if (st.st_size == 0) {
        say("%s %s: empty file; %s", kind, path, consequence());
    } else {
        *size = (size_t)st.st_size;
        return fd;
    }
    close(fd);
    return -1;
}

/* HAKMEM_CONFIG is a path, or the name of a shipped profile ("larson-mid"):
 * a name has no slash and no .cfg ending, and is looked up as NAME.cfg in
 * the directories of HAKMEM_PROFILE_PATH (colon-separated), then in the
 * installed profile directory. An unknown name is returned as is, so the
 * loader reports it as a missing file. */
const char *hak_profile_resolve(const char *value, const char *dirs, char *buf, size_t cap) {
    if (value == NULL || value[0] == '\0' || strchr(value, '/') != NULL) return value;
    size_t len = strlen(value);
    if (len > 4 && strcmp(value + len - 4, ".cfg") == 0) return value;
    for (int pass = 0; pass < 2; pass++) {
        const char *d = pass == 0 ? dirs : HAKMEM_PROFILE_DIR;
        while (d != NULL && *d != '\0') {
            size_t dlen = strcspn(d, ":");
            if (dlen > 0 && dlen + len + 6 < cap) {
                memcpy(buf, d, dlen);
                hak_fmt(buf + dlen, cap - dlen, "/%s.cfg", value);
                if (access(buf, F_OK) == 0) return buf;
            }
            d += dlen;
            if (*d == ':') d++;
        }
    }
    return value;
}

/* The checked file's size bytes, NUL-terminated, in the C library's memory
 * (start-up may not allocate from hakmem, and the allocator may not use
 * stdio); closes fd. NULL with errno set on failure. */
static char *read_all(int fd, size_t size) {
    char *text = __libc_malloc(size + 1);
    int err = text == NULL ? ENOMEM : 0;
    size_t len = 0;
    while (err == 0 && len < size) {
        ssize_t r = read(fd, text + len, size - len);
        if (r < 0 && errno != EINTR) err = errno;
        if (r == 0) break; /* shrank meanwhile: parse what is there */
        if (r > 0) len += (size_t)r;
    }
    close(fd);
    if (err != 0) {
        __libc_free(text);
        errno = err;
        return NULL;
    }
    text[len] = '\0';
    return text;
}

bool hak_profile_load(const char *path, hak_knob_source_t src, hak_profile_state_t *state) {
    bool system = src == HAK_SRC_SYSTEM;
    hak_profile_state_t unused;
    if (state == NULL) state = &unused;
    *state = HAK_PROFILE_REFUSED;
    kind = system ? "system profile" : "profile";
    quiet = system && hak_secure;
    size_t size = 0;
    int fd = profile_open(path, system, &size);
    if (fd == -2) {
        *state = HAK_PROFILE_ABSENT;
        return true;
    }
    if (fd < 0) return false;
    char *text = read_all(fd, size);
    if (text == NULL) {
        say("%s %s: cannot read: %s; %s", kind, path, hak_errno_text(errno), consequence());
        return false;
    }
    config_t cfg;
    config_init(&cfg);
    bool ok = true;
    int parsed = config_read_string(&cfg, text);
    __libc_free(text);
    if (parsed != CONFIG_TRUE) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            say("%s %s: cannot read; %s", kind, path, consequence());
        else
            say("%s %s:%d: %s; %s", kind, config_error_file(&cfg) ? config_error_file(&cfg) : path,
                config_error_line(&cfg), config_error_text(&cfg), consequence());
        config_destroy(&cfg);
        return false;
    }
    *state = HAK_PROFILE_READ;
    config_setting_t *root = config_root_setting(&cfg);
    /* strict first: it decides what the other errors mean. */
    config_setting_t *strict = config_setting_get_member(root, "strict");
    long long v;
    if (strict != NULL && setting_value(HAK_K_STRICT, strict, &v)) {
        hak_knob_value[HAK_K_STRICT] = v;
        hak_knob_src[HAK_K_STRICT] = src;
    }
    int n = config_setting_length(root);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        int line = (int)config_setting_source_line(s);
        int k = name != NULL ? hak_knob_find(name) : -1;
        if (k < 0) {
            const char *near = name != NULL ? hak_knob_suggest(name) : NULL;
            if (near != NULL)
                say("%s %s:%d: unknown knob \"%s\" (did you mean %s?); %s", kind, path, line, name,
                    near, hak_knob_value[HAK_K_STRICT] ? consequence() : "ignored");
            else
                say("%s %s:%d: unknown knob \"%s\" (see hakmem-config --knobs); %s", kind, path,
                    line, name ? name : "?",
                    hak_knob_value[HAK_K_STRICT] ? consequence() : "ignored");
            ok = false;
            continue;
        }
        if (setting_value((hak_knob_id_t)k, s, &v)) {
            hak_knob_value[k] = v;
            hak_knob_src[k] = src;
            continue;
        }
        char got[96], allowed[160], def[48];
        setting_text(s, got, sizeof got);
        hak_knob_allowed((hak_knob_id_t)k, allowed, sizeof allowed);
        hak_knob_format((hak_knob_id_t)k, hak_knob_value[k], def, sizeof def);
        if (hak_knob_value[HAK_K_STRICT])
            say("%s %s:%d: %s = %s: must be %s; %s", kind, path, line, name, got, allowed,
                consequence());
        else
            say("%s %s:%d: %s = %s: must be %s; keeping %s", kind, path, line, name, got, allowed,
                def);
        ok = false;
    }
    config_destroy(&cfg);
    return ok;
}
