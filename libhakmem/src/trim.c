/* trim.c — free memory given back when the program asks for it: glibc's
 * malloc_trim, and the purge of jemalloc's mallctl, which programs built
 * for jemalloc call (override.c exports both).
 *
 * Retention keeps freed memory for a release delay because a program that
 * freed it usually asks for as much again soon. A program that knows better
 * says so: redis purges its allocator after FLUSHALL and on MEMORY PURGE,
 * systemd's services trim on memory pressure. Under hakmem those calls went
 * to the C library's heap, or to a jemalloc linked in but no longer used,
 * and the memory stayed for the delay. Here every tier gives back all it
 * keeps at once: the calling thread's caches, what exited threads left, the
 * large tier's cached spans and the page pool. Other live threads' caches
 * are theirs alone to touch, and stay. */
#include "internal.h"

#include <errno.h>
#include <string.h>

bool hak_trim(void) {
    if (!hak_ready()) return false;
    hak_heap_t *h = hak_tls_heap;
    /* Inside the allocator already (a signal handler that trims): its
     * locks may be this thread's. */
    if (h->kind == HAK_HEAP_BUSY) return false;
    hak_tls_heap = &hak_heap_busy;
    bool any = hak_heap_trim(h);
    /* Before the pool: spans cut from pooled pages go back there. */
    any |= hak_large_trim();
    any |= hak_os_trim();
    hak_tls_heap = h;
    hak_gstat_add(HAK_S_trims, 1);
    return any;
}

/* Whether name is prefix, a decimal number, then suffix. */
static bool indexed(const char *name, const char *prefix, const char *suffix) {
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0) return false;
    const char *p = name + n;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') p++;
    return strcmp(p, suffix) == 0;
}

/* jemalloc's contract for the names it knows: a control that is only done
 * (purge) takes no old or new value (EPERM), a read-only one no new value
 * (EPERM), a value of the wrong size is EINVAL, and a name it does not
 * know is ENOENT. The names here are the ones whose meaning holds for
 * hakmem; the rest (statistics, arenas, options) describe jemalloc's own
 * heap, which under hakmem holds nothing, so a program is told they are not
 * there rather than given figures that look real: redis then falls back to
 * its own counts and the process's RSS. */
int hak_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
    (void)newlen;
    if (name == NULL) return EINVAL;
    if (indexed(name, "arena.", ".purge") || indexed(name, "arena.", ".decay")) {
        /* hakmem has one heap: any arena, and MALLCTL_ARENAS_ALL, is it. */
        if (oldp != NULL || newp != NULL) return EPERM;
        hak_trim();
        return 0;
    }
    if (strcmp(name, "thread.tcache.flush") == 0) {
        if (oldp != NULL || newp != NULL) return EPERM;
        hak_heap_t *h = hak_tls_heap;
        if (hak_ready() && h->kind == HAK_HEAP_REAL) {
            hak_tls_heap = &hak_heap_busy;
            hak_heap_trim(h);
            hak_tls_heap = h;
        }
        return 0;
    }
    if (strcmp(name, "arenas.narenas") == 0) {
        /* Read before a purge of "arena.<narenas>", jemalloc's older way
         * of naming all arenas (redis does). */
        if (newp != NULL) return EPERM;
        if (oldp != NULL) {
            if (oldlenp == NULL || *oldlenp != sizeof(unsigned)) return EINVAL;
            *(unsigned *)oldp = 1;
        }
        return 0;
    }
    return ENOENT;
}
