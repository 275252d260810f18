/* fuzz_profile.c — a libFuzzer harness for the profile loader
 * (hak_profile_load, libhakmem/src/profile.c): each input is written to a
 * file and loaded as a profile, with AddressSanitizer and UBSan watching.
 *
 * Whatever the input, the loader must not crash, and it must report: a
 * profile it rejects (any problem at all) yields at least one message on
 * stderr, a profile it accepts yields none, every message is one line
 * starting "hakmem: profile ", and every knob ends up within its bounds (a
 * bad value keeps the knob's previous value, never a half-parsed one).
 *
 * hakmem writes each message with one write(2), so while the loader runs
 * stderr is a SOCK_SEQPACKET socket that keeps those boundaries: the
 * harness sees message by message, whatever the messages contain: one
 * line each, and no control character in it, even when it quotes a string
 * value or a libconfig error about input holding newlines and escapes. */
#ifndef _GNU_SOURCE /* the build passes the allocator's own -D flags */
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGES 64
#define MESSAGE_CAP  2048 /* hak_msg writes at most 512 bytes */

static char profile_path[64];

/* Messages collected while the loader runs; `count` keeps counting past
 * MAX_MESSAGES. */
static struct {
    int fd;
    size_t count;
    size_t len[MAX_MESSAGES];
    char text[MAX_MESSAGES][MESSAGE_CAP];
} messages;

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

/* Drains the socket while the loader writes, so that a long run of
 * messages never blocks it; ends when the last writer closes. */
static void *collect(void *arg) {
    (void)arg;
    static char scratch[MESSAGE_CAP];
    for (;;) {
        bool keep = messages.count < MAX_MESSAGES;
        char *buf = keep ? messages.text[messages.count] : scratch;
        ssize_t n = recv(messages.fd, buf, MESSAGE_CAP - 1, 0);
        if (n <= 0) return NULL;
        buf[n] = '\0';
        if (keep) messages.len[messages.count] = (size_t)n;
        messages.count++;
    }
}

/* Runs the loader with stderr captured message by message. */
static bool load_captured(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair failed", NULL);
    messages.fd = sv[0];
    messages.count = 0;
    pthread_t reader;
    if (pthread_create(&reader, NULL, collect, NULL) != 0) die("pthread_create failed", NULL);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(sv[1], STDERR_FILENO);
    close(sv[1]);
    bool ok = hak_profile_load(profile_path, HAK_SRC_PROFILE, NULL);
    dup2(saved, STDERR_FILENO); /* closes the last write end: the reader sees the end */
    close(saved);
    pthread_join(reader, NULL);
    close(sv[0]);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    write_file(profile_path, data, size);
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        hak_knob_value[k] = hak_knob_table[k].def;
        hak_knob_src[k] = HAK_SRC_DEFAULT;
    }
    bool ok = load_captured();

    if (ok && messages.count != 0) die("an accepted profile produced messages", messages.text[0]);
    if (!ok && messages.count == 0) die("a rejected profile produced no message", NULL);
    for (size_t i = 0; i < messages.count && i < MAX_MESSAGES; i++) {
        const char *m = messages.text[i];
        size_t len = messages.len[i];
        if (strncmp(m, "hakmem: profile ", 16) != 0)
            die("a message does not start with \"hakmem: profile \"", m);
        if (len == 0 || m[len - 1] != '\n') die("a message does not end with a newline", m);
        for (size_t j = 0; j + 1 < len; j++) {
            unsigned char c = (unsigned char)m[j];
            if (c == '\n') die("a message spans several lines", m);
            if (c < 0x20 || c == 0x7f) die("a message holds a control character", m);
        }
    }
    for (unsigned k = 0; k < HAK_KNOB_COUNT; k++) {
        const hak_knob_info_t *kn = &hak_knob_table[k];
        if (hak_knob_value[k] < kn->min || hak_knob_value[k] > kn->max)
            die("a knob is out of its bounds after loading", kn->name);
    }
    return 0;
}
