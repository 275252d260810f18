/* registry.c — the address registry: which descriptor, if any, owns the
 * 4 KiB granule holding an address.
 *
 * free, realloc and malloc_usable_size must tell our blocks from the C
 * library's in O(1) and without a lock. A two-level radix table over the
 * 47-bit user address space answers with two dependent loads: the first
 * level is a 1 MiB array in .bss (untouched pages cost nothing), each second
 * level a 2 MiB leaf for 1 GiB of address space, mapped on first use and
 * never freed, so a reader can never see a leaf disappear. */
#include "internal.h"

#define L2_ENTRIES ((size_t)1 << HAK_REG_L2_BITS)

_Atomic(_Atomic(uintptr_t) *) hak_reg_l1[(size_t)1 << HAK_REG_L1_BITS];

/* The leaf covering a; mapped on first use when `make` says so. */
static _Atomic(uintptr_t) *leaf_for(uintptr_t a, bool make) {
    size_t i = a >> (HAK_GRANULE_SHIFT + HAK_REG_L2_BITS);
    _Atomic(uintptr_t) *leaf = atomic_load_explicit(&hak_reg_l1[i], memory_order_acquire);
    if (leaf != NULL || !make) return leaf;
    _Atomic(uintptr_t) *fresh = hak_os_map(L2_ENTRIES * sizeof(uintptr_t));
    if (fresh == NULL) return NULL;
    _Atomic(uintptr_t) *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&hak_reg_l1[i], &expected, fresh,
                                                memory_order_acq_rel, memory_order_acquire))
        return fresh;
    hak_os_unmap(fresh, L2_ENTRIES * sizeof(uintptr_t)); /* another thread won */
    return expected;
}

bool hak_registry_set(const void *p, size_t len, uintptr_t entry) {
    uintptr_t a = (uintptr_t)p & ~(HAK_GRANULE - 1);
    uintptr_t end = (uintptr_t)p + len;
    if (end >> HAK_REG_ADDR_BITS) return false;
    while (a < end) {
        _Atomic(uintptr_t) *leaf = leaf_for(a, entry != 0);
        size_t j = (a >> HAK_GRANULE_SHIFT) & (L2_ENTRIES - 1);
        if (leaf == NULL) {
            if (entry != 0) return false;
            /* Clearing needs no leaf: nothing here was ever registered. */
            a = (a | (HAK_GRANULE * L2_ENTRIES - 1)) + 1;
            continue;
        }
        /* Stay inside this leaf; the next iteration fetches the next one. */
        for (; j < L2_ENTRIES && a < end; j++, a += HAK_GRANULE)
            atomic_store_explicit(&leaf[j], entry, memory_order_release);
    }
    return true;
}

bool hak_registry_reserve(const void *p, size_t len) {
    uintptr_t a = (uintptr_t)p & ~(HAK_GRANULE * L2_ENTRIES - 1);
    uintptr_t end = (uintptr_t)p + len;
    if (end >> HAK_REG_ADDR_BITS) return false;
    for (; a < end; a += HAK_GRANULE * L2_ENTRIES)
        if (leaf_for(a, true) == NULL) return false;
    return true;
}
