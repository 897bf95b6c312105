/* run_impl.h - the activation store of a model run and the packed-row
 * driver behind pt_model_forward (run.c), shared with decode.c. Internal to
 * src/models (and the training engine, which builds packed passes). */
#ifndef PT_MODELS_RUN_IMPL_H
#define PT_MODELS_RUN_IMPL_H

#include "models/family.h"

struct pt_run {
    const pt_model *m;
    int Bmax, Tmax, Emax, Nmax;
    int backward;  /* 1: slots for backward (per-layer activations) exist */
    int recompute; /* 1: only PT_A_LAYER activations are per layer */
    size_t floats; /* size of block */
    float *block;
    float *act_base[PT_MAX_ACTS];   /* first slot of each activation */
    size_t act_floats[PT_MAX_ACTS]; /* floats per slot */
    int act_slots[PT_MAX_ACTS];     /* 1, L or L + 1 */
    float *x;                       // (Nmax, C) packed input embeddings (pt_model_forward)
    float *dres;                    // (Nmax, C) gradient of the residual stream
    float *dx;                      // (Nmax, C) packed input gradient (pt_model_backward)
    float *fstats;                  // (Nmax, 2) final norm statistics at the output rows
    float *head;                    // (head_rows, head_scratch * C) the family head's scratch
    int head_rows;
    int *ints;
    int *start, *len, *elen;                               // (Bmax)
    int *pos, *out_rows;                                   // (Nmax)
    int *sel, *sel_qstart, *sel_qlen, *sel_qidx, *sel_pos; /* the last block's rows */
    int no_sel; /* 1: the last block runs at every row (tests compare both) */
    /* the last forward */
    pt_pass pass;
    int n_out, have_backward, T_padded;
    const float *x_emb;
};

/* A run for up to Bmax sequences of Tmax own rows after up to Emax cached
 * ones; backward: PT_RUN_FORWARD (0) allocates for forward passes only,
 * PT_RUN_BACKWARD (1) for backward too, recomputing blocks as the model's
 * pt_model_set_recompute says; PT_RUN_RECOMPUTE / PT_RUN_KEEP decide it for
 * this run alone (what a trainer sharing the model with others uses). */
enum { PT_RUN_FORWARD = 0, PT_RUN_BACKWARD = 1, PT_RUN_RECOMPUTE = 2, PT_RUN_KEEP = 3 };
pt_status pt_run_new_ext(const pt_model *m, int Bmax, int Tmax, int Emax, int backward,
                         pt_run **out);
/* The activation slots of layer l (0 .. L) for a pass that keeps (or not). */
void pt_run_slots(const pt_run *r, int l, int keep, float **a);
/* One pass over packed rows: x_emb (N, C) input embeddings; h_out (n_out, C)
 * final hidden states at out_rows. p->T and p->recompute are set here. */
pt_status pt_run_pass(const pt_model *m, pt_run *r, pt_pass *p, const float *x_emb,
                      const int *out_rows, int n_out, float *h_out);
/* dx (N, C) = d(loss)/d(x_emb) of the last pass, given dh (n_out, C). */
pt_status pt_run_backward(const pt_model *m, pt_run *r, const float *dh, float *dx);

#endif
