/* json.c - a strict RFC 8259 JSON reader into one arena, and a string writer.
 *
 * One pass over the text, linear time: values are allocated from a chunked
 * bump arena; the children of an open array/object are collected on one
 * shared growable stack and copied into the arena when the container closes.
 * Errors carry "line L, column C" (1-based; the column counts bytes).
 */
#include "formats/json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

/* ---------------------------------------------------------------- arena */

typedef struct arena_blk {
    struct arena_blk *next;
    size_t cap, used;
    max_align_t data[]; /* cap bytes */
} arena_blk;

typedef struct arena {
    arena_blk *head;
    size_t next_cap;
} arena;

#define ARENA_ALIGN 16
#define ARENA_MIN_BLOCK ((size_t)64 << 10)
#define ARENA_MAX_BLOCK ((size_t)4 << 20)

static void *arena_alloc(arena *a, size_t size) {
    size_t sz;
    if (!pt_add_ok(size, ARENA_ALIGN - 1, &sz)) return NULL;
    sz &= ~(size_t)(ARENA_ALIGN - 1);
    if (sz == 0) sz = ARENA_ALIGN;
    arena_blk *b = a->head;
    if (!b || b->cap - b->used < sz) {
        size_t cap = a->next_cap > sz ? a->next_cap : sz, total;
        if (!pt_add_ok(cap, sizeof(arena_blk), &total)) return NULL;
        b = malloc(total);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
        if (a->next_cap < ARENA_MAX_BLOCK) a->next_cap *= 2;
    }
    void *p = (unsigned char *)b->data + b->used;
    b->used += sz;
    return p;
}

static void arena_free(arena *a) {
    if (!a) return;
    arena_blk *b = a->head;
    while (b) {
        arena_blk *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..avail), 0 if
 * malformed: overlong forms, surrogates and code points above U+10FFFF are
 * rejected (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c == 0xE0)
        n = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC)
        n = 3;
    else if (c == 0xED)
        n = 3, hi = 0x9F; /* no surrogates */
    else if (c >= 0xEE && c <= 0xEF)
        n = 3;
    else if (c == 0xF0)
        n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        n = 4;
    else if (c == 0xF4)
        n = 4, hi = 0x8F;
    else
        return 0;
    if (avail < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

static size_t utf8_put(unsigned char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---------------------------------------------------------------- parser */

typedef struct parser {
    const unsigned char *s;
    size_t n, pos;
    arena *a;
    /* children of the open containers: value, key, key length (shared stack) */
    pt_json **sv;
    const char **sk;
    size_t *sl;
    size_t sn, scap;
} parser;

static pt_status perr(const parser *p, size_t at, const char *fmt, ...) PT_PRINTF(3, 4);

static pt_status perr(const parser *p, size_t at, const char *fmt, ...) {
    size_t line = 1, line_start = 0;
    if (at > p->n) at = p->n;
    for (size_t i = 0; i < at; i++)
        if (p->s[i] == '\n') line++, line_start = i + 1;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pt_fail(PT_ERR_FORMAT, "line %zu, column %zu: %s", line, at - line_start + 1, msg);
}

/* Describe the byte at p->pos for error messages. */
static const char *found(const parser *p, char *buf, size_t cap) {
    if (p->pos >= p->n) return "end of input";
    unsigned c = p->s[p->pos];
    if (c >= 0x21 && c < 0x7F)
        snprintf(buf, cap, "'%c'", (char)c);
    else
        snprintf(buf, cap, "byte 0x%02X", c);
    return buf;
}

static pt_status expected(const parser *p, const char *what) {
    char b[16];
    return perr(p, p->pos, "expected %s, found %s", what, found(p, b, sizeof b));
}

static pt_status nomem(const parser *p) {
    return pt_fail(PT_ERR_NOMEM, "out of memory parsing JSON at byte %zu", p->pos);
}

static void skip_ws(parser *p) {
    while (p->pos < p->n) {
        unsigned c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static pt_status push(parser *p, pt_json *v, const char *k, size_t kl) {
    if (p->sn == p->scap) {
        size_t nc = p->scap ? p->scap * 2 : 256;
        pt_json **sv = pt_realloc(p->sv, nc, sizeof *sv);
        if (!sv) return nomem(p);
        p->sv = sv;
        const char **sk = pt_realloc(p->sk, nc, sizeof *sk);
        if (!sk) return nomem(p);
        p->sk = sk;
        size_t *sl = pt_realloc(p->sl, nc, sizeof *sl);
        if (!sl) return nomem(p);
        p->sl = sl;
        p->scap = nc;
    }
    p->sv[p->sn] = v;
    p->sk[p->sn] = k;
    p->sl[p->sn] = kl;
    p->sn++;
    return PT_OK;
}

static int hex4(const unsigned char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* p->pos is at the opening quote. Stores the unescaped, NUL-terminated bytes. */
static pt_status parse_string(parser *p, const char **out, size_t *out_len) {
    const unsigned char *s = p->s;
    size_t start = p->pos + 1, end = start;
    while (end < p->n && s[end] != '"') end += s[end] == '\\' ? 2 : 1;
    if (end >= p->n) return perr(p, p->n, "unterminated string (expected '\"')");
    unsigned char *o = arena_alloc(p->a, end - start + 1); /* unescaping never grows */
    if (!o) return nomem(p);
    size_t k = 0, i = start;
    while (i < end) {
        unsigned c = s[i];
        if (c == '\\') {
            unsigned e = s[i + 1]; /* i + 1 < end: the scan skipped escaped bytes */
            switch (e) {
            case '"':
                o[k++] = '"';
                break;
            case '\\':
                o[k++] = '\\';
                break;
            case '/':
                o[k++] = '/';
                break;
            case 'b':
                o[k++] = '\b';
                break;
            case 'f':
                o[k++] = '\f';
                break;
            case 'n':
                o[k++] = '\n';
                break;
            case 'r':
                o[k++] = '\r';
                break;
            case 't':
                o[k++] = '\t';
                break;
            case 'u': {
                uint32_t cp, lo;
                if (end - i < 6 || !hex4(s + i + 2, &cp))
                    return perr(p, i, "bad \\u escape: expected 4 hex digits");
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return perr(p, i, "lone low surrogate \\u%04X in string", (unsigned)cp);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' ||
                        !hex4(s + i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return perr(p, i,
                                    "lone high surrogate \\u%04X in string (expected a "
                                    "following \\uDC00-\\uDFFF)",
                                    (unsigned)cp);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
                k += utf8_put(o + k, cp);
                i += 4;
                break;
            }
            default:
                if (e >= 0x21 && e < 0x7F) return perr(p, i, "bad escape '\\%c' in string", e);
                return perr(p, i, "bad escape (backslash followed by byte 0x%02X) in string", e);
            }
            i += 2;
        } else if (c < 0x20) {
            return perr(p, i, "control character 0x%02X in string (must be escaped)", c);
        } else if (c < 0x80) {
            o[k++] = (unsigned char)c;
            i++;
        } else {
            size_t m = utf8_len(s + i, end - i);
            if (!m) return perr(p, i, "invalid UTF-8 (byte 0x%02X) in string", c);
            memcpy(o + k, s + i, m);
            k += m;
            i += m;
        }
    }
    o[k] = '\0';
    *out = (const char *)o;
    *out_len = k;
    p->pos = end + 1;
    return PT_OK;
}

static int is_digit(const parser *p) {
    return p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

static pt_status parse_number(parser *p, pt_json *v) {
    size_t start = p->pos;
    if (p->s[p->pos] == '-') p->pos++;
    if (!is_digit(p)) return expected(p, "a digit");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (is_digit(p)) return perr(p, start, "leading zeros are not allowed in numbers");
    } else {
        while (is_digit(p)) p->pos++;
    }
    if (p->pos < p->n && p->s[p->pos] == '.') {
        p->pos++;
        if (!is_digit(p)) return expected(p, "a digit after '.'");
        while (is_digit(p)) p->pos++;
    }
    if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (!is_digit(p)) return expected(p, "a digit in the exponent");
        while (is_digit(p)) p->pos++;
    }
    size_t len = p->pos - start;
    char *t = arena_alloc(p->a, len + 1);
    if (!t) return nomem(p);
    memcpy(t, p->s + start, len);
    t[len] = '\0';
    errno = 0;
    double d = strtod(t, NULL);
    if (!isfinite(d)) return perr(p, start, "number %s is out of range", t);
    v->type = PT_JSON_NUMBER;
    v->number = d;
    v->num_text = t;
    return PT_OK;
}

static pt_status parse_literal(parser *p, pt_json *v, const char *word) {
    size_t wl = strlen(word);
    if (p->n - p->pos < wl || memcmp(p->s + p->pos, word, wl) != 0)
        return perr(p, p->pos, "invalid literal (expected '%s')", word);
    p->pos += wl;
    if (word[0] == 'n') {
        v->type = PT_JSON_NULL;
    } else {
        v->type = PT_JSON_BOOL;
        v->boolean = word[0] == 't';
    }
    return PT_OK;
}

/* Move the children pushed since `base` into arena arrays of v. */
static pt_status close_container(parser *p, pt_json *v, size_t base, int is_obj) {
    size_t cnt = p->sn - base;
    v->len = cnt;
    if (cnt) {
        size_t bytes;
        if (!pt_mul_ok(cnt, sizeof(pt_json *), &bytes)) return nomem(p);
        v->items = arena_alloc(p->a, bytes);
        if (!v->items) return nomem(p);
        memcpy(v->items, p->sv + base, bytes);
        if (is_obj) {
            v->keys = arena_alloc(p->a, cnt * sizeof(char *));
            v->key_lens = arena_alloc(p->a, cnt * sizeof(size_t));
            if (!v->keys || !v->key_lens) return nomem(p);
            memcpy(v->keys, p->sk + base, cnt * sizeof(char *));
            memcpy(v->key_lens, p->sl + base, cnt * sizeof(size_t));
        }
    }
    p->sn = base;
    return PT_OK;
}

static pt_status parse_value(parser *p, int depth, pt_json **out);

static pt_status parse_container(parser *p, int depth, pt_json *v) {
    int is_obj = p->s[p->pos] == '{';
    char close = is_obj ? '}' : ']';
    if (depth + 1 > PT_JSON_MAX_DEPTH)
        return perr(p, p->pos, "nesting deeper than %d levels", PT_JSON_MAX_DEPTH);
    v->type = is_obj ? PT_JSON_OBJECT : PT_JSON_ARRAY;
    size_t base = p->sn;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
        return close_container(p, v, base, is_obj);
    }
    for (;;) {
        const char *key = NULL;
        size_t kl = 0;
        pt_status s;
        skip_ws(p);
        if (is_obj) {
            if (p->pos >= p->n || p->s[p->pos] != '"') return expected(p, "a string key");
            if ((s = parse_string(p, &key, &kl))) return s;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') return expected(p, "':' after the key");
            p->pos++;
        }
        pt_json *child;
        if ((s = parse_value(p, depth + 1, &child))) return s;
        if ((s = push(p, child, key, kl))) return s;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == close) {
            p->pos++;
            return close_container(p, v, base, is_obj);
        }
        return expected(p, is_obj ? "',' or '}'" : "',' or ']'");
    }
}

static pt_status parse_value(parser *p, int depth, pt_json **out) {
    skip_ws(p);
    if (p->pos >= p->n) return expected(p, "a value");
    pt_json *v = arena_alloc(p->a, sizeof *v);
    if (!v) return nomem(p);
    memset(v, 0, sizeof *v);
    *out = v;
    unsigned c = p->s[p->pos];
    switch (c) {
    case '{':
    case '[':
        return parse_container(p, depth, v);
    case '"':
        v->type = PT_JSON_STRING;
        return parse_string(p, &v->str, &v->len);
    case 't':
        return parse_literal(p, v, "true");
    case 'f':
        return parse_literal(p, v, "false");
    case 'n':
        return parse_literal(p, v, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
        return expected(p, "a value");
    }
}

pt_status pt_json_parse(pt_json_doc *doc, const char *text, size_t len) {
    doc->root = NULL;
    doc->arena = NULL;
    if (!text && len) return pt_fail(PT_ERR_ARG, "pt_json_parse: NULL text");
    parser p = {0};
    p.s = (const unsigned char *)text;
    p.n = len;
    p.a = calloc(1, sizeof(arena));
    if (!p.a) return pt_fail(PT_ERR_NOMEM, "out of memory");
    p.a->next_cap = ARENA_MIN_BLOCK;
    /* RFC 8259 section 8.1: a parser may ignore a leading byte order mark. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;
    pt_json *root = NULL;
    pt_status s = parse_value(&p, 0, &root);
    if (!s) {
        skip_ws(&p);
        if (p.pos < p.n) s = expected(&p, "end of input after the JSON value");
    }
    free(p.sv);
    free(p.sk);
    free(p.sl);
    if (s) {
        arena_free(p.a);
        return s;
    }
    doc->root = root;
    doc->arena = p.a;
    return PT_OK;
}

void pt_json_doc_free(pt_json_doc *doc) {
    if (!doc) return;
    arena_free(doc->arena);
    doc->arena = NULL;
    doc->root = NULL;
}

/* ---------------------------------------------------------------- lookups */

const pt_json *pt_json_get(const pt_json *obj, const char *key) {
    if (!obj || obj->type != PT_JSON_OBJECT || !key) return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < obj->len; i++)
        if (obj->key_lens[i] == kl && memcmp(obj->keys[i], key, kl) == 0) return obj->items[i];
    return NULL;
}

int pt_json_get_int(const pt_json *obj, const char *key, int *out) {
    const pt_json *v = pt_json_get(obj, key);
    if (!v || v->type != PT_JSON_NUMBER) return 0;
    double d = v->number;
    if (d != floor(d) || d < (double)INT_MIN || d > (double)INT_MAX) return 0;
    *out = (int)d;
    return 1;
}

int pt_json_get_num(const pt_json *obj, const char *key, double *out) {
    const pt_json *v = pt_json_get(obj, key);
    if (!v || v->type != PT_JSON_NUMBER) return 0;
    *out = v->number;
    return 1;
}

int pt_json_get_str(const pt_json *obj, const char *key, const char **out) {
    const pt_json *v = pt_json_get(obj, key);
    if (!v || v->type != PT_JSON_STRING) return 0;
    *out = v->str;
    return 1;
}

int pt_json_get_bool(const pt_json *obj, const char *key, int *out) {
    const pt_json *v = pt_json_get(obj, key);
    if (!v || v->type != PT_JSON_BOOL) return 0;
    *out = v->boolean;
    return 1;
}

/* ---------------------------------------------------------------- writer */

pt_status pt_json_write_string(pt_buf *b, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    pt_status st;
    if ((st = pt_buf_append(b, "\"", 1))) return st;
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t m = 1;
        const char *esc = NULL;
        char ubuf[8];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20)
            esc = ubuf;
        else if (c >= 0x80 && !(m = utf8_len(s + i, n - i)))
            esc = ubuf, m = 1;
        if (esc == ubuf) snprintf(ubuf, sizeof ubuf, "\\u%04X", c);
        if (esc) {
            if ((st = pt_buf_append(b, s + run, i - run))) return st;
            if ((st = pt_buf_puts(b, esc))) return st;
            run = i + m;
        }
        i += m;
    }
    if ((st = pt_buf_append(b, s + run, n - run))) return st;
    return pt_buf_append(b, "\"", 1);
}
