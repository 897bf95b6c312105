/* strmap.h - open-addressing hash map from byte strings to int.
 * Keys are copied into the map. Used for vocabularies, merge ranks, metadata. */
#ifndef PT_CORE_STRMAP_H
#define PT_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "ptune.h"

typedef struct pt_strmap {
    char **keys;
    size_t *klens;
    int *vals;
    size_t cap; /* power of two */
    size_t n;
} pt_strmap;

void pt_strmap_init(pt_strmap *m);
void pt_strmap_free(pt_strmap *m);
/* Insert or overwrite. */
pt_status pt_strmap_put(pt_strmap *m, const char *key, size_t klen, int val);
/* Returns 1 and stores *val if found. */
int pt_strmap_get(const pt_strmap *m, const char *key, size_t klen, int *val);
uint64_t pt_hash_bytes(const void *data, size_t n);

#endif
