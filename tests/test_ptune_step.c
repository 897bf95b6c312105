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
    int S = 4, C = m->cfg.dim, H = 16, B = 3, T = (int)need(&f, "ids")->shape[1];
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
    float dW[2 * 64] = {0}, db[2] = {0}; /* C <= 64 in the fixtures */
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
        t_close(what, enc.grads + enc.tensors[i].offset, F32(&f, name), enc.tensors[i].numel, 2e-4,
                1e-6);
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
            const pt_enc_tensor *et = &enc.tensors[i];
            if (ok == PT_OPTIM_SGD) {
                t_close(name, enc.params + et->offset, F32(&f, name), et->numel, 1e-4, 1e-6);
                continue;
            }
            /* Adam's first step is lr * g / (|g| + eps) with g the clipped gradient (plus
             * wd * p for adam's L2 decay). Its sensitivity to g is lr * eps / (|g| + eps)^2,
             * so our gradient's observed difference dg from the reference's (checked
             * above) moves the update by up to that times dg: each element's tolerance is
             * 1e-6 + 1e-4 |want| plus twice this propagated difference. Where g is tiny
             * but not zero (|g| < 1e-6) the ratio is ill-conditioned and the element is
             * only checked to move by at most lr. */
            char gname[96];
            snprintf(gname, sizeof gname, "grad.%s", et->name);
            const float *gref = F32(&f, gname), *want = F32(&f, name);
            const float *got = enc.params + et->offset;
            size_t n_tight = 0, n_loose = 0, loose_bad = 0, tight_bad = 0;
            double maxd = 0, worst = 0;
            float scale = norm > 1.0f ? 1.0f / (norm + 1e-6f) : 1.0f;
            const double lr = 1e-2, eps = 1e-8, wd = 0.01;
            for (size_t j = 0; j < et->numel; j++) {
                double p = p0[et->offset + j];
                double ge = (double)gref[j] * scale + (ok == PT_OPTIM_ADAM ? wd * p : 0.0);
                double dg = fabs((double)g0[et->offset + j] - gref[j]) * scale;
                double d = fabs((double)got[j] - want[j]);
                if (ge != 0.0 && fabs(ge) < 1e-6) {
                    n_loose++;
                    loose_bad += fabs((double)got[j] - p) > lr * 1.0001 + 1e-4;
                    continue;
                }
                double tol = 1e-6 + 1e-4 * fabs((double)want[j]) +
                             2.0 * lr * eps * dg / ((fabs(ge) + eps) * (fabs(ge) + eps));
                n_tight++;
                maxd = d > maxd ? d : maxd;
                worst = d / tol > worst ? d / tol : worst;
                tight_bad += !(d <= tol);
            }
            printf("  %-40s max abs diff %.3g, at most %.2f of its tolerance, over %zu values "
                   "(%zu tiny-gradient elements apart)%s\n",
                   name, maxd, worst, n_tight, n_loose, tight_bad ? "  <-- FAIL" : "");
            CHECK(tight_bad == 0, "%s: %zu values out of tolerance", name, tight_bad);
            CHECK(loose_bad == 0, "%s: %zu tiny-gradient elements moved by more than lr", name,
                  loose_bad);
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

static pt_model *load(const char *path) {
    pt_model *m;
    if (pt_model_load(&m, path)) {
        fprintf(stderr, "%s\n", pt_last_error());
        exit(1);
    }
    return m;
}

int main(void) {
    const char *all[] = {"adamw", "adam", "sgd"}, *adamw[] = {"adamw"}, *adam[] = {"adam"},
               *sgd[] = {"sgd"};
    const pt_encoder_kind LSTM = PT_ENCODER_LSTM, MLP = PT_ENCODER_MLP, EMB = PT_ENCODER_EMBEDDING;
    const pt_head_kind LM = PT_HEAD_LM, LIN = PT_HEAD_LINEAR;
    const pt_task_kind CLS = PT_TASK_CLASSIFY, KNOW = PT_TASK_KNOWLEDGE;
#define FX(n) "tests/fixtures/ptune/step_" n ".safetensors"
    pt_model *m = load("tests/fixtures/gpt2/tiny");
    run_case(m, FX("lstm_lm"), LSTM, LM, CLS, all, 3);
    run_case(m, FX("mlp_lm"), MLP, LM, CLS, adamw, 1);
    run_case(m, FX("embedding_linear"), EMB, LIN, CLS, sgd, 1);
    run_case(m, FX("embedding_knowledge"), EMB, LM, KNOW, adamw, 1);
    pt_model_free(m);
    m = load("tests/fixtures/bert/tiny");
    run_case(m, FX("bert_lstm_lm"), LSTM, LM, CLS, adamw, 1);
    run_case(m, FX("bert_mlp_linear"), MLP, LIN, CLS, adamw, 1);
    run_case(m, FX("bert_embedding_knowledge"), EMB, LM, KNOW, sgd, 1);
    pt_model_free(m);
    m = load("tests/fixtures/llama/tiny_hf");
    run_case(m, FX("llama_lstm_lm"), LSTM, LM, CLS, adamw, 1);
    run_case(m, FX("llama_mlp_linear"), MLP, LIN, CLS, adam, 1);
    run_case(m, FX("llama_embedding_knowledge"), EMB, LM, KNOW, sgd, 1);
    pt_model_free(m);
    return t_done();
}
