/* model.c - family dispatch, embedding lookup, fingerprint. */
#include "models/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "formats/gguf.h"
#include "models/model_util.h"

const char *pt_family_name(pt_family f) {
    switch (f) {
    case PT_FAMILY_GPT2:
        return "gpt2";
    case PT_FAMILY_BERT:
        return "bert";
    case PT_FAMILY_LLAMA:
        return "llama";
    }
    return "unknown";
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Family from config.json: model_type, else architectures[0]. */
static pt_status detect_family(const char *dir, pt_family *fam) {
    pt_json_doc doc;
    pt_status s = pt_mu_read_config(dir, &doc);
    if (s) return s;
    const char *mt = NULL;
    pt_json_get_str(doc.root, "model_type", &mt);
    const pt_json *arch = pt_json_get(doc.root, "architectures");
    const char *a0 = NULL;
    if (arch && arch->type == PT_JSON_ARRAY && arch->len > 0 &&
        arch->items[0]->type == PT_JSON_STRING)
        a0 = arch->items[0]->str;
    if ((mt && !strcmp(mt, "gpt2")) || (a0 && !strncmp(a0, "GPT2", 4)))
        *fam = PT_FAMILY_GPT2;
    else if ((mt && !strcmp(mt, "bert")) || (a0 && !strncmp(a0, "Bert", 4)))
        *fam = PT_FAMILY_BERT;
    else if ((mt && !strcmp(mt, "llama")) || (a0 && !strncmp(a0, "Llama", 5)))
        *fam = PT_FAMILY_LLAMA;
    else if (!mt && pt_json_get(doc.root, "n_embd"))
        *fam = PT_FAMILY_GPT2;
    else
        s = pt_fail(PT_ERR_UNSUPPORTED, "%s/config.json: unsupported model_type \"%s\"", dir,
                    mt ? mt : (a0 ? a0 : "(none)"));
    pt_json_doc_free(&doc);
    return s;
}

/* Directory holding config.json for a model path ("x/model.safetensors" -> "x"). */
static char *model_dir(const char *path) {
    if (pt_is_dir(path)) return pt_strdup(path);
    char *dir = pt_strdup(path);
    if (!dir) return NULL;
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    return dir;
}

pt_status pt_model_load_tokenizer(const char *path, pt_tokenizer **tok, pt_family *fam) {
    *tok = NULL;
    if (ends_with(path, ".gguf")) {
        pt_gguf g;
        pt_status s = pt_gguf_open(&g, path);
        if (s) return s;
        char *arch = pt_gguf_get_string(&g, "general.architecture");
        if (!arch || strcmp(arch, "llama"))
            s = pt_fail(PT_ERR_UNSUPPORTED, "%s: architecture \"%s\" is not supported (llama)",
                        path, arch ? arch : "(none)");
        free(arch);
        if (!s) s = pt_spm_from_gguf(tok, &g);
        pt_gguf_close(&g);
        *fam = PT_FAMILY_LLAMA;
        return s;
    }
    if (!pt_is_dir(path) && !pt_file_exists(path))
        return pt_fail(PT_ERR_IO, "%s: no such model", path);
    char *dir = model_dir(path);
    if (!dir) return pt_fail(PT_ERR_NOMEM, "out of memory");
    /* a tokenizer folder without config.json: the family follows the tokenizer */
    char *cfg = pt_path_join(dir, "config.json");
    int has_cfg = cfg && pt_file_exists(cfg);
    free(cfg);
    pt_status s = has_cfg ? detect_family(dir, fam) : PT_OK;
    if (!s) s = pt_tok_load_dir(tok, dir);
    if (!s && !has_cfg)
        *fam = (*tok)->kind == PT_TOK_WORDPIECE ? PT_FAMILY_BERT
               : (*tok)->kind == PT_TOK_SPM     ? PT_FAMILY_LLAMA
                                                : PT_FAMILY_GPT2;
    free(dir);
    return s;
}

pt_status pt_model_load(pt_model **out, const char *path) {
    *out = NULL;
    if (ends_with(path, ".gguf")) return pt_llama_load_gguf(out, path);
    char *dir = NULL, *st = NULL;
    pt_status s = PT_OK;
    if (pt_is_dir(path)) {
        dir = pt_strdup(path);
        st = pt_path_join(path, "model.safetensors");
    } else if (ends_with(path, ".safetensors")) {
        st = pt_strdup(path);
        dir = pt_strdup(path);
        if (dir) {
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
            else
                strcpy(dir, ".");
        }
    } else if (!pt_file_exists(path)) {
        return pt_fail(PT_ERR_IO,
                       "%s: no such model (expected a directory with config.json and "
                       "model.safetensors, a .safetensors file or a .gguf file)",
                       path);
    } else {
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: unknown model file type (expected .safetensors or .gguf)", path);
    }
    if (!dir || !st) {
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
        goto done;
    }
    pt_family fam = PT_FAMILY_GPT2;
    s = detect_family(dir, &fam);
    if (s) goto done;
    switch (fam) {
    case PT_FAMILY_GPT2:
        s = pt_gpt2_load(out, dir, st);
        break;
    case PT_FAMILY_BERT:
        s = pt_bert_load(out, dir, st);
        break;
    case PT_FAMILY_LLAMA:
        s = pt_llama_load_hf(out, dir, st);
        break;
    }
done:
    free(dir);
    free(st);
    return s;
}

void pt_model_free(pt_model *m) {
    if (!m) return;
    if (m->ops && m->ops->free_impl) m->ops->free_impl(m);
    pt_tok_free(m->tok);
    free(m->path);
    free(m);
}

pt_status pt_model_set_precision(pt_model *m, int bf16) {
    const char *name = m->path ? m->path : "model";
    if (!bf16) {
        if (m->bf16)
            return pt_fail(PT_ERR_ARG, "%s: weights already rounded to bf16; reload for float32",
                           name);
        return PT_OK;
    }
    if (m->bf16) return PT_OK;
    if (!m->ops->to_bf16)
        return pt_fail(PT_ERR_UNSUPPORTED, "%s: no bf16 mode for %s models", name,
                       pt_family_name(m->cfg.family));
    pt_status s = m->ops->to_bf16(m);
    if (s) return s;
    m->bf16 = 1;
    return PT_OK;
}

void pt_model_set_recompute(pt_model *m, int on) {
    m->recompute = on != 0;
}

pt_status pt_model_embed(const pt_model *m, float *out, const int *ids, int n) {
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= V)
            return pt_fail(PT_ERR_ARG, "token id %d out of range [0, %d)", ids[i], V);
        memcpy(out + (size_t)i * C, m->wte + (size_t)ids[i] * C, sizeof(float) * C);
    }
    return PT_OK;
}

void pt_model_fingerprint(const pt_model *m, char hex[17]) {
    /* 154 MB of GPT-2 word embeddings hash in about 0.25 s: once per model (the
     * embeddings never change after loading), kept in the model */
    if (m->fingerprint[0]) {
        memcpy(hex, m->fingerprint, 17);
        return;
    }
    uint64_t h = 1469598103934665603ULL;
    size_t n = (size_t)m->cfg.vocab_size * m->cfg.dim;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &m->wte[i], 4);
        for (int b = 0; b < 4; b++) {
            h ^= (bits >> (8 * b)) & 0xff;
            h *= 1099511628211ULL;
        }
    }
    snprintf(hex, 17, "%016llx", (unsigned long long)h);
    memcpy(((pt_model *)m)->fingerprint, hex, 17); /* m itself is never const-defined */
}
