/* registry.c — the address registry: which descriptor, if any, owns an
 * address. Two radix tables over the 47-bit user address space, lock-free
 * to read:
 *
 *  - the page map, one word per 64 KiB page of the MF2 pool (descriptor |
 *    class). Every free of a small block reads it, and under Larson the
 *    blocks of a few hundred MiB are freed in random order: at one word a
 *    page, 700 MiB of pages is 88 KiB of map, which stays in the L2 cache,
 *    where one word per 4 KiB (1.4 MiB) missed on most frees;
 *  - the span table, one word per 4 KiB granule of a large span, since
 *    spans start on any granule and every granule must answer for
 *    interior-pointer checks.
 *
 * A pool page is 64 KiB-aligned and whole, so a 64 KiB region holds either
 * one page or no page at all, and the two tables never disagree. (Pages of
 * align_mode relaxed are not aligned; they go to the span table.) Each has
 * its first level in .bss (untouched pages cost nothing) and leaves mapped
 * on first use and never freed, so a reader can never see a leaf vanish. */
#include "internal.h"

_Atomic(_Atomic(uintptr_t) *) hak_pagemap_l1[(size_t)1 << HAK_PAGEMAP_L1_BITS];
_Atomic(_Atomic(uintptr_t) *) hak_spans_l1[(size_t)1 << HAK_SPANS_L1_BITS];

typedef struct {
    _Atomic(_Atomic(uintptr_t) *) *l1;
    unsigned shift;     /* bits of address one entry covers */
    unsigned leaf_bits; /* entries a leaf holds, as a power of two */
} radix_t;

static const radix_t pagemap = {hak_pagemap_l1, HAK_PAGE_SHIFT, HAK_PAGEMAP_L2_BITS};
static const radix_t spans = {hak_spans_l1, HAK_GRANULE_SHIFT, HAK_SPANS_L2_BITS};

static size_t leaf_bytes(const radix_t *r) {
    return ((size_t)1 << r->leaf_bits) * sizeof(uintptr_t);
}

/* The leaf covering a; mapped on first use when `make` says so. */
static _Atomic(uintptr_t) *leaf_for(const radix_t *r, uintptr_t a, bool make) {
    size_t i = a >> (r->shift + r->leaf_bits);
    _Atomic(uintptr_t) *leaf = atomic_load_explicit(&r->l1[i], memory_order_acquire);
    if (leaf != NULL || !make) return leaf;
    _Atomic(uintptr_t) *fresh = hak_os_map(leaf_bytes(r));
    if (fresh == NULL) return NULL;
    _Atomic(uintptr_t) *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&r->l1[i], &expected, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    hak_os_unmap(fresh, leaf_bytes(r)); /* another thread won */
    return expected;
}

static bool radix_set(const radix_t *r, uintptr_t a, uintptr_t end, uintptr_t entry) {
    size_t unit = (size_t)1 << r->shift, leaf_span = unit << r->leaf_bits;
    size_t mask = ((size_t)1 << r->leaf_bits) - 1;
    a &= ~(uintptr_t)(unit - 1);
    if (end >> HAK_ADDR_BITS) return false;
    while (a < end) {
        _Atomic(uintptr_t) *leaf = leaf_for(r, a, entry != 0);
        size_t j = (a >> r->shift) & mask;
        if (leaf == NULL) {
            if (entry != 0) return false;
            /* Clearing needs no leaf: nothing here was ever registered. */
            a = (a | (leaf_span - 1)) + 1;
            continue;
        }
        /* Stay inside this leaf; the next iteration fetches the next one. */
        for (; j <= mask && a < end; j++, a += unit)
            atomic_store_explicit(&leaf[j], entry, memory_order_release);
    }
    return true;
}

bool hak_registry_set_page(const void *page, uintptr_t entry) {
    uintptr_t a = (uintptr_t)page;
    /* A page of align_mode relaxed straddles two regions of the map, each
     * maybe shared with another page: the span table holds it instead, and
     * its frees find it on the slow path. */
    const radix_t *r = (a & (HAK_PAGE_SIZE - 1)) == 0 ? &pagemap : &spans;
    return radix_set(r, a, a + HAK_PAGE_SIZE, entry);
}

bool hak_registry_set(const void *p, size_t len, uintptr_t entry) {
    return radix_set(&spans, (uintptr_t)p, (uintptr_t)p + len, entry);
}

bool hak_registry_reserve(const void *p, size_t len) {
    size_t leaf_span = HAK_GRANULE << HAK_SPANS_L2_BITS;
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(leaf_span - 1);
    uintptr_t end = (uintptr_t)p + len;
    if (end >> HAK_ADDR_BITS) return false;
    for (; a < end; a += leaf_span)
        if (leaf_for(&spans, a, true) == NULL) return false;
    return true;
}
