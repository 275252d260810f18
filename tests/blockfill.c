/* blockfill.c — a program that allocates MIB MiB of 20 KiB blocks and
 * either writes only each block's first 64 bytes (head: a header, the rest
 * of the buffer never used) or every byte of each (whole), then prints its
 * peak RSS in KiB and frees them. Whether the pool's pages of blocks over
 * 4 KiB get huge pages should follow which (tests/knobs_matter.sh).
 *   blockfill head|whole MIB */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define BLOCK (20 * 1024)

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "head") != 0 && strcmp(argv[1], "whole") != 0)) {
        fprintf(stderr, "usage: blockfill head|whole MIB\n");
        return 2;
    }
    int whole = strcmp(argv[1], "whole") == 0;
    size_t n = (size_t)atol(argv[2]) * 1024 * 1024 / BLOCK;
    char **blocks = calloc(n, sizeof *blocks);
    if (blocks == NULL) return 1;
    for (size_t i = 0; i < n; i++) {
        blocks[i] = malloc(BLOCK);
        if (blocks[i] == NULL) {
            fprintf(stderr, "blockfill: malloc(%d) failed\n", BLOCK);
            return 1;
        }
        memset(blocks[i], 'x', whole ? BLOCK : 64);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%ld\n", ru.ru_maxrss);
    for (size_t i = 0; i < n; i++) free(blocks[i]);
    free(blocks);
    return 0;
}
