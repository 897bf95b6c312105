/* error.h - setting the thread-local error message behind pt_last_error(). */
#ifndef PT_CORE_ERROR_H
#define PT_CORE_ERROR_H

#include "ptune.h"

#if defined(__GNUC__)
#define PT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PT_PRINTF(a, b)
#endif

/* Record a message and return s, so callers write: return pt_fail(PT_ERR_IO, "..."). */
pt_status pt_fail(pt_status s, const char *fmt, ...) PT_PRINTF(2, 3);
/* Prefix the current message with context: "ctx: old message"; returns s. */
pt_status pt_fail_ctx(pt_status s, const char *fmt, ...) PT_PRINTF(2, 3);
void pt_clear_error(void);

#endif
