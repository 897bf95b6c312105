/* error.c - thread-local error messages. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PT_ERRMSG_MAX 1024

static _Thread_local char g_errmsg[PT_ERRMSG_MAX];

const char *pt_last_error(void) {
    return g_errmsg;
}

void pt_clear_error(void) {
    g_errmsg[0] = '\0';
}

pt_status pt_fail(pt_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    return s;
}

pt_status pt_fail_ctx(pt_status s, const char *fmt, ...) {
    char old[PT_ERRMSG_MAX];
    memcpy(old, g_errmsg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n + 2 < sizeof g_errmsg) {
        size_t k = (size_t)n;
        g_errmsg[k++] = ':';
        g_errmsg[k++] = ' ';
        size_t room = sizeof g_errmsg - k - 1, ol = strlen(old);
        if (ol > room) ol = room;
        memcpy(g_errmsg + k, old, ol);
        g_errmsg[k + ol] = '\0';
    }
    return s;
}

const char *pt_status_name(pt_status s) {
    switch (s) {
    case PT_OK:
        return "PT_OK";
    case PT_ERR_IO:
        return "PT_ERR_IO";
    case PT_ERR_FORMAT:
        return "PT_ERR_FORMAT";
    case PT_ERR_NOMEM:
        return "PT_ERR_NOMEM";
    case PT_ERR_ARG:
        return "PT_ERR_ARG";
    case PT_ERR_UNSUPPORTED:
        return "PT_ERR_UNSUPPORTED";
    case PT_ERR_NUMERIC:
        return "PT_ERR_NUMERIC";
    case PT_ERR_MISMATCH:
        return "PT_ERR_MISMATCH";
    case PT_ERR_INTERRUPTED:
        return "PT_ERR_INTERRUPTED";
    }
    return "PT_ERR_UNKNOWN";
}
