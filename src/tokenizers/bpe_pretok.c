/* bpe_pretok.c - the GPT-2 pre-tokenizer written out by hand (no regex library),
 * the character classes it needs, and the byte <-> unicode map.
 *
 * The GPT-2 pattern, tried left to right at each position (first alternative
 * that matches wins):
 *   's|'t|'re|'ve|'m|'ll|'d      contractions, lower case only (as in GPT-2)
 *   ' ?\p{L}+'                   optional space + letters
 *   ' ?\p{N}+'                   optional space + numbers
 *   ' ?[^\s\p{L}\p{N}]+'         optional space + other characters
 *   '\s+(?!\S)'                  white space not followed by a non-space: a run
 *                                that ends the text, or all but its last char
 *                                (that one joins the next word via ' ?')
 *   '\s+'                        a single white-space char before a non-space
 */
#include "tokenizers/bpe_pretok.h"

#include <string.h>

#include "tokenizers/unicode_tables.h"

int pt_uc_class(uint32_t cp) {
    if (cp < 0x80) {
        if (cp >= 'a' && cp <= 'z') return PT_UC_LETTER;
        if (cp >= 'A' && cp <= 'Z') return PT_UC_LETTER;
        if (cp >= '0' && cp <= '9') return PT_UC_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return PT_UC_SPACE;
        return PT_UC_OTHER;
    }
    int lo = 0, hi = pt_uc_nranges - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (cp < pt_uc_ranges[mid].lo)
            hi = mid - 1;
        else if (cp > pt_uc_ranges[mid].hi)
            lo = mid + 1;
        else
            return pt_uc_ranges[mid].cls;
    }
    return PT_UC_OTHER;
}

static int is_cont(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

size_t pt_utf8_next(const unsigned char *s, size_t len, size_t i, uint32_t *cp) {
    unsigned c = s[i];
    size_t left = len - i;
    *cp = PT_UTF8_INVALID;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        if (left < 2 || !is_cont(s[i + 1])) return 1;
        *cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || !is_cont(s[i + 1]) || !is_cont(s[i + 2])) return 1;
        if (c == 0xE0 && s[i + 1] < 0xA0) return 1; /* overlong */
        if (c == 0xED && s[i + 1] > 0x9F) return 1; /* surrogate */
        *cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || !is_cont(s[i + 1]) || !is_cont(s[i + 2]) || !is_cont(s[i + 3])) return 1;
        if (c == 0xF0 && s[i + 1] < 0x90) return 1; /* overlong */
        if (c == 0xF4 && s[i + 1] > 0x8F) return 1; /* > U+10FFFF */
        *cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
              (s[i + 3] & 0x3Fu);
        return 4;
    }
    return 1; /* continuation byte or 0xC0, 0xC1, 0xF5..0xFF */
}

/* Class of the character at s[i] (i < len); its byte length in *n. */
static int class_at(const unsigned char *s, size_t len, size_t i, size_t *n) {
    if (s[i] < 0x80) { /* fast path */
        *n = 1;
        return pt_uc_class(s[i]);
    }
    uint32_t cp;
    *n = pt_utf8_next(s, len, i, &cp);
    return cp == PT_UTF8_INVALID ? PT_UC_OTHER : pt_uc_class(cp);
}

/* End of the run of class cls starting at i. */
static size_t run_end(const unsigned char *s, size_t len, size_t i, int cls) {
    size_t n;
    while (i < len && class_at(s, len, i, &n) == cls) i += n;
    return i;
}

size_t pt_gpt2_pretok_next(const unsigned char *s, size_t len, size_t i) {
    /* contractions */
    if (s[i] == '\'' && i + 1 < len) {
        unsigned char a = s[i + 1], b = i + 2 < len ? s[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return i + 3;
    }
    size_t n;
    int cls = class_at(s, len, i, &n);
    /* ' ?X+' for X = letters, numbers, other: the class of the first char after
     * the optional space picks the alternative. */
    if (cls != PT_UC_SPACE) return run_end(s, len, i + n, cls);
    if (s[i] == ' ' && i + 1 < len) {
        size_t n2;
        int cls2 = class_at(s, len, i + 1, &n2);
        if (cls2 != PT_UC_SPACE) return run_end(s, len, i + 1 + n2, cls2);
    }
    /* white space: find the run and the start of its last char */
    size_t last = i, j = i + n;
    while (j < len && class_at(s, len, j, &n) == PT_UC_SPACE) {
        last = j;
        j += n;
    }
    if (j == len) return j;    /* \s+(?!\S) takes the run up to the end */
    if (last > i) return last; /* \s+(?!\S) leaves the last char to the next word */
    return j;                  /* \s+ : a single white-space char */
}

/* LLaMA-3 / Qwen2 pattern, alternatives tried in order at s[i]:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)   contractions in either case; under (?i) 's
 *                                  also matches "'ſ" (U+017F folds to s)
 *   [^\r\n\p{L}\p{N}]?\p{L}+       letters, after at most one char that is not
 *                                  CR, LF, letter or number (" the", "'re", "$x")
 *   \p{N}{1,D}                     up to D numbers
 *   ' ?[^\s\p{L}\p{N}]+[\r\n]*'    optional space + other chars + CR/LF run
 *   \s*[\r\n]+                     white space up to and including its last
 *                                  CR/LF (greedy \s* gives back to the last one)
 *   \s+(?!\S), \s+                 as in GPT-2
 */
static unsigned ascii_lower(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? c + 32u : c;
}

static int is_crlf(unsigned char c) {
    return c == '\r' || c == '\n';
}

size_t pt_llama3_pretok_next(const unsigned char *s, size_t len, size_t i, int max_digits) {
    if (s[i] == '\'' && i + 1 < len) {
        unsigned a = ascii_lower(s[i + 1]), b = i + 2 < len ? ascii_lower(s[i + 2]) : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (s[i + 1] == 0xC5 && b == 0xBF) return i + 3; /* 'ſ */
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return i + 3;
    }
    size_t n, n2;
    int cls = class_at(s, len, i, &n);
    if (cls == PT_UC_LETTER) return run_end(s, len, i + n, PT_UC_LETTER);
    if (cls != PT_UC_NUMBER && !is_crlf(s[i]) && i + n < len &&
        class_at(s, len, i + n, &n2) == PT_UC_LETTER)
        return run_end(s, len, i + n + n2, PT_UC_LETTER);
    if (cls == PT_UC_NUMBER) {
        size_t j = i + n;
        for (int k = 1; k < max_digits && j < len && class_at(s, len, j, &n2) == PT_UC_NUMBER; k++)
            j += n2;
        return j;
    }
    size_t start = len; /* first "other" char of ' ?[^\s\p{L}\p{N}]+', len if none */
    if (cls == PT_UC_OTHER)
        start = i;
    else if (s[i] == ' ' && i + 1 < len && class_at(s, len, i + 1, &n2) == PT_UC_OTHER)
        start = i + 1;
    if (start < len) {
        size_t j = run_end(s, len, start, PT_UC_OTHER);
        while (j < len && is_crlf(s[j])) j++;
        return j;
    }
    /* white space: the run [i, j), the start of its last char, its last CR/LF */
    size_t last = i, j = i + n, nl = is_crlf(s[i]) ? i : len;
    while (j < len && class_at(s, len, j, &n2) == PT_UC_SPACE) {
        if (is_crlf(s[j])) nl = j;
        last = j;
        j += n2;
    }
    if (nl < len) return nl + 1; /* \s*[\r\n]+ */
    if (j == len) return j;
    if (last > i) return last;
    return j;
}

size_t pt_pretok_next(pt_pretok kind, const unsigned char *s, size_t len, size_t i) {
    switch (kind) {
    case PT_PRETOK_LLAMA3:
        return pt_llama3_pretok_next(s, len, i, 3);
    case PT_PRETOK_QWEN2:
        return pt_llama3_pretok_next(s, len, i, 1);
    default:
        return pt_gpt2_pretok_next(s, len, i);
    }
}

int pt_pretok_from_name(const char *name) {
    static const struct {
        const char *name;
        pt_pretok kind;
    } names[] = {{"gpt-2", PT_PRETOK_GPT2},
                 {"default", PT_PRETOK_GPT2},
                 {"llama-bpe", PT_PRETOK_LLAMA3},
                 {"llama3", PT_PRETOK_LLAMA3},
                 {"qwen2", PT_PRETOK_QWEN2}};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(name, names[k].name) == 0) return (int)names[k].kind;
    return -1;
}

uint32_t pt_bpe_byte_to_cp(unsigned b) {
    if (b <= 0x20) return 0x100 + b;                       /* 33 controls and space */
    if (b >= 0x7F && b <= 0xA0) return 0x121 + (b - 0x7F); /* 34: DEL, C1, NBSP */
    if (b == 0xAD) return 0x143;                           /* soft hyphen */
    return b;
}

int pt_bpe_cp_to_byte(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp >= 0x100 && cp <= 0x120) return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142) return (int)(0x7F + cp - 0x121);
    if (cp == 0x143) return 0xAD;
    return -1;
}
