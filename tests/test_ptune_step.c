/* test_ptune_step.c - whole P-tuning steps against PyTorch
 * (tests/fixtures/ptune/step_*.safetensors from scripts/gen_ptune_step_fixtures.py):
 * encoder forward, table spliced into a padded batch, frozen GPT-2, head, loss,
 * d(loss)/d(table), encoder gradients, and one step of each optimizer. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/safetensors.h"
#include "models/model.h"
#include "prompt/encoder.h"
#include "prompt/task.h"
#include "train/engine.h"
#include "train/optim.h"
#include "test.h"

static const pt_st_tensor *need(const pt_st_file *f, const char *name) {
    const pt_st_tensor *t = pt_st_find(f, name);
    if (!t) {
        fprintf(stderr, "fixture %s: tensor %s missing\n", f->path, name);
        exit(1);
    }
    return t;
}
#define F32(f, n) ((const float *)need(f, n)->data)
#define I32(f, n) ((const int *)need(f, n)->data)

static void run_case(pt_model *m, const char *file, pt_encoder_kind kind, pt_head_kind head,
                     pt_task_kind tk, const char *const *optims, int n_optims) {
    pt_st_file f;
    if (pt_st_open(&f, file)) {
        fprintf(stderr, "%s\n", pt_last_error());
        exit(1);
    }
    printf("%s:\n", file);
    int S = 4, C = m->cfg.dim, H = 16, B = 3, T = 8;
    pt_rng rng;
    pt_rng_seed(&rng, 1);
    pt_encoder enc;
    CHECK(pt_encoder_init(&enc, kind, S, C, H, &rng) == PT_OK, "encoder init: %s", pt_last_error());
    for (int i = 0; i < enc.n_tensors; i++) {
        char name[80];
        snprintf(name, sizeof name, "enc.%s", enc.tensors[i].name);
        const pt_st_tensor *t = need(&f, name);
        CHECK((size_t)t->numel == enc.tensors[i].numel, "%s size", name);
        memcpy(enc.params + enc.tensors[i].offset, t->data, t->numel * sizeof(float));
    }
    /* the task, by hand: S virtual tokens, two label rows */
    pt_task task;
    memset(&task, 0, sizeof task);
    task.kind = tk;
    task.head = head;
    task.n_labels = 2;
    int rows[2];
    memcpy(rows, I32(&f, "label_rows"), sizeof rows);
    task.label_ids[0] = task.label_ids[1] = rows;
    task.tmpl.n_virtual = S;
    /* the examples from the fixture's ids (-1 = virtual) */
    pt_example ex[3];
    const pt_example *batch[3];
    const int *ids = I32(&f, "ids"), *lens = I32(&f, "lens"), *ans = I32(&f, "answers");
    for (int b = 0; b < B; b++) {
        memset(&ex[b], 0, sizeof ex[b]);
        ex[b].r.ids = (int *)ids + b * T;
        ex[b].r.n = lens[b];
        ex[b].r.answer = ans[b];
        ex[b].r.virt_pos = malloc(sizeof(int) * S);
        for (int t = 0, k = 0; t < lens[b]; t++)
            if (ids[b * T + t] < 0) ex[b].r.virt_pos[k++] = t;
        ex[b].target = I32(&f, "targets")[b];
        batch[b] = &ex[b];
    }
    float *table = malloc(sizeof(float) * S * C), *dtable = calloc((size_t)S * C, sizeof(float));
    pt_encoder_zero_grad(&enc);
    pt_encoder_forward(&enc, table);
    t_close("encoder output (prompt table)", table, F32(&f, "table"), (size_t)S * C, 1e-4, 1e-5);

    pt_engine e;
    CHECK(pt_engine_init(&e, m, &task, B, T) == PT_OK, "engine: %s", pt_last_error());
    const float *W = head == PT_HEAD_LINEAR ? F32(&f, "head.W") : NULL;
    const float *bb = head == PT_HEAD_LINEAR ? F32(&f, "head.b") : NULL;
    float dW[2 * 64] = {0}, db[2] = {0};
    double loss;
    CHECK(pt_engine_run(&e, batch, B, table, W, bb, &loss, NULL, dtable, dW, db) == PT_OK,
          "engine run: %s", pt_last_error());
    float lf = (float)loss;
    t_close("loss (mean over the batch)", &lf, F32(&f, "loss"), 1, 1e-5, 1e-6);
    t_close("d loss / d prompt table", dtable, F32(&f, "dtable"), (size_t)S * C, 1e-4, 1e-6);
    if (head == PT_HEAD_LINEAR) {
        t_close("d loss / d head.weight", dW, F32(&f, "grad.head.W"), 2 * (size_t)C, 1e-4, 1e-6);
        t_close("d loss / d head.bias", db, F32(&f, "grad.head.b"), 2, 1e-4, 1e-6);
    }
    pt_encoder_backward(&enc, dtable);
    for (int i = 0; i < enc.n_tensors; i++) {
        char name[80], what[96];
        snprintf(name, sizeof name, "grad.%s", enc.tensors[i].name);
        snprintf(what, sizeof what, "grad %s", enc.tensors[i].name);
        t_close(what, enc.grads + enc.tensors[i].offset, F32(&f, name), enc.tensors[i].numel,
                2e-4, 1e-6);
    }
    /* optimizer steps from these gradients after clipping at 1.0 */
    float *g0 = malloc(sizeof(float) * enc.n_params), *p0 = malloc(sizeof(float) * enc.n_params);
    memcpy(g0, enc.grads, sizeof(float) * enc.n_params);
    memcpy(p0, enc.params, sizeof(float) * enc.n_params);
    float norm = pt_clip_grad_norm(enc.grads, enc.n_params, 1.0f);
    t_close("gradient norm before clipping", &norm, F32(&f, "grad_norm"), 1, 1e-4, 1e-6);
    for (int o = 0; o < n_optims; o++) {
        pt_optim opt;
        pt_optim_kind ok;
        pt_optim_kind_parse(optims[o], &ok);
        pt_optim_init(&opt, ok, enc.n_params, 0.01f);
        memcpy(enc.params, p0, sizeof(float) * enc.n_params);
        memcpy(enc.grads, g0, sizeof(float) * enc.n_params);
        pt_clip_grad_norm(enc.grads, enc.n_params, 1.0f);
        pt_optim_step(&opt, enc.params, enc.grads, 1e-2f);
        for (int i = 0; i < enc.n_tensors; i++) {
            char name[96];
            snprintf(name, sizeof name, "%s.%s", optims[o], enc.tensors[i].name);
            t_close(name, enc.params + enc.tensors[i].offset, F32(&f, name), enc.tensors[i].numel,
                    1e-4, 1e-6);
        }
        pt_optim_free(&opt);
    }
    free(g0);
    free(p0);
    for (int b = 0; b < B; b++) free(ex[b].r.virt_pos);
    free(table);
    free(dtable);
    pt_engine_free(&e);
    pt_encoder_free(&enc);
    pt_st_close(&f);
}

int main(void) {
    pt_model *m;
    if (pt_model_load(&m, "tests/fixtures/gpt2/tiny")) {
        fprintf(stderr, "%s\n", pt_last_error());
        return 1;
    }
    const char *all[] = {"adamw", "adam", "sgd"}, *adamw[] = {"adamw"}, *sgd[] = {"sgd"};
    run_case(m, "tests/fixtures/ptune/step_lstm_lm.safetensors", PT_ENCODER_LSTM, PT_HEAD_LM,
             PT_TASK_CLASSIFY, all, 3);
    run_case(m, "tests/fixtures/ptune/step_mlp_lm.safetensors", PT_ENCODER_MLP, PT_HEAD_LM,
             PT_TASK_CLASSIFY, adamw, 1);
    run_case(m, "tests/fixtures/ptune/step_embedding_linear.safetensors", PT_ENCODER_EMBEDDING,
             PT_HEAD_LINEAR, PT_TASK_CLASSIFY, sgd, 1);
    run_case(m, "tests/fixtures/ptune/step_embedding_knowledge.safetensors", PT_ENCODER_EMBEDDING,
             PT_HEAD_LM, PT_TASK_KNOWLEDGE, adamw, 1);
    pt_model_free(m);
    return t_done();
}
