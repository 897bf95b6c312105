/* quant_impl.h - internals shared by the quant*.c files: byte and half
 * conversions, ggml's rounding rule, and the per-SIMD-level entry points the
 * dispatch in quant.c chooses between.
 *
 * Every quant*.c file compiles with floating-point contraction off (see the
 * pragma below, placed before any code): the dequantization formulas round
 * each product and sum separately, exactly as written, so that every SIMD
 * level and the numpy oracle agree bit for bit. Kernels that want fused
 * multiply-adds (the row products) ask for them explicitly.
 */
#ifndef PT_KERNELS_QUANT_IMPL_H
#define PT_KERNELS_QUANT_IMPL_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma clang fp contract(off)
#endif

#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define PT_QX86 1
#endif

#define QK_K 256

static inline uint16_t pt_q_rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline void pt_q_wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline uint32_t pt_q_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* IEEE half -> float, exact (subnormals, infinities; NaN payloads kept). */
static inline float pt_q_h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0) {
        if (m == 0) {
            u = sign;
        } else { /* subnormal m * 2^-24: normalize */
            uint32_t sh = 0;
            while (!(m & 0x400u)) m <<= 1, sh++;
            u = sign | ((113u - sh) << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) {
        u = sign | 0x7f800000u | (m << 13);
    } else {
        u = sign | ((e + 112u) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* float -> IEEE half, round to nearest even; overflow gives infinity,
 * NaN gives the quiet NaN 0x7e00 with the sign (ggml's convention). */
static inline uint16_t pt_q_f2h(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;
    if (a >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520: rounds to infinity */
    if (a >= 0x38800000u) {                      /* normal half: round at bit 13 */
        uint32_t r = a + 0x0fffu + ((a >> 13) & 1u);
        return sign | (uint16_t)((r >> 13) - (112u << 10));
    }
    uint32_t e = a >> 23;
    if (e < 102) return sign; /* below 2^-25 (or exactly it: a tie to 0) */
    uint32_t mant = (a & 0x7fffffu) | 0x800000u, sh = 126 - e; /* sh in 14..24 */
    uint32_t q = mant >> sh, rem = mant & ((1u << sh) - 1), half = 1u << (sh - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return sign | (uint16_t)q;
}

/* ggml's nearest_int: add 1.5 * 2^23 and read the low mantissa bits. Round to
 * nearest even for |f| < 2^22; defined (if meaningless) for every float. */
static inline int pt_q_nearest(float f) {
    float v = f + 12582912.f;
    uint32_t i;
    memcpy(&i, &v, 4);
    return (int)(i & 0x007fffffu) - 0x00400000;
}

/* Truncation toward zero (C's float -> int cast) clamped to [lo, hi]; NaN
 * gives lo. Equal to the cast wherever the cast is defined and in range. */
static inline int pt_q_trunc(float f, int lo, int hi) {
    if (!(f >= (float)lo)) return lo;
    if (f >= (float)hi) return hi;
    return (int)f;
}

/* The (scale, min) pair j (0..7) of a Q4_K / Q5_K block's 12 scale bytes. */
static inline void pt_q_k4_scale(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* The 16 signed 6-bit scales of a Q3_K block (value - 32, in -32..31). */
static inline void pt_q_k3_scales(const uint8_t *s, int sc[16]) {
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? s[j] & 0x0f : s[j - 8] >> 4;
        int hi = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        sc[j] = (lo | (hi << 4)) - 32;
    }
}

/* ---- per-level kernels (quant_generic.c, quant_avx2.c, quant_avx512.c) ----
 * All take whole rows of any pt_wtype (float types: any n). */
void pt_q_deq_generic(pt_wtype t, float *dst, const uint8_t *src, int64_t n);
void pt_q_deq_bf16_generic(pt_wtype t, uint16_t *dst, const uint8_t *src, int64_t n);
float pt_q_dot_generic(pt_wtype t, const uint8_t *src, const float *x, int64_t n);
void pt_q_axpy_generic(pt_wtype t, float *y, float a, const uint8_t *src, int64_t n);
#ifdef PT_QX86
void pt_q_deq_avx2(pt_wtype t, float *dst, const uint8_t *src, int64_t n);
void pt_q_deq_bf16_avx2(pt_wtype t, uint16_t *dst, const uint8_t *src, int64_t n);
float pt_q_dot_avx2(pt_wtype t, const uint8_t *src, const float *x, int64_t n);
void pt_q_axpy_avx2(pt_wtype t, float *y, float a, const uint8_t *src, int64_t n);
void pt_q_deq_avx512(pt_wtype t, float *dst, const uint8_t *src, int64_t n);
void pt_q_deq_bf16_avx512(pt_wtype t, uint16_t *dst, const uint8_t *src, int64_t n);
float pt_q_dot_avx512(pt_wtype t, const uint8_t *src, const float *x, int64_t n);
void pt_q_axpy_avx512(pt_wtype t, float *y, float a, const uint8_t *src, int64_t n);
#endif

/* Quantizers of one block each (quant_encode.c, quant_encode_k.c):
 * dst (bytes of the type) = x (block elements). */
void pt_q_enc_q4_0(uint8_t *dst, const float *x);
void pt_q_enc_q4_1(uint8_t *dst, const float *x);
void pt_q_enc_q5_0(uint8_t *dst, const float *x);
void pt_q_enc_q5_1(uint8_t *dst, const float *x);
void pt_q_enc_q8_0(uint8_t *dst, const float *x);
void pt_q_enc_q2_k(uint8_t *dst, const float *x);
void pt_q_enc_q3_k(uint8_t *dst, const float *x);
void pt_q_enc_q4_k(uint8_t *dst, const float *x);
void pt_q_enc_q5_k(uint8_t *dst, const float *x);
void pt_q_enc_q6_k(uint8_t *dst, const float *x);

#endif
