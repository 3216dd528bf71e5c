/* interrupt_r.c -- see ntk_r_interrupt.h. */
#define R_NO_REMAP
#include <R.h>
#include <Rinternals.h>

#include <stdint.h>
#include <stdio.h>

#include "ntk_r_interrupt.h"

static void check_interrupt(void *unused) {
    (void)unused;
    R_CheckUserInterrupt();
}

static int interrupt_progress(void *user_data, uint64_t done, uint64_t total) {
    ntk_r_interrupt *st = (ntk_r_interrupt *)user_data;
    (void)done;
    (void)total;
    /* FALSE when R_CheckUserInterrupt jumped: an interrupt was pending. */
    if (!R_ToplevelExec(check_interrupt, NULL)) {
        st->interrupted = 1;
        return 1;
    }
    return 0;
}

const ntk_options *ntk_r_interruptible(ntk_r_interrupt *st) {
    st->options.progress = interrupt_progress;
    st->options.user_data = st;
    st->interrupted = 0;
    return &st->options;
}

void ntk_r_finish(const ntk_r_interrupt *st, enum ntk_status status) {
    char msg[2048];
    if (st->interrupted) Rf_error("interrupted by the user: the ntk computation was cancelled");
    if (status != NTK_STATUS_OK) {
        snprintf(msg, sizeof msg, "%s: %s", ntk_status_str((int)status), ntk_last_error());
        Rf_error("%s", msg);
    }
}
