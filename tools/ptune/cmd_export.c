/* cmd_export.c - ptune export: a prompt file as a Hugging Face PEFT adapter
 * directory (prompt/peft.h). */
#include <stdio.h>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "prompt/peft.h"

static const opt OPTS[] = {
    {"peft", "DIR", "write a PEFT prompt-learning adapter directory (required)"},
    {"prompt", "FILE", "prompt file written by ptune train (required)"},
    {"model", "PATH", "the prompt's model: checked; fills num_layers and the like"},
};

int cmd_export(int argc, char **argv) {
    args a;
    int r =
        args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], argc, argv, "export",
                   "--peft DIR --prompt FILE [--model M]",
                   "Write a prompt as a Hugging Face PEFT adapter directory: "
                   "adapter_config.json\n(P_TUNING for the lstm and mlp encoders, "
                   "PROMPT_TUNING for embedding) and\nadapter_model.safetensors "
                   "(prompt_embeddings). PEFT puts all virtual tokens before\nthe whole "
                   "input, before BOS or [CLS]: the template must begin with its one group\n"
                   "of virtual tokens, followed by [START] for a model with a start token\n"
                   "(\"[P*8][START]{sentence} [MASK]\"). A deep prompt (--method prefix or\n"
                   "ptuning-v2 with --head lm) becomes a PREFIX_TUNING adapter: prompt_embeddings\n"
                   "(P, layers x 2 x key/value width) in PEFT's layout, prefix_projection false;\n"
                   "it needs --model, and a linear head is refused (PEFT has no place for it).\n"
                   "eval and predict read such a directory with --prompt DIR, generate with\n"
                   "--prompt-file DIR.");
    if (r) return r == 1 ? 0 : 2;
    const char *dir = arg_str(&a, "peft", NULL), *path = arg_str(&a, "prompt", NULL);
    int rc = 1;
    pt_model *m = NULL;
    pt_prompt p;
    if (!dir || !path) {
        rc = die("export", "--peft DIR and --prompt FILE are required (see ptune export --help)");
        goto out;
    }
    if (arg_str(&a, "model", NULL) && load_model("export", &a, &m)) goto out;
    if (pt_prompt_load(&p, path)) {
        die("export", "%s", pt_last_error());
        goto out;
    }
    if (pt_peft_export(&p, m, dir))
        die("export", "%s: %s", path, pt_last_error());
    else if (p.D > 0)
        rc = 0, g_verbosity < 0 ? 0
                                : fprintf(stderr,
                                          "ptune export: %s -> %s (PREFIX_TUNING: %d virtual "
                                          "tokens, %d values each: layers x 2 x key/value width)\n",
                                          path, dir, p.D, p.W);
    else
        rc = 0, g_verbosity < 0
                    ? 0
                    : fprintf(stderr, "ptune export: %s -> %s (%d virtual tokens, width %d)\n",
                              path, dir, p.S, p.d);
    pt_prompt_free(&p);
out:
    pt_model_free(m);
    args_free(&a);
    return rc;
}
