/*
 * test_tiles.c -- C API test of kernel tiles. Limit kernels: blocks from one points handle
 * (X2 = X1) and from two, assembled, equal ntk_kernel_limit bit for bit (NNGP and NTK); points of
 * another architecture, bad ranges, no output and overlapping outputs are rejected. Empirical: blocks of irregular sizes assembled from
 * prepared features equal ntk_kernel_empirical (STRUCTURED) bit for bit in both modes, for X2 = X1
 * and for two point sets; a column-major destination; ranges, shapes, mode, NULLs and features of
 * another network (other seed, parameters changed after preparing) are rejected with the output
 * untouched.
 */
#include "ntk_test.h"

#define N1 140
#define N2 45
#define D 4
#define SENTINEL (-12345.0)

static const size_t WIDTHS[] = {D, 16, 11, 3};
#define NUM_WIDTHS (sizeof WIDTHS / sizeof WIDTHS[0])
#define K 3

static int all_equal(const double *a, size_t n, double v) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (a[i] != v) return 0;
    }
    return 1;
}

/* Assembles the kernel of (f1, f2) from blocks cut at rcuts x ccuts into the row-major out. */
static void assemble(const ntk_network *net, const ntk_empirical_features *f1, const ntk_empirical_features *f2,
                     const size_t *rcuts, size_t nr, const size_t *ccuts, size_t nc, int mode, double *out,
                     size_t cols) {
    size_t a, b, s = mode == NTK_KERNEL_MODE_FULL ? K : 1;
    for (a = 0; a + 1 < nr; a++) {
        for (b = 0; b + 1 < nc; b++) {
            double *p = out + rcuts[a] * s * cols + ccuts[b] * s;
            ntk_matrix_mut blk = ntk_matrix_strided_mut(p, (rcuts[a + 1] - rcuts[a]) * s, (ccuts[b + 1] - ccuts[b]) * s,
                                             (ptrdiff_t)cols, 1);
            CHECK_STATUS(ntk_kernel_empirical_tile(net, f1, rcuts[a], rcuts[a + 1], f2, ccuts[b], ccuts[b + 1],
                                                   mode, blk, NULL),
                         NTK_STATUS_OK);
        }
    }
}

/* Limit kernels: tiles vs ntk_kernel_limit. */
static void limit_tiles(const double *x1, const double *x2) {
    static const size_t widths[] = {D, 5, 5, 5, 1};
    static double nn[N1 * N1], th[N1 * N1], nn_t[N1 * N1], th_t[N1 * N1];
    static const size_t rc[] = {0, 3, 128, 140};
    static const size_t cc[] = {0, 70, 139, 140};
    static const size_t cc2[] = {0, 20, 45};
    ntk_network_config cfg;
    ntk_network *net = NULL, *other = NULL;
    ntk_limit_points *p1 = NULL, *p2 = NULL, *po = NULL;
    ntk_matrix m1 = ntk_matrix_row_major(x1, N1, D), m2 = ntk_matrix_row_major(x2, N2, D);
    ntk_matrix_mut a, b;
    size_t pass, r, c, n = 0;
    double small[4], keep[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};

    memset(&cfg, 0, sizeof cfg);
    cfg.widths = widths;
    cfg.num_widths = 5;
    cfg.activation = NTK_ACTIVATION_RELU;
    cfg.beta = 0.1;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    cfg.beta = 0.2;
    CHECK_STATUS(ntk_network_create(&cfg, &other), NTK_STATUS_OK);
    CHECK_STATUS(ntk_limit_points_create(net, m1, NULL, &p1), NTK_STATUS_OK);
    CHECK_STATUS(ntk_limit_points_create(net, m2, NULL, &p2), NTK_STATUS_OK);
    CHECK_STATUS(ntk_limit_points_create(other, m2, NULL, &po), NTK_STATUS_OK);
    CHECK_STATUS(ntk_limit_points_len(p1, &n), NTK_STATUS_OK);
    CHECK(n == N1);
    for (pass = 0; pass < 2; pass++) {
        size_t n2 = pass == 0 ? N1 : N2;
        const ntk_limit_points *q = pass == 0 ? p1 : p2;
        const size_t *cuts = pass == 0 ? cc : cc2;
        size_t ncuts = pass == 0 ? 4 : 3;
        a = ntk_matrix_row_major_mut(nn, N1, n2);
        b = ntk_matrix_row_major_mut(th, N1, n2);
        CHECK_STATUS(ntk_kernel_limit(net, m1, pass == 0 ? NULL : &m2, &a, NULL, &b, NULL), NTK_STATUS_OK);
        for (r = 0; r + 1 < 4; r++) {
            for (c = 0; c + 1 < ncuts; c++) {
                a = ntk_matrix_strided_mut(nn_t + rc[r] * n2 + cuts[c], rc[r + 1] - rc[r], cuts[c + 1] - cuts[c], (ptrdiff_t)n2, 1);
                b = ntk_matrix_strided_mut(th_t + rc[r] * n2 + cuts[c], rc[r + 1] - rc[r], cuts[c + 1] - cuts[c], (ptrdiff_t)n2, 1);
                CHECK_STATUS(ntk_kernel_limit_tile(p1, rc[r], rc[r + 1], q, cuts[c], cuts[c + 1], &a, NULL, &b, NULL),
                             NTK_STATUS_OK);
            }
        }
        ntk_test_same_bits(nn_t, nn, N1 * n2, pass == 0 ? "limit nngp X2 = X1" : "limit nngp two sets");
        ntk_test_same_bits(th_t, th, N1 * n2, pass == 0 ? "limit ntk X2 = X1" : "limit ntk two sets");
    }
    a = ntk_matrix_row_major_mut(small, 2, 2);
    memcpy(small, keep, sizeof small);
    CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, po, 0, 2, NULL, NULL, &a, NULL), NTK_STATUS_INVALID_ARGUMENT,
                "different limit kernels");
    CHECK_ERROR(ntk_kernel_limit_tile(p1, 2, 2, p2, 0, 2, NULL, NULL, &a, NULL), NTK_STATUS_INVALID_ARGUMENT, "range");
    CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, p2, 44, 46, NULL, NULL, &a, NULL), NTK_STATUS_INVALID_ARGUMENT, "range");
    CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, p2, 0, 3, NULL, NULL, &a, NULL), NTK_STATUS_INVALID_ARGUMENT,
                "ntk is 2x2");
    CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, p2, 0, 2, NULL, NULL, NULL, NULL), NTK_STATUS_NULL_POINTER,
                "at least one output");
    CHECK_ERROR(ntk_kernel_limit_tile(p1, 0, 2, p2, 0, 2, &a, NULL, &a, NULL), NTK_STATUS_INVALID_ARGUMENT, "overlap");
    CHECK_ERROR(ntk_kernel_limit_tile(NULL, 0, 2, p2, 0, 2, NULL, NULL, &a, NULL), NTK_STATUS_NULL_POINTER, "p1");
    CHECK(memcmp(small, keep, sizeof small) == 0);
    CHECK_ERROR(ntk_limit_points_create(net, ntk_matrix_row_major(x1, N1, D + 1), NULL, &po), NTK_STATUS_INVALID_ARGUMENT, "n_0");
    ntk_limit_points_free(p1);
    ntk_limit_points_free(p2);
    ntk_limit_points_free(po);
    ntk_limit_points_free(NULL);
    ntk_network_free(net);
    ntk_network_free(other);
}

int main(void) {
    static double x1[N1 * D], x2[N2 * D];
    static double full[N1 * K * N1 * K], tiled[N1 * K * N1 * K];
    static const size_t rc_sym[] = {0, 1, 64, 129, 140};
    static const size_t cc_sym[] = {0, 77, 128, 140};
    static const size_t rc2[] = {0, 100, 140};
    static const size_t cc2[] = {0, 7, 45};
    ntk_network_config cfg;
    ntk_network *net = NULL, *other = NULL;
    ntk_empirical_features *f1 = NULL, *f2 = NULL, *fo = NULL;
    ntk_matrix m1, m2;
    size_t n = 0, mode_i;
    double small[6 * 4];
    double cm[4 * K * 5 * K];

    memset(&cfg, 0, sizeof cfg);
    cfg.widths = WIDTHS;
    cfg.num_widths = NUM_WIDTHS;
    cfg.activation = NTK_ACTIVATION_TANH;
    cfg.beta = 0.2;
    cfg.seed = 3;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    cfg.seed = 4;
    CHECK_STATUS(ntk_network_create(&cfg, &other), NTK_STATUS_OK);
    ntk_test_fill(x1, N1 * D, 1);
    ntk_test_fill(x2, N2 * D, 2);
    m1 = ntk_matrix_row_major(x1, N1, D);
    m2 = ntk_matrix_row_major(x2, N2, D);
    CHECK_STATUS(ntk_empirical_features_create(net, m1, NULL, &f1), NTK_STATUS_OK);
    CHECK_STATUS(ntk_empirical_features_create(net, m2, NULL, &f2), NTK_STATUS_OK);
    CHECK_STATUS(ntk_empirical_features_create(other, m1, NULL, &fo), NTK_STATUS_OK);
    CHECK_STATUS(ntk_empirical_features_len(f1, &n), NTK_STATUS_OK);
    CHECK(n == N1);
    limit_tiles(x1, x2);

    for (mode_i = 0; mode_i < 2; mode_i++) {
        int mode = mode_i == 0 ? NTK_KERNEL_MODE_TRACE : NTK_KERNEL_MODE_FULL;
        size_t s = mode == NTK_KERNEL_MODE_FULL ? K : 1;
        /* X2 = X1 */
        CHECK_STATUS(ntk_kernel_empirical(net, m1, NULL, mode, NTK_KERNEL_METHOD_STRUCTURED,
                                          ntk_matrix_strided_mut(full, N1 * s, N1 * s, (ptrdiff_t)(N1 * s), 1), NULL),
                     NTK_STATUS_OK);
        assemble(net, f1, f1, rc_sym, 5, cc_sym, 4, mode, tiled, N1 * s);
        ntk_test_same_bits(tiled, full, N1 * s * N1 * s, mode == NTK_KERNEL_MODE_FULL ? "symmetric full" : "symmetric trace");
        /* two point sets */
        CHECK_STATUS(ntk_kernel_empirical(net, m1, &m2, mode, NTK_KERNEL_METHOD_STRUCTURED,
                                          ntk_matrix_strided_mut(full, N1 * s, N2 * s, (ptrdiff_t)(N2 * s), 1), NULL),
                     NTK_STATUS_OK);
        assemble(net, f1, f2, rc2, 3, cc2, 3, mode, tiled, N2 * s);
        ntk_test_same_bits(tiled, full, N1 * s * N2 * s, mode == NTK_KERNEL_MODE_FULL ? "two sets full" : "two sets trace");
    }

    /* Column-major destination: rows 10..14 x columns 40..45 of the full-mode (X1, X2) kernel. */
    CHECK_STATUS(ntk_kernel_empirical_tile(net, f1, 10, 14, f2, 40, 45, NTK_KERNEL_MODE_FULL,
                                           ntk_matrix_col_major_mut(cm, 4 * K, 5 * K), NULL),
                 NTK_STATUS_OK);
    {
        size_t i, j, bad = 0;
        for (i = 0; i < 4 * K; i++)
            for (j = 0; j < 5 * K; j++)
                if (memcmp(&cm[j * 4 * K + i], &full[(10 * K + i) * N2 * K + 40 * K + j], sizeof(double)) != 0) bad++;
        CHECK(bad == 0);
    }

    /* Errors: output untouched. */
    {
        size_t i;
        ntk_matrix_mut o = ntk_matrix_row_major_mut(small, 6, 4);
        for (i = 0; i < 24; i++) small[i] = SENTINEL;
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 5, 5, f2, 0, 4, NTK_KERNEL_MODE_TRACE, o, NULL),
                    NTK_STATUS_INVALID_ARGUMENT, "range");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 136, 142, f2, 0, 4, NTK_KERNEL_MODE_TRACE, o, NULL),
                    NTK_STATUS_INVALID_ARGUMENT, "range");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 6, f2, 42, 46, NTK_KERNEL_MODE_TRACE, o, NULL),
                    NTK_STATUS_INVALID_ARGUMENT, "range");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 6, f2, 0, 5, NTK_KERNEL_MODE_TRACE, o, NULL),
                    NTK_STATUS_INVALID_ARGUMENT, "out is 6x4");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 6, f2, 0, 4, NTK_KERNEL_MODE_FULL, o, NULL),
                    NTK_STATUS_INVALID_ARGUMENT, "out is 6x4");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 6, f2, 0, 4, 2, o, NULL), NTK_STATUS_INVALID_ARGUMENT,
                    "mode");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, fo, 0, 6, f2, 0, 4, NTK_KERNEL_MODE_TRACE, o, NULL),
                    NTK_STATUS_INVALID_ARGUMENT, "f1");
        CHECK_ERROR(ntk_kernel_empirical_tile(other, fo, 0, 6, f2, 0, 4, NTK_KERNEL_MODE_TRACE, o, NULL),
                    NTK_STATUS_INVALID_ARGUMENT, "f2");
        CHECK_ERROR(ntk_kernel_empirical_tile(NULL, f1, 0, 6, f2, 0, 4, NTK_KERNEL_MODE_TRACE, o, NULL),
                    NTK_STATUS_NULL_POINTER, "network");
        CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 6, NULL, 0, 4, NTK_KERNEL_MODE_TRACE, o, NULL),
                    NTK_STATUS_NULL_POINTER, "f2");
        CHECK(all_equal(small, 24, SENTINEL));
        /* Parameters changed after the features were prepared. */
        {
            size_t depth, p;
            double *theta;
            CHECK_STATUS(ntk_network_shape(net, &depth, &p), NTK_STATUS_OK);
            theta = (double *)malloc(p * sizeof(double));
            CHECK(theta != NULL);
            if (theta != NULL) {
                CHECK_STATUS(ntk_network_get_params(net, theta, p), NTK_STATUS_OK);
                theta[p - 1] += 1e-3;
                CHECK_STATUS(ntk_network_set_params(net, theta, p), NTK_STATUS_OK);
                CHECK_ERROR(ntk_kernel_empirical_tile(net, f1, 0, 6, f2, 0, 4, NTK_KERNEL_MODE_TRACE, o, NULL),
                            NTK_STATUS_INVALID_ARGUMENT, "different parameters");
                free(theta);
            }
        }
        CHECK(all_equal(small, 24, SENTINEL));
        CHECK_ERROR(ntk_empirical_features_create(net, m1, NULL, NULL), NTK_STATUS_NULL_POINTER, "out");
        CHECK_ERROR(ntk_empirical_features_create(net, ntk_matrix_row_major(x1, N1, D + 1), NULL, &fo),
                    NTK_STATUS_INVALID_ARGUMENT, "x");
    }

    ntk_empirical_features_free(f1);
    ntk_empirical_features_free(f2);
    ntk_empirical_features_free(fo);
    ntk_empirical_features_free(NULL);
    ntk_network_free(net);
    ntk_network_free(other);
    return ntk_test_summary("test_tiles");
}
