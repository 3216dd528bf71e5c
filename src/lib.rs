//! `ntk`: Neural Tangent Kernels (Jacot, Gabriel & Hongler 2018) as a native library.
//!
//! A network of widths n_0, …, n_L in NTK parameterization, α̃^(l+1) = W^(l) α^(l) / √n_l +
//! β b^(l), its empirical NTK Θ(x, x′) = Σ_p ∂_p f(x) ∂_p f(x′), the infinite-width limits
//! Σ^(L) (NNGP) and Θ^(L)_∞, and what they are used for: kernel gradient flow, training,
//! spectra, the predictive law of the trained ensemble and kernel regression. Points are rows.
//!
//! # Map
//! | you want | crate root | module |
//! |---|---|---|
//! | a network, its forward pass and Jacobian | [`Network`], [`NetworkConfig`], [`Architecture`], [`Activation`], [`Parameterization`], [`jacobian()`] | [`network`], [`activation`] |
//! | the empirical NTK (whole, or tiles of prepared features) | [`empirical_ntk`], [`KernelMode`], [`KernelMethod`], [`EmpiricalFeatures`], [`empirical_tile`] | [`kernel::empirical`] |
//! | the limit NNGP / NTK (whole, or tiles of prepared points) | [`limit_kernel`], [`LimitSpec`], [`LimitOutputs`], [`LimitPoints`], [`limit_tile`], [`BlockOutputs`] | [`kernel::limit`] |
//! | the kernel gradient flow ∂_t f = −(1/N)·K·d | [`Flow`], [`FlowOptions`], [`FlowMethod`], [`Cost`] | [`flow`], [`loss`] |
//! | gradient descent of the network | [`train()`] | [`mod@train`] |
//! | eigenvalues, condition number | [`spectrum()`], [`eigenvalues`], [`condition`], [`Which`] | [`mod@spectrum`] |
//! | the predictive law (mean, covariance) | [`Predictor`], [`TestSet`], [`Law`], [`Ridge`], [`CovKind`], [`ensemble_law_points`] | [`predict`] |
//! | kernel regression at scale (CG over tiles) | [`KernelSolver`], [`KernelSource`], [`SolverConfig`], [`SolverKernel`] | [`solve`] |
//! | the same on ndarray arrays | — | [`mod@array`] |
//! | strided views, errors, progress/cancel, threads | [`MatRef`], [`MatMut`], [`Error`], [`Result`], [`Progress`], [`set_num_threads`] | [`linalg`], [`error`], [`parallel`] |
//!
//! The strided functions take [`MatRef`] / [`MatMut`] (any strides, no copy); [`mod@array`] wraps
//! them for `ndarray` (`ArrayView2` in, `Array2` out), bit for bit. Results are bit-identical
//! at any thread count. Every fallible function returns [`Result`]; its `# Errors` section names
//! the [`Error`] variants (one per C status). The C ABI over all of it is [`ffi`]
//! (`include/ntk.h`).
//!
//! ```
//! use ntk::{limit_kernel, Activation, LimitOutputs, LimitSpec, MatMut, MatRef, Network, NetworkConfig, Progress};
//!
//! let x = [1.0, 0.0, 0.6, 0.8]; // two points of R², row-major
//! let net = Network::new(NetworkConfig { widths: vec![2, 64, 1], activation: Activation::Relu, beta: 0.1, seed: 1 })?;
//! let theta = ntk::empirical_ntk_vec(&net, MatRef::from_row_major(&x, 2, 2), None, ntk::KernelMode::Trace, ntk::KernelMethod::Auto)?.0;
//! let mut theta_inf = [0.0; 4];
//! limit_kernel(
//!     &LimitSpec::of_network(&net),
//!     MatRef::from_row_major(&x, 2, 2),
//!     None,
//!     LimitOutputs { nngp: None, sigma_dot: None, ntk: Some(MatMut::from_row_major(&mut theta_inf, 2, 2)) },
//!     &mut Progress::none(),
//! )?;
//! // Width 64: the empirical NTK is near its limit Θ∞ (fluctuations O(1/√64); seed 1 gives
//! // 0.589 vs 0.520 and 0.353 vs 0.294).
//! for i in [0, 1] {
//!     assert!((theta[i] - theta_inf[i]).abs() < 0.3 * theta_inf[i]);
//! }
//! # Ok::<(), ntk::Error>(())
//! ```

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod activation;
pub mod array;
pub mod error;
pub mod ffi;
pub mod flow;
pub mod kernel;
pub mod linalg;
pub mod loss;
pub mod network;
pub mod parallel;
pub mod predict;
pub mod rng;
pub mod simd;
pub mod solve;
pub mod spectrum;
pub mod train;

pub use activation::Activation;
pub use error::{Error, Result};
pub use flow::{Flow, FlowMethod, FlowOptions, FlowOutputs, OdeTolerances};
pub use kernel::empirical::prepared::{empirical_tile, EmpiricalFeatures};
pub use kernel::empirical::{empirical_ntk, empirical_ntk_vec, jacobian, KernelMethod, KernelMode};
pub use kernel::limit::prepared::{limit_tile, LimitPoints};
pub use kernel::limit::{limit_kernel, BlockOutputs, LimitMethod, LimitOutputs, LimitSpec};
pub use linalg::{MatMut, MatRef};
pub use loss::Cost;
pub use network::{Architecture, LayerSpec, Network, NetworkConfig, Parameterization};
pub use parallel::{num_threads, set_num_threads, Progress};
pub use predict::{ensemble_law_points, CovKind, Gaussian, Law, Predictor, Ridge, TestSet};
pub use solve::{KernelSolver, KernelSource, SolveInfo, SolverConfig, SolverKernel};
pub use spectrum::{condition, eigenvalues, spectrum, Which};
pub use train::train;
