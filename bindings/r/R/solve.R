# Large-N kernel regression: the library's matrix-free preconditioned CG solver.

.solver_kernels <- c(ntk = 0L, nngp = 1L, empirical = 2L)

# Prepares kernel regression on the rows of x (N x n_0) without forming the N x N kernel:
# kernel "ntk" (limit Theta_inf), "nngp" (limit Sigma^(L)) or "empirical" (trace-mode empirical
# NTK of net at its current parameters, copied); rank = pivoted-Cholesky preconditioner rank
# (0 = plain CG, memory 8 N rank bytes); cache_bytes = bytes of cached kernel rows (0 =
# matrix-free). Freed by a finalizer or ntk_solver_free().
ntk_solver <- function(net, x, kernel = "ntk", rank = 100, cache_bytes = 0) {
    x <- .as_double_matrix(x, "x")
    .Call(C_solver_create, net, x, .code(kernel, .solver_kernels, "solver kernel"),
          as.double(cache_bytes), as.double(rank))
}

ntk_solver_free <- function(solver) invisible(.Call(C_solver_free, solver))

ntk_solver_info <- function(solver) .Call(C_solver_describe, solver)

# Solves (K + lambda I) alpha = y (N x k) by preconditioned CG to a true relative residual
# <= rtol per column. Returns list(alpha, iterations, kernel_passes, residual); not converging
# within max_iterations is an error (NTK_STATUS_NUMERICAL ...) naming the residual reached.
ntk_kernel_regression <- function(solver, y, lambda = 0, rtol = 1e-10, max_iterations = 1000) {
    y <- .as_double_matrix(y, "y")
    .Call(C_solver_solve, solver, as.double(lambda), y, as.double(rtol), as.double(max_iterations))
}

# K(x_test, x) alpha (M x k), streamed in tiles.
ntk_kernel_predict <- function(solver, x_test, alpha) {
    x_test <- .as_double_matrix(x_test, "x_test", one_row = TRUE)
    alpha <- .as_double_matrix(alpha, "alpha")
    .Call(C_solver_predict, solver, x_test, alpha)
}

print.ntk_solver <- function(x, ...) {
    if (.Call(C_solver_is_valid, x)) {
        i <- ntk_solver_info(x)
        cat(sprintf("ntk_solver: N = %d, preconditioner rank %d, %d cached rows\n",
                    as.integer(i[["num_points"]]), as.integer(i[["rank"]]), as.integer(i[["cached_rows"]])))
    } else cat("ntk_solver (freed)\n")
    invisible(x)
}
