/* model.c - loading dispatch, ownership, precision, embedding lookup,
 * fingerprint and special tokens: everything about a model that is the same
 * for every family, walked through the family's table. */
#include "models/model.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "models/family.h"
#include "models/load_impl.h"

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* ---- every weight of a model, through the table ---- */

typedef void (*weight_fn)(pt_model *m, const pt_tensor_desc *d, pt_weight *w, int layer, void *ctx);

static void for_each_weight(pt_model *m, weight_fn fn, void *ctx) {
    const pt_family_desc *f = m->fam;
    if (!f) return;
    for (int i = 0; i < f->n_globals; i++)
        fn(m, &f->globals[i], pt_desc_weight(m, &f->globals[i], -1), -1, ctx);
    if (!m->w.layers) return;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int i = 0; i < f->n_layer; i++)
            fn(m, &f->layer[i], pt_desc_weight(m, &f->layer[i], l), l, ctx);
}

pt_status pt_model_alloc(pt_model **out, const char *path, const pt_family_desc *fam,
                         const pt_model_config *c) {
    *out = NULL;
    pt_model *m = calloc(1, sizeof *m);
    if (!m) return pt_fail(PT_ERR_NOMEM, "out of memory");
    m->path = pt_strdup(path);
    m->w.layers = calloc((size_t)c->n_layers, sizeof *m->w.layers);
    if (!m->path || !m->w.layers) {
        free(m->path);
        free(m->w.layers);
        free(m);
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    m->cfg = *c;
    m->fam = fam;
    *out = m;
    return PT_OK;
}

pt_status pt_model_keep_files(pt_model *m, void **files, int n, int kind) {
    void **f = realloc(m->files, sizeof *f * (size_t)(m->n_files + n + 1));
    int *k = realloc(m->file_kinds, sizeof *k * (size_t)(m->n_files + n + 1));
    if (f) m->files = f;
    if (k) m->file_kinds = k;
    if (!f || !k) return pt_fail(PT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        m->files[m->n_files] = files[i];
        m->file_kinds[m->n_files++] = kind;
    }
    return PT_OK;
}

static void count_head(pt_model *m, const pt_tensor_desc *d, pt_weight *w, int layer, void *ctx) {
    if (d->flags & PT_T_HEAD) ((int *)ctx)[pt_weight_present(w)]++;
}

pt_status pt_model_check_head(pt_model *m, int missing_head, const char *src) {
    int n[2] = {0, 0}; /* head pieces absent, present */
    for_each_weight(m, count_head, n);
    if (n[0] && n[1])
        return pt_fail(PT_ERR_FORMAT,
                       "%s: missing tensor \"%s\" (%d of the LM head's %d tensors are missing; "
                       "the others are there)",
                       src, m->missing, n[0], n[0] + n[1]);
    if (n[0]) m->cfg.has_lm_head = 0;
    pt_weight *lm = &m->w.lm_head, *te = &m->w.tok_embd;
    /* tied: the output matrix is the embeddings (a stored copy is dropped) */
    if (pt_weight_present(lm) &&
        (m->cfg.tied || (lm->type == te->type && lm->rows == te->rows && lm->cols == te->cols &&
                         !memcmp(lm->data, te->data, pt_weight_bytes(te)))))
        pt_weight_free(lm);
    if (!pt_weight_present(lm)) m->cfg.tied = 1;
    return PT_OK;
}

pt_status pt_model_load_dir_tokenizer(pt_model *m, const char *dir) {
    static const char *const files[] = {"tokenizer.json", "vocab.json", "vocab.txt",
                                        "tokenizer.model"};
    int any = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !any; i++) {
        char *p = pt_path_join(dir, files[i]);
        if (!p) return pt_fail(PT_ERR_NOMEM, "out of memory");
        any = pt_file_exists(p);
        free(p);
    }
    if (!any) return PT_OK; /* a model without a tokenizer: tools that need one say so */
    return pt_tok_load_dir(&m->tok, dir);
}

static void note_type(pt_model *m, const pt_tensor_desc *d, pt_weight *w, int layer, void *ctx) {
    if ((d->flags & PT_T_MATRIX) && w->data && !m->dtype[0])
        snprintf(m->dtype, sizeof m->dtype, "%s", pt_wtype_get(w->type)->name);
}

pt_status pt_model_finish(pt_model *m) {
    if (m->tok && m->tok->vocab_size > m->cfg.vocab_size)
        return pt_fail(PT_ERR_MISMATCH, "%s: tokenizer has %d tokens, the model only %d", m->path,
                       m->tok->vocab_size, m->cfg.vocab_size);
    if (m->cfg.head_dim > 0 && m->cfg.causal && m->fam->id != PT_FAMILY_GPT2) {
        pt_status s = pt_model_init_rope(m);
        if (s) return s;
    }
    m->dtype[0] = 0;
    for_each_weight(m, note_type, NULL);
    m->n_params = pt_model_count_params(m);
    return PT_OK;
}

pt_status pt_model_open(pt_model **out, const char *path) {
    *out = NULL;
    if (ends_with(path, ".gguf")) return pt_load_gguf(out, path);
    if (pt_is_dir(path) || ends_with(path, ".safetensors")) {
        if (!pt_is_dir(path) && !pt_file_exists(path))
            return pt_fail(PT_ERR_IO, "%s: no such file", path);
        return pt_load_hf(out, path);
    }
    if (!pt_file_exists(path))
        return pt_fail(PT_ERR_IO,
                       "%s: no such model (expected a directory with config.json and "
                       "model.safetensors, a .safetensors file or a .gguf file)",
                       path);
    return pt_fail(PT_ERR_UNSUPPORTED,
                   "%s: unknown model file type (expected .safetensors or .gguf)", path);
}

pt_status pt_model_load(pt_model **out, const char *path) {
    pt_status s = pt_model_open(out, path);
    if (s) return s;
    if ((s = pt_model_set_precision(*out, 0))) {
        pt_model_free(*out);
        *out = NULL;
    }
    return s;
}

static void free_weight(pt_model *m, const pt_tensor_desc *d, pt_weight *w, int layer, void *ctx) {
    pt_weight_free(w);
}

void pt_model_free(pt_model *m) {
    if (!m) return;
    for_each_weight(m, free_weight, NULL);
    pt_weight_free(&m->w.lm_head);
    free(m->w.layers);
    for (int i = 0; i < m->n_files; i++) {
        if (m->file_kinds[i] == PT_FILE_GGUF)
            pt_gguf_close(m->files[i]);
        else
            pt_st_close(m->files[i]);
        free(m->files[i]);
    }
    free(m->files);
    free(m->file_kinds);
    free(m->inv_freq);
    pt_tok_free(m->tok);
    free(m->path);
    free(m);
}

/* ---- precision ---- */

typedef struct conv_ctx {
    int bf16;
    pt_status s;
} conv_ctx;

static void convert_weight(pt_model *m, const pt_tensor_desc *d, pt_weight *w, int layer,
                           void *ctx) {
    conv_ctx *c = ctx;
    if (c->s || !w->data || pt_wtype_is_quant(w->type)) return;
    pt_wtype to = w->type;
    if (c->bf16 && (d->flags & PT_T_MATRIX))
        to = PT_WT_BF16;
    else if (w->type == PT_WT_F16 || w->type == PT_WT_BF16)
        to = PT_WT_F32; /* embeddings, LM head: float32 as after pt_model_load */
    if (to != w->type) c->s = pt_weight_convert(w, to);
}

pt_status pt_model_set_precision(pt_model *m, int bf16) {
    const char *name = m->path ? m->path : "model";
    if (!bf16 && m->bf16)
        return pt_fail(PT_ERR_ARG, "%s: weights already rounded to bf16; reload for float32", name);
    conv_ctx c = {bf16 != 0, PT_OK};
    for_each_weight(m, convert_weight, &c);
    if (c.s) return pt_fail_ctx(c.s, "%s", name);
    if (bf16) m->bf16 = 1;
    return PT_OK;
}

static void find_quant(pt_model *m, const pt_tensor_desc *d, pt_weight *w, int layer, void *ctx) {
    if (w->data && pt_wtype_is_quant(w->type)) *(int *)ctx = 1;
}

int pt_model_is_quantized(const pt_model *m) {
    int q = 0;
    for_each_weight((pt_model *)m, find_quant, &q);
    return q;
}

void pt_model_set_recompute(pt_model *m, int on) {
    m->recompute = on != 0;
}

static void add_memory(pt_model *m, const pt_tensor_desc *d, pt_weight *w, int layer, void *ctx) {
    size_t *mem = ctx;
    mem[0] += pt_weight_owned_bytes(w);
    if (w->data && !w->owned) mem[1] += pt_weight_bytes(w);
}

void pt_model_memory(const pt_model *m, size_t *owned, size_t *mapped) {
    size_t mem[2] = {0, 0};
    for_each_weight((pt_model *)m, add_memory, mem);
    *owned = mem[0];
    *mapped = mem[1];
}

typedef struct mix_ctx {
    int *count;
    size_t *bytes;
} mix_ctx;

static void add_mix(pt_model *m, const pt_tensor_desc *d, pt_weight *w, int layer, void *ctx) {
    mix_ctx *c = ctx;
    if (!w->data) return;
    c->count[w->type]++;
    c->bytes[w->type] += pt_weight_bytes(w);
}

void pt_model_type_mix(const pt_model *m, int *count, size_t *bytes) {
    for (int t = 0; t < PT_WT_COUNT; t++) count[t] = 0, bytes[t] = 0;
    mix_ctx c = {count, bytes};
    for_each_weight((pt_model *)m, add_mix, &c);
}

typedef struct finite_ctx {
    const char *role;
    int layer;
} finite_ctx;

static void check_finite(pt_model *m, const pt_tensor_desc *d, pt_weight *w, int layer, void *ctx) {
    finite_ctx *c = ctx;
    if (!c->role && !pt_weight_all_finite(w)) c->role = d->role, c->layer = layer;
}

const char *pt_model_check_finite(const pt_model *m, int *layer) {
    finite_ctx c = {NULL, -1};
    for_each_weight((pt_model *)m, check_finite, &c);
    if (layer) *layer = c.layer;
    return c.role;
}

/* ---- tokens ---- */

pt_status pt_model_load_tokenizer(const char *path, pt_tokenizer **tok, pt_family *fam) {
    *tok = NULL;
    if (ends_with(path, ".gguf")) {
        pt_gguf g;
        pt_status s = pt_gguf_open(&g, path);
        if (s) return s;
        char *arch = pt_gguf_get_string(&g, "general.architecture");
        const pt_family_desc *f = arch ? pt_family_for_gguf(arch) : NULL;
        if (!f)
            s = pt_fail(PT_ERR_UNSUPPORTED, "%s: architecture \"%s\" is not supported", path,
                        arch ? arch : "(none)");
        free(arch);
        if (!s) s = pt_tok_from_gguf(tok, &g);
        if (!s) *fam = f->id;
        pt_gguf_close(&g);
        return s;
    }
    if (!pt_is_dir(path) && !pt_file_exists(path))
        return pt_fail(PT_ERR_IO, "%s: no such model", path);
    char *dir = pt_strdup(path);
    if (!dir) return pt_fail(PT_ERR_NOMEM, "out of memory");
    if (!pt_is_dir(path)) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            strcpy(dir, ".");
    }
    /* a tokenizer folder without config.json: the family follows the tokenizer */
    char *cfg = pt_path_join(dir, "config.json");
    int has_cfg = cfg && pt_file_exists(cfg);
    free(cfg);
    pt_status s = PT_OK;
    if (has_cfg) {
        const pt_family_desc *f = NULL;
        pt_json_doc doc;
        s = pt_hf_family(dir, &f, &doc);
        if (!s) {
            *fam = f->id;
            pt_json_doc_free(&doc);
        }
    }
    if (!s) s = pt_tok_load_dir(tok, dir);
    if (!s && !has_cfg)
        *fam = (*tok)->kind == PT_TOK_WORDPIECE ? PT_FAMILY_BERT
               : (*tok)->kind == PT_TOK_SPM     ? PT_FAMILY_LLAMA
                                                : PT_FAMILY_GPT2;
    free(dir);
    return s;
}

pt_status pt_model_embed(const pt_model *m, float *out, const int *ids, int n) {
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= V)
            return pt_fail(PT_ERR_ARG, "token id %d out of range [0, %d)", ids[i], V);
        pt_weight_row(&m->w.tok_embd, ids[i], out + (size_t)i * C);
    }
    return PT_OK;
}

static pthread_mutex_t fp_lock = PTHREAD_MUTEX_INITIALIZER;

void pt_model_fingerprint(const pt_model *m, char hex[17]) {
    /* 154 MB of GPT-2 word embeddings hash in about 0.25 s: once per model (the
     * embeddings never change after loading), kept in the model */
    pthread_mutex_lock(&fp_lock);
    if (!m->fingerprint[0]) {
        uint64_t h = 14695981039346656037ULL; /* FNV-1a 64-bit offset basis */
        uint64_t h0 = 1469598103934665603ULL; /* the basis ptune < 0.2 used by mistake */
        int C = m->cfg.dim;
        float *row = malloc(sizeof(float) * (size_t)C);
        for (int r = 0; row && r < m->cfg.vocab_size; r++) {
            pt_weight_row(&m->w.tok_embd, r, row);
            for (int i = 0; i < C; i++) {
                uint32_t bits;
                memcpy(&bits, &row[i], 4);
                for (int b = 0; b < 4; b++) {
                    h ^= (bits >> (8 * b)) & 0xff;
                    h *= 1099511628211ULL;
                    h0 ^= (bits >> (8 * b)) & 0xff;
                    h0 *= 1099511628211ULL;
                }
            }
        }
        free(row);
        snprintf(((pt_model *)m)->fingerprint, 17, "%016llx", (unsigned long long)h);
        snprintf(((pt_model *)m)->fingerprint_old, 17, "%016llx", (unsigned long long)h0);
    }
    memcpy(hex, m->fingerprint, 17);
    pthread_mutex_unlock(&fp_lock);
}

void pt_model_fingerprint_old(const pt_model *m, char hex[17]) {
    char now[17];
    pt_model_fingerprint(m, now);
    pthread_mutex_lock(&fp_lock);
    memcpy(hex, m->fingerprint_old, 17);
    pthread_mutex_unlock(&fp_lock);
}

static int special_id(const pt_tokenizer *t, int sp) {
    switch (sp) {
    case PT_SP_BOS:
        return t->bos_id;
    case PT_SP_EOS:
        return t->eos_id;
    case PT_SP_CLS:
        return t->cls_id;
    case PT_SP_SEP:
        return t->sep_id;
    }
    return -1;
}

void pt_family_specials(pt_family f, const pt_tokenizer *tok, int *begin, int *end) {
    const pt_family_desc *d = pt_family_get(f);
    *begin = *end = -1;
    if (!tok || !d) return;
    *begin = special_id(tok, d->special.begin);
    *end = special_id(tok, d->special.end);
    /* a causal family's BOS/EOS follow the tokenizer's add_bos/add_eos when stated */
    if (tok->add_bos >= 0 && (d->special.begin == PT_SP_BOS || d->special.begin == PT_SP_NONE))
        *begin = tok->add_bos ? tok->bos_id : -1;
    if (tok->add_eos >= 0 && (d->special.end == PT_SP_EOS || d->special.end == PT_SP_NONE))
        *end = tok->add_eos ? tok->eos_id : -1;
}

void pt_model_specials(const pt_model *m, int *begin, int *end) {
    pt_family_specials(m->cfg.family, m->tok, begin, end);
}

int pt_model_start_token(const pt_model *m) {
    if (!m->tok) return -1;
    int id = special_id(m->tok, m->fam->special.start);
    return id >= 0 ? id : m->tok->eos_id;
}
