/* mem.h - checked allocation: size arithmetic that cannot overflow. */
#ifndef PT_CORE_MEM_H
#define PT_CORE_MEM_H

#include <stddef.h>
#include <stdint.h>

/* a*b into *out; returns 0 on overflow. */
static inline int pt_mul_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline int pt_add_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* malloc/calloc of n elements of sz bytes; NULL (never abort) on overflow or failure. */
void *pt_alloc(size_t n, size_t sz);
void *pt_zalloc(size_t n, size_t sz);
void *pt_realloc(void *p, size_t n, size_t sz);
/* 64-byte aligned, zeroed; free with pt_afree. */
void *pt_aalloc(size_t n, size_t sz);
void pt_afree(void *p);
char *pt_strdup(const char *s);
char *pt_strndup(const char *s, size_t n);

#endif
