/* kvcache.c - the prompt-independent keys/values cache (see kvcache.h). */
#include "train/kvcache.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

pt_status pt_kv_cache_init(pt_kv_cache *c, size_t budget_bytes, int L, int KVC) {
    memset(c, 0, sizeof *c);
    c->budget = budget_bytes;
    c->L = L, c->KVC = KVC;
    c->n_buckets = 4096;
    c->buckets = calloc(c->n_buckets, sizeof *c->buckets);
    if (!c->buckets) return pt_fail(PT_ERR_NOMEM, "out of memory for the key/value cache");
    return PT_OK;
}

static size_t bucket_of(const pt_kv_cache *c, const void *key) {
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 20) % c->n_buckets;
}

static void list_unlink(pt_kv_cache *c, pt_kv_entry *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(pt_kv_cache *c, pt_kv_entry *e) {
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

static void remove_entry(pt_kv_cache *c, pt_kv_entry *e) {
    pt_kv_entry **pp = &c->buckets[bucket_of(c, e->key)];
    while (*pp && *pp != e) pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    list_unlink(c, e);
    c->used -= e->bytes;
    c->n_entries--;
    pt_afree(e->kv);
    free(e);
}

void pt_kv_cache_free(pt_kv_cache *c) {
    while (c->head) remove_entry(c, c->head);
    free(c->buckets);
    memset(c, 0, sizeof *c);
}

pt_kv_entry *pt_kv_cache_get(pt_kv_cache *c, const void *key) {
    if (!c->buckets) return NULL;
    for (pt_kv_entry *e = c->buckets[bucket_of(c, key)]; e; e = e->hnext)
        if (e->key == key) {
            list_unlink(c, e);
            list_push_front(c, e);
            c->hits++;
            return e;
        }
    c->misses++;
    return NULL;
}

static int is_pinned(const pt_kv_entry *e, const void *const *pinned, int n) {
    for (int i = 0; i < n; i++)
        if (pinned[i] == e->key) return 1;
    return 0;
}

pt_kv_entry *pt_kv_cache_put(pt_kv_cache *c, const void *key, int P, const void *const *pinned,
                             int n) {
    size_t floats = (size_t)c->L * 2 * (size_t)P * (size_t)c->KVC;
    size_t bytes = floats * sizeof(float) + sizeof(pt_kv_entry);
    if (!c->buckets || P < 1 || bytes > c->budget) return NULL;
    /* make room: least recently used first, never an entry this batch uses */
    pt_kv_entry *e = c->tail;
    while (c->used + bytes > c->budget && e) {
        pt_kv_entry *prev = e->prev;
        if (!is_pinned(e, pinned, n)) {
            remove_entry(c, e);
            c->evictions++;
        }
        e = prev;
    }
    if (c->used + bytes > c->budget) return NULL;
    e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kv = pt_aalloc(floats, sizeof(float));
    if (!e->kv) {
        free(e);
        return NULL;
    }
    e->key = key, e->P = P, e->bytes = bytes;
    size_t b = bucket_of(c, key);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    list_push_front(c, e);
    c->used += bytes;
    c->n_entries++;
    return e;
}

size_t pt_kv_cache_default_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    size_t avail_kb = 0;
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &avail_kb) == 1) break;
    if (f) fclose(f);
    if (!avail_kb) return (size_t)1 << 30; /* unknown: 1 GiB */
    return avail_kb / 4 * 1024;
}
