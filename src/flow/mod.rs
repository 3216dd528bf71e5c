//! Training dynamics in function space: the kernel gradient flow of Jacot et al. (2018), §4–5.
//!
//! For a training set (x_1 … x_N) with targets y_i ∈ R^k, outputs follow
//!   ∂_t f_t(x) = −(1/N)·Σ_j K(x, x_j)·d_j,   d_j = ∂c/∂f (f_t(x_j), y_j),
//! the gradient flow of C = (1/N)·Σ_i c(f(x_i), y_i) under the kernel K. This is the time scale of
//! the paper: s steps of gradient descent with learning rate η on θ (see [`mod@crate::train`]) follow the
//! flow with K = Θ up to time t = s·η.
//!
//! K is given either as an N × N scalar kernel used as K ⊗ Id_k (each output dimension evolves
//! separately), or as a full (N·k) × (N·k) matrix indexed [i·k + a, j·k + b]. Test points x*_1 …
//! x*_M are carried along through the test–train kernel K(X*, X) (M × N, or (M·k) × (N·k)).
//!
//! # Methods
//! - MSE has the closed form (r_0 = f_0 − y)
//!   f_t = y + e^{−tK/N}·r_0,  f*_t = f*_0 − K*·φ_t(K)·r_0,  φ_t(λ) = (1 − e^{−tλ/N})/λ
//!   (φ_t(0) = t/N, so singular K needs no special care at finite t). It is evaluated either
//!   spectrally (one eigendecomposition K = U·Λ·Uᵀ, ~9·D³ flops, then O(D²·k) per time; see
//!   `spectral`) or by Lanczos (`krylov`, O(D²) per step, tens of steps), chosen by the cost
//!   rule of [`FlowMethod::Auto`]. At t = ∞ the spectral path gives kernel regression with the
//!   pseudo-inverse: eigenvalues λ ≤ D·ε·λ_max count as 0 (e^{−∞·0} = 1, φ_∞(0) = 0).
//! - Other costs (softmax cross-entropy) are integrated by the adaptive Dormand–Prince 5(4)
//!   integrator of [`ode`], which can also be asked for MSE to cross-check.
//!
//! # Validation of K
//! K must be finite, symmetric to relative tolerance [`crate::linalg::symmetric::SYMMETRY_RTOL`] (the error names the
//! first asymmetric pair) and positive semi-definite up to [`crate::linalg::symmetric::PSD_RTOL`]·max_i K_ii
//! (checked once at creation by a Cholesky factorization, D³/3 flops; an indefinite K is reported
//! as `Error::Numerical`). Eigenvalues within that tolerance below 0 are used as 0.

pub(crate) mod krylov;
mod mse;
pub mod ode;
mod ode_driver;
pub(crate) mod spectral;

pub use crate::loss::Cost;
pub use ode::OdeTolerances;

use crate::error::{checked_mul, try_zeroed};
use crate::linalg::{check_finite, symmetric, MatMut, MatRef};
use crate::parallel::Progress;
use crate::{invalid, Error, Result};

/// How the MSE flow is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowMethod {
    /// MSE: spectral or Krylov by the cost rule below; other costs: ODE.
    ///
    /// Cost rule (ski rental): the eigendecomposition costs about E = 9·D³ flops once. A Krylov
    /// evaluation costs about r·s·8·D² (r right-hand sides, s Lanczos steps — the last observed
    /// count, 64 at first —, matrix–vector products counted 4× for being memory-bound). Krylov is
    /// used while the Krylov work spent so far plus the next request stays below E; after that,
    /// or for t = ∞, the eigendecomposition is computed once and used for every later request.
    /// This never costs more than about twice the better choice in hindsight.
    Auto,
    /// MSE through the eigendecomposition (computed once, cached).
    Eigen,
    /// MSE through Lanczos (t = ∞ still uses the eigendecomposition).
    Krylov,
    /// Any cost through the ODE integrator.
    Ode,
}

/// Options of a flow.
#[derive(Clone, Copy, Debug)]
pub struct FlowOptions {
    /// How the MSE flow is evaluated (other costs always integrate the ODE).
    pub method: FlowMethod,
    /// Tolerances of the ODE integrator.
    pub ode: OdeTolerances,
    /// Relative tolerance of the Lanczos evaluation (default 1e-13).
    pub krylov_tol: f64,
}

impl Default for FlowOptions {
    fn default() -> Self {
        FlowOptions {
            method: FlowMethod::Auto,
            ode: OdeTolerances::default(),
            krylov_tol: 1e-13,
        }
    }
}

/// Outputs at one time: train (N × k) and test (M × k), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowOutputs {
    /// Training outputs f_t, N × k row-major.
    pub train: Vec<f64>,
    /// Test outputs f*_t, M × k row-major (empty without test points).
    pub test: Vec<f64>,
}

/// A kernel gradient flow with its current time and outputs.
pub struct Flow {
    n: usize,
    k: usize,
    m: usize,
    /// Kernel dimension D (N, or N·k for a full kernel).
    d: usize,
    /// Rows of the test kernel (M or M·k).
    dm: usize,
    /// Right-hand sides: outputs are D × r row-major (r = k for a scalar kernel, 1 for a full one).
    r: usize,
    kernel: Vec<f64>,
    test_kernel: Option<Vec<f64>>,
    y: Vec<f64>,
    f0: Vec<f64>,
    test_f0: Vec<f64>,
    cost: Cost,
    options: FlowOptions,
    time: f64,
    current: FlowOutputs,
    spectral: Option<spectral::Spectral>,
    krylov_flops: f64,
    krylov_steps: usize,
}

fn check_shape(x: MatRef<'_>, rows: usize, cols: usize, name: &str) -> Result<()> {
    if x.rows() != rows || x.cols() != cols {
        return invalid!(
            "{name} is {}x{}, expected {rows}x{cols}",
            x.rows(),
            x.cols()
        );
    }
    Ok(())
}

impl Flow {
    /// Builds a flow at t = 0 from the kernel (N × N or (N·k) × (N·k)), targets `y` (N × k),
    /// initial outputs `f0` (N × k) and optionally the test–train kernel with initial test outputs
    /// (M × N or (M·k) × (N·k), and M × k). Validates everything (see the module documentation).
    ///
    /// Order (the bounded-time contract): all shapes and options (O(1)); then every allocation
    /// (copies of all inputs, the Cholesky workspace of the PSD check and faer's per-thread GEMM
    /// buffers), so that inputs that cannot be afforded — even broadcast views — fail with
    /// `Error::Allocation` in O(1); then the O(D²) scans (finiteness, symmetry); then the D³/3
    /// Cholesky factorization.
    ///
    /// Cost: O(D²) copies and scans plus D³/3 flops (D = N, or N·k for a full kernel); each later
    /// time as in the module documentation.
    ///
    /// # Errors
    /// `InvalidArgument` (shapes, options, K not symmetric: the first asymmetric pair is named),
    /// `NonFinite` (any input), `Numerical` (K not positive semi-definite), `Allocation`.
    ///
    /// ```
    /// use ntk::{Cost, Flow, FlowOptions, MatRef};
    ///
    /// // K = 2·I on N = 2 points, MSE: f_t = y + e^{−tK/N}(f_0 − y) = y + e^{−t}(f_0 − y).
    /// let (k, y, f0) = ([2.0, 0.0, 0.0, 2.0], [1.0, -1.0], [0.0, 0.0]);
    /// fn m(v: &[f64], r: usize, c: usize) -> MatRef<'_> { MatRef::from_row_major(v, r, c) }
    /// let mut flow = Flow::new(m(&k, 2, 2), m(&y, 2, 1), m(&f0, 2, 1), None, Cost::Mse, FlowOptions::default())?;
    /// flow.set_time(1.0)?;
    /// assert!((flow.outputs()[1] - (-1.0 + (-1.0f64).exp())).abs() < 1e-14);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn new(
        kernel: MatRef<'_>,
        y: MatRef<'_>,
        f0: MatRef<'_>,
        test: Option<(MatRef<'_>, MatRef<'_>)>,
        cost: Cost,
        options: FlowOptions,
    ) -> Result<Flow> {
        let (n, k) = (y.rows(), y.cols());
        if n == 0 || k == 0 {
            return invalid!("y is {n}x{k}: need at least one point and one output");
        }
        let nk = checked_mul(n, k, "N*k")?;
        let (d, r) =
            if kernel.rows() == n {
                (n, k)
            } else if kernel.rows() == nk {
                (nk, 1)
            } else if f0.rows() == kernel.rows()
                || f0.rows().checked_mul(f0.cols()) == Some(kernel.rows())
            {
                // f0 agrees with the kernel: it is y that does not.
                return invalid!(
                "y is {n}x{k}, but the kernel is {}x{} and f0 is {}x{}: y must have N = {} rows \
                 (scalar kernel) or N*k = {} entries (full kernel)",
                kernel.rows(),
                kernel.cols(),
                f0.rows(),
                f0.cols(),
                if f0.rows() == kernel.rows() { kernel.rows() } else { f0.rows() },
                kernel.rows()
            );
            } else {
                return invalid!(
                "kernel has {} rows: expected N = {n} (scalar kernel) or N*k = {nk} (full kernel)",
                kernel.rows()
            );
            };
        if kernel.cols() != d {
            return invalid!(
                "kernel is {}x{}, must be square",
                kernel.rows(),
                kernel.cols()
            );
        }
        check_shape(f0, n, k, "f0")?;
        if !(options.krylov_tol > 0.0 && options.krylov_tol < 1.0) {
            return invalid!(
                "krylov_tol = {}: must be in (0, 1)",
                crate::error::g(options.krylov_tol)
            );
        }
        let tol = options.ode;
        if !(tol.rtol > 0.0 && tol.rtol < 1.0 && tol.atol > 0.0 && tol.atol.is_finite()) {
            return invalid!(
                "ODE tolerances rtol = {}, atol = {}: need 0 < rtol < 1 and 0 < atol < inf",
                crate::error::g(tol.rtol),
                crate::error::g(tol.atol)
            );
        }
        let m = match test {
            None => 0,
            Some((kt, ft)) => {
                if kt.cols() != d {
                    return invalid!("test_kernel has {} columns, the kernel has {d}", kt.cols());
                }
                let m = if r == 1 && d == nk && k > 1 {
                    if kt.rows() % k != 0 {
                        return invalid!(
                            "test_kernel has {} rows, not a multiple of k = {k} (full kernel)",
                            kt.rows()
                        );
                    }
                    kt.rows() / k
                } else {
                    kt.rows()
                };
                check_shape(ft, m, k, "test_f0")?;
                m
            }
        };
        // Every allocation before any O(D^2) read.
        let dd = checked_mul(d, d, "kernel")?;
        let mut kmat = try_zeroed(dd, "copy of kernel")?;
        let psd_work = symmetric::PsdWork::try_new(d, "kernel")?;
        let mut y_copy = try_zeroed(nk, "y")?;
        let mut f0_copy = try_zeroed(nk, "f0")?;
        let test_bufs = match test {
            None => None,
            Some((kt, _)) => Some((
                try_zeroed(checked_mul(kt.rows(), d, "test_kernel")?, "test_kernel")?,
                try_zeroed(checked_mul(m, k, "test_f0")?, "test_f0")?,
            )),
        };
        // The scans, then the copies.
        check_finite(y, "y")?;
        MatMut::from_row_major(&mut y_copy, n, k).copy_from(y);
        check_finite(f0, "f0")?;
        MatMut::from_row_major(&mut f0_copy, n, k).copy_from(f0);
        symmetric::check_symmetric(kernel, "kernel")?;
        MatMut::from_row_major(&mut kmat, d, d).copy_from(kernel);
        let (y, f0) = (y_copy, f0_copy);
        let (dm, test_kernel, test_f0) = match (test, test_bufs) {
            (Some((kt, ft)), Some((mut tk, mut tf))) => {
                check_finite(kt, "test_kernel")?;
                MatMut::from_row_major(&mut tk, kt.rows(), d).copy_from(kt);
                check_finite(ft, "test_f0")?;
                MatMut::from_row_major(&mut tf, m, k).copy_from(ft);
                (kt.rows(), Some(tk), tf)
            }
            _ => (0, None, Vec::new()),
        };
        symmetric::check_psd_with(MatRef::from_row_major(&kmat, d, d), psd_work, "kernel")?;
        let current = FlowOutputs {
            train: f0.clone(),
            test: test_f0.clone(),
        };
        Ok(Flow {
            n,
            k,
            m,
            d,
            dm,
            r,
            kernel: kmat,
            test_kernel,
            y,
            f0,
            test_f0,
            cost,
            options,
            time: 0.0,
            current,
            spectral: None,
            krylov_flops: 0.0,
            krylov_steps: 64,
        })
    }

    /// Number of training points N.
    pub fn num_train(&self) -> usize {
        self.n
    }
    /// Output dimension k.
    pub fn output_dim(&self) -> usize {
        self.k
    }
    /// Number of test points M (0 without a test kernel).
    pub fn num_test(&self) -> usize {
        self.m
    }
    /// The loss the flow follows.
    pub fn cost(&self) -> Cost {
        self.cost
    }
    /// Current time t.
    pub fn time(&self) -> f64 {
        self.time
    }
    /// Training outputs f_t (N × k, row-major).
    pub fn outputs(&self) -> &[f64] {
        &self.current.train
    }
    /// Test outputs f*_t (M × k, row-major; empty without a test kernel).
    pub fn predictions(&self) -> &[f64] {
        &self.current.test
    }
    /// C(f_t) = (1/N)·Σ_i c(f_t(x_i), y_i).
    pub fn loss(&self) -> f64 {
        self.cost.mean(&self.current.train, &self.y, self.k)
    }
    /// Targets y (N × k).
    pub fn targets(&self) -> &[f64] {
        &self.y
    }
    /// Eigenvalues of K (ascending) when the spectral path has been used, else None.
    pub fn eigenvalues(&self) -> Option<&[f64]> {
        self.spectral.as_ref().map(|s| s.eigenvalues())
    }

    /// Advances the flow by `dt` > 0 (finite). Mutates the flow; on error it is unchanged.
    ///
    /// # Errors
    /// `NonFinite` (dt not finite), `InvalidArgument` (dt ≤ 0), and those of [`Flow::set_time`].
    pub fn step(&mut self, dt: f64) -> Result<()> {
        self.step_with(dt, &mut Progress::none())
    }

    /// [`Flow::step`] with progress reporting and cancellation (see [`Flow::set_time_with`]).
    ///
    /// # Errors
    /// As [`Flow::step`], and `Cancelled` (progress).
    pub fn step_with(&mut self, dt: f64, progress: &mut Progress<'_>) -> Result<()> {
        if !dt.is_finite() {
            return Err(Error::NonFinite(format!("dt = {dt}")));
        }
        if dt <= 0.0 {
            return invalid!("dt = {}: must be > 0", crate::error::g(dt));
        }
        self.set_time_with(self.time + dt, progress)
    }

    /// Moves the flow to the absolute time `t` ≥ 0 (t = +∞ allowed for MSE: kernel regression).
    /// MSE is evaluated from t = 0 in closed form; ODE methods integrate from the current state
    /// (backwards when t is earlier). Mutates the flow; on error it is unchanged.
    ///
    /// Cost: MSE, one Lanczos run (O(D²) per step) or, once, the eigendecomposition (~9·D³) and
    /// then O(D²·k); ODE, a few D² right-hand sides per step.
    ///
    /// # Errors
    /// `NonFinite` (t = NaN or −∞), `InvalidArgument` (t < 0, t = ∞ for a cost other than MSE),
    /// `Numerical` (the training outputs overflow, or the ODE exceeds its step budget), `Allocation`.
    pub fn set_time(&mut self, t: f64) -> Result<()> {
        self.set_time_with(t, &mut Progress::none())
    }

    /// [`Flow::set_time`] with progress reporting and cancellation.
    ///
    /// Progress: the ODE method reports (done, [`ode::PROGRESS_TOTAL`]), done/total being the
    /// fraction of the interval integrated, before the first step, every few steps (every step
    /// for large kernels, up to every 64 steps for small ones) and after the last; the closed-form
    /// MSE paths report (0, 1) before and (1, 1) after their work. On any error, including
    /// `Error::Cancelled` at any report, the flow is exactly as before the call (time, outputs and
    /// the cached eigendecomposition / cost-rule state), so a later call gives bit-identical
    /// results to a flow that was never cancelled.
    ///
    /// # Errors
    /// As [`Flow::set_time`], and `Cancelled` (progress).
    pub fn set_time_with(&mut self, t: f64, progress: &mut Progress<'_>) -> Result<()> {
        check_time(t, self.cost)?;
        let out = if self.uses_ode() {
            let mut state = self.current.clone();
            self.integrate(self.time, t, &mut state, progress)?;
            check_state(state, t)?
        } else {
            let saved = (
                self.spectral.is_some(),
                self.krylov_flops,
                self.krylov_steps,
            );
            let result = progress
                .report(0, 1)
                .and_then(|()| self.evaluate_mse(&[t]))
                .and_then(|mut outs| {
                    let out = outs.pop().ok_or_else(|| {
                        Error::Internal("evaluate_mse returned no output for one time".into())
                    })?;
                    check_state(out, t)
                })
                .and_then(|out| progress.report(1, 1).map(|()| out));
            match result {
                Ok(out) => out,
                Err(e) => {
                    // Roll back the caches so that the cost rule of FlowMethod::Auto decides later
                    // calls exactly as if this one had not happened.
                    if !saved.0 {
                        self.spectral = None;
                    }
                    (self.krylov_flops, self.krylov_steps) = (saved.1, saved.2);
                    return Err(e);
                }
            }
        };
        self.current = out;
        self.time = t;
        Ok(())
    }

    /// Outputs at several absolute times without moving the flow (one eigendecomposition or one
    /// Krylov space per right-hand side serves all the times). For ODE methods the integration
    /// starts from t = 0 and passes through the times in increasing order.
    ///
    /// # Errors
    /// As [`Flow::set_time`] for each time.
    pub fn evaluate(&mut self, times: &[f64]) -> Result<Vec<FlowOutputs>> {
        for &t in times {
            check_time(t, self.cost)?;
        }
        if self.uses_ode() {
            let mut order: Vec<usize> = (0..times.len()).collect();
            order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
            let mut state = FlowOutputs {
                train: self.f0.clone(),
                test: self.test_f0.clone(),
            };
            let mut t_prev = 0.0;
            let mut out = vec![None; times.len()];
            for i in order {
                self.integrate(t_prev, times[i], &mut state, &mut Progress::none())?;
                t_prev = times[i];
                out[i] = Some(state.clone());
            }
            return out
                .into_iter()
                .map(|o| {
                    o.ok_or_else(|| {
                        Error::Internal("a time of the ODE evaluation was not integrated".into())
                    })
                })
                .collect();
        }
        self.evaluate_mse(times)
    }

    fn uses_ode(&self) -> bool {
        self.cost != Cost::Mse || self.options.method == FlowMethod::Ode
    }
}

/// A new state must have finite training outputs: finite inputs can still overflow (e.g.
/// f0 − y beyond the double range in the MSE closed form). Test outputs may overflow; they are
/// reported by `ntk_flow_predict`.
fn check_state(state: FlowOutputs, t: f64) -> Result<FlowOutputs> {
    if let Some(i) = state.train.iter().position(|v| !v.is_finite()) {
        return Err(Error::Numerical(format!(
            "the training output {i} at t = {} is {}: the flow overflows the double range \
             (f0 - y or the kernel too large); the flow is unchanged",
            ode::fmt_time(t),
            state.train[i]
        )));
    }
    Ok(state)
}

fn check_time(t: f64, cost: Cost) -> Result<()> {
    if t.is_nan() || t == f64::NEG_INFINITY {
        return Err(Error::NonFinite(format!("t = {t}")));
    }
    if t < 0.0 {
        return invalid!("t = {}: must be >= 0", crate::error::g(t));
    }
    if t.is_infinite() && cost != Cost::Mse {
        return invalid!("t = inf is only available for the MSE cost (kernel regression)");
    }
    Ok(())
}
