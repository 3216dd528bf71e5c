/*
 * ntk_r_interrupt.h -- makes long library calls interruptible from R (Ctrl-C / Esc).
 *
 *   ntk_r_interrupt st;
 *   enum ntk_status s = ntk_kernel_limit(..., ntk_r_interruptible(&st));
 *   ntk_r_finish(&st, s);          // R error "interrupted" if the user interrupted, else the
 *                                  // library's error, else nothing
 *
 * The library calls the progress callback on the calling thread (the R thread) between units of
 * work; it runs R_CheckUserInterrupt inside R_ToplevelExec, so a pending interrupt is consumed
 * there (its longjmp stops at R_ToplevelExec, never crossing library frames); the callback then
 * returns non-zero, the library cancels promptly (NTK_STATUS_CANCELLED), and once the library has
 * returned the shim raises an R error.
 */
#ifndef NTK_R_INTERRUPT_H
#define NTK_R_INTERRUPT_H

#include "ntk.h"

typedef struct ntk_r_interrupt {
    ntk_options options;
    int interrupted;
} ntk_r_interrupt;

/* Initializes `st` and returns the options to pass to the library call. */
const ntk_options *ntk_r_interruptible(ntk_r_interrupt *st);

/* After the call: raises the R error for an interrupt or a failed status; returns on success. */
void ntk_r_finish(const ntk_r_interrupt *st, enum ntk_status status);

#endif
