/* bpe_build.h - building a GPT-2 byte-level BPE tokenizer from pieces and
 * merges, shared by the loaders of bpe.c (vocab.json + merges.txt,
 * tokenizer.json) and bpe_gguf.c (GGUF tokenizer.ggml.*). Internal. */
#ifndef PT_TOKENIZERS_BPE_BUILD_H
#define PT_TOKENIZERS_BPE_BUILD_H

#include <stddef.h>

#include "tokenizers/bpe_pretok.h"
#include "tokenizers/tokenizer.h"

struct pt_json;

typedef struct bpe_merge {
    const char *a, *b; /* the two symbols (not NUL-terminated) */
    size_t alen, blen;
    int where; /* merges.txt line number, or index in the merges array */
} bpe_merge;

typedef struct bpe_src {
    const char *vpath;  /* file of the vocabulary (messages) */
    const char *vfield; /* "" for vocab.json, "model.vocab: " for tokenizer.json */
    const char *mpath;  /* file of the merges (messages) */
    const char *mfield; /* NULL: merges.txt lines; else the array's name ("model.merges") */
    const struct pt_json *added; /* added_tokens array or NULL */
    int add_prefix_space;
    pt_pretok pretok;
    int allow_dups; /* repeated pieces allowed (the first id wins in lookups) */
    int nfc;        /* encoding refuses text that is not already NFC */
} bpe_src;

/* Build the tokenizer from pieces[0..n) (taken over: freed on failure too) and
 * merges in rank order. Specials are set by spelling (<|endoftext|>, <s>, </s>,
 * <unk>, <pad>, <mask>); callers with explicit ids overwrite them. */
pt_status pt_bpe_build_pieces(pt_tokenizer **out, char **pieces, int n, const bpe_merge *merges,
                              size_t nm, const bpe_src *src);

/* Switch a byte-level BPE tokenizer to pre-tokenizer kind (tests: one
 * vocabulary under every pattern). PT_ERR_ARG if t is not byte-level BPE. */
pt_status pt_bpe_set_pretok(pt_tokenizer *t, pt_pretok kind);

#endif
