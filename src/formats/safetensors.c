/* safetensors.c - validated reading (mmap or buffer), f32 conversion, and an
 * atomic writer for safetensors files.
 *
 * File: u64 little-endian header length N | N bytes of JSON header | data.
 * Assumes a little-endian host (as the format does).
 */
#include "formats/safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/strmap.h"
#include "formats/json.h"

#define PT_ST_MAX_HEADER ((uint64_t)100 << 20) /* 100 MB, as the reference reader */

/* ---------------------------------------------------------------- dtypes */

static const struct {
    pt_dtype t;
    const char *name;
    size_t size;
} g_dtypes[] = {
    {PT_DTYPE_F32, "F32", 4},   {PT_DTYPE_F16, "F16", 2},   {PT_DTYPE_BF16, "BF16", 2},
    {PT_DTYPE_F64, "F64", 8},   {PT_DTYPE_I64, "I64", 8},   {PT_DTYPE_I32, "I32", 4},
    {PT_DTYPE_I16, "I16", 2},   {PT_DTYPE_I8, "I8", 1},     {PT_DTYPE_U8, "U8", 1},
    {PT_DTYPE_BOOL, "BOOL", 1}, {PT_DTYPE_Q8_0, "Q8_0", 0},
};
#define N_DTYPES (sizeof g_dtypes / sizeof g_dtypes[0])

const char *pt_dtype_name(pt_dtype t) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (g_dtypes[i].t == t) return g_dtypes[i].name;
    return "?";
}

size_t pt_dtype_size(pt_dtype t) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (g_dtypes[i].t == t) return g_dtypes[i].size;
    return 0;
}

/* dtypes a safetensors file may hold (Q8_0 is GGUF only). */
static int dtype_from_name(const char *s, pt_dtype *out) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (g_dtypes[i].size && strcmp(g_dtypes[i].name, s) == 0) {
            *out = g_dtypes[i].t;
            return 1;
        }
    return 0;
}

/* ---------------------------------------------------------------- halves */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float pt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF;
    if (exp == 0x1F) return bits_f32(sign | 0x7F800000u | (man << 13)); /* inf / NaN */
    if (exp == 0) {
        if (man == 0) return bits_f32(sign); /* +-0 */
        /* subnormal man * 2^-24: normalise so the leading 1 reaches bit 10 */
        uint32_t e = 113; /* biased float exponent of 2^-14 */
        while (!(man & 0x400)) man <<= 1, e--;
        return bits_f32(sign | (e << 23) | ((man & 0x3FF) << 13));
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

float pt_bf16_to_f32(uint16_t h) {
    return bits_f32((uint32_t)h << 16);
}

uint16_t pt_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040); /* quiet NaN */
    u += 0x7FFFu + ((u >> 16) & 1); /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

uint16_t pt_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return sign | 0x7E00 | (uint16_t)((a >> 13) & 0x3FF); /* NaN */
    if (a >= 0x477FF000u) return sign | 0x7C00; /* >= 65520 rounds to infinity */
    if (a < 0x38800000u) {                      /* below 2^-14: half subnormal or zero */
        uint32_t e = a >> 23;
        if (e < 102) return sign;                                /* < 2^-25: rounds to zero */
        uint32_t m = (a & 0x7FFFFF) | 0x800000, shift = 126 - e; /* value = m * 2^(e-150) */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t h = (a - 0x38000000u) >> 13, rem = a & 0x1FFF; /* rebias exponent 127 -> 15 */
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return sign | (uint16_t)h;
}

/* ---------------------------------------------------------------- reader */

/* A JSON number that is a plain non-negative integer literal, exactly. */
static int json_u64(const pt_json *v, uint64_t *out) {
    if (!v || v->type != PT_JSON_NUMBER) return 0;
    const char *s = v->num_text;
    uint64_t x = 0;
    if (!*s) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        if (__builtin_mul_overflow(x, 10, &x) ||
            __builtin_add_overflow(x, (uint64_t)(*s - '0'), &x))
            return 0;
    }
    *out = x;
    return 1;
}

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

typedef struct span {
    uint64_t begin, end;
    int idx;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Fill tensor t from its header entry v; data section is data[0..dsize). */
static pt_status parse_tensor(pt_st_file *f, const char *name, const pt_json *v,
                              const unsigned char *data, uint64_t dsize, pt_st_tensor *t,
                              span *sp) {
    const char *fn = f->path;
    if (v->type != PT_JSON_OBJECT)
        return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", fn, name);
    const char *dt;
    if (!pt_json_get_str(v, "dtype", &dt))
        return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s': missing string \"dtype\"", fn, name);
    if (!dtype_from_name(dt, &t->dtype))
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: tensor '%s': unknown dtype \"%s\"", fn, name, dt);
    const pt_json *shape = pt_json_get(v, "shape");
    if (!shape || shape->type != PT_JSON_ARRAY)
        return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s': missing array \"shape\"", fn, name);
    if (shape->len > PT_ST_MAX_DIMS)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d)", fn, name,
                       shape->len, PT_ST_MAX_DIMS);
    t->ndim = (int)shape->len;
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t dim;
        if (!json_u64(shape->items[d], &dim) || dim > (uint64_t)INT64_MAX)
            return pt_fail(PT_ERR_FORMAT,
                           "%s: tensor '%s': shape[%d] is not a non-negative integer", fn, name, d);
        t->shape[d] = (int64_t)dim;
        if (__builtin_mul_overflow(numel, dim, &numel) || numel > (uint64_t)INT64_MAX)
            return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s': shape overflows", fn, name);
    }
    const pt_json *off = pt_json_get(v, "data_offsets");
    uint64_t b, e, nbytes;
    if (!off || off->type != PT_JSON_ARRAY || off->len != 2 || !json_u64(off->items[0], &b) ||
        !json_u64(off->items[1], &e))
        return pt_fail(PT_ERR_FORMAT,
                       "%s: tensor '%s': \"data_offsets\" must be two non-negative integers", fn,
                       name);
    if (b > e || e > dsize)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] outside the data section of "
                       "%llu bytes",
                       fn, name, (unsigned long long)b, (unsigned long long)e,
                       (unsigned long long)dsize);
    char sh[128];
    fmt_shape(sh, sizeof sh, t->ndim, t->shape);
    if (__builtin_mul_overflow(numel, (uint64_t)pt_dtype_size(t->dtype), &nbytes))
        return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s': byte size of shape %s overflows", fn, name,
                       sh);
    if (nbytes != e - b)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets span %llu bytes, but shape %s of %s needs "
                       "%llu",
                       fn, name, (unsigned long long)(e - b), sh, dt, (unsigned long long)nbytes);
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)nbytes;
    t->data = data + b;
    sp->begin = b;
    sp->end = e;
    return PT_OK;
}

static pt_status parse_metadata(pt_st_file *f, const pt_json *m) {
    if (m->type != PT_JSON_OBJECT)
        return pt_fail(PT_ERR_FORMAT, "%s: __metadata__ is not an object", f->path);
    f->meta_keys = pt_zalloc(m->len, sizeof(char *));
    f->meta_vals = pt_zalloc(m->len, sizeof(char *));
    if (!f->meta_keys || !f->meta_vals) return pt_fail(PT_ERR_NOMEM, "%s: out of memory", f->path);
    for (size_t i = 0; i < m->len; i++) {
        if (m->items[i]->type != PT_JSON_STRING)
            return pt_fail(PT_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", f->path,
                           m->keys[i]);
        f->meta_keys[i] = pt_strndup(m->keys[i], m->key_lens[i]);
        f->meta_vals[i] = pt_strndup(m->items[i]->str, m->items[i]->len);
        f->n_meta = (int)i + 1;
        if (!f->meta_keys[i] || !f->meta_vals[i])
            return pt_fail(PT_ERR_NOMEM, "%s: out of memory", f->path);
    }
    return PT_OK;
}

static pt_status st_parse(pt_st_file *f, const unsigned char *buf, size_t size) {
    const char *fn = f->path;
    if (size < 8)
        return pt_fail(PT_ERR_FORMAT, "%s: %zu bytes, too short for the 8-byte header length", fn,
                       size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > size - 8)
        return pt_fail(PT_ERR_FORMAT, "%s: header length %llu exceeds the file (%zu bytes)", fn,
                       (unsigned long long)hlen, size);
    if (hlen > PT_ST_MAX_HEADER)
        return pt_fail(PT_ERR_FORMAT, "%s: header length %llu is over the 100 MB limit", fn,
                       (unsigned long long)hlen);
    pt_json_doc doc;
    pt_status s = pt_json_parse(&doc, (const char *)buf + 8, (size_t)hlen);
    if (s) return pt_fail_ctx(s, "%s: header", fn);
    const unsigned char *data = buf + 8 + hlen;
    uint64_t dsize = size - 8 - hlen;
    const pt_json *root = doc.root;
    span *spans = NULL;
    pt_strmap seen;
    pt_strmap_init(&seen);
    if (root->type != PT_JSON_OBJECT) {
        s = pt_fail(PT_ERR_FORMAT, "%s: header is not a JSON object", fn);
        goto done;
    }
    f->tensors = pt_zalloc(root->len, sizeof(pt_st_tensor));
    spans = pt_zalloc(root->len, sizeof(span));
    if (!f->tensors || !spans) {
        s = pt_fail(PT_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    for (size_t i = 0; i < root->len; i++) {
        const char *key = root->keys[i];
        size_t kl = root->key_lens[i];
        if (strlen(key) != kl) {
            s = pt_fail(PT_ERR_FORMAT, "%s: tensor name with a NUL byte", fn);
            goto done;
        }
        if (pt_strmap_get(&seen, key, kl, NULL)) {
            s = pt_fail(PT_ERR_FORMAT, "%s: '%s' appears twice in the header", fn, key);
            goto done;
        }
        if ((s = pt_strmap_put(&seen, key, kl, 1))) goto done;
        if (strcmp(key, "__metadata__") == 0) {
            if ((s = parse_metadata(f, root->items[i]))) goto done;
            continue;
        }
        int k = f->n_tensors;
        pt_st_tensor *t = &f->tensors[k];
        if ((s = parse_tensor(f, key, root->items[i], data, dsize, t, &spans[k]))) goto done;
        spans[k].idx = k;
        t->name = pt_strndup(key, kl);
        if (!t->name) {
            s = pt_fail(PT_ERR_NOMEM, "%s: out of memory", fn);
            goto done;
        }
        f->n_tensors++;
    }
    /* no overlaps: sorted by begin, each tensor must start at or after the
     * previous end (empty tensors overlap nothing) */
    qsort(spans, (size_t)f->n_tensors, sizeof(span), cmp_span);
    uint64_t prev_end = 0;
    int prev = -1;
    for (int i = 0; i < f->n_tensors; i++) {
        if (spans[i].begin == spans[i].end) continue;
        if (prev >= 0 && spans[i].begin < prev_end) {
            s = pt_fail(PT_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data section", fn,
                        f->tensors[prev].name, f->tensors[spans[i].idx].name);
            goto done;
        }
        prev = spans[i].idx;
        prev_end = spans[i].end;
    }
done:
    pt_strmap_free(&seen);
    free(spans);
    pt_json_doc_free(&doc);
    return s;
}

static pt_status st_open_common(pt_st_file *f, const unsigned char *buf, size_t size) {
    pt_status s = st_parse(f, buf, size);
    if (s) pt_st_close(f);
    return s;
}

pt_status pt_st_open(pt_st_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->path = pt_strdup(path);
    if (!f->path) return pt_fail(PT_ERR_NOMEM, "out of memory");
    pt_status s = pt_map_file(path, &f->map);
    if (s) {
        pt_st_close(f);
        return s;
    }
    return st_open_common(f, f->map.data, f->map.size);
}

pt_status pt_st_open_buffer(pt_st_file *f, const void *data, size_t size, const char *name) {
    memset(f, 0, sizeof *f);
    f->path = pt_strdup(name ? name : "<buffer>");
    if (!f->path) return pt_fail(PT_ERR_NOMEM, "out of memory");
    if (!data && size) {
        pt_st_close(f);
        return pt_fail(PT_ERR_ARG, "pt_st_open_buffer: NULL data");
    }
    return st_open_common(f, data, size); /* f->map stays empty: nothing to unmap */
}

void pt_st_close(pt_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    pt_unmap(&f->map);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const pt_st_tensor *pt_st_find(const pt_st_file *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *pt_st_meta(const pt_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

pt_status pt_st_to_f32(const pt_st_tensor *t, float *out) {
    const unsigned char *p = t->data; /* may be unaligned: read through memcpy */
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case PT_DTYPE_F32: {
        /* in 1 MB pieces shared among the threads: a large tensor's copy is bound
         * by first-touch page faults on out, and those go in parallel */
        size_t piece = (size_t)1 << 18, n_pieces = (n + piece - 1) / piece; // floats
#pragma omp parallel for schedule(static) if (n_pieces > 4)
        for (size_t i = 0; i < n_pieces; i++) {
            size_t k = n - i * piece < piece ? n - i * piece : piece;
            memcpy(out + i * piece, p + i * piece * 4, k * 4);
        }
        return PT_OK;
    }
    case PT_DTYPE_F16:
    case PT_DTYPE_BF16: {
        int bf = t->dtype == PT_DTYPE_BF16;
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = bf ? pt_bf16_to_f32(h) : pt_f16_to_f32(h);
        }
        return PT_OK;
    }
    case PT_DTYPE_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = (float)d;
        }
        return PT_OK;
    default:
        return pt_fail(PT_ERR_UNSUPPORTED, "tensor '%s': cannot convert dtype %s to float32",
                       t->name, pt_dtype_name(t->dtype));
    }
}

pt_status pt_st_find_shaped(const pt_st_file *f, const char *name, int ndim, const int64_t *shape,
                            const pt_st_tensor **out) {
    *out = NULL;
    const pt_st_tensor *t = pt_st_find(f, name);
    if (!t) return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s' not found", f->path, name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char want[160], got[160];
        fmt_shape(want, sizeof want, ndim, shape);
        fmt_shape(got, sizeof got, t->ndim, t->shape);
        return pt_fail(PT_ERR_MISMATCH, "%s: tensor '%s': expected shape %s, found %s", f->path,
                       name, want, got);
    }
    *out = t;
    return PT_OK;
}

pt_status pt_st_load_f32(const pt_st_file *f, const char *name, int ndim, const int64_t *shape,
                         float **out) {
    *out = NULL;
    const pt_st_tensor *t;
    pt_status s0 = pt_st_find_shaped(f, name, ndim, shape, &t);
    if (s0) return s0;
    float *buf = pt_alloc((size_t)t->numel, sizeof(float));
    if (!buf) return pt_fail(PT_ERR_NOMEM, "%s: tensor '%s': out of memory", f->path, name);
    pt_status s = pt_st_to_f32(t, buf);
    if (s) {
        free(buf);
        return pt_fail_ctx(s, "%s", f->path);
    }
    *out = buf;
    return PT_OK;
}

/* ---------------------------------------------------------------- writer */

typedef struct st_entry {
    char *name;
    int ndim;
    int64_t shape[PT_ST_MAX_DIMS];
    float *data; /* (numel) copy */
    size_t nbytes;
} st_entry;

struct pt_st_writer {
    st_entry *t;
    int n, cap;
    char **mkeys, **mvals;
    int nm, mcap;
};

pt_st_writer *pt_st_writer_new(void) {
    return calloc(1, sizeof(pt_st_writer));
}

void pt_st_writer_free(pt_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    for (int i = 0; i < w->nm; i++) {
        free(w->mkeys[i]);
        free(w->mvals[i]);
    }
    free(w->t);
    free(w->mkeys);
    free(w->mvals);
    free(w);
}

pt_status pt_st_writer_add_f32(pt_st_writer *w, const char *name, int ndim, const int64_t *shape,
                               const float *data) {
    if (!name || !*name || strcmp(name, "__metadata__") == 0)
        return pt_fail(PT_ERR_ARG, "safetensors writer: invalid tensor name '%s'",
                       name ? name : "(null)");
    if (ndim < 0 || ndim > PT_ST_MAX_DIMS)
        return pt_fail(PT_ERR_ARG, "safetensors writer: tensor '%s': %d dimensions", name, ndim);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return pt_fail(PT_ERR_ARG, "safetensors writer: tensor '%s' added twice", name);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0 || !pt_mul_ok(numel, (size_t)shape[d], &numel))
            return pt_fail(PT_ERR_ARG, "safetensors writer: tensor '%s': bad shape[%d] = %lld",
                           name, d, (long long)shape[d]);
    size_t nbytes;
    if (!pt_mul_ok(numel, sizeof(float), &nbytes))
        return pt_fail(PT_ERR_ARG, "safetensors writer: tensor '%s' too large", name);
    if (w->n == w->cap) {
        int nc = w->cap ? 2 * w->cap : 16;
        st_entry *nt = pt_realloc(w->t, (size_t)nc, sizeof *nt);
        if (!nt) return pt_fail(PT_ERR_NOMEM, "out of memory");
        w->t = nt;
        w->cap = nc;
    }
    st_entry *e = &w->t[w->n];
    memset(e, 0, sizeof *e);
    e->name = pt_strdup(name);
    e->data = pt_alloc(numel, sizeof(float));
    if (!e->name || !e->data) {
        free(e->name);
        free(e->data);
        return pt_fail(PT_ERR_NOMEM, "safetensors writer: tensor '%s': out of memory", name);
    }
    if (nbytes) memcpy(e->data, data, nbytes);
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    e->nbytes = nbytes;
    w->n++;
    return PT_OK;
}

pt_status pt_st_writer_meta(pt_st_writer *w, const char *key, const char *value) {
    for (int i = 0; i < w->nm; i++)
        if (strcmp(w->mkeys[i], key) == 0) { /* overwrite */
            char *v = pt_strdup(value);
            if (!v) return pt_fail(PT_ERR_NOMEM, "out of memory");
            free(w->mvals[i]);
            w->mvals[i] = v;
            return PT_OK;
        }
    if (w->nm == w->mcap) {
        int nc = w->mcap ? 2 * w->mcap : 8;
        char **nk = pt_realloc(w->mkeys, (size_t)nc, sizeof *nk);
        if (!nk) return pt_fail(PT_ERR_NOMEM, "out of memory");
        w->mkeys = nk;
        char **nv = pt_realloc(w->mvals, (size_t)nc, sizeof *nv);
        if (!nv) return pt_fail(PT_ERR_NOMEM, "out of memory");
        w->mvals = nv;
        w->mcap = nc;
    }
    char *k = pt_strdup(key), *v = pt_strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    w->mkeys[w->nm] = k;
    w->mvals[w->nm] = v;
    w->nm++;
    return PT_OK;
}

/* Header JSON; tensors are laid out back to back in the order added. Every
 * tensor is float32, so each starts 4-byte aligned after the 8-aligned data
 * section (the reference reader rejects gaps between tensors). */
static pt_status build_header(const pt_st_writer *w, pt_buf *h) {
    pt_status s;
    if ((s = pt_buf_puts(h, "{"))) return s;
    if (w->nm) {
        if ((s = pt_buf_puts(h, "\"__metadata__\":{"))) return s;
        for (int i = 0; i < w->nm; i++) {
            if (i && (s = pt_buf_puts(h, ","))) return s;
            if ((s = pt_json_write_string(h, w->mkeys[i], strlen(w->mkeys[i])))) return s;
            if ((s = pt_buf_puts(h, ":"))) return s;
            if ((s = pt_json_write_string(h, w->mvals[i], strlen(w->mvals[i])))) return s;
        }
        if ((s = pt_buf_puts(h, "}"))) return s;
    }
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const st_entry *e = &w->t[i];
        if ((i || w->nm) && (s = pt_buf_puts(h, ","))) return s;
        if ((s = pt_json_write_string(h, e->name, strlen(e->name)))) return s;
        if ((s = pt_buf_puts(h, ":{\"dtype\":\"F32\",\"shape\":["))) return s;
        for (int d = 0; d < e->ndim; d++)
            if ((s = pt_buf_printf(h, "%s%lld", d ? "," : "", (long long)e->shape[d]))) return s;
        if ((s = pt_buf_printf(h, "],\"data_offsets\":[%zu,%zu]}", off, off + e->nbytes))) return s;
        off += e->nbytes;
    }
    if ((s = pt_buf_puts(h, "}"))) return s;
    while (h->n % 8)
        if ((s = pt_buf_puts(h, " "))) return s;
    return PT_OK;
}

pt_status pt_st_writer_save(pt_st_writer *w, const char *path) {
    pt_buf h = {0};
    pt_atomic_file af;
    pt_status s = build_header(w, &h);
    if (s) {
        pt_buf_free(&h);
        return pt_fail_ctx(s, "%s", path);
    }
    if ((s = pt_atomic_open(&af, path))) {
        pt_buf_free(&h);
        return s;
    }
    unsigned char len8[8];
    uint64_t n = h.n;
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(n >> (8 * i));
    if ((s = pt_atomic_write(&af, len8, 8))) goto fail;
    if ((s = pt_atomic_write(&af, h.v, h.n))) goto fail;
    for (int i = 0; i < w->n; i++)
        if ((s = pt_atomic_write(&af, w->t[i].data, w->t[i].nbytes))) goto fail;
    pt_buf_free(&h);
    return pt_atomic_commit(&af);
fail:
    pt_atomic_abort(&af);
    pt_buf_free(&h);
    return s;
}
