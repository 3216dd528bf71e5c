/*
 * test_empirical.c -- C API test of ntk_network_jacobian and ntk_kernel_empirical.
 *
 * Independent references, all computed here in plain C:
 *  - the Jacobian vs central finite differences of ntk_network_forward (parameters perturbed one
 *    at a time through ntk_network_set_params);
 *  - the FULL kernel vs J1 J2^T, the TRACE kernel vs (1/n_L) sum_a of the FULL diagonal blocks and
 *    vs the finite-difference Jacobians directly;
 *  - both computation methods against each other, x2 = NULL against x2 = x1, strided/column-major
 *    outputs against row-major ones (bitwise), 1 vs 3 worker threads (bitwise);
 * and every error class of both functions, with sentinel-filled outputs checked untouched.
 */
#include "ntk_test.h"

#include <stdint.h>

#define N1 4
#define N2 3
#define N0 3
#define NL 2
#define NP 80u /* 7*(3+1) + 5*(7+1) + 2*(5+1) */
#define SENTINEL (-12345.0)

static const size_t WIDTHS[] = {N0, 7, 5, NL};

static ntk_network *make_net(int activation) {
    ntk_network_config cfg;
    ntk_network *net = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = WIDTHS;
    cfg.num_widths = sizeof WIDTHS / sizeof WIDTHS[0];
    cfg.activation = activation;
    cfg.beta = 0.3;
    cfg.seed = 7;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    return net;
}

/* Central finite differences of f(x) w.r.t. every parameter: jac[(i*NL + a)*NP + p]. */
static void fd_jacobian(const ntk_network *net, const double *x, size_t n, double *jac) {
    ntk_network *tmp = NULL;
    double theta[NP], fp[N1 * NL], fm[N1 * NL];
    size_t p, r;
    const double h = 1e-5;
    CHECK_STATUS(ntk_network_clone(net, &tmp), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(net, theta, NP), NTK_STATUS_OK);
    for (p = 0; p < NP; p++) {
        double keep = theta[p];
        theta[p] = keep + h;
        CHECK_STATUS(ntk_network_set_params(tmp, theta, NP), NTK_STATUS_OK);
        CHECK_STATUS(ntk_network_forward(tmp, ntk_matrix_row_major(x, n, N0), ntk_matrix_row_major_mut(fp, n, NL)),
                     NTK_STATUS_OK);
        theta[p] = keep - h;
        CHECK_STATUS(ntk_network_set_params(tmp, theta, NP), NTK_STATUS_OK);
        CHECK_STATUS(ntk_network_forward(tmp, ntk_matrix_row_major(x, n, N0), ntk_matrix_row_major_mut(fm, n, NL)),
                     NTK_STATUS_OK);
        theta[p] = keep;
        for (r = 0; r < n * NL; r++) jac[r * NP + p] = (fp[r] - fm[r]) / (2.0 * h);
    }
    ntk_network_free(tmp);
}

/* out[(i*NL+a)*(n2*NL) + j*NL+b] = sum_p j1[(i*NL+a), p] j2[(j*NL+b), p] */
static void contract(const double *j1, size_t n1, const double *j2, size_t n2, double *out) {
    size_t r, c, p;
    for (r = 0; r < n1 * NL; r++) {
        for (c = 0; c < n2 * NL; c++) {
            double acc = 0.0;
            for (p = 0; p < NP; p++) acc += j1[r * NP + p] * j2[c * NP + p];
            out[r * n2 * NL + c] = acc;
        }
    }
}

static void trace_of_full(const double *full, size_t n1, size_t n2, double *trace) {
    size_t i, j, a;
    for (i = 0; i < n1; i++) {
        for (j = 0; j < n2; j++) {
            double acc = 0.0;
            for (a = 0; a < NL; a++) acc += full[(i * NL + a) * n2 * NL + j * NL + a];
            trace[i * n2 + j] = acc / NL;
        }
    }
}

static void test_jacobian_vs_finite_differences(int activation, const char *what) {
    ntk_network *net = make_net(activation);
    double x[N1 * N0], jac[N1 * NL * NP], fd[N1 * NL * NP];
    ntk_test_fill(x, N1 * N0, 3);
    CHECK_STATUS(ntk_network_jacobian(net, ntk_matrix_row_major(x, N1, N0), ntk_matrix_row_major_mut(jac, N1 * NL, NP),
                                      NULL),
                 NTK_STATUS_OK);
    fd_jacobian(net, x, N1, fd);
    ntk_test_close(jac, fd, N1 * NL * NP, 1e-8, what);
    ntk_network_free(net);
}

static void test_kernels_vs_references(void) {
    ntk_network *net = make_net(NTK_ACTIVATION_TANH);
    double x1[N1 * N0], x2[N2 * N0], j1[N1 * NL * NP], j2[N2 * NL * NP], fd1[N1 * NL * NP],
        fd2[N2 * NL * NP];
    double full[N1 * NL * N2 * NL], ref_full[N1 * NL * N2 * NL], trace[N1 * N2], ref_trace[N1 * N2];
    double fd_full[N1 * NL * N2 * NL], fd_trace[N1 * N2], other[N1 * NL * N2 * NL];
    int method;
    ntk_matrix x2v;
    ntk_test_fill(x1, N1 * N0, 1);
    ntk_test_fill(x2, N2 * N0, 2);
    x2v = ntk_matrix_row_major(x2, N2, N0);
    CHECK_STATUS(ntk_network_jacobian(net, ntk_matrix_row_major(x1, N1, N0), ntk_matrix_row_major_mut(j1, N1 * NL, NP), NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_jacobian(net, x2v, ntk_matrix_row_major_mut(j2, N2 * NL, NP), NULL), NTK_STATUS_OK);
    contract(j1, N1, j2, N2, ref_full);
    trace_of_full(ref_full, N1, N2, ref_trace);
    fd_jacobian(net, x1, N1, fd1);
    fd_jacobian(net, x2, N2, fd2);
    contract(fd1, N1, fd2, N2, fd_full);
    trace_of_full(fd_full, N1, N2, fd_trace);

    for (method = NTK_KERNEL_METHOD_AUTO; method <= NTK_KERNEL_METHOD_STRUCTURED; method++) {
        CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x1, N1, N0), &x2v, NTK_KERNEL_MODE_FULL,
                                          method, ntk_matrix_row_major_mut(full, N1 * NL, N2 * NL), NULL),
                     NTK_STATUS_OK);
        ntk_test_close(full, ref_full, N1 * NL * N2 * NL, 1e-13, "FULL kernel vs J1 J2^T");
        ntk_test_close(full, fd_full, N1 * NL * N2 * NL, 1e-7, "FULL kernel vs finite differences");
        CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x1, N1, N0), &x2v, NTK_KERNEL_MODE_TRACE,
                                          method, ntk_matrix_row_major_mut(trace, N1, N2), NULL),
                     NTK_STATUS_OK);
        ntk_test_close(trace, ref_trace, N1 * N2, 1e-13, "TRACE kernel vs trace of J1 J2^T / n_L");
        ntk_test_close(trace, fd_trace, N1 * N2, 1e-7, "TRACE kernel vs finite differences");
    }
    /* the two methods agree to rounding */
    CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x1, N1, N0), &x2v, NTK_KERNEL_MODE_FULL,
                                      NTK_KERNEL_METHOD_JACOBIAN_CONTRACTION,
                                      ntk_matrix_row_major_mut(other, N1 * NL, N2 * NL), NULL),
                 NTK_STATUS_OK);
    ntk_test_close(full, other, N1 * NL * N2 * NL, 1e-13, "STRUCTURED vs JACOBIAN_CONTRACTION");

    /* x2 = NULL means x2 = x1: symmetric, PSD diagonal, same numbers as passing x1 twice */
    {
        double sym[N1 * N1], twice[N1 * N1], jj[N1 * NL * N1 * NL], jtr[N1 * N1];
        ntk_matrix x1v = ntk_matrix_row_major(x1, N1, N0);
        size_t i, j;
        CHECK_STATUS(ntk_kernel_empirical(net, x1v, NULL, NTK_KERNEL_MODE_TRACE, NTK_KERNEL_METHOD_AUTO,
                                          ntk_matrix_row_major_mut(sym, N1, N1), NULL),
                     NTK_STATUS_OK);
        CHECK_STATUS(ntk_kernel_empirical(net, x1v, &x1v, NTK_KERNEL_MODE_TRACE, NTK_KERNEL_METHOD_AUTO,
                                          ntk_matrix_row_major_mut(twice, N1, N1), NULL),
                     NTK_STATUS_OK);
        ntk_test_close(sym, twice, N1 * N1, 1e-14, "x2 = NULL vs x2 = x1");
        contract(j1, N1, j1, N1, jj);
        trace_of_full(jj, N1, N1, jtr);
        ntk_test_close(sym, jtr, N1 * N1, 1e-13, "symmetric TRACE kernel vs J J^T");
        for (i = 0; i < N1; i++) {
            CHECK(sym[i * N1 + i] > 0.0);
            for (j = 0; j < i; j++) CHECK(memcmp(&sym[i * N1 + j], &sym[j * N1 + i], sizeof(double)) == 0);
        }
    }
    ntk_network_free(net);
}

/* Column-major and strided outputs hold the same bits as row-major ones; 1 vs 3 threads too. */
static void test_layouts_and_threads(void) {
    ntk_network *net = make_net(NTK_ACTIVATION_RELU);
    double x1[N1 * N0], xc[N1 * N0], want[N1 * N1], big[N1 * N1 * 3], got[N1 * N1];
    double full1[N1 * NL * N1 * NL], full3[N1 * NL * N1 * NL], jac1[N1 * NL * NP], jac3[N1 * NL * NP];
    ntk_matrix xv;
    ntk_matrix_mut ov;
    size_t i, j, threads = 0;
    ntk_test_fill(x1, N1 * N0, 5);
    CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x1, N1, N0), NULL, NTK_KERNEL_MODE_TRACE,
                                      NTK_KERNEL_METHOD_AUTO, ntk_matrix_row_major_mut(want, N1, N1), NULL),
                 NTK_STATUS_OK);
    for (i = 0; i < N1; i++)
        for (j = 0; j < N0; j++) xc[j * N1 + i] = x1[i * N0 + j];
    xv = ntk_matrix_col_major(xc, N1, N0);
    ntk_test_set(big, N1 * N1 * 3, SENTINEL);
    ov = ntk_matrix_strided_mut(big + 1, N1, N1, 3, 3 * N1); /* column-major with gaps */
    CHECK_STATUS(ntk_kernel_empirical(net, xv, NULL, NTK_KERNEL_MODE_TRACE, NTK_KERNEL_METHOD_AUTO, ov, NULL),
                 NTK_STATUS_OK);
    for (i = 0; i < N1; i++)
        for (j = 0; j < N1; j++) got[i * N1 + j] = big[1 + 3 * i + 3 * N1 * j];
    ntk_test_same_bits(got, want, N1 * N1, "column-major strided in/out vs row-major");
    for (i = 0; i < N1 * N1 * 3; i++) {
        if (i % 3 != 1) CHECK(big[i] == SENTINEL);
    }

    CHECK_STATUS(ntk_get_num_threads(&threads), NTK_STATUS_OK);
    CHECK_STATUS(ntk_set_num_threads(1), NTK_STATUS_OK);
    CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x1, N1, N0), NULL, NTK_KERNEL_MODE_FULL,
                                      NTK_KERNEL_METHOD_AUTO, ntk_matrix_row_major_mut(full1, N1 * NL, N1 * NL), NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_jacobian(net, ntk_matrix_row_major(x1, N1, N0), ntk_matrix_row_major_mut(jac1, N1 * NL, NP), NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_set_num_threads(3), NTK_STATUS_OK);
    CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x1, N1, N0), NULL, NTK_KERNEL_MODE_FULL,
                                      NTK_KERNEL_METHOD_AUTO, ntk_matrix_row_major_mut(full3, N1 * NL, N1 * NL), NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_jacobian(net, ntk_matrix_row_major(x1, N1, N0), ntk_matrix_row_major_mut(jac3, N1 * NL, NP), NULL),
                 NTK_STATUS_OK);
    ntk_test_same_bits(full1, full3, N1 * NL * N1 * NL, "FULL kernel, 1 vs 3 threads");
    ntk_test_same_bits(jac1, jac3, N1 * NL * NP, "Jacobian, 1 vs 3 threads");
    CHECK_STATUS(ntk_set_num_threads(threads), NTK_STATUS_OK);
    ntk_network_free(net);
}

static int calls = 0;
static int cancel_at_second(void *user_data, uint64_t done, uint64_t total) {
    (void)user_data;
    calls++;
    CHECK(done <= total);
    return calls >= 2;
}
static int never_cancel(void *user_data, uint64_t done, uint64_t total) {
    (void)done;
    (void)total;
    (*(int *)user_data)++;
    return 0;
}

static void test_progress(void) {
    ntk_network *net = make_net(NTK_ACTIVATION_TANH);
    /* enough points that the work is split into several blocks */
    enum { M = 200 };
    double *x = (double *)malloc(M * N0 * sizeof(double));
    double *k = (double *)malloc(M * M * sizeof(double));
    double *ref = (double *)malloc(M * M * sizeof(double));
    double *jac = (double *)malloc(M * NL * NP * sizeof(double));
    ntk_options opt;
    int seen = 0;
    if (x == NULL || k == NULL || ref == NULL || jac == NULL) {
        CHECK(0);
        return;
    }
    ntk_test_fill(x, M * N0, 9);
    CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x, M, N0), NULL, NTK_KERNEL_MODE_TRACE,
                                      NTK_KERNEL_METHOD_AUTO, ntk_matrix_row_major_mut(ref, M, M), NULL),
                 NTK_STATUS_OK);
    opt.progress = never_cancel;
    opt.user_data = &seen;
    CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x, M, N0), NULL, NTK_KERNEL_MODE_TRACE,
                                      NTK_KERNEL_METHOD_AUTO, ntk_matrix_row_major_mut(k, M, M), &opt),
                 NTK_STATUS_OK);
    CHECK(seen >= 2);
    ntk_test_same_bits(k, ref, M * M, "kernel with a progress callback");
    opt.progress = cancel_at_second;
    opt.user_data = NULL;
    calls = 0;
    CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(x, M, N0), NULL, NTK_KERNEL_MODE_TRACE,
                                      NTK_KERNEL_METHOD_AUTO, ntk_matrix_row_major_mut(k, M, M), &opt),
                 NTK_STATUS_CANCELLED);
    CHECK(calls == 2);
    calls = 0;
    CHECK_STATUS(ntk_network_jacobian(net, ntk_matrix_row_major(x, M, N0), ntk_matrix_row_major_mut(jac, M * NL, NP), &opt),
                 NTK_STATUS_CANCELLED);
    seen = 0;
    opt.progress = never_cancel;
    opt.user_data = &seen;
    CHECK_STATUS(ntk_network_jacobian(net, ntk_matrix_row_major(x, M, N0), ntk_matrix_row_major_mut(jac, M * NL, NP), &opt),
                 NTK_STATUS_OK);
    CHECK(seen >= 1);
    free(x);
    free(k);
    free(ref);
    free(jac);
    ntk_network_free(net);
}

static void test_kernel_errors(void) {
    ntk_network *net = make_net(NTK_ACTIVATION_TANH);
    double x1[N1 * N0], x2[N2 * N0], out[N1 * NL * N2 * NL + 8], shared[64];
    ntk_matrix x1v, x2v, bad;
    ntk_matrix_mut ov;
    ntk_test_fill(x1, N1 * N0, 1);
    ntk_test_fill(x2, N2 * N0, 2);
    ntk_test_set(out, sizeof out / sizeof out[0], SENTINEL);
    x1v = ntk_matrix_row_major(x1, N1, N0);
    x2v = ntk_matrix_row_major(x2, N2, N0);
    ov = ntk_matrix_row_major_mut(out, N1, N2);
#define K(net_, x1_, x2p_, mode_, method_, out_) ntk_kernel_empirical(net_, x1_, x2p_, mode_, method_, out_, NULL)
    /* NULL pointers */
    CHECK_ERROR(K(NULL, x1v, &x2v, 0, 0, ov), NTK_STATUS_NULL_POINTER, "network");
    bad = x1v;
    bad.data = NULL;
    CHECK_ERROR(K(net, bad, &x2v, 0, 0, ov), NTK_STATUS_NULL_POINTER, "x1");
    bad = x2v;
    bad.data = NULL;
    CHECK_ERROR(K(net, x1v, &bad, 0, 0, ov), NTK_STATUS_NULL_POINTER, "x2");
    {
        ntk_matrix_mut o2 = ov;
        o2.data = NULL;
        CHECK_ERROR(K(net, x1v, &x2v, 0, 0, o2), NTK_STATUS_NULL_POINTER, "out");
    }
    /* bad enum values */
    CHECK_ERROR(K(net, x1v, &x2v, -1, 0, ov), NTK_STATUS_INVALID_ARGUMENT, "mode");
    CHECK_ERROR(K(net, x1v, &x2v, 2, 0, ov), NTK_STATUS_INVALID_ARGUMENT, "mode");
    CHECK_ERROR(K(net, x1v, &x2v, 0, 3, ov), NTK_STATUS_INVALID_ARGUMENT, "method");
    CHECK_ERROR(K(net, x1v, &x2v, 0, -1, ov), NTK_STATUS_INVALID_ARGUMENT, "method");
    /* bad shapes: out of the other mode, transposed, x columns */
    CHECK_ERROR(K(net, x1v, &x2v, NTK_KERNEL_MODE_FULL, 0, ov), NTK_STATUS_INVALID_ARGUMENT, "out");
    CHECK_ERROR(K(net, x1v, &x2v, NTK_KERNEL_MODE_TRACE, 0, ntk_matrix_row_major_mut(out, N1 * NL, N2 * NL)),
                NTK_STATUS_INVALID_ARGUMENT, "out");
    CHECK_ERROR(K(net, x1v, &x2v, 0, 0, ntk_matrix_row_major_mut(out, N2, N1)), NTK_STATUS_INVALID_ARGUMENT, "out");
    CHECK_ERROR(K(net, x1v, NULL, 0, 0, ov), NTK_STATUS_INVALID_ARGUMENT, "out"); /* needs N1 x N1 */
    CHECK_ERROR(K(net, ntk_matrix_row_major(x1, N1, N0 - 1), &x2v, 0, 0, ov), NTK_STATUS_INVALID_ARGUMENT, "x1");
    bad = ntk_matrix_row_major(x2, N2, N0 - 1);
    CHECK_ERROR(K(net, x1v, &bad, 0, 0, ov), NTK_STATUS_INVALID_ARGUMENT, "x2");
    bad = x1v;
    bad.rows = 0;
    CHECK_ERROR(K(net, bad, &x2v, 0, 0, ntk_matrix_row_major_mut(out, 0, N2)), NTK_STATUS_INVALID_ARGUMENT, "");
    /* aliasing output strides */
    {
        ntk_matrix_mut o2 = ov;
        o2.row_stride = 0;
        CHECK_ERROR(K(net, x1v, &x2v, 0, 0, o2), NTK_STATUS_INVALID_ARGUMENT, "out");
        o2 = ov;
        o2.row_stride = 1;
        o2.col_stride = 1;
        CHECK_ERROR(K(net, x1v, &x2v, 0, 0, o2), NTK_STATUS_INVALID_ARGUMENT, "out");
        o2 = ov;
        o2.col_stride = PTRDIFF_MAX;
        CHECK_ERROR(K(net, x1v, &x2v, 0, 0, o2), NTK_STATUS_ALLOCATION, "out");
    }
    /* non-finite inputs name the argument */
    x1[1 * N0 + 2] = NAN;
    CHECK_ERROR(K(net, x1v, &x2v, 0, 0, ov), NTK_STATUS_NON_FINITE, "x1");
    x1[1 * N0 + 2] = 0.25;
    x2[N2 * N0 - 1] = -INFINITY;
    CHECK_ERROR(K(net, x1v, &x2v, 0, 0, ov), NTK_STATUS_NON_FINITE, "x2");
    x2[N2 * N0 - 1] = 0.5;
    CHECK(ntk_test_all_bits(out, sizeof out / sizeof out[0], SENTINEL));
    /* output overlapping x1 or x2 */
    ntk_test_set(shared, 64, 0.125);
    {
        ntk_matrix s1 = ntk_matrix_row_major(shared, N1, N0);
        ntk_matrix s2 = ntk_matrix_row_major(shared + 20, N2, N0);
        CHECK_ERROR(K(net, s1, &x2v, 0, 0, ntk_matrix_row_major_mut(shared + 2, N1, N2)),
                    NTK_STATUS_INVALID_ARGUMENT, "overlap");
        CHECK_ERROR(K(net, x1v, &s2, 0, 0, ntk_matrix_row_major_mut(shared + 10, N1, N2)),
                    NTK_STATUS_INVALID_ARGUMENT, "overlap");
        CHECK_ERROR(K(net, s1, NULL, 0, 0, ntk_matrix_row_major_mut(shared, N1, N1)), NTK_STATUS_INVALID_ARGUMENT,
                    "overlap");
        CHECK(ntk_test_all_bits(shared, 64, 0.125));
        /* adjacent is fine */
        CHECK_STATUS(K(net, s1, NULL, 0, 0, ntk_matrix_row_major_mut(shared + N1 * N0, N1, N1)), NTK_STATUS_OK);
    }
#undef K
    ntk_network_free(net);
}

static void test_jacobian_errors(void) {
    ntk_network *net = make_net(NTK_ACTIVATION_TANH);
    double x[N1 * N0], jac[N1 * NL * NP + 4], shared[N1 * N0 + N1 * NL * NP];
    ntk_matrix xv, bad;
    ntk_matrix_mut jv, badm;
    ntk_test_fill(x, N1 * N0, 4);
    ntk_test_set(jac, N1 * NL * NP + 4, SENTINEL);
    xv = ntk_matrix_row_major(x, N1, N0);
    jv = ntk_matrix_row_major_mut(jac, N1 * NL, NP);
    CHECK_ERROR(ntk_network_jacobian(NULL, xv, jv, NULL), NTK_STATUS_NULL_POINTER, "network");
    bad = xv;
    bad.data = NULL;
    CHECK_ERROR(ntk_network_jacobian(net, bad, jv, NULL), NTK_STATUS_NULL_POINTER, "x");
    badm = jv;
    badm.data = NULL;
    CHECK_ERROR(ntk_network_jacobian(net, xv, badm, NULL), NTK_STATUS_NULL_POINTER, "out");
    CHECK_ERROR(ntk_network_jacobian(net, xv, ntk_matrix_row_major_mut(jac, N1, NP), NULL), NTK_STATUS_INVALID_ARGUMENT,
                "out");
    CHECK_ERROR(ntk_network_jacobian(net, xv, ntk_matrix_row_major_mut(jac, N1 * NL, NP - 1), NULL),
                NTK_STATUS_INVALID_ARGUMENT, "out");
    CHECK_ERROR(ntk_network_jacobian(net, ntk_matrix_row_major(x, N1, N0 - 1), jv, NULL), NTK_STATUS_INVALID_ARGUMENT,
                "x");
    badm = jv;
    badm.col_stride = 0;
    CHECK_ERROR(ntk_network_jacobian(net, xv, badm, NULL), NTK_STATUS_INVALID_ARGUMENT, "out");
    x[5] = NAN;
    CHECK_ERROR(ntk_network_jacobian(net, xv, jv, NULL), NTK_STATUS_NON_FINITE, "x");
    x[5] = 0.0;
    CHECK(ntk_test_all_bits(jac, N1 * NL * NP + 4, SENTINEL));
    memcpy(shared, x, sizeof x);
    CHECK_ERROR(ntk_network_jacobian(net, ntk_matrix_row_major(shared, N1, N0),
                                     ntk_matrix_row_major_mut(shared + N1 * N0 - 1, N1 * NL, NP), NULL),
                NTK_STATUS_INVALID_ARGUMENT, "overlap");
    CHECK(memcmp(shared, x, sizeof x) == 0);
    ntk_network_free(net);
}

int main(void) {
    test_jacobian_vs_finite_differences(NTK_ACTIVATION_TANH, "tanh Jacobian vs finite differences");
    test_jacobian_vs_finite_differences(NTK_ACTIVATION_ERF, "erf Jacobian vs finite differences");
    test_kernels_vs_references();
    test_layouts_and_threads();
    test_progress();
    test_kernel_errors();
    test_jacobian_errors();
    return ntk_test_summary("test_empirical");
}
