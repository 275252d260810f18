/* tiny_server.c — a server with a known answer, for hak-tune --server's
 * test: it answers each "REQ" line on 127.0.0.1:PORT with "OK" after a
 * little allocation work and a pause that is long while chunk_pool_pages
 * stays below 4096 and short from there on (the shape of a server whose
 * page pool is too small). It reads its knobs as hakmem does
 * (HAKMEM_CONFIG through the library's own loader), and exits normally on
 * SIGTERM, so hakmem's destructor writes the stats that prove it served.
 *
 *   tiny_server PORT [--crash-if KNOB=VALUE] [--err-if KNOB=VALUE]
 *                    [--exit-if KNOB=VALUE] [--no-listen] [--no-term]
 *
 * --crash-if aborts at the first request, --err-if answers "ERR" (its
 * client then fails), --exit-if exits 1 before listening, --no-listen
 * never listens, --no-term leaves SIGTERM's default action (no stats). */
#include "knobs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 16

static volatile sig_atomic_t stop;

static void on_term(int sig) {
    (void)sig;
    stop = 1;
}

/* "align_mode=overalloc" holds for the profile being run. */
static int holds(const char *spec) {
    if (!spec) return 0;
    char name[64];
    const char *eq = strchr(spec, '=');
    if (!eq || (size_t)(eq - spec) >= sizeof name) return 0;
    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = '\0';
    int k = hak_knob_find(name);
    long long v;
    return k >= 0 && hak_knob_parse((hak_knob_id_t)k, eq + 1, &v) && hak_knob_value[k] == v;
}

static void serve_one(void) {
    static const size_t sizes[] = {64, 2000, 20000, 200000};
    void *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = malloc(sizes[i]);
        if (p[i]) memset(p[i], i, 32);
    }
    for (int i = 0; i < 4; i++) free(p[i]);
    long us = hak_knob(CHUNK_POOL_PAGES) >= 4096 ? 100 : 1500;
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tiny_server PORT [--crash-if K=V] [--err-if K=V] [--exit-if K=V] "
                        "[--no-listen] [--no-term]\n");
        return 2;
    }
    const char *crash_if = NULL, *err_if = NULL, *exit_if = NULL;
    int no_listen = 0, no_term = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--crash-if") == 0 && i + 1 < argc)
            crash_if = argv[++i];
        else if (strcmp(argv[i], "--err-if") == 0 && i + 1 < argc)
            err_if = argv[++i];
        else if (strcmp(argv[i], "--exit-if") == 0 && i + 1 < argc)
            exit_if = argv[++i];
        else if (strcmp(argv[i], "--no-listen") == 0)
            no_listen = 1;
        else if (strcmp(argv[i], "--no-term") == 0)
            no_term = 1;
        else {
            fprintf(stderr, "tiny_server: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!hak_options_init()) return 2;
    if (holds(exit_if)) {
        fprintf(stderr, "tiny_server: told to exit before listening\n");
        return 1;
    }
    if (!no_term) {
        struct sigaction sa = {.sa_handler = on_term};
        sigaction(SIGTERM, &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    if (no_listen) {
        while (!stop) pause();
        return 0;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 16) != 0) {
        perror("tiny_server: bind/listen");
        return 1;
    }
    struct pollfd fds[MAX_CONN + 1] = {{.fd = ls, .events = POLLIN}};
    int n = 1, served = 0;
    while (!stop) {
        if (poll(fds, (nfds_t)n, 100) <= 0) continue;
        if ((fds[0].revents & POLLIN) && n <= MAX_CONN) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0) fds[n++] = (struct pollfd){.fd = c, .events = POLLIN};
        }
        for (int i = 1; i < n; i++) {
            if (!fds[i].revents) continue;
            char buf[256];
            ssize_t k = read(fds[i].fd, buf, sizeof buf);
            if (k <= 0) {
                close(fds[i].fd);
                fds[i--] = fds[--n];
                continue;
            }
            for (ssize_t j = 0; j < k; j++) {
                if (buf[j] != '\n') continue;
                if (holds(crash_if)) abort();
                serve_one();
                served++;
                const char *reply = holds(err_if) ? "ERR\n" : "OK\n";
                if (write(fds[i].fd, reply, strlen(reply)) < 0) break;
            }
        }
    }
    fprintf(stderr, "tiny_server: served %d requests\n", served);
    return 0;
}
