/* large.c — the large tier: one mapping per block, beyond the mid tier's
 * largest class, with a bounded cache of recently freed spans.
 *
 * Mapping and unmapping cost a syscall and page faults each; a program that
 * frees and reallocates big buffers in a loop would pay that every time. The
 * cache keeps up to large_cache_spans spans (and large_cache_bytes bytes)
 * mapped for at most release_delay_ms, most recent first, and serves a request from the smallest
 * cached span that fits within 25% waste. Every granule of a span is
 * registered, so that free, realloc and malloc_usable_size tell a pointer
 * into the middle of a block (an error they report) from one that is no
 * block of ours at all, for the cost of a store per 4 KiB mapped. */
#include "internal.h"

#include <string.h>

static hak_lock_t large_lock;
static hak_span_t *cache; /* most recently freed first */
static size_t cache_count, cache_bytes;

static hak_span_t *cache_take(size_t len, size_t align) {
    hak_span_t *best = NULL, **best_link = NULL;
    hak_lock(&large_lock);
    for (hak_span_t **link = &cache; *link != NULL; link = &(*link)->next) {
        hak_span_t *sp = *link;
        if (sp->map_len < len || sp->map_len - len > len / 4) continue;
        if (((uintptr_t)sp->map & (align - 1)) != 0) continue;
        if (best == NULL || sp->map_len < best->map_len) {
            best = sp;
            best_link = link;
        }
    }
    if (best != NULL) {
        __atomic_store_n(&best->cached, false, __ATOMIC_RELAXED);
        *best_link = best->next;
        cache_count--;
        cache_bytes -= best->map_len;
    }
    hak_unlock(&large_lock);
    return best;
}

void *hak_large_alloc(size_t n, size_t align, bool zero) {
    if (align < HAK_GRANULE) align = HAK_GRANULE;
    size_t len = (n + HAK_GRANULE - 1) & ~(HAK_GRANULE - 1);
    if (len < n) return NULL;
    if (len == 0) len = HAK_GRANULE;
    hak_span_t *sp = cache_take(len, align);
    if (sp != NULL) {
        hak_gstat_add(HAK_S_large_cache_hit, 1);
        /* A cached span holds old contents; a fresh mapping is zero. */
        if (zero) memset(sp->map, 0, n);
    } else {
        uint8_t *map = hak_os_map_aligned(len, align);
        if (map == NULL && hak_os_reclaim()) map = hak_os_map_aligned(len, align);
        if (map == NULL) return NULL;
        sp = hak_meta_alloc(HAK_META_SPAN);
        if (sp == NULL) {
            hak_os_unmap(map, len);
            return NULL;
        }
        sp->map = map;
        sp->map_len = len;
    }
    sp->block = sp->map;
    sp->usable = sp->map_len;
    sp->next = NULL;
    if (!hak_registry_set(sp->map, sp->map_len, (uintptr_t)sp)) {
        hak_registry_set(sp->map, sp->map_len, 0);
        hak_os_unmap(sp->map, sp->map_len);
        hak_meta_free(HAK_META_SPAN, sp);
        return NULL;
    }
    hak_gstat_add(HAK_S_large_alloc, 1);
    return sp->block;
}

void hak_large_free(hak_span_t *sp) {
    if (__atomic_load_n(&sp->cached, __ATOMIC_RELAXED)) hak_fatal("double free of %p", sp->block);
    hak_gstat_add(HAK_S_large_free, 1);
    hak_span_t *evict = NULL;
    size_t max_count = (size_t)hak_knob(LARGE_CACHE_SPANS);
    size_t max_bytes = (size_t)hak_knob(LARGE_CACHE_BYTES);
    uint64_t now = hak_now_us();
    uint64_t max_age = (uint64_t)hak_knob(RELEASE_DELAY_MS) * 1000u;
    sp->freed_us = now;
    hak_lock(&large_lock);
    if (sp->map_len <= max_bytes && max_count > 0) {
        /* A cached span stays registered, marked, so a second free of it
         * is caught rather than handed to the C library. */
        __atomic_store_n(&sp->cached, true, __ATOMIC_RELAXED);
        sp->next = cache;
        cache = sp;
        cache_count++;
        cache_bytes += sp->map_len;
    } else {
        evict = sp;
        sp->next = NULL;
    }
    /* Evict from the cold end: beyond either bound, or older than the
     * release delay. */
    for (;;) {
        hak_span_t **link = &cache;
        if (*link == NULL) break;
        while ((*link)->next != NULL) link = &(*link)->next;
        hak_span_t *old = *link;
        if (cache_count <= max_count && cache_bytes <= max_bytes && now - old->freed_us <= max_age)
            break;
        *link = NULL;
        cache_count--;
        cache_bytes -= old->map_len;
        old->next = evict;
        evict = old;
    }
    hak_unlock(&large_lock);
    while (evict != NULL) {
        hak_span_t *next = evict->next;
        hak_registry_set(evict->map, evict->map_len, 0);
        hak_os_unmap(evict->map, evict->map_len);
        hak_meta_free(HAK_META_SPAN, evict);
        evict = next;
    }
}

/* Resizes sp's mapping to hold n bytes without copying: the kernel grows it
 * in place or moves its pages. NULL when it cannot, sp untouched. Every
 * registry leaf the new range needs is mapped before the kernel is asked,
 * so that once the pages have moved, registering them cannot fail (memory
 * may be short: that is often why a program is reallocating). */
void *hak_large_realloc(hak_span_t *sp, size_t n) {
    size_t len = (n + HAK_GRANULE - 1) & ~(HAK_GRANULE - 1);
    if (len < n) return NULL;
    uint8_t *map = sp->map;
    size_t old = sp->map_len;
    if (len == old) return sp->block;
    if (len < old) {
        /* The tail is unregistered before the kernel takes it back: from
         * then on it may hold anyone's next mapping. */
        hak_registry_set(map + len, old - len, 0);
        if (!hak_os_resize(map, old, len)) {
            hak_registry_set(map + len, old - len, (uintptr_t)sp);
            return NULL;
        }
    } else if (hak_registry_reserve(map, len) && hak_os_resize(map, old, len)) {
        hak_registry_set(map + old, len - old, (uintptr_t)sp);
    } else {
        /* The destination is ours before the move: a mapping of its own,
         * with its leaves, which the kernel replaces with the block's pages. */
        uint8_t *to = hak_os_map(len);
        if (to == NULL) return NULL;
        if (!hak_registry_reserve(to, len)) {
            hak_os_unmap(to, len);
            return NULL;
        }
        hak_registry_set(map, old, 0);
        if (!hak_os_move(map, old, len, to)) {
            hak_registry_set(map, old, (uintptr_t)sp);
            hak_os_unmap(to, len);
            return NULL;
        }
        hak_registry_set(to, len, (uintptr_t)sp);
        map = to;
    }
    sp->map = sp->block = map;
    sp->map_len = sp->usable = len;
    return map;
}

bool hak_large_reclaim(void) {
    hak_lock(&large_lock);
    hak_span_t *all = cache;
    cache = NULL;
    cache_count = cache_bytes = 0;
    hak_unlock(&large_lock);
    bool any = all != NULL;
    while (all != NULL) {
        hak_span_t *next = all->next;
        hak_registry_set(all->map, all->map_len, 0);
        hak_os_unmap(all->map, all->map_len);
        hak_meta_free(HAK_META_SPAN, all);
        all = next;
    }
    return any;
}

void hak_large_lock_all(void) {
    hak_lock(&large_lock);
}
void hak_large_unlock_all(bool child) {
    if (child)
        hak_lock_reset(&large_lock);
    else
        hak_unlock(&large_lock);
}
