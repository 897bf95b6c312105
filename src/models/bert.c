/* bert.c - BERT masked LM: its description table, its block and its MLM
 * head, which RoBERTa shares (roberta.c).
 *
 *   e   = LN_e(x + wpe[t + pos_offset] + wtt[0])            embeddings
 *   per layer (post-LayerNorm):
 *   r1  = e + Wo attn(Wq e + bq, Wk e + bk, Wv e + bv) + bo   (bidirectional)
 *   a   = LN_1(r1)
 *   r2  = a + W2 gelu(W1 a + b1) + b2
 *   e   = LN_2(r2)                                          next layer's input
 *   h   = e of the last layer at the output rows (no further norm)
 *   MLM head: logits = LN_h(gelu(Wt h + bt)) . dec[rows]^T + bias[rows]
 *   (dec = the untied decoder, or the word embeddings). A checkpoint without
 *   the head has cfg.has_lm_head = 0; the head then refuses.
 *
 * Backward keeps per layer r2 (with its statistics) and, unless recomputing,
 * the block input, q, k, v, the probabilities, r1 and the pre-GELU f; with
 * recomputation a block's input is rebuilt from the previous layer's r2.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "formats/json.h"
#include "kernels/kernels.h"
#include "models/family.h"
#include "models/run_impl.h"

enum {
    A_IN = PT_ACT_IN, /* (N, C) block input */
    A_Q,              /* (N, C) */
    A_K,              /* (N, C) */
    A_V,              /* (N, C) */
    A_ATT,            /* (N, NH * (E + T)) */
    A_R1,             /* (N, C) input of LN_1 */
    A_R1S,            /* (2, N) its mean, rstd */
    A_F,              /* (N, F) pre-GELU */
    A_R2,             /* (N, C) input of LN_2, per layer always */
    A_R2S,            /* (2, N) */
    /* scratch */
    A_EMB,   /* (N, C) x + wpe + wtt[0], input of LN_e */
    A_EMBS,  /* (2, N) */
    A_ATTY,  /* (N, C) attention output before Wo */
    A_A,     /* (N, C) LN_1 output */
    A_G,     /* (N, F) gelu output */
    A_DR,    /* (N, C) */
    A_DA,    /* (N, C) */
    A_DATTY, /* (N, C) */
    A_DQ,    /* (N, C) */
    A_DK,    /* (N, C) */
    A_DV,    /* (N, C) */
    A_DG,    /* (N, F) */
    A_DF,    /* (N, F) */
};

_Static_assert(A_DF + 1 == PT_BERT_N_ACTS, "PT_BERT_N_ACTS counts the activations");
const pt_act_desc pt_bert_acts[] = {
    {A_IN, PT_D_C, 1, PT_A_KEEP, "in"},
    {A_Q, PT_D_C, 1, PT_A_KEEP, "q"},
    {A_K, PT_D_C, 1, PT_A_KEEP, "k"},
    {A_V, PT_D_C, 1, PT_A_KEEP, "v"},
    {A_ATT, PT_D_1, 1, PT_A_KEEP | PT_A_ATT, "att"},
    {A_R1, PT_D_C, 1, PT_A_KEEP, "r1"},
    {A_R1S, PT_D_1, 2, PT_A_KEEP, "r1s"},
    {A_F, PT_D_F, 1, PT_A_KEEP, "f"},
    {A_R2, PT_D_C, 1, PT_A_LAYER, "r2"},
    {A_R2S, PT_D_1, 2, PT_A_LAYER, "r2s"},
    {A_EMB, PT_D_C, 1, 0, "emb"},
    {A_EMBS, PT_D_1, 2, 0, "embs"},
    {A_ATTY, PT_D_C, 1, 0, "atty"},
    {A_A, PT_D_C, 1, 0, "a"},
    {A_G, PT_D_F, 1, 0, "g"},
    {A_DR, PT_D_C, 1, 0, "dr"},
    {A_DA, PT_D_C, 1, 0, "da"},
    {A_DATTY, PT_D_C, 1, 0, "datty"},
    {A_DQ, PT_D_C, 1, 0, "dq"},
    {A_DK, PT_D_C, 1, 0, "dk"},
    {A_DV, PT_D_C, 1, 0, "dv"},
    {A_DG, PT_D_F, 1, 0, "dg"},
    {A_DF, PT_D_F, 1, 0, "df"},
};
_Static_assert(sizeof pt_bert_acts / sizeof pt_bert_acts[0] == PT_BERT_N_ACTS,
               "the table lists every activation");

static void gelu_fwd(int act, float *out, const float *inp, size_t n) {
    if (act == PT_ACT_GELU_TANH)
        pt_gelu_tanh_forward(out, inp, n);
    else
        pt_gelu_erf_forward(out, inp, n);
}

static void gelu_bwd(int act, float *dinp, const float *dout, const float *inp, size_t n) {
    if (act == PT_ACT_GELU_TANH)
        pt_gelu_tanh_backward(dinp, dout, inp, n);
    else
        pt_gelu_erf_backward(dinp, dout, inp, n);
}

static const float *bias(const pt_weight *w) {
    return pt_weight_present(w) ? pt_weight_f32(w) : NULL;
}

/* emb = x + wpe[pos + pos_offset] + wtt[0]; x0 = LN_e(emb) */
void pt_bert_embed(const pt_model *m, const pt_pass *p, float *const *a, const float *x_emb,
                   float *x0) {
    const pt_model_config *c = &m->cfg;
    int C = c->dim, N = p->N;
    const float *wpe = pt_weight_f32(&m->w.pos_embd), *wtt = pt_weight_f32(&m->w.type_embd);
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PT_PAR_FLOPS / 16)
    for (int i = 0; i < N; i++) {
        const float *xr = x_emb + (size_t)i * C;
        const float *pr = wpe + (size_t)(p->pos[i] + c->pos_offset) * C;
        float *er = a[A_EMB] + (size_t)i * C;
        for (int k = 0; k < C; k++) er[k] = xr[k] + pr[k] + wtt[k];
    }
    pt_layernorm_forward(x0, a[A_EMBS], a[A_EMBS] + N, a[A_EMB], pt_weight_f32(&m->w.embd_norm),
                         pt_weight_f32(&m->w.embd_norm_b), N, C, c->norm_eps);
}

void pt_bert_embed_backward(const pt_model *m, const pt_pass *p, float *const *a,
                            const float *x_emb, float *dx_emb, const float *dx0) {
    int N = p->N;
    pt_layernorm_backward(dx_emb, dx0, a[A_EMB], pt_weight_f32(&m->w.embd_norm), a[A_EMBS],
                          a[A_EMBS] + N, N, m->cfg.dim);
}

/* With recomputation the block inputs are not kept: layer l's is LN_2 of
 * layer l - 1's r2 (kept per layer), layer 0's LN_e of the embedding sum. */
void pt_bert_recompute_input(const pt_model *m, const pt_pass *p, int l, float *const *prev,
                             float *const *a) {
    const pt_model_config *c = &m->cfg;
    int C = c->dim, N = p->N;
    if (!prev) {
        pt_layernorm_forward(a[A_IN], NULL, NULL, a[A_EMB], pt_weight_f32(&m->w.embd_norm),
                             pt_weight_f32(&m->w.embd_norm_b), N, C, c->norm_eps);
        return;
    }
    const pt_layer_weights *w = &m->w.layers[l - 1];
    pt_layernorm_forward(a[A_IN], NULL, NULL, prev[A_R2], pt_weight_f32(&w->ffn_norm),
                         pt_weight_f32(&w->ffn_norm_b), N, C, c->norm_eps);
}

/* With the last-block shortcut (pt_pass_sel) keys and values are computed at
 * every row and the rest at the Nq selected rows only (compact: rows 0..Nq of
 * Q, ATTY, R1, A, F, G, R2), the output scattered back to its rows. */
void pt_bert_block(const pt_model *m, const pt_pass *p, int l, float *const *a, float *x_out,
                   int mode) {
    const pt_model_config *c = &m->cfg;
    const pt_layer_weights *w = &m->w.layers[l];
    int C = c->dim, N = p->N;
    int sel = pt_pass_sel(m, p, l), Nq = sel ? p->n_sel : N;
    size_t QC = (size_t)Nq * C;
    pt_attn_geom g;
    if (sel)
        pt_pass_sel_geom(m, p, l, &g);
    else
        pt_pass_attn_geom(m, p, l, &g);
    g.q_stride = C, g.kv_stride = C;
    pt_mm_forward(a[A_K], a[A_IN], &w->wk, bias(&w->bk), N);
    pt_mm_forward(a[A_V], a[A_IN], &w->wv, bias(&w->bv), N);
    if (mode == PT_BLOCK_FULL) pt_pass_store_kv(m, p, l, a[A_K], a[A_V], C);
    if (Nq == 0) return;
    const float *qin = a[A_IN]; // (Nq, C) the query rows' input
    if (sel) pt_pass_gather(p, a[A_DQ], a[A_IN], C), qin = a[A_DQ];
    pt_mm_forward(a[A_Q], qin, &w->wq, bias(&w->bq), Nq);
    pt_attn_forward(a[A_ATTY], a[A_ATT], a[A_Q], a[A_K], a[A_V], &g);
    pt_mm_forward(a[A_R1], a[A_ATTY], &w->wo, bias(&w->bo), Nq);
    pt_add_inplace(a[A_R1], qin, QC);
    pt_layernorm_forward(a[A_A], a[A_R1S], a[A_R1S] + N, a[A_R1], pt_weight_f32(&w->attn_norm),
                         pt_weight_f32(&w->attn_norm_b), Nq, C, c->norm_eps);
    pt_mm_forward(a[A_F], a[A_A], &w->w_up, bias(&w->b_up), Nq);
    if (mode == PT_BLOCK_RECOMPUTE) return; /* r2 is kept per layer */
    gelu_fwd(c->act, a[A_G], a[A_F], (size_t)Nq * c->ffn_dim);
    pt_mm_forward(a[A_R2], a[A_G], &w->w_down, bias(&w->b_down), Nq);
    pt_add_inplace(a[A_R2], a[A_A], QC);
    pt_layernorm_forward(x_out, a[A_R2S], a[A_R2S] + N, a[A_R2], pt_weight_f32(&w->ffn_norm),
                         pt_weight_f32(&w->ffn_norm_b), Nq, C, c->norm_eps);
    if (sel) pt_pass_scatter(p, x_out, x_out, C);
}

void pt_bert_block_backward(const pt_model *m, const pt_pass *p, int l, float *const *a,
                            float *dres) {
    const pt_model_config *c = &m->cfg;
    const pt_layer_weights *w = &m->w.layers[l];
    int C = c->dim, N = p->N, F = c->ffn_dim;
    int sel = pt_pass_sel(m, p, l), Nq = sel ? p->n_sel : N;
    size_t NC = (size_t)N * C, QC = (size_t)Nq * C, QF = (size_t)Nq * F;
    pt_attn_geom g;
    if (sel)
        pt_pass_sel_geom(m, p, l, &g);
    else
        pt_pass_attn_geom(m, p, l, &g);
    g.q_stride = C, g.kv_stride = C;
    const float *dout = dres; // (Nq, C) d(out) at the query rows
    if (sel) pt_pass_gather(p, a[A_ATTY], dres, C), dout = a[A_ATTY];
    /* dr = d r2 through LN_2 */
    memset(a[A_DR], 0, sizeof(float) * QC);
    pt_layernorm_backward(a[A_DR], dout, a[A_R2], pt_weight_f32(&w->ffn_norm), a[A_R2S],
                          a[A_R2S] + N, Nq, C);
    /* da = dr (residual) + W1^T gelu'(f) W2^T dr */
    memcpy(a[A_DA], a[A_DR], sizeof(float) * QC);
    memset(a[A_DG], 0, sizeof(float) * QF);
    pt_mm_backward_input(a[A_DG], a[A_DR], &w->w_down, Nq);
    memset(a[A_DF], 0, sizeof(float) * QF);
    gelu_bwd(c->act, a[A_DF], a[A_DG], a[A_F], QF);
    pt_mm_backward_input(a[A_DA], a[A_DF], &w->w_up, Nq);
    /* dr = d r1 through LN_1 */
    memset(a[A_DR], 0, sizeof(float) * QC);
    pt_layernorm_backward(a[A_DR], a[A_DA], a[A_R1], pt_weight_f32(&w->attn_norm), a[A_R1S],
                          a[A_R1S] + N, Nq, C);
    /* d(block input) = dr (residual, at the query rows) + the attention path */
    if (sel) {
        memset(dres, 0, sizeof(float) * NC);
        pt_pass_scatter(p, dres, a[A_DR], C);
    } else {
        memcpy(dres, a[A_DR], sizeof(float) * NC);
    }
    memset(a[A_DATTY], 0, sizeof(float) * QC);
    pt_mm_backward_input(a[A_DATTY], a[A_DR], &w->wo, Nq);
    memset(a[A_DQ], 0, sizeof(float) * QC);
    memset(a[A_DK], 0, sizeof(float) * NC);
    memset(a[A_DV], 0, sizeof(float) * NC);
    pt_attn_backward(a[A_DQ], a[A_DK], a[A_DV], pt_pass_dek(p, l), pt_pass_dev(p, l), a[A_DATTY],
                     a[A_ATT], a[A_Q], a[A_K], a[A_V], &g);
    if (sel) {                   /* the queries' part at their rows */
        float *dqin = a[A_ATTY]; // (Nq, C)
        memset(dqin, 0, sizeof(float) * QC);
        pt_mm_backward_input(dqin, a[A_DQ], &w->wq, Nq);
        for (int i = 0; i < Nq; i++)
            pt_add_inplace(dres + (size_t)p->sel[i] * C, dqin + (size_t)i * C, (size_t)C);
    } else {
        pt_mm_backward_input(dres, a[A_DQ], &w->wq, N);
    }
    pt_mm_backward_input(dres, a[A_DK], &w->wk, N);
    pt_mm_backward_input(dres, a[A_DV], &w->wv, N);
}

/* ---- MLM head ---- */

/* Scratch of the head for k rows: ht, hg, hu, hdu, hdg, hdt (k, C), hstats (2, k). */
typedef struct head_buf {
    float *ht, *hg, *hu, *hdu, *hdg, *hdt, *hstats;
    int cap;
    float *owned;
} head_buf;

#define HEAD_FLOATS_PER_ROW 8 /* in units of C: six (k, C) buffers, stats, slack */

static pt_status head_scratch(const pt_model *m, pt_run *r, int n, head_buf *hb) {
    size_t C = (size_t)m->cfg.dim;
    float *p = r ? r->head : NULL;
    hb->cap = r ? r->head_rows : 0;
    hb->owned = NULL;
    if (!p || hb->cap < 1) { /* no run: scratch for this call */
        hb->cap = n < 256 ? (n > 0 ? n : 1) : 256;
        p = hb->owned = pt_aalloc((size_t)hb->cap * C * HEAD_FLOATS_PER_ROW, sizeof(float));
        if (!p) return pt_fail(PT_ERR_NOMEM, "out of memory for the MLM head");
    }
    size_t k = (size_t)hb->cap;
    hb->ht = p, p += k * C;
    hb->hg = p, p += k * C;
    hb->hu = p, p += k * C;
    hb->hdu = p, p += k * C;
    hb->hdg = p, p += k * C;
    hb->hdt = p, p += k * C;
    hb->hstats = p;
    return PT_OK;
}

/* hu (n, C) = LN_h(gelu(Wt h + bt)); ht, hg, hstats kept for backward. */
static void head_transform(const pt_model *m, head_buf *hb, const float *h, int n) {
    const pt_model_weights *w = &m->w;
    int C = m->cfg.dim;
    pt_mm_forward(hb->ht, h, &w->mlm_dense, pt_weight_f32(&w->mlm_dense_b), n);
    gelu_fwd(m->cfg.act, hb->hg, hb->ht, (size_t)n * C); /* the transform uses hidden_act too */
    pt_layernorm_forward(hb->hu, hb->hstats, hb->hstats + hb->cap, hb->hg,
                         pt_weight_f32(&w->mlm_norm), pt_weight_f32(&w->mlm_norm_b), n, C,
                         m->cfg.norm_eps);
}

static const pt_weight *decoder(const pt_model *m) {
    return pt_weight_present(&m->w.lm_head) ? &m->w.lm_head : &m->w.tok_embd;
}

pt_status pt_bert_head(const pt_model *m, pt_run *r, float *logits, const float *h, int n,
                       const int *rows, int nr) {
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    if (!m->cfg.has_lm_head)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: the checkpoint has no MLM head (use --head linear)",
                       m->path ? m->path : "model");
    if (!rows) nr = V;
    head_buf hb;
    pt_status s = head_scratch(m, r, n, &hb);
    if (s) return s;
    const pt_weight *dec = decoder(m);
    const float *hbias = pt_weight_f32(&m->w.mlm_bias);
    for (int i0 = 0; i0 < n; i0 += hb.cap) {
        int k = n - i0 < hb.cap ? n - i0 : hb.cap;
        head_transform(m, &hb, h + (size_t)i0 * C, k);
        float *lg = logits + (size_t)i0 * nr; // (k, nr)
        if (!rows) {
            pt_mm_forward(lg, hb.hu, dec, hbias, k);
            continue;
        }
        for (int i = 0; i < k; i++) {
            pt_weight_dot_rows(dec, hb.hu + (size_t)i * C, rows, nr, lg + (size_t)i * nr);
            for (int j = 0; j < nr; j++) lg[(size_t)i * nr + j] += hbias[rows[j]];
        }
    }
    pt_afree(hb.owned);
    return PT_OK;
}

pt_status pt_bert_head_backward(const pt_model *m, pt_run *r, float *dh, const float *dlogits,
                                const float *h, int n, const int *rows, int nr) {
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    if (!m->cfg.has_lm_head)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: the checkpoint has no MLM head (use --head linear)",
                       m->path ? m->path : "model");
    if (!rows) nr = V;
    head_buf hb;
    pt_status s = head_scratch(m, r, n, &hb);
    if (s) return s;
    const pt_weight *dec = decoder(m);
    for (int i0 = 0; i0 < n; i0 += hb.cap) {
        int k = n - i0 < hb.cap ? n - i0 : hb.cap;
        head_transform(m, &hb, h + (size_t)i0 * C, k);
        const float *dl = dlogits + (size_t)i0 * nr; // (k, nr)
        memset(hb.hdu, 0, sizeof(float) * (size_t)k * C);
        if (!rows)
            pt_mm_backward_input(hb.hdu, dl, dec, k);
        else
            for (int i = 0; i < k; i++)
                pt_weight_axpy_rows(dec, hb.hdu + (size_t)i * C, dl + (size_t)i * nr, rows, nr);
        memset(hb.hdg, 0, sizeof(float) * (size_t)k * C);
        pt_layernorm_backward(hb.hdg, hb.hdu, hb.hg, pt_weight_f32(&m->w.mlm_norm), hb.hstats,
                              hb.hstats + hb.cap, k, C);
        memset(hb.hdt, 0, sizeof(float) * (size_t)k * C);
        gelu_bwd(m->cfg.act, hb.hdt, hb.hdg, hb.ht, (size_t)k * C);
        pt_mm_backward_input(dh + (size_t)i0 * C, hb.hdt, &m->w.mlm_dense, k);
    }
    pt_afree(hb.owned);
    return PT_OK;
}

/* hidden_act, position embeddings; the head may be absent. */
static pt_status bert_config(pt_model_config *c, const pt_config_src *src) {
    const char *str = NULL;
    c->causal = 0;
    c->act = PT_ACT_GELU_ERF;
    c->n_kv_heads = c->n_heads;
    if (c->n_heads < 1 || c->dim % c->n_heads)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: hidden_size %d is not a multiple of num_attention_heads %d", src->path,
                       c->dim, c->n_heads);
    c->head_dim = c->dim / c->n_heads;
    if (!src->hf) return PT_OK;
    if (pt_json_get(src->hf, "hidden_act")) {
        if (!pt_json_get_str(src->hf, "hidden_act", &str))
            return pt_fail(PT_ERR_FORMAT, "%s: \"hidden_act\" must be a string", src->path);
        if (!strcmp(str, "gelu_new") || !strcmp(str, "gelu_pytorch_tanh"))
            c->act = PT_ACT_GELU_TANH;
        else if (strcmp(str, "gelu"))
            return pt_fail(PT_ERR_UNSUPPORTED,
                           "%s: hidden_act \"%s\" not supported (gelu, gelu_new)", src->path, str);
    }
    if (pt_json_get_str(src->hf, "position_embedding_type", &str) && strcmp(str, "absolute"))
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: position_embedding_type \"%s\" not supported (absolute only)",
                       src->path, str);
    return PT_OK;
}

pt_status pt_bert_config(pt_model_config *c, const pt_config_src *src) {
    return bert_config(c, src);
}

#define CK(field, type, hf, gguf, req, dflt, lo, hi)                                               \
    { offsetof(pt_model_config, field), type, hf, gguf, req, dflt, lo, hi }
#define LW(field) offsetof(pt_layer_weights, field), #field
#define GW(field) offsetof(pt_model_weights, field), #field

static const pt_config_key KEYS[] = {
    CK(dim, PT_CK_INT, "hidden_size", NULL, 1, 0, 1, 1 << 16),
    CK(n_layers, PT_CK_INT, "num_hidden_layers", NULL, 1, 0, 1, 1024),
    CK(n_heads, PT_CK_INT, "num_attention_heads", NULL, 1, 0, 1, 1 << 14),
    CK(ffn_dim, PT_CK_INT, "intermediate_size", NULL, 1, 0, 1, 1 << 20),
    CK(max_pos, PT_CK_INT, "max_position_embeddings", NULL, 1, 0, 1, 1 << 20),
    CK(vocab_size, PT_CK_INT, "vocab_size", NULL, 1, 0, 1, 1 << 24),
    CK(type_vocab, PT_CK_INT, "type_vocab_size", NULL, 0, 2, 1, 1 << 16),
    CK(norm_eps, PT_CK_FLOAT, "layer_norm_eps", NULL, 0, 1e-12, 1e-30, 0.5),
};

#define LN(base, wf, bf)                                                                           \
    {LW(wf), base ".weight|" base ".gamma", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ONES}, {          \
        LW(bf), base ".bias|" base ".beta", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ZEROS             \
    }
#define GLN(base, wf, bf, fl)                                                                      \
    {GW(wf), base ".weight|" base ".gamma", NULL, PT_D_1, PT_D_C, PT_T_F32 | (fl), PT_I_ONES}, {   \
        GW(bf), base ".bias|" base ".beta", NULL, PT_D_1, PT_D_C, PT_T_F32 | (fl), PT_I_ZEROS      \
    }
#define LIN(base, wf, bf, rows, cols)                                                              \
    {LW(wf), base ".weight", NULL, rows, cols, PT_T_MATRIX, PT_I_NORMAL}, {                        \
        LW(bf), base ".bias", NULL, PT_D_1, rows, PT_T_F32, PT_I_ZEROS                             \
    }

static const pt_tensor_desc GLOBALS[] = {
    {GW(tok_embd), "embeddings.word_embeddings.weight", NULL, PT_D_V, PT_D_C, 0, PT_I_NORMAL},
    {GW(pos_embd), "embeddings.position_embeddings.weight", NULL, PT_D_POS, PT_D_C, PT_T_F32,
     PT_I_NORMAL},
    {GW(type_embd), "embeddings.token_type_embeddings.weight", NULL, PT_D_TYPES, PT_D_C, PT_T_F32,
     PT_I_NORMAL},
    GLN("embeddings.LayerNorm", embd_norm, embd_norm_b, 0),
    {GW(mlm_dense), "cls.predictions.transform.dense.weight", NULL, PT_D_C, PT_D_C,
     PT_T_HEAD | PT_T_OPTIONAL, PT_I_NORMAL},
    {GW(mlm_dense_b), "cls.predictions.transform.dense.bias", NULL, PT_D_1, PT_D_C,
     PT_T_HEAD | PT_T_OPTIONAL | PT_T_F32, PT_I_ZEROS},
    GLN("cls.predictions.transform.LayerNorm", mlm_norm, mlm_norm_b, PT_T_HEAD | PT_T_OPTIONAL),
    {GW(mlm_bias), "cls.predictions.bias|cls.predictions.decoder.bias", NULL, PT_D_1, PT_D_V,
     PT_T_HEAD | PT_T_OPTIONAL | PT_T_F32, PT_I_ZEROS},
    {GW(lm_head), "cls.predictions.decoder.weight", NULL, PT_D_V, PT_D_C, PT_T_OPTIONAL, PT_I_NONE},
};

static const pt_tensor_desc LAYER[] = {
    LIN("encoder.layer.%d.attention.self.query", wq, bq, PT_D_C, PT_D_C),
    LIN("encoder.layer.%d.attention.self.key", wk, bk, PT_D_C, PT_D_C),
    LIN("encoder.layer.%d.attention.self.value", wv, bv, PT_D_C, PT_D_C),
    LIN("encoder.layer.%d.attention.output.dense", wo, bo, PT_D_C, PT_D_C),
    LN("encoder.layer.%d.attention.output.LayerNorm", attn_norm, attn_norm_b),
    LIN("encoder.layer.%d.intermediate.dense", w_up, b_up, PT_D_F, PT_D_C),
    LIN("encoder.layer.%d.output.dense", w_down, b_down, PT_D_C, PT_D_F),
    LN("encoder.layer.%d.output.LayerNorm", ffn_norm, ffn_norm_b),
};

static const char *const HF_TYPES[] = {"bert", NULL};
static const char *const HF_ARCHS[] = {"BertForMaskedLM", "BertModel", "BertForPreTraining", NULL};
static const char *const PREFIXES[] = {"bert.", "", NULL};

const pt_family_desc pt_family_bert = {
    .id = PT_FAMILY_BERT,
    .name = "bert",
    .causal = 0,
    .hf_types = HF_TYPES,
    .hf_archs = HF_ARCHS,
    .hf_prefixes = PREFIXES,
    .keys = KEYS,
    .n_keys = sizeof KEYS / sizeof KEYS[0],
    .globals = GLOBALS,
    .n_globals = sizeof GLOBALS / sizeof GLOBALS[0],
    .layer = LAYER,
    .n_layer = sizeof LAYER / sizeof LAYER[0],
    .acts = pt_bert_acts,
    .n_acts = PT_BERT_N_ACTS,
    .special = {PT_SP_CLS, PT_SP_SEP, PT_SP_NONE},
    .last_rows = 1,
    .head_scratch = HEAD_FLOATS_PER_ROW,
    .fn =
        {
            .embed = pt_bert_embed,
            .embed_backward = pt_bert_embed_backward,
            .block = pt_bert_block,
            .recompute_input = pt_bert_recompute_input,
            .block_backward = pt_bert_block_backward,
            .final_norm = pt_fam_final_copy,
            .final_norm_backward = pt_fam_final_copy_backward,
            .head = pt_bert_head,
            .head_backward = pt_bert_head_backward,
            .config = bert_config,
        },
};
