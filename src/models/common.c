/* common.c - block pieces several families share: final norms at the output
 * rows, the identity embedding stage, the plain LM head's helpers. */
#include <string.h>

#include "kernels/kernels.h"
#include "models/family.h"

void pt_fam_embed_copy(const pt_model *m, const pt_pass *p, float *const *a, const float *x_emb,
                       float *x0) {
    memcpy(x0, x_emb, sizeof(float) * (size_t)p->N * m->cfg.dim);
}

void pt_fam_embed_copy_backward(const pt_model *m, const pt_pass *p, float *const *a,
                                const float *x_emb, float *dx_emb, const float *dx0) {
    pt_add_inplace(dx_emb, dx0, (size_t)p->N * m->cfg.dim);
}

void pt_fam_final_rmsnorm(const pt_model *m, float *h, float *stats, const float *xf,
                          const int *rows, int n) {
    int C = m->cfg.dim;
    const float *w = pt_weight_f32(&m->w.out_norm);
    for (int i = 0; i < n; i++)
        pt_rmsnorm_forward(h + (size_t)i * C, stats + 2 * (size_t)i, xf + (size_t)rows[i] * C, w, 1,
                           C, m->cfg.norm_eps);
}

void pt_fam_final_rmsnorm_backward(const pt_model *m, float *dxf, const float *dh, const float *xf,
                                   const float *stats, const int *rows, int n) {
    int C = m->cfg.dim;
    const float *w = pt_weight_f32(&m->w.out_norm);
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)rows[i] * C;
        pt_rmsnorm_backward(dxf + row, dh + (size_t)i * C, xf + row, w, stats + 2 * (size_t)i, 1,
                            C);
    }
}

void pt_fam_final_layernorm(const pt_model *m, float *h, float *stats, const float *xf,
                            const int *rows, int n) {
    int C = m->cfg.dim;
    const float *w = pt_weight_f32(&m->w.out_norm), *b = pt_weight_f32(&m->w.out_norm_b);
    for (int i = 0; i < n; i++)
        pt_layernorm_forward(h + (size_t)i * C, stats + 2 * (size_t)i, stats + 2 * (size_t)i + 1,
                             xf + (size_t)rows[i] * C, w, b, 1, C, m->cfg.norm_eps);
}

void pt_fam_final_layernorm_backward(const pt_model *m, float *dxf, const float *dh,
                                     const float *xf, const float *stats, const int *rows, int n) {
    int C = m->cfg.dim;
    const float *w = pt_weight_f32(&m->w.out_norm);
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)rows[i] * C;
        pt_layernorm_backward(dxf + row, dh + (size_t)i * C, xf + row, w, stats + 2 * (size_t)i,
                              stats + 2 * (size_t)i + 1, 1, C);
    }
}

void pt_fam_final_copy(const pt_model *m, float *h, float *stats, const float *xf, const int *rows,
                       int n) {
    int C = m->cfg.dim;
    for (int i = 0; i < n; i++)
        memcpy(h + (size_t)i * C, xf + (size_t)rows[i] * C, sizeof(float) * (size_t)C);
}

void pt_fam_final_copy_backward(const pt_model *m, float *dxf, const float *dh, const float *xf,
                                const float *stats, const int *rows, int n) {
    int C = m->cfg.dim;
    for (int i = 0; i < n; i++)
        pt_add_inplace(dxf + (size_t)rows[i] * C, dh + (size_t)i * C, (size_t)C);
}
