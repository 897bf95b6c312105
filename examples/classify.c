/* classify.c - P-tune a model from C with the public API, then classify.
 *
 *   build/examples/classify MODEL TRAIN.jsonl DEV.jsonl TEMPLATE LABELS "text to classify"
 *
 * e.g. build/examples/classify tests/fixtures/gpt2/tiny tests/fixtures/learn/train.jsonl \
 *        tests/fixtures/learn/dev.jsonl "[P*4] {sentence} [P*2] It is a [MASK]" \
 *        "animal:animal,fruit:fruit" "the dog is big"
 */
#include <stdio.h>

#include "ptune.h"

/* Returns true to cancel training; this example always goes on. */
static bool on_progress(const pt_train_report *r, void *user) {
    (void)user;
    if (r->evaluated)
        printf("step %ld/%ld  loss %.4f  dev accuracy %.3f\n", r->step, r->total_steps, r->loss,
               r->dev_accuracy);
    return false;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s MODEL TRAIN DEV TEMPLATE LABELS TEXT\n", argv[0]);
        return 2;
    }
    pt_model *m = NULL;
    pt_tuner *t = NULL;
    int rc = 1;
    if (pt_model_load(&m, argv[1]) != PT_OK) goto fail;
    pt_task_options task = {.template_text = argv[4], .labels = argv[5]};
    if (pt_tuner_new(&t, m, &task) != PT_OK) goto fail;
    pt_train_options o;
    pt_train_options_default(&o);
    o.out = "classify-example.safetensors";
    o.lr = 0.03f;
    o.epochs = 30;
    o.batch = 16;
    o.progress = on_progress;
    if (pt_tuner_train(t, argv[2], argv[3], &o) != PT_OK) goto fail;
    double loss, acc;
    if (pt_tuner_eval(t, argv[3], &loss, &acc) != PT_OK) goto fail;
    printf("dev: loss %.4f accuracy %.3f\n", loss, acc);
    const char *fields[] = {"sentence"}, *values[] = {argv[6]};
    int label;
    float probs[16];
    if (pt_tuner_n_labels(t) > 16) goto fail;
    if (pt_tuner_predict(t, fields, values, 1, &label, probs) != PT_OK) goto fail;
    printf("\"%s\" -> %s (p = %.3f)\n", argv[6], pt_tuner_label(t, label), probs[label]);
    rc = 0;
fail:
    if (rc) fprintf(stderr, "error: %s\n", pt_last_error());
    pt_tuner_free(t);
    pt_model_free(m);
    return rc;
}
