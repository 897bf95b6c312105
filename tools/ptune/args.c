/* args.c - the option parser (see args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* The short forms, for whichever of these long options a command has. */
static const struct {
    char c;
    const char *name;
} SHORTS[] = {{'m', "model"}, {'t', "threads"}, {'s', "seed"}, {'o', "out"}};

static char short_of(const char *name) {
    for (size_t i = 0; i < sizeof SHORTS / sizeof SHORTS[0]; i++)
        if (!strcmp(SHORTS[i].name, name)) return SHORTS[i].c;
    return 0;
}

int g_verbosity = 0;

static void print_help(const opt *opts, int n, const char *cmd, const char *usage,
                       const char *about) {
    printf("usage: ptune %s %s\n\n%s\n\noptions:\n", cmd, usage, about);
    for (int i = 0; i < n; i++) {
        char left[64], sh[8] = "";
        if (!strncmp(opts[i].help, "testing aid:", 12)) continue; /* accepted, not shown */
        char c = short_of(opts[i].name);
        if (c) snprintf(sh, sizeof sh, "-%c, ", c);
        snprintf(left, sizeof left, "%s--%s%s%s", sh, opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        printf("  %-24s %s\n", left, opts[i].help);
    }
    int has_quiet = 0, has_verbose = 0;
    for (int i = 0; i < n; i++) {
        has_quiet |= !strcmp(opts[i].name, "quiet");
        has_verbose |= !strcmp(opts[i].name, "verbose");
    }
    if (!has_quiet)
        printf("  %-24s %s\n", "--quiet", "only errors on standard error (no warnings or notes)");
    if (!has_verbose)
        printf("  %-24s %s\n", "--verbose", "also say what was loaded and how long it took");
    printf("  %-24s %s\n", "-h, --help", "show this help");
}

int die(const char *cmd, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ptune %s: %s\n", cmd, msg);
    /* kept as the last error: a data-parallel run's ranks agree on it (dist_agree) */
    pt_fail(PT_ERR_ARG, "%s", msg);
    return 1;
}

static int parse(args *a, const opt *opts, int n_opts, int argc, char **argv, const char *cmd,
                 const char *usage, const char *about) {
    memset(a, 0, sizeof *a);
    a->opts = opts;
    a->n_opts = n_opts;
    a->vals = calloc((size_t)n_opts + 1, sizeof(char *));
    if (!a->vals) return die(cmd, "out of memory") + 1;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (only_pos || s[0] != '-' || !strcmp(s, "-")) {
            if (a->n_pos == 8) return die(cmd, "too many arguments") + 1;
            a->pos[a->n_pos++] = s;
            continue;
        }
        if (s[1] != '-') { /* a single dash: -h, a short form (-m PATH, -mPATH), or a mistake */
            if (!strcmp(s, "-h")) {
                print_help(opts, n_opts, cmd, usage, about);
                return 1;
            }
            int k = -1;
            for (int j = 0; j < n_opts && s[1]; j++)
                if (short_of(opts[j].name) == s[1]) k = j;
            if (k >= 0 && opts[k].metavar) {
                if (s[2]) {
                    a->vals[k] = s + 2;
                } else if (i + 1 < argc) {
                    a->vals[k] = argv[++i];
                } else {
                    die(cmd, "option -%c (--%s) needs a value (%s)", s[1], opts[k].name,
                        opts[k].metavar);
                    return 2;
                }
                continue;
            }
            die(cmd,
                "unknown option '%s' (options are --name; see ptune %s --help; put -- before "
                "an argument that starts with -)",
                s, cmd);
            return 2;
        }
        if (!strcmp(s, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(s, "--help")) {
            print_help(opts, n_opts, cmd, usage, about);
            return 1;
        }
        const char *name = s + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = -1;
        for (int j = 0; j < n_opts; j++)
            if (strlen(opts[j].name) == len && !strncmp(opts[j].name, name, len)) k = j;
        if (k < 0 && !eq && (!strcmp(name, "quiet") || !strcmp(name, "verbose"))) {
            g_verbosity = name[0] == 'q' ? -1 : 1; /* every command's */
            continue;
        }
        if (k < 0) {
            die(cmd, "unknown option '--%.*s' (see ptune %s --help)", (int)len, name, cmd);
            return 2;
        }
        if (!opts[k].metavar) {
            if (eq) return die(cmd, "option --%s takes no value", opts[k].name) + 1;
            a->vals[k] = "1";
        } else if (eq) {
            a->vals[k] = eq + 1;
        } else {
            if (i + 1 >= argc) {
                die(cmd, "option --%s needs a value (%s)", opts[k].name, opts[k].metavar);
                return 2;
            }
            a->vals[k] = argv[++i];
        }
    }
    for (int j = 0; j < n_opts; j++)
        if (a->vals[j] && !strcmp(opts[j].name, "quiet")) g_verbosity = -1;
    return 0;
}

int args_parse(args *a, const opt *opts, int n_opts, int argc, char **argv, const char *cmd,
               const char *usage, const char *about) {
    int r = parse(a, opts, n_opts, argc, argv, cmd, usage, about);
    if (r) args_free(a); /* --help or an error: the caller stops here */
    return r;
}

void args_free(args *a) {
    free(a->vals);
    a->vals = NULL;
}

static int find(const args *a, const char *name) {
    for (int i = 0; i < a->n_opts; i++)
        if (!strcmp(a->opts[i].name, name)) return i;
    fprintf(stderr, "internal error: option --%s not declared\n", name);
    abort();
}

const char *arg_str(const args *a, const char *name, const char *def) {
    const char *v = a->vals[find(a, name)];
    return v ? v : def;
}

int arg_declared(const args *a, const char *name) {
    for (int i = 0; i < a->n_opts; i++)
        if (!strcmp(a->opts[i].name, name)) return 1;
    return 0;
}

int arg_flag(const args *a, const char *name) {
    return a->vals[find(a, name)] != NULL;
}

int arg_int(const args *a, const char *name, long def, long lo, long hi, long *out) {
    const char *v = a->vals[find(a, name)];
    if (!v) {
        *out = def;
        return 1;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "ptune: --%s %s: expected an integer from %ld to %ld\n", name, v, lo, hi);
        return 0;
    }
    *out = x;
    return 1;
}

int arg_float(const args *a, const char *name, double def, double lo, double hi, double *out) {
    const char *v = a->vals[find(a, name)];
    if (!v) {
        *out = def;
        return 1;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi) {
        fprintf(stderr, "ptune: --%s %s: expected a number from %g to %g\n", name, v, lo, hi);
        return 0;
    }
    *out = x;
    return 1;
}
