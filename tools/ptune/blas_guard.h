/* blas_guard.h - ptune never hangs under a memory limit because of OpenBLAS.
 *
 * Debian 12's OpenBLAS 0.3.21 maps a 128 MiB buffer per thread when it loads
 * and more on the first products; when the address-space or data limit
 * (ulimit -v / -d) refuses such a mapping it spins forever at 100% CPU and
 * ignores SIGTERM (fixed upstream later) - even for "ptune --help", because
 * that happens in its constructor, before main. So, in OpenBLAS builds and
 * only under such a limit, a function in the executable's .preinit_array
 * (run before every library constructor) compares the limit with what
 * OpenBLAS will map: it lowers the thread count (OMP_NUM_THREADS) to what
 * fits, or, when not even one thread fits, stops with one line saying what
 * to do. A watchdog alarm turns a hang it did not foresee into that line. */
#ifndef PTUNE_BLAS_GUARD_H
#define PTUNE_BLAS_GUARD_H

/* Called first in main (after the one re-exec): stops the watchdog and, under
 * a limit, has OpenBLAS map the buffers of every thread now, before ptune's
 * own memory can take their room (then a later shortage is a clean "out of
 * memory", never a hang). */
void blas_guard_main(void);
/* Threads the limit leaves room for (0: no limit applies). */
int blas_guard_threads(void);
/* Non-NULL when the limit leaves OpenBLAS room to load but not to multiply:
 * the message for the commands that multiply (train, eval, predict,
 * generate, bench). */
const char *blas_guard_refusal(void);

#endif
