/* fuzz_alloc.c — a libFuzzer harness for the allocator called directly:
 * each input is a program of hak_alloc, hak_alloc_zeroed,
 * hak_alloc_aligned, hak_realloc, hak_free and hak_usable_size calls run
 * by two threads at once over one shared table of slots, so blocks are
 * freed and reallocated by the thread that did not allocate them. The
 * second thread is new for every input and exits with blocks still live,
 * which the first then frees into pages whose owner is gone.
 *
 * A shadow record of every live block checks what the allocator promises:
 * live blocks never overlap (over their usable sizes), contents survive
 * until free and the shared prefix survives realloc, alignment and zeroing
 * hold, requests that cannot be met fail with ENOMEM and change nothing,
 * and once an input has freed everything each tier's allocation and free
 * counters agree. Built with AddressSanitizer and UBSan over the
 * allocator's own sources (CMakeLists.txt), so the sanitizers watch
 * hakmem's code while the shadow watches its results.
 *
 * Input format: a stream of operations; the first byte of each says which
 * thread runs it (bit 7) and what it is (the rest), the following bytes
 * give a slot and a size. Truncated inputs are fine: missing bytes read 0. */
#ifndef _GNU_SOURCE /* the build passes the allocator's own -D flags */
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSLOTS  48
#define MAX_OPS 400 /* per thread and input: keeps one input fast */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) static void die(const char *what, const void *p, size_t a, size_t b) {
    fprintf(stderr, "FAIL fuzz_alloc: %s (block %p, %zu, %zu)\n", what, p, a, b);
    abort(); /* libFuzzer saves the input that got here */
}

/* ---- the shadow ----------------------------------------------------------- */

enum { EMPTY, LIVE, BUSY }; /* BUSY: taken by a thread, still allocated */

typedef struct {
    int state;
    unsigned char *p;
    size_t n, usable, stamped;
    uint32_t seed;
} slot_t;

static pthread_mutex_t shadow_lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t slots[NSLOTS];

static unsigned char pat(uint32_t seed, size_t i) {
    return (unsigned char)(seed + i * 7u + (i >> 8) * 13u);
}

/* Every byte of small blocks, a sample of big ones. */
static size_t next_byte(size_t i, size_t n) {
    return i < 4096 || i + 64 >= n ? i + 1 : i + 61;
}

static void stamp(slot_t *s, uint32_t seed) {
    s->seed = seed;
    s->stamped = s->usable;
    for (size_t i = 0; i < s->usable; i = next_byte(i, s->usable)) s->p[i] = pat(seed, i);
}

static void verify(const slot_t *s, size_t upto) {
    if (upto > s->stamped) upto = s->stamped;
    for (size_t i = 0; i < upto; i = next_byte(i, s->stamped))
        if (s->p[i] != pat(s->seed, i)) die("contents changed", s->p, i, s->n);
}

/* A block that is allocated must not share a byte with any other block
 * that is still allocated, in a slot or in a thread's hands (shadow_lock
 * held). */
static void check_apart_locked(const slot_t *b) {
    for (int i = 0; i < NSLOTS; i++) {
        const slot_t *o = &slots[i];
        /* usable 0: a block being reallocated, whose old range may already
         * be someone else's. */
        if (o->state == EMPTY || o->usable == 0) continue;
        if (b->p < o->p + o->usable && o->p < b->p + b->usable)
            die("two live blocks overlap", b->p, (size_t)(uintptr_t)o->p, o->usable);
    }
}

/* Takes the block of slot k for this thread (the slot turns BUSY: only
 * this thread will touch it until it puts it back); false when empty. */
static bool take(int k, slot_t *out) {
    pthread_mutex_lock(&shadow_lock);
    bool ok = slots[k].state == LIVE;
    if (ok) {
        slots[k].state = BUSY;
        *out = slots[k];
    }
    pthread_mutex_unlock(&shadow_lock);
    return ok;
}

/* Slot k (taken) no longer holds an allocated range: its block is being
 * freed or moved, and the memory may be handed out again at any moment. */
static void vacate(int k, bool empty) {
    pthread_mutex_lock(&shadow_lock);
    slots[k].usable = 0;
    if (empty) slots[k].state = EMPTY;
    pthread_mutex_unlock(&shadow_lock);
}

/* Puts block b into slot k: the slot this thread took, or an empty one. A
 * slot the other thread holds keeps its block, and b is freed instead. */
static void put(int k, slot_t *b, bool taken) {
    pthread_mutex_lock(&shadow_lock);
    if (taken) slots[k].state = EMPTY;
    check_apart_locked(b);
    bool stored = slots[k].state == EMPTY;
    if (stored) {
        slots[k] = *b;
        slots[k].state = LIVE;
    }
    pthread_mutex_unlock(&shadow_lock);
    if (!stored) {
        verify(b, SIZE_MAX);
        hak_free(b->p);
    }
}

/* ---- operations ---------------------------------------------------------- */

typedef struct {
    const uint8_t *d;
    size_t n, pos;
} reader_t;

static unsigned byte(reader_t *r) {
    return r->pos < r->n ? r->d[r->pos++] : 0;
}

/* Sizes spread over every tier, up to 4 MiB. */
static size_t read_size(reader_t *r) {
    unsigned e = byte(r) % 23;
    size_t m = byte(r) | (size_t)byte(r) << 8;
    size_t span = (size_t)1 << e;
    return span / 2 + m % (span / 2 + 1);
}

static void accept(slot_t *s, void *p, size_t n, size_t align) {
    if (p == NULL) die("allocation failed", NULL, n, align);
    if ((uintptr_t)p % align != 0) die("misaligned block", p, n, align);
    if (hak_registry_get(p) == 0) die("block not in the registry", p, n, 0);
    s->p = p;
    s->n = n;
    s->usable = hak_usable_size(p);
    if (s->usable < n) die("usable size below the request", p, n, s->usable);
}

enum { OP_MALLOC, OP_CALLOC, OP_ALIGNED, OP_REALLOC, OP_FREE, OP_USABLE, OP_HUGE, OP_COUNT };

typedef struct {
    uint8_t op, slot;
    size_t size;
    uint8_t extra;
} op_t;

typedef struct {
    op_t ops[MAX_OPS];
    int nops;
    uint32_t seed;
} script_t;

static void run_op(const op_t *o, uint32_t *seed) {
    slot_t b;
    int k = o->slot % NSLOTS;
    *seed = *seed * 1103515245u + 12345u;
    switch (o->op) {
    case OP_MALLOC:
    case OP_CALLOC:
    case OP_ALIGNED: {
        size_t align = HAK_MIN_ALIGN;
        void *p;
        if (o->op == OP_MALLOC) {
            p = hak_alloc(o->size);
        } else if (o->op == OP_CALLOC) {
            p = hak_alloc_zeroed(o->size);
        } else {
            align = (size_t)1 << (o->extra % 21); /* up to 1 MiB */
            p = hak_alloc_aligned(o->size, align);
            if (align < HAK_MIN_ALIGN) align = HAK_MIN_ALIGN;
        }
        accept(&b, p, o->size, align);
        if (o->op == OP_CALLOC)
            for (size_t i = 0; i < o->size; i = next_byte(i, o->size))
                if (b.p[i] != 0) die("zeroed block is not zero", b.p, i, o->size);
        stamp(&b, *seed);
        put(k, &b, false);
        break;
    }
    case OP_REALLOC: {
        if (!take(k, &b)) break;
        verify(&b, SIZE_MAX);
        size_t n = o->size ? o->size : 1; /* 0 frees: that is OP_FREE's job */
        vacate(k, false);
        slot_t nb;
        accept(&nb, hak_realloc(b.p, n), n, HAK_MIN_ALIGN);
        nb.seed = b.seed;
        nb.stamped = b.stamped;
        verify(&nb, b.usable < n ? b.usable : n);
        stamp(&nb, *seed);
        put(k, &nb, true);
        break;
    }
    case OP_FREE:
        if (!take(k, &b)) break;
        verify(&b, SIZE_MAX);
        vacate(k, true);
        hak_free(b.p);
        break;
    case OP_USABLE:
        /* The whole usable size is the program's to write. */
        if (!take(k, &b)) break;
        verify(&b, SIZE_MAX);
        if (hak_usable_size(b.p) != b.usable) die("usable size changed", b.p, b.usable, 0);
        stamp(&b, *seed);
        put(k, &b, true);
        break;
    case OP_HUGE: {
        /* Beyond what anyone can have: NULL and ENOMEM, and a realloc that
         * fails leaves its block alone. */
        size_t n = SIZE_MAX - (size_t)o->extra * 4096;
        errno = 0;
        if (hak_alloc(n) != NULL || errno != ENOMEM) die("huge hak_alloc did not fail", NULL, n, 0);
        errno = 0;
        if (hak_alloc_aligned(n / 2, 64) != NULL || errno != ENOMEM)
            die("huge hak_alloc_aligned did not fail", NULL, n, 0);
        if (!take(k, &b)) break;
        errno = 0;
        if (hak_realloc(b.p, n) != NULL || errno != ENOMEM)
            die("huge hak_realloc did not fail", b.p, n, 0);
        verify(&b, SIZE_MAX);
        put(k, &b, true);
        break;
    }
    }
}

static void *helper(void *arg) {
    script_t *s = arg;
    for (int i = 0; i < s->nops; i++) run_op(&s->ops[i], &s->seed);
    return NULL;
}

static long long stat_of(const char *name) {
    return hak_stat(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static script_t script[2];
    reader_t r = {data, size, 0};
    script[0].nops = script[1].nops = 0;
    script[0].seed = 1;
    script[1].seed = 2;
    while (r.pos < r.n) {
        unsigned head = byte(&r);
        script_t *s = &script[head >> 7];
        if (s->nops == MAX_OPS) break;
        op_t *o = &s->ops[s->nops++];
        o->op = (uint8_t)((head & 0x7f) % OP_COUNT);
        o->slot = (uint8_t)byte(&r);
        o->size = read_size(&r);
        o->extra = (uint8_t)byte(&r);
    }
    pthread_t t;
    bool two = script[1].nops > 0 && pthread_create(&t, NULL, helper, &script[1]) == 0;
    if (!two) helper(&script[1]);
    helper(&script[0]);
    if (two) pthread_join(t, NULL);

    /* What is left is freed here, after the helper thread has exited. */
    for (int k = 0; k < NSLOTS; k++) {
        if (slots[k].state == EMPTY) continue;
        if (slots[k].state != LIVE) die("slot left busy", slots[k].p, (size_t)k, 0);
        verify(&slots[k], SIZE_MAX);
        hak_free(slots[k].p);
        slots[k].state = EMPTY;
    }
    static const char *const tiers[][2] = {
        {"tiny_alloc", "tiny_free"}, {"mid_alloc", "mid_free"}, {"large_alloc", "large_free"}};
    for (int i = 0; i < 3; i++) {
        long long a = stat_of(tiers[i][0]), f = stat_of(tiers[i][1]);
        if (a != f) die(tiers[i][0], NULL, (size_t)a, (size_t)f);
    }
    return 0;
}
