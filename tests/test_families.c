/* test_families.c - LLaMA-3, Mistral, Qwen2 and RoBERTa against PyTorch references.
 *
 * Fixtures from scripts/gen_family_fixtures.py (tests/fixtures/families/): tiny
 * random models with the real structure (GQA, rope_scaling llama3 with theta
 * 500000, Mistral's sliding window, Qwen2's q/k/v biases, explicit head_dim and
 * tied embeddings, RoBERTa's padding_idx position offset and lm_head, a LLaMA
 * with attention_bias) as Hugging Face directories (BF16, F16, F32), a sharded
 * copy and GGUF copies (F16, BF16, F32; Q/K rows and biases permuted for the
 * llama architecture), and reference hidden states, logits, loss and
 * d(loss)/d(input embeddings) from a float64 torch forward written from the
 * Hugging Face modeling code.
 *
 * Per model file: hidden states at every valid row, logits, loss and dx within
 * 1e-4 of the reference (relative to each tensor's largest value; the
 * elementwise relative difference is printed too), finite differences of the
 * loss against dx, the recompute path, key/value-cache decoding in pieces
 * (causal families), and the GGUF and sharded copies against the HF directory.
 * Then the refusals: a Mistral sequence longer than its window, a directory
 * with only pytorch_model.bin; and rope_scaling must matter (the reference
 * without it is far outside the tolerance).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "formats/safetensors.h"
#include "models/model.h"
#include "models/quantize.h"
#include "test.h"

#define FIX "tests/fixtures/families"

/* Generator constants (scripts/gen_family_fixtures.py). */
enum { B = 3, T = 10, NR = 6, MAXC = 32, MAXV = 96 };

typedef struct fam_case {
    const char *tag; /* prefix in ref.safetensors */
    const char *hf, *gguf, *sharded;
    pt_family family;
    int C, L, NH, NKV, HS, F, V, ctx, causal, tied;
    const char *hf_dtype, *gguf_dtype;
} fam_case;

static const fam_case CASES[] = {
    {"llama3", FIX "/llama3_hf", FIX "/llama3.gguf", FIX "/llama3_sharded", PT_FAMILY_LLAMA, 32, 2,
     4, 2, 8, 64, 96, 1024, 1, 0, "BF16", "F16"},
    {"mistral", FIX "/mistral_hf", FIX "/mistral.gguf", NULL, PT_FAMILY_LLAMA, 32, 2, 4, 1, 8, 64,
     80, 256, 1, 0, "F16", "BF16"},
    {"qwen2", FIX "/qwen2_hf", FIX "/qwen2.gguf", NULL, PT_FAMILY_QWEN2, 32, 2, 4, 2, 12, 48, 72,
     256, 1, 1, "BF16", "F32"},
    {"roberta", FIX "/roberta_hf", NULL, NULL, PT_FAMILY_ROBERTA, 32, 2, 4, 4, 8, 64, 90, 64, 0, 1,
     "F32", NULL},
    {"llama_bias", FIX "/llama_bias_hf", FIX "/llama_bias.gguf", NULL, PT_FAMILY_LLAMA, 32, 2, 4, 2,
     8, 64, 64, 128, 1, 1, "F32", "F16"},
};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])

static pt_st_file ref;
static int lens[B], rows[NR], targets[B], n_valid, valid[B * T];

static float *ref_tensor(const char *tag, const char *name, size_t n) {
    char full[128];
    snprintf(full, sizeof full, "%s%s%s", tag ? tag : "", tag ? "." : "", name);
    const pt_st_tensor *t = pt_st_find(&ref, full);
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!t || t->numel != (int64_t)n || !p || pt_st_to_f32(t, p)) {
        fprintf(stderr, "FAIL: ref.safetensors: %s missing or not %zu values\n", full, n);
        exit(1);
    }
    return p;
}

static void ref_ints(const char *tag, const char *name, int *dst, int n) {
    float *p = ref_tensor(tag, name, (size_t)n);
    for (int i = 0; i < n; i++) dst[i] = (int)p[i];
    free(p);
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* got vs want within tol of want's scale (|d| <= tol*|want| + tol*max|want|);
 * prints the largest difference relative to that scale. Returns it. */
static double close_rel(const char *what, const float *got, const float *want, size_t n,
                        double tol) {
    double scale = max_abs(want, n), md = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        md = d > md || d != d ? d : md;
    }
    t_close(what, got, want, n, tol, tol * scale);
    printf("  %-40s max diff / max|ref| %.3g\n", "", md / (scale > 0 ? scale : 1));
    return md / (scale > 0 ? scale : 1);
}

static double xent(float *dlogits, const float *logits, int n, int nr) {
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * nr;
        double mx = l[0], sum = 0;
        for (int j = 1; j < nr; j++) mx = l[j] > mx ? l[j] : mx;
        for (int j = 0; j < nr; j++) sum += exp(l[j] - mx);
        loss += -(l[targets[i]] - mx - log(sum)) / n;
        if (dlogits)
            for (int j = 0; j < nr; j++)
                dlogits[(size_t)i * nr + j] =
                    (float)((exp(l[j] - mx) / sum - (j == targets[i])) / n);
    }
    return loss;
}

/* What one model file produced, for the cross-format comparisons. */
typedef struct result {
    int ok;
    float h[B * T * MAXC];
    float loss;
    float dx[B * T * MAXC];
} result;

static double loss_at(pt_model *m, pt_run *run, const float *x, const int *answer, int keep,
                      float *h, float *dlogits) {
    float sub[B * NR];
    pt_status s = pt_model_forward(m, run, x, lens, B, T, answer, B, h, keep);
    CHECK(s == PT_OK, "forward: %s", pt_last_error());
    s = pt_model_head_forward(m, run, sub, h, B, rows, NR);
    CHECK(s == PT_OK, "head: %s", pt_last_error());
    return xent(dlogits, sub, B, NR);
}

static double worst[N_CASES]; /* largest scale-relative difference vs torch, per family */

static void check_model(const fam_case *fc, int ci, const char *path, const char *dtype, int full,
                        result *res) {
    printf("%s: %s\n", fc->tag, path);
    memset(res, 0, sizeof *res);
    pt_model *m = NULL;
    pt_status s = pt_model_load(&m, path);
    CHECK(s == PT_OK, "load %s: %s", path, pt_last_error());
    if (s) return;
    const pt_model_config *c = &m->cfg;
    int C = fc->C;
    CHECK(c->family == fc->family && c->causal == fc->causal && c->has_lm_head == 1 &&
              c->tied == fc->tied,
          "%s: family %d causal %d head %d tied %d", path, c->family, c->causal, c->has_lm_head,
          c->tied);
    CHECK(c->dim == C && c->n_layers == fc->L && c->n_heads == fc->NH && c->n_kv_heads == fc->NKV &&
              c->head_dim == fc->HS && c->ffn_dim == fc->F && c->vocab_size == fc->V &&
              c->max_pos == fc->ctx,
          "%s: config C %d L %d NH %d NKV %d HS %d F %d V %d ctx %d", path, c->dim, c->n_layers,
          c->n_heads, c->n_kv_heads, c->head_dim, c->ffn_dim, c->vocab_size, c->max_pos);
    CHECK(!strcmp(m->dtype, dtype), "%s: dtype %s, want %s", path, m->dtype, dtype);
    CHECK(m->tok == NULL, "no tokenizer files in the fixture");
    if (!strcmp(fc->tag, "qwen2"))
        CHECK(c->sliding_window == 0, "qwen2: use_sliding_window false, window %d",
              c->sliding_window);
    if (!strcmp(fc->tag, "mistral"))
        CHECK(c->sliding_window == 16, "mistral: sliding window %d", c->sliding_window);
    if (!strcmp(fc->tag, "roberta"))
        CHECK(c->pos_offset == 2, "roberta: position offset %d", c->pos_offset);

    size_t nx = (size_t)B * T * C;
    float *x = ref_tensor(fc->tag, "x", nx);
    float *want_h = ref_tensor(fc->tag, "h", (size_t)n_valid * C);
    float *want_full = ref_tensor(fc->tag, "logits_full", (size_t)B * fc->V);
    float *want_sub = ref_tensor(fc->tag, "logits_sub", (size_t)B * NR);
    float *want_loss = ref_tensor(fc->tag, "loss", 1);
    float *want_dx = ref_tensor(fc->tag, "dx", nx);
    int answer[B];
    ref_ints(fc->tag, "answer", answer, B);

    pt_run *run = NULL;
    s = pt_run_new(m, B, T, &run);
    CHECK(s == PT_OK, "run_new: %s", pt_last_error());
    if (s) goto out;
    float h[B * T * MAXC], logits[B * MAXV], dlogits[B * NR], dh[B * MAXC];
    double r;
    /* hidden states at every valid row */
    s = pt_model_forward(m, run, x, lens, B, T, valid, n_valid, h, 0);
    CHECK(s == PT_OK, "forward: %s", pt_last_error());
    r = close_rel("hidden states (every row) vs torch", h, want_h, (size_t)n_valid * C, 1e-4);
    worst[ci] = r > worst[ci] ? r : worst[ci];
    memcpy(res->h, h, sizeof(float) * (size_t)n_valid * C);
    if (!strcmp(fc->tag, "llama3")) { /* rope_scaling must matter */
        float *noscale = ref_tensor(fc->tag, "h_noscale", (size_t)n_valid * C);
        double md = 0, sc = max_abs(want_h, (size_t)n_valid * C);
        for (size_t i = 0; i < (size_t)n_valid * C; i++)
            md = fabs(noscale[i] - want_h[i]) > md ? fabs(noscale[i] - want_h[i]) : md;
        printf("  torch without rope_scaling differs by %.3g of the scale (tolerance 1e-4)\n",
               md / sc);
        CHECK(md / sc > 1e-2, "rope_scaling barely changes the reference (%.3g)", md / sc);
        free(noscale);
    }

    /* full-vocabulary logits at the answer rows, then the loss over the label rows */
    s = pt_model_forward(m, run, x, lens, B, T, answer, B, h, 1);
    CHECK(s == PT_OK, "forward: %s", pt_last_error());
    s = pt_model_head_forward(m, run, logits, h, B, NULL, fc->V);
    CHECK(s == PT_OK, "head: %s", pt_last_error());
    r = close_rel("logits (full vocab) vs torch", logits, want_full, (size_t)B * fc->V, 1e-4);
    worst[ci] = r > worst[ci] ? r : worst[ci];
    double loss = loss_at(m, run, x, answer, 1, h, dlogits);
    res->loss = (float)loss;
    r = close_rel("loss vs torch", &res->loss, want_loss, 1, 1e-4);
    worst[ci] = r > worst[ci] ? r : worst[ci];
    memset(dh, 0, sizeof dh);
    s = pt_model_head_backward(m, run, dh, dlogits, h, B, rows, NR);
    CHECK(s == PT_OK, "head backward: %s", pt_last_error());
    float *dx = malloc(sizeof(float) * nx);
    memset(dx, 0xff, sizeof(float) * nx); /* NaN: backward must overwrite */
    s = pt_model_backward(m, run, dh, dx);
    CHECK(s == PT_OK, "backward: %s", pt_last_error());
    r = close_rel("dloss/dx vs torch", dx, want_dx, nx, 1e-4);
    worst[ci] = r > worst[ci] ? r : worst[ci];
    memcpy(res->dx, dx, sizeof(float) * nx);
    int pad_nonzero = 0;
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++)
            for (int k = 0; k < C; k++) pad_nonzero += dx[((size_t)b * T + t) * C + k] != 0.0f;
    CHECK(pad_nonzero == 0, "%d nonzero dx entries at padded positions", pad_nonzero);

    /* finite differences of the float32 loss on a few entries: virtual-token rows,
     * word rows, a late row (RoPE angles largest) */
    if (full) {
        static const int probe[][3] = {{0, 1, 3}, {1, 0, 17}, {2, 4, 30}, {0, 9, 0}, {2, 6, 11}};
        enum { NP = sizeof probe / sizeof probe[0] };
        float fd_got[NP], fd_want[NP];
        float *xp = malloc(sizeof(float) * nx);
        const float eps = 1e-2f;
        for (int i = 0; i < NP; i++) {
            size_t off = ((size_t)probe[i][0] * T + probe[i][1]) * C + probe[i][2];
            memcpy(xp, x, sizeof(float) * nx);
            xp[off] = x[off] + eps;
            double lp = loss_at(m, run, xp, answer, 0, h, NULL);
            xp[off] = x[off] - eps;
            double lm = loss_at(m, run, xp, answer, 0, h, NULL);
            fd_got[i] = (float)((lp - lm) / (2.0 * eps));
            fd_want[i] = dx[off];
        }
        free(xp);
        t_close("finite differences vs dx", fd_got, fd_want, NP, 2e-2, 5e-4);
    }
    if (full) { /* the HF and GGUF copies: the recompute path and key/value-cache decoding too */
        pt_run *rr = NULL;
        pt_model_set_recompute(m, 1);
        s = pt_run_new(m, B, T, &rr);
        pt_model_set_recompute(m, 0);
        CHECK(s == PT_OK, "run_new (recompute): %s", pt_last_error());
        if (!s) {
            float dh2[B * MAXC];
            loss_at(m, rr, x, answer, 1, h, dlogits);
            memset(dh2, 0, sizeof dh2);
            pt_model_head_backward(m, rr, dh2, dlogits, h, B, rows, NR);
            s = pt_model_backward(m, rr, dh2, dx);
            CHECK(s == PT_OK, "backward (recompute): %s", pt_last_error());
            r = close_rel("dloss/dx with recomputation vs torch", dx, want_dx, nx, 1e-4);
            worst[ci] = r > worst[ci] ? r : worst[ci];
        }
        pt_run_free(rr);
    }
    if (full && fc->causal) { /* sequence 0 decoded in pieces of 3, 1 and 6 rows */
        pt_cache *cache = NULL;
        s = pt_cache_new(m, T, &cache);
        CHECK(s == PT_OK, "cache_new: %s", pt_last_error());
        float hd[T * MAXC];
        static const int piece[] = {3, 1, 6};
        int at = 0;
        for (int i = 0; i < 3 && !s; i++) {
            s = pt_cache_decode(m, cache, x + (size_t)at * C, piece[i],
                                hd + (size_t)(at + piece[i] - 1) * C);
            CHECK(s == PT_OK, "decode: %s", pt_last_error());
            at += piece[i];
        }
        if (!s) { /* the last row of each piece vs the reference (rows 2, 3, 9 of sequence 0) */
            float got[3 * MAXC], want[3 * MAXC];
            static const int row[] = {2, 3, 9};
            for (int i = 0; i < 3; i++) {
                memcpy(got + (size_t)i * C, hd + (size_t)row[i] * C, sizeof(float) * C);
                memcpy(want + (size_t)i * C, want_h + (size_t)row[i] * C, sizeof(float) * C);
            }
            r = close_rel("KV-cache decode (3+1+6 rows) vs torch", got, want, (size_t)3 * C, 1e-4);
            worst[ci] = r > worst[ci] ? r : worst[ci];
        }
        pt_cache_free(cache);
    }
    if (full) { /* bf16 block weights (exact here: the fixtures' values are bf16) */
        s = pt_model_set_precision(m, 1);
        CHECK(s == PT_OK, "bf16: %s", pt_last_error());
        CHECK(m->w.layers[0].wq.type == PT_WT_BF16 && m->w.layers[1].w_down.type == PT_WT_BF16,
              "block matrices after set_precision: types %d %d", m->w.layers[0].wq.type,
              m->w.layers[1].w_down.type);
        if (!s) s = pt_model_forward(m, run, x, lens, B, T, valid, n_valid, h, 0);
        CHECK(s == PT_OK, "forward (bf16): %s", pt_last_error());
        if (!s)
            close_rel("hidden states, bf16 weights (tol 3e-2)", h, want_h, (size_t)n_valid * C,
                      3e-2);
    }
    free(dx);
    res->ok = 1;
out:
    pt_run_free(run);
    free(x);
    free(want_h);
    free(want_full);
    free(want_sub);
    free(want_loss);
    free(want_dx);
    pt_model_free(m);
}

/* Two copies of the same weights: the same hidden states, loss and gradient. */
static void same(const char *what, const fam_case *fc, const result *a, const result *b,
                 double tol) {
    if (!a->ok || !b->ok) {
        CHECK(0, "%s: a copy did not load", what);
        return;
    }
    char buf[96];
    printf("%s\n", what);
    snprintf(buf, sizeof buf, "hidden states");
    close_rel(buf, b->h, a->h, (size_t)n_valid * fc->C, tol);
    close_rel("loss", &b->loss, &a->loss, 1, tol);
    close_rel("dloss/dx", b->dx, a->dx, (size_t)B * T * fc->C, tol);
}

/* ---------------- refusals ---------------- */

static void check_sliding_window(const char *path) {
    printf("sliding window (%s)\n", path);
    pt_model *m = NULL;
    if (pt_model_load(&m, path) != PT_OK) {
        CHECK(0, "load %s: %s", path, pt_last_error());
        return;
    }
    int W = m->cfg.sliding_window, C = m->cfg.dim;
    pt_run *run = NULL;
    pt_status s = pt_run_new(m, 1, W + 4, &run);
    CHECK(s == PT_OK, "run_new %d: %s", W + 4, pt_last_error());
    if (!s) {
        float *x = calloc((size_t)(W + 4) * C, sizeof(float)), h[MAXC];
        for (int i = 0; i < (W + 4) * C; i++) x[i] = (float)sin(0.37 * i);
        int len = W, out = W - 1;
        s = pt_model_forward(m, run, x, &len, 1, W + 4, &out, 1, h, 0);
        CHECK(s == PT_OK, "a sequence of exactly the window (%d) refused: %s", W, pt_last_error());
        len = W + 1, out = W;
        s = pt_model_forward(m, run, x, &len, 1, W + 4, &out, 1, h, 0);
        const char *msg = pt_last_error();
        CHECK(s == PT_ERR_UNSUPPORTED && strstr(msg, "sliding window"),
              "a sequence of %d > window %d: status %d, \"%s\"", W + 1, W, s, msg);
        printf("  %d tokens -> %s\n", W + 1, msg);
        /* decoding: the window's tokens in pieces, then one more is refused */
        pt_cache *cache = NULL;
        s = pt_cache_new(m, W + 4, &cache);
        CHECK(s == PT_OK, "cache_new: %s", pt_last_error());
        if (!s) {
            s = pt_cache_decode(m, cache, x, W - 1, h);
            if (!s) s = pt_cache_decode(m, cache, x + (size_t)(W - 1) * C, 1, h);
            CHECK(s == PT_OK, "decoding %d tokens refused: %s", W, pt_last_error());
            s = pt_cache_decode(m, cache, x + (size_t)W * C, 1, h);
            msg = pt_last_error();
            CHECK(s == PT_ERR_UNSUPPORTED && strstr(msg, "sliding window"),
                  "decoding token %d > window %d: status %d, \"%s\"", W + 1, W, s, msg);
            printf("  decoding token %d -> %s\n", W + 1, msg);
        }
        pt_cache_free(cache);
        free(x);
    }
    pt_run_free(run);
    pt_model_free(m);
}

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[4096];
    size_t n;
    CHECK(a && b, "copy %s -> %s", from, to);
    while (a && b && (n = fread(buf, 1, sizeof buf, a)) > 0) CHECK(fwrite(buf, 1, n, b) == n, "w");
    if (a) fclose(a);
    if (b) fclose(b);
}

static void check_pickle_refused(void) {
    printf("directory with only pytorch_model.bin\n");
    char dir[64], cfg[96], bin[96];
    snprintf(dir, sizeof dir, "/tmp/test_families_XXXXXX");
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dir);
    copy_file(FIX "/llama3_hf/config.json", cfg);
    FILE *f = fopen(bin, "wb");
    if (f) {
        fputs("PK\003\004 not really a pickle", f);
        fclose(f);
    }
    pt_model *m = NULL;
    pt_status s = pt_model_load(&m, dir);
    const char *msg = pt_last_error();
    CHECK(s != PT_OK && !m && strstr(msg, "pytorch_model.bin") && strstr(msg, "safetensors") &&
              strstr(msg, "code"),
          "status %d, message \"%s\"", s, msg);
    printf("  -> %s\n", msg);
    pt_model_free(m);
    unlink(bin);
    unlink(cfg);
    rmdir(dir);
}

int main(void) {
    if (pt_st_open(&ref, FIX "/ref.safetensors")) {
        fprintf(stderr, "FAIL: %s\n", pt_last_error());
        return 1;
    }
    ref_ints(NULL, "len", lens, B);
    ref_ints(NULL, "rows", rows, NR);
    ref_ints(NULL, "targets", targets, B);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lens[b]; t++) valid[n_valid++] = b * T + t;

    static result hf, other;
    for (int i = 0; i < N_CASES; i++) {
        const fam_case *fc = &CASES[i];
        check_model(fc, i, fc->hf, fc->hf_dtype, 1, &hf);
        if (fc->gguf) {
            check_model(fc, i, fc->gguf, fc->gguf_dtype, 1, &other);
            char what[96];
            snprintf(what, sizeof what, "%s: GGUF vs HF directory", fc->tag);
            same(what, fc, &hf, &other, 1e-5);
            /* ptune quantize HF_DIR OUT F32: the GGUF written from the HF directory, against
             * torch (check_model) and the HF directory */
            char conv[64];
            snprintf(conv, sizeof conv, "/tmp/ptune-fam-%d-%s.gguf", (int)getpid(), fc->tag);
            pt_quantize_stats qs;
            pt_status qst = pt_hf_to_gguf(fc->hf, conv, "F32", &qs);
            CHECK(qst == PT_OK, "%s: quantize HF -> GGUF: %s", fc->tag, pt_last_error());
            if (!qst) {
                check_model(fc, i, conv, "F32", 1, &other);
                snprintf(what, sizeof what, "%s: GGUF written by ptune quantize vs HF", fc->tag);
                same(what, fc, &hf, &other, 1e-6);
                if (!strcmp(fc->tag, "mistral")) check_sliding_window(conv);
            }
            remove(conv);
        }
        if (fc->sharded) {
            check_model(fc, i, fc->sharded, fc->hf_dtype, 0, &other);
            char what[96];
            snprintf(what, sizeof what, "%s: sharded vs single file (bitwise)", fc->tag);
            same(what, fc, &hf, &other, 0.0);
        }
    }
    check_sliding_window(FIX "/mistral_hf");
    check_sliding_window(FIX "/mistral.gguf");
    check_pickle_refused();
    printf("largest difference vs torch, relative to each tensor's scale:\n");
    for (int i = 0; i < N_CASES; i++) printf("  %-8s %.3g\n", CASES[i].tag, worst[i]);
    pt_st_close(&ref);
    return t_done();
}
