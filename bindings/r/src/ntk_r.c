/*
 * ntk_r.c -- .Call shim between R and the ntk C API.
 *
 * - Network and flow handles are external pointers (tags `ntk_network` / `ntk_flow`), built
 *   before the library creates the handle so that no R allocation error can leak one.
 * - Network handles are external pointers (tag: the symbol `ntk_network`, class "ntk_network",
 *   attribute "widths") with a C finalizer registered by R_RegisterCFinalizerEx (also run at
 *   exit). ntk_free() frees early and clears the pointer; any later use is an R error.
 * - R matrices are column-major: they are passed as strided views (row_stride = 1,
 *   col_stride = nrow) without copying. Outputs are allocated here and filled in place.
 * - Errors: the library's message is copied into a local buffer right after the call has
 *   returned, and only then is Rf_error called (it longjmps; no library frame is on the stack).
 * - Every allocation is PROTECTed until it is returned.
 * - Long calls (kernels, Jacobian, training, flow time steps) can be interrupted with Ctrl-C:
 *   NTK_R_CHECK_INTERRUPTIBLE passes a progress callback checking R_CheckUserInterrupt through
 *   R_ToplevelExec (interrupt_r.c).
 */
#define R_NO_REMAP
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ntk.h"
#include "ntk_r_common.h"
#include "predict_r.h"

static SEXP network_tag = NULL;
static SEXP flow_tag = NULL;

/* Raises an R error describing a failed call; `status` must not be NTK_STATUS_OK. */
void ntk_r_raise(enum ntk_status status) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s: %s", ntk_status_str((int)status), ntk_last_error());
    Rf_error("%s", msg);
}


static void network_finalizer(SEXP ptr) {
    ntk_network *net = (ntk_network *)R_ExternalPtrAddr(ptr);
    if (net != NULL) {
        ntk_network_free(net);
        R_ClearExternalPtr(ptr);
    }
}

/* The handle inside an "ntk_network" object; R error when it is not one or has been freed. */
ntk_network *ntk_r_network(SEXP obj) {
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

/* Per-layer architecture (issue #13): sigma_w, sigma_b (length L), activation codes and their
 * parameters (length L-1), parameterization code (0 NTK, 1 standard), seed. */
static SEXP C_network_create_arch(SEXP widths, SEXP sigma_w, SEXP sigma_b, SEXP activation,
                                  SEXP activation_param, SEXP parameterization, SEXP seed) {
    ntk_architecture arch;
    ntk_layer *layers;
    ntk_network *net = NULL;
    size_t *w;
    R_xlen_t i, n, depth;
    SEXP widths_attr, result;
    if (TYPEOF(widths) != REALSXP) Rf_error("widths must be a double vector");
    n = XLENGTH(widths);
    if (n < 2) Rf_error("widths needs at least 2 entries (n_0 and n_L)");
    depth = n - 1;
    if (TYPEOF(sigma_w) != REALSXP || XLENGTH(sigma_w) != depth ||
        TYPEOF(sigma_b) != REALSXP || XLENGTH(sigma_b) != depth)
        Rf_error("W_std and b_std must be double vectors of length %d (one per weight layer)",
                 (int)depth);
    if (TYPEOF(activation) != INTSXP || XLENGTH(activation) != depth - 1 ||
        TYPEOF(activation_param) != REALSXP || XLENGTH(activation_param) != depth - 1)
        Rf_error("activation / activation_param must have length %d (one per hidden layer)",
                 (int)(depth - 1));
    w = (size_t *)R_alloc((size_t)n, sizeof(size_t));
    for (i = 0; i < n; i++) w[i] = (size_t)whole_number(REAL(widths)[i], "each width");
    layers = (ntk_layer *)R_alloc((size_t)depth, sizeof(ntk_layer));
    for (i = 0; i < depth; i++) {
        NTK_R_CHECK(ntk_layer_init(&layers[i], sizeof layers[i]));
        layers[i].sigma_w = REAL(sigma_w)[i];
        layers[i].sigma_b = REAL(sigma_b)[i];
        if (i + 1 < depth) {
            if (INTEGER(activation)[i] == NA_INTEGER) Rf_error("activation codes must not be NA");
            layers[i].activation = INTEGER(activation)[i];
            layers[i].activation_param = REAL(activation_param)[i];
        }
    }
    NTK_R_CHECK(ntk_architecture_init(&arch, sizeof arch));
    arch.parameterization = Rf_asInteger(parameterization);
    arch.widths = w;
    arch.num_widths = (size_t)n;
    arch.layers = layers;
    arch.num_layers = (size_t)depth;
    arch.seed = (uint64_t)whole_number(Rf_asReal(seed), "seed");
    widths_attr = Rf_duplicate(widths);
    result = PROTECT(new_network_object(widths_attr));
    NTK_R_CHECK(ntk_network_create_arch(&arch, &net));
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
    ntk_network *net = ntk_r_network(obj), *copy = NULL;
    SEXP result = PROTECT(new_network_object(Rf_duplicate(Rf_getAttrib(obj, Rf_install("widths")))));
    NTK_R_CHECK(ntk_network_clone(net, &copy));
    R_SetExternalPtrAddr(result, copy);
    UNPROTECT(1);
    return result;
}

static SEXP C_network_shape(SEXP obj) {
    ntk_network *net = ntk_r_network(obj);
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
    ntk_network *net = ntk_r_network(obj);
    size_t p = num_params_of(net);
    SEXP out = PROTECT(Rf_allocVector(REALSXP, (R_xlen_t)p));
    NTK_R_CHECK(ntk_network_get_params(net, REAL(out), p));
    UNPROTECT(1);
    return out;
}

static SEXP C_network_set_params(SEXP obj, SEXP theta) {
    ntk_network *net = ntk_r_network(obj);
    if (TYPEOF(theta) != REALSXP) Rf_error("params must be a double vector");
    NTK_R_CHECK(ntk_network_set_params(net, REAL(theta), (size_t)XLENGTH(theta)));
    return R_NilValue;
}

/* x: an N x n_0 double matrix (column-major, passed as is); returns the N x n_L output. */
static SEXP C_network_forward(SEXP obj, SEXP x) {
    ntk_network *net = ntk_r_network(obj);
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
    xv = ntk_matrix_col_major(REAL(x), (size_t)n, (size_t)INTEGER(dim)[1]);
    ov = ntk_matrix_col_major_mut(REAL(out), (size_t)n, (size_t)n_out);
    NTK_R_CHECK(ntk_network_forward(net, xv, ov));
    UNPROTECT(1);
    return out;
}

/* ---- matrices --------------------------------------------------------------------------- */

/* A double matrix (or vector = one column) as a column-major view without copying. */
ntk_matrix ntk_r_view(SEXP x, const char *what) {
    size_t rows, cols;
    if (TYPEOF(x) != REALSXP) Rf_error("%s must be a double matrix", what);
    if (Rf_isMatrix(x)) {
        SEXP dim = Rf_getAttrib(x, R_DimSymbol);
        rows = (size_t)INTEGER(dim)[0];
        cols = (size_t)INTEGER(dim)[1];
    } else {
        rows = (size_t)XLENGTH(x);
        cols = 1;
    }
    return ntk_matrix_col_major(REAL(x), rows, cols);
}

ntk_matrix_mut ntk_r_view_mut(SEXP x) {
    SEXP dim = Rf_getAttrib(x, R_DimSymbol);
    return ntk_matrix_col_major_mut(REAL(x), (size_t)INTEGER(dim)[0], (size_t)INTEGER(dim)[1]);
}

ntk_matrix_mut ntk_r_view_mut_shape(SEXP x, size_t rows, size_t cols) {
    return ntk_matrix_col_major_mut(REAL(x), rows, cols);
}

static int as_code(SEXP v, const char *what) {
    int c = Rf_asInteger(v);
    if (c == NA_INTEGER) Rf_error("%s must be an integer code", what);
    return c;
}

/* A matrix of rows x cols, checked against R's limits before allocating. */
static SEXP alloc_matrix(size_t rows, size_t cols) {
    if (rows > INT_MAX || cols > INT_MAX) Rf_error("result too large for an R matrix");
    return Rf_allocMatrix(REALSXP, (int)rows, (int)cols);
}

static size_t output_dim_of(SEXP net_obj) {
    SEXP widths = Rf_getAttrib(net_obj, Rf_install("widths"));
    if (TYPEOF(widths) != REALSXP || XLENGTH(widths) < 2) Rf_error("corrupt ntk_network widths");
    return (size_t)REAL(widths)[XLENGTH(widths) - 1];
}

/* ---- infinite-width kernels -------------------------------------------------------------- */

/* which: bit 0 NNGP, bit 1 Sigma-dot, bit 2 NTK. Returns list(nngp, sigma_dot, ntk) with NULL for
 * the kernels not requested. */
static SEXP C_kernel_limit(SEXP obj, SEXP x1, SEXP x2, SEXP which) {
    ntk_network *net = ntk_r_network(obj);
    ntk_matrix v1 = ntk_r_view(x1, "x1"), v2 = v1;
    int w = as_code(which, "which"), i;
    size_t n2;
    ntk_matrix_mut views[3];
    SEXP result, names;
    static const char *const kernel_names[3] = {"nngp", "sigma_dot", "ntk"};
    if (x2 != R_NilValue) v2 = ntk_r_view(x2, "x2");
    n2 = x2 != R_NilValue ? v2.rows : v1.rows;
    result = PROTECT(Rf_allocVector(VECSXP, 3));
    names = PROTECT(Rf_allocVector(STRSXP, 3));
    for (i = 0; i < 3; i++) {
        SET_STRING_ELT(names, i, Rf_mkChar(kernel_names[i]));
        if (w & (1 << i)) {
            SEXP m = alloc_matrix(v1.rows, n2);
            SET_VECTOR_ELT(result, i, m); /* protected through `result` from here on */
            views[i] = ntk_r_view_mut(m);
        }
    }
    Rf_setAttrib(result, R_NamesSymbol, names);
    NTK_R_CHECK_INTERRUPTIBLE(ntk_kernel_limit(net, v1, x2 != R_NilValue ? &v2 : NULL,
                                               (w & 1) ? &views[0] : NULL, (w & 2) ? &views[1] : NULL,
                                               (w & 4) ? &views[2] : NULL, INTR));
    UNPROTECT(2);
    return result;
}

/* ---- empirical kernels and the Jacobian -------------------------------------------------- */

/* x2 = NULL for x2 = x1; mode/method: integer codes of ntk_kernel_mode / ntk_kernel_method. */
static SEXP C_kernel_empirical(SEXP obj, SEXP x1, SEXP x2, SEXP mode, SEXP method) {
    ntk_network *net = ntk_r_network(obj);
    ntk_matrix v1 = ntk_r_view(x1, "x1"), v2 = v1;
    int m = as_code(mode, "mode"), me = as_code(method, "method");
    size_t k = m == NTK_KERNEL_MODE_FULL ? output_dim_of(obj) : 1, n2;
    SEXP out;
    if (x2 != R_NilValue) v2 = ntk_r_view(x2, "x2");
    n2 = x2 != R_NilValue ? v2.rows : v1.rows;
    /* an invalid mode is reported by the library; the output shape then does not matter */
    out = PROTECT(alloc_matrix(v1.rows * k, n2 * k));
    NTK_R_CHECK_INTERRUPTIBLE(
        ntk_kernel_empirical(net, v1, x2 != R_NilValue ? &v2 : NULL, m, me, ntk_r_view_mut(out), INTR));
    UNPROTECT(1);
    return out;
}

static SEXP C_network_jacobian(SEXP obj, SEXP x) {
    ntk_network *net = ntk_r_network(obj);
    ntk_matrix v = ntk_r_view(x, "x");
    SEXP out = PROTECT(alloc_matrix(v.rows * output_dim_of(obj), num_params_of(net)));
    NTK_R_CHECK_INTERRUPTIBLE(ntk_network_jacobian(net, v, ntk_r_view_mut(out), INTR));
    UNPROTECT(1);
    return out;
}

/* ---- flows ------------------------------------------------------------------------------- */

static void flow_finalizer(SEXP ptr) {
    ntk_flow *flow = (ntk_flow *)R_ExternalPtrAddr(ptr);
    if (flow != NULL) {
        ntk_flow_free(flow);
        R_ClearExternalPtr(ptr);
    }
}

static ntk_flow *get_flow(SEXP obj) {
    ntk_flow *flow;
    if (TYPEOF(obj) != EXTPTRSXP || !Rf_inherits(obj, "ntk_flow") || R_ExternalPtrTag(obj) != flow_tag) {
        Rf_error("expected an ntk_flow object");
    }
    flow = (ntk_flow *)R_ExternalPtrAddr(obj);
    if (flow == NULL) Rf_error("this ntk_flow has been freed (or was restored from a saved session)");
    return flow;
}

/* attribute "dims" = c(N, k, M) of a flow object */
static size_t flow_dim(SEXP obj, int i) {
    SEXP d = Rf_getAttrib(obj, Rf_install("dims"));
    if (TYPEOF(d) != REALSXP || XLENGTH(d) != 3) Rf_error("corrupt ntk_flow dims");
    return (size_t)REAL(d)[i];
}

static SEXP C_flow_create(SEXP kernel, SEXP y, SEXP f0, SEXP test_kernel, SEXP test_f0, SEXP cost,
                          SEXP options) {
    ntk_matrix kv = ntk_r_view(kernel, "kernel"), yv = ntk_r_view(y, "y"), fv = ntk_r_view(f0, "f0");
    ntk_matrix tk = kv, tf = fv;
    ntk_flow_options opt;
    ntk_flow *flow = NULL;
    int c = as_code(cost, "cost");
    SEXP result, dims, cls;
    if (TYPEOF(options) != REALSXP || XLENGTH(options) != 4) Rf_error("options must be 4 numbers");
    if (test_kernel != R_NilValue) tk = ntk_r_view(test_kernel, "test_kernel");
    if (test_f0 != R_NilValue) tf = ntk_r_view(test_f0, "test_f0");
    opt.method = (int)REAL(options)[0];
    if ((double)opt.method != REAL(options)[0]) Rf_error("options method must be an integer code");
    opt.rtol = REAL(options)[1];
    opt.atol = REAL(options)[2];
    opt.krylov_tol = REAL(options)[3];
    dims = PROTECT(Rf_allocVector(REALSXP, 3));
    REAL(dims)[0] = (double)yv.rows;
    REAL(dims)[1] = (double)yv.cols;
    REAL(dims)[2] = test_f0 != R_NilValue ? (double)tf.rows : 0.0;
    /* the object (NULL address, finalizer registered) exists before the handle does */
    result = PROTECT(R_MakeExternalPtr(NULL, flow_tag, R_NilValue));
    R_RegisterCFinalizerEx(result, flow_finalizer, TRUE);
    cls = PROTECT(Rf_mkString("ntk_flow"));
    Rf_setAttrib(result, R_ClassSymbol, cls);
    Rf_setAttrib(result, Rf_install("dims"), dims);
    NTK_R_CHECK(ntk_flow_create(kv, yv, fv, test_kernel != R_NilValue ? &tk : NULL,
                                test_f0 != R_NilValue ? &tf : NULL, c, &opt, &flow));
    R_SetExternalPtrAddr(result, flow);
    UNPROTECT(3);
    return result;
}

static SEXP C_flow_free(SEXP obj) {
    if (TYPEOF(obj) == EXTPTRSXP && R_ExternalPtrTag(obj) == flow_tag) flow_finalizer(obj);
    else Rf_error("expected an ntk_flow object");
    return R_NilValue;
}

static SEXP C_flow_is_valid(SEXP obj) {
    return Rf_ScalarLogical(TYPEOF(obj) == EXTPTRSXP && R_ExternalPtrTag(obj) == flow_tag &&
                            R_ExternalPtrAddr(obj) != NULL);
}

static SEXP C_flow_step(SEXP obj, SEXP dt) {
    ntk_flow *flow = get_flow(obj);
    NTK_R_CHECK_INTERRUPTIBLE(ntk_flow_step(flow, Rf_asReal(dt), INTR));
    return R_NilValue;
}

static SEXP C_flow_set_time(SEXP obj, SEXP t) {
    ntk_flow *flow = get_flow(obj);
    NTK_R_CHECK_INTERRUPTIBLE(ntk_flow_set_time(flow, Rf_asReal(t), INTR));
    return R_NilValue;
}

static SEXP C_flow_time(SEXP obj) {
    ntk_flow *flow = get_flow(obj);
    double t = 0.0;
    NTK_R_CHECK(ntk_flow_time(flow, &t));
    return Rf_ScalarReal(t);
}

static SEXP C_flow_loss(SEXP obj) {
    ntk_flow *flow = get_flow(obj);
    double l = 0.0;
    NTK_R_CHECK(ntk_flow_loss(flow, &l));
    return Rf_ScalarReal(l);
}

static SEXP C_flow_outputs(SEXP obj) {
    ntk_flow *flow = get_flow(obj);
    SEXP out = PROTECT(alloc_matrix(flow_dim(obj, 0), flow_dim(obj, 1)));
    NTK_R_CHECK(ntk_flow_outputs(flow, ntk_r_view_mut(out)));
    UNPROTECT(1);
    return out;
}

static SEXP C_flow_predict(SEXP obj) {
    ntk_flow *flow = get_flow(obj);
    SEXP out = PROTECT(alloc_matrix(flow_dim(obj, 2), flow_dim(obj, 1)));
    NTK_R_CHECK(ntk_flow_predict(flow, ntk_r_view_mut(out)));
    UNPROTECT(1);
    return out;
}

/* ---- training ---------------------------------------------------------------------------- */

static SEXP C_network_train(SEXP obj, SEXP x, SEXP y, SEXP cost, SEXP learning_rate, SEXP steps) {
    ntk_network *net = ntk_r_network(obj);
    ntk_matrix xv = ntk_r_view(x, "x"), yv = ntk_r_view(y, "y");
    int c = as_code(cost, "cost");
    double s = whole_number(Rf_asReal(steps), "steps");
    SEXP history;
    if (s + 1 > (double)R_XLEN_T_MAX) Rf_error("steps too large");
    history = PROTECT(Rf_allocVector(REALSXP, (R_xlen_t)s + 1));
    NTK_R_CHECK_INTERRUPTIBLE(
        ntk_network_train(net, xv, yv, c, Rf_asReal(learning_rate), (size_t)s, REAL(history), INTR));
    UNPROTECT(1);
    return history;
}

/* ---- spectrum ---------------------------------------------------------------------------- */

static SEXP C_kernel_spectrum(SEXP k, SEXP count, SEXP which) {
    ntk_matrix kv = ntk_r_view(k, "k");
    double n = whole_number(Rf_asReal(count), "count");
    int w = as_code(which, "which");
    SEXP ev;
    if (n > (double)R_XLEN_T_MAX) Rf_error("count too large");
    ev = PROTECT(Rf_allocVector(REALSXP, n > 0 ? (R_xlen_t)n : 1));
    NTK_R_CHECK(ntk_kernel_spectrum(kv, REAL(ev), (size_t)n, w));
    UNPROTECT(1);
    return ev;
}

static SEXP C_kernel_condition(SEXP k) {
    ntk_matrix kv = ntk_r_view(k, "k");
    SEXP out = PROTECT(Rf_allocVector(REALSXP, 3)), names;
    NTK_R_CHECK(ntk_kernel_condition(kv, &REAL(out)[0], &REAL(out)[1], &REAL(out)[2]));
    names = PROTECT(Rf_allocVector(STRSXP, 3));
    SET_STRING_ELT(names, 0, Rf_mkChar("lambda_min"));
    SET_STRING_ELT(names, 1, Rf_mkChar("lambda_max"));
    SET_STRING_ELT(names, 2, Rf_mkChar("condition"));
    Rf_setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(2);
    return out;
}

/* The kernel-regression solver's routines live in solve_r.c. */
SEXP C_solver_create(SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP C_solver_free(SEXP);
SEXP C_solver_is_valid(SEXP);
SEXP C_solver_describe(SEXP);
SEXP C_solver_solve(SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP C_solver_predict(SEXP, SEXP, SEXP);

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
    ENTRY(C_kernel_limit, 4),
    ENTRY(C_kernel_empirical, 5),
    ENTRY(C_network_jacobian, 2),
    ENTRY(C_flow_create, 7),
    ENTRY(C_flow_free, 1),
    ENTRY(C_flow_is_valid, 1),
    ENTRY(C_flow_step, 2),
    ENTRY(C_flow_set_time, 2),
    ENTRY(C_flow_time, 1),
    ENTRY(C_flow_loss, 1),
    ENTRY(C_flow_outputs, 1),
    ENTRY(C_flow_predict, 1),
    ENTRY(C_network_train, 6),
    ENTRY(C_kernel_spectrum, 3),
    ENTRY(C_kernel_condition, 1),
    NTK_PREDICT_ENTRIES,
    ENTRY(C_solver_create, 5),
    ENTRY(C_solver_free, 1),
    ENTRY(C_solver_is_valid, 1),
    ENTRY(C_solver_describe, 1),
    ENTRY(C_solver_solve, 5),
    ENTRY(C_solver_predict, 3),
    ENTRY(C_network_create_arch, 7),
    {NULL, NULL, 0}};

void R_init_ntk(DllInfo *dll) {
    network_tag = Rf_install("ntk_network");
    flow_tag = Rf_install("ntk_flow");
    R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
}
