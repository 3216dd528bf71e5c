/*
 * test_limit.c -- C API test of ntk_kernel_limit (infinite-width NNGP Sigma^(L), Sigma-dot^(L)
 * and NTK Theta^(L)).
 *
 * Independent references, computed here in plain C from the recursion
 *   Sigma^(1) = x.x'/n_0 + beta^2, Theta^(1) = Sigma^(1),
 *   Sigma^(l+1) = E[s(u)s(v)] + beta^2, Sigma-dot^(l+1) = E[s'(u)s'(v)],
 *   Theta^(l+1) = Theta^(l) Sigma-dot^(l+1) + Sigma^(l+1):
 *  - ReLU and leaky ReLU through the arc-cosine closed form (written with acos of the
 *    correlation, clamped, not the library's atan2 form),
 *  - erf through 2/pi asin(...) and its derivative kernel,
 *  - identity (E[uv] = s12, E' = 1);
 * x2 = NULL vs x2 = x1 (exact symmetry), any subset of outputs, strided outputs, 1 vs 3 threads
 * (bitwise), cancellation, and every error class with sentinel-filled outputs left untouched.
 */
#include "ntk_test.h"

#include <stdint.h>

#define N1 5
#define N2 4
#define N0 3
#define SENTINEL (-12345.0)

static const double PI = 3.14159265358979323846;

static ntk_network *make_net(int activation, double param, double beta, size_t depth) {
    size_t widths[8], i;
    ntk_network_config cfg;
    ntk_network *net = NULL;
    widths[0] = N0;
    for (i = 1; i < depth; i++) widths[i] = 16;
    widths[depth] = 1;
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = widths;
    cfg.num_widths = depth + 1;
    cfg.activation = activation;
    cfg.activation_param = param;
    cfg.beta = beta;
    cfg.seed = 1;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    return net;
}

/* E[s(u)s(v)] and E[s'(u)s'(v)] for the activations with closed forms. */
static void expectations(int activation, double a, double s11, double s22, double s12, double *e,
                         double *ed) {
    if (activation == NTK_ACTIVATION_IDENTITY) {
        *e = s12;
        *ed = 1.0;
    } else if (activation == NTK_ACTIVATION_ERF) {
        double q = (1.0 + 2.0 * s11) * (1.0 + 2.0 * s22);
        *e = 2.0 / PI * asin(2.0 * s12 / sqrt(q));
        *ed = 4.0 / PI / sqrt(q - 4.0 * s12 * s12);
    } else { /* ReLU (a = 0) and leaky ReLU: arc-cosine kernels of degree 1 and 0 */
        double norm = sqrt(s11 * s22), rho = norm > 0 ? s12 / norm : 0.0, th;
        if (rho > 1.0) rho = 1.0;
        if (rho < -1.0) rho = -1.0;
        th = acos(rho);
        *e = (1 - a) * (1 - a) / (2 * PI) * norm * (sin(th) + (PI - th) * cos(th)) + a * s12;
        *ed = (1 - a) * (1 - a) * (PI - th) / (2 * PI) + a;
        /* The (1-a)^2 part is the ReLU kernel of max(0, x) - a min(0, x)... expanded: for
         * sigma = a x + (1-a) relu(x), E = a^2 s12 + a(1-a) s12 + (1-a)^2 E_relu (as
         * E[u relu(v)] = s12 / 2); E' = a^2 + a(1-a) + (1-a)^2 E'_relu. */
    }
}

/* Reference kernels for x1 (n1 rows) against x2 (n2 rows), row-major outputs. */
static void reference(int activation, double a, double beta, size_t depth, const double *x1, size_t n1,
                      const double *x2, size_t n2, double *nngp, double *sdot, double *ntk) {
    size_t i, j, k, l;
    for (i = 0; i < n1; i++)
        for (j = 0; j < n2; j++) {
            double s11 = 0, s22 = 0, s12 = 0, th, sd = 0.0;
            for (k = 0; k < N0; k++) {
                s11 += x1[i * N0 + k] * x1[i * N0 + k];
                s22 += x2[j * N0 + k] * x2[j * N0 + k];
                s12 += x1[i * N0 + k] * x2[j * N0 + k];
            }
            s11 = s11 / N0 + beta * beta;
            s22 = s22 / N0 + beta * beta;
            s12 = s12 / N0 + beta * beta;
            th = s12;
            for (l = 1; l < depth; l++) {
                double e11, e22, e12, d11, d22, d12;
                expectations(activation, a, s11, s11, s11, &e11, &d11);
                expectations(activation, a, s22, s22, s22, &e22, &d22);
                expectations(activation, a, s11, s22, s12, &e12, &d12);
                s11 = e11 + beta * beta;
                s22 = e22 + beta * beta;
                s12 = e12 + beta * beta;
                sd = d12;
                th = th * sd + s12;
            }
            nngp[i * n2 + j] = s12;
            sdot[i * n2 + j] = sd;
            ntk[i * n2 + j] = th;
        }
}

static void check_against_reference(int activation, double a, double beta, size_t depth, const char *what) {
    ntk_network *net = make_net(activation, a, beta, depth);
    double x1[N1 * N0], x2[N2 * N0], k[N1 * N2], s[N1 * N2], t[N1 * N2], rk[N1 * N2], rs[N1 * N2], rt[N1 * N2];
    ntk_matrix x2v;
    ntk_matrix_mut kv = ntk_matrix_row_major_mut(k, N1, N2), sv = ntk_matrix_row_major_mut(s, N1, N2),
                   tv = ntk_matrix_row_major_mut(t, N1, N2);
    char msg[160];
    ntk_test_fill(x1, N1 * N0, 51);
    ntk_test_fill(x2, N2 * N0, 52);
    if (beta > 0.0) x1[0] = x1[1] = x1[2] = 0.0; /* a zero input: variance beta^2 only */
    memcpy(x2 + N0, x1 + 2 * N0, N0 * sizeof(double)); /* a repeated point: correlation 1 */
    x2v = ntk_matrix_row_major(x2, N2, N0);
    CHECK_STATUS(ntk_kernel_limit(net, ntk_matrix_row_major(x1, N1, N0), &x2v, &kv, &sv, &tv, NULL), NTK_STATUS_OK);
    reference(activation, a, beta, depth, x1, N1, x2, N2, rk, rs, rt);
    snprintf(msg, sizeof msg, "%s: NNGP vs closed form", what);
    ntk_test_close(k, rk, N1 * N2, 1e-12, msg);
    snprintf(msg, sizeof msg, "%s: Sigma-dot vs closed form", what);
    ntk_test_close(s, rs, N1 * N2, 1e-12, msg);
    snprintf(msg, sizeof msg, "%s: NTK vs closed form", what);
    ntk_test_close(t, rt, N1 * N2, 1e-12, msg);
    ntk_network_free(net);
}

static void test_closed_forms(void) {
    check_against_reference(NTK_ACTIVATION_RELU, 0.0, 0.1, 3, "ReLU L = 3");
    check_against_reference(NTK_ACTIVATION_RELU, 0.0, 0.0, 5, "ReLU L = 5, beta = 0");
    check_against_reference(NTK_ACTIVATION_LEAKY_RELU, 0.2, 0.3, 4, "leaky ReLU L = 4");
    check_against_reference(NTK_ACTIVATION_ERF, 0.0, 0.5, 3, "erf L = 3");
    check_against_reference(NTK_ACTIVATION_IDENTITY, 0.0, 0.7, 4, "identity L = 4");
    check_against_reference(NTK_ACTIVATION_RELU, 0.0, 0.4, 1, "one layer");
}

/* x2 = NULL, output subsets, strided column-major outputs, threads. */
static void test_variants(void) {
    ntk_network *net = make_net(NTK_ACTIVATION_RELU, 0.0, 0.1, 3);
    double x[N1 * N0], t[N1 * N1], t2[N1 * N1], k[N1 * N1], big[N1 * N1 * 2], t1[N1 * N1], t3[N1 * N1];
    ntk_matrix xv;
    ntk_matrix_mut tv = ntk_matrix_row_major_mut(t, N1, N1), t2v = ntk_matrix_row_major_mut(t2, N1, N1),
                   kv = ntk_matrix_row_major_mut(k, N1, N1), bv, tv1, tv3;
    size_t i, j, threads = 0;
    ntk_test_fill(x, N1 * N0, 53);
    xv = ntk_matrix_row_major(x, N1, N0);
    CHECK_STATUS(ntk_kernel_limit(net, xv, NULL, NULL, NULL, &tv, NULL), NTK_STATUS_OK);
    CHECK_STATUS(ntk_kernel_limit(net, xv, &xv, &kv, NULL, &t2v, NULL), NTK_STATUS_OK);
    ntk_test_close(t, t2, N1 * N1, 1e-15, "x2 = NULL vs x2 = x1");
    for (i = 0; i < N1; i++)
        for (j = 0; j < i; j++) CHECK(memcmp(&t[i * N1 + j], &t[j * N1 + i], sizeof(double)) == 0);
    /* nngp alone gives the same bits as together with the NTK */
    ntk_test_set(t2, N1 * N1, SENTINEL);
    CHECK_STATUS(ntk_kernel_limit(net, xv, NULL, &t2v, NULL, NULL, NULL), NTK_STATUS_OK);
    {
        double k2[N1 * N1];
        ntk_matrix_mut k2v = ntk_matrix_row_major_mut(k2, N1, N1);
        CHECK_STATUS(ntk_kernel_limit(net, xv, NULL, &k2v, NULL, &tv, NULL), NTK_STATUS_OK);
        ntk_test_same_bits(t2, k2, N1 * N1, "NNGP alone vs with the NTK");
    }
    /* column-major output with gaps */
    ntk_test_set(big, N1 * N1 * 2, SENTINEL);
    bv = ntk_matrix_strided_mut(big, N1, N1, 2, 2 * N1);
    CHECK_STATUS(ntk_kernel_limit(net, xv, NULL, NULL, NULL, &bv, NULL), NTK_STATUS_OK);
    for (i = 0; i < N1; i++)
        for (j = 0; j < N1; j++) {
            CHECK(memcmp(&big[2 * i + 2 * N1 * j], &t[i * N1 + j], sizeof(double)) == 0);
            CHECK(big[2 * i + 2 * N1 * j + 1] == SENTINEL);
        }
    /* thread count */
    CHECK_STATUS(ntk_get_num_threads(&threads), NTK_STATUS_OK);
    CHECK_STATUS(ntk_set_num_threads(1), NTK_STATUS_OK);
    tv1 = ntk_matrix_row_major_mut(t1, N1, N1);
    CHECK_STATUS(ntk_kernel_limit(net, xv, NULL, NULL, NULL, &tv1, NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_set_num_threads(3), NTK_STATUS_OK);
    tv3 = ntk_matrix_row_major_mut(t3, N1, N1);
    CHECK_STATUS(ntk_kernel_limit(net, xv, NULL, NULL, NULL, &tv3, NULL),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_set_num_threads(threads), NTK_STATUS_OK);
    ntk_test_same_bits(t1, t3, N1 * N1, "limit NTK, 1 vs 3 threads");
    ntk_network_free(net);
}

static int cancel_now(void *user_data, uint64_t done, uint64_t total) {
    (void)user_data;
    (void)done;
    (void)total;
    return 1;
}

static void test_errors(void) {
    ntk_network *net = make_net(NTK_ACTIVATION_RELU, 0.0, 0.1, 3);
    double x1[N1 * N0], x2[N2 * N0], a[N1 * N2 + 4], b[N1 * N2 + 4], shared[64];
    ntk_matrix x1v, x2v, bad;
    ntk_matrix_mut av, bv, m;
    ntk_options opt;
    ntk_test_fill(x1, N1 * N0, 61);
    ntk_test_fill(x2, N2 * N0, 62);
    ntk_test_set(a, N1 * N2 + 4, SENTINEL);
    ntk_test_set(b, N1 * N2 + 4, SENTINEL);
    x1v = ntk_matrix_row_major(x1, N1, N0);
    x2v = ntk_matrix_row_major(x2, N2, N0);
    av = ntk_matrix_row_major_mut(a, N1, N2);
    bv = ntk_matrix_row_major_mut(b, N1, N2);
    CHECK_ERROR(ntk_kernel_limit(NULL, x1v, &x2v, NULL, NULL, &av, NULL), NTK_STATUS_NULL_POINTER, "network");
    bad = x1v;
    bad.data = NULL;
    CHECK_ERROR(ntk_kernel_limit(net, bad, &x2v, NULL, NULL, &av, NULL), NTK_STATUS_NULL_POINTER, "x1");
    bad = x2v;
    bad.data = NULL;
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &bad, NULL, NULL, &av, NULL), NTK_STATUS_NULL_POINTER, "x2");
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &x2v, NULL, NULL, NULL, NULL), NTK_STATUS_NULL_POINTER, "at least one");
    m = av;
    m.data = NULL;
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &x2v, &m, NULL, NULL, NULL), NTK_STATUS_NULL_POINTER, "nngp");
    /* shapes */
    m = ntk_matrix_row_major_mut(a, N2, N1);
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &x2v, NULL, NULL, &m, NULL), NTK_STATUS_INVALID_ARGUMENT, "ntk");
    m = ntk_matrix_row_major_mut(a, N1, N2 - 1);
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &x2v, NULL, &m, &bv, NULL), NTK_STATUS_INVALID_ARGUMENT, "sigma_dot");
    CHECK_ERROR(ntk_kernel_limit(net, x1v, NULL, NULL, NULL, &av, NULL), NTK_STATUS_INVALID_ARGUMENT, "ntk");
    CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(x1, N1, N0 - 1), &x2v, NULL, NULL, &av, NULL),
                NTK_STATUS_INVALID_ARGUMENT, "x1");
    bad = ntk_matrix_row_major(x2, N2, N0 - 1);
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &bad, NULL, NULL, &av, NULL), NTK_STATUS_INVALID_ARGUMENT, "x2");
    m = av;
    m.row_stride = 0;
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &x2v, NULL, NULL, &m, NULL), NTK_STATUS_INVALID_ARGUMENT, "ntk");
    /* two outputs in the same memory, output overlapping an input */
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &x2v, &av, NULL, &av, NULL), NTK_STATUS_INVALID_ARGUMENT, "overlap");
    memcpy(shared, x1, sizeof x1);
    m = ntk_matrix_row_major_mut(shared + 3, N1, N2);
    CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(shared, N1, N0), &x2v, NULL, NULL, &m, NULL),
                NTK_STATUS_INVALID_ARGUMENT, "overlap");
    CHECK(memcmp(shared, x1, sizeof x1) == 0);
    /* non-finite inputs */
    x1[4] = NAN;
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &x2v, &bv, NULL, &av, NULL), NTK_STATUS_NON_FINITE, "x1");
    x1[4] = 0.5;
    x2[N2 * N0 - 1] = INFINITY;
    CHECK_ERROR(ntk_kernel_limit(net, x1v, &x2v, &bv, NULL, &av, NULL), NTK_STATUS_NON_FINITE, "x2");
    x2[N2 * N0 - 1] = 0.5;
    CHECK(ntk_test_all_bits(a, N1 * N2 + 4, SENTINEL));
    CHECK(ntk_test_all_bits(b, N1 * N2 + 4, SENTINEL));
    /* cancellation */
    opt.progress = cancel_now;
    opt.user_data = NULL;
    CHECK_STATUS(ntk_kernel_limit(net, x1v, &x2v, NULL, NULL, &av, &opt), NTK_STATUS_CANCELLED);
    ntk_network_free(net);
}

int main(void) {
    test_closed_forms();
    test_variants();
    test_errors();
    return ntk_test_summary("test_limit");
}
