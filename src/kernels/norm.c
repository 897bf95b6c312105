/* norm.c - LayerNorm and RMSNorm over the last dimension, forward and input gradient.
 *
 * N rows, C channels. Statistics are float, two-pass (mean, then the mean of
 * squared deviations), biased variance with eps inside the square root, as
 * torch.nn.LayerNorm and Hugging Face's LlamaRMSNorm compute them.
 */
#include <math.h>

#include "kernels/kernels.h"

void pt_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C, float eps) {
    // out (N, C), mean (N) or NULL, rstd (N) or NULL, inp (N, C), w (C), b (C)
#pragma omp parallel for schedule(static) if (N > 4)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C; // (C)
        float *o = out + (size_t)n * C;       // (C)
        float m = 0.0f;
#pragma omp simd reduction(+ : m)
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        v /= C;
        float s = 1.0f / sqrtf(v + eps);
#pragma omp simd
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = s;
    }
}

void pt_layernorm_backward(float *dinp, const float *dout, const float *inp, const float *w,
                           const float *mean, const float *rstd, int N, int C) {
    // dinp (N, C) +=, dout (N, C), inp (N, C), w (C), mean (N), rstd (N)
    // with xhat = (x - mean) * rstd and g = w * dout:
    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
#pragma omp parallel for schedule(static) if (N > 4)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;  // (C)
        const float *d = dout + (size_t)n * C; // (C)
        float *dx = dinp + (size_t)n * C;      // (C)
        float m = mean[n], s = rstd[n];
        float g_mean = 0.0f, gx_mean = 0.0f;
#pragma omp simd reduction(+ : g_mean, gx_mean)
        for (int i = 0; i < C; i++) {
            float g = w[i] * d[i];
            g_mean += g;
            gx_mean += g * (x[i] - m) * s;
        }
        g_mean /= C;
        gx_mean /= C;
#pragma omp simd
        for (int i = 0; i < C; i++) {
            float xhat = (x[i] - m) * s;
            dx[i] += s * (w[i] * d[i] - g_mean - xhat * gx_mean);
        }
    }
}

void pt_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                        float eps) {
    // out (N, C), rstd (N) or NULL, inp (N, C), w (C)
#pragma omp parallel for schedule(static) if (N > 4)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C; // (C)
        float *o = out + (size_t)n * C;       // (C)
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int i = 0; i < C; i++) ss += x[i] * x[i];
        float s = 1.0f / sqrtf(ss / C + eps);
#pragma omp simd
        for (int i = 0; i < C; i++) o[i] = w[i] * (x[i] * s);
        if (rstd) rstd[n] = s;
    }
}

void pt_rmsnorm_backward(float *dinp, const float *dout, const float *inp, const float *w,
                         const float *rstd, int N, int C) {
    // dinp (N, C) +=, dout (N, C), inp (N, C), w (C), rstd (N)
    // y = x * r * w with r = (mean(x^2) + eps)^-1/2, dr/dx_i = -r^3 x_i / C:
    // dx_i = r * w_i * d_i - x_i * r^3 / C * sum_j (w_j d_j x_j)
#pragma omp parallel for schedule(static) if (N > 4)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;  // (C)
        const float *d = dout + (size_t)n * C; // (C)
        float *dx = dinp + (size_t)n * C;      // (C)
        float s = rstd[n];
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int i = 0; i < C; i++) dot += w[i] * d[i] * x[i];
        float k = dot * s * s * s / C;
#pragma omp simd
        for (int i = 0; i < C; i++) dx[i] += s * w[i] * d[i] - x[i] * k;
    }
}
