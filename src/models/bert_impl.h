/* bert_impl.h - private to bert_load.c / bert.c: BERT weights and the ops table.
 *
 * Dimension letters: C hidden size, F intermediate size, V vocab, P position
 * table size, TV token types, L layers, NH heads, HS = C / NH.
 */
#ifndef PT_MODELS_BERT_IMPL_H
#define PT_MODELS_BERT_IMPL_H

#include "models/model.h"

enum { PT_BERT_GELU_ERF, PT_BERT_GELU_TANH };

typedef struct pt_bert_layer {
    float *wqkv;        // (3C, C) query, key, value weights stacked (fused at load)
    float *bqkv;        // (3C)
    float *wo, *bo;     // (C, C), (C)  attention.output.dense
    float *ln1w, *ln1b; // (C)         attention.output.LayerNorm
    float *w1, *b1;     // (F, C), (F)  intermediate.dense
    float *w2, *b2;     // (C, F), (C)  output.dense
    float *ln2w, *ln2b; // (C)         output.LayerNorm
} pt_bert_layer;

typedef struct pt_bert {
    int act;               /* PT_BERT_GELU_ERF ("gelu") or PT_BERT_GELU_TANH ("gelu_new") */
    float *wte;            // (V, C) word embeddings
    float *wpe;            // (P, C) position embeddings
    float *wtt;            // (TV, C) token type embeddings (row 0 used)
    float *lnew, *lneb;    // (C) embeddings.LayerNorm
    pt_bert_layer *layers; // [L]
    /* MLM head (NULL when cfg.has_lm_head == 0) */
    float *hw, *hb;     // (C, C), (C)  cls.predictions.transform.dense
    float *hlnw, *hlnb; // (C)          cls.predictions.transform.LayerNorm
    float *hbias;       // (V)          cls.predictions.bias
    float *dec;         // (V, C) untied decoder weight, or NULL: tied to wte
} pt_bert;

extern const pt_model_ops pt_bert_ops;
void pt_bert_free_impl(pt_model *m); /* bert_load.c */

#endif
