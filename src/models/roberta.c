/* roberta.c - RoBERTa masked LM (Liu et al. 2019; the P-tuning paper's
 * strongest NLU model): BERT's block and MLM head (bert.c) under its own
 * names, position ids offset by padding_idx + 1, one token type, and the
 * decoder tied to the word embeddings. */
#include <stddef.h>

#include "core/error.h"
#include "formats/json.h"
#include "models/family.h"

/* Position ids start at padding_idx + 1 (Hugging Face's
 * create_position_ids_from_inputs_embeds); max_position_embeddings counts
 * those offset rows too. */
static pt_status roberta_config(pt_model_config *c, const pt_config_src *src) {
    pt_status s = pt_bert_config(c, src);
    if (s) return s;
    int pad = 1;
    if (src->hf && pt_json_get(src->hf, "pad_token_id") &&
        !pt_json_get_int(src->hf, "pad_token_id", &pad))
        return pt_fail(PT_ERR_FORMAT, "%s: \"pad_token_id\" must be an integer", src->path);
    if (pad < 0 || pad + 2 >= c->max_pos)
        return pt_fail(PT_ERR_FORMAT, "%s: pad_token_id %d leaves no positions of %d", src->path,
                       pad, c->max_pos);
    c->pos_offset = pad + 1;
    c->max_pos -= c->pos_offset; /* usable positions */
    return PT_OK;
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
    CK(max_pos, PT_CK_INT, "max_position_embeddings", NULL, 1, 0, 3, 1 << 20),
    CK(vocab_size, PT_CK_INT, "vocab_size", NULL, 1, 0, 1, 1 << 24),
    CK(type_vocab, PT_CK_INT, "type_vocab_size", NULL, 0, 1, 1, 1 << 16),
    CK(norm_eps, PT_CK_FLOAT, "layer_norm_eps", NULL, 0, 1e-5, 1e-30, 0.5),
};

#define LN(base, wf, bf, fl)                                                                       \
    {LW(wf), base ".weight", NULL, PT_D_1, PT_D_C, PT_T_F32 | (fl), PT_I_ONES}, {                  \
        LW(bf), base ".bias", NULL, PT_D_1, PT_D_C, PT_T_F32 | (fl), PT_I_ZEROS                    \
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
    {GW(embd_norm), "embeddings.LayerNorm.weight", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ONES},
    {GW(embd_norm_b), "embeddings.LayerNorm.bias", NULL, PT_D_1, PT_D_C, PT_T_F32, PT_I_ZEROS},
    {GW(mlm_dense), "lm_head.dense.weight", NULL, PT_D_C, PT_D_C, PT_T_HEAD | PT_T_OPTIONAL,
     PT_I_NORMAL},
    {GW(mlm_dense_b), "lm_head.dense.bias", NULL, PT_D_1, PT_D_C,
     PT_T_HEAD | PT_T_OPTIONAL | PT_T_F32, PT_I_ZEROS},
    {GW(mlm_norm), "lm_head.layer_norm.weight", NULL, PT_D_1, PT_D_C,
     PT_T_HEAD | PT_T_OPTIONAL | PT_T_F32, PT_I_ONES},
    {GW(mlm_norm_b), "lm_head.layer_norm.bias", NULL, PT_D_1, PT_D_C,
     PT_T_HEAD | PT_T_OPTIONAL | PT_T_F32, PT_I_ZEROS},
    {GW(mlm_bias), "lm_head.bias|lm_head.decoder.bias", NULL, PT_D_1, PT_D_V,
     PT_T_HEAD | PT_T_OPTIONAL | PT_T_F32, PT_I_ZEROS},
    {GW(lm_head), "lm_head.decoder.weight", NULL, PT_D_V, PT_D_C, PT_T_OPTIONAL, PT_I_NONE},
};

static const pt_tensor_desc LAYER[] = {
    LIN("encoder.layer.%d.attention.self.query", wq, bq, PT_D_C, PT_D_C),
    LIN("encoder.layer.%d.attention.self.key", wk, bk, PT_D_C, PT_D_C),
    LIN("encoder.layer.%d.attention.self.value", wv, bv, PT_D_C, PT_D_C),
    LIN("encoder.layer.%d.attention.output.dense", wo, bo, PT_D_C, PT_D_C),
    LN("encoder.layer.%d.attention.output.LayerNorm", attn_norm, attn_norm_b, 0),
    LIN("encoder.layer.%d.intermediate.dense", w_up, b_up, PT_D_F, PT_D_C),
    LIN("encoder.layer.%d.output.dense", w_down, b_down, PT_D_C, PT_D_F),
    LN("encoder.layer.%d.output.LayerNorm", ffn_norm, ffn_norm_b, 0),
};

static const char *const HF_TYPES[] = {"roberta", NULL};
static const char *const HF_ARCHS[] = {"RobertaForMaskedLM", "RobertaModel", NULL};
static const char *const PREFIXES[] = {"roberta.", "", NULL};

const pt_family_desc pt_family_roberta = {
    .id = PT_FAMILY_ROBERTA,
    .name = "roberta",
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
    .head_scratch = 8,
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
            .config = roberta_config,
        },
};
