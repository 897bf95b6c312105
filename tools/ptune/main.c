/* main.c - the ptune command-line tool: dispatch to subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas_guard.h"
#include "commands.h"
#include "common.h"
#include "kernels/gemm.h"
#include "train/dist.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
    int multiplies; /* runs the model (needs the GEMM engine) */
} command;

static const command COMMANDS[] = {
    {"train", cmd_train, "P-tune a frozen model on a task; writes a prompt file", 1},
    {"eval", cmd_eval, "loss, accuracy and F1 / P@1 of a prompt (or a manual template)", 1},
    {"predict", cmd_predict, "predict labels for new data, one JSON line per example", 1},
    {"generate", cmd_generate, "generate text with a causal model, optionally P-tuned", 1},
    {"render", cmd_render, "show the token layout the model sees for each example", 0},
    {"tokenize", cmd_tokenize, "text to token ids and back", 0},
    {"export", cmd_export, "write a prompt file as a Hugging Face PEFT adapter directory", 0},
    {"info", cmd_info, "describe a model", 0},
    {"quantize", cmd_quantize, "re-store a GGUF model in a quantized type (Q4_K_M, Q8_0, ...)", 0},
    {"bench", cmd_bench, "time a training step and an evaluation batch on a random model", 1},
};
#define N_COMMANDS (int)(sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(
        f,
        "ptune - P-Tuning of frozen language models (GPT-2, BERT, LLaMA) on the CPU\n\n"
        "usage: ptune COMMAND [options]    (ptune COMMAND --help, or ptune help COMMAND, for its "
        "options)\n"
        "       ptune --version\n\n"
        "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\nexample:\n"
               "  ptune train --model gpt2/ --train train.jsonl --dev dev.jsonl \\\n"
               "      --template \"[P*3] {sentence} [P*2] It was [MASK]\" \\\n"
               "      --labels \"pos:great,neg:terrible\" --out sentiment.safetensors\n"
               "  ptune eval --model gpt2/ --prompt sentiment.safetensors --data test.jsonl\n");
}

/* Settings the runtimes read only when the program loads, so they are set here
 * and the program started again, once:
 *  - OpenMP threads that spin while waiting burn the cores other work needs; on
 *    a busy machine that made small models 30x slower: a passive wait policy
 *    unless the user chose one;
 *  - OpenBLAS before 0.3.25 mistakes recent x86 CPUs for old ones and runs its
 *    generic kernels (5x slower): the right OPENBLAS_CORETYPE unless the user
 *    set one (PTUNE_OPENBLAS_DETECTED keeps what it had picked, for info --build). */
static void reexec_with_runtime_settings(char **argv) {
    if (getenv("PTUNE_NO_REEXEC")) return;
    int again = 0;
#ifdef _OPENMP
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        again = 1;
    }
#endif
    const char *core = pt_gemm_openblas_better_core();
    if (core) {
        const char *was = pt_gemm_openblas_core();
        setenv("PTUNE_OPENBLAS_DETECTED", was ? was : "?", 1);
        setenv("OPENBLAS_CORETYPE", core, 1);
        again = 1;
    }
    if (!again) return;
    setenv("PTUNE_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the defaults */
}

/* Everything a command printed must have reached standard output: a full
 * disk or a closed pipe is an error, never a silent exit 0. */
static int finish_stdout(const char *cmd, int rc) {
    int err = 0;
    if (fflush(stdout) != 0) err = errno ? errno : EIO;
    if (ferror(stdout) && !err) err = EIO;
    if (fclose(stdout) != 0 && !err) err = errno ? errno : EIO;
    if (!err || rc) return rc; /* a failed command has said why already */
    fprintf(stderr, "ptune%s%s: cannot write standard output: %s\n", cmd ? " " : "", cmd ? cmd : "",
            strerror(err));
    return 1;
}

int main(int argc, char **argv) {
    mark_launch();
    reexec_with_runtime_settings(argv);
    pt_dist_init(&argc, &argv); /* under mpirun (MPI=1 builds): data-parallel ranks */
    blas_guard_main();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    char *help_argv[4];
    if (!strcmp(argv[1], "help") && argc == 3) { /* ptune help CMD = ptune CMD --help */
        help_argv[0] = argv[0], help_argv[1] = argv[2], help_argv[2] = "--help";
        help_argv[3] = NULL;
        argv = help_argv;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return finish_stdout(NULL, 0);
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ptune %s\n", pt_version());
        return finish_stdout(NULL, 0);
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], COMMANDS[i].name)) continue;
        const char *no = blas_guard_refusal();
        int help = argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
        if (no && COMMANDS[i].multiplies && !help) {
            fprintf(stderr, "ptune %s: %s\n", argv[1], no);
            return 1;
        }
        int rc = finish_stdout(argv[1], COMMANDS[i].fn(argc - 2, argv + 2));
        /* a failed rank leaves without MPI_Finalize: mpirun then ends the job */
        if (!rc) pt_dist_finalize();
        return rc;
    }
    fprintf(stderr, "ptune: unknown command '%s' (see ptune --help)\n", argv[1]);
    return 2;
}
