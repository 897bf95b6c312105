/* gpt2_impl.h - GPT-2 weights shared by the batch passes (gpt2.c) and
 * incremental decoding (gpt2_decode.c). Internal to src/models.
 *
 * Dimension letters: C width, L layers, NH heads, V vocab, maxT positions.
 * Matrices are row-major "W (OC, IC)" (Conv1D weights transposed on load).
 */
#ifndef PT_MODELS_GPT2_IMPL_H
#define PT_MODELS_GPT2_IMPL_H

#include "models/model.h"

typedef struct gpt2_layer {
    float *ln1w, *ln1b; // (C)
    float *qkvw;        // (3C, C)  transposed from Conv1D's (C, 3C)
    float *qkvb;        // (3C)
    float *projw;       // (C, C)
    float *projb;       // (C)
    float *ln2w, *ln2b; // (C)
    float *fcw;         // (4C, C)
    float *fcb;         // (4C)
    float *fcprojw;     // (C, 4C)
    float *fcprojb;     // (C)
} gpt2_layer;

typedef struct gpt2_weights {
    float *wte;         // (V, C)
    float *wpe;         // (maxT, C)
    gpt2_layer *layers; // (L)
    float *lnfw, *lnfb; // (C)
} gpt2_weights;

/* Key/value cache and incremental decoding (gpt2_decode.c). */
pt_status pt_gpt2_cache_new(const pt_model *m, int Tmax, void **cache);
void pt_gpt2_cache_free(void *cache);
pt_status pt_gpt2_decode(const pt_model *m, void *cache, const float *x, int n, float *h_last);
void pt_gpt2_cache_reset(void *cache, int pos);

#endif
