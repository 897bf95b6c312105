/* gguf.c - GGUF v2/v3 reader: parse and validate the header, the metadata
 * key-values and the tensor infos of a mapped file; convert tensors of every
 * type ptune reads (kernels/weight.h: F32, F16, BF16, ggml's Q4_0 ... Q6_K)
 * to float32.
 *
 * Everything read from the file is checked before use: every read is bounded
 * by the bytes left, counts are bounded by the bytes each item needs at least,
 * tensor sizes are computed with overflow checks and must lie inside the data
 * section. Memory grows with what was actually parsed, never with a count
 * taken on trust.
 */
#include "formats/gguf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/strmap.h"
#include "kernels/quant.h"
#include "kernels/weight.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_ALIGNMENT (1u << 24)
#define GGUF_MAX_DEPTH 8     /* arrays of arrays nested at most this deep */
#define GGUF_MAX_KEY 65535   /* the spec's limit on key length */
#define GGUF_MAX_NAME 4096   /* tensor names (ggml itself uses 64) */
#define GGUF_HEADER_BYTES 24 /* magic, version, n_tensors, n_kv */
#define GGUF_KV_MIN_BYTES 13 /* key length (8) + type (4) + smallest value (1) */
#define GGUF_TI_MIN_BYTES 24 /* name length (8) + n_dims (4) + type (4) + offset (8) */

/* ---------------------------------------------------------------- reading */

typedef struct gguf_reader {
    const unsigned char *p; /* whole file */
    size_t size;
    size_t off; /* next byte to read */
    const char *file;
} gguf_reader;

static uint16_t le16(const unsigned char *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t le64(const unsigned char *p) {
    return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}

static size_t rd_left(const gguf_reader *r) {
    return r->size - r->off;
}

static pt_status rd_need(const gguf_reader *r, uint64_t n, const char *what) {
    if (n > rd_left(r))
        return pt_fail(PT_ERR_FORMAT,
                       "%s: truncated: %s needs %llu bytes at offset %zu but only %zu remain",
                       r->file, what, (unsigned long long)n, r->off, rd_left(r));
    return PT_OK;
}

static pt_status rd_u32(gguf_reader *r, uint32_t *v, const char *what) {
    pt_status s = rd_need(r, 4, what);
    if (s) return s;
    *v = le32(r->p + r->off);
    r->off += 4;
    return PT_OK;
}

static pt_status rd_u64(gguf_reader *r, uint64_t *v, const char *what) {
    pt_status s = rd_need(r, 8, what);
    if (s) return s;
    *v = le64(r->p + r->off);
    r->off += 8;
    return PT_OK;
}

/* A string: u64 length then bytes; the length is checked against the bytes left. */
static pt_status rd_str(gguf_reader *r, pt_gguf_str *out, const char *what) {
    uint64_t n;
    pt_status s = rd_u64(r, &n, what);
    if (s) return s;
    if (n > rd_left(r))
        return pt_fail(PT_ERR_FORMAT,
                       "%s: %s: string length %llu at offset %zu exceeds the %zu bytes left",
                       r->file, what, (unsigned long long)n, r->off - 8, rd_left(r));
    out->s = (const char *)(r->p + r->off);
    out->len = n;
    r->off += (size_t)n;
    return PT_OK;
}

size_t pt_gguf_scalar_size(uint32_t t) {
    switch (t) {
    case PT_GGUF_UINT8:
    case PT_GGUF_INT8:
    case PT_GGUF_BOOL:
        return 1;
    case PT_GGUF_UINT16:
    case PT_GGUF_INT16:
        return 2;
    case PT_GGUF_UINT32:
    case PT_GGUF_INT32:
    case PT_GGUF_FLOAT32:
        return 4;
    case PT_GGUF_UINT64:
    case PT_GGUF_INT64:
    case PT_GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

static int type_known(uint32_t t) {
    return t <= PT_GGUF_FLOAT64;
}

/* Least bytes one element of type t occupies (for bounding counts). */
static size_t min_elem_size(uint32_t t) {
    if (t == PT_GGUF_STRING) return 8;
    if (t == PT_GGUF_ARRAY) return 12;
    return pt_gguf_scalar_size(t);
}

/* Decode a scalar at p into kv (integers widened, bool 0/1). */
static pt_status decode_scalar(pt_gguf_kv *kv, uint32_t t, const unsigned char *p,
                               const gguf_reader *r, const char *key) {
    kv->i = 0, kv->u = 0, kv->f = 0;
    int is_signed = 0, is_float = 0;
    switch (t) {
    case PT_GGUF_UINT8:
        kv->u = p[0];
        break;
    case PT_GGUF_INT8:
        kv->i = (int8_t)p[0], is_signed = 1;
        break;
    case PT_GGUF_UINT16:
        kv->u = le16(p);
        break;
    case PT_GGUF_INT16:
        kv->i = (int16_t)le16(p), is_signed = 1;
        break;
    case PT_GGUF_UINT32:
        kv->u = le32(p);
        break;
    case PT_GGUF_INT32:
        kv->i = (int32_t)le32(p), is_signed = 1;
        break;
    case PT_GGUF_UINT64:
        kv->u = le64(p);
        break;
    case PT_GGUF_INT64:
        kv->i = (int64_t)le64(p), is_signed = 1;
        break;
    case PT_GGUF_BOOL:
        if (p[0] > 1)
            return pt_fail(PT_ERR_FORMAT, "%s: key '%s': bool value %u is neither 0 nor 1", r->file,
                           key, p[0]);
        kv->u = p[0];
        break;
    case PT_GGUF_FLOAT32: {
        uint32_t b = le32(p);
        float f;
        memcpy(&f, &b, 4);
        kv->f = f, is_float = 1;
        break;
    }
    case PT_GGUF_FLOAT64: {
        uint64_t b = le64(p);
        memcpy(&kv->f, &b, 8);
        is_float = 1;
        break;
    }
    default:
        return pt_fail(PT_ERR_FORMAT, "%s: key '%s': not a scalar type", r->file, key);
    }
    if (is_float) return PT_OK;
    if (is_signed) {
        kv->u = kv->i >= 0 ? (uint64_t)kv->i : 0;
        kv->f = (double)kv->i;
    } else {
        kv->i = kv->u <= (uint64_t)INT64_MAX ? (int64_t)kv->u : 0;
        kv->f = (double)kv->u;
    }
    return PT_OK;
}

/* Skip (and validate) one value of type t; arrays may nest up to GGUF_MAX_DEPTH. */
static pt_status skip_value(gguf_reader *r, uint32_t t, int depth, const char *key) {
    if (!type_known(t))
        return pt_fail(PT_ERR_FORMAT, "%s: key '%s': unknown value type %u", r->file, key, t);
    size_t sz = pt_gguf_scalar_size(t);
    if (sz) {
        pt_status s = rd_need(r, sz, key);
        if (s) return s;
        if (t == PT_GGUF_BOOL && r->p[r->off] > 1)
            return pt_fail(PT_ERR_FORMAT, "%s: key '%s': bool value %u is neither 0 nor 1", r->file,
                           key, r->p[r->off]);
        r->off += sz;
        return PT_OK;
    }
    if (t == PT_GGUF_STRING) {
        pt_gguf_str str;
        return rd_str(r, &str, key);
    }
    /* array */
    if (depth >= GGUF_MAX_DEPTH)
        return pt_fail(PT_ERR_FORMAT, "%s: key '%s': arrays nested deeper than %d", r->file, key,
                       GGUF_MAX_DEPTH);
    uint32_t at;
    uint64_t n;
    pt_status s = rd_u32(r, &at, key);
    if (!s) s = rd_u64(r, &n, key);
    if (s) return s;
    if (!type_known(at))
        return pt_fail(PT_ERR_FORMAT, "%s: key '%s': unknown array element type %u", r->file, key,
                       at);
    if (n > rd_left(r) / min_elem_size(at))
        return pt_fail(PT_ERR_FORMAT,
                       "%s: key '%s': array of %llu elements cannot fit in the %zu bytes left",
                       r->file, key, (unsigned long long)n, rd_left(r));
    if (pt_gguf_scalar_size(at) && at != PT_GGUF_BOOL) {
        r->off += (size_t)n * pt_gguf_scalar_size(at);
        return PT_OK;
    }
    for (uint64_t k = 0; k < n; k++) {
        s = skip_value(r, at, depth + 1, key);
        if (s) return s;
    }
    return PT_OK;
}

/* Parse the value of one key-value pair (the key is already read). */
static pt_status parse_value(gguf_reader *r, pt_gguf_kv *kv) {
    uint32_t t;
    pt_status s = rd_u32(r, &t, kv->key);
    if (s) return s;
    if (!type_known(t))
        return pt_fail(PT_ERR_FORMAT, "%s: key '%s': unknown value type %u", r->file, kv->key, t);
    kv->type = (pt_gguf_type)t;
    size_t sz = pt_gguf_scalar_size(t);
    if (sz) {
        s = rd_need(r, sz, kv->key);
        if (s) return s;
        s = decode_scalar(kv, t, r->p + r->off, r, kv->key);
        r->off += sz;
        return s;
    }
    if (t == PT_GGUF_STRING) return rd_str(r, &kv->str, kv->key);
    /* array: element type, count, then the elements */
    uint32_t at;
    uint64_t n;
    s = rd_u32(r, &at, kv->key);
    if (!s) s = rd_u64(r, &n, kv->key);
    if (s) return s;
    if (!type_known(at))
        return pt_fail(PT_ERR_FORMAT, "%s: key '%s': unknown array element type %u", r->file,
                       kv->key, at);
    if (n > rd_left(r) / min_elem_size(at))
        return pt_fail(PT_ERR_FORMAT,
                       "%s: key '%s': array of %llu elements cannot fit in the %zu bytes left",
                       r->file, kv->key, (unsigned long long)n, rd_left(r));
    kv->arr_type = (pt_gguf_type)at;
    kv->arr_n = n;
    kv->arr_data = r->p + r->off;
    if (at == PT_GGUF_STRING) {
        kv->arr_strs = pt_alloc((size_t)n, sizeof *kv->arr_strs);
        if (!kv->arr_strs)
            return pt_fail(PT_ERR_NOMEM, "%s: key '%s': out of memory for %llu strings", r->file,
                           kv->key, (unsigned long long)n);
        for (uint64_t k = 0; k < n; k++) {
            s = rd_str(r, &kv->arr_strs[k], kv->key);
            if (s) return s;
        }
        return PT_OK;
    }
    /* numeric arrays are left in place (arr_data); arrays of arrays are
     * validated and skipped, arr_data pointing at their raw bytes */
    if (pt_gguf_scalar_size(at) && at != PT_GGUF_BOOL) {
        r->off += (size_t)n * pt_gguf_scalar_size(at); /* fits: n bounded by the bytes left */
        return PT_OK;
    }
    for (uint64_t k = 0; k < n; k++) {
        s = skip_value(r, at, 1, kv->key);
        if (s) return s;
    }
    return PT_OK;
}

/* ---------------------------------------------------------------- tensors */

/* Bytes of a tensor of ggml type t with ne[0] values per row and numel
 * values: the types of kernels/weight.h (float and block-quantized), rows of
 * whole blocks; every other type is refused by name. */
static pt_status tensor_nbytes(const gguf_reader *r, const char *name, uint32_t t, int64_t ne0,
                               uint64_t numel, size_t *out) {
    int wt = pt_wtype_from_ggml(t);
    if (wt < 0) {
        char buf[32];
        const char *tn = pt_ggml_type_name(t, buf, sizeof buf);
        if (tn == buf) /* an id ggml does not have (or ptune does not know) */
            return pt_fail(PT_ERR_UNSUPPORTED, "%s: tensor '%s' has unknown ggml type %u", r->file,
                           name, t);
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: tensor '%s' has type %s (ggml type %u), which ptune does not read "
                       "(it reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, "
                       "Q5_K and Q6_K)",
                       r->file, name, tn, t);
    }
    const pt_wtype_info *in = pt_wtype_get((pt_wtype)wt);
    if (ne0 % in->block)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: tensor '%s': %s row length %lld is not a multiple of its block of %d",
                       r->file, name, in->name, (long long)ne0, in->block);
    /* numel is a multiple of ne0, so of the block */
    if (numel > SIZE_MAX ||
        !pt_mul_ok((size_t)(numel / (uint64_t)in->block), (size_t)in->bytes, out))
        return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s': size overflows", r->file, name);
    return PT_OK;
}

static pt_status parse_tensor_info(gguf_reader *r, pt_gguf_tensor *ti, int64_t idx) {
    char what[64];
    snprintf(what, sizeof what, "tensor info #%lld", (long long)idx);
    pt_gguf_str name;
    pt_status s = rd_str(r, &name, what);
    if (s) return s;
    if (name.len == 0 || name.len > GGUF_MAX_NAME || memchr(name.s, 0, (size_t)name.len))
        return pt_fail(PT_ERR_FORMAT, "%s: %s: name is empty, longer than %d or contains NUL",
                       r->file, what, GGUF_MAX_NAME);
    ti->name = pt_strndup(name.s, (size_t)name.len);
    if (!ti->name) return pt_fail(PT_ERR_NOMEM, "%s: out of memory", r->file);
    uint32_t nd;
    s = rd_u32(r, &nd, ti->name);
    if (s) return s;
    if (nd < 1 || nd > 4)
        return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s': n_dims %u is not in 1..4", r->file,
                       ti->name, nd);
    ti->n_dims = (int)nd;
    uint64_t numel = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t ne;
        s = rd_u64(r, &ne, ti->name);
        if (s) return s;
        if (ne > (uint64_t)INT64_MAX)
            return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s': ne[%u] = %llu is negative", r->file,
                           ti->name, d, (unsigned long long)ne);
        ti->ne[d] = (int64_t)ne;
        if (ne && numel > (uint64_t)INT64_MAX / ne)
            return pt_fail(PT_ERR_FORMAT, "%s: tensor '%s': element count overflows", r->file,
                           ti->name);
        numel *= ne;
    }
    for (uint32_t d = nd; d < 4; d++) ti->ne[d] = 1;
    s = rd_u32(r, &ti->type, ti->name);
    if (!s) s = rd_u64(r, &ti->offset, ti->name);
    if (s) return s;
    return tensor_nbytes(r, ti->name, ti->type, ti->ne[0], numel, &ti->nbytes);
}

/* ---------------------------------------------------------------- open */

void pt_gguf_close(pt_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; g->kv && i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].arr_strs);
    }
    free(g->kv);
    for (int64_t i = 0; g->tensors && i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->tensors);
    if (g->owns_copy)
        free((void *)g->map.data);
    else
        pt_unmap(&g->map);
    free(g->path);
    memset(g, 0, sizeof *g);
}

/* Grow *arr (of elem bytes) so that index n fits; zero the new tail. */
static int grow(void **arr, int64_t *cap, int64_t n, size_t elem) {
    if (n < *cap) return 1;
    int64_t nc = *cap ? *cap * 2 : 16;
    void *p = pt_realloc(*arr, (size_t)nc, elem);
    if (!p) return 0;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return 1;
}

static pt_status parse_header(gguf_reader *r, pt_gguf *g, uint64_t *n_tensors, uint64_t *n_kv) {
    if (r->size < 4 || memcmp(r->p, "GGUF", 4) != 0)
        return pt_fail(PT_ERR_FORMAT, "%s: not a GGUF file (bad magic)", r->file);
    r->off = 4;
    uint32_t v;
    pt_status s = rd_u32(r, &v, "version");
    if (s) return s;
    uint32_t swapped = __builtin_bswap32(v);
    if ((v & 0xffff) == 0 && swapped >= 1 && swapped <= 3)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: big-endian GGUF files are not supported", r->file);
    if (v == 1)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: GGUF version 1 is not supported (re-convert the model to v3)", r->file);
    if (v != 2 && v != 3)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: unsupported GGUF version %u (ptune reads 2 and 3)",
                       r->file, v);
    g->version = v;
    s = rd_u64(r, n_tensors, "tensor count");
    if (!s) s = rd_u64(r, n_kv, "key-value count");
    if (s) return s;
    /* each pair and each tensor info needs a minimum number of bytes */
    uint64_t left = rd_left(r);
    if (*n_kv > left / GGUF_KV_MIN_BYTES || *n_tensors > left / GGUF_TI_MIN_BYTES ||
        *n_kv * GGUF_KV_MIN_BYTES + *n_tensors * GGUF_TI_MIN_BYTES > left)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: %llu key-values and %llu tensors cannot fit in a %zu-byte file",
                       r->file, (unsigned long long)*n_kv, (unsigned long long)*n_tensors, r->size);
    return PT_OK;
}

static pt_status parse_kvs(gguf_reader *r, pt_gguf *g, uint64_t n_kv, pt_strmap *seen) {
    int64_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (!grow((void **)&g->kv, &cap, g->n_kv, sizeof *g->kv))
            return pt_fail(PT_ERR_NOMEM, "%s: out of memory", r->file);
        pt_gguf_kv *kv = &g->kv[g->n_kv++];
        char what[64];
        snprintf(what, sizeof what, "key #%llu", (unsigned long long)i);
        pt_gguf_str key;
        pt_status s = rd_str(r, &key, what);
        if (s) return s;
        if (key.len == 0 || key.len > GGUF_MAX_KEY || memchr(key.s, 0, (size_t)key.len))
            return pt_fail(PT_ERR_FORMAT, "%s: %s is empty, longer than %d or contains NUL",
                           r->file, what, GGUF_MAX_KEY);
        kv->key = pt_strndup(key.s, (size_t)key.len);
        if (!kv->key) return pt_fail(PT_ERR_NOMEM, "%s: out of memory", r->file);
        if (pt_strmap_get(seen, kv->key, (size_t)key.len, NULL))
            return pt_fail(PT_ERR_FORMAT, "%s: duplicate key '%s'", r->file, kv->key);
        s = pt_strmap_put(seen, kv->key, (size_t)key.len, (int)i);
        if (!s) s = parse_value(r, kv);
        if (s) return s;
    }
    return PT_OK;
}

static pt_status read_alignment(gguf_reader *r, pt_gguf *g) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const pt_gguf_kv *kv = pt_gguf_find(g, "general.alignment");
    if (!kv) return PT_OK;
    int64_t a;
    if (!pt_gguf_get_int(g, "general.alignment", &a))
        return pt_fail(PT_ERR_FORMAT, "%s: general.alignment is not an integer", r->file);
    if (a <= 0 || a > GGUF_MAX_ALIGNMENT || (a & (a - 1)))
        return pt_fail(PT_ERR_FORMAT, "%s: general.alignment %lld is not a power of two in 1..%u",
                       r->file, (long long)a, GGUF_MAX_ALIGNMENT);
    g->alignment = (uint64_t)a;
    return PT_OK;
}

static pt_status parse_tensors(gguf_reader *r, pt_gguf *g, uint64_t n_tensors, pt_strmap *seen) {
    int64_t cap = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (!grow((void **)&g->tensors, &cap, g->n_tensors, sizeof *g->tensors))
            return pt_fail(PT_ERR_NOMEM, "%s: out of memory", r->file);
        pt_gguf_tensor *ti = &g->tensors[g->n_tensors++];
        pt_status s = parse_tensor_info(r, ti, (int64_t)i);
        if (s) return s;
        size_t nl = strlen(ti->name);
        if (pt_strmap_get(seen, ti->name, nl, NULL))
            return pt_fail(PT_ERR_FORMAT, "%s: duplicate tensor '%s'", r->file, ti->name);
        s = pt_strmap_put(seen, ti->name, nl, (int)i);
        if (s) return s;
    }
    /* data section: after the infos, padded to the alignment */
    size_t data_start = r->off;
    size_t pad = (size_t)((g->alignment - data_start % g->alignment) % g->alignment);
    size_t data_size = 0;
    if (pt_add_ok(data_start, pad, &data_start) && data_start <= r->size)
        data_size = r->size - data_start;
    else if (g->n_tensors > 0)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: truncated: the tensor data section would start at "
                       "offset %zu, past the end of the %zu-byte file",
                       r->file, data_start, r->size);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        pt_gguf_tensor *ti = &g->tensors[i];
        if (ti->offset % g->alignment)
            return pt_fail(PT_ERR_FORMAT,
                           "%s: tensor '%s': offset %llu is not a multiple of the alignment %llu",
                           r->file, ti->name, (unsigned long long)ti->offset,
                           (unsigned long long)g->alignment);
        if (ti->offset > data_size || ti->nbytes > data_size - ti->offset)
            return pt_fail(PT_ERR_FORMAT,
                           "%s: tensor '%s': data [%llu, +%zu) lies outside the %zu-byte data "
                           "section",
                           r->file, ti->name, (unsigned long long)ti->offset, ti->nbytes,
                           data_size);
        ti->data = r->p + data_start + ti->offset;
    }
    return PT_OK;
}

static pt_status gguf_parse(pt_gguf *g) {
    gguf_reader r = {g->map.data, g->map.size, 0, g->path};
    uint64_t n_tensors, n_kv;
    pt_strmap keys, names;
    pt_strmap_init(&keys);
    pt_strmap_init(&names);
    pt_status s = parse_header(&r, g, &n_tensors, &n_kv);
    if (!s) s = parse_kvs(&r, g, n_kv, &keys);
    if (!s) s = read_alignment(&r, g);
    if (!s) s = parse_tensors(&r, g, n_tensors, &names);
    pt_strmap_free(&keys);
    pt_strmap_free(&names);
    return s;
}

pt_status pt_gguf_open(pt_gguf *g, const char *path) {
    memset(g, 0, sizeof *g);
    g->path = pt_strdup(path);
    if (!g->path) return pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
    pt_status s = pt_map_file(path, &g->map);
    if (!s) s = gguf_parse(g);
    if (s) pt_gguf_close(g);
    return s;
}

pt_status pt_gguf_open_buffer(pt_gguf *g, const void *data, size_t size, const char *name) {
    memset(g, 0, sizeof *g);
    if (!name) name = "<buffer>";
    g->path = pt_strdup(name);
    /* an exact-size heap copy: the caller's buffer may go away, and the
     * sanitizers see any read past the end */
    unsigned char *copy = pt_alloc(size, 1);
    if (!g->path || !copy) {
        free(copy);
        pt_gguf_close(g);
        return pt_fail(PT_ERR_NOMEM, "%s: out of memory", name);
    }
    if (size) memcpy(copy, data, size);
    g->map.data = copy;
    g->map.size = size;
    g->owns_copy = 1;
    pt_status s = gguf_parse(g);
    if (s) pt_gguf_close(g);
    return s;
}

/* ---------------------------------------------------------------- lookups */

const pt_gguf_kv *pt_gguf_find(const pt_gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

int pt_gguf_get_int(const pt_gguf *g, const char *key, int64_t *out) {
    const pt_gguf_kv *kv = pt_gguf_find(g, key);
    if (!kv) return 0;
    switch (kv->type) {
    case PT_GGUF_INT8:
    case PT_GGUF_INT16:
    case PT_GGUF_INT32:
    case PT_GGUF_INT64:
        *out = kv->i;
        return 1;
    case PT_GGUF_UINT8:
    case PT_GGUF_UINT16:
    case PT_GGUF_UINT32:
    case PT_GGUF_UINT64:
        if (kv->u > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)kv->u;
        return 1;
    default:
        return 0;
    }
}

int pt_gguf_get_float(const pt_gguf *g, const char *key, double *out) {
    const pt_gguf_kv *kv = pt_gguf_find(g, key);
    if (!kv) return 0;
    switch (kv->type) {
    case PT_GGUF_STRING:
    case PT_GGUF_ARRAY:
    case PT_GGUF_BOOL:
        return 0;
    default:
        *out = kv->f;
        return 1;
    }
}

char *pt_gguf_get_string(const pt_gguf *g, const char *key) {
    const pt_gguf_kv *kv = pt_gguf_find(g, key);
    if (!kv || kv->type != PT_GGUF_STRING) return NULL;
    return pt_strndup(kv->str.s, (size_t)kv->str.len);
}

const pt_gguf_tensor *pt_gguf_find_tensor(const pt_gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

/* ---------------------------------------------------------------- conversion */

static uint64_t tensor_numel(const pt_gguf_tensor *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) n *= (uint64_t)t->ne[d];
    return n;
}

pt_status pt_gguf_tensor_to_f32(const pt_gguf_tensor *t, float *out) {
    int wt = pt_wtype_from_ggml(t->type);
    if (wt < 0) /* refused at open: only a hand-made tensor gets here */
        return pt_fail(PT_ERR_UNSUPPORTED, "tensor '%s': unsupported tensor type %u", t->name,
                       t->type);
    /* fits: nbytes was computed from it at open; whole blocks per row, so
     * the tensor is one long row of whole blocks (little-endian data) */
    pt_dequant_row((pt_wtype)wt, out, t->data, (int64_t)tensor_numel(t));
    return PT_OK;
}

pt_status pt_gguf_load_f32(const pt_gguf *g, const char *name, int ndim, const int64_t *shape,
                           float **out) {
    *out = NULL;
    const pt_gguf_tensor *t = pt_gguf_find_tensor(g, name);
    if (!t) return pt_fail(PT_ERR_MISMATCH, "%s: tensor '%s' not found", g->path, name);
    int ok = t->n_dims == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = shape[d] == t->ne[ndim - 1 - d];
    if (!ok) {
        char want[128] = "", got[128] = "";
        size_t a = 0, b = 0;
        for (int d = 0; d < ndim && d < 4 && a < sizeof want; d++)
            a += (size_t)snprintf(want + a, sizeof want - a, "%s%lld", d ? ", " : "",
                                  (long long)shape[d]);
        for (int d = 0; d < t->n_dims && b < sizeof got; d++)
            b += (size_t)snprintf(got + b, sizeof got - b, "%s%lld", d ? ", " : "",
                                  (long long)t->ne[t->n_dims - 1 - d]);
        return pt_fail(PT_ERR_MISMATCH, "%s: tensor '%s' has shape [%s], expected [%s]", g->path,
                       name, got, want);
    }
    float *buf = pt_alloc((size_t)tensor_numel(t), sizeof(float));
    if (!buf) return pt_fail(PT_ERR_NOMEM, "%s: tensor '%s': out of memory", g->path, name);
    pt_status s = pt_gguf_tensor_to_f32(t, buf);
    if (s) {
        free(buf);
        return pt_fail_ctx(s, "%s", g->path);
    }
    *out = buf;
    return PT_OK;
}
