/* softmax.c - row softmax and the fused softmax cross-entropy loss with its gradient.
 *
 * N rows, V classes (vocabulary). Every row subtracts its maximum before exp.
 */
#include <math.h>

#include "kernels/kernels.h"

void pt_softmax_forward(float *probs, const float *logits, int N, int V) {
    // probs (N, V), logits (N, V)
#pragma omp parallel for schedule(static) if (N > 4)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V; // (V)
        float *p = probs + (size_t)n * V;        // (V)
        float mx = -INFINITY;
        for (int i = 0; i < V; i++) mx = x[i] > mx ? x[i] : mx;
        float sum = 0.0f;
        for (int i = 0; i < V; i++) {
            p[i] = expf(x[i] - mx);
            sum += p[i];
        }
        float inv = 1.0f / sum;
        for (int i = 0; i < V; i++) p[i] *= inv;
    }
}

double pt_crossentropy_forward_backward(float *loss, float *dlogits, const float *logits,
                                        const int *target, int N, int V, float dscale) {
    // loss (N) or NULL, dlogits (N, V) += or NULL, logits (N, V), target (N)
    // A row whose target lies outside [0, V) (e.g. -100, PyTorch's ignore_index) is
    // ignored: loss 0, no gradient, not counted in the mean.
    double total = 0.0;
    int counted = 0;
#pragma omp parallel for schedule(static) reduction(+ : total, counted) if (N > 4)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V; // (V)
        int y = target[n];
        if (y < 0 || y >= V) {
            if (loss) loss[n] = 0.0f;
            continue;
        }
        float mx = -INFINITY;
        for (int i = 0; i < V; i++) mx = x[i] > mx ? x[i] : mx;
        double sum = 0.0;
        for (int i = 0; i < V; i++) sum += expf(x[i] - mx);
        double lse = (double)mx + log(sum);
        double l = lse - x[y];
        if (loss) loss[n] = (float)l;
        total += l;
        counted++;
        if (dlogits) {
            float *d = dlogits + (size_t)n * V; // (V)
            float inv = (float)(1.0 / sum);
            for (int i = 0; i < V; i++) d[i] += expf(x[i] - mx) * inv * dscale;
            d[y] -= dscale;
        }
    }
    return counted ? total / counted : 0.0;
}
