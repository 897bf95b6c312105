/* test_attention_ext.c - pt_attn_forward / pt_attn_backward with earlier
 * (cached) keys and with queries at some rows only, against the plain padded
 * attention over the whole sequence (itself checked against PyTorch in
 * test_kernels_torch): splitting a sequence into E earlier rows and T own rows
 * must give the own rows' outputs and every gradient (own and earlier keys)
 * of the whole-sequence pass; queries at chosen rows must give those rows'. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/kernels.h"
#include "test.h"

static float *rnd(pt_rng *r, size_t n) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)(pt_rng_u64(r) >> 40) / 16777216.0f * 2 - 1;
    return x;
}

/* Two sequences with different split points, NH heads over NKV kv heads. */
static void check(int causal, int NH, int NKV, int HS, int shared_ext) {
    enum { B = 2 };
    const int Ls[B] = {13, 9}, Es[B] = {6, 3}; /* whole length, earlier part */
    int QS = NH * HS, KS = NKV * HS, Tw = 13;
    pt_rng r;
    pt_rng_seed(&r, (uint64_t)(causal * 7 + NH * 3 + NKV + shared_ext * 100));
    size_t NW = (size_t)B * Tw;
    float *q = rnd(&r, NW * QS), *k = rnd(&r, NW * KS), *v = rnd(&r, NW * KS);
    float *dout = rnd(&r, NW * QS);
    if (shared_ext) /* both sequences share their earlier rows (a deep prompt) */
        for (int j = 0; j < Es[1]; j++) {
            memcpy(k + ((size_t)Tw + j) * KS, k + (size_t)j * KS, sizeof(float) * KS);
            memcpy(v + ((size_t)Tw + j) * KS, v + (size_t)j * KS, sizeof(float) * KS);
        }
    /* padding rows carry no gradient, and neither do the earlier rows (in the
     * split they are keys only, not queries) */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Tw; t++)
            if (t < Es[b] || t >= Ls[b]) memset(dout + ((size_t)b * Tw + t) * QS, 0, 4 * QS);
    /* reference: the whole sequences */
    float *out_w = calloc(NW * QS, 4), *att_w = calloc(NW * NH * Tw, 4);
    float *dq_w = calloc(NW * QS, 4), *dk_w = calloc(NW * KS, 4), *dv_w = calloc(NW * KS, 4);
    float scale = 1.0f / sqrtf((float)HS);
    pt_attention_forward(out_w, att_w, q, k, v, QS, KS, Ls, B, Tw, NH, NKV, HS, causal, scale);
    pt_attention_backward(dq_w, dk_w, dv_w, dout, att_w, q, k, v, QS, KS, Ls, B, Tw, NH, NKV, HS,
                          scale);
    /* split: earlier rows as (B, Emax, KS) keys, own rows packed */
    int Emax = 6, T = 10, start[B], len[B], elen[B], N = 0;
    float *ek = calloc((size_t)B * Emax * KS, 4), *ev = calloc((size_t)B * Emax * KS, 4);
    float *qo = calloc((size_t)B * T * QS, 4), *ko = calloc((size_t)B * T * KS, 4);
    float *vo = calloc((size_t)B * T * KS, 4), *dso = calloc((size_t)B * T * QS, 4);
    for (int b = 0; b < B; b++) {
        start[b] = N, len[b] = Ls[b] - Es[b], elen[b] = Es[b];
        for (int j = 0; j < Es[b]; j++) {
            memcpy(ek + ((size_t)b * Emax + j) * KS, k + ((size_t)b * Tw + j) * KS, 4 * KS);
            memcpy(ev + ((size_t)b * Emax + j) * KS, v + ((size_t)b * Tw + j) * KS, 4 * KS);
        }
        for (int t = 0; t < len[b]; t++) {
            size_t w = (size_t)b * Tw + Es[b] + t, o = (size_t)N + t;
            memcpy(qo + o * QS, q + w * QS, 4 * QS);
            memcpy(ko + o * KS, k + w * KS, 4 * KS);
            memcpy(vo + o * KS, v + w * KS, 4 * KS);
            memcpy(dso + o * QS, dout + w * QS, 4 * QS);
        }
        N += len[b];
    }
    pt_attn_geom g;
    memset(&g, 0, sizeof g);
    g.B = B, g.NH = NH, g.NKV = NKV, g.HS = HS, g.causal = causal, g.scale = scale;
    g.start = start, g.len = len, g.q_stride = QS, g.kv_stride = KS, g.T = T;
    g.ek = ek, g.ev = ev, g.e_bstride = shared_ext ? 0 : (size_t)Emax * KS, g.elen = elen;
    g.E = Emax;
    float *out = calloc((size_t)N * QS, 4), *att = calloc((size_t)B * NH * T * (Emax + T), 4);
    float *dq = calloc((size_t)N * QS, 4), *dk = calloc((size_t)N * KS, 4);
    float *dv = calloc((size_t)N * KS, 4);
    float *dek = calloc((size_t)B * Emax * KS, 4), *dev = calloc((size_t)B * Emax * KS, 4);
    pt_attn_forward(out, att, qo, ko, vo, &g);
    pt_attn_backward(dq, dk, dv, dek, dev, dso, att, qo, ko, vo, &g);
    /* want: the whole pass at the own rows; earlier-key gradients summed over
     * the sequences when they are shared */
    float *w_out = calloc((size_t)N * QS, 4), *w_dq = calloc((size_t)N * QS, 4);
    float *w_dk = calloc((size_t)N * KS, 4), *w_dv = calloc((size_t)N * KS, 4);
    float *w_dek = calloc((size_t)B * Emax * KS, 4), *w_dev = calloc((size_t)B * Emax * KS, 4);
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < len[b]; t++) {
            size_t w = (size_t)b * Tw + Es[b] + t, o = (size_t)start[b] + t;
            memcpy(w_out + o * QS, out_w + w * QS, 4 * QS);
            memcpy(w_dq + o * QS, dq_w + w * QS, 4 * QS);
            memcpy(w_dk + o * KS, dk_w + w * KS, 4 * KS);
            memcpy(w_dv + o * KS, dv_w + w * KS, 4 * KS);
        }
        size_t eb = shared_ext ? 0 : (size_t)b;
        for (int j = 0; j < Es[b]; j++)
            for (int c = 0; c < KS; c++) {
                w_dek[(eb * Emax + j) * KS + c] += dk_w[((size_t)b * Tw + j) * KS + c];
                w_dev[(eb * Emax + j) * KS + c] += dv_w[((size_t)b * Tw + j) * KS + c];
            }
    }
    char what[96];
    const char *tag = causal ? "causal" : "bidir";
    snprintf(what, sizeof what, "%s NH=%d NKV=%d%s out", tag, NH, NKV, shared_ext ? " shared" : "");
    t_close(what, out, w_out, (size_t)N * QS, 1e-5, 1e-6);
    snprintf(what, sizeof what, "%s NH=%d NKV=%d%s dq", tag, NH, NKV, shared_ext ? " shared" : "");
    t_close(what, dq, w_dq, (size_t)N * QS, 1e-5, 1e-6);
    snprintf(what, sizeof what, "%s dk, dv (own rows)", tag);
    t_close(what, dk, w_dk, (size_t)N * KS, 1e-5, 1e-6);
    t_close(what, dv, w_dv, (size_t)N * KS, 1e-5, 1e-6);
    snprintf(what, sizeof what, "%s dek, dev (earlier rows)%s", tag, shared_ext ? " shared" : "");
    t_close(what, dek, w_dek, (size_t)B * Emax * KS, 1e-5, 1e-6);
    t_close(what, dev, w_dev, (size_t)B * Emax * KS, 1e-5, 1e-6);

    /* queries at some own rows only: rows {1, last} of sequence 0, {2} of sequence 1 */
    int qstart[B] = {0, 2}, qlen[B] = {2, 1}, qidx[3] = {1, len[0] - 1, 2};
    int qrows[3] = {start[0] + 1, start[0] + len[0] - 1, start[1] + 2};
    float *qs = calloc(3 * (size_t)QS, 4), *ds = calloc(3 * (size_t)QS, 4);
    for (int i = 0; i < 3; i++) {
        memcpy(qs + (size_t)i * QS, qo + (size_t)qrows[i] * QS, 4 * QS);
        memcpy(ds + (size_t)i * QS, dso + (size_t)qrows[i] * QS, 4 * QS);
    }
    pt_attn_geom gs = g;
    gs.qstart = qstart, gs.qlen = qlen, gs.qidx = qidx, gs.Tq = 2;
    float *os_ = calloc(3 * (size_t)QS, 4), *atts = calloc((size_t)B * NH * 2 * (Emax + T), 4);
    pt_attn_forward(os_, atts, qs, ko, vo, &gs);
    float *wo = calloc(3 * (size_t)QS, 4);
    for (int i = 0; i < 3; i++) memcpy(wo + (size_t)i * QS, out + (size_t)qrows[i] * QS, 4 * QS);
    snprintf(what, sizeof what, "%s selected queries: out", tag);
    t_close(what, os_, wo, 3 * (size_t)QS, 1e-6, 1e-7);
    /* their gradients: the split pass with dout only at those rows */
    float *dsel = calloc((size_t)N * QS, 4), *dq2 = calloc((size_t)N * QS, 4);
    float *dk2 = calloc((size_t)N * KS, 4), *dv2 = calloc((size_t)N * KS, 4);
    for (int i = 0; i < 3; i++)
        memcpy(dsel + (size_t)qrows[i] * QS, dso + (size_t)qrows[i] * QS, 4 * QS);
    pt_attn_backward(dq2, dk2, dv2, NULL, NULL, dsel, att, qo, ko, vo, &g);
    float *dqs = calloc(3 * (size_t)QS, 4), *dks = calloc((size_t)N * KS, 4);
    float *dvs = calloc((size_t)N * KS, 4), *wdq = calloc(3 * (size_t)QS, 4);
    pt_attn_backward(dqs, dks, dvs, NULL, NULL, ds, atts, qs, ko, vo, &gs);
    for (int i = 0; i < 3; i++) memcpy(wdq + (size_t)i * QS, dq2 + (size_t)qrows[i] * QS, 4 * QS);
    snprintf(what, sizeof what, "%s selected queries: dq, dk, dv", tag);
    t_close(what, dqs, wdq, 3 * (size_t)QS, 1e-5, 1e-6);
    t_close(what, dks, dk2, (size_t)N * KS, 1e-5, 1e-6);
    t_close(what, dvs, dv2, (size_t)N * KS, 1e-5, 1e-6);

    free(q), free(k), free(v), free(dout), free(out_w), free(att_w), free(dq_w), free(dk_w);
    free(dv_w), free(ek), free(ev), free(qo), free(ko), free(vo), free(dso), free(out), free(att);
    free(dq), free(dk), free(dv), free(dek), free(dev), free(w_out), free(w_dq), free(w_dk);
    free(w_dv), free(w_dek), free(w_dev), free(qs), free(ds), free(os_), free(atts), free(wo);
    free(dsel), free(dq2), free(dk2), free(dv2), free(dqs), free(dks), free(dvs), free(wdq);
}

int main(void) {
    printf("attention with earlier keys and selected queries vs the whole sequence\n");
    check(1, 4, 2, 8, 0);
    check(0, 4, 2, 8, 0);
    check(1, 6, 6, 4, 0);
    check(0, 2, 1, 16, 0);
    check(0, 4, 2, 8, 1);
    check(1, 4, 4, 8, 1);
    return t_done();
}
