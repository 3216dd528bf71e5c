/*
 * solve_r.c -- .Call shim for the large-N kernel-regression solver (ntk_solver_*).
 *
 * Solver handles are external pointers (tag: the symbol `ntk_solver`, class "ntk_solver") with a
 * C finalizer, built before the library creates the handle (as in ntk_r.c), so no R allocation
 * error can leak one. The solver copies everything it needs (points, network for the empirical
 * kernel), so it does not keep the network object alive. R matrices are passed as column-major
 * strided views without copying; errors are raised after the library call has returned.
 * The routines are registered in ntk_r.c's table.
 */
#define R_NO_REMAP
#include <R.h>
#include <Rinternals.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ntk.h"
#include "ntk_r_common.h"

SEXP C_solver_create(SEXP net_obj, SEXP x, SEXP kernel, SEXP cache_bytes, SEXP rank);
SEXP C_solver_free(SEXP obj);
SEXP C_solver_is_valid(SEXP obj);
SEXP C_solver_describe(SEXP obj);
SEXP C_solver_solve(SEXP obj, SEXP lambda, SEXP y, SEXP rtol, SEXP max_iterations);
SEXP C_solver_predict(SEXP obj, SEXP x_test, SEXP alpha);


static SEXP solver_tag(void) { return Rf_install("ntk_solver"); }

static void solver_finalizer(SEXP ptr) {
    ntk_solver *s = (ntk_solver *)R_ExternalPtrAddr(ptr);
    if (s != NULL) {
        ntk_solver_free(s);
        R_ClearExternalPtr(ptr);
    }
}

static ntk_solver *get_solver(SEXP obj) {
    ntk_solver *s;
    if (TYPEOF(obj) != EXTPTRSXP || !Rf_inherits(obj, "ntk_solver") || R_ExternalPtrTag(obj) != solver_tag())
        Rf_error("expected an ntk_solver object");
    s = (ntk_solver *)R_ExternalPtrAddr(obj);
    if (s == NULL) Rf_error("this ntk_solver has been freed (or was restored from a saved session)");
    return s;
}

static double whole(SEXP v, const char *what) {
    double d = Rf_asReal(v);
    if (!R_FINITE(d) || d < 0 || d != floor(d) || d > 9007199254740992.0)
        Rf_error("%s must be a whole number in [0, 2^53], got %g", what, d);
    return d;
}

static SEXP matrix_of(size_t rows, size_t cols) {
    if (rows > INT_MAX || cols > INT_MAX) Rf_error("result too large for an R matrix");
    return Rf_allocMatrix(REALSXP, (int)rows, (int)cols);
}

SEXP C_solver_create(SEXP net_obj, SEXP x, SEXP kernel, SEXP cache_bytes, SEXP rank) {
    ntk_network *net = ntk_r_network(net_obj);
    ntk_matrix xv = ntk_r_view(x, "x");
    ntk_solver_config cfg;
    ntk_solver *s = NULL;
    SEXP ptr, cls;
    memset(&cfg, 0, sizeof cfg);
    cfg.kernel = Rf_asInteger(kernel);
    if (cfg.kernel == NA_INTEGER) Rf_error("kernel must be an integer code");
    cfg.cache_bytes = (size_t)whole(cache_bytes, "cache_bytes");
    cfg.precond_rank = (size_t)whole(rank, "rank");
    ptr = PROTECT(R_MakeExternalPtr(NULL, solver_tag(), R_NilValue));
    R_RegisterCFinalizerEx(ptr, solver_finalizer, TRUE);
    cls = PROTECT(Rf_mkString("ntk_solver"));
    Rf_setAttrib(ptr, R_ClassSymbol, cls);
    NTK_R_CHECK_INTERRUPTIBLE(ntk_solver_create(net, xv, &cfg, INTR, &s));
    R_SetExternalPtrAddr(ptr, s);
    UNPROTECT(2);
    return ptr;
}

SEXP C_solver_free(SEXP obj) {
    if (TYPEOF(obj) == EXTPTRSXP && R_ExternalPtrTag(obj) == solver_tag()) solver_finalizer(obj);
    else Rf_error("expected an ntk_solver object");
    return R_NilValue;
}

SEXP C_solver_is_valid(SEXP obj) {
    return Rf_ScalarLogical(TYPEOF(obj) == EXTPTRSXP && R_ExternalPtrTag(obj) == solver_tag() &&
                            R_ExternalPtrAddr(obj) != NULL);
}

SEXP C_solver_describe(SEXP obj) {
    ntk_solver *s = get_solver(obj);
    size_t n = 0, r = 0, c = 0;
    double t = 0.0, tr = 0.0;
    SEXP out, names;
    static const char *const nm[5] = {"num_points", "rank", "cached_rows", "trace", "trace_residual"};
    int i;
    NTK_R_CHECK(ntk_solver_describe(s, &n, &r, &c, &t, &tr));
    out = PROTECT(Rf_allocVector(REALSXP, 5));
    REAL(out)[0] = (double)n;
    REAL(out)[1] = (double)r;
    REAL(out)[2] = (double)c;
    REAL(out)[3] = t;
    REAL(out)[4] = tr;
    names = PROTECT(Rf_allocVector(STRSXP, 5));
    for (i = 0; i < 5; i++) SET_STRING_ELT(names, i, Rf_mkChar(nm[i]));
    Rf_setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(2);
    return out;
}

/* list(alpha = N x k matrix, iterations, kernel_passes, residual) */
SEXP C_solver_solve(SEXP obj, SEXP lambda, SEXP y, SEXP rtol, SEXP max_iterations) {
    ntk_solver *s = get_solver(obj);
    ntk_matrix yv = ntk_r_view(y, "y");
    ntk_solve_info info;
    double it = whole(max_iterations, "max_iterations");
    SEXP alpha, out, names;
    static const char *const nm[4] = {"alpha", "iterations", "kernel_passes", "residual"};
    int i;
    out = PROTECT(Rf_allocVector(VECSXP, 4));
    alpha = matrix_of(yv.rows, yv.cols);
    SET_VECTOR_ELT(out, 0, alpha);
    NTK_R_CHECK_INTERRUPTIBLE(ntk_solver_solve(s, Rf_asReal(lambda), yv, Rf_asReal(rtol), (size_t)it, ntk_r_view_mut(alpha),
                                           &info, INTR));
    SET_VECTOR_ELT(out, 1, Rf_ScalarReal((double)info.iterations));
    SET_VECTOR_ELT(out, 2, Rf_ScalarReal((double)info.kernel_passes));
    SET_VECTOR_ELT(out, 3, Rf_ScalarReal(info.residual));
    names = PROTECT(Rf_allocVector(STRSXP, 4));
    for (i = 0; i < 4; i++) SET_STRING_ELT(names, i, Rf_mkChar(nm[i]));
    Rf_setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(2);
    return out;
}

SEXP C_solver_predict(SEXP obj, SEXP x_test, SEXP alpha) {
    ntk_solver *s = get_solver(obj);
    ntk_matrix xv = ntk_r_view(x_test, "x_test"), av = ntk_r_view(alpha, "alpha");
    SEXP out = PROTECT(matrix_of(xv.rows, av.cols));
    NTK_R_CHECK_INTERRUPTIBLE(ntk_solver_predict(s, xv, av, ntk_r_view_mut(out), INTR));
    UNPROTECT(1);
    return out;
}
