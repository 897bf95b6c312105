/* unicode_bert.h - the Unicode properties the BERT basic tokenizer needs.
 *
 * Tables are generated from Python's unicodedata (Unicode 14.0.0) by
 * scripts/gen_unicode_bert.py into unicode_bert_tables.h. Code points are
 * uint32_t; anything above U+10FFFF is treated as unassigned ("other").
 */
#ifndef PT_TOKENIZERS_UNICODE_BERT_H
#define PT_TOKENIZERS_UNICODE_BERT_H

#include <stddef.h>
#include <stdint.h>

/* Longest full canonical decomposition of one code point. */
#define PT_UNI_MAX_DECOMP 4
/* Longest full lowercase mapping of one code point (U+0130 -> "i" U+0307). */
#define PT_UNI_MAX_LOWER 2

/* Unicode version of the tables, e.g. "14.0.0". */
const char *pt_uni_version(void);

/* General category C* (Cc, Cf, Cn, Co, Cs). */
int pt_uni_is_other(uint32_t cp);
/* General category P* (Pc, Pd, Pe, Pf, Pi, Po, Ps). */
int pt_uni_is_punct(uint32_t cp);
/* General category Mn (nonspacing mark). */
int pt_uni_is_mn(uint32_t cp);
/* The White_Space property (U+0009-000D, U+0020, U+0085, U+00A0, U+1680,
 * U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000). */
int pt_uni_is_space(uint32_t cp);
/* Canonical combining class (0 for starters). */
int pt_uni_ccc(uint32_t cp);
/* Full lowercase mapping without context (no final-sigma rule): writes 1 or
 * 2 code points to out and returns how many. */
int pt_uni_lower(uint32_t cp, uint32_t out[PT_UNI_MAX_LOWER]);
/* Full canonical decomposition (Hangul syllables included), not yet
 * reordered: writes 1..PT_UNI_MAX_DECOMP code points and returns how many. */
int pt_uni_decompose(uint32_t cp, uint32_t out[PT_UNI_MAX_DECOMP]);
/* Canonical ordering: stable-sort each run of non-starters by combining
 * class, in place (the last step of NFD). */
void pt_uni_reorder(uint32_t *cps, size_t n);

/* UTF-8: decode one code point from s[0..n) (n >= 1) into *cp and return the
 * number of bytes used. Invalid or overlong sequences, surrogates and values
 * above U+10FFFF decode as U+FFFD consuming one byte. */
size_t pt_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Encode cp (<= U+10FFFF) into out[0..4); returns the byte count. */
size_t pt_utf8_encode(uint32_t cp, char out[4]);

#endif
