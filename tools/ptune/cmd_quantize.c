/* cmd_quantize.c - ptune quantize IN OUT TYPE: a GGUF file re-stored in a
 * ggml type or a Q4_K_M-style mix (models/quantize.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "common.h"
#include "core/files.h"
#include "core/error.h"
#include "core/io.h"
#include "models/quantize.h"

static const opt OPTS[] = {
    {"force", NULL, "overwrite OUT if it exists"},
    {"random", "SHAPE",
     "no IN: write a LLaMA with random weights (no tokenizer; for ptune bench) of SHAPE "
     "llama2-7b, llama3-8b or WIDTH,LAYERS,HEADS,KV_HEADS,FFN,VOCAB; give OUT TYPE"},
    {"seed", "N", "--random: seed (default 1)"},
};

/* --random SHAPE */
static int parse_shape(const char *s, pt_random_spec *sp) {
    if (!strcmp(s, "llama2-7b")) {
        *sp = (pt_random_spec){4096, 32, 32, 32, 11008, 32000};
        return 1;
    }
    if (!strcmp(s, "llama3-8b")) {
        *sp = (pt_random_spec){4096, 32, 32, 8, 14336, 128256};
        return 1;
    }
    char end;
    return sscanf(s, "%d,%d,%d,%d,%d,%d%c", &sp->dim, &sp->layers, &sp->heads, &sp->kv_heads,
                  &sp->ffn, &sp->vocab, &end) == 6;
}

static int write_random(const args *a, const char *shape) {
    pt_random_spec sp;
    long seed;
    if (!parse_shape(shape, &sp))
        return die("quantize",
                   "--random: unknown SHAPE \"%s\" (llama2-7b, llama3-8b or "
                   "WIDTH,LAYERS,HEADS,KV_HEADS,FFN,VOCAB)",
                   shape) +
               1;
    if (a->n_pos != 2) return die("quantize", "--random takes OUT TYPE") + 1;
    if (!arg_int(a, "seed", 1, 0, 1L << 62, &seed)) return 2;
    const char *out = a->pos[0], *type = a->pos[1];
    if (!pt_quantize_type_ok(type)) return die("quantize", "unknown TYPE \"%s\"", type) + 1;
    if (pt_file_exists(out) && !arg_flag(a, "force"))
        return die("quantize", "%s exists (--force overwrites it)", out) + 1;
    pt_quantize_stats st;
    if (pt_gguf_write_random(out, &sp, type, (uint64_t)seed, &st))
        return die("quantize", "%s", pt_last_error());
    printf("%s: random LLaMA, %d tensors, %.2f MB of tensor data:", out, st.n_tensors,
           st.bytes / 1e6);
    for (int t = 0; t < PT_WT_COUNT; t++)
        if (st.by_type[t]) printf(" %s %d", pt_wtype_get((pt_wtype)t)->name, st.by_type[t]);
    printf("\n");
    return 0;
}

int cmd_quantize(int argc, char **argv) {
    args a;
    int r =
        args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], argc, argv, "quantize", "IN OUT TYPE",
                   "Write the GGUF file IN to OUT with its matrices in TYPE, by ggml's\n"
                   "reference round-to-nearest rules (no importance matrix):\n"
                   "  Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K  every matrix\n"
                   "  Q4_K_M Q5_K_M  Q4_K (Q5_K) with output.weight and some attn_v and\n"
                   "                 ffn_down layers in Q6_K (llama.cpp's mix)\n"
                   "  F32 F16 BF16   every tensor (F32: the model dequantized)\n"
                   "Norms stay F32; a matrix whose rows are not whole blocks falls back to\n"
                   "Q8_0 or F32. Keys and tokenizer are copied. IN may be a Hugging Face\n"
                   "directory of the LLaMA family, Mistral or Qwen2: its weights are written\n"
                   "under the GGUF tensor names (Q/K rows permuted as llama.cpp does), its\n"
                   "config as GGUF keys and its tokenizer as tokenizer.ggml.* (SentencePiece\n"
                   "\"llama\" or byte-level BPE \"gpt2\"); GPT-2, BERT and RoBERTa have no GGUF\n"
                   "form in ptune and are refused.");
    if (r) return r == 1 ? 0 : 2;
    if (arg_str(&a, "random", NULL)) {
        r = write_random(&a, arg_str(&a, "random", NULL));
        args_free(&a);
        return r;
    }
    if (a.n_pos != 3) {
        args_free(&a);
        return die("quantize", "give IN OUT TYPE (see ptune quantize --help)") + 1;
    }
    const char *in = a.pos[0], *out = a.pos[1], *type = a.pos[2];
    int hf = pt_is_dir(in);
    if (!pt_quantize_type_ok(type)) {
        args_free(&a);
        return die("quantize",
                   "unknown TYPE \"%s\" (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K "
                   "Q4_K_M Q5_K_M F32 F16 BF16)",
                   type) +
               1;
    }
    if (pt_same_file(in, out)) {
        args_free(&a);
        return die("quantize", "OUT %s is the input model itself; write the new file elsewhere",
                   out) +
               1;
    }
    if (pt_file_exists(out) && !arg_flag(&a, "force")) {
        args_free(&a);
        return die("quantize", "%s exists (--force overwrites it)", out) + 1;
    }
    pt_quantize_stats st;
    if (hf ? pt_hf_to_gguf(in, out, type, &st) : pt_gguf_quantize(in, out, type, &st)) {
        args_free(&a);
        return die("quantize", "%s", pt_last_error());
    }
    printf("%s: %d tensors, %.2f MB of tensor data:", out, st.n_tensors, st.bytes / 1e6);
    for (int t = 0; t < PT_WT_COUNT; t++)
        if (st.by_type[t]) printf(" %s %d", pt_wtype_get((pt_wtype)t)->name, st.by_type[t]);
    printf("\n");
    if (hf && st.no_tokenizer)
        printf("%s has no tokenizer: the GGUF has none either (templates need one)\n", in);
    if (hf && st.nfc_dropped)
        printf("note: the tokenizer refuses text that is not NFC; a GGUF vocabulary cannot say "
               "so, the GGUF tokenizes such text as it is\n");
    if (st.n_fallback)
        printf("%d matrices kept in Q8_0 or F32: their rows are not whole %s blocks\n",
               st.n_fallback, type);
    args_free(&a);
    return 0;
}
