/* family.c - the family registry and what every family shares: symbolic
 * sizes, the table-driven config reader, size checks, parameter counts, RoPE
 * frequencies. */
#include "models/family.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "kernels/kernels.h"

static const pt_family_desc *const FAMILIES[] = {
    &pt_family_gpt2, &pt_family_bert, &pt_family_llama, &pt_family_roberta, &pt_family_qwen2,
};
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

const pt_family_desc *pt_family_get(pt_family f) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (FAMILIES[i]->id == f) return FAMILIES[i];
    return NULL;
}

const char *pt_family_name(pt_family f) {
    const pt_family_desc *d = pt_family_get(f);
    return d ? d->name : "unknown";
}

static int in_list(const char *const *list, const char *s) {
    for (; s && list && *list; list++)
        if (!strcmp(*list, s)) return 1;
    return 0;
}

const pt_family_desc *pt_family_for_hf(const char *model_type, const char *arch0) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (in_list(FAMILIES[i]->hf_types, model_type)) return FAMILIES[i];
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (in_list(FAMILIES[i]->hf_archs, arch0)) return FAMILIES[i];
    return NULL;
}

const pt_family_desc *pt_family_for_gguf(const char *arch) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (in_list(FAMILIES[i]->gguf_archs, arch)) return FAMILIES[i];
    return NULL;
}

int64_t pt_dim_value(const pt_model_config *c, pt_dim d) {
    int64_t HS = c->head_dim;
    switch (d) {
    case PT_D_1:
        return 1;
    case PT_D_C:
        return c->dim;
    case PT_D_QC:
        return (int64_t)c->n_heads * HS;
    case PT_D_KVC:
        return (int64_t)c->n_kv_heads * HS;
    case PT_D_3C:
        return 3 * (int64_t)c->dim;
    case PT_D_F:
        return c->ffn_dim;
    case PT_D_V:
        return c->vocab_size;
    case PT_D_POS:
        return (int64_t)c->max_pos + c->pos_offset;
    case PT_D_TYPES:
        return c->type_vocab;
    case PT_D_HALF_HS:
        return HS / 2;
    }
    return 0;
}

pt_weight *pt_desc_weight(pt_model *m, const pt_tensor_desc *d, int layer) {
    char *base = layer < 0 ? (char *)&m->w : (char *)&m->w.layers[layer];
    return (pt_weight *)(void *)(base + d->off);
}

/* ---- config ---- */

/* The first of the '|'-separated keys present in obj, copied to key. */
static const pt_json *hf_lookup(const pt_json *obj, const char *alts, char *key, size_t n) {
    const char *p = alts;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        snprintf(key, n, "%.*s", (int)len, p);
        const pt_json *v = pt_json_get(obj, key);
        if (v && v->type != PT_JSON_NULL) return v;
        p += len + (bar ? 1 : 0);
    }
    snprintf(key, n, "%.*s", (int)strcspn(alts, "|"), alts);
    return NULL;
}

static pt_status read_key(const pt_config_key *k, pt_model_config *c, const pt_config_src *src,
                          const char *arch) {
    char key[128] = "";
    double v = k->dflt;
    int found = 0;
    const char *pattern = src->hf ? k->hf : k->gguf;
    if (!pattern) return PT_OK; /* not in this kind of file: the family's hook sets it */
    if (src->hf) {
        const pt_json *j = hf_lookup(src->hf, k->hf, key, sizeof key);
        if (j) {
            found = 1;
            if (k->type == PT_CK_BOOL) {
                if (j->type != PT_JSON_BOOL)
                    return pt_fail(PT_ERR_FORMAT, "%s: \"%s\" must be true or false", src->path,
                                   key);
                v = j->boolean;
            } else if (j->type != PT_JSON_NUMBER) {
                return pt_fail(PT_ERR_FORMAT, "%s: \"%s\" must be a number", src->path, key);
            } else {
                v = j->number;
                if (k->type == PT_CK_INT && v != floor(v))
                    return pt_fail(PT_ERR_FORMAT, "%s: \"%s\" must be an integer", src->path, key);
            }
        }
    } else {
        snprintf(key, sizeof key, k->gguf, arch);
        const pt_gguf_kv *kv = pt_gguf_find(src->gguf, key);
        if (kv) {
            int64_t iv;
            found = 1;
            if (k->type == PT_CK_FLOAT) {
                if (!pt_gguf_get_float(src->gguf, key, &v))
                    return pt_fail(PT_ERR_FORMAT, "%s: key \"%s\" must be a number", src->path,
                                   key);
            } else if (kv->type == PT_GGUF_BOOL) {
                v = (double)kv->i;
            } else if (pt_gguf_get_int(src->gguf, key, &iv)) {
                v = (double)iv;
            } else {
                return pt_fail(PT_ERR_FORMAT, "%s: key \"%s\" must be an integer", src->path, key);
            }
        }
    }
    if (!found && k->required) return pt_fail(PT_ERR_FORMAT, "%s: missing \"%s\"", src->path, key);
    if (!(v >= k->lo && v <= k->hi))
        return pt_fail(PT_ERR_FORMAT, "%s: \"%s\" = %g out of range [%g, %g]", src->path, key, v,
                       k->lo, k->hi);
    char *field = (char *)c + k->off;
    if (k->type == PT_CK_FLOAT) {
        float f = (float)v;
        memcpy(field, &f, sizeof f);
    } else {
        int i = (int)v;
        memcpy(field, &i, sizeof i);
    }
    return PT_OK;
}

pt_status pt_family_read_config(const pt_family_desc *f, pt_model_config *c,
                                const pt_config_src *src) {
    memset(c, 0, sizeof *c);
    c->family = f->id;
    c->causal = f->causal;
    c->has_lm_head = 1;
    c->type_vocab = 1;
    const char *arch = f->gguf_archs && f->gguf_archs[0] ? f->gguf_archs[0] : f->name;
    char *garch = NULL;
    if (src->gguf) {
        garch = pt_gguf_get_string(src->gguf, "general.architecture");
        if (garch) arch = garch;
    }
    snprintf(c->arch, sizeof c->arch, "%s", arch);
    if (src->hf) {
        const char *mt = NULL;
        if (pt_json_get_str(src->hf, "model_type", &mt))
            snprintf(c->arch, sizeof c->arch, "%s", mt);
    }
    pt_status s = PT_OK;
    for (int i = 0; i < f->n_keys && !s; i++) s = read_key(&f->keys[i], c, src, arch);
    free(garch);
    if (s) return s;
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads;
    if (c->head_dim == 0 && c->n_heads > 0) c->head_dim = c->dim / c->n_heads;
    if (f->fn.config && (s = f->fn.config(c, src))) return s;
    return PT_OK;
}

pt_status pt_config_check(const pt_model_config *c, const char *src) {
    if (c->dim < 1 || c->dim > (1 << 16))
        return pt_fail(PT_ERR_FORMAT, "%s: hidden size %d out of range", src, c->dim);
    if (c->n_layers < 1 || c->n_layers > 1024)
        return pt_fail(PT_ERR_FORMAT, "%s: layer count %d out of range", src, c->n_layers);
    if (c->n_heads < 1 || c->n_heads > c->dim * 4)
        return pt_fail(PT_ERR_FORMAT, "%s: attention head count %d out of range", src, c->n_heads);
    if (c->head_dim < 1 || c->head_dim > 1024 || (int64_t)c->head_dim * c->n_heads > (1 << 18))
        return pt_fail(PT_ERR_FORMAT, "%s: head size %d out of range", src, c->head_dim);
    if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads != 0)
        return pt_fail(PT_ERR_FORMAT, "%s: %d key/value heads do not divide %d attention heads",
                       src, c->n_kv_heads, c->n_heads);
    if (c->ffn_dim < 1 || c->ffn_dim > (1 << 20))
        return pt_fail(PT_ERR_FORMAT, "%s: feed-forward size %d out of range", src, c->ffn_dim);
    if (c->vocab_size < 1 || c->vocab_size > (1 << 24))
        return pt_fail(PT_ERR_FORMAT, "%s: vocabulary size %d out of range", src, c->vocab_size);
    if (c->max_pos < 1 || c->max_pos > (1 << 24))
        return pt_fail(PT_ERR_FORMAT, "%s: context length %d out of range", src, c->max_pos);
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f))
        return pt_fail(PT_ERR_FORMAT, "%s: norm epsilon %g out of range", src, (double)c->norm_eps);
    return PT_OK;
}

int64_t pt_model_count_params(const pt_model *m) {
    const pt_family_desc *f = m->fam;
    int64_t n = 0;
    for (int i = 0; i < f->n_globals; i++) {
        const pt_weight *w = pt_desc_weight((pt_model *)m, &f->globals[i], -1);
        if (w->data && w->data != m->w.tok_embd.data) n += (int64_t)w->rows * w->cols;
    }
    n += (int64_t)m->w.tok_embd.rows * m->w.tok_embd.cols;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int i = 0; i < f->n_layer; i++) {
            const pt_weight *w = pt_desc_weight((pt_model *)m, &f->layer[i], l);
            if (w->data) n += (int64_t)w->rows * w->cols;
        }
    if (m->w.rope_freqs.data) n -= m->w.rope_freqs.cols; /* a constant, not a parameter */
    return n;
}

pt_status pt_model_init_rope(pt_model *m) {
    const pt_model_config *c = &m->cfg;
    int half = c->head_dim / 2;
    free(m->inv_freq);
    m->inv_freq = malloc(sizeof(float) * (size_t)(half > 0 ? half : 1));
    if (!m->inv_freq) return pt_fail(PT_ERR_NOMEM, "out of memory");
    pt_rope_inv_freq(m->inv_freq, c->head_dim, c->rope_theta);
    if (m->w.rope_freqs.data) { /* GGUF: factors the angle is divided by */
        const float *ff = pt_weight_f32(&m->w.rope_freqs);
        for (int i = 0; i < half; i++) m->inv_freq[i] /= ff[i];
        return PT_OK;
    }
    if (c->rope_scaling == PT_ROPE_SCALE_LINEAR) {
        for (int i = 0; i < half; i++) m->inv_freq[i] /= c->rope_factor;
    } else if (c->rope_scaling == PT_ROPE_SCALE_LLAMA3) {
        /* Hugging Face's _compute_llama3_parameters, in float: long wavelengths
         * slowed by factor, short ones kept, a smooth blend between */
        float factor = c->rope_factor, lo = c->rope_low_freq, hi = c->rope_high_freq;
        float old_ctx = (float)c->rope_orig_max_pos;
        float lo_wavelen = old_ctx / lo, hi_wavelen = old_ctx / hi;
        for (int i = 0; i < half; i++) {
            float f = m->inv_freq[i], wavelen = 2.0f * (float)M_PI / f;
            float g = wavelen > lo_wavelen ? f / factor : f;
            if (!(wavelen < hi_wavelen) && !(wavelen > lo_wavelen)) {
                float smooth = (old_ctx / wavelen - lo) / (hi - lo);
                g = (1.0f - smooth) * g / factor + smooth * g;
            }
            m->inv_freq[i] = g;
        }
    }
    return PT_OK;
}
