/* dist.h - data-parallel training across processes (MPI), behind a tiny seam.
 *
 * Built with MPI when the Makefile is run with MPI=1 (PT_MPI defined); without
 * it every function is a no-op stub: one rank of one, sums are identities.
 * Even with MPI, a process not started by mpirun (or mpirun -np 1) is one rank
 * of one and takes exactly the code paths of the build without MPI.
 *
 * Collectives are made on the main thread only (MPI_THREAD_FUNNELED; the
 * OpenMP threads inside a rank never call MPI). Every wait is bounded:
 * pt_dist_sum polls a non-blocking allreduce and aborts the whole job with a
 * message after PTUNE_MPI_TIMEOUT seconds (default 600) without progress; an
 * MPI error (a peer that died or lost its network) calls the error handler,
 * which prints a message naming the rank and aborts the job. */
#ifndef PT_TRAIN_DIST_H
#define PT_TRAIN_DIST_H

#include <stddef.h>

#include "ptune.h"

/* 1 when built with MPI. */
int pt_dist_built(void);
/* Start (MPI_Init_thread) when the process runs under an MPI launcher (the
 * environment says so); otherwise nothing. Safe to call once. */
void pt_dist_init(int *argc, char ***argv);
/* Leave MPI (a no-op when not started). */
void pt_dist_finalize(void);
int pt_dist_rank(void); /* 0 without MPI */
int pt_dist_size(void); /* 1 without MPI */
/* Sum n floats (or doubles) over all ranks, in place; every rank gets the
 * same bits. A no-op with one rank. Time spent is added to pt_dist_sum_s. */
void pt_dist_sum_f(float *buf, size_t n);
void pt_dist_sum_d(double *buf, size_t n);
/* Seconds spent in pt_dist_sum_* and the number of calls, since the start. */
double pt_dist_sum_seconds(void);
long pt_dist_sum_calls(void);
/* Every rank passes its status; all get the status of the lowest-numbered
 * rank that failed, with that rank's message (pt_last_error) set on every
 * rank (prefixed "rank R: " where R != 0). PT_OK when none failed. */
pt_status pt_dist_agree(pt_status s);
/* Print "ptune: rank R: msg" on stderr and end the whole job with code rc
 * (MPI_Abort); without MPI, exit(rc). */
void pt_dist_abort(int rc, const char *msg);
/* The host names of the ranks: "host (ranks 0-1), other (rank 2)" into buf. */
void pt_dist_hosts(char *buf, size_t n);

#endif
