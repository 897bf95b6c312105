/* trainer.h - the P-tuning training loop.
 *
 * Per step: encoder forward once -> table (S, d) shared by the batch; engine
 * forward/backward over the batch -> dtable (sum over examples of the mean
 * loss's gradient) and linear-head grads; encoder backward; global gradient
 * clipping; learning-rate schedule; optimizer step. Mini-batches follow a
 * per-epoch permutation drawn from (seed, epoch), so a run is reproducible and
 * a resumed run continues exactly where it stopped.
 * The best dev checkpoint is written to `out` (prompt file) whenever the dev
 * metric improves; without dev data `out` holds the latest table.
 * `out`.ckpt holds encoder, head, optimizer state and counters for --resume.
 *
 * Checkpoints (out.ckpt, and without dev data the latest prompt in out) are
 * written at every dev evaluation, every save_every steps, whenever
 * save_every_s seconds have passed since the last one, without dev data at
 * every eval_every step when given, on a stop request and at the end, so a
 * crash loses at most that much work. What ptune never does:
 *  - write over an input: an output (out, its .ckpt, log, plot) that is the
 *    same file as an input (params.inputs, resume) or as another output is
 *    refused before anything is written;
 *  - find an unwritable output late: every output is checked creatable
 *    before the first step;
 *  - let two runs share an output: out.lock is held (flock) for the run;
 *  - leave a half-written file: every file but the log is written to a
 *    temporary file and renamed into place (temporaries of dead runs are
 *    removed); the log is cut back on resume to what the checkpoint saw, so
 *    a killed and resumed run logs exactly what an uninterrupted one does;
 *  - resume on changed data: the checkpoint records the size and hash of
 *    each tracked input and a resume with a changed one fails naming it
 *    (unless accept_changed_inputs).
 */
#ifndef PT_TRAIN_TRAINER_H
#define PT_TRAIN_TRAINER_H

#include <signal.h>
#include <stdint.h>

#include "models/model.h"
#include "prompt/encoder.h"
#include "prompt/task.h"
#include "train/metrics.h"
#include "train/optim.h"

typedef enum pt_init_kind {
    PT_INIT_DEFAULT, /* PyTorch default: N(0,1) seeds */
    PT_INIT_VOCAB,   /* seeds = embeddings of random vocabulary tokens */
    PT_INIT_WORDS,   /* seeds = embeddings of the tokens of init_arg (cycled) */
    PT_INIT_FILE,    /* seeds = table of the prompt file init_arg */
} pt_init_kind;

/* What is trained: input prompts ([P] tokens, P-tuning) or deep prompts
 * (keys and values in front of every layer's attention, train/engine.h). */
typedef enum pt_method {
    PT_METHOD_PTUNING,    /* P-tuning: the template's [P] tokens (the default) */
    PT_METHOD_PREFIX,     /* prefix tuning (Li & Liang): deep prompt, MLP reparameterization */
    PT_METHOD_PTUNING_V2, /* P-tuning v2: deep prompt stored directly */
} pt_method;
const char *pt_method_name(pt_method m);
int pt_method_parse(const char *s, pt_method *m); /* 0 if unknown */

typedef struct pt_progress {
    long step, total_steps; /* steps done, steps planned */
    int epoch;
    double loss;        /* training loss of the last step */
    double loss_avg;    /* running mean since the last report */
    int evaluated;      /* 1 when this report follows a dev evaluation */
    pt_eval_result dev; /* valid when evaluated */
    double best;        /* best dev metric so far (-1 none) */
    double examples_per_s;
    double eta_s;
    int starting; /* 1: the one report made just before this run's first step (only
                     step and total_steps are set) */
} pt_progress;

typedef void (*pt_progress_fn)(const pt_progress *p, void *user);

/* A file the run reads. Every output is checked against it; a tracked one
 * (the data) has its identity recorded in the checkpoint. */
typedef struct pt_train_input {
    const char *role; /* how errors name it: "--train", "the model file", ... */
    const char *path;
    int tracked;         /* 1: size and hash recorded and checked on resume */
    uint64_t size, hash; /* tracked: byte count and FNV-1a 64 of the bytes read */
} pt_train_input;

typedef struct pt_train_params {
    pt_method method;
    int deep_len;            /* deep prompt rows (prefix, ptuning-v2; 0: the default 10) */
    pt_encoder_kind encoder; /* deep prompts: mlp (prefix-mlp) or embedding */
    int hidden;              /* mlp hidden width (0 = d) */
    pt_init_kind init;
    const char *init_arg;
    pt_optim_kind optimizer;
    float lr;
    float weight_decay; /* < 0 (the default): the optimizer's, pt_optim_default_weight_decay */
    float clip;         /* max global gradient norm; 0 = none */
    int batch;
    int epochs;  /* used when steps == 0 */
    long steps;  /* total optimizer steps (0 = from epochs) */
    long warmup; /* linear warm-up steps */
    uint64_t seed;
    int no_length_groups;  /* 1: plain shuffled batches (default 0: batches of similar length) */
    int eval_every;        /* steps between dev evaluations (0 = once per epoch); without dev
                              data: steps between checkpoints and log lines (0 = none) */
    int patience;          /* stop after this many evaluations without improvement (0 = never) */
    int max_len;           /* truncate examples to this many tokens (0 = model limit) */
    const char *out;       /* prompt file; the checkpoint is out + ".ckpt" */
    const char *resume;    /* checkpoint to continue from (NULL = fresh) */
    const char *log;       /* JSON Lines metrics log (NULL = none): a line per dev evaluation;
                              without dev data a line per progress report (report_every),
                              per eval_every step and at the end */
    const char *plot;      /* SVG training curve (NULL = none) */
    const char *argv_json; /* command line kept in the checkpoint (JSON list, may be NULL) */
    long save_every;       /* checkpoint every N steps (0 = not by steps) */
    double save_every_s;   /* checkpoint when this many seconds passed since the last one
                              (0 = not by time; default 60) */
    const pt_train_input *inputs; /* (n_inputs) the files the run reads */
    int n_inputs;
    int accept_changed_inputs;         /* resume even though a tracked input changed */
    const volatile sig_atomic_t *stop; /* set by a signal handler: checkpoint and stop */
    long stop_at;  /* testing aid: act as if interrupted after this step (0 = off) */
    int recompute; /* 0: as the model's pt_model_set_recompute says; 1 on, -1 off for this run
                      alone (the model is not written) */
    pt_progress_fn progress;
    void *user;
    int report_every; /* steps between progress reports (0 = 10) */
    long cache_mb;    /* key/value cache of prompt-independent rows (causal models), in MiB:
                         -1 = a quarter of the available memory (the default), 0 = off */
} pt_train_params;

void pt_train_default_params(pt_train_params *p);

typedef struct pt_train_result {
    long steps;        /* steps done in total */
    double final_loss; /* training loss of the last step */
    int have_dev;
    pt_eval_result best_dev;
    long best_step;
    int stopped_early;   /* patience ran out */
    int interrupted;     /* stop flag seen: checkpoint written */
    int have_ckpt;       /* a checkpoint exists (resumed from or written by this run) */
    size_t n_trainable;  /* trained parameters: the encoder's and the linear head's */
    double step_s;       /* mean wall time of this run's training steps (no dev evaluation) */
    size_t reduce_bytes; /* data-parallel (mpirun): bytes one step's allreduce sums (else 0) */
} pt_train_result;

/* Validate hyper-parameters up front (errors name the option). */
pt_status pt_train_check_params(const pt_train_params *p);
/* The checks pt_train makes before it writes anything, for a caller that
 * wants them before loading the model: no output is an input or another
 * output, every output can be created, nobody else holds out's lock. */
pt_status pt_train_check_outputs(const pt_train_params *p);
/* Compare the tracked inputs with those the checkpoint at path recorded:
 * PT_ERR_MISMATCH naming the first changed file (size and hash then and
 * now); PT_OK when they match or the checkpoint recorded none. */
pt_status pt_train_check_inputs(const pt_train_params *p, const char *path);

pt_status pt_train(const pt_model *m, const pt_task *t, const pt_examples *train,
                   const pt_examples *dev, const pt_train_params *p, pt_train_result *res);

#endif
