/* unicode_bert.c - lookups over the generated Unicode tables (binary search
 * over sorted ranges), Hangul decomposition, canonical ordering and UTF-8. */
#include "tokenizers/unicode_bert.h"

typedef struct uni_range {
    uint32_t lo, hi;
    uint8_t v;
} uni_range;

typedef struct uni_lower_run {
    uint32_t lo, hi;
    uint8_t stride;
    int32_t delta;
} uni_lower_run;

typedef struct uni_decomp {
    uint32_t cp;
    uint16_t off;
    uint8_t len;
} uni_decomp;

#include "tokenizers/unicode_bert_tables.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *pt_uni_version(void) {
    return PT_UNI_TABLES_VERSION;
}

/* Value of the range containing cp, 0 if none. ranges sorted and disjoint. */
static int range_value(const uni_range *r, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return r[mid].v;
    }
    return 0;
}

static int uni_class_of(uint32_t cp) {
    if (cp > 0x10FFFF) return 1;
    return range_value(uni_class, NELEM(uni_class), cp);
}

int pt_uni_is_other(uint32_t cp) {
    return uni_class_of(cp) == 1;
}

int pt_uni_is_punct(uint32_t cp) {
    return uni_class_of(cp) == 2;
}

int pt_uni_is_mn(uint32_t cp) {
    return uni_class_of(cp) == 3;
}

int pt_uni_is_space(uint32_t cp) {
    if (cp >= 0x09 && cp <= 0x0D) return 1;
    if (cp >= 0x2000 && cp <= 0x200A) return 1;
    switch (cp) {
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return 1;
    default:
        return 0;
    }
}

int pt_uni_ccc(uint32_t cp) {
    return range_value(uni_ccc, NELEM(uni_ccc), cp);
}

int pt_uni_lower(uint32_t cp, uint32_t out[PT_UNI_MAX_LOWER]) {
    if (cp == 0x130) { /* LATIN CAPITAL LETTER I WITH DOT ABOVE */
        out[0] = 0x69;
        out[1] = 0x307;
        return 2;
    }
    out[0] = cp;
    size_t lo = 0, hi = NELEM(uni_lower);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const uni_lower_run *r = &uni_lower[mid];
        if (cp < r->lo)
            hi = mid;
        else if (cp > r->hi)
            lo = mid + 1;
        else {
            if ((cp - r->lo) % r->stride == 0) out[0] = (uint32_t)((int32_t)cp + r->delta);
            break;
        }
    }
    return 1;
}

/* Hangul syllable decomposition constants (Unicode chapter 3.12). */
enum { H_SBASE = 0xAC00, H_LBASE = 0x1100, H_VBASE = 0x1161, H_TBASE = 0x11A7 };
enum { H_LCOUNT = 19, H_VCOUNT = 21, H_TCOUNT = 28, H_NCOUNT = 21 * 28, H_SCOUNT = 19 * 21 * 28 };

int pt_uni_decompose(uint32_t cp, uint32_t out[PT_UNI_MAX_DECOMP]) {
    if (cp >= H_SBASE && cp < H_SBASE + H_SCOUNT) {
        uint32_t s = cp - H_SBASE;
        out[0] = H_LBASE + s / H_NCOUNT;
        out[1] = H_VBASE + (s % H_NCOUNT) / H_TCOUNT;
        if (s % H_TCOUNT == 0) return 2;
        out[2] = H_TBASE + s % H_TCOUNT;
        return 3;
    }
    size_t lo = 0, hi = NELEM(uni_decomps);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < uni_decomps[mid].cp)
            hi = mid;
        else if (cp > uni_decomps[mid].cp)
            lo = mid + 1;
        else {
            const uni_decomp *d = &uni_decomps[mid];
            for (int i = 0; i < d->len; i++) out[i] = uni_decomp_data[d->off + i];
            return d->len;
        }
    }
    out[0] = cp;
    return 1;
}

void pt_uni_reorder(uint32_t *cps, size_t n) {
    /* insertion sort inside each run of non-starters: stable, runs are short */
    for (size_t i = 1; i < n; i++) {
        int c = pt_uni_ccc(cps[i]);
        if (c == 0) continue;
        uint32_t x = cps[i];
        size_t j = i;
        while (j > 0) {
            int cp_prev = pt_uni_ccc(cps[j - 1]);
            if (cp_prev == 0 || cp_prev <= c) break;
            cps[j] = cps[j - 1];
            j--;
        }
        cps[j] = x;
    }
}

size_t pt_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char b = s[0];
    uint32_t c, min;
    size_t len;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
        c = b & 0x1F, len = 2, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        c = b & 0x0F, len = 3, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        c = b & 0x07, len = 4, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (n < len) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = c;
    return len;
}

size_t pt_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
