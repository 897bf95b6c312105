/* optim.h - optimizers over one flat parameter vector, schedule, clipping.
 *
 *   adamw  PyTorch AdamW: p -= lr*wd*p; then Adam update (decoupled decay)
 *   adam   PyTorch Adam with L2: g += wd*p; then Adam update
 *   sgd    PyTorch SGD (no momentum) with L2: p -= lr*(g + wd*p)
 * Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *       p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)   (t counts from 1)
 */
#ifndef PT_TRAIN_OPTIM_H
#define PT_TRAIN_OPTIM_H

#include <stddef.h>

#include "ptune.h"

typedef enum pt_optim_kind {
    PT_OPTIM_ADAMW,
    PT_OPTIM_ADAM,
    PT_OPTIM_SGD,
} pt_optim_kind;

const char *pt_optim_kind_name(pt_optim_kind k);
int pt_optim_kind_parse(const char *s, pt_optim_kind *k);

typedef struct pt_optim {
    pt_optim_kind kind;
    float beta1, beta2, eps, weight_decay;
    size_t n;
    float *m; /* (n) first moments (adam/adamw) */
    float *v; /* (n) second moments */
    long t;   /* steps taken */
} pt_optim;

/* The weight decay an optimizer gets unless one is given: 0.01 for adamw, 0
 * for adam and sgd (PyTorch's defaults). The one place this default lives:
 * the library (pt_train_options_default, pt_train_default_params: -1) and
 * the CLI (no --weight-decay) both resolve it here. */
float pt_optim_default_weight_decay(pt_optim_kind kind);
pt_status pt_optim_init(pt_optim *o, pt_optim_kind kind, size_t n, float weight_decay);
void pt_optim_free(pt_optim *o);
/* One update of params (n) from grads (n) at learning rate lr. */
void pt_optim_step(pt_optim *o, float *params, const float *grads, float lr);

/* Scale grads so their global L2 norm is at most max_norm (max_norm <= 0: no
 * clipping); returns the norm before clipping (PyTorch clip_grad_norm_). */
float pt_clip_grad_norm(float *grads, size_t n, float max_norm);

/* Linear warm-up over `warmup` steps then linear decay to 0 at `total`
 * (step counts from 0; warmup 0 means the first step uses the full rate).
 * Exactly Hugging Face's get_linear_schedule_with_warmup: with warmup > 0 the
 * first update (step 0) gets rate 0. total <= 0: no decay after warm-up. */
float pt_lr_at(float base_lr, long step, long warmup, long total);

#endif
