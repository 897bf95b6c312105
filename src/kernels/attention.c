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

#include "kernels/kernels.h"

static inline float dot(const float *restrict a, const float *restrict b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* out (n) += a * x (n) */
static inline void axpy(float *restrict out, float a, const float *restrict x, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) out[i] += a * x[i];
}

static inline int valid_len(const int *len, int b, int T) {
    int L = len[b];
    return L < 0 ? 0 : L > T ? T : L;
}

void pt_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          int q_stride, int kv_stride, const int *len, int B, int T, int NH,
                          int NKV, int HS, int causal, float scale) {
    // out (B, T, NH*HS), att (B, NH, T, T), q (B, T, q_stride), k, v (B, T, kv_stride)
    int group = NH / NKV; // query heads per kv head
#pragma omp parallel for collapse(2)                                                               \
    schedule(static) if ((double)B * NH * T * T * HS >= PT_PAR_FLOPS)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            int L = valid_len(len, b, T);
            int kvh = h / group;
            for (int t = 0; t < T; t++) {
                float *a = att + (((size_t)b * NH + h) * T + t) * T;     // (T)
                float *o = out + ((size_t)b * T + t) * NH * HS + h * HS; // (HS)
                for (int i = 0; i < HS; i++) o[i] = 0.0f;
                if (t >= L) {
                    for (int j = 0; j < T; j++) a[j] = 0.0f;
                    continue;
                }
                int nk = causal ? t + 1 : L;
                const float *qt = q + ((size_t)b * T + t) * q_stride + h * HS; // (HS)
                float mx = -INFINITY;
                for (int j = 0; j < nk; j++) {
                    const float *kj = k + ((size_t)b * T + j) * kv_stride + kvh * HS; // (HS)
                    a[j] = scale * dot(qt, kj, HS);
                    mx = a[j] > mx ? a[j] : mx;
                }
                float sum = 0.0f;
                for (int j = 0; j < nk; j++) {
                    a[j] = expf(a[j] - mx);
                    sum += a[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j < nk; j++) a[j] *= inv;
                for (int j = nk; j < T; j++) a[j] = 0.0f;
                for (int j = 0; j < nk; j++) {
                    const float *vj = v + ((size_t)b * T + j) * kv_stride + kvh * HS; // (HS)
                    axpy(o, a[j], vj, HS);
                }
            }
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
    // sum_l p_l dp_l is a first pass over the row, so no scratch buffer is needed.
    // One task per (b, kv head) owns every write to its dk, dv and its query heads' dq.
    int group = NH / NKV;
#pragma omp parallel for collapse(2)                                                               \
    schedule(static) if ((double)B * NH * T * T * HS >= PT_PAR_FLOPS)
    for (int b = 0; b < B; b++) {
        for (int kvh = 0; kvh < NKV; kvh++) {
            int L = valid_len(len, b, T);
            for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                for (int t = 0; t < L; t++) {
                    const float *p = att + (((size_t)b * NH + h) * T + t) * T;      // (T)
                    const float *d = dout + ((size_t)b * T + t) * NH * HS + h * HS; // (HS)
                    const float *qt = q + ((size_t)b * T + t) * q_stride + h * HS;  // (HS)
                    float *dqt = dq + ((size_t)b * T + t) * q_stride + h * HS;      // (HS)
                    int nk = L; // masked keys (causal: j > t) have p_j = 0 exactly
                    while (nk > 0 && p[nk - 1] == 0.0f) nk--;
                    float pdp = 0.0f;
                    for (int j = 0; j < nk; j++) {
                        if (p[j] == 0.0f) continue;
                        const float *vj = v + ((size_t)b * T + j) * kv_stride + kvh * HS;
                        pdp += p[j] * dot(d, vj, HS);
                    }
                    for (int j = 0; j < nk; j++) {
                        if (p[j] == 0.0f) continue; // contributes nothing
                        size_t kv_off = ((size_t)b * T + j) * kv_stride + kvh * HS;
                        float dp = dot(d, v + kv_off, HS);
                        float ds = scale * p[j] * (dp - pdp);
                        axpy(dv + kv_off, p[j], d, HS);
                        axpy(dqt, ds, k + kv_off, HS);
                        axpy(dk + kv_off, ds, qt, HS);
                    }
                }
            }
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
