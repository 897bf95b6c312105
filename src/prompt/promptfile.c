/* promptfile.c - saving and loading prompt files (see promptfile.h). */
#include "prompt/promptfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "core/vec.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "prompt/peft.h"

void pt_prompt_set_identity(pt_prompt *p, const pt_model *m) {
    p->has_identity = 1;
    snprintf(p->family, sizeof p->family, "%s", pt_family_name(m->cfg.family));
    p->width = m->cfg.dim;
    p->vocab_size = m->cfg.vocab_size;
    pt_model_fingerprint(m, p->fingerprint);
}

/* ptune.labels: a JSON object label value -> word, in label order. */
static pt_status labels_json(const pt_task *t, pt_buf *b) {
    pt_status s = pt_buf_puts(b, "{");
    for (int k = 0; !s && k < t->n_labels; k++) {
        if (k) s = pt_buf_puts(b, ",");
        const char *v = t->label_values[k], *wd = t->label_words[k] ? t->label_words[k] : "";
        if (!s) s = pt_json_write_string(b, v, strlen(v));
        if (!s) s = pt_buf_puts(b, ":");
        if (!s) s = pt_json_write_string(b, wd, strlen(wd));
    }
    return s ? s : pt_buf_puts(b, "}");
}

pt_status pt_prompt_write_meta(const pt_prompt *p, const pt_task *t, pt_st_writer *w) {
    pt_buf labels = {0};
    pt_task parsed;
    char num[32];
    memset(&parsed, 0, sizeof parsed);
    pt_status s = pt_st_writer_meta(w, "ptune.template", p->template_src);
    if (!s)
        s = pt_st_writer_meta(w, "ptune.task",
                              p->task == PT_TASK_KNOWLEDGE ? "knowledge" : "classify");
    if (!s) s = pt_st_writer_meta(w, "ptune.head", p->head == PT_HEAD_LINEAR ? "linear" : "lm");
    if (!s && !t && p->task == PT_TASK_CLASSIFY && p->labels_spec) {
        s = pt_task_set_labels(&parsed, p->labels_spec, 0);
        parsed.kind = PT_TASK_CLASSIFY;
        t = &parsed;
    }
    if (!s && t && t->kind == PT_TASK_CLASSIFY) {
        s = labels_json(t, &labels);
        if (!s) s = pt_st_writer_meta(w, "ptune.labels", labels.v);
    }
    if (!s && p->label_field) s = pt_st_writer_meta(w, "ptune.label_field", p->label_field);
    if (!s && p->encoder) s = pt_st_writer_meta(w, "ptune.encoder", p->encoder);
    if (!s && p->method[0] && strcmp(p->method, "ptuning"))
        s = pt_st_writer_meta(w, "ptune.method", p->method);
    if (!s && p->encoder_hidden > 0) {
        snprintf(num, sizeof num, "%d", p->encoder_hidden);
        s = pt_st_writer_meta(w, "ptune.encoder_hidden", num);
    }
    if (!s && p->has_identity) {
        s = pt_st_writer_meta(w, "ptune.model.family", p->family);
        snprintf(num, sizeof num, "%d", p->width);
        if (!s) s = pt_st_writer_meta(w, "ptune.model.width", num);
        snprintf(num, sizeof num, "%d", p->vocab_size);
        if (!s) s = pt_st_writer_meta(w, "ptune.model.vocab_size", num);
        if (!s) s = pt_st_writer_meta(w, "ptune.model.fingerprint", p->fingerprint);
    }
    pt_buf_free(&labels);
    pt_task_free(&parsed);
    return s;
}

pt_status pt_prompt_save(const pt_prompt *p, const pt_task *t, const char *path) {
    pt_st_writer *w = pt_st_writer_new();
    pt_status s = w ? PT_OK : pt_fail(PT_ERR_NOMEM, "out of memory");
    int64_t sh[2] = {p->S, p->d};
    if (!s && p->S > 0) s = pt_st_writer_add_f32(w, "prompt.embeddings", 2, sh, p->table);
    int64_t dsh[2] = {p->D, p->W};
    if (!s && p->D > 0) s = pt_st_writer_add_f32(w, "prompt.deep", 2, dsh, p->deep);
    if (!s && p->head_w) {
        int64_t hw[2] = {p->n_labels, p->d}, hb[1] = {p->n_labels};
        s = pt_st_writer_add_f32(w, "head.weight", 2, hw, p->head_w);
        if (!s) s = pt_st_writer_add_f32(w, "head.bias", 1, hb, p->head_b);
    }
    if (!s) s = pt_prompt_write_meta(p, t, w);
    if (!s) s = pt_st_writer_save(w, path);
    pt_st_writer_free(w);
    return s;
}

/* ptune.labels JSON object -> "value:word,..." */
static pt_status labels_from_json(const char *json, char **spec, const char *path) {
    pt_json_doc doc;
    pt_status s = pt_json_parse(&doc, json, strlen(json));
    if (s) return pt_fail_ctx(s, "%s: ptune.labels", path);
    pt_buf b = {0};
    if (doc.root->type != PT_JSON_OBJECT || doc.root->len < 2)
        s = pt_fail(PT_ERR_FORMAT, "%s: ptune.labels must be an object of at least two labels",
                    path);
    for (size_t i = 0; !s && i < doc.root->len; i++) {
        const pt_json *v = doc.root->items[i];
        if (v->type != PT_JSON_STRING) {
            s = pt_fail(PT_ERR_FORMAT, "%s: ptune.labels values must be strings", path);
            break;
        }
        if (strchr(doc.root->keys[i], ',') || strchr(v->str, ',')) {
            s = pt_fail(PT_ERR_FORMAT, "%s: ptune.labels entries may not contain ','", path);
            break;
        }
        s = pt_buf_printf(&b, "%s%s%s%s", i ? "," : "", doc.root->keys[i], *v->str ? ":" : "",
                          v->str);
    }
    pt_json_doc_free(&doc);
    if (s) {
        pt_buf_free(&b);
        return s;
    }
    *spec = b.v;
    return PT_OK;
}

static pt_status load_tensor(const pt_st_file *f, const char *name, int ndim, int64_t *shape,
                             float **out) {
    const pt_st_tensor *t = pt_st_find(f, name);
    if (!t) return pt_fail(PT_ERR_FORMAT, "%s: no tensor \"%s\"", f->path, name);
    if (t->ndim != ndim)
        return pt_fail(PT_ERR_FORMAT, "%s: \"%s\" should have %d dimensions, has %d", f->path, name,
                       ndim, t->ndim);
    for (int i = 0; i < ndim; i++) {
        if (t->shape[i] < 1 || t->shape[i] > (1 << 24))
            return pt_fail(PT_ERR_FORMAT, "%s: \"%s\" has an implausible shape", f->path, name);
        if (shape[i] < 0) shape[i] = t->shape[i];
    }
    pt_status s = pt_st_load_f32(f, name, ndim, shape, out);
    if (s) return s;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    for (size_t i = 0; i < n; i++) {
        if (isfinite((*out)[i])) continue;
        s = pt_fail(PT_ERR_NUMERIC,
                    "%s: tensor \"%s\" holds a value that is not finite (%g at %zu)", f->path, name,
                    (double)(*out)[i], i);
        free(*out);
        *out = NULL;
        return s;
    }
    return PT_OK;
}

pt_status pt_prompt_read_meta(pt_prompt *p, const pt_st_file *f, const char *path, int optional) {
    const char *tmpl = pt_st_meta(f, "ptune.template");
    const char *task = pt_st_meta(f, "ptune.task");
    const char *head = pt_st_meta(f, "ptune.head");
    const char *labels = pt_st_meta(f, "ptune.labels");
    const char *lf = pt_st_meta(f, "ptune.label_field");
    const char *enc = pt_st_meta(f, "ptune.encoder");
    const char *hid = pt_st_meta(f, "ptune.encoder_hidden");
    pt_status s;
    if (!tmpl) {
        if (optional) return PT_OK;
        return pt_fail(PT_ERR_FORMAT, "%s: not a ptune prompt file (no ptune.template metadata)",
                       path);
    }
    p->task = task && !strcmp(task, "knowledge") ? PT_TASK_KNOWLEDGE : PT_TASK_CLASSIFY;
    if (task && strcmp(task, "knowledge") && strcmp(task, "classify"))
        return pt_fail(PT_ERR_FORMAT, "%s: unknown ptune.task \"%s\"", path, task);
    p->head = head && !strcmp(head, "linear") ? PT_HEAD_LINEAR : PT_HEAD_LM;
    if (head && strcmp(head, "linear") && strcmp(head, "lm"))
        return pt_fail(PT_ERR_FORMAT, "%s: unknown ptune.head \"%s\"", path, head);
    if (p->task == PT_TASK_CLASSIFY) {
        if (!labels)
            return pt_fail(PT_ERR_FORMAT, "%s: classification prompt without ptune.labels", path);
        if ((s = labels_from_json(labels, &p->labels_spec, path))) return s;
    }
    p->template_src = pt_strdup(tmpl);
    p->label_field = pt_strdup(lf ? lf : "label");
    p->encoder = pt_strdup(enc ? enc : "");
    if (!p->template_src || !p->label_field || !p->encoder)
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    const char *method = pt_st_meta(f, "ptune.method");
    snprintf(p->method, sizeof p->method, "%s", method ? method : "ptuning");
    if (strcmp(p->method, "ptuning") && strcmp(p->method, "prefix") &&
        strcmp(p->method, "ptuning-v2"))
        return pt_fail(PT_ERR_FORMAT, "%s: unknown ptune.method \"%s\"", path, p->method);
    p->encoder_hidden = hid ? atoi(hid) : 0;
    if (p->encoder_hidden < 0 || p->encoder_hidden > (1 << 24)) p->encoder_hidden = 0;
    const char *fam = pt_st_meta(f, "ptune.model.family");
    const char *wd = pt_st_meta(f, "ptune.model.width");
    const char *vs = pt_st_meta(f, "ptune.model.vocab_size");
    const char *fp = pt_st_meta(f, "ptune.model.fingerprint");
    if (fam && wd && vs && fp) {
        p->has_identity = 1;
        snprintf(p->family, sizeof p->family, "%s", fam);
        p->width = atoi(wd);
        p->vocab_size = atoi(vs);
        snprintf(p->fingerprint, sizeof p->fingerprint, "%s", fp);
    }
    return PT_OK;
}

static pt_status load_head(pt_prompt *p, const pt_st_file *f) {
    if (p->head != PT_HEAD_LINEAR) return PT_OK;
    int64_t hw[2] = {-1, p->d};
    pt_status s = load_tensor(f, "head.weight", 2, hw, &p->head_w);
    if (s) return s;
    p->n_labels = (int)hw[0];
    int64_t hb[1] = {p->n_labels};
    return load_tensor(f, "head.bias", 1, hb, &p->head_b);
}

static pt_status load_file(pt_prompt *p, const char *path) {
    pt_st_file f;
    pt_status s = pt_st_open(&f, path);
    if (s) return s;
    int64_t sh[2] = {-1, -1};
    if ((s = pt_prompt_read_meta(p, &f, path, 0))) goto done;
    int deep = strcmp(p->method, "ptuning") != 0;
    if (deep) {
        int64_t dsh[2] = {-1, -1};
        if ((s = load_tensor(&f, "prompt.deep", 2, dsh, &p->deep))) goto done;
        p->D = (int)dsh[0], p->W = (int)dsh[1];
    }
    if (!deep || pt_st_find(&f, "prompt.embeddings")) {
        if ((s = load_tensor(&f, "prompt.embeddings", 2, sh, &p->table))) goto done;
        p->S = (int)sh[0];
        p->d = (int)sh[1];
    } else {
        const char *wd0 = pt_st_meta(&f, "ptune.model.width");
        p->d = wd0 ? atoi(wd0) : 0; /* the head's width is the model's */
    }
    s = load_head(p, &f);
done:
    pt_st_close(&f);
    return s;
}

pt_status pt_prompt_load_ex(pt_prompt *p, const char *path, const pt_prompt_overrides *o) {
    memset(p, 0, sizeof *p);
    pt_status s;
    if (pt_is_dir(path)) {
        s = pt_peft_load(p, path, o);
    } else if (o && (o->template_text || o->labels || o->label_field || o->knowledge)) {
        s = pt_fail(PT_ERR_ARG,
                    "%s is a ptune prompt file: it carries its own template and labels (a "
                    "template, labels or label field may be given only with a PEFT adapter "
                    "directory)",
                    path);
    } else {
        s = load_file(p, path);
    }
    if (s) pt_prompt_free(p);
    return s;
}

pt_status pt_prompt_load(pt_prompt *p, const char *path) {
    return pt_prompt_load_ex(p, path, NULL);
}

pt_status pt_prompt_check_model(const pt_prompt *p, const pt_model *m, int *warn) {
    *warn = 0;
    int deep_only = p->D > 0 && p->S == 0 && !p->head_w;
    if (p->d != m->cfg.dim && !(deep_only && p->d == 0))
        return pt_fail(PT_ERR_MISMATCH,
                       "prompt width %d does not match the model's embedding width %d: this "
                       "prompt was trained for another model",
                       p->d, m->cfg.dim);
    if (p->D > 0) {
        size_t want = (size_t)m->cfg.n_layers * 2 * m->cfg.n_kv_heads * m->cfg.head_dim;
        if ((size_t)p->W != want)
            return pt_fail(PT_ERR_MISMATCH,
                           "deep prompt rows of %d values do not match this model's %zu (layers x "
                           "2 x key/value width): it was trained for another model",
                           p->W, want);
        if ((p->peft_layers && p->peft_layers != m->cfg.n_layers) ||
            (p->peft_kv_heads && p->peft_kv_heads != m->cfg.n_kv_heads))
            return pt_fail(PT_ERR_MISMATCH,
                           "the PREFIX_TUNING adapter is for %d layers of %d key/value heads; "
                           "this model has %d layers of %d",
                           p->peft_layers, p->peft_kv_heads, m->cfg.n_layers, m->cfg.n_kv_heads);
    }
    if (!p->has_identity) {
        *warn = 1;
        return PT_OK;
    }
    char fp[17], old[17];
    pt_model_fingerprint(m, fp);
    pt_model_fingerprint_old(m, old);
    int old_match = strcmp(p->fingerprint, fp) && !strcmp(p->fingerprint, old);
    if (strcmp(p->family, pt_family_name(m->cfg.family)) || p->width != m->cfg.dim ||
        p->vocab_size != m->cfg.vocab_size || (strcmp(p->fingerprint, fp) && !old_match))
        return pt_fail(PT_ERR_MISMATCH,
                       "prompt was trained for another model (%s, width %d, vocab %d, "
                       "fingerprint %s); this model is %s, width %d, vocab %d, fingerprint %s",
                       p->family, p->width, p->vocab_size, p->fingerprint,
                       pt_family_name(m->cfg.family), m->cfg.dim, m->cfg.vocab_size, fp);
    if (old_match) *warn = 2; /* written by ptune 0.1: accepted with a note */
    return PT_OK;
}

void pt_prompt_free(pt_prompt *p) {
    free(p->template_src);
    free(p->labels_spec);
    free(p->label_field);
    free(p->encoder);
    free(p->table);
    free(p->deep);
    free(p->head_w);
    free(p->head_b);
    memset(p, 0, sizeof *p);
}
