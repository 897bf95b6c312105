/* task.c - labels, knowledge probing and example rendering (see task.h). */
#include "prompt/task.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"

static char *trim_dup(const char *a, const char *z) {
    while (a < z && (*a == ' ' || *a == '\t')) a++;
    while (z > a && (z[-1] == ' ' || z[-1] == '\t')) z--;
    return pt_strndup(a, (size_t)(z - a));
}

pt_status pt_task_set_labels(pt_task *t, const char *spec, int need_words) {
    const char *p = spec;
    int cap = 0;
    if (!spec || !*spec) return pt_fail(PT_ERR_ARG, "--labels is empty");
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e) e = p + strlen(p);
        const char *colon = NULL;
        for (const char *q = p; q < e; q++)
            if (*q == ':') colon = q;
        if (t->n_labels == cap) {
            cap = cap ? cap * 2 : 8;
            char **nv = pt_realloc(t->label_values, (size_t)cap, sizeof(char *));
            if (!nv) return pt_fail(PT_ERR_NOMEM, "out of memory");
            t->label_values = nv;
            char **nw = pt_realloc(t->label_words, (size_t)cap, sizeof(char *));
            if (!nw) return pt_fail(PT_ERR_NOMEM, "out of memory");
            t->label_words = nw;
        }
        int k = t->n_labels;
        t->label_values[k] = trim_dup(p, colon ? colon : e);
        t->label_words[k] = colon ? trim_dup(colon + 1, e) : NULL;
        t->n_labels++;
        if (!t->label_values[k] || (colon && !t->label_words[k]))
            return pt_fail(PT_ERR_NOMEM, "out of memory");
        if (!*t->label_values[k])
            return pt_fail(PT_ERR_ARG, "--labels: empty label value in \"%s\"", spec);
        if (need_words && (!colon || !*t->label_words[k]))
            return pt_fail(PT_ERR_ARG,
                           "--labels: label \"%s\" has no word; write value:word pairs, e.g. "
                           "\"pos:great,neg:terrible\"",
                           t->label_values[k]);
        for (int j = 0; j < k; j++)
            if (!strcmp(t->label_values[j], t->label_values[k]))
                return pt_fail(PT_ERR_ARG, "--labels: label \"%s\" given twice",
                               t->label_values[k]);
        p = *e ? e + 1 : e;
    }
    if (t->n_labels < 2) return pt_fail(PT_ERR_ARG, "--labels: need at least two labels");
    return PT_OK;
}

pt_status pt_task_init(pt_task *t, const pt_model *m, const char *tmpl, pt_task_kind kind,
                       pt_head_kind head, const char *labels, const char *label_field) {
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->head = head;
    pt_status s = pt_template_parse(&t->tmpl, tmpl);
    if (s) return s;
    if (!(t->label_field = pt_strdup(label_field ? label_field : "label")))
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    if ((s = pt_template_check(&t->tmpl, m))) goto fail;
    if (head == PT_HEAD_LM && !m->cfg.has_lm_head) {
        s = pt_fail(PT_ERR_ARG, "%s: this checkpoint has no LM head; use --head linear",
                    m->path);
        goto fail;
    }
    if (kind == PT_TASK_KNOWLEDGE) {
        if (head != PT_HEAD_LM) {
            s = pt_fail(PT_ERR_ARG, "--knowledge scores the vocabulary: it needs --head lm");
            goto fail;
        }
        return PT_OK;
    }
    if (!labels) {
        s = pt_fail(PT_ERR_ARG, "classification needs --labels (or --knowledge)");
        goto fail;
    }
    if ((s = pt_task_set_labels(t, labels, head == PT_HEAD_LM))) goto fail;
    if (head == PT_HEAD_LM) {
        for (int v = 0; v < 2; v++) {
            t->label_ids[v] = pt_alloc((size_t)t->n_labels, sizeof(int));
            if (!t->label_ids[v]) {
                s = pt_fail(PT_ERR_NOMEM, "out of memory");
                goto fail;
            }
        }
        /* which spacing the template uses at [MASK]: render with empty fields */
        const char **empty = pt_zalloc((size_t)t->tmpl.n_fields + 1, sizeof(char *));
        if (!empty) {
            s = pt_fail(PT_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < t->tmpl.n_fields; i++) empty[i] = "x";
        pt_rendered r;
        s = pt_template_render(&t->tmpl, m, empty, 0, &r);
        free(empty);
        if (s) goto fail;
        int used = r.mask_space;
        pt_rendered_free(&r);
        for (int k = 0; k < t->n_labels; k++) {
            for (int v = 0; v < 2; v++) {
                s = pt_label_word_id(m, t->label_words[k], v, &t->label_ids[v][k]);
                if (s && v == used) goto fail;
                if (s) t->label_ids[v][k] = -1;
            }
            s = PT_OK;
        }
    }
    return PT_OK;
fail:
    pt_task_free(t);
    return s;
}

pt_status pt_task_load_vocab_filter(pt_task *t, const pt_model *m, const char *path) {
    char *text;
    size_t len;
    pt_status s = pt_read_file(path, &text, &len);
    if (s) return s;
    pt_ivec ids = {0};
    int line = 0;
    char *p = text;
    while (*p && s == PT_OK) {
        char *e = strchr(p, '\n');
        if (!e) e = p + strlen(p);
        line++;
        char *w = trim_dup(p, e > p && e[-1] == '\r' ? e - 1 : e);
        if (!w) s = pt_fail(PT_ERR_NOMEM, "out of memory");
        else if (*w) {
            int id;
            s = pt_label_word_id(m, w, m->tok->space_sensitive, &id);
            if (s) pt_fail_ctx(s, "%s line %d", path, line);
            else s = pt_ivec_push(&ids, id);
        }
        free(w);
        p = *e ? e + 1 : e;
    }
    free(text);
    if (s == PT_OK && ids.n == 0) s = pt_fail(PT_ERR_FORMAT, "%s: no words", path);
    if (s) {
        pt_ivec_free(&ids);
        return s;
    }
    free(t->vocab_filter);
    t->vocab_filter = ids.v;
    t->n_filter = (int)ids.n;
    return PT_OK;
}

void pt_task_free(pt_task *t) {
    pt_template_free(&t->tmpl);
    for (int i = 0; i < t->n_labels; i++) {
        free(t->label_values[i]);
        if (t->label_words) free(t->label_words[i]);
    }
    free(t->label_values);
    free(t->label_words);
    free(t->label_ids[0]);
    free(t->label_ids[1]);
    free(t->label_field);
    free(t->vocab_filter);
    memset(t, 0, sizeof *t);
}

int pt_task_n_scores(const pt_task *t, const pt_model *m) {
    return t->kind == PT_TASK_KNOWLEDGE ? m->cfg.vocab_size : t->n_labels;
}

static pt_status example_target(const pt_task *t, const pt_model *m, const char *value,
                                const pt_rendered *r, int *target, const char *path, int line) {
    if (t->kind == PT_TASK_KNOWLEDGE) {
        pt_status s = pt_label_word_id(m, value, r->mask_space, target);
        return s ? pt_fail_ctx(s, "%s line %d", path, line) : PT_OK;
    }
    for (int k = 0; k < t->n_labels; k++)
        if (!strcmp(value, t->label_values[k])) {
            *target = k;
            if (t->head == PT_HEAD_LM && t->label_ids[r->mask_space][k] < 0)
                return pt_fail(PT_ERR_ARG, "%s line %d: label word \"%s\" is not one token here",
                               path, line, t->label_words[k]);
            return PT_OK;
        }
    pt_buf known = {0};
    for (int k = 0; k < t->n_labels; k++)
        pt_buf_printf(&known, "%s\"%s\"", k ? ", " : "", t->label_values[k]);
    pt_status s = pt_fail(PT_ERR_FORMAT, "%s line %d: label \"%s\" is not one of --labels (%s)",
                          path, line, value, known.v ? known.v : "");
    pt_buf_free(&known);
    return s;
}

pt_status pt_examples_build(pt_examples *out, const pt_task *t, const pt_model *m,
                            const pt_dataset *d, int need_labels, int max_len) {
    memset(out, 0, sizeof *out);
    int nf = t->tmpl.n_fields;
    int *col = pt_alloc((size_t)nf + 1, sizeof(int));
    const char **vals = pt_alloc((size_t)nf + 1, sizeof(char *));
    out->ex = pt_zalloc((size_t)d->n, sizeof(pt_example));
    pt_status s = PT_OK;
    if (!col || !vals || !out->ex) {
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nf; i++) {
        col[i] = pt_dataset_field(d, t->tmpl.fields[i]);
        if (col[i] < 0) {
            pt_buf have = {0};
            for (int k = 0; k < d->n_fields; k++)
                pt_buf_printf(&have, "%s%s", k ? ", " : "", d->fields[k]);
            s = pt_fail(PT_ERR_FORMAT, "template field {%s} is not in %s (fields: %s)",
                        t->tmpl.fields[i], d->path, have.v ? have.v : "none");
            pt_buf_free(&have);
            goto done;
        }
    }
    int lcol = pt_dataset_field(d, t->label_field);
    if (need_labels && lcol < 0) {
        s = pt_fail(PT_ERR_FORMAT, "%s has no label field \"%s\" (set it with --label-field)",
                    d->path, t->label_field);
        goto done;
    }
    for (int i = 0; i < d->n; i++) {
        for (int f = 0; f < nf; f++) {
            vals[f] = pt_dataset_value(d, i, col[f]);
            if (!vals[f]) {
                s = pt_fail(PT_ERR_FORMAT, "%s line %d: field \"%s\" is missing", d->path,
                            d->line[i], t->tmpl.fields[f]);
                goto done;
            }
        }
        pt_example *e = &out->ex[i];
        s = pt_template_render(&t->tmpl, m, vals, max_len, &e->r);
        if (s) {
            pt_fail_ctx(s, "%s line %d", d->path, d->line[i]);
            goto done;
        }
        out->n = i + 1;
        if (e->r.truncated) out->truncated++;
        if (e->r.n > out->max_len) out->max_len = e->r.n;
        e->target = -1;
        const char *lv = pt_dataset_value(d, i, lcol);
        if (lv) {
            s = example_target(t, m, lv, &e->r, &e->target, d->path, d->line[i]);
            if (s && (need_labels || t->kind == PT_TASK_CLASSIFY)) goto done;
            s = PT_OK;
        } else if (need_labels) {
            s = pt_fail(PT_ERR_FORMAT, "%s line %d: no \"%s\" value", d->path, d->line[i],
                        t->label_field);
            goto done;
        }
    }
done:
    free(col);
    free(vals);
    if (s) pt_examples_free(out);
    return s;
}

void pt_examples_free(pt_examples *e) {
    for (int i = 0; i < e->n; i++) pt_rendered_free(&e->ex[i].r);
    free(e->ex);
    memset(e, 0, sizeof *e);
}
