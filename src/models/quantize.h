/* quantize.h - GGUF in, GGUF out: every key-value copied, the tensors
 * re-stored in a chosen type or a llama.cpp-style mix, one row at a time
 * (source rows dequantized to float32, then quantized by the reference rules
 * of kernels/quant.h), so memory stays at a few rows whatever the model.
 *
 * Types: F32 (every tensor: "the same model dequantized"), F16, BF16, Q4_0,
 * Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (every matrix in that
 * type), and the mixes
 *   Q4_K_M / Q5_K_M  matrices Q4_K (Q5_K); output.weight, and attn_v and
 *                    ffn_down in the first and last eighth of the layers and
 *                    every third layer between, Q6_K (llama.cpp's rule)
 * Except for F32, 1-D tensors (norms, biases) are stored
 * F32, and a matrix whose rows are not whole blocks of its type falls back to
 * Q8_0 (rows of whole 32s) or F32.
 */
#ifndef PT_MODELS_QUANTIZE_H
#define PT_MODELS_QUANTIZE_H

#include <stdint.h>

#include "kernels/weight.h"
#include "ptune.h"

typedef struct pt_quantize_stats {
    int n_tensors;
    int by_type[PT_WT_COUNT]; /* tensors written in each type */
    int n_fallback;           /* matrices stored otherwise than asked (rows not whole blocks) */
    unsigned long long bytes; /* tensor data written */
    int no_tokenizer;         /* HF input: the directory had no tokenizer (none written) */
    int nfc_dropped;          /* HF input: the tokenizer's NFC check has no GGUF form */
} pt_quantize_stats;

/* 1 when `type` names a type or mix above. */
int pt_quantize_type_ok(const char *type);
/* Write `out` from the GGUF file `in`. stats may be NULL. */
pt_status pt_gguf_quantize(const char *in, const char *out, const char *type,
                           pt_quantize_stats *stats);

/* Write `out` from the Hugging Face directory `in` (a family with a GGUF
 * form: LLaMA, Mistral as "llama", Qwen2): the family table's GGUF tensor
 * names, Q/K rows (and q/k biases) permuted for adjacent-pair RoPE where the
 * family's GGUF has them so (llama.cpp's converter), the config keys the
 * table names plus value_length, rope.dimension_count, linear RoPE scaling
 * keys or LLaMA-3's as rope_freqs.weight factors, and the tokenizer as
 * tokenizer.ggml.* keys (tokenizer.h). Weights are read as stored and
 * written one row at a time. GPT-2, BERT and RoBERTa are refused. */
pt_status pt_hf_to_gguf(const char *in, const char *out, const char *type,
                        pt_quantize_stats *stats);

/* A LLaMA-architecture GGUF with random weights at the given shape, for
 * benchmarks at real sizes (no tokenizer): matrices N(0, 0.02), norms 1,
 * stored in `type` as above. Each tensor repeats 8 distinct random rows, so
 * writing a 7B file costs little more than the disk writes. */
typedef struct pt_random_spec {
    int dim, layers, heads, kv_heads, ffn, vocab;
} pt_random_spec;
pt_status pt_gguf_write_random(const char *out, const pt_random_spec *spec, const char *type,
                               uint64_t seed, pt_quantize_stats *stats);

#endif
