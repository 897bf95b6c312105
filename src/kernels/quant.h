/* quant.h - ggml's block-quantized weight types, as stored in GGUF files:
 * dequantize, quantize, and the row products the model layer needs.
 *
 * A row of n elements of type t is n / block blocks (pt_wtype_get(t)->block
 * elements, ->bytes bytes each), the layouts of ggml's block_q4_0 ... block_q6_K
 * (little-endian, f16 scales). Every function here is pure: no allocation,
 * no I/O, no global state; n must be a multiple of the type's block size.
 * Float types (F32, F16, BF16) are accepted too, so callers need no switch.
 */
#ifndef PT_KERNELS_QUANT_H
#define PT_KERNELS_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/weight.h"

/* dst (n) = the n elements at src, as float32 (fastest kernel the CPU has).
 * Every level gives the same bits as the reference (NaN payloads aside). */
void pt_dequant_row(pt_wtype t, float *dst, const void *src, int64_t n);
/* The plain-C reference of the same (tests compare the two). */
void pt_dequant_row_ref(pt_wtype t, float *dst, const void *src, int64_t n);
/* dst (n) = the same values rounded to bf16 (nearest even, as
 * pt_gemm_f32_to_bf16): for bf16 GEMM panels. */
void pt_dequant_row_bf16(pt_wtype t, uint16_t *dst, const void *src, int64_t n);
/* dst = src (n) quantized to type t by the reference rules (below). Inputs
 * must be finite (NaN or infinity gives valid but meaningless blocks). */
void pt_quant_row(pt_wtype t, void *dst, const float *src, int64_t n);
/* x (n) . row (n elements of type t at src): each block dequantized in
 * registers (the values of pt_dequant_row), float32 multiply-adds. */
float pt_qdot_row(pt_wtype t, const void *src, const float *x, int64_t n);
/* y (n) += a * row (n elements of type t at src), the same way. */
void pt_qaxpy_row(pt_wtype t, float *y, float a, const void *src, int64_t n);

/* The matmul seam's products for weights of any type but F32 and BF16
 * (matmul_quant.c), straight from the stored blocks, OpenMP threads:
 *   out (N, W->rows) = inp (N, W->cols) . W^T + bias (W->rows, or NULL)
 *   dinp (N, W->cols) += dout (N, W->rows) . W
 * Each uses one float32 buffer of 256 KiB per thread for the tile of W it
 * decodes (N > 2); outputs are NaN if that allocation fails. */
void pt_qmm_forward(float *out, const float *inp, const pt_weight *W, const float *bias, int N);
void pt_qmm_backward_input(float *dinp, const float *dout, const pt_weight *W, int N);

/* The SIMD level these kernels use: PT_SIMD_GENERIC, _AVX2 (needs AVX2, FMA
 * and F16C) or _AVX512 (AVX512F/BW/VL/DQ); never above pt_gemm_simd_level(),
 * so PTUNE_SIMD=generic|avx2|avx512 lowers it too. */
int pt_quant_simd_level(void);
/* The same kernels at an explicit level (clamped to pt_quant_simd_level()):
 * tests and benchmarks. */
void pt_dequant_row_level(int level, pt_wtype t, float *dst, const void *src, int64_t n);
void pt_dequant_row_bf16_level(int level, pt_wtype t, uint16_t *dst, const void *src, int64_t n);
float pt_qdot_row_level(int level, pt_wtype t, const void *src, const float *x, int64_t n);
void pt_qaxpy_row_level(int level, pt_wtype t, float *y, float a, const void *src, int64_t n);

/* The arithmetic of every value, x = element, q = its stored integer:
 *   Q4_0  x = (q - 8) * d            Q4_1  x = q * d + m
 *   Q5_0  x = (q - 16) * d           Q5_1  x = q * d + m
 *   Q8_0  x = q * d
 *   Q2_K  x = (d * sc) * q - dmin * mn     (sc, mn: 4-bit, per 16)
 *   Q3_K  x = (d * sc) * q                 (sc: 6-bit signed, q in -4..3)
 *   Q4_K  x = (d * sc) * q - dmin * mn     (sc, mn: 6-bit, per 32)
 *   Q5_K  the same with 5-bit q
 *   Q6_K  x = (d * sc) * (q - 32)          (sc: int8, per 16)
 * each product and difference rounded to float32 separately (no fused
 * multiply-add), d, m, dmin the block's f16 values widened exactly.
 *
 * Quantizers (pt_quant_row), ggml's reference rules without an importance
 * matrix, so the bytes equal llama.cpp's `quantize_row_*_ref`:
 *   Q4_0, Q5_0  d = M / -8 (-16) with M the first element of largest
 *               magnitude; q = min(15 (31), trunc(x / d + 8.5 (16.5)))
 *   Q4_1, Q5_1  d = (max - min) / 15 (31), m = min;
 *               q = trunc((x - min) / d + 0.5) (at most 15 / 31)
 *   Q8_0        d = max|x| / 127, q = round(x / d), halves away from zero
 *               (x / d is x times the float32 1 / d, d before f16 rounding)
 *   Q2_K, Q4_K, Q5_K  per sub-block (16, 32, 32 elements) a search over
 *               19 (21, 16) trial scales (nmax + rmin + k rdelta) / (max - min)
 *               for the least weighted error (|x| weights and absolute error
 *               for Q2_K; sqrt(mean x^2) + |x| and squared error for Q4_K,
 *               Q5_K), each trial's scale and offset fitted by weighted least
 *               squares; then the scales and offsets rounded to 4 (6) bits
 *               against their maximum, and each element rounded again with
 *               the stored values: q = clamp(nearest((x + dmin mn) / (d sc)))
 *   Q3_K        per 16 a signed scale from absmax, refined by up to 5
 *               one-element-at-a-time passes (weights x^2); 6-bit scales
 *   Q6_K        per 16 a signed scale from 18 trial scales (weights x^2);
 *               8-bit scales against max / -128
 * "nearest" is ggml's nearest_int (round half to even via 1.5 * 2^23);
 * sums run in element order in float32. F16 and BF16 rows round to nearest
 * even; F32 copies. */

#endif
