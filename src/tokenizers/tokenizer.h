/* tokenizer.h - one interface over the three tokenizer kinds.
 *
 *   bpe.c        GPT-2 byte-level BPE   (vocab.json + merges.txt, or tokenizer.json)
 *   wordpiece.c  BERT WordPiece         (vocab.txt, or tokenizer.json)
 *   spm.c        SentencePiece BPE      (GGUF metadata, or tokenizer.json)
 *
 * Encoding never adds special tokens (callers add BOS/CLS/SEP themselves).
 */
#ifndef PT_TOKENIZERS_TOKENIZER_H
#define PT_TOKENIZERS_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/vec.h"
#include "ptune.h"

typedef enum pt_tok_kind {
    PT_TOK_BPE,       /* GPT-2 byte-level BPE */
    PT_TOK_WORDPIECE, /* BERT */
    PT_TOK_SPM,       /* SentencePiece (LLaMA) */
} pt_tok_kind;

/* encode flags */
enum {
    /* SentencePiece: do not add the dummy space prefix (used for every text
     * piece of a template but the first). Ignored by other kinds. */
    PT_TOK_NO_PREFIX = 1,
};

typedef struct pt_tokenizer pt_tokenizer;

typedef struct pt_tok_ops {
    pt_status (*encode)(const pt_tokenizer *t, const char *text, size_t len, int flags,
                        pt_ivec *out);
    /* Append the bytes of token id to out (decoded: byte-level map undone,
     * "##" continuation handled by decode, "▁" -> space, <0xXX> -> byte). */
    pt_status (*decode)(const pt_tokenizer *t, const int *ids, size_t n, pt_buf *out);
    void (*free)(pt_tokenizer *t);
} pt_tok_ops;

struct pt_tokenizer {
    const pt_tok_ops *ops;
    pt_tok_kind kind;
    int vocab_size;
    char **pieces; /* [vocab_size] token strings as stored in the vocabulary */
    /* special token ids, -1 when the vocabulary has none */
    int bos_id, eos_id, unk_id, pad_id, mask_id, cls_id, sep_id;
    /* whether the tokenizer's files say to put BOS before / EOS after a text
     * (GGUF add_bos_token, tokenizer_config.json add_bos_token): 1 or 0 when
     * stated, -1 when they do not say (the family's policy decides). */
    int add_bos, add_eos;
    /* whether spaces before a word change its token (BPE: " great" != "great";
     * SentencePiece: "▁great"); WordPiece ignores spaces. */
    int space_sensitive;
    void *impl;              /* kind-specific data */
    struct pt_strmap *index; /* piece -> id, built by pt_tok_build_index */
};

/* Encode text[0..len) and append ids to out. */
pt_status pt_tok_encode(const pt_tokenizer *t, const char *text, size_t len, int flags,
                        pt_ivec *out);
/* Decode ids to bytes, appended to out. */
pt_status pt_tok_decode(const pt_tokenizer *t, const int *ids, size_t n, pt_buf *out);
/* Token string for id (NULL if out of range). */
const char *pt_tok_piece(const pt_tokenizer *t, int id);
/* Id of an exact piece string, -1 if absent. */
int pt_tok_lookup(const pt_tokenizer *t, const char *piece);
void pt_tok_free(pt_tokenizer *t);
/* Build t->index from t->pieces (loaders call this once). */
pt_status pt_tok_build_index(pt_tokenizer *t);

/* Loaders (each returns a complete tokenizer or an error naming the file). */
struct pt_json;
struct pt_gguf;
pt_status pt_bpe_load_files(pt_tokenizer **out, const char *vocab_json, const char *merges_txt);
pt_status pt_wordpiece_load_vocab(pt_tokenizer **out, const char *vocab_txt, int lowercase);
/* From a parsed Hugging Face tokenizer.json (path only for messages). */
pt_status pt_bpe_from_tokenizer_json(pt_tokenizer **out, const struct pt_json *root,
                                     const char *path);
pt_status pt_wordpiece_from_tokenizer_json(pt_tokenizer **out, const struct pt_json *root,
                                           const char *path);
pt_status pt_spm_from_tokenizer_json(pt_tokenizer **out, const struct pt_json *root,
                                     const char *path);
/* SentencePiece from GGUF metadata (tokenizer.ggml.*). */
pt_status pt_spm_from_gguf(pt_tokenizer **out, const struct pt_gguf *g);
/* GPT-2-style byte-level BPE from GGUF metadata (tokenizer.ggml.model "gpt2",
 * tokenizer.ggml.pre naming the pre-tokenizer; bpe_gguf.c). */
pt_status pt_bpe_from_gguf(pt_tokenizer **out, const struct pt_gguf *g);
/* The tokenizer of a GGUF file, by tokenizer.ggml.model: "llama" (or absent)
 * -> SentencePiece, "gpt2" -> byte-level BPE, anything else refused by name. */
pt_status pt_tok_from_gguf(pt_tokenizer **out, const struct pt_gguf *g);
/* Read tokenizer.json and dispatch on model.type: "WordPiece" -> wordpiece;
 * "BPE" with byte_fallback true -> spm; "BPE" otherwise -> GPT-2 byte-level bpe. */
pt_status pt_tok_load_tokenizer_json(pt_tokenizer **out, const char *path);

/* SentencePiece from a tokenizer.model file (the ModelProto protobuf, read by
 * spm_model.c): BPE models only. */
pt_status pt_spm_load_model_file(pt_tokenizer **out, const char *path);

/* Find and load the tokenizer in a Hugging Face model directory:
 * tokenizer.json, else vocab.json + merges.txt, else tokenizer.model, else
 * vocab.txt (case from tokenizer_config.json "do_lower_case", default lower).
 * tokenizer_config.json, when present, then sets bos/eos/unk/pad/mask ids
 * ("<name>_token": string, {"content": ...}, or null for none) and
 * add_bos/add_eos (add_bos_token, add_eos_token). */
pt_status pt_tok_load_dir(pt_tokenizer **out, const char *dir);

/* For writing a GGUF vocabulary (tok_gguf.c). SentencePiece: scores and
 * token types (V each; a tokenizer.json's merge ranks become scores, see
 * spm.c) and whether a space prefix is added. Byte-level BPE: the merges as
 * "left right" strings in rank order (*n_merges of them, malloc'ed, each too),
 * the pre-tokenizer (pt_pretok), add_prefix_space and the NFC check. */
pt_status pt_spm_export(const pt_tokenizer *t, float *scores, int32_t *types,
                        int *add_space_prefix);
pt_status pt_bpe_export(const pt_tokenizer *t, char ***merges, int *n_merges, int *pretok,
                        int *add_prefix_space, int *nfc);
/* The tokenizer as GGUF tokenizer.ggml.* keys (llama.cpp's: "llama" for
 * SentencePiece, "gpt2" for byte-level BPE), its vocabulary padded with
 * unused tokens to V entries (the model's rows). WordPiece is refused.
 * *note (may be NULL) gets 1 when something could not be said in GGUF (an
 * NFC check dropped). */
struct pt_gguf_writer;
pt_status pt_tok_write_gguf(const pt_tokenizer *t, struct pt_gguf_writer *w, int V, int *note);

#endif
