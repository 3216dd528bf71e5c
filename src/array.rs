//! The Rust API on [`ndarray`] arrays: [`ArrayView2`] in, [`Array2`] (or [`ArrayViewMut2`]) out.
//!
//! | task | function | wraps |
//! |---|---|---|
//! | network outputs | [`forward`] | [`Network::forward`] |
//! | empirical NTK | [`empirical_ntk`], [`empirical_ntk_with`] | [`empirical::empirical_ntk`] |
//! | limit NNGP / NTK | [`limit_kernels`] | [`limit_kernel`] |
//! | kernel gradient flow | [`flow`], [`flow_outputs`], [`flow_predictions`] | [`Flow::new`] |
//! | gradient descent | [`train`] | [`crate::train::train`] |
//! | spectrum | [`eigenvalues`], [`condition`] | [`mod@crate::spectrum`] |
//! | predictive law | [`predictor`], [`test_set`], [`law`], [`ensemble_law`] | [`crate::predict`] |
//! | kernel regression | [`kernel_solver`], [`solve`], [`solve_into`], [`solve_predict`] | [`crate::solve`] |
//!
//! Each function is a thin layer over the strided entry point it names: the views are handed
//! to it without a copy (an `ArrayView2` of any layout, transposed or sliced with steps,
//! becomes a [`MatRef`] with the same pointer and element strides), and the result is written
//! straight into a freshly allocated row-major `Array2`. The results are bit-identical to the
//! strided path (tests/array_api.rs checks it for contiguous, transposed and stepped views).
//!
//! ```
//! use ndarray::array;
//! use ntk::activation::Activation;
//! use ntk::network::{Network, NetworkConfig};
//!
//! let net = Network::new(NetworkConfig {
//!     widths: vec![2, 16, 1],
//!     activation: Activation::Relu,
//!     beta: 0.1,
//!     seed: 7,
//! })?;
//! let x = array![[1.0, 0.0], [0.6, 0.8], [0.0, -1.0]];
//! let f = ntk::array::forward(&net, x.view())?; // 3 × 1
//! let theta = ntk::array::empirical_ntk(&net, x.view(), None)?; // 3 × 3, symmetric
//! assert_eq!(f.dim(), (3, 1));
//! assert_eq!(theta[[0, 2]], theta[[2, 0]]);
//! # Ok::<(), ntk::Error>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use crate::flow::{Flow, FlowOptions};
use crate::kernel::empirical::{self, KernelMethod, KernelMode};
use crate::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use crate::linalg::{MatMut, MatRef};
use crate::loss::Cost;
use crate::network::Network;
use crate::parallel::Progress;
use crate::predict::{CovKind, Gaussian, Law, Predictor, Ridge, TestSet};
use crate::solve::{KernelSolver, KernelSource, SolveInfo, SolverConfig, SolverKernel};
use crate::Result;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};

/// The strided view of an `ArrayView2`: same pointer, same element strides, no copy. O(1).
pub fn mat_ref<'a>(a: ArrayView2<'a, f64>) -> MatRef<'a> {
    let (rows, cols) = a.dim();
    let s = a.strides();
    // SAFETY: an ArrayView2 guarantees that element (i, j) at ptr + i·s[0] + j·s[1] is valid
    // and not written for 'a for every i < rows, j < cols: exactly MatRef::from_raw's contract.
    unsafe { MatRef::from_raw(a.as_ptr(), rows, cols, s[0], s[1]) }
}

/// The strided mutable view of an `ArrayViewMut2`: same pointer and strides, no copy. O(1).
pub fn mat_mut<'a>(mut a: ArrayViewMut2<'a, f64>) -> MatMut<'a> {
    let (rows, cols) = a.dim();
    let (rs, cs) = (a.strides()[0], a.strides()[1]);
    let ptr = a.as_mut_ptr();
    // SAFETY: an ArrayViewMut2 is an exclusive borrow for 'a of elements that are valid for
    // writes, and ndarray never lets a mutable view address one element twice (no zero or
    // overlapping strides), as MatMut::from_raw requires.
    unsafe { MatMut::from_raw(ptr, rows, cols, rs, cs) }
}

/// A row-major `rows × cols` array of zeros, with an `Error::Allocation` instead of an abort
/// when it cannot be had.
fn zeros(rows: usize, cols: usize, what: &str) -> Result<Array2<f64>> {
    let len = crate::error::checked_mul(rows, cols, what)?;
    let v = crate::error::try_zeroed(len, what)?;
    Ok(Array2::from_shape_vec((rows, cols), v).expect("rows·cols elements"))
}

/// f_θ(X): the network's outputs for the rows of `x` (N × n_0), as an N × n_L array.
/// Layer by layer h^(l+1) = W^(l) σ(h^(l)) / √n_l + β b^(l) ([`Network::forward`]).
///
/// Cost: one GEMM per layer, 2·N·Σ_l n_l·n_{l+1} flops.
///
/// # Errors
/// `InvalidArgument` when `x` does not have n_0 columns, `NonFinite` for NaN/±Inf in `x`,
/// `Numerical` when the result overflows, `Allocation` when the output cannot be allocated.
pub fn forward(net: &Network, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
    let mut out = zeros(x.nrows(), net.output_dim(), "forward output")?;
    net.forward(mat_ref(x), mat_mut(out.view_mut()))?;
    Ok(out)
}

/// The empirical NTK Θ̂(x, x′) = Σ_p ∂f(x)/∂θ_p · ∂f(x′)/∂θ_p of `net`, traced over the
/// outputs (Σ_k of the n_L diagonal blocks: N1 × N2), between the rows of `x1` and of `x2`
/// (`None`: X2 = X1, computed as one triangle and mirrored). See [`empirical::empirical_ntk`];
/// [`empirical_ntk_with`] chooses the mode and method.
///
/// Cost: the cheaper of the Jacobian contraction (N1·N2·P) and the structured per-layer form,
/// chosen by flop count ([`empirical::choose_method`]).
///
/// # Errors
/// As [`empirical::empirical_ntk`]: `InvalidArgument` for wrong columns or no rows, `NonFinite`
/// for NaN/±Inf inputs, `Allocation` when the output cannot be allocated.
pub fn empirical_ntk(
    net: &Network,
    x1: ArrayView2<'_, f64>,
    x2: Option<ArrayView2<'_, f64>>,
) -> Result<Array2<f64>> {
    empirical_ntk_with(net, x1, x2, KernelMode::Trace, KernelMethod::Auto)
}

/// [`empirical_ntk`] with an explicit mode (`Full`: the (N1·n_L) × (N2·n_L) kernel, block (i, j)
/// being the n_L × n_L matrix J(x_i) J(x_j)ᵀ) and method.
///
/// # Errors
/// As [`empirical_ntk`].
pub fn empirical_ntk_with(
    net: &Network,
    x1: ArrayView2<'_, f64>,
    x2: Option<ArrayView2<'_, f64>>,
    mode: KernelMode,
    method: KernelMethod,
) -> Result<Array2<f64>> {
    let n2 = x2.as_ref().map_or(x1.nrows(), |v| v.nrows());
    let (r, c) = empirical::output_shape(net, x1.nrows(), n2, mode)?;
    let mut out = zeros(r, c, "kernel")?;
    empirical::empirical_ntk(
        net,
        mat_ref(x1),
        x2.map(mat_ref),
        mode,
        method,
        mat_mut(out.view_mut()),
        &mut Progress::none(),
    )?;
    Ok(out)
}

/// The infinite-width kernels of a [`LimitSpec`] between two point sets.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitKernels {
    /// Σ^(L)(x, x′), the NNGP kernel (N1 × N2).
    pub nngp: Array2<f64>,
    /// Θ^(L)_∞(x, x′), the limit NTK (N1 × N2).
    pub ntk: Array2<f64>,
}

/// The limit NNGP Σ^(L) and NTK Θ^(L)_∞ between the rows of `x1` and `x2` (`None`: X2 = X1),
/// by the recursion Σ^(1) = xᵀx′/n_0 + β², Σ^(l+1) = E[σ(u)σ(v)] + β²,
/// Θ^(l+1) = Θ^(l) Σ̇^(l+1) + Σ^(l+1) ([`limit_kernel`]).
///
/// Cost: the Gram X1 X2ᵀ (N1·N2·n_0 flops) plus O(N1·N2·L) kernel maps (closed forms for ReLU,
/// erf, identity; quadrature otherwise).
///
/// # Errors
/// As [`limit_kernel`]: `InvalidArgument` for mismatched columns or an invalid spec, `NonFinite`
/// for NaN/±Inf inputs, `Allocation` when the outputs cannot be allocated.
///
/// ```
/// use ndarray::array;
/// use ntk::activation::Activation;
/// use ntk::kernel::limit::LimitSpec;
///
/// let x = array![[1.0, 0.0], [0.0, 1.0]];
/// // σ = identity, depth 1: Σ = Θ = xᵀx′/n_0 + β².
/// let k = ntk::array::limit_kernels(&LimitSpec::new(1, Activation::Identity, 0.5), x.view(), None)?;
/// assert!((k.nngp[[0, 0]] - 0.75).abs() < 1e-15 && (k.ntk[[0, 1]] - 0.25).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn limit_kernels(
    spec: &LimitSpec,
    x1: ArrayView2<'_, f64>,
    x2: Option<ArrayView2<'_, f64>>,
) -> Result<LimitKernels> {
    let n1 = x1.nrows();
    let n2 = x2.as_ref().map_or(n1, |v| v.nrows());
    let mut nngp = zeros(n1, n2, "nngp")?;
    let mut ntk = zeros(n1, n2, "ntk")?;
    limit_kernel(
        spec,
        mat_ref(x1),
        x2.map(mat_ref),
        LimitOutputs {
            nngp: Some(mat_mut(nngp.view_mut())),
            sigma_dot: None,
            ntk: Some(mat_mut(ntk.view_mut())),
        },
        &mut Progress::none(),
    )?;
    Ok(LimitKernels { nngp, ntk })
}

/// A row-major `rows × cols` view of a slice the core returned (its length is rows·cols).
fn view_of(data: &[f64], rows: usize, cols: usize) -> ArrayView2<'_, f64> {
    ArrayView2::from_shape((rows, cols), data).expect("the core returns rows·cols elements")
}

/// A row-major `rows × cols` array that takes over a vector the core returned.
fn array_of(data: Vec<f64>, rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_vec((rows, cols), data).expect("the core returns rows·cols elements")
}

/// The kernel gradient flow ∂_t f_t = −(1/N)·K·d_t, d_t = ∂c/∂f(f_t, y), at t = 0, from the
/// kernel `kernel` (N × N, used as K ⊗ I_k, or (N·k) × (N·k) indexed [i·k + a, j·k + b]),
/// targets `y` (N × k) and initial outputs `f0` (N × k); `test` = (K(X*, X), f*_0) carries M
/// test points along (M × N or (M·k) × (N·k), and M × k). For MSE the flow has the closed form
/// f_t = y + e^{−tK/N}(f_0 − y). See [`Flow::new`] and [`crate::flow`]; move it with
/// [`Flow::set_time`] / [`Flow::step`] and read it with [`flow_outputs`] / [`flow_predictions`].
///
/// Cost: copies of the inputs, O(D²) scans and one Cholesky factorization of K (D³/3 flops,
/// D = N or N·k, the PSD check); each later time costs a Lanczos run (O(D²) per step) or, once,
/// an eigendecomposition (~9·D³) then O(D²·k) — the rule of [`crate::flow::FlowMethod::Auto`].
///
/// # Errors
/// As [`Flow::new`]: `InvalidArgument` for mismatched shapes or options, `NonFinite` for NaN/±Inf
/// inputs, `InvalidArgument` for an asymmetric K (naming the first pair), `Numerical` for a K
/// that is not positive semi-definite, `Allocation` when the copies cannot be allocated.
///
/// ```
/// use ndarray::array;
/// use ntk::flow::FlowOptions;
/// use ntk::loss::Cost;
///
/// // K = 2·I on N = 2 points, MSE: f_t = y + e^{−tK/N}(f_0 − y) = y + e^{−t}(f_0 − y).
/// let k = array![[2.0, 0.0], [0.0, 2.0]];
/// let y = array![[1.0], [-1.0]];
/// let f0 = array![[0.0], [0.0]];
/// let mut flow = ntk::array::flow(k.view(), y.view(), f0.view(), None, Cost::Mse, FlowOptions::default())?;
/// flow.set_time(1.0)?;
/// let f = ntk::array::flow_outputs(&flow); // N × k
/// assert!((f[[0, 0]] - (1.0 - (-1.0f64).exp())).abs() < 1e-14);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn flow(
    kernel: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
    f0: ArrayView2<'_, f64>,
    test: Option<(ArrayView2<'_, f64>, ArrayView2<'_, f64>)>,
    cost: Cost,
    options: FlowOptions,
) -> Result<Flow> {
    Flow::new(
        mat_ref(kernel),
        mat_ref(y),
        mat_ref(f0),
        test.map(|(k, f)| (mat_ref(k), mat_ref(f))),
        cost,
        options,
    )
}

/// The training outputs f_t of `flow` at its current time, as an N × k view (no copy). O(1).
pub fn flow_outputs(flow: &Flow) -> ArrayView2<'_, f64> {
    view_of(flow.outputs(), flow.num_train(), flow.output_dim())
}

/// The test outputs f*_t of `flow` at its current time, as an M × k view (0 × k without test
/// points; no copy). O(1).
pub fn flow_predictions(flow: &Flow) -> ArrayView2<'_, f64> {
    view_of(flow.predictions(), flow.num_test(), flow.output_dim())
}

/// `steps` steps of full-batch gradient descent θ ← θ − η·∂_θC on `net`, with
/// C(θ) = (1/N)·Σ_i c(f_θ(x_i), y_i) for the rows of `x` (N × n_0) and targets `y` (N × n_L);
/// returns the loss history C(θ_0), …, C(θ_steps) (steps + 1 values). s steps with rate η
/// follow the kernel flow with K = Θ up to t = s·η. See [`crate::train::train`].
///
/// Cost: one forward and one backward pass per step, about 6·N·Σ_l n_l·n_{l+1} flops.
///
/// # Errors
/// As [`crate::train::train`]: `InvalidArgument` for mismatched shapes or η ≤ 0, `NonFinite` for
/// NaN/±Inf inputs or η, `Numerical` when the loss or a parameter stops being finite (the network
/// keeps the last finite parameters), `Allocation`.
///
/// ```
/// use ndarray::array;
/// use ntk::activation::Activation;
/// use ntk::loss::Cost;
/// use ntk::network::{Network, NetworkConfig};
///
/// let mut net = Network::new(NetworkConfig {
///     widths: vec![2, 32, 1],
///     activation: Activation::Relu,
///     beta: 0.1,
///     seed: 1,
/// })?;
/// let x = array![[1.0, 0.0], [0.0, 1.0]];
/// let y = array![[0.5], [-0.5]];
/// let losses = ntk::array::train(&mut net, x.view(), y.view(), Cost::Mse, 0.5, 50)?;
/// assert_eq!(losses.len(), 51);
/// assert!(losses[50] < 0.01 * losses[0]);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn train(
    net: &mut Network,
    x: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
    cost: Cost,
    learning_rate: f64,
    steps: usize,
) -> Result<Array1<f64>> {
    let len = steps
        .checked_add(1)
        .ok_or_else(|| crate::Error::InvalidArgument(format!("steps = {steps}: too many")))?;
    let mut history = crate::error::try_zeroed(len, "loss history")?;
    crate::train::train(
        net,
        mat_ref(x),
        mat_ref(y),
        cost,
        learning_rate,
        steps,
        Some(&mut history),
        &mut Progress::none(),
    )?;
    Ok(Array1::from_vec(history))
}

/// All eigenvalues of the symmetric kernel matrix `k` (N × N), ascending. See
/// [`crate::spectrum::eigenvalues`].
///
/// Cost: one symmetric eigendecomposition without eigenvectors, about 4/3·N³ flops.
///
/// # Errors
/// `InvalidArgument` when `k` is not square or not symmetric (relative 1e-10), `NonFinite` for
/// NaN/±Inf entries, `Allocation`.
///
/// ```
/// use ndarray::array;
/// let l = ntk::array::eigenvalues(array![[2.0, 1.0], [1.0, 2.0]].view())?;
/// assert!((l[0] - 1.0).abs() < 1e-15 && (l[1] - 3.0).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn eigenvalues(k: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
    crate::spectrum::eigenvalues(mat_ref(k)).map(Array1::from_vec)
}

/// (λ_min, λ_max, λ_max/λ_min) of the symmetric `k` (+∞ when λ_min ≤ 0). See
/// [`crate::spectrum::condition`].
///
/// Cost and `# Errors`: as [`eigenvalues`].
pub fn condition(k: ArrayView2<'_, f64>) -> Result<(f64, f64, f64)> {
    crate::spectrum::condition(mat_ref(k))
}

/// The train side of the predictive law of the trained infinite ensemble (see
/// [`crate::predict`]): the eigendecomposition K_xx + λI = U·Λ·Uᵀ and Uᵀy, from `kernel`
/// (N × N: Θ_xx for [`Law::Ntk`], Σ_xx for [`Law::Nngp`]), `sigma` (Σ_xx for the NTK law's
/// covariance, `None` for means only or the NNGP law) and targets `y` (N × k). See
/// [`Predictor::new`].
///
/// Cost: about 9·N³ flops (eigendecomposition) plus N³/3 (Cholesky of Σ_xx) plus 2·N²·k.
///
/// # Errors
/// As [`Predictor::new`]: `InvalidArgument` (shapes, asymmetric kernels, λ < 0, `sigma` with the
/// NNGP law), `NonFinite` (inputs, λ), `Numerical` (a kernel not positive semi-definite),
/// `Allocation`.
pub fn predictor(
    law: Law,
    kernel: ArrayView2<'_, f64>,
    sigma: Option<ArrayView2<'_, f64>>,
    y: ArrayView2<'_, f64>,
    ridge: Ridge,
) -> Result<Predictor> {
    Predictor::new(
        law,
        mat_ref(kernel),
        sigma.map(mat_ref),
        mat_ref(y),
        ridge,
        &mut Progress::none(),
    )
}

/// The test side of the law: `kernel` = K_*x (M × N: Θ_*x for the NTK law, Σ_*x for the NNGP
/// law), `sigma` = Σ_*x (NTK law, exactly when `prior` is given), `prior` = Σ_** (M × M) or its
/// diagonal as M × 1 (`None`: means only). See [`TestSet::new`].
///
/// Cost: P = K_*x·U (2·M·N² flops), and Q = Σ_*x·U (2·M·N²) for the NTK law's covariance.
///
/// # Errors
/// As [`TestSet::new`]: `InvalidArgument` for mismatched shapes or a covariance the predictor
/// cannot give, `NonFinite`, `Allocation`.
pub fn test_set(
    pred: &Predictor,
    kernel: ArrayView2<'_, f64>,
    sigma: Option<ArrayView2<'_, f64>>,
    prior: Option<ArrayView2<'_, f64>>,
) -> Result<TestSet> {
    TestSet::new(
        pred,
        mat_ref(kernel),
        sigma.map(mat_ref),
        prior.map(mat_ref),
        &mut Progress::none(),
    )
}

/// A Gaussian law over M test points as arrays: the mean (M × k) and the covariance shared by
/// the k outputs: M × M ([`CovKind::Full`]), its diagonal as M × 1 ([`CovKind::Diagonal`]), or
/// `None` ([`CovKind::None`]).
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianArrays {
    /// μ_t, M × k.
    pub mean: Array2<f64>,
    /// Σ_t, M × M or M × 1 (its diagonal), or `None` for means only.
    pub cov: Option<Array2<f64>>,
}

fn gaussian_arrays(g: Gaussian, m: usize, k: usize, cov: CovKind) -> GaussianArrays {
    let c = match cov {
        CovKind::None => None,
        CovKind::Full => Some(array_of(g.cov, m, m)),
        CovKind::Diagonal => Some(array_of(g.cov, m, 1)),
    };
    GaussianArrays {
        mean: array_of(g.mean, m, k),
        cov: c,
    }
}

/// The law at time `t` (≥ 0, +∞ allowed): mean μ_t = Θ_*x Ψ_t y and covariance Σ_t (formulas
/// in [`crate::predict`]), Ψ_t = U·diag((1 − e^{−λ_i t/N})/λ_i)·Uᵀ. See [`TestSet::law`].
///
/// Cost: mean 2·M·N·k flops; NNGP covariance M²·N (full) or M·N (diagonal); NTK covariance
/// 4·M·N² + 3·M²·N (full) or 4·M·N² + 4·M·N (diagonal).
///
/// # Errors
/// As [`TestSet::law`]: `NonFinite` for t = NaN, `InvalidArgument` for t < 0 or a covariance
/// the test set was built without, `Allocation`.
///
/// ```
/// use ndarray::array;
/// use ntk::predict::{CovKind, Law, Ridge};
///
/// // NNGP law at t = ∞ is the GP posterior: mean Σ_*x Σ_xx⁻¹ y, cov Σ_** − Σ_*x Σ_xx⁻¹ Σ_x*.
/// let kxx = array![[2.0, 0.0], [0.0, 1.0]];
/// let y = array![[1.0], [3.0]];
/// let p = ntk::array::predictor(Law::Nngp, kxx.view(), None, y.view(), Ridge::Absolute(0.0))?;
/// let ksx = array![[1.0, 0.5]];
/// let ts = ntk::array::test_set(&p, ksx.view(), None, Some(array![[2.0]].view()))?;
/// let g = ntk::array::law(&ts, f64::INFINITY, CovKind::Full)?;
/// assert!((g.mean[[0, 0]] - (0.5 + 1.5)).abs() < 1e-14);
/// assert!((g.cov.unwrap()[[0, 0]] - (2.0 - 0.5 - 0.25)).abs() < 1e-14);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn law(ts: &TestSet, t: f64, cov: CovKind) -> Result<GaussianArrays> {
    let g = ts.law(t, cov, &mut Progress::none())?;
    Ok(gaussian_arrays(g, ts.num_test(), ts.output_dim(), cov))
}

/// From points to the law at each of `times`: the limit kernels of `spec` on `x_train` (N × n_0)
/// and `x_test` (M × n_0), then [`law`] for targets `y` (N × k). See
/// [`crate::predict::ensemble_law_points`].
///
/// Cost: the kernels, O((N + M)²·(n_0 + L)), plus the costs of [`predictor`], [`test_set`] and
/// [`law`] per time.
///
/// # Errors
/// As [`crate::predict::ensemble_law_points`]: `InvalidArgument` (shapes, times < 0, the spec),
/// `NonFinite`, `Numerical`, `Allocation`.
#[allow(clippy::too_many_arguments)]
pub fn ensemble_law(
    spec: &LimitSpec,
    law: Law,
    x_train: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
    x_test: ArrayView2<'_, f64>,
    times: &[f64],
    cov: CovKind,
    ridge: Ridge,
) -> Result<Vec<GaussianArrays>> {
    let (m, k) = (x_test.nrows(), y.ncols());
    let gs = crate::predict::ensemble_law_points(
        spec,
        law,
        mat_ref(x_train),
        mat_ref(y),
        mat_ref(x_test),
        times,
        cov,
        ridge,
        &mut Progress::none(),
    )?;
    Ok(gs
        .into_iter()
        .map(|g| gaussian_arrays(g, m, k, cov))
        .collect())
}

/// A kernel-regression solver for the N training points `x` (N × n_0): the kernel `kernel` of
/// `net`'s architecture (limit NTK/NNGP) or of `net` itself (empirical NTK, trace), its
/// diagonal, an optional row cache and a rank-r pivoted-Cholesky preconditioner. See
/// [`KernelSource::new`] and [`KernelSolver::new`].
///
/// Cost: the per-point data (O(N·n_0)), N diagonal entries, the cached rows (cached·N entries)
/// and r kernel rows plus O(N·r²) flops for the preconditioner.
///
/// # Errors
/// `InvalidArgument` for the wrong number of columns, `NonFinite` for NaN/±Inf in `x`,
/// `Allocation`.
pub fn kernel_solver(
    net: &Network,
    x: ArrayView2<'_, f64>,
    kernel: SolverKernel,
    config: SolverConfig,
) -> Result<KernelSolver> {
    let source = KernelSource::new(net, mat_ref(x), kernel, &mut Progress::none())?;
    KernelSolver::new(source, config, &mut Progress::none())
}

/// α = (K + λI)⁻¹Y for the k columns of `y` (N × k), by preconditioned CG until every column's
/// true relative residual ‖y_j − (K + λI)α_j‖/‖y_j‖ ≤ `rtol` (at most `max_iterations`); returns
/// α (N × k) and what the solve did. See [`KernelSolver::solve`]; [`solve_into`] writes α into
/// a caller's array.
///
/// Cost per iteration: ~N²/2 kernel entries (only uncached rows recomputed) plus 2·N²·k flops.
///
/// # Errors
/// As [`KernelSolver::solve`]: `InvalidArgument` (shapes, λ, rtol), `NonFinite` (y),
/// `Numerical` (K + λI not positive definite along a search direction, or rtol not reached),
/// `Allocation`.
///
/// ```
/// use ndarray::array;
/// use ntk::activation::Activation;
/// use ntk::network::{Network, NetworkConfig};
/// use ntk::solve::{SolverConfig, SolverKernel};
///
/// let net = Network::new(NetworkConfig { widths: vec![2, 8, 1], activation: Activation::Relu, beta: 0.1, seed: 3 })?;
/// let x = array![[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]];
/// let y = array![[1.0], [0.0], [-1.0]];
/// let s = ntk::array::kernel_solver(&net, x.view(), SolverKernel::LimitNtk, SolverConfig::default())?;
/// let (alpha, info) = ntk::array::solve(&s, 0.0, y.view(), 1e-12, 100)?;
/// // At the training points the regression interpolates: K α = y.
/// let f = ntk::array::solve_predict(&s, x.view(), alpha.view())?;
/// assert!(info.residual <= 1e-12 && (&f - &y).iter().all(|e| e.abs() < 1e-9));
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn solve(
    solver: &KernelSolver,
    lambda: f64,
    y: ArrayView2<'_, f64>,
    rtol: f64,
    max_iterations: usize,
) -> Result<(Array2<f64>, SolveInfo)> {
    let mut alpha = zeros(y.nrows(), y.ncols(), "alpha")?;
    let info = solve_into(solver, lambda, y, rtol, max_iterations, alpha.view_mut())?;
    Ok((alpha, info))
}

/// [`solve`] writing α into `alpha` (N × k, any layout; written only on success).
///
/// # Errors
/// As [`solve`], and `InvalidArgument` when `alpha` is not N × k.
pub fn solve_into(
    solver: &KernelSolver,
    lambda: f64,
    y: ArrayView2<'_, f64>,
    rtol: f64,
    max_iterations: usize,
    alpha: ArrayViewMut2<'_, f64>,
) -> Result<SolveInfo> {
    solver.solve(
        lambda,
        mat_ref(y),
        rtol,
        max_iterations,
        mat_mut(alpha),
        &mut Progress::none(),
    )
}

/// The regression's predictions K(X*, X)·α (M × k) at the rows of `x_test` (M × n_0), streamed in
/// tiles. See [`KernelSolver::predict`].
///
/// Cost: M·N kernel entries plus 2·M·N·k flops; memory one tile and one chunk of test points.
///
/// # Errors
/// As [`KernelSolver::predict`]: `InvalidArgument` (shapes), `NonFinite` (x_test, α),
/// `Allocation`.
pub fn solve_predict(
    solver: &KernelSolver,
    x_test: ArrayView2<'_, f64>,
    alpha: ArrayView2<'_, f64>,
) -> Result<Array2<f64>> {
    let mut out = zeros(x_test.nrows(), alpha.ncols(), "predictions")?;
    solver.predict(
        mat_ref(x_test),
        mat_ref(alpha),
        mat_mut(out.view_mut()),
        &mut Progress::none(),
    )?;
    Ok(out)
}
