/* Concurrency, determinism and cancellation through the C API.
 *
 * - 4 pthreads call the const functions (forward, empirical kernel TRACE/FULL, Jacobian) on ONE
 *   shared network concurrently, 3 rounds each, and must get the same bits as a serial run;
 * - each thread's ntk_last_error() is its own (a failing call on one thread does not change
 *   another thread's message);
 * - the library at 1, 2 and 8 worker threads gives the same bits;
 * - cancelling from the progress callback at call 1, 2, 3, ... leaves the handle usable: the
 *   next uncancelled call gives the serial bits.
 * Run by tests/c_reliability.rs (and scripts/sanitizers.sh under valgrind and ASan).
 */
#include "ntk_test.h"

#include <pthread.h>

#define N 24
#define D 4
#define K 3
#define NTHREADS 4

/* CHECKF (ntk_test.h) is used on the main thread only: the workers report through worker_arg. */
static const size_t widths[] = {D, 17, 9, K};
static double x[N * D];
static ntk_network *net;
static size_t num_params;

/* Results of the serial run. */
static double fwd_ref[N * K], ktr_ref[N * N], kfull_ref[(N * K) * (8 * K)], jac_ref[N * K * 400];

/* Every computation, into caller buffers; returns the first non-OK status. */
static ntk_status compute(double *fwd, double *ktr, double *kfull, double *jac,
                          const ntk_options *opts) {
    ntk_status st;
    ntk_matrix x2 = ntk_matrix_row_major(x + 16 * D, 8, D);
    st = ntk_network_forward(net, ntk_matrix_row_major(x, N, D), ntk_matrix_row_major_mut(fwd, N, K));
    if (st) return st;
    st = ntk_kernel_empirical(net, ntk_matrix_row_major(x, N, D), NULL, NTK_KERNEL_MODE_TRACE,
                              NTK_KERNEL_METHOD_AUTO, ntk_matrix_row_major_mut(ktr, N, N), opts);
    if (st) return st;
    st = ntk_kernel_empirical(net, ntk_matrix_row_major(x, N, D), &x2, NTK_KERNEL_MODE_FULL,
                              NTK_KERNEL_METHOD_JACOBIAN_CONTRACTION, ntk_matrix_row_major_mut(kfull, N * K, 8 * K),
                              opts);
    if (st) return st;
    return ntk_network_jacobian(net, ntk_matrix_row_major(x, N, D), ntk_matrix_row_major_mut(jac, N * K, num_params), opts);
}

static int same(const double *a, const double *b, size_t n) {
    return memcmp(a, b, n * sizeof(double)) == 0;
}

static int compare_all(const double *fwd, const double *ktr, const double *kfull,
                       const double *jac) {
    return same(fwd, fwd_ref, N * K) && same(ktr, ktr_ref, N * N) &&
           same(kfull, kfull_ref, N * K * 8 * K) && same(jac, jac_ref, N * K * num_params);
}

typedef struct {
    int id;
    int ok;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = (worker_arg *)p;
    double *fwd = malloc(sizeof fwd_ref), *ktr = malloc(sizeof ktr_ref),
           *kfull = malloc(sizeof kfull_ref), *jac = malloc(sizeof jac_ref);
    char expected[64];
    a->ok = 1;
    for (int round = 0; round < 3; round++) {
        if (compute(fwd, ktr, kfull, jac, NULL) != NTK_STATUS_OK ||
            !compare_all(fwd, ktr, kfull, jac))
            a->ok = 0;
        /* A thread-specific failure: the message must be this thread's own. */
        double bad = 0.0;
        ntk_status st = ntk_network_get_params(net, &bad, (size_t)(1000 + a->id));
        snprintf(expected, sizeof expected, "len = %d", 1000 + a->id);
        if (st != NTK_STATUS_INVALID_ARGUMENT || strstr(ntk_last_error(), expected) == NULL)
            a->ok = 0;
    }
    free(fwd);
    free(ktr);
    free(kfull);
    free(jac);
    return NULL;
}

/* Cancels at the `at`-th call. */
typedef struct {
    int calls, at;
} cancel_state;
static int cancel_cb(void *ud, uint64_t done, uint64_t total) {
    cancel_state *c = (cancel_state *)ud;
    (void)done;
    (void)total;
    return ++c->calls >= c->at;
}

int main(void) {
    for (int i = 0; i < N * D; i++) x[i] = 0.8 * sin(0.37 * i + 0.1);
    ntk_network_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = widths;
    cfg.num_widths = 4;
    cfg.activation = NTK_ACTIVATION_ERF;
    cfg.beta = 0.25;
    cfg.seed = 77;
    CHECKF(ntk_network_create(&cfg, &net) == NTK_STATUS_OK, "create");
    CHECKF(ntk_network_shape(net, NULL, &num_params) == NTK_STATUS_OK, "shape");
    CHECKF(num_params <= 400, "P = %zu", num_params);

    /* Serial reference at 1 thread, then 2 and 8 threads must agree bit for bit. */
    CHECKF(ntk_set_num_threads(1) == NTK_STATUS_OK, "threads 1");
    CHECKF(compute(fwd_ref, ktr_ref, kfull_ref, jac_ref, NULL) == NTK_STATUS_OK, "serial");
    static double fwd[N * K], ktr[N * N], kfull[N * K * 8 * K], jac[N * K * 400];
    size_t counts[] = {2, 8};
    for (int t = 0; t < 2; t++) {
        CHECKF(ntk_set_num_threads(counts[t]) == NTK_STATUS_OK, "threads");
        CHECKF(compute(fwd, ktr, kfull, jac, NULL) == NTK_STATUS_OK, "compute");
        CHECKF(compare_all(fwd, ktr, kfull, jac), "bits differ at %zu threads", counts[t]);
    }

    /* 4 callers on one shared network, library pool of 2 threads. */
    CHECKF(ntk_set_num_threads(2) == NTK_STATUS_OK, "threads 2");
    pthread_t th[NTHREADS];
    worker_arg args[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        args[i].id = i;
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        CHECKF(args[i].ok, "thread %d got different bits or a foreign last error", i);
    }

    /* Cancel at the k-th progress call, then the same handle gives the reference bits. */
    int cancelled = 0;
    for (int at = 1; at <= 12; at++) {
        cancel_state c = {0, at};
        ntk_options opts = {cancel_cb, &c};
        ntk_status st = compute(fwd, ktr, kfull, jac, &opts);
        CHECKF(st == NTK_STATUS_CANCELLED || st == NTK_STATUS_OK, "cancel at %d: %d", at, st);
        if (st == NTK_STATUS_CANCELLED) {
            cancelled++;
            CHECKF(strstr(ntk_last_error(), "cancelled") != NULL, "cancel message");
        }
        CHECKF(compute(fwd, ktr, kfull, jac, NULL) == NTK_STATUS_OK, "after cancel");
        CHECKF(compare_all(fwd, ktr, kfull, jac), "bits differ after a cancel at %d", at);
    }
    CHECKF(cancelled >= 3, "only %d of the cancel points were reached", cancelled);

    ntk_network_free(net);
    ntk_set_num_threads(0);
    printf("reliability_threads: 4 callers x 3 rounds, 1/2/8 library threads, %d cancels\n",
           cancelled);
    return ntk_test_summary("reliability_threads");
}
