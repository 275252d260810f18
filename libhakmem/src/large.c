/* large.c — the large tier: blocks beyond the mid tier's largest class, each
 * a run of whole 4 KiB granules (a span) from the OS layer, and the cache of
 * freed spans, kept mapped and committed.
 *
 * A fresh mapping costs a syscall and then a page fault for every 4 KiB the
 * program touches; a program that allocates and frees big buffers of
 * varying sizes would pay both on every allocation if a freed span were
 * unmapped, or reused only for a request of its own size. So a freed span
 * waits in the cache, merged with free neighbours into longer runs, and a
 * request takes the smallest cached span that holds it, splitting off what
 * it does not need. Spans leave the cache, unmapped, once older than
 * release_delay_ms or beyond large_cache_bytes or large_cache_spans (oldest
 * first), and all of them under memory pressure. The age is checked when a
 * span is freed and on the thread heaps' slow paths (hak_large_expire), so
 * that spans wait no longer than their delay in a program that has stopped
 * freeing large blocks but goes on allocating. realloc grows a block into a
 * free neighbour, or copies one of up to COPY_MAX into a cached span, and
 * shrinks it into the cache, all without a syscall; else the kernel resizes
 * or moves its pages.
 *
 * Every granule of a span is registered (its descriptor): that is how free
 * finds a block, tells a pointer into its middle from its start, and how a
 * freed span finds its neighbours in O(1). The cache, the `cached` marks
 * and every registration of a span change under large_lock. */
#include "internal.h"

#include <string.h>

static hak_lock_t large_lock;
static hak_span_t *cache_head, *cache_tail; /* most recently freed first */
static size_t cache_count, cache_bytes;
/* When the oldest cached span was freed (0: the cache is empty), for
 * hak_large_expire's look without the lock. */
static _Atomic(uint64_t) oldest_us;

/* A span left over by a split is cached only when worth a slot; a smaller
 * rest stays with the block as slack. A mid-size block (the mid tier
 * defers to this one until it opens) keeps no granule of slack: 60 KiB of
 * it, resident from an earlier use, would follow a 9 KiB block. */
#define MIN_REST ((size_t)64 << 10)
static size_t min_rest(size_t len) {
    return len <= HAK_SMALL_LIMIT ? HAK_GRANULE : MIN_REST;
}

/* realloc copies a block up to this size into a cached span rather than
 * have the kernel move it (below). */
#define COPY_MAX ((size_t)1 << 20)

static void set_cached(hak_span_t *sp, bool v) {
    __atomic_store_n(&sp->cached, v, __ATOMIC_RELAXED); /* peeked unlocked */
}

/* ---- the cache list (large_lock held) --------------------------------- */

static void note_oldest(void) {
    atomic_store_explicit(&oldest_us, cache_tail != NULL ? cache_tail->freed_us : 0,
                          memory_order_relaxed);
}

/* The cache's counts, recounted. */
static bool cache_counts_hold(void) {
    size_t n = 0, bytes = 0;
    for (const hak_span_t *sp = cache_head; sp != NULL; sp = sp->next) {
        if (!sp->cached) return false;
        n++;
        bytes += sp->map_len;
    }
    return n == cache_count && bytes == cache_bytes;
}

static void cache_link(hak_span_t *sp, uint64_t freed_us) {
    hak_assert_locked(&large_lock);
    hak_assert(!sp->cached);
    sp->freed_us = freed_us;
    HAK_DLIST_PUSH_FRONT(cache_head, cache_tail, sp);
    cache_count++;
    cache_bytes += sp->map_len;
    set_cached(sp, true);
    note_oldest();
}

static void cache_unlink(hak_span_t *sp) {
    hak_assert_locked(&large_lock);
    hak_assert(sp->cached && cache_count > 0 && cache_bytes >= sp->map_len);
    HAK_DLIST_REMOVE(cache_head, cache_tail, sp);
    cache_count--;
    cache_bytes -= sp->map_len;
    set_cached(sp, false);
    note_oldest();
}

/* The cached span whose granule holds addr, if any. */
static hak_span_t *cached_at(const uint8_t *addr) {
    uintptr_t e = hak_registry_get(addr);
    if (e == 0 || (e & HAK_REG_CLASS_MASK) != 0) return NULL;
    hak_span_t *sp = (hak_span_t *)e;
    return sp->cached ? sp : NULL;
}

static void set_len(hak_span_t *sp, size_t len) {
    sp->map_len = sp->usable = len;
    sp->block = sp->map;
}

/* Cuts sp (not cached) into its first len bytes and the rest, neither
 * cached. The part with fewer granules gets a new descriptor and is
 * registered again, so a cut costs a store per granule of the smaller
 * part. false (sp unchanged) when no descriptor is left. */
static bool split(hak_span_t *sp, size_t len, hak_span_t **front, hak_span_t **back) {
    hak_span_t *fresh = hak_meta_alloc(HAK_META_SPAN);
    if (fresh == NULL) return false;
    size_t rest = sp->map_len - len;
    fresh->next = fresh->prev = NULL;
    set_cached(fresh, false);
    /* The range was registered, so its leaves exist: this cannot fail. */
    if (len <= rest) {
        fresh->map = sp->map;
        set_len(fresh, len);
        sp->map += len;
        set_len(sp, rest);
        hak_registry_set(fresh->map, len, (uintptr_t)fresh);
        *front = fresh;
        *back = sp;
    } else {
        fresh->map = sp->map + len;
        set_len(fresh, rest);
        set_len(sp, len);
        hak_registry_set(fresh->map, rest, (uintptr_t)fresh);
        *front = sp;
        *back = fresh;
    }
    return true;
}

/* Joins a and b, the span right after it, neither cached; the larger keeps
 * its descriptor and registration, and is returned. */
static hak_span_t *merge(hak_span_t *a, hak_span_t *b) {
    size_t len = a->map_len + b->map_len;
    hak_span_t *keep = a, *drop = b;
    if (b->map_len > a->map_len) {
        keep = b;
        drop = a;
        b->map = a->map;
    }
    hak_registry_set(drop->map, drop->map_len, (uintptr_t)keep);
    set_len(keep, len);
    hak_meta_free(HAK_META_SPAN, drop);
    return keep;
}

/* sp is free: merged with its cached neighbours, it joins the cache. (A
 * span's neighbour in the registry is adjacent by construction: spans
 * never overlap.) */
static void cache_put(hak_span_t *sp, uint64_t now) {
    hak_span_t *next = cached_at(sp->map + sp->map_len);
    if (next != NULL) {
        cache_unlink(next);
        sp = merge(sp, next);
    }
    hak_span_t *prev = cached_at(sp->map - 1);
    if (prev != NULL) {
        cache_unlink(prev);
        sp = merge(prev, sp);
    }
    cache_link(sp, now);
}

/* The smallest cached span of at least len bytes at an address aligned to
 * align, taken out of the cache and cut to size. */
static hak_span_t *cache_take(size_t len, size_t align) {
    hak_span_t *best = NULL;
    for (hak_span_t *sp = cache_head; sp != NULL; sp = sp->next) {
        if (sp->map_len < len || ((uintptr_t)sp->map & (align - 1)) != 0) continue;
        if (best == NULL || sp->map_len < best->map_len) best = sp;
        if (best->map_len == len) break;
    }
    if (best == NULL) return NULL;
    uint64_t freed_us = best->freed_us;
    cache_unlink(best);
    hak_span_t *front, *back;
    if (best->map_len - len >= min_rest(len) && best->map_len - len >= len / 8 &&
        split(best, len, &front, &back)) {
        cache_link(back, freed_us); /* as old as it was */
        return front;
    }
    return best;
}

/* Takes out of the cache, unregistered, every span past a bound: older than
 * the release delay, or beyond the count or byte limit. */
static hak_span_t *cache_expire(uint64_t now) {
    size_t max_count = (size_t)hak_knob(LARGE_CACHE_SPANS);
    size_t max_bytes = (size_t)hak_knob(LARGE_CACHE_BYTES);
    hak_span_t *out = NULL;
    while (cache_tail != NULL && (cache_count > max_count || cache_bytes > max_bytes ||
                                  hak_past_delay(cache_tail->freed_us, now))) {
        hak_span_t *old = cache_tail;
        cache_unlink(old);
        hak_registry_set(old->map, old->map_len, 0);
        old->next = out;
        out = old;
    }
    hak_assert_deep(cache_counts_hold());
    return out;
}

static void release(hak_span_t *list) {
    while (list != NULL) {
        hak_span_t *next = list->next;
        hak_os_unmap(list->map, list->map_len);
        hak_meta_free(HAK_META_SPAN, list);
        list = next;
    }
}

/* ---- the tier --------------------------------------------------------- */

void *hak_large_alloc(size_t n, size_t align, bool zero) {
    if (align < HAK_GRANULE) align = HAK_GRANULE;
    size_t len = (n + HAK_GRANULE - 1) & ~(HAK_GRANULE - 1);
    if (len < n) return NULL;
    if (len == 0) len = HAK_GRANULE;
    hak_lock(&large_lock);
    hak_span_t *sp = cache_take(len, align);
    hak_unlock(&large_lock);
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
        set_len(sp, len);
        sp->next = sp->prev = NULL;
        set_cached(sp, false);
        hak_lock(&large_lock);
        bool ok = hak_registry_set(map, len, (uintptr_t)sp);
        if (!ok) hak_registry_set(map, len, 0);
        hak_unlock(&large_lock);
        if (!ok) {
            hak_os_unmap(map, len);
            hak_meta_free(HAK_META_SPAN, sp);
            return NULL;
        }
    }
    hak_gstat_add(HAK_S_large_alloc, 1);
    return sp->block;
}

void hak_large_expire(uint64_t now) {
    if (!hak_past_delay(atomic_load_explicit(&oldest_us, memory_order_relaxed), now)) return;
    hak_lock(&large_lock);
    hak_span_t *expired = cache_expire(hak_now_us());
    hak_unlock(&large_lock);
    release(expired);
}

void hak_large_free(hak_span_t *sp) {
    uint64_t now = hak_now_us();
    hak_lock(&large_lock);
    if (sp->cached) {
        hak_unlock(&large_lock);
        hak_fatal("double free of %p", sp->block);
    }
    cache_put(sp, now);
    hak_span_t *expired = cache_expire(now);
    hak_unlock(&large_lock);
    hak_gstat_add(HAK_S_large_free, 1);
    release(expired);
}

/* Resizes sp's block to hold n bytes without copying; NULL when it cannot,
 * sp untouched. Inside the cache first: a shrink gives its tail to the
 * cache, a growth takes a free neighbour. Then the kernel: it grows the
 * mapping in place or moves its pages. Every registry leaf a new range
 * needs is mapped before the kernel is asked, so that once the pages have
 * moved, registering them cannot fail (memory may be short: that is often
 * why a program is reallocating). */
void *hak_large_realloc(hak_span_t *sp, size_t n) {
    size_t len = (n + HAK_GRANULE - 1) & ~(HAK_GRANULE - 1);
    if (len < n) return NULL;
    if (len == 0) len = HAK_GRANULE;
    uint64_t now = hak_now_us();
    hak_span_t *expired = NULL;
    hak_lock(&large_lock);
    hak_span_t *front, *back;
    if (len <= sp->map_len) {
        if (sp->map_len - len >= HAK_GRANULE && split(sp, len, &front, &back)) {
            sp = front;
            cache_put(back, now);
            expired = cache_expire(now);
        }
        hak_unlock(&large_lock);
        release(expired);
        return sp->block;
    }
    hak_span_t *next = cached_at(sp->map + sp->map_len);
    if (next != NULL && sp->map_len + next->map_len >= len) {
        size_t need = len - sp->map_len;
        uint64_t freed_us = next->freed_us;
        cache_unlink(next);
        if (next->map_len - need >= min_rest(len) && split(next, need, &front, &back)) {
            cache_link(back, freed_us);
            next = front;
        }
        sp = merge(sp, next);
        hak_unlock(&large_lock);
        hak_gstat_add(HAK_S_large_cache_hit, 1);
        return sp->block;
    }
    /* A block no bigger than COPY_MAX is copied into a cached span: its
     * pages are committed already, while a kernel move leaves the new part
     * to fault in page by page, for a syscall or two besides. */
    hak_span_t *dst = sp->map_len <= COPY_MAX ? cache_take(len, HAK_GRANULE) : NULL;
    hak_unlock(&large_lock);
    if (dst != NULL) {
        memcpy(dst->block, sp->block, sp->map_len);
        /* A new block and the old one's free, as the counters see it. */
        hak_gstat_add(HAK_S_large_cache_hit, 1);
        hak_gstat_add(HAK_S_large_alloc, 1);
        hak_large_free(sp);
        return dst->block;
    }

    uint8_t *map = sp->map;
    size_t old = sp->map_len;
    if (hak_registry_reserve(map, len) && hak_os_resize(map, old, len)) {
        hak_lock(&large_lock);
        hak_registry_set(map + old, len - old, (uintptr_t)sp);
        set_len(sp, len);
        hak_unlock(&large_lock);
        return map;
    }
    /* The destination is ours before the move: a mapping of its own, with
     * its leaves, which the kernel replaces with the block's pages. */
    uint8_t *to = hak_os_map(len);
    if (to == NULL) return NULL;
    if (!hak_registry_reserve(to, len)) {
        hak_os_unmap(to, len);
        return NULL;
    }
    /* Unregistered before the move: once moved, the old range may hold
     * anyone's next mapping. */
    hak_lock(&large_lock);
    hak_registry_set(map, old, 0);
    hak_unlock(&large_lock);
    bool moved = hak_os_move(map, old, len, to);
    hak_lock(&large_lock);
    if (moved) {
        hak_registry_set(to, len, (uintptr_t)sp);
        sp->map = to;
        set_len(sp, len);
    } else {
        hak_registry_set(map, old, (uintptr_t)sp);
    }
    hak_unlock(&large_lock);
    if (!moved) {
        hak_os_unmap(to, len);
        return NULL;
    }
    return to;
}

bool hak_large_reclaim(void) {
    hak_lock(&large_lock);
    hak_span_t *all = NULL;
    while (cache_tail != NULL) {
        hak_span_t *sp = cache_tail;
        cache_unlink(sp);
        hak_registry_set(sp->map, sp->map_len, 0);
        sp->next = all;
        all = sp;
    }
    hak_unlock(&large_lock);
    bool any = all != NULL;
    release(all);
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
