/* test_json.c - the strict JSON reader: every value type, escapes, unicode,
 * nesting, malformed input (each must give PT_ERR_FORMAT with line/column),
 * large inputs in linear time, and the string writer. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/io.h"
#include "formats/json.h"
#include "test.h"

static pt_status parse(pt_json_doc *d, const char *s) {
    return pt_json_parse(d, s, strlen(s));
}

/* Must fail with PT_ERR_FORMAT and a "line L, column C:" message; if want_line
 * > 0 the position must be exactly (want_line, want_col). */
static void bad_at(const char *what, const char *text, size_t len, int want_line, int want_col) {
    pt_json_doc d;
    pt_clear_error();
    pt_status s = pt_json_parse(&d, text, len);
    const char *msg = pt_last_error();
    int line = 0, col = 0;
    int n = sscanf(msg, "line %d, column %d:", &line, &col);
    CHECK(s == PT_ERR_FORMAT, "%s: status %s (msg '%s')", what, pt_status_name(s), msg);
    CHECK(n == 2 && line >= 1 && col >= 1, "%s: message without line/column: '%s'", what, msg);
    if (want_line > 0)
        CHECK(line == want_line && col == want_col, "%s: at %d:%d, want %d:%d ('%s')", what, line,
              col, want_line, want_col, msg);
    CHECK(d.root == NULL && d.arena == NULL, "%s: doc not cleared on error", what);
    if (s == PT_OK) pt_json_doc_free(&d);
}

static void bad(const char *what, const char *text) {
    bad_at(what, text, strlen(text), 0, 0);
}

static void test_types(void) {
    pt_json_doc d;
    const char *src = "{\"n\": null, \"t\": true, \"f\": false, \"i\": -42, \"x\": 2.5e-3,\n"
                      " \"s\": \"hi\", \"a\": [1, [2, 3], {}], \"o\": {\"k\": \"v\"}, \"e\": [],"
                      " \"big\": 12345678901234567890, \"z\": -0, \"E\": 1E+2}";
    CHECK(parse(&d, src) == PT_OK, "parse: %s", pt_last_error());
    const pt_json *r = d.root;
    CHECK(r && r->type == PT_JSON_OBJECT && r->len == 12, "root object with 12 members");
    CHECK(pt_json_get(r, "n")->type == PT_JSON_NULL, "null");
    int bv = -1, iv = 0;
    CHECK(pt_json_get_bool(r, "t", &bv) && bv == 1, "true");
    CHECK(pt_json_get_bool(r, "f", &bv) && bv == 0, "false");
    CHECK(pt_json_get_int(r, "i", &iv) && iv == -42, "int %d", iv);
    double x = 0;
    CHECK(pt_json_get_num(r, "x", &x) && x == 2.5e-3, "num %g", x);
    CHECK(strcmp(pt_json_get(r, "x")->num_text, "2.5e-3") == 0, "num_text kept");
    CHECK(!pt_json_get_int(r, "x", &iv), "2.5e-3 is not an int");
    CHECK(!pt_json_get_int(r, "big", &iv), "1.2e19 is beyond int range");
    CHECK(pt_json_get_num(r, "big", &x) && x == 12345678901234567890.0, "big");
    CHECK(pt_json_get_num(r, "z", &x) && x == 0 && signbit(x), "-0 keeps sign");
    CHECK(pt_json_get_int(r, "E", &iv) && iv == 100, "1E+2 -> %d", iv);
    const char *sv = NULL;
    CHECK(pt_json_get_str(r, "s", &sv) && strcmp(sv, "hi") == 0, "string");
    CHECK(!pt_json_get_str(r, "i", &sv), "number is not a string");
    CHECK(!pt_json_get_int(r, "s", &iv), "string is not an int");
    CHECK(!pt_json_get(r, "missing"), "missing key");
    CHECK(!pt_json_get(pt_json_get(r, "a"), "k"), "get on an array gives NULL");
    const pt_json *a = pt_json_get(r, "a");
    CHECK(a->type == PT_JSON_ARRAY && a->len == 3, "array len");
    CHECK(a->items[0]->number == 1 && a->items[1]->len == 2 && a->items[1]->items[1]->number == 3,
          "nested array");
    CHECK(a->items[2]->type == PT_JSON_OBJECT && a->items[2]->len == 0, "empty object");
    CHECK(pt_json_get(r, "e")->type == PT_JSON_ARRAY && pt_json_get(r, "e")->len == 0, "[]");
    CHECK(pt_json_get_str(pt_json_get(r, "o"), "k", &sv) && strcmp(sv, "v") == 0, "nested obj");
    /* file order of keys */
    const char *order[] = {"n", "t", "f", "i", "x", "s", "a", "o", "e", "big", "z", "E"};
    int ok = 1;
    for (int i = 0; i < 12; i++) ok &= strcmp(r->keys[i], order[i]) == 0;
    CHECK(ok, "keys in file order");
    pt_json_doc_free(&d);

    /* scalars at top level, surrounding whitespace */
    CHECK(parse(&d, " \t\r\n 7 \n") == PT_OK && d.root->number == 7, "top-level number");
    pt_json_doc_free(&d);
    CHECK(parse(&d, "\"s\"") == PT_OK && d.root->type == PT_JSON_STRING, "top-level string");
    pt_json_doc_free(&d);
    CHECK(parse(&d, "null") == PT_OK && d.root->type == PT_JSON_NULL, "top-level null");
    pt_json_doc_free(&d);
    /* duplicates kept, get returns the first */
    CHECK(parse(&d, "{\"k\":1,\"k\":2}") == PT_OK, "dup parse");
    CHECK(d.root->len == 2 && pt_json_get(d.root, "k")->number == 1, "dup keys kept, first wins");
    pt_json_doc_free(&d);
    /* exactly PT_JSON_MAX_DEPTH levels is fine */
    char deep[2 * PT_JSON_MAX_DEPTH + 1];
    deep[2 * PT_JSON_MAX_DEPTH] = '\0';
    for (int i = 0; i < PT_JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[2 * PT_JSON_MAX_DEPTH - 1 - i] = ']';
    }
    CHECK(pt_json_parse(&d, deep, 2 * PT_JSON_MAX_DEPTH) == PT_OK, "depth %d: %s",
          PT_JSON_MAX_DEPTH, pt_last_error());
    pt_json_doc_free(&d);
    deep[0] = '{'; /* {[[..]] -> mismatch */
    bad("mismatched close", deep);
    pt_json_doc_free(&d); /* freeing a cleared doc is harmless */
}

static void test_strings(void) {
    pt_json_doc d;
    /* escapes */
    CHECK(parse(&d, "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"") == PT_OK, "escapes: %s",
          pt_last_error());
    CHECK(d.root->len == 17 && memcmp(d.root->str, "a\"b\\c/d\be\ff\ng\rh\ti", 17) == 0,
          "escape values");
    pt_json_doc_free(&d);
    /* \u escapes -> UTF-8: U+0041, U+00E9 (C3 A9), U+20AC (E2 82 AC),
     * U+1F600 via surrogates D83D DE00 (F0 9F 98 80), U+0000 (embedded NUL) */
    CHECK(parse(&d, "\"\\u0041\\u00e9\\u20AC\\ud83d\\uDE00\\u0000z\"") == PT_OK, "\\u: %s",
          pt_last_error());
    const char want[] = "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\0z";
    CHECK(d.root->len == sizeof want - 1 && memcmp(d.root->str, want, sizeof want) == 0,
          "\\u decoding (len %zu)", d.root->len);
    pt_json_doc_free(&d);
    /* raw UTF-8 is kept as is; keys unescaped and may hold NUL */
    CHECK(
        parse(&d, "{\"\xC3\xA9t\xC3\xA9\": \"\xE6\x97\xA5\xF0\x9F\x98\x80\", \"a\\u0000b\": 1}") ==
            PT_OK,
        "raw utf8: %s", pt_last_error());
    CHECK(strcmp(d.root->keys[0], "\xC3\xA9t\xC3\xA9") == 0 && d.root->key_lens[0] == 5, "key");
    CHECK(strcmp(d.root->items[0]->str, "\xE6\x97\xA5\xF0\x9F\x98\x80") == 0, "raw value");
    CHECK(d.root->key_lens[1] == 3 && memcmp(d.root->keys[1], "a\0b", 3) == 0, "NUL key");
    CHECK(pt_json_get(d.root, "a") == NULL, "\"a\" does not match \"a\\0b\"");
    pt_json_doc_free(&d);
}

static void test_malformed(void) {
    bad_at("empty input", "", 0, 1, 1);
    bad("only whitespace", "  \n ");
    bad_at("trailing garbage", "{\"a\":1} x", 9, 1, 9);
    bad("two values", "1 2");
    bad_at("leading zero", "[01]", 4, 1, 2);
    bad("leading zero negative", "-01");
    bad("NaN", "NaN");
    bad("nan in array", "[1, nan]");
    bad("Infinity", "Infinity");
    bad("-Infinity", "-Infinity");
    bad("huge number", "1e999");
    bad("plus sign", "+1");
    bad("dot first", ".5");
    bad("dot last", "1.");
    bad("bare exponent", "1e");
    bad("exponent sign only", "1e+");
    bad("hex", "0x10");
    bad("lone minus", "-");
    bad("trailing comma array", "[1,]");
    bad("trailing comma object", "{\"a\":1,}");
    bad("missing colon", "{\"a\" 1}");
    bad("unquoted key", "{a:1}");
    bad("single quotes", "['a']");
    bad("missing comma", "[1 2]");
    bad("unclosed array", "[1, 2");
    bad("unclosed object", "{\"a\": 1");
    bad("unterminated string", "\"abc");
    bad("bad literal", "tru");
    bad("bad literal 2", "nul");
    bad("capital True", "True");
    bad("comment", "[1 /* x */]");
    bad_at("bad escape", "\"a\\x\"", 5, 1, 3);
    bad("escape at end", "\"\\");
    bad("short \\u", "\"\\u12\"");
    bad("non-hex \\u", "\"\\u12G4\"");
    bad_at("lone high surrogate", "[\"ab\\uD800\"]", 12, 1, 5);
    bad("high surrogate then letter", "\"\\uD800x\"");
    bad("high + high surrogate", "\"\\uD800\\uD800\"");
    bad_at("lone low surrogate", "\"\\uDC00\"", 8, 1, 2);
    bad_at("raw control char", "\"a\tb\"", 5, 1, 3);
    bad("raw newline in string", "\"a\nb\"");
    /* invalid UTF-8: error names the line and column of the bad byte */
    bad_at("invalid utf8 byte FF", "[\n \"ok\",\n  \"x\xFFy\"]", 17, 3, 5);
    bad("continuation without lead", "\"\x80\"");
    bad("overlong 2-byte", "\"\xC0\xAF\"");
    bad("overlong 3-byte", "\"\xE0\x80\xAF\"");
    bad("utf8 surrogate", "\"\xED\xA0\x80\"");
    bad("above U+10FFFF", "\"\xF4\x90\x80\x80\"");
    bad("truncated sequence", "\"\xE2\x82\"");
    bad("non-ascii outside string", "[1,\xC3\xA9]");
    bad_at("NUL byte outside string", "[1,\0 2]", 7, 1, 4);
    /* error position on a later line */
    bad_at("line/column", "{\n  \"a\": 1,\n  \"b\": ]\n}", 22, 3, 8);

    /* depth 10000: an error (no stack overflow) */
    size_t n = 10000;
    char *deep = malloc(2 * n);
    for (size_t i = 0; i < n; i++) deep[i] = '[', deep[2 * n - 1 - i] = ']';
    bad_at("depth 10000", deep, 2 * n, 1, PT_JSON_MAX_DEPTH + 1);
    free(deep);
    /* {"a":{"a":...}} 10000 deep */
    deep = malloc(6 * n);
    for (size_t i = 0; i < n; i++) memcpy(deep + 5 * i, "{\"a\":", 5), deep[5 * n + i] = '}';
    bad_at("depth 10000 objects", deep, 6 * n, 1, 5 * PT_JSON_MAX_DEPTH + 1);
    free(deep);
}

/* Every proper prefix of a valid document is malformed: error, no crash. */
static void test_truncations(void) {
    const char *doc = "{\"name\": \"gpt2\", \"n\": [1, -2.5e+3, true, false, null],\n"
                      " \"s\": \"\\u00e9\\ud83d\\ude00\xE2\x82\xAC\\n\", \"o\": {\"k\": {}}}";
    size_t n = strlen(doc);
    pt_json_doc d;
    CHECK(pt_json_parse(&d, doc, n) == PT_OK, "full doc parses: %s", pt_last_error());
    pt_json_doc_free(&d);
    int wrong = 0;
    for (size_t k = 0; k < n; k++) {
        /* copy into an exact-size heap buffer so ASan catches any over-read */
        char *b = malloc(k ? k : 1);
        memcpy(b, doc, k);
        pt_clear_error();
        pt_status s = pt_json_parse(&d, b, k);
        int line, col;
        if (s != PT_ERR_FORMAT || sscanf(pt_last_error(), "line %d, column %d:", &line, &col) != 2)
            wrong++;
        if (s == PT_OK) pt_json_doc_free(&d);
        free(b);
    }
    CHECK(wrong == 0, "%d of %zu truncations did not give a positioned PT_ERR_FORMAT", wrong, n);
    printf("  truncated at each of %zu positions: %d wrong\n", n, wrong);
}

/* A 2 MB object with 60k keys: parse time must stay linear. */
static void test_large(void) {
    pt_buf b = {0};
    pt_buf_puts(&b, "{");
    int nk = 60000;
    for (int i = 0; i < nk; i++)
        pt_buf_printf(&b, "%s\"tok\\u0120%d_abcdefghij\": %d", i ? ", " : "", i, i);
    pt_buf_puts(&b, "}");
    pt_json_doc d;
    clock_t t0 = clock();
    pt_status s = pt_json_parse(&d, b.v, b.n);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("  parsed %zu bytes, %d keys in %.3f s\n", b.n, nk, secs);
    CHECK(s == PT_OK, "large parse: %s", pt_last_error());
    if (s == PT_OK) {
        int bad_vals = 0;
        for (int i = 0; i < nk; i++) {
            char want[64];
            snprintf(want, sizeof want, "tok\xC4\xA0%d_abcdefghij", i);
            if (strcmp(d.root->keys[i], want) != 0 || d.root->items[i]->number != i) bad_vals++;
        }
        CHECK(d.root->len == (size_t)nk && bad_vals == 0, "%d wrong entries", bad_vals);
        pt_json_doc_free(&d);
    }
    CHECK(secs < 2.0, "large parse too slow: %.3f s", secs);
    pt_buf_free(&b);
}

static void test_writer(void) {
    pt_buf b = {0};
    const char raw[] = "q\"b\\n\n\t\x01\x1F\xC3\xA9\xFF\x7F\0e";
    CHECK(pt_json_write_string(&b, raw, sizeof raw - 1) == PT_OK, "write");
    const char *want = "\"q\\\"b\\\\n\\n\\t\\u0001\\u001F\xC3\xA9\\u00FF\x7F\\u0000e\"";
    CHECK(b.n == strlen(want) && strcmp(b.v, want) == 0, "written '%s'", b.v);
    /* round trip of valid UTF-8 with controls through the parser */
    const char s2[] = "line1\nta\tb \"q\" \\ \xE2\x82\xAC \xF0\x9F\x98\x80 \x02 end";
    b.n = 0;
    pt_json_write_string(&b, s2, sizeof s2 - 1);
    pt_json_doc d;
    CHECK(pt_json_parse(&d, b.v, b.n) == PT_OK, "reparse: %s", pt_last_error());
    CHECK(d.root && d.root->len == sizeof s2 - 1 && memcmp(d.root->str, s2, sizeof s2) == 0,
          "round trip");
    pt_json_doc_free(&d);
    pt_buf_free(&b);
}

/* The real GPT-2 vocab.json, when ../shared is present. */
static void test_shared_vocab(void) {
    const char *path = t_shared("tokenizers/gpt2/vocab.json");
    if (!path) {
        t_note_skip("../shared/tokenizers/gpt2/vocab.json absent");
        return;
    }
    char *text;
    size_t len;
    CHECK(pt_read_file(path, &text, &len) == PT_OK, "read %s", path);
    pt_json_doc d;
    clock_t t0 = clock();
    pt_status s = pt_json_parse(&d, text, len);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(s == PT_OK, "vocab.json: %s", pt_last_error());
    if (s == PT_OK) {
        int id = -1;
        printf("  vocab.json: %zu bytes, %zu entries in %.3f s\n", len, d.root->len, secs);
        CHECK(d.root->len == 50257, "GPT-2 vocab has 50257 entries, got %zu", d.root->len);
        CHECK(pt_json_get_int(d.root, "<|endoftext|>", &id) && id == 50256, "eot id %d", id);
        /* "\u0120the" is the space-prefixed "the" (token 262 in GPT-2) */
        CHECK(pt_json_get_int(d.root, "\xC4\xA0the", &id) && id == 262, "Gthe id %d", id);
        pt_json_doc_free(&d);
    }
    free(text);
}

int main(void) {
    test_types();
    test_strings();
    test_malformed();
    test_truncations();
    test_large();
    test_writer();
    test_shared_vocab();
    return t_done();
}
