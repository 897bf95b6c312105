/* load_hf.c - a Hugging Face model directory, driven by the family's table:
 * config.json (family from model_type / architectures, then the table's
 * keys), the weights from model.safetensors or the shards named by
 * model.safetensors.index.json, the tokenizer files.
 *
 * Every tensor is found under the family's name prefixes ("bert.", ...) and
 * '|'-separated alternative names, its shape checked against the config.
 * Weights stay in the file mapping in their stored type where they can
 * (float32, float16, bfloat16 matrices; the precision step decides later);
 * tensors the table wants in float32 (norms, biases, position tables) are
 * converted when stored otherwise, and Conv1D matrices (GPT-2) are
 * transposed into memory of their own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "models/family.h"
#include "models/load_impl.h"
#include "models/model_util.h"

#define MAX_SHARDS 4096

/* The safetensors files of a model. */
typedef struct st_set {
    pt_st_file **f;
    int n;
} st_set;

static void st_set_close(st_set *s) {
    for (int i = 0; i < s->n; i++) {
        pt_st_close(s->f[i]);
        free(s->f[i]);
    }
    free(s->f);
    memset(s, 0, sizeof *s);
}

static pt_status st_set_add(st_set *s, const char *path) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->f[i]->path, path)) return PT_OK;
    if (s->n >= MAX_SHARDS)
        return pt_fail(PT_ERR_FORMAT, "%s: more than %d shards", path, MAX_SHARDS);
    pt_st_file **nf = realloc(s->f, sizeof *nf * (size_t)(s->n + 1));
    if (!nf) return pt_fail(PT_ERR_NOMEM, "out of memory");
    s->f = nf;
    pt_st_file *f = calloc(1, sizeof *f);
    if (!f) return pt_fail(PT_ERR_NOMEM, "out of memory");
    pt_status st = pt_st_open(f, path);
    if (st) {
        free(f);
        return st;
    }
    s->f[s->n++] = f;
    return PT_OK;
}

/* The shards listed in dir/model.safetensors.index.json ("weight_map"). */
static pt_status open_index(st_set *s, const char *dir, const char *index) {
    char *text = NULL;
    size_t len = 0;
    pt_json_doc doc;
    memset(&doc, 0, sizeof doc);
    pt_status st = pt_read_file(index, &text, &len);
    if (!st && (st = pt_json_parse(&doc, text, len))) pt_fail_ctx(st, "%s", index);
    free(text);
    if (st) return st;
    const pt_json *map = pt_json_get(doc.root, "weight_map");
    if (!map || map->type != PT_JSON_OBJECT || map->len == 0) {
        pt_json_doc_free(&doc);
        return pt_fail(PT_ERR_FORMAT, "%s: no \"weight_map\" object", index);
    }
    for (size_t i = 0; i < map->len && !st; i++) {
        const pt_json *v = map->items[i];
        if (v->type != PT_JSON_STRING || strchr(v->str, '/') || !strcmp(v->str, "..")) {
            st = pt_fail(PT_ERR_FORMAT, "%s: \"%s\" maps to a bad file name", index, map->keys[i]);
            break;
        }
        char *p = pt_path_join(dir, v->str);
        if (!p) {
            st = pt_fail(PT_ERR_NOMEM, "out of memory");
            break;
        }
        st = st_set_add(s, p);
        free(p);
    }
    pt_json_doc_free(&doc);
    return st;
}

static const pt_st_tensor *st_set_find(const st_set *s, const char *name, const pt_st_file **file) {
    for (int i = 0; i < s->n; i++) {
        const pt_st_tensor *t = pt_st_find(s->f[i], name);
        if (t) {
            *file = s->f[i];
            return t;
        }
    }
    return NULL;
}

/* A tensor under any prefix and any alternative of the '|'-separated pattern
 * (with %d = layer); full gets the name found (or the first tried). */
static const pt_st_tensor *find_tensor(const st_set *s, const pt_family_desc *f,
                                       const char *pattern, int layer, char *full, size_t cap,
                                       const pt_st_file **file) {
    char alt[256], name[320];
    full[0] = 0;
    for (const char *const *pre = f->hf_prefixes; *pre; pre++) {
        const char *p = pattern;
        while (*p) {
            size_t n = strcspn(p, "|");
            snprintf(alt, sizeof alt, "%.*s", (int)n, p);
            char base[256];
            if (layer >= 0)
                snprintf(base, sizeof base, alt, layer); /* the pattern holds one %d */
            else
                snprintf(base, sizeof base, "%s", alt);
            snprintf(name, sizeof name, "%s%s", *pre, base);
            if (!full[0]) snprintf(full, cap, "%s", name);
            const pt_st_tensor *t = st_set_find(s, name, file);
            if (t) {
                snprintf(full, cap, "%s", name);
                return t;
            }
            p += n + (p[n] == '|');
        }
    }
    return NULL;
}

static int wtype_of(pt_dtype d) {
    return d == PT_DTYPE_F32    ? PT_WT_F32
           : d == PT_DTYPE_F16  ? PT_WT_F16
           : d == PT_DTYPE_BF16 ? PT_WT_BF16
                                : -1;
}

/* w = tensor t of logical shape (rows, cols) as the descriptor wants it. */
static pt_status weight_from_st(pt_weight *w, const pt_st_file *file, const pt_st_tensor *t,
                                const pt_tensor_desc *d, int rows, int cols, const char *path,
                                const char *name) {
    pt_status s;
    int wt = wtype_of(t->dtype);
    if (d->flags & PT_T_CONV1D) { /* stored (cols, rows): transposed into float32 */
        static const char *const none[] = {"", NULL};
        float *tw = NULL; // (rows, cols)
        if ((s = pt_mu_load_transposed(file, none, name, cols, rows, &tw))) return s;
        *w = pt_weight_wrap(PT_WT_F32, rows, cols, tw);
        w->owned = tw; /* malloc'ed: pt_weight_free frees owned with pt_afree */
        return PT_OK;
    }
    size_t align = wt == PT_WT_F32 ? 4 : 2;
    int in_place =
        wt >= 0 && ((uintptr_t)t->data % align) == 0 && (!(d->flags & PT_T_F32) || wt == PT_WT_F32);
    if (in_place) {
        *w = pt_weight_wrap(wt, rows, cols, t->data);
        return PT_OK;
    }
    /* float32 copy (norms stored in half precision, float64, unaligned data) */
    if ((s = pt_weight_alloc(w, PT_WT_F32, rows, cols))) return s;
    if ((s = pt_st_to_f32(t, w->owned))) {
        pt_weight_free(w);
        return pt_fail_ctx(s, "%s: %s", path, name);
    }
    return PT_OK;
}

static pt_status load_one(pt_model *m, const st_set *set, const pt_tensor_desc *d, int layer,
                          int *missing_head, const char *dir) {
    const pt_model_config *c = &m->cfg;
    if (!d->hf) return PT_OK;
    char full[320];
    const pt_st_file *file = NULL;
    const pt_st_tensor *t = find_tensor(set, m->fam, d->hf, layer, full, sizeof full, &file);
    if (!t) {
        if ((d->flags & PT_T_HEAD) && !*missing_head) {
            *missing_head = 1;
            snprintf(m->missing, sizeof m->missing, "%s", full);
        }
        if (d->flags & (PT_T_OPTIONAL | PT_T_HEAD)) return PT_OK;
        return pt_fail(PT_ERR_FORMAT, "%s: missing tensor \"%s\"", dir, full);
    }
    int64_t rows = pt_dim_value(c, d->rows), cols = pt_dim_value(c, d->cols);
    int ok;
    if (d->rows == PT_D_1)
        ok = t->ndim == 1 && t->shape[0] == cols;
    else if (d->flags & PT_T_CONV1D)
        ok = t->ndim == 2 && t->shape[0] == cols && t->shape[1] == rows;
    else
        ok = t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols;
    if (!ok) {
        char got[96] = "";
        size_t o = 0;
        for (int i = 0; i < t->ndim && o < sizeof got; i++)
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%lld", i ? ", " : "",
                                  (long long)t->shape[i]);
        if (d->rows == PT_D_1)
            return pt_fail(PT_ERR_MISMATCH, "%s: tensor \"%s\" has shape [%s], expected [%lld]",
                           dir, full, got, (long long)cols);
        int conv = (d->flags & PT_T_CONV1D) != 0;
        return pt_fail(PT_ERR_MISMATCH, "%s: tensor \"%s\" has shape [%s], expected [%lld, %lld]",
                       dir, full, got, (long long)(conv ? cols : rows),
                       (long long)(conv ? rows : cols));
    }
    pt_weight *w = pt_desc_weight(m, d, layer);
    return weight_from_st(w, file, t, d, (int)rows, (int)cols, dir, full);
}

/* Directory of config.json for a model path ("x/model.safetensors" -> "x"). */
static char *dir_of(const char *path) {
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

pt_status pt_hf_family(const char *dir, const pt_family_desc **fam, pt_json_doc *doc) {
    pt_status s = pt_mu_read_config(dir, doc);
    if (s) return s;
    const char *mt = NULL, *a0 = NULL;
    pt_json_get_str(doc->root, "model_type", &mt);
    const pt_json *arch = pt_json_get(doc->root, "architectures");
    if (arch && arch->type == PT_JSON_ARRAY && arch->len > 0 &&
        arch->items[0]->type == PT_JSON_STRING)
        a0 = arch->items[0]->str;
    *fam = pt_family_for_hf(mt, a0);
    if (!*fam && !mt && pt_json_get(doc->root, "n_embd")) *fam = pt_family_get(PT_FAMILY_GPT2);
    if (!*fam) {
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "%s/config.json: unsupported model_type \"%s\" (ptune reads gpt2, bert, "
                    "roberta, llama, mistral, qwen2)",
                    dir, mt ? mt : (a0 ? a0 : "(none)"));
        pt_json_doc_free(doc);
    }
    return s;
}

/* The weights files of dir (or the one named by path). */
static pt_status open_weights(st_set *set, const char *path, const char *dir) {
    if (!pt_is_dir(path)) return st_set_add(set, path);
    char *single = pt_path_join(dir, "model.safetensors");
    char *index = pt_path_join(dir, "model.safetensors.index.json");
    char *pickle = pt_path_join(dir, "pytorch_model.bin");
    pt_status s = PT_OK;
    if (!single || !index || !pickle)
        s = pt_fail(PT_ERR_NOMEM, "out of memory");
    else if (pt_file_exists(single))
        s = st_set_add(set, single);
    else if (pt_file_exists(index))
        s = open_index(set, dir, index);
    else if (pt_file_exists(pickle))
        s = pt_fail(PT_ERR_UNSUPPORTED,
                    "%s has only pytorch_model.bin: ptune does not read PyTorch pickles (loading "
                    "one can run arbitrary code). Convert it to model.safetensors, keeping every "
                    "tensor name (needs the torch and safetensors packages): python3 -c \"import "
                    "torch; from safetensors.torch import save_file; sd = "
                    "torch.load('%s/pytorch_model.bin', map_location='cpu', weights_only=True); "
                    "save_file({k: v.clone().contiguous() for k, v in sd.items()}, "
                    "'%s/model.safetensors', metadata={'format': 'pt'})\"",
                    dir, dir, dir);
    else
        s = pt_fail(PT_ERR_IO,
                    "%s: no model.safetensors or model.safetensors.index.json in the directory",
                    dir);
    free(single);
    free(index);
    free(pickle);
    return s;
}

pt_status pt_load_hf(pt_model **out, const char *path) {
    *out = NULL;
    char *dir = dir_of(path);
    if (!dir) return pt_fail(PT_ERR_NOMEM, "out of memory");
    const pt_family_desc *fam = NULL;
    pt_json_doc doc;
    memset(&doc, 0, sizeof doc);
    st_set set = {0};
    pt_model *m = NULL;
    char cfg_path[1100];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    pt_status s = pt_hf_family(dir, &fam, &doc);
    if (s) goto done;
    pt_config_src src = {doc.root, NULL, cfg_path};
    pt_model_config c;
    if ((s = pt_family_read_config(fam, &c, &src)) || (s = pt_config_check(&c, cfg_path)))
        goto done;
    if ((s = open_weights(&set, path, dir))) goto done;
    if ((s = pt_model_alloc(&m, dir, fam, &c))) goto done;
    int missing_head = 0;
    for (int i = 0; i < fam->n_globals && !s; i++)
        s = load_one(m, &set, &fam->globals[i], -1, &missing_head, dir);
    for (int l = 0; l < c.n_layers && !s; l++)
        for (int i = 0; i < fam->n_layer && !s; i++)
            s = load_one(m, &set, &fam->layer[i], l, &missing_head, dir);
    if (s) goto done;
    if ((s = pt_model_check_head(m, missing_head, dir))) goto done;
    /* the files stay open: the weights point into their mappings */
    if ((s = pt_model_keep_files(m, (void **)set.f, set.n, PT_FILE_ST))) goto done;
    set.n = 0;
    if ((s = pt_model_load_dir_tokenizer(m, dir))) goto done;
    s = pt_model_finish(m);
done:
    pt_json_doc_free(&doc);
    st_set_close(&set);
    free(dir);
    if (s) {
        pt_model_free(m);
        return s;
    }
    *out = m;
    return PT_OK;
}
