/* llama_load.c - loading LLaMA-family weights from a Hugging Face directory
 * (LlamaForCausalLM: config.json + model.safetensors) or a GGUF file.
 *
 * GGUF files written by llama.cpp's converter store the rows of attn_q and
 * attn_k permuted for its interleaved ("GPT-J style") RoPE: within each head
 * of HS rows, Hugging Face row s*HS/2 + i (s in {0,1}, i < HS/2) is stored at
 * row 2*i + s. We undo that so one forward (rotate_half RoPE) serves both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "models/llama_impl.h"
#include "models/model_util.h"

/* Sane bounds on sizes read from files (far above any real LLaMA). */
#define LLAMA_MAX_DIM (1 << 16)
#define LLAMA_MAX_LAYERS 1024
#define LLAMA_MAX_VOCAB (1 << 22)
#define LLAMA_MAX_FFN (1 << 20)
#define LLAMA_MAX_POS (1 << 24)

pt_status pt_llama_check_config(const pt_model_config *c, const char *src) {
    if (c->dim < 1 || c->dim > LLAMA_MAX_DIM)
        return pt_fail(PT_ERR_FORMAT, "%s: hidden size %d out of range", src, c->dim);
    if (c->n_layers < 1 || c->n_layers > LLAMA_MAX_LAYERS)
        return pt_fail(PT_ERR_FORMAT, "%s: layer count %d out of range", src, c->n_layers);
    if (c->n_heads < 1 || c->dim % c->n_heads != 0)
        return pt_fail(PT_ERR_FORMAT, "%s: %d attention heads do not divide hidden size %d", src,
                       c->n_heads, c->dim);
    if ((c->dim / c->n_heads) % 2 != 0)
        return pt_fail(PT_ERR_FORMAT, "%s: head size %d must be even for RoPE", src,
                       c->dim / c->n_heads);
    if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads != 0)
        return pt_fail(PT_ERR_FORMAT, "%s: %d key/value heads do not divide %d attention heads",
                       src, c->n_kv_heads, c->n_heads);
    if (c->ffn_dim < 1 || c->ffn_dim > LLAMA_MAX_FFN)
        return pt_fail(PT_ERR_FORMAT, "%s: feed-forward size %d out of range", src, c->ffn_dim);
    if (c->vocab_size < 1 || c->vocab_size > LLAMA_MAX_VOCAB)
        return pt_fail(PT_ERR_FORMAT, "%s: vocabulary size %d out of range", src, c->vocab_size);
    if (c->max_pos < 1 || c->max_pos > LLAMA_MAX_POS)
        return pt_fail(PT_ERR_FORMAT, "%s: context length %d out of range", src, c->max_pos);
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f))
        return pt_fail(PT_ERR_FORMAT, "%s: RMSNorm epsilon %g out of range", src,
                       (double)c->norm_eps);
    if (!(c->rope_theta > 1.0f && c->rope_theta < 1e12f))
        return pt_fail(PT_ERR_FORMAT, "%s: RoPE theta %g out of range", src, (double)c->rope_theta);
    return PT_OK;
}

void pt_llama_weights_free(llama_weights *w, int n_layers) {
    if (!w) return;
    if (w->layers) {
        for (int l = 0; l < n_layers; l++) {
            llama_layer *lw = &w->layers[l];
            free(lw->attn_norm);
            free(lw->wq);
            free(lw->wk);
            free(lw->wv);
            free(lw->wo);
            free(lw->ffn_norm);
            free(lw->w_gate);
            free(lw->w_up);
            free(lw->w_down);
        }
        free(w->layers);
    }
    if (w->out != w->tok_embd) free(w->out);
    free(w->tok_embd);
    free(w->norm);
    memset(w, 0, sizeof *w);
}

/* Parameter count of the weights described by c. */
static int64_t llama_n_params(const pt_model_config *c, int tied) {
    int64_t C = c->dim, KVC = (int64_t)c->n_kv_heads * (C / c->n_heads), F = c->ffn_dim;
    int64_t per_layer = 2 * C + 2 * C * C + 2 * KVC * C + 3 * F * C;
    return (int64_t)c->vocab_size * C * (tied ? 1 : 2) + C + per_layer * c->n_layers;
}

/* Finish a model whose cfg and weights are set: ops, wte, n_params. */
static void llama_finish(pt_model *m, llama_weights *w) {
    m->cfg.family = PT_FAMILY_LLAMA;
    m->cfg.causal = 1;
    m->cfg.has_lm_head = 1;
    m->ops = &pt_llama_ops;
    m->impl = w;
    m->wte = w->tok_embd;
    m->n_params = llama_n_params(&m->cfg, w->tied);
}

/* ---------------- Hugging Face directory ---------------- */

static pt_status hf_config(const char *dir, pt_model_config *c, int *tie) {
    pt_json_doc doc;
    pt_status s = pt_mu_read_config(dir, &doc);
    if (s) return s;
    const pt_json *j = doc.root;
    const char *src = "config.json";
    memset(c, 0, sizeof *c);
    if ((s = pt_mu_cfg_int(j, src, "hidden_size", &c->dim)) ||
        (s = pt_mu_cfg_int(j, src, "num_hidden_layers", &c->n_layers)) ||
        (s = pt_mu_cfg_int(j, src, "num_attention_heads", &c->n_heads)) ||
        (s = pt_mu_cfg_int(j, src, "intermediate_size", &c->ffn_dim)) ||
        (s = pt_mu_cfg_int(j, src, "vocab_size", &c->vocab_size)) ||
        (s = pt_mu_cfg_int(j, src, "max_position_embeddings", &c->max_pos)))
        goto done;
    c->n_kv_heads = c->n_heads;
    if (pt_json_get(j, "num_key_value_heads") &&
        (s = pt_mu_cfg_int(j, src, "num_key_value_heads", &c->n_kv_heads)))
        goto done;
    c->norm_eps = 1e-6f; /* LlamaConfig default */
    if (pt_json_get(j, "rms_norm_eps") &&
        (s = pt_mu_cfg_float(j, src, "rms_norm_eps", &c->norm_eps)))
        goto done;
    c->rope_theta = 10000.0f;
    if (pt_json_get(j, "rope_theta") && (s = pt_mu_cfg_float(j, src, "rope_theta", &c->rope_theta)))
        goto done;
    *tie = 0; /* LlamaConfig default */
    if (pt_json_get(j, "tie_word_embeddings") && !pt_json_get_bool(j, "tie_word_embeddings", tie)) {
        s = pt_fail(PT_ERR_FORMAT, "%s: \"tie_word_embeddings\" must be true or false", src);
        goto done;
    }
    /* variants this forward does not implement: refuse rather than compute wrong numbers */
    const pt_json *rs = pt_json_get(j, "rope_scaling");
    if (rs && rs->type != PT_JSON_NULL) {
        s = pt_fail(PT_ERR_UNSUPPORTED, "%s: \"rope_scaling\" is not supported", src);
        goto done;
    }
    int flag = 0;
    if ((pt_json_get_bool(j, "attention_bias", &flag) && flag) ||
        (pt_json_get_bool(j, "mlp_bias", &flag) && flag)) {
        s = pt_fail(PT_ERR_UNSUPPORTED, "%s: attention/MLP biases are not supported", src);
        goto done;
    }
    int head_dim = 0;
    if (pt_json_get_int(j, "head_dim", &head_dim) && c->n_heads > 0 &&
        head_dim != c->dim / c->n_heads) {
        s = pt_fail(PT_ERR_UNSUPPORTED, "%s: head_dim %d != hidden_size / num_attention_heads", src,
                    head_dim);
        goto done;
    }
    const char *act = NULL;
    if (pt_json_get_str(j, "hidden_act", &act) && strcmp(act, "silu") != 0) {
        s = pt_fail(PT_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (silu only)", src,
                    act);
        goto done;
    }
    s = pt_llama_check_config(c, src);
done:
    if (s) pt_fail_ctx(s, "%s", dir);
    pt_json_doc_free(&doc);
    return s;
}

/* Tokenizer of a Hugging Face directory, or NULL when it has no tokenizer files. */
static pt_status hf_tokenizer(const char *dir, pt_tokenizer **tok) {
    static const char *const files[] = {"tokenizer.json", "vocab.json", "vocab.txt"};
    *tok = NULL;
    int any = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !any; i++) {
        char *p = pt_path_join(dir, files[i]);
        if (!p) return pt_fail(PT_ERR_NOMEM, "out of memory");
        any = pt_file_exists(p);
        free(p);
    }
    return any ? pt_tok_load_dir(tok, dir) : PT_OK;
}

/* A tokenizer with more tokens than the model has embeddings cannot be used. */
static pt_status check_tok_vocab(const pt_tokenizer *tok, int vocab_size, const char *path) {
    if (tok && tok->vocab_size > vocab_size)
        return pt_fail(PT_ERR_MISMATCH, "%s: tokenizer has %d tokens, the model only %d", path,
                       tok->vocab_size, vocab_size);
    return PT_OK;
}

pt_status pt_llama_load_hf(pt_model **out, const char *dir, const char *st_path) {
    static const char *const pre[] = {"", NULL};
    *out = NULL;
    pt_model_config c;
    int tie = 0;
    pt_status s = hf_config(dir, &c, &tie);
    if (s) return s;
    pt_st_file f;
    s = pt_st_open(&f, st_path);
    if (s) return s;
    pt_model *m = pt_mu_model_new(dir);
    llama_weights *w = calloc(1, sizeof *w);
    if (!m || !w || !(w->layers = pt_zalloc((size_t)c.n_layers, sizeof *w->layers))) {
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    m->cfg = c;
    int64_t C = c.dim, KVC = (int64_t)c.n_kv_heads * (C / c.n_heads), F = c.ffn_dim;
    int64_t V = c.vocab_size;
    int64_t s_vc[2] = {V, C}, s_c[1] = {C}, s_cc[2] = {C, C}, s_kc[2] = {KVC, C};
    int64_t s_fc[2] = {F, C}, s_cf[2] = {C, F};
    if ((s = pt_mu_load(&f, pre, "model.embed_tokens.weight", 2, s_vc, &w->tok_embd)) ||
        (s = pt_mu_load(&f, pre, "model.norm.weight", 1, s_c, &w->norm)))
        goto fail;
    for (int l = 0; l < c.n_layers; l++) {
        llama_layer *lw = &w->layers[l];
        struct {
            const char *name;
            int ndim;
            const int64_t *shape;
            float **dst;
        } t[] = {
            {"input_layernorm.weight", 1, s_c, &lw->attn_norm},
            {"self_attn.q_proj.weight", 2, s_cc, &lw->wq},
            {"self_attn.k_proj.weight", 2, s_kc, &lw->wk},
            {"self_attn.v_proj.weight", 2, s_kc, &lw->wv},
            {"self_attn.o_proj.weight", 2, s_cc, &lw->wo},
            {"post_attention_layernorm.weight", 1, s_c, &lw->ffn_norm},
            {"mlp.gate_proj.weight", 2, s_fc, &lw->w_gate},
            {"mlp.up_proj.weight", 2, s_fc, &lw->w_up},
            {"mlp.down_proj.weight", 2, s_cf, &lw->w_down},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            char name[128];
            snprintf(name, sizeof name, "model.layers.%d.%s", l, t[i].name);
            if ((s = pt_mu_load(&f, pre, name, t[i].ndim, t[i].shape, t[i].dst))) goto fail;
        }
    }
    w->tied = tie || !pt_mu_has(&f, pre, "lm_head.weight");
    if (w->tied)
        w->out = w->tok_embd;
    else if ((s = pt_mu_load(&f, pre, "lm_head.weight", 2, s_vc, &w->out)))
        goto fail;
    const pt_st_tensor *te = pt_st_find(&f, "model.embed_tokens.weight");
    snprintf(m->dtype, sizeof m->dtype, "%s", te ? pt_dtype_name(te->dtype) : "F32");
    if ((s = hf_tokenizer(dir, &m->tok))) goto fail;
    if ((s = check_tok_vocab(m->tok, c.vocab_size, dir))) goto fail;
    pt_st_close(&f);
    llama_finish(m, w);
    *out = m;
    return PT_OK;
fail:
    pt_st_close(&f);
    if (w) pt_llama_weights_free(w, c.n_layers);
    free(w);
    pt_model_free(m);
    return s;
}

/* ---------------- GGUF ---------------- */

/* Undo llama.cpp's Q/K row permutation in place: W (nh*HS, IC). */
static pt_status gguf_unpermute(float *W, int nh, int HS, int IC) {
    float *tmp = pt_alloc((size_t)HS * IC, sizeof(float)); // (HS, IC) one head
    if (!tmp) return pt_fail(PT_ERR_NOMEM, "out of memory");
    int half = HS / 2;
    for (int h = 0; h < nh; h++) {
        float *head = W + (size_t)h * HS * IC;
        memcpy(tmp, head, sizeof(float) * HS * IC);
        for (int sgn = 0; sgn < 2; sgn++)
            for (int i = 0; i < half; i++)
                memcpy(head + (size_t)(sgn * half + i) * IC, tmp + (size_t)(2 * i + sgn) * IC,
                       sizeof(float) * IC);
    }
    free(tmp);
    return PT_OK;
}

/* Required integer key within [1, INT32_MAX]; dflt < 0 means no default. */
static pt_status gguf_int(const pt_gguf *g, const char *key, int64_t dflt, int *out) {
    int64_t v;
    if (!pt_gguf_find(g, key)) {
        if (dflt < 0) return pt_fail(PT_ERR_FORMAT, "%s: missing key \"%s\"", g->path, key);
        v = dflt;
    } else if (!pt_gguf_get_int(g, key, &v)) {
        return pt_fail(PT_ERR_FORMAT, "%s: key \"%s\" must be an integer", g->path, key);
    }
    if (v < 1 || v > INT32_MAX)
        return pt_fail(PT_ERR_FORMAT, "%s: key \"%s\" = %lld out of range", g->path, key,
                       (long long)v);
    *out = (int)v;
    return PT_OK;
}

static pt_status gguf_float(const pt_gguf *g, const char *key, double dflt, float *out) {
    double v = dflt;
    if (pt_gguf_find(g, key) && !pt_gguf_get_float(g, key, &v))
        return pt_fail(PT_ERR_FORMAT, "%s: key \"%s\" must be a number", g->path, key);
    *out = (float)v;
    return PT_OK;
}

static pt_status gguf_config(const pt_gguf *g, pt_model_config *c) {
    pt_status s;
    char *arch = pt_gguf_get_string(g, "general.architecture");
    if (!arch) return pt_fail(PT_ERR_FORMAT, "%s: missing key \"general.architecture\"", g->path);
    if (strcmp(arch, "llama") != 0) {
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "%s: general.architecture is \"%s\"; only \"llama\" is supported", g->path,
                    arch);
        free(arch);
        return s;
    }
    free(arch);
    memset(c, 0, sizeof *c);
    if ((s = gguf_int(g, "llama.embedding_length", -1, &c->dim)) ||
        (s = gguf_int(g, "llama.block_count", -1, &c->n_layers)) ||
        (s = gguf_int(g, "llama.attention.head_count", -1, &c->n_heads)) ||
        (s = gguf_int(g, "llama.attention.head_count_kv", c->n_heads, &c->n_kv_heads)) ||
        (s = gguf_int(g, "llama.feed_forward_length", -1, &c->ffn_dim)) ||
        (s = gguf_int(g, "llama.context_length", -1, &c->max_pos)) ||
        (s = gguf_float(g, "llama.attention.layer_norm_rms_epsilon", 1e-5, &c->norm_eps)) ||
        (s = gguf_float(g, "llama.rope.freq_base", 10000.0, &c->rope_theta)))
        return s;
    int rot = 0;
    if (pt_gguf_find(g, "llama.rope.dimension_count") && c->n_heads > 0 &&
        (s = gguf_int(g, "llama.rope.dimension_count", -1, &rot)) == PT_OK &&
        rot != c->dim / c->n_heads)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: llama.rope.dimension_count %d != head size (partial RoPE)", g->path,
                       rot);
    if (s) return s;
    if (pt_gguf_find(g, "llama.rope.scaling.type"))
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: RoPE scaling is not supported", g->path);
    /* vocabulary size from the embedding matrix: ne = {C, V} */
    const pt_gguf_tensor *te = pt_gguf_find_tensor(g, "token_embd.weight");
    if (!te) return pt_fail(PT_ERR_FORMAT, "%s: missing tensor \"token_embd.weight\"", g->path);
    if (te->n_dims != 2 || te->ne[0] != c->dim || te->ne[1] < 1 || te->ne[1] > LLAMA_MAX_VOCAB)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: tensor \"token_embd.weight\" has shape [%lld, %lld] (ggml order), "
                       "expected [%d, vocab]",
                       g->path, (long long)te->ne[0], (long long)(te->n_dims > 1 ? te->ne[1] : 0),
                       c->dim);
    c->vocab_size = (int)te->ne[1];
    return pt_llama_check_config(c, g->path);
}

static const char *ggml_type_name(uint32_t t) {
    switch (t) {
    case PT_GGML_F32:
        return "F32";
    case PT_GGML_F16:
        return "F16";
    case PT_GGML_BF16:
        return "BF16";
    case PT_GGML_Q8_0:
        return "Q8_0";
    }
    return "unknown";
}

pt_status pt_llama_load_gguf(pt_model **out, const char *gguf_path) {
    *out = NULL;
    pt_gguf g;
    pt_status s = pt_gguf_open(&g, gguf_path);
    if (s) return s;
    pt_model_config c;
    memset(&c, 0, sizeof c);
    pt_model *m = NULL;
    llama_weights *w = NULL;
    if ((s = gguf_config(&g, &c))) goto fail;
    m = pt_mu_model_new(gguf_path);
    w = calloc(1, sizeof *w);
    if (!m || !w || !(w->layers = pt_zalloc((size_t)c.n_layers, sizeof *w->layers))) {
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    m->cfg = c;
    int HS = c.dim / c.n_heads;
    int64_t C = c.dim, KVC = (int64_t)c.n_kv_heads * HS, F = c.ffn_dim, V = c.vocab_size;
    int64_t s_vc[2] = {V, C}, s_c[1] = {C}, s_cc[2] = {C, C}, s_kc[2] = {KVC, C};
    int64_t s_fc[2] = {F, C}, s_cf[2] = {C, F};
    if ((s = pt_gguf_load_f32(&g, "token_embd.weight", 2, s_vc, &w->tok_embd)) ||
        (s = pt_gguf_load_f32(&g, "output_norm.weight", 1, s_c, &w->norm)))
        goto fail;
    for (int l = 0; l < c.n_layers; l++) {
        llama_layer *lw = &w->layers[l];
        struct {
            const char *name;
            int ndim;
            const int64_t *shape;
            float **dst;
        } t[] = {
            {"attn_norm", 1, s_c, &lw->attn_norm}, {"attn_q", 2, s_cc, &lw->wq},
            {"attn_k", 2, s_kc, &lw->wk},          {"attn_v", 2, s_kc, &lw->wv},
            {"attn_output", 2, s_cc, &lw->wo},     {"ffn_norm", 1, s_c, &lw->ffn_norm},
            {"ffn_gate", 2, s_fc, &lw->w_gate},    {"ffn_up", 2, s_fc, &lw->w_up},
            {"ffn_down", 2, s_cf, &lw->w_down},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            char name[128];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, t[i].name);
            if ((s = pt_gguf_load_f32(&g, name, t[i].ndim, t[i].shape, t[i].dst))) goto fail;
        }
        if ((s = gguf_unpermute(lw->wq, c.n_heads, HS, c.dim)) ||
            (s = gguf_unpermute(lw->wk, c.n_kv_heads, HS, c.dim)))
            goto fail;
    }
    w->tied = pt_gguf_find_tensor(&g, "output.weight") == NULL;
    if (w->tied)
        w->out = w->tok_embd;
    else if ((s = pt_gguf_load_f32(&g, "output.weight", 2, s_vc, &w->out)))
        goto fail;
    snprintf(m->dtype, sizeof m->dtype, "%s",
             ggml_type_name(pt_gguf_find_tensor(&g, "token_embd.weight")->type));
    if (pt_gguf_find(&g, "tokenizer.ggml.tokens")) {
        if ((s = pt_spm_from_gguf(&m->tok, &g))) goto fail;
        if ((s = check_tok_vocab(m->tok, c.vocab_size, gguf_path))) goto fail;
    }
    pt_gguf_close(&g);
    llama_finish(m, w);
    *out = m;
    return PT_OK;
fail:
    pt_gguf_close(&g);
    if (w) pt_llama_weights_free(w, c.n_layers);
    free(w);
    pt_model_free(m);
    return s;
}
