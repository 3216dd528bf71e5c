//! The closed-form MSE flow and its evaluation policy.
//!
//! f_t = y + e^{−tK/N}·r_0 and f*_t = f*_0 − K*·φ_t(K)·r_0 (r_0 = f_0 − y) are evaluated either
//! through the eigendecomposition of K, computed once and cached ([`super::spectral`]), or by
//! Lanczos ([`super::krylov`], one Krylov space per right-hand side serving every time). The
//! choice follows [`FlowMethod`]; for [`FlowMethod::Auto`] it is the ski-rental cost rule
//! documented there, whose state (Krylov flops spent, last step count) lives in the [`Flow`].

use super::{krylov, spectral, Flow, FlowMethod, FlowOutputs};
use crate::linalg::matvec;
use crate::loss::Cost;
use crate::{Error, Result};

impl Flow {
    /// The closed-form MSE outputs at `times`.
    pub(super) fn evaluate_mse(&mut self, times: &[f64]) -> Result<Vec<FlowOutputs>> {
        // r_0 = f_0 − y, the MSE residual.
        let mut r0 = vec![0.0; self.f0.len()];
        Cost::Mse.gradients(&self.f0, &self.y, self.k, &mut r0);
        let any_inf = times.iter().any(|t| t.is_infinite());
        let d = self.d as f64;
        let use_eigen = match self.options.method {
            FlowMethod::Eigen => true,
            FlowMethod::Krylov => any_inf,
            FlowMethod::Ode => unreachable!(),
            FlowMethod::Auto => {
                if any_inf || self.spectral.is_some() {
                    true
                } else {
                    let eigen_cost = 9.0 * d * d * d;
                    let estimate = self.krylov_estimate();
                    self.krylov_flops + estimate > eigen_cost
                }
            }
        };
        let mut outs = if use_eigen {
            if self.spectral.is_none() {
                self.spectral = Some(spectral::Spectral::new(&self.kernel, self.d, &r0, self.r)?);
            }
            let sp = self.spectral.as_ref().ok_or_else(|| {
                Error::Internal("the eigendecomposition of the MSE flow is missing".into())
            })?;
            times
                .iter()
                .map(|&t| {
                    sp.outputs(
                        t,
                        self.n,
                        &self.y,
                        self.test_kernel
                            .as_deref()
                            .map(|tk| (tk, self.dm, &self.test_f0[..])),
                    )
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            self.krylov_mse(times, &r0)?
        };
        // t = 0 is exactly the initial state.
        for (o, &t) in outs.iter_mut().zip(times) {
            if t == 0.0 {
                o.train.copy_from_slice(&self.f0);
                o.test.copy_from_slice(&self.test_f0);
            }
        }
        Ok(outs)
    }

    fn krylov_estimate(&self) -> f64 {
        let d = self.d as f64;
        self.r as f64 * self.krylov_steps as f64 * 8.0 * d * d
    }

    fn krylov_mse(&mut self, times: &[f64], r0: &[f64]) -> Result<Vec<FlowOutputs>> {
        let (d, r, nf) = (self.d, self.r, self.n as f64);
        let with_test = self.test_kernel.is_some();
        let mut outs: Vec<FlowOutputs> = times
            .iter()
            .map(|_| FlowOutputs {
                train: self.y.clone(),
                test: self.test_f0.clone(),
            })
            .collect();
        let mut col = vec![0.0; d];
        let mut tcol = vec![0.0; self.dm];
        let mut max_steps = 0;
        for j in 0..r {
            for i in 0..d {
                col[i] = r0[i * r + j];
            }
            let mut funcs: Vec<Box<dyn Fn(f64) -> f64>> = Vec::new();
            for &t in times {
                funcs.push(Box::new(move |l: f64| (-t * l.max(0.0) / nf).exp()));
            }
            if with_test {
                for &t in times {
                    funcs.push(Box::new(move |l: f64| spectral::phi(t, l.max(0.0), nf)));
                }
            }
            let refs: Vec<&dyn Fn(f64) -> f64> = funcs.iter().map(|b| b.as_ref()).collect();
            let res = krylov::lanczos_apply(&self.kernel, d, &col, &refs, self.options.krylov_tol)?;
            max_steps = max_steps.max(res.steps);
            self.krylov_flops += res.steps as f64 * 8.0 * (d as f64) * (d as f64);
            for (ti, out) in outs.iter_mut().enumerate() {
                for i in 0..d {
                    out.train[i * r + j] += res.vectors[ti][i];
                }
                if let Some(tk) = &self.test_kernel {
                    matvec(tk, self.dm, d, &res.vectors[times.len() + ti], &mut tcol);
                    for (i, v) in tcol.iter().enumerate() {
                        out.test[i * r + j] -= v;
                    }
                }
            }
        }
        self.krylov_steps = max_steps.max(1);
        Ok(outs)
    }
}
