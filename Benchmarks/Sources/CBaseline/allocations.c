// Counts heap allocations by interposing the allocator: the executable's malloc family wins over
// libc's for every library in the process (the Swift runtime included), and forwards to glibc's
// internal entry points.
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <malloc.h>

#include "CBaseline.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static _Atomic uint64_t allocations;
// Bytes held in blocks (their usable size), so a figure can say what the heap keeps per object.
static _Atomic int64_t held;

uint64_t cbaseline_allocations(void) { return atomic_load_explicit(&allocations, memory_order_relaxed); }

int64_t cbaseline_heap_bytes(void) { return atomic_load_explicit(&held, memory_order_relaxed); }

static void *counted(void *pointer) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    if (pointer) atomic_fetch_add_explicit(&held, (int64_t)malloc_usable_size(pointer), memory_order_relaxed);
    return pointer;
}

void *malloc(size_t size) { return counted(__libc_malloc(size)); }

void *calloc(size_t count, size_t size) { return counted(__libc_calloc(count, size)); }

void *realloc(void *pointer, size_t size) {
    int64_t before = pointer ? (int64_t)malloc_usable_size(pointer) : 0;
    if (pointer && size == 0) atomic_fetch_sub_explicit(&held, before, memory_order_relaxed); // freed
    if (pointer && size == 0) return __libc_realloc(pointer, size);
    void *moved = __libc_realloc(pointer, size);
    if (!moved) return NULL; // the old block stays, and is still counted
    atomic_fetch_sub_explicit(&held, before, memory_order_relaxed);
    return counted(moved);
}

void *memalign(size_t alignment, size_t size) { return counted(__libc_memalign(alignment, size)); }

void *aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    void *pointer = memalign(alignment, size);
    if (!pointer) return ENOMEM;
    *out = pointer;
    return 0;
}

void free(void *pointer) {
    if (pointer) atomic_fetch_sub_explicit(&held, (int64_t)malloc_usable_size(pointer), memory_order_relaxed);
    __libc_free(pointer);
}
