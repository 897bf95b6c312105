/* test_api_options.c - the options ptune.h 0.4 added, each through the public
 * API and checked against the ptune tool on the same run:
 *  - `ptune train --help` states the defaults pt_train_options_default holds
 *    (lr, batch, epochs, seed, clip, encoder, optimizer);
 *  - train with threads, init "words:...", max_len and recompute: the API's
 *    prompt table is bit-identical to `ptune train --threads 1 --init
 *    words:... --max-len 12 --recompute`'s; max_len has an effect (the table
 *    differs from a run without it); the threads option is in force during
 *    the call (seen from the progress callback) and restored after it;
 *  - init from a prompt file and precision bf16 (pt_model_load_ex): the same
 *    against `ptune train --init FILE --precision bf16`; bf16 differs from f32;
 *  - pt_tuner_evaluate: loss, accuracy and macro-F1 of a trained prompt with
 *    max_len equal `ptune eval --max-len 10 --json`'s (printed to 6 decimals),
 *    with the truncation counted;
 *  - knowledge probing with a vocabulary filter (pt_task_options.vocab_filter
 *    and pt_tuner_set_vocab_filter): loss and P@1 equal `ptune eval
 *    --knowledge --vocab-filter`'s; the filter changes P@1;
 *  - knowledge predictions (pt_tuner_predict_top, pt_tuner_token_text): the
 *    top 3 token ids, words and probabilities of `ptune predict --top 3`,
 *    with and without --vocab-filter;
 *  - bad options are refused by name (precision, max_len, threads, batch).
 * The tool is $PTUNE_BIN (make test sets it), else build/ptune. */
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/vec.h"
#include "formats/json.h"
#include "prompt/promptfile.h"
#include "ptune.h"
#include "test.h"

#define MODEL "tests/fixtures/gpt2/tiny"
#define TRAIN "tests/fixtures/learn/train.jsonl"
#define DEV "tests/fixtures/learn/dev.jsonl"
#define TMPL "[P*4] {sentence} [P*2] It is a [MASK]"
#define LABELS "animal:animal,fruit:fruit"

static char dir[] = "/tmp/ptune_api_options.XXXXXX";
static const char *bin;

static float *table_of(const char *path, size_t *n) {
    pt_prompt p;
    if (pt_prompt_load(&p, path)) return NULL;
    *n = (size_t)p.S * p.d;
    float *t = p.table;
    p.table = NULL;
    pt_prompt_free(&p);
    return t;
}

/* Bit-identical tables of two prompt files (prints the largest difference). */
static void same_table(const char *what, const char *a, const char *b) {
    size_t na = 0, nb = 0;
    float *ta = table_of(a, &na), *tb = table_of(b, &nb);
    CHECK(ta && tb && na == nb && na > 0, "%s: tables of %s and %s not read", what, a, b);
    if (ta && tb && na == nb) t_close(what, ta, tb, na, 0, 0);
    free(ta), free(tb);
}

static double table_diff(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    float *ta = table_of(a, &na), *tb = table_of(b, &nb);
    double d = -1;
    if (ta && tb && na == nb) {
        d = 0;
        for (size_t i = 0; i < na; i++)
            if (fabs(ta[i] - tb[i]) > d) d = fabs(ta[i] - tb[i]);
    }
    free(ta), free(tb);
    return d;
}

static int run(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "PTUNE_NO_REEXEC=1 %s %s", bin, args);
    int r = system(cmd);
    CHECK(r == 0, "ptune %s: exit %d", args, r);
    return r;
}

/* The number after "key": in a one-line JSON file (NAN when absent). */
static double json_num(const char *path, const char *key) {
    char buf[1024] = {0}, pat[64];
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(buf, pat);
    return p ? atof(p + strlen(pat)) : NAN;
}

/* An API value against the tool's printed one, as the tool prints it (%.6f). */
static void same6(const char *what, double api, double cli) {
    char a[64], c[64];
    snprintf(a, sizeof a, "%.6f", api);
    snprintf(c, sizeof c, "%.6f", cli);
    printf("  %-44s API %s  CLI %s  diff %.3g\n", what, a, c, fabs(api - cli));
    CHECK(!strcmp(a, c), "%s: API %s, CLI %s", what, a, c);
}

static int want_threads, seen_threads = -1;
static bool see_threads(const pt_train_report *r, void *user) {
    (void)r, (void)user;
#ifdef _OPENMP
    seen_threads = omp_get_max_threads();
#endif
    return false;
}

static pt_status api_train(pt_model *m, const char *out, const char *init, int max_len, int threads,
                           int recompute) {
    pt_tuner *t = NULL;
    pt_task_options task = {.template_text = TMPL, .labels = LABELS};
    pt_train_options o;
    pt_train_options_default(&o);
    o.lr = 0.03f, o.steps = 6, o.batch = 4, o.seed = 7;
    o.init = init, o.max_len = max_len, o.threads = threads, o.recompute = recompute;
    o.out = out;
    o.progress = see_threads;
    pt_status s = pt_tuner_new(&t, m, &task);
    if (!s) s = pt_tuner_train(t, TRAIN, NULL, &o);
    if (s) fprintf(stderr, "api_train %s: %s\n", out, pt_last_error());
    pt_tuner_free(t);
    return s;
}

int main(void) {
    bin = getenv("PTUNE_BIN") ? getenv("PTUNE_BIN") : "build/ptune";
    if (access(bin, X_OK)) return t_skip("no ptune tool built (PTUNE_BIN)");
    if (!mkdtemp(dir)) return 1;
    char p[16][400], a[4096];
    for (int i = 0; i < 16; i++) snprintf(p[i], sizeof p[i], "%s/f%d", dir, i);
    pt_model *m = NULL, *mb = NULL;
    if (pt_model_load(&m, MODEL)) {
        fprintf(stderr, "%s\n", pt_last_error());
        return 1;
    }
    const char *common = "--model " MODEL " --train " TRAIN " --template \"" TMPL
                         "\" --labels " LABELS " --lr 0.03 --steps 6 --batch 4 --seed 7 --quiet";

    /* ---- the defaults --help states are the library's */
    pt_train_options d0;
    pt_train_options_default(&d0);
    char hf[420];
    snprintf(hf, sizeof hf, "%s/help.txt", dir);
    snprintf(a, sizeof a, "train --help > %s", hf);
    run(a);
    char help[16384] = {0};
    FILE *hfp = fopen(hf, "r");
    if (hfp) help[fread(help, 1, sizeof help - 1, hfp)] = 0, fclose(hfp);
    char want[5][64];
    snprintf(want[0], 64, "learning rate (default %g)", (double)d0.lr);
    snprintf(want[1], 64, "examples per step (default %d)", d0.batch);
    snprintf(want[2], 64, "training data (default %d)", d0.epochs);
    snprintf(want[3], 64, "(default %llu)", (unsigned long long)d0.seed);
    snprintf(want[4], 64, "0 = off (default %g)", (double)d0.clip);
    for (int i = 0; i < 5; i++)
        CHECK(strstr(help, want[i]), "ptune train --help lacks \"%s\"", want[i]);
    CHECK(!strcmp(d0.encoder, "lstm") && strstr(help, "lstm (default)") &&
              !strcmp(d0.optimizer, "adamw") && strstr(help, "adamw (default)"),
          "encoder and optimizer defaults in --help");
    printf("  ptune train --help states the library's defaults: lr %g, batch %d, epochs %d, "
           "seed %llu, clip %g, %s, %s\n",
           (double)d0.lr, d0.batch, d0.epochs, (unsigned long long)d0.seed, (double)d0.clip,
           d0.encoder, d0.optimizer);

    /* ---- threads, init words, max_len, recompute */
    snprintf(a, sizeof a,
             "train %s --threads 1 --init \"words:the cat is\" --max-len 12 "
             "--recompute --out %s.safetensors 2> /dev/null",
             common, p[0]);
    run(a);
#ifdef _OPENMP
    int before = omp_get_max_threads();
    want_threads = before > 1 ? 1 : 2;
#else
    want_threads = 1;
#endif
    char f0[420], f1[420], f2[420], f3[420], f4[420], f5[420];
    snprintf(f0, sizeof f0, "%s.safetensors", p[0]);
    snprintf(f1, sizeof f1, "%s.safetensors", p[1]);
    snprintf(f2, sizeof f2, "%s.safetensors", p[2]);
    CHECK(!api_train(m, f1, "words:the cat is", 12, want_threads, 1), "API train (words)");
    same_table("threads+init words+max_len+recompute", f1, f0);
#ifdef _OPENMP
    printf("  threads option %d: %d in the callback, %d after the call (was %d)\n", want_threads,
           seen_threads, omp_get_max_threads(), before);
    CHECK(seen_threads == want_threads, "threads in force during the call: %d", seen_threads);
    CHECK(omp_get_max_threads() == before, "threads restored after the call");
#else
    t_note_skip("threads option: built without OpenMP");
#endif
    CHECK(!api_train(m, f2, "words:the cat is", 0, 0, 0), "API train (no max_len)");
    double dl = table_diff(f1, f2);
    printf("  max_len 12 vs none: max abs diff %.3g (must differ)\n", dl);
    CHECK(dl > 0, "max_len has no effect");

    /* ---- init from a prompt file, precision bf16 */
    snprintf(f3, sizeof f3, "%s.safetensors", p[3]);
    snprintf(f4, sizeof f4, "%s.safetensors", p[4]);
    snprintf(f5, sizeof f5, "%s.safetensors", p[5]);
    snprintf(a, sizeof a, "train %s --init %s --precision bf16 --out %s 2> /dev/null", common, f0,
             f3);
    run(a);
    pt_model_options mo;
    pt_model_options_default(&mo);
    CHECK(!strcmp(mo.precision, "f32"), "default precision %s", mo.precision);
    mo.precision = "bf16";
    CHECK(!pt_model_load_ex(&mb, MODEL, &mo), "pt_model_load_ex bf16: %s", pt_last_error());
    if (mb) {
        CHECK(!api_train(mb, f4, f0, 0, 0, 0), "API train (init file, bf16)");
        same_table("init FILE + precision bf16", f4, f3);
    }
    CHECK(!api_train(m, f5, f0, 0, 0, 0), "API train (init file, f32)");
    double db = table_diff(f4, f5);
    printf("  bf16 vs f32: max abs diff %.3g (must differ)\n", db);
    CHECK(db > 0, "precision bf16 has no effect");
    mo.precision = "f8";
    pt_model *bad = NULL;
    CHECK(pt_model_load_ex(&bad, MODEL, &mo) == PT_ERR_ARG && !bad &&
              strstr(pt_last_error(), "\"f8\""),
          "precision f8 refused: %s", pt_last_error());
    printf("  %s\n", pt_last_error());

    /* ---- pt_tuner_evaluate: loss, accuracy, F1 with max_len */
    char js[420];
    snprintf(js, sizeof js, "%s.json", p[6]);
    snprintf(a, sizeof a,
             "eval --model %s --prompt %s --data %s --max-len 10 --json > %s 2> /dev/null", MODEL,
             f0, DEV, js);
    run(a);
    pt_tuner *t = NULL;
    pt_eval_options eo;
    pt_eval_options_default(&eo);
    CHECK(eo.batch == 16 && eo.max_len == 0 && eo.threads == 0, "eval defaults");
    eo.max_len = 10;
    pt_eval_metrics r = {0};
    CHECK(!pt_tuner_load(&t, m, f0), "load: %s", pt_last_error());
    if (t && !pt_tuner_evaluate(t, DEV, &eo, &r)) {
        same6("eval loss (max_len 10)", r.loss, json_num(js, "loss"));
        same6("eval accuracy", r.accuracy, json_num(js, "accuracy"));
        same6("eval macro-F1", r.f1, json_num(js, "f1"));
        printf("  %d examples, %d truncated\n", r.n, r.truncated);
        CHECK(r.n == (int)json_num(js, "examples") && r.truncated > 0 && !r.knowledge,
              "examples %d, truncated %d", r.n, r.truncated);
    } else {
        CHECK(0, "pt_tuner_evaluate: %s", pt_last_error());
    }
    eo.batch = 0;
    CHECK(t && pt_tuner_evaluate(t, DEV, &eo, &r) == PT_ERR_ARG && strstr(pt_last_error(), "batch"),
          "batch 0 refused");
    eo.batch = 16, eo.max_len = -1;
    CHECK(t && pt_tuner_evaluate(t, DEV, &eo, &r) == PT_ERR_ARG &&
              strstr(pt_last_error(), "max_len"),
          "max_len -1 refused");
    eo.max_len = 0, eo.threads = -2;
    CHECK(t && pt_tuner_evaluate(t, DEV, &eo, &r) == PT_ERR_ARG &&
              strstr(pt_last_error(), "threads"),
          "threads -2 refused");
    CHECK(t && pt_tuner_set_vocab_filter(t, NULL) == PT_ERR_ARG,
          "a filter on a classifier refused");
    pt_tuner_free(t);

    /* ---- knowledge probing with a vocabulary filter */
    char vf[420], jk[420], jkf[420];
    snprintf(vf, sizeof vf, "%s.txt", p[7]);
    snprintf(jk, sizeof jk, "%s.json", p[8]);
    snprintf(jkf, sizeof jkf, "%s.json", p[9]);
    FILE *f = fopen(vf, "w");
    if (f) fputs("animal\nfruit\ncat\n", f), fclose(f);
    const char *ktmpl = "{sentence} It is a [MASK]";
    snprintf(a, sizeof a,
             "eval --model %s --template \"%s\" --knowledge --data %s --json > %s 2> /dev/null",
             MODEL, ktmpl, DEV, jk);
    run(a);
    snprintf(a, sizeof a,
             "eval --model %s --template \"%s\" --knowledge --vocab-filter %s --data %s --json > "
             "%s 2> /dev/null",
             MODEL, ktmpl, vf, DEV, jkf);
    run(a);
    pt_task_options kt = {.template_text = ktmpl, .knowledge = 1, .vocab_filter = vf};
    pt_tuner *tk = NULL;
    CHECK(!pt_tuner_new(&tk, m, &kt), "knowledge tuner: %s", pt_last_error());
    if (tk && !pt_tuner_evaluate(tk, DEV, NULL, &r)) {
        same6("knowledge, filter: loss", r.loss, json_num(jkf, "loss"));
        same6("knowledge, filter: P@1", r.accuracy, json_num(jkf, "p_at_1"));
        CHECK(r.knowledge && r.f1 == r.accuracy, "knowledge flag, f1 = P@1");
        double with = r.accuracy;
        CHECK(!pt_tuner_set_vocab_filter(tk, NULL), "filter removed");
        if (!pt_tuner_evaluate(tk, DEV, NULL, &r)) {
            same6("knowledge, whole vocabulary: loss", r.loss, json_num(jk, "loss"));
            same6("knowledge, whole vocabulary: P@1", r.accuracy, json_num(jk, "p_at_1"));
            printf("  P@1 with the filter %.4f, without %.4f (must differ)\n", with, r.accuracy);
            CHECK(with != r.accuracy, "the vocabulary filter has no effect");
        }
        CHECK(!pt_tuner_set_vocab_filter(tk, vf) && !pt_tuner_evaluate(tk, DEV, NULL, &r) &&
                  r.accuracy == with,
              "pt_tuner_set_vocab_filter gives the task option's P@1");
    } else {
        CHECK(0, "knowledge evaluate: %s", pt_last_error());
    }
    pt_tuner_free(tk);

    /* ---- knowledge predictions: the top candidates of ptune predict --top 3 */
    char kp[420], data[420], pj[420], pjf[420];
    snprintf(kp, sizeof kp, "%s.safetensors", p[10]);
    snprintf(data, sizeof data, "%s.jsonl", p[11]);
    snprintf(pj, sizeof pj, "%s.jsonl", p[12]);
    snprintf(pjf, sizeof pjf, "%s.jsonl", p[13]);
    static const char *texts[] = {"the dog is big", "an apple and a pear", "this cat was red"};
    f = fopen(data, "w");
    if (f) {
        for (int i = 0; i < 3; i++) fprintf(f, "{\"sentence\": \"%s\"}\n", texts[i]);
        fclose(f);
    }
    snprintf(a, sizeof a,
             "train --model %s --train %s --template \"[P*3] {sentence} It is a [MASK]\" "
             "--knowledge --encoder embedding --lr 0.1 --steps 8 --seed 3 --out %s --quiet "
             "2> /dev/null",
             MODEL, TRAIN, kp);
    run(a);
    snprintf(a, sizeof a, "predict --model %s --prompt %s --data %s --top 3 > %s 2> /dev/null",
             MODEL, kp, data, pj);
    run(a);
    snprintf(a, sizeof a,
             "predict --model %s --prompt %s --data %s --top 3 --vocab-filter %s > %s 2> /dev/null",
             MODEL, kp, data, vf, pjf);
    run(a);
    tk = NULL;
    CHECK(!pt_tuner_load(&tk, m, kp), "load knowledge prompt: %s", pt_last_error());
    for (int pass = 0; tk && pass < 2; pass++) {
        if (pass) CHECK(!pt_tuner_set_vocab_filter(tk, vf), "filter: %s", pt_last_error());
        FILE *pf = fopen(pass ? pjf : pj, "r");
        char line[4096];
        int n_lines = 0, same_ids = 1, same_words = 1;
        double worst = 0;
        for (int i = 0; pf && i < 3 && fgets(line, sizeof line, pf); i++, n_lines++) {
            const char *fields[] = {"sentence"};
            int ids[3], got = 0;
            float pr[3];
            if (pt_tuner_predict_top(tk, fields, &texts[i], 1, 3, ids, pr, &got) || got != 3) {
                CHECK(0, "pt_tuner_predict_top: %s (%d)", pt_last_error(), got);
                break;
            }
            pt_json_doc doc;
            const pt_json *top = NULL;
            if (!pt_json_parse(&doc, line, strlen(line))) {
                top = pt_json_get(doc.root, "top");
                if (!top || top->type != PT_JSON_ARRAY || top->len != 3) same_ids = 0;
                for (int j = 0; same_ids && j < 3; j++) {
                    const pt_json *c = top->items[j];
                    const char *word;
                    int cid;
                    double cli;
                    char text[64];
                    if (!pt_json_get_str(c, "word", &word) ||
                        !pt_json_get_int(c, "token_id", &cid) ||
                        !pt_json_get_num(c, "prob", &cli) ||
                        pt_tuner_token_text(tk, ids[j], text, sizeof text)) {
                        same_ids = 0;
                        break;
                    }
                    /* the tool writes the token's bytes as JSON (a byte that is not
                     * UTF-8 becomes its code point): compare through the same writer */
                    pt_buf jb = {0};
                    pt_json_doc dw;
                    pt_json_write_string(&jb, text, strlen(text));
                    if (!jb.v || pt_json_parse(&dw, jb.v, jb.n)) {
                        same_words = 0;
                    } else {
                        if (strcmp(word, dw.root->str)) same_words = 0;
                        pt_json_doc_free(&dw);
                    }
                    pt_buf_free(&jb);
                    if (cid != ids[j]) same_ids = 0;
                    double d = fabs(cli - pr[j]) / (cli > 0 ? cli : 1);
                    if (d > worst) worst = d;
                }
                pt_json_doc_free(&doc);
            } else {
                same_ids = 0;
            }
        }
        if (pf) fclose(pf);
        printf("  predict top 3%s: %d examples, ids %s, words %s, probs max rel diff %.3g\n",
               pass ? " (vocabulary filter)" : "", n_lines, same_ids ? "equal" : "DIFFER",
               same_words ? "equal" : "DIFFER", worst);
        CHECK(n_lines == 3 && same_ids && same_words && worst < 1e-5,
              "knowledge predict differs from ptune predict");
    }
    int lab;
    const char *fields1[] = {"sentence"};
    CHECK(tk && pt_tuner_predict(tk, fields1, texts, 1, &lab, NULL) == PT_ERR_ARG,
          "pt_tuner_predict refuses knowledge probing");
    pt_tuner_free(tk);

    pt_model_free(mb);
    pt_model_free(m);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
