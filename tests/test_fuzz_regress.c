/* test_fuzz_regress.c - replays every committed fuzz corpus file
 * (tests/fuzz/corpus/<target>/ files) through the same entry points as the libFuzzer
 * targets, so `make test` and `make asan` cover the seeds and every regression
 * input without clang. Each input is also replayed truncated: at every byte for
 * inputs up to 1 KiB, at 256 (16 over 16 KiB) evenly spread lengths (a parser
 * must fail cleanly wherever its file ends). A crash or sanitizer report fails
 * the program; a target without corpus files fails it too. */
#include <dirent.h>

#include "fuzz/fuzz_targets.h"
#include "test.h"

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const fz_target *t, long *n_runs) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", t->name);
    DIR *d = opendir(dir);
    if (!d) return -1;
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        CHECK(f, "cannot open %s", path);
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        /* an exact-size heap copy, so ASan sees any read past the end */
        uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
        if (!buf || (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size)) abort();
        fclose(f);
        t->fn(buf, (size_t)size);
        (*n_runs)++;
        long step = size <= 1024 ? 1 : size <= 16384 ? size / 256 : size / 16;
        for (long cut = 0; cut < size; cut += step) {
            uint8_t *pre = malloc(cut > 0 ? (size_t)cut : 1);
            if (!pre) abort();
            memcpy(pre, buf, (size_t)cut);
            t->fn(pre, (size_t)cut);
            free(pre);
            (*n_runs)++;
        }
        free(buf);
        free(names[i]);
    }
    return n;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* the last line shows which target crashed */
    for (int k = 0; k < FZ_N_TARGETS; k++) {
        long runs = 0;
        printf("  %s ...\n", fz_targets[k].name);
        int n = replay_dir(&fz_targets[k], &runs);
        printf("  %-12s %3d corpus files, %6ld inputs with truncations: no crash\n",
               fz_targets[k].name, n, runs);
        CHECK(n > 0, "tests/fuzz/corpus/%s: no corpus files", fz_targets[k].name);
    }
    return t_done();
}
