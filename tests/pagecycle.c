/* pagecycle.c — a deterministic page-churning workload for the knob tests:
 * one thread fills whole pages of the mid tier, frees them all, and again,
 * so every round creates and releases pages and the OS layer's behaviour
 * shows in hakmem's counters. Also runs under plain glibc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    enum { BLOCKS = 4000, SIZE = 6000 };
    static char *blocks[BLOCKS];
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < BLOCKS; i++) {
            blocks[i] = malloc(SIZE);
            if (blocks[i] == NULL) {
                fprintf(stderr, "pagecycle: malloc(%d) failed\n", SIZE);
                return 1;
            }
            memset(blocks[i], r, 64);
        }
        for (int i = 0; i < BLOCKS; i++) {
            if (blocks[i][63] != (char)r) {
                fprintf(stderr, "pagecycle: block %d corrupted\n", i);
                return 1;
            }
            free(blocks[i]);
        }
    }
    puts("pagecycle: ok");
    return 0;
}
