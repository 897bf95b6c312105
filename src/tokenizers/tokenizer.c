/* tokenizer.c - the kind-independent parts of the tokenizer interface. */
#include "tokenizers/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/strmap.h"
#include "formats/json.h"

pt_status pt_tok_encode(const pt_tokenizer *t, const char *text, size_t len, int flags,
                        pt_ivec *out) {
    return t->ops->encode(t, text, len, flags, out);
}

pt_status pt_tok_decode(const pt_tokenizer *t, const int *ids, size_t n, pt_buf *out) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->vocab_size)
            return pt_fail(PT_ERR_ARG, "token id %d out of range [0, %d)", ids[i], t->vocab_size);
    return t->ops->decode(t, ids, n, out);
}

const char *pt_tok_piece(const pt_tokenizer *t, int id) {
    if (id < 0 || id >= t->vocab_size) return NULL;
    return t->pieces[id];
}

pt_status pt_tok_build_index(pt_tokenizer *t) {
    pt_strmap *m = calloc(1, sizeof *m);
    if (!m) return pt_fail(PT_ERR_NOMEM, "out of memory");
    pt_strmap_init(m);
    /* first occurrence wins for duplicate pieces */
    for (int i = t->vocab_size - 1; i >= 0; i--) {
        if (!t->pieces[i]) continue;
        pt_status s = pt_strmap_put(m, t->pieces[i], strlen(t->pieces[i]), i);
        if (s) {
            pt_strmap_free(m);
            free(m);
            return s;
        }
    }
    t->index = m;
    return PT_OK;
}

int pt_tok_lookup(const pt_tokenizer *t, const char *piece) {
    int id;
    if (t->index && pt_strmap_get(t->index, piece, strlen(piece), &id)) return id;
    return -1;
}

void pt_tok_free(pt_tokenizer *t) {
    if (!t) return;
    if (t->index) {
        pt_strmap_free(t->index);
        free(t->index);
    }
    if (t->pieces) {
        for (int i = 0; i < t->vocab_size; i++) free(t->pieces[i]);
        free(t->pieces);
    }
    if (t->ops && t->ops->free) t->ops->free(t); /* frees impl only */
    free(t);
}

/* ---- finding and loading a tokenizer -------------------------------------- */

pt_status pt_tok_load_tokenizer_json(pt_tokenizer **out, const char *path) {
    char *text = NULL;
    size_t len;
    pt_json_doc doc = {0};
    *out = NULL;
    pt_status st = pt_read_file(path, &text, &len);
    if (st) return st;
    if ((st = pt_json_parse(&doc, text, len))) {
        pt_fail_ctx(st, "%s", path);
        goto done;
    }
    const pt_json *model = pt_json_get(doc.root, "model");
    const char *type = NULL;
    int byte_fallback = 0;
    if (!model || !pt_json_get_str(model, "type", &type)) {
        st = pt_fail(PT_ERR_FORMAT, "%s: no model.type", path);
        goto done;
    }
    pt_json_get_bool(model, "byte_fallback", &byte_fallback);
    if (strcmp(type, "WordPiece") == 0)
        st = pt_wordpiece_from_tokenizer_json(out, doc.root, path);
    else if (strcmp(type, "BPE") == 0 && byte_fallback)
        st = pt_spm_from_tokenizer_json(out, doc.root, path);
    else if (strcmp(type, "BPE") == 0)
        st = pt_bpe_from_tokenizer_json(out, doc.root, path);
    else
        st = pt_fail(PT_ERR_UNSUPPORTED,
                     "%s: model.type \"%s\" is not supported (WordPiece or BPE)", path, type);
done:
    pt_json_doc_free(&doc);
    free(text);
    return st;
}

/* tokenizer_config.json "do_lower_case" (default 1 when absent). */
static pt_status read_lowercase(const char *dir, int *lower) {
    *lower = 1;
    char *path = pt_path_join(dir, "tokenizer_config.json");
    if (!path) return pt_fail(PT_ERR_NOMEM, "out of memory");
    char *text = NULL;
    size_t len;
    pt_json_doc doc = {0};
    pt_status st = PT_OK;
    if (pt_file_exists(path)) {
        if (!(st = pt_read_file(path, &text, &len)) && (st = pt_json_parse(&doc, text, len)))
            pt_fail_ctx(st, "%s", path);
        if (!st) pt_json_get_bool(doc.root, "do_lower_case", lower);
    }
    pt_json_doc_free(&doc);
    free(text);
    free(path);
    return st;
}

/* tokenizer_config.json "<name>_token": a string or {"content": string}; null
 * clears the id. Sets *id only when the token is in the vocabulary. */
static void config_token(const pt_tokenizer *t, const pt_json *root, const char *name, int *id) {
    char key[32];
    snprintf(key, sizeof key, "%s_token", name);
    const pt_json *v = pt_json_get(root, key);
    const char *s = NULL;
    if (!v) return;
    if (v->type == PT_JSON_NULL) {
        *id = -1;
        return;
    }
    if (v->type == PT_JSON_STRING)
        s = v->str;
    else if (v->type == PT_JSON_OBJECT)
        pt_json_get_str(v, "content", &s);
    int k = s ? pt_tok_lookup(t, s) : -1;
    if (k >= 0) *id = k;
}

/* Special tokens and add_bos_token / add_eos_token from tokenizer_config.json
 * of dir, when it exists (explicit statements win over ids found by spelling). */
static pt_status read_config_specials(pt_tokenizer *t, const char *dir) {
    char *path = pt_path_join(dir, "tokenizer_config.json");
    if (!path) return pt_fail(PT_ERR_NOMEM, "out of memory");
    char *text = NULL;
    size_t len;
    pt_json_doc doc = {0};
    pt_status st = PT_OK;
    if (pt_file_exists(path) && !(st = pt_read_file(path, &text, &len))) {
        if ((st = pt_json_parse(&doc, text, len))) pt_fail_ctx(st, "%s", path);
    }
    if (!st && doc.root && doc.root->type == PT_JSON_OBJECT) {
        config_token(t, doc.root, "bos", &t->bos_id);
        config_token(t, doc.root, "eos", &t->eos_id);
        config_token(t, doc.root, "unk", &t->unk_id);
        config_token(t, doc.root, "pad", &t->pad_id);
        config_token(t, doc.root, "mask", &t->mask_id);
        int b;
        if (pt_json_get_bool(doc.root, "add_bos_token", &b)) t->add_bos = b;
        if (pt_json_get_bool(doc.root, "add_eos_token", &b)) t->add_eos = b;
    }
    pt_json_doc_free(&doc);
    free(text);
    free(path);
    return st;
}

pt_status pt_tok_load_dir(pt_tokenizer **out, const char *dir) {
    char *tj = pt_path_join(dir, "tokenizer.json");
    char *vj = pt_path_join(dir, "vocab.json");
    char *mt = pt_path_join(dir, "merges.txt");
    char *vt = pt_path_join(dir, "vocab.txt");
    char *sp = pt_path_join(dir, "tokenizer.model");
    pt_status st;
    int lower;
    *out = NULL;
    if (!tj || !vj || !mt || !vt || !sp)
        st = pt_fail(PT_ERR_NOMEM, "out of memory");
    else if (pt_file_exists(tj))
        st = pt_tok_load_tokenizer_json(out, tj);
    else if (pt_file_exists(vj) && pt_file_exists(mt))
        st = pt_bpe_load_files(out, vj, mt);
    else if (pt_file_exists(sp))
        st = pt_spm_load_model_file(out, sp);
    else if (pt_file_exists(vt)) {
        if (!(st = read_lowercase(dir, &lower))) st = pt_wordpiece_load_vocab(out, vt, lower);
    } else
        st = pt_fail(PT_ERR_IO,
                     "%s: no tokenizer found (looked for tokenizer.json, vocab.json + merges.txt, "
                     "tokenizer.model, vocab.txt)",
                     dir);
    free(tj), free(vj), free(mt), free(vt), free(sp);
    if (!st && (st = read_config_specials(*out, dir))) {
        pt_tok_free(*out);
        *out = NULL;
    }
    return st;
}
