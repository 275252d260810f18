/* heap.c — thread heaps: each thread's block caches and the pages it owns.
 *
 * The fast paths (internal.h) touch only the calling thread's cache, so they
 * need neither a lock nor an atomic. Everything here is a slow path: a
 * refill moves a batch of blocks from owned pages into the cache, a flush
 * moves half a full cache back, or all of it when the thread allocated none
 * of the class meanwhile (blocks of owned pages onto their local free lists,
 * others onto their pages' remote lists, one atomic push per run of blocks
 * of the same page), unless the thread also allocates the class in long
 * runs: then the full cache is set aside whole, for the next refill to take
 * back.
 * Page lists are touched under the heap's own lock, which only an adopter
 * ever contends for: a thread that needs pages takes them from owners that
 * are idle or gone, through the pending queue.
 *
 * A thread that exits flushes its caches and abandons its heap whole: the
 * pages stay on the heap's lists, still owned by it, and the heap waits on
 * the abandoned list. A new thread takes over an abandoned heap in O(1) —
 * under Larson's churn, a thread every 10,000 operations, walking a dead
 * thread's thousand pages one by one would cost more than the work itself —
 * while threads that need pages meanwhile adopt them page by page, as from
 * any owner idle longer than the idle threshold. Heaps are never unmapped,
 * so a stale owner pointer always reads a valid heap, and ownership is
 * re-checked under that heap's lock. */
#include "internal.h"

#include <string.h>

__thread hak_heap_t *hak_tls_heap __attribute__((tls_model("initial-exec"))) = &hak_heap_none;

hak_heap_t hak_heap_none = {.kind = HAK_HEAP_NONE};
hak_heap_t hak_heap_busy = {.kind = HAK_HEAP_BUSY};
hak_heap_t hak_heap_libc = {.kind = HAK_HEAP_LIBC};
hak_heap_t hak_heap_dead = {.kind = HAK_HEAP_DEAD};

/* The most blocks a class's cache grows to (hard_limit is 16 bits). */
#define TC_LIMIT_MAX 1024

/* Most bytes of never-used blocks one refill carves. */
#define CARVE_BYTES 16384

/* Full pages a slow path looks at for frees that emptied them. */
#define SWEEP_PAGES 4

static hak_lock_t heaps_lock;       /* heaps_all and heaps_abandoned */
static hak_heap_t *heaps_all;       /* every heap ever made, for stats and fork */
static hak_heap_t *heaps_abandoned; /* heaps of exited threads, for new threads */

static bool cache_return_all(hak_heap_t *h, uint64_t now);
static void return_kept(hak_heap_t *o, uint64_t now);
static hak_block_t *give_back(hak_heap_t *h, hak_block_t *list, unsigned count, uint64_t now);
_Noreturn static void cache_runs_on(unsigned cls, unsigned count);

/* Heaps of exited threads that still hold cached blocks; peeked without
 * heaps_lock, changed under it. */
static _Atomic(unsigned) heaps_kept;
/* What every cache together has grown by beyond its first limit, in bytes. */
static _Atomic(uint64_t) grown_bytes;
/* When a slow path next looks for idle heaps with kept caches (sweep). */
static _Atomic(uint64_t) reclaim_due_us;

/* ---- owner lists ------------------------------------------------------ */

static void list_push_front(hak_page_list_t *l, hak_page_t *pg) {
    HAK_DLIST_PUSH_FRONT(l->head, l->tail, pg);
}

static void list_push_back(hak_page_list_t *l, hak_page_t *pg) {
    HAK_DLIST_PUSH_BACK(l->head, l->tail, pg);
}

static void list_remove(hak_page_list_t *l, hak_page_t *pg) {
    HAK_DLIST_REMOVE(l->head, l->tail, pg);
}

static hak_page_list_t *list_of(hak_heap_t *h, hak_page_t *pg) {
    return pg->list == HAK_LIST_FULL ? &h->full[pg->cls] : &h->avail[pg->cls];
}

static void page_unlink(hak_heap_t *h, hak_page_t *pg) {
    if (pg->list != HAK_LIST_NONE) list_remove(list_of(h, pg), pg);
    pg->list = HAK_LIST_NONE;
}

static void page_link(hak_heap_t *h, hak_page_t *pg, int which, bool front) {
    hak_assert(pg->list == HAK_LIST_NONE && pg->next == NULL && pg->prev == NULL);
    hak_assert(atomic_load_explicit(&pg->owner, memory_order_relaxed) == h);
    pg->list = (uint8_t)which;
    if (front)
        list_push_front(list_of(h, pg), pg);
    else
        list_push_back(list_of(h, pg), pg);
}

static bool page_has_room(const hak_page_t *pg) {
    return pg->free != NULL || pg->bump < pg->end;
}

/* A page's counts, under its owner's lock: every carved block is in use
 * (or cached, or on the remote list) or on the local free list. */
static bool page_counts_hold(const hak_page_t *pg) {
    uint32_t carved = (uint32_t)((size_t)(pg->bump - pg->base) / pg->block_size);
    uint32_t listed = 0;
    for (const hak_block_t *b = pg->free; b != NULL && listed <= pg->capacity; b = b->next)
        listed++;
    return pg->bump <= pg->end && carved <= pg->capacity && pg->used + pg->nfree == carved &&
           listed == pg->nfree;
}

/* ---- creation --------------------------------------------------------- */

/* The limit every cache of class c starts with. */
static uint32_t first_limit(unsigned c) {
    size_t by_bytes = (size_t)hak_knob(TCACHE_BYTES) / hak_class_size[c];
    size_t limit = (size_t)hak_knob(TCACHE_COUNT);
    if (by_bytes < limit) limit = by_bytes;
    return limit < 2 ? 2 : (uint32_t)limit;
}

/* Sets the limit of class c's cache, keeping its count. */
static void set_limit(hak_heap_t *h, unsigned c, uint32_t limit) {
    uint32_t count = hak_tc_count(h, c);
    h->hard_limit[c] = (uint16_t)limit;
    /* The stats reader takes limit - room: a torn pair is off by the
     * change, as for any report taken while the owner runs. */
    if (!hak_knob(HARDENED)) __atomic_store_n(&h->tc_limit[c], limit, __ATOMIC_RELAXED);
    hak_tc_set_count(h, c, count);
}

static void heap_setup(hak_heap_t *h) {
    h->kind = HAK_HEAP_REAL;
    /* The sentinels keep zeros here: no offset passes, every free of
     * theirs takes the slow path. */
    memcpy(h->tc_recip, hak_class_recip, sizeof h->tc_recip);
    for (unsigned c = 1; c <= hak_class_count; c++) set_limit(h, c, first_limit(c));
    atomic_store_explicit(&h->last_active_us, hak_now_us(), memory_order_relaxed);
}

/* h's caches, empty, back to their first limits, and what they grew by
 * back to the budget. */
static void shrink_caches(hak_heap_t *h) {
    for (unsigned c = 1; c <= hak_class_count; c++) set_limit(h, c, first_limit(c));
    atomic_fetch_sub_explicit(&grown_bytes, h->grown_bytes, memory_order_relaxed);
    h->grown_bytes = 0;
}

const char *hak_stack_owner(const void *p, bool others) {
    hak_heap_t *self = hak_tls_heap;
    hak_stack_t here;
    hak_stack_t *mine = &self->stack;
    if (self->kind != HAK_HEAP_REAL) {
        /* No heap (yet, or in a slow path): notes taken now serve. */
        hak_stack_note(&here);
        mine = &here;
    }
    bool on_main = hak_on_main_stack(p);
    if (hak_stack_is_main(mine)) {
        if (on_main) return "this thread";
    } else if (!on_main && hak_stack_holds(mine, p, true)) {
        return "this thread";
    }
    if (!others) return NULL;
    if (on_main) return "another thread";
    /* Heaps are never unmapped and only ever added at the head: a walk
     * without the lock sees a consistent list. */
    for (hak_heap_t *h = __atomic_load_n(&heaps_all, __ATOMIC_ACQUIRE); h != NULL; h = h->next_all)
        if (h != self && !__atomic_load_n(&h->abandoned, __ATOMIC_RELAXED) &&
            hak_stack_holds(&h->stack, p, false))
            return "another thread";
    return NULL;
}

hak_heap_t *hak_heap_acquire(void) {
    hak_lock(&heaps_lock);
    hak_heap_t *h = heaps_abandoned;
    if (h != NULL) {
        __atomic_store_n(&heaps_abandoned, h->next_abandoned, __ATOMIC_RELAXED);
        __atomic_store_n(&h->abandoned, false, __ATOMIC_RELAXED); /* peeked unlocked */
        if (h->cache_kept) {
            h->cache_kept = false; /* its caches are ours now */
            atomic_fetch_sub_explicit(&heaps_kept, 1, memory_order_relaxed);
        }
    }
    hak_unlock(&heaps_lock);
    if (h == NULL) {
        h = hak_meta_alloc(HAK_META_HEAP);
        if (h == NULL) return NULL;
        heap_setup(h);
        hak_lock(&heaps_lock);
        h->next_all = heaps_all;
        __atomic_store_n(&heaps_all, h, __ATOMIC_RELEASE); /* walked unlocked */
        hak_unlock(&heaps_lock);
    }
    hak_stack_note(&h->stack);
    h->stamped_us = hak_now_us();
    atomic_store_explicit(&h->last_active_us, h->stamped_us, memory_order_relaxed);
    hak_heap_stat(h, HAK_S_threads_started, 1);
    hak_thread_register(h);
    return h;
}

/* ---- adoption --------------------------------------------------------- */

/* Publishes that h's thread is active now. */
static void stamp(hak_heap_t *h, uint64_t now) {
    uint64_t period = (uint64_t)hak_knob(IDLE_THRESHOLD_US) / 8;
    if (now - h->stamped_us < period) return;
    h->stamped_us = now;
    atomic_store_explicit(&h->last_active_us, now, memory_order_relaxed);
}

/* The time, for a slow path of h. A clock read costs tens of nanoseconds
 * in a VM, and a thread taking millions of slow paths a second needs one
 * far less often: the clock is read every clock_skip + 1 slow paths, a
 * number that doubles (up to 63) while readings come less than a
 * sixty-fourth of the idle threshold apart and drops to 0 once they come a
 * sixteenth apart; in between, the last reading serves. */
static uint64_t heap_clock(hak_heap_t *h) {
    if (h->clock_left > 0) {
        h->clock_left--;
        return h->clock_us;
    }
    uint64_t now = hak_now_us();
    uint64_t threshold = (uint64_t)hak_knob(IDLE_THRESHOLD_US);
    uint64_t gap = now - h->clock_us;
    if (gap < threshold / 64 && h->clock_skip < 63)
        h->clock_skip = h->clock_skip * 2 + 1;
    else if (gap >= threshold / 16)
        h->clock_skip = 0;
    h->clock_left = h->clock_skip;
    h->clock_us = now;
    return now;
}

static bool owner_idle(hak_heap_t *owner, uint64_t now) {
    uint64_t last = atomic_load_explicit(&owner->last_active_us, memory_order_relaxed);
    return now > last && now - last >= (uint64_t)hak_knob(IDLE_THRESHOLD_US);
}

/* Takes pg, just popped off the pending queue, for h (whose lock is held).
 * pg keeps its in_pending mark until whoever owns it clears it: an owner
 * never releases a marked page, so the descriptor stays valid while the
 * adopter looks at it. An orphan is taken by one CAS; a live idle owner's
 * page under that owner's lock, tried and never waited for (h holds its own
 * lock). A page whose owner is busy goes back on the queue. */
static bool adopt(hak_heap_t *h, hak_page_t *pg, uint64_t now) {
    hak_assert_locked(&h->lock);
    hak_heap_t *owner = atomic_load_explicit(&pg->owner, memory_order_acquire);
    if (owner == h) {
        atomic_store_explicit(&pg->in_pending, 0, memory_order_release);
        return false; /* ours already, and in our lists */
    }
    if (owner == NULL && atomic_compare_exchange_strong_explicit(
                             &pg->owner, &owner, h, memory_order_acq_rel, memory_order_acquire)) {
        atomic_store_explicit(&pg->in_pending, 0, memory_order_release);
    } else {
        if (!hak_trylock(&owner->lock)) {
            hak_pending_requeue(pg);
            return false;
        }
        bool ok = atomic_load_explicit(&pg->owner, memory_order_relaxed) == owner &&
                  owner_idle(owner, now);
        if (ok) {
            page_unlink(owner, pg);
            atomic_store_explicit(&pg->owner, h, memory_order_release);
        }
        atomic_store_explicit(&pg->in_pending, 0, memory_order_release);
        hak_unlock(&owner->lock);
        if (!ok) return false;
    }
    hak_page_drain(pg);
    hak_assert_deep(page_counts_hold(pg));
    hak_heap_stat(h, HAK_S_page_adopted, 1);
    return true;
}

/* An owner may give an empty page back to the OS layer only while no
 * adopter can be holding it. */
static bool page_releasable(const hak_page_t *pg) {
    return pg->used == 0 && !atomic_load_explicit(&pg->in_pending, memory_order_acquire);
}

/* A page of class cls from a heap whose thread has exited and that has
 * been idle past the threshold. h's lock is held, so every other lock is
 * only tried: a fork handler takes heaps_lock and then each heap's lock. */
static hak_page_t *steal_abandoned(hak_heap_t *h, unsigned cls, uint64_t now) {
    hak_assert_locked(&h->lock);
    if (__atomic_load_n(&heaps_abandoned, __ATOMIC_RELAXED) == NULL || !hak_trylock(&heaps_lock))
        return NULL;
    hak_page_t *got = NULL;
    int tries = 0;
    for (hak_heap_t *o = heaps_abandoned; o != NULL && got == NULL && tries < 4;
         o = o->next_abandoned, tries++) {
        if (!owner_idle(o, now) || !hak_trylock(&o->lock)) continue;
        return_kept(o, now);
        hak_page_t *pg = o->avail[cls].head != NULL ? o->avail[cls].head : o->full[cls].head;
        if (pg != NULL) {
            page_unlink(o, pg);
            atomic_store_explicit(&pg->owner, h, memory_order_release);
            got = pg;
        }
        hak_unlock(&o->lock);
    }
    hak_unlock(&heaps_lock);
    if (got == NULL) return NULL;
    hak_page_drain(got);
    hak_heap_stat(h, HAK_S_page_adopted, 1);
    bool room = page_has_room(got);
    page_link(h, got, room ? HAK_LIST_AVAIL : HAK_LIST_FULL, room);
    return room ? got : NULL;
}

/* Returns the cached blocks of every idle abandoned heap; h's lock is held,
 * so every other lock is only tried. A heap counts as idle one threshold
 * after its thread exited, so looking more often than once per threshold
 * would find next to nothing: whichever slow path comes first looks. */
static void reclaim_idle(uint64_t now) {
    if (atomic_load_explicit(&heaps_kept, memory_order_relaxed) == 0 ||
        now < atomic_load_explicit(&reclaim_due_us, memory_order_relaxed))
        return;
    atomic_store_explicit(&reclaim_due_us, now + (uint64_t)hak_knob(IDLE_THRESHOLD_US),
                          memory_order_relaxed);
    if (!hak_trylock(&heaps_lock)) return;
    for (hak_heap_t *o = heaps_abandoned; o != NULL; o = o->next_abandoned) {
        if (!o->cache_kept || !owner_idle(o, now) || !hak_trylock(&o->lock)) continue;
        return_kept(o, now);
        hak_unlock(&o->lock);
    }
    hak_unlock(&heaps_lock);
}

/* A page of class cls with room, for a refill; h's lock is held. */
static hak_page_t *find_page(hak_heap_t *h, unsigned cls, uint64_t now) {
    hak_assert_locked(&h->lock);
    /* 1. Full pages whose blocks came back through remote frees. */
    hak_page_list_t *full = &h->full[cls];
    for (long n = hak_knob(DRAIN_SCAN); n > 0 && full->head != NULL; n--) {
        hak_page_t *pg = full->head;
        unsigned got = hak_page_drain(pg);
        hak_heap_stat(h, HAK_S_drain, got ? 1 : 0);
        hak_heap_stat(h, HAK_S_drained_blocks, got);
        page_unlink(h, pg);
        if (got) {
            page_link(h, pg, HAK_LIST_AVAIL, true);
            hak_heap_stat(h, HAK_S_page_reused, 1);
            return pg;
        }
        page_link(h, pg, HAK_LIST_FULL, false); /* rotate: look at others next time */
    }
    /* 2. Pages of idle or exited owners. */
    for (int tries = 0; tries < 8; tries++) {
        hak_page_t *pg = hak_pending_pop(cls);
        if (pg == NULL) break;
        if (!adopt(h, pg, now)) continue;
        bool room = page_has_room(pg);
        page_link(h, pg, room ? HAK_LIST_AVAIL : HAK_LIST_FULL, room);
        if (room) return pg;
    }
    /* 3. Pages left on heaps of exited threads. */
    hak_page_t *stolen = steal_abandoned(h, cls, now);
    if (stolen != NULL) return stolen;
    /* 4. Before the footprint grows: blocks that exited threads left
     * cached, in heaps that no new thread has taken over for longer than
     * the idle threshold, go back to their pages (those that empty go to
     * the OS layer, where the fresh page comes from). */
    reclaim_idle(now);
    /* 5. A fresh page. */
    hak_page_t *pg = hak_page_new(h, cls);
    if (pg != NULL) page_link(h, pg, HAK_LIST_AVAIL, true);
    return pg;
}

/* ---- refill and flush ------------------------------------------------- */

/* Pages emptied by other threads' frees would otherwise stay on the full
 * lists until their class is needed again. Each slow path looks at a few
 * full pages of one class, round robin: it collects their remote frees,
 * gives empty pages back to the OS layer (which can reuse them for any
 * class) and puts pages with room back on the avail list. h's lock is held. */
static void sweep_class(hak_heap_t *h, unsigned c, long pages) {
    hak_assert_locked(&h->lock);
    hak_page_list_t *full = &h->full[c];
    for (; pages > 0 && full->head != NULL; pages--) {
        hak_page_t *pg = full->head;
        unsigned got = hak_page_drain(pg);
        if (got == 0) {
            list_remove(full, pg);
            list_push_back(full, pg);
            continue;
        }
        hak_heap_stat(h, HAK_S_drain, 1);
        hak_heap_stat(h, HAK_S_drained_blocks, got);
        page_unlink(h, pg);
        /* An empty page goes back to the OS layer only when the class has
         * a spare besides the page being carved: otherwise the next refill
         * would take a page from the OS layer right after this one went
         * there (a producer whose consumer returns every block would cycle
         * a page through the pool for every page of blocks). */
        hak_page_t *carving = h->avail[c].head;
        if (page_releasable(pg) && carving != NULL && carving->next != NULL) {
            hak_page_release(pg);
        } else {
            page_link(h, pg, HAK_LIST_AVAIL, false);
            hak_heap_stat(h, HAK_S_page_reused, 1);
        }
    }
}

/* The next class, round robin, that has full pages at all. */
static void sweep(hak_heap_t *h, uint64_t now) {
    /* Also in a program whose remaining threads never need a fresh page
     * (find_page's step 4), exited threads' cached blocks go back. */
    reclaim_idle(now);
    for (unsigned i = 0; i < hak_class_count; i++) {
        if (++h->sweep_cls > hak_class_count) h->sweep_cls = 1;
        if (h->full[h->sweep_cls].head != NULL) {
            sweep_class(h, h->sweep_cls, SWEEP_PAGES);
            return;
        }
    }
}

/* After a refill took blocks from pg: a page with nothing left collects its
 * remote frees, or else waits on the full list. */
static void page_settle(hak_heap_t *h, hak_page_t *pg) {
    hak_assert_deep(page_counts_hold(pg));
    if (page_has_room(pg)) return;
    unsigned drained = hak_page_drain(pg);
    if (drained) {
        hak_heap_stat(h, HAK_S_drain, 1);
        hak_heap_stat(h, HAK_S_drained_blocks, drained);
    } else {
        page_unlink(h, pg);
        page_link(h, pg, HAK_LIST_FULL, false);
    }
}

/* A cache that overflows and also runs empty is one whose class this
 * thread frees and allocates in runs longer than the cache (Larson's random
 * walk of sizes, a server handling requests of one size): each overflow
 * flushes half the cache to its pages and the next underflow refills it
 * from them, a cache miss for every block moved. Doubling the cache, once
 * per such cycle, makes the runs fit; so does a cache that keeps running
 * empty into pages with more free blocks than it takes (a producer,
 * hak_heap_refill). A cache that only overflows belongs to a thread that
 * frees what others allocate (a consumer), and a cache beyond tcache_bytes
 * would only hoard their blocks; but below that bound a flush of 33 blocks
 * costs the consumer as much again as freeing them (prodcons with batches
 * of a thousand 64 B blocks: twice as fast when it grows), so it grows to
 * tcache_bytes' worth, where its first limit was set by tcache_count. */
bool hak_heap_grow(hak_heap_t *h, unsigned cls) {
    uint32_t cur = h->hard_limit[cls];
    size_t bytes =
        (size_t)(h->tc_refilled[cls] ? hak_knob(TCACHE_MAX_BYTES) : hak_knob(TCACHE_BYTES));
    size_t max = bytes / hak_class_size[cls];
    if (max > TC_LIMIT_MAX) max = TC_LIMIT_MAX;
    if (cur >= max) return false;
    uint32_t next = cur * 2 < max ? cur * 2 : (uint32_t)max;
    /* All caches together grow by at most tcache_grow_pct of the pool's
     * memory in use, so that they cost a bounded share of a program's
     * footprint however many threads it runs and however long; counted as
     * if the pool held HAK_TC_GROW_BASE more, or a small program's few threads
     * could not grow their caches at all (prodcons, 4 threads in 3 MiB of
     * pages: 10 % of that let one of its four caches grow, and ran at a
     * third of the speed). The check and the add are not one step: racing
     * threads may overshoot by a doubling each. */
    uint64_t delta = (uint64_t)(next - cur) * hak_class_size[cls];
    uint64_t budget =
        (hak_pool_bytes_live() + HAK_TC_GROW_BASE) / 100 * (uint64_t)hak_knob(TCACHE_GROW_PCT);
    if (atomic_load_explicit(&grown_bytes, memory_order_relaxed) + delta > budget) return false;
    atomic_fetch_add_explicit(&grown_bytes, delta, memory_order_relaxed);
    h->grown_bytes += delta;
    h->tc_refilled[cls] = false;
    set_limit(h, cls, next);
    hak_heap_stat(h, HAK_S_cache_grown, 1);
    return true;
}

/* ---- full caches set aside ------------------------------------------ */

/* A thread that frees a long run of blocks of one class and then
 * allocates as many again (a tree dropped and rebuilt, one request's
 * objects freed and the next one's made) overflows its cache every limit's
 * worth of frees and empties it every limit's worth of allocations. Each
 * flush walks what it gives back, one dependent load a block, on lines
 * that have left L1 by then, and each refill walks the page lists again:
 * bintree spent a third of its time there (0.69x mimalloc). Larger caches
 * were no cure: a cache of thousands still overflows on a longer run, and
 * its flush then walks colder lines still (with limits up to a million
 * blocks, bintree ran at 0.5x to 1.3x of the flushing cache as the growth
 * budget went from 10 % to 50 %, and not in that order).
 *
 * So a full cache of a class the thread also allocates (it ran empty since
 * it last grew) is set aside whole: its list and count move in O(1), no
 * block is read, and an empty cache takes the last list set aside before it
 * looks at pages. A list's link to the one set aside before it and its
 * count live in its head block's third and fourth words, so classes under
 * 32 bytes flush as before. What is set aside counts as cached; a class
 * keeps at most tcache_max_bytes of it; and once a release delay, the
 * oldest lists the thread did not need in all that time (the fewest blocks
 * set aside since the last look) go back to their pages, as every other
 * tier gives back what stays unused; all of it goes back when a refill
 * finds no page to be had. */
typedef struct {
    hak_block_t block;
    hak_block_t *below; /* the list set aside before this one */
    uintptr_t count;    /* blocks on this list */
} parked_t;

static void set_parked(hak_heap_t *h, unsigned cls, uint32_t n) {
    __atomic_store_n(&h->parked[cls], n, __ATOMIC_RELAXED); /* the stats read it */
}

/* The list set aside below p, checked before it is followed: the words
 * that link lists are ones a write after free could have changed, and
 * hakmem must not follow a wild pointer for it. */
static hak_block_t *parked_below(const parked_t *p, unsigned cls, uint32_t parked) {
    const uint8_t *b = (const uint8_t *)p->below;
    uintptr_t e = b != NULL ? hak_registry_get(b) : 0;
    const hak_page_t *pg = (const hak_page_t *)(e & ~HAK_REG_CLASS_MASK);
    if (p->block.key != HAK_FREE_KEY || p->count == 0 || p->count > parked ||
        (b != NULL && ((e & HAK_REG_CLASS_MASK) != cls || b < pg->base || b >= pg->end ||
                       (size_t)(b - pg->base) % pg->block_size != 0)))
        hak_bad_free_block(&p->block, "a cache set aside");
    return p->below;
}

static bool park(hak_heap_t *h, unsigned cls) {
    uint32_t count = hak_tc_count(h, cls);
    uint64_t size = hak_class_size[cls];
    if (size < sizeof(parked_t) || !h->tc_refilled[cls] || count == 0 ||
        hak_knob(RELEASE_DELAY_MS) == 0 ||
        ((uint64_t)h->parked[cls] + count) * size > (uint64_t)hak_knob(TCACHE_MAX_BYTES))
        return false;
    parked_t *top = (parked_t *)h->tc_head[cls];
    top->below = h->park[cls];
    top->count = count;
    h->park[cls] = &top->block;
    set_parked(h, cls, h->parked[cls] + count);
    h->tc_head[cls] = NULL;
    hak_tc_set_count(h, cls, 0);
    hak_heap_stat(h, HAK_S_cache_parked, 1);
    return true;
}

/* Makes the last list set aside h's cache of class cls, which is empty. */
static bool unpark(hak_heap_t *h, unsigned cls) {
    parked_t *top = (parked_t *)h->park[cls];
    if (top == NULL) return false;
    h->park[cls] = parked_below(top, cls, h->parked[cls]);
    /* Limits shrink only once nothing is set aside (shrink_caches). */
    hak_assert(top->count <= hak_tc_limit(h, cls) && hak_tc_count(h, cls) == 0);
    set_parked(h, cls, h->parked[cls] - (uint32_t)top->count);
    if (h->parked[cls] < h->park_low[cls]) h->park_low[cls] = h->parked[cls];
    h->tc_head[cls] = &top->block;
    hak_tc_set_count(h, cls, (uint32_t)top->count);
    return true;
}

/* Gives the lists from p down back to their pages; h's lock is held. */
static void parked_return(hak_heap_t *h, unsigned cls, parked_t *p, uint32_t blocks, uint64_t now) {
    while (p != NULL) {
        parked_t *below = (parked_t *)parked_below(p, cls, blocks);
        uint32_t count = (uint32_t)p->count;
        blocks -= count;
        hak_counter_add(&h->tc_nflush[cls], count);
        if (give_back(h, &p->block, count, now) != NULL) cache_runs_on(cls, count);
        p = below;
    }
}

/* Everything set aside, back to its pages: at exit, and when no page is
 * to be had (a refill out of memory while other classes hold blocks
 * aside). h's lock is held; true when there was any. */
static bool park_drop_all(hak_heap_t *h, uint64_t now) {
    hak_assert_locked(&h->lock);
    bool any = false;
    for (unsigned c = 1; c <= hak_class_count; c++) {
        parked_t *p = (parked_t *)h->park[c];
        if (p == NULL) continue;
        any = true;
        uint32_t blocks = h->parked[c];
        h->park[c] = NULL;
        set_parked(h, c, 0);
        h->park_low[c] = 0;
        hak_heap_stat(h, HAK_S_parked_returned, blocks);
        parked_return(h, c, p, blocks, now);
    }
    return any;
}

/* Once a release delay: what the thread has kept aside all that time goes
 * back to its pages. */
static void park_decay(hak_heap_t *h, uint64_t now) {
    if (now - h->park_seen_us < (uint64_t)hak_knob(RELEASE_DELAY_MS) * 1000) return;
    h->park_seen_us = now;
    for (unsigned c = 1; c <= hak_class_count; c++) {
        /* Lists leave from the top only: those the fewest covered were
         * never taken. */
        parked_t *p = (parked_t *)h->park[c], *above = NULL;
        uint32_t left = h->parked[c];
        while (p != NULL && left > h->park_low[c]) {
            parked_t *below = (parked_t *)parked_below(p, c, left);
            left -= (uint32_t)p->count;
            above = p;
            p = below;
        }
        if (p != NULL) {
            if (above != NULL)
                above->below = NULL;
            else
                h->park[c] = NULL;
            set_parked(h, c, h->parked[c] - left);
            hak_heap_stat(h, HAK_S_parked_returned, left);
            hak_lock(&h->lock);
            parked_return(h, c, p, left, now);
            hak_unlock(&h->lock);
        }
        h->park_low[c] = h->parked[c];
    }
}

void *hak_heap_refill(hak_heap_t *h, unsigned cls) {
    if (unpark(h, cls)) {
        h->tc_refilled[cls] = true;
        park_decay(h, heap_clock(h));
        hak_block_t *b = h->tc_head[cls];
        h->tc_head[cls] = b->next;
        hak_tc_set_count(h, cls, hak_tc_count(h, cls) - 1);
        return b;
    }
    uint32_t limit = hak_tc_limit(h, cls);
    unsigned want = limit / 2 + 1;
    hak_block_t *head = NULL;
    unsigned got = 0;
    uint64_t now = heap_clock(h);

    hak_lock(&h->lock);
    stamp(h, now);
    while (got < want) {
        hak_page_t *pg = h->avail[cls].head;
        if (pg == NULL) pg = find_page(h, cls, now);
        /* Out of memory, with blocks of other classes set aside: those go
         * back first, and the pages they empty serve this class. */
        if (pg == NULL && got == 0 && park_drop_all(h, now)) pg = find_page(h, cls, now);
        if (pg == NULL) break;
        /* A page with more free blocks than the cache takes at once,
         * reached by a cache that ran empty again: a producer, whose
         * blocks come back through other threads' frees in long lists.
         * Walking a part of such a list would take a cache miss per block
         * on another CPU's lines, one after another (prodcons with
         * batches of a thousand: 4.5 times slower), where the whole list
         * moves in one step and each block is met only when the program
         * takes it, its miss overlapping the program's work. So such a
         * cache grows, as one that overflows and runs empty does. */
        if (got == 0 && pg->nfree > limit && hak_heap_grow(h, cls)) {
            limit = hak_tc_limit(h, cls);
            want = limit / 2 + 1;
        }
        if (got == 0 && pg->nfree != 0 && pg->nfree <= limit) {
            /* The whole free list in one move, and enough for now: walking
             * it would touch every block, a cache miss each for mid-size
             * blocks, and its tail is unknown, so nothing can follow it. */
            head = pg->free;
            got = pg->nfree;
            pg->used += pg->nfree;
            pg->free = NULL;
            pg->nfree = 0;
            page_settle(h, pg);
            break;
        }
        while (got < want && pg->free != NULL) {
            hak_block_t *b = pg->free;
            pg->free = b->next;
            pg->nfree--;
            b->next = head;
            head = b;
            got++;
            pg->used++;
        }
        /* Carving writes a link into each block, which makes its first
         * 4 KiB resident: a program that wants one 8 KiB block must not
         * get five of them committed. Fresh blocks come CARVE_BYTES at a
         * time (at least one), and only a granule's worth on a heap's
         * first refill of the class: a small program touches a page of
         * each of its many classes, and uses most of them for few blocks. */
        size_t carve_max = hak_counter_get(&h->tc_nrefill[cls]) == 0 ? HAK_GRANULE : CARVE_BYTES;
        size_t bs = pg->block_size;
        size_t k = (size_t)(pg->end - pg->bump) / bs;
        if (k > want - got) k = want - got;
        if (k > (carve_max + bs - 1) / bs) k = (carve_max + bs - 1) / bs;
        if (k > 0) {
            /* Linked in address order, in one pass of stores the hardware
             * streams, and the bump pointer (read unlocked by other
             * threads' frees, check_block_start) stored once: a store per
             * block to the descriptor cost as much as the links. */
            uint8_t *first = pg->bump;
            uint8_t *last = first + (k - 1) * bs;
            for (uint8_t *p = first; p < last; p += bs)
                *(hak_block_t *)p = (hak_block_t){(hak_block_t *)(p + bs), HAK_FREE_KEY};
            *(hak_block_t *)last = (hak_block_t){head, HAK_FREE_KEY};
            head = (hak_block_t *)first;
            __atomic_store_n(&pg->bump, last + bs, __ATOMIC_RELAXED);
            got += (unsigned)k;
            pg->used += (uint32_t)k;
        }
        page_settle(h, pg);
        if (k * bs >= carve_max) break;
    }
    sweep(h, now);
    hak_unlock(&h->lock);
    park_decay(h, now);
    hak_large_expire(now);
    hak_os_expire(now);
    hak_purge_start();
    hak_assert(got <= limit && (head == NULL) == (got == 0));
    if (head == NULL) return NULL;
    h->tc_head[cls] = head->next;
    hak_tc_set_count(h, cls, got - 1);
    hak_counter_add(&h->tc_nrefill[cls], got);
    h->tc_refilled[cls] = true;
    return head;
}

/* Returns a chain of blocks of pg that h owns to the page; h's lock is held. */
static void give_back_local(hak_heap_t *h, hak_page_t *pg, hak_block_t *first, hak_block_t *last,
                            unsigned n) {
    hak_assert_locked(&h->lock);
    hak_assert(atomic_load_explicit(&pg->owner, memory_order_relaxed) == h && n <= pg->used);
    last->next = pg->free;
    pg->free = first;
    pg->nfree += n;
    pg->used -= n;
    hak_assert_deep(page_counts_hold(pg));
    if (page_releasable(pg) && h->avail[pg->cls].head != pg) {
        /* Empty and not the page being carved: back to the OS layer, which
         * pools it for any class. */
        page_unlink(h, pg);
        hak_page_release(pg);
        return;
    }
    if (pg->list == HAK_LIST_FULL) {
        page_unlink(h, pg);
        page_link(h, pg, HAK_LIST_AVAIL, false);
    }
}

static void give_back_remote(hak_heap_t *h, hak_page_t *pg, hak_block_t *first, hak_block_t *last,
                             unsigned n, uint64_t now) {
    hak_heap_t *owner = atomic_load_explicit(&pg->owner, memory_order_acquire);
    if (owner != NULL && owner != h && __atomic_load_n(&owner->abandoned, __ATOMIC_RELAXED) &&
        hak_trylock(&owner->lock)) {
        /* A page of an exited thread: nobody drains it until a new thread
         * takes the heap over or a thread of its class adopts it, so the
         * memory of a thread that allocated and died would stay out of
         * reach of every other size. Under the heap's lock these blocks go
         * back as its owner's would, and the page goes to the OS layer the
         * moment it is empty. (A thread that has just taken the heap over
         * is no matter: its page lists are touched only under this lock.) */
        bool ours = atomic_load_explicit(&pg->owner, memory_order_relaxed) == owner;
        if (ours) {
            give_back_local(owner, pg, first, last, n);
            if (h != NULL) hak_heap_stat(h, HAK_S_remote_free, n);
        }
        hak_unlock(&owner->lock);
        if (ours) return;
    }
    /* An owner idle too long gets its page offered to threads that
     * need one. Decided before the push: until our blocks are on the page,
     * the page cannot become empty and be released under us. */
    if (owner != NULL && owner != h &&
        !atomic_load_explicit(&pg->in_pending, memory_order_relaxed) && owner_idle(owner, now))
        hak_pending_push(pg);
    if (h != NULL) hak_heap_stat(h, HAK_S_remote_free, n);
    hak_page_push_remote(pg, first, last, n);
}

/* Returns the first `count` blocks of `list` (all of them, if it is
 * shorter) to their pages, one push per run of blocks of the same page, and
 * returns what follows them: a flush walks the cache once to check it and
 * once to give it back, the second time through lines the first brought
 * in. h may be NULL (a thread without a heap); if not, its lock is held.
 *
 * The check: a double free the free fast path let in links its block into
 * the cache a second time, which closes the list into a loop through it,
 * and walking that loop would give the same blocks back twice, so that a
 * page would count itself empty under live blocks and be released. So the
 * first walk marks each block (the key with one bit flipped) and a block
 * met marked is the one freed twice; the second restores the key. */
static hak_block_t *give_back(hak_heap_t *h, hak_block_t *list, unsigned count, uint64_t now) {
    if (h != NULL) hak_assert_locked(&h->lock);
    const uintptr_t key = HAK_FREE_KEY, mark = key ^ 2;
    hak_block_t *x = list;
    for (unsigned i = 0; i < count && x != NULL; i++, x = x->next) {
        if (hak_unlikely(x->key != key)) {
            if (x->key == mark) hak_fatal("double free of %p", (void *)x);
            hak_bad_free_block(x, "a cache flush");
        }
        x->key = mark;
    }
    while (count > 0 && list != NULL) {
        hak_page_t *pg = (hak_page_t *)(hak_registry_get(list) & ~HAK_REG_CLASS_MASK);
        hak_block_t *first = list, *last = list;
        unsigned n = 1;
        list->key = key;
        list = list->next;
        count--;
        /* A page is the 64 KiB from its base, aligned or not: a subtraction
         * tells a run's next block from the next page's without a lookup. */
        uintptr_t base = (uintptr_t)pg->base;
        while (count > 0 && list != NULL && (uintptr_t)list - base < HAK_PAGE_SIZE) {
            list->key = key;
            last = list;
            list = list->next;
            n++;
            count--;
        }
        last->next = NULL;
        if (h != NULL && atomic_load_explicit(&pg->owner, memory_order_relaxed) == h) {
            give_back_local(h, pg, first, last, n);
            hak_heap_stat(h, HAK_S_owner_free, n);
        } else
            give_back_remote(h, pg, first, last, n, now);
    }
    return list;
}

/* A full cache gives back half of itself, the newest blocks, and keeps the
 * rest for the thread's next allocations. A thread that allocated nothing
 * of the class since the cache last overflowed has no use for that rest: a
 * consumer, freeing what others made. Kept, half of every such cache would
 * sit idle, and its oldest blocks would never leave it at all, holding
 * their pages from the producer (prodcons: 1.2-1.4 MiB of cached blocks per
 * consumer, 0.8 when it all goes). Whole flushes also hand the producer
 * lists twice as long, and older: handoff (batches of a thousand 64 B
 * blocks) ran about twice as fast, its producer's malloc waiting on the
 * line of the block it takes in 5 % of the samples instead of 26 %. So
 * such a cache goes back whole. A cache set aside (park) counts as an
 * overflow too. */
void hak_heap_flush(hak_heap_t *h, unsigned cls, hak_block_t *extra) {
    unsigned count = hak_tc_count(h, cls);
    hak_assert(count <= hak_tc_limit(h, cls));
    uint64_t now = heap_clock(h);
    unsigned n = 0;
    uint64_t nalloc = h->tc_nalloc[cls];
    bool allocated = nalloc != h->tc_nalloc_seen[cls];
    h->tc_nalloc_seen[cls] = nalloc;
    if (park(h, cls)) {
        stamp(h, now);
    } else {
        n = allocated ? count / 2 + 1 : count;
        if (n > count) n = count;
        hak_tc_set_count(h, cls, count - n);
        hak_counter_add(&h->tc_nflush[cls], n);
    }
    if (n > 0) {
        hak_lock(&h->lock);
        stamp(h, now);
        hak_block_t *rest = give_back(h, h->tc_head[cls], n, now);
        /* All of it went: a list running on was written to after free. */
        if (n == count && rest != NULL) cache_runs_on(cls, count);
        h->tc_head[cls] = rest;
        sweep(h, now);
        hak_unlock(&h->lock);
    }
    park_decay(h, now);
    hak_large_expire(now);
    hak_os_expire(now);
    hak_purge_start();
    if (extra != NULL) {
        extra->next = h->tc_head[cls];
        h->tc_head[cls] = extra;
        h->tc_room[cls]--;
    }
}

void hak_heap_free_unowned(hak_page_t *pg, hak_block_t *b) {
    (void)pg;
    b->next = NULL;
    give_back(NULL, b, 1, hak_now_us());
}

/* ---- checks of a whole cache ------------------------------------------ */

/* The first block met twice on a list that loops: the block freed twice,
 * since its second free linked it ahead of where it already was (Floyd's
 * walk). NULL if the list ends within `bound` steps. */
static const hak_block_t *loop_entry(const hak_block_t *list, uint32_t bound) {
    const hak_block_t *slow = list, *fast = list;
    do {
        if (fast == NULL || fast->next == NULL || bound-- == 0) return NULL;
        slow = slow->next;
        fast = fast->next->next;
    } while (slow != fast);
    for (slow = list; slow != fast; slow = slow->next) fast = fast->next;
    return slow;
}

/* A cache whose list goes on past its count without looping: it ran into
 * another list (a page's, which a double free linked it to). */
_Noreturn static void cache_runs_on(unsigned cls, unsigned count) {
    hak_fatal("the cache of %u-byte blocks runs on beyond its %u blocks: "
              "a double free, or a write after free",
              (unsigned)hak_class_size[cls], count);
}

/* Checks one list of count cached blocks; whether b is on it. */
static bool check_list(const hak_block_t *list, uint32_t count, unsigned cls,
                       const hak_block_t *b) {
    const hak_block_t *x = list;
    bool found = false;
    for (uint32_t i = 0; i < count && x != NULL; i++, x = x->next) {
        if (x->key != HAK_FREE_KEY) hak_bad_free_block(x, "a check of the thread's cache");
        found |= x == b;
    }
    if (x != NULL) {
        const hak_block_t *twice = loop_entry(list, 2 * count + 2);
        if (twice != NULL) hak_fatal("double free of %p", (const void *)twice);
        cache_runs_on(cls, count);
    }
    return found;
}

bool hak_heap_check_cache(hak_heap_t *h, unsigned cls, const hak_block_t *b) {
    bool found = check_list(h->tc_head[cls], hak_tc_count(h, cls), cls, b);
    uint32_t left = h->parked[cls];
    for (const parked_t *p = (const parked_t *)h->park[cls]; p != NULL;) {
        const parked_t *below = (const parked_t *)parked_below(p, cls, left);
        found |= check_list(&p->block, (uint32_t)p->count, cls, b);
        left -= (uint32_t)p->count;
        p = below;
    }
    return found;
}

/* The fast path lets a double free in (hak_block_t): malloc finds it when
 * it would hand the block out again. A program that ends first is told at
 * exit, from the exiting thread's caches (other threads' are checked when
 * their blocks go back whole, cache_return_all). */
__attribute__((destructor)) static void check_caches_at_exit(void) {
    hak_heap_t *h = hak_tls_heap;
    if (!hak_ready() || h->kind != HAK_HEAP_REAL) return;
    for (unsigned c = 1; c <= hak_class_count; c++) hak_heap_check_cache(h, c, NULL);
}

/* ---- thread exit ------------------------------------------------------ */

/* Returns every cached block of h to its page; true when there was any.
 * h's lock is held, and its caches belong to the caller: h's own thread, or
 * a thread holding heaps_lock over an abandoned h, which no new thread can
 * then take over. give_back's walk finds a block linked twice (a loop
 * within the count); a list that goes on past the count is reported
 * after. */
static bool cache_return_all(hak_heap_t *h, uint64_t now) {
    hak_assert_locked(&h->lock);
    bool any = false;
    for (unsigned c = 1; c <= hak_class_count; c++) {
        hak_block_t *list = h->tc_head[c];
        if (list == NULL) continue;
        any = true;
        unsigned count = hak_tc_count(h, c);
        hak_counter_add(&h->tc_nflush[c], count);
        h->tc_head[c] = NULL;
        hak_tc_set_count(h, c, 0);
        if (give_back(h, list, count, now) != NULL) cache_runs_on(c, count);
    }
    return park_drop_all(h, now) || any;
}

/* An exiting thread leaves its caches in its heap. Under thread churn a new
 * thread takes the heap over within moments (Larson starts one every
 * 10,000 operations), and returning a few hundred blocks to their pages,
 * only for the next thread to refill empty caches from pages again, cost a
 * sixth of Larson's throughput. Blocks left this way are not lost: once the
 * heap has waited past the idle threshold, they go back to their pages when
 * a thread looks for a page of their class (steal_abandoned) or is about to
 * take a fresh one (reclaim_idle), from any slow path at most once per
 * threshold (sweep), and at once under memory pressure (hak_heaps_reclaim). */
static void retire(hak_heap_t *h) {
    uint64_t now = hak_now_us();
    hak_lock(&h->lock);
    for (unsigned c = 1; c <= hak_class_count; c++) sweep_class(h, c, SWEEP_PAGES);
    hak_unlock(&h->lock);
    /* Idle from now: adopters measure the threshold from the exit. */
    h->stamped_us = now;
    atomic_store_explicit(&h->last_active_us, now, memory_order_relaxed);
}

static void abandon(hak_heap_t *h) {
    hak_heap_stat(h, HAK_S_threads_exited, 1);
    bool kept = false;
    for (unsigned c = 1; c <= hak_class_count && !kept; c++)
        kept = h->tc_head[c] != NULL || h->park[c] != NULL;
    /* Empty caches have nothing for the next thread: their growth goes
     * back to the budget now, or it would stay spent until a new thread
     * takes this heap over. */
    if (!kept) shrink_caches(h);
    hak_lock(&heaps_lock);
    h->cache_kept = kept;
    if (kept) atomic_fetch_add_explicit(&heaps_kept, 1, memory_order_relaxed);
    __atomic_store_n(&h->abandoned, true, __ATOMIC_RELAXED);
    h->next_abandoned = heaps_abandoned;
    __atomic_store_n(&heaps_abandoned, h, __ATOMIC_RELAXED); /* peeked unlocked */
    hak_unlock(&heaps_lock);
}

void hak_heap_thread_exit(void *arg) {
    hak_heap_t *h = arg;
    /* Safe to run twice: a destructor that runs after ours may allocate and
     * so take a heap again, which re-registers the key and brings us back. */
    if (h == NULL || h->kind != HAK_HEAP_REAL || h->abandoned || hak_tls_heap != h) return;
    hak_tls_heap = &hak_heap_busy;
    retire(h);
    abandon(h);
    hak_tls_heap = &hak_heap_dead;
}

/* Returns the blocks an exited thread left cached in o; heaps_lock and
 * o's lock are held. */
static void return_kept(hak_heap_t *o, uint64_t now) {
    hak_assert_locked(&heaps_lock);
    hak_assert_locked(&o->lock);
    if (!o->cache_kept) return;
    cache_return_all(o, now);
    shrink_caches(o); /* a stale heap gives its growth back */
    o->cache_kept = false;
    atomic_fetch_sub_explicit(&heaps_kept, 1, memory_order_relaxed);
}

/* The calling thread's part of hak_trim: its caches and the lists it set
 * aside back to their pages, the remote frees waiting on its full pages
 * collected, and the pages that emptied given to the OS layer (but up to
 * two a class, the one it carves from and a spare, as every flush keeps:
 * the next malloc of the class would take a page again at once); then what
 * exited threads left cached, if no other thread holds their list (the
 * reclaim only tries its lock). Another live thread's caches are its own,
 * and stay, as do blocks other threads freed into pages with room. The
 * caller marked the thread busy. */
void hak_heap_trim(hak_heap_t *h) {
    if (h->kind == HAK_HEAP_REAL) {
        hak_lock(&h->lock);
        cache_return_all(h, hak_now_us());
        for (unsigned c = 1; c <= hak_class_count; c++) {
            long pages = 0;
            for (hak_page_t *pg = h->full[c].head; pg != NULL; pg = pg->next) pages++;
            sweep_class(h, c, pages); /* each full page looked at once */
        }
        hak_unlock(&h->lock);
    }
    hak_heaps_reclaim();
}

bool hak_heaps_reclaim(void) {
    if (!hak_trylock(&heaps_lock)) return false;
    bool any = false;
    uint64_t now = hak_now_us();
    for (hak_heap_t *o = heaps_abandoned; o != NULL; o = o->next_abandoned) {
        if (!o->cache_kept || !hak_trylock(&o->lock)) continue;
        any = true;
        return_kept(o, now);
        hak_unlock(&o->lock);
    }
    hak_unlock(&heaps_lock);
    return any;
}

/* ---- fork and stats --------------------------------------------------- */

void hak_heaps_lock_all(void) {
    hak_lock(&heaps_lock);
    for (hak_heap_t *h = heaps_all; h != NULL; h = h->next_all) hak_lock(&h->lock);
}

void hak_heaps_unlock_all(bool child) {
    if (!child) {
        for (hak_heap_t *h = heaps_all; h != NULL; h = h->next_all) hak_unlock(&h->lock);
        hak_unlock(&heaps_lock);
        return;
    }
    /* In the child only this thread lives on. The other threads' heaps are
     * abandoned so their pages can be adopted; their caches are dropped, not
     * flushed: a thread may have been half-way through a cache operation
     * when the parent forked. */
    hak_lock_reset(&heaps_lock);
    hak_heap_t *self = hak_tls_heap;
    for (hak_heap_t *h = heaps_all; h != NULL; h = h->next_all) {
        hak_lock_reset(&h->lock);
        if (h == self || h->abandoned) continue;
        for (unsigned c = 1; c <= hak_class_count; c++) {
            /* Dropped, as if flushed: they were freed. */
            hak_counter_add(&h->tc_nflush[c], hak_tc_count(h, c));
            h->tc_head[c] = NULL;
            hak_tc_set_count(h, c, 0);
            hak_counter_add(&h->tc_nflush[c], h->parked[c]);
            h->park[c] = NULL;
            set_parked(h, c, 0);
            h->park_low[c] = 0;
        }
        abandon(h);
    }
    /* A thread may have forked between a growth's two adds: the budget is
     * what the heaps hold. */
    uint64_t grown = 0;
    for (hak_heap_t *h = heaps_all; h != NULL; h = h->next_all) grown += h->grown_bytes;
    atomic_store_explicit(&grown_bytes, grown, memory_order_relaxed);
}

void hak_heaps_sum(uint64_t out[HAK_STAT_COUNT]) {
    uint64_t tiers[2][4] = {{0}};
    hak_lock(&heaps_lock);
    for (hak_heap_t *h = heaps_all; h != NULL; h = h->next_all) {
        for (unsigned i = 0; i < HAK_STAT_COUNT; i++) out[i] += hak_counter_get(&h->stats[i]);
        for (unsigned c = 1; c <= hak_class_count; c++) {
            /* in (refills, frees) = out (allocations, flushes) + what is
             * cached; the owner may be moving all four meanwhile, so a
             * report taken while it runs can be off by a few blocks. */
            uint64_t nalloc = hak_counter_get(&h->tc_nalloc[c]);
            uint64_t out = nalloc + hak_counter_get(&h->tc_nflush[c]) +
                           (uint32_t)((int64_t)__atomic_load_n(&h->tc_limit[c], __ATOMIC_RELAXED) -
                                      hak_counter_get_i32(&h->tc_room[c])) +
                           __atomic_load_n(&h->parked[c], __ATOMIC_RELAXED);
            uint64_t in = hak_counter_get(&h->tc_nrefill[c]);
            tiers[0][hak_class_tier[c]] += nalloc;
            tiers[1][hak_class_tier[c]] += out > in ? out - in : 0;
        }
    }
    hak_unlock(&heaps_lock);
    out[HAK_S_tiny_alloc] += tiers[0][HAK_TIER_TINY];
    out[HAK_S_mid_alloc] += tiers[0][HAK_TIER_MID];
    out[HAK_S_tiny_free] += tiers[1][HAK_TIER_TINY];
    out[HAK_S_mid_free] += tiers[1][HAK_TIER_MID];
    uint64_t small_alloc = tiers[0][HAK_TIER_TINY] + tiers[0][HAK_TIER_MID];
    uint64_t small_free = tiers[1][HAK_TIER_TINY] + tiers[1][HAK_TIER_MID];
    /* Read while other threads count: never let a lagging total wrap. */
    out[HAK_S_fast_alloc] =
        small_alloc > out[HAK_S_slow_alloc] ? small_alloc - out[HAK_S_slow_alloc] : 0;
    out[HAK_S_fast_free] =
        small_free > out[HAK_S_slow_free] ? small_free - out[HAK_S_slow_free] : 0;
}
