/* gpt2_decode.c - GPT-2 incremental decoding with a key/value cache.
 *
 * The same block as gpt2.c's forward, for n new rows of one sequence at
 * positions pos .. pos+n-1: their keys and values are appended to the cache
 * and their queries attend over every cached row (causal). Long inputs are
 * processed in chunks of CH rows (each chunk goes through all layers before
 * the next; causality makes that exact).
 *
 * Dimension letters as in gpt2_impl.h; CH rows per chunk, Tmax cache length.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "models/model_util.h"
#include "models/gpt2_impl.h"

typedef struct gpt2_cache {
    int Tmax, CH, pos;
    float *k;   // (L, Tmax, C)
    float *v;   // (L, Tmax, C)
    float *h;   // (CH, C)  residual stream
    float *ln;  // (CH, C)
    float *qkv; // (CH, 3C)
    float *y;   // (CH, C)  attention output
    float *tmp; // (CH, C)
    float *fch; // (CH, 4C) pre-GELU
    float *fcg; // (CH, 4C)
    float *block;
} gpt2_cache;

pt_status pt_gpt2_cache_new(const pt_model *m, int Tmax, void **out) {
    const pt_model_config *c = &m->cfg;
    *out = NULL;
    if (Tmax < 1 || Tmax > c->max_pos)
        return pt_fail(PT_ERR_ARG, "gpt2: cache of %d tokens not possible (max positions %d)", Tmax,
                       c->max_pos);
    size_t C = c->dim, L = c->n_layers, CH = Tmax < 64 ? Tmax : 64, kv, total;
    if (!pt_mul_ok(L * C, (size_t)Tmax, &kv) || !pt_add_ok(2 * kv, CH * C * 15, &total))
        return pt_fail(PT_ERR_NOMEM, "gpt2: cache of %d tokens too large", Tmax);
    gpt2_cache *r = calloc(1, sizeof *r);
    if (!r) return pt_fail(PT_ERR_NOMEM, "out of memory");
    r->block = pt_aalloc(total, sizeof(float));
    if (!r->block) {
        free(r);
        return pt_fail(PT_ERR_NOMEM, "gpt2: out of memory for a cache of %d tokens", Tmax);
    }
    r->Tmax = Tmax;
    r->CH = (int)CH;
    float *p = r->block;
    r->k = p, p += kv;
    r->v = p, p += kv;
    r->h = p, p += CH * C;
    r->ln = p, p += CH * C;
    r->qkv = p, p += CH * 3 * C;
    r->y = p, p += CH * C;
    r->tmp = p, p += CH * C;
    r->fch = p, p += CH * 4 * C;
    r->fcg = p;
    *out = r;
    return PT_OK;
}

void pt_gpt2_cache_free(void *cache) {
    gpt2_cache *r = cache;
    if (!r) return;
    pt_afree(r->block);
    free(r);
}

void pt_gpt2_cache_reset(void *cache, int pos) {
    gpt2_cache *r = cache;
    if (pos >= 0 && pos <= r->pos) r->pos = pos;
}

/* n <= CH rows through every layer; h_last (C) from the last row if not NULL. */
static void decode_chunk(const pt_model *m, gpt2_cache *r, const float *x, int n, float *h_last) {
    const gpt2_weights *w = m->impl;
    const pt_model_config *cfg = &m->cfg;
    int C = cfg->dim, NH = cfg->n_heads, L = cfg->n_layers, HS = C / NH, pos = r->pos;
    size_t nC = (size_t)n * C;
    float eps = cfg->norm_eps, scale = 1.0f / sqrtf((float)HS);
    for (int i = 0; i < n; i++) { /* h = x + wpe[pos + i] */
        const float *xi = x + (size_t)i * C, *pe = w->wpe + (size_t)(pos + i) * C;
        float *hi = r->h + (size_t)i * C;
        for (int c = 0; c < C; c++) hi[c] = xi[c] + pe[c];
    }
    for (int l = 0; l < L; l++) {
        const gpt2_layer *lw = &w->layers[l];
        float *kc = r->k + (size_t)l * r->Tmax * C; // (Tmax, C)
        float *vc = r->v + (size_t)l * r->Tmax * C; // (Tmax, C)
        pt_layernorm_forward(r->ln, NULL, NULL, r->h, lw->ln1w, lw->ln1b, n, C, eps);
        pt_mu_matmul_forward(m, r->qkv, r->ln, lw->qkvw, lw->qkvb, n, C, 3 * C);
        for (int i = 0; i < n; i++) {
            const float *row = r->qkv + (size_t)i * 3 * C;
            memcpy(kc + (size_t)(pos + i) * C, row + C, sizeof(float) * C);
            memcpy(vc + (size_t)(pos + i) * C, row + 2 * C, sizeof(float) * C);
        }
        pt_attention_decode(r->y, r->qkv, kc, vc, 3 * C, C, n, pos, NH, NH, HS, scale);
        pt_mu_matmul_forward(m, r->tmp, r->y, lw->projw, lw->projb, n, C, C);
        pt_add_inplace(r->h, r->tmp, nC);
        pt_layernorm_forward(r->ln, NULL, NULL, r->h, lw->ln2w, lw->ln2b, n, C, eps);
        pt_mu_matmul_forward(m, r->fch, r->ln, lw->fcw, lw->fcb, n, C, 4 * C);
        pt_gelu_tanh_forward(r->fcg, r->fch, nC * 4);
        pt_mu_matmul_forward(m, r->tmp, r->fcg, lw->fcprojw, lw->fcprojb, n, 4 * C, C);
        pt_add_inplace(r->h, r->tmp, nC);
    }
    if (h_last)
        pt_layernorm_forward(h_last, NULL, NULL, r->h + (size_t)(n - 1) * C, w->lnfw, w->lnfb, 1, C,
                             eps);
    r->pos += n;
}

pt_status pt_gpt2_decode(const pt_model *m, void *cache, const float *x, int n, float *h_last) {
    gpt2_cache *r = cache;
    if (n < 1 || n > r->Tmax - r->pos)
        return pt_fail(PT_ERR_ARG, "gpt2: cannot append %d tokens to a cache holding %d of %d", n,
                       r->pos, r->Tmax);
    int C = m->cfg.dim;
    for (int i0 = 0; i0 < n; i0 += r->CH) {
        int nc = n - i0 < r->CH ? n - i0 : r->CH;
        decode_chunk(m, r, x + (size_t)i0 * C, nc, i0 + nc == n ? h_last : NULL);
    }
    return PT_OK;
}
