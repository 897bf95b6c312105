/* test_epoch_order.c - the trainer's epoch order (pt_epoch_order): a
 * permutation, a function of (seed, epoch) alone, plain shuffle without
 * grouping; with grouping, batches of similar length (less padding than the
 * plain shuffle), the partial batch last, and different epochs differ. */
#include "core/mem.h"
#include "train/trainer_internal.h"
#include "test.h"

static int is_perm(const int *p, int n) {
    int *seen = pt_zalloc((size_t)n, sizeof(int)), ok = 1;
    for (int i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]])
            ok = 0;
        else
            seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

/* padded tokens: sum over batches of B * (longest - each) */
static long padding(const int *p, const pt_examples *ex, int B) {
    long pad = 0;
    for (int i0 = 0; i0 < ex->n; i0 += B) {
        int nb = ex->n - i0 < B ? ex->n - i0 : B, mx = 0;
        for (int j = 0; j < nb; j++) mx = ex->ex[p[i0 + j]].r.n > mx ? ex->ex[p[i0 + j]].r.n : mx;
        for (int j = 0; j < nb; j++) pad += mx - ex->ex[p[i0 + j]].r.n;
    }
    return pad;
}

int main(void) {
    int n = 1003, B = 8;
    pt_examples ex;
    memset(&ex, 0, sizeof ex);
    ex.n = n;
    ex.ex = pt_zalloc((size_t)n, sizeof(pt_example));
    pt_rng rng;
    pt_rng_seed(&rng, 5);
    for (int i = 0; i < n; i++) ex.ex[i].r.n = 5 + (int)pt_rng_below(&rng, 120);
    int *a = pt_alloc((size_t)n, sizeof(int)), *b = pt_alloc((size_t)n, sizeof(int));
    int *plain = pt_alloc((size_t)n, sizeof(int));
    uint64_t *tmp = pt_alloc(2 * (size_t)n, sizeof(uint64_t));

    pt_epoch_order(plain, tmp, &ex, B, 42, 0, 0);
    CHECK(is_perm(plain, n), "plain order is a permutation");
    /* without grouping: exactly the shuffle of 0..n-1 with the epoch's seed */
    pt_rng r;
    pt_rng_seed(&r, 42 ^ 0x9E3779B97F4A7C15ULL);
    for (int i = 0; i < n; i++) b[i] = i;
    pt_rng_shuffle(&r, b, n);
    CHECK(!memcmp(plain, b, sizeof(int) * n), "no grouping = the plain seeded shuffle");

    pt_epoch_order(a, tmp, &ex, B, 42, 0, 1);
    CHECK(is_perm(a, n), "grouped order is a permutation");
    pt_epoch_order(b, tmp, &ex, B, 42, 0, 1);
    CHECK(!memcmp(a, b, sizeof(int) * n), "same seed and epoch: same order");
    pt_epoch_order(b, tmp, &ex, B, 42, 1, 1);
    CHECK(memcmp(a, b, sizeof(int) * n), "another epoch: another order");
    long pg = padding(a, &ex, B), pp = padding(plain, &ex, B);
    printf("  padded tokens per epoch: grouped %ld, plain shuffle %ld (of %d examples, batch %d)\n",
           pg, pp, n, B);
    /* lengths 5..124 spread over chunks of 400: a sorted chunk leaves about 120/400*8 per row */
    CHECK(pg * 10 < pp, "grouping cuts padding at least 10x");
    /* the partial batch (n % B = 3 examples) is the last of the sorted tail chunk */
    int tail = n % B, ok = 1;
    int c0 = n / (PT_GROUP_BATCHES * B) * (PT_GROUP_BATCHES * B); /* last chunk start */
    for (int j = 0; j < tail; j++)
        for (int i = c0; i < n - tail; i++)
            if (ex.ex[a[i]].r.n > ex.ex[a[n - tail + j]].r.n) ok = 0;
    CHECK(ok, "partial batch last, holding the longest of its chunk");
    /* the batch order is shuffled: the first batches are not all from the shortest end */
    int rising = 1;
    for (int i = 1; i < 10; i++) rising &= ex.ex[a[i * B]].r.n >= ex.ex[a[(i - 1) * B]].r.n;
    CHECK(!rising, "batch order shuffled");
    /* a dataset of one chunk (here 400 examples at B = 8) keeps the plain shuffle */
    ex.n = PT_GROUP_BATCHES * B;
    pt_epoch_order(a, tmp, &ex, B, 42, 0, 1);
    pt_epoch_order(plain, tmp, &ex, B, 42, 0, 0);
    CHECK(!memcmp(a, plain, sizeof(int) * ex.n), "one chunk: plain shuffle");
    free(a), free(b), free(plain), free(tmp), free(ex.ex);
    return t_done();
}
