/* knobs.h — what the tools may see of libhakmem besides its public header:
 * the knob table (every setting, its type, default, bounds, scale and help),
 * the helpers that parse, format and look up knob values, the start-up that
 * fills the table from the system profile, HAKMEM_CONFIG and the
 * environment, and the names of the stats counters.
 *
 * hakmem-config, hak-tune and the bench drivers include this header and
 * link the hakmem_knobs library; nothing outside libhakmem includes a file
 * of libhakmem/src. Inside the allocator the same code runs: the helpers
 * never allocate nor use stdio, and the start-up (whose profile parser
 * does allocate) runs once, while this thread's requests go to the C
 * library. */
#ifndef HAK_KNOBS_H
#define HAK_KNOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------
 * Knobs: the one table. Loader, environment overrides, validation, dump,
 * docs and the tuner's search space all read it.
 *   X(ID, name, type, default, min, max, scale, tunable, enum values, help)
 * ---------------------------------------------------------------------- */

typedef enum { HAK_T_INT, HAK_T_SIZE, HAK_T_BOOL, HAK_T_ENUM } hak_knob_type_t;
typedef enum { HAK_SCALE_LINEAR, HAK_SCALE_LOG } hak_knob_scale_t;

typedef enum {
    HAK_ALIGN_OVERALLOC,
    HAK_ALIGN_CHUNK_POOL,
    HAK_ALIGN_RESERVE,
    HAK_ALIGN_RELAXED,
} hak_align_mode_t;

#define HAK_ALIGN_MODE_NAMES "overalloc", "chunk_pool", "reserve", "relaxed"

#define HAK_KNOBS(X)                                                                               \
    X(IDLE_THRESHOLD_US, "idle_threshold_us", HAK_T_INT, 1000, 0, 60000000, HAK_SCALE_LOG, 1,      \
      NULL, "microseconds a page owner may stay idle before other threads may adopt its pages")    \
    X(CHUNK_POOL_PAGES, "chunk_pool_pages", HAK_T_INT, 512, 0, 65536, HAK_SCALE_LOG, 1, NULL,      \
      "freed 64 KiB pages the pool keeps committed whatever the program did before (a floor: "     \
      "retain_pct may keep more; chunk_pool: 0 with retain_pct 0 behaves as overalloc)")           \
    X(RELEASE_DELAY_MS, "release_delay_ms", HAK_T_INT, 1000, 0, 3600000, HAK_SCALE_LOG, 1, NULL,   \
      "milliseconds freed pages and large spans stay mapped for reuse after the program's last "   \
      "call into a tier they serve (4 times as long unused while it still calls one) before "      \
      "going back to the OS; doubled, up to 16 times, while memory that went back is soon taken "  \
      "fresh again")                                                                               \
    X(RETAIN_PCT, "retain_pct", HAK_T_INT, 100, 0, 400, HAK_SCALE_LINEAR, 1, NULL,                 \
      "beyond those floors, the page pool and the span cache keep freed memory while it brings "   \
      "their memory in use back to this percent of its recent peak, up to 1.5 times that while "   \
      "what they give back is soon taken fresh again (0: the floors alone)")                       \
    X(PURGE_THREAD, "purge_thread", HAK_T_BOOL, 1, 0, 1, HAK_SCALE_LINEAR, 0, NULL,                \
      "a background thread returns memory past release_delay_ms when the program stops calling; "  \
      "started only once more than the floors is kept (0: only the program's own calls do)")       \
    X(ALIGN_MODE, "align_mode", HAK_T_ENUM, HAK_ALIGN_RESERVE, 0, 3, HAK_SCALE_LINEAR, 1,          \
      hak_align_mode_names, "how the OS layer obtains 64 KiB pages")                               \
    X(WRAP_TINY, "wrap_tiny", HAK_T_BOOL, 1, 0, 1, HAK_SCALE_LINEAR, 1, NULL,                      \
      "hakmem serves the tiny tier; 0 hands it to the C library")                                  \
    X(WRAP_MID, "wrap_mid", HAK_T_BOOL, 1, 0, 1, HAK_SCALE_LINEAR, 1, NULL,                        \
      "hakmem serves the mid tier (the MF2 pool); 0 hands it to the C library")                    \
    X(WRAP_LARGE, "wrap_large", HAK_T_BOOL, 1, 0, 1, HAK_SCALE_LINEAR, 1, NULL,                    \
      "hakmem serves the large tier; 0 hands it to the C library")                                 \
    X(TINY_MAX, "tiny_max", HAK_T_SIZE, 1024, 128, 4096, HAK_SCALE_LOG, 1, NULL,                   \
      "largest request of the tiny tier, in bytes")                                                \
    X(MID_MAX, "mid_max", HAK_T_SIZE, 32768, 4096, 32768, HAK_SCALE_LOG, 1, NULL,                  \
      "largest request of the mid tier, in bytes; larger ones are large")                          \
    X(MID_OPEN_AFTER, "mid_open_after", HAK_T_INT, 4096, 0, 10000000, HAK_SCALE_LOG, 1, NULL,      \
      "requests of more than 8 KiB up to mid_max the large tier serves before the mid tier's "     \
      "classes above 8 KiB open (0: open from the start)")                                         \
    X(TCACHE_COUNT, "tcache_count", HAK_T_INT, 64, 2, 1024, HAK_SCALE_LOG, 1, NULL,                \
      "most blocks a thread caches per size class at first")                                       \
    X(TCACHE_BYTES, "tcache_bytes", HAK_T_SIZE, 65536, 16384, 8388608, HAK_SCALE_LOG, 1, NULL,     \
      "most bytes a thread caches per size class at first")                                        \
    X(TCACHE_MAX_BYTES, "tcache_max_bytes", HAK_T_SIZE, 8388608, 16384, 67108864, HAK_SCALE_LOG,   \
      1, NULL,                                                                                     \
      "most bytes a size class's thread cache grows to: one that overflows and runs empty in "     \
      "turn doubles its limit, up to this or 1024 blocks; a full one then sets its blocks aside "  \
      "whole, up to this many bytes more, for a release delay")                                    \
    X(TCACHE_GROW_PCT, "tcache_grow_pct", HAK_T_INT, 10, 0, 100, HAK_SCALE_LINEAR, 1, NULL,        \
      "most the caches of all threads may grow together, in percent of the pool memory in use "    \
      "plus 8 MiB (0: caches keep their first limits)")                                            \
    X(DRAIN_SCAN, "drain_scan", HAK_T_INT, 8, 1, 256, HAK_SCALE_LOG, 1, NULL,                      \
      "full pages checked for remote frees per refill before taking a new page")                   \
    X(LARGE_CACHE_SPANS, "large_cache_spans", HAK_T_INT, 4096, 0, 65536, HAK_SCALE_LOG, 1, NULL,   \
      "most freed large spans (runs of free granules, merged when adjacent) the cache holds")      \
    X(LARGE_CACHE_BYTES, "large_cache_bytes", HAK_T_SIZE, 8388608, 0, 1073741824, HAK_SCALE_LOG,   \
      1, NULL,                                                                                     \
      "bytes of freed large spans the cache keeps mapped whatever the program did before (a "      \
      "floor: retain_pct may keep more)")                                                          \
    X(THP_MIN, "thp_min", HAK_T_SIZE, 2097152, 0, 1073741824, HAK_SCALE_LOG, 1, NULL,              \
      "memory asks for transparent huge pages, one page fault per 2 MiB instead of 512: large "    \
      "blocks of at least this many bytes once the program is seen to fill such blocks, and the "  \
      "page pool's regions once it has filled this much, those of blocks over 4 KiB once the "     \
      "program is seen to fill them (0: never)")                                                   \
    X(HARDENED, "hardened", HAK_T_BOOL, 0, 0, 1, HAK_SCALE_LINEAR, 0, NULL,                        \
      "every free takes the slow path, which also refuses blocks never handed out (the default "   \
      "already catches double frees and interior pointers)")                                       \
    X(STRICT, "strict", HAK_T_BOOL, 0, 0, 1, HAK_SCALE_LINEAR, 0, NULL,                            \
      "refuse to start (exit status 2) on any bad setting instead of using the default")

typedef enum {
#define HAK_KNOB_ENUM(id, ...) HAK_K_##id,
    HAK_KNOBS(HAK_KNOB_ENUM)
#undef HAK_KNOB_ENUM
        HAK_KNOB_COUNT
} hak_knob_id_t;

typedef struct {
    const char *name;
    hak_knob_type_t type;
    long long def, min, max;
    hak_knob_scale_t scale;
    bool tunable;
    const char *const *values; /* enum names, NULL-terminated */
    const char *help;
} hak_knob_info_t;

/* Where a knob's value came from, in the order they are applied: each
 * beats the ones before it. */
typedef enum {
    HAK_SRC_DEFAULT,
    HAK_SRC_SYSTEM, /* the administrator's system-wide profile */
    HAK_SRC_PROFILE,
    HAK_SRC_ENV,
} hak_knob_source_t;

extern const hak_knob_info_t hak_knob_table[HAK_KNOB_COUNT];
extern long long hak_knob_value[HAK_KNOB_COUNT]; /* written only during start-up */
extern hak_knob_source_t hak_knob_src[HAK_KNOB_COUNT];
extern const char *const hak_knob_source_name[]; /* "default", "system", ... */
#define hak_knob(id) (hak_knob_value[HAK_K_##id])

/* The knob called name, or -1. */
int hak_knob_find(const char *name);
/* The known knob closest to name, when it is close enough to be a typo. */
const char *hak_knob_suggest(const char *name);
/* The words a boolean takes (1/0, true/false, yes/no, on/off, any case);
 * false when text is none of them. */
bool hak_bool_parse(const char *text, bool *out);
/* Parses text (a profile string or an environment value) for knob k; false
 * when it is not a value k accepts. */
bool hak_knob_parse(hak_knob_id_t k, const char *text, long long *out);
/* "what is allowed" for knob k, for messages; as snprintf sizes it. */
size_t hak_knob_allowed(hak_knob_id_t k, char *buf, size_t cap);
/* Knob k's value v as it is written in a profile; as snprintf sizes it. */
size_t hak_knob_format(hak_knob_id_t k, long long v, char *buf, size_t cap);

/* Fills the table: built-in defaults, then the system profile, then the
 * profile named by HAKMEM_CONFIG, then the HAKMEM_<KNOB> variables (none of
 * which a secure-execution process obeys). Reports every bad value on
 * stderr; false when strict mode refuses to start. hak_options_clean tells
 * afterwards whether anything at all was wrong. Runs once. */
bool hak_options_init(void);
extern bool hak_options_clean;
/* What a profile load made of its file: absent (the system profile may
 * be), refused or unparsable (said why on stderr), or read (its good lines
 * took effect). */
typedef enum { HAK_PROFILE_ABSENT, HAK_PROFILE_REFUSED, HAK_PROFILE_READ } hak_profile_state_t;
/* What start-up read, for the start-up report and the summary at exit: the
 * system profile's state, and HAKMEM_CONFIG's value as resolved to a path
 * ("" when unset) with its state. */
extern hak_profile_state_t hak_options_system_state;
extern char hak_options_profile[1024];
extern hak_profile_state_t hak_options_profile_state;
/* HAKMEM_VERBOSE: report the settings at start-up (hak_options_report). */
extern bool hak_options_verbose;
/* The start-up report: the version, the profiles read and every knob that
 * differs from its default, with its value and source, as one block on
 * stderr (one write). */
void hak_options_report(void);
/* Set by hak_options_init before it reads anything: the process runs with
 * more privilege than its caller (getauxval(AT_SECURE): setuid, setgid,
 * file capabilities), so it reads the system profile alone, obeys no
 * HAKMEM_ variable and says nothing about its settings. */
extern bool hak_secure;
/* The administrator's profile, read in every process: a build setting
 * (HAKMEM_SYSTEM_PROFILE, /etc/hakmem.cfg by default), never a variable. */
extern const char hak_system_profile_path[];
/* Every knob as a profile line with its source; as snprintf sizes it. */
size_t hak_options_dump(char *buf, size_t cap);

/* ------------------------------------------------------------------------
 * Stats: the one counter list. The report, the JSON, hak_stat() and the
 * tools that read a run's JSON back all take the names from here.
 * ---------------------------------------------------------------------- */

#define HAK_STATS(X)                                                                               \
    X(tiny_alloc, "allocations served by the tiny tier")                                           \
    X(tiny_free, "frees of tiny blocks")                                                           \
    X(mid_alloc, "allocations served by the mid tier (MF2 pool)")                                  \
    X(mid_free, "frees of mid blocks")                                                             \
    X(large_alloc, "allocations served by the large tier")                                         \
    X(large_free, "frees of large blocks")                                                         \
    X(libc_alloc, "requests handed to the C library (unwrapped tier or start-up)")                 \
    X(libc_free, "frees of blocks the C library owns")                                             \
    X(fast_alloc, "small allocations served from the thread cache")                                \
    X(slow_alloc, "small allocations that refilled the thread cache")                              \
    X(fast_free, "small frees absorbed by the thread cache")                                       \
    X(slow_free, "small frees that flushed the thread cache")                                      \
    X(cache_grown, "thread caches that doubled their limit after overflowing")                     \
    X(cache_parked, "full thread caches set aside whole, for a class the thread also allocates")   \
    X(parked_returned,                                                                             \
      "blocks set aside that went back to their pages: unused for a release delay, at exit, or "   \
      "short of memory")                                                                           \
    X(owner_free, "blocks returned to a page by its owner thread")                                 \
    X(remote_free, "blocks pushed onto another owner's remote list")                               \
    X(drain, "remote lists collected by an owner in one exchange")                                 \
    X(drained_blocks, "blocks collected by drains")                                                \
    X(page_new, "pages carved fresh from the OS layer")                                            \
    X(page_reused, "pages reused after being refilled by frees")                                   \
    X(page_adopted, "pages adopted from the pending queue")                                        \
    X(page_released, "empty pages given back to the OS layer")                                     \
    X(pending_enqueued, "pages put on the pending queue (idle or exited owner)")                   \
    X(pending_drained, "pages taken off the pending queue")                                        \
    X(large_cache_hit, "large allocations served from the span cache")                             \
    X(large_composed,                                                                              \
      "large allocations made of smaller cached spans moved together (mremap) rather than mapped " \
      "fresh")                                                                                     \
    X(compose_refused,                                                                             \
      "moves the kernel refused while making a block of cached spans: their pages are left "       \
      "where they were, and no block is made so again")                                            \
    X(large_held,                                                                                  \
      "expired parts of 64 KiB pages kept in the large cache until the rest of their page is "     \
      "free or the program idles")                                                                 \
    X(mid_deferred, "mid-size requests served by the large tier before the mid tier opened")       \
    X(threads_started, "threads that created a heap")                                              \
    X(threads_exited, "threads whose heap was released at exit")                                   \
    X(os_page_fresh, "64 KiB pages the OS layer obtained (or got back) from the kernel")           \
    X(os_page_pooled, "64 KiB pages the OS layer reused, still committed, from its pool")          \
    X(os_page_matched, "pooled pages reused with nothing new to back (same class, or all backed)") \
    X(os_page_to_large, "pooled pages the large tier took, in runs, instead of new mappings")      \
    X(os_page_from_large, "pages the large tier gave back to the pool: whole 64 KiB pages of "     \
                          "expired spans in reserved "                                             \
                          "regions")                                                               \
    X(os_page_held,                                                                                \
      "pooled pages kept past their age or retention's bound: the rest of their huge page was in " \
      "use, and giving back part of a huge page splits it")                                        \
    X(os_mmap, "mmap calls")                                                                       \
    X(os_munmap, "munmap calls")                                                                   \
    X(os_madvise, "madvise calls")                                                                 \
    X(os_mremap, "mremap calls (large blocks resized by realloc or made of cached spans)")         \
    X(os_thp_probe, "mincore calls that look at whether the program fills its blocks: the pool's " \
                    "pages of blocks over 4 KiB, large blocks (each freed, and the last made "     \
                    "when the next is)")                                                           \
    X(os_thp_sparse, "1 once pages of blocks over 4 KiB get huge pages (the program fills them)")  \
    X(os_thp_large,                                                                                \
      "1 once large blocks of thp_min or more get huge pages: the program filled one")             \
    X(delay_stretched,                                                                             \
      "doublings of a tier's release delay: what it gave back for age came back soon")             \
    X(churn_bytes, "bytes taken fresh from the kernel within a second of giving memory back")      \
    X(purged, "times the purge thread gave memory back while the program made no call")            \
    X(trims, "times the program asked for its free memory back (malloc_trim)")                     \
    X(bytes_mapped, "bytes currently mapped by the OS layer")                                      \
    X(bytes_mapped_peak, "most bytes mapped at once")

typedef enum {
#define HAK_STAT_ENUM(id, help) HAK_S_##id,
    HAK_STATS(HAK_STAT_ENUM)
#undef HAK_STAT_ENUM
        HAK_STAT_COUNT
} hak_stat_id_t;

extern const char *const hak_stat_name[HAK_STAT_COUNT];
extern const char *const hak_stat_help[HAK_STAT_COUNT];

/* ------------------------------------------------------------------------
 * The advisor (advisor.c, which declares the rules): what a run's counters
 * suggest, the last part of the text report. hakmem-config --rules lists
 * the rules; tuner/TUNING.md is the guide they follow.
 * ---------------------------------------------------------------------- */

/* A rule fires when its figure reaches its threshold and its condition
 * holds; figure and condition in words here, in C in advisor.c. */
typedef struct {
    const char *id;
    uint64_t threshold;
    const char *figure, *when, *knobs; /* knobs: what it suggests */
} hak_rule_info_t;

extern const hak_rule_info_t hak_rule_table[];
extern const unsigned hak_rule_count;
/* Whether rule r fires on the counters v. */
bool hak_rule_fires(unsigned r, const uint64_t v[HAK_STAT_COUNT]);
/* Rule r's advice on the counters v, one line without its newline; as
 * snprintf sizes it. */
size_t hak_rule_advice(unsigned r, const uint64_t v[HAK_STAT_COUNT], char *buf, size_t cap);
/* The closing line of advice: hak-tune on this very command line. */
size_t hak_advice_tune(char *buf, size_t cap);

#endif /* HAK_KNOBS_H */
