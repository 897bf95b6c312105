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

/* dst (n) = the n elements at src, as float32 (fastest kernel the CPU has). */
void pt_dequant_row(pt_wtype t, float *dst, const void *src, int64_t n);
/* The plain-C reference of the same (tests compare the two). */
void pt_dequant_row_ref(pt_wtype t, float *dst, const void *src, int64_t n);
/* dst = src (n) quantized to type t by the reference rules (see quant.c). */
void pt_quant_row(pt_wtype t, void *dst, const float *src, int64_t n);
/* x (n) . row (n elements of type t at src), accumulated in float32. */
float pt_qdot_row(pt_wtype t, const void *src, const float *x, int64_t n);
/* y (n) += a * row (n elements of type t at src). */
void pt_qaxpy_row(pt_wtype t, float *y, float a, const void *src, int64_t n);

#endif
