/* metrics.h - evaluation: loss, accuracy, macro-F1, P@1 over a set of examples. */
#ifndef PT_TRAIN_METRICS_H
#define PT_TRAIN_METRICS_H

#include "prompt/task.h"
#include "train/engine.h"

typedef struct pt_eval_result {
    double loss;     /* mean cross-entropy over the scored examples */
    double accuracy; /* fraction correct (P@1 for knowledge probing) */
    double f1;       /* macro-F1 over the classes seen (classify) */
    int n;           /* examples scored (labelled) */
    int n_total;     /* examples run */
    int bad_index;   /* on PT_ERR_NUMERIC: the first example whose scores are not finite */
} pt_eval_result;

/* Called once per example with its scores (ns) and predicted column; a
 * non-zero status (e.g. a failed write) stops the evaluation and is returned. */
typedef pt_status (*pt_example_fn)(int index, const float *scores, int ns, int pred, void *user);

/* Index of the best score; for knowledge probing with a filter, only the
 * filtered ids compete. */
int pt_predict_index(const pt_task *t, const float *scores, int ns);

/* Scores every example (batches of e->Bmax). Scores that are not finite (a
 * NaN or inf in the model's weights or the prompt reaches them: the kernels
 * propagate it) stop the evaluation with PT_ERR_NUMERIC naming the example;
 * res->bad_index tells which (its index in ex). */
pt_status pt_evaluate(pt_engine *e, const pt_examples *ex, const float *table, const float *W,
                      const float *b, pt_eval_result *res, pt_example_fn fn, void *user);

/* pt_evaluate with the examples split across the ranks of a data-parallel
 * run (train/dist.h): rank r scores a contiguous share, the counts, loss
 * sums and per-class counts are summed, and every rank gets the result of
 * the whole set (and the same status and message on a failure). With one
 * rank it is pt_evaluate. fn (when given) sees only this rank's examples,
 * with their indices in ex. */
pt_status pt_evaluate_split(pt_engine *e, const pt_examples *ex, const float *table, const float *W,
                            const float *b, pt_eval_result *res, pt_example_fn fn, void *user);

/* Macro-F1 of predictions vs targets over n examples and k classes. */
double pt_macro_f1(const int *pred, const int *target, int n, int k);

#endif
