/* spm_build.h - building a SentencePiece BPE tokenizer from a list of pieces,
 * shared by spm.c's loaders and spm_model.c (tokenizer.model). Internal. */
#ifndef PT_TOKENIZERS_SPM_BUILD_H
#define PT_TOKENIZERS_SPM_BUILD_H

#include <stddef.h>

#include "tokenizers/tokenizer.h"

typedef struct pt_spm_piece {
    const char *s; /* UTF-8, not NUL-terminated */
    size_t len;
    float score; /* merge priority */
    int type;    /* 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte */
} pt_spm_piece;

/* The same tokenizer pt_spm_from_gguf builds from tokenizer.ggml.* with these
 * pieces; ids -1 for none (bos/eos/unk then found by spelling, as there).
 * src names the file in messages. */
pt_status pt_spm_from_pieces(pt_tokenizer **out, const pt_spm_piece *p, int V, int add_space_prefix,
                             int bos, int eos, int unk, int pad, const char *src);

#endif
