/* kernels_testutil.h - small helpers shared by the kernel test programs. */
#ifndef PT_KERNELS_TESTUTIL_H
#define PT_KERNELS_TESTUTIL_H

#include <stdlib.h>

#include "core/rng.h"

static pt_rng kt_rng;

/* malloc'ed array of n floats, each normal * s (never NULL: aborts the test on OOM). */
static inline float *kt_randn(size_t n, float s) {
    float *a = malloc((n ? n : 1) * sizeof(float));
    if (!a) abort();
    for (size_t i = 0; i < n; i++) a[i] = pt_rng_normal(&kt_rng) * s;
    return a;
}

static inline float *kt_zeros(size_t n) {
    float *a = calloc(n ? n : 1, sizeof(float));
    if (!a) abort();
    return a;
}

static inline float *kt_copy(const float *src, size_t n) {
    float *a = kt_zeros(n);
    for (size_t i = 0; i < n; i++) a[i] = src[i];
    return a;
}

#endif
