/* invalid.c — one misuse of the allocator per run, for invalid.sh to
 * watch: what the process prints and how it ends.
 *   invalid CASE
 * Cases:
 *   wild             free() of an address in no mapping at all
 *   stack            free() of a stack address
 *   misaligned       free() of a pointer 1 byte into a live 64-byte block
 *   interior-tiny    free() of a pointer 16 bytes into a live 64-byte block
 *   interior-mid     free() of a pointer 16 bytes into a live 5000-byte block
 *   interior-deferred free() of a pointer 16 bytes into a live 12000-byte
 *                    block, which the large tier serves until the mid tier
 *                    opens (mid_open_after)
 *   interior-large   free() of a pointer 4 KiB into a live 200 KiB block
 *   realloc-interior realloc() of a pointer 16 bytes into a live 64-byte block
 *   usable-interior  malloc_usable_size() of a pointer 4 KiB into a 200 KiB block
 *   realloc-wild     realloc() of an address in no mapping
 *   realloc-freed    realloc() of a 200 KiB block after free()
 *   usable-freed     malloc_usable_size() of a 200 KiB block after free()
 * A case that returns prints what it saw and "returned" on stdout, then
 * exits 0: the misuse went unnoticed. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "testutil.h"

#define LARGE (200 * 1024)

/* An address that was just unmapped: no mapping holds it. */
static void *unmapped_address(void) {
    void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    munmap(p, 1 << 20);
    return (char *)p + 4096;
}

/* free() of p + off, p a live block of `size` bytes. If that free was taken
 * at face value, the next block of the size may lie inside p. */
static void interior_small(size_t size, size_t off) {
    char *p = malloc(size);
    memset(p, 'a', size);
    free(tu_launder(p + off));
    char *q = malloc(size);
    printf("interior: p = %p, next malloc(%zu) = %p%s\n", (void *)p, size, (void *)q,
           q > p && q < p + size ? " (inside the live block p)" : "");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: invalid CASE\n");
        return 2;
    }
    const char *c = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);
    if (strcmp(c, "wild") == 0) {
        free(tu_launder(unmapped_address()));
    } else if (strcmp(c, "stack") == 0) {
        /* Zeroed: glibc reads what would be a chunk header in the bytes
         * before the pointer, and stack garbage there could send it down
         * any path. */
        char local[64];
        memset(tu_launder(local), 0, sizeof local);
        free(tu_launder(local + 16));
    } else if (strcmp(c, "misaligned") == 0) {
        interior_small(64, 1);
    } else if (strcmp(c, "interior-tiny") == 0) {
        interior_small(64, 16);
    } else if (strcmp(c, "interior-mid") == 0) {
        interior_small(5000, 16);
    } else if (strcmp(c, "interior-deferred") == 0) {
        interior_small(12000, 16);
    } else if (strcmp(c, "realloc-interior") == 0) {
        char *p = malloc(64);
        memset(p, 'a', 64);
        char *q = realloc(tu_launder(p + 16), 128);
        printf("realloc-interior: realloc(p + 16, 128) = %p\n", (void *)q);
    } else if (strcmp(c, "usable-interior") == 0) {
        char *p = malloc(LARGE);
        memset(p, 'a', LARGE);
        printf("usable-interior: %zu\n", malloc_usable_size(tu_launder(p + 4096)));
    } else if (strcmp(c, "realloc-wild") == 0) {
        void *q = realloc(tu_launder(unmapped_address()), 100);
        printf("realloc-wild: %p\n", q);
    } else if (strcmp(c, "interior-large") == 0) {
        char *p = malloc(LARGE);
        memset(p, 'a', LARGE);
        free(tu_launder(p + 4096));
    } else if (strcmp(c, "realloc-freed") == 0) {
        char *p = malloc(LARGE);
        memset(p, 'a', LARGE);
        free(p);
        char *q = realloc(tu_launder(p), 2 * LARGE);
        printf("realloc-freed: realloc of the freed block %p returned %p\n", (void *)p, (void *)q);
        /* If the freed block was still listed as free, the next request of
         * the new size may hand the same memory out again. */
        char *r = malloc(2 * LARGE);
        printf("realloc-freed: next malloc(%d) = %p%s\n", 2 * LARGE, (void *)r,
               q != NULL && r != NULL && r < q + 2 * LARGE && q < r + 2 * LARGE
                   ? " (overlaps the live realloc result)"
                   : "");
    } else if (strcmp(c, "usable-freed") == 0) {
        char *p = malloc(LARGE);
        free(p);
        printf("usable-freed: malloc_usable_size of the freed block = %zu\n",
               malloc_usable_size(tu_launder(p)));
    } else {
        fprintf(stderr, "invalid: unknown case %s\n", c);
        return 2;
    }
    printf("returned\n");
    return 0;
}
