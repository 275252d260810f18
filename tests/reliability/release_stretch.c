/* release_stretch.c — the span cache's release delay follows the program
 * (internal.h, hak_retain_t): memory it gave back for its age and then had
 * to take fresh again within the delay doubles the delay, at most
 * HAK_STRETCH_MAX times; eight quiet delays halve it; and a stretched delay
 * keeps a span its base delay would have given back.
 *
 *   once     a 2 MiB span aged out, then a 2 MiB block mapped fresh: the
 *            delay is twice release_delay_ms and delay_stretched is 1;
 *   kept     a span freed then is still mapped 1.3 delays (of the base)
 *            later, and gone past the stretched delay;
 *   most     the same cycle again and again stops at 2^HAK_STRETCH_MAX;
 *   quiet    with no such cycle for eight delays, the delay halves.
 *
 * Times are only lower bounds here: a step whose own clock shows it ran
 * late (a loaded machine) is done again rather than judged.
 *
 * Usage: HAKMEM_RELEASE_DELAY_MS=40 HAKMEM_PURGE_THREAD=0 release_stretch */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#define die(...) tu_die("release_stretch", __VA_ARGS__)

#define SPAN ((size_t)2 << 20) /* beyond CHUNK_FROM: a mapping of its own */

static uint64_t base_us;

static void sleep_until(uint64_t t) {
    uint64_t now = hak_now_us();
    if (t > now) usleep((useconds_t)(t - now));
}

static uint64_t stretched(void) {
    return atomic_load(&hak_global_stats[HAK_S_delay_stretched]);
}

static void *fresh_block(void) {
    void *p = hak_alloc(SPAN);
    if (p == NULL) die("hak_alloc(2 MiB) failed");
    memset(p, 1, SPAN);
    return p;
}

/* Frees p and waits until the cache gives it back for its age; returns
 * when it did. */
static uint64_t age_out(void *p) {
    hak_free(p);
    uint64_t t0 = hak_now_us(), delay = hak_large_delay_us();
    for (int i = 0; i < 1000 && hak_registry_get(p) != 0; i++) {
        sleep_until(t0 + delay + delay / 4 + (uint64_t)i * 1000);
        hak_large_expire(hak_now_us());
    }
    if (hak_registry_get(p) != 0)
        die("a span freed %.0f ms ago is still mapped", (double)(hak_now_us() - t0) / 1e3);
    return hak_now_us();
}

int main(void) {
    hak_free(hak_alloc(1)); /* start-up */
    base_us = (uint64_t)hak_knob(RELEASE_DELAY_MS) * 1000;
    if (base_us != 40000 || hak_knob(PURGE_THREAD) != 0)
        die("run with HAKMEM_RELEASE_DELAY_MS=40 HAKMEM_PURGE_THREAD=0 (as ctest does)");
    if (hak_large_delay_us() != base_us)
        die("the delay is %llu us before anything happened, not release_delay_ms",
            (unsigned long long)hak_large_delay_us());

    /* once (again if the fresh block came later than the delay) */
    uint64_t s0 = stretched(), gone = age_out(fresh_block());
    void *p = fresh_block();
    for (int i = 0; i < 20 && hak_now_us() - gone > base_us && hak_large_delay_us() == base_us;
         i++) {
        gone = age_out(p);
        p = fresh_block();
    }
    if (hak_large_delay_us() != 2 * base_us || stretched() != s0 + 1)
        die("a block mapped fresh right after a span aged out left the delay at %llu us "
            "(delay_stretched +%llu), expected %llu us (+1)",
            (unsigned long long)hak_large_delay_us(), (unsigned long long)(stretched() - s0),
            (unsigned long long)(2 * base_us));

    /* kept */
    bool judged = false;
    for (int attempt = 0; attempt < 20 && !judged; attempt++) {
        hak_free(p);
        uint64_t t0 = hak_now_us();
        sleep_until(t0 + base_us + base_us * 3 / 10);
        hak_large_expire(hak_now_us());
        uint64_t age = hak_now_us() - t0;
        bool mapped = hak_registry_get(p) != 0;
        if (age < 2 * base_us) {
            judged = true;
            if (!mapped)
                die("a span %.0f ms old went back under a delay stretched to %.0f ms",
                    (double)age / 1e3, (double)hak_large_delay_us() / 1e3);
        }
        /* Taken again from the cache (or fresh, if it went: that is churn
         * too, and the next attempt has a longer delay to judge). */
        p = hak_alloc(SPAN);
        if (p == NULL) die("hak_alloc(2 MiB) failed");
    }
    if (!judged) die("every attempt ran late: no step was judged");

    /* most */
    for (int i = 0; i < HAK_STRETCH_MAX + 2; i++) {
        age_out(p);
        p = fresh_block();
    }
    if (hak_large_delay_us() != base_us << HAK_STRETCH_MAX)
        die("after %d cycles the delay is %llu us, expected %llu us", HAK_STRETCH_MAX + 2,
            (unsigned long long)hak_large_delay_us(),
            (unsigned long long)(base_us << HAK_STRETCH_MAX));

    /* quiet: the halving is noticed on the tier's next change. */
    uint64_t before = hak_large_delay_us();
    sleep_until(hak_now_us() + 8 * before + before / 4);
    hak_free(p);
    if (hak_large_delay_us() != before / 2)
        die("eight quiet delays of %llu us left the delay at %llu us, expected half",
            (unsigned long long)before, (unsigned long long)hak_large_delay_us());

    printf("release_stretch: ok\n");
    return 0;
}
