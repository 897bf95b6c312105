/* test_model_random.c - pt_model_random: every family builds, runs a forward
 * and backward pass with finite results, the weights follow N(0, 0.02) and are
 * the same for the same seed whatever the thread count; bad shapes are refused. */
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/mem.h"
#include "models/model.h"
#include "test.h"

static pt_model_config tiny(pt_family f) {
    pt_model_config c;
    memset(&c, 0, sizeof c);
    c.family = f;
    c.dim = 32;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = f == PT_FAMILY_LLAMA ? 2 : 4;
    c.ffn_dim = f == PT_FAMILY_LLAMA ? 80 : 128;
    c.vocab_size = 3000;
    c.max_pos = 64;
    return c;
}

/* forward and backward through the model on a 2 x 12 batch: all finite, dx not all zero */
static void run_once(const pt_model *m) {
    int B = 2, T = 12, C = m->cfg.dim;
    pt_run *run = NULL;
    float *x = pt_aalloc((size_t)B * T * C, sizeof(float));  // (B, T, C)
    float *dx = pt_aalloc((size_t)B * T * C, sizeof(float)); // (B, T, C)
    float h[2 * 32], dh[2 * 32];                             // (B, C)
    int len[2] = {12, 9}, out_idx[2] = {11, T + 8};
    for (int i = 0; i < B * T * C; i++)
        x[i] = pt_weight_f32(&m->w.tok_embd)[(i * 7) % (m->cfg.vocab_size * C)];
    CHECK(!pt_run_new(m, B, T, &run), "%s", pt_last_error());
    CHECK(!pt_model_forward(m, run, x, len, B, T, out_idx, 2, h, 1), "%s", pt_last_error());
    for (int i = 0; i < 2 * C; i++) dh[i] = (float)(i % 5) - 2.0f;
    CHECK(!pt_model_backward(m, run, dh, dx), "%s", pt_last_error());
    int finite = 1, nonzero = 0;
    for (int i = 0; i < 2 * C; i++) finite &= isfinite(h[i]) != 0;
    for (int i = 0; i < B * T * C; i++) finite &= isfinite(dx[i]) != 0, nonzero |= dx[i] != 0;
    CHECK(finite && nonzero, "%s: finite %d, nonzero gradient %d", pt_family_name(m->cfg.family),
          finite, nonzero);
    pt_run_free(run);
    pt_afree(x);
    pt_afree(dx);
}

int main(void) {
    pt_family fams[] = {PT_FAMILY_GPT2, PT_FAMILY_BERT, PT_FAMILY_LLAMA};
    for (int f = 0; f < 3; f++) {
        pt_model_config c = tiny(fams[f]);
        pt_model *m = NULL, *m2 = NULL, *m3 = NULL;
        CHECK(!pt_model_random(&m, &c, 7), "%s: %s", pt_family_name(fams[f]), pt_last_error());
        if (!m) continue;
        CHECK(m->cfg.family == fams[f] && m->cfg.causal == (fams[f] != PT_FAMILY_BERT),
              "family and causality");
        /* word embeddings: V*C = 96000 draws of N(0, 0.02): the sample mean is within
         * 4 sigma = 4 * 0.02 / sqrt(96000) = 2.6e-4, the sample std within 1% */
        size_t n = (size_t)c.vocab_size * c.dim;
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < n; i++)
            s1 += pt_weight_f32(&m->w.tok_embd)[i],
                s2 += (double)pt_weight_f32(&m->w.tok_embd)[i] * pt_weight_f32(&m->w.tok_embd)[i];
        double mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
        printf("  %-6s wte mean %.2e std %.5f (want 0, 0.02)\n", pt_family_name(fams[f]), mean, sd);
        CHECK(fabs(mean) < 2.6e-4 && fabs(sd - 0.02) < 2e-4, "wte statistics");
        run_once(m);
        /* same seed, one thread: same weights; another seed: different */
        char h1[17], h2[17], h3[17];
        pt_model_fingerprint(m, h1);
#ifdef _OPENMP
        int nt = omp_get_max_threads();
        omp_set_num_threads(1);
#endif
        CHECK(!pt_model_random(&m2, &c, 7), "%s", pt_last_error());
#ifdef _OPENMP
        omp_set_num_threads(nt);
#endif
        CHECK(!pt_model_random(&m3, &c, 8), "%s", pt_last_error());
        if (m2 && m3) {
            pt_model_fingerprint(m2, h2);
            pt_model_fingerprint(m3, h3);
            CHECK(!strcmp(h1, h2), "same seed, other thread count: %s vs %s", h1, h2);
            CHECK(strcmp(h1, h3), "another seed gives other weights");
        }
        pt_model_free(m);
        pt_model_free(m2);
        pt_model_free(m3);
    }
    /* refused shapes */
    pt_model_config c = tiny(PT_FAMILY_GPT2);
    pt_model *m = NULL;
    c.n_heads = 5;
    CHECK(pt_model_random(&m, &c, 1) == PT_ERR_ARG && !m, "dim not a multiple of heads");
    printf("  error: %s\n", pt_last_error());
    c = tiny(PT_FAMILY_GPT2);
    c.ffn_dim = 100;
    CHECK(pt_model_random(&m, &c, 1) == PT_ERR_ARG && !m, "gpt2 ffn != 4 dim");
    c = tiny(PT_FAMILY_LLAMA);
    c.n_kv_heads = 3;
    CHECK(pt_model_random(&m, &c, 1) == PT_ERR_ARG && !m, "heads not a multiple of kv heads");
    c = tiny(PT_FAMILY_BERT);
    c.vocab_size = 0;
    CHECK(pt_model_random(&m, &c, 1) == PT_ERR_ARG && !m, "empty vocabulary");
    return t_done();
}
