//! The MSE flow through one symmetric eigendecomposition K = U·Λ·Uᵀ.
//!
//! With c = Uᵀ·r_0 (D × r, computed once):
//!   f_t = y + U·(e^{−tΛ/N}·c),   f*_t = f*_0 − K*·U·(φ_t(Λ)·c),
//! O(D²·r + D_M·D·r) per time after the ~9·D³ decomposition. Eigenvalues below 0 (allowed by the
//! PSD tolerance) are used as 0. At t = ∞, eigenvalues λ ≤ D·ε·λ_max count as 0 (pseudo-inverse,
//! as in LAPACK's least-squares solvers): e = 1 and φ = 0 there, e = 0 and φ = 1/λ elsewhere.

use crate::flow::FlowOutputs;
use crate::linalg::matvec;
use crate::linalg::symmetric::{to_faer, EigWork, SymEigen};
use crate::linalg::{gemm, MatMut, MatRef};
use crate::Result;

/// φ_t(λ) = (1 − e^{−tλ/N})/λ for λ > 0, t/N at λ = 0 (continuous; computed with expm1).
pub fn phi(t: f64, lambda: f64, n: f64) -> f64 {
    if lambda <= 0.0 {
        t / n
    } else {
        -(-t * lambda / n).exp_m1() / lambda
    }
}

/// The eigendecomposition and the projected initial residual.
pub struct Spectral {
    eig: SymEigen,
    /// c = Uᵀ·r_0, D × r row-major.
    coeffs: Vec<f64>,
    d: usize,
    r: usize,
}

impl Spectral {
    /// Decomposes the row-major D × D kernel and projects r_0 (D × r row-major).
    pub fn new(kernel: &[f64], d: usize, r0: &[f64], r: usize) -> Result<Spectral> {
        let work = EigWork::try_new(d, true)?;
        let fk = to_faer(MatRef::from_row_major(kernel, d, d))?;
        let eig = SymEigen::from_owned(fk, work)?;
        let mut coeffs = crate::error::try_zeroed(
            crate::error::checked_mul(d, r, "spectral coefficients")?,
            "spectral coefficients",
        )?;
        crate::parallel::install(|| {
            crate::linalg::par_gemm(
                1.0,
                eig.u().t(),
                MatRef::from_row_major(r0, d, r),
                0.0,
                MatMut::from_row_major(&mut coeffs, d, r),
            )
        })?;
        Ok(Spectral { eig, coeffs, d, r })
    }

    /// Eigenvalues, ascending.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eig.values
    }

    /// Train and test outputs at time t (test: (K*, D_M, f*_0)).
    pub fn outputs(
        &self,
        t: f64,
        n: usize,
        y: &[f64],
        test: Option<(&[f64], usize, &[f64])>,
    ) -> Result<FlowOutputs> {
        let (d, r) = (self.d, self.r);
        let nf = n as f64;
        let lmax = self.eig.values.last().copied().unwrap_or(0.0).max(0.0);
        let cutoff = d as f64 * f64::EPSILON * lmax;
        let (e, p): (Vec<f64>, Vec<f64>) = self
            .eig
            .values
            .iter()
            .map(|&l| {
                let l = l.max(0.0);
                if t.is_infinite() {
                    if l <= cutoff {
                        (1.0, 0.0)
                    } else {
                        (0.0, 1.0 / l)
                    }
                } else {
                    ((-t * l / nf).exp(), phi(t, l, nf))
                }
            })
            .unzip();
        let scaled = |w: &[f64]| -> Vec<f64> {
            let mut s = self.coeffs.clone();
            for (i, row) in s.chunks_mut(r).enumerate() {
                row.iter_mut().for_each(|v| *v *= w[i]);
            }
            s
        };
        let mut train = y.to_vec();
        let ce = scaled(&e);
        crate::parallel::install(|| {
            crate::linalg::par_gemm(
                1.0,
                self.eig.u(),
                MatRef::from_row_major(&ce, d, r),
                1.0,
                MatMut::from_row_major(&mut train, d, r),
            )
        })?;
        let test_out = match test {
            None => Vec::new(),
            Some((tk, dm, tf0)) => {
                let cp = scaled(&p);
                let mut v = vec![0.0; d * r];
                gemm(
                    1.0,
                    self.eig.u(),
                    MatRef::from_row_major(&cp, d, r),
                    0.0,
                    MatMut::from_row_major(&mut v, d, r),
                );
                let mut out = tf0.to_vec();
                let mut col = vec![0.0; d];
                let mut res = vec![0.0; dm];
                for j in 0..r {
                    for i in 0..d {
                        col[i] = v[i * r + j];
                    }
                    matvec(tk, dm, d, &col, &mut res);
                    for i in 0..dm {
                        out[i * r + j] -= res[i];
                    }
                }
                out
            }
        };
        Ok(FlowOutputs {
            train,
            test: test_out,
        })
    }
}
