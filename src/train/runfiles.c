/* runfiles.c - the files a training run writes: checked against its inputs
 * and each other, checked creatable, locked; and the metrics log. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/io.h"
#include "train/trainer_internal.h"

typedef struct named {
    const char *role, *path;
} named;

static char *ckpt_name(const char *out) {
    size_t n = strlen(out) + 6;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.ckpt", out);
    return p;
}

/* The log is appended to, not replaced: it must be a regular file (or
 * absent) in a directory we can write. */
static pt_status log_check(const char *path) {
    struct stat st;
    int existed = stat(path, &st) == 0;
    if (existed && S_ISDIR(st.st_mode))
        return pt_fail(PT_ERR_IO, "--log %s: is a directory (give a file name)", path);
    if (existed && !S_ISREG(st.st_mode))
        return pt_fail(PT_ERR_IO, "--log %s: not a regular file", path);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return pt_fail(PT_ERR_IO, "--log %s: cannot write: %s", path, strerror(errno));
    close(fd);
    if (!existed) unlink(path);
    return PT_OK;
}

/* The files a model directory's loader may read. */
static const char *const MODEL_FILES[] = {"config.json",     "model.safetensors",
                                          "tokenizer.json",  "tokenizer_config.json",
                                          "vocab.json",      "merges.txt",
                                          "vocab.txt",       "special_tokens_map.json",
                                          "tokenizer.model", "generation_config.json"};

/* out is the input file, or (an input that is a model directory) one of the
 * files in it that loading reads. */
static int same_as_input(const char *out, const char *in) {
    if (pt_same_file(out, in)) return 1;
    if (!pt_is_dir(in)) return 0;
    int same = 0;
    for (size_t i = 0; i < sizeof MODEL_FILES / sizeof MODEL_FILES[0] && !same; i++) {
        char *f = pt_path_join(in, MODEL_FILES[i]);
        same = f && pt_same_file(out, f);
        free(f);
    }
    return same;
}

pt_status pt_train_outputs(const pt_train_params *p, pt_lock *lock) {
    if (!p->out) return pt_fail(PT_ERR_ARG, "an output prompt file (--out) is required");
    char *ckpt = ckpt_name(p->out);
    if (!ckpt) return pt_fail(PT_ERR_NOMEM, "out of memory");
    named outs[4] = {
        {"--out", p->out}, {"its checkpoint", ckpt}, {"--log", p->log}, {"--plot", p->plot}};
    pt_status s = PT_OK;
    for (int i = 0; i < 4 && !s; i++) {
        if (!outs[i].path) continue;
        for (int j = 0; j < i && !s; j++)
            if (outs[j].path && pt_same_file(outs[i].path, outs[j].path))
                s = pt_fail(PT_ERR_ARG,
                            "%s %s and %s %s are the same file: give them different names",
                            outs[j].role, outs[j].path, outs[i].role, outs[i].path);
        for (int k = 0; k < p->n_inputs && !s; k++)
            if (same_as_input(outs[i].path, p->inputs[k].path))
                s = pt_fail(PT_ERR_ARG,
                            "%s %s is the same file as %s %s: ptune never writes over an input; "
                            "choose another name",
                            outs[i].role, outs[i].path, p->inputs[k].role, p->inputs[k].path);
        /* a resumed run reads its checkpoint and writes it again: that one is allowed */
        if (!s && p->resume && i != 1 && pt_same_file(outs[i].path, p->resume))
            s = pt_fail(PT_ERR_ARG,
                        "%s %s is the same file as --resume %s: ptune never writes over an "
                        "input; choose another name",
                        outs[i].role, outs[i].path, p->resume);
    }
    pt_lock own = {-1, NULL};
    pt_lock *lk = lock ? lock : &own;
    /* creatable first (its error names the output, not the lock file), then ours */
    if (!s && (s = pt_output_check(p->out))) pt_fail_ctx(s, "--out");
    if (!s && (s = pt_output_check(ckpt))) pt_fail_ctx(s, "--out's checkpoint");
    if (!s && p->plot && (s = pt_output_check(p->plot))) pt_fail_ctx(s, "--plot");
    if (!s && p->log) s = log_check(p->log);
    if (!s) s = pt_lock_acquire(lk, p->out);
    if (!s && lock) { /* ours now: what a killed run left behind can go */
        pt_clean_stale_temps(p->out);
        pt_clean_stale_temps(ckpt);
        if (p->plot) pt_clean_stale_temps(p->plot);
    }
    if (s && lock) pt_lock_release(lk);
    if (!lock) pt_lock_release(&own);
    free(ckpt);
    return s;
}

pt_status pt_train_check_outputs(const pt_train_params *p) {
    return pt_train_outputs(p, NULL);
}

pt_status pt_log_start(const pt_trainer *tr) {
    const char *path = tr->p->log;
    if (!path || tr->rank != 0) return PT_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return pt_fail(PT_ERR_IO, "--log %s: cannot write: %s", path, strerror(errno));
    close(fd);
    return PT_OK;
}

long pt_log_size(const pt_trainer *tr) {
    struct stat st;
    if (!tr->p->log || stat(tr->p->log, &st) != 0) return 0;
    return (long)st.st_size;
}

pt_status pt_log_line(pt_trainer *tr, const pt_eval_result *ev) {
    const pt_train_params *p = tr->p;
    long from = tr->last_log_step, to = tr->step;
    tr->last_log_step = to;
    if (!p->log || tr->rank != 0) return PT_OK; /* rank 0 alone writes the log */
    double sum = 0;
    for (long i = from; i < to && i < (long)tr->losses.n; i++) sum += tr->losses.v[i];
    double train_loss = to > from ? sum / (double)(to - from) : 0;
    float lr = pt_lr_at(p->lr, to - 1, p->warmup, tr->total);
    char line[512];
    int n =
        snprintf(line, sizeof line, "{\"step\":%ld,\"epoch\":%ld,\"train_loss\":%.6f,\"lr\":%.6g",
                 to, to / tr->spe, train_loss, (double)lr);
    if (ev) {
        n += snprintf(line + n, sizeof line - n, ",\"dev_loss\":%.6f,\"dev_accuracy\":%.6f",
                      ev->loss, ev->accuracy);
        if (tr->t->kind == PT_TASK_CLASSIFY)
            n += snprintf(line + n, sizeof line - n, ",\"dev_f1\":%.6f", ev->f1);
        else
            n += snprintf(line + n, sizeof line - n, ",\"dev_p_at_1\":%.6f", ev->accuracy);
        n += snprintf(line + n, sizeof line - n, ",\"dev_examples\":%d", ev->n);
    }
    snprintf(line + n, sizeof line - n, "}\n");
    FILE *f = fopen(p->log, "a");
    if (!f) return pt_fail(PT_ERR_IO, "--log %s: cannot append: %s", p->log, strerror(errno));
    fputs(line, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return pt_fail(PT_ERR_IO, "--log %s: write failed: %s", p->log, strerror(errno));
    return PT_OK;
}
