/* test_train.c - the training step's semantics through the trainer itself:
 * the loss is the mean over the batch's examples, and one SGD step at lr 1
 * (embedding encoder initialised from a prompt file P0, no warm-up, no
 * clipping, no decay, the whole data set as one batch) gives exactly
 * P0 - d(mean loss)/d(P0). The gradient is checked by finite differences. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "models/model.h"
#include "prompt/promptfile.h"
#include "prompt/task.h"
#include "train/dataset.h"
#include "train/engine.h"
#include "train/trainer.h"
#include "test.h"

#define TMPL "[P*3] {sentence} [P] It is a [MASK]"

int main(void) {
    pt_model *m;
    pt_task t;
    pt_dataset d;
    pt_examples ex;
    if (pt_model_load(&m, "tests/fixtures/gpt2/tiny") ||
        pt_task_init(&t, m, TMPL, PT_TASK_CLASSIFY, PT_HEAD_LM, "animal:animal,fruit:fruit", NULL) ||
        pt_dataset_load(&d, "tests/fixtures/learn/train.jsonl") ||
        pt_examples_build(&ex, &t, m, &d, 1, 0)) {
        fprintf(stderr, "setup: %s\n", pt_last_error());
        return 1;
    }
    int S = t.tmpl.n_virtual, C = m->cfg.dim, N = 24;
    ex.n = N; /* the first 24 examples */
    pt_rng rng;
    pt_rng_seed(&rng, 9);
    float *P0 = malloc(sizeof(float) * S * C), *grad = calloc((size_t)S * C, sizeof(float));
    for (int i = 0; i < S * C; i++) P0[i] = 0.5f * pt_rng_normal(&rng);

    /* the mean loss and its gradient, from the engine over all N examples at once */
    pt_engine e;
    CHECK(pt_engine_init(&e, m, &t, N, ex.max_len) == PT_OK, "engine");
    const pt_example *all[64];
    for (int i = 0; i < N; i++) all[i] = &ex.ex[i];
    double mean_loss;
    pt_engine_run(&e, all, N, P0, NULL, NULL, &mean_loss, NULL, grad, NULL, NULL);
    /* the loss is the mean of the per-example losses */
    double sum = 0;
    for (int i = 0; i < N; i++) {
        double li;
        pt_engine_run(&e, &all[i], 1, P0, NULL, NULL, &li, NULL, NULL, NULL, NULL);
        sum += li;
    }
    float a = (float)mean_loss, b = (float)(sum / N);
    t_close("batch loss vs mean of example losses", &a, &b, 1, 1e-5, 1e-7);
    /* finite differences of the mean loss on a few table entries */
    int probe[] = {0, 7, C + 3, 2 * C + 31, 3 * C + 12};
    float fd[5], an[5];
    float *Pp = malloc(sizeof(float) * S * C);
    for (int k = 0; k < 5; k++) {
        double lp, lm;
        memcpy(Pp, P0, sizeof(float) * S * C);
        Pp[probe[k]] += 1e-2f;
        pt_engine_run(&e, all, N, Pp, NULL, NULL, &lp, NULL, NULL, NULL, NULL);
        Pp[probe[k]] -= 2e-2f;
        pt_engine_run(&e, all, N, Pp, NULL, NULL, &lm, NULL, NULL, NULL, NULL);
        fd[k] = (float)((lp - lm) / 2e-2);
        an[k] = grad[probe[k]];
    }
    t_close("d(mean loss)/d(table) vs finite differences", an, fd, 5, 3e-2, 1e-4);
    pt_engine_free(&e);

    /* P0 as a prompt file, then one SGD step at lr 1 through pt_train */
    char p0path[] = "/tmp/ptune_p0_XXXXXX", outpath[64], ckpt[80];
    int fd0 = mkstemp(p0path);
    close(fd0);
    snprintf(outpath, sizeof outpath, "%s.out", p0path);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", outpath);
    pt_prompt pf;
    memset(&pf, 0, sizeof pf);
    pf.template_src = (char *)TMPL;
    pf.S = S, pf.d = C, pf.table = P0;
    pt_prompt_set_identity(&pf, m);
    CHECK(pt_prompt_save(&pf, &t, p0path) == PT_OK, "save P0: %s", pt_last_error());
    pt_train_params p;
    pt_train_default_params(&p);
    p.encoder = PT_ENCODER_EMBEDDING;
    p.init = PT_INIT_FILE;
    p.init_arg = p0path;
    p.optimizer = PT_OPTIM_SGD;
    p.lr = 1.0f, p.steps = 1, p.batch = N, p.warmup = 0, p.clip = 0, p.weight_decay = 0;
    p.out = outpath;
    pt_train_result res;
    CHECK(pt_train(m, &t, &ex, NULL, &p, &res) == PT_OK, "train: %s", pt_last_error());
    pt_prompt out;
    CHECK(pt_prompt_load(&out, outpath) == PT_OK, "load out: %s", pt_last_error());
    float *want = malloc(sizeof(float) * S * C);
    for (int i = 0; i < S * C; i++) want[i] = P0[i] - grad[i];
    t_close("table after one SGD step == P0 - grad", out.table, want, (size_t)S * C, 1e-5, 1e-6);
    pt_prompt_free(&out);
    unlink(p0path);
    unlink(outpath);
    unlink(ckpt);
    free(P0), free(grad), free(Pp), free(want);
    ex.n = d.n;
    pt_examples_free(&ex);
    pt_dataset_free(&d);
    pt_task_free(&t);
    pt_model_free(m);
    return t_done();
}
