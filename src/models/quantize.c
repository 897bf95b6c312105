/* quantize.c - GGUF -> GGUF in another type or mix (quantize.h). */
#include "models/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "models/family.h"
#include "models/model.h"
#include "tokenizers/tokenizer.h"

typedef struct qplan {
    pt_wtype base; /* every matrix, unless more bits */
    int mix;       /* 1: the _M rule (Q6_K for some tensors) */
    int all;       /* 1: float target, every tensor in base (1-D ones too) */
    int ftype;     /* llama.cpp's general.file_type value */
} qplan;

static int parse_plan(const char *type, qplan *p) {
    static const struct {
        const char *name;
        pt_wtype base;
        int mix, ftype;
    } T[] = {
        {"F32", PT_WT_F32, 0, 0},      {"F16", PT_WT_F16, 0, 1},      {"BF16", PT_WT_BF16, 0, 32},
        {"Q4_0", PT_WT_Q4_0, 0, 2},    {"Q4_1", PT_WT_Q4_1, 0, 3},    {"Q5_0", PT_WT_Q5_0, 0, 8},
        {"Q5_1", PT_WT_Q5_1, 0, 9},    {"Q8_0", PT_WT_Q8_0, 0, 7},    {"Q2_K", PT_WT_Q2_K, 0, 10},
        {"Q3_K", PT_WT_Q3_K, 0, 11},   {"Q4_K", PT_WT_Q4_K, 0, 14},   {"Q5_K", PT_WT_Q5_K, 0, 16},
        {"Q6_K", PT_WT_Q6_K, 0, 18},   {"Q4_K_M", PT_WT_Q4_K, 1, 15}, {"Q5_K_M", PT_WT_Q5_K, 1, 17},
        {"Q4_K_S", PT_WT_Q4_K, 0, 14}, {"Q5_K_S", PT_WT_Q5_K, 0, 16}, {"Q3_K_S", PT_WT_Q3_K, 0, 11},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (!strcmp(T[i].name, type)) {
            p->base = T[i].base;
            p->mix = T[i].mix;
            p->all = T[i].base == PT_WT_F32;
            p->ftype = T[i].ftype;
            return 1;
        }
    return 0;
}

int pt_quantize_type_ok(const char *type) {
    qplan p;
    return parse_plan(type, &p);
}

/* layer of "blk.N.*", or -1 */
static int layer_of(const char *name) {
    if (strncmp(name, "blk.", 4)) return -1;
    char *end;
    long l = strtol(name + 4, &end, 10);
    return end != name + 4 && *end == '.' && l >= 0 && l < 100000 ? (int)l : -1;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* llama.cpp's use_more_bits: first and last eighth, every third between */
static int more_bits(int l, int n) {
    return l < n / 8 || l >= 7 * n / 8 || (l - n / 8) % 3 == 2;
}

static pt_wtype choose(const qplan *p, const char *name, int n_dims, int64_t ne0, int n_layer,
                       int *fallback) {
    if (p->all) return p->base;
    if (n_dims == 1) return PT_WT_F32;
    pt_wtype want = p->base;
    if (p->mix) {
        int l = layer_of(name);
        if (!strcmp(name, "output.weight") ||
            (l >= 0 && (ends_with(name, ".attn_v.weight") || ends_with(name, ".ffn_down.weight")) &&
             more_bits(l, n_layer)))
            want = PT_WT_Q6_K;
    }
    if (ne0 % pt_wtype_get(want)->block == 0) return want;
    *fallback += 1;
    return ne0 % 32 == 0 ? PT_WT_Q8_0 : PT_WT_F32;
}

typedef struct src_ctx {
    const pt_gguf *g;
    const int *src; /* writer tensor index -> source tensor index */
} src_ctx;

static pt_status src_row(void *ctx, int index, int r, float *dst) {
    const src_ctx *c = ctx;
    const pt_gguf_tensor *t = &c->g->tensors[c->src[index]];
    int wt = pt_wtype_from_ggml(t->type);
    size_t rb = pt_wtype_row_bytes((pt_wtype)wt, t->ne[0]);
    pt_dequant_row((pt_wtype)wt, dst, t->data + (size_t)r * rb, t->ne[0]);
    return PT_OK;
}

pt_status pt_gguf_quantize(const char *in, const char *out, const char *type,
                           pt_quantize_stats *stats) {
    qplan p;
    if (!parse_plan(type, &p))
        return pt_fail(PT_ERR_ARG,
                       "unknown type \"%s\" (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, "
                       "Q3_K, Q4_K, Q5_K, Q6_K, Q4_K_M, Q5_K_M)",
                       type);
    pt_quantize_stats st;
    memset(&st, 0, sizeof st);
    pt_gguf g;
    pt_status s = pt_gguf_open(&g, in);
    if (s) return s;
    pt_gguf_writer *w = pt_gguf_writer_new();
    int *src = malloc(sizeof(int) * (size_t)(g.n_tensors + 1));
    src_ctx ctx = {&g, src};
    if (!w || !src) {
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
        goto done;
    }
    int any_quant = 0, n_layer = 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        int l = layer_of(g.tensors[i].name);
        if (l + 1 > n_layer) n_layer = l + 1;
    }
    for (int64_t i = 0; i < g.n_kv && !s; i++) s = pt_gguf_writer_copy_kv(w, &g.kv[i]);
    if (!s) s = pt_gguf_writer_u32(w, "general.file_type", (uint32_t)p.ftype);
    for (int64_t i = 0; i < g.n_tensors && !s; i++) {
        const pt_gguf_tensor *t = &g.tensors[i];
        if (t->n_dims > 2) {
            s = pt_fail(PT_ERR_UNSUPPORTED,
                        "%s: tensor \"%s\" has %d dimensions (ptune writes 1 "
                        "or 2)",
                        in, t->name, t->n_dims);
            break;
        }
        pt_wtype to = choose(&p, t->name, t->n_dims, t->ne[0], n_layer, &st.n_fallback);
        any_quant |= pt_wtype_is_quant(to);
        src[st.n_tensors] = (int)i;
        s = pt_gguf_writer_tensor(w, t->name, to, t->n_dims == 2 ? (int)t->ne[1] : 0, (int)t->ne[0],
                                  src_row, &ctx);
        st.by_type[to]++;
        st.bytes += pt_wtype_row_bytes(to, t->ne[0]) * (t->n_dims == 2 ? (size_t)t->ne[1] : 1);
        st.n_tensors++;
    }
    if (!s && any_quant) s = pt_gguf_writer_u32(w, "general.quantization_version", 2);
    if (!s) s = pt_gguf_writer_write(w, out);
    if (!s && stats) *stats = st;
done:
    free(src);
    pt_gguf_writer_free(w);
    pt_gguf_close(&g);
    return s;
}

/* ---- Hugging Face directories ---- */

/* One tensor of the output: a loaded weight (rows permuted for adjacent-pair
 * RoPE when perm_hs > 0: the rows, or a vector's elements, of each head of
 * perm_hs regrouped as llama.cpp's converter does) or a float vector. */
typedef struct hf_tensor {
    const pt_weight *w;
    const float *vec;
    int perm_hs;
} hf_tensor;

typedef struct hf_ctx {
    const hf_tensor *t;
    float *tmp; // (max cols)
} hf_ctx;

/* GGUF row (or element) g of a head-grouped tensor comes from HF's: within a
 * head, GGUF interleaves the two halves: g = 2i + j <- j * HS/2 + i. */
static int unpermute(int g, int hs) {
    int h = g / hs, rem = g % hs;
    return h * hs + (rem % 2) * (hs / 2) + rem / 2;
}

static pt_status hf_row(void *ctx, int index, int r, float *dst) {
    const hf_ctx *c = ctx;
    const hf_tensor *t = &c->t[index];
    if (t->vec) {
        memcpy(dst, t->vec, sizeof(float) * (size_t)t->w->cols);
        return PT_OK;
    }
    if (t->perm_hs && t->w->rows == 1) { /* a q/k bias */
        pt_weight_row(t->w, 0, c->tmp);
        for (int i = 0; i < t->w->cols; i++) dst[i] = c->tmp[unpermute(i, t->perm_hs)];
        return PT_OK;
    }
    pt_weight_row(t->w, t->perm_hs ? unpermute(r, t->perm_hs) : r, dst);
    return PT_OK;
}

/* The family's config keys that GGUF has, and what llama.cpp also expects. */
static pt_status hf_keys(pt_gguf_writer *w, const pt_model *m, const char *arch, int ftype) {
    const pt_family_desc *f = m->fam;
    const pt_model_config *c = &m->cfg;
    char key[128];
    pt_status s = pt_gguf_writer_string(w, "general.architecture", arch);
    const char *base = strrchr(m->path, '/');
    if (!s) s = pt_gguf_writer_string(w, "general.name", base && base[1] ? base + 1 : m->path);
    for (int i = 0; i < f->n_keys && !s; i++) {
        const pt_config_key *k = &f->keys[i];
        if (!k->gguf) continue;
        // cppcheck-suppress wrongPrintfScanfArgNum
        snprintf(key, sizeof key, k->gguf, arch);
        const char *field = (const char *)c + k->off;
        if (k->type == PT_CK_FLOAT) {
            float v;
            memcpy(&v, field, sizeof v);
            s = pt_gguf_writer_f32(w, key, v);
        } else {
            int v;
            memcpy(&v, field, sizeof v);
            s = v < 0 ? pt_fail(PT_ERR_FORMAT, "%s: %s is negative", m->path, key)
                      : pt_gguf_writer_u32(w, key, (uint32_t)v);
        }
    }
    snprintf(key, sizeof key, "%s.attention.value_length", arch);
    if (!s) s = pt_gguf_writer_u32(w, key, (uint32_t)c->head_dim);
    snprintf(key, sizeof key, "%s.rope.dimension_count", arch);
    if (!s) s = pt_gguf_writer_u32(w, key, (uint32_t)c->head_dim);
    if (!s && c->rope_scaling == PT_ROPE_SCALE_LINEAR) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        s = pt_gguf_writer_string(w, key, "linear");
        snprintf(key, sizeof key, "%s.rope.scaling.factor", arch);
        if (!s) s = pt_gguf_writer_f32(w, key, c->rope_factor);
    }
    if (!s) s = pt_gguf_writer_u32(w, "general.file_type", (uint32_t)ftype);
    return s;
}

/* What a GGUF of the family cannot hold, refused by name. */
static pt_status hf_check(const pt_model *m, const char *in) {
    const pt_family_desc *f = m->fam;
    if (!f->gguf_archs || !f->gguf_archs[0])
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: a %s model has no GGUF form in ptune (GGUF is read for the LLaMA "
                       "family, Mistral and Qwen2); keep using the Hugging Face directory",
                       in, f->name);
    int has_freqs = 0;
    for (int i = 0; i < f->n_globals; i++)
        has_freqs |= f->globals[i].gguf && !strcmp(f->globals[i].role, "rope_freqs");
    if (m->cfg.rope_scaling == PT_ROPE_SCALE_LLAMA3 && !has_freqs)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: llama3 RoPE scaling has no GGUF form for %s", in,
                       f->name);
    int window_key = 0;
    for (int i = 0; i < f->n_keys; i++)
        window_key |=
            f->keys[i].gguf && f->keys[i].off == offsetof(pt_model_config, sliding_window);
    if (m->cfg.sliding_window > 0 && !window_key)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: a %s GGUF has no key for its sliding window (%d): the GGUF would "
                       "attend beyond it",
                       in, f->name, m->cfg.sliding_window);
    return PT_OK;
}

pt_status pt_hf_to_gguf(const char *in, const char *out, const char *type,
                        pt_quantize_stats *stats) {
    qplan p;
    if (!parse_plan(type, &p)) return pt_fail(PT_ERR_ARG, "unknown type \"%s\"", type);
    pt_model *m = NULL;
    pt_status s = pt_model_open(&m, in); /* weights as stored, in the mapping */
    if (s) return s;
    if ((s = hf_check(m, in))) {
        pt_model_free(m);
        return s;
    }
    const pt_family_desc *f = m->fam;
    const pt_model_config *c = &m->cfg;
    pt_quantize_stats st;
    memset(&st, 0, sizeof st);
    int L = c->n_layers, n = 0, maxc = 1, half = c->head_dim / 2;
    size_t cap = (size_t)f->n_globals + (size_t)L * (size_t)f->n_layer;
    hf_tensor *t = calloc(cap, sizeof *t);
    float *freqs = calloc((size_t)(half > 0 ? half : 1), sizeof *freqs);
    pt_weight freq_w = pt_weight_wrap(PT_WT_F32, 1, half, freqs);
    pt_gguf_writer *w = pt_gguf_writer_new();
    hf_ctx ctx = {t, NULL};
    const char *arch = f->gguf_archs[0];
    if (!t || !freqs || !w) s = pt_fail(PT_ERR_NOMEM, "out of memory");
    if (!s) s = hf_keys(w, m, arch, p.ftype);
    if (!s && m->tok) s = pt_tok_write_gguf(m->tok, w, c->vocab_size, &st.nfc_dropped);
    st.no_tokenizer = m->tok == NULL;
    int any_quant = 0, rope_q = 0;
    for (int i = 0; i < f->n_layer; i++) rope_q |= (f->layer[i].flags & PT_T_ROPE_Q) != 0;
    for (int k = 0; k < f->n_globals + L * f->n_layer && !s; k++) {
        int g = k < f->n_globals, l = g ? -1 : (k - f->n_globals) / f->n_layer;
        const pt_tensor_desc *d = g ? &f->globals[k] : &f->layer[(k - f->n_globals) % f->n_layer];
        const pt_weight *wt = pt_desc_weight(m, d, l);
        hf_tensor *ht = &t[n];
        ht->w = wt;
        if (!strcmp(d->role, "rope_freqs") && c->rope_scaling == PT_ROPE_SCALE_LLAMA3) {
            /* GGUF keeps LLaMA-3's scaling as factors the angle is divided by */
            pt_rope_inv_freq(freqs, c->head_dim, c->rope_theta);
            for (int i = 0; i < half; i++) freqs[i] /= m->inv_freq[i];
            ht->w = &freq_w, ht->vec = freqs;
        } else if (!pt_weight_present(wt) || (g && d->off == offsetof(pt_model_weights, lm_head) &&
                                              (c->tied || wt->data == m->w.tok_embd.data))) {
            continue;
        } else if (!d->gguf) {
            s = pt_fail(PT_ERR_UNSUPPORTED, "%s: tensor %s has no GGUF name in ptune", in, d->role);
            break;
        }
        if ((d->flags & PT_T_ROPE_Q) ||
            (rope_q && (!strcmp(d->role, "bq") || !strcmp(d->role, "bk"))))
            ht->perm_hs = c->head_dim;
        char name[160];
        // cppcheck-suppress wrongPrintfScanfArgNum
        snprintf(name, sizeof name, d->gguf, l);
        int rows = d->rows == PT_D_1 ? 0 : ht->w->rows, cols = ht->w->cols;
        if (cols > maxc) maxc = cols;
        pt_wtype to = choose(&p, name, rows ? 2 : 1, cols, L, &st.n_fallback);
        any_quant |= pt_wtype_is_quant(to);
        s = pt_gguf_writer_tensor(w, name, to, rows, cols, hf_row, &ctx);
        st.by_type[to]++;
        st.bytes += pt_wtype_row_bytes(to, cols) * (size_t)(rows ? rows : 1);
        st.n_tensors++;
        n++;
    }
    if (!s && !(ctx.tmp = malloc(sizeof(float) * (size_t)maxc)))
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
    if (!s && any_quant) s = pt_gguf_writer_u32(w, "general.quantization_version", 2);
    if (!s) s = pt_gguf_writer_write(w, out);
    if (!s && stats) *stats = st;
    pt_gguf_writer_free(w);
    free(ctx.tmp);
    free(freqs);
    free(t);
    pt_model_free(m);
    return s;
}

/* ---- random models at real shapes ---- */

#define POOL 8 /* distinct rows per tensor, repeated */

typedef struct rnd_tensor {
    char name[64];
    int rows, cols; /* rows 0: 1-D */
    float base, std;
    pt_wtype type;
} rnd_tensor;

typedef struct rnd_ctx {
    const rnd_tensor *t;
    uint64_t seed;
    int cur;             /* tensor whose pool is built, -1 none */
    unsigned char *pool; // (POOL, stride) encoded rows
    float *row;          // (max cols)
    size_t stride;
} rnd_ctx;

static pt_status rnd_raw(void *ctx, int index, int r, void *dst) {
    rnd_ctx *c = ctx;
    const rnd_tensor *t = &c->t[index];
    if (c->cur != index) {
        pt_rng g;
        pt_rng_seed(&g, c->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)index);
        for (int k = 0; k < POOL; k++) {
            for (int i = 0; i < t->cols; i++) c->row[i] = t->base + t->std * pt_rng_normal(&g);
            pt_quant_row(t->type, c->pool + (size_t)k * c->stride, c->row, t->cols);
        }
        c->cur = index;
    }
    memcpy(dst, c->pool + (size_t)(r % POOL) * c->stride, pt_wtype_row_bytes(t->type, t->cols));
    return PT_OK;
}

static void add_rnd(rnd_tensor *t, int *n, int rows, int cols, float base, float std,
                    const char *fmt, int layer) {
    /* fmt is "blk.%d.…" or a plain name that ignores the layer */
    // cppcheck-suppress wrongPrintfScanfArgNum
    snprintf(t[*n].name, sizeof t[*n].name, fmt, layer);
    t[*n].rows = rows, t[*n].cols = cols, t[*n].base = base, t[*n].std = std;
    (*n)++;
}

pt_status pt_gguf_write_random(const char *out, const pt_random_spec *sp, const char *type,
                               uint64_t seed, pt_quantize_stats *stats) {
    qplan p;
    if (!parse_plan(type, &p)) return pt_fail(PT_ERR_ARG, "unknown type \"%s\"", type);
    int C = sp->dim, L = sp->layers, F = sp->ffn, V = sp->vocab;
    if (C < 2 || L < 1 || sp->heads < 1 || sp->kv_heads < 1 || F < 1 || V < 1 || C % sp->heads ||
        sp->heads % sp->kv_heads || (C / sp->heads) % 2)
        return pt_fail(PT_ERR_ARG,
                       "random model: width %d, %d heads, %d key-value heads do not fit", C,
                       sp->heads, sp->kv_heads);
    int KV = C / sp->heads * sp->kv_heads, n = 0;
    rnd_tensor *t = calloc((size_t)(3 + 9 * L), sizeof *t);
    if (!t) return pt_fail(PT_ERR_NOMEM, "out of memory");
    const float sd = 0.02f;
    add_rnd(t, &n, V, C, 0.0f, sd, "token_embd.weight", 0);
    for (int l = 0; l < L; l++) {
        add_rnd(t, &n, 0, C, 1.0f, 0.0f, "blk.%d.attn_norm.weight", l);
        add_rnd(t, &n, C, C, 0.0f, sd, "blk.%d.attn_q.weight", l);
        add_rnd(t, &n, KV, C, 0.0f, sd, "blk.%d.attn_k.weight", l);
        add_rnd(t, &n, KV, C, 0.0f, sd, "blk.%d.attn_v.weight", l);
        add_rnd(t, &n, C, C, 0.0f, sd, "blk.%d.attn_output.weight", l);
        add_rnd(t, &n, 0, C, 1.0f, 0.0f, "blk.%d.ffn_norm.weight", l);
        add_rnd(t, &n, F, C, 0.0f, sd, "blk.%d.ffn_gate.weight", l);
        add_rnd(t, &n, F, C, 0.0f, sd, "blk.%d.ffn_up.weight", l);
        add_rnd(t, &n, C, F, 0.0f, sd, "blk.%d.ffn_down.weight", l);
    }
    add_rnd(t, &n, 0, C, 1.0f, 0.0f, "output_norm.weight", 0);
    add_rnd(t, &n, V, C, 0.0f, sd, "output.weight", 0);
    pt_quantize_stats st;
    memset(&st, 0, sizeof st);
    int maxc = C > F ? C : F;
    rnd_ctx rc = {t, seed, -1, NULL, NULL, (size_t)maxc * 4};
    rc.pool = malloc(rc.stride * POOL);
    rc.row = malloc(sizeof(float) * (size_t)maxc);
    pt_gguf_writer *w = pt_gguf_writer_new();
    pt_status s = PT_OK;
    if (!w || !rc.pool || !rc.row) s = pt_fail(PT_ERR_NOMEM, "out of memory");
    if (!s) s = pt_gguf_writer_string(w, "general.architecture", "llama");
    if (!s) s = pt_gguf_writer_string(w, "general.name", "ptune random");
    if (!s) s = pt_gguf_writer_u32(w, "llama.context_length", 4096);
    if (!s) s = pt_gguf_writer_u32(w, "llama.embedding_length", (uint32_t)C);
    if (!s) s = pt_gguf_writer_u32(w, "llama.block_count", (uint32_t)L);
    if (!s) s = pt_gguf_writer_u32(w, "llama.feed_forward_length", (uint32_t)F);
    if (!s) s = pt_gguf_writer_u32(w, "llama.attention.head_count", (uint32_t)sp->heads);
    if (!s) s = pt_gguf_writer_u32(w, "llama.attention.head_count_kv", (uint32_t)sp->kv_heads);
    if (!s) s = pt_gguf_writer_u32(w, "llama.rope.dimension_count", (uint32_t)(C / sp->heads));
    if (!s) s = pt_gguf_writer_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (!s) s = pt_gguf_writer_f32(w, "llama.rope.freq_base", 10000.0f);
    if (!s) s = pt_gguf_writer_u32(w, "general.file_type", (uint32_t)p.ftype);
    for (int i = 0; i < n && !s; i++) {
        t[i].type = choose(&p, t[i].name, t[i].rows ? 2 : 1, t[i].cols, L, &st.n_fallback);
        s = pt_gguf_writer_tensor_raw(w, t[i].name, t[i].type, t[i].rows, t[i].cols, rnd_raw, &rc);
        st.by_type[t[i].type]++;
        st.bytes += pt_wtype_row_bytes(t[i].type, t[i].cols) * (size_t)(t[i].rows ? t[i].rows : 1);
        st.n_tensors++;
    }
    if (!s && !p.all) s = pt_gguf_writer_u32(w, "general.quantization_version", 2);
    if (!s) s = pt_gguf_writer_write(w, out);
    if (!s && stats) *stats = st;
    pt_gguf_writer_free(w);
    free(rc.pool);
    free(rc.row);
    free(t);
    return s;
}
