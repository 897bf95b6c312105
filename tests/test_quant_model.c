/* test_quant_model.c - a tiny LLaMA kept quantized: for each type (Q4_0 ...
 * Q6_K and the Q4_K_M mix) the model loads with its matrices left in the
 * file mapping as stored (nothing owned but the float32 norms), and the loss,
 * the scores and the gradient of the prompt table over three batches equal
 * those of the same model dequantized to F32 in the file (ptune quantize to
 * F32 of the quantized file) within 1e-5 of each tensor's largest value.
 *
 * The model (width 256, 2 layers, 4 heads / 2 key-value heads, FFN 512, so
 * that every matrix has rows of whole 256-element K blocks) is written by the
 * test with random weights, with the tokenizer and other keys of
 * tests/fixtures/llama/tiny.gguf. Also: a refused type is named with its
 * tensor at load, and the writer's F32 output reads back bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "models/model.h"
#include "models/quantize.h"
#include "prompt/task.h"
#include "train/dataset.h"
#include "train/engine.h"
#include "test.h"

#define TINY "tests/fixtures/llama/tiny.gguf"
#define DATA "tests/fixtures/learn/dev.jsonl"
#define TOL 1e-5

enum { C = 256, L = 2, H = 4, KVH = 2, F = 512, KV = C / H * KVH };

typedef struct gen {
    int rows[64], cols[64];
    float scale[64], base[64];
    uint64_t seed;
} gen;

static pt_status gen_row(void *ctx, int index, int r, float *dst) {
    gen *g = ctx;
    pt_rng rng;
    pt_rng_seed(&rng, g->seed * 1000003u + (uint64_t)index * 65537u + (uint64_t)r);
    for (int i = 0; i < g->cols[index]; i++)
        dst[i] = g->base[index] + g->scale[index] * pt_rng_normal(&rng);
    return PT_OK;
}

/* the source model: F32, every key of tiny.gguf, new sizes */
static int write_source(const char *path, gen *g) {
    pt_gguf t;
    if (pt_gguf_open(&t, TINY)) {
        CHECK(0, "%s", pt_last_error());
        return 0;
    }
    int64_t V = 0;
    for (int64_t i = 0; i < t.n_tensors; i++)
        if (!strcmp(t.tensors[i].name, "token_embd.weight")) V = t.tensors[i].ne[1];
    pt_gguf_writer *w = pt_gguf_writer_new();
    pt_status s = PT_OK;
    for (int64_t i = 0; i < t.n_kv && !s; i++) s = pt_gguf_writer_copy_kv(w, &t.kv[i]);
    if (!s) s = pt_gguf_writer_u32(w, "llama.embedding_length", C);
    if (!s) s = pt_gguf_writer_u32(w, "llama.block_count", L);
    if (!s) s = pt_gguf_writer_u32(w, "llama.feed_forward_length", F);
    if (!s) s = pt_gguf_writer_u32(w, "llama.attention.head_count", H);
    if (!s) s = pt_gguf_writer_u32(w, "llama.attention.head_count_kv", KVH);
    if (!s) s = pt_gguf_writer_u32(w, "llama.rope.dimension_count", C / H);
    int n = 0;
#define ADD(name, r, c, sc, b)                                                                     \
    do {                                                                                           \
        g->rows[n] = (r), g->cols[n] = (c), g->scale[n] = (sc), g->base[n] = (b);                  \
        if (!s) s = pt_gguf_writer_tensor(w, name, PT_WT_F32, (r), (c), gen_row, g);               \
        n++;                                                                                       \
    } while (0)
    ADD("token_embd.weight", (int)V, C, 1.0f, 0.0f);
    char nm[64];
    for (int l = 0; l < L; l++) {
        float sm = 1.0f / sqrtf((float)C);
        snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", l);
        ADD(nm, 0, C, 0.1f, 1.0f);
        snprintf(nm, sizeof nm, "blk.%d.attn_q.weight", l);
        ADD(nm, C, C, 2 * sm, 0.0f);
        snprintf(nm, sizeof nm, "blk.%d.attn_k.weight", l);
        ADD(nm, KV, C, 2 * sm, 0.0f);
        snprintf(nm, sizeof nm, "blk.%d.attn_v.weight", l);
        ADD(nm, KV, C, sm, 0.0f);
        snprintf(nm, sizeof nm, "blk.%d.attn_output.weight", l);
        ADD(nm, C, C, sm, 0.0f);
        snprintf(nm, sizeof nm, "blk.%d.ffn_norm.weight", l);
        ADD(nm, 0, C, 0.1f, 1.0f);
        snprintf(nm, sizeof nm, "blk.%d.ffn_gate.weight", l);
        ADD(nm, F, C, sm, 0.0f);
        snprintf(nm, sizeof nm, "blk.%d.ffn_up.weight", l);
        ADD(nm, F, C, sm, 0.0f);
        snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", l);
        ADD(nm, C, F, sm, 0.0f);
    }
    ADD("output_norm.weight", 0, C, 0.1f, 1.0f);
    ADD("output.weight", (int)V, C, 1.0f / sqrtf((float)C), 0.0f);
#undef ADD
    if (!s) s = pt_gguf_writer_write(w, path);
    CHECK(s == PT_OK, "write %s: %s", path, pt_last_error());
    pt_gguf_writer_free(w);
    pt_gguf_close(&t);
    return s == PT_OK;
}

static void close_norm(const char *what, const float *got, const float *want, size_t n) {
    double mx = 0, d = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)got[i] - want[i]));
    if (!(d == d)) d = INFINITY;
    printf("    %-34s max abs diff %.3g, relative to max |value| %.3g: %.3g%s\n", what, d, mx,
           mx > 0 ? d / mx : d, d <= TOL * mx ? "" : "  <-- FAIL");
    CHECK(d <= TOL * mx, "%s: %g > %g * %g", what, d, TOL, mx);
}

typedef struct outcome {
    double loss;
    float *scores, *dtable;
} outcome;

/* loss, scores and prompt gradient of 3 batches of 8 through `path` */
static int run_model(const char *path, const char *tmpl, const float *table_in, outcome *o,
                     int expect_quant, int *S_out, int *ns_out) {
    pt_model *m = NULL;
    pt_task t;
    pt_dataset d;
    pt_examples ex;
    if (pt_model_load(&m, path)) {
        CHECK(0, "%s", pt_last_error());
        return 0;
    }
    size_t owned, mapped;
    pt_model_memory(m, &owned, &mapped);
    if (expect_quant) {
        CHECK(pt_model_is_quantized(m), "%s: no quantized weight", path);
        /* only the float32 norms are owned (5 of C floats) */
        CHECK(owned <= (size_t)(2 * L + 1) * C * 4, "%s: %zu bytes owned (copied)", path, owned);
    }
    int ok = 0;
    if (pt_task_init(&t, m, tmpl, PT_TASK_CLASSIFY, PT_HEAD_LM, "animal:cat,fruit:mat", "label")) {
        CHECK(0, "task: %s", pt_last_error());
        pt_model_free(m);
        return 0;
    }
    CHECK(pt_dataset_load(&d, DATA) == PT_OK, "%s", pt_last_error());
    CHECK(pt_examples_build(&ex, &t, m, &d, 1, 0) == PT_OK, "%s", pt_last_error());
    int S = t.tmpl.n_virtual, ns = pt_task_n_scores(&t, m);
    *S_out = S, *ns_out = ns;
    o->scores = calloc((size_t)24 * ns, sizeof(float));
    o->dtable = calloc((size_t)S * C, sizeof(float));
    pt_engine e;
    if (pt_engine_init(&e, m, &t, 8, ex.max_len) == PT_OK) {
        const pt_example *batch[8];
        o->loss = 0;
        ok = 1;
        for (int step = 0; step < 3 && ok; step++) {
            for (int j = 0; j < 8; j++) batch[j] = &ex.ex[(step * 8 + j) % ex.n];
            double loss;
            if (pt_engine_run(&e, batch, 8, table_in, NULL, NULL, &loss, NULL, o->dtable, NULL,
                              NULL)) {
                CHECK(0, "run: %s", pt_last_error());
                ok = 0;
                break;
            }
            o->loss += loss;
            memcpy(o->scores + (size_t)step * 8 * ns, e.scores, sizeof(float) * 8 * ns);
        }
        pt_engine_free(&e);
    } else {
        CHECK(0, "engine: %s", pt_last_error());
    }
    pt_examples_free(&ex);
    pt_dataset_free(&d);
    pt_task_free(&t);
    pt_model_free(m);
    return ok;
}

/* a refused type in the file: named with its tensor at open */
static void test_refused(const char *dir, const char *src) {
    char path[512];
    snprintf(path, sizeof path, "%s/iq.gguf", dir);
    pt_mapped mp;
    CHECK(pt_map_file(src, &mp) == PT_OK, "map");
    pt_gguf g;
    CHECK(pt_gguf_open(&g, src) == PT_OK, "open");
    /* the tensor info type field of blk.0.attn_q.weight: patch it in a copy */
    unsigned char *b = malloc(mp.size);
    memcpy(b, mp.data, mp.size);
    const char *nm = "blk.0.attn_q.weight";
    size_t ln = strlen(nm);
    int patched = 0;
    for (size_t i = 8; i + ln + 8 < mp.size && !patched; i++)
        if (!memcmp(b + i, nm, ln) && b[i - 8] == ln) { /* u64 length, name, u32 n_dims, ne[] */
            unsigned char *p = b + i + ln + 4 + 16;     /* 2 dims */
            p[0] = 16, p[1] = p[2] = p[3] = 0;          /* IQ2_XXS */
            patched = 1;
        }
    CHECK(patched, "found the tensor info");
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, mp.size, f);
    fclose(f);
    pt_model *m = NULL;
    pt_status s = pt_model_load(&m, path);
    const char *err = pt_last_error();
    printf("  refused: %s\n", err);
    CHECK(s != PT_OK && strstr(err, "blk.0.attn_q.weight") && strstr(err, "IQ2_XXS"),
          "IQ2_XXS tensor not refused by name: %s", err);
    pt_model_free(m);
    free(b);
    pt_gguf_close(&g);
    pt_unmap(&mp);
    unlink(path);
}

int main(void) {
    char dir[] = "/tmp/ptune_qmodel_XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "FAIL: mkdtemp\n");
        return 1;
    }
    char src[512], q[512], deq[512];
    snprintf(src, sizeof src, "%s/src.gguf", dir);
    gen g = {.seed = 42};
    if (!write_source(src, &g)) return t_done();
    /* the writer's F32 tensors read back exactly */
    {
        pt_gguf r;
        CHECK(pt_gguf_open(&r, src) == PT_OK, "reopen: %s", pt_last_error());
        const pt_gguf_tensor *t = pt_gguf_find_tensor(&r, "blk.1.ffn_down.weight");
        float *want = malloc(sizeof(float) * F), *got = malloc(sizeof(float) * (size_t)C * F);
        CHECK(t && t->ne[0] == F && t->ne[1] == C && pt_gguf_tensor_to_f32(t, got) == PT_OK,
              "ffn_down read back");
        int idx = 1 + 9 * 1 + 8, bad = 0; /* token_embd, layer 0's 9, layer 1's ffn_down */
        for (int row = 0; row < C; row++) {
            gen_row(&g, idx, row, want);
            bad += memcmp(want, got + (size_t)row * F, sizeof(float) * F) != 0;
        }
        CHECK(bad == 0, "%d rows of blk.1.ffn_down.weight differ from what was written", bad);
        free(want), free(got);
        pt_gguf_close(&r);
    }
    test_refused(dir, src);
    const char *types[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",  "Q2_K",
                           "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M"};
    const char *tmpl = "[P*3] {sentence} [P*2] It is a [MASK]";
    pt_rng r;
    pt_rng_seed(&r, 9);
    float *table = malloc(sizeof(float) * 5 * C); // (S, C)
    for (int i = 0; i < 5 * C; i++) table[i] = 0.5f * pt_rng_normal(&r);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        snprintf(q, sizeof q, "%s/%s.gguf", dir, types[k]);
        snprintf(deq, sizeof deq, "%s/%s_f32.gguf", dir, types[k]);
        pt_quantize_stats st;
        CHECK(pt_gguf_quantize(src, q, types[k], &st) == PT_OK, "quantize %s: %s", types[k],
              pt_last_error());
        CHECK(pt_gguf_quantize(q, deq, "F32", NULL) == PT_OK, "dequantize %s: %s", types[k],
              pt_last_error());
        printf("  %-6s %d tensors, %llu bytes (%d Q6_K, %d F32), fallbacks %d\n", types[k],
               st.n_tensors, st.bytes, st.by_type[PT_WT_Q6_K], st.by_type[PT_WT_F32],
               st.n_fallback);
        CHECK(st.n_fallback == 0, "%s: %d fallbacks", types[k], st.n_fallback);
        if (!strcmp(types[k], "Q4_K_M"))
            /* output.weight, layer 1's attn_v and ffn_down (the last eighth) */
            CHECK(st.by_type[PT_WT_Q6_K] == 3 && st.by_type[PT_WT_Q4_K] == 13,
                  "Q4_K_M mix: %d Q6_K, %d Q4_K", st.by_type[PT_WT_Q6_K], st.by_type[PT_WT_Q4_K]);
        outcome a = {0}, b = {0};
        int S = 0, ns = 0, S2 = 0, ns2 = 0;
        int ok = run_model(q, tmpl, table, &a, 1, &S, &ns) &&
                 run_model(deq, tmpl, table, &b, 0, &S2, &ns2);
        if (ok && S == S2 && ns == ns2 && S <= 5) {
            printf("   loss %.6f (dequantized F32 file %.6f)\n", a.loss / 3, b.loss / 3);
            float la = (float)a.loss, lb = (float)b.loss;
            close_norm("loss: quantized vs F32 file", &la, &lb, 1);
            close_norm("scores: quantized vs F32 file", a.scores, b.scores, (size_t)24 * ns);
            close_norm("d loss / d prompt: quantized vs F32", a.dtable, b.dtable, (size_t)S * C);
        } else {
            CHECK(0, "%s: runs failed", types[k]);
        }
        free(a.scores), free(a.dtable), free(b.scores), free(b.dtable);
        unlink(q);
        unlink(deq);
    }
    free(table);
    unlink(src);
    rmdir(dir);
    return t_done();
}
