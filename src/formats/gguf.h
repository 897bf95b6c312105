/* gguf.h - reading GGUF files (v2 and v3), mmap'd.
 *
 * Layout: magic "GGUF", u32 version, u64 n_tensors, u64 n_kv, then n_kv
 * key-value pairs (string key, u32 type, value), then n_tensors tensor infos
 * (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset), then
 * padding to `general.alignment` (default 32) and the tensor data.
 * Strings are u64 length + bytes. ne[0] is the fastest-varying dimension, so a
 * row-major (PyTorch) shape is ne reversed.
 * Validation: every count, length, offset and size checked against the file
 * size and sane bounds before use; errors name the file and the key or tensor.
 */
#ifndef PT_FORMATS_GGUF_H
#define PT_FORMATS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/io.h"
#include "ptune.h"

typedef enum pt_gguf_type {
    PT_GGUF_UINT8 = 0,
    PT_GGUF_INT8 = 1,
    PT_GGUF_UINT16 = 2,
    PT_GGUF_INT16 = 3,
    PT_GGUF_UINT32 = 4,
    PT_GGUF_INT32 = 5,
    PT_GGUF_FLOAT32 = 6,
    PT_GGUF_BOOL = 7,
    PT_GGUF_STRING = 8,
    PT_GGUF_ARRAY = 9,
    PT_GGUF_UINT64 = 10,
    PT_GGUF_INT64 = 11,
    PT_GGUF_FLOAT64 = 12,
} pt_gguf_type;

/* some ggml tensor type ids (the full table: kernels/weight.c) */
enum { PT_GGML_F32 = 0, PT_GGML_F16 = 1, PT_GGML_Q8_0 = 8, PT_GGML_BF16 = 30 };

typedef struct pt_gguf_str {
    const char *s; /* points into the mapping: NOT NUL-terminated */
    uint64_t len;
} pt_gguf_str;

typedef struct pt_gguf_kv {
    char *key; /* NUL-terminated copy */
    pt_gguf_type type;
    /* scalar value (integers widened; bool as 0/1) */
    int64_t i;
    uint64_t u;
    double f;
    pt_gguf_str str; /* PT_GGUF_STRING */
    /* PT_GGUF_ARRAY */
    pt_gguf_type arr_type;
    uint64_t arr_n;
    const unsigned char *arr_data; /* numeric arrays: raw little-endian elements */
    pt_gguf_str *arr_strs;         /* string arrays: arr_n entries */
} pt_gguf_kv;

typedef struct pt_gguf_tensor {
    char *name;
    int n_dims;
    int64_t ne[4]; /* ggml order */
    uint32_t type;
    uint64_t offset; /* relative to the data section */
    const unsigned char *data;
    size_t nbytes;
} pt_gguf_tensor;

typedef struct pt_gguf {
    char *path;
    pt_mapped map;
    uint32_t version;
    pt_gguf_kv *kv;
    int64_t n_kv;
    pt_gguf_tensor *tensors;
    int64_t n_tensors;
    uint64_t alignment;
    int owns_copy; /* 1 when map.data is a heap copy (pt_gguf_open_buffer), freed on close */
} pt_gguf;

/* Bytes of one scalar value of GGUF type t; 0 for strings, arrays and unknown types. */
size_t pt_gguf_scalar_size(uint32_t t);
pt_status pt_gguf_open(pt_gguf *g, const char *path);
pt_status pt_gguf_open_buffer(pt_gguf *g, const void *data, size_t size, const char *name);
void pt_gguf_close(pt_gguf *g);

const pt_gguf_kv *pt_gguf_find(const pt_gguf *g, const char *key);
/* Typed getters: 1 on success (integers of any integer type accepted if in range). */
int pt_gguf_get_int(const pt_gguf *g, const char *key, int64_t *out);
int pt_gguf_get_float(const pt_gguf *g, const char *key, double *out);
/* Returns a heap copy (caller frees) or NULL. */
char *pt_gguf_get_string(const pt_gguf *g, const char *key);

const pt_gguf_tensor *pt_gguf_find_tensor(const pt_gguf *g, const char *name);
/* Dequantize/convert to float32 into out[numel]: every type accepted at open
 * (F32, F16, BF16 and the block types of kernels/weight.h). */
pt_status pt_gguf_tensor_to_f32(const pt_gguf_tensor *t, float *out);
/* Find, check the row-major shape (ne reversed) equals shape[0..ndim), convert
 * to a newly allocated float array. */
pt_status pt_gguf_load_f32(const pt_gguf *g, const char *name, int ndim, const int64_t *shape,
                           float **out);

#endif
