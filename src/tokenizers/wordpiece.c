/* wordpiece.c - BERT WordPiece: the basic tokenizer of Hugging Face's
 * BertNormalizer + BertPreTokenizer, then greedy longest-match-first WordPiece.
 *
 * Encoding one piece of text:
 *   1. special tokens ([CLS] [SEP] [MASK] [PAD] [UNK], and the model's unk
 *      token) written literally in the raw text become their ids; they are
 *      matched before any normalisation and only with exact case, like
 *      Hugging Face's added tokens ("normalized": false). The text between
 *      them is processed on its own:
 *   2. clean_text: drop U+0000, U+FFFD and general category C* (Cc Cf Cn Co Cs)
 *      except \t \n \r; map White_Space characters to ' '.
 *   3. handle_chinese_chars: put ' ' around code points in the CJK ideograph
 *      blocks (the ranges of HF tokenizers' BertNormalizer; kana and Hangul are
 *      not among them).
 *   4. strip_accents (default: follows lowercase): NFD, drop category Mn.
 *   5. lowercase: full per-code-point lowercase mapping (no final-sigma rule,
 *      like the Rust normalizer; U+0130 -> "i" U+0307).
 *   6. pre-tokenize: split on White_Space (dropped) and punctuation (ASCII
 *      33-47, 58-64, 91-96, 123-126 or category P*; each its own word).
 *   7. each word: more than max_input_chars_per_word code points -> unk;
 *      otherwise repeatedly take the longest vocabulary entry that starts the
 *      rest of the word ("##"-prefixed after the first piece); if some rest
 *      has no entry the whole word becomes unk.
 * Steps 2-5 follow the order of the Rust BertNormalizer (the Python
 * BertTokenizer lowercases before NFD; the results agree).
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "core/strmap.h"
#include "formats/json.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode_bert.h"

#define WP_MAX_SPECIAL 6
/* Bound on max_input_chars_per_word from a file (Hugging Face uses 100): the
 * greedy longest-match search costs about n^3 byte operations per word. */
#define WP_MAX_WORD_CHARS 1000

typedef struct wp_impl {
    int clean_text, chinese, strip_accents, lowercase;
    int max_chars; /* max_input_chars_per_word */
    char *prefix;  /* continuing_subword_prefix, "##" */
    size_t prefix_len;
    int special[WP_MAX_SPECIAL]; /* ids of tokens matched literally in raw text */
    int nspecial;
} wp_impl;

/* growable array of code points */
typedef struct u32vec {
    uint32_t *v; // (cap)
    size_t n, cap;
} u32vec;

static pt_status u32_reserve(u32vec *a, size_t extra) {
    size_t need;
    if (!pt_add_ok(a->n, extra, &need)) return pt_fail(PT_ERR_NOMEM, "wordpiece: text too long");
    if (need <= a->cap) return PT_OK;
    size_t cap = a->cap ? a->cap : 64;
    while (cap < need) {
        if (!pt_mul_ok(cap, 2, &cap)) return pt_fail(PT_ERR_NOMEM, "wordpiece: text too long");
    }
    uint32_t *v = pt_realloc(a->v, cap, sizeof *v);
    if (!v) return pt_fail(PT_ERR_NOMEM, "wordpiece: out of memory");
    a->v = v;
    a->cap = cap;
    return PT_OK;
}

static void wp_free_impl(pt_tokenizer *t) {
    wp_impl *w = t->impl;
    if (w) free(w->prefix);
    free(w);
    t->impl = NULL;
}

/* ---- encoding ---------------------------------------------------------- */

/* The CJK ideograph ranges of HF tokenizers' BertNormalizer (is_chinese_char). */
static int is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_bert_punct(uint32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    return pt_uni_is_punct(c);
}

/* scratch buffers of one encode call */
typedef struct wp_work {
    u32vec a, b; // code points between normalisation steps
    char *bytes; // (bytes_cap) UTF-8 of the current word
    size_t bytes_cap;
    size_t *offs; // (offs_cap) byte offset of each code point of the word, plus the end
    size_t offs_cap;
    char *key; // (key_cap) prefix + candidate piece
    size_t key_cap;
} wp_work;

static void wp_work_free(wp_work *k) {
    free(k->a.v);
    free(k->b.v);
    free(k->bytes);
    free(k->offs);
    free(k->key);
}

static pt_status grow_bytes(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return PT_OK;
    char *q = realloc(*p, need);
    if (!q) return pt_fail(PT_ERR_NOMEM, "wordpiece: out of memory");
    *p = q;
    *cap = need;
    return PT_OK;
}

/* WordPiece on one word cps[0..n) (n >= 1); appends ids to out. */
static pt_status wp_word(const pt_tokenizer *t, wp_work *k, const uint32_t *cps, size_t n,
                         pt_ivec *out) {
    const wp_impl *w = t->impl;
    if (n > (size_t)w->max_chars) return pt_ivec_push(out, t->unk_id);
    size_t nb, n1;
    if (!pt_mul_ok(n, 4, &nb) || !pt_add_ok(n, 1, &n1) || !pt_add_ok(nb, w->prefix_len, &nb))
        return pt_fail(PT_ERR_NOMEM, "wordpiece: word too long");
    pt_status s = grow_bytes(&k->bytes, &k->bytes_cap, nb);
    if (!s) s = grow_bytes(&k->key, &k->key_cap, nb);
    if (s) return s;
    if (n1 > k->offs_cap) {
        size_t *o = pt_realloc(k->offs, n1, sizeof *o);
        if (!o) return pt_fail(PT_ERR_NOMEM, "wordpiece: out of memory");
        k->offs = o;
        k->offs_cap = n1;
    }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        k->offs[i] = pos;
        pos += pt_utf8_encode(cps[i], k->bytes + pos);
    }
    k->offs[n] = pos;

    size_t mark = out->n; /* pieces pushed for this word, dropped if it fails */
    memcpy(k->key, w->prefix, w->prefix_len);
    size_t start = 0;
    while (start < n) {
        size_t end = n;
        int id = -1;
        while (end > start) {
            /* candidate: bytes of chars [start, end), "##"-prefixed unless first */
            size_t plen = start > 0 ? w->prefix_len : 0;
            size_t blen = k->offs[end] - k->offs[start];
            memcpy(k->key + w->prefix_len, k->bytes + k->offs[start], blen);
            const char *cand = k->key + w->prefix_len - plen;
            if (pt_strmap_get(t->index, cand, plen + blen, &id)) break;
            id = -1;
            end--;
        }
        if (id < 0) {
            out->n = mark;
            return pt_ivec_push(out, t->unk_id);
        }
        s = pt_ivec_push(out, id);
        if (s) return s;
        start = end;
    }
    return PT_OK;
}

/* Normalise, pre-tokenize and WordPiece text[0..len) (no special tokens in it). */
static pt_status wp_segment(const pt_tokenizer *t, wp_work *k, const unsigned char *text,
                            size_t len, pt_ivec *out) {
    const wp_impl *w = t->impl;
    u32vec *a = &k->a, *b = &k->b;
    a->n = 0;
    b->n = 0;
    /* decode + clean_text + chinese chars: at most 3 code points per byte */
    size_t cap3;
    if (!pt_mul_ok(len, 3, &cap3)) return pt_fail(PT_ERR_NOMEM, "wordpiece: text too long");
    pt_status s = u32_reserve(a, cap3);
    if (s) return s;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        i += pt_utf8_decode(text + i, len - i, &c);
        if (w->clean_text) {
            if (c == 0 || c == 0xFFFD) continue;
            int ws = c == '\t' || c == '\n' || c == '\r';
            if (!ws && pt_uni_is_other(c)) continue;
            if (pt_uni_is_space(c)) c = ' ';
        }
        if (w->chinese && is_cjk(c)) {
            a->v[a->n++] = ' ';
            a->v[a->n++] = c;
            a->v[a->n++] = ' ';
        } else {
            a->v[a->n++] = c;
        }
    }
    /* strip accents: NFD, canonical ordering, drop Mn */
    if (w->strip_accents) {
        for (size_t i = 0; i < a->n; i++) {
            s = u32_reserve(b, PT_UNI_MAX_DECOMP);
            if (s) return s;
            b->n += (size_t)pt_uni_decompose(a->v[i], b->v + b->n);
        }
        pt_uni_reorder(b->v, b->n);
        size_t m = 0;
        for (size_t i = 0; i < b->n; i++)
            if (!pt_uni_is_mn(b->v[i])) b->v[m++] = b->v[i];
        b->n = m;
        u32vec tmp = *a;
        *a = *b;
        *b = tmp;
        b->n = 0;
    }
    if (w->lowercase) {
        for (size_t i = 0; i < a->n; i++) {
            s = u32_reserve(b, PT_UNI_MAX_LOWER);
            if (s) return s;
            b->n += (size_t)pt_uni_lower(a->v[i], b->v + b->n);
        }
        u32vec tmp = *a;
        *a = *b;
        *b = tmp;
        b->n = 0;
    }
    /* pre-tokenize: words are runs of a->v between whitespace and punctuation */
    size_t word = 0;
    for (size_t i = 0; i <= a->n; i++) {
        int brk = i == a->n, punct = 0;
        if (!brk) {
            uint32_t c = a->v[i];
            punct = is_bert_punct(c);
            brk = punct || pt_uni_is_space(c);
        }
        if (!brk) continue;
        if (i > word) {
            s = wp_word(t, k, a->v + word, i - word, out);
            if (s) return s;
        }
        if (punct) {
            s = wp_word(t, k, a->v + i, 1, out);
            if (s) return s;
        }
        word = i + 1;
    }
    return PT_OK;
}

static pt_status wp_encode(const pt_tokenizer *t, const char *text, size_t len, int flags,
                           pt_ivec *out) {
    (void)flags;
    const wp_impl *w = t->impl;
    const unsigned char *u = (const unsigned char *)text;
    wp_work k = {0};
    pt_status s = PT_OK;
    size_t seg = 0; /* start of the text not yet encoded */
    for (size_t i = 0; i <= len && !s; i++) {
        /* leftmost, then longest, literal special token at i */
        int best = -1;
        size_t best_len = 0;
        for (int j = 0; j < w->nspecial && i < len; j++) {
            const char *p = t->pieces[w->special[j]];
            size_t pl = strlen(p);
            if (pl > best_len && pl <= len - i && memcmp(text + i, p, pl) == 0)
                best = w->special[j], best_len = pl;
        }
        if (best < 0 && i < len) continue;
        if (i > seg) s = wp_segment(t, &k, u + seg, i - seg, out);
        if (!s && best >= 0) s = pt_ivec_push(out, best);
        seg = i + best_len;
        if (best >= 0) i += best_len - 1;
    }
    wp_work_free(&k);
    return s;
}

/* ---- decoding ---------------------------------------------------------- */

/* Like HF convert_tokens_to_string: pieces joined by spaces, a piece starting
 * with the continuation prefix glued to the previous one without it. */
static pt_status wp_decode(const pt_tokenizer *t, const int *ids, size_t n, pt_buf *out) {
    const wp_impl *w = t->impl;
    for (size_t i = 0; i < n; i++) {
        const char *p = t->pieces[ids[i]];
        pt_status s = PT_OK;
        if (i > 0) {
            if (w->prefix_len && strncmp(p, w->prefix, w->prefix_len) == 0)
                p += w->prefix_len;
            else
                s = pt_buf_append(out, " ", 1);
        }
        if (!s) s = pt_buf_puts(out, p);
        if (s) return s;
    }
    return PT_OK;
}

static const pt_tok_ops wp_ops = {wp_encode, wp_decode, wp_free_impl};

/* ---- loading ----------------------------------------------------------- */

static pt_tokenizer *wp_new(void) {
    pt_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ops = &wp_ops;
    t->kind = PT_TOK_WORDPIECE;
    t->space_sensitive = 0;
    t->bos_id = t->eos_id = t->unk_id = t->pad_id = t->mask_id = t->cls_id = t->sep_id = -1;
    t->add_bos = t->add_eos = -1;
    t->impl = calloc(1, sizeof(wp_impl));
    if (!t->impl) {
        free(t);
        return NULL;
    }
    return t;
}

/* After pieces and impl flags are set: index, special ids, checks. */
static pt_status wp_finish(pt_tokenizer *t, const char *path, const char *unk_token) {
    wp_impl *w = t->impl;
    pt_status s = pt_tok_build_index(t);
    if (s) return pt_fail_ctx(s, "%s", path);
    t->unk_id = pt_tok_lookup(t, unk_token);
    if (t->unk_id < 0)
        return pt_fail(PT_ERR_FORMAT, "%s: vocabulary has no unknown token \"%s\"", path,
                       unk_token);
    t->cls_id = pt_tok_lookup(t, "[CLS]");
    t->sep_id = pt_tok_lookup(t, "[SEP]");
    t->mask_id = pt_tok_lookup(t, "[MASK]");
    t->pad_id = pt_tok_lookup(t, "[PAD]");
    int cand[WP_MAX_SPECIAL] = {
        t->cls_id, t->sep_id, t->mask_id, t->pad_id, pt_tok_lookup(t, "[UNK]"), t->unk_id};
    for (int i = 0; i < WP_MAX_SPECIAL; i++) {
        int dup = cand[i] < 0 || t->pieces[cand[i]][0] == '\0';
        for (int j = 0; j < w->nspecial && !dup; j++) dup = w->special[j] == cand[i];
        if (!dup) w->special[w->nspecial++] = cand[i];
    }
    return PT_OK;
}

static pt_status wp_set_prefix(wp_impl *w, const char *prefix) {
    w->prefix = pt_strdup(prefix);
    if (!w->prefix) return pt_fail(PT_ERR_NOMEM, "out of memory");
    w->prefix_len = strlen(prefix);
    return PT_OK;
}

pt_status pt_wordpiece_load_vocab(pt_tokenizer **out, const char *vocab_txt, int lowercase) {
    char *buf = NULL;
    size_t len = 0;
    pt_tokenizer *t = NULL;
    pt_status s = pt_read_file(vocab_txt, &buf, &len);
    if (s) return s;
    /* one token per line; a final newline does not start another token */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    if (len > 0 && buf[len - 1] != '\n') lines++;
    if (lines == 0) {
        s = pt_fail(PT_ERR_FORMAT, "%s: empty vocabulary", vocab_txt);
        goto done;
    }
    if (lines > INT_MAX) {
        s = pt_fail(PT_ERR_FORMAT, "%s: %zu lines is too many tokens", vocab_txt, lines);
        goto done;
    }
    t = wp_new();
    if (!t || !(t->pieces = pt_zalloc(lines, sizeof(char *)))) {
        s = pt_fail(PT_ERR_NOMEM, "%s: out of memory", vocab_txt);
        goto done;
    }
    t->vocab_size = (int)lines;
    size_t start = 0;
    for (size_t i = 0; i < lines; i++) {
        size_t end = start;
        while (end < len && buf[end] != '\n') end++;
        size_t next = end + 1;
        if (end > start && buf[end - 1] == '\r') end--;
        if (memchr(buf + start, '\0', end - start)) {
            s = pt_fail(PT_ERR_FORMAT, "%s: line %zu: NUL byte in token", vocab_txt, i + 1);
            goto done;
        }
        t->pieces[i] = pt_strndup(buf + start, end - start);
        if (!t->pieces[i]) {
            s = pt_fail(PT_ERR_NOMEM, "%s: out of memory", vocab_txt);
            goto done;
        }
        start = next;
    }
    wp_impl *w = t->impl;
    w->clean_text = 1;
    w->chinese = 1;
    w->lowercase = lowercase != 0;
    w->strip_accents = lowercase != 0;
    w->max_chars = 100;
    s = wp_set_prefix(w, "##");
    if (!s) s = wp_finish(t, vocab_txt, "[UNK]");
done:
    free(buf);
    if (s)
        pt_tok_free(t);
    else
        *out = t;
    return s;
}

/* Optional boolean member: absent or null keeps *v; otherwise must be a bool. */
static pt_status json_flag(const pt_json *obj, const char *key, int *v, const char *path) {
    const pt_json *m = pt_json_get(obj, key);
    if (!m || m->type == PT_JSON_NULL) return PT_OK;
    if (m->type != PT_JSON_BOOL)
        return pt_fail(PT_ERR_FORMAT, "%s: normalizer.%s must be true or false", path, key);
    *v = m->boolean;
    return PT_OK;
}

/* Optional string member: absent keeps *v; otherwise must be a string without NULs. */
static pt_status json_string(const pt_json *obj, const char *key, const char **v,
                             const char *path) {
    const pt_json *m = pt_json_get(obj, key);
    if (!m) return PT_OK;
    if (m->type != PT_JSON_STRING || strlen(m->str) != m->len)
        return pt_fail(PT_ERR_FORMAT, "%s: model.%s must be a string", path, key);
    *v = m->str;
    return PT_OK;
}

/* Normalizer and pre-tokenizer settings of a tokenizer.json. */
static pt_status json_settings(wp_impl *w, const pt_json *root, const char *path) {
    const pt_json *norm = pt_json_get(root, "normalizer");
    if (norm && norm->type != PT_JSON_NULL) {
        const char *type = NULL;
        if (norm->type != PT_JSON_OBJECT || !pt_json_get_str(norm, "type", &type))
            return pt_fail(PT_ERR_FORMAT, "%s: normalizer must be an object with a type", path);
        if (strcmp(type, "BertNormalizer") != 0)
            return pt_fail(PT_ERR_UNSUPPORTED,
                           "%s: normalizer type \"%s\" is not supported for WordPiece "
                           "(expected BertNormalizer)",
                           path, type);
        /* BertNormalizer defaults; strip_accents null -> follows lowercase */
        int clean = 1, chinese = 1, lower = 1, strip = -1;
        pt_status s = json_flag(norm, "clean_text", &clean, path);
        if (!s) s = json_flag(norm, "handle_chinese_chars", &chinese, path);
        if (!s) s = json_flag(norm, "lowercase", &lower, path);
        if (!s) s = json_flag(norm, "strip_accents", &strip, path);
        if (s) return s;
        w->clean_text = clean;
        w->chinese = chinese;
        w->lowercase = lower;
        w->strip_accents = strip < 0 ? lower : strip;
    }
    const pt_json *pre = pt_json_get(root, "pre_tokenizer");
    if (pre && pre->type != PT_JSON_NULL) {
        const char *type = NULL;
        if (pre->type != PT_JSON_OBJECT || !pt_json_get_str(pre, "type", &type))
            return pt_fail(PT_ERR_FORMAT, "%s: pre_tokenizer must be an object with a type", path);
        if (strcmp(type, "BertPreTokenizer") != 0)
            return pt_fail(PT_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer type \"%s\" is not supported for WordPiece "
                           "(expected BertPreTokenizer)",
                           path, type);
    }
    return PT_OK;
}

pt_status pt_wordpiece_from_tokenizer_json(pt_tokenizer **out, const pt_json *root,
                                           const char *path) {
    const pt_json *model = root ? pt_json_get(root, "model") : NULL;
    const char *type = NULL;
    if (!model || model->type != PT_JSON_OBJECT)
        return pt_fail(PT_ERR_FORMAT, "%s: no \"model\" object", path);
    if (!pt_json_get_str(model, "type", &type) || strcmp(type, "WordPiece") != 0)
        return pt_fail(PT_ERR_FORMAT, "%s: model.type must be \"WordPiece\"", path);
    const pt_json *vocab = pt_json_get(model, "vocab");
    if (!vocab || vocab->type != PT_JSON_OBJECT)
        return pt_fail(PT_ERR_FORMAT, "%s: model.vocab must be an object", path);
    if (vocab->len == 0) return pt_fail(PT_ERR_FORMAT, "%s: empty vocabulary", path);
    if (vocab->len > INT_MAX)
        return pt_fail(PT_ERR_FORMAT, "%s: model.vocab has too many tokens", path);

    const char *unk = "[UNK]", *prefix = "##";
    pt_status s = json_string(model, "unk_token", &unk, path);
    if (!s) s = json_string(model, "continuing_subword_prefix", &prefix, path);
    if (s) return s;
    int max_chars = 100;
    const pt_json *mc = pt_json_get(model, "max_input_chars_per_word");
    if (mc && mc->type != PT_JSON_NULL &&
        (!pt_json_get_int(model, "max_input_chars_per_word", &max_chars) || max_chars < 1 ||
         max_chars > WP_MAX_WORD_CHARS))
        return pt_fail(PT_ERR_FORMAT,
                       "%s: model.max_input_chars_per_word must be a positive integer (at most %d)",
                       path, WP_MAX_WORD_CHARS);

    pt_tokenizer *t = wp_new();
    if (!t || !(t->pieces = pt_zalloc(vocab->len, sizeof(char *)))) {
        pt_tok_free(t);
        return pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
    }
    int n = (int)vocab->len;
    t->vocab_size = n;
    wp_impl *w = t->impl;
    w->max_chars = max_chars;
    s = json_settings(w, root, path);
    if (!s) s = wp_set_prefix(w, prefix);
    for (int i = 0; i < n && !s; i++) {
        const char *key = vocab->keys[i];
        const pt_json *v = vocab->items[i];
        double id = v->type == PT_JSON_NUMBER ? v->number : -1;
        if (v->type != PT_JSON_NUMBER || !(id >= 0 && id < n) || floor(id) != id)
            s = pt_fail(PT_ERR_FORMAT, "%s: model.vocab[\"%s\"]: id must be an integer in [0, %d)",
                        path, key, n);
        else if (strlen(key) != vocab->key_lens[i])
            s = pt_fail(PT_ERR_FORMAT, "%s: model.vocab: token %d contains a NUL", path, (int)id);
        else if (t->pieces[(int)id])
            s = pt_fail(PT_ERR_FORMAT, "%s: model.vocab: id %d used twice (\"%s\", \"%s\")", path,
                        (int)id, t->pieces[(int)id], key);
        else if (!(t->pieces[(int)id] = pt_strdup(key)))
            s = pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
    }
    /* n distinct ids in [0, n): every slot is filled */
    if (!s) s = wp_finish(t, path, unk);
    if (s) {
        pt_tok_free(t);
        return s;
    }
    *out = t;
    return PT_OK;
}
