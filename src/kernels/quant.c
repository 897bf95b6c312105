/* quant.c - ggml block types: the public entry points of quant.h and the
 * choice of SIMD level.
 *
 * Kernels live in quant_ref.c (reference), quant_generic.c, quant_avx2.c and
 * quant_avx512.c (the levels, sharing quant_simd.h), quant_encode.c and
 * quant_encode_k.c (quantizers).
 */
#include "kernels/quant_impl.h"

#include <stdlib.h>

#include "kernels/gemm.h"

#ifdef PT_QX86
#include <cpuid.h>

/* clang 14 has no "f16c" for __builtin_cpu_supports: CPUID leaf 1, ECX bit 29 */
static int has_f16c(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c >> 29) & 1u;
}
#endif

static int detect_level(void) {
    int want = pt_gemm_simd_level(), level = PT_SIMD_GENERIC;
#ifdef PT_QX86
    __builtin_cpu_init();
    int f16c = has_f16c();
    if (want >= PT_SIMD_AVX2 && f16c && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        level = PT_SIMD_AVX2;
    if (want >= PT_SIMD_AVX512 && level == PT_SIMD_AVX2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        level = PT_SIMD_AVX512;
#endif
    (void)want;
    return level;
}

int pt_quant_simd_level(void) {
    /* computed once; a race only repeats the work */
    static int level = -1;
    if (level < 0) level = detect_level();
    return level;
}

static int clamp_level(int level) {
    int max = pt_quant_simd_level();
    return level < PT_SIMD_GENERIC ? PT_SIMD_GENERIC : level > max ? max : level;
}

void pt_dequant_row_level(int level, pt_wtype t, float *dst, const void *src, int64_t n) {
    switch (clamp_level(level)) {
#ifdef PT_QX86
    case PT_SIMD_AVX512:
        pt_q_deq_avx512(t, dst, src, n);
        return;
    case PT_SIMD_AVX2:
        pt_q_deq_avx2(t, dst, src, n);
        return;
#endif
    default:
        pt_q_deq_generic(t, dst, src, n);
        return;
    }
}

void pt_dequant_row_bf16_level(int level, pt_wtype t, uint16_t *dst, const void *src, int64_t n) {
    switch (clamp_level(level)) {
#ifdef PT_QX86
    case PT_SIMD_AVX512:
        pt_q_deq_bf16_avx512(t, dst, src, n);
        return;
    case PT_SIMD_AVX2:
        pt_q_deq_bf16_avx2(t, dst, src, n);
        return;
#endif
    default:
        pt_q_deq_bf16_generic(t, dst, src, n);
        return;
    }
}

float pt_qdot_row_level(int level, pt_wtype t, const void *src, const float *x, int64_t n) {
    switch (clamp_level(level)) {
#ifdef PT_QX86
    case PT_SIMD_AVX512:
        return pt_q_dot_avx512(t, src, x, n);
    case PT_SIMD_AVX2:
        return pt_q_dot_avx2(t, src, x, n);
#endif
    default:
        return pt_q_dot_generic(t, src, x, n);
    }
}

void pt_qaxpy_row_level(int level, pt_wtype t, float *y, float a, const void *src, int64_t n) {
    switch (clamp_level(level)) {
#ifdef PT_QX86
    case PT_SIMD_AVX512:
        pt_q_axpy_avx512(t, y, a, src, n);
        return;
    case PT_SIMD_AVX2:
        pt_q_axpy_avx2(t, y, a, src, n);
        return;
#endif
    default:
        pt_q_axpy_generic(t, y, a, src, n);
        return;
    }
}

void pt_dequant_row(pt_wtype t, float *dst, const void *src, int64_t n) {
    pt_dequant_row_level(pt_quant_simd_level(), t, dst, src, n);
}

void pt_dequant_row_bf16(pt_wtype t, uint16_t *dst, const void *src, int64_t n) {
    pt_dequant_row_bf16_level(pt_quant_simd_level(), t, dst, src, n);
}

float pt_qdot_row(pt_wtype t, const void *src, const float *x, int64_t n) {
    return pt_qdot_row_level(pt_quant_simd_level(), t, src, x, n);
}

void pt_qaxpy_row(pt_wtype t, float *y, float a, const void *src, int64_t n) {
    pt_qaxpy_row_level(pt_quant_simd_level(), t, y, a, src, n);
}

void pt_quant_row(pt_wtype t, void *dst, const float *src, int64_t n) {
    uint8_t *p = dst;
    switch (t) {
    case PT_WT_F32:
        if (n) memcpy(dst, src, (size_t)n * 4);
        return;
    case PT_WT_F16:
        for (int64_t i = 0; i < n; i++) pt_q_wr16(p + 2 * i, pt_q_f2h(src[i]));
        return;
    case PT_WT_BF16:
        for (int64_t i = 0; i < n; i++) pt_q_wr16(p + 2 * i, pt_gemm_f32_to_bf16(src[i]));
        return;
    default:
        break;
    }
    void (*enc)(uint8_t *, const float *) = NULL;
    switch (t) {
    case PT_WT_Q4_0:
        enc = pt_q_enc_q4_0;
        break;
    case PT_WT_Q4_1:
        enc = pt_q_enc_q4_1;
        break;
    case PT_WT_Q5_0:
        enc = pt_q_enc_q5_0;
        break;
    case PT_WT_Q5_1:
        enc = pt_q_enc_q5_1;
        break;
    case PT_WT_Q8_0:
        enc = pt_q_enc_q8_0;
        break;
    case PT_WT_Q2_K:
        enc = pt_q_enc_q2_k;
        break;
    case PT_WT_Q3_K:
        enc = pt_q_enc_q3_k;
        break;
    case PT_WT_Q4_K:
        enc = pt_q_enc_q4_k;
        break;
    case PT_WT_Q5_K:
        enc = pt_q_enc_q5_k;
        break;
    case PT_WT_Q6_K:
        enc = pt_q_enc_q6_k;
        break;
    default:
        return;
    }
    const pt_wtype_info *in = pt_wtype_get(t);
    for (int64_t k = 0; k < n / in->block; k++) enc(p + k * in->bytes, src + k * in->block);
}
