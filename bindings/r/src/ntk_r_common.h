/*
 * ntk_r_common.h -- what every .Call shim of the package shares (defined in ntk_r.c): strided
 * views of R matrices (column-major, no copy), the network handle inside an "ntk_network"
 * object, and the error/interrupt conventions (the library's message is copied before Rf_error;
 * long calls are interruptible, see ntk_r_interrupt.h).
 */
#ifndef NTK_R_COMMON_H
#define NTK_R_COMMON_H

#include <Rinternals.h>

#include "ntk.h"
#include "ntk_r_interrupt.h"

/* A double matrix (or a vector = one column) as a column-major view; R error naming `what`
 * when it is not double. */
ntk_matrix ntk_r_view(SEXP x, const char *what);
/* A double matrix as a writable column-major view of its own dimensions. */
ntk_matrix_mut ntk_r_view_mut(SEXP x);
/* The first rows*cols doubles of `x` as a writable rows x cols column-major view. */
ntk_matrix_mut ntk_r_view_mut_shape(SEXP x, size_t rows, size_t cols);
/* The handle inside an "ntk_network" object; R error when it is not one or has been freed. */
ntk_network *ntk_r_network(SEXP obj);
/* R error "<NTK_STATUS_...>: <ntk_last_error()>". */
void ntk_r_raise(enum ntk_status status);

#define NTK_R_CHECK(call)                                                                      \
    do {                                                                                       \
        enum ntk_status status_ = (call);                                                      \
        if (status_ != NTK_STATUS_OK) ntk_r_raise(status_);                                    \
    } while (0)

/* A long call taking options: interruptible by the user (Ctrl-C / Esc; see ntk_r_interrupt.h);
 * `call` is written with INTR where the options go. The library's error, or the interrupt, is
 * raised after the call has returned. */
#define NTK_R_CHECK_INTERRUPTIBLE(call)                                                        \
    do {                                                                                       \
        ntk_r_interrupt intr_;                                                                 \
        const ntk_options *INTR = ntk_r_interruptible(&intr_);                                 \
        enum ntk_status status_ = (call);                                                      \
        ntk_r_finish(&intr_, status_);                                                         \
    } while (0)

#endif
