/* safetensors.h - reading (mmap) and writing safetensors files.
 *
 * Layout: u64 little-endian header size N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string value", ...}}, then the data section.
 * Validation on open: header inside the file and valid JSON, every tensor's
 * offsets inside the data section, byte size = product(shape) * dtype size
 * (without overflow), no two tensors overlapping. Errors name the file and
 * the tensor.
 */
#ifndef PT_FORMATS_SAFETENSORS_H
#define PT_FORMATS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/io.h"
#include "ptune.h"

#define PT_ST_MAX_DIMS 8

typedef enum pt_dtype {
    PT_DTYPE_F32,
    PT_DTYPE_F16,
    PT_DTYPE_BF16,
    PT_DTYPE_F64,
    PT_DTYPE_I64,
    PT_DTYPE_I32,
    PT_DTYPE_I16,
    PT_DTYPE_I8,
    PT_DTYPE_U8,
    PT_DTYPE_BOOL,
    PT_DTYPE_Q8_0, /* GGUF only */
} pt_dtype;

const char *pt_dtype_name(pt_dtype t);
size_t pt_dtype_size(pt_dtype t); /* bytes per element (0 for block types) */

typedef struct pt_st_tensor {
    char *name;
    pt_dtype dtype;
    int ndim;
    int64_t shape[PT_ST_MAX_DIMS];
    int64_t numel;
    const unsigned char *data; /* inside the mapping */
    size_t nbytes;
} pt_st_tensor;

typedef struct pt_st_file {
    char *path;
    pt_mapped map;
    pt_st_tensor *tensors;
    int n_tensors;
    char **meta_keys; /* __metadata__, in file order */
    char **meta_vals;
    int n_meta;
} pt_st_file;

pt_status pt_st_open(pt_st_file *f, const char *path);
/* Same validation on an in-memory buffer (not copied; must outlive f). */
pt_status pt_st_open_buffer(pt_st_file *f, const void *data, size_t size, const char *name);
void pt_st_close(pt_st_file *f);

const pt_st_tensor *pt_st_find(const pt_st_file *f, const char *name);
const char *pt_st_meta(const pt_st_file *f, const char *key);

/* Convert a tensor (F32, F16, BF16, F64) to float32 into out[numel]. */
pt_status pt_st_to_f32(const pt_st_tensor *t, float *out);
/* Find a tensor by name and check its shape equals shape[0..ndim). Errors
 * name file, tensor, expected and found. */
pt_status pt_st_find_shaped(const pt_st_file *f, const char *name, int ndim, const int64_t *shape,
                            const pt_st_tensor **out);
/* Find a tensor by name, check its shape equals shape[0..ndim), convert to a
 * newly allocated float array. Errors name file, tensor, expected and found. */
pt_status pt_st_load_f32(const pt_st_file *f, const char *name, int ndim, const int64_t *shape,
                         float **out);

/* Writer: collect tensors and metadata, then write atomically. Data is
 * copied at add time. Tensors are written in the order added. */
typedef struct pt_st_writer pt_st_writer;
pt_st_writer *pt_st_writer_new(void);
pt_status pt_st_writer_add_f32(pt_st_writer *w, const char *name, int ndim, const int64_t *shape,
                               const float *data);
pt_status pt_st_writer_meta(pt_st_writer *w, const char *key, const char *value);
pt_status pt_st_writer_save(pt_st_writer *w, const char *path);
void pt_st_writer_free(pt_st_writer *w);

/* Half-precision conversions, exact (round-to-nearest-even on the way down). */
float pt_f16_to_f32(uint16_t h);
float pt_bf16_to_f32(uint16_t h);
uint16_t pt_f32_to_bf16(float f);
uint16_t pt_f32_to_f16(float f);

#endif
