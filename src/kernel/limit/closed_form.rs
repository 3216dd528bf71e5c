//! Closed-form Gaussian expectations, one tile row at a time.
//!
//! For (u, v) centred Gaussian with Var u = s_i, Var v = s_j[k], Cov = s12[k], each routine
//! overwrites `s12[k]` with E[σ(u)σ(v)] and writes E[σ′(u)σ′(v)] to `dot[k]`:
//! - ReLU / leaky ReLU (slope a), arc-cosine kernels with det = s_i s_j − s12² ≥ 0 and
//!   θ = atan2(√det, s12) (exact at correlation ±1, unlike arccos of the correlation):
//!   E = (1−a)²/(2π)·√det + ((1+a²)/2 − (1−a)²θ/(2π))·s12, E′ = (1+a²)/2 − (1−a)²θ/(2π).
//!   A zero-variance input (x = 0 with β = 0) is deterministic 0: E = 0 and E′ = m_i m_j with
//!   m = σ′(0) = a when s = 0 and m = E[σ′] = (1+a)/2 otherwise.
//! - erf: with D = 1 + 2(s_i+s_j) + 4·det (= (1+2s_i)(1+2s_j) − 4s12², without cancellation),
//!   E = (2/π)·atan2(2 s12, √D) (= (2/π) asin(2s12/√((1+2s_i)(1+2s_j)))), E′ = (4/π)/√D.
//! - GELU, σ(x) = x·Φ(x): with P = (1+s_i)(1+s_j), Δ² = P − s12² = 1 + s_i + s_j + det (≥ 1,
//!   no cancellation) and θ = atan2(s12, Δ) (Tsuchida, Pearce & de Hoog 2020; neural-tangents'
//!   `Gelu` has the same expressions),
//!   E = s12/4 + (1/2π)·[s12·θ + (s12² + s_i s_j Δ²)/(P Δ)],
//!   E′ = 1/4 + θ/(2π) + s12/(2πΔ)·(1/Δ² + (2 + s_i + s_j)/P)   (= ∂E/∂s12, Price's theorem),
//!   evaluated with φ = π/2 + θ = atan2(Δ, −s12) ∈ (0, π) in place of 1/4 + θ/(2π) = φ/(2π).
//!   With u = 1/(1+s) per point, 1/P = u_i u_j, s_i s_j/P = (s_i u_i)(s_j u_j) and
//!   (2 + s_i + s_j)/P = u_i + u_j, so every term is a sum of non-negative products (bounded by
//!   the variances: no overflow before s_i s_j does) and the signed terms are odd in s12 only.
//!   A zero variance needs no special case: s12 = 0 gives E = 0 and E′ = 1/4 = σ′(0)·E[σ′].
//! - identity: E = s12, E′ = 1.
//! - sin: E = e^{−(s_i+s_j)/2} sinh(s12), E′ = e^{−(s_i+s_j)/2} cosh(s12); cos: swapped.
//!
//! ReLU, erf and GELU run in the fused, vectorized layer chain of [`super::chain`]; this module keeps
//! their per-point (diagonal) values and the sin/cos row maps.

use super::fastmath::atan2_upper_nonzero;
use super::SNAP_REL;
use std::f64::consts::PI;

/// The snapped covariance and det = s_i s_j − s12² of a pair with p = s_i s_j and √p ≈ √s_i √s_j.
/// det is formed with one rounding; the snap condition s12² ≥ s_i s_j (1 − SNAP_REL) is
/// det ≤ SNAP_REL·p, and a snapped pair gets s12 = ±√s_i √s_j and det = 0 exactly.
#[inline(always)]
pub fn snap(p: f64, sqrt_p: f64, x: f64) -> (f64, f64) {
    let det = (-x).mul_add(x, p);
    let snapped = det <= SNAP_REL * p;
    if snapped {
        (sqrt_p.copysign(x), 0.0)
    } else {
        (x, det)
    }
}

/// GELU expectations (E[σ(u)σ(v)], E[σ′(u)σ′(v)]) of a pair with variances s_i, s_j
/// (standard deviations d_i, d_j) and covariance x, snapped as the other closed forms (see
/// the module docs for the formula). Shared by the fused chain and [`diagonal`], so a point's
/// separate copy gets its diagonal value bit for bit. Cost: one square root, six divisions
/// (one in the arctangent, two in the strong-anticorrelation form) and a 14-term polynomial.
#[inline(always)]
pub fn gelu_pair(si: f64, sj: f64, di: f64, dj: f64, x: f64) -> (f64, f64) {
    let (x, det) = snap(si * sj, di * dj, x);
    gelu_pair_det(si, sj, x, det)
}

/// [`gelu_pair`] of a covariance x with det = s_i s_j − x² given (≥ 0, not recomputed): the
/// near-duplicate pairs of [`super::neardup`] pass a det free of cancellation.
#[inline(always)]
pub fn gelu_pair_det(si: f64, sj: f64, x: f64, det: f64) -> (f64, f64) {
    let ui = 1.0 / (1.0 + si);
    let uj = 1.0 / (1.0 + sj);
    let d2 = 1.0 + (si + sj) + det; // Δ² ≥ 1
    let rd = d2.sqrt();
    let ir = 1.0 / rd;
    // φ = π/2 + θ = atan2(Δ, −s12) ∈ (0, π): the s12/4 and s12·θ/(2π) terms combined, so that
    // s12 → −√(s_i s_j) (where E → 0) subtracts no 1/4 from θ/(2π).
    let phi = atan2_upper_nonzero(rd, -x);
    // (s12² u_i u_j + (s_i u_i)(s_j u_j) Δ²)/Δ ≥ 0
    let q = (x * ui) * (x * uj);
    let r = ((si * ui) * (sj * uj)).mul_add(d2, q) * ir;
    let e = x.mul_add(phi, r);
    let g = ir.mul_add(ir, ui + uj);
    let ed = (x * ir).mul_add(g, phi);
    // Strong anticorrelation, t = Δ/|s12| ≤ 1/4 (large variances near ρ = −1): there
    // s12·φ ≈ −Δ and r ≈ Δ cancel (E → −E[u²Φ(u)Φ(−u)] is small), and so do φ ≈ t and
    // s12·g/Δ ≈ −t in E′. With φ = atan t = t − t³·S(t²), S(w) = Σ (−w)ⁿ/(2n+3) (14 terms:
    // (1/16)¹⁴ < ε/3), the identities r = 1/Δ + Δ(1 − u_i − u_j) and
    // t² − u_i − u_j = (Δ⁴ − s12²(1 − det))·u_i u_j / s12² (no cancellation: Δ² > 2|s12|) give
    //   2πE = Δ·(t²S − u_i − u_j) + 1/Δ,   2πE′ = (t² − u_i − u_j − 1/Δ²)/t − t·t²S.
    let ax = x.abs();
    let t = rd / ax;
    let w = t * t;
    let mut sr = 1.0 / 29.0; // n = 13
    for n in (0..13).rev() {
        sr = (-w).mul_add(sr, 1.0 / (2 * n + 3) as f64);
    }
    let ws = w * sr;
    let e_anti = rd.mul_add(ws - (ui + uj), ir);
    let n0 = d2.mul_add(d2, -(x * x) * (1.0 - det)) * (ui * uj) / (x * x);
    let ed_anti = (n0 - ir * ir) / t - t * ws;
    let anti = x < 0.0 && 4.0 * rd <= ax;
    let (e, ed) = if anti { (e_anti, ed_anti) } else { (e, ed) };
    ((1.0 / (2.0 * PI)) * e, (1.0 / (2.0 * PI)) * ed)
}

/// E[σ′] at variance s for leaky ReLU: σ′(0) = a when s = 0, (1+a)/2 otherwise.
pub fn relu_mean_derivative(a: f64, s: f64) -> f64 {
    if s == 0.0 {
        a
    } else {
        0.5 * (1.0 + a)
    }
}

/// sin (`cosine = false`) or cos (`cosine = true`) expectations of one row.
pub fn trig_row(cosine: bool, si: f64, sj: &[f64], s12: &mut [f64], dot: &mut [f64]) {
    for k in 0..s12.len() {
        let x = s12[k];
        let m = 0.5 * (si + sj[k]);
        let (e, ed) = trig_pair(cosine, m, x, x - m, -x - m);
        s12[k] = e;
        dot[k] = ed;
    }
}

/// (E, E′) of sin or cos for covariance x and m = (s_i + s_j)/2, given x − m and −x − m (the
/// near-duplicate pairs of [`super::neardup`] pass them free of cancellation: −(c + δ²/2)).
#[inline(always)]
pub fn trig_pair(cosine: bool, m: f64, x: f64, x_m: f64, nx_m: f64) -> (f64, f64) {
    // e^{−m} sinh(x), e^{−m} cosh(x) without overflow (|x| ≤ m by Cauchy–Schwarz) and without
    // cancellation for small |x|.
    let (sh, ch) = if x.abs() < 20.0 {
        let e = libm::exp(-m);
        (libm::sinh(x) * e, libm::cosh(x) * e)
    } else {
        let p = libm::exp(x_m);
        let q = libm::exp(nx_m);
        (0.5 * (p - q), 0.5 * (p + q))
    };
    if cosine {
        (ch, sh)
    } else {
        (sh, ch)
    }
}

/// erf's (E, E′) of a covariance x with det = s_i s_j − x² given (≥ 0; module docs).
#[inline(always)]
pub fn erf_pair_det(si: f64, sj: f64, x: f64, det: f64) -> (f64, f64) {
    let d = 1.0 + 2.0 * (si + sj) + 4.0 * det;
    let rd = d.sqrt(); // ≥ 1
    let th = atan2_upper_nonzero(2.0 * x.abs(), rd);
    let e = (2.0 / PI) * if x < 0.0 { -th } else { th };
    (e, (4.0 / PI) / rd)
}

/// Diagonal values (E[σ(u)²], E[σ′(u)²]) at variance s for the closed-form activations.
pub fn diagonal(kind: ClosedForm, s: f64) -> (f64, f64) {
    match kind {
        ClosedForm::Identity => (s, 1.0),
        ClosedForm::LeakyRelu(a) => {
            if s == 0.0 {
                (0.0, a * a)
            } else {
                (0.5 * (1.0 + a * a) * s, 0.5 * (1.0 + a * a))
            }
        }
        ClosedForm::Erf => {
            let d = 1.0 + 4.0 * s;
            (
                (2.0 / PI) * libm::atan2(2.0 * s, d.sqrt()),
                (4.0 / PI) / d.sqrt(),
            )
        }
        ClosedForm::Gelu => {
            let d = s.sqrt();
            gelu_pair(s, s, d, d, s)
        }
        ClosedForm::Sin => {
            let e = libm::exp(-2.0 * s);
            (0.5 * (1.0 - e), 0.5 * (1.0 + e))
        }
        ClosedForm::Cos => {
            let e = libm::exp(-2.0 * s);
            (0.5 * (1.0 + e), 0.5 * (1.0 - e))
        }
    }
}

/// The activations with closed-form expectations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClosedForm {
    Identity,
    /// Slope a (ReLU: a = 0).
    LeakyRelu(f64),
    Erf,
    /// x·Φ(x), Φ the standard normal distribution function.
    Gelu,
    Sin,
    Cos,
}
