/* unicode_nfc.c - the check that a text is already NFC (see unicode_nfc.h).
 *
 * UAX #15's quick check, made exact where it answers "maybe" in the common case:
 *   - a character of non-zero combining class after one of a higher class: the
 *     text is not in canonical order, so not NFC;
 *   - a character with NFC_Quick_Check = No: not NFC;
 *   - a character C that is the second of a primary composite (Quick_Check =
 *     Maybe): NFC would compose it with the last starter L unless it is blocked
 *     (a character between them of class 0 or >= C's class; for a starter C,
 *     any character between). Not blocked and (L, C) composing: not NFC. Not
 *     blocked and L having a canonical decomposition: undecided (its
 *     decomposed marks may reorder around C), reported as not NFC. Otherwise C
 *     stays as it is in NFC too.
 * Hangul syllables compose arithmetically (L + V, LV + T) and count as not
 * decomposing (their recomposition gives them back).
 */
#include "tokenizers/unicode_nfc.h"

#include "tokenizers/bpe_pretok.h"

static int range_find(const pt_nfc_range *r, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid - 1;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return r[mid].v;
    }
    return 0;
}

static int is_jamo_v(uint32_t c) {
    return c >= 0x1161 && c <= 0x1175;
}

static int is_jamo_t(uint32_t c) {
    return c >= 0x11A8 && c <= 0x11C2;
}

/* Does (a, b) compose to a primary composite? (Maybe characters only) */
static int composes(uint32_t a, uint32_t b, int *maybe) {
    if (is_jamo_v(b)) {
        *maybe = 1;
        return a >= 0x1100 && a <= 0x1112;
    }
    if (is_jamo_t(b)) {
        *maybe = 1;
        return a >= 0xAC00 && a <= 0xD7A3 && (a - 0xAC00) % 28 == 0;
    }
    int lo = 0, hi = pt_nfc_pairs_n - 1, found = 0;
    while (lo <= hi) { /* first pair with second == b */
        int mid = lo + (hi - lo) / 2;
        if (pt_nfc_pairs[mid].second < b)
            lo = mid + 1;
        else
            hi = mid - 1, found |= pt_nfc_pairs[mid].second == b;
    }
    *maybe = found;
    for (int k = lo; k < pt_nfc_pairs_n && pt_nfc_pairs[k].second == b; k++)
        if (pt_nfc_pairs[k].first == a) return 1;
    return 0;
}

int pt_nfc_is_normalized(const unsigned char *s, size_t len, size_t *at) {
    const uint32_t none = 0xFFFFFFFFu;
    uint32_t starter = none;       /* last character of class 0 */
    int last_ccc = 0, between = 0; /* class of the previous char; highest class since starter */
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = s[i] < 0x80 ? (c = s[i], 1) : pt_utf8_next(s, len, i, &c);
        *at = i;
        if (c < 0x300 || c == PT_UTF8_INVALID) { /* class 0, Quick_Check Yes, no Maybe */
            starter = c == PT_UTF8_INVALID ? none : c;
            last_ccc = between = 0;
            i += n;
            continue;
        }
        int k = range_find(pt_nfc_ccc, pt_nfc_ccc_n, c);
        if (k && last_ccc > k) return 0;
        if (range_find(pt_nfc_no, pt_nfc_no_n, c)) return 0;
        int maybe = 0;
        int comp = starter != none && composes(starter, c, &maybe);
        if (maybe && starter != none && !(between > 0 && between >= k)) {
            if (comp) return 0;
            if (range_find(pt_nfc_decomp, pt_nfc_decomp_n, starter)) return 0;
        }
        if (k == 0)
            starter = c, between = 0;
        else if (k > between)
            between = k;
        last_ccc = k;
        i += n;
    }
    return 1;
}
