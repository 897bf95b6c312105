/* llama.c - LLaMA forward and input-gradient backward (frozen weights).
 *
 * Block l (pre-norm), on the residual stream h (B, T, C):
 *   n = rmsnorm(h) ; q = RoPE(n Wq^T), k = RoPE(n Wk^T), v = n Wv^T
 *   h += attn(q, k, v) Wo^T               (causal, grouped-query: NKV <= NH)
 *   n = rmsnorm(h) ; h += (silu(n Wg^T) * (n Wu^T)) Wd^T
 * then a final rmsnorm; the LM head multiplies by the output matrix.
 * RoPE is Hugging Face's rotate_half form at position t (rows are right
 * padded, so every row starts at position 0).
 *
 * Dimension letters as in llama_impl.h, plus B batch, T time, N = B*T.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "models/model_util.h"
#include "models/llama_impl.h"

/* Activations for batches up to Bmax x Tmax, one allocation carved into
 * pieces. Per layer we keep only what the input-gradient backward needs; the
 * attention probabilities (B, NH, T, T), the largest piece, are recomputed
 * from the saved q and k in backward (one extra attention forward per layer,
 * small next to the matmuls) so that they are stored once, not per layer. */
typedef struct llama_acts {
    float *h_in;  // (N, C)   residual stream entering the block (input of norm 1)
    float *rstd1; // (N)
    float *q;     // (N, C)   after RoPE
    float *k;     // (N, KVC) after RoPE
    float *v;     // (N, KVC)
    float *h_mid; // (N, C)   residual after attention (input of norm 2)
    float *rstd2; // (N)
    float *gate;  // (N, F)   n Wg^T, before silu
    float *up;    // (N, F)
} llama_acts;

typedef struct llama_run {
    int Bmax, Tmax;
    int recompute;      /* 1: layers[l].h_in are separate, the other fields of every
                           layer alias one slot that backward refills by recomputing */
    size_t floats;      /* size of block */
    llama_acts *layers; // [L]
    float *h_fin;       // (N, C) residual after the last block (input of the final norm)
    float *rstd_f;      // (N)
    float *att;         // (B, NH, T, T) softmax probabilities of the current layer
    /* scratch */
    float *n;     // (N, C) normalized activations / their gradient
    float *y;     // (N, C) attention output (forward) / its gradient (backward)
    float *ffn;   // (N, F) silu(gate) * up (forward) / its gradient (backward)
    float *dres;  // (N, C) gradient of the residual stream
    float *dq;    // (N, C)
    float *dk;    // (N, KVC)
    float *dv;    // (N, KVC)
    float *dgate; // (N, F)
    float *dup;   // (N, F)
    float *block;
    /* the last forward */
    int B, T, n_out, has_backward;
    int *len;     // (Bmax)
    int *out_idx; // (Bmax * Tmax)
} llama_run;

static void llama_run_free(void *p) {
    llama_run *r = p;
    if (!r) return;
    pt_afree(r->block);
    free(r->layers);
    free(r->len);
    free(r->out_idx);
    free(r);
}

static pt_status llama_run_new(const pt_model *m, int Bmax, int Tmax, void **out) {
    const pt_model_config *c = &m->cfg;
    *out = NULL;
    if (Bmax < 1 || Tmax < 1)
        return pt_fail(PT_ERR_ARG, "llama: batch %d x %d: sizes must be positive", Bmax, Tmax);
    if (Tmax > c->max_pos)
        return pt_fail(PT_ERR_ARG, "llama: sequence length %d exceeds the context length %d", Tmax,
                       c->max_pos);
    size_t N, C = c->dim, KVC = (size_t)c->n_kv_heads * (C / c->n_heads), F = c->ffn_dim;
    size_t L = c->n_layers, NH = c->n_heads, attsz, inputs, rest, total, shared;
    if (!pt_mul_ok((size_t)Bmax, (size_t)Tmax, &N) || N > (size_t)1 << 40 ||
        !pt_mul_ok(N * NH, (size_t)Tmax, &attsz))
        return pt_fail(PT_ERR_NOMEM, "llama: batch %d x %d too large", Bmax, Tmax);
    /* kept for backward: every layer's h_in (C); q, h_mid (C) + k, v (KVC) + gate,
     * up (F) + rstd1, rstd2 for every layer, or once when recomputing */
    int rc = m->recompute != 0;
    rest = N * (2 * C + 2 * KVC + 2 * F + 2);
    /* h_fin, n, y, dres, dq (C) + dk, dv (KVC) + ffn, dgate, dup (F) + rstd_f; att */
    if (!pt_add_ok(N * (5 * C + 2 * KVC + 3 * F + 1), attsz, &shared))
        return pt_fail(PT_ERR_NOMEM, "llama: batch %d x %d too large", Bmax, Tmax);
    if (!pt_mul_ok(N * C, L, &inputs) || !pt_mul_ok(rest, rc ? 1 : L, &rest) ||
        !pt_add_ok(inputs, rest, &total) || !pt_add_ok(total, shared, &total))
        return pt_fail(PT_ERR_NOMEM, "llama: activations for batch %d x %d too large", Bmax, Tmax);
    llama_run *r = calloc(1, sizeof *r);
    if (!r) return pt_fail(PT_ERR_NOMEM, "out of memory");
    r->Bmax = Bmax;
    r->Tmax = Tmax;
    r->recompute = rc;
    r->floats = total;
    r->layers = pt_zalloc(L, sizeof *r->layers);
    r->len = pt_zalloc((size_t)Bmax, sizeof *r->len);
    r->out_idx = pt_zalloc(N, sizeof *r->out_idx);
    r->block = pt_aalloc(total, sizeof(float));
    if (!r->layers || !r->len || !r->out_idx || !r->block) {
        llama_run_free(r);
        return pt_fail(PT_ERR_NOMEM, "llama: out of memory for activations (%zu floats)", total);
    }
    float *p = r->block;
#define TAKE(ptr, n)                                                                               \
    do {                                                                                           \
        (ptr) = p;                                                                                 \
        p += (n);                                                                                  \
    } while (0)
    for (size_t l = 0; l < L; l++) TAKE(r->layers[l].h_in, N * C);
    for (size_t l = 0; l < L; l++) {
        llama_acts *a = &r->layers[l];
        if (rc && l > 0) { /* alias slot 0 */
            float *h_in = a->h_in;
            *a = r->layers[0];
            a->h_in = h_in;
            continue;
        }
        TAKE(a->rstd1, N);
        TAKE(a->q, N * C);
        TAKE(a->k, N * KVC);
        TAKE(a->v, N * KVC);
        TAKE(a->h_mid, N * C);
        TAKE(a->rstd2, N);
        TAKE(a->gate, N * F);
        TAKE(a->up, N * F);
    }
    TAKE(r->h_fin, N * C);
    TAKE(r->rstd_f, N);
    TAKE(r->att, attsz);
    TAKE(r->n, N * C);
    TAKE(r->y, N * C);
    TAKE(r->ffn, N * F);
    TAKE(r->dres, N * C);
    TAKE(r->dq, N * C);
    TAKE(r->dk, N * KVC);
    TAKE(r->dv, N * KVC);
    TAKE(r->dgate, N * F);
    TAKE(r->dup, N * F);
#undef TAKE
    *out = r;
    return PT_OK;
}

static size_t llama_run_bytes(const void *run) {
    const llama_run *r = run;
    return r->floats * sizeof(float) + (size_t)r->Bmax * (r->Tmax + 1) * sizeof(int);
}

/* Block l on a->h_in: fills a's kept activations and adds the block's output
 * to h_next (N, C); h_next NULL stops after the MLP's gate and up products
 * (all that backward needs when it recomputes). */
static void llama_block(const pt_model *m, llama_run *r, int l, const int *len, int B, int T,
                        float *h_next) {
    const pt_model_config *c = &m->cfg;
    const llama_weights *w = m->impl;
    const llama_layer *lw = &w->layers[l];
    llama_acts *a = &r->layers[l];
    int C = c->dim, NH = c->n_heads, NKV = c->n_kv_heads, HS = C / NH, KVC = NKV * HS;
    int F = c->ffn_dim, N = B * T;
    float scale = 1.0f / sqrtf((float)HS);
    /* attention */
    pt_rmsnorm_forward(r->n, a->rstd1, a->h_in, lw->attn_norm, N, C, c->norm_eps);
    pt_mu_matmul_forward(m, a->q, r->n, lw->wq, NULL, N, C, C);
    pt_mu_matmul_forward(m, a->k, r->n, lw->wk, NULL, N, C, KVC);
    pt_mu_matmul_forward(m, a->v, r->n, lw->wv, NULL, N, C, KVC);
    pt_rope_forward(a->q, C, B, T, NH, HS, c->rope_theta);
    pt_rope_forward(a->k, KVC, B, T, NKV, HS, c->rope_theta);
    pt_attention_forward(r->y, r->att, a->q, a->k, a->v, C, KVC, len, B, T, NH, NKV, HS, 1, scale);
    pt_mu_matmul_forward(m, a->h_mid, r->y, lw->wo, NULL, N, C, C);
    pt_add_inplace(a->h_mid, a->h_in, (size_t)N * C);
    /* MLP */
    pt_rmsnorm_forward(r->n, a->rstd2, a->h_mid, lw->ffn_norm, N, C, c->norm_eps);
    pt_mu_matmul_forward(m, a->gate, r->n, lw->w_gate, NULL, N, C, F);
    pt_mu_matmul_forward(m, a->up, r->n, lw->w_up, NULL, N, C, F);
    if (!h_next) return;
    pt_swiglu_forward(r->ffn, a->gate, a->up, (size_t)N * F);
    pt_mu_matmul_forward(m, h_next, r->ffn, lw->w_down, NULL, N, F, C);
    pt_add_inplace(h_next, a->h_mid, (size_t)N * C);
}

static pt_status llama_forward(const pt_model *m, void *run, const float *x, const int *len, int B,
                               int T, const int *out_idx, int n_out, float *h_out,
                               int need_backward) {
    const pt_model_config *c = &m->cfg;
    const llama_weights *w = m->impl;
    llama_run *r = run;
    int C = c->dim, L = c->n_layers;
    r->has_backward = 0;
    if (B < 1 || T < 1 || B > r->Bmax || T > r->Tmax)
        return pt_fail(PT_ERR_ARG, "llama: batch %d x %d outside the allocated %d x %d", B, T,
                       r->Bmax, r->Tmax);
    int N = B * T;
    for (int b = 0; b < B; b++)
        if (len[b] < 1 || len[b] > T)
            return pt_fail(PT_ERR_ARG, "llama: row %d has length %d, expected 1..%d", b, len[b], T);
    if (n_out < 0 || n_out > N)
        return pt_fail(PT_ERR_ARG, "llama: %d output positions for %d tokens", n_out, N);
    for (int i = 0; i < n_out; i++)
        if (out_idx[i] < 0 || out_idx[i] >= N || out_idx[i] % T >= len[out_idx[i] / T])
            return pt_fail(PT_ERR_ARG, "llama: output position %d is not a valid token",
                           out_idx[i]);

    /* h (N, C) = x with padded rows zeroed (they never reach a valid token) */
    float *h = L > 0 ? r->layers[0].h_in : r->h_fin;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *dst = h + ((size_t)b * T + t) * C;
            if (t < len[b])
                memcpy(dst, x + ((size_t)b * T + t) * C, sizeof(float) * C);
            else
                memset(dst, 0, sizeof(float) * C);
        }

    for (int l = 0; l < L; l++)
        llama_block(m, r, l, len, B, T, l + 1 < L ? r->layers[l + 1].h_in : r->h_fin);
    /* final norm, only at the requested positions */
    for (int i = 0; i < n_out; i++) {
        size_t row = (size_t)out_idx[i];
        pt_rmsnorm_forward(h_out + (size_t)i * C, r->rstd_f + row, r->h_fin + row * C, w->norm, 1,
                           C, c->norm_eps);
    }
    r->B = B;
    r->T = T;
    r->n_out = n_out;
    memcpy(r->len, len, sizeof(int) * B);
    memcpy(r->out_idx, out_idx, sizeof(int) * n_out);
    r->has_backward = need_backward ? 1 : 0;
    return PT_OK;
}

static pt_status llama_backward(const pt_model *m, void *run, const float *dh, float *dx) {
    const pt_model_config *c = &m->cfg;
    const llama_weights *w = m->impl;
    llama_run *r = run;
    if (!r->has_backward)
        return pt_fail(PT_ERR_ARG, "llama: backward without a forward that kept activations");
    int B = r->B, T = r->T, N = B * T;
    int C = c->dim, NH = c->n_heads, NKV = c->n_kv_heads, HS = C / NH, KVC = NKV * HS;
    int F = c->ffn_dim, L = c->n_layers;
    const int *len = r->len;
    float scale = 1.0f / sqrtf((float)HS);

    /* final norm: dres (N, C) = d(loss)/d(h_fin), nonzero only at the outputs */
    memset(r->dres, 0, sizeof(float) * N * C);
    for (int i = 0; i < r->n_out; i++) {
        size_t row = (size_t)r->out_idx[i];
        pt_rmsnorm_backward(r->dres + row * C, dh + (size_t)i * C, r->h_fin + row * C, w->norm,
                            r->rstd_f + row, 1, C);
    }
    for (int l = L - 1; l >= 0; l--) {
        const llama_layer *lw = &w->layers[l];
        const llama_acts *a = &r->layers[l];
        /* the same kernels on the same input: bit-identical to the forward's values */
        if (r->recompute) llama_block(m, r, l, len, B, T, NULL);
        /* MLP: h_next = h_mid + down(silu(gate) * up), gate/up from n = rmsnorm(h_mid) */
        memset(r->ffn, 0, sizeof(float) * N * F);
        pt_mu_matmul_backward_input(m, r->ffn, r->dres, lw->w_down, N, F, C);
        memset(r->dgate, 0, sizeof(float) * N * F);
        memset(r->dup, 0, sizeof(float) * N * F);
        pt_swiglu_backward(r->dgate, r->dup, r->ffn, a->gate, a->up, (size_t)N * F);
        memset(r->n, 0, sizeof(float) * N * C);
        pt_mu_matmul_backward_input(m, r->n, r->dgate, lw->w_gate, N, C, F);
        pt_mu_matmul_backward_input(m, r->n, r->dup, lw->w_up, N, C, F);
        pt_rmsnorm_backward(r->dres, r->n, a->h_mid, lw->ffn_norm, a->rstd2, N, C);
        /* attention: h_mid = h_in + attn(q, k, v) Wo^T, q/k/v from n = rmsnorm(h_in) */
        memset(r->y, 0, sizeof(float) * N * C);
        pt_mu_matmul_backward_input(m, r->y, r->dres, lw->wo, N, C, C);
        /* recompute this layer's attention probabilities (output discarded into n) */
        if (!r->recompute)
            pt_attention_forward(r->n, r->att, a->q, a->k, a->v, C, KVC, len, B, T, NH, NKV, HS, 1,
                                 scale);
        memset(r->dq, 0, sizeof(float) * N * C);
        memset(r->dk, 0, sizeof(float) * N * KVC);
        memset(r->dv, 0, sizeof(float) * N * KVC);
        pt_attention_backward(r->dq, r->dk, r->dv, r->y, r->att, a->q, a->k, a->v, C, KVC, len, B,
                              T, NH, NKV, HS, scale);
        pt_rope_backward(r->dq, C, B, T, NH, HS, c->rope_theta);
        pt_rope_backward(r->dk, KVC, B, T, NKV, HS, c->rope_theta);
        memset(r->n, 0, sizeof(float) * N * C);
        pt_mu_matmul_backward_input(m, r->n, r->dq, lw->wq, N, C, C);
        pt_mu_matmul_backward_input(m, r->n, r->dk, lw->wk, N, C, KVC);
        pt_mu_matmul_backward_input(m, r->n, r->dv, lw->wv, N, C, KVC);
        pt_rmsnorm_backward(r->dres, r->n, a->h_in, lw->attn_norm, a->rstd1, N, C);
    }
    /* dx (B, T, C): padded rows were replaced by zeros in forward */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t off = ((size_t)b * T + t) * C;
            if (t < len[b])
                memcpy(dx + off, r->dres + off, sizeof(float) * C);
            else
                memset(dx + off, 0, sizeof(float) * C);
        }
    return PT_OK;
}

/* logits (n, nr) = h (n, C) . out[rows]^T */
static void llama_head_forward(const pt_model *m, void *run, float *logits, const float *h, int n,
                               const int *rows, int nr) {
    const llama_weights *w = m->impl;
    int C = m->cfg.dim;
    if (!rows) {
        pt_matmul_forward(logits, h, w->out, NULL, n, C, m->cfg.vocab_size);
        return;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < nr; j++) {
            const float *hr = h + (size_t)i * C, *wr = w->out + (size_t)rows[j] * C;
            float s = 0.0f;
            for (int k = 0; k < C; k++) s += hr[k] * wr[k];
            logits[(size_t)i * nr + j] = s;
        }
}

/* dh (n, C) += dlogits (n, nr) . out[rows] */
static void llama_head_backward(const pt_model *m, void *run, float *dh, const float *dlogits,
                                const float *h, int n, const int *rows, int nr) {
    const llama_weights *w = m->impl;
    int C = m->cfg.dim;
    if (!rows) {
        pt_matmul_backward_input(dh, dlogits, w->out, n, C, m->cfg.vocab_size);
        return;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < nr; j++) {
            float d = dlogits[(size_t)i * nr + j];
            const float *wr = w->out + (size_t)rows[j] * C;
            float *dr = dh + (size_t)i * C;
            for (int k = 0; k < C; k++) dr[k] += d * wr[k];
        }
}

static void llama_free_impl(pt_model *m) {
    llama_weights *w = m->impl;
    if (!w) return;
    pt_llama_weights_free(w, m->cfg.n_layers);
    free(w);
    m->impl = NULL;
    m->wte = NULL;
}

/* pt_model_set_precision: the seven block matrices of every layer to bf16 */
static pt_status llama_to_bf16(pt_model *m) {
    llama_weights *w = m->impl;
    size_t C = (size_t)m->cfg.dim, F = (size_t)m->cfg.ffn_dim;
    size_t KVC = (size_t)m->cfg.n_kv_heads * (C / (size_t)m->cfg.n_heads);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        llama_layer *lw = &w->layers[l];
        pt_status s;
        if ((s = pt_mu_to_bf16(&lw->wq, C * C)) || (s = pt_mu_to_bf16(&lw->wk, KVC * C)) ||
            (s = pt_mu_to_bf16(&lw->wv, KVC * C)) || (s = pt_mu_to_bf16(&lw->wo, C * C)) ||
            (s = pt_mu_to_bf16(&lw->w_gate, F * C)) || (s = pt_mu_to_bf16(&lw->w_up, F * C)) ||
            (s = pt_mu_to_bf16(&lw->w_down, C * F)))
            return s;
    }
    return PT_OK;
}

const pt_model_ops pt_llama_ops = {
    .run_new = llama_run_new,
    .run_free = llama_run_free,
    .run_bytes = llama_run_bytes,
    .forward = llama_forward,
    .backward = llama_backward,
    .head_forward = llama_head_forward,
    .head_backward = llama_head_backward,
    .free_impl = llama_free_impl,
    .cache_new = pt_llama_cache_new,
    .cache_free = pt_llama_cache_free,
    .decode = pt_llama_decode,
    .cache_reset = pt_llama_cache_reset,
    .to_bf16 = llama_to_bf16,
};
