/* test_bpe_pretok.c - the GPT-2, LLaMA-3 (llama-bpe) and Qwen2 pre-tokenizers
 * (bpe_pretok.c) against tests/fixtures/bpe/pretok_cases.txt, written by
 * scripts/gen_pretok_fixtures.py with the `regex` module running the original
 * patterns; and the ids of tests/fixtures/bpe/pretok_vocab under each pattern (BPE merged
 * by the Python reference loop). Prints the mismatch counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "tokenizers/bpe_build.h"
#include "tokenizers/bpe_pretok.h"
#include "tokenizers/tokenizer.h"
#include "test.h"

#define FIX "tests/fixtures/bpe/"

static int hexval(int c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Parse "1,2,3" (or "") into v; returns the count. */
static size_t parse_list(const char *s, const char *end, long *v, size_t cap) {
    size_t n = 0;
    while (s < end && n < cap) {
        char *e;
        v[n++] = strtol(s, &e, 10);
        s = e < end && *e == ',' ? e + 1 : end;
    }
    return n;
}

int main(void) {
    char *text = NULL;
    size_t len;
    pt_status s = pt_read_file(FIX "pretok_cases.txt", &text, &len);
    CHECK(s == PT_OK, "read fixture: %s", pt_last_error());
    if (s) return t_done();
    pt_tokenizer *tok = NULL;
    s = pt_bpe_load_files(&tok, FIX "pretok_vocab/vocab.json", FIX "pretok_vocab/merges.txt");
    CHECK(s == PT_OK, "tiny load: %s", pt_last_error());
    if (s) return t_done();
    static const char *const kinds[] = {"gpt-2", "llama-bpe", "qwen2"};
    int cases[3] = {0}, split_bad[3] = {0}, id_bad[3] = {0}, shown = 0;
    unsigned char buf[4096];
    long want_ends[4096], want_ids[8192];
    pt_ivec ids = {0};
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl) nl = text + len;
        char *f[4] = {line, NULL, NULL, NULL};
        for (int k = 1; k < 4; k++) {
            f[k] = memchr(f[k - 1], '\t', (size_t)(nl - f[k - 1]));
            if (!f[k]) break;
            f[k]++;
        }
        if (!f[3]) {
            CHECK(nl == line, "malformed fixture line");
            line = nl + 1;
            continue;
        }
        int kind = pt_pretok_from_name((*f[0] == 'g')   ? "gpt-2"
                                       : (*f[0] == 'l') ? "llama-bpe"
                                                        : "qwen2");
        CHECK(kind >= 0 && strncmp(f[0], kinds[kind], strlen(kinds[kind])) == 0, "kind %.10s",
              f[0]);
        size_t n = 0;
        for (const char *h = f[1]; h + 1 < f[2] - 1 && n < sizeof buf; h += 2)
            buf[n++] = (unsigned char)(hexval(h[0]) * 16 + hexval(h[1]));
        size_t ne = parse_list(f[2], f[3] - 1, want_ends, 4096);
        size_t ni = parse_list(f[3], nl, want_ids, 8192);
        cases[kind]++;
        /* splits */
        int ok = 1;
        size_t k = 0;
        for (size_t i = 0; i < n; k++) {
            size_t j = pt_pretok_next((pt_pretok)kind, buf, n, i);
            if (j <= i || k >= ne || (long)j != want_ends[k]) ok = 0;
            if (!ok) break;
            i = j;
        }
        if (k != ne) ok = 0;
        if (!ok) {
            split_bad[kind]++;
            if (shown++ < 10) {
                fprintf(stderr, "  %s split mismatch on \"%.*s\": got", kinds[kind], (int)n, buf);
                for (size_t i = 0; i < n;) {
                    size_t j = pt_pretok_next((pt_pretok)kind, buf, n, i);
                    fprintf(stderr, " %zu", j);
                    i = j;
                }
                fprintf(stderr, ", want");
                for (size_t q = 0; q < ne; q++) fprintf(stderr, " %ld", want_ends[q]);
                fputc('\n', stderr);
            }
        }
        /* ids through the tokenizer */
        ids.n = 0;
        CHECK(pt_bpe_set_pretok(tok, (pt_pretok)kind) == PT_OK, "set pretok");
        s = pt_tok_encode(tok, (const char *)buf, n, 0, &ids);
        int idok = s == PT_OK && ids.n == ni;
        for (size_t q = 0; idok && q < ni; q++) idok = ids.v[q] == want_ids[q];
        if (!idok) id_bad[kind]++;
        line = nl + 1;
    }
    for (int k = 0; k < 3; k++) {
        printf("  %-9s: %d texts, %d split mismatches, %d id mismatches (vocabulary trained across "
               "pre-token boundaries)\n",
               kinds[k], cases[k], split_bad[k], id_bad[k]);
        CHECK(cases[k] >= 300, "%s: only %d cases", kinds[k], cases[k]);
        CHECK(split_bad[k] == 0 && id_bad[k] == 0, "%s: %d split, %d id mismatches", kinds[k],
              split_bad[k], id_bad[k]);
    }
    /* names */
    CHECK(pt_pretok_from_name("llama3") == PT_PRETOK_LLAMA3 &&
              pt_pretok_from_name("default") == PT_PRETOK_GPT2 &&
              pt_pretok_from_name("deepseek-llm") == -1,
          "pretok names");
    pt_ivec_free(&ids);
    pt_tok_free(tok);
    free(text);
    return t_done();
}
