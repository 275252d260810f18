/* hakmem.h — the public interface of libhakmem.
 *
 * libhakmem replaces the C allocator: preloaded (LD_PRELOAD=libhakmem.so) or
 * linked, it exports malloc, free, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc and
 * malloc_usable_size with glibc's semantics. This header adds only what a
 * program may want beyond the standard interface: the version, whether a
 * pointer is ours, and the statistics counters. Everything here is safe to
 * call from any thread at any time after start-up and never allocates. */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The project's one statement of its version: the build reads these lines. */
#define HAKMEM_VERSION_MAJOR         0
#define HAKMEM_VERSION_MINOR         1
#define HAKMEM_VERSION_PATCH         0
#define HAKMEM_VERSION_STR_(a, b, c) #a "." #b "." #c
#define HAKMEM_VERSION_STR(a, b, c)  HAKMEM_VERSION_STR_(a, b, c)
/* "MAJOR.MINOR.PATCH" of this header; hak_version() gives the library's. */
#define HAKMEM_VERSION_STRING                                                                      \
    HAKMEM_VERSION_STR(HAKMEM_VERSION_MAJOR, HAKMEM_VERSION_MINOR, HAKMEM_VERSION_PATCH)

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#else
#define HAK_API
#endif

/* "MAJOR.MINOR.PATCH" of the loaded library. */
HAK_API const char *hak_version(void);

/* 1 when hakmem (not the C library) serves the block that starts at p. */
HAK_API int hak_is_ours(const void *p);

/* Writes the counters as a human-readable report to the file descriptor fd
 * (with write(2), never stdio). */
HAK_API void hak_stats_print(int fd);

/* Formats the counters as one JSON object into buf (at most cap bytes,
 * always NUL-terminated when cap > 0). Returns the length the whole object
 * needs, excluding the NUL, as snprintf does. */
HAK_API size_t hak_stats_json(char *buf, size_t cap);

/* Reads one counter by its name as listed in the report ("mid_alloc",
 * "os_munmap", ...). Returns -1 for an unknown name. */
HAK_API long long hak_stat(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */
