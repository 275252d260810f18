/* os_pool.c — the OS layer's page pool hands a freed page to the blocks it
 * already has backed, so that pages passing between size classes do not end
 * up backed whole (larson-mid's resident set), with the OS layer called
 * directly (hak_os_page_alloc, hak_os_page_free):
 *
 *   match    pages freed by two classes of blocks over 4 KiB go back to
 *            their own class, though the other class's pages are newer;
 *   full     a page that blocks of 4 KiB or less have backed whole serves
 *            a larger class when its own class has none left, and stays
 *            tagged full;
 *   cold     a larger class with nothing matching takes a decommitted page
 *            (nothing resident, by mincore) rather than another class's
 *            warm one, which stays pooled; a small class takes the warm one;
 *            a page given back unused goes back as it came;
 *   expire   a pooled page past release_delay_ms is decommitted when the
 *            pool is asked to expire pages, with no page freed meanwhile;
 *   huge     in a region that asked for huge pages, a page past its age
 *            whose huge page is partly in use stays resident while the
 *            program still calls (giving part of a huge page back splits
 *            it), a huge page with nothing in use goes back whole (also
 *            when some of it was decommitted before), and the held pages
 *            go back once the program is idle;
 *   lent     pages the large tier returns (hak_os_return_run) are held
 *            while their huge page is partly in use, and the huge page goes
 *            back whole once the last of it is returned.
 *
 * Usage: HAKMEM_CHUNK_POOL_PAGES=4 HAKMEM_ALIGN_MODE=reserve
 *        HAKMEM_RELEASE_DELAY_MS=3600000 os_pool */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define die(...) tu_die("os_pool", __VA_ARGS__)

enum { POOL = 4 };

static unsigned class_of(size_t size) {
    unsigned c = hak_class_of_size(size);
    if (c == 0) die("no class serves %zu bytes", size);
    return c;
}

static uint64_t matched(void) {
    return atomic_load(&hak_global_stats[HAK_S_os_page_matched]);
}

/* A page for class cls, with each block start written the way carving
 * does; expect_tag: its tag once used, as pool.c records it. */
static void *get_had(unsigned cls, uint8_t expect_tag, uint8_t *had) {
    uint8_t *p = hak_os_page_alloc(cls, had);
    if (p == NULL) die("hak_os_page_alloc(class %u) failed", cls);
    uint8_t tag = hak_os_tag_after(*had, cls);
    if (tag != expect_tag)
        die("a page for class %u (%u-byte blocks) came tagged %u, expected %u", cls,
            hak_class_size[cls], tag, expect_tag);
    for (size_t off = 0; off + hak_class_size[cls] <= HAK_PAGE_SIZE; off += hak_class_size[cls])
        p[off] = 1;
    return p;
}

static void *get(unsigned cls, uint8_t expect_tag) {
    uint8_t had;
    return get_had(cls, expect_tag, &had);
}

static bool in(void *p, void **set, int n) {
    for (int i = 0; i < n; i++)
        if (set[i] == p) return true;
    return false;
}

/* 4 KiB pages of the page that the kernel backs. */
static int resident(void *p) {
    unsigned char v[HAK_PAGE_SIZE / 4096];
    if (mincore(p, HAK_PAGE_SIZE, v) != 0) die("mincore failed");
    int n = 0;
    for (size_t i = 0; i < sizeof v; i++) n += v[i] & 1;
    return n;
}

/* 4 KiB pages holding a block start of class cls. */
static int starts(unsigned cls) {
    int n = 0;
    long last = -1;
    for (size_t off = 0; off + hak_class_size[cls] <= HAK_PAGE_SIZE; off += hak_class_size[cls])
        if ((long)(off / 4096) != last) last = (long)(off / 4096), n++;
    return n;
}

static uint64_t pooled(void) {
    return atomic_load(&hak_global_stats[HAK_S_os_page_pooled]);
}

static uint64_t held(void) {
    return atomic_load(&hak_global_stats[HAK_S_os_page_held]);
}

/* Whether the mapping that holds p asked for huge pages. */
static bool advised_huge(const void *p) {
    return tu_advised_huge("os_pool", p) == 1;
}

/* Takes every warm page out of the pool (and keeps them), so that the next
 * step starts from an empty one. */
static void drain(unsigned small) {
    for (;;) {
        uint64_t before = pooled();
        uint8_t tag;
        if (hak_os_page_alloc(small, &tag) == NULL) die("hak_os_page_alloc failed");
        if (pooled() == before) return;
    }
}

int main(void) {
    if (sysconf(_SC_PAGESIZE) != 4096) {
        printf("os_pool: skipped (kernel pages are not 4 KiB)\n");
        return 0;
    }
    hak_free(hak_alloc(1)); /* start-up */
    if (hak_knob(CHUNK_POOL_PAGES) != POOL || hak_knob(ALIGN_MODE) != HAK_ALIGN_RESERVE ||
        hak_knob(RELEASE_DELAY_MS) < 600000)
        die("run with HAKMEM_CHUNK_POOL_PAGES=%d HAKMEM_ALIGN_MODE=reserve "
            "HAKMEM_RELEASE_DELAY_MS=3600000 (as ctest does)",
            POOL);

    unsigned c20 = class_of(20000), c6 = class_of(6000), c10 = class_of(10000),
             small = class_of(512);
    if (hak_os_class_tag(small) != HAK_OS_TAG_FULL || hak_os_class_tag(c20) != c20)
        die("tags: the class of 512 B should be tagged full, that of 20000 B itself");
    /* 3584-byte blocks start no later than 60928: the last 4 KiB page of a
     * page is untouched, so it is not backed whole. */
    if (hak_os_class_tag(class_of(3584)) == HAK_OS_TAG_FULL ||
        hak_os_class_tag(class_of(3072)) != HAK_OS_TAG_FULL)
        die("tags: 3584-byte blocks do not back a page whole, 3072-byte ones do");
    drain(small);

    /* cold: POOL + 2 pages freed; the two oldest go past the pool's size
     * and are decommitted. */
    void *x[POOL + 2];
    for (int i = 0; i < POOL + 2; i++) x[i] = get(c6, c6);
    for (int i = 0; i < POOL + 2; i++) hak_os_page_free(x[i], c6);
    void *cold = get(c10, c10);
    if (in(cold, x + 2, POOL))
        die("class %u took a warm page of class %u while decommitted ones were there", c10, c6);
    if (!in(cold, x, 2)) die("class %u got %p, not a decommitted page", c10, cold);
    int r = resident(cold), want = starts(c10);
    if (r != want)
        die("a decommitted page has %d 4 KiB pages resident after class %u used it, expected %d", r,
            c10, want);
    void *w = get(small, HAK_OS_TAG_FULL);
    if (!in(w, x + 2, POOL)) die("small blocks took %p, not a warm pooled page", w);
    /* A page never used goes back as it came: a decommitted one to the
     * decommitted, where the next request of a larger class finds it. */
    uint8_t had;
    void *u = hak_os_page_alloc(c20, &had);
    if (u == NULL || had != HAK_OS_TAG_NONE || !in(u, x, 2))
        die("class %u did not get the other decommitted page", c20);
    uint64_t pooled0 = pooled();
    hak_os_page_unused(u, had);
    void *again = get_had(c20, c20, &had);
    if (again != u || had != HAK_OS_TAG_NONE || pooled() != pooled0)
        die("a decommitted page given back unused did not stay decommitted");
    drain(small);

    /* match: a's pages are older, b's newer, and a's class asks first. */
    void *a[2], *b[2];
    for (int i = 0; i < 2; i++) a[i] = get(c20, c20);
    for (int i = 0; i < 2; i++) b[i] = get(c6, c6);
    for (int i = 0; i < 2; i++) hak_os_page_free(a[i], c20);
    for (int i = 0; i < 2; i++) hak_os_page_free(b[i], c6);
    uint64_t m0 = matched();
    for (int i = 0; i < 2; i++) {
        void *p = get(c20, c20);
        if (!in(p, a, 2)) die("class %u got %p, not one of the pages it had freed", c20, p);
    }
    if (matched() - m0 != 2)
        die("os_page_matched rose by %llu, expected 2", (unsigned long long)(matched() - m0));

    /* full: small blocks take the newest warm page (one of b's), which is
     * then backed whole and serves class c20 once c20 has none of its own,
     * though a page of c6 is pooled too, and newer. */
    void *s = get(small, HAK_OS_TAG_FULL);
    if (!in(s, b, 2)) die("small blocks did not get a pooled page (got %p)", s);
    hak_os_page_free(s, HAK_OS_TAG_FULL);
    void *o = get(c6, c6);
    hak_os_page_free(o, c6);
    void *f = get(c20, HAK_OS_TAG_FULL);
    if (f != s) die("class %u got %p, not the full page %p", c20, f, s);

    /* expire: a pooled page past release_delay_ms goes back when asked
     * (the heaps' slow paths ask), not only when another page is freed. */
    void *e = get(c6, c6);
    hak_os_page_free(e, c6);
    int before = resident(e);
    if (before <= 1) die("a page just pooled has %d 4 KiB pages resident", before);
    hak_os_expire(hak_now_us() + 1000000);
    if (resident(e) != before) die("a page pooled for 1 s of a 1 h delay was decommitted");
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 0;
    usleep(2000);
    hak_os_expire(hak_now_us());
    /* Decommitted, then linked into the cold list through its first word. */
    if (resident(e) > 1)
        die("a page pooled 2 ms with release_delay_ms = 0 still has %d 4 KiB pages resident",
            resident(e));

    /* huge: a run of fresh pages 2 MiB aligned in a region that asked for
     * huge pages (pages untouched on the way cost nothing). The pool and
     * the decommitted pages are taken first, so the pages after are carved
     * in order. Ages count again from here (1 h). */
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 3600000;
    if (hak_knob(THP_MIN) == 0) {
        printf("os_pool: ok (huge skipped: thp_min is 0)\n");
        return 0;
    }
    /* The pool holds pages only where the kernel gives huge pages. */
    char mode[128] = "";
    FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (thp != NULL && fgets(mode, sizeof mode, thp) == NULL) mode[0] = 0;
    if (thp != NULL) fclose(thp);
    if (thp == NULL || strstr(mode, "[never]") != NULL) {
        printf("os_pool: ok (huge skipped: no transparent huge pages here)\n");
        return 0;
    }
    enum { HP = 32 }; /* pages of 64 KiB in a huge page */
    uint8_t *p = NULL;
    for (int i = 0;
         i < 4096 && !(p != NULL && (uintptr_t)p % (HP * HAK_PAGE_SIZE) == 0 && advised_huge(p));
         i++)
        if ((p = hak_os_page_alloc(small, &had)) == NULL) die("hak_os_page_alloc failed");
    if ((uintptr_t)p % (HP * HAK_PAGE_SIZE) != 0 || !advised_huge(p))
        die("256 MiB of pages carved and none in a region that asked for huge pages");
    uint8_t *hp[2 * HP];
    hp[0] = p;
    for (int i = 1; i < 2 * HP; i++)
        if ((hp[i] = hak_os_page_alloc(small, &had)) != p + (size_t)i * HAK_PAGE_SIZE)
            die("fresh page %d came at %p, not next to the one before", i, (void *)hp[i]);
    for (int i = 0; i < 2 * HP; i++) memset(hp[i], 1, HAK_PAGE_SIZE);
    /* The first huge page keeps its page 0 in use; the second is freed
     * whole. Everything pooled is past its age from here (delay 0), while
     * the program calls: its last call the large tier saw is an hour
     * ahead. */
    uint64_t held0 = held();
    for (int i = 1; i < 2 * HP; i++) hak_os_page_free(hp[i], HAK_OS_TAG_FULL);
    uint64_t ahead = hak_now_us() + 3600000000u;
    hak_os_note_large_call(ahead);
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 0;
    usleep(2000);
    hak_os_expire(hak_now_us());
    for (int i = 1; i < HP; i++)
        if (resident(hp[i]) != HAK_PAGE_SIZE / 4096)
            die("page %d of a huge page whose page 0 is in use went back (%d of %zu 4 KiB "
                "pages resident): part of a huge page given back splits it",
                i, resident(hp[i]), HAK_PAGE_SIZE / 4096);
    /* Pages of the second one may have waited too, before it was whole. */
    if (held() - held0 < HP - 1)
        die("os_page_held rose by %llu, expected at least %d", (unsigned long long)(held() - held0),
            HP - 1);
    for (int i = HP; i < 2 * HP; i++)
        if (resident(hp[i]) > 1)
            die("page %d of a huge page pooled whole did not go back (%d 4 KiB pages resident)",
                i - HP, resident(hp[i]));
    /* Idle: the held pages go back too. */
    hak_os_expire(ahead + 7200000000u);
    for (int i = 1; i < HP; i++)
        if (resident(hp[i]) > 1)
            die("page %d of a held huge page did not go back once the program was idle (%d "
                "4 KiB pages resident)",
                i, resident(hp[i]));

    /* The first huge page is now page 0 in use and 31 pages decommitted:
     * once page 0 is freed nothing of it is in use, and it goes back whole
     * (a page faulted in there may have brought a whole huge page back),
     * not held. */
    uint64_t held1 = held();
    hak_os_page_free(hp[0], HAK_OS_TAG_FULL);
    hak_os_note_large_call(hak_now_us() + 10800000000u);
    usleep(2000);
    hak_os_expire(hak_now_us());
    if (held() != held1 || resident(hp[0]) > 1)
        die("the last page in use of a huge page whose other pages were decommitted was %s "
            "once freed (%d 4 KiB pages resident)",
            held() != held1 ? "held" : "not given back", resident(hp[0]));

    /* lent: a whole huge page of pages in use, among up to 4096 taken
     * (the decommitted ones come first); the others go back to the pool,
     * young. The program still calls (the large call above, hours ahead). */
    hak_knob_value[HAK_K_RELEASE_DELAY_MS] = 3600000;
    enum { TRY = 4096 };
    static uint8_t *got[TRY];
    uint8_t *q = NULL;
    int ngot = 0;
    for (; ngot < TRY && q == NULL; ngot++) {
        if ((got[ngot] = hak_os_page_alloc(small, &had)) == NULL) die("hak_os_page_alloc failed");
        uint8_t *h = (uint8_t *)((uintptr_t)got[ngot] & ~(uintptr_t)(HP * HAK_PAGE_SIZE - 1));
        int have = 0;
        for (int i = 0; i <= ngot; i++) have += got[i] >= h && got[i] < h + HP * HAK_PAGE_SIZE;
        if (have == HP && advised_huge(h)) q = h;
    }
    if (q == NULL) die("no whole huge page among %d pages taken from the pool", TRY);
    for (int i = 0; i < ngot; i++)
        if (got[i] < q || got[i] >= q + HP * HAK_PAGE_SIZE)
            hak_os_page_free(got[i], HAK_OS_TAG_FULL);
    memset(q, 2, HP * HAK_PAGE_SIZE);
    uint64_t held2 = held();
    hak_os_return_run(q + 8 * HAK_PAGE_SIZE, 8 * HAK_PAGE_SIZE);
    hak_os_return_run(q + 16 * HAK_PAGE_SIZE, 16 * HAK_PAGE_SIZE);
    if (held() - held2 != 24)
        die("24 pages returned by the large tier into a huge page partly in use: os_page_held "
            "rose by %llu",
            (unsigned long long)(held() - held2));
    for (int i = 8; i < HP; i++)
        if (resident(q + (size_t)i * HAK_PAGE_SIZE) != HAK_PAGE_SIZE / 4096)
            die("page %d returned by the large tier into a huge page partly in use went back "
                "(%d 4 KiB pages resident): part of a huge page given back splits it",
                i, resident(q + (size_t)i * HAK_PAGE_SIZE));
    hak_os_return_run(q, 8 * HAK_PAGE_SIZE);
    for (int i = 0; i < HP; i++)
        if (resident(q + (size_t)i * HAK_PAGE_SIZE) > 1)
            die("page %d of a huge page the large tier returned whole did not go back (%d 4 KiB "
                "pages resident)",
                i, resident(q + (size_t)i * HAK_PAGE_SIZE));

    printf("os_pool: ok\n");
    return 0;
}
