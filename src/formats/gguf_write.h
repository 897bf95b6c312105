/* gguf_write.h - writing GGUF v3 files: metadata key-values of every GGUF
 * value type (string arrays included) and tensors of any pt_wtype.
 *
 * Use: pt_gguf_writer_new, add key-values and tensors in the order they are
 * to appear, pt_gguf_writer_write(path), pt_gguf_writer_free. Tensor data is
 * not copied when added: either a pointer that must stay valid until the
 * write, or a callback that streams the bytes during the write (so a
 * quantizer can produce a file far larger than memory, one row at a time).
 *
 * Layout written (what formats/gguf.c reads): "GGUF", u32 3, u64 n_tensors,
 * u64 n_kv, the key-values, the tensor infos (name, n_dims, ne[] in ggml order,
 * ggml type id, offset), zero padding to the alignment, then each tensor's
 * data followed by zero padding to the alignment. The alignment is the value
 * of the key "general.alignment" when one was added (an integer, a power of
 * two up to 2^24), else 32. Tensor offsets are multiples of it.
 *
 * The write is atomic (core/io.h): a temporary file in the same folder,
 * fsync'd, renamed over path; on any error the previous file is untouched
 * and the temporary removed. Errors name the key, the tensor or the path.
 */
#ifndef PT_FORMATS_GGUF_WRITE_H
#define PT_FORMATS_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "formats/gguf.h"
#include "kernels/weight.h"
#include "ptune.h"

typedef struct pt_gguf_writer pt_gguf_writer;
typedef struct pt_gguf_sink pt_gguf_sink;

/* NULL when out of memory. */
pt_gguf_writer *pt_gguf_writer_new(void);
void pt_gguf_writer_free(pt_gguf_writer *w);

/* ---- metadata (each key at most once; 1..65535 bytes, no NUL) ---- */

/* A scalar: *value is the C value of the type (uint8_t, int8_t, uint16_t,
 * int16_t, uint32_t, int32_t, float, bool as uint8_t 0/1, uint64_t, int64_t,
 * double). */
pt_status pt_gguf_writer_scalar(pt_gguf_writer *w, const char *key, pt_gguf_type type,
                                const void *value);
pt_status pt_gguf_writer_u32(pt_gguf_writer *w, const char *key, uint32_t v);
pt_status pt_gguf_writer_i32(pt_gguf_writer *w, const char *key, int32_t v);
pt_status pt_gguf_writer_u64(pt_gguf_writer *w, const char *key, uint64_t v);
pt_status pt_gguf_writer_f32(pt_gguf_writer *w, const char *key, float v);
pt_status pt_gguf_writer_bool(pt_gguf_writer *w, const char *key, int v);
/* A string of len bytes (any bytes; GGUF strings are UTF-8 by convention). */
pt_status pt_gguf_writer_string(pt_gguf_writer *w, const char *key, const char *s, size_t len);
/* An array of n scalars of type elem, data a packed C array of them. */
pt_status pt_gguf_writer_array(pt_gguf_writer *w, const char *key, pt_gguf_type elem,
                               const void *data, uint64_t n);
/* An array of n strings; lens[i] their lengths, or lens NULL: strlen. */
pt_status pt_gguf_writer_string_array(pt_gguf_writer *w, const char *key, const char *const *strs,
                                      const size_t *lens, uint64_t n);
/* A copy of a key-value read from a file (arrays of arrays are refused). */
pt_status pt_gguf_writer_copy_kv(pt_gguf_writer *w, const pt_gguf_kv *kv);

/* ---- tensors ----
 * name: 1..63 bytes (ggml's limit), unique. ne (n_dims, 1..4) in ggml order
 * (ne[0] varies fastest: a row-major (rows, cols) matrix is ne = {cols,
 * rows}); ne[0] a multiple of the type's block. The data is
 * pt_wtype_row_bytes(type, ne[0]) * ne[1] * ne[2] * ne[3] bytes. */
pt_status pt_gguf_writer_tensor(pt_gguf_writer *w, const char *name, pt_wtype type, int n_dims,
                                const int64_t *ne, const void *data);
/* The same with the data streamed at write time: fill(ctx, index, sink) must
 * pass exactly the tensor's bytes to pt_gguf_sink_write (in any number of
 * calls); index counts the tensors added, from 0. */
typedef pt_status (*pt_gguf_fill_fn)(void *ctx, int64_t index, pt_gguf_sink *sink);
pt_status pt_gguf_writer_tensor_fn(pt_gguf_writer *w, const char *name, pt_wtype type, int n_dims,
                                   const int64_t *ne, pt_gguf_fill_fn fill, void *ctx);
pt_status pt_gguf_sink_write(pt_gguf_sink *sink, const void *data, size_t n);

/* Bytes of the file so far laid out (header, metadata, infos, data). */
uint64_t pt_gguf_writer_size(const pt_gguf_writer *w);

/* Write the file atomically. The writer can be written again afterwards. */
pt_status pt_gguf_writer_write(pt_gguf_writer *w, const char *path);

#endif
