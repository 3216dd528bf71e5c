/*
 * ntk_mpi_common.h -- what both MPI programs (ntk_mpi.c, ntk_mpi_solve.c) share: this rank and
 * the communicator size, the status check that aborts the job with the library's message, an
 * allocation that aborts on failure (zeroed), and strided views of plain arrays.
 */
#ifndef NTK_MPI_COMMON_H
#define NTK_MPI_COMMON_H

#include <mpi.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "ntk.h"

static int rank_ = 0, size_ = 1;

#define NTK_OK(call)                                                                             \
    do {                                                                                         \
        enum ntk_status st_ = (call);                                                            \
        if (st_ != NTK_STATUS_OK) {                                                              \
            fprintf(stderr, "rank %d: %s failed: %s: %s\n", rank_, #call,                        \
                    ntk_status_str((int)st_), ntk_last_error());                                 \
            MPI_Abort(MPI_COMM_WORLD, 2);                                                        \
        }                                                                                        \
    } while (0)

/* n zeroed bytes (at least one), or the job is aborted. */
static void *xmalloc(size_t n) {
    void *p = calloc(n > 0 ? n : 1, 1);
    if (p == NULL) {
        fprintf(stderr, "rank %d: out of memory (%lu bytes)\n", rank_, (unsigned long)n);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    return p;
}

#endif
