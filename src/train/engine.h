/* engine.h - one batch through the frozen model with a prompt table spliced in:
 * scores, loss and (optionally) gradients for the table and the linear head.
 *
 *   x (rows, C): word embeddings of ids, table rows at virtual positions,
 *                the examples' rows packed one after the other (no padding)
 *   h (B,C) = model forward at each example's answer position
 *   scores (B,ns) = LM head at label words | whole vocab | linear head
 *   loss = mean over the batch of cross-entropy(scores, target)
 *   backward: dscores -> dh -> dx -> dtable (S,d) += rows at virtual positions
 * All buffers are allocated once in pt_engine_init for (Bmax, Tmax).
 *
 * With a key/value cache (pt_engine_use_cache; causal models), the rows of
 * an example before its first virtual token - they do not depend on the
 * prompt - are run once (forward only) and their keys and values kept; every
 * later step runs only from the first virtual token on, attending to them,
 * and back-propagates through those rows only. Same loss and gradients.
 */
#ifndef PT_TRAIN_ENGINE_H
#define PT_TRAIN_ENGINE_H

#include "models/model.h"
#include "prompt/task.h"
#include "ptune.h"
#include "train/kvcache.h"

typedef struct pt_engine {
    const pt_model *m;
    const pt_task *task;
    int Bmax, Tmax, C, ns;
    pt_run *run;
    float *x;       // (Bmax * Tmax, C) packed rows
    float *dx;      // (Bmax * Tmax, C)
    float *h;       // (Bmax, C)
    float *dh;      // (Bmax, C)
    float *scores;  // (Bmax, ns)
    float *dscores; // (Bmax, ns)
    float *loss;    // (Bmax)
    int *len;       // (Bmax)
    int *out_idx;   // (Bmax) rows of the answers in the packed pass
    int *first;     // (Bmax) first row each example runs (0 without the cache)
    /* the key/value cache of prompt-independent rows (NULL: off) */
    pt_kv_cache *kvc;
    pt_run *fill;               /* forward-only run that computes cached rows */
    float *ek, *ev;             // (L, Bmax, Tmax, KVC) earlier keys/values of a batch
    float *fk, *fv;             // (L, Bmax * Tmax, KVC) what a fill pass stores
    long rows_run, rows_cached; /* rows the passes computed, rows taken from the cache */
    /* pt_evaluate: decode the virtual-token prefix shared by every example
     * once and reuse its keys/values (causal models, see train/prefix.h).
     * 1 after pt_engine_init; set 0 to always run the batched forward. */
    int prefix_reuse;
    /* Deep prompts (prefix tuning, P-tuning v2): deep_len > 0 rows of trainable
     * keys and values in front of every layer's attention, in PEFT's layout
     * deep (deep_len, L * 2 * KVC): row j holds layer 0's key, layer 0's value,
     * layer 1's key, ... Every position attends to them; they carry no
     * position (no RoPE) and the sequence's positions start at deep_len, as
     * with Hugging Face past_key_values. With ddeep (same shape) set,
     * pt_engine_run's backward accumulates their gradient there. The key/value
     * cache and prefix reuse are off (every row depends on them). */
    int run_mode; /* PT_RUN_BACKWARD (the model's recompute setting), PT_RUN_RECOMPUTE or
                     PT_RUN_KEEP: how the engine's backward runs are made */
    int deep_len;
    const float *deep;
    float *ddeep;
} pt_engine;

/* Recompute each block in backward (on 1) or keep its activations (on 0)
 * for this engine alone, whatever the model's pt_model_set_recompute says
 * (the model is not written: tuners on several threads may share it). */
pt_status pt_engine_set_recompute(pt_engine *e, int on);
/* Run with a deep prompt of D rows from now on (set e->deep, e->ddeep
 * before each pt_engine_run); turns the key/value cache's use off. */
pt_status pt_engine_use_deep(pt_engine *e, int D);
/* Floats per row of a deep prompt for model m: L * 2 * KVC. */
size_t pt_engine_deep_width(const pt_model *m);

pt_status pt_engine_init(pt_engine *e, const pt_model *m, const pt_task *t, int Bmax, int Tmax);
/* Keep prompt-independent keys/values across steps in at most `bytes` of
 * memory (causal models; a no-op for others). */
pt_status pt_engine_use_cache(pt_engine *e, size_t bytes);
/* The first row of r that depends on the prompt (its first virtual token; at
 * most the answer row): rows before it can be cached. */
int pt_engine_first_row(const pt_task *t, const pt_rendered *r);
void pt_engine_free(pt_engine *e);

/* Run ex[0..nb). table (S, C); W (n_labels, C), b (n_labels) for the linear
 * head (else NULL). Scores land in e->scores (nb, ns). *loss = mean loss over
 * the labelled examples (0 if none), *n_scored = how many. With dtable != NULL
 * (every example must be labelled) the gradients of the mean loss accumulate
 * into dtable (S, C) and, for the linear head, dW and db. */
pt_status pt_engine_run(pt_engine *e, const pt_example *const *ex, int nb, const float *table,
                        const float *W, const float *b, double *loss, int *n_scored, float *dtable,
                        float *dW, float *db);

/* Scores and loss (no gradient) of ex[0..nb) from final hidden states the
 * caller already put in e->h (nb, C), e.g. by incremental decoding. */
pt_status pt_engine_score(pt_engine *e, const pt_example *const *ex, int nb, const float *W,
                          const float *b, double *loss, int *n_scored);

#endif
