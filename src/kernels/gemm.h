/* gemm.h - the GEMM engines behind the matmul seam (kernels.h) and what the
 * build chose.
 *
 * The engine is fixed at build time (Makefile GEMM=openblas|dnnl|builtin,
 * default: OpenBLAS when pkg-config finds it, else builtin):
 *   builtin   packed C micro-kernels, one per SIMD level (generic C, AVX2+FMA,
 *             AVX-512), the best one the CPU supports picked at run time;
 *             always compiled: the tests and a library-free build use it
 *   openblas  cblas_sgemm (PT_GEMM_OPENBLAS)
 *   dnnl      oneDNN 2.x matmul primitive (PT_GEMM_DNNL), f32 and bf16
 *
 * bf16 weights ("W16"): uint16_t holding the upper half of an IEEE float32
 * (round to nearest even). Products with them accumulate in float32, in the
 * arithmetic pt_mm_get_arith (weight.h) names: widened to float32 (the
 * engines above), or vdpbf16ps on CPUs with AVX512-BF16 (pt_gemm_bf16dp,
 * gemm_bf16.c, whatever the build's engine). No AMX code: none of our
 * machines with AMX was available to test it.
 */
#ifndef PT_KERNELS_GEMM_H
#define PT_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* SIMD levels of the builtin engine. */
enum { PT_SIMD_GENERIC = 0, PT_SIMD_AVX2 = 1, PT_SIMD_AVX512 = 2 };

/* Highest level the CPU (and the compiler) supports, lowered by the
 * environment variable PTUNE_SIMD=generic|avx2|avx512 when set. */
int pt_gemm_simd_level(void);
const char *pt_gemm_simd_name(int level);

/* Builtin engine, one call:
 *   c (M, N) at row stride ldc += a (M, K) at row stride lda . B
 * where B (K, N) is b[k*ldb + n] when b_trans == 0, b[n*ldb + k] when
 * b_trans == 1; b holds floats, or bf16 when b_bf16. Threads with OpenMP. */
void pt_gemm_builtin(int level, float *c, int ldc, const float *a, int lda, const void *b, int ldb,
                     int b_trans, int b_bf16, int M, int N, int K);

/* bf16 arithmetic (gemm_bf16.c): 1 when the CPU runs AVX512-BF16 (CPUID leaf 7
 * subleaf 1 EAX bit 5, with AVX-512 F and BW). */
int pt_cpu_has_avx512bf16(void);
/* c (M, N) at row stride ldc += a (M, K) . B (K, N), B bf16 as in
 * pt_gemm_builtin with b_bf16 (b_trans picks the layout), with vdpbf16ps:
 * a rounded to bf16 (parts 1) or split into bf16 high and low parts (parts 2),
 * float32 accumulation. Returns 0 when done, nonzero (nothing written) when
 * the CPU lacks AVX512-BF16 or memory runs out. Threads with OpenMP. */
int pt_gemm_bf16dp(int parts, float *c, int ldc, const float *a, int lda, const uint16_t *b,
                   int ldb, int b_trans, int M, int N, int K);

/* Engine-specific entry points; each returns 0 when it did the work, nonzero
 * when it cannot (the seam then falls back to the builtin engine). */
int pt_gemm_lib_forward(float *out, const float *inp, const float *W, const float *bias, int N,
                        int C, int OC);
/* pt_gemm_small (kernels.h) through the library */
int pt_gemm_lib_small(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                      int b_trans, int M, int N, int K, float alpha);
int pt_gemm_lib_backward_input(float *dinp, const float *dout, const float *W, int N, int C,
                               int OC);
int pt_gemm_lib_forward_bf16(float *out, const float *inp, const uint16_t *W, const float *bias,
                             int N, int C, int OC);
int pt_gemm_lib_backward_input_bf16(float *dinp, const float *dout, const uint16_t *W, int N, int C,
                                    int OC);

/* oneDNN builds: library version and the CPU ISA it dispatches to. */
void pt_gemm_dnnl_describe(char *version, size_t vn, char *isa, size_t in);

/* float32 <-> bf16 (round to nearest even; NaN stays NaN). */
static inline uint16_t pt_gemm_f32_to_bf16(float f) {
    union {
        float f;
        uint32_t u;
    } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40u);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}
static inline float pt_gemm_bf16_to_f32(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}
void pt_bf16_from_f32(uint16_t *dst, const float *src, size_t n);

/* What the build runs on. */
typedef struct pt_gemm_info {
    const char *engine; /* "builtin", "openblas" or "dnnl" */
    char version[64];   /* library version ("" for builtin) */
    char core[64];      /* OpenBLAS core name, oneDNN ISA, or builtin SIMD level */
    char detail[64];    /* e.g. how the library runs its threads */
    const char *simd;   /* builtin engine's SIMD level */
    int threads;        /* OpenMP threads (1 without OpenMP) */
} pt_gemm_info;
void pt_gemm_get_info(pt_gemm_info *info);

/* OpenBLAS builds only: the kernel family OpenBLAS picked (NULL otherwise). */
const char *pt_gemm_openblas_core(void);
/* The OPENBLAS_CORETYPE to set when OpenBLAS picked kernels below what the CPU
 * supports (the CPU-table bug of OpenBLAS < 0.3.25 on recent x86 CPUs), else
 * NULL. Only tells; changing it needs a fresh process (OpenBLAS reads the
 * variable when it loads). */
const char *pt_gemm_openblas_better_core(void);
/* OpenBLAS builds: when the user's OPENBLAS_CORETYPE names kernels below what
 * this CPU supports (say Haswell on an AVX-512 CPU), the better setting; ptune
 * honours the user's choice and only tells. NULL otherwise. */
const char *pt_gemm_openblas_env_below(void);
/* The rule behind it: the core type to ask for when OpenBLAS detected
 * `detected` on this CPU, or NULL when `detected` already uses what the CPU
 * has (x86 only; NULL elsewhere). */
const char *pt_gemm_core_fix(const char *detected);

#endif
