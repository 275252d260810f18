/* testload.c — a workload whose answer is known, for testing hak-tune.
 *
 * It reads its knobs exactly as hakmem does (HAKMEM_CONFIG through the
 * library's own loader) and prints `Throughput = N` where N is a smooth
 * function of them with a known optimum, times seeded noise:
 *
 *   1e6 * A(align_mode) * W(wrap_mid) * exp(-sum (u_k - u*_k)^2 / (2 * 0.35^2))
 *
 * over the knobs' own search coordinates u in [0,1] (log where the table
 * says log). The peaks u*_k sit at fixed distances from the table's
 * defaults, so the landscape keeps its shape when a default changes:
 * idle_threshold_us 0.195 below its default, tcache_count 0.182 above,
 * drain_scan 0.165 above, large_cache_spans 0.406 above (mirrored when that
 * leaves the range; none is a round step away, so no search lands on one
 * by luck). A = 0.70 overalloc, 0.80 chunk_pool, 0.90 reserve, 1.00
 * relaxed; W = 0.6 when wrap_mid is false. The other knobs do nothing, as
 * many knobs do nothing for a given real workload.
 *
 * It spends real CPU time, and the share spent in the kernel (reading
 * /dev/zero) depends on how far idle_threshold_us has moved from its
 * default towards its peak: none before 0.100, 90% from there on. A
 * kernel-time cap between the two cuts the space, and the best point the
 * tuner may choose lies on that cliff, not at the peak. Nothing is faked:
 * rusage sees real kernel time.
 *
 * The two shares lie far from any cap a test sets on purpose. The kernel
 * splits CPU time between user and sys by sampling its tick, so a run of
 * 100 ms is judged on a few dozen samples, fewer on a loaded or virtual
 * machine; a share designed near the cap (as an earlier ramp of 2% to 40%
 * had) was judged on either side of it at random once the machine was
 * busy, and the search's answer moved with the load. On a cliff between
 * nothing and 90%, a few samples still tell the two sides apart, given a
 * cap well between them: start-up and exit alone (exec, page faults,
 * hakmem's set-up) read as up to a quarter of a run on a busy machine.
 *
 * With --rss-mib M it also has a memory model, for the rss objective: it
 * maps and touches M x (0.3 u(chunk_pool_pages) + 0.7 u(tcache_bytes)) MiB
 * of its own (real resident pages, which wait4's peak RSS sees), and its
 * throughput drops to 0.6 of itself when tcache_bytes is more than 0.20
 * below its default in search coordinates (a thread cache too small to
 * hold the working set: a cliff, so a floor of 0.9 of the default's
 * throughput is either met or clearly not). Lowering chunk_pool_pages
 * saves memory for free; lowering tcache_bytes saves more, up to the cliff.
 *
 * With --sys-share S the default itself spends S of its CPU time in the
 * kernel (a program that faults in fresh memory), and raising
 * chunk_pool_pages 0.15 above its default takes that to nothing (the
 * madvise fix of a real server): a cap below S is broken by the default
 * and met by that move, and a relative cap between S and the cliff's 90 %
 * still forbids the cliff.
 *
 * With --big-ms MS it is a slow program of the big-buffer shape: a run
 * sleeps MS times a slowdown that is --big-factor (default 12) while
 * large_cache_bytes stays at or below its default and falls to 1 once it
 * reaches 256 MiB (linearly in search coordinates between), and it
 * allocates growing large buffers, each a fresh mapping, so that the
 * default's counters point at the large tier. One knob, several-fold,
 * found only by a search that reaches it.
 *
 * It allocates a little in every tier, so hakmem's stats show it served the
 * run (--no-malloc does not, to test that the tuner refuses such runs), and
 * --fail makes a region of the space crash, hang, exit or print garbage.
 * --explain prints the noise-free value of a profile against the
 * constrained optimum, for the tests to judge the tuner's answer. */
#include "knobs.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SIGMA 0.35

static double unit(int k, double v) {
    const hak_knob_info_t *kn = &hak_knob_table[k];
    if (kn->scale == HAK_SCALE_LOG) {
        double shift = kn->min <= 0 ? 1.0 - (double)kn->min : 0;
        return (log(v + shift) - log((double)kn->min + shift)) /
               (log((double)kn->max + shift) - log((double)kn->min + shift));
    }
    return (v - (double)kn->min) / (double)(kn->max - kn->min);
}

static double from_unit(int k, double u) {
    const hak_knob_info_t *kn = &hak_knob_table[k];
    if (kn->scale == HAK_SCALE_LOG) {
        double shift = kn->min <= 0 ? 1.0 - (double)kn->min : 0;
        double a0 = log((double)kn->min + shift), a1 = log((double)kn->max + shift);
        return exp(a0 + u * (a1 - a0)) - shift;
    }
    return (double)kn->min + u * (double)(kn->max - kn->min);
}

static const struct {
    int knob;
    double offset; /* of the peak from the default, in search coordinates */
} peaks[] = {
    {HAK_K_IDLE_THRESHOLD_US, -0.195},
    {HAK_K_TCACHE_COUNT, 0.182},
    {HAK_K_DRAIN_SCAN, 0.165},
    {HAK_K_LARGE_CACHE_SPANS, 0.406},
};
#define NPEAKS   (int)(sizeof peaks / sizeof peaks[0])
#define SYS_LOW  0.00  /* designed kernel share of the CPU time near the default */
#define SYS_HIGH 0.90  /* ... and past the cliff */
#define CLIFF    0.100 /* distance moved towards the idle peak where it is */

#define RSS_W_POOL   0.3 /* the memory model's weights */
#define RSS_W_TCACHE 0.7
#define TCACHE_CLIFF 0.20 /* how far below its default tcache_bytes may go */
#define TCACHE_LOW   0.6  /* the throughput factor past the cliff */

static double default_u(int k) {
    return unit(k, (double)hak_knob_table[k].def);
}

static double peak_u(int i) {
    double d = default_u(peaks[i].knob), p = d + peaks[i].offset;
    return p >= 0.02 && p <= 0.98 ? p : d - peaks[i].offset;
}

/* How far idle_threshold_us has moved from its default towards its peak. */
static double idle_moved(double idle) {
    int k = HAK_K_IDLE_THRESHOLD_US;
    double dir = peak_u(0) < default_u(k) ? -1 : 1;
    return dir * (unit(k, idle) - default_u(k));
}

static double value_at(const long long *v) {
    static const double align_factor[] = {0.70, 0.80, 0.90, 1.00};
    double d2 = 0;
    for (int i = 0; i < NPEAKS; i++) {
        double d = unit(peaks[i].knob, (double)v[peaks[i].knob]) - peak_u(i);
        d2 += d * d;
    }
    double f = align_factor[v[HAK_K_ALIGN_MODE]] * (v[HAK_K_WRAP_MID] ? 1.0 : 0.6);
    return f * exp(-d2 / (2 * SIGMA * SIGMA));
}

/* The memory model: extra MiB per MiB of --rss-mib, and the throughput
 * factor of tcache_bytes. */
static double rss_shape(const long long *v) {
    return RSS_W_POOL * unit(HAK_K_CHUNK_POOL_PAGES, (double)v[HAK_K_CHUNK_POOL_PAGES]) +
           RSS_W_TCACHE * unit(HAK_K_TCACHE_BYTES, (double)v[HAK_K_TCACHE_BYTES]);
}

static double tcache_factor(const long long *v) {
    int k = HAK_K_TCACHE_BYTES;
    return unit(k, (double)v[k]) >= default_u(k) - TCACHE_CLIFF ? 1.0 : TCACHE_LOW;
}

/* The least memory any profile can use while every throughput knob stays
 * at its default: chunk_pool_pages at 0, tcache_bytes on the cliff. */
static double rss_shape_min(void) {
    return RSS_W_TCACHE * fmax(0, default_u(HAK_K_TCACHE_BYTES) - TCACHE_CLIFF);
}

static void touch_mib(double mib) {
    size_t len = (size_t)(mib * 1048576);
    if (len == 0) return;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < len; i += (size_t)page) p[i] = 1;
    /* left mapped: the peak is what wait4 reports */
}

#define POOL_FIX   0.15        /* how far above its default chunk_pool_pages removes --sys-share */
#define BIG_ENOUGH 268435456.0 /* large_cache_bytes at which --big-ms runs at full speed */

static double sys_base = SYS_LOW; /* --sys-share */

/* The designed kernel share of the run's CPU time. */
static double sys_share(const long long *v) {
    if (idle_moved((double)v[HAK_K_IDLE_THRESHOLD_US]) >= CLIFF) return SYS_HIGH;
    int k = HAK_K_CHUNK_POOL_PAGES;
    return unit(k, (double)v[k]) - default_u(k) >= POOL_FIX ? SYS_LOW : sys_base;
}

/* --big-ms's slowdown at the profile's large_cache_bytes. */
static double big_slowdown(const long long *v, double factor) {
    int k = HAK_K_LARGE_CACHE_BYTES;
    double u = unit(k, (double)v[k]), u0 = default_u(k), u1 = unit(k, BIG_ENOUGH);
    double x = u1 > u0 ? (u1 - u) / (u1 - u0) : 0;
    return 1 + (factor - 1) * fmin(1, fmax(0, x));
}

/* Growing large buffers, each larger than any freed before: fresh
 * mappings, as a program that keeps replacing bigger buffers makes. */
static void big_buffers(void) {
    void *prev = NULL;
    for (int i = 1; i <= 40; i++) {
        size_t len = (size_t)i << 21;
        char *p = malloc(len);
        if (p)
            for (size_t off = 0; off < len; off += 65536) p[off] = 1;
        free(prev);
        prev = p;
    }
    free(prev);
}

/* How far towards the peak idle_threshold_us may move within the cap: up
 * to the cliff, not onto it. */
static double cap_edge(double cap) {
    if (cap >= SYS_HIGH) return INFINITY;
    if (cap < SYS_LOW) return -INFINITY;
    return CLIFF;
}

/* The best value any profile can have within the cap: every knob at its
 * peak, relaxed, mid wrapped, and idle_threshold_us on the cap's edge when
 * the peak is beyond it. */
static double optimum(double cap) {
    double reach = fabs(peaks[0].offset), edge = cap_edge(cap);
    if (edge >= reach) return 1.0;
    double d = reach - edge;
    return exp(-d * d / (2 * SIGMA * SIGMA));
}

static double edge_value(double cap) {
    int k = HAK_K_IDLE_THRESHOLD_US;
    double dir = peak_u(0) < default_u(k) ? -1 : 1;
    double e = cap_edge(cap);
    return isfinite(e) ? from_unit(k, default_u(k) + dir * e) : NAN;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile double sink; /* keeps the user-time loop from being optimised away */

static void burn(double user_s, double sys_s) {
    double t0 = cpu_now();
    while (cpu_now() - t0 < user_s)
        for (int i = 0; i < 20000; i++) sink = sink + i * 0.5;
    int fd = open("/dev/zero", O_RDONLY);
    static char buf[1 << 18];
    t0 = cpu_now();
    while (fd >= 0 && cpu_now() - t0 < sys_s)
        if (read(fd, buf, sizeof buf) <= 0) break;
    if (fd >= 0) close(fd);
}

static double gauss(unsigned long long *s) {
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        u[i] = ((double)(*s >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    }
    return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

static unsigned long long next_count(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return 0;
    flock(fd, LOCK_EX);
    char buf[32] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    unsigned long long c = n > 0 ? strtoull(buf, NULL, 10) : 0;
    int len = snprintf(buf, sizeof buf, "%llu\n", c + 1);
    if (lseek(fd, 0, SEEK_SET) == 0 && write(fd, buf, (size_t)len) == len) {
        /* counted */
    }
    flock(fd, LOCK_UN);
    close(fd);
    return c;
}

typedef struct {
    char mode[16];
    int knob;
    char op;
    long long value;
} fail_t;

static bool parse_fail(const char *text, fail_t *f) {
    char knob[64], val[64];
    if (sscanf(text, "%15[a-z]:%63[a-z_]:%c:%63s", f->mode, knob, &f->op, val) != 4) return false;
    f->knob = hak_knob_find(knob);
    if (f->knob < 0 || !strchr("<>=", f->op)) return false;
    return hak_knob_parse((hak_knob_id_t)f->knob, val, &f->value) &&
           (strcmp(f->mode, "crash") == 0 || strcmp(f->mode, "hang") == 0 ||
            strcmp(f->mode, "exit") == 0 || strcmp(f->mode, "garbage") == 0);
}

static bool fail_hits(const fail_t *f) {
    long long v = hak_knob_value[f->knob];
    return f->op == '<' ? v < f->value : f->op == '>' ? v > f->value : v == f->value;
}

int main(int argc, char **argv) {
    unsigned long long seed = 1;
    double noise = 0.03, cpu_ms = 60, cap = 0.45, sleep_ms = 0, rss_mib = 0, floor = 0.9;
    double big_ms = 0, big_factor = 12;
    const char *counter = NULL;
    bool explain = false, no_malloc = false;
    fail_t fails[8];
    int nfails = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--explain") == 0) {
            explain = true;
        } else if (strcmp(a, "--no-malloc") == 0) {
            no_malloc = true;
        } else if (next && strcmp(a, "--seed") == 0) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (next && strcmp(a, "--noise") == 0) {
            noise = atof(argv[++i]);
        } else if (next && strcmp(a, "--cpu-ms") == 0) {
            cpu_ms = atof(argv[++i]);
        } else if (next && strcmp(a, "--sleep-ms") == 0) {
            sleep_ms = atof(argv[++i]);
        } else if (next && strcmp(a, "--cap") == 0) {
            cap = atof(argv[++i]);
        } else if (next && strcmp(a, "--sys-share") == 0) {
            sys_base = atof(argv[++i]);
        } else if (next && strcmp(a, "--big-ms") == 0) {
            big_ms = atof(argv[++i]);
        } else if (next && strcmp(a, "--big-factor") == 0) {
            big_factor = atof(argv[++i]);
        } else if (next && strcmp(a, "--rss-mib") == 0) {
            rss_mib = atof(argv[++i]);
        } else if (next && strcmp(a, "--floor") == 0) {
            floor = atof(argv[++i]);
        } else if (next && strcmp(a, "--counter") == 0) {
            counter = argv[++i];
        } else if (next && strcmp(a, "--fail") == 0 && nfails < 8) {
            if (!parse_fail(argv[++i], &fails[nfails++])) {
                fprintf(stderr,
                        "testload: --fail '%s': expected MODE:KNOB:OP:VALUE, MODE one of "
                        "crash hang exit garbage, OP one of < > =\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr,
                    "usage: testload [--seed N] [--noise F] [--cpu-ms MS] [--sleep-ms MS] "
                    "[--rss-mib M] [--sys-share S] [--big-ms MS [--big-factor F]] [--counter "
                    "FILE] [--fail MODE:KNOB:OP:VALUE]... [--no-malloc]\n"
                    "       testload --explain [--cap F] [--rss-mib M --floor F] [--sys-share S] "
                    "[--big-factor F]   (knobs from HAKMEM_CONFIG)\n");
            return 2;
        }
    }
    if (no_malloc) {
        /* Only system calls: hakmem, though loaded, serves nothing. */
        static const char line[] = "Throughput = 1000000 operations per second\n";
        if (write(STDOUT_FILENO, line, sizeof line - 1) < 0) return 1;
        return 0;
    }
    if (!hak_options_init()) return 2;
    const long long *v = hak_knob_value;
    if (explain) {
        double best = optimum(cap);
        printf("value %.6f optimum %.6f ratio %.4f sys %.4f cap %.4f feasible %d edge %.0f",
               value_at(v), best, value_at(v) / best, sys_share(v), cap, sys_share(v) <= cap,
               edge_value(cap));
        printf(" big_slowdown %.3f", big_slowdown(v, big_factor));
        if (rss_mib > 0) {
            /* The memory model against the defaults: designed extra MiB of
             * this profile, of the defaults and the least possible with the
             * throughput knobs at their defaults; throughput relative to
             * the defaults and whether it meets the floor. */
            long long d[HAK_KNOB_COUNT];
            for (int k = 0; k < HAK_KNOB_COUNT; k++) d[k] = hak_knob_table[k].def;
            double tr = value_at(v) * tcache_factor(v) / (value_at(d) * tcache_factor(d));
            printf(" rss %.2f default_rss %.2f min_rss %.2f throughput_ratio %.4f floor %.3f "
                   "floor_ok %d",
                   rss_mib * rss_shape(v), rss_mib * rss_shape(d), rss_mib * rss_shape_min(), tr,
                   floor, tr >= floor);
        }
        printf("\n");
        return 0;
    }
    /* A little in every tier, through whatever malloc the process has. */
    static const size_t sizes[] = {48, 700, 6000, 20000, 300000};
    for (int round = 0; round < 50; round++) {
        void *p[5];
        for (int i = 0; i < 5; i++) {
            p[i] = malloc(sizes[i]);
            if (p[i]) memset(p[i], round, 16);
        }
        for (int i = 0; i < 5; i++) free(p[i]);
    }
    for (int i = 0; i < nfails; i++) {
        if (!fail_hits(&fails[i])) continue;
        if (strcmp(fails[i].mode, "crash") == 0) raise(SIGSEGV);
        if (strcmp(fails[i].mode, "hang") == 0)
            for (;;) pause();
        if (strcmp(fails[i].mode, "exit") == 0) {
            fprintf(stderr, "testload: told to fail here\n");
            return 3;
        }
        printf("Throughput = not a number\n");
        return 0;
    }
    double share = sys_share(v);
    if (big_ms > 0) {
        big_buffers();
        sleep_ms += big_ms * big_slowdown(v, big_factor);
    }
    double factor = 1;
    if (rss_mib > 0) {
        touch_mib(rss_mib * rss_shape(v));
        factor = tcache_factor(v);
    }
    burn(cpu_ms / 1000 * (1 - share), cpu_ms / 1000 * share);
    if (sleep_ms > 0) {
        struct timespec ts = {(time_t)(sleep_ms / 1000), (long)(fmod(sleep_ms, 1000) * 1e6)};
        nanosleep(&ts, NULL);
    }
    unsigned long long s = seed * 0x9e3779b97f4a7c15ULL ^
                           (counter ? next_count(counter) : (unsigned long long)getpid()) * 7919;
    double noisy = value_at(v) * factor * (1 + noise * gauss(&s));
    printf("Throughput = %.0f operations per second\n", 1e6 * (noisy > 0 ? noisy : 0));
    return 0;
}
