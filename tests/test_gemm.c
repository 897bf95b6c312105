/* test_gemm.c - every GEMM engine behind the matmul seam against the naive reference.
 *
 * Engines checked: the build's engine through the seam (pt_matmul_*), and the
 * builtin engine at every SIMD level this CPU runs (generic, avx2, avx512);
 * f32 and bf16 weights. Shapes are odd and straddle the builtin's block edges
 * (MC 96, NC 128, KC 256; micro-tiles 4x16, 6x16, 8x32). backward_input must
 * accumulate: dinp starts from random values.
 * Then prints GFLOP/s at GPT-2-small shapes (1024 tokens, width 768 -> 2304 /
 * 768 / 3072 and 3072 -> 768), forward and input gradient, 2 threads, median
 * of 5 (printed, not asserted; skipped under sanitizers).
 */
#include <stdint.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels_testutil.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define T_SANITIZED 1
#else
#define T_SANITIZED 0
#endif

typedef void (*fwd_fn)(float *, const float *, const float *, const float *, int, int, int);
typedef void (*bwd_fn)(float *, const float *, const float *, int, int, int);

static int g_level; /* builtin level under test */

static void builtin_fwd(float *out, const float *inp, const float *W, const float *bias, int N,
                        int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) out[(size_t)n * OC + o] = bias ? bias[o] : 0.0f;
    pt_gemm_builtin(g_level, out, OC, inp, C, W, C, 1, 0, N, OC, C);
}
static void builtin_bwd(float *dinp, const float *dout, const float *W, int N, int C, int OC) {
    pt_gemm_builtin(g_level, dinp, C, dout, OC, W, C, 0, 0, N, C, OC);
}

/* bf16 variants with the float signature: W is rounded to bf16 first */
static uint16_t *g_w16;
static void seam_fwd16(float *out, const float *inp, const float *W, const float *bias, int N,
                       int C, int OC) {
    pt_matmul_forward_bf16(out, inp, g_w16, bias, N, C, OC);
}
static void seam_bwd16(float *dinp, const float *dout, const float *W, int N, int C, int OC) {
    pt_matmul_backward_input_bf16(dinp, dout, g_w16, N, C, OC);
}
static void builtin_fwd16(float *out, const float *inp, const float *W, const float *bias, int N,
                          int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) out[(size_t)n * OC + o] = bias ? bias[o] : 0.0f;
    pt_gemm_builtin(g_level, out, OC, inp, C, g_w16, C, 1, 1, N, OC, C);
}
static void builtin_bwd16(float *dinp, const float *dout, const float *W, int N, int C, int OC) {
    pt_gemm_builtin(g_level, dinp, C, dout, OC, g_w16, C, 0, 1, N, C, OC);
}

/* One engine on one shape: forward with and without bias, accumulating backward.
 * bf16: the reference uses W rounded to bf16; activations are f32 in the builtin
 * engine (tight tolerance) but rounded to bf16 by oneDNN (tol_bf16 loose). */
static void check_shape(const char *name, fwd_fn f, bwd_fn b, int bf16, double rtol, int N, int C,
                        int OC) {
    float *inp = kt_randn((size_t)N * C, 1.0f);                  // (N, C)
    float *W = kt_randn((size_t)OC * C, 1.0f / sqrtf((float)C)); // (OC, C)
    float *bias = kt_randn((size_t)OC, 1.0f);                    // (OC)
    float *dout = kt_randn((size_t)N * OC, 1.0f);                // (N, OC)
    float *d0 = kt_randn((size_t)N * C, 1.0f);                   // (N, C) initial dinp
    float *out = kt_zeros((size_t)N * OC), *ref = kt_zeros((size_t)N * OC);
    float *dinp = kt_copy(d0, (size_t)N * C), *dref = kt_copy(d0, (size_t)N * C);
    float *Wr = kt_copy(W, (size_t)OC * C); // (OC, C) W as the engine sees it
    g_w16 = malloc((size_t)OC * C * sizeof *g_w16);
    if (!g_w16) abort();
    pt_bf16_from_f32(g_w16, W, (size_t)OC * C);
    if (bf16)
        for (size_t i = 0; i < (size_t)OC * C; i++) Wr[i] = pt_gemm_bf16_to_f32(g_w16[i]);
    double atol = rtol * sqrt((double)(C > OC ? C : OC));
    char what[128];

    f(out, inp, W, bias, N, C, OC);
    pt_matmul_forward_ref(ref, inp, Wr, bias, N, C, OC);
    snprintf(what, sizeof what, "%s fwd %dx%dx%d", name, N, C, OC);
    t_close(what, out, ref, (size_t)N * OC, rtol, atol);

    for (size_t i = 0; i < (size_t)N * OC; i++) out[i] = 12345.0f; /* overwritten, not added */
    f(out, inp, W, NULL, N, C, OC);
    pt_matmul_forward_ref(ref, inp, Wr, NULL, N, C, OC);
    snprintf(what, sizeof what, "%s fwd nobias %dx%dx%d", name, N, C, OC);
    t_close(what, out, ref, (size_t)N * OC, rtol, atol);

    b(dinp, dout, W, N, C, OC);
    pt_matmul_backward_input_ref(dref, dout, Wr, N, C, OC);
    snprintf(what, sizeof what, "%s bwd+= %dx%dx%d", name, N, C, OC);
    t_close(what, dinp, dref, (size_t)N * C, rtol, atol);

    free(inp), free(W), free(bias), free(dout), free(d0), free(out), free(ref), free(dinp);
    free(dref), free(Wr), free(g_w16);
    g_w16 = NULL;
}

static const int SHAPES[][3] = {
    {1, 1, 1},      {3, 5, 7},      {7, 13, 33},    {96, 256, 128}, {97, 257, 129},
    {95, 255, 127}, {6, 512, 1000}, {130, 70, 515}, {200, 300, 40}, {8, 768, 77},
};
#define N_SHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

static void check_engine(const char *name, fwd_fn f, bwd_fn b, int bf16, double rtol) {
    printf("%s\n", name);
    for (int s = 0; s < N_SHAPES; s++)
        check_shape(name, f, b, bf16, rtol, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2]);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* median GFLOP/s of 5 runs (after one warm-up) of forward or backward, by the
 * wall clock; *per_cpu: the same by process CPU time / 2 threads (what the
 * machine would give unloaded, roughly, when other work shares its cores) */
static double gflops(fwd_fn f, bwd_fn b, int N, int C, int OC, double *per_cpu) {
    float *inp = kt_randn((size_t)N * C, 1.0f), *W = kt_randn((size_t)OC * C, 0.03f);
    float *dout = kt_randn((size_t)N * OC, 1.0f);
    float *out = kt_zeros((size_t)N * OC), *dinp = kt_zeros((size_t)N * C);
    g_w16 = malloc((size_t)OC * C * sizeof *g_w16); /* for the bf16 engines */
    if (!g_w16) abort();
    pt_bf16_from_f32(g_w16, W, (size_t)OC * C);
    double t[5], tc[5];
    for (int r = -1; r < 5; r++) {
        double t0 = now_s(), c0 = cpu_s();
        if (f)
            f(out, inp, W, NULL, N, C, OC);
        else
            b(dinp, dout, W, N, C, OC);
        if (r >= 0) t[r] = now_s() - t0, tc[r] = (cpu_s() - c0) / 2;
    }
    qsort(t, 5, sizeof *t, cmp_d);
    qsort(tc, 5, sizeof *tc, cmp_d);
    *per_cpu = 2.0 * N * C * OC / tc[2] / 1e9;
    free(inp), free(W), free(dout), free(out), free(dinp), free(g_w16);
    g_w16 = NULL;
    return 2.0 * N * C * OC / t[2] / 1e9;
}

static void bench(const char *name, fwd_fn f, bwd_fn b) {
    static const int S[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};
    double cf[4], cb[4];
    printf("  %-22s wall", name);
    for (int s = 0; s < 4; s++) {
        double gf = gflops(f, NULL, 1024, S[s][0], S[s][1], &cf[s]);
        double gb = gflops(NULL, b, 1024, S[s][0], S[s][1], &cb[s]);
        printf(" %4d->%-4d %6.1f/%6.1f", S[s][0], S[s][1], gf, gb);
    }
    printf("\n  %-22s cpu ", "");
    for (int s = 0; s < 4; s++) printf(" %4d->%-4d %6.1f/%6.1f", S[s][0], S[s][1], cf[s], cb[s]);
    printf("\n");
}

int main(void) {
    pt_rng_seed(&kt_rng, 7);
    pt_gemm_info info;
    pt_gemm_get_info(&info);
    printf("engine %s %s (%s), builtin SIMD %s, %d threads\n", info.engine, info.version, info.core,
           info.simd, info.threads);

    /* bf16 rounding, derived by hand: 1 + 2^-8 lies halfway between bf16 1.0
     * (0x3f80) and 1 + 2^-7 (0x3f81): ties go to the even 0x3f80; 1 + 3*2^-8
     * is halfway between 0x3f81 and 0x3f82: even 0x3f82; -2.5 is exact 0xc020. */
    CHECK(pt_gemm_f32_to_bf16(1.0f + 1.0f / 256) == 0x3f80, "bf16(1+2^-8)");
    CHECK(pt_gemm_f32_to_bf16(1.0f + 3.0f / 256) == 0x3f82, "bf16(1+3*2^-8)");
    CHECK(pt_gemm_f32_to_bf16(-2.5f) == 0xc020, "bf16(-2.5)");
    CHECK(pt_gemm_bf16_to_f32(0x3f81) == 1.0f + 1.0f / 128, "f32(0x3f81)");

    /* OpenBLAS core-type rule: "Prescott" (SSE3 kernels) on any AVX CPU asks for
     * better kernels, and what it asks for is itself accepted */
    const char *fix = pt_gemm_core_fix("Prescott");
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx")) {
        CHECK(fix != NULL, "core fix for Prescott on an AVX CPU");
        CHECK(!fix || !pt_gemm_core_fix(fix), "core fix %s accepted", fix ? fix : "");
        printf("OpenBLAS core rule: Prescott on this CPU -> %s\n", fix ? fix : "(none)");
    }
#endif
    CHECK(!pt_gemm_core_fix("SkylakeX") || !pt_gemm_core_fix("Zen"), "best cores accepted");

    char name[64];
    snprintf(name, sizeof name, "seam(%s)", info.engine);
    check_engine(name, pt_matmul_forward, pt_matmul_backward_input, 0, 2e-5);
    int top = pt_gemm_simd_level();
    for (int l = 0; l <= top; l++) {
        g_level = l;
        snprintf(name, sizeof name, "builtin(%s)", pt_gemm_simd_name(l));
        check_engine(name, builtin_fwd, builtin_bwd, 0, 2e-5);
        snprintf(name, sizeof name, "builtin(%s) bf16", pt_gemm_simd_name(l));
        check_engine(name, builtin_fwd16, builtin_bwd16, 1, 2e-5);
    }
    /* the seam's bf16 engine: builtin (f32 activations) or oneDNN (bf16 activations:
     * relative rounding 2^-9 per input, so about 1e-2 after sums of random signs) */
    snprintf(name, sizeof name, "seam(%s) bf16", info.engine);
    check_engine(name, seam_fwd16, seam_bwd16, 1, strcmp(info.engine, "dnnl") ? 2e-5 : 2e-2);

    if (T_SANITIZED || getenv("PTUNE_TEST_NO_BENCH")) {
        t_note_skip("GFLOP/s (sanitizer build or PTUNE_TEST_NO_BENCH)");
        return t_done();
    }
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    printf("GFLOP/s, 1024 tokens, 2 threads, median of 5: C->OC forward/input-gradient\n");
    snprintf(name, sizeof name, "seam(%s)", info.engine);
    bench(name, pt_matmul_forward, pt_matmul_backward_input);
    snprintf(name, sizeof name, "seam(%s) bf16", info.engine);
    bench(name, seam_fwd16, seam_bwd16);
    g_level = top; /* the generic kernel is too slow to time here */
    snprintf(name, sizeof name, "builtin(%s)", pt_gemm_simd_name(top));
    bench(name, builtin_fwd, builtin_bwd);
    snprintf(name, sizeof name, "builtin(%s) bf16", pt_gemm_simd_name(top));
    bench(name, builtin_fwd16, builtin_bwd16);
    return t_done();
}
