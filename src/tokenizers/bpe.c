/* bpe.c - GPT-2 byte-level BPE: loaders, encode (pre-tokenize, map bytes to
 * symbols, merge by rank, cached per word) and decode.
 *
 * Text is cut into pre-tokens by the GPT-2 pattern (bpe_pretok.c). Each
 * pre-token's bytes start as the vocabulary ids of their byte symbols (GPT-2's
 * byte -> unicode map: ' ' -> "Ġ", ...); adjacent pairs are then merged, always
 * the pair with the lowest merge rank first, leftmost on ties, until no listed
 * pair remains. Encoding works on ids: merges are a hash map (left id, right id)
 * -> (rank, merged id).
 *
 * Special tokens: "<|endoftext|>" appearing inside the text is encoded as plain
 * text (13 ordinary tokens), never as the special id; callers add special ids
 * themselves (tokenizer.h: encoding never adds special tokens).
 *
 * Results per pre-token are cached (pre-tokens up to BPE_CACHE_MAX_WORD bytes, at
 * most BPE_CACHE_MAX_ENTRIES of them); the cache sits behind a mutex, so one
 * tokenizer may encode from several threads.
 *
 * Symbols: V vocabulary size, M number of merges, W bytes in one pre-token.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "core/strmap.h"
#include "formats/json.h"
#include "tokenizers/bpe_build.h"
#include "tokenizers/bpe_pretok.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode_nfc.h"

#define BPE_CACHE_MAX_WORD 64        /* longer pre-tokens are not cached */
#define BPE_CACHE_MAX_ENTRIES 262144 /* stop caching beyond this many words */
#define BPE_MAX_VOCAB 10000000

typedef struct bpe_pair {
    uint64_t key; /* (left id << 32) | right id; 0 = empty slot is impossible: see pair_key */
    int rank;
    int merged; /* id of the merged symbol */
} bpe_pair;

typedef struct bpe_impl {
    int byte_id[256]; /* id of each byte's symbol */
    bpe_pair *pairs;  /* (pair_cap) open addressing */
    size_t pair_cap;  /* power of two */
    int n_merges;     /* M */
    int add_prefix_space;
    pt_pretok pretok; /* how text is cut into pre-tokens */
    int nfc;          /* tokenizer.json normalizer NFC: text must already be NFC */
    /* word cache: pre-token bytes -> index into cache_span */
    pthread_mutex_t lock;
    pt_strmap cache;
    pt_ivec cache_span; /* (2 * entries): offset, length into cache_ids */
    pt_ivec cache_ids;
} bpe_impl;

/* ---- merge table ---------------------------------------------------------- */

/* +1 on both ids keeps key 0 free as the empty marker. */
static uint64_t pair_key(int a, int b) {
    return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
}

static size_t pair_slot(const bpe_impl *p, uint64_t key) {
    size_t mask = p->pair_cap - 1;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask; /* Fibonacci hashing */
    while (p->pairs[i].key && p->pairs[i].key != key) i = (i + 1) & mask;
    return i;
}

/* Rank of pair (a, b) or -1; merged id in *merged. */
static int pair_rank(const bpe_impl *p, int a, int b, int *merged) {
    if (!p->pair_cap) return -1;
    const bpe_pair *e = &p->pairs[pair_slot(p, pair_key(a, b))];
    if (!e->key) return -1;
    *merged = e->merged;
    return e->rank;
}

/* ---- BPE on one pre-token ------------------------------------------------- */

typedef struct bpe_scratch {
    int *id, *prev, *next; /* (W) symbols as a linked list; id -1 = merged away */
    int *heap;             /* (3W) candidate pairs: (rank, pos) packed as 2 ints */
    size_t cap;            /* W capacity */
} bpe_scratch;

static void scratch_free(bpe_scratch *s) {
    free(s->id);
    free(s->prev);
    free(s->next);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

static pt_status scratch_reserve(bpe_scratch *s, size_t w) {
    if (w <= s->cap) return PT_OK;
    size_t cap = w < 256 ? 256 : w;
    scratch_free(s);
    s->id = pt_alloc(cap, sizeof(int));
    s->prev = pt_alloc(cap, sizeof(int));
    s->next = pt_alloc(cap, sizeof(int));
    s->heap = pt_alloc(cap, 6 * sizeof(int));
    if (!s->id || !s->prev || !s->next || !s->heap) {
        scratch_free(s);
        return pt_fail(PT_ERR_NOMEM, "bpe: out of memory for a %zu-byte word", w);
    }
    s->cap = cap;
    return PT_OK;
}

/* heap of (rank, pos) pairs, smallest rank first, then smallest pos */
static int heap_less(const int *h, size_t i, size_t j) {
    return h[2 * i] < h[2 * j] || (h[2 * i] == h[2 * j] && h[2 * i + 1] < h[2 * j + 1]);
}

static void heap_swap(int *h, size_t i, size_t j) {
    int r = h[2 * i], p = h[2 * i + 1];
    h[2 * i] = h[2 * j], h[2 * i + 1] = h[2 * j + 1];
    h[2 * j] = r, h[2 * j + 1] = p;
}

static void heap_push(int *h, size_t *n, int rank, int pos) {
    size_t i = (*n)++;
    h[2 * i] = rank, h[2 * i + 1] = pos;
    while (i > 0 && heap_less(h, i, (i - 1) / 2)) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_pop(int *h, size_t *n, int *rank, int *pos) {
    *rank = h[0], *pos = h[1];
    heap_swap(h, 0, --(*n));
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && heap_less(h, l, m)) m = l;
        if (r < *n && heap_less(h, r, m)) m = r;
        if (m == i) break;
        heap_swap(h, i, m);
        i = m;
    }
}

static void push_pair(const bpe_impl *p, bpe_scratch *s, size_t *hn, int pos) {
    if (pos < 0) return;
    int merged, nx = s->next[pos];
    if (nx < 0) return;
    int r = pair_rank(p, s->id[pos], s->id[nx], &merged);
    if (r >= 0) heap_push(s->heap, hn, r, pos);
}

/* Merge the W bytes of word and append the resulting ids to out. */
static pt_status bpe_word(const bpe_impl *p, bpe_scratch *s, const unsigned char *word, size_t w,
                          pt_ivec *out) {
    pt_status st = scratch_reserve(s, w);
    if (st) return st;
    for (size_t k = 0; k < w; k++) {
        s->id[k] = p->byte_id[word[k]];
        s->prev[k] = (int)k - 1;
        s->next[k] = k + 1 < w ? (int)k + 1 : -1;
    }
    size_t hn = 0; /* heap entries; each merge pushes at most 2, so <= 3W */
    for (size_t k = 0; k + 1 < w; k++) push_pair(p, s, &hn, (int)k);
    while (hn) {
        int rank, pos, merged;
        heap_pop(s->heap, &hn, &rank, &pos);
        int nx = s->next[pos];
        /* stale entry: the symbol at pos was merged away or its pair changed */
        if (s->id[pos] < 0 || nx < 0 || pair_rank(p, s->id[pos], s->id[nx], &merged) != rank)
            continue;
        s->id[pos] = merged;
        s->id[nx] = -1;
        s->next[pos] = s->next[nx];
        if (s->next[nx] >= 0) s->prev[s->next[nx]] = pos;
        push_pair(p, s, &hn, s->prev[pos]);
        push_pair(p, s, &hn, pos);
    }
    for (int k = 0; k >= 0; k = s->next[k]) {
        st = pt_ivec_push(out, s->id[k]);
        if (st) return st;
    }
    return PT_OK;
}

/* ---- encode / decode ------------------------------------------------------ */

/* Encode one pre-token through the cache. */
static pt_status encode_word(bpe_impl *p, bpe_scratch *s, const unsigned char *word, size_t w,
                             pt_ivec *out) {
    int e;
    if (w == 1) return pt_ivec_push(out, p->byte_id[word[0]]);
    if (w <= BPE_CACHE_MAX_WORD) {
        pthread_mutex_lock(&p->lock);
        int hit = pt_strmap_get(&p->cache, (const char *)word, w, &e);
        pt_status st = PT_OK;
        if (hit)
            st = pt_ivec_extend(out, p->cache_ids.v + p->cache_span.v[2 * e],
                                (size_t)p->cache_span.v[2 * e + 1]);
        pthread_mutex_unlock(&p->lock);
        if (hit) return st;
    }
    size_t n0 = out->n;
    pt_status st = bpe_word(p, s, word, w, out);
    if (st || w > BPE_CACHE_MAX_WORD) return st;
    pthread_mutex_lock(&p->lock);
    if (p->cache.n < BPE_CACHE_MAX_ENTRIES &&
        !pt_strmap_get(&p->cache, (const char *)word, w, &e)) {
        int entry = (int)(p->cache_span.n / 2), off = (int)p->cache_ids.n;
        /* a failed insert only means this word is not cached */
        if (!pt_ivec_extend(&p->cache_ids, out->v + n0, out->n - n0) &&
            !pt_ivec_push(&p->cache_span, off) && !pt_ivec_push(&p->cache_span, (int)(out->n - n0)))
            if (pt_strmap_put(&p->cache, (const char *)word, w, entry)) p->cache_span.n -= 2;
    }
    pthread_mutex_unlock(&p->lock);
    return PT_OK;
}

static pt_status bpe_encode(const pt_tokenizer *t, const char *text, size_t len, int flags,
                            pt_ivec *out) {
    bpe_impl *p = t->impl;
    const unsigned char *s = (const unsigned char *)text;
    unsigned char *copy = NULL; /* text with a space in front (add_prefix_space) */
    bpe_scratch sc = {0};
    pt_status st = PT_OK;
    size_t at;
    if (p->nfc && !pt_nfc_is_normalized(s, len, &at)) {
        uint32_t cp;
        pt_utf8_next(s, len, at, &cp);
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "text is not in Unicode NFC at byte %zu (U+%04X): this tokenizer "
                       "normalizes to NFC, which ptune does not do; normalize the text first "
                       "(e.g. Python unicodedata.normalize(\"NFC\", text))",
                       at, (unsigned)cp);
    }
    if (p->add_prefix_space && !(flags & PT_TOK_NO_PREFIX) && len > 0 && text[0] != ' ') {
        copy = pt_alloc(len + 1, 1);
        if (!copy) return pt_fail(PT_ERR_NOMEM, "bpe: out of memory");
        copy[0] = ' ';
        memcpy(copy + 1, text, len);
        s = copy, len++;
    }
    for (size_t i = 0; i < len && !st;) {
        size_t j = pt_pretok_next(p->pretok, s, len, i);
        st = encode_word(p, &sc, s + i, j - i, out);
        i = j;
    }
    scratch_free(&sc);
    free(copy);
    return st;
}

/* Pieces are byte symbols; a character outside the byte map (e.g. in an added
 * token) is copied as its own UTF-8. */
static pt_status bpe_decode(const pt_tokenizer *t, const int *ids, size_t n, pt_buf *out) {
    for (size_t k = 0; k < n; k++) {
        const unsigned char *s = (const unsigned char *)t->pieces[ids[k]];
        size_t len = strlen((const char *)s);
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t m = pt_utf8_next(s, len, i, &cp);
            int b = cp == PT_UTF8_INVALID ? -1 : pt_bpe_cp_to_byte(cp);
            unsigned char c = (unsigned char)b;
            pt_status st = b >= 0 ? pt_buf_append(out, &c, 1) : pt_buf_append(out, s + i, m);
            if (st) return st;
            i += m;
        }
    }
    return PT_OK;
}

static void bpe_free(pt_tokenizer *t) {
    bpe_impl *p = t->impl;
    if (!p) return;
    free(p->pairs);
    pthread_mutex_destroy(&p->lock);
    pt_strmap_free(&p->cache);
    pt_ivec_free(&p->cache_span);
    pt_ivec_free(&p->cache_ids);
    free(p);
    t->impl = NULL;
}

static const pt_tok_ops bpe_ops = {bpe_encode, bpe_decode, bpe_free};

/* ---- loading -------------------------------------------------------------- */

/* Prefix the current error with where merge m came from. */
#define MERGE_CTX(src, m)                                                                          \
    ((src)->mfield                                                                                 \
         ? pt_fail_ctx(PT_ERR_FORMAT, "%s: %s[%d]", (src)->mpath, (src)->mfield, (m)->where)       \
         : pt_fail_ctx(PT_ERR_FORMAT, "%s line %d", (src)->mpath, (m)->where))

/* Fill pieces[id] from the vocabulary object and added tokens; *n = max id + 1. */
static pt_status collect_pieces(char **pieces, size_t limit, const pt_json *vocab,
                                const bpe_src *src, int *n) {
    int max_id = -1;
    for (size_t k = 0; k < vocab->len; k++) {
        const char *key = vocab->keys[k];
        const pt_json *v = vocab->items[k];
        double d = v->type == PT_JSON_NUMBER ? v->number : -1;
        if (v->type != PT_JSON_NUMBER || !(d >= 0 && d < (double)limit) || d != (double)(long)d)
            return pt_fail(PT_ERR_FORMAT, "%s: %sentry \"%s\": id %s out of range [0, %zu)",
                           src->vpath, src->vfield, key,
                           v->type == PT_JSON_NUMBER ? v->num_text : "(not a number)", limit);
        if (strlen(key) != vocab->key_lens[k])
            return pt_fail(PT_ERR_FORMAT, "%s: %sentry %zu: token contains a NUL character",
                           src->vpath, src->vfield, k);
        int id = (int)d;
        if (pieces[id])
            return pt_fail(PT_ERR_FORMAT, "%s: %sduplicate id %d (\"%s\" and \"%s\")", src->vpath,
                           src->vfield, id, pieces[id], key);
        if (!(pieces[id] = pt_strdup(key))) return pt_fail(PT_ERR_NOMEM, "out of memory");
        if (id > max_id) max_id = id;
    }
    for (size_t k = 0; src->added && k < src->added->len; k++) {
        const pt_json *a = src->added->items[k];
        const char *content;
        int id;
        if (!pt_json_get_int(a, "id", &id) || !pt_json_get_str(a, "content", &content) || id < 0 ||
            (size_t)id >= limit || strlen(content) != pt_json_get(a, "content")->len)
            return pt_fail(
                PT_ERR_FORMAT,
                "%s: added_tokens[%zu]: needs \"id\" in [0, %zu) and a \"content\" string",
                src->vpath, k, limit);
        if (pieces[id] && strcmp(pieces[id], content) != 0)
            return pt_fail(PT_ERR_FORMAT,
                           "%s: added_tokens[%zu]: id %d is \"%s\" in the vocabulary, \"%s\" here",
                           src->vpath, k, id, pieces[id], content);
        if (!pieces[id] && !(pieces[id] = pt_strdup(content)))
            return pt_fail(PT_ERR_NOMEM, "out of memory");
        if (id > max_id) max_id = id;
    }
    for (int id = 0; id <= max_id; id++)
        if (!pieces[id])
            return pt_fail(PT_ERR_FORMAT, "%s: %smissing id %d (ids must be 0..%d without gaps)",
                           src->vpath, src->vfield, id, max_id);
    if (max_id < 0)
        return pt_fail(PT_ERR_FORMAT, "%s: %sempty vocabulary", src->vpath, src->vfield);
    *n = max_id + 1;
    return PT_OK;
}

static int lookup_n(const pt_tokenizer *t, const char *s, size_t n) {
    int id;
    return pt_strmap_get(t->index, s, n, &id) ? id : -1;
}

static pt_status add_merges(pt_tokenizer *t, bpe_impl *p, const bpe_merge *merges, size_t nm,
                            const bpe_src *src) {
    size_t cap = 16;
    while (cap < 2 * nm) cap *= 2;
    if (!(p->pairs = pt_zalloc(cap, sizeof(bpe_pair))))
        return pt_fail(PT_ERR_NOMEM, "%s: out of memory for %zu merges", src->mpath, nm);
    p->pair_cap = cap;
    pt_buf cat = {0};
    pt_status st = PT_OK;
    for (size_t k = 0; k < nm && !st; k++) {
        const bpe_merge *m = &merges[k];
        int a = lookup_n(t, m->a, m->alen), b = lookup_n(t, m->b, m->blen);
        cat.n = 0;
        if ((st = pt_buf_append(&cat, m->a, m->alen)) || (st = pt_buf_append(&cat, m->b, m->blen)))
            break;
        int c = lookup_n(t, cat.v, cat.n);
        if (a < 0 || b < 0 || c < 0) {
            const char *what = a < 0 ? m->a : b < 0 ? m->b : cat.v;
            int wlen = (int)(a < 0 ? m->alen : b < 0 ? m->blen : cat.n);
            pt_fail(PT_ERR_FORMAT, "\"%.*s\" is not in the vocabulary", wlen, what);
            st = MERGE_CTX(src, m);
            break;
        }
        size_t i = pair_slot(p, pair_key(a, b));
        if (p->pairs[i].key) continue; /* repeated merge: the first (lowest) rank stays */
        p->pairs[i] = (bpe_pair){pair_key(a, b), (int)k, c};
        p->n_merges++;
    }
    pt_buf_free(&cat);
    return st;
}

/* Special ids by spelling: GPT-2's "<|endoftext|>" (BOS and EOS), RoBERTa's
 * "<s>" (BOS, CLS), "</s>" (EOS, SEP), "<unk>", "<pad>", "<mask>", LLaMA-3's
 * "<|begin_of_text|>" (BOS) and "<|end_of_text|>" (EOS). Loaders with
 * explicit ids (GGUF metadata, tokenizer_config.json) overwrite these later. */
static void specials_by_name(pt_tokenizer *t) {
    t->bos_id = t->eos_id = pt_tok_lookup(t, "<|endoftext|>");
    int s = pt_tok_lookup(t, "<s>"), e = pt_tok_lookup(t, "</s>");
    if (s >= 0 && e >= 0) {
        t->bos_id = t->cls_id = s;
        t->eos_id = t->sep_id = e;
    }
    t->unk_id = pt_tok_lookup(t, "<unk>");
    t->pad_id = pt_tok_lookup(t, "<pad>");
    t->mask_id = pt_tok_lookup(t, "<mask>");
    int b = pt_tok_lookup(t, "<|begin_of_text|>"), e2 = pt_tok_lookup(t, "<|end_of_text|>");
    if (b >= 0) t->bos_id = b; /* LLaMA-3 */
    if (e2 >= 0) t->eos_id = e2;
}

pt_status pt_bpe_build_pieces(pt_tokenizer **out, char **pieces, int n, const bpe_merge *merges,
                              size_t nm, const bpe_src *src) {
    *out = NULL;
    pt_tokenizer *t = calloc(1, sizeof *t);
    bpe_impl *p = calloc(1, sizeof *p);
    pt_status st = PT_OK;
    if (!t || !p) {
        free(t), free(p);
        for (int k = 0; k < n; k++) free(pieces[k]);
        free(pieces);
        return pt_fail(PT_ERR_NOMEM, "%s: out of memory", src->vpath);
    }
    pthread_mutex_init(&p->lock, NULL);
    pt_strmap_init(&p->cache);
    t->ops = &bpe_ops;
    t->kind = PT_TOK_BPE;
    t->impl = p;
    t->pieces = pieces;
    t->vocab_size = n;
    t->bos_id = t->eos_id = t->unk_id = t->pad_id = t->mask_id = t->cls_id = t->sep_id = -1;
    t->add_bos = t->add_eos = -1;
    t->space_sensitive = 1;
    p->add_prefix_space = src->add_prefix_space;
    p->pretok = src->pretok;
    p->nfc = src->nfc;
    if ((st = pt_tok_build_index(t))) goto fail;
    for (int id = 0; id < n && !src->allow_dups; id++) {
        int first = pt_tok_lookup(t, pieces[id]);
        if (first != id) {
            st = pt_fail(PT_ERR_FORMAT, "%s: %sduplicate token \"%s\" (ids %d and %d)", src->vpath,
                         src->vfield, pieces[id], first, id);
            goto fail;
        }
    }
    for (unsigned b = 0; b < 256; b++) {
        char u[3];
        uint32_t cp = pt_bpe_byte_to_cp(b);
        size_t ulen = cp < 0x80 ? 1 : 2; /* all code points of the map are < U+0800 */
        if (ulen == 1)
            u[0] = (char)cp;
        else
            u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F));
        if ((p->byte_id[b] = lookup_n(t, u, ulen)) < 0) {
            st = pt_fail(PT_ERR_FORMAT,
                         "%s: %sno token \"%.*s\" for byte 0x%02X: not a GPT-2 byte-level "
                         "vocabulary",
                         src->vpath, src->vfield, (int)ulen, u, b);
            goto fail;
        }
    }
    if ((st = add_merges(t, p, merges, nm, src))) goto fail;
    specials_by_name(t);
    *out = t;
    return PT_OK;
fail:
    pt_tok_free(t);
    return st;
}

pt_status pt_bpe_set_pretok(pt_tokenizer *t, pt_pretok kind) {
    if (!t || t->kind != PT_TOK_BPE)
        return pt_fail(PT_ERR_ARG, "pt_bpe_set_pretok: not a byte-level BPE tokenizer");
    bpe_impl *p = t->impl;
    pthread_mutex_lock(&p->lock); /* cached words were cut by the old pattern: drop them */
    p->pretok = kind;
    pt_strmap_free(&p->cache);
    pt_strmap_init(&p->cache);
    p->cache_span.n = p->cache_ids.n = 0;
    pthread_mutex_unlock(&p->lock);
    return PT_OK;
}

/* Build the tokenizer from a parsed vocabulary object and a list of merges. */
static pt_status bpe_build(pt_tokenizer **out, const pt_json *vocab, const bpe_merge *merges,
                           size_t nm, const bpe_src *src) {
    *out = NULL;
    if (!vocab || vocab->type != PT_JSON_OBJECT)
        return pt_fail(PT_ERR_FORMAT, "%s: %svocabulary is not a JSON object", src->vpath,
                       src->vfield);
    size_t limit = vocab->len + (src->added ? src->added->len : 0);
    if (limit > BPE_MAX_VOCAB)
        return pt_fail(PT_ERR_FORMAT, "%s: %zu tokens is more than %d", src->vpath, limit,
                       BPE_MAX_VOCAB);
    char **pieces = pt_zalloc(limit ? limit : 1, sizeof(char *));
    if (!pieces) return pt_fail(PT_ERR_NOMEM, "%s: out of memory", src->vpath);
    int n = 0;
    pt_status st = collect_pieces(pieces, limit, vocab, src, &n);
    if (st) {
        for (size_t k = 0; k < limit; k++) free(pieces[k]);
        free(pieces);
        return st;
    }
    return pt_bpe_build_pieces(out, pieces, n, merges, nm, src);
}

/* Split merges.txt into merges (pointing into text, which is modified). */
static pt_status parse_merges_txt(char *text, size_t len, const char *path, bpe_merge **out,
                                  size_t *nm) {
    size_t lines = 1, n = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    bpe_merge *m = pt_alloc(lines, sizeof *m);
    if (!m) return pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
    size_t i = 0;
    for (int line = 1; i < len; line++) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        size_t end = e > i && text[e - 1] == '\r' ? e - 1 : e;
        if (end > i && !(line == 1 && end - i >= 8 && memcmp(text + i, "#version", 8) == 0)) {
            const char *sp = memchr(text + i, ' ', end - i);
            if (!sp || sp == text + i || sp + 1 == text + end ||
                memchr(sp + 1, ' ', text + end - sp - 1)) {
                free(m);
                return pt_fail(
                    PT_ERR_FORMAT,
                    "%s line %d: expected two tokens separated by one space, got \"%.*s\"", path,
                    line, (int)(end - i < 80 ? end - i : 80), text + i);
            }
            m[n++] = (bpe_merge){text + i, sp + 1, (size_t)(sp - (text + i)),
                                 (size_t)(text + end - sp - 1), line};
        }
        i = e + 1;
    }
    *out = m;
    *nm = n;
    return PT_OK;
}

pt_status pt_bpe_load_files(pt_tokenizer **out, const char *vocab_json, const char *merges_txt) {
    char *vtext = NULL, *mtext = NULL;
    size_t vlen, mlen, nm = 0;
    bpe_merge *merges = NULL;
    pt_json_doc doc = {0};
    *out = NULL;
    pt_status st = pt_read_file(vocab_json, &vtext, &vlen);
    if (st) goto done;
    if ((st = pt_json_parse(&doc, vtext, vlen))) {
        pt_fail_ctx(st, "%s", vocab_json);
        goto done;
    }
    if ((st = pt_read_file(merges_txt, &mtext, &mlen))) goto done;
    if ((st = parse_merges_txt(mtext, mlen, merges_txt, &merges, &nm))) goto done;
    bpe_src src = {vocab_json, "", merges_txt, NULL, NULL, 0, PT_PRETOK_GPT2, 0, 0};
    st = bpe_build(out, doc.root, merges, nm, &src);
done:
    free(merges);
    free(mtext);
    pt_json_doc_free(&doc);
    free(vtext);
    return st;
}

/* The Split regexes of tokenizer.json files that name a pre-tokenizer of
 * bpe_pretok.c (GPT-2's, Meta-Llama-3's, Qwen2's), character for character. */
static const struct {
    const char *regex;
    pt_pretok kind;
} known_regex[] = {
    {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
     PT_PRETOK_GPT2},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     PT_PRETOK_LLAMA3},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     PT_PRETOK_QWEN2},
};

/* A Split pre-tokenizer: its regex must be one we know, isolated, not inverted. */
static pt_status check_split(const pt_json *split, const char *path, pt_pretok *kind) {
    const pt_json *pat = pt_json_get(split, "pattern");
    const char *rx = NULL, *behavior = NULL;
    int invert = 0;
    if (!pat || !pt_json_get_str(pat, "Regex", &rx))
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: pre_tokenizer Split without a \"Regex\" pattern is not supported",
                       path);
    pt_json_get_str(split, "behavior", &behavior);
    pt_json_get_bool(split, "invert", &invert);
    if (!behavior || strcmp(behavior, "Isolated") != 0 || invert)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: pre_tokenizer Split with behavior %s%s is not supported (only "
                       "Isolated)",
                       path, behavior ? behavior : "(missing)", invert ? ", inverted" : "");
    for (size_t k = 0; k < sizeof known_regex / sizeof known_regex[0]; k++)
        if (strcmp(rx, known_regex[k].regex) == 0) {
            *kind = known_regex[k].kind;
            return PT_OK;
        }
    return pt_fail(PT_ERR_UNSUPPORTED,
                   "%s: pre_tokenizer Split regex \"%.120s\" is not supported (known: the "
                   "GPT-2, LLaMA-3 and Qwen2 patterns)",
                   path, rx);
}

/* tokenizer.json parts we cannot honour make an error rather than a silently
 * different tokenization. Accepted pre_tokenizers: ByteLevel with its GPT-2
 * regex, or a Sequence of a Split with a known regex and a ByteLevel without
 * one; no normalizer, or NFC (then text that is not already NFC is refused
 * when encoded, see unicode_nfc.h). */
static pt_status check_pipeline(const pt_json *root, const char *path, int *add_prefix_space,
                                pt_pretok *kind, int *nfc) {
    const pt_json *norm = pt_json_get(root, "normalizer");
    const char *ntype = NULL;
    *nfc = 0;
    if (norm && pt_json_get_str(norm, "type", &ntype) && strcmp(ntype, "NFC") == 0)
        *nfc = 1; /* Qwen2: checked at encode time (unicode_nfc.c) */
    else if (norm && norm->type != PT_JSON_NULL)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: normalizer %s is not supported for byte-level BPE",
                       path, pt_json_get_str(norm, "type", &ntype) ? ntype : "(no type)");
    const pt_json *pre = pt_json_get(root, "pre_tokenizer");
    const char *type = NULL;
    const pt_json *split = NULL;
    if (pre && pt_json_get_str(pre, "type", &type) && strcmp(type, "Sequence") == 0) {
        const pt_json *list = pt_json_get(pre, "pretokenizers");
        pre = NULL;
        if (list && list->type == PT_JSON_ARRAY && list->len == 1) pre = list->items[0];
        if (list && list->type == PT_JSON_ARRAY && list->len == 2) {
            const char *t0 = NULL;
            if (pt_json_get_str(list->items[0], "type", &t0) && strcmp(t0, "Split") == 0)
                split = list->items[0], pre = list->items[1];
            else
                return pt_fail(PT_ERR_UNSUPPORTED,
                               "%s: pre_tokenizer Sequence starting with %s is not supported "
                               "(only Split + ByteLevel)",
                               path, t0 ? t0 : "(no type)");
        }
        type = NULL;
    }
    if (!pre || !pt_json_get_str(pre, "type", &type) || strcmp(type, "ByteLevel") != 0)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: pre_tokenizer %s is not supported (only ByteLevel, or Split + "
                       "ByteLevel)",
                       path, type ? type : "(missing)");
    int use_regex = 1;
    pt_json_get_bool(pre, "use_regex", &use_regex);
    *kind = PT_PRETOK_GPT2;
    if (split) {
        pt_status st = check_split(split, path, kind);
        if (st) return st;
        if (use_regex)
            return pt_fail(PT_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer Split followed by ByteLevel with use_regex true "
                           "(two regex splits) is not supported",
                           path);
    } else if (!use_regex)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: pre_tokenizer ByteLevel without the GPT-2 regex is not supported",
                       path);
    *add_prefix_space = 0;
    pt_json_get_bool(pre, "add_prefix_space", add_prefix_space);
    return PT_OK;
}

pt_status pt_bpe_from_tokenizer_json(pt_tokenizer **out, const pt_json *root, const char *path) {
    *out = NULL;
    const pt_json *model = pt_json_get(root, "model");
    const char *type = NULL, *affix = NULL;
    int flag = 0;
    if (!model || !pt_json_get_str(model, "type", &type) || strcmp(type, "BPE") != 0)
        return pt_fail(PT_ERR_FORMAT, "%s: model.type is %s, expected \"BPE\"", path,
                       type ? type : "missing");
    if (pt_json_get_bool(model, "byte_fallback", &flag) && flag)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: model.byte_fallback is true (SentencePiece-style BPE, not GPT-2)",
                       path);
    if ((pt_json_get_str(model, "continuing_subword_prefix", &affix) && affix[0]) ||
        (pt_json_get_str(model, "end_of_word_suffix", &affix) && affix[0]))
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: model.continuing_subword_prefix / end_of_word_suffix \"%s\" are not "
                       "supported",
                       path, affix);
    int aps = 0;
    pt_pretok kind = PT_PRETOK_GPT2;
    int nfc = 0;
    pt_status st = check_pipeline(root, path, &aps, &kind, &nfc);
    if (st) return st;
    const pt_json *vocab = pt_json_get(model, "vocab");
    const pt_json *jm = pt_json_get(model, "merges");
    const pt_json *added = pt_json_get(root, "added_tokens");
    if (!vocab || vocab->type != PT_JSON_OBJECT)
        return pt_fail(PT_ERR_FORMAT, "%s: model.vocab is missing or not an object", path);
    if (!jm || jm->type != PT_JSON_ARRAY)
        return pt_fail(PT_ERR_FORMAT, "%s: model.merges is missing or not an array", path);
    if (added && added->type == PT_JSON_NULL) added = NULL;
    if (added && added->type != PT_JSON_ARRAY)
        return pt_fail(PT_ERR_FORMAT, "%s: added_tokens is not an array", path);
    bpe_merge *merges = pt_alloc(jm->len ? jm->len : 1, sizeof *merges);
    if (!merges) return pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
    for (size_t k = 0; k < jm->len; k++) {
        const pt_json *e = jm->items[k];
        bpe_merge *m = &merges[k];
        m->where = (int)k;
        if (e->type == PT_JSON_STRING) { /* "a b" */
            const char *sp = memchr(e->str, ' ', e->len);
            if (sp && sp > e->str && sp + 1 < e->str + e->len &&
                !memchr(sp + 1, ' ', e->str + e->len - sp - 1)) {
                m->a = e->str, m->alen = (size_t)(sp - e->str);
                m->b = sp + 1, m->blen = (size_t)(e->str + e->len - sp - 1);
                continue;
            }
        } else if (e->type == PT_JSON_ARRAY && e->len == 2 && e->items[0]->type == PT_JSON_STRING &&
                   e->items[1]->type == PT_JSON_STRING) {
            m->a = e->items[0]->str, m->alen = e->items[0]->len; /* ["a", "b"] */
            m->b = e->items[1]->str, m->blen = e->items[1]->len;
            continue;
        }
        free(merges);
        return pt_fail(PT_ERR_FORMAT, "%s: model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"]",
                       path, k);
    }
    bpe_src src = {path, "model.vocab: ", path, "model.merges", added, aps, kind, 0, nfc};
    st = bpe_build(out, vocab, merges, jm->len, &src);
    free(merges);
    return st;
}

/* ---- GGUF export ---------------------------------------------------------- */

static int cmp_rank(const void *a, const void *b) {
    const bpe_pair *x = a, *y = b;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

pt_status pt_bpe_export(const pt_tokenizer *t, char ***merges, int *n_merges, int *pretok,
                        int *add_prefix_space, int *nfc) {
    if (!t || t->kind != PT_TOK_BPE)
        return pt_fail(PT_ERR_ARG, "pt_bpe_export: not a byte-level BPE tokenizer");
    const bpe_impl *p = t->impl;
    int n = 0;
    bpe_pair *all = pt_alloc(p->n_merges ? (size_t)p->n_merges : 1, sizeof *all);
    char **out = pt_zalloc(p->n_merges ? (size_t)p->n_merges : 1, sizeof *out);
    pt_status st = all && out ? PT_OK : pt_fail(PT_ERR_NOMEM, "out of memory for the merges");
    for (size_t i = 0; !st && i < p->pair_cap; i++)
        if (p->pairs[i].key && n < p->n_merges) all[n++] = p->pairs[i];
    if (!st) qsort(all, (size_t)n, sizeof *all, cmp_rank);
    for (int k = 0; !st && k < n; k++) { /* "left right" in rank order */
        int a = (int)(all[k].key >> 32) - 1, b = (int)(uint32_t)all[k].key - 1;
        size_t la = strlen(t->pieces[a]), lb = strlen(t->pieces[b]);
        if (!(out[k] = malloc(la + lb + 2))) {
            st = pt_fail(PT_ERR_NOMEM, "out of memory for the merges");
            break;
        }
        memcpy(out[k], t->pieces[a], la);
        out[k][la] = ' ';
        memcpy(out[k] + la + 1, t->pieces[b], lb + 1);
    }
    free(all);
    if (st) {
        for (int k = 0; out && k < n; k++) free(out[k]);
        free(out);
        return st;
    }
    *merges = out, *n_merges = n;
    *pretok = (int)p->pretok, *add_prefix_space = p->add_prefix_space, *nfc = p->nfc;
    return PT_OK;
}
