# R interface of the ntk library. Points are ROWS: an input batch is an N x n_0 matrix.
# R matrices are column-major and are passed to the library without copying (an integer matrix
# is converted to double first). Failed library calls raise R errors whose message starts with
# the status name, e.g. "NTK_STATUS_INVALID_ARGUMENT: ntk_network_forward: ...".

.activations <- c(identity = 0L, relu = 1L, leaky_relu = 2L, erf = 3L, tanh = 4L,
                  sigmoid = 5L, softplus = 6L, gelu = 7L, sin = 8L, cos = 9L)

ntk_version <- function() .Call(C_version)

ntk_num_threads <- function() .Call(C_get_num_threads)

ntk_set_num_threads <- function(n) invisible(.Call(C_set_num_threads, as.double(n)))

ntk_network <- function(widths, activation = "relu", beta = 0.1, seed = 0,
                        activation_param = 0) {
    code <- if (is.character(activation)) {
        if (length(activation) != 1L || !(activation %in% names(.activations)))
            stop("unknown activation '", paste(activation, collapse = ","), "'; one of: ",
                 paste(names(.activations), collapse = ", "))
        .activations[[activation]]
    } else as.integer(activation)
    .Call(C_network_create, as.double(widths), code, as.double(activation_param),
          as.double(beta), as.double(seed))
}

ntk_is_valid <- function(net) {
    if (inherits(net, "ntk_flow")) .Call(C_flow_is_valid, net) else .Call(C_network_is_valid, net)
}

# Frees a network or a flow now (idempotent); later use is an error.
ntk_free <- function(net) {
    invisible(if (inherits(net, "ntk_flow")) .Call(C_flow_free, net) else .Call(C_network_free, net))
}

ntk_clone <- function(net) .Call(C_network_clone, net)

ntk_depth <- function(net) .Call(C_network_shape, net)[1]

ntk_num_params <- function(net) .Call(C_network_shape, net)[2]

ntk_params <- function(net) .Call(C_network_get_params, net)

ntk_set_params <- function(net, params) {
    if (!is.numeric(params)) stop("params must be a numeric vector")
    if (!is.double(params)) params <- as.double(params)
    invisible(.Call(C_network_set_params, net, params))
}

ntk_forward <- function(net, x) {
    if (!is.numeric(x) && !is.logical(x)) stop("x must be a numeric matrix")
    if (is.null(dim(x))) x <- matrix(x, nrow = 1L)   # one point given as a vector
    if (!is.double(x)) storage.mode(x) <- "double"
    .Call(C_network_forward, net, x)
}

print.ntk_network <- function(x, ...) {
    w <- attr(x, "widths")
    cat("<ntk_network ", paste(w, collapse = "-"),
        if (ntk_is_valid(x)) "" else " (freed)", ">\n", sep = "")
    invisible(x)
}

# --- enums -------------------------------------------------------------------------------------
.kernel_modes <- c(trace = 0L, full = 1L)
.kernel_methods <- c(auto = 0L, jacobian = 1L, structured = 2L)
.costs <- c(mse = 0L, cross_entropy = 1L)
.flow_methods <- c(auto = 0L, eigen = 1L, krylov = 2L, ode = 3L)
.spectrum_which <- c(all = 0L, smallest = 1L, largest = 2L)

# A name looked up in `table`, or an integer code passed through (the library validates it).
.code <- function(v, table, what) {
    if (is.character(v)) {
        if (length(v) != 1L || !(v %in% names(table)))
            stop("unknown ", what, " '", paste(v, collapse = ","), "'; one of: ",
                 paste(names(table), collapse = ", "))
        return(table[[v]])
    }
    as.integer(v)
}

# A numeric matrix (or vector: one column) as a double matrix; doubles are passed as they are.
.as_double_matrix <- function(x, what, one_row = FALSE) {
    if (!is.numeric(x) && !is.logical(x)) stop(what, " must be a numeric matrix")
    if (is.null(dim(x))) x <- if (one_row) matrix(x, nrow = 1L) else matrix(x, ncol = 1L)
    if (!is.double(x)) storage.mode(x) <- "double"
    x
}

# --- empirical kernels -------------------------------------------------------------------------
ntk_kernel_empirical <- function(net, x1, x2 = NULL, mode = "trace", method = "auto") {
    x1 <- .as_double_matrix(x1, "x1", one_row = TRUE)
    if (!is.null(x2)) x2 <- .as_double_matrix(x2, "x2", one_row = TRUE)
    .Call(C_kernel_empirical, net, x1, x2, .code(mode, .kernel_modes, "kernel mode"),
          .code(method, .kernel_methods, "kernel method"))
}

ntk_jacobian <- function(net, x) .Call(C_network_jacobian, net, .as_double_matrix(x, "x", one_row = TRUE))

# --- flows ---------------------------------------------------------------------------------------
ntk_flow <- function(kernel, y, f0, test_kernel = NULL, test_f0 = NULL, cost = "mse",
                     method = "auto", rtol = 0, atol = 0, krylov_tol = 0) {
    kernel <- .as_double_matrix(kernel, "kernel")
    y <- .as_double_matrix(y, "y")
    f0 <- .as_double_matrix(f0, "f0")
    if (!is.null(test_kernel)) test_kernel <- .as_double_matrix(test_kernel, "test_kernel")
    if (!is.null(test_f0)) test_f0 <- .as_double_matrix(test_f0, "test_f0")
    opts <- c(as.double(.code(method, .flow_methods, "flow method")), as.double(rtol),
              as.double(atol), as.double(krylov_tol))
    .Call(C_flow_create, kernel, y, f0, test_kernel, test_f0, .code(cost, .costs, "cost"), opts)
}

ntk_step <- function(flow, dt) { .Call(C_flow_step, flow, as.double(dt)); invisible(flow) }

ntk_set_time <- function(flow, t) { .Call(C_flow_set_time, flow, as.double(t)); invisible(flow) }

ntk_time <- function(flow) .Call(C_flow_time, flow)

ntk_outputs <- function(flow) .Call(C_flow_outputs, flow)

ntk_loss <- function(flow) .Call(C_flow_loss, flow)

predict.ntk_flow <- function(object, ...) .Call(C_flow_predict, object)

print.ntk_flow <- function(x, ...) {
    d <- attr(x, "dims")
    cat("<ntk_flow N = ", d[1], ", k = ", d[2], if (d[3] > 0) paste0(", M = ", d[3]) else "",
        if (ntk_is_valid(x)) paste0(", t = ", format(ntk_time(x))) else " (freed)", ">\n", sep = "")
    invisible(x)
}

# --- training ------------------------------------------------------------------------------------
ntk_train <- function(net, x, y, learning_rate, steps, cost = "mse") {
    x <- .as_double_matrix(x, "x", one_row = TRUE)
    y <- .as_double_matrix(y, "y", one_row = is.null(dim(y)) && nrow(x) == 1L)
    .Call(C_network_train, net, x, y, .code(cost, .costs, "cost"), as.double(learning_rate),
          as.double(steps))
}

# --- spectrum ------------------------------------------------------------------------------------
ntk_kernel_spectrum <- function(k, which = "all", count = nrow(k)) {
    k <- .as_double_matrix(k, "k")
    .Call(C_kernel_spectrum, k, as.double(count), .code(which, .spectrum_which, "spectrum selection"))
}

ntk_kernel_condition <- function(k) .Call(C_kernel_condition, .as_double_matrix(k, "k"))

# --- infinite-width kernels ------------------------------------------------------------------------
.limit_kernels <- c(nngp = 1L, sigma_dot = 2L, ntk = 4L, all = 7L)

ntk_kernel_limit <- function(net, x1, x2 = NULL, kernel = "ntk") {
    w <- .code(kernel, .limit_kernels, "kernel")
    x1 <- .as_double_matrix(x1, "x1", one_row = TRUE)
    if (!is.null(x2)) x2 <- .as_double_matrix(x2, "x2", one_row = TRUE)
    res <- .Call(C_kernel_limit, net, x1, x2, w)
    if (identical(kernel, "all")) res else res[[names(.limit_kernels)[match(w, .limit_kernels)]]]
}
