/* dataset.c - JSON Lines / TSV / CSV readers (see dataset.h). */
#include "train/dataset.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/files.h"
#include "core/io.h"
#include "core/mem.h"
#include "core/vec.h"
#include "formats/json.h"

#define PT_MAX_FIELDS 4096
/* The (examples x fields) table may hold this many cells whatever the file
 * size; beyond it at most PT_CELLS_PER_BYTE cells per byte of input (absent
 * fields cost nothing in the file, so a small file of "{}" lines after 4096
 * distinct keys would otherwise ask for gigabytes). */
#define PT_MAX_FREE_CELLS ((size_t)1 << 24)
#define PT_CELLS_PER_BYTE 64

/* Rows are collected as (field index, value) lists, then packed. */
typedef struct row {
    int *f;
    char **v;
    int n;
    int line;
} row;

typedef struct builder {
    pt_dataset *d;
    row *rows;
    int n, cap;
    size_t text_len; /* input bytes (bounds the table size) */
    const char *name;
} builder;

static int field_index(pt_dataset *d, const char *name, size_t len, int create) {
    for (int i = 0; i < d->n_fields; i++)
        if (strlen(d->fields[i]) == len && !memcmp(d->fields[i], name, len)) return i;
    if (!create || d->n_fields >= PT_MAX_FIELDS) return -1;
    char **nf = pt_realloc(d->fields, (size_t)d->n_fields + 1, sizeof(char *));
    if (!nf) return -1;
    d->fields = nf;
    if (!(d->fields[d->n_fields] = pt_strndup(name, len))) return -1;
    return d->n_fields++;
}

static pt_status row_add(row *r, int f, const char *v, size_t len) {
    int *nf = pt_realloc(r->f, (size_t)r->n + 1, sizeof(int));
    if (!nf) return pt_fail(PT_ERR_NOMEM, "out of memory");
    r->f = nf;
    char **nv = pt_realloc(r->v, (size_t)r->n + 1, sizeof(char *));
    if (!nv) return pt_fail(PT_ERR_NOMEM, "out of memory");
    r->v = nv;
    if (!(r->v[r->n] = pt_strndup(v, len))) return pt_fail(PT_ERR_NOMEM, "out of memory");
    r->f[r->n++] = f;
    return PT_OK;
}

static void row_free(row *r) {
    for (int i = 0; i < r->n; i++) free(r->v[i]);
    free(r->f);
    free(r->v);
}

static pt_status builder_push(builder *b, row *r) {
    if (b->n == b->cap) {
        if (b->cap > INT_MAX / 2) return pt_fail(PT_ERR_FORMAT, "%s: too many examples", b->name);
        int nc = b->cap ? b->cap * 2 : 64;
        row *nr = pt_realloc(b->rows, (size_t)nc, sizeof(row));
        if (!nr) return pt_fail(PT_ERR_NOMEM, "out of memory");
        b->rows = nr;
        b->cap = nc;
    }
    b->rows[b->n++] = *r;
    memset(r, 0, sizeof *r);
    return PT_OK;
}

static pt_status builder_finish(builder *b) {
    pt_dataset *d = b->d;
    pt_status s = PT_OK;
    size_t cells = (size_t)b->n * (size_t)(d->n_fields ? d->n_fields : 1);
    if (cells > PT_MAX_FREE_CELLS && cells / PT_CELLS_PER_BYTE > b->text_len) {
        s = pt_fail(PT_ERR_FORMAT,
                    "%s: %d examples x %d fields is implausibly many for a %zu-byte file "
                    "(most fields absent)",
                    b->name, b->n, d->n_fields, b->text_len);
    } else {
        d->values = pt_zalloc(cells, sizeof(char *));
        d->line = pt_zalloc((size_t)b->n, sizeof(int));
        if (!d->values || !d->line) s = pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < b->n; i++) {
        row *r = &b->rows[i];
        if (s == PT_OK) {
            for (int j = 0; j < r->n; j++) {
                char **slot = &d->values[(size_t)i * d->n_fields + r->f[j]];
                free(*slot); /* duplicate key: the last wins */
                *slot = r->v[j];
                r->v[j] = NULL;
            }
            d->line[i] = r->line;
        }
        row_free(r);
    }
    free(b->rows);
    b->rows = NULL;
    d->n = s == PT_OK ? b->n : 0;
    return s;
}

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..avail), 0 if
 * malformed (RFC 3629: overlong forms, surrogates and code points above
 * U+10FFFF are malformed). */
static size_t utf8_seq(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n = c >= 0xC2 && c <= 0xDF   ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (!n || avail < n) return 0;
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* The same rule for every format: UTF-8 throughout, no NUL byte. */
static pt_status check_text(const char *text, size_t len, const char *name) {
    const unsigned char *s = (const unsigned char *)text;
    if (len >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF)))
        return pt_fail(PT_ERR_FORMAT,
                       "%s: starts with a UTF-16 byte order mark (%02X %02X); save it as UTF-8",
                       name, s[0], s[1]);
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == '\n') {
            line++, line_start = ++i;
            continue;
        }
        if (s[i] == 0)
            return pt_fail(PT_ERR_FORMAT,
                           "%s line %zu, column %zu: a NUL byte; text cannot hold NUL characters",
                           name, line, i - line_start + 1);
        size_t m = utf8_seq(s + i, len - i);
        if (!m)
            return pt_fail(PT_ERR_FORMAT, "%s line %zu, column %zu: invalid UTF-8 (byte 0x%02X)",
                           name, line, i - line_start + 1, s[i]);
        i += m;
    }
    return PT_OK;
}

/* Column (from 1) of the first JSON escape \u0000 in line[0..n), 0 if none. */
static size_t nul_escape_column(const char *line, size_t n) {
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_str) {
            in_str = line[i] == '"';
            continue;
        }
        if (line[i] == '"') {
            in_str = 0;
        } else if (line[i] == '\\') {
            if (i + 5 < n && line[i + 1] == 'u' && !memcmp(line + i + 2, "0000", 4)) return i + 1;
            i++;
        }
    }
    return 0;
}

static pt_status parse_jsonl(builder *b, const char *text, size_t len, const char *name) {
    size_t pos = 0;
    int line = 0;
    pt_status s = PT_OK;
    while (pos < len && s == PT_OK) {
        line++;
        size_t e = pos, l0 = pos;
        while (e < len && text[e] != '\n') e++;
        size_t a = pos, z = e;
        pos = e + 1;
        while (a < z && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        while (z > a && (text[z - 1] == ' ' || text[z - 1] == '\t' || text[z - 1] == '\r')) z--;
        if (a == z) continue;
        pt_json_doc doc;
        s = pt_json_parse(&doc, text + a, z - a);
        if (s) {
            /* the parser counts lines within this one line: keep only its column */
            const char *msg = pt_last_error();
            if (!strncmp(msg, "line 1, ", 8)) pt_fail(s, "%s", msg + 8);
            return pt_fail_ctx(s, "%s line %d", name, line);
        }
        row r = {0};
        r.line = line;
        if (doc.root->type != PT_JSON_OBJECT)
            s = pt_fail(PT_ERR_FORMAT, "%s line %d: expected a JSON object", name, line);
        for (size_t i = 0; s == PT_OK && i < doc.root->len; i++) {
            const pt_json *v = doc.root->items[i];
            if (memchr(doc.root->keys[i], 0, doc.root->key_lens[i]) ||
                (v->type == PT_JSON_STRING && memchr(v->str, 0, v->len))) {
                s = pt_fail(PT_ERR_FORMAT,
                            "%s line %d, column %zu: \\u0000 (NUL) in a %s; text cannot hold NUL "
                            "characters",
                            name, line, a - l0 + nul_escape_column(text + a, z - a),
                            v->type == PT_JSON_STRING && memchr(v->str, 0, v->len) ? "string"
                                                                                   : "key");
                break;
            }
            int f = field_index(b->d, doc.root->keys[i], doc.root->key_lens[i], 1);
            if (f < 0) {
                s = pt_fail(PT_ERR_FORMAT, "%s line %d: too many fields", name, line);
                break;
            }
            switch (v->type) {
            case PT_JSON_STRING:
                s = row_add(&r, f, v->str, v->len);
                break;
            case PT_JSON_NUMBER:
                s = row_add(&r, f, v->num_text, strlen(v->num_text));
                break;
            case PT_JSON_BOOL:
                s = row_add(&r, f, v->boolean ? "true" : "false", v->boolean ? 4 : 5);
                break;
            case PT_JSON_NULL:
                break;
            default:
                s = pt_fail(PT_ERR_FORMAT,
                            "%s line %d: field \"%s\" is an %s; only strings, "
                            "numbers and booleans are supported",
                            name, line, doc.root->keys[i],
                            v->type == PT_JSON_ARRAY ? "array" : "object");
            }
        }
        pt_json_doc_free(&doc);
        if (s == PT_OK) s = builder_push(b, &r);
        row_free(&r);
    }
    return s;
}

/* One delimited record starting at *pos; CSV quoting when quote != 0.
 * Appends cells to cells (as a buffer list) and advances *pos and *line. */
typedef struct cells {
    pt_buf *c;
    int n, cap;
} cells;

static pt_status read_record(const char *text, size_t len, size_t *pos, int *line, char delim,
                             int quoting, cells *out, const char *name) {
    for (int i = 0; i < out->n; i++) out->c[i].n = 0;
    out->n = 0;
    size_t p = *pos;
    int start_line = *line;
    for (;;) {
        if (out->n == out->cap) {
            int nc = out->cap ? out->cap * 2 : 16;
            if (nc > PT_MAX_FIELDS)
                return pt_fail(PT_ERR_FORMAT, "%s line %d: too many columns", name, start_line);
            pt_buf *ncs = pt_realloc(out->c, (size_t)nc, sizeof(pt_buf));
            if (!ncs) return pt_fail(PT_ERR_NOMEM, "out of memory");
            memset(ncs + out->cap, 0, sizeof(pt_buf) * (size_t)(nc - out->cap));
            out->c = ncs;
            out->cap = nc;
        }
        pt_buf *cell = &out->c[out->n++];
        pt_status s = pt_buf_append(cell, "", 0);
        if (s) return s;
        if (quoting && p < len && text[p] == '"') {
            p++;
            for (;;) {
                if (p >= len)
                    return pt_fail(PT_ERR_FORMAT, "%s line %d: unterminated quoted field", name,
                                   start_line);
                if (text[p] == '"') {
                    if (p + 1 < len && text[p + 1] == '"') {
                        if ((s = pt_buf_append(cell, "\"", 1))) return s;
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (text[p] == '\n') (*line)++;
                if ((s = pt_buf_append(cell, text + p, 1))) return s;
                p++;
            }
            if (p < len && text[p] != delim && text[p] != '\n' && text[p] != '\r')
                return pt_fail(PT_ERR_FORMAT, "%s line %d: text after a closing quote", name,
                               *line);
        } else {
            size_t a = p;
            while (p < len && text[p] != delim && text[p] != '\n') p++;
            size_t z = p;
            if (z > a && text[z - 1] == '\r' && (p >= len || text[p] == '\n')) z--;
            if ((s = pt_buf_append(cell, text + a, z - a))) return s;
        }
        if (p < len && text[p] == '\r') p++;
        if (p < len && text[p] == delim) {
            p++;
            continue;
        }
        break;
    }
    if (p < len && text[p] == '\n') p++;
    (*line)++;
    *pos = p;
    return PT_OK;
}

static pt_status parse_delimited(builder *b, const char *text, size_t len, char delim,
                                 const char *name) {
    cells cs = {0};
    size_t pos = 0;
    int line = 1;
    pt_status s = read_record(text, len, &pos, &line, delim, delim == ',', &cs, name);
    int ncols = cs.n;
    int *map = NULL;
    if (s == PT_OK) {
        map = pt_alloc((size_t)ncols, sizeof(int));
        if (!map) s = pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; s == PT_OK && i < ncols; i++) {
        if (cs.c[i].n == 0) {
            s = pt_fail(PT_ERR_FORMAT, "%s line 1: header column %d is empty", name, i + 1);
            break;
        }
        if (field_index(b->d, cs.c[i].v, cs.c[i].n, 0) >= 0) {
            s = pt_fail(PT_ERR_FORMAT, "%s line 1: duplicate column \"%s\"", name, cs.c[i].v);
            break;
        }
        map[i] = field_index(b->d, cs.c[i].v, cs.c[i].n, 1);
        if (map[i] < 0) s = pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    while (s == PT_OK && pos < len) {
        int line0 = line;
        s = read_record(text, len, &pos, &line, delim, delim == ',', &cs, name);
        if (s) break;
        if (cs.n == 1 && cs.c[0].n == 0) continue; /* blank line */
        if (cs.n != ncols) {
            s = pt_fail(PT_ERR_FORMAT, "%s line %d: %d columns, the header has %d", name, line0,
                        cs.n, ncols);
            break;
        }
        row r = {0};
        r.line = line0;
        for (int i = 0; s == PT_OK && i < ncols; i++) s = row_add(&r, map[i], cs.c[i].v, cs.c[i].n);
        if (s == PT_OK) s = builder_push(b, &r);
        row_free(&r);
    }
    for (int i = 0; i < cs.cap; i++) pt_buf_free(&cs.c[i]);
    free(cs.c);
    free(map);
    return s;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

pt_status pt_dataset_parse(pt_dataset *d, const char *text, size_t len, const char *format,
                           const char *name) {
    memset(d, 0, sizeof *d);
    builder b = {d, NULL, 0, 0, len, name};
    pt_status s;
    if (!(d->path = pt_strdup(name))) return pt_fail(PT_ERR_NOMEM, "out of memory");
    if (len > INT_MAX) { /* line and example counters are int */
        pt_dataset_free(d);
        return pt_fail(PT_ERR_FORMAT, "%s: %zu bytes is too large for a dataset (2 GB at most)",
                       name, len);
    }
    d->src_size = len;
    d->src_hash = pt_fnv1a64(text, len, PT_FNV_OFFSET);
    size_t i = 0;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) i = 3; /* UTF-8 byte order mark */
    text += i, len -= i;
    if ((s = check_text(text, len, name))) {
        pt_dataset_free(d);
        return s;
    }
    if (!format) {
        size_t k = 0;
        while (k < len && (text[k] == ' ' || text[k] == '\n' || text[k] == '\r' || text[k] == '\t'))
            k++;
        const char *nl = memchr(text, '\n', len);
        size_t first = nl ? (size_t)(nl - text) : len;
        format = k < len && text[k] == '{' ? "jsonl" : memchr(text, '\t', first) ? "tsv" : "csv";
    }
    if (!strcmp(format, "jsonl"))
        s = parse_jsonl(&b, text, len, name);
    else if (!strcmp(format, "tsv"))
        s = parse_delimited(&b, text, len, '\t', name);
    else
        s = parse_delimited(&b, text, len, ',', name);
    pt_status s2 = builder_finish(&b);
    if (s == PT_OK) s = s2;
    if (s == PT_OK && d->n == 0) s = pt_fail(PT_ERR_FORMAT, "%s: no examples", name);
    if (s) pt_dataset_free(d);
    return s;
}

pt_status pt_dataset_load(pt_dataset *d, const char *path) {
    char *text = NULL;
    size_t len = 0;
    pt_status s;
    if (!strcmp(path, "-"))
        s = pt_read_file("/dev/stdin", &text, &len);
    else
        s = pt_read_file(path, &text, &len);
    if (s) return s;
    const char *fmt = NULL;
    if (ends_with(path, ".jsonl") || ends_with(path, ".json") || ends_with(path, ".ndjson"))
        fmt = "jsonl";
    else if (ends_with(path, ".tsv"))
        fmt = "tsv";
    else if (ends_with(path, ".csv"))
        fmt = "csv";
    s = pt_dataset_parse(d, text, len, fmt, path);
    free(text);
    return s;
}

void pt_dataset_free(pt_dataset *d) {
    if (d->values)
        for (size_t i = 0; i < (size_t)d->n * d->n_fields; i++) free(d->values[i]);
    for (int i = 0; i < d->n_fields; i++) free(d->fields[i]);
    free(d->values);
    free(d->fields);
    free(d->line);
    free(d->path);
    memset(d, 0, sizeof *d);
}

int pt_dataset_field(const pt_dataset *d, const char *name) {
    for (int i = 0; i < d->n_fields; i++)
        if (!strcmp(d->fields[i], name)) return i;
    return -1;
}
