/* gemm_bf16.c - products with bf16 weights in bf16 arithmetic (AVX512-BF16).
 *
 *   c (M, N) += a (M, K) . B (K, N),  B bf16, a float32, c float32
 *
 * vdpbf16ps (_mm512_dpbf16_ps) multiplies 16 pairs of bf16 and adds each
 * pair's two products to one float32 lane: the pairs run along the reduction
 * (K). So both operands are laid out as 32-bit words holding two bf16 of
 * adjacent k:
 *   a   converted once per call: each row rounded to bf16 (round to nearest
 *       even; parts == 1), or split into hi = bf16(a) and lo = bf16(a - hi)
 *       (parts == 2: two products per step, about 16 significant bits of a);
 *       rows zero-padded to a multiple of 16 elements.
 *   B   packed per task, like the f32 engine's B blocks: a (KC, NC) block into
 *       NR-column panels of (KC / 2) words x NR columns, word (p, j) = B(2p, j)
 *       | B(2p + 1, j) << 16 (zero past the edges). The forward's B = W^T reads
 *       pairs straight out of W's rows (adjacent along K already); the input
 *       gradient's B = W interleaves two rows of W. No second copy of any
 *       weight is kept: the packing is amortized over the task's M rows.
 * Micro-kernel 8 x 48: 24 zmm float32 accumulators (vdpbf16ps needs about 24
 * independent chains to reach its throughput on Zen 5; 16 measured well below),
 * per pair step three panel loads, 8 (or 16) broadcast words, 24 (or 48)
 * vdpbf16ps.
 * The instruction treats denormal inputs as zero and rounds each addition to
 * nearest even; the products of two bf16 are exact in float32.
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
#include <cpuid.h>
#include <immintrin.h>
#endif

#define MR 8
#define NV 3         /* zmm vectors per row of the micro-tile */
#define NR (16 * NV) /* 48 */
#define NC 192       /* columns per task, a multiple of NR */
#define KC 256       /* depth per packed block, even */

int pt_cpu_has_avx512bf16(void) {
#ifdef PT_X86
    static int has = -1; /* computed once; a race only repeats the work */
    if (has < 0) {
        unsigned a = 0, b = 0, c = 0, d = 0;
        int bf16 = __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
        __builtin_cpu_init();
        has = bf16 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    }
    return has;
#else
    return 0;
#endif
}

#ifdef PT_X86
#define TGT __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* dst (n16 bf16) = src (n floats) rounded, zero past n; lo: the remainders (or NULL) */
TGT static void convert_row(uint16_t *hi, uint16_t *lo, const float *src, int n, int n16) {
    for (int k = 0; k < n16; k += 16) {
        int left = n - k;
        __mmask16 m = left >= 16 ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
        __m512 x = _mm512_maskz_loadu_ps(m, src + k);
        __m256bh h = _mm512_cvtneps_pbh(x);
        _mm256_storeu_si256((__m256i *)(void *)(hi + k), (__m256i)h);
        if (lo) {
            __m512 hf = _mm512_castsi512_ps(
                _mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)h), 16)); // hi as float32
            __m256bh l = _mm512_cvtneps_pbh(_mm512_sub_ps(x, hf));
            _mm256_storeu_si256((__m256i *)(void *)(lo + k), (__m256i)l);
        }
    }
}

/* c (MR, NR) at stride ldc += A (MR rows of pair words at stride lda) . panel bp (kp, NR) */
TGT static inline __attribute__((always_inline)) void
micro_body(int parts, int kp, const uint32_t *restrict ah, const uint32_t *restrict al, int lda,
           const uint32_t *restrict bp, float *restrict c, int ldc) {
    __m512 acc[MR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_loadu_ps(c + r * ldc + 16 * v);
    for (int p = 0; p < kp; p++) {
        __m512bh bv[NV];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) bv[v] = (__m512bh)_mm512_load_si512(bp + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)ah[(size_t)r * lda + p]);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], x, bv[v]);
            if (parts == 2) {
                __m512bh y = (__m512bh)_mm512_set1_epi32((int)al[(size_t)r * lda + p]);
#pragma GCC unroll 3
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], y, bv[v]);
            }
        }
        bp += NR;
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
}

TGT static void micro1(int kp, const uint32_t *ah, const uint32_t *al, int lda, const uint32_t *bp,
                       float *c, int ldc) {
    micro_body(1, kp, ah, al, lda, bp, c, ldc);
}
TGT static void micro2(int kp, const uint32_t *ah, const uint32_t *al, int lda, const uint32_t *bp,
                       float *c, int ldc) {
    micro_body(2, kp, ah, al, lda, bp, c, ldc);
}

/* bp: B (kc, nc) block into NR-column panels of pair words (kp, NR); b at B(0, 0) */
static void pack_b(uint32_t *restrict bp, const uint16_t *b, int ldb, int trans, int kc, int nc) {
    int kp = (kc + 1) / 2;
    for (int j0 = 0; j0 < nc; j0 += NR, bp += (size_t)kp * NR) {
        int cols = nc - j0 < NR ? nc - j0 : NR;
        if (trans) { /* B(k, j) = b[j*ldb + k]: a pair is two adjacent elements of a row */
            for (int j = 0; j < cols; j++) {
                const uint16_t *src = b + (size_t)(j0 + j) * ldb; // (kc)
                for (int p = 0; p < kc / 2; p++)
                    bp[p * NR + j] = (uint32_t)src[2 * p] | (uint32_t)src[2 * p + 1] << 16;
                if (kc & 1) bp[(kp - 1) * NR + j] = src[kc - 1];
            }
        } else { /* B(k, j) = b[k*ldb + j]: a pair is the same column of two rows */
            for (int p = 0; p < kp; p++) {
                const uint16_t *r0 = b + (size_t)(2 * p) * ldb + j0; // (cols)
                uint32_t *dst = bp + (size_t)p * NR;
                if (2 * p + 1 < kc) {
                    const uint16_t *r1 = r0 + ldb;
                    for (int j = 0; j < cols; j++) dst[j] = (uint32_t)r0[j] | (uint32_t)r1[j] << 16;
                } else {
                    for (int j = 0; j < cols; j++) dst[j] = r0[j];
                }
            }
        }
        for (int p = 0; p < kp; p++)
            for (int j = cols; j < NR; j++) bp[p * NR + j] = 0;
    }
}

typedef void (*micro_fn)(int, const uint32_t *, const uint32_t *, int, const uint32_t *, float *,
                         int);

/* one task: c (m, nc) += A (m rows of pair words at stride lda) . B (K, nc) block */
static void task(micro_fn fn, float *c, int ldc, const uint32_t *ah, const uint32_t *al, int lda,
                 const uint16_t *b, int ldb, int trans, int m, int nc, int K) {
    _Alignas(64) uint32_t bp[KC / 2 * NC]; // (NC/NR, KC/2, NR) packed B
    _Alignas(64) uint32_t eh[MR * KC / 2]; // (MR, KC/2) last rows of A, zero-padded
    _Alignas(64) uint32_t el[MR * KC / 2]; // the same for the low parts
    _Alignas(64) float tile[MR * NR];      // (MR, NR) partial output tile
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC, kp = (kc + 1) / 2;
        pack_b(bp, b + (trans ? (size_t)k0 : (size_t)k0 * ldb), ldb, trans, kc, nc);
        for (int i0 = 0; i0 < m; i0 += MR) {
            int mr = m - i0 < MR ? m - i0 : MR;
            const uint32_t *h = ah + (size_t)i0 * lda + k0 / 2, *l = al + (size_t)i0 * lda + k0 / 2;
            int ld = lda;
            if (mr < MR) {
                memset(eh, 0, sizeof eh);
                memset(el, 0, sizeof el);
                for (int r = 0; r < mr; r++) {
                    memcpy(eh + r * (KC / 2), h + (size_t)r * lda, (size_t)kp * sizeof(uint32_t));
                    memcpy(el + r * (KC / 2), l + (size_t)r * lda, (size_t)kp * sizeof(uint32_t));
                }
                h = eh, l = el, ld = KC / 2;
            }
            for (int j0 = 0; j0 < nc; j0 += NR) {
                int nr = nc - j0 < NR ? nc - j0 : NR;
                const uint32_t *pan = bp + (size_t)(j0 / NR) * kp * NR;
                float *ct = c + (size_t)i0 * ldc + j0;
                if (mr == MR && nr == NR) {
                    fn(kp, h, l, ld, pan, ct, ldc);
                } else {
                    memset(tile, 0, sizeof tile);
                    fn(kp, h, l, ld, pan, tile, NR);
                    for (int r = 0; r < mr; r++)
                        for (int j = 0; j < nr; j++) ct[(size_t)r * ldc + j] += tile[r * NR + j];
                }
            }
        }
    }
}
#endif

int pt_gemm_bf16dp(int parts, float *c, int ldc, const float *a, int lda, const uint16_t *b,
                   int ldb, int b_trans, int M, int N, int K) {
#ifdef PT_X86
    if (!pt_cpu_has_avx512bf16() || (parts != 1 && parts != 2)) return 1;
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    int k16 = (K + 15) / 16 * 16, lw = k16 / 2; /* row of A: k16 bf16 = lw words */
    size_t words = (size_t)M * lw;
    /* every word is written by convert_row: no zeroing; the size rounded to whole 64-byte lines */
    uint32_t *ah = aligned_alloc(64, (words * (size_t)parts * sizeof(uint32_t) + 63) / 64 * 64);
    if (!ah) return 1;
    uint32_t *al = parts == 2 ? ah + words : ah; /* parts 1: never read */
    int par = (double)M * N * K >= PT_PAR_FLOPS;
    int threads = 1;
#ifdef _OPENMP
    if (par) threads = omp_get_max_threads();
#endif
    (void)threads;
    int n_cb = (N + NC - 1) / NC;
    int n_rb = (2 * threads + n_cb - 1) / n_cb;
    int rows = (M + n_rb - 1) / n_rb;
    rows = (rows + MR - 1) / MR * MR;
    n_rb = (M + rows - 1) / rows;
    micro_fn fn = parts == 2 ? micro2 : micro1;
#pragma omp parallel if (par)
    {
#pragma omp for schedule(static)
        for (int i = 0; i < M; i++)
            convert_row((uint16_t *)(ah + (size_t)i * lw),
                        parts == 2 ? (uint16_t *)(al + (size_t)i * lw) : NULL, a + (size_t)i * lda,
                        K, k16);
#pragma omp for collapse(2) schedule(static)
        for (int cb = 0; cb < n_cb; cb++) {
            for (int rb = 0; rb < n_rb; rb++) {
                int i0 = rb * rows, j0 = cb * NC;
                int m = M - i0 < rows ? M - i0 : rows, nc = N - j0 < NC ? N - j0 : NC;
                const uint16_t *bj = b + (b_trans ? (size_t)j0 * ldb : (size_t)j0);
                task(fn, c + (size_t)i0 * ldc + j0, ldc, ah + (size_t)i0 * lw, al + (size_t)i0 * lw,
                     lw, bj, ldb, b_trans, m, nc, K);
            }
        }
    }
    free(ah);
    return 0;
#else
    (void)parts, (void)c, (void)ldc, (void)a, (void)lda, (void)b, (void)ldb, (void)b_trans;
    (void)M, (void)N, (void)K;
    return 1;
#endif
}
