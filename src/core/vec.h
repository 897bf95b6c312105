/* vec.h - growable arrays of int, float and bytes. */
#ifndef PT_CORE_VEC_H
#define PT_CORE_VEC_H

#include <stddef.h>

#include "ptune.h"

typedef struct pt_ivec {
    int *v;
    size_t n, cap;
} pt_ivec;

typedef struct pt_fvec {
    float *v;
    size_t n, cap;
} pt_fvec;

typedef struct pt_buf {
    char *v; /* always NUL-terminated when non-NULL */
    size_t n, cap;
} pt_buf;

pt_status pt_ivec_push(pt_ivec *a, int x);
pt_status pt_ivec_extend(pt_ivec *a, const int *x, size_t n);
void pt_ivec_free(pt_ivec *a);
pt_status pt_fvec_push(pt_fvec *a, float x);
void pt_fvec_free(pt_fvec *a);
pt_status pt_buf_append(pt_buf *b, const void *data, size_t n);
pt_status pt_buf_puts(pt_buf *b, const char *s);
pt_status pt_buf_printf(pt_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void pt_buf_free(pt_buf *b);

#endif
