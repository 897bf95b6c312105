/* bpe_pretok.h - GPT-2 byte-level BPE internals shared by bpe.c and its tests:
 * the pre-tokenizer (the GPT-2 regex, by hand) and the byte <-> unicode map. */
#ifndef PT_TOKENIZERS_BPE_PRETOK_H
#define PT_TOKENIZERS_BPE_PRETOK_H

#include <stddef.h>
#include <stdint.h>

/* Decode one character of s[i..len) (i < len). Returns its length in bytes
 * (1..4) and stores the code point; an invalid byte (bad lead, truncated or
 * overlong sequence, surrogate, > U+10FFFF) is one character of length 1 with
 * *cp = PT_UTF8_INVALID. */
#define PT_UTF8_INVALID 0xFFFFFFFFu
size_t pt_utf8_next(const unsigned char *s, size_t len, size_t i, uint32_t *cp);

/* End (exclusive) of the pre-token starting at s[i] (i < len), following
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * with leftmost-first alternation. Invalid bytes count as "other" characters.
 * Always returns a value > i. */
size_t pt_gpt2_pretok_next(const unsigned char *s, size_t len, size_t i);

/* The pre-tokenizers a byte-level BPE vocabulary may name (GGUF
 * tokenizer.ggml.pre, tokenizer.json Split regexes). */
typedef enum pt_pretok {
    PT_PRETOK_GPT2,   /* "gpt-2", "default": the pattern above */
    PT_PRETOK_LLAMA3, /* "llama-bpe", "llama3": LLaMA-3's pattern, digits in runs of 1..3 */
    PT_PRETOK_QWEN2,  /* "qwen2": the LLaMA-3 pattern with single digits */
} pt_pretok;

/* End of the pre-token starting at s[i] under LLaMA-3's pattern
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}|
 *    ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * with D = max_digits (3 for llama-bpe, 1 for qwen2). Always > i. */
size_t pt_llama3_pretok_next(const unsigned char *s, size_t len, size_t i, int max_digits);
/* Dispatch on kind. */
size_t pt_pretok_next(pt_pretok kind, const unsigned char *s, size_t len, size_t i);
/* kind for a GGUF tokenizer.ggml.pre name, -1 when unknown */
int pt_pretok_from_name(const char *name);

/* GPT-2's byte <-> unicode map: printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC,
 * U+00AE..U+00FF) map to themselves, the other 68 bytes to U+0100 + n in byte
 * order (so 0x00 -> U+0100, ' ' -> U+0120 'Ġ', 0xAD -> U+0143). */
uint32_t pt_bpe_byte_to_cp(unsigned b);
/* Inverse: the byte for code point cp, or -1 if cp is not in the map. */
int pt_bpe_cp_to_byte(uint32_t cp);

#endif
