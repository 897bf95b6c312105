/* test_safetensors.c - safetensors reader/writer and half conversions:
 * writer round trip, a PyTorch-written fixture (F32/F16/BF16/F64 with torch's
 * own conversions as the reference), exhaustive half-precision checks, and
 * malformed files built in memory, each giving the right error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/io.h"
#include "formats/safetensors.h"
#include "test.h"

#define FIXTURE "tests/fixtures/formats/torch_dtypes.safetensors"

/* 8-byte little-endian length + header + data, in an exact-size heap buffer. */
static unsigned char *make_file(const char *header, size_t hl, const void *data, size_t dlen,
                                size_t *size) {
    *size = 8 + hl + dlen;
    unsigned char *b = malloc(*size);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    if (dlen) memcpy(b + 8 + hl, data, dlen);
    return b;
}

/* Open must fail with status want and a message containing s1 and s2 (if given). */
static void expect_err(const char *what, const void *buf, size_t size, pt_status want,
                       const char *s1, const char *s2) {
    pt_st_file f;
    pt_clear_error();
    pt_status s = pt_st_open_buffer(&f, buf, size, "mem.safetensors");
    const char *m = pt_last_error();
    CHECK(s == want, "%s: got %s, want %s ('%s')", what, pt_status_name(s), pt_status_name(want),
          m);
    CHECK(strstr(m, "mem.safetensors") != NULL, "%s: message does not name the file: '%s'", what,
          m);
    if (s1) CHECK(strstr(m, s1) != NULL, "%s: message lacks '%s': '%s'", what, s1, m);
    if (s2) CHECK(strstr(m, s2) != NULL, "%s: message lacks '%s': '%s'", what, s2, m);
    CHECK(f.tensors == NULL && f.n_tensors == 0 && f.path == NULL, "%s: f not cleared", what);
    if (s == PT_OK) pt_st_close(&f);
}

static void expect_hdr_n(const char *what, const char *header, size_t hl, size_t dlen,
                         pt_status want, const char *s1, const char *s2) {
    unsigned char data[64] = {0};
    size_t size;
    unsigned char *b = make_file(header, hl, data, dlen, &size);
    expect_err(what, b, size, want, s1, s2);
    free(b);
}

static void expect_hdr(const char *what, const char *header, size_t dlen, pt_status want,
                       const char *s1, const char *s2) {
    expect_hdr_n(what, header, strlen(header), dlen, want, s1, s2);
}

/* Bitwise-equal float arrays (NaN equals NaN); prints the count and, over
 * the finite entries, the largest difference. */
static void same_bits(const char *what, const float *got, const float *want, size_t n) {
    size_t bad = 0, nf = 0;
    float *g = calloc(n + 1, sizeof(float)), *w = calloc(n + 1, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        int gn = isnan(got[i]), wn = isnan(want[i]);
        if (gn || wn)
            bad += gn != wn;
        else if (memcmp(&got[i], &want[i], 4) != 0)
            bad++;
        if (isfinite(got[i]) && isfinite(want[i])) g[nf] = got[i], w[nf] = want[i], nf++;
    }
    t_close(what, g, w, nf, 0, 0);
    CHECK(bad == 0, "%s: %zu of %zu values differ bitwise", what, bad, n);
    free(g);
    free(w);
}

static void test_roundtrip(void) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/ptune_test_st_%ld.safetensors", (long)getpid());
    float a[6] = {1.5f, -2.25f, 3e-8f, 1e30f, -0.0f, 7.0f}, b[5] = {1, 2, 3, 4, 5}, sc = 42.0f;
    int64_t sa[2] = {2, 3}, sb[1] = {5}, se[2] = {0, 4};
    pt_st_writer *w = pt_st_writer_new();
    CHECK(pt_st_writer_add_f32(w, "layer.0.a", 2, sa, a) == PT_OK, "add a");
    CHECK(pt_st_writer_add_f32(w, "b\"q", 1, sb, b) == PT_OK, "add b");
    CHECK(pt_st_writer_add_f32(w, "scalar", 0, NULL, &sc) == PT_OK, "add scalar");
    CHECK(pt_st_writer_add_f32(w, "empty", 2, se, NULL) == PT_OK, "add empty");
    CHECK(pt_st_writer_add_f32(w, "b\"q", 1, sb, b) == PT_ERR_ARG, "duplicate name accepted");
    int64_t neg[1] = {-1};
    CHECK(pt_st_writer_add_f32(w, "neg", 1, neg, b) == PT_ERR_ARG, "negative dim accepted");
    CHECK(pt_st_writer_add_f32(w, "__metadata__", 1, sb, b) == PT_ERR_ARG, "reserved name");
    CHECK(pt_st_writer_meta(w, "template", "[P*3] {x} is \"[MASK]\"\n") == PT_OK, "meta");
    CHECK(pt_st_writer_meta(w, "k", "old") == PT_OK && pt_st_writer_meta(w, "k", "v") == PT_OK,
          "meta overwrite");
    b[0] = 99; /* data was copied at add time */
    CHECK(pt_st_writer_save(w, "/nonexistent-dir/x.safetensors") == PT_ERR_IO, "bad dir");
    CHECK(pt_st_writer_save(w, path) == PT_OK, "save: %s", pt_last_error());
    pt_st_writer_free(w);
    b[0] = 1;

    pt_st_file f;
    CHECK(pt_st_open(&f, path) == PT_OK, "reopen: %s", pt_last_error());
    if (!f.tensors) return;
    CHECK(f.n_tensors == 4, "4 tensors, got %d", f.n_tensors);
    CHECK(f.n_meta == 2 && strcmp(pt_st_meta(&f, "template"), "[P*3] {x} is \"[MASK]\"\n") == 0 &&
              strcmp(pt_st_meta(&f, "k"), "v") == 0 && !pt_st_meta(&f, "nope"),
          "metadata");
    const char *order[] = {"layer.0.a", "b\"q", "scalar", "empty"};
    for (int i = 0; i < 4 && i < f.n_tensors; i++)
        CHECK(strcmp(f.tensors[i].name, order[i]) == 0, "order %d: %s", i, f.tensors[i].name);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | f.map.data[i];
    size_t close = hl;
    while (close > 0 && f.map.data[8 + close - 1] == ' ') close--;
    CHECK(hl % 8 == 0 && close > 0 && f.map.data[8 + close - 1] == '}',
          "header of %llu bytes: not '}' padded with spaces to a multiple of 8",
          (unsigned long long)hl);
    /* tensors back to back from the start of the data section, each 4-byte aligned */
    const unsigned char *data0 = f.map.data + 8 + hl;
    CHECK(f.tensors[0].data == data0 && f.tensors[1].data == data0 + 24 &&
              f.tensors[2].data == data0 + 44 && f.tensors[3].nbytes == 0,
          "layout");
    CHECK(8 + hl + 48 == f.map.size, "file size %zu", f.map.size);
    float *got = NULL;
    CHECK(pt_st_load_f32(&f, "layer.0.a", 2, sa, &got) == PT_OK, "load a: %s", pt_last_error());
    if (got) t_close("roundtrip layer.0.a", got, a, 6, 0, 0);
    free(got);
    CHECK(pt_st_load_f32(&f, "b\"q", 1, sb, &got) == PT_OK, "load b");
    if (got) t_close("roundtrip b (copied at add time)", got, b, 5, 0, 0);
    free(got);
    CHECK(pt_st_load_f32(&f, "scalar", 0, NULL, &got) == PT_OK && got[0] == 42.0f, "scalar");
    free(got);
    CHECK(pt_st_load_f32(&f, "empty", 2, se, &got) == PT_OK, "empty: %s", pt_last_error());
    free(got);
    pt_st_close(&f);
    /* saving over an existing file replaces it; no temporary left behind */
    w = pt_st_writer_new();
    CHECK(pt_st_writer_add_f32(w, "only", 1, sb, b) == PT_OK, "add");
    CHECK(pt_st_writer_save(w, path) == PT_OK, "resave");
    pt_st_writer_free(w);
    CHECK(pt_st_open(&f, path) == PT_OK && f.n_tensors == 1 && f.n_meta == 0, "resaved file");
    pt_st_close(&f);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(!pt_file_exists(tmp), "temporary file left behind");
    unlink(path);
}

static void test_torch_fixture(void) {
    pt_st_file f;
    pt_status s = pt_st_open(&f, FIXTURE);
    CHECK(s == PT_OK, "open fixture: %s", pt_last_error());
    if (s) return;
    CHECK(pt_st_meta(&f, "format") && strcmp(pt_st_meta(&f, "format"), "pt") == 0, "meta");
    const pt_st_tensor *x = pt_st_find(&f, "x"), *h = pt_st_find(&f, "x_f16"),
                       *b = pt_st_find(&f, "x_bf16");
    CHECK(x && h && b && h->dtype == PT_DTYPE_F16 && b->dtype == PT_DTYPE_BF16, "tensors");
    if (!x || !h || !b) return;
    size_t n = (size_t)x->numel;
    float *xv = NULL, *hf = NULL, *bf = NULL, *hv = malloc(n * 4), *bv = malloc(n * 4);
    int64_t shp[1] = {(int64_t)n};
    CHECK(pt_st_load_f32(&f, "x", 1, shp, &xv) == PT_OK, "x");
    CHECK(pt_st_load_f32(&f, "x_f16_f32", 1, shp, &hf) == PT_OK, "x_f16_f32");
    CHECK(pt_st_load_f32(&f, "x_bf16_f32", 1, shp, &bf) == PT_OK, "x_bf16_f32");
    /* reading: F16/BF16 -> f32 must equal torch's .float() exactly */
    CHECK(pt_st_to_f32(h, hv) == PT_OK && pt_st_to_f32(b, bv) == PT_OK, "to_f32");
    same_bits("F16 -> f32 vs torch", hv, hf, n);
    same_bits("BF16 -> f32 vs torch", bv, bf, n);
    /* writing: f32 -> F16/BF16 bits must equal torch's .half()/.bfloat16() */
    size_t bad16 = 0, badbf = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t th, tb;
        memcpy(&th, h->data + 2 * i, 2);
        memcpy(&tb, b->data + 2 * i, 2);
        uint16_t mh = pt_f32_to_f16(xv[i]), mb = pt_f32_to_bf16(xv[i]);
        if (isnan(xv[i])) { /* NaN stays NaN (payload may differ) */
            bad16 += (mh & 0x7C00) != 0x7C00 || !(mh & 0x3FF);
            badbf += (mb & 0x7F80) != 0x7F80 || !(mb & 0x7F);
        } else {
            if (mh != th && bad16++ < 3)
                fprintf(stderr, "  f16(%.9g) = %04x, torch %04x\n", xv[i], mh, th);
            if (mb != tb && badbf++ < 3)
                fprintf(stderr, "  bf16(%.9g) = %04x, torch %04x\n", xv[i], mb, tb);
        }
    }
    printf("  f32 -> F16 bits vs torch: %zu of %zu differ; -> BF16: %zu differ\n", bad16, n, badbf);
    CHECK(bad16 == 0 && badbf == 0, "half rounding differs from torch");
    free(xv), free(hf), free(bf), free(hv), free(bv);
    /* F64 -> f32 equals torch's .float() (includes 1e300 -> inf) */
    float *d = NULL, *dref = NULL;
    int64_t s7[1] = {7};
    CHECK(pt_st_load_f32(&f, "d64", 1, s7, &d) == PT_OK, "d64: %s", pt_last_error());
    CHECK(pt_st_load_f32(&f, "d64_f32", 1, s7, &dref) == PT_OK, "d64_f32");
    if (d && dref) same_bits("F64 -> f32 vs torch", d, dref, 7);
    free(d), free(dref);
    /* 2-D F16 with the shape check; values k/4 - 1, exact in half */
    int64_t s53[2] = {5, 3}, s35[2] = {3, 5};
    float *m16 = NULL, *m = NULL;
    CHECK(pt_st_load_f32(&f, "m16", 2, s53, &m16) == PT_OK, "m16");
    CHECK(pt_st_load_f32(&f, "m", 2, s35, &m) == PT_OK, "m");
    if (m16 && m) t_close("F16 matrix (5,3) vs F32 (3,5) data", m16, m, 15, 0, 0);
    free(m16), free(m);
    pt_clear_error();
    s = pt_st_load_f32(&f, "m16", 2, s35, &m16);
    const char *msg = pt_last_error();
    CHECK(s == PT_ERR_MISMATCH && m16 == NULL, "shape mismatch status %s", pt_status_name(s));
    CHECK(strstr(msg, FIXTURE) && strstr(msg, "'m16'") && strstr(msg, "expected shape [3, 5]") &&
              strstr(msg, "found [5, 3]"),
          "mismatch message: '%s'", msg);
    s = pt_st_load_f32(&f, "m16", 1, s35, &m16);
    CHECK(s == PT_ERR_MISMATCH && strstr(pt_last_error(), "[3]"), "ndim mismatch: '%s'",
          pt_last_error());
    s = pt_st_load_f32(&f, "no.such.weight", 1, s7, &m16);
    msg = pt_last_error();
    CHECK(s == PT_ERR_FORMAT && strstr(msg, "'no.such.weight'") && strstr(msg, "not found"),
          "missing tensor: %s '%s'", pt_status_name(s), msg);
    CHECK(pt_st_find(&f, "no.such.weight") == NULL, "find missing");
    pt_st_close(&f);
}

/* Exhaustive half conversions against independent derivations. */
static void test_halves(void) {
    size_t bad_val = 0, bad_rt = 0, bad_mid = 0, bad_bf = 0, bad_bmid = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = pt_f16_to_f32((uint16_t)h);
        int e = (h >> 10) & 31, man = h & 1023;
        double want; /* IEEE binary16: (-1)^s * 2^(e-15) * (1 + man/1024), subnormal man*2^-24 */
        if (e == 31)
            want = man ? NAN : INFINITY;
        else if (e == 0)
            want = ldexp(man, -24);
        else
            want = ldexp(1024 + man, e - 25);
        if (h & 0x8000) want = -want;
        if (isnan(want) ? !isnan(f) : ((double)f != want || !signbit(f) != !signbit(want)))
            bad_val++;
        uint16_t back = pt_f32_to_f16(f);
        if (isnan(want) ? (back & 0x7C00) != 0x7C00 || !(back & 0x3FF) : back != h) bad_rt++;
        /* midpoints to the next half up: ties go to the even one, neighbours
         * of the tie go to the nearer one */
        if ((h & 0x7FFF) < 0x7BFF) {
            float lo = f, hi = pt_f16_to_f32((uint16_t)(h + 1));
            float mid = (float)(((double)lo + hi) / 2); /* exact: 12 significant bits */
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            if (pt_f32_to_f16(mid) != even || pt_f32_to_f16(nextafterf(mid, lo)) != h ||
                pt_f32_to_f16(nextafterf(mid, hi)) != h + 1)
                bad_mid++;
        }
        /* bfloat16: the top half of a float32 */
        float g = pt_bf16_to_f32((uint16_t)h);
        uint32_t gb;
        memcpy(&gb, &g, 4);
        if (gb != h << 16) bad_bf++;
        if (isnan(g) ? !isnan(pt_bf16_to_f32(pt_f32_to_bf16(g))) : pt_f32_to_bf16(g) != h) bad_bf++;
        if ((h & 0x7FFF) < 0x7F7F) {
            float hi = pt_bf16_to_f32((uint16_t)(h + 1)), mid = (float)(((double)g + hi) / 2);
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            if (pt_f32_to_bf16(mid) != even || pt_f32_to_bf16(nextafterf(mid, g)) != h ||
                pt_f32_to_bf16(nextafterf(mid, hi)) != h + 1)
                bad_bmid++;
        }
    }
    printf("  all 65536 halves: f16 value %zu wrong, round trip %zu, midpoints %zu; "
           "bf16 %zu, midpoints %zu\n",
           bad_val, bad_rt, bad_mid, bad_bf, bad_bmid);
    CHECK(bad_val == 0 && bad_rt == 0 && bad_mid == 0, "f16 conversions");
    CHECK(bad_bf == 0 && bad_bmid == 0, "bf16 conversions");
    /* overflow: 65520 is the tie between 65504 and 2^16 -> infinity (even) */
    CHECK(pt_f32_to_f16(65520.0f) == 0x7C00 && pt_f32_to_f16(nextafterf(65520.0f, 0)) == 0x7BFF &&
              pt_f32_to_f16(-1e9f) == 0xFC00 && pt_f32_to_f16(INFINITY) == 0x7C00,
          "f16 overflow");
    CHECK(pt_f32_to_f16(ldexpf(1, -25)) == 0 && pt_f32_to_f16(-ldexpf(1, -25)) == 0x8000 &&
              pt_f32_to_f16(nextafterf(ldexpf(1, -25), 1)) == 1 && pt_f32_to_f16(1e-40f) == 0,
          "f16 underflow");
    CHECK(pt_f32_to_bf16(3.4028235e38f) == 0x7F80 && pt_f32_to_bf16(NAN) == 0x7FC0,
          "bf16 overflow / NaN: %04x %04x", pt_f32_to_bf16(3.4028235e38f), pt_f32_to_bf16(NAN));
}

#define GOOD_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}"
#define META "\"__metadata__\":{\"k\":\"v\"}"

static void test_malformed(void) {
    /* a good file: a F32 (2,2) at [0,16), b F16 (3) at [16,22), then 2 spare bytes */
    const char *hdr = "{" GOOD_A ",\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]}"
                      "," META "}  ";
    unsigned char data[24];
    float av[4] = {1, 2, 3, 4};
    uint16_t bv[3] = {0x3C00, 0xC000, 0x7BFF}; /* 1, -2, 65504 */
    memcpy(data, av, 16);
    memcpy(data + 16, bv, 6);
    data[22] = data[23] = 0;
    size_t size;
    unsigned char *good = make_file(hdr, strlen(hdr), data, 24, &size);
    pt_st_file f;
    CHECK(pt_st_open_buffer(&f, good, size, "mem.safetensors") == PT_OK, "good: %s",
          pt_last_error());
    const pt_st_tensor *t = pt_st_find(&f, "b");
    float out[3];
    CHECK(t && t->ndim == 1 && t->shape[0] == 3 && t->nbytes == 6 && pt_st_to_f32(t, out) == 0 &&
              out[0] == 1 && out[1] == -2 && out[2] == 65504,
          "good b");
    CHECK(f.n_tensors == 2 && pt_st_meta(&f, "k") && !strcmp(pt_st_meta(&f, "k"), "v"), "good");
    pt_st_close(&f);

    /* truncated at every length: inside the length, the header, the data */
    size_t hl = strlen(hdr), wrong = 0;
    for (size_t k = 0; k < size - 2; k++) { /* the last 2 bytes are unused padding */
        unsigned char *cut = malloc(k ? k : 1);
        memcpy(cut, good, k);
        pt_clear_error();
        pt_status s = pt_st_open_buffer(&f, cut, k, "mem.safetensors");
        const char *m = pt_last_error();
        const char *want = k < 8 ? "too short" : k < 8 + hl ? "exceeds the file" : "outside";
        if (s != PT_ERR_FORMAT || !strstr(m, want) || !strstr(m, "mem.safetensors")) {
            if (wrong++ < 3) fprintf(stderr, "  cut at %zu: %s '%s'\n", k, pt_status_name(s), m);
        }
        if (s == PT_OK) pt_st_close(&f);
        free(cut);
    }
    printf("  truncated at each of %zu lengths: %zu wrong\n", size - 2, wrong);
    CHECK(wrong == 0, "%zu truncations not rejected properly", wrong);
    expect_err("cut inside data names tensor", good, 8 + hl + 20, PT_ERR_FORMAT, "'b'",
               "outside the data section");

    /* header length beyond the file, and beyond 100 MB */
    unsigned char *big = malloc(size);
    memcpy(big, good, size);
    big[7] = 0x80;
    expect_err("header length 2^63", big, size, PT_ERR_FORMAT, "exceeds the file", NULL);
    free(big);
    size_t bsize = ((size_t)100 << 20) + 64;
    big = calloc(bsize, 1);
    uint64_t blen = ((uint64_t)100 << 20) + 1;
    for (int i = 0; i < 8; i++) big[i] = (unsigned char)(blen >> (8 * i));
    expect_err("header over 100 MB", big, bsize, PT_ERR_FORMAT, "100 MB", NULL);
    free(big);

    expect_hdr("offsets outside the data",
               "{" GOOD_A ",\"b\":{\"dtype\":\"F16\",\"shape\":[12],\"data_offsets\":[16,40]}}", 24,
               PT_ERR_FORMAT, "'b'", "outside the data section");
    expect_hdr("reversed offsets",
               "{" GOOD_A ",\"b\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[16,0]}}", 24,
               PT_ERR_FORMAT, "'b'", "outside");
    expect_hdr("size not matching shape",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 24,
               PT_ERR_FORMAT, "'a'", "needs 24");
    expect_hdr("overlapping tensors",
               "{" GOOD_A ",\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[8,14]}}", 24,
               PT_ERR_FORMAT, "overlap", "'b'");
    expect_hdr("same offsets twice",
               "{\"b\":{\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[0,16]}," GOOD_A "}", 24,
               PT_ERR_FORMAT, "overlap", "'a'");
    expect_hdr("unknown dtype",
               "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 24,
               PT_ERR_UNSUPPORTED, "'a'", "F8_E4M3");
    expect_hdr("GGUF-only dtype",
               "{\"a\":{\"dtype\":\"Q8_0\",\"shape\":[2],\"data_offsets\":[0,2]}}", 24,
               PT_ERR_UNSUPPORTED, "'a'", "Q8_0");
    expect_hdr("metadata non-string", "{" GOOD_A ",\"__metadata__\":{\"k\":\"v\",\"n\":1}}", 24,
               PT_ERR_FORMAT, "__metadata__", "'n'");
    expect_hdr("metadata not an object", "{" GOOD_A ",\"__metadata__\":[\"v\"]}", 24, PT_ERR_FORMAT,
               "__metadata__", NULL);
    expect_hdr("negative dim",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,-2],\"data_offsets\":[0,16]}}", 24,
               PT_ERR_FORMAT, "'a'", "shape[0]");
    expect_hdr("fractional dim",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2.0],\"data_offsets\":[0,16]}}", 24,
               PT_ERR_FORMAT, "'a'", "shape[1]");
    expect_hdr("shape overflow",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],"
               "\"data_offsets\":[0,16]}}",
               24, PT_ERR_FORMAT, "'a'", "overflow");
    expect_hdr("byte size overflow",
               "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],"
               "\"data_offsets\":[0,16]}}",
               24, PT_ERR_FORMAT, "'a'", "overflow");
    expect_hdr(
        "offset beyond u64",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,18446744073709551632]}}", 24,
        PT_ERR_FORMAT, "'a'", "data_offsets");
    expect_hdr("too many dims",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
               24, PT_ERR_UNSUPPORTED, "'a'", "dimensions");
    expect_hdr("missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 24, PT_ERR_FORMAT,
               "'a'", "dtype");
    expect_hdr("missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 24, PT_ERR_FORMAT,
               "'a'", "data_offsets");
    expect_hdr("entry not an object", "{\"a\":[1,2]}", 24, PT_ERR_FORMAT, "'a'", NULL);
    expect_hdr("duplicate tensor", "{" GOOD_A "," GOOD_A "}", 24, PT_ERR_FORMAT, "'a'", "twice");
    expect_hdr("header not JSON", "{\"a\":{\"dtype\":", 24, PT_ERR_FORMAT, "header", "line 1");
    expect_hdr("header is an array", "[]", 24, PT_ERR_FORMAT, "not a JSON object", NULL);
    expect_hdr_n("header padded with NULs", "{}\0\0\0\0\0\0", 8, 0, PT_ERR_FORMAT, "header",
                 "line 1, column 3");

    /* valid oddities: empty header, empty tensor anywhere, unused trailing bytes */
    const char *ok =
        "{\"e\":{\"dtype\":\"BOOL\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
        "\"i\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},\"__metadata__\":{}}";
    unsigned char *b2 = make_file(ok, strlen(ok), data, 10, &size);
    CHECK(pt_st_open_buffer(&f, b2, size, "ok") == PT_OK, "oddities: %s", pt_last_error());
    CHECK(f.n_tensors == 2 && f.tensors[1].ndim == 0 && f.tensors[1].numel == 1 &&
              f.tensors[0].numel == 0,
          "scalar and empty");
    CHECK(pt_st_to_f32(&f.tensors[1], out) == PT_ERR_UNSUPPORTED && strstr(pt_last_error(), "I32"),
          "I32 to f32 unsupported");
    pt_st_close(&f);
    free(b2);
    b2 = make_file("{}", 2, NULL, 0, &size);
    CHECK(pt_st_open_buffer(&f, b2, size, "empty") == PT_OK && f.n_tensors == 0, "empty header");
    pt_st_close(&f);
    free(b2);
    free(good);
    CHECK(pt_st_open(&f, "/nonexistent/x.safetensors") == PT_ERR_IO &&
              strstr(pt_last_error(), "/nonexistent/x.safetensors"),
          "missing file");
}

int main(void) {
    test_halves();
    test_roundtrip();
    test_torch_fixture();
    test_malformed();
    return t_done();
}
