//! The parameter Jacobian ∂f/∂θ of a batch.
//!
//! Row i·n_L + a, column p (θ order of [`crate::network`]: W^(0) row-major, b^(0), W^(1), …):
//!   ∂f_a(x_i)/∂W^(l)_{jk} = s_w^(l) · δ^(l+1)_a(x_i)_j · α^(l)_k(x_i),
//!   ∂f_a(x_i)/∂b^(l)_j    = s_b^(l) · δ^(l+1)_a(x_i)_j,
//! with s_w = σ_w/√n_l, s_b = σ_b (NTK parameterization) or s_w = s_b = 1 (standard),
//! with δ^(L)_a = e_a. Building it costs one forward pass, n_L backward passes and N·n_L·P
//! multiplications; it needs (N·n_L)·P doubles of output.

use super::features::BatchFeatures;
use crate::linalg::{MatMut, MatRef};
use crate::network::Network;
use crate::parallel::Progress;
use crate::{invalid, Result};

/// Per-point scratch: s_w^(l) α^(l)(x_i) for every layer, and the one-hot δ^(L)_a.
pub(crate) struct RowScratch {
    scaled_act: Vec<Vec<f64>>,
    onehot: Vec<f64>,
}

impl RowScratch {
    pub(crate) fn new(net: &Network) -> Self {
        let w = net.widths();
        RowScratch {
            scaled_act: (0..net.depth()).map(|l| vec![0.0; w[l]]).collect(),
            onehot: vec![0.0; net.output_dim()],
        }
    }

    /// Loads s_w^(l) α^(l)(x_i) for point i.
    pub(crate) fn load_point(&mut self, net: &Network, f: &BatchFeatures<'_>, i: usize) {
        for (l, buf) in self.scaled_act.iter_mut().enumerate() {
            let s = net.weight_scale(l);
            let act = f.activation(l);
            for (k, v) in buf.iter_mut().enumerate() {
                *v = act.at(i, k) * s;
            }
        }
    }
}

/// Writes columns c0..c1 of row (i, a) of J into `row` (length c1 − c0). `scratch` must hold
/// point i (see [`RowScratch::load_point`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn jacobian_row(
    net: &Network,
    f: &BatchFeatures<'_>,
    scratch: &mut RowScratch,
    i: usize,
    a: usize,
    c0: usize,
    c1: usize,
    row: &mut [f64],
) {
    debug_assert_eq!(row.len(), c1 - c0);
    let w = net.widths();
    let depth = net.depth();
    scratch.onehot.fill(0.0);
    scratch.onehot[a] = 1.0;
    for l in 0..depth {
        let (lo, hi) = (net.layer_offset(l), net.layer_offset(l + 1));
        if hi <= c0 || lo >= c1 {
            continue;
        }
        let (n_in, n_out) = (w[l], w[l + 1]);
        let beta = net.bias_scale(l);
        let delta: &[f64] = if l + 1 < depth {
            f.delta(l + 1, i, a)
        } else {
            &scratch.onehot
        };
        let act = &scratch.scaled_act[l];
        let nw = n_in * n_out;
        // Weight part: local indices q in [q0, q1) ∩ [0, nw).
        let q0 = c0.max(lo) - lo;
        let q1 = c1.min(hi) - lo;
        let mut q = q0;
        while q < q1.min(nw) {
            let j = q / n_in;
            let k0 = q % n_in;
            let k1 = n_in.min(k0 + (q1.min(nw) - q));
            let dj = delta[j];
            let dst = &mut row[lo + q - c0..lo + q - c0 + (k1 - k0)];
            for (d, av) in dst.iter_mut().zip(&act[k0..k1]) {
                *d = dj * av;
            }
            q += k1 - k0;
        }
        // Bias part.
        let mut q = q0.max(nw);
        while q < q1 {
            row[lo + q - c0] = beta * delta[q - nw];
            q += 1;
        }
    }
}

/// Points per work item when filling J (fixed, independent of the thread count).
const POINTS_PER_ITEM: usize = 16;

/// Fills columns c0..c1 of J for points p0..p1 into `out` ((p1−p0)·n_L × (c1−c0), any strides).
pub(crate) fn fill_block(
    net: &Network,
    f: &BatchFeatures<'_>,
    p0: usize,
    p1: usize,
    c0: usize,
    c1: usize,
    mut out: MatMut<'_>,
) {
    let n_out = net.output_dim();
    let mut scratch = RowScratch::new(net);
    let contiguous = out.col_stride() == 1;
    let mut row = if contiguous {
        Vec::new()
    } else {
        vec![0.0; c1 - c0]
    };
    for i in p0..p1 {
        scratch.load_point(net, f, i);
        for a in 0..n_out {
            let r = (i - p0) * n_out + a;
            if contiguous {
                // SAFETY: row r of `out` is c1 − c0 consecutive elements owned by this view.
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(
                        out.as_mut_ptr().offset(r as isize * out.row_stride()),
                        c1 - c0,
                    )
                };
                jacobian_row(net, f, &mut scratch, i, a, c0, c1, dst);
            } else {
                jacobian_row(net, f, &mut scratch, i, a, c0, c1, &mut row);
                for (c, v) in row.iter().enumerate() {
                    out.set(r, c, *v);
                }
            }
        }
    }
}

/// Fills columns c0..c1 of J for all points of `f` into `out` (N·n_L × (c1 − c0)), in parallel
/// over fixed blocks of points, calling `progress` between waves.
pub(crate) fn fill_columns(
    net: &Network,
    f: &BatchFeatures<'_>,
    c0: usize,
    c1: usize,
    out: MatMut<'_>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    let n_out = net.output_dim();
    let items = f.n.div_ceil(POINTS_PER_ITEM);
    let shared = out.into_shared();
    crate::parallel::for_each_item(items, progress, |it| {
        let p0 = it * POINTS_PER_ITEM;
        let p1 = (p0 + POINTS_PER_ITEM).min(f.n);
        // SAFETY: items own disjoint row ranges.
        let blk = unsafe { shared.block(p0 * n_out, p1 * n_out, 0, c1 - c0) };
        fill_block(net, f, p0, p1, c0, c1, blk);
    })
}

/// Writes the parameter Jacobian J[i·n_L + a, p] = ∂f_a(x_i)/∂θ_p of the batch `x` (N × n_0)
/// into `out` ((N·n_L) × P, columns in θ order), by one forward and n_L backward passes.
/// Everything is checked before `out` is written; on `Err(Cancelled)` `out` is partially
/// written. Result independent of the thread count.
///
/// Cost: about 2·N·n_L·Σ_l n_l·n_{l+1} flops plus writing N·n_L·P entries.
///
/// # Errors
/// `InvalidArgument` for the wrong number of columns or an `out` that is not (N·n_L) × P,
/// `NonFinite` for NaN/±Inf in `x`, `Allocation`, `Cancelled` (progress).
///
/// ```
/// use ntk::{Activation, MatMut, MatRef, Network, NetworkConfig, Progress};
///
/// // L = 1: f(x) = w·x/√n_0 + β b, so ∂f/∂w_j = x_j/√2 and ∂f/∂b = β, whatever θ is.
/// let net = Network::new(NetworkConfig { widths: vec![2, 1], activation: Activation::Tanh, beta: 0.5, seed: 9 })?;
/// let x = [1.0, 0.5];
/// let mut j = [0.0; 3]; // P = 2 weights + 1 bias
/// ntk::jacobian(&net, MatRef::from_row_major(&x, 1, 2), MatMut::from_row_major(&mut j, 1, 3), &mut Progress::none())?;
/// let mut got = j.to_vec();
/// got.sort_by(f64::total_cmp);
/// let s = 2f64.sqrt();
/// let mut want = vec![1.0 / s, 0.5 / s, 0.5];
/// want.sort_by(f64::total_cmp);
/// assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-15));
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn jacobian(
    net: &Network,
    x: MatRef<'_>,
    out: MatMut<'_>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    net.check_input(x, "x")?;
    let rows = crate::error::checked_mul(x.rows(), net.output_dim(), "jacobian rows")?;
    if out.rows() != rows || out.cols() != net.num_params() {
        return invalid!(
            "out is {}x{}, expected {rows}x{} ((N*n_L) x P)",
            out.rows(),
            out.cols(),
            net.num_params()
        );
    }
    let f = crate::parallel::install(|| BatchFeatures::compute(net, x))??;
    fill_columns(net, &f, 0, net.num_params(), out, progress)
}
