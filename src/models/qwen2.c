/* qwen2.c - Qwen2 (Qwen2ForCausalLM; GGUF architecture "qwen2"): the LLaMA
 * block (llama.c) with biases on the query, key and value projections, an
 * explicit head_dim, usually tied embeddings, no BOS token, and GGUF Q/K
 * rows stored in Hugging Face order (llama.cpp's NEOX RoPE). */
#include <stddef.h>

#include "formats/json.h"
#include "models/family.h"

/* LLaMA's checks, then the sliding window: Qwen2 uses it only when
 * use_sliding_window is true (its default is false). */
static pt_status qwen2_config(pt_model_config *c, const pt_config_src *src) {
    pt_status s = pt_llama_config(c, src);
    if (s) return s;
    int on = 0;
    if (!src->hf || !pt_json_get_bool(src->hf, "use_sliding_window", &on) || !on)
        c->sliding_window = 0;
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
    CK(sliding_window, PT_CK_INT, "sliding_window", NULL, 0, 0, 0, 1 << 30),
};

static const pt_tensor_desc GLOBALS[] = {
    {GW(tok_embd), "model.embed_tokens.weight", "token_embd.weight", PT_D_V, PT_D_C, 0,
     PT_I_NORMAL},
    {GW(out_norm), "model.norm.weight", "output_norm.weight", PT_D_1, PT_D_C, PT_T_F32, PT_I_ONES},
    {GW(lm_head), "lm_head.weight", "output.weight", PT_D_V, PT_D_C, PT_T_OPTIONAL, PT_I_NONE},
};

#define PROJ(n, wf, bf, rows)                                                                      \
    {LW(wf),                                                                                       \
     "model.layers.%d.self_attn." n "_proj.weight",                                                \
     "blk.%d.attn_" n ".weight",                                                                   \
     rows,                                                                                         \
     PT_D_C,                                                                                       \
     PT_T_MATRIX,                                                                                  \
     PT_I_NORMAL},                                                                                 \
    {                                                                                              \
        LW(bf), "model.layers.%d.self_attn." n "_proj.bias", "blk.%d.attn_" n ".bias", PT_D_1,     \
            rows, PT_T_F32, PT_I_ZEROS                                                             \
    }

static const pt_tensor_desc LAYER[] = {
    {LW(attn_norm), "model.layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight", PT_D_1,
     PT_D_C, PT_T_F32, PT_I_ONES},
    PROJ("q", wq, bq, PT_D_QC),
    PROJ("k", wk, bk, PT_D_KVC),
    PROJ("v", wv, bv, PT_D_KVC),
    {LW(wo), "model.layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight", PT_D_C,
     PT_D_QC, PT_T_MATRIX, PT_I_NORMAL},
    {LW(ffn_norm), "model.layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight",
     PT_D_1, PT_D_C, PT_T_F32, PT_I_ONES},
    {LW(w_gate), "model.layers.%d.mlp.gate_proj.weight", "blk.%d.ffn_gate.weight", PT_D_F, PT_D_C,
     PT_T_MATRIX, PT_I_NORMAL},
    {LW(w_up), "model.layers.%d.mlp.up_proj.weight", "blk.%d.ffn_up.weight", PT_D_F, PT_D_C,
     PT_T_MATRIX, PT_I_NORMAL},
    {LW(w_down), "model.layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight", PT_D_C, PT_D_F,
     PT_T_MATRIX, PT_I_NORMAL},
};

static const char *const HF_TYPES[] = {"qwen2", NULL};
static const char *const HF_ARCHS[] = {"Qwen2ForCausalLM", NULL};
static const char *const GGUF_ARCHS[] = {"qwen2", NULL};
static const char *const PREFIXES[] = {"", NULL};

const pt_family_desc pt_family_qwen2 = {
    .id = PT_FAMILY_QWEN2,
    .name = "qwen2",
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
    .special = {PT_SP_NONE, PT_SP_NONE, PT_SP_EOS},
    .last_rows = 1,
    .fn =
        {
            .embed = pt_fam_embed_copy,
            .embed_backward = pt_fam_embed_copy_backward,
            .block = pt_llama_block,
            .block_backward = pt_llama_block_backward,
            .final_norm = pt_fam_final_rmsnorm,
            .final_norm_backward = pt_fam_final_rmsnorm_backward,
            .config = qwen2_config,
        },
};
