/* static_load.c — a statically linked workload: ld.so never runs, so
 * LD_PRELOAD cannot take, and its runs measure glibc's allocator. hak-tune
 * must notice (hakmem writes no stats) and refuse them. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    void *p = malloc(100);
    printf("Throughput = %d operations per second\n", p != NULL ? 1000 : 0);
    free(p);
    return 0;
}
