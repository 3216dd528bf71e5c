/*
 * test_solve.c -- C API test of the kernel-regression solver (ntk_solver_*). Success: the limit
 * NTK solver's alpha equals a plain-loop Cholesky solve of (K + lambda I) alpha = Y with K from
 * ntk_kernel_limit (1e-9 relative), with and without the row cache (the same bits) and a
 * column-major y; predictions equal K(X*, X) alpha from ntk_kernel_limit with x2 given; the
 * progress callback sees (iteration, max_iterations) and ntk_solver_progress gives the residual;
 * cancel. Errors (outputs untouched): NULL for every pointer, unknown kernel, wrong n_0, NaN in
 * x / y / lambda / x_test / alpha, lambda < 0, rtol outside (0, 1), mismatched shapes, alpha
 * overlapping y, a huge broadcast x (ALLOCATION), too few iterations (NUMERICAL).
 */
#include "ntk_test.h"

#define N 150
#define M 37
#define D 3
#define K 2
#define SENTINEL (-12345.0)

static const size_t WIDTHS[] = {D, 8, 8, 1};

static int all_equal(const double *a, size_t n, double v) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (a[i] != v) return 0;
    }
    return 1;
}

static void sphere(double *x, size_t n, unsigned seed) {
    size_t i, j;
    for (i = 0; i < n; i++) {
        double s = 0.0;
        for (j = 0; j < D; j++) {
            x[i * D + j] = sin(1.7 * (double)(i * D + j) + 0.3 * seed) + 0.2 * cos((double)(i + seed));
            s += x[i * D + j] * x[i * D + j];
        }
        for (j = 0; j < D; j++) x[i * D + j] /= sqrt(s);
    }
}

/* Plain-loop Cholesky solve of (A + lambda I) x = b for the k columns (column-major b, x). */
static int dense_solve(const double *a, size_t n, double lambda, const double *b, size_t k, double *x) {
    double *l = malloc(n * n * sizeof *l);
    size_t i, j, p, c;
    if (!l) return 0;
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) l[i * n + j] = a[i * n + j] + (i == j ? lambda : 0.0);
    for (j = 0; j < n; j++) {
        double d = l[j * n + j];
        for (p = 0; p < j; p++) d -= l[j * n + p] * l[j * n + p];
        if (!(d > 0.0)) {
            free(l);
            return 0;
        }
        l[j * n + j] = sqrt(d);
        for (i = j + 1; i < n; i++) {
            double s = l[i * n + j];
            for (p = 0; p < j; p++) s -= l[i * n + p] * l[j * n + p];
            l[i * n + j] = s / l[j * n + j];
        }
    }
    for (c = 0; c < k; c++) {
        double *xc = x + c * n;
        for (i = 0; i < n; i++) {
            double s = b[c * n + i];
            for (p = 0; p < i; p++) s -= l[i * n + p] * xc[p];
            xc[i] = s / l[i * n + i];
        }
        for (i = n; i-- > 0;) {
            double s = xc[i];
            for (p = i + 1; p < n; p++) s -= l[p * n + i] * xc[p];
            xc[i] = s / l[i * n + i];
        }
    }
    free(l);
    return 1;
}

static double rel_diff(const double *a, const double *b, size_t n) {
    double num = 0.0, den = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

typedef struct {
    const ntk_solver *solver;
    int calls;
    int cancel_at;
    uint64_t last_total;
    size_t last_iteration;
    double last_residual;
    int monotone;
    uint64_t last_done;
} progress_state;

static int on_progress(void *ud, uint64_t done, uint64_t total) {
    progress_state *s = (progress_state *)ud;
    s->calls++;
    if (done < s->last_done) s->monotone = 0;
    s->last_done = done;
    s->last_total = total;
    if (ntk_solver_progress(s->solver, &s->last_iteration, &s->last_residual) != NTK_STATUS_OK) s->monotone = 0;
    return s->cancel_at > 0 && s->calls >= s->cancel_at;
}

int main(void) {
    static double x[N * D], xt[M * D], kern[N * N], kx[M * N], y[N * K], want[N * K], alpha[N * K],
        alpha2[N * K], pred[M * K], pref[M * K], ycm[K * N];
    ntk_network_config cfg;
    ntk_network *net = NULL;
    ntk_solver *solver = NULL, *cached = NULL, *out = NULL;
    ntk_solver_config sc;
    ntk_solve_info info;
    ntk_matrix_mut kv;
    ntk_matrix xv;
    size_t i, j, n_points = 0, rank = 0, rows = 0;
    double trace = 0.0, tres = 0.0, lambda;
    progress_state ps;
    ntk_options opts;

    memset(&cfg, 0, sizeof cfg);
    cfg.widths = WIDTHS;
    cfg.num_widths = 4;
    cfg.activation = NTK_ACTIVATION_RELU;
    cfg.beta = 0.1;
    cfg.seed = 3;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    sphere(x, N, 1);
    sphere(xt, M, 2);
    for (j = 0; j < K; j++)
        for (i = 0; i < N; i++) y[j * N + i] = sin(3.0 * x[i * D] + (double)j) + x[i * D + 1] * (double)(j + 1);

    kv = ntk_matrix_row_major_mut(kern, N, N);
    CHECK_STATUS(ntk_kernel_limit(net, ntk_matrix_row_major(x, N, D), NULL, NULL, NULL, &kv, NULL), NTK_STATUS_OK);

    sc.kernel = NTK_SOLVER_KERNEL_LIMIT_NTK;
    sc.cache_bytes = 0;
    sc.precond_rank = 20;
    CHECK_STATUS(ntk_solver_create(net, ntk_matrix_row_major(x, N, D), &sc, NULL, &solver), NTK_STATUS_OK);
    CHECK_STATUS(ntk_solver_describe(solver, &n_points, &rank, &rows, &trace, &tres), NTK_STATUS_OK);
    CHECK(n_points == N && rank == 20 && rows == 0);
    CHECK(trace > 0.0 && tres >= 0.0 && tres < trace);
    CHECK_STATUS(ntk_solver_describe(solver, NULL, NULL, NULL, NULL, NULL), NTK_STATUS_OK);
    lambda = 1e-4 * trace / N;

    /* Success against the dense plain-loop Cholesky; y column-major (k columns). */
    CHECK(dense_solve(kern, N, lambda, y, K, want));
    ntk_test_set(alpha, N * K, SENTINEL);
    memset(&info, 0, sizeof info);
    CHECK_STATUS(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 1e-12, 1000, ntk_matrix_col_major_mut(alpha, N, K),
                                  &info, NULL),
                 NTK_STATUS_OK);
    CHECK(info.iterations > 0 && info.kernel_passes > info.iterations && info.residual <= 1e-12);
    CHECK(rel_diff(alpha, want, N * K) < 1e-9);
    printf("test_solve: N = %d, %zu iterations, residual %.2e, |alpha - dense|/|dense| = %.2e\n", N,
           info.iterations, info.residual, rel_diff(alpha, want, N * K));

    /* Cached rows (all of them): the same bits; y and alpha row-major this time. */
    sc.cache_bytes = (size_t)N * N * 8;
    CHECK_STATUS(ntk_solver_create(net, ntk_matrix_row_major(x, N, D), &sc, NULL, &cached), NTK_STATUS_OK);
    CHECK_STATUS(ntk_solver_describe(cached, NULL, NULL, &rows, NULL, NULL), NTK_STATUS_OK);
    CHECK(rows == N);
    for (j = 0; j < K; j++)
        for (i = 0; i < N; i++) ycm[i * K + j] = y[j * N + i];
    CHECK_STATUS(ntk_solver_solve(cached, lambda, ntk_matrix_row_major(ycm, N, K), 1e-12, 1000, ntk_matrix_row_major_mut(alpha2, N, K),
                                  NULL, NULL),
                 NTK_STATUS_OK);
    for (j = 0; j < K; j++)
        for (i = 0; i < N; i++) CHECK(alpha2[i * K + j] == alpha[j * N + i]);

    /* Predictions vs K(X*, X) alpha. */
    kv = ntk_matrix_row_major_mut(kx, M, N);
    xv = ntk_matrix_row_major(x, N, D);
    CHECK_STATUS(ntk_kernel_limit(net, ntk_matrix_row_major(xt, M, D), &xv, NULL, NULL, &kv, NULL),
                 NTK_STATUS_OK);
    for (i = 0; i < M; i++)
        for (j = 0; j < K; j++) {
            double s = 0.0;
            size_t c;
            for (c = 0; c < N; c++) s += kx[i * N + c] * alpha[j * N + c];
            pref[i * K + j] = s;
        }
    CHECK_STATUS(ntk_solver_predict(solver, ntk_matrix_row_major(xt, M, D), ntk_matrix_col_major(alpha, N, K), ntk_matrix_row_major_mut(pred, M, K),
                                    NULL),
                 NTK_STATUS_OK);
    CHECK(rel_diff(pred, pref, M * K) < 1e-13);

    /* Progress and cancel. */
    memset(&ps, 0, sizeof ps);
    ps.solver = solver;
    ps.monotone = 1;
    opts.progress = on_progress;
    opts.user_data = &ps;
    CHECK_STATUS(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 1e-12, 1000, ntk_matrix_col_major_mut(alpha2, N, K), NULL,
                                  &opts),
                 NTK_STATUS_OK);
    CHECK(ps.calls > (int)info.iterations && ps.monotone && ps.last_total == 1000);
    CHECK(ps.last_iteration == info.iterations && ps.last_residual <= 1e-12);
    memset(&ps, 0, sizeof ps);
    ps.solver = solver;
    ps.monotone = 1;
    ps.cancel_at = 3;
    ntk_test_set(alpha2, N * K, SENTINEL);
    CHECK_STATUS(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 1e-12, 1000, ntk_matrix_col_major_mut(alpha2, N, K), NULL,
                                  &opts),
                 NTK_STATUS_CANCELLED);
    CHECK(all_equal(alpha2, N * K, SENTINEL));
    ps.calls = 0;
    ps.cancel_at = 1;
    CHECK_STATUS(ntk_solver_create(net, ntk_matrix_row_major(x, N, D), &sc, &opts, &out), NTK_STATUS_CANCELLED);
    CHECK(out == NULL);

    /* Errors: NULLs. */
    sc.cache_bytes = 0;
    CHECK_ERROR(ntk_solver_create(NULL, ntk_matrix_row_major(x, N, D), &sc, NULL, &out), NTK_STATUS_NULL_POINTER, "network");
    CHECK_ERROR(ntk_solver_create(net, ntk_matrix_row_major(x, N, D), NULL, NULL, &out), NTK_STATUS_NULL_POINTER, "config");
    CHECK_ERROR(ntk_solver_create(net, ntk_matrix_row_major(x, N, D), &sc, NULL, NULL), NTK_STATUS_NULL_POINTER, "out");
    CHECK_ERROR(ntk_solver_create(net, ntk_matrix_row_major(NULL, N, D), &sc, NULL, &out), NTK_STATUS_NULL_POINTER, "x");
    CHECK_ERROR(ntk_solver_solve(NULL, lambda, ntk_matrix_col_major(y, N, K), 1e-12, 10, ntk_matrix_col_major_mut(alpha2, N, K), NULL,
                                 NULL),
                NTK_STATUS_NULL_POINTER, "solver");
    CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(NULL, N, K), 1e-12, 10, ntk_matrix_col_major_mut(alpha2, N, K),
                                 NULL, NULL),
                NTK_STATUS_NULL_POINTER, "y");
    CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 1e-12, 10, ntk_matrix_col_major_mut(NULL, N, K), NULL,
                                 NULL),
                NTK_STATUS_NULL_POINTER, "alpha");
    CHECK_ERROR(ntk_solver_predict(NULL, ntk_matrix_row_major(xt, M, D), ntk_matrix_col_major(alpha, N, K), ntk_matrix_row_major_mut(pred, M, K),
                                   NULL),
                NTK_STATUS_NULL_POINTER, "solver");
    CHECK_ERROR(ntk_solver_predict(solver, ntk_matrix_row_major(NULL, M, D), ntk_matrix_col_major(alpha, N, K),
                                   ntk_matrix_row_major_mut(pred, M, K), NULL),
                NTK_STATUS_NULL_POINTER, "x_test");
    CHECK_ERROR(ntk_solver_progress(NULL, NULL, NULL), NTK_STATUS_NULL_POINTER, "solver");
    CHECK_ERROR(ntk_solver_describe(NULL, NULL, NULL, NULL, NULL, NULL), NTK_STATUS_NULL_POINTER, "solver");
    CHECK(out == NULL);
    ntk_solver_free(NULL);

    /* Invalid arguments. */
    sc.kernel = 7;
    CHECK_ERROR(ntk_solver_create(net, ntk_matrix_row_major(x, N, D), &sc, NULL, &out), NTK_STATUS_INVALID_ARGUMENT,
                "config.kernel = 7");
    sc.kernel = NTK_SOLVER_KERNEL_LIMIT_NNGP;
    CHECK_ERROR(ntk_solver_create(net, ntk_matrix_strided(x, N, D - 1, D, 1), &sc, NULL, &out), NTK_STATUS_INVALID_ARGUMENT,
                "n_0");
    ntk_test_set(alpha2, N * K, SENTINEL);
    CHECK_ERROR(ntk_solver_solve(solver, -1.0, ntk_matrix_col_major(y, N, K), 1e-12, 10, ntk_matrix_col_major_mut(alpha2, N, K), NULL,
                                 NULL),
                NTK_STATUS_INVALID_ARGUMENT, "lambda");
    CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 0.0, 10, ntk_matrix_col_major_mut(alpha2, N, K), NULL,
                                 NULL),
                NTK_STATUS_INVALID_ARGUMENT, "rtol");
    CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 1.5, 10, ntk_matrix_col_major_mut(alpha2, N, K), NULL,
                                 NULL),
                NTK_STATUS_INVALID_ARGUMENT, "rtol");
    CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_strided(y, N - 1, K, 1, N), 1e-12, 10, ntk_matrix_strided_mut(alpha2, N - 1, K, 1, N),
                                 NULL, NULL),
                NTK_STATUS_INVALID_ARGUMENT, "y");
    CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 1e-12, 10, ntk_matrix_col_major_mut(alpha2, N, 1), NULL,
                                 NULL),
                NTK_STATUS_INVALID_ARGUMENT, "alpha");
    CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 1e-12, 10, ntk_matrix_col_major_mut(y, N, K), NULL, NULL),
                NTK_STATUS_INVALID_ARGUMENT, "overlaps");
    CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 1e-12, 10, ntk_matrix_strided_mut(alpha2, N, K, 0, N), NULL,
                                 NULL),
                NTK_STATUS_INVALID_ARGUMENT, "alpha");
    CHECK_ERROR(ntk_solver_predict(solver, ntk_matrix_strided(xt, M, D - 1, D, 1), ntk_matrix_col_major(alpha, N, K),
                                   ntk_matrix_row_major_mut(pred, M, K), NULL),
                NTK_STATUS_INVALID_ARGUMENT, "x_test");
    CHECK_ERROR(ntk_solver_predict(solver, ntk_matrix_row_major(xt, M, D), ntk_matrix_strided(alpha, N - 1, K, 1, N),
                                   ntk_matrix_row_major_mut(pred, M, K), NULL),
                NTK_STATUS_INVALID_ARGUMENT, "alpha");
    CHECK_ERROR(ntk_solver_predict(solver, ntk_matrix_row_major(xt, M, D), ntk_matrix_col_major(alpha, N, K),
                                   ntk_matrix_row_major_mut(pred, M - 1, K), NULL),
                NTK_STATUS_INVALID_ARGUMENT, "out");
    CHECK_ERROR(ntk_solver_predict(solver, ntk_matrix_row_major(xt, M, D), ntk_matrix_col_major(alpha, N, K),
                                   ntk_matrix_row_major_mut(alpha, M, K), NULL),
                NTK_STATUS_INVALID_ARGUMENT, "overlaps");

    /* Non-finite values, named. */
    {
        static double xb[N * D], yb[N * K], ab[N * K];
        memcpy(xb, x, sizeof x);
        memcpy(yb, y, sizeof y);
        memcpy(ab, alpha, sizeof alpha);
        xb[5 * D + 1] = NAN;
        yb[N + 9] = INFINITY;
        ab[4] = NAN;
        CHECK_ERROR(ntk_solver_create(net, ntk_matrix_row_major(xb, N, D), &sc, NULL, &out), NTK_STATUS_NON_FINITE, "x");
        ntk_test_set(alpha2, N * K, SENTINEL);
        CHECK_ERROR(ntk_solver_solve(solver, NAN, ntk_matrix_col_major(y, N, K), 1e-12, 10, ntk_matrix_col_major_mut(alpha2, N, K), NULL,
                                     NULL),
                    NTK_STATUS_NON_FINITE, "lambda");
        CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(yb, N, K), 1e-12, 10, ntk_matrix_col_major_mut(alpha2, N, K),
                                     NULL, NULL),
                    NTK_STATUS_NON_FINITE, "y[9, 1]");
        CHECK(all_equal(alpha2, N * K, SENTINEL));
        ntk_test_set(pred, M * K, SENTINEL);
        CHECK_ERROR(ntk_solver_predict(solver, ntk_matrix_row_major(xb, M, D), ntk_matrix_col_major(alpha, N, K),
                                       ntk_matrix_row_major_mut(pred, M, K), NULL),
                    NTK_STATUS_NON_FINITE, "x_test[5, 1]");
        CHECK_ERROR(ntk_solver_predict(solver, ntk_matrix_row_major(xt, M, D), ntk_matrix_col_major(ab, N, K), ntk_matrix_row_major_mut(pred, M, K),
                                       NULL),
                    NTK_STATUS_NON_FINITE, "alpha[4, 0]");
        CHECK(all_equal(pred, M * K, SENTINEL));
    }

    /* A broadcast x of 2^40 points cannot be allocated: ALLOCATION, not an abort. */
    CHECK_STATUS(ntk_solver_create(net, ntk_matrix_strided(x, (size_t)1 << 40, D, 0, 1), &sc, NULL, &out),
                 NTK_STATUS_ALLOCATION);
    CHECK(out == NULL);

    /* Too few iterations: NUMERICAL, alpha untouched. */
    ntk_test_set(alpha2, N * K, SENTINEL);
    CHECK_ERROR(ntk_solver_solve(solver, lambda, ntk_matrix_col_major(y, N, K), 1e-12, 2, ntk_matrix_col_major_mut(alpha2, N, K), NULL,
                                 NULL),
                NTK_STATUS_NUMERICAL, "max_iterations = 2");
    CHECK(all_equal(alpha2, N * K, SENTINEL));

    ntk_solver_free(cached);
    ntk_solver_free(solver);
    ntk_network_free(net);
    return ntk_test_summary("test_solve");
}
