//! Near-duplicate and near-antipodal pairs of the closed-form limit kernels (identity, (leaky)
//! ReLU, erf, GELU, sin, cos; issue 17, part 1), on the one-kind tile path and the per-layer
//! general path.
//!
//! The fused chain ([`super::chain`]) forms det = s_i s_j − s12² from the covariance, which
//! cancels when |ρ| → 1 (√det then carries a relative error ≈ ε/(1 − ρ²)), and snaps to ρ = ±1
//! inside the band 1 − ρ² < 16ε, dropping the angle the arc-cosine kernels depend on linearly.
//! The pairs the Gram GEMM flags as close (1 − ρ² < [`NEAR_REL`] at layer 1) are recomputed here
//! after the fused chain, in a fix-up pass, from a cancellation-free quantity carried through
//! the layers: with a = √s_i, b = √s_j, r = ab, the gap c = ab − s12 ≥ 0 (ρ ≈ +1) or
//! c̄ = ab + s12 ≥ 0 (ρ ≈ −1), and δ = a − b. Then det = c(2r − c) and the angle ψ (θ on the + side, φ = π − θ on the −
//! side) is atan2(√det, r − c) ∈ [0, π/2]: no subtraction of nearly equal numbers.
//!
//! Layer 1 (Σ^(1) = xᵀx′/n_0 + β²), from the inputs directly: δ = (s_i − s_j)/(a + b) with
//! s_i − s_j = (x − x′)ᵀ(x + x′)/n_0, and
//! - n_0 ≤ [`LAGRANGE_MAX_DIM`]: Lagrange's identity, exact for any offset direction,
//!   det = Σ_{k<l} (x_k x′_l − x_l x′_k)²/n_0² + β²‖x − x′‖²/n_0 (each minor by Kahan's FMA
//!   algorithm, every term ≥ 0), c = det/(r + |s12|) on either side;
//! - n_0 > [`LAGRANGE_MAX_DIM`]: as 2(ab ∓ s12) = (s_i + s_j ∓ 2 s12) − δ²,
//!   c = (‖x − x′‖²/n_0 − δ²)/2 and c̄ = (‖x + x′‖²/n_0 + 4β² − δ²)/2, exact while the angular
//!   part of x ∓ x′ is not far below its radial part (relative error ≈ ε·(radial/angular)²).
//!
//! Layer map of leaky ReLU with slope α, h = (1 + α²)/2, k = (1 − α)²/(2π),
//! E = k√det + (h − kθ)s12, E′ = h − kθ, and g(ψ) = sin ψ − ψ cos ψ ≥ 0 (a series for ψ ≤ 1):
//! - ρ ≈ +1: E = h s12 + k·r·g(θ), E′ = h − kθ; with s′ = h s + β² per point,
//!   a′b′ − (h r + β²) = β²hδ²/(a′b′ + h r + β²), so
//!   c′ = a′b′ − E − β² = β²hδ²/(a′b′ + h r + β²) + (h c − k·r·g(θ)),
//!   where h c − k r g = r[h(1 − cos θ) − k g(θ)] > 0 for θ ≤ π/2 (no cancellation).
//! - ρ ≈ −1 (θ = π − φ, h − kπ = α): E = −α(r − c̄) + k·r·g(φ), E′ = α + kφ, and
//!   c̄′ = a′b′ + E + β² = (β²h(s_i + s_j) + β⁴)/(a′b′ + h r) + β² + (h − α) r + α c̄ + k r g(φ),
//!   with h − α = (1 − α)²/2 ≥ 0.
//! - δ′ = a′ − b′ = h(s_i − s_j)/(a′ + b′) = h δ (a + b)/(a′ + b′).
//!
//! A gap that passes r (ρ changes sign) switches side: c̄ = 2r − c. Θ^(l+1) = Θ^(l)·E′ + Σ^(l+1)
//! as in the fused chain.
//!
//! Smooth closed forms (erf, GELU, sin, cos; [`NearMap::Smooth`]): E, E′ from the exact
//! covariance and det (sin, cos: also the exact m ∓ x = δ²/2 + gap), and the next gap from
//! a′b′ ∓ Σ′ = w[(F_i + F_j)/2 ∓ E] (+ 2σ_b² on the − side) − δ′²/2, δ′ = w(F_i − F_j)/(a′ + b′),
//! with (F_i + F_j)/2 ∓ E and F_i − F_j formed without cancellation ([`smooth_gap`]: erf by
//! arcsine differences, sin/cos by expm1, GELU by arcsine differences plus double-double
//! algebraic terms), so a later ReLU gets its angle to full accuracy.
//!
//! An exact copy of x (x′ = x bit for bit) gets x's own per-point chain, so it gives the
//! diagonal value bit for bit (the fused chain's snapped h·(√s_i·√s_j) could differ from
//! h·s_i by an ulp); an exact negation at β = 0 gets gap 0, i.e. exactly Σ̇ = α, Σ = −α s.
//!
//! Cost per flagged pair: the seed, O(n_0²) (n_0 ≤ [`LAGRANGE_MAX_DIM`]) or O(n_0), plus one
//! square root, one atan2, three divisions and a 10-term polynomial per layer, run layer by
//! layer over a row's flagged entries; unflagged pairs pay one multiply-add and a comparison
//! (the flag test). Measured (2026-12-02, shared 2-core machine, N = 2000, L = 5, β = 0.1):
//! random inputs at d = 2, 5, 100 unchanged within noise (≈ 0.04 s); inputs clustered within
//! 1e-3 of one point, every pair flagged: d = 5 0.36 s, d = 100 0.74 s.

use super::closed_form::{erf_pair_det, gelu_pair_det, trig_pair, ClosedForm};
use super::fastmath::atan2_upper_nonzero;
use crate::linalg::MatRef;
use std::f64::consts::PI;

/// Pairs with 1 − ρ² < NEAR_REL at layer 1 take the gap recursion. Above it the fused chain's
/// cancellation error ε/(1 − ρ²) is below 1e-13.
pub const NEAR_REL: f64 = 1e-3;

/// Sin and cos at layer 1 also flag every pair with (s_i + s_j)/2 above this: their E ∝ e^{x − m}
/// (m the mean variance) turns the absolute rounding ε·m of the covariance into a relative
/// error ε·m, which the seed's cancellation-free m ∓ x = δ²/2 + gap avoids. Only inputs of
/// squared norm ≳ 16·n_0 pay for it.
pub const TRIG_FLAG_MEAN: f64 = 16.0;

/// Whether a layer-1 pair (variances s_i, s_j > 0, covariance x) is flagged for the fix-up.
#[inline(always)]
pub fn is_near(si: f64, sj: f64, x: f64) -> bool {
    let p = si * sj;
    p > 0.0 && (-x).mul_add(x, p) < NEAR_REL * p
}

/// Input dimensions up to which the layer-1 gap comes from Lagrange's identity (O(n_0²) per
/// flagged pair, exact for any offset direction); above it from ‖x ∓ x′‖² − n_0δ² (O(n_0), exact
/// while the angular part of x − x′ is not far below its radial part: the gap's relative
/// error is ≈ ε·(radial/angular)²).
pub const LAGRANGE_MAX_DIM: usize = 64;

/// a·b − c·d with an error of at most 1.5 ulp of the result (Kahan's algorithm with FMA).
#[inline(always)]
fn minor(a: f64, b: f64, c: f64, d: f64) -> f64 {
    let w = c * d;
    let e = (-c).mul_add(d, w);
    let f = a.mul_add(b, -w);
    f + e
}

/// g(t) = sin t − t cos t = t³ Σ_{m≥0} (−1)^m (2m+2)/(2m+3)! t^{2m}, for 0 ≤ t ≤ 1 (10 terms:
/// the first omitted is 22/23!·t²⁰ < 1e-21, and the terms fall by ≥ 10× so the sum does not
/// cancel).
#[inline(always)]
fn g_series(t: f64) -> f64 {
    /// (−1)^m (2m+2)/(2m+3)! for m = 0..10 (the nearest f64 of each, from mpmath).
    const COEF: [f64; 10] = [
        0.3333333333333333,
        -0.03333333333333333,
        0.0011904761904761906,
        -2.2045855379188714e-05,
        2.505210838544172e-07,
        -1.9270852604185937e-09,
        1.0706029224547743e-11,
        -4.498331606952833e-14,
        1.4797143443923793e-16,
        -3.9145882126782523e-19,
    ];
    let w = t * t;
    let mut s = 0.0f64;
    for &c in COEF.iter().rev() {
        s = s.mul_add(w, c);
    }
    t * w * s
}

/// The layer map after weight layer l as the gap recursion sees it, with the scales of weight
/// layer l + 1 (module docs).
#[derive(Clone, Copy, Debug)]
pub struct NearLayer {
    pub map: NearMap,
    /// σ_w², σ_b² of weight layer l + 1.
    pub w: f64,
    pub b: f64,
    /// Standard parameterization: Some(n_{l+1}) (Θ gets n·E + 1); NTK: None.
    pub standard: Option<f64>,
    /// Whether the path forms Θ^(l+1) = Θ^(l)·Σ̇ + add with one rounding (FMA) or two: an
    /// exact copy repeats it, so it gets the diagonal entry's bits.
    pub theta_fma: bool,
}

/// How a layer map carries the gap.
#[derive(Clone, Copy, Debug)]
pub enum NearMap {
    /// Leaky ReLU with this slope (ReLU 0, the identity 1): the gap recursion, exact.
    Leaky(f64),
    /// A smooth closed form (erf, GELU, sin, cos): E, E′ from the exact covariance and det
    /// (for sin and cos also the exact x − m), the next gap by subtraction (a smooth map is
    /// well conditioned in the covariance; only a later ReLU needs the gap).
    Smooth(ClosedForm),
}

impl NearMap {
    /// The gap map of a closed form.
    pub fn of(kind: ClosedForm) -> NearMap {
        match kind {
            ClosedForm::LeakyRelu(a) => NearMap::Leaky(a),
            ClosedForm::Identity => NearMap::Leaky(1.0),
            other => NearMap::Smooth(other),
        }
    }
}

/// A flagged entry of a tile row and its gap-recursion state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Near {
    /// Column offset in the row.
    pub k: usize,
    /// Σ^(1) and Θ^(1) of the pair (from the Gram GEMM).
    pub s12_1: f64,
    pub th_1: f64,
    /// At the current layer: the gap c = ab − s12 (`plus`, s12 ≥ 0) or c̄ = ab + s12, |s12|
    /// (= ab − gap, each of the two accurate: the one not computed directly is formed from the
    /// other only while it is the larger, see [`settle`]), and δ = √s_i − √s_j.
    gap: f64,
    xabs: f64,
    delta: f64,
    plus: bool,
    /// Σ, Σ̇, Θ after the layers done so far.
    s: f64,
    ed: f64,
    th: f64,
    /// Done: an exact copy (x's own chain) or a non-finite seed (the fused value stands).
    done: bool,
    /// Whether to overwrite the fused chain's entry.
    write: bool,
}

impl Near {
    pub fn new(k: usize, s12_1: f64, th_1: f64) -> Near {
        Near {
            k,
            s12_1,
            th_1,
            ..Default::default()
        }
    }
}

/// Per-layer values of the row point i (index l·stride_i) and of the row's columns (column k
/// at index l·stride + k).
pub struct RowData<'a> {
    /// σ_w², σ_b² of weight layer 0 (Σ^(1) = w_0 xᵀx′/n_0 + b_0).
    pub w0: f64,
    pub b0: f64,
    /// Number of layer maps L − 1 (≥ 1).
    pub layers: usize,
    pub var_i: &'a [f64],
    pub sd_i: &'a [f64],
    /// σ_w² E[σ′(u)²] and E[σ(u)²] of i at layer l (l < layers).
    pub ddiag_i: &'a [f64],
    pub ediag_i: &'a [f64],
    pub stride_i: usize,
    pub var_j: &'a [f64],
    pub sd_j: &'a [f64],
    pub stride: usize,
}

/// Seeds the gap of entry `e` (row xi of `x` against row xj of `y`; module docs). An exact copy
/// of x gets x's diagonal chain right away.
#[inline(always)]
fn seed(
    p: &RowData<'_>,
    layer: &impl Fn(usize) -> NearLayer,
    x: MatRef<'_>,
    xi: usize,
    y: MatRef<'_>,
    yj: usize,
    e: &mut Near,
) {
    let n0 = x.cols() as f64;
    let (mut dd, mut ss, mut df) = (0.0f64, 0.0f64, 0.0f64);
    for k in 0..x.cols() {
        let (u, v) = (x.at(xi, k), y.at(yj, k));
        let (m, q) = (u - v, u + v);
        dd = m.mul_add(m, dd);
        ss = q.mul_add(q, ss);
        df = m.mul_add(q, df);
    }
    let si = p.stride_i;
    e.done = true;
    e.write = true;
    if dd == 0.0 {
        // An exact copy of x (u − v = 0 in every coordinate): x's own chain, with the
        // tile's Θ update, so the entry equals the diagonal value bit for bit.
        // Θ^(1): the per-point variance (NTK) or the pair's own xᵀx′ + 1 (standard).
        let mut th = if layer(0).standard.is_some() {
            e.th_1
        } else {
            p.var_i[0]
        };
        for l in 0..p.layers {
            let lay = layer(l);
            let add = match lay.standard {
                Some(nl) => nl * p.ediag_i[l * si] + 1.0,
                None => p.var_i[(l + 1) * si],
            };
            th = if lay.theta_fma {
                th.mul_add(p.ddiag_i[l * si], add)
            } else {
                th * p.ddiag_i[l * si] + add
            };
        }
        e.s = p.var_i[p.layers * si];
        e.ed = p.ddiag_i[(p.layers - 1) * si];
        e.th = th;
        return;
    }
    let (w0, b0) = (p.w0, p.b0);
    let (a0, b0d) = (p.sd_i[0], p.sd_j[e.k]);
    let s12_1 = e.s12_1;
    let delta = (w0 * (df / n0)) / (a0 + b0d);
    let plus = s12_1 >= 0.0;
    let gap = if x.cols() <= LAGRANGE_MAX_DIM {
        // det = s_i s_j − s12² = w_0² Σ_{k<l} m_kl²/n_0² + w_0 b_0 ‖x − x′‖²/n_0 (Lagrange's
        // identity; every term ≥ 0), then c = det/(r + s12) or c̄ = det/(r − s12).
        let mut m2 = 0.0f64;
        for k in 0..x.cols() {
            let (xk, yk) = (x.at(xi, k), y.at(yj, k));
            for l in k + 1..x.cols() {
                let (xl, yl) = (x.at(xi, l), y.at(yj, l));
                // Both operand orders, so (x, x′) and (x′, x) give m = ∓ the same bits (the
                // kernel of X against itself stays symmetric bit for bit).
                let m = 0.5 * (minor(xk, yl, xl, yk) - minor(xl, yk, xk, yl));
                m2 = m.mul_add(m, m2);
            }
        }
        let det = (w0 * w0) * (m2 / (n0 * n0)) + (w0 * b0) * (dd / n0);
        det / (a0 * b0d + s12_1.abs())
    } else {
        let sum = if plus {
            w0 * (dd / n0)
        } else {
            w0 * (ss / n0) + 4.0 * b0
        };
        (0.5 * (-delta).mul_add(delta, sum)).max(0.0)
    };
    if !gap.is_finite() {
        e.write = false;
        return;
    }
    let (gap, xabs) = settle(a0 * b0d, gap, s12_1.abs());
    e.gap = gap;
    e.xabs = xabs;
    e.delta = delta;
    e.plus = plus;
    e.th = e.th_1;
    e.done = false;
}

/// (gap, |s12|) of a pair with r = ab from a gap and an |s12| that are each accurate when
/// small: the smaller one is kept and the other is r minus it (no cancellation: the kept one
/// is ≤ r/2). A gap > r (the covariance changed sign) is taken from |s12|.
#[inline(always)]
fn settle(r: f64, gap: f64, xabs: f64) -> (f64, f64) {
    if gap <= xabs && gap <= r {
        (gap, (r - gap).max(0.0))
    } else {
        ((r - xabs).max(0.0), xabs)
    }
}

/// The next layer's gap as a layer map leaves it.
enum Next {
    /// The gap (on the side of the entry's `plus`) and δ′.
    Gap(f64, f64),
    /// A smooth map's (F_i + F_j)/2 ∓ E on side `.2` (true: +, −E; false: −, +E), F_i − F_j, and a′ + b′
    /// ([`smooth_gap`]).
    Smooth(f64, f64, bool, f64),
    /// Neither: the gap by subtraction.
    None,
}

/// asin X − asin Y for X, Y ∈ [0, 1] given √(1 − X²), √(1 − Y²) and X² − Y² (each accurate):
/// sin of it is (X² − Y²)/(X√(1 − Y²) + Y√(1 − X²)), cos of it √(1 − X²)√(1 − Y²) + XY, so
/// nothing cancels.
#[inline(always)]
fn asin_sub(x: f64, y: f64, cx: f64, cy: f64, x2_y2: f64) -> f64 {
    // No FMA here: x·cy + y·cx is then symmetric in (X, Y) bit for bit.
    let den = x * cy + y * cx;
    if den == 0.0 {
        return 0.0;
    }
    libm::atan2(x2_y2 / den, cx.mul_add(cy, x * y))
}

/// asin A_i + asin A_j − 2 asin T for T = √(A_i A_j), A ∈ [0, 1), given ᾱ = (asin A_i +
/// asin A_j)/2, asin T, √(1 − T²), √(1 − A_i²)√(1 − A_j²) and A_i − A_j, without its two
/// O(A_i − A_j) halves cancelling: with φ₁ = asin A_i + asin A_j, φ₂ = 2 asin T,
/// cos φ₂ − cos φ₁ = (1 − T²) − c_i c_j = (A_i − A_j)²/((1 − T²) + c_i c_j) (as
/// (1 − T²)² − c_i² c_j² = (A_i − A_j)²) = 2 sin((φ₁ + φ₂)/2) sin((φ₁ − φ₂)/2), the mean angle
/// (φ₁ + φ₂)/2 = ᾱ + asin T ∈ (0, π) directly (absolute error a few ε, its sine not cancelling).
#[inline(always)]
fn asin_rad(abar: f64, asin_t: f64, ct: f64, cicj: f64, dai: f64) -> f64 {
    let cc = ct.mul_add(ct, cicj);
    let sh = (dai * dai) / (2.0 * cc * libm::sin(abar + asin_t));
    if sh.is_finite() {
        2.0 * libm::asin(sh.min(1.0))
    } else {
        0.0 // A_i = A_j = 0
    }
}

/// Double-double arithmetic (value hi + lo, |lo| ≤ ulp(hi)/2; FMA-based, so the same bits on
/// every instruction set) for GELU's algebraic terms in [`smooth_gap`].
mod dd {
    pub type Dd = (f64, f64);
    #[inline(always)]
    pub fn from(a: f64) -> Dd {
        (a, 0.0)
    }
    #[inline(always)]
    pub fn two_sum(a: f64, b: f64) -> Dd {
        let s = a + b;
        let bb = s - a;
        (s, (a - (s - bb)) + (b - bb))
    }
    #[inline(always)]
    fn quick(a: f64, b: f64) -> Dd {
        let s = a + b;
        (s, b - (s - a))
    }
    #[inline(always)]
    pub fn add(a: Dd, b: Dd) -> Dd {
        let (s, e) = two_sum(a.0, b.0);
        let (t, f) = two_sum(a.1, b.1);
        let (s, e) = quick(s, e + t);
        quick(s, e + f)
    }
    #[inline(always)]
    pub fn sub(a: Dd, b: Dd) -> Dd {
        add(a, (-b.0, -b.1))
    }
    #[inline(always)]
    pub fn mul(a: Dd, b: Dd) -> Dd {
        let p = a.0 * b.0;
        let e = a.0.mul_add(b.0, -p);
        quick(p, e + (a.0 * b.1 + a.1 * b.0))
    }
    #[inline(always)]
    pub fn scale(a: Dd, k: f64) -> Dd {
        mul(a, from(k))
    }
    #[inline(always)]
    pub fn div(a: Dd, b: Dd) -> Dd {
        let q1 = a.0 / b.0;
        let r = sub(a, mul(b, from(q1)));
        let q2 = r.0 / b.0;
        let r = sub(r, mul(b, from(q2)));
        let q3 = r.0 / b.0;
        add(quick(q1, q2), from(q3))
    }
    #[inline(always)]
    pub fn sqrt(a: Dd) -> Dd {
        if !(a.0 > 0.0) {
            return from(a.0.sqrt());
        }
        let x = a.0.sqrt();
        // One Newton step from x: x + (a − x²)/(2x).
        let r = sub(a, mul(from(x), from(x)));
        quick(x, r.0 / (2.0 * x))
    }
    #[inline(always)]
    pub fn to_f64(a: Dd) -> f64 {
        a.0 + a.1
    }
    /// GELU's g(s) = 2s²/((1 + s)√(1 + 2s)).
    #[inline(always)]
    pub fn gelu_g(s: f64) -> Dd {
        let s2 = mul(from(s), from(s));
        let den = mul(two_sum(1.0, s), sqrt(two_sum(1.0, 2.0 * s)));
        div(scale(s2, 2.0), den)
    }
}

/// For a smooth closed form with F(s) = E[σ(u)²] at variance s: (F_i + F_j)/2 ∓ E(x) on the
/// side where it is small (`side`: true for + (−E), false for − (+E)), and F_i − F_j, from the
/// exact pieces of a flagged pair (r = √(s_i s_j), det = s_i s_j − x², ds = s_i − s_j,
/// u = m − x, v = m + x with m = (s_i + s_j)/2, each free of cancellation), without
/// subtracting nearly equal numbers. None where the pair's side gives no small value (GELU
/// at ρ ≈ −1: its next pair is not near; the gap then comes from |Σ′|).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn smooth_gap(
    kind: ClosedForm,
    si: f64,
    sj: f64,
    r: f64,
    x: f64,
    det: f64,
    ds: f64,
    (gap, delta): (f64, f64),
    u: f64,
    v: f64,
) -> Option<(f64, f64, bool)> {
    let minus = x < 0.0;
    match kind {
        ClosedForm::Erf => {
            // F(s) = (2/π) asin A, A = 2s/(1 + 2s); E = (2/π) asin t, t = 2x/√(q_i q_j),
            // q = 1 + 2s; with T = 2r/√(q_i q_j) = √(A_i A_j):
            // (F_i + F_j)/2 ∓ E = (2/π)[(asin A_i − asin T)/2 + (asin A_j − asin T)/2
            //                          + (asin T − asin |t|)], odd: on the side of x.
            let (qi, qj) = (2.0f64.mul_add(si, 1.0), 2.0f64.mul_add(sj, 1.0));
            let q = qi * qj;
            let sq = q.sqrt();
            let (ai, aj) = (2.0 * si / qi, 2.0 * sj / qj);
            let (cai, caj) = (
                4.0f64.mul_add(si, 1.0).sqrt() / qi,
                4.0f64.mul_add(sj, 1.0).sqrt() / qj,
            );
            let one = 2.0f64.mul_add(si + sj, 1.0); // 1 + 2(s_i + s_j)
            let (tt, ct) = (2.0 * r / sq, one.sqrt() / sq);
            let (t, cs) = (2.0 * x.abs() / sq, 4.0f64.mul_add(det, one).sqrt() / sq);
            let dai = 2.0 * ds / q; // A_i − A_j
            let ang = asin_sub(tt, t, ct, cs, 4.0 * det / q);
            let abar = 0.5 * (libm::asin(ai) + libm::asin(aj));
            let rad = asin_rad(abar, libm::asin(tt), ct, cai * caj, dai);
            let dn = (2.0 / PI) * (0.5f64.mul_add(rad, ang));
            let d2 = (2.0 / PI) * asin_sub(ai, aj, cai, caj, dai * (ai + aj));
            Some((dn, d2, !minus))
        }
        ClosedForm::Sin | ClosedForm::Cos => {
            // F_sin(s) = (1 − e^{−2s})/2, F_cos(s) = (1 + e^{−2s})/2, E_sin = (e^{−u} − e^{−v})/2,
            // E_cos = (e^{−u} + e^{−v})/2, e^{−s_i} ± e^{−s_j} = 2e^{−m}(cosh, −sinh)(ds/2):
            // (F_i + F_j)/2 − E_cos = [(1 − e^{−u})(1 − e^{−v}) + 2(e^{−m} sinh(ds/2))²]/2 (both
            // sides: E_cos is even); (F_i + F_j)/2 ∓ E_sin =
            // [(1 − e^{−w})(1 + e^{−w̄}) − 2(e^{−m} sinh(ds/2))²]/2 with w = u (+) or v (−),
            // w̄ the other (the subtrahend ≤ 0.37·(δ²/2) ≤ 0.37 w: no catastrophic cancellation).
            let hs = if ds.abs() < 1.0 {
                libm::exp(-0.5 * (si + sj)) * libm::sinh(0.5 * ds)
            } else {
                0.5 * (libm::exp(-sj) - libm::exp(-si))
            };
            let hc = 0.5 * (libm::exp(-sj) + libm::exp(-si));
            let (em_u, em_v) = (-libm::expm1(-u), -libm::expm1(-v)); // 1 − e^{−u}, 1 − e^{−v}
            if kind == ClosedForm::Cos {
                let dn = 0.5 * em_u.mul_add(em_v, 2.0 * hs * hs);
                Some((dn, -2.0 * hs * hc, true))
            } else {
                let (w1, w2) = if minus { (em_v, u) } else { (em_u, v) };
                let dn = 0.5 * w1.mul_add(1.0 + libm::exp(-w2), -2.0 * hs * hs);
                Some((dn.max(0.0), 2.0 * hs * hc, !minus))
            }
        }
        ClosedForm::Gelu if !minus => {
            // 2πE = (π/2)x + x·α(x) + Q(x), α(x) = asin(x/√P), P = (1 + s_i)(1 + s_j),
            // Q(x) = (s_i s_j (1 + Δ²) − det)/(PΔ), Δ² = 1 + s_i + s_j + det; and F(s) the
            // same at (s, s, s): α_s = asin A, A = s/(1 + s), Q = g(s) = 2s²/((1 + s)√(1 + 2s)).
            // 2π[(F_i + F_j)/2 − E] = (π/2)u + [(s_iα_i + s_jα_j)/2 − xα(x)] + [(g_i + g_j)/2 − Q]
            // with, X = r, ᾱ = (α_i + α_j)/2, T = X/√P = √(A_i A_j):
            // (s_iα_i + s_jα_j)/2 − xα(x) = (δ²/2)ᾱ + X(ᾱ − asin T) + (ds/2)(α_i − α_j)/2
            //                               + c·asin T + x(asin T − α(x)),
            // and the algebraic bracket in double-double arithmetic (it is second order in ds
            // and first order in c, each term O(1)).
            let (pi1, pj1) = (1.0 + si, 1.0 + sj);
            let pp = pi1 * pj1;
            let sp = pp.sqrt();
            let (ai, aj) = (si / pi1, sj / pj1);
            let (cai, caj) = (
                2.0f64.mul_add(si, 1.0).sqrt() / pi1,
                2.0f64.mul_add(sj, 1.0).sqrt() / pj1,
            );
            let one = 1.0 + (si + sj); // P − s_i s_j = (1 − T²)P
            let (tt, ct) = (r / sp, one.sqrt() / sp);
            let (t, cs) = (x / sp, (one + det).sqrt() / sp);
            let dai = ds / pp; // A_i − A_j
            let (alpha_i, alpha_j) = (libm::asin(ai), libm::asin(aj));
            let abar = 0.5 * (alpha_i + alpha_j);
            let alpha_t = libm::asin(tt);
            let rad = asin_rad(abar, alpha_t, ct, cai * caj, dai);
            let da = asin_sub(ai, aj, cai, caj, dai * (ai + aj));
            let dang = asin_sub(tt, t, ct, cs, det / pp);
            let hd2 = 0.5 * delta * delta;
            let asn = hd2 * abar + r * (0.5 * rad) + (0.25 * ds) * da + gap * alpha_t + x * dang;
            let (gi, gj) = (dd::gelu_g(si), dd::gelu_g(sj));
            // Q in double-double: (s_i s_j (1 + Δ²) − det)/(P Δ).
            let sij = dd::mul(dd::from(si), dd::from(sj));
            let (p1i, p1j) = (dd::two_sum(1.0, si), dd::two_sum(1.0, sj));
            let d2 = dd::add(dd::add(p1i, dd::from(sj)), dd::from(det)); // Δ², exact
            let num = dd::sub(dd::mul(sij, dd::add(dd::from(1.0), d2)), dd::from(det));
            let den = dd::mul(dd::mul(p1i, p1j), dd::sqrt(d2));
            let q = dd::div(num, den);
            let alg = dd::to_f64(dd::sub(dd::scale(dd::add(gi, gj), 0.5), q));
            let dn = (1.0 / (2.0 * PI)) * ((0.5 * PI) * u + asn + alg);
            // 2π(F_i − F_j) = (π/2)ds + ds·ᾱ + ((s_i + s_j)/2)(α_i − α_j) + (g_i − g_j).
            let d2f =
                (0.5 * PI) * ds + ds * abar + (0.5 * (si + sj)) * da + dd::to_f64(dd::sub(gi, gj));
            Some((dn, (1.0 / (2.0 * PI)) * d2f, true))
        }
        ClosedForm::Gelu | ClosedForm::LeakyRelu(_) | ClosedForm::Identity => None,
    }
}

/// Layer l of the gap recursion for entry `e` (module docs).
#[inline(always)]
fn step(p: &RowData<'_>, l: usize, lay: NearLayer, e: &mut Near) {
    let NearLayer {
        map,
        w,
        b: b2,
        standard,
        ..
    } = lay;
    let (gap, plus) = (e.gap, e.plus);
    let (a, b) = (p.sd_i[l * p.stride_i], p.sd_j[l * p.stride + e.k]);
    let (si, sj) = (p.var_i[l * p.stride_i], p.var_j[l * p.stride + e.k]);
    let r = a * b;
    if !(r > 0.0) {
        // A zero (or non-finite) variance: the fused chain's rule stands.
        e.done = true;
        e.write = false;
        return;
    }
    let cosr = e.xabs; // |s12| = r·cos ψ ≥ 0
    let last = l + 1 == p.layers;
    let (a1, b1) = if last {
        (0.0, 0.0)
    } else {
        (
            p.sd_i[(l + 1) * p.stride_i],
            p.sd_j[(l + 1) * p.stride + e.k],
        )
    };
    let (ev, ed, next) = match map {
        NearMap::Leaky(al) => {
            let h = 0.5 * (1.0 + al * al);
            let kc = (1.0 - al) * (1.0 - al) / (2.0 * PI);
            let sd = (gap * (r + cosr)).sqrt(); // √det = r·sin ψ
                                                // ψ ∈ [0, π/2] (≤ 2 ulp; (√det, r cos ψ) ≠ (0, 0) as r > 0)
            let ang = atan2_upper_nonzero(sd, cosr);
            let rg = if ang <= 1.0 {
                r * g_series(ang)
            } else {
                sd - ang * cosr
            };
            let (ev, ed) = if plus {
                (h.mul_add(cosr, kc * rg), (-kc).mul_add(ang, h))
            } else {
                ((-al).mul_add(cosr, kc * rg), kc.mul_add(ang, al))
            };
            let next = if last {
                Next::None
            } else {
                let r1 = a1 * b1;
                let wh = w * h;
                let delta = e.delta;
                let g = if plus {
                    b2 * wh * delta * delta / (r1 + wh * r + b2) + w * h.mul_add(gap, -kc * rg)
                } else {
                    (b2 * wh * (si + sj) + b2 * b2) / (r1 + wh * r)
                        + b2
                        + w * (0.5 * (1.0 - al) * (1.0 - al) * r + al * gap + kc * rg)
                };
                Next::Gap(g, wh * delta * (a + b) / (a1 + b1))
            };
            (ev, ed, next)
        }
        NearMap::Smooth(kind) => {
            let x = if plus { cosr } else { -cosr };
            let det = gap * (r + cosr);
            // m ∓ x = (s_i + s_j)/2 − ab + (ab ∓ x) = δ²/2 + gap on the side of `plus`.
            let m = 0.5 * (si + sj);
            let near = (0.5 * e.delta).mul_add(e.delta, gap);
            let (u, v) = if plus { (near, m + x) } else { (m - x, near) };
            let (ev, ed) = match kind {
                ClosedForm::Erf => erf_pair_det(si, sj, x, det),
                ClosedForm::Gelu => gelu_pair_det(si, sj, x, det),
                ClosedForm::Sin | ClosedForm::Cos => {
                    trig_pair(kind == ClosedForm::Cos, m, x, -u, -v)
                }
                // Not smooth maps (NearMap::of).
                ClosedForm::LeakyRelu(_) | ClosedForm::Identity => unreachable!(),
            };
            let next = if last {
                None
            } else {
                let ds = e.delta * (a + b); // s_i − s_j
                smooth_gap(kind, si, sj, r, x, det, ds, (gap, e.delta), u, v)
            };
            let next = match next {
                Some((dn, d2, side)) => Next::Smooth(dn, d2, side, a1 + b1),
                None => Next::None,
            };
            (ev, ed, next)
        }
    };
    let s = w.mul_add(ev, b2);
    let sdot = w * ed;
    e.s = s;
    e.ed = sdot;
    let add = match standard {
        Some(nl) => nl.mul_add(ev, 1.0),
        None => s,
    };
    e.th = e.th.mul_add(sdot, add);
    if !last {
        let r1 = a1 * b1;
        let (g, d) = match next {
            // The recursion's gap is on the side of `plus`: on the other side when s changed
            // sign (then |s| gives the gap).
            Next::Gap(g, d) if (s >= 0.0) == plus => (g, d),
            Next::Gap(_, d) => (f64::INFINITY, d),
            Next::Smooth(dn, d2, side, ab1) => {
                // a′b′ ∓ Σ′ = (Σ′_i + Σ′_j)/2 ∓ Σ′ − δ′²/2 with (Σ′_i + Σ′_j)/2 ∓ Σ′ =
                // w·dn (+ 2σ_b² on the − side), δ′ = w(F_i − F_j)/(a′ + b′).
                let d = w * d2 / ab1;
                let g = if (s >= 0.0) == side {
                    let base = if side {
                        w * dn
                    } else {
                        w.mul_add(dn, 2.0 * b2)
                    };
                    (-0.5 * d).mul_add(d, base).max(0.0)
                } else {
                    f64::INFINITY
                };
                (g, d)
            }
            Next::None => {
                // By subtraction (see NearMap::Smooth), δ from the next layer's variances.
                let (si1, sj1) = (
                    p.var_i[(l + 1) * p.stride_i],
                    p.var_j[(l + 1) * p.stride + e.k],
                );
                (f64::INFINITY, (si1 - sj1) / (a1 + b1))
            }
        };
        let (g, xa) = settle(r1, g, s.abs());
        e.gap = g;
        e.xabs = xa;
        e.plus = s >= 0.0;
        e.delta = d;
    }
}

/// Runs the gap recursion for the flagged entries `near` of row xi of `x` (columns j0 + k of
/// `y`), layer l mapped as `layer(l)`, and overwrites their Σ, Σ̇, Θ in `s12`, `dot`, `theta`.
/// Layer by layer over all the entries, so the out-of-order core overlaps the latencies of
/// independent pairs.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn fix_row(
    p: &RowData<'_>,
    layer: impl Fn(usize) -> NearLayer,
    x: MatRef<'_>,
    xi: usize,
    y: MatRef<'_>,
    j0: usize,
    near: &mut [Near],
    s12: &mut [f64],
    dot: &mut [f64],
    theta: &mut [f64],
) {
    if p.layers == 0 {
        return;
    }
    for e in near.iter_mut() {
        seed(p, &layer, x, xi, y, j0 + e.k, e);
    }
    for l in 0..p.layers {
        let lay = layer(l);
        for e in near.iter_mut().filter(|e| !e.done) {
            step(p, l, lay, e);
        }
    }
    for e in near.iter().filter(|e| e.write) {
        s12[e.k] = e.s;
        dot[e.k] = e.ed;
        theta[e.k] = e.th;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The series against sin t − t cos t with libm: at t ∈ [0.5, 1] the direct form cancels by
    /// at most 10× (so agrees to ~1e-15), and for small t against t³/3 − t⁵/30 + t⁷/840.
    #[test]
    fn g_series_matches_direct_and_leading_terms() {
        for i in 0..=50 {
            let t = 0.5 + 0.01 * i as f64;
            let direct = libm::sin(t) - t * libm::cos(t);
            let got = g_series(t);
            assert!(
                (got - direct).abs() <= 2e-15 * direct,
                "t={t}: {got} vs {direct}"
            );
        }
        for &t in &[1e-300, 1e-20, 1e-8, 1e-4, 1e-2] {
            let w = t * t;
            let want = t * w * (1.0 / 3.0 - w / 30.0 + w * w / 840.0);
            assert!((g_series(t) - want).abs() <= 1e-16 * want, "t={t}");
        }
    }

    /// A row of near pairs (angular and radial offsets, x′ ≈ ±x, an exact copy) through the
    /// widest instruction set and the portable code: the same bits.
    #[test]
    fn fix_row_bits_do_not_depend_on_the_instruction_set() {
        let n0 = 3;
        let x = [0.7, -1.1, 0.4];
        let mut ys = Vec::new();
        for k in 1..=15 {
            let h = 10f64.powi(-k);
            for sgn in [1.0, -1.0] {
                ys.extend([sgn * x[0] + h, sgn * x[1] - 0.3 * h, sgn * x[2] + 0.2 * h]);
            }
        }
        ys.extend(x);
        let w = ys.len() / n0;
        let beta2 = 0.09;
        let layers = 4;
        let slope = 0.2;
        let h = 0.5 * (1.0 + slope * slope);
        let chain = |s0: f64| -> Vec<f64> {
            let mut v = vec![s0];
            for _ in 0..layers {
                let last = *v.last().unwrap();
                v.push(h * last + beta2);
            }
            v
        };
        let sq = |p: &[f64]| p.iter().map(|v| v * v).sum::<f64>() / n0 as f64 + beta2;
        let vi = chain(sq(&x));
        let sdi: Vec<f64> = vi.iter().map(|v| v.sqrt()).collect();
        let ddi = vec![h; layers];
        let mut var_j = vec![0.0; (layers + 1) * w];
        let mut near = Vec::new();
        for k in 0..w {
            for (l, v) in chain(sq(&ys[k * n0..(k + 1) * n0])).into_iter().enumerate() {
                var_j[l * w + k] = v;
            }
            let s1 = (0..n0).map(|c| x[c] * ys[k * n0 + c]).sum::<f64>() / n0 as f64 + beta2;
            near.push(Near::new(k, s1, s1));
        }
        let sd_j: Vec<f64> = var_j.iter().map(|v| v.sqrt()).collect();
        let rd = RowData {
            w0: 1.0,
            b0: beta2,
            layers,
            var_i: &vi,
            sd_i: &sdi,
            ddiag_i: &ddi,
            ediag_i: &ddi,
            stride_i: 1,
            var_j: &var_j,
            sd_j: &sd_j,
            stride: w,
        };
        let ly = NearLayer {
            map: NearMap::Leaky(slope),
            w: 1.0,
            b: beta2,
            standard: None,
            theta_fma: true,
        };
        let xm = MatRef::from_row_major(&x, 1, n0);
        let ym = MatRef::from_row_major(&ys, w, n0);
        let run = |isa: crate::simd::Isa| {
            let (mut s, mut d, mut t) = (vec![0.0; w], vec![0.0; w], vec![0.0; w]);
            let mut nr = near.clone();
            let (rd, nr_, s_, d_, t_) = (&rd, &mut nr[..], &mut s[..], &mut d[..], &mut t[..]);
            crate::simd::dispatch!(isa; fn(
                rd: &RowData<'_>,
                ly: NearLayer,
                xm: MatRef<'_>,
                ym: MatRef<'_>,
                nr_: &mut [Near],
                s_: &mut [f64],
                d_: &mut [f64],
                t_: &mut [f64]
            ) {
                fix_row(rd, move |_| ly, xm, 0, ym, 0, nr_, s_, d_, t_)
            });
            (s, d, t)
        };
        let b = run(crate::simd::Isa::Scalar);
        for isa in crate::simd::Isa::all() {
            let a = run(isa);
            for k in 0..w {
                assert_eq!(a.0[k].to_bits(), b.0[k].to_bits(), "{isa:?} k={k}");
                assert_eq!(a.1[k].to_bits(), b.1[k].to_bits(), "{isa:?} k={k}");
                assert_eq!(a.2[k].to_bits(), b.2[k].to_bits(), "{isa:?} k={k}");
            }
        }
        let a = &b;
        for k in 0..w {
            assert!(a.0[k].is_finite() && a.2[k] != 0.0);
        }
        // The exact copy (last) got the diagonal chain.
        assert_eq!(a.0[w - 1], vi[layers]);
    }
}
