/* quant_avx512.c - the AVX-512 level of the block kernels (quant_simd.h):
 * 16 elements per zmm register; needs AVX512F/BW/VL/DQ and F16C. */
#include "kernels/quant_impl.h"

#ifdef PT_QX86
#include <immintrin.h>

#define TGT                                                                                        \
    static inline                                                                                  \
        __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"), always_inline))
#define TGTF __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))

typedef struct qsink {
    float *y;       /* OP_DEQ, OP_AXPY (n) */
    uint16_t *yb;   /* OP_BF16 (n) */
    const float *x; /* OP_DOT (n) */
    __m512 a;       /* OP_AXPY: the multiplier, broadcast */
    __m512 acc[2];  /* OP_DOT */
} qsink;

/* float32 -> bf16, round to nearest even, NaN kept quiet (pt_gemm_f32_to_bf16) */
TGT __m256i bf16x16(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i r = _mm512_add_epi32(
        u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                            _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    __m512i nan = _mm512_or_si512(u, _mm512_set1_epi32(0x400000));
    __mmask16 isnan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_mov_epi32(r, isnan, nan);
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

TGT void emit(const int op, qsink *k, int64_t off, __m512 v, int par) {
    if (op == 0) {
        _mm512_storeu_ps(k->y + off, v);
    } else if (op == 1) {
        _mm256_storeu_si256((__m256i *)(void *)(k->yb + off), bf16x16(v));
    } else if (op == 2) {
        k->acc[par] = _mm512_fmadd_ps(v, _mm512_loadu_ps(k->x + off), k->acc[par]);
    } else {
        _mm512_storeu_ps(k->y + off, _mm512_fmadd_ps(k->a, v, _mm512_loadu_ps(k->y + off)));
    }
}

TGT void out16(const int op, qsink *k, int64_t off, __m128i q, float s, float m, const int has_m,
               int par) {
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(s));
    if (has_m) v = _mm512_sub_ps(v, _mm512_set1_ps(m));
    emit(op, k, off, v, par);
}

TGT void emit_float16(const int op, qsink *k, int64_t off, pt_wtype t, const uint8_t *p) {
    __m512 v;
    if (t == PT_WT_F32)
        v = _mm512_loadu_ps((const float *)(const void *)p);
    else if (t == PT_WT_F16)
        v = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
    else
        v = _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p)), 16));
    emit(op, k, off, v, (int)((off >> 4) & 1));
}

#include "kernels/quant_simd.h"

static int64_t esize(pt_wtype t) {
    return t == PT_WT_F32 ? 4 : 2;
}

TGTF void pt_q_deq_avx512(pt_wtype t, float *dst, const uint8_t *src, int64_t n) {
    qsink k = {.y = dst};
    int64_t i = run(OP_DEQ, &k, t, src, n);
    if (i < n) pt_q_deq_generic(t, dst + i, src + i * esize(t), n - i);
}

TGTF void pt_q_deq_bf16_avx512(pt_wtype t, uint16_t *dst, const uint8_t *src, int64_t n) {
    qsink k = {.yb = dst};
    int64_t i = run(OP_BF16, &k, t, src, n);
    if (i < n) pt_q_deq_bf16_generic(t, dst + i, src + i * esize(t), n - i);
}

TGTF float pt_q_dot_avx512(pt_wtype t, const uint8_t *src, const float *x, int64_t n) {
    qsink k = {.x = x, .acc = {_mm512_setzero_ps(), _mm512_setzero_ps()}};
    int64_t i = run(OP_DOT, &k, t, src, n);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(k.acc[0], k.acc[1]));
    if (i < n) s += pt_q_dot_generic(t, src + i * esize(t), x + i, n - i);
    return s;
}

TGTF void pt_q_axpy_avx512(pt_wtype t, float *y, float a, const uint8_t *src, int64_t n) {
    qsink k = {.y = y, .a = _mm512_set1_ps(a)};
    int64_t i = run(OP_AXPY, &k, t, src, n);
    if (i < n) pt_q_axpy_generic(t, y + i, a, src + i * esize(t), n - i);
}
#endif
