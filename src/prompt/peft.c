/* peft.c - PEFT prompt-learning adapter directories (see peft.h). */
#include "prompt/peft.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "core/vec.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "models/family.h"
#include "prompt/template.h"

#define PEFT_MAX_VIRTUAL 4096

/* ---- reading ---- */

typedef struct peft_config {
    const char *peft_type, *task_type;
    int n_virtual, token_dim, submodules;
    int prefix;           /* PREFIX_TUNING: prompt_embeddings holds every layer's keys/values */
    int layers, kv_heads; /* its num_layers, num_attention_heads (the key/value heads) */
} peft_config;

static pt_status read_config(pt_json_doc *doc, peft_config *c, const char *path) {
    char *text;
    size_t len;
    pt_status s = pt_read_file(path, &text, &len);
    if (s) return s;
    s = pt_json_parse(doc, text, len);
    free(text);
    if (s) return pt_fail_ctx(s, "%s", path);
    const pt_json *r = doc->root;
    memset(c, 0, sizeof *c);
    c->submodules = 1;
    if (r->type != PT_JSON_OBJECT)
        return pt_fail(PT_ERR_FORMAT, "%s: expected a JSON object", path);
    if (!pt_json_get_str(r, "peft_type", &c->peft_type))
        return pt_fail(PT_ERR_FORMAT, "%s: no \"peft_type\" string", path);
    c->prefix = !strcmp(c->peft_type, "PREFIX_TUNING");
    if (!c->prefix && strcmp(c->peft_type, "P_TUNING") && strcmp(c->peft_type, "PROMPT_TUNING"))
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: peft_type \"%s\" is not a prompt-learning adapter ptune can use "
                       "(P_TUNING, PROMPT_TUNING or PREFIX_TUNING)",
                       path, c->peft_type);
    const pt_json *tt = pt_json_get(r, "task_type");
    if (tt && tt->type == PT_JSON_STRING) c->task_type = tt->str;
    if (c->task_type && !strcmp(c->task_type, "SEQ_2_SEQ_LM"))
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: a SEQ_2_SEQ_LM adapter is for encoder-decoder models; ptune's "
                       "models are decoder-only or encoder-only",
                       path);
    if (!pt_json_get_int(r, "num_virtual_tokens", &c->n_virtual) || c->n_virtual < 1 ||
        c->n_virtual > PEFT_MAX_VIRTUAL)
        return pt_fail(PT_ERR_FORMAT, "%s: \"num_virtual_tokens\" must be an integer in 1..%d",
                       path, PEFT_MAX_VIRTUAL);
    if (!pt_json_get_int(r, "token_dim", &c->token_dim) || c->token_dim < 1 ||
        c->token_dim > (1 << 20))
        return pt_fail(PT_ERR_FORMAT, "%s: \"token_dim\" must be a positive integer", path);
    const pt_json *sm = pt_json_get(r, "num_transformer_submodules");
    if (sm && sm->type != PT_JSON_NULL &&
        (!pt_json_get_int(r, "num_transformer_submodules", &c->submodules) || c->submodules != 1))
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: \"num_transformer_submodules\" must be 1 (2 means an "
                       "encoder-decoder model's two prompt copies)",
                       path);
    if (!c->prefix) return PT_OK;
    /* PEFT views each row as (num_layers * 2, num_attention_heads, token_dim / heads) */
    if (!pt_json_get_int(r, "num_layers", &c->layers) || c->layers < 1 || c->layers > 4096)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: a PREFIX_TUNING adapter needs \"num_layers\" (a positive integer)",
                       path);
    if (!pt_json_get_int(r, "num_attention_heads", &c->kv_heads) || c->kv_heads < 1 ||
        c->token_dim % c->kv_heads)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: a PREFIX_TUNING adapter needs \"num_attention_heads\" (a positive "
                       "integer dividing token_dim %d)",
                       path, c->token_dim);
    return PT_OK;
}

static pt_status read_weights(pt_prompt *p, const peft_config *c, const char *path, int *has_meta) {
    pt_st_file f;
    pt_status s = pt_st_open(&f, path);
    if (s) return s;
    const pt_st_tensor *t = pt_st_find(&f, "prompt_embeddings");
    for (int i = 0; !s && i < f.n_tensors; i++)
        if (strcmp(f.tensors[i].name, "prompt_embeddings"))
            s = pt_fail(PT_ERR_UNSUPPORTED,
                        "%s: tensor \"%s\" besides prompt_embeddings: ptune uses only the "
                        "prompt (a classifier head of a SEQ_CLS adapter has no counterpart in "
                        "ptune)",
                        path, f.tensors[i].name);
    if (!s && !t) s = pt_fail(PT_ERR_FORMAT, "%s: no tensor \"prompt_embeddings\"", path);
    /* PREFIX_TUNING: (num_virtual_tokens, num_layers * 2 * token_dim), every layer's keys
     * and values, stored as ptune's deep prompt (the same layout: promptfile.h) */
    int64_t cols = c->prefix ? (int64_t)c->layers * 2 * c->token_dim : c->token_dim;
    if (!s && (t->ndim != 2 || t->shape[0] != c->n_virtual || t->shape[1] != cols))
        s = pt_fail(PT_ERR_FORMAT,
                    "%s: prompt_embeddings should be (%d, %lld) as adapter_config.json says "
                    "(num_virtual_tokens, %s)",
                    path, c->n_virtual, (long long)cols,
                    c->prefix ? "num_layers x 2 x token_dim" : "token_dim");
    int64_t sh[2] = {c->n_virtual, cols};
    if (!s) s = pt_st_load_f32(&f, "prompt_embeddings", 2, sh, c->prefix ? &p->deep : &p->table);
    if (!s && c->prefix) {
        p->D = c->n_virtual;
        p->W = (int)cols;
        p->peft_layers = c->layers;
        p->peft_kv_heads = c->kv_heads;
    } else if (!s) {
        p->S = c->n_virtual;
        p->d = c->token_dim;
    }
    if (!s) {
        s = pt_prompt_read_meta(p, &f, path, 1);
        *has_meta = p->template_src != NULL;
    }
    if (!s && c->prefix) {
        if (!*has_meta) snprintf(p->method, sizeof p->method, "prefix");
        p->d = p->has_identity ? p->width : 0; /* no input rows: the width is only checked */
    }
    if (!s && *has_meta && c->prefix != !!strcmp(p->method, "ptuning"))
        s = pt_fail(PT_ERR_FORMAT, "%s: ptune.method \"%s\" contradicts peft_type %s", path,
                    p->method, c->peft_type);
    if (!s && *has_meta && p->head != PT_HEAD_LM)
        s = pt_fail(PT_ERR_FORMAT, "%s: ptune.head must be lm in a PEFT adapter", path);
    pt_st_close(&f);
    return s;
}

static pt_status replace_str(char **dst, const char *src) {
    char *v = pt_strdup(src);
    if (!v) return pt_fail(PT_ERR_NOMEM, "out of memory");
    free(*dst);
    *dst = v;
    return PT_OK;
}

/* Overrides and defaults on top of what the files said. */
static pt_status apply_overrides(pt_prompt *p, const pt_prompt_overrides *o, int has_meta,
                                 const char *dir) {
    pt_status s = PT_OK;
    char implied[64];
    if (p->D > 0) /* a deep prompt: no virtual tokens; the start token first as PEFT does */
        snprintf(implied, sizeof implied, "{text} [MASK]");
    else
        snprintf(implied, sizeof implied, "[P*%d][START]{text} [MASK]", p->S);
    const char *tmpl = o && o->template_text ? o->template_text : has_meta ? NULL : implied;
    if (tmpl) s = replace_str(&p->template_src, tmpl);
    if (!s && o && o->labels && o->knowledge)
        s = pt_fail(PT_ERR_ARG, "labels and knowledge probing exclude each other");
    if (!s && o && o->knowledge) {
        p->task = PT_TASK_KNOWLEDGE;
        free(p->labels_spec);
        p->labels_spec = NULL;
    } else if (!s && o && o->labels) {
        p->task = PT_TASK_CLASSIFY;
        s = replace_str(&p->labels_spec, o->labels);
    }
    if (!s && (o && o->label_field ? 1 : !p->label_field))
        s = replace_str(&p->label_field, o && o->label_field ? o->label_field : "label");
    if (!s && !p->encoder) s = replace_str(&p->encoder, "peft");
    if (s) return s;
    /* the template must have a virtual token for every row */
    pt_template t;
    if ((s = pt_template_parse(&t, p->template_src))) return pt_fail_ctx(s, "%s", dir);
    int nv = t.n_virtual;
    pt_template_free(&t);
    if (nv != p->S && p->D > 0)
        return pt_fail(PT_ERR_ARG,
                       "%s: the template \"%s\" has %d virtual tokens, but a PREFIX_TUNING "
                       "adapter has no input prompt (its keys and values go to every layer): "
                       "write the template without [P]",
                       dir, p->template_src, nv);
    if (nv != p->S)
        return pt_fail(PT_ERR_ARG,
                       "%s: the template \"%s\" has %d virtual tokens but the adapter's "
                       "prompt_embeddings has %d rows (write [P*%d])",
                       dir, p->template_src, nv, p->S, p->S);
    return PT_OK;
}

pt_status pt_peft_load(pt_prompt *p, const char *dir, const pt_prompt_overrides *o) {
    memset(p, 0, sizeof *p);
    char *cfg_path = pt_path_join(dir, PT_PEFT_CONFIG);
    char *w_path = pt_path_join(dir, PT_PEFT_WEIGHTS);
    char *bin_path = pt_path_join(dir, "adapter_model.bin");
    pt_json_doc doc = {0};
    peft_config c;
    int has_meta = 0, have_doc = 0;
    pt_status s = cfg_path && w_path && bin_path ? PT_OK : pt_fail(PT_ERR_NOMEM, "out of memory");
    if (!s && !pt_file_exists(cfg_path))
        s = pt_fail(PT_ERR_IO,
                    "%s: a directory without %s: not a PEFT adapter (a prompt is a ptune "
                    "prompt file or a PEFT adapter directory)",
                    dir, PT_PEFT_CONFIG);
    if (!s) {
        s = read_config(&doc, &c, cfg_path);
        have_doc = 1;
    }
    if (!s && !pt_file_exists(w_path))
        s = pt_fail(PT_ERR_IO, "%s: no %s%s", dir, PT_PEFT_WEIGHTS,
                    pt_file_exists(bin_path)
                        ? " (adapter_model.bin, a PyTorch pickle, is not read: save the adapter "
                          "with safe_serialization=True)"
                        : "");
    if (!s) s = read_weights(p, &c, w_path, &has_meta);
    if (!s) s = apply_overrides(p, o, has_meta, dir);
    p->peft = has_meta ? 1 : 2;
    if (have_doc) pt_json_doc_free(&doc);
    free(cfg_path);
    free(w_path);
    free(bin_path);
    if (s) pt_prompt_free(p);
    return s;
}

/* ---- the layout PEFT uses ---- */

/* The family a prompt records (NULL when it records none, or an unknown one). */
static const pt_family_desc *recorded_family(const pt_prompt *p) {
    for (int f = 0; p->has_identity && f < PT_FAMILY_COUNT; f++) {
        const pt_family_desc *d = pt_family_get((pt_family)f);
        if (d && !strcmp(d->name, p->family)) return d;
    }
    return NULL;
}

/* 1: the family puts a start token ([CLS], BOS) before a text; -1: unknown. */
static int has_start_token(const pt_prompt *p, const pt_model *m) {
    if (m) {
        int b, e;
        pt_model_specials(m, &b, &e);
        return b >= 0;
    }
    const pt_family_desc *d = recorded_family(p);
    return d ? d->special.begin != PT_SP_NONE : -1;
}

/* A deep prompt (prefix, ptuning-v2) as PEFT's PREFIX_TUNING: its keys and values
 * only (no input rows, no head), and the model to tell PEFT's layer and head counts. */
static pt_status check_deep(const pt_prompt *p, const pt_model *m) {
    const char *method = p->method[0] ? p->method : "prefix";
    if (p->S > 0)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "the prompt has input virtual tokens besides its deep prompt; a PEFT "
                       "PREFIX_TUNING adapter holds only the per-layer keys and values");
    if (p->head != PT_HEAD_LM)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "the %s prompt has a linear head (head.weight, head.bias; ptuning-v2's "
                       "default): a PEFT PREFIX_TUNING adapter holds only prompt_embeddings, so "
                       "the head would be lost. Train with --head lm (label words) to export",
                       method);
    if (!m)
        return pt_fail(PT_ERR_ARG,
                       "a deep prompt needs --model to export: PREFIX_TUNING's num_layers and "
                       "num_attention_heads come from the model");
    return PT_OK;
}

pt_status pt_peft_check_layout(const pt_prompt *p, const pt_model *m) {
    static const char why[] = "PEFT puts all virtual tokens before the whole input, before its "
                              "BOS or [CLS] token";
    if (p->D > 0) return check_deep(p, m);
    if (p->head != PT_HEAD_LM)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "the prompt has a linear head (head.weight, head.bias): a PEFT "
                       "prompt-learning adapter holds only prompt_embeddings");
    pt_template t;
    pt_status s = pt_template_parse(&t, p->template_src);
    if (s) return s;
    int groups = 0;
    for (int i = 0; i < t.n_segs; i++) groups += t.segs[i].kind == PT_SEG_VIRTUAL;
    int first = t.n_segs > 0 && t.segs[0].kind == PT_SEG_VIRTUAL;
    int start_next = t.n_segs > 1 && t.segs[1].kind == PT_SEG_START;
    int start = first ? has_start_token(p, m) : 0;
    if (groups == 0)
        s = pt_fail(PT_ERR_UNSUPPORTED, "the template \"%s\" has no virtual tokens",
                    p->template_src);
    else if (groups > 1)
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "the template \"%s\" has virtual tokens in %d places; %s, so it can hold "
                    "only one group, at the start",
                    p->template_src, groups, why);
    else if (!first)
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "the template \"%s\" does not begin with its virtual tokens; %s, so PEFT "
                    "would use them elsewhere than where they were trained",
                    p->template_src, why);
    else if (start < 0 && !start_next)
        s = pt_fail(PT_ERR_ARG,
                    "the prompt does not say which model family it was trained for: give "
                    "the model, to tell whether a start token (BOS, [CLS]) comes first");
    else if (start > 0 && !start_next)
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "the template \"%s\" puts the virtual tokens after the model's start "
                    "token (ptune's default); %s. Train with \"[P*%d][START]...\" (virtual "
                    "tokens, then the start token) to place them as PEFT does",
                    p->template_src, why, t.n_virtual);
    pt_template_free(&t);
    return s;
}

/* ---- writing ---- */

typedef struct kv {
    const char *key;
    char val[80];
} kv;

static int kv_cmp(const void *a, const void *b) {
    return strcmp(((const kv *)a)->key, ((const kv *)b)->key);
}

/* adapter_config.json as PEFT writes it: json.dumps(indent=2, sort_keys=True). */
static pt_status config_json(const pt_prompt *p, const pt_model *m, pt_buf *b) {
    kv e[20];
    int n = 0;
    int prefix = p->D > 0; /* PREFIX_TUNING: checked with a model (check_deep) */
    int tuning = !prefix && (!strcmp(p->encoder ? p->encoder : "", "lstm") ||
                             !strcmp(p->encoder ? p->encoder : "", "mlp"));
    int lstm = tuning && !strcmp(p->encoder, "lstm");
    const pt_family_desc *fam = recorded_family(p);
    int causal = m ? m->cfg.causal : fam ? fam->causal : 1;
#define PUT(k, ...) (e[n].key = (k), snprintf(e[n].val, sizeof e[n].val, __VA_ARGS__), n++)
    PUT("auto_mapping", "null");
    PUT("inference_mode", "true");
    PUT("num_transformer_submodules", "1");
    PUT("num_virtual_tokens", "%d", prefix ? p->D : p->S);
    PUT("peft_type", "\"%s\"", prefix ? "PREFIX_TUNING" : tuning ? "P_TUNING" : "PROMPT_TUNING");
    PUT("revision", "null");
    PUT("task_type", "\"%s\"", causal ? "CAUSAL_LM" : "FEATURE_EXTRACTION");
    if (prefix) {
        /* PEFT's _prepare_prompt_learning_config for PREFIX_TUNING on a model whose config
         * has num_key_value_heads (GQA): token_dim = the key/value width, heads = KV heads;
         * for the others these are the same numbers. Each row is viewed as (num_layers * 2,
         * heads, token_dim / heads): layer l's key at 2l, its value at 2l + 1. */
        PUT("num_attention_heads", "%d", m->cfg.n_kv_heads);
        PUT("num_layers", "%d", m->cfg.n_layers);
        PUT("token_dim", "%d", m->cfg.n_kv_heads * m->cfg.head_dim);
        PUT("prefix_projection", "false"); /* the file holds the encoder's output */
        PUT("encoder_hidden_size", "%d",
            p->encoder_hidden > 0 ? p->encoder_hidden : m->cfg.n_kv_heads * m->cfg.head_dim);
    } else if (m) {
        PUT("token_dim", "%d", p->d);
        PUT("num_attention_heads", "%d", m->cfg.n_heads);
        PUT("num_layers", "%d", m->cfg.n_layers);
    } else {
        PUT("token_dim", "%d", p->d);
        PUT("num_attention_heads", "null");
        PUT("num_layers", "null");
    }
    if (tuning) {
        int h = lstm ? p->d / 2 : p->encoder_hidden;
        PUT("encoder_reparameterization_type", "\"%s\"", lstm ? "LSTM" : "MLP");
        if (h > 0)
            PUT("encoder_hidden_size", "%d", h);
        else
            PUT("encoder_hidden_size", "null");
        PUT("encoder_num_layers", "2");
        PUT("encoder_dropout", "0.0");
    } else if (!prefix) {
        PUT("prompt_tuning_init", "\"RANDOM\"");
        PUT("prompt_tuning_init_text", "null");
        PUT("tokenizer_name_or_path", "null");
        PUT("tokenizer_kwargs", "null");
    }
#undef PUT
    e[n++].key = "base_model_name_or_path"; /* value written below (any length) */
    qsort(e, (size_t)n, sizeof e[0], kv_cmp);
    pt_status s = pt_buf_puts(b, "{");
    for (int i = 0; !s && i < n; i++) {
        s = pt_buf_printf(b, "%s\n  \"%s\": ", i ? "," : "", e[i].key);
        if (!s && strcmp(e[i].key, "base_model_name_or_path"))
            s = pt_buf_puts(b, e[i].val);
        else if (!s && m)
            s = pt_json_write_string(b, m->path, strlen(m->path));
        else if (!s)
            s = pt_buf_puts(b, "null");
    }
    return s ? s : pt_buf_puts(b, "\n}");
}

static pt_status make_dir(const char *dir) {
    if (mkdir(dir, 0777) == 0) return PT_OK;
    if (errno == EEXIST && pt_is_dir(dir)) return PT_OK;
    return pt_fail(PT_ERR_IO, "%s: cannot create the adapter directory: %s", dir, strerror(errno));
}

pt_status pt_peft_export(const pt_prompt *p, const pt_model *m, const char *dir) {
    if (!m && !recorded_family(p))
        return pt_fail(PT_ERR_ARG,
                       "the prompt does not say which model family it was trained for: give "
                       "the model (adapter_config.json's task_type depends on it)");
    pt_status s = pt_peft_check_layout(p, m);
    if (s) return s;
    if (m) {
        int warn;
        if ((s = pt_prompt_check_model(p, m, &warn))) return s;
    }
    char *cfg_path = pt_path_join(dir, PT_PEFT_CONFIG);
    char *w_path = pt_path_join(dir, PT_PEFT_WEIGHTS);
    pt_st_writer *w = pt_st_writer_new();
    pt_buf cfg = {0};
    int64_t sh[2] = {p->D > 0 ? p->D : p->S, p->D > 0 ? p->W : p->d};
    s = cfg_path && w_path && w ? PT_OK : pt_fail(PT_ERR_NOMEM, "out of memory");
    if (!s) s = make_dir(dir);
    if (!s) s = pt_st_writer_add_f32(w, "prompt_embeddings", 2, sh, p->D > 0 ? p->deep : p->table);
    if (!s) s = pt_st_writer_meta(w, "format", "pt");
    if (!s) s = pt_prompt_write_meta(p, NULL, w);
    if (!s) s = config_json(p, m, &cfg);
    if (!s) s = pt_st_writer_save(w, w_path);
    if (!s) s = pt_write_file_atomic(cfg_path, cfg.v, cfg.n);
    pt_buf_free(&cfg);
    pt_st_writer_free(w);
    free(cfg_path);
    free(w_path);
    return s;
}
