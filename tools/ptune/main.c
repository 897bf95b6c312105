/* main.c - the ptune command-line tool: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command;

static const command COMMANDS[] = {
    {"train", cmd_train, "P-tune a frozen model on a task; writes a prompt file"},
    {"eval", cmd_eval, "loss, accuracy and F1 / P@1 of a prompt (or a manual template)"},
    {"predict", cmd_predict, "predict labels for new data, one JSON line per example"},
    {"render", cmd_render, "show the token layout the model sees for each example"},
    {"tokenize", cmd_tokenize, "text to token ids and back"},
    {"info", cmd_info, "describe a model"},
};
#define N_COMMANDS (int)(sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f, "ptune - P-Tuning of frozen language models (GPT-2, BERT, LLaMA) on the CPU\n\n"
               "usage: ptune COMMAND [options]    (ptune COMMAND --help for its options)\n\n"
               "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\nexample:\n"
               "  ptune train --model gpt2/ --train train.jsonl --dev dev.jsonl \\\n"
               "      --template \"[P*3] {sentence} [P*2] It was [MASK]\" \\\n"
               "      --labels \"pos:great,neg:terrible\" --out sentiment.safetensors\n"
               "  ptune eval --model gpt2/ --prompt sentiment.safetensors --data test.jsonl\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "ptune: unknown command '%s' (see ptune --help)\n", argv[1]);
    return 2;
}
