/* peak.c - the machine's fp32 multiply-add peak, measured: every thread runs
 * independent chains of vector FMAs (acc = acc * a + b) long enough to hide
 * the FMA latency, and the best of several timed runs is reported.
 * Build: cc -O2 -march=native -fopenmp bench/peak.c -o build/peak
 * Prints one JSON line: {"peak_gflops": X, "threads": N, "vector_floats": W}. */
#include <stdio.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__AVX512F__)
#define W 16
#else
#define W 8
#endif
#define CHAINS 12 /* >= FMA latency x FMA units */
typedef float vf __attribute__((vector_size(W * 4)));

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CHAINS x W lanes, iters rounds: 2 * CHAINS * W * iters flops. */
static float run(long iters, float seed) {
    vf acc[CHAINS], a, b;
    for (int i = 0; i < W; i++) a[i] = 0.999999f, b[i] = 1e-7f * seed;
    for (int c = 0; c < CHAINS; c++)
        for (int i = 0; i < W; i++) acc[c][i] = seed + c + i;
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * a + b;
    }
    float s = 0;
    for (int c = 0; c < CHAINS; c++)
        for (int i = 0; i < W; i++) s += acc[c][i];
    return s;
}

int main(void) {
    long iters = 10000000;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    double best = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < 10; rep++) {
        double t0 = now_s();
        float s = 0;
#pragma omp parallel reduction(+ : s)
        s += run(iters, (float)rep + 1.0f);
        double dt = now_s() - t0;
        sink += s;
        double gf = 2.0 * CHAINS * W * (double)iters * threads / dt * 1e-9;
        if (gf > best) best = gf;
    }
    printf("{\"peak_gflops\": %.1f, \"threads\": %d, \"vector_floats\": %d}\n", best, threads, W);
    return sink == 12345.0f;
}
