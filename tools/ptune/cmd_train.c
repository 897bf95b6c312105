/* cmd_train.c - ptune train: P-tune a frozen model on a task. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/io.h"
#include "core/vec.h"
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
    {"encoder", "E", "prompt encoder: lstm (default), mlp or embedding"},
    {"hidden", "H", "mlp encoder hidden width (default: the model width)"},
    {"init", "I",
     "seed vectors: vocab (random token embeddings), words:\"a b c\", or a prompt "
     "FILE (default: normal)"},
    {"optimizer", "O", "adamw (default), adam (L2 decay) or sgd"},
    {"lr", "X", "learning rate (default 1e-3)"},
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
     "memory; float32 accumulation; default f32); float weights only: "
     "quantized matrices stay as stored"},
    {"recompute", NULL,
     "keep only each block's input during the forward pass and recompute the "
     "block just before its backward: activation memory drops to about one "
     "block's worth, for about a third more work per step (results "
     "bit-identical)"},
    {"eval-every", "N", "evaluate on --dev every N steps (default: once per epoch)"},
    {"patience", "N", "stop after N evaluations without improvement (default: never)"},
    {"max-len", "N", "truncate examples to N tokens (default: the model's limit)"},
    {"out", "FILE",
     "prompt file to write (default prompt.safetensors); FILE.ckpt holds the "
     "checkpoint"},
    {"resume", "FILE.ckpt", "continue an interrupted run from its checkpoint"},
    {"log", "FILE", "metrics log, one JSON line per evaluation"},
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

/* The training command line as a JSON list, kept in the checkpoint so that
 * "ptune train --resume FILE.ckpt" alone repeats it. */
static char *argv_json(int argc, char **argv) {
    pt_buf b = {0};
    pt_buf_puts(&b, "[");
    int first = 1;
    for (int i = 0; i < argc; i++) {
        /* the checkpoint and the testing aid are not part of the run's definition */
        if (!strcmp(argv[i], "--resume") || !strcmp(argv[i], "--interrupt-at")) {
            i++;
            continue;
        }
        if (!strncmp(argv[i], "--resume=", 9) || !strncmp(argv[i], "--interrupt-at=", 15)) continue;
        if (!first) pt_buf_puts(&b, ",");
        pt_json_write_string(&b, argv[i], strlen(argv[i]));
        first = 0;
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

int cmd_train(int argc, char **argv) {
    args a;
    const char *about =
        "P-tune a frozen model: train the prompt encoder's virtual tokens (and the linear head)\n"
        "on --train, keep the best --dev checkpoint, write a prompt file of a few kilobytes.\n"
        "Ctrl-C finishes the step, writes the checkpoint and says how to resume.";
    const char *usage = "--model M --train F --template T (--labels L | --knowledge) [options]";
    int r = args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], argc, argv, "train", usage, about);
    if (r) return r == 1 ? 0 : 2;
    /* --resume alone: repeat the checkpoint's command line */
    pt_json_doc saved = {0};
    char **sargv = NULL;
    const char *resume = arg_str(&a, "resume", NULL);
    if (resume && !arg_str(&a, "model", NULL)) {
        int sargc = 0;
        if (argv_from_ckpt(resume, &sargc, &sargv, &saved)) {
            args_free(&a);
            return 1;
        }
        args_free(&a);
        r = args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], sargc, sargv, "train", usage, about);
        if (r) return r == 1 ? 0 : 2;
        argc = sargc;
        argv = sargv;
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
    int rc = 1, have_task = 0, have_tr = 0, have_dev = 0;
    char *cmdline = NULL;
    long batch, epochs, steps, warmup, seed, every, patience, hidden, max_len;
    double lr, wd, clip;
    const char *enc = arg_str(&a, "encoder", "lstm"), *optname = arg_str(&a, "optimizer", "adamw");
    const char *init = arg_str(&a, "init", NULL);
    if (!arg_int(&a, "batch", 8, 1, 4096, &batch) ||
        !arg_int(&a, "epochs", 3, 1, 100000, &epochs) ||
        !arg_int(&a, "steps", 0, 0, 100000000, &steps) ||
        !arg_int(&a, "warmup", 0, 0, 100000000, &warmup) ||
        !arg_int(&a, "seed", 42, 0, 0x7fffffffffffffffL, &seed) ||
        !arg_int(&a, "eval-every", 0, 0, 100000000, &every) ||
        !arg_int(&a, "patience", 0, 0, 1000000, &patience) ||
        !arg_int(&a, "hidden", 0, 0, 65536, &hidden) ||
        !arg_int(&a, "max-len", 0, 0, 1 << 20, &max_len) ||
        !arg_int(&a, "interrupt-at", 0, 0, 100000000, &p.stop_at) ||
        !arg_float(&a, "lr", 1e-3, 1e-12, 10, &lr) ||
        !arg_float(&a, "weight-decay", -1, 0, 0.999, &wd) ||
        !arg_float(&a, "clip", 1.0, 0, 1e6, &clip) || set_threads("train", &a))
        goto out;
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
    p.weight_decay = wd >= 0 ? (float)wd : (p.optimizer == PT_OPTIM_ADAMW ? 0.01f : 0.0f);
    p.out = arg_str(&a, "out", "prompt.safetensors");
    p.resume = resume;
    p.log = arg_str(&a, "log", NULL);
    p.plot = arg_str(&a, "plot", NULL);
    p.stop = &g_stop;
    cmdline = argv_json(argc, argv);
    p.argv_json = cmdline;
    const char *train = arg_str(&a, "train", NULL), *dev = arg_str(&a, "dev", NULL);
    if (!train) {
        die("train", "--train is required (see ptune train --help)");
        goto out;
    }
    if (pt_train_check_params(&p)) {
        die("train", "%s", pt_last_error());
        goto out;
    }
    { /* an unwritable --out fails now, not after the training */
        pt_atomic_file af;
        if (pt_atomic_open(&af, p.out)) {
            die("train", "%s", pt_last_error());
            goto out;
        }
        pt_atomic_abort(&af);
    }
    struct timespec t_load0, t_load1;
    clock_gettime(CLOCK_MONOTONIC, &t_load0);
    if (load_model_prec("train", &a, &m)) goto out;
    clock_gettime(CLOCK_MONOTONIC, &t_load1);
    if (!arg_flag(&a, "quiet"))
        fprintf(stderr, "ptune train: loaded %s (%.2f M parameters) in %.2f s\n", m->path,
                m->n_params / 1e6,
                (double)(t_load1.tv_sec - t_load0.tv_sec) +
                    (t_load1.tv_nsec - t_load0.tv_nsec) * 1e-9);
    pt_model_set_recompute(m, arg_flag(&a, "recompute"));
    if (task_from_args("train", &a, m, &t)) goto out;
    have_task = 1;
    const char *vf = arg_str(&a, "vocab-filter", NULL);
    if (vf && pt_task_load_vocab_filter(&t, m, vf)) {
        die("train", "%s", pt_last_error());
        goto out;
    }
    if (load_examples("train", train, &t, m, 1, p.max_len, &dtr, &etr)) goto out;
    have_tr = 1;
    if (dev) {
        if (load_examples("train", dev, &t, m, 1, p.max_len, &ddev, &edev)) goto out;
        have_dev = 1;
    }
    ui u = {isatty(2), arg_flag(&a, "quiet"), t.kind == PT_TASK_KNOWLEDGE ? "P@1" : "acc"};
    p.progress = on_progress;
    p.user = &u;
    if (!u.quiet)
        fprintf(stderr,
                "ptune train: %s, %d train%s examples, %d virtual tokens, %s encoder, %s head\n",
                pt_family_name(m->cfg.family), etr.n, "", t.tmpl.n_virtual,
                pt_encoder_kind_name(p.encoder), t.head == PT_HEAD_LM ? "lm" : "linear");
    pt_train_result res;
    pt_status s = pt_train(m, &t, &etr, have_dev ? &edev : NULL, &p, &res);
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
    }
    rc = 0;
out:
    if (have_dev) {
        pt_examples_free(&edev);
        pt_dataset_free(&ddev);
    }
    if (have_tr) {
        pt_examples_free(&etr);
        pt_dataset_free(&dtr);
    }
    if (have_task) pt_task_free(&t);
    pt_model_free(m);
    free(cmdline);
    free(sargv);
    pt_json_doc_free(&saved);
    args_free(&a);
    return rc;
}
