/* gguf_write.h - writing GGUF v3 files: metadata key-values (set one by one
 * or copied from a file read with gguf.h) and 1-D or 2-D tensors of any
 * pt_wtype whose rows are produced at write time, one float32 row at a time,
 * and stored by pt_quant_row (so a quantizer never holds a whole model).
 *
 * Layout written (what gguf.c reads): "GGUF", u32 3, u64 n_tensors, u64 n_kv,
 * the key-values in the order set (a key set again keeps its first place and
 * takes the new value), the tensor infos (name, n_dims, ne[] in ggml order,
 * ggml type id, offset), zero padding to the alignment, each tensor's data
 * padded to the alignment. The alignment is general.alignment when that key
 * was set to an integer power of two (copied or set), else 32. The file is
 * written atomically (core/io.h).
 */
#ifndef PT_FORMATS_GGUF_WRITE_H
#define PT_FORMATS_GGUF_WRITE_H

#include <stdint.h>

#include "formats/gguf.h"
#include "kernels/weight.h"
#include "ptune.h"

typedef struct pt_gguf_writer pt_gguf_writer;

/* dst (cols) = row r of tensor `index` (the order tensors were added, from 0)
 * as float32. Nonzero status stops the write. */
typedef pt_status (*pt_gguf_row_fn)(void *ctx, int index, int r, float *dst);

/* NULL when out of memory. */
pt_gguf_writer *pt_gguf_writer_new(void);
void pt_gguf_writer_free(pt_gguf_writer *w);

pt_status pt_gguf_writer_u32(pt_gguf_writer *w, const char *key, uint32_t v);
pt_status pt_gguf_writer_f32(pt_gguf_writer *w, const char *key, float v);
pt_status pt_gguf_writer_string(pt_gguf_writer *w, const char *key, const char *s);
pt_status pt_gguf_writer_bool(pt_gguf_writer *w, const char *key, int v);
/* Arrays: n strings (NUL-terminated), n float32, n int32 values. */
pt_status pt_gguf_writer_str_array(pt_gguf_writer *w, const char *key, const char *const *s,
                                   uint64_t n);
pt_status pt_gguf_writer_f32_array(pt_gguf_writer *w, const char *key, const float *v, uint64_t n);
pt_status pt_gguf_writer_i32_array(pt_gguf_writer *w, const char *key, const int32_t *v,
                                   uint64_t n);
/* A key-value read from a file, copied with its type (arrays of arrays are
 * refused). */
pt_status pt_gguf_writer_copy_kv(pt_gguf_writer *w, const pt_gguf_kv *kv);

/* A tensor (rows, cols) row-major (ggml ne = {cols, rows}); rows == 0 makes a
 * 1-D tensor of cols elements (read as one row). cols must be a multiple of
 * the type's block. The name is copied (1..63 bytes, unique). */
pt_status pt_gguf_writer_tensor(pt_gguf_writer *w, const char *name, pt_wtype type, int rows,
                                int cols, pt_gguf_row_fn row, void *ctx);

/* The same with each row given already encoded: raw(ctx, index, r, dst)
 * writes the row's pt_wtype_row_bytes(type, cols) bytes at dst. */
typedef pt_status (*pt_gguf_raw_fn)(void *ctx, int index, int r, void *dst);
pt_status pt_gguf_writer_tensor_raw(pt_gguf_writer *w, const char *name, pt_wtype type, int rows,
                                    int cols, pt_gguf_raw_fn raw, void *ctx);

pt_status pt_gguf_writer_write(pt_gguf_writer *w, const char *path);

#endif
