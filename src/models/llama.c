/* llama.c - the LLaMA family (LLaMA 1/2/3, Mistral): its description table
 * and its block, which Qwen2 shares (qwen2.c).
 *
 * Block l (pre-norm), on the residual stream h (N, C):
 *   n = rmsnorm(h) ; q = RoPE(n Wq^T + bq), k = RoPE(n Wk^T + bk), v = n Wv^T + bv
 *   h += attn(q, k, v) Wo^T               (causal, grouped-query: NKV <= NH)
 *   n = rmsnorm(h) ; h += (silu(n Wg^T) * (n Wu^T)) Wd^T
 * then a final rmsnorm; the LM head multiplies by the output matrix (tied to
 * the embeddings or not). RoPE is Hugging Face's rotate_half form at each
 * row's position, with the model's scaled frequencies; GGUF files of this
 * family store Q/K rows permuted for adjacent-pair RoPE, which the RoPE
 * kernel reads as they are (cfg.rope_interleaved). The biases are empty for
 * LLaMA (and present for Qwen2).
 *
 * Dimension letters as in family.h.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "kernels/kernels.h"
#include "models/family.h"

enum {
    A_IN = PT_ACT_IN, /* (N, C) block input */
    A_RSTD1,          /* (N) */
    A_Q,              /* (N, QC) after RoPE */
    A_K,              /* (N, KVC) after RoPE */
    A_V,              /* (N, KVC) */
    A_MID,            /* (N, C) residual after attention */
    A_RSTD2,          /* (N) */
    A_GATE,           /* (N, F) n Wg^T, before silu */
    A_UP,             /* (N, F) */
    /* scratch */
    A_ATT,   /* (N, NH * (E + T)) probabilities of the current layer (recomputed in backward) */
    A_N,     /* (N, C) normalized activations / their gradient */
    A_Y,     /* (N, QC) attention output / its gradient */
    A_FFN,   /* (N, F) silu(gate) * up / its gradient */
    A_DQ,    /* (N, QC) */
    A_DK,    /* (N, KVC) */
    A_DV,    /* (N, KVC) */
    A_DGATE, /* (N, F) */
    A_DUP,   /* (N, F) */
    A_XS,    /* (N, C) the last block's rows: d(mid) */
    A_XS2,   /* (N, C) the last block's rows: d(n) from the queries */
};

_Static_assert(A_XS2 + 1 == PT_LLAMA_N_ACTS, "PT_LLAMA_N_ACTS counts the activations");
const pt_act_desc pt_llama_acts[] = {
    {A_IN, PT_D_C, 1, PT_A_LAYER, "in"},
    {A_RSTD1, PT_D_1, 1, PT_A_KEEP, "rstd1"},
    {A_Q, PT_D_QC, 1, PT_A_KEEP, "q"},
    {A_K, PT_D_KVC, 1, PT_A_KEEP, "k"},
    {A_V, PT_D_KVC, 1, PT_A_KEEP, "v"},
    {A_MID, PT_D_C, 1, PT_A_KEEP, "mid"},
    {A_RSTD2, PT_D_1, 1, PT_A_KEEP, "rstd2"},
    {A_GATE, PT_D_F, 1, PT_A_KEEP, "gate"},
    {A_UP, PT_D_F, 1, PT_A_KEEP, "up"},
    {A_ATT, PT_D_1, 1, PT_A_ATT, "att"},
    {A_N, PT_D_C, 1, 0, "n"},
    {A_Y, PT_D_QC, 1, 0, "y"},
    {A_FFN, PT_D_F, 1, 0, "ffn"},
    {A_DQ, PT_D_QC, 1, 0, "dq"},
    {A_DK, PT_D_KVC, 1, 0, "dk"},
    {A_DV, PT_D_KVC, 1, 0, "dv"},
    {A_DGATE, PT_D_F, 1, 0, "dgate"},
    {A_DUP, PT_D_F, 1, 0, "dup"},
    {A_XS, PT_D_C, 1, 0, "xs"},
    {A_XS2, PT_D_C, 1, 0, "xs2"},
};
_Static_assert(sizeof pt_llama_acts / sizeof pt_llama_acts[0] == PT_LLAMA_N_ACTS,
               "the table lists every activation");

#define BIAS(w) (pt_weight_present(&(w)) ? pt_weight_f32(&(w)) : NULL)

static void rope(const pt_model *m, const pt_pass *p, float *x, int heads, int dir) {
    const pt_model_config *c = &m->cfg;
    pt_rope_rows(x, heads * c->head_dim, p->N, heads, c->head_dim, p->pos, m->inv_freq,
                 c->rope_interleaved, dir);
}

/* The same for the last block's selected rows (n_sel of them, compact). */
static void rope_sel(const pt_model *m, const pt_pass *p, float *x, int heads, int dir) {
    const pt_model_config *c = &m->cfg;
    pt_rope_rows(x, heads * c->head_dim, p->n_sel, heads, c->head_dim, p->sel_pos, m->inv_freq,
                 c->rope_interleaved, dir);
}

void pt_llama_block(const pt_model *m, const pt_pass *p, int l, float *const *a, float *x_out,
                    int mode) {
    const pt_model_config *c = &m->cfg;
    const pt_layer_weights *w = &m->w.layers[l];
    int N = p->N, C = c->dim, NH = c->n_heads, NKV = c->n_kv_heads;
    int QC = NH * c->head_dim, KVC = NKV * c->head_dim;
    int sel = pt_pass_sel(m, p, l), Nq = sel ? p->n_sel : N; /* rows after the keys/values */
    pt_attn_geom g;
    if (sel)
        pt_pass_sel_geom(m, p, l, &g);
    else
        pt_pass_attn_geom(m, p, l, &g);
    g.q_stride = QC, g.kv_stride = KVC;
    /* attention: keys and values at every row, queries at Nq */
    pt_rmsnorm_forward(a[A_N], a[A_RSTD1], a[A_IN], pt_weight_f32(&w->attn_norm), N, C,
                       c->norm_eps);
    pt_mm_forward(a[A_K], a[A_N], &w->wk, BIAS(w->bk), N);
    pt_mm_forward(a[A_V], a[A_N], &w->wv, BIAS(w->bv), N);
    rope(m, p, a[A_K], NKV, 1);
    if (mode == PT_BLOCK_FULL) pt_pass_store_kv(m, p, l, a[A_K], a[A_V], KVC);
    if (Nq == 0) return; /* only keys and values wanted */
    if (sel) pt_pass_gather(p, a[A_N], a[A_N], C);
    pt_mm_forward(a[A_Q], a[A_N], &w->wq, BIAS(w->bq), Nq);
    if (sel)
        rope_sel(m, p, a[A_Q], NH, 1);
    else
        rope(m, p, a[A_Q], NH, 1);
    pt_attn_forward(a[A_Y], a[A_ATT], a[A_Q], a[A_K], a[A_V], &g);
    pt_mm_forward(a[A_MID], a[A_Y], &w->wo, BIAS(w->bo), Nq);
    if (sel)
        for (int i = 0; i < Nq; i++)
            pt_add_inplace(a[A_MID] + (size_t)i * C, a[A_IN] + (size_t)p->sel[i] * C, (size_t)C);
    else
        pt_add_inplace(a[A_MID], a[A_IN], (size_t)N * C);
    /* MLP */
    pt_rmsnorm_forward(a[A_N], a[A_RSTD2], a[A_MID], pt_weight_f32(&w->ffn_norm), Nq, C,
                       c->norm_eps);
    pt_mm_forward(a[A_GATE], a[A_N], &w->w_gate, NULL, Nq);
    pt_mm_forward(a[A_UP], a[A_N], &w->w_up, NULL, Nq);
    if (mode == PT_BLOCK_RECOMPUTE) return; /* backward needs nothing after gate and up */
    pt_swiglu_forward(a[A_FFN], a[A_GATE], a[A_UP], (size_t)Nq * c->ffn_dim);
    pt_mm_forward(x_out, a[A_FFN], &w->w_down, NULL, Nq);
    pt_add_inplace(x_out, a[A_MID], (size_t)Nq * C);
    if (sel) pt_pass_scatter(p, x_out, x_out, C); /* to the rows' places */
}

void pt_llama_block_backward(const pt_model *m, const pt_pass *p, int l, float *const *a,
                             float *dres) {
    const pt_model_config *c = &m->cfg;
    const pt_layer_weights *w = &m->w.layers[l];
    int N = p->N, C = c->dim, NH = c->n_heads, NKV = c->n_kv_heads, F = c->ffn_dim;
    int QC = NH * c->head_dim, KVC = NKV * c->head_dim;
    int sel = pt_pass_sel(m, p, l), Nq = sel ? p->n_sel : N;
    size_t NC = (size_t)N * C, QF = (size_t)Nq * F, QCC = (size_t)Nq * C;
    pt_attn_geom g;
    if (sel)
        pt_pass_sel_geom(m, p, l, &g);
    else
        pt_pass_attn_geom(m, p, l, &g);
    g.q_stride = QC, g.kv_stride = KVC;
    /* d(out) at the query rows: dres itself, or its selected rows */
    float *dq_rows = dres; // (Nq, C)
    if (sel) {
        dq_rows = a[A_XS];
        pt_pass_gather(p, dq_rows, dres, C);
    }
    /* MLP: h_next = mid + down(silu(gate) * up), gate/up from n = rmsnorm(mid) */
    memset(a[A_FFN], 0, sizeof(float) * QF);
    pt_mm_backward_input(a[A_FFN], dq_rows, &w->w_down, Nq);
    memset(a[A_DGATE], 0, sizeof(float) * QF);
    memset(a[A_DUP], 0, sizeof(float) * QF);
    pt_swiglu_backward(a[A_DGATE], a[A_DUP], a[A_FFN], a[A_GATE], a[A_UP], QF);
    memset(a[A_N], 0, sizeof(float) * QCC);
    pt_mm_backward_input(a[A_N], a[A_DGATE], &w->w_gate, Nq);
    pt_mm_backward_input(a[A_N], a[A_DUP], &w->w_up, Nq);
    pt_rmsnorm_backward(dq_rows, a[A_N], a[A_MID], pt_weight_f32(&w->ffn_norm), a[A_RSTD2], Nq, C);
    /* attention: mid = in + attn(q, k, v) Wo^T, q/k/v from n = rmsnorm(in) */
    memset(a[A_Y], 0, sizeof(float) * (size_t)Nq * QC);
    pt_mm_backward_input(a[A_Y], dq_rows, &w->wo, Nq);
    /* this layer's probabilities (not kept per layer): recomputed, output discarded */
    if (!p->recompute) pt_attn_forward(a[A_DQ], a[A_ATT], a[A_Q], a[A_K], a[A_V], &g);
    memset(a[A_DQ], 0, sizeof(float) * (size_t)Nq * QC);
    memset(a[A_DK], 0, sizeof(float) * (size_t)N * KVC);
    memset(a[A_DV], 0, sizeof(float) * (size_t)N * KVC);
    pt_attn_backward(a[A_DQ], a[A_DK], a[A_DV], pt_pass_dek(p, l), pt_pass_dev(p, l), a[A_Y],
                     a[A_ATT], a[A_Q], a[A_K], a[A_V], &g);
    if (sel)
        rope_sel(m, p, a[A_DQ], NH, -1);
    else
        rope(m, p, a[A_DQ], NH, -1);
    rope(m, p, a[A_DK], NKV, -1);
    memset(a[A_N], 0, sizeof(float) * NC);
    pt_mm_backward_input(a[A_N], a[A_DK], &w->wk, N);
    pt_mm_backward_input(a[A_N], a[A_DV], &w->wv, N);
    if (sel) { /* the queries' part, at their rows; the residual d(in) = d(mid) there */
        memset(a[A_XS2], 0, sizeof(float) * QCC);
        pt_mm_backward_input(a[A_XS2], a[A_DQ], &w->wq, Nq);
        for (int i = 0; i < Nq; i++)
            pt_add_inplace(a[A_N] + (size_t)p->sel[i] * C, a[A_XS2] + (size_t)i * C, (size_t)C);
        pt_pass_scatter(p, dres, dq_rows, C);
    } else {
        pt_mm_backward_input(a[A_N], a[A_DQ], &w->wq, N);
    }
    pt_rmsnorm_backward(dres, a[A_N], a[A_IN], pt_weight_f32(&w->attn_norm), a[A_RSTD1], N, C);
}

/* rope_scaling (HF) / rope.scaling.* (GGUF), activation, variants refused. */
pt_status pt_llama_config(pt_model_config *c, const pt_config_src *src) {
    const char *path = src->path;
    c->causal = 1;
    if (src->hf) {
        const pt_json *j = src->hf;
        const char *act = NULL;
        if (pt_json_get_str(j, "hidden_act", &act) && strcmp(act, "silu") != 0)
            return pt_fail(PT_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (silu only)",
                           path, act);
        int flag = 0;
        if (pt_json_get_bool(j, "mlp_bias", &flag) && flag)
            return pt_fail(PT_ERR_UNSUPPORTED, "%s: MLP biases (mlp_bias) are not supported", path);
        if (pt_json_get_bool(j, "use_sliding_window", &flag) && !flag)
            c->sliding_window = 0; /* Qwen2: the window is off */
        const pt_json *rs = pt_json_get(j, "rope_scaling");
        if (rs && rs->type == PT_JSON_OBJECT) {
            const char *type = NULL;
            if (!pt_json_get_str(rs, "rope_type", &type)) pt_json_get_str(rs, "type", &type);
            double factor = 1.0, lo = 1.0, hi = 4.0, orig = 8192.0;
            pt_json_get_num(rs, "factor", &factor);
            if (!type || !strcmp(type, "default")) {
                c->rope_scaling = PT_ROPE_SCALE_NONE;
            } else if (!strcmp(type, "linear")) {
                c->rope_scaling = PT_ROPE_SCALE_LINEAR;
            } else if (!strcmp(type, "llama3")) {
                c->rope_scaling = PT_ROPE_SCALE_LLAMA3;
                if (!pt_json_get_num(rs, "low_freq_factor", &lo) ||
                    !pt_json_get_num(rs, "high_freq_factor", &hi) ||
                    !pt_json_get_num(rs, "original_max_position_embeddings", &orig))
                    return pt_fail(PT_ERR_FORMAT,
                                   "%s: rope_scaling of type llama3 needs low_freq_factor, "
                                   "high_freq_factor and original_max_position_embeddings",
                                   path);
            } else {
                return pt_fail(PT_ERR_UNSUPPORTED,
                               "%s: rope_scaling of type \"%s\" is not supported (linear, llama3)",
                               path, type);
            }
            if (!(factor > 0 && factor < 1e6) || !(lo > 0 && hi > lo) || !(orig >= 1 && orig < 1e9))
                return pt_fail(PT_ERR_FORMAT, "%s: rope_scaling values out of range", path);
            c->rope_factor = (float)factor, c->rope_low_freq = (float)lo;
            c->rope_high_freq = (float)hi, c->rope_orig_max_pos = (int)orig;
        } else if (rs && rs->type != PT_JSON_NULL) {
            return pt_fail(PT_ERR_FORMAT, "%s: \"rope_scaling\" must be an object", path);
        }
    } else if (src->gguf) {
        char key[96], *arch = pt_gguf_get_string(src->gguf, "general.architecture");
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch ? arch : "llama");
        char *type = pt_gguf_get_string(src->gguf, key);
        double factor = 1.0;
        snprintf(key, sizeof key, "%s.rope.scaling.factor", arch ? arch : "llama");
        pt_gguf_get_float(src->gguf, key, &factor);
        snprintf(key, sizeof key, "%s.rope.dimension_count", arch ? arch : "llama");
        int64_t rot = c->head_dim;
        if (pt_gguf_find(src->gguf, key) && !pt_gguf_get_int(src->gguf, key, &rot)) rot = -1;
        free(arch);
        pt_status s = PT_OK;
        if (rot != c->head_dim)
            s = pt_fail(PT_ERR_UNSUPPORTED,
                        "%s: rope.dimension_count %lld != head size %d (partial RoPE)", path,
                        (long long)rot, c->head_dim);
        else if (type && !strcmp(type, "linear") && factor > 0)
            c->rope_scaling = PT_ROPE_SCALE_LINEAR, c->rope_factor = (float)factor;
        else if (type && strcmp(type, "none"))
            s = pt_fail(PT_ERR_UNSUPPORTED, "%s: RoPE scaling \"%s\" is not supported", path, type);
        free(type);
        if (s) return s;
    }
    if (c->head_dim % 2)
        return pt_fail(PT_ERR_FORMAT, "%s: head size %d must be even for RoPE", path, c->head_dim);
    if (!(c->rope_theta > 1.0f && c->rope_theta < 1e12f))
        return pt_fail(PT_ERR_FORMAT, "%s: RoPE theta %g out of range", path,
                       (double)c->rope_theta);
    return PT_OK;
}

#define CK(field, type, hf, gguf, req, dflt, lo, hi)                                               \
    { offsetof(pt_model_config, field), type, hf, gguf, req, dflt, lo, hi }
#define LW(field) offsetof(pt_layer_weights, field), #field
#define GW(field) offsetof(pt_model_weights, field), #field

static const pt_config_key KEYS[] = {
    CK(dim, PT_CK_INT, "hidden_size", "%s.embedding_length", 1, 0, 1, 1 << 16),
    CK(n_layers, PT_CK_INT, "num_hidden_layers", "%s.block_count", 1, 0, 1, 1024),
    CK(n_heads, PT_CK_INT, "num_attention_heads", "%s.attention.head_count", 1, 0, 1, 1 << 14),
    CK(n_kv_heads, PT_CK_INT, "num_key_value_heads", "%s.attention.head_count_kv", 0, 0, 0,
       1 << 14),
    CK(head_dim, PT_CK_INT, "head_dim", "%s.attention.key_length", 0, 0, 0, 1024),
    CK(ffn_dim, PT_CK_INT, "intermediate_size", "%s.feed_forward_length", 1, 0, 1, 1 << 20),
    CK(vocab_size, PT_CK_INT, "vocab_size", NULL, 1, 0, 1, 1 << 24),
    CK(max_pos, PT_CK_INT, "max_position_embeddings", "%s.context_length", 1, 0, 1, 1 << 24),
    CK(norm_eps, PT_CK_FLOAT, "rms_norm_eps", "%s.attention.layer_norm_rms_epsilon", 0, 1e-6, 1e-30,
       0.5),
    CK(rope_theta, PT_CK_FLOAT, "rope_theta", "%s.rope.freq_base", 0, 10000.0, 1.0, 1e12),
    CK(tied, PT_CK_BOOL, "tie_word_embeddings", NULL, 0, 0, 0, 1),
    CK(sliding_window, PT_CK_INT, "sliding_window", "%s.attention.sliding_window", 0, 0, 0,
       1 << 30),
};

static const pt_tensor_desc GLOBALS[] = {
    {GW(tok_embd), "model.embed_tokens.weight", "token_embd.weight", PT_D_V, PT_D_C, 0,
     PT_I_NORMAL},
    {GW(out_norm), "model.norm.weight", "output_norm.weight", PT_D_1, PT_D_C, PT_T_F32, PT_I_ONES},
    {GW(lm_head), "lm_head.weight", "output.weight", PT_D_V, PT_D_C, PT_T_OPTIONAL, PT_I_NONE},
    {GW(rope_freqs), NULL, "rope_freqs.weight", PT_D_1, PT_D_HALF_HS, PT_T_OPTIONAL | PT_T_F32,
     PT_I_NONE},
};

static const pt_tensor_desc LAYER[] = {
    {LW(attn_norm), "model.layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight", PT_D_1,
     PT_D_C, PT_T_F32, PT_I_ONES},
    {LW(wq), "model.layers.%d.self_attn.q_proj.weight", "blk.%d.attn_q.weight", PT_D_QC, PT_D_C,
     PT_T_MATRIX | PT_T_ROPE_Q, PT_I_NORMAL},
    {LW(wk), "model.layers.%d.self_attn.k_proj.weight", "blk.%d.attn_k.weight", PT_D_KVC, PT_D_C,
     PT_T_MATRIX | PT_T_ROPE_Q, PT_I_NORMAL},
    {LW(wv), "model.layers.%d.self_attn.v_proj.weight", "blk.%d.attn_v.weight", PT_D_KVC, PT_D_C,
     PT_T_MATRIX, PT_I_NORMAL},
    {LW(bq), "model.layers.%d.self_attn.q_proj.bias", "blk.%d.attn_q.bias", PT_D_1, PT_D_QC,
     PT_T_OPTIONAL | PT_T_F32, PT_I_NONE},
    {LW(bk), "model.layers.%d.self_attn.k_proj.bias", "blk.%d.attn_k.bias", PT_D_1, PT_D_KVC,
     PT_T_OPTIONAL | PT_T_F32, PT_I_NONE},
    {LW(bv), "model.layers.%d.self_attn.v_proj.bias", "blk.%d.attn_v.bias", PT_D_1, PT_D_KVC,
     PT_T_OPTIONAL | PT_T_F32, PT_I_NONE},
    {LW(wo), "model.layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight", PT_D_C,
     PT_D_QC, PT_T_MATRIX, PT_I_NORMAL},
    {LW(bo), "model.layers.%d.self_attn.o_proj.bias", "blk.%d.attn_output.bias", PT_D_1, PT_D_C,
     PT_T_OPTIONAL | PT_T_F32, PT_I_NONE},
    {LW(ffn_norm), "model.layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight",
     PT_D_1, PT_D_C, PT_T_F32, PT_I_ONES},
    {LW(w_gate), "model.layers.%d.mlp.gate_proj.weight", "blk.%d.ffn_gate.weight", PT_D_F, PT_D_C,
     PT_T_MATRIX, PT_I_NORMAL},
    {LW(w_up), "model.layers.%d.mlp.up_proj.weight", "blk.%d.ffn_up.weight", PT_D_F, PT_D_C,
     PT_T_MATRIX, PT_I_NORMAL},
    {LW(w_down), "model.layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight", PT_D_C, PT_D_F,
     PT_T_MATRIX, PT_I_NORMAL},
};

static const char *const HF_TYPES[] = {"llama", "mistral", NULL};
static const char *const HF_ARCHS[] = {"LlamaForCausalLM", "MistralForCausalLM", NULL};
static const char *const GGUF_ARCHS[] = {"llama", NULL};
static const char *const PREFIXES[] = {"", NULL};

const pt_family_desc pt_family_llama = {
    .id = PT_FAMILY_LLAMA,
    .name = "llama",
    .causal = 1,
    .hf_types = HF_TYPES,
    .hf_archs = HF_ARCHS,
    .gguf_archs = GGUF_ARCHS,
    .hf_prefixes = PREFIXES,
    .keys = KEYS,
    .n_keys = sizeof KEYS / sizeof KEYS[0],
    .globals = GLOBALS,
    .n_globals = sizeof GLOBALS / sizeof GLOBALS[0],
    .layer = LAYER,
    .n_layer = sizeof LAYER / sizeof LAYER[0],
    .acts = pt_llama_acts,
    .n_acts = PT_LLAMA_N_ACTS,
    .special = {PT_SP_BOS, PT_SP_NONE, PT_SP_BOS},
    .last_rows = 1,
    .fn =
        {
            .embed = pt_fam_embed_copy,
            .embed_backward = pt_fam_embed_copy_backward,
            .block = pt_llama_block,
            .block_backward = pt_llama_block_backward,
            .final_norm = pt_fam_final_rmsnorm,
            .final_norm_backward = pt_fam_final_rmsnorm_backward,
            .config = pt_llama_config,
        },
};
