/*
 * test_predict.c -- C API test of the trained ensemble's predictive law: ntk_predictor_create /
 * _free, ntk_predictor_test_create / _free, ntk_predictor_law and ntk_ensemble_law.
 *
 * Independent references, computed here in plain C without any eigendecomposition, on N = 3
 * training and M = 2 test points with jointly positive definite kernels Sigma (NNGP) and Theta:
 *  - finite t: Psi_t = K^{-1}(I - exp(-tK/N)) = (t/N) sum_j B^j/(j+1)!, B = -tK/N (Taylor series);
 *  - t = infinity: Psi = K^{-1} by cofactors;
 *  - mean = Theta_*x Psi y, cov = Sigma_** + Theta_*x Psi Sigma_xx Psi Theta_x*
 *    - (Theta_*x Psi Sigma_x* + transpose); the NNGP law with Theta := Sigma (the GP posterior
 *    Sigma_** - Sigma_*x Sigma^{-1} Sigma_x* at t = infinity).
 * Also: the prior at t = 0, variances (M x 1) against the diagonal, column-major outputs, the
 * relative ridge, every error class with outputs untouched, cancellation, and ntk_ensemble_law
 * against the handles fed with ntk_kernel_limit's kernels.
 */
#include "ntk_test.h"

#define N 3
#define M 2
#define K 2
#define P (N + M)
#define SENTINEL (-777.0)

static double SG[P * P], TH[P * P];
static double SXX[N * N], STX[M * N], STT[M * M], TXX[N * N], TTX[M * N], Y[N * K];

static void setup(void) {
    static const double a[P * 3] = {1.0, 0.2, -0.3, 0.4, 0.8, 0.1, -0.6, 0.3, 0.7,
                                    0.5, -0.4, 0.9, 0.2, 0.6, -0.1};
    static const double b[P * 2] = {0.3, -0.7, 0.9, 0.2, -0.4, 0.5, 0.6, 0.1, -0.2, 0.8};
    size_t i, j, l;
    for (i = 0; i < P; i++)
        for (j = 0; j < P; j++) {
            double s = i == j ? 0.05 : 0.0, t = 0.0;
            for (l = 0; l < 3; l++) s += a[i * 3 + l] * a[j * 3 + l];
            for (l = 0; l < 2; l++) t += b[i * 2 + l] * b[j * 2 + l];
            SG[i * P + j] = s;
            TH[i * P + j] = s + t;
        }
    for (i = 0; i < N; i++)
        for (j = 0; j < N; j++) {
            SXX[i * N + j] = SG[i * P + j];
            TXX[i * N + j] = TH[i * P + j];
        }
    for (i = 0; i < M; i++) {
        for (j = 0; j < N; j++) {
            STX[i * N + j] = SG[(N + i) * P + j];
            TTX[i * N + j] = TH[(N + i) * P + j];
        }
        for (j = 0; j < M; j++) STT[i * M + j] = SG[(N + i) * P + N + j];
    }
    ntk_test_fill(Y, N * K, 5);
}

static void matmul(const double *a, const double *b, double *c, size_t n, size_t m, size_t p) {
    size_t i, j, l;
    for (i = 0; i < n; i++)
        for (j = 0; j < p; j++) {
            double acc = 0.0;
            for (l = 0; l < m; l++) acc += a[i * m + l] * b[l * p + j];
            c[i * p + j] = acc;
        }
}

static void transpose(const double *a, double *t, size_t n, size_t m) {
    size_t i, j;
    for (i = 0; i < n; i++)
        for (j = 0; j < m; j++) t[j * n + i] = a[i * m + j];
}

/* Psi_t for the 3 x 3 kernel kx (plus ridge on the diagonal). */
static void psi(const double *kx, double ridge, double t, double *out) {
    double k[N * N];
    size_t i;
    for (i = 0; i < N * N; i++) k[i] = kx[i] + (i % (N + 1) == 0 ? ridge : 0.0);
    if (isinf(t)) {
        double det = k[0] * (k[4] * k[8] - k[5] * k[7]) - k[1] * (k[3] * k[8] - k[5] * k[6]) +
                     k[2] * (k[3] * k[7] - k[4] * k[6]);
        out[0] = (k[4] * k[8] - k[5] * k[7]) / det;
        out[1] = (k[2] * k[7] - k[1] * k[8]) / det;
        out[2] = (k[1] * k[5] - k[2] * k[4]) / det;
        out[3] = (k[5] * k[6] - k[3] * k[8]) / det;
        out[4] = (k[0] * k[8] - k[2] * k[6]) / det;
        out[5] = (k[2] * k[3] - k[0] * k[5]) / det;
        out[6] = (k[3] * k[7] - k[4] * k[6]) / det;
        out[7] = (k[1] * k[6] - k[0] * k[7]) / det;
        out[8] = (k[0] * k[4] - k[1] * k[3]) / det;
    } else {
        double b[N * N], term[N * N], next[N * N];
        size_t j;
        for (i = 0; i < N * N; i++) {
            b[i] = -t * k[i] / N;
            term[i] = (i % (N + 1) == 0) ? 1.0 : 0.0;
            out[i] = term[i];
        }
        for (j = 1; j < 80; j++) { /* term = B^j / (j+1)! */
            matmul(term, b, next, N, N, N);
            for (i = 0; i < N * N; i++) {
                term[i] = next[i] / (double)(j + 1);
                out[i] += term[i];
            }
        }
        for (i = 0; i < N * N; i++) out[i] *= t / N;
    }
}

/* Reference law: kernel kx/ktx (Theta or Sigma), prior Sigma. */
static void reference(const double *kx, const double *ktx, double ridge, double t, double *mean,
                      double *cov) {
    double ps[N * N], a[M * N], at[N * M], sa[N * M], c1[M * M], cross[M * M], stxt[N * M];
    size_t i, j;
    psi(kx, ridge, t, ps);
    matmul(ktx, ps, a, M, N, N); /* A = K_*x Psi */
    matmul(a, Y, mean, M, N, K);
    transpose(a, at, M, N);
    matmul(SXX, at, sa, N, N, M);
    matmul(a, sa, c1, M, N, M);
    transpose(STX, stxt, M, N);
    matmul(a, stxt, cross, M, N, M);
    for (i = 0; i < M; i++)
        for (j = 0; j < M; j++)
            cov[i * M + j] = STT[i * M + j] + c1[i * M + j] - cross[i * M + j] - cross[j * M + i];
}

static int cancel_always(void *user_data, uint64_t done, uint64_t total) {
    (void)done;
    (void)total;
    ++*(int *)user_data;
    return 1;
}

static void test_ntk_law(void) {
    ntk_predictor *pred = NULL;
    ntk_predictor_test *ts = NULL;
    double mean[M * K], cov[M * M], rmean[M * K], rcov[M * M], var[M], covc[M * M];
    double times[3] = {0.7, 6.0, INFINITY};
    size_t i, j;
    ntk_matrix_mut mv = ntk_matrix_row_major_mut(mean, M, K), cv = ntk_matrix_row_major_mut(cov, M, M);
    ntk_matrix_mut vv = ntk_matrix_row_major_mut(var, M, 1);
    ntk_matrix_mut ccol = ntk_matrix_col_major_mut(covc, M, M); /* column-major */
    ntk_matrix sxx = ntk_matrix_row_major(SXX, N, N), stx = ntk_matrix_row_major(STX, M, N);
    ntk_matrix stt = ntk_matrix_row_major(STT, M, M);
    CHECK_STATUS(ntk_predictor_create(NULL, ntk_matrix_row_major(TXX, N, N), &sxx, ntk_matrix_row_major(Y, N, K),
                                      NULL, &pred),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_predictor_test_create(pred, ntk_matrix_row_major(TTX, M, N), &stx, &stt, NULL, &ts),
                 NTK_STATUS_OK);
    ntk_predictor_free(pred); /* the test set shares the data */
    for (i = 0; i < 3; i++) {
        CHECK_STATUS(ntk_predictor_law(ts, times[i], &mv, &cv, NULL), NTK_STATUS_OK);
        reference(TXX, TTX, 0.0, times[i], rmean, rcov);
        ntk_test_close(mean, rmean, M * K, 1e-12, "NTK law mean");
        ntk_test_close(cov, rcov, M * M, 1e-12, "NTK law covariance");
        CHECK(cov[1] == cov[2]);
        CHECK_STATUS(ntk_predictor_law(ts, times[i], NULL, &vv, NULL), NTK_STATUS_OK);
        for (j = 0; j < M; j++) ntk_test_close(&var[j], &cov[j * M + j], 1, 1e-14, "variances");
        CHECK_STATUS(ntk_predictor_law(ts, times[i], NULL, &ccol, NULL), NTK_STATUS_OK);
        CHECK(ntk_test_same_bits(covc, cov, M * M, "column-major covariance (symmetric)"));
    }
    /* t = 0: the prior, exactly. */
    CHECK_STATUS(ntk_predictor_law(ts, 0.0, &mv, &cv, NULL), NTK_STATUS_OK);
    CHECK(ntk_test_same_bits(cov, STT, M * M, "prior at t = 0"));
    for (i = 0; i < M * K; i++) CHECK(mean[i] == 0.0);

    /* Errors: outputs untouched. */
    ntk_test_set(mean, M * K, SENTINEL);
    ntk_test_set(cov, M * M, SENTINEL);
    CHECK_ERROR(ntk_predictor_law(ts, -1.0, &mv, &cv, NULL), NTK_STATUS_INVALID_ARGUMENT, "t = -1");
    CHECK_ERROR(ntk_predictor_law(ts, NAN, &mv, &cv, NULL), NTK_STATUS_NON_FINITE, "t = NaN");
    CHECK_ERROR(ntk_predictor_law(ts, -INFINITY, &mv, &cv, NULL), NTK_STATUS_INVALID_ARGUMENT, "t");
    CHECK_ERROR(ntk_predictor_law(ts, 1.0, NULL, NULL, NULL), NTK_STATUS_NULL_POINTER, "mean");
    CHECK_ERROR(ntk_predictor_law(NULL, 1.0, &mv, &cv, NULL), NTK_STATUS_NULL_POINTER, "test");
    {
        ntk_matrix_mut bad = ntk_matrix_row_major_mut(cov, 1, M);
        ntk_matrix_mut badm = ntk_matrix_row_major_mut(mean, M, K + 1 - 1 - 1);
        ntk_matrix_mut overlap = ntk_matrix_strided_mut(mean, M, M, 1, 1); /* aliases itself */
        CHECK_ERROR(ntk_predictor_law(ts, 1.0, &mv, &bad, NULL), NTK_STATUS_INVALID_ARGUMENT, "cov");
        CHECK_ERROR(ntk_predictor_law(ts, 1.0, &badm, NULL, NULL), NTK_STATUS_INVALID_ARGUMENT, "mean");
        CHECK_ERROR(ntk_predictor_law(ts, 1.0, NULL, &overlap, NULL), NTK_STATUS_INVALID_ARGUMENT, "cov");
    }
    {
        int calls = 0;
        ntk_options opt = {cancel_always, NULL};
        opt.user_data = &calls;
        CHECK_STATUS(ntk_predictor_law(ts, 1.0, &mv, &cv, &opt), NTK_STATUS_CANCELLED);
        CHECK(calls == 1);
    }
    CHECK(ntk_test_all_bits(mean, M * K, SENTINEL));
    CHECK(ntk_test_all_bits(cov, M * M, SENTINEL));
    ntk_predictor_test_free(ts);
    ntk_predictor_test_free(NULL);
    ntk_predictor_free(NULL);
}

static void test_nngp_law_and_ridge(void) {
    ntk_predictor *pred = NULL;
    ntk_predictor_test *ts = NULL;
    double mean[M * K], cov[M * M], rmean[M * K], rcov[M * M];
    ntk_matrix_mut mv = ntk_matrix_row_major_mut(mean, M, K), cv = ntk_matrix_row_major_mut(cov, M, M);
    ntk_matrix stt = ntk_matrix_row_major(STT, M, M);
    ntk_predict_config cfg = {NTK_LAW_NNGP, 0.0, 0};
    double tr = (SXX[0] + SXX[4] + SXX[8]) / N;
    CHECK_STATUS(ntk_predictor_create(&cfg, ntk_matrix_row_major(SXX, N, N), NULL, ntk_matrix_row_major(Y, N, K),
                                      NULL, &pred),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_predictor_test_create(pred, ntk_matrix_row_major(STX, M, N), NULL, &stt, NULL, &ts),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_predictor_law(ts, INFINITY, &mv, &cv, NULL), NTK_STATUS_OK);
    reference(SXX, STX, 0.0, INFINITY, rmean, rcov); /* the GP posterior */
    ntk_test_close(mean, rmean, M * K, 1e-12, "NNGP posterior mean");
    ntk_test_close(cov, rcov, M * M, 1e-12, "NNGP posterior covariance");
    CHECK_STATUS(ntk_predictor_law(ts, 2.5, &mv, &cv, NULL), NTK_STATUS_OK);
    reference(SXX, STX, 0.0, 2.5, rmean, rcov);
    ntk_test_close(mean, rmean, M * K, 1e-12, "NNGP law mean, t = 2.5");
    ntk_test_close(cov, rcov, M * M, 1e-12, "NNGP law covariance, t = 2.5");
    ntk_predictor_test_free(ts);
    ntk_predictor_free(pred);

    /* NTK law with the relative ridge 0.1: K = Theta + 0.1 tr(Theta)/N I (means only). */
    {
        ntk_predict_config rc = {NTK_LAW_NTK, 0.1, 1};
        double trt = 0.1 * (TXX[0] + TXX[4] + TXX[8]) / N;
        CHECK_STATUS(ntk_predictor_create(&rc, ntk_matrix_row_major(TXX, N, N), NULL,
                                          ntk_matrix_row_major(Y, N, K), NULL, &pred),
                     NTK_STATUS_OK);
        CHECK_STATUS(ntk_predictor_test_create(pred, ntk_matrix_row_major(TTX, M, N), NULL, NULL, NULL, &ts),
                     NTK_STATUS_OK);
        CHECK_STATUS(ntk_predictor_law(ts, 3.0, &mv, NULL, NULL), NTK_STATUS_OK);
        reference(TXX, TTX, trt, 3.0, rmean, rcov);
        ntk_test_close(mean, rmean, M * K, 1e-12, "NTK law mean with relative ridge");
        CHECK_ERROR(ntk_predictor_law(ts, 3.0, &mv, &cv, NULL), NTK_STATUS_INVALID_ARGUMENT,
                    "nngp_test_test");
        ntk_predictor_test_free(ts);
        ntk_predictor_free(pred);
    }
    (void)tr;
}

static void test_create_errors(void) {
    ntk_predictor *pred = (ntk_predictor *)&SG; /* sentinel: must stay unchanged */
    ntk_predictor *const keep = pred;
    ntk_matrix txx = ntk_matrix_row_major(TXX, N, N), y = ntk_matrix_row_major(Y, N, K);
    ntk_matrix sxx = ntk_matrix_row_major(SXX, N, N);
    double indef[N * N] = {1.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0};
    double ybad[N * K];
    ntk_predict_config bad_law = {7, 0.0, 0}, neg = {NTK_LAW_NTK, -0.5, 0};
    ntk_predict_config nan_ridge = {NTK_LAW_NTK, NAN, 0}, nngp = {NTK_LAW_NNGP, 0.0, 0};
    memcpy(ybad, Y, sizeof ybad);
    ybad[3] = NAN;
    CHECK_ERROR(ntk_predictor_create(NULL, txx, NULL, y, NULL, NULL), NTK_STATUS_NULL_POINTER, "out");
    CHECK_ERROR(ntk_predictor_create(&bad_law, txx, NULL, y, NULL, &pred), NTK_STATUS_INVALID_ARGUMENT,
                "config.law");
    CHECK_ERROR(ntk_predictor_create(&neg, txx, NULL, y, NULL, &pred), NTK_STATUS_INVALID_ARGUMENT,
                "ridge");
    CHECK_ERROR(ntk_predictor_create(&nan_ridge, txx, NULL, y, NULL, &pred), NTK_STATUS_NON_FINITE,
                "ridge");
    CHECK_ERROR(ntk_predictor_create(NULL, ntk_matrix_row_major(indef, N, N), NULL, y, NULL, &pred),
                NTK_STATUS_NUMERICAL, "positive semi-definite");
    CHECK_ERROR(ntk_predictor_create(NULL, txx, NULL, ntk_matrix_row_major(ybad, N, K), NULL, &pred),
                NTK_STATUS_NON_FINITE, "y");
    CHECK_ERROR(ntk_predictor_create(NULL, ntk_matrix_row_major(TXX, N - 1, N - 1), NULL, y, NULL, &pred),
                NTK_STATUS_INVALID_ARGUMENT, "kernel_train");
    CHECK_ERROR(ntk_predictor_create(&nngp, sxx, &sxx, y, NULL, &pred), NTK_STATUS_INVALID_ARGUMENT,
                "nngp_train");
    {
        ntk_matrix asym = ntk_matrix_row_major(TTX, N - 1, N); /* 2 x 3: not square */
        CHECK_ERROR(ntk_predictor_create(NULL, txx, &asym, y, NULL, &pred),
                    NTK_STATUS_INVALID_ARGUMENT, "nngp_train");
    }
    CHECK(pred == keep);

    /* Test-set errors. */
    CHECK_STATUS(ntk_predictor_create(NULL, txx, &sxx, y, NULL, &pred), NTK_STATUS_OK);
    {
        ntk_predictor_test *ts = (ntk_predictor_test *)&SG, *const tkeep = ts;
        ntk_matrix stx = ntk_matrix_row_major(STX, M, N), stt = ntk_matrix_row_major(STT, M, M);
        ntk_matrix stt_bad = ntk_matrix_row_major(STT, M, M - 1);
        double nanstx[M * N];
        memcpy(nanstx, STX, sizeof nanstx);
        nanstx[4] = INFINITY;
        CHECK_ERROR(ntk_predictor_test_create(pred, ntk_matrix_row_major(TTX, M, N - 1), &stx, &stt, NULL, &ts),
                    NTK_STATUS_INVALID_ARGUMENT, "kernel_test_train");
        CHECK_ERROR(ntk_predictor_test_create(pred, ntk_matrix_row_major(TTX, M, N), &stx, &stt_bad, NULL, &ts),
                    NTK_STATUS_INVALID_ARGUMENT, "nngp_test_test");
        CHECK_ERROR(ntk_predictor_test_create(pred, ntk_matrix_row_major(TTX, M, N), &stx, NULL, NULL, &ts),
                    NTK_STATUS_INVALID_ARGUMENT, "nngp_test_train");
        {
            ntk_matrix nv = ntk_matrix_row_major(nanstx, M, N);
            CHECK_ERROR(ntk_predictor_test_create(pred, ntk_matrix_row_major(TTX, M, N), &nv, &stt, NULL, &ts),
                        NTK_STATUS_NON_FINITE, "nngp_test_train");
        }
        CHECK_ERROR(ntk_predictor_test_create(NULL, ntk_matrix_row_major(TTX, M, N), NULL, NULL, NULL, &ts),
                    NTK_STATUS_NULL_POINTER, "predictor");
        CHECK(ts == tkeep);
    }
    ntk_predictor_free(pred);
    {
        int calls = 0;
        ntk_options opt = {cancel_always, NULL};
        opt.user_data = &calls;
        pred = keep;
        CHECK_STATUS(ntk_predictor_create(NULL, txx, &sxx, y, &opt, &pred), NTK_STATUS_CANCELLED);
        CHECK(pred == keep && calls == 1);
    }
}

static void test_from_points(void) {
    size_t widths[] = {3, 64, 64, 2};
    ntk_network_config cfg;
    ntk_network *net = NULL;
    double xtr[N * 3], xte[M * 3], kth[N * N], ksg[N * N], tth[M * N], tsg[M * N], ssg[M * M];
    double mean[M * 2], cov[M * M], hmean[M * 2], hcov[M * M], var[M];
    ntk_predictor *pred = NULL;
    ntk_predictor_test *ts = NULL;
    ntk_matrix_mut mv = ntk_matrix_row_major_mut(mean, M, 2), cv = ntk_matrix_row_major_mut(cov, M, M);
    ntk_matrix_mut hmv = ntk_matrix_row_major_mut(hmean, M, 2), hcv = ntk_matrix_row_major_mut(hcov, M, M);
    ntk_matrix_mut vv = ntk_matrix_row_major_mut(var, M, 1);
    ntk_matrix xtrv, xtev, yv = ntk_matrix_row_major(Y, N, 2);
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = widths;
    cfg.num_widths = 4;
    cfg.activation = NTK_ACTIVATION_RELU;
    cfg.beta = 0.1;
    cfg.seed = 3;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    ntk_test_fill(xtr, N * 3, 31);
    ntk_test_fill(xte, M * 3, 32);
    xtrv = ntk_matrix_row_major(xtr, N, 3);
    xtev = ntk_matrix_row_major(xte, M, 3);
    {
        ntk_matrix_mut a = ntk_matrix_row_major_mut(ksg, N, N), b = ntk_matrix_row_major_mut(kth, N, N);
        ntk_matrix_mut c = ntk_matrix_row_major_mut(tsg, M, N), d = ntk_matrix_row_major_mut(tth, M, N);
        ntk_matrix_mut e = ntk_matrix_row_major_mut(ssg, M, M);
        CHECK_STATUS(ntk_kernel_limit(net, xtrv, NULL, &a, NULL, &b, NULL), NTK_STATUS_OK);
        CHECK_STATUS(ntk_kernel_limit(net, xtev, &xtrv, &c, NULL, &d, NULL), NTK_STATUS_OK);
        CHECK_STATUS(ntk_kernel_limit(net, xtev, NULL, &e, NULL, NULL, NULL), NTK_STATUS_OK);
    }
    {
        ntk_matrix s = ntk_matrix_row_major(ksg, N, N), st = ntk_matrix_row_major(tsg, M, N);
        ntk_matrix ss = ntk_matrix_row_major(ssg, M, M);
        CHECK_STATUS(ntk_predictor_create(NULL, ntk_matrix_row_major(kth, N, N), &s, yv, NULL, &pred),
                     NTK_STATUS_OK);
        CHECK_STATUS(ntk_predictor_test_create(pred, ntk_matrix_row_major(tth, M, N), &st, &ss, NULL, &ts),
                     NTK_STATUS_OK);
    }
    CHECK_STATUS(ntk_predictor_law(ts, 50.0, &hmv, &hcv, NULL), NTK_STATUS_OK);
    CHECK_STATUS(ntk_ensemble_law(net, NULL, xtrv, yv, xtev, 50.0, &mv, &cv, NULL), NTK_STATUS_OK);
    ntk_test_close(mean, hmean, M * 2, 1e-13, "ntk_ensemble_law mean vs handles");
    ntk_test_close(cov, hcov, M * M, 1e-13, "ntk_ensemble_law cov vs handles");
    CHECK_STATUS(ntk_ensemble_law(net, NULL, xtrv, yv, xtev, 50.0, NULL, &vv, NULL), NTK_STATUS_OK);
    CHECK(fabs(var[0] - hcov[0]) <= 1e-13 * hcov[0] && fabs(var[1] - hcov[3]) <= 1e-13 * hcov[3]);
    ntk_test_set(mean, M * 2, SENTINEL);
    CHECK_ERROR(ntk_ensemble_law(net, NULL, xtrv, ntk_matrix_row_major(Y, N, 1), xtev, 1.0, &mv, NULL, NULL),
                NTK_STATUS_INVALID_ARGUMENT, "y");
    CHECK_ERROR(ntk_ensemble_law(net, NULL, xtrv, yv, ntk_matrix_row_major(xte, M, 2), 1.0, &mv, NULL, NULL),
                NTK_STATUS_INVALID_ARGUMENT, "x_test");
    CHECK_ERROR(ntk_ensemble_law(NULL, NULL, xtrv, yv, xtev, 1.0, &mv, NULL, NULL),
                NTK_STATUS_NULL_POINTER, "network");
    {
        ntk_matrix_mut over = ntk_matrix_row_major_mut(xte, M, 2); /* overlaps the input x_test */
        CHECK_ERROR(ntk_ensemble_law(net, NULL, xtrv, yv, xtev, 1.0, &over, NULL, NULL),
                    NTK_STATUS_INVALID_ARGUMENT, "mean");
    }
    CHECK(ntk_test_all_bits(mean, M * 2, SENTINEL));
    ntk_predictor_test_free(ts);
    ntk_predictor_free(pred);
    ntk_network_free(net);
}

int main(void) {
    setup();
    test_ntk_law();
    test_nngp_law_and_ridge();
    test_create_errors();
    test_from_points();
    return ntk_test_summary("test_predict");
}
