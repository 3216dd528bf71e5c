//! An adaptive Dormand–Prince 5(4) integrator (Hairer, Nørsett & Wanner, "Solving ODEs I", II.5).
//!
//! Each step takes 6 new right-hand-side evaluations (FSAL). The local error estimate of the
//! embedded 4th-order solution is measured in the norm
//!   err = sqrt( mean_i ( e_i / (atol + rtol·max(|y_i|, |y_new_i|)) )² ),
//! a step is accepted when err ≤ 1, and the next step size is h·min(5, max(0.2, 0.9·err^(−1/5))).
//! The global error is typically a small multiple of the tolerances.

use crate::{Error, Result};

/// Tolerances of the integrator.
#[derive(Clone, Copy, Debug)]
pub struct OdeTolerances {
    pub rtol: f64,
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

/// Maximum number of steps of one [`integrate`] call.
pub const MAX_STEPS: usize = 10_000_000;

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
pub struct OdeStats {
    pub accepted: usize,
    pub rejected: usize,
    pub evaluations: usize,
}

/// Integrates y' = f(t, y) from t0 to t1 (t1 < t0 is allowed), updating `y` in place.
/// `f(t, y, dy)` writes the derivative into `dy`.
pub fn integrate<F>(
    mut f: F,
    t0: f64,
    t1: f64,
    y: &mut [f64],
    tol: OdeTolerances,
) -> Result<OdeStats>
where
    F: FnMut(f64, &[f64], &mut [f64]) -> Result<()>,
{
    let n = y.len();
    let mut stats = OdeStats::default();
    if t1 == t0 || n == 0 {
        return Ok(stats);
    }
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
    while (t1 - t) * dir > 0.0 {
        if stats.accepted + stats.rejected >= MAX_STEPS {
            return Err(Error::Numerical(format!(
                "ODE integrator: {MAX_STEPS} steps did not reach t = {t1} (stopped at t = {t})"
            )));
        }
        let remaining = (t1 - t).abs();
        let last = h >= remaining;
        if last {
            h = remaining;
        }
        let hs = h * dir;
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
                "ODE integrator: non-finite state at t = {t}"
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
                    "ODE integrator: step size underflow at t = {t}"
                )));
            }
        }
    }
    Ok(stats)
}

fn rms(it: impl Iterator<Item = f64>) -> f64 {
    let mut s = 0.0;
    let mut n = 0usize;
    for v in it {
        s += v * v;
        n += 1;
    }
    (s / n.max(1) as f64).sqrt()
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
        )
        .unwrap();
        assert!((y[0] - 10f64.cos()).abs() < 1e-10, "{}", y[0]);
        assert!((y[1] + 10f64.sin()).abs() < 1e-10, "{}", y[1]);
    }
}
