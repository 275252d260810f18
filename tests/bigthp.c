/* bigthp.c — large blocks ask for transparent huge pages only once the
 * program is seen to fill them: a huge page is resident whole as soon as
 * one byte of it is touched, and a big table touched here and there, or a
 * buffer used a little at both ends, must not cost its size in RSS.
 *
 *   bigthp made|freed|cleared [--expect-hakmem]
 *
 * made:    a 64 MiB block touched once every 4 MiB, then an 8 MiB one
 *          (which looks at the first: not filled), must be mapped without
 *          MADV_HUGEPAGE; the 8 MiB block is then filled and a third made
 *          (which looks at the second: filled), and a fourth must be mapped
 *          with it.
 * freed:   an 8 MiB block filled and freed (the free looks at it), then a
 *          12 MiB one must be mapped with it. Run with the large cache off,
 *          so that the second block is a mapping of its own.
 * cleared: an 8 MiB block from calloc, untouched, freed; calloc again takes
 *          it from the cache and hakmem clears it whole, which is not the
 *          program filling it: freed again, a 12 MiB block made after it
 *          must be mapped without.
 * The advice is read from the VmFlags of the mapping in /proc/self/smaps
 * ("hg"). Under another allocator, or where the kernel has no transparent
 * huge pages, never gives them, or gives them to every mapping, there is
 * nothing to check: exit 77. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MIB ((size_t)1 << 20)

static const char *prog = "bigthp";
static int failed;

/* Whether the mapping holding p was advised MADV_HUGEPAGE. */
static int advised(const void *p) {
    int hg = tu_advised_huge(prog, p);
    if (hg < 0) tu_die(prog, "no mapping in /proc/self/smaps holds %p", p);
    return hg;
}

/* Whether any part of the block [p, p + n) lies in a mapping advised
 * MADV_HUGEPAGE: a block made of cached spans moved into place keeps their
 * mappings' advice beside a fresh part's. */
static void expect(const char *what, char *p, size_t n, int want) {
    int got = advised(p) || advised(p + n / 2) || advised(p + n - 1);
    printf("%s %s: %s huge pages (%p)\n", got == want ? "ok  " : "FAIL", what,
           got ? "asks for" : "does not ask for", (void *)p);
    if (got != want) failed = 1;
}

static char *take(size_t n) {
    char *p = malloc(n);
    if (p == NULL) tu_die(prog, "malloc(%zu) failed", n);
    return p;
}

static char *take_zeroed(size_t n) {
    char *p = calloc(1, n);
    if (p == NULL) tu_die(prog, "calloc(1, %zu) failed", n);
    return p;
}

int main(int argc, char **argv) {
    int expected = tu_take_expect_flag(&argc, argv);
    if (argc != 2 || (strcmp(argv[1], "made") != 0 && strcmp(argv[1], "freed") != 0 &&
                      strcmp(argv[1], "cleared") != 0)) {
        fprintf(stderr, "usage: bigthp made|freed|cleared [--expect-hakmem]\n");
        return 2;
    }
    if (tu_check_hakmem(prog, expected) == NULL) return 77;
    char mode[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f == NULL || fgets(mode, sizeof mode, f) == NULL || strstr(mode, "[never]") != NULL ||
        strstr(mode, "[always]") != NULL) {
        /* "always": the kernel gives huge pages to every mapping, advised
         * or not, and hakmem's own reading of a filled block sees them. */
        printf("SKIP: transparent huge pages are %s here\n", f == NULL ? "absent" : mode);
        if (f != NULL) fclose(f);
        return 77;
    }
    fclose(f);
    setvbuf(stdout, NULL, _IONBF, 0);

    if (strcmp(argv[1], "made") == 0) {
        char *table = take(64 * MIB);
        for (size_t off = 0; off < 64 * MIB; off += 4 * MIB) table[off] = 1;
        char *buf = take(8 * MIB);
        expect("a 64 MiB block touched every 4 MiB", table, 64 * MIB, 0);
        expect("the 8 MiB block made after it", buf, 8 * MIB, 0);
        memset(tu_launder(buf), 2, 8 * MIB);
        char *next = take(8 * MIB);
        char *last = take(8 * MIB);
        expect("an 8 MiB block made after that one was filled, and one more", last, 8 * MIB, 1);
        free(table);
        free(buf);
        free(next);
        free(last);
    } else if (strcmp(argv[1], "freed") == 0) {
        char *buf = take(8 * MIB);
        memset(tu_launder(buf), 2, 8 * MIB);
        free(tu_launder(buf));
        char *next = take(12 * MIB);
        expect("a 12 MiB block made after a filled 8 MiB one was freed", next, 12 * MIB, 1);
        free(next);
    } else {
        char *buf = take_zeroed(8 * MIB);
        free(tu_launder(buf));
        char *again = take_zeroed(8 * MIB);
        if (again != buf) printf("note: calloc did not take the cached block again\n");
        free(tu_launder(again));
        char *next = take(12 * MIB);
        expect("a 12 MiB block made after an 8 MiB one that calloc cleared", next, 12 * MIB, 0);
        free(next);
    }
    return failed;
}
