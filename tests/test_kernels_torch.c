/* test_kernels_torch.c - kernels against PyTorch outputs and autograd input gradients.
 *
 * The fixture tests/fixtures/kernels/kernels.safetensors is written by
 * scripts/gen_kernel_fixtures.py (PyTorch 1.13, float32); see that script for
 * what each tensor is. Tolerance: rtol 1e-4, atol 1e-5.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "kernels_testutil.h"
#include "test.h"

#define FIXTURE "tests/fixtures/kernels/kernels.safetensors"
#define RTOL 1e-4
#define ATOL 1e-5

static pt_st_file fx;
static void *allocs[256];
static int n_allocs;

static void *keep(void *p) {
    if (n_allocs < (int)(sizeof allocs / sizeof allocs[0])) allocs[n_allocs++] = p;
    return p;
}

/* Tensor `name` as a fresh float array; NULL (and a failed check) when absent or not n values. */
static float *get(const char *name, size_t n) {
    const pt_st_tensor *t = pt_st_find(&fx, name);
    CHECK(t != NULL, "fixture tensor %s missing", name);
    if (!t) return NULL;
    CHECK((size_t)t->numel == n, "%s: %lld values, expected %zu", name, (long long)t->numel, n);
    if ((size_t)t->numel != n) return NULL;
    float *a = keep(kt_zeros(n));
    if (pt_st_to_f32(t, a) != PT_OK) {
        CHECK(0, "%s: %s", name, pt_last_error());
        return NULL;
    }
    return a;
}

/* I32 tensor `name` with n values into out. */
static int get_i32(const char *name, int *out, size_t n) {
    const pt_st_tensor *t = pt_st_find(&fx, name);
    int ok = t && t->dtype == PT_DTYPE_I32 && (size_t)t->numel == n;
    CHECK(ok, "fixture tensor %s missing or not I32[%zu]", name, n);
    if (ok) memcpy(out, t->data, n * sizeof(int));
    return ok;
}

static void test_norms(void) {
    int N = 6, C = 33;
    size_t n = (size_t)N * C;
    float *x = get("layernorm.x", n), *w = get("layernorm.w", C), *b = get("layernorm.b", C);
    float *dout = get("layernorm.dout", n), *want = get("layernorm.out", n);
    float *dwant = get("layernorm.dx", n);
    float *out = keep(kt_zeros(n)), *dx = keep(kt_zeros(n));
    float *mean = keep(kt_zeros(N)), *rstd = keep(kt_zeros(N));
    if (x && w && b && dout && want && dwant) {
        pt_layernorm_forward(out, mean, rstd, x, w, b, N, C, 1e-5f);
        pt_layernorm_backward(dx, dout, x, w, mean, rstd, N, C);
        t_close("layernorm out", out, want, n, RTOL, ATOL);
        t_close("layernorm dx", dx, dwant, n, RTOL, ATOL);
    }
    x = get("rmsnorm.x", n), w = get("rmsnorm.w", C), dout = get("rmsnorm.dout", n);
    want = get("rmsnorm.out", n), dwant = get("rmsnorm.dx", n);
    memset(dx, 0, n * sizeof(float));
    if (x && w && dout && want && dwant) {
        pt_rmsnorm_forward(out, rstd, x, w, N, C, 1e-6f);
        pt_rmsnorm_backward(dx, dout, x, w, rstd, N, C);
        t_close("rmsnorm out", out, want, n, RTOL, ATOL);
        t_close("rmsnorm dx", dx, dwant, n, RTOL, ATOL);
    }
}

static void test_activations(void) {
    size_t n = 301;
    float *out = keep(kt_zeros(n)), *dx = keep(kt_zeros(n)), *du = keep(kt_zeros(n));
    float *x = get("gelu_tanh.x", n), *dout = get("gelu_tanh.dout", n);
    float *want = get("gelu_tanh.out", n), *dwant = get("gelu_tanh.dx", n);
    if (x && dout && want && dwant) {
        pt_gelu_tanh_forward(out, x, n);
        pt_gelu_tanh_backward(dx, dout, x, n);
        t_close("gelu_tanh out", out, want, n, RTOL, ATOL);
        t_close("gelu_tanh dx", dx, dwant, n, RTOL, ATOL);
    }
    x = get("gelu_erf.x", n), dout = get("gelu_erf.dout", n);
    want = get("gelu_erf.out", n), dwant = get("gelu_erf.dx", n);
    memset(dx, 0, n * sizeof(float));
    if (x && dout && want && dwant) {
        pt_gelu_erf_forward(out, x, n);
        pt_gelu_erf_backward(dx, dout, x, n);
        t_close("gelu_erf out", out, want, n, RTOL, ATOL);
        t_close("gelu_erf dx", dx, dwant, n, RTOL, ATOL);
    }
    float *gate = get("swiglu.gate", n), *up = get("swiglu.up", n);
    float *dgw = get("swiglu.dgate", n), *duw = get("swiglu.dup", n);
    dout = get("swiglu.dout", n), want = get("swiglu.out", n);
    memset(dx, 0, n * sizeof(float));
    if (gate && up && dout && want && dgw && duw) {
        pt_swiglu_forward(out, gate, up, n);
        pt_swiglu_backward(dx, du, dout, gate, up, n);
        t_close("swiglu out", out, want, n, RTOL, ATOL);
        t_close("swiglu dgate", dx, dgw, n, RTOL, ATOL);
        t_close("swiglu dup", du, duw, n, RTOL, ATOL);
    }
}

/* fused: copy q, k, v into one (B, T, 3C) buffer and use GPT-2's strides (needs NKV == NH). */
static void test_attention(const char *name, int B, int T, int NH, int NKV, int HS, int causal,
                           int fused) {
    char key[96], what[96];
    int C = NH * HS, KV = NKV * HS, len[8];
    size_t nq = (size_t)B * T * C, nkv = (size_t)B * T * KV, na = (size_t)B * NH * T * T;
#define GET(field, n) (snprintf(key, sizeof key, "%s." field, name), get(key, n))
    float *q = GET("q", nq), *k = GET("k", nkv), *v = GET("v", nkv), *dout = GET("dout", nq);
    float *want = GET("out", nq), *awant = GET("att", na), *dqw = GET("dq", nq);
    float *dkw = GET("dk", nkv), *dvw = GET("dv", nkv);
#undef GET
    snprintf(key, sizeof key, "%s.len", name);
    if (!get_i32(key, len, B) || !(q && k && v && dout && want && awant && dqw && dkw && dvw))
        return;
    float *out = keep(kt_zeros(nq)), *att = keep(kt_zeros(na));
    float *dq = keep(kt_zeros(nq)), *dk = keep(kt_zeros(nkv)), *dv = keep(kt_zeros(nkv));
    float scale = 1.0f / sqrtf((float)HS);
    if (!fused) {
        pt_attention_forward(out, att, q, k, v, C, KV, len, B, T, NH, NKV, HS, causal, scale);
        pt_attention_backward(dq, dk, dv, dout, att, q, k, v, C, KV, len, B, T, NH, NKV, HS, scale);
    } else {
        int S = C + 2 * KV;
        float *qkv = keep(kt_zeros((size_t)B * T * S)), *dqkv = keep(kt_zeros((size_t)B * T * S));
        for (size_t r = 0; r < (size_t)B * T; r++) {
            memcpy(qkv + r * S, q + r * C, C * sizeof(float));
            memcpy(qkv + r * S + C, k + r * KV, KV * sizeof(float));
            memcpy(qkv + r * S + C + KV, v + r * KV, KV * sizeof(float));
        }
        pt_attention_forward(out, att, qkv, qkv + C, qkv + C + KV, S, S, len, B, T, NH, NKV, HS,
                             causal, scale);
        pt_attention_backward(dqkv, dqkv + C, dqkv + C + KV, dout, att, qkv, qkv + C, qkv + C + KV,
                              S, S, len, B, T, NH, NKV, HS, scale);
        for (size_t r = 0; r < (size_t)B * T; r++) {
            memcpy(dq + r * C, dqkv + r * S, C * sizeof(float));
            memcpy(dk + r * KV, dqkv + r * S + C, KV * sizeof(float));
            memcpy(dv + r * KV, dqkv + r * S + C + KV, KV * sizeof(float));
        }
    }
    const char *tag = fused ? " (fused qkv)" : "";
    snprintf(what, sizeof what, "%s out%s", name, tag);
    t_close(what, out, want, nq, RTOL, ATOL);
    snprintf(what, sizeof what, "%s att%s", name, tag);
    t_close(what, att, awant, na, RTOL, ATOL);
    snprintf(what, sizeof what, "%s dq%s", name, tag);
    t_close(what, dq, dqw, nq, RTOL, ATOL);
    snprintf(what, sizeof what, "%s dk%s", name, tag);
    t_close(what, dk, dkw, nkv, RTOL, ATOL);
    snprintf(what, sizeof what, "%s dv%s", name, tag);
    t_close(what, dv, dvw, nkv, RTOL, ATOL);
}

static void test_rope(void) {
    int B = 2, T = 40, NH = 2, HS = 16, C = NH * HS;
    size_t n = (size_t)B * T * C;
    float *x = get("rope.x", n), *dout = get("rope.dout", n);
    float *want = get("rope.out", n), *dwant = get("rope.dx", n);
    if (!(x && dout && want && dwant)) return;
    pt_rope_forward(x, C, B, T, NH, HS, 10000.0f);
    pt_rope_backward(dout, C, B, T, NH, HS, 10000.0f);
    t_close("rope out", x, want, n, RTOL, ATOL);
    t_close("rope dx", dout, dwant, n, RTOL, ATOL);
}

static void test_crossentropy(void) {
    int N = 7, V = 50, target[7];
    float *logits = get("ce.logits", (size_t)N * V), *lw = get("ce.loss", N);
    float *mw = get("ce.mean", 1), *dw = get("ce.dlogits", (size_t)N * V);
    if (!get_i32("ce.target", target, N) || !(logits && lw && mw && dw)) return;
    int counted = 0;
    for (int i = 0; i < N; i++) counted += target[i] >= 0;
    float *loss = keep(kt_zeros(N)), *dl = keep(kt_zeros((size_t)N * V));
    double mean = pt_crossentropy_forward_backward(loss, dl, logits, target, N, V, 1.0f / counted);
    float meanf = (float)mean;
    t_close("crossentropy loss (per row)", loss, lw, N, RTOL, ATOL);
    t_close("crossentropy mean", &meanf, mw, 1, RTOL, ATOL);
    t_close("crossentropy dlogits", dl, dw, (size_t)N * V, RTOL, ATOL);
}

int main(void) {
    if (pt_st_open(&fx, FIXTURE) != PT_OK) {
        fprintf(stderr, "FAIL cannot read %s: %s\n", FIXTURE, pt_last_error());
        return 1;
    }
    test_norms();
    test_activations();
    test_attention("att_causal_gqa", 3, 7, 4, 2, 8, 1, 0);
    test_attention("att_bidir_mha", 3, 7, 4, 4, 8, 0, 0);
    test_attention("att_bidir_mha", 3, 7, 4, 4, 8, 0, 1);
    test_rope();
    test_crossentropy();
    for (int i = 0; i < n_allocs; i++) free(allocs[i]);
    pt_st_close(&fx);
    return t_done();
}
