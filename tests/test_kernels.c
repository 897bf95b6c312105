/* test_kernels.c - fast kernels against naive double-precision references.
 *
 * matmul: the blocked kernels against pt_matmul_*_ref on odd sizes and on
 * sizes crossing the cache-block edges. The other kernels against plain
 * double loops written here from the formulas in kernels.h. Also prints a
 * rough matmul_forward speed (N=1024, C=768, OC=2304, 2 threads).
 */
#include <math.h>
#include <stdio.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/kernels.h"
#include "kernels_testutil.h"
#include "test.h"

static void check_matmul(int N, int C, int OC) {
    char what[96];
    float *inp = kt_randn((size_t)N * C, 1.0f);   // (N, C)
    float *W = kt_randn((size_t)OC * C, 0.2f);    // (OC, C)
    float *bias = kt_randn(OC, 1.0f);             // (OC)
    float *dout = kt_randn((size_t)N * OC, 1.0f); // (N, OC)
    float *out = kt_randn((size_t)N * OC, 1.0f);  // garbage: forward overwrites
    float *ref = kt_zeros((size_t)N * OC);
    float *dinp = kt_randn((size_t)N * C, 1.0f); // backward accumulates onto this
    float *dref = kt_copy(dinp, (size_t)N * C);

    pt_matmul_forward(out, inp, W, bias, N, C, OC);
    pt_matmul_forward_ref(ref, inp, W, bias, N, C, OC);
    snprintf(what, sizeof what, "matmul_forward %dx%dx%d", N, C, OC);
    t_close(what, out, ref, (size_t)N * OC, 1e-4, 1e-4);

    pt_matmul_forward(out, inp, W, NULL, N, C, OC);
    pt_matmul_forward_ref(ref, inp, W, NULL, N, C, OC);
    snprintf(what, sizeof what, "matmul_forward nobias %dx%dx%d", N, C, OC);
    t_close(what, out, ref, (size_t)N * OC, 1e-4, 1e-4);

    pt_matmul_backward_input(dinp, dout, W, N, C, OC);
    pt_matmul_backward_input_ref(dref, dout, W, N, C, OC);
    snprintf(what, sizeof what, "matmul_backward_input %dx%dx%d", N, C, OC);
    t_close(what, dinp, dref, (size_t)N * C, 1e-4, 1e-4);

    free(inp), free(W), free(bias), free(dout), free(out), free(ref), free(dinp), free(dref);
}

static void time_matmul(void) {
#if defined(__SANITIZE_ADDRESS__)
    t_note_skip("matmul timing (sanitizer build)");
#elif defined(_OPENMP)
    int N = 1024, C = 768, OC = 2304;
    float *inp = kt_randn((size_t)N * C, 1.0f), *W = kt_randn((size_t)OC * C, 0.1f);
    float *out = kt_zeros((size_t)N * OC), *dinp = kt_zeros((size_t)N * C);
    int saved = omp_get_max_threads();
    omp_set_num_threads(2);
    double best_f = 1e9, best_b = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime();
        pt_matmul_forward(out, inp, W, NULL, N, C, OC);
        double t1 = omp_get_wtime();
        pt_matmul_backward_input(dinp, out, W, N, C, OC);
        double t2 = omp_get_wtime();
        best_f = fmin(best_f, t1 - t0);
        best_b = fmin(best_b, t2 - t1);
    }
    omp_set_num_threads(saved);
    double flop = 2.0 * N * C * OC;
    printf("  matmul %dx%dx%d, 2 threads: forward %.1f GFLOP/s, backward_input %.1f GFLOP/s\n", N,
           C, OC, flop / best_f * 1e-9, flop / best_b * 1e-9);
    free(inp), free(W), free(out), free(dinp);
#else
    t_note_skip("matmul timing (no OpenMP)");
#endif
}

static void check_norms(int N, int C) {
    float eps = 1e-5f;
    float *inp = kt_randn((size_t)N * C, 2.0f), *w = kt_randn(C, 1.0f), *b = kt_randn(C, 1.0f);
    for (size_t i = 0; i < (size_t)N * C; i++) inp[i] += 0.5f; // nonzero mean
    float *out = kt_zeros((size_t)N * C), *ref = kt_zeros((size_t)N * C);
    float *mean = kt_zeros(N), *rstd = kt_zeros(N), *mref = kt_zeros(N), *rref = kt_zeros(N);
    pt_layernorm_forward(out, mean, rstd, inp, w, b, N, C, eps);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        double s = 1.0 / sqrt(v / C + eps);
        for (int i = 0; i < C; i++) ref[(size_t)n * C + i] = (float)((x[i] - m) * s * w[i] + b[i]);
        mref[n] = (float)m, rref[n] = (float)s;
    }
    t_close("layernorm_forward out", out, ref, (size_t)N * C, 1e-4, 1e-5);
    t_close("layernorm_forward mean", mean, mref, N, 1e-5, 1e-6);
    t_close("layernorm_forward rstd", rstd, rref, N, 1e-5, 1e-6);

    pt_rmsnorm_forward(out, rstd, inp, w, N, C, eps);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        double ss = 0;
        for (int i = 0; i < C; i++) ss += (double)x[i] * x[i];
        double s = 1.0 / sqrt(ss / C + eps);
        for (int i = 0; i < C; i++) ref[(size_t)n * C + i] = (float)(x[i] * s * w[i]);
        rref[n] = (float)s;
    }
    t_close("rmsnorm_forward out", out, ref, (size_t)N * C, 1e-4, 1e-5);
    t_close("rmsnorm_forward rstd", rstd, rref, N, 1e-5, 1e-6);
    free(inp), free(w), free(b), free(out), free(ref), free(mean), free(rstd), free(mref),
        free(rref);
}

static void check_activations(size_t n) {
    float *x = kt_randn(n, 2.0f), *u = kt_randn(n, 1.0f);
    float *out = kt_zeros(n), *ref = kt_zeros(n);
    pt_gelu_tanh_forward(out, x, n);
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        ref[i] = (float)(0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    }
    t_close("gelu_tanh_forward", out, ref, n, 1e-5, 1e-6);
    pt_gelu_erf_forward(out, x, n);
    for (size_t i = 0; i < n; i++) ref[i] = (float)(0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0))));
    t_close("gelu_erf_forward", out, ref, n, 1e-5, 1e-6);
    pt_swiglu_forward(out, x, u, n);
    for (size_t i = 0; i < n; i++) ref[i] = (float)(x[i] / (1 + exp(-(double)x[i])) * u[i]);
    t_close("swiglu_forward", out, ref, n, 1e-5, 1e-6);
    pt_relu_forward(out, x, n);
    for (size_t i = 0; i < n; i++) ref[i] = x[i] > 0 ? x[i] : 0;
    t_close("relu_forward", out, ref, n, 0, 0);
    free(x), free(u), free(out), free(ref);
}

/* Naive attention: explicit mask, double softmax. */
static void attention_ref(float *out, float *att, const float *q, const float *k, const float *v,
                          int qs, int kvs, const int *len, int B, int T, int NH, int NKV, int HS,
                          int causal, float scale) {
    double s[64];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                int kh = h / (NH / NKV);
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *o = out + ((size_t)b * T + t) * NH * HS + h * HS;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    int vis = t < len[b] && j < len[b] && (!causal || j <= t);
                    s[j] = -INFINITY;
                    if (!vis) continue;
                    double d = 0;
                    for (int i = 0; i < HS; i++)
                        d += (double)q[(b * T + t) * qs + h * HS + i] *
                             k[(b * T + j) * kvs + kh * HS + i];
                    s[j] = d * scale;
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < T; j++) sum += s[j] == -INFINITY ? 0 : exp(s[j] - mx);
                for (int j = 0; j < T; j++)
                    a[j] = s[j] == -INFINITY ? 0 : (float)(exp(s[j] - mx) / sum);
                for (int i = 0; i < HS; i++) {
                    double acc = 0;
                    for (int j = 0; j < T; j++)
                        acc += (double)a[j] * v[(b * T + j) * kvs + kh * HS + i];
                    o[i] = (float)acc;
                }
            }
}

static void check_attention(int B, int T, int NH, int NKV, int HS, int causal, int fused) {
    char what[96];
    int C = NH * HS, KV = NKV * HS;
    int qs = fused ? C + 2 * KV : C, kvs = fused ? C + 2 * KV : 2 * KV;
    float *qbuf = kt_randn((size_t)B * T * qs, 1.0f);
    float *kvbuf = fused ? qbuf : kt_randn((size_t)B * T * kvs, 1.0f);
    const float *q = qbuf, *k = fused ? qbuf + C : kvbuf, *v = fused ? qbuf + C + KV : kvbuf + KV;
    int len[4] = {T, T - 3, 1, 0};
    float *out = kt_randn((size_t)B * T * C, 1.0f), *ref = kt_zeros((size_t)B * T * C);
    float *att = kt_randn((size_t)B * NH * T * T, 1.0f), *aref = kt_zeros((size_t)B * NH * T * T);
    float scale = 1.0f / sqrtf((float)HS);
    pt_attention_forward(out, att, q, k, v, qs, kvs, len, B, T, NH, NKV, HS, causal, scale);
    attention_ref(ref, aref, q, k, v, qs, kvs, len, B, T, NH, NKV, HS, causal, scale);
    snprintf(what, sizeof what, "attention out %s%s NH=%d NKV=%d", causal ? "causal" : "bidir",
             fused ? " fused" : "", NH, NKV);
    t_close(what, out, ref, (size_t)B * T * C, 1e-4, 1e-5);
    snprintf(what, sizeof what, "attention att %s%s NH=%d NKV=%d", causal ? "causal" : "bidir",
             fused ? " fused" : "", NH, NKV);
    t_close(what, att, aref, (size_t)B * NH * T * T, 1e-4, 1e-6);
    free(qbuf), free(out), free(ref), free(att), free(aref);
    if (!fused) free(kvbuf);
}

/* Backward of long rows (more keys than the kernel keeps between its two
 * passes, and fewer) against the same formulas in double, on the forward's
 * probabilities: dv_j = sum_t p_tj d_t, dp_tj = d_t . v_j,
 * ds_tj = p_tj (dp_tj - sum_l p_tl dp_tl), dq_t = scale sum_j ds_tj k_j,
 * dk_j = scale sum_t ds_tj q_t. */
static void check_attention_long(int causal) {
    enum { B = 2, T = 1100, NH = 2, NKV = 1, HS = 4 };
    int C = NH * HS, KV = NKV * HS, len[B] = {T, 700};
    float scale = 0.5f;
    float *q = kt_randn((size_t)B * T * C, 1.0f), *k = kt_randn((size_t)B * T * KV, 1.0f);
    float *v = kt_randn((size_t)B * T * KV, 1.0f), *d = kt_randn((size_t)B * T * C, 1.0f);
    float *out = kt_zeros((size_t)B * T * C), *att = kt_zeros((size_t)B * NH * T * T);
    float *dq = kt_zeros((size_t)B * T * C), *dk = kt_zeros((size_t)B * T * KV);
    float *dv = kt_zeros((size_t)B * T * KV);
    double *rq = calloc((size_t)B * T * C, sizeof(double));
    double *rk = calloc((size_t)B * T * KV, sizeof(double));
    double *rv = calloc((size_t)B * T * KV, sizeof(double));
    double *dp = calloc(T, sizeof(double));
    pt_attention_forward(out, att, q, k, v, C, KV, len, B, T, NH, NKV, HS, causal, scale);
    pt_attention_backward(dq, dk, dv, d, att, q, k, v, C, KV, len, B, T, NH, NKV, HS, scale);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < len[b]; t++) {
                const float *p = att + (((size_t)b * NH + h) * T + t) * T;
                const float *dt = d + ((size_t)b * T + t) * C + h * HS;
                double pdp = 0;
                for (int j = 0; j < T; j++) {
                    const float *vj = v + ((size_t)b * T + j) * KV;
                    dp[j] = 0;
                    for (int i = 0; i < HS; i++) dp[j] += (double)dt[i] * vj[i];
                    pdp += p[j] * dp[j];
                }
                for (int j = 0; j < T; j++) {
                    double ds = scale * p[j] * (dp[j] - pdp);
                    size_t jo = ((size_t)b * T + j) * KV, to = ((size_t)b * T + t) * C + h * HS;
                    for (int i = 0; i < HS; i++) {
                        rv[jo + i] += p[j] * (double)dt[i];
                        rq[to + i] += ds * k[jo + i];
                        rk[jo + i] += ds * q[to + i];
                    }
                }
            }
    float *fq = kt_zeros((size_t)B * T * C), *fk = kt_zeros((size_t)B * T * KV);
    float *fv = kt_zeros((size_t)B * T * KV);
    for (size_t i = 0; i < (size_t)B * T * C; i++) fq[i] = (float)rq[i];
    for (size_t i = 0; i < (size_t)B * T * KV; i++) fk[i] = (float)rk[i], fv[i] = (float)rv[i];
    char what[96];
    snprintf(what, sizeof what, "attention_backward %s T=%d dq", causal ? "causal" : "bidir", T);
    t_close(what, dq, fq, (size_t)B * T * C, 1e-4, 1e-4);
    snprintf(what, sizeof what, "attention_backward %s T=%d dk", causal ? "causal" : "bidir", T);
    t_close(what, dk, fk, (size_t)B * T * KV, 1e-4, 1e-4);
    snprintf(what, sizeof what, "attention_backward %s T=%d dv", causal ? "causal" : "bidir", T);
    t_close(what, dv, fv, (size_t)B * T * KV, 1e-4, 1e-4);
    free(q), free(k), free(v), free(d), free(out), free(att), free(dq), free(dk), free(dv);
    free(rq), free(rk), free(rv), free(dp), free(fq), free(fk), free(fv);
}

static void check_rope(int B, int T, int NHX, int HS, int stride) {
    float theta = 10000.0f;
    size_t n = (size_t)B * T * stride;
    float *x = kt_randn(n, 1.0f), *y = kt_copy(x, n), *ref = kt_copy(x, n);
    pt_rope_forward(y, stride, B, T, NHX, HS, theta);
    int half = HS / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NHX; h++)
                for (int i = 0; i < half; i++) {
                    size_t o = ((size_t)b * T + t) * stride + h * HS;
                    double ang = t * pow(theta, -2.0 * i / HS);
                    double x1 = x[o + i], x2 = x[o + i + half];
                    ref[o + i] = (float)(x1 * cos(ang) - x2 * sin(ang));
                    ref[o + i + half] = (float)(x2 * cos(ang) + x1 * sin(ang));
                }
    t_close("rope_forward (untouched columns kept)", y, ref, n, 1e-4, 2e-5);
    pt_rope_backward(y, stride, B, T, NHX, HS, theta); /* inverse rotation: back to x */
    t_close("rope_backward(rope_forward(x)) = x", y, x, n, 1e-4, 2e-5);
    free(x), free(y), free(ref);
}

static void check_softmax_ce(int N, int V) {
    float *logits = kt_randn((size_t)N * V, 3.0f), *probs = kt_zeros((size_t)N * V);
    float *ref = kt_zeros((size_t)N * V), *loss = kt_zeros(N), *lref = kt_zeros(N);
    float *dl = kt_zeros((size_t)N * V), *dref = kt_zeros((size_t)N * V);
    int *target = malloc(N * sizeof(int));
    for (int n = 0; n < N; n++) target[n] = (int)pt_rng_below(&kt_rng, V);
    target[1] = -100;   // ignored row
    logits[5] += 80.0f; // large logits must not overflow
    pt_softmax_forward(probs, logits, N, V);
    double total = 0;
    int counted = 0;
    float dscale = 0.37f;
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < V; i++) mx = fmax(mx, x[i]);
        for (int i = 0; i < V; i++) sum += exp(x[i] - mx);
        for (int i = 0; i < V; i++) ref[(size_t)n * V + i] = (float)(exp(x[i] - mx) / sum);
        if (target[n] < 0) continue;
        lref[n] = (float)(mx + log(sum) - x[target[n]]);
        total += lref[n], counted++;
        for (int i = 0; i < V; i++)
            dref[(size_t)n * V + i] = (ref[(size_t)n * V + i] - (i == target[n])) * dscale;
    }
    t_close("softmax_forward", probs, ref, (size_t)N * V, 1e-5, 1e-7);
    double mean = pt_crossentropy_forward_backward(loss, dl, logits, target, N, V, dscale);
    t_close("crossentropy loss", loss, lref, N, 1e-5, 1e-6);
    t_close("crossentropy dlogits", dl, dref, (size_t)N * V, 1e-5, 1e-7);
    printf("  crossentropy mean %.6f, reference %.6f\n", mean, total / counted);
    CHECK(fabs(mean - total / counted) < 1e-5, "mean loss %g vs %g", mean, total / counted);
    free(logits), free(probs), free(ref), free(loss), free(lref), free(dl), free(dref),
        free(target);
}

int main(void) {
    pt_rng_seed(&kt_rng, 1234);
    printf("matmul, fast vs reference\n");
    check_matmul(37, 65, 129);
    check_matmul(1, 7, 3);
    check_matmul(130, 300, 83); // crosses MC, KC and NC block edges
    check_matmul(67, 513, 300);
    time_matmul();
    printf("norms, activations, attention, rope, softmax vs double references\n");
    check_norms(37, 65);
    check_activations(70001); // above the threading threshold
    check_attention(3, 9, 4, 4, 8, 1, 1);
    check_attention(3, 9, 4, 4, 8, 0, 1);
    check_attention_long(0);
    check_attention_long(1);
    check_attention(4, 11, 6, 2, 5, 1, 0);
    check_attention(4, 11, 6, 3, 5, 0, 0);
    /* rows of 16 tokens or more go through the library's small products when
     * the build has one (rows of 40 and 37 here; 1 and 0 stay on the loops) */
    check_attention(4, 40, 4, 4, 8, 1, 1);
    check_attention(4, 40, 4, 4, 8, 0, 1);
    check_attention(4, 40, 6, 2, 5, 0, 0);
    check_attention(4, 40, 6, 3, 16, 1, 0);
    check_rope(2, 13, 3, 10, 37);
    check_softmax_ce(7, 301);
    return t_done();
}
