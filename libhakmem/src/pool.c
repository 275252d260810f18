/* pool.c — the MF2 page pool behind the tiny and mid tiers: 64 KiB pages
 * carved into blocks of one size class, each page owned by one thread heap.
 *
 * What lives here is what a page does on its own: being born from the OS
 * layer and registered, taking other threads' frees on its remote list with
 * one atomic push, giving them to its owner in one exchange (a drain), being
 * released when empty, and waiting on the pending queue for a new owner when
 * its owner is idle or has exited (the seed's Route P). Which heap owns a
 * page, and the owner's lists, belong to heap.c. */
#include "internal.h"

typedef struct {
    hak_lock_t lock;
    hak_page_t *head, *tail; /* FIFO: the oldest pages have had most time
                                to collect remote frees */
} pending_t;

static pending_t pending[HAK_CLASS_MAX];

hak_page_t *hak_page_new(hak_heap_t *h, unsigned cls) {
    uint8_t *mem = hak_os_page_alloc();
    if (mem == NULL) return NULL;
    hak_page_t *pg = hak_meta_alloc(HAK_META_PAGE);
    if (pg == NULL) {
        hak_os_page_free(mem);
        return NULL;
    }
    uint32_t bs = hak_class_size[cls];
    pg->base = mem;
    pg->block_size = bs;
    pg->capacity = (uint32_t)(HAK_PAGE_SIZE / bs);
    pg->bump = mem;
    pg->end = mem + (size_t)pg->capacity * bs;
    pg->cls = (uint8_t)cls;
    atomic_store_explicit(&pg->owner, h, memory_order_relaxed);
    if (!hak_registry_set(mem, HAK_PAGE_SIZE, (uintptr_t)pg | cls)) {
        hak_meta_free(HAK_META_PAGE, pg);
        hak_os_page_free(mem);
        return NULL;
    }
    hak_heap_stat(h, HAK_S_page_new, 1);
    return pg;
}

void hak_page_release(hak_page_t *pg) {
    /* Unregister first: from here on a stray free of a block of this page
     * is no longer taken for ours. */
    hak_registry_set(pg->base, HAK_PAGE_SIZE, 0);
    hak_os_page_free(pg->base);
    hak_meta_free(HAK_META_PAGE, pg);
    hak_gstat_add(HAK_S_page_released, 1);
}

/* The count travels separately from the list so a drain never walks the
 * blocks (each one a cache miss). A pusher adds its count after its push:
 * a drain may then see blocks before their count, which only delays the
 * page's release; the opposite order could release a page whose blocks are
 * still on their way. */
unsigned hak_page_drain(hak_page_t *pg) {
    if (atomic_load_explicit(&pg->remote, memory_order_relaxed) == NULL &&
        atomic_load_explicit(&pg->remote_count, memory_order_relaxed) == 0)
        return 0;
    hak_block_t *list = atomic_exchange_explicit(&pg->remote, NULL, memory_order_acquire);
    unsigned n = atomic_exchange_explicit(&pg->remote_count, 0, memory_order_acquire);
    pg->used -= n;
    if (list == NULL) return 0;
    if (pg->free != NULL) {
        hak_block_t *tail = list;
        while (tail->next != NULL) tail = tail->next;
        tail->next = pg->free;
    }
    pg->free = list;
    return n ? n : 1;
}

void hak_page_push_remote(hak_page_t *pg, hak_block_t *first, hak_block_t *last, unsigned n) {
    hak_block_t *head = atomic_load_explicit(&pg->remote, memory_order_relaxed);
    do {
        last->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&pg->remote, &head, first, memory_order_release,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&pg->remote_count, n, memory_order_release);
}

/* Back on the queue, still marked: the adopter could not take it now. */
void hak_pending_requeue(hak_page_t *pg) {
    pending_t *q = &pending[pg->cls];
    pg->pnext = NULL;
    hak_lock(&q->lock);
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
