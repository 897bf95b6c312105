/* matmul.c - the matmul seam: out = inp . W^T + bias and its input gradient,
 * routed to the engine the build chose (see gemm.h), plus the naive references
 * and the small weight-gradient product of the prompt encoder.
 *
 * N rows (tokens), C input channels, OC output channels; W (OC, C) row-major.
 *   forward:        out (N, OC)  = inp (N, C) . W^T   (GEMM with B = W read transposed)
 *   backward_input: dinp (N, C) += dout (N, OC) . W   (GEMM with B = W as stored)
 * Typed seam (pt_mm_*): bf16 weights go to the vdpbf16ps kernels
 * (pt_gemm_bf16dp) when the arithmetic is bf16 or bf16x2 (PTUNE_BF16_ARITH, or
 * the default on CPUs with AVX512-BF16), else to the widening path.
 */
#include "kernels/kernels.h"

#include "kernels/gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "kernels/quant.h"
#include "kernels/weight.h"

#if defined(PT_GEMM_OPENBLAS) || defined(PT_GEMM_DNNL)
#define PT_GEMM_LIB 1
#else
#define PT_GEMM_LIB 0
#endif

/* out (N, OC) = bias broadcast over rows, or 0 */
static void fill_bias(float *out, const float *bias, int N, int OC) {
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC; // (OC)
        for (int j = 0; j < OC; j++) o[j] = bias ? bias[j] : 0.0f;
    }
}

void pt_matmul_forward_builtin(float *out, const float *inp, const float *W, const float *bias,
                               int N, int C, int OC) {
    fill_bias(out, bias, N, OC);
    pt_gemm_builtin(pt_gemm_simd_level(), out, OC, inp, C, W, C, 1, 0, N, OC, C);
}

void pt_matmul_backward_input_builtin(float *dinp, const float *dout, const float *W, int N, int C,
                                      int OC) {
    pt_gemm_builtin(pt_gemm_simd_level(), dinp, C, dout, OC, W, C, 0, 0, N, C, OC);
}

void pt_matmul_forward(float *out, const float *inp, const float *W, const float *bias, int N,
                       int C, int OC) {
    // out (N, OC), inp (N, C), W (OC, C), bias (OC) or NULL
    if (PT_GEMM_LIB && !pt_gemm_lib_forward(out, inp, W, bias, N, C, OC)) return;
    pt_matmul_forward_builtin(out, inp, W, bias, N, C, OC);
}

void pt_matmul_backward_input(float *dinp, const float *dout, const float *W, int N, int C,
                              int OC) {
    // dinp (N, C) += dout (N, OC) . W (OC, C)
    if (PT_GEMM_LIB && !pt_gemm_lib_backward_input(dinp, dout, W, N, C, OC)) return;
    pt_matmul_backward_input_builtin(dinp, dout, W, N, C, OC);
}

void pt_matmul_forward_bf16(float *out, const float *inp, const uint16_t *W, const float *bias,
                            int N, int C, int OC) {
    // out (N, OC), inp (N, C), W (OC, C) bf16, bias (OC) or NULL
    if (PT_GEMM_LIB && !pt_gemm_lib_forward_bf16(out, inp, W, bias, N, C, OC)) return;
    fill_bias(out, bias, N, OC);
    pt_gemm_builtin(pt_gemm_simd_level(), out, OC, inp, C, W, C, 1, 1, N, OC, C);
}

void pt_matmul_backward_input_bf16(float *dinp, const float *dout, const uint16_t *W, int N, int C,
                                   int OC) {
    // dinp (N, C) += dout (N, OC) . W (OC, C) bf16
    if (PT_GEMM_LIB && !pt_gemm_lib_backward_input_bf16(dinp, dout, W, N, C, OC)) return;
    pt_gemm_builtin(pt_gemm_simd_level(), dinp, C, dout, OC, W, C, 0, 1, N, C, OC);
}

int pt_gemm_small(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int b_trans,
                  int M, int N, int K, float alpha) {
    return PT_GEMM_LIB ? pt_gemm_lib_small(c, ldc, a, lda, b, ldb, b_trans, M, N, K, alpha) : 1;
}

#if !PT_GEMM_LIB
/* builtin builds: no library engine; the seam above never calls these */
int pt_gemm_lib_small(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                      int b_trans, int M, int N, int K, float alpha) {
    return 1;
}
int pt_gemm_lib_forward(float *out, const float *inp, const float *W, const float *bias, int N,
                        int C, int OC) {
    return 1;
}
int pt_gemm_lib_backward_input(float *dinp, const float *dout, const float *W, int N, int C,
                               int OC) {
    return 1;
}
int pt_gemm_lib_forward_bf16(float *out, const float *inp, const uint16_t *W, const float *bias,
                             int N, int C, int OC) {
    return 1;
}
int pt_gemm_lib_backward_input_bf16(float *dinp, const float *dout, const uint16_t *W, int N, int C,
                                    int OC) {
    return 1;
}
#endif

void pt_matmul_backward_weight(float *dW, float *dbias, const float *dout, const float *inp, int N,
                               int C, int OC) {
    // dW (OC, C) += dout^T (OC, N) . inp (N, C); dbias (OC) += sum over n of dout (N, OC)
#pragma omp parallel for schedule(static) if ((double)N * C * OC >= PT_PAR_FLOPS)
    for (int o = 0; o < OC; o++) {
        float *dw = dW + (size_t)o * C; // (C)
        float db = 0.0f;
        for (int n = 0; n < N; n++) {
            float d = dout[(size_t)n * OC + o];
            const float *x = inp + (size_t)n * C; // (C)
            db += d;
#pragma omp simd
            for (int i = 0; i < C; i++) dw[i] += d * x[i];
        }
        if (dbias) dbias[o] += db;
    }
}

void pt_matmul_forward_ref(float *out, const float *inp, const float *W, const float *bias, int N,
                           int C, int OC) {
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int i = 0; i < C; i++) s += (double)inp[(size_t)n * C + i] * W[(size_t)o * C + i];
            out[(size_t)n * OC + o] = (float)s;
        }
    }
}

void pt_matmul_backward_input_ref(float *dinp, const float *dout, const float *W, int N, int C,
                                  int OC) {
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < C; i++) {
            double s = 0.0;
            for (int o = 0; o < OC; o++)
                s += (double)dout[(size_t)n * OC + o] * W[(size_t)o * C + i];
            dinp[(size_t)n * C + i] += (float)s;
        }
    }
}

/* ---- the typed seam (weight.h) ---- */

/* -1 until first asked: then PTUNE_BF16_ARITH, else the default for this CPU */
static int g_arith = -1;
static const char *g_arith_why = "";

static pt_arith clamp_arith(pt_arith a, const char **why) {
    if (a != PT_ARITH_F32 && !pt_cpu_has_avx512bf16()) {
        *why = "the CPU has no AVX512-BF16";
        return PT_ARITH_F32;
    }
    if (a != PT_ARITH_F32 && pt_gemm_simd_level() < PT_SIMD_AVX512) {
        *why = "PTUNE_SIMD below avx512";
        return PT_ARITH_F32;
    }
    return a;
}

static void resolve_arith(void) {
    const char *env = getenv("PTUNE_BF16_ARITH");
    pt_arith a = PT_ARITH_DEFAULT;
    g_arith_why = "default";
    if (env && *env) {
        g_arith_why = "PTUNE_BF16_ARITH";
        if (!strcmp(env, "f32"))
            a = PT_ARITH_F32;
        else if (!strcmp(env, "bf16"))
            a = PT_ARITH_BF16;
        else if (!strcmp(env, "bf16x2"))
            a = PT_ARITH_BF16X2;
        else
            g_arith_why = "default; PTUNE_BF16_ARITH not f32, bf16 or bf16x2: ignored";
    }
    g_arith = (int)clamp_arith(a, &g_arith_why);
}

void pt_mm_set_arith(pt_arith a) {
    g_arith_why = "set by the program";
    g_arith = (int)clamp_arith(a, &g_arith_why);
}

pt_arith pt_mm_get_arith(void) {
    if (g_arith < 0) resolve_arith(); /* the value is the same each time: a race repeats work */
    return (pt_arith)g_arith;
}

const char *pt_mm_arith_why(void) {
    pt_mm_get_arith();
    return g_arith_why;
}

const char *pt_arith_name(pt_arith a) {
    return a == PT_ARITH_BF16X2 ? "bf16x2" : a == PT_ARITH_BF16 ? "bf16" : "f32";
}

/* bf16 weights through vdpbf16ps: 0 when done */
static int bf16dp(float *c, int ldc, const float *a, int lda, const pt_weight *W, int trans, int M,
                  int N, int K) {
    pt_arith ar = pt_mm_get_arith();
    if (ar == PT_ARITH_F32) return 1;
    return pt_gemm_bf16dp(ar == PT_ARITH_BF16X2 ? 2 : 1, c, ldc, a, lda, W->data, W->cols, trans, M,
                          N, K);
}

void pt_mm_forward(float *out, const float *inp, const pt_weight *W, const float *bias, int N) {
    // out (N, OC), inp (N, C), W (OC, C)
    int C = W->cols, OC = W->rows;
    if (W->type == PT_WT_F32) {
        pt_matmul_forward(out, inp, W->data, bias, N, C, OC);
    } else if (W->type == PT_WT_BF16) {
        if (pt_mm_get_arith() != PT_ARITH_F32) {
            fill_bias(out, bias, N, OC);
            if (!bf16dp(out, OC, inp, C, W, 1, N, OC, C)) return;
        }
        pt_matmul_forward_bf16(out, inp, W->data, bias, N, C, OC);
    } else {
        pt_qmm_forward(out, inp, W, bias, N); /* F16 and the block types */
    }
}

void pt_mm_backward_input(float *dinp, const float *dout, const pt_weight *W, int N) {
    // dinp (N, C) += dout (N, OC) . W (OC, C)
    int C = W->cols, OC = W->rows;
    if (W->type == PT_WT_F32) {
        pt_matmul_backward_input(dinp, dout, W->data, N, C, OC);
    } else if (W->type == PT_WT_BF16) {
        if (!bf16dp(dinp, C, dout, OC, W, 0, N, C, OC)) return;
        pt_matmul_backward_input_bf16(dinp, dout, W->data, N, C, OC);
    } else {
        pt_qmm_backward_input(dinp, dout, W, N); /* F16 and the block types */
    }
}
