/* prefix.c - layouts through the key/value cache; shared-prefix reuse (see prefix.h). */
#include "train/prefix.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

pt_status pt_layout_embed(const pt_model *m, const pt_rendered *r, const float *table, int S,
                          int from, int to, float *x) {
    int C = m->cfg.dim;
    if (from < 0 || to > r->n || from > to)
        return pt_fail(PT_ERR_ARG, "layout rows [%d, %d) outside its %d tokens", from, to, r->n);
    for (int p = from; p < to; p++) {
        if (r->ids[p] < 0) continue; /* virtual: filled below */
        pt_status s = pt_model_embed(m, x + (size_t)(p - from) * C, &r->ids[p], 1);
        if (s) return s;
    }
    for (int k = 0; k < S; k++) {
        int p = r->virt_pos[k];
        if (p < from || p >= to) continue;
        if (!table) return pt_fail(PT_ERR_ARG, "layout has virtual tokens but no prompt table");
        memcpy(x + (size_t)(p - from) * C, table + (size_t)k * C, sizeof(float) * C);
    }
    return PT_OK;
}

int pt_prefix_len(const pt_model *m, const pt_template *tmpl, const pt_examples *ex) {
    if (!m->cfg.causal || tmpl->n_virtual < 1 || ex->n < 1) return 0;
    const pt_rendered *r0 = &ex->ex[0].r;
    int P = r0->n - 1; /* leave at least one row (the answer) to decode per example */
    for (int i = 0; i < ex->n && P > 0; i++) {
        const pt_rendered *r = &ex->ex[i].r;
        if (r->answer != r->n - 1) return 0; /* not a causal layout */
        if (r->n - 1 < P) P = r->n - 1;
        int k = 0;
        while (k < P && r->ids[k] == r0->ids[k]) k++;
        P = k;
    }
    for (int i = 0; i < ex->n; i++)
        for (int k = 0; k < tmpl->n_virtual; k++)
            if (ex->ex[i].r.virt_pos[k] >= P) return 0;
    return P;
}

pt_status pt_prefix_begin(pt_prefix *p, const pt_model *m, const pt_rendered *r0,
                          const float *table, int S, int P, int Tmax) {
    memset(p, 0, sizeof *p);
    p->m = m;
    p->table = table;
    p->S = S;
    p->P = P;
    p->Tmax = Tmax;
    if (P < 1 || P >= Tmax || P > r0->n)
        return pt_fail(PT_ERR_ARG, "prefix of %d tokens for sequences of %d", P, Tmax);
    pt_status s = pt_cache_new(m, Tmax, &p->cache);
    if (s) return s;
    float *h = pt_aalloc((size_t)m->cfg.dim, sizeof(float)); // (C) unused hidden state
    p->x = pt_aalloc((size_t)Tmax * m->cfg.dim, sizeof(float));
    if (!h || !p->x) s = pt_fail(PT_ERR_NOMEM, "out of memory for a %d-token prefix", Tmax);
    if (!s) s = pt_layout_embed(m, r0, table, S, 0, P, p->x);
    if (!s) s = pt_cache_decode(m, p->cache, p->x, P, h);
    pt_afree(h);
    if (s) pt_prefix_end(p);
    return s;
}

pt_status pt_prefix_hidden(pt_prefix *p, const pt_rendered *r, float *h) {
    const pt_model *m = p->m;
    if (r->n > p->Tmax || r->n <= p->P || r->answer != r->n - 1)
        return pt_fail(PT_ERR_ARG,
                       "example of %d tokens (answer at %d) does not extend the "
                       "%d-token prefix within %d",
                       r->n, r->answer, p->P, p->Tmax);
    pt_cache_reset(p->cache, p->P);
    pt_status s = pt_layout_embed(m, r, p->table, p->S, p->P, r->n, p->x);
    if (s) return s;
    return pt_cache_decode(m, p->cache, p->x, r->n - p->P, h);
}

void pt_prefix_end(pt_prefix *p) {
    if (p->cache) pt_cache_free(p->cache);
    pt_afree(p->x);
    memset(p, 0, sizeof *p);
}
