//! C entry points of the large-N kernel-regression solver (src/solve): a handle holding the
//! training points' per-point data, an optional row cache and the preconditioner; solves of
//! (K + lambda I) alpha = Y by preconditioned CG and streamed predictions K(X*, X) alpha.

use super::handle::{box_into, free_box, handle_ref, opaque_handle};
use super::network::{network_ref, ntk_network};
use super::view::check_disjoint;
use super::{
    c_enum, ffi_fn, non_null, ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status, options_ref,
    with_progress,
};
use crate::solve::{KernelSolver, KernelSource, SolverConfig, SolverKernel};
use crate::{Error, Result};
use std::ffi::c_int;

/// Which kernel a solver regresses with (values of `ntk_solver_config.kernel`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_solver_kernel {
    /// Limit NTK Theta_inf of the network's architecture (depth, activation, beta): the
    /// t = infinity mean of gradient-flow training.
    LimitNtk = 0,
    /// Limit NNGP Sigma^(L) (Gaussian-process posterior mean).
    LimitNngp = 1,
    /// Empirical NTK in TRACE mode of the network at its current parameters (copied).
    EmpiricalTrace = 2,
}
c_enum!(ntk_solver_kernel {
    LimitNtk,
    LimitNngp,
    EmpiricalTrace
});

/// Construction parameters of a solver.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ntk_solver_config {
    /// An ntk_solver_kernel value.
    pub kernel: c_int,
    /// Bytes for caching rows of K (0 = matrix-free: every iteration recomputes the kernel
    /// from tiles). floor(cache_bytes / (8 N)) rows, rounded down to a multiple of 256 (or all
    /// N), are computed once at creation; the remaining rows are recomputed per iteration.
    pub cache_bytes: usize,
    /// Rank r of the pivoted-Cholesky preconditioner (0 = plain CG). Clamped to N; fewer columns
    /// are kept when K is numerically of lower rank. Memory 8 N r bytes, cost r kernel rows.
    pub precond_rank: usize,
}

/// What a solve did.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ntk_solve_info {
    /// CG iterations (one kernel pass each).
    pub iterations: usize,
    /// Kernel passes in all (iterations plus the true-residual checks).
    pub kernel_passes: usize,
    /// max_j ||y_j - (K + lambda I) alpha_j|| / ||y_j||, the true relative residual at the end.
    pub residual: f64,
}

/// Opaque handle: N training points prepared for one kernel, the row cache and the
/// preconditioner factor. Read-only after creation: solves and predictions may run concurrently
/// on one handle (ntk_solver_progress then reports whichever wrote last).
pub struct ntk_solver {
    pub(crate) inner: KernelSolver,
}
opaque_handle!(ntk_solver {
    inner: KernelSolver
});

fn kernel_from_c(k: c_int) -> Result<SolverKernel> {
    Ok(match ntk_solver_kernel::from_c(k, "config.kernel")? {
        ntk_solver_kernel::LimitNtk => SolverKernel::LimitNtk,
        ntk_solver_kernel::LimitNngp => SolverKernel::LimitNngp,
        ntk_solver_kernel::EmpiricalTrace => SolverKernel::EmpiricalTrace,
    })
}

/// Prepares a kernel-regression solver for the N training points `x` (N x n_0, finite):
///
/// 1. the per-point data of the kernel `config->kernel` (limit: the variance chains, O(N L);
///    empirical: the features of the network at its current parameters, which are copied with
///    the network, so the network may change or be freed afterwards);
/// 2. the diagonal of K (N/256 diagonal tiles);
/// 3. the row cache, if `config->cache_bytes` allows (its rows' kernel entries);
/// 4. the rank-r pivoted partial Cholesky factor L (K ~ L L^T; greedy pivot on the largest
///    remaining diagonal; r kernel rows and ~N r^2 flops; 8 N r bytes).
///
/// Memory: the cache, 8 N r bytes, one 256-row tile and O(N n_0) per-point data.
/// Errors: NULL_POINTER (network, config, out), INVALID_ARGUMENT (x's columns != n_0, N = 0,
/// unknown kernel), NON_FINITE (x), ALLOCATION (cache, factor: allocated before any kernel
/// work), NUMERICAL (a non-finite kernel entry, a kernel of zero trace), CANCELLED.
/// `options`: progress (done, total) over the units of steps 1-4, at least every ~0.1 s.
/// On success `*out` owns a new handle (ntk_solver_free); otherwise `*out` is untouched.
#[no_mangle]
pub unsafe extern "C" fn ntk_solver_create(
    network: *const ntk_network,
    x: ntk_matrix,
    config: *const ntk_solver_config,
    options: *const ntk_options,
    out: *mut *mut ntk_solver,
) -> ntk_status {
    ffi_fn!("ntk_solver_create", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        non_null(config, "config")?;
        non_null(out, "out")?;
        // SAFETY: `config` is non-NULL (checked) and readable (C contract); a Copy struct of
        // plain integers.
        let cfg = unsafe { *config };
        let kernel = kernel_from_c(cfg.kernel)?;
        // SAFETY: the memory that `x` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let xv = unsafe { x.to_ref("x") }?;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        let inner = with_progress(
            unsafe { options_ref(options) },
            |progress| -> Result<KernelSolver> {
                let src = KernelSource::new(net, xv, kernel, progress)?;
                KernelSolver::new(
                    src,
                    SolverConfig {
                        cache_bytes: cfg.cache_bytes,
                        precond_rank: cfg.precond_rank,
                    },
                    progress,
                )
            },
        )?;
        // SAFETY: `out` was checked non-NULL above and is writable (C contract).
        unsafe { box_into(out, inner) };
        Ok(())
    })
}

/// Frees a solver. NULL is accepted and ignored; the handle must not be used afterwards.
/// Errors: none (returns nothing); a panic in a destructor is caught and the handle leaked.
#[no_mangle]
pub unsafe extern "C" fn ntk_solver_free(solver: *mut ntk_solver) {
    // SAFETY: the C contract: NULL or a handle of ours, not used again.
    unsafe { free_box(solver) }
}

/// Describes a solver: each output may be NULL. `num_points` = N, `rank` = the rank of the
/// preconditioner actually built, `cached_rows` = rows of K in the cache, `trace` = tr(K),
/// `trace_residual` = tr(K - L L^T) (what the preconditioner's factor leaves out).
/// Errors: NULL `solver` (NTK_STATUS_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn ntk_solver_describe(
    solver: *const ntk_solver,
    num_points: *mut usize,
    rank: *mut usize,
    cached_rows: *mut usize,
    trace: *mut f64,
    trace_residual: *mut f64,
) -> ntk_status {
    ffi_fn!("ntk_solver_describe", {
        // SAFETY: `solver` is NULL (an error) or a live handle of its type, only read during the
        // call (C contract).
        let s = unsafe { handle_ref(solver, "solver") }?;
        // SAFETY: each output is written only when non-NULL; writable by the C contract.
        unsafe {
            if !num_points.is_null() {
                *num_points = s.len();
            }
            if !rank.is_null() {
                *rank = s.rank();
            }
            if !cached_rows.is_null() {
                *cached_rows = s.cached_rows();
            }
            if !trace.is_null() {
                *trace = s.trace();
            }
            if !trace_residual.is_null() {
                *trace_residual = s.trace_residual();
            }
        }
        Ok(())
    })
}

/// Solves (K + lambda I) alpha = Y for the k columns of `y` (N x k, finite) into `alpha`
/// (N x k) by preconditioned conjugate gradients, never forming K:
///
/// - each iteration is one kernel pass K P shared by k independent CG recurrences (one per
///   column; a converged column is frozen). K is symmetric, so a pass computes only the tiles
///   of the upper block triangle (256-row blocks against the columns from the block's first
///   row on, ~N^2/2 entries), each used for its rows and, transposed, for its columns;
/// - preconditioner P = L L^T + s I with s = lambda + tr(K - L L^T)/N, applied by Woodbury:
///   P^-1 v = (v - L (s I + L^T L)^-1 L^T v) / s (none when the rank is 0);
/// - stops when every column's true relative residual ||y_j - (K + lambda I) alpha_j|| /
///   ||y_j|| <= rtol (checked with one extra kernel pass when the recursive residuals get
///   there; columns above rtol restart from their alpha). Zero columns give alpha_j = 0.
///
/// Cost per iteration: ~N^2/2 kernel entries (only the uncached rows are recomputed) plus
/// 2 N^2 k + 4 N r k flops; memory 6 N k doubles plus one tile. Bit-identical at any thread
/// count and with or without the cache.
/// Errors: NULL_POINTER (solver), INVALID_ARGUMENT (shapes, lambda < 0, rtol not in (0, 1),
/// alpha overlapping y), NON_FINITE (lambda, y, naming the element), ALLOCATION, CANCELLED,
/// NUMERICAL (K + lambda I not positive definite along a search direction, e.g. lambda = 0 with
/// a singular kernel; or rtol not reached in max_iterations: the message gives the residual).
/// `alpha` and `*info` (NULL allowed) are written only on success.
/// `options`: progress (done, total) = (iteration, max_iterations) after every tile (at least
/// every ~0.1 s) and after each iteration; ntk_solver_progress, called from the callback, gives
/// the iteration and the relative residual. Non-zero from the callback cancels.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ntk_solver_solve(
    solver: *const ntk_solver,
    lambda: f64,
    y: ntk_matrix,
    rtol: f64,
    max_iterations: usize,
    alpha: ntk_matrix_mut,
    info: *mut ntk_solve_info,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_solver_solve", {
        // SAFETY: `solver` is NULL (an error) or a live handle of its type, only read during the
        // call (C contract).
        let s = unsafe { handle_ref(solver, "solver") }?;
        if !lambda.is_finite() {
            return Err(Error::NonFinite(format!("lambda = {lambda}")));
        }
        // SAFETY: the memory that `y` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let yv = unsafe { y.to_ref("y") }?;
        alpha.expect_shape(yv.rows(), yv.cols(), "alpha")?;
        // SAFETY: the memory that `alpha` describes is writable for the whole call and not accessed
        // by the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing, and
        // overlaps with the other arguments are rejected before anything is written.
        let av = unsafe { alpha.to_mut("alpha") }?;
        check_disjoint(&alpha, "alpha", &[(&y, "y")])?;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        let r = with_progress(unsafe { options_ref(options) }, |progress| {
            s.solve(lambda, yv, rtol, max_iterations, av, progress)
        })?;
        if !info.is_null() {
            // SAFETY: `info` is non-NULL and writable (C contract).
            unsafe {
                *info = ntk_solve_info {
                    iterations: r.iterations,
                    kernel_passes: r.kernel_passes,
                    residual: r.residual,
                }
            };
        }
        Ok(())
    })
}

/// The latest (iteration, max over unconverged columns of the recursive relative residual) of
/// a solve on this handle; meant for the progress callback of ntk_solver_solve (0 and NaN before
/// the first iteration). Either output may be NULL.
/// Errors: NULL `solver` (NTK_STATUS_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn ntk_solver_progress(
    solver: *const ntk_solver,
    iteration: *mut usize,
    residual: *mut f64,
) -> ntk_status {
    ffi_fn!("ntk_solver_progress", {
        // SAFETY: `solver` is NULL (an error) or a live handle of its type, only read during the
        // call (C contract).
        let s = unsafe { handle_ref(solver, "solver") }?;
        let (it, res) = s.progress_state();
        // SAFETY: each output is written only when non-NULL; writable by the C contract.
        unsafe {
            if !iteration.is_null() {
                *iteration = it as usize;
            }
            if !residual.is_null() {
                *residual = res;
            }
        }
        Ok(())
    })
}

/// Predictions out = K(X*, X) alpha for M test points `x_test` (M x n_0, finite) and
/// coefficients `alpha` (N x k, finite; e.g. from ntk_solver_solve), `out` M x k. Streamed: the
/// test points are prepared 256 at a time and each chunk meets the training points in column
/// blocks, so memory is one tile for any M. Cost: M N kernel entries + 2 M N k flops.
/// Errors: NULL_POINTER, INVALID_ARGUMENT (shapes, `out` overlapping an input), NON_FINITE,
/// ALLOCATION, NUMERICAL (a non-finite prediction), CANCELLED. `out` is written only on success.
/// `options`: progress (chunks done, chunks) after every tile.
#[no_mangle]
pub unsafe extern "C" fn ntk_solver_predict(
    solver: *const ntk_solver,
    x_test: ntk_matrix,
    alpha: ntk_matrix,
    out: ntk_matrix_mut,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_solver_predict", {
        // SAFETY: `solver` is NULL (an error) or a live handle of its type, only read during the
        // call (C contract).
        let s = unsafe { handle_ref(solver, "solver") }?;
        // SAFETY: the memory that `x_test` describes is readable for the whole call (C contract);
        // to_ref checks its shape and span.
        let xv = unsafe { x_test.to_ref("x_test") }?;
        // SAFETY: the memory that `alpha` describes is readable for the whole call (C contract);
        // to_ref checks its shape and span.
        let av = unsafe { alpha.to_ref("alpha") }?;
        out.expect_shape(xv.rows(), av.cols(), "out")?;
        // SAFETY: the memory that `out` describes is writable for the whole call and not accessed
        // by the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing, and
        // overlaps with the other arguments are rejected before anything is written.
        let ov = unsafe { out.to_mut("out") }?;
        check_disjoint(&out, "out", &[(&x_test, "x_test"), (&alpha, "alpha")])?;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        with_progress(unsafe { options_ref(options) }, |progress| {
            s.predict(xv, av, ov, progress)
        })
    })
}
