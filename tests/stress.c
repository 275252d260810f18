/* stress.c — many threads allocating with every entry point and freeing each
 * other's blocks. Blocks travel between threads through a shared array of
 * slots (atomic exchange), so most frees are remote frees; realloc moves
 * blocks across tiers. Every block carries a header and a fill pattern
 * derived from its address, size, owner and serial, checked before every
 * free and realloc: a block handed out twice, overlapping another, or
 * damaged by a remote free shows up as a mismatch.
 *
 * Usage: stress [seconds=5] [threads=8] [--expect-hakmem]. The run is bounded
 * by time; nothing is asserted about speed. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define NSLOTS   2048
#define NLOCAL   256
#define MAX_THR  64
#define HDR_SIZE 16 /* smallest block: the header must fit */

/* The header alone cannot catch a block handed out twice: the second owner
 * restamps it consistently. So every allocation gets a serial, and whoever
 * holds the block keeps 16 bits of it in the unused top bits of the pointer
 * (user addresses are below 2^48); a restamped block no longer matches. */
struct hdr {
    uint32_t size;
    uint16_t owner;
    uint16_t check;
    uint64_t serial;
};

typedef uintptr_t ref_t; /* pointer | tag << 48 */

#define REF_SHIFT 48
#define REF_MASK  (((uintptr_t)1 << REF_SHIFT) - 1)

struct thr {
    pthread_t tid;
    unsigned id;
    uint64_t rng;
    uint64_t serial;
    ref_t local[NLOCAL];
    unsigned long ops, remote_frees, reallocs, allocs;
};

static _Atomic(ref_t) g_slots[NSLOTS];
static atomic_int g_stop;
static tu_is_ours_fn g_is_ours;
static bool g_all_ours; /* hakmem expected to serve every block */

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static uint16_t tag_of(uint64_t serial) {
    return (uint16_t)mix(serial);
}
static void *ref_ptr(ref_t r) {
    return (void *)(r & REF_MASK);
}
static uint16_t ref_tag(ref_t r) {
    return (uint16_t)(r >> REF_SHIFT);
}

static uint64_t key_of(uintptr_t addr, const struct hdr *h) {
    return mix(addr ^ ((uint64_t)h->size << 40) ^ ((uint64_t)h->owner << 24) ^
               (h->serial * 0x9E3779B97F4A7C15ULL));
}

static unsigned char pat(uint64_t key, size_t i) {
    return (unsigned char)((uint8_t)key + (uint8_t)(key >> 8) * (uint8_t)(i >> 9) +
                           (unsigned char)(i * 0x9du));
}

#define die(...) tu_die("stress", __VA_ARGS__)

static ref_t stamp(struct thr *t, void *p, size_t size) {
    if ((uintptr_t)p > REF_MASK) die("block %p above 2^48: cannot tag it", p);
    struct hdr h = {(uint32_t)size, (uint16_t)t->id, 0, ((uint64_t)t->id << 40) | ++t->serial};
    uint64_t key = key_of((uintptr_t)p, &h);
    h.check = (uint16_t)(key >> 48);
    memcpy(p, &h, sizeof h);
    unsigned char *b = p;
    for (size_t i = HDR_SIZE; i < size; i++) b[i] = pat(key, i);
    return (uintptr_t)p | (uintptr_t)tag_of(h.serial) << REF_SHIFT;
}

/* Checks bytes [HDR_SIZE, upto) of a block that now lives at p but was
 * stamped at address 'was' (they differ after realloc moved it). */
static struct hdr check(const void *p, uintptr_t was, size_t upto, uint16_t tag, const char *when) {
    struct hdr h;
    memcpy(&h, p, sizeof h);
    uint64_t key = key_of(was, &h);
    if (h.check != (uint16_t)(key >> 48) || h.size < HDR_SIZE)
        die("%s: header of block %p damaged (size %u owner %u check %#x)", when, p, h.size, h.owner,
            h.check);
    if (tag_of(h.serial) != tag)
        die("%s: block %p was handed out again while live: it now holds allocation %#llx of "
            "thread %u",
            when, p, (unsigned long long)h.serial, h.owner);
    if (upto > h.size) upto = h.size;
    const unsigned char *b = p;
    for (size_t i = HDR_SIZE; i < upto; i++)
        if (b[i] != pat(key, i))
            die("%s: block %p (stamped at %#lx, size %u, owner %u): byte %zu is %#x, want %#x",
                when, p, (unsigned long)was, h.size, h.owner, i, b[i], pat(key, i));
    return h;
}

/* Tier mix of a busy server: mostly tiny, some mid, a few large. */
static size_t pick_size(uint64_t *rng) {
    unsigned r = (unsigned)(tu_rand(rng) % 100);
    if (r < 70) return tu_rand_size(rng, HDR_SIZE, TU_TINY_MAX);
    if (r < 97) return tu_rand_size(rng, TU_TINY_MAX + 1, TU_MID_MAX);
    return tu_rand_size(rng, TU_MID_MAX + 1, 256 * 1024);
}

static ref_t new_block(struct thr *t) {
    size_t n = pick_size(&t->rng);
    size_t align = (size_t)16 << (tu_rand(&t->rng) % 13); /* 16 B .. 64 KiB */
    void *p = NULL;
    bool zeroed = false;
    unsigned kind = (unsigned)(tu_rand(&t->rng) % 10);
    switch (kind) {
    case 5:
        p = calloc(1, n);
        zeroed = true;
        break;
    case 6:
        p = realloc(NULL, n);
        break;
    case 7:
        if (posix_memalign(&p, align, n) != 0) p = NULL;
        break;
    case 8:
        /* A multiple of the alignment, as C11 first required: sanitizers
         * still refuse anything else (conformance covers glibc's leniency). */
        n = (n + align - 1) / align * align;
        p = aligned_alloc(align, n);
        break;
    case 9:
        p = memalign(align, n);
        break;
    default:
        p = malloc(n);
        break;
    }
    if (!p) die("allocation of %zu bytes failed (errno %d)", n, errno);
    /* 16 is what C promises for objects of 16 bytes and more (glibc's 16 for
     * every block is conformance's concern). */
    if ((uintptr_t)p % 16 != 0) die("block %p of %zu bytes is misaligned", p, n);
    if (kind >= 7 && (uintptr_t)p % align != 0)
        die("aligned allocation %p of %zu bytes not %zu-aligned", p, n, align);
    if (malloc_usable_size(p) < n)
        die("malloc_usable_size(%p) = %zu < %zu", p, malloc_usable_size(p), n);
    if (zeroed) {
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
            if (b[i]) die("calloc(1, %zu) = %p: byte %zu is %#x", n, p, i, b[i]);
    }
    if (g_all_ours && !g_is_ours(p)) die("block %p of %zu bytes not served by hakmem", p, n);
    t->allocs++;
    return stamp(t, p, n);
}

static void release(struct thr *t, ref_t r, const char *when) {
    void *p = ref_ptr(r);
    struct hdr h = check(p, (uintptr_t)p, SIZE_MAX, ref_tag(r), when);
    if (h.owner != t->id) t->remote_frees++;
    free(p);
}

/* Takes a block out of its slot so no other thread can touch it while it is
 * moved, then puts it back. */
static void realloc_slot(struct thr *t, _Atomic(ref_t) *slot) {
    ref_t r = atomic_exchange(slot, 0);
    if (!r) return;
    void *old = ref_ptr(r);
    struct hdr h = check(old, (uintptr_t)old, SIZE_MAX, ref_tag(r), "before realloc");
    size_t n = pick_size(&t->rng);
    uintptr_t old_addr = (uintptr_t)old;
    void *q = realloc(tu_launder(old), n); /* laundered: gcc flags the key use below */
    if (!q) die("realloc(%#lx, %zu) failed", (unsigned long)old_addr, n);
    /* The block may have moved: its old bytes are checked against the key of
     * its old address, up to what both sizes share. */
    check(q, old_addr, n < h.size ? n : h.size, ref_tag(r), "after realloc");
    if ((uintptr_t)q % 16 != 0) die("realloc result %p (%zu bytes) misaligned", q, n);
    if (malloc_usable_size(q) < n) die("realloc(%zu) usable %zu", n, malloc_usable_size(q));
    t->reallocs++;
    ref_t prev = atomic_exchange(slot, stamp(t, q, n));
    if (prev) release(t, prev, "slot refilled during realloc");
}

static void *worker(void *arg) {
    struct thr *t = arg;
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        for (int k = 0; k < 256; k++) {
            unsigned r = (unsigned)(tu_rand(&t->rng) % 100);
            _Atomic(ref_t) *slot = &g_slots[tu_rand(&t->rng) % NSLOTS];
            if (r < 50) {
                ref_t old = atomic_exchange(slot, new_block(t));
                if (old) release(t, old, "before free of a shared block");
            } else if (r < 60) {
                realloc_slot(t, slot);
            } else {
                unsigned i = (unsigned)(tu_rand(&t->rng) % NLOCAL);
                if (t->local[i]) release(t, t->local[i], "before free of a local block");
                t->local[i] = new_block(t);
            }
            t->ops++;
        }
    }
    /* Half the local blocks outlive the thread: main frees them after the
     * owner is gone. */
    for (unsigned i = 0; i < NLOCAL; i += 2) {
        if (t->local[i]) release(t, t->local[i], "at thread end");
        t->local[i] = 0;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int expect = tu_take_expect_flag(&argc, argv);
    g_is_ours = tu_check_hakmem("stress", expect);
    double seconds = argc > 1 ? atof(argv[1]) : 5.0;
    int nthr = argc > 2 ? atoi(argv[2]) : 8;
    if (seconds <= 0 || nthr < 1 || nthr > MAX_THR) {
        fprintf(stderr, "usage: stress [seconds>0] [threads 1..%d] [--expect-hakmem]\n", MAX_THR);
        return 2;
    }
    g_all_ours = g_is_ours && tu_env_long("HAKMEM_WRAP_TINY", 1) &&
                 tu_env_long("HAKMEM_WRAP_MID", 1) && tu_env_long("HAKMEM_WRAP_LARGE", 1);

    static struct thr thr[MAX_THR];
    for (int i = 0; i < nthr; i++) {
        thr[i].id = (unsigned)i + 1;
        thr[i].rng = mix(0x1234567ULL + (uint64_t)i) | 1;
        int rc = pthread_create(&thr[i].tid, NULL, worker, &thr[i]);
        if (rc) {
            fprintf(stderr, "FAIL stress: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    atomic_store(&g_stop, 1);

    unsigned long ops = 0, remote = 0, reallocs = 0, allocs = 0;
    static struct thr self; /* main, id 0: every free it does is remote */
    for (int i = 0; i < nthr; i++) {
        pthread_join(thr[i].tid, NULL);
        ops += thr[i].ops;
        remote += thr[i].remote_frees;
        reallocs += thr[i].reallocs;
        allocs += thr[i].allocs;
        for (unsigned k = 0; k < NLOCAL; k++)
            if (thr[i].local[k])
                release(&self, thr[i].local[k], "freeing an exited thread's block");
    }
    for (int s = 0; s < NSLOTS; s++) {
        ref_t r = atomic_exchange(&g_slots[s], 0);
        if (r) release(&self, r, "final drain");
    }
    printf("stress: %d threads, %.1f s: %lu ops, %lu allocations, %lu reallocs, %lu remote "
           "frees\n",
           nthr, seconds, ops, allocs, reallocs, remote);
    if (remote == 0 && nthr > 1) {
        printf("FAIL stress: no cross-thread frees happened\n");
        return 1;
    }
    printf("stress: ok\n");
    return 0;
}
