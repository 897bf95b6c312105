/* bert_load.c - loading a BERT masked LM from a Hugging Face directory.
 *
 * config.json: hidden_size, num_hidden_layers, num_attention_heads,
 * intermediate_size, max_position_embeddings, vocab_size (required);
 * type_vocab_size (default 2), layer_norm_eps (default 1e-12), hidden_act
 * ("gelu" = exact erf, the default; "gelu_new" / "gelu_pytorch_tanh" = tanh form).
 *
 * Weights (safetensors, any float dtype, converted to float32), with or without
 * the "bert." prefix: embeddings.{word,position,token_type}_embeddings,
 * embeddings.LayerNorm, encoder.layer.N.{attention.self.{query,key,value},
 * attention.output.dense, attention.output.LayerNorm, intermediate.dense,
 * output.dense, output.LayerNorm}; LayerNorm ".gamma"/".beta" accepted for
 * ".weight"/".bias". MLM head (optional: without it cfg.has_lm_head = 0):
 * cls.predictions.transform.{dense,LayerNorm}, cls.predictions.bias (or
 * cls.predictions.decoder.bias), decoder tied to the word embeddings unless
 * cls.predictions.decoder.weight is present and differs from them.
 * Every shape is checked against the config. Unused tensors (pooler,
 * position_ids, NSP head) are ignored and not counted in n_params.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "models/bert_impl.h"
#include "models/model_util.h"

static const char *const BODY_PREFIXES[] = {"bert.", "", NULL};
static const char *const HEAD_PREFIXES[] = {"", "bert.", NULL};

typedef struct loader {
    const pt_st_file *f;
    int64_t n_params;
} loader;

/* Load tensor name with shape (d0) or (d0, d1) (d1 = 0 for 1-D). */
static pt_status ld(loader *ld_, const char *const *prefixes, const char *name, int64_t d0,
                    int64_t d1, float **out) {
    int64_t shape[2] = {d0, d1};
    int ndim = d1 ? 2 : 1;
    pt_status s = pt_mu_load(ld_->f, prefixes, name, ndim, shape, out);
    if (s == PT_OK) ld_->n_params += d1 ? d0 * d1 : d0;
    return s;
}

/* LayerNorm "<base>.weight"/".bias", or the older "<base>.gamma"/".beta". */
static pt_status ld_ln(loader *l, const char *const *prefixes, const char *base, int64_t C,
                       float **w, float **b) {
    char wn[256], bn[256];
    snprintf(wn, sizeof wn, "%s.gamma", base);
    if (!pt_mu_has(l->f, prefixes, wn)) snprintf(wn, sizeof wn, "%s.weight", base);
    snprintf(bn, sizeof bn, "%s.beta", base);
    if (!pt_mu_has(l->f, prefixes, bn)) snprintf(bn, sizeof bn, "%s.bias", base);
    pt_status s = ld(l, prefixes, wn, C, 0, w);
    if (s == PT_OK) s = ld(l, prefixes, bn, C, 0, b);
    return s;
}

/* Linear "<base>.weight" (OC, IC) and "<base>.bias" (OC). */
static pt_status ld_lin(loader *l, const char *const *prefixes, const char *base, int64_t OC,
                        int64_t IC, float **w, float **b) {
    char wn[256], bn[256];
    snprintf(wn, sizeof wn, "%s.weight", base);
    snprintf(bn, sizeof bn, "%s.bias", base);
    pt_status s = ld(l, prefixes, wn, OC, IC, w);
    if (s == PT_OK) s = ld(l, prefixes, bn, OC, 0, b);
    return s;
}

static void free_weights(pt_bert *w, int L) {
    if (!w) return;
    free(w->wte);
    free(w->wpe);
    free(w->wtt);
    free(w->lnew);
    free(w->lneb);
    if (w->layers) {
        for (int i = 0; i < L; i++) {
            pt_bert_layer *y = &w->layers[i];
            float *ps[] = {y->wqkv, y->bqkv, y->wo, y->bo, y->ln1w, y->ln1b,
                           y->w1,   y->b1,   y->w2, y->b2, y->ln2w, y->ln2b};
            for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) free(ps[k]);
        }
        free(w->layers);
    }
    free(w->hw);
    free(w->hb);
    free(w->hlnw);
    free(w->hlnb);
    free(w->hbias);
    free(w->dec);
    free(w);
}

void pt_bert_free_impl(pt_model *m) {
    free_weights(m->impl, m->cfg.n_layers);
    m->impl = NULL;
}

/* query, key, value of layer i stacked into wqkv (3C, C), bqkv (3C). */
static pt_status ld_qkv(loader *l, int i, int64_t C, pt_bert_layer *y) {
    static const char *const names[3] = {"query", "key", "value"};
    y->wqkv = pt_alloc((size_t)(3 * C * C), sizeof(float));
    y->bqkv = pt_alloc((size_t)(3 * C), sizeof(float));
    if (!y->wqkv || !y->bqkv) return pt_fail(PT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < 3; k++) {
        char base[128];
        float *w = NULL, *b = NULL;
        snprintf(base, sizeof base, "encoder.layer.%d.attention.self.%s", i, names[k]);
        pt_status s = ld_lin(l, BODY_PREFIXES, base, C, C, &w, &b);
        if (s == PT_OK) {
            memcpy(y->wqkv + k * C * C, w, sizeof(float) * (size_t)(C * C));
            memcpy(y->bqkv + k * C, b, sizeof(float) * (size_t)C);
        }
        free(w);
        free(b);
        if (s) return s;
    }
    return PT_OK;
}

static pt_status ld_layer(loader *l, int i, int64_t C, int64_t F, pt_bert_layer *y) {
    char base[128];
    pt_status s = ld_qkv(l, i, C, y);
    if (s) return s;
#define LAYER_NAME(suffix) (snprintf(base, sizeof base, "encoder.layer.%d." suffix, i), base)
    s = ld_lin(l, BODY_PREFIXES, LAYER_NAME("attention.output.dense"), C, C, &y->wo, &y->bo);
    if (!s)
        s = ld_ln(l, BODY_PREFIXES, LAYER_NAME("attention.output.LayerNorm"), C, &y->ln1w,
                  &y->ln1b);
    if (!s) s = ld_lin(l, BODY_PREFIXES, LAYER_NAME("intermediate.dense"), F, C, &y->w1, &y->b1);
    if (!s) s = ld_lin(l, BODY_PREFIXES, LAYER_NAME("output.dense"), C, F, &y->w2, &y->b2);
    if (!s) s = ld_ln(l, BODY_PREFIXES, LAYER_NAME("output.LayerNorm"), C, &y->ln2w, &y->ln2b);
#undef LAYER_NAME
    return s;
}

static pt_status ld_head(loader *l, const pt_model_config *c, pt_bert *w) {
    int64_t C = c->dim, V = c->vocab_size;
    const char *const *hp = HEAD_PREFIXES;
    pt_status s = ld_lin(l, hp, "cls.predictions.transform.dense", C, C, &w->hw, &w->hb);
    if (!s) s = ld_ln(l, hp, "cls.predictions.transform.LayerNorm", C, &w->hlnw, &w->hlnb);
    if (!s) {
        const char *bn = "cls.predictions.bias";
        if (!pt_mu_has(l->f, hp, bn) && pt_mu_has(l->f, hp, "cls.predictions.decoder.bias"))
            bn = "cls.predictions.decoder.bias";
        s = ld(l, hp, bn, V, 0, &w->hbias);
    }
    if (!s && pt_mu_has(l->f, hp, "cls.predictions.decoder.weight")) {
        s = ld(l, hp, "cls.predictions.decoder.weight", V, C, &w->dec);
        if (!s && !memcmp(w->dec, w->wte, sizeof(float) * (size_t)(V * C))) {
            free(w->dec); /* a stored copy of the tied weight */
            w->dec = NULL;
            l->n_params -= V * C;
        }
    }
    return s;
}

/* Integer config key with a default when absent. */
static pt_status cfg_int_def(const pt_json *j, const char *path, const char *key, int def,
                             int *out) {
    if (!pt_json_get(j, key)) {
        *out = def;
        return PT_OK;
    }
    return pt_mu_cfg_int(j, path, key, out);
}

static pt_status check_range(const char *path, const char *key, int v, int lo, int hi) {
    if (v < lo || v > hi)
        return pt_fail(PT_ERR_FORMAT, "%s: \"%s\" = %d out of range [%d, %d]", path, key, v, lo,
                       hi);
    return PT_OK;
}

static pt_status read_config(const char *dir, pt_model_config *c, int *act, int *tv) {
    pt_json_doc doc;
    pt_status s = pt_mu_read_config(dir, &doc);
    if (s) return s;
    char *path = pt_path_join(dir, "config.json");
    if (!path) {
        pt_json_doc_free(&doc);
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    const pt_json *j = doc.root;
    memset(c, 0, sizeof *c);
    c->family = PT_FAMILY_BERT;
    c->causal = 0;
    s = pt_mu_cfg_int(j, path, "hidden_size", &c->dim);
    if (!s) s = pt_mu_cfg_int(j, path, "num_hidden_layers", &c->n_layers);
    if (!s) s = pt_mu_cfg_int(j, path, "num_attention_heads", &c->n_heads);
    if (!s) s = pt_mu_cfg_int(j, path, "intermediate_size", &c->ffn_dim);
    if (!s) s = pt_mu_cfg_int(j, path, "max_position_embeddings", &c->max_pos);
    if (!s) s = pt_mu_cfg_int(j, path, "vocab_size", &c->vocab_size);
    if (!s) s = cfg_int_def(j, path, "type_vocab_size", 2, tv);
    if (!s) s = check_range(path, "hidden_size", c->dim, 1, 1 << 16);
    if (!s) s = check_range(path, "num_hidden_layers", c->n_layers, 1, 1024);
    if (!s) s = check_range(path, "num_attention_heads", c->n_heads, 1, c->dim);
    if (!s) s = check_range(path, "intermediate_size", c->ffn_dim, 1, 1 << 20);
    if (!s) s = check_range(path, "max_position_embeddings", c->max_pos, 1, 1 << 20);
    if (!s) s = check_range(path, "vocab_size", c->vocab_size, 1, 1 << 24);
    if (!s) s = check_range(path, "type_vocab_size", *tv, 1, 1 << 16);
    if (!s && c->dim % c->n_heads)
        s = pt_fail(PT_ERR_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d",
                    path, c->dim, c->n_heads);
    c->n_kv_heads = c->n_heads;
    c->norm_eps = 1e-12f;
    if (!s && pt_json_get(j, "layer_norm_eps")) {
        s = pt_mu_cfg_float(j, path, "layer_norm_eps", &c->norm_eps);
        if (!s && !(c->norm_eps > 0 && isfinite(c->norm_eps)))
            s = pt_fail(PT_ERR_FORMAT, "%s: \"layer_norm_eps\" must be positive", path);
    }
    const char *str = NULL;
    *act = PT_BERT_GELU_ERF;
    if (!s && pt_json_get(j, "hidden_act")) {
        if (!pt_json_get_str(j, "hidden_act", &str))
            s = pt_fail(PT_ERR_FORMAT, "%s: \"hidden_act\" must be a string", path);
        else if (!strcmp(str, "gelu_new") || !strcmp(str, "gelu_pytorch_tanh"))
            *act = PT_BERT_GELU_TANH;
        else if (strcmp(str, "gelu"))
            s = pt_fail(PT_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" not supported (gelu, gelu_new)",
                        path, str);
    }
    if (!s && pt_json_get_str(j, "position_embedding_type", &str) && strcmp(str, "absolute"))
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "%s: position_embedding_type \"%s\" not supported (absolute only)", path, str);
    free(path);
    pt_json_doc_free(&doc);
    return s;
}

/* Tokenizer files present -> load (errors propagate); none -> m->tok stays NULL. */
static pt_status load_tokenizer(pt_model *m, const char *dir) {
    static const char *const files[] = {"tokenizer.json", "vocab.txt", "vocab.json"};
    int any = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = pt_path_join(dir, files[i]);
        if (!p) return pt_fail(PT_ERR_NOMEM, "out of memory");
        any |= pt_file_exists(p);
        free(p);
    }
    if (!any) return PT_OK;
    return pt_tok_load_dir(&m->tok, dir);
}

pt_status pt_bert_load(pt_model **out, const char *dir, const char *st_path) {
    *out = NULL;
    pt_st_file f;
    int have_file = 0;
    pt_model_config c;
    int act = 0, TV = 0;
    pt_bert *w = NULL;
    pt_status s = read_config(dir, &c, &act, &TV);
    if (s) return s;
    pt_model *m = pt_mu_model_new(dir);
    w = calloc(1, sizeof *w);
    if (!m || !w || !(w->layers = pt_zalloc((size_t)c.n_layers, sizeof(pt_bert_layer)))) {
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    w->act = act;
    m->cfg = c;
    m->impl = w;
    m->ops = &pt_bert_ops;
    s = pt_st_open(&f, st_path);
    if (s) goto fail;
    have_file = 1;

    loader l = {&f, 0};
    int64_t C = c.dim, V = c.vocab_size;
    const char *const *bp = BODY_PREFIXES;
    s = ld(&l, bp, "embeddings.word_embeddings.weight", V, C, &w->wte);
    if (!s) s = ld(&l, bp, "embeddings.position_embeddings.weight", c.max_pos, C, &w->wpe);
    if (!s) s = ld(&l, bp, "embeddings.token_type_embeddings.weight", TV, C, &w->wtt);
    if (!s) s = ld_ln(&l, bp, "embeddings.LayerNorm", C, &w->lnew, &w->lneb);
    for (int i = 0; !s && i < c.n_layers; i++) s = ld_layer(&l, i, C, c.ffn_dim, &w->layers[i]);
    if (s) goto fail;
    m->cfg.has_lm_head = pt_mu_has(&f, HEAD_PREFIXES, "cls.predictions.transform.dense.weight");
    if (m->cfg.has_lm_head) {
        s = ld_head(&l, &c, w);
        if (s) goto fail;
    }
    m->wte = w->wte;
    m->n_params = l.n_params;
    const pt_st_tensor *t = pt_st_find(&f, "bert.embeddings.word_embeddings.weight");
    if (!t) t = pt_st_find(&f, "embeddings.word_embeddings.weight");
    snprintf(m->dtype, sizeof m->dtype, "%s", t ? pt_dtype_name(t->dtype) : "F32");
    pt_st_close(&f);
    have_file = 0;
    s = load_tokenizer(m, dir);
    if (s) goto fail;
    *out = m;
    return PT_OK;
fail:
    if (have_file) pt_st_close(&f);
    if (m) {
        m->impl = NULL;
        pt_model_free(m);
    }
    free_weights(w, c.n_layers);
    return s;
}
