/* pool.c — the MF2 page pool behind the tiny and mid tiers: 64 KiB pages
 * carved into blocks of one size class, each page owned by one thread heap.
 *
 * What lives here is what a page does on its own: being born from the OS
 * layer and registered, taking other threads' frees on its remote list with
 * one atomic push, giving them to its owner in one exchange (a drain), being
 * released when empty, and waiting on the pending queue for a new owner when
 * its owner is idle or has exited. Which heap owns a
 * page, and the owner's lists, belong to heap.c. */
#include "internal.h"

typedef struct {
    hak_lock_t lock;
    hak_page_t *head, *tail; /* FIFO: the oldest pages have had most time
                                to collect remote frees */
} pending_t;

static pending_t pending[HAK_CLASS_MAX];
static _Atomic(uint64_t) pages_live; /* carved and not released */

uint64_t hak_pool_bytes_live(void) {
    return atomic_load_explicit(&pages_live, memory_order_relaxed) * HAK_PAGE_SIZE;
}

hak_page_t *hak_page_new(hak_heap_t *h, unsigned cls) {
    uint8_t had;
    uint8_t *mem = hak_os_page_alloc(cls, &had);
    if (mem == NULL) return NULL;
    hak_page_t *pg = hak_meta_alloc(HAK_META_PAGE);
    if (pg == NULL) {
        hak_os_page_unused(mem, had);
        return NULL;
    }
    uint32_t bs = hak_class_size[cls];
    pg->base = mem;
    pg->block_size = bs;
    pg->capacity = (uint32_t)(HAK_PAGE_SIZE / bs);
    pg->bump = mem;
    pg->end = mem + (size_t)pg->capacity * bs;
    pg->cls = (uint8_t)cls;
    pg->os_tag = hak_os_tag_after(had, cls);
    atomic_store_explicit(&pg->owner, h, memory_order_relaxed);
    /* The page map may need a new leaf, and memory may be short: give back
     * what the pools and caches hold, as for the page itself, and try once
     * more. */
    bool registered = hak_registry_set_page(mem, (uintptr_t)pg | cls);
    if (!registered && hak_os_reclaim())
        registered = hak_registry_set_page(mem, (uintptr_t)pg | cls);
    if (!registered) {
        /* A relaxed page may straddle two leaves, one of them set. */
        hak_registry_set_page(mem, 0);
        hak_meta_free(HAK_META_PAGE, pg);
        hak_os_page_unused(mem, had);
        return NULL;
    }
    hak_heap_stat(h, HAK_S_page_new, 1);
    atomic_fetch_add_explicit(&pages_live, 1, memory_order_relaxed);
    return pg;
}

void hak_page_release(hak_page_t *pg) {
    /* Unregister first: from here on a stray free of a block of this page
     * is no longer taken for ours. */
    hak_registry_set_page(pg->base, 0);
    hak_os_page_free(pg->base, pg->os_tag);
    hak_meta_free(HAK_META_PAGE, pg);
    atomic_fetch_sub_explicit(&pages_live, 1, memory_order_relaxed);
    hak_gstat_add(HAK_S_page_released, 1);
}

/* A remote list is one word: the head pointer in the low 48 bits (user
 * addresses fit there) and the number of blocks on the list above them (a
 * page holds at most 4096), so one exchange gives the owner the blocks and
 * their exact count, and a drain never walks the blocks (each one a cache
 * miss). */
#define REMOTE_PTR_MASK    (((uintptr_t)1 << 48) - 1)
#define REMOTE_COUNT_SHIFT 48

unsigned hak_page_drain(hak_page_t *pg) {
    if (atomic_load_explicit(&pg->remote, memory_order_relaxed) == 0) return 0;
    uintptr_t v = atomic_exchange_explicit(&pg->remote, 0, memory_order_acquire);
    hak_block_t *list = (hak_block_t *)(v & REMOTE_PTR_MASK);
    unsigned n = (unsigned)(v >> REMOTE_COUNT_SHIFT);
    if (list == NULL) return 0;
    if (pg->free != NULL) {
        /* Rare: only adoption drains a page that still has local blocks. */
        hak_block_t *tail = list;
        while (tail->next != NULL) tail = tail->next;
        tail->next = pg->free;
    }
    hak_assert(n <= pg->used);
    pg->free = list;
    pg->nfree += n;
    pg->used -= n;
    return n;
}

void hak_page_push_remote(hak_page_t *pg, hak_block_t *first, hak_block_t *last, unsigned n) {
    uintptr_t old = atomic_load_explicit(&pg->remote, memory_order_relaxed), next;
    do {
        last->next = (hak_block_t *)(old & REMOTE_PTR_MASK);
        next = (uintptr_t)first | (((old >> REMOTE_COUNT_SHIFT) + n) << REMOTE_COUNT_SHIFT);
    } while (!atomic_compare_exchange_weak_explicit(&pg->remote, &old, next, memory_order_release,
                                                    memory_order_relaxed));
}

/* Back on the queue, still marked: the adopter could not take it now. */
void hak_pending_requeue(hak_page_t *pg) {
    pending_t *q = &pending[pg->cls];
    hak_lock(&q->lock);
    pg->pnext = NULL;
    if (q->tail)
        q->tail->pnext = pg;
    else
        __atomic_store_n(&q->head, pg, __ATOMIC_RELAXED);
    q->tail = pg;
    hak_unlock(&q->lock);
}

void hak_pending_push(hak_page_t *pg) {
    if (atomic_exchange_explicit(&pg->in_pending, 1, memory_order_acq_rel)) return;
    hak_pending_requeue(pg);
    hak_gstat_add(HAK_S_pending_enqueued, 1);
}

/* The mark (in_pending) stays set: the adopter clears it once it owns the
 * page or has handed it back to its owner, see heap.c. */
hak_page_t *hak_pending_pop(unsigned cls) {
    pending_t *q = &pending[cls];
    /* An unlocked peek keeps threads that find nothing off the lock. */
    if (__atomic_load_n(&q->head, __ATOMIC_RELAXED) == NULL) return NULL;
    hak_lock(&q->lock);
    hak_page_t *pg = q->head;
    if (pg != NULL) {
        __atomic_store_n(&q->head, pg->pnext, __ATOMIC_RELAXED);
        if (pg->pnext == NULL) q->tail = NULL;
    }
    hak_unlock(&q->lock);
    if (pg != NULL) hak_gstat_add(HAK_S_pending_drained, 1);
    return pg;
}

void hak_pool_lock_all(void) {
    for (unsigned c = 0; c < HAK_CLASS_MAX; c++) hak_lock(&pending[c].lock);
}

void hak_pool_unlock_all(bool child) {
    for (unsigned c = 0; c < HAK_CLASS_MAX; c++) {
        if (child)
            hak_lock_reset(&pending[c].lock);
        else
            hak_unlock(&pending[c].lock);
    }
}
