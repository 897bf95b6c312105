/* test_core.c - core: strmap, rng determinism, atomic writes, vectors. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "core/rng.h"
#include "core/strmap.h"
#include "core/vec.h"
#include "test.h"

static void test_strmap(void) {
    pt_strmap m;
    pt_strmap_init(&m);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK(pt_strmap_put(&m, key, strlen(key), i * 3) == PT_OK, "put %d", i);
    }
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        int v = -1;
        snprintf(key, sizeof key, "k%d", i);
        if (!pt_strmap_get(&m, key, strlen(key), &v) || v != i * 3) bad++;
    }
    CHECK(bad == 0, "%d lookups wrong", bad);
    CHECK(!pt_strmap_get(&m, "absent", 6, NULL), "absent key found");
    CHECK(m.n == 5000, "count %zu", m.n);
    /* keys with embedded NUL bytes are distinct */
    pt_strmap_put(&m, "a\0b", 3, 1);
    pt_strmap_put(&m, "a\0c", 3, 2);
    int v1 = 0, v2 = 0;
    pt_strmap_get(&m, "a\0b", 3, &v1);
    pt_strmap_get(&m, "a\0c", 3, &v2);
    CHECK(v1 == 1 && v2 == 2, "NUL keys %d %d", v1, v2);
    pt_strmap_free(&m);
}

static void test_rng(void) {
    pt_rng a, b;
    pt_rng_seed(&a, 42);
    pt_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= pt_rng_u64(&a) == pt_rng_u64(&b);
    CHECK(same, "same seed gives different streams");
    double sum = 0, sq = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        float x = pt_rng_normal(&a);
        sum += x;
        sq += x * x;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    printf("  normal: mean %.4f var %.4f\n", mean, var);
    CHECK(fabs(mean) < 0.01 && fabs(var - 1) < 0.02, "normal moments off");
    int perm[100];
    for (int i = 0; i < 100; i++) perm[i] = i;
    pt_rng_shuffle(&a, perm, 100);
    int seen[100] = {0}, ok = 1;
    for (int i = 0; i < 100; i++) ok &= perm[i] >= 0 && perm[i] < 100 && !seen[perm[i]]++;
    CHECK(ok, "shuffle is not a permutation");
}

static void test_atomic(void) {
    char path[] = "/tmp/ptune_test_atomicXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    CHECK(pt_write_file_atomic(path, "first", 5) == PT_OK, "write: %s", pt_last_error());
    pt_atomic_file af;
    CHECK(pt_atomic_open(&af, path) == PT_OK, "open");
    pt_atomic_write(&af, "second", 6);
    pt_atomic_abort(&af); /* an interrupted write leaves the old file */
    char *buf;
    size_t len;
    CHECK(pt_read_file(path, &buf, &len) == PT_OK, "read");
    CHECK(len == 5 && !memcmp(buf, "first", 5), "abort changed the file");
    free(buf);
    unlink(path);
    pt_status s = pt_write_file_atomic("/nonexistent-dir/x", "a", 1);
    CHECK(s == PT_ERR_IO && strstr(pt_last_error(), "/nonexistent-dir/x"), "unwritable path: %s",
          pt_last_error());
    s = pt_read_file("/nonexistent-file", &buf, &len);
    CHECK(s == PT_ERR_IO, "missing file read");
}

static void test_vec(void) {
    pt_buf b = {0};
    for (int i = 0; i < 1000; i++) pt_buf_printf(&b, "%d,", i);
    CHECK(b.n > 3000 && b.v[b.n] == '\0' && !strncmp(b.v, "0,1,2,", 6), "buf");
    pt_buf_free(&b);
    pt_ivec v = {0};
    for (int i = 0; i < 100; i++) pt_ivec_push(&v, i);
    CHECK(v.n == 100 && v.v[99] == 99, "ivec");
    pt_ivec_free(&v);
}

int main(void) {
    test_strmap();
    test_rng();
    test_atomic();
    test_vec();
    return t_done();
}
