/* pagecycle.c — a deterministic page-churning workload for the knob tests:
 * one thread fills whole pages of the mid tier, frees them all, and again,
 * so every round creates and releases pages and the OS layer's behaviour
 * shows in hakmem's counters. Also runs under plain glibc.
 *   pagecycle [ROUNDS [BLOCK_SIZE]]   (20 rounds of 6000-byte blocks) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    int size = argc > 2 ? atoi(argv[2]) : 6000;
    enum { BLOCKS = 4000 };
    if (size < 64) {
        fprintf(stderr, "pagecycle: a block size of at least 64 bytes, please (got %d)\n", size);
        return 2;
    }
    static char *blocks[BLOCKS];
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < BLOCKS; i++) {
            blocks[i] = malloc((size_t)size);
            if (blocks[i] == NULL) {
                fprintf(stderr, "pagecycle: malloc(%d) failed\n", size);
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
