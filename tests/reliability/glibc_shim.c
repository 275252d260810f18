/* glibc_shim.c — a preloadable library that hands every allocation entry
 * point to glibc's own allocator. Debian's redis-server links jemalloc, so
 * running it "under glibc" for the comparison in redis.sh takes a preload
 * too: this one, which exports the whole malloc family (a partial set would
 * let jemalloc serve the rest and mix pointers of two allocators). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

#define EXPORT __attribute__((visibility("default")))

EXPORT void *malloc(size_t n) {
    return __libc_malloc(n);
}
EXPORT void free(void *p) {
    __libc_free(p);
}
EXPORT void *calloc(size_t c, size_t n) {
    return __libc_calloc(c, n);
}
EXPORT void *realloc(void *p, size_t n) {
    return __libc_realloc(p, n);
}
EXPORT void *reallocarray(void *p, size_t c, size_t n) {
    size_t total;
    if (__builtin_mul_overflow(c, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, total);
}
EXPORT void *memalign(size_t a, size_t n) {
    return __libc_memalign(a, n);
}
EXPORT void *aligned_alloc(size_t a, size_t n) {
    return __libc_memalign(a, n);
}
EXPORT int posix_memalign(void **out, size_t a, size_t n) {
    if (a < sizeof(void *) || (a & (a - 1)) != 0) return EINVAL;
    int saved = errno;
    void *p = __libc_memalign(a, n);
    errno = saved;
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}
EXPORT void *valloc(size_t n) {
    return __libc_valloc(n);
}
EXPORT void *pvalloc(size_t n) {
    return __libc_pvalloc(n);
}

/* glibc exports no __libc_ name for it: look up libc's own symbol, which
 * the preload shadows for everyone else. Looked up on first use (another
 * library's constructor may call it before ours would run); racing threads
 * find the same address. */
EXPORT size_t malloc_usable_size(void *p) {
    static void *libc_usable;
    void *sym = __atomic_load_n(&libc_usable, __ATOMIC_ACQUIRE);
    if (sym == NULL) {
        void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        sym = libc ? dlsym(libc, "malloc_usable_size") : NULL;
        if (sym == NULL) return 0;
        __atomic_store_n(&libc_usable, sym, __ATOMIC_RELEASE);
    }
    size_t (*fn)(void *);
    memcpy(&fn, &sym, sizeof fn);
    return fn(p);
}
