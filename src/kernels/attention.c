/* attention.c - scaled dot-product attention over packed sequences, with
 * earlier (cached) keys, an optional causal mask and grouped key/value heads,
 * forward and input gradient.
 *
 * NH query heads, NKV key/value heads, HS head size (see pt_attn_geom in
 * kernels.h). Sequence b is rows start[b] .. start[b] + len[b] of q, k, v and
 * out; head h occupies HS floats at offset h*HS of a row; query head h reads
 * kv head h / (NH/NKV). Its query row t sees the sequence's e = elen[b]
 * earlier keys (ek, ev) and its own keys 0 .. t (causal) or 0 .. len[b] - 1.
 * Probabilities of (b, h) are a (T, E + T) block of att: row t holds the e
 * earlier keys' then the own keys'. The backward pass has no causal flag: it
 * reads the mask from att, whose masked entries are exactly 0 (a key whose
 * probability underflowed to 0 has zero gradient as well, so skipping it is
 * exact). The padded (B, T) forms below are this with start[b] = b*T.
 */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

/* exp for the softmax rows, vectorizable (libm's expf is a scalar call): x
 * reduced to n ln2 + r, |r| <= ln2/2, degree-7 Taylor polynomial (truncation
 * 5e-9 relative, so about one ulp from the roundings), 2^n put in the exponent
 * bits; x clamped to [-87.3, 0], the range a softmax row minus its maximum
 * lives in; a NaN comes out as NaN, so a NaN score poisons its row instead of
 * vanishing. (activation.c's vexpf is the degree-6 form, 1.2e-7: here it moved
 * gradients of the PyTorch step fixtures measurably.) */
static inline float sm_expf(float x0) {
    float x = x0 > -87.3f ? x0 : -87.3f;
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
    return x0 == x0 ? p * sc : x0; /* NaN stays NaN (the clamps would make it ~0) */
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

/* a (n) = q . key_j (HS) for the n keys at k (row stride ks), unscaled */
static inline void scores(float *a, const float *q, const float *k, size_t ks, int n, int HS) {
    int j = 0;
    for (; j + 4 <= n; j += 4) dot4(a + j, q, k + (size_t)j * ks, ks, HS);
    for (; j < n; j++) a[j] = dot(q, k + (size_t)j * ks, HS);
}

/* o (HS) += sum_j p_j v_j over the n values at v (row stride vs) */
static inline void mix(float *o, const float *p, const float *v, size_t vs, int n, int HS) {
    int j = 0;
    for (; j + 4 <= n; j += 4) axpy4(o, p + j, v + (size_t)j * vs, vs, HS);
    for (; j < n; j++) axpy(o, p[j], v + (size_t)j * vs, HS);
}

/* The keys one (sequence, head) task sees: e earlier ones (ek, ev) then the
 * sequence's own L (k, v) at row stride ks (the earlier ones at eks); a row t of its att block
 * holds e + L probabilities at row stride ars. */
typedef struct head_keys {
    const float *ek, *ev, *k, *v;
    int e, L, ks, eks, ars, causal; /* eks: the earlier keys' row stride */
    const int *tq; /* (nq) own-row index of each query (NULL: query i is own row i, nq = L) */
    int nq;
} head_keys;

/* E == 0 through the library's small products (scores for all L x L pairs,
 * the causal rows' masked tail zeroed, then the product with v); returns
 * nonzero, having written nothing, when the build has no such engine. */
static int fwd_head_gemm(float *out, int o_stride, float *att, const float *q, int q_stride,
                         const head_keys *hk, int HS, float scale) {
    int L = hk->L, ars = hk->ars;
    if (pt_gemm_small(att, ars, q, q_stride, hk->k, hk->ks, 1, L, L, HS, scale)) return 1;
    for (int t = 0; t < L; t++) {
        float *a = att + (size_t)t * ars; // (L)
        int nk = hk->causal ? t + 1 : L;
        softmax_row(a, nk);
        for (int j = nk; j < ars; j++) a[j] = 0.0f;
    }
    pt_gemm_small(out, o_stride, att, ars, hk->v, hk->ks, 0, L, HS, L, 1.0f);
    return 0;
}

PT_CLONES static void fwd_head(float *out, int o_stride, float *att, const float *q, int q_stride,
                               const head_keys *hk, int HS, float scale) {
    int e = hk->e, L = hk->L;
    if (e == 0 && L >= 16 && !hk->tq &&
        !fwd_head_gemm(out, o_stride, att, q, q_stride, hk, HS, scale))
        return;
    for (int i = 0; i < hk->nq; i++) {
        int t = hk->tq ? hk->tq[i] : i;        /* the query's own row: its causal limit */
        float *a = att + (size_t)i * hk->ars;  // (e + L)
        float *o = out + (size_t)i * o_stride; // (HS)
        const float *qt = q + (size_t)i * q_stride;
        int nk = hk->causal ? t + 1 : L, n = e + nk;
        scores(a, qt, hk->ek, hk->eks, e, HS);
        scores(a + e, qt, hk->k, hk->ks, nk, HS);
        for (int j = 0; j < n; j++) a[j] *= scale;
        softmax_row(a, n);
        for (int j = n; j < hk->ars; j++) a[j] = 0.0f;
        for (int c = 0; c < HS; c++) o[c] = 0.0f;
        mix(o, a, hk->ev, hk->eks, e, HS);
        mix(o, a + e, hk->v, hk->ks, nk, HS);
    }
}

static inline int seq_len(const pt_attn_geom *g, int b) {
    int L = g->len[b];
    return L < 0 ? 0 : L > g->T ? g->T : L;
}

static inline int seq_elen(const pt_attn_geom *g, int b) {
    int e = g->elen ? g->elen[b] : 0;
    return e < 0 ? 0 : e > g->E ? g->E : e;
}

/* The keys of sequence b for kv head kvh. */
static head_keys keys_of(const pt_attn_geom *g, const float *k, const float *v, int b, int kvh) {
    size_t row = (size_t)g->start[b] * g->kv_stride, kvo = (size_t)kvh * g->HS;
    size_t eo = (size_t)b * g->e_bstride + kvo;
    head_keys hk = {g->ek ? g->ek + eo : NULL,
                    g->ev ? g->ev + eo : NULL,
                    k + row + kvo,
                    v + row + kvo,
                    seq_elen(g, b),
                    seq_len(g, b),
                    g->kv_stride,
                    g->e_stride ? g->e_stride : g->kv_stride,
                    g->E + g->T,
                    g->causal,
                    g->qstart ? g->qidx + g->qstart[b] : NULL,
                    g->qstart ? g->qlen[b] : seq_len(g, b)};
    return hk;
}

/* First query row of sequence b in q and out. */
static inline size_t q_row(const pt_attn_geom *g, int b) {
    return (size_t)(g->qstart ? g->qstart[b] : g->start[b]);
}

static inline float *att_block(float *att, const pt_attn_geom *g, int b, int h) {
    size_t Tq = (size_t)(g->qstart ? g->Tq : g->T);
    return att + ((size_t)b * g->NH + h) * Tq * (size_t)(g->E + g->T);
}

void pt_attn_forward(float *out, float *att, const float *q, const float *k, const float *v,
                     const pt_attn_geom *g) {
    // out (rows, NH*HS), att (B, NH, T, E + T), q (rows, q_stride), k, v (rows, kv_stride)
    int group = g->NH / g->NKV, HS = g->HS, os = g->NH * HS;
    double work = 0;
    for (int b = 0; b < g->B; b++)
        work += (double)(g->qstart ? g->qlen[b] : seq_len(g, b)) *
                (seq_len(g, b) + seq_elen(g, b)) * g->NH * HS;
    (void)work; /* unused without OpenMP */
#pragma omp parallel for collapse(2) schedule(dynamic) if (work >= PT_PAR_FLOPS)
    for (int b = 0; b < g->B; b++)
        for (int h = 0; h < g->NH; h++) {
            head_keys hk = keys_of(g, k, v, b, h / group);
            size_t row = q_row(g, b);
            fwd_head(out + row * os + (size_t)h * HS, os, att_block(att, g, b, h),
                     q + row * g->q_stride + (size_t)h * HS, g->q_stride, &hk, HS, g->scale);
        }
}

#define DP_CACHE 1024 /* scores per row whose dp is kept between the two passes */

/* d(scores) of one key segment: dv, dk (if not NULL) += ..., dq += ...; p the
 * segment's probabilities, dpc their dp (or NULL: recomputed) */
static inline void bwd_seg(float *dqt, float *dk, float *dv, const float *p, const float *dpc,
                           const float *d, const float *qt, const float *k, const float *v,
                           size_t ks, int n, int HS, float pdp, float scale) {
    for (int j = 0; j < n; j++) {
        if (p[j] == 0.0f) continue; // contributes nothing
        size_t off = (size_t)j * ks;
        float dp = dpc ? dpc[j] : dot(d, v + off, HS);
        float ds = scale * p[j] * (dp - pdp);
        if (dv) axpy(dv + off, p[j], d, HS);
        axpy(dqt, ds, k + off, HS);
        if (dk) axpy(dk + off, ds, qt, HS);
    }
}

/* One (sequence, query head) of the backward pass: keys as in fwd_head;
 * dq at q_stride, dk, dv (own keys) and dek, dev (earlier keys, may be NULL)
 * at the keys' stride. */
PT_CLONES static void bwd_head(float *dq, float *dk, float *dv, float *dek, float *dev,
                               const float *dout, int o_stride, const float *att, const float *q,
                               int q_stride, const head_keys *hk, int HS, float scale) {
    float dpc[DP_CACHE];
    int e = hk->e, L = hk->L;
    for (int t = 0; t < hk->nq; t++) {
        const float *p = att + (size_t)t * hk->ars;   // (e + L)
        const float *d = dout + (size_t)t * o_stride; // (HS)
        const float *qt = q + (size_t)t * q_stride;   // (HS)
        float *dqt = dq + (size_t)t * q_stride;       // (HS)
        int nk = L; // masked own keys (causal: j > t) have p = 0 exactly
        while (nk > 0 && p[e + nk - 1] == 0.0f) nk--;
        int n = e + nk, cached = n <= DP_CACHE;
        float pdp = 0.0f;
        if (cached) {
            int j = 0;
            for (; j + 4 <= e; j += 4) dot4(dpc + j, d, hk->ev + (size_t)j * hk->eks, hk->eks, HS);
            for (; j < e; j++) dpc[j] = dot(d, hk->ev + (size_t)j * hk->eks, HS);
            for (j = 0; j + 4 <= nk; j += 4)
                dot4(dpc + e + j, d, hk->v + (size_t)j * hk->ks, hk->ks, HS);
            for (; j < nk; j++) dpc[e + j] = dot(d, hk->v + (size_t)j * hk->ks, HS);
            for (j = 0; j < n; j++) pdp += p[j] * dpc[j];
        } else {
            for (int j = 0; j < e; j++)
                if (p[j] != 0.0f) pdp += p[j] * dot(d, hk->ev + (size_t)j * hk->eks, HS);
            for (int j = 0; j < nk; j++)
                if (p[e + j] != 0.0f) pdp += p[e + j] * dot(d, hk->v + (size_t)j * hk->ks, HS);
        }
        bwd_seg(dqt, dek, dev, p, cached ? dpc : NULL, d, qt, hk->ek, hk->ev, hk->eks, e, HS, pdp,
                scale);
        bwd_seg(dqt, dk, dv, p + e, cached ? dpc + e : NULL, d, qt, hk->k, hk->v, hk->ks, nk, HS,
                pdp, scale);
    }
}

/* All query heads of kv head kvh in sequence b. */
static void bwd_kv_head(float *dq, float *dk, float *dv, float *dek, float *dev, const float *dout,
                        const float *att, const float *q, const float *k, const float *v,
                        const pt_attn_geom *g, int b, int kvh) {
    int group = g->NH / g->NKV, HS = g->HS, os = g->NH * HS;
    head_keys hk = keys_of(g, k, v, b, kvh);
    size_t kvo = (size_t)g->start[b] * g->kv_stride + (size_t)kvh * HS, row = q_row(g, b);
    size_t eo = (size_t)b * g->e_bstride + (size_t)kvh * HS;
    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        size_t qo = row * g->q_stride + (size_t)h * HS;
        bwd_head(dq + qo, dk + kvo, dv + kvo, dek ? dek + eo : NULL, dev ? dev + eo : NULL,
                 dout + row * os + (size_t)h * HS, os, att_block((float *)att, g, b, h), q + qo,
                 g->q_stride, &hk, HS, g->scale);
    }
}

void pt_attn_backward(float *dq, float *dk, float *dv, float *dek, float *dev, const float *dout,
                      const float *att, const float *q, const float *k, const float *v,
                      const pt_attn_geom *g) {
    // Per valid query row with d = dout row, p = att row, s = scores:
    //   dv_j += p_j d;  dp_j = d . v_j;  ds_j = p_j (dp_j - sum_l p_l dp_l);
    //   dq += scale sum_j ds_j k_j;  dk_j += scale ds_j q.
    // sum_l p_l dp_l needs a first pass over the row; its dp_j are kept for the second.
    // One task per (sequence, kv head) owns every write to its dk, dv and its query
    // heads' dq; earlier keys shared by every sequence (e_bstride 0) with gradients
    // make one task per kv head that walks the sequences in turn.
    double work = 0;
    for (int b = 0; b < g->B; b++)
        work += (double)(g->qstart ? g->qlen[b] : seq_len(g, b)) *
                (seq_len(g, b) + seq_elen(g, b)) * g->NH * g->HS;
    int par = work >= PT_PAR_FLOPS;
    (void)par; /* unused without OpenMP */
    if (dek && g->e_bstride == 0 && g->B > 1) {
#pragma omp parallel for schedule(dynamic) if (par)
        for (int kvh = 0; kvh < g->NKV; kvh++)
            for (int b = 0; b < g->B; b++)
                bwd_kv_head(dq, dk, dv, dek, dev, dout, att, q, k, v, g, b, kvh);
        return;
    }
#pragma omp parallel for collapse(2) schedule(dynamic) if (par)
    for (int b = 0; b < g->B; b++)
        for (int kvh = 0; kvh < g->NKV; kvh++)
            bwd_kv_head(dq, dk, dv, dek, dev, dout, att, q, k, v, g, b, kvh);
}

/* ---- the padded-batch form ---- */

static void padded_geom(pt_attn_geom *g, int *start, const int *len, int B, int T, int NH, int NKV,
                        int HS, int q_stride, int kv_stride, int causal, float scale) {
    memset(g, 0, sizeof *g);
    for (int b = 0; b < B; b++) start[b] = b * T;
    g->B = B, g->T = T, g->NH = NH, g->NKV = NKV, g->HS = HS;
    g->causal = causal, g->scale = scale;
    g->start = start, g->len = len;
    g->q_stride = q_stride, g->kv_stride = kv_stride;
}

#define PADDED_BMAX 4096

void pt_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          int q_stride, int kv_stride, const int *len, int B, int T, int NH,
                          int NKV, int HS, int causal, float scale) {
    // out (B, T, NH*HS), att (B, NH, T, T), q (B, T, q_stride), k, v (B, T, kv_stride)
    int start[PADDED_BMAX];
    for (int b0 = 0; b0 < B; b0 += PADDED_BMAX) {
        int nb = B - b0 < PADDED_BMAX ? B - b0 : PADDED_BMAX;
        size_t r0 = (size_t)b0 * T;
        pt_attn_geom g;
        padded_geom(&g, start, len + b0, nb, T, NH, NKV, HS, q_stride, kv_stride, causal, scale);
        pt_attn_forward(out + r0 * NH * HS, att + r0 * NH * T, q + r0 * q_stride,
                        k + r0 * kv_stride, v + r0 * kv_stride, &g);
    }
    for (int b = 0; b < B; b++) { /* padding rows: zero output and probabilities */
        int L = len[b] < 0 ? 0 : len[b] > T ? T : len[b];
        for (int t = L; t < T; t++) {
            memset(out + ((size_t)b * T + t) * NH * HS, 0, sizeof(float) * (size_t)NH * HS);
            for (int h = 0; h < NH; h++)
                memset(att + (((size_t)b * NH + h) * T + t) * T, 0, sizeof(float) * (size_t)T);
        }
    }
}

void pt_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *att,
                           const float *q, const float *k, const float *v, int q_stride,
                           int kv_stride, const int *len, int B, int T, int NH, int NKV, int HS,
                           float scale) {
    int start[PADDED_BMAX];
    for (int b0 = 0; b0 < B; b0 += PADDED_BMAX) {
        int nb = B - b0 < PADDED_BMAX ? B - b0 : PADDED_BMAX;
        size_t r0 = (size_t)b0 * T;
        pt_attn_geom g;
        padded_geom(&g, start, len + b0, nb, T, NH, NKV, HS, q_stride, kv_stride, 0, scale);
        pt_attn_backward(dq + r0 * q_stride, dk + r0 * kv_stride, dv + r0 * kv_stride, NULL, NULL,
                         dout + r0 * NH * HS, att + r0 * NH * T, q + r0 * q_stride,
                         k + r0 * kv_stride, v + r0 * kv_stride, &g);
    }
}

void pt_attention_decode(float *out, const float *q, const float *k, const float *v, int q_stride,
                         int kv_stride, int n, int pos0, int NH, int NKV, int HS, float scale) {
    // out (n, NH*HS), q (n, q_stride), k, v (pos0 + n, kv_stride)
    // Two passes over the visible keys, no scratch: the maximum score, then
    // o = sum_j exp(s_j - max) v_j / sum_j exp(s_j - max). (A streaming
    // reference for the cached-keys path of pt_attn_forward.)
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
