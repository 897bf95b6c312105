/* test_spm_model.c - SentencePiece tokenizer.model (protobuf) files written by
 * hand by scripts/gen_spm_model.py from the pieces of tests/fixtures/spm/tiny.gguf:
 *   - the ids equal those sentencepiece itself gave (tiny_cases.txt) and those
 *     of the GGUF path, with and without add_dummy_prefix;
 *   - pieces, types and special ids equal the GGUF tokenizer's;
 *   - a directory with only tokenizer.model (+ tokenizer_config.json) loads;
 *   - UNIGRAM models and normalizers with a character map are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "formats/gguf.h"
#include "tokenizers/tokenizer.h"
#include "test.h"

#define FIX "tests/fixtures/spm/"

typedef struct tcase {
    pt_buf text;
    pt_ivec ids;
} tcase;

/* "<ids> TAB <text>" lines, text escaped with \\ \t \n */
static int load_cases(const char *path, tcase **out) {
    char *buf;
    size_t len;
    *out = NULL;
    if (pt_read_file(path, &buf, &len) != PT_OK) return 0;
    int n = 0;
    tcase *cs = calloc(len + 1, sizeof *cs);
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *tab = strchr(line, '\t');
        if (line[0] != '#' && tab) {
            tcase *c = &cs[n++];
            for (char *p = line; p < tab;) {
                char *e;
                long v = strtol(p, &e, 10);
                if (e == p) break;
                pt_ivec_push(&c->ids, (int)v);
                p = e;
            }
            for (char *p = tab + 1; *p; p++) {
                char ch = *p;
                if (ch == '\\' && p[1]) ch = *++p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
                pt_buf_append(&c->text, &ch, 1);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    *out = cs;
    return n;
}

static pt_tokenizer *from_gguf(const char *file) {
    pt_gguf g;
    pt_tokenizer *t = NULL;
    if (pt_gguf_open(&g, file)) return NULL;
    if (pt_spm_from_gguf(&t, &g)) t = NULL;
    pt_gguf_close(&g);
    return t;
}

static int same(const pt_ivec *a, const pt_ivec *b) {
    return a->n == b->n && (!a->n || !memcmp(a->v, b->v, a->n * sizeof(int)));
}

static void compare(const char *what, const pt_tokenizer *m, const pt_tokenizer *g, tcase *cs,
                    int n, int vs_oracle) {
    int oracle = 0, agree = 0;
    for (int i = 0; i < n; i++) {
        pt_ivec a = {0}, b = {0};
        pt_tok_encode(m, cs[i].text.v ? cs[i].text.v : "", cs[i].text.n, 0, &a);
        pt_tok_encode(g, cs[i].text.v ? cs[i].text.v : "", cs[i].text.n, 0, &b);
        oracle += same(&a, &cs[i].ids);
        agree += same(&a, &b);
        pt_ivec_free(&a), pt_ivec_free(&b);
    }
    if (vs_oracle) {
        printf("  %s: %d of %d cases equal sentencepiece's ids, %d equal the GGUF path's\n", what,
               oracle, n, agree);
        CHECK(oracle == n, "%s: %d/%d vs sentencepiece", what, oracle, n);
    } else
        printf("  %s: %d of %d cases equal the GGUF path's\n", what, agree, n);
    CHECK(agree == n, "%s: %d/%d vs GGUF", what, agree, n);
    int pieces = m->vocab_size == g->vocab_size;
    for (int i = 0; pieces && i < m->vocab_size; i++) pieces = !strcmp(m->pieces[i], g->pieces[i]);
    CHECK(pieces && m->bos_id == g->bos_id && m->eos_id == g->eos_id && m->unk_id == g->unk_id &&
              m->kind == PT_TOK_SPM,
          "%s: pieces %d V %d/%d bos %d/%d eos %d/%d unk %d/%d", what, pieces, m->vocab_size,
          g->vocab_size, m->bos_id, g->bos_id, m->eos_id, g->eos_id, m->unk_id, g->unk_id);
    /* byte fallback and decoding go through the same tables */
    pt_ivec a = {0};
    pt_buf d = {0};
    pt_tok_encode(m, "caf\xc3\xa9 \xe4\xbd\xa0", 9, 0, &a);
    pt_tok_decode(m, a.v, a.n, &d);
    CHECK(d.n >= 9 && !memcmp(d.v + d.n - 9, "caf\xc3\xa9 \xe4\xbd\xa0", 9), "%s: decode", what);
    pt_ivec_free(&a), pt_buf_free(&d);
}

static void expect_refused(const char *file, const char *needle) {
    pt_tokenizer *t = NULL;
    pt_status s = pt_spm_load_model_file(&t, file);
    printf("  refused: %s\n", pt_last_error());
    CHECK(s == PT_ERR_UNSUPPORTED && strstr(pt_last_error(), needle), "%s: status %d \"%s\"", file,
          s, pt_last_error());
    pt_tok_free(t);
}

int main(void) {
    tcase *cs;
    int n = load_cases(FIX "tiny_cases.txt", &cs);
    CHECK(n >= 10, "%d cases", n);
    pt_tokenizer *m = NULL, *np = NULL, *dir = NULL;
    pt_tokenizer *g = from_gguf(FIX "tiny.gguf"), *gnp = from_gguf(FIX "tiny_noprefix.gguf");
    CHECK(g && gnp, "GGUF fixtures: %s", pt_last_error());
    pt_status s = pt_spm_load_model_file(&m, FIX "model/tokenizer.model");
    CHECK(s == PT_OK, "tokenizer.model: %s", pt_last_error());
    s = pt_spm_load_model_file(&np, FIX "model/noprefix.model");
    CHECK(s == PT_OK, "noprefix.model: %s", pt_last_error());
    if (m && g) compare("tokenizer.model", m, g, cs, n, 1);
    if (np && gnp) compare("noprefix.model (add_dummy_prefix false)", np, gnp, cs, n, 0);
    s = pt_tok_load_dir(&dir, FIX "model");
    CHECK(s == PT_OK && dir && dir->kind == PT_TOK_SPM, "directory with tokenizer.model: %s",
          pt_last_error());
    if (dir && g) {
        CHECK(dir->add_bos == 1 && dir->add_eos == 0 && dir->bos_id == g->bos_id &&
                  dir->eos_id == g->eos_id && dir->pad_id == -1,
              "tokenizer_config.json: add_bos %d add_eos %d bos %d eos %d pad %d", dir->add_bos,
              dir->add_eos, dir->bos_id, dir->eos_id, dir->pad_id);
        compare("directory with only tokenizer.model", dir, g, cs, n, 1);
    }
    expect_refused(FIX "model/unigram.model", "model_type UNIGRAM is not supported");
    expect_refused(FIX "model/nfkc.model", "normalizer \"nmt_nfkc\" is not supported");
    pt_tok_free(m), pt_tok_free(np), pt_tok_free(dir), pt_tok_free(g), pt_tok_free(gnp);
    for (int i = 0; i < n; i++) pt_buf_free(&cs[i].text), pt_ivec_free(&cs[i].ids);
    free(cs);
    return t_done();
}
