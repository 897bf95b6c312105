/* dataset.h - examples from JSON Lines, TSV or CSV files.
 *
 * JSON Lines: one object per line, fields by key; string values as they are,
 * numbers as written ("1", "0.5"), true/false as text, null = missing.
 * TSV / CSV: a header row names the columns; CSV follows RFC 4180 quoting.
 * The format comes from the extension (.jsonl/.json, .tsv, .csv), else from
 * the first character ('{' = JSON Lines). "-" reads standard input.
 * One rule for every format: the file is UTF-8 (RFC 3629: no overlong forms,
 * surrogates or code points above U+10FFFF; a leading byte order mark is
 * skipped), and no text holds a NUL character (a raw 0 byte, or JSON's
 * \u0000), which would cut the text short. Errors name the file, line and,
 * for these, the column (in bytes, from 1).
 */
#ifndef PT_TRAIN_DATASET_H
#define PT_TRAIN_DATASET_H

#include <stdint.h>

#include "ptune.h"

typedef struct pt_dataset {
    char *path;
    char **fields; /* (n_fields) names, in order of first appearance */
    int n_fields;
    int n;                       /* examples */
    char **values;               /* (n, n_fields) heap strings, NULL where absent */
    int *line;                   /* (n) 1-based source line of each example */
    uint64_t src_size, src_hash; /* the bytes read: their number and FNV-1a 64 hash */
} pt_dataset;

pt_status pt_dataset_load(pt_dataset *d, const char *path);
/* Same from a buffer (format given as "jsonl", "tsv" or "csv"; NULL = sniff). */
pt_status pt_dataset_parse(pt_dataset *d, const char *text, size_t len, const char *format,
                           const char *name);
void pt_dataset_free(pt_dataset *d);

/* Column index of a field name, -1 if absent. */
int pt_dataset_field(const pt_dataset *d, const char *name);
/* Value of field f for example i (NULL if absent). */
static inline const char *pt_dataset_value(const pt_dataset *d, int i, int f) {
    return f < 0 ? NULL : d->values[(size_t)i * d->n_fields + f];
}

#endif
