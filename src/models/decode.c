/* decode.c - incremental decoding with a key/value cache, on the same block
 * functions as training: a pass of n new rows of one sequence whose earlier
 * keys and values come from the cache, and whose own are stored into it.
 * Long inputs go in chunks of CH rows (each chunk through all layers before
 * the next; causality makes that exact).
 *
 * Dimension letters as in family.h; Tmax cache length, CH rows per chunk.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/family.h"
#include "models/run_impl.h"

struct pt_cache {
    int Tmax, CH, pos;
    size_t lstride; /* floats per layer: Tmax * KVC */
    float *k, *v;   // (L, Tmax, KVC)
    pt_run *run;    /* forward-only activations for CH rows after Tmax cached */
};

pt_status pt_cache_new(const pt_model *m, int Tmax, pt_cache **out) {
    const pt_model_config *c = &m->cfg;
    *out = NULL;
    if (!c->causal)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: decoding needs a causal model", m->fam->name);
    if (Tmax < 1 || Tmax > c->max_pos)
        return pt_fail(PT_ERR_ARG, "%s: cache of %d tokens not possible (context length %d)",
                       m->fam->name, Tmax, c->max_pos);
    size_t KVC = (size_t)pt_dim_value(c, PT_D_KVC), L = (size_t)c->n_layers, total;
    if (!pt_mul_ok(L * KVC, (size_t)Tmax, &total))
        return pt_fail(PT_ERR_NOMEM, "%s: cache of %d tokens too large", m->fam->name, Tmax);
    pt_cache *k = calloc(1, sizeof *k);
    if (!k) return pt_fail(PT_ERR_NOMEM, "out of memory");
    k->Tmax = Tmax;
    k->CH = Tmax < 64 ? Tmax : 64;
    k->lstride = (size_t)Tmax * KVC;
    k->k = pt_aalloc(total, sizeof(float));
    k->v = pt_aalloc(total, sizeof(float));
    pt_status s = PT_OK;
    if (!k->k || !k->v)
        s = pt_fail(PT_ERR_NOMEM, "%s: out of memory for a cache of %d tokens", m->fam->name, Tmax);
    else
        s = pt_run_new_ext(m, 1, k->CH, Tmax - 1, 0, &k->run);
    if (s) {
        pt_cache_free(k);
        return s;
    }
    *out = k;
    return PT_OK;
}

void pt_cache_free(pt_cache *c) {
    if (!c) return;
    pt_afree(c->k);
    pt_afree(c->v);
    pt_run_free(c->run);
    free(c);
}

void pt_cache_reset(pt_cache *c, int pos) {
    if (pos >= 0 && pos <= c->pos) c->pos = pos;
}

pt_status pt_cache_put(const pt_model *m, pt_cache *c, const float *kv, int n) {
    size_t KVC = (size_t)pt_dim_value(&m->cfg, PT_D_KVC), L = (size_t)m->cfg.n_layers;
    if (n < 1 || n > c->Tmax - c->pos)
        return pt_fail(PT_ERR_ARG,
                       "%s: cannot put %d rows of keys/values in a cache holding %d of %d",
                       m->fam->name, n, c->pos, c->Tmax);
    for (int j = 0; j < n; j++) {
        const float *row = kv + (size_t)j * L * 2 * KVC; // (L, 2, KVC)
        for (size_t l = 0; l < L; l++) {
            size_t at = l * c->lstride + (size_t)(c->pos + j) * KVC;
            memcpy(c->k + at, row + 2 * l * KVC, sizeof(float) * KVC);
            memcpy(c->v + at, row + (2 * l + 1) * KVC, sizeof(float) * KVC);
        }
    }
    c->pos += n;
    return PT_OK;
}

int pt_cache_len(const pt_cache *c) {
    return c->pos;
}

pt_status pt_cache_decode(const pt_model *m, pt_cache *c, const float *x, int n, float *h_last) {
    if (n < 1 || n > c->Tmax - c->pos)
        return pt_fail(PT_ERR_ARG, "%s: cannot append %d tokens to a cache holding %d of %d",
                       m->fam->name, n, c->pos, c->Tmax);
    int C = m->cfg.dim;
    size_t KVC = (size_t)pt_dim_value(&m->cfg, PT_D_KVC);
    pt_run *r = c->run;
    for (int i0 = 0; i0 < n; i0 += c->CH) {
        int nc = n - i0 < c->CH ? n - i0 : c->CH;
        r->start[0] = 0, r->len[0] = nc, r->elen[0] = c->pos;
        for (int i = 0; i < nc; i++) r->pos[i] = c->pos + i;
        pt_pass p;
        memset(&p, 0, sizeof p);
        p.B = 1, p.N = nc, p.start = r->start, p.len = r->len, p.pos = r->pos;
        p.ek = c->k, p.ev = c->v, p.e_lstride = c->lstride, p.elen = r->elen;
        p.E = c->Tmax - 1;
        p.kv_out_k = c->k + (size_t)c->pos * KVC, p.kv_out_v = c->v + (size_t)c->pos * KVC;
        p.kv_out_lstride = c->lstride;
        int last = nc - 1;
        float *h = i0 + nc == n ? h_last : r->dx; /* intermediate chunks: scratch */
        pt_status s = pt_run_pass(m, r, &p, x + (size_t)i0 * C, &last, 1, h);
        if (s) return s;
        c->pos += nc;
    }
    return PT_OK;
}
