/* model.h - one interface over the frozen model families.
 *
 *   gpt2.c   GPT-2 (Hugging Face directory: config.json + model.safetensors)
 *   bert.c   BERT masked LM
 *   llama.c  LLaMA family (GGUF or Hugging Face directory)
 *
 * Data flow of one P-tuning step (the model is frozen: no weight gradients):
 *
 *   ids (B,T) --embed--> x (B,T,C) <-- virtual-token rows spliced in by the caller
 *   x --forward--> h (n_out, C)  final hidden states (after the final norm) at
 *                                requested flat positions out_idx[i] = b*T + t
 *   h --head_forward--> logits (n_out, nr)   LM head for chosen vocab rows only
 *   dlogits --head_backward--> dh --backward--> dx (B,T,C)
 *
 * Position embeddings (GPT-2, BERT), token type 0 (BERT) and RoPE (LLaMA) are
 * applied inside forward, so virtual tokens get real positions like any token.
 */
#ifndef PT_MODELS_MODEL_H
#define PT_MODELS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ptune.h"
#include "tokenizers/tokenizer.h"

typedef enum pt_family {
    PT_FAMILY_GPT2,
    PT_FAMILY_BERT,
    PT_FAMILY_LLAMA,
} pt_family;

const char *pt_family_name(pt_family f);

typedef struct pt_model_config {
    pt_family family;
    int dim; /* C: embedding width */
    int n_layers;
    int n_heads;    /* NH */
    int n_kv_heads; /* NKV (== NH except grouped-query attention) */
    int ffn_dim;    /* hidden width of the MLP */
    int vocab_size; /* V: rows of the embedding matrix */
    int max_pos;    /* longest sequence (position table size; context length for RoPE) */
    float norm_eps;
    float rope_theta;
    int causal;      /* 1: causal LM (answer = next-token prediction), 0: masked LM */
    int has_lm_head; /* 0: checkpoint without an LM head (only --head linear) */
} pt_model_config;

typedef struct pt_model pt_model;

typedef struct pt_model_ops {
    /* Activation storage for batches up to Bmax x Tmax (allocated once). */
    pt_status (*run_new)(const pt_model *m, int Bmax, int Tmax, void **run);
    void (*run_free)(void *run);
    /* Bytes of activation storage the run holds (what run_new allocated). */
    size_t (*run_bytes)(const void *run);
    /* Forward from input embeddings x (B,T,C); len[b] valid tokens of row b
     * (right padded, 1 <= len[b] <= T). Writes h_out (n_out, C) at out_idx.
     * With need_backward the activations the backward pass needs are kept. */
    pt_status (*forward)(const pt_model *m, void *run, const float *x, const int *len, int B, int T,
                         const int *out_idx, int n_out, float *h_out, int need_backward);
    /* dx (B,T,C) = d(loss)/d(x) given dh (n_out, C) at the positions of the last
     * forward (which had need_backward). Overwrites dx. */
    pt_status (*backward)(const pt_model *m, void *run, const float *dh, float *dx);
    /* logits (n, nr) from h (n, C) for vocab rows rows[0..nr); rows == NULL
     * means all V rows in order (nr == V). */
    void (*head_forward)(const pt_model *m, void *run, float *logits, const float *h, int n,
                         const int *rows, int nr);
    /* dh (n, C) += d(logits)/d(h)^T dlogits. */
    void (*head_backward)(const pt_model *m, void *run, float *dh, const float *dlogits,
                          const float *h, int n, const int *rows, int nr);
    void (*free_impl)(pt_model *m);

    /* Incremental decoding with a key/value cache (causal families; NULL for
     * BERT). One cache holds one sequence of at most Tmax tokens (allocated
     * once in cache_new). decode appends n input embeddings x (n, C) at
     * positions pos .. pos+n-1 (pos = tokens already cached) and writes the
     * final hidden state (after the final norm) of the last appended row into
     * h_last (C); error if pos + n would exceed Tmax. cache_reset truncates
     * the cache back to its first pos tokens (0 <= pos <= current length), so
     * a shared prefix is decoded once and reused. */
    pt_status (*cache_new)(const pt_model *m, int Tmax, void **cache);
    void (*cache_free)(void *cache);
    pt_status (*decode)(const pt_model *m, void *cache, const float *x, int n, float *h_last);
    void (*cache_reset)(void *cache, int pos);
    /* Replace the big matrices of the blocks by bf16 copies (see
     * pt_model_set_precision); NULL: the family has no bf16 mode. */
    pt_status (*to_bf16)(pt_model *m);
} pt_model_ops;

struct pt_model {
    pt_model_config cfg;
    const pt_model_ops *ops;
    pt_tokenizer *tok; /* NULL when the model came without a tokenizer */
    char *path;
    const float *wte;     /* (V, C) input word embeddings, float32 */
    int64_t n_params;     /* parameter count of the frozen model */
    char dtype[16];       /* storage dtype of the weights file ("F32", "BF16", ...) */
    void *impl;           /* family weights */
    int bf16;             /* 1: the blocks' big matrices hold bf16 (uint16_t) data behind their
                             float pointers: use them through pt_mu_matmul_* (model_util.h) */
    char fingerprint[17]; /* pt_model_fingerprint's value once computed, else "" */
    int recompute;        /* 1: runs made from now on keep only each block's input for backward
                             and recompute the rest there (see pt_model_set_recompute) */
};

/* Load a model from a Hugging Face directory (config.json + model.safetensors),
 * a .safetensors file with config.json beside it, or a .gguf file. */
pt_status pt_model_load(pt_model **out, const char *path);
void pt_model_free(pt_model *m);
/* Precision of the frozen weights: bf16 != 0 converts the big matrices of every
 * block (attention and MLP projections) in place to bf16, halving their memory;
 * products then take bf16 weights with float32 inputs and accumulation, and
 * everything else (embeddings, norms, LM head) stays float32. One way only:
 * float32 after bf16 is refused (the rounding is done). On an error the model
 * may be half converted: free it. */
pt_status pt_model_set_precision(pt_model *m, int bf16);

/* Activation memory of training runs (forward with need_backward) created
 * after this call: on != 0 keeps only each block's input during the forward
 * pass and recomputes the block (up to its last product, which backward does
 * not need) just before its backward. Gradients are bit-identical; activation
 * memory drops to about one block's worth plus the L inputs, for about a third
 * more arithmetic per step. Off by default. */
void pt_model_set_recompute(pt_model *m, int on);

/* Load only the tokenizer of a model path (directory, .safetensors beside its
 * config, or .gguf) and tell its family. */
pt_status pt_model_load_tokenizer(const char *path, pt_tokenizer **tok, pt_family *fam);

/* out (n, C) = word embeddings of ids (no positions). Errors on ids out of range. */
pt_status pt_model_embed(const pt_model *m, float *out, const int *ids, int n);
/* 64-bit FNV-1a over the little-endian float32 bytes of the (V, C) word
 * embedding matrix, as 16 lowercase hex digits. Computed on the first call and
 * kept in the model (not safe to call first from two threads at once). */
void pt_model_fingerprint(const pt_model *m, char hex[17]);

/* family loaders used by pt_model_load (dir holds config.json and the
 * tokenizer files; st_path is the safetensors weights file) */
pt_status pt_gpt2_load(pt_model **out, const char *dir, const char *st_path);
pt_status pt_bert_load(pt_model **out, const char *dir, const char *st_path);
pt_status pt_llama_load_hf(pt_model **out, const char *dir, const char *st_path);
pt_status pt_llama_load_gguf(pt_model **out, const char *gguf_path);

/* A model of cfg's family and shape with random weights, built in memory (no
 * tokenizer): matrices and embeddings N(0, 0.02), biases 0, norm weights 1,
 * deterministic in seed. Used by `ptune bench`. cfg->norm_eps and
 * cfg->rope_theta <= 0 take the family defaults; cfg->causal and has_lm_head
 * follow the family. GPT-2 needs ffn_dim == 4 * dim. */
pt_status pt_model_random(pt_model **out, const pt_model_config *cfg, uint64_t seed);
pt_status pt_gpt2_random(pt_model **out, const pt_model_config *cfg, uint64_t seed);

#endif
