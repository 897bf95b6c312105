/* version.c - pt_version (include/ptune.h). */
#include "ptune.h"

const char *pt_version(void) {
    return PTUNE_VERSION_STRING;
}
