/* trim.c — free memory given back when the program asks for it: glibc's
 * malloc_trim (override.c exports it).
 *
 * Retention keeps freed memory for a release delay because a program that
 * freed it usually asks for as much again soon. A program that knows better
 * says so: a service that trims on memory pressure (systemd's), a tool after
 * its one big job. Under hakmem that call went to the C library's heap,
 * which holds next to nothing, and the memory stayed for the delay. Here
 * every tier gives back all it keeps at once: the calling thread's caches,
 * what exited threads left, the large tier's cached spans and the page
 * pool. Other live threads' caches are theirs alone to touch, and stay.
 *
 * jemalloc's mallctl purge is left to the jemalloc a program links: redis
 * calls it after every FLUSHALL because jemalloc would otherwise keep the
 * memory while no traffic comes, which hakmem's purge thread does not.
 * Answered here, it cost redis's suite what it costs jemalloc: the values
 * written next fault their memory in again (bench/README.md, round 22). */
#include "internal.h"

bool hak_trim(void) {
    if (!hak_ready()) return false;
    hak_heap_t *h = hak_tls_heap;
    /* Inside a slow path already (a signal handler that trims): its locks
     * may be this thread's. Like glibc's, malloc_trim is not
     * async-signal-safe, and this catches only part of such misuse. */
    if (h->kind == HAK_HEAP_BUSY) return false;
    hak_tls_heap = &hak_heap_busy;
    /* What the heaps free goes to the pool, which gives it to the kernel
     * below: glibc's 1 means memory went back to the kernel, so only the
     * tiers that talk to it answer. */
    hak_heap_trim(h);
    /* Before the pool: spans cut from pooled pages go back there. */
    bool any = hak_large_trim();
    any |= hak_os_trim();
    hak_tls_heap = h;
    hak_gstat_add(HAK_S_trims, 1);
    return any;
}
