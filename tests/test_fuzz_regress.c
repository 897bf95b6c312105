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

/* The limits added for issue 7 (each fails without its fix). */
static void check_limits(void) {
    /* dataset: 4096 fields x 4097 mostly empty rows from a 40 KB file is refused */
    pt_buf b = {0};
    for (int i = 0; i < 4096; i++) pt_buf_printf(&b, "{\"k%d\": 1}\n", i);
    pt_buf_puts(&b, "{}\n");
    pt_dataset d;
    pt_status s = pt_dataset_parse(&d, b.v, b.n, "jsonl", "sparse.jsonl");
    CHECK(s == PT_ERR_FORMAT && strstr(pt_last_error(), "implausibly many"),
          "sparse dataset: status %d: %s", s, pt_last_error());
    if (!s) pt_dataset_free(&d);
    /* ... while the same fields with every row filled (a dense table) load */
    b.n = 0;
    pt_buf_puts(&b, "a,b\n");
    for (int i = 0; i < 1000; i++) pt_buf_puts(&b, "x,y\n");
    s = pt_dataset_parse(&d, b.v, b.n, "csv", "dense.csv");
    CHECK(s == PT_OK && d.n == 1000, "dense dataset: %s", s ? pt_last_error() : "");
    if (!s) pt_dataset_free(&d);
    /* template: 200 KB of literal text parses into one segment (linear time) */
    b.n = 0;
    for (int i = 0; i < 50000; i++) pt_buf_puts(&b, "ab[{{");
    pt_buf_puts(&b, "[MASK]");
    pt_template t;
    s = pt_template_parse(&t, b.v);
    CHECK(s == PT_OK && t.n_segs == 2 && t.segs[0].kind == PT_SEG_TEXT &&
              strlen(t.segs[0].text) == 200000,
          "long template: %s", s ? pt_last_error() : "segments");
    if (!s) pt_template_free(&t);
    pt_buf_free(&b);
    /* GPT-2 config.json: epsilon and vocabulary size bounded */
    const char *bad[] = {
        "{\"model_type\":\"gpt2\",\"n_embd\":8,\"n_layer\":1,\"n_head\":2,\"vocab_size\":9,"
        "\"n_positions\":8,\"layer_norm_epsilon\":-1}",
        "{\"model_type\":\"gpt2\",\"n_embd\":8,\"n_layer\":1,\"n_head\":2,"
        "\"vocab_size\":2000000000,\"n_positions\":8}"};
    const char *want[] = {"layer_norm_epsilon", "\"vocab_size\" = 2e+09 out of range"};
    for (int i = 0; i < 2; i++) {
        fz_file(0, "config.json", bad[i], strlen(bad[i]));
        pt_model *m = NULL;
        s = pt_model_load(&m, fz_dir());
        CHECK(s == PT_ERR_FORMAT && strstr(pt_last_error(), want[i]), "gpt2 config %d: %s", i,
              pt_last_error());
    }
    /* WordPiece: max_input_chars_per_word bounded */
    const char *wj = "{\"model\":{\"type\":\"WordPiece\",\"max_input_chars_per_word\":"
                     "100000000,\"vocab\":{\"[UNK]\":0}}}";
    pt_json_doc doc;
    pt_tokenizer *tok = NULL;
    if (pt_json_parse(&doc, wj, strlen(wj)) == PT_OK) {
        s = pt_wordpiece_from_tokenizer_json(&tok, doc.root, "tokenizer.json");
        CHECK(s == PT_ERR_FORMAT && strstr(pt_last_error(), "at most"), "wordpiece: %s",
              s ? pt_last_error() : "loaded");
        if (!s) pt_tok_free(tok);
        pt_json_doc_free(&doc);
    }
    printf("  limits: sparse dataset, long template, GPT-2 config, WordPiece word length\n");
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
    check_limits();
    return t_done();
}
