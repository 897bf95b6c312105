/* kvcache.h - keys and values of the rows that do not depend on the prompt.
 *
 * In a causal model the rows of an example before its first virtual token
 * see only earlier rows: their per-layer keys and values are the same at
 * every step and epoch. The training engine computes them once per example
 * (a forward pass without activations, without backward), keeps them here,
 * and runs each step only from the first virtual token on, with these as the
 * attention's earlier keys (DESIGN.md section 5). Entries are keyed by the
 * example (its address: examples live as long as their dataset), bounded by
 * a byte budget, least recently used out.
 *
 * Entry layout: kv (L, 2, P, KVC): layer l's keys then values of the P rows.
 */
#ifndef PT_TRAIN_KVCACHE_H
#define PT_TRAIN_KVCACHE_H

#include <stddef.h>

#include "ptune.h"

typedef struct pt_kv_entry {
    const void *key;
    int P;
    float *kv; // (L, 2, P, KVC)
    size_t bytes;
    struct pt_kv_entry *hnext;       /* hash chain */
    struct pt_kv_entry *prev, *next; /* recency list: head = most recent */
} pt_kv_entry;

typedef struct pt_kv_cache {
    size_t budget, used;
    int L, KVC;
    pt_kv_entry **buckets;
    size_t n_buckets, n_entries;
    pt_kv_entry *head, *tail;
    long hits, misses, evictions;
} pt_kv_cache;

pt_status pt_kv_cache_init(pt_kv_cache *c, size_t budget_bytes, int L, int KVC);
void pt_kv_cache_free(pt_kv_cache *c);
/* The entry of key (marked most recently used), or NULL. */
pt_kv_entry *pt_kv_cache_get(pt_kv_cache *c, const void *key);
/* A new entry for key with P rows (its kv to be filled by the caller), made
 * room for by evicting the least recently used; NULL when one entry alone
 * exceeds the budget or memory is short (the caller then computes those rows
 * itself). Entries in `pinned` (n) are never evicted. */
pt_kv_entry *pt_kv_cache_put(pt_kv_cache *c, const void *key, int P, const void *const *pinned,
                             int n);
/* Default budget: a quarter of the memory the system has available. */
size_t pt_kv_cache_default_bytes(void);

#endif
