/* test_quant.c - ggml block kernels (kernels/quant.h) against the numpy
 * oracle scripts/ref_quant.py (fixtures in tests/fixtures/quant/):
 *   - dequantization of random and edge blocks (zero, maximal, negative
 *     zero, subnormal, infinite and NaN scales) equals numpy's bit for bit,
 *     for the reference and every SIMD level this CPU has;
 *   - the quantizers' bytes equal numpy's;
 *   - bf16 dequantization equals the rounded f32 values;
 *   - the fused row products (dot, axpy) are within 1e-6 of the product
 *     over the dequantized row, relative to sum |x_i w_i| (the scale of the
 *     rounding error of any float32 product).
 * PTUNE_QUANT_BENCH=1 also times dequantization per type and level. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/io.h"
#include "core/rng.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"
#include "test.h"

#define FIX "tests/fixtures/quant/"

static const pt_wtype QTYPES[] = {PT_WT_Q4_0, PT_WT_Q4_1, PT_WT_Q5_0, PT_WT_Q5_1, PT_WT_Q8_0,
                                  PT_WT_Q2_K, PT_WT_Q3_K, PT_WT_Q4_K, PT_WT_Q5_K, PT_WT_Q6_K};
#define NQT ((int)(sizeof QTYPES / sizeof QTYPES[0]))

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* bitwise equality, any NaN equal to any NaN; returns mismatches, prints the first */
static size_t cmp_bits(const char *what, const float *got, const float *want, size_t n) {
    size_t bad = 0, first = 0;
    double maxd = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t a, b;
        memcpy(&a, &got[i], 4);
        memcpy(&b, &want[i], 4);
        int same = a == b || (got[i] != got[i] && want[i] != want[i]);
        if (!same) {
            if (!bad) first = i;
            bad++;
            double d = fabs((double)got[i] - (double)want[i]);
            if (d > maxd || d != d) maxd = d;
        }
    }
    printf("  %-34s %zu values, %zu differ in any bit (max abs diff %.3g)%s\n", what, n, bad, maxd,
           bad ? "  <-- FAIL" : "");
    if (bad)
        fprintf(stderr, "FAIL %s: value %zu: got %a (0x%08x) want %a\n", what, first,
                (double)got[first], (unsigned)rd32((const unsigned char *)&got[first]),
                (double)want[first]);
    return bad;
}

typedef struct fixture {
    char *buf;
    size_t len;
    uint32_t ggml, nd, nq;
    const unsigned char *blocks, *qbytes;
    const float *values, *inputs;
} fixture;

static int load_fixture(fixture *f, pt_wtype t) {
    char path[256];
    const pt_wtype_info *in = pt_wtype_get(t);
    snprintf(path, sizeof path, FIX "%s.bin", in->name);
    memset(f, 0, sizeof *f);
    if (pt_read_file(path, &f->buf, &f->len)) {
        CHECK(0, "%s: %s", path, pt_last_error());
        return 0;
    }
    const unsigned char *p = (const unsigned char *)f->buf;
    if (f->len < 16 || memcmp(p, "PTQ1", 4)) {
        CHECK(0, "%s: not a PTQ1 fixture", path);
        return 0;
    }
    f->ggml = rd32(p + 4), f->nd = rd32(p + 8), f->nq = rd32(p + 12);
    size_t B = (size_t)in->block, Y = (size_t)in->bytes;
    size_t need = 16 + f->nd * (Y + 4 * B) + f->nq * (4 * B + Y);
    if (f->len != need || f->ggml != (uint32_t)in->ggml) {
        CHECK(0, "%s: %zu bytes, want %zu; ggml type %u, want %d", path, f->len, need, f->ggml,
              in->ggml);
        return 0;
    }
    f->blocks = p + 16;
    f->values = (const float *)(const void *)(f->blocks + f->nd * Y);
    f->inputs = f->values + f->nd * B;
    f->qbytes = (const unsigned char *)(f->inputs + f->nq * B);
    return 1;
}

/* dequantization at every level, the bf16 variant, and the quantizer */
static void test_fixture(pt_wtype t) {
    fixture f;
    if (!load_fixture(&f, t)) {
        free(f.buf);
        return;
    }
    const pt_wtype_info *in = pt_wtype_get(t);
    size_t n = (size_t)f.nd * (size_t)in->block;
    float *got = malloc(n * sizeof(float));              /* (nd * block) */
    uint16_t *gb = malloc(n * sizeof(uint16_t));         /* (nd * block) */
    unsigned char *q = malloc((size_t)f.nq * in->bytes); /* (nq * bytes) */
    char what[96];
    printf(" %s (%u blocks, %u to quantize)\n", in->name, f.nd, f.nq);

    pt_dequant_row_ref(t, got, f.blocks, (int64_t)n);
    snprintf(what, sizeof what, "%s dequant ref", in->name);
    CHECK(cmp_bits(what, got, f.values, n) == 0, "%s", what);
    for (int lv = 0; lv <= pt_quant_simd_level(); lv++) {
        memset(got, 0x55, n * sizeof(float));
        pt_dequant_row_level(lv, t, got, f.blocks, (int64_t)n);
        snprintf(what, sizeof what, "%s dequant %s", in->name, pt_gemm_simd_name(lv));
        CHECK(cmp_bits(what, got, f.values, n) == 0, "%s", what);
        /* block by block too (the GEMM packs panels a few blocks at a time) */
        memset(got, 0x55, n * sizeof(float));
        for (uint32_t b = 0; b < f.nd; b++)
            pt_dequant_row_level(lv, t, got + (size_t)b * in->block,
                                 f.blocks + (size_t)b * in->bytes, in->block);
        snprintf(what, sizeof what, "%s dequant %s per block", in->name, pt_gemm_simd_name(lv));
        CHECK(cmp_bits(what, got, f.values, n) == 0, "%s", what);

        pt_dequant_row_bf16_level(lv, t, gb, f.blocks, (int64_t)n);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            uint16_t w = pt_gemm_f32_to_bf16(f.values[i]);
            int nan = f.values[i] != f.values[i];
            if (nan ? (gb[i] & 0x7fff) <= 0x7f80 : gb[i] != w) bad++;
        }
        printf("  %s dequant bf16 %-10s %zu values, %zu differ from the rounded f32%s\n", in->name,
               pt_gemm_simd_name(lv), n, bad, bad ? "  <-- FAIL" : "");
        CHECK(bad == 0, "%s bf16 %s", in->name, pt_gemm_simd_name(lv));
    }

    pt_quant_row(t, q, f.inputs, (int64_t)f.nq * in->block);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < (size_t)f.nq * in->bytes; i++)
        if (q[i] != f.qbytes[i]) {
            if (!bad) first = i;
            bad++;
        }
    printf("  %s quantize: %u blocks, %zu of %zu bytes differ from numpy%s\n", in->name, f.nq, bad,
           (size_t)f.nq * in->bytes, bad ? "  <-- FAIL" : "");
    CHECK(bad == 0, "%s quantize: first difference in block %zu byte %zu: got 0x%02x want 0x%02x",
          in->name, first / in->bytes, first % in->bytes, bad ? q[first] : 0,
          bad ? f.qbytes[first] : 0);
    free(got);
    free(gb);
    free(q);
    free(f.buf);
}

/* random row of n values: gaussian, with a per-32 scale and offset */
static void rand_row(pt_rng *r, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 32) {
        float s = 0.02f * (0.2f + pt_rng_uniform(r)), o = 0.01f * (pt_rng_uniform(r) - 0.5f);
        for (int64_t j = i; j < i + 32 && j < n; j++) x[j] = s * pt_rng_normal(r) + o;
    }
}

/* dot and axpy at every level against float64 over the dequantized row */
static void test_products(void) {
    static const pt_wtype all[] = {PT_WT_F32,  PT_WT_F16,  PT_WT_BF16, PT_WT_Q4_0, PT_WT_Q4_1,
                                   PT_WT_Q5_0, PT_WT_Q5_1, PT_WT_Q8_0, PT_WT_Q2_K, PT_WT_Q3_K,
                                   PT_WT_Q4_K, PT_WT_Q5_K, PT_WT_Q6_K};
    pt_rng r;
    pt_rng_seed(&r, 7);
    enum { NMAX = 4096 };
    float *w = malloc(NMAX * 4), *x = malloc(NMAX * 4), *deq = malloc(NMAX * 4); /* (NMAX) */
    float *y = malloc(NMAX * 4), *y0 = malloc(NMAX * 4);                         /* (NMAX) */
    unsigned char *row = malloc(NMAX * 4);                                       /* bytes */
    for (size_t ti = 0; ti < sizeof all / sizeof all[0]; ti++) {
        pt_wtype t = all[ti];
        const pt_wtype_info *in = pt_wtype_get(t);
        /* lengths: one block, a few, a long row; float types also odd lengths */
        int64_t lens[4] = {in->block, 3 * in->block, NMAX, in->block > 1 ? 7 * in->block : 37};
        double worst_dot = 0, worst_dot_rel = 0, worst_axpy = 0;
        for (int li = 0; li < 4; li++) {
            int64_t n = lens[li];
            rand_row(&r, w, n);
            pt_quant_row(t, row, w, n);
            pt_dequant_row_ref(t, deq, row, n);
            for (int64_t i = 0; i < n; i++) x[i] = pt_rng_normal(&r);
            double ref = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) {
                ref += (double)x[i] * deq[i];
                mag += fabs((double)x[i] * deq[i]);
            }
            float a = 0.37f + pt_rng_uniform(&r);
            for (int64_t i = 0; i < n; i++) y0[i] = pt_rng_normal(&r) * 0.01f;
            for (int lv = 0; lv <= pt_quant_simd_level(); lv++) {
                float d = pt_qdot_row_level(lv, t, row, x, n);
                double e = fabs(d - ref) / (mag + 1e-30);
                if (e > worst_dot) worst_dot = e;
                double er = fabs(d - ref) / (fabs(ref) + 1e-30);
                if (er > worst_dot_rel) worst_dot_rel = er;
                CHECK(e <= 1e-6, "%s dot n=%lld at %s: %.9g, float64 %.9g (error %.3g of sum|xw|)",
                      in->name, (long long)n, pt_gemm_simd_name(lv), d, ref, e);
                memcpy(y, y0, (size_t)n * 4);
                pt_qaxpy_row_level(lv, t, y, a, row, n);
                for (int64_t i = 0; i < n; i++) {
                    double want = (double)y0[i] + (double)a * deq[i];
                    double ea =
                        fabs(y[i] - want) / (fabs((double)y0[i]) + fabs(a * deq[i]) + 1e-30);
                    if (ea > worst_axpy) worst_axpy = ea;
                    if (ea > 1e-6) {
                        CHECK(0, "%s axpy n=%lld at %s: y[%lld] = %.9g, want %.9g", in->name,
                              (long long)n, pt_gemm_simd_name(lv), (long long)i, y[i], want);
                        break;
                    }
                }
            }
            /* the dispatching entry points agree with their level */
            float dd = pt_qdot_row(t, row, x, n);
            CHECK(dd == pt_qdot_row_level(pt_quant_simd_level(), t, row, x, n), "%s pt_qdot_row",
                  in->name);
        }
        printf("  %-5s dot: max error %.3g of sum|x w| (%.3g of |dot|); axpy: max rel error %.3g\n",
               in->name, worst_dot, worst_dot_rel, worst_axpy);
    }
    free(w), free(x), free(deq), free(y), free(y0), free(row);
}

/* the float types: F16 widening of every half, F16 rounding of tricky floats */
static void test_float_types(void) {
    float *ref = malloc(65536 * 4), *got = malloc(65536 * 4); /* (65536) */
    uint16_t *h = malloc(65536 * 2);                          /* (65536) */
    for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    /* the half -> float table by a different rule: ldexp of the fields */
    for (int i = 0; i < 65536; i++) {
        int e = (i >> 10) & 31, m = i & 1023;
        double v = e == 0    ? ldexp(m, -24)
                   : e == 31 ? (m ? NAN : INFINITY)
                             : ldexp(1024 + m, e - 25);
        ref[i] = (float)((i & 0x8000) ? -v : v);
    }
    pt_dequant_row_ref(PT_WT_F16, got, h, 65536);
    CHECK(cmp_bits("F16 dequant ref (all halves)", got, ref, 65536) == 0, "f16 ref");
    for (int lv = 0; lv <= pt_quant_simd_level(); lv++) {
        char what[64];
        pt_dequant_row_level(lv, PT_WT_F16, got, h, 65536);
        snprintf(what, sizeof what, "F16 dequant %s (all halves)", pt_gemm_simd_name(lv));
        CHECK(cmp_bits(what, got, ref, 65536) == 0, "%s", what);
    }
    /* rounding: every half's value and the midpoints next to it */
    size_t bad = 0;
    for (int i = 0; i < 0x7c00; i++) {
        float v = ref[i], mid = (float)(((double)ref[i] + (double)ref[i + 1]) / 2);
        uint16_t out[2];
        float in2[2] = {v, mid};
        pt_quant_row(PT_WT_F16, out, in2, 2);
        uint16_t want_mid = (uint16_t)((i & 1) ? i + 1 : i); /* ties to even */
        if (out[0] != i || out[1] != want_mid) bad++;
    }
    float big[3] = {65520.0f, 65519.996f, -1e30f};
    uint16_t ob[3];
    pt_quant_row(PT_WT_F16, ob, big, 3);
    printf(
        "  F16 rounding: %zu of %d values/midpoints wrong; 65520 -> 0x%04x, 65519.996 -> 0x%04x\n",
        bad, 2 * 0x7c00, ob[0], ob[1]);
    CHECK(bad == 0 && ob[0] == 0x7c00 && ob[1] == 0x7bff && ob[2] == 0xfc00, "f16 rounding");
    free(ref), free(got), free(h);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* dequantize a 16384-element row (64 KiB of floats: stays in L2) many times */
static void bench(void) {
    enum { N = 16384 };
    float *x = malloc(N * 4), *y = malloc(N * 4);
    unsigned char *row = malloc(N * 4);
    pt_rng r;
    pt_rng_seed(&r, 1);
    rand_row(&r, x, N);
    printf(" dequantization throughput, Gelem/s (noisy shared machine, one thread):\n");
    printf("  %-6s %10s", "type", "ref");
    for (int lv = 0; lv <= pt_quant_simd_level(); lv++) printf(" %10s", pt_gemm_simd_name(lv));
    printf(" %10s %10s\n", "dot best", "bf16 best");
    for (int ti = -3; ti < NQT; ti++) {
        pt_wtype t = ti < 0 ? (pt_wtype)(ti + 3) : QTYPES[ti];
        pt_quant_row(t, row, x, N);
        printf("  %-6s", pt_wtype_get(t)->name);
        for (int lv = -1; lv <= pt_quant_simd_level() + 2; lv++) {
            int reps = 0;
            double t0 = now(), t1;
            volatile float sink = 0;
            uint16_t *yb = (uint16_t *)y;
            do {
                for (int k = 0; k < 8; k++) {
                    if (lv < 0)
                        pt_dequant_row_ref(t, y, row, N);
                    else if (lv <= pt_quant_simd_level())
                        pt_dequant_row_level(lv, t, y, row, N);
                    else if (lv == pt_quant_simd_level() + 1)
                        sink += pt_qdot_row(t, row, x, N);
                    else
                        pt_dequant_row_bf16(t, yb, row, N);
                }
                reps += 8;
                t1 = now();
            } while (t1 - t0 < 0.15);
            (void)sink;
            printf(" %10.2f", (double)reps * N / (t1 - t0) * 1e-9);
        }
        printf("\n");
    }
    free(x), free(y), free(row);
}

int main(void) {
    printf("quant kernels, SIMD levels up to %s\n", pt_gemm_simd_name(pt_quant_simd_level()));
    for (int i = 0; i < NQT; i++) test_fixture(QTYPES[i]);
    test_float_types();
    test_products();
    if (getenv("PTUNE_QUANT_BENCH")) bench();
    return t_done();
}
