/* metrics.c - evaluation loop and metrics (see metrics.h). */
#include "train/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "train/prefix.h"

int pt_predict_index(const pt_task *t, const float *scores, int ns) {
    int best = -1;
    if (t->kind == PT_TASK_KNOWLEDGE && t->vocab_filter) {
        for (int i = 0; i < t->n_filter; i++) {
            int id = t->vocab_filter[i];
            if (id >= 0 && id < ns && (best < 0 || scores[id] > scores[best])) best = id;
        }
        return best;
    }
    for (int i = 0; i < ns; i++)
        if (best < 0 || scores[i] > scores[best]) best = i;
    return best;
}

double pt_macro_f1(const int *pred, const int *target, int n, int k) {
    double sum = 0;
    int classes = 0;
    for (int c = 0; c < k; c++) {
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < n; i++) {
            tp += pred[i] == c && target[i] == c;
            fp += pred[i] == c && target[i] != c;
            fn += pred[i] != c && target[i] == c;
        }
        if (tp + fp + fn == 0) continue; /* class neither present nor predicted */
        sum += 2.0 * tp / (2.0 * tp + fp + fn);
        classes++;
    }
    return classes ? sum / classes : 0.0;
}

pt_status pt_evaluate(pt_engine *e, const pt_examples *ex, const float *table, const float *W,
                      const float *b, pt_eval_result *res, pt_example_fn fn, void *user) {
    memset(res, 0, sizeof *res);
    res->bad_index = -1;
    const pt_task *t = e->task;
    int *pred = pt_alloc((size_t)ex->n + 1, sizeof(int));
    int *tgt = pt_alloc((size_t)ex->n + 1, sizeof(int));
    const pt_example **batch = pt_alloc((size_t)e->Bmax, sizeof(pt_example *));
    pt_status s = PT_OK;
    pt_prefix pre = {0};
    int P = 0;
    if (!pred || !tgt || !batch) {
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* causal model, virtual tokens all in front: decode their keys/values once */
    P = e->prefix_reuse && table && !e->deep_len ? pt_prefix_len(e->m, &t->tmpl, ex) : 0;
    if (P > 0 &&
        (s = pt_prefix_begin(&pre, e->m, &ex->ex[0].r, table, t->tmpl.n_virtual, P, ex->max_len)))
        goto done;
    double loss_sum = 0;
    int scored = 0, correct = 0;
    for (int i0 = 0; i0 < ex->n; i0 += e->Bmax) {
        int nb = ex->n - i0 < e->Bmax ? ex->n - i0 : e->Bmax;
        for (int j = 0; j < nb; j++) batch[j] = &ex->ex[i0 + j];
        double loss;
        int ns_scored;
        if (P > 0) {
            for (int j = 0; j < nb && !s; j++)
                s = pt_prefix_hidden(&pre, &batch[j]->r, e->h + (size_t)j * e->C);
            if (!s) s = pt_engine_score(e, batch, nb, W, b, &loss, &ns_scored);
        } else {
            s = pt_engine_run(e, batch, nb, table, W, b, &loss, &ns_scored, NULL, NULL, NULL);
        }
        if (s) goto done;
        for (int j = 0; j < nb; j++) {
            const float *sc = e->scores + (size_t)j * e->ns;
            for (int k = 0; k < e->ns; k++) {
                if (isfinite(sc[k])) continue;
                res->bad_index = i0 + j;
                s = pt_fail(PT_ERR_NUMERIC,
                            "the scores of example %d are not finite (%g in column %d)", i0 + j + 1,
                            (double)sc[k], k);
                goto done;
            }
        }
        if (!isfinite(loss)) {
            s = pt_fail(PT_ERR_NUMERIC, "examples %d-%d: the loss is not finite (%g)", i0 + 1,
                        i0 + nb, loss);
            goto done;
        }
        loss_sum += loss * ns_scored;
        for (int j = 0; j < nb; j++) {
            const float *sc = e->scores + (size_t)j * e->ns;
            int p = pt_predict_index(t, sc, e->ns), target = batch[j]->target;
            if (target >= 0) {
                pred[scored] = p;
                tgt[scored] = target;
                scored++;
                correct += p == target;
            }
            if (fn && (s = fn(i0 + j, sc, e->ns, p, user))) goto done;
        }
    }
    res->n = scored;
    res->n_total = ex->n;
    res->loss = scored ? loss_sum / scored : 0;
    res->accuracy = scored ? (double)correct / scored : 0;
    if (t->kind == PT_TASK_CLASSIFY) res->f1 = pt_macro_f1(pred, tgt, scored, t->n_labels);
done:
    if (P > 0) pt_prefix_end(&pre);
    free(pred);
    free(tgt);
    free(batch);
    return s;
}
