//! The empirical (finite-width) neural tangent kernel and the parameter Jacobian.
//!
//! For a network f_θ with n_L outputs and points x, x′ (rows of X1, N1 × n_0, and X2, N2 × n_0),
//! the empirical NTK is the n_L × n_L matrix
//!   Θ_ab(x, x′) = Σ_p ∂_{θ_p} f_a(x) · ∂_{θ_p} f_b(x′)      (Jacot et al. 2018, section 4).
//!
//! # Modes and index order
//! - [`KernelMode::Full`]: every block, as an (N1·n_L) × (N2·n_L) matrix whose entry
//!   (row i·n_L + a, column j·n_L + b) is Θ_ab(x1_i, x2_j).
//! - [`KernelMode::Trace`]: the N1 × N2 matrix of block traces divided by n_L,
//!   (1/n_L) Σ_a Θ_aa(x1_i, x2_j); this is the quantity that converges to Θ_∞ (Theorem 5.1), since
//!   Θ → Θ_∞ ⊗ Id_{n_L}.
//!
//! When X2 is absent (or the same view as X1) the kernel is symmetric: only the lower
//! block-triangle of tiles is computed and mirrored, so the result is exactly symmetric.
//!
//! # Methods
//! Both start with one forward pass and n_L backward passes per batch (one per output
//! cotangent e_a), giving α^(l)(x) (N × n_l) and δ^(l)_a(x) = ∂f_a/∂α̃^(l) (N × n_l per output).
//! - [`KernelMethod::JacobianContraction`] forms the Jacobian J (rows i·n_L + a, columns in θ order) a
//!   block of parameter columns at a time and accumulates J1 · J2ᵀ ([`contraction`]).
//! - [`KernelMethod::Structured`] never forms J: a dense layer l contributes
//!   (α^(l)(x)·α^(l)(x′)/n_l + β²) · (δ^(l+1)_a(x) · δ^(l+1)_b(x′)), see `structured`
//!   (Novak, Sohl-Dickstein & Schoenholz 2022, "Fast finite width neural tangent kernel").
//! - [`KernelMethod::Auto`] takes the one with the smaller flop count of [`method::flop_count`].
//!
//! Both methods are parallel over fixed tiles of the output (boundaries independent of the thread
//! count) and bit-identical at any thread count.

pub mod contraction;
pub(crate) mod features;
pub(crate) mod jacobian;
pub mod method;
pub mod prepared;
pub(crate) mod structured;
pub(crate) mod tiles;

pub use jacobian::jacobian;
pub use method::{choose_method, flop_count, FlopCount};

use crate::linalg::{MatMut, MatRef};
use crate::network::Network;
use crate::parallel::Progress;
use crate::{invalid, Result};

/// Which part of the n_L × n_L blocks is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelMode {
    /// N1 × N2: (1/n_L) Σ_a Θ_aa(x_i, x′_j).
    Trace,
    /// (N1·n_L) × (N2·n_L): entry (i·n_L + a, j·n_L + b) = Θ_ab(x_i, x′_j).
    Full,
}

/// How the empirical kernel is computed (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelMethod {
    /// The cheaper of the two by [`method::flop_count`].
    Auto,
    /// J1 · J2ᵀ with J built a block of parameters at a time.
    JacobianContraction,
    /// The per-layer structured form; never forms J.
    Structured,
}

/// The shape of the output of [`empirical_ntk`] for N1, N2 points.
///
/// # Errors
/// `Allocation` when N·n_L overflows `usize`.
pub fn output_shape(
    net: &Network,
    n1: usize,
    n2: usize,
    mode: KernelMode,
) -> Result<(usize, usize)> {
    match mode {
        KernelMode::Trace => Ok((n1, n2)),
        KernelMode::Full => {
            let k = net.output_dim();
            Ok((
                crate::error::checked_mul(n1, k, "kernel rows")?,
                crate::error::checked_mul(n2, k, "kernel columns")?,
            ))
        }
    }
}

/// Computes the empirical NTK Θ_ab(x, x′) = Σ_p ∂_p f_a(x)·∂_p f_b(x′) of `net` between the rows
/// of `x1` and of `x2` (`None`: X2 = X1, one triangle computed and mirrored) into `out` (shape
/// from [`output_shape`]: N1 × N2 of Σ_a Θ_aa in [`KernelMode::Trace`], (N1·n_L) × (N2·n_L) in
/// [`KernelMode::Full`]).
///
/// Cost: the structured per-layer form or the Jacobian contraction (N1·N2·P per output pair),
/// the cheaper by [`flop_count`] under [`KernelMethod::Auto`].
///
/// All inputs are checked (columns, finite values, output shape) before `out` is written. On
/// `Err(Cancelled)` from the progress callback, `out` holds a partial result (unspecified).
/// Runs on the library's thread pool; the result does not depend on the thread count.
///
/// # Errors
/// `InvalidArgument` (columns, no rows, output shape), `NonFinite` (inputs), `Allocation`,
/// `Cancelled` (progress).
///
/// ```
/// use ntk::{Activation, KernelMethod, KernelMode, MatMut, MatRef, Network, NetworkConfig, Progress};
///
/// // L = 1: Θ(x, x′) = x·x′/n_0 + β² exactly, for any θ.
/// let net = Network::new(NetworkConfig { widths: vec![2, 1], activation: Activation::Relu, beta: 0.5, seed: 4 })?;
/// let x = [1.0, 2.0, -1.0, 0.5];
/// let mut k = [0.0; 4];
/// ntk::empirical_ntk(&net, MatRef::from_row_major(&x, 2, 2), None, KernelMode::Trace, KernelMethod::Auto,
///     MatMut::from_row_major(&mut k, 2, 2), &mut Progress::none())?;
/// assert!((k[1] - ((-1.0 + 1.0) / 2.0 + 0.25)).abs() < 1e-15);
/// assert!((k[0] - (5.0 / 2.0 + 0.25)).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn empirical_ntk(
    net: &Network,
    x1: MatRef<'_>,
    x2: Option<MatRef<'_>>,
    mode: KernelMode,
    method: KernelMethod,
    out: MatMut<'_>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    net.check_input(x1, "x1")?;
    let x2 = match x2 {
        Some(v) if v.same_as(&x1) => None,
        other => other,
    };
    if let Some(v) = x2 {
        net.check_input(v, "x2")?;
    }
    if x1.rows() == 0 || x2.is_some_and(|v| v.rows() == 0) {
        return invalid!("x1 and x2 need at least one row (point)");
    }
    let n2 = x2.map_or(x1.rows(), |v| v.rows());
    let (rows, cols) = output_shape(net, x1.rows(), n2, mode)?;
    if out.rows() != rows || out.cols() != cols {
        return invalid!(
            "out is {}x{}, expected {rows}x{cols} ({} mode)",
            out.rows(),
            out.cols(),
            if mode == KernelMode::Full {
                "full"
            } else {
                "trace"
            }
        );
    }
    let chosen = choose_method(net, x1.rows(), n2, x2.is_none(), mode, method);
    let (f1, f2) = crate::parallel::install(|| -> Result<_> {
        let f1 = features::BatchFeatures::compute(net, x1)?;
        let f2 = match x2 {
            Some(v) => Some(features::BatchFeatures::compute(net, v)?),
            None => None,
        };
        Ok((f1, f2))
    })??;
    match chosen {
        KernelMethod::Structured => structured::kernel(net, &f1, f2.as_ref(), mode, out, progress),
        _ => contraction::kernel(net, &f1, f2.as_ref(), mode, out, progress),
    }
}

/// Convenience wrapper returning the kernel as a row-major `Vec` with its shape.
///
/// # Errors
/// As [`empirical_ntk`] (the output is allocated fallibly: `Allocation`).
pub fn empirical_ntk_vec(
    net: &Network,
    x1: MatRef<'_>,
    x2: Option<MatRef<'_>>,
    mode: KernelMode,
    method: KernelMethod,
) -> Result<(Vec<f64>, usize, usize)> {
    let n2 = x2.map_or(x1.rows(), |v| v.rows());
    let (r, c) = output_shape(net, x1.rows(), n2, mode)?;
    let mut out = crate::error::try_zeroed(crate::error::checked_mul(r, c, "kernel")?, "kernel")?;
    empirical_ntk(
        net,
        x1,
        x2,
        mode,
        method,
        MatMut::from_row_major(&mut out, r, c),
        &mut Progress::none(),
    )?;
    Ok((out, r, c))
}
