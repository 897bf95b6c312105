/* run.c - activation memory and the layer loop, shared by every family.
 *
 * Activation memory is carved one way: the family's size table (pt_act_desc)
 * gives each activation's floats per row and whether it is kept per layer;
 * pt_run_new sums the table for Bmax sequences of Tmax rows (N = Bmax*Tmax
 * rows at most), allocates one block and carves it. A pass uses the slots of
 * layer l:
 *   PT_A_LAYER  L slots (block inputs: L + 1, the last is the final norm's
 *               input) when the run may go backward, else one;
 *   PT_A_KEEP   L slots when keeping everything for backward, one when
 *               recomputing or going forward only;
 *   scratch     one slot.
 *
 *   forward:  x_emb --embed--> IN[0] --block 0--> IN[1] ... --block L-1--> IN[L]
 *             h = final_norm(IN[L]) at the output rows
 *   backward: dres = final_norm'(dh); for l = L-1 .. 0: (recompute block l;)
 *             dres = block_l'(dres); dx = embed'(dres)
 *
 * Rows are packed: sequence b is rows start[b] .. start[b] + len[b]; no
 * product ever touches padding. pt_model_forward / pt_model_backward take
 * the padded (B, T) layout the callers build and pack it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "models/family.h"
#include "models/run_impl.h"

/* Floats per row of an activation. */
static size_t act_width(const pt_model *m, const pt_act_desc *a, int E, int T) {
    if (a->flags & PT_A_ATT) return (size_t)m->cfg.n_heads * (size_t)(E + T) * (size_t)a->mult;
    return (size_t)pt_dim_value(&m->cfg, a->width) * (size_t)a->mult;
}

void pt_run_free(pt_run *r) {
    if (!r) return;
    pt_afree(r->block);
    free(r->ints);
    free(r);
}

pt_status pt_run_new_ext(const pt_model *m, int Bmax, int Tmax, int Emax, int backward,
                         pt_run **out) {
    const pt_family_desc *f = m->fam;
    const pt_model_config *c = &m->cfg;
    *out = NULL;
    if (Bmax < 1 || Tmax < 1 || Emax < 0)
        return pt_fail(PT_ERR_ARG, "%s: batch %d x %d: sizes must be positive", f->name, Bmax,
                       Tmax);
    if (Tmax > c->max_pos || Emax > c->max_pos)
        return pt_fail(PT_ERR_ARG, "%s: sequence length %d exceeds the model's %d positions",
                       f->name, Tmax > Emax ? Tmax : Emax, c->max_pos);
    size_t N;
    if (!pt_mul_ok((size_t)Bmax, (size_t)Tmax, &N) || N > ((size_t)1 << 31) / 2)
        return pt_fail(PT_ERR_NOMEM, "%s: batch %d x %d too large", f->name, Bmax, Tmax);
    pt_run *r = calloc(1, sizeof *r);
    if (!r) return pt_fail(PT_ERR_NOMEM, "out of memory");
    r->m = m;
    r->Bmax = Bmax, r->Tmax = Tmax, r->Emax = Emax, r->Nmax = (int)N;
    r->backward = backward != PT_RUN_FORWARD;
    r->recompute = backward == PT_RUN_RECOMPUTE || (backward == PT_RUN_BACKWARD && m->recompute);
    int L = c->n_layers;
    size_t C = (size_t)c->dim, total = 0;
    /* the size table: every activation's slots, each rounded up to 64 bytes */
    for (int i = 0; i < f->n_acts; i++) {
        const pt_act_desc *a = &f->acts[i];
        size_t per, n_slots = 1;
        if (!pt_mul_ok(N, act_width(m, a, Emax, Tmax), &per)) goto nomem;
        if (backward && (a->flags & PT_A_LAYER)) n_slots = (size_t)L;
        if (backward && (a->flags & PT_A_KEEP) && !r->recompute) n_slots = (size_t)L;
        if (n_slots > 1 && a->id == PT_ACT_IN) n_slots++; /* + the final norm's input */
        per = (per + 15) / 16 * 16;
        r->act_floats[a->id] = per;
        r->act_slots[a->id] = (int)n_slots;
        if (!pt_mul_ok(per, n_slots, &per) || !pt_add_ok(total, per, &total)) goto nomem;
    }
    /* the driver's own: packed input x, dres, dx (N, C); final-norm stats (N, 2);
     * the head's scratch (N, head_scratch * C) */
    size_t own = N * C * 3 + N * 2 + N * C * (size_t)f->head_scratch;
    if (!pt_add_ok(total, own, &total)) goto nomem;
    r->floats = total;
    r->block = pt_aalloc(total ? total : 1, sizeof(float));
    /* ints: start, len, elen, sel_qstart, sel_qlen (B); pos, out_rows, sel, sel_qidx,
     * sel_pos (N) */
    r->ints = calloc((size_t)Bmax * 5 + N * 5, sizeof(int));
    if (!r->block || !r->ints) goto nomem;
    float *p = r->block;
    for (int i = 0; i < f->n_acts; i++) {
        int id = f->acts[i].id;
        r->act_base[id] = p;
        p += r->act_floats[id] * (size_t)r->act_slots[id];
    }
    r->x = p, p += N * C;
    r->dres = p, p += N * C;
    r->dx = p, p += N * C;
    r->fstats = p, p += N * 2;
    r->head = p;
    r->head_rows = f->head_scratch ? (int)N : 0;
    r->start = r->ints;
    r->len = r->start + Bmax;
    r->elen = r->len + Bmax;
    r->sel_qstart = r->elen + Bmax;
    r->sel_qlen = r->sel_qstart + Bmax;
    r->pos = r->sel_qlen + Bmax;
    r->out_rows = r->pos + N;
    r->sel = r->out_rows + N;
    r->sel_qidx = r->sel + N;
    r->sel_pos = r->sel_qidx + N;
    const char *env = getenv("PTUNE_NO_SHORTCUTS");
    r->no_sel = env && *env && strcmp(env, "0");
    *out = r;
    return PT_OK;
nomem:
    pt_run_free(r);
    return pt_fail(PT_ERR_NOMEM, "%s: cannot allocate activations for %d x %d rows", f->name, Bmax,
                   Tmax);
}

pt_status pt_run_new(const pt_model *m, int Bmax, int Tmax, pt_run **out) {
    return pt_run_new_ext(m, Bmax, Tmax, 0, 1, out);
}

size_t pt_run_bytes(const pt_run *r) {
    return r->floats * sizeof(float) + ((size_t)r->Bmax * 3 + (size_t)r->Nmax * 2) * sizeof(int);
}

/* The slots of layer l (layer L: only IN is meaningful, the final norm's input). */
void pt_run_slots(const pt_run *r, int l, int keep, float **a) {
    const pt_family_desc *f = r->m->fam;
    for (int i = 0; i < PT_MAX_ACTS; i++) a[i] = NULL;
    for (int i = 0; i < f->n_acts; i++) {
        int id = f->acts[i].id, n = r->act_slots[id];
        int s = keep && n > 1 ? (l < n ? l : n - 1) : 0;
        a[id] = r->act_base[id] + r->act_floats[id] * (size_t)s;
    }
}

void pt_pass_attn_geom(const pt_model *m, const pt_pass *p, int l, pt_attn_geom *g) {
    const pt_model_config *c = &m->cfg;
    memset(g, 0, sizeof *g);
    g->B = p->B, g->NH = c->n_heads, g->NKV = c->n_kv_heads, g->HS = c->head_dim;
    g->causal = c->causal;
    g->scale = 1.0f / sqrtf((float)c->head_dim);
    g->start = p->start, g->len = p->len;
    g->T = p->T;
    if (p->elen && (p->ek || p->ev)) {
        g->ek = p->ek + (size_t)l * p->e_lstride;
        g->ev = p->ev + (size_t)l * p->e_lstride;
        g->e_bstride = p->e_bstride;
        g->e_stride = p->e_stride ? p->e_stride : (int)pt_dim_value(c, PT_D_KVC);
        g->elen = p->elen;
        g->E = p->E;
    }
}

void pt_pass_sel_geom(const pt_model *m, const pt_pass *p, int l, pt_attn_geom *g) {
    pt_pass_attn_geom(m, p, l, g);
    g->qstart = p->sel_qstart, g->qlen = p->sel_qlen, g->qidx = p->sel_qidx, g->Tq = p->sel_Tq;
}

void pt_pass_gather(const pt_pass *p, float *dst, const float *src, int C) {
    for (int i = 0; i < p->n_sel; i++) /* sel[i] >= i: ascending copies never overwrite a source */
        memmove(dst + (size_t)i * C, src + (size_t)p->sel[i] * C, sizeof(float) * (size_t)C);
}

void pt_pass_scatter(const pt_pass *p, float *dst, const float *src, int C) {
    for (int i = p->n_sel - 1; i >= 0; i--) /* descending: the mirror of the gather */
        memmove(dst + (size_t)p->sel[i] * C, src + (size_t)i * C, sizeof(float) * (size_t)C);
}

/* The last block's output rows: the output rows when they are sorted and
 * unique (each sequence's contiguous in them), else none (all rows run). */
static void plan_sel(const pt_model *m, pt_run *r, pt_pass *p, const int *out_rows, int n_out) {
    p->sel = NULL, p->n_sel = 0, p->sel_Tq = 0;
    if (r->no_sel || !m->fam->last_rows) return;
    for (int i = 1; i < n_out; i++)
        if (out_rows[i] <= out_rows[i - 1]) return;
    int b = 0;
    for (int i = 0; i < p->B; i++) r->sel_qlen[i] = 0, r->sel_qstart[i] = 0;
    for (int i = 0; i < n_out; i++) {
        int row = out_rows[i];
        while (b < p->B && row >= p->start[b] + p->len[b]) b++;
        if (b == p->B || row < p->start[b]) return; /* not inside a sequence */
        if (r->sel_qlen[b] == 0) r->sel_qstart[b] = i;
        r->sel_qlen[b]++;
        r->sel[i] = row;
        r->sel_qidx[i] = row - p->start[b];
        r->sel_pos[i] = p->pos[row];
    }
    for (int i = 0; i < p->B; i++)
        if (r->sel_qlen[i] > p->sel_Tq) p->sel_Tq = r->sel_qlen[i];
    p->sel = r->sel, p->sel_qstart = r->sel_qstart, p->sel_qlen = r->sel_qlen;
    p->sel_qidx = r->sel_qidx, p->sel_pos = r->sel_pos, p->n_sel = n_out;
}

void pt_pass_store_kv(const pt_model *m, const pt_pass *p, int l, const float *k, const float *v,
                      int k_stride) {
    if (!p->kv_out_k) return;
    size_t KVC = (size_t)pt_dim_value(&m->cfg, PT_D_KVC);
    float *ko = p->kv_out_k + (size_t)l * p->kv_out_lstride; // (N, KVC)
    float *vo = p->kv_out_v + (size_t)l * p->kv_out_lstride;
    for (int i = 0; i < p->N; i++) {
        memcpy(ko + (size_t)i * KVC, k + (size_t)i * k_stride, sizeof(float) * KVC);
        memcpy(vo + (size_t)i * KVC, v + (size_t)i * k_stride, sizeof(float) * KVC);
    }
}

pt_status pt_run_pass(const pt_model *m, pt_run *r, pt_pass *p, const float *x_emb,
                      const int *out_rows, int n_out, float *h_out) {
    const pt_family_desc *f = m->fam;
    const pt_model_config *c = &m->cfg;
    int L = c->n_layers;
    r->have_backward = 0;
    if (p->B < 1 || p->B > r->Bmax || p->N < 1 || p->N > r->Nmax || p->E > r->Emax)
        return pt_fail(PT_ERR_ARG, "%s: pass of %d sequences, %d rows exceeds the run's %d x %d",
                       f->name, p->B, p->N, r->Bmax, r->Tmax);
    if (p->keep && !r->backward)
        return pt_fail(PT_ERR_ARG, "%s: this run was made for forward passes only", f->name);
    for (int b = 0; b < p->B; b++) {
        int e = p->elen ? p->elen[b] : 0;
        if (p->len[b] < 1 || p->len[b] > r->Tmax || e < 0 || e > p->E)
            return pt_fail(PT_ERR_ARG, "%s: sequence %d has %d rows (+%d cached), expected 1..%d",
                           f->name, b, p->len[b], e, r->Tmax);
        if (c->sliding_window > 0 && e + p->len[b] > c->sliding_window)
            return pt_fail(PT_ERR_UNSUPPORTED,
                           "%s: a sequence of %d tokens is longer than the model's sliding "
                           "window of %d; ptune computes full attention, which is exact only "
                           "within the window",
                           m->path ? m->path : f->name, e + p->len[b], c->sliding_window);
    }
    for (int i = 0; i < p->N; i++)
        if (p->pos[i] < 0 || p->pos[i] >= c->max_pos)
            return pt_fail(PT_ERR_ARG, "%s: position %d outside the model's %d positions", f->name,
                           p->pos[i], c->max_pos);
    for (int i = 0; i < n_out; i++)
        if (out_rows[i] < 0 || out_rows[i] >= p->N)
            return pt_fail(PT_ERR_ARG, "%s: output row %d outside the %d rows", f->name,
                           out_rows[i], p->N);
    p->T = r->Tmax;
    p->recompute = r->recompute;
    plan_sel(m, r, p, out_rows, n_out);
    float *a[PT_MAX_ACTS];
    pt_run_slots(r, 0, p->keep, a);
    f->fn.embed(m, p, a, x_emb, a[PT_ACT_IN]);
    for (int l = 0; l < L; l++) {
        float *next[PT_MAX_ACTS];
        pt_run_slots(r, l, p->keep, a);
        pt_run_slots(r, l + 1, p->keep, next);
        f->fn.block(m, p, l, a, next[PT_ACT_IN], PT_BLOCK_FULL);
    }
    pt_run_slots(r, L, p->keep, a);
    f->fn.final_norm(m, h_out, r->fstats, a[PT_ACT_IN], out_rows, n_out);
    r->pass = *p;
    r->n_out = n_out;
    if (n_out && out_rows != r->out_rows)
        memcpy(r->out_rows, out_rows, sizeof(int) * (size_t)n_out);
    r->x_emb = x_emb;
    r->have_backward = p->keep;
    return PT_OK;
}

pt_status pt_run_backward(const pt_model *m, pt_run *r, const float *dh, float *dx) {
    const pt_family_desc *f = m->fam;
    int L = m->cfg.n_layers, C = m->cfg.dim;
    if (!r->have_backward)
        return pt_fail(PT_ERR_ARG, "%s: backward without a forward that kept activations", f->name);
    pt_pass *p = &r->pass;
    size_t NC = (size_t)p->N * C;
    float *a[PT_MAX_ACTS];
    memset(r->dres, 0, sizeof(float) * NC);
    pt_run_slots(r, L, 1, a);
    f->fn.final_norm_backward(m, r->dres, dh, a[PT_ACT_IN], r->fstats, r->out_rows, r->n_out);
    for (int l = L - 1; l >= 0; l--) {
        pt_run_slots(r, l, 1, a);
        /* the same kernels on the same input: bit-identical to the forward's values */
        if (r->recompute && f->fn.recompute_input) {
            float *prev[PT_MAX_ACTS];
            pt_run_slots(r, l - 1 >= 0 ? l - 1 : 0, 1, prev);
            f->fn.recompute_input(m, p, l, l > 0 ? prev : NULL, a);
        }
        if (r->recompute) f->fn.block(m, p, l, a, NULL, PT_BLOCK_RECOMPUTE);
        f->fn.block_backward(m, p, l, a, r->dres);
    }
    pt_run_slots(r, 0, 1, a);
    memset(dx, 0, sizeof(float) * NC);
    f->fn.embed_backward(m, p, a, r->x_emb, dx, r->dres);
    return PT_OK;
}

/* ---- the padded (B, T) layout ---- */

pt_status pt_model_forward(const pt_model *m, pt_run *r, const float *x, const int *len, int B,
                           int T, const int *out_idx, int n_out, float *h_out, int need_backward) {
    int C = m->cfg.dim;
    const char *name = m->fam->name;
    if (B < 1 || T < 1 || B > r->Bmax || T > r->Tmax)
        return pt_fail(PT_ERR_ARG, "%s: batch %d x %d outside the run's %d x %d", name, B, T,
                       r->Bmax, r->Tmax);
    for (int b = 0; b < B; b++)
        if (len[b] < 1 || len[b] > T)
            return pt_fail(PT_ERR_ARG, "%s: row %d has length %d, expected 1..%d", name, b, len[b],
                           T);
    if (n_out < 0 || n_out > B * T)
        return pt_fail(PT_ERR_ARG, "%s: %d output positions for %d tokens", name, n_out, B * T);
    for (int i = 0; i < n_out; i++)
        if (out_idx[i] < 0 || out_idx[i] >= B * T || out_idx[i] % T >= len[out_idx[i] / T])
            return pt_fail(PT_ERR_ARG, "%s: output position %d is padding or out of range", name,
                           out_idx[i]);
    int N = 0;
    for (int b = 0; b < B; b++) {
        r->start[b] = N;
        r->len[b] = len[b];
        memcpy(r->x + (size_t)N * C, x + (size_t)b * T * C, sizeof(float) * (size_t)len[b] * C);
        for (int t = 0; t < len[b]; t++) r->pos[N + t] = t;
        N += len[b];
    }
    for (int i = 0; i < n_out; i++) r->out_rows[i] = r->start[out_idx[i] / T] + out_idx[i] % T;
    pt_pass p;
    memset(&p, 0, sizeof p);
    p.B = B, p.N = N, p.start = r->start, p.len = r->len, p.pos = r->pos;
    p.keep = need_backward != 0;
    r->T_padded = T;
    return pt_run_pass(m, r, &p, r->x, r->out_rows, n_out, h_out);
}

pt_status pt_model_backward(const pt_model *m, pt_run *r, const float *dh, float *dx) {
    int C = m->cfg.dim, B = r->pass.B, T = r->T_padded;
    pt_status s = pt_run_backward(m, r, dh, r->dx);
    if (s) return s;
    for (int b = 0; b < B; b++) {
        float *d = dx + (size_t)b * T * C; // (T, C)
        size_t nv = (size_t)r->len[b] * C;
        memcpy(d, r->dx + (size_t)r->start[b] * C, sizeof(float) * nv);
        memset(d + nv, 0, sizeof(float) * ((size_t)T * C - nv));
    }
    return PT_OK;
}

/* ---- the LM head ---- */

/* The output matrix (V, C): lm_head, or the input embeddings when tied. */
static const pt_weight *out_matrix(const pt_model *m) {
    return pt_weight_present(&m->w.lm_head) ? &m->w.lm_head : &m->w.tok_embd;
}

pt_status pt_model_head_forward(const pt_model *m, pt_run *r, float *logits, const float *h, int n,
                                const int *rows, int nr) {
    if (m->fam->fn.head) return m->fam->fn.head(m, r, logits, h, n, rows, nr);
    const pt_weight *W = out_matrix(m);
    int C = m->cfg.dim;
    if (!rows) {
        pt_mm_forward(logits, h, W, NULL, n);
        return PT_OK;
    }
    for (int i = 0; i < n; i++)
        pt_weight_dot_rows(W, h + (size_t)i * C, rows, nr, logits + (size_t)i * nr);
    return PT_OK;
}

pt_status pt_model_head_backward(const pt_model *m, pt_run *r, float *dh, const float *dlogits,
                                 const float *h, int n, const int *rows, int nr) {
    if (m->fam->fn.head_backward)
        return m->fam->fn.head_backward(m, r, dh, dlogits, h, n, rows, nr);
    const pt_weight *W = out_matrix(m);
    int C = m->cfg.dim;
    if (!rows) {
        pt_mm_backward_input(dh, dlogits, W, n);
        return PT_OK;
    }
    for (int i = 0; i < n; i++)
        pt_weight_axpy_rows(W, dh + (size_t)i * C, dlogits + (size_t)i * nr, rows, nr);
    return PT_OK;
}
