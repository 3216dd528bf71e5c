//! Gradient descent of a network through the C ABI.

use super::flow::cost_from_c;
use super::network::{network_mut, ntk_network};
use super::{ffi_fn, ntk_matrix, ntk_options, ntk_status, options_ref, with_progress};
use std::ffi::c_int;

/// Full-batch gradient descent: `steps` updates theta <- theta - learning_rate * dC/dtheta of
/// C(theta) = (1/N) sum_i c(f_theta(x_i), y_i) (`cost` an ntk_cost; MSE: c = 1/2 |f - y|^2).
/// The outputs then follow the kernel flow of ntk_flow_create with K = Theta at t = s *
/// learning_rate (Jacot et al., Theorem 5.2).
///
/// - `x`: N x n_0 inputs; `y`: N x n_L targets; `learning_rate` > 0 finite.
/// - `loss_history`: NULL or steps + 1 doubles; entry s = C(theta_s), the last after the final step.
/// - `options`: NULL or progress/cancel, called with (s, steps) before each step.
///
/// Mutates the network (exclusive access needed). On NTK_STATUS_CANCELLED the network holds the
/// parameters theta_s after the s completed steps (each step is applied whole) and loss_history
/// is filled in entries 0..=s. If the loss becomes non-finite, or a step would make a parameter
/// non-finite, the parameters before that step are restored and NTK_STATUS_NUMERICAL is returned
/// (the parameters are always finite after the call). Cost per step: one forward + backward pass.
///
/// Errors: NULL `network`, `x.data` or `y.data` (NTK_STATUS_NULL_POINTER); an unknown `cost`,
/// an empty view, x without n_0 columns, y not N x n_L, learning_rate <= 0, steps + 1
/// overflowing, loss_history overlapping x or y (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf in
/// x, y or learning_rate (NTK_STATUS_NON_FINITE); a size that overflows or cannot be allocated,
/// or a view spanning more than the address space (NTK_STATUS_ALLOCATION; the parameters and
/// loss_history untouched); a cancel (NTK_STATUS_CANCELLED, as above); divergence
/// (NTK_STATUS_NUMERICAL, as above). The argument errors change nothing.
#[no_mangle]
pub unsafe extern "C" fn ntk_network_train(
    network: *mut ntk_network,
    x: ntk_matrix,
    y: ntk_matrix,
    cost: c_int,
    learning_rate: f64,
    steps: usize,
    loss_history: *mut f64,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_network_train", {
        // SAFETY: `network` is NULL (an error) or a live network handle to which this call has
        // exclusive access (C contract).
        let net = unsafe { network_mut(network) }?;
        // SAFETY: the memory that `x` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let xv = unsafe { x.to_ref("x") }?;
        // SAFETY: the memory that `y` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let yv = unsafe { y.to_ref("y") }?;
        let cost = cost_from_c(cost)?;
        let len = steps
            .checked_add(1)
            .ok_or_else(|| crate::Error::InvalidArgument(format!("steps = {steps} too large")))?;
        let history = if loss_history.is_null() {
            None
        } else {
            let hv = super::view::vector_out(loss_history, len);
            // SAFETY: `hv`'s memory is writable and unaccessed by the caller for the call (C
            // contract); to_mut checks shape, span, self-aliasing; overlaps are rejected first.
            unsafe { hv.to_mut("loss_history") }?;
            super::view::check_outputs(&[(hv, "loss_history")], &[(&x, "x"), (&y, "y")])?;
            // SAFETY: non-NULL with `len` writable doubles (C contract), span checked by to_mut
            // and disjoint from `x` and `y` (check_outputs just above).
            Some(unsafe { std::slice::from_raw_parts_mut(loss_history, len) })
        };
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        with_progress(unsafe { options_ref(options) }, |progress| {
            crate::train::train(net, xv, yv, cost, learning_rate, steps, history, progress)
        })
    })
}
