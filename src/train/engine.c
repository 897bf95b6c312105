/* engine.c - batch forward/backward through the frozen model (see engine.h). */
#include "train/engine.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/kernels.h"

pt_status pt_engine_init(pt_engine *e, const pt_model *m, const pt_task *t, int Bmax, int Tmax) {
    memset(e, 0, sizeof *e);
    e->m = m;
    e->task = t;
    e->Bmax = Bmax;
    e->Tmax = Tmax;
    e->C = m->cfg.dim;
    e->ns = pt_task_n_scores(t, m);
    e->prefix_reuse = 1;
    size_t BTC = (size_t)Bmax * Tmax * e->C;
    pt_status s = pt_run_new(m, Bmax, Tmax, &e->run);
    if (s) return s;
    e->x = pt_aalloc(BTC, sizeof(float));
    e->dx = pt_aalloc(BTC, sizeof(float));
    e->h = pt_aalloc((size_t)Bmax * e->C, sizeof(float));
    e->dh = pt_aalloc((size_t)Bmax * e->C, sizeof(float));
    e->scores = pt_aalloc((size_t)Bmax * e->ns, sizeof(float));
    e->dscores = pt_aalloc((size_t)Bmax * e->ns, sizeof(float));
    e->loss = pt_aalloc((size_t)Bmax, sizeof(float));
    e->len = pt_zalloc((size_t)Bmax, sizeof(int));
    e->out_idx = pt_zalloc((size_t)Bmax, sizeof(int));
    if (!e->x || !e->dx || !e->h || !e->dh || !e->scores || !e->dscores || !e->loss || !e->len ||
        !e->out_idx) {
        pt_engine_free(e);
        return pt_fail(PT_ERR_NOMEM, "cannot allocate a batch of %d x %d tokens", Bmax, Tmax);
    }
    return PT_OK;
}

void pt_engine_free(pt_engine *e) {
    if (e->run) pt_run_free(e->run);
    pt_afree(e->x);
    pt_afree(e->dx);
    pt_afree(e->h);
    pt_afree(e->dh);
    pt_afree(e->scores);
    pt_afree(e->dscores);
    pt_afree(e->loss);
    free(e->len);
    free(e->out_idx);
    memset(e, 0, sizeof *e);
}

/* Label-word rows used by example ex for the lm head. */
static const int *label_rows(const pt_task *t, const pt_example *ex) {
    return t->label_ids[ex->r.mask_space];
}

/* scores (nb, ns) and the mean loss from e->h (nb, C); with grad, dscores
 * (nb, ns) = d(mean loss)/d(scores). */
static pt_status score_batch(pt_engine *e, const pt_example *const *ex, int nb, const float *W,
                             const float *b, double *loss, int *n_scored, int grad) {
    const pt_model *m = e->m;
    const pt_task *t = e->task;
    int C = e->C, ns = e->ns;
    if (t->head == PT_HEAD_LINEAR) {
        pt_matmul_forward(e->scores, e->h, W, b, nb, C, ns);
    } else if (t->kind == PT_TASK_KNOWLEDGE) {
        pt_status hs = pt_model_head_forward(m, e->run, e->scores, e->h, nb, NULL, ns);
        if (hs) return hs;
    } else {
        for (int i = 0; i < nb; i++) {
            pt_status hs = pt_model_head_forward(m, e->run, e->scores + (size_t)i * ns,
                                                 e->h + (size_t)i * C, 1, label_rows(t, ex[i]), ns);
            if (hs) return hs;
        }
    }

    /* loss: mean over labelled examples */
    int nl = 0;
    for (int i = 0; i < nb; i++) nl += ex[i]->target >= 0;
    if (grad && nl != nb) return pt_fail(PT_ERR_ARG, "training batch has unlabelled examples");
    double total = 0;
    if (grad) memset(e->dscores, 0, sizeof(float) * (size_t)nb * ns);
    for (int i = 0; i < nb; i++) {
        if (ex[i]->target < 0) continue;
        total += pt_crossentropy_forward_backward(
            e->loss + i, grad ? e->dscores + (size_t)i * ns : NULL, e->scores + (size_t)i * ns,
            &ex[i]->target, 1, ns, 1.0f / (float)nb);
    }
    *loss = nl ? total / nl : 0.0;
    if (n_scored) *n_scored = nl;
    return PT_OK;
}

pt_status pt_engine_score(pt_engine *e, const pt_example *const *ex, int nb, const float *W,
                          const float *b, double *loss, int *n_scored) {
    if (nb < 1 || nb > e->Bmax) return pt_fail(PT_ERR_ARG, "batch of %d (max %d)", nb, e->Bmax);
    return score_batch(e, ex, nb, W, b, loss, n_scored, 0);
}

pt_status pt_engine_run(pt_engine *e, const pt_example *const *ex, int nb, const float *table,
                        const float *W, const float *b, double *loss, int *n_scored, float *dtable,
                        float *dW, float *db) {
    const pt_model *m = e->m;
    const pt_task *t = e->task;
    int C = e->C, ns = e->ns, T = 0;
    pt_status s;
    if (nb < 1 || nb > e->Bmax) return pt_fail(PT_ERR_ARG, "batch of %d (max %d)", nb, e->Bmax);
    for (int i = 0; i < nb; i++)
        if (ex[i]->r.n > T) T = ex[i]->r.n;
    if (T > e->Tmax) return pt_fail(PT_ERR_ARG, "example of %d tokens (max %d)", T, e->Tmax);

    /* x (nb, T, C): embeddings, table rows at virtual positions, zeros as padding */
    memset(e->x, 0, sizeof(float) * (size_t)nb * T * C);
    for (int i = 0; i < nb; i++) {
        const pt_rendered *r = &ex[i]->r;
        float *xi = e->x + (size_t)i * T * C;
        for (int p = 0; p < r->n; p++)
            if (r->ids[p] >= 0 && (s = pt_model_embed(m, xi + (size_t)p * C, &r->ids[p], 1)))
                return s;
        for (int k = 0; k < t->tmpl.n_virtual; k++)
            memcpy(xi + (size_t)r->virt_pos[k] * C, table + (size_t)k * C, sizeof(float) * C);
        e->len[i] = r->n;
        e->out_idx[i] = i * T + r->answer;
    }
    int grad = dtable != NULL;
    if ((s = pt_model_forward(m, e->run, e->x, e->len, nb, T, e->out_idx, nb, e->h, grad)))
        return s;

    if ((s = score_batch(e, ex, nb, W, b, loss, n_scored, grad))) return s;
    if (!grad) return PT_OK;

    /* backward: dscores -> dh -> dx -> dtable */
    memset(e->dh, 0, sizeof(float) * (size_t)nb * C);
    if (t->head == PT_HEAD_LINEAR) {
        pt_matmul_backward_input(e->dh, e->dscores, W, nb, C, ns);
        pt_matmul_backward_weight(dW, db, e->dscores, e->h, nb, C, ns);
    } else if (t->kind == PT_TASK_KNOWLEDGE) {
        if ((s = pt_model_head_backward(m, e->run, e->dh, e->dscores, e->h, nb, NULL, ns)))
            return s;
    } else {
        for (int i = 0; i < nb; i++)
            if ((s = pt_model_head_backward(m, e->run, e->dh + (size_t)i * C,
                                            e->dscores + (size_t)i * ns, e->h + (size_t)i * C, 1,
                                            label_rows(t, ex[i]), ns)))
                return s;
    }
    if ((s = pt_model_backward(m, e->run, e->dh, e->dx))) return s;
    for (int i = 0; i < nb; i++) {
        const pt_rendered *r = &ex[i]->r;
        const float *dxi = e->dx + (size_t)i * T * C;
        for (int k = 0; k < t->tmpl.n_virtual; k++)
            pt_add_inplace(dtable + (size_t)k * C, dxi + (size_t)r->virt_pos[k] * C, (size_t)C);
    }
    return PT_OK;
}
