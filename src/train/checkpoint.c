/* checkpoint.c - saving and resuming the trainer's state (FILE.ckpt).
 *
 * A safetensors file: enc.<tensor> for every encoder tensor, head.params,
 * optim.{enc,head}.{m,v}, best.table, best.head, history.{loss,ev_step,
 * ev_metric,ev_loss}; __metadata__ "ptune.ckpt.*" holds the counters and the
 * settings that must match on resume. Written atomically. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/vec.h"
#include "formats/safetensors.h"
#include "train/dist.h"
#include "train/trainer_internal.h"

/* Settings a resumed run must share with the original. */
static void settings_string(const pt_trainer *tr, char *buf, size_t n) {
    const pt_train_params *p = tr->p;
    snprintf(buf, n,
             "encoder=%s hidden=%d optimizer=%s lr=%.9g wd=%.9g clip=%.9g batch=%d total=%ld "
             "warmup=%ld seed=%" PRIu64 " S=%d d=%d labels=%d head=%s",
             pt_encoder_kind_name(p->encoder), p->hidden, pt_optim_kind_name(p->optimizer),
             (double)p->lr, (double)tr->opt_enc.weight_decay, (double)p->clip, tr->B, tr->total,
             p->warmup, p->seed, tr->S, tr->d, tr->nl,
             tr->t->head == PT_HEAD_LINEAR ? "linear" : "lm");
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
    const pt_eval_result *bd = &tr->best_dev;
    snprintf(val, sizeof val, "%.17g %.17g %.17g %d %d", bd->loss, bd->accuracy, bd->f1, bd->n,
             bd->n_total);
    if (!s) s = pt_st_writer_meta(w, "ptune.ckpt.best_dev", val);
    /* the log holds exactly the lines up to this step: a resume cuts it back here */
    snprintf(val, sizeof val, "%ld %ld", tr->last_log_step, pt_log_size(tr));
    if (!s) s = pt_st_writer_meta(w, "ptune.ckpt.log", val);
    pt_buf in = {0};
    for (int i = 0; i < tr->p->n_inputs && !s; i++) {
        const pt_train_input *x = &tr->p->inputs[i];
        if (x->tracked)
            s = pt_buf_printf(&in, "%s\t%" PRIu64 "\t%016" PRIx64 "\t%s\n", x->role, x->size,
                              x->hash, x->path);
    }
    if (!s && in.n) s = pt_st_writer_meta(w, "ptune.ckpt.inputs", in.v);
    pt_buf_free(&in);
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

/* The tracked inputs against the checkpoint's record (meta may be NULL). */
static pt_status check_inputs(const pt_train_params *p, const char *meta, const char *path) {
    for (int i = 0; i < p->n_inputs && meta; i++) {
        const pt_train_input *x = &p->inputs[i];
        if (!x->tracked) continue;
        size_t rl = strlen(x->role);
        for (const char *l = meta; *l;) {
            const char *nl = strchr(l, '\n');
            size_t len = nl ? (size_t)(nl - l) : strlen(l);
            uint64_t size, hash;
            if (len > rl && !strncmp(l, x->role, rl) && l[rl] == '\t' &&
                sscanf(l + rl + 1, "%" SCNu64 "\t%" SCNx64, &size, &hash) == 2 &&
                (size != x->size || hash != x->hash)) {
                const char *was = l + rl + 1;
                for (int tabs = 0; *was && tabs < 2; was++) tabs += *was == '\t';
                return pt_fail(PT_ERR_MISMATCH,
                               "%s %s changed since the checkpoint %s was written (then %" PRIu64
                               " bytes, hash %016" PRIx64 ", as %.*s; now %" PRIu64
                               " bytes, hash %016" PRIx64 "): restore it, start a new run, or "
                               "resume with --accept-changed-data",
                               x->role, x->path, path, size, hash, (int)(len - (size_t)(was - l)),
                               was, x->size, x->hash);
            }
            l += len + (nl != NULL);
        }
    }
    return PT_OK;
}

pt_status pt_train_check_inputs(const pt_train_params *p, const char *path) {
    pt_st_file f;
    pt_status s = pt_st_open(&f, path);
    if (s) return s;
    s = check_inputs(p, pt_st_meta(&f, "ptune.ckpt.inputs"), path);
    pt_st_close(&f);
    return s;
}

/* Cut the metrics log back to the bytes it had at the checkpoint. */
static pt_status cut_log(const pt_trainer *tr, long bytes) {
    const char *log = tr->p->log;
    if (pt_dist_rank() != 0) return PT_OK; /* rank 0 alone writes the log */
    if (!log || bytes < 0 || pt_log_size(tr) <= bytes) return PT_OK;
    if (truncate(log, (off_t)bytes) != 0)
        return pt_fail(PT_ERR_IO, "--log %s: cannot cut back to the checkpoint's %ld bytes: %s",
                       log, bytes, strerror(errno));
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
        tr->step < 0 || tr->step > tr->total) {
        s = pt_fail(PT_ERR_FORMAT, "%s: bad checkpoint counters", path);
        goto done;
    }
    /* written since issue 12; older checkpoints lack them */
    const char *bd = pt_st_meta(&f, "ptune.ckpt.best_dev");
    const char *lg = pt_st_meta(&f, "ptune.ckpt.log");
    pt_eval_result *b = &tr->best_dev;
    if (bd &&
        sscanf(bd, "%lg %lg %lg %d %d", &b->loss, &b->accuracy, &b->f1, &b->n, &b->n_total) != 5) {
        s = pt_fail(PT_ERR_FORMAT, "%s: bad ptune.ckpt.best_dev", path);
        goto done;
    }
    if (!bd && tr->best >= 0) b->accuracy = tr->best;
    long log_step = tr->step, log_bytes = -1;
    if (lg && (sscanf(lg, "%ld %ld", &log_step, &log_bytes) != 2 || log_step < 0 ||
               log_step > tr->step)) {
        s = pt_fail(PT_ERR_FORMAT, "%s: bad ptune.ckpt.log", path);
        goto done;
    }
    tr->last_log_step = log_step;
    if (!tr->p->accept_changed_inputs &&
        (s = check_inputs(tr->p, pt_st_meta(&f, "ptune.ckpt.inputs"), path)))
        goto done;
    if ((s = cut_log(tr, log_bytes))) goto done;
    tr->have_ckpt = 1;
done:
    pt_st_close(&f);
    return s;
}
