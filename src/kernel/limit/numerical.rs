//! Gaussian expectations of a general activation σ (tanh, sigmoid, softplus, user σ; GELU under
//! `LimitMethod::Quadrature`).
//!
//! For (u, v) centred Gaussian with variances s₁, s₂ and correlation ρ we need
//! E[σ(u)σ(v)] and E[σ′(u)σ′(v)] for every pair and layer, accurate to 1e-10 relative whatever
//! the variances (an input of norm 30 in 5 dimensions gives s ≈ 180, where σ(√s z) is a near-step
//! and σ′(√s z) a spike of width 1/√s, which fixed Gauss–Hermite rules cannot resolve).
//!
//! # Method (accuracy checks: see the module docs of `limit`)
//! 1. **Per point, once per layer** (1-D, O(N·L) work): the normalized Hermite coefficients
//!    c_k(s) = E[σ(√s z) He_k(z)]/√k! and d_k(s) = E[σ′(√s z) He_k(z)]/√k!, k ≤ [`DEGREE`], and
//!    the diagonal values E[σ(√s z)²], E[σ′(√s z)²], by adaptive Gauss–Kronrod on
//!    [−14, 14] with breakpoints where the argument √s·z crosses the transition region
//!    (0, ±¼, ±½, …, in the argument's own scale) and panels no wider than ½ (He_k oscillates).
//! 2. **Per pair with |ρ| ≤ [`RHO_SERIES_MAX`]**: Mehler's formula
//!    E[σ(u)σ(v)] = Σ_k c_k(s₁) c_k(s₂) ρ^k (Horner, vectorized over a tile row). By
//!    Cauchy–Schwarz and Parseval (Σ c_k² = E[σ²]) the truncation error is at most
//!    |ρ|^{K+1} √(E[σ(u)²] E[σ(v)²]) ≤ 0.6⁶⁵ ≈ 4e-15 of that scale, for every variance.
//!    Cost ≈ 2(K+1) multiply-adds per pair and layer.
//! 3. **Per pair with |ρ| > [`RHO_SERIES_MAX`]** (near-duplicates, antipodal points): the
//!    conditional 1-D reduction E[σ(u)σ(v)] = E_{z₁}[σ(√s₁ z₁) G(z₁)] with
//!    G(z₁) = E_{z₂}[σ(m + τ z₂)], m = √s₂ ρ z₁, τ = √s₂ √(1−ρ²), both integrals by the adaptive
//!    rule with breakpoints in the argument's own scale (the inner one at z₂ = (c − m)/τ), so the
//!    smoothing width τ → 0 is handled exactly (τ = 0 gives G = σ(m)). Costly (~10⁵ σ calls)
//!    but needed only for highly correlated pairs.
//!
//! Memory: 2(K+1) doubles per point and layer, independent of the number of pairs.

use super::quadrature::{adaptive2, adaptive2_checked, breakpoints};
use crate::activation::Activation;
use std::sync::atomic::{AtomicBool, Ordering};

/// Degree K of the Mehler (Hermite) expansion.
pub const DEGREE: usize = 64;
/// Largest |ρ| evaluated by the series; 0.6^(K+1) ≈ 3.6e-15.
pub const RHO_SERIES_MAX: f64 = 0.6;
/// Integration range in standard-normal units (the weight e^{−z²/4} left after a bounded Hermite
/// function is 5e-22 at 14).
const ZMAX: f64 = 14.0;
/// Local tolerance of the adaptive rule (relative to the panel's L1 mass), outer and inner.
const TOL_1D: f64 = 1e-12;
const TOL_OUTER: f64 = 1e-12;
const TOL_INNER: f64 = 1e-14;

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

#[inline]
fn phi(z: f64) -> f64 {
    FRAC_1_SQRT_2PI * libm::exp(-0.5 * z * z)
}

/// Per-point quantities of one layer at variance s.
#[derive(Clone, Debug)]
pub struct PointExpansion {
    /// E[σ(√s z)²]
    pub e_ss: f64,
    /// E[σ′(√s z)²]
    pub e_dd: f64,
    /// c_k, k = 0..=DEGREE
    pub c: Vec<f64>,
    /// d_k, k = 0..=DEGREE
    pub d: Vec<f64>,
    /// The adaptive rule met its tolerance within MAX_PANELS panels (false: σ varies too fast
    /// at this variance, and the values above are not accurate).
    pub converged: bool,
}

/// Computes [`PointExpansion`] at variance `s` ≥ 0 (step 1 of the module docs).
pub fn point_expansion(act: &Activation, s: f64) -> PointExpansion {
    let k1 = DEGREE + 1;
    if !s.is_finite() {
        // A variance that overflowed (or a NaN from an earlier layer) has no expansion: NaN
        // everywhere, so that it reaches the outputs and fails the call. (NaN used to take the
        // zero-variance branch below and give finite, wrong kernels.)
        return PointExpansion {
            e_ss: f64::NAN,
            e_dd: f64::NAN,
            c: vec![f64::NAN; k1],
            d: vec![f64::NAN; k1],
            converged: true,
        };
    }
    let mut c = vec![0.0; k1];
    let mut d = vec![0.0; k1];
    if !(s > 0.0) {
        let (s0, d0) = (act.sigma(0.0), act.dsigma(0.0));
        c[0] = s0;
        d[0] = d0;
        return PointExpansion {
            e_ss: s0 * s0,
            e_dd: d0 * d0,
            c,
            d,
            converged: true,
        };
    }
    let r = s.sqrt();
    let breaks = breakpoints(&[(r, 0.0)], ZMAX, Some(0.5));
    let sqrt_k: Vec<f64> = (0..=k1).map(|k| (k as f64).sqrt()).collect();
    // 1/√(k+1), so that the serial recurrence below multiplies instead of dividing (a division
    // on the dependency chain made this loop the hot spot of non-closed-form kernels).
    let inv_sqrt_k: Vec<f64> = (0..=k1).map(|k| 1.0 / (k as f64).sqrt()).collect();
    let mut e_ss = 0.0;
    let mut e_dd = 0.0;
    let mut h = vec![0.0; k1];
    let mut f = |z: f64| {
        let p = phi(z);
        let x = r * z;
        [act.sigma(x) * p, act.dsigma(x) * p]
    };
    let mut accept = |a: f64, b: f64, z: &[f64; 15], v: &[[f64; 2]; 15]| {
        let (_, w) = super::quadrature::nodes(a, b);
        for n in 0..15 {
            let zn = z[n];
            let (fs, fd) = (v[n][0], v[n][1]);
            let p = phi(zn);
            if p > 0.0 {
                e_ss += w[n] * fs * fs / p;
                e_dd += w[n] * fd * fd / p;
            }
            // Normalized probabilists' Hermite polynomials h_k = He_k/√k!:
            // h_{k+1} = (z h_k − √k h_{k−1}) / √(k+1).
            h[0] = 1.0;
            if k1 > 1 {
                h[1] = zn;
            }
            for k in 1..k1 - 1 {
                h[k + 1] = (zn * h[k] - sqrt_k[k] * h[k - 1]) * inv_sqrt_k[k + 1];
            }
            let (ws, wd) = (w[n] * fs, w[n] * fd);
            for k in 0..k1 {
                c[k] += ws * h[k];
                d[k] += wd * h[k];
            }
        }
    };
    let (_, converged) = adaptive2_checked(&mut f, &breaks, TOL_1D, [0.0; 2], &mut accept);
    PointExpansion {
        e_ss,
        e_dd,
        c,
        d,
        converged,
    }
}

/// RMS values (√E[σ(√s z)²], √E[σ′(√s z)²]) at variance s > 0, by one adaptive 1-D pass.
fn rms(act: &Activation, s: f64) -> [f64; 2] {
    let r = s.sqrt();
    let breaks = breakpoints(&[(r, 0.0)], ZMAX, None);
    let mut f = |z: f64| {
        let p = phi(z);
        let x = r * z;
        let (a, b) = (act.sigma(x), act.dsigma(x));
        [a * a * p, b * b * p]
    };
    let m = adaptive2(&mut f, &breaks, 1e-6, [0.0; 2], &mut |_, _, _, _| {});
    [m[0].max(0.0).sqrt(), m[1].max(0.0).sqrt()]
}

/// Most activation evaluations (σ and σ′ at one argument count as one) that one pair's nested
/// quadrature may use at one layer. The typical pair of a smooth σ (tanh at s = 450, ρ = 1 − 1e-9)
/// needs about 10⁵; a σ that oscillates faster than the rule can resolve (sin(1000x)) would need
/// up to 15²·MAX_PANELS² ≈ 2·10⁸ and minutes per pair. Past the budget the pair is abandoned and
/// the call fails with `Error::Numerical` naming it, so the work of a limit-kernel call is bounded
/// for any σ by N1·N2·(L−1)·PAIR_EVAL_BUDGET evaluations for the pairs plus
/// (N1 + N2)·(L−1)·2·15·MAX_PANELS for the per-point expansions.
pub const PAIR_EVAL_BUDGET: u64 = 20_000_000;

/// How a budgeted pair quadrature ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PairOutcome {
    /// (E[σ(u)σ(v)], E[σ′(u)σ′(v)]).
    Done(f64, f64),
    /// The stop flag was set (a cancel, or another pair over its budget).
    Stopped,
    /// More than the budget of activation evaluations would be needed.
    OverBudget,
}

/// E[σ(u)σ(v)] and E[σ′(u)σ′(v)] by nested adaptive quadrature (step 3 of the module docs).
/// Requires s11 > 0 and s22 > 0. Non-finite inputs give NaN. Unbudgeted: see
/// [`pair_quadrature_budgeted`] for the bounded form the kernels use.
#[cfg(test)]
pub fn pair_quadrature(act: &Activation, s11: f64, s22: f64, s12: f64) -> (f64, f64) {
    match pair_quadrature_budgeted(act, s11, s22, s12, &AtomicBool::new(false), u64::MAX).0 {
        PairOutcome::Done(e, ed) => (e, ed),
        _ => (f64::NAN, f64::NAN),
    }
}

/// [`pair_quadrature`] that gives up after `budget` activation evaluations, or as soon as `stop`
/// is set (read between outer nodes, each at most 30·MAX_PANELS evaluations: 15 per panel, two panels per bisection). Also returns the
/// number of evaluations used.
///
/// Error control: besides the relative per-panel tolerances, the inner integral G(z₁) needs
/// only an absolute accuracy TOL_INNER·rms₂ (rms₂ = √E[σ(v)²], resp. σ′), since its error enters
/// the outer integral weighted by |σ(√s₁ z₁)|φ(z₁), whose integral is at most rms₁; the outer one
/// needs TOL_OUTER·rms₁·rms₂ (the Cauchy–Schwarz bound of the result). These absolute floors
/// stop the refinement where σ′ is pure rounding noise (a user's σ′ = 1 − tanh² in the tails is
/// quantized in steps of ε, which no relative criterion can resolve), so the cost stays bounded.
pub fn pair_quadrature_budgeted(
    act: &Activation,
    s11: f64,
    s22: f64,
    s12: f64,
    stop: &AtomicBool,
    budget: u64,
) -> (PairOutcome, u64) {
    if !(s11.is_finite() && s22.is_finite() && s12.is_finite()) {
        return (PairOutcome::Done(f64::NAN, f64::NAN), 0);
    }
    // The nested rule is not symmetric in its two points to the last bit (outer and inner
    // integrals differ), but E[σ(u)σ(v)] is: order the variances so that K(x, x′) and K(x′, x)
    // get the same bits. Tiles of one point set above the diagonal then equal the mirrored
    // lower triangle of the symmetric kernel (found by fuzz/fuzz_targets/tiles.rs).
    let (s11, s22) = if s22.total_cmp(&s11).is_lt() {
        (s22, s11)
    } else {
        (s11, s22)
    };
    let r1 = s11.sqrt();
    let r2 = s22.sqrt();
    let (m1, m2) = (rms(act, s11), rms(act, s22));
    let len = 2.0 * ZMAX;
    let inner_floor = [TOL_INNER * m2[0] / len, TOL_INNER * m2[1] / len];
    let outer_floor = [
        TOL_OUTER * m1[0] * m2[0] / len,
        TOL_OUTER * m1[1] * m2[1] / len,
    ];
    // Correlation ±1 within the snap band of the tiles (see `super::SNAP_REL`) is exactly ±1,
    // so that the smoothing width τ is exactly 0 there.
    let rho = if s12 * s12 >= s11 * s22 * (1.0 - super::SNAP_REL) {
        1.0f64.copysign(s12)
    } else {
        (s12 / (r1 * r2)).clamp(-1.0, 1.0)
    };
    let one_minus = (1.0 - rho) * (1.0 + rho);
    let tau = r2 * one_minus.max(0.0).sqrt();
    let outer_breaks = breakpoints(&[(r1, 0.0), (r2 * rho.abs(), 0.0)], ZMAX, None);
    let mut inner_breaks: Vec<f64> = Vec::with_capacity(64);
    let mut evals: u64 = 0;
    let mut outcome: Option<PairOutcome> = None;
    let mut outer = |z1: f64| {
        if outcome.is_some() {
            return [0.0, 0.0];
        }
        if stop.load(Ordering::Relaxed) {
            outcome = Some(PairOutcome::Stopped);
            return [0.0, 0.0];
        }
        let p1 = phi(z1);
        let m = r2 * rho * z1;
        let g = if tau > 0.0 {
            inner_breaks.clear();
            inner_breaks.extend(breakpoints(&[(tau, m)], ZMAX, None));
            let mut count = 0u64;
            let mut inner = |z2: f64| {
                count += 1;
                let p2 = phi(z2);
                let x = m + tau * z2;
                [act.sigma(x) * p2, act.dsigma(x) * p2]
            };
            let g = adaptive2(
                &mut inner,
                &inner_breaks,
                TOL_INNER,
                inner_floor,
                &mut |_, _, _, _| {},
            );
            evals += count;
            g
        } else {
            evals += 1;
            [act.sigma(m), act.dsigma(m)]
        };
        evals += 1;
        if evals > budget {
            outcome = Some(PairOutcome::OverBudget);
        }
        let x = r1 * z1;
        [act.sigma(x) * g[0] * p1, act.dsigma(x) * g[1] * p1]
    };
    let r = adaptive2(
        &mut outer,
        &outer_breaks,
        TOL_OUTER,
        outer_floor,
        &mut |_, _, _, _| {},
    );
    (outcome.unwrap_or(PairOutcome::Done(r[0], r[1])), evals)
}

/// out[j] = Σ_k ci[k] · cj[k·stride + j] · rho[j]^k (Horner), for j < out.len().
#[inline(always)]
fn series_loop(ci: &[f64], cj: &[f64], stride: usize, rho: &[f64], out: &mut [f64]) {
    let w = out.len();
    let rho = &rho[..w];
    out.fill(0.0);
    for k in (0..ci.len()).rev() {
        let a = ci[k];
        let row = &cj[k * stride..k * stride + w];
        for j in 0..w {
            out[j] = out[j] * rho[j] + a * row[j];
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn series_loop_avx2(ci: &[f64], cj: &[f64], stride: usize, rho: &[f64], out: &mut [f64]) {
    series_loop(ci, cj, stride, rho, out)
}

/// Mehler series of one tile row (see [`series_loop`]); the coefficients of the column points
/// are stored k-major (`cj[k*stride + j]`), so the inner loop is contiguous.
pub fn series_row(ci: &[f64], cj: &[f64], stride: usize, rho: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if super::fastmath::has_avx2() {
            // SAFETY: feature checked.
            return unsafe { series_loop_avx2(ci, cj, stride, rho, out) };
        }
    }
    series_loop(ci, cj, stride, rho, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budgeted quadrature gives the unbudgeted bits when the budget suffices, gives up with
    /// OverBudget (having used about the budget, not the ~10^8 evaluations the integrand would
    /// take) when it does not, and stops at once on the stop flag.
    #[test]
    fn pair_budget_and_stop() {
        let act = Activation::Tanh;
        let (s1, s2, s12) = (2.0, 3.0, 0.9 * 6.0f64.sqrt());
        let (e, ed) = pair_quadrature(&act, s1, s2, s12);
        let stop = AtomicBool::new(false);
        let (full, used) = pair_quadrature_budgeted(&act, s1, s2, s12, &stop, u64::MAX);
        assert_eq!(full, PairOutcome::Done(e, ed));
        assert!(used > 1000, "{used} evaluations");
        let (o, u) = pair_quadrature_budgeted(&act, s1, s2, s12, &stop, used / 2);
        assert_eq!(o, PairOutcome::OverBudget);
        assert!(u <= used / 2 + 30 * super::super::quadrature::MAX_PANELS as u64 + 1);
        let (o, u) = pair_quadrature_budgeted(&act, s1, s2, s12, &AtomicBool::new(true), u64::MAX);
        assert_eq!((o, u), (PairOutcome::Stopped, 0));
        // sin(1000 x) exceeds the default budget instead of running for minutes.
        let fast = Activation::Custom(std::sync::Arc::new(crate::activation::FnActivation {
            sigma: |x: f64| (1000.0 * x).sin(),
            dsigma: |x: f64| 1000.0 * (1000.0 * x).cos(),
        }));
        let t0 = std::time::Instant::now();
        let (o, u) = pair_quadrature_budgeted(&fast, 1.0, 1.0, 0.99, &stop, PAIR_EVAL_BUDGET);
        assert_eq!(
            o,
            PairOutcome::OverBudget,
            "{u} evaluations in {:?}",
            t0.elapsed()
        );
    }

    /// erf closed forms (see NOTES-numerics): the numerical path must reproduce them.
    fn erf_closed(s11: f64, s22: f64, s12: f64) -> (f64, f64) {
        let pi = std::f64::consts::PI;
        let det = (s11 * s22 - s12 * s12).max(0.0);
        let dd = 1.0 + 2.0 * (s11 + s22) + 4.0 * det;
        (
            2.0 / pi * libm::atan2(2.0 * s12, dd.sqrt()),
            4.0 / pi / dd.sqrt(),
        )
    }

    #[test]
    fn erf_quadrature_and_series_match_closed_form_over_variances() {
        let act = Activation::Erf;
        let mut worst: f64 = 0.0;
        for &(s11, s22) in &[(1e-6, 2.0), (1.0, 4.0), (180.0, 180.0), (5e3, 20.0)] {
            let pi = point_expansion(&act, s11);
            let pj = point_expansion(&act, s22);
            for &rho in &[-1.0, -0.999_999, -0.3, 0.05, 0.55, 0.9, 1.0] {
                let s12 = rho * (s11 * s22).sqrt();
                let (e, ed) = erf_closed(s11, s22, s12);
                let (q, qd) = if rho.abs() <= RHO_SERIES_MAX {
                    let mut out = [0.0];
                    let cj: Vec<f64> = pj.c.clone();
                    series_row(&pi.c, &cj, 1, &[rho], &mut out);
                    let mut outd = [0.0];
                    series_row(&pi.d, &pj.d, 1, &[rho], &mut outd);
                    (out[0], outd[0])
                } else {
                    pair_quadrature(&act, s11, s22, s12)
                };
                let scale = (pi.e_ss * pj.e_ss).sqrt();
                let err = ((q - e) / e.abs().max(1e-3 * scale)).abs();
                let errd = ((qd - ed) / ed).abs();
                worst = worst.max(err).max(errd);
                assert!(err < 1e-11, "E s=({s11},{s22}) rho={rho}: {q} vs {e}");
                assert!(errd < 1e-11, "E' s=({s11},{s22}) rho={rho}: {qd} vs {ed}");
            }
            let (e, ed) = erf_closed(s11, s11, s11);
            assert!(
                ((pi.e_ss - e) / e).abs() < 1e-12,
                "diag {s11}: {} vs {e}",
                pi.e_ss
            );
            assert!(
                ((pi.e_dd - ed) / ed).abs() < 1e-12,
                "diag' {s11}: {} vs {ed}",
                pi.e_dd
            );
        }
        eprintln!("erf numerical vs closed form: worst relative error {worst:e}");
    }
}
