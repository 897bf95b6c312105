/* weight.h - typed weight matrices and the one matmul seam that takes them.
 *
 * A frozen model's matrices are never bare float pointers: each is a
 * pt_weight that knows its element type and shape and points either into a
 * file mapping (safetensors, GGUF: nothing copied) or into memory it owns.
 * Model code multiplies through pt_mm_forward / pt_mm_backward_input and
 * reads rows through pt_weight_row; only the kernels behind them look at the
 * element type.
 *
 * Element types: float32, float16, bfloat16, and ggml's block-quantized
 * types (a row of `cols` elements is cols / block blocks of `bytes` bytes
 * each, laid out exactly as in a GGUF file, see quant.h).
 *
 * Dimension letters: W (OC, C) = (rows, cols), N input rows.
 *   forward:        out (N, OC)  = inp (N, C) . W^T + bias
 *   backward_input: dinp (N, C) += dout (N, OC) . W
 */
#ifndef PT_KERNELS_WEIGHT_H
#define PT_KERNELS_WEIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "ptune.h"

typedef enum pt_wtype {
    PT_WT_F32 = 0,
    PT_WT_F16,
    PT_WT_BF16,
    PT_WT_Q4_0,
    PT_WT_Q4_1,
    PT_WT_Q5_0,
    PT_WT_Q5_1,
    PT_WT_Q8_0,
    PT_WT_Q2_K,
    PT_WT_Q3_K,
    PT_WT_Q4_K,
    PT_WT_Q5_K,
    PT_WT_Q6_K,
    PT_WT_COUNT
} pt_wtype;

typedef struct pt_wtype_info {
    const char *name; /* "F32", "Q4_K", ... (ggml's spelling) */
    int block;        /* elements per block (1 for float types) */
    int bytes;        /* bytes per block */
    int ggml;         /* ggml / GGUF type id */
} pt_wtype_info;

const pt_wtype_info *pt_wtype_get(pt_wtype t);
/* The type of ggml type id `ggml`, or -1 when ptune does not read it. */
int pt_wtype_from_ggml(uint32_t ggml);
/* Name of ggml type id `ggml` for messages, also for types ptune refuses
 * ("IQ2_XS"); "type N" for ids it does not know at all. */
const char *pt_ggml_type_name(uint32_t ggml, char *buf, size_t n);
/* 1 for the block-quantized types. */
int pt_wtype_is_quant(pt_wtype t);
/* Bytes of a row of n elements (n must be a multiple of the block size;
 * returns 0 when it is not). */
size_t pt_wtype_row_bytes(pt_wtype t, int64_t n);

typedef struct pt_weight {
    pt_wtype type;
    int rows, cols;   /* matrix (rows, cols) row-major; a vector has rows == 1 */
    size_t row_bytes; /* bytes from one row to the next */
    const void *data; /* rows * row_bytes bytes */
    void *owned;      /* heap block behind data (freed by pt_weight_free), NULL: in a mapping */
    void *packed;     /* a kernel's private layout of the same matrix, made once (or NULL) */
    size_t packed_bytes;
} pt_weight;

/* An empty (absent) weight: data == NULL. */
static inline int pt_weight_present(const pt_weight *w) {
    return w->data != NULL;
}
/* The float32 data of a weight that the loader was asked to keep in float32
 * (norms, biases, position tables): asserts the type. */
const float *pt_weight_f32(const pt_weight *w);

/* A view of w's rows [r0, r0 + n): shares the data, owns nothing. */
pt_weight pt_weight_rows(const pt_weight *w, int r0, int n);
/* Wrap existing data (not owned). */
pt_weight pt_weight_wrap(pt_wtype type, int rows, int cols, const void *data);
/* Allocate an owned weight of the given type and shape (contents undefined). */
pt_status pt_weight_alloc(pt_weight *w, pt_wtype type, int rows, int cols);
void pt_weight_free(pt_weight *w);
/* Bytes of memory the weight holds itself (owned block and packed copy). */
size_t pt_weight_owned_bytes(const pt_weight *w);
/* Total bytes of its data (rows * row_bytes), owned or mapped. */
size_t pt_weight_bytes(const pt_weight *w);

/* Replace w by an owned copy converted to type `to` (float types: f32, f16,
 * bf16; to a quantized type: quantize). From a quantized type only to f32. */
pt_status pt_weight_convert(pt_weight *w, pt_wtype to);

/* dst (w->cols) = row r of w as float32 (dequantized): embedding lookups. */
void pt_weight_row(const pt_weight *w, int r, float *dst);
/* dot (nr) = h (C) . row rows[j] of w, for j < nr (the LM head at label
 * rows: reads only those rows). */
void pt_weight_dot_rows(const pt_weight *w, const float *h, const int *rows, int nr, float *dot);
/* dh (C) += sum_j g[j] * row rows[j] of w. */
void pt_weight_axpy_rows(const pt_weight *w, float *dh, const float *g, const int *rows, int nr);
/* 1 when every element is finite (NaN and infinity found at load). For
 * quantized types the block scales are checked. */
int pt_weight_all_finite(const pt_weight *w);

/* Arithmetic used for products with bf16 weights (the builtin engine's
 * vdpbf16ps kernels, gemm_bf16.c, on CPUs with AVX512-BF16; others: F32). */
typedef enum pt_arith {
    PT_ARITH_F32 = 0, /* weights widened to float32, float32 multiply-adds */
    PT_ARITH_BF16,    /* activations rounded to bf16, bf16 products, float32 accumulation */
    PT_ARITH_BF16X2,  /* activations split into bf16 high + low parts: two bf16 products,
                         about 16 significant bits of the activations */
} pt_arith;
/* What a CPU with AVX512-BF16 uses unless PTUNE_BF16_ARITH says otherwise. */
#define PT_ARITH_DEFAULT PT_ARITH_BF16
const char *pt_arith_name(pt_arith a); /* "f32", "bf16", "bf16x2" */

/* ---- the matmul seam ---- */

/* out (N, W->rows) = inp (N, W->cols) . W^T + bias (W->rows, or NULL). Overwrites out. */
void pt_mm_forward(float *out, const float *inp, const pt_weight *W, const float *bias, int N);
/* dinp (N, W->cols) += dout (N, W->rows) . W. */
void pt_mm_backward_input(float *dinp, const float *dout, const pt_weight *W, int N);
/* The arithmetic the seam uses for bf16 weights from now on (process-wide;
 * BF16 and BF16X2 fall back to F32 where the CPU has no AVX512-BF16). Until
 * set: the environment's PTUNE_BF16_ARITH=f32|bf16|bf16x2, else
 * PT_ARITH_DEFAULT (clamped the same way). */
void pt_mm_set_arith(pt_arith a);
pt_arith pt_mm_get_arith(void);
/* Why pt_mm_get_arith says what it says ("default", "PTUNE_BF16_ARITH",
 * "the CPU has no AVX512-BF16", ...). */
const char *pt_mm_arith_why(void);

#endif
