/* os.c — the OS layer: the only code that calls mmap, munmap and madvise.
 *
 * Besides plain mappings it hands out the pool's 64 KiB pages according to
 * the alignment mode (DESIGN.md):
 *   overalloc   map twice the size and trim both ends: 1 mmap + 2 munmap per
 *               page, the seed's fix and its 15.9 s of kernel time;
 *   chunk_pool  the same, but freed pages wait in a pool of chunk_pool_pages
 *               and are reused before anything new is mapped;
 *   reserve     reserve large aligned regions once and carve pages from them;
 *               freed pages go back with madvise, never munmap;
 *   relaxed     no 64 KiB alignment: a plain 64 KiB mapping, 4 KiB aligned.
 * Freed pages waiting in a pool are linked through their own first word. */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>

#ifdef HAK_SEED_BUG
#include <stdlib.h>
#endif

#define RESERVE_REGION ((size_t)64 << 20)

static hak_lock_t os_lock; /* the page pools below */
static void *pool_head;    /* chunk_pool and reserve: free pages */
static size_t pool_count;
static uint8_t *reserve_next, *reserve_end;

static void count_map(size_t len) {
    hak_gstat_add(HAK_S_os_mmap, 1);
    hak_stats_mapped((long long)len);
}

void *hak_os_map(size_t len) {
    int saved = errno;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errno = saved;
        return NULL;
    }
    count_map(len);
    return p;
}

void hak_os_unmap(void *p, size_t len) {
    int saved = errno;
    if (munmap(p, len) != 0) hak_msg("munmap(%p, %z) failed (errno %d)", p, len, errno);
    errno = saved;
    hak_gstat_add(HAK_S_os_munmap, 1);
    hak_stats_mapped(-(long long)len);
}

void hak_os_decommit(void *p, size_t len) {
    int saved = errno;
    (void)madvise(p, len, MADV_DONTNEED);
    errno = saved;
    hak_gstat_add(HAK_S_os_madvise, 1);
}

void *hak_os_map_aligned(size_t len, size_t align) {
    if (align <= HAK_GRANULE) return hak_os_map(len);
    if (len > SIZE_MAX - align) return NULL;
    uint8_t *raw = hak_os_map(len + align);
    if (raw == NULL) return NULL;
    uintptr_t a = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    size_t prefix = a - (uintptr_t)raw;
    size_t suffix = align - prefix;
    if (prefix) hak_os_unmap(raw, prefix);
    if (suffix) hak_os_unmap((uint8_t *)a + len, suffix);
    return (void *)a;
}

static void *reserve_carve(void) {
    if (reserve_next == reserve_end) {
        uint8_t *r = hak_os_map_aligned(RESERVE_REGION, HAK_PAGE_SIZE);
        if (r == NULL) return NULL;
        reserve_next = r;
        reserve_end = r + RESERVE_REGION;
    }
    void *p = reserve_next;
    reserve_next += HAK_PAGE_SIZE;
    return p;
}

void *hak_os_page_alloc(void) {
#ifdef HAK_SEED_BUG
    /* The seed's bug, kept for the test that must catch it: the pool asks
     * the wrapped posix_memalign, i.e. hakmem itself, for its page. */
    void *page = NULL;
    return posix_memalign(&page, HAK_PAGE_SIZE, HAK_PAGE_SIZE) == 0 ? page : NULL;
#endif
    switch ((hak_align_mode_t)hak_knob(ALIGN_MODE)) {
    case HAK_ALIGN_RELAXED:
        return hak_os_map(HAK_PAGE_SIZE);
    case HAK_ALIGN_OVERALLOC:
        return hak_os_map_aligned(HAK_PAGE_SIZE, HAK_PAGE_SIZE);
    case HAK_ALIGN_CHUNK_POOL:
    case HAK_ALIGN_RESERVE:
        break;
    }
    hak_lock(&os_lock);
    void *p = pool_head;
    if (p != NULL) {
        pool_head = *(void **)p;
        pool_count--;
    } else if (hak_knob(ALIGN_MODE) == HAK_ALIGN_RESERVE) {
        p = reserve_carve();
    }
    hak_unlock(&os_lock);
    if (p == NULL && hak_knob(ALIGN_MODE) == HAK_ALIGN_CHUNK_POOL)
        p = hak_os_map_aligned(HAK_PAGE_SIZE, HAK_PAGE_SIZE);
    return p;
}

void hak_os_page_free(void *p) {
    switch ((hak_align_mode_t)hak_knob(ALIGN_MODE)) {
    case HAK_ALIGN_RELAXED:
    case HAK_ALIGN_OVERALLOC:
        hak_os_unmap(p, HAK_PAGE_SIZE);
        return;
    case HAK_ALIGN_RESERVE:
        /* The region stays reserved; only its memory goes back. */
        hak_os_decommit(p, HAK_PAGE_SIZE);
        break;
    case HAK_ALIGN_CHUNK_POOL:
        break;
    }
    hak_lock(&os_lock);
    bool keep = hak_knob(ALIGN_MODE) == HAK_ALIGN_RESERVE ||
                pool_count < (size_t)hak_knob(CHUNK_POOL_PAGES);
    if (keep) {
        *(void **)p = pool_head;
        pool_head = p;
        pool_count++;
    }
    hak_unlock(&os_lock);
    if (!keep) hak_os_unmap(p, HAK_PAGE_SIZE);
}

void hak_os_lock_all(void) {
    hak_lock(&os_lock);
}
void hak_os_unlock_all(bool child) {
    if (child)
        hak_lock_reset(&os_lock);
    else
        hak_unlock(&os_lock);
}
