/* task.h - what is being learned: template, labels (verbalizer) or knowledge
 * probing, head; and the examples rendered for a model.
 *
 *   classify + lm head      score of label k = LM logit of label word k at the answer
 *                           position; loss = cross-entropy over the label words
 *   knowledge (lm head)     the label field is the answer word (one token); loss =
 *                           cross-entropy over the whole vocabulary; metric P@1
 *   classify + linear head  score = W h + b, W (n_labels, d), trained with the prompts
 */
#ifndef PT_PROMPT_TASK_H
#define PT_PROMPT_TASK_H

#include "models/model.h"
#include "prompt/template.h"
#include "ptune.h"
#include "train/dataset.h"

typedef enum pt_task_kind {
    PT_TASK_CLASSIFY,
    PT_TASK_KNOWLEDGE,
} pt_task_kind;

typedef enum pt_head_kind {
    PT_HEAD_LM,
    PT_HEAD_LINEAR,
} pt_head_kind;

typedef struct pt_task {
    pt_task_kind kind;
    pt_head_kind head;
    pt_template tmpl;
    char *label_field;   /* default "label" */
    int n_labels;        /* classify */
    char **label_values; /* (n_labels) value in the data */
    char **label_words;  /* (n_labels) verbalizer words (lm head), may be NULL for linear */
    int *label_ids[2];   /* (n_labels) token id of each word without [0] / with [1] a
                          * leading space; -1 when not a single token */
    int *vocab_filter;   /* knowledge: P@1 restricted to these ids (NULL = whole vocab) */
    int n_filter;
} pt_task;

/* Parse "pos:great,neg:terrible" (value:word pairs; the last ':' splits, so
 * values may contain ':'). With the linear head the words may be omitted
 * ("pos,neg"). */
pt_status pt_task_set_labels(pt_task *t, const char *spec, int need_words);
/* Initialise: template parsed and checked against the model, label words
 * tokenized (error naming a multi-token word). */
pt_status pt_task_init(pt_task *t, const pt_model *m, const char *tmpl, pt_task_kind kind,
                       pt_head_kind head, const char *labels, const char *label_field);
/* Knowledge: restrict P@1 to the words (one per line) of a file. */
pt_status pt_task_load_vocab_filter(pt_task *t, const pt_model *m, const char *path);
void pt_task_free(pt_task *t);
/* Number of score columns: n_labels, or V for knowledge probing. */
int pt_task_n_scores(const pt_task *t, const pt_model *m);

typedef struct pt_example {
    pt_rendered r;
    int target; /* label index (classify) or token id (knowledge); -1 if unlabelled */
} pt_example;

typedef struct pt_examples {
    pt_example *ex;
    int n;
    int max_len;   /* longest rendered sequence */
    int truncated; /* examples that had a field truncated */
} pt_examples;

/* Render every example of a dataset. need_labels: a missing or unknown label
 * is an error naming the line. */
pt_status pt_examples_build(pt_examples *out, const pt_task *t, const pt_model *m,
                            const pt_dataset *d, int need_labels, int max_len);
void pt_examples_free(pt_examples *e);

#endif
