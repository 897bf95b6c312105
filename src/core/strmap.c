/* strmap.c - open addressing with linear probing, FNV-1a hashing. */
#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

uint64_t pt_hash_bytes(const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64-bit offset basis */
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

void pt_strmap_init(pt_strmap *m) {
    memset(m, 0, sizeof *m);
}

void pt_strmap_free(pt_strmap *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->klens);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(const pt_strmap *m, const char *key, size_t klen) {
    size_t mask = m->cap - 1;
    size_t i = (size_t)pt_hash_bytes(key, klen) & mask;
    while (m->keys[i] && !(m->klens[i] == klen && memcmp(m->keys[i], key, klen) == 0))
        i = (i + 1) & mask;
    return i;
}

static pt_status rehash(pt_strmap *m, size_t ncap) {
    pt_strmap nm = {0};
    nm.cap = ncap;
    nm.keys = pt_zalloc(ncap, sizeof(char *));
    nm.klens = pt_zalloc(ncap, sizeof(size_t));
    nm.vals = pt_zalloc(ncap, sizeof(int));
    if (!nm.keys || !nm.klens || !nm.vals) {
        free(nm.keys);
        free(nm.klens);
        free(nm.vals);
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = find_slot(&nm, m->keys[i], m->klens[i]);
        nm.keys[j] = m->keys[i];
        nm.klens[j] = m->klens[i];
        nm.vals[j] = m->vals[i];
    }
    nm.n = m->n;
    free(m->keys);
    free(m->klens);
    free(m->vals);
    *m = nm;
    return PT_OK;
}

pt_status pt_strmap_put(pt_strmap *m, const char *key, size_t klen, int val) {
    if ((m->n + 1) * 2 > m->cap) {
        pt_status s = rehash(m, m->cap ? m->cap * 2 : 64);
        if (s) return s;
    }
    size_t i = find_slot(m, key, klen);
    if (!m->keys[i]) {
        char *k = pt_strndup(key, klen);
        if (!k) return pt_fail(PT_ERR_NOMEM, "out of memory");
        m->keys[i] = k;
        m->klens[i] = klen;
        m->n++;
    }
    m->vals[i] = val;
    return PT_OK;
}

int pt_strmap_get(const pt_strmap *m, const char *key, size_t klen, int *val) {
    if (!m->cap) return 0;
    size_t i = find_slot(m, key, klen);
    if (!m->keys[i]) return 0;
    if (val) *val = m->vals[i];
    return 1;
}
