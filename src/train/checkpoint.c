/* checkpoint.c - saving and resuming the trainer's state (FILE.ckpt).
 *
 * A safetensors file: enc.<tensor> for every encoder tensor, head.params,
 * optim.{enc,head}.{m,v}, best.table, best.head, history.{loss,ev_step,
 * ev_metric,ev_loss}; __metadata__ "ptune.ckpt.*" holds the counters and the
 * settings that must match on resume. Written atomically. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "formats/safetensors.h"
#include "train/trainer_internal.h"

/* Settings a resumed run must share with the original. */
static void settings_string(const pt_trainer *tr, char *buf, size_t n) {
    const pt_train_params *p = tr->p;
    snprintf(buf, n,
             "encoder=%s hidden=%d optimizer=%s lr=%.9g wd=%.9g clip=%.9g batch=%d total=%ld "
             "warmup=%ld seed=%" PRIu64 " S=%d d=%d labels=%d head=%s",
             pt_encoder_kind_name(p->encoder), p->hidden, pt_optim_kind_name(p->optimizer),
             (double)p->lr, (double)p->weight_decay, (double)p->clip, tr->eng.Bmax, tr->total,
             p->warmup, p->seed, tr->S, tr->d, tr->nl, tr->t->head == PT_HEAD_LINEAR ? "linear" : "lm");
}

static pt_status add_flat(pt_st_writer *w, const char *name, const float *data, size_t n) {
    int64_t sh[1] = {(int64_t)n};
    if (n == 0) return PT_OK;
    return pt_st_writer_add_f32(w, name, 1, sh, data);
}

pt_status pt_ckpt_save(const pt_trainer *tr, const char *path) {
    pt_st_writer *w = pt_st_writer_new();
    if (!w) return pt_fail(PT_ERR_NOMEM, "out of memory");
    pt_status s = PT_OK;
    char name[80], val[512];
    for (int i = 0; i < tr->enc.n_tensors && !s; i++) {
        const pt_enc_tensor *t = &tr->enc.tensors[i];
        snprintf(name, sizeof name, "enc.%s", t->name);
        s = pt_st_writer_add_f32(w, name, t->ndim, t->shape, tr->enc.params + t->offset);
    }
    const pt_optim *oe = &tr->opt_enc, *oh = &tr->opt_head;
    if (!s) s = add_flat(w, "head.params", tr->head, tr->n_head);
    if (!s && oe->m) s = add_flat(w, "optim.enc.m", oe->m, oe->n);
    if (!s && oe->v) s = add_flat(w, "optim.enc.v", oe->v, oe->n);
    if (!s && oh->m) s = add_flat(w, "optim.head.m", oh->m, oh->n);
    if (!s && oh->v) s = add_flat(w, "optim.head.v", oh->v, oh->n);
    if (!s) s = add_flat(w, "best.table", tr->best_table, (size_t)tr->S * tr->d);
    if (!s) s = add_flat(w, "best.head", tr->best_head, tr->n_head);
    if (!s) s = add_flat(w, "history.loss", tr->losses.v, tr->losses.n);
    if (!s) s = add_flat(w, "history.ev_step", tr->ev_step.v, tr->ev_step.n);
    if (!s) s = add_flat(w, "history.ev_metric", tr->ev_metric.v, tr->ev_metric.n);
    if (!s) s = add_flat(w, "history.ev_loss", tr->ev_loss.v, tr->ev_loss.n);
    snprintf(val, sizeof val, "%ld", tr->step);
    if (!s) s = pt_st_writer_meta(w, "ptune.ckpt.step", val);
    snprintf(val, sizeof val, "%ld %ld", oe->t, oh->t);
    if (!s) s = pt_st_writer_meta(w, "ptune.ckpt.optim_t", val);
    snprintf(val, sizeof val, "%.17g %ld %d", tr->best, tr->best_step, tr->bad_evals);
    if (!s) s = pt_st_writer_meta(w, "ptune.ckpt.best", val);
    settings_string(tr, val, sizeof val);
    if (!s) s = pt_st_writer_meta(w, "ptune.ckpt.settings", val);
    if (!s) s = pt_st_writer_meta(w, "ptune.template", tr->t->tmpl.source);
    if (!s && tr->p->argv_json) s = pt_st_writer_meta(w, "ptune.ckpt.argv", tr->p->argv_json);
    if (!s) s = pt_st_writer_save(w, path);
    pt_st_writer_free(w);
    return s;
}

/* Copy a flat tensor of exactly n floats into dst. */
static pt_status get_flat(const pt_st_file *f, const char *name, float *dst, size_t n) {
    if (n == 0) return PT_OK;
    int64_t sh[1] = {(int64_t)n};
    float *tmp;
    pt_status s = pt_st_load_f32(f, name, 1, sh, &tmp);
    if (s) return s;
    memcpy(dst, tmp, n * sizeof(float));
    free(tmp);
    return PT_OK;
}

static pt_status get_history(const pt_st_file *f, const char *name, pt_fvec *v) {
    const pt_st_tensor *t = pt_st_find(f, name);
    v->n = 0;
    if (!t) return PT_OK;
    if (t->dtype != PT_DTYPE_F32 || t->ndim != 1)
        return pt_fail(PT_ERR_FORMAT, "%s: bad tensor %s", f->path, name);
    const float *src = (const float *)t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        float x;
        memcpy(&x, src + i, sizeof x);
        pt_status s = pt_fvec_push(v, x);
        if (s) return s;
    }
    return PT_OK;
}

pt_status pt_ckpt_load(pt_trainer *tr, const char *path) {
    pt_st_file f;
    pt_status s = pt_st_open(&f, path);
    if (s) return s;
    char want[512];
    settings_string(tr, want, sizeof want);
    const char *have = pt_st_meta(&f, "ptune.ckpt.settings");
    const char *tmpl = pt_st_meta(&f, "ptune.template");
    const char *step = pt_st_meta(&f, "ptune.ckpt.step");
    const char *ot = pt_st_meta(&f, "ptune.ckpt.optim_t");
    const char *best = pt_st_meta(&f, "ptune.ckpt.best");
    if (!have || !tmpl || !step || !ot || !best) {
        s = pt_fail(PT_ERR_FORMAT, "%s: not a ptune checkpoint", path);
        goto done;
    }
    if (strcmp(have, want) || strcmp(tmpl, tr->t->tmpl.source)) {
        s = pt_fail(PT_ERR_MISMATCH,
                    "%s: the checkpoint was made with other settings; resume with the same "
                    "options.\n  checkpoint: %s | %s\n  now:        %s | %s",
                    path, have, tmpl, want, tr->t->tmpl.source);
        goto done;
    }
    for (int i = 0; i < tr->enc.n_tensors && !s; i++) {
        const pt_enc_tensor *t = &tr->enc.tensors[i];
        char name[80];
        snprintf(name, sizeof name, "enc.%s", t->name);
        float *tmp;
        s = pt_st_load_f32(&f, name, t->ndim, t->shape, &tmp);
        if (!s) {
            memcpy(tr->enc.params + t->offset, tmp, t->numel * sizeof(float));
            free(tmp);
        }
    }
    pt_optim *oe = &tr->opt_enc, *oh = &tr->opt_head;
    if (!s) s = get_flat(&f, "head.params", tr->head, tr->n_head);
    if (!s && oe->m) s = get_flat(&f, "optim.enc.m", oe->m, oe->n);
    if (!s && oe->v) s = get_flat(&f, "optim.enc.v", oe->v, oe->n);
    if (!s && oh->m) s = get_flat(&f, "optim.head.m", oh->m, oh->n);
    if (!s && oh->v) s = get_flat(&f, "optim.head.v", oh->v, oh->n);
    if (!s) s = get_flat(&f, "best.table", tr->best_table, (size_t)tr->S * tr->d);
    if (!s) s = get_flat(&f, "best.head", tr->best_head, tr->n_head);
    if (!s) s = get_history(&f, "history.loss", &tr->losses);
    if (!s) s = get_history(&f, "history.ev_step", &tr->ev_step);
    if (!s) s = get_history(&f, "history.ev_metric", &tr->ev_metric);
    if (!s) s = get_history(&f, "history.ev_loss", &tr->ev_loss);
    if (s) goto done;
    if (sscanf(step, "%ld", &tr->step) != 1 || sscanf(ot, "%ld %ld", &oe->t, &oh->t) != 2 ||
        sscanf(best, "%lg %ld %d", &tr->best, &tr->best_step, &tr->bad_evals) != 3 ||
        tr->step < 0 || tr->step > tr->total)
        s = pt_fail(PT_ERR_FORMAT, "%s: bad checkpoint counters", path);
done:
    pt_st_close(&f);
    return s;
}
