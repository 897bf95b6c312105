/* test_wordpiece.c - BERT WordPiece tokenizer.
 *
 * 1. Hand-derived cases on the committed tiny vocabulary
 *    tests/fixtures/wordpiece/tiny_vocab.txt (ids = line number - 1):
 *      0 [PAD]  1 [UNK]  2 [CLS]  3 [SEP]  4 [MASK]  5 un  6 ##aff  7 ##able
 *      8 aff  9 able  10 a  11 ##a  12 ,  13 .  14 cafe  15 ##s  16 北  17 京
 *      18 !  19 café  20 Un
 *    Each expectation is derived in a comment from the algorithm.
 * 2. tokenizer.json variants written inline (normalizer flags, prefix,
 *    max_input_chars_per_word) and malformed ones.
 * 3. With ../shared: tests/fixtures/wordpiece/cases.txt (ids from the
 *    independent Python reference scripts/ref_wordpiece.py) against
 *    bert-base-uncased vocab.txt, and the same cases through tokenizer.json.
 */
#include "test.h"

#include <stdint.h>

#include "core/error.h"
#include "core/io.h"
#include "formats/json.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode_bert.h"

#define TINY "tests/fixtures/wordpiece/tiny_vocab.txt"
#define CASES "tests/fixtures/wordpiece/cases.txt"

/* Encode text and compare with want[0..n). */
static void check_ids(const pt_tokenizer *t, const char *what, const char *text, size_t len,
                      const int *want, size_t n) {
    pt_ivec got = {0};
    pt_status s = pt_tok_encode(t, text, len, 0, &got);
    int same = s == PT_OK && got.n == n;
    for (size_t i = 0; same && i < n; i++) same = got.v[i] == want[i];
    CHECK(same, "%s: encode mismatch (status %d %s)", what, (int)s, pt_last_error());
    if (!same) {
        fprintf(stderr, "  got :");
        for (size_t i = 0; i < got.n; i++) fprintf(stderr, " %d", got.v[i]);
        fprintf(stderr, "\n  want:");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n");
    }
    pt_ivec_free(&got);
}

#define IDS(...) ((const int[]){__VA_ARGS__}), (sizeof((const int[]){__VA_ARGS__}) / sizeof(int))
#define EXPECT(t, text, ...) check_ids(t, text, text, strlen(text), IDS(__VA_ARGS__))
#define EXPECT_NONE(t, text) check_ids(t, text, text, strlen(text), NULL, 0)

static void check_decode(const pt_tokenizer *t, const int *ids, size_t n, const char *want) {
    pt_buf b = {0};
    pt_status s = pt_tok_decode(t, ids, n, &b);
    CHECK(s == PT_OK && b.v && strcmp(b.v, want) == 0, "decode: got \"%s\", want \"%s\"",
          b.v ? b.v : "(null)", want);
    pt_buf_free(&b);
}

static void test_unicode(void) {
    uint32_t o[4];
    /* spot values checked against the Unicode 14 character database by hand */
    CHECK(pt_uni_decompose(0xE9, o) == 2 && o[0] == 'e' && o[1] == 0x301, "NFD e-acute");
    CHECK(pt_uni_decompose(0x1EC7, o) == 3 && o[0] == 'e' && o[1] == 0x323 && o[2] == 0x302,
          "NFD U+1EC7 (e, dot below, circumflex)");
    CHECK(pt_uni_decompose(0xD55C, o) == 3 && o[0] == 0x1112 && o[1] == 0x1161 && o[2] == 0x11AB,
          "NFD Hangul U+D55C");
    CHECK(pt_uni_decompose('a', o) == 1 && o[0] == 'a', "NFD a");
    CHECK(pt_uni_lower('A', o) == 1 && o[0] == 'a', "lower A");
    CHECK(pt_uni_lower(0x130, o) == 2 && o[0] == 'i' && o[1] == 0x307, "lower U+0130");
    CHECK(pt_uni_lower(0x100, o) == 1 && o[0] == 0x101, "lower U+0100");
    CHECK(pt_uni_lower(0x101, o) == 1 && o[0] == 0x101, "lower U+0101 unchanged");
    CHECK(pt_uni_lower(0x3A3, o) == 1 && o[0] == 0x3C3, "lower capital sigma");
    CHECK(pt_uni_is_other(0x200B) && pt_uni_is_other(0x7F) && pt_uni_is_other(0xE000) &&
              pt_uni_is_other(0x378) && !pt_uni_is_other('a'),
          "category C*");
    CHECK(pt_uni_is_punct(0x2014) && pt_uni_is_punct(0x3002) && !pt_uni_is_punct('$') &&
              !pt_uni_is_punct(0x1F600),
          "category P*");
    CHECK(pt_uni_is_mn(0x301) && !pt_uni_is_mn('e'), "category Mn");
    /* canonical ordering: ccc(U+0301)=230 after ccc(U+0323)=220 */
    uint32_t seq[3] = {'e', 0x301, 0x323};
    pt_uni_reorder(seq, 3);
    CHECK(seq[1] == 0x323 && seq[2] == 0x301, "canonical reorder");
    printf("  Unicode tables: version %s\n", pt_uni_version());
}

static void test_tiny_uncased(void) {
    pt_tokenizer *t = NULL;
    pt_status s = pt_wordpiece_load_vocab(&t, TINY, 1);
    CHECK(s == PT_OK, "load tiny vocab: %s", pt_last_error());
    if (s) return;
    CHECK(t->kind == PT_TOK_WORDPIECE && t->vocab_size == 21 && t->space_sensitive == 0,
          "kind/size");
    CHECK(t->pad_id == 0 && t->unk_id == 1 && t->cls_id == 2 && t->sep_id == 3 && t->mask_id == 4 &&
              t->bos_id == -1 && t->eos_id == -1,
          "special ids");
    /* greedy: "unaffable".."una" not in vocab, "un"=5; rest "##affable".."##aff"=6;
     * rest "##able"=7 */
    EXPECT(t, "unaffable", 5, 6, 7);
    /* longest first: "aff"=8 wins over "a"; then "##able"=7 */
    EXPECT(t, "affable", 8, 7);
    /* lowercased before matching */
    EXPECT(t, "UnAffable", 5, 6, 7);
    /* accents stripped (é -> e), punctuation split: cafe , cafe ##s . */
    EXPECT(t, "Café, cafés.", 14, 12, 14, 15, 13);
    /* "un" matches but "##x" does not: the whole word is [UNK], not "un [UNK]" */
    EXPECT(t, "unx", 1);
    /* CJK ideographs become single-character words; "!" is punctuation */
    EXPECT(t, "北京!", 16, 17, 18);
    /* literal [MASK] is the mask token; "[mask]" is ordinary text: "[" "mask" "]", each
     * without a segmentation in the tiny vocab -> three [UNK] */
    EXPECT(t, "[MASK]", 4);
    EXPECT(t, "[mask]", 1, 1, 1);
    /* specials adjacent to text and to each other */
    EXPECT(t, "[UNK][CLS]a[SEP]", 1, 2, 10, 3);
    /* zero-width space (Cf) is removed: "aa" -> a ##a */
    EXPECT(t,
           "a\xe2\x80\x8b"
           "a",
           10, 11);
    /* no-break space (White_Space) separates words */
    EXPECT(t,
           "a\xc2\xa0"
           "a",
           10, 10);
    /* control byte removed, invalid UTF-8 (U+FFFD) removed: "aaa" */
    EXPECT(t,
           "a\x01"
           "a\xff"
           "a",
           10, 11, 11);
    EXPECT_NONE(t, "");
    EXPECT_NONE(t, " \t\n\r \xe3\x80\x80 ");
    /* 100 characters: a then 99 x ##a; 101 characters: [UNK] */
    {
        char buf[102];
        int want[100];
        memset(buf, 'a', 101);
        buf[101] = 0;
        want[0] = 10;
        for (int i = 1; i < 100; i++) want[i] = 11;
        check_ids(t, "a*100", buf, 100, want, 100);
        check_ids(t, "a*101", buf, 101, IDS(1));
    }
    /* decode: "##" pieces glue to the previous piece, others get a space; a leading
     * "##s" stays as written */
    check_decode(t, IDS(5, 6, 7, 12, 14, 15, 13), "unaffable , cafes .");
    check_decode(t, IDS(15, 2), "##s [CLS]");
    pt_buf b = {0};
    CHECK(pt_tok_decode(t, IDS(21), &b) != PT_OK, "decode out-of-range id must fail");
    pt_buf_free(&b);
    /* robustness: random bytes (mostly invalid UTF-8, controls, brackets) must encode
     * without error and decode back without error (run under ASan by make asan) */
    uint32_t rng = 12345;
    int ok = 1;
    for (int iter = 0; iter < 300 && ok; iter++) {
        char rb[64];
        size_t n = (size_t)(iter % 64);
        for (size_t i = 0; i < n; i++) {
            rng = rng * 1664525u + 1013904223u;
            const char pool[] = "[MASK]a un\xe5\x8c\x97\xcc\x81\xff\x00\t";
            rb[i] = (rng >> 24) & 1 ? (char)(rng >> 16) : pool[(rng >> 8) % (sizeof pool - 1)];
        }
        pt_ivec ids = {0};
        pt_buf dec = {0};
        ok = pt_tok_encode(t, rb, n, 0, &ids) == PT_OK;
        if (ok) ok = pt_tok_decode(t, ids.v, ids.n, &dec) == PT_OK;
        pt_ivec_free(&ids);
        pt_buf_free(&dec);
    }
    CHECK(ok, "random bytes: encode/decode failed: %s", pt_last_error());
    pt_tok_free(t);
}

static void test_tiny_cased(void) {
    pt_tokenizer *t = NULL;
    pt_status s = pt_wordpiece_load_vocab(&t, TINY, 0);
    CHECK(s == PT_OK, "load tiny vocab cased: %s", pt_last_error());
    if (s) return;
    /* no lowercasing: "Un"=20 then "##aff"=6 */
    EXPECT(t, "Unaff", 20, 6);
    /* "UnAffable": "Un" then "##Affable".."##A" all absent -> [UNK] */
    EXPECT(t, "UnAffable", 1);
    /* accents kept when not lowercasing: "café"=19 */
    EXPECT(t, "café", 19);
    EXPECT(t, "CAFE", 1);
    pt_tok_free(t);
}

/* Load a tokenizer.json given as text; returns status. */
static pt_status load_json_text(pt_tokenizer **t, const char *text) {
    pt_json_doc doc = {0};
    pt_status s = pt_json_parse(&doc, text, strlen(text));
    if (!s) s = pt_wordpiece_from_tokenizer_json(t, doc.root, "inline.json");
    pt_json_doc_free(&doc);
    return s;
}

#define TINY_VOCAB_JSON                                                                            \
    "{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"[MASK]\":4,\"un\":5,\"##aff\":6,"          \
    "\"##able\":7,\"aff\":8,\"able\":9,\"a\":10,\"##a\":11,\",\":12,\".\":13,\"cafe\":14,"         \
    "\"##s\":15,\"北\":16,\"京\":17,\"!\":18,\"café\":19,\"Un\":20}"

static void test_json_variants(void) {
    pt_tokenizer *t = NULL;
    /* lowercase without stripping accents: "Café" -> "café" = 19 */
    pt_status s = load_json_text(
        &t, "{\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true,"
            "\"strip_accents\":false},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
            "\"model\":{\"type\":\"WordPiece\",\"vocab\":" TINY_VOCAB_JSON "}}");
    CHECK(s == PT_OK, "json lowercase/no-strip: %s", pt_last_error());
    if (!s) {
        EXPECT(t, "Café", 19);
        EXPECT(t, "UNAFFABLE", 5, 6, 7);
        CHECK(t->mask_id == 4 && t->unk_id == 1 && t->vocab_size == 21, "json special ids");
        pt_tok_free(t);
    }
    /* handle_chinese_chars off: "北京" is one word; "北"=16 then "##京" absent -> [UNK];
     * max_input_chars_per_word 3: "aff" (3) ok, "unaff" (5) -> [UNK] */
    s = load_json_text(&t, "{\"normalizer\":{\"type\":\"BertNormalizer\",\"handle_chinese_chars\":"
                           "false},\"model\":{\"type\":\"WordPiece\",\"max_input_chars_per_word\":"
                           "3,\"vocab\":" TINY_VOCAB_JSON "}}");
    CHECK(s == PT_OK, "json no-chinese: %s", pt_last_error());
    if (!s) {
        EXPECT(t, "北京!", 1, 18);
        EXPECT(t, "aff unaff", 8, 1);
        pt_tok_free(t);
    }
    /* normalizer null: no cleaning, no lowercasing: "Un"=20; "a<ZWSP>a" stays one word,
     * "a" then "##<ZWSP>a" / "##<ZWSP>" absent -> [UNK] */
    s = load_json_text(&t, "{\"normalizer\":null,\"model\":{\"type\":\"WordPiece\",\"vocab\":"
                           "" TINY_VOCAB_JSON "}}");
    CHECK(s == PT_OK, "json null normalizer: %s", pt_last_error());
    if (!s) {
        EXPECT(t, "Un", 20);
        EXPECT(t,
               "a\xe2\x80\x8b"
               "a",
               1);
        pt_tok_free(t);
    }
    /* custom prefix "@@" and unk token "<unk>": "unaff" -> un @@aff; "unx" -> <unk>;
     * decode glues "@@" pieces */
    s = load_json_text(&t, "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"<unk>\","
                           "\"continuing_subword_prefix\":\"@@\",\"vocab\":{\"<unk>\":0,\"un\":1,"
                           "\"@@aff\":2,\"##aff\":3}}}");
    CHECK(s == PT_OK, "json prefix: %s", pt_last_error());
    if (!s) {
        EXPECT(t, "unaff unx", 1, 2, 0);
        CHECK(t->unk_id == 0 && t->mask_id == -1 && t->cls_id == -1, "json <unk> ids");
        check_decode(t, IDS(1, 2, 1), "unaff un");
        pt_tok_free(t);
    }
    /* malformed documents: each must fail with an error, never crash */
    const char *bad[] = {
        "{}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"[UNK]\":0}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":[\"[UNK]\"]}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":1}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\":0}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\":0.5}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\":\"1\"}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[unk]\":0}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"max_input_chars_per_word\":\"x\",\"vocab\":{\"[UNK]"
        "\":"
        "0}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"max_input_chars_per_word\":0,\"vocab\":{\"[UNK]\":0}}"
        "}",
        "{\"normalizer\":{\"type\":\"Lowercase\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{"
        "\"[UNK]\":0}}}",
        "{\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":\"yes\"},\"model\":{\"type\":"
        "\"WordPiece\",\"vocab\":{\"[UNK]\":0}}}",
        "{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{"
        "\"[UNK]\":0}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":5,\"vocab\":{\"[UNK]\":0}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\\u0000b\":1}}}",
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\":2}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = NULL;
        s = load_json_text(&t, bad[i]);
        CHECK(s != PT_OK && t == NULL, "malformed tokenizer.json %zu accepted", i);
        CHECK(strlen(pt_last_error()) > 0, "malformed %zu: no message", i);
        if (i == 5) printf("  e.g. %s\n", pt_last_error());
        if (s == PT_OK) pt_tok_free(t);
    }
}

static void test_errors(void) {
    pt_tokenizer *t = NULL;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/ptune_wp_test_%d.txt", dir, (int)getpid());

    CHECK(pt_wordpiece_load_vocab(&t, "tests/fixtures/wordpiece/no_such_file.txt", 1) == PT_ERR_IO,
          "missing file must be PT_ERR_IO");
    CHECK(strstr(pt_last_error(), "no_such_file.txt") != NULL, "message names the file: %s",
          pt_last_error());
    CHECK(pt_write_file_atomic(path, "", 0) == PT_OK, "write temp");
    CHECK(pt_wordpiece_load_vocab(&t, path, 1) == PT_ERR_FORMAT && t == NULL, "empty vocab");
    printf("  e.g. %s\n", pt_last_error());
    const char *no_unk = "[PAD]\n[CLS]\n[SEP]\nhello\n";
    CHECK(pt_write_file_atomic(path, no_unk, strlen(no_unk)) == PT_OK, "write temp");
    CHECK(pt_wordpiece_load_vocab(&t, path, 1) == PT_ERR_FORMAT && t == NULL,
          "vocab without [UNK]");
    printf("  e.g. %s\n", pt_last_error());
    /* a vocabulary without [MASK] loads, with mask_id -1; CRLF line ends are accepted */
    const char *no_mask = "[UNK]\r\nhello\r\n##s";
    CHECK(pt_write_file_atomic(path, no_mask, strlen(no_mask)) == PT_OK, "write temp");
    CHECK(pt_wordpiece_load_vocab(&t, path, 1) == PT_OK, "vocab without [MASK]: %s",
          pt_last_error());
    if (t) {
        CHECK(t->vocab_size == 3 && t->mask_id == -1 && t->unk_id == 0 && t->cls_id == -1,
              "no-mask ids");
        EXPECT(t, "Hellos", 1, 2);
        pt_tok_free(t);
    }
    remove(path);
}

/* ---- reference cases ----------------------------------------------------- */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Undo the escapes of cases.txt in place; returns the byte length. */
static size_t unescape(char *s) {
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] != '\\') {
            s[o++] = s[i];
            continue;
        }
        char c = s[++i];
        if (c == 'n')
            s[o++] = '\n';
        else if (c == 't')
            s[o++] = '\t';
        else if (c == 'r')
            s[o++] = '\r';
        else if (c == 'x' && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else
            s[o++] = c;
    }
    return o;
}

/* Run every case of cases.txt in mode m ('u' or 'c') through t; returns cases run. */
static int run_cases(const pt_tokenizer *t, char m, const char *what) {
    char *buf = NULL;
    size_t len;
    if (pt_read_file(CASES, &buf, &len)) {
        CHECK(0, "%s: %s", CASES, pt_last_error());
        return 0;
    }
    int n = 0, bad = 0;
    size_t total_ids = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != m || line[1] != '\t') continue;
        char *text = line + 2, *ids = strchr(text, '\t');
        if (!ids) continue;
        *ids++ = 0;
        char *end = strchr(ids, '\t');
        if (end) *end = 0;
        int want[4096];
        size_t nw = 0;
        for (char *p = ids; *p && nw < 4096;) {
            want[nw++] = (int)strtol(p, &p, 10);
            while (*p == ' ') p++;
        }
        size_t tl = unescape(text);
        int before = t_failures;
        check_ids(t, what, text, tl, want, nw);
        if (t_failures != before) {
            fprintf(stderr, "  case %d\n", n + 1);
            bad++;
        }
        total_ids += nw;
        n++;
    }
    printf("  %s: %d cases (%zu ids), %d mismatches\n", what, n, total_ids, bad);
    free(buf);
    return n;
}

static void test_reference(void) {
    const char *vocab = t_shared("tokenizers/bert-base-uncased/vocab.txt");
    const char *tj = t_shared("tokenizers/bert-base-uncased/tokenizer.json");
    if (!vocab) {
        t_note_skip("../shared/tokenizers/bert-base-uncased/vocab.txt absent: reference cases");
        return;
    }
    pt_tokenizer *t = NULL;
    CHECK(pt_wordpiece_load_vocab(&t, vocab, 1) == PT_OK, "load bert vocab: %s", pt_last_error());
    if (!t) return;
    /* special ids of bert-base-uncased vocab.txt (lines 1, 101, 102, 103, 104) */
    CHECK(t->vocab_size == 30522 && t->pad_id == 0 && t->unk_id == 100 && t->cls_id == 101 &&
              t->sep_id == 102 && t->mask_id == 103,
          "bert special ids");
    CHECK(run_cases(t, 'u', "vocab.txt uncased vs ref_wordpiece.py") > 30, "too few cases");
    /* decode of "Hello, world!" ids from cases.txt: pieces joined by spaces */
    check_decode(t, IDS(7592, 1010, 2088, 999), "hello , world !");
    /* "unaffable" -> una ##ffa ##ble (cases.txt): glued back */
    check_decode(t, IDS(14477, 20961, 3468), "unaffable");
    pt_tok_free(t);

    t = NULL;
    CHECK(pt_wordpiece_load_vocab(&t, vocab, 0) == PT_OK, "load bert vocab cased");
    if (t) {
        run_cases(t, 'c', "vocab.txt cased vs ref_wordpiece.py");
        pt_tok_free(t);
    }

    if (!tj) {
        t_note_skip("../shared/tokenizers/bert-base-uncased/tokenizer.json absent");
        return;
    }
    char *text = NULL;
    size_t len = 0;
    pt_json_doc doc = {0};
    t = NULL;
    pt_status s = pt_read_file(tj, &text, &len);
    if (!s) s = pt_json_parse(&doc, text, len);
    if (!s) s = pt_wordpiece_from_tokenizer_json(&t, doc.root, tj);
    CHECK(s == PT_OK, "load tokenizer.json: %s", pt_last_error());
    pt_json_doc_free(&doc);
    free(text);
    if (!t) return;
    CHECK(t->vocab_size == 30522 && t->pad_id == 0 && t->unk_id == 100 && t->cls_id == 101 &&
              t->sep_id == 102 && t->mask_id == 103 && t->kind == PT_TOK_WORDPIECE,
          "tokenizer.json special ids");
    run_cases(t, 'u', "tokenizer.json uncased vs ref_wordpiece.py");
    pt_tok_free(t);
}

int main(void) {
    printf("test_wordpiece\n");
    test_unicode();
    test_tiny_uncased();
    test_tiny_cased();
    test_json_variants();
    test_errors();
    test_reference();
    return t_done();
}
