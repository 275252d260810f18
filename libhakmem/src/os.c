/* os.c — the OS layer: the only code that calls mmap, munmap, mremap and
 * madvise.
 *
 * Besides plain mappings it hands out the pool's 64 KiB pages according to
 * the alignment mode (the align_mode knob):
 *   overalloc   map twice the size and trim both ends: 1 mmap and 1 or 2
 *               munmap per page (2 unless the kernel happened to map at a
 *               64 KiB boundary): two system calls a page, which is
 *               what makes a pool of freed pages worth keeping;
 *   chunk_pool  the same, but freed pages wait in a pool of chunk_pool_pages
 *               and are reused before anything new is mapped;
 *   reserve     reserve 64 MiB aligned regions once and carve pages from
 *               them (pages of blocks over 4 KiB from regions of their own,
 *               which ask for huge pages only once the program is seen to
 *               fill such blocks: sparse_probe); freed pages beyond a pool
 *               of chunk_pool_pages go back
 *               with madvise, never munmap, so the process keeps a handful
 *               of mappings instead of one per page (the default: the
 *               kernel refuses a process more than vm.max_map_count
 *               mappings, 65530 by default, and each costs on every fault);
 *   relaxed     no 64 KiB alignment: a plain 64 KiB mapping, 4 KiB aligned;
 *               such a page is not in free's page map (registry.c), so
 *               every free of its blocks takes the slow path.
 * Freed pages wait in the pool, still committed and linked through their own
 * first words, for the pool's delay (release_delay_ms, longer while
 * the program still calls the pool or the large tier, which its pages
 * serve; in huge pages, longer still: below), and while the pool holds no
 * more than retention allows (internal.h, "Retention"): what brings the
 * pages in use back to retain_pct of their recent peak, more when pages
 * taken fresh soon after a give-back show that too little, and never fewer
 * than chunk_pool_pages. A server whose replies come and go in bursts of
 * thousands of pages keeps them, instead of giving each back to the kernel
 * and faulting it in again within the second. Expiry takes the oldest. Age
 * is checked when a page is freed, on the thread heaps' slow paths and by
 * the purge thread (hak_os_expire), so a program that freed a burst of
 * pages and then calls nothing still gets its RSS back. In regions that
 * asked for huge pages, pages go back a whole huge page at a time while the
 * program calls (pool_expire), and decommitted pages there are a bit in
 * their region's cold map rather than a link written into them (cold_add).
 *
 * Reuse looks at what each pooled page already has backed by the kernel.
 * Blocks of more than 4 KiB leave most of a page's 4 KiB pages untouched
 * until the program writes them (a 20 KiB block's owner may touch only its
 * header), so a page that served 20 KiB blocks and is handed to 6 KiB
 * blocks gets backed at new offsets; page after page of such hand-overs
 * backs the whole pool, which is where larson-mid's resident set went
 * (451 MiB against 246 MiB with every freed page decommitted). So each
 * pooled page carries a tag, HAK_OS_TAG_FULL or the class whose block
 * starts it has backed, and a request for blocks of a class takes the
 * newest pooled page of the class's own tag; else the newest full one
 * (nothing new to back either way); else, for blocks of more than 4 KiB
 * and in reserve mode, a decommitted page; else the newest pooled page.
 *
 * Pooled pages also serve the large tier (hak_os_take_run): a program that
 * frees a few hundred megabytes of small blocks and then allocates blocks
 * of 64 KiB (redis after FLUSHALL, its values grown) would otherwise keep
 * the freed pages committed beside fresh mappings that fault in page by
 * page, where the C library and tcmalloc hand the freed memory over. So in
 * reserve mode each region carries a bit per page that says whether the
 * page is pooled, and a run of adjacent pooled pages leaves the pool as a
 * span. When the large tier is done with such a span it returns its whole
 * pages here (hak_os_return_run), where they go back as the pool's own
 * expired pages do: unmapped, they would leave a hole in the region, and
 * in huge pages split the one around it. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifdef HAK_REENTRY_BUG
#include <stdlib.h>
#endif

#define RESERVE_REGION ((size_t)64 << 20)
#define HUGE_PAGE      ((size_t)2 << 20)
#define HUGE_PAGES     (HUGE_PAGE / HAK_PAGE_SIZE) /* pool pages in a huge page */
/* The most retention's boost may add to the pooled pages, in percent of
 * retain_pct's share of the peak (internal.h, "Retention"): half, with
 * which redis' LRANGE_100 of 1 KiB values went from 0.67 to 1.10 times the
 * best peer's rate when the boost came (07aca02). */
#define POOL_BOOST_PCT 50

/* A freed page in the pool, written over the page's first bytes: on the
 * pool's age list (or the held list) and on the list of its tag. */
typedef struct pool_node_s {
    struct pool_node_s *next, *prev;   /* age list; next: older */
    struct pool_node_s *tnext, *tprev; /* its tag's list; tnext: older */
    uint64_t freed_us;
    uint8_t tag;
    bool held;  /* on the held list instead of the age list */
    bool whole; /* given back: stands for its whole huge page (pool_expire) */
} pool_node_t;

static hak_lock_t os_lock;       /* the pools below */
static pool_node_t *pool_newest; /* chunk_pool and reserve: committed */
static pool_node_t *pool_oldest;
static pool_node_t *tag_newest[HAK_CLASS_MAX], *tag_oldest[HAK_CLASS_MAX];
static size_t pool_count; /* held pages included */
/* reserve: pooled pages past their age whose huge page is partly in use
 * (pool_expire says why they stay), newest first, linked like the age
 * list; the count is read unlocked too (hak_os_kept). */
static pool_node_t *held_newest, *held_oldest;
static _Atomic(size_t) held_count;
/* When the oldest page on the age list was freed (0: the list is empty),
 * for hak_os_expire's look without the lock. */
static _Atomic(uint64_t) pool_oldest_us;
/* reserve: freed pages past the pool, decommitted: outside huge pages on
 * this list, inside them in their region's cold map (cold_add). */
static void *cold_head;
static size_t cold_mapped; /* pages in the cold maps */
/* reserve: where the next fresh page is carved, one region for pages of
 * classes that back a page whole and may get huge pages (reserve_carve),
 * one for the others. */
static struct { uint8_t *start, *next, *end; } reserve[2];
/* Every region reserved so far, and the pages carved from them: how much
 * the program has filled, which decides when they ask for huge pages
 * (reserve_carve). */
static size_t reserved_bytes, carved_bytes;
/* The current dense region is to ask for huge pages once thp_min is filled. */
static bool dense_wants_huge;
/* reserve: the regions carved so far, sorted by address, each with a bit
 * per page set while the page is pooled, one set while it is in the cold
 * map, and where its huge pages start. Regions past REGION_MAX (16 GiB
 * of them) are not tracked: their pages never leave as runs, and go back
 * one by one. */
#define REGION_PAGES (RESERVE_REGION / HAK_PAGE_SIZE)
#define REGION_MAX   256
typedef struct {
    uint8_t *start, *end;
    uint8_t *huge_from; /* pages from here on are in huge pages (NULL: none are) */
    size_t npooled, ncold;
    uint64_t pooled[REGION_PAGES / 64];
    uint64_t cold[REGION_PAGES / 64];   /* decommitted pages in huge pages (cold_add) */
    uint64_t listed[REGION_PAGES / 64]; /* decommitted pages on the cold list (hak_os_freed) */
} region_t;
static region_t regions[REGION_MAX];
static unsigned region_count;
/* Bumped whenever the set of regions changes: what free's check of a
 * pointer it does not know remembers of them (hak_os_freed). */
static _Atomic(unsigned) regions_gen;
/* Whether regions of sparse pages ask for huge pages too: once the program
 * is seen to fill its larger blocks (sparse_probe). */
static bool sparse_thp;
/* The kernel's transparent huge page mode (hak_os_init). */
static enum { THP_MADVISE, THP_ALWAYS, THP_NEVER } thp_mode;

/* Whether one mremap moves a range that spans several mappings (Linux
 * 6.17 on; hak_os_init). */
static bool moves_spans;

bool hak_os_moves_spans(void) {
    return moves_spans;
}

/* Linux 6.17 and later move a range of several mappings with one mremap,
 * as long as its size stays. Before, such a move fails, and only after the
 * kernel has unmapped the destination: a block made of moved spans
 * (large.c, span_compose), several mappings, could not be moved again
 * without leaving a hole in the block it was moved into. The release is
 * read with uname, a syscall that allocates nothing. */
static void read_release(void) {
    struct utsname u;
    if (uname(&u) != 0) return;
    unsigned v[2] = {0, 0};
    const char *c = u.release;
    for (unsigned i = 0; i < 2; i++, c += *c == '.') /* "6.18.44-...": 6, 18 */
        for (; *c >= '0' && *c <= '9' && v[i] < 100000; c++)
            v[i] = v[i] * 10 + (unsigned)(*c - '0');
    moves_spans = v[0] > 6 || (v[0] == 6 && v[1] >= 17);
}

void hak_os_init(void) {
    read_release();
    /* What the pool holds back so as not to split a huge page must follow
     * where the kernel really puts them: in mode "always" also in regions
     * nobody advised, in mode "never" nowhere, or pages would be held for
     * nothing. A file of the kernel's (no user can plant it), read with
     * plain system calls: this runs before the allocator is ready. An
     * unreadable one leaves what was advised as the only guide. */
    char buf[128];
    int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    if (strstr(buf, "[always]") != NULL)
        thp_mode = THP_ALWAYS;
    else if (strstr(buf, "[never]") != NULL)
        thp_mode = THP_NEVER;
}
/* Pool pages handed out and not given back, and their recent peak (the
 * peak is sampled under os_lock, whenever the pool is touched). */
static _Atomic(size_t) pages_out;
static hak_retain_t pages_retain;
/* When memory last went back to the kernel, for churn_bytes. */
static _Atomic(uint64_t) last_giveback_us;

void hak_os_note_giveback(void) {
    atomic_store_explicit(&last_giveback_us, hak_now_us(), memory_order_relaxed);
}

/* Give-backs taken out of a pool or cache and not yet made: until they are,
 * what they hold is neither in the pool for hak_os_reclaim to take nor the
 * kernel's, and a mapping that failed would fail again on retry (the purge
 * thread may be a second into unmapping a hundred megabytes). Raised under
 * the lock the pages were taken out under, so that a reclaim taking that
 * lock afterwards sees either the pages or the count. */
static _Atomic(int) giveback_pending;

void hak_os_giveback_taken(void) {
    atomic_fetch_add_explicit(&giveback_pending, 1, memory_order_relaxed);
}
void hak_os_giveback_made(void) {
    atomic_fetch_sub_explicit(&giveback_pending, 1, memory_order_release);
}

void hak_os_note_fresh(size_t bytes) {
    uint64_t last = atomic_load_explicit(&last_giveback_us, memory_order_relaxed);
    if (last != 0 && hak_now_us() - last < 1000000) hak_gstat_add(HAK_S_churn_bytes, bytes);
}

static void count_map(size_t len) {
    hak_gstat_add(HAK_S_os_mmap, 1);
    hak_stats_mapped((long long)len);
}

void *hak_os_map(size_t len) {
    int saved = errno;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = saved;
    if (p == MAP_FAILED) return NULL;
    count_map(len);
    return p;
}

void hak_os_unmap(void *p, size_t len) {
    int saved = errno;
    if (munmap(p, len) != 0) hak_msg("munmap(%p, %zu) failed (errno %d)", p, len, errno);
    errno = saved;
    hak_gstat_add(HAK_S_os_munmap, 1);
    hak_stats_mapped(-(long long)len);
}

/* madvise, counted, errno kept: advice is never worth a program's errno. */
static void advise(void *p, size_t len, int advice) {
    int saved = errno;
    (void)madvise(p, len, advice);
    errno = saved;
    hak_gstat_add(HAK_S_os_madvise, 1);
}

void hak_os_decommit(void *p, size_t len) {
    advise(p, len, MADV_DONTNEED);
}

bool hak_os_resize(void *p, size_t old_len, size_t new_len) {
    int saved = errno;
    void *q = mremap(p, old_len, new_len, 0);
    errno = saved;
    if (q == MAP_FAILED) return false;
    hak_gstat_add(HAK_S_os_mremap, 1);
    hak_stats_mapped((long long)new_len - (long long)old_len);
    return true;
}

bool hak_os_move(void *p, size_t old_len, size_t new_len, void *to) {
    int saved = errno;
    void *q = mremap(p, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    errno = saved;
    if (q == MAP_FAILED) return false;
    /* `to` was counted when it was mapped; the old range is gone. */
    hak_gstat_add(HAK_S_os_mremap, 1);
    hak_stats_mapped(-(long long)old_len);
    return true;
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

/* Set once a large block of thp_min or more was found filled
 * (hak_os_large_made, hak_os_large_freed): from then on such blocks ask
 * for huge pages. */
static _Atomic(bool) large_dense;

/* Whether a block of len bytes may ask for huge pages (thp_min). */
static bool huge_size(size_t len) {
    size_t thp = (size_t)hak_knob(THP_MIN);
    return thp != 0 && len >= thp && len >= HUGE_PAGE;
}

/* Whether a block of len bytes asks for huge pages: once the program is
 * seen to fill such blocks. A huge page is resident whole as soon as any
 * byte of it is touched, and big blocks are not all filled. xz callocs a
 * hash of 17 MB that its input touches here and there: 34 MiB of peak RSS
 * when every large block asked, 17 without (glibc 16). sort mallocs a
 * buffer of 31 MB for a small input and uses a little at both ends: 10.2
 * MiB against 6.6. What this gives up: a program that fills one big buffer
 * and keeps it faults it in 4 KiB at a time, as under the C library (sort
 * of 11 MB: 0.9-1.3 s, 0.5-0.9 s when it asked; glibc 0.8-1.1). */
static bool wants_huge(size_t len) {
    return huge_size(len) && atomic_load_explicit(&large_dense, memory_order_relaxed);
}

/* Which of the 4 KiB pages of [p, p + len) are resident, a byte each in
 * vec (mincore): false where the kernel's pages are not 4 KiB or a page of
 * the range is not mapped. errno is kept: the callers are allocation
 * paths. */
static bool resident_pages(const void *p, size_t len, unsigned char *vec) {
    if (getauxval(AT_PAGESZ) != HAK_GRANULE) return false;
    int saved = errno;
    int rc = mincore((void *)p, len, vec);
    errno = saved;
    hak_gstat_add(HAK_S_os_thp_probe, 1);
    return rc == 0;
}

/* Whether the program filled most of [p, p + len), a large block of ours,
 * mapped or not (mincore fails on a hole: no). Four windows of a huge
 * page's size, spread from the block's start to its end (they overlap in
 * a block under four huge pages): a filled block has them all resident,
 * one touched here and there few. */
static bool block_filled(const void *p, size_t len) {
    enum { WINDOWS = 4, PAGES = HUGE_PAGE / HAK_GRANULE };
    unsigned char vec[PAGES];
    size_t resident = 0, step = (len - HUGE_PAGE) / (WINDOWS - 1) & ~(size_t)(HAK_GRANULE - 1);
    size_t windows = step != 0 ? WINDOWS : 1;
    for (size_t w = 0; w < windows; w++) {
        if (!resident_pages((const uint8_t *)p + w * step, HUGE_PAGE, vec)) return false;
        for (size_t i = 0; i < PAGES; i++) resident += vec[i] & 1;
    }
    return resident * 2 >= windows * PAGES;
}

/* Whether large blocks are still to be looked at: big enough ones, where
 * the kernel may give huge pages, until one was found filled. */
static bool large_unknown(size_t len) {
    return huge_size(len) && thp_mode != THP_NEVER &&
           !atomic_load_explicit(&large_dense, memory_order_relaxed);
}

static void large_seen(const void *p, size_t len) {
    if (!block_filled(p, len)) return;
    atomic_store_explicit(&large_dense, true, memory_order_relaxed);
    hak_gstat_add(HAK_S_os_thp_large, 1);
}

/* The last large block made while large_unknown: a program that fills its
 * buffers has filled it by its next one, and keeps it (a frame, a sort
 * buffer) as often as it frees it. Two words that a race may pair wrong:
 * mincore of a range that is not the block's misleads once, and faults
 * nothing. */
static _Atomic(uintptr_t) made_at;
static _Atomic(size_t) made_len;

void hak_os_large_made(const void *p, size_t len) {
    if (!large_unknown(len)) return;
    uintptr_t at = atomic_exchange_explicit(&made_at, (uintptr_t)p, memory_order_relaxed);
    size_t at_len = atomic_exchange_explicit(&made_len, len, memory_order_relaxed);
    if (at != 0 && at != (uintptr_t)p && huge_size(at_len)) large_seen((const void *)at, at_len);
}

void hak_os_large_freed(const void *p, size_t len) {
    /* Not to be looked at again when the next one is made: its pages may
     * be anyone's by then. Read first: a compare-and-swap on every large
     * free would take the line from every other thread's, where made_at
     * names this block only while large blocks are looked at. */
    uintptr_t at = (uintptr_t)p;
    if (atomic_load_explicit(&made_at, memory_order_relaxed) == at)
        atomic_compare_exchange_strong_explicit(&made_at, &at, 0, memory_order_relaxed,
                                                memory_order_relaxed);
    if (large_unknown(len)) large_seen(p, len);
}

size_t hak_os_huge_page(size_t len) {
    return wants_huge(len) && thp_mode != THP_NEVER ? HUGE_PAGE : 0;
}

void *hak_os_map_large(size_t len, size_t align) {
    if (!wants_huge(len) || align > HUGE_PAGE) return hak_os_map_aligned(len, align);
    /* A fault costs as much as writing a few hundred kilobytes (tens of
     * microseconds in a VM that shadows page tables): a buffer of
     * megabytes that the program fills is mostly page faults unless its
     * pages are huge. Only whole huge pages inside the block are asked
     * for, so the tail never holds more than the program touches. */
    uint8_t *p = hak_os_map_aligned(len, HUGE_PAGE);
    if (p == NULL) return hak_os_map_aligned(len, align);
    advise(p, len & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
    return p;
}

/* Bit i of a region's page map. */
static bool map_bit(const uint64_t *map, size_t i) {
    return map[i / 64] >> (i % 64) & 1;
}

/* Sets (on) or clears bit i of a region's map, which must have been the
 * other way. */
static void map_set(uint64_t *map, size_t i, bool on) {
    uint64_t bit = 1ull << (i % 64);
    hak_assert(!(map[i / 64] & bit) == on);
    if (on)
        map[i / 64] |= bit;
    else
        map[i / 64] &= ~bit;
}

/* The index in r of the page at p. */
static size_t region_page(const region_t *r, const void *p) {
    return (size_t)((const uint8_t *)p - r->start) / HAK_PAGE_SIZE;
}

/* Unmaps the pages of r's cold map: they cannot be linked into a chain to
 * unmap later (cold_add), so os_lock is held across the calls (a reclaim,
 * or a region dropped: rare). */
static void cold_unmap_region(region_t *r) {
    for (size_t i = 0; r->ncold != 0 && i < REGION_PAGES; i++) {
        if (!map_bit(r->cold, i)) continue;
        size_t n = 1;
        while (i + n < REGION_PAGES && map_bit(r->cold, i + n)) n++;
        hak_os_unmap(r->start + i * HAK_PAGE_SIZE, n * HAK_PAGE_SIZE);
        r->ncold -= n;
        cold_mapped -= n;
        i += n - 1;
    }
    memset(r->cold, 0, sizeof r->cold);
}

/* os_lock held for the region functions. */
static void region_add(uint8_t *start, uint8_t *end) {
    hak_assert_locked(&os_lock);
    /* A region that overlaps the new one was given back in part (its
     * uncarved rest by a reclaim, carved pages as the large tier's spans):
     * no page of it there is pooled, and one entry must answer for each
     * address. Its pooled pages elsewhere only stop forming runs; its cold
     * map goes with it, so the pages in it go back to the kernel now. */
    unsigned kept = 0;
    for (unsigned j = 0; j < region_count; j++) {
        if (regions[j].end <= start || regions[j].start >= end)
            regions[kept++] = regions[j];
        else
            cold_unmap_region(&regions[j]);
    }
    region_count = kept;
    atomic_fetch_add_explicit(&regions_gen, 1, memory_order_release);
    if (region_count == REGION_MAX) return;
    unsigned i = region_count++;
    for (; i > 0 && regions[i - 1].start > start; i--) regions[i] = regions[i - 1];
    regions[i] = (region_t){.start = start, .end = end};
}

/* The tracked region holding p, or NULL. */
static region_t *region_of(const void *p) {
    const uint8_t *a = p;
    unsigned lo = 0, hi = region_count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (a < regions[mid].start)
            hi = mid;
        else if (a >= regions[mid].end)
            lo = mid + 1;
        else
            return &regions[mid];
    }
    return NULL;
}

unsigned hak_os_regions_gen(void) {
    return atomic_load_explicit(&regions_gen, memory_order_acquire);
}

bool hak_os_freed(const void *p, uintptr_t lo, uintptr_t hi, bool *near) {
    bool freed = false;
    hak_lock(&os_lock);
    /* Regions are sorted and disjoint: the first that ends past lo is the
     * only one that can meet [lo, hi) without starting inside it. */
    unsigned first = 0, last = region_count;
    while (first < last) {
        unsigned mid = (first + last) / 2;
        if ((uintptr_t)regions[mid].end <= lo)
            first = mid + 1;
        else
            last = mid;
    }
    *near = first < region_count && (uintptr_t)regions[first].start < hi;
    const region_t *r = region_of(p);
    if (r != NULL) {
        size_t i = region_page(r, p);
        freed = map_bit(r->pooled, i) || map_bit(r->cold, i) || map_bit(r->listed, i);
    }
    hak_unlock(&os_lock);
    return freed;
}

static void region_mark(const void *page, bool pooled) {
    region_t *r = region_of(page);
    if (r == NULL) return;
    map_set(r->pooled, region_page(r, page), pooled);
    r->npooled += pooled ? 1 : (size_t)-1;
}

/* The first huge page boundary at or after p. */
static uint8_t *huge_up(const uint8_t *p) {
    return (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
}

/* The kernel gives huge pages to the whole aligned 2 MiB ranges of an
 * advised range; a region of 2 MiB or more starts on one (reserve_carve). */
static void region_set_huge(const uint8_t *start, uint8_t *from) {
    region_t *r = region_of(start);
    if (thp_mode == THP_NEVER || r == NULL || (size_t)(r->end - r->start) < HUGE_PAGE) return;
    uint8_t *f = huge_up(from);
    if (r->huge_from == NULL || f < r->huge_from) r->huge_from = f;
}

static bool region_huge(const region_t *r, const void *page) {
    return r != NULL && r->huge_from != NULL && (const uint8_t *)page >= r->huge_from;
}

/* The first page of the huge page that holds page. */
static uint8_t *huge_first(const void *page) {
    return (uint8_t *)((uintptr_t)page & ~(uintptr_t)(HUGE_PAGE - 1));
}

/* The index in r of the first page of the huge page that holds page. */
static size_t huge_index(const region_t *r, const void *page) {
    return region_page(r, huge_first(page));
}

/* Whether every page of the huge page that holds page is pooled or in the
 * cold map: nothing of it is in use. */
static bool huge_free(const region_t *r, const void *page) {
    size_t i = huge_index(r, page);
    return (uint32_t)((r->pooled[i / 64] | r->cold[i / 64]) >> (i % 64)) == UINT32_MAX;
}
_Static_assert(HUGE_PAGES == 32, "a huge page's pooled bits are one half of a word");

#define PROBE_SPAN ((size_t)4 << 20)

/* Pages of blocks over 4 KiB get huge pages only if the program fills its
 * blocks: carving and freeing touch only the 4 KiB page where a block
 * starts, and a program that uses the first bytes of its 20 KiB blocks
 * would get the rest resident and zeroed too (larson-mid: peak RSS
 * 1,005 against 304 MiB, kernel time 3.0 against 1.6 s), while one that fills
 * them (sqlite3's page cache) takes a page fault per 4 KiB and a TLB
 * entry per 4 KiB without them. So each time 4 MiB more of the sparse
 * region is carved, one mincore call looks at the 4 MiB carved before
 * those (their blocks had time to be used): among the 4 KiB pages of
 * pages in use where no block starts, which only the program touches,
 * once half are resident, the rest of the region and every later one ask
 * for huge pages (and the question is not asked again: in huge pages
 * everything is resident). os_lock held. */
static void sparse_probe(void) {
    enum { GRANULES = HAK_PAGE_SIZE / HAK_GRANULE };
    unsigned char vec[PROBE_SPAN / HAK_GRANULE];
    size_t carved = (size_t)(reserve[0].next - reserve[0].start);
    if (sparse_thp || carved < 2 * PROBE_SPAN || carved % PROBE_SPAN != 0) return;
    uint8_t *from = reserve[0].next - 2 * PROBE_SPAN;
    if (!resident_pages(from, PROBE_SPAN, vec)) return;
    size_t untouched = 0, resident = 0;
    for (size_t pg = 0; pg < PROBE_SPAN / HAK_PAGE_SIZE; pg++) {
        uintptr_t e = hak_registry_get(from + pg * HAK_PAGE_SIZE);
        unsigned cls = (unsigned)(e & HAK_REG_CLASS_MASK);
        if (cls == 0 || hak_os_class_tag(cls) == HAK_OS_TAG_FULL) continue;
        /* Immutable fields, as check_block_start reads them. */
        const hak_page_t *page = (const hak_page_t *)(e & ~HAK_REG_CLASS_MASK);
        size_t bs = page->block_size, blocks_end = (size_t)(page->end - page->base);
        for (size_t g = 0; g < GRANULES; g++) {
            size_t first_start = (g * HAK_GRANULE + bs - 1) / bs * bs;
            /* Carving touched it, if a block starts there: past a page's
             * last block (65520 for 4368-byte blocks) none does. */
            if (first_start < (g + 1) * HAK_GRANULE && first_start < blocks_end) continue;
            untouched++;
            resident += vec[pg * GRANULES + g] & 1;
        }
    }
    if (untouched < GRANULES || resident * 2 < untouched) return;
    sparse_thp = true;
    hak_gstat_add(HAK_S_os_thp_sparse, 1);
    advise(reserve[0].next, (size_t)(reserve[0].end - reserve[0].next), MADV_HUGEPAGE);
    region_set_huge(reserve[0].start, reserve[0].next);
}

/* A fresh page from the current region of its kind (dense: for a class
 * that backs a page whole, hak_os_class_tag). os_lock held. */
static void *reserve_carve(bool dense) {
    uint8_t **next = &reserve[dense].next, **end = &reserve[dense].end;
    size_t thp = (size_t)hak_knob(THP_MIN);
    if (*next == *end) {
        /* Short of address space (RLIMIT_AS, overcommit limits), smaller
         * regions still serve: halve until one page. */
        uint8_t *r = NULL;
        size_t len = RESERVE_REGION;
        for (; len >= HAK_PAGE_SIZE && r == NULL; len /= 2)
            r = hak_os_map_aligned(len, len >= HUGE_PAGE ? HUGE_PAGE : HAK_PAGE_SIZE);
        if (r == NULL) return NULL;
        reserve[dense].start = *next = r;
        *end = r + len * 2;
        region_add(r, *end);
        /* A program that has filled thp_min of pool pages is a big one:
         * its regions after the first ask for huge pages, each a page fault
         * instead of 512 (sqlite3 building a 300,000-row index: 1.5 s ->
         * 1.1 s, glibc 1.3 s), those of sparse pages once it fills its
         * blocks (sparse_probe). Small programs never get there, so a huge
         * page cannot make their few pages of each class cost 2 MiB: a
         * dense region reserved before that asks once it is filled. (A
         * program that starts with a block over 4 KiB reserves its dense
         * region second: it asked at once, and 1,000 blocks of 64 bytes
         * took 3.9 MiB of RSS against 2.0 without.) Where the kernel's mode
         * is "always", a region nobody advised gets huge pages all the same
         * (the administrator's choice, as for the C library's heap): the
         * pool must know. */
        bool later = reserved_bytes != 0;
        reserved_bytes += len * 2;
        if (dense) dense_wants_huge = false;
        if ((dense || sparse_thp) && thp != 0 && later && carved_bytes >= thp) {
            advise(r, len * 2, MADV_HUGEPAGE);
            region_set_huge(r, r);
        } else if (!dense && thp != 0) {
            advise(r, len * 2, MADV_NOHUGEPAGE); /* where the kernel's default is always */
        } else {
            dense_wants_huge = thp != 0 && later;
            if (thp_mode == THP_ALWAYS) region_set_huge(r, r);
        }
    }
    void *p = *next;
    *next += HAK_PAGE_SIZE;
    carved_bytes += HAK_PAGE_SIZE;
    if (dense_wants_huge && carved_bytes >= thp) {
        /* From the dense region's next huge page on. */
        dense_wants_huge = false;
        uint8_t *from = huge_up(reserve[1].next);
        if (from < reserve[1].end) {
            advise(from, (size_t)(reserve[1].end - from), MADV_HUGEPAGE);
            region_set_huge(reserve[1].start, from);
        }
    }
    if (!dense && thp != 0 && carved_bytes >= thp) sparse_probe();
    return p;
}

/* Blocks whose starts leave no 4 KiB page of the page untouched back it
 * whole: no gap between starts, nor after the last one, exceeds a granule
 * (3584-byte blocks leave the last 4 KiB page untouched). */
uint8_t hak_os_class_tag(unsigned cls) {
    size_t bs = hak_class_size[cls];
    return bs + HAK_PAGE_SIZE % bs <= HAK_GRANULE ? HAK_OS_TAG_FULL : (uint8_t)cls;
}

uint8_t hak_os_tag_after(uint8_t had, unsigned cls) {
    /* A page another class has backed will back cls's offsets too: a
     * superset of cls's, so it is cls's page from now on. */
    return had == HAK_OS_TAG_FULL ? HAK_OS_TAG_FULL : hak_os_class_tag(cls);
}

/* os_lock held for the four below (and pool_hold, pool_take_out). */
static void note_oldest(void) {
    atomic_store_explicit(&pool_oldest_us, pool_oldest != NULL ? pool_oldest->freed_us : 0,
                          memory_order_relaxed);
}

static void pool_unlink(pool_node_t *n) {
    hak_assert_locked(&os_lock);
    hak_assert(pool_count > 0);
    if (n->held) {
        HAK_DLIST_REMOVE(held_newest, held_oldest, n);
        atomic_fetch_sub_explicit(&held_count, 1, memory_order_relaxed);
    } else {
        HAK_DLIST_REMOVE(pool_newest, pool_oldest, n);
    }
    HAK_DLIST_REMOVE_VIA(tag_newest[n->tag], tag_oldest[n->tag], n, tnext, tprev);
    pool_count--;
    region_mark(n, false);
    note_oldest();
}

static void pool_push(pool_node_t *n) {
    hak_assert_locked(&os_lock);
    n->held = false;
    HAK_DLIST_PUSH_FRONT(pool_newest, pool_oldest, n);
    HAK_DLIST_PUSH_FRONT_VIA(tag_newest[n->tag], tag_oldest[n->tag], n, tnext, tprev);
    pool_count++;
    region_mark(n, true);
    note_oldest();
}

/* Whether the program, at `at` (its clock; 0: not asked), has not called
 * the pool, nor the large tier, for the pool's delay: held pages may go
 * back (pool_expire). Read unlocked by hak_os_expire as a cheap look, and
 * again under os_lock, so that a call made in between counts. */
static bool pool_idle(uint64_t at) {
    return hak_retain_idle(&pages_retain, at);
}

/* Moves n from the age list to the held list (os_lock held). */
static void pool_hold(pool_node_t *n) {
    HAK_DLIST_REMOVE(pool_newest, pool_oldest, n);
    n->held = true;
    HAK_DLIST_PUSH_FRONT(held_newest, held_oldest, n);
    atomic_fetch_add_explicit(&held_count, 1, memory_order_relaxed);
    note_oldest();
    hak_gstat_add(HAK_S_os_page_held, 1);
}

/* Puts n, out of the pool, on the list `out` of pages to give back, as
 * itself (not its huge page). */
static void expired_push(pool_node_t *n, pool_node_t **out) {
    n->whole = false;
    n->next = *out;
    *out = n;
}

/* Unlinks n and puts it on the list `out` (os_lock held). */
static void pool_take_out(pool_node_t *n, pool_node_t **out) {
    pool_unlink(n);
    expired_push(n, out);
}

/* Takes out the huge page that holds page, every page of which is pooled
 * or cold (huge_free), as one node that stands for all of it: release_expired
 * gives back the 2 MiB in one call and puts them all in the cold map. The
 * cold ones were decommitted already, but a huge page faulted in since for
 * one of them backs them all again, and a give-back of the rest alone would
 * split it. os_lock held. */
static void huge_take_out(region_t *r, uint8_t *page, pool_node_t **out) {
    size_t i = huge_index(r, page);
    uint32_t cold = (uint32_t)(r->cold[i / 64] >> (i % 64));
    r->cold[i / 64] &= ~((uint64_t)cold << (i % 64));
    r->ncold -= (size_t)__builtin_popcount(cold);
    cold_mapped -= (size_t)__builtin_popcount(cold);
    pool_node_t *first = NULL;
    for (size_t k = 0; k < HUGE_PAGES; k++) {
        if (cold >> k & 1) continue;
        pool_node_t *n = (pool_node_t *)(r->start + (i + k) * HAK_PAGE_SIZE);
        pool_unlink(n);
        if (first == NULL) first = n;
    }
    first->whole = true;
    first->next = *out;
    *out = first;
}

/* Takes out of the pool every page past its age or beyond what retention
 * keeps, counted as a give-back taken (os_lock held).
 *
 * Except a page in a huge page of which other pages are in use (or lent to
 * the large tier): giving back part of a huge page splits it into 4 KiB
 * pages, and frees nothing until the kernel runs short of memory and splits
 * the rest too (its deferred split); what stays of it is then mapped page by
 * page for as long as it lives. In a VM that shadows page tables every one
 * of those pages costs a fault the guest does not see, on its next touch
 * (redis, pipelined SET of 64 KiB values into memory its 1 KiB values had
 * used: 11 to 20 huge pages split during the case, 1.1 to 2.0 s of CPU in
 * the server against 0.7 to 0.9 s with nothing given back, the difference
 * in its copies into the values). So such a page waits on the held
 * list, still pooled, and goes back with its huge page once nothing of that
 * is in use (every page pooled or cold: huge_take_out; a page freed to
 * complete it is on the age list), or when the program is idle (idle_at:
 * it has not called the pool, nor the large tier, for the delay), when what
 * it holds matters more than what the split costs. Held pages are past
 * retention's bound already and do not count against it.
 *
 * all: the program asked for its free memory back (hak_trim): every page
 * goes, those that split a huge page too, and retention does not take the
 * give-back for one of its own (cache_expire in large.c says why). */
static pool_node_t *pool_expire(uint64_t now, uint64_t idle_at, bool all) {
    size_t out = atomic_load_explicit(&pages_out, memory_order_relaxed);
    hak_retain_note(&pages_retain, out, now);
    size_t floor = (size_t)hak_knob(CHUNK_POOL_PAGES);
    size_t keep = (size_t)hak_retain_cap(floor, &pages_retain, out);
    pool_node_t *expired = NULL;
    while (pool_oldest != NULL) {
        size_t held = atomic_load_explicit(&held_count, memory_order_relaxed);
        bool bound = pool_count - held > keep;
        if (!all && !bound && !hak_retain_past(&pages_retain, pool_oldest->freed_us, now)) break;
        pool_node_t *old = pool_oldest;
        region_t *r = region_of(old);
        if (all || !region_huge(r, old)) {
            if (!all) hak_retain_gave_back(&pages_retain, bound, now);
            pool_take_out(old, &expired);
        } else if (huge_free(r, old)) {
            if (!all) hak_retain_gave_back(&pages_retain, bound, now);
            huge_take_out(r, (uint8_t *)old, &expired);
        } else {
            pool_hold(old);
        }
    }
    if (held_oldest != NULL && (all || pool_idle(idle_at))) {
        if (!all) hak_retain_gave_back(&pages_retain, false, now);
        while (held_oldest != NULL) pool_take_out(held_oldest, &expired);
    }
    if (pool_count > floor) hak_purge_wanted();
    if (expired != NULL) hak_os_giveback_taken();
    return expired;
}

/* A page of r (NULL: of no tracked region) joins or leaves the cold list. */
static void listed_mark(region_t *r, const void *page, bool on) {
    if (r != NULL) map_set(r->listed, region_page(r, page), on);
}

/* The whole cold list, taken to be unmapped (hak_os_reclaim). os_lock held. */
static void *cold_list_take(void) {
    void *list = cold_head;
    cold_head = NULL;
    for (unsigned j = 0; j < region_count; j++)
        memset(regions[j].listed, 0, sizeof regions[j].listed);
    return list;
}

/* Pages the kernel backs nothing of join the decommitted ones: on the cold
 * list, linked through their first words, except in huge pages, where
 * writing the link would fault in a whole huge page again, zeroed: such a
 * page is a bit in its region's cold map. os_lock held. */
static void cold_add(uint8_t *start, size_t len) {
    hak_assert_locked(&os_lock);
    for (uint8_t *pg = start; pg < start + len; pg += HAK_PAGE_SIZE) {
        region_t *r = region_of(pg);
        if (region_huge(r, pg)) {
            map_set(r->cold, region_page(r, pg), true);
            r->ncold++;
            cold_mapped++;
        } else {
            *(void **)pg = cold_head;
            cold_head = pg;
            listed_mark(r, pg, true);
        }
    }
}

/* A decommitted page, the lowest in the cold maps when the list is empty;
 * NULL if there is none. os_lock held. */
static void *cold_take(void) {
    void *p = cold_head;
    if (p != NULL) {
        cold_head = *(void **)p;
        listed_mark(region_of(p), p, false);
        return p;
    }
    for (unsigned j = 0; j < region_count && cold_mapped != 0; j++) {
        region_t *r = &regions[j];
        for (size_t w = 0; r->ncold != 0 && w < REGION_PAGES / 64; w++) {
            if (r->cold[w] == 0) continue;
            size_t i = w * 64 + (size_t)__builtin_ctzll(r->cold[w]);
            r->cold[w] &= r->cold[w] - 1;
            r->ncold--;
            cold_mapped--;
            return r->start + i * HAK_PAGE_SIZE;
        }
    }
    return NULL;
}

/* Unmaps the pages of every cold map (hak_os_reclaim). os_lock held. */
static bool cold_unmap_mapped(void) {
    bool any = cold_mapped != 0;
    for (unsigned j = 0; j < region_count && cold_mapped != 0; j++) cold_unmap_region(&regions[j]);
    return any;
}

/* The pooled page that backs least anew when it serves blocks of tag
 * `want`, or NULL when a decommitted page should serve instead; *had is
 * the page's tag, *matched whether it has nothing new to back. */
static void *pool_take(uint8_t want, uint8_t *had, bool *matched) {
    pool_node_t *n = tag_newest[want];
    if (n == NULL) n = tag_newest[HAK_OS_TAG_FULL];
    /* Any other page would back want's offsets on top of its own, and keep
     * both for as long as it serves. Blocks that back a page whole do so
     * whichever page they get, so the newest serves them; larger ones take
     * a decommitted page while there is one, and the pages that matched
     * nobody age out of the pool. Measured on larson-mid: peak RSS 407 ->
     * 335 MiB, with the same throughput and sys time. */
    if (n == NULL && (want == HAK_OS_TAG_FULL || (cold_head == NULL && cold_mapped == 0)))
        n = pool_newest != NULL ? pool_newest : held_newest;
    if (n == NULL) return NULL;
    pool_unlink(n);
    *had = n->tag;
    *matched = n->tag == want || n->tag == HAK_OS_TAG_FULL;
    return n;
}

static void *page_alloc(uint8_t want, uint8_t *had) {
    *had = HAK_OS_TAG_NONE; /* unless it comes from the pool */
#ifdef HAK_REENTRY_BUG
    /* A re-entry bug, kept for the test that must catch it: the pool asks
     * the wrapped posix_memalign, i.e. hakmem itself, for its page. */
    void *page = NULL;
    return posix_memalign(&page, HAK_PAGE_SIZE, HAK_PAGE_SIZE) == 0 ? page : NULL;
#endif
    hak_align_mode_t mode = (hak_align_mode_t)hak_knob(ALIGN_MODE);
    void *p = NULL;
    if (mode == HAK_ALIGN_CHUNK_POOL || mode == HAK_ALIGN_RESERVE) {
        bool fresh = false, matched = false;
        hak_lock(&os_lock);
        p = pool_take(want, had, &matched);
        if (p == NULL && mode == HAK_ALIGN_RESERVE) {
            /* A decommitted page comes back from the kernel, zeroed, like
             * a fresh one. */
            p = cold_take();
            if (p == NULL) p = reserve_carve(want == HAK_OS_TAG_FULL);
            fresh = true;
        }
        /* The pool had nothing for us: what comes next is the kernel's
         * (one page: the pool counts pages, as pages_out does). */
        uint64_t now = hak_now_us();
        hak_retain_active(&pages_retain, now);
        if (p == NULL || fresh) hak_retain_fresh(&pages_retain, 1, now, POOL_BOOST_PCT);
        hak_unlock(&os_lock);
        if (p != NULL) {
            hak_gstat_add(fresh ? HAK_S_os_page_fresh : HAK_S_os_page_pooled, 1);
            if (matched) hak_gstat_add(HAK_S_os_page_matched, 1); /* after pooled */
            if (fresh) hak_os_note_fresh(HAK_PAGE_SIZE);
            return p;
        }
        if (mode == HAK_ALIGN_RESERVE) return NULL;
    }
    p = mode == HAK_ALIGN_RELAXED ? hak_os_map(HAK_PAGE_SIZE)
                                  : hak_os_map_aligned(HAK_PAGE_SIZE, HAK_PAGE_SIZE);
    if (p != NULL) {
        hak_gstat_add(HAK_S_os_page_fresh, 1);
        hak_os_note_fresh(HAK_PAGE_SIZE);
    }
    return p;
}

void *hak_os_page_alloc(unsigned cls, uint8_t *had) {
    uint8_t want = hak_os_class_tag(cls);
    void *p = page_alloc(want, had);
    if (p == NULL && hak_os_reclaim()) p = page_alloc(want, had);
    if (p != NULL) atomic_fetch_add_explicit(&pages_out, 1, memory_order_relaxed);
    return p;
}

static void page_back(void) {
    atomic_fetch_sub_explicit(&pages_out, 1, memory_order_relaxed);
}

void hak_os_page_unused(void *p, uint8_t had) {
    if (had != HAK_OS_TAG_NONE) {
        hak_os_page_free(p, had);
        return;
    }
    page_back();
    /* Nothing backed: a reserved page joins the decommitted ones as it is;
     * a page mapped for the request goes back to the kernel. */
    if ((hak_align_mode_t)hak_knob(ALIGN_MODE) == HAK_ALIGN_RESERVE) {
        hak_lock(&os_lock);
        cold_add(p, HAK_PAGE_SIZE);
        hak_unlock(&os_lock);
    } else
        hak_os_unmap(p, HAK_PAGE_SIZE);
}

static pool_node_t *merge_pages(pool_node_t *a, pool_node_t *b) {
    pool_node_t head, *t = &head;
    while (a != NULL && b != NULL) {
        pool_node_t **least = (uintptr_t)a < (uintptr_t)b ? &a : &b;
        t = t->next = *least;
        *least = (*least)->next;
    }
    t->next = a != NULL ? a : b;
    return head.next;
}

/* A list of pages in address order (a merge sort on `next`), so that the
 * pages freed together, adjacent, go back in one call: each madvise or
 * munmap of a process with several threads costs a TLB shootdown, an
 * interrupt to every CPU (redis, its pool's pages expiring one call each
 * while 64 KiB values arrive: 12 % of its time). */
static pool_node_t *sort_pages(pool_node_t *list) {
    pool_node_t *bins[64] = {NULL}; /* bins[i]: a sorted list of 2^i pages */
    while (list != NULL) {
        pool_node_t *n = list;
        list = list->next;
        n->next = NULL;
        unsigned i = 0;
        for (; bins[i] != NULL; i++) {
            n = merge_pages(bins[i], n);
            bins[i] = NULL;
        }
        bins[i] = n;
    }
    pool_node_t *out = NULL;
    for (unsigned i = 0; i < 64; i++)
        if (bins[i] != NULL) out = merge_pages(bins[i], out);
    return out;
}

/* Where an expired node's give-back starts, and its length: its page, or
 * the huge page it stands for (huge_take_out). */
static uint8_t *expired_start(const pool_node_t *n) {
    return n->whole ? huge_first(n) : (uint8_t *)n;
}
static size_t expired_len(const pool_node_t *n) {
    return n->whole ? HUGE_PAGE : HAK_PAGE_SIZE;
}

/* Unmaps [start, start + len), pages out of the pool, after clearing their
 * marks (hak_os_page_free): whatever is mapped there next is not hakmem's
 * to call freed. */
static void unmap_pooled(uint8_t *start, size_t len) {
    for (size_t off = 0; off < len; off += HAK_PAGE_SIZE) hak_registry_set_page(start + off, 0);
    hak_os_unmap(start, len);
}

/* Expired pages go back: chunk_pool unmaps them, reserve decommits them
 * (a reserved region is never split by munmap), a run of adjacent pages at
 * a time. No lock held. */
static void release_expired(pool_node_t *expired) {
    if (expired == NULL) return;
    bool unmap = (hak_align_mode_t)hak_knob(ALIGN_MODE) == HAK_ALIGN_CHUNK_POOL;
    hak_os_note_giveback();
    /* Spans never overlap, so address order of the nodes is theirs. */
    for (expired = sort_pages(expired); expired != NULL;) {
        uint8_t *start = expired_start(expired);
        size_t len = expired_len(expired);
        /* Links read before the call: a decommitted page reads as zeros. */
        pool_node_t *next = expired->next;
        while (next != NULL && expired_start(next) == start + len) {
            len += expired_len(next);
            next = next->next;
        }
        if (unmap) {
            unmap_pooled(start, len);
        } else {
            hak_os_decommit(start, len);
            hak_lock(&os_lock);
            cold_add(start, len);
            hak_unlock(&os_lock);
        }
        expired = next;
    }
    hak_os_giveback_made();
}

void hak_os_page_free(void *p, uint8_t tag) {
    page_back();
    hak_align_mode_t mode = (hak_align_mode_t)hak_knob(ALIGN_MODE);
    if (mode == HAK_ALIGN_RELAXED || mode == HAK_ALIGN_OVERALLOC) {
        hak_os_note_giveback();
        hak_os_unmap(p, HAK_PAGE_SIZE);
        return;
    }
    /* Marked before it is pooled: from then on another thread may take it
     * and register it for its blocks. The page map's leaf is there (the
     * page was registered) unless registering failed; then marking maps
     * one, or fails and leaves the page unmarked. */
    if (mode == HAK_ALIGN_CHUNK_POOL) hak_registry_set_page(p, HAK_REG_POOLED);
    uint64_t now = hak_now_us();
    pool_node_t *n = p;
    hak_lock(&os_lock);
    hak_retain_active(&pages_retain, now);
    n->freed_us = now;
    n->tag = tag;
    pool_push(n);
    pool_node_t *expired = pool_expire(now, 0, false);
    hak_unlock(&os_lock);
    release_expired(expired);
}

bool hak_os_kept(void) {
    return atomic_load_explicit(&pool_oldest_us, memory_order_relaxed) != 0 ||
           atomic_load_explicit(&held_count, memory_order_relaxed) != 0;
}

/* pool_expire under the lock, and what it took out released. */
static bool expire_now(uint64_t idle_at, bool all) {
    hak_lock(&os_lock);
    pool_node_t *expired = pool_expire(hak_now_us(), idle_at, all);
    hak_unlock(&os_lock);
    release_expired(expired);
    return expired != NULL;
}

bool hak_os_expire(uint64_t now) {
    bool idle = atomic_load_explicit(&held_count, memory_order_relaxed) != 0 && pool_idle(now);
    if (!idle && !hak_retain_past(&pages_retain,
                                  atomic_load_explicit(&pool_oldest_us, memory_order_relaxed), now))
        return false;
    return expire_now(idle ? now : 0, false);
}

bool hak_os_trim(void) {
    return expire_now(0, true);
}

/* The first run of at least `need` adjacent pooled pages in r, cut at
 * `most`: its first page's index and, in *len, its pages; -1 if none. */
static long region_run(const region_t *r, size_t need, size_t most, size_t *len) {
    size_t pages = (size_t)(r->end - r->start) / HAK_PAGE_SIZE, run = 0;
    if (r->npooled < need) return -1;
    for (size_t i = 0; i < pages; i++) {
        if (map_bit(r->pooled, i)) {
            if (++run < most) continue;
            *len = run;
            return (long)(i + 1 - run);
        }
        if (run >= need) {
            *len = run;
            return (long)(i - run);
        }
        run = 0;
        if (i % 64 == 0 && r->pooled[i / 64] == 0) i += 63; /* no pooled page in this word */
    }
    if (run < need) return -1;
    *len = run;
    return (long)(pages - run);
}

void hak_os_note_large_call(uint64_t now) {
    /* redis, after FLUSHALL of 1 KiB values: SET and GET of 64 KiB values
     * call only the large tier for two seconds, then LPUSH wants as many
     * bytes again. With the pool idle by its own calls, its pages went
     * back after one delay and LPUSH faulted every byte in afresh. Only
     * reserve mode's pages serve the large tier. A store per millisecond
     * at most, as large calls come from every thread; and never an older
     * time over a newer one (the caller read its clock before waiting for
     * its lock), which would shorten the wait to one delay. */
    if ((hak_align_mode_t)hak_knob(ALIGN_MODE) != HAK_ALIGN_RESERVE) return;
    uint64_t was = __atomic_load_n(&pages_retain.active_us, __ATOMIC_RELAXED);
    while (now > was + 1000 &&
           !__atomic_compare_exchange_n(&pages_retain.active_us, &was, now, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
    }
}

void *hak_os_take_run(size_t len, size_t most, size_t *got) {
    if ((hak_align_mode_t)hak_knob(ALIGN_MODE) != HAK_ALIGN_RESERVE) return NULL;
    size_t need = (len + HAK_PAGE_SIZE - 1) / HAK_PAGE_SIZE, max = most / HAK_PAGE_SIZE;
    if (max < need) max = need;
    uint8_t *run = NULL;
    size_t n = 0;
    hak_lock(&os_lock);
    for (unsigned i = 0; i < region_count && pool_count >= need && run == NULL; i++) {
        long first = region_run(&regions[i], need, max, &n);
        if (first >= 0) run = regions[i].start + (size_t)first * HAK_PAGE_SIZE;
    }
    for (size_t k = 0; k < n && run != NULL; k++)
        pool_unlink((pool_node_t *)(run + k * HAK_PAGE_SIZE));
    hak_unlock(&os_lock);
    if (run == NULL) return NULL;
    hak_gstat_add(HAK_S_os_page_to_large, n);
    *got = n * HAK_PAGE_SIZE;
    return run;
}

void hak_os_return_run(uint8_t *start, size_t len) {
    size_t pages = len / HAK_PAGE_SIZE;
    hak_assert((uintptr_t)start % HAK_PAGE_SIZE == 0 && len % HAK_PAGE_SIZE == 0);
    uint64_t now = hak_now_us();
    pool_node_t *expired = NULL;
    bool tracked = true;
    hak_lock(&os_lock);
    /* A region dropped since (region_add) no longer says where its huge
     * pages are: its pages go back the old way, unmapped. */
    for (size_t k = 0; k < pages && tracked; k++)
        tracked = region_of(start + k * HAK_PAGE_SIZE) != NULL;
    for (size_t k = 0; k < pages && tracked; k++) {
        uint8_t *pg = start + k * HAK_PAGE_SIZE;
        pool_node_t *n = (pool_node_t *)pg;
        if (!region_huge(region_of(pg), pg)) {
            expired_push(n, &expired);
            continue;
        }
        n->freed_us = now;
        n->tag = HAK_OS_TAG_FULL;
        pool_push(n);
    }
    /* Past its age already (the large tier's): a page goes back with its
     * huge page if nothing of that is in use now, else is held, as
     * pool_expire would hold it, until it is, or the program idles. */
    uint8_t *whole = NULL; /* the huge page last taken out whole */
    for (size_t k = 0; k < pages && tracked; k++) {
        uint8_t *pg = start + k * HAK_PAGE_SIZE;
        region_t *r = region_of(pg);
        if (!region_huge(r, pg) || huge_first(pg) == whole) continue;
        if (huge_free(r, pg)) {
            whole = huge_first(pg);
            huge_take_out(r, pg, &expired);
        } else {
            pool_hold((pool_node_t *)pg);
        }
    }
    if (expired != NULL) hak_os_giveback_taken();
    hak_unlock(&os_lock);
    if (!tracked) {
        hak_os_unmap(start, len);
        return;
    }
    hak_gstat_add(HAK_S_os_page_from_large, pages);
    release_expired(expired);
}

/* Unmaps a chain of pages linked through their first words: the
 * decommitted ones (cold_add's), or the pool's age or held list, whose next
 * is a node's first word too. */
static void unmap_chain(void *page) {
    while (page != NULL) {
        void *next = *(void **)page;
        unmap_pooled(page, HAK_PAGE_SIZE);
        page = next;
    }
}
_Static_assert(offsetof(pool_node_t, next) == 0, "unmap_chain follows a pool node's first word");

/* Takes every page out of the pool, as chains for unmap_chain (os_lock
 * held). */
static void pool_empty(pool_node_t **warm, pool_node_t **held) {
    *warm = pool_newest;
    *held = held_newest;
    pool_newest = pool_oldest = held_newest = held_oldest = NULL;
    atomic_store_explicit(&held_count, 0, memory_order_relaxed);
    memset(tag_newest, 0, sizeof tag_newest);
    memset(tag_oldest, 0, sizeof tag_oldest);
    pool_count = 0;
    for (unsigned i = 0; i < region_count; i++) {
        memset(regions[i].pooled, 0, sizeof regions[i].pooled);
        regions[i].npooled = 0;
    }
    note_oldest();
}

/* Under memory pressure (a mapping failed): returns the blocks cached in
 * exited threads' heaps to their pages, unmaps every page waiting in the
 * pools and the unused rest of the current reserved region, and asks the
 * large tier to drop its cache, so that the address space they hold
 * serves the request that failed. Splitting a reserved region is the price,
 * paid only here. Called with no hakmem lock held but the caller's heap
 * lock. True when anything was given back. */
bool hak_os_reclaim(void) {
    static _Atomic(bool) busy;
    if (atomic_exchange_explicit(&busy, true, memory_order_acquire)) return false;
    /* First, so that the pages this empties are among those unmapped. */
    bool any = hak_heaps_reclaim();
    hak_lock(&os_lock);
    pool_node_t *warm, *held;
    pool_empty(&warm, &held);
    void *cold = cold_list_take();
    any |= cold_unmap_mapped();
    uint8_t *rest[2];
    size_t rest_len[2];
    for (int k = 0; k < 2; k++) {
        rest[k] = reserve[k].next;
        rest_len[k] = (size_t)(reserve[k].end - reserve[k].next);
        reserve[k].start = reserve[k].next = reserve[k].end = NULL;
    }
    hak_unlock(&os_lock);
    any |= warm != NULL || held != NULL || cold != NULL || rest_len[0] != 0 || rest_len[1] != 0;
    unmap_chain(warm);
    unmap_chain(held);
    unmap_chain(cold);
    for (int k = 0; k < 2; k++)
        if (rest_len[k] != 0) hak_os_unmap(rest[k], rest_len[k]);
    any |= hak_large_reclaim();
    /* Both locks were taken above, so every give-back that was pending has
     * been counted; what they free serves the retry as well. */
    while (atomic_load_explicit(&giveback_pending, memory_order_acquire) != 0) {
        any = true;
        sched_yield();
    }
    /* In reserve mode such a give-back only decommits: its pages joined
     * the cold list or maps after it was taken above, still mapped, and the
     * retry needs their address space as well; the large tier's returns
     * (hak_os_return_run) may have pooled pages again. */
    hak_lock(&os_lock);
    pool_empty(&warm, &held);
    cold = cold_list_take();
    cold_unmap_mapped();
    hak_unlock(&os_lock);
    unmap_chain(warm);
    unmap_chain(held);
    unmap_chain(cold);
    atomic_store_explicit(&busy, false, memory_order_release);
    return any;
}

void hak_os_lock_all(void) {
    hak_lock(&os_lock);
}
void hak_os_unlock_all(bool child) {
    if (child) {
        hak_lock_reset(&os_lock);
        /* A give-back the parent's purge thread was making stays in the
         * child's address space, never to be made: waiting for it would
         * hang the child's first reclaim. */
        atomic_store_explicit(&giveback_pending, 0, memory_order_relaxed);
    } else
        hak_unlock(&os_lock);
}
