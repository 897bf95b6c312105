/* test_bf16.c - pt_model_set_precision(m, 1): every family's outputs with bf16
 * block weights stay close to float32.
 *
 * For the tiny GPT-2, BERT and LLaMA fixtures: random input embeddings
 * (B 2, T 7, lengths 7 and 5), the final hidden states and full-vocabulary
 * logits at four positions, and the input gradient of a fixed dh, first in
 * float32, then after converting the same model to bf16.
 * Stated tolerance: |bf16 - f32| <= 0.03 * max|f32| elementwise per tensor
 * (bf16 keeps 8 significant bits: 0.4% relative rounding per weight; the
 * errors of the two layers' products add up to about 1% of the largest value).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "models/model.h"
#include "test.h"

enum { B = 2, T = 7, NOUT = 4 };

typedef struct outs {
    float *h, *logits, *dx;
    float *hdec; // (C) decode's last hidden state (causal families)
} outs;

static int run_model(pt_model *m, const float *x, const float *dh, outs *o) {
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    static const int len[B] = {7, 5};
    static const int out_idx[NOUT] = {0, 4, 6, 7 + 4}; /* flat b*T + t, all valid */
    pt_run *run = NULL;
    if (pt_run_new(m, B, T, &run)) return 0;
    o->h = calloc((size_t)NOUT * C, sizeof(float));      // (NOUT, C)
    o->logits = calloc((size_t)NOUT * V, sizeof(float)); // (NOUT, V)
    o->dx = calloc((size_t)B * T * C, sizeof(float));    // (B, T, C)
    int ok = o->h && o->logits && o->dx &&
             pt_model_forward(m, run, x, len, B, T, out_idx, NOUT, o->h, 1) == PT_OK;
    if (ok && m->cfg.has_lm_head) pt_model_head_forward(m, run, o->logits, o->h, NOUT, NULL, V);
    if (ok) ok = pt_model_backward(m, run, dh, o->dx) == PT_OK;
    pt_run_free(run);
    if (ok && m->cfg.causal) { /* incremental decoding of row 0 uses the same weights */
        pt_cache *cache = NULL;
        o->hdec = calloc((size_t)C, sizeof(float));
        ok = o->hdec && pt_cache_new(m, T, &cache) == PT_OK &&
             pt_cache_decode(m, cache, x, T, o->hdec) == PT_OK;
        if (cache) pt_cache_free(cache);
    }
    return ok;
}

static void outs_free(outs *o) {
    free(o->h), free(o->logits), free(o->dx), free(o->hdec);
}

/* t_close with atol = frac * max|want| */
static void close_scaled(const char *what, const float *got, const float *want, size_t n,
                         double frac) {
    double mx = 0;
    double d = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)got[i] - want[i]));
    printf("  %s: max diff %.3g = %.2f%% of max|f32| %.3g (limit %.0f%%)\n", what, d, 100 * d / mx,
           mx, 100 * frac);
    t_close(what, got, want, n, 0.0, frac * mx);
}

static void check_family(const char *name, const char *path) {
    printf("%s (%s)\n", name, path);
    pt_model *m = NULL;
    if (pt_model_load(&m, path)) {
        CHECK(0, "load %s: %s", path, pt_last_error());
        return;
    }
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    pt_rng rng;
    pt_rng_seed(&rng, 11);
    float *x = malloc(sizeof(float) * B * T * C), *dh = malloc(sizeof(float) * NOUT * C);
    if (!x || !dh) abort();
    for (int i = 0; i < B * T * C; i++) x[i] = pt_rng_normal(&rng) * 0.5f;
    for (int i = 0; i < NOUT * C; i++) dh[i] = pt_rng_normal(&rng);
    outs f = {0}, h = {0};
    CHECK(run_model(m, x, dh, &f), "%s f32 run: %s", name, pt_last_error());
    CHECK(pt_model_set_precision(m, 1) == PT_OK, "%s to bf16: %s", name, pt_last_error());
    CHECK(m->bf16 == 1, "%s: bf16 flag", name);
    CHECK(pt_model_set_precision(m, 1) == PT_OK, "%s: bf16 twice is a no-op", name);
    CHECK(pt_model_set_precision(m, 0) != PT_OK, "%s: back to f32 is refused", name);
    CHECK(run_model(m, x, dh, &h), "%s bf16 run: %s", name, pt_last_error());
    char what[96];
    snprintf(what, sizeof what, "%s hidden h bf16 vs f32", name);
    close_scaled(what, h.h, f.h, (size_t)NOUT * C, 0.03);
    if (m->cfg.has_lm_head) {
        snprintf(what, sizeof what, "%s logits bf16 vs f32", name);
        close_scaled(what, h.logits, f.logits, (size_t)NOUT * V, 0.03);
    }
    snprintf(what, sizeof what, "%s dx bf16 vs f32", name);
    close_scaled(what, h.dx, f.dx, (size_t)B * T * C, 0.03);
    if (f.hdec && h.hdec) {
        snprintf(what, sizeof what, "%s decode h_last bf16 vs f32", name);
        close_scaled(what, h.hdec, f.hdec, (size_t)C, 0.03);
    }
    /* and bf16 really changed something (the products use the rounded weights) */
    double d = 0;
    for (int i = 0; i < NOUT * C; i++) d = fmax(d, fabs(h.h[i] - f.h[i]));
    CHECK(d > 0, "%s: bf16 outputs differ from f32 at all (max %g)", name, d);
    outs_free(&f), outs_free(&h);
    free(x), free(dh);
    pt_model_free(m);
}

int main(void) {
    check_family("gpt2", "tests/fixtures/gpt2/tiny");
    check_family("bert", "tests/fixtures/bert/tiny");
    check_family("llama", "tests/fixtures/llama/tiny_hf");
    check_family("llama-gguf", "tests/fixtures/llama/tiny.gguf");
    return t_done();
}
