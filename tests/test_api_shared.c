/* test_api_shared.c - what include/ptune.h promises about defaults, cancelling
 * and sharing a model:
 *  - weight decay has one default, the optimizer's (pt_optim_default_weight_decay:
 *    0.01 adamw, 0 adam/sgd): pt_train_options_default leaves it to the
 *    optimizer, so "adam" with the default trains exactly as adam with 0 and
 *    not as adam with 0.01 (the library used 0.01 for every optimizer, the CLI 0
 *    for adam);
 *  - a progress callback returning true cancels: PT_ERR_INTERRUPTED after the
 *    step it was called at, a checkpoint written, no further calls;
 *  - pt_tuner_train with recompute leaves the shared model's recompute off;
 *  - one model, two tuners training on two threads at once (one with
 *    recompute, one without): each writes the prompt a run alone writes, bit
 *    for bit;
 *  - prompts in memory: pt_tuner_prompt gives the table the prompt file holds;
 *    a fresh tuner given it with pt_tuner_set_prompt predicts what the loaded
 *    one does, bit for bit, and so does the loaded tuner on repeated calls with
 *    examples of changing length (its engine kept across calls); a table of
 *    the wrong shape is refused. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "models/model.h"
#include "prompt/promptfile.h"
#include "ptune.h"
#include "test.h"
#include "train/optim.h"

#define MODEL "tests/fixtures/gpt2/tiny"
#define TRAIN "tests/fixtures/learn/train.jsonl"
#define TMPL "[P*4] {sentence} [P*2] It is a [MASK]"
#define LABELS "animal:animal,fruit:fruit"

static char dir[] = "/tmp/ptune_api_shared.XXXXXX";

typedef struct job {
    pt_model *m;
    const char *optimizer;
    float wd;
    int recompute;
    char out[256];
    pt_status s;
    char err[512];
} job;

static void *train_job(void *arg) {
    job *j = arg;
    pt_tuner *t = NULL;
    pt_task_options task = {.template_text = TMPL, .labels = LABELS};
    pt_train_options o;
    pt_train_options_default(&o);
    o.optimizer = j->optimizer;
    if (j->wd >= 0) o.weight_decay = j->wd;
    o.lr = 0.03f;
    o.steps = 12;
    o.batch = 8;
    o.seed = 5;
    o.recompute = j->recompute;
    o.out = j->out;
    j->s = pt_tuner_new(&t, j->m, &task);
    if (!j->s) j->s = pt_tuner_train(t, TRAIN, NULL, &o);
    if (j->s) snprintf(j->err, sizeof j->err, "%s", pt_last_error());
    pt_tuner_free(t);
    return NULL;
}

/* The prompt table a run wrote (NULL on failure; *n its size). */
static float *table_of(const char *path, size_t *n) {
    pt_prompt p;
    if (pt_prompt_load(&p, path)) return NULL;
    *n = (size_t)p.S * p.d;
    float *t = p.table;
    p.table = NULL;
    pt_prompt_free(&p);
    return t;
}

static int calls, cancel_at;
static bool cancel_cb(const pt_train_report *r, void *user) {
    (void)user;
    calls++;
    return r->step >= cancel_at;
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    pt_model *m;
    if (pt_model_load(&m, MODEL)) {
        fprintf(stderr, "%s\n", pt_last_error());
        return 1;
    }

    /* ---- weight decay: one default */
    pt_train_options d;
    pt_train_options_default(&d);
    CHECK(d.weight_decay < 0,
          "pt_train_options_default: weight_decay %g (want < 0: the "
          "optimizer's own)",
          (double)d.weight_decay);
    CHECK(pt_optim_default_weight_decay(PT_OPTIM_ADAMW) == 0.01f &&
              pt_optim_default_weight_decay(PT_OPTIM_ADAM) == 0.0f &&
              pt_optim_default_weight_decay(PT_OPTIM_SGD) == 0.0f,
          "optimizer defaults: adamw 0.01, adam 0, sgd 0");
    job jd = {m, "adam", -1, 0, "", 0, ""}, j0 = {m, "adam", 0, 0, "", 0, ""},
        j1 = {m, "adam", 0.01f, 0, "", 0, ""};
    snprintf(jd.out, sizeof jd.out, "%s/adam_default.safetensors", dir);
    snprintf(j0.out, sizeof j0.out, "%s/adam_0.safetensors", dir);
    snprintf(j1.out, sizeof j1.out, "%s/adam_001.safetensors", dir);
    train_job(&jd), train_job(&j0), train_job(&j1);
    CHECK(!jd.s && !j0.s && !j1.s, "training: %s %s %s", jd.err, j0.err, j1.err);
    size_t nd = 0, n0 = 0, n1 = 0;
    float *td = table_of(jd.out, &nd), *t0 = table_of(j0.out, &n0), *t1 = table_of(j1.out, &n1);
    if (td && t0 && t1 && nd == n0 && nd == n1) {
        t_close("adam, default decay vs decay 0", td, t0, nd, 0, 0);
        double diff = 0;
        for (size_t i = 0; i < nd; i++)
            if (fabs(td[i] - t1[i]) > diff) diff = fabs(td[i] - t1[i]);
        printf("  adam, default decay vs decay 0.01: max abs diff %.3g (must differ)\n", diff);
        CHECK(diff > 0, "adam's default weight decay is 0.01, not 0");
    } else {
        CHECK(0, "prompt tables not read");
    }

    /* ---- a progress callback cancels */
    pt_tuner *t = NULL;
    pt_task_options task = {.template_text = TMPL, .labels = LABELS};
    pt_train_options o;
    pt_train_options_default(&o);
    char out[300], ck[310];
    snprintf(out, sizeof out, "%s/cancel.safetensors", dir);
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    o.out = out, o.steps = 100, o.batch = 8, o.progress = cancel_cb;
    calls = 0, cancel_at = 20;
    pt_status s = pt_tuner_new(&t, m, &task);
    if (!s) s = pt_tuner_train(t, TRAIN, NULL, &o);
    printf("  cancelled at step %d: %s (%d callback calls)\n", cancel_at, pt_last_error(), calls);
    CHECK(s == PT_ERR_INTERRUPTED, "cancel: status %s", pt_status_name(s));
    CHECK(strstr(pt_last_error(), "cancelled by the progress callback after step 20"),
          "cancel message: %s", pt_last_error());
    CHECK(calls == 2, "callback called %d times (every 10 steps, then no more after true)", calls);
    struct stat st;
    CHECK(stat(ck, &st) == 0, "a checkpoint %s after the cancel", ck);
    pt_tuner_free(t);

    /* ---- recompute is the run's, not the model's */
    job jr = {m, "adamw", -1, 1, "", 0, ""};
    snprintf(jr.out, sizeof jr.out, "%s/rc_alone.safetensors", dir);
    train_job(&jr);
    CHECK(!jr.s, "recompute run: %s", jr.err);
    CHECK(m->recompute == 0, "pt_tuner_train left recompute %d on the shared model", m->recompute);

    /* ---- two tuners on one model, two threads */
    job ja = {m, "adamw", -1, 1, "", 0, ""}, jb = {m, "sgd", -1, 0, "", 0, ""},
        jb_alone = {m, "sgd", -1, 0, "", 0, ""};
    snprintf(ja.out, sizeof ja.out, "%s/rc_thread.safetensors", dir);
    snprintf(jb.out, sizeof jb.out, "%s/keep_thread.safetensors", dir);
    snprintf(jb_alone.out, sizeof jb_alone.out, "%s/keep_alone.safetensors", dir);
    train_job(&jb_alone);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, train_job, &ja);
    pthread_create(&tb, NULL, train_job, &jb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(!ja.s && !jb.s && !jb_alone.s, "threads: %s %s %s", ja.err, jb.err, jb_alone.err);
    size_t na = 0, nra = 0, nb = 0, nba = 0;
    float *xa = table_of(ja.out, &na), *xra = table_of(jr.out, &nra);
    float *xb = table_of(jb.out, &nb), *xba = table_of(jb_alone.out, &nba);
    if (xa && xra && xb && xba && na == nra && nb == nba) {
        t_close("thread A (recompute) vs alone", xa, xra, na, 0, 0);
        t_close("thread B (no recompute) vs alone", xb, xba, nb, 0, 0);
    } else {
        CHECK(0, "thread prompt tables not read");
    }
    /* ---- prompts in memory */
    pt_tuner *tl = NULL, *tn = NULL;
    int S = 0, W = 0;
    CHECK(pt_tuner_load(&tl, m, jd.out) == PT_OK, "load: %s", pt_last_error());
    CHECK(pt_tuner_new(&tn, m, &task) == PT_OK, "new: %s", pt_last_error());
    const float *got = tl ? pt_tuner_prompt(tl, &S, &W) : NULL;
    CHECK(got && td && (size_t)S * W == nd, "pt_tuner_prompt: (%d, %d)", S, W);
    if (got && td && (size_t)S * W == nd)
        t_close("pt_tuner_prompt vs the prompt file", got, td, nd, 0, 0);
    CHECK(tn && pt_tuner_prompt(tn, &S, &W) == NULL && S == 0, "a new tuner has no prompt");
    CHECK(tn && pt_tuner_set_prompt(tn, td, 3, 32) == PT_ERR_ARG, "a (3, 32) table refused");
    printf("  wrong shape: %s\n", pt_last_error());
    if (tl && tn && got && pt_tuner_set_prompt(tn, got, 6, 32) == PT_OK) {
        static const char *texts[] = {"the dog is big", "an apple",
                                      "the small grey cat sat on the mat near the door", "a pear",
                                      "the horse"};
        const char *fields[] = {"sentence"};
        int same = 1, n = 0;
        float pa[2], pb[2];
        for (int rep = 0; rep < 2; rep++)
            for (int i = 0; i < 5; i++) {
                int la = -1, lb = -2;
                pt_tuner *fresh = NULL;
                float pc[2];
                int lc = -3;
                if (pt_tuner_predict(tl, fields, &texts[i], 1, &la, pa) ||
                    pt_tuner_predict(tn, fields, &texts[i], 1, &lb, pb) ||
                    pt_tuner_load(&fresh, m, jd.out) ||
                    pt_tuner_predict(fresh, fields, &texts[i], 1, &lc, pc))
                    same = 0;
                pt_tuner_free(fresh);
                same &= la == lb && la == lc && !memcmp(pa, pb, sizeof pa) &&
                        !memcmp(pa, pc, sizeof pa);
                n++;
            }
        printf("  %d predictions: set table, loaded (engine kept), fresh tuner each: %s\n", n,
               same ? "bit-identical" : "DIFFER");
        CHECK(same, "predictions differ: %s", pt_last_error());
    } else {
        CHECK(0, "pt_tuner_set_prompt: %s", pt_last_error());
    }
    pt_tuner_free(tl);
    pt_tuner_free(tn);
    free(td), free(t0), free(t1), free(xa), free(xra), free(xb), free(xba);
    pt_model_free(m);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
