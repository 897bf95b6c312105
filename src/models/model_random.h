/* model_random.h - helpers for the random-weight constructors (pt_model_random):
 * deterministic, thread-count independent fills. Internal to src/models. */
#ifndef PT_MODELS_MODEL_RANDOM_H
#define PT_MODELS_MODEL_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "models/model.h"

/* Standard deviation of every random matrix (Hugging Face's initializer_range). */
#define PT_RANDOM_STD 0.02f

/* Draw source: tensor k of a model gets stream k, so every tensor's values
 * depend only on (seed, k), not on the thread count. */
typedef struct pt_mr {
    uint64_t seed;
    uint64_t stream;
    int fail; /* set when an allocation failed */
} pt_mr;

/* (n) floats N(0, std) from the next stream; NULL (and r->fail) when out of memory. */
float *pt_mr_normal(pt_mr *r, size_t n, float std);
/* (n) floats all equal to v. */
float *pt_mr_const(pt_mr *r, size_t n, float v);
/* Sane, consistent sizes for a random model (errors name the option). */
pt_status pt_mr_check_config(const pt_model_config *c);

#endif
