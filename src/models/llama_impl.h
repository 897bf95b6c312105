/* llama_impl.h - LLaMA weights shared by the loaders (llama_load.c) and the
 * forward/backward passes (llama.c). Internal to src/models.
 *
 * Dimension letters: C model width, L layers, NH query heads, NKV key/value
 * heads, HS = C / NH head size, KVC = NKV * HS, F MLP hidden width, V vocab.
 * All matrices are row-major "W (OC, IC)" as in Hugging Face nn.Linear, and
 * Q/K rows are in Hugging Face order (rotate_half RoPE); the GGUF loader
 * undoes llama.cpp's interleaving permutation.
 */
#ifndef PT_MODELS_LLAMA_IMPL_H
#define PT_MODELS_LLAMA_IMPL_H

#include "models/model.h"

typedef struct llama_layer {
    float *attn_norm; // (C)
    float *wq;        // (C, C)    rows = NH heads of HS
    float *wk;        // (KVC, C)
    float *wv;        // (KVC, C)
    float *wo;        // (C, C)
    float *ffn_norm;  // (C)
    float *w_gate;    // (F, C)
    float *w_up;      // (F, C)
    float *w_down;    // (C, F)
} llama_layer;

typedef struct llama_weights {
    float *tok_embd;     // (V, C)
    llama_layer *layers; // [L]
    float *norm;         // (C) final RMSNorm
    float *out;          // (V, C) LM head; == tok_embd when tied
    int tied;
} llama_weights;

/* The table of functions behind pt_model (llama.c). */
extern const pt_model_ops pt_llama_ops;

/* Key/value cache and incremental decoding (llama_decode.c). */
pt_status pt_llama_cache_new(const pt_model *m, int Tmax, void **cache);
void pt_llama_cache_free(void *cache);
pt_status pt_llama_decode(const pt_model *m, void *cache, const float *x, int n, float *h_last);
void pt_llama_cache_reset(void *cache, int pos);

/* Check the configuration for sane, consistent sizes (src names the file). */
pt_status pt_llama_check_config(const pt_model_config *c, const char *src);
/* Free the weights (any pointer may be NULL). */
void pt_llama_weights_free(llama_weights *w, int n_layers);

#endif
