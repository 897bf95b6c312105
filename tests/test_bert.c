/* test_bert.c - BERT masked LM against PyTorch references (scripts/gen_bert_fixtures.py):
 * loading, hidden states, MLM logits (all rows and a subset), loss, head and
 * model input gradients, finite differences, the no-head checkpoint, and bad input. */
#include <stdint.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "formats/safetensors.h"
#include "models/model.h"
#include "test.h"

#define FIX "tests/fixtures/bert"
/* fixture shapes (gen_bert_fixtures.py) */
enum { B = 3, T = 12, C = 32, L = 2, NH = 4, F = 64, V = 92, P = 64, TV = 2, NOUT = 3, NR = 5 };

static pt_st_file ref;

static float *ref_f32(const char *name, size_t n) {
    const pt_st_tensor *t = pt_st_find(&ref, name);
    if (!t || t->numel != (int64_t)n) {
        fprintf(stderr, "ref.safetensors: tensor %s missing or not %zu values\n", name, n);
        exit(1);
    }
    float *out = malloc(sizeof(float) * n);
    if (!out || pt_st_to_f32(t, out)) exit(1);
    return out;
}

static void ref_i32(const char *name, int *out, size_t n) {
    const pt_st_tensor *t = pt_st_find(&ref, name);
    if (!t || t->dtype != PT_DTYPE_I32 || t->numel != (int64_t)n) {
        fprintf(stderr, "ref.safetensors: int tensor %s missing or not %zu values\n", name, n);
        exit(1);
    }
    memcpy(out, t->data, sizeof(int) * n);
}

/* mean cross-entropy over rows of logits (n, nr) with targets; dlogits = d(mean)/d(logits). */
static double xent(float *dlogits, const float *logits, const int *tg, int n, int nr) {
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * nr;
        double mx = l[0], z = 0;
        for (int j = 1; j < nr; j++) mx = l[j] > mx ? l[j] : mx;
        for (int j = 0; j < nr; j++) z += exp(l[j] - mx);
        loss += -(l[tg[i]] - mx - log(z)) / n;
        if (dlogits)
            for (int j = 0; j < nr; j++)
                dlogits[(size_t)i * nr + j] = (float)((exp(l[j] - mx) / z - (j == tg[i])) / n);
    }
    return loss;
}

/* inputs shared by the checks */
static float *x;
static int len[B], out_idx[NOUT], rows[NR], tg[NOUT];

/* full loss through the model: forward, head on rows, mean cross-entropy */
static double model_loss(pt_model *m, pt_run *run, const float *xin) {
    float h[NOUT * C], lg[NOUT * NR];
    if (pt_model_forward(m, run, xin, len, B, T, out_idx, NOUT, h, 0)) return NAN;
    pt_model_head_forward(m, run, lg, h, NOUT, rows, NR);
    return xent(NULL, lg, tg, NOUT, NR);
}

static void test_mlm(void) {
    printf("MLM model (tiny):\n");
    pt_model *m = NULL;
    pt_status s = pt_model_load(&m, FIX "/tiny");
    CHECK(s == PT_OK, "load: %s", pt_last_error());
    if (s) return;
    const pt_model_config *c = &m->cfg;
    CHECK(c->family == PT_FAMILY_BERT && c->causal == 0 && c->has_lm_head == 1, "family/flags");
    CHECK(c->dim == C && c->n_layers == L && c->n_heads == NH && c->n_kv_heads == NH &&
              c->ffn_dim == F && c->vocab_size == V && c->max_pos == P,
          "config shapes");
    CHECK(fabsf(c->norm_eps - 1e-12f) < 1e-15f, "norm_eps %g", c->norm_eps);
    /* parameter count from the shapes: embeddings, L layers, MLM head (decoder tied) */
    int64_t np = (int64_t)V * C + P * C + TV * C + 2 * C +
                 L * (3 * (C * C + C) + (C * C + C) + 2 * C + (F * C + F) + (C * F + C) + 2 * C) +
                 (C * C + C) + 2 * C + V;
    CHECK(m->n_params == np, "n_params %lld, want %lld", (long long)m->n_params, (long long)np);
    CHECK(!strcmp(m->dtype, "F32"), "dtype %s", m->dtype);
    CHECK(m->tok != NULL, "tokenizer from vocab.txt");
    if (m->tok) {
        CHECK(m->tok->vocab_size == V, "tokenizer vocab %d", m->tok->vocab_size);
        CHECK(pt_tok_lookup(m->tok, "[MASK]") == 4, "[MASK] id %d",
              pt_tok_lookup(m->tok, "[MASK]"));
    }

    /* run sized larger than the batch: the buffers must be used compactly */
    pt_run *run = NULL;
    s = pt_run_new(m, B + 1, T + 4, &run);
    CHECK(s == PT_OK, "run_new: %s", pt_last_error());
    if (s) goto out;
    float h[NOUT * C];
    s = pt_model_forward(m, run, x, len, B, T, out_idx, NOUT, h, 1);
    CHECK(s == PT_OK, "forward: %s", pt_last_error());
    float *want = ref_f32("h", NOUT * C);
    t_close("hidden states at answer slots", h, want, NOUT * C, 1e-4, 1e-5);
    free(want);

    float lfull[NOUT * V], lrows[NOUT * NR];
    pt_model_head_forward(m, run, lfull, h, NOUT, NULL, V);
    want = ref_f32("logits_full", NOUT * V);
    t_close("MLM logits, all rows", lfull, want, NOUT * V, 1e-4, 1e-5);
    free(want);
    pt_model_head_forward(m, run, lrows, h, NOUT, rows, NR);
    want = ref_f32("logits_rows", NOUT * NR);
    t_close("MLM logits, 5 label rows", lrows, want, NOUT * NR, 1e-4, 1e-5);
    free(want);

    float dl[NOUT * NR], loss = (float)xent(dl, lrows, tg, NOUT, NR);
    want = ref_f32("loss", 1);
    t_close("loss (mean cross-entropy)", &loss, want, 1, 1e-5, 1e-6);
    free(want);

    float dh[NOUT * C];
    memset(dh, 0, sizeof dh);
    pt_model_head_backward(m, run, dh, dl, h, NOUT, rows, NR);
    want = ref_f32("dh", NOUT * C);
    t_close("d loss / d h (head backward)", dh, want, NOUT * C, 1e-4, 1e-5);
    /* accumulation: a second call adds the same again */
    float dh2[NOUT * C], twice[NOUT * C];
    memcpy(dh2, dh, sizeof dh);
    pt_model_head_backward(m, run, dh2, dl, h, NOUT, rows, NR);
    for (int i = 0; i < NOUT * C; i++) twice[i] = 2 * want[i];
    t_close("head backward accumulates (+=)", dh2, twice, NOUT * C, 1e-4, 1e-5);
    free(want);

    float *dx = malloc(sizeof(float) * B * T * C);
    for (int i = 0; i < B * T * C; i++) dx[i] = 7.0f; /* must be overwritten */
    s = pt_model_backward(m, run, dh, dx);
    CHECK(s == PT_OK, "backward: %s", pt_last_error());
    want = ref_f32("dx", B * T * C);
    t_close("d loss / d x (all positions)", dx, want, B * T * C, 1e-4, 1e-5);
    free(want);
    int nonzero_pad = 0;
    for (int b = 0; b < B; b++)
        for (int t = len[b]; t < T; t++)
            for (int i = 0; i < C; i++) nonzero_pad += dx[((size_t)b * T + t) * C + i] != 0.0f;
    CHECK(nonzero_pad == 0, "%d nonzero dx values at padded positions", nonzero_pad);

    /* finite differences through the full model on a few entries of x:
     * a virtual row, a word row, the [MASK] row */
    static const int probe[][3] = {{0, 1, 5}, {1, 4, 10}, {2, 3, 0}, {0, 11, 31}};
    double maxerr = 0;
    int fd_bad = 0;
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        size_t i = ((size_t)probe[k][0] * T + probe[k][1]) * C + probe[k][2];
        float x0 = x[i], eps = 1e-2f;
        x[i] = x0 + eps;
        double lp = model_loss(m, run, x);
        x[i] = x0 - eps;
        double lm = model_loss(m, run, x);
        x[i] = x0;
        double fd = (lp - lm) / (2 * eps), err = fabs(fd - dx[i]);
        printf("  finite difference x[%d,%d,%d]: fd %.6f analytic %.6f\n", probe[k][0], probe[k][1],
               probe[k][2], fd, dx[i]);
        if (err > maxerr) maxerr = err;
        fd_bad += !(err <= 2e-3 + 2e-2 * fabs(fd));
    }
    printf("  finite differences: max abs diff %.3g\n", maxerr);
    CHECK(fd_bad == 0, "%d finite-difference probes off", fd_bad);
    /* the probes ran forward without need_backward: backward must refuse */
    s = pt_model_backward(m, run, dh, dx);
    CHECK(s == PT_ERR_ARG, "backward after a forward without need_backward: %d", s);
    free(dx);

    /* a run with head scratch for 2 rows: head_forward on 3 rows works in chunks */
    pt_run *small = NULL;
    s = pt_run_new(m, 1, 2, &small);
    CHECK(s == PT_OK, "run_new 1x2: %s", pt_last_error());
    if (!s) {
        float l2[NOUT * V];
        pt_model_head_forward(m, small, l2, h, NOUT, NULL, V);
        t_close("MLM logits through a 1x2 run (chunked)", l2, lfull, NOUT * V, 1e-6, 1e-6);
        pt_run_free(small);
    }

    /* argument errors */
    int bad_idx[NOUT] = {out_idx[0], out_idx[1], 2 * T + len[2]}; /* padding position */
    s = pt_model_forward(m, run, x, len, B, T, bad_idx, NOUT, h, 1);
    CHECK(s == PT_ERR_ARG, "output at a padded position: %d", s);
    printf("  error: %s\n", pt_last_error());
    s = pt_model_forward(m, run, x, len, B + 2, T, out_idx, NOUT, h, 1);
    CHECK(s == PT_ERR_ARG, "batch larger than the run: %d", s);
    pt_run *big = NULL;
    s = pt_run_new(m, 1, P + 1, &big);
    CHECK(s == PT_ERR_ARG && !big, "run longer than max_position_embeddings: %d", s);
    printf("  error: %s\n", pt_last_error());
    pt_run_free(run);
out:
    pt_model_free(m);
}

static void test_nohead(void) {
    printf("encoder-only checkpoint (tiny_nohead: F16, no \"bert.\" prefix, no tokenizer):\n");
    pt_model *m = NULL;
    pt_status s = pt_model_load(&m, FIX "/tiny_nohead");
    CHECK(s == PT_OK, "load: %s", pt_last_error());
    if (s) return;
    CHECK(m->cfg.has_lm_head == 0, "has_lm_head %d", m->cfg.has_lm_head);
    CHECK(m->tok == NULL, "no tokenizer files -> tok NULL");
    CHECK(!strcmp(m->dtype, "F16"), "dtype %s", m->dtype);
    int64_t np = (int64_t)V * C + P * C + TV * C + 2 * C +
                 L * (3 * (C * C + C) + (C * C + C) + 2 * C + (F * C + F) + (C * F + C) + 2 * C);
    CHECK(m->n_params == np, "n_params %lld, want %lld", (long long)m->n_params, (long long)np);
    pt_run *run = NULL;
    s = pt_run_new(m, B, T, &run);
    CHECK(s == PT_OK, "run_new: %s", pt_last_error());
    if (s) goto out;
    float h[NOUT * C];
    s = pt_model_forward(m, run, x, len, B, T, out_idx, NOUT, h, 1);
    CHECK(s == PT_OK, "forward: %s", pt_last_error());
    float *want = ref_f32("nohead_h", NOUT * C);
    t_close("hidden states at answer slots", h, want, NOUT * C, 1e-4, 1e-5);
    free(want);
    float *dh = ref_f32("nohead_dh", NOUT * C);
    float *dx = malloc(sizeof(float) * B * T * C);
    s = pt_model_backward(m, run, dh, dx);
    CHECK(s == PT_OK, "backward: %s", pt_last_error());
    want = ref_f32("nohead_dx", B * T * C);
    t_close("d (h . R) / d x", dx, want, B * T * C, 1e-4, 1e-5);
    free(want);
    float lg[NOUT * NR];
    s = pt_model_head_forward(m, run, lg, h, NOUT, rows, NR);
    CHECK(s == PT_ERR_UNSUPPORTED && strstr(pt_last_error(), "no MLM head"),
          "head_forward without a head is refused: status %d (%s)", (int)s, pt_last_error());
    free(dx);
    free(dh);
    pt_run_free(run);
out:
    pt_model_free(m);
}

/* ---- bad input: broken copies of tiny/ in a temporary directory ---- */

static char tmpdir[64];

static int write_text(const char *name, const char *text) {
    char *p = pt_path_join(tmpdir, name);
    int ok = p && pt_write_file_atomic(p, text, strlen(text)) == PT_OK;
    free(p);
    return ok;
}

/* config.json of tiny/ with `from` replaced by `to` */
static int write_config(const char *from, const char *to) {
    char *text = NULL, out[4096];
    size_t n = 0;
    if (pt_read_file(FIX "/tiny/config.json", &text, &n)) return 0;
    char *at = strstr(text, from);
    int ok = at != NULL && n + strlen(to) < sizeof out;
    if (ok) {
        snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        ok = write_text("config.json", out);
    }
    free(text);
    return ok;
}

/* model.safetensors of tiny/ without tensor `drop`, with tensor `ren` renamed to
 * `ren_to`, plus an optional extra (V, C) tensor `extra`. */
static int write_weights(const char *drop, const char *ren, const char *ren_to, const char *extra,
                         const float *extra_data) {
    pt_st_file f;
    if (pt_st_open(&f, FIX "/tiny/model.safetensors")) return 0;
    pt_st_writer *w = pt_st_writer_new();
    int ok = w != NULL;
    for (int i = 0; ok && i < f.n_tensors; i++) {
        const pt_st_tensor *t = &f.tensors[i];
        if (drop && !strcmp(t->name, drop)) continue;
        float *d = malloc(sizeof(float) * (size_t)t->numel);
        ok = d && pt_st_to_f32(t, d) == PT_OK &&
             pt_st_writer_add_f32(w, ren && !strcmp(t->name, ren) ? ren_to : t->name, t->ndim,
                                  t->shape, d) == PT_OK;
        free(d);
    }
    int64_t shape[2] = {V, C};
    if (ok && extra) ok = pt_st_writer_add_f32(w, extra, 2, shape, extra_data) == PT_OK;
    char *p = pt_path_join(tmpdir, "model.safetensors");
    ok = ok && p && pt_st_writer_save(w, p) == PT_OK;
    free(p);
    pt_st_writer_free(w);
    pt_st_close(&f);
    return ok;
}

static int copy_config(void) {
    char *text = NULL;
    size_t n = 0;
    if (pt_read_file(FIX "/tiny/config.json", &text, &n)) return 0;
    int ok = write_text("config.json", text);
    free(text);
    return ok;
}

/* load tmpdir; expect status want and every needle in the message */
static void expect_error(const char *what, pt_status want, const char *n1, const char *n2,
                         const char *n3) {
    pt_model *m = NULL;
    pt_status s = pt_model_load(&m, tmpdir);
    const char *msg = pt_last_error();
    printf("  %s -> %s\n", what, s ? msg : "(loaded)");
    CHECK(s == want && !m, "%s: status %d, want %d", what, s, want);
    const char *needles[3] = {n1, n2, n3};
    for (int i = 0; i < 3; i++)
        CHECK(!needles[i] || strstr(msg, needles[i]), "%s: message lacks \"%s\"", what, needles[i]);
    pt_model_free(m);
}

static void test_bad_input(void) {
    printf("bad input:\n");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ptune_bert_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    CHECK(write_weights(NULL, NULL, NULL, NULL, NULL), "copy weights");

    CHECK(write_config("\"hidden_size\": 32", "\"hidden_size\": 48"), "edit config");
    expect_error("hidden_size 48", PT_ERR_MISMATCH, "word_embeddings", "48", "32");
    CHECK(write_config("\"intermediate_size\": 64", "\"intermediate_size\": 65"), "edit config");
    expect_error("intermediate_size 65", PT_ERR_MISMATCH, "intermediate.dense.weight", "65", "64");
    CHECK(write_config("\"vocab_size\": 92", "\"vocab_size\": 93"), "edit config");
    expect_error("vocab_size 93", PT_ERR_MISMATCH, "word_embeddings", "93", "92");
    CHECK(write_config("\"num_attention_heads\": 4", "\"num_attention_heads\": 5"), "edit");
    expect_error("5 heads for hidden 32", PT_ERR_FORMAT, "num_attention_heads", NULL, NULL);
    CHECK(write_config("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"relu\""), "edit config");
    expect_error("hidden_act relu", PT_ERR_UNSUPPORTED, "hidden_act", "relu", NULL);
    CHECK(write_config("\"vocab_size\": 92", "\"vocab_sz\": 92"), "edit config");
    expect_error("no vocab_size", PT_ERR_FORMAT, "vocab_size", "config.json", NULL);
    CHECK(write_config("\"num_hidden_layers\": 2", "\"num_hidden_layers\": -1"), "edit config");
    expect_error("num_hidden_layers -1", PT_ERR_FORMAT, "num_hidden_layers", NULL, NULL);

    CHECK(copy_config(), "copy config");
    CHECK(write_weights("bert.encoder.layer.1.output.dense.bias", NULL, NULL, NULL, NULL),
          "weights without a tensor");
    expect_error("missing tensor", PT_ERR_FORMAT, "encoder.layer.1.output.dense.bias", NULL, NULL);
    CHECK(write_weights("cls.predictions.bias", NULL, NULL, NULL, NULL), "weights w/o bias");
    expect_error("MLM head without its bias", PT_ERR_FORMAT, "cls.predictions.bias", NULL, NULL);

    /* old LayerNorm names (.gamma/.beta) load and give the same hidden states */
    pt_model *m = NULL;
    CHECK(write_weights(NULL, "bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.gamma",
                        NULL, NULL),
          "gamma weights");
    pt_status s = pt_model_load(&m, tmpdir);
    CHECK(s == PT_OK, "LayerNorm.gamma: %s", pt_last_error());
    if (!s) {
        pt_run *run = NULL;
        float h[NOUT * C];
        s = pt_run_new(m, B, T, &run);
        if (!s) s = pt_model_forward(m, run, x, len, B, T, out_idx, NOUT, h, 0);
        CHECK(s == PT_OK, "forward: %s", pt_last_error());
        float *want = ref_f32("h", NOUT * C);
        t_close("hidden states with LayerNorm.gamma (mixed names)", h, want, NOUT * C, 1e-4, 1e-5);
        free(want);
        pt_run_free(run);
    }
    pt_model_free(m);
    m = NULL;

    /* an untied decoder (2 * word embeddings): logits - bias double */
    float *dec = malloc(sizeof(float) * V * C);
    pt_model *tied = NULL;
    s = pt_model_load(&tied, FIX "/tiny");
    if (!s) {
        for (int i = 0; i < V * C; i++) dec[i] = 2 * pt_weight_f32(&tied->w.tok_embd)[i];
        CHECK(write_weights(NULL, NULL, NULL, "cls.predictions.decoder.weight", dec),
              "untied weights");
        s = pt_model_load(&m, tmpdir);
        CHECK(s == PT_OK, "untied decoder: %s", pt_last_error());
    }
    if (!s) {
        CHECK(m->n_params == tied->n_params + (int64_t)V * C, "untied n_params %lld",
              (long long)m->n_params);
        pt_run *run = NULL;
        float h[NOUT * C], lg[NOUT * V], lt[NOUT * V], b2[NOUT * V];
        s = pt_run_new(m, B, T, &run);
        if (!s) s = pt_model_forward(m, run, x, len, B, T, out_idx, NOUT, h, 0);
        CHECK(s == PT_OK, "forward: %s", pt_last_error());
        pt_model_head_forward(m, run, lg, h, NOUT, NULL, V);
        /* same transform u: l_untied = 2 u.wte + bias = 2 l_tied - bias */
        pt_model_head_forward(tied, run, lt, h, NOUT, NULL, V);
        float *bias = NULL;
        pt_st_file f;
        if (!pt_st_open(&f, FIX "/tiny/model.safetensors")) {
            int64_t shape[1] = {V};
            if (!pt_st_load_f32(&f, "cls.predictions.bias", 1, shape, &bias)) {
                for (int i = 0; i < NOUT * V; i++) b2[i] = 2 * lt[i] - bias[i % V];
                t_close("untied decoder logits = 2 tied - bias", lg, b2, NOUT * V, 1e-5, 1e-5);
            }
            pt_st_close(&f);
        }
        free(bias);
        pt_run_free(run);
    }
    pt_model_free(m);
    pt_model_free(tied);
    free(dec);

    char *p = pt_path_join(tmpdir, "config.json");
    unlink(p);
    free(p);
    p = pt_path_join(tmpdir, "model.safetensors");
    unlink(p);
    free(p);
    rmdir(tmpdir);
}

int main(void) {
    if (pt_st_open(&ref, FIX "/ref.safetensors")) {
        fprintf(stderr, "%s\n", pt_last_error());
        return 1;
    }
    x = ref_f32("x", B * T * C);
    ref_i32("len", len, B);
    ref_i32("out_idx", out_idx, NOUT);
    ref_i32("rows", rows, NR);
    ref_i32("targets", tg, NOUT);
    test_mlm();
    test_nohead();
    test_bad_input();
    free(x);
    pt_st_close(&ref);
    return t_done();
}
