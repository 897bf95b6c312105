/* gpt2.c - GPT-2 as Hugging Face stores it: forward from input embeddings and
 * input-gradient backward (the weights are frozen: no weight gradients).
 *
 * Dimension letters: B batch, T time, C width, NH heads, V vocab, L layers.
 * Block l (pre-norm):  r2 = x + proj(attn(qkv(ln1(x))));  x' = r2 + fcproj(gelu(fc(ln2(r2))))
 * Output: ln_f applied only at the requested positions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "models/gpt2_impl.h"
#include "models/model.h"
#include "models/model_random.h"
#include "models/model_util.h"

/* Activations of one layer kept for the backward pass. */
typedef struct gpt2_layer_acts {
    float *x;             // (B, T, C)   layer input (residual stream)
    float *mean1, *rstd1; // (B, T)
    float *qkv;           // (B, T, 3C)
    float *att;           // (B, NH, T, T)
    float *r2;            // (B, T, C)   residual after attention
    float *mean2, *rstd2; // (B, T)
    float *fch;           // (B, T, 4C)  pre-GELU
} gpt2_layer_acts;

typedef struct gpt2_run {
    int Bmax, Tmax;
    int B, T, n_out, have_backward;
    int recompute; // 1: only each layer's input is kept; backward recomputes the rest
    int *len;      // (Bmax)
    int *out_idx;  // (Bmax * Tmax)
    float *block;  // one allocation for everything below
    size_t block_floats;
    float *saved;         // per-layer saved activations (L slots), or one slot when recomputing
    float *xs;            // (L, B, T, C) layer inputs, only when recomputing
    float *resid_final;   // (B, T, C)
    float *meanf, *rstdf; // (n_out)
    /* scratch */
    float *ln;     // (B, T, C)
    float *atty;   // (B, T, C)
    float *tmp;    // (B, T, C)
    float *fcg;    // (B, T, 4C)
    float *dresid; // (B, T, C)
    float *dbig;   // (B, T, 4C)  also holds dqkv (B, T, 3C)
    float *dsmall; // (B, T, C)
} gpt2_run;

static const char *const PREFIXES[] = {"", "transformer.", NULL};

static size_t layer_floats(int B, int T, int C, int NH) {
    size_t BT = (size_t)B * T;
    return BT * C * 2 + BT * 4 + BT * 3 * C + (size_t)B * NH * T * T + BT * 4 * C;
}

static void carve_layer(gpt2_layer_acts *a, float *p, int B, int T, int C, int NH) {
    size_t BT = (size_t)B * T;
    a->x = p, p += BT * C;
    a->mean1 = p, p += BT;
    a->rstd1 = p, p += BT;
    a->qkv = p, p += BT * 3 * C;
    a->att = p, p += (size_t)B * NH * T * T;
    a->r2 = p, p += BT * C;
    a->mean2 = p, p += BT;
    a->rstd2 = p, p += BT;
    a->fch = p;
}

static pt_status gpt2_run_new(const pt_model *m, int Bmax, int Tmax, void **out) {
    const pt_model_config *c = &m->cfg;
    int C = c->dim, NH = c->n_heads, L = c->n_layers;
    if (Bmax < 1 || Tmax < 1 || Tmax > c->max_pos)
        return pt_fail(PT_ERR_ARG, "gpt2: batch %d x %d tokens not possible (max positions %d)",
                       Bmax, Tmax, c->max_pos);
    gpt2_run *r = calloc(1, sizeof *r);
    if (!r) return pt_fail(PT_ERR_NOMEM, "out of memory");
    size_t BT = (size_t)Bmax * Tmax;
    int rc = m->recompute != 0;
    size_t n = layer_floats(Bmax, Tmax, C, NH) * (size_t)(rc ? 1 : L); /* saved */
    if (rc) n += BT * C * (size_t)L;                                   /* xs */
    n += BT * C + 2 * BT;              /* resid_final, meanf, rstdf */
    n += BT * C * 3 + BT * 4 * C;      /* ln, atty, tmp, fcg */
    n += BT * C + BT * 4 * C + BT * C; /* dresid, dbig, dsmall */
    r->block = pt_aalloc(n, sizeof(float));
    r->len = calloc((size_t)Bmax, sizeof(int));
    r->out_idx = calloc(BT, sizeof(int));
    if (!r->block || !r->len || !r->out_idx) {
        pt_afree(r->block);
        free(r->len);
        free(r->out_idx);
        free(r);
        return pt_fail(PT_ERR_NOMEM, "gpt2: cannot allocate activations for %d x %d tokens", Bmax,
                       Tmax);
    }
    r->block_floats = n;
    r->recompute = rc;
    r->Bmax = Bmax;
    r->Tmax = Tmax;
    *out = r;
    return PT_OK;
}

static void gpt2_run_free(void *run) {
    gpt2_run *r = run;
    if (!r) return;
    pt_afree(r->block);
    free(r->len);
    free(r->out_idx);
    free(r);
}

static size_t gpt2_run_bytes(const void *run) {
    const gpt2_run *r = run;
    return r->block_floats * sizeof(float) + (size_t)r->Bmax * (r->Tmax + 1) * sizeof(int);
}

/* Carve the block for the actual (B, T): saved layers first, then the rest. */
static void carve_run(gpt2_run *r, int B, int T, int C, int NH, int L) {
    size_t BT = (size_t)B * T;
    float *p = r->block;
    r->saved = p, p += layer_floats(B, T, C, NH) * (size_t)(r->recompute ? 1 : L);
    r->xs = NULL;
    if (r->recompute) r->xs = p, p += BT * C * (size_t)L;
    r->resid_final = p, p += BT * C;
    r->meanf = p, p += BT;
    r->rstdf = p, p += BT;
    r->ln = p, p += BT * C;
    r->atty = p, p += BT * C;
    r->tmp = p, p += BT * C;
    r->fcg = p, p += BT * 4 * C;
    r->dresid = p, p += BT * C;
    r->dbig = p, p += BT * 4 * C;
    r->dsmall = p;
}

static pt_status check_batch(const pt_model *m, gpt2_run *r, const int *len, int B, int T,
                             const int *out_idx, int n_out) {
    if (B < 1 || T < 1 || B > r->Bmax || T > r->Tmax)
        return pt_fail(PT_ERR_ARG, "batch %d x %d exceeds the run's %d x %d", B, T, r->Bmax,
                       r->Tmax);
    for (int b = 0; b < B; b++)
        if (len[b] < 1 || len[b] > T)
            return pt_fail(PT_ERR_ARG, "row %d: length %d outside [1, %d]", b, len[b], T);
    if (n_out < 0 || n_out > B * T) return pt_fail(PT_ERR_ARG, "bad output count %d", n_out);
    for (int i = 0; i < n_out; i++) {
        int b = out_idx[i] / T, t = out_idx[i] % T;
        if (out_idx[i] < 0 || b >= B || t >= len[b])
            return pt_fail(PT_ERR_ARG, "output position %d is not a valid token", out_idx[i]);
    }
    (void)m;
    return PT_OK;
}

/* out (n) = a (n) + b (n) */
static void residual_add(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= PT_PAR_FLOPS / 16)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* The activations of layer l: its own slot when all are kept for backward,
 * else the shared slot 0; with recomputation the input x lives in xs. */
static void layer_acts(const gpt2_run *r, gpt2_layer_acts *a, int l, int keep_all, int B, int T,
                       int C, int NH) {
    carve_layer(a, r->saved + (keep_all ? layer_floats(B, T, C, NH) * l : 0), B, T, C, NH);
    if (r->xs) a->x = r->xs + (size_t)l * B * T * C;
}

/* One block from a->x: fills a's saved activations; x_out (B, T, C) gets the
 * block's output unless NULL (recomputation for backward stops after fc). */
static void block_forward(const pt_model *m, gpt2_run *r, const gpt2_layer *lw, gpt2_layer_acts *a,
                          int B, int T, float *x_out) {
    const pt_model_config *cfg = &m->cfg;
    int C = cfg->dim, NH = cfg->n_heads, HS = C / NH;
    size_t BT = (size_t)B * T;
    float eps = cfg->norm_eps, scale = 1.0f / sqrtf((float)HS);
    pt_layernorm_forward(r->ln, a->mean1, a->rstd1, a->x, lw->ln1w, lw->ln1b, (int)BT, C, eps);
    pt_mu_matmul_forward(m, a->qkv, r->ln, lw->qkvw, lw->qkvb, (int)BT, C, 3 * C);
    pt_attention_forward(r->atty, a->att, a->qkv, a->qkv + C, a->qkv + 2 * C, 3 * C, 3 * C, r->len,
                         B, T, NH, NH, HS, 1, scale);
    pt_mu_matmul_forward(m, r->tmp, r->atty, lw->projw, lw->projb, (int)BT, C, C);
    residual_add(a->r2, a->x, r->tmp, BT * C);
    pt_layernorm_forward(r->ln, a->mean2, a->rstd2, a->r2, lw->ln2w, lw->ln2b, (int)BT, C, eps);
    pt_mu_matmul_forward(m, a->fch, r->ln, lw->fcw, lw->fcb, (int)BT, C, 4 * C);
    if (!x_out) return;
    pt_gelu_tanh_forward(r->fcg, a->fch, BT * 4 * C);
    pt_mu_matmul_forward(m, r->tmp, r->fcg, lw->fcprojw, lw->fcprojb, (int)BT, 4 * C, C);
    residual_add(x_out, a->r2, r->tmp, BT * C);
}

static pt_status gpt2_forward(const pt_model *m, void *run, const float *x, const int *len, int B,
                              int T, const int *out_idx, int n_out, float *h_out,
                              int need_backward) {
    const gpt2_weights *w = m->impl;
    gpt2_run *r = run;
    const pt_model_config *cfg = &m->cfg;
    int C = cfg->dim, NH = cfg->n_heads, L = cfg->n_layers;
    size_t BT = (size_t)B * T;
    float eps = cfg->norm_eps;
    pt_status s = check_batch(m, r, len, B, T, out_idx, n_out);
    if (s) return s;
    carve_run(r, B, T, C, NH, L);
    r->B = B, r->T = T, r->n_out = n_out, r->have_backward = need_backward;
    memcpy(r->len, len, sizeof(int) * B);
    memcpy(r->out_idx, out_idx, sizeof(int) * n_out);
    /* without backward (or with recomputation) every layer reuses slot 0 */
    int keep_all = need_backward && !r->recompute;

    /* layer 0 input: x + wpe[t] */
    gpt2_layer_acts a;
    layer_acts(r, &a, 0, keep_all, B, T, C, NH);
#pragma omp parallel for schedule(static) if (BT * C >= PT_PAR_FLOPS / 16)
    for (size_t i = 0; i < BT; i++) {
        int t = (int)(i % T);
        const float *xi = x + i * C, *pe = w->wpe + (size_t)t * C;
        float *o = a.x + i * C;
        for (int c = 0; c < C; c++) o[c] = xi[c] + pe[c];
    }
    for (int l = 0; l < L; l++) {
        layer_acts(r, &a, l, keep_all, B, T, C, NH);
        float *next = r->resid_final;
        if (l + 1 < L) {
            /* slot 0's x is dead once the block has read it: the output may overwrite it */
            gpt2_layer_acts an;
            layer_acts(r, &an, l + 1, keep_all, B, T, C, NH);
            next = an.x;
        }
        block_forward(m, r, &w->layers[l], &a, B, T, next);
    }
    /* ln_f at the requested rows only */
    for (int i = 0; i < n_out; i++)
        pt_layernorm_forward(h_out + (size_t)i * C, r->meanf + i, r->rstdf + i,
                             r->resid_final + (size_t)out_idx[i] * C, w->lnfw, w->lnfb, 1, C, eps);
    return PT_OK;
}

static pt_status gpt2_backward(const pt_model *m, void *run, const float *dh, float *dx) {
    const gpt2_weights *w = m->impl;
    gpt2_run *r = run;
    const pt_model_config *cfg = &m->cfg;
    int C = cfg->dim, NH = cfg->n_heads, L = cfg->n_layers, HS = C / NH;
    int B = r->B, T = r->T;
    size_t BT = (size_t)B * T;
    if (!r->have_backward)
        return pt_fail(PT_ERR_ARG, "gpt2: backward without a forward that kept activations");
    float scale = 1.0f / sqrtf((float)HS);

    float *dres = r->dresid; // (B, T, C)
    memset(dres, 0, sizeof(float) * BT * C);
    for (int i = 0; i < r->n_out; i++)
        pt_layernorm_backward(dres + (size_t)r->out_idx[i] * C, dh + (size_t)i * C,
                              r->resid_final + (size_t)r->out_idx[i] * C, w->lnfw, r->meanf + i,
                              r->rstdf + i, 1, C);
    for (int l = L - 1; l >= 0; l--) {
        const gpt2_layer *lw = &w->layers[l];
        gpt2_layer_acts a;
        layer_acts(r, &a, l, !r->recompute, B, T, C, NH);
        /* the same kernels on the same input: bit-identical to the forward's values */
        if (r->recompute) block_forward(m, r, lw, &a, B, T, NULL);
        /* MLP branch: x' = r2 + fcproj(gelu(fc(ln2(r2)))) */
        float *dfcg = r->dbig; // (B, T, 4C)
        memset(dfcg, 0, sizeof(float) * BT * 4 * C);
        pt_mu_matmul_backward_input(m, dfcg, dres, lw->fcprojw, (int)BT, 4 * C, C);
        float *dfch = r->fcg; // reuse (B, T, 4C) scratch
        memset(dfch, 0, sizeof(float) * BT * 4 * C);
        pt_gelu_tanh_backward(dfch, dfcg, a.fch, BT * 4 * C);
        float *dln = r->dsmall; // (B, T, C)
        memset(dln, 0, sizeof(float) * BT * C);
        pt_mu_matmul_backward_input(m, dln, dfch, lw->fcw, (int)BT, C, 4 * C);
        pt_layernorm_backward(dres, dln, a.r2, lw->ln2w, a.mean2, a.rstd2, (int)BT, C);
        /* attention branch: r2 = x + proj(attn(qkv(ln1(x)))) */
        float *datty = r->atty;
        memset(datty, 0, sizeof(float) * BT * C);
        pt_mu_matmul_backward_input(m, datty, dres, lw->projw, (int)BT, C, C);
        float *dqkv = r->dbig; // (B, T, 3C)
        memset(dqkv, 0, sizeof(float) * BT * 3 * C);
        pt_attention_backward(dqkv, dqkv + C, dqkv + 2 * C, datty, a.att, a.qkv, a.qkv + C,
                              a.qkv + 2 * C, 3 * C, 3 * C, r->len, B, T, NH, NH, HS, scale);
        memset(dln, 0, sizeof(float) * BT * C);
        pt_mu_matmul_backward_input(m, dln, dqkv, lw->qkvw, (int)BT, C, 3 * C);
        pt_layernorm_backward(dres, dln, a.x, lw->ln1w, a.mean1, a.rstd1, (int)BT, C);
    }
    memcpy(dx, dres, sizeof(float) * BT * C);
    return PT_OK;
}

static void gpt2_head_forward(const pt_model *m, void *run, float *logits, const float *h, int n,
                              const int *rows, int nr) {
    int C = m->cfg.dim;
    if (!rows) {
        pt_matmul_forward(logits, h, m->wte, NULL, n, C, m->cfg.vocab_size);
        return;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < nr; j++) {
            const float *hi = h + (size_t)i * C, *wr = m->wte + (size_t)rows[j] * C;
            float acc = 0;
            for (int c = 0; c < C; c++) acc += hi[c] * wr[c];
            logits[(size_t)i * nr + j] = acc;
        }
}

static void gpt2_head_backward(const pt_model *m, void *run, float *dh, const float *dlogits,
                               const float *h, int n, const int *rows, int nr) {
    int C = m->cfg.dim;
    if (!rows) {
        pt_matmul_backward_input(dh, dlogits, m->wte, n, C, m->cfg.vocab_size);
        return;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < nr; j++) {
            float g = dlogits[(size_t)i * nr + j];
            const float *wr = m->wte + (size_t)rows[j] * C;
            float *d = dh + (size_t)i * C;
            for (int c = 0; c < C; c++) d[c] += g * wr[c];
        }
}

static void free_weights(gpt2_weights *w, int L) {
    if (!w) return;
    free(w->wte);
    free(w->wpe);
    free(w->lnfw);
    free(w->lnfb);
    if (w->layers)
        for (int l = 0; l < L; l++) {
            gpt2_layer *x = &w->layers[l];
            float *ps[] = {x->ln1w, x->ln1b, x->qkvw, x->qkvb, x->projw,   x->projb,
                           x->ln2w, x->ln2b, x->fcw,  x->fcb,  x->fcprojw, x->fcprojb};
            for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(ps[i]);
        }
    free(w->layers);
    free(w);
}

static void gpt2_free_impl(pt_model *m) {
    free_weights(m->impl, m->cfg.n_layers);
    m->impl = NULL;
}

/* pt_model_set_precision: the four block matrices of every layer to bf16 */
static pt_status gpt2_to_bf16(pt_model *m) {
    gpt2_weights *w = m->impl;
    size_t C = (size_t)m->cfg.dim;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        gpt2_layer *x = &w->layers[l];
        pt_status s;
        if ((s = pt_mu_to_bf16(&x->qkvw, 3 * C * C)) || (s = pt_mu_to_bf16(&x->projw, C * C)) ||
            (s = pt_mu_to_bf16(&x->fcw, 4 * C * C)) || (s = pt_mu_to_bf16(&x->fcprojw, 4 * C * C)))
            return s;
    }
    return PT_OK;
}

static const pt_model_ops GPT2_OPS = {
    .run_new = gpt2_run_new,
    .run_free = gpt2_run_free,
    .run_bytes = gpt2_run_bytes,
    .forward = gpt2_forward,
    .backward = gpt2_backward,
    .head_forward = gpt2_head_forward,
    .head_backward = gpt2_head_backward,
    .free_impl = gpt2_free_impl,
    .cache_new = pt_gpt2_cache_new,
    .cache_free = pt_gpt2_cache_free,
    .decode = pt_gpt2_decode,
    .cache_reset = pt_gpt2_cache_reset,
    .to_bf16 = gpt2_to_bf16,
};

/* Load a Conv1D weight stored (in, out) and return it transposed to (out, in). */
static pt_status load_conv1d(const pt_st_file *f, const char *name, int in, int out, float **w) {
    return pt_mu_load_transposed(f, PREFIXES, name, in, out, w);
}

static pt_status load_vec(const pt_st_file *f, const char *name, int n, float **w) {
    int64_t shape[1] = {n};
    return pt_mu_load(f, PREFIXES, name, 1, shape, w);
}

static pt_status read_config(const char *dir, pt_model_config *c) {
    pt_json_doc doc;
    pt_status s = pt_mu_read_config(dir, &doc);
    if (s) return s;
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    const pt_json *j = doc.root;
    memset(c, 0, sizeof *c);
    c->family = PT_FAMILY_GPT2;
    c->causal = 1;
    c->has_lm_head = 1;
    if ((s = pt_mu_cfg_int(j, path, "n_embd", &c->dim)) ||
        (s = pt_mu_cfg_int(j, path, "n_layer", &c->n_layers)) ||
        (s = pt_mu_cfg_int(j, path, "n_head", &c->n_heads)) ||
        (s = pt_mu_cfg_int(j, path, "vocab_size", &c->vocab_size)))
        goto done;
    const char *pos_keys[] = {"n_positions", "n_ctx", NULL};
    if ((s = pt_mu_cfg_int_any(j, path, pos_keys, &c->max_pos))) goto done;
    c->norm_eps = 1e-5f;
    if (pt_json_get(j, "layer_norm_epsilon") &&
        (s = pt_mu_cfg_float(j, path, "layer_norm_epsilon", &c->norm_eps)))
        goto done;
    if (!(c->norm_eps > 0 && c->norm_eps < 1)) {
        s = pt_fail(PT_ERR_FORMAT, "%s: layer_norm_epsilon %g out of range (0, 1)", path,
                    (double)c->norm_eps);
        goto done;
    }
    const char *act = "gelu_new";
    pt_json_get_str(j, "activation_function", &act);
    if (strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh")) {
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "%s: activation_function \"%s\" not supported (GPT-2 uses gelu_new)", path,
                    act);
        goto done;
    }
    if (c->dim < 1 || c->n_layers < 1 || c->n_heads < 1 || c->vocab_size < 1 || c->max_pos < 1 ||
        c->dim % c->n_heads || c->dim > 65536 || c->n_layers > 1024 || c->max_pos > 1 << 20 ||
        c->vocab_size > 1 << 24) {
        s = pt_fail(PT_ERR_FORMAT,
                    "%s: implausible dimensions (n_embd %d, n_layer %d, n_head %d, vocab_size %d, "
                    "n_positions %d; n_embd must be a multiple of n_head)",
                    path, c->dim, c->n_layers, c->n_heads, c->vocab_size, c->max_pos);
        goto done;
    }
    c->n_kv_heads = c->n_heads;
    c->ffn_dim = 4 * c->dim;
done:
    pt_json_doc_free(&doc);
    return s;
}

pt_status pt_gpt2_load(pt_model **out, const char *dir, const char *st_path) {
    *out = NULL;
    pt_model *m = pt_mu_model_new(dir);
    gpt2_weights *w = calloc(1, sizeof *w);
    pt_st_file f;
    memset(&f, 0, sizeof f);
    pt_status s = PT_OK;
    if (!m || !w) {
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((s = read_config(dir, &m->cfg))) goto fail;
    if ((s = pt_st_open(&f, st_path))) goto fail;
    const pt_model_config *c = &m->cfg;
    int C = c->dim, V = c->vocab_size, L = c->n_layers;
    int64_t sh_wte[2] = {V, C}, sh_wpe[2] = {c->max_pos, C};
    if ((s = pt_mu_load(&f, PREFIXES, "wte.weight", 2, sh_wte, &w->wte)) ||
        (s = pt_mu_load(&f, PREFIXES, "wpe.weight", 2, sh_wpe, &w->wpe)) ||
        (s = load_vec(&f, "ln_f.weight", C, &w->lnfw)) ||
        (s = load_vec(&f, "ln_f.bias", C, &w->lnfb)))
        goto fail;
    w->layers = calloc((size_t)L, sizeof(gpt2_layer));
    if (!w->layers) {
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int l = 0; l < L; l++) {
        gpt2_layer *x = &w->layers[l];
        char n[16][96];
        const char *sfx[] = {"ln_1.weight",      "ln_1.bias",          "attn.c_attn.weight",
                             "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
                             "ln_2.weight",      "ln_2.bias",          "mlp.c_fc.weight",
                             "mlp.c_fc.bias",    "mlp.c_proj.weight",  "mlp.c_proj.bias"};
        for (int i = 0; i < 12; i++) snprintf(n[i], sizeof n[i], "h.%d.%s", l, sfx[i]);
        if ((s = load_vec(&f, n[0], C, &x->ln1w)) || (s = load_vec(&f, n[1], C, &x->ln1b)) ||
            (s = load_conv1d(&f, n[2], C, 3 * C, &x->qkvw)) ||
            (s = load_vec(&f, n[3], 3 * C, &x->qkvb)) ||
            (s = load_conv1d(&f, n[4], C, C, &x->projw)) ||
            (s = load_vec(&f, n[5], C, &x->projb)) || (s = load_vec(&f, n[6], C, &x->ln2w)) ||
            (s = load_vec(&f, n[7], C, &x->ln2b)) ||
            (s = load_conv1d(&f, n[8], C, 4 * C, &x->fcw)) ||
            (s = load_vec(&f, n[9], 4 * C, &x->fcb)) ||
            (s = load_conv1d(&f, n[10], 4 * C, C, &x->fcprojw)) ||
            (s = load_vec(&f, n[11], C, &x->fcprojb)))
            goto fail;
    }
    snprintf(m->dtype, sizeof m->dtype, "%s",
             f.n_tensors ? pt_dtype_name(f.tensors[0].dtype) : "F32");
    pt_st_close(&f);
    m->ops = &GPT2_OPS;
    m->impl = w;
    m->wte = w->wte;
    m->n_params = (int64_t)V * C + (int64_t)c->max_pos * C + 2 * C +
                  (int64_t)L * (12 * (int64_t)C * C + 13 * (int64_t)C);
    /* the tokenizer is optional for the model itself; tools that need it say so */
    if (pt_tok_load_dir(&m->tok, dir) != PT_OK) m->tok = NULL;
    pt_clear_error();
    *out = m;
    return PT_OK;
fail:
    pt_st_close(&f);
    if (m) {
        m->impl = NULL;
        free_weights(w, m->cfg.n_layers);
        pt_model_free(m);
    } else {
        free(w);
    }
    return s;
}

/* Random GPT-2 of the shape in cfg (model_random.c checks the sizes; the MLP
 * width is 4 * dim in GPT-2). */
pt_status pt_gpt2_random(pt_model **out, const pt_model_config *cfg, uint64_t seed) {
    *out = NULL;
    if (cfg->ffn_dim != 4 * cfg->dim)
        return pt_fail(PT_ERR_ARG, "random gpt2: ffn %d must be 4 x dim (%d)", cfg->ffn_dim,
                       4 * cfg->dim);
    pt_model *m = pt_mu_model_new("random:gpt2");
    gpt2_weights *w = calloc(1, sizeof *w);
    int L = cfg->n_layers;
    if (!m || !w || !(w->layers = calloc((size_t)L, sizeof(gpt2_layer)))) {
        free(w);
        pt_model_free(m);
        return pt_fail(PT_ERR_NOMEM, "random gpt2 model: out of memory");
    }
    m->cfg = *cfg;
    m->cfg.family = PT_FAMILY_GPT2;
    m->cfg.causal = 1;
    m->cfg.has_lm_head = 1;
    size_t C = (size_t)cfg->dim, V = (size_t)cfg->vocab_size;
    pt_mr r = {seed, 0, 0};
    w->wte = pt_mr_normal(&r, V * C, PT_RANDOM_STD);
    w->wpe = pt_mr_normal(&r, (size_t)cfg->max_pos * C, PT_RANDOM_STD);
    w->lnfw = pt_mr_const(&r, C, 1.0f);
    w->lnfb = pt_mr_const(&r, C, 0.0f);
    for (int l = 0; l < L && !r.fail; l++) {
        gpt2_layer *x = &w->layers[l];
        x->ln1w = pt_mr_const(&r, C, 1.0f);
        x->ln1b = pt_mr_const(&r, C, 0.0f);
        x->qkvw = pt_mr_normal(&r, 3 * C * C, PT_RANDOM_STD);
        x->qkvb = pt_mr_const(&r, 3 * C, 0.0f);
        x->projw = pt_mr_normal(&r, C * C, PT_RANDOM_STD);
        x->projb = pt_mr_const(&r, C, 0.0f);
        x->ln2w = pt_mr_const(&r, C, 1.0f);
        x->ln2b = pt_mr_const(&r, C, 0.0f);
        x->fcw = pt_mr_normal(&r, 4 * C * C, PT_RANDOM_STD);
        x->fcb = pt_mr_const(&r, 4 * C, 0.0f);
        x->fcprojw = pt_mr_normal(&r, 4 * C * C, PT_RANDOM_STD);
        x->fcprojb = pt_mr_const(&r, C, 0.0f);
    }
    if (r.fail) {
        free_weights(w, L);
        pt_model_free(m);
        return pt_fail(PT_ERR_NOMEM, "random gpt2 model: out of memory");
    }
    m->ops = &GPT2_OPS;
    m->impl = w;
    m->wte = w->wte;
    m->n_params = (int64_t)(V * C) + (int64_t)cfg->max_pos * (int64_t)C + 2 * (int64_t)C +
                  (int64_t)L * (12 * (int64_t)C * (int64_t)C + 13 * (int64_t)C);
    snprintf(m->dtype, sizeof m->dtype, "F32");
    *out = m;
    return PT_OK;
}
