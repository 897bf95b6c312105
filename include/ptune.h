/*
 * ptune.h - public API of libptune: P-Tuning of frozen language models in C.
 *
 * Every function that can fail returns a pt_status; on failure
 * pt_last_error() returns a message naming the file, field or line that was
 * wrong (thread-local, valid until the next failing call on this thread).
 *
 * Thread safety. A loaded pt_model is read-only after pt_model_load: any
 * number of threads may use it at once, each through its own pt_tuner
 * (training, evaluating, predicting, exporting); nothing a tuner does writes
 * the model (its fingerprint is computed once under a lock, recompute is
 * the training run's own setting). One pt_tuner is used by one thread at a
 * time. pt_model_free only after every tuner on the model is freed. Each
 * call uses OpenMP threads of its own: OMP_NUM_THREADS, or the threads
 * option of the call (set for the calling thread and restored after it).
 *
 * Options and ABI. The option structs are filled by their _default function
 * (pt_train_options_default, pt_eval_options_default,
 * pt_model_options_default; pt_task_options: zero is every default), which
 * holds the library's defaults - the ptune tool takes its defaults from the
 * same functions. Before version 1.0 a minor version may add fields at the
 * end of a struct (0.4 added threads, init, max_len, vocab_filter,
 * precision): rebuild against the new header, and keep filling the structs
 * with the _default functions or designated initializers so that new fields
 * get their defaults.
 *
 * The ptune tool uses this API for its defaults, precision and model
 * loading; for what the API does not cover yet (deep prompts, resume of a
 * recorded command line, predict's per-example output, generate, info,
 * tokenize, quantize, bench) it still uses internal headers, listed with
 * the reason for each in README.md ("The library"). A program of your own
 * needs only this header.
 */
#ifndef PTUNE_H
#define PTUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The version of this header; pt_version() gives the library's. The shared
 * library's soname is libptune.so.MAJOR. */
#define PTUNE_VERSION_MAJOR 0
#define PTUNE_VERSION_MINOR 4
#define PTUNE_VERSION_PATCH 0
#define PTUNE_VERSION_STRING "0.4.0"

/* PT_API marks the functions the shared library exports; everything else in
 * libptune is hidden (built with -fvisibility=hidden). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define PT_API __attribute__((visibility("default")))
#else
#define PT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* "MAJOR.MINOR.PATCH" of the library linked in. */
PT_API const char *pt_version(void);

typedef enum pt_status {
    PT_OK = 0,
    PT_ERR_IO = 1,          /* file could not be opened, read or written */
    PT_ERR_FORMAT = 2,      /* a file or string is malformed */
    PT_ERR_NOMEM = 3,       /* allocation failed or a size is absurd */
    PT_ERR_ARG = 4,         /* invalid argument or option */
    PT_ERR_UNSUPPORTED = 5, /* valid but not supported (dtype, architecture) */
    PT_ERR_NUMERIC = 6,     /* NaN or infinity met */
    PT_ERR_MISMATCH = 7,    /* files disagree (config vs tensors, prompt vs model) */
    PT_ERR_INTERRUPTED = 8, /* stopped by a signal */
} pt_status;

/* Message of the last failure on this thread ("" if none). */
PT_API const char *pt_last_error(void);
/* Short constant name of a status ("PT_ERR_IO"). */
PT_API const char *pt_status_name(pt_status s);

/* ------------------------------------------------------------------------
 * Models. A model is frozen: ptune never changes or differentiates its weights.
 * PATH is a Hugging Face directory (config.json + model.safetensors +
 * tokenizer files), a .safetensors file with its config.json beside it, or a
 * .gguf file (LLaMA family).
 */
typedef struct pt_model pt_model;
PT_API pt_status pt_model_load(pt_model **out, const char *path);
typedef struct pt_model_options {
    const char *precision; /* precision of the frozen block matrices: "f32" (the default; "fp32"
                              too) or "bf16" (half their memory, float32 accumulation; opened as
                              stored and converted once, no float32 copy on the way). Float
                              weights only: quantized matrices stay as stored. */
} pt_model_options;
PT_API void pt_model_options_default(pt_model_options *o);
/* pt_model_load with options (o NULL: the defaults, as pt_model_load). */
PT_API pt_status pt_model_load_ex(pt_model **out, const char *path, const pt_model_options *o);
PT_API void pt_model_free(pt_model *m);

/* ------------------------------------------------------------------------
 * Tuners: a task bound to a model - template, labels or knowledge probing,
 * head - and, once trained or loaded, its prompt.
 *
 *   pt_model *m;  pt_tuner *t;
 *   if (pt_model_load(&m, "gpt2") != PT_OK) { fprintf(stderr, "%s\n", pt_last_error()); ... }
 *   pt_task_options task = {.template_text = "[P*3] {sentence} It was [MASK]",
 *                           .labels = "pos:great,neg:terrible"};
 *   pt_tuner_new(&t, m, &task);
 *   pt_train_options o;
 *   pt_train_options_default(&o);
 *   o.out = "sentiment.safetensors";
 *   pt_tuner_train(t, "train.jsonl", "dev.jsonl", &o);   // keeps the best dev prompt
 *   const char *fields[] = {"sentence"}, *values[] = {"A wonderful film."};
 *   int label;  float probs[2];
 *   pt_tuner_predict(t, fields, values, 1, &label, probs);
 *   printf("%s %.3f\n", pt_tuner_label(t, label), probs[label]);
 *   pt_tuner_free(t);  pt_model_free(m);
 *
 * Later, with the unchanged model: pt_tuner_load(&t, m, "sentiment.safetensors").
 */
typedef struct pt_tuner pt_tuner;

typedef struct pt_task_options {
    const char *template_text; /* "[P*3] {sentence} It was [MASK]" */
    const char *labels;        /* "value:word,..." (classification) */
    int knowledge;             /* 1: knowledge probing (label field = answer word) */
    int linear_head;           /* 1: train a Linear(d, n_labels) head instead of the LM head */
    const char *label_field;   /* NULL: "label" */
    const char *vocab_filter;  /* knowledge probing: a file of words, one per line; the answer
                                  and P@1 are taken over their tokens only (NULL: the whole
                                  vocabulary); pt_tuner_set_vocab_filter for a loaded tuner */
} pt_task_options;

typedef struct pt_train_report {
    long step, total_steps;
    int epoch;
    double loss;   /* mean training loss since the last report */
    int evaluated; /* 1: the dev fields below are fresh */
    double dev_loss, dev_accuracy, dev_f1;
    double best; /* best dev accuracy so far (-1: none) */
    double examples_per_s, eta_s;
} pt_train_report;

/* Called every 10 steps, at each dev evaluation and at the end. Return true
 * to cancel (as llama.cpp's abort callbacks do): training stops after this
 * step, writes its checkpoint (o->out + ".ckpt", which o->resume continues)
 * and pt_tuner_train returns PT_ERR_INTERRUPTED. Return false to go on. */
typedef bool (*pt_train_callback)(const pt_train_report *r, void *user);

typedef struct pt_train_options {
    const char *encoder;   /* "lstm" (default), "mlp", "embedding" */
    int hidden;            /* mlp hidden width (0: model width) */
    const char *optimizer; /* "adamw" (default), "adam", "sgd" */
    float lr, clip;
    float weight_decay; /* < 0 (the default, -1): the optimizer's own, 0.01 for adamw and 0 for
                           adam and sgd (the CLI's defaults are the same, from the same place) */
    int batch, epochs;
    long steps, warmup; /* steps 0: from epochs */
    uint64_t seed;
    int eval_every, patience;
    const char *out;        /* prompt file (required); out.ckpt is the checkpoint */
    const char *resume;     /* checkpoint to continue from, or NULL */
    const char *log, *plot; /* optional JSON Lines metrics log, SVG curve */
    int recompute;          /* 1: keep only each block's input in the forward pass and recompute
                               the block in backward (less memory, ~1/3 more work, same result);
                               this run's own setting: the shared model is not changed */
    pt_train_callback progress;
    void *user;
    /* since 0.4 */
    int threads;      /* OpenMP threads for this call (0, the default: OMP_NUM_THREADS / all) */
    const char *init; /* seed vectors of the encoder: NULL (the default: normal), "vocab"
                         (embeddings of random vocabulary tokens), "words:a b c" (the
                         embeddings of these words' tokens, cycled) or the path of a prompt
                         file (its table) - the CLI's --init */
    int max_len;      /* truncate examples to this many tokens: the longest field is cut from
                         its end (0, the default: the model's limit) */
} pt_train_options;

PT_API void pt_train_options_default(pt_train_options *o);

PT_API pt_status pt_tuner_new(pt_tuner **out, pt_model *m, const pt_task_options *task);
/* A tuner from a prompt file (its template, labels and head); refused if the
 * file was trained for another model. prompt_path may also be a Hugging Face
 * PEFT adapter directory (adapter_config.json + adapter_model.safetensors,
 * peft_type P_TUNING or PROMPT_TUNING) that ptune exported, or any such
 * directory through pt_tuner_load_adapter. */
PT_API pt_status pt_tuner_load(pt_tuner **out, pt_model *m, const char *prompt_path);
/* A tuner from a PEFT prompt-learning adapter directory. PEFT places its n
 * virtual tokens before the whole input, the start token (BOS, [CLS])
 * included: the template defaults to "[P*n][START]{text} [MASK]" ([START]
 * marks where the start token goes). task (may be NULL) supplies what the
 * directory cannot say: template_text, labels or knowledge, label_field
 * (NULL / 0: the directory's own, recorded by pt_tuner_export_peft, or the
 * defaults). linear_head must be 0. */
PT_API pt_status pt_tuner_load_adapter(pt_tuner **out, pt_model *m, const char *dir,
                                       const pt_task_options *task);
/* Write the tuner's prompt as a PEFT adapter directory (created if absent).
 * Refused, saying why, unless the template begins with its only group of
 * virtual tokens, before the start token ("[P*8][START]{sentence} [MASK]";
 * GPT-2 has none: "[P*8]{sentence} [MASK]"), and the head is lm. A deep
 * prompt (prefix, ptuning-v2 with an lm head, no [P]) becomes a PREFIX_TUNING
 * adapter; pt_tuner_load / pt_tuner_load_adapter read those too. */
PT_API pt_status pt_tuner_export_peft(const pt_tuner *t, const char *dir);
/* Train on a data file (.jsonl/.tsv/.csv), optionally keeping the best dev
 * prompt; afterwards the tuner holds the prompt written to o->out. */
PT_API pt_status pt_tuner_train(pt_tuner *t, const char *train_path, const char *dev_path,
                                const pt_train_options *o);
/* Mean loss and accuracy (P@1 for knowledge probing) on labelled data
 * (pt_tuner_evaluate with the default options). */
PT_API pt_status pt_tuner_eval(pt_tuner *t, const char *data_path, double *loss, double *accuracy);

typedef struct pt_eval_options {
    int batch;   /* examples per batch (default 16; the results do not depend on it) */
    int max_len; /* truncate examples to this many tokens (0, the default: the model's limit) */
    int threads; /* OpenMP threads for this call (0, the default: OMP_NUM_THREADS / all) */
} pt_eval_options;
PT_API void pt_eval_options_default(pt_eval_options *o);

typedef struct pt_eval_metrics {
    double loss;     /* mean cross-entropy over the examples */
    double accuracy; /* fraction correct; for knowledge probing P@1 */
    double f1;       /* classification: macro-F1 over the classes seen; knowledge: P@1 */
    int knowledge;   /* 1: a knowledge-probing task (accuracy and f1 are P@1) */
    int n;           /* examples scored */
    int truncated;   /* examples cut to fit max_len or the model's limit */
} pt_eval_metrics;
/* The metrics ptune eval prints, for a data file (.jsonl/.tsv/.csv). */
PT_API pt_status pt_tuner_evaluate(pt_tuner *t, const char *data_path, const pt_eval_options *o,
                                   pt_eval_metrics *r);
/* Knowledge probing: answers (predictions and P@1) only among the tokens of
 * the words in this file (one per line); NULL removes the filter. */
PT_API pt_status pt_tuner_set_vocab_filter(pt_tuner *t, const char *path);
/* Classify one example given as field names and values: *label is the best
 * label's index, probs (n_labels, may be NULL) their probabilities. The
 * engine is built at the first call and kept (rebuilt only for a longer
 * example), so calls in a loop do not allocate it each time. */
PT_API pt_status pt_tuner_predict(pt_tuner *t, const char *const *fields, const char *const *values,
                                  int n_fields, int *label, float *probs);
/* Knowledge probing: the k most probable answer tokens for one example,
 * best first (among the vocabulary filter's tokens when one is set, as ptune
 * predict --top k): ids[i] the token ids, probs[i] their probabilities over
 * the whole vocabulary (either may be NULL), *n_out (may be NULL) how many
 * were written (fewer than k only when the filter is smaller). */
PT_API pt_status pt_tuner_predict_top(pt_tuner *t, const char *const *fields,
                                      const char *const *values, int n_fields, int k, int *ids,
                                      float *probs, int *n_out);
/* The text of one token of the tuner's model (a leading space where the
 * tokenizer has one), NUL-terminated into buf of cap bytes. */
PT_API pt_status pt_tuner_token_text(const pt_tuner *t, int id, char *buf, size_t cap);
/* The prompt in memory: the (n_virtual, width) table the model reads at the
 * template's [P] tokens (the encoder's output), owned by the tuner and valid
 * until it is trained, set or freed; NULL (sizes 0) before a prompt exists or
 * for a deep prompt. */
PT_API const float *pt_tuner_prompt(const pt_tuner *t, int *n_virtual, int *width);
/* Use this table (copied) as the tuner's prompt, without a file: n_virtual
 * must be the template's [P] count and width the model's; a tuner from
 * pt_tuner_new then predicts, evaluates and exports with it (as an embedding
 * table: PEFT's PROMPT_TUNING). Refused for a deep prompt and for a linear
 * head with no weights yet. */
PT_API pt_status pt_tuner_set_prompt(pt_tuner *t, const float *table, int n_virtual, int width);
PT_API int pt_tuner_n_labels(const pt_tuner *t);
PT_API const char *pt_tuner_label(const pt_tuner *t, int k);
PT_API void pt_tuner_free(pt_tuner *t);

#ifdef __cplusplus
}
#endif
#endif /* PTUNE_H */
