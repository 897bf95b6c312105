/* mem.c - checked allocation. */
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

void *pt_alloc(size_t n, size_t sz) {
    size_t t;
    if (!pt_mul_ok(n, sz, &t)) return NULL;
    return malloc(t ? t : 1);
}

void *pt_zalloc(size_t n, size_t sz) {
    size_t t;
    if (!pt_mul_ok(n, sz, &t)) return NULL;
    return calloc(t ? t : 1, 1);
}

void *pt_realloc(void *p, size_t n, size_t sz) {
    size_t t;
    if (!pt_mul_ok(n, sz, &t)) return NULL;
    return realloc(p, t ? t : 1);
}

void *pt_aalloc(size_t n, size_t sz) {
    size_t t;
    if (!pt_mul_ok(n, sz, &t) || !pt_add_ok(t, 63, &t)) return NULL;
    t &= ~(size_t)63;
    void *p = aligned_alloc(64, t ? t : 64);
    if (p) memset(p, 0, t ? t : 64);
    return p;
}

void pt_afree(void *p) {
    free(p);
}

char *pt_strdup(const char *s) {
    return pt_strndup(s, strlen(s));
}

char *pt_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
