/* test_render.c - template layouts for GPT-2, worked out by hand from the
 * rules in template.h: which text is joined, where whitespace goes, where
 * virtual tokens and the answer sit, truncation, and template errors.
 * Expected ids are built from the tokenizer applied to the pieces the rules
 * say the model must see (tests/fixtures/gpt2/tiny has single tokens for
 * " the", " movie", " It", " was", " great", " terrible"). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/model.h"
#include "prompt/task.h"
#include "prompt/template.h"
#include "test.h"

static pt_model *M;

/* ids of text pieces; "P" stands for one virtual token (-1). */
static int expect(int *out, const char *const *pieces, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(pieces[i], "P")) {
            out[k++] = -1;
            continue;
        }
        pt_ivec ids = {0};
        pt_tok_encode(M->tok, pieces[i], strlen(pieces[i]), 0, &ids);
        for (size_t j = 0; j < ids.n; j++) out[k++] = ids.v[j];
        pt_ivec_free(&ids);
    }
    return k;
}

static void check_layout(const char *name, const char *tmpl, const char *const *vals,
                         const char *const *pieces, int np, const int *virt, int nv, int answer,
                         int mask_space) {
    pt_template t;
    pt_rendered r;
    int want[128];
    int n = expect(want, pieces, np);
    CHECK(pt_template_parse(&t, tmpl) == PT_OK, "%s: parse: %s", name, pt_last_error());
    CHECK(pt_template_check(&t, M) == PT_OK, "%s: check: %s", name, pt_last_error());
    CHECK(pt_template_render(&t, M, vals, 0, &r) == PT_OK, "%s: render: %s", name, pt_last_error());
    int ok = r.n == n && !memcmp(r.ids, want, sizeof(int) * n);
    CHECK(ok, "%s: ids differ (got %d tokens, want %d)", name, r.n, n);
    CHECK(t.n_virtual == nv && !memcmp(r.virt_pos, virt, sizeof(int) * nv), "%s: virtual positions", name);
    CHECK(r.answer == answer, "%s: answer %d, want %d", name, r.answer, answer);
    CHECK(r.mask_space == mask_space, "%s: mask_space %d", name, r.mask_space);
    printf("  %-34s %s\n", name, ok && r.answer == answer ? "ok" : "WRONG");
    pt_rendered_free(&r);
    pt_template_free(&t);
}

static void test_layouts(void) {
    {   /* markers at the start, middle and end; space before [P] dropped, before [MASK] kept
         * as the label's leading space */
        const char *v[] = {"the movie"};
        const char *p[] = {"P", "P", " the movie", "P", " It was"};
        int virt[] = {0, 1, 4};
        check_layout("start/middle/end markers", "[P*2] {s} [P] It was [MASK]", v, p, 5, virt, 3, 6, 1);
    }
    {   /* no spaces around markers: text joins directly */
        const char *v[] = {"the movie"};
        const char *p[] = {"P", "the movie", "P", "P", " It was"};
        int virt[] = {0, 3, 4};
        check_layout("tight markers", "[P]{s}[P*2] It was[MASK]", v, p, 5, virt, 3, 5, 0);
    }
    {   /* field with leading and trailing spaces: leading kept (joined with the template's
         * space), trailing ones belong to the next marker */
        const char *v[] = {"  the movie  "};
        const char *p[] = {"P", "   the movie", "P", " It was"};
        int virt[] = {0, 3};
        (void)virt;
        pt_template t;
        pt_rendered r;
        int want[64];
        int n = expect(want, p, 4);
        pt_template_parse(&t, "[P] {s} [P] It was [MASK]");
        CHECK(pt_template_render(&t, M, v, 0, &r) == PT_OK, "render");
        CHECK(r.n == n && !memcmp(r.ids, want, sizeof(int) * n), "field spaces: ids differ");
        CHECK(r.virt_pos[1] == n - 3, "field spaces: second virtual at %d", r.virt_pos[1]);
        printf("  %-34s %s\n", "field with outer spaces", r.n == n ? "ok" : "WRONG");
        pt_rendered_free(&r);
        pt_template_free(&t);
    }
    {   /* a field value that ends in a space right before [MASK]: the space belongs to the
         * answer slot */
        const char *v[] = {"the movie was "};
        const char *p[] = {"P", "the movie was"};
        int virt[] = {0};
        check_layout("field's space before [MASK]", "[P]{s}[MASK]", v, p, 2, virt, 1, 3, 1);
    }
    {   /* two fields in one text run, several groups, literal braces */
        const char *v[] = {"the cat", "the dog"};
        const char *p[] = {"P", "P", "P", " the cat and the dog", "P", " {x} is"};
        int virt[] = {0, 1, 2, 6};
        check_layout("two fields, braces", "[P*3] {a} and {b} [P] {{x}} is [MASK]", v, p, 6, virt, 4, 10, 1);
    }
}

static void test_label_words(void) {
    int id_sp, id_nosp;
    CHECK(pt_label_word_id(M, "great", 1, &id_sp) == PT_OK, "label ' great'");
    pt_ivec ids = {0};
    pt_tok_encode(M->tok, " great", 6, 0, &ids);
    CHECK(ids.n == 1 && ids.v[0] == id_sp, "label word with space is the token of \" great\"");
    pt_ivec_free(&ids);
    pt_status s = pt_label_word_id(M, "great", 0, &id_nosp);
    printf("  label without space: %s\n", s ? pt_last_error() : "single token");
    CHECK(s != PT_OK && strstr(pt_last_error(), "tokens"), "\"great\" without space is several tokens here");
    s = pt_label_word_id(M, "wonderful", 1, &id_nosp);
    printf("  multi-token label: %s\n", pt_last_error());
    CHECK(s == PT_ERR_ARG && strstr(pt_last_error(), "wonderful"), "multi-token label named");
}

static void test_truncation(void) {
    pt_template t;
    pt_rendered r;
    pt_template_parse(&t, "[P*2] {a} [P] {b} It was [MASK]");
    const char *v[] = {"the movie the movie the movie the movie", "the cat"};
    CHECK(pt_template_render(&t, M, v, 10, &r) == PT_OK, "truncate: %s", pt_last_error());
    /* template tokens: 3 virtual + " It" " was" = 5; fields get 5: b keeps " the cat" (2),
     * a (8 tokens, the longest) is cut to 3 */
    const char *p[] = {"P", "P", " the movie the", "P", " the cat It was"};
    int want[32], n = expect(want, p, 5);
    CHECK(r.n == 10 && n == 10 && !memcmp(r.ids, want, sizeof(int) * 10), "truncated layout (n=%d)", r.n);
    CHECK(r.truncated == 5, "truncated %d tokens, want 5", r.truncated);
    printf("  truncation to 10 tokens: %d tokens removed from the longest field\n", r.truncated);
    pt_rendered_free(&r);
    /* the template's own tokens never go: too small a limit is an error */
    pt_status s = pt_template_render(&t, M, v, 4, &r);
    printf("  limit below the template's own tokens: %s\n", pt_last_error());
    CHECK(s != PT_OK, "limit below template size accepted");
    pt_template_free(&t);
}

static void test_errors(void) {
    pt_template t;
    struct {
        const char *tmpl, *needle;
    } bad[] = {
        {"{s} It was", "no [MASK]"},
        {"{s} [MASK] [MASK]", "more than one"},
        {"{s [MASK]", "unclosed"},
        {"{} [MASK]", "bad field name"},
        {"[P*0] {s} [MASK]", "virtual-token"},
        {"[P*99999] {s} [MASK]", "virtual-token"},
        {"} [MASK]", "unmatched"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_status s = pt_template_parse(&t, bad[i].tmpl);
        printf("  %-24s -> %s\n", bad[i].tmpl, pt_last_error());
        CHECK(s == PT_ERR_FORMAT && strstr(pt_last_error(), bad[i].needle), "template %s", bad[i].tmpl);
    }
    CHECK(pt_template_parse(&t, "[MASK] {s}") == PT_OK, "parse");
    pt_status s = pt_template_check(&t, M);
    printf("  %-24s -> %s\n", "[MASK] {s} (causal)", pt_last_error());
    CHECK(s == PT_ERR_FORMAT && strstr(pt_last_error(), "must end"), "[MASK] not last for GPT-2");
    pt_template_free(&t);
}

int main(void) {
    if (pt_model_load(&M, "tests/fixtures/gpt2/tiny")) {
        fprintf(stderr, "%s\n", pt_last_error());
        return 1;
    }
    test_layouts();
    test_label_words();
    test_truncation();
    test_errors();
    pt_model_free(M);
    return t_done();
}
