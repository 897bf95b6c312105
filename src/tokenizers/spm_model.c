/* spm_model.c - SentencePiece tokenizer.model files: the ModelProto protobuf
 * read by hand (no protobuf library), giving the same tokenizer as the GGUF
 * path (spm.c).
 *
 * Wire format: a message is a sequence of (key varint = field << 3 | wire type,
 * value); wire types 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
 * Fields read (sentencepiece_model.proto), everything else skipped:
 *   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
 *   SentencePiece   1 piece, 2 score (float), 3 type (default NORMAL = 1)
 *   TrainerSpec     3 model_type (default UNIGRAM = 1; BPE = 2), 40 unk_id (0),
 *                   41 bos_id (1), 42 eos_id (2), 43 pad_id (-1)
 *   NormalizerSpec  1 name, 2 precompiled_charsmap, 3 add_dummy_prefix (true),
 *                   4 remove_extra_whitespaces (true), 5 escape_whitespaces (true)
 * Refused with a message: model types other than BPE (the encoder is the BPE
 * one), a normalizer other than "identity" that carries a character map
 * (nmt_nfkc etc.: ptune does not apply it), no trainer_spec (type unknown),
 * remove_extra_whitespaces or escape_whitespaces other than LLaMA's
 * (false, true).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "tokenizers/spm_build.h"
#include "tokenizers/tokenizer.h"

typedef struct pb {
    const unsigned char *p, *end;
} pb;

typedef struct pb_field {
    uint32_t num, wire;
    uint64_t v;                 /* varint / fixed value */
    const unsigned char *bytes; /* wire type 2 */
    size_t len;
} pb_field;

static int pb_varint(pb *b, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end) return 0;
        unsigned c = *b->p++;
        *v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) return 1;
    }
    return 0;
}

/* Next field of b into f: 1, 0 at the end, -1 when malformed. */
static int pb_next(pb *b, pb_field *f) {
    if (b->p >= b->end) return 0;
    uint64_t k;
    if (!pb_varint(b, &k) || (k >> 3) == 0 || (k >> 3) > 0x1FFFFFFF) return -1;
    f->num = (uint32_t)(k >> 3), f->wire = (uint32_t)(k & 7);
    f->bytes = NULL, f->len = 0, f->v = 0;
    switch (f->wire) {
    case 0:
        return pb_varint(b, &f->v) ? 1 : -1;
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if ((size_t)(b->end - b->p) < n) return -1;
        for (size_t i = 0; i < n; i++) f->v |= (uint64_t)b->p[i] << (8 * i);
        b->p += n;
        return 1;
    }
    case 2: {
        uint64_t n;
        if (!pb_varint(b, &n) || n > (uint64_t)(b->end - b->p)) return -1;
        f->bytes = b->p, f->len = (size_t)n;
        b->p += n;
        return 1;
    }
    }
    return -1; /* groups (3, 4) and reserved types */
}

typedef struct spm_model {
    pt_spm_piece *pieces; /* (cap) */
    int n, cap;
    int model_type, unk, bos, eos, pad;
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    const unsigned char *norm_name;
    size_t norm_name_len, charsmap_len;
} spm_model;

#define BAD(what) pt_fail(PT_ERR_FORMAT, "%s: malformed protobuf in %s", path, what)

static pt_status read_piece(spm_model *m, const unsigned char *p, size_t len, const char *path) {
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 1024;
        pt_spm_piece *np = realloc(m->pieces, (size_t)cap * sizeof *np);
        if (!np) return pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
        m->pieces = np, m->cap = cap;
    }
    pt_spm_piece *sp = &m->pieces[m->n];
    *sp = (pt_spm_piece){NULL, 0, 0.0f, 1};
    pb b = {p, p + len};
    pb_field f;
    int r;
    while ((r = pb_next(&b, &f)) > 0) {
        if (f.num == 1 && f.wire == 2)
            sp->s = (const char *)f.bytes, sp->len = f.len;
        else if (f.num == 2 && f.wire == 5) {
            uint32_t bits = (uint32_t)f.v;
            memcpy(&sp->score, &bits, 4);
        } else if (f.num == 3 && f.wire == 0)
            sp->type = (int)f.v;
    }
    if (r < 0) return BAD("a piece");
    if (!sp->s) return pt_fail(PT_ERR_FORMAT, "%s: piece %d has no \"piece\" string", path, m->n);
    m->n++;
    return PT_OK;
}

/* int32 fields are varints of the sign-extended 64-bit value */
static int as_int32(uint64_t v) {
    return (int)(int32_t)(uint32_t)v;
}

static pt_status read_trainer(spm_model *m, const unsigned char *p, size_t len, const char *path) {
    pb b = {p, p + len};
    pb_field f;
    int r;
    while ((r = pb_next(&b, &f)) > 0) {
        if (f.wire != 0) continue;
        if (f.num == 3) m->model_type = as_int32(f.v);
        if (f.num == 40) m->unk = as_int32(f.v);
        if (f.num == 41) m->bos = as_int32(f.v);
        if (f.num == 42) m->eos = as_int32(f.v);
        if (f.num == 43) m->pad = as_int32(f.v);
    }
    return r < 0 ? BAD("trainer_spec") : PT_OK;
}

static pt_status read_normalizer(spm_model *m, const unsigned char *p, size_t len,
                                 const char *path) {
    pb b = {p, p + len};
    pb_field f;
    int r;
    while ((r = pb_next(&b, &f)) > 0) {
        if (f.num == 1 && f.wire == 2) m->norm_name = f.bytes, m->norm_name_len = f.len;
        if (f.num == 2 && f.wire == 2) m->charsmap_len = f.len;
        if (f.wire != 0) continue;
        if (f.num == 3) m->add_dummy_prefix = f.v != 0;
        if (f.num == 4) m->remove_extra_ws = f.v != 0;
        if (f.num == 5) m->escape_ws = f.v != 0;
    }
    return r < 0 ? BAD("normalizer_spec") : PT_OK;
}

static pt_status check_model(const spm_model *m, const char *path) {
    static const char *const types[] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
    if (m->n < 1) return pt_fail(PT_ERR_FORMAT, "%s: no pieces (not a SentencePiece model?)", path);
    if (m->model_type != 2)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: SentencePiece model_type %s is not supported (only BPE, as LLaMA's)",
                       path, m->model_type >= 1 && m->model_type <= 4 ? types[m->model_type] : "?");
    int identity = m->norm_name && m->norm_name_len == 8 && !memcmp(m->norm_name, "identity", 8);
    if (m->norm_name && !identity && m->charsmap_len)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: normalizer \"%.*s\" is not supported (only \"identity\", as LLaMA's)",
                       path, (int)(m->norm_name_len < 64 ? m->norm_name_len : 64),
                       (const char *)m->norm_name);
    if (m->remove_extra_ws || !m->escape_ws)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: normalizer with remove_extra_whitespaces %s, escape_whitespaces %s is "
                       "not supported (only false, true as LLaMA's)",
                       path, m->remove_extra_ws ? "true" : "false",
                       m->escape_ws ? "true" : "false");
    return PT_OK;
}

/* an id from the trainer spec: -1 (none) or a valid id */
static pt_status check_id(int *id, int V, const char *name, const char *path) {
    if (*id < 0) {
        *id = -1;
        return PT_OK;
    }
    if (*id >= V)
        return pt_fail(PT_ERR_FORMAT, "%s: trainer_spec %s %d is not below the %d pieces", path,
                       name, *id, V);
    return PT_OK;
}

pt_status pt_spm_load_model_file(pt_tokenizer **out, const char *path) {
    *out = NULL;
    char *data = NULL;
    size_t len;
    pt_status st = pt_read_file(path, &data, &len);
    if (st) return st;
    spm_model m = {.model_type = 1,
                   .unk = 0,
                   .bos = 1,
                   .eos = 2,
                   .pad = -1,
                   .add_dummy_prefix = 1,
                   .remove_extra_ws = 1,
                   .escape_ws = 1};
    pb b = {(const unsigned char *)data, (const unsigned char *)data + len};
    pb_field f;
    int r, seen_trainer = 0;
    while (!st && (r = pb_next(&b, &f)) > 0) {
        if (f.wire != 2) continue;
        if (f.num == 1) st = read_piece(&m, f.bytes, f.len, path);
        if (f.num == 2) seen_trainer = 1, st = read_trainer(&m, f.bytes, f.len, path);
        if (f.num == 3) st = read_normalizer(&m, f.bytes, f.len, path);
    }
    if (!st && r < 0) st = BAD("the model");
    if (!st && !seen_trainer)
        st = pt_fail(PT_ERR_UNSUPPORTED,
                     "%s: no trainer_spec, so the model type is unknown (UNIGRAM by default; "
                     "only BPE is supported)",
                     path);
    if (!st) st = check_model(&m, path);
    if (!st) st = check_id(&m.unk, m.n, "unk_id", path);
    if (!st) st = check_id(&m.bos, m.n, "bos_id", path);
    if (!st) st = check_id(&m.eos, m.n, "eos_id", path);
    if (!st) st = check_id(&m.pad, m.n, "pad_id", path);
    if (!st)
        st = pt_spm_from_pieces(out, m.pieces, m.n, m.add_dummy_prefix, m.bos, m.eos, m.unk, m.pad,
                                path);
    free(m.pieces);
    free(data);
    return st;
}
