/* model_random.c - models with random weights built in memory (benchmarks,
 * tests): pt_model_random dispatches to one small constructor per family.
 * Weights follow Hugging Face's initialization: matrices and embeddings
 * N(0, 0.02), biases 0, norm weights 1. The GPT-2 constructor lives in gpt2.c
 * (its weight struct is private there); BERT and LLaMA are here.
 */
#include "models/model_random.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/rng.h"
#include "models/bert_impl.h"
#include "models/llama_impl.h"
#include "models/model_util.h"

#define CHUNK 65536 /* floats per independently seeded piece */

float *pt_mr_normal(pt_mr *r, size_t n, float std) {
    float *w = pt_alloc(n ? n : 1, sizeof(float)); // (n)
    uint64_t stream = r->stream++;
    if (!w) {
        r->fail = 1;
        return NULL;
    }
    long n_chunks = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static) if (n_chunks > 1)
    for (long ch = 0; ch < n_chunks; ch++) {
        pt_rng g;
        pt_rng_seed(&g, r->seed ^ (0x9E3779B97F4A7C15ULL * (stream + 1)) ^
                            (0xD1B54A32D192ED03ULL * (uint64_t)(ch + 1)));
        size_t i0 = (size_t)ch * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        /* Box-Muller, both outputs of each pair */
        for (size_t i = i0; i < i1; i += 2) {
            float u1 = ((float)(pt_rng_u64(&g) >> 40) + 1.0f) * (1.0f / 16777217.0f);
            float u2 = (float)(pt_rng_u64(&g) >> 40) * (1.0f / 16777216.0f);
            float rad = std * sqrtf(-2.0f * logf(u1));
            w[i] = rad * cosf(6.2831853f * u2);
            if (i + 1 < i1) w[i + 1] = rad * sinf(6.2831853f * u2);
        }
    }
    return w;
}

float *pt_mr_const(pt_mr *r, size_t n, float v) {
    float *w = pt_alloc(n ? n : 1, sizeof(float)); // (n)
    r->stream++;
    if (!w) {
        r->fail = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) w[i] = v;
    return w;
}

pt_status pt_mr_check_config(const pt_model_config *c) {
    if (c->dim < 1 || c->n_layers < 1 || c->n_heads < 1 || c->vocab_size < 2 || c->max_pos < 1 ||
        c->ffn_dim < 1 || c->n_kv_heads < 1)
        return pt_fail(PT_ERR_ARG,
                       "random model: every size must be positive (dim %d, layers %d, "
                       "heads %d, kv-heads %d, ffn %d, vocab %d, positions %d)",
                       c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->ffn_dim, c->vocab_size,
                       c->max_pos);
    if (c->dim > 65536 || c->n_layers > 1024 || c->ffn_dim > 1 << 20 || c->vocab_size > 1 << 24 ||
        c->max_pos > 1 << 20 || c->n_heads > c->dim)
        return pt_fail(PT_ERR_ARG,
                       "random model: implausible sizes (dim %d, layers %d, ffn %d, "
                       "vocab %d, positions %d)",
                       c->dim, c->n_layers, c->ffn_dim, c->vocab_size, c->max_pos);
    if (c->dim % c->n_heads)
        return pt_fail(PT_ERR_ARG, "random model: dim %d is not a multiple of heads %d", c->dim,
                       c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return pt_fail(PT_ERR_ARG, "random model: heads %d is not a multiple of kv-heads %d",
                       c->n_heads, c->n_kv_heads);
    return PT_OK;
}

static pt_status bert_random(pt_model **out, const pt_model_config *cfg, uint64_t seed) {
    pt_model *m = pt_mu_model_new("random:bert");
    pt_bert *w = calloc(1, sizeof *w);
    int L = cfg->n_layers;
    if (!m || !w || !(w->layers = pt_zalloc((size_t)L, sizeof(pt_bert_layer)))) goto nomem;
    m->cfg = *cfg;
    m->cfg.family = PT_FAMILY_BERT;
    m->cfg.causal = 0;
    m->cfg.has_lm_head = 1;
    m->cfg.n_kv_heads = cfg->n_heads;
    m->impl = w;
    m->ops = &pt_bert_ops;
    w->act = PT_BERT_GELU_ERF;
    size_t C = (size_t)cfg->dim, F = (size_t)cfg->ffn_dim, V = (size_t)cfg->vocab_size;
    pt_mr r = {seed, 0, 0};
    w->wte = pt_mr_normal(&r, V * C, PT_RANDOM_STD);
    w->wpe = pt_mr_normal(&r, (size_t)cfg->max_pos * C, PT_RANDOM_STD);
    w->wtt = pt_mr_normal(&r, 2 * C, PT_RANDOM_STD);
    w->lnew = pt_mr_const(&r, C, 1.0f);
    w->lneb = pt_mr_const(&r, C, 0.0f);
    for (int l = 0; l < L && !r.fail; l++) {
        pt_bert_layer *y = &w->layers[l];
        y->wqkv = pt_mr_normal(&r, 3 * C * C, PT_RANDOM_STD);
        y->bqkv = pt_mr_const(&r, 3 * C, 0.0f);
        y->wo = pt_mr_normal(&r, C * C, PT_RANDOM_STD);
        y->bo = pt_mr_const(&r, C, 0.0f);
        y->ln1w = pt_mr_const(&r, C, 1.0f);
        y->ln1b = pt_mr_const(&r, C, 0.0f);
        y->w1 = pt_mr_normal(&r, F * C, PT_RANDOM_STD);
        y->b1 = pt_mr_const(&r, F, 0.0f);
        y->w2 = pt_mr_normal(&r, C * F, PT_RANDOM_STD);
        y->b2 = pt_mr_const(&r, C, 0.0f);
        y->ln2w = pt_mr_const(&r, C, 1.0f);
        y->ln2b = pt_mr_const(&r, C, 0.0f);
    }
    w->hw = pt_mr_normal(&r, C * C, PT_RANDOM_STD);
    w->hb = pt_mr_const(&r, C, 0.0f);
    w->hlnw = pt_mr_const(&r, C, 1.0f);
    w->hlnb = pt_mr_const(&r, C, 0.0f);
    w->hbias = pt_mr_const(&r, V, 0.0f);
    if (r.fail) goto nomem;
    m->wte = w->wte;
    m->n_params = (int64_t)(V * C + (size_t)cfg->max_pos * C + 2 * C + 2 * C + C * C + 3 * C + V) +
                  (int64_t)L * (int64_t)(4 * C * C + 2 * C * F + 9 * C + F);
    snprintf(m->dtype, sizeof m->dtype, "F32");
    *out = m;
    return PT_OK;
nomem:
    if (m) {
        m->cfg.n_layers = L;
        if (!m->impl)
            free(w); /* not yet owned by the model */
        else
            w = NULL;
        pt_model_free(m); /* frees the weights through the ops table */
    } else if (w) {
        free(w->layers);
        free(w);
    }
    return pt_fail(PT_ERR_NOMEM, "random bert model: out of memory");
}

static pt_status llama_random(pt_model **out, const pt_model_config *cfg, uint64_t seed) {
    pt_model *m = pt_mu_model_new("random:llama");
    llama_weights *w = calloc(1, sizeof *w);
    int L = cfg->n_layers;
    if (!m || !w || !(w->layers = pt_zalloc((size_t)L, sizeof(llama_layer)))) goto nomem;
    m->cfg = *cfg;
    m->cfg.family = PT_FAMILY_LLAMA;
    m->cfg.causal = 1;
    m->cfg.has_lm_head = 1;
    m->impl = w;
    m->ops = &pt_llama_ops;
    size_t C = (size_t)cfg->dim, F = (size_t)cfg->ffn_dim, V = (size_t)cfg->vocab_size;
    size_t KVC = (size_t)cfg->n_kv_heads * (C / (size_t)cfg->n_heads);
    pt_mr r = {seed, 0, 0};
    w->tok_embd = pt_mr_normal(&r, V * C, PT_RANDOM_STD);
    w->norm = pt_mr_const(&r, C, 1.0f);
    w->out = w->tok_embd;
    w->tied = 1;
    for (int l = 0; l < L && !r.fail; l++) {
        llama_layer *y = &w->layers[l];
        y->attn_norm = pt_mr_const(&r, C, 1.0f);
        y->wq = pt_mr_normal(&r, C * C, PT_RANDOM_STD);
        y->wk = pt_mr_normal(&r, KVC * C, PT_RANDOM_STD);
        y->wv = pt_mr_normal(&r, KVC * C, PT_RANDOM_STD);
        y->wo = pt_mr_normal(&r, C * C, PT_RANDOM_STD);
        y->ffn_norm = pt_mr_const(&r, C, 1.0f);
        y->w_gate = pt_mr_normal(&r, F * C, PT_RANDOM_STD);
        y->w_up = pt_mr_normal(&r, F * C, PT_RANDOM_STD);
        y->w_down = pt_mr_normal(&r, C * F, PT_RANDOM_STD);
    }
    if (r.fail) goto nomem;
    m->wte = w->tok_embd;
    m->n_params =
        (int64_t)(V * C + C) + (int64_t)L * (int64_t)(2 * C + 2 * C * C + 2 * KVC * C + 3 * F * C);
    snprintf(m->dtype, sizeof m->dtype, "F32");
    *out = m;
    return PT_OK;
nomem:
    if (m) {
        m->cfg.n_layers = L;
        if (!m->impl) free(w);
        pt_model_free(m);
    } else if (w) {
        free(w->layers);
        free(w);
    }
    return pt_fail(PT_ERR_NOMEM, "random llama model: out of memory");
}

pt_status pt_model_random(pt_model **out, const pt_model_config *cfg, uint64_t seed) {
    *out = NULL;
    pt_model_config c = *cfg;
    if (c.norm_eps <= 0) c.norm_eps = c.family == PT_FAMILY_BERT ? 1e-12f : 1e-5f;
    if (c.rope_theta <= 0) c.rope_theta = 10000.0f;
    if (c.family != PT_FAMILY_LLAMA) c.n_kv_heads = c.n_heads;
    pt_status s = pt_mr_check_config(&c);
    if (s) return s;
    switch (c.family) {
    case PT_FAMILY_GPT2:
        return pt_gpt2_random(out, &c, seed);
    case PT_FAMILY_BERT:
        return bert_random(out, &c, seed);
    case PT_FAMILY_LLAMA:
        return llama_random(out, &c, seed);
    }
    return pt_fail(PT_ERR_ARG, "random model: unknown family");
}
