/* bufcycle.c — a program that holds its peak and replaces part of it, for
 * the retention tests: LIVE buffers of 1–4 MiB stay allocated, and ROUNDS
 * times one of them, picked by a fixed sequence, is freed and replaced by
 * one of another size, each 4 KiB of it written. A retention bound that
 * follows only the peak gives back each freed buffer and faults the next
 * one in fresh; the counters show which happened. Also runs under glibc.
 *   bufcycle [ROUNDS [LIVE]]   (400 rounds, 16 live buffers) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MiB ((size_t)1 << 20)

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char *fill(size_t n, char tag) {
    char *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "bufcycle: malloc(%zu) failed\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i += 4096) p[i] = tag;
    p[n - 1] = tag;
    return p;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 400;
    int live = argc > 2 ? atoi(argv[2]) : 16;
    if (rounds < 1 || live < 1 || live > 256) {
        fprintf(stderr, "bufcycle: ROUNDS >= 1 and 1 <= LIVE <= 256, please (got %d, %d)\n", rounds,
                live);
        return 2;
    }
    char *buf[256];
    size_t len[256];
    for (int i = 0; i < live; i++) {
        len[i] = MiB + next() % (3 * MiB);
        buf[i] = fill(len[i], (char)i);
    }
    for (int r = 0; r < rounds; r++) {
        int v = (int)(next() % (uint64_t)live);
        if (buf[v][0] != buf[v][len[v] - 1]) {
            fprintf(stderr, "bufcycle: buffer %d corrupted\n", v);
            return 1;
        }
        free(buf[v]);
        len[v] = MiB + next() % (3 * MiB);
        buf[v] = fill(len[v], (char)r);
    }
    for (int i = 0; i < live; i++) free(buf[i]);
    puts("bufcycle: ok");
    return 0;
}
