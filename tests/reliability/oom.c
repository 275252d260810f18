/* oom.c — running out of memory (RLIMIT_AS): every allocation entry point
 * fails cleanly (NULL with errno ENOMEM; posix_memalign returns ENOMEM), a
 * failed realloc leaves its block as it was, nothing is printed and nothing
 * crashes, and memory freed afterwards serves every size again, including
 * sizes of another tier than the one that held it: pooled pages, decommitted
 * pages and cached large spans must be handed back when a mapping fails.
 *
 * Each scenario runs in a fresh child (this program re-executed, so hakmem
 * starts anew) that limits its own address space to what it maps at start
 * plus BUDGET (regleaf sets a limit of its own). The parent checks the
 * child's exit status and that the child wrote nothing at all on stderr:
 * an allocator must fail quietly.
 *
 * Usage: oom [--expect-hakmem] [scenario...]   scenarios: api cross remote regleaf aside
 *        oom --child SCENARIO                  (what the parent runs) */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define MiB    ((size_t)1 << 20)
#define BUDGET (96 * MiB)

/* Memory that has been filled and freed must serve at least this share of
 * what the first fill got. It is a half, not all of it: fragmentation, the
 * caches a thread keeps and the address space the C library or the
 * allocator's metadata took meanwhile are legitimate losses, while memory
 * that is never handed back across tiers loses nearly everything. */
#define REUSE_SHARE 0.5

static const size_t sizes[] = {3 * MiB, 200 * 1024, 5000, 16}; /* big to small */
#define NSIZES (sizeof sizes / sizeof sizes[0])

typedef enum { API_MALLOC, API_CALLOC, API_REALLOC, API_POSIX_MEMALIGN, API_ALIGNED_ALLOC } api_t;
static const char *const api_name[] = {"malloc", "calloc", "realloc(NULL)", "posix_memalign",
                                       "aligned_alloc"};
#define NAPIS 5

static const char *g_scenario = "?";

/* The child reports on stdout only, through a stack buffer and write(2):
 * stdio might want memory that is not there, and stderr must stay empty. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
    if (write(STDOUT_FILENO, buf, (size_t)n) < 0) _exit(3);
}

#define fail(...)                                                                                  \
    do {                                                                                           \
        say("FAIL oom %s: ", g_scenario);                                                          \
        say(__VA_ARGS__);                                                                          \
        say("\n");                                                                                 \
        _exit(1);                                                                                  \
    } while (0)

/* ---- allocation through one entry point ---------------------------------- */

/* One block from api; NULL with *err the error the entry point reported. */
static void *alloc_with(api_t api, size_t n, int *err) {
    void *p = NULL;
    errno = 0;
    tu_clobber();
    switch (api) {
    case API_MALLOC:
        p = malloc(tu_hide(n));
        break;
    case API_CALLOC:
        p = calloc(1, tu_hide(n));
        break;
    case API_REALLOC:
        p = realloc(NULL, tu_hide(n));
        break;
    case API_POSIX_MEMALIGN: {
        int rc = posix_memalign(&p, 4096, tu_hide(n));
        tu_clobber();
        if (rc != 0) {
            *err = rc;
            return NULL;
        }
        break;
    }
    case API_ALIGNED_ALLOC:
        p = aligned_alloc(64, tu_hide((n + 63) & ~(size_t)63));
        break;
    }
    tu_clobber();
    *err = errno;
    if (p == NULL) return NULL;
    size_t align = api == API_POSIX_MEMALIGN ? 4096 : api == API_ALIGNED_ALLOC ? 64 : 16;
    if ((uintptr_t)p % align != 0)
        fail("%s(%zu) = %p is not %zu-aligned", api_name[api], n, p, align);
    if (malloc_usable_size(p) < n)
        fail("%s(%zu): malloc_usable_size %zu", api_name[api], n, malloc_usable_size(p));
    if (api == API_CALLOC) {
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
            if (b[i] != 0) fail("calloc(1, %zu) = %p: byte %zu is %#x", n, p, i, b[i]);
    }
    return p;
}

/* Blocks kept while memory runs out are chained through their own first
 * bytes (every block holds at least 16), so keeping them costs no memory;
 * the last byte carries a tag, checked when the chain is freed. */
struct link {
    struct link *next;
    uint32_t size; /* the tag of a 16-byte block is its byte 15, past this */
};

struct chain {
    struct link *head;
    size_t count, bytes; /* bytes: usable sizes, what the blocks really hold */
};

static unsigned char tag_of(const void *p) {
    return (unsigned char)(((uintptr_t)p >> 4) * 0x9du | 1u);
}

static void keep(struct chain *c, void *p, size_t n) {
    struct link *l = p;
    l->next = c->head;
    l->size = (uint32_t)n;
    ((unsigned char *)p)[n - 1] = tag_of(p);
    c->head = l;
    c->count++;
    c->bytes += malloc_usable_size(p);
}

static void release(struct chain *c) {
    while (c->head != NULL) {
        struct link *l = c->head;
        if (((unsigned char *)l)[l->size - 1] != tag_of(l))
            fail("block %p of %u bytes changed while memory was short", (void *)l, l->size);
        c->head = l->next;
        free(l);
    }
    c->count = c->bytes = 0;
}

/* Allocates n-byte blocks through api until it fails; the failure must be
 * ENOMEM. Returns the bytes obtained. */
static size_t fill(struct chain *c, api_t api, size_t n) {
    size_t before = c->bytes;
    for (;;) {
        int err = 0;
        void *p = alloc_with(api, n, &err);
        if (p == NULL) {
            if (err != ENOMEM)
                fail("%s(%zu) failed with error %d (%s), not ENOMEM", api_name[api], n, err,
                     strerror(err));
            return c->bytes - before;
        }
        keep(c, p, n);
        if (c->bytes > 4 * BUDGET)
            fail("%s(%zu) still succeeds after %zu MiB: the address-space limit has no effect",
                 api_name[api], n, c->bytes / MiB);
    }
}

/* ---- the address-space limit --------------------------------------------- */

static size_t vm_size(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f == NULL || fscanf(f, "%lu", &pages) != 1) fail("cannot read /proc/self/statm");
    fclose(f);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void limit_memory(void) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = vm_size() + BUDGET;
    if (setrlimit(RLIMIT_AS, &rl) != 0) fail("setrlimit(RLIMIT_AS): %s", strerror(errno));
}

/* ---- scenarios ----------------------------------------------------------- */

static void fill_pattern(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 31u + seed);
}

static void check_pattern(const unsigned char *p, size_t n, unsigned seed, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 31u + seed))
            fail("%s: byte %zu of the old block changed", what, i);
}

/* A realloc that cannot get memory returns NULL with ENOMEM and leaves the
 * old block where it was, with its contents; the block stays usable. */
static void *realloc_must_fail(void *p, size_t old, size_t n, unsigned seed) {
    char what[96];
    snprintf(what, sizeof what, "realloc(%zu-byte block, %zu)", old, n);
    errno = 0;
    tu_clobber();
    void *q = realloc(tu_launder(p), tu_hide(n));
    tu_clobber();
    int err = errno;
    if (q != NULL) fail("%s succeeded with memory exhausted", what);
    if (err != ENOMEM) fail("%s: errno %d, not ENOMEM", what, err);
    check_pattern(p, old, seed, what);
    if (malloc_usable_size(p) < old) fail("%s: the old block shrank", what);
    return p;
}

/* Every entry point, every size: fill through it until it fails, then
 * through malloc too (aligned requests use other size classes than plain
 * ones, and the realloc checks below need the plain classes full), check
 * that realloc fails without harm, free everything, allocate each size
 * through each entry point again, and fill again: the big sizes must get
 * back what the small ones held. */
static void scenario_api(void) {
    static const size_t grow[][2] = {
        {16, 5000}, {5000, 200 * 1024}, {200 * 1024, 3 * MiB}, {3 * MiB, 6 * MiB}, {16, 3 * MiB}};
    enum { NGROW = sizeof grow / sizeof grow[0] };
    for (int api = 0; api < NAPIS; api++) {
        void *old[NGROW];
        for (int i = 0; i < NGROW; i++) {
            old[i] = malloc(grow[i][0]);
            if (old[i] == NULL) fail("malloc(%zu) failed before memory was short", grow[i][0]);
            fill_pattern(old[i], grow[i][0], (unsigned)i + 1);
        }
        struct chain c = {0};
        size_t first[NSIZES], total = 0;
        for (size_t s = 0; s < NSIZES; s++) total += first[s] = fill(&c, (api_t)api, sizes[s]);
        if (first[0] == 0) fail("%s: not even one %zu-byte block fit", api_name[api], sizes[0]);
        for (size_t s = 0; s < NSIZES; s++) total += fill(&c, API_MALLOC, sizes[s]);
        for (int i = 0; i < NGROW; i++)
            old[i] = realloc_must_fail(old[i], grow[i][0], grow[i][1], (unsigned)i + 1);
        release(&c);
        for (int i = 0; i < NGROW; i++) free(old[i]);

        for (size_t s = 0; s < NSIZES; s++) {
            for (int a = 0; a < NAPIS; a++) {
                int err = 0;
                void *p = alloc_with((api_t)a, sizes[s], &err);
                if (p == NULL)
                    fail("after freeing everything, %s(%zu) still fails (error %d)", api_name[a],
                         sizes[s], err);
                memset(p, 0xa5, sizes[s]);
                free(p);
            }
        }

        size_t again = fill(&c, API_MALLOC, sizes[0]);
        if ((double)again < REUSE_SHARE * (double)total)
            fail("%s: blocks of every size held %zu MiB; once freed, 3 MiB blocks got only %zu MiB",
                 api_name[api], total / MiB, again / MiB);
        release(&c);
        say("api %-15s ok: %zu MiB of 3 MiB blocks + %zu KiB of 200 KiB + %zu KiB of 5000 B + "
            "%zu KiB of 16 B, %zu MiB in all; once freed, %zu MiB of 3 MiB blocks\n",
            api_name[api], first[0] / MiB, first[1] / 1024, first[2] / 1024, first[3] / 1024,
            total / MiB, again / MiB);
    }
}

/* Memory held by one size serves another once freed: for every ordered
 * pair of sizes, fill with the first, free, fill with the second. */
static void scenario_cross(void) {
    struct chain c = {0};
    for (size_t a = 0; a < NSIZES; a++) {
        for (size_t b = 0; b < NSIZES; b++) {
            if (a == b) continue;
            size_t got_a = fill(&c, API_MALLOC, sizes[a]);
            release(&c);
            size_t got_b = fill(&c, API_MALLOC, sizes[b]);
            release(&c);
            if ((double)got_b < REUSE_SHARE * (double)got_a)
                fail("%zu-byte blocks held %zu KiB; once freed, %zu-byte blocks got only %zu KiB",
                     sizes[a], got_a / 1024, sizes[b], got_b / 1024);
            say("cross %7zu B -> %7zu B ok: %zu KiB then %zu KiB\n", sizes[a], sizes[b],
                got_a / 1024, got_b / 1024);
        }
    }
}

/* Small blocks a thread freed after allocating them, many caches' worth:
 * hakmem sets such full caches aside for the thread to take back (run it
 * with HAKMEM_TCACHE_MAX_BYTES=64m, so that most of the budget is set
 * aside). Once memory is short, blocks of another class must get it. */
static void scenario_aside(void) {
    struct chain c = {0};
    /* Runs of allocations and frees first: the cache grows to its bound
     * and runs empty since, as a thread's that sets aside. */
    for (int r = 0; r < 4; r++) {
        for (int i = 0; i < 20000; i++) {
            void *p = malloc(64);
            if (p == NULL) fail("malloc(64) failed before memory was short");
            keep(&c, p, 64);
        }
        release(&c);
    }
    size_t got_a = fill(&c, API_MALLOC, 64);
    release(&c);
    size_t got_b = fill(&c, API_MALLOC, 256);
    release(&c);
    /* Not REUSE_SHARE: one thread, one tier, every block freed. Were the
     * blocks set aside kept, 64 MiB (tcache_max_bytes) would be lost: 40 %
     * of got_a here. */
    if ((double)got_b < 0.8 * (double)got_a)
        fail("64-byte blocks held %zu KiB; once freed, 256-byte blocks got only %zu KiB: "
             "blocks set aside did not come back",
             got_a / 1024, got_b / 1024);
    say("aside 64 B -> 256 B ok: %zu KiB then %zu KiB\n", got_a / 1024, got_b / 1024);
}

/* Memory freed by another thread than the one that allocated it, after
 * that thread has exited, serves new requests of any size. */
struct remote_job {
    size_t size;
    struct chain c;
};

static void *remote_filler(void *arg) {
    struct remote_job *j = arg;
    fill(&j->c, API_MALLOC, j->size);
    return NULL;
}

static void scenario_remote(void) {
    static const size_t small[] = {16, 5000};
    for (size_t k = 0; k < sizeof small / sizeof small[0]; k++) {
        /* The thread's stack is mapped before the limit would refuse it. */
        struct remote_job j = {small[k], {0}};
        pthread_t t;
        int rc = pthread_create(&t, NULL, remote_filler, &j);
        if (rc != 0) fail("pthread_create: %s", strerror(rc));
        pthread_join(t, NULL);
        size_t held = j.c.bytes;
        release(&j.c); /* every free is remote, into pages of an exited thread */
        struct chain c = {0};
        size_t got = fill(&c, API_MALLOC, 3 * MiB);
        release(&c);
        if ((double)got < REUSE_SHARE * (double)held)
            fail("an exited thread's %zu-byte blocks held %zu KiB; freed by another thread, they "
                 "left room for only %zu KiB of 3 MiB blocks",
                 small[k], held / 1024, got / 1024);
        say("remote %5zu B -> 3 MiB ok: %zu KiB then %zu KiB\n", small[k], held / 1024, got / 1024);
    }
}

/* A realloc that moves a large block (mremap) lands wherever the kernel
 * finds room. When that is a gigabyte of address space the allocator has
 * not used before, its registry needs a new leaf to record the block, and
 * with the address space exhausted that leaf cannot be mapped: realloc must
 * then fail cleanly like any other, not end the process. Every free
 * megabyte above the gigabyte below the lowest mapping is filled with an
 * inaccessible mapping, so the moved block must go below it, and the limit
 * leaves room for the move and not much more. */
static void fill_address_space(uintptr_t from, uintptr_t to) {
    static uintptr_t gap[4096][2];
    size_t ngaps = 0;
    uintptr_t prev_end = from;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    while (maps != NULL && fgets(line, sizeof line, maps) != NULL && ngaps < 4096) {
        char *dash;
        uintptr_t start = strtoul(line, &dash, 16), end = strtoul(dash + 1, NULL, 16);
        if (end <= from) continue;
        if (start >= to) break;
        if (start > prev_end) {
            gap[ngaps][0] = prev_end;
            gap[ngaps][1] = start;
            ngaps++;
        }
        if (end > prev_end) prev_end = end;
    }
    if (maps != NULL) fclose(maps);
    for (size_t i = 0; i < ngaps; i++)
        if (mmap((void *)gap[i][0], gap[i][1] - gap[i][0], PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1,
                 0) == MAP_FAILED)
            fail("mmap of the gap %p-%p: %s", (void *)gap[i][0], (void *)gap[i][1],
                 strerror(errno));
}

static void scenario_regleaf(void) {
    const size_t old_size = 64 * 1024, new_size = 8 * MiB;
    unsigned char *p = malloc(old_size);
    if (p == NULL) fail("malloc(%zu) failed", old_size);
    fill_pattern(p, old_size, 3);
    uintptr_t lowest = UINTPTR_MAX, top = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    while (maps != NULL && fgets(line, sizeof line, maps) != NULL) {
        unsigned long start = strtoul(line, NULL, 16);
        /* The mmap area, not the executable and its heap far below it. */
        if (start >= (uintptr_t)p - ((uintptr_t)64 << 30) && start < lowest) lowest = start;
        if (strstr(line, "[stack]") != NULL) top = start;
    }
    if (maps != NULL) fclose(maps);
    if (lowest == UINTPTR_MAX || top == 0) fail("cannot read /proc/self/maps");
    uintptr_t floor = lowest & ~(((uintptr_t)1 << 30) - 1);
    fill_address_space(floor + MiB, top);
    void *probe = mmap(NULL, new_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED || (uintptr_t)probe >= floor)
        fail("the address space above %p is not full: a new mapping went to %p", (void *)floor,
             probe);
    munmap(probe, new_size);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = vm_size() + new_size + MiB;
    if (setrlimit(RLIMIT_AS, &rl) != 0) fail("setrlimit(RLIMIT_AS): %s", strerror(errno));
    errno = 0;
    tu_clobber();
    unsigned char *q = realloc(tu_launder(p), tu_hide(new_size));
    tu_clobber();
    int err = errno;
    if (q == NULL) {
        if (err != ENOMEM) fail("realloc failed with errno %d, not ENOMEM", err);
        check_pattern(p, old_size, 3, "failed realloc");
        free(p);
    } else {
        check_pattern(q, old_size, 3, "realloc");
        free(q);
    }
    say("regleaf ok: realloc(%zu-byte block, %zu) with the address space full %s\n", old_size,
        new_size, q == NULL ? "failed cleanly" : "succeeded");
}

static int child(const char *name) {
    g_scenario = name;
    /* Whatever start-up maps (stdio buffers, the allocator's first pages,
     * a thread stack) is mapped before the limit is set. */
    say("%s: child started\n", name);
    if (strcmp(name, "regleaf") == 0) {
        scenario_regleaf(); /* sets its own limit, once the address space is filled */
        return 0;
    }
    limit_memory();
    if (strcmp(name, "api") == 0)
        scenario_api();
    else if (strcmp(name, "cross") == 0)
        scenario_cross();
    else if (strcmp(name, "remote") == 0)
        scenario_remote();
    else if (strcmp(name, "aside") == 0)
        scenario_aside();
    else
        fail("unknown scenario");
    return 0;
}

/* ---- the parent ---------------------------------------------------------- */

/* Runs one scenario in a fresh process; its stdout is passed on, its stderr
 * must stay empty. */
static bool run_child(const char *self, const char *name) {
    int err_pipe[2];
    if (pipe(err_pipe) != 0) {
        perror("pipe");
        return false;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return false;
    }
    if (pid == 0) {
        dup2(err_pipe[1], STDERR_FILENO);
        close(err_pipe[0]);
        close(err_pipe[1]);
        execl(self, self, "--child", name, (char *)NULL);
        _exit(127);
    }
    close(err_pipe[1]);
    char err[4096];
    size_t nerr = 0;
    for (;;) {
        ssize_t r = read(err_pipe[0], err + nerr, sizeof err - 1 - nerr);
        if (r <= 0) break;
        nerr += (size_t)r;
        if (nerr == sizeof err - 1) break;
    }
    err[nerr] = '\0';
    close(err_pipe[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    bool ok = true;
    if (WIFSIGNALED(status)) {
        printf("FAIL oom %s: child killed by signal %d (%s)\n", name, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
        ok = false;
    } else if (WEXITSTATUS(status) != 0) {
        printf("FAIL oom %s: child exited with status %d\n", name, WEXITSTATUS(status));
        ok = false;
    }
    if (nerr != 0) {
        printf("FAIL oom %s: the child wrote on stderr:\n%s\n", name, err);
        ok = false;
    }
    printf("%s oom %s\n", ok ? "ok  " : "FAIL", name);
    return ok;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--child") == 0) return child(argv[2]);
    int expect = tu_take_expect_flag(&argc, argv);
    tu_check_hakmem("oom", expect);
    static const char *const all[] = {"api", "cross", "remote", "regleaf", "aside"};
    const char *const *run = all;
    int nrun = (int)(sizeof all / sizeof all[0]);
    if (argc > 1) {
        run = (const char *const *)argv + 1;
        nrun = argc - 1;
    }
    int failed = 0;
    for (int i = 0; i < nrun; i++) failed += !run_child("/proc/self/exe", run[i]);
    printf("oom: %d of %d scenarios failed\n", failed, nrun);
    return failed ? 1 : 0;
}
