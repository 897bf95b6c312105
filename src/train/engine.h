/* engine.h - one batch through the frozen model with a prompt table spliced in:
 * scores, loss and (optionally) gradients for the table and the linear head.
 *
 *   x (B,T,C): word embeddings of ids, table rows at virtual positions
 *   h (B,C) = model forward at each example's answer position
 *   scores (B,ns) = LM head at label words | whole vocab | linear head
 *   loss = mean over the batch of cross-entropy(scores, target)
 *   backward: dscores -> dh -> dx -> dtable (S,d) += rows at virtual positions
 * All buffers are allocated once in pt_engine_init for (Bmax, Tmax).
 */
#ifndef PT_TRAIN_ENGINE_H
#define PT_TRAIN_ENGINE_H

#include "models/model.h"
#include "prompt/task.h"
#include "ptune.h"

typedef struct pt_engine {
    const pt_model *m;
    const pt_task *task;
    int Bmax, Tmax, C, ns;
    pt_run *run;
    float *x;       // (Bmax, Tmax, C)
    float *dx;      // (Bmax, Tmax, C)
    float *h;       // (Bmax, C)
    float *dh;      // (Bmax, C)
    float *scores;  // (Bmax, ns)
    float *dscores; // (Bmax, ns)
    float *loss;    // (Bmax)
    int *len;       // (Bmax)
    int *out_idx;   // (Bmax)
    /* pt_evaluate: decode the virtual-token prefix shared by every example
     * once and reuse its keys/values (causal models, see train/prefix.h).
     * 1 after pt_engine_init; set 0 to always run the batched forward. */
    int prefix_reuse;
} pt_engine;

pt_status pt_engine_init(pt_engine *e, const pt_model *m, const pt_task *t, int Bmax, int Tmax);
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
