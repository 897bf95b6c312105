/* test.h - the tiny harness every test program uses.
 * A test program returns t_done(): 0 if every check passed, 1 otherwise,
 * 77 (skip) via t_skip(). Numeric checks print the largest difference seen. */
#ifndef PT_TEST_H
#define PT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int t_failures = 0;
static int t_checks = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            t_failures++;                                                                          \
        }                                                                                          \
    } while (0)

/* Threads for the OpenMP regions that follow (nothing without OpenMP). */
static inline void t_set_threads(int t) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

/* Compare arrays: |got - want| <= atol + rtol * |want| elementwise.
 * Prints "what: max abs diff A, max rel diff R over n values". */
static inline int t_close(const char *what, const float *got, const float *want, size_t n,
                          double rtol, double atol) {
    double maxabs = 0, maxrel = 0;
    size_t worst = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double r = d / (fabs((double)want[i]) + 1e-12);
        if (!(d <= atol + rtol * fabs((double)want[i]))) {
            if (!bad) worst = i;
            bad++;
        }
        if (d > maxabs || d != d) maxabs = d, worst = bad ? worst : i;
        if (r > maxrel) maxrel = r;
    }
    printf("  %-40s max abs diff %.3g, max rel diff %.3g over %zu values%s\n", what, maxabs, maxrel,
           n, bad ? "  <-- FAIL" : "");
    t_checks++;
    if (bad) {
        fprintf(stderr,
                "FAIL %s: %zu of %zu values out of tolerance; first at %zu: got %.8g want %.8g\n",
                what, bad, n, worst, got[worst], want[worst]);
        t_failures++;
        return 0;
    }
    return 1;
}

/* Path under ../shared if it exists, else NULL (caller skips with a message). */
static inline const char *t_shared(const char *rel) {
    static char buf[4][1024];
    static int k = 0;
    const char *root = getenv("PTUNE_SHARED");
    if (!root) root = "../shared";
    char *p = buf[k++ & 3];
    snprintf(p, 1024, "%s/%s", root, rel);
    return access(p, R_OK) == 0 ? p : NULL;
}

static inline void t_note_skip(const char *what) {
    printf("  SKIPPED: %s\n", what);
}

static inline int t_skip(const char *why) {
    printf("  SKIP: %s\n", why);
    return 77;
}

static inline int t_done(void) {
    printf("  %d checks, %d failed\n", t_checks, t_failures);
    return t_failures ? 1 : 0;
}

#endif
