/* load_gguf.c - a GGUF file, driven by the family's table (general.architecture
 * picks the family; its GGUF names and "ARCH.*" keys do the rest).
 *
 * Every weight stays in the file mapping as stored (float or block-quantized);
 * only the tensors the table wants in float32 (norms, biases, frequency
 * factors) are converted when stored otherwise. llama.cpp's converter stores
 * the Q and K rows of LLaMA-architecture files permuted for adjacent-pair
 * RoPE; they are kept so, and the RoPE kernel reads that order
 * (cfg.rope_interleaved).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "formats/gguf.h"
#include "models/family.h"
#include "models/load_impl.h"

static pt_status weight_from_gguf(pt_weight *w, const pt_gguf_tensor *t, const pt_tensor_desc *d,
                                  int rows, int cols, const char *path) {
    char tn[32];
    int wt = pt_wtype_from_ggml(t->type);
    if (wt < 0)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "%s: tensor \"%s\" has type %s, which ptune does not read (F32, F16, BF16, "
                       "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
                       path, t->name, pt_ggml_type_name(t->type, tn, sizeof tn));
    if (pt_wtype_row_bytes(wt, cols) == 0 && cols > 0)
        return pt_fail(PT_ERR_FORMAT, "%s: tensor \"%s\": rows of %d are not whole %s blocks", path,
                       t->name, cols, pt_wtype_get(wt)->name);
    size_t align = wt == PT_WT_F32 ? 4 : 2;
    int need_f32 = (d->flags & PT_T_F32) != 0;
    if ((!need_f32 || wt == PT_WT_F32) && (uintptr_t)t->data % align == 0) {
        *w = pt_weight_wrap(wt, rows, cols, t->data);
        return PT_OK;
    }
    pt_status s = pt_weight_alloc(w, PT_WT_F32, rows, cols);
    if (s) return s;
    if ((s = pt_gguf_tensor_to_f32(t, w->owned))) {
        pt_weight_free(w);
        return pt_fail_ctx(s, "%s", path);
    }
    return PT_OK;
}

static pt_status load_one(pt_model *m, const pt_gguf *g, const pt_tensor_desc *d, int layer,
                          int *missing_head) {
    if (!d->gguf) return PT_OK;
    char name[160];
    snprintf(name, sizeof name, d->gguf, layer);
    const pt_gguf_tensor *t = pt_gguf_find_tensor(g, name);
    if (!t) {
        if ((d->flags & PT_T_HEAD) && !*missing_head) {
            *missing_head = 1;
            snprintf(m->missing, sizeof m->missing, "%s", name);
        }
        if (d->flags & (PT_T_OPTIONAL | PT_T_HEAD)) return PT_OK;
        return pt_fail(PT_ERR_FORMAT, "%s: missing tensor \"%s\"", g->path, name);
    }
    int64_t rows = pt_dim_value(&m->cfg, d->rows), cols = pt_dim_value(&m->cfg, d->cols);
    int ok = d->rows == PT_D_1 ? (t->n_dims == 1 && t->ne[0] == cols)
                               : (t->n_dims == 2 && t->ne[0] == cols && t->ne[1] == rows);
    if (!ok) {
        char got[96] = "";
        size_t o = 0;
        for (int i = t->n_dims - 1; i >= 0 && o < sizeof got; i--)
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%lld", i < t->n_dims - 1 ? ", " : "",
                                  (long long)t->ne[i]);
        return pt_fail(PT_ERR_MISMATCH,
                       "%s: tensor \"%s\" has shape [%s] (rows first), expected [%lld, %lld]",
                       g->path, name, got, (long long)rows, (long long)cols);
    }
    return weight_from_gguf(pt_desc_weight(m, d, layer), t, d, (int)rows, (int)cols, g->path);
}

pt_status pt_load_gguf(pt_model **out, const char *path) {
    *out = NULL;
    pt_gguf *g = calloc(1, sizeof *g);
    if (!g) return pt_fail(PT_ERR_NOMEM, "out of memory");
    pt_status s = pt_gguf_open(g, path);
    if (s) {
        free(g);
        return s;
    }
    pt_model *m = NULL;
    char *arch = pt_gguf_get_string(g, "general.architecture");
    const pt_family_desc *fam = arch ? pt_family_for_gguf(arch) : NULL;
    if (!arch) {
        s = pt_fail(PT_ERR_FORMAT, "%s: missing key \"general.architecture\"", path);
    } else if (!fam) {
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "%s: general.architecture is \"%s\"; ptune reads llama (LLaMA, Mistral) and "
                    "qwen2 GGUF files",
                    path, arch);
    }
    free(arch);
    if (s) goto done;
    pt_config_src src = {NULL, g, path};
    pt_model_config c;
    if ((s = pt_family_read_config(fam, &c, &src))) goto done;
    /* the vocabulary size is the embedding matrix's: ne = {C, V} */
    const pt_gguf_tensor *te = pt_gguf_find_tensor(g, "token_embd.weight");
    if (!te) {
        s = pt_fail(PT_ERR_FORMAT, "%s: missing tensor \"token_embd.weight\"", path);
        goto done;
    }
    if (te->n_dims != 2 || te->ne[0] != c.dim || te->ne[1] < 1 || te->ne[1] > (1 << 24)) {
        s = pt_fail(PT_ERR_FORMAT,
                    "%s: tensor \"token_embd.weight\" has shape [%lld, %lld] (ggml order), "
                    "expected [%d, vocab]",
                    path, (long long)te->ne[0], (long long)(te->n_dims > 1 ? te->ne[1] : 0), c.dim);
        goto done;
    }
    c.vocab_size = (int)te->ne[1];
    for (int i = 0; i < fam->n_layer; i++)
        if (fam->layer[i].flags & PT_T_ROPE_Q) c.rope_interleaved = 1;
    if ((s = pt_config_check(&c, path))) goto done;
    if ((s = pt_model_alloc(&m, path, fam, &c))) goto done;
    int missing_head = 0;
    for (int i = 0; i < fam->n_globals && !s; i++)
        s = load_one(m, g, &fam->globals[i], -1, &missing_head);
    for (int l = 0; l < c.n_layers && !s; l++)
        for (int i = 0; i < fam->n_layer && !s; i++)
            s = load_one(m, g, &fam->layer[i], l, &missing_head);
    if (!s) s = pt_model_check_head(m, missing_head, path);
    if (!s && pt_gguf_find(g, "tokenizer.ggml.tokens")) s = pt_tok_from_gguf(&m->tok, g);
    if (s) goto done;
    void *files[1] = {g};
    if ((s = pt_model_keep_files(m, files, 1, PT_FILE_GGUF))) goto done;
    g = NULL;
    s = pt_model_finish(m);
done:
    if (g) {
        pt_gguf_close(g);
        free(g);
    }
    if (s) {
        pt_model_free(m);
        return s;
    }
    *out = m;
    return PT_OK;
}
