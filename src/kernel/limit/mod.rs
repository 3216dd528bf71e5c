//! Infinite-width (limit) kernels: the NNGP Σ^(L), its derivative kernel Σ̇^(L) and the neural
//! tangent kernel Θ^(L)_∞ of a depth-L fully connected network (Jacot, Gabriel & Hongler 2018).
//!
//! # Recursion (NTK parameterization, L weight layers, σ applied L−1 times)
//! Σ^(1)(x, x′) = xᵀx′/n_0 + β²,  Θ^(1) = Σ^(1), and for l = 1 … L−1, with (u, v) ~ N(0, Λ^(l)),
//! Λ^(l) = [[Σ^(l)(x,x), Σ^(l)(x,x′)], [Σ^(l)(x,x′), Σ^(l)(x′,x′)]]:
//!   Σ^(l+1) = E[σ(u)σ(v)] + β²,  Σ̇^(l+1) = E[σ′(u)σ′(v)],  Θ^(l+1) = Θ^(l) Σ̇^(l+1) + Σ^(l+1).
//! The outputs are Σ^(L), Σ̇^(L) (all zeros when L = 1, where no nonlinearity is applied) and
//! Θ^(L). The hidden widths play no role in the limit.
//!
//! # Evaluation
//! - Per-point chains (1-D): each point's own variance Σ^(l)(x, x) and the per-point data the
//!   pair formulas need (for the numerical method, Hermite coefficients) are computed once, in
//!   O(N·L) work, before any pair ([`LimitPlan::new`]).
//! - Tiles: the N1×N2 output is cut into fixed [`TILE`]×[`TILE`] blocks (the same blocks at any
//!   thread count, so the bits do not depend on it), run in parallel with
//!   `crate::parallel::for_each_item`. A block gets its Gram entries xᵀx′ from one small GEMM
//!   into per-tile scratch, then runs the L−1 layer maps row by row in L1-resident arrays (for
//!   ReLU, leaky ReLU and erf one fused vectorized pass per layer, in `chain`) and writes Σ, Σ̇,
//!   Θ straight into the caller's strided outputs (contiguous copies for row-major outputs). No N×N temporary exists: peak
//!   extra memory is O(N·L·K + threads·TILE²).
//! - X1 = X2 (`x2 = None`, or a view identical to `x1`): only tiles on and below the diagonal are
//!   computed (on diagonal tiles only the lower triangle) and mirrored, so the result is exactly
//!   symmetric; diagonal entries take the per-point chain values, so Σ(x, x) is bit-identical to
//!   the variance chain.
//! - Near-duplicate and near-antipodal pairs of (leaky) ReLU (1 − ρ² < `neardup::NEAR_REL` at
//!   layer 1, flagged from the Gram entries) are recomputed after the fused chain from the
//!   cancellation-free gap √s_i√s_j ∓ s12 (in `neardup`); exact copies take the per-point chain.
//! - [`LimitPlan::compute_block`] computes any block K(X1\[i0:i1\], X2\[j0:j1\]) into strided views,
//!   reusing the per-point data: the core of a tiled or out-of-core caller.
//!
//! # Activations
//! Closed forms (in `closed_form`): identity, ReLU, leaky ReLU, erf, GELU, sin, cos (GELU checked
//! against a 40-digit mpmath recursion at depths 2–6 in tests/limit_reference_gelu.rs). Everything
//! else (tanh, sigmoid, softplus, user σ; GELU with `LimitMethod::Quadrature`) uses `numerical`:
//! per-point Hermite coefficients by the trapezoid rule on nested grids (checked by the 2h rule
//! and, for a user σ and the eager part, by a rule of incommensurate step; the adaptive
//! Gauss–Kronrod rule when no grid passes),
//! 64 of them up front and 256 to 2048 when a pair needs them, the Mehler series with a
//! Cauchy–Schwarz bound on its truncation (≤ 1e-14 of √(E σ(u)² E σ(v)²)) for every pair it
//! reaches, and nested adaptive quadrature of the conditional 1-D reduction for the rest. Checked
//! against 22–40-digit mpmath references: tests/limit_reference.rs (L = 2, β = 0; tanh,
//! sigmoid, softplus, GELU and a custom tanh(2x − 1) at a point of norm 30 (s = 450) vs its copy
//! (ρ = 1), its negation (ρ = −1) and a near-duplicate (ρ = 1 − 1e-9), s = 1e-6 and the zero
//! vector), tests/limit_reference_rho.rs and limit_reference_rho_wide.rs (ρ ∈ [0.6, 1 − 1e-7]
//! and near −1, variances 0.05–200), tests/limit_neardup_smooth.rs (near-duplicates).
//! `LimitMethod::Quadrature` forces the numerical method for any activation (used to validate it
//! against the erf closed form).

pub(crate) mod chain;
pub(crate) mod closed_form;
pub(crate) mod fastmath;
mod general;
pub(crate) mod neardup;
pub(crate) mod numerical;
mod outputs;
mod plan;
mod points;
pub mod prepared;
pub(crate) mod quadrature;
mod spec;
mod tile;
pub(crate) mod watch;

pub use outputs::{BlockOutputs, LimitOutputs};
pub use plan::LimitPlan;
pub use spec::{LimitMethod, LimitSpec};

use crate::linalg::MatRef;
use crate::parallel::Progress;
use crate::{invalid, Error, Result};
use points::PointSet;
use std::sync::atomic::{AtomicBool, Ordering};
use tile::{Scratch, TileOut};

/// Side of the square output tiles (fixed: tile boundaries must not depend on the thread count).
pub const TILE: usize = 128;
/// Relative width of the band snapped to correlation exactly ±1: a covariance with
/// s12² ≥ s_i s_j (1 − SNAP_REL) is replaced by ±√(s_i s_j). A point and its separate copy (or
/// its negation when β = 0) get a Gram entry xᵀx′/n_0 from the GEMM and a squared norm from the
/// per-point loop that round differently (a few ulps apart); without the snap, det = s_i s_j − s12²
/// ≈ 1e-16·s² and the kernels that are not smooth at ρ = ±1 (ReLU: Σ̇ has a √det term) move by
/// ~√ε. The snap changes genuine near-duplicates with 1 − ρ² < 16ε by at most the same amount,
/// which is the rounding level of the covariance anyway.
pub(crate) const SNAP_REL: f64 = 16.0 * f64::EPSILON;

/// Snaps `s12` to ±√(s_i s_j) when |ρ| is within [`SNAP_REL`] of 1 (or beyond it), so every
/// method sees exactly correlation ±1 there (see [`SNAP_REL`]). Cheap and vectorizable.
#[inline(always)]
pub(crate) fn snap_row(si: f64, sj: &[f64], s12: &mut [f64]) {
    let w = s12.len();
    let sj = &sj[..w];
    for k in 0..w {
        let p = si * sj[k];
        let x = s12[k];
        if x * x >= p * (1.0 - SNAP_REL) {
            s12[k] = p.sqrt().copysign(x);
        }
    }
}

/// Computes the limit kernels Σ^(L), Σ̇^(L), Θ^(L)_∞ of (X1, X2) (rows are points) into the
/// requested outputs, in parallel on the library pool, bit-identical at any thread count.
/// `x2 = None` (or a view identical to `x1`) computes one triangle and mirrors it.
///
/// Progress: the per-point phase and the tile phase each report (done, total) in their own units.
/// On cancel (`Error::Cancelled`) the outputs hold a mix of finished tiles and old values.
pub fn limit_kernel(
    spec: &LimitSpec,
    x1: MatRef<'_>,
    x2: Option<MatRef<'_>>,
    out: LimitOutputs<'_>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    if out.nngp.is_none() && out.sigma_dot.is_none() && out.ntk.is_none() {
        return invalid!("no output requested (nngp, sigma_dot and ntk are all absent)");
    }
    let n1 = x1.rows();
    let n2 = x2.map(|v| v.rows()).unwrap_or(n1);
    for (m, name) in [
        (&out.nngp, "nngp"),
        (&out.sigma_dot, "sigma_dot"),
        (&out.ntk, "ntk"),
    ] {
        if let Some(m) = m {
            if m.rows() != n1 || m.cols() != n2 {
                return invalid!(
                    "{name} is {}x{}, expected {n1}x{n2} (N1 x N2)",
                    m.rows(),
                    m.cols()
                );
            }
        }
    }
    let sym_guess = match x2 {
        None => true,
        Some(v) => v.same_as(&x1),
    };
    let tile_list = |sym: bool| -> Vec<(usize, usize)> {
        let ti = n1.div_ceil(TILE);
        let tj = n2.div_ceil(TILE);
        // Tile list: all (I, J), or J ≤ I when symmetric.
        if sym {
            (0..ti).flat_map(|a| (0..=a).map(move |b| (a, b))).collect()
        } else {
            (0..ti).flat_map(|a| (0..tj).map(move |b| (a, b))).collect()
        }
    };
    let tiles = tile_list(sym_guess);
    let tile_units = |t: usize| {
        let (a, b) = tiles[t];
        let h = ((a + 1) * TILE).min(n1) - a * TILE;
        let w = ((b + 1) * TILE).min(n2) - b * TILE;
        (h * w) as u64
    };
    let units: u64 = (0..tiles.len()).map(tile_units).sum();
    let plan = LimitPlan::with_tile_units(spec, x1, x2, progress, units)?;
    debug_assert_eq!(plan.symmetric(), sym_guess);
    let base = (n1 as u64).saturating_add(if plan.symmetric() { 0 } else { n2 as u64 });
    let stop = AtomicBool::new(false);
    let tile_out = TileOut::new(
        [out.nngp, out.sigma_dot, out.ntk],
        0,
        0,
        plan.symmetric(),
        &stop,
    );
    let sym = plan.symmetric();
    // Scratch is per worker (allocating it per tile cost 6 % in page faults at N = 2000).
    let scratch = || Scratch::new(TILE.min(n1), TILE.min(n2), spec.depth - 1);
    let phase = watch::Phase {
        base,
        total: base.saturating_add(units),
    };
    watch::run(
        tiles.len(),
        tile_units,
        phase,
        &stop,
        progress,
        scratch,
        |sc, t| {
            let (a, b) = tiles[t];
            let (i0, i1) = (a * TILE, ((a + 1) * TILE).min(n1));
            let (j0, j1) = (b * TILE, ((b + 1) * TILE).min(n2));
            // SAFETY: tile (a, b) and, when symmetric, its mirror (b, a) are written only by this
            // item; on diagonal tiles only the lower triangle is computed and mirrored.
            unsafe {
                plan.tile(i0, i1, j0, j1, sym && a == b, sc, &tile_out);
            }
        },
    )?;
    if tile_out.stop.load(Ordering::Relaxed) && !tile_out.failed() {
        return Err(Error::Cancelled);
    }
    tile_out.check()
}
