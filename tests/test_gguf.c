/* test_gguf.c - the GGUF reader: the real stories260K.gguf (checked against
 * the same weights in llama2.c's format), synthetic v2/v3 files written by
 * scripts/gen_gguf_fixtures.py (every value type, F32/F16/BF16/Q8_0 tensors
 * compared with torch-rounded references), and malformed files built here by
 * patching a small valid buffer: each must fail with a clear message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "test.h"

#define FIX "tests/fixtures/gguf/"

/* ------------------------------------------------------------ stories260K */

/* llama2.c checkpoint: 7 int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len), then float32 tables in the order
 * token_embedding (V, D), rms_att (L, D), wq (L, D, D), wk (L, KV, D),
 * wv (L, KV, D), wo (L, D, D), rms_ffn (L, D), w1 (L, H, D), w2 (L, D, H),
 * w3 (L, H, D), rms_final (D). */
static void test_stories(void) {
    const char *path = t_shared("models/stories260K/stories260K.gguf");
    const char *bin = t_shared("models/stories260K/stories260K.bin");
    if (!path) {
        t_note_skip("../shared/models/stories260K/stories260K.gguf absent");
        return;
    }
    pt_gguf g;
    pt_status s = pt_gguf_open(&g, path);
    CHECK(s == PT_OK, "open stories260K.gguf: %s", pt_last_error());
    if (s) return;
    char *arch = pt_gguf_get_string(&g, "general.architecture");
    printf("  stories260K.gguf: version %u, %lld kv, %lld tensors, architecture %s, alignment "
           "%llu\n",
           g.version, (long long)g.n_kv, (long long)g.n_tensors, arch ? arch : "?",
           (unsigned long long)g.alignment);
    CHECK(arch && strcmp(arch, "llama") == 0, "architecture %s", arch ? arch : "NULL");
    free(arch);
    for (int i = 0; i < 4 && i < g.n_tensors; i++) {
        const pt_gguf_tensor *t = &g.tensors[i];
        printf("    %-28s type %u ne [%lld, %lld, %lld, %lld]\n", t->name, t->type,
               (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    }
    struct {
        const char *key;
        int64_t want;
    } ints[] = {{"llama.embedding_length", 64},     {"llama.block_count", 5},
                {"llama.attention.head_count", 8},  {"llama.attention.head_count_kv", 4},
                {"llama.feed_forward_length", 172}, {"llama.context_length", 2048}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int64_t v = -1;
        CHECK(pt_gguf_get_int(&g, ints[i].key, &v) && v == ints[i].want, "%s = %lld, want %lld",
              ints[i].key, (long long)v, (long long)ints[i].want);
    }
    const pt_gguf_kv *tok = pt_gguf_find(&g, "tokenizer.ggml.tokens");
    CHECK(tok && tok->type == PT_GGUF_ARRAY && tok->arr_type == PT_GGUF_STRING && tok->arr_n == 512,
          "vocabulary of 512 strings");
    double eps = 0;
    CHECK(pt_gguf_get_float(&g, "llama.attention.layer_norm_rms_epsilon", &eps) &&
              fabs(eps - 1e-5) < 1e-10,
          "rms eps %g", eps);

    const int64_t D = 64, V = 512, L = 5, KV = 32, H = 172;
    float *emb = NULL, *norm = NULL, *down = NULL;
    s = pt_gguf_load_f32(&g, "token_embd.weight", 2, (int64_t[]){V, D}, &emb);
    CHECK(s == PT_OK, "token_embd: %s", pt_last_error());
    s = pt_gguf_load_f32(&g, "output_norm.weight", 1, (int64_t[]){D}, &norm);
    CHECK(s == PT_OK, "output_norm: %s", pt_last_error());
    s = pt_gguf_load_f32(&g, "blk.0.ffn_down.weight", 2, (int64_t[]){D, H}, &down);
    CHECK(s == PT_OK, "ffn_down: %s", pt_last_error());
    float *bad = NULL;
    s = pt_gguf_load_f32(&g, "token_embd.weight", 2, (int64_t[]){D, V}, &bad);
    CHECK(s == PT_ERR_MISMATCH && strstr(pt_last_error(), "token_embd.weight") && !bad,
          "transposed shape must be refused: %s", pt_last_error());
    s = pt_gguf_load_f32(&g, "nope", 1, (int64_t[]){1}, &bad);
    CHECK(s == PT_ERR_MISMATCH && strstr(pt_last_error(), "nope"), "missing tensor: %s",
          pt_last_error());

    pt_mapped m = {0};
    if (!bin) {
        t_note_skip("stories260K.bin absent: no cross-check of tensor values");
    } else if (emb && norm && down && pt_map_file(bin, &m) == PT_OK && m.size > 28) {
        const float *w = (const float *)(m.data + 28); /* after the 7-int header */
        size_t o_emb = 0, o_rms_att = o_emb + V * D, o_wq = o_rms_att + L * D;
        size_t o_wk = o_wq + L * D * D, o_wv = o_wk + L * KV * D, o_wo = o_wv + L * KV * D;
        size_t o_rms_ffn = o_wo + L * D * D, o_w1 = o_rms_ffn + L * D, o_w2 = o_w1 + L * H * D;
        size_t o_w3 = o_w2 + L * D * H, o_final = o_w3 + L * H * D;
        if ((o_final + D) * 4 + 28 <= m.size) {
            t_close("token_embd vs stories260K.bin", emb, w + o_emb, V * D, 0, 0);
            t_close("output_norm vs stories260K.bin", norm, w + o_final, D, 0, 0);
            t_close("blk.0.ffn_down vs stories260K.bin w2[0]", down, w + o_w2, D * H, 0, 0);
        } else {
            CHECK(0, "stories260K.bin too small (%zu bytes)", m.size);
        }
        pt_unmap(&m);
    }
    free(emb);
    free(norm);
    free(down);
    pt_gguf_close(&g);
}

/* ------------------------------------------------------------ synthetic files */

/* Row-major shape and a copy of the values of F32 tensor name in the reference
 * file (tests/fixtures/gguf/ref.safetensors); NULL if absent. */
static float *ref_get(const pt_st_file *r, const char *name, int *ndim, int64_t *shape,
                      size_t *numel) {
    const pt_st_tensor *t = r ? pt_st_find(r, name) : NULL;
    if (!t || t->dtype != PT_DTYPE_F32 || t->ndim > 4) return NULL;
    *ndim = t->ndim;
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    *numel = (size_t)t->numel;
    float *v = malloc(*numel * 4 + 4);
    if (v) memcpy(v, t->data, *numel * 4);
    return v;
}

static void check_tensors(const pt_gguf *g, const pt_st_file *ref) {
    static const char *names[] = {"t.f32", "t.f16", "t.bf16", "t.q8_0", "t.3d", "t.4d", "t.vec"};
    static const uint32_t types[] = {PT_GGML_F32, PT_GGML_F16,  PT_GGML_BF16, PT_GGML_Q8_0,
                                     PT_GGML_F32, PT_GGML_Q8_0, PT_GGML_F16};
    CHECK(g->n_tensors == 7, "n_tensors %lld", (long long)g->n_tensors);
    for (int i = 0; i < 7; i++) {
        const pt_gguf_tensor *t = pt_gguf_find_tensor(g, names[i]);
        int ndim = 0;
        int64_t shape[4];
        size_t numel = 0;
        float *want = ref_get(ref, names[i], &ndim, shape, &numel);
        CHECK(t && want, "tensor %s present in both", names[i]);
        if (!t || !want) {
            free(want);
            continue;
        }
        CHECK(t->type == types[i], "%s type %u", names[i], t->type);
        CHECK(t->offset % g->alignment == 0 && (size_t)(t->data - g->map.data) % g->alignment == 0,
              "%s aligned to %llu", names[i], (unsigned long long)g->alignment);
        float *got = NULL;
        pt_status s = pt_gguf_load_f32(g, names[i], ndim, shape, &got);
        CHECK(s == PT_OK, "load %s: %s", names[i], pt_last_error());
        if (got && want) {
            /* infinities must match exactly; then compare them as 0 */
            int inf_bad = 0;
            for (size_t k = 0; k < numel; k++)
                if (isinf(want[k]) || isinf(got[k])) {
                    inf_bad += got[k] != want[k];
                    got[k] = want[k] = 0;
                }
            CHECK(inf_bad == 0, "%s: %d infinities differ", names[i], inf_bad);
            char what[64];
            snprintf(what, sizeof what, "%s (%s)", names[i], g->path);
            /* exact: the reference is the value the writer stored */
            t_close(what, got, want, numel, 0, 0);
        }
        free(got);
        free(want);
    }
}

static int kv_int(const pt_gguf *g, const char *key, int64_t want) {
    int64_t v = 0;
    int ok = pt_gguf_get_int(g, key, &v) && v == want;
    CHECK(ok, "%s = %lld, want %lld", key, (long long)v, (long long)want);
    return ok;
}

static void test_types_v3(const pt_st_file *ref) {
    pt_gguf g;
    pt_status s = pt_gguf_open(&g, FIX "types_v3.gguf");
    CHECK(s == PT_OK, "open types_v3.gguf: %s", pt_last_error());
    if (s) return;
    CHECK(g.version == 3 && g.alignment == 32, "version %u alignment %llu", g.version,
          (unsigned long long)g.alignment);
    CHECK(g.n_kv == 21, "n_kv %lld", (long long)g.n_kv);
    kv_int(&g, "v.u8", 200);
    kv_int(&g, "v.i8", -5);
    kv_int(&g, "v.u16", 60000);
    kv_int(&g, "v.i16", -30000);
    kv_int(&g, "v.u32", 4294967295LL);
    kv_int(&g, "v.i32", -2000000000);
    kv_int(&g, "v.i64", -(1LL << 40));
    int64_t big;
    CHECK(!pt_gguf_get_int(&g, "v.u64", &big), "u64 2^63+5 does not fit int64");
    const pt_gguf_kv *kv = pt_gguf_find(&g, "v.u64");
    CHECK(kv && kv->type == PT_GGUF_UINT64 && kv->u == (1ULL << 63) + 5, "v.u64 raw");
    double f = 0;
    CHECK(pt_gguf_get_float(&g, "v.f32", &f) && f == 3.5, "v.f32 %g", f);
    CHECK(pt_gguf_get_float(&g, "v.f64", &f) && f == -0.125, "v.f64 %g", f);
    CHECK(pt_gguf_get_float(&g, "v.i32", &f) && f == -2e9, "int as float %g", f);
    CHECK(!pt_gguf_get_float(&g, "v.str", &f), "string is not a float");
    CHECK(!pt_gguf_get_int(&g, "v.f32", &big), "float is not an int");
    kv = pt_gguf_find(&g, "v.bool");
    CHECK(kv && kv->type == PT_GGUF_BOOL && kv->u == 1, "v.bool");
    char *str = pt_gguf_get_string(&g, "v.str");
    CHECK(str && strcmp(str, "h\xc3\xa9llo \xe2\x96\x81world") == 0, "v.str '%s'",
          str ? str : "NULL");
    free(str);
    CHECK(!pt_gguf_get_string(&g, "v.u8") && !pt_gguf_get_string(&g, "absent"),
          "get_string on non-strings");

    kv = pt_gguf_find(&g, "a.u8");
    CHECK(kv && kv->arr_type == PT_GGUF_UINT8 && kv->arr_n == 3 && kv->arr_data[0] == 1 &&
              kv->arr_data[2] == 255,
          "a.u8");
    kv = pt_gguf_find(&g, "a.i32");
    int32_t i32[3] = {0};
    if (kv && kv->arr_n == 3) memcpy(i32, kv->arr_data, sizeof i32);
    CHECK(kv && kv->arr_type == PT_GGUF_INT32 && i32[0] == -1 && i32[1] == 0 && i32[2] == 7,
          "a.i32");
    kv = pt_gguf_find(&g, "a.f32");
    float f32[2] = {0};
    if (kv && kv->arr_n == 2) memcpy(f32, kv->arr_data, sizeof f32);
    CHECK(kv && kv->arr_type == PT_GGUF_FLOAT32 && f32[0] == 0.5f && f32[1] == -2.0f, "a.f32");
    kv = pt_gguf_find(&g, "a.bool");
    CHECK(kv && kv->arr_type == PT_GGUF_BOOL && kv->arr_n == 3 && kv->arr_data[1] == 0, "a.bool");
    kv = pt_gguf_find(&g, "a.str");
    CHECK(kv && kv->arr_type == PT_GGUF_STRING && kv->arr_n == 3 && kv->arr_strs &&
              kv->arr_strs[0].len == 1 && kv->arr_strs[0].s[0] == 'a' && kv->arr_strs[1].len == 0 &&
              kv->arr_strs[2].len == 6 && memcmp(kv->arr_strs[2].s, "\xe2\x96\x81the", 6) == 0,
          "a.str");
    kv = pt_gguf_find(&g, "a.empty");
    CHECK(kv && kv->arr_type == PT_GGUF_INT64 && kv->arr_n == 0, "a.empty");
    kv = pt_gguf_find(&g, "a.nested");
    CHECK(kv && kv->arr_type == PT_GGUF_ARRAY && kv->arr_n == 3 && kv->arr_data, "a.nested");
    /* the key after the nested array was found at the right place */
    kv = pt_gguf_find(&g, "a.f64");
    double f64 = 0;
    if (kv && kv->arr_n == 1) memcpy(&f64, kv->arr_data, 8);
    CHECK(kv && kv->arr_type == PT_GGUF_FLOAT64 && f64 == 1.25, "a.f64 after nested array");
    if (ref) check_tensors(&g, ref);
    pt_gguf_close(&g);
}

static void test_align_v2(const pt_st_file *ref) {
    pt_gguf g;
    pt_status s = pt_gguf_open(&g, FIX "align_v2.gguf");
    CHECK(s == PT_OK, "open align_v2.gguf: %s", pt_last_error());
    if (s) return;
    CHECK(g.version == 2 && g.alignment == 128, "version %u alignment %llu", g.version,
          (unsigned long long)g.alignment);
    kv_int(&g, "v.i32", -2000000000);
    if (ref) check_tensors(&g, ref);
    pt_gguf_close(&g);
}

/* ------------------------------------------------------------ malformed files */

/* A small valid GGUF v3 file built byte by byte, remembering field offsets. */
typedef struct gbuf {
    unsigned char b[512];
    size_t n;
    /* offsets of fields the tests patch */
    size_t version, n_tensors, n_kv, key0_len, kv_bool, kv_u32_type, arr_type, arr_n, align_val,
        ti_ndims, ti_type, ti_offset, ti_ne0;
} gbuf;

static void put(gbuf *g, const void *p, size_t n) {
    memcpy(g->b + g->n, p, n);
    g->n += n;
}
static void put32(gbuf *g, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(g, x, 4);
}
static void put64(gbuf *g, uint64_t v) {
    put32(g, (uint32_t)v);
    put32(g, (uint32_t)(v >> 32));
}
static void putstr(gbuf *g, const char *s) {
    put64(g, strlen(s));
    put(g, s, strlen(s));
}
static void patch32(unsigned char *b, size_t at, uint32_t v) {
    for (int k = 0; k < 4; k++) b[at + k] = (unsigned char)(v >> (8 * k));
}
static void patch64(unsigned char *b, size_t at, uint64_t v) {
    patch32(b, at, (uint32_t)v);
    patch32(b, at + 4, (uint32_t)(v >> 32));
}

/* header, 5 kv (string, bool, u32, string array, alignment), one F16 tensor 4x2 */
static void build_small(gbuf *g) {
    memset(g, 0, sizeof *g);
    put(g, "GGUF", 4);
    g->version = g->n;
    put32(g, 3);
    g->n_tensors = g->n;
    put64(g, 1);
    g->n_kv = g->n;
    put64(g, 5);
    g->key0_len = g->n;
    putstr(g, "general.architecture");
    put32(g, PT_GGUF_STRING);
    putstr(g, "x");
    putstr(g, "b");
    put32(g, PT_GGUF_BOOL);
    g->kv_bool = g->n;
    put(g, "\x01", 1);
    putstr(g, "n");
    g->kv_u32_type = g->n;
    put32(g, PT_GGUF_UINT32);
    put32(g, 7);
    putstr(g, "arr");
    put32(g, PT_GGUF_ARRAY);
    g->arr_type = g->n;
    put32(g, PT_GGUF_STRING);
    g->arr_n = g->n;
    put64(g, 2);
    putstr(g, "ab");
    putstr(g, "c");
    putstr(g, "general.alignment");
    put32(g, PT_GGUF_UINT32);
    g->align_val = g->n;
    put32(g, 32);
    putstr(g, "w");
    g->ti_ndims = g->n;
    put32(g, 2);
    g->ti_ne0 = g->n;
    put64(g, 4);
    put64(g, 2);
    g->ti_type = g->n;
    put32(g, PT_GGML_F16);
    g->ti_offset = g->n;
    put64(g, 0);
    while (g->n % 32) put(g, "", 1);
    for (int i = 0; i < 8; i++) put(g, "\x00\x3c", 2); /* f16 1.0 */
}

/* Open a patched copy; it must fail with a message containing `want`. */
static void expect_fail(const char *what, const unsigned char *b, size_t n, const char *want) {
    pt_gguf g;
    pt_clear_error();
    pt_status s = pt_gguf_open_buffer(&g, b, n, "bad.gguf");
    const char *msg = pt_last_error();
    CHECK(s != PT_OK, "%s: opened but should fail", what);
    CHECK(strstr(msg, want) && strstr(msg, "bad.gguf"), "%s: message '%s' lacks '%s'", what, msg,
          want);
    printf("    %-28s -> %s\n", what, msg);
    if (s == PT_OK) pt_gguf_close(&g);
}

static void test_malformed(void) {
    gbuf g;
    build_small(&g);
    pt_gguf ok;
    pt_status s = pt_gguf_open_buffer(&ok, g.b, g.n, "small.gguf");
    CHECK(s == PT_OK, "small valid buffer: %s", pt_last_error());
    if (s == PT_OK) {
        float w[8] = {0}, ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        const pt_gguf_tensor *t = pt_gguf_find_tensor(&ok, "w");
        CHECK(t && t->ne[0] == 4 && t->ne[1] == 2 && t->nbytes == 16, "tensor w");
        if (t) pt_gguf_tensor_to_f32(t, w);
        t_close("small buffer f16 ones", w, ones, 8, 0, 0);
        kv_int(&ok, "n", 7);
        pt_gguf_close(&ok);
    }

    /* every proper prefix must fail cleanly (the last 16 bytes are tensor data) */
    int opened = 0, no_msg = 0;
    for (size_t cut = 0; cut < g.n; cut++) {
        pt_gguf t;
        pt_clear_error();
        if (pt_gguf_open_buffer(&t, g.b, cut, "cut.gguf") == PT_OK) {
            opened++;
            pt_gguf_close(&t);
        } else if (!strstr(pt_last_error(), "cut.gguf")) {
            no_msg++;
        }
    }
    CHECK(opened == 0 && no_msg == 0, "truncations: %d opened, %d without a message", opened,
          no_msg);
    printf("  truncated at each of %zu offsets: %d opened, %d without a named message\n", g.n,
           opened, no_msg);

    unsigned char b[512];
#define PATCH(stmt, what, want)                                                                    \
    do {                                                                                           \
        memcpy(b, g.b, g.n);                                                                       \
        stmt;                                                                                      \
        expect_fail(what, b, g.n, want);                                                           \
    } while (0)
    PATCH(b[0] = 'X', "wrong magic", "magic");
    PATCH(patch32(b, g.version, 1), "version 1", "version 1");
    PATCH(patch32(b, g.version, 4), "version 4", "version 4");
    PATCH(patch32(b, g.version, 0x03000000u), "big-endian", "big-endian");
    PATCH(patch64(b, g.key0_len, 1ULL << 40), "string length past end", "exceeds");
    PATCH(patch64(b, g.key0_len, UINT64_MAX), "string length 2^64-1", "exceeds");
    PATCH(patch64(b, g.n_kv, 1ULL << 60), "absurd n_kv", "cannot fit");
    PATCH(patch64(b, g.n_kv, UINT64_MAX), "n_kv 2^64-1", "cannot fit");
    PATCH(patch64(b, g.n_tensors, 1ULL << 59), "absurd n_tensors", "cannot fit");
    PATCH(patch32(b, g.kv_u32_type, 13), "unknown value type", "unknown value type 13");
    PATCH(patch32(b, g.arr_type, 99), "unknown array type", "unknown array element type 99");
    PATCH(patch64(b, g.arr_n, 1ULL << 62), "absurd array count", "cannot fit");
    PATCH(b[g.kv_bool] = 2, "bool 2", "bool");
    PATCH(patch32(b, g.align_val, 48), "alignment 48", "power of two");
    PATCH(patch32(b, g.align_val, 0), "alignment 0", "power of two");
    /* refused types are named with the tensor */
    PATCH(patch32(b, g.ti_type, 16), "IQ2_XXS tensor", "tensor 'w' has type IQ2_XXS");
    PATCH(patch32(b, g.ti_type, 9), "Q8_1 tensor", "tensor 'w' has type Q8_1");
    PATCH(patch32(b, g.ti_type, 15), "Q8_K tensor", "tensor 'w' has type Q8_K");
    PATCH(patch32(b, g.ti_type, 23), "IQ4_XS tensor", "tensor 'w' has type IQ4_XS");
    PATCH(patch32(b, g.ti_type, 34), "TQ1_0 tensor", "tensor 'w' has type TQ1_0");
    PATCH(patch32(b, g.ti_type, 4), "removed Q4_2 tensor", "tensor 'w' has type Q4_2");
    PATCH(patch32(b, g.ti_type, 28), "F64 tensor", "tensor 'w' has type F64");
    PATCH(patch32(b, g.ti_type, 39), "MXFP4 tensor", "tensor 'w' has type MXFP4");
    PATCH(patch32(b, g.ti_type, 999), "unknown type id", "tensor 'w' has unknown ggml type 999");
    /* accepted block types need rows of whole blocks */
    PATCH(patch32(b, g.ti_type, PT_GGML_Q8_0), "Q8_0 row of 4",
          "Q8_0 row length 4 is not a multiple of its block of 32");
    PATCH(patch32(b, g.ti_type, 2), "Q4_0 row of 4", "Q4_0 row length 4 is not a multiple");
    PATCH(patch32(b, g.ti_type, 12), "Q4_K row of 4",
          "Q4_K row length 4 is not a multiple of its block of 256");
    PATCH(patch64(b, g.ti_offset, 1ULL << 40), "offset outside file", "outside");
    PATCH(patch64(b, g.ti_offset, 32), "data runs past end", "outside");
    PATCH(patch64(b, g.ti_offset, 1), "misaligned offset", "not a multiple");
    PATCH(patch32(b, g.ti_ndims, 5), "n_dims 5", "n_dims 5");
    PATCH(patch32(b, g.ti_ndims, 0), "n_dims 0", "n_dims 0");
    PATCH(patch64(b, g.ti_ne0, 1ULL << 63), "negative ne", "negative");
    PATCH(patch64(b, g.ti_ne0, 1ULL << 62), "numel overflow", "overflow");
    PATCH(b[g.kv_u32_type - 1] = 'b', "duplicate key", "duplicate key 'b'");
#undef PATCH

    /* arrays of arrays nested 100 deep: refused, no stack overflow */
    gbuf d = {0};
    put(&d, "GGUF", 4);
    put32(&d, 3);
    put64(&d, 0);
    put64(&d, 1);
    putstr(&d, "deep");
    put32(&d, PT_GGUF_ARRAY);
    for (int i = 0; i < 30; i++) {
        put32(&d, PT_GGUF_ARRAY);
        put64(&d, 1);
    }
    expect_fail("arrays nested 30 deep", d.b, d.n, "nested deeper");

    /* a file that does not exist, and an empty buffer */
    pt_gguf t;
    s = pt_gguf_open(&t, "tests/fixtures/gguf/no-such-file.gguf");
    CHECK(s == PT_ERR_IO && strstr(pt_last_error(), "no-such-file"), "missing file: %s",
          pt_last_error());
    expect_fail("empty buffer", g.b, 0, "magic");
}

/* Random 1-3 byte corruptions of a valid file: never a crash; what opens
 * must convert every tensor without reading outside it (ASan checks). */
static void test_mutations(void) {
    char *buf;
    size_t len;
    if (pt_read_file(FIX "types_v3.gguf", &buf, &len) != PT_OK) {
        CHECK(0, "read types_v3.gguf: %s", pt_last_error());
        return;
    }
    unsigned char *m = malloc(len);
    uint32_t x = 12345; /* xorshift32 */
    int opened = 0, refused = 0, unnamed = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(m, buf, len);
        int flips = 1 + it % 3;
        for (int k = 0; k < flips; k++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            /* most flips land in the metadata, where parsing happens */
            size_t at = (x >> 8) % (it % 4 ? 700 : len);
            m[at] = (unsigned char)(it % 5 ? x : m[at] ^ (1u << (x % 8)));
        }
        pt_gguf g;
        if (pt_gguf_open_buffer(&g, m, len, "mut.gguf") == PT_OK) {
            opened++;
            for (int64_t i = 0; i < g.n_tensors; i++) {
                const pt_gguf_tensor *t = &g.tensors[i];
                size_t numel = 1;
                for (int d = 0; d < t->n_dims; d++) numel *= (size_t)t->ne[d];
                if (numel > (1u << 24)) continue;
                float *out = malloc(numel * sizeof(float) + 4);
                if (out) pt_gguf_tensor_to_f32(t, out);
                free(out);
            }
            pt_gguf_close(&g);
        } else {
            refused++;
            unnamed += !strstr(pt_last_error(), "mut.gguf");
        }
    }
    printf("  4000 random corruptions of types_v3.gguf: %d opened, %d refused, %d refusals "
           "without the file name\n",
           opened, refused, unnamed);
    CHECK(unnamed == 0, "%d refusals without the file name", unnamed);
    CHECK(refused > 0, "no corruption was refused");
    free(m);
    free(buf);
}

int main(void) {
    printf("test_gguf\n");
    test_stories();
    pt_st_file ref;
    pt_st_file *refp = NULL;
    if (pt_st_open(&ref, FIX "ref.safetensors") == PT_OK)
        refp = &ref;
    else
        CHECK(0, "cannot read " FIX "ref.safetensors: %s", pt_last_error());
    test_types_v3(refp);
    test_align_v2(refp);
    if (refp) pt_st_close(refp);
    test_malformed();
    test_mutations();
    return t_done();
}
