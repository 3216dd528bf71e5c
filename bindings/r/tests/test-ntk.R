# Tests of the R binding, run by R CMD check (and by scripts/test-all.sh). By hand, against an
# installed libntk (pkg-config, or NTK_LIB_DIR / NTK_INCLUDE_DIR):
#   R CMD INSTALL --preclean --no-multiarch -l "$LIB" bindings/r
#   R_LIBS="$LIB" Rscript bindings/r/tests/test-ntk.R
# (scripts/test-all.sh does this.) Reference numbers: an independent plain-loop forward pass
# written here from the parameters, and the numbers printed by bindings/c/example.c.
library(ntk)

failures <- 0L
checks <- 0L
check <- function(cond, what) {
    checks <<- checks + 1L
    if (!isTRUE(cond)) {
        failures <<- failures + 1L
        cat("FAILED:", what, "\n")
    }
}
# The error message of expr ("" when it does not fail).
error_of <- function(expr) tryCatch({ force(expr); "" }, error = function(e) conditionMessage(e))
check_error <- function(expr, pattern, what) {
    msg <- error_of(expr)
    ok <- nzchar(msg) && grepl(pattern, msg, fixed = TRUE)
    if (!ok) cat("  message was: '", msg, "'\n", sep = "")
    check(ok, what)
}

# This file's directory (Rscript path/test-ntk.R, or R CMD check running it in tests/), for the
# data file next to it; the suite uses no repository paths.
file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
script_dir <- if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[1]))) else "."

reference_forward <- function(widths, theta, beta, sigma, x) {
    out <- matrix(0, nrow(x), widths[length(widths)])
    for (i in seq_len(nrow(x))) {
        h <- x[i, ]
        off <- 0
        for (l in seq_len(length(widths) - 1)) {
            nin <- widths[l]; nout <- widths[l + 1]
            W <- matrix(theta[off + seq_len(nout * nin)], nout, nin, byrow = TRUE)
            b <- theta[off + nout * nin + seq_len(nout)]
            off <- off + nout * (nin + 1)
            z <- numeric(nout)
            for (j in seq_len(nout)) z[j] <- sum(W[j, ] * h) / sqrt(nin) + beta * b[j]
            h <- if (l < length(widths) - 1) sigma(z) else z
        }
        out[i, ] <- h
    }
    out
}
relerr <- function(a, b) max(abs(a - b) / pmax(1, abs(a), abs(b)))
rss_mib <- function() as.numeric(strsplit(readLines("/proc/self/statm"), " ")[[1]][2]) * 4 / 1024

# --- library ---------------------------------------------------------------------------------
check(identical(ntk_version(), as.character(utils::packageVersion("ntk"))),
      "library version = package version (DESCRIPTION)")
ntk_set_num_threads(2)
check(ntk_num_threads() == 2, "set/get threads")
ntk_set_num_threads(0)
check(ntk_num_threads() >= 1, "threads = 0 means one per core")
ntk_set_num_threads(2)   # at most 2 threads from here on (CRAN policy)
check_error(ntk_set_num_threads(-1), "whole number", "negative thread count")

# --- shape and parameters --------------------------------------------------------------------
widths <- c(3, 7, 5, 2)
net <- ntk_network(widths, "tanh", beta = 0.3, seed = 42)
x <- outer(1:6, 1:3, function(i, j) sin(0.7 * i + 1.3 * j))
check(inherits(net, "ntk_network"), "class")
check(ntk_depth(net) == 3 && ntk_num_params(net) == 80, "depth and P")
theta <- ntk_params(net)
check(length(theta) == 80 && all(is.finite(theta)), "params")
check(identical(ntk_params(ntk_network(widths, "tanh", 0.3, 42)), theta), "same seed, same params")
check(!identical(ntk_params(ntk_network(widths, "tanh", 0.3, 43)), theta), "other seed, other params")
check(grepl("3-7-5-2", paste(capture.output(print(net)), collapse = "")), "print")

# --- forward against the reference ----------------------------------------------------------
f <- ntk_forward(net, x)
check(identical(dim(f), c(6L, 2L)), "forward shape")
check(relerr(f, reference_forward(widths, theta, 0.3, tanh, x)) < 1e-13, "tanh forward vs reference")
relu_net <- ntk_network(c(4, 9, 3), "relu", beta = 0, seed = 5)
x4 <- outer(1:5, 1:4, function(i, j) cos(1.1 * i - 0.4 * j))
check(relerr(ntk_forward(relu_net, x4),
             reference_forward(c(4, 9, 3), ntk_params(relu_net), 0, function(z) pmax(z, 0), x4)) < 1e-13,
      "relu forward vs reference")
leaky <- ntk_network(c(4, 9, 3), "leaky_relu", beta = 0.5, seed = 6, activation_param = 0.2)
check(relerr(ntk_forward(leaky, x4),
             reference_forward(c(4, 9, 3), ntk_params(leaky), 0.5, function(z) ifelse(z > 0, z, 0.2 * z), x4)) < 1e-13,
      "leaky relu forward vs reference")
check(identical(ntk_forward(net, x[2, ]), ntk_forward(net, x[2, , drop = FALSE])), "one point as a vector")
xi <- matrix(1:6, 2, 3)
check(identical(ntk_forward(net, xi), ntk_forward(net, xi + 0)), "integer matrix converted")
# row-major data (a transposed copy) gives the same numbers bitwise
check(identical(ntk_forward(net, t(t(x))), f), "same numbers from a re-laid-out copy")

# --- the C example's numbers (bindings/c/example.c, printed with %.15f) -----------------------
c_numbers <- c(0.072771861462817, 0.450732680354583, 0.727340210197091, 0.322680781681397,
               0.345464888476276, 0.228991770228189, 0.144001171424087, 0.016744168534700)
ex <- ntk_network(c(2, 256, 256, 1), "relu", beta = 0.1, seed = 2018)
g <- 2 * pi * (0:7) / 8
check(max(abs(as.vector(ntk_forward(ex, cbind(cos(g), sin(g)))) - c_numbers)) < 1e-14,
      "same numbers as the C example")

# --- no copy of a double matrix on the R side -------------------------------------------------
if (capabilities("profmem")) {
    big <- matrix(rnorm(30000), 10000, 3)
    traced <- capture.output({ tracemem(big); invisible(ntk_forward(net, big)); untracemem(big) })
    check(!any(grepl("tracemem\\[", traced)), "double matrix not duplicated by ntk_forward")
    traced <- capture.output({ tracemem(big); b2 <- big; b2[1] <- 0; untracemem(big) })
    check(any(grepl("tracemem\\[", traced)), "sanity: tracemem sees a duplication")
} else {
    cat("note: R without memory profiling; skipping the tracemem no-copy check\n")
}

# --- clone and set_params ---------------------------------------------------------------------
cl <- ntk_clone(net)
check(identical(ntk_params(cl), theta), "clone params")
ntk_set_params(cl, theta * 0.5)
check(identical(ntk_params(cl), theta * 0.5), "set_params round trip")
check(identical(ntk_params(net), theta), "original unchanged")
check(relerr(ntk_forward(cl, x), reference_forward(widths, theta * 0.5, 0.3, tanh, x)) < 1e-13,
      "forward after set_params")
ntk_set_params(cl, as.integer(seq_len(80) %% 3))
check(identical(ntk_params(cl), as.double(seq_len(80) %% 3)), "integer params converted")

# --- errors ------------------------------------------------------------------------------------
check_error(ntk_forward(net, x[, 1:2]), "NTK_STATUS_INVALID_ARGUMENT", "wrong column count")
check_error(ntk_forward(net, x[, 1:2]), "columns", "message names the columns")
xn <- x; xn[4, 2] <- NaN
check_error(ntk_forward(net, xn), "NTK_STATUS_NON_FINITE", "NaN input")
xn[4, 2] <- NA
check_error(ntk_forward(net, xn), "NTK_STATUS_NON_FINITE", "NA input")
xn[4, 2] <- -Inf
check_error(ntk_forward(net, xn), "NTK_STATUS_NON_FINITE", "-Inf input")
check_error(ntk_forward(net, matrix(0, 0, 3)), "NTK_STATUS_INVALID_ARGUMENT", "empty input")
check_error(ntk_forward(net, "a"), "numeric matrix", "character input")
check_error(ntk_set_params(net, letters), "numeric vector", "character params")
check_error(ntk_network(c(3, 0, 2)), "NTK_STATUS_INVALID_ARGUMENT", "zero width")
check_error(ntk_network(3), "NTK_STATUS_INVALID_ARGUMENT", "one width")
check_error(ntk_network(numeric(0)), "NTK_STATUS_", "no widths")
check_error(ntk_network(c(3, -2)), "whole number", "negative width")
check_error(ntk_network(c(3, 2.5)), "whole number", "fractional width")
check_error(ntk_network(c(3, NA)), "whole number", "NA width")
check_error(ntk_network(c(2^32 + 1, 2)), "NTK_STATUS_INVALID_ARGUMENT", "width above the maximum")
check_error(ntk_network(c(2^32, 2^32, 2^32)), "NTK_STATUS_ALLOCATION", "parameter count overflow")
check_error(ntk_network(c(2^30, 2^30)), "NTK_STATUS_ALLOCATION", "parameters do not fit in memory")
check_error(ntk_network(c(3, 2), beta = NaN), "NTK_STATUS_NON_FINITE", "NaN beta")
check_error(ntk_network(c(3, 2), beta = Inf), "NTK_STATUS_NON_FINITE", "Inf beta")
check_error(ntk_network(c(3, 2), beta = -1), "NTK_STATUS_INVALID_ARGUMENT", "negative beta")
check_error(ntk_network(c(3, 2), activation = 42L), "NTK_STATUS_INVALID_ARGUMENT", "bad activation code")
check_error(ntk_network(c(3, 2), activation = 10L), "NTK_STATUS_NULL_POINTER", "custom without functions")
check_error(ntk_network(c(3, 2), activation = "nope"), "unknown activation", "unknown activation name")
check_error(ntk_network(c(3, 2), "leaky_relu", activation_param = NaN), "NTK_STATUS_NON_FINITE", "NaN slope")
check_error(ntk_network(c(3, 2), seed = -1), "whole number", "negative seed")
check_error(ntk_set_params(net, theta[-1]), "NTK_STATUS_INVALID_ARGUMENT", "short params")
bad <- theta; bad[17] <- NaN
check_error(ntk_set_params(net, bad), "params[16]", "NaN param named (0-based)")
check(identical(ntk_params(net), theta), "params unchanged after failed set_params")

# --- freed handles, foreign objects ------------------------------------------------------------
h <- ntk_network(c(3, 4, 1))
check(ntk_is_valid(h), "valid before free")
ntk_free(h)
check(!ntk_is_valid(h), "invalid after free")
ntk_free(h)   # idempotent
check_error(ntk_forward(h, x), "freed", "forward after free")
check_error(ntk_params(h), "freed", "params after free")
check_error(ntk_clone(h), "freed", "clone after free")
check_error(ntk_set_params(h, 1:5), "freed", "set_params after free")
check(grepl("freed", paste(capture.output(print(h)), collapse = "")), "print after free")
restored <- unserialize(serialize(net, NULL))   # an external pointer comes back as NULL
check_error(ntk_forward(restored, x), "freed", "restored handle")
check_error(ntk_params(NULL), "expected an ntk_network", "NULL object")
check_error(ntk_params(structure(1, class = "ntk_network")), "expected an ntk_network", "fake object")
check_error(ntk_free(42), "expected an ntk_network", "free of a non-network")

# --- infinite-width kernels -------------------------------------------------------------------------
expect <- function(act, a, s11, s22, s12) {
    if (act == "identity") return(c(s12, 1))
    if (act == "erf") {
        q <- (1 + 2 * s11) * (1 + 2 * s22)
        return(c(2 / pi * asin(2 * s12 / sqrt(q)), 4 / pi / sqrt(q - 4 * s12^2)))
    }
    nrm <- sqrt(s11 * s22)
    th <- acos(min(1, max(-1, if (nrm > 0) s12 / nrm else 0)))
    c((1 - a)^2 / (2 * pi) * nrm * (sin(th) + (pi - th) * cos(th)) + a * s12, (1 - a)^2 * (pi - th) / (2 * pi) + a)
}
limit_ref <- function(act, a, beta, L, x1, x2) {
    n0 <- ncol(x1)
    out <- list(nngp = matrix(0, nrow(x1), nrow(x2)), sigma_dot = matrix(0, nrow(x1), nrow(x2)),
                ntk = matrix(0, nrow(x1), nrow(x2)))
    for (i in seq_len(nrow(x1))) for (j in seq_len(nrow(x2))) {
        s11 <- sum(x1[i, ]^2) / n0 + beta^2; s22 <- sum(x2[j, ]^2) / n0 + beta^2
        s12 <- sum(x1[i, ] * x2[j, ]) / n0 + beta^2
        th <- s12; sd <- 0
        for (l in seq_len(L - 1)) {
            e11 <- expect(act, a, s11, s11, s11)[1]; e22 <- expect(act, a, s22, s22, s22)[1]
            e12 <- expect(act, a, s11, s22, s12)
            s11 <- e11 + beta^2; s22 <- e22 + beta^2; s12 <- e12[1] + beta^2; sd <- e12[2]
            th <- th * sd + s12
        }
        out$nngp[i, j] <- s12; out$sigma_dot[i, j] <- sd; out$ntk[i, j] <- th
    }
    out
}
lx1 <- outer(1:5, 1:3, function(i, j) sin(0.7 * i + 0.3 * j))
lx2 <- outer(1:4, 1:3, function(i, j) cos(0.4 * i - 0.9 * j))
for (cfg in list(list("relu", 0, 0.1, 3), list("leaky_relu", 0.2, 0.3, 4), list("erf", 0, 0.5, 3),
                 list("identity", 0, 0.7, 4))) {
    L <- cfg[[4]]
    n <- ntk_network(c(3, rep(8, L - 1), 1), cfg[[1]], beta = cfg[[3]], activation_param = cfg[[2]])
    k <- ntk_kernel_limit(n, lx1, lx2, kernel = "all")
    r <- limit_ref(cfg[[1]], cfg[[2]], cfg[[3]], L, lx1, lx2)
    check(relerr(k$nngp, r$nngp) < 1e-12 && relerr(k$sigma_dot, r$sigma_dot) < 1e-12 && relerr(k$ntk, r$ntk) < 1e-12,
          paste(cfg[[1]], "limit kernels vs closed form"))
    check(identical(ntk_kernel_limit(n, lx1, lx2), k$ntk), paste(cfg[[1]], "ntk alone"))
    check(identical(ntk_kernel_limit(n, lx1, lx2, kernel = "nngp"), k$nngp), paste(cfg[[1]], "nngp alone"))
}
n <- ntk_network(c(3, 8, 8, 1), "relu", beta = 0.1)
S <- ntk_kernel_limit(n, lx1)
check(identical(S, t(S)) && relerr(S, ntk_kernel_limit(n, lx1, lx1)) < 1e-15, "limit x2 = NULL symmetric")
check_error(ntk_kernel_limit(n, lx1[, 1:2]), "NTK_STATUS_INVALID_ARGUMENT", "limit x1 columns")
check_error(ntk_kernel_limit(n, lx1, lx2[, 1:2]), "x2", "limit x2 columns")
lxn <- lx1; lxn[3, 1] <- NaN
check_error(ntk_kernel_limit(n, lxn), "NTK_STATUS_NON_FINITE", "limit NaN")
check_error(ntk_kernel_limit(n, lx1, kernel = "nope"), "unknown kernel", "limit bad kernel name")
hh2 <- ntk_network(c(3, 4, 1)); ntk_free(hh2)
check_error(ntk_kernel_limit(hh2, lx1), "freed", "limit on a freed network")

# --- empirical kernels and the Jacobian --------------------------------------------------------
fd_jacobian <- function(net, x, h = 1e-5) {
    theta <- ntk_params(net); tmp <- ntk_clone(net)
    J <- matrix(0, nrow(x) * 2, length(theta))
    for (p in seq_along(theta)) {
        t <- theta; t[p] <- t[p] + h; ntk_set_params(tmp, t); fp <- ntk_forward(tmp, x)
        t[p] <- t[p] - 2 * h; ntk_set_params(tmp, t); fm <- ntk_forward(tmp, x)
        J[, p] <- as.vector(t((fp - fm) / (2 * h)))   # row (i-1) n_L + a
    }
    ntk_free(tmp)
    J
}
trace_of <- function(full, k) {
    n1 <- nrow(full) / k; n2 <- ncol(full) / k
    outer(seq_len(n1), seq_len(n2), Vectorize(function(i, j)
        sum(sapply(seq_len(k), function(a) full[(i - 1) * k + a, (j - 1) * k + a])) / k))
}
x1 <- outer(1:4, 1:3, function(i, j) sin(0.3 * i - 0.8 * j))
x2 <- outer(1:3, 1:3, function(i, j) cos(0.5 * i + 0.2 * j))
J1 <- ntk_jacobian(net, x1); J2 <- ntk_jacobian(net, x2)
check(identical(dim(J1), c(8L, 80L)), "Jacobian shape")
check(relerr(J1, fd_jacobian(net, x1)) < 1e-8, "Jacobian vs finite differences")
full <- ntk_kernel_empirical(net, x1, x2, mode = "full")
check(identical(dim(full), c(8L, 6L)), "full kernel shape")
check(relerr(full, J1 %*% t(J2)) < 1e-13, "full kernel vs J1 J2^T")
tr <- ntk_kernel_empirical(net, x1, x2)
check(identical(dim(tr), c(4L, 3L)), "trace kernel shape")
check(relerr(tr, trace_of(J1 %*% t(J2), 2)) < 1e-13, "trace kernel vs trace of J1 J2^T / n_L")
for (m in list("auto", "jacobian", "structured", 2L))
    check(relerr(ntk_kernel_empirical(net, x1, x2, mode = "full", method = m), full) < 1e-13,
          paste("method", m))
S <- ntk_kernel_empirical(net, x1)
check(identical(S, t(S)) && relerr(S, ntk_kernel_empirical(net, x1, x1)) < 1e-14, "x2 = NULL: symmetric")
check(identical(ntk_kernel_empirical(net, t(t(x1)), x2), tr), "re-laid-out copy, same bits")
if (capabilities("profmem")) {
    big <- matrix(rnorm(3000), 1000, 3)
    traced <- capture.output({ tracemem(big); invisible(ntk_kernel_empirical(net, big[1:2, ], big)); invisible(ntk_jacobian(net, big)); untracemem(big) })
    check(!any(grepl("tracemem\\[", traced)), "double matrices not duplicated by kernel/Jacobian")
}
check_error(ntk_kernel_empirical(net, x1[, 1:2]), "NTK_STATUS_INVALID_ARGUMENT", "x1 columns")
check_error(ntk_kernel_empirical(net, x1, x2[, 1:2]), "x2", "x2 columns")
xn <- x1; xn[2, 3] <- NaN
check_error(ntk_kernel_empirical(net, xn), "NTK_STATUS_NON_FINITE", "NaN x1")
check_error(ntk_kernel_empirical(net, x1, xn), "x2", "NaN x2")
check_error(ntk_jacobian(net, xn), "NTK_STATUS_NON_FINITE", "NaN Jacobian input")
check_error(ntk_kernel_empirical(net, x1, mode = "nope"), "unknown kernel mode", "bad mode name")
check_error(ntk_kernel_empirical(net, x1, method = 7L), "NTK_STATUS_INVALID_ARGUMENT", "bad method code")
check_error(ntk_kernel_empirical(net, x1, mode = 5L), "NTK_STATUS_INVALID_ARGUMENT", "bad mode code")
check_error(ntk_kernel_empirical(net, "a"), "numeric matrix", "character input")

# --- kernel flows -------------------------------------------------------------------------------
A <- matrix(c(1, 0.3, -0.2, 0.4, 0.9, 0.1, -0.5, 0.2, 0.8), 3, byrow = TRUE)
K <- A %*% t(A) + 0.1 * diag(3)
Ks <- matrix(c(0.3, -0.1, 0.5, 0.2, 0.4, -0.3), 2, byrow = TRUE)
Y <- matrix(c(0.5, -1, 1, 0.2, -0.3, 0.7), 3, byrow = TRUE)
F0 <- matrix(c(0.1, 0.2, -0.4, 0.3, 0.6, -0.5), 3, byrow = TRUE)
Fs0 <- matrix(c(0.05, -0.1, 0.2, 0.3), 2, byrow = TRUE)
# eigen-free reference: Taylor series of exp(-tK/N) and of its integral
taylor <- function(t) {
    B <- -t * K / 3; term <- diag(3); E <- term; Fi <- t * term
    for (m in 1:80) { term <- term %*% B / m; E <- E + term; Fi <- Fi + t * term / (m + 1) }
    list(E = E, F = Fi)
}
flow_ref <- function(t) {
    s <- taylor(t)
    list(train = Y + s$E %*% (F0 - Y), test = Fs0 - Ks %*% s$F %*% (F0 - Y) / 3)
}
for (m in c("auto", "eigen", "krylov", "ode")) {
    tol <- if (m == "ode") 1e-8 else 1e-11
    fl <- ntk_flow(K, Y, F0, test_kernel = Ks, test_f0 = Fs0, method = m)
    check(ntk_time(fl) == 0 && identical(ntk_outputs(fl), F0) && identical(predict(fl), Fs0), paste(m, "t = 0"))
    ntk_set_time(fl, 0.7)
    r <- flow_ref(0.7)
    check(ntk_time(fl) == 0.7, paste(m, "time"))
    check(relerr(ntk_outputs(fl), r$train) < tol && relerr(predict(fl), r$test) < tol, paste(m, "flow at 0.7 vs Taylor"))
    ntk_step(ntk_step(fl, 0.25), 0.55)
    r <- flow_ref(1.5)
    check(relerr(ntk_outputs(fl), r$train) < tol && relerr(predict(fl), r$test) < tol, paste(m, "after steps vs Taylor"))
    check(abs(ntk_loss(fl) - sum((ntk_outputs(fl) - Y)^2) / 6) < 1e-14, paste(m, "loss"))
    ntk_free(fl)
}
fl <- ntk_flow(K, Y, F0, test_kernel = Ks, test_f0 = Fs0)
ntk_set_time(fl, Inf)
check(relerr(ntk_outputs(fl), Y) < 1e-10, "t = Inf reaches the targets")
check(relerr(predict(fl), Fs0 - Ks %*% solve(K, F0 - Y)) < 1e-10, "t = Inf is kernel regression")
check(grepl("N = 3, k = 2, M = 2", paste(capture.output(print(fl)), collapse = "")), "print flow")
ffull <- ntk_flow(kronecker(K, diag(2)), Y, F0, test_kernel = kronecker(Ks, diag(2)), test_f0 = Fs0)
ntk_set_time(fl, 1.3); ntk_set_time(ffull, 1.3)
check(relerr(ntk_outputs(ffull), ntk_outputs(fl)) < 1e-12 && relerr(predict(ffull), predict(fl)) < 1e-12,
      "full kernel K (x) I vs scalar kernel")
fvec <- ntk_flow(K, Y[, 1], F0[, 1])
ntk_set_time(fvec, 1.3)
check(identical(dim(ntk_outputs(fvec)), c(3L, 1L)) && relerr(ntk_outputs(fvec), ntk_outputs(fl)[, 1, drop = FALSE]) < 1e-13,
      "vector targets = one output")
# cross-entropy vs RK4
Yp <- matrix(c(1, 0, 0, 0.2, 0.5, 0.3, 0, 0, 1), 3, byrow = TRUE)
G0 <- matrix(c(0.3, -0.2, 0.1, -0.5, 0.4, 0, 0.2, 0.2, -0.6), 3, byrow = TRUE)
Gs0 <- matrix(c(0.1, 0, -0.1, 0.3, -0.3, 0.2), 2, byrow = TRUE)
softmax <- function(f) { e <- exp(f - apply(f, 1, max)); e / rowSums(e) }
rhs <- function(f) { d <- softmax(f) - Yp; list(-K %*% d / 3, -Ks %*% d / 3) }
ce <- G0; ces <- Gs0; hh <- 1.5 / 1000
for (s in 1:1000) {
    k1 <- rhs(ce); k2 <- rhs(ce + hh / 2 * k1[[1]]); k3 <- rhs(ce + hh / 2 * k2[[1]]); k4 <- rhs(ce + hh * k3[[1]])
    ce <- ce + hh / 6 * (k1[[1]] + 2 * k2[[1]] + 2 * k3[[1]] + k4[[1]])
    ces <- ces + hh / 6 * (k1[[2]] + 2 * k2[[2]] + 2 * k3[[2]] + k4[[2]])
}
fce <- ntk_flow(K, Yp, G0, test_kernel = Ks, test_f0 = Gs0, cost = "cross_entropy")
ntk_set_time(fce, 1.5)
check(relerr(ntk_outputs(fce), ce) < 1e-8 && relerr(predict(fce), ces) < 1e-8, "cross-entropy flow vs RK4")
check(abs(ntk_loss(fce) + sum(Yp * log(softmax(ce))) / 3) < 1e-8, "cross-entropy loss")
check_error(ntk_set_time(fce, Inf), "NTK_STATUS_INVALID_ARGUMENT", "t = Inf for cross-entropy")
fstiff <- ntk_flow(1e300 * K, Yp, G0, cost = "cross_entropy")
t0 <- proc.time()[["elapsed"]]
check_error(ntk_set_time(fstiff, 3), "NTK_STATUS_NUMERICAL", "hopelessly stiff flow fails fast")
check(proc.time()[["elapsed"]] - t0 < 5 && ntk_time(fstiff) == 0, "stiff failure: fast, flow unchanged")
check_error(ntk_step(fl, -1), "dt", "negative dt")
check_error(ntk_step(fl, NaN), "NTK_STATUS_NON_FINITE", "NaN dt")
check_error(ntk_set_time(fl, -1), "NTK_STATUS_INVALID_ARGUMENT", "negative t")
check(ntk_time(fl) == 1.3, "flow unchanged by failed calls")
Ka <- K; Ka[1, 3] <- Ka[1, 3] + 1e-3
check_error(ntk_flow(Ka, Y, F0), "symmetric", "asymmetric kernel")
Kn <- K; Kn[2, 2] <- NaN
check_error(ntk_flow(Kn, Y, F0), "NTK_STATUS_NON_FINITE", "NaN kernel")
Ki <- K; Ki[1, 2] <- Ki[2, 1] <- 10
check_error(ntk_flow(Ki, Y, F0), "NTK_STATUS_NUMERICAL", "indefinite kernel")
check_error(ntk_flow(K, Y, F0[, 1]), "NTK_STATUS_INVALID_ARGUMENT", "f0 shape")
check_error(ntk_flow(K[1:2, ], Y, F0), "NTK_STATUS_INVALID_ARGUMENT", "kernel rows")
check_error(ntk_flow(K, Y, F0, test_kernel = Ks), "NTK_STATUS_NULL_POINTER", "test_kernel without test_f0")
check_error(ntk_flow(K, Y, F0, cost = "hinge"), "unknown cost", "bad cost name")
check_error(ntk_flow(K, Y, F0, cost = 9L), "NTK_STATUS_INVALID_ARGUMENT", "bad cost code")
check_error(ntk_flow(K, Y, F0, method = 9L), "NTK_STATUS_INVALID_ARGUMENT", "bad method code")
check_error(ntk_flow(K, Y, F0, rtol = NaN), "NTK_STATUS_NON_FINITE", "NaN rtol")
fnt <- ntk_flow(K, Y, F0)
check_error(predict(fnt), "test", "predict without a test kernel")
ntk_free(fnt); ntk_free(fnt)
check(!ntk_is_valid(fnt) && ntk_is_valid(fl), "flow validity")
check_error(ntk_outputs(fnt), "freed", "outputs after free")
check_error(predict(fnt), "freed", "predict after free")
check_error(ntk_step(fnt, 0.1), "freed", "step after free")
check_error(ntk_loss(fnt), "freed", "loss after free")
check_error(ntk_loss(net), "expected an ntk_flow", "network passed as a flow")
check_error(ntk_forward(fl, x), "expected an ntk_network", "flow passed as a network")
check(grepl("freed", paste(capture.output(print(fnt)), collapse = "")), "print freed flow")

# --- training ------------------------------------------------------------------------------------
xt <- outer(1:5, 1:3, function(i, j) sin(0.9 * i + 0.4 * j))
yt <- outer(1:5, 1:2, function(i, j) cos(0.3 * i - 0.5 * j))
tn <- ntk_clone(net)
f0 <- ntk_forward(tn, xt)
hist <- ntk_train(tn, xt, yt, learning_rate = 0.5, steps = 30)
check(length(hist) == 31, "history length")
check(abs(hist[1] - sum((f0 - yt)^2) / 10) < 1e-13 * hist[1], "history[1] = initial loss")
check(all(diff(hist) < 0) && hist[31] < 0.5 * hist[1], "loss decreases")
check(abs(hist[31] - sum((ntk_forward(tn, xt) - yt)^2) / 10) < 1e-13 * hist[1], "history[steps + 1] = final loss")
u <- ntk_clone(net); eta <- 1e-4
J <- ntk_jacobian(u, xt); d <- as.vector(t(ntk_forward(u, xt) - yt))
Th <- ntk_kernel_empirical(u, xt, mode = "full"); fu0 <- ntk_forward(u, xt)
invisible(ntk_train(u, xt, yt, learning_rate = eta, steps = 1))
check(max(abs(ntk_params(u) - (theta - eta / 5 * as.vector(t(J) %*% d)))) < 1e-15, "one step = -(eta/N) J^T d")
df <- as.vector(t(ntk_forward(u, xt) - fu0)); pred <- -eta / 5 * as.vector(Th %*% d)
check(max(abs(df - pred)) < 1e-2 * max(abs(pred)), "output change ~ -(eta/N) Theta d")
a <- ntk_clone(net); b <- ntk_clone(net)
invisible(ntk_train(a, xt, yt, 0.3, 5)); for (s in 1:5) ntk_train(b, xt, yt, 0.3, 1)
check(identical(ntk_params(a), ntk_params(b)), "5 steps = 5 single steps, bitwise")
P <- cbind(c(0.2, 0.35, 0.5, 0.65, 0.8), 1 - c(0.2, 0.35, 0.5, 0.65, 0.8))
check(all(diff(ntk_train(ntk_clone(net), xt, P, 1, 20, cost = "cross_entropy")) < 0), "cross-entropy decreases")
v <- ntk_clone(net)
check_error(ntk_train(v, xt, yt[, 1], 0.1, 2), "NTK_STATUS_INVALID_ARGUMENT", "y shape")
check_error(ntk_train(v, xt, yt, 0, 2), "learning_rate", "zero learning rate")
check_error(ntk_train(v, xt, yt, NaN, 2), "NTK_STATUS_NON_FINITE", "NaN learning rate")
yn <- yt; yn[3, 2] <- NA
check_error(ntk_train(v, xt, yn, 0.1, 2), "NTK_STATUS_NON_FINITE", "NA target")
check_error(ntk_train(v, xt, yt, 0.1, -1), "whole number", "negative steps")
check_error(ntk_train(v, xt, yt, 0.1, 2, cost = "nope"), "unknown cost", "bad cost")
check(identical(ntk_params(v), theta), "parameters unchanged by failed training")
check_error(ntk_train(v, xt, yt, 1e150, 100), "NTK_STATUS_NUMERICAL", "divergence")
check(all(is.finite(ntk_params(v))), "finite parameters after divergence")

# --- spectrum --------------------------------------------------------------------------------------
xs <- outer(1:12, 1:3, function(i, j) sin(0.37 * i * j))
Kx <- ntk_kernel_empirical(net, xs)
ev <- ntk_kernel_spectrum(Kx)
ref <- sort(eigen(Kx, symmetric = TRUE, only.values = TRUE)$values)
check(relerr(ev, ref) < 1e-12 && !is.unsorted(ev), "spectrum vs eigen()")
check(relerr(ntk_kernel_spectrum(Kx, "smallest", 3), ref[1:3]) < 1e-12, "3 smallest")
check(relerr(ntk_kernel_spectrum(Kx, "largest", 2), ref[12:11]) < 1e-12, "2 largest")
cd <- ntk_kernel_condition(Kx)
check(identical(names(cd), c("lambda_min", "lambda_max", "condition")), "condition names")
check(relerr(cd[1:2], ref[c(1, 12)]) < 1e-12 && abs(cd[[3]] / (ref[12] / ref[1]) - 1) < 1e-9, "condition")
check(ntk_kernel_condition(diag(c(1, -1)))[["condition"]] == Inf, "indefinite: Inf")
check_error(ntk_kernel_spectrum(Kx, count = 3), "NTK_STATUS_INVALID_ARGUMENT", "all with count != N")
check_error(ntk_kernel_spectrum(Kx, "smallest", 0), "count", "count 0")
check_error(ntk_kernel_spectrum(Kx, "middle"), "unknown spectrum selection", "bad which")
Ka <- Kx; Ka[1, 2] <- Ka[1, 2] + 1e-3
check_error(ntk_kernel_spectrum(Ka), "symmetric", "asymmetric")
check_error(ntk_kernel_condition(Kx[, 1:5]), "NTK_STATUS_INVALID_ARGUMENT", "not square")

# --- bitwise the numbers of bindings/c/example.c ----------------------------------------------------
# bindings/c/example.c's output, committed next to this file (tests/packaging.rs in the
# repository checks that it is current).
c_example <- function() {
    out <- readLines(file.path(script_dir, "c_example_output.txt"))
    m <- regmatches(out, regexec("(\\w+\\[\\d+,\\d+\\]) = (\\S+)", out))
    m <- m[lengths(m) == 3]
    setNames(as.numeric(sapply(m, `[`, 3)), sapply(m, `[`, 2))
}
nums <- c_example()
check(length(nums) >= 20, "the C example's numbers are read")
{
    ex <- ntk_network(c(2, 256, 256, 1), "relu", beta = 0.1, seed = 2018)
    pts <- cbind(cos(g), sin(g))
    Kemp <- ntk_kernel_empirical(ex, pts)
    check(identical(unname(nums[paste0("K_emp[0,", 0:7, "]")]), Kemp[1, ]), "empirical kernel = C example, bitwise")
    fl <- ntk_flow(Kemp, cos(3 * g), as.vector(ntk_forward(ex, pts)))
    ntk_set_time(fl, 10)
    check(identical(unname(nums[paste0("f_t[", 0:7, ",0]")]), as.vector(ntk_outputs(fl))), "flow = C example, bitwise")
    hist <- ntk_train(ntk_clone(ex), pts, cbind(cos(3 * g)), learning_rate = 1, steps = 20)
    check(identical(unname(nums[paste0("loss[", seq(0, 20, 5), ",0]")]), hist[seq(1, 21, 5)]),
          "training = C example, bitwise")
    check(identical(unname(nums[paste0("Theta_inf[0,", 0:7, "]")]), ntk_kernel_limit(ex, pts)[1, ]),
          "limit kernel = C example, bitwise")
}

# --- Ctrl-C interrupts a long call (SIGINT from a background shell) ----------------------------
if (.Platform$OS.type == "unix" && nzchar(Sys.which("kill")) && nzchar(Sys.which("sleep"))) {
    inet <- ntk_network(c(3, 50, 1), "relu", beta = 0.1)
    ix <- matrix(sin(1:300), 100, 3)
    iy <- matrix(cos(1:100), 100, 1)
    # `a && b` with wait = FALSE: R appends `&`, so the whole list runs in the background
    system(sprintf("sleep 1 && kill -INT %d", Sys.getpid()), wait = FALSE)
    t0 <- Sys.time()
    msg <- tryCatch({ ntk_train(inet, ix, iy, learning_rate = 0.01, steps = 1e7); "finished" },
                    interrupt = function(e) "interrupt outside the call",
                    error = function(e) conditionMessage(e))
    elapsed <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
    cat(sprintf("interrupt after %.2f s: %s\n", elapsed, msg))
    check(grepl("interrupted by the user", msg, fixed = TRUE), "Ctrl-C cancels a long call with an R error")
    check(all(is.finite(ntk_forward(inet, ix))), "the network is usable after the interrupt")
} else {
    cat("note: no kill/sleep: the interrupt check is not run\n")
    check(!identical(Sys.getenv("CI"), "true"), "the interrupt check runs under CI")
}

# --- 1000 create/free cycles through finalizers -----------------------------------------------
make <- function() { n <- ntk_network(c(100, 1000), seed = 1); ntk_forward(n, matrix(1, 1, 100)); NULL }
for (k in 1:50) make()
invisible(gc()); invisible(gc())
before <- rss_mib()
for (k in 1:1000) { make(); if (k %% 100 == 0) invisible(gc()) }
invisible(gc()); invisible(gc())
growth <- rss_mib() - before
cat(sprintf("RSS growth over 1000 create/free cycles: %.1f MiB\n", growth))
check(growth < 100, "no growth over 1000 finalized networks (1000 leaked ones would be 800 MB)")
Bf <- outer(1:200, 1:20, function(i, j) sin(0.1 * i * j))
Kf <- Bf %*% t(Bf) / 20 + diag(200)
makeflow <- function() { f <- ntk_flow(Kf, rep(1, 200), rep(0, 200)); ntk_loss(f); NULL }
for (k in 1:20) makeflow()
invisible(gc()); invisible(gc())
before <- rss_mib()
for (k in 1:1000) { makeflow(); if (k %% 100 == 0) invisible(gc()) }
invisible(gc()); invisible(gc())
growth <- rss_mib() - before
cat(sprintf("RSS growth over 1000 flow create/free cycles: %.1f MiB\n", growth))
check(growth < 100, "no growth over 1000 finalized flows (1000 leaked ones would be 320 MB)")

# --- predictive law (R/predict.R): reference from R's own eigen() (LAPACK) and solve() ---------
g <- 2 * pi * (0:9) / 10
xp <- cbind(cos(g), sin(g))
xtr <- xp[seq(1, 10, 2), , drop = FALSE]
xte <- xp[c(2, 4, 6), , drop = FALSE]
netp <- ntk_network(c(2, 64, 64, 1), "relu", beta = 0.1, seed = 1)
ktr <- ntk_kernel_limit(netp, xtr, kernel = "all")
ktx <- ntk_kernel_limit(netp, xte, x2 = xtr, kernel = "all")
stt <- ntk_kernel_limit(netp, xte, kernel = "nngp")
yp <- cbind(sin(3 * g[seq(1, 10, 2)]))
np <- nrow(xtr)
law_ref <- function(th, thx, s, sx, stt, t) {
    e <- eigen(th, symmetric = TRUE)
    psi <- if (is.infinite(t)) solve(th) else
        e$vectors %*% diag((1 - exp(-e$values * t / np)) / e$values) %*% t(e$vectors)
    a <- thx %*% psi
    cr <- a %*% t(sx)
    list(mean = a %*% yp, cov = stt + a %*% s %*% t(a) - cr - t(cr))
}
pr <- ntk_predictor(ktr$ntk, yp, nngp_train = ktr$nngp)
tsp <- ntk_predictor_test(pr, ktx$ntk, nngp_test_train = ktx$nngp, nngp_test_test = stt)
for (tt in c(0.5, 7, 300, Inf)) {
    gl <- ntk_predictive_law(tsp, tt)
    rf <- law_ref(ktr$ntk, ktx$ntk, ktr$nngp, ktx$nngp, stt, tt)
    check(max(abs(gl$mean - rf$mean)) <= 1e-10 * max(abs(rf$mean)), paste("law mean, t =", tt))
    check(max(abs(gl$cov - rf$cov)) <= 1e-10 * max(abs(stt)), paste("law covariance, t =", tt))
    check(isSymmetric(gl$cov, tol = 0), paste("covariance exactly symmetric, t =", tt))
    gv <- ntk_predictive_law(tsp, tt, cov = "diagonal")
    check(max(abs(gv$cov - diag(gl$cov))) <= 1e-14 * max(stt), paste("variances, t =", tt))
}
g0 <- ntk_predictive_law(tsp, 0)
check(identical(g0$cov, stt) && all(g0$mean == 0), "the prior at t = 0")
pn <- ntk_predictor(ktr$nngp, yp, law = "nngp")
tn <- ntk_predictor_test(pn, ktx$nngp, nngp_test_test = diag(stt))
gn <- ntk_predictive_law(tn, Inf)
check(max(abs(gn$mean - ktx$nngp %*% solve(ktr$nngp, yp))) <= 1e-10 * max(abs(gn$mean)), "NNGP posterior mean")
check(max(abs(gn$cov - diag(stt - ktx$nngp %*% solve(ktr$nngp, t(ktx$nngp))))) <= 1e-10 * max(stt),
      "NNGP posterior variances")
gpts <- ntk_ensemble_law(netp, xtr, yp, xte, 7)
ghd <- ntk_predictive_law(tsp, 7)
check(max(abs(gpts$mean - ghd$mean)) <= 1e-13 * max(abs(ghd$mean)) &&
      max(abs(gpts$cov - ghd$cov)) <= 1e-13 * max(abs(ghd$cov)), "ntk_ensemble_law from points = handles")
check_error(ntk_predictive_law(tsp, -1), "NTK_STATUS_INVALID_ARGUMENT", "t < 0")
check_error(ntk_predictive_law(tsp, NaN), "NTK_STATUS_NON_FINITE", "t = NaN")
check_error(ntk_predictor(ktr$ntk, yp, ridge = -1), "ridge", "ridge < 0")
badk <- ktr$ntk; badk[1, 2] <- badk[2, 1] <- 10
check_error(ntk_predictor(badk, yp), "NTK_STATUS_NUMERICAL", "indefinite train kernel")
check_error(ntk_predictor_test(pr, ktx$ntk[, -1]), "kernel_test_train", "test kernel shape")
check_error(ntk_predictive_law(tn, 1, cov = "full"), "nngp_test_test", "full covariance from variances")
check_error(ntk_ensemble_law(netp, xtr, yp, xte[, 1, drop = FALSE], 1), "x_test", "x_test columns")
ntk_predictor_free(tsp)
check_error(ntk_predictive_law(tsp, 1), "freed", "use after free")

source(file.path(script_dir, "sourced", "solve-checks.R"))  # the kernel-regression solver (a subdirectory: R CMD check runs only tests/*.R, and this file needs the helpers above)
source(file.path(script_dir, "sourced", "interrupt-checks.R"))  # Ctrl-C in the predictive law and the solver

# Per-layer architectures (issue #13).
source(file.path(script_dir, "sourced", "arch-checks.R"), local = TRUE)

if (failures > 0L) {
    cat(sprintf("test-ntk.R: %d of %d checks FAILED\n", failures, checks))
    quit(status = 1)
}
cat(sprintf("test-ntk.R: all %d checks passed\n", checks))
