/* cpu.c - the CPU's model name and relevant features, from /proc/cpuinfo. */
#include "core/cpu.h"

#include <stdio.h>
#include <string.h>

/* does the space-separated flag list contain flag as a whole word? */
static int has_flag(const char *list, const char *flag) {
    size_t n = strlen(flag);
    for (const char *p = list; (p = strstr(p, flag)); p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == '\t') &&
            (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

void pt_cpu_describe(char *model, size_t nm, char *features, size_t nf) {
    static const char *const want[] = {"avx2",     "fma",         "avx512f",
                                       "avx512bw", "avx512_bf16", "avx512_vnni",
                                       "avx_vnni", "amx_tile",    "amx_bf16"};
    if (nm) snprintf(model, nm, "unknown");
    if (nf) features[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[8192];
    int got_model = 0, got_flags = 0;
    while ((!got_model || !got_flags) && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        const char *val = colon + 1;
        while (*val == ' ') val++;
        if (!got_model && !strncmp(line, "model name", 10)) {
            if (nm) snprintf(model, nm, "%.*s", (int)strcspn(val, "\n"), val);
            got_model = 1;
        } else if (!got_flags && !strncmp(line, "flags", 5)) {
            size_t used = 0;
            for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
                if (!has_flag(val, want[i]) || !nf) continue;
                int k = snprintf(features + used, nf - used, "%s%s", used ? " " : "", want[i]);
                if (k < 0 || (size_t)k >= nf - used) break;
                used += (size_t)k;
            }
            got_flags = 1;
        }
    }
    fclose(f);
}
