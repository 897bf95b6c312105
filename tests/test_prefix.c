/* test_prefix.c - reuse of the shared virtual-token prefix in evaluation.
 *
 * pt_evaluate with prefix reuse (keys/values of "[P*n]" (after LLaMA's BOS)
 * decoded once, each example decoding only its own rows) must give the same
 * scores, loss and accuracy as the batched forward, on the tiny GPT-2 and the
 * tiny LLaMA, for the lm head (classify, knowledge) and the linear head. The
 * prefix length is checked (reuse must really happen where the layout allows
 * it and not where a virtual token follows the input), and the time of both
 * paths is printed (median of several runs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/rng.h"
#include "prompt/task.h"
#include "train/engine.h"
#include "train/metrics.h"
#include "train/prefix.h"
#include "test.h"

#define DATA "tests/fixtures/learn/dev.jsonl"

typedef struct collect {
    float *scores; // (n, ns)
    int ns;
} collect;

static pt_status on_example(int index, const float *scores, int ns, int pred, void *user) {
    collect *c = user;
    memcpy(c->scores + (size_t)index * ns, scores, sizeof(float) * ns);
    return PT_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of pt_evaluate over reps runs. */
static double time_eval(pt_engine *e, const pt_examples *ex, const float *table, const float *W,
                        const float *b, int reps) {
    double t[16];
    pt_eval_result r;
    for (int i = 0; i < reps; i++) {
        double t0 = now_s();
        pt_evaluate(e, ex, table, W, b, &r, NULL, NULL);
        t[i] = now_s() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_d);
    return t[reps / 2];
}

/* Evaluate with and without reuse; returns the prefix length used. */
static int compare(const char *model, const char *tmpl, pt_task_kind kind, pt_head_kind head,
                   const char *labels, int expect_P, int timing) {
    printf("%s  \"%s\" (%s, %s head)\n", model, tmpl,
           kind == PT_TASK_KNOWLEDGE ? "knowledge" : "classify",
           head == PT_HEAD_LM ? "lm" : "linear");
    pt_model *m = NULL;
    pt_task t;
    pt_dataset d;
    pt_examples ex;
    pt_engine e;
    if (pt_model_load(&m, model)) {
        CHECK(0, "%s", pt_last_error());
        return -1;
    }
    CHECK(pt_task_init(&t, m, tmpl, kind, head, labels, "label") == PT_OK, "task: %s",
          pt_last_error());
    CHECK(pt_dataset_load(&d, DATA) == PT_OK, "%s", pt_last_error());
    CHECK(pt_examples_build(&ex, &t, m, &d, 1, 0) == PT_OK, "%s", pt_last_error());
    int C = m->cfg.dim, S = t.tmpl.n_virtual, ns = pt_task_n_scores(&t, m);
    CHECK(pt_engine_init(&e, m, &t, 16, ex.max_len) == PT_OK, "%s", pt_last_error());
    pt_rng r;
    pt_rng_seed(&r, 7);
    float *table = malloc(sizeof(float) * (S ? S : 1) * C);
    float *W = malloc(sizeof(float) * (t.n_labels + 1) * C), *b = malloc(sizeof(float) * 8);
    for (int i = 0; i < S * C; i++) table[i] = pt_rng_normal(&r);
    for (int i = 0; i < (t.n_labels + 1) * C; i++) W[i] = pt_rng_normal(&r);
    for (int i = 0; i < 8; i++) b[i] = pt_rng_normal(&r);
    const float *Wh = head == PT_HEAD_LINEAR ? W : NULL, *bh = head == PT_HEAD_LINEAR ? b : NULL;

    int P = pt_prefix_len(m, &t.tmpl, &ex);
    CHECK(P == expect_P, "shared prefix %d, expected %d", P, expect_P);
    collect with = {calloc((size_t)ex.n * ns, sizeof(float)), ns};
    collect without = {calloc((size_t)ex.n * ns, sizeof(float)), ns};
    pt_eval_result rw, ro;
    e.prefix_reuse = 1;
    CHECK(pt_evaluate(&e, &ex, table, Wh, bh, &rw, on_example, &with) == PT_OK, "%s",
          pt_last_error());
    e.prefix_reuse = 0;
    CHECK(pt_evaluate(&e, &ex, table, Wh, bh, &ro, on_example, &without) == PT_OK, "%s",
          pt_last_error());
    printf("  prefix of %d tokens reused; %d examples of up to %d tokens\n", P, ex.n, ex.max_len);
    t_close("scores: reuse vs batched forward", with.scores, without.scores, (size_t)ex.n * ns,
            1e-5, 1e-5);
    float lw = (float)rw.loss, lo = (float)ro.loss;
    t_close("loss: reuse vs batched forward", &lw, &lo, 1, 1e-5, 1e-5);
    CHECK(rw.accuracy == ro.accuracy && rw.n == ro.n, "accuracy %g vs %g", rw.accuracy,
          ro.accuracy);
    if (timing && P > 0) {
        e.prefix_reuse = 1;
        double tw = time_eval(&e, &ex, table, Wh, bh, 7);
        e.prefix_reuse = 0;
        double to = time_eval(&e, &ex, table, Wh, bh, 7);
        printf("  eval of %d examples (batch 16), median of 7: batched forward %.3f ms, prefix "
               "reuse %.3f ms, speedup %.2fx\n",
               ex.n, 1e3 * to, 1e3 * tw, to / tw);
    }
    free(with.scores), free(without.scores), free(table), free(W), free(b);
    pt_engine_free(&e);
    pt_examples_free(&ex);
    pt_dataset_free(&d);
    pt_task_free(&t);
    pt_model_free(m);
    return P;
}

int main(void) {
    const char *gpt2 = "tests/fixtures/gpt2/tiny", *llama = "tests/fixtures/llama/tiny.gguf";
    const char *labels = "animal:animal,fruit:fruit";
    /* GPT-2: the 8 virtual tokens are the prefix (the sentences start differently) */
    compare(gpt2, "[P*8] {sentence} It is a [MASK]", PT_TASK_CLASSIFY, PT_HEAD_LM, labels, 8, 1);
    compare(gpt2, "[P*3] [P*5] {sentence} It is a [MASK]", PT_TASK_CLASSIFY, PT_HEAD_LINEAR,
            "animal,fruit", 8, 0);
    compare(gpt2, "[P*4] {sentence} It is a [MASK]", PT_TASK_KNOWLEDGE, PT_HEAD_LM, NULL, 4, 0);
    /* text before the first field joins the prefix when a marker separates it:
     * " Sentence:" is 10 tokens of the tiny vocabulary (Ġ S e n t e n c e :) */
    compare(gpt2, "[P*2] Sentence: [P*2] {sentence} It is a [MASK]", PT_TASK_CLASSIFY, PT_HEAD_LM,
            labels, 2 + 10 + 2, 0);
    /* a virtual token after the input: no reuse, the batched path */
    compare(gpt2, "[P*4] {sentence} [P*2] It is a [MASK]", PT_TASK_CLASSIFY, PT_HEAD_LM, labels, 0,
            0);
    /* LLaMA: BOS + virtual tokens + one more: the text after [P*n] starts with
     * a space, and with the dummy prefix that is a lone "▁" token in every example
     * (" the" -> "▁ ▁the" in the tiny vocabulary) */
    compare(llama, "[P*8] {sentence} It is a [MASK]", PT_TASK_CLASSIFY, PT_HEAD_LM,
            "animal:cat,fruit:the", 1 + 8 + 1, 1);
    compare(llama, "[P*4] {sentence} It is a [MASK]", PT_TASK_CLASSIFY, PT_HEAD_LINEAR,
            "animal,fruit", 1 + 4 + 1, 0);
    return t_done();
}
