/*
 * test_views.c -- the static inline view constructors of ntk.h (ntk_matrix_row_major,
 * _col_major, _strided and their _mut variants). Each must fill all five fields as documented
 * (checked field by field against the addressing formula data[i*row_stride + j*col_stride],
 * written out here), and views of one matrix in row-major, column-major and reversed strided
 * storage must give the library the same matrix: ntk_network_forward of all three writes the
 * same bits, into row-major, column-major and strided outputs.
 */
#include "ntk_test.h"

#define R 4
#define C 3

/* The fields of a view, compared with the expected ones. */
#define CHECK_VIEW(v, d, r, c, rs, cs)                                                       \
    do {                                                                                     \
        CHECK((v).data == (d));                                                              \
        CHECK((v).rows == (r));                                                              \
        CHECK((v).cols == (c));                                                              \
        CHECK((v).row_stride == (rs));                                                       \
        CHECK((v).col_stride == (cs));                                                       \
    } while (0)

/* Element (i, j) of a read-only view by the documented formula. */
static double at(ntk_matrix v, size_t i, size_t j) {
    return v.data[(ptrdiff_t)i * v.row_stride + (ptrdiff_t)j * v.col_stride];
}

static void test_fields(void) {
    double a[R * C];
    size_t i, j;
    ntk_matrix v;
    ntk_matrix_mut w;
    for (i = 0; i < R * C; i++) a[i] = (double)i;

    v = ntk_matrix_row_major(a, R, C);
    CHECK_VIEW(v, a, R, C, C, 1);
    for (i = 0; i < R; i++)
        for (j = 0; j < C; j++) CHECK(at(v, i, j) == a[i * C + j]);

    v = ntk_matrix_col_major(a, R, C);
    CHECK_VIEW(v, a, R, C, 1, R);
    for (i = 0; i < R; i++)
        for (j = 0; j < C; j++) CHECK(at(v, i, j) == a[i + j * R]);

    /* Reversed rows: start at the last row, row stride -C. */
    v = ntk_matrix_strided(a + (R - 1) * C, R, C, -(ptrdiff_t)C, 1);
    CHECK_VIEW(v, a + (R - 1) * C, R, C, -C, 1);
    for (i = 0; i < R; i++)
        for (j = 0; j < C; j++) CHECK(at(v, i, j) == a[(R - 1 - i) * C + j]);

    /* Broadcast (stride 0) is a legal input view. */
    v = ntk_matrix_strided(a, 5, C, 0, 1);
    CHECK_VIEW(v, a, 5, C, 0, 1);

    w = ntk_matrix_row_major_mut(a, R, C);
    CHECK_VIEW(w, a, R, C, C, 1);
    w = ntk_matrix_col_major_mut(a, R, C);
    CHECK_VIEW(w, a, R, C, 1, R);
    w = ntk_matrix_strided_mut(a + 2, 2, 2, 6, -2);
    CHECK_VIEW(w, a + 2, 2, 2, 6, -2);
    w.data[w.row_stride * 1 + w.col_stride * 1] = -7.0; /* element (1, 1) = a[2 + 6 - 2] */
    CHECK(a[6] == -7.0);

    /* Zero sizes are stored as given (the library rejects empty views, not the constructor). */
    v = ntk_matrix_row_major(NULL, 0, 0);
    CHECK_VIEW(v, NULL, 0, 0, 0, 1);
}

/* The same 4 x 3 inputs in three storages give the same forward bits in three output layouts. */
static void test_views_reach_the_library(void) {
    static const size_t widths[] = {C, 6, 2};
    ntk_network_config cfg;
    ntk_network *net = NULL;
    double xr[R * C], xc[R * C], xs[R * C];
    double outr[R * 2], outc[R * 2], outs[R * 2], back[R * 2];
    size_t i, j;
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = widths;
    cfg.num_widths = 3;
    cfg.activation = NTK_ACTIVATION_TANH;
    cfg.beta = 0.2;
    cfg.seed = 5;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    if (net == NULL) return;
    ntk_test_fill(xr, R * C, 3);
    for (i = 0; i < R; i++) {
        for (j = 0; j < C; j++) {
            xc[i + j * R] = xr[i * C + j];
            xs[(R - 1 - i) * C + j] = xr[i * C + j];
        }
    }
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(xr, R, C),
                                     ntk_matrix_row_major_mut(outr, R, 2)),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_col_major(xc, R, C),
                                     ntk_matrix_col_major_mut(outc, R, 2)),
                 NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_strided(xs + (R - 1) * C, R, C, -C, 1),
                                     ntk_matrix_strided_mut(outs + (R - 1) * 2, R, 2, -2, 1)),
                 NTK_STATUS_OK);
    /* Back to row-major: outc is column-major, outs has reversed rows. */
    for (i = 0; i < R; i++)
        for (j = 0; j < 2; j++) back[i * 2 + j] = outc[i + j * R];
    ntk_test_same_bits(outr, back, R * 2, "forward: column-major views vs row-major");
    for (i = 0; i < R; i++)
        for (j = 0; j < 2; j++) back[i * 2 + j] = outs[(R - 1 - i) * 2 + j];
    ntk_test_same_bits(outr, back, R * 2, "forward: reversed strided views vs row-major");
    ntk_network_free(net);
}

int main(void) {
    test_fields();
    test_views_reach_the_library();
    return ntk_test_summary("test_views");
}
