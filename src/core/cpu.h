/* cpu.h - what CPU this is, in words, for reports (info --build, bench). */
#ifndef PT_CORE_CPU_H
#define PT_CORE_CPU_H

#include <stddef.h>

/* The CPU's model name (from /proc/cpuinfo; "unknown" elsewhere) into model
 * (n bytes), and into features the instruction sets that matter for ptune's
 * kernels that this CPU has, space separated (avx2 fma avx512f avx512bw
 * avx512_bf16 avx512_vnni avx_vnni amx_tile amx_bf16). */
void pt_cpu_describe(char *model, size_t nm, char *features, size_t nf);

#endif
