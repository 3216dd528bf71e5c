//! C entry points of the empirical (finite-width) NTK and the parameter Jacobian.

use super::network::network_ref;
use super::view::{check_disjoint, check_finite_result};
use super::{
    c_enum, ffi_fn, ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status, options_ref, with_progress,
};
use crate::kernel::empirical::{self, KernelMethod as Method, KernelMode};
use crate::Result;
use std::ffi::c_int;

/// Which part of the n_L x n_L kernel blocks a kernel call returns (values of `mode`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_kernel_mode {
    /// N1 x N2 matrix of block traces divided by n_L: (1/n_L) sum_a Theta_aa(x1_i, x2_j).
    /// This is what converges to the limit kernel Theta_inf.
    Trace = 0,
    /// (N1*n_L) x (N2*n_L) matrix: entry (i*n_L + a, j*n_L + b) = Theta_ab(x1_i, x2_j).
    Full = 1,
}
c_enum!(ntk_kernel_mode { Trace, Full });

/// How an empirical kernel is computed (values of `method`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_kernel_method {
    /// The cheaper of the two by the documented flop counts (structured in practice).
    Auto = 0,
    /// Explicit Jacobian contraction J1*J2^T, chunked over parameters (memory stays bounded).
    JacobianContraction = 1,
    /// Per-layer structured form; never forms the Jacobian.
    Structured = 2,
}
c_enum!(ntk_kernel_method {
    Auto,
    JacobianContraction,
    Structured
});

pub(crate) fn mode_from_c(mode: c_int) -> Result<KernelMode> {
    Ok(match ntk_kernel_mode::from_c(mode, "mode")? {
        ntk_kernel_mode::Trace => KernelMode::Trace,
        ntk_kernel_mode::Full => KernelMode::Full,
    })
}

fn method_from_c(method: c_int) -> Result<Method> {
    Ok(match ntk_kernel_method::from_c(method, "method")? {
        ntk_kernel_method::Auto => Method::Auto,
        ntk_kernel_method::JacobianContraction => Method::JacobianContraction,
        ntk_kernel_method::Structured => Method::Structured,
    })
}

/// Empirical (finite-width) NTK of the network at its current parameters:
/// Theta_ab(x, x') = sum_p d f_a(x)/d theta_p * d f_b(x')/d theta_p.
///
/// - `x1`: N1 x n_0 (points are rows); `x2`: N2 x n_0, or NULL for X2 = X1 (then the kernel is
///   symmetric: one triangle is computed and mirrored, and the result is exactly symmetric).
/// - `mode` (ntk_kernel_mode): TRACE -> `out` is N1 x N2 with (1/n_L) sum_a Theta_aa(x1_i, x2_j);
///   FULL -> `out` is (N1*n_L) x (N2*n_L), entry (i*n_L + a, j*n_L + b) = Theta_ab(x1_i, x2_j).
/// - `method` (ntk_kernel_method): AUTO, JACOBIAN_CONTRACTION (J1 J2^T, cost ~ 2 N1 N2 n_L P) or
///   STRUCTURED (per layer (alpha.alpha'/n_l + beta^2) * (delta.delta'), cost
///   ~ 2 N1 N2 n_L sum_l n_l). Both agree to rounding.
/// - `options`: NULL, or a progress callback called between blocks of the output; returning
///   non-zero cancels (NTK_STATUS_CANCELLED; `out` is then partially written).
///
/// Every argument (pointers, shapes, enum values, finite inputs, `out` not overlapping the
/// inputs) is checked before `out` is written. A result that overflows to +-Inf/NaN (huge finite
/// inputs, or a custom activation returning NaN) gives NTK_STATUS_NUMERICAL naming the first such
/// element; `out` is then written but unspecified. The result does not depend on the thread count.
/// Thread safety: the network is only read; concurrent calls on one network are safe.
///
/// Errors (`out` untouched except for CANCELLED and NUMERICAL): NULL `network`, `x1.data`,
/// `x2->data` or `out.data` (NTK_STATUS_NULL_POINTER); an unknown `mode` or `method`, an empty
/// view, x1 or x2 without n_0 columns, `out` not of the shape above, aliasing strides in `out`
/// or `out` overlapping x1 or x2 (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf in x1 or x2
/// (NTK_STATUS_NON_FINITE, naming the entry); an output size that overflows, a view spanning
/// more than the address space or an unallocatable temporary (NTK_STATUS_ALLOCATION); a cancel
/// (NTK_STATUS_CANCELLED, `out` partially written); a non-finite result (NTK_STATUS_NUMERICAL,
/// `out` written but unspecified).
#[no_mangle]
pub unsafe extern "C" fn ntk_kernel_empirical(
    network: *const super::network::ntk_network,
    x1: ntk_matrix,
    x2: *const ntk_matrix,
    mode: c_int,
    method: c_int,
    out: ntk_matrix_mut,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_kernel_empirical", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        let mode = mode_from_c(mode)?;
        let method = method_from_c(method)?;
        // SAFETY: the memory that `x1` describes is readable for the whole call (C contract);
        // to_ref checks its shape and span.
        let x1v = unsafe { x1.to_ref("x1") }?;
        let x2m = if x2.is_null() {
            None
        } else {
            // SAFETY: `x2` is non-NULL (checked just above) and points to a readable ntk_matrix (C
            // contract).
            Some(unsafe { *x2 })
        };
        let x2v = match &x2m {
            // SAFETY: the memory that `m` describes is readable for the whole call (C contract);
            // to_ref checks its shape and span.
            Some(m) => Some(unsafe { m.to_ref("x2") }?),
            None => None,
        };
        let n2 = x2v.map_or(x1v.rows(), |v| v.rows());
        let (rows, cols) = empirical::output_shape(net, x1v.rows(), n2, mode)?;
        out.expect_shape(rows, cols, "out")?;
        // SAFETY: the memory that `out` describes is writable for the whole call and not accessed
        // by the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing, and
        // overlaps with the other arguments are rejected before anything is written.
        let ov = unsafe { out.to_mut("out") }?;
        match &x2m {
            Some(m) => check_disjoint(&out, "out", &[(&x1, "x1"), (m, "x2")])?,
            None => check_disjoint(&out, "out", &[(&x1, "x1")])?,
        }
        net.check_input(x1v, "x1")?;
        if let Some(v) = x2v {
            net.check_input(v, "x2")?;
        }
        let mut ov = ov;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        with_progress(unsafe { options_ref(options) }, |progress| {
            empirical::empirical_ntk(net, x1v, x2v, mode, method, ov.reborrow(), progress)
        })?;
        check_finite_result(ov.as_ref(), "out")
    })
}

/// Parameter Jacobian of the network at the N points `x` (N x n_0):
/// `out` is (N*n_L) x P with entry (i*n_L + a, p) = d f_a(x_i) / d theta_p, columns in the
/// parameter order of ntk_network_get_params (W^(0) row-major, b^(0), W^(1), b^(1), ...).
///
/// Everything is checked before `out` is written (shape, finite `x`, no overlap with `x`).
/// A non-finite result (overflow, custom activation returning NaN) gives NTK_STATUS_NUMERICAL
/// (`out` written but unspecified).
/// `options`: NULL or a progress callback (cancel -> NTK_STATUS_CANCELLED, `out` partially
/// written). Thread safety: the network is only read; concurrent calls are safe.
///
/// Errors (`out` untouched except for CANCELLED and NUMERICAL): NULL `network`, `x.data` or
/// `out.data` (NTK_STATUS_NULL_POINTER); an empty view, x without n_0 columns, `out` not
/// (N n_L) x P, aliasing strides in `out` or `out` overlapping x (NTK_STATUS_INVALID_ARGUMENT);
/// a NaN/+-Inf in x (NTK_STATUS_NON_FINITE, naming the entry); N n_L overflowing, a view
/// spanning more than the address space or an unallocatable temporary (NTK_STATUS_ALLOCATION);
/// a cancel (NTK_STATUS_CANCELLED, `out` partially written); a non-finite result
/// (NTK_STATUS_NUMERICAL, `out` written but unspecified).
#[no_mangle]
pub unsafe extern "C" fn ntk_network_jacobian(
    network: *const super::network::ntk_network,
    x: ntk_matrix,
    out: ntk_matrix_mut,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_network_jacobian", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        // SAFETY: the memory that `x` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let xv = unsafe { x.to_ref("x") }?;
        let rows = crate::error::checked_mul(xv.rows(), net.output_dim(), "out rows")?;
        out.expect_shape(rows, net.num_params(), "out")?;
        // SAFETY: the memory that `out` describes is writable for the whole call and not accessed
        // by the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing, and
        // overlaps with the other arguments are rejected before anything is written.
        let ov = unsafe { out.to_mut("out") }?;
        check_disjoint(&out, "out", &[(&x, "x")])?;
        net.check_input(xv, "x")?;
        let mut ov = ov;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        with_progress(unsafe { options_ref(options) }, |progress| {
            empirical::jacobian(net, xv, ov.reborrow(), progress)
        })?;
        check_finite_result(ov.as_ref(), "out")
    })
}
