/* advice.c — small, deterministic workloads for the advisor's tests
 * (tests/advice.sh): with the right knobs each makes one rule fire, with
 * the defaults none, and `quiet` is the program that must never get
 * advice. Counts, not time, decide what they do. Also runs under glibc.
 *   advice quiet
 *   advice small OPS    one thread keeps 4096 blocks of 16-256 bytes and
 *                       replaces one at random OPS times (an interpreter)
 *   advice large COUNT  one 1 MiB buffer at a time, filled sparsely and
 *                       freed, COUNT times (a file copied through a buffer)
 * Further arguments are ignored (the tests pass some to see how the advice
 * quotes a command line). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rnd = 12345;
static uint32_t next_rand(void) {
    rnd = rnd * 1103515245u + 12345u;
    return rnd >> 8;
}

static int small(long ops) {
    enum { LIVE = 4096 };
    static unsigned char *live[LIVE];
    for (long i = 0; i < ops; i++) {
        unsigned slot = next_rand() % LIVE;
        if (live[slot] != NULL) {
            if (live[slot][0] != (unsigned char)slot) {
                fprintf(stderr, "advice: block %u corrupted\n", slot);
                return 1;
            }
            free(live[slot]);
        }
        live[slot] = malloc(16 + next_rand() % 241);
        if (live[slot] == NULL) {
            fprintf(stderr, "advice: malloc failed\n");
            return 1;
        }
        live[slot][0] = (unsigned char)slot;
    }
    for (unsigned i = 0; i < LIVE; i++) free(live[i]);
    return 0;
}

static int large(long count) {
    enum { SIZE = 1 << 20 };
    for (long i = 0; i < count; i++) {
        unsigned char *p = malloc(SIZE);
        if (p == NULL) {
            fprintf(stderr, "advice: malloc(%d) failed\n", SIZE);
            return 1;
        }
        for (size_t off = 0; off < SIZE; off += 256 * 1024) p[off] = (unsigned char)i;
        free(p);
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    long n = argc > 2 ? atol(argv[2]) : 0;
    int rc;
    if (strcmp(mode, "quiet") == 0) {
        free(malloc(100));
        rc = 0;
    } else if (strcmp(mode, "small") == 0 && n > 0) {
        rc = small(n);
    } else if (strcmp(mode, "large") == 0 && n > 0) {
        rc = large(n);
    } else {
        fprintf(stderr, "usage: advice quiet | small OPS | large COUNT\n");
        return 2;
    }
    if (rc == 0) printf("advice %s: ok\n", mode);
    return rc;
}
