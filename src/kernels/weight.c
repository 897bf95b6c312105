/* weight.c - typed weights (weight.h): type table, views, ownership,
 * conversion, row access; the matmul seam's dispatch is in matmul.c. */
#include "kernels/weight.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"

static const pt_wtype_info INFO[PT_WT_COUNT] = {
    [PT_WT_F32] = {"F32", 1, 4, 0},        [PT_WT_F16] = {"F16", 1, 2, 1},
    [PT_WT_BF16] = {"BF16", 1, 2, 30},     [PT_WT_Q4_0] = {"Q4_0", 32, 18, 2},
    [PT_WT_Q4_1] = {"Q4_1", 32, 20, 3},    [PT_WT_Q5_0] = {"Q5_0", 32, 22, 6},
    [PT_WT_Q5_1] = {"Q5_1", 32, 24, 7},    [PT_WT_Q8_0] = {"Q8_0", 32, 34, 8},
    [PT_WT_Q2_K] = {"Q2_K", 256, 84, 10},  [PT_WT_Q3_K] = {"Q3_K", 256, 110, 11},
    [PT_WT_Q4_K] = {"Q4_K", 256, 144, 12}, [PT_WT_Q5_K] = {"Q5_K", 256, 176, 13},
    [PT_WT_Q6_K] = {"Q6_K", 256, 210, 14},
};

const pt_wtype_info *pt_wtype_get(pt_wtype t) {
    assert(t >= 0 && t < PT_WT_COUNT);
    return &INFO[t];
}

int pt_wtype_from_ggml(uint32_t ggml) {
    for (int t = 0; t < PT_WT_COUNT; t++)
        if ((uint32_t)INFO[t].ggml == ggml) return t;
    return -1;
}

const char *pt_ggml_type_name(uint32_t ggml, char *buf, size_t n) {
    /* ggml's type ids (ggml.h), including those ptune refuses */
    static const char *const names[] = {
        "F32",   "F16",        "Q4_0",       "Q4_1",       "Q4_2",     "Q4_3",     "Q5_0",
        "Q5_1",  "Q8_0",       "Q8_1",       "Q2_K",       "Q3_K",     "Q4_K",     "Q5_K",
        "Q6_K",  "Q8_K",       "IQ2_XXS",    "IQ2_XS",     "IQ3_XXS",  "IQ1_S",    "IQ4_NL",
        "IQ3_S", "IQ2_S",      "IQ4_XS",     "I8",         "I16",      "I32",      "I64",
        "F64",   "IQ1_M",      "BF16",       "Q4_0_4_4",   "Q4_0_4_8", "Q4_0_8_8", "TQ1_0",
        "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};
    if (ggml < sizeof names / sizeof names[0]) return names[ggml];
    snprintf(buf, n, "type %u", ggml);
    return buf;
}

int pt_wtype_is_quant(pt_wtype t) {
    return INFO[t].block > 1;
}

size_t pt_wtype_row_bytes(pt_wtype t, int64_t n) {
    const pt_wtype_info *i = pt_wtype_get(t);
    if (n < 0 || n % i->block) return 0;
    return (size_t)(n / i->block) * (size_t)i->bytes;
}

const float *pt_weight_f32(const pt_weight *w) {
    assert(!w->data || w->type == PT_WT_F32);
    return w->data;
}

pt_weight pt_weight_rows(const pt_weight *w, int r0, int n) {
    pt_weight v = *w;
    v.rows = n;
    v.data = (const unsigned char *)w->data + (size_t)r0 * w->row_bytes;
    v.owned = NULL;
    v.packed = NULL;
    v.packed_bytes = 0;
    return v;
}

pt_weight pt_weight_wrap(pt_wtype type, int rows, int cols, const void *data) {
    pt_weight w;
    memset(&w, 0, sizeof w);
    w.type = type;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = pt_wtype_row_bytes(type, cols);
    w.data = data;
    return w;
}

pt_status pt_weight_alloc(pt_weight *w, pt_wtype type, int rows, int cols) {
    memset(w, 0, sizeof *w);
    size_t rb = pt_wtype_row_bytes(type, cols), total;
    if (rows < 0 || cols < 0 || (cols && !rb) || !pt_mul_ok(rb, (size_t)rows, &total))
        return pt_fail(PT_ERR_ARG, "weight (%d, %d) of type %s: bad shape", rows, cols,
                       INFO[type].name);
    void *p = pt_aalloc(total ? total : 1, 1);
    if (!p)
        return pt_fail(PT_ERR_NOMEM, "out of memory for a (%d, %d) %s weight", rows, cols,
                       INFO[type].name);
    *w = pt_weight_wrap(type, rows, cols, p);
    w->owned = p;
    return PT_OK;
}

void pt_weight_free(pt_weight *w) {
    if (!w) return;
    pt_afree(w->owned);
    pt_afree(w->packed);
    memset(w, 0, sizeof *w);
}

size_t pt_weight_owned_bytes(const pt_weight *w) {
    return (w->owned ? pt_weight_bytes(w) : 0) + (w->packed ? w->packed_bytes : 0);
}

size_t pt_weight_bytes(const pt_weight *w) {
    return w->data ? (size_t)w->rows * w->row_bytes : 0;
}

pt_status pt_weight_convert(pt_weight *w, pt_wtype to) {
    if (w->type == to || !w->data) return PT_OK;
    if (pt_wtype_is_quant(w->type) && to != PT_WT_F32)
        return pt_fail(PT_ERR_UNSUPPORTED, "cannot convert %s weights to %s", INFO[w->type].name,
                       INFO[to].name);
    if (pt_wtype_is_quant(to) && w->cols % INFO[to].block)
        return pt_fail(PT_ERR_ARG, "a row of %d elements cannot be stored as %s (blocks of %d)",
                       w->cols, INFO[to].name, INFO[to].block);
    pt_weight n;
    pt_status s = pt_weight_alloc(&n, to, w->rows, w->cols);
    if (s) return s;
    float *row = pt_alloc((size_t)w->cols + 1, sizeof(float)); // (cols)
    if (!row) {
        pt_weight_free(&n);
        return pt_fail(PT_ERR_NOMEM, "out of memory converting a weight");
    }
    for (int r = 0; r < w->rows; r++) {
        pt_weight_row(w, r, row);
        pt_quant_row(to, (unsigned char *)n.owned + (size_t)r * n.row_bytes, row, w->cols);
    }
    free(row);
    pt_weight_free(w);
    *w = n;
    return PT_OK;
}

void pt_weight_row(const pt_weight *w, int r, float *dst) {
    pt_dequant_row(w->type, dst, (const unsigned char *)w->data + (size_t)r * w->row_bytes,
                   w->cols);
}

void pt_weight_dot_rows(const pt_weight *w, const float *h, const int *rows, int nr, float *dot) {
    for (int j = 0; j < nr; j++) {
        const unsigned char *row = (const unsigned char *)w->data + (size_t)rows[j] * w->row_bytes;
        if (w->type == PT_WT_F32) {
            float acc = 0.0f;
            const float *wr = (const float *)(const void *)row;
            for (int c = 0; c < w->cols; c++) acc += h[c] * wr[c];
            dot[j] = acc;
        } else {
            dot[j] = pt_qdot_row(w->type, row, h, w->cols);
        }
    }
}

void pt_weight_axpy_rows(const pt_weight *w, float *dh, const float *g, const int *rows, int nr) {
    for (int j = 0; j < nr; j++) {
        const unsigned char *row = (const unsigned char *)w->data + (size_t)rows[j] * w->row_bytes;
        if (w->type == PT_WT_F32) {
            const float *wr = (const float *)(const void *)row;
            for (int c = 0; c < w->cols; c++) dh[c] += g[j] * wr[c];
        } else {
            pt_qaxpy_row(w->type, dh, g[j], row, w->cols);
        }
    }
}

int pt_weight_all_finite(const pt_weight *w) {
    if (!w->data) return 1;
    float *row = pt_alloc((size_t)w->cols + 1, sizeof(float));
    if (!row) return 1; /* cannot check: do not claim a NaN */
    int ok = 1;
    for (int r = 0; r < w->rows && ok; r++) {
        pt_weight_row(w, r, row);
        for (int c = 0; c < w->cols; c++)
            if (!isfinite(row[c])) {
                ok = 0;
                break;
            }
    }
    free(row);
    return ok;
}
