/* test_gpt2.c - GPT-2 forward, LM head and input-gradient backward against
 * PyTorch (tests/fixtures/gpt2, made by scripts/gen_gpt2_fixtures.py), a
 * finite-difference check through the whole model, and bad model files. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/io.h"
#include "core/vec.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "models/model.h"
#include "test.h"

#define FIX "tests/fixtures/gpt2"

static const float *ref_f32(const pt_st_file *f, const char *name, size_t *n) {
    const pt_st_tensor *t = pt_st_find(f, name);
    if (!t || t->dtype != PT_DTYPE_F32) {
        fprintf(stderr, "fixture tensor %s missing\n", name);
        exit(1);
    }
    if (n) *n = (size_t)t->numel;
    return (const float *)t->data;
}

static const int *ref_i32(const pt_st_file *f, const char *name, int *n) {
    const pt_st_tensor *t = pt_st_find(f, name);
    if (!t || t->dtype != PT_DTYPE_I32) {
        fprintf(stderr, "fixture tensor %s missing\n", name);
        exit(1);
    }
    if (n) *n = (int)t->numel;
    return (const int *)t->data;
}

/* loss = mean CE over targets of head logits (rows subset or full) at h. */
static double head_loss(pt_model *m, pt_run *run, const float *h, int n, const int *rows, int nr,
                        const int *tg, float *dh) {
    float *logits = malloc(sizeof(float) * n * nr), *loss = malloc(sizeof(float) * n);
    float *dlog = calloc((size_t)n * nr, sizeof(float));
    pt_model_head_forward(m, run, logits, h, n, rows, nr);
    double L = pt_crossentropy_forward_backward(loss, dlog, logits, tg, n, nr, 1.0f / n);
    if (dh) pt_model_head_backward(m, run, dh, dlog, h, n, rows, nr);
    free(logits);
    free(loss);
    free(dlog);
    return L;
}

static void check_model_against_ref(pt_model *m, const pt_st_file *ref, int full_checks) {
    const pt_model_config *c = &m->cfg;
    int C = c->dim, B, T = 7, n_out, nr, V = c->vocab_size;
    const int *lens = ref_i32(ref, "lens", &B);
    const int *out_idx = ref_i32(ref, "out_idx", &n_out);
    const int *rows = ref_i32(ref, "rows", &nr);
    const float *x = ref_f32(ref, "x", NULL);
    pt_run *run;
    CHECK(pt_run_new(m, B, T, &run) == PT_OK, "run_new: %s", pt_last_error());
    float *h = malloc(sizeof(float) * n_out * C);
    float *dh = calloc((size_t)n_out * C, sizeof(float));
    float *dx = malloc(sizeof(float) * B * T * C);
    float *logits = malloc(sizeof(float) * n_out * V);
    CHECK(pt_model_forward(m, run, x, lens, B, T, out_idx, n_out, h, 1) == PT_OK, "forward: %s",
          pt_last_error());
    t_close("final hidden h at outputs", h, ref_f32(ref, "h", NULL), (size_t)n_out * C, 1e-4, 1e-5);
    pt_model_head_forward(m, run, logits, h, n_out, NULL, V);
    t_close("logits, full vocabulary", logits, ref_f32(ref, "logits_full", NULL), (size_t)n_out * V,
            1e-4, 1e-4);
    pt_model_head_forward(m, run, logits, h, n_out, rows, nr);
    t_close("logits, label rows", logits, ref_f32(ref, "logits_sub", NULL), (size_t)n_out * nr,
            1e-4, 1e-4);

    /* label-rows loss and its input gradient */
    float L = (float)head_loss(m, run, h, n_out, rows, nr, ref_i32(ref, "targets_sub", NULL), dh);
    t_close("loss over label rows", &L, ref_f32(ref, "loss_sub", NULL), 1, 1e-5, 1e-6);
    CHECK(pt_model_backward(m, run, dh, dx) == PT_OK, "backward: %s", pt_last_error());
    t_close("d loss / d input embeddings (rows)", dx, ref_f32(ref, "dx_sub", NULL),
            (size_t)B * T * C, 1e-4, 2e-6);
    /* padded positions get exactly zero gradient */
    int nonzero = 0;
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++)
            for (int k = 0; k < C; k++) nonzero += dx[((size_t)b * T + t) * C + k] != 0.0f;
    CHECK(nonzero == 0, "%d gradient values at padded positions are non-zero", nonzero);

    if (full_checks) {
        /* full-vocabulary loss (knowledge probing) and its gradient */
        memset(dh, 0, sizeof(float) * n_out * C);
        L = (float)head_loss(m, run, h, n_out, NULL, V, ref_i32(ref, "targets_full", NULL), dh);
        t_close("loss over full vocabulary", &L, ref_f32(ref, "loss_full", NULL), 1, 1e-5, 1e-6);
        CHECK(pt_model_backward(m, run, dh, dx) == PT_OK, "backward: %s", pt_last_error());
        t_close("d loss / d input embeddings (full)", dx, ref_f32(ref, "dx_full", NULL),
                (size_t)B * T * C, 1e-4, 2e-6);

        /* forward without backward gives the same outputs */
        float *h2 = malloc(sizeof(float) * n_out * C);
        pt_model_forward(m, run, x, lens, B, T, out_idx, n_out, h2, 0);
        t_close("forward without saved activations", h2, h, (size_t)n_out * C, 0, 0);
        free(h2);

        /* finite differences through the whole model on a few inputs (double-checked
         * against the analytic gradient of the label-rows loss) */
        memset(dh, 0, sizeof(float) * n_out * C);
        pt_model_forward(m, run, x, lens, B, T, out_idx, n_out, h, 1);
        head_loss(m, run, h, n_out, rows, nr, ref_i32(ref, "targets_sub", NULL), dh);
        pt_model_backward(m, run, dh, dx);
        float *xp = malloc(sizeof(float) * B * T * C);
        int probe[] = {0, 5, 31, 1 * T * C + 3, 1 * T * C + 4 * C + 7, 2 * T * C + 2 * C + 1};
        float fd[6], an[6];
        for (int i = 0; i < 6; i++) {
            float eps = 1e-2f;
            memcpy(xp, x, sizeof(float) * B * T * C);
            xp[probe[i]] += eps;
            pt_model_forward(m, run, xp, lens, B, T, out_idx, n_out, h, 0);
            double lp =
                head_loss(m, run, h, n_out, rows, nr, ref_i32(ref, "targets_sub", NULL), NULL);
            xp[probe[i]] -= 2 * eps;
            pt_model_forward(m, run, xp, lens, B, T, out_idx, n_out, h, 0);
            double lm =
                head_loss(m, run, h, n_out, rows, nr, ref_i32(ref, "targets_sub", NULL), NULL);
            fd[i] = (float)((lp - lm) / (2 * eps));
            an[i] = dx[probe[i]];
        }
        t_close("finite differences vs backward", an, fd, 6, 2e-2, 2e-4);
        free(xp);
    }
    free(h);
    free(dh);
    free(dx);
    free(logits);
    pt_run_free(run);
}

/* Copy the tiny model into dir, rewriting tensors through the writer:
 * prefix added to names; `drop` omitted; config.json text replaced if cfg != NULL. */
static void make_variant(const char *dir, const char *prefix, const char *drop, const char *cfg) {
    mkdir(dir, 0755);
    pt_st_file f;
    if (pt_st_open(&f, FIX "/tiny/model.safetensors")) exit(1);
    pt_st_writer *w = pt_st_writer_new();
    for (int i = 0; i < f.n_tensors; i++) {
        const pt_st_tensor *t = &f.tensors[i];
        if (drop && !strcmp(t->name, drop)) continue;
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        pt_st_writer_add_f32(w, name, t->ndim, t->shape, (const float *)t->data);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (pt_st_writer_save(w, path)) exit(1);
    pt_st_writer_free(w);
    pt_st_close(&f);
    char *text;
    size_t len;
    if (pt_read_file(FIX "/tiny/config.json", &text, &len)) exit(1);
    snprintf(path, sizeof path, "%s/config.json", dir);
    pt_write_file_atomic(path, cfg ? cfg : text, cfg ? strlen(cfg) : len);
    free(text);
}

static void test_bad_inputs(void) {
    pt_model *m = NULL;
    pt_status s;
    char dir[] = "/tmp/ptune_gpt2_XXXXXX";
    if (!mkdtemp(dir)) exit(1);
    char sub[600];

    /* missing tensor */
    snprintf(sub, sizeof sub, "%s/missing", dir);
    make_variant(sub, "", "h.1.mlp.c_fc.bias", NULL);
    s = pt_model_load(&m, sub);
    printf("  missing tensor: %s\n", pt_last_error());
    CHECK(s != PT_OK && strstr(pt_last_error(), "h.1.mlp.c_fc.bias"), "missing tensor not named");

    /* config that disagrees with the tensor shapes */
    snprintf(sub, sizeof sub, "%s/shape", dir);
    make_variant(sub, "", NULL,
                 "{\"model_type\":\"gpt2\",\"n_embd\":48,\"n_layer\":2,\"n_head\":4,"
                 "\"n_positions\":64,\"vocab_size\":391}");
    s = pt_model_load(&m, sub);
    printf("  config vs shapes: %s\n", pt_last_error());
    CHECK(s != PT_OK && strstr(pt_last_error(), "wte.weight"), "shape mismatch not reported");

    /* config missing a key */
    snprintf(sub, sizeof sub, "%s/nokey", dir);
    make_variant(sub, "", NULL, "{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_head\":4}");
    s = pt_model_load(&m, sub);
    printf("  config without n_embd: %s\n", pt_last_error());
    CHECK(s != PT_OK && strstr(pt_last_error(), "n_embd"), "missing config key not named");

    /* truncated weights file */
    snprintf(sub, sizeof sub, "%s/trunc", dir);
    make_variant(sub, "", NULL, NULL);
    char st[700];
    snprintf(st, sizeof st, "%s/model.safetensors", sub);
    truncate(st, 100000);
    s = pt_model_load(&m, sub);
    printf("  truncated weights: %s\n", pt_last_error());
    CHECK(s != PT_OK && strstr(pt_last_error(), "model.safetensors"), "truncated file accepted");

    /* no model at all */
    s = pt_model_load(&m, "/nonexistent/model");
    printf("  nonexistent path: %s\n", pt_last_error());
    CHECK(s == PT_ERR_IO, "nonexistent path");

    /* a model directory without tokenizer files loads; the tokenizer is absent */
    snprintf(sub, sizeof sub, "%s/notok", dir);
    make_variant(sub, "", NULL, NULL);
    s = pt_model_load(&m, sub);
    CHECK(s == PT_OK && m && m->tok == NULL, "model without tokenizer: %s", pt_last_error());
    pt_model_free(m);
    m = NULL;

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
}

/* The real 50,257-token vocabulary (../shared's GPT-2 tokenizer) on a width-16
 * model: tests/fixtures/gpt2/realvocab.safetensors has every weight but wte,
 * which follows a formula both sides compute exactly; the tokenizer's ids, the
 * full-vocabulary loss, logits and d(loss)/dx come from PyTorch. */
static void test_realvocab(void) {
    const char *vj = t_shared("tokenizers/gpt2/vocab.json");
    const char *mt = t_shared("tokenizers/gpt2/merges.txt");
    if (!vj || !mt) {
        t_note_skip("real-vocabulary GPT-2 (../shared/tokenizers/gpt2 not found)");
        return;
    }
    pt_st_file ref;
    if (pt_st_open(&ref, FIX "/realvocab.safetensors")) exit(1);
    enum { V = 50257, C = 16 };
    char dir[] = "/tmp/ptune_gpt2rv_XXXXXX", path[700], cmd[1600];
    if (!mkdtemp(dir)) exit(1);
    pt_st_writer *w = pt_st_writer_new();
    float *wte = malloc(sizeof(float) * V * C);
    for (int64_t i = 0; i < V; i++)
        for (int64_t j = 0; j < C; j++)
            wte[i * C + j] = (float)((double)(((i * 7919 + j * 104729) % 2001) - 1000) / 4000.0);
    int64_t sh[2] = {V, C};
    pt_st_writer_add_f32(w, "wte.weight", 2, sh, wte);
    for (int i = 0; i < ref.n_tensors; i++) {
        const pt_st_tensor *t = &ref.tensors[i];
        if (!strncmp(t->name, "h.", 2) || !strcmp(t->name, "wpe.weight") ||
            !strncmp(t->name, "ln_f.", 5))
            pt_st_writer_add_f32(w, t->name, t->ndim, t->shape, (const float *)t->data);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(pt_st_writer_save(w, path) == PT_OK, "write: %s", pt_last_error());
    pt_st_writer_free(w);
    const char *cfg = "{\"model_type\":\"gpt2\",\"n_embd\":16,\"n_layer\":2,\"n_head\":2,"
                      "\"n_positions\":64,\"vocab_size\":50257}";
    snprintf(path, sizeof path, "%s/config.json", dir);
    pt_write_file_atomic(path, cfg, strlen(cfg));
    snprintf(
        cmd, sizeof cmd,
        "ln -s \"$(realpath '%s')\" '%s/vocab.json' && ln -s \"$(realpath '%s')\" '%s/merges.txt'",
        vj, dir, mt, dir);
    CHECK(system(cmd) == 0, "linking the tokenizer files");
    pt_model *m = NULL;
    CHECK(pt_model_load(&m, dir) == PT_OK, "load: %s", pt_last_error());
    if (m && m->tok) {
        printf("GPT-2, real 50,257-token vocabulary, width 16:\n");
        const char *text = pt_st_meta(&ref, "text");
        pt_ivec ids = {0};
        pt_tok_encode(m->tok, text, strlen(text), 0, &ids);
        int n_ref;
        const int *rids = ref_i32(&ref, "ids", &n_ref);
        CHECK((int)ids.n == n_ref && !memcmp(ids.v, rids, sizeof(int) * n_ref),
              "token ids of \"%s\" differ from the Python BPE's", text);
        int T = n_ref, n_out, nr;
        const int *out_idx = ref_i32(&ref, "out_idx", &n_out);
        const int *rows = ref_i32(&ref, "rows", &nr);
        float *x = malloc(sizeof(float) * T * C), *dx = malloc(sizeof(float) * T * C);
        float *h = malloc(sizeof(float) * n_out * C),
              *dh = calloc((size_t)n_out * C, sizeof(float));
        float *logits = malloc(sizeof(float) * n_out * V),
              *lr = calloc((size_t)n_out * nr, sizeof(float));
        pt_model_embed(m, x, rids, T);
        pt_run *run;
        pt_run_new(m, 1, T, &run);
        pt_model_forward(m, run, x, &T, 1, T, out_idx, n_out, h, 1);
        pt_model_head_forward(m, run, logits, h, n_out, NULL, V);
        for (int i = 0; i < n_out; i++)
            for (int k = 0; k < nr; k++) lr[i * nr + k] = logits[(size_t)i * V + rows[k]];
        t_close("logits at chosen rows (of 50,257)", lr, ref_f32(&ref, "logits_rows", NULL),
                (size_t)n_out * nr, 1e-4, 1e-5);
        const int *am = ref_i32(&ref, "argmax", NULL);
        for (int i = 0; i < n_out; i++) {
            int best = 0;
            for (int v = 1; v < V; v++)
                if (logits[(size_t)i * V + v] > logits[(size_t)i * V + best]) best = v;
            CHECK(best == am[i], "argmax over the vocabulary: %d, PyTorch %d", best, am[i]);
        }
        float L = (float)head_loss(m, run, h, n_out, NULL, V, ref_i32(&ref, "targets", NULL), dh);
        t_close("full-vocabulary loss", &L, ref_f32(&ref, "loss", NULL), 1, 1e-5, 1e-6);
        pt_model_backward(m, run, dh, dx);
        t_close("d loss / d input embeddings", dx, ref_f32(&ref, "dx", NULL), (size_t)T * C, 1e-4,
                2e-6);
        pt_run_free(run);
        free(x), free(dx), free(h), free(dh), free(logits), free(lr);
        pt_ivec_free(&ids);
    }
    pt_model_free(m);
    free(wte);
    pt_st_close(&ref);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
}

int main(void) {
    pt_st_file ref;
    if (pt_st_open(&ref, FIX "/ref.safetensors")) {
        fprintf(stderr, "cannot open fixture: %s\n", pt_last_error());
        return 1;
    }
    pt_model *m = NULL;
    CHECK(pt_model_load(&m, FIX "/tiny") == PT_OK, "load: %s", pt_last_error());
    if (!m) return t_done();
    CHECK(m->cfg.family == PT_FAMILY_GPT2 && m->cfg.dim == 32 && m->cfg.n_layers == 2 &&
              m->cfg.n_heads == 4 && m->cfg.max_pos == 64,
          "config read wrong");
    CHECK(m->tok != NULL, "tokenizer not found: %s", pt_last_error());
    printf("GPT-2 tiny (directory, no prefix):\n");
    check_model_against_ref(m, &ref, 1);
    pt_model_free(m);

    /* the same weights under "transformer." names, loaded from the .safetensors path */
    char dir[] = "/tmp/ptune_gpt2p_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    make_variant(dir, "transformer.", NULL, NULL);
    char st[600];
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    CHECK(pt_model_load(&m, st) == PT_OK, "load prefixed: %s", pt_last_error());
    if (m) {
        printf("GPT-2 tiny (transformer. prefix, file path):\n");
        check_model_against_ref(m, &ref, 0);
        pt_model_free(m);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");

    test_realvocab();
    printf("bad model files:\n");
    test_bad_inputs();
    pt_st_close(&ref);
    return t_done();
}
