/* test_bf16dp.c - the bf16-arithmetic products (gemm_bf16.c, vdpbf16ps) against
 * a numpy oracle.
 *
 * The fixture tests/fixtures/bf16dp/bf16dp.safetensors is written by
 * scripts/gen_bf16dp_fixtures.py from the definition (activations rounded to
 * bf16 to nearest even, or split into bf16 hi + lo; exact products; float64
 * sums). For every case (M, N, K odd, across the 8 x 32 tiles, 128-column
 * tasks and 256-deep blocks), 1 and 2 threads, both modes:
 *   forward   y = a . W^T + b   (pt_gemm_bf16dp with W read transposed, and
 *             pt_mm_forward through the seam with the arithmetic set)
 *   backward  dx = dx0 + dy . W (pt_gemm_bf16dp, and pt_mm_backward_input)
 * Error measure: |got - want| / sum_k |a_k W_k| (the scale of the sum; rows
 * span 10^-2..10^2). Stated limit against the oracle of the same rounding:
 * 1e-5 (float32 accumulation over K <= 515). Against the exact float32-input
 * product it reports how much each mode loses: bf16x2 must stay within 1e-4,
 * bf16 must lose more than bf16x2 (it keeps 8 bits of each activation).
 * 1 and 2 threads must give the same bits. Skips when the CPU lacks AVX512-BF16.
 */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "formats/safetensors.h"
#include "kernels/gemm.h"
#include "kernels/weight.h"
#include "kernels_testutil.h"
#include "test.h"

#define FIXTURE "tests/fixtures/bf16dp/bf16dp.safetensors"

static pt_st_file fx;

static float *get(const char *c, const char *what, size_t n) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", c, what);
    const pt_st_tensor *t = pt_st_find(&fx, name);
    CHECK(t && (size_t)t->numel == n, "fixture tensor %s missing or not %zu values", name, n);
    if (!t || (size_t)t->numel != n) return NULL;
    float *a = kt_zeros(n);
    if (pt_st_to_f32(t, a) != PT_OK) CHECK(0, "%s: %s", name, pt_last_error());
    return a;
}

/* largest |got - want| / scale[i] */
static double rel_err(const float *got, const float *want, const double *scale, size_t n) {
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / scale[i];
        if (!(d <= e)) e = d; /* NaN wins */
    }
    return e;
}

static double g_worst[2], g_exact[2]; /* per mode: vs oracle, vs exact */

static void check(const char *what, int parts, const float *got, const float *want,
                  const float *exact, const double *scale, size_t n) {
    double e = rel_err(got, want, scale, n), x = rel_err(got, exact, scale, n);
    printf("  %-34s vs oracle %.3g, vs exact %.3g (of sum|terms|)\n", what, e, x);
    CHECK(e <= 1e-5, "%s: error %.3g against the oracle > 1e-5", what, e);
    if (e > g_worst[parts - 1] || e != e) g_worst[parts - 1] = e;
    if (x > g_exact[parts - 1] || x != x) g_exact[parts - 1] = x;
}

static void run_case(const char *c, int M, int N, int K) {
    float *x = get(c, "x", (size_t)M * K), *w = get(c, "w", (size_t)N * K), *b = get(c, "b", N);
    float *y[3] = {get(c, "y1", (size_t)M * N), get(c, "y2", (size_t)M * N),
                   get(c, "y", (size_t)M * N)};
    float *dy = get(c, "dy", (size_t)M * N), *dx0 = get(c, "dx0", (size_t)M * K);
    float *dx[3] = {get(c, "dx1", (size_t)M * K), get(c, "dx2", (size_t)M * K),
                    get(c, "dx", (size_t)M * K)};
    if (!x || !w || !b || !y[0] || !y[1] || !y[2] || !dy || !dx0 || !dx[0] || !dx[1] || !dx[2])
        return;
    uint16_t *w16 = malloc(sizeof(uint16_t) * N * K);
    double *sf = malloc(sizeof(double) * M * N), *sb = malloc(sizeof(double) * M * K);
    if (!w16 || !sf || !sb) abort();
    pt_bf16_from_f32(w16, w, (size_t)N * K); /* exact: the fixture holds bf16 values */
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = fabs(b[j]);
            for (int k = 0; k < K; k++) s += fabs((double)x[i * K + k] * w[j * K + k]);
            sf[i * N + j] = s > 0 ? s : 1;
        }
        for (int k = 0; k < K; k++) {
            double s = fabs(dx0[i * K + k]);
            for (int j = 0; j < N; j++) s += fabs((double)dy[i * N + j] * w[j * K + k]);
            sb[i * K + k] = s > 0 ? s : 1;
        }
    }
    pt_weight W = pt_weight_wrap(PT_WT_BF16, N, K, w16);
    float *out[2], *din[2];
    char what[96];
    for (int parts = 1; parts <= 2; parts++) {
        for (int th = 1; th <= 2; th++) {
            t_set_threads(th);
            float *o = kt_zeros((size_t)M * N), *d = kt_copy(dx0, (size_t)M * K);
            for (int i = 0; i < M; i++) memcpy(o + (size_t)i * N, b, sizeof(float) * N);
            CHECK(pt_gemm_bf16dp(parts, o, N, x, K, w16, K, 1, M, N, K) == 0, "forward ran");
            CHECK(pt_gemm_bf16dp(parts, d, K, dy, N, w16, K, 0, M, K, N) == 0, "backward ran");
            snprintf(what, sizeof what, "%s %s fwd M%d N%d K%d %dt", c, parts == 2 ? "x2" : "x1", M,
                     N, K, th);
            check(what, parts, o, y[parts - 1], y[2], sf, (size_t)M * N);
            snprintf(what, sizeof what, "%s %s bwd M%d N%d K%d %dt", c, parts == 2 ? "x2" : "x1", M,
                     N, K, th);
            check(what, parts, d, dx[parts - 1], dx[2], sb, (size_t)M * K);
            out[th - 1] = o, din[th - 1] = d;
        }
        CHECK(!memcmp(out[0], out[1], sizeof(float) * M * N), "%s forward: 1 and 2 threads differ",
              c);
        CHECK(!memcmp(din[0], din[1], sizeof(float) * M * K), "%s backward: 1 and 2 threads differ",
              c);
        /* the seam with the arithmetic set gives the same bits */
        pt_mm_set_arith(parts == 2 ? PT_ARITH_BF16X2 : PT_ARITH_BF16);
        CHECK(pt_mm_get_arith() == (parts == 2 ? PT_ARITH_BF16X2 : PT_ARITH_BF16), "arith set");
        float *o = kt_zeros((size_t)M * N), *d = kt_copy(dx0, (size_t)M * K);
        pt_mm_forward(o, x, &W, b, M);
        pt_mm_backward_input(d, dy, &W, M);
        CHECK(!memcmp(o, out[1], sizeof(float) * M * N), "%s seam forward differs (%s)", c,
              pt_arith_name(pt_mm_get_arith()));
        CHECK(!memcmp(d, din[1], sizeof(float) * M * K), "%s seam backward differs", c);
        free(o), free(d);
        for (int t = 0; t < 2; t++) free(out[t]), free(din[t]);
    }
    /* the f32 (widening) path is the exact product up to float32 sums */
    pt_mm_set_arith(PT_ARITH_F32);
    float *o = kt_zeros((size_t)M * N), *d = kt_copy(dx0, (size_t)M * K);
    pt_mm_forward(o, x, &W, b, M);
    pt_mm_backward_input(d, dy, &W, M);
    double ef = rel_err(o, y[2], sf, (size_t)M * N), eb = rel_err(d, dx[2], sb, (size_t)M * K);
    printf("  %-34s fwd %.3g, bwd %.3g vs exact\n", "f32 widening path", ef, eb);
    CHECK(ef <= 1e-5 && eb <= 1e-5, "%s f32 path: %.3g %.3g", c, ef, eb);
    free(o), free(d);
    free(w16), free(sf), free(sb);
    free(x), free(w), free(b), free(dy), free(dx0);
    for (int t = 0; t < 3; t++) free(y[t]), free(dx[t]);
}

int main(void) {
    pt_mm_set_arith(PT_ARITH_BF16); /* refused (stays f32) without AVX512-BF16 */
    if (pt_mm_get_arith() != PT_ARITH_BF16) {
        printf("  bf16 arithmetic refused: %s\n", pt_mm_arith_why());
        CHECK(pt_cpu_has_avx512bf16() || pt_gemm_bf16dp(1, NULL, 0, NULL, 0, NULL, 0, 0, 1, 1, 1),
              "without AVX512-BF16 the kernel refuses to run");
        t_done();
        return t_skip("no AVX512-BF16 (CPUID 7.1 EAX bit 5) or PTUNE_SIMD below avx512: "
                      "kernels not run");
    }
    if (pt_st_open(&fx, FIXTURE) != PT_OK) {
        fprintf(stderr, "FAIL cannot read %s: %s\n", FIXTURE, pt_last_error());
        return 1;
    }
    static const struct {
        const char *name;
        int M, N, K;
    } cases[] = {{"tiny", 1, 5, 3},
                 {"odd", 13, 37, 29},
                 {"edge", 9, 130, 257},
                 {"mid", 67, 161, 515},
                 {"wide", 40, 300, 96}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(cases[i].name, cases[i].M, cases[i].N, cases[i].K);
    printf("  largest error vs oracle: bf16 %.3g, bf16x2 %.3g (limit 1e-5)\n", g_worst[0],
           g_worst[1]);
    printf("  largest error vs exact:  bf16 %.3g, bf16x2 %.3g (bf16x2 limit 1e-4)\n", g_exact[0],
           g_exact[1]);
    CHECK(g_exact[1] <= 1e-4, "bf16x2 loses %.3g > 1e-4 against the exact product", g_exact[1]);
    CHECK(g_exact[0] > 4 * g_exact[1], "bf16 (%.3g) should lose more than bf16x2 (%.3g)",
          g_exact[0], g_exact[1]);
    pt_st_close(&fx);
    return t_done();
}
