/* rope.c - rotary position embedding in Hugging Face's "rotate_half" layout.
 *
 * NHX heads in a row, HS head size (even). Within each head the pair
 * (i, i + HS/2), i in [0, HS/2), is rotated by angle pos * inv_freq[i],
 * inv_freq[i] = 1 / theta^(2i / HS) (scaled by the model's RoPE scaling).
 * Like the reference implementation, the exponent, inv_freq, the angle, cos
 * and sin are all computed in float.
 *
 * llama.cpp's GGUF files store the Q/K rows of each head permuted so that the
 * pair is adjacent, (2i, 2i+1). With adjacent = 1 the forward rotation reads
 * that order and writes rotate_half order (so attention and caches see the
 * same numbers as for the Hugging Face checkpoint), and the backward rotation
 * maps a rotate_half-order gradient back to the adjacent order.
 */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

#define HS_MAX 1024

void pt_rope_inv_freq(float *inv_freq, int HS, float theta) {
    for (int i = 0; i < HS / 2; i++) inv_freq[i] = 1.0f / powf(theta, (float)(2 * i) / (float)HS);
}

/* Rotates every pair of every head of one row by +angle (dir = 1) or -angle
 * (dir = -1), angle = pos * inv_freq[i]. */
static void rotate_row(float *row, int NHX, int HS, const float *inv_freq, int pos, float dir,
                       int adjacent) {
    // row (NHX * HS)
    int half = HS / 2;
    float c[HS_MAX / 2], s[HS_MAX / 2];
    for (int i = 0; i < half; i++) {
        float ang = (float)pos * inv_freq[i];
        c[i] = cosf(ang), s[i] = dir * sinf(ang);
    }
    for (int h = 0; h < NHX; h++) {
        float *p = row + h * HS;
        if (!adjacent) {
            for (int i = 0; i < half; i++) {
                float x1 = p[i], x2 = p[i + half];
                p[i] = x1 * c[i] - x2 * s[i];
                p[i + half] = x2 * c[i] + x1 * s[i];
            }
            continue;
        }
        float tmp[HS_MAX]; // (HS) the head, reordered
        if (dir > 0) {     /* in: (2i, 2i+1) pairs; out: rotate_half order */
            for (int i = 0; i < half; i++) {
                float x1 = p[2 * i], x2 = p[2 * i + 1];
                tmp[i] = x1 * c[i] - x2 * s[i];
                tmp[i + half] = x2 * c[i] + x1 * s[i];
            }
        } else { /* in: rotate_half order; out: (2i, 2i+1) pairs */
            for (int i = 0; i < half; i++) {
                float x1 = p[i], x2 = p[i + half];
                tmp[2 * i] = x1 * c[i] - x2 * s[i];
                tmp[2 * i + 1] = x2 * c[i] + x1 * s[i];
            }
        }
        memcpy(p, tmp, sizeof(float) * (size_t)HS);
    }
}

void pt_rope_rows(float *x, int stride, int N, int NHX, int HS, const int *pos,
                  const float *inv_freq, int adjacent, int dir) {
    // x (N, stride), each row holding NHX heads of HS floats; pos (N) or NULL (row index)
#pragma omp parallel for schedule(static) if (N > 8)
    for (int i = 0; i < N; i++)
        rotate_row(x + (size_t)i * stride, NHX, HS, inv_freq, pos ? pos[i] : i,
                   dir < 0 ? -1.0f : 1.0f, adjacent);
}

/* Every row (b, t) of x at position t. */
static void rope_rotate(float *x, int stride, int B, int T, int NHX, int HS, float theta,
                        float dir) {
    // x (B, T, stride)
    float inv[HS_MAX / 2];
    pt_rope_inv_freq(inv, HS, theta);
#pragma omp parallel for collapse(2) schedule(static) if (B * T > 8)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            rotate_row(x + ((size_t)b * T + t) * stride, NHX, HS, inv, t, dir, 0);
}

void pt_rope_forward(float *x, int stride, int B, int T, int NHX, int HS, float theta) {
    rope_rotate(x, stride, B, T, NHX, HS, theta, 1.0f);
}

void pt_rope_backward(float *dx, int stride, int B, int T, int NHX, int HS, float theta) {
    // the rotation is orthogonal: its transpose (the gradient map) is the rotation by -angle
    rope_rotate(dx, stride, B, T, NHX, HS, theta, -1.0f);
}

void pt_rope_forward_at(float *x, int stride, int n, int NHX, int HS, float theta, int pos0) {
    // x (n, stride): row i at position pos0 + i
    float inv[HS_MAX / 2];
    pt_rope_inv_freq(inv, HS, theta);
    for (int i = 0; i < n; i++) rotate_row(x + (size_t)i * stride, NHX, HS, inv, pos0 + i, 1.0f, 0);
}
