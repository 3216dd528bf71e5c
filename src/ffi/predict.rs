//! The trained ensemble's predictive law through the C ABI (see [`crate::predict`]).

use super::handle::{box_into, free_box, handle_ref, opaque_handle};
use super::network::{network_ref, ntk_network};
use super::view::{check_finite_result, check_outputs, optional_out};
use super::{
    c_enum, ffi_fn, non_null, ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status, options_ref,
    with_progress,
};
use crate::linalg::MatRef;
use crate::predict::{CovKind, Law, Predictor, Ridge, TestSet};
use crate::{Error, Result};
use std::ffi::c_int;

/// Which Gaussian process a predictor describes (ntk_predict_config.law).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_law {
    /// The NTK-GP law: networks trained by gradient flow with Theta_inf from the NNGP prior
    /// Sigma (Jacot et al. 2018, Theorem 5.2). Needs Theta and, for covariances, Sigma.
    Ntk = 0,
    /// The NNGP law: Sigma is both the training kernel and the prior; at t = INFINITY the
    /// Bayesian GP posterior.
    Nngp = 1,
}
c_enum!(ntk_law { Ntk, Nngp });

/// Settings of a predictor. Pass NULL for the defaults (NTK law, no ridge).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ntk_predict_config {
    /// One of ntk_law (default NTK_LAW_NTK = 0).
    pub law: c_int,
    /// Ridge lambda >= 0 added to the training kernel's diagonal (neural-tangents' diag_reg).
    pub ridge: f64,
    /// 0: lambda is absolute (K + lambda I); 1: relative to the mean diagonal,
    /// K + lambda tr(K)/N I (neural-tangents' default, diag_reg_absolute_scale = False).
    pub ridge_relative: c_int,
}

/// Opaque train side of a predictive law (the eigendecomposition of the training kernel).
pub struct ntk_predictor {
    pub(crate) pred: Predictor,
}
opaque_handle!(ntk_predictor { pred: Predictor });

/// Opaque test side of a predictive law (test kernels projected on the predictor's eigenbasis).
pub struct ntk_predictor_test {
    pub(crate) test: TestSet,
}
opaque_handle!(ntk_predictor_test { test: TestSet });

/// Law and ridge of a `config` argument (the defaults for NULL), checked.
///
/// # Safety
/// `config` is NULL or points to a readable `ntk_predict_config`.
unsafe fn config_from_c(config: *const ntk_predict_config) -> Result<(Law, Ridge)> {
    if config.is_null() {
        return Ok((Law::Ntk, Ridge::Absolute(0.0)));
    }
    // SAFETY: non-NULL (checked above) and readable by the caller's contract; the struct is
    // Copy and every bit pattern of its fields is a valid value.
    let c = unsafe { *config };
    let law = match ntk_law::from_c(c.law, "config.law")? {
        ntk_law::Ntk => Law::Ntk,
        ntk_law::Nngp => Law::Nngp,
    };
    if !c.ridge.is_finite() {
        return Err(Error::NonFinite(format!("config.ridge = {}", c.ridge)));
    }
    if c.ridge < 0.0 {
        return Err(Error::InvalidArgument(format!(
            "config.ridge = {}: must be >= 0",
            c.ridge
        )));
    }
    let ridge = match c.ridge_relative {
        0 => Ridge::Absolute(c.ridge),
        1 => Ridge::Relative(c.ridge),
        other => {
            return Err(Error::InvalidArgument(format!(
                "config.ridge_relative = {other}: must be 0 or 1"
            )))
        }
    };
    Ok((law, ridge))
}

/// The view behind an optional input argument (None for NULL), checked as by `to_ref`.
///
/// # Safety
/// `m` is NULL or points to a readable `ntk_matrix` whose memory is readable for `'a`.
unsafe fn opt_ref<'a>(m: *const ntk_matrix, name: &str) -> Result<Option<MatRef<'a>>> {
    if m.is_null() {
        Ok(None)
    } else {
        // SAFETY: `m` is non-NULL here and points to a readable ntk_matrix whose memory is readable
        // for the whole call (C contract); to_ref checks its shape and span.
        Ok(Some(unsafe { (*m).to_ref(name) }?))
    }
}

/// Creates the train side of the predictive law of the infinitely wide network trained by
/// gradient flow on the square loss (1/2N) sum_i |f(x_i) - y_i|^2 for time t (t = s eta after s
/// steps of learning rate eta, as ntk_network_train and ntk_flow). With K = K_xx + lambda I =
/// U diag(l) U^T and Psi_t = U diag((1 - e^{-l t/N})/l) U^T, the outputs at test points are
/// Gaussian, the same law for each of the k outputs:
///   NTK law:  mean = Theta_*x Psi_t y,
///             cov  = Sigma_** + Theta_*x Psi_t Sigma_xx Psi_t Theta_x*
///                    - (Theta_*x Psi_t Sigma_x* + Sigma_*x Psi_t Theta_x*),
///   NNGP law: mean = Sigma_*x Psi_t y, cov = Sigma_** - Sigma_*x U diag((1 - e^{-2 l t/N})/l)
///             U^T Sigma_x* (K from Sigma; t = INFINITY: the GP posterior).
/// At t = 0 the law is the prior N(0, Sigma_**); at t = INFINITY with lambda = 0 eigenvalues
/// l <= N eps l_max count as 0 (pseudo-inverse). neural-tangents' gradient_descent_mse_ensemble
/// at time t*k gives the same law (it normalizes time by N k).
///
/// - `config`: NULL (NTK law, no ridge) or law and ridge.
/// - `kernel_train`: N x N; Theta_xx (NTK law) or Sigma_xx (NNGP law). Finite, symmetric
///   (relative 1e-10), positive semi-definite: lambda_min >= -1e-9 max_i K_ii (else
///   NTK_STATUS_NUMERICAL).
/// - `nngp_train`: NTK law: NULL (means only) or Sigma_xx (N x N, same checks), needed for
///   covariances. NNGP law: must be NULL.
/// - `y`: N x k targets. `options`: NULL or progress/cancel, reported (done, 4) between phases
///   (the eigendecomposition itself is one uninterruptible unit).
///
/// Cost: one symmetric eigendecomposition (about 9 N^3 flops; its smallest eigenvalue is the
/// PSD check of kernel_train) and one Cholesky of nngp_train (N^3/3, its PSD check). All inputs
/// are copied; `*out` receives the handle (free with ntk_predictor_free), unchanged on failure.
/// The handle is read-only afterwards: calls on it may run concurrently.
///
/// Errors (`*out` unchanged): NULL `out`, `kernel_train.data`, `nngp_train->data` or `y.data`
/// (NTK_STATUS_NULL_POINTER); an unknown config.law, config.ridge < 0, config.ridge_relative
/// not 0 or 1, an empty view, a kernel not N x N for the N rows of y, nngp_train given for the
/// NNGP law, a kernel not symmetric to relative 1e-10 (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf
/// in an input or in config.ridge (NTK_STATUS_NON_FINITE); a kernel that is not positive
/// semi-definite, an eigendecomposition that does not converge, or a relative ridge that
/// overflows (NTK_STATUS_NUMERICAL); a size that overflows or cannot be allocated
/// (NTK_STATUS_ALLOCATION); a cancel (NTK_STATUS_CANCELLED).
#[no_mangle]
pub unsafe extern "C" fn ntk_predictor_create(
    config: *const ntk_predict_config,
    kernel_train: ntk_matrix,
    nngp_train: *const ntk_matrix,
    y: ntk_matrix,
    options: *const ntk_options,
    out: *mut *mut ntk_predictor,
) -> ntk_status {
    ffi_fn!("ntk_predictor_create", {
        non_null(out, "out")?;
        // SAFETY: `config` is NULL or a readable ntk_predict_config (C contract).
        let (law, ridge) = unsafe { config_from_c(config) }?;
        // SAFETY: the memory that `kernel_train` describes is readable for the whole call (C
        // contract); to_ref checks its shape and span.
        let kv = unsafe { kernel_train.to_ref("kernel_train") }?;
        // SAFETY: NULL or a readable ntk_matrix over readable memory (C contract).
        let sv = unsafe { opt_ref(nngp_train, "nngp_train") }?;
        // SAFETY: the memory that `y` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let yv = unsafe { y.to_ref("y") }?;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        let pred = with_progress(unsafe { options_ref(options) }, |progress| {
            Predictor::new(law, kv, sv, yv, ridge, progress)
        })?;
        // SAFETY: `out` was checked non-NULL above and is writable (C contract).
        unsafe { box_into(out, pred) };
        Ok(())
    })
}

/// Frees a predictor. NULL is accepted. Test sets created from it stay valid (they share its
/// data). The handle must not be used afterwards.
/// Errors: none (returns nothing); a panic in a destructor is caught and the handle leaked.
#[no_mangle]
pub unsafe extern "C" fn ntk_predictor_free(predictor: *mut ntk_predictor) {
    // SAFETY: the C contract: NULL or a handle of ours, not used again.
    unsafe { free_box(predictor) }
}

/// Creates the test side of a predictive law for M test points.
///
/// - `kernel_test_train`: M x N; Theta_*x (NTK law) or Sigma_*x (NNGP law).
/// - `nngp_test_train`: NTK law with covariances: Sigma_*x (M x N); otherwise NULL. Given
///   exactly when `nngp_test_test` is (NTK law).
/// - `nngp_test_test`: NULL (means only), Sigma_** as M x M (symmetric: full covariances) or its
///   diagonal as M x 1 (marginal variances: only variances can be asked for).
///
/// Cost: 2 M N^2 flops per test-train kernel (projection on the eigenbasis). Inputs are
/// copied; `*out` receives the handle (free with ntk_predictor_test_free), unchanged on failure.
/// Errors (`*out` unchanged): NULL `predictor`, `out` or a view's data
/// (NTK_STATUS_NULL_POINTER); an empty view, shapes that disagree with the predictor, nngp
/// kernels given or missing against its law, an M x M nngp_test_test that is not symmetric
/// (NTK_STATUS_INVALID_ARGUMENT, naming the argument); NaN/+-Inf entries
/// (NTK_STATUS_NON_FINITE); a size that overflows or cannot be allocated
/// (NTK_STATUS_ALLOCATION); a cancel (NTK_STATUS_CANCELLED).
#[no_mangle]
pub unsafe extern "C" fn ntk_predictor_test_create(
    predictor: *const ntk_predictor,
    kernel_test_train: ntk_matrix,
    nngp_test_train: *const ntk_matrix,
    nngp_test_test: *const ntk_matrix,
    options: *const ntk_options,
    out: *mut *mut ntk_predictor_test,
) -> ntk_status {
    ffi_fn!("ntk_predictor_test_create", {
        // SAFETY: `predictor` is NULL (an error) or a live handle of its type, only read during the
        // call (C contract).
        let pred = unsafe { handle_ref(predictor, "predictor") }?;
        non_null(out, "out")?;
        // SAFETY: the memory that `kernel_test_train` describes is readable for the whole call (C
        // contract); to_ref checks its shape and span.
        let kv = unsafe { kernel_test_train.to_ref("kernel_test_train") }?;
        // SAFETY: NULL or a readable ntk_matrix over readable memory (C contract).
        let sv = unsafe { opt_ref(nngp_test_train, "nngp_test_train") }?;
        // SAFETY: NULL or a readable ntk_matrix over readable memory (C contract).
        let pv = unsafe { opt_ref(nngp_test_test, "nngp_test_test") }?;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        let test = with_progress(unsafe { options_ref(options) }, |progress| {
            TestSet::new(pred, kv, sv, pv, progress)
        })?;
        // SAFETY: `out` was checked non-NULL above and is writable (C contract).
        unsafe { box_into(out, test) };
        Ok(())
    })
}

/// Frees a test set. NULL is accepted; the handle must not be used afterwards.
/// Errors: none (returns nothing); a panic in a destructor is caught and the handle leaked.
#[no_mangle]
pub unsafe extern "C" fn ntk_predictor_test_free(test: *mut ntk_predictor_test) {
    // SAFETY: the C contract: NULL or a handle of ours, not used again.
    unsafe { free_box(test) }
}

/// Which covariance an output view asks for: M x M full, M x 1 variances.
fn cov_kind(cov: &ntk_matrix_mut, m: usize) -> Result<CovKind> {
    if cov.rows == m && cov.cols == m {
        Ok(CovKind::Full)
    } else if cov.rows == m && cov.cols == 1 {
        Ok(CovKind::Diagonal)
    } else {
        Err(Error::InvalidArgument(format!(
            "cov is {}x{}, expected {m}x{m} (full covariance) or {m}x1 (variances)",
            cov.rows, cov.cols
        )))
    }
}

/// Checks the outputs of a law (shapes, strides, no overlap), returns the covariance kind.
///
/// # Safety
/// `mean` and `cov` are each NULL or point to a readable `ntk_matrix_mut` whose memory is
/// writable for the call.
unsafe fn check_law_outputs(
    mean: *mut ntk_matrix_mut,
    cov: *mut ntk_matrix_mut,
    m: usize,
    k: usize,
    inputs: &[(&ntk_matrix, &str)],
) -> Result<CovKind> {
    if mean.is_null() && cov.is_null() {
        return Err(Error::NullPointer(
            "mean and cov (at least one output is required)".into(),
        ));
    }
    let mut kind = CovKind::None;
    let mut given = Vec::new();
    // SAFETY: `mean` is NULL or points to a readable ntk_matrix_mut (C contract of an optional
    // output).
    if let Some(mv) = unsafe { optional_out(mean) } {
        mv.expect_shape(m, k, "mean")?;
        // SAFETY: the memory that `mv` describes is writable for the whole call and not accessed by
        // the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing, and
        // overlaps with the other arguments are rejected before anything is written.
        unsafe { mv.to_mut("mean") }?;
        given.push((mv, "mean"));
    }
    // SAFETY: `cov` is NULL or points to a readable ntk_matrix_mut (C contract of an optional
    // output).
    if let Some(cv) = unsafe { optional_out(cov) } {
        kind = cov_kind(&cv, m)?;
        // SAFETY: the memory that `cv` describes is writable for the whole call and not accessed by
        // the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing, and
        // overlaps with the other arguments are rejected before anything is written.
        unsafe { cv.to_mut("cov") }?;
        given.push((cv, "cov"));
    }
    check_outputs(&given, inputs)?;
    Ok(kind)
}

/// Writes a computed law into the (checked) outputs, after checking it is finite.
///
/// # Safety
/// As [`check_law_outputs`], which must have accepted `mean` and `cov` first.
unsafe fn write_law(
    g: &crate::predict::Gaussian,
    mean: *mut ntk_matrix_mut,
    cov: *mut ntk_matrix_mut,
    m: usize,
    k: usize,
    kind: CovKind,
) -> Result<()> {
    let cshape = match kind {
        CovKind::Full => (m, m),
        _ => (m, 1),
    };
    if !mean.is_null() {
        check_finite_result(MatRef::from_row_major(&g.mean, m, k), "mean")?;
    }
    if !cov.is_null() {
        check_finite_result(MatRef::from_row_major(&g.cov, cshape.0, cshape.1), "cov")?;
    }
    if !mean.is_null() {
        // SAFETY: `mean` is non-NULL here and points to a readable ntk_matrix_mut whose memory is
        // writable for the whole call and not accessed by the caller meanwhile (C contract); to_mut
        // checks shape, span and self-aliasing, and the overlap checks ran before this write.
        let mut o = unsafe { (*mean).to_mut("mean") }?;
        o.copy_from(MatRef::from_row_major(&g.mean, m, k));
    }
    if !cov.is_null() {
        // SAFETY: `cov` is non-NULL here and points to a readable ntk_matrix_mut whose memory is
        // writable for the whole call and not accessed by the caller meanwhile (C contract); to_mut
        // checks shape, span and self-aliasing, and the overlap checks ran before this write.
        let mut o = unsafe { (*cov).to_mut("cov") }?;
        o.copy_from(MatRef::from_row_major(&g.cov, cshape.0, cshape.1));
    }
    Ok(())
}

/// The law at time `t` (>= 0, INFINITY allowed; NaN is NTK_STATUS_NON_FINITE, t < 0
/// INVALID_ARGUMENT) on the test set: `mean` (NULL or M x k) and `cov` (NULL, M x M for the
/// full covariance over the test points, or M x 1 for the variances; shared by the k outputs).
/// At least one output. A full covariance needs the test set's nngp_test_test as M x M.
/// The covariance is exactly symmetric, and positive semi-definite to rounding when the kernels
/// are jointly PSD.
///
/// Cost per call: mean 2 M N k flops; NNGP covariance M^2 N (variances: M N); NTK covariance
/// 4 M N^2 + 3 M^2 N (variances: 4 M N^2). `options`: progress (done, 3) between products.
/// Outputs are written only on success. Read-only on the handle (concurrent calls are safe).
///
/// Errors (outputs untouched): NULL `test`, both outputs NULL, or an output's data NULL
/// (NTK_STATUS_NULL_POINTER); t < 0, `mean` not M x k, `cov` neither M x M nor M x 1, a
/// covariance the test set cannot give (none without nngp_test_test, M x M when it was given as
/// variances), aliasing strides, `mean` and `cov` overlapping (NTK_STATUS_INVALID_ARGUMENT);
/// t = NaN (NTK_STATUS_NON_FINITE); a view spanning more than the address space or an
/// unallocatable temporary (NTK_STATUS_ALLOCATION); a cancel (NTK_STATUS_CANCELLED); a
/// non-finite mean or covariance (NTK_STATUS_NUMERICAL).
#[no_mangle]
pub unsafe extern "C" fn ntk_predictor_law(
    test: *const ntk_predictor_test,
    t: f64,
    mean: *mut ntk_matrix_mut,
    cov: *mut ntk_matrix_mut,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_predictor_law", {
        // SAFETY: `test` is NULL (an error) or a live handle of its type, only read during the call
        // (C contract).
        let ts = unsafe { handle_ref(test, "test") }?;
        crate::predict::check_time(t)?;
        let (m, k) = (ts.num_test(), ts.output_dim());
        // SAFETY: `mean` and `cov` are NULL or readable views of writable memory (C contract).
        let kind = unsafe { check_law_outputs(mean, cov, m, k, &[]) }?;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        let g = with_progress(unsafe { options_ref(options) }, |progress| {
            ts.law(t, kind, progress)
        })?;
        // SAFETY: as for check_law_outputs above, which accepted them.
        unsafe { write_law(&g, mean, cov, m, k, kind) }
    })
}

/// From points to the law in one call: the limit kernels Theta_inf and Sigma^(L) of the
/// network's architecture (n_0, depth, activation, beta; not its parameters) on `x_train`
/// (N x n_0) and `x_test` (M x n_0), then the law of ntk_predictor_create / ntk_predictor_law
/// at time `t` with targets `y` (N x n_L). `config`: NULL (NTK law, no ridge) or law and ridge.
/// Outputs as in ntk_predictor_law: `mean` (NULL or M x n_L), `cov` (NULL, M x M or M x 1).
/// For several times or test sets, use the handles (one eigendecomposition for all). With
/// `cov` NULL the means come from the MSE flow (as ntk_flow with NTK_FLOW_METHOD_AUTO: Lanczos
/// at finite t while it is cheaper than the eigendecomposition; equal to the handles' means up
/// to its tolerance, 1e-13 relative to |Psi_t| |y|).
///
/// Cost: the kernels (O((N + M)^2 (n_0 + L)); the M x M prior only for a full covariance) plus
/// those of ntk_predictor_create, ntk_predictor_test_create and ntk_predictor_law. Progress is
/// reported by each phase in its own units. Outputs are written only on success.
/// Errors (outputs untouched): NULL `network`, a view's data, or both outputs NULL
/// (NTK_STATUS_NULL_POINTER); an empty view, shapes, t < 0, an output overlapping an input or
/// the other output, config values (NTK_STATUS_INVALID_ARGUMENT); NaN/+-Inf in the inputs, t or
/// config.ridge (NTK_STATUS_NON_FINITE); a kernel that is not PSD or a non-finite law
/// (NTK_STATUS_NUMERICAL); a size that overflows or cannot be allocated
/// (NTK_STATUS_ALLOCATION); a cancel (NTK_STATUS_CANCELLED).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ntk_ensemble_law(
    network: *const ntk_network,
    config: *const ntk_predict_config,
    x_train: ntk_matrix,
    y: ntk_matrix,
    x_test: ntk_matrix,
    t: f64,
    mean: *mut ntk_matrix_mut,
    cov: *mut ntk_matrix_mut,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_ensemble_law", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        // SAFETY: `config` is NULL or a readable ntk_predict_config (C contract).
        let (law, ridge) = unsafe { config_from_c(config) }?;
        // SAFETY: the memory that `x_train` describes is readable for the whole call (C contract);
        // to_ref checks its shape and span.
        let xv = unsafe { x_train.to_ref("x_train") }?;
        // SAFETY: the memory that `y` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let yv = unsafe { y.to_ref("y") }?;
        // SAFETY: the memory that `x_test` describes is readable for the whole call (C contract);
        // to_ref checks its shape and span.
        let tv = unsafe { x_test.to_ref("x_test") }?;
        let (n0, nl) = (net.input_dim(), net.output_dim());
        if xv.cols() != n0 {
            return crate::invalid!(
                "x_train has {} columns, the network's n_0 is {n0}",
                xv.cols()
            );
        }
        if tv.cols() != n0 {
            return crate::invalid!(
                "x_test has {} columns, the network's n_0 is {n0}",
                tv.cols()
            );
        }
        if yv.rows() != xv.rows() || yv.cols() != nl {
            return crate::invalid!(
                "y is {}x{}, expected {}x{nl} (N x n_L)",
                yv.rows(),
                yv.cols(),
                xv.rows()
            );
        }
        if xv.rows() == 0 || tv.rows() == 0 {
            return crate::invalid!(
                "x_train has {} rows and x_test {}: need at least one of each",
                xv.rows(),
                tv.rows()
            );
        }
        crate::predict::check_time(t)?;
        let m = tv.rows();
        let inputs = [(&x_train, "x_train"), (&y, "y"), (&x_test, "x_test")];
        // SAFETY: `mean` and `cov` are NULL or readable views of writable memory (C contract).
        let kind = unsafe { check_law_outputs(mean, cov, m, nl, &inputs) }?;
        crate::network::check_finite(xv, "x_train")?;
        crate::network::check_finite(tv, "x_test")?;
        let spec = crate::kernel::limit::LimitSpec::of_network(net);
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        let g = with_progress(unsafe { options_ref(options) }, |progress| {
            crate::predict::ensemble_law_points(&spec, law, xv, yv, tv, &[t], kind, ridge, progress)
        })?;
        // SAFETY: as for check_law_outputs above, which accepted them.
        unsafe { write_law(&g[0], mean, cov, m, nl, kind) }
    })
}
