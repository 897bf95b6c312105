/* fuzz_targets.h - one entry point per parser, shared by the libFuzzer targets
 * (tests/fuzz/fuzz_<name>.c) and the corpus replay test (tests/test_fuzz_regress.c).
 *
 * Each fz_<name>(data, size) feeds one input to a parser the way ptune meets it
 * (a buffer, or a temporary file when the parser only reads paths), touches
 * what the parser returned, and frees everything. Returning normally with a
 * clean error is the expected outcome for malformed input; sanitizers catch the
 * rest. Inputs that hold several parts (template + field values, vocab.json +
 * merges.txt) are split at the separator FZ_SEP.
 *
 * Table of targets (name = corpus directory tests/fuzz/corpus/<name>/):
 *   json          pt_json_parse, getters, pt_json_write_string
 *   safetensors   pt_st_open_buffer, metadata, pt_st_load_f32 of every tensor
 *   gguf          pt_gguf_open_buffer, getters, tensors to f32, pt_spm_from_gguf
 *   tokjson       tokenizer.json: the three loaders, dispatch, encode/decode
 *   bpefiles      vocab.json FZ_SEP merges.txt: pt_bpe_load_files
 *   vocabtxt      vocab.txt: pt_wordpiece_load_vocab
 *   encode        text through fixed BPE / WordPiece / SentencePiece tokenizers
 *   template      template FZ_SEP value FZ_SEP value ...: parse, check, render
 *   dataset       JSON Lines / TSV / CSV: pt_dataset_parse
 *   promptfile    pt_prompt_load (via a temporary file)
 *   config        config.json interpretation: pt_model_load on a directory
 *   modelgguf     GGUF model configuration: pt_model_load on a .gguf file
 */
#ifndef PT_FUZZ_TARGETS_H
#define PT_FUZZ_TARGETS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/vec.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "models/model.h"
#include "prompt/promptfile.h"
#include "prompt/template.h"
#include "tokenizers/bpe_pretok.h"
#include "tokenizers/tokenizer.h"
#include "train/dataset.h"

#define FZ_UNUSED __attribute__((unused))
#define FZ_SEP "\n=====\n" /* separates the parts of multi-part inputs */
#define FZ_MAX_TENSOR_BYTES ((size_t)1 << 22)

/* ---------------------------------------------------------------- helpers */

/* A private scratch directory (created once per process, removed at exit);
 * in /dev/shm where there is one (files are rewritten for every input). */
static char fz_dir_path[64];
static void fz_dir_cleanup(void) {
    const char *names[] = {"config.json",        "model.safetensors", "vocab.json",
                           "merges.txt",         "vocab.txt",         "tokenizer.json",
                           "prompt.safetensors", "model.gguf",        NULL};
    char p[128];
    for (int i = 0; names[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", fz_dir_path, names[i]);
        unlink(p);
    }
    rmdir(fz_dir_path);
}
static const char *fz_dir(void) {
    if (!fz_dir_path[0]) {
        snprintf(fz_dir_path, sizeof fz_dir_path, "%s/ptune-fuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(fz_dir_path)) abort();
        atexit(fz_dir_cleanup);
    }
    return fz_dir_path;
}

/* Write data to <scratch>/name; returns the path (static buffer per slot). */
static const char *fz_file(int slot, const char *name, const void *data, size_t n) {
    static char paths[4][128];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fz_dir(), name);
    unlink(paths[slot]); /* much faster than truncating on some file systems */
    FILE *f = fopen(paths[slot], "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    fclose(f);
    return paths[slot];
}

static void fz_unlink(const char *name) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", fz_dir(), name);
    unlink(p);
}

/* Split data at FZ_SEP into at most max parts (NUL-terminated heap copies in
 * parts[], lengths in lens[]); returns the number of parts. */
static int fz_split(const uint8_t *data, size_t size, char **parts, size_t *lens, int max) {
    const char *s = (const char *)data, *end = s + size;
    size_t sl = strlen(FZ_SEP);
    int n = 0;
    while (n < max) {
        const char *e = NULL;
        if (n < max - 1)
            for (const char *q = s; q + sl <= end; q++)
                if (!memcmp(q, FZ_SEP, sl)) {
                    e = q;
                    break;
                }
        size_t len = (size_t)((e ? e : end) - s);
        parts[n] = malloc(len + 1);
        if (!parts[n]) abort();
        memcpy(parts[n], s, len);
        parts[n][len] = '\0';
        lens[n++] = len;
        if (!e) break;
        s = e + sl;
    }
    return n;
}

static void fz_free_parts(char **parts, int n) {
    for (int i = 0; i < n; i++) free(parts[i]);
}

/* Encode text, decode the ids back; with sweep, also decode and look up
 * every id below 300 (and the ones just outside the vocabulary). */
static void fz_use_tokenizer(const pt_tokenizer *t, const char *text, size_t len, int sweep) {
    pt_ivec ids = {0};
    pt_buf out = {0};
    for (int flags = 0; flags <= PT_TOK_NO_PREFIX; flags += PT_TOK_NO_PREFIX) {
        ids.n = 0;
        if (pt_tok_encode(t, text, len, flags, &ids) == PT_OK) {
            for (size_t i = 0; i < ids.n; i++)
                if (ids.v[i] < 0 || ids.v[i] >= t->vocab_size) abort(); /* ids in range */
            out.n = 0;
            pt_tok_decode(t, ids.v, ids.n, &out);
        }
    }
    for (int id = -1; sweep && id <= t->vocab_size && id < 300; id++) {
        out.n = 0;
        pt_tok_decode(t, &id, 1, &out);
        const char *p = pt_tok_piece(t, id);
        if (p) pt_tok_lookup(t, p);
    }
    pt_ivec_free(&ids);
    pt_buf_free(&out);
}

static const char fz_sample[] = "Hello world, the cat's 12 great\xc3\xa9 \xe4\xb8\xad  things!\t\n"
                                "<|endoftext|> [MASK] caf\xc3\xa9 \xf0\x9f\x98\x80 x";

/* ---------------------------------------------------------------- json */

static void fz_walk_json(const pt_json *v, int depth) {
    if (!v || depth > PT_JSON_MAX_DEPTH + 1) abort(); /* the depth limit holds */
    int i;
    double d;
    const char *s;
    if (v->type == PT_JSON_STRING && v->str[v->len] != '\0') abort(); /* NUL-terminated */
    if (v->type == PT_JSON_OBJECT) {
        for (size_t k = 0; k < v->len; k++) {
            if (v->keys[k][v->key_lens[k]] != '\0') abort();
            pt_json_get(v, v->keys[k]);
            pt_json_get_int(v, v->keys[k], &i);
            pt_json_get_num(v, v->keys[k], &d);
            pt_json_get_str(v, v->keys[k], &s);
            pt_json_get_bool(v, v->keys[k], &i);
        }
    }
    if (v->type == PT_JSON_ARRAY || v->type == PT_JSON_OBJECT)
        for (size_t k = 0; k < v->len; k++) fz_walk_json(v->items[k], depth + 1);
}

static FZ_UNUSED int fz_json(const uint8_t *data, size_t size) {
    pt_json_doc doc;
    if (pt_json_parse(&doc, (const char *)data, size) == PT_OK) {
        fz_walk_json(doc.root, 0);
        pt_json_doc_free(&doc);
    }
    /* the writer's output of any bytes is valid JSON that reads back the same
     * bytes where they are valid UTF-8 */
    pt_buf b = {0};
    if (pt_json_write_string(&b, (const char *)data, size) == PT_OK) {
        if (pt_json_parse(&doc, b.v, b.n) != PT_OK) abort();
        if (doc.root->type != PT_JSON_STRING) abort();
        pt_json_doc_free(&doc);
    }
    pt_buf_free(&b);
    return 0;
}

/* ---------------------------------------------------------------- safetensors */

static FZ_UNUSED int fz_safetensors(const uint8_t *data, size_t size) {
    pt_st_file f;
    if (pt_st_open_buffer(&f, data, size, "fuzz.safetensors") != PT_OK) return 0;
    for (int i = 0; i < f.n_meta; i++) pt_st_meta(&f, f.meta_keys[i]);
    pt_st_meta(&f, "ptune.template");
    for (int i = 0; i < f.n_tensors; i++) {
        const pt_st_tensor *t = &f.tensors[i];
        if (t->data < data || t->data + t->nbytes > data + size) abort(); /* inside the buffer */
        if (t->nbytes > FZ_MAX_TENSOR_BYTES) continue;
        float *x = NULL;
        if (pt_st_load_f32(&f, t->name, t->ndim, t->shape, &x) == PT_OK) free(x);
        int64_t other[1] = {t->numel + 1};
        if (pt_st_load_f32(&f, t->name, 1, other, &x) == PT_OK) abort(); /* wrong shape */
    }
    pt_st_close(&f);
    return 0;
}

/* ---------------------------------------------------------------- gguf */

static FZ_UNUSED int fz_gguf(const uint8_t *data, size_t size) {
    pt_gguf g;
    if (pt_gguf_open_buffer(&g, data, size, "fuzz.gguf") != PT_OK) return 0;
    for (int64_t i = 0; i < g.n_kv; i++) {
        int64_t iv;
        double fv;
        const char *k = g.kv[i].key;
        pt_gguf_find(&g, k);
        pt_gguf_get_int(&g, k, &iv);
        pt_gguf_get_float(&g, k, &fv);
        free(pt_gguf_get_string(&g, k));
    }
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const pt_gguf_tensor *t = &g.tensors[i];
        if (t->nbytes > FZ_MAX_TENSOR_BYTES) continue;
        if (t->data < g.map.data || t->data + t->nbytes > g.map.data + g.map.size) abort();
        int64_t shape[4];
        for (int d = 0; d < t->n_dims; d++) shape[d] = t->ne[t->n_dims - 1 - d];
        float *x = NULL;
        if (pt_gguf_load_f32(&g, t->name, t->n_dims, shape, &x) == PT_OK) free(x);
    }
    pt_tokenizer *tok = NULL;
    if (pt_spm_from_gguf(&tok, &g) == PT_OK) {
        fz_use_tokenizer(tok, fz_sample, sizeof fz_sample - 1, 1);
        pt_tok_free(tok);
    }
    pt_gguf_close(&g);
    return 0;
}

/* ---------------------------------------------------------------- tokenizers */

static FZ_UNUSED int fz_tokjson(const uint8_t *data, size_t size) {
    pt_json_doc doc;
    pt_tokenizer *t = NULL;
    if (pt_json_parse(&doc, (const char *)data, size) == PT_OK) {
        for (int k = 0; k < 3; k++) {
            pt_status s = k == 0 ? pt_bpe_from_tokenizer_json(&t, doc.root, "tokenizer.json")
                          : k == 1
                              ? pt_wordpiece_from_tokenizer_json(&t, doc.root, "tokenizer.json")
                              : pt_spm_from_tokenizer_json(&t, doc.root, "tokenizer.json");
            if (s == PT_OK) {
                fz_use_tokenizer(t, fz_sample, sizeof fz_sample - 1, 1);
                pt_tok_free(t);
            }
        }
        pt_json_doc_free(&doc);
    }
    /* the dispatching file loader */
    const char *p = fz_file(0, "tokenizer.json", data, size);
    if (pt_tok_load_tokenizer_json(&t, p) == PT_OK) pt_tok_free(t);
    return 0;
}

static FZ_UNUSED int fz_bpefiles(const uint8_t *data, size_t size) {
    char *parts[2];
    size_t lens[2];
    int n = fz_split(data, size, parts, lens, 2);
    const char *v = fz_file(0, "vocab.json", parts[0], lens[0]);
    const char *m = fz_file(1, "merges.txt", n > 1 ? parts[1] : "", n > 1 ? lens[1] : 0);
    pt_tokenizer *t = NULL;
    if (pt_bpe_load_files(&t, v, m) == PT_OK) {
        fz_use_tokenizer(t, fz_sample, sizeof fz_sample - 1, 1);
        pt_tok_free(t);
    }
    fz_free_parts(parts, n);
    return 0;
}

static FZ_UNUSED int fz_vocabtxt(const uint8_t *data, size_t size) {
    const char *p = fz_file(0, "vocab.txt", data, size);
    pt_tokenizer *t = NULL;
    if (pt_wordpiece_load_vocab(&t, p, size & 1) == PT_OK) {
        fz_use_tokenizer(t, fz_sample, sizeof fz_sample - 1, 1);
        pt_tok_free(t);
    }
    return 0;
}

/* Fixed small tokenizers of each kind, built from tokenizer.json text written
 * here (GPT-2 byte-level BPE needs all 256 byte symbols in its vocabulary). */
static pt_tokenizer *fz_make_tok(int kind) {
    pt_buf j = {0};
    int id = 0;
    if (kind == PT_TOK_BPE) {
        pt_buf_puts(&j, "{\"model\":{\"type\":\"BPE\",\"vocab\":{");
        for (unsigned b = 0; b < 256; b++) {
            uint32_t cp = pt_bpe_byte_to_cp(b);
            char u[3];
            size_t ul = cp < 0x80 ? 1 : 2;
            if (ul == 1)
                u[0] = (char)cp;
            else
                u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F));
            if (b) pt_buf_puts(&j, ",");
            pt_json_write_string(&j, u, ul);
            pt_buf_printf(&j, ":%d", id++);
        }
        /* "\xc4\xa0" is the byte-level symbol of a space */
        const char *extra[] = {"\xc4\xa0t",   "he", "\xc4\xa0the",   "\xc4\xa0g",    "re",
                               "\xc4\xa0gre", "at", "\xc4\xa0great", "<|endoftext|>"};
        for (int i = 0; i < 9; i++) pt_buf_printf(&j, ",\"%s\":%d", extra[i], id++);
        pt_buf_puts(&j, "},\"merges\":[\"\xc4\xa0 t\",\"h e\",\"\xc4\xa0t he\",\"\xc4\xa0 g\","
                        "\"r e\",\"\xc4\xa0g re\",\"a t\",\"\xc4\xa0gre at\"]},"
                        "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false}}");
    } else if (kind == PT_TOK_WORDPIECE) {
        pt_buf_puts(&j, "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{"
                        "\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"[MASK]\":4,\"the\":5,"
                        "\"cat\":6,\"##s\":7,\"great\":8,\"hello\":9,\"world\":10,\",\":11,"
                        "\"'\":12,\"!\":13,\"1\":14,\"##2\":15,\"cafe\":16,\"\xe4\xb8\xad\":17}},"
                        "\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true},"
                        "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"}}");
    } else {
        pt_buf_puts(&j, "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"unk_token\":"
                        "\"<unk>\",\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2");
        id = 3;
        for (int b = 0; b < 256; b++) pt_buf_printf(&j, ",\"<0x%02X>\":%d", b, id++);
        const char *extra[] = {"\xe2\x96\x81",
                               "t",
                               "h",
                               "e",
                               "\xe2\x96\x81t",
                               "he",
                               "\xe2\x96\x81the",
                               "c",
                               "a",
                               "at",
                               "\xe2\x96\x81"
                               "c",
                               "\xe2\x96\x81"
                               "cat"};
        for (int i = 0; i < 12; i++) pt_buf_printf(&j, ",\"%s\":%d", extra[i], id++);
        pt_buf_puts(&j, "},\"merges\":[\"\xe2\x96\x81 t\",\"h e\",\"\xe2\x96\x81t he\",\"a t\","
                        "\"\xe2\x96\x81 c\",\"\xe2\x96\x81"
                        "c at\"]},"
                        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":"
                        "\"Prepend\",\"prepend\":\"\xe2\x96\x81\"},{\"type\":\"Replace\"}]}}");
    }
    pt_json_doc doc;
    pt_tokenizer *t = NULL;
    pt_status s = pt_json_parse(&doc, j.v, j.n);
    if (s == PT_OK) {
        s = kind == PT_TOK_BPE         ? pt_bpe_from_tokenizer_json(&t, doc.root, "fz")
            : kind == PT_TOK_WORDPIECE ? pt_wordpiece_from_tokenizer_json(&t, doc.root, "fz")
                                       : pt_spm_from_tokenizer_json(&t, doc.root, "fz");
        pt_json_doc_free(&doc);
    }
    pt_buf_free(&j);
    if (s) {
        fprintf(stderr, "fuzz setup: tokenizer %d: %s\n", kind, pt_last_error());
        abort();
    }
    return t;
}

static pt_tokenizer *fz_tok_cache[3];
static void fz_tok_cleanup(void) {
    for (int k = 0; k < 3; k++) pt_tok_free(fz_tok_cache[k]), fz_tok_cache[k] = NULL;
}
static const pt_tokenizer *fz_tok(int kind) {
    if (!fz_tok_cache[0]) {
        for (int k = 0; k < 3; k++) fz_tok_cache[k] = fz_make_tok(k);
        atexit(fz_tok_cleanup);
    }
    return fz_tok_cache[kind];
}

static FZ_UNUSED int fz_encode(const uint8_t *data, size_t size) {
    for (int k = 0; k < 3; k++) fz_use_tokenizer(fz_tok(k), (const char *)data, size, 0);
    /* the input as token ids */
    if (size >= sizeof(int)) {
        int *ids = malloc(size);
        if (!ids) abort();
        memcpy(ids, data, size);
        pt_buf out = {0};
        for (int k = 0; k < 3; k++) {
            out.n = 0;
            pt_tok_decode(fz_tok(k), ids, size / sizeof(int), &out);
        }
        pt_buf_free(&out);
        free(ids);
    }
    return 0;
}

/* ---------------------------------------------------------------- template */

static FZ_UNUSED int fz_template(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned ctl = data[0]; /* tokenizer, max_len */
    char *parts[8];
    size_t lens[8];
    int n = fz_split(data + 1, size - 1, parts, lens, 8);
    pt_template t;
    if (pt_template_parse(&t, parts[0]) == PT_OK) {
        pt_model m;
        memset(&m, 0, sizeof m);
        int kind = (int)(ctl % 3);
        m.cfg.family = kind == PT_TOK_BPE         ? PT_FAMILY_GPT2
                       : kind == PT_TOK_WORDPIECE ? PT_FAMILY_BERT
                                                  : PT_FAMILY_LLAMA;
        m.cfg.causal = m.cfg.family != PT_FAMILY_BERT;
        m.cfg.max_pos = 64;
        m.tok = (pt_tokenizer *)fz_tok(kind);
        m.path = "fuzz-model";
        const char *vals[64];
        for (int i = 0; i < t.n_fields && i < 64; i++) vals[i] = 1 + i < n ? parts[1 + i] : "";
        if (t.n_fields <= 64 && pt_template_check(&t, &m) == PT_OK) {
            pt_rendered r;
            int max_len = (int)((ctl >> 2) % 48);
            if (pt_template_render(&t, &m, vals, max_len, &r) == PT_OK) {
                int lim = max_len > 0 ? max_len : m.cfg.max_pos;
                (void)lim;
                for (int i = 0; i < t.n_virtual; i++)
                    if (r.virt_pos[i] < 0 || r.virt_pos[i] >= r.n) abort();
                if (r.answer < 0 || r.answer >= r.n) abort();
                pt_rendered_free(&r);
            }
            int id;
            pt_label_word_id(&m, n > 1 ? parts[1] : "great", ctl & 1, &id);
        }
        pt_template_free(&t);
    }
    fz_free_parts(parts, n);
    return 0;
}

/* ---------------------------------------------------------------- dataset */

static FZ_UNUSED int fz_dataset(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *fmts[4] = {NULL, "jsonl", "tsv", "csv"};
    pt_dataset d;
    if (pt_dataset_parse(&d, (const char *)data + 1, size - 1, fmts[data[0] & 3], "fuzz") ==
        PT_OK) {
        for (int i = 0; i < d.n; i++)
            for (int f = 0; f < d.n_fields; f++) {
                const char *v = pt_dataset_value(&d, i, f);
                if (v) (void)strlen(v);
            }
        for (int f = 0; f < d.n_fields; f++)
            if (pt_dataset_field(&d, d.fields[f]) < 0) abort();
        /* limits instead of trust: the table stays proportional to the input */
        size_t cells = (size_t)d.n * (size_t)d.n_fields;
        if (cells > ((size_t)1 << 24) && cells / 64 > size) abort();
        pt_dataset_free(&d);
    }
    return 0;
}

/* ---------------------------------------------------------------- prompt file */

static FZ_UNUSED int fz_promptfile(const uint8_t *data, size_t size) {
    const char *p = fz_file(0, "prompt.safetensors", data, size);
    pt_prompt pr;
    if (pt_prompt_load(&pr, p) == PT_OK) {
        pt_template t;
        if (pt_template_parse(&t, pr.template_src) == PT_OK) pt_template_free(&t);
        pt_prompt_free(&pr);
    }
    return 0;
}

/* ---------------------------------------------------------------- config.json */

static FZ_UNUSED int fz_config(const uint8_t *data, size_t size) {
    /* config.json alone: the family is detected and the configuration read and
     * checked; loading then stops at the missing weights file */
    fz_file(0, "config.json", data, size);
    fz_unlink("model.safetensors");
    pt_model *m = NULL;
    if (pt_model_load(&m, fz_dir()) == PT_OK) abort(); /* no weights: cannot succeed */
    return 0;
}

static FZ_UNUSED int fz_modelgguf(const uint8_t *data, size_t size) {
    const char *p = fz_file(0, "model.gguf", data, size);
    pt_model *m = NULL;
    if (pt_model_load(&m, p) == PT_OK) pt_model_free(m);
    return 0;
}

/* ---------------------------------------------------------------- table */

typedef struct fz_target {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} fz_target;

static FZ_UNUSED const fz_target fz_targets[] = {
    {"json", fz_json},         {"safetensors", fz_safetensors},
    {"gguf", fz_gguf},         {"tokjson", fz_tokjson},
    {"bpefiles", fz_bpefiles}, {"vocabtxt", fz_vocabtxt},
    {"encode", fz_encode},     {"template", fz_template},
    {"dataset", fz_dataset},   {"promptfile", fz_promptfile},
    {"config", fz_config},     {"modelgguf", fz_modelgguf},
};
#define FZ_N_TARGETS ((int)(sizeof fz_targets / sizeof fz_targets[0]))

#endif
