/* cmd_eval.c - ptune eval and ptune predict: score data with a trained prompt
 * (or, for eval, a manual template without virtual tokens). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/vec.h"
#include "diagnose.h"
#include "formats/json.h"
#include "train/engine.h"
#include "train/dist.h"
#include "train/metrics.h"

static const opt OPTS[] = {
    {"model", "PATH", "model directory, .safetensors or .gguf (required)"},
    {"prompt", "FILE|DIR", "prompt file written by ptune train, or a PEFT adapter directory"},
    {"data", "FILE", "examples: .jsonl, .tsv or .csv, or - for standard input (required)"},
    {"template", "T",
     "without --prompt: a manual template (no [P]) to evaluate; with a PEFT adapter: its "
     "template (default \"[P*n][START]{text} [MASK]\")"},
    {"labels", "L", "without --prompt or with a PEFT adapter: value:word pairs"},
    {"knowledge", NULL, "without --prompt or with a PEFT adapter: knowledge probing"},
    {"head", "lm|linear", "without --prompt: lm (linear needs a trained prompt file)"},
    {"label-field", "NAME",
     "without --prompt or with a PEFT adapter: the data field holding the label"},
    {"vocab-filter", "FILE", "knowledge probing: P@1 over these words only"},
    {"batch", "N", "examples per batch (default 16)"},
    {"threads", "N", "threads (default: all cores)"},
    {"precision", "f32|bf16",
     "bf16: block weights stored and multiplied in bf16 (default f32; "
     "PTUNE_BF16_ARITH=f32|bf16|bf16x2 picks the arithmetic); float weights "
     "only: quantized matrices stay as stored"},
    {"no-check", NULL,
     "skip the check, made once at load, that every weight of the model is finite"},
    {"max-len", "N", "truncate examples to N tokens (default: the model's limit)"},
    {"json", NULL, "eval: print one JSON object"},
    {"top", "K", "predict, knowledge probing: how many candidates to list (default 5)"},
};

typedef struct ctx {
    pt_model *m;
    pt_task t;
    pt_prompt p;
    int have_prompt, have_task;
    pt_dataset d;
    pt_examples ex;
    int have_ex;
    pt_engine e;
    int have_engine;
} ctx;

static void ctx_free(ctx *c) {
    if (c->have_engine) pt_engine_free(&c->e);
    if (c->have_ex) {
        pt_examples_free(&c->ex);
        pt_dataset_free(&c->d);
    }
    if (c->have_task) pt_task_free(&c->t);
    if (c->have_prompt) pt_prompt_free(&c->p);
    pt_model_free(c->m);
}

static int setup(const char *cmd, const args *a, ctx *c, int need_labels) {
    memset(c, 0, sizeof *c);
    long batch, max_len;
    pt_eval_options dflt; /* the library's defaults (ptune.h) */
    pt_eval_options_default(&dflt);
    if (!arg_int(a, "batch", dflt.batch, 1, 4096, &batch) ||
        !arg_int(a, "max-len", dflt.max_len, 0, 1 << 20, &max_len) || set_threads(cmd, a))
        return 1;
    const char *data = arg_str(a, "data", NULL), *prompt = arg_str(a, "prompt", NULL);
    if (!data) return die(cmd, "--data is required (see ptune %s --help)", cmd);
    if (load_model_prec(cmd, a, &c->m)) return 1;
    if (prompt) {
        pt_prompt_overrides ov = {arg_str(a, "template", NULL), arg_str(a, "labels", NULL),
                                  arg_str(a, "label-field", NULL), arg_flag(a, "knowledge")};
        if (pt_prompt_load_ex(&c->p, prompt, &ov)) return die(cmd, "%s", pt_last_error());
        c->have_prompt = 1;
        int warn;
        if (pt_prompt_check_model(&c->p, c->m, &warn))
            return die(cmd, "%s: %s", prompt, pt_last_error());
        if (warn == 2 && g_verbosity >= 0) fprintf(stderr, PT_OLD_FINGERPRINT_NOTE, cmd, prompt);
        if (warn == 1 && g_verbosity >= 0)
            fprintf(stderr,
                    "ptune %s: warning: %s does not say which model it was trained for; "
                    "using it with %s\n",
                    cmd, prompt, c->m->path);
        if (task_from_prompt(cmd, &c->p, c->m, &c->t)) return 1;
    } else {
        if (task_from_args(cmd, a, c->m, &c->t)) return 1;
        if (c->t.tmpl.n_virtual > 0) {
            pt_task_free(&c->t);
            return die(cmd, "the template has virtual tokens [P] but no --prompt file gives them");
        }
        if (c->t.head == PT_HEAD_LINEAR) {
            pt_task_free(&c->t);
            return die(cmd, "--head linear needs a trained --prompt file");
        }
    }
    c->have_task = 1;
    const char *vf = arg_str(a, "vocab-filter", NULL);
    if (vf && pt_task_load_vocab_filter(&c->t, c->m, vf)) return die(cmd, "%s", pt_last_error());
    if (load_examples(cmd, data, &c->t, c->m, need_labels, (int)max_len, &c->d, &c->ex)) return 1;
    c->have_ex = 1;
    int B = (int)batch < c->ex.n ? (int)batch : c->ex.n;
    if (pt_engine_init(&c->e, c->m, &c->t, B, c->ex.max_len))
        return die(cmd, "%s", pt_last_error());
    c->have_engine = 1;
    if (c->have_prompt && c->p.D > 0) { /* a deep prompt (prefix, ptuning-v2) */
        if (pt_engine_use_deep(&c->e, c->p.D)) return die(cmd, "%s", pt_last_error());
        c->e.deep = c->p.deep;
    }
    return 0;
}

static int run_eval(const char *cmd, ctx *c, pt_eval_result *r, pt_example_fn fn, void *user) {
    /* under mpirun (eval only, fn == NULL) the ranks share the examples */
    pt_status s = (fn ? pt_evaluate : pt_evaluate_split)(
        &c->e, &c->ex, c->have_prompt ? c->p.table : NULL, c->p.head_w, c->p.head_b, r, fn, user);
    if (s == PT_ERR_NUMERIC) {
        char what[600];
        if (r->bad_index >= 0 && r->bad_index < c->d.n)
            snprintf(what, sizeof what, "%s line %d: %s", c->d.path, c->d.line[r->bad_index],
                     pt_last_error());
        else
            snprintf(what, sizeof what, "%s", pt_last_error());
        return die_nonfinite(cmd, c->m->path, what);
    }
    if (s) return die(cmd, "%s", pt_last_error());
    return 0;
}

int cmd_eval(int argc, char **argv) {
    args a;
    int r = args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], argc, argv, "eval",
                       "--model M (--prompt P | --template T --labels L) --data F [--json]",
                       "Print the loss (mean cross-entropy), accuracy and macro-F1 "
                       "(classification) or P@1\n(knowledge probing) of a prompt on labelled "
                       "data. Without --prompt, evaluates a manual\ntemplate with no virtual "
                       "tokens (the baseline P-tuning is compared with).");
    if (r) return r == 1 ? 0 : 2;
    ctx c;
    int rc = 1;
    pt_eval_result res;
    /* data-parallel: every rank set up the same; any that failed stops all */
    int failed = setup("eval", &a, &c, 1);
    if (dist_agree("eval", failed) || failed || run_eval("eval", &c, &res, NULL, NULL)) goto out;
    rc = 0;
    if (pt_dist_rank() != 0) goto out; /* rank 0 alone prints */
    int know = c.t.kind == PT_TASK_KNOWLEDGE;
    if (arg_flag(&a, "json"))
        printf("{\"loss\":%.6f,\"accuracy\":%.6f,\"examples\":%d,\"%s\":%.6f}\n", res.loss,
               res.accuracy, res.n, know ? "p_at_1" : "f1", know ? res.accuracy : res.f1);
    else if (know)
        printf("loss %.4f  P@1 %.4f  (%d examples)\n", res.loss, res.accuracy, res.n);
    else
        printf("loss %.4f  accuracy %.4f  macro-F1 %.4f  (%d examples)\n", res.loss, res.accuracy,
               res.f1, res.n);
    rc = 0;
out:
    ctx_free(&c);
    args_free(&a);
    return rc;
}

typedef struct pred_ctx {
    ctx *c;
    int top;
    pt_buf b;
} pred_ctx;

static void softmax(double *p, const float *s, int n) {
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < n; i++) mx = s[i] > mx ? s[i] : mx;
    for (int i = 0; i < n; i++) z += p[i] = exp(s[i] - mx);
    for (int i = 0; i < n; i++) p[i] /= z;
}

static pt_status on_example(int index, const float *scores, int ns, int pred, void *user) {
    pred_ctx *pc = user;
    const pt_task *t = &pc->c->t;
    pt_buf *b = &pc->b;
    b->n = 0;
    double *p = malloc(sizeof(double) * ns);
    if (!p) return pt_fail(PT_ERR_NOMEM, "out of memory");
    softmax(p, scores, ns);
    pt_buf_printf(b, "{\"index\":%d,", index);
    if (t->kind == PT_TASK_CLASSIFY) {
        const char *v = t->label_values[pred];
        pt_buf_puts(b, "\"label\":");
        pt_json_write_string(b, v, strlen(v));
        pt_buf_puts(b, ",\"probs\":{");
        for (int k = 0; k < ns; k++) {
            if (k) pt_buf_puts(b, ",");
            pt_json_write_string(b, t->label_values[k], strlen(t->label_values[k]));
            pt_buf_printf(b, ":%.6g", p[k]);
        }
        pt_buf_puts(b, "}}\n");
    } else {
        const pt_tokenizer *tok = pc->c->m->tok;
        pt_buf_puts(b, "\"prediction\":");
        pt_buf w = {0};
        pt_tok_decode(tok, &pred, 1, &w);
        pt_json_write_string(b, w.v ? w.v : "", w.n);
        pt_buf_printf(b, ",\"token_id\":%d,\"top\":[", pred);
        /* top-k by repeated selection (k is small) */
        for (int k = 0; k < pc->top; k++) {
            int best = -1;
            if (t->vocab_filter) {
                for (int i = 0; i < t->n_filter; i++)
                    if (p[t->vocab_filter[i]] >= 0 && (best < 0 || p[t->vocab_filter[i]] > p[best]))
                        best = t->vocab_filter[i];
            } else {
                for (int i = 0; i < ns; i++)
                    if (p[i] >= 0 && (best < 0 || p[i] > p[best])) best = i;
            }
            if (best < 0) break;
            w.n = 0;
            pt_tok_decode(tok, &best, 1, &w);
            pt_buf_puts(b, k ? ",{\"word\":" : "{\"word\":");
            pt_json_write_string(b, w.v ? w.v : "", w.n);
            pt_buf_printf(b, ",\"token_id\":%d,\"prob\":%.6g}", best, p[best]);
            p[best] = -1;
        }
        pt_buf_free(&w);
        pt_buf_puts(b, "]}\n");
    }
    free(p);
    /* a full disk stops the run at once, not after every example */
    if (fwrite(b->v, 1, b->n, stdout) != b->n || ferror(stdout))
        return pt_fail(PT_ERR_IO, "cannot write standard output: %s", strerror(errno));
    return PT_OK;
}

int cmd_predict(int argc, char **argv) {
    args a;
    int r = args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], argc, argv, "predict",
                       "--model M --prompt P --data F|-",
                       "Write one JSON line per example: the predicted label and the "
                       "probability of every\nlabel (classification), or the predicted word "
                       "and the top candidates (knowledge).\nLabels in the data are not needed.");
    if (r) return r == 1 ? 0 : 2;
    ctx c;
    int rc = 1;
    long top;
    pt_eval_result res;
    if (!arg_int(&a, "top", 5, 1, 1000, &top)) goto out2;
    if (pt_dist_size() > 1) {
        rc = die("predict", "runs as one process: start it without mpirun (or with -np 1)");
        goto out2;
    }
    if (!arg_str(&a, "prompt", NULL)) {
        rc = die("predict", "--prompt is required (a file written by ptune train)");
        goto out2;
    }
    pred_ctx pc = {&c, (int)top, {0}};
    if (setup("predict", &a, &c, 0) || run_eval("predict", &c, &res, on_example, &pc)) goto out;
    rc = 0;
out:
    pt_buf_free(&pc.b);
    ctx_free(&c);
out2:
    args_free(&a);
    return rc;
}
