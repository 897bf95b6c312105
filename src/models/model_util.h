/* model_util.h - loading helpers shared by the model families. */
#ifndef PT_MODELS_MODEL_UTIL_H
#define PT_MODELS_MODEL_UTIL_H

#include "formats/json.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "models/model.h"

/* Read and parse dir/config.json. */
pt_status pt_mu_read_config(const char *dir, pt_json_doc *doc);
/* Required integer / float config keys: error "config.json: missing n_embd". */
pt_status pt_mu_cfg_int(const pt_json *cfg, const char *path, const char *key, int *out);
pt_status pt_mu_cfg_float(const pt_json *cfg, const char *path, const char *key, float *out);
/* First of several alternative keys that is present; error naming all if none. */
pt_status pt_mu_cfg_int_any(const pt_json *cfg, const char *path, const char *const *keys,
                            int *out);

/* Load tensor `name`, trying each prefix in prefixes (NULL-terminated list,
 * "" for none) in order, checking its row-major shape; float32 copy in *out. */
pt_status pt_mu_load(const pt_st_file *f, const char *const *prefixes, const char *name, int ndim,
                     const int64_t *shape, float **out);
/* 1 if the tensor exists under any of the prefixes. */
int pt_mu_has(const pt_st_file *f, const char *const *prefixes, const char *name);

/* out (cols, rows) = the transpose of in (rows, cols), float32 read through
 * memcpy (in may be an unaligned pointer into a mapped file). Cache-blocked,
 * OpenMP over tiles; an exact copy, element for element. */
void pt_mu_transpose(float *out, const void *in, int rows, int cols);
/* Load 2-D tensor `name` of shape (rows, cols) (prefixes as pt_mu_load) and
 * return it transposed to (cols, rows) in a new float array. F32 tensors are
 * turned straight from the mapping; other dtypes are converted first. */
pt_status pt_mu_load_transposed(const pt_st_file *f, const char *const *prefixes, const char *name,
                                int rows, int cols, float **out);

/* *w (n floats, malloc'ed) replaced by a malloc'ed bf16 copy behind the same
 * float pointer (free() still releases it). On failure *w is untouched. */
pt_status pt_mu_to_bf16(float **w, size_t n);

/* The matmul seam for a block matrix W that pt_model_set_precision may have
 * turned into bf16 (m->bf16). */
static inline void pt_mu_matmul_forward(const pt_model *m, float *out, const float *inp,
                                        const float *W, const float *bias, int N, int C, int OC) {
    if (m->bf16)
        pt_matmul_forward_bf16(out, inp, (const uint16_t *)(const void *)W, bias, N, C, OC);
    else
        pt_matmul_forward(out, inp, W, bias, N, C, OC);
}
static inline void pt_mu_matmul_backward_input(const pt_model *m, float *dinp, const float *dout,
                                               const float *W, int N, int C, int OC) {
    if (m->bf16)
        pt_matmul_backward_input_bf16(dinp, dout, (const uint16_t *)(const void *)W, N, C, OC);
    else
        pt_matmul_backward_input(dinp, dout, W, N, C, OC);
}

/* Common model allocation: zeroed pt_model with path copied. */
pt_model *pt_mu_model_new(const char *path);

#endif
