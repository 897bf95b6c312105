/* cmd_info.c - ptune info: describe a model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "core/cpu.h"
#include "core/error.h"
#include "kernels/gemm.h"
#include "train/dist.h"
#include "kernels/weight.h"
#include "models/model.h"

static const opt OPTS[] = {
    {"json", NULL, "print one JSON object"},
    {"build", NULL, "describe this build instead of a model: GEMM engine, threads, SIMD"},
};

static const char *tok_kind(const pt_tokenizer *t) {
    if (!t) return "none";
    switch (t->kind) {
    case PT_TOK_BPE:
        return "byte-level BPE";
    case PT_TOK_WORDPIECE:
        return "WordPiece";
    case PT_TOK_SPM:
        return "SentencePiece BPE";
    }
    return "?";
}

static int build_info(int json) {
    pt_gemm_info g;
    pt_gemm_get_info(&g);
    const char *fixed = getenv("PTUNE_OPENBLAS_DETECTED");
    const char *set = getenv("OPENBLAS_CORETYPE");
    const char *better = pt_gemm_openblas_better_core();
    const char *below = pt_gemm_openblas_env_below();
    char cpu_model[128], cpu_feat[256];
    pt_cpu_describe(cpu_model, sizeof cpu_model, cpu_feat, sizeof cpu_feat);
    for (char *q = cpu_model; *q; q++)
        if (*q == '"' || *q == '\\') *q = ' '; /* JSON-safe */
    if (json) {
        printf("{\"engine\":\"%s\",\"version\":\"%s\",\"core\":\"%s\",\"detail\":\"%s\","
               "\"threads\":%d,\"simd\":\"%s\",\"openblas_detected\":\"%s\","
               "\"openblas_better\":\"%s\",\"cpu\":\"%s\",\"cpu_features\":\"%s\","
               "\"bf16_arith\":\"%s\",\"bf16_arith_why\":\"%s\",\"mpi\":%s}\n",
               g.engine, g.version, g.core, g.detail, g.threads, g.simd, fixed && set ? fixed : "",
               below ? below : "", cpu_model, cpu_feat, pt_arith_name(pt_mm_get_arith()),
               pt_mm_arith_why(), pt_dist_built() ? "true" : "false");
        return 0;
    }
    printf("gemm engine:  %s%s%s (%s%s%s)\n", g.engine, g.version[0] ? " " : "", g.version, g.core,
           g.detail[0] ? ", " : "", g.detail);
    if (fixed && set && pt_gemm_openblas_core())
        printf("              OpenBLAS had picked %s kernels; ptune set OPENBLAS_CORETYPE=%s\n",
               fixed, set);
    else if (better)
        printf("              warning: OpenBLAS picked %s kernels below this CPU; set "
               "OPENBLAS_CORETYPE=%s\n",
               pt_gemm_openblas_core(), better);
    else if (below)
        printf("              warning: OPENBLAS_CORETYPE=%s (set in the environment) names kernels "
               "below this CPU's; OPENBLAS_CORETYPE=%s uses them (kept as set)\n",
               set, below);
    printf("threads:      %d (OpenMP%s)\n", g.threads,
#ifdef _OPENMP
           ""
#else
           " not built in"
#endif
    );
    printf("builtin SIMD: %s (micro-kernels of the builtin engine)\n", g.simd);
    pt_arith ar = pt_mm_get_arith();
    printf("bf16 arith:   %s (%s; %s; PTUNE_BF16_ARITH=f32|bf16|bf16x2 picks)\n", pt_arith_name(ar),
           pt_mm_arith_why(),
           ar == PT_ARITH_BF16     ? "vdpbf16ps, activations rounded to bf16"
           : ar == PT_ARITH_BF16X2 ? "vdpbf16ps, activations as bf16 high + low parts"
                                   : "bf16 weights widened to float32, float32 multiply-adds");
    if (pt_dist_built())
        printf("mpi:          yes (data-parallel training: mpirun -np N ptune train ...)\n");
    else
        printf("mpi:          no (build with make MPI=1 for mpirun -np N ptune train)\n");
    printf("cpu:          %s\n", cpu_model);
    printf("cpu features: %s\n", cpu_feat[0] ? cpu_feat : "(none of avx2 fma avx512* amx*)");
    return 0;
}

/* the weights' types and the memory they take once loaded */
static void print_mix(const pt_model *m) {
    int count[PT_WT_COUNT];
    size_t bytes[PT_WT_COUNT], owned, mapped;
    pt_model_type_mix(m, count, bytes);
    pt_model_memory(m, &owned, &mapped);
    printf("type mix:    ");
    for (int t = 0; t < PT_WT_COUNT; t++)
        if (count[t])
            printf(" %s %d (%.2f MB)", pt_wtype_get((pt_wtype)t)->name, count[t], bytes[t] / 1e6);
    printf("\n");
    printf("resident:     about %.2f MB of weights: %.2f MB mapped from the file (page cache, "
           "shared)\n              + %.2f MB copied; then activations and the prompt encoder\n",
           (owned + mapped) / 1e6, mapped / 1e6, owned / 1e6);
    if (pt_model_is_quantized(m))
        printf("              (quantized matrices stay as stored; --precision applies only to "
               "float weights)\n");
}

int cmd_info(int argc, char **argv) {
    args a;
    int r = args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], argc, argv, "info", "PATH",
                       "Describe a model: a Hugging Face directory (config.json + "
                       "model.safetensors),\na .safetensors file with its config.json beside "
                       "it, or a .gguf file.");
    if (r) return r == 1 ? 0 : 2;
    if (arg_flag(&a, "build")) {
        r = build_info(arg_flag(&a, "json"));
        args_free(&a);
        return r;
    }
    if (a.n_pos != 1) {
        args_free(&a);
        return die("info", "give one model PATH (see ptune info --help)") + 1;
    }
    pt_model *m;
    if (pt_model_load(&m, a.pos[0])) {
        args_free(&a);
        return die("info", "%s", pt_last_error());
    }
    const pt_model_config *c = &m->cfg;
    char fp[17];
    pt_model_fingerprint(m, fp);
    if (arg_flag(&a, "json")) {
        printf("{\"family\":\"%s\",\"dim\":%d,\"layers\":%d,\"heads\":%d,\"kv_heads\":%d,"
               "\"ffn_dim\":%d,\"vocab_size\":%d,\"max_positions\":%d,\"parameters\":%lld,"
               "\"dtype\":\"%s\",\"causal\":%s,\"lm_head\":%s,\"tokenizer\":\"%s\","
               "\"tokenizer_vocab\":%d,\"fingerprint\":\"%s\",",
               pt_family_name(c->family), c->dim, c->n_layers, c->n_heads, c->n_kv_heads,
               c->ffn_dim, c->vocab_size, c->max_pos, (long long)m->n_params, m->dtype,
               c->causal ? "true" : "false", c->has_lm_head ? "true" : "false", tok_kind(m->tok),
               m->tok ? m->tok->vocab_size : 0, fp);
        int count[PT_WT_COUNT];
        size_t bytes[PT_WT_COUNT], owned, mapped;
        pt_model_type_mix(m, count, bytes);
        pt_model_memory(m, &owned, &mapped);
        printf("\"quantized\":%s,\"types\":{", pt_model_is_quantized(m) ? "true" : "false");
        for (int t = 0, first = 1; t < PT_WT_COUNT; t++)
            if (count[t]) {
                printf("%s\"%s\":{\"tensors\":%d,\"bytes\":%zu}", first ? "" : ",",
                       pt_wtype_get((pt_wtype)t)->name, count[t], bytes[t]);
                first = 0;
            }
        printf("},\"weights_mapped_bytes\":%zu,\"weights_owned_bytes\":%zu}\n", mapped, owned);
    } else {
        printf("model:        %s\n", a.pos[0]);
        printf("family:       %s (%s)\n", pt_family_name(c->family),
               c->causal ? "causal LM" : "masked LM");
        printf("width:        %d\n", c->dim);
        printf("layers:       %d\n", c->n_layers);
        printf("heads:        %d (key/value heads %d, head size %d)\n", c->n_heads, c->n_kv_heads,
               c->head_dim);
        if (c->causal && c->family != PT_FAMILY_GPT2) {
            static const char *const sc[] = {"none", "linear", "llama3"};
            printf("rope:         theta %g, scaling %s", (double)c->rope_theta,
                   sc[c->rope_scaling >= 0 && c->rope_scaling <= 2 ? c->rope_scaling : 0]);
            if (c->rope_scaling) printf(" (factor %g)", (double)c->rope_factor);
            if (m->w.rope_freqs.data) printf(", frequency factors (GGUF rope_freqs)");
            printf("%s\n", c->rope_interleaved ? ", GGUF adjacent-pair rows" : "");
        }
        if (c->sliding_window)
            printf("window:       sliding window of %d tokens (longer sequences are refused)\n",
                   c->sliding_window);
        if (c->causal) printf("embeddings:   %s\n", c->tied ? "tied to the LM head" : "untied");
        printf("ffn width:    %d\n", c->ffn_dim);
        printf("vocabulary:   %d\n", c->vocab_size);
        printf("positions:    %d\n", c->max_pos);
        printf("parameters:   %lld (%.2f M)\n", (long long)m->n_params, m->n_params / 1e6);
        printf("stored dtype: %s (computed in float32)\n", m->dtype);
        print_mix(m);
        printf("LM head:      %s\n", c->has_lm_head ? "yes" : "no (use --head linear)");
        if (m->tok)
            printf("tokenizer:    %s, %d tokens\n", tok_kind(m->tok), m->tok->vocab_size);
        else
            printf("tokenizer:    none found\n");
        printf("fingerprint:  %s\n", fp);
    }
    pt_model_free(m);
    args_free(&a);
    return 0;
}
