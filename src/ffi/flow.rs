//! Kernel gradient flows through the C ABI.

use super::handle::{box_into, free_box, handle_mut, handle_ref, opaque_handle};
use super::{
    c_enum, ffi_fn, non_null, ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status, options_ref,
    with_progress,
};
use crate::flow::{Cost, Flow, FlowMethod as Method, FlowOptions, OdeTolerances};
use crate::linalg::MatRef;
use crate::{Error, Result};
use std::ffi::c_int;

// The spectrum entry points lived here before src/ffi/spectrum.rs; kept reachable by their old
// Rust paths (the C symbols do not depend on the module).
pub use super::spectrum::{ntk_kernel_condition, ntk_kernel_spectrum, ntk_spectrum_which};

/// Per-point costs c(f, y) (values of the `cost` arguments).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_cost {
    /// c = 1/2 |f - y|^2, d = f - y.
    Mse = 0,
    /// Softmax cross-entropy c = -sum_a y_a log softmax(f)_a, d = softmax(f) - y (targets
    /// summing to one).
    CrossEntropy = 1,
}
c_enum!(ntk_cost { Mse, CrossEntropy });

/// How a flow is evaluated (ntk_flow_options.method).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_flow_method {
    /// MSE: eigendecomposition or Lanczos by a cost rule (Lanczos while its accumulated cost stays
    /// below one eigendecomposition, ~9 D^3 flops); other costs: the ODE integrator.
    Auto = 0,
    /// MSE through one cached symmetric eigendecomposition.
    Eigen = 1,
    /// MSE through Lanczos (t = infinity still uses the eigendecomposition).
    Krylov = 2,
    /// Any cost through the adaptive Dormand-Prince 5(4) integrator.
    Ode = 3,
}
c_enum!(ntk_flow_method {
    Auto,
    Eigen,
    Krylov,
    Ode
});

/// Options of a flow. Pass NULL for the defaults. A tolerance field (rtol, atol, krylov_tol)
/// <= 0 means its default; NaN or +-Inf there is NTK_STATUS_NON_FINITE. `method` must be an
/// ntk_flow_method value (0 = NTK_FLOW_METHOD_AUTO, the default): any other value, negative ones
/// included, is NTK_STATUS_INVALID_ARGUMENT.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ntk_flow_options {
    /// One of ntk_flow_method (default NTK_FLOW_METHOD_AUTO = 0).
    pub method: c_int,
    /// Relative tolerance of the ODE integrator (default 1e-10). Below 1e-14 double precision
    /// cannot meet it: an integration that gives up then says so (NTK_STATUS_NUMERICAL naming
    /// rtol).
    pub rtol: f64,
    /// Absolute tolerance of the ODE integrator (default 1e-12).
    pub atol: f64,
    /// Relative tolerance of the Lanczos evaluation (default 1e-13).
    pub krylov_tol: f64,
}

/// Opaque kernel-flow handle.
pub struct ntk_flow {
    pub(crate) flow: Flow,
}
opaque_handle!(ntk_flow { flow: Flow });

pub(crate) fn cost_from_c(cost: c_int) -> Result<Cost> {
    Ok(match ntk_cost::from_c(cost, "cost")? {
        ntk_cost::Mse => Cost::Mse,
        ntk_cost::CrossEntropy => Cost::CrossEntropy,
    })
}

/// The flow options behind an `options` argument (the defaults for NULL), checked.
///
/// # Safety
/// `options` is NULL or points to a readable `ntk_flow_options`.
unsafe fn options_from_c(options: *const ntk_flow_options) -> Result<FlowOptions> {
    let mut o = FlowOptions::default();
    if options.is_null() {
        return Ok(o);
    }
    // SAFETY: non-NULL (checked above) and readable by the caller's contract; the struct is
    // Copy and every bit pattern of its fields is a valid value.
    let c = unsafe { *options };
    o.method = match ntk_flow_method::from_c(c.method, "options.method")? {
        ntk_flow_method::Auto => Method::Auto,
        ntk_flow_method::Eigen => Method::Eigen,
        ntk_flow_method::Krylov => Method::Krylov,
        ntk_flow_method::Ode => Method::Ode,
    };
    for (v, name) in [
        (c.rtol, "options.rtol"),
        (c.atol, "options.atol"),
        (c.krylov_tol, "options.krylov_tol"),
    ] {
        if v.is_nan() || v.is_infinite() {
            return Err(Error::NonFinite(format!("{name} = {v}")));
        }
    }
    let d = OdeTolerances::default();
    o.ode = OdeTolerances {
        rtol: if c.rtol > 0.0 { c.rtol } else { d.rtol },
        atol: if c.atol > 0.0 { c.atol } else { d.atol },
    };
    if c.krylov_tol > 0.0 {
        o.krylov_tol = c.krylov_tol;
    }
    Ok(o)
}

/// Creates the kernel gradient flow d f_t(x)/dt = -(1/N) sum_j K(x, x_j) d_j,
/// d_j = dc/df(f_t(x_j), y_j), at t = 0 (t = s * eta after s gradient-descent steps of learning
/// rate eta on C = (1/N) sum_i c(f(x_i), y_i)).
///
/// - `kernel`: N x N (used as K (x) Id_k) or (N k) x (N k) (index [i k + a, j k + b]); finite,
///   symmetric to relative 1e-10 (the error names the first asymmetric pair), positive
///   semi-definite up to 1e-9 * max_i K_ii (else NTK_STATUS_NUMERICAL; checked by one Cholesky
///   factorization, D^3/3 flops).
/// - `y`, `f0`: targets and initial outputs, N x k.
/// - `test_kernel` (M x N or (M k) x (N k)) and `test_f0` (M x k): both NULL or both given.
/// - `cost`: an ntk_cost. `options`: NULL for defaults.
///
/// All inputs are copied; `*out` receives the handle (free with ntk_flow_free), unchanged on
/// failure. MSE is exact (closed form, <= 1e-10 relative), other costs are integrated.
///
/// Order of the checks (bounded time): shapes and options (O(1); a `y` that disagrees with the
/// kernel and `f0` is named as `y`), then every allocation (copies of all inputs, the Cholesky
/// workspace, faer's per-thread matrix-multiply buffer): inputs that cannot be afforded, even
/// broadcast views of any size, give NTK_STATUS_ALLOCATION in O(1) without being read; then the
/// O(D^2) finiteness and symmetry scans; then the D^3/3 Cholesky factorization. Kernels of any
/// scale (subnormal entries included) are factorized exactly scaled by a power of two.
///
/// Errors (`*out` unchanged): NULL `out`, `kernel.data`, `y.data` or `f0.data`, only one of
/// `test_kernel` and `test_f0`, or a NULL data pointer in them (NTK_STATUS_NULL_POINTER); an
/// unknown `cost` or `options->method`, an empty view, shapes that disagree (y without N rows for
/// a kernel of N or N k rows, a kernel that is not square, f0 not N x k, test_kernel without the
/// kernel's columns or, for a full kernel, with rows not a multiple of k, test_f0 not M x k),
/// rtol or krylov_tol >= 1, a kernel not symmetric to relative 1e-10
/// (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf in an input or in a tolerance of `options`
/// (NTK_STATUS_NON_FINITE); a size that overflows or cannot be allocated
/// (NTK_STATUS_ALLOCATION); a kernel that is not positive semi-definite (NTK_STATUS_NUMERICAL).
#[no_mangle]
pub unsafe extern "C" fn ntk_flow_create(
    kernel: ntk_matrix,
    y: ntk_matrix,
    f0: ntk_matrix,
    test_kernel: *const ntk_matrix,
    test_f0: *const ntk_matrix,
    cost: c_int,
    options: *const ntk_flow_options,
    out: *mut *mut ntk_flow,
) -> ntk_status {
    ffi_fn!("ntk_flow_create", {
        non_null(out, "out")?;
        let cost = cost_from_c(cost)?;
        // SAFETY: `options` is NULL or a readable ntk_flow_options (C contract).
        let opts = unsafe { options_from_c(options) }?;
        // SAFETY: the memory that `kernel` describes is readable for the whole call (C contract);
        // to_ref checks its shape and span.
        let kv = unsafe { kernel.to_ref("kernel") }?;
        // SAFETY: the memory that `y` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let yv = unsafe { y.to_ref("y") }?;
        // SAFETY: the memory that `f0` describes is readable for the whole call (C contract);
        // to_ref checks its shape and span.
        let fv = unsafe { f0.to_ref("f0") }?;
        let test: Option<(MatRef<'_>, MatRef<'_>)> =
            match (test_kernel.is_null(), test_f0.is_null()) {
                (true, true) => None,
                (false, false) => {
                    // SAFETY: `test_kernel` is non-NULL here and points to a readable ntk_matrix
                    // whose memory is readable for the whole call (C contract); to_ref checks its
                    // shape and span.
                    let tk = unsafe { (*test_kernel).to_ref("test_kernel") }?;
                    // SAFETY: `test_f0` is non-NULL here and points to a readable ntk_matrix whose
                    // memory is readable for the whole call (C contract); to_ref checks its shape
                    // and span.
                    let tf = unsafe { (*test_f0).to_ref("test_f0") }?;
                    Some((tk, tf))
                }
                (true, false) => {
                    return Err(Error::NullPointer(
                        "test_kernel (test_f0 is given: pass both or neither)".into(),
                    ))
                }
                (false, true) => {
                    return Err(Error::NullPointer(
                        "test_f0 (test_kernel is given: pass both or neither)".into(),
                    ))
                }
            };
        let flow = Flow::new(kv, yv, fv, test, cost, opts)?;
        // SAFETY: `out` was checked non-NULL above and is writable (C contract).
        unsafe { box_into(out, flow) };
        Ok(())
    })
}

/// Frees a flow. NULL is accepted and ignored; the handle must not be used afterwards.
/// Errors: none (returns nothing); a panic in a destructor is caught and the handle leaked.
#[no_mangle]
pub unsafe extern "C" fn ntk_flow_free(flow: *mut ntk_flow) {
    // SAFETY: the C contract: NULL or a handle of ours, not used again.
    unsafe { free_box(flow) }
}

/// Advances the flow by `dt` (> 0, finite): the same as ntk_flow_set_time(flow, t + dt,
/// options) at the current time t. Mutates the handle (exclusive access needed); on failure,
/// including NTK_STATUS_CANCELLED, the flow is unchanged.
/// Errors (the flow unchanged): NULL `flow` (NTK_STATUS_NULL_POINTER); dt NaN or +-Inf
/// (NTK_STATUS_NON_FINITE); dt <= 0 (NTK_STATUS_INVALID_ARGUMENT); then those of
/// ntk_flow_set_time at t + dt: training outputs that overflow the double range or an ODE
/// beyond its step budget (NTK_STATUS_NUMERICAL), an unallocatable workspace
/// (NTK_STATUS_ALLOCATION), a cancel (NTK_STATUS_CANCELLED).
#[no_mangle]
pub unsafe extern "C" fn ntk_flow_step(
    flow: *mut ntk_flow,
    dt: f64,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_flow_step", {
        // SAFETY: `flow` is NULL (an error) or a live handle of its type to which this call has
        // exclusive access (C contract).
        let f = unsafe { handle_mut(flow, "flow") }?;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        with_progress(unsafe { options_ref(options) }, |progress| {
            f.step_with(dt, progress)
        })
    })
}

/// Moves the flow to the absolute time `t` >= 0 (t = INFINITY allowed for MSE: kernel regression
/// with the pseudo-inverse). MSE: closed form from t = 0; other costs: integrated from the
/// current time (backwards if earlier). Mutates the handle (exclusive access needed).
///
/// `options`: NULL or a progress/cancel callback, called on the calling thread. The ODE method
/// (cross-entropy, or NTK_FLOW_METHOD_ODE) reports (done, 1000000), done/1000000 being the
/// fraction of the interval integrated: before the first step, every 1 to 64 integrator steps
/// (fewer for larger kernels) and after the last; the closed-form MSE paths report (0, 1) before
/// and (1, 1) after their work. On NTK_STATUS_CANCELLED, as on any failure, the flow is exactly as
/// before the call (time, outputs, caches) and stays usable: a later call gives bit-identical
/// results to a flow that was never cancelled.
///
/// An ODE request that the stability of the explicit integrator makes hopeless (more than 10^7
/// steps: a kernel with a huge lambda_max, or a huge interval) fails fast with
/// NTK_STATUS_NUMERICAL and a message naming the interval and the step estimate: for MSE before
/// integrating (lambda_max(K) bound), for other costs after a few hundred steps (extrapolated
/// step size).
///
/// Errors (the flow unchanged): NULL `flow` (NTK_STATUS_NULL_POINTER); t NaN or -INFINITY
/// (NTK_STATUS_NON_FINITE); t < 0, or t = INFINITY for a cost other than MSE
/// (NTK_STATUS_INVALID_ARGUMENT); training outputs that overflow the double range, an ODE
/// beyond its step budget or one that cannot meet its rtol (NTK_STATUS_NUMERICAL); an
/// unallocatable workspace (NTK_STATUS_ALLOCATION); a cancel (NTK_STATUS_CANCELLED).
#[no_mangle]
pub unsafe extern "C" fn ntk_flow_set_time(
    flow: *mut ntk_flow,
    t: f64,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_flow_set_time", {
        // SAFETY: `flow` is NULL (an error) or a live handle of its type to which this call has
        // exclusive access (C contract).
        let f = unsafe { handle_mut(flow, "flow") }?;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        with_progress(unsafe { options_ref(options) }, |progress| {
            f.set_time_with(t, progress)
        })
    })
}

/// Writes the current time to `*t`. Read-only (safe concurrently with other read-only calls).
/// Errors: NULL `flow` or `t` (NTK_STATUS_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn ntk_flow_time(flow: *const ntk_flow, t: *mut f64) -> ntk_status {
    ffi_fn!("ntk_flow_time", {
        // SAFETY: `flow` is NULL (an error) or a live handle of its type, only read during the call
        // (C contract).
        let f = unsafe { handle_ref(flow, "flow") }?;
        non_null(t, "t")?;
        // SAFETY: `t` is non-NULL (checked above) and writable (C contract).
        unsafe { *t = f.time() };
        Ok(())
    })
}

/// Checks `out` against `rows x cols` and that `data` (row-major) is finite, then copies it.
///
/// # Safety
/// The memory `out` describes is writable and not otherwise accessed during the call.
unsafe fn write_rows(
    out: &ntk_matrix_mut,
    data: &[f64],
    rows: usize,
    cols: usize,
    name: &str,
) -> Result<()> {
    out.expect_shape(rows, cols, name)?;
    // SAFETY: the memory that `out` describes is writable for the whole call and not accessed by
    // the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing, and overlaps
    // with the other arguments are rejected before anything is written.
    let mut o = unsafe { out.to_mut(name) }?;
    // Finite inputs can still give overflowing outputs (e.g. a huge test kernel times a large
    // gradient); report NUMERICAL instead of OK with Inf/NaN, before writing.
    super::view::check_finite_result(MatRef::from_row_major(data, rows, cols), name)?;
    o.copy_from(MatRef::from_row_major(data, rows, cols));
    Ok(())
}

/// Writes the training outputs f_t(x_i) (N x k) to `out`. Read-only on the handle.
/// NTK_STATUS_NUMERICAL (`out` untouched) when an output overflowed the double range.
/// Errors (`out` untouched): NULL `flow` or `out.data` (NTK_STATUS_NULL_POINTER); out not
/// N x k or with aliasing strides (NTK_STATUS_INVALID_ARGUMENT); a view spanning more than the
/// address space (NTK_STATUS_ALLOCATION); an overflowed output (NTK_STATUS_NUMERICAL).
#[no_mangle]
pub unsafe extern "C" fn ntk_flow_outputs(
    flow: *const ntk_flow,
    out: ntk_matrix_mut,
) -> ntk_status {
    ffi_fn!("ntk_flow_outputs", {
        // SAFETY: `flow` is NULL (an error) or a live handle of its type, only read during the call
        // (C contract).
        let f = unsafe { handle_ref(flow, "flow") }?;
        // SAFETY: the memory `out` describes is writable for this call (C contract).
        unsafe { write_rows(&out, f.outputs(), f.num_train(), f.output_dim(), "out") }
    })
}

/// Writes the test outputs f_t(x*_i) (M x k) to `out`; INVALID_ARGUMENT when the flow has no
/// test kernel; NTK_STATUS_NUMERICAL (`out` untouched) when a prediction overflowed. Read-only
/// on the handle. Errors (`out` untouched): NULL `flow` or `out.data`
/// (NTK_STATUS_NULL_POINTER); no test kernel, out not M x k or with aliasing strides
/// (NTK_STATUS_INVALID_ARGUMENT); a view spanning more than the address space
/// (NTK_STATUS_ALLOCATION); an overflowed prediction (NTK_STATUS_NUMERICAL).
#[no_mangle]
pub unsafe extern "C" fn ntk_flow_predict(
    flow: *const ntk_flow,
    out: ntk_matrix_mut,
) -> ntk_status {
    ffi_fn!("ntk_flow_predict", {
        // SAFETY: `flow` is NULL (an error) or a live handle of its type, only read during the call
        // (C contract).
        let f = unsafe { handle_ref(flow, "flow") }?;
        if f.num_test() == 0 {
            return crate::invalid!("the flow was created without test_kernel / test_f0");
        }
        // SAFETY: the memory `out` describes is writable for this call (C contract).
        unsafe { write_rows(&out, f.predictions(), f.num_test(), f.output_dim(), "out") }
    })
}

/// Writes C(f_t) = (1/N) sum_i c(f_t(x_i), y_i) to `*loss`. Read-only on the handle.
/// NTK_STATUS_NUMERICAL (`*loss` unchanged) when the loss overflows the double range.
/// Errors: NULL `flow` or `loss` (NTK_STATUS_NULL_POINTER); the overflowing loss
/// (NTK_STATUS_NUMERICAL).
#[no_mangle]
pub unsafe extern "C" fn ntk_flow_loss(flow: *const ntk_flow, loss: *mut f64) -> ntk_status {
    ffi_fn!("ntk_flow_loss", {
        // SAFETY: `flow` is NULL (an error) or a live handle of its type, only read during the call
        // (C contract).
        let f = unsafe { handle_ref(flow, "flow") }?;
        non_null(loss, "loss")?;
        let value = f.loss();
        if !value.is_finite() {
            // Finite outputs and targets can still overflow the loss (e.g. |f - y| ~ 1e300).
            return Err(Error::Numerical(format!(
                "loss = {value}: the cost of the current outputs overflows the double range"
            )));
        }
        // SAFETY: `loss` is non-NULL (checked above) and writable (C contract).
        unsafe { *loss = value };
        Ok(())
    })
}
