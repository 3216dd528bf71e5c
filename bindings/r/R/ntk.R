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

ntk_is_valid <- function(net) .Call(C_network_is_valid, net)

ntk_free <- function(net) invisible(.Call(C_network_free, net))

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
