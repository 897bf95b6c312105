/* cmd_render.c - ptune render: show what the model sees for each example. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "common.h"
#include "core/vec.h"

static const opt OPTS[] = {
    {"model", "PATH", "model directory, .safetensors or .gguf (required)"},
    {"template", "T", "template, e.g. \"[P*3] {sentence} It was [MASK]\" (required)"},
    {"data", "FILE", "examples: .jsonl, .tsv or .csv with a header row (required; - = stdin)"},
    {"labels", "L", "value:word pairs, e.g. \"pos:great,neg:terrible\""},
    {"knowledge", NULL, "knowledge probing: the label field is the answer word"},
    {"head", "lm|linear", "scoring head (default lm)"},
    {"label-field", "NAME", "data field holding the label (default label)"},
    {"max-len", "N", "truncate examples to N tokens (default: the model's limit)"},
};

int cmd_render(int argc, char **argv) {
    args a;
    int r = args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], argc, argv, "render",
                       "--model M --template T --data F [--labels L | --knowledge]",
                       "Print one JSON line per example: ids (virtual tokens as -1), virtual "
                       "(their positions),\nanswer (the position whose output scores the "
                       "labels), label_ids (each label word's\ntoken id, in label order) and "
                       "label (the example's label index, when present).");
    if (r) return r == 1 ? 0 : 2;
    pt_model *m = NULL;
    pt_task t;
    pt_dataset d;
    pt_examples ex;
    int rc = 1;
    long max_len;
    const char *data = arg_str(&a, "data", NULL);
    if (!arg_int(&a, "max-len", 0, 0, 1 << 20, &max_len)) goto out;
    if (!data) {
        die("render", "--data is required");
        goto out;
    }
    if (load_model("render", &a, &m)) goto out;
    if (task_from_args("render", &a, m, &t)) goto out;
    if (load_examples("render", data, &t, m, 0, (int)max_len, &d, &ex)) goto task;
    pt_buf b = {0};
    for (int i = 0; i < ex.n; i++) {
        const pt_example *e = &ex.ex[i];
        b.n = 0;
        pt_buf_puts(&b, "{\"ids\":[");
        for (int k = 0; k < e->r.n; k++) pt_buf_printf(&b, "%s%d", k ? "," : "", e->r.ids[k]);
        pt_buf_puts(&b, "],\"virtual\":[");
        for (int k = 0; k < t.tmpl.n_virtual; k++)
            pt_buf_printf(&b, "%s%d", k ? "," : "", e->r.virt_pos[k]);
        pt_buf_printf(&b, "],\"answer\":%d", e->r.answer);
        if (t.kind == PT_TASK_CLASSIFY && t.head == PT_HEAD_LM) {
            pt_buf_puts(&b, ",\"label_ids\":[");
            for (int k = 0; k < t.n_labels; k++)
                pt_buf_printf(&b, "%s%d", k ? "," : "", t.label_ids[e->r.mask_space][k]);
            pt_buf_puts(&b, "]");
        }
        if (e->target >= 0) pt_buf_printf(&b, ",\"label\":%d", e->target);
        pt_buf_puts(&b, "}\n");
        fwrite(b.v, 1, b.n, stdout);
    }
    pt_buf_free(&b);
    rc = 0;
    pt_examples_free(&ex);
    pt_dataset_free(&d);
task:
    pt_task_free(&t);
out:
    pt_model_free(m);
    args_free(&a);
    return rc;
}
