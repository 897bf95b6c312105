/* quant_ref.c - the plain-C reference dequantization (pt_dequant_row_ref):
 * each block type written element by element, as its layout reads, with the
 * byte offsets of ggml's block structs. The faster kernels of every SIMD
 * level must equal it bit for bit (tests/test_quant.c). */
#include "kernels/quant_impl.h"

#include "kernels/gemm.h"

/* Q4_0 (18 bytes): f16 d; qs[16]: element j low nibble, j + 16 high nibble.
 * x = (q - 8) * d */
static void ref_q4_0(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b));
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((b[2 + j] & 0x0f) - 8) * d;
        y[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
    }
}

/* Q4_1 (20): f16 d, f16 m; qs[16]. x = q * d + m */
static void ref_q4_1(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b)), m = pt_q_h2f(pt_q_rd16(b + 2));
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(b[4 + j] & 0x0f) * d + m;
        y[j + 16] = (float)(b[4 + j] >> 4) * d + m;
    }
}

/* Q5_0 (22): f16 d; u32 qh (bit j: 5th bit of element j); qs[16].
 * x = (q - 16) * d */
static void ref_q5_0(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b));
    uint32_t qh = pt_q_rd32(b + 2);
    for (int j = 0; j < 16; j++) {
        int q0 = (b[6 + j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
        int q1 = (b[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
        y[j] = (float)(q0 - 16) * d;
        y[j + 16] = (float)(q1 - 16) * d;
    }
}

/* Q5_1 (24): f16 d, f16 m; u32 qh; qs[16]. x = q * d + m */
static void ref_q5_1(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b)), m = pt_q_h2f(pt_q_rd16(b + 2));
    uint32_t qh = pt_q_rd32(b + 4);
    for (int j = 0; j < 16; j++) {
        int q0 = (b[8 + j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
        int q1 = (b[8 + j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
        y[j] = (float)q0 * d + m;
        y[j + 16] = (float)q1 * d + m;
    }
}

/* Q8_0 (34): f16 d; int8 qs[32]. x = q * d */
static void ref_q8_0(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b));
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

/* Q2_K (84): scales[16] (low nibble scale, high nibble min), qs[64], f16 d,
 * f16 dmin. Element i: half h = i / 128, shift 2 * ((i % 128) / 32), byte
 * qs[32 h + i % 32], sub-block i / 16. x = (d * sc) * q - dmin * m */
static void ref_q2_k(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b + 80)), dmin = pt_q_h2f(pt_q_rd16(b + 82));
    for (int i = 0; i < QK_K; i++) {
        int h = i / 128, r = i % 128, sh = 2 * (r / 32);
        int q = (b[16 + 32 * h + r % 32] >> sh) & 3;
        uint8_t sc = b[i / 16];
        float dl = d * (float)(sc & 0x0f), ml = dmin * (float)(sc >> 4);
        y[i] = dl * (float)q - ml;
    }
}

/* Q3_K (110): hmask[32], qs[64], scales[12] (16 6-bit signed), f16 d.
 * Element i: low 2 bits as Q2_K; high bit: hmask[i % 32] bit i / 32; the
 * value is q - 4 when that bit is clear. x = (d * sc) * q */
static void ref_q3_k(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b + 108));
    int sc[16];
    pt_q_k3_scales(b + 96, sc);
    for (int i = 0; i < QK_K; i++) {
        int h = i / 128, r = i % 128, sh = 2 * (r / 32);
        int q = (b[32 + 32 * h + r % 32] >> sh) & 3;
        if (!((b[i % 32] >> (i / 32)) & 1)) q -= 4;
        float dl = d * (float)sc[i / 16];
        y[i] = dl * (float)q;
    }
}

/* Q4_K (144): f16 d, f16 dmin, scales[12] (8 6-bit pairs), qs[128].
 * Element i: chunk c = i / 64, byte qs[32 c + i % 32], low nibble for the
 * first 32 of the chunk, high for the next; pair i / 32.
 * x = (d * sc) * q - dmin * m */
static void ref_q4_k(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b)), dmin = pt_q_h2f(pt_q_rd16(b + 2));
    for (int i = 0; i < QK_K; i++) {
        int c = i / 64, hi = (i % 64) >= 32, sc, m;
        uint8_t byte = b[16 + 32 * c + i % 32];
        int q = hi ? byte >> 4 : byte & 0x0f;
        pt_q_k4_scale(b + 4, i / 32, &sc, &m);
        float dl = d * (float)sc, ml = dmin * (float)m;
        y[i] = dl * (float)q - ml;
    }
}

/* Q5_K (176): f16 d, f16 dmin, scales[12], qh[32], qs[128]. As Q4_K plus a
 * 5th bit: qh[i % 32] bit i / 32. */
static void ref_q5_k(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b)), dmin = pt_q_h2f(pt_q_rd16(b + 2));
    for (int i = 0; i < QK_K; i++) {
        int c = i / 64, hi = (i % 64) >= 32, sc, m;
        uint8_t byte = b[48 + 32 * c + i % 32];
        int q = hi ? byte >> 4 : byte & 0x0f;
        q += ((b[16 + i % 32] >> (i / 32)) & 1) << 4;
        pt_q_k4_scale(b + 4, i / 32, &sc, &m);
        float dl = d * (float)sc, ml = dmin * (float)m;
        y[i] = dl * (float)q - ml;
    }
}

/* Q6_K (210): ql[128], qh[64], int8 scales[16], f16 d. Element i: half
 * h = i / 128, r = i % 128, quarter k = r / 32, l = r % 32: low 4 bits from
 * ql[64 h + l + 32 (k & 1)] (low nibble for k < 2, high for k >= 2), high 2
 * bits qh[32 h + l] >> 2k; scale scales[8 h + 2 k + l / 16].
 * x = (d * sc) * (q - 32) */
static void ref_q6_k(float *y, const uint8_t *b) {
    float d = pt_q_h2f(pt_q_rd16(b + 208));
    for (int i = 0; i < QK_K; i++) {
        int h = i / 128, r = i % 128, k = r / 32, l = r % 32;
        uint8_t lb = b[64 * h + l + 32 * (k & 1)];
        int lo = k < 2 ? lb & 0x0f : lb >> 4;
        int hi2 = (b[128 + 32 * h + l] >> (2 * k)) & 3;
        int sc = (int8_t)b[192 + 8 * h + 2 * k + l / 16];
        y[i] = d * (float)sc * (float)((lo | (hi2 << 4)) - 32);
    }
}

void pt_dequant_row_ref(pt_wtype t, float *dst, const void *src, int64_t n) {
    const uint8_t *p = src;
    switch (t) {
    case PT_WT_F32:
        if (n) memcpy(dst, src, (size_t)n * 4);
        return;
    case PT_WT_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = pt_q_h2f(pt_q_rd16(p + 2 * i));
        return;
    case PT_WT_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = pt_gemm_bf16_to_f32(pt_q_rd16(p + 2 * i));
        return;
    default:
        break;
    }
    void (*blk)(float *, const uint8_t *) = NULL;
    switch (t) {
    case PT_WT_Q4_0:
        blk = ref_q4_0;
        break;
    case PT_WT_Q4_1:
        blk = ref_q4_1;
        break;
    case PT_WT_Q5_0:
        blk = ref_q5_0;
        break;
    case PT_WT_Q5_1:
        blk = ref_q5_1;
        break;
    case PT_WT_Q8_0:
        blk = ref_q8_0;
        break;
    case PT_WT_Q2_K:
        blk = ref_q2_k;
        break;
    case PT_WT_Q3_K:
        blk = ref_q3_k;
        break;
    case PT_WT_Q4_K:
        blk = ref_q4_k;
        break;
    case PT_WT_Q5_K:
        blk = ref_q5_k;
        break;
    case PT_WT_Q6_K:
        blk = ref_q6_k;
        break;
    default:
        return;
    }
    const pt_wtype_info *in = pt_wtype_get(t);
    for (int64_t k = 0; k < n / in->block; k++) blk(dst + k * in->block, p + k * in->bytes);
}
