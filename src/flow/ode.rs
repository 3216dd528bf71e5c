//! An adaptive Dormand–Prince 5(4) integrator (Hairer, Nørsett & Wanner, "Solving ODEs I", II.5).
//!
//! Each step takes 6 new right-hand-side evaluations (FSAL). The local error estimate of the
//! embedded 4th-order solution is measured in the norm
//!   err = sqrt( mean_i ( e_i / (atol + rtol·max(|y_i|, |y_new_i|)) )² ),
//! a step is accepted when err ≤ 1, and the next step size is h·min(5, max(0.2, 0.9·err^(−1/5))).
//! The global error is typically a small multiple of the tolerances.
//!
//! # Hopeless requests fail fast
//! An explicit method is stable only for h·ρ(J) ≲ 3.3 (ρ(J): the spectral radius of the
//! Jacobian), so a stiff problem advances by about 3.3/ρ per step whatever the tolerances. Two
//! checks keep a hopeless request from running [`MAX_STEPS`] steps (minutes) before failing:
//! - a step that no longer advances t (h below the spacing of doubles at t, or h = 0) fails at once
//!   with "step size underflow" (as does a rejected step with h < 1e-15·|t1 − t0|);
//! - every [`WINDOW`] steps the integrator extrapolates the steps still needed from the time
//!   advanced in the last two windows: linearly when the step size did not grow, geometrically
//!   (the growth ratio kept up forever) when it did. This is optimistic, so only a request whose
//!   optimistic estimate exceeds the remaining step budget fails, with `Error::Numerical` naming
//!   the step size, the interval and the estimate. Flows whose step size grows (e.g. a saturating
//!   softmax, whose curvature decays) are not stopped.
//!
//! # Progress and cancellation
//! `integrate` reports (done, [`PROGRESS_TOTAL`]) with done = the fraction of |t1 − t0| covered,
//! in millionths: (0, total) before the first step, every `report_every` steps, and (total,
//! total) after the last. A cancel returns `Error::Cancelled`; `y` is then unchanged only if the
//! caller integrates a copy (as [`crate::flow::Flow`] does).

use crate::parallel::Progress;
use crate::{Error, Result};

/// Tolerances of the integrator.
#[derive(Clone, Copy, Debug)]
pub struct OdeTolerances {
    /// Relative tolerance of each step's local error estimate.
    pub rtol: f64,
    /// Absolute tolerance of each step's local error estimate.
    pub atol: f64,
}

impl Default for OdeTolerances {
    /// rtol = 1e-10, atol = 1e-12.
    fn default() -> Self {
        OdeTolerances {
            rtol: 1e-10,
            atol: 1e-12,
        }
    }
}

/// Maximum number of steps of one `integrate` call.
pub const MAX_STEPS: usize = 10_000_000;

/// Steps (accepted + rejected) per window of the stiffness extrapolation.
pub const WINDOW: usize = 256;

/// The `total` of the progress reports of `integrate`: done/total is the fraction of the time
/// interval covered.
pub const PROGRESS_TOTAL: u64 = 1_000_000;

const C: [f64; 7] = [0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0];
const A: [[f64; 6]; 7] = [
    [0.0; 6],
    [0.2, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
        0.0,
        0.0,
    ],
    [
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
        0.0,
    ],
    [
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// 5th-order weights (= last row of A) minus the 4th-order weights.
const E: [f64; 7] = [
    35.0 / 384.0 - 5179.0 / 57600.0,
    0.0,
    500.0 / 1113.0 - 7571.0 / 16695.0,
    125.0 / 192.0 - 393.0 / 640.0,
    -2187.0 / 6784.0 + 92097.0 / 339200.0,
    11.0 / 84.0 - 187.0 / 2100.0,
    -1.0 / 40.0,
];

/// Statistics of an integration.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OdeStats {
    /// Accepted steps.
    pub accepted: usize,
    /// Rejected steps (error estimate above tolerance).
    pub rejected: usize,
    /// Right-hand-side evaluations (kernel products).
    pub evaluations: usize,
}

/// Integrates y' = f(t, y) from t0 to t1 (t1 < t0 is allowed), updating `y` in place.
/// `f(t, y, dy)` writes the derivative into `dy`. Progress is reported to `progress` as described
/// in the module documentation, every `report_every` (≥ 1) steps; on an error or a cancel `y`
/// holds a partial state.
pub(crate) fn integrate<F>(
    f: F,
    t0: f64,
    t1: f64,
    y: &mut [f64],
    tol: OdeTolerances,
    progress: &mut Progress<'_>,
    report_every: usize,
) -> Result<OdeStats>
where
    F: FnMut(f64, &[f64], &mut [f64]) -> Result<()>,
{
    integrate_impl(f, t0, t1, y, tol, progress, report_every).map_err(|e| blame_tolerance(e, tol))
}

/// Smallest relative tolerance the integrator can honour: the local error estimate carries
/// rounding noise of a few ulps of |y| (ε ≈ 2.2e-16) per step, so an rtol below ~45 ε cannot be
/// met whatever the step size.
pub const RTOL_FLOOR: f64 = 1e-14;

/// When the integrator gives up (step-size underflow, the step cap, the stiffness estimate) with
/// rtol below [`RTOL_FLOOR`], the cause is the tolerance, not the flow: say so.
fn blame_tolerance(e: Error, tol: OdeTolerances) -> Error {
    match e {
        Error::Numerical(msg) if tol.rtol < RTOL_FLOOR => Error::Numerical(format!(
            "ODE integrator: the tolerance rtol = {:e} is below what double precision can meet \
             (rounding alone gives a relative local error of about 1e-16 per step), so the step \
             size collapses; use rtol >= {RTOL_FLOOR:e} (integrator report: {msg})",
            tol.rtol
        )),
        other => other,
    }
}

fn integrate_impl<F>(
    mut f: F,
    t0: f64,
    t1: f64,
    y: &mut [f64],
    tol: OdeTolerances,
    progress: &mut Progress<'_>,
    report_every: usize,
) -> Result<OdeStats>
where
    F: FnMut(f64, &[f64], &mut [f64]) -> Result<()>,
{
    let n = y.len();
    let mut stats = OdeStats::default();
    progress.report(0, PROGRESS_TOTAL)?;
    if t1 == t0 || n == 0 {
        progress.report(PROGRESS_TOTAL, PROGRESS_TOTAL)?;
        return Ok(stats);
    }
    let report_every = report_every.max(1);
    let dir = if t1 > t0 { 1.0 } else { -1.0 };
    let span = (t1 - t0).abs();
    let mut k: Vec<Vec<f64>> = vec![vec![0.0; n]; 7];
    let mut ytmp = vec![0.0; n];
    let mut ynew = vec![0.0; n];
    f(t0, y, &mut k[0])?;
    stats.evaluations += 1;
    let scale = |yi: f64, yn: f64| tol.atol + tol.rtol * yi.abs().max(yn.abs());
    // Initial step (Hairer's heuristic).
    let d0 = rms(y.iter().map(|&v| v / scale(v, v)));
    let d1 = rms(y.iter().zip(&k[0]).map(|(&v, &dv)| dv / scale(v, v)));
    let mut h = if d0 < 1e-5 || d1 < 1e-5 {
        1e-6
    } else {
        0.01 * d0 / d1
    };
    h = h.min(span);
    let mut t = t0;
    let mut last_reject = false;
    // Stiffness extrapolation: the time advanced in the previous window and where this one began.
    let mut window_start = t0;
    let mut previous_advance = f64::NAN;
    while (t1 - t) * dir > 0.0 {
        let steps = stats.accepted + stats.rejected;
        if steps >= MAX_STEPS {
            return Err(Error::Numerical(format!(
                "ODE integrator: {MAX_STEPS} steps did not reach t = {} (stopped at t = {})",
                fmt_time(t1),
                fmt_time(t)
            )));
        }
        if steps > 0 && steps % report_every == 0 {
            let done = ((t - t0).abs() / span * PROGRESS_TOTAL as f64) as u64;
            progress.report(done.min(PROGRESS_TOTAL), PROGRESS_TOTAL)?;
        }
        if steps > 0 && steps % WINDOW == 0 {
            let advance = (t - window_start).abs();
            if previous_advance.is_finite() {
                check_hopeless(t0, t1, t, steps, advance, previous_advance)?;
            }
            previous_advance = advance;
            window_start = t;
        }
        let remaining = (t1 - t).abs();
        let last = h >= remaining;
        if last {
            h = remaining;
        }
        let hs = h * dir;
        if !last && (t + hs == t || !(h > 0.0)) {
            // No representable progress: h = 0 (e.g. a derivative near the double range) or
            // below the spacing of doubles at t. More steps cannot help.
            return Err(Error::Numerical(format!(
                "ODE integrator: step size underflow at t = {} (h = {h:e}; the flow is too \
                 stiff or too fast for an explicit method on [{}, {}])",
                fmt_time(t),
                fmt_time(t0),
                fmt_time(t1)
            )));
        }
        for s in 1..7 {
            for i in 0..n {
                let mut acc = 0.0;
                for (j, aj) in A[s].iter().enumerate().take(s) {
                    if *aj != 0.0 {
                        acc += aj * k[j][i];
                    }
                }
                ytmp[i] = y[i] + hs * acc;
            }
            let (head, tail) = k.split_at_mut(s);
            let _ = head;
            f(t + C[s] * hs, &ytmp, &mut tail[0])?;
            stats.evaluations += 1;
            if s == 6 {
                ynew.copy_from_slice(&ytmp);
            }
        }
        let err = rms((0..n).map(|i| {
            let e: f64 = (0..7).map(|s| E[s] * k[s][i]).sum::<f64>() * hs;
            e / scale(y[i], ynew[i])
        }));
        if !err.is_finite() {
            return Err(Error::Numerical(format!(
                "ODE integrator: non-finite state at t = {}",
                fmt_time(t)
            )));
        }
        if err <= 1.0 {
            stats.accepted += 1;
            y.copy_from_slice(&ynew);
            t = if last { t1 } else { t + hs };
            k.swap(0, 6);
            let mut fac = if err == 0.0 {
                5.0
            } else {
                (0.9 * err.powf(-0.2)).clamp(0.2, 5.0)
            };
            if last_reject {
                fac = fac.min(1.0);
            }
            h *= fac;
            last_reject = false;
        } else {
            stats.rejected += 1;
            h *= (0.9 * err.powf(-0.2)).clamp(0.2, 1.0);
            last_reject = true;
            if h < span * 1e-15 {
                return Err(Error::Numerical(format!(
                    "ODE integrator: step size underflow at t = {} (h = {h:e} < 1e-15 of the \
                     interval [{}, {}], so more than 1e15 steps would be needed: the flow is \
                     too stiff or the interval too long for an explicit method)",
                    fmt_time(t),
                    fmt_time(t0),
                    fmt_time(t1)
                )));
            }
        }
    }
    progress.report(PROGRESS_TOTAL, PROGRESS_TOTAL)?;
    Ok(stats)
}

/// Fails when even an optimistic extrapolation of the last two windows ([`WINDOW`] steps each,
/// advancing t by `previous` and then `advance`) needs more steps than the budget left.
fn check_hopeless(
    t0: f64,
    t1: f64,
    t: f64,
    steps: usize,
    advance: f64,
    previous: f64,
) -> Result<()> {
    let remaining = (t1 - t).abs();
    let budget = (MAX_STEPS - steps) as f64;
    let ratio = advance / previous;
    // Windows still needed: linear when the step size did not grow (ratio <= 1), else with every
    // later window advancing `ratio` times further than the one before.
    let windows = if !(advance > 0.0) {
        f64::INFINITY
    } else if ratio.is_nan() || ratio <= 1.0 + 1e-9 {
        remaining / advance
    } else {
        (1.0 + remaining * (ratio - 1.0) / (ratio * advance)).ln() / ratio.ln()
    };
    let estimate = windows * WINDOW as f64;
    if estimate > budget {
        return Err(Error::Numerical(format!(
            "ODE integrator: the flow is too stiff for an explicit method on [{}, {}]: after \
             {steps} steps at t = {}, the last {WINDOW} steps advanced t by {advance:.3e} \
             (the {WINDOW} before by {previous:.3e}), so the remaining {remaining:.3e} would take \
             about {estimate:.3e} more steps, above the cap of {MAX_STEPS} steps",
            fmt_time(t0),
            fmt_time(t1),
            fmt_time(t)
        )));
    }
    Ok(())
}

/// A time for messages: plain for moderate magnitudes, in exponent form otherwise (t = 1e300
/// would print 301 digits).
pub(crate) fn fmt_time(t: f64) -> String {
    if t == 0.0 || !t.is_finite() || (1e-4..1e6).contains(&t.abs()) {
        format!("{t}")
    } else {
        format!("{t:e}")
    }
}

/// The root mean square of the values, computed without overflow (a scaled sum is used when the
/// plain sum of squares overflows; the plain sum is kept otherwise, so results do not change).
fn rms(it: impl Iterator<Item = f64> + Clone) -> f64 {
    let mut s = 0.0;
    let mut n = 0usize;
    for v in it.clone() {
        s += v * v;
        n += 1;
    }
    let plain = (s / n.max(1) as f64).sqrt();
    if plain.is_finite() {
        return plain;
    }
    let m = it.clone().fold(0.0f64, |m, v| m.max(v.abs()));
    if !m.is_finite() || m == 0.0 {
        return m;
    }
    let s: f64 = it.map(|v| (v / m) * (v / m)).sum();
    m * (s / n.max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harmonic_oscillator_to_tolerance() {
        // y'' = −y, y(0) = (1, 0): y(t) = (cos t, −sin t).
        let mut y = vec![1.0, 0.0];
        let tol = OdeTolerances {
            rtol: 1e-12,
            atol: 1e-14,
        };
        integrate(
            |_, y, dy| {
                dy[0] = y[1];
                dy[1] = -y[0];
                Ok(())
            },
            0.0,
            10.0,
            &mut y,
            tol,
            &mut Progress::none(),
            1,
        )
        .unwrap();
        assert!((y[0] - 10f64.cos()).abs() < 1e-10, "{}", y[0]);
        assert!((y[1] + 10f64.sin()).abs() < 1e-10, "{}", y[1]);
    }
}
