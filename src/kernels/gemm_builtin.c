/* gemm_builtin.c - the builtin GEMM engine: packed B blocks and register micro-kernels.
 *
 *   c (M, N) += a (M, K) . B (K, N)
 *
 * The output is cut into tasks of (a chunk of rows) x (NC columns) shared by
 * the OpenMP threads. A task walks K in blocks of KC: it packs its B block
 * once into NR-column panels ((NC/NR) x KC x NR, zero-padded, on its stack),
 * then sweeps its rows MR at a time; each MR-row sliver of A (read in place,
 * MR rows x KC, stays in L1) meets every B panel (in L2) in the micro-kernel.
 * B may be given transposed (the forward's W (OC, C) read as W^T) and in bf16:
 * packing widens it to f32, so every micro-kernel sees the same float panels.
 * Partial tiles at the edges go through a zero-padded copy.
 *
 * Micro-kernels (chosen at run time by CPU support):
 *   generic  4 x 16 plain C (the compiler vectorizes what the target allows)
 *   avx2     6 x 16, 12 ymm accumulators, FMA
 *   avx512   8 x 32, 16 zmm accumulators, FMA
 */
#include "kernels/gemm.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define PT_X86 1
#include <immintrin.h>
#endif

#define NC 128 /* columns per task: a multiple of every NR */
#define KC 256 /* depth per packed block */
#define MR_MAX 8
#define NR_MAX 32

/* c (MR, NR) at row stride ldc += a (MR, kc) at row stride lda . bp (kc, NR) panel */
typedef void (*micro_fn)(int kc, const float *a, int lda, const float *bp, float *c, int ldc);

static void micro_generic(int kc, const float *restrict a, int lda, const float *restrict bp,
                          float *restrict c, int ldc) {
    float acc[4][16]; // (MR, NR)
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 16; j++) acc[r][j] = c[r * ldc + j];
    for (int k = 0; k < kc; k++) {
        const float *b = bp + k * 16; // (NR)
        for (int r = 0; r < 4; r++) {
            float ar = a[(size_t)r * lda + k];
#pragma omp simd
            for (int j = 0; j < 16; j++) acc[r][j] += ar * b[j];
        }
    }
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 16; j++) c[r * ldc + j] = acc[r][j];
}

#ifdef PT_X86
__attribute__((target("avx2,fma"))) static void micro_avx2(int kc, const float *restrict a, int lda,
                                                           const float *restrict bp,
                                                           float *restrict c, int ldc) {
    const float *a0 = a, *a1 = a + lda, *a2 = a1 + lda, *a3 = a2 + lda, *a4 = a3 + lda,
                *a5 = a4 + lda;
    __m256 c00 = _mm256_loadu_ps(c), c01 = _mm256_loadu_ps(c + 8);
    __m256 c10 = _mm256_loadu_ps(c + ldc), c11 = _mm256_loadu_ps(c + ldc + 8);
    __m256 c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    __m256 c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
    __m256 c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
    __m256 c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
        __m256 x;
        x = _mm256_broadcast_ss(a0 + k);
        c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a1 + k);
        c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a2 + k);
        c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a3 + k);
        c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a4 + k);
        c40 = _mm256_fmadd_ps(x, b0, c40), c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a5 + k);
        c50 = _mm256_fmadd_ps(x, b0, c50), c51 = _mm256_fmadd_ps(x, b1, c51);
        bp += 16;
    }
    _mm256_storeu_ps(c, c00), _mm256_storeu_ps(c + 8, c01);
    _mm256_storeu_ps(c + ldc, c10), _mm256_storeu_ps(c + ldc + 8, c11);
    _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
    _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
    _mm256_storeu_ps(c + 4 * ldc, c40), _mm256_storeu_ps(c + 4 * ldc + 8, c41);
    _mm256_storeu_ps(c + 5 * ldc, c50), _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

__attribute__((target("avx512f"))) static void micro_avx512(int kc, const float *restrict a,
                                                            int lda, const float *restrict bp,
                                                            float *restrict c, int ldc) {
    __m512 acc[8][2]; // (MR, NR / 16)
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
        acc[r][0] = _mm512_loadu_ps(c + r * ldc);
        acc[r][1] = _mm512_loadu_ps(c + r * ldc + 16);
    }
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            __m512 x = _mm512_set1_ps(a[(size_t)r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
        bp += 32;
    }
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
        _mm512_storeu_ps(c + r * ldc, acc[r][0]);
        _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
    }
}
#endif

typedef struct kernel {
    int mr, nr;
    micro_fn fn;
} kernel;

static kernel kernel_for(int level) {
#ifdef PT_X86
    if (level >= PT_SIMD_AVX512) return (kernel){8, 32, micro_avx512};
    if (level >= PT_SIMD_AVX2) return (kernel){6, 16, micro_avx2};
#endif
    (void)level;
    return (kernel){4, 16, micro_generic};
}

static int detect_level(void) {
    int level = PT_SIMD_GENERIC;
#ifdef PT_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = PT_SIMD_AVX2;
    if (__builtin_cpu_supports("avx512f")) level = PT_SIMD_AVX512;
#endif
    const char *env = getenv("PTUNE_SIMD");
    if (env) {
        int want = !strcmp(env, "generic")  ? PT_SIMD_GENERIC
                   : !strcmp(env, "avx2")   ? PT_SIMD_AVX2
                   : !strcmp(env, "avx512") ? PT_SIMD_AVX512
                                            : level;
        if (want < level) level = want;
    }
    return level;
}

int pt_gemm_simd_level(void) {
    /* computed once; the value never changes, so a race only repeats the work */
    static int level = -1;
    if (level < 0) level = detect_level();
    return level;
}

const char *pt_gemm_simd_name(int level) {
    return level >= PT_SIMD_AVX512 ? "avx512" : level >= PT_SIMD_AVX2 ? "avx2+fma" : "generic";
}

void pt_bf16_from_f32(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = pt_gemm_f32_to_bf16(src[i]);
}

/* bp: B (kc, nc) block into NR-column panels (kc, NR). b points at B(0, 0) of the block. */
static void pack_b(float *restrict bp, const void *b, int ldb, int trans, int bf16, int kc, int nc,
                   int nr) {
    for (int j0 = 0; j0 < nc; j0 += nr) {
        int cols = nc - j0 < nr ? nc - j0 : nr;
        if (trans) { /* B(k, j) = b[j*ldb + k]: each column is a contiguous row of b */
            for (int j = 0; j < cols; j++) {
                size_t off = (size_t)(j0 + j) * ldb;
                if (bf16) {
                    const uint16_t *src = (const uint16_t *)b + off; // (kc)
                    for (int k = 0; k < kc; k++) bp[k * nr + j] = pt_gemm_bf16_to_f32(src[k]);
                } else {
                    const float *src = (const float *)b + off; // (kc)
                    for (int k = 0; k < kc; k++) bp[k * nr + j] = src[k];
                }
            }
        } else { /* B(k, j) = b[k*ldb + j]: rows of b are contiguous */
            for (int k = 0; k < kc; k++) {
                size_t off = (size_t)k * ldb + j0;
                float *dst = bp + k * nr;
                if (bf16) {
                    const uint16_t *src = (const uint16_t *)b + off; // (cols)
                    for (int j = 0; j < cols; j++) dst[j] = pt_gemm_bf16_to_f32(src[j]);
                } else {
                    const float *src = (const float *)b + off; // (cols)
                    for (int j = 0; j < cols; j++) dst[j] = src[j];
                }
            }
        }
        for (int j = cols; j < nr; j++)
            for (int k = 0; k < kc; k++) bp[k * nr + j] = 0.0f;
        bp += (size_t)kc * nr;
    }
}

/* One task: c (m, nc) += a (m, K) . B (K, nc) block. */
static void task(kernel kn, float *c, int ldc, const float *a, int lda, const void *b, int ldb,
                 int trans, int bf16, int m, int nc, int K) {
    _Alignas(64) float bp[KC * NC];           // (NC/NR, KC, NR) packed B
    _Alignas(64) float aedge[MR_MAX * KC];    // (MR, KC) zero-padded last rows of A
    _Alignas(64) float tile[MR_MAX * NR_MAX]; // (MR, NR) partial output tile
    size_t esz = bf16 ? sizeof(uint16_t) : sizeof(float);
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        const char *bk = (const char *)b + esz * (trans ? (size_t)k0 : (size_t)k0 * ldb);
        pack_b(bp, bk, ldb, trans, bf16, kc, nc, kn.nr);
        for (int i0 = 0; i0 < m; i0 += kn.mr) {
            int mr = m - i0 < kn.mr ? m - i0 : kn.mr;
            const float *ai = a + (size_t)i0 * lda + k0; // (mr, kc) at stride lda
            int ldai = lda;
            if (mr < kn.mr) { /* copy the last rows, padded with zeros */
                memset(aedge, 0, sizeof aedge);
                for (int r = 0; r < mr; r++)
                    memcpy(aedge + r * KC, ai + (size_t)r * lda, (size_t)kc * sizeof(float));
                ai = aedge, ldai = KC;
            }
            for (int j0 = 0; j0 < nc; j0 += kn.nr) {
                int nr = nc - j0 < kn.nr ? nc - j0 : kn.nr;
                const float *bpan = bp + (size_t)(j0 / kn.nr) * kc * kn.nr;
                float *ct = c + (size_t)i0 * ldc + j0;
                if (mr == kn.mr && nr == kn.nr) {
                    kn.fn(kc, ai, ldai, bpan, ct, ldc);
                } else {
                    memset(tile, 0, sizeof tile);
                    kn.fn(kc, ai, ldai, bpan, tile, kn.nr);
                    for (int r = 0; r < mr; r++)
                        for (int j = 0; j < nr; j++) ct[(size_t)r * ldc + j] += tile[r * kn.nr + j];
                }
            }
        }
    }
}

void pt_gemm_builtin(int level, float *c, int ldc, const float *a, int lda, const void *b, int ldb,
                     int b_trans, int b_bf16, int M, int N, int K) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    kernel kn = kernel_for(level);
    int par = (double)M * N * K >= PT_PAR_FLOPS;
    int threads = 1;
#ifdef _OPENMP
    if (par) threads = omp_get_max_threads();
#else
    (void)par;
#endif
    /* column blocks first (each packs its B block once for all its rows); rows
     * are split only as far as needed to give every thread about two tasks */
    int n_cb = (N + NC - 1) / NC;
    int n_rb = (2 * threads + n_cb - 1) / n_cb;
    int rows = (M + n_rb - 1) / n_rb;
    rows = (rows + kn.mr - 1) / kn.mr * kn.mr; /* whole micro-tiles */
    n_rb = (M + rows - 1) / rows;
    size_t esz = b_bf16 ? sizeof(uint16_t) : sizeof(float);
#pragma omp parallel for collapse(2) schedule(static) if (par)
    for (int cb = 0; cb < n_cb; cb++) {
        for (int rb = 0; rb < n_rb; rb++) {
            int i0 = rb * rows, j0 = cb * NC;
            int m = M - i0 < rows ? M - i0 : rows, nc = N - j0 < NC ? N - j0 : NC;
            const char *bj = (const char *)b + esz * (b_trans ? (size_t)j0 * ldb : (size_t)j0);
            task(kn, c + (size_t)i0 * ldc + j0, ldc, a + (size_t)i0 * lda, lda, bj, ldb, b_trans,
                 b_bf16, m, nc, K);
        }
    }
}
