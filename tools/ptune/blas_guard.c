/* blas_guard.c - see blas_guard.h. The preinit function runs before the C
 * library has set up environ (getenv and setenv do not work yet): it reads
 * the environment from its envp argument and, to change OMP_NUM_THREADS
 * before OpenMP and OpenBLAS read it, executes the program again at once
 * with the new environment. */
#include "blas_guard.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS's symbols, resolved only in builds that link it */
extern int openblas_get_num_procs(void) __attribute__((weak));
extern void *blas_memory_alloc(int procpos) __attribute__((weak));
extern void blas_memory_free(void *buffer) __attribute__((weak));

#define MIB (1024.0 * 1024.0)
#define BLAS_BUFFER (128 * MIB) /* OpenBLAS 0.3.21 x86-64 BUFFER_SIZE (32 << 22) */
#define MARGIN (32 * MIB)       /* the rest of a small run */
#define WATCHDOG_S 20

static int g_active, g_threads;
static char g_refusal[512];
static char g_alarm_msg[512];

static void put(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t k = write(2, s, n);
        if (k <= 0) return;
        s += k, n -= (size_t)k;
    }
}

static void on_alarm(int sig) {
    (void)sig;
    put(g_alarm_msg);
    _exit(1);
}

/* Field k (0-based) of /proc/self/statm, in bytes; -1 if unreadable. */
static double statm_bytes(int k) {
    char b[256];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return -1;
    b[n] = '\0';
    char *p = b;
    for (int i = 0; i < k; i++) {
        p = strchr(p, ' ');
        if (!p) return -1;
        p++;
    }
    return strtod(p, NULL) * (double)sysconf(_SC_PAGESIZE);
}

/* Room left under one limit (resource r, usage now), or -1 when unlimited. */
static double room(int r, double used) {
    struct rlimit rl;
    if (getrlimit(r, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return -1;
    return (double)rl.rlim_cur - (used > 0 ? used : 0);
}

static const char *env_get(char **envp, const char *name) {
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static int threads_wanted(char **envp, int ncpu) {
    const char *e = env_get(envp, "OMP_NUM_THREADS");
    int n = e ? atoi(e) : 0; /* "4" or "4,2": the first level */
    return n > 0 ? n : ncpu;
}

/* execve ourselves with OMP_NUM_THREADS=t; returns only if that failed */
static void reexec_with_threads(char **argv, char **envp, int t) {
    static char entry[48];
    snprintf(entry, sizeof entry, "OMP_NUM_THREADS=%d", t);
    size_t n = 0;
    while (envp && envp[n]) n++;
    char **ne = calloc(n + 2, sizeof(char *));
    if (!ne) return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], "OMP_NUM_THREADS=", 16)) ne[k++] = envp[i];
    ne[k++] = entry;
    ne[k] = NULL;
    execve("/proc/self/exe", argv, ne);
    free(ne);
}

static void preinit(int argc, char **argv, char **envp) {
    (void)argc;
    if (!openblas_get_num_procs) return; /* not an OpenBLAS build */
    double as = room(RLIMIT_AS, statm_bytes(0)), data = room(RLIMIT_DATA, statm_bytes(5));
    if (as < 0 && data < 0) return;
    const char *which = as >= 0 && (data < 0 || as <= data) ? "address-space limit (ulimit -v)"
                                                            : "data limit (ulimit -d)";
    double left = as < 0 ? data : data < 0 ? as : as < data ? as : data;
    cpu_set_t cs;
    int ncpu = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : 1;
    if (ncpu < 1) ncpu = 1;
    struct rlimit st;
    double stack = getrlimit(RLIMIT_STACK, &st) == 0 && st.rlim_cur != RLIM_INFINITY
                       ? (double)st.rlim_cur
                       : 8 * MIB;
    int want = threads_wanted(envp, ncpu), t = want;
    /* loading maps one buffer per thread (at most one per CPU); the products
     * take one more per thread, which also needs its stack */
    for (; t >= 1; t--) {
        double need = ((t < ncpu ? t : ncpu) + t) * BLAS_BUFFER + (t - 1) * stack + MARGIN;
        if (need <= left) break;
    }
    char line[512];
    int fits_load = BLAS_BUFFER + 8 * MIB <= left;
    if (t < 1 && !fits_load) {
        snprintf(line, sizeof line,
                 "ptune: the %s leaves %.0f MiB, but this build's OpenBLAS needs about %.0f "
                 "MiB to start and hangs when it cannot have them (a bug of OpenBLAS 0.3.21); "
                 "raise the limit, or build ptune with `make GEMM=builtin`\n",
                 which, left / MIB, (BLAS_BUFFER + 8 * MIB) / MIB);
        put(line);
        _exit(1);
    }
    int refuse = t < 1;
    if (refuse) t = 1;
    if (t != want || !env_get(envp, "OMP_NUM_THREADS")) {
        if (t < want && !refuse) {
            snprintf(line, sizeof line,
                     "ptune: note: the %s leaves room for the buffers of %d OpenBLAS thread%s, "
                     "not %d: using %d\n",
                     which, t, t > 1 ? "s" : "", want, t);
            put(line);
        }
        reexec_with_threads(argv, envp, t);
    }
    g_active = 1;
    g_threads = t;
    if (refuse)
        snprintf(g_refusal, sizeof g_refusal,
                 "the %s leaves %.0f MiB, but this build's OpenBLAS needs about %.0f MiB "
                 "for one thread and hangs when it cannot have them (a bug of OpenBLAS "
                 "0.3.21); raise the limit, or build ptune with `make GEMM=builtin`",
                 which, left / MIB, (2 * BLAS_BUFFER + MARGIN) / MIB);
    snprintf(g_alarm_msg, sizeof g_alarm_msg,
             "ptune: OpenBLAS did not start within %d s under the %s: it spins when it "
             "cannot map its buffers (a bug of OpenBLAS 0.3.21); raise the limit, or build "
             "ptune with `make GEMM=builtin`\n",
             WATCHDOG_S, which);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(WATCHDOG_S);
}

__attribute__((section(".preinit_array"),
               used)) static void (*const blas_guard_preinit)(int, char **, char **) = preinit;

void blas_guard_main(void) {
    if (!g_active) return;
    alarm(0);
    if (g_refusal[0] || !blas_memory_alloc || !blas_memory_free) return;
    alarm(WATCHDOG_S);
#ifdef _OPENMP
#pragma omp parallel num_threads(g_threads)
#endif
    {
        void *b = blas_memory_alloc(0);
#ifdef _OPENMP
#pragma omp barrier
#endif
        if (b) blas_memory_free(b);
    }
    alarm(0);
}

int blas_guard_threads(void) {
    return g_active ? g_threads : 0;
}

const char *blas_guard_refusal(void) {
    return g_refusal[0] ? g_refusal : NULL;
}
