/* family.h - what a model family is: one description table and one block.
 *
 * Adding a family means writing one pt_family_desc (its tensors with their
 * Hugging Face and GGUF names and shapes, its config keys, its special
 * tokens, its activation sizes) and its block function (often an existing
 * one), then listing it in family.c. The loaders (load_hf.c, load_gguf.c),
 * the random constructor (random.c), precision conversion and freeing
 * (model.c), activation memory and the layer loop (run.c) and decoding
 * (decode.c) are driven by the table.
 *
 * Dimension letters: C width, L layers, NH heads, NKV key/value heads, HS
 * head size, QC = NH*HS, KVC = NKV*HS, F MLP width, V vocab, N rows of a
 * forward pass (all sequences packed, no padding), E earlier rows.
 */
#ifndef PT_MODELS_FAMILY_H
#define PT_MODELS_FAMILY_H

#include <stddef.h>

#include "models/model.h"

/* ---- tensors ---- */

/* Symbolic sizes, resolved against the config (pt_dim_value). */
typedef enum pt_dim {
    PT_D_1 = 0, /* 1 (vectors: rows = PT_D_1) */
    PT_D_C,
    PT_D_QC,
    PT_D_KVC,
    PT_D_3C,
    PT_D_F,
    PT_D_V,
    PT_D_POS,   /* position table: max_pos + pos_offset */
    PT_D_TYPES, /* token types */
    PT_D_HALF_HS,
} pt_dim;

enum {
    PT_T_OPTIONAL = 1 << 0, /* may be absent */
    PT_T_F32 = 1 << 1,      /* always held as float32 (norms, biases, position tables) */
    PT_T_CONV1D = 1 << 2,   /* HF stores it (cols, rows): transposed at load (GPT-2 Conv1D) */
    PT_T_MATRIX = 1 << 3,   /* a block product weight: precision and quantization apply */
    PT_T_ROPE_Q = 1 << 4,   /* GGUF rows permuted for adjacent-pair RoPE (llama.cpp's LLaMA) */
    PT_T_HEAD = 1 << 5,     /* part of the LM head: its absence means "no LM head" */
};

/* Random-model initialization (Hugging Face's): N(0, 0.02), ones, zeros. */
typedef enum pt_init { PT_I_NORMAL, PT_I_ONES, PT_I_ZEROS, PT_I_NONE } pt_init;

typedef struct pt_tensor_desc {
    size_t off;       /* offsetof(pt_model_weights or pt_layer_weights, field) */
    const char *role; /* field name, for messages */
    const char *hf;   /* Hugging Face name ("%d" = layer), alternatives separated by '|';
                         NULL: never in HF files */
    const char *gguf; /* GGUF name, NULL: never in GGUF files */
    pt_dim rows, cols;
    unsigned flags;
    pt_init init;
} pt_tensor_desc;

/* ---- config keys ---- */

typedef enum pt_ckey_type { PT_CK_INT, PT_CK_FLOAT, PT_CK_BOOL } pt_ckey_type;

typedef struct pt_config_key {
    size_t off;          /* offsetof(pt_model_config, field) */
    pt_ckey_type type;   /* int and bool fields are int, float fields float */
    const char *hf;      /* config.json key, alternatives separated by '|'; NULL: none */
    const char *gguf;    /* GGUF key, "%s" = the architecture ("%s.block_count"); NULL: none */
    int required;        /* 1: error when absent (else dflt) */
    double dflt, lo, hi; /* default; accepted range [lo, hi] */
} pt_config_key;

/* Where the config comes from, for a family's own checks. */
typedef struct pt_config_src {
    const struct pt_json *hf; /* config.json root, or NULL */
    const struct pt_gguf *gguf;
    const char *path; /* for messages */
} pt_config_src;

/* ---- special tokens ---- */

enum { PT_SP_NONE, PT_SP_BOS, PT_SP_CLS, PT_SP_SEP, PT_SP_EOS };

typedef struct pt_special_policy {
    int begin, end; /* PT_SP_*: what goes before and after a text by default (the
                       tokenizer's add_bos/add_eos, when its files state them, win) */
    int start;      /* generation without text starts from this (PT_SP_BOS: BOS,
                       else EOS as GPT-2 does with <|endoftext|>) */
} pt_special_policy;

/* ---- activations: the size table ---- */

enum {
    PT_A_KEEP = 1 << 0,  /* kept per layer for backward (one shared slot when recomputing) */
    PT_A_LAYER = 1 << 1, /* kept per layer whenever backward is needed (block inputs) */
    PT_A_ATT = 1 << 2,   /* attention probabilities: NH * (E + Tmax) floats per row */
};

typedef struct pt_act_desc {
    int id;         /* index into the slot array the block receives */
    pt_dim width;   /* floats per row (PT_D_1: mult floats) */
    int mult;       /* multiplier of width */
    unsigned flags; /* PT_A_*; neither KEEP nor LAYER: scratch, one slot */
    const char *name;
} pt_act_desc;

#define PT_MAX_ACTS 24
#define PT_ACT_IN 0 /* slot 0 is always the block's input (N, C), PT_A_LAYER */

/* ---- one forward pass ---- */

/* The rows of a pass: B sequences packed one after the other (sequence b is
 * rows start[b] .. start[b] + len[b]), each row at a position; keys/values
 * of earlier rows of each sequence may be given (a cache) and the pass's own
 * keys/values may be stored (to fill one). */
typedef struct pt_pass {
    int B, N;
    const int *start, *len; /* (B) */
    const int *pos;         /* (N) position of every row (0-based, before pos_offset) */
    int T;         /* most rows of a sequence: the height of att blocks (set by the driver) */
    int keep;      /* 1: keep activations for backward */
    int recompute; /* 1: this run keeps only PT_A_LAYER slots per layer */
    /* earlier keys/values of every layer: layer l, sequence b, row j at
     * ek + l*e_lstride + b*e_bstride + j*e_stride (e_bstride 0: shared by
     * all, e_stride 0: KVC); with dek, dev (same layout) their gradients
     * accumulate there in backward (deep prompts) */
    const float *ek, *ev;
    float *dek, *dev;
    size_t e_lstride, e_bstride;
    int e_stride;
    const int *elen; /* (B) earlier rows (NULL: none) */
    int E;           /* max of elen */
    /* store this pass's keys/values (N, KVC) of layer l at kv_out_k + l*kv_out_lstride */
    float *kv_out_k, *kv_out_v;
    size_t kv_out_lstride;
    /* The last block's output at these rows only (the final norm's; sorted,
     * unique), after its keys and values of every row: sel (n_sel) rows;
     * sel_qstart, sel_qlen (B) where each sequence's are in sel; sel_qidx
     * (n_sel) their index within the sequence; sel_pos (n_sel) positions.
     * sel NULL: the last block runs at every row (as the others). */
    const int *sel, *sel_qstart, *sel_qlen, *sel_qidx, *sel_pos;
    int n_sel, sel_Tq;
} pt_pass;

/* Layer l's slice of the earlier keys' and values' gradients (NULL: none). */
static inline float *pt_pass_dek(const struct pt_pass *p, int l) {
    return p->dek ? p->dek + (size_t)l * p->e_lstride : NULL;
}
static inline float *pt_pass_dev(const struct pt_pass *p, int l) {
    return p->dev ? p->dev + (size_t)l * p->e_lstride : NULL;
}

/* 1 when block l of pass p computes its output at p->sel only. */
static inline int pt_pass_sel(const pt_model *m, const pt_pass *p, int l);

enum {
    PT_BLOCK_FULL = 0,  /* the whole block, output written */
    PT_BLOCK_RECOMPUTE, /* refill the kept slots for backward; may stop before the last product */
};

/* The attention geometry of layer l of a pass (kernels/attention.h). */
struct pt_attn_geom;
void pt_pass_attn_geom(const pt_model *m, const pt_pass *p, int l, struct pt_attn_geom *g);
/* The attention geometry of the last block's selected queries (q rows compact). */
void pt_pass_sel_geom(const pt_model *m, const pt_pass *p, int l, struct pt_attn_geom *g);
/* dst (n_sel, C) = rows p->sel of src (N, C); dst may be src (compacted in place). */
void pt_pass_gather(const pt_pass *p, float *dst, const float *src, int C);
/* dst rows p->sel (N, C) = src (n_sel, C); dst may be src (expanded in place). */
void pt_pass_scatter(const pt_pass *p, float *dst, const float *src, int C);
/* Copy this layer's keys and values to the pass's store, if it has one. */
void pt_pass_store_kv(const pt_model *m, const pt_pass *p, int l, const float *k, const float *v,
                      int k_stride);

/* The pieces of a family that are code. a[] holds the layer's activation
 * slots (a[PT_ACT_IN] = the block's input x (N, C)); x_out (N, C) may alias x
 * (a block reads its input only before writing its output). */
typedef struct pt_family_fns {
    /* x_emb (N, C) -> a0 (N, C), the first block's input (positions, types, norm) */
    void (*embed)(const pt_model *m, const pt_pass *p, float *const *a, const float *x_emb,
                  float *x0);
    void (*embed_backward)(const pt_model *m, const pt_pass *p, float *const *a, const float *x_emb,
                           float *dx_emb, const float *dx0);
    void (*block)(const pt_model *m, const pt_pass *p, int l, float *const *a, float *x_out,
                  int mode);
    /* Recomputation only, for families whose block inputs are not kept (slot
     * PT_ACT_IN flagged PT_A_KEEP instead of PT_A_LAYER): rebuild layer l's
     * input a[PT_ACT_IN] from what layer l - 1 kept (prev; NULL for l = 0:
     * from the embedding stage's slots in a). NULL: inputs are kept. */
    void (*recompute_input)(const pt_model *m, const pt_pass *p, int l, float *const *prev,
                            float *const *a);
    /* dres (N, C): in, d(loss)/d(block output); out, d(loss)/d(block input) */
    void (*block_backward)(const pt_model *m, const pt_pass *p, int l, float *const *a,
                           float *dres);
    /* h (n, C) = final norm of rows xf[rows[i]] (NULL: the family has none: a copy);
     * stats (n, 2) kept for backward */
    void (*final_norm)(const pt_model *m, float *h, float *stats, const float *xf, const int *rows,
                       int n);
    void (*final_norm_backward)(const pt_model *m, float *dxf, const float *dh, const float *xf,
                                const float *stats, const int *rows, int n);
    /* LM head; NULL: logits = h . (lm_head or tok_embd)[rows]^T */
    pt_status (*head)(const pt_model *m, pt_run *r, float *logits, const float *h, int n,
                      const int *rows, int nr);
    pt_status (*head_backward)(const pt_model *m, pt_run *r, float *dh, const float *dlogits,
                               const float *h, int n, const int *rows, int nr);
    /* Family-specific config checks and derived values (after the key table). */
    pt_status (*config)(pt_model_config *c, const pt_config_src *src);
} pt_family_desc_fns;

struct pt_family_desc {
    pt_family id;
    const char *name;
    int causal;
    const char *const *hf_types;    /* config.json model_type values (NULL-terminated) */
    const char *const *hf_archs;    /* architectures[0] values */
    const char *const *gguf_archs;  /* general.architecture values */
    const char *const *hf_prefixes; /* tried in order before every HF name ("" = none) */
    const pt_config_key *keys;
    int n_keys;
    const pt_tensor_desc *globals; /* in pt_model_weights */
    int n_globals;
    const pt_tensor_desc *layer; /* in pt_layer_weights, per layer */
    int n_layer;
    const pt_act_desc *acts;
    int n_acts;
    pt_special_policy special;
    int head_scratch; /* floats per row of the LM head's scratch, in units of C */
    int last_rows;    /* 1: the block computes the last layer at the output rows only */
    pt_family_desc_fns fn;
};

/* The families, in detection order. */
const pt_family_desc *pt_family_get(pt_family f);
/* The family whose hf_types / hf_archs match a config.json (NULL if none). */
const pt_family_desc *pt_family_for_hf(const char *model_type, const char *arch0);
/* The family of a GGUF general.architecture (NULL if none). */
const pt_family_desc *pt_family_for_gguf(const char *arch);

/* Size of a symbolic dimension under config c. */
int64_t pt_dim_value(const pt_model_config *c, pt_dim d);
/* The weight a descriptor points at. */
pt_weight *pt_desc_weight(pt_model *m, const pt_tensor_desc *d, int layer);
/* Read the table's config keys from config.json or GGUF metadata into c,
 * then run the family's own checks. */
pt_status pt_family_read_config(const pt_family_desc *f, pt_model_config *c,
                                const pt_config_src *src);
/* Shared checks on sizes after a config is read (sane, consistent). */
pt_status pt_config_check(const pt_model_config *c, const char *src);
/* Parameter count of a loaded model (every present weight). */
int64_t pt_model_count_params(const pt_model *m);
/* RoPE inverse frequencies (HS/2) of c (scaling applied; GGUF rope_freqs
 * factors divide them when given), into m->inv_freq. */
pt_status pt_model_init_rope(pt_model *m);
/* Everything a loaded model needs once its weights are in place. */
pt_status pt_model_finish(pt_model *m);

/* Shared block pieces (common.c). */
void pt_fam_embed_copy(const pt_model *m, const pt_pass *p, float *const *a, const float *x_emb,
                       float *x0);
void pt_fam_embed_copy_backward(const pt_model *m, const pt_pass *p, float *const *a,
                                const float *x_emb, float *dx_emb, const float *dx0);
void pt_fam_final_rmsnorm(const pt_model *m, float *h, float *stats, const float *xf,
                          const int *rows, int n);
void pt_fam_final_rmsnorm_backward(const pt_model *m, float *dxf, const float *dh, const float *xf,
                                   const float *stats, const int *rows, int n);
void pt_fam_final_layernorm(const pt_model *m, float *h, float *stats, const float *xf,
                            const int *rows, int n);
void pt_fam_final_layernorm_backward(const pt_model *m, float *dxf, const float *dh,
                                     const float *xf, const float *stats, const int *rows, int n);
void pt_fam_final_copy(const pt_model *m, float *h, float *stats, const float *xf, const int *rows,
                       int n);
void pt_fam_final_copy_backward(const pt_model *m, float *dxf, const float *dh, const float *xf,
                                const float *stats, const int *rows, int n);
/* The LLaMA block (llama.c), also Qwen2's: optional q/k/v biases. */
void pt_llama_block(const pt_model *m, const pt_pass *p, int l, float *const *a, float *x_out,
                    int mode);
void pt_llama_block_backward(const pt_model *m, const pt_pass *p, int l, float *const *a,
                             float *dres);
pt_status pt_llama_config(pt_model_config *c, const pt_config_src *src);
/* The BERT block and MLM head (bert.c), also RoBERTa's. */
void pt_bert_embed(const pt_model *m, const pt_pass *p, float *const *a, const float *x_emb,
                   float *x0);
void pt_bert_embed_backward(const pt_model *m, const pt_pass *p, float *const *a,
                            const float *x_emb, float *dx_emb, const float *dx0);
void pt_bert_block(const pt_model *m, const pt_pass *p, int l, float *const *a, float *x_out,
                   int mode);
void pt_bert_recompute_input(const pt_model *m, const pt_pass *p, int l, float *const *prev,
                             float *const *a);
void pt_bert_block_backward(const pt_model *m, const pt_pass *p, int l, float *const *a,
                            float *dres);
pt_status pt_bert_config(pt_model_config *c, const pt_config_src *src);
pt_status pt_bert_head(const pt_model *m, pt_run *r, float *logits, const float *h, int n,
                       const int *rows, int nr);
pt_status pt_bert_head_backward(const pt_model *m, pt_run *r, float *dh, const float *dlogits,
                                const float *h, int n, const int *rows, int nr);
#define PT_LLAMA_N_ACTS 20
extern const pt_act_desc pt_llama_acts[PT_LLAMA_N_ACTS];
#define PT_BERT_N_ACTS 23
extern const pt_act_desc pt_bert_acts[PT_BERT_N_ACTS];

static inline int pt_pass_sel(const pt_model *m, const pt_pass *p, int l) {
    return p->sel && l == m->cfg.n_layers - 1;
}

extern const pt_family_desc pt_family_gpt2, pt_family_bert, pt_family_roberta, pt_family_llama,
    pt_family_qwen2;

#endif
