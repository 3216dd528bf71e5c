# Per-layer architectures (issue #13): neural-tangents' stax.serial(Dense(W_std, b_std,
# parameterization), act, ..., Dense). See docs/porting-from-neural-tangents.md.

.per_layer <- function(v, n, what) {
    if (length(v) == 1L) return(rep(v, n))
    if (length(v) != n)
        stop(what, " has ", length(v), " entries, expected ", n, " (one per layer) or a scalar")
    v
}

# W_std (sigma_w > 0) and b_std (sigma_b >= 0): a scalar or one value per weight layer
# (length(widths) - 1); activation and activation_param (leaky slope): a scalar or one value
# per hidden layer (length(widths) - 2). parameterization: "ntk" (z = sigma_w W h / sqrt(n) +
# sigma_b b, theta ~ N(0, 1)) or "standard" (z = W h + b, W ~ N(0, sigma_w^2 / n),
# b ~ N(0, sigma_b^2)).
ntk_network_arch <- function(widths, W_std = 1, b_std = 0, activation = "relu",
                             activation_param = 0, parameterization = "ntk", seed = 0) {
    L <- length(widths) - 1L
    if (L < 1L) stop("widths needs at least 2 entries (n_0 and n_L)")
    acts <- .per_layer(activation, L - 1L, "activation")
    codes <- vapply(acts, function(a) {
        if (is.character(a)) {
            if (!(a %in% names(.activations)))
                stop("unknown activation '", a, "'; one of: ",
                     paste(names(.activations), collapse = ", "))
            .activations[[a]]
        } else as.integer(a)
    }, integer(1), USE.NAMES = FALSE)
    p <- match(parameterization, c("ntk", "standard"))
    if (length(parameterization) != 1L || is.na(p))
        stop("unknown parameterization '", paste(parameterization, collapse = ","),
             "'; one of: ntk, standard")
    .Call(C_network_create_arch, as.double(widths),
          as.double(.per_layer(W_std, L, "W_std")), as.double(.per_layer(b_std, L, "b_std")),
          as.integer(codes), as.double(.per_layer(activation_param, L - 1L, "activation_param")),
          as.integer(p - 1L), as.double(seed))
}
