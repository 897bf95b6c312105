/* test_kvcache.c - the training engine's key/value cache of prompt-independent
 * rows (train/kvcache.h): with the cache a step runs only from each example's
 * first virtual token on; the loss, the scores and the gradients of the prompt
 * table (and of the linear head) must equal the full computation's within
 * 3e-6 of each tensor's scale (summation order only), on the first step (cache filled) and on later
 * ones (cache hits), with prompts first, in the middle, last and in several groups, for the causal
 * families (tiny GPT-2, tiny LLaMA from GGUF); a budget too small for any entry still gives the
 * same numbers (rows computed every step); the cache really skips rows (counted). BERT is
 * bidirectional: no cache. The reference runs every block at every row (no_sel); the others use the
 * last-block shortcut (only the answer rows through the last block) where the
 * family has it, and a third engine uses the shortcut without the cache. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "models/run_impl.h"
#include "prompt/task.h"
#include "train/engine.h"
#include "test.h"

#define DATA "tests/fixtures/learn/dev.jsonl"
#define TOL 3e-6 /* relative to the tensor's largest value; seen up to 2.2e-6 (-O1, asan) */

/* |got - want| <= tol * max|want| elementwise: relative to the tensor's scale
 * (the two computations differ in float summation order only: the split
 * attention sums earlier and own keys in separate groups, and the full pass's
 * scores may go through the BLAS while the split one's do not). */
static void close_norm(const char *what, const float *got, const float *want, size_t n,
                       double tol) {
    double mx = 0, d = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)got[i] - want[i]));
    printf("  %-40s max abs diff %.3g, relative to max |value| %.3g: %.3g%s\n", what, d, mx,
           mx > 0 ? d / mx : d, d <= tol * mx ? "" : "  <-- FAIL");
    CHECK(d <= tol * mx, "%s: %g > %g * %g", what, d, tol, mx);
}

typedef struct outcome {
    double loss;
    float *scores, *dtable, *dW, *db;
} outcome;

/* Three steps over the first 3 batches of 8; gradients summed over them. */
static int run(pt_engine *e, const pt_examples *ex, const float *table, const float *W,
               const float *b, int S, int C, int nl, outcome *o) {
    const pt_example *batch[8];
    o->loss = 0;
    for (int step = 0; step < 3; step++) {
        for (int j = 0; j < 8; j++) batch[j] = &ex->ex[(step * 8 + j) % ex->n];
        double loss;
        pt_status s = pt_engine_run(e, batch, 8, table, W, b, &loss, NULL, o->dtable,
                                    W ? o->dW : NULL, W ? o->db : NULL);
        if (s) return 0;
        o->loss += loss;
        memcpy(o->scores + (size_t)step * 8 * e->ns, e->scores, sizeof(float) * 8 * e->ns);
    }
    (void)S, (void)C, (void)nl;
    return 1;
}

static void compare(const char *model, const char *labels, const char *tmpl, pt_head_kind head,
                    size_t budget, int expect_skip) {
    printf("%s  \"%s\" (%s head%s)\n", model, tmpl, head == PT_HEAD_LM ? "lm" : "linear",
           budget < 4096 ? ", tiny cache budget" : "");
    pt_model *m = NULL;
    pt_task t;
    pt_dataset d;
    pt_examples ex;
    if (pt_model_load(&m, model)) {
        CHECK(0, "%s", pt_last_error());
        return;
    }
    if (pt_task_init(&t, m, tmpl, PT_TASK_CLASSIFY, head, labels, "label")) {
        CHECK(0, "task: %s", pt_last_error());
        pt_model_free(m);
        return;
    }
    CHECK(pt_dataset_load(&d, DATA) == PT_OK, "%s", pt_last_error());
    CHECK(pt_examples_build(&ex, &t, m, &d, 1, 0) == PT_OK, "%s", pt_last_error());
    int C = m->cfg.dim, S = t.tmpl.n_virtual, nl = t.n_labels, ns = pt_task_n_scores(&t, m);
    pt_rng r;
    pt_rng_seed(&r, 5);
    float *table = malloc(sizeof(float) * S * C), *W = malloc(sizeof(float) * nl * C);
    float *b = malloc(sizeof(float) * nl);
    for (int i = 0; i < S * C; i++) table[i] = 0.5f * pt_rng_normal(&r);
    for (int i = 0; i < nl * C; i++) W[i] = 0.1f * pt_rng_normal(&r);
    for (int i = 0; i < nl; i++) b[i] = 0.1f * pt_rng_normal(&r);
    const float *Wh = head == PT_HEAD_LINEAR ? W : NULL, *bh = head == PT_HEAD_LINEAR ? b : NULL;
    outcome o[3];
    for (int k = 0; k < 3; k++) {
        o[k].scores = calloc((size_t)24 * ns, sizeof(float));
        o[k].dtable = calloc((size_t)S * C, sizeof(float));
        o[k].dW = calloc((size_t)nl * C, sizeof(float));
        o[k].db = calloc((size_t)nl, sizeof(float));
    }
    pt_engine full, cached;
    CHECK(pt_engine_init(&full, m, &t, 8, ex.max_len) == PT_OK, "%s", pt_last_error());
    CHECK(pt_engine_init(&cached, m, &t, 8, ex.max_len) == PT_OK, "%s", pt_last_error());
    CHECK(pt_engine_use_cache(&cached, budget) == PT_OK, "%s", pt_last_error());
    pt_engine sel;
    CHECK(pt_engine_init(&sel, m, &t, 8, ex.max_len) == PT_OK, "%s", pt_last_error());
    full.run->no_sel = 1; /* the reference: every block at every row */
    cached.run->no_sel = sel.run->no_sel = 0;
    CHECK(run(&full, &ex, table, Wh, bh, S, C, nl, &o[0]), "full: %s", pt_last_error());
    CHECK(run(&sel, &ex, table, Wh, bh, S, C, nl, &o[2]), "shortcut: %s", pt_last_error());
    int used = sel.run->pass.sel != NULL;
    printf("  last-block shortcut: %s\n", used ? "used" : "not used (family runs every row)");
    if (m->fam->last_rows) CHECK(used, "the family has the shortcut but the pass did not use it");
    close_norm("loss: shortcut vs full", &(float){(float)o[2].loss}, &(float){(float)o[0].loss}, 1,
               TOL);
    close_norm("scores: shortcut vs full", o[2].scores, o[0].scores, (size_t)24 * ns, TOL);
    close_norm("d loss / d prompt: shortcut vs full", o[2].dtable, o[0].dtable, (size_t)S * C, TOL);
    if (head == PT_HEAD_LINEAR)
        close_norm("d loss / d head W: shortcut vs full", o[2].dW, o[0].dW, (size_t)nl * C, TOL);
    /* twice through the same batches: the second pass hits the cache */
    CHECK(run(&cached, &ex, table, Wh, bh, S, C, nl, &o[1]), "cached: %s", pt_last_error());
    memset(o[1].dtable, 0, sizeof(float) * S * C);
    memset(o[1].dW, 0, sizeof(float) * nl * C);
    memset(o[1].db, 0, sizeof(float) * nl);
    long run1 = cached.rows_run;
    CHECK(run(&cached, &ex, table, Wh, bh, S, C, nl, &o[1]), "cached: %s", pt_last_error());
    long run2 = cached.rows_run - run1, full_rows = full.rows_run;
    printf("  rows run: full %ld, cached first pass %ld, cached second pass %ld (%ld from the "
           "cache, %ld hits)\n",
           full_rows, run1, run2, cached.rows_cached, cached.kvc ? cached.kvc->hits : 0L);
    if (expect_skip)
        CHECK(run2 < full_rows, "the cache skipped no rows (%ld vs %ld)", run2, full_rows);
    else
        CHECK(run2 == full_rows, "rows skipped where none can be (%ld vs %ld)", run2, full_rows);
    float l0 = (float)o[0].loss, l1 = (float)o[1].loss;
    close_norm("loss: cached vs full", &l1, &l0, 1, TOL);
    close_norm("scores: cached vs full", o[1].scores, o[0].scores, (size_t)24 * ns, TOL);
    close_norm("d loss / d prompt: cached vs full", o[1].dtable, o[0].dtable, (size_t)S * C, TOL);
    if (head == PT_HEAD_LINEAR) {
        close_norm("d loss / d head W: cached vs full", o[1].dW, o[0].dW, (size_t)nl * C, TOL);
        close_norm("d loss / d head b: cached vs full", o[1].db, o[0].db, (size_t)nl, TOL);
    }
    for (int k = 0; k < 3; k++) free(o[k].scores), free(o[k].dtable), free(o[k].dW), free(o[k].db);
    pt_engine_free(&sel);
    free(table), free(W), free(b);
    pt_engine_free(&full);
    pt_engine_free(&cached);
    pt_examples_free(&ex);
    pt_dataset_free(&d);
    pt_task_free(&t);
    pt_model_free(m);
}

int main(void) {
    const char *models[] = {"tests/fixtures/gpt2/tiny", "tests/fixtures/llama/tiny.gguf"};
    const char *labels[] = {"animal:animal,fruit:fruit", "animal:cat,fruit:mat"};
    size_t big = (size_t)64 << 20;
    for (int i = 0; i < 2; i++) {
        const char *lb = labels[i];
        compare(models[i], lb, "{sentence} [P*4] It is a [MASK]", PT_HEAD_LM, big, 1);
        compare(models[i], lb, "The {sentence} [P*2] is [P*2] a [MASK]", PT_HEAD_LM, big, 1);
        compare(models[i], lb, "[P*3] {sentence} [P*2] It is a [MASK]", PT_HEAD_LINEAR, big,
                i == 1);
        compare(models[i], lb, "{sentence} It is a [P*3][MASK]", PT_HEAD_LINEAR, big, 1);
        compare(models[i], lb, "{sentence} [P*4] It is a [MASK]", PT_HEAD_LM, 1024, 0);
    }
    /* BERT: the cache is a no-op (bidirectional: every row depends on the prompt) */
    const char *bl = "animal:yes,fruit:no", *bert = "tests/fixtures/bert/tiny";
    compare(bert, bl, "{sentence} [P*4] It is a [MASK] .", PT_HEAD_LM, big, 0);
    compare(bert, bl, "[P*3] {sentence} [P*2] It is a [MASK] .", PT_HEAD_LM, big, 0);
    compare(bert, bl, "The {sentence} [P*2] is [P*2] a [MASK]", PT_HEAD_LINEAR, big, 0);
    compare(bert, bl, "{sentence} It is a [MASK] [P*3]", PT_HEAD_LINEAR, big, 0);
    return t_done();
}
