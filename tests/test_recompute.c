/* test_recompute.c - pt_model_set_recompute: a training run that keeps only
 * each block's input and recomputes the block in backward gives bit-identical
 * final hidden states and input gradients, for every family, on a padded
 * batch, and holds less activation memory than a run that keeps everything. */
#include <math.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/model.h"
#include "test.h"

enum { B = 3, T = 14, L = 6 };

static pt_model_config tiny(pt_family f) {
    pt_model_config c;
    memset(&c, 0, sizeof c);
    c.family = f;
    c.dim = 32;
    c.n_layers = L;
    c.n_heads = 4;
    c.n_kv_heads = f == PT_FAMILY_LLAMA ? 2 : 4;
    c.ffn_dim = f == PT_FAMILY_LLAMA ? 80 : 128;
    c.vocab_size = 500;
    c.max_pos = 64;
    return c;
}

/* forward (with backward) + backward on a fixed padded batch; returns the run's bytes */
static size_t pass(pt_model *m, int recompute, float *h, float *dx) {
    int C = m->cfg.dim;
    int len[B] = {T, 9, 4}, out_idx[B] = {T - 1, T + 8, 2 * T + 1};
    float *x = pt_aalloc((size_t)B * T * C, sizeof(float)); // (B, T, C)
    float dh[B * 32];                                       // (B, C)
    for (int i = 0; i < B * T * C; i++) x[i] = sinf(0.37f * (float)i) * 0.5f;
    for (int i = 0; i < B * C; i++) dh[i] = cosf(0.11f * (float)i);
    pt_model_set_recompute(m, recompute);
    pt_run *run = NULL;
    size_t bytes = 0;
    CHECK(!pt_run_new(m, B, T, &run), "%s", pt_last_error());
    if (run) {
        bytes = pt_run_bytes(run);
        /* an evaluation forward first: the run must not depend on what came before */
        CHECK(!pt_model_forward(m, run, x, len, B, T, out_idx, B, h, 0), "%s", pt_last_error());
        CHECK(!pt_model_forward(m, run, x, len, B, T, out_idx, B, h, 1), "%s", pt_last_error());
        CHECK(!pt_model_backward(m, run, dh, dx), "%s", pt_last_error());
        pt_run_free(run);
    }
    pt_afree(x);
    return bytes;
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float d = 0;
    for (size_t i = 0; i < n; i++) d = fmaxf(d, fabsf(a[i] - b[i]));
    return d;
}

int main(void) {
    pt_family fams[] = {PT_FAMILY_GPT2, PT_FAMILY_BERT, PT_FAMILY_LLAMA};
    for (int f = 0; f < 3; f++) {
        pt_model_config c = tiny(fams[f]);
        pt_model *m = NULL;
        CHECK(!pt_model_random(&m, &c, 11), "%s", pt_last_error());
        if (!m) continue;
        size_t n = (size_t)B * T * c.dim;
        float *h0 = calloc(B * 32, sizeof(float)), *h1 = calloc(B * 32, sizeof(float));
        float *dx0 = calloc(n, sizeof(float)), *dx1 = calloc(n, sizeof(float));
        size_t keep = pass(m, 0, h0, dx0);
        size_t rec = pass(m, 1, h1, dx1);
        float dh = max_abs_diff(h0, h1, (size_t)B * c.dim), dd = max_abs_diff(dx0, dx1, n);
        float mag = 0;
        for (size_t i = 0; i < n; i++) mag = fmaxf(mag, fabsf(dx0[i]));
        printf("  %-6s recompute vs keep-all: h max diff %g, dx max diff %g (|dx| up to %.3g); "
               "activation bytes %zu vs %zu (%.2f)\n",
               pt_family_name(fams[f]), (double)dh, (double)dd, (double)mag, rec, keep,
               (double)rec / (double)keep);
        CHECK(dh == 0 && dd == 0 && mag > 0, "%s: recomputation changed the results",
              pt_family_name(fams[f]));
        /* keep-all holds L blocks of activations, recompute one block plus L inputs */
        CHECK(rec < keep / 2, "%s: recomputation saved too little memory (%zu vs %zu)",
              pt_family_name(fams[f]), rec, keep);
        free(h0), free(h1), free(dx0), free(dx1);
        pt_model_free(m);
    }
    return t_done();
}
