/* template.h - P-tuning templates: literal text, {field} inputs, virtual
 * tokens [P] / [P*n] anywhere, and one answer slot [MASK].
 *
 *   "[P*3] {sentence} [P*2] It was [MASK] ."
 *
 * Rendering rules (DESIGN.md section 2):
 *  - literal text and field values between two markers are joined and
 *    tokenized as one piece;
 *  - whitespace at the end of such a piece, just before a marker, belongs to
 *    the marker: dropped before [P]; before [MASK] it means the label word is
 *    tokenized with a leading space (where the tokenizer cares);
 *  - whitespace after a marker stays with the text that follows;
 *  - SentencePiece: the dummy space prefix only on the first text piece;
 *  - family specials: none (GPT-2), [CLS] ... [SEP] (BERT), BOS (LLaMA); the
 *    start token ([CLS], BOS) goes first, or where the template writes [START]
 *    ("[P*8][START]{sentence} [MASK]": the virtual tokens before it, as PEFT
 *    places them); a family without a start token ignores [START];
 *  - causal models: [MASK] must end the template; the answer position is the
 *    last position (the next-token prediction there scores the labels);
 *    masked models: the [MASK] token's position;
 *  - too long: the longest field is truncated from its end (never the
 *    template's own tokens).
 * Literal braces are written "{{" and "}}".
 */
#ifndef PT_PROMPT_TEMPLATE_H
#define PT_PROMPT_TEMPLATE_H

#include "models/model.h"
#include "ptune.h"

typedef enum pt_seg_kind {
    PT_SEG_TEXT,    /* literal text */
    PT_SEG_FIELD,   /* {name} */
    PT_SEG_VIRTUAL, /* [P] or [P*n] */
    PT_SEG_MASK,    /* [MASK] */
    PT_SEG_START,   /* [START]: the family's start token ([CLS], BOS) goes here */
} pt_seg_kind;

typedef struct pt_seg {
    pt_seg_kind kind;
    char *text; /* TEXT: the literal; FIELD: the field name */
    int count;  /* VIRTUAL: number of virtual tokens */
} pt_seg;

typedef struct pt_template {
    char *source;
    pt_seg *segs;
    int n_segs;
    int n_virtual; /* S: total virtual tokens */
    char **fields; /* distinct field names in order of appearance */
    int n_fields;
    int has_start; /* 1: a [START] segment places the start token */
} pt_template;

/* Parse; errors name the column ("template column 12: unclosed '{'"). */
pt_status pt_template_parse(pt_template *t, const char *src);
void pt_template_free(pt_template *t);

/* Check the template fits the model: [MASK] present exactly once, at the end
 * for causal models, the tokenizer has what it needs. */
pt_status pt_template_check(const pt_template *t, const pt_model *m);

/* One example as the model sees it. */
typedef struct pt_rendered {
    int *ids; /* (n) token ids; -1 at virtual-token positions */
    int n;
    int *virt_pos;  /* (S) position of virtual token k (template order) */
    int answer;     /* position whose output scores the labels */
    int mask_space; /* the answer slot had whitespace before it */
    int truncated;  /* tokens removed from fields */
} pt_rendered;

/* Render with field values (values[i] for t->fields[i]; NULL = missing field
 * -> error). max_len: truncate the longest field to fit (0 = model limit). */
pt_status pt_template_render(const pt_template *t, const pt_model *m, const char *const *values,
                             int max_len, pt_rendered *out);
void pt_rendered_free(pt_rendered *r);

/* Token id of a label word as it would appear at the answer slot (with a
 * leading space when mask_space and the tokenizer is space-sensitive). Error,
 * naming the pieces, if it is not exactly one token. */
pt_status pt_label_word_id(const pt_model *m, const char *word, int mask_space, int *id);

#endif
