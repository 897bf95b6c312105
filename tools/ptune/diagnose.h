/* diagnose.h - after a non-finite result: which tensor of the model's
 * weights file holds the first NaN or inf. */
#ifndef PTUNE_DIAGNOSE_H
#define PTUNE_DIAGNOSE_H

#include <stddef.h>

/* Scan the weights file of the model at model_path (a directory's
 * model.safetensors, a .safetensors or .gguf file) in file order; when a
 * float tensor holds a value that is not finite, write "NAME[i] = nan in
 * FILE" to out and return 1; 0 when every value is finite (or the file
 * cannot be read: this is a diagnosis, not a check). */
int first_nonfinite_weight(const char *model_path, char *out, size_t cap);

/* Print "ptune CMD: what" to stderr, followed by the first non-finite weight
 * of the model when there is one; returns 1. */
int die_nonfinite(const char *cmd, const char *model_path, const char *what);

#endif
