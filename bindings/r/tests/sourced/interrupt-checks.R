# Ctrl-C interrupts the long calls of the predictive law and the solver (bindings/r/src/predict_r.c,
# solve_r.c: ntk_r_interruptible), sourced by ../test-ntk.R (uses its check helper). SIGINT comes
# from a background shell after 1 s; each call would otherwise run for many seconds.
if (.Platform$OS.type == "unix" && nzchar(Sys.which("kill")) && nzchar(Sys.which("sleep"))) {
    interrupt_after_1s <- function(f) {
        system(sprintf("sleep 1 && kill -INT %d", Sys.getpid()), wait = FALSE)
        t0 <- Sys.time()
        msg <- tryCatch({ f(); "finished" },
                        interrupt = function(e) "interrupt outside the call",
                        error = function(e) conditionMessage(e))
        list(msg = msg, secs = as.numeric(difftime(Sys.time(), t0, units = "secs")))
    }
    inet <- ntk_network(c(3, 8, 1), "relu", beta = 0.1)
    ixs <- matrix(sin(1:(3 * 3000) * 1.3), 3000, 3)
    isol <- ntk_solver(inet, ixs, rank = 0)
    # rtol 1e-15 is out of reach: CG runs for max_iterations (each pass ~4.5e6 kernel entries)
    r <- interrupt_after_1s(function() ntk_kernel_regression(isol, cos(ixs[, 1]), lambda = 1e-3, rtol = 1e-15,
                                                             max_iterations = 2000))
    cat(sprintf("solver interrupt after %.2f s: %s\n", r$secs, r$msg))
    check(grepl("interrupted by the user", r$msg, fixed = TRUE), "Ctrl-C cancels ntk_kernel_regression")
    check(ntk_solver_info(isol)[["num_points"]] == 3000, "the solver is usable after the interrupt")
    # tanh limit kernels (numerical integration) of 2600 points: the kernel phase takes seconds
    tnet <- ntk_network(c(3, 8, 1), "tanh")
    r <- interrupt_after_1s(function() ntk_ensemble_law(tnet, ixs[1:2000, ], cos(ixs[1:2000, 1]),
                                                        ixs[2001:2600, ], 1, cov = "diagonal"))
    cat(sprintf("ensemble_law interrupt after %.2f s: %s\n", r$secs, r$msg))
    check(grepl("interrupted by the user", r$msg, fixed = TRUE), "Ctrl-C cancels ntk_ensemble_law")
    ntk_solver_free(isol)
} else {
    cat("note: no kill/sleep: the predict/solve interrupt checks are not run\n")
    check(!identical(Sys.getenv("CI"), "true"), "the predict/solve interrupt checks run under CI")
}
