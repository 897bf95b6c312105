/* cmd_tokenize.c - ptune tokenize: text to token ids and back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "core/io.h"
#include "core/vec.h"
#include "formats/json.h"
#include "models/model.h"

static const opt OPTS[] = {
    {"model", "PATH", "model directory, .safetensors or .gguf file (required)"},
    {"json", NULL, "print a JSON list instead of space-separated values"},
    {"pieces", NULL, "print the token strings instead of ids"},
    {"decode", NULL, "ids in (TEXT or standard input), text out"},
    {"special", NULL, "add the family's special tokens (BERT [CLS]/[SEP], LLaMA BOS; GPT-2 none)"},
};

static pt_status read_stdin(pt_buf *b) {
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        pt_status s = pt_buf_append(b, chunk, n);
        if (s) return s;
    }
    if (ferror(stdin)) return pt_fail(PT_ERR_IO, "error reading standard input");
    return pt_buf_append(b, "", 0);
}

/* Ids from text: separated by spaces, commas, newlines; brackets ignored. */
static int parse_ids(const char *s, pt_ivec *ids, int vocab) {
    while (*s) {
        if (strchr(" \t\r\n,[]", *s)) {
            s++;
            continue;
        }
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v >= vocab) {
            fprintf(stderr, "ptune tokenize: bad token id near \"%.20s\" (ids are 0..%d)\n", s,
                    vocab - 1);
            return 0;
        }
        pt_ivec_push(ids, (int)v);
        s = end;
    }
    return 1;
}

int cmd_tokenize(int argc, char **argv) {
    args a;
    int r = args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], argc, argv, "tokenize",
                       "--model PATH [TEXT | -]",
                       "Print the token ids of TEXT (or of standard input, read byte for byte, "
                       "when TEXT is\nabsent or '-'). Nothing is added or stripped unless "
                       "--special asks for the family's\nspecial tokens.");
    if (r) return r == 1 ? 0 : 2;
    int rc = 1;
    pt_tokenizer *tok = NULL;
    pt_family fam;
    pt_buf text = {0}, out = {0};
    pt_ivec ids = {0};
    const char *model = arg_str(&a, "model", NULL);
    if (!model) {
        rc = die("tokenize", "--model is required (see ptune tokenize --help)") + 1;
        goto done;
    }
    if (pt_model_load_tokenizer(model, &tok, &fam)) {
        die("tokenize", "%s", pt_last_error());
        goto done;
    }
    if (a.n_pos > 1) {
        rc = die("tokenize", "give one TEXT argument (quote it)") + 1;
        goto done;
    }
    if (a.n_pos == 1 && strcmp(a.pos[0], "-"))
        pt_buf_puts(&text, a.pos[0]);
    else if (read_stdin(&text)) {
        die("tokenize", "%s", pt_last_error());
        goto done;
    }
    if (arg_flag(&a, "decode")) {
        if (!parse_ids(text.v ? text.v : "", &ids, tok->vocab_size)) goto done;
        if (pt_tok_decode(tok, ids.v, ids.n, &out)) {
            die("tokenize", "%s", pt_last_error());
            goto done;
        }
        fwrite(out.v ? out.v : "", 1, out.n, stdout);
        rc = 0;
        goto done;
    }
    int special = arg_flag(&a, "special");
    int sp_begin = -1, sp_end = -1;
    if (special) pt_family_specials(fam, tok, &sp_begin, &sp_end);
    if (sp_begin >= 0) pt_ivec_push(&ids, sp_begin);
    if (pt_tok_encode(tok, text.v ? text.v : "", text.n, 0, &ids)) {
        die("tokenize", "%s", pt_last_error());
        goto done;
    }
    if (sp_end >= 0) pt_ivec_push(&ids, sp_end);
    int json = arg_flag(&a, "json"), pieces = arg_flag(&a, "pieces");
    if (json) pt_buf_puts(&out, "[");
    for (size_t i = 0; i < ids.n; i++) {
        if (i) pt_buf_puts(&out, json ? "," : " ");
        if (pieces) {
            const char *p = pt_tok_piece(tok, ids.v[i]);
            if (json)
                pt_json_write_string(&out, p, strlen(p));
            else
                pt_buf_puts(&out, p);
        } else {
            pt_buf_printf(&out, "%d", ids.v[i]);
        }
    }
    pt_buf_puts(&out, json ? "]\n" : "\n");
    fwrite(out.v, 1, out.n, stdout);
    rc = 0;
done:
    pt_tok_free(tok);
    pt_buf_free(&text);
    pt_buf_free(&out);
    pt_ivec_free(&ids);
    args_free(&a);
    return rc;
}
