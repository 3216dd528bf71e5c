/*
 * test_flow.c -- C API test of the kernel gradient flow: ntk_flow_create / step / set_time /
 * time / outputs / predict / loss / free.
 *
 * Independent references, computed here in plain C without any eigendecomposition:
 *  - MSE: f_t = y + exp(-tK/N)(f0 - y) and f*_t = f*_0 - (1/N) K* [int_0^t exp(-sK/N) ds](f0 - y),
 *    both from Taylor series of the 3x3 matrix exponential; t = infinity from K^-1 by cofactors;
 *  - cross-entropy (softmax): classical RK4 with 4000 small steps of df/dt = -(1/N) K d(f),
 *    d = softmax(f) - y, integrated together with the test outputs;
 *  - the full (N k) x (N k) kernel K (x) I against the scalar kernel;
 *  - the loss recomputed from the outputs.
 * Every error class of every function is exercised; outputs and handles untouched on error.
 * Progress/cancel of step and set_time: a cancel at every callback position leaves the flow as it
 * was, and the call repeated gives the bits of an uncancelled flow; a hopelessly stiff ODE request
 * (kernel scaled by 1e300) fails with NTK_STATUS_NUMERICAL.
 */
#include "ntk_test.h"

#include <stdint.h>

#define N 3
#define M 2
#define KO 2 /* outputs per point for the MSE tests */
#define KC 3 /* classes for the cross-entropy test */
#define SENTINEL (-12345.0)

/* K = A A^T + 0.1 I (symmetric positive definite), test kernel K* (M x N). */
static double K[N * N], KS[M * N], Y[N * KO], F0[N * KO], FS0[M * KO];

static void setup(void) {
    static const double a[N * N] = {1.0, 0.3, -0.2, 0.4, 0.9, 0.1, -0.5, 0.2, 0.8};
    size_t i, j, l;
    for (i = 0; i < N; i++)
        for (j = 0; j < N; j++) {
            double acc = i == j ? 0.1 : 0.0;
            for (l = 0; l < N; l++) acc += a[i * N + l] * a[j * N + l];
            K[i * N + j] = acc;
        }
    ntk_test_fill(KS, M * N, 21);
    ntk_test_fill(Y, N * KO, 22);
    ntk_test_fill(F0, N * KO, 23);
    ntk_test_fill(FS0, M * KO, 24);
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

/* E = exp(-tK/N) and F = int_0^t exp(-sK/N) ds by their Taylor series (B = -tK/N). */
static void taylor(double t, double *e, double *f) {
    double b[N * N], term[N * N], next[N * N];
    size_t i, m;
    for (i = 0; i < N * N; i++) b[i] = -t * K[i] / N;
    for (i = 0; i < N * N; i++) term[i] = (i % (N + 1) == 0) ? 1.0 : 0.0; /* B^0/0! */
    for (i = 0; i < N * N; i++) {
        e[i] = term[i];
        f[i] = t * term[i]; /* t B^0 / 1! */
    }
    for (m = 1; m < 80; m++) {
        matmul(term, b, next, N, N, N);
        for (i = 0; i < N * N; i++) {
            term[i] = next[i] / (double)m; /* B^m / m! */
            e[i] += term[i];
            f[i] += t * term[i] / (double)(m + 1);
        }
    }
}

/* The MSE reference at time t: train outputs (N x KO) and test outputs (M x KO). */
static void mse_reference(double t, double *ft, double *fst) {
    double e[N * N], f[N * N], r[N * KO], er[N * KO], fr[N * KO], kfr[M * KO];
    size_t i;
    taylor(t, e, f);
    for (i = 0; i < N * KO; i++) r[i] = F0[i] - Y[i];
    matmul(e, r, er, N, N, KO);
    matmul(f, r, fr, N, N, KO);
    matmul(KS, fr, kfr, M, N, KO);
    for (i = 0; i < N * KO; i++) ft[i] = Y[i] + er[i];
    for (i = 0; i < M * KO; i++) fst[i] = FS0[i] - kfr[i] / N;
}

static double mse_loss(const double *f) {
    double acc = 0.0;
    size_t i;
    for (i = 0; i < N * KO; i++) acc += 0.5 * (f[i] - Y[i]) * (f[i] - Y[i]);
    return acc / N;
}

/* K (x) I_k as a full (rows k) x (cols k) kernel. */
static void kron_identity(const double *k, size_t rows, size_t cols, size_t kk, double *out) {
    size_t i, j, a, b;
    for (i = 0; i < rows; i++)
        for (a = 0; a < kk; a++)
            for (j = 0; j < cols; j++)
                for (b = 0; b < kk; b++) out[(i * kk + a) * cols * kk + j * kk + b] = a == b ? k[i * cols + j] : 0.0;
}

static ntk_flow *make_flow(const double *kernel, size_t d, const double *test_kernel, size_t dm, int cost,
                           const ntk_flow_options *opt) {
    ntk_flow *flow = NULL;
    ntk_matrix kv = ntk_matrix_row_major(kernel, d, d), yv = ntk_matrix_row_major(Y, N, KO), fv = ntk_matrix_row_major(F0, N, KO);
    ntk_matrix tk = ntk_matrix_row_major(test_kernel, dm, d), tf = ntk_matrix_row_major(FS0, M, KO);
    CHECK_STATUS(ntk_flow_create(kv, yv, fv, &tk, &tf, cost, opt, &flow), NTK_STATUS_OK);
    return flow;
}

static void check_flow_at(ntk_flow *flow, double t, double tol, const char *what) {
    double ft[N * KO], fst[M * KO], ref_t[N * KO], ref_s[M * KO], loss = -1.0, now = -1.0;
    CHECK_STATUS(ntk_flow_time(flow, &now), NTK_STATUS_OK);
    CHECK(now == t);
    CHECK_STATUS(ntk_flow_outputs(flow, ntk_matrix_row_major_mut(ft, N, KO)), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_predict(flow, ntk_matrix_row_major_mut(fst, M, KO)), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_loss(flow, &loss), NTK_STATUS_OK);
    mse_reference(t, ref_t, ref_s);
    ntk_test_close(ft, ref_t, N * KO, tol, what);
    ntk_test_close(fst, ref_s, M * KO, tol, what);
    ntk_test_close(&loss, (double[]){mse_loss(ft)}, 1, 1e-14, "MSE loss from the outputs");
}

static void test_mse_methods(void) {
    static const char *names[] = {"MSE AUTO vs Taylor series", "MSE EIGEN vs Taylor series",
                                  "MSE KRYLOV vs Taylor series", "MSE ODE vs Taylor series"};
    int method;
    for (method = NTK_FLOW_METHOD_AUTO; method <= NTK_FLOW_METHOD_ODE; method++) {
        ntk_flow_options opt;
        ntk_flow *flow;
        double tol = method == NTK_FLOW_METHOD_ODE ? 1e-8 : 1e-11;
        memset(&opt, 0, sizeof opt);
        opt.method = method;
        flow = make_flow(K, N, KS, M, NTK_COST_MSE, &opt);
        check_flow_at(flow, 0.0, 1e-15, names[method]);
        CHECK_STATUS(ntk_flow_set_time(flow, 0.7, NULL), NTK_STATUS_OK);
        check_flow_at(flow, 0.7, tol, names[method]);
        CHECK_STATUS(ntk_flow_step(flow, 0.25, NULL), NTK_STATUS_OK);
        CHECK_STATUS(ntk_flow_step(flow, 0.55, NULL), NTK_STATUS_OK);
        check_flow_at(flow, 0.7 + 0.25 + 0.55, tol, names[method]);
        CHECK_STATUS(ntk_flow_set_time(flow, 0.3, NULL), NTK_STATUS_OK); /* backwards */
        check_flow_at(flow, 0.3, tol, names[method]);
        CHECK_STATUS(ntk_flow_set_time(flow, 4.0, NULL), NTK_STATUS_OK);
        check_flow_at(flow, 4.0, tol, names[method]);
        ntk_flow_free(flow);
    }
}

/* t = infinity: kernel regression. f = y, f* = f*_0 - K* K^-1 (f0 - y). */
static void test_mse_infinity(void) {
    double inv[N * N], det, r[N * KO], kr[N * KO], ref_s[M * KO], ft[N * KO], fst[M * KO], t = 0.0, loss = 1.0;
    size_t i;
    ntk_flow *flow = make_flow(K, N, KS, M, NTK_COST_MSE, NULL);
    /* inverse by cofactors */
    inv[0] = K[4] * K[8] - K[5] * K[7];
    inv[1] = K[2] * K[7] - K[1] * K[8];
    inv[2] = K[1] * K[5] - K[2] * K[4];
    inv[3] = K[5] * K[6] - K[3] * K[8];
    inv[4] = K[0] * K[8] - K[2] * K[6];
    inv[5] = K[2] * K[3] - K[0] * K[5];
    inv[6] = K[3] * K[7] - K[4] * K[6];
    inv[7] = K[1] * K[6] - K[0] * K[7];
    inv[8] = K[0] * K[4] - K[1] * K[3];
    det = K[0] * inv[0] + K[1] * inv[3] + K[2] * inv[6];
    for (i = 0; i < N * N; i++) inv[i] /= det;
    for (i = 0; i < N * KO; i++) r[i] = F0[i] - Y[i];
    matmul(inv, r, kr, N, N, KO);
    matmul(KS, kr, ref_s, M, N, KO);
    for (i = 0; i < M * KO; i++) ref_s[i] = FS0[i] - ref_s[i];
    CHECK_STATUS(ntk_flow_set_time(flow, INFINITY, NULL), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_time(flow, &t), NTK_STATUS_OK);
    CHECK(isinf(t) && t > 0);
    CHECK_STATUS(ntk_flow_outputs(flow, ntk_matrix_row_major_mut(ft, N, KO)), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_predict(flow, ntk_matrix_row_major_mut(fst, M, KO)), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_loss(flow, &loss), NTK_STATUS_OK);
    ntk_test_close(ft, Y, N * KO, 1e-10, "t = inf: training outputs reach the targets");
    ntk_test_close(fst, ref_s, M * KO, 1e-10, "t = inf: kernel regression K* K^-1");
    CHECK(fabs(loss) < 1e-20);
    /* and back to a finite time */
    CHECK_STATUS(ntk_flow_set_time(flow, 0.7, NULL), NTK_STATUS_OK);
    check_flow_at(flow, 0.7, 1e-11, "after t = inf, back to 0.7");
    ntk_flow_free(flow);
}

/* The full kernel K (x) I_k gives the flow of the scalar kernel; column-major outputs too. */
static void test_full_kernel_and_layouts(void) {
    double kfull[N * KO * N * KO], ksfull[M * KO * N * KO], a[N * KO], b[N * KO], sa[M * KO], sb[M * KO];
    double colmajor[N * KO * 2];
    ntk_matrix_mut cm;
    size_t i, j;
    ntk_flow *scalar = make_flow(K, N, KS, M, NTK_COST_MSE, NULL), *full;
    kron_identity(K, N, N, KO, kfull);
    kron_identity(KS, M, N, KO, ksfull);
    full = make_flow(kfull, N * KO, ksfull, M * KO, NTK_COST_MSE, NULL);
    CHECK_STATUS(ntk_flow_set_time(scalar, 1.3, NULL), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_set_time(full, 1.3, NULL), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_outputs(scalar, ntk_matrix_row_major_mut(a, N, KO)), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_outputs(full, ntk_matrix_row_major_mut(b, N, KO)), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_predict(scalar, ntk_matrix_row_major_mut(sa, M, KO)), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_predict(full, ntk_matrix_row_major_mut(sb, M, KO)), NTK_STATUS_OK);
    ntk_test_close(a, b, N * KO, 1e-12, "full kernel K (x) I vs scalar kernel (train)");
    ntk_test_close(sa, sb, M * KO, 1e-12, "full kernel K (x) I vs scalar kernel (test)");
    /* strided column-major output with gaps */
    ntk_test_set(colmajor, N * KO * 2, SENTINEL);
    cm = ntk_matrix_strided_mut(colmajor, N, KO, 2, 2 * N);
    CHECK_STATUS(ntk_flow_outputs(scalar, cm), NTK_STATUS_OK);
    for (i = 0; i < N; i++)
        for (j = 0; j < KO; j++) {
            CHECK(memcmp(&colmajor[2 * i + 2 * N * j], &a[i * KO + j], sizeof(double)) == 0);
            CHECK(colmajor[2 * i + 2 * N * j + 1] == SENTINEL);
        }
    ntk_flow_free(scalar);
    ntk_flow_free(full);
}

/* Softmax cross-entropy vs RK4. */
static void softmax_residual(const double *f, const double *y, double *d) {
    size_t i, a;
    for (i = 0; i < N; i++) {
        double mx = f[i * KC], s = 0.0;
        for (a = 1; a < KC; a++) mx = fmax(mx, f[i * KC + a]);
        for (a = 0; a < KC; a++) s += exp(f[i * KC + a] - mx);
        for (a = 0; a < KC; a++) d[i * KC + a] = exp(f[i * KC + a] - mx) / s - y[i * KC + a];
    }
}

static void ce_rhs(const double *f, const double *y, double *df, double *dfs) {
    double d[N * KC];
    size_t i;
    softmax_residual(f, y, d);
    matmul(K, d, df, N, N, KC);
    matmul(KS, d, dfs, M, N, KC);
    for (i = 0; i < N * KC; i++) df[i] /= -(double)N;
    for (i = 0; i < M * KC; i++) dfs[i] /= -(double)N;
}

static void test_cross_entropy(void) {
    static const double y[N * KC] = {1, 0, 0, 0.2, 0.5, 0.3, 0, 0, 1};
    double f0[N * KC], fs0[M * KC], f[N * KC], fs[M * KC], got[N * KC], gots[M * KC], loss = 0.0, ref_loss = 0.0;
    double k1[N * KC], k2[N * KC], k3[N * KC], k4[N * KC], s1[M * KC], s2[M * KC], s3[M * KC], s4[M * KC];
    double tmp[N * KC];
    const double t_end = 1.5;
    const int steps = 3000;
    const double h = t_end / steps;
    ntk_flow *flow = NULL;
    ntk_matrix tk = ntk_matrix_row_major(KS, M, N), tf;
    size_t i, a;
    int s, method;
    ntk_test_fill(f0, N * KC, 31);
    ntk_test_fill(fs0, M * KC, 32);
    memcpy(f, f0, sizeof f);
    memcpy(fs, fs0, sizeof fs);
    for (s = 0; s < steps; s++) {
        ce_rhs(f, y, k1, s1);
        for (i = 0; i < N * KC; i++) tmp[i] = f[i] + 0.5 * h * k1[i];
        ce_rhs(tmp, y, k2, s2);
        for (i = 0; i < N * KC; i++) tmp[i] = f[i] + 0.5 * h * k2[i];
        ce_rhs(tmp, y, k3, s3);
        for (i = 0; i < N * KC; i++) tmp[i] = f[i] + h * k3[i];
        ce_rhs(tmp, y, k4, s4);
        for (i = 0; i < N * KC; i++) f[i] += h / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
        for (i = 0; i < M * KC; i++) fs[i] += h / 6.0 * (s1[i] + 2 * s2[i] + 2 * s3[i] + s4[i]);
    }
    for (i = 0; i < N; i++) {
        double mx = f[i * KC], z = 0.0;
        for (a = 1; a < KC; a++) mx = fmax(mx, f[i * KC + a]);
        for (a = 0; a < KC; a++) z += exp(f[i * KC + a] - mx);
        for (a = 0; a < KC; a++) ref_loss -= y[i * KC + a] * (f[i * KC + a] - mx - log(z));
    }
    ref_loss /= N;
    tf = ntk_matrix_row_major(fs0, M, KC);
    /* AUTO integrates for cross-entropy; ODE explicitly */
    for (method = NTK_FLOW_METHOD_AUTO; method <= NTK_FLOW_METHOD_ODE; method += NTK_FLOW_METHOD_ODE) {
        ntk_flow_options opt;
        memset(&opt, 0, sizeof opt);
        opt.method = method;
        flow = NULL;
        CHECK_STATUS(ntk_flow_create(ntk_matrix_row_major(K, N, N), ntk_matrix_row_major(y, N, KC), ntk_matrix_row_major(f0, N, KC),
                                     &tk, &tf, NTK_COST_CROSS_ENTROPY, &opt, &flow),
                     NTK_STATUS_OK);
        CHECK_STATUS(ntk_flow_step(flow, 0.5, NULL), NTK_STATUS_OK);
        CHECK_STATUS(ntk_flow_set_time(flow, t_end, NULL), NTK_STATUS_OK);
        CHECK_STATUS(ntk_flow_outputs(flow, ntk_matrix_row_major_mut(got, N, KC)), NTK_STATUS_OK);
        CHECK_STATUS(ntk_flow_predict(flow, ntk_matrix_row_major_mut(gots, M, KC)), NTK_STATUS_OK);
        CHECK_STATUS(ntk_flow_loss(flow, &loss), NTK_STATUS_OK);
        ntk_test_close(got, f, N * KC, 1e-8, "cross-entropy flow vs RK4 (train)");
        ntk_test_close(gots, fs, M * KC, 1e-8, "cross-entropy flow vs RK4 (test)");
        ntk_test_close(&loss, &ref_loss, 1, 1e-8, "cross-entropy loss vs RK4");
        /* t = inf is MSE only */
        CHECK_ERROR(ntk_flow_set_time(flow, INFINITY, NULL), NTK_STATUS_INVALID_ARGUMENT, "MSE");
        ntk_flow_free(flow);
    }
}

static void test_create_errors(void) {
    ntk_flow *const untouched = (ntk_flow *)(uintptr_t)0x1;
    ntk_flow *flow = untouched;
    ntk_matrix kv = ntk_matrix_row_major(K, N, N), yv = ntk_matrix_row_major(Y, N, KO), fv = ntk_matrix_row_major(F0, N, KO);
    ntk_matrix tk = ntk_matrix_row_major(KS, M, N), tf = ntk_matrix_row_major(FS0, M, KO), bad;
    ntk_flow_options opt;
    double kb[N * N], yb[N * KO];
    memset(&opt, 0, sizeof opt);
#define C(k_, y_, f_, tk_, tf_, cost_, opt_, out_) ntk_flow_create(k_, y_, f_, tk_, tf_, cost_, opt_, out_)
    CHECK_ERROR(C(kv, yv, fv, &tk, &tf, 0, NULL, NULL), NTK_STATUS_NULL_POINTER, "out");
    bad = kv;
    bad.data = NULL;
    CHECK_ERROR(C(bad, yv, fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_NULL_POINTER, "kernel");
    bad = yv;
    bad.data = NULL;
    CHECK_ERROR(C(kv, bad, fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_NULL_POINTER, "y");
    bad = fv;
    bad.data = NULL;
    CHECK_ERROR(C(kv, yv, bad, NULL, NULL, 0, NULL, &flow), NTK_STATUS_NULL_POINTER, "f0");
    CHECK_ERROR(C(kv, yv, fv, &tk, NULL, 0, NULL, &flow), NTK_STATUS_NULL_POINTER, "test_f0");
    CHECK_ERROR(C(kv, yv, fv, NULL, &tf, 0, NULL, &flow), NTK_STATUS_NULL_POINTER, "test_kernel");
    bad = tk;
    bad.data = NULL;
    CHECK_ERROR(C(kv, yv, fv, &bad, &tf, 0, NULL, &flow), NTK_STATUS_NULL_POINTER, "test_kernel");
    /* enums and options */
    CHECK_ERROR(C(kv, yv, fv, NULL, NULL, 2, NULL, &flow), NTK_STATUS_INVALID_ARGUMENT, "cost");
    CHECK_ERROR(C(kv, yv, fv, NULL, NULL, -1, NULL, &flow), NTK_STATUS_INVALID_ARGUMENT, "cost");
    opt.method = 4;
    CHECK_ERROR(C(kv, yv, fv, NULL, NULL, 0, &opt, &flow), NTK_STATUS_INVALID_ARGUMENT, "method");
    opt.method = -1;
    CHECK_ERROR(C(kv, yv, fv, NULL, NULL, 0, &opt, &flow), NTK_STATUS_INVALID_ARGUMENT, "method");
    opt.method = 0;
    opt.rtol = NAN;
    CHECK_ERROR(C(kv, yv, fv, NULL, NULL, 0, &opt, &flow), NTK_STATUS_NON_FINITE, "rtol");
    opt.rtol = 0.0;
    opt.krylov_tol = INFINITY;
    CHECK_ERROR(C(kv, yv, fv, NULL, NULL, 0, &opt, &flow), NTK_STATUS_NON_FINITE, "krylov_tol");
    opt.krylov_tol = 2.0;
    CHECK_ERROR(C(kv, yv, fv, NULL, NULL, 0, &opt, &flow), NTK_STATUS_INVALID_ARGUMENT, "krylov_tol");
    opt.krylov_tol = 0.0;
    opt.rtol = 1.5;
    CHECK_ERROR(C(kv, yv, fv, NULL, NULL, 0, &opt, &flow), NTK_STATUS_INVALID_ARGUMENT, "rtol");
    /* shapes */
    CHECK_ERROR(C(ntk_matrix_row_major(K, N - 1, N - 1), yv, fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_INVALID_ARGUMENT,
                "kernel");
    CHECK_ERROR(C(ntk_matrix_row_major(K, N, N - 1), yv, fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_INVALID_ARGUMENT,
                "kernel");
    CHECK_ERROR(C(kv, yv, ntk_matrix_row_major(F0, N, KO - 1), NULL, NULL, 0, NULL, &flow), NTK_STATUS_INVALID_ARGUMENT,
                "f0");
    CHECK_ERROR(C(kv, ntk_matrix_row_major(Y, 0, KO), fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_INVALID_ARGUMENT, "y");
    bad = ntk_matrix_row_major(KS, M, N - 1);
    CHECK_ERROR(C(kv, yv, fv, &bad, &tf, 0, NULL, &flow), NTK_STATUS_INVALID_ARGUMENT, "test_kernel");
    bad = ntk_matrix_row_major(FS0, M - 1, KO);
    CHECK_ERROR(C(kv, yv, fv, &tk, &bad, 0, NULL, &flow), NTK_STATUS_INVALID_ARGUMENT, "test_f0");
    /* asymmetric, indefinite, non-finite */
    memcpy(kb, K, sizeof K);
    kb[0 * N + 2] += 1e-3;
    CHECK_ERROR(C(ntk_matrix_row_major(kb, N, N), yv, fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_INVALID_ARGUMENT,
                "symmetric");
    memcpy(kb, K, sizeof K);
    kb[1 * N + 1] = -1.0;
    CHECK_ERROR(C(ntk_matrix_row_major(kb, N, N), yv, fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_NUMERICAL,
                "positive semi-definite");
    memcpy(kb, K, sizeof K);
    kb[0 * N + 1] = kb[1 * N + 0] = 10.0; /* symmetric, positive diagonal, indefinite */
    CHECK_ERROR(C(ntk_matrix_row_major(kb, N, N), yv, fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_NUMERICAL,
                "positive semi-definite");
    memcpy(kb, K, sizeof K);
    kb[4] = NAN;
    CHECK_ERROR(C(ntk_matrix_row_major(kb, N, N), yv, fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_NON_FINITE, "kernel");
    memcpy(yb, Y, sizeof Y);
    yb[3] = INFINITY;
    CHECK_ERROR(C(kv, ntk_matrix_row_major(yb, N, KO), fv, NULL, NULL, 0, NULL, &flow), NTK_STATUS_NON_FINITE, "y");
    CHECK_ERROR(C(kv, yv, ntk_matrix_row_major(yb, N, KO), NULL, NULL, 0, NULL, &flow), NTK_STATUS_NON_FINITE, "f0");
#undef C
    CHECK(flow == untouched);
}

static void test_handle_errors(void) {
    ntk_flow *flow = make_flow(K, N, KS, M, NTK_COST_MSE, NULL), *plain = NULL;
    double out[N * KO + 4], t = SENTINEL, loss = SENTINEL, before[N * KO], after[N * KO];
    ntk_matrix_mut ov = ntk_matrix_row_major_mut(out, N, KO), bad;
    ntk_test_set(out, N * KO + 4, SENTINEL);
    CHECK_STATUS(ntk_flow_set_time(flow, 0.5, NULL), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_outputs(flow, ntk_matrix_row_major_mut(before, N, KO)), NTK_STATUS_OK);
    /* step */
    CHECK_ERROR(ntk_flow_step(NULL, 0.1, NULL), NTK_STATUS_NULL_POINTER, "flow");
    CHECK_ERROR(ntk_flow_step(flow, 0.0, NULL), NTK_STATUS_INVALID_ARGUMENT, "dt");
    CHECK_ERROR(ntk_flow_step(flow, -0.1, NULL), NTK_STATUS_INVALID_ARGUMENT, "dt");
    CHECK_ERROR(ntk_flow_step(flow, NAN, NULL), NTK_STATUS_NON_FINITE, "dt");
    CHECK_ERROR(ntk_flow_step(flow, INFINITY, NULL), NTK_STATUS_NON_FINITE, "dt");
    /* set_time */
    CHECK_ERROR(ntk_flow_set_time(NULL, 0.1, NULL), NTK_STATUS_NULL_POINTER, "flow");
    CHECK_ERROR(ntk_flow_set_time(flow, -0.1, NULL), NTK_STATUS_INVALID_ARGUMENT, "t");
    CHECK_ERROR(ntk_flow_set_time(flow, NAN, NULL), NTK_STATUS_NON_FINITE, "t");
    CHECK_ERROR(ntk_flow_set_time(flow, -INFINITY, NULL), NTK_STATUS_NON_FINITE, "t");
    /* the flow is unchanged by the failed calls */
    CHECK_STATUS(ntk_flow_time(flow, &t), NTK_STATUS_OK);
    CHECK(t == 0.5);
    CHECK_STATUS(ntk_flow_outputs(flow, ntk_matrix_row_major_mut(after, N, KO)), NTK_STATUS_OK);
    ntk_test_same_bits(before, after, N * KO, "flow unchanged by failed step/set_time");
    /* time / loss */
    t = SENTINEL;
    CHECK_ERROR(ntk_flow_time(NULL, &t), NTK_STATUS_NULL_POINTER, "flow");
    CHECK_ERROR(ntk_flow_time(flow, NULL), NTK_STATUS_NULL_POINTER, "t");
    CHECK(t == SENTINEL);
    CHECK_ERROR(ntk_flow_loss(NULL, &loss), NTK_STATUS_NULL_POINTER, "flow");
    CHECK_ERROR(ntk_flow_loss(flow, NULL), NTK_STATUS_NULL_POINTER, "loss");
    CHECK(loss == SENTINEL);
    /* outputs / predict */
    CHECK_ERROR(ntk_flow_outputs(NULL, ov), NTK_STATUS_NULL_POINTER, "flow");
    bad = ov;
    bad.data = NULL;
    CHECK_ERROR(ntk_flow_outputs(flow, bad), NTK_STATUS_NULL_POINTER, "out");
    CHECK_ERROR(ntk_flow_outputs(flow, ntk_matrix_row_major_mut(out, N, KO + 1)), NTK_STATUS_INVALID_ARGUMENT, "out");
    CHECK_ERROR(ntk_flow_outputs(flow, ntk_matrix_row_major_mut(out, N + 1, KO)), NTK_STATUS_INVALID_ARGUMENT, "out");
    bad = ov;
    bad.row_stride = 0;
    CHECK_ERROR(ntk_flow_outputs(flow, bad), NTK_STATUS_INVALID_ARGUMENT, "out");
    CHECK_ERROR(ntk_flow_predict(NULL, ntk_matrix_row_major_mut(out, M, KO)), NTK_STATUS_NULL_POINTER, "flow");
    CHECK_ERROR(ntk_flow_predict(flow, ov), NTK_STATUS_INVALID_ARGUMENT, "out"); /* N x k, not M x k */
    CHECK_STATUS(ntk_flow_create(ntk_matrix_row_major(K, N, N), ntk_matrix_row_major(Y, N, KO), ntk_matrix_row_major(F0, N, KO), NULL,
                                 NULL, NTK_COST_MSE, NULL, &plain),
                 NTK_STATUS_OK);
    CHECK_ERROR(ntk_flow_predict(plain, ntk_matrix_row_major_mut(out, M, KO)), NTK_STATUS_INVALID_ARGUMENT, "test");
    CHECK(ntk_test_all_bits(out, N * KO + 4, SENTINEL));
    ntk_flow_free(plain);
    ntk_flow_free(NULL); /* accepted and ignored */
    ntk_flow_free(flow);
}

/* Many create/free cycles: valgrind (tests/c_api.rs) reports any leak. */
static void test_cycles(void) {
    int i;
    for (i = 0; i < 50; i++) {
        ntk_flow_options opt;
        ntk_flow *flow;
        memset(&opt, 0, sizeof opt);
        opt.method = i % 4;
        flow = make_flow(K, N, KS, M, NTK_COST_MSE, &opt);
        if (i % 2) CHECK_STATUS(ntk_flow_set_time(flow, 1.0, NULL), NTK_STATUS_OK);
        ntk_flow_free(flow);
    }
}

/* Progress recorder: counts calls, cancels at call cancel_at (never when 0), checks monotonicity. */
typedef struct {
    int calls, cancel_at, bad;
    uint64_t last_done, total;
} recorder;

static int record_progress(void *user_data, uint64_t done, uint64_t total) {
    recorder *r = (recorder *)user_data;
    if (done > total || done < r->last_done || (r->calls > 0 && total != r->total)) r->bad = 1;
    if (r->calls == 0 && done != 0) r->bad = 1;
    r->last_done = done;
    r->total = total;
    r->calls++;
    return r->cancel_at != 0 && r->calls >= r->cancel_at;
}

static ntk_flow *make_ce_flow(double scale) {
    double k[N * N], y[N * KC], f0[N * KC];
    ntk_flow *flow = NULL;
    size_t i;
    for (i = 0; i < N * N; i++) k[i] = K[i] * scale;
    for (i = 0; i < N * KC; i++) y[i] = (i % KC == i / KC % KC) ? 0.8 : 0.1; /* soft targets */
    ntk_test_fill(f0, N * KC, 31);
    CHECK_STATUS(ntk_flow_create(ntk_matrix_row_major(k, N, N), ntk_matrix_row_major(y, N, KC), ntk_matrix_row_major(f0, N, KC), NULL,
                                 NULL, NTK_COST_CROSS_ENTROPY, NULL, &flow),
                 NTK_STATUS_OK);
    return flow;
}

static void flow_state(ntk_flow *flow, double *state) {
    CHECK_STATUS(ntk_flow_time(flow, &state[0]), NTK_STATUS_OK);
    CHECK_STATUS(ntk_flow_outputs(flow, ntk_matrix_row_major_mut(state + 1, N, KC)), NTK_STATUS_OK);
}

static void test_progress_and_cancel(void) {
    double ref[2][1 + N * KC], got[1 + N * KC];
    ntk_options opt;
    recorder r;
    int calls[2], call, j;
    ntk_flow *flow = make_ce_flow(1.0);
    memset(&opt, 0, sizeof opt);
    opt.progress = record_progress;
    opt.user_data = &r;
    /* reference: set_time(40) then step(10), counting the callbacks */
    for (call = 0; call < 2; call++) {
        memset(&r, 0, sizeof r);
        CHECK_STATUS(call == 0 ? ntk_flow_set_time(flow, 40.0, &opt) : ntk_flow_step(flow, 10.0, &opt),
                     NTK_STATUS_OK);
        CHECK(!r.bad && r.calls >= 2 && r.last_done == r.total);
        calls[call] = r.calls;
        flow_state(flow, ref[call]);
    }
    ntk_flow_free(flow);
    /* cancel each call at each callback position */
    for (call = 0; call < 2; call++)
        for (j = 1; j <= calls[call]; j++) {
            double before[1 + N * KC];
            flow = make_ce_flow(1.0);
            if (call == 1) CHECK_STATUS(ntk_flow_set_time(flow, 40.0, NULL), NTK_STATUS_OK);
            flow_state(flow, before);
            memset(&r, 0, sizeof r);
            r.cancel_at = j;
            CHECK_STATUS(call == 0 ? ntk_flow_set_time(flow, 40.0, &opt) : ntk_flow_step(flow, 10.0, &opt),
                         NTK_STATUS_CANCELLED);
            CHECK(r.calls == j);
            flow_state(flow, got);
            ntk_test_same_bits(before, got, 1 + N * KC, "flow unchanged by a cancelled call");
            CHECK_STATUS(call == 0 ? ntk_flow_set_time(flow, 40.0, NULL) : ntk_flow_step(flow, 10.0, NULL),
                         NTK_STATUS_OK);
            flow_state(flow, got);
            ntk_test_same_bits(ref[call], got, 1 + N * KC, "call after a cancel == uncancelled call");
            ntk_flow_free(flow);
        }
    /* MSE closed form: (0, 1) and (1, 1) */
    flow = make_flow(K, N, KS, M, NTK_COST_MSE, NULL);
    memset(&r, 0, sizeof r);
    CHECK_STATUS(ntk_flow_set_time(flow, 2.0, &opt), NTK_STATUS_OK);
    CHECK(!r.bad && r.calls == 2 && r.total == 1 && r.last_done == 1);
    ntk_flow_free(flow);
    /* a hopelessly stiff ODE request fails fast instead of running 10^7 steps */
    flow = make_ce_flow(1e300);
    flow_state(flow, ref[0]);
    CHECK_ERROR(ntk_flow_set_time(flow, 3.0, NULL), NTK_STATUS_NUMERICAL, "stiff");
    flow_state(flow, got);
    ntk_test_same_bits(ref[0], got, 1 + N * KC, "flow unchanged by a stiff failure");
    CHECK_ERROR(ntk_flow_set_time(flow, 1e300, NULL), NTK_STATUS_NUMERICAL, "stiff");
    ntk_flow_free(flow);
}

int main(void) {
    setup();
    test_mse_methods();
    test_mse_infinity();
    test_full_kernel_and_layouts();
    test_cross_entropy();
    test_create_errors();
    test_handle_errors();
    test_cycles();
    test_progress_and_cancel();
    return ntk_test_summary("test_flow");
}
