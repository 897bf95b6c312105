/* gpt2.c - GPT-2: its description table and its block.
 *
 * Block l (pre-norm), on the residual stream x (N, C):
 *   r2 = x + proj(attn(qkv(ln1(x))));  x' = r2 + fcproj(gelu(fc(ln2(r2))))
 * The first block's input adds the learned position embedding; the output is
 * ln_f at the requested rows; the LM head is tied to the word embeddings.
 * Hugging Face stores the matrices as Conv1D weights (in, out): they are
 * transposed to (out, in) at load.
 *
 * Dimension letters as in family.h (F = 4C).
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "formats/json.h"
#include "kernels/kernels.h"
#include "models/family.h"

enum {
    A_IN = PT_ACT_IN, /* (N, C) block input */
    A_MEAN1,          /* (N) */
    A_RSTD1,          /* (N) */
    A_QKV,            /* (N, 3C) */
    A_ATT,            /* (N, NH * (E + T)) attention probabilities, kept per layer */
    A_R2,             /* (N, C) residual after attention */
    A_MEAN2,          /* (N) */
    A_RSTD2,          /* (N) */
    A_FCH,            /* (N, F) pre-GELU */
    /* scratch */
    A_LN,     /* (N, C) */
    A_ATTY,   /* (N, C) attention output / its gradient */
    A_TMP,    /* (N, C) */
    A_FCG,    /* (N, F) gelu output / its gradient */
    A_DBIG,   /* (N, F) also holds dqkv (N, 3C) */
    A_DSMALL, /* (N, C) */
};

static const pt_act_desc ACTS[] = {
    {A_IN, PT_D_C, 1, PT_A_LAYER, "in"},
    {A_MEAN1, PT_D_1, 1, PT_A_KEEP, "mean1"},
    {A_RSTD1, PT_D_1, 1, PT_A_KEEP, "rstd1"},
    {A_QKV, PT_D_3C, 1, PT_A_KEEP, "qkv"},
    {A_ATT, PT_D_1, 1, PT_A_KEEP | PT_A_ATT, "att"},
    {A_R2, PT_D_C, 1, PT_A_KEEP, "r2"},
    {A_MEAN2, PT_D_1, 1, PT_A_KEEP, "mean2"},
    {A_RSTD2, PT_D_1, 1, PT_A_KEEP, "rstd2"},
    {A_FCH, PT_D_F, 1, PT_A_KEEP, "fch"},
    {A_LN, PT_D_C, 1, 0, "ln"},
    {A_ATTY, PT_D_C, 1, 0, "atty"},
    {A_TMP, PT_D_C, 1, 0, "tmp"},
    {A_FCG, PT_D_F, 1, 0, "fcg"},
    {A_DBIG, PT_D_F, 1, 0, "dbig"},
    {A_DSMALL, PT_D_C, 1, 0, "dsmall"},
};

/* out (n) = a (n) + b (n) */
static void residual_add(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= PT_PAR_FLOPS / 16)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* x0 = x + wpe[pos] */
static void gpt2_embed(const pt_model *m, const pt_pass *p, float *const *a, const float *x_emb,
                       float *x0) {
    int C = m->cfg.dim;
    const float *wpe = pt_weight_f32(&m->w.pos_embd);
#pragma omp parallel for schedule(static) if ((size_t)p->N * C >= PT_PAR_FLOPS / 16)
    for (int i = 0; i < p->N; i++) {
        const float *xi = x_emb + (size_t)i * C, *pe = wpe + (size_t)p->pos[i] * C;
        float *o = x0 + (size_t)i * C;
        for (int c = 0; c < C; c++) o[c] = xi[c] + pe[c];
    }
}

/* The q part (Nq, C) of the selected rows of qkv (N, 3C). */
static void gather_q(const pt_pass *p, float *qs, const float *qkv, int C) {
    for (int i = 0; i < p->n_sel; i++)
        memcpy(qs + (size_t)i * C, qkv + (size_t)p->sel[i] * 3 * C, sizeof(float) * (size_t)C);
}

/* With the last-block shortcut (pt_pass_sel) the block's keys and values are
 * computed at every row, everything after them at the Nq selected rows only
 * (compact: rows 0..Nq of ATTY, R2, LN, FCH, ...), the output scattered back. */
static void gpt2_block(const pt_model *m, const pt_pass *p, int l, float *const *a, float *x_out,
                       int mode) {
    const pt_model_config *c = &m->cfg;
    const pt_layer_weights *w = &m->w.layers[l];
    int C = c->dim, N = p->N;
    int sel = pt_pass_sel(m, p, l), Nq = sel ? p->n_sel : N;
    size_t QC = (size_t)Nq * C;
    float eps = c->norm_eps;
    pt_attn_geom g;
    if (sel)
        pt_pass_sel_geom(m, p, l, &g);
    else
        pt_pass_attn_geom(m, p, l, &g);
    g.q_stride = sel ? C : 3 * C, g.kv_stride = 3 * C;
    float *qkv = a[A_QKV];
    pt_layernorm_forward(a[A_LN], a[A_MEAN1], a[A_RSTD1], a[A_IN], pt_weight_f32(&w->attn_norm),
                         pt_weight_f32(&w->attn_norm_b), N, C, eps);
    pt_mm_forward(qkv, a[A_LN], &w->wqkv, pt_weight_f32(&w->bqkv), N);
    if (mode == PT_BLOCK_FULL) pt_pass_store_kv(m, p, l, qkv + C, qkv + 2 * C, 3 * C);
    if (Nq == 0) return;
    const float *q = qkv;
    if (sel) gather_q(p, a[A_TMP], qkv, C), q = a[A_TMP];
    pt_attn_forward(a[A_ATTY], a[A_ATT], q, qkv + C, qkv + 2 * C, &g);
    pt_mm_forward(a[A_TMP], a[A_ATTY], &w->wo, pt_weight_f32(&w->bo), Nq);
    if (sel)
        for (int i = 0; i < Nq; i++)
            residual_add(a[A_R2] + (size_t)i * C, a[A_IN] + (size_t)p->sel[i] * C,
                         a[A_TMP] + (size_t)i * C, (size_t)C);
    else
        residual_add(a[A_R2], a[A_IN], a[A_TMP], QC);
    pt_layernorm_forward(a[A_LN], a[A_MEAN2], a[A_RSTD2], a[A_R2], pt_weight_f32(&w->ffn_norm),
                         pt_weight_f32(&w->ffn_norm_b), Nq, C, eps);
    pt_mm_forward(a[A_FCH], a[A_LN], &w->w_up, pt_weight_f32(&w->b_up), Nq);
    if (mode == PT_BLOCK_RECOMPUTE) return; /* backward needs nothing after fc */
    pt_gelu_tanh_forward(a[A_FCG], a[A_FCH], (size_t)Nq * c->ffn_dim);
    pt_mm_forward(a[A_TMP], a[A_FCG], &w->w_down, pt_weight_f32(&w->b_down), Nq);
    residual_add(x_out, a[A_R2], a[A_TMP], QC);
    if (sel) pt_pass_scatter(p, x_out, x_out, C);
}

static void gpt2_block_backward(const pt_model *m, const pt_pass *p, int l, float *const *a,
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
    g.q_stride = sel ? C : 3 * C, g.kv_stride = 3 * C;
    float *qkv = a[A_QKV];
    /* d(out) at the query rows: dres itself, or its selected rows (Nq, C) */
    float *dq_rows = dres;
    if (sel) dq_rows = a[A_LN], pt_pass_gather(p, dq_rows, dres, C);
    /* MLP branch: x' = r2 + fcproj(gelu(fc(ln2(r2)))) */
    float *dfcg = a[A_DBIG]; // (Nq, F)
    memset(dfcg, 0, sizeof(float) * QF);
    pt_mm_backward_input(dfcg, dq_rows, &w->w_down, Nq);
    float *dfch = a[A_FCG]; // (Nq, F)
    memset(dfch, 0, sizeof(float) * QF);
    pt_gelu_tanh_backward(dfch, dfcg, a[A_FCH], QF);
    float *dln = a[A_DSMALL]; // (N, C)
    memset(dln, 0, sizeof(float) * QC);
    pt_mm_backward_input(dln, dfch, &w->w_up, Nq);
    pt_layernorm_backward(dq_rows, dln, a[A_R2], pt_weight_f32(&w->ffn_norm), a[A_MEAN2],
                          a[A_RSTD2], Nq, C);
    /* attention branch: r2 = x + proj(attn(qkv(ln1(x)))) */
    float *datty = a[A_ATTY]; // (Nq, C)
    memset(datty, 0, sizeof(float) * QC);
    pt_mm_backward_input(datty, dq_rows, &w->wo, Nq);
    float *dqkv = a[A_DBIG]; // (N, 3C)
    memset(dqkv, 0, sizeof(float) * NC * 3);
    if (sel) {
        float *qs = a[A_TMP], *dqs = a[A_DSMALL]; // (Nq, C) each
        gather_q(p, qs, qkv, C);
        memset(dqs, 0, sizeof(float) * QC);
        pt_attn_backward(dqs, dqkv + C, dqkv + 2 * C, pt_pass_dek(p, l), pt_pass_dev(p, l), datty,
                         a[A_ATT], qs, qkv + C, qkv + 2 * C, &g);
        for (int i = 0; i < Nq; i++)
            memcpy(dqkv + (size_t)p->sel[i] * 3 * C, dqs + (size_t)i * C, sizeof(float) * C);
        pt_pass_scatter(p, dres, dq_rows, C); /* the residual: d(in) = d(r2) at those rows */
    } else {
        pt_attn_backward(dqkv, dqkv + C, dqkv + 2 * C, pt_pass_dek(p, l), pt_pass_dev(p, l), datty,
                         a[A_ATT], qkv, qkv + C, qkv + 2 * C, &g);
    }
    memset(dln, 0, sizeof(float) * NC);
    pt_mm_backward_input(dln, dqkv, &w->wqkv, N);
    pt_layernorm_backward(dres, dln, a[A_IN], pt_weight_f32(&w->attn_norm), a[A_MEAN1], a[A_RSTD1],
                          N, C);
}

static pt_status gpt2_config(pt_model_config *c, const pt_config_src *src) {
    const char *act = "gelu_new";
    if (src->hf) pt_json_get_str(src->hf, "activation_function", &act);
    if (strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: activation_function \"%s\" not supported (GPT-2 uses gelu_new)",
                       src->path, act);
    if (c->n_heads < 1 || c->dim % c->n_heads)
        return pt_fail(PT_ERR_FORMAT, "%s: n_embd %d must be a multiple of n_head %d", src->path,
                       c->dim, c->n_heads);
    c->act = PT_ACT_GELU_TANH;
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->dim / c->n_heads;
    if (c->ffn_dim == 0) c->ffn_dim = 4 * c->dim; /* n_inner null: 4 x n_embd */
    if (c->ffn_dim < 3 * c->dim)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: n_inner %d below 3 x n_embd is not supported",
                       src->path, c->ffn_dim);
    c->tied = 1;
    return PT_OK;
}

#define CK(field, type, hf, gguf, req, dflt, lo, hi)                                               \
    { offsetof(pt_model_config, field), type, hf, gguf, req, dflt, lo, hi }
#define LW(field) offsetof(pt_layer_weights, field), #field
#define GW(field) offsetof(pt_model_weights, field), #field

static const pt_config_key KEYS[] = {
    CK(dim, PT_CK_INT, "n_embd", NULL, 1, 0, 1, 1 << 16),
    CK(n_layers, PT_CK_INT, "n_layer", NULL, 1, 0, 1, 1024),
    CK(n_heads, PT_CK_INT, "n_head", NULL, 1, 0, 1, 1 << 14),
    CK(vocab_size, PT_CK_INT, "vocab_size", NULL, 1, 0, 1, 1 << 24),
    CK(max_pos, PT_CK_INT, "n_positions|n_ctx", NULL, 1, 0, 1, 1 << 20),
    CK(ffn_dim, PT_CK_INT, "n_inner", NULL, 0, 0, 0, 1 << 20),
    CK(norm_eps, PT_CK_FLOAT, "layer_norm_epsilon", NULL, 0, 1e-5, 1e-30, 0.5),
};

static const pt_tensor_desc GLOBALS[] = {
    {GW(tok_embd), "wte.weight", NULL, PT_D_V, PT_D_C, 0, PT_I_NORMAL},
    {GW(pos_embd), "wpe.weight", NULL, PT_D_POS, PT_D_C, PT_T_F32, PT_I_NORMAL},
    {GW(out_norm), "ln_f.weight", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ONES},
    {GW(out_norm_b), "ln_f.bias", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ZEROS},
};

static const pt_tensor_desc LAYER[] = {
    {LW(attn_norm), "h.%d.ln_1.weight", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ONES},
    {LW(attn_norm_b), "h.%d.ln_1.bias", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ZEROS},
    {LW(wqkv), "h.%d.attn.c_attn.weight", NULL, PT_D_3C, PT_D_C, PT_T_MATRIX | PT_T_CONV1D,
     PT_I_NORMAL},
    {LW(bqkv), "h.%d.attn.c_attn.bias", NULL, PT_D_1, PT_D_3C, PT_T_F32, PT_I_ZEROS},
    {LW(wo), "h.%d.attn.c_proj.weight", NULL, PT_D_C, PT_D_C, PT_T_MATRIX | PT_T_CONV1D,
     PT_I_NORMAL},
    {LW(bo), "h.%d.attn.c_proj.bias", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ZEROS},
    {LW(ffn_norm), "h.%d.ln_2.weight", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ONES},
    {LW(ffn_norm_b), "h.%d.ln_2.bias", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ZEROS},
    {LW(w_up), "h.%d.mlp.c_fc.weight", NULL, PT_D_F, PT_D_C, PT_T_MATRIX | PT_T_CONV1D,
     PT_I_NORMAL},
    {LW(b_up), "h.%d.mlp.c_fc.bias", NULL, PT_D_1, PT_D_F, PT_T_F32, PT_I_ZEROS},
    {LW(w_down), "h.%d.mlp.c_proj.weight", NULL, PT_D_C, PT_D_F, PT_T_MATRIX | PT_T_CONV1D,
     PT_I_NORMAL},
    {LW(b_down), "h.%d.mlp.c_proj.bias", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ZEROS},
};

static const char *const HF_TYPES[] = {"gpt2", NULL};
static const char *const HF_ARCHS[] = {"GPT2LMHeadModel", "GPT2Model", NULL};
static const char *const PREFIXES[] = {"", "transformer.", NULL};

const pt_family_desc pt_family_gpt2 = {
    .id = PT_FAMILY_GPT2,
    .name = "gpt2",
    .causal = 1,
    .hf_types = HF_TYPES,
    .hf_archs = HF_ARCHS,
    .hf_prefixes = PREFIXES,
    .keys = KEYS,
    .n_keys = sizeof KEYS / sizeof KEYS[0],
    .globals = GLOBALS,
    .n_globals = sizeof GLOBALS / sizeof GLOBALS[0],
    .layer = LAYER,
    .n_layer = sizeof LAYER / sizeof LAYER[0],
    .acts = ACTS,
    .n_acts = sizeof ACTS / sizeof ACTS[0],
    .special = {PT_SP_NONE, PT_SP_NONE, PT_SP_BOS},
    .last_rows = 1,
    .fn =
        {
            .embed = gpt2_embed,
            .embed_backward = pt_fam_embed_copy_backward,
            .block = gpt2_block,
            .block_backward = gpt2_block_backward,
            .final_norm = pt_fam_final_layernorm,
            .final_norm_backward = pt_fam_final_layernorm_backward,
            .config = gpt2_config,
        },
};
