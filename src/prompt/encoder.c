/* encoder.c - prompt encoders (embedding, mlp, lstm): forward and backward.
 *
 * Dimension letters used throughout:
 *   S   virtual tokens (the seed sequence length; batch is 1)
 *   d   model width (encoder input and output)
 *   H   MLP hidden width (mlp encoder)
 *   HD  LSTM hidden size per direction = d/2
 *   G   LSTM gate rows = 4*HD, in PyTorch's order i, f, g, o
 *
 * Everything is allocated in pt_encoder_init: params and grads (n_params each)
 * and one work block for saved activations and backward scratch, carved by
 * the offset tables below. forward/backward never allocate.
 */
#include "prompt/encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/kernels.h"

/* ------------------------------------------------------------------------ */
/* names */

const char *pt_encoder_kind_name(pt_encoder_kind k) {
    switch (k) {
    case PT_ENCODER_EMBEDDING:
        return "embedding";
    case PT_ENCODER_MLP:
        return "mlp";
    case PT_ENCODER_LSTM:
        return "lstm";
    case PT_ENCODER_PREFIX_MLP:
        return "prefix-mlp";
    }
    return "unknown";
}

int pt_encoder_kind_parse(const char *s, pt_encoder_kind *k) {
    /* prefix-mlp is chosen by a deep-prompt method, not by name */
    static const pt_encoder_kind all[] = {PT_ENCODER_EMBEDDING, PT_ENCODER_MLP, PT_ENCODER_LSTM};
    if (!s) return 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(s, pt_encoder_kind_name(all[i])) == 0) {
            *k = all[i];
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* work layout: offsets (in floats) into e->work */

typedef struct mlp_work {
    size_t z1, r1, z2, r2;     // (S, H) each: pre/post ReLU of layers 0 and 2
    size_t dr2, dz2, dr1, dz1; // (S, H) each: backward scratch
    size_t total;
} mlp_work;

typedef struct lstm_work {
    size_t gates[4]; // (S, G) activated gates of (layer, direction) k = 2*layer + reverse
    size_t c[4];     // (S, HD) cell states
    size_t hs[4];    // (S, HD) hidden states
    size_t out[2];   // (S, d) layer outputs: concat(forward h, backward h)
    size_t z1, r1;   // (S, d) head Linear 0 output, after ReLU
    size_t dr1, dz1, dout1, dout0; // (S, d) backward scratch
    size_t dgates;                 // (S, G) backward scratch
    size_t hg;                     // (G) recurrent gate contribution
    size_t dh, dc, zeros;          // (HD) backward carries; zero initial state
    size_t total;
} lstm_work;

/* Append n floats at the cursor; returns the offset. Sizes are bounded in
 * init (S, d, H <= 65536), so these sums cannot overflow a 64-bit size_t. */
static size_t take(size_t *cur, size_t n) {
    size_t off = *cur;
    *cur += n;
    return off;
}

static void mlp_layout(mlp_work *w, int S, int H) {
    size_t cur = 0, SH = (size_t)S * H;
    w->z1 = take(&cur, SH);
    w->r1 = take(&cur, SH);
    w->z2 = take(&cur, SH);
    w->r2 = take(&cur, SH);
    w->dr2 = take(&cur, SH);
    w->dz2 = take(&cur, SH);
    w->dr1 = take(&cur, SH);
    w->dz1 = take(&cur, SH);
    w->total = cur;
}

static void lstm_layout(lstm_work *w, int S, int d) {
    size_t cur = 0, HD = (size_t)d / 2, G = 4 * HD, Sd = (size_t)S * d;
    for (int k = 0; k < 4; k++) {
        w->gates[k] = take(&cur, (size_t)S * G);
        w->c[k] = take(&cur, (size_t)S * HD);
        w->hs[k] = take(&cur, (size_t)S * HD);
    }
    w->out[0] = take(&cur, Sd);
    w->out[1] = take(&cur, Sd);
    w->z1 = take(&cur, Sd);
    w->r1 = take(&cur, Sd);
    w->dr1 = take(&cur, Sd);
    w->dz1 = take(&cur, Sd);
    w->dout1 = take(&cur, Sd);
    w->dout0 = take(&cur, Sd);
    w->dgates = take(&cur, (size_t)S * G);
    w->hg = take(&cur, G);
    w->dh = take(&cur, HD);
    w->dc = take(&cur, HD);
    w->zeros = take(&cur, HD);
    w->total = cur;
}

/* ------------------------------------------------------------------------ */
/* parameter table */

static void add_tensor(pt_encoder *e, const char *name, int ndim, int64_t s0, int64_t s1) {
    pt_enc_tensor *t = &e->tensors[e->n_tensors++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->ndim = ndim;
    t->shape[0] = s0;
    t->shape[1] = ndim > 1 ? s1 : 0;
    t->numel = (size_t)s0 * (size_t)(ndim > 1 ? s1 : 1);
    t->offset = e->n_params;
    e->n_params += t->numel;
}

/* Linear(in, out) named prefix.{weight,bias}: weight (out, in), bias (out). */
static void add_linear(pt_encoder *e, const char *prefix, int in, int out) {
    char name[48];
    snprintf(name, sizeof(name), "%s.weight", prefix);
    add_tensor(e, name, 2, out, in);
    snprintf(name, sizeof(name), "%s.bias", prefix);
    add_tensor(e, name, 1, out, 0);
}

/* Tensor k's parameters (by table position; the order is fixed by init). */
static float *P(pt_encoder *e, int k) {
    return e->params + e->tensors[k].offset;
}
static float *D(pt_encoder *e, int k) {
    return e->grads + e->tensors[k].offset;
}

/* Table positions. embedding: 0. mlp: 1..6 = mlp_head.{0,2,4}.{weight,bias}.
 * lstm: 1 + 4*k + {0: weight_ih, 1: weight_hh, 2: bias_ih, 3: bias_hh} for
 * k = 2*layer + reverse, then 17..20 = mlp_head.{0,2}.{weight,bias}. */
enum { T_EMB = 0, T_MLP0 = 1, T_LSTM0 = 1, T_LSTM_HEAD = 17 };

static void build_table(pt_encoder *e) {
    int S = e->S, d = e->d;
    e->n_tensors = 0;
    e->n_params = 0;
    add_tensor(e, "embedding.weight", 2, S, e->d_in);
    if (e->kind == PT_ENCODER_PREFIX_MLP) {
        add_linear(e, "transform.0", e->d_in, e->H);
        add_linear(e, "transform.2", e->H, d);
    } else if (e->kind == PT_ENCODER_MLP) {
        add_linear(e, "mlp_head.0", d, e->H);
        add_linear(e, "mlp_head.2", e->H, e->H);
        add_linear(e, "mlp_head.4", e->H, d);
    } else if (e->kind == PT_ENCODER_LSTM) {
        int HD = d / 2;
        for (int k = 0; k < 4; k++) {
            int layer = k / 2, in = d; // layer 1's input is concat(fwd, bwd) = 2*HD = d
            const char *sfx = (k & 1) ? "_reverse" : "";
            char name[48];
            snprintf(name, sizeof(name), "lstm_head.weight_ih_l%d%s", layer, sfx);
            add_tensor(e, name, 2, 4 * HD, in);
            snprintf(name, sizeof(name), "lstm_head.weight_hh_l%d%s", layer, sfx);
            add_tensor(e, name, 2, 4 * HD, HD);
            snprintf(name, sizeof(name), "lstm_head.bias_ih_l%d%s", layer, sfx);
            add_tensor(e, name, 1, 4 * HD, 0);
            snprintf(name, sizeof(name), "lstm_head.bias_hh_l%d%s", layer, sfx);
            add_tensor(e, name, 1, 4 * HD, 0);
        }
        add_linear(e, "mlp_head.0", d, d);
        add_linear(e, "mlp_head.2", d, d);
    }
}

static void fill_uniform(float *p, size_t n, float bound, pt_rng *rng) {
    for (size_t i = 0; i < n; i++) p[i] = (2.0f * pt_rng_uniform(rng) - 1.0f) * bound;
}

/* PyTorch defaults: Embedding N(0,1); Linear weight and bias U(+-1/sqrt(fan_in));
 * LSTM every weight and bias U(+-1/sqrt(hidden)). */
static void init_params(pt_encoder *e, pt_rng *rng) {
    for (int k = 0; k < e->n_tensors; k++) {
        pt_enc_tensor *t = &e->tensors[k];
        float *p = e->params + t->offset;
        if (k == T_EMB) {
            for (size_t i = 0; i < t->numel; i++) p[i] = pt_rng_normal(rng);
        } else if (strncmp(t->name, "lstm_head.", 10) == 0) {
            fill_uniform(p, t->numel, 1.0f / sqrtf((float)(e->d / 2)), rng);
        } else {
            /* mlp_head.N.{weight,bias}: fan_in is the weight's column count;
             * a bias follows its weight in the table. */
            const pt_enc_tensor *w = t->ndim == 2 ? t : &e->tensors[k - 1];
            fill_uniform(p, t->numel, 1.0f / sqrtf((float)w->shape[1]), rng);
        }
    }
}

static pt_status encoder_alloc(pt_encoder *e, pt_rng *rng);

pt_status pt_encoder_init_prefix(pt_encoder *e, int S, int d_in, int H, int d, pt_rng *rng) {
    memset(e, 0, sizeof(*e));
    if (S < 1 || S > 65536)
        return pt_fail(PT_ERR_ARG, "encoder: prefix length %d not in [1, 65536]", S);
    if (H <= 0) H = d_in;
    if (d_in < 1 || d_in > 65536 || H > 65536 || d < 1 || d > (1 << 24))
        return pt_fail(PT_ERR_ARG, "encoder: prefix-mlp widths %d -> %d -> %d out of range", d_in,
                       H, d);
    e->kind = PT_ENCODER_PREFIX_MLP;
    e->S = S, e->d = d, e->d_in = d_in, e->H = H;
    build_table(e);
    e->n_work = 2 * (size_t)S * H; /* tanh output, backward scratch */
    return encoder_alloc(e, rng);
}

pt_status pt_encoder_init(pt_encoder *e, pt_encoder_kind kind, int S, int d, int H, pt_rng *rng) {
    memset(e, 0, sizeof(*e));
    if (kind != PT_ENCODER_EMBEDDING && kind != PT_ENCODER_MLP && kind != PT_ENCODER_LSTM)
        return pt_fail(PT_ERR_ARG, "encoder: unknown encoder kind %d", (int)kind);
    if (S < 1 || S > 65536)
        return pt_fail(PT_ERR_ARG, "encoder: number of virtual tokens %d not in [1, 65536]", S);
    if (d < 1 || d > 65536) return pt_fail(PT_ERR_ARG, "encoder: width d %d not in [1, 65536]", d);
    if (kind == PT_ENCODER_LSTM && d % 2 != 0)
        return pt_fail(PT_ERR_ARG, "encoder: lstm needs an even width d (got %d)", d);
    if (kind == PT_ENCODER_MLP && H <= 0) H = d;
    if (kind == PT_ENCODER_MLP && H > 65536)
        return pt_fail(PT_ERR_ARG, "encoder: mlp hidden width %d exceeds 65536", H);
    e->kind = kind;
    e->S = S;
    e->d = e->d_in = d;
    e->H = kind == PT_ENCODER_MLP ? H : 0;
    build_table(e);

    if (kind == PT_ENCODER_MLP) {
        mlp_work w;
        mlp_layout(&w, S, H);
        e->n_work = w.total;
    } else if (kind == PT_ENCODER_LSTM) {
        lstm_work w;
        lstm_layout(&w, S, d);
        e->n_work = w.total;
    }
    return encoder_alloc(e, rng);
}

static pt_status encoder_alloc(pt_encoder *e, pt_rng *rng) {
    e->params = pt_aalloc(e->n_params, sizeof(float));
    e->grads = pt_aalloc(e->n_params, sizeof(float));
    if (e->n_work) e->work = pt_aalloc(e->n_work, sizeof(float));
    if (!e->params || !e->grads || (e->n_work && !e->work)) {
        size_t n = e->n_params, nw = e->n_work;
        pt_encoder_free(e);
        return pt_fail(PT_ERR_NOMEM, "encoder: cannot allocate %s encoder (%zu params, %zu work)",
                       pt_encoder_kind_name(e->kind), n, nw);
    }
    init_params(e, rng);
    return PT_OK;
}

void pt_encoder_free(pt_encoder *e) {
    if (!e) return;
    pt_afree(e->params);
    pt_afree(e->grads);
    pt_afree(e->work);
    memset(e, 0, sizeof(*e));
}

void pt_encoder_set_seeds(pt_encoder *e, const float *table) {
    memcpy(P(e, T_EMB), table, e->tensors[T_EMB].numel * sizeof(float));
}

void pt_encoder_zero_grad(pt_encoder *e) {
    memset(e->grads, 0, e->n_params * sizeof(float));
}

const pt_enc_tensor *pt_encoder_find(const pt_encoder *e, const char *name) {
    for (int k = 0; k < e->n_tensors; k++)
        if (strcmp(e->tensors[k].name, name) == 0) return &e->tensors[k];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* mlp: h = L4(relu(L2(relu(L0(E))))) with PEFT's indices 0, 2, 4 */

static void mlp_forward(pt_encoder *e, float *h) {
    int S = e->S, d = e->d, H = e->H;
    mlp_work w;
    mlp_layout(&w, S, H);
    float *z1 = e->work + w.z1, *r1 = e->work + w.r1; // (S, H)
    float *z2 = e->work + w.z2, *r2 = e->work + w.r2; // (S, H)
    const float *E = P(e, T_EMB);                     // (S, d)
    pt_matmul_forward(z1, E, P(e, T_MLP0), P(e, T_MLP0 + 1), S, d, H);
    pt_relu_forward(r1, z1, (size_t)S * H);
    pt_matmul_forward(z2, r1, P(e, T_MLP0 + 2), P(e, T_MLP0 + 3), S, H, H);
    pt_relu_forward(r2, z2, (size_t)S * H);
    pt_matmul_forward(h, r2, P(e, T_MLP0 + 4), P(e, T_MLP0 + 5), S, H, d);
}

static void mlp_backward(pt_encoder *e, const float *dh) {
    int S = e->S, d = e->d, H = e->H;
    size_t SH = (size_t)S * H;
    mlp_work w;
    mlp_layout(&w, S, H);
    const float *r1 = e->work + w.r1, *r2 = e->work + w.r2; // (S, H)
    float *dr2 = e->work + w.dr2, *dz2 = e->work + w.dz2;   // (S, H)
    float *dr1 = e->work + w.dr1, *dz1 = e->work + w.dz1;   // (S, H)
    memset(dr2, 0, 4 * SH * sizeof(float));                 // dr2, dz2, dr1, dz1 are contiguous
    pt_matmul_backward_weight(D(e, T_MLP0 + 4), D(e, T_MLP0 + 5), dh, r2, S, H, d);
    pt_matmul_backward_input(dr2, dh, P(e, T_MLP0 + 4), S, H, d);
    pt_relu_backward(dz2, dr2, r2, SH);
    pt_matmul_backward_weight(D(e, T_MLP0 + 2), D(e, T_MLP0 + 3), dz2, r1, S, H, H);
    pt_matmul_backward_input(dr1, dz2, P(e, T_MLP0 + 2), S, H, H);
    pt_relu_backward(dz1, dr1, r1, SH);
    pt_matmul_backward_weight(D(e, T_MLP0), D(e, T_MLP0 + 1), dz1, P(e, T_EMB), S, d, H);
    pt_matmul_backward_input(D(e, T_EMB), dz1, P(e, T_MLP0), S, d, H);
}

/* ------------------------------------------------------------------------ */
/* prefix-mlp: h = T2(tanh(T0(E))), PEFT's PrefixEncoder (prefix_projection) */

static void prefix_forward(pt_encoder *e, float *h) {
    int S = e->S, H = e->H;
    float *t = e->work; // (S, H)
    pt_matmul_forward(t, P(e, T_EMB), P(e, 1), P(e, 2), S, e->d_in, H);
    for (size_t i = 0; i < (size_t)S * H; i++) t[i] = tanhf(t[i]);
    pt_matmul_forward(h, t, P(e, 3), P(e, 4), S, H, e->d);
}

static void prefix_backward(pt_encoder *e, const float *dh) {
    int S = e->S, H = e->H;
    size_t SH = (size_t)S * H;
    const float *t = e->work; // (S, H)
    float *dz = e->work + SH; // (S, H)
    memset(dz, 0, sizeof(float) * SH);
    pt_matmul_backward_weight(D(e, 3), D(e, 4), dh, t, S, H, e->d);
    pt_matmul_backward_input(dz, dh, P(e, 3), S, H, e->d);
    for (size_t i = 0; i < SH; i++) dz[i] *= 1.0f - t[i] * t[i];
    pt_matmul_backward_weight(D(e, 1), D(e, 2), dz, P(e, T_EMB), S, e->d_in, H);
    pt_matmul_backward_input(D(e, T_EMB), dz, P(e, 1), S, e->d_in, H);
}

/* ------------------------------------------------------------------------ */
/* lstm */

static float sigmoidf(float x) {
    return 1.0f / (1.0f + expf(-x));
}

typedef struct lstm_dir {
    const float *Wih, *Whh; // (G, Cin), (G, HD)
    const float *bih, *bhh; // (G), (G)
    float *dWih, *dWhh;     // gradients, same shapes
    float *dbih, *dbhh;
    float *gates; // (S, G) activated i, f, g, o
    float *c;     // (S, HD)
    float *hs;    // (S, HD)
    int reverse;
} lstm_dir;

static lstm_dir lstm_get_dir(pt_encoder *e, const lstm_work *w, int k) {
    lstm_dir r;
    int b = T_LSTM0 + 4 * k;
    r.Wih = P(e, b);
    r.Whh = P(e, b + 1);
    r.bih = P(e, b + 2);
    r.bhh = P(e, b + 3);
    r.dWih = D(e, b);
    r.dWhh = D(e, b + 1);
    r.dbih = D(e, b + 2);
    r.dbhh = D(e, b + 3);
    r.gates = e->work + w->gates[k];
    r.c = e->work + w->c[k];
    r.hs = e->work + w->hs[k];
    r.reverse = k & 1;
    return r;
}

/* One direction of one layer over the whole sequence. x (S, Cin) input;
 * writes its hidden states into out (S, 2*HD) columns [rev*HD, rev*HD + HD).
 * hg (G) scratch, zeros (HD) all zero. */
static void lstm_dir_forward(lstm_dir *L, float *out, const float *x, float *hg, const float *zeros,
                             int S, int Cin, int HD) {
    int G = 4 * HD, rev = L->reverse;
    /* input contribution for all steps at once: gates (S, G) = x . Wih^T + bih */
    pt_matmul_forward(L->gates, x, L->Wih, L->bih, S, Cin, G);
    for (int s = 0; s < S; s++) {
        int t = rev ? S - 1 - s : s;
        int tp = rev ? t + 1 : t - 1; // previous step in processing order
        const float *h_prev = s == 0 ? zeros : L->hs + (size_t)tp * HD; // (HD)
        const float *c_prev = s == 0 ? zeros : L->c + (size_t)tp * HD;  // (HD)
        pt_matmul_forward(hg, h_prev, L->Whh, L->bhh, 1, HD, G);
        float *a = L->gates + (size_t)t * G; // (G)
        float *c = L->c + (size_t)t * HD;    // (HD)
        float *h = L->hs + (size_t)t * HD;   // (HD)
        for (int j = 0; j < HD; j++) {
            float ig = sigmoidf(a[j] + hg[j]);
            float fg = sigmoidf(a[HD + j] + hg[HD + j]);
            float gg = tanhf(a[2 * HD + j] + hg[2 * HD + j]);
            float og = sigmoidf(a[3 * HD + j] + hg[3 * HD + j]);
            a[j] = ig;
            a[HD + j] = fg;
            a[2 * HD + j] = gg;
            a[3 * HD + j] = og;
            c[j] = fg * c_prev[j] + ig * gg;
            h[j] = og * tanhf(c[j]);
            out[(size_t)t * 2 * HD + rev * HD + j] = h[j];
        }
    }
}

/* Backward through time of one direction. dout (S, 2*HD): gradient of this
 * layer's output (this direction reads its columns). dx (S, Cin) += input
 * gradient; parameter gradients accumulate. dgates (S, G), dh, dc (HD) scratch. */
static void lstm_dir_backward(lstm_dir *L, float *dx, const float *dout, const float *x,
                              float *dgates, float *dh, float *dc, const float *zeros, int S,
                              int Cin, int HD) {
    int G = 4 * HD, rev = L->reverse;
    memset(dh, 0, (size_t)HD * sizeof(float)); // gradient reaching h from the next step
    memset(dc, 0, (size_t)HD * sizeof(float)); // gradient reaching c from the next step
    for (int s = S - 1; s >= 0; s--) {
        int t = rev ? S - 1 - s : s;
        int tp = rev ? t + 1 : t - 1;
        const float *c_prev = s == 0 ? zeros : L->c + (size_t)tp * HD; // (HD)
        const float *a = L->gates + (size_t)t * G;                     // (G)
        const float *c = L->c + (size_t)t * HD;                        // (HD)
        float *da = dgates + (size_t)t * G;                            // (G)
        for (int j = 0; j < HD; j++) {
            float ig = a[j], fg = a[HD + j], gg = a[2 * HD + j], og = a[3 * HD + j];
            float dht = dout[(size_t)t * 2 * HD + rev * HD + j] + dh[j];
            float tc = tanhf(c[j]);
            float dct = dc[j] + dht * og * (1.0f - tc * tc);
            float dog = dht * tc;
            float dig = dct * gg;
            float dgg = dct * ig;
            float dfg = dct * c_prev[j];
            dc[j] = dct * fg;
            da[j] = dig * ig * (1.0f - ig);
            da[HD + j] = dfg * fg * (1.0f - fg);
            da[2 * HD + j] = dgg * (1.0f - gg * gg);
            da[3 * HD + j] = dog * og * (1.0f - og);
        }
        /* gradient into h_prev: dh (1, HD) = da (1, G) . Whh */
        memset(dh, 0, (size_t)HD * sizeof(float));
        pt_matmul_backward_input(dh, da, L->Whh, 1, HD, G);
    }
    /* weight gradients over the whole sequence */
    pt_matmul_backward_weight(L->dWih, L->dbih, dgates, x, S, Cin, G);
    for (int t = 0; t < S; t++)
        for (int g = 0; g < G; g++) L->dbhh[g] += dgates[(size_t)t * G + g];
    if (S > 1) {
        /* step t's h_prev is hs[t-1] (forward) or hs[t+1] (reverse); the first
         * step in processing order saw zeros and contributes nothing */
        if (rev)
            pt_matmul_backward_weight(L->dWhh, NULL, dgates, L->hs + HD, S - 1, HD, G);
        else
            pt_matmul_backward_weight(L->dWhh, NULL, dgates + G, L->hs, S - 1, HD, G);
    }
    pt_matmul_backward_input(dx, dgates, L->Wih, S, Cin, G);
}

static void lstm_forward(pt_encoder *e, float *h) {
    int S = e->S, d = e->d, HD = d / 2;
    lstm_work w;
    lstm_layout(&w, S, d);
    float *hg = e->work + w.hg;       // (G)
    float *zeros = e->work + w.zeros; // (HD)
    float *z1 = e->work + w.z1;       // (S, d)
    float *r1 = e->work + w.r1;       // (S, d)
    memset(zeros, 0, (size_t)HD * sizeof(float));
    for (int k = 0; k < 4; k++) {
        int layer = k / 2;
        lstm_dir L = lstm_get_dir(e, &w, k);
        const float *x = layer == 0 ? P(e, T_EMB) : e->work + w.out[0]; // (S, d)
        lstm_dir_forward(&L, e->work + w.out[layer], x, hg, zeros, S, d, HD);
    }
    const float *o1 = e->work + w.out[1]; // (S, d)
    pt_matmul_forward(z1, o1, P(e, T_LSTM_HEAD), P(e, T_LSTM_HEAD + 1), S, d, d);
    pt_relu_forward(r1, z1, (size_t)S * d);
    pt_matmul_forward(h, r1, P(e, T_LSTM_HEAD + 2), P(e, T_LSTM_HEAD + 3), S, d, d);
}

static void lstm_backward(pt_encoder *e, const float *dh) {
    int S = e->S, d = e->d, HD = d / 2;
    size_t Sd = (size_t)S * d;
    lstm_work w;
    lstm_layout(&w, S, d);
    const float *r1 = e->work + w.r1;       // (S, d)
    const float *o1 = e->work + w.out[1];   // (S, d)
    float *dr1 = e->work + w.dr1;           // (S, d)
    float *dz1 = e->work + w.dz1;           // (S, d)
    float *dout1 = e->work + w.dout1;       // (S, d)
    float *dout0 = e->work + w.dout0;       // (S, d)
    memset(dr1, 0, 4 * Sd * sizeof(float)); // dr1, dz1, dout1, dout0 are contiguous
    pt_matmul_backward_weight(D(e, T_LSTM_HEAD + 2), D(e, T_LSTM_HEAD + 3), dh, r1, S, d, d);
    pt_matmul_backward_input(dr1, dh, P(e, T_LSTM_HEAD + 2), S, d, d);
    pt_relu_backward(dz1, dr1, r1, Sd);
    pt_matmul_backward_weight(D(e, T_LSTM_HEAD), D(e, T_LSTM_HEAD + 1), dz1, o1, S, d, d);
    pt_matmul_backward_input(dout1, dz1, P(e, T_LSTM_HEAD), S, d, d);
    for (int k = 3; k >= 0; k--) {
        int layer = k / 2;
        lstm_dir L = lstm_get_dir(e, &w, k);
        const float *x = layer == 0 ? P(e, T_EMB) : e->work + w.out[0]; // (S, d)
        float *dx = layer == 0 ? D(e, T_EMB) : dout0;                   // (S, d)
        const float *dout = layer == 0 ? dout0 : dout1;                 // (S, d)
        lstm_dir_backward(&L, dx, dout, x, e->work + w.dgates, e->work + w.dh, e->work + w.dc,
                          e->work + w.zeros, S, d, HD);
    }
}

/* ------------------------------------------------------------------------ */

void pt_encoder_forward(pt_encoder *e, float *h) {
    switch (e->kind) {
    case PT_ENCODER_EMBEDDING:
        memcpy(h, P(e, T_EMB), (size_t)e->S * e->d * sizeof(float));
        break;
    case PT_ENCODER_MLP:
        mlp_forward(e, h);
        break;
    case PT_ENCODER_LSTM:
        lstm_forward(e, h);
        break;
    case PT_ENCODER_PREFIX_MLP:
        prefix_forward(e, h);
        break;
    }
}

void pt_encoder_backward(pt_encoder *e, const float *dh) {
    switch (e->kind) {
    case PT_ENCODER_EMBEDDING: {
        float *dE = D(e, T_EMB); // (S, d)
        size_t n = (size_t)e->S * e->d;
        for (size_t i = 0; i < n; i++) dE[i] += dh[i];
        break;
    }
    case PT_ENCODER_MLP:
        mlp_backward(e, dh);
        break;
    case PT_ENCODER_LSTM:
        lstm_backward(e, dh);
        break;
    case PT_ENCODER_PREFIX_MLP:
        prefix_backward(e, dh);
        break;
    }
}
