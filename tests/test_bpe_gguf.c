/* test_bpe_gguf.c - byte-level BPE vocabularies in GGUF (tokenizer.ggml.model
 * "gpt2"), written by scripts/gen_bpe_gguf.py:
 *   - the pretok_vocab vocabulary with pre "llama-bpe" / "qwen2" gives the ids of
 *     tests/fixtures/bpe/pretok_cases.txt (regex-module oracle) for that pattern,
 *     with the GGUF's special ids and add_bos flag;
 *   - pre "deepseek-llm" is refused with a message naming it;
 *   - the GPT-2 vocabulary of ../shared written into a GGUF (at test time, by
 *     the script) reproduces reference-tokenizations.txt (skipped visibly
 *     without ../shared or /usr/bin/python3 with numpy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/io.h"
#include "formats/gguf.h"
#include "models/model.h"
#include "tokenizers/tokenizer.h"
#include "test.h"

#define FIX "tests/fixtures/bpe/"

static pt_status open_tok(pt_tokenizer **t, const char *path) {
    pt_gguf g;
    pt_status s = pt_gguf_open(&g, path);
    if (s) return s;
    s = pt_tok_from_gguf(t, &g);
    pt_gguf_close(&g);
    return s;
}

static int hexval(int c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Lines of pretok_cases.txt for kind: encode and compare ids; returns mismatches. */
static int check_kind(const pt_tokenizer *t, const char *kind, int *cases) {
    char *text;
    size_t len;
    if (pt_read_file(FIX "pretok_cases.txt", &text, &len)) return -1;
    int bad = 0;
    *cases = 0;
    pt_ivec ids = {0};
    size_t klen = strlen(kind);
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl) nl = text + len;
        *nl = 0;
        if (strncmp(line, kind, klen) == 0 && line[klen] == '\t') {
            char *hex = line + klen + 1, *ends = strchr(hex, '\t'),
                 *want = ends ? strchr(ends + 1, '\t') : NULL;
            unsigned char buf[4096];
            size_t n = 0;
            for (char *h = hex; h + 1 < ends && n < sizeof buf; h += 2)
                buf[n++] = (unsigned char)(hexval(h[0]) * 16 + hexval(h[1]));
            ids.n = 0;
            int ok = want && pt_tok_encode(t, (const char *)buf, n, 0, &ids) == PT_OK;
            size_t k = 0;
            for (char *q = want ? want + 1 : nl; ok && *q; k++) {
                long v = strtol(q, &q, 10);
                ok = k < ids.n && ids.v[k] == v;
                if (*q == ',') q++;
            }
            if (!(ok && k == ids.n)) bad++;
            (*cases)++;
        }
        line = nl + 1;
    }
    pt_ivec_free(&ids);
    free(text);
    return bad;
}

static void test_tiny(const char *file, const char *kind, int bos, int add_bos) {
    pt_tokenizer *t = NULL;
    pt_status s = open_tok(&t, file);
    CHECK(s == PT_OK, "%s: %s", file, pt_last_error());
    if (s) return;
    int cases, bad = check_kind(t, kind, &cases);
    printf("  %s (pre %s): %d of %d texts differ from the regex oracle's ids\n", file, kind, bad,
           cases);
    CHECK(cases >= 300 && bad == 0, "%s: %d of %d differ", file, bad, cases);
    CHECK(t->kind == PT_TOK_BPE && t->vocab_size == 657 && t->bos_id == bos && t->eos_id == 656 &&
              t->add_bos == add_bos && t->add_eos == -1,
          "%s: kind %d V %d bos %d eos %d add_bos %d add_eos %d", file, t->kind, t->vocab_size,
          t->bos_id, t->eos_id, t->add_bos, t->add_eos);
    pt_tok_free(t);
}

/* Through the model layer: the family from general.architecture, the
 * beginning special from add_bos_token. */
static void test_model_layer(const char *file, pt_family want_fam, int want_begin) {
    pt_tokenizer *t = NULL;
    pt_family fam = PT_FAMILY_COUNT;
    pt_status s = pt_model_load_tokenizer(file, &t, &fam);
    CHECK(s == PT_OK && t && t->kind == PT_TOK_BPE, "%s via pt_model_load_tokenizer: %s", file,
          pt_last_error());
    if (s) return;
    int begin, end;
    pt_family_specials(fam, t, &begin, &end);
    printf("  %s via the model layer: family %d, begin %d, end %d\n", file, fam, begin, end);
    CHECK(fam == want_fam && begin == want_begin && end == -1, "%s: family %d begin %d end %d",
          file, fam, begin, end);
    pt_tok_free(t);
}

static void test_refused(void) {
    pt_tokenizer *t = NULL;
    pt_status s = open_tok(&t, FIX "pretok_badpre.gguf");
    const char *msg = pt_last_error();
    printf("  refused: %s\n", msg);
    CHECK(s == PT_ERR_UNSUPPORTED && strstr(msg, "tokenizer.ggml.pre \"deepseek-llm\""),
          "bad pre: status %d, message \"%s\"", s, msg);
    pt_tok_free(t);
}

static void test_gpt2(void) {
    const char *vocab = t_shared("tokenizers/gpt2/vocab.json");
    const char *merges = t_shared("tokenizers/gpt2/merges.txt");
    const char *ref = t_shared("tokenizers/gpt2/reference-tokenizations.txt");
    if (!vocab || !merges || !ref) {
        t_note_skip("GPT-2 vocabulary in GGUF: ../shared/tokenizers/gpt2 not found");
        return;
    }
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
        t_note_skip("GPT-2 vocabulary in GGUF: /usr/bin/python3 with numpy not found to write it");
        return;
    }
    char dir[] = "/tmp/ptune_bpe_gguf_XXXXXX", path[128], cmd[2048];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/gpt2.gguf", dir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 scripts/gen_bpe_gguf.py '%s' '%s' '%s' --pre gpt-2",
             vocab, merges, path);
    int rc = system(cmd);
    CHECK(rc == 0, "%s failed", cmd);
    pt_tokenizer *g = NULL, *j = NULL;
    pt_status s = open_tok(&g, path);
    CHECK(s == PT_OK, "gpt2.gguf: %s", pt_last_error());
    s = s ? s : pt_bpe_load_files(&j, vocab, merges);
    unlink(path);
    rmdir(dir);
    if (s) {
        pt_tok_free(g);
        return;
    }
    char *text;
    size_t len;
    CHECK(pt_read_file(ref, &text, &len) == PT_OK, "read %s", ref);
    int n = 0, match = 0, same = 0;
    pt_ivec ids = {0}, ids2 = {0};
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl) nl = text + len;
        *nl = 0;
        char *sep = NULL;
        for (char *q = strstr(line, " => "); q; q = strstr(q + 1, " => ")) sep = q;
        if (sep) {
            ids.n = ids2.n = 0;
            pt_tok_encode(g, line, (size_t)(sep - line), 0, &ids);
            pt_tok_encode(j, line, (size_t)(sep - line), 0, &ids2);
            int ok = 1;
            size_t k = 0;
            for (char *q = sep + 4; *q; k++) {
                long v = strtol(q, &q, 10);
                ok = ok && k < ids.n && ids.v[k] == v;
                if (*q == ',') q++;
            }
            match += ok && k == ids.n;
            same += ids.n == ids2.n && !memcmp(ids.v, ids2.v, ids.n * sizeof(int));
            n++;
        }
        line = nl + 1;
    }
    printf("  GPT-2 vocabulary in GGUF: %d of %d reference lines match, %d equal to vocab.json's\n",
           match, n, same);
    CHECK(n == 100 && match == n && same == n, "gpt2 gguf: %d/%d match, %d same", match, n, same);
    CHECK(g->vocab_size == 50257 && g->bos_id == 50256 && g->eos_id == 50256,
          "gpt2 gguf: V %d bos %d eos %d", g->vocab_size, g->bos_id, g->eos_id);
    pt_ivec_free(&ids), pt_ivec_free(&ids2);
    free(text);
    pt_tok_free(g), pt_tok_free(j);
}

int main(void) {
    test_tiny(FIX "pretok_llama3.gguf", "llama-bpe", 656, 1);
    test_tiny(FIX "pretok_qwen2.gguf", "qwen2", 656, 0);
    test_model_layer(FIX "pretok_llama3.gguf", PT_FAMILY_LLAMA, 656);
    test_model_layer(FIX "pretok_qwen2.gguf", PT_FAMILY_QWEN2, -1);
    test_refused();
    test_gpt2();
    return t_done();
}
