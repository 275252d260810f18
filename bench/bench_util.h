/* bench_util.h — what the workload programs share: Gloger's lran2 generator,
 * the monotonic clock, strict argument parsing (and the whole command line
 * of the workloads that take [SECONDS [SEED [COUNT]]]) and the one result
 * line (or JSON object) every workload prints, which compare and hak-tune
 * parse.
 *
 * Header-only on purpose: each workload stays one translation unit that
 * builds with a bare `gcc -std=c11 prog.c`, and nothing here is linked
 * against the allocator under test. */
#ifndef HAKMEM_BENCH_UTIL_H
#define HAKMEM_BENCH_UTIL_H

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* lran2: a linear congruential sequence behind a 97-entry shuffle table.
 * Larson's classic driver uses it, so our sizes and slot picks follow the
 * same kind of sequence; its small state also makes every thread's stream
 * cheap to seed and reproducible across libcs (rand() is not). */
#define LRAN2_MOD   714025L
#define LRAN2_MUL   1366L
#define LRAN2_ADD   150889L
#define LRAN2_TABLE 97

typedef struct {
    long x;    /* the underlying congruential state */
    long last; /* previous output: it chooses the next table entry */
    long table[LRAN2_TABLE];
} lran2_t;

static inline long lran2_next_x(long x) {
    return (LRAN2_MUL * x + LRAN2_ADD) % LRAN2_MOD;
}

static inline void lran2_seed(lran2_t *g, long seed) {
    /* Reduce first so (ADD - seed) cannot overflow for extreme seeds. */
    long x = (LRAN2_ADD - seed % LRAN2_MOD) % LRAN2_MOD;
    if (x < 0) x += LRAN2_MOD;
    for (int i = 0; i < LRAN2_TABLE; i++) {
        x = lran2_next_x(x);
        g->table[i] = x;
    }
    x = lran2_next_x(x);
    g->x = x;
    g->last = x;
}

/* Returns a value in [0, LRAN2_MOD). */
static inline long lran2(lran2_t *g) {
    long j = g->last * LRAN2_TABLE / LRAN2_MOD; /* last < MOD, so j < 97 */
    g->last = g->table[j];
    g->x = lran2_next_x(g->x);
    g->table[j] = g->x;
    return g->last;
}

/* Uniform-enough value in [0, n), n > 0. One draw covers only 714025 values,
 * so wider ranges (big Larson slices, multi-MiB sizes) combine two. */
static inline uint64_t lran2_below(lran2_t *g, uint64_t n) {
    if (n <= (uint64_t)LRAN2_MOD) return (uint64_t)lran2(g) % n;
    uint64_t hi = (uint64_t)lran2(g);
    uint64_t lo = (uint64_t)lran2(g);
    return (hi * (uint64_t)LRAN2_MOD + lo) % n;
}

/* Folds several integers into one lran2 seed, so streams seeded from
 * (seed, slice, generation) differ even when the inputs differ by one. */
static inline long bench_mix_seed(long seed, long a, long b) {
    uint64_t z = (uint64_t)seed * 0x9E3779B97F4A7C15ull;
    z ^= (uint64_t)a * 0xC2B2AE3D27D4EB4Full + 0x165667B19E3779F9ull;
    z ^= (uint64_t)b * 0xD6E8FEB86659FD93ull;
    z ^= z >> 31;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 29;
    return (long)(z % (uint64_t)LRAN2_MOD);
}

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleeps until an absolute CLOCK_MONOTONIC time, surviving signals. */
static inline void bench_sleep_until(double t) {
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* Strict parsers: the whole string must be a number within [lo, hi].
 * On failure they print "PROG: NAME ..." and return false. */
static inline bool bench_parse_long(const char *prog, const char *name, const char *s, long lo,
                                    long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        fprintf(stderr, "%s: %s must be an integer, got '%s'\n", prog, name, s);
        return false;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "%s: %s must be between %ld and %ld, got %ld\n", prog, name, lo, hi, v);
        return false;
    }
    *out = v;
    return true;
}

static inline bool bench_parse_seconds(const char *prog, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > 86400) {
        fprintf(stderr, "%s: SECONDS must be a number > 0 and <= 86400, got '%s'\n", prog, s);
        return false;
    }
    *out = v;
    return true;
}

/* Takes "NAME N" out of argv wherever it appears, N an integer in [lo, hi]
 * (a workload's own options, before bench_parse_args sees the positional
 * ones). false, with a message, when N is missing or bad. */
static inline bool bench_take_long(const char *prog, int *argc, char **argv, const char *name,
                                   long lo, long hi, long *out) {
    int n = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], name) != 0) {
            argv[n++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            fprintf(stderr, "%s: %s needs a number\n", prog, name);
            return false;
        }
        if (!bench_parse_long(prog, name, argv[i + 1], lo, hi, out)) return false;
        i++;
    }
    *argc = n;
    argv[n] = NULL;
    return true;
}

/* Removes every "--json" from argv (it may appear anywhere) and reports
 * whether one was present; also spots "-h"/"--help". */
static inline bool bench_take_flags(int *argc, char **argv, bool *help) {
    bool json = false;
    int n = 1;
    *help = false;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            *help = true;
        else
            argv[n++] = argv[i];
    }
    *argc = n;
    argv[n] = NULL;
    return json;
}

/* What every workload's main does first, so --json, --help and a wrong
 * argument count behave alike in all of them: help wins over bad arguments.
 * Returns -1 to go on, with MIN_ARGS..MAX_ARGS positional arguments left in
 * argv; otherwise main returns the result after printing its usage, on
 * stdout for 0 (help) and on stderr for 2 (wrong count). */
static inline int bench_start(int *argc, char **argv, int min_args, int max_args, bool *json) {
    bool help;
    *json = bench_take_flags(argc, argv, &help);
    if (help) return 0;
    if (*argc - 1 < min_args || *argc - 1 > max_args) return 2;
    return -1;
}

/* The single-process workloads (all but larson) take the same command line,
 *   PROG [SECONDS [SEED [COUNT]]] [--json]
 * with COUNT the one size knob of each; describing it as data keeps their
 * parsing, limits and usage text from drifting apart. */
typedef struct {
    const char *prog;
    const char *seed_help;  /* what SEED picks; NULL: "random seed" */
    const char *count_name; /* LIVE, ACTIVE, PAIRS */
    const char *count_help;
    long count_default, count_max; /* COUNT's range starts at 1 */
    const char *counts;            /* the usage's last line: what Throughput counts */
} bench_cli_t;

typedef struct {
    double seconds;
    long seed, count;
    bool json;
} bench_args_t;

static inline void bench_usage(const bench_cli_t *cli, FILE *f) {
    fprintf(f,
            "usage: %s [SECONDS [SEED [%s]]] [--json]\n"
            "  SECONDS  run time (default 5)\n"
            "  SEED     %s (default 1)\n"
            "  %-8s %s (default %ld)\n"
            "%s\n",
            cli->prog, cli->count_name, cli->seed_help ? cli->seed_help : "random seed",
            cli->count_name, cli->count_help, cli->count_default, cli->counts);
}

/* Returns -1 with A filled in, or the exit status main should return. */
static inline int bench_parse_args(const bench_cli_t *cli, int argc, char **argv, bench_args_t *a) {
    *a = (bench_args_t){.seconds = 5, .seed = 1, .count = cli->count_default};
    int status = bench_start(&argc, argv, 0, 3, &a->json);
    if (status >= 0) {
        bench_usage(cli, status == 0 ? stdout : stderr);
        return status;
    }
    if ((argc > 1 && !bench_parse_seconds(cli->prog, argv[1], &a->seconds)) ||
        (argc > 2 && !bench_parse_long(cli->prog, "SEED", argv[2], LONG_MIN, LONG_MAX, &a->seed)) ||
        (argc > 3 &&
         !bench_parse_long(cli->prog, cli->count_name, argv[3], 1, cli->count_max, &a->count)))
        return 2;
    return -1;
}

/* Runs n threads, fn(the i-th of n elements of `size` bytes at args), for
 * `seconds` from *start (set here), then sets *stop and joins them: the
 * shape of every timed multi-threaded workload. false (with a message)
 * when a thread cannot be created. */
static inline bool bench_run_threads(const char *prog, long n, void *(*fn)(void *), void *args,
                                     size_t size, double seconds, atomic_bool *stop,
                                     double *start) {
    pthread_t *t = calloc((size_t)n, sizeof *t);
    if (t == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return false;
    }
    *start = bench_now();
    for (long i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, fn, (char *)args + (size_t)i * size) != 0) {
            fprintf(stderr, "%s: cannot create threads\n", prog);
            return false;
        }
    bench_sleep_until(*start + seconds);
    atomic_store(stop, true);
    for (long i = 0; i < n; i++) pthread_join(t[i], NULL);
    free(t);
    return true;
}

/* The result line is the contract with compare and hak-tune:
 * "Throughput = N operations per second", or one JSON object with --json.
 * A workload whose live bytes depend on the allocator's speed (a queue
 * that fills when its producer outruns its consumer) also says how many
 * bytes of its own blocks were live at the most, "Peak live = N bytes",
 * so that peak RSS can be read beyond them; LIVE_PEAK < 0 says nothing. */
static inline void bench_report_live(double ops, double elapsed_s, long threads_started,
                                     double live_peak, bool json) {
    double tput = elapsed_s > 0 ? ops / elapsed_s : 0.0;
    if (json) {
        printf("{\"throughput\":%.0f,\"elapsed_s\":%.6f,\"threads_started\":%ld,"
               "\"operations\":%.0f",
               tput, elapsed_s, threads_started, ops);
        if (live_peak >= 0) printf(",\"live_peak_bytes\":%.0f", live_peak);
        printf("}\n");
    } else {
        if (live_peak >= 0) printf("Peak live = %.0f bytes\n", live_peak);
        printf("Throughput = %.0f operations per second\n", tput);
    }
    fflush(stdout);
}

static inline void bench_report(double ops, double elapsed_s, long threads_started, bool json) {
    bench_report_live(ops, elapsed_s, threads_started, -1, json);
}

#endif /* HAKMEM_BENCH_UTIL_H */
