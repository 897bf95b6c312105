/* tok_gguf.c - a loaded tokenizer written as GGUF tokenizer.ggml.* keys, as
 * llama.cpp's converter writes them and as spm.c / bpe_gguf.c read them:
 *
 *   tokenizer.ggml.model        "llama" (SentencePiece) | "gpt2" (byte-level BPE)
 *   tokenizer.ggml.tokens       [V] strings (the vocabulary, padded with unused
 *                               "<ptune_pad_N>" tokens to the model's rows)
 *   tokenizer.ggml.scores       [V] float32 (SentencePiece: merge priorities)
 *   tokenizer.ggml.token_type   [V] int32 (1 normal, 2 unknown, 3 control, 5 unused, 6 byte)
 *   tokenizer.ggml.merges       [M] "left right" strings in rank order (BPE)
 *   tokenizer.ggml.pre          the pre-tokenizer: "gpt-2", "llama-bpe", "qwen2" (BPE)
 *   tokenizer.ggml.add_space_prefix  bool (SentencePiece)
 *   tokenizer.ggml.{bos,eos,unknown,padding}_token_id  u32 (those the tokenizer has)
 *   tokenizer.ggml.add_bos_token / add_eos_token       bool (when its files said)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "formats/gguf_write.h"
#include "tokenizers/bpe_pretok.h"
#include "tokenizers/tokenizer.h"

enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_UNUSED = 5 };

static pt_status write_ids(const pt_tokenizer *t, pt_gguf_writer *w) {
    const struct {
        const char *key;
        int id;
    } ids[] = {
        {"tokenizer.ggml.bos_token_id", t->bos_id},
        {"tokenizer.ggml.eos_token_id", t->eos_id},
        {"tokenizer.ggml.unknown_token_id", t->unk_id},
        {"tokenizer.ggml.padding_token_id", t->pad_id},
    };
    pt_status s = PT_OK;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0] && !s; i++)
        if (ids[i].id >= 0) s = pt_gguf_writer_u32(w, ids[i].key, (uint32_t)ids[i].id);
    if (!s && t->add_bos >= 0)
        s = pt_gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", t->add_bos);
    if (!s && t->add_eos >= 0)
        s = pt_gguf_writer_bool(w, "tokenizer.ggml.add_eos_token", t->add_eos);
    return s;
}

static const char *pretok_name(int kind) {
    return kind == PT_PRETOK_LLAMA3 ? "llama-bpe" : kind == PT_PRETOK_QWEN2 ? "qwen2" : "gpt-2";
}

/* BPE: merges, pre-tokenizer, token types (control for the special ids) */
static pt_status write_bpe(const pt_tokenizer *t, pt_gguf_writer *w, int V, int32_t *types,
                           int *note) {
    char **merges = NULL;
    int nm = 0, pretok, prefix, nfc;
    pt_status s = pt_bpe_export(t, &merges, &nm, &pretok, &prefix, &nfc);
    if (s) return s;
    if (prefix)
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "the byte-level BPE tokenizer adds a prefix space (add_prefix_space), which "
                    "a GGUF \"gpt2\" vocabulary cannot say");
    if (nfc && note) *note = 1;
    for (int i = 0; i < V; i++) types[i] = i < t->vocab_size ? TT_NORMAL : TT_UNUSED;
    const int sp[] = {t->bos_id, t->eos_id, t->unk_id, t->pad_id};
    for (size_t k = 0; k < sizeof sp / sizeof sp[0]; k++)
        if (sp[k] >= 0) types[sp[k]] = TT_CONTROL;
    if (!s) s = pt_gguf_writer_string(w, "tokenizer.ggml.model", "gpt2");
    if (!s) s = pt_gguf_writer_string(w, "tokenizer.ggml.pre", pretok_name(pretok));
    if (!s)
        s = pt_gguf_writer_str_array(w, "tokenizer.ggml.merges", (const char *const *)merges,
                                     (uint64_t)nm);
    for (int k = 0; k < nm; k++) free(merges[k]);
    free(merges);
    return s;
}

/* SentencePiece: scores, types, space prefix */
static pt_status write_spm(const pt_tokenizer *t, pt_gguf_writer *w, int V, int32_t *types) {
    float *scores = pt_alloc((size_t)V, sizeof *scores);
    int prefix = 1;
    pt_status s = scores ? pt_spm_export(t, scores, types, &prefix)
                         : pt_fail(PT_ERR_NOMEM, "out of memory for %d scores", V);
    for (int i = t->vocab_size; !s && i < V; i++) scores[i] = -1e9f, types[i] = TT_UNUSED;
    if (!s) s = pt_gguf_writer_string(w, "tokenizer.ggml.model", "llama");
    if (!s) s = pt_gguf_writer_f32_array(w, "tokenizer.ggml.scores", scores, (uint64_t)V);
    if (!s) s = pt_gguf_writer_bool(w, "tokenizer.ggml.add_space_prefix", prefix);
    free(scores);
    return s;
}

pt_status pt_tok_write_gguf(const pt_tokenizer *t, pt_gguf_writer *w, int V, int *note) {
    if (note) *note = 0;
    if (t->kind == PT_TOK_WORDPIECE)
        return pt_fail(PT_ERR_UNSUPPORTED, "a WordPiece (BERT) vocabulary has no GGUF form here");
    if (V < t->vocab_size)
        return pt_fail(PT_ERR_MISMATCH,
                       "the tokenizer has %d tokens but the model's embedding only %d rows",
                       t->vocab_size, V);
    char **tokens = pt_zalloc((size_t)V, sizeof *tokens);
    char **pads = pt_zalloc((size_t)V, sizeof *pads);
    int32_t *types = pt_alloc((size_t)V, sizeof *types);
    pt_status s = tokens && pads && types ? PT_OK : pt_fail(PT_ERR_NOMEM, "out of memory");
    for (int i = 0; !s && i < V; i++) {
        if (i < t->vocab_size) {
            tokens[i] = t->pieces[i];
            continue;
        }
        char name[32];
        snprintf(name, sizeof name, "<ptune_pad_%d>", i);
        if (!(tokens[i] = pads[i] = pt_strdup(name))) s = pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    if (!s) s = t->kind == PT_TOK_BPE ? write_bpe(t, w, V, types, note) : write_spm(t, w, V, types);
    if (!s)
        s = pt_gguf_writer_str_array(w, "tokenizer.ggml.tokens", (const char *const *)tokens,
                                     (uint64_t)V);
    if (!s) s = pt_gguf_writer_i32_array(w, "tokenizer.ggml.token_type", types, (uint64_t)V);
    if (!s) s = write_ids(t, w);
    for (int i = 0; pads && i < V; i++) free(pads[i]);
    free(pads);
    free(tokens);
    free(types);
    return s;
}
