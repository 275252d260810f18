/* meta.c — metadata memory: page descriptors, span descriptors and heaps.
 *
 * Descriptors live outside the pages they describe so a 64 KiB page holds
 * exactly two 32 KiB blocks, and they must come from somewhere that is not
 * malloc. They are carved from 1 MiB mappings, recycled through one free
 * list per kind, and never unmapped: a thread racing with a release may
 * still read a recycled descriptor, but never an unmapped one. Every object
 * is 64-byte aligned, which gives the registry six low bits for the class. */
#include "internal.h"

#include <string.h>

#define META_CHUNK ((size_t)1 << 20)

static const size_t kind_size[HAK_META_KINDS] = {
    [HAK_META_PAGE] = (sizeof(hak_page_t) + 63) & ~(size_t)63,
    [HAK_META_SPAN] = (sizeof(hak_span_t) + 63) & ~(size_t)63,
    [HAK_META_HEAP] = (sizeof(hak_heap_t) + 63) & ~(size_t)63,
};

static hak_lock_t meta_lock;
static void *free_list[HAK_META_KINDS];
static uint8_t *bump, *bump_end;

void *hak_meta_alloc(hak_meta_kind_t kind) {
    size_t size = kind_size[kind];
    hak_lock(&meta_lock);
    void *p = free_list[kind];
    if (p != NULL) {
        free_list[kind] = *(void **)p;
    } else {
        if (bump == NULL || (size_t)(bump_end - bump) < size) {
            uint8_t *chunk = hak_os_map(META_CHUNK);
            if (chunk == NULL) {
                hak_unlock(&meta_lock);
                return NULL;
            }
            bump = chunk; /* mmap returns page-aligned, so 64-byte aligned */
            bump_end = chunk + META_CHUNK;
        }
        p = bump;
        bump += size;
    }
    hak_unlock(&meta_lock);
    memset(p, 0, size);
    return p;
}

void hak_meta_free(hak_meta_kind_t kind, void *p) {
    hak_lock(&meta_lock);
    *(void **)p = free_list[kind];
    free_list[kind] = p;
    hak_unlock(&meta_lock);
}

void hak_meta_lock_all(void) {
    hak_lock(&meta_lock);
}
void hak_meta_unlock_all(bool child) {
    if (child)
        hak_lock_reset(&meta_lock);
    else
        hak_unlock(&meta_lock);
}
