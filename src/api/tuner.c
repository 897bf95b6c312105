/* tuner.c - the public pt_tuner API (include/ptune.h) over the internal layers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/mem.h"
#include "core/vec.h"
#include "core/io.h"
#include "prompt/encoder.h"
#include "prompt/peft.h"
#include "prompt/promptfile.h"
#include "prompt/task.h"
#include "train/dataset.h"
#include "train/engine.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/trainer.h"

struct pt_tuner {
    pt_model *m;
    pt_task task;
    pt_prompt prompt; /* table and head once trained or loaded */
    int have_prompt;
    pt_engine pe; /* pt_tuner_predict's engine, kept across calls (pe_T > 0: built) */
    int pe_T;     /* the longest example pe takes */
};

/* The prompt changed: predict's engine (deep or not, its rows) is built anew. */
static void drop_engine(pt_tuner *t) {
    if (t->pe_T) pt_engine_free(&t->pe);
    t->pe_T = 0;
}

/* A call's threads option: set for the calling thread, restored by
 * threads_restore (0: leave OMP_NUM_THREADS / the runtime's choice). */
static int threads_set(int n) {
#ifdef _OPENMP
    if (n > 0) {
        int was = omp_get_max_threads();
        omp_set_num_threads(n);
        return was;
    }
#else
    (void)n;
#endif
    return 0;
}

static void threads_restore(int was) {
#ifdef _OPENMP
    if (was > 0) omp_set_num_threads(was);
#else
    (void)was;
#endif
}

void pt_train_options_default(pt_train_options *o) {
    pt_train_params p;
    pt_train_default_params(&p);
    memset(o, 0, sizeof *o);
    o->encoder = "lstm";
    o->optimizer = "adamw";
    o->lr = p.lr;
    o->weight_decay = p.weight_decay;
    o->clip = p.clip;
    o->batch = p.batch;
    o->epochs = p.epochs;
    o->seed = p.seed;
    o->threads = 0;
    o->init = NULL;
    o->max_len = p.max_len;
}

void pt_eval_options_default(pt_eval_options *o) {
    memset(o, 0, sizeof *o);
    o->batch = 16;
}

pt_status pt_tuner_new(pt_tuner **out, pt_model *m, const pt_task_options *o) {
    *out = NULL;
    pt_tuner *t = calloc(1, sizeof *t);
    if (!t) return pt_fail(PT_ERR_NOMEM, "out of memory");
    if (!o || !o->template_text) {
        free(t);
        return pt_fail(PT_ERR_ARG, "pt_tuner_new: a template is required");
    }
    pt_status s = pt_task_init(
        &t->task, m, o->template_text, o->knowledge ? PT_TASK_KNOWLEDGE : PT_TASK_CLASSIFY,
        o->linear_head ? PT_HEAD_LINEAR : PT_HEAD_LM, o->labels, o->label_field);
    if (s) {
        free(t);
        return s;
    }
    if (o->vocab_filter && (s = pt_task_load_vocab_filter(&t->task, m, o->vocab_filter))) {
        pt_task_free(&t->task);
        free(t);
        return s;
    }
    t->m = m;
    *out = t;
    return PT_OK;
}

static pt_status load_with(pt_tuner **out, pt_model *m, const char *path,
                           const pt_prompt_overrides *o) {
    *out = NULL;
    pt_tuner *t = calloc(1, sizeof *t);
    if (!t) return pt_fail(PT_ERR_NOMEM, "out of memory");
    int warn;
    pt_status s = pt_prompt_load_ex(&t->prompt, path, o);
    if (s) {
        free(t);
        return s;
    }
    t->have_prompt = 1;
    t->m = m;
    if (t->prompt.peft == 2 && t->prompt.task == PT_TASK_CLASSIFY && !t->prompt.labels_spec) {
        s = pt_fail(PT_ERR_ARG,
                    "%s: this PEFT adapter does not carry its labels: give them "
                    "(pt_tuner_load_adapter with task->labels)",
                    path);
        pt_prompt_free(&t->prompt);
        free(t);
        return s;
    }
    if ((s = pt_prompt_check_model(&t->prompt, m, &warn)) ||
        (s = pt_task_init(&t->task, m, t->prompt.template_src, t->prompt.task, t->prompt.head,
                          t->prompt.labels_spec, t->prompt.label_field))) {
        pt_prompt_free(&t->prompt);
        free(t);
        return s;
    }
    if (t->task.tmpl.n_virtual != t->prompt.S) {
        s = pt_fail(PT_ERR_FORMAT,
                    "%s: table rows (%d) differ from the template's virtual "
                    "tokens (%d)",
                    path, t->prompt.S, t->task.tmpl.n_virtual);
        pt_tuner_free(t);
        return s;
    }
    *out = t;
    return PT_OK;
}

pt_status pt_tuner_load(pt_tuner **out, pt_model *m, const char *path) {
    return load_with(out, m, path, NULL);
}

pt_status pt_tuner_load_adapter(pt_tuner **out, pt_model *m, const char *dir,
                                const pt_task_options *task) {
    *out = NULL;
    if (!pt_is_dir(dir))
        return pt_fail(PT_ERR_ARG, "%s: not a directory (a PEFT adapter is a directory)", dir);
    if (task && task->linear_head)
        return pt_fail(PT_ERR_ARG, "%s: a PEFT prompt adapter has no linear head", dir);
    pt_prompt_overrides o = {0};
    if (task) {
        o.template_text = task->template_text;
        o.labels = task->labels;
        o.label_field = task->label_field;
        o.knowledge = task->knowledge;
    }
    pt_status s = load_with(out, m, dir, &o);
    if (!s && task && task->vocab_filter &&
        (s = pt_task_load_vocab_filter(&(*out)->task, m, task->vocab_filter))) {
        pt_tuner_free(*out);
        *out = NULL;
    }
    return s;
}

pt_status pt_tuner_set_vocab_filter(pt_tuner *t, const char *path) {
    if (t->task.kind != PT_TASK_KNOWLEDGE)
        return pt_fail(PT_ERR_ARG, "a vocabulary filter is for knowledge probing; this tuner "
                                   "classifies");
    if (!path) {
        free(t->task.vocab_filter);
        t->task.vocab_filter = NULL;
        t->task.n_filter = 0;
        return PT_OK;
    }
    return pt_task_load_vocab_filter(&t->task, t->m, path);
}

pt_status pt_tuner_export_peft(const pt_tuner *t, const char *dir) {
    if (!t->have_prompt)
        return pt_fail(PT_ERR_ARG, "the tuner has no trained prompt yet (train or load one)");
    return pt_peft_export(&t->prompt, t->m, dir);
}

typedef struct relay {
    const pt_train_options *o;
    volatile sig_atomic_t cancel; /* set when the callback returns true; the trainer's stop flag */
} relay;

static void relay_progress(const pt_progress *p, void *user) {
    relay *rl = user;
    if (p->starting) return; /* the public reports are per step */
    pt_train_report r = {p->step,      p->total_steps,    p->epoch,        p->loss_avg,
                         p->evaluated, p->dev.loss,       p->dev.accuracy, p->dev.f1,
                         p->best,      p->examples_per_s, p->eta_s};
    if (rl->o->progress(&r, rl->o->user)) rl->cancel = 1;
}

pt_status pt_tuner_train(pt_tuner *t, const char *train_path, const char *dev_path,
                         const pt_train_options *o) {
    pt_train_params p;
    pt_train_default_params(&p);
    if (!pt_encoder_kind_parse(o->encoder ? o->encoder : "lstm", &p.encoder))
        return pt_fail(PT_ERR_ARG, "unknown encoder \"%s\"", o->encoder);
    if (!pt_optim_kind_parse(o->optimizer ? o->optimizer : "adamw", &p.optimizer))
        return pt_fail(PT_ERR_ARG, "unknown optimizer \"%s\"", o->optimizer);
    p.hidden = o->hidden, p.lr = o->lr, p.weight_decay = o->weight_decay, p.clip = o->clip;
    p.batch = o->batch, p.epochs = o->epochs, p.steps = o->steps, p.warmup = o->warmup;
    p.seed = o->seed, p.eval_every = o->eval_every, p.patience = o->patience;
    p.out = o->out, p.resume = o->resume, p.log = o->log, p.plot = o->plot;
    if (o->max_len < 0) return pt_fail(PT_ERR_ARG, "max_len %d: must be >= 0", o->max_len);
    if (o->threads < 0) return pt_fail(PT_ERR_ARG, "threads %d: must be >= 0", o->threads);
    p.max_len = o->max_len;
    if (o->init && !strcmp(o->init, "vocab"))
        p.init = PT_INIT_VOCAB;
    else if (o->init && !strncmp(o->init, "words:", 6))
        p.init = PT_INIT_WORDS, p.init_arg = o->init + 6;
    else if (o->init)
        p.init = PT_INIT_FILE, p.init_arg = o->init;
    relay rl = {o, 0};
    if (o->progress) p.progress = relay_progress, p.user = &rl, p.stop = &rl.cancel;
    pt_dataset dtr, ddev;
    pt_examples etr, edev;
    int have_dev = 0;
    pt_status s = pt_train_check_params(&p);
    if (s) return s;
    int threads_was = threads_set(o->threads);
    if ((s = pt_dataset_load(&dtr, train_path))) goto out;
    if ((s = pt_examples_build(&etr, &t->task, t->m, &dtr, 1, p.max_len))) goto out_tr;
    if (dev_path) {
        if ((s = pt_dataset_load(&ddev, dev_path))) goto out_etr;
        if ((s = pt_examples_build(&edev, &t->task, t->m, &ddev, 1, p.max_len))) {
            pt_dataset_free(&ddev);
            goto out_etr;
        }
        have_dev = 1;
    }
    /* the data's identity goes into the checkpoint; no output may be an input */
    pt_train_input in[4] = {{"the training data", train_path, 1, dtr.src_size, dtr.src_hash}};
    int n_in = 1;
    if (have_dev)
        in[n_in++] = (pt_train_input){"the dev data", dev_path, 1, ddev.src_size, ddev.src_hash};
    in[n_in++] = (pt_train_input){"the model", t->m->path, 0, 0, 0};
    if (p.init == PT_INIT_FILE) in[n_in++] = (pt_train_input){"init", p.init_arg, 0, 0, 0};
    p.inputs = in, p.n_inputs = n_in;
    pt_train_result res;
    p.recompute = o->recompute ? 1 : -1; /* this run's own: the model is shared, not written */
    s = pt_train(t->m, &t->task, &etr, have_dev ? &edev : NULL, &p, &res);
    if (s == PT_ERR_INTERRUPTED && rl.cancel)
        s = pt_fail(PT_ERR_INTERRUPTED,
                    "training cancelled by the progress callback after step %ld; %s.ckpt "
                    "continues it (resume)",
                    res.steps, o->out);
    if (!s) {
        if (t->have_prompt) pt_prompt_free(&t->prompt);
        t->have_prompt = 0;
        drop_engine(t);
        s = pt_prompt_load(&t->prompt, o->out);
        t->have_prompt = s == PT_OK;
    }
    if (have_dev) {
        pt_examples_free(&edev);
        pt_dataset_free(&ddev);
    }
out_etr:
    pt_examples_free(&etr);
out_tr:
    pt_dataset_free(&dtr);
out:
    threads_restore(threads_was);
    return s;
}

static pt_status need_prompt(const pt_tuner *t) {
    if (!t->have_prompt && t->task.tmpl.n_virtual > 0)
        return pt_fail(PT_ERR_ARG, "the tuner has no trained prompt yet (train or load one)");
    return PT_OK;
}

pt_status pt_tuner_evaluate(pt_tuner *t, const char *data_path, const pt_eval_options *o,
                            pt_eval_metrics *out) {
    pt_eval_options dflt;
    pt_eval_options_default(&dflt);
    if (!o) o = &dflt;
    if (o->batch < 1 || o->batch > 4096)
        return pt_fail(PT_ERR_ARG, "batch %d: must be 1 to 4096", o->batch);
    if (o->max_len < 0) return pt_fail(PT_ERR_ARG, "max_len %d: must be >= 0", o->max_len);
    if (o->threads < 0) return pt_fail(PT_ERR_ARG, "threads %d: must be >= 0", o->threads);
    pt_status s = need_prompt(t);
    if (s) return s;
    pt_dataset d;
    pt_examples ex;
    pt_engine e;
    pt_eval_result r;
    int threads_was = threads_set(o->threads), truncated = 0;
    if ((s = pt_dataset_load(&d, data_path))) goto out;
    if (!(s = pt_examples_build(&ex, &t->task, t->m, &d, 1, o->max_len))) {
        truncated = ex.truncated;
        int B = o->batch < ex.n ? o->batch : ex.n;
        if (!(s = pt_engine_init(&e, t->m, &t->task, B, ex.max_len)) && t->have_prompt &&
            t->prompt.D > 0 && !(s = pt_engine_use_deep(&e, t->prompt.D)))
            e.deep = t->prompt.deep;
        if (!s) {
            s = pt_evaluate(&e, &ex, t->have_prompt ? t->prompt.table : NULL, t->prompt.head_w,
                            t->prompt.head_b, &r, NULL, NULL);
        }
        pt_engine_free(&e); /* zeroed by pt_engine_init even when it fails */
        pt_examples_free(&ex);
    }
    pt_dataset_free(&d);
    if (!s && out) {
        int know = t->task.kind == PT_TASK_KNOWLEDGE;
        out->loss = r.loss;
        out->accuracy = r.accuracy;
        out->f1 = know ? r.accuracy : r.f1;
        out->knowledge = know;
        out->n = r.n;
        out->truncated = truncated;
    }
out:
    threads_restore(threads_was);
    return s;
}

pt_status pt_tuner_eval(pt_tuner *t, const char *data_path, double *loss, double *accuracy) {
    pt_eval_metrics r;
    pt_status s = pt_tuner_evaluate(t, data_path, NULL, &r);
    if (!s) {
        if (loss) *loss = r.loss;
        if (accuracy) *accuracy = r.accuracy;
    }
    return s;
}

/* Render one example given as fields and run predict's engine on it: the
 * scores are left in t->pe.scores (t->pe.ns of them). */
static pt_status run_one(pt_tuner *t, const char *const *fields, const char *const *values,
                         int n_fields) {
    pt_status s = need_prompt(t);
    if (s) return s;
    const pt_template *tm = &t->task.tmpl;
    const char **vals = pt_zalloc((size_t)tm->n_fields + 1, sizeof(char *));
    if (!vals) return pt_fail(PT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < tm->n_fields; i++)
        for (int j = 0; j < n_fields; j++)
            if (!strcmp(tm->fields[i], fields[j])) vals[i] = values[j];
    pt_example ex;
    memset(&ex, 0, sizeof ex);
    ex.target = -1;
    s = pt_template_render(tm, t->m, vals, 0, &ex.r);
    free(vals);
    if (s) return s;
    if (ex.r.n > t->pe_T) { /* (re)built only for a longer example than any before */
        drop_engine(t);
        int T = ex.r.n < 64 ? 64 : ex.r.n;
        int most = t->m->cfg.max_pos - (t->prompt.D > 0 ? t->prompt.D : 0);
        if (T > most) T = ex.r.n;
        if (!(s = pt_engine_init(&t->pe, t->m, &t->task, 1, T)) && t->prompt.D > 0 &&
            !(s = pt_engine_use_deep(&t->pe, t->prompt.D)))
            t->pe.deep = t->prompt.deep;
        if (s)
            pt_engine_free(&t->pe); /* zeroed by pt_engine_init even when it fails */
        else
            t->pe_T = T;
    }
    if (!s) {
        const pt_example *b = &ex;
        double loss;
        s = pt_engine_run(&t->pe, &b, 1, t->prompt.table, t->prompt.head_w, t->prompt.head_b, &loss,
                          NULL, NULL, NULL, NULL);
    }
    pt_rendered_free(&ex.r);
    return s;
}

pt_status pt_tuner_predict(pt_tuner *t, const char *const *fields, const char *const *values,
                           int n_fields, int *label, float *probs) {
    if (t->task.kind != PT_TASK_CLASSIFY)
        return pt_fail(PT_ERR_ARG, "pt_tuner_predict classifies; this task is knowledge probing "
                                   "(pt_tuner_predict_top)");
    pt_status s = run_one(t, fields, values, n_fields);
    if (s) return s;
    const pt_engine *e = &t->pe;
    int n = e->ns;
    *label = pt_predict_index(&t->task, e->scores, n);
    if (probs) {
        double mx = e->scores[*label], z = 0;
        for (int k = 0; k < n; k++) z += exp(e->scores[k] - mx);
        for (int k = 0; k < n; k++) probs[k] = (float)(exp(e->scores[k] - mx) / z);
    }
    return PT_OK;
}

pt_status pt_tuner_predict_top(pt_tuner *t, const char *const *fields, const char *const *values,
                               int n_fields, int k, int *ids, float *probs, int *n_out) {
    if (n_out) *n_out = 0;
    if (t->task.kind != PT_TASK_KNOWLEDGE)
        return pt_fail(PT_ERR_ARG, "pt_tuner_predict_top is for knowledge probing; this tuner "
                                   "classifies (pt_tuner_predict)");
    if (k < 1) return pt_fail(PT_ERR_ARG, "pt_tuner_predict_top: k %d must be >= 1", k);
    pt_status s = run_one(t, fields, values, n_fields);
    if (s) return s;
    const pt_engine *e = &t->pe;
    int n = e->ns;
    double *p = malloc(sizeof(double) * (size_t)n);
    if (!p) return pt_fail(PT_ERR_NOMEM, "out of memory");
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < n; i++) mx = e->scores[i] > mx ? e->scores[i] : mx;
    for (int i = 0; i < n; i++) z += p[i] = exp(e->scores[i] - mx);
    for (int i = 0; i < n; i++) p[i] /= z;
    const pt_task *tk = &t->task;
    int got = 0;
    for (; got < k; got++) { /* by repeated selection: k is small */
        int best = -1;
        int m = tk->vocab_filter ? tk->n_filter : n;
        for (int j = 0; j < m; j++) {
            int i = tk->vocab_filter ? tk->vocab_filter[j] : j;
            if (p[i] >= 0 && (best < 0 || p[i] > p[best])) best = i;
        }
        if (best < 0) break;
        if (ids) ids[got] = best;
        if (probs) probs[got] = (float)p[best];
        p[best] = -1;
    }
    free(p);
    if (n_out) *n_out = got;
    return PT_OK;
}

pt_status pt_tuner_token_text(const pt_tuner *t, int id, char *buf, size_t cap) {
    if (cap == 0) return pt_fail(PT_ERR_ARG, "pt_tuner_token_text: no room");
    buf[0] = 0;
    if (id < 0 || id >= t->m->cfg.vocab_size)
        return pt_fail(PT_ERR_ARG, "pt_tuner_token_text: token %d outside the vocabulary (%d)", id,
                       t->m->cfg.vocab_size);
    pt_buf b = {0};
    pt_status s = pt_tok_decode(t->m->tok, &id, 1, &b);
    if (!s && b.n + 1 > cap)
        s = pt_fail(PT_ERR_ARG, "pt_tuner_token_text: %zu bytes do not fit in %zu", b.n + 1, cap);
    if (!s) {
        if (b.n) memcpy(buf, b.v, b.n);
        buf[b.n] = 0;
    }
    pt_buf_free(&b);
    return s;
}

int pt_tuner_n_labels(const pt_tuner *t) {
    return t->task.n_labels;
}

const char *pt_tuner_label(const pt_tuner *t, int k) {
    return k >= 0 && k < t->task.n_labels ? t->task.label_values[k] : NULL;
}

const float *pt_tuner_prompt(const pt_tuner *t, int *n_virtual, int *width) {
    int have = t->have_prompt && t->prompt.table && t->prompt.S > 0;
    if (n_virtual) *n_virtual = have ? t->prompt.S : 0;
    if (width) *width = have ? t->prompt.d : 0;
    return have ? t->prompt.table : NULL;
}

/* "value:word,..." of a classification task (the prompt file's ptune.labels). */
static char *labels_spec(const pt_task *k) {
    pt_buf b = {0};
    pt_status s = PT_OK;
    for (int i = 0; !s && i < k->n_labels; i++)
        s = pt_buf_printf(&b, "%s%s%s%s", i ? "," : "", k->label_values[i],
                          k->label_words && k->label_words[i] ? ":" : "",
                          k->label_words && k->label_words[i] ? k->label_words[i] : "");
    if (s) pt_buf_free(&b);
    return s ? NULL : b.v;
}

pt_status pt_tuner_set_prompt(pt_tuner *t, const float *table, int n_virtual, int width) {
    int S = t->task.tmpl.n_virtual, C = t->m->cfg.dim;
    if (n_virtual != S || width != C)
        return pt_fail(PT_ERR_ARG,
                       "pt_tuner_set_prompt: a table of (%d, %d) for a template of %d virtual "
                       "tokens and a model of width %d (want (%d, %d))",
                       n_virtual, width, S, C, S, C);
    if (S == 0) return pt_fail(PT_ERR_ARG, "pt_tuner_set_prompt: the template has no [P] tokens");
    if (t->have_prompt && t->prompt.D > 0)
        return pt_fail(PT_ERR_UNSUPPORTED, "pt_tuner_set_prompt: the tuner holds a deep prompt "
                                           "(prefix / ptuning-v2), not an input table");
    if (!t->have_prompt && t->task.head == PT_HEAD_LINEAR)
        return pt_fail(PT_ERR_ARG, "pt_tuner_set_prompt: a linear head needs its weights too: "
                                   "train or load the tuner first");
    for (size_t i = 0; i < (size_t)S * C; i++)
        if (!isfinite(table[i]))
            return pt_fail(PT_ERR_NUMERIC, "pt_tuner_set_prompt: value %zu is not finite (%g)", i,
                           (double)table[i]);
    float *copy = malloc(sizeof(float) * (size_t)S * C);
    if (!copy) return pt_fail(PT_ERR_NOMEM, "out of memory");
    memcpy(copy, table, sizeof(float) * (size_t)S * C);
    if (!t->have_prompt) { /* the tuner's task as a prompt of its own (an embedding table) */
        pt_prompt *p = &t->prompt;
        memset(p, 0, sizeof *p);
        p->template_src = pt_strdup(t->task.tmpl.source);
        p->task = t->task.kind;
        p->head = t->task.head;
        p->labels_spec = t->task.kind == PT_TASK_CLASSIFY ? labels_spec(&t->task) : NULL;
        p->label_field = pt_strdup(t->task.label_field ? t->task.label_field : "label");
        p->encoder = pt_strdup("embedding");
        snprintf(p->method, sizeof p->method, "ptuning");
        p->d = C;
        pt_prompt_set_identity(p, t->m);
        t->have_prompt = 1;
        if (!p->template_src || !p->label_field || !p->encoder ||
            (p->task == PT_TASK_CLASSIFY && !p->labels_spec)) {
            free(copy);
            pt_prompt_free(p);
            t->have_prompt = 0;
            return pt_fail(PT_ERR_NOMEM, "out of memory");
        }
    }
    free(t->prompt.table);
    t->prompt.table = copy;
    t->prompt.S = S;
    drop_engine(t);
    return PT_OK;
}

void pt_tuner_free(pt_tuner *t) {
    if (!t) return;
    drop_engine(t);
    pt_task_free(&t->task);
    if (t->have_prompt) pt_prompt_free(&t->prompt);
    free(t);
}
