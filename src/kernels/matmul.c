/* matmul.c - the matrix products: out = inp . W^T + bias and its input gradient.
 *
 * N rows (tokens), C input channels, OC output channels; W (OC, C) row-major.
 *
 * Both fast kernels reduce to one blocked product
 *     Cm (M, Nn) += Am (M, K) . Bm (K, Nn)
 * computed tile by tile by a 4 x 16 register micro-kernel whose inner loop is
 * a broadcast-multiply-add over 16 contiguous floats (vectorizable by gcc -O2).
 *   forward:        Cm = out,  Am = inp,  Bm = W^T (packed per block, on the stack)
 *   backward_input: Cm = dinp, Am = dout, Bm = W   (already (OC, C) = (K, Nn))
 * Work is split into (row chunk, column block) tasks shared by OpenMP threads;
 * each task walks K in blocks of KC so its B block stays in cache.
 */
#include "kernels/kernels.h"

#define MR 4   /* micro-tile rows */
#define NR 16  /* micro-tile columns */
#define MC 64  /* rows per task */
#define NC 64  /* columns per task (multiple of NR) */
#define KC 256 /* depth per cache block */

/* c (MR, NR) at row stride ldc += a (MR, K) at row stride lda . b (K, NR) at row stride ldb. */
static inline void micro_full(float *restrict c, int ldc, const float *restrict a, int lda,
                              const float *restrict b, int ldb, int K) {
    float acc[MR][NR]; // (MR, NR)
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) acc[r][j] = c[r * ldc + j];
    for (int k = 0; k < K; k++) {
        const float *bk = b + (size_t)k * ldb; // (NR)
        for (int r = 0; r < MR; r++) {
            float ar = a[r * lda + k];
#pragma omp simd
            for (int j = 0; j < NR; j++) acc[r][j] += ar * bk[j];
        }
    }
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) c[r * ldc + j] = acc[r][j];
}

/* Same for a partial tile of mr <= MR rows and nr <= NR columns. */
static void micro_edge(float *restrict c, int ldc, const float *restrict a, int lda,
                       const float *restrict b, int ldb, int K, int mr, int nr) {
    for (int r = 0; r < mr; r++) {
        float acc[NR]; // (NR)
        for (int j = 0; j < nr; j++) acc[j] = c[r * ldc + j];
        for (int k = 0; k < K; k++) {
            float ar = a[r * lda + k];
            const float *bk = b + (size_t)k * ldb;
            for (int j = 0; j < nr; j++) acc[j] += ar * bk[j];
        }
        for (int j = 0; j < nr; j++) c[r * ldc + j] = acc[j];
    }
}

/* cm (m, n) += am (m, K) . bm (K, n) with the given row strides; m, n, K small blocks. */
static void block_product(float *cm, int ldc, const float *am, int lda, const float *bm, int ldb,
                          int m, int n, int K) {
    for (int i = 0; i < m; i += MR) {
        int mr = m - i < MR ? m - i : MR;
        for (int j = 0; j < n; j += NR) {
            int nr = n - j < NR ? n - j : NR;
            float *c = cm + (size_t)i * ldc + j;
            const float *a = am + (size_t)i * lda;
            if (mr == MR && nr == NR)
                micro_full(c, ldc, a, lda, bm + j, ldb, K);
            else
                micro_edge(c, ldc, a, lda, bm + j, ldb, K, mr, nr);
        }
    }
}

void pt_matmul_forward(float *out, const float *inp, const float *W, const float *bias, int N,
                       int C, int OC) {
    // out (N, OC), inp (N, C), W (OC, C), bias (OC) or NULL
    int n_rb = (N + MC - 1) / MC, n_cb = (OC + NC - 1) / NC;
#pragma omp parallel for collapse(2) schedule(static)
    for (int rb = 0; rb < n_rb; rb++) {
        for (int cb = 0; cb < n_cb; cb++) {
            int n0 = rb * MC, m = N - n0 < MC ? N - n0 : MC;
            int o0 = cb * NC, n = OC - o0 < NC ? OC - o0 : NC;
            float wt[KC * NC]; // (KC, NC): a block of W^T, packed
            for (int i = 0; i < m; i++) {
                float *o = out + (size_t)(n0 + i) * OC + o0;
                for (int j = 0; j < n; j++) o[j] = bias ? bias[o0 + j] : 0.0f;
            }
            for (int k0 = 0; k0 < C; k0 += KC) {
                int kc = C - k0 < KC ? C - k0 : KC;
                for (int j = 0; j < n; j++) {
                    const float *wr = W + (size_t)(o0 + j) * C + k0;
                    for (int k = 0; k < kc; k++) wt[k * NC + j] = wr[k];
                }
                block_product(out + (size_t)n0 * OC + o0, OC, inp + (size_t)n0 * C + k0, C, wt, NC,
                              m, n, kc);
            }
        }
    }
}

void pt_matmul_backward_input(float *dinp, const float *dout, const float *W, int N, int C,
                              int OC) {
    // dinp (N, C) += dout (N, OC) . W (OC, C)
    int n_rb = (N + MC - 1) / MC, n_cb = (C + NC - 1) / NC;
#pragma omp parallel for collapse(2) schedule(static)
    for (int rb = 0; rb < n_rb; rb++) {
        for (int cb = 0; cb < n_cb; cb++) {
            int n0 = rb * MC, m = N - n0 < MC ? N - n0 : MC;
            int c0 = cb * NC, n = C - c0 < NC ? C - c0 : NC;
            for (int k0 = 0; k0 < OC; k0 += KC) {
                int kc = OC - k0 < KC ? OC - k0 : KC;
                block_product(dinp + (size_t)n0 * C + c0, C, dout + (size_t)n0 * OC + k0, OC,
                              W + (size_t)k0 * C + c0, C, m, n, kc);
            }
        }
    }
}

void pt_matmul_backward_weight(float *dW, float *dbias, const float *dout, const float *inp, int N,
                               int C, int OC) {
    // dW (OC, C) += dout^T (OC, N) . inp (N, C); dbias (OC) += sum over n of dout (N, OC)
#pragma omp parallel for schedule(static)
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
