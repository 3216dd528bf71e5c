/* Regression tests of issue #20 (an independent attack on the C ABI), the cases that run fast in
 * one process. The process-level cases (a hang, an abort under RLIMIT_AS, the time bound of the
 * bad-input calls) are in probe_issue20.c, run each in its own process with a time limit.
 * Run by tests/c_reliability.rs (and under valgrind/ASan by scripts/sanitizers.sh).
 *
 *  1. broadcast (stride (0, 0)) N x N kernels that cannot be allocated: ALLOCATION, outputs
 *     untouched (N = 2^20: 8 TiB; N = 2^32: the size overflows);
 *  4. a non-finite value anywhere in the limit chain is NUMERICAL for every subset of outputs,
 *     in ntk_kernel_limit and in the tile API (GELU at +-1e200; a custom sigma returning NaN);
 *  5. subnormal kernels: exact spectra (1e-310 I, all 1e-310, all 4.9e-324) and a flow;
 *  6. ntk_flow_options: method outside the enum is INVALID_ARGUMENT (as the header now says);
 *     a tolerance <= 0 means its default; an unreachable rtol is blamed by name;
 *  7. the argument that disagrees is the one named (y, not f0; out, not a broadcast x);
 *  8. progress of the limit kernel is one monotone (done, total) sequence per call;
 *  smaller points: messages print subnormals in %g style.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, for NTK_TEST_ERROR_TIME_LIMIT */
/* The bounded-time contract: every bad-input call checked here returns within 1 s. */
#define NTK_TEST_ERROR_TIME_LIMIT 1.0
#include "ntk_test.h"

#include <stdint.h>

#define SENT (-3.5e7)


/* ---- 1. broadcast kernels that cannot be allocated ------------------------------------------ */
static void broadcast_kernels(void) {
    const double one = 1.0;
    const size_t sizes[] = {(size_t)1 << 20, (size_t)1 << 32, SIZE_MAX / 2};
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s];
        double ev[2] = {SENT, SENT}, lo = SENT, hi = SENT, c = SENT;
        ntk_matrix k = ntk_matrix_strided(&one, n, n, 0, 0);
        CHECK_ERROR(ntk_kernel_spectrum(k, ev, 2, NTK_SPECTRUM_WHICH_SMALLEST), NTK_STATUS_ALLOCATION,
               "k");
        CHECK_ERROR(ntk_kernel_condition(k, &lo, &hi, &c), NTK_STATUS_ALLOCATION, "k");
        CHECK(ev[0] == SENT && ev[1] == SENT && lo == SENT && hi == SENT && c == SENT);
        ntk_flow *f = NULL;
        CHECK_ERROR(ntk_flow_create(k, ntk_matrix_strided(&one, n, 1, 0, 0), ntk_matrix_strided(&one, n, 1, 0, 0), NULL, NULL, 0, NULL,
                               &f),
               NTK_STATUS_ALLOCATION, "kernel");
        CHECK(f == NULL);
    }
    /* A small kernel with a test kernel that cannot be allocated. */
    double k2[4] = {2, 1, 1, 2}, y2[2] = {1, 0};
    ntk_matrix tk = ntk_matrix_strided(&one, (size_t)1 << 40, 2, 0, 0), tf = ntk_matrix_strided(&one, (size_t)1 << 40, 1, 0, 0);
    ntk_flow *f = NULL;
    CHECK_ERROR(ntk_flow_create(ntk_matrix_row_major(k2, 2, 2), ntk_matrix_row_major(y2, 2, 1), ntk_matrix_row_major(y2, 2, 1), &tk, &tf, 0, NULL, &f),
           NTK_STATUS_ALLOCATION, "test_kernel");
    CHECK(f == NULL);
}

/* ---- 4. non-finite values in the limit chain ------------------------------------------------ */
static double nan_beyond_2(double x, void *u) {
    (void)u;
    return fabs(x) > 2.0 ? NAN : tanh(x);
}
static double dtanh_(double x, void *u) {
    (void)u;
    double t = tanh(x);
    return 1.0 - t * t;
}

/* Every non-empty subset of (nngp, sigma_dot, ntk), through ntk_kernel_limit and the tiles. */
static void all_subsets_numerical(ntk_network *net, const double *x, size_t n, size_t d,
                                  int line) {
    double o[3][16];
    ntk_limit_points *p = NULL;
    ntk_status pst = ntk_limit_points_create(net, ntk_matrix_row_major(x, n, d), NULL, &p);
    for (int mask = 1; mask < 8; mask++) {
        ntk_matrix_mut v[3];
        ntk_matrix_mut *ptr[3];
        for (int q = 0; q < 3; q++) {
            v[q] = ntk_matrix_row_major_mut(o[q], n, n);
            ptr[q] = (mask >> q & 1) ? &v[q] : NULL;
        }
        ntk_status st = ntk_kernel_limit(net, ntk_matrix_row_major(x, n, d), NULL, ptr[0], ptr[1], ptr[2], NULL);
        CHECKF(st == NTK_STATUS_NUMERICAL, "line %d: kernel_limit outputs mask %d gave %s", line,
               mask, ntk_status_str(st));
        if (pst == NTK_STATUS_OK) {
            st = ntk_kernel_limit_tile(p, 0, n, p, 0, n, ptr[0], ptr[1], ptr[2], NULL);
            CHECKF(st == NTK_STATUS_NUMERICAL, "line %d: kernel_limit_tile mask %d gave %s", line,
                   mask, ntk_status_str(st));
        } else {
            CHECKF(pst == NTK_STATUS_NUMERICAL, "line %d: limit_points_create gave %s", line,
                   ntk_status_str(pst));
        }
    }
    ntk_limit_points_free(p);
}

static void limit_chain_nonfinite(void) {
    const size_t w[] = {3, 5, 4, 2};
    ntk_network_config c;
    memset(&c, 0, sizeof c);
    c.widths = w;
    c.num_widths = 4;
    c.activation = NTK_ACTIVATION_GELU;
    c.beta = 0.1;
    c.seed = 1;
    ntk_network *net = NULL;
    CHECK_STATUS(ntk_network_create(&c, &net), NTK_STATUS_OK);
    if (net == NULL) return;
    const double big[6] = {1e200, -1e200, 1e200, -1e200, 1e200, 1e200};
    all_subsets_numerical(net, big, 2, 3, __LINE__);
    /* Control: moderate inputs are OK for every subset (so the above fails for its reason). */
    const double x[6] = {0.3, -0.2, 0.5, 0.1, 0.4, -0.6};
    double o[4];
    ntk_matrix_mut v = ntk_matrix_row_major_mut(o, 2, 2);
    CHECK_STATUS(ntk_kernel_limit(net, ntk_matrix_row_major(x, 2, 3), NULL, &v, NULL, NULL, NULL), NTK_STATUS_OK);
    CHECK_STATUS(ntk_kernel_limit(net, ntk_matrix_row_major(x, 2, 3), NULL, NULL, &v, NULL, NULL), NTK_STATUS_OK);
    ntk_network_free(net);

    /* A custom sigma returning NaN for |x| > 2, L = 3. */
    const size_t w3[] = {3, 4, 4, 1};
    c.widths = w3;
    c.activation = NTK_ACTIVATION_CUSTOM;
    c.custom_sigma = nan_beyond_2;
    c.custom_dsigma = dtanh_;
    c.beta = 0.1;
    CHECK_STATUS(ntk_network_create(&c, &net), NTK_STATUS_OK);
    if (net == NULL) return;
    all_subsets_numerical(net, x, 2, 3, __LINE__);
    ntk_network_free(net);
}

/* ---- 5. subnormal kernels ------------------------------------------------------------------- */
static void subnormal_kernels(void) {
    double k[16], ev[4], lo, hi, cond;
    for (int i = 0; i < 16; i++) k[i] = (i % 5 == 0) ? 1e-310 : 0.0;
    CHECK_STATUS(ntk_kernel_spectrum(ntk_matrix_row_major(k, 4, 4), ev, 4, NTK_SPECTRUM_WHICH_ALL), NTK_STATUS_OK);
    for (int i = 0; i < 4; i++) CHECK(ev[i] == 1e-310);
    CHECK_STATUS(ntk_kernel_condition(ntk_matrix_row_major(k, 4, 4), &lo, &hi, &cond), NTK_STATUS_OK);
    CHECK(lo == 1e-310 && hi == 1e-310 && cond == 1.0);

    /* All entries e: eigenvalues {0, 0, 0, 4e}. */
    const double es[2] = {1e-310, 4.9e-324};
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < 16; i++) k[i] = es[t];
        CHECK_STATUS(ntk_kernel_spectrum(ntk_matrix_row_major(k, 4, 4), ev, 4, NTK_SPECTRUM_WHICH_ALL), NTK_STATUS_OK);
        CHECK(fabs(ev[3] - 4.0 * es[t]) <= 1e-12 * 4.0 * es[t] + 4.9e-324);
        for (int i = 0; i < 3; i++) CHECK(fabs(ev[i]) <= 1e-12 * 4.0 * es[t] + 4.9e-324);
    }

    /* A flow on 1e-310 I: f_t = y + exp(-t lambda / N)(f0 - y) = f0 to rounding at t = 1. */
    for (int i = 0; i < 16; i++) k[i] = (i % 5 == 0) ? 1e-310 : 0.0;
    double y[4] = {1, 2, 3, 4}, f0[4] = {0.5, -1, 0, 2}, out[4];
    for (int method = 1; method <= 3; method++) {
        ntk_flow_options o = {method, 0, 0, 0};
        ntk_flow *f = NULL;
        CHECK_STATUS(ntk_flow_create(ntk_matrix_row_major(k, 4, 4), ntk_matrix_row_major(y, 4, 1), ntk_matrix_row_major(f0, 4, 1), NULL, NULL, 0, &o, &f),
               NTK_STATUS_OK);
        if (!f) continue;
        CHECK_STATUS(ntk_flow_set_time(f, 1.0, NULL), NTK_STATUS_OK);
        CHECK_STATUS(ntk_flow_outputs(f, ntk_matrix_row_major_mut(out, 4, 1)), NTK_STATUS_OK);
        for (int i = 0; i < 4; i++) CHECK(fabs(out[i] - f0[i]) <= 1e-14);
        ntk_flow_free(f);
    }

    /* %g-style numbers in messages: an asymmetric subnormal pair prints as 1e-310. */
    double a[4] = {1e-310, 1e-310, 3e-310, 1e-310};
    CHECK_ERROR(ntk_kernel_spectrum(ntk_matrix_row_major(a, 2, 2), ev, 2, NTK_SPECTRUM_WHICH_ALL),
           NTK_STATUS_INVALID_ARGUMENT, "= 3e-310 but k[0,1] = 1e-310");
    CHECK(strlen(ntk_last_error()) < 200);
}

/* ---- 6, 7. flow options and the argument blamed --------------------------------------------- */
static void flow_options_and_blame(void) {
    double k[16], y[8], f0[8], out[8];
    for (int i = 0; i < 16; i++) k[i] = (i % 5 == 0) ? 2.0 : 0.5;
    for (int i = 0; i < 8; i++) y[i] = f0[i] = 0.1 * i;
    ntk_flow *f = NULL, *sentinel = (ntk_flow *)(uintptr_t)0x10;
    f = sentinel;
    ntk_flow_options o = {-1, 0, 0, 0};
    CHECK_ERROR(ntk_flow_create(ntk_matrix_row_major(k, 4, 4), ntk_matrix_row_major(y, 4, 2), ntk_matrix_row_major(f0, 4, 2), NULL, NULL, 0, &o, &f),
           NTK_STATUS_INVALID_ARGUMENT, "method");
    o.method = INT32_MIN;
    CHECK_ERROR(ntk_flow_create(ntk_matrix_row_major(k, 4, 4), ntk_matrix_row_major(y, 4, 2), ntk_matrix_row_major(f0, 4, 2), NULL, NULL, 0, &o, &f),
           NTK_STATUS_INVALID_ARGUMENT, "method");
    CHECK(f == sentinel);
    /* tolerances <= 0 mean their defaults */
    ntk_flow_options neg = {0, -1.0, -5.0, -1e-3};
    f = NULL;
    CHECK_STATUS(ntk_flow_create(ntk_matrix_row_major(k, 4, 4), ntk_matrix_row_major(y, 4, 2), ntk_matrix_row_major(f0, 4, 2), NULL, NULL, 0, &neg, &f),
           NTK_STATUS_OK);
    ntk_flow_free(f);
    /* an rtol that double precision cannot meet is blamed by name */
    double targets[8] = {1, 0, 0, 1, 1, 0, 0, 1};
    ntk_flow_options tiny = {NTK_FLOW_METHOD_ODE, 1e-300, 1e-300, 0};
    f = NULL;
    CHECK_STATUS(ntk_flow_create(ntk_matrix_row_major(k, 4, 4), ntk_matrix_row_major(targets, 4, 2), ntk_matrix_row_major(f0, 4, 2), NULL, NULL,
                           NTK_COST_CROSS_ENTROPY, &tiny, &f),
           NTK_STATUS_OK);
    if (f) {
        CHECK_ERROR(ntk_flow_set_time(f, 1.0, NULL), NTK_STATUS_NUMERICAL, "rtol");
        ntk_flow_free(f);
    }

    /* 7: kernel 4x4, y 3x2, f0 4x2: y disagrees, not f0. */
    f = sentinel;
    CHECK_ERROR(ntk_flow_create(ntk_matrix_row_major(k, 4, 4), ntk_matrix_row_major(y, 3, 2), ntk_matrix_row_major(f0, 4, 2), NULL, NULL, 0, NULL, &f),
           NTK_STATUS_INVALID_ARGUMENT, "y is 3x2");
    CHECK(f == sentinel);
    /* y and kernel agree, f0 does not: f0 named. */
    CHECK_ERROR(ntk_flow_create(ntk_matrix_row_major(k, 4, 4), ntk_matrix_row_major(y, 4, 2), ntk_matrix_row_major(f0, 3, 2), NULL, NULL, 0, NULL, &f),
           NTK_STATUS_INVALID_ARGUMENT, "f0 is 3x2");

    /* network_forward: a SIZE_MAX-row broadcast x is a valid view; the output cannot exist. */
    const size_t w[] = {3, 4, 2};
    ntk_network_config c;
    memset(&c, 0, sizeof c);
    c.widths = w;
    c.num_widths = 3;
    c.activation = NTK_ACTIVATION_TANH;
    c.beta = 0.1;
    ntk_network *net = NULL;
    CHECK_STATUS(ntk_network_create(&c, &net), NTK_STATUS_OK);
    if (net == NULL) return;
    const double row[3] = {0.1, 0.2, 0.3};
    ntk_matrix xb = ntk_matrix_strided(row, SIZE_MAX, 3, 0, 1);
    for (int i = 0; i < 8; i++) out[i] = SENT;
    CHECK_ERROR(ntk_network_forward(net, xb, ntk_matrix_row_major_mut(out, 4, 2)), NTK_STATUS_INVALID_ARGUMENT, "out");
    CHECK(strstr(ntk_last_error(), "x:") == NULL);
    for (int i = 0; i < 8; i++) CHECK(out[i] == SENT);
    ntk_network_free(net);
}

/* ---- 8. one monotone progress sequence per call --------------------------------------------- */
typedef struct {
    uint64_t done[4096], total[4096];
    int n;
} trace;
static int record(void *u, uint64_t done, uint64_t total) {
    trace *t = (trace *)u;
    if (t->n < 4096) {
        t->done[t->n] = done;
        t->total[t->n] = total;
        t->n++;
    }
    return 0;
}
static void check_trace(const trace *t, int line) {
    int ok = t->n >= 2 && t->done[0] == 0 && t->done[t->n - 1] == t->total[t->n - 1];
    for (int i = 1; i < t->n && ok; i++)
        ok = t->total[i] == t->total[0] && t->done[i] >= t->done[i - 1] && t->done[i] <= t->total[i];
    CHECKF(ok, "line %d: progress not one monotone sequence (%d calls)", line, t->n);
    if (!ok) {
        for (int i = 0; i < t->n && i < 12; i++)
            fprintf(stderr, " (%llu,%llu)", (unsigned long long)t->done[i],
                    (unsigned long long)t->total[i]);
        fprintf(stderr, "\n");
    }
}

static void limit_progress_monotone(void) {
    const size_t w[] = {5, 8, 8, 1};
    ntk_network_config c;
    memset(&c, 0, sizeof c);
    c.widths = w;
    c.num_widths = 4;
    c.activation = NTK_ACTIVATION_TANH;
    c.beta = 0.2;
    ntk_network *net = NULL;
    CHECK_STATUS(ntk_network_create(&c, &net), NTK_STATUS_OK);
    if (net == NULL) return;
    /* 5-dimensional points in general position (few highly correlated pairs: the numerical
     * path's pair quadrature is slow, issue #17). */
    static double x1[5 * 14], x2[5 * 10], o[14 * 14];
    for (int i = 0; i < 5 * 14; i++) x1[i] = sin(1.7 * i + 0.3 * i * i);
    for (int i = 0; i < 5 * 10; i++) x2[i] = cos(0.9 * i + 0.2 * i * i);
    static trace t;
    ntk_options opt = {record, &t};
    ntk_matrix x2v = ntk_matrix_row_major(x2, 10, 5);
    ntk_matrix_mut v = ntk_matrix_row_major_mut(o, 14, 10);
    t.n = 0;
    CHECK_STATUS(ntk_kernel_limit(net, ntk_matrix_row_major(x1, 14, 5), &x2v, NULL, NULL, &v, &opt), NTK_STATUS_OK);
    check_trace(&t, __LINE__);
    ntk_matrix_mut vs = ntk_matrix_row_major_mut(o, 14, 14);
    t.n = 0;
    CHECK_STATUS(ntk_kernel_limit(net, ntk_matrix_row_major(x1, 14, 5), NULL, &vs, NULL, NULL, &opt), NTK_STATUS_OK);
    check_trace(&t, __LINE__);
    ntk_limit_points *p = NULL;
    t.n = 0;
    CHECK_STATUS(ntk_limit_points_create(net, ntk_matrix_row_major(x1, 14, 5), &opt, &p), NTK_STATUS_OK);
    check_trace(&t, __LINE__);
    if (p) {
        t.n = 0;
        ntk_matrix_mut vt = ntk_matrix_row_major_mut(o, 6, 10);
        CHECK_STATUS(ntk_kernel_limit_tile(p, 4, 10, p, 0, 10, NULL, NULL, &vt, &opt), NTK_STATUS_OK);
        check_trace(&t, __LINE__);
    }
    ntk_limit_points_free(p);
    ntk_network_free(net);
}

int main(void) {
    broadcast_kernels();
    limit_chain_nonfinite();
    subnormal_kernels();
    flow_options_and_blame();
    limit_progress_monotone();
    printf("reliability_issue20: slowest bad-input call %.4f s\n", ntk_test_slowest_error());
    return ntk_test_summary("reliability_issue20");
}
