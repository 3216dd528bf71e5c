//! C entry points of kernel tiles: per-point quantities prepared once, then any block of a
//! kernel computed straight into a caller's strided view (for out-of-core and distributed use).

use super::empirical::mode_from_c;
use super::handle::{box_into, free_box, handle_ref, opaque_handle};
use super::network::{network_ref, ntk_network};
use super::view::check_finite_result;
use super::{
    ffi_fn, non_null, ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status, options_ref,
    with_progress,
};
use crate::kernel::empirical::prepared::{
    check_tile, empirical_tile, tile_shape, EmpiricalFeatures,
};
use crate::Result;
use std::ffi::c_int;

/// Opaque handle: the per-point features of N points for the empirical NTK of one network at its
/// current parameters (a copy of the points, their layer activations and the backpropagated
/// cotangents of every output), plus a fingerprint of the network (widths, activation, beta,
/// every parameter bit) so that they are never combined with another network.
pub struct ntk_empirical_features {
    pub(crate) inner: EmpiricalFeatures,
}
opaque_handle!(ntk_empirical_features {
    inner: EmpiricalFeatures
});

/// Prepares the empirical-NTK features of the N points `x` (N x n_0, points are rows, finite):
/// one forward pass and n_L backward passes, cost ~ 2 N (1 + n_L) sum_l n_l n_{l+1} flops,
/// memory ~ N (sum_{l<L} n_l + n_L sum_{1<=l<L} n_l) doubles. `x` is copied: it may be freed
/// after the call. The features stay valid for this network as long as its parameters do not
/// change (a tile call with a changed network fails with NTK_STATUS_INVALID_ARGUMENT).
///
/// Features of a subset of the points equal those of the whole set, so each process of a
/// distributed computation can prepare only its own rows.
///
/// `options`: NULL or a progress callback, called (0, 1) before and (1, 1) after; cancel ->
/// NTK_STATUS_CANCELLED and `*out` is untouched. On success `*out` owns a new handle (free it
/// with ntk_empirical_features_free); on failure `*out` is untouched.
/// Thread safety: the network is only read.
///
/// Errors (`*out` untouched): NULL `network`, `out` or `x.data` (NTK_STATUS_NULL_POINTER); an
/// empty view or x without n_0 columns (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf in x
/// (NTK_STATUS_NON_FINITE, naming the entry); a size that overflows or cannot be allocated, or
/// a view spanning more than the address space (NTK_STATUS_ALLOCATION); a cancel
/// (NTK_STATUS_CANCELLED).
#[no_mangle]
pub unsafe extern "C" fn ntk_empirical_features_create(
    network: *const ntk_network,
    x: ntk_matrix,
    options: *const ntk_options,
    out: *mut *mut ntk_empirical_features,
) -> ntk_status {
    ffi_fn!("ntk_empirical_features_create", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        non_null(out, "out")?;
        // SAFETY: the memory that `x` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let xv = unsafe { x.to_ref("x") }?;
        // Shape and values are checked by EmpiricalFeatures::new (values on its copy, after
        // the allocation: a huge broadcast view fails fast with ALLOCATION).
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        let inner = with_progress(
            unsafe { options_ref(options) },
            |progress| -> Result<EmpiricalFeatures> {
                progress.report(0, 1)?;
                let f = EmpiricalFeatures::new(net, xv)?;
                progress.report(1, 1)?;
                Ok(f)
            },
        )?;
        // SAFETY: `out` was checked non-NULL above and is writable (C contract).
        unsafe { box_into(out, inner) };
        Ok(())
    })
}

/// Frees features. NULL is accepted and ignored; the handle must not be used afterwards.
/// Errors: none (returns nothing); a panic in a destructor is caught and the handle leaked.
#[no_mangle]
pub unsafe extern "C" fn ntk_empirical_features_free(features: *mut ntk_empirical_features) {
    // SAFETY: the C contract: NULL or a handle of ours, not used again.
    unsafe { free_box(features) }
}

/// Writes the number of points N of `features` to `*num_points`.
/// Errors: NULL handle or `num_points` (NTK_STATUS_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn ntk_empirical_features_len(
    features: *const ntk_empirical_features,
    num_points: *mut usize,
) -> ntk_status {
    ffi_fn!("ntk_empirical_features_len", {
        // SAFETY: `features` is NULL (an error) or a live handle of its type, only read during the
        // call (C contract).
        let f = unsafe { handle_ref(features, "features") }?;
        non_null(num_points, "num_points")?;
        // SAFETY: `num_points` is non-NULL (checked above) and writable (C contract).
        unsafe { *num_points = f.len() };
        Ok(())
    })
}

/// One block of the empirical NTK: rows i0..i1-1 of the points of `f1` against columns
/// j0..j1-1 of the points of `f2` (half-open ranges, 0 <= i0 < i1 <= N1, 0 <= j0 < j1 <= N2).
/// `f1` and `f2` may be the same handle.
///
/// - `mode` TRACE: `out` is (i1-i0) x (j1-j0), entry (i, j) = (1/n_L) sum_a Theta_aa(x1_{i0+i},
///   x2_{j0+j}); FULL: `out` is ((i1-i0)*n_L) x ((j1-j0)*n_L), entry (i*n_L + a, j*n_L + b) =
///   Theta_ab(x1_{i0+i}, x2_{j0+j}).
/// - Computed by the structured method with no work outside the block:
///   ~2 (i1-i0)(j1-j0) (sum_l n_l + k sum_{hidden} n_l) flops (k = n_L in TRACE, n_L^2 in FULL).
///   Memory: a few sub-tile buffers per thread; nothing of size N1 x N2.
/// - Bits: blocks assembled into the full matrix equal ntk_kernel_empirical with
///   NTK_KERNEL_METHOD_STRUCTURED (also for X2 = X1) bit for bit, at any thread count.
///
/// Checked before `out` is written: pointers, ranges, `mode`, the shape of `out`, and that both
/// feature sets were prepared with this network at its current parameters (same fingerprint of
/// widths, activation, beta and parameters) -> NTK_STATUS_INVALID_ARGUMENT otherwise.
/// `options`: NULL or a progress callback between sub-tiles; cancel -> NTK_STATUS_CANCELLED with
/// `out` partially written. A non-finite result (finite but huge inputs, a custom activation
/// returning NaN) gives NTK_STATUS_NUMERICAL with `out` written but unspecified.
/// Thread safety: network and features are only read; concurrent calls (e.g. different blocks
/// into disjoint outputs) are safe.
///
/// Errors (`out` untouched except for CANCELLED and NUMERICAL): NULL `network`, `f1`, `f2` or
/// `out.data` (NTK_STATUS_NULL_POINTER); an unknown `mode`, features prepared for other widths
/// or another state of the network, a range that is empty or outside its point set, `out` not
/// of the block's shape or with aliasing strides (NTK_STATUS_INVALID_ARGUMENT); a block shape
/// that overflows, a view spanning more than the address space or an unallocatable buffer
/// (NTK_STATUS_ALLOCATION); a cancel (NTK_STATUS_CANCELLED, `out` partially written); a
/// non-finite result (NTK_STATUS_NUMERICAL, `out` written but unspecified).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ntk_kernel_empirical_tile(
    network: *const ntk_network,
    f1: *const ntk_empirical_features,
    i0: usize,
    i1: usize,
    f2: *const ntk_empirical_features,
    j0: usize,
    j1: usize,
    mode: c_int,
    out: ntk_matrix_mut,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_kernel_empirical_tile", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        // SAFETY: `f1` is NULL (an error) or a live handle of its type, only read during the call
        // (C contract).
        let f1 = unsafe { handle_ref(f1, "f1") }?;
        // SAFETY: `f2` is NULL (an error) or a live handle of its type, only read during the call
        // (C contract).
        let f2 = unsafe { handle_ref(f2, "f2") }?;
        let mode = mode_from_c(mode)?;
        check_tile(net, f1, (i0, i1), f2, (j0, j1), mode, (out.rows, out.cols))?;
        let (rows, cols) = tile_shape(net, i0, i1, j0, j1, mode)?;
        out.expect_shape(rows, cols, "out")?;
        // SAFETY: the memory that `out` describes is writable for the whole call and not accessed
        // by the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing, and
        // overlaps with the other arguments are rejected before anything is written.
        let mut ov = unsafe { out.to_mut("out") }?;
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        with_progress(unsafe { options_ref(options) }, |progress| {
            empirical_tile(
                net,
                f1,
                (i0, i1),
                f2,
                (j0, j1),
                mode,
                ov.reborrow(),
                progress,
            )
        })?;
        check_finite_result(ov.as_ref(), "out")
    })
}

/// Opaque handle: N points with the per-point chains of the limit kernels of one architecture
/// (depth L, activation, beta of the network it was created from; widths play no role).
pub struct ntk_limit_points {
    pub(crate) inner: crate::kernel::limit::prepared::LimitPoints,
}
opaque_handle!(ntk_limit_points {
    inner: crate::kernel::limit::prepared::LimitPoints
});

/// Prepares the N points `x` (N x n_0, finite; n_0 must be the network's input dimension) for
/// limit-kernel tiles of the architecture of `network` (depth L, activation, beta): copies `x`
/// and computes each point's variance chain Sigma^(l)(x, x), l = 1..L (and, for activations
/// without a closed form, its Hermite expansions): O(N L) work and memory. The network may be
/// freed afterwards, except that a custom activation's functions and user data must stay valid
/// until the points are freed.
///
/// `options`: NULL or a progress callback (called on the calling thread at least every 20 ms,
/// one monotone sequence in points); cancel -> NTK_STATUS_CANCELLED and
/// `*out` is untouched. On success `*out` owns a new handle (ntk_limit_points_free).
/// Thread safety: the network is only read.
///
/// Errors (`*out` untouched): NULL `network`, `out` or `x.data` (NTK_STATUS_NULL_POINTER); an
/// empty view or x without n_0 columns (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf in x
/// (NTK_STATUS_NON_FINITE, naming the entry); a size that overflows or cannot be allocated, or
/// a view spanning more than the address space (NTK_STATUS_ALLOCATION); a cancel
/// (NTK_STATUS_CANCELLED); a non-finite variance chain or a point beyond the quadrature-panel
/// bound of ntk_kernel_limit (NTK_STATUS_NUMERICAL).
#[no_mangle]
pub unsafe extern "C" fn ntk_limit_points_create(
    network: *const ntk_network,
    x: ntk_matrix,
    options: *const ntk_options,
    out: *mut *mut ntk_limit_points,
) -> ntk_status {
    ffi_fn!("ntk_limit_points_create", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        non_null(out, "out")?;
        // SAFETY: the memory that `x` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let xv = unsafe { x.to_ref("x") }?;
        if xv.cols() != net.input_dim() {
            return crate::invalid!(
                "x has {} columns, the network's n_0 is {}",
                xv.cols(),
                net.input_dim()
            );
        }
        let spec = crate::kernel::limit::LimitSpec::of_network(net);
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        let inner = with_progress(unsafe { options_ref(options) }, |progress| {
            crate::kernel::limit::prepared::LimitPoints::new(&spec, xv, progress)
        })?;
        // SAFETY: `out` was checked non-NULL above and is writable (C contract).
        unsafe { box_into(out, inner) };
        Ok(())
    })
}

/// Frees prepared limit points. NULL is accepted and ignored; the handle must not be used afterwards.
/// Errors: none (returns nothing); a panic in a destructor is caught and the handle leaked.
#[no_mangle]
pub unsafe extern "C" fn ntk_limit_points_free(points: *mut ntk_limit_points) {
    // SAFETY: the C contract: NULL or a handle of ours, not used again.
    unsafe { free_box(points) }
}

/// Writes the number of points N of `points` to `*num_points`.
/// Errors: NULL handle or `num_points` (NTK_STATUS_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn ntk_limit_points_len(
    points: *const ntk_limit_points,
    num_points: *mut usize,
) -> ntk_status {
    ffi_fn!("ntk_limit_points_len", {
        // SAFETY: `points` is NULL (an error) or a live handle of its type, only read during the
        // call (C contract).
        let p = unsafe { handle_ref(points, "points") }?;
        non_null(num_points, "num_points")?;
        // SAFETY: `num_points` is non-NULL (checked above) and writable (C contract).
        unsafe { *num_points = p.len() };
        Ok(())
    })
}

/// One block of the limit kernels: rows i0..i1-1 of the points of `p1` against columns
/// j0..j1-1 of the points of `p2` (0 <= i0 < i1 <= N1, 0 <= j0 < j1 <= N2) of the NNGP
/// Sigma^(L), Sigma-dot^(L) and the NTK Theta^(L) (see ntk_kernel_limit for the recursion).
///
/// - `nngp`, `sigma_dot`, `ntk`: each NULL or a (i1-i0) x (j1-j0) output, element (a, b) =
///   K(x1_{i0+a}, x2_{j0+b}); at least one (all NULL -> NTK_STATUS_NULL_POINTER). Outputs must
///   not overlap each other.
/// - Same handle for `p1` and `p2`: the kernel of X2 = X1, whose diagonal entries (i = j) take
///   the per-point chain; blocks assembled equal ntk_kernel_limit with x2 = NULL bit for bit.
///   Different handles: the kernel of ntk_kernel_limit with x2 given, also bit for bit.
/// - Only the requested entries are computed: one GEMM of the inputs and L-1 pair maps per
///   entry; no memory of size N1 x N2 beyond the outputs. Bit-identical at any thread count.
///
/// Checked before anything is written: pointers, ranges, shapes, that `p1` and `p2` were
/// prepared for the same depth, activation and beta and the same n_0
/// (NTK_STATUS_INVALID_ARGUMENT otherwise), output overlap. `options`: NULL or a progress
/// callback, called on the calling thread at least every 20 ms (one monotone sequence in block
/// entries); cancel -> NTK_STATUS_CANCELLED with the outputs partially written. A non-finite
/// value in the block's layer chain (finite but huge inputs or beta, a custom activation
/// returning NaN), whichever outputs are requested, or a pair over the work budget of
/// ntk_kernel_limit gives NTK_STATUS_NUMERICAL with the outputs written but unspecified.
/// Thread safety: the points are only read; concurrent calls are safe.
///
/// Errors (outputs untouched except for CANCELLED and NUMERICAL): NULL `p1`, `p2` or an
/// output's data, or all three outputs NULL (NTK_STATUS_NULL_POINTER); p1 and p2 prepared for
/// different kernels or n_0, a range that is empty or outside its point set, an output not
/// (i1-i0) x (j1-j0), with aliasing strides or overlapping another output
/// (NTK_STATUS_INVALID_ARGUMENT); a view spanning more than the address space or an
/// unallocatable buffer (NTK_STATUS_ALLOCATION); a cancel (NTK_STATUS_CANCELLED, outputs
/// partially written); a non-finite value or a pair over the work budget
/// (NTK_STATUS_NUMERICAL, outputs written but unspecified).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ntk_kernel_limit_tile(
    p1: *const ntk_limit_points,
    i0: usize,
    i1: usize,
    p2: *const ntk_limit_points,
    j0: usize,
    j1: usize,
    nngp: *mut ntk_matrix_mut,
    sigma_dot: *mut ntk_matrix_mut,
    ntk: *mut ntk_matrix_mut,
    options: *const ntk_options,
) -> ntk_status {
    ffi_fn!("ntk_kernel_limit_tile", {
        use crate::kernel::limit::prepared::{check_limit_tile, limit_tile};
        // SAFETY: `p1` is NULL (an error) or a live handle of its type, only read during the call
        // (C contract).
        let a = unsafe { handle_ref(p1, "p1") }?;
        // SAFETY: `p2` is NULL (an error) or a live handle of its type, only read during the call
        // (C contract).
        let b = unsafe { handle_ref(p2, "p2") }?;
        let outs: [(*mut ntk_matrix_mut, &str); 3] =
            [(nngp, "nngp"), (sigma_dot, "sigma_dot"), (ntk, "ntk")];
        if outs.iter().all(|(p, _)| p.is_null()) {
            // As in ntk_kernel_limit.
            return Err(crate::Error::NullPointer(
                "nngp, sigma_dot and ntk (at least one output is required)".into(),
            ));
        }
        let descs: Vec<Option<ntk_matrix_mut>> = outs
            .iter()
            // SAFETY: `p` is NULL or points to a readable ntk_matrix_mut (C contract of an optional
            // output).
            .map(|&(p, _)| unsafe { super::view::optional_out(p) })
            .collect();
        let shapes = [0, 1, 2].map(|k| descs[k].map(|m| (m.rows, m.cols)));
        check_limit_tile(a, (i0, i1), b, (j0, j1), shapes)?;
        let mut views = Vec::new();
        for (d, (_, name)) in descs.iter().zip(outs.iter()) {
            views.push(match d {
                // SAFETY: `m`'s memory is writable and unaccessed by the caller for the call (C
                // contract); to_mut checks shape, span, self-aliasing; overlaps are rejected first.
                Some(m) => Some(unsafe { m.to_mut(name) }?),
                None => None,
            });
        }
        let given: Vec<(ntk_matrix_mut, &str)> = descs
            .iter()
            .zip(outs.iter())
            .filter_map(|(d, &(_, name))| d.map(|m| (m, name)))
            .collect();
        super::view::check_outputs(&given, &[])?;
        let mut it = views.iter_mut();
        let mut take = || it.next().and_then(|v| v.as_mut().map(|v| v.reborrow()));
        let out = crate::kernel::limit::BlockOutputs {
            nngp: take(),
            sigma_dot: take(),
            ntk: take(),
        };
        // Non-finite results come back as Numerical from limit_tile (checked per row).
        // SAFETY: `options` is NULL or a readable ntk_options whose callback may be
        // called during this call (C contract).
        with_progress(unsafe { options_ref(options) }, |progress| {
            limit_tile(a, (i0, i1), b, (j0, j1), out, progress)
        })
    })
}
