/* bpe_gguf.c - GPT-2-style byte-level BPE vocabularies stored in GGUF
 * (tokenizer.ggml.model = "gpt2": GPT-2, LLaMA-3, Qwen2, ...), and the GGUF
 * tokenizer dispatch.
 *
 * Keys read:
 *   tokenizer.ggml.tokens        [V] strings, byte-level spelled ("Ġthe")
 *   tokenizer.ggml.merges        [M] strings "left right", in rank order
 *   tokenizer.ggml.token_type    [V] int32 (optional; checked for length)
 *   tokenizer.ggml.pre           pre-tokenizer name (optional, default "default"):
 *                                "gpt-2"/"default", "llama-bpe"/"llama3", "qwen2";
 *                                any other is refused by name
 *   tokenizer.ggml.{bos,eos,unknown,padding}_token_id   (optional)
 *   tokenizer.ggml.add_bos_token / add_eos_token         (optional bools)
 *
 * Special tokens written in the text are encoded as plain text, as for every
 * tokenizer here (tokenizer.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "formats/gguf.h"
#include "tokenizers/bpe_build.h"
#include "tokenizers/tokenizer.h"

/* tokenizer.ggml.<name>_token_id; -1 when absent. Out of range is an error. */
static pt_status special_id(const pt_gguf *g, const char *name, int V, int *id) {
    char key[96];
    int64_t v;
    snprintf(key, sizeof key, "tokenizer.ggml.%s_token_id", name);
    if (!pt_gguf_find(g, key)) return PT_OK;
    if (!pt_gguf_get_int(g, key, &v) || v < 0 || v >= V)
        return pt_fail(PT_ERR_FORMAT, "%s: %s is not a token id in [0, %d)", g->path, key, V);
    *id = (int)v;
    return PT_OK;
}

/* tokenizer.ggml.<name> as a bool into *flag (left alone when absent). */
static pt_status gguf_flag(const pt_gguf *g, const char *name, int *flag) {
    char key[96];
    snprintf(key, sizeof key, "tokenizer.ggml.%s", name);
    const pt_gguf_kv *kv = pt_gguf_find(g, key);
    if (!kv) return PT_OK;
    if (kv->type != PT_GGUF_BOOL)
        return pt_fail(PT_ERR_FORMAT, "%s: %s is not a bool", g->path, key);
    *flag = kv->u != 0;
    return PT_OK;
}

pt_status pt_bpe_from_gguf(pt_tokenizer **out, const pt_gguf *g) {
    *out = NULL;
    const char *path = g->path ? g->path : "<gguf>";
    const pt_gguf_kv *tok = pt_gguf_find(g, "tokenizer.ggml.tokens");
    const pt_gguf_kv *mer = pt_gguf_find(g, "tokenizer.ggml.merges");
    const pt_gguf_kv *ty = pt_gguf_find(g, "tokenizer.ggml.token_type");
    if (!tok || tok->type != PT_GGUF_ARRAY || tok->arr_type != PT_GGUF_STRING)
        return pt_fail(PT_ERR_FORMAT, "%s: tokenizer.ggml.tokens missing or not a string array",
                       path);
    if (tok->arr_n < 256 || tok->arr_n > 10000000)
        return pt_fail(PT_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries", path,
                       (unsigned long long)tok->arr_n);
    if (!mer || mer->type != PT_GGUF_ARRAY || mer->arr_type != PT_GGUF_STRING)
        return pt_fail(PT_ERR_FORMAT,
                       "%s: tokenizer.ggml.merges missing or not a string array (a \"gpt2\" "
                       "vocabulary needs its merges)",
                       path);
    int V = (int)tok->arr_n;
    if (ty &&
        (ty->type != PT_GGUF_ARRAY || ty->arr_type != PT_GGUF_INT32 || ty->arr_n != tok->arr_n))
        return pt_fail(PT_ERR_FORMAT, "%s: tokenizer.ggml.token_type is not %d int32 values", path,
                       V);
    char *pre = pt_gguf_get_string(g, "tokenizer.ggml.pre");
    int kind = pre ? pt_pretok_from_name(pre) : PT_PRETOK_GPT2;
    if (kind < 0) {
        pt_status st = pt_fail(PT_ERR_UNSUPPORTED,
                               "%s: tokenizer.ggml.pre \"%s\" is not supported (ptune knows "
                               "\"gpt-2\"/\"default\", \"llama-bpe\"/\"llama3\", \"qwen2\")",
                               path, pre);
        free(pre);
        return st;
    }
    free(pre);
    char **pieces = pt_zalloc((size_t)V, sizeof(char *));
    bpe_merge *merges = pt_alloc(mer->arr_n ? mer->arr_n : 1, sizeof *merges);
    if (!pieces || !merges) {
        free(pieces), free(merges);
        return pt_fail(PT_ERR_NOMEM, "%s: out of memory for %d tokens", path, V);
    }
    pt_status st = PT_OK;
    for (int i = 0; i < V && !st; i++) {
        const pt_gguf_str *s = &tok->arr_strs[i];
        if (memchr(s->s, 0, (size_t)s->len))
            st = pt_fail(PT_ERR_FORMAT, "%s: tokenizer.ggml.tokens[%d] contains a NUL byte", path,
                         i);
        else if (!(pieces[i] = pt_strndup(s->s, (size_t)s->len)))
            st = pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
    }
    for (uint64_t k = 0; k < mer->arr_n && !st; k++) {
        const char *s = mer->arr_strs[k].s;
        size_t n = (size_t)mer->arr_strs[k].len;
        const char *sp = memchr(s, ' ', n);
        if (!sp || sp == s || sp + 1 == s + n || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
            st = pt_fail(PT_ERR_FORMAT,
                         "%s: tokenizer.ggml.merges[%llu]: expected two tokens separated by one "
                         "space, got \"%.*s\"",
                         path, (unsigned long long)k, (int)(n < 80 ? n : 80), s);
        else
            merges[k] = (bpe_merge){s, sp + 1, (size_t)(sp - s), (size_t)(s + n - sp - 1), (int)k};
    }
    if (st) {
        for (int i = 0; i < V; i++) free(pieces[i]);
        free(pieces), free(merges);
        return st;
    }
    bpe_src src = {
        path, "tokenizer.ggml.tokens: ", path, "tokenizer.ggml.merges", NULL, 0, (pt_pretok)kind, 1,
        0};
    pt_tokenizer *t;
    st = pt_bpe_build_pieces(&t, pieces, V, merges, mer->arr_n, &src);
    free(merges);
    if (st) return st;
    /* explicit ids win over the ones found by spelling */
    if (!(st = special_id(g, "bos", V, &t->bos_id)) &&
        !(st = special_id(g, "eos", V, &t->eos_id)) &&
        !(st = special_id(g, "unknown", V, &t->unk_id)) &&
        !(st = special_id(g, "padding", V, &t->pad_id)) &&
        !(st = gguf_flag(g, "add_bos_token", &t->add_bos)))
        st = gguf_flag(g, "add_eos_token", &t->add_eos);
    if (st) {
        pt_tok_free(t);
        return st;
    }
    *out = t;
    return PT_OK;
}

pt_status pt_tok_from_gguf(pt_tokenizer **out, const pt_gguf *g) {
    *out = NULL;
    char *model = pt_gguf_get_string(g, "tokenizer.ggml.model");
    pt_status st;
    if (model && strcmp(model, "gpt2") == 0)
        st = pt_bpe_from_gguf(out, g);
    else if (!model || strcmp(model, "llama") == 0)
        st = pt_spm_from_gguf(out, g);
    else
        st = pt_fail(PT_ERR_UNSUPPORTED,
                     "%s: tokenizer.ggml.model \"%s\" is not supported (\"llama\" SentencePiece "
                     "or \"gpt2\" byte-level BPE)",
                     g->path ? g->path : "<gguf>", model);
    free(model);
    return st;
}
