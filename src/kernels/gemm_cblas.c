/* gemm_cblas.c - the OpenBLAS engine (built with GEMM=openblas, PT_GEMM_OPENBLAS),
 * the build information of every engine, and the OpenBLAS core-type check.
 *
 *   forward:        out (N, OC) = bias; out += inp (N, C) . W^T      sgemm(N, T)
 *   backward_input: dinp (N, C) += dout (N, OC) . W                  sgemm(N, N)
 * bf16 weights are not handled here (OpenBLAS's sbgemm wants bf16 inputs as
 * well): those calls fall back to the builtin engine, which widens W while packing.
 */
#include "kernels/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef PT_GEMM_OPENBLAS
#include <cblas.h>

/* OpenBLAS extensions (declared in its cblas.h too; repeated for other layouts) */
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_parallel(void);

/* A pthreads OpenBLAS keeps its own thread count: follow the OpenMP one (an
 * OpenMP OpenBLAS reads omp_get_max_threads itself and runs single-threaded
 * inside our parallel regions, so nothing is oversubscribed). */
static void match_threads(void) {
#ifdef _OPENMP
    static int last = 0;
    int t = omp_get_max_threads();
    if (t != last && openblas_get_parallel() == 1) openblas_set_num_threads(t);
    last = t;
#endif
}

int pt_gemm_lib_forward(float *out, const float *inp, const float *W, const float *bias, int N,
                        int C, int OC) {
    if (N <= 0 || OC <= 0) return 0;
    match_threads();
    /* out starts as the bias rows (beta = 1 below adds the product) */
#pragma omp parallel for schedule(static) if ((size_t)N * OC >= ((size_t)1 << 16))
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC; // (OC)
        if (bias)
            memcpy(o, bias, sizeof(float) * (size_t)OC);
        else
            memset(o, 0, sizeof(float) * (size_t)OC);
    }
    if (C > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, W, C, 1.0f,
                    out, OC);
    return 0;
}

/* Inside our parallel regions an OpenMP OpenBLAS runs on the calling thread. */
int pt_gemm_lib_small(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                      int b_trans, int M, int N, int K, float alpha) {
    if (M <= 0 || N <= 0) return 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, b_trans ? CblasTrans : CblasNoTrans, M, N, K, alpha, a,
                lda, b, ldb, 0.0f, c, ldc);
    return 0;
}

int pt_gemm_lib_backward_input(float *dinp, const float *dout, const float *W, int N, int C,
                               int OC) {
    if (N <= 0 || C <= 0 || OC <= 0) return 0;
    match_threads();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, W, C, 1.0f,
                dinp, C);
    return 0;
}

int pt_gemm_lib_forward_bf16(float *out, const float *inp, const uint16_t *W, const float *bias,
                             int N, int C, int OC) {
    return 1;
}
int pt_gemm_lib_backward_input_bf16(float *dinp, const float *dout, const uint16_t *W, int N, int C,
                                    int OC) {
    return 1;
}

const char *pt_gemm_openblas_core(void) {
    return openblas_get_corename();
}

const char *pt_gemm_openblas_better_core(void) {
    if (getenv("OPENBLAS_CORETYPE")) return NULL; /* the user chose */
    return pt_gemm_core_fix(openblas_get_corename());
}

const char *pt_gemm_openblas_env_below(void) {
    const char *set = getenv("OPENBLAS_CORETYPE");
    if (!set || getenv("PTUNE_OPENBLAS_DETECTED")) return NULL; /* unset, or ptune's own */
    return pt_gemm_core_fix(set);
}
#else
const char *pt_gemm_openblas_core(void) {
    return NULL;
}
const char *pt_gemm_openblas_better_core(void) {
    return NULL;
}
const char *pt_gemm_openblas_env_below(void) {
    return NULL;
}
#endif

/* 3: AVX-512 kernels, 2: AVX2, 1: AVX, 0: SSE-only (or unknown). */
static int core_rank(const char *core) {
    static const char *const r3[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const r2[] = {"haswell", "zen", "excavator", "skylake"};
    static const char *const r1[] = {"sandybridge", "bulldozer", "piledriver", "steamroller"};
    char low[32] = {0};
    for (int i = 0; core && core[i] && i < 31; i++)
        low[i] = (char)(core[i] >= 'A' && core[i] <= 'Z' ? core[i] + 32 : core[i]);
    for (size_t i = 0; i < sizeof r3 / sizeof *r3; i++)
        if (!strcmp(low, r3[i])) return 3;
    for (size_t i = 0; i < sizeof r2 / sizeof *r2; i++)
        if (!strcmp(low, r2[i])) return 2;
    for (size_t i = 0; i < sizeof r1 / sizeof *r1; i++)
        if (!strcmp(low, r1[i])) return 1;
    return 0;
}

const char *pt_gemm_core_fix(const char *detected) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int cpu = 0;
    if (__builtin_cpu_supports("avx")) cpu = 1;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) cpu = 2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        cpu = 3;
    if (core_rank(detected) >= cpu) return NULL;
    if (cpu == 3) return "SkylakeX";
    if (cpu == 2) return __builtin_cpu_is("amd") ? "Zen" : "Haswell";
    return "Sandybridge";
#else
    (void)core_rank;
    return NULL;
#endif
}

void pt_gemm_get_info(pt_gemm_info *info) {
    memset(info, 0, sizeof *info);
    int level = pt_gemm_simd_level();
    info->simd = pt_gemm_simd_name(level);
#ifdef _OPENMP
    info->threads = omp_get_max_threads();
#else
    info->threads = 1;
#endif
#if defined(PT_GEMM_OPENBLAS)
    info->engine = "openblas";
    const char *cfg = openblas_get_config(); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
    const char *v = cfg ? strchr(cfg, ' ') : NULL;
    snprintf(info->version, sizeof info->version, "%.*s", v ? (int)strcspn(v + 1, " ") : 0,
             v ? v + 1 : "");
    int par = openblas_get_parallel();
    snprintf(info->core, sizeof info->core, "%s", openblas_get_corename());
    snprintf(info->detail, sizeof info->detail, "%s threads",
             par == 2   ? "OpenMP"
             : par == 1 ? "pthreads"
                        : "no");
#elif defined(PT_GEMM_DNNL)
    info->engine = "dnnl";
    pt_gemm_dnnl_describe(info->version, sizeof info->version, info->core, sizeof info->core);
    snprintf(info->detail, sizeof info->detail, "OpenMP threads");
#else
    info->engine = "builtin";
    snprintf(info->core, sizeof info->core, "%s", info->simd);
    snprintf(info->detail, sizeof info->detail, "packed micro-kernel");
#endif
}
