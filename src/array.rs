//! The Rust API on [`ndarray`] arrays: [`ArrayView2`] in, [`Array2`] out.
//!
//! Each function is a thin layer over the strided entry point it names: the views are handed
//! to it without a copy (an `ArrayView2` of any layout, transposed or sliced with steps,
//! becomes a [`MatRef`] with the same pointer and element strides), and the result is written
//! straight into a freshly allocated row-major `Array2`. The results are bit-identical to the
//! strided path (tests/array_api.rs checks it for contiguous, transposed and stepped views).
//!
//! ```
//! use ndarray::array;
//! use ntk::activation::Activation;
//! use ntk::network::{Network, NetworkConfig};
//!
//! let net = Network::new(NetworkConfig {
//!     widths: vec![2, 16, 1],
//!     activation: Activation::Relu,
//!     beta: 0.1,
//!     seed: 7,
//! })?;
//! let x = array![[1.0, 0.0], [0.6, 0.8], [0.0, -1.0]];
//! let f = ntk::array::forward(&net, x.view())?; // 3 × 1
//! let theta = ntk::array::empirical_ntk(&net, x.view(), None)?; // 3 × 3, symmetric
//! assert_eq!(f.dim(), (3, 1));
//! assert_eq!(theta[[0, 2]], theta[[2, 0]]);
//! # Ok::<(), ntk::Error>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use crate::kernel::empirical::{self, KernelMethod, KernelMode};
use crate::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use crate::linalg::{MatMut, MatRef};
use crate::network::Network;
use crate::parallel::Progress;
use crate::Result;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// The strided view of an `ArrayView2`: same pointer, same element strides, no copy. O(1).
pub fn mat_ref<'a>(a: ArrayView2<'a, f64>) -> MatRef<'a> {
    let (rows, cols) = a.dim();
    let s = a.strides();
    // SAFETY: an ArrayView2 guarantees that element (i, j) at ptr + i·s[0] + j·s[1] is valid
    // and not written for 'a for every i < rows, j < cols: exactly MatRef::from_raw's contract.
    unsafe { MatRef::from_raw(a.as_ptr(), rows, cols, s[0], s[1]) }
}

/// The strided mutable view of an `ArrayViewMut2`: same pointer and strides, no copy. O(1).
pub fn mat_mut<'a>(mut a: ArrayViewMut2<'a, f64>) -> MatMut<'a> {
    let (rows, cols) = a.dim();
    let (rs, cs) = (a.strides()[0], a.strides()[1]);
    let ptr = a.as_mut_ptr();
    // SAFETY: an ArrayViewMut2 is an exclusive borrow for 'a of elements that are valid for
    // writes, and ndarray never lets a mutable view address one element twice (no zero or
    // overlapping strides), as MatMut::from_raw requires.
    unsafe { MatMut::from_raw(ptr, rows, cols, rs, cs) }
}

/// A row-major `rows × cols` array of zeros, with an `Error::Allocation` instead of an abort
/// when it cannot be had.
fn zeros(rows: usize, cols: usize, what: &str) -> Result<Array2<f64>> {
    let len = crate::error::checked_mul(rows, cols, what)?;
    let v = crate::error::try_zeroed(len, what)?;
    Ok(Array2::from_shape_vec((rows, cols), v).expect("rows·cols elements"))
}

/// f_θ(X): the network's outputs for the rows of `x` (N × n_0), as an N × n_L array.
/// Layer by layer h^(l+1) = W^(l) σ(h^(l)) / √n_l + β b^(l) ([`Network::forward`]).
///
/// Cost: one GEMM per layer, 2·N·Σ_l n_l·n_{l+1} flops.
///
/// # Errors
/// `InvalidArgument` when `x` does not have n_0 columns, `NonFinite` for NaN/±Inf in `x`,
/// `Numerical` when the result overflows, `Allocation` when the output cannot be allocated.
pub fn forward(net: &Network, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
    let mut out = zeros(x.nrows(), net.output_dim(), "forward output")?;
    net.forward(mat_ref(x), mat_mut(out.view_mut()))?;
    Ok(out)
}

/// The empirical NTK Θ̂(x, x′) = Σ_p ∂f(x)/∂θ_p · ∂f(x′)/∂θ_p of `net`, traced over the
/// outputs (Σ_k of the n_L diagonal blocks: N1 × N2), between the rows of `x1` and of `x2`
/// (`None`: X2 = X1, computed as one triangle and mirrored). See [`empirical::empirical_ntk`];
/// [`empirical_ntk_with`] chooses the mode and method.
///
/// Cost: the cheaper of the Jacobian contraction (N1·N2·P) and the structured per-layer form,
/// chosen by flop count ([`empirical::choose_method`]).
///
/// # Errors
/// As [`empirical::empirical_ntk`]: `InvalidArgument` for wrong columns or no rows, `NonFinite`
/// for NaN/±Inf inputs, `Allocation` when the output cannot be allocated.
pub fn empirical_ntk(
    net: &Network,
    x1: ArrayView2<'_, f64>,
    x2: Option<ArrayView2<'_, f64>>,
) -> Result<Array2<f64>> {
    empirical_ntk_with(net, x1, x2, KernelMode::Trace, KernelMethod::Auto)
}

/// [`empirical_ntk`] with an explicit mode (`Full`: the (N1·n_L) × (N2·n_L) kernel, block (i, j)
/// being the n_L × n_L matrix J(x_i) J(x_j)ᵀ) and method.
///
/// # Errors
/// As [`empirical_ntk`].
pub fn empirical_ntk_with(
    net: &Network,
    x1: ArrayView2<'_, f64>,
    x2: Option<ArrayView2<'_, f64>>,
    mode: KernelMode,
    method: KernelMethod,
) -> Result<Array2<f64>> {
    let n2 = x2.as_ref().map_or(x1.nrows(), |v| v.nrows());
    let (r, c) = empirical::output_shape(net, x1.nrows(), n2, mode)?;
    let mut out = zeros(r, c, "kernel")?;
    empirical::empirical_ntk(
        net,
        mat_ref(x1),
        x2.map(mat_ref),
        mode,
        method,
        mat_mut(out.view_mut()),
        &mut Progress::none(),
    )?;
    Ok(out)
}

/// The infinite-width kernels of a [`LimitSpec`] between two point sets.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitKernels {
    /// Σ^(L)(x, x′), the NNGP kernel (N1 × N2).
    pub nngp: Array2<f64>,
    /// Θ^(L)_∞(x, x′), the limit NTK (N1 × N2).
    pub ntk: Array2<f64>,
}

/// The limit NNGP Σ^(L) and NTK Θ^(L)_∞ between the rows of `x1` and `x2` (`None`: X2 = X1),
/// by the recursion Σ^(1) = xᵀx′/n_0 + β², Σ^(l+1) = E[σ(u)σ(v)] + β²,
/// Θ^(l+1) = Θ^(l) Σ̇^(l+1) + Σ^(l+1) ([`limit_kernel`]).
///
/// Cost: the Gram X1 X2ᵀ (N1·N2·n_0 flops) plus O(N1·N2·L) kernel maps (closed forms for ReLU,
/// erf, identity; quadrature otherwise).
///
/// # Errors
/// As [`limit_kernel`]: `InvalidArgument` for mismatched columns or an invalid spec, `NonFinite`
/// for NaN/±Inf inputs, `Allocation` when the outputs cannot be allocated.
///
/// ```
/// use ndarray::array;
/// use ntk::activation::Activation;
/// use ntk::kernel::limit::LimitSpec;
///
/// let x = array![[1.0, 0.0], [0.0, 1.0]];
/// // σ = identity, depth 1: Σ = Θ = xᵀx′/n_0 + β².
/// let k = ntk::array::limit_kernels(&LimitSpec::new(1, Activation::Identity, 0.5), x.view(), None)?;
/// assert!((k.nngp[[0, 0]] - 0.75).abs() < 1e-15 && (k.ntk[[0, 1]] - 0.25).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn limit_kernels(
    spec: &LimitSpec,
    x1: ArrayView2<'_, f64>,
    x2: Option<ArrayView2<'_, f64>>,
) -> Result<LimitKernels> {
    let n1 = x1.nrows();
    let n2 = x2.as_ref().map_or(n1, |v| v.nrows());
    let mut nngp = zeros(n1, n2, "nngp")?;
    let mut ntk = zeros(n1, n2, "ntk")?;
    limit_kernel(
        spec,
        mat_ref(x1),
        x2.map(mat_ref),
        LimitOutputs {
            nngp: Some(mat_mut(nngp.view_mut())),
            sigma_dot: None,
            ntk: Some(mat_mut(ntk.view_mut())),
        },
        &mut Progress::none(),
    )?;
    Ok(LimitKernels { nngp, ntk })
}
