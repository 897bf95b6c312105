/* model_util.h - loading helpers shared by the loaders. */
#ifndef PT_MODELS_MODEL_UTIL_H
#define PT_MODELS_MODEL_UTIL_H

#include "formats/json.h"
#include "ptune.h"

/* Read and parse dir/config.json. */
pt_status pt_mu_read_config(const char *dir, pt_json_doc *doc);

/* out (cols, rows) = the transpose of in (rows, cols), float32 read through
 * memcpy (in may be an unaligned pointer into a mapped file). Cache-blocked,
 * OpenMP over tiles; an exact copy, element for element. */
void pt_mu_transpose(float *out, const void *in, int rows, int cols);

/* Load 2-D tensor `name` of shape (rows, cols), trying each prefix in
 * prefixes (NULL-terminated, "" for none), and return it transposed to
 * (cols, rows) in a new float array. F32 tensors are turned straight from the
 * mapping; other dtypes are converted first. */
struct pt_st_file;
pt_status pt_mu_load_transposed(const struct pt_st_file *f, const char *const *prefixes,
                                const char *name, int rows, int cols, float **out);

#endif
