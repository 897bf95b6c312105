/* promptfile.h - the trained prompt: a safetensors file of a few kilobytes.
 *
 * Tensors: prompt.embeddings F32 (S, d) - the encoder's output (inference
 *          needs no encoder); for the linear head also head.weight
 *          (n_labels, d) and head.bias (n_labels).
 * __metadata__ (all strings):
 *   ptune.template          the template
 *   ptune.task              "classify" | "knowledge"
 *   ptune.head              "lm" | "linear"
 *   ptune.labels            JSON object label value -> word, in label order
 *                           (absent for knowledge probing; words "" for a
 *                           linear head without words)
 *   ptune.label_field       data field holding the label (default "label")
 *   ptune.model.family      "gpt2" | "bert" | "llama"
 *   ptune.model.width       d
 *   ptune.model.vocab_size  V
 *   ptune.model.fingerprint 64-bit FNV-1a of the float32 word-embedding matrix
 *                           (see pt_model_fingerprint), 16 hex digits
 *   ptune.encoder           encoder that produced the table (informative)
 *   ptune.encoder_hidden    the mlp encoder's hidden width (informative)
 *   ptune.method            "ptuning" (absent: the same), "prefix" or "ptuning-v2"
 * Deep prompts (prefix, ptuning-v2) hold prompt.deep F32 (D, L * 2 * KVC):
 * every layer's D prefix keys and values in PEFT's layout (row j: layer 0's
 * key, layer 0's value, layer 1's key, ...; see train/engine.h); their
 * prompt.embeddings is absent unless the template also has [P] tokens.
 * A file without the identity keys loads with a warning; one whose identity
 * contradicts the model is refused.
 */
#ifndef PT_PROMPT_PROMPTFILE_H
#define PT_PROMPT_PROMPTFILE_H

#include "models/model.h"
#include "prompt/task.h"
#include "ptune.h"

typedef struct pt_prompt {
    char *template_src;
    pt_task_kind task;
    pt_head_kind head;
    char *labels_spec; /* "value:word,..." rebuilt from ptune.labels (NULL for knowledge) */
    char *label_field;
    char *encoder;
    int encoder_hidden; /* mlp hidden width, 0 = unknown or another encoder */
    int S, d;
    float *table;    // (S, d), NULL when S = 0 (a deep prompt only)
    char method[16]; /* "ptuning", "prefix" or "ptuning-v2" */
    int D, W;        /* deep prompt rows and width (0: none) */
    float *deep;     // (D, W)
    int n_labels;    /* rows of head.weight (linear head) */
    float *head_w;   // (n_labels, d) or NULL
    float *head_b;   // (n_labels) or NULL
    int peft;        /* 0 a prompt file, 1 a PEFT adapter directory ptune exported, 2 any other */
    int peft_layers, peft_kv_heads; /* a PREFIX_TUNING adapter's num_layers and
                                       num_attention_heads (checked against the model), or 0 */
    int has_identity;
    char family[16];
    int width, vocab_size;
    char fingerprint[17];
} pt_prompt;

/* Fill identity fields from a model. */
void pt_prompt_set_identity(pt_prompt *p, const pt_model *m);
pt_status pt_prompt_save(const pt_prompt *p, const pt_task *t, const char *path);
/* A prompt file, or a Hugging Face PEFT adapter directory (prompt/peft.h). */
pt_status pt_prompt_load(pt_prompt *p, const char *path);

/* What a PEFT adapter directory cannot say for itself: NULL / 0 members keep
 * the adapter's own (ptune's export records them) or the defaults (template
 * "[P*n][START]{text} [MASK]", label field "label", classification). A prompt
 * file carries its own: giving any of these with one is an error. */
typedef struct pt_prompt_overrides {
    const char *template_text;
    const char *labels; /* "value:word,..." */
    const char *label_field;
    int knowledge;
} pt_prompt_overrides;
pt_status pt_prompt_load_ex(pt_prompt *p, const char *path, const pt_prompt_overrides *o);

/* The template, task, head, labels, label field, encoder and identity from
 * the ptune.* metadata of an open safetensors file (the table is not read).
 * Without ptune.template: PT_ERR_FORMAT naming what, unless optional (then
 * PT_OK with p->template_src NULL and nothing read). */
struct pt_st_file;
struct pt_st_writer;
pt_status pt_prompt_read_meta(pt_prompt *p, const struct pt_st_file *f, const char *path,
                              int optional);
/* The ptune.* metadata of p into a safetensors writer (labels from t when
 * given, else from p->labels_spec). */
pt_status pt_prompt_write_meta(const pt_prompt *p, const pt_task *t, struct pt_st_writer *w);
/* PT_ERR_MISMATCH naming what differs (a deep prompt without input rows or
 * head, d = 0, is checked by its row width and PEFT's layer and head counts); PT_OK with *warn = 1
 * when the file has no identity keys, *warn = 2 when its fingerprint is the model's as ptune 0.1
 * computed it (a wrong FNV offset basis): accepted, the caller says so. */
pt_status pt_prompt_check_model(const pt_prompt *p, const pt_model *m, int *warn);
void pt_prompt_free(pt_prompt *p);

#endif
