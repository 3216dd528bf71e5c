/*
 * test_threads.c -- thread safety of the C API: concurrent forward passes on one const handle
 * from several host threads give the same bits as a single call; ntk_last_error is per thread;
 * results are bit-identical at 1 and 3 library worker threads.
 */
#define _POSIX_C_SOURCE 200809L
#include "ntk_test.h"

#include <pthread.h>

#define N_POINTS 64
#define N_HOST_THREADS 4
#define REPEATS 10

static const size_t WIDTHS[] = {5, 48, 48, 3};

struct job {
    const ntk_network *net;
    const double *x;
    const double *expected;
    int mismatches;
    int error_ok;
};

static void *worker(void *arg) {
    struct job *job = (struct job *)arg;
    double out[N_POINTS * 3];
    int r;
    for (r = 0; r < REPEATS; r++) {
        if (ntk_network_forward(job->net, ntk_matrix_row_major(job->x, N_POINTS, 5), ntk_matrix_row_major_mut(out, N_POINTS, 3)) != NTK_STATUS_OK ||
            memcmp(out, job->expected, sizeof out) != 0) {
            job->mismatches++;
        }
    }
    /* an error on this thread sets this thread's message only */
    job->error_ok = ntk_network_forward(NULL, ntk_matrix_row_major(job->x, N_POINTS, 5), ntk_matrix_row_major_mut(out, N_POINTS, 3)) == NTK_STATUS_NULL_POINTER &&
                    strstr(ntk_last_error(), "network") != NULL;
    return NULL;
}

int main(void) {
    ntk_network_config cfg;
    ntk_network *net = NULL;
    double x[N_POINTS * 5], expected[N_POINTS * 3], other[N_POINTS * 3], theta[48 * 6 + 48 * 49 + 3 * 49];
    double ref[N_POINTS * 3];
    pthread_t threads[N_HOST_THREADS];
    struct job jobs[N_HOST_THREADS];
    size_t p = 0;
    int t;

    memset(&cfg, 0, sizeof cfg);
    cfg.widths = WIDTHS;
    cfg.num_widths = 4;
    cfg.activation = NTK_ACTIVATION_TANH;
    cfg.beta = 0.2;
    cfg.seed = 9;
    CHECK_STATUS(ntk_network_create(&cfg, &net), NTK_STATUS_OK);
    ntk_test_fill(x, N_POINTS * 5, 4);

    /* bit-identical results at 1 and 3 library threads, and equal to the plain-loop reference */
    CHECK_STATUS(ntk_set_num_threads(1), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(x, N_POINTS, 5), ntk_matrix_row_major_mut(expected, N_POINTS, 3)), NTK_STATUS_OK);
    CHECK_STATUS(ntk_set_num_threads(3), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(x, N_POINTS, 5), ntk_matrix_row_major_mut(other, N_POINTS, 3)), NTK_STATUS_OK);
    ntk_test_same_bits(expected, other, N_POINTS * 3, "1 vs 3 library threads");
    CHECK_STATUS(ntk_network_shape(net, NULL, &p), NTK_STATUS_OK);
    CHECK(p == sizeof theta / sizeof theta[0]);
    CHECK_STATUS(ntk_network_get_params(net, theta, p), NTK_STATUS_OK);
    CHECK(ntk_test_forward_reference(WIDTHS, 4, theta, 0.2, ntk_test_tanh, NULL, x, N_POINTS, ref));
    ntk_test_close(expected, ref, N_POINTS * 3, 1e-13, "forward vs reference");

    /* concurrent calls on one const handle from several host threads */
    for (t = 0; t < N_HOST_THREADS; t++) {
        jobs[t].net = net;
        jobs[t].x = x;
        jobs[t].expected = expected;
        jobs[t].mismatches = 0;
        jobs[t].error_ok = 0;
        CHECK(pthread_create(&threads[t], NULL, worker, &jobs[t]) == 0);
    }
    for (t = 0; t < N_HOST_THREADS; t++) {
        CHECK(pthread_join(threads[t], NULL) == 0);
        CHECK(jobs[t].mismatches == 0);
        CHECK(jobs[t].error_ok);
    }
    /* the workers' errors did not touch this thread's (empty, after a success) message */
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(x, N_POINTS, 5), ntk_matrix_row_major_mut(other, N_POINTS, 3)), NTK_STATUS_OK);
    CHECK(ntk_last_error()[0] == '\0');
    ntk_test_same_bits(expected, other, N_POINTS * 3, "after the concurrent calls");

    CHECK_STATUS(ntk_set_num_threads(0), NTK_STATUS_OK);
    ntk_network_free(net);
    return ntk_test_summary("test_threads");
}
