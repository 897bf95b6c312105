/* model.h - the frozen model: one interface over every family.
 *
 * A family (GPT-2, BERT, RoBERTa, LLaMA incl. Mistral and LLaMA-3, Qwen2) is
 * one description table (family.h: tensor names in Hugging Face and GGUF
 * files, shapes in terms of the config, config keys, special tokens) and one
 * block function used by the training forward, the recompute path and
 * key/value-cache decoding. Everything else here is shared: the loaders, the
 * random constructor, precision conversion, activation memory, the layer
 * loop, recomputation, decoding.
 *
 * Data flow of one P-tuning step (the model is frozen: no weight gradients):
 *
 *   ids --embed--> x (rows, C) <-- virtual-token rows spliced in by the caller
 *   x --pt_model_forward--> h (n_out, C)  final hidden states (after the final
 *                                          norm) at the requested rows
 *   h --pt_model_head_forward--> logits (n_out, nr)  LM head, chosen vocab rows only
 *   dlogits --head_backward--> dh --pt_model_backward--> dx
 *
 * Positions (learned tables, RoPE) are applied inside forward, so virtual
 * tokens get real positions like any token.
 */
#ifndef PT_MODELS_MODEL_H
#define PT_MODELS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/weight.h"
#include "ptune.h"
#include "tokenizers/tokenizer.h"

typedef enum pt_family {
    PT_FAMILY_GPT2,
    PT_FAMILY_BERT,
    PT_FAMILY_LLAMA, /* LLaMA 1/2/3, Mistral */
    PT_FAMILY_ROBERTA,
    PT_FAMILY_QWEN2,
    PT_FAMILY_COUNT
} pt_family;

const char *pt_family_name(pt_family f);

enum { PT_ACT_GELU_TANH, PT_ACT_GELU_ERF, PT_ACT_SILU };
enum { PT_ROPE_SCALE_NONE, PT_ROPE_SCALE_LINEAR, PT_ROPE_SCALE_LLAMA3 };

typedef struct pt_model_config {
    pt_family family;
    char arch[32]; /* what the file called it: model_type ("mistral") or GGUF architecture */
    int dim;       /* C: embedding width */
    int n_layers;
    int n_heads;    /* NH */
    int n_kv_heads; /* NKV (== NH except grouped-query attention) */
    int head_dim;   /* HS (C / NH unless the config says otherwise) */
    int ffn_dim;    /* F: hidden width of the MLP */
    int vocab_size; /* V: rows of the embedding matrix */
    int max_pos;    /* longest sequence (position table size; context length for RoPE) */
    int type_vocab; /* BERT token types */
    int pos_offset; /* first position id (RoBERTa: padding_idx + 1) */
    float norm_eps;
    int act; /* PT_ACT_*: the MLP's activation */
    /* RoPE */
    float rope_theta;
    int rope_scaling; /* PT_ROPE_SCALE_* */
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_max_pos;
    int rope_interleaved; /* 1: Q/K rows stored permuted for adjacent-pair RoPE (llama.cpp) */
    int sliding_window;   /* 0: none; else attention is exact only below it (longer refused) */
    int tied;             /* LM head = input embeddings */
    int causal;           /* 1: causal LM (answer = next-token prediction), 0: masked LM */
    int has_lm_head;      /* 0: checkpoint without an LM head (only --head linear) */
} pt_model_config;

/* Weights by role; a family uses the fields its table names (the others stay
 * empty). Matrices are W (out, in), row-major, as nn.Linear stores them. */
typedef struct pt_layer_weights {
    pt_weight attn_norm, attn_norm_b; /* LLaMA input_layernorm; GPT-2 ln_1; BERT attention LN */
    pt_weight wqkv, bqkv;             /* fused (GPT-2 c_attn, transposed on load) */
    pt_weight wq, wk, wv, bq, bk, bv; /* (QC, C), (KVC, C), (KVC, C) and biases */
    pt_weight wo, bo;                 /* (C, QC) */
    pt_weight ffn_norm, ffn_norm_b; /* LLaMA post_attention_layernorm; GPT-2 ln_2; BERT output LN */
    pt_weight w_gate, w_up, b_up;   /* (F, C); GPT-2 / BERT use w_up as their first MLP matrix */
    pt_weight w_down, b_down;       /* (C, F) */
} pt_layer_weights;

typedef struct pt_model_weights {
    pt_weight tok_embd;               /* (V, C) */
    pt_weight pos_embd;               /* (maxT, C) learned positions */
    pt_weight type_embd;              /* (types, C) BERT token types (row 0 used) */
    pt_weight embd_norm, embd_norm_b; /* BERT embeddings LayerNorm */
    pt_weight out_norm, out_norm_b;   /* final norm (GPT-2 ln_f, LLaMA norm) */
    pt_weight lm_head;                /* (V, C) untied output matrix; empty: tied to tok_embd */
    /* masked-LM head (BERT cls.predictions, RoBERTa lm_head) */
    pt_weight mlm_dense, mlm_dense_b, mlm_norm, mlm_norm_b, mlm_bias;
    pt_weight rope_freqs;     /* (HS/2) GGUF frequency factors (LLaMA-3 scaling), or empty */
    pt_layer_weights *layers; /* [L] */
} pt_model_weights;

typedef struct pt_family_desc pt_family_desc;
typedef struct pt_model pt_model;

struct pt_model {
    pt_model_config cfg;
    const pt_family_desc *fam;
    pt_tokenizer *tok; /* NULL when the model came without a tokenizer */
    char *path;
    pt_model_weights w;
    float *inv_freq;  /* (HS/2) RoPE inverse frequencies, scaling applied (NULL without RoPE) */
    int64_t n_params; /* parameter count of the frozen model */
    char dtype[16];   /* storage type of the block matrices as loaded ("F32", "Q4_K", ...) */
    int n_files;      /* files whose mappings the weights point into */
    void **files;     /* (pt_st_file * or pt_gguf *), closed by pt_model_free */
    int *file_kinds;
    int bf16;                 /* 1 after pt_model_set_precision(m, 1) */
    char fingerprint[17];     /* pt_model_fingerprint's value once computed, else "" */
    char fingerprint_old[17]; /* the same with the wrong offset basis of ptune 0.1 */
    char missing[320];        /* loading: the first LM-head tensor found missing */
    int recompute;            /* 1: runs made from now on keep only each block's input for backward
                                 and recompute the rest there (see pt_model_set_recompute) */
};

/* Load a model: a Hugging Face directory (config.json + model.safetensors or
 * a sharded model.safetensors.index.json, tokenizer files), a .safetensors
 * file with config.json beside it, or a .gguf file. Float weights are
 * converted to float32 (pt_model_set_precision changes that); quantized GGUF
 * weights stay quantized in the file mapping. */
pt_status pt_model_load(pt_model **out, const char *path);
/* The same without the float32 conversion: every weight as stored. */
pt_status pt_model_open(pt_model **out, const char *path);
void pt_model_free(pt_model *m);
/* Precision of the frozen block matrices: bf16 != 0 keeps them (and converts
 * float32/float16 ones) in bf16, halving their memory; 0 converts float16 and
 * bfloat16 matrices to float32. Quantized matrices are never touched.
 * Embeddings, norms, biases and the LM head stored in f16 or bf16 become
 * float32 either way (so pt_model_open + bf16 equals pt_model_load + bf16,
 * without the float32 copy of the matrices). Float32 after
 * bf16 is refused (the rounding is done). */
pt_status pt_model_set_precision(pt_model *m, int bf16);
/* 1 when some block matrix is quantized. */
int pt_model_is_quantized(const pt_model *m);
/* Activation memory of training runs created after this call (see README). */
void pt_model_set_recompute(pt_model *m, int on);
/* Load only the tokenizer of a model path and tell its family. */
pt_status pt_model_load_tokenizer(const char *path, pt_tokenizer **tok, pt_family *fam);
/* Weight memory: bytes the model owns (heap) and bytes it maps from files. */
void pt_model_memory(const pt_model *m, size_t *owned, size_t *mapped);
/* Weights of each element type (pt_wtype) as loaded: count[t] tensors,
 * bytes[t] bytes of their data (owned or mapped); arrays of PT_WT_COUNT. */
void pt_model_type_mix(const pt_model *m, int *count, size_t *bytes);
/* First non-finite weight (NULL when every weight is finite): its role name. */
const char *pt_model_check_finite(const pt_model *m, int *layer);

/* out (n, C) = word embeddings of ids (no positions). Errors on ids out of range. */
pt_status pt_model_embed(const pt_model *m, float *out, const int *ids, int n);
/* 64-bit FNV-1a over the little-endian float32 bytes of the (V, C) word
 * embedding matrix, as 16 lowercase hex digits. Computed on the first call
 * and kept (thread-safe). */
void pt_model_fingerprint(const pt_model *m, char hex[17]);

/* The fingerprint as ptune 0.1 computed it (FNV offset basis missing its
 * last digit, 1469598103934665603): prompt files written then carry it. */
void pt_model_fingerprint_old(const pt_model *m, char hex[17]);

/* Special tokens the family puts around a text (BERT [CLS] .. [SEP], LLaMA
 * BOS, ...), as the tokenizer and its config files say: -1 for none. */
void pt_model_specials(const pt_model *m, int *begin, int *end);
/* The same for a tokenizer of family f (no model loaded). */
void pt_family_specials(pt_family f, const pt_tokenizer *tok, int *begin, int *end);
/* The token generation starts from when there is no text (BOS, GPT-2's
 * <|endoftext|>), -1 if none. */
int pt_model_start_token(const pt_model *m);

/* ---- running the model ---- */

typedef struct pt_run pt_run;

/* Activation storage for batches of up to Bmax sequences of up to Tmax rows
 * (allocated once). */
pt_status pt_run_new(const pt_model *m, int Bmax, int Tmax, pt_run **out);
void pt_run_free(pt_run *r);
/* Bytes of activation storage the run holds. */
size_t pt_run_bytes(const pt_run *r);

/* Forward from input embeddings x (B, T, C); len[b] valid rows of sequence b
 * (right padded, 1 <= len[b] <= T). Writes h_out (n_out, C) at the flat
 * positions out_idx[i] = b*T + t. With need_backward the activations the
 * backward pass needs are kept. */
pt_status pt_model_forward(const pt_model *m, pt_run *r, const float *x, const int *len, int B,
                           int T, const int *out_idx, int n_out, float *h_out, int need_backward);
/* dx (B, T, C) = d(loss)/d(x) given dh (n_out, C) at the positions of the
 * last forward (which had need_backward); zero at padding. Overwrites dx. */
pt_status pt_model_backward(const pt_model *m, pt_run *r, const float *dh, float *dx);

/* logits (n, nr) from h (n, C) for vocab rows rows[0..nr); rows == NULL
 * means all V rows in order (nr == V). r may be NULL (scratch is then
 * allocated by the call). */
pt_status pt_model_head_forward(const pt_model *m, pt_run *r, float *logits, const float *h, int n,
                                const int *rows, int nr);
/* dh (n, C) += d(logits)/d(h)^T dlogits. */
pt_status pt_model_head_backward(const pt_model *m, pt_run *r, float *dh, const float *dlogits,
                                 const float *h, int n, const int *rows, int nr);

/* Incremental decoding with a key/value cache (causal families). One cache
 * holds one sequence of at most Tmax tokens. pt_cache_decode appends n input
 * embeddings x (n, C) at positions pos .. pos+n-1 (pos = tokens cached) and
 * writes the final hidden state of the last appended row into h_last (C);
 * error if pos + n would exceed Tmax. pt_cache_reset truncates the cache to
 * its first pos tokens, so a shared prefix is decoded once and reused. */
typedef struct pt_cache pt_cache;
pt_status pt_cache_new(const pt_model *m, int Tmax, pt_cache **out);
void pt_cache_free(pt_cache *c);
pt_status pt_cache_decode(const pt_model *m, pt_cache *c, const float *x, int n, float *h_last);
void pt_cache_reset(pt_cache *c, int pos);
int pt_cache_len(const pt_cache *c);
/* Append n rows of keys and values as they are (no RoPE), each row in a deep
 * prompt's layout (L, 2, KVC): the cache then starts with a deep prompt. */
pt_status pt_cache_put(const pt_model *m, pt_cache *c, const float *kv, int n);

/* A model of cfg's family and shape with random weights built in memory (no
 * tokenizer): matrices and embeddings N(0, 0.02), biases 0, norm weights 1,
 * deterministic in seed. Used by `ptune bench` and tests. cfg->norm_eps and
 * cfg->rope_theta <= 0 take the family defaults; head_dim 0 means C / NH. */
pt_status pt_model_random(pt_model **out, const pt_model_config *cfg, uint64_t seed);

#endif
