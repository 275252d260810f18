/* tiny_client.c — the load generator of hak-tune --server's test: N
 * requests, one at a time, to tiny_server on 127.0.0.1:PORT, then
 * "requests/s: X". It fails (exit 1) when the server answers anything but
 * "OK" or goes away: a client that fails fails its candidate.
 *
 *   tiny_client PORT N */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tiny_client PORT N\n");
        return 2;
    }
    int n = atoi(argv[2]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("tiny_client: connect");
        return 1;
    }
    double t0 = now();
    for (int i = 0; i < n; i++) {
        char buf[8];
        if (write(fd, "REQ\n", 4) != 4) {
            fprintf(stderr, "tiny_client: the server went away at request %d\n", i + 1);
            return 1;
        }
        ssize_t k = read(fd, buf, sizeof buf);
        if (k != 3 || memcmp(buf, "OK\n", 3) != 0) {
            fprintf(stderr, "tiny_client: request %d: the server answered %s\n", i + 1,
                    k <= 0 ? "nothing" : "an error");
            return 1;
        }
    }
    printf("requests/s: %.1f\n", n / (now() - t0));
    close(fd);
    return 0;
}
