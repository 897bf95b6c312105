/* args.c - the option parser (see args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/io.h"
#include "formats/json.h"

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
    printf("  %-24s %s\n", "--config FILE.json",
           "read options from a JSON object, keys the long options without --: "
           "{\"lr\": 0.03, \"knowledge\": true, \"out\": \"p.safetensors\"} (values "
           "string or number; true/false for flags); options on the command line win");
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

/* The JSON documents of --config files: their strings are option values
 * until the process ends (a resumed run's table shares them), so they are
 * kept here, reachable, and freed at exit. */
static pt_json_doc g_config_docs[4];
static int g_n_config_docs;

static void free_config_docs(void) {
    for (int i = 0; i < g_n_config_docs; i++) pt_json_doc_free(&g_config_docs[i]);
    g_n_config_docs = 0;
}

static const char *json_type_name(const pt_json *v) {
    switch (v->type) {
    case PT_JSON_NULL:
        return "null";
    case PT_JSON_BOOL:
        return v->boolean ? "true" : "false";
    case PT_JSON_NUMBER:
        return "a number";
    case PT_JSON_STRING:
        return "a string";
    case PT_JSON_ARRAY:
        return "an array";
    default:
        return "an object";
    }
}

/* --config FILE: each key an option (the long name without --), set unless
 * the command line set it; unknown keys and wrong types are errors naming
 * the key and the file. Returns 0, or 2 after printing the error. */
static int apply_config(args *a, const char *path, const char *cmd) {
    char *text;
    size_t len;
    if (pt_read_file(path, &text, &len)) return die(cmd, "--config: %s", pt_last_error()) + 1;
    if (g_n_config_docs == (int)(sizeof g_config_docs / sizeof g_config_docs[0])) {
        free(text);
        return die(cmd, "--config %s: too many configuration files", path) + 1;
    }
    pt_json_doc *doc = &g_config_docs[g_n_config_docs];
    pt_status st = pt_json_parse(doc, text, len);
    free(text);
    if (st) return die(cmd, "--config %s: %s", path, pt_last_error()) + 1;
    if (g_n_config_docs++ == 0) atexit(free_config_docs);
    const pt_json *root = doc->root;
    if (root->type != PT_JSON_OBJECT)
        return die(cmd, "--config %s: expected a JSON object of options, not %s", path,
                   json_type_name(root)) +
               1;
    for (size_t i = 0; i < root->len; i++) {
        const char *key = root->keys[i];
        const pt_json *v = root->items[i];
        int k = -1;
        for (int j = 0; j < a->n_opts; j++)
            if (!strcmp(a->opts[j].name, key)) k = j;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(root->keys[j], key))
                return die(cmd, "--config %s: key \"%s\" is given twice", path, key) + 1;
        int universal = k < 0 && (!strcmp(key, "quiet") || !strcmp(key, "verbose"));
        if (k < 0 && !universal)
            return die(cmd,
                       "--config %s: unknown key \"%s\" (not an option of ptune %s; keys are "
                       "the long options without --, see ptune %s --help)",
                       path, key, cmd, cmd) +
                   1;
        int flag = universal || !a->opts[k].metavar;
        if (flag && v->type != PT_JSON_BOOL)
            return die(cmd, "--config %s: key \"%s\": expected true or false (a flag), not %s",
                       path, key, json_type_name(v)) +
                   1;
        if (!flag && v->type != PT_JSON_STRING && v->type != PT_JSON_NUMBER)
            return die(cmd, "--config %s: key \"%s\": expected a string or a number (%s), not %s",
                       path, key, a->opts[k].metavar, json_type_name(v)) +
                   1;
        if (!flag && v->type == PT_JSON_STRING && strlen(v->str) != v->len)
            return die(cmd, "--config %s: key \"%s\": the string holds a NUL character", path,
                       key) +
                   1;
        if (universal) {
            if (v->boolean && !a->verbosity_given) g_verbosity = key[0] == 'q' ? -1 : 1;
            continue;
        }
        if (a->vals[k]) continue; /* the command line wins */
        if (flag)
            a->vals[k] = v->boolean ? "1" : NULL;
        else
            a->vals[k] = v->type == PT_JSON_STRING ? v->str : v->num_text;
        if (a->vals[k]) a->from_config[k] = 1;
    }
    return 0;
}

static int parse(args *a, const opt *opts, int n_opts, int argc, char **argv, const char *cmd,
                 const char *usage, const char *about) {
    memset(a, 0, sizeof *a);
    a->opts = opts;
    a->n_opts = n_opts;
    a->vals = calloc((size_t)n_opts + 1, sizeof(char *));
    a->from_config = calloc((size_t)n_opts + 1, 1);
    if (!a->vals || !a->from_config) return die(cmd, "out of memory") + 1;
    int only_pos = 0;
    const char *config = NULL;
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
            a->verbosity_given = 1;
            continue;
        }
        if (k < 0 && len == 6 && !strncmp(name, "config", 6)) { /* every command's */
            if (config) return die(cmd, "--config may be given once") + 1;
            if (eq) {
                config = eq + 1;
            } else if (i + 1 < argc) {
                config = argv[++i];
            } else {
                die(cmd, "option --config needs a value (FILE.json)");
                return 2;
            }
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
    if (config) {
        a->config = config;
        int r = apply_config(a, config, cmd);
        if (r) return r;
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
    free(a->from_config);
    a->vals = NULL;
    a->from_config = NULL;
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
