/* model_util.c - loading helpers shared by the model families. */
#include "models/model_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/mem.h"
#include "kernels/gemm.h"

pt_status pt_mu_read_config(const char *dir, pt_json_doc *doc) {
    memset(doc, 0, sizeof *doc);
    char *path = pt_path_join(dir, "config.json");
    if (!path) return pt_fail(PT_ERR_NOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    pt_status s = pt_read_file(path, &text, &len);
    if (s == PT_OK) {
        s = pt_json_parse(doc, text, len);
        if (s)
            pt_fail_ctx(s, "%s", path);
        else if (doc->root->type != PT_JSON_OBJECT) {
            pt_json_doc_free(doc);
            s = pt_fail(PT_ERR_FORMAT, "%s: not a JSON object", path);
        }
    }
    free(text);
    free(path);
    return s;
}

pt_status pt_mu_cfg_int(const pt_json *cfg, const char *path, const char *key, int *out) {
    const pt_json *v = pt_json_get(cfg, key);
    if (!v) return pt_fail(PT_ERR_FORMAT, "%s: missing \"%s\"", path, key);
    if (!pt_json_get_int(cfg, key, out))
        return pt_fail(PT_ERR_FORMAT, "%s: \"%s\" must be an integer", path, key);
    return PT_OK;
}

pt_status pt_mu_cfg_float(const pt_json *cfg, const char *path, const char *key, float *out) {
    double d;
    const pt_json *v = pt_json_get(cfg, key);
    if (!v) return pt_fail(PT_ERR_FORMAT, "%s: missing \"%s\"", path, key);
    if (!pt_json_get_num(cfg, key, &d))
        return pt_fail(PT_ERR_FORMAT, "%s: \"%s\" must be a number", path, key);
    *out = (float)d;
    return PT_OK;
}

pt_status pt_mu_cfg_int_any(const pt_json *cfg, const char *path, const char *const *keys,
                            int *out) {
    for (const char *const *k = keys; *k; k++)
        if (pt_json_get(cfg, *k)) return pt_mu_cfg_int(cfg, path, *k, out);
    return pt_fail(PT_ERR_FORMAT, "%s: missing \"%s\"", path, keys[0]);
}

static const pt_st_tensor *find_prefixed(const pt_st_file *f, const char *const *prefixes,
                                         const char *name, char *full, size_t cap) {
    for (const char *const *p = prefixes; *p; p++) {
        snprintf(full, cap, "%s%s", *p, name);
        const pt_st_tensor *t = pt_st_find(f, full);
        if (t) return t;
    }
    return NULL;
}

int pt_mu_has(const pt_st_file *f, const char *const *prefixes, const char *name) {
    char full[512];
    return find_prefixed(f, prefixes, name, full, sizeof full) != NULL;
}

pt_status pt_mu_load(const pt_st_file *f, const char *const *prefixes, const char *name, int ndim,
                     const int64_t *shape, float **out) {
    char full[512];
    *out = NULL;
    if (!find_prefixed(f, prefixes, name, full, sizeof full))
        return pt_fail(PT_ERR_FORMAT, "%s: missing tensor \"%s%s\"", f->path, prefixes[0], name);
    return pt_st_load_f32(f, full, ndim, shape, out);
}

pt_model *pt_mu_model_new(const char *path) {
    pt_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->path = pt_strdup(path);
    if (!m->path) {
        free(m);
        return NULL;
    }
    return m;
}

pt_status pt_mu_to_bf16(float **w, size_t n) {
    uint16_t *h = malloc(n ? n * sizeof *h : 1); // (n) bf16
    if (!h) return pt_fail(PT_ERR_NOMEM, "out of memory converting weights to bf16");
    pt_bf16_from_f32(h, *w, n);
    free(*w);
    *w = (float *)(void *)h;
    return PT_OK;
}
