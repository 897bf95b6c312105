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
#include "train/dist.h"
#include "train/trainer_internal.h"

const char *pt_method_name(pt_method m) {
    return m == PT_METHOD_PREFIX ? "prefix" : m == PT_METHOD_PTUNING_V2 ? "ptuning-v2" : "ptuning";
}

int pt_method_parse(const char *s, pt_method *m) {
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, pt_method_name((pt_method)i))) {
            *m = (pt_method)i;
            return 1;
        }
    return 0;
}

void pt_train_default_params(pt_train_params *p) {
    memset(p, 0, sizeof *p);
    p->encoder = PT_ENCODER_LSTM;
    p->init = PT_INIT_DEFAULT;
    p->optimizer = PT_OPTIM_ADAMW;
    p->lr = 1e-3f;
    p->weight_decay = -1; /* the optimizer's default (pt_optim_default_weight_decay) */
    p->clip = 1.0f;
    p->batch = 8;
    p->epochs = 3;
    p->seed = 42;
    p->report_every = 10;
    p->cache_mb = -1;
    p->save_every_s = 60;
}

pt_status pt_train_check_params(const pt_train_params *p) {
    if (!(p->lr > 0 && p->lr <= 10))
        return pt_fail(PT_ERR_ARG, "--lr %g out of range (0, 10]", (double)p->lr);
    if (!(p->weight_decay < 1) || isnan(p->weight_decay))
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
    free(tr->red);
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
    int S = tr->S, d = tr->enc.d_in; /* the seeds' width: the model's */
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
    tr->deep = p->method != PT_METHOD_PTUNING;
    tr->C = m->cfg.dim;
    tr->S = tr->deep ? (p->deep_len > 0 ? p->deep_len : 10) : t->tmpl.n_virtual;
    tr->d = tr->deep ? (int)pt_engine_deep_width(m) : m->cfg.dim;
    tr->nl = t->head == PT_HEAD_LINEAR ? t->n_labels : 0;
    tr->best = -1;
    tr->perm_epoch = -1;
    if (!tr->deep && tr->S == 0)
        return pt_fail(PT_ERR_ARG, "the template has no virtual tokens [P]: nothing to train "
                                   "(use eval for a manual prompt, or --method prefix)");
    if (tr->deep && t->tmpl.n_virtual > 0)
        return pt_fail(PT_ERR_UNSUPPORTED,
                       "--method %s trains a deep prompt: remove the template's [P] tokens "
                       "(input and deep prompts together are not supported yet)",
                       pt_method_name(p->method));
    if (tr->deep && p->encoder != PT_ENCODER_MLP && p->encoder != PT_ENCODER_EMBEDDING)
        return pt_fail(PT_ERR_ARG, "--method %s: the encoder is mlp or embedding",
                       pt_method_name(p->method));
    if (tr->deep && p->init != PT_INIT_DEFAULT &&
        (p->encoder != PT_ENCODER_MLP || p->init == PT_INIT_FILE))
        return pt_fail(PT_ERR_ARG,
                       "--method %s: --init vocab/words need --encoder mlp (the "
                       "seeds are word embeddings); --init FILE is for P-tuning",
                       pt_method_name(p->method));
    pt_rng rng;
    pt_rng_seed(&rng, p->seed);
    pt_status s;
    if (tr->deep && p->encoder == PT_ENCODER_MLP)
        s = pt_encoder_init_prefix(&tr->enc, tr->S, tr->C, p->hidden, tr->d, &rng);
    else
        s = pt_encoder_init(&tr->enc, p->encoder, tr->S, tr->d, p->hidden, &rng);
    if (s) return s;
    if (p->init != PT_INIT_DEFAULT && (s = init_seeds(tr, &rng))) return s;
    size_t Sd = (size_t)tr->S * tr->d;
    tr->n_head = tr->nl ? (size_t)tr->nl * tr->C + tr->nl : 0;
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
    float bound = 1.0f / sqrtf((float)tr->C);
    for (size_t i = 0; i < tr->n_head; i++) tr->head[i] = (2 * pt_rng_uniform(&rng) - 1) * bound;
    float wd = p->weight_decay >= 0 ? p->weight_decay : pt_optim_default_weight_decay(p->optimizer);
    if ((s = pt_optim_init(&tr->opt_enc, p->optimizer, tr->enc.n_params, wd)) ||
        (s = pt_optim_init(&tr->opt_head, p->optimizer, tr->n_head, wd)))
        return s;
    int B = p->batch < train->n ? p->batch : train->n;
    int Tmax = train->max_len;
    if (dev && dev->max_len > Tmax) Tmax = dev->max_len;
    tr->B = B;
    tr->rank = pt_dist_rank();
    tr->nranks = pt_dist_size();
    if (tr->nranks > 1) { /* data-parallel: this rank runs its share of each batch */
        tr->n_red = (size_t)tr->S * tr->d + tr->n_head + 3;
        if (!(tr->red = pt_alloc(tr->n_red, sizeof(float))))
            return pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    int Bshare = (B + tr->nranks - 1) / tr->nranks;
    if ((s = pt_engine_init(&tr->eng, m, t, Bshare, Tmax))) return s;
    if (p->recompute && (s = pt_engine_set_recompute(&tr->eng, p->recompute > 0))) return s;
    int cacheable = 0; /* some example has rows before its first virtual token */
    for (int i = 0; i < train->n && !cacheable; i++)
        cacheable = pt_engine_first_row(t, &train->ex[i].r) > 0;
    if (tr->deep) {
        if ((s = pt_engine_use_deep(&tr->eng, tr->S))) return s;
        tr->eng.deep = tr->table; /* the encoder writes it before every run */
    } else if (p->cache_mb && cacheable && m->cfg.causal &&
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
    pt_epoch_order(tr->perm, tr->order_tmp, train, tr->B, tr->p->seed, epoch,
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

/* A data-parallel step's forward and backward: this rank runs examples
 * [lo, hi) of the batch's nb (contiguous shares, uneven when nb % N != 0);
 * dtable, dhead and the loss, weighted by the share's size, are summed over
 * the ranks in one allreduce together with an error flag and the stop flag,
 * and divided by nb: every rank then holds the gradient of the whole batch's
 * mean loss, bit for bit the same. */
static pt_status share_run(pt_trainer *tr, const pt_example *const *batch, int nb, const float *W,
                           const float *b, float *dW, float *db, double *loss) {
    int lo = (int)((long)nb * tr->rank / tr->nranks);
    int hi = (int)((long)nb * (tr->rank + 1) / tr->nranks), mb = hi - lo;
    double l = 0;
    pt_status s = PT_OK;
    if (mb > 0)
        s = pt_engine_run(&tr->eng, batch + lo, mb, tr->table, W, b, &l, NULL,
                          tr->deep ? NULL : tr->dtable, dW, db);
    size_t nt = (size_t)tr->S * tr->d;
    float *r = tr->red;
    for (size_t i = 0; i < nt; i++) r[i] = s ? 0 : tr->dtable[i] * (float)mb;
    for (size_t i = 0; i < tr->n_head; i++) r[nt + i] = s ? 0 : tr->dhead[i] * (float)mb;
    r[nt + tr->n_head] = s ? 0 : (float)(l * mb);
    r[nt + tr->n_head + 1] = s ? 1.0f : 0.0f;
    r[nt + tr->n_head + 2] = tr->p->stop && *tr->p->stop ? 1.0f : 0.0f;
    pt_dist_sum_f(r, tr->n_red);
    if (r[nt + tr->n_head + 1] != 0) return pt_dist_agree(s); /* every rank: the same error */
    float inv = 1.0f / (float)nb;
    for (size_t i = 0; i < nt; i++) tr->dtable[i] = r[i] * inv;
    for (size_t i = 0; i < tr->n_head; i++) tr->dhead[i] = r[nt + i] * inv;
    *loss = (double)r[nt + tr->n_head] / nb;
    tr->stop_all = r[nt + tr->n_head + 2] != 0;
    return PT_OK;
}

/* One optimizer step on the batch starting at position `within` of the epoch. */
static pt_status train_step(pt_trainer *tr, const pt_examples *train, double *loss_out) {
    const pt_train_params *p = tr->p;
    int epoch = (int)(tr->step / tr->spe), within = (int)(tr->step % tr->spe);
    epoch_perm(tr, epoch, train);
    int B = tr->B, i0 = within * B;
    int nb = train->n - i0 < B ? train->n - i0 : B;
    const pt_example *batch[4096];
    for (int j = 0; j < nb; j++) batch[j] = &train->ex[tr->perm[i0 + j]];

    pt_encoder_zero_grad(&tr->enc);
    memset(tr->dtable, 0, sizeof(float) * (size_t)tr->S * tr->d);
    memset(tr->dhead, 0, sizeof(float) * tr->n_head);
    pt_encoder_forward(&tr->enc, tr->table);
    float *W = tr->nl ? tr->head : NULL, *b = tr->nl ? tr->head + (size_t)tr->nl * tr->C : NULL;
    float *dW = tr->nl ? tr->dhead : NULL;
    float *db = tr->nl ? tr->dhead + (size_t)tr->nl * tr->C : NULL;
    double loss = 0;
    tr->eng.ddeep = tr->deep ? tr->dtable : NULL;
    pt_status s;
    if (tr->nranks < 2) {
        s = pt_engine_run(&tr->eng, batch, nb, tr->table, W, b, &loss, NULL,
                          tr->deep ? NULL : tr->dtable, dW, db);
    } else {
        s = share_run(tr, batch, nb, W, b, dW, db, &loss);
    }
    tr->eng.ddeep = NULL;
    if (s) return s;
    /* the encoder's backward is linear in dtable: summing dtable over the ranks
     * (S*d floats) gives the encoder's gradient without reducing its parameters */
    pt_encoder_backward(&tr->enc, tr->dtable);
    if (!isfinite(loss) || !all_finite(tr->enc.grads, tr->enc.n_params) ||
        !all_finite(tr->dhead, tr->n_head))
        return pt_fail(PT_ERR_NUMERIC, "step %ld: the loss or a gradient is not finite (loss %g)",
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
    pf.encoder = (char *)pt_encoder_kind_name(tr->enc.kind);
    pf.encoder_hidden = tr->enc.kind == PT_ENCODER_MLP ? tr->enc.H : 0;
    snprintf(pf.method, sizeof pf.method, "%s", pt_method_name(tr->p->method));
    pf.d = tr->C;
    if (tr->deep) {
        pf.D = tr->S, pf.W = tr->d, pf.deep = (float *)table;
    } else {
        pf.S = tr->S;
        pf.table = (float *)table;
    }
    pf.n_labels = tr->nl;
    if (tr->nl) {
        pf.head_w = (float *)head;
        pf.head_b = (float *)head + (size_t)tr->nl * tr->C;
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Write a checkpoint: without dev data the latest prompt first (so a killed
 * run leaves a usable --out), then out.ckpt. */
static pt_status checkpoint(pt_trainer *tr, const pt_examples *dev, const char *ckpt) {
    pt_status s;
    if (!dev) {
        pt_encoder_forward(&tr->enc, tr->table);
        if (tr->rank == 0 && (s = save_prompt(tr, tr->table, tr->head))) return s;
    }
    if (tr->rank == 0 && (s = pt_ckpt_save(tr, ckpt))) return s;
    tr->have_ckpt = 1;
    tr->last_save_t = now_s();
    return PT_OK;
}

/* A data-parallel run: a file rank 0 alone writes could not be written;
 * the other ranks are waiting in the next step's allreduce: end the job. */
static pt_status rank0_io(const pt_trainer *tr, pt_status s) {
    if (s && tr->nranks > 1) pt_dist_abort(1, pt_last_error());
    return s;
}

/* The stop at a non-finite step: say whether a checkpoint is there to resume. */
static pt_status numeric_stop(const pt_trainer *tr, const char *ckpt) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", pt_last_error());
    if (tr->have_ckpt)
        return pt_fail(PT_ERR_NUMERIC,
                       "%s; training stopped; the last checkpoint (%s) is intact (try a lower "
                       "--lr)",
                       msg, ckpt);
    return pt_fail(PT_ERR_NUMERIC,
                   "%s; training stopped before any checkpoint was written (check the model's "
                   "weights, or try a lower --lr)",
                   msg);
}

pt_status pt_train(const pt_model *m, const pt_task *t, const pt_examples *train,
                   const pt_examples *dev, const pt_train_params *p, pt_train_result *res) {
    pt_trainer tr;
    memset(res, 0, sizeof *res);
    memset(&tr, 0, sizeof tr);
    pt_status s = pt_train_check_params(p);
    if (s) return s;
    if (train->n < 1) return pt_fail(PT_ERR_ARG, "no training examples");
    if (p->batch > 4096) return pt_fail(PT_ERR_ARG, "--batch too large");
    if (!(p->save_every >= 0 && p->save_every_s >= 0))
        return pt_fail(PT_ERR_ARG, "--save-every must be >= 0");
    pt_lock lock = {-1, NULL};
    /* data-parallel: rank 0 alone writes, so it alone checks and locks the outputs */
    if (pt_dist_rank() == 0) s = pt_train_outputs(p, &lock);
    if ((s = pt_dist_agree(s))) {
        pt_lock_release(&lock);
        return s;
    }
    char *ckpt = ckpt_path(p->out);
    if (!ckpt) {
        pt_lock_release(&lock);
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    /* every rank the same (all read the checkpoint; rank 0 alone cuts or starts the log) */
    s = trainer_init(&tr, m, t, train, dev, p);
    if (!s && p->resume) s = pt_ckpt_load(&tr, p->resume);
    if (!s && !p->resume) s = pt_log_start(&tr);
    if ((s = pt_dist_agree(s))) goto done;
    int eval_every = p->eval_every ? p->eval_every : tr.spe;
    int report_every = p->report_every > 0 ? p->report_every : 10;
    double t0 = now_s(), loss = 0;
    long step0 = tr.step, report_from = tr.step;
    tr.last_save_t = t0;
    if (p->progress && tr.rank == 0 && tr.step < tr.total) {
        pt_progress pr0;
        memset(&pr0, 0, sizeof pr0);
        pr0.step = tr.step;
        pr0.total_steps = tr.total;
        pr0.best = -1;
        pr0.starting = 1;
        p->progress(&pr0, p->user);
    }
    double step_time = 0;
    while (tr.step < tr.total) {
        double ts0 = now_s();
        if ((s = train_step(&tr, train, &loss))) {
            if (s == PT_ERR_NUMERIC) s = numeric_stop(&tr, ckpt);
            goto done;
        }
        step_time += now_s() - ts0;
        int last = tr.step == tr.total;
        int do_eval = dev && (tr.step % eval_every == 0 || last);
        /* without dev data --eval-every marks checkpoints and log lines */
        int mark = !dev && p->eval_every && tr.step % p->eval_every == 0;
        /* data-parallel: a stop request seen by any rank, from the step's allreduce */
        int stop_now = tr.nranks > 1 ? tr.stop_all : p->stop && *p->stop;
        int interrupted = stop_now || (p->stop_at && tr.step >= p->stop_at && !last);
        pt_progress pr;
        memset(&pr, 0, sizeof pr);
        if (do_eval) {
            pt_encoder_forward(&tr.enc, tr.table);
            float *W = tr.nl ? tr.head : NULL;
            float *b = tr.nl ? tr.head + (size_t)tr.nl * tr.C : NULL;
            if ((s = pt_evaluate_split(&tr.eng, dev, tr.table, W, b, &pr.dev, NULL, NULL))) {
                if (s == PT_ERR_NUMERIC) s = numeric_stop(&tr, ckpt);
                goto done;
            }
            pr.evaluated = 1;
            if ((s = pt_fvec_push(&tr.ev_step, (float)tr.step)) ||
                (s = pt_fvec_push(&tr.ev_metric, (float)pr.dev.accuracy)) ||
                (s = pt_fvec_push(&tr.ev_loss, (float)pr.dev.loss)))
                goto done;
            if (pr.dev.accuracy > tr.best) {
                tr.best = pr.dev.accuracy;
                tr.best_step = tr.step;
                tr.bad_evals = 0;
                tr.best_dev = pr.dev;
                memcpy(tr.best_table, tr.table, sizeof(float) * (size_t)tr.S * tr.d);
                memcpy(tr.best_head, tr.head, sizeof(float) * tr.n_head);
                if (tr.rank == 0 &&
                    (s = rank0_io(&tr, save_prompt(&tr, tr.best_table, tr.best_head))))
                    goto done;
            } else {
                tr.bad_evals++;
            }
        }
        /* the log follows the steps alone (never the clock or a signal), so
         * a resumed run writes exactly the lines of an uninterrupted one */
        int log_now = dev ? do_eval : (mark || tr.step % report_every == 0 || last);
        if (log_now && (s = rank0_io(&tr, pt_log_line(&tr, do_eval ? &pr.dev : NULL)))) goto done;
        int stop_early = do_eval && p->patience && tr.bad_evals >= p->patience;
        int save = do_eval || mark || (p->save_every && tr.step % p->save_every == 0) ||
                   (p->save_every_s > 0 && now_s() - tr.last_save_t >= p->save_every_s);
        /* the end, an early stop and an interruption save after the loop */
        if (save && !last && !stop_early && !interrupted &&
            (s = rank0_io(&tr, checkpoint(&tr, dev, ckpt))))
            goto done;
        if (p->progress && tr.rank == 0 &&
            (do_eval || tr.step % report_every == 0 || last || stop_early || interrupted)) {
            double el = now_s() - t0, sum = 0;
            long done_steps = tr.step - step0;
            for (long k = report_from; k < tr.step; k++) sum += tr.losses.v[k];
            pr.step = tr.step;
            pr.total_steps = tr.total;
            pr.epoch = (int)((tr.step - 1) / tr.spe) + 1;
            pr.loss = loss;
            pr.loss_avg = tr.step > report_from ? sum / (double)(tr.step - report_from) : loss;
            pr.best = tr.best;
            pr.examples_per_s = el > 0 ? done_steps * (double)tr.B / el : 0;
            pr.eta_s = done_steps ? el / done_steps * (tr.total - tr.step) : 0;
            p->progress(&pr, p->user);
            report_from = tr.step;
            /* the callback may ask to stop (the library's cancel): after this step */
            if (!last && p->stop && *p->stop && tr.nranks < 2) interrupted = 1;
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
    /* the final state (without dev data: the final table in --out) */
    if ((s = rank0_io(&tr, checkpoint(&tr, dev, ckpt)))) goto done;
    if (p->plot && tr.rank == 0 &&
        (s = rank0_io(&tr, pt_plot_svg(p->plot, &tr,
                                       t->kind == PT_TASK_KNOWLEDGE ? "dev P@1" : "dev accuracy"))))
        goto done;
    res->steps = tr.step;
    res->final_loss = tr.step > step0 || !tr.losses.n ? loss : tr.losses.v[tr.losses.n - 1];
    res->have_dev = dev != NULL;
    res->best_dev = tr.best_dev;
    res->best_step = tr.best_step;
    res->n_trainable = tr.enc.n_params + (size_t)tr.n_head;
    res->step_s = tr.step > step0 ? step_time / (double)(tr.step - step0) : 0;
    res->reduce_bytes = tr.n_red * sizeof(float);
    if (res->interrupted)
        s = pt_fail(PT_ERR_INTERRUPTED, "interrupted at step %ld; checkpoint %s", tr.step, ckpt);
done:
    res->have_ckpt = tr.have_ckpt;
    trainer_free(&tr);
    free(ckpt);
    pt_lock_release(&lock);
    return s;
}
