/* dist.c - data-parallel training across processes (see dist.h). */
#include "train/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

static double g_sum_s;
static long g_sum_calls;

double pt_dist_sum_seconds(void) {
    return g_sum_s;
}
long pt_dist_sum_calls(void) {
    return g_sum_calls;
}

#ifdef PT_MPI
static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#include <fcntl.h>
#include <mpi.h>
#include <sched.h>
#include <unistd.h>

static int g_on, g_rank, g_size = 1;
static double g_timeout = 600;
static FILE *g_err; /* ranks > 0: their own stderr (fd 2 is /dev/null), for fatal messages */

static FILE *err_out(void) {
    return g_err ? g_err : stderr;
}

int pt_dist_built(void) {
    return 1;
}

static void on_mpi_error(MPI_Comm *comm, int *code, ...) {
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(*code, s, &n);
    fprintf(err_out(),
            "ptune: rank %d: MPI error: %s (another rank died or the network failed); "
            "ending the job\n",
            g_rank, s);
    fflush(err_out());
    MPI_Abort(*comm, 1);
}

void pt_dist_init(int *argc, char ***argv) {
    if (g_on) return;
    /* only under a launcher: a plain run stays one process without MPI */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_SIZE")) return;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "ptune: MPI_Init_thread failed\n");
        exit(1);
    }
    g_on = 1;
    MPI_Errhandler eh;
    MPI_Comm_create_errhandler(on_mpi_error, &eh);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, eh);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    const char *t = getenv("PTUNE_MPI_TIMEOUT");
    if (t && atof(t) > 0) g_timeout = atof(t);
    /* rank 0 alone talks: the others' stderr goes to /dev/null (what ends the
     * job still reaches the terminal; PTUNE_MPI_ALL_STDERR=1 keeps it all) */
    const char *all = getenv("PTUNE_MPI_ALL_STDERR");
    if (g_rank > 0 && !(all && *all == '1')) {
        int fd = dup(2);
        int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (fd >= 0 && nul >= 0 && (g_err = fdopen(fd, "w")) != NULL) {
            fflush(stderr);
            dup2(nul, 2);
        } else if (fd >= 0) {
            close(fd);
        }
        if (nul >= 0) close(nul);
    }
}

void pt_dist_finalize(void) {
    if (g_on) MPI_Finalize();
    g_on = 0;
}

int pt_dist_rank(void) {
    return g_rank;
}
int pt_dist_size(void) {
    return g_size;
}

void pt_dist_abort(int rc, const char *msg) {
    if (g_size > 1)
        fprintf(err_out(), "ptune: rank %d: %s; ending the job\n", g_rank, msg);
    else
        fprintf(err_out(), "ptune: %s\n", msg);
    fflush(err_out());
    if (g_on) MPI_Abort(MPI_COMM_WORLD, rc ? rc : 1);
    exit(rc ? rc : 1);
}

/* Wait for a request, at most g_timeout seconds: a peer that stopped
 * answering (stopped, not dead: mpirun ends the job on a death) ends the job
 * instead of hanging. Polls, yielding the core between polls for the first
 * 5 ms (ranks oversubscribing the cores get to run), then sleeping 100 us
 * between polls (a rank waiting for a slow one burns no core). */
static void wait_bounded(MPI_Request *rq, const char *what) {
    double t0 = mono_s(), t = t0;
    for (long k = 0;; k++) {
        int done = 0;
        MPI_Test(rq, &done, MPI_STATUS_IGNORE);
        if (done) return;
        if ((k & 63) == 0) t = mono_s();
        if (t - t0 < 5e-3) {
            sched_yield();
        } else {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        if ((k & 63) == 0 && t - t0 > g_timeout) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     "%s: no answer from the other ranks for %.0f s (PTUNE_MPI_TIMEOUT)", what,
                     g_timeout);
            pt_dist_abort(1, msg);
        }
    }
}

static void sum_any(void *buf, size_t n, MPI_Datatype type) {
    if (g_size < 2 || !n) return;
    double t0 = mono_s();
    MPI_Request rq;
    /* counts past INT_MAX would need chunking; the trainer's buffers are far smaller */
    if (n > 0x7fffffff) pt_dist_abort(1, "allreduce of more than 2^31 values");
    MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, type, MPI_SUM, MPI_COMM_WORLD, &rq);
    wait_bounded(&rq, "allreduce");
    g_sum_s += mono_s() - t0;
    g_sum_calls++;
}

void pt_dist_sum_f(float *buf, size_t n) {
    sum_any(buf, n, MPI_FLOAT);
}
void pt_dist_sum_d(double *buf, size_t n) {
    sum_any(buf, n, MPI_DOUBLE);
}

pt_status pt_dist_agree(pt_status s) {
    if (g_size < 2) return s;
    /* the lowest failing rank, then its status and message from it */
    int mine = s ? g_rank : g_size, first = g_size;
    MPI_Request rq;
    MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &rq);
    wait_bounded(&rq, "agreeing on a status");
    if (first == g_size) return PT_OK;
    struct {
        int status;
        char msg[1020];
    } m;
    memset(&m, 0, sizeof m);
    if (g_rank == first) {
        m.status = (int)s;
        snprintf(m.msg, sizeof m.msg, "%s", pt_last_error());
    }
    MPI_Ibcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD, &rq);
    wait_bounded(&rq, "agreeing on a status");
    m.msg[sizeof m.msg - 1] = 0;
    if (first == 0 || g_rank == first) return pt_fail((pt_status)m.status, "%s", m.msg);
    return pt_fail((pt_status)m.status, "rank %d: %s", first, m.msg);
}

void pt_dist_hosts(char *buf, size_t n) {
    char me[64] = {0};
    int len = 0;
    char name[MPI_MAX_PROCESSOR_NAME];
    MPI_Get_processor_name(name, &len);
    memcpy(me, name, (size_t)len < sizeof me - 1 ? (size_t)len : sizeof me - 1);
    buf[0] = 0;
    if (!g_on) {
        snprintf(buf, n, "%s", me);
        return;
    }
    char *all = calloc((size_t)g_size, sizeof me);
    if (!all) {
        snprintf(buf, n, "?");
        return;
    }
    MPI_Allgather(me, (int)sizeof me, MPI_CHAR, all, (int)sizeof me, MPI_CHAR, MPI_COMM_WORLD);
    size_t used = 0;
    for (int r = 0; r < g_size;) {
        const char *h = all + (size_t)r * sizeof me;
        int r1 = r;
        while (r1 + 1 < g_size && !strcmp(all + (size_t)(r1 + 1) * sizeof me, h)) r1++;
        int w = r1 > r ? snprintf(buf + used, n - used, "%s%s (ranks %d-%d)", used ? ", " : "", h,
                                  r, r1)
                       : snprintf(buf + used, n - used, "%s%s (rank %d)", used ? ", " : "", h, r);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
        r = r1 + 1;
    }
    free(all);
}

#else /* no MPI: one rank of one */

int pt_dist_built(void) {
    return 0;
}
void pt_dist_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
}
void pt_dist_finalize(void) {}
int pt_dist_rank(void) {
    return 0;
}
int pt_dist_size(void) {
    return 1;
}
void pt_dist_sum_f(float *buf, size_t n) {
    (void)buf;
    (void)n;
}
void pt_dist_sum_d(double *buf, size_t n) {
    (void)buf;
    (void)n;
}
pt_status pt_dist_agree(pt_status s) {
    return s;
}
void pt_dist_abort(int rc, const char *msg) {
    fprintf(stderr, "ptune: %s\n", msg);
    exit(rc ? rc : 1);
}
void pt_dist_hosts(char *buf, size_t n) {
    if (n) buf[0] = 0;
}

#endif
