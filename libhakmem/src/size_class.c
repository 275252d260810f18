/* size_class.c — the size classes of the tiny and mid tiers and the table
 * that maps a request size to its class.
 *
 * Steps of 16 bytes up to 256, then four classes per doubling up to 4 KiB,
 * keep internal waste under 25% (under 11% for 128-256 bytes) while the
 * table lookup on the fast path stays one load. Above 4 KiB a class is the
 * largest size of which k blocks fill a 64 KiB page, for k = 15 down to 2:
 * what a block costs there is its page's share, and four classes a
 * doubling wasted a page's tail on top of the rounding (a 5120-byte class
 * held 12 blocks, 5461 bytes of page each: sqlite's 4368-byte page-cache
 * blocks cost 25 % more than they asked for, and its peak RSS was 1.26
 * times glibc's; 65536 / 15 is 4369; a page's tail is now under 16 bytes
 * a block). No plain request costs more page than it did, and most cost
 * less; an aligned one above 4 KiB takes the first class that is a
 * multiple of its alignment, which can cost up to half as much again
 * (pvalloc(20000): 32768 where 20480 held it).
 *
 * The 16-byte steps up to 256 are for programs whose working set of small
 * objects outgrows the caches: with 32-byte steps there, a working set of
 * 100,000 objects of 8-256 B spanned 9% more cache lines, and churn's
 * simulated last-level misses a replacement were 0.48 against 0.36
 * (cachegrind, 8 MiB LL). The tier of each class follows the tier-boundary
 * knobs; a class whose tier is not wrapped
 * maps to 0, which the fast path treats as "ask the slow path", and the slow
 * path hands the request to the C library.
 *
 * The classes above 8 KiB open lazily. Each class of the mid tier holds at
 * least a page of its own, and its blocks stay with it, so a program that
 * allocates a few hundred buffers of assorted sizes up to 32 KiB keeps a
 * high-water mark per class where one heap would keep one for their sum:
 * git log --stat peaked at 8.2 MiB against glibc's 5.7.
 * Until mid_open_after such requests have been made, the large tier serves
 * them from spans that coalesce when freed, and the classes' entries in
 * the table read 0; the request that reaches the count fills them in. A
 * program that keeps allocating at these sizes pays the large tier's lock,
 * and on a miss in its cache a mapping, for its first few thousand
 * requests only. With the large tier left to the C library nothing is
 * deferred. */
#include "internal.h"

uint8_t hak_class_of[(HAK_SMALL_LIMIT >> 4) + 1];
uint32_t hak_class_size[HAK_CLASS_MAX];
uint32_t hak_class_recip[HAK_CLASS_MAX];
uint8_t hak_class_tier[HAK_CLASS_MAX];
unsigned hak_class_count;

/* Whether hakmem serves tier t or hands it to the C library. */
bool hak_tier_wrapped(hak_tier_t t) {
    switch (t) {
    case HAK_TIER_TINY:
        return hak_knob(WRAP_TINY) != 0;
    case HAK_TIER_MID:
        return hak_knob(WRAP_MID) != 0;
    case HAK_TIER_LARGE:
        return hak_knob(WRAP_LARGE) != 0;
    default:
        return false;
    }
}

/* Tier boundaries rounded up to a class size, so one class never serves
 * requests of two tiers. */
static size_t tiny_max_eff = 1024, mid_max_eff = HAK_SMALL_LIMIT;

hak_tier_t hak_tier_of_size(size_t n) {
    if (n <= tiny_max_eff) return HAK_TIER_TINY;
    if (n <= mid_max_eff) return HAK_TIER_MID;
    return HAK_TIER_LARGE;
}

/* Set once, by the request that opens the mid tier; read by the slow
 * paths only. */
static _Atomic(bool) mid_opened;
static _Atomic(uint64_t) deferred_count;

/* Classes above this open lazily. Below it the large tier's rounding to
 * whole granules would cost too much: sqlite's 4.4 KiB page-cache blocks
 * each took two granules, and its peak RSS grew by 5 %. */
#define DEFER_ABOVE (2 * HAK_GRANULE)

bool hak_class_open(unsigned cls) {
    return hak_class_size[cls] <= DEFER_ABOVE ||
           atomic_load_explicit(&mid_opened, memory_order_relaxed);
}

/* Fills the request table: entry i holds the class of the largest request
 * mapping to it, or 0 (see the header). */
static void fill_class_of(void) {
    unsigned c = 1;
    for (size_t i = 0; i <= (HAK_SMALL_LIMIT >> 4); i++) {
        size_t req = i << 4;
        while (c <= hak_class_count && hak_class_size[c] < req) c++;
        hak_tier_t t = hak_tier_of_size(req ? req : 1);
        bool serve =
            c <= hak_class_count && t != HAK_TIER_LARGE && hak_tier_wrapped(t) && hak_class_open(c);
        __atomic_store_n(&hak_class_of[i], serve ? (uint8_t)c : 0, __ATOMIC_RELAXED);
    }
}

void hak_mid_deferred(void) {
    hak_gstat_add(HAK_S_mid_deferred, 1);
    uint64_t k = atomic_fetch_add_explicit(&deferred_count, 1, memory_order_relaxed) + 1;
    if (k != (uint64_t)hak_knob(MID_OPEN_AFTER)) return;
    /* Exactly one request sees the count: it opens. Others racing with it
     * see a closed entry a moment longer and take the large tier, which
     * serves any size. */
    atomic_store_explicit(&mid_opened, true, memory_order_relaxed);
    fill_class_of();
}

static size_t round_to_class(size_t n) {
    for (unsigned c = 1; c <= hak_class_count; c++)
        if (hak_class_size[c] >= n) return hak_class_size[c];
    return HAK_SMALL_LIMIT;
}

void hak_size_class_init(void) {
    unsigned n = 0;
    /* 16..256 in steps of 16, four steps per doubling up to 4 KiB, then
     * k blocks a page (see the top of the file). */
    for (uint32_t s = 16; s <= 256; s += 16) hak_class_size[++n] = s;
    for (uint32_t base = 256; base < 4096; base *= 2)
        for (uint32_t k = 1; k <= 4; k++) hak_class_size[++n] = base + k * (base / 4);
    for (uint32_t k = HAK_PAGE_SIZE / 4096 - 1; k >= HAK_PAGE_SIZE / HAK_SMALL_LIMIT; k--)
        hak_class_size[++n] = (uint32_t)(HAK_PAGE_SIZE / k) & ~15u;
    hak_assert(n < HAK_CLASS_MAX && hak_class_size[n] == HAK_SMALL_LIMIT);
    hak_class_count = n;
    mid_max_eff = round_to_class((size_t)hak_knob(MID_MAX));
    tiny_max_eff = round_to_class((size_t)hak_knob(TINY_MAX));
    if (tiny_max_eff > mid_max_eff) tiny_max_eff = mid_max_eff;

    for (unsigned c = 1; c <= n; c++) {
        hak_class_tier[c] = (uint8_t)hak_tier_of_size(hak_class_size[c]);
        /* ceil(2^32 / size), which the free fast path multiplies by. */
        hak_class_recip[c] = UINT32_MAX / hak_class_size[c] + 1;
    }
    atomic_store_explicit(&deferred_count, 0, memory_order_relaxed);
    /* The large tier is what serves a closed class: when the C library
     * has that tier, hakmem has nothing to defer to. */
    atomic_store_explicit(&mid_opened, hak_knob(MID_OPEN_AFTER) == 0 || !hak_knob(WRAP_LARGE),
                          memory_order_relaxed);
    fill_class_of();
}

void hak_size_class_fork_child(void) {
    /* The fork may have come between the opener's count and its last
     * store to the table; the child's only thread finishes the job. */
    long long after = hak_knob(MID_OPEN_AFTER);
    if (atomic_load_explicit(&mid_opened, memory_order_relaxed) ||
        (after > 0 &&
         atomic_load_explicit(&deferred_count, memory_order_relaxed) >= (uint64_t)after)) {
        atomic_store_explicit(&mid_opened, true, memory_order_relaxed);
        fill_class_of();
    }
}

unsigned hak_class_for_aligned(size_t n, size_t align) {
    if (align > HAK_MAX_ALIGN_SMALL || n > HAK_SMALL_LIMIT) return 0;
    size_t need = n < align ? align : n;
    /* Blocks sit at page start + k * size, and page starts are 4 KiB
     * aligned at least: a size that is a multiple of align keeps them all
     * aligned. The caller checks that the class's tier is wrapped. */
    for (unsigned k = 1; k <= hak_class_count; k++)
        if (hak_class_size[k] >= need && (hak_class_size[k] & (align - 1)) == 0) return k;
    return 0;
}
