/* pairs.c — the fast path alone: one thread, malloc+free pairs of 16–256
 * bytes, each block freed 64 allocations after it was made (a ring), so
 * that every free goes to a thread cache and every malloc is served from
 * one. Counted with callgrind or `perf stat -e instructions` (see
 * bench/fastpath), the instructions a pair is what the allocator's fast
 * path costs, loop included.
 *
 *   pairs [N]      N pairs (default 10,000,000) */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    if (n < 0) {
        fprintf(stderr, "usage: pairs [N]   (N >= 0 malloc+free pairs)\n");
        return 2;
    }
    void *ring[64] = {0};
    unsigned x = 1;
    for (long i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u; /* the same sizes under every allocator */
        size_t size = 16 + ((x >> 16) % 241);
        void *p = malloc(size);
        if (p == NULL) {
            perror("malloc");
            return 1;
        }
        unsigned k = (x >> 8) & 63;
        free(ring[k]);
        ring[k] = p;
    }
    for (unsigned k = 0; k < 64; k++) free(ring[k]);
    printf("pairs: %ld\n", n);
    return 0;
}
