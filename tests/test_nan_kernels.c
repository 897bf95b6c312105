/* test_nan_kernels.c - a NaN entering a kernel comes out as NaN: the
 * softmax of attention, the row softmax, the GELUs and SwiGLU must not turn
 * it into a plausible finite number (issue 12: one NaN in an attention weight
 * gave confident wrong answers because the attention exp clamped NaN to ~0).
 * Finite inputs are checked against libm's exp to show the NaN guard changed
 * nothing else. */
#include "kernels/kernels.h"
#include "test.h"

static int any_nan(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != x[i]) return 1;
    return 0;
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* One batch row, one head: q row 0 element 0 is NaN. Row 0's output must be
 * NaN; for causal attention the rows after it do not see query 0's NaN. */
static void attention_case(int T, int causal) {
    enum { HS = 8 };
    float q[32 * HS], k[32 * HS], v[32 * HS], out[32 * HS], att[32 * 32];
    for (int i = 0; i < T * HS; i++) {
        q[i] = 0.1f * (float)((i * 7) % 11) - 0.5f;
        k[i] = 0.1f * (float)((i * 5) % 13) - 0.6f;
        v[i] = 0.1f * (float)((i * 3) % 17) - 0.8f;
    }
    int len[1] = {T};
    pt_attention_forward(out, att, q, k, v, HS, HS, len, 1, T, 1, 1, HS, causal, 0.35f);
    CHECK(all_finite(out, (size_t)T * HS), "T=%d causal=%d: finite inputs gave a non-finite output",
          T, causal);
    q[0] = NAN;
    pt_attention_forward(out, att, q, k, v, HS, HS, len, 1, T, 1, 1, HS, causal, 0.35f);
    int row0 = 1;
    for (int i = 0; i < HS; i++) row0 &= out[i] != out[i];
    printf("  attention T=%-2d causal=%d: NaN in q[0] -> output row 0 %s\n", T, causal,
           row0 ? "NaN" : "finite  <-- FAIL");
    CHECK(row0, "T=%d causal=%d: a NaN query gave a finite attention output", T, causal);
    /* a NaN key reaches every row that attends to it */
    q[0] = 0.1f;
    k[HS] = NAN; /* key 1 */
    pt_attention_forward(out, att, q, k, v, HS, HS, len, 1, T, 1, 1, HS, causal, 0.35f);
    int rows = 0;
    for (int t = 0; t < T; t++) rows += any_nan(out + (size_t)t * HS, HS);
    int want = causal ? T - 1 : T; /* causal: row 0 does not see key 1 */
    printf("  attention T=%-2d causal=%d: NaN in key 1 -> %d of %d rows NaN (want %d)\n", T, causal,
           rows, T, want);
    CHECK(rows == want, "T=%d causal=%d: a NaN key reached %d rows, want %d", T, causal, rows,
          want);
}

static void softmax_case(void) {
    float x[5] = {0.5f, -1.0f, 2.0f, NAN, 0.0f}, p[5];
    pt_softmax_forward(p, x, 1, 5);
    CHECK(any_nan(p, 5), "row softmax: a NaN logit gave a finite row");
    float y[4] = {0.5f, -1.0f, 2.0f, 0.25f}, q[4];
    pt_softmax_forward(q, y, 1, 4);
    CHECK(all_finite(q, 4), "row softmax of finite logits is not finite");
}

static void activation_case(void) {
    float x[40], o[40], want[40], ge[40], gt[40], sw[40], up[40];
    for (int i = 0; i < 40; i++) x[i] = -4.0f + 0.2f * (float)i, up[i] = 1.0f;
    x[17] = NAN;
    pt_gelu_tanh_forward(gt, x, 40);
    pt_gelu_erf_forward(ge, x, 40);
    pt_swiglu_forward(sw, x, up, 40);
    CHECK(gt[17] != gt[17] && ge[17] != ge[17] && sw[17] != sw[17],
          "activations: NaN in, finite out (gelu tanh %g, gelu erf %g, swiglu %g)", gt[17], ge[17],
          sw[17]);
    /* every other element is the finite value of the formula (libm as the oracle) */
    for (int i = 0; i < 40; i++) {
        float xi = i == 17 ? 0.0f : x[i];
        want[i] = i == 17 ? 0.0f : xi / (1.0f + expf(-xi));
        o[i] = i == 17 ? 0.0f : sw[i];
    }
    t_close("swiglu beside a NaN vs x*sigmoid(x)", o, want, 40, 1e-5, 1e-6);
    pt_swiglu_forward(sw, x, up, 40);
    float d[40] = {0}, du[40] = {0}, dout[40];
    for (int i = 0; i < 40; i++) dout[i] = 1.0f;
    pt_swiglu_backward(d, du, dout, x, up, 40);
    CHECK(d[17] != d[17], "swiglu backward: NaN in, finite gradient out (%g)", d[17]);
}

int main(void) {
    attention_case(4, 0); /* the per-row loop path */
    attention_case(4, 1);
    attention_case(20, 0); /* rows of 16 or more: the small-GEMM path */
    attention_case(20, 1);
    softmax_case();
    activation_case();
    return t_done();
}
