/*
 * test_spectrum.c -- C API test of ntk_kernel_spectrum and ntk_kernel_condition.
 *
 * Reference: K = Q diag(lambda) Q^T built here with Q a Householder reflection I - 2 v v^T / |v|^2,
 * so the eigenvalues are known exactly; and the empirical NTK's eigenvalues are checked to be
 * >= 0 (it is a Gram matrix) with trace equal to their sum. Every error class of both functions.
 */
#include "ntk_test.h"

#define N 5
#define SENTINEL (-12345.0)

static const double LAMBDA[N] = {-0.5, 0.25, 1.0, 2.5, 7.0};

static void build(const double *lambda, double *k) {
    static const double v[N] = {0.3, -1.2, 0.7, 0.1, 0.9};
    double q[N * N], vv = 0.0;
    size_t i, j, l;
    for (i = 0; i < N; i++) vv += v[i] * v[i];
    for (i = 0; i < N; i++)
        for (j = 0; j < N; j++) q[i * N + j] = (i == j ? 1.0 : 0.0) - 2.0 * v[i] * v[j] / vv;
    for (i = 0; i < N; i++)
        for (j = 0; j <= i; j++) {
            double acc = 0.0;
            for (l = 0; l < N; l++) acc += q[i * N + l] * lambda[l] * q[j * N + l];
            k[i * N + j] = k[j * N + i] = acc;
        }
}

static void test_known_spectrum(void) {
    double k[N * N], ev[N + 2], want[N], lmin = 0, lmax = 0, cond = 0;
    size_t i;
    ntk_matrix kv = ntk_matrix_row_major(k, N, N);
    build(LAMBDA, k);
    ntk_test_set(ev, N + 2, SENTINEL);
    CHECK_STATUS(ntk_kernel_spectrum(kv, ev, N, NTK_SPECTRUM_WHICH_ALL), NTK_STATUS_OK);
    ntk_test_close(ev, LAMBDA, N, 1e-14, "all eigenvalues, ascending");
    CHECK(ev[N] == SENTINEL && ev[N + 1] == SENTINEL);
    ntk_test_set(ev, N + 2, SENTINEL);
    CHECK_STATUS(ntk_kernel_spectrum(kv, ev, 2, NTK_SPECTRUM_WHICH_SMALLEST), NTK_STATUS_OK);
    ntk_test_close(ev, LAMBDA, 2, 1e-14, "2 smallest, ascending");
    CHECK(ev[2] == SENTINEL);
    for (i = 0; i < 3; i++) want[i] = LAMBDA[N - 1 - i];
    CHECK_STATUS(ntk_kernel_spectrum(kv, ev, 3, NTK_SPECTRUM_WHICH_LARGEST), NTK_STATUS_OK);
    ntk_test_close(ev, want, 3, 1e-14, "3 largest, descending");
    /* indefinite: condition = inf */
    CHECK_STATUS(ntk_kernel_condition(kv, &lmin, &lmax, &cond), NTK_STATUS_OK);
    ntk_test_close(&lmin, &LAMBDA[0], 1, 1e-14, "lambda_min");
    ntk_test_close(&lmax, &LAMBDA[N - 1], 1, 1e-14, "lambda_max");
    CHECK(isinf(cond) && cond > 0);
    /* positive definite: condition = 7 / 0.25 */
    {
        double pos[N] = {0.25, 0.5, 1.0, 2.5, 7.0}, c2 = 0.0, expect = 28.0;
        build(pos, k);
        CHECK_STATUS(ntk_kernel_condition(kv, NULL, NULL, &c2), NTK_STATUS_OK);
        ntk_test_close(&c2, &expect, 1, 1e-13, "condition number");
        CHECK_STATUS(ntk_kernel_condition(kv, &lmin, NULL, NULL), NTK_STATUS_OK);
        ntk_test_close(&lmin, &pos[0], 1, 1e-14, "lambda_min alone");
    }
}

/* The empirical NTK is a Gram matrix: eigenvalues >= 0 (to rounding), sum = trace. */
static void test_empirical_ntk_spectrum(void) {
    static const size_t widths[] = {2, 30, 1};
    enum { M = 12 };
    ntk_network_config cfg;
    ntk_network *net = NULL;
    double x[M * 2], k[M * M], ev[M], sum = 0.0, tr = 0.0;
    size_t i;
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = widths;
    cfg.num_widths = 3;
    cfg.activation = NTK_ACTIVATION_RELU;
    cfg.beta = 0.1;
    cfg.seed = 3;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    ntk_test_fill(x, M * 2, 8);
    CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x, M, 2), NULL, NTK_KERNEL_MODE_TRACE,
                                      NTK_KERNEL_METHOD_AUTO, ntk_matrix_row_major_mut(k, M, M), NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_kernel_spectrum(ntk_matrix_row_major(k, M, M), ev, M, NTK_SPECTRUM_WHICH_ALL), NTK_STATUS_OK);
    for (i = 0; i < M; i++) {
        sum += ev[i];
        tr += k[i * M + i];
        if (i > 0) CHECK(ev[i] >= ev[i - 1]);
    }
    CHECK(ev[0] > -1e-12 * ev[M - 1]);
    ntk_test_close(&sum, &tr, 1, 1e-13, "sum of eigenvalues = trace");
    ntk_network_free(net);
}

static void test_errors(void) {
    double k[N * N], ev[N + 1], kb[N * N], lmin = SENTINEL, lmax = SENTINEL, cond = SENTINEL;
    ntk_matrix kv = ntk_matrix_row_major(k, N, N), bad;
    build(LAMBDA, k);
    ntk_test_set(ev, N + 1, SENTINEL);
    bad = kv;
    bad.data = NULL;
    CHECK_ERROR(ntk_kernel_spectrum(bad, ev, N, 0), NTK_STATUS_NULL_POINTER, "k");
    CHECK_ERROR(ntk_kernel_spectrum(kv, NULL, N, 0), NTK_STATUS_NULL_POINTER, "eigenvalues");
    CHECK_ERROR(ntk_kernel_spectrum(kv, ev, N, 3), NTK_STATUS_INVALID_ARGUMENT, "which");
    CHECK_ERROR(ntk_kernel_spectrum(kv, ev, N, -1), NTK_STATUS_INVALID_ARGUMENT, "which");
    CHECK_ERROR(ntk_kernel_spectrum(kv, ev, 0, 1), NTK_STATUS_INVALID_ARGUMENT, "count");
    CHECK_ERROR(ntk_kernel_spectrum(kv, ev, N + 1, 1), NTK_STATUS_INVALID_ARGUMENT, "count");
    CHECK_ERROR(ntk_kernel_spectrum(kv, ev, N - 1, NTK_SPECTRUM_WHICH_ALL), NTK_STATUS_INVALID_ARGUMENT, "count");
    CHECK_ERROR(ntk_kernel_spectrum(ntk_matrix_row_major(k, N, N - 1), ev, 2, 1), NTK_STATUS_INVALID_ARGUMENT, "square");
    memcpy(kb, k, sizeof k);
    kb[1] += 1e-6;
    CHECK_ERROR(ntk_kernel_spectrum(ntk_matrix_row_major(kb, N, N), ev, N, 0), NTK_STATUS_INVALID_ARGUMENT, "symmetric");
    CHECK_ERROR(ntk_kernel_condition(ntk_matrix_row_major(kb, N, N), &lmin, &lmax, &cond), NTK_STATUS_INVALID_ARGUMENT,
                "symmetric");
    memcpy(kb, k, sizeof k);
    kb[12] = NAN;
    CHECK_ERROR(ntk_kernel_spectrum(ntk_matrix_row_major(kb, N, N), ev, N, 0), NTK_STATUS_NON_FINITE, "k");
    CHECK_ERROR(ntk_kernel_condition(ntk_matrix_row_major(kb, N, N), &lmin, &lmax, &cond), NTK_STATUS_NON_FINITE, "k");
    /* eigenvalues overlapping k */
    memcpy(kb, k, sizeof k);
    CHECK_ERROR(ntk_kernel_spectrum(ntk_matrix_row_major(kb, N, N), kb + 3, N, 0), NTK_STATUS_INVALID_ARGUMENT, "overlap");
    CHECK(memcmp(kb, k, sizeof k) == 0);
    CHECK_ERROR(ntk_kernel_condition(bad, &lmin, &lmax, &cond), NTK_STATUS_NULL_POINTER, "k");
    CHECK(ntk_test_all_bits(ev, N + 1, SENTINEL));
    CHECK(lmin == SENTINEL && lmax == SENTINEL && cond == SENTINEL);
}

int main(void) {
    test_known_spectrum();
    test_empirical_ntk_spectrum();
    test_errors();
    return ntk_test_summary("test_spectrum");
}
