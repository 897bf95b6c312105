/* test_tuner_safety.c - the library refuses outputs that are inputs too
 * (issue 12): pt_tuner_train with out (or log, or plot) naming a file of the
 * model directory, the training data or the dev data fails before writing,
 * and every input stays byte-identical; a valid out next to them trains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/io.h"
#include "ptune.h"
#include "test.h"

static char *read_all(const char *path, size_t *n) {
    char *b = NULL;
    if (pt_read_file(path, &b, n)) return NULL;
    return b;
}

static int copy(const char *from, const char *to) {
    size_t n;
    char *b = read_all(from, &n);
    if (!b) return 1;
    int r = pt_write_file_atomic(to, b, n) != PT_OK;
    free(b);
    return r;
}

static int same_bytes(const char *path, const char *orig) {
    size_t a, b;
    char *x = read_all(path, &a), *y = read_all(orig, &b);
    int same = x && y && a == b && !memcmp(x, y, a);
    free(x);
    free(y);
    return same;
}

int main(void) {
    static const char *const FILES[] = {"config.json", "vocab.json", "merges.txt",
                                        "model.safetensors"};
    char dir[] = "/tmp/ptune_tsafe.XXXXXX";
    if (!mkdtemp(dir)) return t_skip("mkdtemp failed");
    char mdir[128], path[256], from[256], train[256], dev[256];
    snprintf(mdir, sizeof mdir, "%s/m", dir);
    CHECK(mkdir(mdir, 0777) == 0, "mkdir %s", mdir);
    for (int i = 0; i < 4; i++) {
        snprintf(from, sizeof from, "tests/fixtures/gpt2/tiny/%s", FILES[i]);
        snprintf(path, sizeof path, "%s/%s", mdir, FILES[i]);
        CHECK(!copy(from, path), "copy %s", from);
    }
    snprintf(train, sizeof train, "%s/train.jsonl", dir);
    snprintf(dev, sizeof dev, "%s/dev.jsonl", dir);
    CHECK(!copy("tests/fixtures/learn/train.jsonl", train), "copy train");
    CHECK(!copy("tests/fixtures/learn/dev.jsonl", dev), "copy dev");

    pt_model *m = NULL;
    pt_tuner *t = NULL;
    CHECK(pt_model_load(&m, mdir) == PT_OK, "load: %s", pt_last_error());
    pt_task_options task = {.template_text = "[P*2] {sentence} It is a [MASK]",
                            .labels = "animal:animal,fruit:fruit"};
    CHECK(m && pt_tuner_new(&t, m, &task) == PT_OK, "tuner: %s", pt_last_error());
    if (!t) return t_done();

    pt_train_options o;
    pt_train_options_default(&o);
    o.steps = 2;
    o.batch = 8;
    struct {
        const char *what, *field, *name;
    } cases[] = {
        {"out = the model's weights", "out", "m/model.safetensors"},
        {"out = the model's vocab.json", "out", "m/vocab.json"},
        {"out = the training data", "out", "train.jsonl"},
        {"out's checkpoint = the dev data", "out", "d"},
        {"log = the model's config", "log", "m/config.json"},
        {"plot = the dev data", "plot", "dev.jsonl"},
    };
    char ok_out[256], target[256];
    snprintf(ok_out, sizeof ok_out, "%s/p.safetensors", dir);
    /* the checkpoint case: the dev data is "d.ckpt", out is "d" */
    char dev2[256];
    snprintf(dev2, sizeof dev2, "%s/d.ckpt", dir);
    CHECK(!copy(dev, dev2), "copy dev2");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(target, sizeof target, "%s/%s", dir, cases[i].name);
        o.out = ok_out, o.log = NULL, o.plot = NULL;
        if (!strcmp(cases[i].field, "out")) o.out = target;
        if (!strcmp(cases[i].field, "log")) o.log = target;
        if (!strcmp(cases[i].field, "plot")) o.plot = target;
        const char *dv = !strcmp(cases[i].name, "d") ? dev2 : dev;
        pt_status s = pt_tuner_train(t, train, dv, &o);
        const char *msg = pt_last_error();
        printf("  %s: status %d: %s\n", cases[i].what, (int)s, s ? msg : "(accepted)");
        CHECK(s != PT_OK && strstr(msg, "never writes over an input"), "%s: not refused",
              cases[i].what);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(from, sizeof from, "tests/fixtures/gpt2/tiny/%s", FILES[i]);
        snprintf(path, sizeof path, "%s/%s", mdir, FILES[i]);
        CHECK(same_bytes(path, from), "%s changed", path);
    }
    CHECK(same_bytes(train, "tests/fixtures/learn/train.jsonl"), "train data changed");
    CHECK(same_bytes(dev, "tests/fixtures/learn/dev.jsonl"), "dev data changed");
    o.out = ok_out, o.log = NULL, o.plot = NULL;
    CHECK(pt_tuner_train(t, train, dev, &o) == PT_OK, "a valid out: %s", pt_last_error());
    pt_tuner_free(t);
    pt_model_free(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
