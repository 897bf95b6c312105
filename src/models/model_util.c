/* model_util.c - loading helpers shared by the model families. */
#include "models/model_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "formats/safetensors.h"

pt_status pt_mu_read_config(const char *dir, pt_json_doc *doc) {
    memset(doc, 0, sizeof *doc);
    char *path = pt_path_join(dir, "config.json");
    if (!path) return pt_fail(PT_ERR_NOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    pt_status s = pt_read_file(path, &text, &len);
    if (s == PT_OK) {
        s = pt_json_parse(doc, text, len);
        if (s)
            pt_fail_ctx(s, "%s", path);
        else if (doc->root->type != PT_JSON_OBJECT) {
            pt_json_doc_free(doc);
            s = pt_fail(PT_ERR_FORMAT, "%s: not a JSON object", path);
        }
    }
    free(text);
    free(path);
    return s;
}

/* Cache-blocked transpose: tiles of PT_MU_TILE x PT_MU_TILE floats (16 KB on
 * each side at 64) are shared out among the threads; inside a tile, 8 x 8
 * blocks go through a small local array, read as 8 contiguous row pieces and
 * written as 8 contiguous column pieces, so that every access moves 32 bytes.
 * The ragged rim of a tile goes element by element. Tiles are numbered down
 * the input's rows first, so each thread writes one contiguous stretch of the
 * output and takes the first-touch page faults of that stretch itself. */
#define PT_MU_TILE 64

void pt_mu_transpose(float *out, const void *in, int rows, int cols) {
    // out: (cols, rows); in: (rows, cols) float32, possibly unaligned (a mapped file)
    const unsigned char *src = in;
    int tr = (rows + PT_MU_TILE - 1) / PT_MU_TILE, tc = (cols + PT_MU_TILE - 1) / PT_MU_TILE;
    long n_tiles = (long)tr * tc;
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= ((size_t)1 << 16))
    for (long t = 0; t < n_tiles; t++) {
        int r0 = (int)(t % tr) * PT_MU_TILE, c0 = (int)(t / tr) * PT_MU_TILE;
        int r1 = r0 + PT_MU_TILE < rows ? r0 + PT_MU_TILE : rows;
        int c1 = c0 + PT_MU_TILE < cols ? c0 + PT_MU_TILE : cols;
        int r8 = r0 + (r1 - r0) / 8 * 8, c8 = c0 + (c1 - c0) / 8 * 8; /* end of whole 8x8 blocks */
        for (int rb = r0; rb < r8; rb += 8)
            for (int cb = c0; cb < c8; cb += 8) {
                float blk[8][8]; // (8 cols, 8 rows): blk[j][i] = in[rb + i][cb + j]
                for (int i = 0; i < 8; i++) {
                    float row[8];
                    memcpy(row, src + ((size_t)(rb + i) * cols + cb) * 4, sizeof row);
                    for (int j = 0; j < 8; j++) blk[j][i] = row[j];
                }
                for (int j = 0; j < 8; j++) memcpy(&out[(size_t)(cb + j) * rows + rb], blk[j], 32);
            }
        for (int r = r0; r < r1; r++) /* the rim: rows past r8, and columns past c8 */
            for (int c = r < r8 ? c8 : c0; c < c1; c++)
                memcpy(&out[(size_t)c * rows + r], src + ((size_t)r * cols + c) * 4, 4);
    }
}

static const pt_st_tensor *find_prefixed(const pt_st_file *f, const char *const *prefixes,
                                         const char *name, char *full, size_t cap) {
    for (const char *const *p = prefixes; *p; p++) {
        snprintf(full, cap, "%s%s", *p, name);
        const pt_st_tensor *t = pt_st_find(f, full);
        if (t) return t;
    }
    return NULL;
}

pt_status pt_mu_load_transposed(const pt_st_file *f, const char *const *prefixes, const char *name,
                                int rows, int cols, float **out) {
    char full[512];
    *out = NULL;
    if (!find_prefixed(f, prefixes, name, full, sizeof full))
        return pt_fail(PT_ERR_FORMAT, "%s: missing tensor \"%s%s\"", f->path, prefixes[0], name);
    int64_t shape[2] = {rows, cols};
    const pt_st_tensor *t;
    pt_status s = pt_st_find_shaped(f, full, 2, shape, &t);
    if (s) return s;
    float *raw = NULL; // (rows, cols) float32 staging copy, for dtypes other than F32
    if (t->dtype != PT_DTYPE_F32 && (s = pt_st_load_f32(f, full, 2, shape, &raw))) return s;
    float *w = pt_alloc((size_t)rows * cols, sizeof(float)); // (cols, rows)
    if (!w) {
        free(raw);
        return pt_fail(PT_ERR_NOMEM, "%s: tensor '%s': out of memory", f->path, full);
    }
    /* F32: straight from the mapping, no staging copy */
    pt_mu_transpose(w, raw ? (const void *)raw : (const void *)t->data, rows, cols);
    free(raw);
    *out = w;
    return PT_OK;
}
