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

/* GPT-2's byte <-> unicode map: printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC,
 * U+00AE..U+00FF) map to themselves, the other 68 bytes to U+0100 + n in byte
 * order (so 0x00 -> U+0100, ' ' -> U+0120 'Ġ', 0xAD -> U+0143). */
uint32_t pt_bpe_byte_to_cp(unsigned b);
/* Inverse: the byte for code point cp, or -1 if cp is not in the map. */
int pt_bpe_cp_to_byte(uint32_t cp);

#endif
