/*
 * ntk_r.c -- .Call shim between R and the ntk C API.
 *
 * - Network handles are external pointers (tag: the symbol `ntk_network`, class "ntk_network",
 *   attribute "widths") with a C finalizer registered by R_RegisterCFinalizerEx (also run at
 *   exit). ntk_free() frees early and clears the pointer; any later use is an R error.
 * - R matrices are column-major: they are passed as strided views (row_stride = 1,
 *   col_stride = nrow) without copying. Outputs are allocated here and filled in place.
 * - Errors: the library's message is copied into a local buffer right after the call has
 *   returned, and only then is Rf_error called (it longjmps; no library frame is on the stack).
 * - Every allocation is PROTECTed until it is returned.
 */
#define R_NO_REMAP
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ntk.h"

static SEXP network_tag = NULL;

/* Raises an R error describing a failed call; `status` must not be NTK_STATUS_OK. */
static void raise_status(enum ntk_status status) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s: %s", ntk_status_str((int)status), ntk_last_error());
    Rf_error("%s", msg);
}

#define NTK_R_CHECK(call)                                                                      \
    do {                                                                                       \
        enum ntk_status status_ = (call);                                                      \
        if (status_ != NTK_STATUS_OK) raise_status(status_);                                   \
    } while (0)

static void network_finalizer(SEXP ptr) {
    ntk_network *net = (ntk_network *)R_ExternalPtrAddr(ptr);
    if (net != NULL) {
        ntk_network_free(net);
        R_ClearExternalPtr(ptr);
    }
}

/* The handle inside an "ntk_network" object; R error when it is not one or has been freed. */
static ntk_network *get_network(SEXP obj) {
    ntk_network *net;
    if (TYPEOF(obj) != EXTPTRSXP || !Rf_inherits(obj, "ntk_network") ||
        R_ExternalPtrTag(obj) != network_tag) {
        Rf_error("expected an ntk_network object");
    }
    net = (ntk_network *)R_ExternalPtrAddr(obj);
    if (net == NULL) {
        Rf_error("this ntk_network has been freed (or was restored from a saved session)");
    }
    return net;
}

/* An empty "ntk_network" object (NULL address, finalizer registered). It is built BEFORE the
 * library creates the handle, so that no R allocation error can leak a handle; the caller stores
 * the handle with R_SetExternalPtrAddr once the library call has succeeded. */
static SEXP new_network_object(SEXP widths) {
    SEXP ptr, cls;
    PROTECT(widths);
    ptr = PROTECT(R_MakeExternalPtr(NULL, network_tag, R_NilValue));
    R_RegisterCFinalizerEx(ptr, network_finalizer, TRUE);
    cls = PROTECT(Rf_mkString("ntk_network"));
    Rf_setAttrib(ptr, R_ClassSymbol, cls);
    Rf_setAttrib(ptr, Rf_install("widths"), widths);
    UNPROTECT(3);
    return ptr;
}

/* A non-negative integer-valued double below 2^53, as size_t / uint64. */
static double whole_number(double v, const char *what) {
    if (!R_FINITE(v) || v < 0 || v != floor(v) || v > 9007199254740992.0) {
        Rf_error("%s must be a whole number in [0, 2^53], got %g", what, v);
    }
    return v;
}

static SEXP C_version(void) { return Rf_mkString(ntk_version()); }

static SEXP C_set_num_threads(SEXP n) {
    double v = whole_number(Rf_asReal(n), "the thread count");
    NTK_R_CHECK(ntk_set_num_threads((size_t)v));
    return R_NilValue;
}

static SEXP C_get_num_threads(void) {
    size_t n = 0;
    NTK_R_CHECK(ntk_get_num_threads(&n));
    return Rf_ScalarReal((double)n);
}

static SEXP C_network_create(SEXP widths, SEXP activation, SEXP activation_param, SEXP beta,
                             SEXP seed) {
    ntk_network_config cfg;
    ntk_network *net = NULL;
    size_t *w;
    R_xlen_t i, n;
    SEXP widths_attr, result;
    if (TYPEOF(widths) != REALSXP) Rf_error("widths must be a double vector");
    n = XLENGTH(widths);
    w = (size_t *)R_alloc(n > 0 ? (size_t)n : 1, sizeof(size_t));
    for (i = 0; i < n; i++) w[i] = (size_t)whole_number(REAL(widths)[i], "each width");
    memset(&cfg, 0, sizeof cfg);
    cfg.widths = w;
    cfg.num_widths = (size_t)n;
    cfg.activation = Rf_asInteger(activation);
    if (cfg.activation == NA_INTEGER) Rf_error("activation must be an integer code");
    cfg.activation_param = Rf_asReal(activation_param);
    cfg.beta = Rf_asReal(beta);
    cfg.seed = (uint64_t)whole_number(Rf_asReal(seed), "seed");
    widths_attr = Rf_duplicate(widths);
    result = PROTECT(new_network_object(widths_attr));
    NTK_R_CHECK(ntk_network_create(&cfg, &net));
    R_SetExternalPtrAddr(result, net);
    UNPROTECT(1);
    return result;
}

static SEXP C_network_free(SEXP obj) {
    if (TYPEOF(obj) == EXTPTRSXP && R_ExternalPtrTag(obj) == network_tag) network_finalizer(obj);
    else Rf_error("expected an ntk_network object");
    return R_NilValue;
}

static SEXP C_network_is_valid(SEXP obj) {
    return Rf_ScalarLogical(TYPEOF(obj) == EXTPTRSXP && R_ExternalPtrTag(obj) == network_tag &&
                            R_ExternalPtrAddr(obj) != NULL);
}

static SEXP C_network_clone(SEXP obj) {
    ntk_network *net = get_network(obj), *copy = NULL;
    SEXP result = PROTECT(new_network_object(Rf_duplicate(Rf_getAttrib(obj, Rf_install("widths")))));
    NTK_R_CHECK(ntk_network_clone(net, &copy));
    R_SetExternalPtrAddr(result, copy);
    UNPROTECT(1);
    return result;
}

static SEXP C_network_shape(SEXP obj) {
    ntk_network *net = get_network(obj);
    size_t depth = 0, p = 0;
    SEXP out;
    NTK_R_CHECK(ntk_network_shape(net, &depth, &p));
    out = PROTECT(Rf_allocVector(REALSXP, 2));
    REAL(out)[0] = (double)depth;
    REAL(out)[1] = (double)p;
    UNPROTECT(1);
    return out;
}

static size_t num_params_of(ntk_network *net) {
    size_t p = 0;
    NTK_R_CHECK(ntk_network_shape(net, NULL, &p));
    return p;
}

static SEXP C_network_get_params(SEXP obj) {
    ntk_network *net = get_network(obj);
    size_t p = num_params_of(net);
    SEXP out = PROTECT(Rf_allocVector(REALSXP, (R_xlen_t)p));
    NTK_R_CHECK(ntk_network_get_params(net, REAL(out), p));
    UNPROTECT(1);
    return out;
}

static SEXP C_network_set_params(SEXP obj, SEXP theta) {
    ntk_network *net = get_network(obj);
    if (TYPEOF(theta) != REALSXP) Rf_error("params must be a double vector");
    NTK_R_CHECK(ntk_network_set_params(net, REAL(theta), (size_t)XLENGTH(theta)));
    return R_NilValue;
}

/* x: an N x n_0 double matrix (column-major, passed as is); returns the N x n_L output. */
static SEXP C_network_forward(SEXP obj, SEXP x) {
    ntk_network *net = get_network(obj);
    SEXP dim, widths, out;
    ntk_matrix xv;
    ntk_matrix_mut ov;
    int n, n_out;
    if (TYPEOF(x) != REALSXP || !Rf_isMatrix(x)) Rf_error("x must be a double matrix");
    dim = Rf_getAttrib(x, R_DimSymbol);
    n = INTEGER(dim)[0];
    widths = Rf_getAttrib(obj, Rf_install("widths"));
    if (TYPEOF(widths) != REALSXP || XLENGTH(widths) < 2) Rf_error("corrupt ntk_network widths");
    n_out = (int)REAL(widths)[XLENGTH(widths) - 1];
    out = PROTECT(Rf_allocMatrix(REALSXP, n, n_out));
    xv.data = REAL(x);
    xv.rows = (size_t)n;
    xv.cols = (size_t)INTEGER(dim)[1];
    xv.row_stride = 1;
    xv.col_stride = (ptrdiff_t)n;
    ov.data = REAL(out);
    ov.rows = (size_t)n;
    ov.cols = (size_t)n_out;
    ov.row_stride = 1;
    ov.col_stride = (ptrdiff_t)n;
    NTK_R_CHECK(ntk_network_forward(net, xv, ov));
    UNPROTECT(1);
    return out;
}

#define ENTRY(name, nargs) {#name, (DL_FUNC)&name, nargs}
static const R_CallMethodDef call_methods[] = {
    ENTRY(C_version, 0),
    ENTRY(C_set_num_threads, 1),
    ENTRY(C_get_num_threads, 0),
    ENTRY(C_network_create, 5),
    ENTRY(C_network_free, 1),
    ENTRY(C_network_is_valid, 1),
    ENTRY(C_network_clone, 1),
    ENTRY(C_network_shape, 1),
    ENTRY(C_network_get_params, 1),
    ENTRY(C_network_set_params, 2),
    ENTRY(C_network_forward, 2),
    {NULL, NULL, 0}};

void R_init_ntk(DllInfo *dll) {
    network_tag = Rf_install("ntk_network");
    R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
}
