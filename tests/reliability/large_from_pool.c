/* large_from_pool.c — the large tier takes runs of adjacent pooled pages
 * before it maps anything new (hak_os_take_run), and what it takes is its
 * own from then on, with the OS layer and the program called directly:
 *
 *   reuse    a 66,000-byte block after 48 adjacent pages were pooled comes
 *            from those pages, with no mmap, and takes at most a
 *            megabyte of them;
 *   zero     calloc's blocks from such a run are zero though the pages
 *            held other blocks' bytes (a fresh mapping is zero, these are
 *            not), both the first block of a run and one cut from its rest;
 *   owned    the pool hands none of the run's pages to small blocks while
 *            the large blocks live, and each block keeps what was written;
 *   moved    realloc to 3 MiB moves a block out of the middle of a reserved
 *            region, contents kept;
 *   back     those spans, once expired, go back to the pool in whole pages
 *            (no hole in the region), and serve small blocks again; the
 *            part of a page beside the moved block's hole goes at once,
 *            unmapped (its page can never be whole again);
 *   merge    the part of a page beside a live block is held in the cache,
 *            and once that block is freed the two go back as whole pages;
 *            a held part goes, unmapped, once the large tier is idle; the
 *            pool and the carving go on, and a reclaim too.
 *
 * Usage: HAKMEM_CHUNK_POOL_PAGES=64 HAKMEM_ALIGN_MODE=reserve
 *        HAKMEM_RELEASE_DELAY_MS=3600000 HAKMEM_PURGE_THREAD=0 large_from_pool */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#define die(...) tu_die("large_from_pool", __VA_ARGS__)

enum { PAGES = 48, BLOCKS = 12 };
#define BLOCK ((size_t)66000)

static uint64_t stat(hak_stat_id_t id) {
    return atomic_load(&hak_global_stats[id]);
}

static bool within(const void *p, size_t len, const uint8_t *from, const uint8_t *to) {
    return (const uint8_t *)p >= from && (const uint8_t *)p + len <= to;
}

static bool overlaps(const void *p, size_t len, const void *q, size_t qlen) {
    const uint8_t *a = p, *b = q;
    return a < b + qlen && b < a + len;
}

static void expect_bytes(const uint8_t *p, size_t n, uint8_t v, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) die("%s: byte %zu of %p is %#x, expected %#x", what, i, (void *)p, p[i], v);
}

int main(void) {
    hak_free(hak_alloc(1)); /* start-up */
    if (hak_knob(CHUNK_POOL_PAGES) < PAGES || hak_knob(ALIGN_MODE) != HAK_ALIGN_RESERVE ||
        hak_knob(RELEASE_DELAY_MS) < 600000 || hak_knob(PURGE_THREAD) != 0)
        die("run with HAKMEM_CHUNK_POOL_PAGES=64 HAKMEM_ALIGN_MODE=reserve "
            "HAKMEM_RELEASE_DELAY_MS=3600000 HAKMEM_PURGE_THREAD=0 (as ctest does)");
    unsigned small = hak_class_of_size(512);
    if (small == 0 || hak_os_class_tag(small) != HAK_OS_TAG_FULL)
        die("the class of 512 B should back its pages whole");

    /* Fresh pages of one region, carved one after the other: adjacent.
     * Whatever the pool held before is taken out first, and kept. */
    uint8_t *pages[PAGES];
    uint8_t had;
    for (;;) {
        uint64_t before = stat(HAK_S_os_page_pooled);
        if (hak_os_page_alloc(small, &had) == NULL) die("hak_os_page_alloc failed");
        if (stat(HAK_S_os_page_pooled) == before) break;
    }
    for (int i = 0; i < PAGES; i++) {
        pages[i] = hak_os_page_alloc(small, &had);
        if (pages[i] == NULL) die("hak_os_page_alloc failed");
        if (i > 0 && pages[i] != pages[i - 1] + HAK_PAGE_SIZE)
            die("fresh pages %p and %p are not adjacent", (void *)pages[i - 1], (void *)pages[i]);
        memset(pages[i], 0xab, HAK_PAGE_SIZE);
    }
    for (int i = 0; i < PAGES; i++) hak_os_page_free(pages[i], HAK_OS_TAG_FULL);
    const uint8_t *from = pages[0], *to = pages[PAGES - 1] + HAK_PAGE_SIZE;

    /* reuse, zero; the span table's leaf for these addresses is mapped
     * first, the one mapping a span there may need. */
    if (!hak_registry_reserve(from, (size_t)(to - from))) die("hak_registry_reserve failed");
    uint64_t mmaps = stat(HAK_S_os_mmap), taken = stat(HAK_S_os_page_to_large);
    uint8_t *b[BLOCKS];
    b[0] = hak_alloc_zeroed(BLOCK);
    if (b[0] == NULL) die("calloc(1, %zu) failed", BLOCK);
    uint8_t *run0 = b[0]; /* the front of the run */
    uint64_t run = stat(HAK_S_os_page_to_large) - taken;
    if (run < 2 || run > (1u << 20) / HAK_PAGE_SIZE)
        die("the large tier took %llu pooled pages for a %zu-byte block, expected 2 to 16",
            (unsigned long long)run, BLOCK);
    if (!within(b[0], BLOCK, from, to))
        die("a %zu-byte block at %p is not in the pooled pages %p-%p", BLOCK, (void *)b[0],
            (const void *)from, (const void *)to);
    if (stat(HAK_S_os_mmap) != mmaps)
        die("%llu mmap calls for a block the pool could serve",
            (unsigned long long)(stat(HAK_S_os_mmap) - mmaps));
    expect_bytes(b[0], BLOCK, 0, "calloc from pooled pages");
    b[1] = hak_alloc_zeroed(BLOCK); /* from the run's rest, cached */
    if (b[1] == NULL || !within(b[1], BLOCK, from, to))
        die("the second block (%p) is not from the run's rest", (void *)b[1]);
    expect_bytes(b[1], BLOCK, 0, "calloc from a run's rest");
    for (int i = 2; i < BLOCKS; i++)
        if ((b[i] = hak_alloc(BLOCK)) == NULL) die("malloc(%zu) failed", BLOCK);
    for (int i = 0; i < BLOCKS; i++) memset(b[i], i + 1, BLOCK);

    /* owned: every page the pool still has goes to small blocks; none of
     * them may be under a live large block. */
    uint8_t *rest[PAGES];
    int nrest = 0;
    for (;;) {
        uint64_t before = stat(HAK_S_os_page_pooled);
        uint8_t *p = hak_os_page_alloc(small, &had);
        if (p == NULL) die("hak_os_page_alloc failed");
        if (stat(HAK_S_os_page_pooled) == before) {
            hak_os_page_unused(p, had);
            break;
        }
        for (int i = 0; i < BLOCKS; i++)
            if (overlaps(p, HAK_PAGE_SIZE, b[i], BLOCK))
                die("the pool handed out page %p under the live large block %p", (void *)p,
                    (void *)b[i]);
        if (nrest < PAGES) rest[nrest++] = p;
        memset(p, 0xcd, HAK_PAGE_SIZE);
    }
    for (int i = 0; i < BLOCKS; i++) expect_bytes(b[i], BLOCK, (uint8_t)(i + 1), "a large block");
    for (int i = 0; i < nrest; i++) hak_os_page_free(rest[i], HAK_OS_TAG_FULL);

    /* moved */
    size_t big = (size_t)3 << 20;
    uint8_t *m = hak_realloc(b[0], big);
    if (m == NULL) die("realloc(%p, %zu) failed", (void *)b[0], big);
    expect_bytes(m, BLOCK, 1, "a block realloc moved out of a region");
    memset(m, 0x5a, big);
    b[0] = m;

    /* back: b[0] has moved out, leaving a hole where its 17 granules
     * were, so the span the others merge into starts 4 KiB into page 1. */
    for (int i = 0; i < BLOCKS; i++) hak_free(b[i]);
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 0;
    usleep(2000);
    uint64_t returned = stat(HAK_S_os_page_from_large), unmaps = stat(HAK_S_os_munmap);
    hak_large_expire(hak_now_us());
    returned = stat(HAK_S_os_page_from_large) - returned;
    if (returned != run - 2)
        die("%llu pages of a %llu-page run went back to the pool once expired, expected %llu "
            "(all but the two under the moved block)",
            (unsigned long long)returned, (unsigned long long)run, (unsigned long long)run - 2);
    if (stat(HAK_S_os_munmap) == unmaps || hak_large_kept())
        die("the part of a page beside the moved block's hole was %s",
            hak_large_kept() ? "held in the cache" : "not unmapped");
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 3600000;
    const uint8_t *back_from = run0 + 2 * HAK_PAGE_SIZE, *back_to = run0 + run * HAK_PAGE_SIZE;
    void *again[PAGES];
    int inside = 0;
    for (int i = 0; i < PAGES; i++) {
        uint8_t *p = again[i] = hak_os_page_alloc(small, &had);
        if (p == NULL) die("hak_os_page_alloc failed after the spans went");
        inside += within(p, HAK_PAGE_SIZE, back_from, back_to);
        memset(p, 0x11, HAK_PAGE_SIZE);
    }
    if (inside != (int)returned)
        die("%d of the %llu pages the large tier gave back served small blocks again", inside,
            (unsigned long long)returned);
    for (int i = 0; i < PAGES; i++) hak_os_page_free(again[i], HAK_OS_TAG_FULL);

    /* merge: three blocks from the front of a new run. */
    uint8_t *c[3];
    taken = stat(HAK_S_os_page_to_large);
    for (int i = 0; i < 3; i++)
        if ((c[i] = hak_alloc(BLOCK)) == NULL) die("malloc(%zu) failed", BLOCK);
    uint64_t run2 = stat(HAK_S_os_page_to_large) - taken;
    size_t step = (BLOCK + 4095) / 4096 * 4096;
    if ((uintptr_t)c[0] % HAK_PAGE_SIZE != 0 || c[1] != c[0] + step || c[2] != c[1] + step ||
        run2 < 4)
        die("three %zu-byte blocks at %p, %p, %p from a run of %llu pooled pages: expected them "
            "adjacent from the run's front",
            BLOCK, (void *)c[0], (void *)c[1], (void *)c[2], (unsigned long long)run2);
    hak_free(c[1]);
    hak_free(c[2]);
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 0;
    usleep(2000);
    returned = stat(HAK_S_os_page_from_large);
    uint64_t held = stat(HAK_S_large_held);
    hak_large_expire(hak_now_us());
    returned = stat(HAK_S_os_page_from_large) - returned;
    if (returned != run2 - 2 || stat(HAK_S_large_held) != held + 1 || !hak_large_kept())
        die("blocks 2 and 3 of a %llu-page run expired: %llu pages went back (expected %llu) and "
            "%llu parts of pages were held (expected 1, the rest of the first block's last page)",
            (unsigned long long)run2, (unsigned long long)returned, (unsigned long long)run2 - 2,
            (unsigned long long)(stat(HAK_S_large_held) - held));
    returned = stat(HAK_S_os_page_from_large);
    hak_free(c[0]);
    usleep(2000);
    hak_large_expire(hak_now_us());
    returned = stat(HAK_S_os_page_from_large) - returned;
    if (returned != 2 || hak_large_kept())
        die("the first block of a run, freed beside the held rest of its page: %llu pages went "
            "back (expected 2)%s",
            (unsigned long long)returned,
            hak_large_kept() ? ", and the cache still holds some" : "");
    /* idle: a part held as above goes, unmapped. */
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 3600000;
    c[0] = hak_alloc(BLOCK);
    c[1] = hak_alloc(BLOCK);
    if (c[0] == NULL || c[1] == NULL) die("malloc(%zu) failed", BLOCK);
    hak_free(c[1]);
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 0;
    usleep(2000);
    hak_large_expire(hak_now_us());
    if (!hak_large_kept()) die("the rest of a live block's last page was not held");
    usleep(2000);
    unmaps = stat(HAK_S_os_munmap);
    hak_large_expire(hak_now_us()); /* idle now, with a part held */
    if (stat(HAK_S_os_munmap) == unmaps || hak_large_kept())
        die("the held part of a page was not unmapped once the large tier was idle");
    hak_free(c[0]);
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 3600000;
    hak_os_reclaim();
    void *last = hak_alloc(BLOCK);
    if (last == NULL) die("malloc(%zu) failed after a reclaim", BLOCK);
    memset(last, 0x22, BLOCK);
    hak_free(last);

    printf("large_from_pool: ok (%llu pages taken in a run)\n", (unsigned long long)run);
    return 0;
}
