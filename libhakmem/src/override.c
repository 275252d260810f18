/* override.c — the exported C allocation interface, with glibc's semantics,
 * malloc_trim included.
 *
 * Each entry point checks its arguments as glibc does (overflow, alignment,
 * errno) and hands the request to the allocator. These are the only symbols
 * besides hak_* that libhakmem exports; glibc's own __libc_malloc family
 * stays glibc's, and serves what hakmem does not. */
#include "internal.h"

#include <errno.h>
#include <stdint.h>

static bool is_pow2(size_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

hak_export void *malloc(size_t n) {
    return hak_alloc(n);
}

hak_export void free(void *p) {
    hak_free(p);
}

hak_export void *calloc(size_t count, size_t size) {
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_alloc_zeroed(n);
}

hak_export void *realloc(void *p, size_t n) {
    return hak_realloc(p, n);
}

hak_export void *reallocarray(void *p, size_t count, size_t size) {
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_realloc(p, n);
}

hak_export int posix_memalign(void **memptr, size_t align, size_t n) {
    if (align < sizeof(void *) || !is_pow2(align)) return EINVAL;
    int saved = errno;
    void *p = hak_alloc_aligned(n, align);
    errno = saved;
    if (p == NULL) return ENOMEM;
    *memptr = p;
    return 0;
}

/* glibc's memalign: tiny alignments mean malloc, others are rounded up to a
 * power of two, absurd ones are EINVAL. */
static void *memalign_like(size_t align, size_t n) {
    if (align <= HAK_MIN_ALIGN) return hak_alloc(n);
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_pow2(align)) align = (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
    return hak_alloc_aligned(n, align);
}

hak_export void *memalign(size_t align, size_t n) {
    return memalign_like(align, n);
}

/* glibc 2.36 (the C library hakmem runs beside) treats aligned_alloc as
 * memalign. */
hak_export void *aligned_alloc(size_t align, size_t n) {
    return memalign_like(align, n);
}

hak_export void *valloc(size_t n) {
    return hak_alloc_aligned(n, HAK_GRANULE);
}

hak_export void *pvalloc(size_t n) {
    size_t rounded = (n + HAK_GRANULE - 1) & ~(HAK_GRANULE - 1);
    if (rounded < n) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_alloc_aligned(rounded ? rounded : HAK_GRANULE, HAK_GRANULE);
}

hak_export size_t malloc_usable_size(void *p) {
    return p != NULL ? hak_usable_size(p) : 0;
}

hak_export const char *hak_version(void) {
    return HAKMEM_VERSION_STRING;
}

hak_export int hak_is_ours(const void *p) {
    return p != NULL && hak_registry_get(p) != 0;
}

/* glibc's malloc_trim: pad is the room glibc leaves at the top of its main
 * heap, which hakmem has not; 1 when memory went back to the kernel. The
 * C library's own heap (what hakmem hands it) trims itself as its free
 * does. */
hak_export int malloc_trim(size_t pad) {
    (void)pad;
    int saved = errno;
    int released = hak_trim() ? 1 : 0;
    errno = saved;
    return released;
}
