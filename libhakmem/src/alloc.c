/* alloc.c — the allocator's slow paths and the requests that are not plain
 * malloc/free: routing a request to its tier or to the C library, aligned
 * and zeroed allocation, realloc, and the usable size of a block.
 *
 * The fast paths are inline in internal.h. Whenever this file works on a
 * thread's heap it first swaps the thread's heap pointer for the busy
 * sentinel, so that any allocation made from inside (a pool calling the
 * wrapped posix_memalign, say) lands in the slow path again and is
 * reported instead of recursing or corrupting the heap. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

hak_cold static _Noreturn void reentered(const char *what) {
    hak_fatal("re-entered %s() from inside the allocator: an allocation path called a wrapped "
              "function, which would recurse or corrupt the heap; aborting",
              what);
}

static void *libc_alloc(size_t n) {
    hak_gstat_add(HAK_S_libc_alloc, 1);
    return __libc_malloc(n);
}

static void *enomem(void) {
    errno = ENOMEM;
    return NULL;
}

/* The calling thread's heap, created on its first slow path. NULL when the
 * thread must not use one now: it is starting hakmem (requests go to the C
 * library) or start-up is still running in another thread. */
static hak_heap_t *thread_heap(const char *what) {
    hak_heap_t *h = hak_tls_heap;
    switch (h->kind) {
    case HAK_HEAP_REAL:
        return h;
    case HAK_HEAP_BUSY:
        reentered(what);
    case HAK_HEAP_LIBC:
    case HAK_HEAP_DEAD:
        /* Starting hakmem, or past this thread's heap destructor: a heap
         * taken now might never be released (glibc runs destructors a
         * bounded number of rounds), so the C library serves. */
        return NULL;
    default:
        break;
    }
    if (!hak_ready() && !hak_init()) return NULL;
    hak_tls_heap = &hak_heap_busy;
    h = hak_heap_acquire();
    hak_tls_heap = h != NULL ? h : &hak_heap_none;
    return h;
}

/* One block of class cls for heap h: from its cache, else a refill. */
static void *alloc_class(hak_heap_t *h, unsigned cls) {
    hak_block_t *b = h->tc_head[cls];
    if (b != NULL) {
        h->tc_head[cls] = b->next;
        h->tc_room[cls]++;
    } else {
        hak_tls_heap = &hak_heap_busy;
        b = hak_heap_refill(h, cls);
        hak_tls_heap = h;
        if (b == NULL) return enomem();
        hak_heap_stat(h, HAK_S_slow_alloc, 1);
    }
    if (hak_unlikely(b->key != HAK_FREE_KEY)) hak_bad_free_block(b, "malloc");
    b->key = 0;
    hak_counter_add(&h->tc_nalloc[cls], 1);
    return b;
}

/* b carries the free mark: either it is free already (a double free) or
 * the program's data happens to hold the mark. Look for it where this
 * thread can look without racing anyone: its own cache (which the look
 * checks whole, since a double free the fast path let in links a block
 * twice) and, for pages it owns, the page's free list, as far as its count
 * of free blocks (a list a double free damaged may run on into another).
 * Not found means not proven: carry on. */
hak_cold static void check_double_free(hak_heap_t *h, hak_page_t *pg, unsigned cls,
                                       hak_block_t *b) {
    if (h == NULL || h->kind != HAK_HEAP_REAL) return;
    if (hak_heap_check_cache(h, cls, b)) hak_fatal("double free of %p", (void *)b);
    hak_lock(&h->lock);
    bool found = false;
    if (atomic_load_explicit(&pg->owner, memory_order_relaxed) == h) {
        hak_block_t *x = pg->free;
        for (uint32_t i = 0; i < pg->nfree && x != NULL && !found; i++, x = x->next) found = x == b;
    }
    hak_unlock(&h->lock);
    if (found) hak_fatal("double free of %p", (void *)b);
}

void hak_bad_free_block(const hak_block_t *b, const char *by) {
    hak_fatal("double free of %p, or a write to it after free (found by %s)", (const void *)b, by);
}

/* A pointer to a block freed already: free's own message, or the caller's. */
_Noreturn static void freed_already(const void *p, const char *what) {
    if (strcmp(what, "free") == 0) hak_fatal("double free of %p", p);
    hak_fatal("%s(): pointer %p was already freed", what, p);
}

/* The C library's blocks are what the registry does not know: start-up's,
 * and those of tiers left to it. glibc reads a chunk header before the
 * block and segfaults when there is none, so an address that no mapping
 * holds is reported here instead. Its main heap (below the program break)
 * needs no question to the kernel; elsewhere (its own mappings for big
 * blocks, its threads' arenas) one mincore call answers, and the 64 MiB
 * window found mapped last is remembered per thread so that a tier left to
 * glibc does not pay a syscall per free.
 *
 * Mapped memory is not all glibc's: hakmem's own page pool keeps the pages
 * tiers freed, mapped, and a block freed twice after its page went there
 * would reach glibc's free (which aborted on a header that is not one,
 * where it could as well have taken it). So hakmem looks first: in
 * chunk_pool mode the page map marks the pooled pages (HAK_REG_POOLED, a
 * load at every such free); in reserve mode the OS layer is asked, once
 * for a window where none of its regions lie, at every such free where
 * one does. */
static __thread struct {
    uintptr_t window; /* address >> FOREIGN_WINDOW_SHIFT; 0: none yet */
    unsigned gen;     /* hak_os_regions_gen() when it was looked at */
    bool near;        /* a region of hakmem's pages lies in it */
} foreign __attribute__((tls_model("initial-exec")));
#define FOREIGN_WINDOW_SHIFT 26

static void check_foreign(const void *p, const char *what) {
    uintptr_t a = (uintptr_t)p;
    if (a & (HAK_MIN_ALIGN - 1))
        hak_fatal("%s(): invalid pointer %p: not allocated by hakmem nor the C library "
                  "(misaligned)",
                  what, p);
    /* A page waiting in chunk_pool mode's pool: one load, before the
     * window's verdict below, which holds for glibc's memory around it. */
    if (hak_pagemap_get(p) == HAK_REG_POOLED) freed_already(p, what);
    if (a >= hak_brk_start && a < (uintptr_t)sbrk(0)) return; /* sbrk(0) reads a variable */
    /* A stack is mapped memory glibc would take for a heap, read a header
     * from and maybe crash in: say what it is instead. The calling
     * thread's own costs a few compares once the main thread's stack is
     * known (stack.c reads /proc/self/maps once for it); the others' a
     * walk of the heaps, so it waits until the window is not known to be
     * glibc's. */
    bool seen = foreign.window != 0 && a >> FOREIGN_WINDOW_SHIFT == foreign.window;
    const char *stack = hak_stack_owner(p, false);
    if (stack == NULL && !seen) stack = hak_stack_owner(p, true);
    if (stack != NULL)
        hak_fatal("%s(): invalid pointer %p: on the stack of %s, not allocated by anyone", what, p,
                  stack);
    /* Read before the look: a region added meanwhile makes the next free
     * look again. */
    unsigned gen = hak_os_regions_gen();
    seen = seen && foreign.gen == gen;
    if (seen && !foreign.near) return;
    uintptr_t lo = a >> FOREIGN_WINDOW_SHIFT << FOREIGN_WINDOW_SHIFT;
    bool near;
    bool freed = hak_os_freed(p, lo, lo + ((uintptr_t)1 << FOREIGN_WINDOW_SHIFT), &near);
    if (freed) freed_already(p, what);
    if (seen) return;
    /* The header lies in the 16 bytes before p, all in p - 16's page, and
     * the block at p: both pages must be mapped (mincore fails if any page
     * of the range is not). */
    unsigned char vec[2];
    uintptr_t page = (a - 16) & ~(uintptr_t)(HAK_GRANULE - 1);
    uintptr_t end = (a & ~(uintptr_t)(HAK_GRANULE - 1)) + HAK_GRANULE;
    int saved = errno;
    int rc = a < 16 ? -1 : mincore((void *)page, end - page, vec);
    errno = saved;
    if (rc != 0) {
        if (hak_large_gone(p)) freed_already(p, what); /* its span went back meanwhile */
        hak_fatal("%s(): invalid pointer %p: not allocated by hakmem nor the C library (no "
                  "memory is mapped there)",
                  what, p);
    }
    foreign.window = a >> FOREIGN_WINDOW_SHIFT;
    foreign.gen = gen;
    foreign.near = near;
}

/* A pointer the registry places in a page must be the start of one of its
 * blocks. Immutable fields only: another thread may own the page. */
static void check_block_start(const hak_page_t *pg, const void *p, const char *what) {
    const uint8_t *b = p;
    if (b >= pg->end || (size_t)(b - pg->base) % pg->block_size != 0) {
        const uint8_t *start = b < pg->end ? b - (size_t)(b - pg->base) % pg->block_size : NULL;
        if (start != NULL)
            hak_fatal("%s(): invalid pointer %p: %zu byte%s into the %u-byte block at %p", what, p,
                      (size_t)(b - start), b - start == 1 ? "" : "s", pg->block_size,
                      (const void *)start);
        hak_fatal("%s(): invalid pointer %p: in the unused tail of a page of %u-byte blocks", what,
                  p, pg->block_size);
    }
    /* Blocks are carved in address order, before any of them is handed
     * out: one at or past the bump pointer never was (the owner only moves
     * it up, so a stale read errs on the safe side). */
    if (b >= __atomic_load_n(&((hak_page_t *)pg)->bump, __ATOMIC_RELAXED))
        hak_fatal("%s(): invalid pointer %p: a %u-byte block that was never allocated", what, p,
                  pg->block_size);
}

/* A pointer the registry places in a large span must be its block. */
static const hak_span_t *check_span_start(uintptr_t e, const void *p, const char *what) {
    const hak_span_t *sp = (const hak_span_t *)e;
    /* A freed span waits in the cache, maybe merged with its neighbours:
     * a pointer into one is to memory already freed. */
    if (__atomic_load_n(&sp->cached, __ATOMIC_RELAXED)) freed_already(p, what);
    if (sp->block != (const uint8_t *)p) {
        size_t into = (size_t)((const uint8_t *)p - sp->block);
        hak_fatal("%s(): invalid pointer %p: %zu byte%s into the %zu-byte block at %p", what, p,
                  into, into == 1 ? "" : "s", sp->usable, (const void *)sp->block);
    }
    return sp;
}

static void *alloc_large(size_t n, size_t align, bool zero) {
    void *p = hak_large_alloc(n, align, zero);
    return p != NULL ? p : enomem();
}

/* A mid-size request whose class has not opened (size_class.c). */
static void *alloc_deferred(size_t n, size_t align, bool zero) {
    hak_mid_deferred();
    return alloc_large(n, align, zero);
}

void *hak_alloc_slow(size_t n) {
    if (n > HAK_MAX_REQUEST) return enomem();
    hak_heap_t *h = thread_heap("malloc");
    if (h == NULL) return libc_alloc(n);
    hak_tier_t tier = hak_tier_of_size(n);
    if (!hak_tier_wrapped(tier)) return libc_alloc(n);
    if (tier == HAK_TIER_LARGE) return alloc_large(n, 0, false);
    /* The tier is ours and small: no class means a closed one. */
    unsigned cls = hak_class_of_size(n);
    return cls != 0 ? alloc_class(h, cls) : alloc_deferred(n, 0, false);
}

void *hak_alloc_zeroed(size_t n) {
    if (n > HAK_MAX_REQUEST) return enomem();
    hak_heap_t *h = thread_heap("calloc");
    hak_tier_t tier = hak_tier_of_size(n);
    if (h == NULL || !hak_tier_wrapped(tier)) {
        hak_gstat_add(HAK_S_libc_alloc, 1);
        return __libc_calloc(1, n);
    }
    /* The large tier zeroes only what is not a fresh mapping. */
    if (tier == HAK_TIER_LARGE) return alloc_large(n, 0, true);
    unsigned cls = hak_class_of_size(n);
    if (cls == 0) return alloc_deferred(n, 0, true);
    void *p = alloc_class(h, cls);
    if (p != NULL) memset(p, 0, n);
    return p;
}

void *hak_alloc_aligned(size_t n, size_t align) {
    if (align <= HAK_MIN_ALIGN) return hak_alloc(n);
    if (n > HAK_MAX_REQUEST || align > HAK_MAX_REQUEST) return enomem();
    hak_heap_t *h = thread_heap("posix_memalign");
    hak_tier_t tier = hak_tier_of_size(n);
    if (h == NULL || !hak_tier_wrapped(tier)) {
        hak_gstat_add(HAK_S_libc_alloc, 1);
        void *p = __libc_memalign(align, n);
        return p != NULL ? p : enomem();
    }
    unsigned cls = tier == HAK_TIER_LARGE ? 0 : hak_class_for_aligned(n, align);
    if (cls != 0 && hak_tier_wrapped((hak_tier_t)hak_class_tier[cls])) {
        /* Only the mid tier defers (a page class can sit in the large tier
         * when mid_max is below 32 KiB). */
        if (hak_class_tier[cls] == HAK_TIER_MID && !hak_class_open(cls))
            return alloc_deferred(n, align, false);
        return alloc_class(h, cls);
    }
    /* Alignments beyond what page classes guarantee get their own mapping,
     * or the C library's when the large tier is not ours. */
    if (hak_tier_wrapped(HAK_TIER_LARGE)) return alloc_large(n, align, false);
    hak_gstat_add(HAK_S_libc_alloc, 1);
    void *p = __libc_memalign(align, n);
    return p != NULL ? p : enomem();
}

void hak_free_slow(void *p, uintptr_t e) {
    if (p == NULL) return;
    int saved = errno;
    /* A page pooled when the fast path read the map: only a block freed
     * already can be there (a valid free's page cannot be pooled before
     * it). Read again, the page might be another thread's by now. */
    if (e == HAK_REG_POOLED) freed_already(p, "free");
    if (e == 0) e = hak_registry_get(p); /* the fast path read only the page map */
    unsigned cls = (unsigned)(e & HAK_REG_CLASS_MASK);
    hak_heap_t *h = hak_tls_heap;
    if (cls != 0) {
        hak_page_t *pg = (hak_page_t *)(e & ~HAK_REG_CLASS_MASK);
        if (h->kind == HAK_HEAP_NONE) h = thread_heap("free");
        if (h != NULL && h->kind == HAK_HEAP_BUSY) reentered("free");
        check_block_start(pg, p, "free");
        hak_block_t *b = p;
        if (b->key == HAK_FREE_KEY) check_double_free(h, pg, cls, b);
        b->key = HAK_FREE_KEY;
        if (h != NULL && h->kind == HAK_HEAP_REAL) {
            if (hak_tc_count(h, cls) < hak_tc_limit(h, cls) || hak_heap_grow(h, cls)) {
                b->next = h->tc_head[cls];
                h->tc_head[cls] = b;
                h->tc_room[cls]--;
            } else {
                hak_tls_heap = &hak_heap_busy;
                hak_heap_flush(h, cls, p);
                hak_tls_heap = h;
                hak_heap_stat(h, HAK_S_slow_free, 1);
            }
        } else {
            /* No heap (the thread is exiting or starting hakmem): straight
             * back to the page, as a remote free. */
            hak_gstat_add(hak_class_tier[cls] == HAK_TIER_TINY ? HAK_S_tiny_free : HAK_S_mid_free,
                          1);
            hak_heap_free_unowned(pg, p);
        }
    } else if (e != 0) {
        if (h->kind == HAK_HEAP_BUSY) reentered("free");
        check_span_start(e, p, "free");
        hak_large_free((hak_span_t *)e);
    } else {
        check_foreign(p, "free");
        hak_gstat_add(HAK_S_libc_free, 1);
        __libc_free(p);
    }
    errno = saved;
}

void hak_free_full(void *p, uintptr_t e) {
    hak_tls_heap->tc_room[e & HAK_REG_CLASS_MASK]++;
    hak_free_slow(p, e);
}

/* The usable size of the block at p, which must be one: `what` names the
 * call for the message when it is not. */
static size_t usable_size(const void *p, uintptr_t e, const char *what) {
    unsigned cls = (unsigned)(e & HAK_REG_CLASS_MASK);
    if (cls != 0) {
        check_block_start((const hak_page_t *)(e & ~HAK_REG_CLASS_MASK), p, what);
        return hak_class_size[cls];
    }
    if (e != 0) {
        return check_span_start(e, p, what)->usable;
    }
    check_foreign(p, what);
    return hak_libc_usable_size((void *)p);
}

size_t hak_usable_size(const void *p) {
    return usable_size(p, hak_registry_get(p), "malloc_usable_size");
}

void *hak_realloc(void *p, size_t n) {
    if (p == NULL) return hak_alloc(n);
    if (n == 0) {
        /* glibc frees and returns NULL. */
        hak_free(p);
        return NULL;
    }
    if (n > HAK_MAX_REQUEST) return enomem();
    uintptr_t e = hak_registry_get(p);
    size_t old = usable_size(p, e, "realloc");
    if (e == 0) {
        hak_gstat_add(HAK_S_libc_alloc, 1);
        return __libc_realloc(p, n);
    }
    /* Shrinking in place is fine while it wastes less than half. */
    if (n <= old && n > old / 2) return p;
    if ((e & HAK_REG_CLASS_MASK) == 0 && hak_tier_of_size(n) == HAK_TIER_LARGE &&
        hak_knob(WRAP_LARGE)) {
        /* Large to large: the kernel moves the pages, nothing is copied, so
         * growing a buffer step by step stays linear. */
        void *q = hak_large_realloc((hak_span_t *)e, n);
        if (q != NULL) return q;
        if (n <= old) return p;
    }
    void *q = hak_alloc(n);
    if (q == NULL) return NULL; /* the old block stays intact */
    memcpy(q, p, n < old ? n : old);
    hak_free(p);
    return q;
}

size_t hak_libc_usable_size(void *p) {
    /* glibc keeps the chunk size, with three flag bits, in the word before
     * the block; a chunk of its own mapping (bit 1) has two words of
     * overhead, others one. */
    size_t head = ((size_t *)p)[-1];
    size_t size = head & ~(size_t)7;
    size_t overhead = (head & 2) ? 2 * sizeof(size_t) : sizeof(size_t);
    return size > overhead ? size - overhead : 0;
}
