/* quant_simd.h - the block kernels of the x86 SIMD levels, written once.
 *
 * Included by quant_avx2.c and quant_avx512.c, which define before it:
 *   TGT          the target attribute of their functions (always inlined)
 *   VEC          their float vector type
 *   qsink        the operation's state (outputs, inputs, accumulators)
 *   out16(op, k, off, q, s, m, has_m, par)
 *                consume 16 elements q (16 int8 in an xmm) * s - m at
 *                element offset off; par (0/1) picks a dot accumulator
 *   emit_float16(op, k, off, t, p)
 *                consume 16 elements of a float-type row at p
 *   SFX(name)    the level's function names
 * Each block is decoded 16 elements at a time with 128-bit byte operations
 * (SSE2/SSSE3) into small integers, in the order and with the scalar scale
 * arithmetic of the reference (quant_ref.c), so the results are identical. */

enum { OP_DEQ, OP_BF16, OP_DOT, OP_AXPY };

#define H2F(p) _cvtsh_ss(pt_q_rd16(p))

TGT __m128i lo4(__m128i v) {
    return _mm_and_si128(v, _mm_set1_epi8(15));
}
TGT __m128i hi4(__m128i v) {
    return _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(15));
}
/* 0x10 in byte j where bit j of the 16-bit w is set */
TGT __m128i bits16(uint32_t w) {
    const __m128i idx = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m128i sel = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    __m128i v = _mm_shuffle_epi8(_mm_cvtsi32_si128((int)(w & 0xffff)), idx);
    v = _mm_cmpeq_epi8(_mm_and_si128(v, sel), sel);
    return _mm_and_si128(v, _mm_set1_epi8(0x10));
}
/* 0xff in the bytes of v where (byte & mask) == 0 */
TGT __m128i clear(__m128i v, int mask) {
    return _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8((char)mask)), _mm_setzero_si128());
}
#define LD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))

TGT void blk_q4_0(const int op, qsink *k, int64_t off, const uint8_t *b) {
    float d = H2F(b);
    __m128i v = LD(b + 2), c8 = _mm_set1_epi8(8);
    out16(op, k, off, _mm_sub_epi8(lo4(v), c8), d, 0.0f, 0, 0);
    out16(op, k, off + 16, _mm_sub_epi8(hi4(v), c8), d, 0.0f, 0, 1);
}

TGT void blk_q4_1(const int op, qsink *k, int64_t off, const uint8_t *b) {
    float d = H2F(b), m = -H2F(b + 2);
    __m128i v = LD(b + 4);
    out16(op, k, off, lo4(v), d, m, 1, 0);
    out16(op, k, off + 16, hi4(v), d, m, 1, 1);
}

TGT void blk_q5(const int op, qsink *k, int64_t off, const uint8_t *b, const int has_m) {
    float d = H2F(b), m = has_m ? -H2F(b + 2) : 0.0f;
    const uint8_t *qhp = b + (has_m ? 4 : 2);
    uint32_t qh = pt_q_rd32(qhp);
    __m128i v = LD(qhp + 4);
    __m128i lo = _mm_or_si128(lo4(v), bits16(qh)), hi = _mm_or_si128(hi4(v), bits16(qh >> 16));
    if (!has_m) {
        lo = _mm_sub_epi8(lo, _mm_set1_epi8(16));
        hi = _mm_sub_epi8(hi, _mm_set1_epi8(16));
    }
    out16(op, k, off, lo, d, m, has_m, 0);
    out16(op, k, off + 16, hi, d, m, has_m, 1);
}

TGT void blk_q8_0(const int op, qsink *k, int64_t off, const uint8_t *b) {
    float d = H2F(b);
    out16(op, k, off, LD(b + 2), d, 0.0f, 0, 0);
    out16(op, k, off + 16, LD(b + 18), d, 0.0f, 0, 1);
}

TGT void blk_q2_k(const int op, qsink *k, int64_t off, const uint8_t *b) {
    float d = H2F(b + 80), dmin = H2F(b + 82);
    const __m128i c3 = _mm_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        __m128i q0 = LD(b + 16 + 32 * h), q1 = LD(b + 32 + 32 * h);
        for (int j = 0; j < 4; j++) {
            const uint8_t *sc = b + 8 * h + 2 * j;
            int64_t o = off + 128 * h + 32 * j;
            out16(op, k, o, _mm_and_si128(_mm_srl_epi16(q0, _mm_cvtsi32_si128(2 * j)), c3),
                  d * (float)(sc[0] & 15), dmin * (float)(sc[0] >> 4), 1, 0);
            out16(op, k, o + 16, _mm_and_si128(_mm_srl_epi16(q1, _mm_cvtsi32_si128(2 * j)), c3),
                  d * (float)(sc[1] & 15), dmin * (float)(sc[1] >> 4), 1, 1);
        }
    }
}

TGT void blk_q3_k(const int op, qsink *k, int64_t off, const uint8_t *b) {
    float d = H2F(b + 108);
    int sc[16];
    pt_q_k3_scales(b + 96, sc);
    const __m128i c3 = _mm_set1_epi8(3), c4 = _mm_set1_epi8(4);
    __m128i hm0 = LD(b), hm1 = LD(b + 16);
    for (int h = 0; h < 2; h++) {
        __m128i q0 = LD(b + 32 + 32 * h), q1 = LD(b + 48 + 32 * h);
        for (int j = 0; j < 4; j++) {
            int bit = 1 << (4 * h + j);
            __m128i sh = _mm_cvtsi32_si128(2 * j);
            __m128i a = _mm_and_si128(_mm_srl_epi16(q0, sh), c3);
            __m128i c = _mm_and_si128(_mm_srl_epi16(q1, sh), c3);
            a = _mm_sub_epi8(a, _mm_and_si128(clear(hm0, bit), c4));
            c = _mm_sub_epi8(c, _mm_and_si128(clear(hm1, bit), c4));
            int64_t o = off + 128 * h + 32 * j;
            out16(op, k, o, a, d * (float)sc[8 * h + 2 * j], 0.0f, 0, 0);
            out16(op, k, o + 16, c, d * (float)sc[8 * h + 2 * j + 1], 0.0f, 0, 1);
        }
    }
}

TGT void blk_q45_k(const int op, qsink *k, int64_t off, const uint8_t *b, const int five) {
    float d = H2F(b), dmin = H2F(b + 2);
    const uint8_t *qs = b + (five ? 48 : 16);
    __m128i qh0 = LD(b + 16), qh1 = LD(b + 32), c16 = _mm_set1_epi8(16);
    for (int c = 0; c < 4; c++) {
        int s1, m1, s2, m2;
        pt_q_k4_scale(b + 4, 2 * c, &s1, &m1);
        pt_q_k4_scale(b + 4, 2 * c + 1, &s2, &m2);
        float d1 = d * (float)s1, n1 = dmin * (float)m1, d2 = d * (float)s2, n2 = dmin * (float)m2;
        __m128i v0 = LD(qs + 32 * c), v1 = LD(qs + 32 * c + 16);
        __m128i a0 = lo4(v0), a1 = lo4(v1), b0 = hi4(v0), b1 = hi4(v1);
        if (five) {
            int u1 = 1 << (2 * c), u2 = 2 << (2 * c);
            a0 = _mm_add_epi8(a0, _mm_andnot_si128(clear(qh0, u1), c16));
            a1 = _mm_add_epi8(a1, _mm_andnot_si128(clear(qh1, u1), c16));
            b0 = _mm_add_epi8(b0, _mm_andnot_si128(clear(qh0, u2), c16));
            b1 = _mm_add_epi8(b1, _mm_andnot_si128(clear(qh1, u2), c16));
        }
        int64_t o = off + 64 * c;
        out16(op, k, o, a0, d1, n1, 1, 0);
        out16(op, k, o + 16, a1, d1, n1, 1, 1);
        out16(op, k, o + 32, b0, d2, n2, 1, 0);
        out16(op, k, o + 48, b1, d2, n2, 1, 1);
    }
}

TGT void blk_q6_k(const int op, qsink *k, int64_t off, const uint8_t *b) {
    float d = H2F(b + 208);
    const __m128i c3 = _mm_set1_epi8(3), c32 = _mm_set1_epi8(32);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        const int8_t *sc = (const int8_t *)(b + 192 + 8 * h);
        for (int l = 0; l < 2; l++) {
            __m128i x0 = LD(ql + 16 * l), x1 = LD(ql + 32 + 16 * l), hb = LD(qh + 16 * l);
            __m128i h0 = _mm_slli_epi16(_mm_and_si128(hb, c3), 4);
            __m128i h1 = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 2), c3), 4);
            __m128i h2 = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 4), c3), 4);
            __m128i h3 = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 6), c3), 4);
            int64_t o = off + 128 * h + 16 * l;
            out16(op, k, o, _mm_sub_epi8(_mm_or_si128(lo4(x0), h0), c32), d * (float)sc[l], 0.0f, 0,
                  l);
            out16(op, k, o + 32, _mm_sub_epi8(_mm_or_si128(lo4(x1), h1), c32), d * (float)sc[2 + l],
                  0.0f, 0, l);
            out16(op, k, o + 64, _mm_sub_epi8(_mm_or_si128(hi4(x0), h2), c32), d * (float)sc[4 + l],
                  0.0f, 0, l);
            out16(op, k, o + 96, _mm_sub_epi8(_mm_or_si128(hi4(x1), h3), c32), d * (float)sc[6 + l],
                  0.0f, 0, l);
        }
    }
}

#define ROW(call, bytes, block)                                                                    \
    for (int64_t i = 0; i < nb; i++) call(op, k, i *(block), src + i * (bytes))
#define ROWX(call, bytes, block, x)                                                                \
    for (int64_t i = 0; i < nb; i++) call(op, k, i *(block), src + i * (bytes), x)

/* Run op over a row; returns the number of elements done (float-type rows:
 * a multiple of 16, the caller finishes the tail). */
TGT int64_t run(const int op, qsink *k, pt_wtype t, const uint8_t *src, int64_t n) {
    int64_t nb = n / pt_wtype_get(t)->block;
    switch (t) {
    case PT_WT_F32:
    case PT_WT_F16:
    case PT_WT_BF16: {
        int es = t == PT_WT_F32 ? 4 : 2;
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) emit_float16(op, k, i, t, src + i * es);
        return i;
    }
    case PT_WT_Q4_0:
        ROW(blk_q4_0, 18, 32);
        break;
    case PT_WT_Q4_1:
        ROW(blk_q4_1, 20, 32);
        break;
    case PT_WT_Q5_0:
        ROWX(blk_q5, 22, 32, 0);
        break;
    case PT_WT_Q5_1:
        ROWX(blk_q5, 24, 32, 1);
        break;
    case PT_WT_Q8_0:
        ROW(blk_q8_0, 34, 32);
        break;
    case PT_WT_Q2_K:
        ROW(blk_q2_k, 84, 256);
        break;
    case PT_WT_Q3_K:
        ROW(blk_q3_k, 110, 256);
        break;
    case PT_WT_Q4_K:
        ROWX(blk_q45_k, 144, 256, 0);
        break;
    case PT_WT_Q5_K:
        ROWX(blk_q45_k, 176, 256, 1);
        break;
    case PT_WT_Q6_K:
        ROW(blk_q6_k, 210, 256);
        break;
    default:
        break;
    }
    return n;
}
#undef ROW
#undef ROWX
