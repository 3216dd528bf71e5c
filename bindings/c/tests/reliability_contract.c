/* The bad-input contract from C (docs/bad-input-contract.md): every pointer argument NULL,
 * zero/absurd sizes, overflowing products, aliasing strides, NaN/Inf, negative beta, unknown
 * enum values, unallocatable requests. Each call must return its status, name the argument in
 * ntk_last_error(), and leave outputs (sentinel-filled) untouched. Also exercises these error
 * paths under valgrind/ASan (scripts/sanitizers.sh). Run by tests/c_reliability.rs.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, for NTK_TEST_ERROR_TIME_LIMIT */
/* The bounded-time contract: every bad-input call checked here returns within 1 s. */
#define NTK_TEST_ERROR_TIME_LIMIT 1.0
#include "ntk_test.h"

#include <stdint.h>

/* Sentinel of the output buffers, which failed calls must leave untouched. */
#define SENT (-3.5e7)

static ntk_network_config config(const size_t *w, size_t n) {
    ntk_network_config c;
    memset(&c, 0, sizeof c);
    c.widths = w;
    c.num_widths = n;
    c.activation = NTK_ACTIVATION_TANH;
    c.beta = 0.5;
    c.seed = 5;
    return c;
}

int main(void) {
    const size_t w[] = {3, 6, 2};
    ntk_network_config cfg = config(w, 3);
    ntk_network *net = NULL, *sentinel = (ntk_network *)(uintptr_t)0x1234, *h = sentinel;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    if (net == NULL) return ntk_test_summary("reliability_contract");
    size_t p = 0;
    ntk_network_shape(net, NULL, &p);
    double x[12], buf[256], params[64];
    for (int i = 0; i < 12; i++) x[i] = 0.1 * i - 0.4;
    ntk_test_set(buf, 256, SENT);
    ntk_test_set(params, 64, SENT);

    /* NULL pointers */
    CHECK_ERROR(ntk_network_create(NULL, &h), NTK_STATUS_NULL_POINTER, "`config`");
    CHECK_ERROR(ntk_network_create(&cfg, NULL), NTK_STATUS_NULL_POINTER, "`out`");
    ntk_network_config c2 = cfg;
    c2.widths = NULL;
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_NULL_POINTER, "config.widths");
    c2 = cfg;
    c2.activation = NTK_ACTIVATION_CUSTOM;
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_NULL_POINTER, "config.custom_sigma");
    CHECK_ERROR(ntk_network_clone(NULL, &h), NTK_STATUS_NULL_POINTER, "`network`");
    CHECK_ERROR(ntk_network_clone(net, NULL), NTK_STATUS_NULL_POINTER, "`out`");
    CHECK_ERROR(ntk_network_shape(NULL, NULL, NULL), NTK_STATUS_NULL_POINTER, "`network`");
    CHECK_ERROR(ntk_network_get_params(NULL, params, p), NTK_STATUS_NULL_POINTER, "`network`");
    CHECK_ERROR(ntk_network_get_params(net, NULL, p), NTK_STATUS_NULL_POINTER, "`out`");
    CHECK_ERROR(ntk_network_set_params(NULL, params, p), NTK_STATUS_NULL_POINTER, "`network`");
    CHECK_ERROR(ntk_network_set_params(net, NULL, p), NTK_STATUS_NULL_POINTER, "`params`");
    CHECK_ERROR(ntk_get_num_threads(NULL), NTK_STATUS_NULL_POINTER, "`out`");
    CHECK_ERROR(ntk_network_forward(NULL, ntk_matrix_row_major(x, 4, 3), ntk_matrix_row_major_mut(buf, 4, 2)), NTK_STATUS_NULL_POINTER,
           "`network`");
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(NULL, 4, 3), ntk_matrix_row_major_mut(buf, 4, 2)), NTK_STATUS_NULL_POINTER,
           "x.data");
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(x, 4, 3), ntk_matrix_row_major_mut(NULL, 4, 2)), NTK_STATUS_NULL_POINTER,
           "out.data");
    ntk_matrix xnull = ntk_matrix_row_major(NULL, 4, 3);
    CHECK_ERROR(ntk_kernel_empirical(NULL, ntk_matrix_row_major(x, 4, 3), NULL, 0, 0, ntk_matrix_row_major_mut(buf, 4, 4), NULL),
           NTK_STATUS_NULL_POINTER, "`network`");
    CHECK_ERROR(ntk_kernel_empirical(net, ntk_matrix_row_major(NULL, 4, 3), NULL, 0, 0, ntk_matrix_row_major_mut(buf, 4, 4), NULL),
           NTK_STATUS_NULL_POINTER, "x1.data");
    CHECK_ERROR(ntk_kernel_empirical(net, ntk_matrix_row_major(x, 4, 3), &xnull, 0, 0, ntk_matrix_row_major_mut(buf, 4, 4), NULL),
           NTK_STATUS_NULL_POINTER, "x2.data");
    CHECK_ERROR(ntk_kernel_empirical(net, ntk_matrix_row_major(x, 4, 3), NULL, 0, 0, ntk_matrix_row_major_mut(NULL, 4, 4), NULL),
           NTK_STATUS_NULL_POINTER, "out.data");
    CHECK_ERROR(ntk_network_jacobian(NULL, ntk_matrix_row_major(x, 4, 3), ntk_matrix_row_major_mut(buf, 8, p), NULL),
           NTK_STATUS_NULL_POINTER, "`network`");
    CHECK_ERROR(ntk_network_jacobian(net, ntk_matrix_row_major(NULL, 4, 3), ntk_matrix_row_major_mut(buf, 8, p), NULL),
           NTK_STATUS_NULL_POINTER, "x.data");
    CHECK_ERROR(ntk_network_jacobian(net, ntk_matrix_row_major(x, 4, 3), ntk_matrix_row_major_mut(NULL, 8, p), NULL),
           NTK_STATUS_NULL_POINTER, "out.data");
    ntk_network_free(NULL);

    /* zero / absurd sizes, overflowing products, unallocatable */
    c2 = cfg;
    c2.num_widths = 1;
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_INVALID_ARGUMENT, "config.num_widths");
    const size_t w0[] = {3, 0, 2};
    c2 = config(w0, 3);
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_INVALID_ARGUMENT, "widths[1]");
    const size_t wbig[] = {3, (size_t)1 << 40, 2};
    c2 = config(wbig, 3);
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_INVALID_ARGUMENT, "config.widths[1]");
    const size_t wover[] = {(size_t)1 << 32, (size_t)1 << 32, (size_t)1 << 32, (size_t)1 << 32};
    c2 = config(wover, 4);
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_ALLOCATION, "widths");
    const size_t whuge[] = {(size_t)1 << 23, (size_t)1 << 23, 1};
    c2 = config(whuge, 3);
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_ALLOCATION, "network parameters");
    CHECK_ERROR(ntk_set_num_threads((size_t)1 << 20), NTK_STATUS_INVALID_ARGUMENT, "num_threads");
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(x, 0, 3), ntk_matrix_row_major_mut(buf, 0, 2)), NTK_STATUS_INVALID_ARGUMENT,
           "x is empty");
    ntk_matrix huge = ntk_matrix_strided(x, (size_t)1 << 63, 3, 0, 1);
    CHECK_ERROR(ntk_kernel_empirical(net, huge, NULL, NTK_KERNEL_MODE_FULL, 0, ntk_matrix_row_major_mut(buf, 2, 2), NULL),
           NTK_STATUS_ALLOCATION, "kernel rows");
    CHECKF(h == sentinel, "*out written by a failed create");

    /* strides */
    ntk_matrix_mut alias = ntk_matrix_row_major_mut(buf, 4, 2);
    alias.row_stride = 0;
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(x, 4, 3), alias), NTK_STATUS_INVALID_ARGUMENT,
           "out: strides");
    ntk_matrix far = ntk_matrix_row_major(x, 4, 3);
    far.row_stride = PTRDIFF_MAX / 2;
    CHECK_ERROR(ntk_network_forward(net, far, ntk_matrix_row_major_mut(buf, 4, 2)), NTK_STATUS_ALLOCATION, "x: rows");
    double xo[20];
    memcpy(xo, x, sizeof x);
    ntk_matrix_mut over = ntk_matrix_row_major_mut(xo + 4, 4, 2);
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(xo, 4, 3), over), NTK_STATUS_INVALID_ARGUMENT,
           "out overlaps the memory of x");

    /* shapes */
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(x, 4, 2), ntk_matrix_row_major_mut(buf, 4, 2)), NTK_STATUS_INVALID_ARGUMENT,
           "x has 2 columns");
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(x, 4, 3), ntk_matrix_row_major_mut(buf, 4, 3)), NTK_STATUS_INVALID_ARGUMENT,
           "out is 4x3");
    CHECK_ERROR(ntk_network_get_params(net, params, p + 1), NTK_STATUS_INVALID_ARGUMENT, "len");

    /* non-finite, beta, enums */
    double xn[12];
    memcpy(xn, x, sizeof x);
    xn[5] = NAN;
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(xn, 4, 3), ntk_matrix_row_major_mut(buf, 4, 2)), NTK_STATUS_NON_FINITE,
           "x[1,2]");
    xn[5] = -INFINITY;
    ntk_matrix x2bad = ntk_matrix_row_major(xn, 4, 3);
    CHECK_ERROR(ntk_kernel_empirical(net, ntk_matrix_row_major(x, 4, 3), &x2bad, 0, 0, ntk_matrix_row_major_mut(buf, 4, 4), NULL),
           NTK_STATUS_NON_FINITE, "x2[1,2]");
    c2 = cfg;
    c2.beta = -0.25;
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_INVALID_ARGUMENT, "config.beta");
    c2.beta = INFINITY;
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_NON_FINITE, "config.beta");
    c2 = cfg;
    c2.activation = 11;
    CHECK_ERROR(ntk_network_create(&c2, &h), NTK_STATUS_INVALID_ARGUMENT, "config.activation");
    CHECK_ERROR(ntk_kernel_empirical(net, ntk_matrix_row_major(x, 4, 3), NULL, 7, 0, ntk_matrix_row_major_mut(buf, 4, 4), NULL),
           NTK_STATUS_INVALID_ARGUMENT, "mode");
    CHECK_ERROR(ntk_kernel_empirical(net, ntk_matrix_row_major(x, 4, 3), NULL, 0, -1, ntk_matrix_row_major_mut(buf, 4, 4), NULL),
           NTK_STATUS_INVALID_ARGUMENT, "method");
    double pn[64];
    ntk_network_get_params(net, pn, p);
    pn[0] = NAN;
    CHECK_ERROR(ntk_network_set_params(net, pn, p), NTK_STATUS_NON_FINITE, "params[0]");
    /* overflowing result */
    double xb[12];
    for (int i = 0; i < 12; i++) xb[i] = 1e200;
    CHECK_ERROR(ntk_kernel_empirical(net, ntk_matrix_row_major(xb, 4, 3), NULL, 0, 0, ntk_matrix_row_major_mut(buf + 128, 4, 4), NULL),
           NTK_STATUS_NUMERICAL, "out[0,0]");
    ntk_test_set(buf + 128, 16, SENT);

    /* limit kernels and tiles (rows "ntk_kernel_limit and tiles" of the table) */
    {
        double lb[64], xl[12];
        ntk_test_set(lb, 64, SENT);
        memcpy(xl, x, sizeof x);
        ntk_matrix_mut lo = ntk_matrix_row_major_mut(lb, 4, 4), lo2 = ntk_matrix_row_major_mut(lb + 16, 2, 2);
        ntk_matrix xnul = ntk_matrix_row_major(NULL, 4, 3);
        CHECK_ERROR(ntk_kernel_limit(NULL, ntk_matrix_row_major(x, 4, 3), NULL, &lo, NULL, NULL, NULL),
               NTK_STATUS_NULL_POINTER, "`network`");
        CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(NULL, 4, 3), NULL, &lo, NULL, NULL, NULL),
               NTK_STATUS_NULL_POINTER, "x1.data");
        CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(x, 4, 3), &xnul, &lo, NULL, NULL, NULL),
               NTK_STATUS_NULL_POINTER, "x2.data");
        CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(x, 4, 3), NULL, NULL, NULL, NULL, NULL),
               NTK_STATUS_NULL_POINTER, "nngp, sigma_dot and ntk");
        ntk_matrix_mut lwrong = ntk_matrix_row_major_mut(lb, 4, 3);
        CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(x, 4, 3), NULL, &lwrong, NULL, NULL, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "nngp is 4x3, expected 4x4");
        CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(x, 4, 2), NULL, &lo, NULL, NULL, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "x1 has 2 columns");
        ntk_matrix_mut same = lo;
        CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(x, 4, 3), NULL, &lo, NULL, &same, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "nngp and ntk overlap");
        ntk_matrix_mut inx = ntk_matrix_row_major_mut(xl, 2, 2);
        CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(xl, 2, 3), NULL, NULL, &inx, NULL, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "sigma_dot overlaps the memory of x1");
        xl[5] = NAN;
        CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(xl, 4, 3), NULL, &lo, NULL, NULL, NULL),
               NTK_STATUS_NON_FINITE, "x1[1,2]");
        ntk_limit_points *lp = (ntk_limit_points *)(uintptr_t)0x77, *lps = lp;
        CHECK_ERROR(ntk_limit_points_create(net, ntk_matrix_row_major(xl, 4, 3), NULL, &lp), NTK_STATUS_NON_FINITE,
               "x[1,2]");
        CHECK_ERROR(ntk_limit_points_create(NULL, ntk_matrix_row_major(x, 4, 3), NULL, &lp), NTK_STATUS_NULL_POINTER,
               "`network`");
        CHECK_ERROR(ntk_limit_points_create(net, ntk_matrix_row_major(x, 4, 3), NULL, NULL), NTK_STATUS_NULL_POINTER,
               "`out`");
        CHECK_ERROR(ntk_limit_points_create(net, ntk_matrix_row_major(x, 4, 2), NULL, &lp), NTK_STATUS_INVALID_ARGUMENT,
               "x has 2 columns");
        ntk_matrix hugepts = ntk_matrix_strided(x, (size_t)1 << 40, 3, 0, 1);
        CHECK_ERROR(ntk_limit_points_create(net, hugepts, NULL, &lp), NTK_STATUS_ALLOCATION, "points");
        CHECKF(lp == lps, "*out written by a failed ntk_limit_points_create");
        ntk_limit_points *p1 = NULL, *p3 = NULL;
        const size_t w3[] = {3, 4, 4, 2};
        ntk_network_config c3 = config(w3, 4);
        ntk_network *deep = NULL;
        if (ntk_limit_points_create(net, ntk_matrix_row_major(x, 4, 3), NULL, &p1) != NTK_STATUS_OK ||
            ntk_network_create(&c3, &deep) != NTK_STATUS_OK ||
            ntk_limit_points_create(deep, ntk_matrix_row_major(x, 4, 3), NULL, &p3) != NTK_STATUS_OK) {
            FAIL("cannot prepare limit points");
            return ntk_test_summary("reliability_contract");
        }
        size_t np = 77;
        CHECK_ERROR(ntk_limit_points_len(NULL, &np), NTK_STATUS_NULL_POINTER, "`points`");
        CHECK_ERROR(ntk_limit_points_len(p1, NULL), NTK_STATUS_NULL_POINTER, "`num_points`");
        CHECK_ERROR(ntk_kernel_limit_tile(NULL, 0, 2, p1, 0, 2, &lo2, NULL, NULL, NULL),
               NTK_STATUS_NULL_POINTER, "`p1`");
        CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, NULL, 0, 2, &lo2, NULL, NULL, NULL),
               NTK_STATUS_NULL_POINTER, "`p2`");
        CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, p1, 0, 2, NULL, NULL, NULL, NULL),
               NTK_STATUS_NULL_POINTER, "nngp, sigma_dot and ntk");
        CHECK_ERROR(ntk_kernel_limit_tile(p1, 2, 2, p1, 0, 2, &lo2, NULL, NULL, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "i0 = 2, i1 = 2");
        CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, p1, 3, 5, &lo2, NULL, NULL, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "j1 = 5");
        CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, p3, 0, 2, &lo2, NULL, NULL, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "p1 and p2 were prepared for different limit kernels");
        ntk_matrix_mut t23 = ntk_matrix_row_major_mut(lb + 16, 2, 3);
        CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, p1, 0, 2, NULL, NULL, &t23, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "ntk is 2x3, expected 2x2");
        CHECKF(np == 77, "a failed ntk_limit_points_len wrote *num_points");

        /* empirical features and tiles */
        ntk_empirical_features *f1 = NULL, *fs = (ntk_empirical_features *)(uintptr_t)0x78;
        ntk_empirical_features *fo = fs;
        CHECK_ERROR(ntk_empirical_features_create(NULL, ntk_matrix_row_major(x, 4, 3), NULL, &fo),
               NTK_STATUS_NULL_POINTER, "`network`");
        CHECK_ERROR(ntk_empirical_features_create(net, ntk_matrix_row_major(x, 4, 3), NULL, NULL),
               NTK_STATUS_NULL_POINTER, "`out`");
        CHECK_ERROR(ntk_empirical_features_create(net, ntk_matrix_row_major(xl, 4, 3), NULL, &fo), NTK_STATUS_NON_FINITE,
               "x[1,2]");
        CHECK_ERROR(ntk_empirical_features_create(net, hugepts, NULL, &fo), NTK_STATUS_ALLOCATION,
               "points");
        CHECKF(fo == fs, "*out written by a failed ntk_empirical_features_create");
        if (ntk_empirical_features_create(net, ntk_matrix_row_major(x, 4, 3), NULL, &f1) != NTK_STATUS_OK) {
            FAIL("cannot prepare features");
            return ntk_test_summary("reliability_contract");
        }
        CHECK_ERROR(ntk_empirical_features_len(NULL, &np), NTK_STATUS_NULL_POINTER, "`features`");
        CHECK_ERROR(ntk_kernel_empirical_tile(NULL, f1, 0, 2, f1, 0, 2, 0, lo2, NULL),
               NTK_STATUS_NULL_POINTER, "`network`");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, NULL, 0, 2, f1, 0, 2, 0, lo2, NULL),
               NTK_STATUS_NULL_POINTER, "`f1`");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 2, NULL, 0, 2, 0, lo2, NULL),
               NTK_STATUS_NULL_POINTER, "`f2`");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 3, 1, f1, 0, 2, 0, lo2, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "i0 = 3, i1 = 1");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 2, f1, 0, 2, 2, lo2, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "mode = 2");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 2, f1, 0, 2, NTK_KERNEL_MODE_FULL, lo2, NULL),
               NTK_STATUS_INVALID_ARGUMENT, "out is 2x2, expected 4x4");
        CHECKF(ntk_test_all_bits(lb, 64, SENT), "output %s written by a failed call", "lb");

        /* overflow: finite inputs, non-finite kernels */
        double lbig[12], lk[16];
        for (int i = 0; i < 12; i++) lbig[i] = 1e200;
        ntk_matrix_mut lko = ntk_matrix_row_major_mut(lk, 4, 4);
        CHECK_ERROR(ntk_kernel_limit(net, ntk_matrix_row_major(lbig, 4, 3), NULL, NULL, NULL, &lko, NULL),
               NTK_STATUS_NUMERICAL, "ntk[");
        ntk_empirical_features *fb = NULL;
        if (ntk_empirical_features_create(net, ntk_matrix_row_major(lbig, 4, 3), NULL, &fb) == NTK_STATUS_OK) {
            CHECK_ERROR(ntk_kernel_empirical_tile(net, fb, 0, 2, fb, 0, 2, 0, ntk_matrix_row_major_mut(lk, 2, 2), NULL),
                   NTK_STATUS_NUMERICAL, "out[");
        } else {
            FAIL("features of 1e200");
        }

        /* features of a network whose parameters changed since */
        double pc[64];
        ntk_network_get_params(net, pc, p);
        pc[0] += 0.5;
        ntk_network_set_params(net, pc, p);
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 2, f1, 0, 2, 0, ntk_matrix_row_major_mut(lk, 2, 2), NULL),
               NTK_STATUS_INVALID_ARGUMENT, "f1 was computed with different parameters");
        pc[0] -= 0.5;
        ntk_network_set_params(net, pc, p);

        ntk_limit_points_free(NULL);
        ntk_empirical_features_free(NULL);
        ntk_limit_points_free(p1);
        ntk_limit_points_free(p3);
        ntk_empirical_features_free(f1);
        ntk_empirical_features_free(fb);
        ntk_network_free(deep);
    }

    CHECKF(ntk_test_all_bits(buf, 256, SENT), "output %s written by a failed call", "buf");
    CHECKF(ntk_test_all_bits(params, 64, SENT), "output %s written by a failed call", "params");
    CHECKF(h == sentinel, "*out written by a failed create");
    CHECK(strcmp(ntk_status_str(99), "NTK_STATUS_UNKNOWN") == 0);

    /* success clears the message */
    double ok[8];
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(x, 4, 3), ntk_matrix_row_major_mut(ok, 4, 2)),
                 NTK_STATUS_OK); /* CHECK_STATUS also requires the empty message */
    ntk_network_free(net);
    printf("reliability_contract: slowest bad-input call %.4f s\n", ntk_test_slowest_error());
    return ntk_test_summary("reliability_contract");
}
