/* test_bpe_json.c - byte-level BPE from Hugging Face tokenizer.json with a
 * Split pre-tokenizer, and RoBERTa vocabularies (scripts/gen_bpe_json.py):
 *   - LLaMA-3 / Qwen2 style tokenizer.json (Split regex + ByteLevel) over
 *     tests/fixtures/bpe/pretok_vocab give the regex oracle's ids of
 *     pretok_cases.txt, and their added special tokens;
 *   - an unknown Split regex is refused, quoting it;
 *   - RoBERTa (vocab.json + merges.txt, and tokenizer.json) gives GPT-2's
 *     tokens (ids mapped through the pieces) on the same text, <s> </s> as
 *     CLS/SEP and BOS/EOS, <pad>, <unk>, <mask>; on the tiny vocabulary always,
 *     on GPT-2's from ../shared when present (made at test time by the script). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/io.h"
#include "models/model.h"
#include "prompt/template.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode_nfc.h"
#include "test.h"

#define FIX "tests/fixtures/bpe/"

static int hexval(int c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

typedef struct text_case {
    unsigned char *s;
    size_t n;
    pt_ivec want; /* oracle ids for the kind read */
} text_case;

/* The texts of pretok_cases.txt for kind (and their ids). */
static int read_cases(const char *kind, text_case **out) {
    char *text;
    size_t len;
    *out = NULL;
    if (pt_read_file(FIX "pretok_cases.txt", &text, &len)) return 0;
    text_case *cs = calloc(2000, sizeof *cs);
    int n = 0;
    size_t klen = strlen(kind);
    for (char *line = text; line < text + len && n < 2000;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl) nl = text + len;
        *nl = 0;
        char *hex = line + klen + 1, *ends = strchr(line, '\t');
        ends = ends ? strchr(ends + 1, '\t') : NULL;
        char *want = ends ? strchr(ends + 1, '\t') : NULL;
        if (strncmp(line, kind, klen) == 0 && line[klen] == '\t' && want) {
            text_case *c = &cs[n++];
            c->s = malloc((size_t)(ends - hex) / 2 + 1);
            for (char *h = hex; h + 1 < ends; h += 2)
                c->s[c->n++] = (unsigned char)(hexval(h[0]) * 16 + hexval(h[1]));
            for (char *q = want + 1; *q;) {
                pt_ivec_push(&c->want, (int)strtol(q, &q, 10));
                if (*q == ',') q++;
            }
        }
        line = nl + 1;
    }
    free(text);
    *out = cs;
    return n;
}

static void free_cases(text_case *cs, int n) {
    for (int i = 0; i < n; i++) free(cs[i].s), pt_ivec_free(&cs[i].want);
    free(cs);
}

static int same(const pt_ivec *a, const pt_ivec *b) {
    return a->n == b->n && (!a->n || !memcmp(a->v, b->v, a->n * sizeof(int)));
}

static void test_split(const char *file, const char *kind, int bos, int eos) {
    pt_tokenizer *t = NULL;
    pt_status s = pt_tok_load_tokenizer_json(&t, file);
    CHECK(s == PT_OK, "%s: %s", file, pt_last_error());
    if (s) return;
    text_case *cs;
    int n = read_cases(kind, &cs), bad = 0;
    pt_ivec ids = {0};
    for (int i = 0; i < n; i++) {
        ids.n = 0;
        bad +=
            pt_tok_encode(t, (const char *)cs[i].s, cs[i].n, 0, &ids) || !same(&ids, &cs[i].want);
    }
    printf("  %s (Split %s): %d of %d texts differ from the regex oracle's ids\n", file, kind, bad,
           n);
    CHECK(n >= 300 && bad == 0, "%s: %d of %d differ", file, bad, n);
    CHECK(t->bos_id == bos && t->eos_id == eos && t->vocab_size == 659,
          "%s: bos %d eos %d V %d (want %d %d 659)", file, t->bos_id, t->eos_id, t->vocab_size, bos,
          eos);
    pt_ivec_free(&ids);
    free_cases(cs, n);
    pt_tok_free(t);
}

/* Qwen2's NFC normalizer: NFC texts tokenize as without it, others are refused. */
static void test_nfc(void) {
    pt_tokenizer *t = NULL, *plain = NULL;
    pt_status s = pt_tok_load_tokenizer_json(&t, FIX "pretok_vocab/qwen2_nfc.json");
    CHECK(s == PT_OK, "qwen2_nfc.json: %s", pt_last_error());
    s = s ? s : pt_tok_load_tokenizer_json(&plain, FIX "pretok_vocab/qwen2.json");
    if (s) {
        pt_tok_free(t);
        return;
    }
    text_case *cs;
    int n = read_cases("qwen2", &cs), ok = 0, refused = 0, wrong = 0;
    pt_ivec a = {0}, b = {0};
    for (int i = 0; i < n; i++) {
        size_t at;
        a.n = b.n = 0;
        int is_nfc = pt_nfc_is_normalized(cs[i].s, cs[i].n, &at);
        pt_status e = pt_tok_encode(t, (const char *)cs[i].s, cs[i].n, 0, &a);
        pt_tok_encode(plain, (const char *)cs[i].s, cs[i].n, 0, &b);
        if (e == PT_ERR_UNSUPPORTED && !is_nfc && strstr(pt_last_error(), "not in Unicode NFC"))
            refused++;
        else if (e == PT_OK && is_nfc && same(&a, &b))
            ok++;
        else
            wrong++;
    }
    printf("  qwen2_nfc.json (normalizer NFC): %d texts as without it, %d refused as not NFC, "
           "%d wrong\n",
           ok, refused, wrong);
    CHECK(wrong == 0 && refused > 0 && ok > 300, "nfc: %d ok %d refused %d wrong", ok, refused,
          wrong);
    a.n = 0;
    s = pt_tok_encode(t, "cafe\xcc\x81", 6, 0, &a);
    printf("  refused: %s\n", pt_last_error());
    CHECK(s == PT_ERR_UNSUPPORTED && strstr(pt_last_error(), "byte 4 (U+0301)"),
          "e + U+0301: %d %s", s, pt_last_error());
    pt_ivec_free(&a), pt_ivec_free(&b);
    free_cases(cs, n);
    pt_tok_free(t), pt_tok_free(plain);
}

static void test_badregex(void) {
    pt_tokenizer *t = NULL;
    pt_status s = pt_tok_load_tokenizer_json(&t, FIX "pretok_vocab/badregex.json");
    printf("  refused: %s\n", pt_last_error());
    CHECK(s == PT_ERR_UNSUPPORTED && strstr(pt_last_error(), "Split regex \"[\\r\\n]|\\s?[A-Za-z"),
          "bad regex: status %d \"%s\"", s, pt_last_error());
    pt_tok_free(t);
}

/* RoBERTa tokenizer r against GPT-2 tokenizer g: same pieces on every text. */
static void compare_roberta(const char *what, const pt_tokenizer *r, const pt_tokenizer *g,
                            const unsigned char *const *texts, const size_t *lens, int n) {
    int bad = 0;
    pt_ivec a = {0}, b = {0};
    for (int i = 0; i < n; i++) {
        a.n = b.n = 0;
        pt_tok_encode(r, (const char *)texts[i], lens[i], 0, &a);
        pt_tok_encode(g, (const char *)texts[i], lens[i], 0, &b);
        int ok = a.n == b.n;
        for (size_t k = 0; ok && k < a.n; k++)
            ok = pt_tok_lookup(r, pt_tok_piece(g, b.v[k])) == a.v[k] && a.v[k] >= 4;
        bad += !ok;
    }
    int mask = r->vocab_size - 1;
    printf("  %s: %d of %d texts differ from GPT-2's tokens; <s> %d </s> %d <pad> %d <unk> %d "
           "<mask> %d\n",
           what, bad, n, r->cls_id, r->sep_id, r->pad_id, r->unk_id, r->mask_id);
    CHECK(n > 0 && bad == 0, "%s: %d of %d differ", what, bad, n);
    CHECK(r->cls_id == 0 && r->bos_id == 0 && r->pad_id == 1 && r->sep_id == 2 && r->eos_id == 2 &&
              r->unk_id == 3 && r->mask_id == mask && !strcmp(pt_tok_piece(r, mask), "<mask>"),
          "%s: specials cls %d bos %d pad %d sep %d eos %d unk %d mask %d", what, r->cls_id,
          r->bos_id, r->pad_id, r->sep_id, r->eos_id, r->unk_id, r->mask_id);
    int begin, end;
    pt_family_specials(PT_FAMILY_ROBERTA, r, &begin, &end);
    CHECK(begin == 0 && end == 2, "%s: roberta family specials %d %d", what, begin, end);
    pt_ivec_free(&a), pt_ivec_free(&b);
}

static void test_roberta_tiny(void) {
    pt_tokenizer *g = NULL, *rf = NULL, *rj = NULL;
    CHECK(!pt_bpe_load_files(&g, FIX "tiny/vocab.json", FIX "tiny/merges.txt"), "tiny: %s",
          pt_last_error());
    CHECK(!pt_bpe_load_files(&rf, FIX "roberta_tiny/vocab.json", FIX "roberta_tiny/merges.txt"),
          "roberta vocab.json: %s", pt_last_error());
    CHECK(!pt_tok_load_dir(&rj, FIX "roberta_tiny"), "roberta dir: %s", pt_last_error());
    text_case *cs;
    int n = read_cases("gpt-2", &cs);
    const unsigned char **texts = calloc((size_t)n + 1, sizeof *texts);
    size_t *lens = calloc((size_t)n + 1, sizeof *lens);
    for (int i = 0; i < n; i++) texts[i] = cs[i].s, lens[i] = cs[i].n;
    if (g && rf) compare_roberta("RoBERTa tiny vocab.json + merges.txt", rf, g, texts, lens, n);
    if (g && rj) compare_roberta("RoBERTa tiny tokenizer.json", rj, g, texts, lens, n);
    free(texts), free(lens);
    free_cases(cs, n);
    pt_tok_free(g), pt_tok_free(rf), pt_tok_free(rj);
}

/* The template code on a (random) RoBERTa model with the RoBERTa tokenizer:
 * <s> ... </s> around the text, <mask> at the answer, label words as "Ġword" (" quick"). */
static void test_roberta_template(void) {
    pt_tokenizer *tok = NULL;
    CHECK(!pt_tok_load_dir(&tok, FIX "roberta_tiny"), "roberta dir: %s", pt_last_error());
    if (!tok) return;
    pt_model_config c;
    memset(&c, 0, sizeof c);
    c.family = PT_FAMILY_ROBERTA;
    c.dim = 16, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 2, c.ffn_dim = 32;
    c.vocab_size = tok->vocab_size, c.max_pos = 66, c.type_vocab = 1, c.pos_offset = 2;
    pt_model *m = NULL;
    pt_status s = pt_model_random(&m, &c, 3);
    CHECK(s == PT_OK, "random roberta: %s", pt_last_error());
    if (s) {
        pt_tok_free(tok);
        return;
    }
    pt_tok_free(m->tok);
    m->tok = tok;
    pt_template t;
    pt_rendered r = {0};
    const char *vals[] = {"the movie"};
    s = pt_template_parse(&t, "[P] {x} It was [MASK].");
    if (!s) s = pt_template_check(&t, m);
    if (!s) s = pt_template_render(&t, m, vals, 0, &r);
    CHECK(s == PT_OK, "roberta template: %s", pt_last_error());
    int id = -1;
    if (!s) {
        printf("  RoBERTa template: %d tokens, first %d, last %d, answer %d holds %d (<mask> %d)\n",
               r.n, r.ids[0], r.ids[r.n - 1], r.answer, r.ids[r.answer], tok->mask_id);
        CHECK(r.ids[0] == 0 && r.ids[r.n - 1] == 2 && r.ids[r.answer] == tok->mask_id,
              "roberta render: first %d last %d answer id %d", r.ids[0], r.ids[r.n - 1],
              r.ids[r.answer]);
        s = pt_label_word_id(m, "quick", r.mask_space, &id);
        CHECK(s == PT_OK && id == pt_tok_lookup(tok, "\xc4\xa0quick"),
              "label word quick: %d (want %d): %s", id, pt_tok_lookup(tok, "\xc4\xa0quick"),
              pt_last_error());
        pt_rendered_free(&r);
        pt_template_free(&t);
    }
    pt_model_free(m);
}

static void test_roberta_gpt2(void) {
    const char *vocab = t_shared("tokenizers/gpt2/vocab.json");
    const char *ref = t_shared("tokenizers/gpt2/reference-tokenizations.txt");
    if (!vocab || !ref || access("/usr/bin/python3", X_OK) != 0) {
        t_note_skip("RoBERTa over GPT-2's vocabulary: ../shared/tokenizers/gpt2 or python3 absent");
        return;
    }
    char gdir[1024], dir[] = "/tmp/ptune_roberta_XXXXXX", cmd[2200];
    snprintf(gdir, sizeof gdir, "%s", vocab);
    *strrchr(gdir, '/') = 0;
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 scripts/gen_bpe_json.py roberta '%s' '%s'", gdir,
             dir);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    pt_tokenizer *g = NULL, *r = NULL;
    pt_status s = pt_tok_load_dir(&g, gdir);
    if (!s) s = pt_tok_load_dir(&r, dir);
    CHECK(s == PT_OK, "load: %s", pt_last_error());
    char *text = NULL;
    size_t len = 0;
    int n = 0;
    const unsigned char *texts[200];
    size_t lens[200];
    if (!s && !pt_read_file(ref, &text, &len)) {
        for (char *line = text; line < text + len && n < 200;) {
            char *nl = memchr(line, '\n', (size_t)(text + len - line));
            if (!nl) nl = text + len;
            *nl = 0;
            char *sep = NULL;
            for (char *q = strstr(line, " => "); q; q = strstr(q + 1, " => ")) sep = q;
            if (sep) texts[n] = (unsigned char *)line, lens[n++] = (size_t)(sep - line);
            line = nl + 1;
        }
        compare_roberta("RoBERTa over GPT-2's vocabulary (reference lines)", r, g, texts, lens, n);
    }
    free(text);
    pt_tok_free(g), pt_tok_free(r);
    static const char *const files[] = {"vocab.json", "merges.txt", "tokenizer.json"};
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd, "%s/%s", dir, files[k]);
        unlink(cmd);
    }
    rmdir(dir);
}

int main(void) {
    test_split(FIX "pretok_vocab/llama3.json", "llama-bpe", 657, 658);
    test_split(FIX "pretok_vocab/qwen2.json", "qwen2", 656, 656);
    test_nfc();
    test_badregex();
    test_roberta_tiny();
    test_roberta_template();
    test_roberta_gpt2();
    return t_done();
}
