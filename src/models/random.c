/* random.c - models with random weights built in memory (benchmarks,
 * tests), from the family's table: every tensor it lists gets Hugging Face's
 * initialization (matrices and embeddings N(0, 0.02), biases 0, norm weights
 * 1); optional extras (untied heads, frequency factors) are left out.
 * Deterministic in the seed whatever the thread count: tensor k draws from
 * stream k, in independently seeded pieces.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/rng.h"
#include "models/family.h"
#include "models/load_impl.h"

#define RANDOM_STD 0.02f
#define CHUNK 65536 /* floats per independently seeded piece */

/* w (n) = N(0, std) from stream `stream` of seed. */
static void fill_normal(float *w, size_t n, float std, uint64_t seed, uint64_t stream) {
    long n_chunks = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static) if (n_chunks > 1)
    for (long ch = 0; ch < n_chunks; ch++) {
        pt_rng g;
        pt_rng_seed(&g, seed ^ (0x9E3779B97F4A7C15ULL * (stream + 1)) ^
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
}

static pt_status check_config(const pt_model_config *c) {
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
    if (c->family == PT_FAMILY_GPT2 && c->ffn_dim != 4 * c->dim)
        return pt_fail(PT_ERR_ARG, "random gpt2: ffn %d must be 4 x dim (%d)", c->ffn_dim,
                       4 * c->dim);
    return PT_OK;
}

static pt_status init_one(pt_model *m, const pt_tensor_desc *d, int layer, uint64_t seed,
                          uint64_t *stream) {
    uint64_t k = (*stream)++;
    if (d->init == PT_I_NONE) return PT_OK;
    int rows = (int)pt_dim_value(&m->cfg, d->rows), cols = (int)pt_dim_value(&m->cfg, d->cols);
    pt_weight *w = pt_desc_weight(m, d, layer);
    pt_status s = pt_weight_alloc(w, PT_WT_F32, rows, cols);
    if (s) return s;
    float *p = w->owned;
    size_t n = (size_t)rows * cols;
    if (d->init == PT_I_NORMAL)
        fill_normal(p, n, RANDOM_STD, seed, k);
    else
        for (size_t i = 0; i < n; i++) p[i] = d->init == PT_I_ONES ? 1.0f : 0.0f;
    return PT_OK;
}

pt_status pt_model_random(pt_model **out, const pt_model_config *cfg, uint64_t seed) {
    *out = NULL;
    const pt_family_desc *f = pt_family_get(cfg->family);
    if (!f) return pt_fail(PT_ERR_ARG, "random model: unknown family");
    pt_model_config c = *cfg;
    if (c.norm_eps <= 0)
        c.norm_eps = c.family == PT_FAMILY_BERT   ? 1e-12f
                     : c.family == PT_FAMILY_GPT2 ? 1e-5f
                                                  : 1e-6f;
    if (c.rope_theta <= 0) c.rope_theta = 10000.0f;
    if (!f->causal || c.family == PT_FAMILY_GPT2) c.n_kv_heads = c.n_heads;
    if (c.n_kv_heads == 0) c.n_kv_heads = c.n_heads;
    pt_status s = check_config(&c);
    if (s) return s;
    if (c.head_dim <= 0) c.head_dim = c.dim / c.n_heads;
    c.causal = f->causal;
    c.has_lm_head = 1;
    c.tied = 1;
    if (c.type_vocab < 1) c.type_vocab = c.family == PT_FAMILY_BERT ? 2 : 1;
    if (c.family == PT_FAMILY_ROBERTA && c.pos_offset == 0) c.pos_offset = 2;
    c.act = c.family == PT_FAMILY_GPT2 ? PT_ACT_GELU_TANH
            : f->causal                ? PT_ACT_SILU
                                       : PT_ACT_GELU_ERF;
    snprintf(c.arch, sizeof c.arch, "%s", f->name);
    char path[32];
    snprintf(path, sizeof path, "random:%s", f->name);
    pt_model *m = NULL;
    if ((s = pt_model_alloc(&m, path, f, &c))) return s;
    uint64_t stream = 0;
    for (int i = 0; i < f->n_globals && !s; i++) s = init_one(m, &f->globals[i], -1, seed, &stream);
    for (int l = 0; l < c.n_layers && !s; l++)
        for (int i = 0; i < f->n_layer && !s; i++) s = init_one(m, &f->layer[i], l, seed, &stream);
    if (!s) s = pt_model_finish(m);
    if (s) {
        pt_model_free(m);
        return pt_fail_ctx(s, "random %s model", f->name);
    }
    snprintf(m->dtype, sizeof m->dtype, "F32");
    *out = m;
    return PT_OK;
}
