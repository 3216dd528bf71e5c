//! C entry point of the infinite-width kernels.

use super::network::{network_ref, ntk_network};
use super::view::{check_outputs, optional_out};
use super::{
    ffi_fn, ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status, options_ref, with_progress,
};
use crate::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use crate::Error;

/// Infinite-width kernels of the network's architecture (Jacot et al. 2018):
/// Sigma^(L) (NNGP), Sigma-dot^(L) and the NTK Theta^(L), for the N1 rows of `x1` against the
/// N2 rows of `x2`:
///   Sigma^(1) = x.x'/n_0 + beta^2, Theta^(1) = Sigma^(1),
///   Sigma^(l+1) = E[s(u)s(v)] + beta^2, Sigma-dot^(l+1) = E[s'(u)s'(v)],
///   Theta^(l+1) = Theta^(l) Sigma-dot^(l+1) + Sigma^(l+1),
/// with (u, v) centred Gaussian of covariance Sigma^(l). Only n_0, the depth L, the activation
/// and beta of `network` are used (hidden widths are irrelevant in the limit). For L = 1,
/// Sigma-dot is written as zeros.
///
/// - `x1`: N1 x n_0; `x2`: N2 x n_0, or NULL for X2 = X1 (then only one triangle is computed and
///   mirrored, so the outputs are exactly symmetric).
/// - `nngp`, `sigma_dot`, `ntk`: each NULL or an N1 x N2 output; element (i, j) is
///   K(x1_i, x2_j). At least one is required. Outputs must not overlap each other or the inputs.
/// - `options`: NULL or progress/cancel callback, called on the calling thread at least every
///   20 ms while the library threads work, with one monotone (done, total) sequence per call
///   (units: the points of x1, of x2, then the entries of the tiles); a cancel is honoured within
///   one quadrature node.
///
/// ReLU, leaky ReLU, erf, identity, sin and cos use closed forms; other activations (including
/// custom ones, called concurrently from worker threads) use an adaptive numerical method with
/// relative error about 1e-12 for any input scale. Cost: O(N1 N2 (n_0 + L)) plus, for numerical
/// activations, O((N1+N2) L) one-dimensional integrations; memory beyond the outputs is O(N L).
/// Results are bit-identical at any thread count. Thread safety: the network is only read, so
/// concurrent calls on the same network are safe.
///
/// A result that overflows to +-Inf/NaN although the inputs are finite (huge inputs or beta,
/// e.g. x = 1e200, or a custom activation returning NaN) gives NTK_STATUS_NUMERICAL with the
/// outputs written but unspecified, whichever outputs were requested (a NaN in a quantity that
/// was not requested fails the call too). Work bound for any activation: a point's expansion may
/// use at most 1000 quadrature panels per layer and a highly correlated pair (|rho| > 0.6) at most
/// 2e7 activation evaluations per layer (PAIR_EVAL_BUDGET); past either bound the call returns
/// NTK_STATUS_NUMERICAL naming it (e.g. sigma = sin(1000 x), an activation too oscillatory to
/// integrate).
///
/// On NTK_STATUS_CANCELLED the outputs hold a mix of finished tiles and their previous contents.
/// On any other error nothing is written.
///
/// Errors: NULL `network`, `x1.data`, `x2->data` or an output's data, or all three outputs NULL
/// (NTK_STATUS_NULL_POINTER); an empty view, x1 or x2 without n_0 columns, an output not
/// N1 x N2, with aliasing strides, or overlapping another output or an input
/// (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf in x1 or x2 (NTK_STATUS_NON_FINITE, naming the
/// entry); a view spanning more than the address space or an unallocatable workspace
/// (NTK_STATUS_ALLOCATION); a cancel (NTK_STATUS_CANCELLED); a non-finite result or a work
/// bound exceeded, as above (NTK_STATUS_NUMERICAL).
#[no_mangle]
pub unsafe extern "C" fn ntk_kernel_limit(
    network: *const ntk_network,
    x1: ntk_matrix,
    x2: *const ntk_matrix,
    nngp: *mut ntk_matrix_mut,
    sigma_dot: *mut ntk_matrix_mut,
    ntk: *mut ntk_matrix_mut,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_kernel_limit", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        // SAFETY: the memory that `x1` describes is readable for the whole call (C contract);
        // to_ref checks its shape and span.
        let x1v = unsafe { x1.to_ref("x1") }?;
        let x2c: Option<ntk_matrix> = if x2.is_null() {
            None
        } else {
            // SAFETY: `x2` is non-NULL (checked just above) and points to a readable ntk_matrix (C
            // contract).
            Some(unsafe { *x2 })
        };
        let x2v = match &x2c {
            // SAFETY: the memory that `m` describes is readable for the whole call (C contract);
            // to_ref checks its shape and span.
            Some(m) => Some(unsafe { m.to_ref("x2") }?),
            None => None,
        };
        let n0 = net.input_dim();
        if x1v.cols() != n0 {
            return crate::invalid!("x1 has {} columns, the network's n_0 is {n0}", x1v.cols());
        }
        if let Some(v) = &x2v {
            if v.cols() != n0 {
                return crate::invalid!("x2 has {} columns, the network's n_0 is {n0}", v.cols());
            }
        }
        let n1 = x1v.rows();
        let n2 = x2v.map(|v| v.rows()).unwrap_or(n1);
        let outs: [(*mut ntk_matrix_mut, &str); 3] =
            [(nngp, "nngp"), (sigma_dot, "sigma_dot"), (ntk, "ntk")];
        if outs.iter().all(|(p, _)| p.is_null()) {
            return Err(Error::NullPointer(
                "nngp, sigma_dot and ntk (at least one output is required)".into(),
            ));
        }
        let mut descs: Vec<(ntk_matrix_mut, &str)> = Vec::new();
        for (p, name) in outs {
            // SAFETY: `p` is NULL or points to a readable ntk_matrix_mut (C contract of an optional
            // output).
            if let Some(m) = unsafe { optional_out(p) } {
                m.expect_shape(n1, n2, name)?;
                descs.push((m, name));
            }
        }
        let mut inputs: Vec<(&ntk_matrix, &str)> = vec![(&x1, "x1")];
        if let Some(m) = &x2c {
            inputs.push((m, "x2"));
        }
        let mut views = Vec::new();
        for (m, name) in &descs {
            // SAFETY: the memory that `m` describes is writable for the whole call and not accessed
            // by the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing,
            // and overlaps with the other arguments are rejected before anything is written.
            views.push(unsafe { m.to_mut(name) }?);
        }
        check_outputs(&descs, &inputs)?;
        crate::network::check_finite(x1v, "x1")?;
        if let Some(v) = x2v {
            crate::network::check_finite(v, "x2")?;
        }
        let mut it = views.iter_mut();
        let mut take = |p: *mut ntk_matrix_mut| {
            if p.is_null() {
                None
            } else {
                it.next().map(|v| v.reborrow())
            }
        };
        let out = LimitOutputs {
            nngp: take(nngp),
            sigma_dot: take(sigma_dot),
            ntk: take(ntk),
        };
        let spec = LimitSpec::of_network(net);
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        with_progress(unsafe { options_ref(options) }, |progress| {
            limit_kernel(&spec, x1v, x2v, out, progress)
        })
    })
}
