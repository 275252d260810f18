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

/* strerror may translate, and translating may allocate: name the errors a
 * profile path can meet ourselves. */
static const char *errno_text(int e) {
    switch (e) {
    case ENOENT:
        return "no such file";
    case EACCES:
        return "permission denied";
    case EISDIR:
        return "is a directory";
    case ENOTDIR:
        return "a path component is not a directory";
    case ELOOP:
        return "too many symbolic links";
    case ENAMETOOLONG:
        return "name too long";
    default:
        return "cannot be opened";
    }
}

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
        hak_fmt(buf, cap, "%D", (long long)config_setting_get_int64(s));
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

static const char *consequence(void) {
    return hak_knob_value[HAK_K_STRICT] ? "strict mode: refusing to start" : "running on defaults";
}

/* Checks that path is a readable regular file of sane size, so libconfig
 * only ever sees something worth parsing. */
static bool profile_readable(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && strchr(path, '/') == NULL) {
        hak_msg("profile %s: no such file, nor a shipped profile of that name in "
                "HAKMEM_PROFILE_PATH or %s; %s",
                path, HAKMEM_PROFILE_DIR, consequence());
        return false;
    }
    if (fd < 0) {
        hak_msg("profile %s: cannot read: %s; %s", path, errno_text(errno), consequence());
        return false;
    }
    struct stat st;
    bool ok = fstat(fd, &st) == 0;
    close(fd);
    if (!ok || S_ISDIR(st.st_mode)) {
        hak_msg("profile %s: cannot read: is a directory; %s", path, consequence());
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        hak_msg("profile %s: not a regular file; %s", path, consequence());
        return false;
    }
    if (st.st_size > PROFILE_MAX_BYTES) {
        hak_msg("profile %s: %D bytes, but a profile is at most %D bytes; %s", path,
                (long long)st.st_size, (long long)PROFILE_MAX_BYTES, consequence());
        return false;
    }
    if (st.st_size == 0) {
        hak_msg("profile %s: empty file; %s", path, consequence());
        return false;
    }
    return true;
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

bool hak_profile_load(const char *path, hak_knob_source_t src) {
    if (!profile_readable(path)) return false;
    config_t cfg;
    config_init(&cfg);
    bool ok = true;
    if (config_read_file(&cfg, path) != CONFIG_TRUE) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            hak_msg("profile %s: cannot read; %s", path, consequence());
        else
            hak_msg("profile %s:%d: %s; %s",
                    config_error_file(&cfg) ? config_error_file(&cfg) : path,
                    config_error_line(&cfg), config_error_text(&cfg), consequence());
        config_destroy(&cfg);
        return false;
    }
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
                hak_msg("profile %s:%d: unknown knob \"%s\" (did you mean %s?); %s", path, line,
                        name, near, hak_knob_value[HAK_K_STRICT] ? consequence() : "ignored");
            else
                hak_msg("profile %s:%d: unknown knob \"%s\" (see hak-tune knobs); %s", path, line,
                        name ? name : "?",
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
            hak_msg("profile %s:%d: %s = %s: must be %s; %s", path, line, name, got, allowed,
                    consequence());
        else
            hak_msg("profile %s:%d: %s = %s: must be %s; keeping %s", path, line, name, got,
                    allowed, def);
        ok = false;
    }
    config_destroy(&cfg);
    return ok;
}
