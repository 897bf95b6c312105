/* bert.c - BERT masked LM: forward from input embeddings, input-gradient
 * backward, MLM head. Weights are loaded by bert_load.c.
 *
 * Dimension letters: B batch, T time, N = B*T rows, C hidden, F intermediate,
 * NH heads, HS = C/NH head size, V vocab, L layers.
 *
 *   e   = LN_e(x + wpe[t] + wtt[0])                       embeddings
 *   per layer (post-LayerNorm):
 *   r1  = e + Wo attn(Wq e, Wk e, Wv e) + bo              (bidirectional, padding masked)
 *   a   = LN_1(r1)
 *   r2  = a + W2 gelu(W1 a + b1) + b2
 *   e   = LN_2(r2)                                        next layer's input
 *   h   = e of the last layer at out_idx (no further norm)
 *   MLM head: logits = LN_h(gelu(Wt h + bt)) . dec[rows]^T + bias[rows]
 *   (a checkpoint without the head has cfg.has_lm_head = 0; head_forward then
 *   writes NaN logits and head_backward adds nothing: callers must not use it)
 *
 * Backward keeps, per layer, only what the input gradient needs: qkv, the
 * attention probabilities, r1 and r2 with their LayerNorm statistics, and the
 * pre-GELU activation. Everything is allocated once in run_new.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "models/model_util.h"
#include "models/bert_impl.h"

typedef struct bert_run {
    int Bmax, Tmax;
    int recompute;             /* 1: qkv, att, r1, f hold one layer; backward recomputes them */
    size_t floats;             /* size of block */
    int B, T, n_out, have_bwd; /* shapes of the last forward */
    int *len;                  // (Bmax) valid tokens per row, copied from the last forward
    int *out_idx;              // (Bmax*Tmax) output positions of the last forward
    /* kept for backward (N = B*T rows used of Bmax*Tmax) */
    float *emb;       // (N, C) x + wpe + wtt[0], input of LN_e
    float *emb_stats; // (2, N) mean, rstd of LN_e
    float *qkv;       // (L1, N, 3C)   L1 = L, or 1 when recomputing
    float *att;       // (L1, B, NH, T, T) attention probabilities
    float *r1;        // (L1, N, C) input of LN_1
    float *r1_stats;  // (L1, 2, N)
    float *f;         // (L1, N, F) pre-GELU
    float *r2;        // (L, N, C) input of LN_2
    float *r2_stats;  // (L, 2, N)
    /* forward scratch */
    float *cur;  // (N, C) layer input / output
    float *atty; // (N, C) attention output before Wo
    float *a;    // (N, C) LN_1 output
    float *g;    // (N, F) gelu output
    /* backward scratch */
    float *dcur;  // (N, C)
    float *dr;    // (N, C)
    float *da;    // (N, C)
    float *datty; // (N, C)
    float *dqkv;  // (N, 3C)
    float *dg;    // (N, F)
    float *df;    // (N, F)
    /* MLM head scratch for up to hcap = Bmax*Tmax rows at a time (larger n is
     * processed in chunks of hcap rows) */
    int hcap;
    float *ht;     // (hcap, C) Wt h + bt
    float *hg;     // (hcap, C) gelu
    float *hu;     // (hcap, C) transform output
    float *hstats; // (2, hcap)
    float *hdu;    // (hcap, C)
    float *hdg;    // (hcap, C)
    float *hdt;    // (hcap, C)
    void *block;   /* one allocation holding every float buffer above */
} bert_run;

static void bert_run_free(void *p) {
    bert_run *r = p;
    if (!r) return;
    free(r->len);
    free(r->out_idx);
    pt_afree(r->block);
    free(r);
}

/* Carving table: total floats with each buffer rounded up to 16 floats (64 bytes). */
typedef struct carve {
    float **ptr;
    size_t a, b, c; /* element count = a*b*c */
} carve;

static pt_status bert_run_new(const pt_model *m, int Bmax, int Tmax, void **out) {
    const pt_model_config *c = &m->cfg;
    *out = NULL;
    if (Bmax < 1 || Tmax < 1)
        return pt_fail(PT_ERR_ARG, "bert: batch %d x %d must be positive", Bmax, Tmax);
    if (Tmax > c->max_pos)
        return pt_fail(PT_ERR_ARG, "bert: sequence length %d exceeds max_position_embeddings %d",
                       Tmax, c->max_pos);
    bert_run *r = calloc(1, sizeof *r);
    if (!r) return pt_fail(PT_ERR_NOMEM, "out of memory");
    r->Bmax = Bmax;
    r->Tmax = Tmax;
    r->recompute = m->recompute != 0;
    size_t L1 = r->recompute ? 1 : (size_t)c->n_layers;
    size_t N, NN, L = (size_t)c->n_layers, C = (size_t)c->dim, F = (size_t)c->ffn_dim;
    size_t NH = (size_t)c->n_heads;
    if (!pt_mul_ok((size_t)Bmax, (size_t)Tmax, &N) || N > (size_t)1 << 30 ||
        !pt_mul_ok(N, (size_t)Tmax, &NN))
        goto nomem;
    r->hcap = (int)N;
    r->len = pt_zalloc((size_t)Bmax, sizeof(int));
    r->out_idx = pt_zalloc(N, sizeof(int));
    if (!r->len || !r->out_idx) goto nomem;
    carve tab[] = {
        {&r->emb, N, C, 1},    {&r->emb_stats, 2, N, 1}, {&r->qkv, L1, N, 3 * C},
        {&r->att, L1, NH, NN}, {&r->r1, L1, N, C},       {&r->r1_stats, L1, 2, N},
        {&r->f, L1, N, F},     {&r->r2, L, N, C},        {&r->r2_stats, L, 2, N},
        {&r->cur, N, C, 1},    {&r->atty, N, C, 1},      {&r->a, N, C, 1},
        {&r->g, N, F, 1},      {&r->dcur, N, C, 1},      {&r->dr, N, C, 1},
        {&r->da, N, C, 1},     {&r->datty, N, C, 1},     {&r->dqkv, N, 3 * C, 1},
        {&r->dg, N, F, 1},     {&r->df, N, F, 1},        {&r->ht, N, C, 1},
        {&r->hg, N, C, 1},     {&r->hu, N, C, 1},        {&r->hstats, 2, N, 1},
        {&r->hdu, N, C, 1},    {&r->hdg, N, C, 1},       {&r->hdt, N, C, 1},
    };
    size_t ntab = sizeof tab / sizeof tab[0], total = 0, cnt[sizeof tab / sizeof tab[0]];
    for (size_t i = 0; i < ntab; i++) {
        size_t n;
        if (!pt_mul_ok(tab[i].a, tab[i].b, &n) || !pt_mul_ok(n, tab[i].c, &n) ||
            !pt_add_ok(n, 15, &n))
            goto nomem;
        cnt[i] = n / 16 * 16;
        if (!pt_add_ok(total, cnt[i], &total)) goto nomem;
    }
    r->block = pt_aalloc(total, sizeof(float));
    if (!r->block) goto nomem;
    r->floats = total;
    float *p = r->block;
    for (size_t i = 0; i < ntab; i++) {
        *tab[i].ptr = p;
        p += cnt[i];
    }
    *out = r;
    return PT_OK;
nomem:
    bert_run_free(r);
    return pt_fail(PT_ERR_NOMEM, "bert: activations for batch %d x %d: out of memory", Bmax, Tmax);
}

static void gelu_fwd(int act, float *out, const float *inp, size_t n) {
    if (act == PT_BERT_GELU_TANH)
        pt_gelu_tanh_forward(out, inp, n);
    else
        pt_gelu_erf_forward(out, inp, n);
}

static void gelu_bwd(int act, float *dinp, const float *dout, const float *inp, size_t n) {
    if (act == PT_BERT_GELU_TANH)
        pt_gelu_tanh_backward(dinp, dout, inp, n);
    else
        pt_gelu_erf_backward(dinp, dout, inp, n);
}

static size_t bert_run_bytes(const void *run) {
    const bert_run *r = run;
    return r->floats * sizeof(float) + (size_t)r->Bmax * (r->Tmax + 1) * sizeof(int);
}

/* Layer l's kept activations: qkv, att, r1, f in slot s1, r2 in slot s2. */
typedef struct bert_slot {
    float *qkv, *att, *r1, *r1s, *f, *r2, *r2s;
} bert_slot;

static bert_slot slot_of(const bert_run *r, const pt_model_config *c, size_t s1, size_t s2, int B,
                         int T) {
    size_t N = (size_t)B * T, C = (size_t)c->dim, F = (size_t)c->ffn_dim, NH = (size_t)c->n_heads;
    bert_slot y = {
        r->qkv + s1 * N * 3 * C,      // (N, 3C)
        r->att + s1 * B * NH * T * T, // (B, NH, T, T)
        r->r1 + s1 * N * C,           // (N, C)
        r->r1_stats + s1 * 2 * N,     // (2, N)
        r->f + s1 * N * F,            // (N, F)
        r->r2 + s2 * N * C,           // (N, C)
        r->r2_stats + s2 * 2 * N,     // (2, N)
    };
    return y;
}

/* Layer l on r->cur (its input): fills y; with full, also the rest of the
 * block, leaving the output in r->cur. Without full it stops after the first
 * MLP product (what backward recomputes). */
static void bert_block(const pt_model *m, bert_run *r, int l, const bert_slot *y, int B, int T,
                       int full) {
    const pt_model_config *c = &m->cfg;
    const pt_bert *w = m->impl;
    const pt_bert_layer *lw = &w->layers[l];
    int C = c->dim, F = c->ffn_dim, NH = c->n_heads, HS = C / NH;
    size_t N = (size_t)B * T;
    float scale = 1.0f / sqrtf((float)HS);
    pt_mu_matmul_forward(m, y->qkv, r->cur, lw->wqkv, lw->bqkv, (int)N, C, 3 * C);
    pt_attention_forward(r->atty, y->att, y->qkv, y->qkv + C, y->qkv + 2 * C, 3 * C, 3 * C, r->len,
                         B, T, NH, NH, HS, 0, scale);
    pt_mu_matmul_forward(m, y->r1, r->atty, lw->wo, lw->bo, (int)N, C, C);
    pt_add_inplace(y->r1, r->cur, N * C);
    pt_layernorm_forward(r->a, y->r1s, y->r1s + N, y->r1, lw->ln1w, lw->ln1b, (int)N, C,
                         c->norm_eps);
    pt_mu_matmul_forward(m, y->f, r->a, lw->w1, lw->b1, (int)N, C, F);
    if (!full) return;
    gelu_fwd(w->act, r->g, y->f, N * F);
    pt_mu_matmul_forward(m, y->r2, r->g, lw->w2, lw->b2, (int)N, F, C);
    pt_add_inplace(y->r2, r->a, N * C);
    pt_layernorm_forward(r->cur, y->r2s, y->r2s + N, y->r2, lw->ln2w, lw->ln2b, (int)N, C,
                         c->norm_eps);
}

static pt_status bert_forward(const pt_model *m, void *run, const float *x, const int *len, int B,
                              int T, const int *out_idx, int n_out, float *h_out,
                              int need_backward) {
    const pt_model_config *c = &m->cfg;
    const pt_bert *w = m->impl;
    bert_run *r = run;
    int C = c->dim;
    if (B < 1 || T < 1 || B > r->Bmax || T > r->Tmax)
        return pt_fail(PT_ERR_ARG, "bert: batch %d x %d outside the run's %d x %d", B, T, r->Bmax,
                       r->Tmax);
    for (int b = 0; b < B; b++)
        if (len[b] < 1 || len[b] > T)
            return pt_fail(PT_ERR_ARG, "bert: len[%d] = %d outside [1, %d]", b, len[b], T);
    if (n_out < 0 || n_out > B * T)
        return pt_fail(PT_ERR_ARG, "bert: %d output positions for %d tokens", n_out, B * T);
    for (int i = 0; i < n_out; i++) {
        int p = out_idx[i];
        if (p < 0 || p >= B * T || p % T >= len[p / T])
            return pt_fail(PT_ERR_ARG, "bert: output position %d is padding or out of range", p);
    }
    size_t N = (size_t)B * T;
    r->B = B;
    r->T = T;
    r->n_out = n_out;
    r->have_bwd = need_backward;
    memcpy(r->len, len, sizeof(int) * (size_t)B);
    memcpy(r->out_idx, out_idx, sizeof(int) * (size_t)n_out);

    /* embeddings: emb = x + wpe[t] + wtt[0]; cur = LN_e(emb) */
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * T * C >= PT_PAR_FLOPS / 16)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *xr = x + ((size_t)b * T + t) * C;
            const float *pr = w->wpe + (size_t)t * C;
            float *er = r->emb + ((size_t)b * T + t) * C;
            for (int i = 0; i < C; i++) er[i] = xr[i] + pr[i] + w->wtt[i];
        }
    pt_layernorm_forward(r->cur, r->emb_stats, r->emb_stats + N, r->emb, w->lnew, w->lneb, (int)N,
                         C, c->norm_eps);

    /* without backward every layer reuses slot 0; recomputation keeps only r2 per layer */
    for (int l = 0; l < c->n_layers; l++) {
        size_t s2 = need_backward ? (size_t)l : 0, s1 = r->recompute ? 0 : s2;
        bert_slot y = slot_of(r, c, s1, s2, B, T);
        bert_block(m, r, l, &y, B, T, 1);
    }
    for (int i = 0; i < n_out; i++)
        memcpy(h_out + (size_t)i * C, r->cur + (size_t)out_idx[i] * C, sizeof(float) * C);
    for (size_t i = 0; i < (size_t)n_out * C; i++)
        if (!isfinite(h_out[i]))
            return pt_fail(PT_ERR_NUMERIC, "bert: non-finite hidden state at output %zu",
                           i / (size_t)C);
    return PT_OK;
}

static pt_status bert_backward(const pt_model *m, void *run, const float *dh, float *dx) {
    const pt_model_config *c = &m->cfg;
    const pt_bert *w = m->impl;
    bert_run *r = run;
    if (!r->have_bwd)
        return pt_fail(PT_ERR_ARG, "bert: backward without a forward with need_backward");
    int B = r->B, T = r->T, C = c->dim, F = c->ffn_dim, NH = c->n_heads, HS = C / NH;
    size_t N = (size_t)B * T;
    float scale = 1.0f / sqrtf((float)HS);

    /* scatter dh into dcur (N, C) */
    memset(r->dcur, 0, sizeof(float) * N * C);
    for (int i = 0; i < r->n_out; i++)
        pt_add_inplace(r->dcur + (size_t)r->out_idx[i] * C, dh + (size_t)i * C, (size_t)C);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const pt_bert_layer *y = &w->layers[l];
        bert_slot k = slot_of(r, c, r->recompute ? 0 : (size_t)l, (size_t)l, B, T);
        if (r->recompute) {
            /* rebuild the layer input in cur, then the block (same kernels, same
             * inputs: bit-identical to the forward's values) */
            if (l == 0) {
                pt_layernorm_forward(r->cur, r->emb_stats, r->emb_stats + N, r->emb, w->lnew,
                                     w->lneb, (int)N, C, c->norm_eps);
            } else {
                const pt_bert_layer *p = &w->layers[l - 1];
                bert_slot kp = slot_of(r, c, 0, (size_t)l - 1, B, T);
                pt_layernorm_forward(r->cur, kp.r2s, kp.r2s + N, kp.r2, p->ln2w, p->ln2b, (int)N, C,
                                     c->norm_eps);
            }
            bert_block(m, r, l, &k, B, T, 0);
        }
        const float *qkv = k.qkv, *att = k.att, *r1 = k.r1, *r1s = k.r1s, *f = k.f, *r2 = k.r2,
                    *r2s = k.r2s;
        /* dr = d r2 through LN_2 */
        memset(r->dr, 0, sizeof(float) * N * C);
        pt_layernorm_backward(r->dr, r->dcur, r2, y->ln2w, r2s, r2s + N, (int)N, C);
        /* da = dr (residual) + W1^T gelu'(f) W2^T dr */
        memcpy(r->da, r->dr, sizeof(float) * N * C);
        memset(r->dg, 0, sizeof(float) * N * F);
        pt_mu_matmul_backward_input(m, r->dg, r->dr, y->w2, (int)N, F, C);
        memset(r->df, 0, sizeof(float) * N * F);
        gelu_bwd(w->act, r->df, r->dg, f, N * F);
        pt_mu_matmul_backward_input(m, r->da, r->df, y->w1, (int)N, C, F);
        /* dr = d r1 through LN_1 */
        memset(r->dr, 0, sizeof(float) * N * C);
        pt_layernorm_backward(r->dr, r->da, r1, y->ln1w, r1s, r1s + N, (int)N, C);
        /* d(layer input) = dr (residual) + attention path */
        memcpy(r->dcur, r->dr, sizeof(float) * N * C);
        memset(r->datty, 0, sizeof(float) * N * C);
        pt_mu_matmul_backward_input(m, r->datty, r->dr, y->wo, (int)N, C, C);
        memset(r->dqkv, 0, sizeof(float) * N * 3 * C);
        pt_attention_backward(r->dqkv, r->dqkv + C, r->dqkv + 2 * C, r->datty, att, qkv, qkv + C,
                              qkv + 2 * C, 3 * C, 3 * C, r->len, B, T, NH, NH, HS, scale);
        pt_mu_matmul_backward_input(m, r->dcur, r->dqkv, y->wqkv, (int)N, C, 3 * C);
    }
    /* through LN_e; d(x) = d(emb) */
    memset(dx, 0, sizeof(float) * N * C);
    pt_layernorm_backward(dx, r->dcur, r->emb, w->lnew, r->emb_stats, r->emb_stats + N, (int)N, C);
    return PT_OK;
}

/* hu (n, C) = LN_h(gelu(Wt h + bt)); ht, hg, hstats kept for backward. */
static void head_transform(const pt_model *m, bert_run *r, const float *h, int n) {
    const pt_bert *w = m->impl;
    int C = m->cfg.dim;
    pt_matmul_forward(r->ht, h, w->hw, w->hb, n, C, C);
    gelu_fwd(w->act, r->hg, r->ht, (size_t)n * C); /* transform uses hidden_act too */
    pt_layernorm_forward(r->hu, r->hstats, r->hstats + r->hcap, r->hg, w->hlnw, w->hlnb, n, C,
                         m->cfg.norm_eps);
}

static void bert_head_forward(const pt_model *m, void *run, float *logits, const float *h, int n,
                              const int *rows, int nr) {
    const pt_bert *w = m->impl;
    bert_run *r = run;
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    const float *dec = w->dec ? w->dec : w->wte; // (V, C)
    if (!rows) nr = V;
    if (!m->cfg.has_lm_head) { /* a caller bug: NaN logits trip the trainer's checks */
        for (size_t i = 0; i < (size_t)n * nr; i++) logits[i] = NAN;
        return;
    }
    for (int i0 = 0; i0 < n; i0 += r->hcap) {
        int k = n - i0 < r->hcap ? n - i0 : r->hcap;
        head_transform(m, r, h + (size_t)i0 * C, k);
        float *lg = logits + (size_t)i0 * nr; // (k, nr)
        if (!rows) {
            pt_matmul_forward(lg, r->hu, dec, w->hbias, k, C, V);
            continue;
        }
        for (int i = 0; i < k; i++) {
            const float *u = r->hu + (size_t)i * C;
            for (int j = 0; j < nr; j++) {
                const float *d = dec + (size_t)rows[j] * C;
                float s = w->hbias[rows[j]];
                for (int q = 0; q < C; q++) s += u[q] * d[q];
                lg[(size_t)i * nr + j] = s;
            }
        }
    }
}

static void bert_head_backward(const pt_model *m, void *run, float *dh, const float *dlogits,
                               const float *h, int n, const int *rows, int nr) {
    const pt_bert *w = m->impl;
    bert_run *r = run;
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    const float *dec = w->dec ? w->dec : w->wte; // (V, C)
    if (!rows) nr = V;
    if (!m->cfg.has_lm_head) return; /* no head: nothing to add (see head_forward) */
    for (int i0 = 0; i0 < n; i0 += r->hcap) {
        int k = n - i0 < r->hcap ? n - i0 : r->hcap;
        head_transform(m, r, h + (size_t)i0 * C, k);
        const float *dl = dlogits + (size_t)i0 * nr; // (k, nr)
        memset(r->hdu, 0, sizeof(float) * (size_t)k * C);
        if (!rows) {
            pt_matmul_backward_input(r->hdu, dl, dec, k, C, V);
        } else {
            for (int i = 0; i < k; i++) {
                float *du = r->hdu + (size_t)i * C;
                for (int j = 0; j < nr; j++) {
                    const float *d = dec + (size_t)rows[j] * C;
                    float g = dl[(size_t)i * nr + j];
                    for (int q = 0; q < C; q++) du[q] += g * d[q];
                }
            }
        }
        memset(r->hdg, 0, sizeof(float) * (size_t)k * C);
        pt_layernorm_backward(r->hdg, r->hdu, r->hg, w->hlnw, r->hstats, r->hstats + r->hcap, k, C);
        memset(r->hdt, 0, sizeof(float) * (size_t)k * C);
        gelu_bwd(w->act, r->hdt, r->hdg, r->ht, (size_t)k * C);
        pt_matmul_backward_input(dh + (size_t)i0 * C, r->hdt, w->hw, k, C, C);
    }
}

/* pt_model_set_precision: the four block matrices of every layer to bf16 */
static pt_status bert_to_bf16(pt_model *m) {
    pt_bert *w = m->impl;
    size_t C = (size_t)m->cfg.dim, F = (size_t)m->cfg.ffn_dim;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        pt_bert_layer *y = &w->layers[l];
        pt_status s;
        if ((s = pt_mu_to_bf16(&y->wqkv, 3 * C * C)) || (s = pt_mu_to_bf16(&y->wo, C * C)) ||
            (s = pt_mu_to_bf16(&y->w1, F * C)) || (s = pt_mu_to_bf16(&y->w2, C * F)))
            return s;
    }
    return PT_OK;
}

const pt_model_ops pt_bert_ops = {
    .run_new = bert_run_new,
    .run_free = bert_run_free,
    .run_bytes = bert_run_bytes,
    .forward = bert_forward,
    .backward = bert_backward,
    .head_forward = bert_head_forward,
    .head_backward = bert_head_backward,
    .free_impl = pt_bert_free_impl,
    .to_bf16 = bert_to_bf16,
};
