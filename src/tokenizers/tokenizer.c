/* tokenizer.c - the kind-independent parts of the tokenizer interface. */
#include "tokenizers/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strmap.h"

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
