/* vec.c - growable arrays. */
#include "core/vec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > ((size_t)1 << 50) / elem) return 0;
        nc *= 2;
    }
    void *np = pt_realloc(*p, nc, elem);
    if (!np) return 0;
    *p = np;
    *cap = nc;
    return 1;
}

pt_status pt_ivec_push(pt_ivec *a, int x) {
    if (!grow((void **)&a->v, &a->cap, a->n + 1, sizeof(int)))
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    a->v[a->n++] = x;
    return PT_OK;
}

pt_status pt_ivec_extend(pt_ivec *a, const int *x, size_t n) {
    if (!grow((void **)&a->v, &a->cap, a->n + n, sizeof(int)))
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    if (n) memcpy(a->v + a->n, x, n * sizeof(int));
    a->n += n;
    return PT_OK;
}

void pt_ivec_free(pt_ivec *a) {
    free(a->v);
    memset(a, 0, sizeof *a);
}

pt_status pt_fvec_push(pt_fvec *a, float x) {
    if (!grow((void **)&a->v, &a->cap, a->n + 1, sizeof(float)))
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    a->v[a->n++] = x;
    return PT_OK;
}

void pt_fvec_free(pt_fvec *a) {
    free(a->v);
    memset(a, 0, sizeof *a);
}

pt_status pt_buf_append(pt_buf *b, const void *data, size_t n) {
    if (!grow((void **)&b->v, &b->cap, b->n + n + 1, 1))
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    if (n) memcpy(b->v + b->n, data, n);
    b->n += n;
    b->v[b->n] = '\0';
    return PT_OK;
}

pt_status pt_buf_puts(pt_buf *b, const char *s) {
    return pt_buf_append(b, s, strlen(s));
}

pt_status pt_buf_printf(pt_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return pt_fail(PT_ERR_ARG, "bad format");
    if (!grow((void **)&b->v, &b->cap, b->n + (size_t)n + 1, 1))
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    va_start(ap, fmt);
    vsnprintf(b->v + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
    return PT_OK;
}

void pt_buf_free(pt_buf *b) {
    free(b->v);
    memset(b, 0, sizeof *b);
}
