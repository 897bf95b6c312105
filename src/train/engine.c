/* engine.c - batch forward/backward through the frozen model (see engine.h).
 *
 * Dimension letters: B examples, N packed rows, C width, L layers, KVC key
 * width, S virtual tokens, T most rows of an example.
 */
#include "train/engine.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "models/run_impl.h"

pt_status pt_engine_init(pt_engine *e, const pt_model *m, const pt_task *t, int Bmax, int Tmax) {
    memset(e, 0, sizeof *e);
    e->m = m;
    e->task = t;
    e->Bmax = Bmax;
    e->Tmax = Tmax;
    e->C = m->cfg.dim;
    e->ns = pt_task_n_scores(t, m);
    e->prefix_reuse = 1;
    e->run_mode = PT_RUN_BACKWARD;
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
    e->first = pt_zalloc((size_t)Bmax, sizeof(int));
    if (!e->x || !e->dx || !e->h || !e->dh || !e->scores || !e->dscores || !e->loss || !e->len ||
        !e->out_idx || !e->first) {
        pt_engine_free(e);
        return pt_fail(PT_ERR_NOMEM, "cannot allocate a batch of %d x %d tokens", Bmax, Tmax);
    }
    return PT_OK;
}

pt_status pt_engine_use_cache(pt_engine *e, size_t bytes) {
    const pt_model *m = e->m;
    if (!m->cfg.causal || e->kvc || bytes == 0) return PT_OK;
    size_t KVC = (size_t)m->cfg.n_kv_heads * (size_t)m->cfg.head_dim, L = (size_t)m->cfg.n_layers;
    size_t ext = L * (size_t)e->Bmax * (size_t)e->Tmax * KVC;
    pt_run *run = NULL;
    pt_status s = pt_run_new_ext(m, e->Bmax, e->Tmax, e->Tmax, e->run_mode, &run);
    if (!s) s = pt_run_new_ext(m, e->Bmax, e->Tmax, 0, 0, &e->fill);
    if (s) {
        pt_run_free(run);
        return s;
    }
    pt_run_free(e->run);
    e->run = run;
    e->kvc = calloc(1, sizeof *e->kvc);
    e->ek = pt_aalloc(ext, sizeof(float));
    e->ev = pt_aalloc(ext, sizeof(float));
    e->fk = pt_aalloc(ext, sizeof(float));
    e->fv = pt_aalloc(ext, sizeof(float));
    if (!e->kvc || !e->ek || !e->ev || !e->fk || !e->fv ||
        pt_kv_cache_init(e->kvc, bytes, (int)L, (int)KVC)) {
        free(e->kvc);
        e->kvc = NULL;
        return pt_fail(PT_ERR_NOMEM, "out of memory for the key/value cache's batch buffers");
    }
    return PT_OK;
}

pt_status pt_engine_set_recompute(pt_engine *e, int on) {
    pt_run *run = NULL;
    int Emax = e->kvc ? e->Tmax : e->deep_len;
    e->run_mode = on ? PT_RUN_RECOMPUTE : PT_RUN_KEEP;
    pt_status s = pt_run_new_ext(e->m, e->Bmax, e->Tmax, Emax, e->run_mode, &run);
    if (s) return s;
    pt_run_free(e->run);
    e->run = run;
    return PT_OK;
}

pt_status pt_engine_use_deep(pt_engine *e, int D) {
    const pt_model *m = e->m;
    if (D < 1 || D + 1 > m->cfg.max_pos)
        return pt_fail(PT_ERR_ARG, "deep prompt of %d rows (the model has %d positions)", D,
                       m->cfg.max_pos);
    if (e->Tmax + D > m->cfg.max_pos)
        return pt_fail(PT_ERR_ARG,
                       "a deep prompt of %d rows and examples of up to %d tokens exceed the "
                       "model's %d positions",
                       D, e->Tmax, m->cfg.max_pos);
    pt_run *run = NULL;
    pt_status s = pt_run_new_ext(m, e->Bmax, e->Tmax, D, e->run_mode, &run);
    if (s) return s;
    pt_run_free(e->run);
    e->run = run;
    e->deep_len = D;
    e->prefix_reuse = 0;
    return PT_OK;
}

void pt_engine_free(pt_engine *e) {
    pt_run_free(e->run);
    pt_run_free(e->fill);
    if (e->kvc) pt_kv_cache_free(e->kvc);
    free(e->kvc);
    pt_afree(e->x);
    pt_afree(e->dx);
    pt_afree(e->h);
    pt_afree(e->dh);
    pt_afree(e->scores);
    pt_afree(e->dscores);
    pt_afree(e->loss);
    pt_afree(e->ek);
    pt_afree(e->ev);
    pt_afree(e->fk);
    pt_afree(e->fv);
    free(e->len);
    free(e->out_idx);
    free(e->first);
    memset(e, 0, sizeof *e);
}

size_t pt_engine_deep_width(const pt_model *m) {
    return (size_t)m->cfg.n_layers * 2 * m->cfg.n_kv_heads * m->cfg.head_dim;
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
    pt_status s;
    if (t->head == PT_HEAD_LINEAR) {
        pt_matmul_forward(e->scores, e->h, W, b, nb, C, ns);
    } else if (t->kind == PT_TASK_KNOWLEDGE) {
        if ((s = pt_model_head_forward(m, e->run, e->scores, e->h, nb, NULL, ns))) return s;
    } else {
        for (int i = 0; i < nb; i++)
            if ((s = pt_model_head_forward(m, e->run, e->scores + (size_t)i * ns,
                                           e->h + (size_t)i * C, 1, label_rows(t, ex[i]), ns)))
                return s;
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

/* x (to - from, C) = rows [from, to) of r: word embeddings, table rows at
 * virtual positions. */
static pt_status embed_rows(const pt_model *m, const pt_rendered *r, const float *table, int S,
                            int from, int to, float *x) {
    int C = m->cfg.dim;
    for (int p = from; p < to; p++)
        if (r->ids[p] >= 0) {
            pt_status s = pt_model_embed(m, x + (size_t)(p - from) * C, &r->ids[p], 1);
            if (s) return s;
        }
    for (int k = 0; k < S; k++) {
        int p = r->virt_pos[k];
        if (p >= from && p < to)
            memcpy(x + (size_t)(p - from) * C, table + (size_t)k * C, sizeof(float) * C);
    }
    return PT_OK;
}

/* The first row of r that depends on the prompt (its first virtual token),
 * at most the answer row (which every pass computes). */
int pt_engine_first_row(const pt_task *t, const pt_rendered *r) {
    int f = r->answer;
    for (int k = 0; k < t->tmpl.n_virtual; k++)
        if (r->virt_pos[k] < f) f = r->virt_pos[k];
    return f < 0 ? 0 : f;
}

/* Earlier keys/values of every example with first[i] > 0 into e->ek, e->ev
 * (L, Bmax, Tmax, KVC): from the cache, or computed by one forward-only pass
 * over the missing examples' first rows (and cached when there is room). */
static pt_status gather_earlier(pt_engine *e, const pt_example *const *ex, int nb) {
    const pt_model *m = e->m;
    pt_kv_cache *c = e->kvc;
    int C = e->C, L = c->L, KVC = c->KVC, Bm = e->Bmax, Tm = e->Tmax;
    size_t lstride = (size_t)Bm * Tm * KVC; // (Bmax, Tmax, KVC) per layer
    pt_kv_entry *ent[1024];
    const void *keys[1024];
    int miss[1024], n_miss = 0;
    if (nb > 1024) return pt_fail(PT_ERR_ARG, "batch of %d too large for the cache", nb);
    for (int i = 0; i < nb; i++) {
        keys[i] = ex[i];
        ent[i] = e->first[i] > 0 ? pt_kv_cache_get(c, ex[i]) : NULL;
        if (ent[i] && ent[i]->P != e->first[i]) ent[i] = NULL; /* cannot happen: same example */
        if (e->first[i] > 0 && !ent[i]) miss[n_miss++] = i;
    }
    if (n_miss) { /* one pass over the missing rows: keys/values only, no outputs */
        pt_run *r = e->fill;
        int N = 0;
        for (int j = 0; j < n_miss; j++) {
            int i = miss[j], P = e->first[i];
            r->start[j] = N, r->len[j] = P;
            pt_status s = embed_rows(m, &ex[i]->r, NULL, 0, 0, P, e->x + (size_t)N * C);
            if (s) return s;
            for (int t = 0; t < P; t++) r->pos[N + t] = t;
            N += P;
        }
        pt_pass p;
        memset(&p, 0, sizeof p);
        p.B = n_miss, p.N = N, p.start = r->start, p.len = r->len, p.pos = r->pos;
        p.kv_out_k = e->fk, p.kv_out_v = e->fv, p.kv_out_lstride = lstride;
        pt_status s = pt_run_pass(m, r, &p, e->x, NULL, 0, NULL);
        if (s) return s;
        e->rows_run += N;
        for (int j = 0; j < n_miss; j++) {
            int i = miss[j], P = e->first[i];
            size_t row0 = (size_t)r->start[j];
            pt_kv_entry *en = pt_kv_cache_put(c, ex[i], P, keys, nb);
            for (int l = 0; l < L; l++) {
                const float *k = e->fk + l * lstride + row0 * KVC; // (P, KVC)
                const float *v = e->fv + l * lstride + row0 * KVC;
                float *dk = e->ek + l * lstride + (size_t)i * Tm * KVC;
                float *dv = e->ev + l * lstride + (size_t)i * Tm * KVC;
                memcpy(dk, k, sizeof(float) * (size_t)P * KVC);
                memcpy(dv, v, sizeof(float) * (size_t)P * KVC);
                if (en) {
                    float *ek = en->kv + (size_t)l * 2 * P * KVC; // (2, P, KVC)
                    memcpy(ek, k, sizeof(float) * (size_t)P * KVC);
                    memcpy(ek + (size_t)P * KVC, v, sizeof(float) * (size_t)P * KVC);
                }
            }
        }
    }
    for (int i = 0; i < nb; i++) {
        if (!ent[i]) continue;
        int P = ent[i]->P;
        e->rows_cached += P;
        for (int l = 0; l < L; l++) {
            const float *k = ent[i]->kv + (size_t)l * 2 * P * KVC;
            memcpy(e->ek + l * lstride + (size_t)i * Tm * KVC, k, sizeof(float) * (size_t)P * KVC);
            memcpy(e->ev + l * lstride + (size_t)i * Tm * KVC, k + (size_t)P * KVC,
                   sizeof(float) * (size_t)P * KVC);
        }
    }
    return PT_OK;
}

pt_status pt_engine_run(pt_engine *e, const pt_example *const *ex, int nb, const float *table,
                        const float *W, const float *b, double *loss, int *n_scored, float *dtable,
                        float *dW, float *db) {
    const pt_model *m = e->m;
    const pt_task *t = e->task;
    int C = e->C, ns = e->ns, S = t->tmpl.n_virtual, E = 0;
    pt_status s;
    if (nb < 1 || nb > e->Bmax) return pt_fail(PT_ERR_ARG, "batch of %d (max %d)", nb, e->Bmax);
    for (int i = 0; i < nb; i++) {
        if (ex[i]->r.n > e->Tmax)
            return pt_fail(PT_ERR_ARG, "example of %d tokens (max %d)", ex[i]->r.n, e->Tmax);
        e->first[i] = e->kvc && !e->deep_len ? pt_engine_first_row(t, &ex[i]->r) : 0;
        if (e->deep_len && ex[i]->r.n + e->deep_len > m->cfg.max_pos)
            return pt_fail(PT_ERR_ARG,
                           "example of %d tokens after a deep prompt of %d exceeds the model's "
                           "%d positions",
                           ex[i]->r.n, e->deep_len, m->cfg.max_pos);
        if (e->first[i] > E) E = e->first[i];
    }
    if (E > 0 && (s = gather_earlier(e, ex, nb))) return s;

    /* x (N, C): each example's rows from its first on, packed */
    pt_run *r = e->run;
    int N = 0;
    for (int i = 0; i < nb; i++) {
        const pt_rendered *ri = &ex[i]->r;
        int f = e->first[i];
        int D = e->deep_len; /* positions after a deep prompt start at D */
        r->start[i] = N, r->len[i] = ri->n - f, r->elen[i] = D ? D : f;
        if ((s = embed_rows(m, ri, table, S, f, ri->n, e->x + (size_t)N * C))) return s;
        for (int p = f; p < ri->n; p++) r->pos[N + p - f] = D + p;
        e->out_idx[i] = N + ri->answer - f;
        N += ri->n - f;
    }
    e->rows_run += N;
    int grad = dtable != NULL || (e->deep_len && e->ddeep);
    pt_pass p;
    memset(&p, 0, sizeof p);
    p.B = nb, p.N = N, p.start = r->start, p.len = r->len, p.pos = r->pos;
    p.keep = grad;
    if (e->deep_len) {
        int KVC = m->cfg.n_kv_heads * m->cfg.head_dim;
        p.ek = e->deep, p.ev = e->deep + KVC, p.elen = r->elen, p.E = e->deep_len;
        p.e_lstride = (size_t)2 * KVC, p.e_bstride = 0;
        p.e_stride = (int)pt_engine_deep_width(m);
        if (grad && e->ddeep) p.dek = e->ddeep, p.dev = e->ddeep + KVC;
    } else if (E > 0) {
        p.ek = e->ek, p.ev = e->ev, p.elen = r->elen, p.E = E;
        p.e_lstride = (size_t)e->Bmax * e->Tmax * e->kvc->KVC;
        p.e_bstride = (size_t)e->Tmax * e->kvc->KVC;
    }
    if ((s = pt_run_pass(m, r, &p, e->x, e->out_idx, nb, e->h))) return s;

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
    if ((s = pt_run_backward(m, r, e->dh, e->dx))) return s;
    for (int i = 0; i < nb && dtable; i++) {
        const pt_rendered *ri = &ex[i]->r;
        for (int k = 0; k < S; k++) {
            size_t row = (size_t)r->start[i] + (size_t)(ri->virt_pos[k] - e->first[i]);
            pt_add_inplace(dtable + (size_t)k * C, e->dx + row * C, (size_t)C);
        }
    }
    return PT_OK;
}
