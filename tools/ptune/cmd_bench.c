/* cmd_bench.c - ptune bench: time a P-tuning training step and an evaluation
 * batch on a model with random weights (or a real one with --model).
 *
 * The step is the real training path: a template of S virtual tokens followed
 * by random token ids, pt_encoder forward -> pt_engine_run (model forward,
 * LM head over 2 label rows, cross-entropy, input-gradient backward) ->
 * pt_encoder backward -> gradient clipping -> AdamW. Evaluation is
 * pt_engine_run without gradients. Medians over --reps after --warmup.
 * Under mpirun (an MPI=1 build) each rank runs its share of the batch and the
 * step sums dtable and the loss in one allreduce, as ptune train does; the
 * allreduce is timed alone too (repeated once the ranks are in step).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "commands.h"
#include "kernels/weight.h"
#include "common.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/rng.h"
#include "prompt/encoder.h"
#include "train/dist.h"
#include "train/engine.h"
#include "train/kvcache.h"
#include "train/optim.h"

static const opt OPTS[] = {
    {"family", "F", "gpt2 (default), bert or llama: the random model's family"},
    {"layers", "N", "transformer layers (default 12)"},
    {"dim", "N", "model width (default 768)"},
    {"heads", "N", "attention heads (default 12)"},
    {"kv-heads", "N", "key/value heads, llama (default: --heads)"},
    {"ffn", "N", "MLP width (default 4 x dim; llama 8/3 x dim rounded up to 64)"},
    {"vocab", "N", "vocabulary (default 50257 gpt2, 30522 bert, 32000 llama)"},
    {"positions", "N", "position table / context (default 1024 gpt2, 512 bert, 2048 llama)"},
    {"model", "PATH", "time a real model instead of a random one"},
    {"precision", "P",
     "f32 (default) or bf16: the blocks' big float matrices in bf16 (quantized ones "
     "stay as stored; PTUNE_BF16_ARITH=f32|bf16|bf16x2 picks the arithmetic)"},
    {"recompute", NULL,
     "keep only each block's input in the forward pass and recompute the block in backward "
     "(less activation memory, about a third more work; see ptune train --help)"},
    {"batch", "N", "examples per batch (default 8)"},
    {"seq", "N", "tokens per example, virtual tokens included (default 128)"},
    {"prompts", "N", "virtual tokens per example (default 8)"},
    {"layout", "L",
     "where the virtual tokens go: first (default: [P*N] text, answer at the last token), "
     "text-first ({text} [P*N] [MASK]) or split ([P*N/2] {text} [P*N-N/2] [MASK])"},
    {"lengths", "MIN-MAX",
     "tokens per example drawn uniformly from MIN..MAX (virtual tokens included; default: "
     "every example --seq tokens); the batch is as long as its longest example"},
    {"batches", "N", "distinct batches, taken in turn (default 1)"},
    {"cache-mb", "N",
     "key/value cache of the rows before the first virtual token (causal models), as in "
     "ptune train (default: a quarter of available memory; 0: off)"},
    {"encoder", "E", "prompt encoder: lstm (default), mlp or embedding"},
    {"reps", "N", "timed repetitions; the medians are reported (default 5)"},
    {"warmup", "N",
     "untimed repetitions first (default 1; the first one is timed as "
     "start-to-first-step)"},
    {"threads", "N", "threads (default: all cores)"},
    {"seed", "N", "random seed for weights and data (default 42)"},
    {"json", NULL, "print one JSON line instead of the table"},
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

/* Multiply-add FLOPs (2 per multiply-add) of one forward pass over B x T
 * tokens: the layer matmuls and the two attention products (half of them
 * under a causal mask). The input-gradient backward costs the same matmul
 * FLOPs and twice the attention FLOPs. */
static void count_flops(const pt_model_config *c, int B, int T, double *fwd, double *bwd) {
    double C = c->dim, F = c->ffn_dim, HS = C / c->n_heads, KVC = c->n_kv_heads * HS;
    double per_layer = c->family == PT_FAMILY_LLAMA || c->family == PT_FAMILY_QWEN2
                           ? 2 * C * C + 2 * KVC * C + 3 * C * F
                           : 4 * C * C + 2 * C * F;
    double tokens = (double)B * T;
    double mm = 2.0 * tokens * per_layer * c->n_layers;
    double att = 4.0 * B * c->n_heads * (double)T * T * HS * (c->causal ? 0.5 : 1.0) * c->n_layers;
    *fwd = mm + att;
    *bwd = mm + 2 * att;
}

typedef struct bench {
    pt_model *m;
    pt_task task;
    int label_rows[2];
    pt_example *ex;           // (B)
    const pt_example **batch; // (B)
    int *ids;                 // (B, T)
    int *virt;                // (B, S)
    pt_encoder enc;
    pt_optim opt;
    pt_engine eng;
    float *table;  // (S, C)
    float *dtable; // (S, C)
    int B, T, S, NB, layout, lmin, lmax;
    int *lens; // (NB * B) tokens of each example
    /* under mpirun (train/dist.h): this rank's share [lo, hi) of each batch,
     * and the buffer the step's one allreduce sums (dtable, loss), as the trainer */
    int lo, hi;
    float *red;    // (S * C + 1)
    double sum_ms; /* the last step's allreduce (waiting for the slowest rank included) */
} bench;

enum { LAYOUT_FIRST, LAYOUT_TEXT_FIRST, LAYOUT_SPLIT };

static void bench_free(bench *b) {
    pt_engine_free(&b->eng);
    pt_optim_free(&b->opt);
    pt_encoder_free(&b->enc);
    free(b->ex);
    free(b->batch);
    free(b->ids);
    free(b->virt);
    free(b->lens);
    pt_afree(b->table);
    pt_afree(b->dtable);
    free(b->red);
    pt_model_free(b->m);
}

/* Task: NB batches of B examples, each n tokens (n = T, or drawn from
 * lmin..lmax): S virtual tokens placed by the layout among random ids, the
 * answer at the last position; the LM head scores two label rows. Examples
 * are pt_example structs built directly. */
static pt_status bench_setup(bench *b, pt_encoder_kind ek, uint64_t seed) {
    const pt_model *m = b->m;
    int B = b->B, T = b->T, S = b->S, C = m->cfg.dim, V = m->cfg.vocab_size, NB = b->NB;
    size_t NE = (size_t)NB * B;
    pt_rng rng;
    pt_rng_seed(&rng, seed + 1);
    memset(&b->task, 0, sizeof b->task);
    b->task.kind = PT_TASK_CLASSIFY;
    b->task.head = PT_HEAD_LM;
    b->task.tmpl.n_virtual = S;
    b->task.n_labels = 2;
    b->label_rows[0] = (int)pt_rng_below(&rng, (uint64_t)V);
    b->label_rows[1] = (b->label_rows[0] + 1) % V;
    b->task.label_ids[0] = b->task.label_ids[1] = b->label_rows;
    b->ex = pt_zalloc(NE, sizeof *b->ex);
    b->batch = pt_zalloc((size_t)B, sizeof *b->batch);
    b->ids = pt_alloc(NE * T, sizeof(int));
    b->virt = pt_alloc(NE * (S ? S : 1), sizeof(int));
    b->lens = pt_alloc(NE, sizeof(int));
    b->table = pt_aalloc((size_t)S * C, sizeof(float));
    b->dtable = pt_aalloc((size_t)S * C, sizeof(float));
    if (!b->ex || !b->batch || !b->ids || !b->virt || !b->lens || !b->table || !b->dtable)
        return pt_fail(PT_ERR_NOMEM, "bench: out of memory");
    int S1 = b->layout == LAYOUT_SPLIT ? S / 2 : S; /* virtual tokens before the text */
    for (size_t i = 0; i < NE; i++) {
        pt_example *e = &b->ex[i];
        int n = b->lmin ? b->lmin + (int)pt_rng_below(&rng, (uint64_t)(b->lmax - b->lmin + 1)) : T;
        b->lens[i] = n;
        e->r.ids = b->ids + i * T;
        e->r.virt_pos = b->virt + i * S;
        e->r.n = n;
        e->r.answer = n - 1;
        for (int t = 0; t < n; t++) e->r.ids[t] = (int)pt_rng_below(&rng, (uint64_t)V);
        for (int k = 0; k < S; k++) {
            int at = b->layout == LAYOUT_FIRST        ? k
                     : b->layout == LAYOUT_TEXT_FIRST ? n - 1 - S + k
                     : k < S1                         ? k
                                                      : n - 1 - (S - k);
            e->r.virt_pos[k] = at;
            e->r.ids[at] = -1;
        }
        e->target = (int)pt_rng_below(&rng, 2);
    }
    pt_status s = pt_encoder_init(&b->enc, ek, S, C, 0, &rng);
    if (!s) s = pt_optim_init(&b->opt, PT_OPTIM_ADAMW, b->enc.n_params, 0.01f);
    int N = pt_dist_size(), r = pt_dist_rank();
    b->lo = (int)((long)B * r / N), b->hi = (int)((long)B * (r + 1) / N);
    if (!s && N > 1 && !(b->red = malloc(sizeof(float) * ((size_t)S * C + 1))))
        s = pt_fail(PT_ERR_NOMEM, "bench: out of memory");
    if (!s) s = pt_engine_init(&b->eng, m, &b->task, b->hi - b->lo > 0 ? b->hi - b->lo : 1, T);
    return s;
}

/* The batch of step i. */
static void take_batch(bench *b, long i) {
    size_t k = (size_t)(i % b->NB) * b->B;
    for (int j = 0; j < b->B; j++) b->batch[j] = &b->ex[k + j];
}

/* One full training step, as the trainer takes it (under mpirun: this rank's
 * share of the batch, then the allreduce of dtable and the loss). */
static pt_status train_step(bench *b, double *loss) {
    size_t Sd = (size_t)b->S * b->m->cfg.dim;
    pt_encoder_zero_grad(&b->enc);
    memset(b->dtable, 0, sizeof(float) * Sd);
    pt_encoder_forward(&b->enc, b->table);
    int mb = b->hi - b->lo;
    pt_status s = pt_engine_run(&b->eng, b->batch + b->lo, mb, b->table, NULL, NULL, loss, NULL,
                                b->dtable, NULL, NULL);
    if (s) return s;
    if (b->red) {
        for (size_t i = 0; i < Sd; i++) b->red[i] = b->dtable[i] * (float)mb;
        b->red[Sd] = (float)(*loss * mb);
        double t0 = now_ms();
        pt_dist_sum_f(b->red, Sd + 1);
        b->sum_ms = now_ms() - t0;
        for (size_t i = 0; i < Sd; i++) b->dtable[i] = b->red[i] / (float)b->B;
        *loss = b->red[Sd] / b->B;
    }
    pt_encoder_backward(&b->enc, b->dtable);
    pt_clip_grad_norm(b->enc.grads, b->enc.n_params, 1.0f);
    pt_optim_step(&b->opt, b->enc.params, b->enc.grads, 1e-3f);
    return PT_OK;
}

static pt_status eval_batch(bench *b, double *loss) {
    pt_encoder_forward(&b->enc, b->table);
    return pt_engine_run(&b->eng, b->batch + b->lo, b->hi - b->lo, b->table, NULL, NULL, loss, NULL,
                         NULL, NULL, NULL);
}

static int config_from_args(const args *a, pt_model_config *c) {
    const char *fam = arg_str(a, "family", "gpt2");
    memset(c, 0, sizeof *c);
    if (!strcmp(fam, "gpt2"))
        c->family = PT_FAMILY_GPT2;
    else if (!strcmp(fam, "bert"))
        c->family = PT_FAMILY_BERT;
    else if (!strcmp(fam, "llama"))
        c->family = PT_FAMILY_LLAMA;
    else
        return die("bench", "--family must be gpt2, bert or llama, not \"%s\"", fam);
    int llama = c->family == PT_FAMILY_LLAMA;
    long layers, dim, heads, kvh, ffn, vocab, pos;
    if (!arg_int(a, "layers", 12, 1, 1024, &layers) || !arg_int(a, "dim", 768, 1, 65536, &dim) ||
        !arg_int(a, "heads", 12, 1, 65536, &heads) ||
        !arg_int(a, "kv-heads", heads, 1, 65536, &kvh))
        return 1;
    long ffn_def = llama ? (8 * dim / 3 + 63) / 64 * 64 : 4 * dim;
    long vocab_def = c->family == PT_FAMILY_BERT ? 30522 : llama ? 32000 : 50257;
    long pos_def = c->family == PT_FAMILY_BERT ? 512 : llama ? 2048 : 1024;
    if (!arg_int(a, "ffn", ffn_def, 1, 1 << 20, &ffn) ||
        !arg_int(a, "vocab", vocab_def, 2, 1 << 24, &vocab) ||
        !arg_int(a, "positions", pos_def, 1, 1 << 20, &pos))
        return 1;
    c->n_layers = (int)layers, c->dim = (int)dim, c->n_heads = (int)heads;
    c->n_kv_heads = (int)kvh, c->ffn_dim = (int)ffn, c->vocab_size = (int)vocab;
    c->max_pos = (int)pos;
    return 0;
}

int cmd_bench(int argc, char **argv) {
    double t_start = now_ms();
    args a;
    int rc =
        args_parse(&a, OPTS, (int)(sizeof OPTS / sizeof OPTS[0]), argc, argv, "bench",
                   "[--family gpt2|bert|llama] [--layers N --dim N ...] "
                   "[--batch N --seq N --prompts N --encoder E] [--reps N] [--json]",
                   "Time a P-tuning training step and an evaluation batch on a random model "
                   "of the given shape (GPT-2 small by default), built in memory.\nUnder mpirun "
                   "(MPI=1 builds) the ranks share the batch, as in ptune train, and the "
                   "allreduce\nis timed.");
    if (rc) return rc == 1 ? 0 : rc;
    bench b;
    memset(&b, 0, sizeof b);
    long batch, seq, prompts, reps, warmup, seed;
    pt_encoder_kind ek;
    const char *encs = arg_str(&a, "encoder", "lstm");
    pt_model_config cfg;
    rc = 1;
    if (!arg_int(&a, "batch", 8, 1, 4096, &batch) || !arg_int(&a, "seq", 128, 2, 1 << 20, &seq) ||
        !arg_int(&a, "prompts", 8, 1, 4096, &prompts) ||
        !arg_int(&a, "reps", 5, 1, 100000, &reps) ||
        !arg_int(&a, "warmup", 1, 1, 100000, &warmup) ||
        !arg_int(&a, "seed", 42, 0, 0x7fffffffL, &seed) || set_threads("bench", &a))
        goto done;
    warn_openblas_env("bench");
    if (!pt_encoder_kind_parse(encs, &ek)) {
        die("bench", "--encoder must be lstm, mlp or embedding, not \"%s\"", encs);
        goto done;
    }
    long nbatches, cache_mb;
    if (!arg_int(&a, "batches", 1, 1, 100000, &nbatches) ||
        !arg_int(&a, "cache-mb", -1, -1, 1L << 30, &cache_mb))
        goto done;
    const char *lay = arg_str(&a, "layout", "first");
    b.layout = !strcmp(lay, "first")        ? LAYOUT_FIRST
               : !strcmp(lay, "text-first") ? LAYOUT_TEXT_FIRST
               : !strcmp(lay, "split")      ? LAYOUT_SPLIT
                                            : -1;
    if (b.layout < 0) {
        die("bench", "--layout must be first, text-first or split, not \"%s\"", lay);
        goto done;
    }
    const char *lens = arg_str(&a, "lengths", NULL);
    if (lens) {
        char tail = 0;
        if (sscanf(lens, "%d-%d%c", &b.lmin, &b.lmax, &tail) != 2 || b.lmin < 2 ||
            b.lmax < b.lmin) {
            die("bench", "--lengths must be MIN-MAX with 2 <= MIN <= MAX, not \"%s\"", lens);
            goto done;
        }
        seq = b.lmax;
    }
    long shortest = lens ? b.lmin : seq;
    if (prompts + (b.layout == LAYOUT_FIRST ? 1 : 2) > shortest) {
        die("bench", "--prompts %ld leaves no text in a %ld-token example", prompts, shortest);
        goto done;
    }
    int want_bf16 = !strcmp(arg_str(&a, "precision", "f32"), "bf16");
    if (arg_str(&a, "model", NULL) && want_bf16) {
        /* as stored, then straight to bf16 below (no float32 copy on the way) */
        if (pt_model_open(&b.m, arg_str(&a, "model", NULL))) {
            die("bench", "%s", pt_last_error());
            goto done;
        }
    } else if (arg_str(&a, "model", NULL)) {
        if (load_model("bench", &a, &b.m)) goto done;
    } else {
        if (config_from_args(&a, &cfg)) goto done;
        if (pt_model_random(&b.m, &cfg, (uint64_t)seed)) {
            die("bench", "%s", pt_last_error());
            goto done;
        }
    }
    const char *prec = arg_str(&a, "precision", "f32");
    if (strcmp(prec, "f32") && strcmp(prec, "bf16")) {
        die("bench", "--precision must be f32 or bf16, not \"%s\"", prec);
        goto done;
    }
    if (arg_str(&a, "precision", NULL) && pt_model_is_quantized(b.m))
        fprintf(stderr,
                "ptune bench: --precision %s applies only to float weights; the "
                "quantized matrices stay as stored\n",
                prec);
    if (!strcmp(prec, "bf16") && pt_model_set_precision(b.m, 1)) {
        die("bench", "%s", pt_last_error());
        goto done;
    }
    pt_model_set_recompute(b.m, arg_flag(&a, "recompute"));
    double t_built = now_ms();
    const pt_model_config *c = &b.m->cfg;
    if (seq > c->max_pos) {
        die("bench", "--seq %ld exceeds the model's %d positions", seq, c->max_pos);
        goto done;
    }
    b.B = (int)batch, b.T = (int)seq, b.S = (int)prompts, b.NB = (int)nbatches;
    if (b.B < pt_dist_size()) {
        die("bench", "--batch %d is smaller than the %d ranks", b.B, pt_dist_size());
        goto done;
    }
    if (bench_setup(&b, ek, (uint64_t)seed)) {
        die("bench", "%s", pt_last_error());
        goto done;
    }
    if (cache_mb && c->causal &&
        pt_engine_use_cache(&b.eng,
                            cache_mb < 0 ? pt_kv_cache_default_bytes() : (size_t)cache_mb << 20)) {
        die("bench", "%s", pt_last_error());
        goto done;
    }
    double loss = 0, *tt = pt_alloc((size_t)reps, sizeof(double));
    double *te = pt_alloc((size_t)reps, sizeof(double));
    double *ta = pt_alloc((size_t)reps, sizeof(double)),
           *tw2 = pt_alloc((size_t)reps, sizeof(double));
    if (!tt || !te || !ta || !tw2) {
        free(tt);
        free(te);
        free(ta);
        free(tw2);
        die("bench", "out of memory");
        goto done;
    }
    pt_status s = PT_OK;
    double t_first = 0;
    /* warm-up: at least one pass over every batch (the first fills the cache) */
    long nwarm = warmup > nbatches ? warmup : nbatches;
    double *tw = pt_alloc((size_t)nwarm, sizeof(double));
    if (!tw) s = pt_fail(PT_ERR_NOMEM, "out of memory");
    for (long i = 0; i < nwarm && !s; i++) {
        take_batch(&b, i);
        double t0 = now_ms();
        s = train_step(&b, &loss);
        tw[i] = now_ms() - t0;
        if (i == 0) t_first = now_ms();
    }
    double first_pass_ms = s ? 0 : median(tw, (int)nbatches);
    free(tw);
    for (long i = 0; i < nwarm && !s; i++) take_batch(&b, i), s = eval_batch(&b, &loss);
    for (long i = 0; i < reps && !s; i++) {
        take_batch(&b, i);
        double t0 = now_ms();
        s = train_step(&b, &loss);
        double t1 = now_ms();
        tw2[i] = b.sum_ms;
        ta[i] = 0;
        if (!s &&
            b.red) { /* the same allreduce alone: once to bring the ranks in step, then timed */
            size_t n = (size_t)b.S * c->dim + 1;
            pt_dist_sum_f(b.red, n);
            double ta0 = now_ms();
            pt_dist_sum_f(b.red, n);
            ta[i] = now_ms() - ta0;
        }
        double t2 = now_ms();
        if (!s) s = eval_batch(&b, &loss);
        tt[i] = t1 - t0;
        te[i] = now_ms() - t2;
    }
    double ar_ms = median(ta, (int)reps), ar_step_ms = median(tw2, (int)reps);
    free(ta);
    free(tw2);
    if (s) {
        free(tt);
        free(te);
        die("bench", "%s", pt_last_error());
        goto done;
    }
    double train_ms = median(tt, (int)reps), eval_ms = median(te, (int)reps);
    double train_min = tt[0], eval_min = te[0];
    free(tt);
    free(te);
    /* useful work: the full computation at every real token, per batch (mean) */
    double fwd = 0, bwd = 0, tokens = 0;
    for (int i = 0; i < b.NB * b.B; i++) {
        double f1, b1;
        count_flops(c, 1, b.lens[i], &f1, &b1);
        fwd += f1 / b.NB, bwd += b1 / b.NB, tokens += (double)b.lens[i] / b.NB;
    }
    double gflops = (fwd + bwd) / (train_ms * 1e6), eval_gflops = fwd / (eval_ms * 1e6);
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    double rss = peak_rss_mb();
    double act_mb = (double)pt_run_bytes(b.eng.run) / (1024.0 * 1024.0);
    int rec = b.m->recompute;
    char cpu_model[128], cpu_feat[256];
    pt_cpu_describe(cpu_model, sizeof cpu_model, cpu_feat, sizeof cpu_feat);
    for (char *q = cpu_model; *q; q++)
        if (*q == '"' || *q == '\\') *q = ' '; /* JSON-safe */
    int N = pt_dist_size();
    size_t ar_bytes = N > 1 ? sizeof(float) * ((size_t)b.S * c->dim + 1) : 0;
    if (pt_dist_rank() != 0) { /* rank 0 alone prints */
    } else if (arg_flag(&a, "json")) {
        printf("{\"ranks\":%d,\"allreduce_bytes\":%zu,\"allreduce_ms\":%.3f,"
               "\"allreduce_in_step_ms\":%.3f,",
               N, ar_bytes, ar_ms, ar_step_ms);
        printf(
            "\"family\":\"%s\",\"layers\":%d,\"dim\":%d,\"heads\":%d,\"ffn\":%d,\"vocab\":%d,"
            "\"params\":%lld,\"batch\":%d,\"seq\":%d,\"prompts\":%d,\"encoder\":\"%s\","
            "\"precision\":\"%s\",\"threads\":%d,\"reps\":%ld,\"train_ms\":%.2f,\"eval_ms\":%.2f,"
            "\"train_min_ms\":%.2f,\"eval_min_ms\":%.2f,\"tokens_per_s\":%.1f,"
            "\"eval_tokens_per_s\":%.1f,\"gflops\":%.2f,\"eval_gflops\":%.2f,"
            "\"train_gflop\":%.3f,\"peak_rss_mb\":%.1f,\"activations_mb\":%.1f,"
            "\"recompute\":%s,\"build_ms\":%.1f,"
            "\"first_step_ms\":%.1f,\"start_to_first_step_ms\":%.1f,\"loss\":%.6f,"
            "\"layout\":\"%s\",\"batches\":%d,\"first_pass_train_ms\":%.2f,"
            "\"rows_run\":%ld,\"rows_cached\":%ld,\"cpu\":\"%s\",\"cpu_features\":\"%s\","
            "\"bf16_arith\":\"%s\",\"lengths\":[",
            pt_family_name(c->family), c->n_layers, c->dim, c->n_heads, c->ffn_dim, c->vocab_size,
            (long long)b.m->n_params, b.B, b.T, b.S, pt_encoder_kind_name(ek), prec, threads, reps,
            train_ms, eval_ms, train_min, eval_min, tokens / (train_ms * 1e-3),
            tokens / (eval_ms * 1e-3), gflops, eval_gflops, (fwd + bwd) * 1e-9, rss, act_mb,
            rec ? "true" : "false", t_built - t_start, t_first - t_built, t_first - t_start, loss,
            lay, b.NB, first_pass_ms, b.eng.rows_run, b.eng.rows_cached, cpu_model, cpu_feat,
            pt_arith_name(pt_mm_get_arith()));
        for (int i = 0; i < b.NB * b.B; i++) printf("%s%d", i ? "," : "", b.lens[i]);
        printf("]}\n");
    } else {
        printf("model      %s, %d layers, width %d, %d heads, ffn %d, vocab %d (%.1fM params, "
               "%s)\n",
               pt_family_name(c->family), c->n_layers, c->dim, c->n_heads, c->ffn_dim,
               c->vocab_size, b.m->n_params / 1e6, arg_str(&a, "model", "random weights"));
        printf("cpu        %s (%s)\n", cpu_model, cpu_feat[0] ? cpu_feat : "no AVX2");
        if (!strcmp(prec, "bf16"))
            printf("precision  bf16 weights, %s arithmetic (%s)\n",
                   pt_arith_name(pt_mm_get_arith()), pt_mm_arith_why());
        printf("batch      %d x %d tokens, %d virtual tokens, %s encoder, %d threads%s, median of "
               "%ld\n",
               b.B, b.T, b.S, pt_encoder_kind_name(ek), threads, N > 1 ? " per rank" : "", reps);
        if (b.layout != LAYOUT_FIRST || b.lmin || b.NB > 1)
            printf("task       layout %s, %d batches, %.1f tokens per example on average%s\n", lay,
                   b.NB, tokens / b.B, b.eng.kvc ? ", key/value cache on" : "");
        if (N > 1)
            printf("ranks      %d (mpirun), each its share of the batch; one allreduce of %zu "
                   "bytes per step: %.3f ms (%.3f ms in the step, waiting for the slowest "
                   "rank included)\n",
                   N, ar_bytes, ar_ms, ar_step_ms);
        if (b.eng.kvc) printf("first pass %9.1f ms per step (filling the cache)\n", first_pass_ms);
        printf("train step %9.1f ms  (%.0f tokens/s, %.1f GFLOP/s over %.2f GFLOP)\n", train_ms,
               tokens / (train_ms * 1e-3), gflops, (fwd + bwd) * 1e-9);
        printf("eval batch %9.1f ms  (%.0f tokens/s, %.1f GFLOP/s)\n", eval_ms,
               tokens / (eval_ms * 1e-3), eval_gflops);
        printf("start to first step %.0f ms (build/load %.0f ms + first step %.0f ms)\n",
               t_first - t_start, t_built - t_start, t_first - t_built);
        printf("peak RSS   %.0f MB (model activations %.0f MB%s)\n", rss, act_mb,
               rec ? ", recomputed in backward" : "");
    }
    rc = 0;
done:
    bench_free(&b);
    args_free(&a);
    return rc;
}
