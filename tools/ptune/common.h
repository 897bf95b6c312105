/* common.h - what several subcommands share: loading a model, building the
 * task from options or from a prompt file, rendering a data file. */
#ifndef PTUNE_COMMON_H
#define PTUNE_COMMON_H

#include "args.h"
#include "models/model.h"
#include "prompt/promptfile.h"
#include "prompt/task.h"
#include "train/dataset.h"

/* Load the model named by --model; prints the error. */
int load_model(const char *cmd, const args *a, pt_model **m);
/* load_model, then pt_model_set_precision from --precision f32|bf16 (bf16:
 * opened as stored and converted once, no float32 copy on the way; the
 * command must declare the option). */
int load_model_prec(const char *cmd, const args *a, pt_model **m);
/* Task from --template, --labels / --knowledge, --head, --label-field. */
/* --head when absent: "lm" (ptune train --method ptuning-v2 sets "linear") */
extern const char *task_default_head;
int task_from_args(const char *cmd, const args *a, const pt_model *m, pt_task *t);
/* Task from a prompt file (its template, labels, head). */
int task_from_prompt(const char *cmd, const pt_prompt *p, const pt_model *m, pt_task *t);
/* Load a data file and render it; need_labels as in pt_examples_build.
 * Prints the truncation warning once. */
int load_examples(const char *cmd, const char *path, const pt_task *t, const pt_model *m,
                  int need_labels, int max_len, pt_dataset *d, pt_examples *ex);
/* Render a loaded data file (as load_examples, after pt_dataset_load). */
int build_examples(const char *cmd, const pt_dataset *d, const pt_task *t, const pt_model *m,
                   int need_labels, int max_len, pt_examples *ex);
/* Data-parallel runs (mpirun, train/dist.h): every rank says whether it
 * failed so far (all must call it, once, at the same point); 1 when any
 * did, with the failing rank's message printed by rank 0 (if rank 0 failed
 * it has printed its own). 0 when all are fine; always 0 with one rank. */
int dist_agree(const char *cmd, int failed);
/* Rank 0 prints "ptune CMD: data-parallel: N ranks x T threads; hosts ..." and
 * warns when a rank's CPU binding leaves fewer cores than threads. Collective. */
void dist_banner(const char *cmd);
/* --threads N (0 = all cores). */
int set_threads(const char *cmd, const args *a);

/* The launch time survives ptune's one re-exec (main.c) through PTUNE_T0, so
 * that seconds_since_launch counts from the user's command. */
void mark_launch(void);
double seconds_since_launch(void);

/* The note for prompt files carrying ptune 0.1's fingerprint (cmd, path). */
#define PT_OLD_FINGERPRINT_NOTE                                                                    \
    "ptune %s: note: %s carries the model fingerprint of ptune 0.1 (a wrong FNV offset basis); "   \
    "accepted. Re-save it (ptune train --resume, or train again) to store the corrected one\n"

/* One warning line on stderr when the user's OPENBLAS_CORETYPE is below
 * what this CPU supports (honoured anyway). */
void warn_openblas_env(const char *cmd);

#endif
