/* json.h - a small, strict JSON reader (RFC 8259) and writer helpers.
 *
 * Parsing builds a tree of pt_json values in one arena owned by pt_json_doc.
 * Limits instead of trust: nesting depth at most PT_JSON_MAX_DEPTH; strings are
 * validated UTF-8 after unescaping (\uXXXX surrogate pairs joined; a lone
 * surrogate is an error). Errors name the line and column.
 * Objects keep their members in file order (needed for vocab.json and labels);
 * duplicate keys are kept, pt_json_get returns the first.
 */
#ifndef PT_FORMATS_JSON_H
#define PT_FORMATS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/vec.h"
#include "ptune.h"

#define PT_JSON_MAX_DEPTH 128

typedef enum pt_json_type {
    PT_JSON_NULL,
    PT_JSON_BOOL,
    PT_JSON_NUMBER,
    PT_JSON_STRING,
    PT_JSON_ARRAY,
    PT_JSON_OBJECT,
} pt_json_type;

typedef struct pt_json pt_json;
struct pt_json {
    pt_json_type type;
    int boolean;          /* PT_JSON_BOOL */
    double number;        /* PT_JSON_NUMBER */
    const char *num_text; /* PT_JSON_NUMBER: the literal as written (NUL-terminated) */
    const char *str;   /* PT_JSON_STRING: unescaped, NUL-terminated (may contain NULs: use len) */
    size_t len;        /* string length in bytes; for ARRAY/OBJECT: number of children */
    pt_json **items;   /* ARRAY: elements; OBJECT: values */
    const char **keys; /* OBJECT: keys (unescaped, NUL-terminated) */
    size_t *key_lens;  /* OBJECT: key lengths */
};

typedef struct pt_json_doc {
    pt_json *root;
    void *arena; /* private */
} pt_json_doc;

/* Parse text[0..len). On error returns PT_ERR_FORMAT with "line L, column C: ...".
 * Trailing non-whitespace after the value is an error. */
pt_status pt_json_parse(pt_json_doc *doc, const char *text, size_t len);
void pt_json_doc_free(pt_json_doc *doc);

/* Object member lookup (NULL if absent or obj not an object). */
const pt_json *pt_json_get(const pt_json *obj, const char *key);
/* Typed getters: return 1 and store on success, 0 if absent or wrong type.
 * pt_json_get_int requires an integral number within int range. */
int pt_json_get_int(const pt_json *obj, const char *key, int *out);
int pt_json_get_num(const pt_json *obj, const char *key, double *out);
int pt_json_get_str(const pt_json *obj, const char *key, const char **out);
int pt_json_get_bool(const pt_json *obj, const char *key, int *out);

/* Append s[0..n) as a quoted, escaped JSON string (valid UTF-8 kept as is,
 * control characters and invalid bytes escaped as \u00XX). */
pt_status pt_json_write_string(pt_buf *b, const char *s, size_t n);

#endif
