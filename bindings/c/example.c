/*
 * example.c -- using the ntk C API: a ReLU network in NTK parameterization evaluated on points of
 * the unit circle, its parameters, its limit NTK Theta_inf, its empirical NTK, a kernel gradient flow, gradient-descent
 * training, and error handling.
 * Lines of the form `NAME[i,j] = VALUE` print VALUE with %.17g: the Julia and R test suites build
 * this program and compare their own results with these numbers bitwise.
 *
 * Build (from bindings/c):  make            (dynamic and static executables)
 *                           make run
 * or against an installed copy:
 *     cc -std=c99 example.c $(pkg-config --cflags --libs ntk) -o example
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ntk.h"

/* Abort with the library's message when a call fails. */
#define NTK_CHECK(call)                                                                        \
    do {                                                                                       \
        enum ntk_status status_ = (call);                                                      \
        if (status_ != NTK_STATUS_OK) {                                                        \
            fprintf(stderr, "%s failed: %s: %s\n", #call, ntk_status_str((int)status_),        \
                    ntk_last_error());                                                         \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#define N_POINTS 8

int main(void) {
    /* n_0 = 2 inputs, two hidden layers of 256 ReLU units, n_L = 1 output: L = 3 weight layers. */
    static const size_t widths[] = {2, 256, 256, 1};
    const double pi = 3.14159265358979323846;
    ntk_network_config config = {0};
    ntk_network *net = NULL;
    double x[N_POINTS][2], f[N_POINTS];
    double *theta;
    double theta_inf[N_POINTS][N_POINTS], kemp[N_POINTS][N_POINTS], ev[N_POINTS], ft[N_POINTS], lmin, lmax, cond, t, loss;
    ntk_flow *flow = NULL;
    size_t depth, num_params, threads, i;
    ntk_matrix xv;
    ntk_matrix_mut fv, tv;
    enum ntk_status status;

    printf("ntk %s (header %s)\n", ntk_version(), NTK_VERSION_STRING);
    NTK_CHECK(ntk_get_num_threads(&threads));
    printf("worker threads: %lu\n", (unsigned long)threads);

    config.widths = widths;
    config.num_widths = sizeof widths / sizeof widths[0];
    config.activation = NTK_ACTIVATION_RELU;
    config.beta = 0.1;
    config.seed = 2018;
    NTK_CHECK(ntk_network_create(&config, &net));
    NTK_CHECK(ntk_network_shape(net, &depth, &num_params));
    printf("network 2-256-256-1 (ReLU, beta = 0.1): L = %lu weight layers, P = %lu parameters\n",
           (unsigned long)depth, (unsigned long)num_params);

    /* Points x_i = (cos g_i, sin g_i) on the unit circle, one per row (row-major N x 2). */
    for (i = 0; i < N_POINTS; i++) {
        double g = 2.0 * pi * (double)i / N_POINTS;
        x[i][0] = cos(g);
        x[i][1] = sin(g);
    }
    xv = ntk_matrix_row_major(&x[0][0], N_POINTS, 2); /* row-major: next row is 2 elements further */
    fv = ntk_matrix_row_major_mut(f, N_POINTS, 1);
    NTK_CHECK(ntk_network_forward(net, xv, fv));
    printf("forward pass f(x) on the unit circle:\n");
    for (i = 0; i < N_POINTS; i++) {
        printf("  gamma = %5.3f  f = % .15f\n", 2.0 * pi * (double)i / N_POINTS, f[i]);
    }

    /* The parameters theta: W^(0) row-major, b^(0), W^(1), b^(1), ... */
    theta = (double *)malloc(num_params * sizeof *theta);
    if (theta == NULL) return 1;
    NTK_CHECK(ntk_network_get_params(net, theta, num_params));
    printf("theta[0..3] = % .6f % .6f % .6f\n", theta[0], theta[1], theta[2]);

    /* The limit NTK Theta_inf of this architecture (all hidden widths -> infinity), on the same
     * points: only n_0 = 2, L = 3, ReLU and beta = 0.1 of the network matter. On the unit circle
     * Theta_inf(x_0, x_j) depends on the angle gamma_j only. x2 = NULL: x2 = x1; the NNGP and
     * Sigma-dot outputs are not wanted here (NULL). */
    tv = ntk_matrix_row_major_mut(&theta_inf[0][0], N_POINTS, N_POINTS);
    NTK_CHECK(ntk_kernel_limit(net, xv, NULL, NULL, NULL, &tv, NULL));
    printf("limit NTK Theta_inf(x_0, x_j) for gamma_j = 2 pi j / 8:\n");
    for (i = 0; i < N_POINTS; i++) printf("  Theta_inf[0,%lu] = %.17g\n", (unsigned long)i, theta_inf[0][i]);

    /* The empirical NTK at initialization, TRACE mode: Theta(x_i, x_j), an 8 x 8 matrix. x2 = NULL
     * means x2 = x1 (the result is then exactly symmetric). */
    NTK_CHECK(ntk_kernel_empirical(net, xv, NULL, NTK_KERNEL_MODE_TRACE, NTK_KERNEL_METHOD_AUTO,
                                   ntk_matrix_row_major_mut(&kemp[0][0], N_POINTS, N_POINTS), NULL));
    printf("empirical NTK Theta(x_0, x_j) at initialization (width 256), and its ratio to Theta_inf:\n");
    for (i = 0; i < N_POINTS; i++)
        printf("  K_emp[0,%lu] = %.17g  (ratio %.3f)\n", (unsigned long)i, kemp[0][i], kemp[0][i] / theta_inf[0][i]);
    NTK_CHECK(ntk_kernel_spectrum(ntk_matrix_row_major(&kemp[0][0], N_POINTS, N_POINTS), ev,
                                  N_POINTS, NTK_SPECTRUM_WHICH_ALL));
    NTK_CHECK(ntk_kernel_condition(ntk_matrix_row_major(&kemp[0][0], N_POINTS, N_POINTS), &lmin,
                                   &lmax, &cond));
    printf("its eigenvalues: %.6g ... %.6g, condition number %.6g\n", ev[0], ev[N_POINTS - 1], cond);

    /* Kernel gradient flow of the MSE towards y = cos(3 gamma), from f_0 = the network outputs:
     * what gradient descent with learning rate eta does after t / eta steps in the NTK regime. */
    {
        double y[N_POINTS];
        for (i = 0; i < N_POINTS; i++) y[i] = cos(3.0 * 2.0 * pi * (double)i / N_POINTS);
        NTK_CHECK(ntk_flow_create(ntk_matrix_row_major(&kemp[0][0], N_POINTS, N_POINTS),
                                  ntk_matrix_row_major(y, N_POINTS, 1), ntk_matrix_row_major(f, N_POINTS, 1),
                                  NULL, NULL, NTK_COST_MSE, NULL, &flow));
    }
    NTK_CHECK(ntk_flow_set_time(flow, 10.0, NULL));
    NTK_CHECK(ntk_flow_outputs(flow, ntk_matrix_row_major_mut(ft, N_POINTS, 1)));
    NTK_CHECK(ntk_flow_time(flow, &t));
    NTK_CHECK(ntk_flow_loss(flow, &loss));
    printf("kernel flow at t = %g: loss %.6g\n", t, loss);
    for (i = 0; i < N_POINTS; i++) printf("  f_t[%lu,0] = %.17g\n", (unsigned long)i, ft[i]);
    ntk_flow_free(flow);

    /* The network itself trained by gradient descent on the same targets (on a copy). */
    {
        double y[N_POINTS], history[21];
        ntk_network *trained = NULL;
        for (i = 0; i < N_POINTS; i++) y[i] = cos(3.0 * 2.0 * pi * (double)i / N_POINTS);
        NTK_CHECK(ntk_network_clone(net, &trained));
        NTK_CHECK(ntk_network_train(trained, xv, ntk_matrix_row_major(y, N_POINTS, 1), NTK_COST_MSE, 1.0,
                                    20, history, NULL));
        printf("gradient descent, learning rate 1, loss after s steps:\n");
        for (i = 0; i <= 20; i += 5) printf("  loss[%lu,0] = %.17g\n", (unsigned long)i, history[i]);
        ntk_network_free(trained);
    }

    /* Errors are reported, never crash: here the output has the wrong shape. */
    fv.rows = N_POINTS - 1;
    status = ntk_network_forward(net, xv, fv);
    printf("a call with a 7x1 output for 8 points returns %s: %s\n", ntk_status_str((int)status),
           ntk_last_error());

    free(theta);
    ntk_network_free(net);
    return status == NTK_STATUS_INVALID_ARGUMENT ? 0 : 1;
}
