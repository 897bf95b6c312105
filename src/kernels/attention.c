/* attention.c - scaled dot-product attention with right padding, optional causal mask
 * and grouped key/value heads, forward and input gradient.
 *
 * B batch, T time, NH query heads, NKV key/value heads, HS head size.
 * Row (b, t) of q starts at q + (b*T + t)*q_stride; head h occupies HS floats
 * at offset h*HS. k and v use kv_stride and NKV heads; query head h reads
 * kv head h / (NH/NKV). Key j is visible to query i iff j < len[b] and
 * (not causal or j <= i); query rows i >= len[b] give 0 and take no gradient.
 * Visible keys of a valid row always form the prefix [0, nk) with
 * nk = causal ? i + 1 : len[b]. The backward pass has no causal flag: it reads
 * the mask from att, whose masked entries are exactly 0 (a key whose
 * probability underflowed to 0 has zero gradient as well, so skipping it is exact).
 */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

/* exp for the softmax rows, vectorizable (libm's expf is a scalar call): x
 * reduced to n ln2 + r, |r| <= ln2/2, degree-7 Taylor polynomial (truncation
 * 5e-9 relative, so about one ulp from the roundings), 2^n put in the exponent
 * bits; x clamped to [-87.3, 0], the range a softmax row minus its maximum
 * lives in. (activation.c's vexpf is the degree-6 form, 1.2e-7: here it moved
 * gradients of the PyTorch step fixtures measurably.) */
static inline float sm_expf(float x) {
    x = x > -87.3f ? x : -87.3f;
    x = x < 0.0f ? x : 0.0f;
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f; /* round(x / ln2) */
    float r = x - n * 0.693145752f - n * 1.42860677e-6f;     /* ln2 split in two */
    float p = 1.98412698e-4f;                                /* 1/7! */
    p = 1.38888889e-3f + r * p;
    p = 8.33333333e-3f + r * p;
    p = 4.16666667e-2f + r * p;
    p = 1.66666667e-1f + r * p;
    p = 0.5f + r * p;
    p = 1.0f + r * p;
    p = 1.0f + r * p;
    int bits = ((int)n + 127) << 23; /* 2^n */
    float sc;
    memcpy(&sc, &bits, sizeof sc);
    return p * sc;
}

static inline float dot(const float *restrict a, const float *restrict b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* out[0..4) = a . b_r (n) for the four rows b_r = b + r * stride: a is loaded once */
static inline void dot4(float *restrict out, const float *restrict a, const float *restrict b,
                        size_t stride, int n) {
    const float *b0 = b, *b1 = b + stride, *b2 = b + 2 * stride, *b3 = b + 3 * stride;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int i = 0; i < n; i++) {
        s0 += a[i] * b0[i];
        s1 += a[i] * b1[i];
        s2 += a[i] * b2[i];
        s3 += a[i] * b3[i];
    }
    out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
}

/* out (n) += a * x (n) */
static inline void axpy(float *restrict out, float a, const float *restrict x, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) out[i] += a * x[i];
}

/* out (n) += sum_r a[r] * x_r (n), x_r = x + r * stride, r < 4 */
static inline void axpy4(float *restrict out, const float *a, const float *restrict x,
                         size_t stride, int n) {
    const float *x0 = x, *x1 = x + stride, *x2 = x + 2 * stride, *x3 = x + 3 * stride;
    float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
#pragma omp simd
    for (int i = 0; i < n; i++) out[i] += a0 * x0[i] + a1 * x1[i] + a2 * x2[i] + a3 * x3[i];
}

static inline int valid_len(const int *len, int b, int T) {
    int L = len[b];
    return L < 0 ? 0 : L > T ? T : L;
}

/* One (batch row, query head): att rows (T, T) and out rows (T, HS at stride
 * o_stride); q at q_stride, the head's keys k and values v at kv_stride. */
/* a (n) = softmax(a) in place, the row already scaled */
PT_CLONES static void softmax_row(float *a, int n) {
    if (n <= 0) return;
    float mx = a[0];
    for (int j = 1; j < n; j++) mx = a[j] > mx ? a[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) {
        float e = sm_expf(a[j] - mx);
        a[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < n; j++) a[j] *= inv;
}

/* fwd_head through the library's small products (scores for all L x L pairs,
 * then the causal rows' masked tail zeroed before the product with v);
 * returns nonzero, having written nothing, when the build has no such engine. */
static int fwd_head_gemm(float *out, int o_stride, float *att, const float *q, int q_stride,
                         const float *k, const float *v, int kv_stride, int L, int T, int HS,
                         int causal, float scale) {
    if (pt_gemm_small(att, T, q, q_stride, k, kv_stride, 1, L, L, HS, scale)) return 1;
    for (int t = 0; t < T; t++) {
        float *a = att + (size_t)t * T; // (T)
        int nk = t >= L ? 0 : causal ? t + 1 : L;
        softmax_row(a, nk);
        for (int j = nk; j < T; j++) a[j] = 0.0f;
    }
    pt_gemm_small(out, o_stride, att, T, v, kv_stride, 0, L, HS, L, 1.0f);
    for (int t = L; t < T; t++)
        for (int i = 0; i < HS; i++) out[(size_t)t * o_stride + i] = 0.0f;
    return 0;
}

PT_CLONES static void fwd_head(float *out, int o_stride, float *att, const float *q, int q_stride,
                               const float *k, const float *v, int kv_stride, int L, int T, int HS,
                               int causal, float scale) {
    if (L >= 16 &&
        !fwd_head_gemm(out, o_stride, att, q, q_stride, k, v, kv_stride, L, T, HS, causal, scale))
        return;
    for (int t = 0; t < T; t++) {
        float *a = att + (size_t)t * T;        // (T)
        float *o = out + (size_t)t * o_stride; // (HS)
        for (int i = 0; i < HS; i++) o[i] = 0.0f;
        if (t >= L) {
            for (int j = 0; j < T; j++) a[j] = 0.0f;
            continue;
        }
        int nk = causal ? t + 1 : L, j = 0;
        const float *qt = q + (size_t)t * q_stride; // (HS)
        for (; j + 4 <= nk; j += 4) dot4(a + j, qt, k + (size_t)j * kv_stride, kv_stride, HS);
        for (; j < nk; j++) a[j] = dot(qt, k + (size_t)j * kv_stride, HS);
        for (j = 0; j < nk; j++) a[j] *= scale;
        softmax_row(a, nk);
        for (j = nk; j < T; j++) a[j] = 0.0f;
        for (j = 0; j + 4 <= nk; j += 4) axpy4(o, a + j, v + (size_t)j * kv_stride, kv_stride, HS);
        for (; j < nk; j++) axpy(o, a[j], v + (size_t)j * kv_stride, HS);
    }
}

void pt_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          int q_stride, int kv_stride, const int *len, int B, int T, int NH,
                          int NKV, int HS, int causal, float scale) {
    // out (B, T, NH*HS), att (B, NH, T, T), q (B, T, q_stride), k, v (B, T, kv_stride)
    int group = NH / NKV; // query heads per kv head
#pragma omp parallel for collapse(2)                                                               \
    schedule(static) if ((double)B * NH * T * T * HS >= PT_PAR_FLOPS)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t row = (size_t)b * T, kvo = (size_t)(h / group) * HS;
            fwd_head(out + row * NH * HS + (size_t)h * HS, NH * HS,
                     att + ((size_t)b * NH + h) * T * T, q + row * q_stride + (size_t)h * HS,
                     q_stride, k + row * kv_stride + kvo, v + row * kv_stride + kvo, kv_stride,
                     valid_len(len, b, T), T, HS, causal, scale);
        }
}

#define DP_CACHE 1024 /* scores per row whose dp is kept between the two passes */

/* One (batch row, query head) of the backward pass: pointers as in fwd_head,
 * offset to the row and head; dq at q_stride, dk and dv at kv_stride. */
PT_CLONES static void bwd_head(float *dq, float *dk, float *dv, const float *dout, int o_stride,
                               const float *att, const float *q, int q_stride, const float *k,
                               const float *v, int kv_stride, int L, int T, int HS, float scale) {
    float dpc[DP_CACHE];
    for (int t = 0; t < L; t++) {
        const float *p = att + (size_t)t * T;         // (T)
        const float *d = dout + (size_t)t * o_stride; // (HS)
        const float *qt = q + (size_t)t * q_stride;   // (HS)
        float *dqt = dq + (size_t)t * q_stride;       // (HS)
        int nk = L; // masked keys (causal: j > t) have p_j = 0 exactly
        while (nk > 0 && p[nk - 1] == 0.0f) nk--;
        int cached = nk <= DP_CACHE, j = 0;
        float pdp = 0.0f;
        if (cached) {
            for (; j + 4 <= nk; j += 4) dot4(dpc + j, d, v + (size_t)j * kv_stride, kv_stride, HS);
            for (; j < nk; j++) dpc[j] = dot(d, v + (size_t)j * kv_stride, HS);
            for (j = 0; j < nk; j++) pdp += p[j] * dpc[j];
        } else {
            for (j = 0; j < nk; j++)
                if (p[j] != 0.0f) pdp += p[j] * dot(d, v + (size_t)j * kv_stride, HS);
        }
        for (j = 0; j < nk; j++) {
            if (p[j] == 0.0f) continue; // contributes nothing
            size_t kv_off = (size_t)j * kv_stride;
            float dp = cached ? dpc[j] : dot(d, v + kv_off, HS);
            float ds = scale * p[j] * (dp - pdp);
            axpy(dv + kv_off, p[j], d, HS);
            axpy(dqt, ds, k + kv_off, HS);
            axpy(dk + kv_off, ds, qt, HS);
        }
    }
}

void pt_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *att,
                           const float *q, const float *k, const float *v, int q_stride,
                           int kv_stride, const int *len, int B, int T, int NH, int NKV, int HS,
                           float scale) {
    // dq (B, T, q_stride) +=, dk, dv (B, T, kv_stride) +=, dout (B, T, NH*HS),
    // att (B, NH, T, T), q, k, v as in the forward pass.
    // Per valid query row with d = dout row, p = att row, s = scores:
    //   dv_j += p_j d;  dp_j = d . v_j;  ds_j = p_j (dp_j - sum_l p_l dp_l);
    //   dq += scale sum_j ds_j k_j;  dk_j += scale ds_j q.
    // sum_l p_l dp_l needs a first pass over the row; its dp_j are kept for the second.
    // One task per (b, kv head) owns every write to its dk, dv and its query heads' dq.
    int group = NH / NKV;
#pragma omp parallel for collapse(2)                                                               \
    schedule(static) if ((double)B * NH * T * T * HS >= PT_PAR_FLOPS)
    for (int b = 0; b < B; b++)
        for (int kvh = 0; kvh < NKV; kvh++) {
            size_t row = (size_t)b * T, kvo = (size_t)kvh * HS;
            for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                size_t qo = row * q_stride + (size_t)h * HS;
                bwd_head(dq + qo, dk + row * kv_stride + kvo, dv + row * kv_stride + kvo,
                         dout + row * NH * HS + (size_t)h * HS, NH * HS,
                         att + ((size_t)b * NH + h) * T * T, q + qo, q_stride,
                         k + row * kv_stride + kvo, v + row * kv_stride + kvo, kv_stride,
                         valid_len(len, b, T), T, HS, scale);
            }
        }
}

void pt_attention_decode(float *out, const float *q, const float *k, const float *v, int q_stride,
                         int kv_stride, int n, int pos0, int NH, int NKV, int HS, float scale) {
    // out (n, NH*HS), q (n, q_stride), k, v (pos0 + n, kv_stride)
    // Two passes over the visible keys, no scratch: the maximum score, then
    // o = sum_j exp(s_j - max) v_j / sum_j exp(s_j - max).
    int group = NH / NKV;
#pragma omp parallel for collapse(2)                                                               \
    schedule(static) if ((double)n * NH * (pos0 + n) * HS >= PT_PAR_FLOPS)
    for (int i = 0; i < n; i++) {
        for (int h = 0; h < NH; h++) {
            int kvh = h / group, nk = pos0 + i + 1;
            const float *qi = q + (size_t)i * q_stride + h * HS; // (HS)
            float *o = out + ((size_t)i * NH + h) * HS;          // (HS)
            float mx = -INFINITY;
            for (int j = 0; j < nk; j++) {
                float s = scale * dot(qi, k + (size_t)j * kv_stride + kvh * HS, HS);
                mx = s > mx ? s : mx;
            }
            for (int c = 0; c < HS; c++) o[c] = 0.0f;
            float sum = 0.0f;
            for (int j = 0; j < nk; j++) {
                float e = expf(scale * dot(qi, k + (size_t)j * kv_stride + kvh * HS, HS) - mx);
                sum += e;
                axpy(o, e, v + (size_t)j * kv_stride + kvh * HS, HS);
            }
            float inv = 1.0f / sum;
            for (int c = 0; c < HS; c++) o[c] *= inv;
        }
    }
}
