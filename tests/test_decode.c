/* test_decode.c - incremental decoding with a key/value cache.
 *
 * Kernels: pt_rope_forward_at against pt_rope_forward, pt_attention_decode
 * against a naive double-precision attention and against the last rows of
 * pt_attention_forward (causal).
 * Models (tiny GPT-2, tiny LLaMA as GGUF and as a Hugging Face directory):
 * decoding a sequence one token at a time and in chunks gives the final hidden
 * states and logits of the full forward at every position; cache_reset then
 * re-decoding gives bit-identical results; overflowing the cache is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "kernels/kernels.h"
#include "models/model.h"
#include "test.h"

static void fill_normal(float *x, size_t n, pt_rng *r, float s) {
    for (size_t i = 0; i < n; i++) x[i] = s * pt_rng_normal(r);
}

static void test_rope_at(void) {
    printf("rope_forward_at\n");
    enum { T = 13, NHX = 3, HS = 8, STRIDE = 30 };
    pt_rng r;
    pt_rng_seed(&r, 1);
    float x[T * STRIDE], full[T * STRIDE], at[T * STRIDE];
    fill_normal(x, T * STRIDE, &r, 1.0f);
    memcpy(full, x, sizeof x);
    memcpy(at, x, sizeof x);
    pt_rope_forward(full, STRIDE, 1, T, NHX, HS, 10000.0f);
    /* rows [0, 5) at pos0 0, rows [5, 6) at 5, rows [6, T) at 6 */
    pt_rope_forward_at(at, STRIDE, 5, NHX, HS, 10000.0f, 0);
    pt_rope_forward_at(at + 5 * STRIDE, STRIDE, 1, NHX, HS, 10000.0f, 5);
    pt_rope_forward_at(at + 6 * STRIDE, STRIDE, T - 6, NHX, HS, 10000.0f, 6);
    t_close("rope_at vs rope (split rows)", at, full, T * STRIDE, 0, 0);
    /* the untouched tail of each row (stride > NHX*HS) stays as it was */
    int same = 1;
    for (int t = 0; t < T; t++)
        for (int c = NHX * HS; c < STRIDE; c++) same &= at[t * STRIDE + c] == x[t * STRIDE + c];
    CHECK(same, "rope_at wrote outside the heads");
}

/* naive causal attention of rows pos0 .. pos0+n-1 in double */
static void attn_naive(float *out, const float *q, const float *k, const float *v, int qs, int kvs,
                       int n, int pos0, int NH, int NKV, int HS, float scale) {
    for (int i = 0; i < n; i++)
        for (int h = 0; h < NH; h++) {
            int kh = h / (NH / NKV), nk = pos0 + i + 1;
            double s[256], mx = -1e300, z = 0;
            for (int j = 0; j < nk; j++) {
                double d = 0;
                for (int c = 0; c < HS; c++)
                    d += (double)q[i * qs + h * HS + c] * k[j * kvs + kh * HS + c];
                s[j] = d * scale;
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int j = 0; j < nk; j++) z += s[j] = exp(s[j] - mx);
            for (int c = 0; c < HS; c++) {
                double o = 0;
                for (int j = 0; j < nk; j++) o += s[j] / z * v[j * kvs + kh * HS + c];
                out[(i * NH + h) * HS + c] = (float)o;
            }
        }
}

static void test_attention_decode(void) {
    printf("attention_decode\n");
    enum { NH = 4, NKV = 2, HS = 8, T = 19, QS = NH * HS + 3, KVS = NKV * HS + 5 };
    pt_rng r;
    pt_rng_seed(&r, 2);
    static float q[T * QS], k[T * KVS], v[T * KVS], out[T * NH * HS], ref[T * NH * HS],
        full[T * NH * HS], att[NH * T * T];
    fill_normal(q, T * QS, &r, 1.0f);
    fill_normal(k, T * KVS, &r, 1.0f);
    fill_normal(v, T * KVS, &r, 1.0f);
    float scale = 1.0f / sqrtf((float)HS);
    int cases[][2] = {{0, 1}, {0, T}, {7, 1}, {12, 7}, {T - 1, 1}}; /* (pos0, n) */
    int len[1] = {T};
    pt_attention_forward(full, att, q, k, v, QS, KVS, len, 1, T, NH, NKV, HS, 1, scale);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int pos0 = cases[c][0], n = cases[c][1];
        char what[80];
        pt_attention_decode(out, q + pos0 * QS, k, v, QS, KVS, n, pos0, NH, NKV, HS, scale);
        attn_naive(ref, q + pos0 * QS, k, v, QS, KVS, n, pos0, NH, NKV, HS, scale);
        snprintf(what, sizeof what, "pos0 %d n %d vs naive (double)", pos0, n);
        t_close(what, out, ref, (size_t)n * NH * HS, 1e-5, 1e-6);
        snprintf(what, sizeof what, "pos0 %d n %d vs attention_forward", pos0, n);
        t_close(what, out, full + pos0 * NH * HS, (size_t)n * NH * HS, 1e-5, 1e-6);
    }
}

/* Decode x (T, C) through a fresh cache in chunks of the given sizes (cycled);
 * h (T, C) gets the final hidden state at each chunk's last row (other rows
 * untouched). Returns the number of chunks. */
static int decode_chunks(const pt_model *m, pt_cache *cache, const float *x, int T,
                         const int *sizes, int ns, float *h) {
    int C = m->cfg.dim, t = 0, k = 0;
    while (t < T) {
        int n = sizes[k % ns] < T - t ? sizes[k % ns] : T - t;
        pt_status s = pt_cache_decode(m, cache, x + (size_t)t * C, n, h + (size_t)(t + n - 1) * C);
        CHECK(s == PT_OK, "decode: %s", pt_last_error());
        if (s) return k;
        t += n, k++;
    }
    return k;
}

static void test_model(const char *path, int T) {
    printf("%s\n", path);
    pt_model *m = NULL;
    if (pt_model_load(&m, path)) {
        CHECK(0, "load %s: %s", path, pt_last_error());
        return;
    }
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    CHECK(m->cfg.causal, "causal model expected");
    pt_rng r;
    pt_rng_seed(&r, 3);
    float *x = malloc(sizeof(float) * T * C), *hf = malloc(sizeof(float) * T * C);
    float *h1 = calloc((size_t)T * C, sizeof(float)), *hc = calloc((size_t)T * C, sizeof(float));
    float *hr = calloc((size_t)T * C, sizeof(float));
    float *lf = malloc(sizeof(float) * T * V), *l1 = malloc(sizeof(float) * T * V);
    int *ids = malloc(sizeof(int) * T), *oi = malloc(sizeof(int) * T);
    /* word embeddings of random ids, a few rows replaced by random vectors (virtual tokens) */
    for (int t = 0; t < T; t++) ids[t] = (int)pt_rng_below(&r, (uint64_t)V), oi[t] = t;
    CHECK(pt_model_embed(m, x, ids, T) == PT_OK, "embed");
    for (int t = 1; t < T; t += 5) fill_normal(x + (size_t)t * C, C, &r, 0.5f);

    pt_run *run = NULL;
    pt_cache *cache = NULL;
    CHECK(pt_run_new(m, 1, T, &run) == PT_OK, "run_new: %s", pt_last_error());
    int len[1] = {T};
    CHECK(pt_model_forward(m, run, x, len, 1, T, oi, T, hf, 0) == PT_OK, "forward: %s",
          pt_last_error());
    CHECK(pt_cache_new(m, T, &cache) == PT_OK, "cache_new: %s", pt_last_error());

    /* one token at a time: every position */
    int one[1] = {1};
    decode_chunks(m, cache, x, T, one, 1, h1);
    t_close("one at a time vs forward: hidden", h1, hf, (size_t)T * C, 1e-4, 1e-5);
    pt_model_head_forward(m, run, lf, hf, T, NULL, V);
    pt_model_head_forward(m, run, l1, h1, T, NULL, V);
    t_close("one at a time vs forward: logits", l1, lf, (size_t)T * V, 1e-4, 1e-5);

    /* chunks (sizes cycle; 70 exercises the internal 64-row chunking) */
    int sizes[] = {3, 1, 70, 5, 2};
    pt_cache_reset(cache, 0);
    int nch = decode_chunks(m, cache, x, T, sizes, 5, hc);
    float *got = malloc(sizeof(float) * nch * C), *want = malloc(sizeof(float) * nch * C);
    int k = 0;
    for (int t = 0, j = 0; t < T; j++) {
        int n = sizes[j % 5] < T - t ? sizes[j % 5] : T - t;
        memcpy(got + (size_t)k * C, hc + (size_t)(t + n - 1) * C, sizeof(float) * C);
        memcpy(want + (size_t)k * C, hf + (size_t)(t + n - 1) * C, sizeof(float) * C);
        t += n, k++;
    }
    char what[80];
    snprintf(what, sizeof what, "chunks (%d) vs forward: hidden", nch);
    t_close(what, got, want, (size_t)nch * C, 1e-4, 1e-5);

    /* reset to a prefix and decode the rest again, one at a time: bit-identical */
    int P = T / 3;
    pt_cache_reset(cache, 0);
    decode_chunks(m, cache, x, P, one, 1, hr);
    pt_cache_reset(cache, P);
    decode_chunks(m, cache, x + (size_t)P * C, T - P, one, 1, hr + (size_t)P * C);
    CHECK(!memcmp(hr, h1, sizeof(float) * T * C), "reset + re-decode differs from the first pass");
    /* and a reset with a different continuation followed by the original one */
    pt_cache_reset(cache, P);
    decode_chunks(m, cache, hf, T - P, one, 1, hr + (size_t)P * C); /* other inputs */
    pt_cache_reset(cache, P);
    decode_chunks(m, cache, x + (size_t)P * C, T - P, one, 1, hr + (size_t)P * C);
    CHECK(!memcmp(hr, h1, sizeof(float) * T * C),
          "reset after another continuation differs from the first pass");
    printf("  reset to %d and re-decode: %s\n", P,
           memcmp(hr, h1, sizeof(float) * T * C) ? "DIFFERENT" : "bit-identical");

    /* the cache is full: one more token is an error, not a write past the end */
    pt_status s = pt_cache_decode(m, cache, x, 1, hr);
    CHECK(s != PT_OK, "decode past Tmax accepted");
    if (s) printf("  overflow: %s\n", pt_last_error());
    pt_cache *big = NULL;
    CHECK(pt_cache_new(m, m->cfg.max_pos + 1, &big) != PT_OK, "cache longer than the context");

    pt_cache_free(cache);
    pt_run_free(run);
    free(x), free(hf), free(h1), free(hc), free(hr), free(lf), free(l1), free(ids), free(oi);
    free(got), free(want);
    pt_model_free(m);
}

int main(void) {
    test_rope_at();
    test_attention_decode();
    test_model("tests/fixtures/gpt2/tiny", 64);
    test_model("tests/fixtures/llama/tiny.gguf", 100);
    test_model("tests/fixtures/llama/tiny_hf", 100);
    test_model("tests/fixtures/llama/tiny_tied.gguf", 37);
    return t_done();
}
