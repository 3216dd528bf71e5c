# Per-layer architectures (issue #13), sourced by test-ntk.R (uses its check/check_error).
# Reference: arch_nt.txt beside this file, tests/data/arch_nt.txt without the Jacobian and
# empirical-NTK lines (kept equal by tests/packaging.rs; tools/arch_reference.py, neural-tangents 0.6.5): 36 random
# stax.serial(Dense(W_std, b_std, parameterization), act, ...) networks on neural-tangents' own
# parameters; forward outputs and limit NNGP/NTK within 1e-12 relative (off the correlation-1
# pairs where a ReLU-type layer makes neural-tangents' arccos lose ~1e-8).
local({
    path <- file.path(script_dir, "sourced", "arch_nt.txt")
    acts <- c(relu = "relu", leaky = "leaky_relu", erf = "erf", gelu = "gelu", sin = "sin",
              identity = "identity")
    cases <- list()
    for (line in readLines(path)) {
        t <- strsplit(line, " ", fixed = TRUE)[[1]]
        if (length(t) == 0L) next
        if (t[1] == "arch") {
            cases[[length(cases) + 1L]] <- list(name = t[2], param = t[3], relu = t[7] == "1",
                                                layers = list())
        } else if (t[1] == "widths") {
            cases[[length(cases)]]$widths <- as.numeric(t[-1])
        } else if (t[1] == "layer") {
            k <- length(cases)
            cases[[k]]$layers[[length(cases[[k]]$layers) + 1L]] <-
                list(sw = as.numeric(t[3]), sb = as.numeric(t[4]), act = t[5],
                     ap = as.numeric(t[6]))
        } else if (t[1] == "mat") {
            r <- as.integer(t[3]); cc <- as.integer(t[4])
            cases[[length(cases)]][[t[2]]] <- matrix(as.numeric(t[-(1:4)]), r, cc, byrow = TRUE)
        }
    }
    check(length(cases) >= 30, "arch: at least 30 neural-tangents cases")
    for (c in cases) {
        ls <- c$layers
        hidden <- ls[-length(ls)]
        net <- ntk_network_arch(c$widths, W_std = sapply(ls, `[[`, "sw"),
                                b_std = sapply(ls, `[[`, "sb"),
                                activation = unname(acts[vapply(hidden, `[[`, "", "act")]),
                                activation_param = vapply(hidden, `[[`, 0, "ap"),
                                parameterization = c$param, seed = 3)
        ntk_set_params(net, as.vector(c$theta))
        f <- ntk_forward(net, c$x)
        check(max(abs(f - c$f)) <= 1e-12 * max(abs(c$f)), paste("arch forward", c$name))
        n <- nrow(c$x)
        same <- outer(seq_len(n), seq_len(n), Vectorize(function(i, j) all(c$x[i, ] == c$x[j, ])))
        keep <- !(c$relu & same)
        for (q in c("nngp", "ntk")) {
            k <- ntk_kernel_limit(net, c$x, kernel = q)
            check(max(abs((k - c[[q]])[keep])) <= 1e-12 * max(abs(c[[q]])),
                  paste("arch", q, c$name))
        }
    }
    check_error(ntk_network_arch(c(3, 4, 1), W_std = c(1, -2)), "arch.layers[1].sigma_w",
                "arch: sigma_w <= 0 names the layer")
    check_error(ntk_network_arch(c(3, 4, 1), W_std = c(1, 2, 3)), "one per layer",
                "arch: per-layer length")
    check_error(ntk_network_arch(c(3, 4, 1), parameterization = "mean_field"),
                "unknown parameterization", "arch: parameterization")
})
