/*
 * ptune.h - public API of libptune: P-Tuning of frozen language models in C.
 *
 * Every function that can fail returns a pt_status; on failure
 * pt_last_error() returns a message naming the file, field or line that was
 * wrong (thread-local, valid until the next failing call on this thread).
 */
#ifndef PTUNE_H
#define PTUNE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pt_status {
    PT_OK = 0,
    PT_ERR_IO = 1,          /* file could not be opened, read or written */
    PT_ERR_FORMAT = 2,      /* a file or string is malformed */
    PT_ERR_NOMEM = 3,       /* allocation failed or a size is absurd */
    PT_ERR_ARG = 4,         /* invalid argument or option */
    PT_ERR_UNSUPPORTED = 5, /* valid but not supported (dtype, architecture) */
    PT_ERR_NUMERIC = 6,     /* NaN or infinity met */
    PT_ERR_MISMATCH = 7,    /* files disagree (config vs tensors, prompt vs model) */
    PT_ERR_INTERRUPTED = 8, /* stopped by a signal */
} pt_status;

/* Message of the last failure on this thread ("" if none). */
const char *pt_last_error(void);
/* Short constant name of a status ("PT_ERR_IO"). */
const char *pt_status_name(pt_status s);

#ifdef __cplusplus
}
#endif
#endif /* PTUNE_H */
