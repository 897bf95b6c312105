/* test_llama.c - the LLaMA family against PyTorch references.
 *
 * Fixtures from scripts/gen_llama_fixtures.py (tests/fixtures/llama/): the same
 * tiny random models as a Hugging Face directory and as GGUF (Q/K rows permuted
 * as llama.cpp's converter does), untied and tied LM head, and reference
 * logits, loss and d(loss)/d(input embeddings) computed by a torch model with
 * Hugging Face LlamaForCausalLM semantics (float64).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/safetensors.h"
#include "models/model.h"
#include "test.h"

#define FIX "tests/fixtures/llama"

/* Generator constants (scripts/gen_llama_fixtures.py). */
enum { DIM = 32, LAYERS = 2, HEADS = 4, KV_HEADS = 2, FFN = 64, CTX = 128 };
enum { V_UNTIED = 282, V_TIED = 64, B = 3, T = 7, NFULL = 5, NR = 6 };

static pt_st_file ref;
static int lens[B], out_full[NFULL], rows[NR], targets[B], answer[B];

static float *ref_tensor(const char *tag, const char *name, int ndim, const int64_t *shape) {
    char full[128];
    snprintf(full, sizeof full, "%s%s%s", tag ? tag : "", tag ? "." : "", name);
    float *p = NULL;
    if (pt_st_load_f32(&ref, full, ndim, shape, &p)) {
        fprintf(stderr, "FAIL: %s\n", pt_last_error());
        exit(1);
    }
    return p;
}

static void ref_ints(const char *name, int *dst, int n) {
    int64_t shape[1] = {n};
    float *p = ref_tensor(NULL, name, 1, shape);
    for (int i = 0; i < n; i++) dst[i] = (int)p[i];
    free(p);
}

/* Mean cross-entropy over n rows of logits (n, nr) against targets; dlogits
 * (n, nr) = d(mean)/d(logits) when not NULL. */
static double xent_t(float *dlogits, const float *logits, const int *tgt, int n, int nr) {
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * nr;
        double mx = l[0], sum = 0;
        for (int j = 1; j < nr; j++) mx = l[j] > mx ? l[j] : mx;
        for (int j = 0; j < nr; j++) sum += exp(l[j] - mx);
        loss += -(l[tgt[i]] - mx - log(sum)) / n;
        if (dlogits)
            for (int j = 0; j < nr; j++)
                dlogits[(size_t)i * nr + j] = (float)((exp(l[j] - mx) / sum - (j == tgt[i])) / n);
    }
    return loss;
}

static double xent(float *dlogits, const float *logits, int n, int nr) {
    return xent_t(dlogits, logits, targets, n, nr);
}

/* Loss of the subset logits at the answer positions for input x. */
static double loss_at(pt_model *m, pt_run *run, const float *x, int need_backward, float *h,
                      float *logits, float *dlogits) {
    pt_status s = pt_model_forward(m, run, x, lens, B, T, answer, B, h, need_backward);
    CHECK(s == PT_OK, "forward: %s", pt_last_error());
    pt_model_head_forward(m, run, logits, h, B, rows, NR);
    return xent(dlogits, logits, B, NR);
}

/* Check one model file against the reference of `tag`; logits_full (NFULL, V)
 * returned for the cross-format comparison (caller frees). */
static float *check_model(const char *path, const char *tag, int V, int tied, int fd) {
    printf("%s (%s)\n", path, tag);
    pt_model *m = NULL;
    pt_status s = pt_model_load(&m, path);
    CHECK(s == PT_OK, "load %s: %s", path, pt_last_error());
    if (s) return NULL;
    const pt_model_config *c = &m->cfg;
    CHECK(c->family == PT_FAMILY_LLAMA && c->causal == 1 && c->has_lm_head == 1,
          "family %d causal %d", c->family, c->causal);
    CHECK(c->dim == DIM && c->n_layers == LAYERS && c->n_heads == HEADS &&
              c->n_kv_heads == KV_HEADS && c->ffn_dim == FFN && c->vocab_size == V &&
              c->max_pos == CTX,
          "config %d %d %d %d %d %d %d", c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->ffn_dim,
          c->vocab_size, c->max_pos);
    CHECK(fabsf(c->norm_eps - 1e-5f) < 1e-9f && c->rope_theta == 10000.0f, "eps %g theta %g",
          (double)c->norm_eps, (double)c->rope_theta);
    /* params: per layer 2C norms + q,o (C*C) + k,v (KVC*C) + 3 F*C; embeddings, head, norm */
    int64_t per_layer =
        2 * DIM + 2 * DIM * DIM + 2 * (KV_HEADS * DIM / HEADS) * DIM + 3 * FFN * DIM;
    int64_t want_params = (int64_t)V * DIM * (tied ? 1 : 2) + DIM + LAYERS * per_layer;
    CHECK(m->n_params == want_params, "n_params %lld want %lld", (long long)m->n_params,
          (long long)want_params);
    CHECK(!strcmp(m->dtype, "F16"), "dtype %s", m->dtype);

    int64_t s_x[3] = {B, T, DIM}, s_full[2] = {NFULL, V}, s_sub[2] = {B, NR}, s_1[1] = {1};
    float *x = ref_tensor(tag, "x", 3, s_x);
    float *want_full = ref_tensor(tag, "logits_full", 2, s_full);
    float *want_sub = ref_tensor(tag, "logits_sub", 2, s_sub);
    float *want_loss = ref_tensor(tag, "loss", 1, s_1);
    float *want_dx = ref_tensor(tag, "dx", 3, s_x);
    /* the embedding matrix seen by callers is the model's token embeddings */
    CHECK(pt_weight_f32(&m->w.tok_embd) != NULL, "wte");

    pt_run *run = NULL;
    s = pt_run_new(m, B, T, &run);
    CHECK(s == PT_OK, "run_new: %s", pt_last_error());
    float *h = calloc((size_t)NFULL * DIM, sizeof(float));
    float *logits = calloc((size_t)NFULL * V, sizeof(float));
    float *dlogits = calloc((size_t)B * NR, sizeof(float));
    float *dh = calloc((size_t)B * DIM, sizeof(float));
    float *dx = calloc((size_t)B * T * DIM, sizeof(float));

    /* full-vocabulary logits at several positions */
    s = pt_model_forward(m, run, x, lens, B, T, out_full, NFULL, h, 0);
    CHECK(s == PT_OK, "forward: %s", pt_last_error());
    pt_model_head_forward(m, run, logits, h, NFULL, NULL, V);
    t_close("logits (full vocab) vs torch", logits, want_full, (size_t)NFULL * V, 1e-4, 1e-4);

    /* subset logits, loss and dx */
    float sub[B * NR];
    double loss = loss_at(m, run, x, 1, h, sub, dlogits);
    t_close("logits (label subset) vs torch", sub, want_sub, (size_t)B * NR, 1e-4, 1e-4);
    float lossf = (float)loss;
    t_close("loss vs torch", &lossf, want_loss, 1, 1e-5, 1e-6);
    memset(dh, 0, sizeof(float) * B * DIM);
    pt_model_head_backward(m, run, dh, dlogits, h, B, rows, NR);
    memset(dx, 0xff, sizeof(float) * B * T * DIM); /* NaN garbage: backward must overwrite */
    s = pt_model_backward(m, run, dh, dx);
    CHECK(s == PT_OK, "backward: %s", pt_last_error());
    t_close("dloss/dx vs torch", dx, want_dx, (size_t)B * T * DIM, 1e-3, 2e-5);
    int pad_nonzero = 0;
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++)
            for (int k = 0; k < DIM; k++) pad_nonzero += dx[((size_t)b * T + t) * DIM + k] != 0.0f;
    CHECK(pad_nonzero == 0, "%d nonzero dx entries at padded positions", pad_nonzero);

    /* finite differences on a few input entries (central, float32 forward) */
    if (fd) {
        const int probe[][3] = {{0, 1, 3}, {1, 0, 17}, {2, 4, 30}, {0, 6, 0}};
        float fd_got[4], fd_want[4];
        float *xp = malloc(sizeof(float) * B * T * DIM);
        float tmp[B * NR];
        const float eps = 1e-2f;
        for (int i = 0; i < 4; i++) {
            size_t off = ((size_t)probe[i][0] * T + probe[i][1]) * DIM + probe[i][2];
            memcpy(xp, x, sizeof(float) * B * T * DIM);
            xp[off] = x[off] + eps;
            double lp = loss_at(m, run, xp, 0, h, tmp, NULL);
            xp[off] = x[off] - eps;
            double lm = loss_at(m, run, xp, 0, h, tmp, NULL);
            fd_got[i] = (float)((lp - lm) / (2.0 * eps));
            fd_want[i] = dx[off];
        }
        free(xp);
        t_close("finite differences vs dx", fd_got, fd_want, 4, 2e-2, 5e-4);
    }
    /* backward after a forward without need_backward is refused */
    s = pt_model_forward(m, run, x, lens, B, T, answer, B, h, 0);
    CHECK(s == PT_OK && pt_model_backward(m, run, dh, dx) != PT_OK,
          "backward after a no-backward forward must fail");
    /* invalid lengths / positions are errors, not crashes */
    int badlen[B] = {7, 0, 6};
    CHECK(pt_model_forward(m, run, x, badlen, B, T, answer, B, h, 0) != PT_OK, "length 0 accepted");
    int badidx[1] = {1 * T + 5}; /* row 1 has 4 tokens */
    CHECK(pt_model_forward(m, run, x, lens, B, T, badidx, 1, h, 0) != PT_OK,
          "padded output position accepted");

    pt_run_free(run);
    free(x);
    free(want_sub);
    free(want_loss);
    free(want_dx);
    free(want_full);
    free(h);
    free(dlogits);
    free(dh);
    free(dx);
    pt_model_free(m);
    return logits;
}

/* ---------------- bad input ---------------- */

static char tmpdir[64];

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(*n);
    if (fread(p, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return p;
}

/* Offset just past the GGUF key string `key` (its u32 type follows). */
static size_t find_key(const unsigned char *d, size_t n, const char *key) {
    size_t k = strlen(key);
    for (size_t i = 8; i + k + 4 < n; i++)
        if (!memcmp(d + i, key, k) && d[i - 8] == k) return i + k;
    return 0;
}

static void expect_error(const char *path, const char *needle, const char *what) {
    pt_model *m = NULL;
    pt_status s = pt_model_load(&m, path);
    const char *msg = pt_last_error();
    CHECK(s != PT_OK && m == NULL && strstr(msg, needle), "%s: status %d, message \"%s\"", what, s,
          msg);
    printf("  %-32s -> %s\n", what, msg);
    pt_model_free(m);
}

static void check_bad_input(void) {
    printf("bad input\n");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_llama_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char p1[128], p2[128], d1[128], d1c[160], d1s[160];
    size_t n = 0;
    unsigned char *g = read_bytes(FIX "/tiny.gguf", &n);
    CHECK(g && n > 0, "read tiny.gguf");
    if (!g) return;
    /* architecture "llama" -> "bloom" */
    size_t off = find_key(g, n, "general.architecture");
    CHECK(off && !memcmp(g + off + 12, "llama", 5), "general.architecture not found");
    unsigned char *g1 = malloc(n);
    memcpy(g1, g, n);
    memcpy(g1 + off + 12, "bloom", 5);
    snprintf(p1, sizeof p1, "%s/arch.gguf", tmpdir);
    write_bytes(p1, g1, n);
    expect_error(p1, "general.architecture", "GGUF architecture bloom");
    /* feed_forward_length 64 -> 48: tensor shapes disagree */
    memcpy(g1, g, n);
    off = find_key(g, n, "llama.feed_forward_length");
    uint32_t v48 = 48;
    CHECK(off && g[off] == 4, "feed_forward_length not found");
    memcpy(g1 + off + 4, &v48, 4);
    snprintf(p2, sizeof p2, "%s/ffn.gguf", tmpdir);
    write_bytes(p2, g1, n);
    expect_error(p2, "ffn_gate", "GGUF feed_forward_length 48");
    /* a truncated GGUF */
    write_bytes(p2, g, n / 2);
    pt_model *m = NULL;
    CHECK(pt_model_load(&m, p2) != PT_OK && !m, "truncated GGUF accepted");
    printf("  %-32s -> %s\n", "GGUF truncated", pt_last_error());
    free(g1);
    free(g);

    /* Hugging Face directory with config.json that disagrees with the weights */
    size_t sn = 0;
    unsigned char *st = read_bytes(FIX "/tiny_hf/model.safetensors", &sn);
    snprintf(d1, sizeof d1, "%s/hf", tmpdir);
    mkdir(d1, 0700);
    snprintf(d1s, sizeof d1s, "%s/model.safetensors", d1);
    write_bytes(d1s, st, sn);
    free(st);
    snprintf(d1c, sizeof d1c, "%s/config.json", d1);
    const char *cfg_fmt =
        "{\"model_type\": \"llama\", \"hidden_size\": 32, \"num_hidden_layers\": 2, "
        "\"num_attention_heads\": %d, \"num_key_value_heads\": 2, \"intermediate_size\": %d, "
        "\"vocab_size\": 282, \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-5}";
    char cfg[512];
    snprintf(cfg, sizeof cfg, cfg_fmt, 4, 48);
    write_bytes(d1c, cfg, strlen(cfg));
    expect_error(d1, "mlp.gate_proj", "HF intermediate_size 48");
    snprintf(cfg, sizeof cfg, cfg_fmt, 5, 64);
    write_bytes(d1c, cfg, strlen(cfg));
    expect_error(d1, "heads", "HF 5 heads for width 32");
    const char *nodim = "{\"model_type\": \"llama\", \"num_hidden_layers\": 2}";
    write_bytes(d1c, nodim, strlen(nodim));
    expect_error(d1, "hidden_size", "HF config without hidden_size");
    unlink(d1c);
    unlink(d1s);
    rmdir(d1);
    unlink(p1);
    unlink(p2);
    rmdir(tmpdir);
}

/* ---------------- stories260K (../shared) ---------------- */

/* Mean next-token NLL of row `row` (its len tokens) given full-vocab logits at
 * every position of that row; dlogits as in xent_t when not NULL. */
static double story_nll(pt_model *m, pt_run *run, const float *x, const int *len, int Bn, int Tn,
                        int row, const int *ids, float *h, float *logits, float *dlogits,
                        int need_backward) {
    int n = len[row] - 1, idx[64];
    for (int t = 0; t < n; t++) idx[t] = row * Tn + t;
    pt_status s = pt_model_forward(m, run, x, len, Bn, Tn, idx, n, h, need_backward);
    CHECK(s == PT_OK, "forward: %s", pt_last_error());
    pt_model_head_forward(m, run, logits, h, n, NULL, m->cfg.vocab_size);
    return xent_t(dlogits, logits, ids + 1, n, m->cfg.vocab_size);
}

static void check_stories(void) {
    const char *path = t_shared("models/stories260K/stories260K.gguf");
    printf("stories260K\n");
    if (!path) {
        t_note_skip("../shared/models/stories260K/stories260K.gguf absent");
        return;
    }
    pt_model *m = NULL;
    pt_status s = pt_model_load(&m, path);
    CHECK(s == PT_OK, "load %s: %s", path, pt_last_error());
    if (s) return;
    const pt_model_config *c = &m->cfg;
    printf("  dim %d, layers %d, heads %d, kv heads %d, ffn %d, vocab %d, params %lld, %s\n",
           c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->ffn_dim, c->vocab_size,
           (long long)m->n_params, m->dtype);
    CHECK(c->dim == 64 && c->n_layers == 5 && c->n_heads == 8 && c->n_kv_heads == 4 &&
              c->vocab_size == 512,
          "stories260K config");
    CHECK(m->tok && m->tok->vocab_size == 512, "stories260K tokenizer");
    if (!m->tok) {
        pt_model_free(m);
        return;
    }
    enum { SB = 2, ST = 40, SC = 64, SV = 512 };
    /* row 0 short (right padded), row 1 long; both start with BOS (id 1) */
    const char *text[SB] = {"The cat sat on the mat.",
                            "Once upon a time, there was a little girl named Lily. She loved to "
                            "play outside in the park."};
    pt_ivec ids[SB] = {{0}, {0}};
    int len[SB];
    for (int b = 0; b < SB; b++) {
        pt_ivec_push(&ids[b], 1);
        CHECK(pt_tok_encode(m->tok, text[b], strlen(text[b]), 0, &ids[b]) == PT_OK, "encode: %s",
              pt_last_error());
        len[b] = (int)ids[b].n;
    }
    CHECK(len[0] < len[1] && len[1] <= ST, "token counts %d %d", len[0], len[1]);
    if (!(len[0] < len[1] && len[1] <= ST)) goto out;
    int T2 = len[1];
    float *x = calloc((size_t)SB * T2 * SC, sizeof(float)); // (SB, T2, C)
    float *x1 = calloc((size_t)T2 * SC, sizeof(float));     // (1, len0, C)
    float *h = malloc(sizeof(float) * ST * SC);
    float *lg = malloc(sizeof(float) * ST * SV), *lg1 = malloc(sizeof(float) * ST * SV);
    float *dlg = calloc((size_t)ST * SV, sizeof(float)),
          *dh = calloc((size_t)ST * SC, sizeof(float));
    float *dx = calloc((size_t)SB * T2 * SC, sizeof(float));
    pt_run *run = NULL;
    for (int b = 0; b < SB; b++) pt_model_embed(m, x + (size_t)b * T2 * SC, ids[b].v, len[b]);
    memcpy(x1, x, sizeof(float) * len[0] * SC);
    CHECK(pt_run_new(m, SB, T2, &run) == PT_OK, "run_new: %s", pt_last_error());

    /* A model that reads its weights right predicts a stock TinyStories sentence
     * well: 0.18 nats/token here, while skipping the Q un-permutation gives 2.6
     * (and uniform guessing log(512) = 6.2). Bound 1.0 separates the two. */
    double nll = story_nll(m, run, x, len, SB, T2, 1, ids[1].v, h, lg, NULL, 0);
    int finite = 1;
    for (int i = 0; i < (len[1] - 1) * SV; i++) finite &= isfinite(lg[i]) != 0;
    CHECK(finite, "stories260K logits not finite");
    printf("  NLL of \"%.30s...\": %.3f nats/token over %d tokens\n", text[1], nll, len[1] - 1);
    CHECK(nll < 1.0, "stories260K NLL %.3f too high: weights or RoPE layout wrong", nll);

    /* right padding: the short row alone (B=1, T=len0) == inside the padded batch */
    story_nll(m, run, x1, &len[0], 1, len[0], 0, ids[0].v, h, lg1, NULL, 0);
    double nll0 = story_nll(m, run, x, len, SB, T2, 0, ids[0].v, h, lg, dlg, 1);
    /* equal up to float rounding: a BLAS engine may block a 1-row and a batched
     * product differently (OpenBLAS: 1.2e-5 here; the builtin engine: 0) */
    t_close("stories260K padded row vs alone", lg, lg1, (size_t)(len[0] - 1) * SV, 1e-4, 5e-5);

    /* directional finite difference of the short row's NLL: <dx, u> vs FD along u */
    pt_model_head_backward(m, run, dh, dlg, h, len[0] - 1, NULL, SV);
    CHECK(pt_model_backward(m, run, dh, dx) == PT_OK, "backward: %s", pt_last_error());
    double dot = 0, eps = 1e-2;
    float *xp = malloc(sizeof(float) * SB * T2 * SC), *u = malloc(sizeof(float) * SB * T2 * SC);
    for (int i = 0; i < SB * T2 * SC; i++) u[i] = (float)sin(0.37 * i + 1.0);
    for (int i = 0; i < SB * T2 * SC; i++) dot += (double)dx[i] * u[i];
    for (int i = 0; i < SB * T2 * SC; i++) xp[i] = x[i] + (float)eps * u[i];
    double lp = story_nll(m, run, xp, len, SB, T2, 0, ids[0].v, h, lg1, NULL, 0);
    for (int i = 0; i < SB * T2 * SC; i++) xp[i] = x[i] - (float)eps * u[i];
    double lm = story_nll(m, run, xp, len, SB, T2, 0, ids[0].v, h, lg1, NULL, 0);
    float fdv = (float)((lp - lm) / (2 * eps)), dotf = (float)dot;
    printf("  short row NLL %.4f\n", nll0);
    t_close("stories260K directional FD vs <dx,u>", &fdv, &dotf, 1, 2e-2, 1e-3);
    int pad_nonzero = 0; /* row 1 gets no gradient: only row 0's loss */
    for (int i = T2 * SC; i < SB * T2 * SC; i++) pad_nonzero += dx[i] != 0.0f;
    for (int t = len[0]; t < T2; t++)
        for (int k = 0; k < SC; k++) pad_nonzero += dx[(size_t)t * SC + k] != 0.0f;
    CHECK(pad_nonzero == 0, "%d nonzero dx entries outside row 0's tokens", pad_nonzero);

    pt_run_free(run);
    free(x);
    free(x1);
    free(xp);
    free(u);
    free(h);
    free(lg);
    free(lg1);
    free(dlg);
    free(dh);
    free(dx);
out:
    for (int b = 0; b < SB; b++) pt_ivec_free(&ids[b]);
    pt_model_free(m);
}

int main(void) {
    if (pt_st_open(&ref, FIX "/ref.safetensors")) {
        fprintf(stderr, "FAIL: %s\n", pt_last_error());
        return 1;
    }
    ref_ints("len", lens, B);
    ref_ints("out_full", out_full, NFULL);
    ref_ints("rows", rows, NR);
    ref_ints("targets", targets, B);
    for (int b = 0; b < B; b++) answer[b] = b * T + lens[b] - 1;

    float *hf = check_model(FIX "/tiny_hf", "untied", V_UNTIED, 0, 1);
    float *gg = check_model(FIX "/tiny.gguf", "untied", V_UNTIED, 0, 1);
    if (hf && gg) t_close("logits HF dir vs GGUF (untied)", gg, hf, NFULL * V_UNTIED, 1e-5, 1e-5);
    free(hf);
    free(gg);
    hf = check_model(FIX "/tiny_tied_hf", "tied", V_TIED, 1, 0);
    gg = check_model(FIX "/tiny_tied.gguf", "tied", V_TIED, 1, 1);
    if (hf && gg) t_close("logits HF dir vs GGUF (tied)", gg, hf, NFULL * V_TIED, 1e-5, 1e-5);
    free(hf);
    free(gg);

    /* the GGUF tokenizer of the fixture: words merge by score, ids from the generator */
    pt_model *m = NULL;
    if (pt_model_load(&m, FIX "/tiny.gguf") == PT_OK) {
        CHECK(m->tok != NULL && m->tok->vocab_size == V_UNTIED, "tiny.gguf tokenizer");
        if (m->tok) {
            pt_ivec ids = {0};
            const char *text = "the cat sat";
            CHECK(pt_tok_encode(m->tok, text, strlen(text), 0, &ids) == PT_OK, "encode: %s",
                  pt_last_error());
            int want[3] = {pt_tok_lookup(m->tok, "\xe2\x96\x81the"),
                           pt_tok_lookup(m->tok, "\xe2\x96\x81"
                                                 "cat"),
                           pt_tok_lookup(m->tok, "\xe2\x96\x81sat")};
            CHECK(ids.n == 3 && ids.v[0] == want[0] && ids.v[1] == want[1] && ids.v[2] == want[2] &&
                      want[0] == 259 + 12,
                  "\"the cat sat\" -> %zu ids", ids.n);
            pt_ivec_free(&ids);
        }
        pt_model_free(m);
    }
    CHECK(pt_model_load(&m, FIX "/tiny_hf") == PT_OK && m->tok == NULL,
          "HF fixture without tokenizer files loads with tok NULL");
    pt_model_free(m);

    check_bad_input();
    check_stories();
    pt_st_close(&ref);
    return t_done();
}
