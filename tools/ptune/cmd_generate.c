/* cmd_generate.c - ptune generate: text from a causal model (GPT-2, LLaMA)
 * with its key/value cache, optionally P-tuned (a prompt file's virtual
 * tokens spliced in where its template puts them).
 *
 * Layout decoded before the first new token:
 *   plain:       [BOS] + encode(--text)   (BOS = the tokenizer's: LLaMA <s>,
 *                GPT-2 <|endoftext|>, as GPT-2 starts unconditional samples);
 *                the text gets SentencePiece's dummy space prefix
 *   --prompt-file P: the template rendered exactly as in training (its BOS,
 *                text, fields from --field name=value or, for a one-field
 *                template, --text), with the trained table rows at the
 *                virtual positions; generation starts where [MASK] stands.
 * Then up to --max-tokens tokens: greedy at temperature 0, else sampled from
 * softmax(logits / T) (over the --top-k most likely when given) with the
 * --seed. Stops early at EOS. Standard output carries only the text of the
 * new tokens (flushed as they come) and a final newline; special tokens print
 * nothing, and (SentencePiece, as llama2.c) a token right after BOS loses one
 * leading space. Timings and warnings go to standard error.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/rng.h"
#include "core/vec.h"
#include "diagnose.h"
#include "train/prefix.h"

static const opt OPTS[] = {
    {"model", "PATH", "causal model: directory, .safetensors or .gguf (required)"},
    {"text", "T", "text to continue; with --prompt-file, the value of a one-field template"},
    {"prompt-file", "FILE", "P-tuned generation with a prompt file written by ptune train"},
    {"field", "NAME=VALUE", "with --prompt-file: a template field's value (repeatable)"},
    {"max-tokens", "N", "tokens to generate (default 256; fewer at EOS or the context end)"},
    {"temperature", "X", "sampling temperature (default 0.8); 0 = greedy (argmax)"},
    {"top-k", "K", "sample among the K most likely tokens only (default 0 = all)"},
    {"seed", "N", "random seed for sampling (default 42)"},
    {"no-check", NULL,
     "skip the check, made once at load, that every weight of the model is finite"},
    {"ids", NULL, "print the new token ids (space separated) instead of their text"},
    {"threads", "N", "threads (default: all cores)"},
};
#define MAX_FIELDS 64

typedef struct gen {
    pt_model *m;
    pt_prompt p;
    int have_prompt;
    pt_template tmpl;
    int have_tmpl;
    pt_rendered r; /* the layout before the first new token */
    pt_cache *cache;
    float *x;      // (n, C) layout embeddings
    float *h;      // (C)
    float *logits; // (V)
    int *order;    // (V) top-k candidates
    pt_buf out;
} gen;

static void gen_free(gen *g) {
    if (g->cache) pt_cache_free(g->cache);
    pt_afree(g->x);
    pt_afree(g->h);
    pt_afree(g->logits);
    free(g->order);
    pt_buf_free(&g->out);
    pt_rendered_free(&g->r);
    if (g->have_tmpl) pt_template_free(&g->tmpl);
    if (g->have_prompt) pt_prompt_free(&g->p);
    pt_model_free(g->m);
}

/* Plain layout: [BOS] + encode(text). */
static int plain_layout(const char *cmd, gen *g, const char *text) {
    const pt_tokenizer *tok = g->m->tok;
    pt_ivec ids = {0};
    int start = pt_model_start_token(g->m);
    if (start >= 0 && pt_ivec_push(&ids, start)) return die(cmd, "out of memory");
    if (text && *text && pt_tok_encode(tok, text, strlen(text), 0, &ids)) {
        pt_ivec_free(&ids);
        return die(cmd, "--text: %s", pt_last_error());
    }
    if (ids.n == 0) return die(cmd, "%s has no BOS token to start from: give --text", g->m->path);
    g->r.ids = ids.v;
    g->r.n = (int)ids.n;
    g->r.answer = g->r.n - 1;
    return 0;
}

/* P-tuned layout: the prompt file's template rendered with the fields. */
static int prompt_layout(const char *cmd, gen *g, const char *path, const char *text, char **fields,
                         int n_fields) {
    int warn;
    if (pt_prompt_load(&g->p, path)) return die(cmd, "%s", pt_last_error());
    g->have_prompt = 1;
    if (pt_prompt_check_model(&g->p, g->m, &warn)) return die(cmd, "%s: %s", path, pt_last_error());
    if (warn == 1 && g_verbosity >= 0)
        fprintf(stderr, "ptune %s: warning: %s does not say which model it was trained for\n", cmd,
                path);
    if (warn == 2 && g_verbosity >= 0) fprintf(stderr, PT_OLD_FINGERPRINT_NOTE, cmd, path);
    if (pt_template_parse(&g->tmpl, g->p.template_src))
        return die(cmd, "%s: %s", path, pt_last_error());
    g->have_tmpl = 1;
    if (pt_template_check(&g->tmpl, g->m)) return die(cmd, "%s: %s", path, pt_last_error());
    if (g->tmpl.n_virtual != g->p.S)
        return die(cmd, "%s: its template has %d virtual tokens but its table %d rows", path,
                   g->tmpl.n_virtual, g->p.S);
    if (g->p.head == PT_HEAD_LINEAR && g_verbosity >= 0)
        fprintf(stderr,
                "ptune %s: note: %s was trained for a linear head; generating with the "
                "model's own LM head\n",
                cmd, path);
    const char *vals[MAX_FIELDS] = {0};
    if (g->tmpl.n_fields > MAX_FIELDS) return die(cmd, "template has too many fields");
    for (int i = 0; i < n_fields; i++) {
        const char *eq = strchr(fields[i], '=');
        int k = -1;
        for (int j = 0; eq && j < g->tmpl.n_fields; j++)
            if (strlen(g->tmpl.fields[j]) == (size_t)(eq - fields[i]) &&
                !strncmp(g->tmpl.fields[j], fields[i], (size_t)(eq - fields[i])))
                k = j;
        if (!eq) return die(cmd, "--field \"%s\": expected NAME=VALUE", fields[i]);
        if (k < 0)
            return die(cmd, "--field \"%s\": the template \"%s\" has no field \"%.*s\"", fields[i],
                       g->p.template_src, (int)(eq - fields[i]), fields[i]);
        vals[k] = eq + 1;
    }
    if (text) {
        if (g->tmpl.n_fields != 1)
            return die(cmd,
                       "--text fills a one-field template; \"%s\" has %d fields: use "
                       "--field NAME=VALUE",
                       g->p.template_src, g->tmpl.n_fields);
        if (vals[0]) return die(cmd, "both --text and --field give \"%s\"", g->tmpl.fields[0]);
        vals[0] = text;
    }
    for (int j = 0; j < g->tmpl.n_fields; j++)
        if (!vals[j])
            return die(cmd, "the template \"%s\" needs field \"%s\" (--field %s=VALUE%s)",
                       g->p.template_src, g->tmpl.fields[j], g->tmpl.fields[j],
                       g->tmpl.n_fields == 1 ? " or --text" : "");
    if (pt_template_render(&g->tmpl, g->m, vals, 0, &g->r)) return die(cmd, "%s", pt_last_error());
    if (g->r.truncated && g_verbosity >= 0)
        fprintf(stderr,
                "ptune %s: warning: a field was truncated by %d tokens to fit the "
                "model's %d positions\n",
                cmd, g->r.truncated, g->m->cfg.max_pos);
    return 0;
}

/* Greedy (temperature 0: the highest logit, lowest id on ties) or a sample. */
static int pick(gen *g, int V, double temp, int top_k, pt_rng *rng) {
    const float *l = g->logits;
    if (temp <= 0) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (l[i] > l[best]) best = i;
        return best;
    }
    int n = V;
    for (int i = 0; i < V; i++) g->order[i] = i;
    if (top_k > 0 && top_k < V) { /* partial selection sort: the k best, by logit then id */
        for (int k = 0; k < top_k; k++) {
            int b = k;
            for (int i = k + 1; i < V; i++)
                if (l[g->order[i]] > l[g->order[b]] ||
                    (l[g->order[i]] == l[g->order[b]] && g->order[i] < g->order[b]))
                    b = i;
            int t = g->order[k];
            g->order[k] = g->order[b];
            g->order[b] = t;
        }
        n = top_k;
    }
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < n; i++) mx = l[g->order[i]] > mx ? l[g->order[i]] : mx;
    for (int i = 0; i < n; i++) z += exp((l[g->order[i]] - mx) / temp);
    double u = pt_rng_uniform(rng) * z, c = 0;
    for (int i = 0; i < n; i++) {
        c += exp((l[g->order[i]] - mx) / temp);
        if (u < c) return g->order[i];
    }
    return g->order[n - 1];
}

/* Bytes of one generated token as printed (see the file comment). */
static void token_text(const pt_tokenizer *tok, int id, int prev, pt_buf *b) {
    b->n = 0;
    if (tok->kind == PT_TOK_SPM && (id == tok->bos_id || id == tok->eos_id || id == tok->unk_id))
        return;
    if (pt_tok_decode(tok, &id, 1, b) || !b->v) {
        b->n = 0;
        return;
    }
    if (tok->kind == PT_TOK_SPM && prev >= 0 && prev == tok->bos_id && b->n > 0 && b->v[0] == ' ')
        memmove(b->v, b->v + 1, b->n--);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int generate(const char *cmd, gen *g, long max_tokens, double temp, long top_k, long seed,
                    int print_ids) {
    const pt_model *m = g->m;
    int C = m->cfg.dim, V = m->cfg.vocab_size, n = g->r.n, maxT = m->cfg.max_pos;
    int D = g->have_prompt ? g->p.D : 0; /* a deep prompt: its keys/values start the cache */
    if (n + D > maxT)
        return die(cmd,
                   "the prompt is %d tokens (after a deep prompt of %d); the model's "
                   "context is %d",
                   n, D, maxT);
    /* the last new token is never decoded: n + N - 1 positions suffice */
    long want = (long)D + n + (max_tokens > 0 ? max_tokens - 1 : 0);
    int Tmax = want < maxT ? (int)want : maxT;
    g->x = pt_aalloc((size_t)n * C, sizeof(float));
    g->h = pt_aalloc((size_t)C, sizeof(float));
    g->logits = pt_aalloc((size_t)V, sizeof(float));
    g->order = pt_alloc((size_t)V, sizeof(int));
    if (!g->x || !g->h || !g->logits || !g->order) return die(cmd, "out of memory");
    if (pt_layout_embed(m, &g->r, g->have_prompt ? g->p.table : NULL, g->tmpl.n_virtual, 0, n,
                        g->x) ||
        pt_cache_new(m, Tmax, &g->cache) || (D && pt_cache_put(m, g->cache, g->p.deep, D)))
        return die(cmd, "%s", pt_last_error());
    double t0 = now_s();
    if (pt_cache_decode(m, g->cache, g->x, n, g->h)) return die(cmd, "%s", pt_last_error());
    double t1 = now_s();
    pt_rng rng;
    pt_rng_seed(&rng, (uint64_t)seed);
    int prev = g->r.ids[n - 1], made = 0, pos = D + n, eos = 0;
    for (; made < max_tokens; made++) {
        if (pt_model_head_forward(m, NULL, g->logits, g->h, 1, NULL, V))
            return die(cmd, "%s", pt_last_error());
        for (int i = 0; i < V; i++) {
            if (isfinite(g->logits[i])) continue;
            char what[160];
            snprintf(what, sizeof what,
                     "the logits for new token %d are not finite (%g for token id %d)", made + 1,
                     (double)g->logits[i], i);
            if (made) fputc('\n', stdout);
            return die_nonfinite(cmd, m->path, what);
        }
        int id = pick(g, V, temp, (int)top_k, &rng);
        if (id == m->tok->eos_id && id >= 0) {
            eos = 1;
            break;
        }
        if (print_ids) {
            printf("%s%d", made ? " " : "", id);
        } else {
            token_text(m->tok, id, prev, &g->out);
            fwrite(g->out.v ? g->out.v : "", 1, g->out.n, stdout);
        }
        if (fflush(stdout) != 0 || ferror(stdout))
            return die(cmd, "cannot write standard output: %s", strerror(errno));
        prev = id;
        if (made + 1 == max_tokens) {
            made++;
            break;
        }
        if (pos == Tmax) {
            made++;
            if (g_verbosity >= 0)
                fprintf(stderr, "ptune %s: stopped at the model's context length (%d tokens)\n",
                        cmd, maxT);
            break;
        }
        if (pt_model_embed(m, g->x, &id, 1) || pt_cache_decode(m, g->cache, g->x, 1, g->h)) {
            fputc('\n', stdout);
            return die(cmd, "%s", pt_last_error());
        }
        pos++;
    }
    fputc('\n', stdout);
    fflush(stdout);
    double t2 = now_s();
    if (g_verbosity >= 0)
        fprintf(stderr,
                "ptune %s: prompt %d tokens in %.3f s; %d new tokens in %.3f s (%.1f tokens/s)%s\n",
                cmd, n, t1 - t0, made, t2 - t1, made > 0 ? made / (t2 - t1) : 0.0,
                eos ? "; stopped at EOS" : "");
    return 0;
}

int cmd_generate(int argc, char **argv) {
    /* --field may repeat: take every occurrence out before the common parser */
    char **rest = calloc((size_t)argc + 1, sizeof(char *)), *fields[MAX_FIELDS];
    int n_rest = 0, n_fields = 0, rc = 1;
    if (!rest) return die("generate", "out of memory");
    for (int i = 0; i < argc; i++) {
        const char *f = NULL;
        if (!strcmp(argv[i], "--field") && i + 1 < argc)
            f = argv[++i];
        else if (!strncmp(argv[i], "--field=", 8))
            f = argv[i] + 8;
        if (!f) {
            rest[n_rest++] = argv[i];
        } else if (n_fields == MAX_FIELDS) {
            free(rest);
            return die("generate", "more than %d --field options", MAX_FIELDS);
        } else {
            fields[n_fields++] = (char *)f;
        }
    }
    args a;
    int r = args_parse(&a, OPTS, sizeof OPTS / sizeof OPTS[0], n_rest, rest, "generate",
                       "--model M [--text T] [--prompt-file P [--field NAME=VALUE]...] "
                       "[--max-tokens N] [--temperature X] [--top-k K] [--seed N]",
                       "Generate text with a causal model (GPT-2, LLaMA) and its key/value "
                       "cache. Starts from BOS\n(GPT-2: <|endoftext|>) and --text, or from a "
                       "prompt file's template with its trained\nvirtual tokens spliced in "
                       "(P-tuned generation; generation starts at [MASK]).\nGreedy at "
                       "--temperature 0. Standard output carries only the new text.");
    free(rest);
    if (r) return r == 1 ? 0 : 2;
    gen g;
    memset(&g, 0, sizeof g);
    long max_tokens, top_k, seed;
    double temp;
    const char *text = arg_str(&a, "text", NULL), *pf = arg_str(&a, "prompt-file", NULL);
    if (!arg_int(&a, "max-tokens", 256, 0, 1 << 24, &max_tokens) ||
        !arg_float(&a, "temperature", 0.8, 0.0, 1e6, &temp) ||
        !arg_int(&a, "top-k", 0, 0, 1 << 30, &top_k) ||
        !arg_int(&a, "seed", 42, 0, 0x7fffffffffffffffL, &seed) || set_threads("generate", &a))
        goto out;
    if (n_fields && !pf) {
        die("generate", "--field needs --prompt-file");
        goto out;
    }
    if (load_model("generate", &a, &g.m)) goto out;
    if (!g.m->cfg.causal) {
        die("generate", "%s is a %s model: generation needs a causal model (GPT-2, LLaMA)",
            g.m->path, pt_family_name(g.m->cfg.family));
        goto out;
    }
    if (!g.m->tok || !g.m->cfg.has_lm_head) {
        die("generate", "%s: generation needs the model's tokenizer and LM head", g.m->path);
        goto out;
    }
    if (pf ? prompt_layout("generate", &g, pf, text, fields, n_fields)
           : plain_layout("generate", &g, text))
        goto out;
    rc = generate("generate", &g, max_tokens, temp, top_k, seed, arg_flag(&a, "ids"));
out:
    gen_free(&g);
    args_free(&a);
    return rc;
}
