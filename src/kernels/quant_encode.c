/* quant_encode.c - quantizers of the 32-element types by ggml's reference
 * round-to-nearest rules (quantize_row_*_ref), see quant.h. Each reads one
 * block of 32 floats and writes one block. */
#include "kernels/quant_impl.h"

#include <math.h>

/* the first element of largest magnitude (sign kept), as ggml finds it */
static float signed_absmax(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
    return max;
}

static void min_max(const float *x, float *mn, float *mx) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < 32; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo, *mx = hi;
}

/* Q4_0: d = (signed absmax) / -8, q = min(15, trunc(x / d + 8.5)) */
void pt_q_enc_q4_0(uint8_t *y, const float *x) {
    float d = signed_absmax(x) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    pt_q_wr16(y, pt_q_f2h(d));
    for (int j = 0; j < 16; j++) {
        int q0 = pt_q_trunc(x[j] * id + 8.5f, 0, 15);
        int q1 = pt_q_trunc(x[j + 16] * id + 8.5f, 0, 15);
        y[2 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

/* Q4_1: d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5)) */
void pt_q_enc_q4_1(uint8_t *y, const float *x) {
    float mn, mx;
    min_max(x, &mn, &mx);
    float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    pt_q_wr16(y, pt_q_f2h(d));
    pt_q_wr16(y + 2, pt_q_f2h(mn));
    for (int j = 0; j < 16; j++) {
        int q0 = pt_q_trunc((x[j] - mn) * id + 0.5f, 0, 15);
        int q1 = pt_q_trunc((x[j + 16] - mn) * id + 0.5f, 0, 15);
        y[4 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

static void put_q5(uint8_t *qhp, const int *q) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qhp[4 + j] = (uint8_t)((q[j] & 15) | ((q[j + 16] & 15) << 4));
        qh |= (uint32_t)((q[j] >> 4) & 1) << j;
        qh |= (uint32_t)((q[j + 16] >> 4) & 1) << (j + 16);
    }
    for (int i = 0; i < 4; i++) qhp[i] = (uint8_t)(qh >> (8 * i));
}

/* Q5_0: d = (signed absmax) / -16, q = min(31, trunc(x / d + 16.5)) */
void pt_q_enc_q5_0(uint8_t *y, const float *x) {
    float d = signed_absmax(x) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[32];
    pt_q_wr16(y, pt_q_f2h(d));
    for (int j = 0; j < 32; j++) q[j] = pt_q_trunc(x[j] * id + 16.5f, 0, 31);
    put_q5(y + 2, q);
}

/* Q5_1: d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5) */
void pt_q_enc_q5_1(uint8_t *y, const float *x) {
    float mn, mx;
    min_max(x, &mn, &mx);
    float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[32];
    pt_q_wr16(y, pt_q_f2h(d));
    pt_q_wr16(y + 2, pt_q_f2h(mn));
    for (int j = 0; j < 32; j++) q[j] = pt_q_trunc((x[j] - mn) * id + 0.5f, 0, 31);
    put_q5(y + 4, q);
}

/* Q8_0: d = absmax / 127, q = round(x / d) (halves away from zero) */
void pt_q_enc_q8_0(uint8_t *y, const float *x) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    pt_q_wr16(y, pt_q_f2h(d));
    for (int j = 0; j < 32; j++) {
        float r = roundf(x[j] * id);
        y[2 + j] = (uint8_t)(int8_t)(r != r ? 0 : r < -128.0f ? -128 : r > 127.0f ? 127 : (int)r);
    }
}
