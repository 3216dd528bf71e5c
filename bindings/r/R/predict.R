# The trained infinite ensemble's predictive law (src/predict_r.c; formulas in docs/predict.md).

.laws <- c(ntk = 0L, nngp = 1L)
.cov_kinds <- c(none = 0L, full = 1L, diagonal = 2L)

.predict_config <- function(law, ridge, ridge_relative)
    c(as.double(.code(law, .laws, "law")), as.double(ridge), if (isTRUE(ridge_relative)) 1 else 0)

ntk_predictor <- function(kernel_train, y, nngp_train = NULL, law = "ntk", ridge = 0,
                          ridge_relative = FALSE) {
    kernel_train <- .as_double_matrix(kernel_train, "kernel_train")
    y <- .as_double_matrix(y, "y")
    if (!is.null(nngp_train)) nngp_train <- .as_double_matrix(nngp_train, "nngp_train")
    .Call(C_predictor_create, kernel_train, nngp_train, y, .predict_config(law, ridge, ridge_relative))
}

ntk_predictor_test <- function(predictor, kernel_test_train, nngp_test_train = NULL,
                               nngp_test_test = NULL) {
    kernel_test_train <- .as_double_matrix(kernel_test_train, "kernel_test_train")
    if (!is.null(nngp_test_train)) nngp_test_train <- .as_double_matrix(nngp_test_train, "nngp_test_train")
    kind <- "none"
    if (!is.null(nngp_test_test)) {
        nngp_test_test <- .as_double_matrix(nngp_test_test, "nngp_test_test")
        kind <- if (ncol(nngp_test_test) == nrow(kernel_test_train)) "full" else "diagonal"
    }
    ts <- .Call(C_predictor_test_create, predictor, kernel_test_train, nngp_test_train, nngp_test_test)
    attr(ts, "cov_kind") <- kind
    ts
}

ntk_predictive_law <- function(test, t, cov = attr(test, "cov_kind")) {
    if (is.null(cov)) cov <- "none"
    .Call(C_predictor_law, test, as.double(t), .code(cov, .cov_kinds, "cov"))
}

ntk_ensemble_law <- function(net, x_train, y, x_test, t, law = "ntk", cov = "full", ridge = 0,
                             ridge_relative = FALSE) {
    x_train <- .as_double_matrix(x_train, "x_train", one_row = TRUE)
    x_test <- .as_double_matrix(x_test, "x_test", one_row = TRUE)
    y <- .as_double_matrix(y, "y")
    .Call(C_ensemble_law, net, x_train, y, x_test, as.double(t),
          .predict_config(law, ridge, ridge_relative), .code(cov, .cov_kinds, "cov"))
}

ntk_predictor_free <- function(x) invisible(.Call(C_predictor_free, x))

print.ntk_predictor <- function(x, ...) {
    d <- attr(x, "dims")
    cat(sprintf("<ntk_predictor: N = %d, k = %d>\n", as.integer(d[1]), as.integer(d[2])))
    invisible(x)
}

print.ntk_predictor_test <- function(x, ...) {
    d <- attr(x, "dims")
    cat(sprintf("<ntk_predictor_test: M = %d, k = %d, cov = %s>\n", as.integer(d[1]),
                as.integer(d[2]), attr(x, "cov_kind")))
    invisible(x)
}
