/* gguf_write.c - GGUF v3 writer (gguf_write.h). Key-values are serialized
 * when set (one byte buffer each); tensors keep their name, shape, type and
 * row callback until the write, which streams one row at a time. */
#include "formats/gguf_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "kernels/quant.h"

typedef struct wkv {
    char *key;
    unsigned char *val; /* type (u32) + value, as stored */
    size_t n;
    uint64_t align; /* general.alignment's integer value, else 0 */
} wkv;

typedef struct wtensor {
    char name[64];
    pt_wtype type;
    int rows, cols;     /* rows 0: 1-D */
    pt_gguf_row_fn row; /* or */
    pt_gguf_raw_fn raw;
    void *ctx;
} wtensor;

struct pt_gguf_writer {
    wkv *kv;
    int n_kv, cap_kv;
    wtensor *t;
    int n_t, cap_t;
};

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < b->n + n) c *= 2;
        unsigned char *p = realloc(b->p, c);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = c;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put32(buf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, x, 4);
}

static void put64(buf *b, uint64_t v) {
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static void put_str(buf *b, const char *s, uint64_t n) {
    put64(b, n);
    put(b, s, (size_t)n);
}

pt_gguf_writer *pt_gguf_writer_new(void) {
    return calloc(1, sizeof(pt_gguf_writer));
}

void pt_gguf_writer_free(pt_gguf_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_kv; i++) free(w->kv[i].key), free(w->kv[i].val);
    free(w->kv);
    free(w->t);
    free(w);
}

/* takes b's bytes */
static pt_status set_kv(pt_gguf_writer *w, const char *key, buf *b, uint64_t align) {
    if (b->oom) {
        free(b->p);
        return pt_fail(PT_ERR_NOMEM, "out of memory for GGUF key \"%s\"", key);
    }
    for (int i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key)) {
            free(w->kv[i].val);
            w->kv[i].val = b->p, w->kv[i].n = b->n, w->kv[i].align = align;
            return PT_OK;
        }
    if (w->n_kv == w->cap_kv) {
        int c = w->cap_kv ? 2 * w->cap_kv : 16;
        wkv *k = realloc(w->kv, sizeof *k * (size_t)c);
        if (!k) {
            free(b->p);
            return pt_fail(PT_ERR_NOMEM, "out of memory for GGUF key \"%s\"", key);
        }
        w->kv = k, w->cap_kv = c;
    }
    char *kc = pt_strdup(key);
    if (!kc) {
        free(b->p);
        return pt_fail(PT_ERR_NOMEM, "out of memory for GGUF key \"%s\"", key);
    }
    w->kv[w->n_kv++] = (wkv){kc, b->p, b->n, align};
    return PT_OK;
}

static int is_align_key(const char *key) {
    return !strcmp(key, "general.alignment");
}

pt_status pt_gguf_writer_u32(pt_gguf_writer *w, const char *key, uint32_t v) {
    buf b = {0};
    put32(&b, PT_GGUF_UINT32);
    put32(&b, v);
    return set_kv(w, key, &b, is_align_key(key) ? v : 0);
}

pt_status pt_gguf_writer_f32(pt_gguf_writer *w, const char *key, float v) {
    buf b = {0};
    uint32_t u;
    memcpy(&u, &v, 4);
    put32(&b, PT_GGUF_FLOAT32);
    put32(&b, u);
    return set_kv(w, key, &b, 0);
}

pt_status pt_gguf_writer_string(pt_gguf_writer *w, const char *key, const char *s) {
    buf b = {0};
    put32(&b, PT_GGUF_STRING);
    put_str(&b, s, strlen(s));
    return set_kv(w, key, &b, 0);
}

pt_status pt_gguf_writer_bool(pt_gguf_writer *w, const char *key, int v) {
    buf b = {0};
    unsigned char x = v != 0;
    put32(&b, PT_GGUF_BOOL);
    put(&b, &x, 1);
    return set_kv(w, key, &b, 0);
}

pt_status pt_gguf_writer_str_array(pt_gguf_writer *w, const char *key, const char *const *s,
                                   uint64_t n) {
    buf b = {0};
    put32(&b, PT_GGUF_ARRAY);
    put32(&b, PT_GGUF_STRING);
    put64(&b, n);
    for (uint64_t i = 0; i < n; i++) put_str(&b, s[i], strlen(s[i]));
    return set_kv(w, key, &b, 0);
}

/* 4-byte elements (int32 or float32), little-endian */
static pt_status array32(pt_gguf_writer *w, const char *key, uint32_t type, const void *v,
                         uint64_t n) {
    buf b = {0};
    put32(&b, PT_GGUF_ARRAY);
    put32(&b, type);
    put64(&b, n);
    const unsigned char *p = v;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        put32(&b, u);
    }
    return set_kv(w, key, &b, 0);
}

pt_status pt_gguf_writer_f32_array(pt_gguf_writer *w, const char *key, const float *v, uint64_t n) {
    return array32(w, key, PT_GGUF_FLOAT32, v, n);
}

pt_status pt_gguf_writer_i32_array(pt_gguf_writer *w, const char *key, const int32_t *v,
                                   uint64_t n) {
    return array32(w, key, PT_GGUF_INT32, v, n);
}

pt_status pt_gguf_writer_copy_kv(pt_gguf_writer *w, const pt_gguf_kv *kv) {
    buf b = {0};
    uint64_t align = 0;
    put32(&b, kv->type);
    if (kv->type == PT_GGUF_STRING) {
        put_str(&b, kv->str.s, kv->str.len);
    } else if (kv->type == PT_GGUF_ARRAY) {
        put32(&b, kv->arr_type);
        put64(&b, kv->arr_n);
        if (kv->arr_type == PT_GGUF_STRING) {
            for (uint64_t i = 0; i < kv->arr_n; i++)
                put_str(&b, kv->arr_strs[i].s, kv->arr_strs[i].len);
        } else if (pt_gguf_scalar_size(kv->arr_type)) {
            put(&b, kv->arr_data, (size_t)(kv->arr_n * pt_gguf_scalar_size(kv->arr_type)));
        } else {
            free(b.p);
            return pt_fail(PT_ERR_UNSUPPORTED, "GGUF key \"%s\": arrays of arrays are not copied",
                           kv->key);
        }
    } else {
        size_t n = pt_gguf_scalar_size(kv->type);
        if (!n) {
            free(b.p);
            return pt_fail(PT_ERR_FORMAT, "GGUF key \"%s\": unknown type %d", kv->key, kv->type);
        }
        /* integers are widened in kv->i / kv->u, floats in kv->f: narrow back */
        unsigned char x[8];
        if (kv->type == PT_GGUF_FLOAT32) {
            float f = (float)kv->f;
            memcpy(x, &f, 4);
        } else if (kv->type == PT_GGUF_FLOAT64) {
            memcpy(x, &kv->f, 8);
        } else {
            uint64_t u = kv->type == PT_GGUF_INT8 || kv->type == PT_GGUF_INT16 ||
                                 kv->type == PT_GGUF_INT32 || kv->type == PT_GGUF_INT64
                             ? (uint64_t)kv->i
                             : kv->u;
            for (size_t i = 0; i < 8; i++) x[i] = (unsigned char)(u >> (8 * i));
            if (is_align_key(kv->key)) align = u;
        }
        put(&b, x, n);
    }
    return set_kv(w, kv->key, &b, align);
}

static pt_status add_tensor(pt_gguf_writer *w, const char *name, pt_wtype type, int rows, int cols,
                            pt_gguf_row_fn row, pt_gguf_raw_fn raw, void *ctx) {
    size_t len = strlen(name);
    if (len == 0 || len > 63)
        return pt_fail(PT_ERR_ARG, "GGUF tensor name \"%s\": 1 to 63 bytes", name);
    for (int i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return pt_fail(PT_ERR_ARG, "GGUF tensor \"%s\" added twice", name);
    if (rows < 0 || cols < 1 || pt_wtype_row_bytes(type, cols) == 0)
        return pt_fail(PT_ERR_ARG, "GGUF tensor \"%s\": (%d, %d) cannot be stored as %s", name,
                       rows, cols, pt_wtype_get(type)->name);
    if (w->n_t == w->cap_t) {
        int c = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *t = realloc(w->t, sizeof *t * (size_t)c);
        if (!t) return pt_fail(PT_ERR_NOMEM, "out of memory for GGUF tensor \"%s\"", name);
        w->t = t, w->cap_t = c;
    }
    wtensor *t = &w->t[w->n_t++];
    memcpy(t->name, name, len + 1);
    t->type = type, t->rows = rows, t->cols = cols, t->row = row, t->raw = raw, t->ctx = ctx;
    return PT_OK;
}

pt_status pt_gguf_writer_tensor(pt_gguf_writer *w, const char *name, pt_wtype type, int rows,
                                int cols, pt_gguf_row_fn row, void *ctx) {
    return add_tensor(w, name, type, rows, cols, row, NULL, ctx);
}

pt_status pt_gguf_writer_tensor_raw(pt_gguf_writer *w, const char *name, pt_wtype type, int rows,
                                    int cols, pt_gguf_raw_fn raw, void *ctx) {
    return add_tensor(w, name, type, rows, cols, NULL, raw, ctx);
}

static uint64_t t_bytes(const wtensor *t) {
    return (uint64_t)pt_wtype_row_bytes(t->type, t->cols) * (uint64_t)(t->rows ? t->rows : 1);
}

static uint64_t pad_to(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

pt_status pt_gguf_writer_write(pt_gguf_writer *w, const char *path) {
    uint64_t align = 32;
    for (int i = 0; i < w->n_kv; i++)
        if (w->kv[i].align) align = w->kv[i].align;
    if (align & (align - 1) || align > (1u << 24))
        return pt_fail(PT_ERR_ARG, "%s: general.alignment %llu is not a power of two up to 2^24",
                       path, (unsigned long long)align);
    buf h = {0};
    put(&h, "GGUF", 4);
    put32(&h, 3);
    put64(&h, (uint64_t)w->n_t);
    put64(&h, (uint64_t)w->n_kv);
    for (int i = 0; i < w->n_kv; i++) {
        put_str(&h, w->kv[i].key, strlen(w->kv[i].key));
        put(&h, w->kv[i].val, w->kv[i].n);
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(&h, t->name, strlen(t->name));
        put32(&h, t->rows ? 2 : 1);
        put64(&h, (uint64_t)t->cols);
        if (t->rows) put64(&h, (uint64_t)t->rows);
        put32(&h, (uint32_t)pt_wtype_get(t->type)->ggml);
        put64(&h, off);
        off = pad_to(off + t_bytes(t), align);
    }
    static const unsigned char zeros[64] = {0};
    while (h.n % align)
        put(&h, zeros, (size_t)(align - h.n % align) < 64 ? align - h.n % align : 64);
    if (h.oom) {
        free(h.p);
        return pt_fail(PT_ERR_NOMEM, "%s: out of memory for the GGUF header", path);
    }
    pt_atomic_file af;
    pt_status s = pt_atomic_open(&af, path);
    if (s) {
        free(h.p);
        return s;
    }
    s = pt_atomic_write(&af, h.p, h.n);
    free(h.p);
    size_t maxrow = 0;
    for (int i = 0; i < w->n_t; i++)
        if ((size_t)w->t[i].cols > maxrow) maxrow = (size_t)w->t[i].cols;
    float *row = pt_alloc(maxrow + 1, sizeof(float)); // (cols)
    unsigned char *q = pt_alloc(maxrow * 4 + 64, 1);  // (row bytes)
    if (!s && (!row || !q)) s = pt_fail(PT_ERR_NOMEM, "%s: out of memory for a row", path);
    for (int i = 0; i < w->n_t && !s; i++) {
        const wtensor *t = &w->t[i];
        size_t rb = pt_wtype_row_bytes(t->type, t->cols);
        for (int r = 0; r < (t->rows ? t->rows : 1) && !s; r++) {
            if (t->raw) {
                s = t->raw(t->ctx, i, r, q);
            } else if (!(s = t->row(t->ctx, i, r, row))) {
                pt_quant_row(t->type, q, row, t->cols);
            }
            if (s) break;
            s = pt_atomic_write(&af, q, rb);
        }
        uint64_t pad = pad_to(t_bytes(t), align) - t_bytes(t);
        while (!s && pad) {
            size_t k = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
            s = pt_atomic_write(&af, zeros, k);
            pad -= k;
        }
        if (s) s = pt_fail_ctx(s, "%s: tensor \"%s\"", path, t->name);
    }
    free(row);
    free(q);
    if (s) {
        pt_atomic_abort(&af);
        return s;
    }
    return pt_atomic_commit(&af);
}
