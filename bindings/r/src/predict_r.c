/*
 * predict_r.c -- .Call shim of the trained ensemble's predictive law (ntk_predictor_create,
 * ntk_predictor_test_create, ntk_predictor_law, ntk_ensemble_law). Same conventions as ntk_r.c:
 * handles are external pointers built (with their finalizer) before the library creates the
 * handle; R matrices are passed column-major without copying; the library's message is copied
 * before Rf_error is called; every allocation is PROTECTed.
 */
#define R_NO_REMAP
#include <R.h>
#include <Rinternals.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ntk.h"
#include "ntk_r_common.h"
#include "predict_r.h"


static void predictor_finalizer(SEXP ptr) {
    ntk_predictor *p = (ntk_predictor *)R_ExternalPtrAddr(ptr);
    if (p != NULL) {
        ntk_predictor_free(p);
        R_ClearExternalPtr(ptr);
    }
}

static void test_finalizer(SEXP ptr) {
    ntk_predictor_test *p = (ntk_predictor_test *)R_ExternalPtrAddr(ptr);
    if (p != NULL) {
        ntk_predictor_test_free(p);
        R_ClearExternalPtr(ptr);
    }
}

/* An empty handle object (NULL address, finalizer registered) with class and dims c(a, b). */
static SEXP new_object(const char *cls_name, R_CFinalizer_t fin, double a, double b) {
    SEXP ptr, cls, dims;
    ptr = PROTECT(R_MakeExternalPtr(NULL, Rf_install(cls_name), R_NilValue));
    R_RegisterCFinalizerEx(ptr, fin, TRUE);
    cls = PROTECT(Rf_mkString(cls_name));
    Rf_setAttrib(ptr, R_ClassSymbol, cls);
    dims = PROTECT(Rf_allocVector(REALSXP, 2));
    REAL(dims)[0] = a;
    REAL(dims)[1] = b;
    Rf_setAttrib(ptr, Rf_install("dims"), dims);
    UNPROTECT(3);
    return ptr;
}

static void *get_handle(SEXP obj, const char *cls_name) {
    void *p;
    if (TYPEOF(obj) != EXTPTRSXP || !Rf_inherits(obj, cls_name) ||
        R_ExternalPtrTag(obj) != Rf_install(cls_name))
        Rf_error("expected an %s object", cls_name);
    p = R_ExternalPtrAddr(obj);
    if (p == NULL) Rf_error("this %s has been freed (or was restored from a saved session)", cls_name);
    return p;
}

static double dim_of(SEXP obj, int i) {
    SEXP d = Rf_getAttrib(obj, Rf_install("dims"));
    if (TYPEOF(d) != REALSXP || XLENGTH(d) != 2) Rf_error("corrupt dims attribute");
    return REAL(d)[i];
}

/* config = c(law, ridge, ridge_relative) */
static ntk_predict_config config_of(SEXP config) {
    ntk_predict_config c;
    if (TYPEOF(config) != REALSXP || XLENGTH(config) != 3) Rf_error("config must be 3 numbers");
    c.law = (int)REAL(config)[0];
    c.ridge = REAL(config)[1];
    c.ridge_relative = (int)REAL(config)[2];
    if ((double)c.law != REAL(config)[0] || (double)c.ridge_relative != REAL(config)[2])
        Rf_error("law and ridge_relative must be integer codes");
    return c;
}

SEXP C_predictor_create(SEXP kernel_train, SEXP nngp_train, SEXP y, SEXP config) {
    ntk_matrix kv = ntk_r_view(kernel_train, "kernel_train"), yv = ntk_r_view(y, "y"), sv = kv;
    ntk_predict_config cfg = config_of(config);
    ntk_predictor *p = NULL;
    SEXP result;
    if (nngp_train != R_NilValue) sv = ntk_r_view(nngp_train, "nngp_train");
    result = PROTECT(new_object("ntk_predictor", predictor_finalizer, (double)yv.rows, (double)yv.cols));
    NTK_R_CHECK_INTERRUPTIBLE(ntk_predictor_create(&cfg, kv, nngp_train != R_NilValue ? &sv : NULL, yv, INTR, &p));
    R_SetExternalPtrAddr(result, p);
    UNPROTECT(1);
    return result;
}

SEXP C_predictor_test_create(SEXP predictor, SEXP kernel_test_train, SEXP nngp_test_train,
                             SEXP nngp_test_test) {
    ntk_predictor *p = (ntk_predictor *)get_handle(predictor, "ntk_predictor");
    ntk_matrix kv = ntk_r_view(kernel_test_train, "kernel_test_train"), sv = kv, pv = kv;
    ntk_predictor_test *t = NULL;
    SEXP result;
    if (nngp_test_train != R_NilValue) sv = ntk_r_view(nngp_test_train, "nngp_test_train");
    if (nngp_test_test != R_NilValue) pv = ntk_r_view(nngp_test_test, "nngp_test_test");
    result = PROTECT(new_object("ntk_predictor_test", test_finalizer, (double)kv.rows, dim_of(predictor, 1)));
    NTK_R_CHECK_INTERRUPTIBLE(ntk_predictor_test_create(p, kv, nngp_test_train != R_NilValue ? &sv : NULL,
                                                      nngp_test_test != R_NilValue ? &pv : NULL, INTR, &t));
    R_SetExternalPtrAddr(result, t);
    UNPROTECT(1);
    return result;
}

/* cov: 0 none, 1 full, 2 variances. Returns list(mean, cov). */
static SEXP law_result(size_t m, size_t k, int cov, SEXP *mean, SEXP *covv) {
    SEXP out, names;
    if (m > INT_MAX || k > INT_MAX) Rf_error("result too large for an R matrix");
    out = PROTECT(Rf_allocVector(VECSXP, 2));
    *mean = Rf_allocMatrix(REALSXP, (int)m, (int)k);
    SET_VECTOR_ELT(out, 0, *mean);
    if (cov == 1) *covv = Rf_allocMatrix(REALSXP, (int)m, (int)m);
    else if (cov == 2) *covv = Rf_allocVector(REALSXP, (R_xlen_t)m);
    else *covv = R_NilValue;
    SET_VECTOR_ELT(out, 1, *covv);
    names = PROTECT(Rf_allocVector(STRSXP, 2));
    SET_STRING_ELT(names, 0, Rf_mkChar("mean"));
    SET_STRING_ELT(names, 1, Rf_mkChar("cov"));
    Rf_setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(2);
    return out;
}

SEXP C_predictor_law(SEXP test, SEXP t, SEXP cov) {
    ntk_predictor_test *ts = (ntk_predictor_test *)get_handle(test, "ntk_predictor_test");
    size_t m = (size_t)dim_of(test, 0), k = (size_t)dim_of(test, 1);
    int c = Rf_asInteger(cov);
    SEXP out, mean, covv;
    ntk_matrix_mut mv, cv;
    if (c == NA_INTEGER || c < 0 || c > 2) Rf_error("cov must be 0, 1 or 2");
    out = PROTECT(law_result(m, k, c, &mean, &covv));
    mv = ntk_r_view_mut_shape(mean, m, k);
    cv = ntk_r_view_mut_shape(c == 0 ? mean : covv, m, c == 1 ? m : 1);
    NTK_R_CHECK_INTERRUPTIBLE(ntk_predictor_law(ts, Rf_asReal(t), &mv, c == 0 ? NULL : &cv, INTR));
    UNPROTECT(1);
    return out;
}

SEXP C_ensemble_law(SEXP net, SEXP x_train, SEXP y, SEXP x_test, SEXP t, SEXP config, SEXP cov) {
    ntk_network *n;
    ntk_matrix xv = ntk_r_view(x_train, "x_train"), yv = ntk_r_view(y, "y"), tv = ntk_r_view(x_test, "x_test");
    ntk_predict_config cfg = config_of(config);
    int c = Rf_asInteger(cov);
    SEXP out, mean, covv;
    ntk_matrix_mut mv, cv;
    n = ntk_r_network(net);
    if (c == NA_INTEGER || c < 0 || c > 2) Rf_error("cov must be 0, 1 or 2");
    out = PROTECT(law_result(tv.rows, yv.cols, c, &mean, &covv));
    mv = ntk_r_view_mut_shape(mean, tv.rows, yv.cols);
    cv = ntk_r_view_mut_shape(c == 0 ? mean : covv, tv.rows, c == 1 ? tv.rows : 1);
    NTK_R_CHECK_INTERRUPTIBLE(ntk_ensemble_law(n, &cfg, xv, yv, tv, Rf_asReal(t), &mv, c == 0 ? NULL : &cv, INTR));
    UNPROTECT(1);
    return out;
}

SEXP C_predictor_free(SEXP obj) {
    if (TYPEOF(obj) == EXTPTRSXP && R_ExternalPtrTag(obj) == Rf_install("ntk_predictor"))
        predictor_finalizer(obj);
    else if (TYPEOF(obj) == EXTPTRSXP && R_ExternalPtrTag(obj) == Rf_install("ntk_predictor_test"))
        test_finalizer(obj);
    else
        Rf_error("expected an ntk_predictor or ntk_predictor_test object");
    return R_NilValue;
}
