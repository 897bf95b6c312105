/* test_load_transpose.c - the cache-blocked transpose used when loading
 * Conv1D weights (pt_mu_transpose) against the naive double loop, bit for bit,
 * on odd shapes, tile-sized shapes and an unaligned source; and
 * pt_mu_load_transposed on F32 (straight from the mapping), F16 and BF16
 * tensors and a wrong shape. */
#include <stdint.h>

#include "core/error.h"
#include "formats/safetensors.h"
#include "models/model_util.h"
#include "test.h"

static uint64_t g_state = 0x9e3779b97f4a7c15ULL;
static uint32_t next_u32(void) { /* xorshift64*: varied bit patterns, all finite */
    g_state ^= g_state >> 12, g_state ^= g_state << 25, g_state ^= g_state >> 27;
    return (uint32_t)((g_state * 0x2545f4914f6cdd1dULL) >> 32);
}
static float rand_float(void) {
    uint32_t u = next_u32() & 0xbfffffffu; /* exponent below 128: no inf/NaN */
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void naive(float *out, const float *in, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) out[(size_t)c * rows + r] = in[(size_t)r * cols + c];
}

/* Transpose rows x cols, the source starting `skew` bytes past an aligned
 * address (0: aligned; 1: as an unaligned tensor inside a mapped file). */
static void check_shape(int rows, int cols, int skew) {
    size_t n = (size_t)rows * cols;
    unsigned char *buf = malloc(n * 4 + 8);
    float *in = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
    for (size_t i = 0; i < n; i++) in[i] = rand_float();
    memcpy(buf + skew, in, n * 4);
    naive(want, in, rows, cols);
    memset(got, 0xff, n * 4); /* NaN everywhere: an element left unwritten shows */
    pt_mu_transpose(got, buf + skew, rows, cols);
    char what[96];
    snprintf(what, sizeof what, "transpose %dx%d%s", rows, cols, skew ? " (unaligned)" : "");
    t_close(what, got, want, n, 0, 0);
    CHECK(memcmp(got, want, n * 4) == 0, "%s: not bit-identical to the naive loop", what);
    free(buf), free(in), free(want), free(got);
}

/* A one-tensor safetensors file in memory: "w" of shape (rows, cols) and the
 * given dtype, data given as raw little-endian bytes. The header is not padded,
 * so the data usually starts at an unaligned address. */
static unsigned char *st_one(const char *dtype, int rows, int cols, const void *data, size_t nbytes,
                             size_t *size) {
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr,
                      "{\"w\":{\"dtype\":\"%s\",\"shape\":[%d,%d],\"data_offsets\":[0,%zu]}}",
                      dtype, rows, cols, nbytes);
    *size = 8 + (size_t)hl + nbytes;
    unsigned char *b = malloc(*size);
    uint64_t h = (uint64_t)hl;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(h >> (8 * i));
    memcpy(b + 8, hdr, (size_t)hl);
    memcpy(b + 8 + hl, data, nbytes);
    return b;
}

static void check_load(const char *dtype, int rows, int cols) {
    size_t n = (size_t)rows * cols, es = strcmp(dtype, "F32") ? 2 : 4, size;
    unsigned char *raw = malloc(n * es);
    for (size_t i = 0; i < n; i++) {
        /* F32: any finite bit pattern; the halves: multiples of 1/64 in (-64, 64)
         * (rounded on conversion, the same way on both paths compared) */
        float f = es == 4 ? rand_float() : (float)((int)(next_u32() % 8191) - 4095) / 64.0f;
        if (es == 4) {
            memcpy(raw + 4 * i, &f, 4);
        } else {
            uint16_t h = strcmp(dtype, "BF16") ? pt_f32_to_f16(f) : pt_f32_to_bf16(f);
            memcpy(raw + 2 * i, &h, 2);
        }
    }
    unsigned char *file = st_one(dtype, rows, cols, raw, n * es, &size);
    pt_st_file f;
    CHECK(pt_st_open_buffer(&f, file, size, "mem.safetensors") == PT_OK, "%s", pt_last_error());
    const char *const prefixes[] = {"", NULL};
    int64_t shape[2] = {rows, cols};
    float *plain = NULL, *turned = NULL, *want = malloc(n * 4);
    CHECK(pt_st_load_f32(&f, "w", 2, shape, &plain) == PT_OK, "%s", pt_last_error());
    CHECK(pt_mu_load_transposed(&f, prefixes, "w", rows, cols, &turned) == PT_OK, "%s",
          pt_last_error());
    if (plain && turned) {
        naive(want, plain, rows, cols);
        char what[96];
        snprintf(what, sizeof what, "load_transposed %s %dx%d", dtype, rows, cols);
        t_close(what, turned, want, n, 0, 0);
        CHECK(memcmp(turned, want, n * 4) == 0, "%s: not bit-identical", what);
    }
    free(turned);
    /* the wrong shape is an error naming the tensor, not a crash */
    turned = (float *)1;
    pt_status s = pt_mu_load_transposed(&f, prefixes, "w", cols + 1, rows, &turned);
    CHECK(s == PT_ERR_MISMATCH && turned == NULL, "wrong shape: status %d", (int)s);
    CHECK(strstr(pt_last_error(), "'w'") != NULL, "error names the tensor: %s", pt_last_error());
    s = pt_mu_load_transposed(&f, prefixes, "missing", rows, cols, &turned);
    CHECK(s == PT_ERR_FORMAT && turned == NULL, "missing tensor: status %d", (int)s);
    pt_st_close(&f);
    free(plain), free(want), free(raw), free(file);
}

int main(void) {
    printf("test_load_transpose\n");
    const int shapes[][2] = {{37, 53}, {1, 97}, {97, 1},   {1, 1},     {64, 64}, {8, 8},
                             {65, 63}, {7, 9},  {64, 200}, {300, 257}, {768, 96}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_shape(shapes[i][0], shapes[i][1], 0);
    check_shape(37, 53, 1);
    check_shape(300, 257, 3); /* above the threads' size threshold, unaligned */
    check_load("F32", 37, 53);
    check_load("F32", 300, 257);
    check_load("F16", 37, 53);
    check_load("BF16", 65, 31);
    return t_done();
}
