/* test_deep.c - deep prompts (prefix tuning / P-tuning v2): D rows of keys
 * and values in front of every layer's attention (train/engine.h deep_len).
 * Against the PyTorch reference of scripts/gen_deep_fixtures.py (Hugging
 * Face past_key_values semantics: prefix keys without RoPE, positions from
 * D) on the tiny GPT-2, BERT and LLaMA: loss, the final hidden states at the
 * answers and d loss / d deep (every layer's prefix) within 1e-4 relative;
 * then central finite differences of the engine's own loss agree with its
 * gradient; and with and without recomputation, with and without the
 * last-block shortcut the numbers are the same. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/safetensors.h"
#include "models/model.h"
#include "models/run_impl.h"
#include "prompt/encoder.h"
#include "prompt/promptfile.h"
#include "prompt/task.h"
#include "train/engine.h"
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

/* loss and (if ddeep) its gradient for the fixture's batch */
static double run(pt_engine *e, const pt_example *const *batch, int B, const float *deep,
                  float *ddeep) {
    double loss = NAN;
    e->deep = deep, e->ddeep = ddeep;
    pt_status s = pt_engine_run(e, batch, B, NULL, NULL, NULL, &loss, NULL, NULL, NULL, NULL);
    CHECK(s == PT_OK, "engine run: %s", pt_last_error());
    return loss;
}

static void one(const char *model, const char *fixture) {
    printf("%s with a deep prompt (%s)\n", model, fixture);
    pt_model *m = NULL;
    if (pt_model_load(&m, model)) {
        CHECK(0, "%s", pt_last_error());
        return;
    }
    pt_st_file f;
    if (pt_st_open(&f, fixture)) {
        CHECK(0, "%s", pt_last_error());
        pt_model_free(m);
        return;
    }
    const pt_st_tensor *tid = need(&f, "ids"), *tdeep = need(&f, "deep");
    int B = (int)tid->shape[0], T = (int)tid->shape[1], D = (int)tdeep->shape[0];
    size_t W = pt_engine_deep_width(m), n = (size_t)D * W;
    CHECK((size_t)tdeep->shape[1] == W, "deep width %lld, the model's %zu",
          (long long)tdeep->shape[1], W);
    pt_task task;
    memset(&task, 0, sizeof task);
    task.kind = PT_TASK_CLASSIFY;
    task.head = PT_HEAD_LM;
    task.n_labels = 2;
    int rows[2];
    memcpy(rows, I32(&f, "rows"), sizeof rows);
    task.label_ids[0] = task.label_ids[1] = rows;
    pt_example ex[8];
    const pt_example *batch[8];
    const int *ids = I32(&f, "ids");
    int virt[1];
    for (int b = 0; b < B && b < 8; b++) {
        memset(&ex[b], 0, sizeof ex[b]);
        ex[b].r.ids = (int *)ids + b * T;
        ex[b].r.n = I32(&f, "lens")[b];
        ex[b].r.answer = I32(&f, "answers")[b];
        ex[b].r.virt_pos = virt;
        ex[b].target = I32(&f, "targets")[b];
        batch[b] = &ex[b];
    }
    pt_engine e;
    CHECK(pt_engine_init(&e, m, &task, B, T) == PT_OK, "engine: %s", pt_last_error());
    CHECK(pt_engine_use_deep(&e, D) == PT_OK, "deep: %s", pt_last_error());
    float *deep = malloc(sizeof(float) * n), *g = calloc(n, sizeof(float));
    float *g2 = calloc(n, sizeof(float));
    memcpy(deep, F32(&f, "deep"), sizeof(float) * n);
    float lf = (float)run(&e, batch, B, deep, g);
    t_close("loss", &lf, F32(&f, "loss"), 1, 1e-5, 1e-6);
    t_close("final hidden states at the answers", e.h, F32(&f, "h"), (size_t)B * m->cfg.dim, 1e-4,
            1e-5);
    t_close("d loss / d deep prompt (every layer's keys and values)", g, F32(&f, "ddeep"), n, 1e-4,
            1e-6);
    /* the same through recomputation and without the last-block shortcut */
    pt_model_set_recompute(m, 1);
    pt_engine e2;
    CHECK(pt_engine_init(&e2, m, &task, B, T) == PT_OK, "engine: %s", pt_last_error());
    CHECK(pt_engine_use_deep(&e2, D) == PT_OK, "deep: %s", pt_last_error());
    e2.run->no_sel = 1;
    float l2 = (float)run(&e2, batch, B, deep, g2);
    t_close("loss, recomputed, no shortcut", &l2, &lf, 1, 1e-6, 1e-7);
    t_close("d loss / d deep, recomputed, no shortcut", g2, g, n, 1e-5, 1e-7);
    pt_engine_free(&e2);
    pt_model_set_recompute(m, 0);
    /* causal models: decoding with the deep prompt put in the key/value cache
     * (as generate does) gives the same final hidden state at the answer */
    if (m->cfg.causal) {
        pt_cache *kc = NULL;
        CHECK(pt_cache_new(m, D + T, &kc) == PT_OK, "%s", pt_last_error());
        int C = m->cfg.dim;
        float *x = malloc(sizeof(float) * (size_t)T * C), *hl = malloc(sizeof(float) * C);
        double worst = 0;
        for (int b = 0; b < B && kc; b++) {
            pt_cache_reset(kc, 0);
            CHECK(pt_cache_put(m, kc, deep, D) == PT_OK, "%s", pt_last_error());
            int na = ex[b].r.answer + 1;
            CHECK(pt_model_embed(m, x, ex[b].r.ids, na) == PT_OK, "%s", pt_last_error());
            CHECK(pt_cache_decode(m, kc, x, na, hl) == PT_OK, "%s", pt_last_error());
            for (int c = 0; c < C; c++) {
                double dd = fabs(hl[c] - e.h[(size_t)b * C + c]);
                if (dd > worst) worst = dd;
            }
        }
        printf("  decoding after pt_cache_put of the deep prompt: largest |difference| of the "
               "answer's hidden state %.3g\n",
               worst);
        CHECK(worst < 1e-5, "cache decode differs by %g", worst);
        free(x), free(hl);
        pt_cache_free(kc);
    }
    /* PEFT's PrefixEncoder (prefix-mlp) in front: its parameters' gradients */
    if (pt_st_find(&f, "enc.embedding.weight")) {
        pt_encoder enc;
        pt_rng rng;
        pt_rng_seed(&rng, 1);
        int H = (int)need(&f, "enc.transform.0.weight")->shape[0];
        CHECK(pt_encoder_init_prefix(&enc, D, m->cfg.dim, H, (int)W, &rng) == PT_OK, "%s",
              pt_last_error());
        for (int i = 0; i < enc.n_tensors; i++) {
            char name[80];
            snprintf(name, sizeof name, "enc.%s", enc.tensors[i].name);
            CHECK((size_t)need(&f, name)->numel == enc.tensors[i].numel, "%s size", name);
            memcpy(enc.params + enc.tensors[i].offset, need(&f, name)->data,
                   sizeof(float) * enc.tensors[i].numel);
        }
        float *dp = malloc(sizeof(float) * n), *gd = calloc(n, sizeof(float));
        pt_encoder_zero_grad(&enc);
        pt_encoder_forward(&enc, dp);
        t_close("prefix-mlp encoder output (the deep prompt)", dp, F32(&f, "enc_deep"), n, 1e-5,
                1e-6);
        float le = (float)run(&e, batch, B, dp, gd);
        t_close("loss through the prefix-mlp encoder", &le, F32(&f, "enc_loss"), 1, 1e-5, 1e-6);
        pt_encoder_backward(&enc, gd);
        for (int i = 0; i < enc.n_tensors; i++) {
            char name[80], what[96];
            snprintf(name, sizeof name, "grad.enc.%s", enc.tensors[i].name);
            snprintf(what, sizeof what, "grad %s", enc.tensors[i].name);
            t_close(what, enc.grads + enc.tensors[i].offset, F32(&f, name), enc.tensors[i].numel,
                    2e-4, 1e-6);
        }
        free(dp), free(gd);
        pt_encoder_free(&enc);
    }
    /* central differences of the engine's own loss at a few entries */
    double worst = 0;
    int bad = 0;
    for (size_t k = 0; k < n; k += n / 7 + 1) {
        float keep = deep[k], h = 1e-2f;
        deep[k] = keep + h;
        double lp = run(&e, batch, B, deep, NULL);
        deep[k] = keep - h;
        double lm = run(&e, batch, B, deep, NULL);
        deep[k] = keep;
        double fd = (lp - lm) / (2.0 * h), err = fabs(fd - g[k]);
        double tol = 2e-3 + 2e-2 * fabs(fd);
        if (err > worst) worst = err;
        if (err > tol)
            bad++, printf("  entry %zu: gradient %.6g, finite difference %.6g\n", k, g[k], fd);
    }
    printf("  finite differences (h = 1e-2): largest |difference| %.3g\n", worst);
    CHECK(bad == 0, "%d finite-difference mismatches", bad);
    free(deep), free(g), free(g2);
    pt_engine_free(&e);
    pt_st_close(&f);
    pt_model_free(m);
}

/* --greedy MODEL PROMPT TEXT N: N greedy token ids after TEXT rendered in the
 * prompt file's one-field template, decoding by hand: the file's deep prompt
 * put in the cache first (tests/test_deep_cli.sh compares ptune generate). */
static int greedy(const char *model, const char *prompt, const char *text, int N) {
    pt_model *m = NULL;
    pt_prompt pf;
    pt_template tm;
    pt_rendered r;
    pt_cache *c = NULL;
    if (pt_model_load(&m, model) || pt_prompt_load(&pf, prompt) ||
        pt_template_parse(&tm, pf.template_src) ||
        pt_template_render(&tm, m, (const char *const[]){text}, 0, &r) ||
        pt_cache_new(m, pf.D + r.n + N, &c) || pt_cache_put(m, c, pf.deep, pf.D)) {
        fprintf(stderr, "%s\n", pt_last_error());
        return 1;
    }
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    float *x = malloc(sizeof(float) * (size_t)r.n * C), *h = malloc(sizeof(float) * C);
    float *lg = malloc(sizeof(float) * V);
    if (pt_model_embed(m, x, r.ids, r.n) || pt_cache_decode(m, c, x, r.n, h)) return 1;
    for (int k = 0; k < N; k++) {
        if (pt_model_head_forward(m, NULL, lg, h, 1, NULL, V)) return 1;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (lg[v] > lg[best]) best = v;
        printf("%s%d", k ? " " : "", best);
        if (pt_model_embed(m, x, &best, 1) || pt_cache_decode(m, c, x, 1, h)) return 1;
    }
    printf("\n");
    free(x), free(h), free(lg);
    pt_cache_free(c);
    pt_rendered_free(&r);
    pt_template_free(&tm);
    pt_prompt_free(&pf);
    pt_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "--greedy"))
        return greedy(argv[2], argv[3], argv[4], atoi(argv[5]));
    one("tests/fixtures/gpt2/tiny", "tests/fixtures/deep/gpt2.safetensors");
    one("tests/fixtures/bert/tiny", "tests/fixtures/deep/bert.safetensors");
    one("tests/fixtures/llama/tiny_hf", "tests/fixtures/deep/llama.safetensors");
    one("tests/fixtures/llama/tiny.gguf", "tests/fixtures/deep/llama.safetensors");
    return t_done();
}
