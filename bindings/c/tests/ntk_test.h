/*
 * ntk_test.h -- tiny test harness shared by the C test programs (header-only, C99).
 *
 * CHECK(cond)                    fails the current test (the program exits non-zero at the end).
 * CHECKF(cond, fmt, ...)         as CHECK, explaining a failure with a printf-style message (and
 *                                the last error).
 * FAIL(fmt, ...)                 records a failed check with a printf-style message.
 * CHECK_STATUS(call, status)     runs `call`, expects `status`, and for errors also expects a
 *                                non-empty ntk_last_error() (for success an empty one).
 * CHECK_ERROR(call, status, s)   as CHECK_STATUS, and ntk_last_error() must contain `s`.
 * ntk_test_forward_reference()   the forward pass recomputed with plain loops from the
 *                                parameters (independent of the library's GEMM path).
 * ntk_test_close / _same_bits    relative closeness / bitwise equality of arrays.
 * ntk_test_set / _all_bits       sentinel fills and the check that they are untouched.
 *
 * Each program returns ntk_test_summary() from main: 0 when every check passed, after printing
 * "PROGRAM: all N checks passed" (the line tests/c_api.rs and tests/c_reliability.rs look for,
 * with N > 0); 1, after "PROGRAM: F of N checks FAILED" on stderr, otherwise.
 *
 * The bounded-time contract (docs/bad-input-contract.md): a program that defines
 * NTK_TEST_ERROR_TIME_LIMIT (seconds) and _POSIX_C_SOURCE >= 199309L before including this header
 * also fails every CHECK_STATUS / CHECK_ERROR whose expected status is not OK when the call took
 * longer than that; ntk_test_slowest_error() is the slowest such call so far.
 */
#ifndef NTK_TEST_H
#define NTK_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntk.h"

static int ntk_test_failures = 0;
static int ntk_test_checks = 0;

#ifdef NTK_TEST_ERROR_TIME_LIMIT
#include <time.h>
static double ntk_test_slowest = 0.0;
static inline double ntk_test_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
#else
static inline double ntk_test_now(void) { return 0.0; }
#endif

/* The slowest call checked to fail so far, in seconds (0 without NTK_TEST_ERROR_TIME_LIMIT). */
static inline double ntk_test_slowest_error(void) {
#ifdef NTK_TEST_ERROR_TIME_LIMIT
    return ntk_test_slowest;
#else
    return 0.0;
#endif
}

/* The time check of a call expected to return `expected` that took `dt` seconds. */
static inline void ntk_test_timed(double dt, int expected, const char *call, const char *file, int line) {
#ifdef NTK_TEST_ERROR_TIME_LIMIT
    if (expected == NTK_STATUS_OK) return;
    if (dt > ntk_test_slowest) ntk_test_slowest = dt;
    ntk_test_checks++;
    if (!(dt <= (NTK_TEST_ERROR_TIME_LIMIT))) {
        ntk_test_failures++;
        fprintf(stderr, "%s:%d: %s took %.3f s (bounded-time contract: %g s)\n", file, line, call,
                dt, (double)(NTK_TEST_ERROR_TIME_LIMIT));
    }
#else
    (void)dt;
    (void)expected;
    (void)call;
    (void)file;
    (void)line;
#endif
}

#define FAIL(...)                                                                            \
    do {                                                                                     \
        ntk_test_checks++;                                                                   \
        ntk_test_failures++;                                                                 \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                                \
        fprintf(stderr, __VA_ARGS__);                                                        \
        fprintf(stderr, " (last error: \"%s\")\n", ntk_last_error());                        \
    } while (0)

#define CHECKF(cond, ...)                                                                    \
    do {                                                                                     \
        ntk_test_checks++;                                                                   \
        if (!(cond)) {                                                                       \
            ntk_test_failures++;                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fprintf(stderr, " (last error: \"%s\")\n", ntk_last_error());                    \
        }                                                                                    \
    } while (0)

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        ntk_test_checks++;                                                                   \
        if (!(cond)) {                                                                       \
            ntk_test_failures++;                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
        }                                                                                    \
    } while (0)

#define CHECK_STATUS(call, expected)                                                         \
    do {                                                                                     \
        double t0_ = ntk_test_now();                                                         \
        enum ntk_status st_ = (call);                                                        \
        const char *msg_ = ntk_last_error();                                                 \
        ntk_test_timed(ntk_test_now() - t0_, (int)(expected), #call, __FILE__, __LINE__);    \
        ntk_test_checks++;                                                                   \
        if (st_ != (expected)) {                                                             \
            ntk_test_failures++;                                                             \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: \"%s\")\n",     \
                    __FILE__, __LINE__, #call, ntk_status_str((int)st_),                     \
                    ntk_status_str((int)(expected)), msg_);                                  \
        } else if (((expected) == NTK_STATUS_OK) != (msg_[0] == '\0')) {                     \
            ntk_test_failures++;                                                             \
            fprintf(stderr, "%s:%d: %s: last error \"%s\" inconsistent with status %s\n",    \
                    __FILE__, __LINE__, #call, msg_, ntk_status_str((int)st_));              \
        }                                                                                    \
    } while (0)

#define CHECK_ERROR(call, expected, substring)                                               \
    do {                                                                                     \
        CHECK_STATUS(call, expected);                                                        \
        ntk_test_checks++;                                                                   \
        if (strstr(ntk_last_error(), (substring)) == NULL) {                                 \
            ntk_test_failures++;                                                             \
            fprintf(stderr, "%s:%d: %s: last error \"%s\" does not mention \"%s\"\n",        \
                    __FILE__, __LINE__, #call, ntk_last_error(), (substring));               \
        }                                                                                    \
    } while (0)

/* |a - b| <= tol * max(1, |a|, |b|), elementwise over n values; reports the worst offender. */
static inline int ntk_test_close(const double *a, const double *b, size_t n, double tol, const char *what) {
    size_t i, worst = 0;
    double worst_err = 0.0;
    for (i = 0; i < n; i++) {
        double scale = fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
        double err = fabs(a[i] - b[i]) / scale;
        if (!(err <= worst_err)) { /* also catches NaN */
            worst_err = err;
            worst = i;
        }
    }
    ntk_test_checks++;
    if (!(worst_err <= tol)) {
        ntk_test_failures++;
        fprintf(stderr, "%s: element %lu differs: %.17g vs %.17g (relative %.3g > %.3g)\n", what,
                (unsigned long)worst, a[worst], b[worst], worst_err, tol);
        return 0;
    }
    return 1;
}

/* Bitwise equality of n doubles. */
static inline int ntk_test_same_bits(const double *a, const double *b, size_t n, const char *what) {
    ntk_test_checks++;
    if (memcmp(a, b, n * sizeof(double)) != 0) {
        size_t i;
        for (i = 0; i < n && memcmp(&a[i], &b[i], sizeof(double)) == 0; i++) {
        }
        ntk_test_failures++;
        fprintf(stderr, "%s: element %lu differs bitwise: %.17g vs %.17g\n", what,
                (unsigned long)i, a[i], b[i]);
        return 0;
    }
    return 1;
}

typedef double (*ntk_test_sigma)(double x, void *user_data);

/*
 * Forward pass recomputed with plain loops: widths[0..num_widths), parameters theta in the
 * documented order (W^(l) row-major n_{l+1} x n_l, then b^(l)), x row-major N x n_0, out row-major
 * N x n_L. alpha~^(l+1) = W^(l) alpha^(l) / sqrt(n_l) + beta b^(l); sigma applied L-1 times.
 * Returns 0 on allocation failure.
 */
static inline int ntk_test_forward_reference(const size_t *widths, size_t num_widths, const double *theta,
                                      double beta, ntk_test_sigma sigma, void *user_data,
                                      const double *x, size_t n, double *out) {
    size_t max_w = 0, l, i, j, k, p;
    double *h, *z;
    for (l = 0; l < num_widths; l++) {
        if (widths[l] > max_w) max_w = widths[l];
    }
    h = (double *)malloc(max_w * sizeof(double));
    z = (double *)malloc(max_w * sizeof(double));
    if (h == NULL || z == NULL) {
        free(h);
        free(z);
        return 0;
    }
    for (i = 0; i < n; i++) {
        const double *w = theta;
        memcpy(h, x + i * widths[0], widths[0] * sizeof(double));
        for (l = 0; l + 1 < num_widths; l++) {
            size_t n_in = widths[l], n_out = widths[l + 1];
            const double *b = w + n_out * n_in;
            for (j = 0; j < n_out; j++) {
                double acc = 0.0;
                for (k = 0; k < n_in; k++) acc += w[j * n_in + k] * h[k];
                z[j] = acc / sqrt((double)n_in) + beta * b[j];
            }
            w = b + n_out;
            if (l + 2 < num_widths) {
                for (j = 0; j < n_out; j++) h[j] = sigma(z[j], user_data);
            }
        }
        for (p = 0; p < widths[num_widths - 1]; p++) out[i * widths[num_widths - 1] + p] = z[p];
    }
    free(h);
    free(z);
    return 1;
}

static inline double ntk_test_tanh(double x, void *user_data) {
    (void)user_data;
    return tanh(x);
}

static inline double ntk_test_relu(double x, void *user_data) {
    (void)user_data;
    return x > 0.0 ? x : 0.0;
}

static inline double ntk_test_identity(double x, void *user_data) {
    (void)user_data;
    return x;
}

/* Deterministic inputs in [-1.5, 1.5): a small linear congruential generator. */
static inline void ntk_test_fill(double *x, size_t n, unsigned long seed) {
    size_t i;
    unsigned long s = seed * 2654435761UL + 12345UL;
    for (i = 0; i < n; i++) {
        s = (s * 1103515245UL + 12345UL) & 0x7fffffffUL;
        x[i] = 3.0 * ((double)s / 2147483648.0) - 1.5;
    }
}

/* Sets n doubles to v / checks that all n doubles have exactly the bits of v. */
static inline void ntk_test_set(double *a, size_t n, double v) {
    size_t i;
    for (i = 0; i < n; i++) a[i] = v;
}

static inline int ntk_test_all_bits(const double *a, size_t n, double v) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (memcmp(&a[i], &v, sizeof v) != 0) return 0;
    }
    return 1;
}

static inline int ntk_test_summary(const char *program) {
    if (ntk_test_failures == 0) {
        printf("%s: all %d checks passed\n", program, ntk_test_checks);
        return 0;
    }
    fprintf(stderr, "%s: %d of %d checks FAILED\n", program, ntk_test_failures, ntk_test_checks);
    return 1;
}

#endif /* NTK_TEST_H */
