/* test_encoder.c - prompt encoders: names, parameter tables, PyTorch-default
 * initialisation statistics, finite-difference checks of every backward, and
 * agreement with PyTorch fixtures (scripts/gen_encoder_fixtures.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "formats/safetensors.h"
#include "prompt/encoder.h"
#include "test.h"

/* L = sum(h * R) in double; h (S, d) scratch. */
static double loss_of(pt_encoder *e, const float *R, float *h) {
    pt_encoder_forward(e, h);
    double L = 0;
    for (size_t i = 0; i < (size_t)e->S * e->d; i++) L += (double)h[i] * R[i];
    return L;
}

static void test_names(void) {
    pt_encoder_kind k;
    CHECK(pt_encoder_kind_parse("lstm", &k) && k == PT_ENCODER_LSTM, "parse lstm");
    CHECK(pt_encoder_kind_parse("mlp", &k) && k == PT_ENCODER_MLP, "parse mlp");
    CHECK(pt_encoder_kind_parse("embedding", &k) && k == PT_ENCODER_EMBEDDING, "parse embedding");
    CHECK(!pt_encoder_kind_parse("LSTM", &k), "parse is exact");
    CHECK(!pt_encoder_kind_parse("gru", &k), "unknown kind rejected");
    CHECK(!pt_encoder_kind_parse(NULL, &k), "NULL rejected");
    CHECK(strcmp(pt_encoder_kind_name(PT_ENCODER_MLP), "mlp") == 0, "name mlp");
    CHECK(strcmp(pt_encoder_kind_name(PT_ENCODER_LSTM), "lstm") == 0, "name lstm");
}

static void test_bad_args(void) {
    pt_encoder e;
    pt_rng rng;
    pt_rng_seed(&rng, 1);
    CHECK(pt_encoder_init(&e, PT_ENCODER_LSTM, 4, 7, 0, &rng) == PT_ERR_ARG, "odd d for lstm");
    CHECK(strstr(pt_last_error(), "even") != NULL, "message says even: %s", pt_last_error());
    CHECK(pt_encoder_init(&e, PT_ENCODER_MLP, 0, 8, 0, &rng) == PT_ERR_ARG, "S = 0");
    CHECK(pt_encoder_init(&e, PT_ENCODER_MLP, 4, -1, 0, &rng) == PT_ERR_ARG, "d < 0");
    CHECK(pt_encoder_init(&e, (pt_encoder_kind)9, 4, 8, 0, &rng) == PT_ERR_ARG, "bad kind");
    CHECK(e.params == NULL && e.grads == NULL, "nothing left allocated after failure");
}

/* Names, shapes and the parameter count (derived by hand from the architectures). */
static void test_tables(void) {
    pt_rng rng;
    pt_rng_seed(&rng, 2);
    pt_encoder e;
    int S = 3, d = 10, H = 6, HD = 5;

    CHECK(pt_encoder_init(&e, PT_ENCODER_EMBEDDING, S, d, 0, &rng) == PT_OK, "init embedding");
    CHECK(e.n_tensors == 1 && e.n_params == (size_t)S * d, "embedding: one (S, d) table");
    pt_encoder_free(&e);

    CHECK(pt_encoder_init(&e, PT_ENCODER_MLP, S, d, H, &rng) == PT_OK, "init mlp");
    /* S*d + (H*d + H) + (H*H + H) + (d*H + d) */
    CHECK(e.n_params == (size_t)(S * d + H * d + H + H * H + H + d * H + d), "mlp n_params %zu",
          e.n_params);
    const pt_enc_tensor *t = pt_encoder_find(&e, "mlp_head.2.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == H && t->shape[1] == H, "mlp_head.2.weight (H, H)");
    t = pt_encoder_find(&e, "mlp_head.4.weight");
    CHECK(t && t->shape[0] == d && t->shape[1] == H, "mlp_head.4.weight (d, H)");
    CHECK(pt_encoder_find(&e, "lstm_head.weight_ih_l0") == NULL, "no lstm in mlp");
    pt_encoder_free(&e);

    CHECK(pt_encoder_init(&e, PT_ENCODER_MLP, S, d, 0, &rng) == PT_OK && e.H == d, "mlp H<=0: H=d");
    pt_encoder_free(&e);

    CHECK(pt_encoder_init(&e, PT_ENCODER_LSTM, S, d, 0, &rng) == PT_OK, "init lstm");
    /* per (layer, direction): 4HD*d + 4HD*HD + 2*4HD; times 4; head 2*(d*d + d) */
    size_t per = (size_t)4 * HD * d + 4 * HD * HD + 8 * HD;
    CHECK(e.n_params == (size_t)S * d + 4 * per + 2 * (size_t)(d * d + d), "lstm n_params %zu",
          e.n_params);
    CHECK(e.n_tensors == 21, "lstm tensors %d", e.n_tensors);
    t = pt_encoder_find(&e, "lstm_head.weight_ih_l1_reverse");
    CHECK(t && t->shape[0] == 4 * HD && t->shape[1] == d, "weight_ih_l1_reverse (4HD, d)");
    t = pt_encoder_find(&e, "lstm_head.weight_hh_l0");
    CHECK(t && t->shape[0] == 4 * HD && t->shape[1] == HD, "weight_hh_l0 (4HD, HD)");
    t = pt_encoder_find(&e, "lstm_head.bias_hh_l1");
    CHECK(t && t->ndim == 1 && t->shape[0] == 4 * HD, "bias_hh_l1 (4HD)");
    t = pt_encoder_find(&e, "mlp_head.2.bias");
    CHECK(t && t->offset + t->numel == e.n_params, "last tensor ends the vector");
    size_t sum = 0;
    for (int k = 0; k < e.n_tensors; k++) {
        CHECK(e.tensors[k].offset == sum, "tensor %s contiguous", e.tensors[k].name);
        sum += e.tensors[k].numel;
    }
    int zero = 1;
    for (size_t i = 0; i < e.n_params; i++) zero &= e.grads[i] == 0.0f;
    CHECK(zero, "grads start at zero");
    pt_encoder_free(&e);
}

/* Statistics of one tensor against U(-b, b) (normal = 0) or N(0, 1) (normal = 1). */
static void check_dist(const pt_encoder *e, const char *name, int normal, double b) {
    const pt_enc_tensor *t = pt_encoder_find(e, name);
    CHECK(t != NULL, "tensor %s present", name);
    if (!t) return;
    const float *p = e->params + t->offset;
    size_t n = t->numel, beyond2 = 0;
    double s = 0, ss = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        s += p[i];
        ss += (double)p[i] * p[i];
        if (fabs(p[i]) > mx) mx = fabs(p[i]);
        if (fabs(p[i]) > 2.0) beyond2++;
    }
    double mean = s / n, sd = sqrt(ss / n - mean * mean);
    double want_sd = normal ? 1.0 : b / sqrt(3.0);
    printf("  %-32s n %5zu mean %+.4f std %.4f (want %.4f) max|x| %.4f%s\n", name, n, mean, sd,
           want_sd, mx, normal ? "" : " (bound)");
    CHECK(fabs(mean) < 5.0 * want_sd / sqrt((double)n), "%s mean %g", name, mean);
    double tol = n >= 1000 ? 0.05 : 0.25;
    CHECK(fabs(sd / want_sd - 1.0) < tol, "%s std %g want %g", name, sd, want_sd);
    if (normal) {
        double frac = (double)beyond2 / n; /* P(|N(0,1)| > 2) = 0.0455 */
        CHECK(frac > 0.03 && frac < 0.065, "%s fraction beyond 2: %g", name, frac);
    } else {
        CHECK(mx <= b, "%s max |x| %g exceeds bound %g", name, mx, b);
        CHECK(mx > 0.9 * b, "%s max |x| %g far below bound %g", name, mx, b);
    }
}

static void test_init_stats(void) {
    pt_rng rng;
    pt_rng_seed(&rng, 3);
    pt_encoder e;
    int S = 64, d = 64, H = 48;
    CHECK(pt_encoder_init(&e, PT_ENCODER_LSTM, S, d, 0, &rng) == PT_OK, "init lstm");
    check_dist(&e, "embedding.weight", 1, 0);
    double bl = 1.0 / sqrt(d / 2.0); /* LSTM: 1/sqrt(hidden) */
    check_dist(&e, "lstm_head.weight_ih_l0", 0, bl);
    check_dist(&e, "lstm_head.weight_hh_l0_reverse", 0, bl);
    check_dist(&e, "lstm_head.weight_ih_l1", 0, bl);
    check_dist(&e, "lstm_head.bias_ih_l1_reverse", 0, bl);
    check_dist(&e, "lstm_head.bias_hh_l0", 0, bl);
    check_dist(&e, "mlp_head.0.weight", 0, 1.0 / sqrt(d));
    check_dist(&e, "mlp_head.2.bias", 0, 1.0 / sqrt(d));
    pt_encoder_free(&e);

    CHECK(pt_encoder_init(&e, PT_ENCODER_MLP, S, d, H, &rng) == PT_OK, "init mlp");
    check_dist(&e, "mlp_head.0.weight", 0, 1.0 / sqrt(d));
    check_dist(&e, "mlp_head.2.weight", 0, 1.0 / sqrt(H));
    check_dist(&e, "mlp_head.4.weight", 0, 1.0 / sqrt(H));
    check_dist(&e, "mlp_head.4.bias", 0, 1.0 / sqrt(H));
    pt_encoder_free(&e);

    /* same seed, same parameters */
    pt_encoder a, b;
    pt_rng r1, r2;
    pt_rng_seed(&r1, 42);
    pt_rng_seed(&r2, 42);
    pt_encoder_init(&a, PT_ENCODER_LSTM, 5, 8, 0, &r1);
    pt_encoder_init(&b, PT_ENCODER_LSTM, 5, 8, 0, &r2);
    CHECK(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0, "seeded init reproducible");
    pt_encoder_free(&a);
    pt_encoder_free(&b);
}

/* Central differences of L = sum(h * R) for every parameter against backward. */
static void fd_check(pt_encoder_kind kind, int S, int d, int H, float eps) {
    pt_rng rng;
    pt_rng_seed(&rng, 100 + kind);
    pt_encoder e;
    CHECK(pt_encoder_init(&e, kind, S, d, H, &rng) == PT_OK, "init %s", pt_encoder_kind_name(kind));
    size_t Sd = (size_t)S * d;
    float *R = malloc(Sd * sizeof(float)); // (S, d)
    float *h = malloc(Sd * sizeof(float)); // (S, d)
    for (size_t i = 0; i < Sd; i++) R[i] = pt_rng_normal(&rng);
    loss_of(&e, R, h);
    pt_encoder_zero_grad(&e);
    pt_encoder_backward(&e, R);
    double max_rel = 0, max_abs = 0;
    size_t worst = 0, bad = 0;
    for (size_t i = 0; i < e.n_params; i++) {
        float p0 = e.params[i];
        e.params[i] = p0 + eps;
        double lp = loss_of(&e, R, h);
        e.params[i] = p0 - eps;
        double lm = loss_of(&e, R, h);
        e.params[i] = p0;
        double fd = (lp - lm) / (2.0 * eps), an = e.grads[i];
        double ad = fabs(fd - an), rel = ad / fmax(fabs(fd), 1e-2);
        if (ad > max_abs) max_abs = ad;
        if (rel > max_rel) max_rel = rel, worst = i;
        if (!(ad <= 2e-3 + 2e-3 * fabs(fd))) bad++;
    }
    const char *wname = "?";
    for (int k = 0; k < e.n_tensors; k++)
        if (worst >= e.tensors[k].offset && worst < e.tensors[k].offset + e.tensors[k].numel)
            wname = e.tensors[k].name;
    printf("  FD %-9s %zu params: max abs err %.3g, max rel err %.3g (at %s)\n",
           pt_encoder_kind_name(kind), e.n_params, max_abs, max_rel, wname);
    CHECK(bad == 0, "%s: %zu of %zu gradients disagree with finite differences",
          pt_encoder_kind_name(kind), bad, e.n_params);

    /* backward accumulates: a second call doubles every gradient */
    float *g1 = malloc(e.n_params * sizeof(float));
    memcpy(g1, e.grads, e.n_params * sizeof(float));
    pt_encoder_backward(&e, R);
    for (size_t i = 0; i < e.n_params; i++) g1[i] *= 2.0f;
    t_close("backward accumulates (+=)", e.grads, g1, e.n_params, 1e-6, 1e-7);
    free(g1);
    free(R);
    free(h);
    pt_encoder_free(&e);
}

static void test_embedding_and_seeds(void) {
    pt_rng rng;
    pt_rng_seed(&rng, 4);
    pt_encoder e;
    int S = 4, d = 6;
    pt_encoder_init(&e, PT_ENCODER_EMBEDDING, S, d, 0, &rng);
    float table[24], h[24], R[24];
    for (int i = 0; i < S * d; i++) table[i] = 0.5f * i - 3.0f, R[i] = (float)(i % 5) - 2.0f;
    pt_encoder_set_seeds(&e, table);
    pt_encoder_forward(&e, h);
    CHECK(memcmp(h, table, sizeof(h)) == 0, "embedding: h = seeds");
    pt_encoder_zero_grad(&e);
    pt_encoder_backward(&e, R);
    CHECK(memcmp(e.grads, R, sizeof(R)) == 0, "embedding: grad = dh");
    pt_encoder_free(&e);
}

#define FIXTURES "tests/fixtures/encoder/"

/* Load one tensor of the fixture into out (numel floats); 0 on failure. */
static int fx_load(const pt_st_file *f, const char *name, float *out, size_t numel) {
    const pt_st_tensor *t = pt_st_find(f, name);
    CHECK(t != NULL, "fixture %s: tensor %s missing", f->path, name);
    if (!t) return 0;
    CHECK((size_t)t->numel == numel, "fixture %s: %s has %lld values, want %zu", f->path, name,
          (long long)t->numel, numel);
    if ((size_t)t->numel != numel) return 0;
    pt_status s = pt_st_to_f32(t, out);
    CHECK(s == PT_OK, "fixture %s: %s: %s", f->path, name, pt_last_error());
    return s == PT_OK;
}

/* PyTorch (scripts/gen_encoder_fixtures.py): S=5, d=16, mlp H=12. Parameters
 * are copied in by name; h and every parameter gradient of sum(h * R) must match. */
static void test_fixture(pt_encoder_kind kind) {
    char path[256];
    snprintf(path, sizeof(path), FIXTURES "%s.safetensors", pt_encoder_kind_name(kind));
    printf("  fixture %s\n", path);
    pt_st_file f;
    pt_status st = pt_st_open(&f, path);
    CHECK(st == PT_OK, "open %s: %s", path, pt_last_error());
    if (st != PT_OK) return;
    pt_rng rng;
    pt_rng_seed(&rng, 5);
    pt_encoder e;
    int S = 5, d = 16, H = 12;
    CHECK(pt_encoder_init(&e, kind, S, d, H, &rng) == PT_OK, "init");
    float *R = malloc((size_t)S * d * sizeof(float));    // (S, d)
    float *h = malloc((size_t)S * d * sizeof(float));    // (S, d)
    float *want = malloc((size_t)S * d * sizeof(float)); // (S, d)
    float *gwant = malloc(e.n_params * sizeof(float));   // (n_params)
    int ok = 1;
    /* every parameter of the fixture is one of ours, and vice versa */
    int n_fx = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const char *nm = f.tensors[i].name;
        if (strcmp(nm, "R") == 0 || strcmp(nm, "h") == 0 || strncmp(nm, "grad.", 5) == 0) continue;
        n_fx++;
        CHECK(pt_encoder_find(&e, nm) != NULL, "fixture tensor %s unknown to the encoder", nm);
    }
    CHECK(n_fx == e.n_tensors, "fixture has %d parameter tensors, encoder %d", n_fx, e.n_tensors);
    for (int k = 0; k < e.n_tensors && ok; k++) {
        const pt_enc_tensor *t = pt_encoder_find(&e, e.tensors[k].name);
        char gname[64];
        snprintf(gname, sizeof(gname), "grad.%s", t->name);
        ok = fx_load(&f, t->name, e.params + t->offset, t->numel) &&
             fx_load(&f, gname, gwant + t->offset, t->numel);
    }
    ok = ok && fx_load(&f, "R", R, (size_t)S * d) && fx_load(&f, "h", want, (size_t)S * d);
    if (ok) {
        pt_encoder_forward(&e, h);
        t_close("h vs PyTorch", h, want, (size_t)S * d, 1e-4, 1e-6);
        pt_encoder_zero_grad(&e);
        pt_encoder_backward(&e, R);
        t_close("all grads vs PyTorch", e.grads, gwant, e.n_params, 1e-4, 1e-6);
        const pt_enc_tensor *t = pt_encoder_find(&e, "embedding.weight");
        t_close("grad embedding.weight", e.grads + t->offset, gwant + t->offset, t->numel, 1e-4,
                1e-6);
        /* forward again after backward gives the same h (no state leaks) */
        float *h2 = malloc((size_t)S * d * sizeof(float)); // (S, d)
        pt_encoder_forward(&e, h2);
        CHECK(memcmp(h, h2, (size_t)S * d * sizeof(float)) == 0, "forward is repeatable");
        free(h2);
    }
    free(R);
    free(h);
    free(want);
    free(gwant);
    pt_encoder_free(&e);
    pt_st_close(&f);
}

int main(void) {
    printf("test_encoder\n");
    test_names();
    test_bad_args();
    test_tables();
    test_init_stats();
    test_embedding_and_seeds();
    fd_check(PT_ENCODER_MLP, 5, 8, 6, 1e-3f);
    fd_check(PT_ENCODER_LSTM, 5, 8, 0, 1e-2f);
    fd_check(PT_ENCODER_EMBEDDING, 3, 4, 0, 1e-2f);
    test_fixture(PT_ENCODER_EMBEDDING);
    test_fixture(PT_ENCODER_MLP);
    test_fixture(PT_ENCODER_LSTM);
    return t_done();
}
