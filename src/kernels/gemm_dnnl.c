/* gemm_dnnl.c - the oneDNN engine (built with GEMM=dnnl, PT_GEMM_DNNL; oneDNN 2.x C API).
 *
 * One matmul primitive per call (oneDNN's primitive cache makes repeated shapes
 * cheap to create):
 *   forward:        dst out (N, OC) = src inp (N, C) . weights (C, OC) + bias,
 *                   weights = W (OC, C) described with strides (1, C)
 *   backward_input: dst dinp (N, C) += src dout (N, OC) . weights W (OC, C),
 *                   the += through a sum post-op
 * bf16: weights are bf16 as given; oneDNN wants the source in bf16 as well, so
 * the activations are rounded to bf16 in a scratch buffer; accumulation and
 * output stay f32 (AMX / AVX512-BF16 where the CPU has them). A CPU without a
 * bf16 path makes primitive creation fail: the seam then uses the builtin engine.
 */
#include "kernels/gemm.h"

#ifdef PT_GEMM_DNNL
#include <dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static int g_ok;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void) {
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) return;
    if (dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(g_engine);
        return;
    }
    g_ok = 1;
}

/* 2-D descriptor: rows x cols with the given strides */
static int md2(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t s0, int64_t s1,
               dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols}, strides = {s0, s1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides) != dnnl_success;
}

/* dst (M, Nn) (=|+=) src (M, K) . weights (K, Nn) [+ bias (1, Nn)];
 * w_trans: weights stored as (Nn, K) rows. Returns 0 on success. */
static int run(float *dst, const void *src, dnnl_data_type_t src_dt, const void *w,
               dnnl_data_type_t w_dt, int w_trans, const float *bias, int accumulate, int64_t M,
               int64_t K, int64_t Nn) {
    pthread_once(&g_once, init_once);
    if (!g_ok) return 1;
    dnnl_memory_desc_t smd, wmd, bmd, dmd;
    if (md2(&smd, M, K, K, 1, src_dt) ||
        md2(&wmd, K, Nn, w_trans ? 1 : Nn, w_trans ? K : 1, w_dt) ||
        md2(&dmd, M, Nn, Nn, 1, dnnl_f32) || (bias && md2(&bmd, 1, Nn, Nn, 1, dnnl_f32)))
        return 1;
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &smd, &wmd, bias ? &bmd : NULL, &dmd) != dnnl_success)
        return 1;
    int rc = 1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t ms = NULL, mw = NULL, mb = NULL, md = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) goto done;
    if (accumulate) {
        if (dnnl_post_ops_create(&po) != dnnl_success ||
            dnnl_post_ops_append_sum(po, 1.0f) != dnnl_success ||
            dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success)
            goto done;
    }
    if (dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL) != dnnl_success) goto done;
    if (dnnl_primitive_create(&prim, pd) != dnnl_success) goto done;
    if (dnnl_memory_create(&ms, &smd, g_engine, (void *)src) != dnnl_success ||
        dnnl_memory_create(&mw, &wmd, g_engine, (void *)w) != dnnl_success ||
        dnnl_memory_create(&md, &dmd, g_engine, dst) != dnnl_success ||
        (bias && dnnl_memory_create(&mb, &bmd, g_engine, (void *)bias) != dnnl_success))
        goto done;
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}, {DNNL_ARG_BIAS, mb}};
    if (dnnl_primitive_execute(prim, g_stream, bias ? 4 : 3, args) != dnnl_success) goto done;
    if (dnnl_stream_wait(g_stream) != dnnl_success) goto done;
    rc = 0;
done:
    if (mb) dnnl_memory_destroy(mb);
    if (md) dnnl_memory_destroy(md);
    if (mw) dnnl_memory_destroy(mw);
    if (ms) dnnl_memory_destroy(ms);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

int pt_gemm_lib_forward(float *out, const float *inp, const float *W, const float *bias, int N,
                        int C, int OC) {
    if (N <= 0 || C <= 0 || OC <= 0) return 1;
    return run(out, inp, dnnl_f32, W, dnnl_f32, 1, bias, 0, N, C, OC);
}

/* Small products stay with the caller's loops under oneDNN (its primitives are
 * created per shape, too costly per attention head). */
int pt_gemm_lib_small(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                      int b_trans, int M, int N, int K, float alpha) {
    return 1;
}

int pt_gemm_lib_backward_input(float *dinp, const float *dout, const float *W, int N, int C,
                               int OC) {
    if (N <= 0 || C <= 0 || OC <= 0) return 1;
    return run(dinp, dout, dnnl_f32, W, dnnl_f32, 0, NULL, 1, N, OC, C);
}

/* src (n) rounded to bf16 in a fresh buffer, or NULL */
static uint16_t *to_bf16(const float *src, size_t n) {
    uint16_t *b = malloc(n * sizeof *b);
    if (b) pt_bf16_from_f32(b, src, n);
    return b;
}

int pt_gemm_lib_forward_bf16(float *out, const float *inp, const uint16_t *W, const float *bias,
                             int N, int C, int OC) {
    if (N <= 0 || C <= 0 || OC <= 0) return 1;
    uint16_t *x = to_bf16(inp, (size_t)N * C); // (N, C)
    if (!x) return 1;
    int rc = run(out, x, dnnl_bf16, W, dnnl_bf16, 1, bias, 0, N, C, OC);
    free(x);
    return rc;
}

int pt_gemm_lib_backward_input_bf16(float *dinp, const float *dout, const uint16_t *W, int N, int C,
                                    int OC) {
    if (N <= 0 || C <= 0 || OC <= 0) return 1;
    uint16_t *g = to_bf16(dout, (size_t)N * OC); // (N, OC)
    if (!g) return 1;
    int rc = run(dinp, g, dnnl_bf16, W, dnnl_bf16, 0, NULL, 1, N, OC, C);
    free(g);
    return rc;
}

void pt_gemm_dnnl_describe(char *version, size_t vn, char *isa, size_t in) {
    const dnnl_version_t *v = dnnl_version();
    snprintf(version, vn, "%d.%d.%d", v->major, v->minor, v->patch);
    dnnl_cpu_isa_t i = dnnl_get_effective_cpu_isa();
    const char *name = i == dnnl_cpu_isa_avx512_core_amx    ? "avx512_core_amx"
                       : i == dnnl_cpu_isa_avx512_core_bf16 ? "avx512_core_bf16"
                       : i == dnnl_cpu_isa_avx512_core_vnni ? "avx512_core_vnni"
                       : i == dnnl_cpu_isa_avx512_core      ? "avx512_core"
                       : i == dnnl_cpu_isa_avx2_vnni        ? "avx2_vnni"
                       : i == dnnl_cpu_isa_avx2             ? "avx2"
                                                            : "other";
    snprintf(isa, in, "%s", name);
}
#else
typedef int pt_gemm_dnnl_unused; /* builds without oneDNN: nothing here */
#endif
