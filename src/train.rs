//! Full-batch gradient descent of a real network (Jacot et al. 2018, Theorem 5.2).
//!
//! Minimizes C(θ) = (1/N)·Σ_i c(f_θ(x_i), y_i) with θ ← θ − η·∂_θC. Since
//! ∂_θC = (1/N)·Σ_i J_iᵀ·d_i (J_i = ∂f(x_i)/∂θ, d_i = ∂c/∂f), the outputs move by
//! Δf(x) ≈ −(η/N)·Σ_j Θ(x, x_j)·d_j with Θ = J·Jᵀ: s steps with learning rate η follow the kernel
//! flow of [`crate::flow`] (the loss and its output gradient d: [`crate::loss`]) with K = Θ up to t = s·η. For MSE, c = ½‖f − y‖², so
//! C = (1/2N)·Σ‖f − y‖² and d = f − y.
//!
//! Cost per step: one forward and one backward pass, about 6·N·Σ_l n_l·n_{l+1} flops.

use crate::linalg::MatRef;
use crate::loss::Cost;
use crate::network::Network;
use crate::parallel::Progress;
use crate::{invalid, Error, Result};

/// Runs `steps` steps of gradient descent on `net` with learning rate `learning_rate`.
///
/// `loss_history`, when given, must have length steps + 1: entry s receives C(θ_s) (before step
/// s; the last entry is the loss after the final step). Progress is reported as (s, steps) before
/// each step s (after C(θ_s) is recorded); a cancel there returns `Error::Cancelled` with the
/// network holding θ_s (the s completed steps are kept, each applied whole) and loss_history
/// filled in entries 0..=s.
/// If the loss becomes non-finite (divergence) at step s, θ is restored to θ_{s−1} and
/// `Error::Numerical` is returned; if a parameter becomes non-finite in step s (with a finite
/// loss), θ is restored to θ_s and `Error::Numerical` is returned. On `Error::Allocation`, in
/// whichever step it happens, the network and `loss_history` are exactly as before the call.
///
/// Cost: one forward and one backward pass per step, about 6·N·Σ_l n_l·n_{l+1} flops.
///
/// # Errors
/// `InvalidArgument` (shapes, η ≤ 0, `loss_history` not of length steps + 1), `NonFinite`
/// (x, y, η), `Numerical` (divergence, as above), `Cancelled` (progress), `Allocation`.
///
/// ```
/// use ntk::{Activation, Cost, MatRef, Network, NetworkConfig, Progress};
///
/// // L = 1 is linear in θ with the constant kernel Θ(x, x) = x·x/n_0 + β², so on one point
/// // the residual obeys r_{s+1} = (1 − η·Θ)·r_s exactly and C_s = C_0·(1 − η·Θ)^{2s}.
/// let mut net = Network::new(NetworkConfig { widths: vec![2, 1], activation: Activation::Relu, beta: 0.5, seed: 2 })?;
/// let (x, y) = ([1.0, 1.0], [0.3]);
/// let (theta, eta) = (2.0 / 2.0 + 0.25, 0.2);
/// let mut h = [0.0; 6];
/// ntk::train(&mut net, MatRef::from_row_major(&x, 1, 2), MatRef::from_row_major(&y, 1, 1),
///     Cost::Mse, eta, 5, Some(&mut h), &mut Progress::none())?;
/// let q: f64 = 1.0 - eta * theta;
/// assert!((h[5] - h[0] * q.powi(10)).abs() < 1e-14 * h[0]);
/// # Ok::<(), ntk::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn train(
    net: &mut Network,
    x: MatRef<'_>,
    y: MatRef<'_>,
    cost: Cost,
    learning_rate: f64,
    steps: usize,
    loss_history: Option<&mut [f64]>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    // Every cheap shape check before the O(N·n_0) finiteness scans: a stride-0 view can
    // describe billions of rows, and a mismatched y must not wait for a scan of x.
    let (n, k) = (x.rows(), net.output_dim());
    if x.cols() != net.input_dim() {
        return invalid!(
            "x has {} columns, the network's input dimension n_0 is {}",
            x.cols(),
            net.input_dim()
        );
    }
    if y.rows() != n || y.cols() != k {
        return invalid!("y is {}x{}, expected {n}x{k} (N x n_L)", y.rows(), y.cols());
    }
    // The O(N) buffers before the scans, fallibly: a broadcast of ~2^32 rows fails at once with
    // ALLOCATION instead of scanning for seconds and then aborting in an allocation.
    let nk = crate::error::checked_mul(n, k, "y")?;
    let mut d = crate::error::try_zeroed(nk, "cost derivative (N x n_L)")?;
    let yv = y.try_to_row_major("copy of y (N x n_L)")?;
    net.check_input(x, "x")?;
    crate::linalg::check_finite(MatRef::from_row_major(&yv, n, k), "y")?;
    if !learning_rate.is_finite() {
        return Err(Error::NonFinite(format!("learning_rate = {learning_rate}")));
    }
    if learning_rate <= 0.0 {
        return invalid!("learning_rate = {learning_rate}: must be > 0");
    }
    if let Some(h) = loss_history.as_deref() {
        if h.len() != steps.saturating_add(1) {
            return invalid!(
                "loss_history has length {}, expected steps + 1 = {}",
                h.len(),
                steps.saturating_add(1)
            );
        }
    }
    let p = net.num_params();
    let mut grad = crate::error::try_zeroed(p, "gradient")?;
    let mut previous = crate::error::try_zeroed(p, "previous parameters")?;
    // θ_0 and a private loss history, so that an allocation that fails in a later step (each
    // step allocates its forward cache and deltas, fallibly) returns ALLOCATION with the network
    // and `loss_history` exactly as the caller passed them.
    let mut initial = crate::error::try_zeroed(p, "initial parameters")?;
    initial.copy_from_slice(net.params());
    let mut history = match loss_history.as_deref() {
        Some(h) => crate::error::try_zeroed(h.len(), "loss history")?,
        None => Vec::new(),
    };
    let mut filled = 0usize;
    let result = (|| -> Result<()> {
        for s in 0..=steps {
            let cache = crate::parallel::install(|| net.forward_cache(x))??;
            let f = cache.output();
            let loss = cost.mean(f, &yv, k);
            if !loss.is_finite() {
                if s > 0 {
                    net.params_mut().copy_from_slice(&previous);
                }
                return Err(Error::Numerical(format!(
                    "the loss is not finite at step {s} (diverged; learning rate too large?); \
                     the parameters of step {} are kept",
                    s.saturating_sub(1)
                )));
            }
            if !history.is_empty() {
                history[s] = loss;
                filled = s + 1;
            }
            if s == steps {
                break;
            }
            progress.report(s as u64, steps as u64)?;
            cost.gradients(f, &yv, k, &mut d);
            let inv_n = 1.0 / n as f64;
            d.iter_mut().for_each(|v| *v *= inv_n);
            crate::parallel::install(|| -> Result<()> {
                let deltas = net.backward_deltas(&cache, MatRef::from_row_major(&d, n, k))?;
                net.param_gradient(x, &cache, &deltas, &mut grad);
                Ok(())
            })??;
            previous.copy_from_slice(net.params());
            for (t, g) in net.params_mut().iter_mut().zip(&grad) {
                *t -= learning_rate * g;
            }
            // The loss can stay finite with non-finite parameters (e.g. a NaN gradient of a unit
            // that ReLU switches off, from inputs near the double range): restore θ_s.
            if let Some(i) = net.params().iter().position(|v| !v.is_finite()) {
                let v = net.params()[i];
                net.params_mut().copy_from_slice(&previous);
                return Err(Error::Numerical(format!(
                    "parameter {i} is {v} after step {s} (the gradient overflowed; inputs or \
                     learning rate too large?); the parameters of step {s} are kept"
                )));
            }
        }
        progress.report(steps as u64, steps as u64)
    })();
    if let Err(Error::Allocation(_)) = result {
        net.params_mut().copy_from_slice(&initial);
    } else if let Some(h) = loss_history {
        h[..filled].copy_from_slice(&history[..filled]);
    }
    result
}
