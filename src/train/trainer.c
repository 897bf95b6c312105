/* trainer.c - the P-tuning training loop (see trainer.h). */
#include "train/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/mem.h"
#include "prompt/promptfile.h"
#include "train/trainer_internal.h"

void pt_train_default_params(pt_train_params *p) {
    memset(p, 0, sizeof *p);
    p->encoder = PT_ENCODER_LSTM;
    p->init = PT_INIT_DEFAULT;
    p->optimizer = PT_OPTIM_ADAMW;
    p->lr = 1e-3f;
    p->weight_decay = 0.01f;
    p->clip = 1.0f;
    p->batch = 8;
    p->epochs = 3;
    p->seed = 42;
    p->report_every = 10;
    p->cache_mb = -1;
}

pt_status pt_train_check_params(const pt_train_params *p) {
    if (!(p->lr > 0 && p->lr <= 10))
        return pt_fail(PT_ERR_ARG, "--lr %g out of range (0, 10]", (double)p->lr);
    if (!(p->weight_decay >= 0 && p->weight_decay < 1))
        return pt_fail(PT_ERR_ARG, "--weight-decay %g out of range [0, 1)",
                       (double)p->weight_decay);
    if (!(p->clip >= 0 && p->clip < 1e6))
        return pt_fail(PT_ERR_ARG, "--clip %g out of range [0, 1e6)", (double)p->clip);
    if (p->batch < 1 || p->batch > 4096)
        return pt_fail(PT_ERR_ARG, "--batch %d out of range [1, 4096]", p->batch);
    if (p->steps < 0 || p->steps > 100000000L)
        return pt_fail(PT_ERR_ARG, "--steps %ld out of range", p->steps);
    if (!p->steps && (p->epochs < 1 || p->epochs > 100000))
        return pt_fail(PT_ERR_ARG, "--epochs %d out of range [1, 100000]", p->epochs);
    if (p->warmup < 0) return pt_fail(PT_ERR_ARG, "--warmup must be >= 0");
    if (p->eval_every < 0 || p->patience < 0)
        return pt_fail(PT_ERR_ARG, "--eval-every and --patience must be >= 0");
    if (p->encoder == PT_ENCODER_MLP && (p->hidden < 0 || p->hidden > 65536))
        return pt_fail(PT_ERR_ARG, "--hidden %d out of range", p->hidden);
    if (!p->out) return pt_fail(PT_ERR_ARG, "an output prompt file (--out) is required");
    return PT_OK;
}

static void trainer_free(pt_trainer *tr) {
    pt_encoder_free(&tr->enc);
    pt_optim_free(&tr->opt_enc);
    pt_optim_free(&tr->opt_head);
    pt_engine_free(&tr->eng);
    free(tr->table);
    free(tr->dtable);
    free(tr->head);
    free(tr->dhead);
    free(tr->perm);
    free(tr->order_tmp);
    free(tr->best_table);
    free(tr->best_head);
    pt_fvec_free(&tr->losses);
    pt_fvec_free(&tr->ev_step);
    pt_fvec_free(&tr->ev_metric);
    pt_fvec_free(&tr->ev_loss);
}

/* Seed vectors for --init vocab / words / FILE. */
static pt_status init_seeds(pt_trainer *tr, pt_rng *rng) {
    const pt_train_params *p = tr->p;
    const pt_model *m = tr->m;
    int S = tr->S, d = tr->d;
    float *seeds = pt_alloc((size_t)S * d, sizeof(float));
    pt_status s = PT_OK;
    if (!seeds) return pt_fail(PT_ERR_NOMEM, "out of memory");
    if (p->init == PT_INIT_VOCAB) {
        for (int k = 0; k < S && !s; k++) {
            int id = (int)pt_rng_below(rng, (uint64_t)m->cfg.vocab_size);
            s = pt_model_embed(m, seeds + (size_t)k * d, &id, 1);
        }
    } else if (p->init == PT_INIT_WORDS) {
        pt_ivec ids = {0};
        const char *w = p->init_arg ? p->init_arg : "";
        s = pt_tok_encode(m->tok, w, strlen(w), 0, &ids);
        if (!s && ids.n == 0) s = pt_fail(PT_ERR_ARG, "--init words: no tokens in \"%s\"", w);
        for (int k = 0; k < S && !s; k++)
            s = pt_model_embed(m, seeds + (size_t)k * d, &ids.v[k % ids.n], 1);
        pt_ivec_free(&ids);
    } else if (p->init == PT_INIT_FILE) {
        pt_prompt pf;
        s = pt_prompt_load(&pf, p->init_arg);
        if (!s && (pf.S != S || pf.d != d))
            s = pt_fail(PT_ERR_MISMATCH, "--init %s: table is %d x %d, the template needs %d x %d",
                        p->init_arg, pf.S, pf.d, S, d);
        if (!s) memcpy(seeds, pf.table, sizeof(float) * (size_t)S * d);
        if (pf.table) pt_prompt_free(&pf);
    }
    if (!s) pt_encoder_set_seeds(&tr->enc, seeds);
    free(seeds);
    return s;
}

static pt_status trainer_init(pt_trainer *tr, const pt_model *m, const pt_task *t,
                              const pt_examples *train, const pt_examples *dev,
                              const pt_train_params *p) {
    memset(tr, 0, sizeof *tr);
    tr->m = m, tr->t = t, tr->p = p;
    tr->S = t->tmpl.n_virtual;
    tr->d = m->cfg.dim;
    tr->nl = t->head == PT_HEAD_LINEAR ? t->n_labels : 0;
    tr->best = -1;
    tr->perm_epoch = -1;
    if (tr->S == 0)
        return pt_fail(PT_ERR_ARG, "the template has no virtual tokens [P]: nothing to train "
                                   "(use eval for a manual prompt)");
    pt_rng rng;
    pt_rng_seed(&rng, p->seed);
    pt_status s = pt_encoder_init(&tr->enc, p->encoder, tr->S, tr->d, p->hidden, &rng);
    if (s) return s;
    if (p->init != PT_INIT_DEFAULT && (s = init_seeds(tr, &rng))) return s;
    size_t Sd = (size_t)tr->S * tr->d;
    tr->n_head = tr->nl ? (size_t)tr->nl * tr->d + tr->nl : 0;
    tr->table = pt_alloc(Sd, sizeof(float));
    tr->dtable = pt_alloc(Sd, sizeof(float));
    tr->best_table = pt_zalloc(Sd, sizeof(float));
    tr->head = pt_zalloc(tr->n_head + 1, sizeof(float));
    tr->dhead = pt_zalloc(tr->n_head + 1, sizeof(float));
    tr->best_head = pt_zalloc(tr->n_head + 1, sizeof(float));
    tr->perm = pt_alloc((size_t)train->n, sizeof(int));
    tr->order_tmp = pt_alloc(2 * (size_t)train->n, sizeof(uint64_t));
    if (!tr->table || !tr->dtable || !tr->best_table || !tr->head || !tr->dhead || !tr->best_head ||
        !tr->perm || !tr->order_tmp)
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    /* linear head: PyTorch Linear default U(+-1/sqrt(d)) */
    float bound = 1.0f / sqrtf((float)tr->d);
    for (size_t i = 0; i < tr->n_head; i++) tr->head[i] = (2 * pt_rng_uniform(&rng) - 1) * bound;
    if ((s = pt_optim_init(&tr->opt_enc, p->optimizer, tr->enc.n_params, p->weight_decay)) ||
        (s = pt_optim_init(&tr->opt_head, p->optimizer, tr->n_head, p->weight_decay)))
        return s;
    int B = p->batch < train->n ? p->batch : train->n;
    int Tmax = train->max_len;
    if (dev && dev->max_len > Tmax) Tmax = dev->max_len;
    if ((s = pt_engine_init(&tr->eng, m, t, B, Tmax))) return s;
    int cacheable = 0; /* some example has rows before its first virtual token */
    for (int i = 0; i < train->n && !cacheable; i++)
        cacheable = pt_engine_first_row(t, &train->ex[i].r) > 0;
    if (p->cache_mb && cacheable && m->cfg.causal &&
        (s = pt_engine_use_cache(&tr->eng, p->cache_mb < 0 ? pt_kv_cache_default_bytes()
                                                           : (size_t)p->cache_mb << 20)))
        return s;
    tr->spe = (train->n + B - 1) / B;
    tr->total = p->steps ? p->steps : (long)p->epochs * tr->spe;
    return PT_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void pt_epoch_order(int *perm, uint64_t *tmp, const pt_examples *train, int B, uint64_t seed,
                    int epoch, int group) {
    int n = train->n;
    uint64_t *key = tmp; // (2n)
    pt_rng r;
    pt_rng_seed(&r, seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(epoch + 1)));
    for (int i = 0; i < n; i++) perm[i] = i;
    pt_rng_shuffle(&r, perm, n);
    size_t chunk = (size_t)PT_GROUP_BATCHES * B;
    /* a dataset of one chunk would become one length-sorted curriculum of
     * uniform batches (which hurt learning on small tasks): plain shuffle */
    if (!group || B < 2 || (size_t)n <= chunk) return;
    for (size_t c0 = 0; c0 < (size_t)n; c0 += chunk) {
        size_t m = (size_t)n - c0 < chunk ? (size_t)n - c0 : chunk;
        /* key = length << 32 | position in the shuffled chunk: unique, so any sort is stable */
        for (size_t j = 0; j < m; j++)
            key[j] = (uint64_t)train->ex[perm[c0 + j]].r.n << 32 | (uint64_t)j;
        qsort(key, m, sizeof *key, cmp_u64);
        for (size_t j = 0; j < m; j++) key[j] = (uint64_t)perm[c0 + (key[j] & 0xffffffffu)];
        for (size_t j = 0; j < m; j++) perm[c0 + j] = (int)key[j];
    }
    int n_full = n / B;
    int *order = (int *)(key + n); // (n_full) batch order
    for (int i = 0; i < n_full; i++) order[i] = i;
    pt_rng_shuffle(&r, order, n_full);
    for (int i = 0; i < n; i++) key[i] = (uint64_t)perm[i];
    for (int b = 0; b < n_full; b++)
        for (int j = 0; j < B; j++) perm[b * B + j] = (int)key[(size_t)order[b] * B + j];
}

static void epoch_perm(pt_trainer *tr, int epoch, const pt_examples *train) {
    if (tr->perm_epoch == epoch) return;
    pt_epoch_order(tr->perm, tr->order_tmp, train, tr->eng.Bmax, tr->p->seed, epoch,
                   !tr->p->no_length_groups);
    tr->perm_epoch = epoch;
}

static double sumsq(const float *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return s;
}

static int all_finite(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* One optimizer step on the batch starting at position `within` of the epoch. */
static pt_status train_step(pt_trainer *tr, const pt_examples *train, double *loss_out) {
    const pt_train_params *p = tr->p;
    int epoch = (int)(tr->step / tr->spe), within = (int)(tr->step % tr->spe);
    epoch_perm(tr, epoch, train);
    int B = tr->eng.Bmax, i0 = within * B;
    int nb = train->n - i0 < B ? train->n - i0 : B;
    const pt_example *batch[4096];
    for (int j = 0; j < nb; j++) batch[j] = &train->ex[tr->perm[i0 + j]];

    pt_encoder_zero_grad(&tr->enc);
    memset(tr->dtable, 0, sizeof(float) * (size_t)tr->S * tr->d);
    memset(tr->dhead, 0, sizeof(float) * tr->n_head);
    pt_encoder_forward(&tr->enc, tr->table);
    float *W = tr->nl ? tr->head : NULL, *b = tr->nl ? tr->head + (size_t)tr->nl * tr->d : NULL;
    float *dW = tr->nl ? tr->dhead : NULL;
    float *db = tr->nl ? tr->dhead + (size_t)tr->nl * tr->d : NULL;
    double loss;
    pt_status s =
        pt_engine_run(&tr->eng, batch, nb, tr->table, W, b, &loss, NULL, tr->dtable, dW, db);
    if (s) return s;
    pt_encoder_backward(&tr->enc, tr->dtable);
    if (!isfinite(loss) || !all_finite(tr->enc.grads, tr->enc.n_params) ||
        !all_finite(tr->dhead, tr->n_head))
        return pt_fail(PT_ERR_NUMERIC,
                       "step %ld: the loss or a gradient is not finite (loss %g); training "
                       "stopped, the last checkpoint is intact (try a lower --lr)",
                       tr->step + 1, loss);
    /* global gradient clipping over encoder and head */
    if (p->clip > 0) {
        double norm = sqrt(sumsq(tr->enc.grads, tr->enc.n_params) + sumsq(tr->dhead, tr->n_head));
        if (norm > p->clip) {
            float sc = (float)(p->clip / (norm + 1e-6));
            for (size_t i = 0; i < tr->enc.n_params; i++) tr->enc.grads[i] *= sc;
            for (size_t i = 0; i < tr->n_head; i++) tr->dhead[i] *= sc;
        }
    }
    float lr = pt_lr_at(p->lr, tr->step, p->warmup, tr->total);
    pt_optim_step(&tr->opt_enc, tr->enc.params, tr->enc.grads, lr);
    if (tr->n_head) pt_optim_step(&tr->opt_head, tr->head, tr->dhead, lr);
    tr->step++;
    *loss_out = loss;
    return pt_fvec_push(&tr->losses, (float)loss);
}

static pt_status save_prompt(const pt_trainer *tr, const float *table, const float *head) {
    pt_prompt pf;
    memset(&pf, 0, sizeof pf);
    pf.template_src = tr->t->tmpl.source;
    pf.task = tr->t->kind;
    pf.head = tr->t->head;
    pf.label_field = tr->t->label_field;
    pf.encoder = (char *)pt_encoder_kind_name(tr->p->encoder);
    pf.encoder_hidden = tr->p->encoder == PT_ENCODER_MLP ? tr->enc.H : 0;
    pf.S = tr->S;
    pf.d = tr->d;
    pf.table = (float *)table;
    pf.n_labels = tr->nl;
    if (tr->nl) {
        pf.head_w = (float *)head;
        pf.head_b = (float *)head + (size_t)tr->nl * tr->d;
    }
    pt_prompt_set_identity(&pf, tr->m);
    return pt_prompt_save(&pf, tr->t, tr->p->out);
}

static char *ckpt_path(const char *out) {
    size_t n = strlen(out) + 6;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.ckpt", out);
    return p;
}

static pt_status log_eval(const pt_trainer *tr, const pt_eval_result *r, double train_loss) {
    if (!tr->p->log) return PT_OK;
    FILE *f = fopen(tr->p->log, "a");
    if (!f) return pt_fail(PT_ERR_IO, "%s: cannot append to the metrics log", tr->p->log);
    fprintf(f,
            "{\"step\":%ld,\"epoch\":%ld,\"train_loss\":%.6f,\"dev_loss\":%.6f,"
            "\"dev_accuracy\":%.6f",
            tr->step, tr->step / tr->spe, train_loss, r->loss, r->accuracy);
    if (tr->t->kind == PT_TASK_CLASSIFY)
        fprintf(f, ",\"dev_f1\":%.6f", r->f1);
    else
        fprintf(f, ",\"dev_p_at_1\":%.6f", r->accuracy);
    fprintf(f, ",\"dev_examples\":%d}\n", r->n);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return pt_fail(PT_ERR_IO, "%s: write failed", tr->p->log);
    return PT_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

pt_status pt_train(const pt_model *m, const pt_task *t, const pt_examples *train,
                   const pt_examples *dev, const pt_train_params *p, pt_train_result *res) {
    pt_trainer tr;
    memset(res, 0, sizeof *res);
    pt_status s = pt_train_check_params(p);
    if (s) return s;
    if (train->n < 1) return pt_fail(PT_ERR_ARG, "no training examples");
    if (p->batch > 4096) return pt_fail(PT_ERR_ARG, "--batch too large");
    char *ckpt = ckpt_path(p->out);
    if (!ckpt) return pt_fail(PT_ERR_NOMEM, "out of memory");
    if ((s = trainer_init(&tr, m, t, train, dev, p))) goto done;
    if (p->resume && (s = pt_ckpt_load(&tr, p->resume))) goto done;
    if (!p->resume && p->log) {
        FILE *f = fopen(p->log, "w");
        if (!f) {
            s = pt_fail(PT_ERR_IO, "%s: cannot write the metrics log", p->log);
            goto done;
        }
        fclose(f);
    }
    int eval_every = p->eval_every ? p->eval_every : tr.spe;
    int report_every = p->report_every > 0 ? p->report_every : 10;
    double t0 = now_s(), loss = 0, loss_acc = 0;
    long step0 = tr.step, n_acc = 0;
    if (p->progress && tr.step < tr.total) {
        pt_progress pr0;
        memset(&pr0, 0, sizeof pr0);
        pr0.step = tr.step;
        pr0.total_steps = tr.total;
        pr0.best = -1;
        pr0.starting = 1;
        p->progress(&pr0, p->user);
    }
    while (tr.step < tr.total) {
        if ((s = train_step(&tr, train, &loss))) goto done;
        loss_acc += loss, n_acc++;
        int last = tr.step == tr.total;
        int do_eval = dev && (tr.step % eval_every == 0 || last);
        pt_progress pr;
        memset(&pr, 0, sizeof pr);
        if (do_eval) {
            pt_encoder_forward(&tr.enc, tr.table);
            float *W = tr.nl ? tr.head : NULL;
            float *b = tr.nl ? tr.head + (size_t)tr.nl * tr.d : NULL;
            if ((s = pt_evaluate(&tr.eng, dev, tr.table, W, b, &pr.dev, NULL, NULL))) goto done;
            pr.evaluated = 1;
            if ((s = pt_fvec_push(&tr.ev_step, (float)tr.step)) ||
                (s = pt_fvec_push(&tr.ev_metric, (float)pr.dev.accuracy)) ||
                (s = pt_fvec_push(&tr.ev_loss, (float)pr.dev.loss)))
                goto done;
            if ((s = log_eval(&tr, &pr.dev, loss_acc / n_acc))) goto done;
            if (pr.dev.accuracy > tr.best) {
                tr.best = pr.dev.accuracy;
                tr.best_step = tr.step;
                tr.bad_evals = 0;
                memcpy(tr.best_table, tr.table, sizeof(float) * (size_t)tr.S * tr.d);
                memcpy(tr.best_head, tr.head, sizeof(float) * tr.n_head);
                res->best_dev = pr.dev;
                if ((s = save_prompt(&tr, tr.best_table, tr.best_head))) goto done;
            } else {
                tr.bad_evals++;
            }
            if ((s = pt_ckpt_save(&tr, ckpt))) goto done;
        }
        int stop_early = do_eval && p->patience && tr.bad_evals >= p->patience;
        int interrupted = (p->stop && *p->stop) || (p->stop_at && tr.step >= p->stop_at && !last);
        if (p->progress &&
            (do_eval || tr.step % report_every == 0 || last || stop_early || interrupted)) {
            double el = now_s() - t0;
            long done_steps = tr.step - step0;
            pr.step = tr.step;
            pr.total_steps = tr.total;
            pr.epoch = (int)((tr.step - 1) / tr.spe) + 1;
            pr.loss = loss;
            pr.loss_avg = loss_acc / n_acc;
            pr.best = tr.best;
            pr.examples_per_s = el > 0 ? done_steps * (double)tr.eng.Bmax / el : 0;
            pr.eta_s = done_steps ? el / done_steps * (tr.total - tr.step) : 0;
            p->progress(&pr, p->user);
            loss_acc = 0, n_acc = 0;
        }
        if (stop_early) {
            res->stopped_early = 1;
            break;
        }
        if (interrupted) {
            res->interrupted = 1;
            break;
        }
    }
    /* without dev data the result is the final table */
    if (!dev) {
        pt_encoder_forward(&tr.enc, tr.table);
        if ((s = save_prompt(&tr, tr.table, tr.head))) goto done;
    }
    if ((s = pt_ckpt_save(&tr, ckpt))) goto done;
    if (p->plot &&
        (s = pt_plot_svg(p->plot, &tr, t->kind == PT_TASK_KNOWLEDGE ? "dev P@1" : "dev accuracy")))
        goto done;
    res->steps = tr.step;
    res->final_loss = loss;
    res->have_dev = dev != NULL;
    res->best_step = tr.best_step;
    if (res->interrupted)
        s = pt_fail(PT_ERR_INTERRUPTED, "interrupted at step %ld; checkpoint %s", tr.step, ckpt);
done:
    trainer_free(&tr);
    free(ckpt);
    return s;
}
