/* main.c - the ptune command-line tool: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "ptune.h"

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: ptune COMMAND [options]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "ptune: unknown command '%s'\n", argv[1]);
    return 2;
}
