/* test_optim.c - AdamW / Adam / SGD, gradient clipping and the learning-rate
 * schedule: hand-derived cases, then PyTorch fixtures
 * (tests/fixtures/encoder/optim.safetensors from scripts/gen_encoder_fixtures.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/safetensors.h"
#include "train/optim.h"
#include "test.h"

#define FIXTURE "tests/fixtures/encoder/optim.safetensors"

static void test_names(void) {
    pt_optim_kind k;
    CHECK(pt_optim_kind_parse("adamw", &k) && k == PT_OPTIM_ADAMW, "parse adamw");
    CHECK(pt_optim_kind_parse("adam", &k) && k == PT_OPTIM_ADAM, "parse adam");
    CHECK(pt_optim_kind_parse("sgd", &k) && k == PT_OPTIM_SGD, "parse sgd");
    CHECK(!pt_optim_kind_parse("rmsprop", &k), "unknown optimizer rejected");
    CHECK(!pt_optim_kind_parse(NULL, &k), "NULL rejected");
    CHECK(strcmp(pt_optim_kind_name(PT_OPTIM_ADAMW), "adamw") == 0, "name adamw");
    pt_optim o;
    CHECK(pt_optim_init(&o, PT_OPTIM_ADAMW, 4, -1.0f) == PT_ERR_ARG, "negative weight decay");
    CHECK(pt_optim_init(&o, (pt_optim_kind)7, 4, 0.0f) == PT_ERR_ARG, "bad kind");
}

/* Hand derivations. */
static void test_hand(void) {
    pt_optim o;
    /* SGD: p - lr*(g + wd*p) = 1 - 0.1*(0.5 + 0.1*1) = 0.94 */
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.0f};
    CHECK(pt_optim_init(&o, PT_OPTIM_SGD, 2, 0.1f) == PT_OK, "init sgd");
    pt_optim_step(&o, p, g, 0.1f);
    CHECK(fabsf(p[0] - 0.94f) < 1e-6f && fabsf(p[1] - (-2.0f + 0.1f * 0.1f * 2.0f)) < 1e-6f,
          "sgd step: %g %g", p[0], p[1]);
    pt_optim_free(&o);

    /* Adam, first step, no decay: m_hat = g, v_hat = g^2, so the update is
     * lr * g / (|g| + eps) = lr * sign(g) up to eps; a zero gradient moves nothing. */
    float q[3] = {1.0f, 1.0f, 1.0f}, gq[3] = {3.0f, -0.25f, 0.0f};
    CHECK(pt_optim_init(&o, PT_OPTIM_ADAM, 3, 0.0f) == PT_OK, "init adam");
    pt_optim_step(&o, q, gq, 0.01f);
    printf("  adam first step: %.7f %.7f %.7f (want 0.99 1.01 1)\n", q[0], q[1], q[2]);
    CHECK(fabsf(q[0] - 0.99f) < 1e-6f && fabsf(q[1] - 1.01f) < 1e-6f && q[2] == 1.0f,
          "adam first step");
    CHECK(o.t == 1, "step counter");
    pt_optim_free(&o);

    /* AdamW decays before the Adam update: with g = 0 only p *= 1 - lr*wd. */
    float r[1] = {2.0f}, gr[1] = {0.0f};
    CHECK(pt_optim_init(&o, PT_OPTIM_ADAMW, 1, 0.5f) == PT_OK, "init adamw");
    pt_optim_step(&o, r, gr, 0.1f);
    CHECK(fabsf(r[0] - 2.0f * 0.95f) < 1e-6f, "adamw decoupled decay: %g", r[0]);
    pt_optim_free(&o);

    /* clipping: (3, 4) has norm 5; max 1 scales by 1/(5 + 1e-6) */
    float c[2] = {3.0f, 4.0f};
    float n = pt_clip_grad_norm(c, 2, 1.0f);
    CHECK(n == 5.0f && fabsf(c[0] - 0.6f) < 1e-6f && fabsf(c[1] - 0.8f) < 1e-6f,
          "clip: norm %g -> %g %g", n, c[0], c[1]);
    float c2[2] = {0.3f, 0.4f};
    n = pt_clip_grad_norm(c2, 2, 1.0f);
    CHECK(fabsf(n - 0.5f) < 1e-7f && c2[0] == 0.3f && c2[1] == 0.4f, "no clip under max");
    float c3[2] = {30.0f, 40.0f};
    n = pt_clip_grad_norm(c3, 2, 0.0f);
    CHECK(n == 50.0f && c3[0] == 30.0f, "max_norm 0: no clipping");

    /* schedule (Hugging Face linear warm-up/decay, step 0-based):
     * warmup 10, total 110: step 0 -> 0, 5 -> 0.5, 10 -> 1, 60 -> (110-60)/100 = 0.5 */
    CHECK(pt_lr_at(1.0f, 0, 10, 110) == 0.0f, "warm-up step 0 is 0");
    CHECK(fabsf(pt_lr_at(2.0f, 5, 10, 110) - 1.0f) < 1e-7f, "warm-up half way");
    CHECK(fabsf(pt_lr_at(2.0f, 10, 10, 110) - 2.0f) < 1e-7f, "end of warm-up: full rate");
    CHECK(fabsf(pt_lr_at(2.0f, 60, 10, 110) - 1.0f) < 1e-7f, "half decayed");
    CHECK(pt_lr_at(2.0f, 110, 10, 110) == 0.0f && pt_lr_at(2.0f, 500, 10, 110) == 0.0f,
          "decayed to 0 and stays");
    CHECK(pt_lr_at(3.0f, 0, 0, 100) == 3.0f, "warmup 0: first step full rate");
    CHECK(fabsf(pt_lr_at(3.0f, 99, 0, 100) - 0.03f) < 1e-7f, "last step of 100: 1/100");
}

/* Load a tensor of n floats from the fixture into a new array (NULL on failure). */
static float *fx_get(const pt_st_file *f, const char *name, size_t *n) {
    const pt_st_tensor *t = pt_st_find(f, name);
    CHECK(t != NULL, "%s: tensor %s missing", f->path, name);
    if (!t) return NULL;
    float *out = malloc((size_t)t->numel * sizeof(float));
    if (pt_st_to_f32(t, out) != PT_OK) {
        CHECK(0, "%s: %s: %s", f->path, name, pt_last_error());
        free(out);
        return NULL;
    }
    *n = (size_t)t->numel;
    return out;
}

/* PyTorch 1.13 AdamW / Adam / SGD, lr 1e-2, weight decay 0.01, two steps
 * (the second exercises bias correction with different moments). */
static void test_fixture(void) {
    pt_st_file f;
    pt_status st = pt_st_open(&f, FIXTURE);
    CHECK(st == PT_OK, "open %s: %s", FIXTURE, pt_last_error());
    if (st != PT_OK) return;
    size_t n = 0, n1 = 0, n2 = 0;
    float *p0 = fx_get(&f, "p0", &n), *g1 = fx_get(&f, "g1", &n1), *g2 = fx_get(&f, "g2", &n2);
    CHECK(p0 && g1 && g2 && n == n1 && n == n2, "p0, g1, g2 of one size");
    for (int k = 0; k < 3 && p0 && g1 && g2; k++) {
        pt_optim_kind kind = (pt_optim_kind)k;
        const char *kn = pt_optim_kind_name(kind);
        char name[64], what[64];
        pt_optim o;
        CHECK(pt_optim_init(&o, kind, n, 0.01f) == PT_OK, "init %s", kn);
        float *p = malloc(n * sizeof(float));
        memcpy(p, p0, n * sizeof(float));
        for (int step = 1; step <= 2; step++) {
            pt_optim_step(&o, p, step == 1 ? g1 : g2, 1e-2f);
            snprintf(name, sizeof(name), "%s.p%d", kn, step);
            snprintf(what, sizeof(what), "%s step %d vs PyTorch", kn, step);
            size_t nw = 0;
            float *want = fx_get(&f, name, &nw);
            if (want && nw == n) t_close(what, p, want, n, 1e-6, 1e-7);
            free(want);
        }
        free(p);
        pt_optim_free(&o);
    }
    free(p0);
    free(g1);
    free(g2);

    /* clip_grad_norm_(max_norm=1.0) over two tensors, concatenated here */
    size_t nc = 0, ncc = 0, nn = 0, ns = 0, nsn = 0;
    float *g = fx_get(&f, "clip.g", &nc), *gc = fx_get(&f, "clip.g_clipped", &ncc);
    float *norm = fx_get(&f, "clip.norm", &nn);
    float *small = fx_get(&f, "clip.small", &ns), *small_norm = fx_get(&f, "clip.small_norm", &nsn);
    if (g && gc && norm && small && small_norm && nc == ncc) {
        float got = pt_clip_grad_norm(g, nc, 1.0f);
        t_close("clip norm vs PyTorch", &got, norm, 1, 1e-6, 0);
        t_close("clipped grads vs PyTorch", g, gc, nc, 1e-6, 1e-8);
        float *s = malloc(ns * sizeof(float));
        memcpy(s, small, ns * sizeof(float));
        got = pt_clip_grad_norm(s, ns, 1.0f);
        t_close("small norm vs PyTorch", &got, small_norm, 1, 1e-6, 0);
        CHECK(memcmp(s, small, ns * sizeof(float)) == 0, "norm < max: grads unchanged");
        free(s);
    }
    free(g);
    free(gc);
    free(norm);
    free(small);
    free(small_norm);
    pt_st_close(&f);
}

int main(void) {
    printf("test_optim\n");
    test_names();
    test_hand();
    test_fixture();
    return t_done();
}
