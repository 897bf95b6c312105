/* eval_dist.c - evaluation split across the ranks of a data-parallel run
 * (see pt_evaluate_split in metrics.h). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "train/dist.h"
#include "train/metrics.h"

typedef struct split_ctx {
    const pt_examples *part; /* this rank's share */
    int lo;                  /* its first index in the whole set */
    int k;                   /* classes counted (0: none) */
    double *conf;            // (3k) tp, fp, fn per class
    pt_example_fn fn;
    void *user;
} split_ctx;

static pt_status count_one(int index, const float *scores, int ns, int pred, void *user) {
    split_ctx *c = user;
    int target = c->part->ex[index].target;
    if (target >= 0)
        for (int cl = 0; cl < c->k; cl++) {
            c->conf[3 * cl] += pred == cl && target == cl;
            c->conf[3 * cl + 1] += pred == cl && target != cl;
            c->conf[3 * cl + 2] += pred != cl && target == cl;
        }
    return c->fn ? c->fn(c->lo + index, scores, ns, pred, c->user) : PT_OK;
}

pt_status pt_evaluate_split(pt_engine *e, const pt_examples *ex, const float *table, const float *W,
                            const float *b, pt_eval_result *res, pt_example_fn fn, void *user) {
    int N = pt_dist_size(), r = pt_dist_rank();
    if (N < 2) return pt_evaluate(e, ex, table, W, b, res, fn, user);
    int lo = (int)((long long)ex->n * r / N), hi = (int)((long long)ex->n * (r + 1) / N);
    pt_examples part = *ex;
    part.ex = ex->ex + lo;
    part.n = hi - lo;
    int k = e->task->kind == PT_TASK_CLASSIFY ? e->task->n_labels : 0;
    /* sums: loss sum, scored, correct, then tp, fp, fn per class */
    size_t nsum = 3 + 3 * (size_t)k;
    double *sum = pt_zalloc(nsum, sizeof(double));
    pt_status s = sum ? PT_OK : pt_fail(PT_ERR_NOMEM, "out of memory");
    pt_eval_result mine;
    memset(&mine, 0, sizeof mine);
    mine.bad_index = -1;
    split_ctx c = {&part, lo, k, sum ? sum + 3 : NULL, fn, user};
    if (!s && part.n > 0) s = pt_evaluate(e, &part, table, W, b, &mine, count_one, &c);
    if (s && mine.bad_index >= 0) mine.bad_index += lo;
    if (s) pt_fail_ctx(s, "examples %d-%d", lo + 1, hi); /* this rank's share */
    s = pt_dist_agree(s);
    memset(res, 0, sizeof *res);
    res->bad_index = -1;
    if (s) {
        free(sum);
        return s;
    }
    sum[0] = mine.loss * mine.n;
    sum[1] = mine.n;
    sum[2] = mine.accuracy * mine.n;
    pt_dist_sum_d(sum, nsum);
    int scored = (int)(sum[1] + 0.5), correct = (int)(sum[2] + 0.5);
    res->n = scored;
    res->n_total = ex->n;
    res->loss = scored ? sum[0] / scored : 0;
    res->accuracy = scored ? (double)correct / scored : 0;
    if (k) { /* as pt_macro_f1 */
        double f = 0;
        int classes = 0;
        for (int cl = 0; cl < k; cl++) {
            double tp = sum[3 + 3 * cl], fp = sum[4 + 3 * cl], fn_ = sum[5 + 3 * cl];
            if (tp + fp + fn_ == 0) continue;
            f += 2.0 * tp / (2.0 * tp + fp + fn_);
            classes++;
        }
        res->f1 = classes ? f / classes : 0.0;
    }
    free(sum);
    return PT_OK;
}
