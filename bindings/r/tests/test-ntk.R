# Tests of the R binding. Run (after `cargo build --release`) from the repository root:
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

script_dir <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])))
repo <- normalizePath(file.path(script_dir, "..", "..", ".."))

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
cargo <- readLines(file.path(repo, "Cargo.toml"))
version <- sub('^version = "(.*)"$', "\\1", grep('^version = "', cargo, value = TRUE)[1])
check(identical(ntk_version(), version), "version matches Cargo.toml")
ntk_set_num_threads(2)
check(ntk_num_threads() == 2, "set/get threads")
ntk_set_num_threads(0)
check(ntk_num_threads() >= 1, "threads = 0 means one per core")
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

if (failures > 0L) {
    cat(sprintf("test-ntk.R: %d of %d checks FAILED\n", failures, checks))
    quit(status = 1)
}
cat(sprintf("test-ntk.R: all %d checks passed\n", checks))
