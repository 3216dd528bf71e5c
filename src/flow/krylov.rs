//! Lanczos (Krylov) evaluation of g(K)·v for a symmetric K and several scalar functions g.
//!
//! After m steps of the Lanczos process with full re-orthogonalization, K·Q_m = Q_m·T_m + r·e_mᵀ
//! with Q_m (D × m) orthonormal and T_m tridiagonal; then g(K)·v ≈ ‖v‖·Q_m·g(T_m)·e_1, exact when
//! the Krylov space becomes invariant. One Krylov space serves every g and every time t.
//!
//! Cost: m products with K (2·D² flops each, the dominant term) plus 4·D·m² for the
//! re-orthogonalization and a small eigendecomposition of T_m at each convergence check.
//!
//! Convergence: every few steps the coefficients c = ‖v‖·g(T_m)·e_1 are recomputed; the process
//! stops when, for every g, ‖c_m − c_previous‖ ≤ tol·‖v‖·max_θ |g(θ)| (θ the Ritz values), i.e. the
//! change is below `tol` relative to ‖g(K)‖·‖v‖.

use crate::linalg::symmetric::SymEigen;
use crate::linalg::{dot, matvec};
use crate::{Error, Result};
use faer::Mat;

/// Result of [`lanczos_apply`].
pub struct LanczosResult {
    /// g_i(K)·v for each function.
    pub vectors: Vec<Vec<f64>>,
    /// Number of Lanczos steps taken.
    pub steps: usize,
}

/// g_i(K)·v for the row-major symmetric `k` (D × D) and the functions `g`, to relative tolerance
/// `tol` (see the module documentation). `g` receives Ritz values (approximate eigenvalues of K).
pub fn lanczos_apply(
    k: &[f64],
    d: usize,
    v: &[f64],
    g: &[&dyn Fn(f64) -> f64],
    tol: f64,
) -> Result<LanczosResult> {
    let beta0 = dot(v, v).sqrt();
    if beta0 == 0.0 {
        return Ok(LanczosResult {
            vectors: vec![vec![0.0; d]; g.len()],
            steps: 0,
        });
    }
    let mut q: Vec<Vec<f64>> = vec![v.iter().map(|x| x / beta0).collect()];
    let mut alpha: Vec<f64> = Vec::new();
    let mut beta: Vec<f64> = Vec::new();
    let mut w = vec![0.0; d];
    let mut previous: Option<Vec<(Vec<f64>, f64)>> = None;
    let mut next_check = 4usize;
    let mut anorm = 0.0f64;
    loop {
        let j = alpha.len();
        matvec(k, d, d, &q[j], &mut w);
        let a = dot(&q[j], &w);
        alpha.push(a);
        // Full re-orthogonalization (classical Gram–Schmidt, twice).
        for _ in 0..2 {
            for qi in q.iter() {
                let c = dot(qi, &w);
                w.iter_mut().zip(qi).for_each(|(wv, qv)| *wv -= c * qv);
            }
        }
        let b = dot(&w, &w).sqrt();
        anorm = anorm.max(a.abs() + b + beta.last().copied().unwrap_or(0.0));
        let m = j + 1;
        let breakdown = b <= 1e-13 * anorm || m >= d;
        if m >= next_check || breakdown {
            let coeffs = tridiagonal_functions(&alpha, &beta, beta0, g)?;
            let converged = breakdown
                || previous.as_ref().is_some_and(|prev| {
                    coeffs.iter().zip(prev).all(|((c, scale), (p, _))| {
                        let diff: f64 = c
                            .iter()
                            .enumerate()
                            .map(|(i, ci)| {
                                let pi = p.get(i).copied().unwrap_or(0.0);
                                (ci - pi) * (ci - pi)
                            })
                            .sum::<f64>()
                            .sqrt();
                        diff <= tol * beta0 * scale
                    })
                });
            if converged {
                let vectors = coeffs
                    .iter()
                    .map(|(c, _)| {
                        let mut out = vec![0.0; d];
                        for (qi, ci) in q.iter().zip(c) {
                            out.iter_mut().zip(qi).for_each(|(o, qv)| *o += ci * qv);
                        }
                        out
                    })
                    .collect();
                return Ok(LanczosResult { vectors, steps: m });
            }
            previous = Some(coeffs);
            next_check = m + (m / 8).max(4);
        }
        beta.push(b);
        let qn: Vec<f64> = w.iter().map(|x| x / b).collect();
        q.push(qn);
    }
}

/// For T = tridiag(β, α, β) (m × m): for each g, (‖v‖·g(T)·e_1, max_θ |g(θ)|).
fn tridiagonal_functions(
    alpha: &[f64],
    beta: &[f64],
    beta0: f64,
    g: &[&dyn Fn(f64) -> f64],
) -> Result<Vec<(Vec<f64>, f64)>> {
    let m = alpha.len();
    let mut t: Mat<f64> = Mat::zeros(m, m);
    for i in 0..m {
        t[(i, i)] = alpha[i];
        if i + 1 < m {
            t[(i + 1, i)] = beta[i];
            t[(i, i + 1)] = beta[i];
        }
    }
    let e = SymEigen::new(&t, true)?;
    let s = e.vectors.as_ref().ok_or_else(|| {
        Error::Internal("the tridiagonal eigendecomposition returned no eigenvectors".into())
    })?;
    Ok(g.iter()
        .map(|gf| {
            let gv: Vec<f64> = e.values.iter().map(|&th| gf(th)).collect();
            let scale = gv.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            // c = β0 · S · diag(g) · Sᵀ e_1
            let c: Vec<f64> = (0..m)
                .map(|i| beta0 * (0..m).map(|l| s[(i, l)] * gv[l] * s[(0, l)]).sum::<f64>())
                .collect();
            (c, scale)
        })
        .collect())
}
