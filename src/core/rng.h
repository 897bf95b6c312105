/* rng.h - deterministic random numbers (xoshiro256**, seeded by splitmix64).
 * The state is a plain struct so checkpoints can store and restore it. */
#ifndef PT_CORE_RNG_H
#define PT_CORE_RNG_H

#include <stdint.h>

typedef struct pt_rng {
    uint64_t s[4];
} pt_rng;

void pt_rng_seed(pt_rng *r, uint64_t seed);
uint64_t pt_rng_u64(pt_rng *r);
/* Uniform in [0, 1) with 24 random bits (exact in float). */
float pt_rng_uniform(pt_rng *r);
/* Uniform integer in [0, n). */
uint64_t pt_rng_below(pt_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
float pt_rng_normal(pt_rng *r);
/* Fisher-Yates shuffle of an int array. */
void pt_rng_shuffle(pt_rng *r, int *a, int n);

#endif
