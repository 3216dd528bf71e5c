/*
 * test_network.c -- C API test: library info, threads, network create/free/clone/shape/params/
 * forward. Success paths are compared with the forward pass recomputed in plain C loops from
 * ntk_network_get_params (ntk_test_forward_reference), never with the library itself; every
 * error class of every function is exercised, and outputs are checked to be untouched on error.
 */
#include "ntk_test.h"

#include <stdint.h>

#define N_POINTS 5
#define SENTINEL (-12345.0)

static const size_t WIDTHS[] = {3, 7, 5, 2};
#define NUM_WIDTHS (sizeof WIDTHS / sizeof WIDTHS[0])
/* P = 7*(3+1) + 5*(7+1) + 2*(5+1) */
#define NUM_PARAMS 80u

static ntk_network_config tanh_config(void) {
    ntk_network_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = WIDTHS;
    cfg.num_widths = NUM_WIDTHS;
    cfg.activation = NTK_ACTIVATION_TANH;
    cfg.beta = 0.3;
    cfg.seed = 42;
    return cfg;
}

static void fill(double *a, size_t n, double v) {
    size_t i;
    for (i = 0; i < n; i++) a[i] = v;
}

static int all_equal(const double *a, size_t n, double v) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (memcmp(&a[i], &v, sizeof v) != 0) return 0;
    }
    return 1;
}

static void test_info(void) {
    int s;
    CHECK(strcmp(ntk_version(), NTK_VERSION_STRING) == 0);
    CHECK(strcmp(ntk_status_str(NTK_STATUS_OK), "NTK_STATUS_OK") == 0);
    CHECK(strcmp(ntk_status_str(NTK_STATUS_NULL_POINTER), "NTK_STATUS_NULL_POINTER") == 0);
    CHECK(strcmp(ntk_status_str(NTK_STATUS_INVALID_ARGUMENT), "NTK_STATUS_INVALID_ARGUMENT") == 0);
    CHECK(strcmp(ntk_status_str(NTK_STATUS_NON_FINITE), "NTK_STATUS_NON_FINITE") == 0);
    CHECK(strcmp(ntk_status_str(NTK_STATUS_ALLOCATION), "NTK_STATUS_ALLOCATION") == 0);
    CHECK(strcmp(ntk_status_str(NTK_STATUS_CANCELLED), "NTK_STATUS_CANCELLED") == 0);
    CHECK(strcmp(ntk_status_str(NTK_STATUS_NUMERICAL), "NTK_STATUS_NUMERICAL") == 0);
    CHECK(strcmp(ntk_status_str(NTK_STATUS_INTERNAL), "NTK_STATUS_INTERNAL") == 0);
    for (s = -3; s < 0; s++) CHECK(strcmp(ntk_status_str(s), "NTK_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(ntk_status_str(8), "NTK_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(ntk_status_str(1 << 30), "NTK_STATUS_UNKNOWN") == 0);
}

static void test_threads(void) {
    size_t n = 999;
    CHECK_STATUS(ntk_set_num_threads(2), NTK_STATUS_OK);
    CHECK_STATUS(ntk_get_num_threads(&n), NTK_STATUS_OK);
    CHECK(n == 2);
    CHECK_STATUS(ntk_set_num_threads(0), NTK_STATUS_OK);
    n = 0;
    CHECK_STATUS(ntk_get_num_threads(&n), NTK_STATUS_OK);
    CHECK(n >= 1);
    CHECK_ERROR(ntk_get_num_threads(NULL), NTK_STATUS_NULL_POINTER, "out");
    /* more than the maximum (1024) threads; the setting in force is kept */
    CHECK_ERROR(ntk_set_num_threads(1025), NTK_STATUS_INVALID_ARGUMENT, "num_threads");
    CHECK_ERROR(ntk_set_num_threads(SIZE_MAX), NTK_STATUS_INVALID_ARGUMENT, "num_threads");
    CHECK_STATUS(ntk_get_num_threads(&n), NTK_STATUS_OK);
    CHECK(n >= 1);
    /* A successful call clears the message. */
    CHECK_STATUS(ntk_get_num_threads(&n), NTK_STATUS_OK);
    CHECK(ntk_last_error()[0] == '\0');
}

/* Forward pass of `net` on the row-major N x n_0 `x` vs the plain-loop reference. */
static void check_forward_against_reference(const ntk_network *net, const size_t *widths,
                                            size_t num_widths, double beta, ntk_test_sigma sigma,
                                            void *user_data, const char *what) {
    double theta[NUM_PARAMS + 64];
    double x[N_POINTS * 8], got[N_POINTS * 8], want[N_POINTS * 8];
    size_t depth = 0, p = 0, n0 = widths[0], nl = widths[num_widths - 1];
    CHECK_STATUS(ntk_network_shape(net, &depth, &p), NTK_STATUS_OK);
    CHECK(depth == num_widths - 1);
    CHECK(p <= sizeof theta / sizeof theta[0]);
    CHECK(n0 <= 8 && nl <= 8);
    CHECK_STATUS(ntk_network_get_params(net, theta, p), NTK_STATUS_OK);
    ntk_test_fill(x, N_POINTS * n0, 7);
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(x, N_POINTS, n0), ntk_matrix_row_major_mut(got, N_POINTS, nl)),
                 NTK_STATUS_OK);
    CHECK(ntk_test_forward_reference(widths, num_widths, theta, beta, sigma, user_data, x, N_POINTS,
                                     want));
    ntk_test_close(got, want, N_POINTS * nl, 1e-13, what);
}

static void test_create_and_forward(void) {
    ntk_network_config cfg = tanh_config();
    ntk_network *net = NULL, *again = NULL;
    size_t depth = 0, p = 0;
    double theta[NUM_PARAMS], theta2[NUM_PARAMS];
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    CHECK(net != NULL);
    CHECK_STATUS(ntk_network_shape(net, &depth, &p), NTK_STATUS_OK);
    CHECK(depth == 3 && p == NUM_PARAMS);
    /* Either output of shape may be NULL. */
    depth = 0;
    CHECK_STATUS(ntk_network_shape(net, &depth, NULL), NTK_STATUS_OK);
    CHECK(depth == 3);
    p = 0;
    CHECK_STATUS(ntk_network_shape(net, NULL, &p), NTK_STATUS_OK);
    CHECK(p == NUM_PARAMS);
    CHECK_STATUS(ntk_network_shape(net, NULL, NULL), NTK_STATUS_OK);

    /* Parameters are N(0,1) draws: mean ~ 0, variance ~ 1, all finite; same seed, same draw. */
    CHECK_STATUS(ntk_network_get_params(net, theta, NUM_PARAMS), NTK_STATUS_OK);
    {
        double mean = 0.0, var = 0.0;
        size_t i;
        for (i = 0; i < NUM_PARAMS; i++) mean += theta[i] / NUM_PARAMS;
        for (i = 0; i < NUM_PARAMS; i++) var += (theta[i] - mean) * (theta[i] - mean) / NUM_PARAMS;
        CHECK(fabs(mean) < 0.5 && var > 0.5 && var < 1.6);
    }
    CHECK_STATUS(ntk_network_create(&cfg, &again), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(again, theta2, NUM_PARAMS), NTK_STATUS_OK);
    ntk_test_same_bits(theta, theta2, NUM_PARAMS, "same seed, same parameters");
    ntk_network_free(again);
    cfg.seed = 43;
    CHECK_STATUS(ntk_network_create(&cfg, &again), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(again, theta2, NUM_PARAMS), NTK_STATUS_OK);
    CHECK(memcmp(theta, theta2, sizeof theta) != 0);
    ntk_network_free(again);

    check_forward_against_reference(net, WIDTHS, NUM_WIDTHS, 0.3, ntk_test_tanh, NULL, "tanh forward");
    ntk_network_free(net);
}

static void test_other_activations(void) {
    static const size_t w2[] = {4, 6, 3};
    ntk_network_config cfg;
    ntk_network *net = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = w2;
    cfg.num_widths = 3;
    cfg.beta = 0.0;
    cfg.seed = 5;

    cfg.activation = NTK_ACTIVATION_RELU;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    check_forward_against_reference(net, w2, 3, 0.0, ntk_test_relu, NULL, "relu forward");
    ntk_network_free(net);

    cfg.activation = NTK_ACTIVATION_IDENTITY;
    cfg.beta = 1.5;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    check_forward_against_reference(net, w2, 3, 1.5, ntk_test_identity, NULL, "identity forward");
    ntk_network_free(net);

    /* A single weight layer: f(x) = W x / sqrt(n_0) + beta b, no activation at all. */
    cfg.num_widths = 2;
    cfg.widths = w2 + 1;
    cfg.activation = NTK_ACTIVATION_SIN;
    cfg.beta = 0.7;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    check_forward_against_reference(net, w2 + 1, 2, 0.7, ntk_test_identity, NULL, "one layer");
    ntk_network_free(net);
}

/* sigma(x) = a x + x^3 / 3 with a = *(double*)user_data; sigma'(x) = a + x^2. */
static double cubic(double x, void *user_data) {
    return *(const double *)user_data * x + x * x * x / 3.0;
}
static double dcubic(double x, void *user_data) {
    return *(const double *)user_data + x * x;
}
static double leaky(double x, void *user_data) {
    (void)user_data;
    return x > 0.0 ? x : 0.2 * x;
}

static void test_custom_activation(void) {
    double a = 0.5;
    ntk_network_config cfg = tanh_config();
    ntk_network *net = NULL;
    cfg.activation = NTK_ACTIVATION_CUSTOM;
    cfg.custom_sigma = cubic;
    cfg.custom_dsigma = dcubic;
    cfg.custom_user_data = &a;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    check_forward_against_reference(net, WIDTHS, NUM_WIDTHS, 0.3, cubic, &a, "custom sigma forward");
    ntk_network_free(net);

    cfg = tanh_config();
    cfg.activation = NTK_ACTIVATION_LEAKY_RELU;
    cfg.activation_param = 0.2;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    check_forward_against_reference(net, WIDTHS, NUM_WIDTHS, 0.3, leaky, NULL, "leaky relu forward");
    ntk_network_free(net);
}

static void test_params_and_clone(void) {
    ntk_network_config cfg = tanh_config();
    ntk_network *net = NULL, *copy = NULL;
    double theta[NUM_PARAMS], theta_copy[NUM_PARAMS], x[N_POINTS * 3], f1[N_POINTS * 2],
        f2[N_POINTS * 2];
    size_t i;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(net, theta, NUM_PARAMS), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_clone(net, &copy), NTK_STATUS_OK);
    CHECK(copy != NULL && copy != net);
    CHECK_STATUS(ntk_network_get_params(copy, theta_copy, NUM_PARAMS), NTK_STATUS_OK);
    ntk_test_same_bits(theta, theta_copy, NUM_PARAMS, "clone parameters");
    ntk_test_fill(x, N_POINTS * 3, 3);
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(x, N_POINTS, 3), ntk_matrix_row_major_mut(f1, N_POINTS, 2)),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_forward(copy, ntk_matrix_row_major(x, N_POINTS, 3), ntk_matrix_row_major_mut(f2, N_POINTS, 2)),
                 NTK_STATUS_OK);
    ntk_test_same_bits(f1, f2, N_POINTS * 2, "clone forward");

    /* set_params on the copy changes the copy only, and the new parameters are used. */
    for (i = 0; i < NUM_PARAMS; i++) theta_copy[i] = 0.01 * (double)i - 0.3;
    CHECK_STATUS(ntk_network_set_params(copy, theta_copy, NUM_PARAMS), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_get_params(copy, theta, NUM_PARAMS), NTK_STATUS_OK);
    ntk_test_same_bits(theta, theta_copy, NUM_PARAMS, "set_params round trip");
    check_forward_against_reference(copy, WIDTHS, NUM_WIDTHS, 0.3, ntk_test_tanh, NULL,
                                    "forward after set_params");
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(x, N_POINTS, 3), ntk_matrix_row_major_mut(f2, N_POINTS, 2)),
                 NTK_STATUS_OK);
    ntk_test_same_bits(f1, f2, N_POINTS * 2, "original unchanged by set_params on its clone");
    ntk_network_free(copy);
    ntk_network_free(net);
}

/* The same numbers through every layout of x and out. */
static void test_strides(void) {
    ntk_network_config cfg = tanh_config();
    ntk_network *net = NULL;
    double x[N_POINTS * 3], xc[N_POINTS * 3], xbig[N_POINTS * 3 * 4], want[N_POINTS * 2],
        got[N_POINTS * 2], outbig[N_POINTS * 2 * 3], bcast[N_POINTS * 2];
    ntk_matrix xv;
    ntk_matrix_mut ov;
    size_t i, j;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    ntk_test_fill(x, N_POINTS * 3, 11);
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(x, N_POINTS, 3), ntk_matrix_row_major_mut(want, N_POINTS, 2)),
                 NTK_STATUS_OK);

    /* Column-major x and out (Julia/R/Fortran layout): row_stride = 1, col_stride = rows. */
    for (i = 0; i < N_POINTS; i++)
        for (j = 0; j < 3; j++) xc[j * N_POINTS + i] = x[i * 3 + j];
    xv = ntk_matrix_col_major(xc, N_POINTS, 3);
    ov = ntk_matrix_col_major_mut(got, N_POINTS, 2);
    CHECK_STATUS(ntk_network_forward(net, xv, ov), NTK_STATUS_OK);
    {
        double back[N_POINTS * 2];
        for (i = 0; i < N_POINTS; i++)
            for (j = 0; j < 2; j++) back[i * 2 + j] = got[j * N_POINTS + i];
        ntk_test_same_bits(back, want, N_POINTS * 2, "column-major vs row-major");
    }

    /* A non-contiguous view: x inside a 4x wider buffer (every 2nd column, offset 1), out into
     * every 3rd element of a buffer, rows reversed via a negative stride. */
    fill(xbig, sizeof xbig / sizeof xbig[0], 1e300);
    for (i = 0; i < N_POINTS; i++)
        for (j = 0; j < 3; j++) xbig[i * 12 + 1 + 2 * j] = x[i * 3 + j];
    xv = ntk_matrix_strided(xbig + 1, N_POINTS, 3, 12, 2);
    fill(outbig, sizeof outbig / sizeof outbig[0], SENTINEL);
    ov = ntk_matrix_strided_mut(outbig + (N_POINTS - 1) * 6, N_POINTS, 2, -6, 3);
    CHECK_STATUS(ntk_network_forward(net, xv, ov), NTK_STATUS_OK);
    for (i = 0; i < N_POINTS; i++) {
        for (j = 0; j < 2; j++) got[i * 2 + j] = outbig[(N_POINTS - 1 - i) * 6 + 3 * j];
        /* elements between the view's elements are untouched */
        CHECK(outbig[i * 6 + 1] == SENTINEL && outbig[i * 6 + 2] == SENTINEL);
    }
    ntk_test_same_bits(got, want, N_POINTS * 2, "strided/negative-stride views vs row-major");

    /* Broadcasting an input: row_stride 0 repeats row 2 of x N times. */
    xv = ntk_matrix_strided(x + 2 * 3, N_POINTS, 3, 0, 1);
    CHECK_STATUS(ntk_network_forward(net, xv, ntk_matrix_row_major_mut(bcast, N_POINTS, 2)), NTK_STATUS_OK);
    for (i = 0; i < N_POINTS; i++) ntk_test_same_bits(bcast + 2 * i, want + 2 * 2, 2, "broadcast row");
    ntk_network_free(net);
}

static void test_create_errors(void) {
    ntk_network_config cfg;
    ntk_network *const untouched = (ntk_network *)(uintptr_t)0x1;
    ntk_network *net = untouched;
    size_t bad_widths[4];
    double a = 1.0;

    cfg = tanh_config();
    CHECK_ERROR(ntk_network_create(NULL, &net), NTK_STATUS_NULL_POINTER, "config");
    CHECK_ERROR(ntk_network_create(&cfg, NULL), NTK_STATUS_NULL_POINTER, "out");
    cfg.widths = NULL;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_NULL_POINTER, "config.widths");

    cfg = tanh_config();
    cfg.num_widths = 0;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "num_widths");
    cfg.num_widths = 1;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "num_widths");
    cfg.num_widths = 5000;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "num_widths");

    /* zero width anywhere */
    memcpy(bad_widths, WIDTHS, sizeof WIDTHS);
    bad_widths[2] = 0;
    cfg = tanh_config();
    cfg.widths = bad_widths;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "widths[2] = 0");
    memcpy(bad_widths, WIDTHS, sizeof WIDTHS);
    bad_widths[0] = 0;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "widths[0] = 0");

    /* a width above the maximum 2^32 */
    memcpy(bad_widths, WIDTHS, sizeof WIDTHS);
    bad_widths[1] = SIZE_MAX;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "widths[1]");
    /* widths at the maximum whose parameter count overflows size_t */
    bad_widths[0] = bad_widths[1] = bad_widths[2] = bad_widths[3] = (size_t)1 << 32;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_ALLOCATION);
    /* a parameter count that fits in size_t but not in memory (2^60 doubles) */
    bad_widths[0] = bad_widths[1] = (size_t)1 << 30;
    cfg.num_widths = 2;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_ALLOCATION, "allocat");

    cfg = tanh_config();
    cfg.beta = NAN;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_NON_FINITE, "beta");
    cfg.beta = INFINITY;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_NON_FINITE, "beta");
    cfg.beta = -INFINITY;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_NON_FINITE, "beta");
    cfg.beta = -0.5;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "beta");

    cfg = tanh_config();
    cfg.activation = -1;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "activation");
    cfg.activation = 11;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "activation");
    cfg.activation = 1 << 30;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_INVALID_ARGUMENT, "activation");

    cfg.activation = NTK_ACTIVATION_LEAKY_RELU;
    cfg.activation_param = NAN;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_NON_FINITE, "activation_param");
    cfg.activation_param = -INFINITY;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_NON_FINITE, "activation_param");

    cfg = tanh_config();
    cfg.activation = NTK_ACTIVATION_CUSTOM;
    cfg.custom_user_data = &a;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_NULL_POINTER, "custom_sigma");
    cfg.custom_sigma = cubic;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_NULL_POINTER, "custom_dsigma");
    cfg.custom_sigma = NULL;
    cfg.custom_dsigma = dcubic;
    CHECK_ERROR(ntk_network_create(&cfg, &net), NTK_STATUS_NULL_POINTER, "custom_sigma");

    CHECK(net == untouched);
}

static void test_handle_errors(void) {
    ntk_network_config cfg = tanh_config();
    ntk_network *net = NULL;
    ntk_network *const untouched = (ntk_network *)(uintptr_t)0x1;
    ntk_network *copy = untouched;
    double theta[NUM_PARAMS + 1], before[NUM_PARAMS], after[NUM_PARAMS];
    size_t depth = 77, p = 77;

    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    CHECK_ERROR(ntk_network_clone(NULL, &copy), NTK_STATUS_NULL_POINTER, "network");
    CHECK_ERROR(ntk_network_clone(net, NULL), NTK_STATUS_NULL_POINTER, "out");
    CHECK(copy == untouched);

    CHECK_ERROR(ntk_network_shape(NULL, &depth, &p), NTK_STATUS_NULL_POINTER, "network");
    CHECK(depth == 77 && p == 77);

    fill(theta, NUM_PARAMS + 1, SENTINEL);
    CHECK_ERROR(ntk_network_get_params(NULL, theta, NUM_PARAMS), NTK_STATUS_NULL_POINTER, "network");
    CHECK_ERROR(ntk_network_get_params(net, NULL, NUM_PARAMS), NTK_STATUS_NULL_POINTER, "out");
    CHECK_ERROR(ntk_network_get_params(net, theta, NUM_PARAMS - 1), NTK_STATUS_INVALID_ARGUMENT, "len");
    CHECK_ERROR(ntk_network_get_params(net, theta, NUM_PARAMS + 1), NTK_STATUS_INVALID_ARGUMENT, "len");
    CHECK_ERROR(ntk_network_get_params(net, theta, 0), NTK_STATUS_INVALID_ARGUMENT, "len");
    CHECK(all_equal(theta, NUM_PARAMS + 1, SENTINEL));

    CHECK_STATUS(ntk_network_get_params(net, before, NUM_PARAMS), NTK_STATUS_OK);
    memcpy(theta, before, sizeof before);
    theta[0] += 1.0;
    CHECK_ERROR(ntk_network_set_params(NULL, theta, NUM_PARAMS), NTK_STATUS_NULL_POINTER, "network");
    CHECK_ERROR(ntk_network_set_params(net, NULL, NUM_PARAMS), NTK_STATUS_NULL_POINTER, "params");
    CHECK_ERROR(ntk_network_set_params(net, theta, NUM_PARAMS - 1), NTK_STATUS_INVALID_ARGUMENT, "len");
    CHECK_ERROR(ntk_network_set_params(net, theta, NUM_PARAMS + 1), NTK_STATUS_INVALID_ARGUMENT, "len");
    theta[17] = NAN;
    CHECK_ERROR(ntk_network_set_params(net, theta, NUM_PARAMS), NTK_STATUS_NON_FINITE, "params[17]");
    theta[17] = 0.0;
    theta[NUM_PARAMS - 1] = -INFINITY;
    CHECK_ERROR(ntk_network_set_params(net, theta, NUM_PARAMS), NTK_STATUS_NON_FINITE, "params[79]");
    CHECK_STATUS(ntk_network_get_params(net, after, NUM_PARAMS), NTK_STATUS_OK);
    ntk_test_same_bits(before, after, NUM_PARAMS, "parameters unchanged by failed set_params");

    ntk_network_free(NULL); /* accepted and ignored */
    ntk_network_free(net);
}

static void test_forward_errors(void) {
    ntk_network_config cfg = tanh_config();
    ntk_network *net = NULL;
    double x[N_POINTS * 3], out[N_POINTS * 2 + 4], shared[64];
    ntk_matrix xv;
    ntk_matrix_mut ov;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    ntk_test_fill(x, N_POINTS * 3, 1);
    fill(out, N_POINTS * 2 + 4, SENTINEL);

#define XV ntk_matrix_row_major(x, N_POINTS, 3)
#define OV ntk_matrix_row_major_mut(out, N_POINTS, 2)
    CHECK_ERROR(ntk_network_forward(NULL, XV, OV), NTK_STATUS_NULL_POINTER, "network");
    xv = XV;
    xv.data = NULL;
    CHECK_ERROR(ntk_network_forward(net, xv, OV), NTK_STATUS_NULL_POINTER, "x.data");
    ov = OV;
    ov.data = NULL;
    CHECK_ERROR(ntk_network_forward(net, XV, ov), NTK_STATUS_NULL_POINTER, "out.data");

    /* bad sizes */
    xv = XV;
    xv.rows = 0;
    CHECK_ERROR(ntk_network_forward(net, xv, OV), NTK_STATUS_INVALID_ARGUMENT, "x");
    xv = XV;
    xv.cols = 0;
    CHECK_ERROR(ntk_network_forward(net, xv, OV), NTK_STATUS_INVALID_ARGUMENT, "x");
    xv = ntk_matrix_row_major(x, N_POINTS - 1, 3); /* 4 points but out has 5 rows */
    CHECK_ERROR(ntk_network_forward(net, xv, OV), NTK_STATUS_INVALID_ARGUMENT, "out");
    xv = ntk_matrix_row_major(x, N_POINTS, 2); /* n_0 is 3 */
    CHECK_ERROR(ntk_network_forward(net, xv, ntk_matrix_row_major_mut(out, N_POINTS, 2)),
                NTK_STATUS_INVALID_ARGUMENT, "x has 2 columns");
    CHECK_ERROR(ntk_network_forward(net, XV, ntk_matrix_row_major_mut(out, N_POINTS, 3)),
                NTK_STATUS_INVALID_ARGUMENT, "out");
    CHECK_ERROR(ntk_network_forward(net, XV, ntk_matrix_row_major_mut(out, N_POINTS + 1, 2)),
                NTK_STATUS_INVALID_ARGUMENT, "out");
    ov = OV;
    ov.rows = 0;
    CHECK_ERROR(ntk_network_forward(net, XV, ov), NTK_STATUS_INVALID_ARGUMENT, "out");

    /* strides of a view that overflow the address space */
    xv = XV;
    xv.row_stride = PTRDIFF_MAX / 2;
    CHECK_ERROR(ntk_network_forward(net, xv, OV), NTK_STATUS_ALLOCATION, "x");
    ov = OV;
    ov.col_stride = PTRDIFF_MAX;
    CHECK_ERROR(ntk_network_forward(net, XV, ov), NTK_STATUS_ALLOCATION, "out");

    /* output strides that make distinct elements alias */
    ov = OV;
    ov.row_stride = 0;
    CHECK_ERROR(ntk_network_forward(net, XV, ov), NTK_STATUS_INVALID_ARGUMENT, "out");
    ov = OV;
    ov.row_stride = 1;
    ov.col_stride = 1;
    CHECK_ERROR(ntk_network_forward(net, XV, ov), NTK_STATUS_INVALID_ARGUMENT, "out");
    ov = OV;
    ov.col_stride = 0;
    CHECK_ERROR(ntk_network_forward(net, XV, ov), NTK_STATUS_INVALID_ARGUMENT, "out");
    ov = OV;
    ov.row_stride = -1;
    ov.col_stride = 2;
    ov.data = out + N_POINTS;
    CHECK_ERROR(ntk_network_forward(net, XV, ov), NTK_STATUS_INVALID_ARGUMENT, "out");

    /* output overlapping the input: the same buffer, and a partial overlap */
    memcpy(shared, x, sizeof x);
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(shared, N_POINTS, 3),
                                    ntk_matrix_row_major_mut(shared, N_POINTS, 2)),
                NTK_STATUS_INVALID_ARGUMENT, "overlap");
    CHECK_ERROR(ntk_network_forward(net, ntk_matrix_row_major(shared, N_POINTS, 3),
                                    ntk_matrix_row_major_mut(shared + N_POINTS * 3 - 1, N_POINTS, 2)),
                NTK_STATUS_INVALID_ARGUMENT, "overlap");
    CHECK(memcmp(shared, x, sizeof x) == 0);
    /* adjacent but disjoint is fine */
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(shared, N_POINTS, 3),
                                     ntk_matrix_row_major_mut(shared + N_POINTS * 3, N_POINTS, 2)),
                 NTK_STATUS_OK);

    /* non-finite inputs name the element */
    x[1 * 3 + 2] = NAN;
    CHECK_ERROR(ntk_network_forward(net, XV, OV), NTK_STATUS_NON_FINITE, "x");
    CHECK(strstr(ntk_last_error(), "1") != NULL && strstr(ntk_last_error(), "2") != NULL);
    x[1 * 3 + 2] = 0.5;
    x[N_POINTS * 3 - 1] = INFINITY;
    CHECK_ERROR(ntk_network_forward(net, XV, OV), NTK_STATUS_NON_FINITE, "x");
    x[N_POINTS * 3 - 1] = -INFINITY;
    CHECK_ERROR(ntk_network_forward(net, XV, OV), NTK_STATUS_NON_FINITE, "x");
#undef XV
#undef OV

    /* no failed call wrote to out */
    CHECK(all_equal(out, N_POINTS * 2 + 4, SENTINEL));
    ntk_network_free(net);
}

int main(void) {
    test_info();
    test_threads();
    test_create_and_forward();
    test_other_activations();
    test_custom_activation();
    test_params_and_clone();
    test_strides();
    test_create_errors();
    test_handle_errors();
    test_forward_errors();
    return ntk_test_summary("test_network");
}
