/* common.c - shared subcommand setup (see common.h). */
#include "common.h"

#include <sched.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "blas_guard.h"
#include "core/error.h"
#include "train/dist.h"
#include "kernels/gemm.h"
#include "diagnose.h"

int load_model(const char *cmd, const args *a, pt_model **m) {
    const char *path = arg_str(a, "model", NULL);
    if (!path) return die(cmd, "--model is required (see ptune %s --help)", cmd);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (pt_model_load(m, path)) return die(cmd, "%s", pt_last_error());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (g_verbosity > 0)
        fprintf(stderr,
                "ptune %s: loaded %s (%s, %d layers, width %d, %.2f M parameters) in %.2f s\n", cmd,
                path, pt_family_name((*m)->cfg.family), (*m)->cfg.n_layers, (*m)->cfg.dim,
                (*m)->n_params / 1e6,
                (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    /* commands that compute with the weights check them once, unless --no-check */
    if (arg_declared(a, "no-check") && !arg_flag(a, "no-check")) {
        int layer;
        const char *role = pt_model_check_finite(*m, &layer);
        if (role) {
            char what[256], where[512];
            if (layer >= 0)
                snprintf(what, sizeof what, "%s (%s of block %d)", path, role, layer);
            else
                snprintf(what, sizeof what, "%s (%s)", path, role);
            if (first_nonfinite_weight(path, where, sizeof where))
                die(cmd,
                    "%s: the model's weights are not finite; the first non-finite tensor of "
                    "the model is %s (--no-check loads it anyway)",
                    what, where);
            else
                die(cmd, "%s: the model's weights are not finite (--no-check loads it anyway)",
                    what);
            pt_model_free(*m);
            *m = NULL;
            return 1;
        }
    }
    return 0;
}

int load_model_prec(const char *cmd, const args *a, pt_model **m) {
    pt_model_options mo; /* the library's default precision (ptune.h) */
    pt_model_options_default(&mo);
    const char *prec = arg_str(a, "precision", mo.precision);
    int bf16 = !strcmp(prec, "bf16");
    if (!bf16 && strcmp(prec, "f32") && strcmp(prec, "fp32"))
        return die(cmd, "--precision must be f32 or bf16, not \"%s\"", prec);
    if (bf16) {
        /* pt_model_load_ex: as stored, then straight to bf16, no float32 copy
         * of a bf16 or f16 file on the way (a 7B bf16 file would need 27 GB) */
        const char *path = arg_str(a, "model", NULL);
        if (!path) return die(cmd, "--model is required (see ptune %s --help)", cmd);
        mo.precision = prec;
        if (pt_model_load_ex(m, path, &mo)) return die(cmd, "%s", pt_last_error());
    } else if (load_model(cmd, a, m)) {
        return 1;
    }
    if (pt_model_is_quantized(*m) && arg_str(a, "precision", NULL) && g_verbosity >= 0)
        fprintf(stderr,
                "ptune %s: --precision %s applies only to float weights; this file's quantized "
                "matrices stay as stored (their products run from the blocks in float32)\n",
                cmd, prec);
    return 0;
}

const char *task_default_head = "lm";

int task_from_args(const char *cmd, const args *a, const pt_model *m, pt_task *t) {
    const char *tmpl = arg_str(a, "template", NULL);
    const char *head = arg_str(a, "head", task_default_head);
    if (!tmpl)
        return die(cmd,
                   "--template is required, e.g. --template \"[P*3] {sentence} It was [MASK]\"");
    pt_head_kind hk;
    if (!strcmp(head, "lm"))
        hk = PT_HEAD_LM;
    else if (!strcmp(head, "linear"))
        hk = PT_HEAD_LINEAR;
    else
        return die(cmd, "--head must be lm or linear, not \"%s\"", head);
    int know = arg_flag(a, "knowledge");
    const char *labels = arg_str(a, "labels", NULL);
    if (know && labels) return die(cmd, "--labels and --knowledge exclude each other");
    if (!know && !labels)
        return die(cmd, "give --labels \"value:word,...\" for classification or --knowledge");
    if (pt_task_init(t, m, tmpl, know ? PT_TASK_KNOWLEDGE : PT_TASK_CLASSIFY, hk, labels,
                     arg_str(a, "label-field", "label")))
        return die(cmd, "%s", pt_last_error());
    return 0;
}

int task_from_prompt(const char *cmd, const pt_prompt *p, const pt_model *m, pt_task *t) {
    if (pt_task_init(t, m, p->template_src, p->task, p->head, p->labels_spec, p->label_field))
        return die(cmd, "prompt file: %s", pt_last_error());
    if (t->tmpl.n_virtual != p->S) {
        pt_task_free(t);
        return die(cmd, "prompt file: its template has %d virtual tokens but its table %d rows",
                   t->tmpl.n_virtual, p->S);
    }
    if (p->head == PT_HEAD_LINEAR && p->n_labels != t->n_labels) {
        pt_task_free(t);
        return die(cmd, "prompt file: head.weight has %d rows for %d labels", p->n_labels,
                   t->n_labels);
    }
    return 0;
}

int build_examples(const char *cmd, const pt_dataset *d, const pt_task *t, const pt_model *m,
                   int need_labels, int max_len, pt_examples *ex) {
    if (pt_examples_build(ex, t, m, d, need_labels, max_len))
        return die(cmd, "%s", pt_last_error());
    if (ex->truncated && g_verbosity >= 0)
        fprintf(stderr,
                "ptune %s: warning: %d of %d examples in %s were too long; their "
                "longest field was truncated to fit %d positions\n",
                cmd, ex->truncated, ex->n, d->path, max_len > 0 ? max_len : m->cfg.max_pos);
    return 0;
}

int load_examples(const char *cmd, const char *path, const pt_task *t, const pt_model *m,
                  int need_labels, int max_len, pt_dataset *d, pt_examples *ex) {
    if (pt_dataset_load(d, path)) return die(cmd, "%s", pt_last_error());
    if (build_examples(cmd, d, t, m, need_labels, max_len, ex)) {
        pt_dataset_free(d);
        return 1;
    }
    return 0;
}

int dist_agree(const char *cmd, int failed) {
    if (pt_dist_size() < 2) return 0;
    if (!pt_dist_agree(failed ? PT_ERR_ARG : PT_OK)) return 0;
    if (!failed && pt_dist_rank() == 0) fprintf(stderr, "ptune %s: %s\n", cmd, pt_last_error());
    return 1;
}

void dist_banner(const char *cmd) {
    if (pt_dist_size() < 2) return;
    char hosts[1024];
    pt_dist_hosts(hosts, sizeof hosts);
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    cpu_set_t set;
    int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (pt_dist_rank() != 0) return;
    fprintf(stderr, "ptune %s: data-parallel: %d ranks x %d thread%s per rank; hosts: %s\n", cmd,
            pt_dist_size(), threads, threads == 1 ? "" : "s", hosts);
    if (cores > 0 && cores < threads)
        fprintf(stderr,
                "ptune %s: warning: rank 0 may run on %d core%s but has %d threads: start mpirun "
                "with --bind-to none, or --map-by ppr:1:socket:pe=%d\n",
                cmd, cores, cores == 1 ? "" : "s", threads, threads);
}

int set_threads(const char *cmd, const args *a) {
    long n;
    if (!arg_int(a, "threads", 0, 0, 1024, &n)) return 1;
    int cap = blas_guard_threads(); /* a memory limit leaves room for this many */
    if (cap > 0 && n > cap) {
        fprintf(stderr, "ptune %s: note: --threads %ld lowered to %d (see the note above)\n", cmd,
                n, cap);
        n = cap;
    }
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads((int)n);
#else
    (void)cmd;
#endif
    return 0;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double launch_s = -1;

void mark_launch(void) {
    const char *t0 = getenv("PTUNE_T0");
    /* only a re-executed ptune (PTUNE_NO_REEXEC set by main.c) inherits a start */
    if (t0 && getenv("PTUNE_NO_REEXEC")) {
        char *end;
        double v = strtod(t0, &end);
        if (*end == 0 && v > 0 && v <= mono_s()) {
            launch_s = v;
            return;
        }
    }
    launch_s = mono_s();
    char buf[64];
    snprintf(buf, sizeof buf, "%.6f", launch_s);
    setenv("PTUNE_T0", buf, 1);
}

double seconds_since_launch(void) {
    return launch_s < 0 ? 0 : mono_s() - launch_s;
}

void warn_openblas_env(const char *cmd) {
    const char *better = pt_gemm_openblas_env_below();
    if (better)
        fprintf(stderr,
                "ptune %s: warning: OPENBLAS_CORETYPE=%s (set in the environment) names kernels "
                "below this CPU's; OPENBLAS_CORETYPE=%s uses them (kept as set)\n",
                cmd, getenv("OPENBLAS_CORETYPE"), better);
}
