/* optim.c - AdamW, Adam (L2), SGD over one flat vector; clipping; LR schedule.
 *
 * Every update reproduces PyTorch 1.13's single-tensor implementation
 * (torch/optim/adam.py, adamw.py, sgd.py) operation by operation, so float
 * results agree to rounding:
 *   bias_correction1 = 1 - beta1^t, bias_correction2 = 1 - beta2^t   (double)
 *   step_size = lr / bias_correction1                                 (double)
 *   denom = sqrt(v) / sqrt(bias_correction2) + eps                    (float)
 *   p += -step_size * m / denom                                       (float)
 * Scalars that PyTorch computes in Python (double) are computed in double
 * here and rounded to float where PyTorch hands them to a float kernel.
 * Dimension letter: n = number of parameters.
 */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#if defined(__clang__)
/* The "omp simd" of the Adam loops is a hint: clang 14 cannot vectorize them
 * (the conditional decay) and reports that as a warning, an error with
 * -Werror. The loops are elementwise, so the bits do not depend on it. */
#pragma clang diagnostic ignored "-Wpass-failed"
#endif
#include "core/mem.h"

const char *pt_optim_kind_name(pt_optim_kind k) {
    switch (k) {
    case PT_OPTIM_ADAMW:
        return "adamw";
    case PT_OPTIM_ADAM:
        return "adam";
    case PT_OPTIM_SGD:
        return "sgd";
    }
    return "unknown";
}

int pt_optim_kind_parse(const char *s, pt_optim_kind *k) {
    static const pt_optim_kind all[] = {PT_OPTIM_ADAMW, PT_OPTIM_ADAM, PT_OPTIM_SGD};
    if (!s) return 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(s, pt_optim_kind_name(all[i])) == 0) {
            *k = all[i];
            return 1;
        }
    }
    return 0;
}

float pt_optim_default_weight_decay(pt_optim_kind kind) {
    return kind == PT_OPTIM_ADAMW ? 0.01f : 0.0f;
}

pt_status pt_optim_init(pt_optim *o, pt_optim_kind kind, size_t n, float weight_decay) {
    memset(o, 0, sizeof(*o));
    if (kind != PT_OPTIM_ADAMW && kind != PT_OPTIM_ADAM && kind != PT_OPTIM_SGD)
        return pt_fail(PT_ERR_ARG, "optim: unknown optimizer kind %d", (int)kind);
    if (!(weight_decay >= 0.0f) || !isfinite(weight_decay))
        return pt_fail(PT_ERR_ARG, "optim: weight decay %g must be finite and >= 0",
                       (double)weight_decay);
    o->kind = kind;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->weight_decay = weight_decay;
    o->n = n;
    o->t = 0;
    if (kind != PT_OPTIM_SGD && n > 0) {
        o->m = pt_zalloc(n, sizeof(float)); // (n)
        o->v = pt_zalloc(n, sizeof(float)); // (n)
        if (!o->m || !o->v) {
            pt_optim_free(o);
            return pt_fail(PT_ERR_NOMEM, "optim: cannot allocate moments for %zu parameters", n);
        }
    }
    return PT_OK;
}

void pt_optim_free(pt_optim *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
    o->n = 0;
}

/* The Adam part shared by adam and adamw; g already includes any L2 term. */
static void adam_update(pt_optim *o, float *params, size_t i, float g, float one_minus_b1,
                        float one_minus_b2, float step_size, float bc2_sqrt) {
    float m = o->m[i] * o->beta1; // exp_avg.mul_(beta1)
    m = m + one_minus_b1 * g;     //        .add_(grad, alpha=1-beta1)
    float v = o->v[i] * o->beta2; // exp_avg_sq.mul_(beta2)
    v = v + one_minus_b2 * g * g; //           .addcmul_(grad, grad, value=1-beta2)
    o->m[i] = m;
    o->v[i] = v;
    float denom = sqrtf(v) / bc2_sqrt + o->eps;       // (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps)
    params[i] = params[i] + (-step_size) * m / denom; // param.addcdiv_(m, denom, -step_size)
}

void pt_optim_step(pt_optim *o, float *params, const float *grads, float lr) {
    o->t++;
    size_t n = o->n;
    float wd = o->weight_decay;
    if (o->kind == PT_OPTIM_SGD) {
        for (size_t i = 0; i < n; i++) {
            float g = grads[i];
            if (wd != 0.0f) g = g + wd * params[i]; // grad.add(param, alpha=wd)
            params[i] = params[i] + (-lr) * g;      // param.add_(d_p, alpha=-lr)
        }
        return;
    }
    double b1 = o->beta1, b2 = o->beta2;
    double bc1 = 1.0 - pow(b1, (double)o->t);
    double bc2 = 1.0 - pow(b2, (double)o->t);
    float step_size = (float)((double)lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float one_minus_b1 = (float)(1.0 - b1);
    float one_minus_b2 = (float)(1.0 - b2);
    if (o->kind == PT_OPTIM_ADAMW) {
        float decay = (float)(1.0 - (double)lr * (double)wd); // param.mul_(1 - lr*wd)
        /* elementwise: the same bits with any thread count */
#pragma omp parallel for simd schedule(static) if (n >= 65536)
        for (size_t i = 0; i < n; i++) {
            if (wd != 0.0f) params[i] = params[i] * decay;
            adam_update(o, params, i, grads[i], one_minus_b1, one_minus_b2, step_size, bc2_sqrt);
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n >= 65536)
        for (size_t i = 0; i < n; i++) {
            float g = grads[i];
            if (wd != 0.0f) g = g + wd * params[i]; // grad.add(param, alpha=wd)
            adam_update(o, params, i, g, one_minus_b1, one_minus_b2, step_size, bc2_sqrt);
        }
    }
}

float pt_clip_grad_norm(float *grads, size_t n, float max_norm) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)grads[i] * (double)grads[i];
    float norm = (float)sqrt(ss);
    if (max_norm <= 0.0f) return norm;
    /* torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1 */
    float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f)
        for (size_t i = 0; i < n; i++) grads[i] *= coef;
    return norm;
}

/* Hugging Face get_linear_schedule_with_warmup, exactly: the rate of update
 * number `step` (0-based: the first optimizer step is step 0) is
 *   step < warmup:  base * step / max(1, warmup)       (so step 0 gets 0 when warmup > 0)
 *   otherwise:      base * max(0, (total - step) / max(1, total - warmup))
 * warmup 0 gives the full rate at step 0. total <= 0 means no decay. */
float pt_lr_at(float base_lr, long step, long warmup, long total) {
    if (step < 0) step = 0;
    if (warmup < 0) warmup = 0;
    double f;
    if (step < warmup) {
        f = (double)step / (double)(warmup > 1 ? warmup : 1);
    } else if (total <= 0) {
        f = 1.0;
    } else {
        long span = total - warmup;
        f = (double)(total - step) / (double)(span > 1 ? span : 1);
        if (f < 0.0) f = 0.0;
    }
    return (float)((double)base_lr * f);
}
