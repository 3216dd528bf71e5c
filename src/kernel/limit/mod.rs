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
//!   [`crate::parallel::for_each_item`]. A block gets its Gram entries xᵀx′ from one small GEMM
//!   into per-tile scratch, then runs the L−1 layer maps row by row in L1-resident arrays (for
//!   ReLU, leaky ReLU and erf one fused vectorized pass per layer, [`chain`]) and writes Σ, Σ̇,
//!   Θ straight into the caller's strided outputs (contiguous copies for row-major outputs). No N×N temporary exists: peak
//!   extra memory is O(N·L·K + threads·TILE²).
//! - X1 = X2 (`x2 = None`, or a view identical to `x1`): only tiles on and below the diagonal are
//!   computed (on diagonal tiles only the lower triangle) and mirrored, so the result is exactly
//!   symmetric; diagonal entries take the per-point chain values, so Σ(x, x) is bit-identical to
//!   the variance chain.
//! - Near-duplicate and near-antipodal pairs of (leaky) ReLU (1 − ρ² < [`neardup::NEAR_REL`] at
//!   layer 1, flagged from the Gram entries) are recomputed after the fused chain from the
//!   cancellation-free gap √s_i√s_j ∓ s12 ([`neardup`]); exact copies take the per-point chain.
//! - [`LimitPlan::compute_block`] computes any block K(X1[i0:i1], X2[j0:j1]) into strided views,
//!   reusing the per-point data: the core of a tiled or out-of-core caller.
//!
//! # Activations
//! Closed forms ([`closed_form`]): identity, ReLU, leaky ReLU, erf, GELU, sin, cos (GELU checked
//! against a 40-digit mpmath recursion at depths 2–6 in tests/limit_reference_gelu.rs). Everything
//! else (tanh, sigmoid, softplus, user σ; GELU with `LimitMethod::Quadrature`) uses [`numerical`]: per-point Hermite coefficients by
//! adaptive Gauss–Kronrod with breakpoints in the activation argument's own scale, the Mehler
//! series for |ρ| ≤ 0.6 (truncation ≤ 4e-15 relative to √(E σ(u)² E σ(v)²)) and nested adaptive
//! quadrature of the conditional 1-D reduction for |ρ| > 0.6. Checked against 22-digit mpmath
//! references (tests/limit_reference.rs: L = 2, β = 0; tanh, sigmoid, softplus, GELU and a
//! custom tanh(2x − 1) at a point of norm 30 (s = 450) vs its copy (ρ = 1), its negation
//! (ρ = −1) and a near-duplicate (ρ = 1 − 1e-9), s = 1e-6 and the zero vector): worst relative
//! error measured 9e-14. The Mehler region (|ρ| ≤ 0.6) is checked against the erf closed form
//! (tests/limit_kernels.rs), not against mpmath.
//! `LimitMethod::Quadrature` forces the numerical method for any activation (used to validate it
//! against the erf closed form).

pub mod chain;
pub mod closed_form;
pub mod fastmath;
pub mod neardup;
pub mod numerical;
pub mod prepared;
pub mod quadrature;
pub mod watch;

use crate::activation::Activation;
use crate::error::{checked_mul, try_zeroed};
use crate::linalg::view::check_finite_result;
use crate::linalg::{gemm, MatMut, MatRef};
use crate::parallel::Progress;
use crate::{invalid, Error, Result};
use closed_form::ClosedForm;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Side of the square output tiles (fixed: tile boundaries must not depend on the thread count).
pub const TILE: usize = 128;
/// Relative width of the band snapped to correlation exactly ±1: a covariance with
/// s12² ≥ s_i s_j (1 − SNAP_REL) is replaced by ±√(s_i s_j). A point and its separate copy (or
/// its negation when β = 0) get a Gram entry xᵀx′/n_0 from the GEMM and a squared norm from the
/// per-point loop that round differently (a few ulps apart); without the snap, det = s_i s_j − s12²
/// ≈ 1e-16·s² and the kernels that are not smooth at ρ = ±1 (ReLU: Σ̇ has a √det term) move by
/// ~√ε. The snap changes genuine near-duplicates with 1 − ρ² < 16ε by at most the same amount,
/// which is the rounding level of the covariance anyway.
pub const SNAP_REL: f64 = 16.0 * f64::EPSILON;

/// Snaps `s12` to ±√(s_i s_j) when |ρ| is within [`SNAP_REL`] of 1 (or beyond it), so every
/// method sees exactly correlation ±1 there (see [`SNAP_REL`]). Cheap and vectorizable.
#[inline(always)]
pub fn snap_row(si: f64, sj: &[f64], s12: &mut [f64]) {
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

/// Points per item of the per-point precomputation.
const POINT_CHUNK: usize = 16;

/// How the Gaussian expectations are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LimitMethod {
    /// Closed form when the activation has one, otherwise the numerical method.
    #[default]
    Auto,
    /// The numerical method for every activation (for validation).
    Quadrature,
}

/// What defines the limit kernel: the depth L (number of weight layers, ≥ 1), σ and β ≥ 0
/// (σ_w = 1, σ_b = β, NTK parameterization), or, with `arch`, a per-layer architecture.
///
/// # Per-layer architectures (issue #13; neural-tangents' `stax.Dense` kernel_fn)
/// With w_l = σ_w^(l)², b_l = σ_b^(l)², E, Ė the Gaussian expectations of σ_{l} (the activation
/// after weight layer l−1) at Λ^(l), and n_l the input width of weight layer l (n_0 = the
/// points' dimension):
///   Σ^(1) = w_0 xᵀx′/n_0 + b_0,   Σ^(l+1) = w_l E + b_l,   Σ̇^(l+1) = w_l Ė,
///   NTK parameterization:      Θ^(1) = Σ^(1),      Θ^(l+1) = Θ^(l) Σ̇^(l+1) + Σ^(l+1),
///   standard parameterization: Θ^(1) = xᵀx′ + 1,   Θ^(l+1) = Θ^(l) Σ̇^(l+1) + n_l E + 1
/// (the standard one depends on the hidden widths, as in neural-tangents). Cost as for the
/// uniform spec, without the fused closed-form chain (one layer map per pass).
#[derive(Clone, Debug)]
pub struct LimitSpec {
    pub depth: usize,
    pub activation: Activation,
    pub beta: f64,
    pub method: LimitMethod,
    /// Per-layer architecture; `None`: the uniform (activation, β) spec above. When set,
    /// `activation` and `beta` are ignored and `depth` must equal its depth.
    pub arch: Option<std::sync::Arc<crate::network::Architecture>>,
}

impl LimitSpec {
    pub fn new(depth: usize, activation: Activation, beta: f64) -> Self {
        LimitSpec {
            depth,
            activation,
            beta,
            method: LimitMethod::Auto,
            arch: None,
        }
    }

    /// The spec of a per-layer architecture. An architecture that is the uniform σ_w = 1 NTK
    /// configuration becomes the uniform spec (same bits as [`LimitSpec::new`]).
    pub fn of_architecture(arch: &crate::network::Architecture) -> Self {
        let depth = arch.depth();
        if let Some((act, beta)) = arch.as_legacy() {
            return LimitSpec::new(depth, act, beta);
        }
        let mut spec = LimitSpec::new(depth, Activation::Identity, 0.0);
        spec.arch = Some(std::sync::Arc::new(arch.clone()));
        spec
    }

    /// The limit spec of a network (in the NTK parameterization its widths other than n_0 are
    /// irrelevant; in the standard one they scale Θ).
    pub fn of_network(net: &crate::network::Network) -> Self {
        if net.architecture().as_legacy().is_some() {
            // Exactly the original spec (the configured activation even when L = 1).
            return LimitSpec::new(net.depth(), net.activation().clone(), net.beta());
        }
        LimitSpec::of_architecture(net.architecture())
    }

    /// The activation after weight layer l (l < L−1).
    pub fn layer_activation(&self, l: usize) -> &Activation {
        match &self.arch {
            Some(a) => a.activation(l),
            None => &self.activation,
        }
    }

    /// (σ_w², σ_b²) of weight layer l.
    fn layer_scales(&self, l: usize) -> (f64, f64) {
        match &self.arch {
            Some(a) => {
                let ls = &a.layers[l];
                (ls.sigma_w * ls.sigma_w, ls.sigma_b * ls.sigma_b)
            }
            None => (1.0, self.beta * self.beta),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return invalid!("depth = 0: the network needs at least one weight layer");
        }
        if let Some(a) = &self.arch {
            if a.depth() != self.depth {
                return invalid!(
                    "depth = {} but the architecture has {} weight layers",
                    self.depth,
                    a.depth()
                );
            }
            if let Some(l) = a.widths.iter().position(|&w| w == 0) {
                return invalid!("widths[{l}] = 0: every layer needs at least one unit");
            }
            return a.validate_layers();
        }
        use crate::linalg::finite::{check_activation, check_scale, Bound};
        check_scale("beta", self.beta, Bound::NonNegative)?;
        check_activation("activation_param (leaky slope)", &self.activation)
    }

    fn closed_form(&self) -> Option<ClosedForm> {
        if self.arch.is_some() {
            return None; // per layer: `layer_closed_form`
        }
        self.closed_form_of(&self.activation)
    }

    /// The closed form of the activation after weight layer l, if any (and not forced off).
    fn layer_closed_form(&self, l: usize) -> Option<ClosedForm> {
        self.closed_form_of(self.layer_activation(l))
    }

    fn closed_form_of(&self, act: &Activation) -> Option<ClosedForm> {
        if self.method == LimitMethod::Quadrature {
            return None;
        }
        match *act {
            Activation::Identity => Some(ClosedForm::Identity),
            Activation::Relu => Some(ClosedForm::LeakyRelu(0.0)),
            Activation::LeakyRelu(a) => Some(ClosedForm::LeakyRelu(a)),
            Activation::Erf => Some(ClosedForm::Erf),
            Activation::Gelu => Some(ClosedForm::Gelu),
            Activation::Sin => Some(ClosedForm::Sin),
            Activation::Cos => Some(ClosedForm::Cos),
            _ => None,
        }
    }
}

/// Per-point data of one set of points, layer-major and point-contiguous.
#[derive(Clone)]
struct PointSet {
    n: usize,
    /// var[l*n + i] = Σ^(l+1)(x_i, x_i), l = 0..L−1.
    var: Vec<f64>,
    /// sqrt of `var`.
    sd: Vec<f64>,
    /// Some entry of `var` is 0 (x = 0 with β = 0).
    has_zero: bool,
    /// ddiag[l*n + i] = Σ̇^(l+2)(x_i, x_i) = σ_w^(l+1)² E[σ′(u)²] at var[l], l = 0..L−2.
    ddiag: Vec<f64>,
    /// ediag[l*n + i] = E[σ(u)²] at var[l], l = 0..L−2 (the standard parameterization's Θ).
    ediag: Vec<f64>,
    /// mean derivative E[σ′] at var[l] (leaky ReLU zero-variance rule), l = 0..L−2.
    mean_d: Vec<f64>,
    /// Numerical method: c[(l*(K+1) + k)*n + i] and d[...] Hermite coefficients, l = 0..L−2.
    c: Vec<f64>,
    d: Vec<f64>,
}

struct Chunk {
    var: Vec<f64>,
    ddiag: Vec<f64>,
    ediag: Vec<f64>,
    mean_d: Vec<f64>,
    c: Vec<f64>,
    d: Vec<f64>,
}

impl PointSet {
    /// Per-point chains of the rows of `x` (one progress unit per point, reported as `phase`).
    fn new(
        spec: &LimitSpec,
        x: MatRef<'_>,
        progress: &mut Progress<'_>,
        phase: watch::Phase,
    ) -> Result<PointSet> {
        let n = x.rows();
        let depth = spec.depth;
        let n0 = x.cols() as f64;
        let beta2 = spec.beta * spec.beta;
        let cf = spec.closed_form();
        let k1 = numerical::DEGREE + 1;
        let layers = depth - 1;
        let total = checked_mul(n, depth, "per-point variances")?;
        let mut var = try_zeroed(total, "per-point variances")?;
        let mut ddiag = try_zeroed(n * layers, "per-point derivative variances")?;
        let mut ediag = try_zeroed(n * layers, "per-point activation variances")?;
        let general = spec.arch.is_some();
        let mut mean_d = try_zeroed(n * layers, "per-point mean derivatives")?;
        let ncoef = if cf.is_none() {
            checked_mul(
                checked_mul(n, layers, "Hermite coefficients")?,
                k1,
                "Hermite coefficients",
            )?
        } else {
            0
        };
        let mut c = try_zeroed(ncoef, "Hermite coefficients")?;
        let mut d = try_zeroed(ncoef, "Hermite coefficients")?;
        let nchunks = n.div_ceil(POINT_CHUNK);
        let results: Vec<Mutex<Option<Chunk>>> = (0..nchunks).map(|_| Mutex::new(None)).collect();
        let stop = AtomicBool::new(false);
        // First (point, layer, variance) whose Hermite expansion did not converge.
        let unresolved: Mutex<Option<(usize, usize, f64)>> = Mutex::new(None);
        let chunk_units =
            |ch: usize| ((ch * POINT_CHUNK + POINT_CHUNK).min(n) - ch * POINT_CHUNK) as u64;
        watch::run(
            nchunks,
            chunk_units,
            phase,
            &stop,
            progress,
            || (),
            |_, ch| {
                let p0 = ch * POINT_CHUNK;
                let p1 = (p0 + POINT_CHUNK).min(n);
                let m = p1 - p0;
                let mut out = Chunk {
                    var: vec![0.0; m * depth],
                    ddiag: vec![0.0; m * layers],
                    ediag: vec![0.0; m * layers],
                    mean_d: vec![0.0; m * layers],
                    c: vec![0.0; if cf.is_none() { m * layers * k1 } else { 0 }],
                    d: vec![0.0; if cf.is_none() { m * layers * k1 } else { 0 }],
                };
                for (q, i) in (p0..p1).enumerate() {
                    let mut sq = 0.0;
                    for j in 0..x.cols() {
                        let v = x.at(i, j);
                        sq += v * v;
                    }
                    // Σ^(1) = σ_w² |x|²/n_0 + σ_b² (σ_w = 1, σ_b = β: the original bits).
                    let (w0, b0) = spec.layer_scales(0);
                    let mut s = if general {
                        w0 * (sq / n0) + b0
                    } else {
                        sq / n0 + beta2
                    };
                    out.var[q] = s;
                    for l in 0..layers {
                        let kind = if general {
                            spec.layer_closed_form(l)
                        } else {
                            cf
                        };
                        let (e, ed) = match kind {
                            Some(kind) => {
                                if let ClosedForm::LeakyRelu(a) = kind {
                                    out.mean_d[l * m + q] = closed_form::relu_mean_derivative(a, s);
                                }
                                closed_form::diagonal(kind, s)
                            }
                            None => {
                                let pe = numerical::point_expansion(spec.layer_activation(l), s);
                                if !pe.converged {
                                    let mut slot =
                                        unresolved.lock().unwrap_or_else(|p| p.into_inner());
                                    if slot.is_none() {
                                        *slot = Some((i, l, s));
                                    }
                                }
                                for k in 0..k1 {
                                    out.c[(l * k1 + k) * m + q] = pe.c[k];
                                    out.d[(l * k1 + k) * m + q] = pe.d[k];
                                }
                                (pe.e_ss, pe.e_dd)
                            }
                        };
                        out.ediag[l * m + q] = e;
                        if general {
                            // Σ̇^(l+2) = σ_w² Ė, Σ^(l+2) = σ_w² E + σ_b² (weight layer l + 1).
                            let (wn, bn) = spec.layer_scales(l + 1);
                            out.ddiag[l * m + q] = wn * ed;
                            s = wn * e + bn;
                        } else {
                            out.ddiag[l * m + q] = ed;
                            s = e + beta2;
                        }
                        out.var[(l + 1) * m + q] = s;
                    }
                }
                *results[ch].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
            },
        )?;
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        if let Some((i, l, s)) = unresolved.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(Error::Numerical(format!(
                "the Gaussian expectations of the activation at point {i}, layer {} (variance \
                 {}) did not converge within {} quadrature panels (the work bound per point and \
                 layer): the activation varies too fast to integrate (e.g. sin(1000 x))",
                l + 1,
                crate::error::g(s),
                quadrature::MAX_PANELS
            )));
        }
        for (ch, slot) in results.into_iter().enumerate() {
            let out = slot
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .ok_or_else(|| Error::Internal("per-point chunk missing".into()))?;
            let p0 = ch * POINT_CHUNK;
            let m = (p0 + POINT_CHUNK).min(n) - p0;
            for l in 0..depth {
                var[l * n + p0..l * n + p0 + m].copy_from_slice(&out.var[l * m..(l + 1) * m]);
            }
            for l in 0..layers {
                ddiag[l * n + p0..l * n + p0 + m].copy_from_slice(&out.ddiag[l * m..(l + 1) * m]);
                ediag[l * n + p0..l * n + p0 + m].copy_from_slice(&out.ediag[l * m..(l + 1) * m]);
                mean_d[l * n + p0..l * n + p0 + m].copy_from_slice(&out.mean_d[l * m..(l + 1) * m]);
                if cf.is_none() {
                    for k in 0..k1 {
                        let dst = (l * k1 + k) * n + p0;
                        let src = (l * k1 + k) * m;
                        c[dst..dst + m].copy_from_slice(&out.c[src..src + m]);
                        d[dst..dst + m].copy_from_slice(&out.d[src..src + m]);
                    }
                }
            }
        }
        let sd = var.iter().map(|v| v.sqrt()).collect();
        let has_zero = var.contains(&0.0);
        Ok(PointSet {
            n,
            var,
            sd,
            has_zero,
            ddiag,
            ediag,
            mean_d,
            c,
            d,
        })
    }
}

/// Everything needed to compute any block of the limit kernels of (X1, X2): the spec, the inputs
/// and the per-point data of both sets.
pub struct LimitPlan<'a> {
    spec: LimitSpec,
    closed: Option<ClosedForm>,
    x1: MatRef<'a>,
    x2: MatRef<'a>,
    /// Owned, or borrowed from [`prepared::LimitPoints`].
    p1: Cow<'a, PointSet>,
    /// None when X2 = X1 (the per-point data are shared).
    p2: Option<Cow<'a, PointSet>>,
}

/// Optional output blocks of one [`LimitPlan::compute_block`] call (each (i1−i0)×(j1−j0)).
pub struct BlockOutputs<'o> {
    pub nngp: Option<MatMut<'o>>,
    pub sigma_dot: Option<MatMut<'o>>,
    pub ntk: Option<MatMut<'o>>,
}

/// Raw strided output pointer shared by the tiles (each writes only its own elements).
#[derive(Clone, Copy)]
struct RawOut {
    ptr: *mut f64,
    rs: isize,
    cs: isize,
}
unsafe impl Send for RawOut {}
unsafe impl Sync for RawOut {}

impl RawOut {
    fn of(m: &Option<MatMut<'_>>) -> Option<RawOut> {
        m.as_ref().map(|m| RawOut {
            ptr: m.as_mut_ptr(),
            rs: m.row_stride(),
            cs: m.col_stride(),
        })
    }
    /// # Safety
    /// (i, j) inside the view, and no other thread writes it.
    #[inline(always)]
    unsafe fn put(&self, i: usize, j: usize, v: f64) {
        *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) = v;
    }
    /// # Safety
    /// (i, j) inside the view.
    #[inline(always)]
    unsafe fn get(&self, i: usize, j: usize) -> f64 {
        *self.ptr.offset(i as isize * self.rs + j as isize * self.cs)
    }
    /// Writes `vals` to (i, j), (i, j+1), …
    /// # Safety
    /// The elements lie inside the view, and no other thread writes them.
    #[inline(always)]
    unsafe fn put_row(&self, i: usize, j: usize, vals: &[f64]) {
        if self.cs == 1 {
            let dst = self.ptr.offset(i as isize * self.rs + j as isize);
            std::ptr::copy_nonoverlapping(vals.as_ptr(), dst, vals.len());
        } else {
            for (k, &v) in vals.iter().enumerate() {
                self.put(i, j + k, v);
            }
        }
    }
}

/// Where a tile writes: element (i, j) goes to (i − row_off, j − col_off) of each present
/// output, and with `mirror` also to (j, i).
struct TileOut<'s> {
    raws: [Option<RawOut>; 3],
    row_off: usize,
    col_off: usize,
    mirror: bool,
    /// Set when a written value is NaN/±Inf (overflow of huge but finite inputs, or a custom σ
    /// returning NaN); checked per row while the row is in L1, so a finite result costs no
    /// second pass over the N×N outputs.
    nonfinite: AtomicBool,
    /// Per quantity (nngp, sigma_dot, ntk) that was not requested: a non-finite value was seen.
    hidden_nonfinite: [AtomicBool; 3],
    /// Set on cancel or when a pair exceeded its budget: tiles stop at the next row or outer node.
    stop: &'s AtomicBool,
    /// A pair quadrature exceeded [`numerical::PAIR_EVAL_BUDGET`].
    over_budget: AtomicBool,
}

impl<'s> TileOut<'s> {
    fn new(
        raws: [Option<RawOut>; 3],
        row_off: usize,
        col_off: usize,
        mirror: bool,
        stop: &'s AtomicBool,
    ) -> TileOut<'s> {
        TileOut {
            raws,
            row_off,
            col_off,
            mirror,
            nonfinite: AtomicBool::new(false),
            hidden_nonfinite: Default::default(),
            stop,
            over_budget: AtomicBool::new(false),
        }
    }

    /// `Err(Numerical)` naming the first non-finite element when a tile flagged one; when only a
    /// quantity that was not requested went non-finite, naming that quantity.
    fn check(&self, outs: [(&Option<MatMut<'_>>, &str); 3]) -> Result<()> {
        if self.over_budget.load(Ordering::Relaxed) {
            return Err(Error::Numerical(format!(
                "a pair's Gaussian expectation needs more than {} activation evaluations (the \
                 work budget per pair and layer, PAIR_EVAL_BUDGET): the activation varies too \
                 fast for the adaptive quadrature of highly correlated pairs (e.g. sin(1000 x))",
                numerical::PAIR_EVAL_BUDGET
            )));
        }
        if !self.nonfinite.load(Ordering::Relaxed) {
            return Ok(());
        }
        for (m, name) in outs {
            if let Some(m) = m {
                check_finite_result(m.as_ref(), name)?;
            }
        }
        for (q, name) in ["nngp", "sigma_dot", "ntk"].into_iter().enumerate() {
            if self.hidden_nonfinite[q].load(Ordering::Relaxed) {
                return Err(Error::Numerical(format!(
                    "{name} (not requested) is not finite: the layer chain overflows the double \
                     range or the activation returns NaN/Inf, so the requested outputs cannot be \
                     trusted either"
                )));
            }
        }
        Ok(())
    }
}

/// Per-tile scratch arrays.
struct Scratch {
    gram: Vec<f64>,
    s12: Vec<f64>,
    dot: Vec<f64>,
    theta: Vec<f64>,
    rho: Vec<f64>,
    tmp: Vec<f64>,
    /// Per-layer values of the row point (fused closed-form chain).
    var_i: Vec<f64>,
    sd_i: Vec<f64>,
    mean_i: Vec<f64>,
    /// Entries (column offset, Σ^(1)) of the row flagged for the near-duplicate fix-up.
    near: Vec<neardup::Near>,
}

impl Scratch {
    fn new(rows: usize, cols: usize, layers: usize) -> Scratch {
        Scratch {
            gram: vec![0.0; rows * cols],
            s12: vec![0.0; cols],
            dot: vec![0.0; cols],
            theta: vec![0.0; cols],
            rho: vec![0.0; cols],
            tmp: vec![0.0; cols],
            var_i: vec![0.0; layers],
            sd_i: vec![0.0; layers],
            mean_i: vec![0.0; layers],
            near: Vec::with_capacity(cols),
        }
    }
}

/// A copy of `LimitPlan::tile_impl` compiled with the given target features.
macro_rules! tile_for_isa {
    ($name:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            &self,
            i0: usize,
            i1: usize,
            j0: usize,
            j1: usize,
            lower_only: bool,
            sc: &mut Scratch,
            out: &TileOut,
        ) {
            self.tile_impl(i0, i1, j0, j1, lower_only, sc, out)
        }
    };
}

impl<'a> LimitPlan<'a> {
    /// Validates the inputs and computes the per-point data (O(N·L) work, in parallel).
    /// `x2 = None` means X2 = X1; a view identical to `x1` is detected as the same.
    pub fn new(
        spec: &LimitSpec,
        x1: MatRef<'a>,
        x2: Option<MatRef<'a>>,
        progress: &mut Progress<'_>,
    ) -> Result<LimitPlan<'a>> {
        Self::with_tile_units(spec, x1, x2, progress, 0)
    }

    /// [`LimitPlan::new`] as the first phases of a call whose later tile phase has `tile_units`
    /// progress units (one monotone (done, total) sequence per call).
    fn with_tile_units(
        spec: &LimitSpec,
        x1: MatRef<'a>,
        x2: Option<MatRef<'a>>,
        progress: &mut Progress<'_>,
        tile_units: u64,
    ) -> Result<LimitPlan<'a>> {
        spec.validate()?;
        if x1.rows() == 0 || x1.cols() == 0 {
            return invalid!("x1 is empty ({}x{})", x1.rows(), x1.cols());
        }
        crate::network::check_finite(x1, "x1")?;
        let x2 = match x2 {
            Some(v) if !v.same_as(&x1) => {
                if v.cols() != x1.cols() {
                    return invalid!(
                        "x2 has {} columns, x1 has {} (both must have n_0 columns)",
                        v.cols(),
                        x1.cols()
                    );
                }
                if v.rows() == 0 {
                    return invalid!("x2 is empty (0x{})", v.cols());
                }
                crate::network::check_finite(v, "x2")?;
                Some(v)
            }
            _ => None,
        };
        let n2 = x2.map(|v| v.rows()).unwrap_or(0);
        let tiles = tile_units;
        let total = (x1.rows() as u64)
            .saturating_add(n2 as u64)
            .saturating_add(tiles);
        let p1 = PointSet::new(spec, x1, progress, watch::Phase { base: 0, total })?;
        let p2 = match x2 {
            Some(v) => Some(PointSet::new(
                spec,
                v,
                progress,
                watch::Phase {
                    base: x1.rows() as u64,
                    total,
                },
            )?),
            None => None,
        };
        Ok(LimitPlan {
            spec: spec.clone(),
            closed: spec.closed_form(),
            x1,
            x2: x2.unwrap_or(x1),
            p1: Cow::Owned(p1),
            p2: p2.map(Cow::Owned),
        })
    }

    /// True when X2 = X1.
    pub fn symmetric(&self) -> bool {
        self.p2.is_none()
    }
    /// (N1, N2).
    pub fn shape(&self) -> (usize, usize) {
        (self.x1.rows(), self.x2.rows())
    }

    fn p2(&self) -> &PointSet {
        self.p2.as_deref().unwrap_or(&self.p1)
    }

    /// Computes the block rows i0..i1 × columns j0..j1 of the requested kernels into `out`
    /// (each block (i1−i0)×(j1−j0); element (a, b) is K(x1_{i0+a}, x2_{j0+b})).
    /// Cost: one (i1−i0)×n_0×(j1−j0) GEMM plus (L−1) layer maps per entry.
    pub fn compute_block(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        out: BlockOutputs<'_>,
    ) -> Result<()> {
        self.compute_block_ctl(i0, i1, j0, j1, out, &AtomicBool::new(false))
    }

    /// [`LimitPlan::compute_block`] that stops early (returning `Error::Cancelled`) once `stop`
    /// is set, and sets `stop` itself when a pair exceeds its work budget (then
    /// `Error::Numerical` naming the budget).
    pub fn compute_block_ctl(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        out: BlockOutputs<'_>,
        stop: &AtomicBool,
    ) -> Result<()> {
        let (n1, n2) = self.shape();
        if !(i0 <= i1 && i1 <= n1 && j0 <= j1 && j1 <= n2) {
            return invalid!("block [{i0},{i1})x[{j0},{j1}) outside {n1}x{n2}");
        }
        for (m, name) in [
            (&out.nngp, "nngp"),
            (&out.sigma_dot, "sigma_dot"),
            (&out.ntk, "ntk"),
        ] {
            if let Some(m) = m {
                if m.rows() != i1 - i0 || m.cols() != j1 - j0 {
                    return invalid!(
                        "{name} block is {}x{}, expected {}x{}",
                        m.rows(),
                        m.cols(),
                        i1 - i0,
                        j1 - j0
                    );
                }
            }
        }
        let tile_out = TileOut::new(
            [
                RawOut::of(&out.nngp),
                RawOut::of(&out.sigma_dot),
                RawOut::of(&out.ntk),
            ],
            i0,
            j0,
            false,
            stop,
        );
        let mut scratch = Scratch::new(TILE.min(i1 - i0), TILE.min(j1 - j0), self.spec.depth - 1);
        let mut a = i0;
        while a < i1 {
            let a1 = (a + TILE).min(i1);
            let mut b = j0;
            while b < j1 {
                let b1 = (b + TILE).min(j1);
                // SAFETY: the views are exclusive borrows; (i−i0, j−j0) lies inside them.
                unsafe {
                    self.tile(a, a1, b, b1, false, &mut scratch, &tile_out);
                }
                b = b1;
            }
            a = a1;
        }
        if stop.load(Ordering::Relaxed) && !tile_out.over_budget.load(Ordering::Relaxed) {
            tile_out.check([
                (&out.nngp, "nngp"),
                (&out.sigma_dot, "sigma_dot"),
                (&out.ntk, "ntk"),
            ])?;
            return Err(Error::Cancelled);
        }
        tile_out.check([
            (&out.nngp, "nngp"),
            (&out.sigma_dot, "sigma_dot"),
            (&out.ntk, "ntk"),
        ])
    }

    /// Collects the entries of row i (columns j0..) that [`neardup::is_near`] flags at layer 1
    /// (the diagonal entry excluded).
    #[inline(always)]
    fn flag_near(
        &self,
        i: usize,
        j0: usize,
        diag: Option<usize>,
        s12: &[f64],
        near: &mut Vec<neardup::Near>,
    ) {
        near.clear();
        let (p1, p2) = (&*self.p1, self.p2());
        let si = p1.var[i];
        let sj = &p2.var[j0..j0 + s12.len()];
        for (k, (&x, &v)) in s12.iter().zip(sj).enumerate() {
            if neardup::is_near(si, v, x) && Some(k) != diag {
                // Within capacity (≤ TILE entries per row): no allocation.
                near.push(neardup::Near::new(k, x));
            }
        }
    }

    /// Overwrites the flagged entries of row i with [`neardup::fix_row`] (slope `a`).
    /// Inlined into the per-instruction-set tile loops, so the `mul_add`s are FMA instructions.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn fix_near(
        &self,
        a: f64,
        i: usize,
        j0: usize,
        s12: &mut [f64],
        dot: &mut [f64],
        theta: &mut [f64],
        near: &mut [neardup::Near],
    ) {
        if near.is_empty() {
            return;
        }
        let (p1, p2) = (&*self.p1, self.p2());
        let rd = neardup::RowData {
            slope: a,
            beta2: self.spec.beta * self.spec.beta,
            layers: self.spec.depth - 1,
            var_i: &p1.var[i..],
            sd_i: &p1.sd[i..],
            ddiag_i: &p1.ddiag[i..],
            stride_i: p1.n,
            var_j: &p2.var[j0..],
            sd_j: &p2.sd[j0..],
            stride: p2.n,
        };
        neardup::fix_row(&rd, self.x1, i, self.x2, j0, near, s12, dot, theta);
    }

    /// Computes the tile rows i0..i1 × cols j0..j1 (≤ TILE each) into `out`. With
    /// `lower_only`, only entries with j ≤ i (mirrored when `out.mirror`).
    ///
    /// # Safety
    /// The tile's elements (and their mirrors) lie inside the outputs and no other thread
    /// writes them.
    unsafe fn tile(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        lower_only: bool,
        sc: &mut Scratch,
        out: &TileOut,
    ) {
        // One copy of the tile loop per instruction set, chosen per tile: the fused chain is
        // inlined into it (all copies give the same bits, see `chain`).
        #[cfg(target_arch = "x86_64")]
        {
            if fastmath::has_avx512() {
                return self.tile_avx512(i0, i1, j0, j1, lower_only, sc, out);
            }
            if fastmath::has_avx2() {
                return self.tile_avx2(i0, i1, j0, j1, lower_only, sc, out);
            }
        }
        self.tile_impl(i0, i1, j0, j1, lower_only, sc, out)
    }

    tile_for_isa!(tile_avx512, "avx512f,avx2,fma");
    tile_for_isa!(tile_avx2, "avx2,fma");

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_impl(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        lower_only: bool,
        sc: &mut Scratch,
        out: &TileOut,
    ) {
        let (h, w) = (i1 - i0, j1 - j0);
        if h == 0 || w == 0 {
            return;
        }
        let n0 = self.x1.cols() as f64;
        let beta2 = self.spec.beta * self.spec.beta;
        let depth = self.spec.depth;
        let layers = depth - 1;
        let sym = self.symmetric();
        let (p1, p2) = (&*self.p1, self.p2());
        let gram = &mut sc.gram[..h * w];
        gemm(
            1.0 / n0,
            self.x1.rows_range(i0, i1),
            self.x2.rows_range(j0, j1).t(),
            0.0,
            MatMut::from_row_major(gram, h, w),
        );
        let k1 = numerical::DEGREE + 1;
        let fused = match self.closed {
            Some(kind @ (ClosedForm::LeakyRelu(_) | ClosedForm::Erf | ClosedForm::Gelu)) => {
                Some(kind)
            }
            _ => None,
        };
        for i in i0..i1 {
            if out.stop.load(Ordering::Relaxed) {
                return; // cancelled, or a pair over budget: the call fails, the rest is moot
            }
            let wi = if lower_only {
                (i + 1).saturating_sub(j0).min(w)
            } else {
                w
            };
            if wi == 0 {
                continue;
            }
            let s12 = &mut sc.s12[..wi];
            let dot = &mut sc.dot[..wi];
            let theta = &mut sc.theta[..wi];
            let g = &gram[(i - i0) * w..(i - i0) * w + wi];
            if let Some(arch) = self.spec.arch.as_deref() {
                let diag = if sym && i >= j0 && i < j0 + wi {
                    Some(i - j0)
                } else {
                    None
                };
                let rho = &mut sc.rho[..wi];
                let tmp = &mut sc.tmp[..wi];
                let rows = GeneralRow {
                    s12: &mut *s12,
                    dot: &mut *dot,
                    theta: &mut *theta,
                    rho,
                    tmp,
                };
                if !self.general_row(arch, i, j0, g, diag, rows, out) {
                    return;
                }
            } else {
                for k in 0..wi {
                    s12[k] = g[k] + beta2;
                }
                // Diagonal entry of X1 = X2 (if in this row): take the per-point chain.
                let diag = if sym && i >= j0 && i < j0 + wi {
                    Some(i - j0)
                } else {
                    None
                };
                if let Some(k) = diag {
                    s12[k] = p1.var[i];
                }
                if let Some(kind) = fused {
                    for l in 0..layers {
                        sc.var_i[l] = p1.var[l * p1.n + i];
                        sc.sd_i[l] = p1.sd[l * p1.n + i];
                        sc.mean_i[l] = p1.mean_d[l * p1.n + i];
                    }
                    let r = chain::RowChain {
                        layers,
                        beta2,
                        var_i: &sc.var_i,
                        sd_i: &sc.sd_i,
                        mean_i: &sc.mean_i,
                        var_j: &p2.var[j0..],
                        sd_j: &p2.sd[j0..],
                        mean_j: p2.mean_d.get(j0..).unwrap_or(&[]),
                        stride: p2.n,
                        zero_variance: p1.has_zero || p2.has_zero,
                    };
                    // Near-duplicate / near-antipodal pairs of leaky ReLU: flagged from Σ^(1)
                    // before the chain overwrites it, recomputed after it (see `neardup`).
                    let slope = match kind {
                        ClosedForm::LeakyRelu(a) if layers > 0 => Some(a),
                        _ => None,
                    };
                    if slope.is_some() {
                        self.flag_near(i, j0, diag, s12, &mut sc.near);
                    }
                    chain::row(kind, &r, s12, dot, theta);
                    if let Some(a) = slope {
                        self.fix_near(a, i, j0, s12, dot, theta, &mut sc.near);
                    }
                    if let Some(k) = diag {
                        // The per-point chain, with the fused chain's Θ update (one rounding), so
                        // a separate copy of the point gets the same bits.
                        let mut th = p1.var[i];
                        for l in 0..layers {
                            th = th.mul_add(p1.ddiag[l * p1.n + i], p1.var[(l + 1) * p1.n + i]);
                        }
                        s12[k] = p1.var[layers * p1.n + i];
                        dot[k] = if layers > 0 {
                            p1.ddiag[(layers - 1) * p1.n + i]
                        } else {
                            0.0
                        };
                        theta[k] = th;
                    }
                } else {
                    theta.copy_from_slice(s12);
                    dot.fill(0.0);
                }
                for l in 0..if fused.is_some() { 0 } else { layers } {
                    let si = p1.var[l * p1.n + i];
                    let sj = &p2.var[l * p2.n + j0..l * p2.n + j0 + wi];
                    snap_row(si, sj, s12);
                    match self.closed {
                        // Handled by the fused chain above (this loop runs 0 times for them).
                        Some(ClosedForm::LeakyRelu(_) | ClosedForm::Erf | ClosedForm::Gelu) => {}
                        Some(ClosedForm::Sin) => closed_form::trig_row(false, si, sj, s12, dot),
                        Some(ClosedForm::Cos) => closed_form::trig_row(true, si, sj, s12, dot),
                        Some(ClosedForm::Identity) => dot.fill(1.0),
                        None => {
                            let rho = &mut sc.rho[..wi];
                            let tmp = &mut sc.tmp[..wi];
                            let ri = p1.sd[l * p1.n + i];
                            let rj = &p2.sd[l * p2.n + j0..l * p2.n + j0 + wi];
                            for k in 0..wi {
                                let den = ri * rj[k];
                                let p = si * sj[k];
                                rho[k] = if p > 0.0 && s12[k] * s12[k] >= p * (1.0 - SNAP_REL) {
                                    1.0f64.copysign(s12[k])
                                } else if den > 0.0 {
                                    (s12[k] / den).clamp(-1.0, 1.0)
                                } else if (s12[k] * den).is_nan() {
                                    // A NaN covariance or variance stays NaN (it was read as
                                    // correlation 0, i.e. a zero variance, giving OK with wrong
                                    // values).
                                    f64::NAN
                                } else {
                                    0.0
                                };
                            }
                            let base = l * k1;
                            let ci: Vec<f64> =
                                (0..k1).map(|k| p1.c[(base + k) * p1.n + i]).collect();
                            let di: Vec<f64> =
                                (0..k1).map(|k| p1.d[(base + k) * p1.n + i]).collect();
                            let cj = &p2.c[base * p2.n + j0..];
                            let dj = &p2.d[base * p2.n + j0..];
                            let s12_in: Vec<f64> = s12.to_vec();
                            numerical::series_row(&ci, cj, p2.n, rho, s12);
                            numerical::series_row(&di, dj, p2.n, rho, tmp);
                            dot.copy_from_slice(tmp);
                            for k in 0..wi {
                                if rho[k].abs() > numerical::RHO_SERIES_MAX && Some(k) != diag {
                                    let (e, ed) = match numerical::pair_quadrature_budgeted(
                                        &self.spec.activation,
                                        si,
                                        sj[k],
                                        s12_in[k],
                                        &out.stop,
                                        numerical::PAIR_EVAL_BUDGET,
                                    )
                                    .0
                                    {
                                        numerical::PairOutcome::Done(e, ed) => (e, ed),
                                        numerical::PairOutcome::Stopped => return,
                                        numerical::PairOutcome::OverBudget => {
                                            out.over_budget.store(true, Ordering::Relaxed);
                                            out.stop.store(true, Ordering::Relaxed);
                                            return;
                                        }
                                    };
                                    s12[k] = e;
                                    dot[k] = ed;
                                }
                            }
                        }
                    }
                    for k in 0..wi {
                        s12[k] += beta2;
                    }
                    if let Some(k) = diag {
                        s12[k] = p1.var[(l + 1) * p1.n + i];
                        dot[k] = p1.ddiag[l * p1.n + i];
                    }
                    for k in 0..wi {
                        theta[k] = theta[k] * dot[k] + s12[k];
                    }
                }
            }
            // The largest exponent field of the row (an integer max, which vectorizes): all ones
            // means NaN or ±Inf.
            // The quantities not requested are checked too: a NaN anywhere in the chain (e.g. a
            // NaN Σ̇ when only the NNGP is asked for) must fail the call, not vanish.
            const EXP: u64 = 0x7FF0_0000_0000_0000;
            let mut exp_max = 0u64;
            for (q, (raw, vals)) in out.raws.iter().zip([&*s12, &*dot, &*theta]).enumerate() {
                if let Some(r) = raw {
                    r.put_row(i - out.row_off, j0 - out.col_off, vals);
                }
                let e = vals.iter().fold(0u64, |m, v| m.max(v.to_bits() & EXP));
                if e == EXP && raw.is_none() {
                    out.hidden_nonfinite[q].store(true, Ordering::Relaxed);
                }
                exp_max = exp_max.max(e);
            }
            if exp_max == EXP {
                out.nonfinite.store(true, Ordering::Relaxed);
            }
        }
        if out.mirror {
            // (j, i) ← (i, j) for the entries written above, j ≠ i: row by row of the mirror
            // block, so the writes are contiguous for row-major outputs (the reads come from
            // the block just written, still in cache). Bound by the stores' memory traffic:
            // 8×8 register-blocked transposes measured no faster.
            for r in out.raws.iter().flatten() {
                for j in j0..j1 {
                    let i_start = if lower_only { (j + 1).max(i0) } else { i0 };
                    if r.cs == 1 {
                        let dst = r.ptr.offset(j as isize * r.rs);
                        for i in i_start..i1 {
                            *dst.add(i) = r.get(i, j);
                        }
                    } else {
                        for i in i_start..i1 {
                            r.put(j, i, r.get(i, j));
                        }
                    }
                }
            }
        }
    }
}

/// The row buffers of [`LimitPlan::general_row`] (each of the row's width).
struct GeneralRow<'r> {
    s12: &'r mut [f64],
    dot: &'r mut [f64],
    theta: &'r mut [f64],
    rho: &'r mut [f64],
    tmp: &'r mut [f64],
}

impl LimitPlan<'_> {
    /// One tile row of a per-layer architecture (see [`LimitSpec`]): on entry `g` holds
    /// xᵢᵀx_j/n_0 for the row's columns j0.., on exit `r.s12`, `r.dot`, `r.theta` hold Σ^(L),
    /// Σ̇^(L), Θ^(L). One layer map per pass: the closed forms through the same pair maps as the
    /// fused chain (one layer, no bias), the others by the numerical method. Diagonal entries
    /// of X1 = X2 take the per-point chain. Returns false when the call must stop (cancel, or a
    /// pair over its budget, flagged in `out`).
    // Always inlined into the per-instruction-set tile copies (AVX-512 / AVX2 / portable), so
    // the closed-form pair maps vectorize as in the fused chain (5x slower when called out of
    // line, N = 2000, L = 5).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn general_row(
        &self,
        arch: &crate::network::Architecture,
        i: usize,
        j0: usize,
        g: &[f64],
        diag: Option<usize>,
        r: GeneralRow<'_>,
        out: &TileOut,
    ) -> bool {
        let GeneralRow {
            s12,
            dot,
            theta,
            rho,
            tmp,
        } = r;
        let wi = s12.len();
        let std = arch.parameterization == crate::network::Parameterization::Standard;
        let n0 = self.x1.cols() as f64;
        let layers = self.spec.depth - 1;
        let (p1, p2) = (&*self.p1, self.p2());
        let k1 = numerical::DEGREE + 1;
        let (w0, b0) = self.spec.layer_scales(0);
        for k in 0..wi {
            s12[k] = w0 * g[k] + b0;
            // Standard: Θ^(1) = n_0 (xᵀx′/n_0) + 1 (the gradient of W^(0) and of b^(0)).
            theta[k] = if std { n0 * g[k] + 1.0 } else { s12[k] };
        }
        dot.fill(0.0);
        if let Some(k) = diag {
            s12[k] = p1.var[i];
            if !std {
                theta[k] = p1.var[i];
            }
        }
        for l in 0..layers {
            let si = p1.var[l * p1.n + i];
            let sj = &p2.var[l * p2.n + j0..l * p2.n + j0 + wi];
            match self.spec.layer_closed_form(l) {
                Some(kind @ (ClosedForm::LeakyRelu(_) | ClosedForm::Erf | ClosedForm::Gelu)) => {
                    let at = l * p1.n + i;
                    let rc = chain::RowChain {
                        layers: 1,
                        beta2: 0.0,
                        var_i: &p1.var[at..at + 1],
                        sd_i: &p1.sd[at..at + 1],
                        mean_i: &p1.mean_d[at..at + 1],
                        var_j: &p2.var[l * p2.n + j0..],
                        sd_j: &p2.sd[l * p2.n + j0..],
                        mean_j: &p2.mean_d[l * p2.n + j0..],
                        stride: p2.n,
                        zero_variance: p1.has_zero || p2.has_zero,
                    };
                    // E + 0 and Ė; the chain's own Θ goes to scratch.
                    chain::row(kind, &rc, s12, dot, tmp);
                }
                Some(ClosedForm::Sin) => {
                    snap_row(si, sj, s12);
                    closed_form::trig_row(false, si, sj, s12, dot)
                }
                Some(ClosedForm::Cos) => {
                    snap_row(si, sj, s12);
                    closed_form::trig_row(true, si, sj, s12, dot)
                }
                Some(ClosedForm::Identity) => {
                    snap_row(si, sj, s12);
                    dot.fill(1.0)
                }
                None => {
                    snap_row(si, sj, s12);
                    let ri = p1.sd[l * p1.n + i];
                    let rj = &p2.sd[l * p2.n + j0..l * p2.n + j0 + wi];
                    for k in 0..wi {
                        let den = ri * rj[k];
                        let p = si * sj[k];
                        rho[k] = if p > 0.0 && s12[k] * s12[k] >= p * (1.0 - SNAP_REL) {
                            1.0f64.copysign(s12[k])
                        } else if den > 0.0 {
                            (s12[k] / den).clamp(-1.0, 1.0)
                        } else if (s12[k] * den).is_nan() {
                            f64::NAN
                        } else {
                            0.0
                        };
                    }
                    let base = l * k1;
                    let ci: Vec<f64> = (0..k1).map(|k| p1.c[(base + k) * p1.n + i]).collect();
                    let di: Vec<f64> = (0..k1).map(|k| p1.d[(base + k) * p1.n + i]).collect();
                    let cj = &p2.c[base * p2.n + j0..];
                    let dj = &p2.d[base * p2.n + j0..];
                    let s12_in: Vec<f64> = s12.to_vec();
                    numerical::series_row(&ci, cj, p2.n, rho, s12);
                    numerical::series_row(&di, dj, p2.n, rho, tmp);
                    dot.copy_from_slice(tmp);
                    for k in 0..wi {
                        if rho[k].abs() > numerical::RHO_SERIES_MAX && Some(k) != diag {
                            match numerical::pair_quadrature_budgeted(
                                self.spec.layer_activation(l),
                                si,
                                sj[k],
                                s12_in[k],
                                out.stop,
                                numerical::PAIR_EVAL_BUDGET,
                            )
                            .0
                            {
                                numerical::PairOutcome::Done(e, ed) => {
                                    s12[k] = e;
                                    dot[k] = ed;
                                }
                                numerical::PairOutcome::Stopped => return false,
                                numerical::PairOutcome::OverBudget => {
                                    out.over_budget.store(true, Ordering::Relaxed);
                                    out.stop.store(true, Ordering::Relaxed);
                                    return false;
                                }
                            }
                        }
                    }
                }
            }
            // s12 = E, dot = Ė of this layer map; then weight layer l + 1.
            let (wn, bn) = self.spec.layer_scales(l + 1);
            let nl = arch.widths[l + 1] as f64;
            for k in 0..wi {
                let (e, sdot, sig) = if Some(k) == diag {
                    (
                        p1.ediag[l * p1.n + i],
                        p1.ddiag[l * p1.n + i],
                        p1.var[(l + 1) * p1.n + i],
                    )
                } else {
                    (s12[k], wn * dot[k], wn * s12[k] + bn)
                };
                theta[k] = if std {
                    theta[k].mul_add(sdot, nl * e + 1.0)
                } else {
                    theta[k].mul_add(sdot, sig)
                };
                s12[k] = sig;
                dot[k] = sdot;
            }
        }
        true
    }
}

/// Output views of [`limit_kernel`]: any subset (at least one), each N1×N2.
pub struct LimitOutputs<'o> {
    pub nngp: Option<MatMut<'o>>,
    pub sigma_dot: Option<MatMut<'o>>,
    pub ntk: Option<MatMut<'o>>,
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
        [
            RawOut::of(&out.nngp),
            RawOut::of(&out.sigma_dot),
            RawOut::of(&out.ntk),
        ],
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
    if tile_out.stop.load(Ordering::Relaxed) && !tile_out.over_budget.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    tile_out.check([
        (&out.nngp, "nngp"),
        (&out.sigma_dot, "sigma_dot"),
        (&out.ntk, "ntk"),
    ])
}
