/* matmul_quant.c - the matmul seam's products with block-quantized (and f16)
 * weights, straight from the stored blocks: no whole-matrix widening.
 *
 * W (OC, C) of type t, N input rows.
 *   forward:        out (N, OC)  = inp (N, C) . W^T + bias
 *   backward_input: dinp (N, C) += dout (N, OC) . W
 *
 * Few rows (N <= QMM_FEW): each product is a fused row kernel of quant.h
 * (pt_qdot_row / pt_qaxpy_row: every block decoded in registers, per use).
 * More rows: W is walked in tiles of R rows by K columns (K a multiple of the
 * block), each tile dequantized once into a per-thread float32 buffer of
 * TILE floats and multiplied into all N rows by the builtin GEMM kernel on
 * the calling thread, so each weight is decoded once per call whatever N is.
 * The forward pass gives each thread whole row panels of W (disjoint output
 * columns); the input-gradient pass gives each thread whole column ranges
 * (disjoint columns of dinp), so no two threads write the same output.
 * The tiles' values are those of pt_dequant_row, so the result is the f32
 * product over the dequantized matrix up to the order of the additions.
 */
#include "kernels/quant.h"

#include <math.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/mem.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

#define QMM_FEW 2
#define TILE (64 * 1024) /* floats per thread buffer (256 KiB) */
#define FWD_R 64         /* forward: W rows per tile */
#define BWD_K 256        /* input gradient: W columns per tile (a multiple of every block) */
#define BWD_R (TILE / BWD_K)

static int n_threads(double flops) {
#ifdef _OPENMP
    return flops >= PT_PAR_FLOPS ? omp_get_max_threads() : 1;
#else
    (void)flops;
    return 1;
#endif
}

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* the bytes of row r of W from column c0 (a multiple of the block) */
static const void *w_at(const pt_weight *W, int r, int c0) {
    const pt_wtype_info *in = pt_wtype_get(W->type);
    return (const unsigned char *)W->data + (size_t)r * W->row_bytes +
           (size_t)(c0 / in->block) * (size_t)in->bytes;
}

static void fill_nan(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

void pt_qmm_forward(float *out, const float *inp, const pt_weight *W, const float *bias, int N) {
    // out (N, OC), inp (N, C), W (OC, C), bias (OC) or NULL
    int C = W->cols, OC = W->rows;
    double flops = (double)N * C * OC;
    if (N <= QMM_FEW) {
#pragma omp parallel for schedule(static) if (n_threads(flops) > 1)
        for (int o = 0; o < OC; o++) {
            const void *row = w_at(W, o, 0);
            for (int n = 0; n < N; n++)
                out[(size_t)n * OC + o] =
                    pt_qdot_row(W->type, row, inp + (size_t)n * C, C) + (bias ? bias[o] : 0.0f);
        }
        return;
    }
    int T = n_threads(flops);
    float *buf = malloc((size_t)T * TILE * sizeof(float)); // (T, TILE)
    if (!buf) {
        fill_nan(out, (size_t)N * OC);
        return;
    }
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) out[(size_t)n * OC + o] = bias ? bias[o] : 0.0f;
    /* K columns per tile: a multiple of the block, FWD_R * K <= TILE */
    int blk = pt_wtype_get(W->type)->block, K = TILE / FWD_R / blk * blk;
    int level = pt_gemm_simd_level(), npan = (OC + FWD_R - 1) / FWD_R;
#pragma omp parallel for schedule(dynamic, 1) num_threads(T) if (T > 1)
    for (int p = 0; p < npan; p++) {
        float *tile = buf + (size_t)thread_id() * TILE; // (r, k)
        int o0 = p * FWD_R, r = OC - o0 < FWD_R ? OC - o0 : FWD_R;
        for (int c0 = 0; c0 < C; c0 += K) {
            int k = C - c0 < K ? C - c0 : K;
            for (int i = 0; i < r; i++)
                pt_dequant_row(W->type, tile + (size_t)i * k, w_at(W, o0 + i, c0), k);
            /* out[:, o0 : o0 + r] += inp[:, c0 : c0 + k] . tile^T */
            pt_gemm_builtin(level, out + o0, OC, inp + c0, C, tile, k, 1, 0, N, r, k);
        }
    }
    free(buf);
}

void pt_qmm_backward_input(float *dinp, const float *dout, const pt_weight *W, int N) {
    // dinp (N, C) += dout (N, OC) . W (OC, C)
    int C = W->cols, OC = W->rows;
    double flops = (double)N * C * OC;
    int nch = (C + BWD_K - 1) / BWD_K; /* column ranges, block-aligned */
    if (N <= QMM_FEW) {
#pragma omp parallel for schedule(static) if (n_threads(flops) > 1)
        for (int ch = 0; ch < nch; ch++) {
            int c0 = ch * BWD_K, k = C - c0 < BWD_K ? C - c0 : BWD_K;
            for (int o = 0; o < OC; o++) {
                const void *row = w_at(W, o, c0);
                for (int n = 0; n < N; n++)
                    pt_qaxpy_row(W->type, dinp + (size_t)n * C + c0, dout[(size_t)n * OC + o], row,
                                 k);
            }
        }
        return;
    }
    int T = n_threads(flops);
    float *buf = malloc((size_t)T * TILE * sizeof(float)); // (T, TILE)
    if (!buf) {
        fill_nan(dinp, (size_t)N * C);
        return;
    }
    int level = pt_gemm_simd_level();
#pragma omp parallel for schedule(dynamic, 1) num_threads(T) if (T > 1)
    for (int ch = 0; ch < nch; ch++) {
        float *tile = buf + (size_t)thread_id() * TILE; // (r, k)
        int c0 = ch * BWD_K, k = C - c0 < BWD_K ? C - c0 : BWD_K;
        for (int o0 = 0; o0 < OC; o0 += BWD_R) {
            int r = OC - o0 < BWD_R ? OC - o0 : BWD_R;
            for (int i = 0; i < r; i++)
                pt_dequant_row(W->type, tile + (size_t)i * k, w_at(W, o0 + i, c0), k);
            /* dinp[:, c0 : c0 + k] += dout[:, o0 : o0 + r] . tile */
            pt_gemm_builtin(level, dinp + c0, C, dout + o0, OC, tile, k, 0, 0, N, k, r);
        }
    }
    free(buf);
}
