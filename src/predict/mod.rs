//! The predictive law of the trained infinite ensemble (Jacot et al. 2018, Theorem 5.2; Lee et
//! al. 2019, "Wide neural networks of any depth evolve as linear models", §2.3).
//!
//! # The law
//! An infinitely wide network at initialization is a centred Gaussian process f_0 ~ GP(0, Σ)
//! (Σ = Σ^(L), the NNGP kernel). Trained by gradient flow on the square loss
//! C = (1/2N)·Σ_i ‖f(x_i) − y_i‖² it follows the linear flow ∂_t f = −Θ·(f_t − y)/N with the
//! deterministic limit NTK Θ = Θ^(L)_∞ (the time scale of [`crate::flow`] and [`mod@crate::train`]:
//! s steps of learning rate η reach t = s·η). Solving it, with K = Θ_xx + λI (λ the ridge) and
//! Ψ_t = K^{-1}(I − e^{−K t/N}) = U·diag(φ_t(λ_i))·Uᵀ, φ_t(λ) = (1 − e^{−λt/N})/λ:
//!   f_t(X*) = f_0(X*) + Θ_*x·Ψ_t·(y − f_0(X)),
//! which is linear in the Gaussian f_0, so f_t(X*) is Gaussian with
//!   mean  μ_t = Θ_*x Ψ_t y,
//!   cov   Σ_t = Σ_** + Θ_*x Ψ_t Σ_xx Ψ_t Θ_x* − (Θ_*x Ψ_t Σ_x* + Σ_*x Ψ_t Θ_x*)   (NTK law),
//! the same for each of the k outputs (they are independent). At t = 0 it is the prior
//! (μ = 0, Σ_0 = Σ_**); at t = ∞ Ψ_∞ = K^{-1} (with λ = 0, the pseudo-inverse: eigenvalues
//! λ_i ≤ N·ε·λ_max count as 0, as in [`crate::flow`]).
//!
//! The NNGP law replaces Θ by Σ everywhere (gradient flow of the last layer only; Σ is both the
//! training kernel and the prior). With Θ = Σ the covariance collapses to
//!   Σ_t = Σ_** − Σ_*x U·diag(w_t(λ_i))·Uᵀ Σ_x*,   w_t(λ) = (1 − e^{−2λt/N})/λ,
//! and at t = ∞ it is the Bayesian GP posterior Σ_** − Σ_*x K^{-1} Σ_x*. (With a ridge, the
//! NNGP law uses K = Σ_xx + λI in both places, exactly as neural-tangents does.)
//!
//! # Relation to neural-tangents
//! This is `neural_tangents.predict.gradient_descent_mse_ensemble(kernel_fn, x_train, y_train,
//! diag_reg, diag_reg_absolute_scale)` with `get = "ntk"` or `"nngp"` and `compute_cov = True`
//! (and `gp_inference` at t = ∞). neural-tangents normalizes time by y_train.size = N·k instead
//! of N: **the law at time t here is neural-tangents' at time t·k** (equal for k = 1). Its
//! relative ridge (`diag_reg_absolute_scale = False`, its default) is λ = diag_reg·tr(K)/N:
//! [`Ridge::Relative`]. At λ ≤ 0 (eigenvalues rounded below zero) φ_t = t/N here (the limit
//! λ → 0⁺), where neural-tangents gives 0 (or 0/0 at exactly 0).
//!
//! # Cost (D = N train points, M test points, k outputs)
//! - [`Predictor::new`]: symmetric eigendecomposition of K (about 9·N³ flops; its smallest
//!   eigenvalue is the PSD check of K_xx), one Cholesky of Σ_xx (N³/3, its PSD check) and Uᵀy
//!   (2·N²·k).
//! - [`TestSet::new`]: P = K_*x·U (2·M·N²), and for the NTK law's covariance Q = Σ_*x·U (2·M·N²).
//! - [`TestSet::law`] per time: mean 2·M·N·k; NNGP covariance M²·N (full) or M·N (diagonal);
//!   NTK covariance 4·M·N² + 3·M²·N (full) or 4·M·N² + 4·M·N (diagonal): T₁ = U·diag(φ)·Pᵀ and
//!   Σ_xx·T₁ are needed either way.
//!
//! Everything runs on the library pool with fixed row blocks: bit-identical at any thread count.

use crate::error::{checked_mul, try_zeroed};
use crate::linalg::symmetric::{
    check_psd, check_symmetric, ensure_gemm_workspace, faer_par, to_faer, FaerPool, SymEigen,
    PSD_RTOL,
};
use crate::linalg::{check_finite, MatMut, MatRef};
use crate::parallel::Progress;
use crate::{invalid, Error, Result};
use std::sync::Arc;

/// Which Gaussian process is trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Law {
    /// The NTK-GP law: gradient flow with Θ_∞ from the NNGP prior Σ (Theorem 5.2).
    Ntk,
    /// The NNGP law: Σ is both the training kernel and the prior (t = ∞: the Bayesian posterior).
    Nngp,
}

/// The ridge λ added to the diagonal of the training kernel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ridge {
    /// K + λ·I.
    Absolute(f64),
    /// K + λ·(tr K / N)·I (neural-tangents' `diag_reg` with `diag_reg_absolute_scale = False`).
    Relative(f64),
}

impl Default for Ridge {
    fn default() -> Self {
        Ridge::Absolute(0.0)
    }
}

/// Which covariance [`TestSet::law`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CovKind {
    /// Means only.
    None,
    /// The full M × M covariance over the test points.
    Full,
    /// Only its diagonal (the M marginal variances).
    Diagonal,
}

/// The law at one time: mean M × k (row-major) and covariance (M × M row-major, or its M
/// diagonal entries, or empty), shared by the k outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Gaussian {
    /// μ_t, M × k row-major.
    pub mean: Vec<f64>,
    /// Σ_t: M × M row-major ([`CovKind::Full`]), its M diagonal entries ([`CovKind::Diagonal`]) or empty ([`CovKind::None`]).
    pub cov: Vec<f64>,
}

struct Inner {
    law: Law,
    n: usize,
    k: usize,
    /// The ridge in absolute units (after the relative convention was applied).
    ridge: f64,
    eig: SymEigen,
    /// c = Uᵀ·y, N × k row-major.
    coeffs: Vec<f64>,
    /// Σ_xx (row-major N × N), for the NTK law's covariance.
    sigma: Option<Vec<f64>>,
    /// Eigenvalues at or below this count as zero at t = ∞.
    cutoff: f64,
}

/// The train side of the law: the eigendecomposition of K = K_xx + λI and Uᵀy, reused for any
/// number of test sets and times (cheap to clone: shared).
#[derive(Clone)]
pub struct Predictor {
    inner: Arc<Inner>,
}

fn check_square(k: MatRef<'_>, n: usize, name: &str) -> Result<()> {
    if k.rows() != n || k.cols() != n {
        return invalid!(
            "{name} is {}x{}, expected {n}x{n} (N x N)",
            k.rows(),
            k.cols()
        );
    }
    Ok(())
}

/// Checks t ≥ 0 (t = +∞ allowed); NaN is `NonFinite`.
pub(crate) fn check_time(t: f64) -> Result<()> {
    if t.is_nan() {
        return Err(Error::NonFinite(format!("t = {t}")));
    }
    if t < 0.0 {
        return invalid!("t = {t}: must be >= 0 (INFINITY allowed)");
    }
    Ok(())
}

impl Predictor {
    /// Validates and factors the training side.
    ///
    /// - `kernel`: N × N train kernel of the law: Θ_xx for [`Law::Ntk`], Σ_xx for [`Law::Nngp`];
    ///   finite, symmetric (relative 1e-10), PSD up to 1e-9·max K_ii (else `Numerical`).
    /// - `sigma`: Σ_xx (N × N, same checks) for the NTK law's covariance; `None` allows means only.
    ///   Must be `None` for the NNGP law (its prior is `kernel`).
    /// - `y`: N × k targets. `ridge`: λ ≥ 0, finite.
    ///
    /// Cost: about 9·N³ flops (eigendecomposition with vectors) plus N³/3 (Cholesky of Σ_xx)
    /// plus 2·N²·k (Uᵀy).
    ///
    /// # Errors
    /// `InvalidArgument` (shapes, asymmetric kernels, λ < 0, `sigma` with the NNGP law),
    /// `NonFinite` (inputs, λ), `Numerical` (a kernel not positive semi-definite, or a relative
    /// ridge that overflows), `Cancelled` (progress), `Allocation`.
    pub fn new(
        law: Law,
        kernel: MatRef<'_>,
        sigma: Option<MatRef<'_>>,
        y: MatRef<'_>,
        ridge: Ridge,
        progress: &mut Progress<'_>,
    ) -> Result<Predictor> {
        let (n, k) = (y.rows(), y.cols());
        if n == 0 || k == 0 {
            return invalid!("y is {n}x{k}: need at least one training point and one output");
        }
        let lam = match ridge {
            Ridge::Absolute(l) | Ridge::Relative(l) => l,
        };
        if !lam.is_finite() {
            return Err(Error::NonFinite(format!("ridge = {lam}")));
        }
        if lam < 0.0 {
            return invalid!("ridge = {lam}: must be >= 0");
        }
        check_square(kernel, n, "kernel_train")?;
        if let Some(s) = sigma {
            if law == Law::Nngp {
                return invalid!(
                    "nngp_train must be absent for the NNGP law (kernel_train is its prior)"
                );
            }
            check_square(s, n, "nngp_train")?;
        }
        checked_mul(n, n, "N x N kernel")?;
        check_finite(y, "y")?;
        check_symmetric(kernel, "kernel_train")?;
        if let Some(s) = sigma {
            check_symmetric(s, "nngp_train")?;
        }
        progress.report(0, 4)?;
        let mut fk = to_faer(kernel)?;
        let maxdiag = (0..n).map(|i| fk[(i, i)]).fold(0.0, f64::max);
        let sigma = match sigma {
            None => None,
            Some(s) => {
                let fs = to_faer(s)?;
                check_psd(&fs, "nngp_train")?;
                drop(fs);
                Some(s.try_to_row_major("copy of nngp_train")?)
            }
        };
        progress.report(1, 4)?;
        let ridge = match ridge {
            Ridge::Absolute(l) => l,
            Ridge::Relative(l) => l * (0..n).map(|i| fk[(i, i)]).sum::<f64>() / n as f64,
        };
        if !ridge.is_finite() {
            return Err(Error::Numerical(format!(
                "the relative ridge {lam} x tr(K)/N overflows"
            )));
        }
        for i in 0..n {
            fk[(i, i)] += ridge;
        }
        let eig = SymEigen::new(&fk, true)?;
        drop(fk);
        // PSD check from the spectrum itself (no separate Cholesky): λ_min(K_xx) = λ_min(K) − λ
        // must be ≥ −PSD_RTOL·max_i K_ii, the tolerance of the flow's check.
        let lmin = eig.values.first().copied().unwrap_or(0.0) - ridge;
        if lmin < -PSD_RTOL * maxdiag {
            return Err(Error::Numerical(format!(
                "kernel_train is not positive semi-definite: its smallest eigenvalue {lmin:e} is \
                 below -{PSD_RTOL:e} x max diagonal ({maxdiag:e})"
            )));
        }
        progress.report(2, 4)?;
        // U^T y is a faer product (N × N by N × k); SymEigen has warmed the GEMM buffers of the
        // pool's threads, this also covers a pool resized since (a no-op otherwise).
        let fp = ensure_gemm_workspace(n.max(k))?;
        let mut coeffs = try_zeroed(checked_mul(n, k, "U^T y")?, "U^T y")?;
        let yv = y.try_to_row_major("copy of y")?;
        fp.install(|| {
            par_gemm(
                1.0,
                eig.u().t(),
                MatRef::from_row_major(&yv, n, k),
                0.0,
                MatMut::from_row_major(&mut coeffs, n, k),
            )
        });
        let lmax = eig.values.last().copied().unwrap_or(0.0).max(0.0);
        let cutoff = n as f64 * f64::EPSILON * lmax;
        progress.report(4, 4)?;
        Ok(Predictor {
            inner: Arc::new(Inner {
                law,
                n,
                k,
                ridge,
                eig,
                coeffs,
                sigma,
                cutoff,
            }),
        })
    }

    /// Which Gaussian process the predictor trains.
    pub fn law(&self) -> Law {
        self.inner.law
    }
    /// Number of training points N.
    pub fn num_train(&self) -> usize {
        self.inner.n
    }
    /// Output dimension k.
    pub fn output_dim(&self) -> usize {
        self.inner.k
    }
    /// Whether covariances can be computed (NNGP law, or NTK law with Σ_xx).
    pub fn has_covariance(&self) -> bool {
        self.inner.law == Law::Nngp || self.inner.sigma.is_some()
    }
    /// The ridge actually added, in absolute units.
    pub fn ridge(&self) -> f64 {
        self.inner.ridge
    }
    /// Eigenvalues of K_xx + λI, ascending.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.inner.eig.values
    }
}

/// The test side: a predictor with the test kernels projected on its eigenbasis.
pub struct TestSet {
    pred: Predictor,
    m: usize,
    /// P = K_*x·U (M × N row-major).
    p: Vec<f64>,
    /// Q = Σ_*x·U (M × N row-major; NTK law with covariance only).
    q: Option<Vec<f64>>,
    /// Σ_** (M × M row-major) or its diagonal (M); empty without covariance.
    prior: Vec<f64>,
    prior_full: bool,
}

/// C ← α·A·B + β·C (β ∈ {0, 1}) with faer's matrix product on the library pool, split into the
/// fixed number of tasks [`crate::linalg::symmetric::FAER_PAR`] (so the bits do not depend on the
/// pool size, as for the eigendecomposition). About 1.3–1.5× the rate of `linalg::par_gemm` on the
/// M × N × N products here (measured 0.14–0.18 s against 0.22–0.23 s for 500 × 2000 × 2000).
fn par_gemm(alpha: f64, a: MatRef<'_>, b: MatRef<'_>, beta: f64, c: MatMut<'_>) {
    debug_assert!(beta == 0.0 || beta == 1.0);
    assert_eq!(a.cols(), b.rows(), "gemm: inner dimensions");
    assert_eq!(
        (a.rows(), b.cols()),
        (c.rows(), c.cols()),
        "gemm: shape of C"
    );
    // SAFETY: the views describe valid, non-aliased (for C) memory for their shapes and strides.
    let (fa, fb, fc) = unsafe {
        (
            faer::MatRef::<f64>::from_raw_parts(
                a.as_ptr(),
                a.rows(),
                a.cols(),
                a.row_stride(),
                a.col_stride(),
            ),
            faer::MatRef::<f64>::from_raw_parts(
                b.as_ptr(),
                b.rows(),
                b.cols(),
                b.row_stride(),
                b.col_stride(),
            ),
            faer::MatMut::<f64>::from_raw_parts_mut(
                c.as_mut_ptr(),
                c.rows(),
                c.cols(),
                c.row_stride(),
                c.col_stride(),
            ),
        )
    };
    let accum = if beta == 0.0 {
        faer::Accum::Replace
    } else {
        faer::Accum::Add
    };
    faer::linalg::matmul::matmul(fc, accum, fa, fb, alpha, faer_par());
}

/// Per-eigenvalue weights at time t: φ_t (mean, NTK covariance) and w_t (NNGP covariance).
fn weights(inner: &Inner, t: f64) -> (Vec<f64>, Vec<f64>) {
    let nf = inner.n as f64;
    inner
        .eig
        .values
        .iter()
        .map(|&l| {
            if t.is_infinite() {
                if l <= inner.cutoff {
                    (0.0, 0.0)
                } else {
                    (1.0 / l, 1.0 / l)
                }
            } else if l <= 0.0 {
                (t / nf, 2.0 * t / nf)
            } else {
                (
                    -(-t * l / nf).exp_m1() / l,
                    -(-2.0 * t * l / nf).exp_m1() / l,
                )
            }
        })
        .unzip()
}

impl TestSet {
    /// Projects the test kernels.
    ///
    /// - `kernel`: K_*x (M × N): Θ_*x for the NTK law, Σ_*x for the NNGP law.
    /// - `sigma`: Σ_*x (M × N), NTK law only, given exactly when `prior` is.
    /// - `prior`: Σ_** (M × M, symmetric) or its diagonal as M × 1 (then only diagonal
    ///   covariances); `None` for means only. Needs a predictor with covariance.
    ///
    /// Cost: P = K_*x·U (2·M·N² flops), and Q = Σ_*x·U (2·M·N²) for the NTK law's covariance.
    ///
    /// # Errors
    /// `InvalidArgument` (shapes; `sigma`/`prior` not given together for the NTK law; a covariance
    /// without a predictor that has one; Σ_** not symmetric), `NonFinite`, `Cancelled`, `Allocation`.
    pub fn new(
        pred: &Predictor,
        kernel: MatRef<'_>,
        sigma: Option<MatRef<'_>>,
        prior: Option<MatRef<'_>>,
        progress: &mut Progress<'_>,
    ) -> Result<TestSet> {
        let inner = &pred.inner;
        let n = inner.n;
        let m = kernel.rows();
        if m == 0 {
            return invalid!("kernel_test_train has no rows: need at least one test point");
        }
        if kernel.cols() != n {
            return invalid!(
                "kernel_test_train is {}x{}, expected M x N with N = {n} training points",
                m,
                kernel.cols()
            );
        }
        match (inner.law, sigma.is_some(), prior.is_some()) {
            (Law::Nngp, true, _) => {
                return invalid!(
                    "nngp_test_train must be absent for the NNGP law (kernel_test_train is Sigma_*x)"
                )
            }
            (Law::Ntk, true, false) => {
                return invalid!("nngp_test_train is given without nngp_test_test: pass both or neither")
            }
            (Law::Ntk, false, true) => {
                return invalid!("nngp_test_test is given without nngp_test_train: the NTK law's covariance needs both")
            }
            (Law::Ntk, true, true) if inner.sigma.is_none() => {
                return invalid!(
                    "the predictor was created without nngp_train: the NTK law's covariance needs Sigma_xx"
                )
            }
            _ => {}
        }
        if let Some(s) = sigma {
            if s.rows() != m || s.cols() != n {
                return invalid!(
                    "nngp_test_train is {}x{}, expected {m}x{n} (like kernel_test_train)",
                    s.rows(),
                    s.cols()
                );
            }
        }
        let prior_full = match prior {
            None => false,
            Some(s) if s.rows() == m && s.cols() == m && m > 1 => true,
            Some(s) if s.rows() == m && s.cols() == 1 => false,
            Some(s) => {
                return invalid!(
                    "nngp_test_test is {}x{}, expected {m}x{m} (full) or {m}x1 (variances)",
                    s.rows(),
                    s.cols()
                )
            }
        };
        let mn = checked_mul(m, n, "M x N test kernel")?;
        if prior_full {
            checked_mul(m, m, "M x M covariance")?;
        }
        check_finite(kernel, "kernel_test_train")?;
        if let Some(s) = sigma {
            check_finite(s, "nngp_test_train")?;
        }
        let prior_v = match prior {
            None => Vec::new(),
            Some(s) => {
                if prior_full {
                    check_symmetric(s, "nngp_test_test")?;
                } else {
                    check_finite(s, "nngp_test_test")?;
                }
                let v = s.try_to_row_major("copy of nngp_test_test")?;
                if let Some(i) = (0..m)
                    .map(|i| if prior_full { v[i * m + i] } else { v[i] })
                    .position(|d| d < 0.0)
                {
                    return invalid!(
                        "nngp_test_test: the prior variance of test point {i} is negative"
                    );
                }
                v
            }
        };
        progress.report(0, 2)?;
        // The projections below are faer products of M × N by N × N: make sure every library
        // thread has faer's GEMM buffer (ALLOCATION, not an abort, under an address-space limit).
        let fp = ensure_gemm_workspace(m.max(n))?;
        let project = |x: MatRef<'_>, what: &str| -> Result<Vec<f64>> {
            let mut out = try_zeroed(mn, what)?;
            fp.install(|| {
                par_gemm(
                    1.0,
                    x,
                    inner.eig.u(),
                    0.0,
                    MatMut::from_row_major(&mut out, m, n),
                )
            });
            Ok(out)
        };
        let p = project(kernel, "K_*x U")?;
        progress.report(1, 2)?;
        let q = match sigma {
            Some(s) => Some(project(s, "Sigma_*x U")?),
            None => None,
        };
        progress.report(2, 2)?;
        Ok(TestSet {
            pred: pred.clone(),
            m,
            p,
            q,
            prior: prior_v,
            prior_full,
        })
    }

    /// Number of test points M.
    pub fn num_test(&self) -> usize {
        self.m
    }
    /// Output dimension k (the predictor's).
    pub fn output_dim(&self) -> usize {
        self.pred.inner.k
    }
    /// Whether a covariance can be computed, and whether the full one (`Full`) or only the
    /// diagonal (`Diagonal`, prior given as variances).
    pub fn covariance(&self) -> CovKind {
        if self.prior.is_empty() {
            CovKind::None
        } else if self.prior_full || self.m == 1 {
            CovKind::Full
        } else {
            CovKind::Diagonal
        }
    }

    /// The law at time t ≥ 0 (+∞ allowed): mean (M × k) and the covariance `cov`.
    /// Progress: (0, 3) … (3, 3) between the products (cancel there: `Error::Cancelled`).
    ///
    /// Cost: see the module documentation (mean 2·M·N·k flops; covariances up to
    /// 4·M·N² + 3·M²·N).
    ///
    /// # Errors
    /// `NonFinite` (t = NaN), `InvalidArgument` (t < 0, a covariance this test set cannot give),
    /// `Cancelled`, `Allocation`.
    ///
    /// ```
    /// use ntk::{CovKind, Law, MatRef, Predictor, Progress, Ridge, TestSet};
    ///
    /// // The NNGP law at t = ∞ is the GP posterior: mean Σ_*x Σ_xx⁻¹ y, cov Σ_** − Σ_*x Σ_xx⁻¹ Σ_x*.
    /// fn m(v: &[f64], r: usize, c: usize) -> MatRef<'_> { MatRef::from_row_major(v, r, c) }
    /// let (kxx, y, ksx, kss) = ([2.0, 0.0, 0.0, 1.0], [1.0, 3.0], [1.0, 0.5], [2.0]);
    /// let p = Predictor::new(Law::Nngp, m(&kxx, 2, 2), None, m(&y, 2, 1), Ridge::Absolute(0.0), &mut Progress::none())?;
    /// let ts = TestSet::new(&p, m(&ksx, 1, 2), None, Some(m(&kss, 1, 1)), &mut Progress::none())?;
    /// let g = ts.law(f64::INFINITY, CovKind::Full, &mut Progress::none())?;
    /// assert!((g.mean[0] - 2.0).abs() < 1e-14 && (g.cov[0] - 1.25).abs() < 1e-14);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn law(&self, t: f64, cov: CovKind, progress: &mut Progress<'_>) -> Result<Gaussian> {
        check_time(t)?;
        let available = self.covariance();
        match (cov, available) {
            (CovKind::None, _) | (CovKind::Diagonal, CovKind::Diagonal | CovKind::Full) => {}
            (CovKind::Full, CovKind::Full) => {}
            (CovKind::Full, CovKind::Diagonal) => {
                return invalid!(
                    "a full covariance needs nngp_test_test as M x M (it was given as variances)"
                )
            }
            (_, CovKind::None) => {
                return invalid!("a covariance needs the test set's nngp_test_test (and, for the NTK law, nngp_test_train)")
            }
        }
        let inner = &*self.pred.inner;
        let (n, k, m) = (inner.n, inner.k, self.m);
        let (phi, w) = weights(inner, t);
        // Faer products of sizes up to M × N × max(N, M, k) follow (see ensure_gemm_workspace).
        let fp = ensure_gemm_workspace(m.max(n).max(k))?;
        progress.report(0, 3)?;
        // A = P·diag(φ) (M × N).
        let mut a = try_zeroed(checked_mul(m, n, "P diag(phi)")?, "P diag(phi)")?;
        for (arow, prow) in a.chunks_mut(n).zip(self.p.chunks(n)) {
            for ((x, p), f) in arow.iter_mut().zip(prow).zip(&phi) {
                *x = p * f;
            }
        }
        let mut mean = try_zeroed(checked_mul(m, k, "mean")?, "mean")?;
        fp.install(|| {
            par_gemm(
                1.0,
                MatRef::from_row_major(&a, m, n),
                MatRef::from_row_major(&inner.coeffs, n, k),
                0.0,
                MatMut::from_row_major(&mut mean, m, k),
            )
        });
        progress.report(1, 3)?;
        let covv = match cov {
            CovKind::None => Vec::new(),
            _ => {
                let full = cov == CovKind::Full;
                match inner.law {
                    Law::Nngp => self.nngp_cov(&w, full, &fp)?,
                    Law::Ntk => self.ntk_cov(&a, full, &fp, progress)?,
                }
            }
        };
        progress.report(3, 3)?;
        Ok(Gaussian { mean, cov: covv })
    }

    fn prior_diag(&self, i: usize) -> f64 {
        if self.prior_full {
            self.prior[i * self.m + i]
        } else {
            self.prior[i]
        }
    }

    /// Σ_** − P·diag(w)·Pᵀ.
    fn nngp_cov(&self, w: &[f64], full: bool, fp: &FaerPool) -> Result<Vec<f64>> {
        let (n, m) = (self.pred.inner.n, self.m);
        if !full {
            return Ok((0..m)
                .map(|i| {
                    let row = &self.p[i * n..(i + 1) * n];
                    let s: f64 = row.iter().zip(w).map(|(p, w)| p * p * w).sum();
                    self.prior_diag(i) - s
                })
                .collect());
        }
        let mut pw = try_zeroed(m * n, "P diag(w)")?;
        for (arow, prow) in pw.chunks_mut(n).zip(self.p.chunks(n)) {
            for ((x, p), f) in arow.iter_mut().zip(prow).zip(w) {
                *x = p * f;
            }
        }
        let mut c = self.full_prior()?;
        fp.install(|| {
            par_gemm(
                -1.0,
                MatRef::from_row_major(&pw, m, n),
                MatRef::from_row_major(&self.p, m, n).t(),
                1.0,
                MatMut::from_row_major(&mut c, m, m),
            )
        });
        symmetrize(&mut c, m);
        Ok(c)
    }

    fn full_prior(&self) -> Result<Vec<f64>> {
        let m = self.m;
        let mut c = try_zeroed(m * m, "covariance")?;
        if self.prior_full {
            c.copy_from_slice(&self.prior);
        } else {
            c[0] = self.prior[0]; // m == 1
        }
        Ok(c)
    }

    /// Σ_** + T₁ᵀ·Σ_xx·T₁ − (A·Qᵀ + Q·Aᵀ), T₁ = U·Aᵀ (A = P·diag(φ)).
    fn ntk_cov(
        &self,
        a: &[f64],
        full: bool,
        fp: &FaerPool,
        progress: &mut Progress<'_>,
    ) -> Result<Vec<f64>> {
        let inner = &*self.pred.inner;
        let (n, m) = (inner.n, self.m);
        // Both exist whenever TestSet::new accepted a covariance for the NTK law.
        let sigma = inner.sigma.as_ref().ok_or_else(|| {
            Error::Internal("NTK covariance without the predictor's nngp_train".into())
        })?;
        let q = self.q.as_ref().ok_or_else(|| {
            Error::Internal("NTK covariance without the test set's nngp_test_train".into())
        })?;
        let av = MatRef::from_row_major(a, m, n);
        // T₁ᵀ = A·Uᵀ (M × N), then S = T₁ᵀ·Σ_xx (M × N; Σ_xx symmetric).
        let mut t1t = try_zeroed(m * n, "T1")?;
        fp.install(|| {
            par_gemm(
                1.0,
                av,
                inner.eig.u().t(),
                0.0,
                MatMut::from_row_major(&mut t1t, m, n),
            )
        });
        let mut s = try_zeroed(m * n, "T1^T Sigma_xx")?;
        fp.install(|| {
            par_gemm(
                1.0,
                MatRef::from_row_major(&t1t, m, n),
                MatRef::from_row_major(sigma, n, n),
                0.0,
                MatMut::from_row_major(&mut s, m, n),
            )
        });
        progress.report(2, 3)?;
        if !full {
            return Ok((0..m)
                .map(|i| {
                    let r = i * n..(i + 1) * n;
                    let c1: f64 = s[r.clone()]
                        .iter()
                        .zip(&t1t[r.clone()])
                        .map(|(x, y)| x * y)
                        .sum();
                    let c2: f64 = a[r.clone()].iter().zip(&q[r]).map(|(x, y)| x * y).sum();
                    self.prior_diag(i) + c1 - 2.0 * c2
                })
                .collect());
        }
        let mut c1 = try_zeroed(m * m, "T1^T Sigma_xx T1")?;
        fp.install(|| {
            par_gemm(
                1.0,
                MatRef::from_row_major(&s, m, n),
                MatRef::from_row_major(&t1t, m, n).t(),
                0.0,
                MatMut::from_row_major(&mut c1, m, m),
            )
        });
        let mut t2 = try_zeroed(m * m, "A Q^T")?;
        fp.install(|| {
            par_gemm(
                1.0,
                av,
                MatRef::from_row_major(q, m, n).t(),
                0.0,
                MatMut::from_row_major(&mut t2, m, m),
            )
        });
        let mut c = self.full_prior()?;
        for i in 0..m {
            for j in 0..m {
                c[i * m + j] += c1[i * m + j] - (t2[i * m + j] + t2[j * m + i]);
            }
        }
        symmetrize(&mut c, m);
        Ok(c)
    }
}

/// C ← (C + Cᵀ)/2 (exactly symmetric output).
fn symmetrize(c: &mut [f64], m: usize) {
    for i in 0..m {
        for j in 0..i {
            let v = 0.5 * (c[i * m + j] + c[j * m + i]);
            c[i * m + j] = v;
            c[j * m + i] = v;
        }
    }
}

/// From points to the law: the limit kernels of `spec` (Θ_∞ and Σ^(L)) on the training inputs
/// `x_train` (N × n_0) and test inputs `x_test` (M × n_0), then the law of `law` at each time of
/// `times` (each ≥ 0, +∞ allowed) with covariance `cov`. This is the one call for "mean and error
/// bars": e.g. Figure 2's band is `ensemble_law_points(&spec, Law::Ntk, x4, y4, grid,
/// &[1000.0, f64::INFINITY], CovKind::Diagonal, Ridge::Absolute(0.0), ..)`, the 10–90 % quantiles
/// being mean ± 1.2816·√var.
///
/// Cost: the kernels (O((N + M)²·(n_0 + L)), Σ_** only as needed) plus the costs in the module
/// documentation. Progress is reported by each phase in its own units. Means only
/// (`CovKind::None`) go through the MSE flow ([`crate::flow::Flow`] from f_0 = 0, method `Auto`:
/// Lanczos at finite t while cheaper than the eigendecomposition; t = ∞ by the
/// eigendecomposition).
///
/// # Errors
/// `InvalidArgument` (columns of x_test and x_train, rows of y, t < 0, the spec), `NonFinite`
/// (inputs, t = NaN), `Numerical` (a kernel not PSD), `Cancelled`, `Allocation`.
#[allow(clippy::too_many_arguments)]
pub fn ensemble_law_points(
    spec: &crate::kernel::limit::LimitSpec,
    law: Law,
    x_train: MatRef<'_>,
    y: MatRef<'_>,
    x_test: MatRef<'_>,
    times: &[f64],
    cov: CovKind,
    ridge: Ridge,
    progress: &mut Progress<'_>,
) -> Result<Vec<Gaussian>> {
    use crate::kernel::limit::{limit_kernel, LimitOutputs};
    let (n, m) = (x_train.rows(), x_test.rows());
    if x_test.cols() != x_train.cols() {
        return invalid!(
            "x_test has {} columns, x_train has {}",
            x_test.cols(),
            x_train.cols()
        );
    }
    if y.rows() != n {
        return invalid!("y has {} rows, x_train has {n}", y.rows());
    }
    for &t in times {
        check_time(t)?;
    }
    let lam = match ridge {
        Ridge::Absolute(l) | Ridge::Relative(l) => l,
    };
    if !lam.is_finite() {
        return Err(Error::NonFinite(format!("ridge = {lam}")));
    }
    if lam < 0.0 {
        return invalid!("ridge = {lam}: must be >= 0");
    }
    let nn = checked_mul(n, n, "N x N kernels")?;
    let mn = checked_mul(m, n, "M x N kernels")?;
    let want_cov = cov != CovKind::None;
    let need_theta = law == Law::Ntk;
    let need_sigma = law == Law::Nngp || want_cov;
    let mut th_xx = if need_theta {
        try_zeroed(nn, "Theta_xx")?
    } else {
        Vec::new()
    };
    let mut sg_xx = if need_sigma {
        try_zeroed(nn, "Sigma_xx")?
    } else {
        Vec::new()
    };
    let mut th_tx = if need_theta {
        try_zeroed(mn, "Theta_*x")?
    } else {
        Vec::new()
    };
    let mut sg_tx = if need_sigma {
        try_zeroed(mn, "Sigma_*x")?
    } else {
        Vec::new()
    };
    fn opt(v: &mut [f64], r: usize, c: usize) -> Option<MatMut<'_>> {
        if v.is_empty() {
            None
        } else {
            Some(MatMut::from_row_major(v, r, c))
        }
    }
    limit_kernel(
        spec,
        x_train,
        None,
        LimitOutputs {
            nngp: opt(&mut sg_xx, n, n),
            sigma_dot: None,
            ntk: opt(&mut th_xx, n, n),
        },
        progress,
    )?;
    limit_kernel(
        spec,
        x_test,
        Some(x_train),
        LimitOutputs {
            nngp: opt(&mut sg_tx, m, n),
            sigma_dot: None,
            ntk: opt(&mut th_tx, m, n),
        },
        progress,
    )?;
    if cov == CovKind::None {
        return means_by_flow(
            law, &mut th_xx, &mut sg_xx, &th_tx, &sg_tx, n, m, y, times, ridge,
        );
    }
    // Σ_**: the full M × M for a full covariance, else the M self-variances (M 1 × 1 kernels).
    let prior: Vec<f64> = match cov {
        CovKind::None => Vec::new(),
        CovKind::Full => {
            let mut s = try_zeroed(checked_mul(m, m, "Sigma_**")?, "Sigma_**")?;
            limit_kernel(
                spec,
                x_test,
                None,
                LimitOutputs {
                    nngp: Some(MatMut::from_row_major(&mut s, m, m)),
                    sigma_dot: None,
                    ntk: None,
                },
                progress,
            )?;
            s
        }
        CovKind::Diagonal => {
            let mut s = try_zeroed(m, "Sigma_** diagonal")?;
            for i in 0..m {
                let xi = x_test.rows_range(i, i + 1);
                limit_kernel(
                    spec,
                    xi,
                    None,
                    LimitOutputs {
                        nngp: Some(MatMut::from_row_major(&mut s[i..i + 1], 1, 1)),
                        sigma_dot: None,
                        ntk: None,
                    },
                    &mut Progress::none(),
                )?;
            }
            s
        }
    };
    let (ktrain, ktest) = match law {
        Law::Ntk => (&th_xx, &th_tx),
        Law::Nngp => (&sg_xx, &sg_tx),
    };
    let sigma_train = (law == Law::Ntk && want_cov).then(|| MatRef::from_row_major(&sg_xx, n, n));
    let pred = Predictor::new(
        law,
        MatRef::from_row_major(ktrain, n, n),
        sigma_train,
        y,
        ridge,
        progress,
    )?;
    let sigma_test = (law == Law::Ntk && want_cov).then(|| MatRef::from_row_major(&sg_tx, m, n));
    let prior_view = match cov {
        CovKind::None => None,
        CovKind::Full => Some(MatRef::from_row_major(&prior, m, m)),
        CovKind::Diagonal => Some(MatRef::from_row_major(&prior, m, 1)),
    };
    let test = TestSet::new(
        &pred,
        MatRef::from_row_major(ktest, m, n),
        sigma_test,
        prior_view,
        progress,
    )?;
    times.iter().map(|&t| test.law(t, cov, progress)).collect()
}

/// Means only: the MSE flow of [`crate::flow`] from f_0 = 0, whose test outputs are
/// f*_t = K_*x·Ψ_t·y, the mean. Its `Auto` method evaluates finite times by Lanczos while that
/// is cheaper than the eigendecomposition (O(N²) per Lanczos step instead of 9·N³), and t = ∞ by
/// the eigendecomposition with the pseudo-inverse, as the predictor does.
#[allow(clippy::too_many_arguments)]
fn means_by_flow(
    law: Law,
    th_xx: &mut [f64],
    sg_xx: &mut [f64],
    th_tx: &[f64],
    sg_tx: &[f64],
    n: usize,
    m: usize,
    y: MatRef<'_>,
    times: &[f64],
    ridge: Ridge,
) -> Result<Vec<Gaussian>> {
    let (kx, ktx) = match law {
        Law::Ntk => (th_xx, th_tx),
        Law::Nngp => (sg_xx, sg_tx),
    };
    let lam = match ridge {
        Ridge::Absolute(l) => l,
        Ridge::Relative(l) => l * (0..n).map(|i| kx[i * n + i]).sum::<f64>() / n as f64,
    };
    for i in 0..n {
        kx[i * n + i] += lam;
    }
    let k = y.cols();
    let zeros = try_zeroed(checked_mul(n, k, "f0")?, "f0")?;
    let zeros_test = try_zeroed(checked_mul(m, k, "test f0")?, "test f0")?;
    let mut flow = crate::flow::Flow::new(
        MatRef::from_row_major(kx, n, n),
        y,
        MatRef::from_row_major(&zeros, n, k),
        Some((
            MatRef::from_row_major(ktx, m, n),
            MatRef::from_row_major(&zeros_test, m, k),
        )),
        crate::loss::Cost::Mse,
        crate::flow::FlowOptions::default(),
    )?;
    Ok(flow
        .evaluate(times)?
        .into_iter()
        .map(|o| Gaussian {
            mean: o.test,
            cov: Vec::new(),
        })
        .collect())
}
