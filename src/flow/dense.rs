//! Dense symmetric factorizations on `faer`, and the checks a kernel Gram matrix must pass.
//!
//! faer runs with a FIXED parallel split ([`FAER_PAR`]) inside the library pool: the way faer
//! divides the work depends only on that constant, never on how many threads the pool has, so the
//! bits of every factorization are the same at 1, 2 or 3 threads (checked by
//! `tests/flow_determinism.rs`).

use crate::error::{checked_mul, try_zeroed};
use crate::linalg::MatRef;
use crate::{Error, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::{Mat, Par};
use std::num::NonZeroUsize;

/// The parallel split handed to faer (a constant: see the module documentation).
pub fn faer_par() -> Par {
    Par::Rayon(NonZeroUsize::new(FAER_PAR).unwrap())
}

/// Number of tasks faer splits its parallel loops into (independent of the pool size).
pub const FAER_PAR: usize = 2;

/// Relative tolerance of the symmetry check: |K_ij − K_ji| ≤ SYMMETRY_RTOL·max(|K_ij|, |K_ji|,
/// max_i |K_ii|·1e-300).
pub const SYMMETRY_RTOL: f64 = 1e-10;

/// PSD tolerance: K is accepted when λ_min(K) ≥ −PSD_RTOL·max_i K_ii (tested by a Cholesky
/// factorization of K + PSD_RTOL·max_i K_ii·I, which exists exactly under that condition up to
/// rounding). Eigenvalues in [−PSD_RTOL·max K_ii, 0) are then treated as 0.
pub const PSD_RTOL: f64 = 1e-9;

/// Copies a square view into a faer matrix (column-major).
pub fn to_faer(k: MatRef<'_>) -> Result<Mat<f64>> {
    let n = k.rows();
    checked_mul(n, n, "kernel copy")?;
    let mut m: Mat<f64> = Mat::zeros(n, n);
    for j in 0..n {
        for i in 0..n {
            m[(i, j)] = k.at(i, j);
        }
    }
    Ok(m)
}

/// Checks that `k` is square, finite and symmetric (relative tolerance [`SYMMETRY_RTOL`]); the
/// error names the first offending entry or pair.
pub fn check_symmetric(k: MatRef<'_>, name: &str) -> Result<()> {
    let n = k.rows();
    if k.cols() != n {
        return crate::invalid!("{name} is {}x{}, must be square", n, k.cols());
    }
    crate::network::check_finite(k, name)?;
    let maxdiag = (0..n).map(|i| k.at(i, i).abs()).fold(0.0, f64::max);
    for i in 0..n {
        for j in 0..i {
            let (a, b) = (k.at(i, j), k.at(j, i));
            let scale = a.abs().max(b.abs()).max(maxdiag * 1e-300);
            if (a - b).abs() > SYMMETRY_RTOL * scale {
                return crate::invalid!(
                    "{name} is not symmetric: {name}[{i},{j}] = {a} but {name}[{j},{i}] = {b}"
                );
            }
        }
    }
    Ok(())
}

/// Checks λ_min(K) ≥ −PSD_RTOL·max K_ii with one Cholesky factorization (D³/3 flops).
/// Fails with `Numerical` naming the tolerance when K is indefinite beyond it.
pub fn check_psd(k: &Mat<f64>, name: &str) -> Result<()> {
    let n = k.nrows();
    let maxdiag = (0..n).map(|i| k[(i, i)]).fold(0.0, f64::max);
    if (0..n).any(|i| k[(i, i)] < -PSD_RTOL * maxdiag) {
        let i = (0..n).find(|&i| k[(i, i)] < -PSD_RTOL * maxdiag).unwrap();
        return Err(Error::Numerical(format!(
            "{name} is not positive semi-definite: {name}[{i},{i}] = {} < 0",
            k[(i, i)]
        )));
    }
    let shift = PSD_RTOL * maxdiag + f64::MIN_POSITIVE;
    let mut l = k.clone();
    for i in 0..n {
        l[(i, i)] += shift;
    }
    let par = faer_par();
    let req = faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
        n,
        par,
        Default::default(),
    );
    let mut mem = MemBuffer::try_new(req)
        .map_err(|_| Error::Allocation(format!("{name}: Cholesky workspace")))?;
    let r = crate::parallel::install(|| {
        faer::linalg::cholesky::llt::factor::cholesky_in_place(
            l.as_mut(),
            Default::default(),
            par,
            MemStack::new(&mut mem),
            Default::default(),
        )
    });
    match r {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::Numerical(format!(
            "{name} is not positive semi-definite: its smallest eigenvalue is below \
             -{PSD_RTOL:e} x max diagonal ({maxdiag:e}) (Cholesky of K + {shift:e} I failed)"
        ))),
    }
}

/// Symmetric eigendecomposition K = U·diag(λ)·Uᵀ, eigenvalues ascending.
pub struct SymEigen {
    /// λ ascending.
    pub values: Vec<f64>,
    /// U (column j is the eigenvector of λ_j), column-major in faer.
    pub vectors: Option<Mat<f64>>,
}

impl SymEigen {
    /// Eigendecomposition of the symmetric `k` (lower triangle read). With `vectors = false` only
    /// the eigenvalues are computed (about 4/3·D³ flops instead of about 9·D³).
    pub fn new(k: &Mat<f64>, vectors: bool) -> Result<SymEigen> {
        let n = k.nrows();
        let par = faer_par();
        let compute = if vectors {
            ComputeEigenvectors::Yes
        } else {
            ComputeEigenvectors::No
        };
        let req = self_adjoint_evd_scratch::<f64>(n, compute, par, Default::default());
        let mut mem = MemBuffer::try_new(req)
            .map_err(|_| Error::Allocation("eigendecomposition workspace".into()))?;
        let mut s = faer::diag::Diag::<f64>::zeros(n);
        let mut u = if vectors {
            try_zeroed(checked_mul(n, n, "eigenvectors")?, "eigenvectors")?;
            Some(Mat::<f64>::zeros(n, n))
        } else {
            None
        };
        let r = crate::parallel::install(|| {
            self_adjoint_evd(
                k.as_ref(),
                s.as_mut(),
                u.as_mut().map(|u| u.as_mut()),
                par,
                MemStack::new(&mut mem),
                Default::default(),
            )
        });
        r.map_err(|e| Error::Numerical(format!("eigendecomposition did not converge: {e:?}")))?;
        let values: Vec<f64> = (0..n).map(|i| s[i]).collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Numerical(format!("eigenvalue {i} is not finite")));
        }
        Ok(SymEigen { values, vectors: u })
    }

    /// U as a strided view (column-major).
    pub fn u(&self) -> MatRef<'_> {
        let u = self.vectors.as_ref().expect("eigenvectors were computed");
        unsafe { MatRef::from_raw(u.as_ptr(), u.nrows(), u.ncols(), 1, u.col_stride()) }
    }
}
