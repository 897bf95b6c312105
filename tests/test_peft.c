/* test_peft.c - PEFT prompt-learning adapters through the public API
 * (pt_tuner_load, pt_tuner_load_adapter, pt_tuner_export_peft) against the
 * PyTorch oracle scripts/peft_eval.py, which does what PEFT's forward does
 * (the adapter's prompt_embeddings concatenated before the input's
 * embeddings) with its own GPT-2:
 *  - exported/ (ptune export of prompt.safetensors): loss, accuracy and every
 *    dev example's label probabilities as PEFT computes them;
 *  - the round trip: the prompt file and its export predict bit-identically,
 *    and pt_tuner_export_peft writes exported/ again byte for byte;
 *  - foreign/ (written by the script as PEFT's save_pretrained writes one, no
 *    ptune metadata): loads with the implied template "[P*n][START]{text}
 *    [MASK]" and the labels given, and matches the oracle;
 *  - llama_exported/ (a LLaMA prompt trained with "[P*3][START]{sentence}
 *    [MASK]"): PEFT's numbers with the virtual tokens before BOS;
 *  - bert_exported/ (a BERT prompt "[P*3][START]{sentence} [MASK] ."): PEFT's
 *    numbers with the virtual tokens before [CLS];
 *  - refusals: a foreign adapter without labels, a template whose virtual
 *    tokens PEFT would place elsewhere;
 *  - PREFIX_TUNING (deep prompts) against scripts/peft_prefix_eval.py: prefix_gpt2/,
 *    prefix_llama/ (GQA), prefix_foreign/, their round trips and exports. */
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "formats/json.h"
#include "train/dataset.h"
#include "test.h"

#define MODEL "tests/fixtures/gpt2/tiny"
#define FIX "tests/fixtures/peft"
#define LABELS "animal:animal,fruit:fruit"
#define MAXN 64

typedef struct expected {
    double loss, accuracy;
    int n;
    int label[MAXN]; /* 0 the first label, 1 the second */
    float probs[MAXN][2];
} expected;

/* l0, l1: the two label values, in label order */
static int read_expected(const char *path, expected *e, const char *l0, const char *l1) {
    char *text;
    size_t len;
    pt_json_doc doc;
    if (pt_read_file(path, &text, &len) || pt_json_parse(&doc, text, len)) {
        fprintf(stderr, "%s: %s\n", path, pt_last_error());
        return 0;
    }
    free(text);
    const pt_json *preds = pt_json_get(doc.root, "predictions");
    int ok = pt_json_get_num(doc.root, "loss", &e->loss) &&
             pt_json_get_num(doc.root, "accuracy", &e->accuracy) &&
             pt_json_get_int(doc.root, "examples", &e->n) && preds && e->n <= MAXN &&
             (int)preds->len == e->n;
    for (int i = 0; ok && i < e->n; i++) {
        const pt_json *p = preds->items[i], *pr = pt_json_get(p, "probs");
        const char *lab;
        double a = 0, f = 0;
        ok = pt_json_get_str(p, "label", &lab) && pt_json_get_num(pr, l0, &a) &&
             pt_json_get_num(pr, l1, &f);
        e->label[i] = ok && !strcmp(lab, l1);
        e->probs[i][0] = (float)a;
        e->probs[i][1] = (float)f;
    }
    pt_json_doc_free(&doc);
    if (!ok) fprintf(stderr, "%s: unexpected layout\n", path);
    return ok;
}

/* Predict every example of a data file; labels and probabilities out. */
static int predict_all(pt_tuner *t, const char *data, const char *field, int *label,
                       float (*probs)[2], int *n) {
    pt_dataset d;
    if (pt_dataset_load(&d, data)) return 0;
    int f = pt_dataset_field(&d, field), ok = f >= 0 && d.n <= MAXN;
    for (int i = 0; ok && i < d.n; i++) {
        const char *fields[] = {field}, *values[] = {pt_dataset_value(&d, i, f)};
        ok = pt_tuner_predict(t, fields, values, 1, &label[i], probs[i]) == PT_OK;
    }
    *n = d.n;
    pt_dataset_free(&d);
    if (!ok) fprintf(stderr, "predict %s: %s\n", data, pt_last_error());
    return ok;
}

/* The tuner against the oracle: loss, accuracy, labels, probabilities. */
static void against(const char *what, pt_tuner *t, const char *data, const char *field,
                    const expected *e) {
    double loss = -1, acc = -1;
    int label[MAXN], n = 0, same = 1;
    float probs[MAXN][2];
    CHECK(pt_tuner_eval(t, data, &loss, &acc) == PT_OK, "%s: eval: %s", what, pt_last_error());
    printf("  %-40s loss %.7f (PEFT %.7f, diff %.2g), accuracy %.4f (PEFT %.4f)\n", what, loss,
           e->loss, fabs(loss - e->loss), acc, e->accuracy);
    CHECK(fabs(loss - e->loss) < 2e-5, "%s: loss %.7f, PEFT's %.7f", what, loss, e->loss);
    CHECK(fabs(acc - e->accuracy) < 1e-9, "%s: accuracy %.4f, PEFT's %.4f", what, acc, e->accuracy);
    if (!predict_all(t, data, field, label, probs, &n)) {
        CHECK(0, "%s: predict failed", what);
        return;
    }
    CHECK(n == e->n, "%s: %d examples, PEFT %d", what, n, e->n);
    for (int i = 0; i < n && i < e->n; i++) same &= label[i] == e->label[i];
    CHECK(same, "%s: predicted labels differ from PEFT's", what);
    char name[96];
    snprintf(name, sizeof name, "%s: label probabilities", what);
    t_close(name, &probs[0][0], &e->probs[0][0], (size_t)2 * n, 0, 2e-5);
}

static int files_equal(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    if (pt_read_file(a, &x, &nx)) return 0;
    if (pt_read_file(b, &y, &ny)) {
        free(x);
        return 0;
    }
    int eq = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return eq;
}

/* The prompt file (tf) and its export (td) predict bit-identically, and
 * pt_tuner_export_peft writes the committed directory again byte for byte. */
static void round_trip(pt_tuner *td, pt_tuner *tf, const char *data, const char *committed) {
    int l1[MAXN], l2[MAXN], n1 = 0, n2 = 0;
    float p1[MAXN][2], p2[MAXN][2];
    int ok = predict_all(td, data, "sentence", l1, p1, &n1) &&
             predict_all(tf, data, "sentence", l2, p2, &n2);
    CHECK(ok && n1 == n2 && !memcmp(l1, l2, sizeof(int) * n1) && !memcmp(p1, p2, sizeof p1[0] * n1),
          "the prompt file and its PEFT export %s predict differently", committed);
    printf("  round trip: %d predictions of the prompt file and of %s %s\n", n1, committed,
           ok && !memcmp(p1, p2, sizeof p1[0] * n1) ? "bit-identical" : "DIFFER");
    char dir[] = "/tmp/ptune-peft-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char out[64];
    snprintf(out, sizeof out, "%s/a", dir);
    CHECK(pt_tuner_export_peft(tf, out) == PT_OK, "export: %s", pt_last_error());
    char a[96], b[96], ca[160], cb[160];
    snprintf(a, sizeof a, "%s/adapter_config.json", out);
    snprintf(b, sizeof b, "%s/adapter_model.safetensors", out);
    snprintf(ca, sizeof ca, "%s/adapter_config.json", committed);
    snprintf(cb, sizeof cb, "%s/adapter_model.safetensors", committed);
    CHECK(files_equal(a, ca) && files_equal(b, cb), "pt_tuner_export_peft did not reproduce %s",
          committed);
    remove(a);
    remove(b);
    remove(out);
    remove(dir);
}

/* PREFIX_TUNING (deep prompts) against scripts/peft_prefix_eval.py, which
 * reshapes prompt_embeddings into past_key_values as PEFT's get_prompt does:
 * GPT-2 (--method prefix), LLaMA with GQA (--method ptuning-v2 --head lm; PEFT
 * then uses the key/value head count), BERT (--method prefix, the label words at
 * [MASK]), and an adapter the script wrote. */
static void prefix_tuning(void) {
    expected eg, el, ef;
    if (!read_expected(FIX "/expected_prefix_gpt2.json", &eg, "animal", "fruit") ||
        !read_expected(FIX "/expected_prefix_llama.json", &el, "a", "b") ||
        !read_expected(FIX "/expected_prefix_foreign.json", &ef, "a", "b")) {
        CHECK(0, "prefix expectations: %s", pt_last_error());
        return;
    }
    pt_model *m = NULL, *ml = NULL;
    pt_tuner *td = NULL, *tf = NULL, *tl = NULL, *tlf = NULL, *tx = NULL;
    CHECK(pt_model_load(&m, MODEL) == PT_OK &&
              pt_model_load(&ml, "tests/fixtures/llama/tiny.gguf") == PT_OK,
          "models: %s", pt_last_error());
    if (!m || !ml) goto out;
    CHECK(pt_tuner_load(&td, m, FIX "/prefix_gpt2") == PT_OK, "prefix_gpt2/: %s", pt_last_error());
    CHECK(pt_tuner_load(&tf, m, FIX "/prefix_gpt2.safetensors") == PT_OK, "prefix file: %s",
          pt_last_error());
    if (td && tf) {
        against("prefix_gpt2/ (PREFIX_TUNING)", td, "tests/fixtures/learn/dev.jsonl", "sentence",
                &eg);
        round_trip(td, tf, "tests/fixtures/learn/dev.jsonl", FIX "/prefix_gpt2");
    }
    CHECK(pt_tuner_load(&tl, ml, FIX "/prefix_llama") == PT_OK, "prefix_llama/: %s",
          pt_last_error());
    CHECK(pt_tuner_load(&tlf, ml, FIX "/prefix_llama.safetensors") == PT_OK, "llama file: %s",
          pt_last_error());
    if (tl && tlf) {
        against("prefix_llama/ (GQA, ptuning-v2 lm)", tl, FIX "/llama_dev.jsonl", "sentence", &el);
        round_trip(tl, tlf, FIX "/llama_dev.jsonl", FIX "/prefix_llama");
    }
    expected eb;
    pt_model *mb = NULL;
    pt_tuner *tb = NULL, *tbf = NULL;
    CHECK(read_expected(FIX "/expected_prefix_bert.json", &eb, "animal", "thing") &&
              pt_model_load(&mb, "tests/fixtures/bert/tiny") == PT_OK,
          "bert: %s", pt_last_error());
    if (mb) {
        CHECK(pt_tuner_load(&tb, mb, FIX "/prefix_bert") == PT_OK, "prefix_bert/: %s",
              pt_last_error());
        CHECK(pt_tuner_load(&tbf, mb, FIX "/prefix_bert.safetensors") == PT_OK, "bert file: %s",
              pt_last_error());
    }
    if (tb && tbf) {
        against("prefix_bert/ (FEATURE_EXTRACTION)", tb, "tests/fixtures/learn/bert_dev.jsonl",
                "sentence", &eb);
        round_trip(tb, tbf, "tests/fixtures/learn/bert_dev.jsonl", FIX "/prefix_bert");
    }
    pt_tuner_free(tb);
    pt_tuner_free(tbf);
    pt_model_free(mb);
    pt_task_options task = {.labels = "a:mat,b:cat", .template_text = "{sentence} [MASK]"};
    CHECK(pt_tuner_load_adapter(&tx, ml, FIX "/prefix_foreign", &task) == PT_OK,
          "prefix_foreign/: %s", pt_last_error());
    if (tx)
        against("prefix_foreign/ (PEFT's save format)", tx, FIX "/llama_dev.jsonl", "sentence",
                &ef);
    pt_tuner_free(tx);
    tx = NULL;
    CHECK(pt_tuner_load(&tx, m, FIX "/prefix_llama") != PT_OK &&
              strstr(pt_last_error(), "another model"),
          "the LLaMA adapter on GPT-2 should be refused (%s)", pt_last_error());
    printf("  another model: %s\n", pt_last_error());
out:
    pt_tuner_free(td);
    pt_tuner_free(tf);
    pt_tuner_free(tl);
    pt_tuner_free(tlf);
    pt_tuner_free(tx);
    pt_model_free(m);
    pt_model_free(ml);
}

int main(void) {
    pt_model *m;
    expected ee, ef, el, eb;
    if (pt_model_load(&m, MODEL) ||
        !read_expected(FIX "/expected_exported.json", &ee, "animal", "fruit") ||
        !read_expected(FIX "/expected_foreign.json", &ef, "animal", "fruit") ||
        !read_expected(FIX "/expected_llama.json", &el, "a", "b") ||
        !read_expected(FIX "/expected_bert.json", &eb, "animal", "thing")) {
        fprintf(stderr, "setup: %s\n", pt_last_error());
        return 1;
    }

    /* exported/ against PEFT's forward; the prompt file it came from, identically */
    pt_tuner *td = NULL, *tf = NULL;
    CHECK(pt_tuner_load(&td, m, FIX "/exported") == PT_OK, "load exported/: %s", pt_last_error());
    CHECK(pt_tuner_load(&tf, m, FIX "/prompt.safetensors") == PT_OK, "load prompt: %s",
          pt_last_error());
    if (td && tf) {
        against("exported/ (ptune export)", td, "tests/fixtures/learn/dev.jsonl", "sentence", &ee);
        round_trip(td, tf, "tests/fixtures/learn/dev.jsonl", FIX "/exported");
    }
    pt_tuner_free(td);
    pt_tuner_free(tf);

    /* foreign/: PEFT's own layout, no ptune metadata */
    pt_tuner *tg = NULL;
    pt_status s = pt_tuner_load(&tg, m, FIX "/foreign");
    CHECK(s != PT_OK && strstr(pt_last_error(), "labels"),
          "a foreign adapter without labels should be refused naming them (%s)", pt_last_error());
    printf("  without labels: %s\n", pt_last_error());
    pt_tuner_free(tg);
    tg = NULL;
    pt_task_options task = {.labels = LABELS};
    CHECK(pt_tuner_load_adapter(&tg, m, FIX "/foreign", &task) == PT_OK, "load foreign/: %s",
          pt_last_error());
    if (tg) against("foreign/ (PEFT's save format)", tg, FIX "/foreign_dev.jsonl", "text", &ef);
    pt_tuner_free(tg);
    tg = NULL;
    /* the same template given explicitly */
    pt_task_options task2 = {.labels = LABELS, .template_text = "[P*5][START]{text} [MASK]"};
    CHECK(pt_tuner_load_adapter(&tg, m, FIX "/foreign", &task2) == PT_OK, "load foreign/: %s",
          pt_last_error());
    if (tg) against("foreign/ with its template given", tg, FIX "/foreign_dev.jsonl", "text", &ef);
    pt_tuner_free(tg);
    tg = NULL;
    pt_task_options bad = {.labels = LABELS, .template_text = "[P*4]{text} [MASK]"};
    CHECK(pt_tuner_load_adapter(&tg, m, FIX "/foreign", &bad) != PT_OK &&
              strstr(pt_last_error(), "5 rows"),
          "a template with the wrong number of virtual tokens: %s", pt_last_error());
    printf("  wrong template: %s\n", pt_last_error());
    pt_tuner_free(tg);

    /* a layout PEFT cannot reproduce is refused, saying why */
    pt_task_options two = {.template_text = "[P*2]{sentence} [P*2] It is a [MASK]",
                           .labels = LABELS};
    pt_tuner *tn = NULL;
    CHECK(pt_tuner_new(&tn, m, &two) == PT_OK, "new: %s", pt_last_error());
    pt_train_options o;
    pt_train_options_default(&o);
    o.out = "/tmp/ptune-peft-two.safetensors";
    o.steps = 2;
    o.batch = 8;
    o.encoder = "embedding";
    if (tn && pt_tuner_train(tn, "tests/fixtures/learn/train.jsonl", NULL, &o) == PT_OK) {
        s = pt_tuner_export_peft(tn, "/tmp/ptune-peft-two");
        CHECK(s == PT_ERR_UNSUPPORTED && strstr(pt_last_error(), "before the whole input"),
              "two groups should be refused (%s)", pt_last_error());
        printf("  two groups: %s\n", pt_last_error());
    } else {
        CHECK(0, "train: %s", pt_last_error());
    }
    remove(o.out);
    remove("/tmp/ptune-peft-two.safetensors.ckpt");
    pt_tuner_free(tn);
    pt_model_free(m);

    /* LLaMA: the virtual tokens before BOS ("[P*3][START]...") as PEFT places them */
    pt_model *ml = NULL;
    pt_tuner *tl = NULL;
    CHECK(pt_model_load(&ml, "tests/fixtures/llama/tiny.gguf") == PT_OK, "llama: %s",
          pt_last_error());
    if (ml) {
        CHECK(pt_tuner_load(&tl, ml, FIX "/llama_exported") == PT_OK, "load llama_exported/: %s",
              pt_last_error());
        if (tl)
            against("llama_exported/ (BOS after the prompt)", tl, FIX "/llama_dev.jsonl",
                    "sentence", &el);
    }
    pt_tuner_free(tl);
    pt_model_free(ml);

    /* BERT: the virtual tokens before [CLS], the label words at the mask token */
    pt_model *mb = NULL;
    pt_tuner *tb = NULL;
    CHECK(pt_model_load(&mb, "tests/fixtures/bert/tiny") == PT_OK, "bert: %s", pt_last_error());
    if (mb) {
        CHECK(pt_tuner_load(&tb, mb, FIX "/bert_exported") == PT_OK, "load bert_exported/: %s",
              pt_last_error());
        if (tb)
            against("bert_exported/ ([CLS] after the prompt)", tb,
                    "tests/fixtures/learn/bert_dev.jsonl", "sentence", &eb);
    }
    pt_tuner_free(tb);
    pt_model_free(mb);
    prefix_tuning();
    return t_done();
}
