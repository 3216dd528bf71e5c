//! The ODE driver of the flow: the right-hand side ∂_t f = −(1/N)·K·d(f) (train) and
//! ∂_t f* = −(1/N)·K*·d(f) (test), with d the loss gradient of [`crate::loss`], integrated by the
//! Dormand–Prince 5(4) integrator of [`super::ode`]; and, for MSE, the stiffness check that
//! rejects intervals the explicit method cannot cover within [`super::ode::MAX_STEPS`] steps.

use super::{ode, Flow, FlowOutputs};
use crate::linalg::{matvec, par_gemm, MatMut, MatRef};
use crate::loss::Cost;
use crate::parallel::Progress;
use crate::{Error, Result};

impl Flow {
    /// Integrates the flow ODE for train and test outputs from t0 to t1.
    pub(super) fn integrate(
        &self,
        t0: f64,
        t1: f64,
        state: &mut FlowOutputs,
        progress: &mut Progress<'_>,
    ) -> Result<()> {
        let (d, r, k, dm) = (self.d, self.r, self.k, self.dm);
        if self.cost == Cost::Mse {
            self.check_mse_stiffness(t0, t1)?;
        }
        // Report about every 2^16 multiply-adds of right-hand side (6 evaluations per step), at
        // most every 64 steps.
        let work = 6 * (d + dm).saturating_mul(d).saturating_mul(r);
        let report_every = ((1usize << 16) / work.max(1)).clamp(1, 64);
        let ntrain = d * r;
        let mut y = state.train.clone();
        y.extend_from_slice(&state.test);
        let mut grad = vec![0.0; ntrain];
        let scale = -1.0 / self.n as f64;
        let rhs = |_t: f64, s: &[f64], ds: &mut [f64]| -> Result<()> {
            self.cost.gradients(&s[..ntrain], &self.y, k, &mut grad);
            let g = MatRef::from_row_major(&grad, d, r);
            let (dtrain, dtest) = ds.split_at_mut(ntrain);
            crate::parallel::install(|| {
                par_gemm(
                    scale,
                    MatRef::from_row_major(&self.kernel, d, d),
                    g,
                    0.0,
                    MatMut::from_row_major(dtrain, d, r),
                );
                if let Some(tk) = &self.test_kernel {
                    par_gemm(
                        scale,
                        MatRef::from_row_major(tk, dm, d),
                        g,
                        0.0,
                        MatMut::from_row_major(dtest, dm, r),
                    );
                }
            })?;
            Ok(())
        };
        ode::integrate(
            rhs,
            t0,
            t1,
            &mut y,
            self.options.ode,
            progress,
            report_every,
        )?;
        state.test.copy_from_slice(&y[ntrain..]);
        y.truncate(ntrain);
        state.train = y;
        Ok(())
    }

    /// Fails fast on an MSE request that stability makes hopeless for the explicit ODE method,
    /// instead of running [`ode::MAX_STEPS`] steps. The MSE flow's Jacobian is the constant −K/N
    /// and Dormand–Prince is stable only for h·λ_max(K)/N ≲ 3.3, so at least
    /// |t1 − t0|·λ/(3.3·N) steps are needed for any lower bound λ ≤ λ_max(K). λ is the largest of
    /// max_i K_ii and the Rayleigh quotients of a few power iterations started from the basis
    /// vector of that diagonal entry (each a lower bound; O(D²) each).
    fn check_mse_stiffness(&self, t0: f64, t1: f64) -> Result<()> {
        let d = self.d;
        let span = (t1 - t0).abs();
        let steps_for = |lambda: f64| span * lambda / (3.3 * self.n as f64);
        let (imax, max_diag) = (0..d)
            .map(|i| (i, self.kernel[i * d + i]))
            .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
        let mut lambda = max_diag;
        if steps_for(lambda) <= ode::MAX_STEPS as f64 && max_diag > 0.0 {
            let mut v = vec![0.0; d];
            let mut w = vec![0.0; d];
            v[imax] = 1.0;
            for _ in 0..8 {
                matvec(&self.kernel, d, d, &v, &mut w);
                let vv: f64 = v.iter().map(|x| x * x).sum();
                let rq = v.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / vv;
                if rq.is_finite() {
                    lambda = lambda.max(rq);
                }
                let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
                if !(norm > 0.0 && norm.is_finite()) || steps_for(lambda) > ode::MAX_STEPS as f64 {
                    break;
                }
                v.iter_mut().zip(&w).for_each(|(a, b)| *a = b / norm);
            }
        }
        let min_steps = steps_for(lambda);
        if min_steps > ode::MAX_STEPS as f64 {
            return Err(Error::Numerical(format!(
                "the ODE method would need at least {min_steps:.3e} steps, above its cap of {} \
                 (stiff MSE flow: the interval [{}, {}] with lambda_max(K) >= {lambda:e}, \
                 N = {}, and an explicit step h <= 3.3 N / lambda_max); use the eigen or Krylov \
                 method for MSE",
                ode::MAX_STEPS,
                ode::fmt_time(t0),
                ode::fmt_time(t1),
                self.n
            )));
        }
        Ok(())
    }
}
