/*
 * test_train.c -- C API test of ntk_network_train (full-batch gradient descent).
 *
 * Independent references, computed here in plain C:
 *  - loss_history[s] vs the loss recomputed from a plain-loop forward pass
 *    (ntk_test_forward_reference) at the initial and final parameters; the loss decreases;
 *  - one step: theta_1 = theta_0 - (eta/N) J^T d (J from ntk_network_jacobian, d = f - y for MSE,
 *    softmax(f) - y for cross-entropy), and the output change f_1 - f_0 ~ -(eta/N) Theta d with
 *    Theta the FULL empirical kernel, up to O(eta^2);
 *  - s steps at once vs s single steps (bitwise), 1 vs 3 worker threads (bitwise), cancellation
 *    after s steps vs s steps (bitwise), divergence restoring finite parameters;
 * and every error class, with parameters and sentinel-filled loss_history untouched.
 */
#include "ntk_test.h"

#include <stdint.h>

#define N 5
#define N0 3
#define NL 2
#define NP 80u
#define SENTINEL (-12345.0)

static const size_t WIDTHS[] = {N0, 7, 5, NL};
static double X[N * N0], Y[N * NL], YP[N * NL]; /* YP: probability targets */

static ntk_network *make_net(void) {
    ntk_network_config cfg;
    ntk_network *net = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = WIDTHS;
    cfg.num_widths = sizeof WIDTHS / sizeof WIDTHS[0];
    cfg.activation = NTK_ACTIVATION_TANH;
    cfg.beta = 0.3;
    cfg.seed = 11;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    return net;
}

static void outputs_from_params(const double *theta, double *f) {
    CHECK(ntk_test_forward_reference(WIDTHS, 4, theta, 0.3, ntk_test_tanh, NULL, X, N, f));
}

static double mse(const double *f) {
    double acc = 0.0;
    size_t i;
    for (i = 0; i < N * NL; i++) acc += 0.5 * (f[i] - Y[i]) * (f[i] - Y[i]);
    return acc / N;
}

/* d = dc/df: MSE f - y; cross-entropy softmax(f) - y. */
static void residual(const double *f, int cost, double *d) {
    size_t i, a;
    for (i = 0; i < N; i++) {
        if (cost == NTK_COST_MSE) {
            for (a = 0; a < NL; a++) d[i * NL + a] = f[i * NL + a] - Y[i * NL + a];
        } else {
            double mx = fmax(f[i * NL], f[i * NL + 1]), s = 0.0;
            for (a = 0; a < NL; a++) s += exp(f[i * NL + a] - mx);
            for (a = 0; a < NL; a++) d[i * NL + a] = exp(f[i * NL + a] - mx) / s - YP[i * NL + a];
        }
    }
}

static void test_loss_history(void) {
    ntk_network *net = make_net();
    double theta[NP], f[N * NL], hist[31];
    size_t s;
    CHECK_STATUS(ntk_network_get_params(net, theta, NP), NTK_STATUS_OK);
    outputs_from_params(theta, f);
    ntk_test_set(hist, 31, SENTINEL);
    CHECK_STATUS(ntk_network_train(net, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(Y, N, NL), NTK_COST_MSE, 0.5, 30,
                                   hist, NULL),
                 NTK_STATUS_OK);
    ntk_test_close(&hist[0], (double[]){mse(f)}, 1, 1e-13, "loss_history[0] vs plain-loop loss");
    for (s = 1; s <= 30; s++) CHECK(hist[s] < hist[s - 1]);
    CHECK(hist[30] < 0.5 * hist[0]);
    CHECK_STATUS(ntk_network_get_params(net, theta, NP), NTK_STATUS_OK);
    outputs_from_params(theta, f);
    ntk_test_close(&hist[30], (double[]){mse(f)}, 1, 1e-13, "loss_history[steps] vs plain-loop loss at theta_s");
    /* steps = 0: only the loss, parameters unchanged */
    {
        double before[NP], after[NP], h0[2] = {SENTINEL, SENTINEL};
        CHECK_STATUS(ntk_network_get_params(net, before, NP), NTK_STATUS_OK);
        CHECK_STATUS(ntk_network_train(net, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(Y, N, NL), NTK_COST_MSE, 0.5, 0,
                                       h0, NULL),
                     NTK_STATUS_OK);
        CHECK_STATUS(ntk_network_get_params(net, after, NP), NTK_STATUS_OK);
        ntk_test_same_bits(before, after, NP, "steps = 0 leaves the parameters");
        ntk_test_close(&h0[0], &hist[30], 1, 1e-15, "steps = 0 loss");
        CHECK(h0[1] == SENTINEL);
    }
    ntk_network_free(net);
}

static void test_one_step(int cost, const char *what_theta, const char *what_f) {
    ntk_network *net = make_net();
    const double *y = cost == NTK_COST_MSE ? Y : YP;
    double theta0[NP], theta1[NP], want[NP], f0[N * NL], f1[N * NL], d[N * NL], jac[N * NL * NP];
    double theta_k[N * NL * N * NL], pred[N * NL], df[N * NL];
    const double eta = 1e-4;
    size_t p, r, c;
    CHECK_STATUS(ntk_network_get_params(net, theta0, NP), NTK_STATUS_OK);
    outputs_from_params(theta0, f0);
    residual(f0, cost, d);
    CHECK_STATUS(ntk_network_jacobian(net, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major_mut(jac, N * NL, NP), NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_kernel_empirical(net, ntk_matrix_row_major(X, N, N0), NULL, NTK_KERNEL_MODE_FULL,
                                      NTK_KERNEL_METHOD_AUTO, ntk_matrix_row_major_mut(theta_k, N * NL, N * NL), NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_train(net, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(y, N, NL), cost, eta, 1, NULL, NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(net, theta1, NP), NTK_STATUS_OK);
    for (p = 0; p < NP; p++) {
        double g = 0.0;
        for (r = 0; r < N * NL; r++) g += jac[r * NP + p] * d[r];
        want[p] = theta0[p] - eta / N * g;
    }
    ntk_test_close(theta1, want, NP, 1e-15, what_theta);
    /* f_1 - f_0 = -(eta/N) Theta d + O(eta^2) */
    outputs_from_params(theta1, f1);
    for (r = 0; r < N * NL; r++) {
        double acc = 0.0;
        for (c = 0; c < N * NL; c++) acc += theta_k[r * N * NL + c] * d[c];
        pred[r] = -eta / N * acc;
        df[r] = f1[r] - f0[r];
    }
    {
        double err = 0.0, scale = 0.0;
        for (r = 0; r < N * NL; r++) {
            err = fmax(err, fabs(df[r] - pred[r]));
            scale = fmax(scale, fabs(pred[r]));
        }
        ntk_test_checks++;
        if (!(scale > 0.0 && err <= 1e-2 * scale)) {
            ntk_test_failures++;
            fprintf(stderr, "%s: |df - pred| = %g vs |pred| = %g\n", what_f, err, scale);
        }
    }
    ntk_network_free(net);
}

static void test_cross_entropy_decreases(void) {
    ntk_network *net = make_net();
    double hist[21];
    size_t s;
    CHECK_STATUS(ntk_network_train(net, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(YP, N, NL), NTK_COST_CROSS_ENTROPY,
                                   1.0, 20, hist, NULL),
                 NTK_STATUS_OK);
    for (s = 1; s <= 20; s++) CHECK(hist[s] < hist[s - 1]);
    /* cross-entropy of probability targets is at least their entropy, here > 0 */
    CHECK(hist[20] > 0.0);
    ntk_network_free(net);
}

static void test_determinism(void) {
    ntk_network *a = make_net(), *b = make_net(), *c = make_net();
    double ta[NP], tb[NP], tc[NP], ha[6], hb[6];
    size_t threads = 0, s;
    CHECK_STATUS(ntk_get_num_threads(&threads), NTK_STATUS_OK);
    CHECK_STATUS(ntk_set_num_threads(1), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_train(a, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(Y, N, NL), NTK_COST_MSE, 0.3, 5, ha,
                                   NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_set_num_threads(3), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_train(b, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(Y, N, NL), NTK_COST_MSE, 0.3, 5, hb,
                                   NULL),
                 NTK_STATUS_OK);
    for (s = 0; s < 5; s++)
        CHECK_STATUS(ntk_network_train(c, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(Y, N, NL), NTK_COST_MSE, 0.3, 1,
                                       NULL, NULL),
                     NTK_STATUS_OK);
    CHECK_STATUS(ntk_set_num_threads(threads), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(a, ta, NP), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(b, tb, NP), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(c, tc, NP), NTK_STATUS_OK);
    ntk_test_same_bits(ta, tb, NP, "training, 1 vs 3 threads");
    ntk_test_same_bits(ha, hb, 6, "loss history, 1 vs 3 threads");
    ntk_test_same_bits(ta, tc, NP, "5 steps vs 5 single steps");
    ntk_network_free(a);
    ntk_network_free(b);
    ntk_network_free(c);
}

struct cancel_state {
    uint64_t at;
    uint64_t last_done;
    uint64_t last_total;
};
static int cancel_at(void *user_data, uint64_t done, uint64_t total) {
    struct cancel_state *st = (struct cancel_state *)user_data;
    st->last_done = done;
    st->last_total = total;
    return done >= st->at;
}

static void test_cancel(void) {
    ntk_network *net = make_net(), *ref = make_net();
    double hist[11], href[4], t1[NP], t2[NP];
    struct cancel_state st = {3, 0, 0};
    ntk_options opt;
    opt.progress = cancel_at;
    opt.user_data = &st;
    ntk_test_set(hist, 11, SENTINEL);
    CHECK_STATUS(ntk_network_train(net, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(Y, N, NL), NTK_COST_MSE, 0.3, 10,
                                   hist, &opt),
                 NTK_STATUS_CANCELLED);
    CHECK(st.last_done == 3 && st.last_total == 10);
    CHECK_STATUS(ntk_network_train(ref, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(Y, N, NL), NTK_COST_MSE, 0.3, 3,
                                   href, NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(net, t1, NP), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(ref, t2, NP), NTK_STATUS_OK);
    ntk_test_same_bits(t1, t2, NP, "cancelled after 3 steps = 3 steps");
    ntk_test_same_bits(hist, href, 4, "history of the completed steps");
    CHECK(ntk_test_all_bits(hist + 4, 7, SENTINEL));
    ntk_network_free(net);
    ntk_network_free(ref);
}

static void test_divergence(void) {
    ntk_network *net = make_net();
    double theta[NP], hist[101];
    size_t p;
    CHECK_ERROR(ntk_network_train(net, ntk_matrix_row_major(X, N, N0), ntk_matrix_row_major(Y, N, NL), NTK_COST_MSE, 1e150, 100,
                                  hist, NULL),
                NTK_STATUS_NUMERICAL, "not finite");
    CHECK_STATUS(ntk_network_get_params(net, theta, NP), NTK_STATUS_OK);
    for (p = 0; p < NP; p++) CHECK(isfinite(theta[p]));
    ntk_network_free(net);
}

static void test_errors(void) {
    ntk_network *net = make_net();
    double before[NP], after[NP], hist[6], xb[N * N0], yb[N * NL], shared[N * N0 + 8];
    ntk_matrix xv = ntk_matrix_row_major(X, N, N0), yv = ntk_matrix_row_major(Y, N, NL), bad;
    CHECK_STATUS(ntk_network_get_params(net, before, NP), NTK_STATUS_OK);
    ntk_test_set(hist, 6, SENTINEL);
#define T(net_, x_, y_, cost_, lr_, steps_, h_) ntk_network_train(net_, x_, y_, cost_, lr_, steps_, h_, NULL)
    CHECK_ERROR(T(NULL, xv, yv, 0, 0.1, 5, hist), NTK_STATUS_NULL_POINTER, "network");
    bad = xv;
    bad.data = NULL;
    CHECK_ERROR(T(net, bad, yv, 0, 0.1, 5, hist), NTK_STATUS_NULL_POINTER, "x");
    bad = yv;
    bad.data = NULL;
    CHECK_ERROR(T(net, xv, bad, 0, 0.1, 5, hist), NTK_STATUS_NULL_POINTER, "y");
    CHECK_ERROR(T(net, xv, yv, 2, 0.1, 5, hist), NTK_STATUS_INVALID_ARGUMENT, "cost");
    CHECK_ERROR(T(net, xv, yv, -1, 0.1, 5, hist), NTK_STATUS_INVALID_ARGUMENT, "cost");
    CHECK_ERROR(T(net, xv, yv, 0, 0.0, 5, hist), NTK_STATUS_INVALID_ARGUMENT, "learning_rate");
    CHECK_ERROR(T(net, xv, yv, 0, -0.1, 5, hist), NTK_STATUS_INVALID_ARGUMENT, "learning_rate");
    CHECK_ERROR(T(net, xv, yv, 0, NAN, 5, hist), NTK_STATUS_NON_FINITE, "learning_rate");
    CHECK_ERROR(T(net, xv, yv, 0, INFINITY, 5, hist), NTK_STATUS_NON_FINITE, "learning_rate");
    CHECK_ERROR(T(net, xv, yv, 0, 0.1, SIZE_MAX, hist), NTK_STATUS_INVALID_ARGUMENT, "steps");
    CHECK_ERROR(T(net, ntk_matrix_row_major(X, N, N0 - 1), yv, 0, 0.1, 5, hist), NTK_STATUS_INVALID_ARGUMENT, "x");
    CHECK_ERROR(T(net, xv, ntk_matrix_row_major(Y, N, NL - 1), 0, 0.1, 5, hist), NTK_STATUS_INVALID_ARGUMENT, "y");
    CHECK_ERROR(T(net, xv, ntk_matrix_row_major(Y, N - 1, NL), 0, 0.1, 5, hist), NTK_STATUS_INVALID_ARGUMENT, "y");
    memcpy(xb, X, sizeof X);
    xb[7] = NAN;
    CHECK_ERROR(T(net, ntk_matrix_row_major(xb, N, N0), yv, 0, 0.1, 5, hist), NTK_STATUS_NON_FINITE, "x");
    memcpy(yb, Y, sizeof Y);
    yb[9] = -INFINITY;
    CHECK_ERROR(T(net, xv, ntk_matrix_row_major(yb, N, NL), 0, 0.1, 5, hist), NTK_STATUS_NON_FINITE, "y");
    /* loss_history overlapping x */
    memcpy(shared, X, sizeof X);
    CHECK_ERROR(T(net, ntk_matrix_row_major(shared, N, N0), yv, 0, 0.1, 5, shared + N * N0 - 2), NTK_STATUS_INVALID_ARGUMENT,
                "overlap");
    CHECK(memcmp(shared, X, sizeof X) == 0);
#undef T
    CHECK(ntk_test_all_bits(hist, 6, SENTINEL));
    CHECK_STATUS(ntk_network_get_params(net, after, NP), NTK_STATUS_OK);
    ntk_test_same_bits(before, after, NP, "parameters unchanged by failed train calls");
    ntk_network_free(net);
}

int main(void) {
    size_t i;
    ntk_test_fill(X, N * N0, 41);
    ntk_test_fill(Y, N * NL, 42);
    for (i = 0; i < N; i++) {
        double q = 0.2 + 0.15 * (double)i; /* rows sum to one */
        YP[i * NL] = q;
        YP[i * NL + 1] = 1.0 - q;
    }
    test_loss_history();
    test_one_step(NTK_COST_MSE, "one MSE step: theta_1 = theta_0 - (eta/N) J^T (f - y)",
                  "one MSE step: f_1 - f_0 vs -(eta/N) Theta (f - y)");
    test_one_step(NTK_COST_CROSS_ENTROPY, "one cross-entropy step: theta_1 = theta_0 - (eta/N) J^T (p - y)",
                  "one cross-entropy step: f_1 - f_0 vs -(eta/N) Theta (p - y)");
    test_cross_entropy_decreases();
    test_determinism();
    test_cancel();
    test_divergence();
    test_errors();
    return ntk_test_summary("test_train");
}
