/* commands.h - the subcommands of the ptune tool. Each returns the exit code. */
#ifndef PTUNE_COMMANDS_H
#define PTUNE_COMMANDS_H

int cmd_tokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

#endif
