//! Prepared points and kernel tiles: any block Θ(X1\[i0:i1\], X2\[j0:j1\]) of the empirical NTK,
//! computed straight into a caller-provided strided view from per-point features computed once.
//!
//! [`EmpiricalFeatures`] owns a copy of the points and their `BatchFeatures` (one forward pass
//! and n_L backward passes: α^(l)(x) and δ^(l)_a(x) for every point), plus a
//! `NetworkFingerprint` of the network they were computed with. [`empirical_tile`] then evaluates
//! the structured form (see `structured`)
//!   Θ_ab(x, x′) = Σ_l (α^(l)(x)·α^(l)(x′)/n_l + β²) · (δ^(l+1)_a(x)·δ^(l+1)_b(x′))
//! for the requested block only: cost 2·B1·B2·(A + k·H) flops (B1 = i1 − i0, B2 = j1 − j0; A, H,
//! k as in [`super::method`]), no work outside the block. Peak extra memory: the features,
//! O(N·n_L·Σ n_l) doubles per point set, plus a few tile buffers per thread — independent of the
//! size of the full kernel, so a kernel larger than memory can be streamed block by block.
//!
//! Bits: every entry of a block is produced by the same operations as the corresponding entry of
//! [`super::empirical_ntk`] with [`super::KernelMethod::Structured`] (GEMM entries do not depend on
//! where the block starts or how large it is, and x·x′ = x′·x exactly), so blocks assembled
//! into the full matrix equal it bit for bit, at any thread count. Features computed on a
//! subset of the points equal those computed on the whole set, so ranks of a distributed
//! computation may each prepare only their own rows.

use super::features::BatchFeatures;
use super::tiles::{point_tiles, tile_points};
use super::{output_shape, KernelMode};
use crate::error::{checked_mul, try_zeroed};
use crate::linalg::{MatMut, MatRef};
use crate::network::Network;
use crate::parallel::{for_each_item, Progress};
use crate::{invalid, Result};

/// A 64-bit FNV-1a hash of everything that determines the features: widths, activation, β and
/// the bits of every parameter. Features are only combined with a network of equal fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NetworkFingerprint(pub u64);

impl NetworkFingerprint {
    /// O(P) to compute.
    pub fn of(net: &Network) -> NetworkFingerprint {
        let mut h = crate::kernel::hash::Fnv1a::new();
        let mut eat = |bytes: &[u8]| h.write(bytes);
        for &w in net.widths() {
            eat(&(w as u64).to_le_bytes());
        }
        let arch = net.architecture();
        eat(format!("{:?}", arch.parameterization).as_bytes());
        for ls in &arch.layers {
            eat(format!("{:?}", ls.activation).as_bytes());
            if let Some(crate::activation::Activation::Custom(f)) = &ls.activation {
                // Two custom activations are only the same if they are the same object.
                eat(&(std::sync::Arc::as_ptr(f) as *const () as usize as u64).to_le_bytes());
            }
            eat(&ls.sigma_w.to_bits().to_le_bytes());
            eat(&ls.sigma_b.to_bits().to_le_bytes());
        }
        for &p in net.params() {
            eat(&p.to_bits().to_le_bytes());
        }
        NetworkFingerprint(h.finish())
    }
}

/// The per-point features of N points, owning a copy of the points.
pub struct EmpiricalFeatures {
    // Declared before `_points`, so it is dropped first: it borrows that buffer.
    features: BatchFeatures<'static>,
    /// Row-major copy of the points (N × n_0); its heap buffer never moves or changes.
    _points: Vec<f64>,
    fingerprint: NetworkFingerprint,
    widths: Vec<usize>,
}

impl EmpiricalFeatures {
    /// Copies `x` (N × n_0, N ≥ 1, finite) and computes its features on the library pool.
    /// Cost: one forward and n_L backward passes over the N points; memory O(N·n_L·Σ n_l).
    ///
    /// # Errors
    /// `InvalidArgument` (no rows, wrong number of columns), `NonFinite` (x), `Allocation`.
    pub fn new(net: &Network, x: MatRef<'_>) -> Result<EmpiricalFeatures> {
        if x.cols() != net.input_dim() {
            // The column count first (as check_input does), without scanning the values.
            net.check_input(x, "x")?;
        }
        if x.rows() == 0 {
            return invalid!("x needs at least one row (point)");
        }
        // The copy is allocated before the values are checked: a broadcast (zero-stride) view
        // of 2^40 points fails here with ALLOCATION at once, instead of a 2^40-element scan.
        let (n, n0) = (x.rows(), x.cols());
        let mut points = try_zeroed(checked_mul(n, n0, "points")?, "points")?;
        for i in 0..n {
            x.copy_row(i, &mut points[i * n0..(i + 1) * n0]);
        }
        net.check_input(MatRef::from_row_major(&points, n, n0), "x")?;
        // SAFETY: the view points into the heap buffer of `points`, which is stored next to the
        // features, never written or reallocated, and outlives them (field drop order).
        let view: MatRef<'static> =
            unsafe { MatRef::from_raw(points.as_ptr(), n, n0, n0 as isize, 1) };
        let features = crate::parallel::install(|| BatchFeatures::compute(net, view))??;
        Ok(EmpiricalFeatures {
            features,
            _points: points,
            fingerprint: NetworkFingerprint::of(net),
            widths: net.widths().to_vec(),
        })
    }

    /// Number of points N.
    pub fn len(&self) -> usize {
        self.features.n
    }

    /// Always false (a feature set has at least one point).
    pub fn is_empty(&self) -> bool {
        self.features.n == 0
    }

    /// The features themselves.
    pub fn batch(&self) -> &BatchFeatures<'static> {
        &self.features
    }
}

/// Checks that `f` was computed with `net` (same widths, activation, β and parameters).
fn check_belongs(
    net: &Network,
    fp: NetworkFingerprint,
    f: &EmpiricalFeatures,
    name: &str,
) -> Result<()> {
    if f.widths != net.widths() {
        return invalid!(
            "{name} was computed for widths {:?}, the network has {:?}",
            f.widths,
            net.widths()
        );
    }
    if f.fingerprint != fp {
        return invalid!(
            "{name} was computed with different parameters, activation or beta than the network \
             (fingerprint {:#018x} vs {:#018x}); recompute the features after changing the network",
            f.fingerprint.0,
            fp.0
        );
    }
    Ok(())
}

/// Checks a half-open range [r0, r1) of a set of `n` points; `names` are the C argument names
/// of r0, r1 and the point set (e.g. "i0", "i1", "f1").
fn check_range(r0: usize, r1: usize, n: usize, names: [&str; 3]) -> Result<()> {
    let [a, b, set] = names;
    if r0 >= r1 || r1 > n {
        return invalid!(
            "{a} = {r0}, {b} = {r1}: [{a}, {b}) is not a non-empty range of the {n} points of {set} (need {a} < {b} <= {n})"
        );
    }
    Ok(())
}

/// The shape of the block rows i0..i1 × columns j0..j1 in `mode`.
///
/// # Errors
/// `Allocation` when the shape overflows `usize` (the ranges themselves are checked by
/// [`empirical_tile`]).
pub fn tile_shape(
    net: &Network,
    i0: usize,
    i1: usize,
    j0: usize,
    j1: usize,
    mode: KernelMode,
) -> Result<(usize, usize)> {
    output_shape(net, i1.saturating_sub(i0), j1.saturating_sub(j0), mode)
}

/// Validates everything [`empirical_tile`] validates, without computing.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_tile(
    net: &Network,
    f1: &EmpiricalFeatures,
    (i0, i1): (usize, usize),
    f2: &EmpiricalFeatures,
    (j0, j1): (usize, usize),
    mode: KernelMode,
    out_shape: (usize, usize),
) -> Result<()> {
    let fp = NetworkFingerprint::of(net);
    check_belongs(net, fp, f1, "f1")?;
    check_belongs(net, fp, f2, "f2")?;
    check_range(i0, i1, f1.len(), ["i0", "i1", "f1"])?;
    check_range(j0, j1, f2.len(), ["j0", "j1", "f2"])?;
    let (r, c) = tile_shape(net, i0, i1, j0, j1, mode)?;
    if out_shape != (r, c) {
        return invalid!(
            "out is {}x{}, expected {r}x{c} for rows [{i0}, {i1}) x columns [{j0}, {j1}) in {} mode",
            out_shape.0,
            out_shape.1,
            if mode == KernelMode::Full { "full" } else { "trace" }
        );
    }
    Ok(())
}

/// Computes the block Θ(X1\[i0:i1\], X2\[j0:j1\]) in `mode` into `out`
/// ((i1−i0) × (j1−j0) in trace mode, ((i1−i0)·n_L) × ((j1−j0)·n_L) in full mode; entry
/// (i·n_L + a, j·n_L + b) = Θ_ab(x1_{i0+i}, x2_{j0+j})).
///
/// Everything (features computed with this very network, ranges, shape) is checked before
/// `out` is written. The block is cut into fixed sub-tiles run in parallel on the library pool;
/// on `Err(Cancelled)` it holds a mix of finished sub-tiles and old values.
///
/// Cost: the structured form on the prepared features, about 2·Σ_l n_l per entry (trace) and
/// per layer; no forward or backward pass.
///
/// # Errors
/// `InvalidArgument` (features of another network, ranges empty or outside the sets, `out`'s
/// shape), `Cancelled` (progress).
///
/// ```
/// use ntk::{empirical_tile, Activation, EmpiricalFeatures, KernelMode, MatMut, MatRef, Network, NetworkConfig, Progress};
///
/// // L = 1: Θ(x, x′) = x·x′/n_0 + β².
/// let net = Network::new(NetworkConfig { widths: vec![2, 1], activation: Activation::Relu, beta: 0.5, seed: 4 })?;
/// let x = [1.0, 2.0, -1.0, 0.5, 3.0, 0.0];
/// let f = EmpiricalFeatures::new(&net, MatRef::from_row_major(&x, 3, 2))?;
/// let mut t = [0.0; 2]; // rows 0..1, columns 1..3
/// empirical_tile(&net, &f, (0, 1), &f, (1, 3), KernelMode::Trace, MatMut::from_row_major(&mut t, 1, 2), &mut Progress::none())?;
/// assert!((t[0] - (0.0 / 2.0 + 0.25)).abs() < 1e-15 && (t[1] - (3.0 / 2.0 + 0.25)).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn empirical_tile(
    net: &Network,
    f1: &EmpiricalFeatures,
    rows: (usize, usize),
    f2: &EmpiricalFeatures,
    cols: (usize, usize),
    mode: KernelMode,
    out: MatMut<'_>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    check_tile(net, f1, rows, f2, cols, mode, (out.rows(), out.cols()))?;
    let full = mode == KernelMode::Full;
    let k = net.output_dim();
    let s = if full { k } else { 1 };
    let b = tile_points(full, k);
    let (i0, j0) = (rows.0, cols.0);
    let subtiles = point_tiles(rows.1 - i0, cols.1 - j0, b, false);
    let shared = out.into_shared();
    for_each_item(subtiles.len(), progress, |t| {
        let r = subtiles[t];
        // SAFETY: the sub-tiles partition the block.
        let ob = unsafe { shared.block(r.i0 * s, r.i1 * s, r.j0 * s, r.j1 * s) };
        let abs = super::tiles::Tile {
            i0: i0 + r.i0,
            i1: i0 + r.i1,
            j0: j0 + r.j0,
            j1: j0 + r.j1,
        };
        super::structured::compute_tile(net, f1.batch(), f2.batch(), abs, full, ob);
    })
}
