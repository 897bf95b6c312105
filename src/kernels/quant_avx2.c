/* quant_avx2.c - the AVX2 level of the block kernels (quant_simd.h): 16
 * elements as two ymm registers of 8; needs AVX2, FMA and F16C. */
#include "kernels/quant_impl.h"

#ifdef PT_QX86
#include <immintrin.h>

#define TGT static inline __attribute__((target("avx2,fma,f16c"), always_inline))
#define TGTF __attribute__((target("avx2,fma,f16c")))

typedef struct qsink {
    float *y;       /* OP_DEQ, OP_AXPY (n) */
    uint16_t *yb;   /* OP_BF16 (n) */
    const float *x; /* OP_DOT (n) */
    __m256 a;       /* OP_AXPY: the multiplier, broadcast */
    __m256 acc[4];  /* OP_DOT */
} qsink;

/* float32 -> bf16 of 8 values, round to nearest even, NaN kept quiet */
TGT __m128i bf16x8(__m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i r = _mm256_add_epi32(
        u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                            _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))));
    __m256i nan = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
    __m256i isnan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    r = _mm256_srli_epi32(_mm256_blendv_epi8(r, nan, isnan), 16);
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

TGT void emit8(const int op, qsink *k, int64_t off, __m256 v, int acc) {
    if (op == 0) {
        _mm256_storeu_ps(k->y + off, v);
    } else if (op == 1) {
        _mm_storeu_si128((__m128i *)(void *)(k->yb + off), bf16x8(v));
    } else if (op == 2) {
        k->acc[acc] = _mm256_fmadd_ps(v, _mm256_loadu_ps(k->x + off), k->acc[acc]);
    } else {
        _mm256_storeu_ps(k->y + off, _mm256_fmadd_ps(k->a, v, _mm256_loadu_ps(k->y + off)));
    }
}

TGT void out16(const int op, qsink *k, int64_t off, __m128i q, float s, float m, const int has_m,
               int par) {
    __m256 vs = _mm256_set1_ps(s), vm = _mm256_set1_ps(m);
    __m256 v0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), vs);
    __m256 v1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), vs);
    if (has_m) {
        v0 = _mm256_sub_ps(v0, vm);
        v1 = _mm256_sub_ps(v1, vm);
    }
    emit8(op, k, off, v0, 2 * par);
    emit8(op, k, off + 8, v1, 2 * par + 1);
}

TGT void emit_float16(const int op, qsink *k, int64_t off, pt_wtype t, const uint8_t *p) {
    for (int h = 0; h < 2; h++) {
        const uint8_t *q = p + h * 8 * (t == PT_WT_F32 ? 4 : 2);
        __m256 v;
        if (t == PT_WT_F32)
            v = _mm256_loadu_ps((const float *)(const void *)q);
        else if (t == PT_WT_F16)
            v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)q));
        else
            v = _mm256_castsi256_ps(_mm256_slli_epi32(
                _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)q)), 16));
        emit8(op, k, off + 8 * h, v, (int)(2 * ((off >> 4) & 1) + h));
    }
}

#include "kernels/quant_simd.h"

static int64_t esize(pt_wtype t) {
    return t == PT_WT_F32 ? 4 : 2;
}

TGTF void pt_q_deq_avx2(pt_wtype t, float *dst, const uint8_t *src, int64_t n) {
    qsink k = {.y = dst};
    int64_t i = run(OP_DEQ, &k, t, src, n);
    if (i < n) pt_q_deq_generic(t, dst + i, src + i * esize(t), n - i);
}

TGTF void pt_q_deq_bf16_avx2(pt_wtype t, uint16_t *dst, const uint8_t *src, int64_t n) {
    qsink k = {.yb = dst};
    int64_t i = run(OP_BF16, &k, t, src, n);
    if (i < n) pt_q_deq_bf16_generic(t, dst + i, src + i * esize(t), n - i);
}

TGTF float pt_q_dot_avx2(pt_wtype t, const uint8_t *src, const float *x, int64_t n) {
    qsink k = {.x = x};
    for (int j = 0; j < 4; j++) k.acc[j] = _mm256_setzero_ps();
    int64_t i = run(OP_DOT, &k, t, src, n);
    __m256 s8 = _mm256_add_ps(_mm256_add_ps(k.acc[0], k.acc[1]), _mm256_add_ps(k.acc[2], k.acc[3]));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    float s = _mm_cvtss_f32(s4);
    if (i < n) s += pt_q_dot_generic(t, src + i * esize(t), x + i, n - i);
    return s;
}

TGTF void pt_q_axpy_avx2(pt_wtype t, float *y, float a, const uint8_t *src, int64_t n) {
    qsink k = {.y = y, .a = _mm256_set1_ps(a)};
    int64_t i = run(OP_AXPY, &k, t, src, n);
    if (i < n) pt_q_axpy_generic(t, y + i, a, src + i * esize(t), n - i);
}
#endif
