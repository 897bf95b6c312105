/* diagnose.c - see diagnose.h. */
#include "diagnose.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "core/error.h"
#include "core/io.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Index of the first value of x (n) that is not finite, -1 if none. */
static long long first_bad(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long long)i;
    return -1;
}

static int scan_st(const char *path, char *out, size_t cap) {
    pt_st_file f;
    if (pt_st_open(&f, path)) return 0;
    int found = 0;
    for (int i = 0; i < f.n_tensors && !found; i++) {
        const pt_st_tensor *t = &f.tensors[i];
        if (t->dtype != PT_DTYPE_F32 && t->dtype != PT_DTYPE_F16 && t->dtype != PT_DTYPE_BF16 &&
            t->dtype != PT_DTYPE_F64)
            continue;
        float *x = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
        if (!x) break;
        long long k = -1;
        if (!pt_st_to_f32(t, x)) k = first_bad(x, (size_t)t->numel);
        if (k >= 0) {
            snprintf(out, cap, "%s[%lld] = %g in %s", t->name, k, (double)x[k], path);
            found = 1;
        }
        free(x);
    }
    pt_st_close(&f);
    return found;
}

static int scan_gguf(const char *path, char *out, size_t cap) {
    pt_gguf g;
    if (pt_gguf_open(&g, path)) return 0;
    int found = 0;
    for (int64_t i = 0; i < g.n_tensors && !found; i++) {
        const pt_gguf_tensor *t = &g.tensors[i];
        size_t n = 1;
        for (int d = 0; d < t->n_dims; d++) n *= (size_t)t->ne[d];
        float *x = malloc(sizeof(float) * (n ? n : 1));
        if (!x) break;
        long long k = -1;
        if (!pt_gguf_tensor_to_f32(t, x)) k = first_bad(x, n); /* other types: skipped */
        if (k >= 0) {
            snprintf(out, cap, "%s[%lld] = %g in %s", t->name, k, (double)x[k], path);
            found = 1;
        }
        free(x);
    }
    pt_gguf_close(&g);
    return found;
}

int first_nonfinite_weight(const char *model_path, char *out, size_t cap) {
    int found;
    if (ends_with(model_path, ".gguf")) {
        found = scan_gguf(model_path, out, cap);
    } else if (pt_is_dir(model_path)) {
        char *st = pt_path_join(model_path, "model.safetensors");
        found = st && scan_st(st, out, cap);
        free(st);
    } else {
        found = scan_st(model_path, out, cap);
    }
    pt_clear_error();
    return found;
}

int die_nonfinite(const char *cmd, const char *model_path, const char *what_in) {
    char where[512], what[1024];
    snprintf(what, sizeof what, "%s", what_in); /* may be pt_last_error(), which the scan clears */
    if (model_path && first_nonfinite_weight(model_path, where, sizeof where))
        return die(cmd, "%s; the first non-finite tensor of the model is %s", what, where);
    return die(cmd, "%s; the model's weights are all finite: the values overflowed", what);
}
