/* test_spm.c - the SentencePiece tokenizer.
 *
 * Oracles:
 *  - stories260K.gguf's tokenizer against tests/fixtures/spm/cases.txt, ids
 *    made by scripts/ref_spm.py (llama2.c's encode re-implemented in Python
 *    on tok512.bin, a separate file of the same vocabulary);
 *  - a tiny model trained with SentencePiece (scripts/gen_spm_fixtures.py),
 *    loaded from GGUF and from an HF tokenizer.json, against the ids
 *    sentencepiece.encode gave (tests/fixtures/spm/tiny_cases.txt).
 * Round trips: decode(encode(x)) == " " + x (prefix rule) or x.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/vec.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "tokenizers/tokenizer.h"
#include "test.h"

#define FIX "tests/fixtures/spm/"

typedef struct tcase {
    int prefix; /* 1: default encoding, 0: PT_TOK_NO_PREFIX */
    pt_ivec ids;
    pt_buf text;
} tcase;

/* Undo the \\, \t, \n escapes of the cases files. */
static void unescape(pt_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            c = c == 't' ? '\t' : c == 'n' ? '\n' : c;
        }
        pt_buf_append(b, &c, 1);
    }
    pt_buf_append(b, "", 0);
}

/* Lines "[prefix TAB] ids TAB text"; with_prefix says whether the first field is there. */
static int load_cases(const char *path, int with_prefix, tcase **out) {
    char *buf;
    size_t len;
    *out = NULL;
    if (pt_read_file(path, &buf, &len) != PT_OK) {
        CHECK(0, "read %s: %s", path, pt_last_error());
        return 0;
    }
    int n = 0, cap = 0;
    tcase *cs = NULL;
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (line[0] != '#') {
            if (n == cap) cs = realloc(cs, sizeof *cs * (size_t)(cap = cap ? cap * 2 : 16));
            tcase *c = &cs[n++];
            memset(c, 0, sizeof *c);
            c->prefix = 1;
            char *p = line;
            if (with_prefix) c->prefix = (int)strtol(p, &p, 10), p++;
            char *tab = strchr(p, '\t');
            if (!tab) tab = p + strlen(p);
            while (p < tab) {
                char *e;
                long v = strtol(p, &e, 10);
                if (e == p) break;
                pt_ivec_push(&c->ids, (int)v);
                p = e;
            }
            char *text = *tab ? tab + 1 : tab;
            unescape(&c->text, text, strlen(text));
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    *out = cs;
    return n;
}

static void free_cases(tcase *cs, int n) {
    for (int i = 0; i < n; i++) pt_ivec_free(&cs[i].ids), pt_buf_free(&cs[i].text);
    free(cs);
}

static void print_ids(const char *label, const int *v, size_t n) {
    fprintf(stderr, "      %s:", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", v[i]);
    fputc('\n', stderr);
}

/* Encode every case and compare with the oracle; round-trip through decode. */
static void run_cases(const char *what, const pt_tokenizer *t, tcase *cs, int n) {
    int agree = 0, ids_ok = 0, ids_total = 0, roundtrip = 0;
    for (int i = 0; i < n; i++) {
        tcase *c = &cs[i];
        const char *text = c->text.v ? c->text.v : "";
        size_t tl = c->text.n;
        pt_ivec got = {0};
        pt_status s = pt_tok_encode(t, text, tl, c->prefix ? 0 : PT_TOK_NO_PREFIX, &got);
        CHECK(s == PT_OK, "%s: encode '%s': %s", what, text, pt_last_error());
        int same = got.n == c->ids.n && (got.n == 0 || !memcmp(got.v, c->ids.v, got.n * 4));
        for (size_t k = 0; k < c->ids.n; k++) ids_ok += k < got.n && got.v[k] == c->ids.v[k];
        ids_total += (int)c->ids.n;
        agree += same;
        CHECK(same, "%s: case %d '%s' differs from the oracle", what, i, text);
        if (!same) print_ids("want", c->ids.v, c->ids.n), print_ids("got ", got.v, got.n);
        /* decode, with BOS/EOS around: controls decode to nothing */
        pt_ivec wrapped = {0};
        if (t->bos_id >= 0) pt_ivec_push(&wrapped, t->bos_id);
        pt_ivec_extend(&wrapped, got.v, got.n);
        if (t->eos_id >= 0) pt_ivec_push(&wrapped, t->eos_id);
        pt_buf dec = {0}, want = {0};
        s = pt_tok_decode(t, wrapped.v, wrapped.n, &dec);
        CHECK(s == PT_OK, "%s: decode: %s", what, pt_last_error());
        if (c->prefix && tl) pt_buf_append(&want, " ", 1);
        pt_buf_append(&want, text, tl);
        int rt = dec.n == want.n && (!dec.n || !memcmp(dec.v, want.v, dec.n));
        roundtrip += rt;
        CHECK(rt, "%s: decode(encode('%s')) = '%s'", what, text, dec.v ? dec.v : "");
        pt_buf_free(&dec), pt_buf_free(&want), pt_ivec_free(&got), pt_ivec_free(&wrapped);
    }
    printf("  %-34s oracle agreement %d/%d cases, %d/%d ids; round trips %d/%d\n", what, agree, n,
           ids_ok, ids_total, roundtrip, n);
}

static void test_stories(void) {
    const char *path = t_shared("models/stories260K/stories260K.gguf");
    if (!path) {
        t_note_skip("../shared/models/stories260K/stories260K.gguf absent");
        return;
    }
    pt_gguf g;
    pt_status s = pt_gguf_open(&g, path);
    CHECK(s == PT_OK, "open: %s", pt_last_error());
    if (s) return;
    pt_tokenizer *t = NULL;
    s = pt_spm_from_gguf(&t, &g);
    CHECK(s == PT_OK, "spm from gguf: %s", pt_last_error());
    pt_gguf_close(&g); /* the tokenizer keeps its own copies */
    if (s) return;
    CHECK(t->kind == PT_TOK_SPM && t->space_sensitive == 1 && t->vocab_size == 512, "kind/size");
    CHECK(t->bos_id == 1 && t->eos_id == 2 && t->unk_id == 0 && t->pad_id == -1,
          "special ids bos %d eos %d unk %d pad %d", t->bos_id, t->eos_id, t->unk_id, t->pad_id);
    CHECK(pt_tok_lookup(t, "\xe2\x96\x81the") == 265 && strcmp(pt_tok_piece(t, 13), "<0x0A>") == 0,
          "lookup / piece");
    tcase *cs;
    int n = load_cases(FIX "cases.txt", 1, &cs);
    CHECK(n >= 20, "%d cases", n);
    run_cases("stories260K vs llama2.c oracle", t, cs, n);
    free_cases(cs, n);
    /* decoding a byte token alone gives the raw byte; a normal piece its text */
    pt_buf b = {0};
    int ids[] = {13, 265}; /* <0x0A>, "▁the" */
    s = pt_tok_decode(t, ids, 2, &b);
    CHECK(s == PT_OK && b.n == 5 && memcmp(b.v, "\n the", 5) == 0, "decode byte + piece");
    pt_buf_free(&b);
    int oob = 512;
    CHECK(pt_tok_decode(t, &oob, 1, &b) == PT_ERR_ARG, "out-of-range id refused");
    pt_buf_free(&b);
    pt_tok_free(t);
}

static pt_tokenizer *tiny_gguf(const char *file) {
    pt_gguf g;
    pt_tokenizer *t = NULL;
    pt_status s = pt_gguf_open(&g, file);
    CHECK(s == PT_OK, "open %s: %s", file, pt_last_error());
    if (s) return NULL;
    s = pt_spm_from_gguf(&t, &g);
    CHECK(s == PT_OK, "spm from %s: %s", file, pt_last_error());
    pt_gguf_close(&g);
    return t;
}

static void test_tiny(void) {
    tcase *cs;
    int n = load_cases(FIX "tiny_cases.txt", 0, &cs);
    CHECK(n >= 10, "%d tiny cases", n);
    pt_tokenizer *t = tiny_gguf(FIX "tiny.gguf");
    if (t) run_cases("tiny.gguf vs sentencepiece", t, cs, n);

    /* add_space_prefix = false behaves like PT_TOK_NO_PREFIX */
    pt_tokenizer *np = tiny_gguf(FIX "tiny_noprefix.gguf");
    if (t && np) {
        int same = 0;
        for (int i = 0; i < n; i++) {
            pt_ivec a = {0}, b = {0};
            pt_tok_encode(t, cs[i].text.v, cs[i].text.n, PT_TOK_NO_PREFIX, &a);
            pt_tok_encode(np, cs[i].text.v, cs[i].text.n, 0, &b);
            same += a.n == b.n && (!a.n || !memcmp(a.v, b.v, a.n * 4));
            pt_ivec_free(&a), pt_ivec_free(&b);
        }
        CHECK(same == n, "add_space_prefix=false: %d/%d equal to PT_TOK_NO_PREFIX", same, n);
        pt_ivec a = {0};
        pt_tok_encode(np, "a", 1, 0, &a);
        CHECK(a.n == 1 && a.v[0] == pt_tok_lookup(np, "a"), "no prefix: 'a' alone");
        pt_ivec_free(&a);
    }
    /* random byte strings (invalid UTF-8, NULs, spaces): bytes fall back to
     * <0xXX> tokens, so decoding gives back exactly " " + the input */
    if (t) {
        uint32_t x = 777;
        int rt = 0;
        for (int it = 0; it < 500; it++) {
            char s[48];
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            size_t sl = 1 + x % 40;
            for (size_t k = 0; k < sl; k++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                s[k] = (char)(x % 3 == 0 ? ' ' : x % 3 == 1 ? 'a' + (x >> 8) % 26 : (x >> 8));
            }
            pt_ivec ids = {0};
            pt_buf dec = {0};
            int ok = pt_tok_encode(t, s, sl, 0, &ids) == PT_OK &&
                     pt_tok_decode(t, ids.v, ids.n, &dec) == PT_OK && dec.n == sl + 1 &&
                     dec.v[0] == ' ' && memcmp(dec.v + 1, s, sl) == 0;
            rt += ok;
            pt_ivec_free(&ids), pt_buf_free(&dec);
        }
        printf("  random byte strings: %d/500 round trips\n", rt);
        CHECK(rt == 500, "random byte round trips %d/500", rt);
    }
    pt_tok_free(np);
    pt_tok_free(t);

    /* the same model from tokenizer.json: merge ranks instead of scores */
    char *text;
    size_t len;
    pt_json_doc doc;
    if (pt_read_file(FIX "tokenizer.json", &text, &len) == PT_OK) {
        pt_status s = pt_json_parse(&doc, text, len);
        CHECK(s == PT_OK, "parse tokenizer.json: %s", pt_last_error());
        if (s == PT_OK) {
            pt_tokenizer *j = NULL;
            s = pt_spm_from_tokenizer_json(&j, doc.root, FIX "tokenizer.json");
            CHECK(s == PT_OK, "spm from tokenizer.json: %s", pt_last_error());
            if (j) {
                CHECK(j->vocab_size == 420 && j->unk_id == 0 && j->bos_id == 1 && j->eos_id == 2,
                      "json specials: V %d unk %d bos %d eos %d", j->vocab_size, j->unk_id,
                      j->bos_id, j->eos_id);
                run_cases("tokenizer.json vs sentencepiece", j, cs, n);
            }
            pt_tok_free(j);
            pt_json_doc_free(&doc);
        }
        free(text);
    } else {
        CHECK(0, "read tokenizer.json: %s", pt_last_error());
    }
    free_cases(cs, n);
}

static void test_errors(void) {
    /* a GGUF without a tokenizer */
    pt_gguf g;
    pt_tokenizer *t = NULL;
    if (pt_gguf_open(&g, "tests/fixtures/gguf/types_v3.gguf") == PT_OK) {
        pt_status s = pt_spm_from_gguf(&t, &g);
        CHECK(s == PT_ERR_UNSUPPORTED && !t && strstr(pt_last_error(), "tokenizer.ggml.model"),
              "no tokenizer: %s", pt_last_error());
        pt_gguf_close(&g);
    }
    /* malformed tokenizer.json inputs */
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"model\": {\"type\": \"Unigram\"}}", "BPE"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", "vocab"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 5}, \"merges\": []}}",
         "model.vocab['a']"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}",
         "id 0"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}",
         "merges[0]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": "
         "[\"ab\"]}}",
         "merges[0]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"<0xZZ>\": 0}, \"merges\": []}, "
         "\"added_tokens\": 3}",
         "added_tokens"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_json_doc doc;
        if (pt_json_parse(&doc, bad[i].json, strlen(bad[i].json)) != PT_OK) {
            CHECK(0, "bad json %zu does not parse: %s", i, pt_last_error());
            continue;
        }
        t = NULL;
        pt_status s = pt_spm_from_tokenizer_json(&t, doc.root, "bad.json");
        CHECK(s != PT_OK && !t && strstr(pt_last_error(), bad[i].want) &&
                  strstr(pt_last_error(), "bad.json"),
              "bad tokenizer.json %zu: '%s' lacks '%s'", i, pt_last_error(), bad[i].want);
        printf("    bad tokenizer.json %zu -> %s\n", i, pt_last_error());
        pt_json_doc_free(&doc);
    }
}

int main(void) {
    printf("test_spm\n");
    test_stories();
    test_tiny();
    test_errors();
    return t_done();
}
