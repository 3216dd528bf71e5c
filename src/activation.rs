//! Nonlinearities σ and their derivatives σ′.
//!
//! Every built-in activation is evaluated with the pure-Rust `libm`, so the bits do not depend on
//! the platform's C math library. Conventions at kinks: relu′(0) = 0, leaky_relu′(0) = slope.

use std::fmt;
use std::sync::Arc;

/// A user-supplied activation: σ and σ′ as functions of one real variable.
///
/// The theorems of Jacot et al. hold for any Lipschitz σ; limit kernels of a custom σ are
/// computed by numerical integration, so σ must be cheap, pure and thread-safe (it is called from
/// several threads at once).
pub trait ScalarActivation: Send + Sync {
    /// σ(x).
    fn sigma(&self, x: f64) -> f64;
    /// σ′(x), the derivative of [`ScalarActivation::sigma`].
    fn dsigma(&self, x: f64) -> f64;
}

/// A pair of plain Rust functions as a [`ScalarActivation`].
pub struct FnActivation<F: Fn(f64) -> f64, G: Fn(f64) -> f64> {
    /// σ.
    pub sigma: F,
    /// σ′.
    pub dsigma: G,
}

impl<F, G> ScalarActivation for FnActivation<F, G>
where
    F: Fn(f64) -> f64 + Send + Sync,
    G: Fn(f64) -> f64 + Send + Sync,
{
    fn sigma(&self, x: f64) -> f64 {
        (self.sigma)(x)
    }
    fn dsigma(&self, x: f64) -> f64 {
        (self.dsigma)(x)
    }
}

/// The nonlinearity applied after every hidden layer.
#[derive(Clone)]
pub enum Activation {
    /// σ(x) = x (the limit kernels are then linear in xᵀx′; Θ has low rank).
    Identity,
    /// σ(x) = max(x, 0) (arc-cosine closed forms).
    Relu,
    /// max(x, a·x) for slope a.
    LeakyRelu(f64),
    /// erf(x)
    Erf,
    /// σ(x) = tanh(x).
    Tanh,
    /// Logistic 1 / (1 + e^{−x}).
    Sigmoid,
    /// ln(1 + e^x)
    Softplus,
    /// Exact GELU x·Φ(x) with Φ the standard normal CDF.
    Gelu,
    /// σ(x) = sin(x) (closed forms).
    Sin,
    /// σ(x) = cos(x) (closed forms).
    Cos,
    /// A user-supplied pair (σ, σ′); its limit kernels are computed by quadrature.
    Custom(Arc<dyn ScalarActivation>),
}

impl fmt::Debug for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRelu(a) => write!(f, "LeakyRelu({a})"),
            Activation::Custom(_) => write!(f, "Custom"),
            other => write!(f, "{}", other.name()),
        }
    }
}

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl Activation {
    /// The lower-case name (`"relu"`, `"leaky_relu"`, …; `"custom"` for
    /// [`Activation::Custom`]).
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Erf => "erf",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Softplus => "softplus",
            Activation::Gelu => "gelu",
            Activation::Sin => "sin",
            Activation::Cos => "cos",
            Activation::Custom(_) => "custom",
        }
    }

    /// σ(x)
    #[inline]
    pub fn sigma(&self, x: f64) -> f64 {
        match self {
            Activation::Identity => x,
            Activation::Relu => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a * x
                }
            }
            Activation::Erf => libm::erf(x),
            Activation::Tanh => libm::tanh(x),
            Activation::Sigmoid => sigmoid(x),
            // ln(1+e^x) = max(x,0) + ln(1 + e^{-|x|}), without overflow.
            Activation::Softplus => x.max(0.0) + libm::log1p(libm::exp(-x.abs())),
            Activation::Gelu => x * normal_cdf(x),
            Activation::Sin => libm::sin(x),
            Activation::Cos => libm::cos(x),
            Activation::Custom(c) => c.sigma(x),
        }
    }

    /// σ′(x)
    #[inline]
    pub fn dsigma(&self, x: f64) -> f64 {
        match self {
            Activation::Identity => 1.0,
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu(a) => {
                if x > 0.0 {
                    1.0
                } else {
                    *a
                }
            }
            Activation::Erf => 2.0 * FRAC_1_SQRT_2PI * std::f64::consts::SQRT_2 * libm::exp(-x * x),
            Activation::Tanh => {
                let t = libm::tanh(x);
                1.0 - t * t
            }
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Activation::Softplus => sigmoid(x),
            Activation::Gelu => normal_cdf(x) + x * FRAC_1_SQRT_2PI * libm::exp(-0.5 * x * x),
            Activation::Sin => libm::cos(x),
            Activation::Cos => -libm::sin(x),
            Activation::Custom(c) => c.dsigma(x),
        }
    }

    /// Applies σ in place and, when `deriv` is given, stores σ′ of the original values there.
    pub fn apply_slice(&self, x: &mut [f64], deriv: Option<&mut [f64]>) {
        if let Some(d) = deriv {
            for (xi, di) in x.iter_mut().zip(d.iter_mut()) {
                *di = self.dsigma(*xi);
                *xi = self.sigma(*xi);
            }
        } else {
            for xi in x.iter_mut() {
                *xi = self.sigma(*xi);
            }
        }
    }
}

/// Logistic function, evaluated without overflow for any finite x.
#[inline]
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

/// Standard normal CDF Φ(x) = erfc(−x/√2)/2 (accurate in both tails).
#[inline]
pub(crate) fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Activation> {
        vec![
            Activation::Identity,
            Activation::Relu,
            Activation::LeakyRelu(0.2),
            Activation::Erf,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Softplus,
            Activation::Gelu,
            Activation::Sin,
            Activation::Cos,
        ]
    }

    #[test]
    fn derivative_matches_central_difference() {
        let h = 1e-6;
        for act in all() {
            for &x in &[-3.1, -0.7, 0.3, 1.9, 4.2] {
                let fd = (act.sigma(x + h) - act.sigma(x - h)) / (2.0 * h);
                let d = act.dsigma(x);
                assert!(
                    (fd - d).abs() < 1e-8 * (1.0 + d.abs()),
                    "{act:?} at {x}: {fd} vs {d}"
                );
            }
        }
    }

    #[test]
    fn closed_values() {
        assert_eq!(Activation::Relu.sigma(-2.0), 0.0);
        assert_eq!(Activation::LeakyRelu(0.1).sigma(-2.0), -0.2);
        assert!((Activation::Softplus.sigma(0.0) - std::f64::consts::LN_2).abs() < 1e-16);
        assert!((Activation::Softplus.sigma(800.0) - 800.0).abs() < 1e-12);
        assert_eq!(Activation::Sigmoid.sigma(-800.0), 0.0);
        assert!((Activation::Gelu.sigma(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
    }
}
