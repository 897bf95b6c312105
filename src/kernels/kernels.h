/* kernels.h - pure float kernels: forward and input-gradient backward side by side.
 *
 * Conventions (see DESIGN.md section 3):
 *   - outputs first, then const inputs, then sizes; no allocation, no I/O,
 *     no global state;
 *   - backward kernels ACCUMULATE into their gradient outputs (+=); the
 *     caller zeroes once per step;
 *   - only input gradients exist: the model is frozen, weights get none;
 *   - row-major; a matrix "W (OC, C)" has OC rows of C floats.
 * Dimension letters: N rows (tokens), C input channels, OC output channels,
 * B batch, T time, NH query heads, NKV key/value heads, HS head size, V vocab.
 */
#ifndef PT_KERNELS_KERNELS_H
#define PT_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Work (in multiply-adds) below which a kernel stays on one thread: starting a
 * parallel region costs microseconds, and on a busy machine much more. */
#define PT_PAR_FLOPS (1 << 18)

/* Hot loops of the kernels get an x86-64-v3 (AVX2, FMA) clone beside the
 * baseline x86-64 one, picked once at load time by what the CPU supports
 * (gcc's target_clones through an ifunc), so one binary stays portable.
 * ("arch=haswell" would not do: its resolver asks whether the CPU *is* a
 * Haswell, so AMD and newer Intel CPUs got the baseline clone.) The attribute goes on a static
 * function called from inside the parallel region (the region's body itself is not cloned). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define PT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default"), noinline))
#else
#define PT_CLONES
#endif

/* ---- matmul: the one seam where fast GEMM engines plug in ---- */

/* out (N, OC) = inp (N, C) . W^T + bias; W (OC, C); bias (OC) or NULL. Overwrites out. */
void pt_matmul_forward(float *out, const float *inp, const float *W, const float *bias, int N,
                       int C, int OC);
/* dinp (N, C) += dout (N, OC) . W; W (OC, C). */
void pt_matmul_backward_input(float *dinp, const float *dout, const float *W, int N, int C, int OC);
/* A small product on the calling thread, for use inside parallel regions:
 * c (M, N) at row stride ldc = alpha * a (M, K) at stride lda . op(b), where
 * op(b) = b^T for b (N, K) at stride ldb when b_trans, else b (K, N). Returns 0
 * when the build's library engine did it, nonzero when the build has none (the
 * caller then uses its own loops). */
int pt_gemm_small(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int b_trans,
                  int M, int N, int K, float alpha);
/* The same with W in bf16 (uint16_t: the upper half of a float32, see
 * kernels/gemm.h): half the memory, float32 inputs, outputs and accumulation. */
void pt_matmul_forward_bf16(float *out, const float *inp, const uint16_t *W, const float *bias,
                            int N, int C, int OC);
void pt_matmul_backward_input_bf16(float *dinp, const float *dout, const uint16_t *W, int N, int C,
                                   int OC);
/* The builtin engine whatever the build chose (tests compare engines). */
void pt_matmul_forward_builtin(float *out, const float *inp, const float *W, const float *bias,
                               int N, int C, int OC);
void pt_matmul_backward_input_builtin(float *dinp, const float *dout, const float *W, int N, int C,
                                      int OC);
/* Naive references (plain triple loops, double accumulation) for the tests. */
void pt_matmul_forward_ref(float *out, const float *inp, const float *W, const float *bias, int N,
                           int C, int OC);
void pt_matmul_backward_input_ref(float *dinp, const float *dout, const float *W, int N, int C,
                                  int OC);
/* Weight-gradient products, used only by the (small) prompt encoder and linear head:
 * dW (OC, C) += dout^T (OC, N) . inp (N, C); dbias (OC) += column sums of dout (NULL to skip). */
void pt_matmul_backward_weight(float *dW, float *dbias, const float *dout, const float *inp, int N,
                               int C, int OC);

/* ---- normalization ---- */

/* LayerNorm over the last dim. mean, rstd (N) saved for backward (may be NULL). */
void pt_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C, float eps);
/* dinp (N, C) += d(out)/d(inp)^T dout. */
void pt_layernorm_backward(float *dinp, const float *dout, const float *inp, const float *w,
                           const float *mean, const float *rstd, int N, int C);
/* RMSNorm: out = inp * rsqrt(mean(inp^2) + eps) * w. rstd (N) saved (may be NULL). */
void pt_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                        float eps);
void pt_rmsnorm_backward(float *dinp, const float *dout, const float *inp, const float *w,
                         const float *rstd, int N, int C);

/* ---- activations (elementwise over n) ---- */

/* GELU, tanh approximation (GPT-2 "gelu_new"). */
void pt_gelu_tanh_forward(float *out, const float *inp, size_t n);
void pt_gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* GELU, exact erf form (BERT "gelu"). */
void pt_gelu_erf_forward(float *out, const float *inp, size_t n);
void pt_gelu_erf_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* SwiGLU: out = silu(gate) * up. */
void pt_swiglu_forward(float *out, const float *gate, const float *up, size_t n);
void pt_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, size_t n);
/* ReLU (prompt encoders). */
void pt_relu_forward(float *out, const float *inp, size_t n);
void pt_relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* ---- attention over packed sequences ----
 * Sequence b is rows start[b] .. start[b] + len[b] of q (row stride q_stride),
 * k, v (kv_stride) and out (NH*HS); len[b] <= T. Its query row t (at position
 * elen[b] + t) sees the elen[b] earlier keys/values of the sequence (a KV
 * cache, a cached text prefix, a deep prompt: rows at ek + b*e_bstride, stride
 * kv_stride; e_bstride 0 = the same for every sequence) and its own keys
 * 0 .. t (causal) or all len[b]. att (B, NH, T, E + T): probabilities kept for
 * backward. Grouped heads: query head h reads kv head h / (NH/NKV). */
typedef struct pt_attn_geom {
    int B, NH, NKV, HS, causal;
    float scale;
    const int *start, *len; /* (B) */
    int q_stride, kv_stride;
    int T; /* most own rows of a sequence (the att block height) */
    const float *ek, *ev;
    size_t e_bstride;
    int e_stride;    /* row stride of ek, ev (0: kv_stride) */
    const int *elen; /* (B) earlier keys per sequence, or NULL: none */
    int E;           /* most earlier keys of a sequence */
    /* Queries at some rows only (NULL qstart: every own row queries). Sequence
     * b's queries are rows qstart[b] .. qstart[b] + qlen[b] of q and out, query
     * row r standing at own row qidx[r] (its causal limit); att is then
     * (B, NH, Tq, E + T). */
    const int *qstart, *qlen, *qidx;
    int Tq;
} pt_attn_geom;

void pt_attn_forward(float *out, float *att, const float *q, const float *k, const float *v,
                     const pt_attn_geom *g);
/* dq, dk, dv (layouts of q, k, v) += gradients from dout; dek, dev (layout of
 * ek, ev) += the earlier keys' gradients unless NULL. */
void pt_attn_backward(float *dq, float *dk, float *dv, float *dek, float *dev, const float *dout,
                      const float *att, const float *q, const float *k, const float *v,
                      const pt_attn_geom *g);

/* ---- attention ----
 * q: row (b, t) starts at q + (b*T + t)*q_stride and holds NH heads of HS floats;
 * k, v: likewise with kv_stride and NKV heads (NH % NKV == 0; head h uses kv head
 * h / (NH/NKV)). GPT-2's fused qkv (B, T, 3C) is q = qkv, k = qkv + C,
 * v = qkv + 2C with both strides 3C.
 * len[b]: valid tokens of row b (right padding); key j is visible to query i
 * iff j < len[b] and (not causal or j <= i). Query rows i >= len[b] output 0.
 * out (B, T, NH*HS); att (B, NH, T, T) softmax probabilities, saved for backward.
 * scale is usually 1/sqrt(HS). */
void pt_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          int q_stride, int kv_stride, const int *len, int B, int T, int NH,
                          int NKV, int HS, int causal, float scale);
/* dq, dk, dv (same layouts and strides as q, k, v) += gradients from dout (B, T, NH*HS). */
void pt_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *att,
                           const float *q, const float *k, const float *v, int q_stride,
                           int kv_stride, const int *len, int B, int T, int NH, int NKV, int HS,
                           float scale);

/* Incremental (KV-cache) attention for n new rows of one sequence at positions
 * pos0 .. pos0+n-1. q (n, q_stride): the new rows' queries; k, v (pos0+n,
 * kv_stride): every cached key/value row including the new ones. Row i sees
 * keys 0 .. pos0+i (causal). out (n, NH*HS). Grouped heads as above. */
void pt_attention_decode(float *out, const float *q, const float *k, const float *v, int q_stride,
                         int kv_stride, int n, int pos0, int NH, int NKV, int HS, float scale);

/* ---- rotary position embedding (Hugging Face "rotate_half" layout) ----
 * x row (b, t) at x + (b*T + t)*stride holds NHX heads of HS floats; the pair
 * (i, i + HS/2) of each head is rotated by angle pos * theta^(-2i/HS), pos = t.
 * In place. backward applies the inverse rotation to the gradient, in place. */
void pt_rope_forward(float *x, int stride, int B, int T, int NHX, int HS, float theta);
void pt_rope_backward(float *dx, int stride, int B, int T, int NHX, int HS, float theta);
/* Incremental decoding: n rows of one sequence, row i of x (at x + i*stride) at
 * position pos0 + i (pt_rope_forward with B = 1 is pos0 = 0). In place. */
void pt_rope_forward_at(float *x, int stride, int n, int NHX, int HS, float theta, int pos0);
/* inv_freq (HS/2) = theta^(-2i/HS), float arithmetic as the reference's. */
void pt_rope_inv_freq(float *inv_freq, int HS, float theta);
/* General form: N rows of x (row i at x + i*stride, position pos[i]) with the
 * given inverse frequencies (scaling already applied). adjacent = 1: the
 * input pairs are (2i, 2i+1) of each head (llama.cpp's permuted Q/K rows) and
 * the output is in rotate_half order; backward (dir -1) maps a gradient in
 * rotate_half order back to the input's order. In place. */
void pt_rope_rows(float *x, int stride, int N, int NHX, int HS, const int *pos,
                  const float *inv_freq, int adjacent, int dir);

/* ---- softmax and cross-entropy ---- */

/* Row-wise softmax of logits (N, V) into probs (N, V). */
void pt_softmax_forward(float *probs, const float *logits, int N, int V);
/* For each row n: loss[n] = -log softmax(logits[n])[target[n]] (loss may be NULL);
 * a row whose target is outside [0, V) (e.g. -100) is ignored: loss 0, no gradient;
 * dlogits[n] += (softmax - onehot) * dscale. Returns the mean loss over counted rows.
 * dlogits may be NULL (no gradient). */
double pt_crossentropy_forward_backward(float *loss, float *dlogits, const float *logits,
                                        const int *target, int N, int V, float dscale);

/* ---- small helpers ---- */
void pt_add_inplace(float *a, const float *b, size_t n); /* a += b */
void pt_scale_inplace(float *a, float s, size_t n);      /* a *= s */

#endif
