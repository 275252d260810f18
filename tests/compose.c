/* compose.c — big blocks made of smaller freed ones (large.c, span_compose):
 * a request of megabytes that no freed block is big enough for takes the
 * pages of several, moved by the kernel into one range. Every byte a block
 * is given must be the program's alone: what it writes survives the moves
 * of its neighbours, the realloc of its own block, and calloc's blocks are
 * zero even when their pages were another block's. Checks every byte of
 * every block before it is freed. Also runs under glibc (nothing moves).
 *   compose [--refuse-moves] [ROUNDS]   (120 rounds of replacing one of 6
 *                                        live buffers)
 * --refuse-moves has the kernel refuse every mremap to a fixed address
 * (a seccomp filter, ENOMEM), as one short of memory may refuse a move
 * half way: the same bytes must hold while hakmem gives up making blocks
 * so, and realloc copies what it cannot move. Exit status 77 where no
 * filter can be installed. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
#endif

/* mremap(..., flags with MREMAP_FIXED, ...) fails with ENOMEM from here on;
 * every other call is let through. */
static bool refuse_moves(void) {
#ifdef AUDIT_ARCH_HERE
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mremap, 0, 3),
        /* flags, the fourth argument: its low word (little-endian) */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MREMAP_FIXED, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOMEM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
#else
    return false;
#endif
}

#define MiB ((size_t)1 << 20)

static int failures;
static uint64_t rng = 0x2545f4914f6cdd1du;

/* Byte i of a block tagged t: differs from its neighbours and from every
 * other tag's at most offsets, so a page moved to the wrong place shows. */
static unsigned char pat(unsigned t, size_t i) {
    return (unsigned char)(t * 131u + (i >> 12) * 7u + i);
}

static void fill(unsigned char *p, size_t n, unsigned t) {
    for (size_t i = 0; i < n; i++) p[i] = pat(t, i);
}

static void check(const unsigned char *p, size_t n, unsigned t, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != pat(t, i)) {
            fprintf(stderr, "compose: %s (tag %u, %zu bytes): byte %zu is %u, expected %u\n", what,
                    t, n, i, p[i], pat(t, i));
            failures++;
            return;
        }
}

static void *get(size_t n) {
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "compose: malloc(%zu) failed\n", n);
        exit(1);
    }
    return p;
}

int main(int argc, char **argv) {
    bool refuse = argc > 1 && strcmp(argv[1], "--refuse-moves") == 0;
    if (refuse) {
        argc--;
        argv++;
    }
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 120;
    if (rounds < 0) {
        fprintf(stderr, "usage: compose [--refuse-moves] [ROUNDS]\n");
        return 2;
    }
    if (refuse && !refuse_moves()) {
        fprintf(stderr, "compose: cannot install a seccomp filter here: %s\n", strerror(errno));
        return 77;
    }
    /* Eight blocks of 3 MiB and a bit; every other one freed, so that the
     * freed ones cannot join into one span. */
    unsigned char *b[8];
    size_t n[8];
    for (unsigned i = 0; i < 8; i++) {
        n[i] = 3 * MiB + i * 4096 + 123;
        b[i] = get(n[i]);
        fill(b[i], n[i], i);
    }
    for (unsigned i = 0; i < 8; i += 2) {
        check(b[i], n[i], i, "a block before its free");
        free(b[i]);
    }
    /* Bigger than any of them, smaller than all four together. */
    size_t bn = 11 * MiB + 77;
    unsigned char *big = get(bn);
    fill(big, bn, 100);
    for (unsigned i = 1; i < 8; i += 2) check(b[i], n[i], i, "a live neighbour of moved pages");
    check(big, bn, 100, "a block made of freed ones");
    free(big);
    /* calloc's block of old pages and new ones: zero throughout. */
    size_t zn = 20 * MiB + 5;
    unsigned char *z = calloc(1, zn);
    if (z == NULL) {
        fprintf(stderr, "compose: calloc(%zu) failed\n", zn);
        return 1;
    }
    for (size_t i = 0; i < zn; i++)
        if (z[i] != 0) {
            fprintf(stderr, "compose: calloc's block of %zu bytes: byte %zu is %u, not 0\n", zn, i,
                    z[i]);
            failures++;
            break;
        }
    fill(z, zn, 101);
    unsigned char *g = realloc(z, 30 * MiB);
    if (g == NULL) return 1;
    check(g, zn, 101, "a made block grown by realloc");
    unsigned char *s = realloc(g, 5 * MiB);
    if (s == NULL) return 1;
    check(s, 5 * MiB, 101, "a made block shrunk by realloc");
    free(s);
    for (unsigned i = 1; i < 8; i += 2) {
        check(b[i], n[i], i, "a live block at the end");
        free(b[i]);
    }
    /* Six live buffers of 2-9 MiB, one replaced at a time by one of another
     * size, as a program cycling big buffers does. */
    enum { LIVE = 6 };
    unsigned char *live[LIVE];
    size_t len[LIVE];
    unsigned tag[LIVE];
    for (unsigned i = 0; i < LIVE; i++) {
        len[i] = 2 * MiB + tu_rand(&rng) % (7 * MiB);
        tag[i] = 200 + i;
        live[i] = get(len[i]);
        fill(live[i], len[i], tag[i]);
    }
    for (long r = 0; r < rounds; r++) {
        unsigned i = (unsigned)(tu_rand(&rng) % LIVE);
        check(live[i], len[i], tag[i], "a cycled buffer");
        free(live[i]);
        len[i] = 2 * MiB + tu_rand(&rng) % (7 * MiB);
        tag[i] = (unsigned)(300 + r);
        live[i] = get(len[i]);
        fill(live[i], len[i], tag[i]);
    }
    for (unsigned i = 0; i < LIVE; i++) {
        check(live[i], len[i], tag[i], "a cycled buffer at the end");
        free(live[i]);
    }
    if (failures != 0) {
        fprintf(stderr, "compose: %d checks failed\n", failures);
        return 1;
    }
    printf("compose: every byte as written\n");
    return 0;
}
