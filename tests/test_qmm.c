/* test_qmm.c - the matmul seam over typed weights straight from the stored
 * blocks (pt_mm_forward / pt_mm_backward_input with F16 and Q4_0 ... Q6_K):
 * for odd shapes (row counts on both sides of the fused-row path, several
 * tiles of W, partial tiles) and 1 and 2 threads, the products equal the
 * float64 product over the matrix dequantized by the reference dequantizer
 * (pt_dequant_row_ref, itself bit-equal to the numpy oracle in test_quant)
 * within 1e-5 of the largest output, and 1 and 2 threads give the same bits.
 * PTUNE_QMM_BENCH=1 also times a 4096 x 4096 product per type against f32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/weight.h"
#include "test.h"

static const pt_wtype TYPES[] = {PT_WT_F16,  PT_WT_Q4_0, PT_WT_Q4_1, PT_WT_Q5_0,
                                 PT_WT_Q5_1, PT_WT_Q8_0, PT_WT_Q2_K, PT_WT_Q3_K,
                                 PT_WT_Q4_K, PT_WT_Q5_K, PT_WT_Q6_K};
#define NT (int)(sizeof TYPES / sizeof TYPES[0])

/* a quantized (OC, C) weight of random normal values; deq (OC, C) its
 * dequantization by the reference */
static pt_weight make_weight(pt_rng *r, pt_wtype t, int OC, int C, float *deq) {
    pt_weight w;
    CHECK(pt_weight_alloc(&w, t, OC, C) == PT_OK, "alloc %s", pt_wtype_get(t)->name);
    float *row = malloc((size_t)C * 4); // (C)
    for (int o = 0; o < OC; o++) {
        for (int i = 0; i < C; i++) row[i] = 0.05f * pt_rng_normal(r);
        unsigned char *dst = (unsigned char *)w.owned + (size_t)o * w.row_bytes;
        pt_quant_row(t, dst, row, C);
        pt_dequant_row_ref(t, deq + (size_t)o * C, dst, C);
    }
    free(row);
    return w;
}

static double worst_fwd = 0, worst_bwd = 0;

static void check_shape(pt_rng *r, pt_wtype t, int N, int C, int OC) {
    const char *tn = pt_wtype_get(t)->name;
    float *deq = malloc((size_t)OC * C * 4);                                   // (OC, C)
    float *x = malloc((size_t)N * C * 4), *dy = malloc((size_t)N * OC * 4);    // (N, C) (N, OC)
    float *bias = malloc((size_t)OC * 4), *dx0 = malloc((size_t)N * C * 4);    // (OC) (N, C)
    float *y[2] = {malloc((size_t)N * OC * 4), malloc((size_t)N * OC * 4)};    // (N, OC)
    float *dx[2] = {malloc((size_t)N * C * 4), malloc((size_t)N * C * 4)};     // (N, C)
    double *yr = malloc((size_t)N * OC * 8), *dxr = malloc((size_t)N * C * 8); // f64
    pt_weight w = make_weight(r, t, OC, C, deq);
    for (size_t i = 0; i < (size_t)N * C; i++) x[i] = pt_rng_normal(r), dx0[i] = pt_rng_normal(r);
    for (size_t i = 0; i < (size_t)N * OC; i++) dy[i] = pt_rng_normal(r);
    for (int o = 0; o < OC; o++) bias[o] = pt_rng_normal(r);
    double ymax = 0, dxmax = 0;
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OC; o++) {
            double s = bias[o];
            for (int i = 0; i < C; i++) s += (double)x[(size_t)n * C + i] * deq[(size_t)o * C + i];
            yr[(size_t)n * OC + o] = s;
            if (fabs(s) > ymax) ymax = fabs(s);
        }
        for (int i = 0; i < C; i++) {
            double s = dx0[(size_t)n * C + i];
            for (int o = 0; o < OC; o++)
                s += (double)dy[(size_t)n * OC + o] * deq[(size_t)o * C + i];
            dxr[(size_t)n * C + i] = s;
            if (fabs(s) > dxmax) dxmax = fabs(s);
        }
    }
    for (int th = 1; th <= 2; th++) {
        t_set_threads(th);
        float *yt = y[th - 1], *dxt = dx[th - 1];
        pt_mm_forward(yt, x, &w, bias, N);
        memcpy(dxt, dx0, (size_t)N * C * 4);
        pt_mm_backward_input(dxt, dy, &w, N);
        double ef = 0, eb = 0;
        for (size_t i = 0; i < (size_t)N * OC; i++) {
            double e = fabs(yt[i] - yr[i]) / ymax;
            if (!(e <= ef)) ef = e;
        }
        for (size_t i = 0; i < (size_t)N * C; i++) {
            double e = fabs(dxt[i] - dxr[i]) / dxmax;
            if (!(e <= eb)) eb = e;
        }
        if (ef > worst_fwd) worst_fwd = ef;
        if (eb > worst_bwd) worst_bwd = eb;
        CHECK(ef <= 1e-5, "%s forward N=%d C=%d OC=%d %d threads: error %.3g of max|y|", tn, N, C,
              OC, th, ef);
        CHECK(eb <= 1e-5, "%s backward N=%d C=%d OC=%d %d threads: error %.3g of max|dx|", tn, N, C,
              OC, th, eb);
    }
    CHECK(!memcmp(y[0], y[1], (size_t)N * OC * 4), "%s forward N=%d: 1 and 2 threads differ", tn,
          N);
    CHECK(!memcmp(dx[0], dx[1], (size_t)N * C * 4), "%s backward N=%d: 1 and 2 threads differ", tn,
          N);
    pt_weight_free(&w);
    free(deq), free(x), free(dy), free(bias), free(dx0), free(yr), free(dxr);
    free(y[0]), free(y[1]), free(dx[0]), free(dx[1]);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* seconds per call of f (median of 5) */
static double time_mm(const pt_weight *w, float *y, float *dx, const float *x, const float *dy,
                      int N, int bwd) {
    double t[5];
    for (int k = 0; k < 5; k++) {
        double t0 = now();
        if (bwd)
            pt_mm_backward_input(dx, dy, w, N);
        else
            pt_mm_forward(y, x, w, NULL, N);
        t[k] = now() - t0;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (t[j] < t[i]) {
                double s = t[i];
                t[i] = t[j], t[j] = s;
            }
    return t[2];
}

static void bench(void) {
    enum { N = 256, C = 4096, OC = 4096 };
    pt_rng r;
    pt_rng_seed(&r, 3);
    float *f = malloc((size_t)OC * C * 4), *x = malloc((size_t)N * C * 4); // (OC, C) (N, C)
    float *y = malloc((size_t)N * OC * 4), *dx = calloc((size_t)N * C, 4); // (N, OC) (N, C)
    for (size_t i = 0; i < (size_t)OC * C; i++) f[i] = 0.05f * pt_rng_normal(&r);
    for (size_t i = 0; i < (size_t)N * C; i++) x[i] = pt_rng_normal(&r);
    t_set_threads(2);
    printf(" timing N=%d C=%d OC=%d, 2 threads, median of 5 (noisy shared machine):\n", N, C, OC);
    pt_weight wf = pt_weight_wrap(PT_WT_F32, OC, C, f);
    pt_weight wb = wf;
    CHECK(pt_weight_convert(&wb, PT_WT_BF16) == PT_OK, "bf16");
    printf("   %-5s forward %7.1f ms  backward %7.1f ms\n", "F32",
           1e3 * time_mm(&wf, y, dx, x, y, N, 0), 1e3 * time_mm(&wf, y, dx, x, y, N, 1));
    printf("   %-5s forward %7.1f ms  backward %7.1f ms\n", "BF16",
           1e3 * time_mm(&wb, y, dx, x, y, N, 0), 1e3 * time_mm(&wb, y, dx, x, y, N, 1));
    pt_weight_free(&wb);
    for (int ti = 0; ti < NT; ti++) {
        pt_weight w = pt_weight_wrap(PT_WT_F32, OC, C, f);
        CHECK(pt_weight_convert(&w, TYPES[ti]) == PT_OK, "convert");
        printf("   %-5s forward %7.1f ms  backward %7.1f ms\n", pt_wtype_get(TYPES[ti])->name,
               1e3 * time_mm(&w, y, dx, x, y, N, 0), 1e3 * time_mm(&w, y, dx, x, y, N, 1));
        pt_weight_free(&w);
    }
    free(f), free(x), free(y), free(dx);
}

int main(void) {
    pt_rng r;
    pt_rng_seed(&r, 11);
    for (int ti = 0; ti < NT; ti++) {
        pt_wtype t = TYPES[ti];
        int b = pt_wtype_get(t)->block;
        /* C: several forward tiles (1024 columns) and input-gradient tiles
         * (256) with a partial last one; OC: forward panels of 64 and
         * input-gradient panels of 256, partial last ones */
        int C = b == 1 ? 1283 : b == 32 ? 37 * 32 : 5 * 256;
        static const int Ns[] = {1, 2, 3, 17};
        for (int k = 0; k < 4; k++) check_shape(&r, t, Ns[k], C, k == 3 ? 259 : 67);
        check_shape(&r, t, 5, b == 1 ? 7 : b, 3); /* one block per row */
        printf("  %-5s max error forward %.3g, input gradient %.3g (of the largest output)\n",
               pt_wtype_get(t)->name, worst_fwd, worst_bwd);
        worst_fwd = worst_bwd = 0;
    }
    if (getenv("PTUNE_QMM_BENCH")) bench();
    return t_done();
}
