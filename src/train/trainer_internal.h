/* trainer_internal.h - the trainer's state, shared by trainer.c (the loop),
 * checkpoint.c (save/resume) and plot.c. Not part of the public API. */
#ifndef PT_TRAIN_TRAINER_INTERNAL_H
#define PT_TRAIN_TRAINER_INTERNAL_H

#include "core/files.h"
#include "core/rng.h"
#include "core/vec.h"
#include "train/engine.h"
#include "train/trainer.h"

typedef struct pt_trainer {
    const pt_model *m;
    const pt_task *t;
    const pt_train_params *p;
    int S, d, nl; /* table rows and width, linear-head labels (0: lm head) */
    int C;        /* the model's width (the linear head's) */
    int deep;     /* 1: the table is a deep prompt (S = D rows of L * 2 * KVC) */
    pt_encoder enc;
    pt_optim opt_enc, opt_head;
    float *table;  // (S, d) encoder output
    float *dtable; // (S, d)
    float *head;   // (nl*d + nl) linear head: W (nl, d) then b (nl)
    float *dhead;  // (nl*d + nl)
    size_t n_head;
    pt_engine eng;
    long step, total;    /* steps done; steps planned */
    int spe;             /* steps per epoch */
    int *perm;           // (n_train) this epoch's order
    uint64_t *order_tmp; // (2 n_train) scratch for grouping by length
    int perm_epoch;
    double best; /* best dev metric (-1: none yet) */
    long best_step;
    int bad_evals;
    float *best_table;                   // (S, d)
    float *best_head;                    // (n_head)
    pt_fvec losses;                      /* training loss of every step */
    pt_fvec ev_step, ev_metric, ev_loss; /* dev evaluations */
    pt_eval_result best_dev;             /* the evaluation that gave best */
    long last_log_step;                  /* step of the last log line (0: none) */
    int have_ckpt;                       /* resumed from or wrote a checkpoint */
    double last_save_t;                  /* monotonic time of the last checkpoint */
    int B;            /* the global batch (the engine's Bmax is a rank's share) */
    int rank, nranks; /* data-parallel run (train/dist.h); 0, 1 alone */
    float *red;       // (n_red) what one step's allreduce sums: dtable, dhead, loss, error, stop
    size_t n_red;
    int stop_all; /* some rank saw a stop request at the last step (nranks > 1) */
} pt_trainer;

/* The example order of one epoch, a function of (seed, epoch) only, so that
 * --resume continues exactly: perm (n) = a shuffle of 0..n-1; with group,
 * batches of similar length (less padding): within chunks of
 * PT_GROUP_BATCHES * B shuffled examples the order is sorted by length (ties
 * keep the shuffled order), then the full batches of B are put in a shuffled
 * order, the partial batch (if any) last. Datasets of at most one chunk keep
 * the plain shuffle. tmp: scratch of 2n. */
#define PT_GROUP_BATCHES 50
void pt_epoch_order(int *perm, uint64_t *tmp, const pt_examples *train, int B, uint64_t seed,
                    int epoch, int group);

pt_status pt_ckpt_save(const pt_trainer *tr, const char *path);
/* Load a checkpoint; the metrics log (when the run has one) is cut back to
 * the length it had when the checkpoint was written. */
pt_status pt_ckpt_load(pt_trainer *tr, const char *path);

/* trainlog.c: the metrics log. A fresh run starts it empty; a line is
 * appended at each logging step (dev results when ev != NULL); train_loss is
 * the mean of the training losses since the previous line. */
pt_status pt_log_start(const pt_trainer *tr);
pt_status pt_log_line(pt_trainer *tr, const pt_eval_result *ev);
/* Bytes in the log now (0 without one). */
long pt_log_size(const pt_trainer *tr);
/* Outputs vs inputs and each other, creatable, and out's lock (see
 * pt_train_check_outputs); lock != NULL keeps the lock held. */
pt_status pt_train_outputs(const pt_train_params *p, pt_lock *lock);
pt_status pt_plot_svg(const char *path, const pt_trainer *tr, const char *metric_name);

#endif
