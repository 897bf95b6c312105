/* quant_generic.c - the generic-C level of the block kernels: each block is
 * decoded 16 elements at a time into small integers q (int8) with one
 * scale s and one offset m, then consumed by the operation at hand:
 *   dequantize   y = q * s - m          (bit-equal to the reference)
 *   bf16         the same, rounded to bf16 (nearest even)
 *   dot          acc += x . (q * s - m)
 *   axpy         y += a * (q * s - m)
 * The AVX2 and AVX-512 files (quant_simd.h) use the same decomposition with
 * vector registers. Temporaries never exceed 16 values. */
#include "kernels/quant_impl.h"

#include "kernels/gemm.h"

enum { OP_DEQ, OP_BF16, OP_DOT, OP_AXPY };

typedef struct gsink {
    int op;
    float *y;       /* OP_DEQ (n), OP_AXPY (n) */
    uint16_t *yb;   /* OP_BF16 (n) */
    const float *x; /* OP_DOT (n) */
    float a;        /* OP_AXPY */
    float acc;      /* OP_DOT */
} gsink;

/* the 16 values q[0..16) * s - m at element offset off (m is subtracted
 * only when has_m: for the types without an offset x = q * s exactly) */
static void out16(gsink *k, int64_t off, const int8_t *q, float s, float m, int has_m) {
    float v[16]; /* (16) */
    for (int i = 0; i < 16; i++) v[i] = has_m ? (float)q[i] * s - m : (float)q[i] * s;
    switch (k->op) {
    case OP_DEQ:
        for (int i = 0; i < 16; i++) k->y[off + i] = v[i];
        break;
    case OP_BF16:
        for (int i = 0; i < 16; i++) k->yb[off + i] = pt_gemm_f32_to_bf16(v[i]);
        break;
    case OP_DOT: {
        float p = 0.0f;
        for (int i = 0; i < 16; i++) p += k->x[off + i] * v[i];
        k->acc += p;
        break;
    }
    default:
        for (int i = 0; i < 16; i++) k->y[off + i] += k->a * v[i];
        break;
    }
}

static void blk_q4_0(gsink *k, int64_t off, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b));
    int8_t lo[16], hi[16]; /* (16) each */
    for (int j = 0; j < 16; j++)
        lo[j] = (int8_t)((b[2 + j] & 15) - 8), hi[j] = (int8_t)((b[2 + j] >> 4) - 8);
    out16(k, off, lo, d, 0.0f, 0);
    out16(k, off + 16, hi, d, 0.0f, 0);
}

static void blk_q4_1(gsink *k, int64_t off, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b)), m = pt_q_h2f(pt_q_rd16(b + 2));
    int8_t lo[16], hi[16];
    for (int j = 0; j < 16; j++) lo[j] = (int8_t)(b[4 + j] & 15), hi[j] = (int8_t)(b[4 + j] >> 4);
    /* q * d + m == q * d - (-m), bit for bit */
    out16(k, off, lo, d, -m, 1);
    out16(k, off + 16, hi, d, -m, 1);
}

static void blk_q5(gsink *k, int64_t off, const uint8_t *b, int has_m) {
    float d = pt_q_h2f(pt_q_rd16(b)), m = has_m ? pt_q_h2f(pt_q_rd16(b + 2)) : 0.0f;
    const uint8_t *qhp = b + (has_m ? 4 : 2), *qs = qhp + 4;
    uint32_t qh = pt_q_rd32(qhp);
    int bias = has_m ? 0 : 16;
    int8_t lo[16], hi[16];
    for (int j = 0; j < 16; j++) {
        lo[j] = (int8_t)(((qs[j] & 15) | (((qh >> j) & 1) << 4)) - bias);
        hi[j] = (int8_t)(((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - bias);
    }
    out16(k, off, lo, d, -m, has_m);
    out16(k, off + 16, hi, d, -m, has_m);
}

static void blk_q8_0(gsink *k, int64_t off, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b));
    out16(k, off, (const int8_t *)(b + 2), d, 0.0f, 0);
    out16(k, off + 16, (const int8_t *)(b + 18), d, 0.0f, 0);
}

static void blk_q2_k(gsink *k, int64_t off, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b + 80)), dmin = pt_q_h2f(pt_q_rd16(b + 82));
    int8_t q[16];
    for (int g = 0; g < 16; g++) { /* group of 16: half g / 8, shift pair (g % 8) / 2 */
        const uint8_t *qs = b + 16 + 32 * (g / 8) + 16 * (g & 1);
        int sh = 2 * ((g % 8) / 2);
        for (int l = 0; l < 16; l++) q[l] = (int8_t)((qs[l] >> sh) & 3);
        uint8_t sc = b[g];
        out16(k, off + 16 * g, q, d * (float)(sc & 15), dmin * (float)(sc >> 4), 1);
    }
}

static void blk_q3_k(gsink *k, int64_t off, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b + 108));
    int sc[16];
    pt_q_k3_scales(b + 96, sc);
    int8_t q[16];
    for (int g = 0; g < 16; g++) {
        const uint8_t *qs = b + 32 + 32 * (g / 8) + 16 * (g & 1);
        const uint8_t *hm = b + 16 * (g & 1);
        int sh = 2 * ((g % 8) / 2), bit = g / 2;
        for (int l = 0; l < 16; l++)
            q[l] = (int8_t)(((qs[l] >> sh) & 3) - (((hm[l] >> bit) & 1) ? 0 : 4));
        out16(k, off + 16 * g, q, d * (float)sc[g], 0.0f, 0);
    }
}

static void blk_q45_k(gsink *k, int64_t off, const uint8_t *b, int five) {
    float d = pt_q_h2f(pt_q_rd16(b)), dmin = pt_q_h2f(pt_q_rd16(b + 2));
    const uint8_t *qh = b + 16, *qs = b + (five ? 48 : 16);
    int8_t q[16];
    for (int g = 0; g < 16; g++) { /* pair g / 2: chunk g / 4, nibble (g / 2) & 1 */
        int pair = g / 2, hi = pair & 1, sc, m;
        const uint8_t *src = qs + 32 * (g / 4) + 16 * (g & 1);
        const uint8_t *hb = qh + 16 * (g & 1);
        pt_q_k4_scale(b + 4, pair, &sc, &m);
        for (int l = 0; l < 16; l++) {
            int v = hi ? src[l] >> 4 : src[l] & 15;
            if (five) v |= ((hb[l] >> pair) & 1) << 4;
            q[l] = (int8_t)v;
        }
        out16(k, off + 16 * g, q, d * (float)sc, dmin * (float)m, 1);
    }
}

static void blk_q6_k(gsink *k, int64_t off, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b + 208));
    int8_t q[16];
    for (int g = 0; g < 16; g++) { /* half g / 8, quarter (g % 8) / 2 */
        int h = g / 8, kq = (g % 8) / 2, l0 = 16 * (g & 1);
        const uint8_t *ql = b + 64 * h + 32 * (kq & 1) + l0, *qh = b + 128 + 32 * h + l0;
        for (int l = 0; l < 16; l++) {
            int lo = kq < 2 ? ql[l] & 15 : ql[l] >> 4;
            q[l] = (int8_t)((lo | (((qh[l] >> (2 * kq)) & 3) << 4)) - 32);
        }
        float s = d * (float)(int8_t)b[192 + 8 * h + 2 * kq + (g & 1)];
        out16(k, off + 16 * g, q, s, 0.0f, 0);
    }
}

static void run(gsink *k, pt_wtype t, const uint8_t *src, int64_t n) {
    const pt_wtype_info *in = pt_wtype_get(t);
    for (int64_t i = 0, nb = n / in->block; i < nb; i++) {
        const uint8_t *b = src + i * in->bytes;
        int64_t off = i * in->block;
        switch (t) {
        case PT_WT_Q4_0:
            blk_q4_0(k, off, b);
            break;
        case PT_WT_Q4_1:
            blk_q4_1(k, off, b);
            break;
        case PT_WT_Q5_0:
            blk_q5(k, off, b, 0);
            break;
        case PT_WT_Q5_1:
            blk_q5(k, off, b, 1);
            break;
        case PT_WT_Q8_0:
            blk_q8_0(k, off, b);
            break;
        case PT_WT_Q2_K:
            blk_q2_k(k, off, b);
            break;
        case PT_WT_Q3_K:
            blk_q3_k(k, off, b);
            break;
        case PT_WT_Q4_K:
            blk_q45_k(k, off, b, 0);
            break;
        case PT_WT_Q5_K:
            blk_q45_k(k, off, b, 1);
            break;
        case PT_WT_Q6_K:
            blk_q6_k(k, off, b);
            break;
        default:
            return;
        }
    }
}

/* element i of a float-type row */
static float fl(pt_wtype t, const uint8_t *src, int64_t i) {
    if (t == PT_WT_F32) {
        float f;
        memcpy(&f, src + 4 * i, 4);
        return f;
    }
    uint16_t h = pt_q_rd16(src + 2 * i);
    return t == PT_WT_F16 ? pt_q_h2f(h) : pt_gemm_bf16_to_f32(h);
}

static int is_float(pt_wtype t) {
    return t == PT_WT_F32 || t == PT_WT_F16 || t == PT_WT_BF16;
}

void pt_q_deq_generic(pt_wtype t, float *dst, const uint8_t *src, int64_t n) {
    if (is_float(t)) {
        pt_dequant_row_ref(t, dst, src, n);
        return;
    }
    gsink k = {.op = OP_DEQ, .y = dst};
    run(&k, t, src, n);
}

void pt_q_deq_bf16_generic(pt_wtype t, uint16_t *dst, const uint8_t *src, int64_t n) {
    if (t == PT_WT_BF16) {
        if (n) memcpy(dst, src, (size_t)n * 2);
        return;
    }
    if (is_float(t)) {
        for (int64_t i = 0; i < n; i++) dst[i] = pt_gemm_f32_to_bf16(fl(t, src, i));
        return;
    }
    gsink k = {.op = OP_BF16, .yb = dst};
    run(&k, t, src, n);
}

float pt_q_dot_generic(pt_wtype t, const uint8_t *src, const float *x, int64_t n) {
    if (is_float(t)) {
        float acc[4] = {0, 0, 0, 0};
        int64_t i = 0;
        for (; i + 4 <= n; i += 4)
            for (int j = 0; j < 4; j++) acc[j] += x[i + j] * fl(t, src, i + j);
        for (; i < n; i++) acc[0] += x[i] * fl(t, src, i);
        return (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
    gsink k = {.op = OP_DOT, .x = x};
    run(&k, t, src, n);
    return k.acc;
}

void pt_q_axpy_generic(pt_wtype t, float *y, float a, const uint8_t *src, int64_t n) {
    if (is_float(t)) {
        for (int64_t i = 0; i < n; i++) y[i] += a * fl(t, src, i);
        return;
    }
    gsink k = {.op = OP_AXPY, .y = y, .a = a};
    run(&k, t, src, n);
}
