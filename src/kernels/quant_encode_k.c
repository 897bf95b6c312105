/* quant_encode_k.c - quantizers of the 256-element "K" types by ggml's
 * reference rules (quantize_row_q{2..6}_K_ref, no importance matrix): per
 * sub-block a small search for the scale (and offset) with the least
 * weighted error, then the sub-block scales quantized against one super-block
 * scale, then every element rounded again with the stored scales. The search
 * rules are in quant.h; every sum is accumulated in element order in float32
 * so that the numpy oracle (scripts/ref_quant.py) reproduces the bytes. */
#include "kernels/quant_impl.h"

#include <math.h>

#define GROUP_MAX_EPS 1e-15f

/* Scale and offset search for an asymmetric sub-block (ggml's
 * make_qkx2_quants): L (n) in 0..nmax, x ~ scale * L - *mn_out.
 * Returns the scale; *mn_out = -min (>= 0). */
static float search_qkx2(int n, int nmax, const float *x, const float *w, uint8_t *L, float *mn_out,
                         float rmin, float rdelta, int nstep, int use_mad) {
    uint8_t La[32]; /* (n <= 32) */
    float mn = x[0], mx = x[0], sw = w[0], sx = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
        sw += w[i];
        sx += w[i] * x[i];
    }
    if (mn > 0) mn = 0;
    if (mx == mn) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *mn_out = -mn;
        return 0.0f;
    }
    float iscale = (float)nmax / (mx - mn), scale = 1.0f / iscale, best = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = pt_q_nearest(iscale * (x[i] - mn));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        float diff = scale * (float)L[i] + mn - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best += w[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (mx - mn);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = pt_q_nearest(iscale * (x[i] - mn));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            La[i] = (uint8_t)l;
            float wl = w[i] * (float)l;
            sl += wl;
            sl2 += wl * (float)l;
            sxl += wl * x[i];
        }
        float D = sw * sl2 - sl * sl;
        if (D > 0) {
            float s = (sw * sxl - sx * sl) / D, m = (sl2 * sx - sl * sxl) / D;
            if (m > 0) m = 0, s = sxl / sl2;
            float err = 0;
            for (int i = 0; i < n; i++) {
                float diff = s * (float)La[i] + m - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                err += w[i] * diff;
            }
            if (err < best) {
                for (int i = 0; i < n; i++) L[i] = La[i];
                best = err, scale = s, mn = m;
            }
        }
    }
    *mn_out = -mn;
    return scale;
}

/* Symmetric scale search with weights x^2 (ggml's make_qx_quants, rmse
 * type 1, no importance): L (n) in 0..2 nmax - 1 (value L - nmax). */
static float search_qx(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0, mx = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), mx = x[i];
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)-nmax / mx, slx = 0, sl2 = 0;
    for (int i = 0; i < n; i++) {
        int l = pt_q_nearest(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        slx += w * x[i] * (float)l;
        sl2 += w * (float)l * (float)l;
    }
    float scale = sl2 != 0.0f ? slx / sl2 : 0.0f, best = scale * slx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / mx;
        float sx = 0, s2 = 0;
        for (int i = 0; i < n; i++) {
            int l = pt_q_nearest(iscale * x[i]);
            l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
            float w = x[i] * x[i];
            sx += w * x[i] * (float)l;
            s2 += w * (float)l * (float)l;
        }
        if (s2 > 0 && sx * sx > best * s2) {
            for (int i = 0; i < n; i++) {
                int l = pt_q_nearest(iscale * x[i]);
                L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
            }
            scale = sx / s2, best = scale * sx;
        }
    }
    return scale;
}

/* Q3_K's sub-block search (ggml's make_q3_quants with rmse): start from
 * round-to-nearest with the absmax scale, then up to 5 passes that move one
 * element at a time when that raises slx^2 / sl2. L (n) in 0..2 nmax - 1. */
static float search_q3(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0, mx = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), mx = x[i];
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)-nmax / mx, slx = 0, sl2 = 0;
    for (int i = 0; i < n; i++) {
        int l = pt_q_nearest(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        slx += w * x[i] * (float)l;
        sl2 += w * (float)l * (float)l;
    }
    for (int pass = 0; pass < 5; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i], sx = slx - w * x[i] * (float)L[i];
            if (sx > 0) {
                float s2 = sl2 - w * (float)L[i] * (float)L[i];
                int nl = pt_q_nearest(x[i] * s2 / sx);
                nl = nl < -nmax ? -nmax : nl > nmax - 1 ? nmax - 1 : nl;
                if (nl != L[i]) {
                    sx += w * x[i] * (float)nl;
                    s2 += w * (float)nl * (float)nl;
                    if (s2 > 0 && sx * sx * sl2 > slx * slx * s2) {
                        L[i] = (int8_t)nl, slx = sx, sl2 = s2;
                        changed++;
                    }
                }
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return sl2 > 0.0f ? slx / sl2 : 0.0f;
}

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Q2_K: 16 sub-blocks of 16, weights |x|, mean-absolute-error search; 4-bit
 * scales and mins against d = max scale / 15, dmin = max min / 15. */
void pt_q_enc_q2_k(uint8_t *y, const float *x) {
    uint8_t L[QK_K];
    float w[16], sc[16], mn[16], maxs = 0, maxm = 0;
    for (int j = 0; j < 16; j++) {
        for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
        sc[j] = search_qkx2(16, 3, x + 16 * j, w, L + 16 * j, &mn[j], -0.5f, 0.1f, 15, 1);
        if (sc[j] > maxs) maxs = sc[j];
        if (mn[j] > maxm) maxm = mn[j];
    }
    uint8_t *scales = y;
    if (maxs > 0) {
        float is = 15.0f / maxs;
        for (int j = 0; j < 16; j++) scales[j] = (uint8_t)pt_q_nearest(is * sc[j]);
        pt_q_wr16(y + 80, pt_q_f2h(maxs / 15.0f));
    } else {
        for (int j = 0; j < 16; j++) scales[j] = 0;
        pt_q_wr16(y + 80, pt_q_f2h(0.0f));
    }
    if (maxm > 0) {
        float is = 15.0f / maxm;
        for (int j = 0; j < 16; j++) scales[j] |= (uint8_t)(pt_q_nearest(is * mn[j]) << 4);
        pt_q_wr16(y + 82, pt_q_f2h(maxm / 15.0f));
    } else {
        pt_q_wr16(y + 82, pt_q_f2h(0.0f));
    }
    float d = pt_q_h2f(pt_q_rd16(y + 80)), dmin = pt_q_h2f(pt_q_rd16(y + 82));
    for (int j = 0; j < 16; j++) {
        float dl = d * (float)(scales[j] & 15);
        if (dl == 0.0f) continue;
        float ml = dmin * (float)(scales[j] >> 4);
        for (int l = 0; l < 16; l++)
            L[16 * j + l] = (uint8_t)clampi(pt_q_nearest((x[16 * j + l] + ml) / dl), 0, 3);
    }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *q = L + 128 * h + l;
            y[16 + 32 * h + l] = (uint8_t)(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
        }
}

/* Q3_K: 16 sub-blocks of 16, search_q3; 6-bit signed scales against
 * d = -(max signed scale) / 32. */
void pt_q_enc_q3_k(uint8_t *y, const float *x) {
    int8_t L[QK_K];
    float sc[16], amax = 0, maxs = 0;
    for (int j = 0; j < 16; j++) {
        sc[j] = search_q3(16, 4, x + 16 * j, L + 16 * j);
        if (fabsf(sc[j]) > amax) amax = fabsf(sc[j]), maxs = sc[j];
    }
    uint8_t *s = y + 96;
    memset(s, 0, 12);
    if (maxs != 0.0f) {
        float is = -32.0f / maxs;
        for (int j = 0; j < 16; j++) {
            int l = clampi((int8_t)(uint8_t)pt_q_nearest(is * sc[j]), -32, 31) + 32;
            if (j < 8)
                s[j] = (uint8_t)(l & 15);
            else
                s[j - 8] |= (uint8_t)((l & 15) << 4);
            s[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        }
        pt_q_wr16(y + 108, pt_q_f2h(1.0f / is));
    } else {
        pt_q_wr16(y + 108, pt_q_f2h(0.0f));
    }
    int sv[16];
    pt_q_k3_scales(s, sv);
    float d = pt_q_h2f(pt_q_rd16(y + 108));
    for (int j = 0; j < 16; j++) {
        float dl = d * (float)sv[j];
        if (dl == 0.0f) continue;
        for (int l = 0; l < 16; l++)
            L[16 * j + l] = (int8_t)(clampi(pt_q_nearest(x[16 * j + l] / dl), -4, 3) + 4);
    }
    memset(y, 0, 32); /* hmask: bit i / 32 of byte i % 32 for L > 3 */
    for (int i = 0; i < QK_K; i++)
        if (L[i] > 3) {
            y[i % 32] |= (uint8_t)(1 << (i / 32));
            L[i] = (int8_t)(L[i] - 4);
        }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const int8_t *q = L + 128 * h + l;
            y[32 + 32 * h + l] = (uint8_t)(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
        }
}

/* Q4_K / Q5_K: 8 sub-blocks of 32, weights sqrt(mean x^2) + |x|, squared
 * error search; 6-bit scales and mins against max / 63. */
static void enc_q45_k(uint8_t *y, const float *x, int five) {
    uint8_t L[QK_K];
    float w[32], sc[8], mn[8], maxs = 0, maxm = 0;
    int nmax = five ? 31 : 15;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float s2 = 0;
        for (int l = 0; l < 32; l++) s2 += xs[l] * xs[l];
        float av = sqrtf(s2 / 32.0f);
        for (int l = 0; l < 32; l++) w[l] = av + fabsf(xs[l]);
        sc[j] = five ? search_qkx2(32, nmax, xs, w, L + 32 * j, &mn[j], -0.5f, 0.1f, 15, 0)
                     : search_qkx2(32, nmax, xs, w, L + 32 * j, &mn[j], -1.0f, 0.1f, 20, 0);
        if (sc[j] > maxs) maxs = sc[j];
        if (mn[j] > maxm) maxm = mn[j];
    }
    uint8_t *s = y + 4;
    float iss = maxs > 0 ? 63.0f / maxs : 0.0f, ism = maxm > 0 ? 63.0f / maxm : 0.0f;
    for (int j = 0; j < 8; j++) {
        int ls = (uint8_t)pt_q_nearest(iss * sc[j]), lm = (uint8_t)pt_q_nearest(ism * mn[j]);
        ls = ls > 63 ? 63 : ls;
        lm = lm > 63 ? 63 : lm;
        if (j < 4) {
            s[j] = (uint8_t)ls;
            s[j + 4] = (uint8_t)lm;
        } else {
            s[j + 4] = (uint8_t)((ls & 15) | ((lm & 15) << 4));
            s[j - 4] |= (uint8_t)((ls >> 4) << 6);
            s[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    pt_q_wr16(y, pt_q_f2h(maxs / 63.0f));
    pt_q_wr16(y + 2, pt_q_f2h(maxm / 63.0f));
    float d = pt_q_h2f(pt_q_rd16(y)), dmin = pt_q_h2f(pt_q_rd16(y + 2));
    for (int j = 0; j < 8; j++) {
        int sj, mj;
        pt_q_k4_scale(s, j, &sj, &mj);
        float dl = d * (float)sj;
        if (dl == 0.0f) continue;
        float ml = dmin * (float)mj;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)clampi(pt_q_nearest((x[32 * j + l] + ml) / dl), 0, nmax);
    }
    uint8_t *qs = y + (five ? 48 : 16);
    if (five) memset(y + 16, 0, 32);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int a = L[64 * c + l], b = L[64 * c + 32 + l];
            if (five) {
                y[16 + l] |= (uint8_t)(((a >> 4) << (2 * c)) | ((b >> 4) << (2 * c + 1)));
                a &= 15, b &= 15;
            }
            qs[32 * c + l] = (uint8_t)(a | (b << 4));
        }
}

void pt_q_enc_q4_k(uint8_t *y, const float *x) {
    enc_q45_k(y, x, 0);
}

void pt_q_enc_q5_k(uint8_t *y, const float *x) {
    enc_q45_k(y, x, 1);
}

/* Q6_K: 16 sub-blocks of 16, search_qx; 8-bit signed scales against
 * d = -(max signed scale) / 128. */
void pt_q_enc_q6_k(uint8_t *y, const float *x) {
    int8_t L[QK_K];
    float sc[16], amax = 0, maxs = 0;
    for (int j = 0; j < 16; j++) {
        sc[j] = search_qx(16, 32, x + 16 * j, L + 16 * j);
        if (fabsf(sc[j]) > amax) amax = fabsf(sc[j]), maxs = sc[j];
    }
    if (amax < GROUP_MAX_EPS) {
        memset(y, 0, 210);
        return;
    }
    float is = -128.0f / maxs;
    pt_q_wr16(y + 208, pt_q_f2h(1.0f / is));
    for (int j = 0; j < 16; j++) {
        int v = pt_q_nearest(is * sc[j]);
        y[192 + j] = (uint8_t)(int8_t)(v > 127 ? 127 : v);
    }
    float d = pt_q_h2f(pt_q_rd16(y + 208));
    for (int j = 0; j < 16; j++) {
        float dl = d * (float)(int8_t)y[192 + j];
        if (dl == 0.0f) continue;
        for (int l = 0; l < 16; l++)
            L[16 * j + l] = (int8_t)(clampi(pt_q_nearest(x[16 * j + l] / dl), -32, 31) + 32);
    }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const int8_t *q = L + 128 * h + l;
            y[64 * h + l] = (uint8_t)((q[0] & 15) | ((q[64] & 15) << 4));
            y[64 * h + 32 + l] = (uint8_t)((q[32] & 15) | ((q[96] & 15) << 4));
            y[128 + 32 * h + l] = (uint8_t)((q[0] >> 4) | ((q[32] >> 4) << 2) |
                                            ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
        }
}
