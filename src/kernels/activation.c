/* activation.c - elementwise activations (GELU tanh / erf, SwiGLU, ReLU) and helpers.
 *
 * n elements. Backward kernels accumulate into their gradients. Large arrays
 * are split over OpenMP threads (PAR_MIN elements or more).
 */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

#define PAR_MIN 32768

/* Run stmt on this thread's share [lo, hi) of [0, n), over all threads when
 * n >= PAR_MIN (the loops themselves live in PT_CLONES functions). */
#ifdef _OPENMP
#include <omp.h>
#define PAR_SPLIT(n, lo, hi, stmt)                                                                 \
    _Pragma("omp parallel if ((n) >= PAR_MIN)") {                                                  \
        size_t nt_ = (size_t)omp_get_num_threads(), id_ = (size_t)omp_get_thread_num();            \
        size_t lo = (n) / nt_ * id_ + ((n) % nt_ < id_ ? (n) % nt_ : id_);                         \
        size_t hi = lo + (n) / nt_ + (id_ < (n) % nt_);                                            \
        stmt;                                                                                      \
    }
#else
#define PAR_SPLIT(n, lo, hi, stmt)                                                                 \
    {                                                                                              \
        size_t lo = 0, hi = (n);                                                                   \
        stmt;                                                                                      \
    }
#endif

/* The loops below vectorize only when gcc may if-convert float compares and
 * conversions, i.e. without trapping-math (no code here reads FP exception flags). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* exp(x) for the elementwise loops: written so that gcc vectorizes it (libm's
 * expf/erff are scalar calls). Range reduction x = n ln2 + r with the
 * round-to-nearest "magic number" trick, |r| <= ln2/2, then a degree-6
 * polynomial for e^r (relative error about 2e-7) and 2^n built in the exponent
 * bits. x is clamped to [-87.3, 88.3], where 2^n stays a normal float, so
 * exp(-inf) gives e^-87.3 ~ 1e-38 instead of 0 (harmless in every use below);
 * a NaN stays NaN. */
static inline float vexpf(float x0) {
    float x = x0 > -87.3f ? x0 : -87.3f;
    x = x < 88.3f ? x : 88.3f;
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f; /* round(x / ln2) */
    float r = x - n * 0.693145752f - n * 1.42860677e-6f;     /* ln2 split in two */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f +
                                                  r * (0.0416666679f + r * (0.00833333377f +
                                                                            r * 0.00138888892f)))));
    int bits = ((int)n + 127) << 23; /* 2^n */
    float sc;
    memcpy(&sc, &bits, sizeof sc);
    return x0 == x0 ? p * sc : x0; /* NaN stays NaN */
}

/* erf(x), Abramowitz & Stegun 7.1.26: |error| <= 1.5e-7. */
static inline float verff(float x) {
    float ax = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float y =
        1.0f -
        t *
            (0.254829592f +
             t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f)))) *
            vexpf(-ax * ax);
    return copysignf(y, x);
}

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_A 0.044715f
#define INV_SQRT2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

/* tanh(u) = 1 - 2 / (e^{2u} + 1) with the vectorizable exp: absolute error about
 * 2e-7 (relative error near 0 is larger, but GELU uses 1 + tanh). */
static inline float vtanhf(float u) {
    return 1.0f - 2.0f / (vexpf(2.0f * u) + 1.0f);
}

PT_CLONES static void gelu_tanh_forward_part(float *out, const float *inp, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + GELU_A * x * x * x);
        out[i] = 0.5f * x * (1.0f + vtanhf(u));
    }
}

void pt_gelu_tanh_forward(float *out, const float *inp, size_t n) {
    // out (n), inp (n): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    PAR_SPLIT(n, lo, hi, gelu_tanh_forward_part(out + lo, inp + lo, hi - lo));
}

PT_CLONES static void gelu_tanh_backward_part(float *dinp, const float *dout, const float *inp,
                                              size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + GELU_A * x * x * x);
        float th = vtanhf(u);
        float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
        float g = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
        dinp[i] += g * dout[i];
    }
}

void pt_gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    // dinp (n) +=, dout (n), inp (n)
    // d/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    PAR_SPLIT(n, lo, hi, gelu_tanh_backward_part(dinp + lo, dout + lo, inp + lo, hi - lo));
}

PT_CLONES static void gelu_erf_forward_part(float *out, const float *inp, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + verff(x * INV_SQRT2));
    }
}

void pt_gelu_erf_forward(float *out, const float *inp, size_t n) {
    // out (n), inp (n): 0.5 x (1 + erf(x / sqrt 2))
    PAR_SPLIT(n, lo, hi, gelu_erf_forward_part(out + lo, inp + lo, hi - lo));
}

PT_CLONES static void gelu_erf_backward_part(float *dinp, const float *dout, const float *inp,
                                             size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float g = 0.5f * (1.0f + verff(x * INV_SQRT2)) + x * vexpf(-0.5f * x * x) * INV_SQRT_2PI;
        dinp[i] += g * dout[i];
    }
}

void pt_gelu_erf_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    // dinp (n) +=, dout (n), inp (n)
    // d/dx = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)
    PAR_SPLIT(n, lo, hi, gelu_erf_backward_part(dinp + lo, dout + lo, inp + lo, hi - lo));
}

PT_CLONES static void swiglu_forward_part(float *out, const float *gate, const float *up,
                                          size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        float sig = 1.0f / (1.0f + vexpf(-g));
        out[i] = g * sig * up[i];
    }
}

void pt_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
    // out (n), gate (n), up (n): gate * sigmoid(gate) * up
    PAR_SPLIT(n, lo, hi, swiglu_forward_part(out + lo, gate + lo, up + lo, hi - lo));
}

PT_CLONES static void swiglu_backward_part(float *dgate, float *dup, const float *dout,
                                           const float *gate, const float *up, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        float sig = 1.0f / (1.0f + vexpf(-g));
        float d = dout[i];
        dgate[i] += d * up[i] * sig * (1.0f + g * (1.0f - sig));
        dup[i] += d * g * sig;
    }
}

void pt_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, size_t n) {
    // dgate (n) +=, dup (n) +=, dout (n), gate (n), up (n)
    // d silu(g)/dg = sig (1 + g (1 - sig))
    PAR_SPLIT(n, lo, hi,
              swiglu_backward_part(dgate + lo, dup + lo, dout + lo, gate + lo, up + lo, hi - lo));
}

void pt_relu_forward(float *out, const float *inp, size_t n) {
    // out (n), inp (n)
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void pt_relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
    // dinp (n) +=, dout (n), out (n): the forward output (> 0 exactly where inp > 0)
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void pt_add_inplace(float *a, const float *b, size_t n) {
    // a (n) += b (n)
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) a[i] += b[i];
}

void pt_scale_inplace(float *a, float s, size_t n) {
    // a (n) *= s
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) a[i] *= s;
}
