/* template.c - parsing and rendering P-tuning templates (see template.h). */
#include "prompt/template.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/vec.h"

#define PT_MAX_VIRTUAL 4096

static pt_status add_seg(pt_template *t, pt_seg_kind kind, const char *text, size_t len,
                         int count) {
    /* merge adjacent literal text */
    if (kind == PT_SEG_TEXT && t->n_segs && t->segs[t->n_segs - 1].kind == PT_SEG_TEXT) {
        pt_seg *s = &t->segs[t->n_segs - 1];
        size_t old = strlen(s->text);
        char *nt = realloc(s->text, old + len + 1);
        if (!nt) return pt_fail(PT_ERR_NOMEM, "out of memory");
        memcpy(nt + old, text, len);
        nt[old + len] = '\0';
        s->text = nt;
        return PT_OK;
    }
    pt_seg *ns = pt_realloc(t->segs, (size_t)t->n_segs + 1, sizeof(pt_seg));
    if (!ns) return pt_fail(PT_ERR_NOMEM, "out of memory");
    t->segs = ns;
    pt_seg *s = &t->segs[t->n_segs];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->count = count;
    if (text) {
        s->text = pt_strndup(text, len);
        if (!s->text) return pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    t->n_segs++;
    return PT_OK;
}

static pt_status add_field_name(pt_template *t, const char *name) {
    for (int i = 0; i < t->n_fields; i++)
        if (!strcmp(t->fields[i], name)) return PT_OK;
    char **nf = pt_realloc(t->fields, (size_t)t->n_fields + 1, sizeof(char *));
    if (!nf) return pt_fail(PT_ERR_NOMEM, "out of memory");
    t->fields = nf;
    t->fields[t->n_fields] = pt_strdup(name);
    if (!t->fields[t->n_fields]) return pt_fail(PT_ERR_NOMEM, "out of memory");
    t->n_fields++;
    return PT_OK;
}

/* "[P]" -> 1, "[P*12]" -> 12; returns the marker length or 0 if not a [P] marker. */
static size_t parse_virtual(const char *p, int *count, pt_status *err, size_t col) {
    *err = PT_OK;
    if (strncmp(p, "[P]", 3) == 0) {
        *count = 1;
        return 3;
    }
    if (strncmp(p, "[P*", 3) != 0) return 0;
    const char *q = p + 3;
    long n = 0;
    int digits = 0;
    while (isdigit((unsigned char)*q) && digits < 7) n = n * 10 + (*q++ - '0'), digits++;
    if (!digits || *q != ']' || n < 1 || n > PT_MAX_VIRTUAL) {
        *err = pt_fail(PT_ERR_FORMAT,
                       "template column %zu: bad virtual-token marker (write [P] or [P*n] with "
                       "1 <= n <= %d)",
                       col, PT_MAX_VIRTUAL);
        return 0;
    }
    *count = (int)n;
    return (size_t)(q + 1 - p);
}

/* Add the pending literal text as one segment (keeps parsing linear in the
 * template's length: literal text is collected in lit, not appended byte by
 * byte to a segment). */
static pt_status flush_text(pt_template *t, pt_buf *lit) {
    pt_status s = lit->n ? add_seg(t, PT_SEG_TEXT, lit->v, lit->n, 0) : PT_OK;
    lit->n = 0;
    return s;
}

pt_status pt_template_parse(pt_template *t, const char *src) {
    memset(t, 0, sizeof *t);
    pt_status s = PT_OK;
    int n_mask = 0;
    pt_buf lit = {0};
    t->source = pt_strdup(src);
    if (!t->source) return pt_fail(PT_ERR_NOMEM, "out of memory");
    const char *p = src;
    while (*p && s == PT_OK) {
        size_t col = (size_t)(p - src) + 1;
        int count;
        size_t mlen;
        if (p[0] == '{' && p[1] == '{') {
            s = pt_buf_append(&lit, "{", 1);
            p += 2;
        } else if (p[0] == '}' && p[1] == '}') {
            s = pt_buf_append(&lit, "}", 1);
            p += 2;
        } else if (*p == '{') {
            const char *e = strchr(p + 1, '}');
            if (!e) {
                s = pt_fail(PT_ERR_FORMAT, "template column %zu: unclosed '{'", col);
                break;
            }
            size_t n = (size_t)(e - p - 1);
            for (size_t i = 0; i < n; i++)
                if (!(isalnum((unsigned char)p[1 + i]) || strchr("_-.", p[1 + i]))) n = 0;
            if (n == 0) {
                s = pt_fail(PT_ERR_FORMAT,
                            "template column %zu: bad field name '%.*s' (letters, digits, _ - .)",
                            col, (int)(e - p - 1), p + 1);
                break;
            }
            s = flush_text(t, &lit);
            if (!s) s = add_seg(t, PT_SEG_FIELD, p + 1, n, 0);
            if (!s) s = add_field_name(t, t->segs[t->n_segs - 1].text);
            p = e + 1;
        } else if (*p == '}') {
            s = pt_fail(PT_ERR_FORMAT, "template column %zu: unmatched '}' (write }} for a brace)",
                        col);
        } else if (!strncmp(p, "[MASK]", 6)) {
            if (++n_mask > 1) {
                s = pt_fail(PT_ERR_FORMAT, "template column %zu: more than one [MASK]", col);
                break;
            }
            s = flush_text(t, &lit);
            if (!s) s = add_seg(t, PT_SEG_MASK, NULL, 0, 0);
            p += 6;
        } else if (!strncmp(p, "[START]", 7)) {
            if (t->has_start) {
                s = pt_fail(PT_ERR_FORMAT, "template column %zu: more than one [START]", col);
                break;
            }
            t->has_start = 1;
            s = flush_text(t, &lit);
            if (!s) s = add_seg(t, PT_SEG_START, NULL, 0, 0);
            p += 7;
        } else if ((mlen = parse_virtual(p, &count, &s, col)) > 0) {
            if (t->n_virtual + count > PT_MAX_VIRTUAL) {
                s = pt_fail(PT_ERR_FORMAT, "template: more than %d virtual tokens", PT_MAX_VIRTUAL);
                break;
            }
            s = flush_text(t, &lit);
            if (!s) s = add_seg(t, PT_SEG_VIRTUAL, NULL, 0, count);
            t->n_virtual += count;
            p += mlen;
        } else if (s == PT_OK) {
            s = pt_buf_append(&lit, p, 1);
            p++;
        }
    }
    if (s == PT_OK) s = flush_text(t, &lit);
    pt_buf_free(&lit);
    if (s == PT_OK && n_mask == 0)
        s = pt_fail(PT_ERR_FORMAT, "template has no [MASK] answer slot: \"%s\"", src);
    if (s) pt_template_free(t);
    return s;
}

void pt_template_free(pt_template *t) {
    for (int i = 0; i < t->n_segs; i++) free(t->segs[i].text);
    for (int i = 0; i < t->n_fields; i++) free(t->fields[i]);
    free(t->segs);
    free(t->fields);
    free(t->source);
    memset(t, 0, sizeof *t);
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

pt_status pt_template_check(const pt_template *t, const pt_model *m) {
    if (!m->tok)
        return pt_fail(PT_ERR_ARG, "%s: the model has no tokenizer (templates need one)", m->path);
    int mask_seg = -1;
    for (int i = 0; i < t->n_segs; i++)
        if (t->segs[i].kind == PT_SEG_MASK) mask_seg = i;
    if (m->cfg.causal) {
        for (int i = mask_seg + 1; i < t->n_segs; i++) {
            const pt_seg *s = &t->segs[i];
            int blank = s->kind == PT_SEG_TEXT;
            for (const char *c = s->text; blank && *c; c++) blank = is_space(*c);
            if (!blank)
                return pt_fail(PT_ERR_FORMAT,
                               "template: [MASK] must end the template for a causal model (%s): "
                               "the answer is predicted from the position before it",
                               pt_family_name(m->cfg.family));
        }
    } else {
        if (m->tok->mask_id < 0)
            return pt_fail(PT_ERR_FORMAT, "%s: the vocabulary has no [MASK] token", m->path);
        if (m->tok->cls_id < 0 || m->tok->sep_id < 0)
            return pt_fail(PT_ERR_FORMAT, "%s: the vocabulary lacks [CLS] or [SEP]", m->path);
    }
    return PT_OK;
}

/* Render once with the given values; no truncation. */
static pt_status render_once(const pt_template *t, const pt_model *m, const char *const *values,
                             pt_rendered *r) {
    const pt_tokenizer *tok = m->tok;
    pt_ivec ids = {0};
    pt_buf run = {0};
    pt_status s = PT_OK;
    int first_text = 1, k = 0;
    memset(r, 0, sizeof *r);
    r->virt_pos = pt_alloc((size_t)t->n_virtual + 1, sizeof(int));
    r->answer = -1;
    if (!r->virt_pos) return pt_fail(PT_ERR_NOMEM, "out of memory");
    int sp_begin, sp_end;
    pt_model_specials(m, &sp_begin, &sp_end);
    if (sp_begin >= 0 && !t->has_start) s = pt_ivec_push(&ids, sp_begin);
    for (int i = 0; i <= t->n_segs && s == PT_OK; i++) {
        const pt_seg *g = i < t->n_segs ? &t->segs[i] : NULL;
        if (g && g->kind == PT_SEG_TEXT) {
            s = pt_buf_puts(&run, g->text);
            continue;
        }
        if (g && g->kind == PT_SEG_FIELD) {
            int fi = 0;
            while (fi < t->n_fields && strcmp(t->fields[fi], g->text)) fi++;
            s = pt_buf_puts(&run, values[fi]);
            continue;
        }
        /* a marker (or the end): flush the text run */
        size_t n = run.n;
        int ws = 0;
        if (g)
            while (n > 0 && is_space(run.v[n - 1])) n--, ws = 1;
        if (n > 0) {
            s = pt_tok_encode(tok, run.v, n, first_text ? 0 : PT_TOK_NO_PREFIX, &ids);
            first_text = 0;
        }
        run.n = 0;
        if (s || !g) break;
        if (g->kind == PT_SEG_START) {
            if (sp_begin >= 0) s = pt_ivec_push(&ids, sp_begin);
        } else if (g->kind == PT_SEG_VIRTUAL) {
            for (int j = 0; j < g->count && s == PT_OK; j++) {
                r->virt_pos[k++] = (int)ids.n;
                s = pt_ivec_push(&ids, -1);
            }
        } else { /* PT_SEG_MASK */
            r->mask_space = ws;
            if (m->cfg.causal) {
                r->answer = (int)ids.n - 1;
            } else {
                r->answer = (int)ids.n;
                s = pt_ivec_push(&ids, tok->mask_id);
            }
        }
    }
    if (s == PT_OK && sp_end >= 0) s = pt_ivec_push(&ids, sp_end);
    pt_buf_free(&run);
    if (s == PT_OK && r->answer < 0)
        s = pt_fail(PT_ERR_FORMAT, "template: nothing precedes [MASK], so there is no position "
                                   "to predict the answer from");
    if (s) {
        pt_ivec_free(&ids);
        pt_rendered_free(r);
        return s;
    }
    r->ids = ids.v;
    r->n = (int)ids.n;
    return PT_OK;
}

pt_status pt_template_render(const pt_template *t, const pt_model *m, const char *const *values,
                             int max_len, pt_rendered *out) {
    for (int i = 0; i < t->n_fields; i++)
        if (!values[i]) return pt_fail(PT_ERR_FORMAT, "missing field \"%s\"", t->fields[i]);
    if (max_len <= 0 || max_len > m->cfg.max_pos) max_len = m->cfg.max_pos;
    pt_status s = render_once(t, m, values, out);
    if (s || out->n <= max_len) return s;

    /* too long: cut the longest field (by its own token count) from its end */
    char **vals = pt_zalloc((size_t)t->n_fields, sizeof(char *));
    if (!vals) return pt_fail(PT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->n_fields && s == PT_OK; i++)
        if (!(vals[i] = pt_strdup(values[i]))) s = pt_fail(PT_ERR_NOMEM, "out of memory");
    int removed = 0;
    while (s == PT_OK && out->n > max_len) {
        int excess = out->n - max_len, best = -1;
        size_t best_n = 0;
        pt_ivec fid = {0};
        for (int i = 0; i < t->n_fields && s == PT_OK; i++) {
            fid.n = 0;
            s = pt_tok_encode(m->tok, vals[i], strlen(vals[i]), PT_TOK_NO_PREFIX, &fid);
            if (fid.n > best_n) best_n = fid.n, best = i;
        }
        if (s == PT_OK && best < 0) {
            s = pt_fail(PT_ERR_FORMAT,
                        "template: its own tokens (%d) exceed the model's limit of %d positions",
                        out->n, max_len);
        } else if (s == PT_OK) {
            fid.n = 0;
            s = pt_tok_encode(m->tok, vals[best], strlen(vals[best]), PT_TOK_NO_PREFIX, &fid);
            size_t keep = fid.n > (size_t)excess ? fid.n - (size_t)excess : 0;
            pt_buf dec = {0};
            if (s == PT_OK && keep) s = pt_tok_decode(m->tok, fid.v, keep, &dec);
            if (s == PT_OK) {
                free(vals[best]);
                vals[best] = dec.v ? dec.v : pt_strdup("");
                removed += (int)(fid.n - keep);
            } else {
                pt_buf_free(&dec);
            }
        }
        pt_ivec_free(&fid);
        if (s == PT_OK) {
            pt_rendered_free(out);
            s = render_once(t, m, (const char *const *)vals, out);
        }
    }
    for (int i = 0; i < t->n_fields; i++) free(vals[i]);
    free(vals);
    if (s == PT_OK)
        out->truncated = removed;
    else
        pt_rendered_free(out);
    return s;
}

void pt_rendered_free(pt_rendered *r) {
    free(r->ids);
    free(r->virt_pos);
    memset(r, 0, sizeof *r);
}

pt_status pt_label_word_id(const pt_model *m, const char *word, int mask_space, int *id) {
    const pt_tokenizer *tok = m->tok;
    pt_buf text = {0};
    pt_ivec ids = {0};
    pt_status s = PT_OK;
    if (mask_space && tok->space_sensitive) s = pt_buf_puts(&text, " ");
    if (!s) s = pt_buf_puts(&text, word);
    if (!s) s = pt_tok_encode(tok, text.v, text.n, PT_TOK_NO_PREFIX, &ids);
    if (!s && ids.n != 1) {
        pt_buf msg = {0};
        for (size_t i = 0; i < ids.n; i++) {
            const char *p = pt_tok_piece(tok, ids.v[i]);
            pt_buf_printf(&msg, "%s'%s'", i ? " " : "", p ? p : "?");
        }
        s = pt_fail(PT_ERR_ARG,
                    "label word \"%s\" is %zu tokens (%s), not one: choose a word "
                    "that is a single token of this model",
                    text.v, ids.n, msg.v ? msg.v : "");
        pt_buf_free(&msg);
    }
    if (!s && ids.v[0] == tok->unk_id && tok->unk_id >= 0 &&
        strcmp(word, pt_tok_piece(tok, tok->unk_id)))
        s = pt_fail(PT_ERR_ARG, "label word \"%s\" is not in the vocabulary (it becomes %s)", word,
                    pt_tok_piece(tok, tok->unk_id));
    if (!s) *id = ids.v[0];
    pt_buf_free(&text);
    pt_ivec_free(&ids);
    return s;
}
