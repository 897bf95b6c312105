/* rope.c - rotary position embedding in Hugging Face's "rotate_half" layout.
 *
 * B batch, T time, NHX heads in the row, HS head size (even). Row (b, t) of x
 * starts at x + (b*T + t)*stride. Within each head the pair (i, i + HS/2),
 * i in [0, HS/2), is rotated by angle t * inv_freq[i],
 * inv_freq[i] = 1 / theta^(2i / HS). Like the reference implementation, the
 * exponent, inv_freq, the angle, cos and sin are all computed in float.
 */
#include <math.h>

#include "kernels/kernels.h"

/* Rotates every pair of every head of every row by +angle (dir = 1) or -angle (dir = -1). */
static void rope_rotate(float *x, int stride, int B, int T, int NHX, int HS, float theta,
                        float dir) {
    // x (B, T, stride), each row holding NHX heads of HS floats
    int half = HS / 2;
#pragma omp parallel for collapse(2) schedule(static) if (B * T > 8)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            float *row = x + ((size_t)b * T + t) * stride; // (NHX * HS)
            for (int i = 0; i < half; i++) {
                float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)HS);
                float ang = (float)t * inv_freq;
                float c = cosf(ang), s = dir * sinf(ang);
                for (int h = 0; h < NHX; h++) {
                    float *p = row + h * HS;
                    float x1 = p[i], x2 = p[i + half];
                    p[i] = x1 * c - x2 * s;
                    p[i + half] = x2 * c + x1 * s;
                }
            }
        }
    }
}

void pt_rope_forward(float *x, int stride, int B, int T, int NHX, int HS, float theta) {
    rope_rotate(x, stride, B, T, NHX, HS, theta, 1.0f);
}

void pt_rope_backward(float *dx, int stride, int B, int T, int NHX, int HS, float theta) {
    // the rotation is orthogonal: its transpose (the gradient map) is the rotation by -angle
    rope_rotate(dx, stride, B, T, NHX, HS, theta, -1.0f);
}
