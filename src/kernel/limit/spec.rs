//! The limit kernel's specification ([`LimitSpec`]: depth, activation, β or a per-layer
//! architecture; [`LimitMethod`]) and its validation, and which layers have a closed form.

use super::closed_form::ClosedForm;
use crate::activation::Activation;
use crate::{invalid, Result};

/// How the Gaussian expectations are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LimitMethod {
    /// Closed form when the activation has one, otherwise the numerical method.
    #[default]
    Auto,
    /// The numerical method for every activation (for validation).
    Quadrature,
}

/// What defines the limit kernel: the depth L (number of weight layers, ≥ 1), σ and β ≥ 0
/// (σ_w = 1, σ_b = β, NTK parameterization), or, with `arch`, a per-layer architecture.
///
/// # Per-layer architectures (issue #13; neural-tangents' `stax.Dense` kernel_fn)
/// With w_l = σ_w^(l)², b_l = σ_b^(l)², E, Ė the Gaussian expectations of σ_{l} (the activation
/// after weight layer l−1) at Λ^(l), and n_l the input width of weight layer l (n_0 = the
/// points' dimension):
///   Σ^(1) = w_0 xᵀx′/n_0 + b_0,   Σ^(l+1) = w_l E + b_l,   Σ̇^(l+1) = w_l Ė,
///   NTK parameterization:      Θ^(1) = Σ^(1),      Θ^(l+1) = Θ^(l) Σ̇^(l+1) + Σ^(l+1),
///   standard parameterization: Θ^(1) = xᵀx′ + 1,   Θ^(l+1) = Θ^(l) Σ̇^(l+1) + n_l E + 1
/// (the standard one depends on the hidden widths, as in neural-tangents). Cost as for the
/// uniform spec, without the fused closed-form chain (one layer map per pass).
#[derive(Clone, Debug)]
pub struct LimitSpec {
    /// The depth L: the number of weight layers (≥ 1); the activation is applied L − 1 times.
    pub depth: usize,
    /// The activation σ of every hidden layer (uniform spec).
    pub activation: Activation,
    /// The bias scale β ≥ 0 (σ_b = β, so Σ^(1) = xᵀx′/n_0 + β²; uniform spec).
    pub beta: f64,
    /// How the Gaussian expectations are evaluated (default [`LimitMethod::Auto`]).
    pub method: LimitMethod,
    /// Per-layer architecture; `None`: the uniform (activation, β) spec above. When set,
    /// `activation` and `beta` are ignored and `depth` must equal its depth.
    pub arch: Option<std::sync::Arc<crate::network::Architecture>>,
}

impl LimitSpec {
    /// The uniform spec: depth L = `depth`, activation σ, bias scale β, method
    /// [`LimitMethod::Auto`], no per-layer architecture. Validated when a kernel is computed.
    pub fn new(depth: usize, activation: Activation, beta: f64) -> Self {
        LimitSpec {
            depth,
            activation,
            beta,
            method: LimitMethod::Auto,
            arch: None,
        }
    }

    /// The spec of a per-layer architecture. An architecture that is the uniform σ_w = 1 NTK
    /// configuration becomes the uniform spec (same bits as [`LimitSpec::new`]).
    pub fn of_architecture(arch: &crate::network::Architecture) -> Self {
        let depth = arch.depth();
        if let Some((act, beta)) = arch.as_legacy() {
            return LimitSpec::new(depth, act, beta);
        }
        let mut spec = LimitSpec::new(depth, Activation::Identity, 0.0);
        spec.arch = Some(std::sync::Arc::new(arch.clone()));
        spec
    }

    /// The limit spec of a network (in the NTK parameterization its widths other than n_0 are
    /// irrelevant; in the standard one they scale Θ).
    pub fn of_network(net: &crate::network::Network) -> Self {
        if net.architecture().as_legacy().is_some() {
            // Exactly the original spec (the configured activation even when L = 1).
            return LimitSpec::new(net.depth(), net.activation().clone(), net.beta());
        }
        LimitSpec::of_architecture(net.architecture())
    }

    /// The activation after weight layer l (l < L−1).
    pub fn layer_activation(&self, l: usize) -> &Activation {
        match &self.arch {
            Some(a) => a.activation(l),
            None => &self.activation,
        }
    }

    /// (σ_w², σ_b²) of weight layer l.
    pub(super) fn layer_scales(&self, l: usize) -> (f64, f64) {
        match &self.arch {
            Some(a) => {
                let ls = &a.layers[l];
                (ls.sigma_w * ls.sigma_w, ls.sigma_b * ls.sigma_b)
            }
            None => (1.0, self.beta * self.beta),
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return invalid!("depth = 0: the network needs at least one weight layer");
        }
        if let Some(a) = &self.arch {
            if a.depth() != self.depth {
                return invalid!(
                    "depth = {} but the architecture has {} weight layers",
                    self.depth,
                    a.depth()
                );
            }
            if let Some(l) = a.widths.iter().position(|&w| w == 0) {
                return invalid!("widths[{l}] = 0: every layer needs at least one unit");
            }
            return a.validate_layers();
        }
        use crate::linalg::finite::{check_activation, check_scale, Bound};
        check_scale("beta", self.beta, Bound::NonNegative)?;
        check_activation("activation_param (leaky slope)", &self.activation)
    }

    pub(super) fn closed_form(&self) -> Option<ClosedForm> {
        if self.arch.is_some() {
            return None; // per layer: `layer_closed_form`
        }
        self.closed_form_of(&self.activation)
    }

    /// The closed form of the activation after weight layer l, if any (and not forced off).
    pub(super) fn layer_closed_form(&self, l: usize) -> Option<ClosedForm> {
        self.closed_form_of(self.layer_activation(l))
    }

    fn closed_form_of(&self, act: &Activation) -> Option<ClosedForm> {
        if self.method == LimitMethod::Quadrature {
            return None;
        }
        match *act {
            Activation::Identity => Some(ClosedForm::Identity),
            Activation::Relu => Some(ClosedForm::LeakyRelu(0.0)),
            Activation::LeakyRelu(a) => Some(ClosedForm::LeakyRelu(a)),
            Activation::Erf => Some(ClosedForm::Erf),
            Activation::Gelu => Some(ClosedForm::Gelu),
            Activation::Sin => Some(ClosedForm::Sin),
            Activation::Cos => Some(ClosedForm::Cos),
            _ => None,
        }
    }
}
