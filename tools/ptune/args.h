/* args.h - one small table-driven option parser for every subcommand.
 * Options are "--name VALUE" or "--name=VALUE" (flags take no value); an
 * unknown option, "--x" or "-x", is an error; other arguments (and "-", and
 * everything after "--") are positional. --help or -h prints the table.
 * Short forms, where a command has the long option: -m (--model), -t
 * (--threads), -s (--seed), -o (--out), as "-m PATH" or "-mPATH".
 * --config FILE.json (every command): a JSON object whose keys are long
 * option names (without --) and whose values are strings or numbers (true
 * or false for flags; false leaves a flag unset); options given on the
 * command line win; an unknown key or a value of the wrong type is an error
 * naming the key and the file. */
#ifndef PTUNE_ARGS_H
#define PTUNE_ARGS_H

typedef struct opt {
    const char *name;    /* without the leading "--" */
    const char *metavar; /* NULL for a flag */
    const char *help;    /* "testing aid: ..." options are accepted but not listed by --help */
} opt;

typedef struct args {
    const opt *opts;
    int n_opts;
    const char **vals;  /* (n_opts) value, "1" for a set flag, NULL if absent */
    const char *pos[8]; /* positional arguments */
    int n_pos;
    const char *config;  /* --config FILE.json, or NULL */
    char *from_config;   /* (n_opts) 1 where the value came from the --config file */
    int verbosity_given; /* --quiet or --verbose on the command line */
} args;

/* Parse argv[0..argc) (argv[0] is the first argument after the command name).
 * Returns 0 on success, 1 if --help was shown, 2 on a usage error (printed). */
/* -1 after --quiet (standard error: errors only, no warnings or notes), 0, 1
 * after --verbose (also what was loaded, and how long it took). Every command
 * takes both (args_parse adds them where a command does not declare them). */
extern int g_verbosity;

int args_parse(args *a, const opt *opts, int n_opts, int argc, char **argv, const char *cmd,
               const char *usage, const char *about);
void args_free(args *a);

const char *arg_str(const args *a, const char *name, const char *def);
int arg_flag(const args *a, const char *name);
/* 1 when the command declares the option (whether given or not). */
int arg_declared(const args *a, const char *name);
/* Numeric options: on a malformed number print an error and return 0. */
int arg_int(const args *a, const char *name, long def, long lo, long hi, long *out);
int arg_float(const args *a, const char *name, double def, double lo, double hi, double *out);

/* Print "ptune CMD: message" to stderr; returns 1 (exit code for errors). */
int die(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
