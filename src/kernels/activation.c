/* activation.c - elementwise activations (GELU tanh / erf, SwiGLU, ReLU) and helpers.
 *
 * n elements. Backward kernels accumulate into their gradients. Large arrays
 * are split over OpenMP threads (PAR_MIN elements or more).
 */
#include <math.h>

#include "kernels/kernels.h"

#define PAR_MIN 32768

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_A 0.044715f
#define INV_SQRT2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

void pt_gelu_tanh_forward(float *out, const float *inp, size_t n) {
    // out (n), inp (n): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + GELU_A * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(u));
    }
}

void pt_gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    // dinp (n) +=, dout (n), inp (n)
    // d/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + GELU_A * x * x * x);
        float th = tanhf(u);
        float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
        float g = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
        dinp[i] += g * dout[i];
    }
}

void pt_gelu_erf_forward(float *out, const float *inp, size_t n) {
    // out (n), inp (n): 0.5 x (1 + erf(x / sqrt 2))
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    }
}

void pt_gelu_erf_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    // dinp (n) +=, dout (n), inp (n)
    // d/dx = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float g = 0.5f * (1.0f + erff(x * INV_SQRT2)) + x * expf(-0.5f * x * x) * INV_SQRT_2PI;
        dinp[i] += g * dout[i];
    }
}

void pt_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
    // out (n), gate (n), up (n): gate * sigmoid(gate) * up
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        float sig = 1.0f / (1.0f + expf(-g));
        out[i] = g * sig * up[i];
    }
}

void pt_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, size_t n) {
    // dgate (n) +=, dup (n) +=, dout (n), gate (n), up (n)
    // d silu(g)/dg = sig (1 + g (1 - sig))
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        float sig = 1.0f / (1.0f + expf(-g));
        float d = dout[i];
        dgate[i] += d * up[i] * sig * (1.0f + g * (1.0f - sig));
        dup[i] += d * g * sig;
    }
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
