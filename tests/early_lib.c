/* early_lib.c — a shared library that allocates from its constructor and
 * destructor, as libraries (GLib, libstdc++, NSS modules) do: the first
 * allocation of the process may come from here, before the preloaded
 * allocator has seen any call, and may be freed much later by main. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NKEPT 8

static void *g_kept[NKEPT];
static size_t g_kept_size[NKEPT];
static int g_ctor_errors;

static void lib_die(const char *msg) {
    if (write(2, msg, strlen(msg)) < 0) _exit(1);
    _exit(1);
}

/* Sizes across all three tiers, and the aligned and zeroing paths. */
static const size_t sizes[NKEPT] = {1, 100, 1024, 5000, 32768, 40000, 200000, 3 << 20};

__attribute__((constructor)) static void early_lib_init(void) {
    for (int i = 0; i < NKEPT; i++) {
        void *tmp = malloc(sizes[i]);
        if (!tmp)
            g_ctor_errors++;
        else
            memset(tmp, 0x33, sizes[i]);
        void *p = NULL;
        switch (i % 3) {
        case 0:
            p = calloc(1, sizes[i]);
            break;
        case 1:
            if (posix_memalign(&p, 4096, sizes[i]) != 0) p = NULL;
            break;
        default:
            p = realloc(NULL, sizes[i]);
            break;
        }
        free(tmp);
        if (!p) {
            g_ctor_errors++;
            continue;
        }
        memset(p, 0x40 + i, sizes[i]);
        g_kept[i] = p;
        g_kept_size[i] = sizes[i];
    }
    char *s = strdup("allocated before main");
    if (!s || strcmp(s, "allocated before main") != 0) g_ctor_errors++;
    free(s);
}

/* Runs at exit, after main's atexit handlers: allocation must still work. */
__attribute__((destructor)) static void early_lib_fini(void) {
    for (int i = 0; i < NKEPT; i++) {
        char *p = malloc(sizes[i]);
        if (!p) lib_die("FAIL early_lib: malloc in a library destructor failed\n");
        memset(p, 1, sizes[i]);
        free(p);
    }
}

/* Called by main: the blocks the constructor kept must be intact, usable and
 * freeable with today's allocator state. Returns the number of problems. */
__attribute__((visibility("default"))) int early_lib_check(void) {
    int errors = g_ctor_errors;
    for (int i = 0; i < NKEPT; i++) {
        unsigned char *p = g_kept[i];
        if (!p) continue;
        if (malloc_usable_size(p) < g_kept_size[i]) errors++;
        for (size_t k = 0; k < g_kept_size[i]; k += 61)
            if (p[k] != (unsigned char)(0x40 + i)) {
                errors++;
                break;
            }
        if (i % 2) {
            unsigned char *q = realloc(p, g_kept_size[i] + 10000);
            if (!q || q[0] != (unsigned char)(0x40 + i)) errors++;
            p = q;
        }
        free(p);
        g_kept[i] = NULL;
    }
    return errors;
}
