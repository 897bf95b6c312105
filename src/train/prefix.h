/* prefix.h - inference through a causal model's key/value cache, and reuse of
 * the virtual-token prefix shared by every example (DESIGN.md section 2,
 * "Inference").
 *
 * When every virtual token precedes every input token (template
 * "[P*n] {sentence} ... [MASK]", with LLaMA's BOS first), the first P rows of
 * every rendered example are identical: the same ids and the same table rows
 * at the same positions. Their keys and values are then computed once
 * (pt_prefix_begin) and each example only decodes its own rows P .. n-1 on top
 * of them (pt_prefix_hidden: cache_reset to P, decode, hidden state of the
 * last row, which is the answer position of a causal template).
 */
#ifndef PT_TRAIN_PREFIX_H
#define PT_TRAIN_PREFIX_H

#include "models/model.h"
#include "prompt/task.h"
#include "ptune.h"

/* x (to - from, C) = rows [from, to) of a rendered layout: word embeddings,
 * and table rows (S, C) at the virtual positions (virtual token k is table row k). */
pt_status pt_layout_embed(const pt_model *m, const pt_rendered *r, const float *table, int S,
                          int from, int to, float *x);

/* Length P of the prefix every example shares, if reuse is possible: a causal
 * model with decode ops, a template with virtual tokens, every virtual token
 * of every example inside the shared prefix, and at least one row of each
 * example after it. 0 otherwise. */
int pt_prefix_len(const pt_model *m, const pt_template *tmpl, const pt_examples *ex);

typedef struct pt_prefix {
    const pt_model *m;
    const float *table; // (S, C)
    int S, P, Tmax;
    pt_cache *cache; // holds the prefix's keys/values in its first P rows
    float *x;        // (Tmax, C) embedding scratch
} pt_prefix;

/* Allocate a cache for sequences of up to Tmax tokens and decode rows [0, P)
 * of r0 (any example: they all share them) into it. */
pt_status pt_prefix_begin(pt_prefix *p, const pt_model *m, const pt_rendered *r0,
                          const float *table, int S, int P, int Tmax);
/* h (C) = final hidden state at the answer position of r (r shares the prefix). */
pt_status pt_prefix_hidden(pt_prefix *p, const pt_rendered *r, float *h);
void pt_prefix_end(pt_prefix *p);

#endif
