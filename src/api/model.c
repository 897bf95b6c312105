/* model.c - pt_model_load_ex and its options (include/ptune.h). */
#include <string.h>

#include "core/error.h"
#include "models/model.h"
#include "ptune.h"

void pt_model_options_default(pt_model_options *o) {
    memset(o, 0, sizeof *o);
    o->precision = "f32";
}

pt_status pt_model_load_ex(pt_model **out, const char *path, const pt_model_options *o) {
    *out = NULL;
    const char *prec = o && o->precision ? o->precision : "f32";
    int bf16 = !strcmp(prec, "bf16");
    if (!bf16 && strcmp(prec, "f32") && strcmp(prec, "fp32"))
        return pt_fail(PT_ERR_ARG, "precision must be f32 or bf16, not \"%s\"", prec);
    /* bf16: as stored, then straight to bf16 (no float32 copy of a bf16 or
     * f16 file on the way); f32: converted to float32 while loading */
    pt_status s = bf16 ? pt_model_open(out, path) : pt_model_load(out, path);
    if (s) return s;
    if ((s = pt_model_set_precision(*out, bf16))) {
        pt_model_free(*out);
        *out = NULL;
    }
    return s;
}
