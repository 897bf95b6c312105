/* llama_decode.c - LLaMA incremental decoding with a key/value cache.
 *
 * The same block as llama.c's forward, for n new rows of one sequence at
 * positions pos .. pos+n-1: RoPE at those positions, their keys and values
 * appended to the cache, their queries attending over every cached row
 * (causal, grouped-query). Long inputs go in chunks of CH rows (each chunk
 * through all layers before the next; causality makes that exact).
 *
 * Dimension letters as in llama_impl.h; CH rows per chunk, Tmax cache length.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "models/model_util.h"
#include "models/llama_impl.h"

typedef struct llama_cache {
    int Tmax, CH, pos;
    float *k;    // (L, Tmax, KVC) after RoPE
    float *v;    // (L, Tmax, KVC)
    float *h;    // (CH, C) residual stream
    float *n;    // (CH, C) normalized
    float *q;    // (CH, C)
    float *y;    // (CH, C) attention output
    float *tmp;  // (CH, C)
    float *gate; // (CH, F)
    float *up;   // (CH, F)
    float *ffn;  // (CH, F)
    float *block;
} llama_cache;

pt_status pt_llama_cache_new(const pt_model *m, int Tmax, void **out) {
    const pt_model_config *c = &m->cfg;
    *out = NULL;
    if (Tmax < 1 || Tmax > c->max_pos)
        return pt_fail(PT_ERR_ARG, "llama: cache of %d tokens not possible (context length %d)",
                       Tmax, c->max_pos);
    size_t C = c->dim, KVC = (size_t)c->n_kv_heads * (C / c->n_heads), F = c->ffn_dim;
    size_t L = c->n_layers, CH = Tmax < 64 ? Tmax : 64, kv, total;
    if (!pt_mul_ok(L * KVC, (size_t)Tmax, &kv) || !pt_add_ok(2 * kv, CH * (5 * C + 3 * F), &total))
        return pt_fail(PT_ERR_NOMEM, "llama: cache of %d tokens too large", Tmax);
    llama_cache *r = calloc(1, sizeof *r);
    if (!r) return pt_fail(PT_ERR_NOMEM, "out of memory");
    r->block = pt_aalloc(total, sizeof(float));
    if (!r->block) {
        free(r);
        return pt_fail(PT_ERR_NOMEM, "llama: out of memory for a cache of %d tokens", Tmax);
    }
    r->Tmax = Tmax;
    r->CH = (int)CH;
    float *p = r->block;
    r->k = p, p += kv;
    r->v = p, p += kv;
    r->h = p, p += CH * C;
    r->n = p, p += CH * C;
    r->q = p, p += CH * C;
    r->y = p, p += CH * C;
    r->tmp = p, p += CH * C;
    r->gate = p, p += CH * F;
    r->up = p, p += CH * F;
    r->ffn = p;
    *out = r;
    return PT_OK;
}

void pt_llama_cache_free(void *cache) {
    llama_cache *r = cache;
    if (!r) return;
    pt_afree(r->block);
    free(r);
}

void pt_llama_cache_reset(void *cache, int pos) {
    llama_cache *r = cache;
    if (pos >= 0 && pos <= r->pos) r->pos = pos;
}

/* n <= CH rows through every layer; h_last (C) from the last row if not NULL. */
static void decode_chunk(const pt_model *m, llama_cache *r, const float *x, int n, float *h_last) {
    const pt_model_config *c = &m->cfg;
    const llama_weights *w = m->impl;
    int C = c->dim, NH = c->n_heads, NKV = c->n_kv_heads, HS = C / NH, KVC = NKV * HS;
    int F = c->ffn_dim, L = c->n_layers, pos = r->pos;
    float scale = 1.0f / sqrtf((float)HS);
    memcpy(r->h, x, sizeof(float) * n * C);
    for (int l = 0; l < L; l++) {
        const llama_layer *lw = &w->layers[l];
        float *kc = r->k + (size_t)l * r->Tmax * KVC;                         // (Tmax, KVC)
        float *vc = r->v + (size_t)l * r->Tmax * KVC;                         // (Tmax, KVC)
        float *knew = kc + (size_t)pos * KVC, *vnew = vc + (size_t)pos * KVC; // (n, KVC)
        pt_rmsnorm_forward(r->n, NULL, r->h, lw->attn_norm, n, C, c->norm_eps);
        pt_mu_matmul_forward(m, r->q, r->n, lw->wq, NULL, n, C, C);
        pt_mu_matmul_forward(m, knew, r->n, lw->wk, NULL, n, C, KVC);
        pt_mu_matmul_forward(m, vnew, r->n, lw->wv, NULL, n, C, KVC);
        pt_rope_forward_at(r->q, C, n, NH, HS, c->rope_theta, pos);
        pt_rope_forward_at(knew, KVC, n, NKV, HS, c->rope_theta, pos);
        pt_attention_decode(r->y, r->q, kc, vc, C, KVC, n, pos, NH, NKV, HS, scale);
        pt_mu_matmul_forward(m, r->tmp, r->y, lw->wo, NULL, n, C, C);
        pt_add_inplace(r->h, r->tmp, (size_t)n * C);
        pt_rmsnorm_forward(r->n, NULL, r->h, lw->ffn_norm, n, C, c->norm_eps);
        pt_mu_matmul_forward(m, r->gate, r->n, lw->w_gate, NULL, n, C, F);
        pt_mu_matmul_forward(m, r->up, r->n, lw->w_up, NULL, n, C, F);
        pt_swiglu_forward(r->ffn, r->gate, r->up, (size_t)n * F);
        pt_mu_matmul_forward(m, r->tmp, r->ffn, lw->w_down, NULL, n, F, C);
        pt_add_inplace(r->h, r->tmp, (size_t)n * C);
    }
    if (h_last)
        pt_rmsnorm_forward(h_last, NULL, r->h + (size_t)(n - 1) * C, w->norm, 1, C, c->norm_eps);
    r->pos += n;
}

pt_status pt_llama_decode(const pt_model *m, void *cache, const float *x, int n, float *h_last) {
    llama_cache *r = cache;
    if (n < 1 || n > r->Tmax - r->pos)
        return pt_fail(PT_ERR_ARG, "llama: cannot append %d tokens to a cache holding %d of %d", n,
                       r->pos, r->Tmax);
    int C = m->cfg.dim;
    for (int i0 = 0; i0 < n; i0 += r->CH) {
        int nc = n - i0 < r->CH ? n - i0 : r->CH;
        decode_chunk(m, r, x + (size_t)i0 * C, nc, i0 + nc == n ? h_last : NULL);
    }
    return PT_OK;
}
