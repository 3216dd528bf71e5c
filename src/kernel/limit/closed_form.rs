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
//! - identity: E = s12, E′ = 1.
//! - sin: E = e^{−(s_i+s_j)/2} sinh(s12), E′ = e^{−(s_i+s_j)/2} cosh(s12); cos: swapped.
//!
//! ReLU and erf run in the fused, vectorized layer chain of [`super::chain`]; this module keeps
//! their per-point (diagonal) values and the sin/cos row maps.

use std::f64::consts::PI;

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
        // e^{−m} sinh(x), e^{−m} cosh(x) without overflow (|x| ≤ m by Cauchy–Schwarz) and without
        // cancellation for small |x|.
        let (sh, ch) = if x.abs() < 20.0 {
            let e = libm::exp(-m);
            (libm::sinh(x) * e, libm::cosh(x) * e)
        } else {
            let p = libm::exp(x - m);
            let q = libm::exp(-x - m);
            (0.5 * (p - q), 0.5 * (p + q))
        };
        if cosine {
            s12[k] = ch;
            dot[k] = sh;
        } else {
            s12[k] = sh;
            dot[k] = ch;
        }
    }
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
    Sin,
    Cos,
}
