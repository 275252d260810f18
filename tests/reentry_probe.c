/* reentry_probe.c — the smallest workload that makes the mid-tier page pool
 * ask for pages: enough 5000-byte blocks alive at once to need several
 * pages. reentry.sh runs it under the deliberately broken library, where
 * that request re-enters the allocator, and under the real one. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

int main(void) {
    enum { N = 256 };
    static void *blk[N];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < N; i++) {
            blk[i] = tu_launder(malloc(5000));
            if (!blk[i]) {
                printf("FAIL reentry_probe: malloc(5000) returned NULL\n");
                return 1;
            }
            memset(blk[i], round + 1, 5000);
        }
        for (int i = 0; i < N; i++) {
            if (((unsigned char *)blk[i])[4999] != round + 1) {
                printf("FAIL reentry_probe: block %d damaged\n", i);
                return 1;
            }
            free(blk[i]);
        }
    }
    printf("reentry_probe: ok\n");
    return 0;
}
