/* spm.c - SentencePiece BPE (LLaMA) tokenizer, loaded from GGUF metadata
 * (tokenizer.ggml.*) or from a Hugging Face tokenizer.json (BPE with
 * byte_fallback).
 *
 * Encoding (the algorithm of llama.cpp's SPM tokenizer and llama2.c's encode):
 *   1. spaces become "▁" (U+2581); a "▁" is prepended unless add_space_prefix
 *      is off or the caller passes PT_TOK_NO_PREFIX; empty text gives no ids;
 *   2. the text is split into UTF-8 characters (symbols); a broken sequence
 *      ends at the first byte that is not a continuation byte;
 *   3. repeatedly the adjacent pair with the highest priority is merged, the
 *      leftmost pair winning ties. GGUF: a pair may merge when its
 *      concatenation is a vocabulary token, priority = that token's score.
 *      tokenizer.json: a pair may merge when it is listed in "merges",
 *      priority = -(its rank);
 *   4. each symbol maps to its id; a symbol not in the vocabulary becomes the
 *      <0xXX> tokens of its bytes (or unk when there are no byte tokens).
 * Special tokens written in the text are not recognised (encode never adds
 * them; callers insert BOS/EOS ids themselves).
 *
 * Decoding: normal tokens with "▁" -> " ", byte tokens <0xXX> -> that byte,
 * control and unused tokens (BOS, EOS, pad) -> nothing, unknown and
 * user-defined tokens -> their piece verbatim. The space that the prefix rule
 * puts before the first word is kept: decode(encode("Hi")) == " Hi". Whether
 * to strip it is the caller's (the CLI's) decision.
 *
 * Sizes: V vocabulary size, N bytes of normalized text, S symbols (<= N).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/strmap.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "tokenizers/spm_build.h"
#include "tokenizers/tokenizer.h"

/* token types as in tokenizer.ggml.token_type */
enum {
    SPM_UNDEFINED = 0,
    SPM_NORMAL = 1,
    SPM_UNKNOWN = 2,
    SPM_CONTROL = 3,
    SPM_USER_DEFINED = 4,
    SPM_UNUSED = 5,
    SPM_BYTE = 6,
};

static const char SPACE_MARK[] = "\xe2\x96\x81"; /* U+2581 "▁" */

typedef struct spm_impl {
    float *scores;        /* (V) merge priority of each token (GGUF) */
    int *types;           /* (V) SPM_* */
    int *byte_of;         /* (V) byte value of a byte token, -1 otherwise */
    int byte_id[256];     /* id of <0xXX>, -1 if absent */
    int add_space_prefix; /* prepend "▁" to text */
    int use_merges;       /* tokenizer.json: priority from merge ranks */
    pt_strmap merges;     /* "left\0right" -> rank */
} spm_impl;

typedef struct spm_sym {
    size_t start, n; /* bytes [start, start+n) of the normalized text; n 0 once merged away */
    int prev, next;  /* neighbours, -1 at the ends */
} spm_sym;

typedef struct spm_pair {
    float prio;
    int left, right;
    size_t n; /* total bytes when pushed: stale if either side changed */
} spm_pair;

/* ---------------------------------------------------------------- heap */

/* a ranks before b: higher priority, then further left */
static int pair_before(const spm_pair *a, const spm_pair *b) {
    return a->prio > b->prio || (a->prio == b->prio && a->left < b->left);
}

static void heap_push(spm_pair *h, size_t *n, spm_pair x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&x, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

static spm_pair heap_pop(spm_pair *h, size_t *n) {
    spm_pair top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && pair_before(&h[c + 1], &h[c])) c++;
        if (!pair_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

/* ---------------------------------------------------------------- encode */

static size_t utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) return 2;
    if ((c & 0xf0) == 0xe0) return 3;
    if ((c & 0xf8) == 0xf0) return 4;
    return 1; /* stray continuation or invalid byte: a symbol of its own */
}

/* Priority of merging symbols l and r (adjacent in text); 0 if they may not merge. */
static int pair_prio(const pt_tokenizer *t, const char *text, const spm_sym *l, const spm_sym *r,
                     char *scratch, float *prio) {
    const spm_impl *m = t->impl;
    int id;
    if (!pt_strmap_get(t->index, text + l->start, l->n + r->n, &id)) return 0;
    if (!m->use_merges) {
        *prio = m->scores[id];
        return 1;
    }
    /* scratch holds "left\0right" (at most N + 1 bytes) */
    memcpy(scratch, text + l->start, l->n);
    scratch[l->n] = '\0';
    memcpy(scratch + l->n + 1, text + r->start, r->n);
    int rank;
    if (!pt_strmap_get(&m->merges, scratch, l->n + 1 + r->n, &rank)) return 0;
    *prio = -(float)rank;
    return 1;
}

static void try_pair(const pt_tokenizer *t, const char *text, const spm_sym *sym, int left,
                     int right, char *scratch, spm_pair *heap, size_t *nheap) {
    if (left < 0 || right < 0) return;
    float prio;
    if (!pair_prio(t, text, &sym[left], &sym[right], scratch, &prio)) return;
    spm_pair p = {prio, left, right, sym[left].n + sym[right].n};
    heap_push(heap, nheap, p);
}

/* Append the id of symbol text[0..n), or its byte tokens. */
static pt_status emit_symbol(const pt_tokenizer *t, const char *s, size_t n, pt_ivec *out) {
    const spm_impl *m = t->impl;
    int id;
    if (pt_strmap_get(t->index, s, n, &id)) return pt_ivec_push(out, id);
    for (size_t k = 0; k < n; k++) {
        int b = m->byte_id[(unsigned char)s[k]];
        if (b < 0) b = t->unk_id;
        if (b < 0)
            return pt_fail(PT_ERR_ARG,
                           "SentencePiece: byte 0x%02X has no token and the vocabulary has no "
                           "unknown token",
                           (unsigned char)s[k]);
        pt_status st = pt_ivec_push(out, b);
        if (st) return st;
    }
    return PT_OK;
}

static pt_status spm_encode(const pt_tokenizer *t, const char *text, size_t len, int flags,
                            pt_ivec *out) {
    const spm_impl *m = t->impl;
    if (len == 0) return PT_OK;
    int prefix = m->add_space_prefix && !(flags & PT_TOK_NO_PREFIX);
    size_t cap; /* every input byte grows to at most 3 bytes, plus the prefix */
    if (!pt_mul_ok(len + 1, 3, &cap)) return pt_fail(PT_ERR_NOMEM, "text too long");
    char *norm = malloc(cap);                         /* (N) normalized text */
    char *scratch = malloc(cap + 1);                  /* (N+1) merge-pair key */
    spm_sym *sym = pt_alloc(cap, sizeof *sym);        /* (S) */
    spm_pair *heap = pt_alloc(cap, 3 * sizeof *heap); /* (3S) pairs ever pushed */
    pt_status st = PT_OK;
    if (!norm || !scratch || !sym || !heap) {
        st = pt_fail(PT_ERR_NOMEM, "out of memory encoding %zu bytes", len);
        goto done;
    }
    size_t n = 0;
    if (prefix) memcpy(norm, SPACE_MARK, 3), n = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ')
            memcpy(norm + n, SPACE_MARK, 3), n += 3;
        else
            norm[n++] = text[i];
    }
    /* symbols: one per UTF-8 character */
    int ns = 0;
    for (size_t off = 0; off < n; ns++) {
        /* the lead byte plus the continuation bytes it announces that are
         * there: a broken sequence never swallows a following space/ASCII */
        size_t want = utf8_len((unsigned char)norm[off]), cl = 1;
        while (cl < want && off + cl < n && ((unsigned char)norm[off + cl] & 0xc0) == 0x80) cl++;
        sym[ns].start = off;
        sym[ns].n = cl;
        sym[ns].prev = ns - 1;
        sym[ns].next = off + cl < n ? ns + 1 : -1;
        off += cl;
    }
    size_t nheap = 0;
    for (int i = 0; i + 1 < ns; i++) try_pair(t, norm, sym, i, i + 1, scratch, heap, &nheap);
    while (nheap) {
        spm_pair p = heap_pop(heap, &nheap);
        spm_sym *l = &sym[p.left], *r = &sym[p.right];
        if (l->n == 0 || r->n == 0 || l->next != p.right || l->n + r->n != p.n) continue;
        l->n += r->n; /* r's bytes follow l's in norm */
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = p.left;
        try_pair(t, norm, sym, l->prev, p.left, scratch, heap, &nheap);
        try_pair(t, norm, sym, p.left, l->next, scratch, heap, &nheap);
    }
    for (int i = ns ? 0 : -1; i >= 0 && !st; i = sym[i].next)
        st = emit_symbol(t, norm + sym[i].start, sym[i].n, out);
done:
    free(norm);
    free(scratch);
    free(sym);
    free(heap);
    return st;
}

/* ---------------------------------------------------------------- decode */

static pt_status spm_decode(const pt_tokenizer *t, const int *ids, size_t n, pt_buf *out) {
    const spm_impl *m = t->impl;
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        const char *p = t->pieces[id];
        pt_status st = PT_OK;
        switch (m->types[id]) {
        case SPM_CONTROL:
        case SPM_UNUSED:
            break;
        case SPM_BYTE: {
            char b = (char)m->byte_of[id];
            st = pt_buf_append(out, &b, 1);
            break;
        }
        case SPM_UNKNOWN:
        case SPM_USER_DEFINED:
            st = pt_buf_puts(out, p);
            break;
        default:
            for (const char *q; !st && (q = strstr(p, SPACE_MARK)); p = q + 3) {
                st = pt_buf_append(out, p, (size_t)(q - p));
                if (!st) st = pt_buf_append(out, " ", 1);
            }
            if (!st) st = pt_buf_puts(out, p);
        }
        if (st) return st;
    }
    return PT_OK;
}

static void spm_free(pt_tokenizer *t) {
    spm_impl *m = t->impl;
    if (!m) return;
    free(m->scores);
    free(m->types);
    free(m->byte_of);
    pt_strmap_free(&m->merges);
    free(m);
    t->impl = NULL;
}

static const pt_tok_ops spm_ops = {spm_encode, spm_decode, spm_free};

/* ---------------------------------------------------------------- loading */

/* "<0xXX>" with two upper- or lower-case hex digits -> the byte, else -1. */
static int parse_byte_piece(const char *s) {
    if (strlen(s) != 6 || strncmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A tokenizer with V empty slots and its impl. */
static pt_status spm_alloc(pt_tokenizer **out, int V, const char *src) {
    pt_tokenizer *t = calloc(1, sizeof *t);
    spm_impl *m = calloc(1, sizeof *m);
    if (t) t->impl = m, t->ops = &spm_ops;
    if (!t || !m) goto oom;
    t->kind = PT_TOK_SPM;
    t->space_sensitive = 1;
    t->vocab_size = V;
    t->bos_id = t->eos_id = t->unk_id = t->pad_id = t->mask_id = t->cls_id = t->sep_id = -1;
    t->add_bos = t->add_eos = -1;
    pt_strmap_init(&m->merges);
    m->add_space_prefix = 1;
    for (int b = 0; b < 256; b++) m->byte_id[b] = -1;
    t->pieces = pt_zalloc((size_t)V, sizeof *t->pieces);
    m->scores = pt_zalloc((size_t)V, sizeof *m->scores);
    m->types = pt_zalloc((size_t)V, sizeof *m->types);
    m->byte_of = pt_alloc((size_t)V, sizeof *m->byte_of);
    if (!t->pieces || !m->scores || !m->types || !m->byte_of) goto oom;
    *out = t;
    return PT_OK;
oom:
    pt_tok_free(t);
    if (!t) free(m);
    return pt_fail(PT_ERR_NOMEM, "%s: out of memory for a %d-token vocabulary", src, V);
}

/* Byte tables, index and special ids common to both loaders. */
static pt_status spm_finish(pt_tokenizer *t, const char *src) {
    spm_impl *m = t->impl;
    for (int i = 0; i < t->vocab_size; i++) {
        if (!t->pieces[i]) return pt_fail(PT_ERR_FORMAT, "%s: token id %d has no piece", src, i);
        if (m->types[i] < SPM_UNDEFINED || m->types[i] > SPM_BYTE)
            return pt_fail(PT_ERR_FORMAT, "%s: token %d has unknown type %d", src, i, m->types[i]);
        m->byte_of[i] = -1;
        if (m->types[i] != SPM_BYTE) continue;
        int b = parse_byte_piece(t->pieces[i]);
        if (b < 0)
            return pt_fail(PT_ERR_FORMAT, "%s: byte token %d is '%s', not <0xXX>", src, i,
                           t->pieces[i]);
        m->byte_of[i] = b;
        if (m->byte_id[b] < 0) m->byte_id[b] = i;
    }
    pt_status st = pt_tok_build_index(t);
    if (st) return pt_fail_ctx(st, "%s", src);
    if (t->unk_id < 0) t->unk_id = pt_tok_lookup(t, "<unk>");
    if (t->bos_id < 0) t->bos_id = pt_tok_lookup(t, "<s>");
    if (t->eos_id < 0) t->eos_id = pt_tok_lookup(t, "</s>");
    return PT_OK;
}

pt_status pt_spm_from_pieces(pt_tokenizer **out, const pt_spm_piece *p, int V, int add_space_prefix,
                             int bos, int eos, int unk, int pad, const char *src) {
    *out = NULL;
    if (V < 1) return pt_fail(PT_ERR_FORMAT, "%s: no pieces", src);
    pt_tokenizer *t;
    pt_status st = spm_alloc(&t, V, src);
    if (st) return st;
    spm_impl *m = t->impl;
    for (int i = 0; i < V && !st; i++) {
        if (memchr(p[i].s, 0, p[i].len))
            st = pt_fail(PT_ERR_FORMAT, "%s: piece %d contains a NUL byte", src, i);
        else if (!(t->pieces[i] = pt_strndup(p[i].s, p[i].len)))
            st = pt_fail(PT_ERR_NOMEM, "%s: out of memory", src);
        m->scores[i] = p[i].score;
        m->types[i] = p[i].type;
    }
    m->add_space_prefix = add_space_prefix;
    t->bos_id = bos, t->eos_id = eos, t->unk_id = unk, t->pad_id = pad;
    if (!st) st = spm_finish(t, src);
    if (st) {
        pt_tok_free(t);
        return st;
    }
    *out = t;
    return PT_OK;
}

/* tokenizer.ggml.<name>_token_id, -1 when absent or outside the vocabulary */
static int gguf_special(const pt_gguf *g, const char *name, int V) {
    char key[96];
    int64_t v;
    snprintf(key, sizeof key, "tokenizer.ggml.%s_token_id", name);
    if (!pt_gguf_get_int(g, key, &v) || v < 0 || v >= V) return -1;
    return (int)v;
}

pt_status pt_spm_from_gguf(pt_tokenizer **out, const pt_gguf *g) {
    *out = NULL;
    const char *src = g->path ? g->path : "<gguf>";
    char *model = pt_gguf_get_string(g, "tokenizer.ggml.model");
    int is_llama = model && strcmp(model, "llama") == 0;
    if (!is_llama) {
        pt_status st = pt_fail(PT_ERR_UNSUPPORTED,
                               "%s: tokenizer.ggml.model is '%s', not SentencePiece ('llama')", src,
                               model ? model : "(missing)");
        free(model);
        return st;
    }
    free(model);
    const pt_gguf_kv *tok = pt_gguf_find(g, "tokenizer.ggml.tokens");
    if (!tok || tok->type != PT_GGUF_ARRAY || tok->arr_type != PT_GGUF_STRING)
        return pt_fail(PT_ERR_FORMAT, "%s: tokenizer.ggml.tokens missing or not a string array",
                       src);
    if (tok->arr_n < 1 || tok->arr_n > INT32_MAX)
        return pt_fail(PT_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries", src,
                       (unsigned long long)tok->arr_n);
    int V = (int)tok->arr_n;
    /* scores and token types are optional (0 and normal/byte by spelling) */
    const pt_gguf_kv *sc = pt_gguf_find(g, "tokenizer.ggml.scores");
    const pt_gguf_kv *ty = pt_gguf_find(g, "tokenizer.ggml.token_type");
    if (sc &&
        (sc->type != PT_GGUF_ARRAY || sc->arr_type != PT_GGUF_FLOAT32 || sc->arr_n != tok->arr_n))
        return pt_fail(PT_ERR_FORMAT, "%s: tokenizer.ggml.scores is not %d float32 values", src, V);
    if (ty &&
        (ty->type != PT_GGUF_ARRAY || ty->arr_type != PT_GGUF_INT32 || ty->arr_n != tok->arr_n))
        return pt_fail(PT_ERR_FORMAT, "%s: tokenizer.ggml.token_type is not %d int32 values", src,
                       V);
    pt_tokenizer *t;
    pt_status st = spm_alloc(&t, V, src);
    if (st) return st;
    spm_impl *m = t->impl;
    for (int i = 0; i < V; i++) {
        const pt_gguf_str *s = &tok->arr_strs[i];
        if (memchr(s->s, 0, (size_t)s->len)) {
            st = pt_fail(PT_ERR_FORMAT, "%s: token %d contains a NUL byte", src, i);
            goto fail;
        }
        t->pieces[i] = pt_strndup(s->s, (size_t)s->len);
        if (!t->pieces[i]) {
            st = pt_fail(PT_ERR_NOMEM, "%s: out of memory", src);
            goto fail;
        }
        if (sc) {
            const unsigned char *p = sc->arr_data + 4 * (size_t)i; /* little-endian f32 */
            uint32_t bits =
                (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&m->scores[i], &bits, 4);
        }
        if (ty) {
            const unsigned char *p = ty->arr_data + 4 * (size_t)i;
            m->types[i] = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                    (uint32_t)p[3] << 24);
        } else {
            m->types[i] = parse_byte_piece(t->pieces[i]) >= 0 ? SPM_BYTE : SPM_NORMAL;
        }
    }
    t->bos_id = gguf_special(g, "bos", V);
    t->eos_id = gguf_special(g, "eos", V);
    t->unk_id = gguf_special(g, "unknown", V);
    t->pad_id = gguf_special(g, "padding", V);
    const pt_gguf_kv *asp = pt_gguf_find(g, "tokenizer.ggml.add_space_prefix");
    if (asp) {
        if (asp->type != PT_GGUF_BOOL) {
            st = pt_fail(PT_ERR_FORMAT, "%s: tokenizer.ggml.add_space_prefix is not a bool", src);
            goto fail;
        }
        m->add_space_prefix = (int)asp->u;
    }
    static const char *const flags[2] = {"tokenizer.ggml.add_bos_token",
                                         "tokenizer.ggml.add_eos_token"};
    for (int k = 0; k < 2; k++) {
        const pt_gguf_kv *kv = pt_gguf_find(g, flags[k]);
        if (!kv) continue;
        if (kv->type != PT_GGUF_BOOL) {
            st = pt_fail(PT_ERR_FORMAT, "%s: %s is not a bool", src, flags[k]);
            goto fail;
        }
        *(k ? &t->add_eos : &t->add_bos) = kv->u != 0;
    }
    st = spm_finish(t, src);
    if (st) goto fail;
    *out = t;
    return PT_OK;
fail:
    pt_tok_free(t);
    return st;
}

/* ---------------------------------------------------------------- tokenizer.json */

static int json_str_is(const pt_json *obj, const char *key, const char *want) {
    const char *v;
    return pt_json_get_str(obj, key, &v) && strcmp(v, want) == 0;
}

/* Does a normalizer / pre-tokenizer (possibly a Sequence) add the "▁" prefix?
 * Sets *prefix to 1 or 0 when it decides, leaves it alone otherwise. */
static void json_prefix_rule(const pt_json *node, int *prefix, int depth) {
    if (!node || node->type != PT_JSON_OBJECT || depth > 8) return;
    const char *type;
    if (!pt_json_get_str(node, "type", &type)) return;
    if (strcmp(type, "Sequence") == 0) {
        const pt_json *list = pt_json_get(node, "normalizers");
        if (!list) list = pt_json_get(node, "pretokenizers");
        if (!list || list->type != PT_JSON_ARRAY) return;
        for (size_t i = 0; i < list->len; i++) json_prefix_rule(list->items[i], prefix, depth + 1);
    } else if (strcmp(type, "Prepend") == 0) {
        if (json_str_is(node, "prepend", SPACE_MARK)) *prefix = 1;
    } else if (strcmp(type, "Metaspace") == 0) {
        const char *scheme;
        int b;
        if (pt_json_get_str(node, "prepend_scheme", &scheme))
            *prefix = strcmp(scheme, "never") != 0;
        else if (pt_json_get_bool(node, "add_prefix_space", &b))
            *prefix = b;
        else
            *prefix = 1;
    }
}

/* An id from a JSON number: integral, in [0, limit). */
static int json_id(const pt_json *v, size_t limit, int *id) {
    if (!v || v->type != PT_JSON_NUMBER || v->number < 0 || v->number >= (double)limit ||
        v->number != (double)(int)v->number)
        return 0;
    *id = (int)v->number;
    return 1;
}

/* Put piece s[0..n) at id (must be free unless it is the same string). */
static pt_status json_put_piece(pt_tokenizer *t, int id, const char *s, size_t n,
                                const char *path) {
    if (memchr(s, 0, n))
        return pt_fail(PT_ERR_FORMAT, "%s: token %d contains a NUL byte", path, id);
    if (t->pieces[id]) {
        if (strlen(t->pieces[id]) == n && memcmp(t->pieces[id], s, n) == 0) return PT_OK;
        return pt_fail(PT_ERR_FORMAT, "%s: id %d is given to both '%s' and '%.*s'", path, id,
                       t->pieces[id], (int)(n > 64 ? 64 : n), s);
    }
    t->pieces[id] = pt_strndup(s, n);
    if (!t->pieces[id]) return pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
    return PT_OK;
}

/* Read one merge (the string "a b" or the array ["a", "b"]) into key "a\0b". */
static pt_status json_merge_key(const pt_json *e, size_t k, pt_buf *key, size_t *cut,
                                const char *path) {
    key->n = 0;
    if (e->type == PT_JSON_STRING) {
        const char *sp = memchr(e->str, ' ', e->len);
        if (!sp || sp == e->str || (size_t)(sp - e->str) + 1 == e->len ||
            memchr(sp + 1, ' ', e->len - (size_t)(sp - e->str) - 1))
            return pt_fail(PT_ERR_FORMAT, "%s: model.merges[%zu] is not two pieces \"a b\"", path,
                           k);
        *cut = (size_t)(sp - e->str);
        pt_status st = pt_buf_append(key, e->str, e->len);
        if (!st) key->v[*cut] = '\0';
        return st;
    }
    if (e->type == PT_JSON_ARRAY && e->len == 2 && e->items[0]->type == PT_JSON_STRING &&
        e->items[1]->type == PT_JSON_STRING) {
        *cut = e->items[0]->len;
        pt_status st = pt_buf_append(key, e->items[0]->str, e->items[0]->len);
        if (!st) st = pt_buf_append(key, "", 1);
        if (!st) st = pt_buf_append(key, e->items[1]->str, e->items[1]->len);
        return st;
    }
    return pt_fail(PT_ERR_FORMAT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]",
                   path, k);
}

static pt_status json_merges(pt_tokenizer *t, const pt_json *merges, const char *path) {
    spm_impl *m = t->impl;
    pt_buf key = {0};
    pt_status st = PT_OK;
    for (size_t k = 0; k < merges->len && !st; k++) {
        size_t cut = 0;
        st = json_merge_key(merges->items[k], k, &key, &cut, path);
        if (st) break;
        /* "a\0b" -> "ab" must be a token */
        char *joined = malloc(key.n);
        if (!joined) {
            st = pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        memcpy(joined, key.v, cut);
        memcpy(joined + cut, key.v + cut + 1, key.n - cut - 1);
        int known = pt_strmap_get(t->index, joined, key.n - 1, NULL);
        free(joined);
        if (!known) {
            st = pt_fail(PT_ERR_FORMAT, "%s: model.merges[%zu] makes a token not in the vocabulary",
                         path, k);
            break;
        }
        if (k > INT32_MAX) {
            st = pt_fail(PT_ERR_FORMAT, "%s: too many merges", path);
            break;
        }
        if (!pt_strmap_get(&m->merges, key.v, key.n, NULL)) /* first (lowest rank) wins */
            st = pt_strmap_put(&m->merges, key.v, key.n, (int)k);
    }
    pt_buf_free(&key);
    return st;
}

pt_status pt_spm_from_tokenizer_json(pt_tokenizer **out, const pt_json *root, const char *path) {
    *out = NULL;
    const pt_json *model = pt_json_get(root, "model");
    const pt_json *vocab = pt_json_get(model, "vocab");
    const pt_json *merges = pt_json_get(model, "merges");
    const pt_json *added = pt_json_get(root, "added_tokens");
    if (!model || !json_str_is(model, "type", "BPE"))
        return pt_fail(PT_ERR_FORMAT, "%s: model.type is not \"BPE\"", path);
    if (!vocab || vocab->type != PT_JSON_OBJECT || vocab->len == 0)
        return pt_fail(PT_ERR_FORMAT, "%s: model.vocab missing or empty", path);
    if (!merges || merges->type != PT_JSON_ARRAY)
        return pt_fail(PT_ERR_FORMAT, "%s: model.merges missing or not an array", path);
    if (added && added->type != PT_JSON_ARRAY)
        return pt_fail(PT_ERR_FORMAT, "%s: added_tokens is not an array", path);
    size_t n_added = added ? added->len : 0;
    /* ids must be dense: every id below vocab + added entries */
    size_t limit = vocab->len + n_added;
    if (limit > INT32_MAX) return pt_fail(PT_ERR_FORMAT, "%s: vocabulary too large", path);
    int V = 0, id;
    for (size_t i = 0; i < vocab->len; i++) {
        if (!json_id(vocab->items[i], limit, &id))
            return pt_fail(PT_ERR_FORMAT, "%s: model.vocab['%s'] is not an id in [0, %zu)", path,
                           vocab->keys[i], limit);
        if (id >= V) V = id + 1;
    }
    for (size_t i = 0; i < n_added; i++) {
        const pt_json *a = added->items[i];
        const char *content;
        if (!json_id(pt_json_get(a, "id"), limit, &id) || !pt_json_get_str(a, "content", &content))
            return pt_fail(PT_ERR_FORMAT, "%s: added_tokens[%zu] lacks an id or content", path, i);
        if (id >= V) V = id + 1;
    }
    pt_tokenizer *t;
    pt_status st = spm_alloc(&t, V, path);
    if (st) return st;
    spm_impl *m = t->impl;
    m->use_merges = 1;
    m->add_space_prefix = 0;
    json_prefix_rule(pt_json_get(root, "normalizer"), &m->add_space_prefix, 0);
    json_prefix_rule(pt_json_get(root, "pre_tokenizer"), &m->add_space_prefix, 0);
    for (size_t i = 0; i < vocab->len && !st; i++) {
        json_id(vocab->items[i], limit, &id);
        st = json_put_piece(t, id, vocab->keys[i], vocab->key_lens[i], path);
    }
    for (size_t i = 0; i < n_added && !st; i++) {
        const pt_json *a = added->items[i];
        const pt_json *c = pt_json_get(a, "content");
        int special = 0;
        json_id(pt_json_get(a, "id"), limit, &id);
        pt_json_get_bool(a, "special", &special);
        st = json_put_piece(t, id, c->str, c->len, path);
        m->types[id] = special ? SPM_CONTROL : SPM_USER_DEFINED;
    }
    if (st) goto fail;
    const char *unk;
    for (int i = 0; i < V; i++) {
        if (!t->pieces[i] || m->types[i]) continue;
        m->types[i] = parse_byte_piece(t->pieces[i]) >= 0 ? SPM_BYTE : SPM_NORMAL;
    }
    st = spm_finish(t, path);
    if (st) goto fail;
    if (pt_json_get_str(model, "unk_token", &unk)) {
        t->unk_id = pt_tok_lookup(t, unk);
        if (t->unk_id >= 0) m->types[t->unk_id] = SPM_UNKNOWN;
    }
    st = json_merges(t, merges, path);
    if (st) goto fail;
    *out = t;
    return PT_OK;
fail:
    pt_tok_free(t);
    return st;
}

/* ---------------------------------------------------------------- GGUF export */

pt_status pt_spm_export(const pt_tokenizer *t, float *scores, int32_t *types,
                        int *add_space_prefix) {
    if (!t || t->kind != PT_TOK_SPM)
        return pt_fail(PT_ERR_ARG, "pt_spm_export: not a SentencePiece tokenizer");
    const spm_impl *m = t->impl;
    pt_buf key = {0};
    pt_status st = PT_OK;
    for (int i = 0; i < t->vocab_size && !st; i++) {
        types[i] = m->types[i];
        if (!m->use_merges) {
            scores[i] = m->scores[i];
            continue;
        }
        /* tokenizer.json: GGUF's rule merges an adjacent pair whose concatenation is a
         * token, by that token's score; the best rank of a merge making it, negated,
         * orders the tokens as the merges list does (a SentencePiece -> HF conversion lists
         * every split of a piece, in the piece's score order) */
        const char *p = t->pieces[i];
        size_t n = strlen(p);
        int best = -1;
        for (size_t cut = 1; cut < n && !st; cut++) {
            key.n = 0;
            int rank;
            if ((st = pt_buf_append(&key, p, cut)) || (st = pt_buf_append(&key, "", 1)) ||
                (st = pt_buf_append(&key, p + cut, n - cut)))
                break;
            if (pt_strmap_get(&m->merges, key.v, key.n, &rank) && (best < 0 || rank < best))
                best = rank;
        }
        scores[i] = best < 0 ? -1e9f : -(float)best;
    }
    pt_buf_free(&key);
    *add_space_prefix = m->add_space_prefix;
    return st;
}
