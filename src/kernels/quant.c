/* quant.c - ggml block types: dequantize, quantize, row products.
 *
 * This first version knows the float types and Q8_0 only (plain C); the
 * other block types are added with their numpy-checked kernels.
 */
#include "kernels/quant.h"

#include <math.h>
#include <string.h>

#include "kernels/gemm.h"

static inline uint16_t rd16(const unsigned char *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

/* IEEE half -> float, exact (subnormals, infinities, NaN). */
static inline float h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu, u;
    if (e == 0) {
        if (m == 0) {
            u = sign;
        } else { /* subnormal: normalize */
            int sh = 0;
            while (!(m & 0x400u)) m <<= 1, sh++;
            u = sign | ((uint32_t)(113 - sh) << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) {
        u = sign | 0x7f800000u | (m << 13);
    } else {
        u = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void pt_dequant_row_ref(pt_wtype t, float *dst, const void *src, int64_t n) {
    const unsigned char *p = src;
    switch (t) {
    case PT_WT_F32:
        memcpy(dst, src, (size_t)n * 4);
        return;
    case PT_WT_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = h2f(rd16(p + 2 * i));
        return;
    case PT_WT_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = pt_gemm_bf16_to_f32(rd16(p + 2 * i));
        return;
    case PT_WT_Q8_0:
        for (int64_t b = 0; b < n / 32; b++) {
            const unsigned char *blk = p + b * 34;
            float d = h2f(rd16(blk));
            for (int j = 0; j < 32; j++) dst[b * 32 + j] = d * (float)(int8_t)blk[2 + j];
        }
        return;
    default:
        for (int64_t i = 0; i < n; i++) dst[i] = NAN; /* not yet implemented */
        return;
    }
}

void pt_dequant_row(pt_wtype t, float *dst, const void *src, int64_t n) {
    pt_dequant_row_ref(t, dst, src, n);
}

void pt_quant_row(pt_wtype t, void *dst, const float *src, int64_t n) {
    unsigned char *p = dst;
    switch (t) {
    case PT_WT_F32:
        memcpy(dst, src, (size_t)n * 4);
        return;
    case PT_WT_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = pt_gemm_f32_to_bf16(src[i]);
            memcpy(p + 2 * i, &h, 2);
        }
        return;
    default:
        memset(dst, 0, pt_wtype_row_bytes(t, n)); /* not yet implemented */
        return;
    }
}

float pt_qdot_row(pt_wtype t, const void *src, const float *x, int64_t n) {
    float buf[256], s = 0.0f;
    int step = pt_wtype_get(t)->block > 32 ? 256 : 32;
    for (int64_t i = 0; i < n; i += step) {
        int k = n - i < step ? (int)(n - i) : step; /* float types: any n */
        pt_dequant_row(t, buf, (const unsigned char *)src + pt_wtype_row_bytes(t, i), k);
        for (int j = 0; j < k; j++) s += buf[j] * x[i + j];
    }
    return s;
}

void pt_qaxpy_row(pt_wtype t, float *y, float a, const void *src, int64_t n) {
    float buf[256];
    int step = pt_wtype_get(t)->block > 32 ? 256 : 32;
    for (int64_t i = 0; i < n; i += step) {
        int k = n - i < step ? (int)(n - i) : step;
        pt_dequant_row(t, buf, (const unsigned char *)src + pt_wtype_row_bytes(t, i), k);
        for (int j = 0; j < k; j++) y[i + j] += a * buf[j];
    }
}
