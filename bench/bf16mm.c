/* bf16mm.c - the products with bf16 weights at GPT-2-small shapes, each
 * arithmetic side by side: f32 weights (the build's engine), bf16 widened to
 * f32 (PTUNE_BF16_ARITH=f32), bf16 and bf16x2 (vdpbf16ps). Forward
 * y = x . W^T and input gradient dx += dy . W, 1024 rows; rounds interleave
 * the four, the medians are printed as ms and GFLOP/s.
 *   make build/bf16mm && build/bf16mm [rounds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/weight.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { NA = 4, MAXR = 64 };

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1 || rounds > MAXR) rounds = 7;
    static const int shapes[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};
    const int N = 1024;
    static const char *names[NA] = {"f32 weights", "bf16 widen (f32)", "bf16", "bf16x2"};
    printf("bf16mm: %d rows, %d rounds interleaved, medians; avx512bf16 %s\n", N, rounds,
           pt_cpu_has_avx512bf16() ? "yes" : "no");
    double tot[2][NA] = {{0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int C = shapes[s][0], OC = shapes[s][1];
        float *x = malloc(sizeof(float) * N * C), *y = malloc(sizeof(float) * N * OC);
        float *w = malloc(sizeof(float) * OC * C);
        if (!x || !y || !w) return 1;
        for (size_t i = 0; i < (size_t)N * C; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < (size_t)N * OC; i++) y[i] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < (size_t)OC * C; i++) w[i] = (float)rand() / RAND_MAX - 0.5f;
        pt_weight W32 = pt_weight_wrap(PT_WT_F32, OC, C, w), W16;
        if (pt_weight_alloc(&W16, PT_WT_BF16, OC, C)) return 1;
        pt_bf16_from_f32(W16.owned, w, (size_t)OC * C);
        float *out = malloc(sizeof(float) * N * OC), *dx = calloc((size_t)N * C, sizeof(float));
        double t[2][NA][MAXR];
        for (int r = 0; r < rounds + 1; r++) {
            for (int a = 0; a < NA; a++) {
                const pt_weight *Wa = a == 0 ? &W32 : &W16;
                if (a) pt_mm_set_arith(a == 1 ? PT_ARITH_F32 : a == 2 ? PT_ARITH_BF16 : PT_ARITH_BF16X2);
                double t0 = now();
                pt_mm_forward(out, x, Wa, NULL, N);
                double t1 = now();
                pt_mm_backward_input(dx, y, Wa, N);
                double t2 = now();
                if (r) t[0][a][r - 1] = t1 - t0, t[1][a][r - 1] = t2 - t1; /* round 0: warm-up */
            }
        }
        double fl = 2.0 * N * C * OC;
        printf("C %4d -> OC %4d:", C, OC);
        for (int d = 0; d < 2; d++)
            for (int a = 0; a < NA; a++) {
                qsort(t[d][a], rounds, sizeof(double), cmp);
                double m = t[d][a][rounds / 2];
                tot[d][a] += m;
                printf(" %s %s %.2f ms (%.0f GF/s)%s", d ? "bwd" : "fwd", names[a], 1e3 * m,
                       fl / m * 1e-9, a == NA - 1 ? "\n" : ",");
            }
        free(x), free(y), free(w), free(out), free(dx);
        pt_weight_free(&W16);
    }
    for (int d = 0; d < 2; d++) {
        printf("sum %s:", d ? "input gradient" : "forward");
        for (int a = 0; a < NA; a++)
            printf(" %s %.1f ms (%.2fx of f32 weights)%s", names[a], 1e3 * tot[d][a],
                   tot[d][0] / tot[d][a], a == NA - 1 ? "\n" : ",");
    }
    return 0;
}
