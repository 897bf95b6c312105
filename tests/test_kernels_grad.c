/* test_kernels_grad.c - finite-difference checks of every backward kernel.
 *
 * For a kernel out = f(x) and a fixed random R, the scalar L = sum(out * R)
 * (summed in double) has dL/dx = backward(dout = R). Each input element is
 * moved by +-EPS and (L+ - L-) / (2 EPS) is compared with the backward
 * kernel's gradient. The printed error is max |fd - grad| / max |grad|; float
 * rounding in the forward pass keeps it around 1e-5..2e-4, a wrong term gives
 * O(0.1..1). Gradient buffers start at 0.25 and have 0.25 taken off after the
 * backward call, which also checks that backward kernels accumulate.
 */
#include <math.h>
#include <stdio.h>

#include "kernels/kernels.h"
#include "kernels_testutil.h"
#include "test.h"

#define EPS 1e-3f
#define TOL 2e-3
#define G0 0.25f

typedef double (*loss_fn)(void);

static double dot_r(const float *out, const float *R, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * R[i];
    return s;
}

static float *grad_buf(size_t n) {
    float *g = kt_zeros(n);
    for (size_t i = 0; i < n; i++) g[i] = G0;
    return g;
}

static void grad_unbias(float *g, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] -= G0;
}

/* Central differences of f over x[0..n) against grad[0..n). */
static void fd_check(const char *what, loss_fn f, float *x, size_t n, const float *grad) {
    double maxerr = 0, gmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grad[i]));
    for (size_t i = 0; i < n; i++) {
        float save = x[i];
        float xp = save + EPS, xm = save - EPS;
        x[i] = xp;
        double lp = f();
        x[i] = xm;
        double lm = f();
        x[i] = save;
        double fd = (lp - lm) / ((double)xp - (double)xm);
        double err = fabs(fd - grad[i]);
        if (err > maxerr || err != err) maxerr = err;
    }
    double rel = gmax > 0 ? maxerr / gmax : maxerr;
    printf("  %-46s fd error %.3g (max |grad| %.3g, %zu values)\n", what, rel, gmax, n);
    CHECK(gmax > 0, "%s: gradient is all zero", what);
    CHECK(rel < TOL, "%s: finite-difference error %.3g >= %.3g", what, rel, TOL);
}

/* ---- matmul ---- */
static int mN = 5, mC = 7, mOC = 6;
static float *m_inp, *m_W, *m_b, *m_R, *m_out;
static double loss_matmul(void) {
    pt_matmul_forward(m_out, m_inp, m_W, m_b, mN, mC, mOC);
    return dot_r(m_out, m_R, (size_t)mN * mOC);
}

static void test_matmul(void) {
    m_inp = kt_randn(mN * mC, 1), m_W = kt_randn(mOC * mC, 1), m_b = kt_randn(mOC, 1);
    m_R = kt_randn(mN * mOC, 1), m_out = kt_zeros(mN * mOC);
    float *dinp = grad_buf(mN * mC), *dW = grad_buf(mOC * mC), *db = grad_buf(mOC);
    pt_matmul_backward_input(dinp, m_R, m_W, mN, mC, mOC);
    pt_matmul_backward_weight(dW, db, m_R, m_inp, mN, mC, mOC);
    grad_unbias(dinp, mN * mC), grad_unbias(dW, mOC * mC), grad_unbias(db, mOC);
    fd_check("matmul_backward_input", loss_matmul, m_inp, mN * mC, dinp);
    fd_check("matmul_backward_weight dW", loss_matmul, m_W, mOC * mC, dW);
    fd_check("matmul_backward_weight dbias", loss_matmul, m_b, mOC, db);
    free(m_inp), free(m_W), free(m_b), free(m_R), free(m_out), free(dinp), free(dW), free(db);
}

/* ---- norms ---- */
static int nN = 4, nC = 9;
static float *n_inp, *n_w, *n_b, *n_R, *n_out, *n_mean, *n_rstd;
static double loss_layernorm(void) {
    pt_layernorm_forward(n_out, NULL, NULL, n_inp, n_w, n_b, nN, nC, 1e-5f);
    return dot_r(n_out, n_R, (size_t)nN * nC);
}
static double loss_rmsnorm(void) {
    pt_rmsnorm_forward(n_out, NULL, n_inp, n_w, nN, nC, 1e-5f);
    return dot_r(n_out, n_R, (size_t)nN * nC);
}

static void test_norms(void) {
    size_t n = (size_t)nN * nC;
    n_inp = kt_randn(n, 1), n_w = kt_randn(nC, 1), n_b = kt_randn(nC, 1), n_R = kt_randn(n, 1);
    n_out = kt_zeros(n), n_mean = kt_zeros(nN), n_rstd = kt_zeros(nN);
    for (size_t i = 0; i < n; i++) n_inp[i] += 0.3f;
    float *dinp = grad_buf(n);
    pt_layernorm_forward(n_out, n_mean, n_rstd, n_inp, n_w, n_b, nN, nC, 1e-5f);
    pt_layernorm_backward(dinp, n_R, n_inp, n_w, n_mean, n_rstd, nN, nC);
    grad_unbias(dinp, n);
    fd_check("layernorm_backward", loss_layernorm, n_inp, n, dinp);
    free(dinp);
    dinp = grad_buf(n);
    pt_rmsnorm_forward(n_out, n_rstd, n_inp, n_w, nN, nC, 1e-5f);
    pt_rmsnorm_backward(dinp, n_R, n_inp, n_w, n_rstd, nN, nC);
    grad_unbias(dinp, n);
    fd_check("rmsnorm_backward", loss_rmsnorm, n_inp, n, dinp);
    free(dinp), free(n_inp), free(n_w), free(n_b), free(n_R), free(n_out), free(n_mean),
        free(n_rstd);
}

/* ---- activations ---- */
#define AN 64
static float *a_x, *a_u, *a_R, *a_out;
static double loss_gelu_tanh(void) {
    pt_gelu_tanh_forward(a_out, a_x, AN);
    return dot_r(a_out, a_R, AN);
}
static double loss_gelu_erf(void) {
    pt_gelu_erf_forward(a_out, a_x, AN);
    return dot_r(a_out, a_R, AN);
}
static double loss_swiglu(void) {
    pt_swiglu_forward(a_out, a_x, a_u, AN);
    return dot_r(a_out, a_R, AN);
}
static double loss_relu(void) {
    pt_relu_forward(a_out, a_x, AN);
    return dot_r(a_out, a_R, AN);
}

static void test_activations(void) {
    a_x = kt_randn(AN, 2), a_u = kt_randn(AN, 1), a_R = kt_randn(AN, 1), a_out = kt_zeros(AN);
    for (int i = 0; i < AN; i++) // keep away from ReLU's kink
        if (fabsf(a_x[i]) < 10 * EPS) a_x[i] = a_x[i] < 0 ? -0.5f : 0.5f;
    float *g = grad_buf(AN), *g2 = grad_buf(AN);
    pt_gelu_tanh_backward(g, a_R, a_x, AN);
    grad_unbias(g, AN);
    fd_check("gelu_tanh_backward", loss_gelu_tanh, a_x, AN, g);
    for (int i = 0; i < AN; i++) g[i] = G0;
    pt_gelu_erf_backward(g, a_R, a_x, AN);
    grad_unbias(g, AN);
    fd_check("gelu_erf_backward", loss_gelu_erf, a_x, AN, g);
    for (int i = 0; i < AN; i++) g[i] = G0;
    pt_swiglu_backward(g, g2, a_R, a_x, a_u, AN);
    grad_unbias(g, AN), grad_unbias(g2, AN);
    fd_check("swiglu_backward dgate", loss_swiglu, a_x, AN, g);
    fd_check("swiglu_backward dup", loss_swiglu, a_u, AN, g2);
    for (int i = 0; i < AN; i++) g[i] = G0;
    pt_relu_forward(a_out, a_x, AN);
    pt_relu_backward(g, a_R, a_out, AN);
    grad_unbias(g, AN);
    fd_check("relu_backward", loss_relu, a_x, AN, g);
    free(a_x), free(a_u), free(a_R), free(a_out), free(g), free(g2);
}

/* ---- attention ---- */
static struct {
    int B, T, NH, NKV, HS, causal, fused, qs, kvs;
    float *qbuf, *kvbuf, *R, *out, *att;
    const float *q, *k, *v;
    int len[4];
} at;
static double loss_attention(void) {
    pt_attention_forward(at.out, at.att, at.q, at.k, at.v, at.qs, at.kvs, at.len, at.B, at.T, at.NH,
                         at.NKV, at.HS, at.causal, 1.0f / sqrtf((float)at.HS));
    return dot_r(at.out, at.R, (size_t)at.B * at.T * at.NH * at.HS);
}

/* fused: GPT-2 layout q, k, v inside one (B, T, 3C) buffer; else q (B, T, C + 2) with a
 * gap after each row and kv (B, T, 2 * NKV * HS) holding k then v. */
static void test_attention(int NH, int NKV, int causal, int fused) {
    int B = 3, T = 6, HS = 4, C = NH * HS, KV = NKV * HS;
    at.B = B, at.T = T, at.NH = NH, at.NKV = NKV, at.HS = HS, at.causal = causal;
    at.len[0] = T, at.len[1] = 4, at.len[2] = 1;
    at.qs = fused ? C + 2 * KV : C + 2;
    at.kvs = fused ? C + 2 * KV : 2 * KV;
    size_t nq = (size_t)B * T * at.qs, nkv = (size_t)B * T * at.kvs;
    at.qbuf = kt_randn(nq, 1);
    at.kvbuf = fused ? at.qbuf : kt_randn(nkv, 1);
    at.q = at.qbuf;
    at.k = fused ? at.qbuf + C : at.kvbuf;
    at.v = fused ? at.qbuf + C + KV : at.kvbuf + KV;
    at.R = kt_randn((size_t)B * T * C, 1), at.out = kt_zeros((size_t)B * T * C);
    at.att = kt_zeros((size_t)B * NH * T * T);
    float *gq = grad_buf(nq), *gkv = fused ? gq : grad_buf(nkv);
    float *dq = gq, *dk = fused ? gq + C : gkv, *dv = fused ? gq + C + KV : gkv + KV;
    loss_attention();
    pt_attention_backward(dq, dk, dv, at.R, at.att, at.q, at.k, at.v, at.qs, at.kvs, at.len, B, T,
                          NH, NKV, HS, 1.0f / sqrtf((float)HS));
    grad_unbias(gq, nq);
    if (!fused) grad_unbias(gkv, nkv);
    char what[96];
    snprintf(what, sizeof what, "attention_backward %s %s NH=%d NKV=%d%s",
             causal ? "causal" : "bidir", fused ? "fused qkv" : "q", NH, NKV,
             fused ? "" : " (strided)");
    fd_check(what, loss_attention, at.qbuf, nq, gq);
    if (!fused) {
        snprintf(what, sizeof what, "attention_backward %s kv NH=%d NKV=%d",
                 causal ? "causal" : "bidir", NH, NKV);
        fd_check(what, loss_attention, at.kvbuf, nkv, gkv);
    }
    /* padded tokens: no gradient reaches q, k or v of rows t >= len[b] */
    double pad = 0;
    for (int b = 0; b < B; b++)
        for (int t = at.len[b]; t < T; t++) {
            for (int i = 0; i < at.qs; i++)
                pad = fmax(pad, fabs(gq[((size_t)b * T + t) * at.qs + i]));
            if (!fused)
                for (int i = 0; i < at.kvs; i++)
                    pad = fmax(pad, fabs(gkv[((size_t)b * T + t) * at.kvs + i]));
        }
    CHECK(pad == 0, "%s: padded rows got gradient %g", what, pad);
    free(at.qbuf), free(at.R), free(at.out), free(at.att), free(gq);
    if (!fused) free(at.kvbuf), free(gkv);
}

/* ---- rope ---- */
static int rB = 2, rT = 5, rNH = 3, rHS = 6, rS = 23; /* stride > NH * HS */
static float *r_x, *r_y, *r_R;
static double loss_rope(void) {
    size_t n = (size_t)rB * rT * rS;
    for (size_t i = 0; i < n; i++) r_y[i] = r_x[i];
    pt_rope_forward(r_y, rS, rB, rT, rNH, rHS, 10000.0f);
    return dot_r(r_y, r_R, n);
}

static void test_rope(void) {
    size_t n = (size_t)rB * rT * rS;
    r_x = kt_randn(n, 1), r_y = kt_zeros(n), r_R = kt_randn(n, 1);
    float *g = kt_copy(r_R, n);
    pt_rope_backward(g, rS, rB, rT, rNH, rHS, 10000.0f); /* in place, not accumulated */
    fd_check("rope_backward", loss_rope, r_x, n, g);
    free(r_x), free(r_y), free(r_R), free(g);
}

/* ---- cross-entropy ---- */
static int cN = 5, cV = 7;
static float *c_logits;
static int c_target[5] = {3, -100, 0, 6, 2};
static double loss_ce(void) {
    return pt_crossentropy_forward_backward(NULL, NULL, c_logits, c_target, cN, cV, 1.0f);
}

static void test_ce(void) {
    c_logits = kt_randn((size_t)cN * cV, 2);
    float *g = grad_buf((size_t)cN * cV);
    pt_crossentropy_forward_backward(NULL, g, c_logits, c_target, cN, cV, 1.0f / 4);
    grad_unbias(g, (size_t)cN * cV);
    fd_check("crossentropy_forward_backward", loss_ce, c_logits, (size_t)cN * cV, g);
    free(c_logits), free(g);
}

int main(void) {
    pt_rng_seed(&kt_rng, 99);
    test_matmul();
    test_norms();
    test_activations();
    test_attention(2, 2, 1, 1);
    test_attention(2, 2, 0, 1);
    test_attention(4, 2, 1, 0);
    test_attention(4, 2, 0, 0);
    test_attention(6, 3, 1, 0);
    test_rope();
    test_ce();
    return t_done();
}
