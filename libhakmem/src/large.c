/* large.c — the large tier: blocks beyond the mid tier's largest class, each
 * a run of whole 4 KiB granules (a span), and the cache of freed spans,
 * kept mapped for reuse.
 *
 * A fresh mapping costs a syscall and then a page fault for every 4 KiB the
 * program touches, which in a VM costs more than the program's own writes:
 * a program that replaces big buffers would spend most of its time in the
 * kernel if a freed span were unmapped, or reused only for a request of
 * its own size. So a freed span waits in the cache, merged with free
 * neighbours into longer runs, and a request takes the smallest cached span
 * that holds it, splitting off what it does not need. A request of up to
 * CHUNK_FROM that finds nothing takes a run of the page pool's free pages,
 * committed already (os.c, hak_os_take_run), or else carves its span from
 * a CHUNK-sized mapping; either way the rest is cached, so that blocks of
 * 32 KiB to a megabyte do not cost a syscall each; a block of megabytes
 * gets huge pages (thp_min, os.c), so that filling it costs a page fault
 * per 2 MiB rather than per 4 KiB, and when no cached span holds it, it
 * is made of the huge pages of smaller ones, moved (span_compose).
 *
 * What the cache keeps follows the program (internal.h, "Retention"):
 * freed spans while they bring the bytes in use back to retain_pct of their
 * recent peak, more when fresh mappings soon after a give-back show that
 * too little, and never fewer than large_cache_bytes; within
 * large_cache_spans spans; none older than the tier's delay (release_delay_ms,
 * longer while the program still calls the tier). Spans leave
 * oldest first, unmapped, or returned to the page pool if they came from it
 * (cache_expire); all of them unmapped under memory pressure. The age is
 * checked when a span is freed, on the thread heaps' slow paths and by the
 * purge thread (hak_large_expire).
 *
 * The cache is kept twice: on an age list, for expiry, and in size bins,
 * for the search: one bin per granule count up to BIN_EXACT granules, then
 * BIN_SUBS bins per doubling, with a bitmap of the bins that hold any.
 *
 * Every granule of a span is registered (its descriptor): that is how free
 * finds a block, tells a pointer into its middle from its start, and how a
 * freed span finds its neighbours in O(1). The cache, the `cached` marks,
 * the bytes in use and every registration of a span change under
 * large_lock. realloc grows a block into a free neighbour, or copies one of
 * up to COPY_MAX into a cached span, and shrinks it into the cache, all
 * without a syscall; else the kernel resizes or moves its pages. */
#include "internal.h"

#include <string.h>

#define BIN_EXACT 256 /* spans of 1..256 granules (up to 1 MiB): a bin each */
#define BIN_SUBS  8
#define BIN_COUNT (BIN_EXACT + (HAK_ADDR_BITS - HAK_GRANULE_SHIFT - 8) * BIN_SUBS)
#define BIN_WORDS ((BIN_COUNT + 63) / 64)

/* A request of up to CHUNK_FROM that misses, with no pooled run for it,
 * carves from a CHUNK mapping. */
#define CHUNK_FROM ((size_t)1 << 20)
#define CHUNK      ((size_t)4 << 20)
/* The most a miss takes of the page pool's adjacent pages (hak_os_take_run). */
#define POOL_RUN ((size_t)1 << 20)

static hak_lock_t large_lock;
static hak_span_t *age_newest, *age_oldest; /* the cache, most recently freed first */
static size_t cache_count, cache_bytes;     /* on the age list */
/* Parts of pool pages past their age (cache_expire says why they stay),
 * newest first, linked like the age list; the count is read unlocked too
 * (hak_large_kept). */
static hak_span_t *held_newest, *held_oldest;
static _Atomic(size_t) held_count;
static size_t held_bytes;
static hak_span_t *bin_head[BIN_COUNT], *bin_tail[BIN_COUNT];
static uint64_t bin_map[BIN_WORDS];
static size_t live_bytes; /* spans handed to the program */
static hak_retain_t live_retain;
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

/* The most retention's boost may add to what the cache keeps, in percent
 * of retain_pct's share of the peak (internal.h, "Retention"). An eighth:
 * the boost was made for the program that replaces big buffers, whose
 * freed spans were rarely the size asked for next, and such blocks are now
 * made of smaller spans' huge pages (span_compose). At half, as the page
 * pool keeps, largeblocks (blocks of 64 KiB to 8 MiB) held 50 MiB at its
 * peak against 39 at an eighth, at the same speed; bigbuffers was level. */
#define LARGE_BOOST_PCT 12

/* realloc copies a block up to this size into a cached span rather than
 * have the kernel move it (below). */
#define COPY_MAX ((size_t)1 << 20)

static void set_cached(hak_span_t *sp, bool v) {
    __atomic_store_n(&sp->cached, v, __ATOMIC_RELAXED); /* peeked unlocked */
}

/* ---- the cache (large_lock held) -------------------------------------- */

static unsigned bin_of(size_t len) {
    size_t g = len >> HAK_GRANULE_SHIFT;
    if (g <= BIN_EXACT) return (unsigned)g - 1;
    unsigned lg = 63u - (unsigned)__builtin_clzll(g);
    unsigned sub = (unsigned)(g >> (lg - 3)) & (BIN_SUBS - 1);
    unsigned b = BIN_EXACT + (lg - 8) * BIN_SUBS + sub;
    return b < BIN_COUNT ? b : BIN_COUNT - 1; /* only requests no mapping can meet */
}

/* The first non-empty bin at or after b, or BIN_COUNT. */
static unsigned bin_next(unsigned b) {
    for (unsigned w = b / 64; w < BIN_WORDS; w++) {
        uint64_t bits = bin_map[w] & (w == b / 64 ? ~0ull << (b % 64) : ~0ull);
        if (bits != 0) return w * 64 + (unsigned)__builtin_ctzll(bits);
    }
    return BIN_COUNT;
}

/* The cache's counts, recounted, its age list oldest-last, and the held list. */
static bool cache_counts_hold(void) {
    size_t n = 0, bytes = 0;
    for (const hak_span_t *sp = age_newest; sp != NULL; sp = sp->next) {
        if (!sp->cached || sp->held || (sp->next != NULL && sp->next->freed_us > sp->freed_us))
            return false;
        n++;
        bytes += sp->map_len;
    }
    size_t hn = 0, hbytes = 0;
    for (const hak_span_t *sp = held_newest; sp != NULL; sp = sp->next) {
        if (!sp->cached || !sp->held) return false;
        hn++;
        hbytes += sp->map_len;
    }
    return n == cache_count && bytes == cache_bytes &&
           hn == atomic_load_explicit(&held_count, memory_order_relaxed) && hbytes == held_bytes;
}

static void note_oldest(void) {
    atomic_store_explicit(&oldest_us, age_oldest != NULL ? age_oldest->freed_us : 0,
                          memory_order_relaxed);
}

static void bin_link(hak_span_t *sp) {
    unsigned b = bin_of(sp->map_len);
    HAK_DLIST_PUSH_FRONT_VIA(bin_head[b], bin_tail[b], sp, bnext, bprev);
    bin_map[b / 64] |= 1ull << (b % 64);
    set_cached(sp, true);
}

/* Links sp into the cache as freed at freed_us, on the age list right
 * after `newer` (NULL: first, as the newest). A split's rest takes the
 * place of the span it was cut from, so the list stays oldest-last, which
 * is all expiry looks at, in O(1). */
static void cache_link(hak_span_t *sp, uint64_t freed_us, hak_span_t *newer) {
    hak_assert_locked(&large_lock);
    hak_assert(!sp->cached);
    /* Callers read the clock before taking the lock, so a stamp can be a
     * few microseconds older than the newest linked: taken as that one's. */
    if (newer == NULL && age_newest != NULL && age_newest->freed_us > freed_us)
        freed_us = age_newest->freed_us;
    sp->freed_us = freed_us;
    if (newer == NULL) {
        HAK_DLIST_PUSH_FRONT(age_newest, age_oldest, sp);
    } else {
        sp->prev = newer;
        sp->next = newer->next;
        if (newer->next)
            newer->next->prev = sp;
        else
            age_oldest = sp;
        newer->next = sp;
    }
    bin_link(sp);
    cache_count++;
    cache_bytes += sp->map_len;
    note_oldest();
}

/* Links sp into the cache as held: found by the search and by its
 * neighbours, not on the age list. */
static void hold_link(hak_span_t *sp) {
    hak_assert_locked(&large_lock);
    hak_assert(!sp->cached);
    sp->held = true;
    HAK_DLIST_PUSH_FRONT(held_newest, held_oldest, sp);
    bin_link(sp);
    atomic_fetch_add_explicit(&held_count, 1, memory_order_relaxed);
    held_bytes += sp->map_len;
}

static void cache_unlink(hak_span_t *sp) {
    hak_assert_locked(&large_lock);
    hak_assert(sp->cached);
    if (sp->held) {
        hak_assert(held_bytes >= sp->map_len);
        HAK_DLIST_REMOVE(held_newest, held_oldest, sp);
        atomic_fetch_sub_explicit(&held_count, 1, memory_order_relaxed);
        held_bytes -= sp->map_len;
        sp->held = false;
    } else {
        hak_assert(cache_count > 0 && cache_bytes >= sp->map_len);
        HAK_DLIST_REMOVE(age_newest, age_oldest, sp);
        cache_count--;
        cache_bytes -= sp->map_len;
    }
    unsigned b = bin_of(sp->map_len);
    HAK_DLIST_REMOVE_VIA(bin_head[b], bin_tail[b], sp, bnext, bprev);
    if (bin_head[b] == NULL) bin_map[b / 64] &= ~(1ull << (b % 64));
    set_cached(sp, false);
    note_oldest();
}

/* Links `rest`, cut from a cached span that was held or else on the age
 * list at freed_us right after `newer`, back where that span was. */
static void relink_rest(hak_span_t *rest, bool held, uint64_t freed_us, hak_span_t *newer) {
    if (held)
        hold_link(rest);
    else
        cache_link(rest, freed_us, newer);
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
    fresh->clean = sp->clean;
    fresh->reserve = sp->reserve;
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
    bool clean = a->clean && b->clean, reserve = a->reserve && b->reserve;
    hak_span_t *keep = a, *drop = b;
    if (b->map_len > a->map_len) {
        keep = b;
        drop = a;
        b->map = a->map;
    }
    hak_registry_set(drop->map, drop->map_len, (uintptr_t)keep);
    set_len(keep, len);
    keep->clean = clean;
    keep->reserve = reserve;
    hak_meta_free(HAK_META_SPAN, drop);
    return keep;
}

/* sp is free: merged with its cached neighbours, it joins the cache. (A
 * span's neighbour in the registry is adjacent by construction: spans
 * never overlap.) */
static void cache_put(hak_span_t *sp, uint64_t now) {
    sp->look = false;
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
    cache_link(sp, now, NULL);
}

/* Takes best out of the cache, cut to len, with what is left cached. */
static hak_span_t *cache_cut(hak_span_t *best, size_t len) {
    uint64_t freed_us = best->freed_us;
    hak_span_t *newer = best->prev;
    bool held = best->held;
    cache_unlink(best);
    hak_span_t *front, *back;
    if (best->map_len - len >= min_rest(len) && best->map_len - len >= len / 8 &&
        split(best, len, &front, &back)) {
        relink_rest(back, held, freed_us, newer); /* as old as it was, where it was */
        return front;
    }
    return best;
}

/* The smallest cached span of at least len bytes at an address aligned to
 * align (the first that fits in the first bin that has one), taken out of
 * the cache and cut to size; the newest of a bin, whose pages are most
 * likely still in the CPU's caches. */
static hak_span_t *cache_take(size_t len, size_t align) {
    hak_span_t *best = NULL;
    if (align > HAK_GRANULE) {
        /* Rare (posix_memalign beyond 4 KiB): any span that fits, aligned. */
        for (hak_span_t *sp = age_newest; sp != NULL; sp = sp->next) {
            if (sp->map_len < len || ((uintptr_t)sp->map & (align - 1)) != 0) continue;
            if (best == NULL || sp->map_len < best->map_len) best = sp;
        }
    } else {
        for (unsigned b = bin_next(bin_of(len)); b < BIN_COUNT && best == NULL; b = bin_next(b + 1))
            for (hak_span_t *sp = bin_head[b]; sp != NULL && best == NULL; sp = sp->bnext)
                if (sp->map_len >= len) best = sp;
    }
    return best != NULL ? cache_cut(best, len) : NULL;
}

/* Puts sp (not cached) on the list `out`, unregistered, to go back. */
static void take_out(hak_span_t *sp, hak_span_t **out) {
    hak_registry_set(sp->map, sp->map_len, 0);
    sp->next = *out;
    *out = sp;
}

static bool page_aligned(const uint8_t *a) {
    return ((uintptr_t)a & (HAK_PAGE_SIZE - 1)) == 0;
}

/* sp, a part of one pool page, past its age: held while the rest of its
 * page is a span's (in use or cached), which may join it; else (a hole
 * there: moved by realloc, or unmapped before) its page can never go back
 * whole, and it goes now, unmapped. */
static void hold_part(hak_span_t *sp, hak_span_t **out) {
    const uint8_t *a = sp->map, *b = sp->map + sp->map_len;
    if ((page_aligned(a) || hak_registry_get(a - 1) != 0) &&
        (page_aligned(b) || hak_registry_get(b) != 0)) {
        hold_link(sp);
        hak_gstat_add(HAK_S_large_held, 1);
        return;
    }
    sp->reserve = false;
    take_out(sp, out);
}

/* sp (not cached, reserve), past its age or a bound: its whole pool pages
 * go on `out`, to go back to the page pool; the parts of pages before and
 * after them are held (cache_expire says why). Out of descriptors, what is
 * left of it goes whole, unmapped, as before. */
static void expire_reserve(hak_span_t *sp, hak_span_t **out) {
    uint8_t *end = sp->map + sp->map_len;
    uint8_t *lo =
        (uint8_t *)(((uintptr_t)sp->map + HAK_PAGE_SIZE - 1) & ~(uintptr_t)(HAK_PAGE_SIZE - 1));
    uint8_t *hi = (uint8_t *)((uintptr_t)end & ~(uintptr_t)(HAK_PAGE_SIZE - 1));
    if (lo >= hi) {
        hold_part(sp, out);
        return;
    }
    hak_span_t *front, *back;
    bool ok = true;
    if (hi < end && (ok = split(sp, (size_t)(hi - sp->map), &front, &back))) {
        hold_part(back, out);
        sp = front;
    }
    if (ok && lo > sp->map && (ok = split(sp, (size_t)(lo - sp->map), &front, &back))) {
        hold_part(front, out);
        sp = back;
    }
    if (!ok) sp->reserve = false;
    take_out(sp, out);
}

/* Takes out of the cache, unregistered, every span past a bound: older than
 * the release delay, beyond the span count, or beyond what retention keeps
 * (internal.h).
 *
 * A span cut from the page pool's pages (reserve) goes back to the pool,
 * in whole pages, not to the kernel: unmapping it would leave a hole in a
 * reserved region, and in a region of huge pages split the huge page around
 * it (hak_os_return_run says what that costs). The parts of pages at its
 * ends, whose page is partly in use (the first 4 KiB of a 64 KiB page under
 * a 68 KiB block, the rest the cache's), are held: cached, so that the
 * rest of the page joins them when it is freed and the page can go back
 * whole, but off the age list and outside the bounds, until the program
 * has not called the tier for the delay (idle_at, as hak_os_expire's),
 * when they go back unmapped.
 *
 * all: the program asked for its free memory back (hak_trim). Every span
 * on the age list goes, and retention does not take the give-back for one
 * of its own: a program that trims and then allocates again did not show
 * the delay too short. Held parts stay held: the rest of their page is in
 * use, and unmapping them would cut a hole in a reserved region at every
 * trim of a program that calls it often; they are less than a page each. */
static hak_span_t *cache_expire(uint64_t now, uint64_t idle_at, bool all) {
    size_t max_count = (size_t)hak_knob(LARGE_CACHE_SPANS);
    size_t floor = (size_t)hak_knob(LARGE_CACHE_BYTES);
    size_t max_bytes = (size_t)hak_retain_cap(floor, &live_retain, live_bytes);
    hak_span_t *out = NULL;
    while (age_oldest != NULL) {
        bool bound = cache_count > max_count || cache_bytes > max_bytes;
        if (!all && !bound && !hak_retain_past(&live_retain, age_oldest->freed_us, now)) break;
        hak_span_t *old = age_oldest, *was = out;
        cache_unlink(old);
        if (old->reserve)
            expire_reserve(old, &out);
        else
            take_out(old, &out);
        if (out != was && !all) hak_retain_gave_back(&live_retain, bound, now);
    }
    if (held_oldest != NULL && !all && hak_retain_idle(&live_retain, idle_at)) {
        hak_retain_gave_back(&live_retain, false, now);
        while (held_oldest != NULL) {
            hak_span_t *old = held_oldest;
            cache_unlink(old);
            old->reserve = false;
            take_out(old, &out);
        }
    }
    hak_assert_deep(cache_counts_hold());
    if (cache_bytes + held_bytes > floor) hak_purge_wanted();
    if (out != NULL) hak_os_giveback_taken();
    return out;
}

/* The spans given back to the kernel last, each one word: its first
 * granule's number above GONE_LEN_BITS bits of its length in granules. A
 * large block freed twice, whose span the cache has let go in between, is
 * then reported as what it is rather than as a pointer to nothing mapped:
 * how long a span waits depends on what else the program frees. Written as
 * spans go; read only on the way to abort, so the ring needs no lock (a
 * slot overwritten meanwhile only loses that span's name). */
#define GONE_SLOTS    64
#define GONE_LEN_BITS 28
static _Atomic(uint64_t) gone[GONE_SLOTS];
static _Atomic(unsigned) gone_next;

static void note_gone(const uint8_t *map, size_t len) {
    uint64_t granules = len >> HAK_GRANULE_SHIFT;
    uint64_t max = ((uint64_t)1 << GONE_LEN_BITS) - 1;
    uint64_t word = ((uint64_t)(uintptr_t)map >> HAK_GRANULE_SHIFT << GONE_LEN_BITS) |
                    (granules < max ? granules : max);
    unsigned i = atomic_fetch_add_explicit(&gone_next, 1, memory_order_relaxed) % GONE_SLOTS;
    atomic_store_explicit(&gone[i], word, memory_order_relaxed);
}

bool hak_large_gone(const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (a & (HAK_GRANULE - 1)) return false; /* large blocks start on a granule */
    uint64_t g = a >> HAK_GRANULE_SHIFT;
    for (unsigned i = 0; i < GONE_SLOTS; i++) {
        uint64_t w = atomic_load_explicit(&gone[i], memory_order_relaxed);
        uint64_t first = w >> GONE_LEN_BITS, n = w & (((uint64_t)1 << GONE_LEN_BITS) - 1);
        if (w != 0 && g >= first && g - first < n) return true;
    }
    return false;
}

/* Gives back what cache_expire took out (or hak_large_reclaim, which
 * counts its list alike): to the page pool what came from it, the rest to
 * the kernel. */
static void release(hak_span_t *list) {
    if (list == NULL) return;
    hak_os_note_giveback();
    while (list != NULL) {
        hak_span_t *next = list->next;
        note_gone(list->map, list->map_len);
        if (list->reserve)
            hak_os_return_run(list->map, list->map_len);
        else
            hak_os_unmap(list->map, list->map_len);
        hak_meta_free(HAK_META_SPAN, list);
        list = next;
    }
    hak_os_giveback_made();
}

/* Counts len bytes handed to (delta > 0) or back from the program. */
static void live_add(long long delta, uint64_t now) {
    hak_assert_locked(&large_lock);
    hak_assert(delta >= 0 || live_bytes >= (size_t)-delta);
    live_bytes += (size_t)delta;
    hak_retain_note(&live_retain, live_bytes, now);
    hak_retain_active(&live_retain, now);
    hak_os_note_large_call(now);
}

/* ---- the kernel -------------------------------------------------------- */

/* A new span of len bytes, aligned, registered: a mapping of its own, or
 * for a request of up to CHUNK_FROM the front of a run of pooled pages or
 * else of a CHUNK mapping, whose rest joins the cache. NULL when the kernel
 * has no memory. */
static hak_span_t *span_map(size_t len, size_t align, uint64_t now, bool retry) {
    size_t map_len = len <= CHUNK_FROM && align <= HAK_GRANULE ? CHUNK : len;
    /* Pages the pool keeps committed serve before anything new is mapped
     * (os.c says why); up to POOL_RUN of them, so that one miss does not
     * empty a pool its own classes may soon want back. */
    uint8_t *map = map_len > len ? hak_os_take_run(len, POOL_RUN, &map_len) : NULL;
    bool pooled = map != NULL;
    /* A chunk serves small blocks: huge pages would commit 2 MiB for each. */
    if (!pooled)
        map = map_len > len ? hak_os_map_aligned(map_len, align) : hak_os_map_large(len, align);
    if (map == NULL && map_len > len) map = hak_os_map_large(map_len = len, align);
    if (map == NULL && hak_os_reclaim()) map = hak_os_map_large(map_len = len, align);
    if (map == NULL) return NULL;
    hak_span_t *sp = hak_meta_alloc(HAK_META_SPAN);
    if (sp == NULL) {
        hak_os_unmap(map, map_len);
        return NULL;
    }
    sp->map = map;
    set_len(sp, map_len);
    sp->clean = !pooled; /* pooled pages hold what their blocks left */
    sp->reserve = pooled;
    hak_lock(&large_lock);
    bool ok = hak_registry_set(map, map_len, (uintptr_t)sp);
    hak_span_t *front = sp, *back = NULL;
    if (!ok)
        hak_registry_set(map, map_len, 0);
    else if (map_len > len && split(sp, len, &front, &back))
        cache_put(back, now);
    if (ok) {
        live_add((long long)front->map_len, now);
        /* Pooled pages cost no page fault: no churn to learn from. */
        if (!pooled) hak_retain_fresh(&live_retain, len, now, LARGE_BOOST_PCT);
    }
    hak_unlock(&large_lock);
    if (!ok) {
        hak_os_unmap(map, map_len);
        hak_meta_free(HAK_META_SPAN, sp);
        /* The registry could not map a leaf for these addresses: the
         * mapping fitted under the address-space limit and the leaf did
         * not (oom's cross scenario: a 200 KiB request after 159 MiB of
         * 16-byte blocks were freed got nothing, about 1 run in 15 beside
         * the soak). What the pools and caches hold, given back, makes
         * room for both, as for a page's leaf (pool.c); once. */
        if (retry) {
            (void)hak_os_reclaim();
            return span_map(len, align, now, false);
        }
        return NULL;
    }
    if (!pooled) hak_os_note_fresh(len);
    return front;
}

/* Resizes sp (neither cached nor counted in use by the caller's change)
 * to len bytes through the kernel: in place when the addresses after it
 * are free, else moved. Every registry leaf the new range needs is mapped
 * before the kernel is asked, so that once the pages have moved,
 * registering them cannot fail (memory may be short: that is often why a
 * program is reallocating). false, sp as it was, when it cannot. */
static bool span_resize(hak_span_t *sp, size_t len) {
    uint8_t *map = sp->map;
    size_t old = sp->map_len;
    if (hak_registry_reserve(map, len) && hak_os_resize(map, old, len)) {
        hak_lock(&large_lock);
        hak_registry_set(map + old, len - old, (uintptr_t)sp);
        set_len(sp, len);
        sp->reserve = false; /* it has grown past its region's end */
        hak_unlock(&large_lock);
        return true;
    }
    /* The destination is ours before the move: a mapping of its own, with
     * its leaves, which the kernel replaces with the block's pages. */
    uint8_t *to = hak_os_map(len);
    if (to == NULL) return false;
    if (!hak_registry_reserve(to, len)) {
        hak_os_unmap(to, len);
        return false;
    }
    /* Unregistered before the move: once moved, the old range may hold
     * anyone's next mapping. */
    hak_lock(&large_lock);
    hak_registry_set(map, old, 0);
    hak_unlock(&large_lock);
    /* Moved at its own size: the kernel moves a range of several mappings
     * (a block made of moved spans is one) only so, and the rest of `to`
     * is fresh already. */
    bool moved = hak_os_move(map, old, old, to);
    hak_lock(&large_lock);
    if (moved) {
        hak_registry_set(to, len, (uintptr_t)sp);
        sp->map = to;
        set_len(sp, len);
        sp->reserve = false;
    } else {
        hak_registry_set(map, old, (uintptr_t)sp);
    }
    hak_unlock(&large_lock);
    if (!moved) hak_os_unmap(to, len);
    return moved;
}

/* ---- composing: a big block from cached spans too small for it ---------- */

/* A request of megabytes that no cached span holds would have every page
 * of a fresh mapping faulted in and zeroed by the kernel, while the cache
 * may hold as many bytes in smaller spans (20 buffers of 5-25 MiB replaced
 * one at a time: what was freed is rarely as big as what is asked for
 * next). Their huge pages are moved instead, with mremap, into one new
 * range: a syscall per span rather than a fault per page, and the cache
 * needs to keep bytes, not the right sizes, so retention need not run far
 * past the program's peak to be hit. Only whole huge pages move, each to
 * a huge page's place: the kernel moves those as one entry, where any
 * other move splits them into 4 KiB pages, and in a VM that shadows page
 * tables every one of those faults again when touched (bigbuffers moving
 * spans at any granule: 5 times slower than mapping fresh). The parts of
 * a span around its huge pages stay cached; so do spans of the pool's
 * reserved regions, whose pages stay there. */
#define COMPOSE_PIECES 16

/* Cuts [at, at + len) out of cached span c: the parts before and after go
 * back where c was; the middle is returned, unregistered. NULL, c as it
 * was, when no descriptor is left. */
static hak_span_t *cut_middle(hak_span_t *c, uint8_t *at, size_t len) {
    uint64_t freed_us = c->freed_us;
    hak_span_t *newer = c->prev;
    cache_unlink(c);
    hak_span_t *head = NULL, *mid = c, *tail = NULL;
    if (at > c->map && !split(c, (size_t)(at - c->map), &head, &mid)) {
        cache_link(c, freed_us, newer);
        return NULL;
    }
    if (mid->map_len > len && !split(mid, len, &mid, &tail)) {
        cache_link(mid, freed_us, newer);
        if (head != NULL) cache_put(head, freed_us); /* joins mid again */
        return NULL;
    }
    if (head != NULL) {
        cache_link(head, freed_us, newer);
        newer = head;
    }
    if (tail != NULL) cache_link(tail, freed_us, newer);
    mid->freed_us = freed_us; /* for cache_put, should the move fail */
    /* Unregistered before the move: once moved, the range may hold
     * anyone's next mapping. */
    hak_registry_set(mid->map, mid->map_len, 0);
    return mid;
}

/* Set when the kernel refused a move: it may refuse the next, and each
 * refusal loses a span and part of a mapping (span_compose says why). */
static _Atomic(bool) compose_off;

/* A span of len bytes (mapped with huge pages of `huge` bytes), registered
 * and counted in use, whose whole huge pages are, as far as the cache has
 * them, cached ones moved; the rest is fresh. *moved_out: how many of its
 * first bytes hold what they held before. NULL, the cache as it was, when the
 * cache holds no whole huge page outside the pool's regions or the kernel
 * refuses the new range; NULL too when it refuses a move. */
static hak_span_t *span_compose(size_t len, size_t huge, uint64_t now, size_t *moved_out) {
    hak_span_t *piece[COMPOSE_PIECES];
    unsigned n = 0;
    size_t want = len & ~(huge - 1), got = 0; /* a part of a huge page is fresh */
    hak_span_t *sp = hak_meta_alloc(HAK_META_SPAN);
    if (sp == NULL) return NULL;
    hak_lock(&large_lock);
    /* The largest first, for the fewest syscalls. */
    for (unsigned b = bin_of(len) + 1; b-- > bin_of(huge) && n < COMPOSE_PIECES && got < want;) {
        if ((bin_map[b / 64] >> (b % 64) & 1) == 0) continue;
        hak_span_t *next;
        for (hak_span_t *c = bin_head[b]; c != NULL && n < COMPOSE_PIECES && got < want; c = next) {
            next = c->bnext;
            uintptr_t lo = ((uintptr_t)c->map + huge - 1) & ~(uintptr_t)(huge - 1);
            uintptr_t hi = ((uintptr_t)c->map + c->map_len) & ~(uintptr_t)(huge - 1);
            if (c->reserve || c->held || hi <= lo) continue;
            size_t take = hi - lo < want - got ? hi - lo : want - got;
            hak_span_t *m = cut_middle(c, (uint8_t *)lo, take);
            if (m == NULL) break;
            piece[n++] = m;
            got += take;
        }
    }
    hak_unlock(&large_lock);
    uint8_t *dest = n > 0 ? hak_os_map_large(len, HAK_GRANULE) : NULL;
    if (dest != NULL && (((uintptr_t)dest & (huge - 1)) != 0 || !hak_registry_reserve(dest, len))) {
        hak_os_unmap(dest, len);
        dest = NULL;
    }
    size_t moved = 0;
    unsigned done = 0;
    for (; done < n && dest != NULL; done++) {
        hak_span_t *c = piece[done];
        if (!hak_os_move(c->map, c->map_len, c->map_len, dest + moved)) break;
        note_gone(c->map, c->map_len);
        moved += c->map_len;
        hak_meta_free(HAK_META_SPAN, c);
    }
    /* A refused move may have unmapped its part of dest first (kernels
     * before 6.17 do, as they check the source), or moved some of the span
     * (a multi-mapping move out of memory half way): neither that part of
     * dest nor the span can be trusted to be ours, nor unmapped without
     * maybe unmapping someone else's mapping placed since. Both are left
     * as they are, lost to the program; what moved before is cached, and
     * no block is made again. */
    bool refused = dest != NULL && done < n;
    hak_span_t *lost = refused ? piece[done++] : NULL;
    if (refused) {
        atomic_store_explicit(&compose_off, true, memory_order_relaxed);
        hak_gstat_add(HAK_S_compose_refused, 1);
    }
    hak_lock(&large_lock);
    for (unsigned i = dest == NULL ? 0 : done; i < n; i++) {
        hak_registry_set(piece[i]->map, piece[i]->map_len, (uintptr_t)piece[i]);
        cache_put(piece[i], piece[i]->freed_us);
    }
    bool made = dest != NULL && (!refused || moved > 0); /* sp describes dest */
    if (made) {
        sp->map = dest;
        set_len(sp, refused ? moved : len);
        sp->clean = moved == 0;
        sp->reserve = false;
        hak_registry_set(sp->map, sp->map_len, (uintptr_t)sp);
        if (refused) {
            cache_put(sp, now);
        } else {
            live_add((long long)len, now);
            if (len > moved) hak_retain_fresh(&live_retain, len - moved, now, LARGE_BOOST_PCT);
        }
    }
    hak_unlock(&large_lock);
    if (lost != NULL) hak_meta_free(HAK_META_SPAN, lost);
    if (!made) hak_meta_free(HAK_META_SPAN, sp);
    if (dest == NULL || refused) return NULL;
    if (len > moved) hak_os_note_fresh(len - moved);
    hak_gstat_add(HAK_S_large_composed, 1);
    *moved_out = moved;
    return sp;
}

/* ---- the tier --------------------------------------------------------- */

void *hak_large_alloc(size_t n, size_t align, bool zero) {
    if (align < HAK_GRANULE) align = HAK_GRANULE;
    size_t len = (n + HAK_GRANULE - 1) & ~(HAK_GRANULE - 1);
    if (len < n) return NULL;
    if (len == 0) len = HAK_GRANULE;
    /* A block of huge pages is whole huge pages, so that what it is cut
     * from and what it leaves in the cache start on one: only such spans
     * can be moved without splitting them (span_compose), and a fresh one
     * faults its last huge page in once rather than 4 KiB at a time. Not
     * where that would add more than a quarter: that last page is resident
     * as soon as the program touches any of it (2.1 MiB would take 4). */
    size_t huge = align <= HAK_GRANULE ? hak_os_huge_page(len) : 0;
    if (huge != 0 && len <= SIZE_MAX - huge) {
        size_t whole = (len + huge - 1) & ~(huge - 1);
        if (whole - len <= len / 4) len = whole;
    }
    uint64_t now = hak_now_us();
    hak_lock(&large_lock);
    hak_span_t *sp = cache_take(len, align);
    if (sp != NULL) live_add((long long)sp->map_len, now);
    hak_unlock(&large_lock);
    if (sp != NULL) hak_gstat_add(HAK_S_large_cache_hit, 1);
    size_t dirty = n; /* how many of the block's first bytes may be old */
    if (sp == NULL && huge != 0 && hak_os_moves_spans() &&
        !atomic_load_explicit(&compose_off, memory_order_relaxed))
        sp = span_compose(len, huge, now, &dirty);
    if (sp == NULL && (sp = span_map(len, align, now, true)) == NULL) return NULL;
    /* A cached span holds old contents, unless it never served; so do the
     * pool's pages; a made block only where pages moved in. */
    if (zero && !sp->clean) memset(sp->map, 0, dirty < n ? dirty : n);
    /* How the program uses the block tells whether it fills such blocks,
     * unless hakmem cleared it whole above. */
    sp->look = !zero || sp->clean;
    sp->clean = false;
    if (sp->look) hak_os_large_made(sp->map, sp->map_len);
    hak_gstat_add(HAK_S_large_alloc, 1);
    return sp->block;
}

/* cache_expire under the lock, and what it took out released. */
static bool expire_now(uint64_t idle_at, bool all) {
    hak_lock(&large_lock);
    hak_span_t *expired = cache_expire(hak_now_us(), idle_at, all);
    hak_unlock(&large_lock);
    release(expired);
    return expired != NULL;
}

bool hak_large_expire(uint64_t now) {
    bool idle = atomic_load_explicit(&held_count, memory_order_relaxed) != 0 &&
                hak_retain_idle(&live_retain, now);
    if (!idle &&
        !hak_retain_past(&live_retain, atomic_load_explicit(&oldest_us, memory_order_relaxed), now))
        return false;
    return expire_now(idle ? now : 0, false);
}

bool hak_large_trim(void) {
    return expire_now(0, true);
}

uint64_t hak_large_delay_us(void) {
    return hak_retain_delay(&live_retain);
}

bool hak_large_kept(void) {
    return atomic_load_explicit(&oldest_us, memory_order_relaxed) != 0 ||
           atomic_load_explicit(&held_count, memory_order_relaxed) != 0;
}

void hak_large_free(hak_span_t *sp) {
    uint64_t now = hak_now_us();
    hak_lock(&large_lock);
    if (sp->cached) {
        hak_unlock(&large_lock);
        hak_fatal("double free of %p", (void *)sp->block);
    }
    /* Read under the lock (only the lock keeps a racing double free from
     * caching the span first), looked at after it: mincore takes the
     * kernel's lock of the address space. Before the release, which may
     * unmap it; if another thread takes it meanwhile, the look misleads
     * once and touches nothing. */
    bool look = sp->look;
    uint8_t *map = sp->map;
    size_t map_len = sp->map_len;
    live_add(-(long long)sp->map_len, now);
    cache_put(sp, now);
    hak_span_t *expired = cache_expire(now, 0, false);
    hak_unlock(&large_lock);
    if (look) hak_os_large_freed(map, map_len);
    hak_gstat_add(HAK_S_large_free, 1);
    release(expired);
    hak_purge_start();
}

/* Resizes sp's block to hold n bytes without copying; NULL when it cannot,
 * sp untouched. Inside the cache first: a shrink gives its tail to the
 * cache, a growth takes a free neighbour. Then the kernel. */
void *hak_large_realloc(hak_span_t *sp, size_t n) {
    sp->look = false; /* a block resized is not one the program made so */
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
            live_add(-(long long)back->map_len, now);
            cache_put(back, now);
            expired = cache_expire(now, 0, false);
        }
        hak_unlock(&large_lock);
        release(expired);
        return sp->block;
    }
    hak_span_t *next = cached_at(sp->map + sp->map_len);
    if (next != NULL && sp->map_len + next->map_len >= len) {
        size_t need = len - sp->map_len;
        uint64_t freed_us = next->freed_us;
        hak_span_t *newer = next->prev;
        bool held = next->held;
        cache_unlink(next);
        if (next->map_len - need >= min_rest(len) && split(next, need, &front, &back)) {
            relink_rest(back, held, freed_us, newer);
            next = front;
        }
        live_add((long long)next->map_len, now);
        sp = merge(sp, next);
        sp->clean = false;
        hak_unlock(&large_lock);
        hak_gstat_add(HAK_S_large_cache_hit, 1);
        return sp->block;
    }
    /* A block no bigger than COPY_MAX is copied into a cached span: its
     * pages are committed already, while a kernel move leaves the new part
     * to fault in page by page, for a syscall or two besides. */
    hak_span_t *dst = sp->map_len <= COPY_MAX ? cache_take(len, HAK_GRANULE) : NULL;
    if (dst != NULL) live_add((long long)dst->map_len, now);
    hak_unlock(&large_lock);
    if (dst != NULL) {
        dst->clean = false;
        memcpy(dst->block, sp->block, sp->map_len);
        /* A new block and the old one's free, as the counters see it. */
        hak_gstat_add(HAK_S_large_cache_hit, 1);
        hak_gstat_add(HAK_S_large_alloc, 1);
        hak_large_free(sp);
        return dst->block;
    }
    size_t old = sp->map_len;
    if (!span_resize(sp, len)) return NULL;
    hak_lock(&large_lock);
    live_add((long long)(len - old), now);
    hak_unlock(&large_lock);
    return sp->block;
}

bool hak_large_reclaim(void) {
    hak_lock(&large_lock);
    hak_span_t *all = NULL;
    /* Memory is short: every span goes to the kernel, unmapped. */
    while (age_oldest != NULL || held_oldest != NULL) {
        hak_span_t *sp = age_oldest != NULL ? age_oldest : held_oldest;
        cache_unlink(sp);
        sp->reserve = false;
        take_out(sp, &all);
    }
    if (all != NULL) hak_os_giveback_taken();
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
