# Tests of the kernel-regression solver binding (bindings/r/R/solve.R), sourced by ../test-ntk.R
# (uses its check/check_error helpers). Reference: the dense solve(K + lambda I, y) with K from
# ntk_kernel_limit / ntk_kernel_empirical, and K(x_test, x) alpha from ntk_kernel_limit.
sphere <- function(n, d, s) {
    x <- outer(1:n, 1:d, function(i, j) sin(1.3 * (i * d + j) + s) + 0.1 * cos(i + s))
    x / sqrt(rowSums(x^2))
}
n <- 300; m <- 41; d <- 3
xs <- sphere(n, d, 0); xts <- sphere(m, d, 1)
snet <- ntk_network(c(d, 8, 8, 1), "relu", beta = 0.1, seed = 1)
ys <- cbind(sin(3 * xs[, 1]), xs[, 2] * xs[, 3])
for (kern in c("ntk", "nngp")) {
    K <- ntk_kernel_limit(snet, xs, kernel = kern)
    s <- ntk_solver(snet, xs, kernel = kern, rank = 30)
    info <- ntk_solver_info(s)
    check(info[["num_points"]] == n && info[["rank"]] == 30 && info[["cached_rows"]] == 0,
          paste("solver info", kern))
    check(abs(info[["trace"]] - sum(diag(K))) <= 1e-12 * sum(diag(K)), paste("trace", kern))
    lam <- 1e-4 * info[["trace"]] / n
    want <- solve(K + lam * diag(n), ys)
    r <- ntk_kernel_regression(s, ys, lambda = lam, rtol = 1e-12)
    check(r$residual <= 1e-12 && r$iterations > 0, paste("converged", kern))
    check(sqrt(sum((r$alpha - want)^2) / sum(want^2)) < 1e-9, paste("alpha vs dense solve", kern))
    p <- ntk_kernel_predict(s, xts, r$alpha)
    kx <- ntk_kernel_limit(snet, xts, xs, kernel = kern)
    check(sqrt(sum((p - kx %*% r$alpha)^2) / sum((kx %*% r$alpha)^2)) < 1e-13, paste("predictions", kern))
    ntk_solver_free(s)
}
s0 <- ntk_solver(snet, xs, rank = 20)
s1 <- ntk_solver(snet, xs, rank = 20, cache_bytes = 8 * n * n)
check(ntk_solver_info(s1)[["cached_rows"]] == n, "all rows cached")
check(identical(ntk_kernel_regression(s0, ys, lambda = 1e-3)$alpha,
                ntk_kernel_regression(s1, ys, lambda = 1e-3)$alpha), "cache gives the same bits")
enet <- ntk_network(c(d, 16, 16, 2), "tanh", beta = 0.2, seed = 3)
Ke <- ntk_kernel_empirical(enet, xs)
se <- ntk_solver(enet, xs, kernel = "empirical", rank = 20)
lam <- 1e-3 * sum(diag(Ke)) / n
re <- ntk_kernel_regression(se, ys[, 1], lambda = lam, rtol = 1e-12)
we <- solve(Ke + lam * diag(n), ys[, 1])
check(sqrt(sum((re$alpha - we)^2) / sum(we^2)) < 1e-9, "empirical NTK alpha vs dense solve")
check_error(ntk_solver(snet, xs, kernel = "bogus"), "unknown solver kernel", "unknown kernel name")
check_error(ntk_solver(snet, xs[, 1:2]), "NTK_STATUS_INVALID_ARGUMENT", "wrong n_0")
check_error(ntk_kernel_regression(s0, ys, lambda = -1), "lambda", "negative lambda")
yb <- ys; yb[7, 2] <- NaN
check_error(ntk_kernel_regression(s0, yb), "NTK_STATUS_NON_FINITE", "NaN target")
check_error(ntk_kernel_regression(s0, ys, lambda = 1e-3, rtol = 1e-14, max_iterations = 2),
            "NTK_STATUS_NUMERICAL", "too few iterations")
check_error(ntk_kernel_regression(s0, ys[-1, ]), "NTK_STATUS_INVALID_ARGUMENT", "wrong number of rows")
check_error(ntk_kernel_predict(s0, xts[, 1:2], ys), "NTK_STATUS_INVALID_ARGUMENT", "x_test of wrong n_0")
ntk_solver_free(s0)
check_error(ntk_kernel_regression(s0, ys), "freed", "use after free")
check_error(ntk_kernel_regression(snet, ys), "expected an ntk_solver", "not a solver")
cat("test-solve.R: done\n")
