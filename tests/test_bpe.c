/* test_bpe.c - GPT-2 byte-level BPE: pre-tokenizer, byte map, encode/decode against
 * ids from the Python oracle (scripts/ref_gpt2_bpe.py via scripts/make_bpe_fixtures.py),
 * tokenizer.json and directory loading, loader errors, and (with ../shared) the
 * real GPT-2 vocabulary against reference-tokenizations.txt plus encoding speed. */
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "test.h"

#include "core/io.h"
#include "core/rng.h"
#include "core/vec.h"
#include "tokenizers/bpe_pretok.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode_tables.h"

#define FIX "tests/fixtures/bpe/"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: less noisy on a busy machine */
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* ---- case files: "ESCAPED => ids" ---------------------------------------- */

typedef struct tcase {
    pt_buf text;
    pt_ivec ids;
    int line;
} tcase;

static int hexval(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void put_utf8(pt_buf *b, uint32_t cp) {
    char u[4];
    int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n == 1)
        u[0] = (char)cp;
    else if (n == 2)
        u[0] = (char)(0xC0 | (cp >> 6));
    else if (n == 3)
        u[0] = (char)(0xE0 | (cp >> 12));
    else
        u[0] = (char)(0xF0 | (cp >> 18));
    for (int k = 1; k < n; k++) u[k] = (char)(0x80 | ((cp >> (6 * (n - 1 - k))) & 0x3F));
    pt_buf_append(b, u, (size_t)n);
}

static void unescape(pt_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\' || i + 1 >= n) {
            pt_buf_append(b, &c, 1);
            continue;
        }
        char e = s[++i];
        if (e == 'n')
            c = '\n';
        else if (e == 't')
            c = '\t';
        else if (e == 'r')
            c = '\r';
        else if (e == 'x' && i + 2 < n) {
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (e == 'u' && i + 1 < n && s[i + 1] == '{') {
            uint32_t cp = 0;
            for (i += 2; i < n && s[i] != '}'; i++) cp = cp * 16 + (uint32_t)hexval(s[i]);
            put_utf8(b, cp);
            continue;
        } else
            c = e;
        pt_buf_append(b, &c, 1);
    }
}

static int load_cases(const char *path, tcase **out) {
    char *text;
    size_t len;
    if (pt_read_file(path, &text, &len)) {
        fprintf(stderr, "%s\n", pt_last_error());
        return -1;
    }
    int n = 0, cap = 0, line = 0;
    tcase *cs = NULL;
    for (char *p = text; p < text + len;) {
        char *e = memchr(p, '\n', (size_t)(text + len - p));
        if (!e) e = text + len;
        line++;
        *e = 0;
        char *sep = NULL;
        for (char *q = strstr(p, " => "); q; q = strstr(q + 1, " => ")) sep = q;
        if (sep) {
            if (n == cap) cs = realloc(cs, sizeof *cs * (size_t)(cap = cap ? 2 * cap : 64));
            tcase *c = &cs[n++];
            memset(c, 0, sizeof *c);
            c->line = line;
            unescape(&c->text, p, (size_t)(sep - p));
            if (!c->text.v) pt_buf_append(&c->text, "", 0);
            for (char *q = sep + 4; *q;) {
                pt_ivec_push(&c->ids, (int)strtol(q, &q, 10));
                if (*q == ',') q++;
            }
        }
        p = e + 1;
    }
    free(text);
    *out = cs;
    return n;
}

static void free_cases(tcase *cs, int n) {
    for (int i = 0; i < n; i++) pt_buf_free(&cs[i].text), pt_ivec_free(&cs[i].ids);
    free(cs);
}

static int same_ids(const pt_ivec *a, const pt_ivec *b) {
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(int)) == 0);
}

static void print_ids(const char *what, const pt_ivec *a) {
    fprintf(stderr, "    %s:", what);
    for (size_t i = 0; i < a->n; i++) fprintf(stderr, " %d", a->v[i]);
    fputc('\n', stderr);
}

/* Encode text; 1 if it round-trips through decode. */
static int round_trip(const pt_tokenizer *t, const char *s, size_t n, pt_ivec *ids) {
    pt_buf dec = {0};
    ids->n = 0;
    int ok = pt_tok_encode(t, s, n, 0, ids) == PT_OK &&
             pt_tok_decode(t, ids->v, ids->n, &dec) == PT_OK && dec.n == n &&
             (n == 0 || memcmp(dec.v, s, n) == 0);
    pt_buf_free(&dec);
    return ok;
}

/* Check every case of a case file: ids equal, decode(encode(x)) == x. */
static void check_cases(const pt_tokenizer *t, const char *path, const char *name) {
    tcase *cs;
    int n = load_cases(path, &cs), match = 0, rt = 0;
    CHECK(n > 0, "%s: no cases read", path);
    pt_ivec got = {0};
    for (int i = 0; i < n; i++) {
        rt += round_trip(t, cs[i].text.v, cs[i].text.n, &got);
        int ok = same_ids(&got, &cs[i].ids);
        match += ok;
        if (!ok) {
            fprintf(stderr, "  %s line %d: ids differ\n", path, cs[i].line);
            print_ids("got ", &got);
            print_ids("want", &cs[i].ids);
        }
    }
    printf("  %s: %d of %d cases match the oracle, %d of %d round-trip\n", name, match, n, rt, n);
    CHECK(match == n && rt == n, "%s: %d/%d match, %d/%d round-trip", name, match, n, rt, n);
    pt_ivec_free(&got);
    free_cases(cs, n < 0 ? 0 : n);
}

/* ---- pre-tokenizer, byte map, classes ----------------------------------- */

/* Pieces of s joined by '|'. */
static void pretok(const char *s, char *out) {
    size_t len = strlen(s), o = 0;
    for (size_t i = 0; i < len;) {
        size_t j = pt_gpt2_pretok_next((const unsigned char *)s, len, i);
        if (i) out[o++] = '|';
        memcpy(out + o, s + i, j - i);
        o += j - i;
        i = j;
    }
    out[o] = 0;
}

static void test_pretok(void) {
    /* expected splits derived by hand from the pattern (see bpe_pretok.c):
     * contractions only lower case; ' ?' attaches one space; a white-space run
     * before a word leaves its last char to the word; at the end it stays whole. */
    static const char *cases[][2] = {
        {"Hello world", "Hello| world"},
        {"I'm don't", "I|'m| don|'t"},
        {"IT'S", "IT|'|S"},
        {"a  b", "a| | b"},
        {"a   b", "a|  | b"},
        {"a\t b", "a|\t| b"},
        {"a \tb", "a| |\t|b"}, /* ' ?' is U+0020 only: the tab stands alone */
        {"a \t", "a| \t"},
        {"x  ", "x|  "},
        {"42 apples!!", "42| apples|!!"},
        {"a1b", "a|1|b"},
        {" !?x", " !?|x"},
        {"\"'s", "\"'|s"},
        {"we'll've", "we|'ll|'ve"},
        {"\n\nHi", "\n|\n|Hi"},
        {"caf\xc3\xa9 na\xc3\xafve", "caf\xc3\xa9| na\xc3\xafve"}, /* é, ï letters */
        {"e\xcc\x81x", "e|\xcc\x81|x"},                            /* U+0301 is a mark */
        {"\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c",
         "\xe4\xbd\xa0\xe5\xa5\xbd|\xef\xbc\x8c"}, /* 你好， */
        {"a\xff\xfe b", "a|\xff\xfe| b"},          /* invalid bytes: other */
        {"a \xff", "a| \xff"},
        {"\xe3\x80\x80x", "\xe3\x80\x80|x"}, /* U+3000 is White_Space, single before x */
        {"a\xe3\x80\x80\xe3\x80\x80x", "a|\xe3\x80\x80|\xe3\x80\x80|x"},
        {"\xd9\xa3\xd9\xa4 x", "\xd9\xa3\xd9\xa4| x"}, /* Arabic-Indic digits: numbers */
    };
    char out[256];
    int bad = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pretok(cases[k][0], out);
        if (strcmp(out, cases[k][1]) != 0) bad++;
        CHECK(strcmp(out, cases[k][1]) == 0, "pretok(\"%s\") = \"%s\", want \"%s\"", cases[k][0],
              out, cases[k][1]);
    }
    printf("  pre-tokenizer: %zu hand-derived splits, %d wrong\n", sizeof cases / sizeof cases[0],
           bad);
}

static void test_bytes_and_classes(void) {
    int moved = 0, back = 0;
    for (unsigned b = 0; b < 256; b++) {
        uint32_t cp = pt_bpe_byte_to_cp(b);
        moved += cp != b;
        back += pt_bpe_cp_to_byte(cp) == (int)b;
    }
    /* 256 - 94 ('!'..'~') - 12 (U+A1..U+AC) - 82 (U+AE..U+FF) = 68 bytes move to U+0100.. */
    CHECK(moved == 68 && back == 256, "byte map: %d moved (want 68), %d invert", moved, back);
    CHECK(pt_bpe_byte_to_cp(' ') == 0x120 && pt_bpe_byte_to_cp('\n') == 0x10A &&
              pt_bpe_byte_to_cp(0xAD) == 0x143 && pt_bpe_byte_to_cp(0x7F) == 0x121,
          "byte map: space -> U+0120, newline -> U+010A, 0xAD -> U+0143, DEL -> U+0121");
    CHECK(pt_bpe_cp_to_byte(0x144) == -1 && pt_bpe_cp_to_byte(0x20) == -1, "byte map: non-members");
    uint32_t cp;
    const unsigned char bad[][4] = {
        {0xC0, 0xAF}, {0xE0, 0x80, 0xAF}, {0xED, 0xA0, 0x80}, {0xF4, 0x90, 0x80, 0x80}, {0x80},
        {0xF8}};
    const size_t blen[] = {2, 3, 3, 4, 1, 1};
    for (int k = 0; k < 6; k++)
        CHECK(pt_utf8_next(bad[k], blen[k], 0, &cp) == 1 && cp == PT_UTF8_INVALID,
              "utf8: invalid sequence %d accepted", k);
    const unsigned char good[] = {0xF0, 0x9F, 0x98, 0x80}; /* U+1F600 */
    CHECK(pt_utf8_next(good, 4, 0, &cp) == 4 && cp == 0x1F600, "utf8: U+1F600");
    CHECK(pt_utf8_next(good, 3, 0, &cp) == 1 && cp == PT_UTF8_INVALID, "utf8: truncated");
    /* classes: facts from the Unicode character database */
    CHECK(pt_uc_class(0xE9) == PT_UC_LETTER && pt_uc_class(0x4F60) == PT_UC_LETTER &&
              pt_uc_class(0x2B0) == PT_UC_LETTER && pt_uc_class(0x1C5) == PT_UC_LETTER,
          "class: letters (U+00E9, U+4F60, U+02B0 Lm, U+01C5 Lt)");
    CHECK(pt_uc_class(0x663) == PT_UC_NUMBER && pt_uc_class(0xBD) == PT_UC_NUMBER &&
              pt_uc_class(0x216B) == PT_UC_NUMBER,
          "class: numbers (U+0663 Nd, U+00BD No, U+216B Nl)");
    CHECK(pt_uc_class(0x3000) == PT_UC_SPACE && pt_uc_class(0x85) == PT_UC_SPACE &&
              pt_uc_class(0x2028) == PT_UC_SPACE && pt_uc_class(0xA0) == PT_UC_SPACE,
          "class: White_Space (U+3000, U+0085, U+2028, U+00A0)");
    CHECK(pt_uc_class(0x301) == PT_UC_OTHER && pt_uc_class(0x1C) == PT_UC_OTHER &&
              pt_uc_class(0x200D) == PT_UC_OTHER && pt_uc_class(0x1F600) == PT_UC_OTHER &&
              pt_uc_class(0x10FFFF) == PT_UC_OTHER,
          "class: other (U+0301 mark, U+001C, ZWJ, emoji, unassigned)");
    printf("  Unicode tables: version %s, %d ranges\n", pt_unicode_version, pt_uc_nranges);
}

/* ---- the tiny committed vocabulary -------------------------------------- */

static void test_random_bytes(const pt_tokenizer *t) {
    pt_rng r;
    pt_rng_seed(&r, 7);
    pt_ivec ids = {0};
    char buf[512];
    int ok = 0, n = 2000;
    for (int k = 0; k < n; k++) {
        size_t len = (size_t)pt_rng_below(&r, sizeof buf);
        /* half fully random bytes, half biased to ASCII letters, spaces, UTF-8 lead bytes */
        for (size_t i = 0; i < len; i++) {
            uint64_t x = pt_rng_u64(&r);
            static const char mix[] = "ab' \n\t1.\xc3\xa9\xe4\xbd\xa0\xff\x80";
            buf[i] = (char)(k & 1 ? x : (uint64_t)(unsigned char)mix[x % (sizeof mix - 1)]);
        }
        ok += round_trip(t, buf, len, &ids);
        for (size_t i = 0; i < ids.n; i++)
            if (ids.v[i] < 0 || ids.v[i] >= t->vocab_size) ok = -1000000;
    }
    printf("  random byte strings: %d of %d round-trip\n", ok, n);
    CHECK(ok == n, "random bytes: %d of %d round-trip", ok, n);
    pt_ivec_free(&ids);
}

static pt_tokenizer *load_tiny(void) {
    pt_tokenizer *t = NULL;
    pt_status s = pt_bpe_load_files(&t, FIX "tiny/vocab.json", FIX "tiny/merges.txt");
    CHECK(s == PT_OK, "tiny load: %s", pt_last_error());
    return s ? NULL : t;
}

static void test_tiny(pt_tokenizer *t) {
    CHECK(t->kind == PT_TOK_BPE && t->space_sensitive == 1 && t->vocab_size == 443,
          "tiny: kind %d space_sensitive %d vocab %d (want 443 = 256 + 186 merges + 1)", t->kind,
          t->space_sensitive, t->vocab_size);
    CHECK(t->eos_id == 442 && t->bos_id == 442 && t->unk_id == -1 && t->pad_id == -1,
          "tiny: bos %d eos %d unk %d pad %d", t->bos_id, t->eos_id, t->unk_id, t->pad_id);
    CHECK(pt_tok_lookup(t, "<|endoftext|>") == 442, "tiny: lookup <|endoftext|>");
    /* "Ġt" is a stored piece (byte-level form), decoding to " t" */
    int id = pt_tok_lookup(t, "\xc4\xa0t");
    pt_buf b = {0};
    CHECK(id >= 256 && pt_tok_decode(t, &id, 1, &b) == PT_OK && b.n == 2 && !memcmp(b.v, " t", 2),
          "tiny: piece \"\xc4\xa0t\" (id %d) decodes to \" t\"", id);
    pt_buf_free(&b);
    check_cases(t, FIX "tiny_cases.txt", "tiny vocab");
    test_random_bytes(t);
    /* encoding twice (second time from the word cache) gives the same ids */
    const char *s = "the the the quick quick brown fox";
    pt_ivec a = {0}, c = {0};
    pt_tok_encode(t, s, strlen(s), 0, &a);
    pt_tok_encode(t, s, strlen(s), 0, &c);
    CHECK(a.n > 0 && same_ids(&a, &c), "tiny: cached encode differs");
    pt_ivec_free(&a), pt_ivec_free(&c);
}

/* tokenizer.json and directory loading give the same tokenizer as vocab + merges. */
static void same_tokenizer(const pt_tokenizer *a, const pt_tokenizer *b, const char *what) {
    int same = a->vocab_size == b->vocab_size && a->eos_id == b->eos_id && a->kind == b->kind;
    for (int i = 0; same && i < a->vocab_size; i++) same = !strcmp(a->pieces[i], b->pieces[i]);
    CHECK(same, "%s: vocabulary differs from vocab.json (size %d vs %d)", what, b->vocab_size,
          a->vocab_size);
    tcase *cs;
    int n = load_cases(FIX "tiny_cases.txt", &cs), eq = 0;
    pt_ivec x = {0}, y = {0};
    for (int i = 0; i < n; i++) {
        x.n = y.n = 0;
        pt_tok_encode(a, cs[i].text.v, cs[i].text.n, 0, &x);
        pt_tok_encode(b, cs[i].text.v, cs[i].text.n, 0, &y);
        eq += same_ids(&x, &y) && same_ids(&y, &cs[i].ids);
    }
    printf("  %s: %d of %d cases encode as with vocab.json + merges.txt\n", what, eq, n);
    CHECK(eq == n, "%s: %d of %d", what, eq, n);
    pt_ivec_free(&x), pt_ivec_free(&y);
    free_cases(cs, n < 0 ? 0 : n);
}

static void test_json_and_dir(const pt_tokenizer *tiny) {
    const char *files[] = {FIX "tiny_json/tokenizer.json", FIX "tiny_pairs/tokenizer.json"};
    for (int k = 0; k < 2; k++) {
        pt_tokenizer *t = NULL;
        pt_status s = pt_tok_load_tokenizer_json(&t, files[k]);
        CHECK(s == PT_OK, "%s: %s", files[k], pt_last_error());
        if (t) same_tokenizer(tiny, t, files[k]);
        pt_tok_free(t);
    }
    const char *dirs[] = {FIX "tiny", FIX "tiny_json"};
    for (int k = 0; k < 2; k++) {
        pt_tokenizer *t = NULL;
        pt_status s = pt_tok_load_dir(&t, dirs[k]);
        CHECK(s == PT_OK && t && t->kind == PT_TOK_BPE, "load_dir %s: %s", dirs[k],
              pt_last_error());
        if (t) same_tokenizer(tiny, t, dirs[k]);
        pt_tok_free(t);
    }
}

/* ---- errors --------------------------------------------------------------- */

static char tmpdir[64];

static const char *tmp_write(const char *name, const char *text) {
    static char path[8][160];
    static int k = 0;
    char *p = path[k++ & 7];
    snprintf(p, 160, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
    return p;
}

/* A byte-level vocabulary JSON with the 256 byte symbols (ids 0..255) + extra. */
static void byte_vocab(pt_buf *b, const char *extra) {
    pt_buf_puts(b, "{");
    for (unsigned i = 0; i < 256; i++) {
        pt_buf_puts(b, i ? ", \"" : "\"");
        uint32_t cp = pt_bpe_byte_to_cp(i);
        if (cp == '"' || cp == '\\') pt_buf_puts(b, "\\");
        put_utf8(b, cp);
        pt_buf_printf(b, "\": %u", i);
    }
    pt_buf_printf(b, "%s}", extra);
}

static void expect_error(pt_status s, pt_status want, const char *needle, const char *what) {
    const char *msg = pt_last_error();
    CHECK(s == want && strstr(msg, needle), "%s: got %s \"%s\", want %s containing \"%s\"", what,
          pt_status_name(s), msg, pt_status_name(want), needle);
    if (s == want && strstr(msg, needle)) printf("  error ok: %s\n", msg);
}

static void test_errors(void) {
    pt_tokenizer *t = (pt_tokenizer *)1;
    pt_buf v = {0};
    byte_vocab(&v, ", \"he\": 256, \"\xc4\xa0t\": 257");
    const char *vj = tmp_write("vocab.json", v.v);
    const char *mt = tmp_write("merges.txt", "#version: 0.2\nh e\n\xc4\xa0 t\n");
    CHECK(pt_bpe_load_files(&t, vj, mt) == PT_OK && t->vocab_size == 258, "error base: %s",
          pt_last_error());
    pt_tok_free(t);
    /* a repeated merge keeps its first rank: "h e" (rank 0) beats "e l" (rank 1),
     * so "hel" -> "he" "l"; were the repeat at rank 2 to count, "h" "el" */
    v.n = 0;
    byte_vocab(&v, ", \"he\": 256, \"el\": 257");
    vj = tmp_write("vocab2.json", v.v);
    mt = tmp_write("merges2.txt", "h e\ne l\nh e\n");
    pt_ivec ids = {0};
    pt_status s = pt_bpe_load_files(&t, vj, mt);
    if (!s) s = pt_tok_encode(t, "hel", 3, 0, &ids);
    CHECK(s == PT_OK && ids.n == 2 && ids.v[0] == 256 && ids.v[1] == 'l',
          "repeated merge: %s, %zu ids", pt_last_error(), ids.n);
    pt_ivec_free(&ids);
    pt_tok_free(t);

    expect_error(pt_bpe_load_files(&t, "tests/fixtures/bpe/nope.json", mt), PT_ERR_IO, "nope.json",
                 "missing vocab.json");
    CHECK(t == NULL, "failed load leaves *out NULL");
    expect_error(pt_bpe_load_files(&t, vj, "tests/fixtures/bpe/nope.txt"), PT_ERR_IO, "nope.txt",
                 "missing merges.txt");
    const char *bad = tmp_write("bad_merges.txt", "#version: 0.2\nh e\nh e x\n");
    expect_error(pt_bpe_load_files(&t, vj, bad), PT_ERR_FORMAT, "bad_merges.txt line 3",
                 "three tokens on a merge line");
    bad = tmp_write("bad_merges2.txt", "h e\nq z\n");
    expect_error(pt_bpe_load_files(&t, vj, bad), PT_ERR_FORMAT,
                 "bad_merges2.txt line 2: \"qz\" is not in the vocabulary", "merge result unknown");
    bad = tmp_write("bad.json", "{\"a\": 0, \"b\": }");
    expect_error(pt_bpe_load_files(&t, bad, mt), PT_ERR_FORMAT, "bad.json", "malformed JSON");
    bad = tmp_write("list.json", "[1, 2]");
    expect_error(pt_bpe_load_files(&t, bad, mt), PT_ERR_FORMAT, "not a JSON object",
                 "vocab not an object");
    v.n = 0;
    byte_vocab(&v, ", \"he\": 999");
    bad = tmp_write("range.json", v.v);
    expect_error(pt_bpe_load_files(&t, bad, mt), PT_ERR_FORMAT, "entry \"he\": id 999 out of range",
                 "id out of range");
    v.n = 0;
    byte_vocab(&v, ", \"he\": 3");
    bad = tmp_write("dup.json", v.v);
    expect_error(pt_bpe_load_files(&t, bad, mt), PT_ERR_FORMAT, "duplicate id 3", "duplicate id");
    for (int k = 0; k < 2; k++) {
        /* 258 entries (the added token repeats id 33 = '!' or conflicts with id 0),
         * ids 0..255 and 257 */
        v.n = 0;
        pt_buf_printf(&v,
                      "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"added_tokens\": "
                      "[{\"id\": %d, \"content\": \"!\"}], \"model\": {\"type\": \"BPE\", "
                      "\"merges\": [], \"vocab\": ",
                      k ? 0 : 33);
        byte_vocab(&v, ", \"he\": 257}}");
        bad = tmp_write("tj_gap.json", v.v);
        expect_error(pt_tok_load_tokenizer_json(&t, bad), PT_ERR_FORMAT,
                     k ? "added_tokens[0]: id 0 is \"\xc4\x80\" in the vocabulary, \"!\" here"
                       : "model.vocab: missing id 256",
                     k ? "added token conflicts" : "missing id");
    }
    bad = tmp_write("notbytes.json", "{\"a\": 0, \"b\": 1}");
    expect_error(pt_bpe_load_files(&t, bad, tmp_write("empty.txt", "")), PT_ERR_FORMAT,
                 "not a GPT-2 byte-level vocabulary", "vocab without byte symbols");
    bad = tmp_write("tj_wl.json", "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}");
    expect_error(pt_tok_load_tokenizer_json(&t, bad), PT_ERR_UNSUPPORTED, "WordLevel",
                 "unsupported model.type");
    v.n = 0;
    pt_buf_puts(&v, "{\"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"model\": {\"type\": "
                    "\"BPE\", \"merges\": [], \"vocab\": ");
    byte_vocab(&v, "}}");
    bad = tmp_write("tj_ws.json", v.v);
    expect_error(pt_tok_load_tokenizer_json(&t, bad), PT_ERR_UNSUPPORTED, "Whitespace",
                 "non-ByteLevel pre-tokenizer");
    v.n = 0;
    pt_buf_puts(&v, "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": "
                    "\"BPE\", \"merges\": [\"h e\", [\"h\"]], \"vocab\": ");
    byte_vocab(&v, ", \"he\": 256}}");
    bad = tmp_write("tj_merge.json", v.v);
    expect_error(pt_tok_load_tokenizer_json(&t, bad), PT_ERR_FORMAT, "model.merges[1]",
                 "bad merge entry in tokenizer.json");
    expect_error(pt_tok_load_dir(&t, "tests/fixtures/bpe/no-such-dir"), PT_ERR_IO,
                 "no-such-dir: no tokenizer found (looked for tokenizer.json, vocab.json + "
                 "merges.txt, tokenizer.model, vocab.txt)",
                 "empty dir");
    pt_buf_free(&v);
}

/* ---- the real GPT-2 vocabulary (../shared) -------------------------------- */

static void test_reference(const pt_tokenizer *t, const char *path) {
    tcase *cs;
    int n = load_cases(path, &cs), match = 0; /* the reference text has no escapes */
    pt_ivec got = {0};
    for (int i = 0; i < n; i++) {
        got.n = 0;
        pt_tok_encode(t, cs[i].text.v, cs[i].text.n, 0, &got);
        int ok = same_ids(&got, &cs[i].ids);
        match += ok;
        if (!ok) {
            fprintf(stderr, "  reference line %d: \"%s\"\n", cs[i].line, cs[i].text.v);
            print_ids("got ", &got);
            print_ids("want", &cs[i].ids);
        }
    }
    printf("  reference-tokenizations.txt: %d of %d lines match\n", match, n);
    CHECK(n == 100 && match == n, "reference: %d of %d lines match", match, n);
    pt_ivec_free(&got);
    free_cases(cs, n < 0 ? 0 : n);
}

/* ~1 MB of varied text: the reference lines and cases plus decoded random tokens,
 * so many distinct words miss the cache. Encodes it cold and warm. */
static void test_speed(const char *vocab, const char *merges, const char *ref) {
    pt_tokenizer *t = NULL;
    if (pt_bpe_load_files(&t, vocab, merges)) return;
    pt_buf text = {0}, dec = {0};
    char *r;
    size_t rlen;
    pt_rng g;
    pt_rng_seed(&g, 11);
    if (pt_read_file(ref, &r, &rlen)) return;
    while (text.n < (1u << 20)) {
        pt_buf_append(&text, r, rlen);
        for (int k = 0; k < 3000; k++) {
            int id = (int)pt_rng_below(&g, (uint64_t)t->vocab_size - 1);
            pt_tok_decode(t, &id, 1, &text);
            if (k % 13 == 0) pt_buf_puts(&text, k % 26 ? " " : "\n");
        }
    }
    free(r);
    pt_ivec ids = {0};
    double t0 = now();
    pt_status s = pt_tok_encode(t, text.v, text.n, 0, &ids);
    double t1 = now();
    size_t n1 = ids.n;
    ids.n = 0;
    pt_tok_encode(t, text.v, text.n, 0, &ids);
    double t2 = now();
    pt_tok_decode(t, ids.v, ids.n, &dec);
    printf(
        "  speed (CPU time): %.2f MB -> %zu tokens; encode %.1f ms (%.1f MB/s) cold cache, %.1f ms "
        "(%.1f MB/s) warm\n",
        text.n / 1e6, n1, (t1 - t0) * 1e3, text.n / 1e6 / (t1 - t0), (t2 - t1) * 1e3,
        text.n / 1e6 / (t2 - t1));
    CHECK(s == PT_OK && n1 == ids.n && dec.n == text.n && !memcmp(dec.v, text.v, text.n),
          "speed text: round trip failed");
    pt_ivec_free(&ids);
    pt_buf_free(&text);
    pt_buf_free(&dec);
    pt_tok_free(t);
}

static void test_gpt2(void) {
    const char *vocab = t_shared("tokenizers/gpt2/vocab.json");
    const char *merges = t_shared("tokenizers/gpt2/merges.txt");
    const char *ref = t_shared("tokenizers/gpt2/reference-tokenizations.txt");
    if (!vocab || !merges) {
        t_note_skip("GPT-2 vocabulary (../shared/tokenizers/gpt2 absent): real-vocab cases, "
                    "reference tokenizations, speed");
        return;
    }
    pt_tokenizer *t = NULL;
    double t0 = now();
    pt_status s = pt_bpe_load_files(&t, vocab, merges);
    CHECK(s == PT_OK, "gpt2 load: %s", pt_last_error());
    if (s) return;
    printf("  GPT-2: vocab %d, eos %d, loaded in %.0f ms\n", t->vocab_size, t->eos_id,
           (now() - t0) * 1e3);
    CHECK(t->vocab_size == 50257 && t->eos_id == 50256 && t->bos_id == 50256,
          "gpt2: vocab %d eos %d", t->vocab_size, t->eos_id);
    if (ref)
        test_reference(t, ref);
    else
        t_note_skip("reference-tokenizations.txt absent");
    check_cases(t, FIX "cases.txt", "GPT-2 vocab");
    /* "<|endoftext|>" in the text is plain text, not the special id */
    pt_ivec ids = {0};
    pt_tok_encode(t, "<|endoftext|>", 13, 0, &ids);
    CHECK(ids.n > 1, "<|endoftext|> in text must not become the special id");
    pt_ivec_free(&ids);
    pt_tok_free(t);
    if (ref) test_speed(vocab, merges, ref);
}

/* pt_tok_load_dir's other branches: vocab.txt (case from tokenizer_config.json)
 * and a WordPiece tokenizer.json. */
static void test_dir_dispatch(void) {
    char dir[96], path[160];
    snprintf(dir, sizeof dir, "%s/wp", tmpdir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    FILE *f = fopen(path, "wb");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n", f);
    fclose(f);
    int want[3] = {5, 1, 5}; /* "HELLO": lower case by default, as is with do_lower_case false */
    const char *config[3] = {NULL, "{\"do_lower_case\": false}", "{\"do_lower_case\": true}"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        if (config[k]) {
            f = fopen(path, "wb");
            fputs(config[k], f);
            fclose(f);
        }
        pt_tokenizer *t = NULL;
        pt_ivec ids = {0};
        pt_status s = pt_tok_load_dir(&t, dir);
        if (!s) s = pt_tok_encode(t, "HELLO", 5, 0, &ids);
        CHECK(s == PT_OK && t->kind == PT_TOK_WORDPIECE && ids.n == 1 && ids.v[0] == want[k],
              "load_dir vocab.txt (config %s): %s; got %zu ids, first %d, want %d",
              config[k] ? config[k] : "absent", s ? pt_last_error() : "ok", ids.n,
              ids.n ? ids.v[0] : -1, want[k]);
        pt_ivec_free(&ids);
        pt_tok_free(t);
    }
    const char *bert = t_shared("tokenizers/bert-base-uncased/tokenizer.json");
    if (bert) {
        pt_tokenizer *t = NULL;
        pt_status s = pt_tok_load_tokenizer_json(&t, bert);
        CHECK(s == PT_OK && t->kind == PT_TOK_WORDPIECE, "bert tokenizer.json: %s",
              s ? pt_last_error() : "wrong kind");
        pt_tok_free(t);
    } else
        t_note_skip("bert-base-uncased tokenizer.json dispatch (../shared absent)");
    printf(
        "  load_dir: vocab.txt branch checked without, with false and with true do_lower_case\n");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_bpe.XXXXXX");
    if (!mkdtemp(tmpdir)) return t_skip("mkdtemp failed");
    test_pretok();
    test_bytes_and_classes();
    pt_tokenizer *tiny = load_tiny();
    if (tiny) {
        test_tiny(tiny);
        test_json_and_dir(tiny);
        pt_tok_free(tiny);
    }
    test_errors();
    test_dir_dispatch();
    test_gpt2();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) printf("  (could not remove %s)\n", tmpdir);
    return t_done();
}
