/* cmd_train.c - ptune train: P-tune a frozen model on a task. */
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "train/engine.h"
#include "common.h"
#include "train/dist.h"
#include "core/error.h"
#include "core/files.h"
#include "core/io.h"
#include "core/mem.h"
#include "core/vec.h"
#include "diagnose.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "train/trainer.h"

static const opt OPTS[] = {
    {"model", "PATH", "model directory, .safetensors or .gguf (required)"},
    {"train", "FILE", "training examples: .jsonl, .tsv or .csv (required)"},
    {"dev", "FILE", "dev examples: the best dev checkpoint is kept"},
    {"template", "T", "template with [P]/[P*n] virtual tokens, {field}s and [MASK] (required)"},
    {"labels", "L", "value:word pairs for classification, e.g. \"pos:great,neg:terrible\""},
    {"knowledge", NULL, "knowledge probing: the label field is the answer word (P@1)"},
    {"vocab-filter", "FILE", "knowledge probing: P@1 over these words only (one per line)"},
    {"head", "lm|linear",
     "lm: score label words with the LM head (default); linear: train a "
     "classifier on the answer's hidden state"},
    {"label-field", "NAME", "data field holding the label (default label)"},
    {"method", "M",
     "ptuning (default: the template's [P] vectors at the input), prefix (prefix tuning: "
     "trainable keys and values in front of every layer's attention, from an MLP; the "
     "template needs no [P]) or ptuning-v2 (the same deep prompt stored directly, linear head "
     "by default)"},
    {"prefix-len", "N", "deep prompt length for prefix and ptuning-v2 (default 10)"},
    {"encoder", "E",
     "prompt encoder: lstm (default), mlp or embedding; for deep prompts mlp (prefix's "
     "default: PEFT's PrefixEncoder, a tanh MLP) or embedding (ptuning-v2's)"},
    {"hidden", "H", "mlp encoder hidden width (default: the model width)"},
    {"init", "I",
     "seed vectors: vocab (random token embeddings), words:\"a b c\", or a prompt "
     "FILE (default: normal)"},
    {"optimizer", "O", "adamw (default), adam (L2 decay) or sgd"},
    {"lr", "X", "learning rate (default 0.001)"},
    {"weight-decay", "X", "weight decay (default 0.01 for adamw, 0 for adam and sgd)"},
    {"batch", "N", "examples per step (default 8)"},
    {"epochs", "N", "passes over the training data (default 3)"},
    {"steps", "N", "total optimizer steps (overrides --epochs)"},
    {"warmup", "N", "linear warm-up steps, then linear decay (default 0)"},
    {"clip", "X", "clip the global gradient norm at X; 0 = off (default 1)"},
    {"seed", "N", "random seed: a fixed seed gives a bit-identical run (default 42)"},
    {"no-length-groups", NULL,
     "plain shuffled batches (default: beyond 50 batches of data, "
     "each batch holds examples of similar length, less padding; the "
     "order still follows --seed)"},
    {"threads", "N", "threads (default: all cores)"},
    {"precision", "f32|bf16",
     "bf16: block weights stored and multiplied in bf16 (half the "
     "memory; float32 accumulation; default f32); with AVX512-BF16 the products run "
     "vdpbf16ps on activations rounded to bf16 (PTUNE_BF16_ARITH=f32|bf16|bf16x2 picks; "
     "ptune info --build says which); float weights only: "
     "quantized matrices stay as stored"},
    {"no-check", NULL,
     "skip the check, made once at load, that every weight of the model is finite"},
    {"recompute", NULL,
     "keep only each block's input during the forward pass and recompute the "
     "block just before its backward: activation memory drops to about one "
     "block's worth, for about a third more work per step (results "
     "bit-identical)"},
    {"eval-every", "N",
     "evaluate on --dev every N steps (default: once per epoch); without --dev, write "
     "the prompt, the checkpoint and a log line every N steps"},
    {"patience", "N", "stop after N evaluations without improvement (default: never)"},
    {"max-len", "N", "truncate examples to N tokens (default: the model's limit)"},
    {"out", "FILE",
     "prompt file to write (default prompt.safetensors); FILE.ckpt holds the "
     "checkpoint"},
    {"resume", "FILE.ckpt",
     "continue an interrupted run from its checkpoint (alone: the original options; "
     "of the others only --threads, --quiet, --save-every, --plot, --recompute, "
     "--accept-changed-data and --no-check may differ)"},
    {"save-every", "N|Ts",
     "checkpoint every N steps, or every T seconds with an s (\"30s\"); 0 = only at "
     "evaluations, interruptions and the end (default 60s)"},
    {"accept-changed-data", NULL,
     "--resume although --train or --dev changed since the checkpoint (default: refuse)"},
    {"log", "FILE",
     "metrics log, JSON lines: one per dev evaluation; without --dev one per 10 steps "
     "(and per --eval-every step), with the training loss and learning rate"},
    {"plot", "FILE.svg", "training curve: loss and dev metric against step"},
    {"quiet", NULL, "no progress output"},
    {"interrupt-at", "N", "testing aid: stop as if interrupted after step N"},
};

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

typedef struct ui {
    int tty, quiet;
    const char *metric;
} ui;

static void fmt_time(char *b, size_t n, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(b, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(b, n, "%ld:%02ld", t / 60, t % 60);
}

static void on_progress(const pt_progress *p, void *user) {
    ui *u = user;
    if (u->quiet) return;
    if (p->starting) {
        fprintf(stderr, "ptune train: first step starts %.2f s after launch\n",
                seconds_since_launch());
        return;
    }
    char eta[32], line[320];
    fmt_time(eta, sizeof eta, p->eta_s);
    int n = snprintf(line, sizeof line, "step %ld/%ld  epoch %d  loss %.4f", p->step,
                     p->total_steps, p->epoch, p->loss_avg);
    if (p->evaluated)
        n += snprintf(line + n, sizeof line - n, "  dev loss %.4f %s %.4f", p->dev.loss, u->metric,
                      p->dev.accuracy);
    if (p->best >= 0) n += snprintf(line + n, sizeof line - n, " (best %.4f)", p->best);
    snprintf(line + n, sizeof line - n, "  %.1f ex/s  ETA %s", p->examples_per_s, eta);
    if (u->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        if (p->evaluated || p->step == p->total_steps) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

static void json_arg(pt_buf *b, int *first, const char *s) {
    if (!*first) pt_buf_puts(b, ",");
    pt_json_write_string(b, s, strlen(s));
    *first = 0;
}

/* The training command line as a JSON list, kept in the checkpoint so that
 * "ptune train --resume FILE.ckpt" alone repeats it. Options read from
 * --config are written out as options (the file may change later). */
static char *argv_json(int argc, char **argv, const args *a) {
    pt_buf b = {0};
    pt_buf_puts(&b, "[");
    int first = 1;
    for (int i = 0; i < argc; i++) {
        /* the checkpoint and the testing aid are not part of the run's definition */
        if (!strcmp(argv[i], "--resume") || !strcmp(argv[i], "--interrupt-at") ||
            !strcmp(argv[i], "--config")) {
            i++;
            continue;
        }
        if (!strncmp(argv[i], "--resume=", 9) || !strncmp(argv[i], "--interrupt-at=", 15) ||
            !strncmp(argv[i], "--config=", 9))
            continue;
        json_arg(&b, &first, argv[i]);
    }
    for (int k = 0; k < a->n_opts; k++) {
        const char *name = a->opts[k].name;
        if (!a->from_config || !a->from_config[k] || !strcmp(name, "resume") ||
            !strcmp(name, "interrupt-at"))
            continue;
        char opt_name[80];
        snprintf(opt_name, sizeof opt_name, "--%s", name);
        json_arg(&b, &first, opt_name);
        if (a->opts[k].metavar) json_arg(&b, &first, a->vals[k]);
    }
    pt_buf_puts(&b, "]");
    return b.v;
}

/* Re-read the original command line from a checkpoint. */
static int argv_from_ckpt(const char *path, int *argc, char ***argv, pt_json_doc *doc) {
    pt_st_file f;
    if (pt_st_open(&f, path)) return die("train", "%s", pt_last_error());
    const char *js = pt_st_meta(&f, "ptune.ckpt.argv");
    if (!js) {
        pt_st_close(&f);
        return die("train",
                   "%s: the checkpoint does not record its command line; repeat the "
                   "original options with --resume",
                   path);
    }
    int bad = pt_json_parse(doc, js, strlen(js)) || doc->root->type != PT_JSON_ARRAY;
    pt_st_close(&f);
    if (bad) return die("train", "%s: bad ptune.ckpt.argv", path);
    int n = (int)doc->root->len;
    char **v = calloc((size_t)n + 2, sizeof(char *));
    if (!v) return die("train", "out of memory");
    for (int i = 0; i < n; i++) v[i] = (char *)doc->root->items[i]->str;
    *argc = n;
    *argv = v;
    return 0;
}

/* Options that may differ from the checkpoint's run on --resume: they do not
 * change what is computed. */
static const char *const RESUME_FREE[] = {
    "threads", "quiet",     "interrupt-at",        "save-every",
    "plot",    "recompute", "accept-changed-data", "no-check",
};

static int resume_free(const char *name) {
    for (size_t i = 0; i < sizeof RESUME_FREE / sizeof RESUME_FREE[0]; i++)
        if (!strcmp(RESUME_FREE[i], name)) return 1;
    return 0;
}

/* --resume with other options: saved (the checkpoint's run) takes given's
 * values of the free options; any other option must repeat the saved value,
 * else it is refused by name. */
static int merge_resume(args *saved, const args *given, const char *ckpt) {
    for (int k = 0; k < given->n_opts; k++) {
        const char *name = given->opts[k].name, *v = given->vals[k], *was = saved->vals[k];
        if (!v || !strcmp(name, "resume")) continue;
        if (resume_free(name)) {
            saved->vals[k] = v;
            continue;
        }
        if (was && !strcmp(was, v)) continue;
        const char *sep = given->opts[k].metavar ? " " : "";
        const char *val = given->opts[k].metavar ? v : "";
        char then[400];
        if (was)
            snprintf(then, sizeof then, "has --%s%s%s", name, sep,
                     given->opts[k].metavar ? was : "");
        else
            snprintf(then, sizeof then, "does not set --%s", name);
        die("train",
            "--%s%s%s cannot change on --resume: the run in %s %s (options that may differ: "
            "--threads, --quiet, --save-every, --plot, --recompute, --accept-changed-data, "
            "--no-check; "
            "start a new run for other settings)",
            name, sep, val, ckpt, then);
        return 1;
    }
    return 0;
}

/* --save-every N (steps) or Ts (seconds) */
static int parse_save_every(const char *v, pt_train_params *p) {
    char *end;
    double x = strtod(v, &end);
    int secs = *end == 's' && end[1] == '\0';
    if (end == v || (*end && !secs) || !(x >= 0) || x > 1e9 || (!secs && x != (long)x)) {
        fprintf(stderr, "ptune: --save-every %s: expected N steps or T seconds (\"30s\")\n", v);
        return 0;
    }
    p->save_every = secs ? 0 : (long)x;
    p->save_every_s = secs ? x : 0;
    return 1;
}

/* The files of a model path that loading may read (all of them must stay
 * untouched by the run's outputs). */
static int model_inputs(const char *model, pt_train_input *in, int n, char **owned) {
    static const char *const NAMES[] = {
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
        "vocab.json",  "merges.txt",        "vocab.txt"};
    int k = 0;
    struct stat st;
    int dir = stat(model, &st) == 0 && S_ISDIR(st.st_mode);
    if (!dir) in[k++] = (pt_train_input){"the model file", model, 0, 0, 0};
    size_t len = strlen(model);
    if (!dir && len > 5 && !strcmp(model + len - 5, ".gguf")) return k;
    char *d = dir ? pt_strdup(model) : NULL;
    if (!dir) {
        const char *slash = strrchr(model, '/');
        d = slash ? pt_strndup(model, (size_t)(slash - model)) : pt_strdup(".");
    }
    for (size_t i = 0; d && i < sizeof NAMES / sizeof NAMES[0] && k < n; i++) {
        char *f = pt_path_join(d, NAMES[i]);
        if (!f) break;
        owned[k] = f;
        in[k++] = (pt_train_input){"the model file", f, 0, 0, 0};
    }
    free(d);
    return k;
}

int cmd_train(int argc, char **argv) {
    args a;
    const char *about =
        "P-tune a frozen model: train the prompt encoder's virtual tokens (and the linear head)\n"
        "on --train, keep the best --dev checkpoint, write a prompt file of a few kilobytes.\n"
        "Ctrl-C finishes the step, writes the checkpoint and says how to resume.\n"
        "In an MPI build (make MPI=1), mpirun -np N ptune train ... trains data-parallel:\n"
        "each rank runs its share of every batch, --threads is per rank (README).";
    const char *usage = "--model M --train F --template T (--labels L | --knowledge) [options]";
    const int n_opts = sizeof OPTS / sizeof OPTS[0];
    int r = args_parse(&a, OPTS, n_opts, argc, argv, "train", usage, about);
    if (r) return r == 1 ? 0 : 2;
    /* --resume: the checkpoint's command line, with the options that may change */
    pt_json_doc saved = {0};
    char **sargv = NULL;
    const char *resume = arg_str(&a, "resume", NULL);
    if (resume) {
        pt_st_file f;
        int has_argv = 0;
        if (!pt_st_open(&f, resume)) {
            has_argv = pt_st_meta(&f, "ptune.ckpt.argv") != NULL;
            pt_st_close(&f);
        }
        if (has_argv || !arg_str(&a, "model", NULL)) {
            int sargc = 0;
            args given = a, was;
            if (argv_from_ckpt(resume, &sargc, &sargv, &saved)) {
                args_free(&a);
                return 1;
            }
            r = args_parse(&was, OPTS, n_opts, sargc, sargv, "train", usage, about);
            if (r) {
                args_free(&a);
                free(sargv);
                pt_json_doc_free(&saved);
                return r == 1 ? 0 : 2;
            }
            if (merge_resume(&was, &given, resume)) {
                args_free(&was);
                args_free(&a);
                free(sargv);
                pt_json_doc_free(&saved);
                return 2;
            }
            args_free(&a);
            a = was;
            argc = sargc;
            argv = sargv;
        }
    }
    /* from here on a signal is a request to stop cleanly at the next step boundary */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pt_train_params p;
    pt_train_default_params(&p);
    pt_model *m = NULL;
    pt_task t;
    pt_dataset dtr, ddev;
    pt_examples etr, edev;
    int rc = 1, agreed = 0, have_task = 0, have_tr = 0, have_dev = 0, have_etr = 0, have_edev = 0;
    char *cmdline = NULL, *owned[16] = {0};
    pt_train_input in[16];
    int n_in = 0;
    long batch, epochs, steps, warmup, seed, every, patience, hidden, max_len;
    double lr, wd, clip;
    pt_train_options dflt0;
    pt_train_options_default(&dflt0);
    const char *enc = arg_str(&a, "encoder", dflt0.encoder);
    const char *optname = arg_str(&a, "optimizer", dflt0.optimizer);
    const char *init = arg_str(&a, "init", dflt0.init);
    /* the defaults are the library's (ptune.h), the same as an API caller's */
    const pt_train_options dflt = dflt0;
    if (!arg_int(&a, "batch", dflt.batch, 1, 4096, &batch) ||
        !arg_int(&a, "epochs", dflt.epochs, 1, 100000, &epochs) ||
        !arg_int(&a, "steps", dflt.steps, 0, 100000000, &steps) ||
        !arg_int(&a, "warmup", dflt.warmup, 0, 100000000, &warmup) ||
        !arg_int(&a, "seed", (long)dflt.seed, 0, 0x7fffffffffffffffL, &seed) ||
        !arg_int(&a, "eval-every", dflt.eval_every, 0, 100000000, &every) ||
        !arg_int(&a, "patience", dflt.patience, 0, 1000000, &patience) ||
        !arg_int(&a, "hidden", dflt.hidden, 0, 65536, &hidden) ||
        !arg_int(&a, "max-len", dflt.max_len, 0, 1 << 20, &max_len) ||
        !arg_int(&a, "interrupt-at", 0, 0, 100000000, &p.stop_at) ||
        !arg_float(&a, "lr", dflt.lr, 1e-12, 10, &lr) ||
        !arg_float(&a, "weight-decay", dflt.weight_decay, 0, 0.999, &wd) ||
        !arg_float(&a, "clip", dflt.clip, 0, 1e6, &clip) ||
        !parse_save_every(arg_str(&a, "save-every", "60s"), &p) || set_threads("train", &a))
        goto out;
    if (!arg_flag(&a, "quiet")) warn_openblas_env("train");
    const char *method = arg_str(&a, "method", "ptuning");
    long prefix_len;
    if (!pt_method_parse(method, &p.method)) {
        die("train", "--method must be ptuning, prefix or ptuning-v2, not \"%s\"", method);
        goto out;
    }
    if (!arg_int(&a, "prefix-len", 10, 1, 4096, &prefix_len)) goto out;
    p.deep_len = (int)prefix_len;
    if (p.method != PT_METHOD_PTUNING && !arg_str(&a, "encoder", NULL))
        enc = p.method == PT_METHOD_PREFIX ? "mlp" : "embedding";
    if (p.method == PT_METHOD_PTUNING_V2) task_default_head = "linear";
    if (!pt_encoder_kind_parse(enc, &p.encoder)) {
        die("train", "--encoder must be lstm, mlp or embedding, not \"%s\"", enc);
        goto out;
    }
    if (!pt_optim_kind_parse(optname, &p.optimizer)) {
        die("train", "--optimizer must be adamw, adam or sgd, not \"%s\"", optname);
        goto out;
    }
    if (init) {
        if (!strcmp(init, "vocab"))
            p.init = PT_INIT_VOCAB;
        else if (!strncmp(init, "words:", 6))
            p.init = PT_INIT_WORDS, p.init_arg = init + 6;
        else
            p.init = PT_INIT_FILE, p.init_arg = init;
    }
    p.batch = (int)batch, p.epochs = (int)epochs, p.steps = steps, p.warmup = warmup;
    p.no_length_groups = arg_flag(&a, "no-length-groups");
    p.seed = (uint64_t)seed, p.eval_every = (int)every, p.patience = (int)patience;
    p.hidden = (int)hidden, p.max_len = (int)max_len;
    p.lr = (float)lr, p.clip = (float)clip;
    p.weight_decay = (float)wd; /* -1 when not given: the library's per-optimizer default */
    p.out = arg_str(&a, "out", "prompt.safetensors");
    p.resume = resume;
    p.log = arg_str(&a, "log", NULL);
    p.plot = arg_str(&a, "plot", NULL);
    p.stop = &g_stop;
    p.accept_changed_inputs = arg_flag(&a, "accept-changed-data");
    cmdline = argv_json(argc, argv, &a);
    p.argv_json = cmdline;
    const char *train = arg_str(&a, "train", NULL), *dev = arg_str(&a, "dev", NULL);
    const char *model = arg_str(&a, "model", NULL), *vf = arg_str(&a, "vocab-filter", NULL);
    if (!train) {
        die("train", "--train is required (see ptune train --help)");
        goto out;
    }
    if (!model) {
        die("train", "--model is required (see ptune train --help)");
        goto out;
    }
    if (pt_train_check_params(&p)) {
        die("train", "%s", pt_last_error());
        goto out;
    }
    /* every file the run reads; no output may be one of them */
    n_in = model_inputs(model, in, 8, owned);
    in[n_in++] = (pt_train_input){"--train", train, 1, 0, 0};
    if (dev) in[n_in++] = (pt_train_input){"--dev", dev, 1, 0, 0};
    if (p.init == PT_INIT_FILE) in[n_in++] = (pt_train_input){"--init", p.init_arg, 0, 0, 0};
    if (vf) in[n_in++] = (pt_train_input){"--vocab-filter", vf, 0, 0, 0};
    p.inputs = in, p.n_inputs = n_in;
    /* outputs that clash, cannot be written or are in use fail now, not after the run
     * (data-parallel: rank 0 alone writes them) */
    if (pt_dist_rank() == 0 && pt_train_check_outputs(&p)) {
        die("train", "%s", pt_last_error());
        goto out;
    }
    /* the data first (it needs no model), so a changed file stops a resume at once */
    if (pt_dataset_load(&dtr, train)) {
        die("train", "%s", pt_last_error());
        goto out;
    }
    have_tr = 1;
    if (dev) {
        if (pt_dataset_load(&ddev, dev)) {
            die("train", "%s", pt_last_error());
            goto out;
        }
        have_dev = 1;
    }
    for (int i = 0; i < n_in; i++) {
        const pt_dataset *d = !strcmp(in[i].role, "--train") ? &dtr
                              : !strcmp(in[i].role, "--dev") ? &ddev
                                                             : NULL;
        if (d) in[i].size = d->src_size, in[i].hash = d->src_hash;
    }
    if (resume && pt_train_check_inputs(&p, resume)) {
        if (!p.accept_changed_inputs) {
            die("train", "%s", pt_last_error());
            goto out;
        }
        fprintf(stderr, "ptune train: warning (--accept-changed-data): %s\n", pt_last_error());
    }
    struct timespec t_load0, t_load1;
    clock_gettime(CLOCK_MONOTONIC, &t_load0);
    if (load_model_prec("train", &a, &m)) goto out;
    clock_gettime(CLOCK_MONOTONIC, &t_load1);
    if (g_verbosity == 0) /* --verbose: load_model said it already */
        fprintf(stderr, "ptune train: loaded %s (%.2f M parameters) in %.2f s\n", m->path,
                m->n_params / 1e6,
                (double)(t_load1.tv_sec - t_load0.tv_sec) +
                    (t_load1.tv_nsec - t_load0.tv_nsec) * 1e-9);
    p.recompute =
        arg_flag(&a, "recompute") ? 1 : -1; /* this run's own (the model is not written) */
    if (task_from_args("train", &a, m, &t)) goto out;
    have_task = 1;
    if (vf && pt_task_load_vocab_filter(&t, m, vf)) {
        die("train", "%s", pt_last_error());
        goto out;
    }
    if (build_examples("train", &dtr, &t, m, 1, p.max_len, &etr)) goto out;
    have_etr = 1;
    if (dev) {
        if (build_examples("train", &ddev, &t, m, 1, p.max_len, &edev)) goto out;
        have_edev = 1;
    }
    ui u = {isatty(2), arg_flag(&a, "quiet"), t.kind == PT_TASK_KNOWLEDGE ? "P@1" : "acc"};
    p.progress = on_progress;
    p.user = &u;
    if (!u.quiet && p.method != PT_METHOD_PTUNING)
        fprintf(stderr,
                "ptune train: %s, %d train examples, %s: a deep prompt of %d rows x %zu (every "
                "layer's keys and values), %s encoder, %s head\n",
                pt_family_name(m->cfg.family), etr.n, pt_method_name(p.method), p.deep_len,
                pt_engine_deep_width(m), p.encoder == PT_ENCODER_MLP ? "prefix-mlp" : "embedding",
                t.head == PT_HEAD_LM ? "lm" : "linear");
    else if (!u.quiet)
        fprintf(stderr,
                "ptune train: %s, %d train%s examples, %d virtual tokens, %s encoder, %s head\n",
                pt_family_name(m->cfg.family), etr.n, "", t.tmpl.n_virtual,
                pt_encoder_kind_name(p.encoder), t.head == PT_HEAD_LM ? "lm" : "linear");
    /* data-parallel: every rank loaded the same; any that failed stops all */
    agreed = 1;
    if (dist_agree("train", 0)) goto out;
    dist_banner("train");
    pt_train_result res;
    pt_status s = pt_train(m, &t, &etr, have_edev ? &edev : NULL, &p, &res);
    if (s == PT_ERR_INTERRUPTED) {
        fprintf(stderr,
                "\nptune train: interrupted after step %ld. The checkpoint is %s.ckpt and "
                "the best prompt so far is %s.\nResume with: ptune train --resume %s.ckpt\n",
                res.steps, p.out, p.out, p.out);
        rc = 130;
        goto out;
    }
    if (s) {
        if (u.tty) fputc('\n', stderr);
        if (s == PT_ERR_NUMERIC)
            die_nonfinite("train", m->path, pt_last_error());
        else
            die("train", "%s", pt_last_error());
        goto out;
    }
    if (!u.quiet) {
        if (res.have_dev)
            fprintf(stderr, "ptune train: done, %ld steps; best dev %s %.4f at step %ld -> %s\n",
                    res.steps, u.metric, res.best_dev.accuracy, res.best_step, p.out);
        else
            fprintf(stderr, "ptune train: done, %ld steps, final loss %.4f -> %s\n", res.steps,
                    res.final_loss, p.out);
        if (res.stopped_early) fprintf(stderr, "ptune train: stopped early (--patience)\n");
        fprintf(stderr, "ptune train: %zu trainable parameters, %.2f ms per training step\n",
                res.n_trainable, res.step_s * 1e3);
        if (pt_dist_size() > 1 && pt_dist_sum_calls() > 0)
            fprintf(stderr,
                    "ptune train: %d ranks: %ld allreduces of %zu bytes (one a step, %s), %.3f ms "
                    "each on average, waiting for the slowest rank included\n",
                    pt_dist_size(), pt_dist_sum_calls(), res.reduce_bytes,
                    "and dev evaluations' counts",
                    1e3 * pt_dist_sum_seconds() / pt_dist_sum_calls());
    }
    rc = 0;
out:
    if (!agreed) dist_agree("train", rc != 0);
    if (have_edev) pt_examples_free(&edev);
    if (have_dev) pt_dataset_free(&ddev);
    if (have_etr) pt_examples_free(&etr);
    if (have_tr) pt_dataset_free(&dtr);
    if (have_task) pt_task_free(&t);
    pt_model_free(m);
    free(cmdline);
    for (int i = 0; i < 16; i++) free(owned[i]);
    free(sargv);
    pt_json_doc_free(&saved);
    args_free(&a);
    return rc;
}
