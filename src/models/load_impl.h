/* load_impl.h - what the two loaders (load_hf.c, load_gguf.c) share with
 * model.c. Internal to src/models. */
#ifndef PT_MODELS_LOAD_IMPL_H
#define PT_MODELS_LOAD_IMPL_H

#include "formats/json.h"
#include "models/family.h"

enum { PT_FILE_ST = 1, PT_FILE_GGUF = 2 };

/* A zeroed model of family fam with config c and L empty layers. */
pt_status pt_model_alloc(pt_model **out, const char *path, const pt_family_desc *fam,
                         const pt_model_config *c);
/* The model takes the n open files (pt_st_file * or pt_gguf *, heap
 * allocated): all of them, or none on failure. */
pt_status pt_model_keep_files(pt_model *m, void **files, int n, int kind);
/* After the tensors: the LM head's pieces all present (or all absent: no
 * head), and an output matrix that repeats the embeddings dropped (tied). */
pt_status pt_model_check_head(pt_model *m, int missing_head, const char *src);
/* The tokenizer of a Hugging Face directory if it has tokenizer files (a
 * broken file is an error naming it); m->tok stays NULL without any. */
pt_status pt_model_load_dir_tokenizer(pt_model *m, const char *dir);
/* The family of a directory's config.json (doc keeps the parsed file). */
pt_status pt_hf_family(const char *dir, const pt_family_desc **fam, pt_json_doc *doc);

pt_status pt_load_hf(pt_model **out, const char *path);
pt_status pt_load_gguf(pt_model **out, const char *path);

#endif
