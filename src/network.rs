//! The fully connected network of Jacot et al. (2018), section 1, with per-layer weight and bias
//! scales and activations, in the NTK or the standard parameterization (issue #13).
//!
//! Layers n_0 (input) … n_L (output), L ≥ 1 weight layers, α^(0) = x, f_θ(x) = α̃^(L)(x),
//! α^(l) = σ_l(α̃^(l)) for l = 1 … L−1 (σ_l: the activation after weight layer l−1). Weight layer
//! l has σ_w^(l) > 0 and σ_b^(l) ≥ 0 ([`LayerSpec`]); exactly neural-tangents' `stax.Dense`:
//! - NTK parameterization: α̃^(l+1) = σ_w^(l) W^(l) α^(l) / √n_l + σ_b^(l) b^(l), θ ~ N(0, 1).
//! - Standard parameterization: α̃^(l+1) = W^(l) α^(l) + b^(l), W^(l) ~ N(0, σ_w^(l)²/n_l),
//!   b^(l) ~ N(0, σ_b^(l)²); θ is drawn as N(0, 1) from the same streams and then scaled by
//!   σ_w^(l)/√n_l and σ_b^(l) (as neural-tangents' `standard_init_fn` does).
//!
//! [`NetworkConfig`] (one activation, β, seed) is the original configuration: σ_w = 1, σ_b = β
//! and the NTK parameterization, with the same bits as before (the scale σ_w/√n_l is 1/√n_l
//! exactly when σ_w = 1).
//!
//! # Parameter ordering
//! θ is stored as one flat vector, layer by layer: W^(0) in row-major order, then b^(0), then
//! W^(1), b^(1), …, W^(L−1), b^(L−1). This is also the order of the columns of the parameter
//! Jacobian and the order in which the generator stream of [`crate::rng`] produces the values
//! (each layer from its own stream, see [`Rng::for_layer`]).

use crate::activation::Activation;
use crate::error::{checked_mul, try_zeroed};
use crate::linalg::finite::{check_activation, check_scale, Bound};
use crate::linalg::{par_gemm, MatMut, MatRef};
use crate::rng::Rng;
use crate::{invalid, Result};
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};

/// How the parameters enter the network (for the whole network), as in neural-tangents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Parameterization {
    /// α̃ = σ_w W α / √n + σ_b b, θ ~ N(0, 1) (Jacot et al.; neural-tangents' default).
    #[default]
    Ntk,
    /// α̃ = W α + b, W ~ N(0, σ_w²/n), b ~ N(0, σ_b²).
    Standard,
}

/// One weight layer l: σ_w^(l) > 0, σ_b^(l) ≥ 0 and the activation applied to its output
/// (`None` on the output layer, required on every hidden layer).
#[derive(Clone, Debug)]
pub struct LayerSpec {
    /// σ_w^(l) > 0, finite: the weight scale.
    pub sigma_w: f64,
    /// σ_b^(l) ≥ 0, finite: the bias scale.
    pub sigma_b: f64,
    /// σ after this layer: required on hidden layers, `None` on the output layer.
    pub activation: Option<Activation>,
}

/// The full architecture: widths n_0 … n_L, one [`LayerSpec`] per weight layer (L of them), the
/// parameterization and the seed of θ.
#[derive(Clone, Debug)]
pub struct Architecture {
    /// n_0 … n_L (at least two entries, all ≥ 1).
    pub widths: Vec<usize>,
    /// One per weight layer (L = widths.len() − 1).
    pub layers: Vec<LayerSpec>,
    /// NTK or standard parameterization.
    pub parameterization: Parameterization,
    /// Seed of θ (the stream of [`crate::rng`]).
    pub seed: u64,
}

impl Architecture {
    /// Uniform settings in one line: the same σ_w, σ_b on every layer and `activation` after
    /// every hidden layer.
    pub fn uniform(
        widths: Vec<usize>,
        activation: Activation,
        sigma_w: f64,
        sigma_b: f64,
        parameterization: Parameterization,
        seed: u64,
    ) -> Architecture {
        let depth = widths.len().saturating_sub(1);
        let layers = (0..depth)
            .map(|l| LayerSpec {
                sigma_w,
                sigma_b,
                activation: (l + 1 < depth).then(|| activation.clone()),
            })
            .collect();
        Architecture {
            widths,
            layers,
            parameterization,
            seed,
        }
    }

    /// Number of weight layers L.
    pub fn depth(&self) -> usize {
        self.widths.len().saturating_sub(1)
    }

    /// Checks the per-layer values (naming the layer and the field); not the widths.
    ///
    /// # Errors
    /// `InvalidArgument` (not one layer per weight layer, σ_w ≤ 0, σ_b < 0, a hidden layer
    /// without activation or an output layer with one, a bad leaky slope; the layer and field
    /// are named), `NonFinite` (a non-finite scale or slope).
    pub fn validate_layers(&self) -> Result<()> {
        let depth = self.depth();
        if self.layers.len() != depth {
            return invalid!(
                "layers: {} entries for {} weight layers (one per weight layer)",
                self.layers.len(),
                depth
            );
        }
        for (l, ls) in self.layers.iter().enumerate() {
            // The one scale rule (linalg::finite): NaN/Inf → NON_FINITE, out of range → INVALID.
            check_scale(&format!("layers[{l}].sigma_w"), ls.sigma_w, Bound::Positive)?;
            check_scale(
                &format!("layers[{l}].sigma_b"),
                ls.sigma_b,
                Bound::NonNegative,
            )?;
            match (&ls.activation, l + 1 < depth) {
                (None, true) => {
                    return invalid!("layers[{l}].activation: a hidden layer needs an activation")
                }
                (Some(_), false) => {
                    return invalid!(
                    "layers[{l}].activation: the output layer (l = L-1 = {l}) takes no activation"
                )
                }
                (Some(act), _) => {
                    check_activation(&format!("layers[{l}].activation_param (leaky slope)"), act)?
                }
                (None, false) => {}
            }
        }
        Ok(())
    }

    /// Checks everything and returns the parameter count P = Σ n_{l+1}(n_l + 1).
    ///
    /// # Errors
    /// As [`Architecture::validate_layers`], and `InvalidArgument` for fewer than two widths or a
    /// zero width, `Allocation` when P overflows `usize`.
    pub fn validate(&self) -> Result<usize> {
        let p = param_count(&self.widths)?;
        self.validate_layers()?;
        Ok(p)
    }

    /// The activation after weight layer l (l < L−1).
    pub fn activation(&self, l: usize) -> &Activation {
        self.layers[l]
            .activation
            .as_ref()
            .expect("validated: hidden layers have an activation")
    }

    /// The factor of W^(l) α^(l) in the forward pass: σ_w/√n_l (NTK) or 1 (standard).
    pub fn weight_scale(&self, l: usize) -> f64 {
        match self.parameterization {
            Parameterization::Ntk => self.layers[l].sigma_w / (self.widths[l] as f64).sqrt(),
            Parameterization::Standard => 1.0,
        }
    }

    /// The factor of b^(l) in the forward pass: σ_b (NTK) or 1 (standard).
    pub fn bias_scale(&self, l: usize) -> f64 {
        match self.parameterization {
            Parameterization::Ntk => self.layers[l].sigma_b,
            Parameterization::Standard => 1.0,
        }
    }

    /// True when every layer has σ_w = 1, one σ_b and one activation, in the NTK
    /// parameterization: the original (activation, β) configuration.
    pub fn as_legacy(&self) -> Option<(Activation, f64)> {
        if self.parameterization != Parameterization::Ntk {
            return None;
        }
        let beta = self.layers.first()?.sigma_b;
        let act = self
            .layers
            .first()
            .and_then(|l| l.activation.clone())
            .unwrap_or(Activation::Identity);
        let key = format!("{act:?}");
        for ls in &self.layers {
            if ls.sigma_w != 1.0 || ls.sigma_b.to_bits() != beta.to_bits() {
                return None;
            }
            if let Some(a) = &ls.activation {
                if format!("{a:?}") != key {
                    return None;
                }
                if let (Activation::Custom(f), Activation::Custom(g)) = (a, &act) {
                    if !std::sync::Arc::ptr_eq(f, g) {
                        return None;
                    }
                }
            }
        }
        Some((act, beta))
    }
}

/// P = Σ n_{l+1}(n_l + 1) with checked arithmetic, after checking the widths.
fn param_count(widths: &[usize]) -> Result<usize> {
    if widths.len() < 2 {
        return invalid!(
            "widths: need at least 2 entries (n_0 and n_L), got {}",
            widths.len()
        );
    }
    if let Some(l) = widths.iter().position(|&w| w == 0) {
        return invalid!("widths[{l}] = 0: every layer needs at least one unit");
    }
    let mut p = 0usize;
    for l in 0..widths.len() - 1 {
        let overflow = || {
            crate::Error::Allocation(format!(
                "widths: the parameter count overflows at layer {l} (widths[{l}] = {}, widths[{}] = {})",
                widths[l],
                l + 1,
                widths[l + 1]
            ))
        };
        let fan_in = widths[l].checked_add(1).ok_or_else(overflow)?;
        let layer = widths[l + 1].checked_mul(fan_in).ok_or_else(overflow)?;
        p = p.checked_add(layer).ok_or_else(overflow)?;
    }
    Ok(p)
}

/// Architecture and initialization of a network: the original uniform configuration
/// (σ_w = 1, σ_b = β, NTK parameterization). See [`Architecture`] for the general one.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// n_0 … n_L (at least two entries, all ≥ 1).
    pub widths: Vec<usize>,
    /// σ after every hidden layer.
    pub activation: Activation,
    /// β ≥ 0, finite.
    pub beta: f64,
    /// Seed of θ (the stream of [`crate::rng`]).
    pub seed: u64,
}

impl NetworkConfig {
    /// Checks the configuration and returns the parameter count P = Σ n_{l+1}(n_l + 1).
    ///
    /// # Errors
    /// `InvalidArgument` (fewer than two widths, a zero width, β < 0, a bad leaky slope), `NonFinite`
    /// (β, the slope), `Allocation` when P overflows `usize`.
    pub fn validate(&self) -> Result<usize> {
        if self.widths.len() < 2 {
            return invalid!(
                "widths: need at least 2 entries (n_0 and n_L), got {}",
                self.widths.len()
            );
        }
        if let Some(l) = self.widths.iter().position(|&w| w == 0) {
            return invalid!("widths[{l}] = 0: every layer needs at least one unit");
        }
        check_scale("beta", self.beta, Bound::NonNegative)?;
        check_activation("activation_param (leaky slope)", &self.activation)?;
        param_count(&self.widths)
    }

    /// The same network as an [`Architecture`]: σ_w = 1, σ_b = β, NTK parameterization.
    pub fn architecture(&self) -> Architecture {
        Architecture::uniform(
            self.widths.clone(),
            self.activation.clone(),
            1.0,
            self.beta,
            Parameterization::Ntk,
            self.seed,
        )
    }
}

/// Every layer of a forward pass of N points, for the backward pass.
#[derive(Clone, Debug)]
pub struct ForwardCache {
    /// Number of points N.
    pub n: usize,
    /// Pre-activations α̃^(1) … α̃^(L) (element l−1 is N × n_l, row-major).
    pub pre: Vec<Vec<f64>>,
    /// Activations α^(1) … α^(L−1) = σ(α̃^(l)) (element l−1 is N × n_l, row-major).
    pub post: Vec<Vec<f64>>,
}

impl ForwardCache {
    /// f_θ(X), N × n_L row-major.
    pub fn output(&self) -> &[f64] {
        self.pre.last().unwrap()
    }
}

/// A network with its parameters θ.
#[derive(Clone, Debug)]
pub struct Network {
    /// The original-style summary (widths, seed, the first hidden activation, σ_b of layer 0):
    /// exact only when [`Architecture::as_legacy`] is `Some`.
    config: NetworkConfig,
    arch: Architecture,
    /// θ, flat, in the documented order.
    params: Vec<f64>,
    /// Offset of W^(l) in `params`, for l = 0..L (offsets[L] = P).
    offsets: Vec<usize>,
    /// Per layer: the forward factors of W^(l) α and of b^(l) (see [`Architecture::weight_scale`]).
    wscale: Vec<f64>,
    bscale: Vec<f64>,
}

impl Network {
    /// Builds the network and draws θ from the seeded stream (σ_w = 1, σ_b = β, NTK).
    ///
    /// Cost: P normal draws (P = Σ n_{l+1}(n_l + 1)), 8·P bytes.
    ///
    /// # Errors
    /// As [`NetworkConfig::validate`], and `Allocation` when θ cannot be allocated.
    pub fn new(config: NetworkConfig) -> Result<Network> {
        config.validate()?;
        let arch = config.architecture();
        Network::build(config, arch)
    }

    /// Builds a network of any [`Architecture`] and draws θ: N(0, 1) per layer from its own
    /// stream (the same numbers as [`Network::new`] for the same widths and seed), then, in the
    /// standard parameterization, W^(l) scaled by σ_w^(l)/√n_l and b^(l) by σ_b^(l).
    ///
    /// # Errors
    /// As [`Architecture::validate`], and `Allocation` when θ cannot be allocated.
    pub fn with_architecture(arch: Architecture) -> Result<Network> {
        arch.validate()?;
        let depth = arch.depth();
        let config = NetworkConfig {
            widths: arch.widths.clone(),
            activation: if depth > 1 {
                arch.activation(0).clone()
            } else {
                Activation::Identity
            },
            beta: arch.layers[0].sigma_b,
            seed: arch.seed,
        };
        Network::build(config, arch)
    }

    fn build(config: NetworkConfig, arch: Architecture) -> Result<Network> {
        let p = arch.validate()?;
        let mut params = try_zeroed(p, "network parameters")?;
        let w = &arch.widths;
        let mut offsets = Vec::with_capacity(w.len());
        let mut off = 0;
        for l in 0..w.len() - 1 {
            offsets.push(off);
            off += w[l + 1] * (w[l] + 1);
        }
        offsets.push(off);
        for l in 0..w.len() - 1 {
            let mut rng = Rng::for_layer(arch.seed, l);
            let layer = &mut params[offsets[l]..offsets[l + 1]];
            rng.fill_normal(layer);
            if arch.parameterization == Parameterization::Standard {
                let (wpart, bpart) = layer.split_at_mut(w[l + 1] * w[l]);
                let sw = arch.layers[l].sigma_w / (w[l] as f64).sqrt();
                wpart.iter_mut().for_each(|v| *v *= sw);
                let sb = arch.layers[l].sigma_b;
                bpart.iter_mut().for_each(|v| *v *= sb);
            }
        }
        let wscale = (0..arch.depth()).map(|l| arch.weight_scale(l)).collect();
        let bscale = (0..arch.depth()).map(|l| arch.bias_scale(l)).collect();
        Ok(Network {
            config,
            arch,
            params,
            offsets,
            wscale,
            bscale,
        })
    }

    /// A copy of the network, with fallible allocation of the parameters.
    ///
    /// # Errors
    /// `Allocation` when the copy of θ cannot be had.
    pub fn try_clone(&self) -> Result<Network> {
        let mut params = try_zeroed(self.params.len(), "network parameters")?;
        params.copy_from_slice(&self.params);
        Ok(Network {
            config: self.config.clone(),
            arch: self.arch.clone(),
            params,
            offsets: self.offsets.clone(),
            wscale: self.wscale.clone(),
            bscale: self.bscale.clone(),
        })
    }

    /// The original-style summary; exact only for uniform σ_w = 1 NTK networks (see
    /// [`Network::architecture`] for the full description).
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }
    /// The full per-layer description.
    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }
    /// NTK or standard parameterization.
    pub fn parameterization(&self) -> Parameterization {
        self.arch.parameterization
    }
    /// The widths n_0 … n_L.
    pub fn widths(&self) -> &[usize] {
        &self.arch.widths
    }
    /// Number of weight layers L.
    pub fn depth(&self) -> usize {
        self.arch.widths.len() - 1
    }
    /// Input dimension n_0.
    pub fn input_dim(&self) -> usize {
        self.arch.widths[0]
    }
    /// Output dimension n_L.
    pub fn output_dim(&self) -> usize {
        *self.arch.widths.last().unwrap()
    }
    /// The activation after the first hidden layer (Identity when L = 1); per layer see
    /// [`Network::layer_activation`].
    pub fn activation(&self) -> &Activation {
        &self.config.activation
    }
    /// The activation σ_{l+1} applied to α̃^(l+1), after weight layer l < L−1.
    pub fn layer_activation(&self, l: usize) -> &Activation {
        self.arch.activation(l)
    }
    /// σ_b of layer 0 (β of the original configuration).
    pub fn beta(&self) -> f64 {
        self.config.beta
    }
    /// Factor of W^(l) α^(l) in α̃^(l+1): σ_w^(l)/√n_l (NTK) or 1 (standard).
    pub fn weight_scale(&self, l: usize) -> f64 {
        self.wscale[l]
    }
    /// Factor of b^(l) in α̃^(l+1): σ_b^(l) (NTK) or 1 (standard).
    pub fn bias_scale(&self, l: usize) -> f64 {
        self.bscale[l]
    }
    /// Total number of parameters P.
    pub fn num_params(&self) -> usize {
        self.params.len()
    }
    /// θ in the documented order.
    pub fn params(&self) -> &[f64] {
        &self.params
    }
    /// θ, mutable (for training).
    pub fn params_mut(&mut self) -> &mut [f64] {
        &mut self.params
    }
    /// Offset of W^(l) in θ (b^(l) follows it); `layer_offset(L)` = P.
    pub fn layer_offset(&self, l: usize) -> usize {
        self.offsets[l]
    }

    /// W^(l), an n_{l+1} × n_l view.
    pub fn weight(&self, l: usize) -> ArrayView2<'_, f64> {
        let (n_in, n_out) = (self.arch.widths[l], self.arch.widths[l + 1]);
        let o = self.offsets[l];
        ArrayView2::from_shape((n_out, n_in), &self.params[o..o + n_out * n_in]).unwrap()
    }

    /// b^(l), of length n_{l+1}.
    pub fn bias(&self, l: usize) -> ArrayView1<'_, f64> {
        let (n_in, n_out) = (self.arch.widths[l], self.arch.widths[l + 1]);
        let o = self.offsets[l] + n_out * n_in;
        ArrayView1::from(&self.params[o..o + n_out])
    }

    /// W^(l) and b^(l), mutable.
    pub fn layer_mut(&mut self, l: usize) -> (ArrayViewMut2<'_, f64>, ArrayViewMut1<'_, f64>) {
        let (n_in, n_out) = (self.arch.widths[l], self.arch.widths[l + 1]);
        let o = self.offsets[l];
        let (w, b) = self.params[o..o + n_out * (n_in + 1)].split_at_mut(n_out * n_in);
        (
            ArrayViewMut2::from_shape((n_out, n_in), w).unwrap(),
            ArrayViewMut1::from(b),
        )
    }

    /// W^(l) as a strided view (for GEMM).
    pub fn weight_view(&self, l: usize) -> MatRef<'_> {
        let (n_in, n_out) = (self.arch.widths[l], self.arch.widths[l + 1]);
        let o = self.offsets[l];
        MatRef::from_row_major(&self.params[o..o + n_out * n_in], n_out, n_in)
    }

    /// One dense layer on a batch: z = s_w · h W^(l)ᵀ + s_b · b^(l) for the rows h of `h`
    /// (N × n_l), written to `z` (N × n_{l+1}), with s_w = σ_w/√n_l, s_b = σ_b (NTK) or
    /// s_w = s_b = 1 (standard). Cost 2·N·n_l·n_{l+1} flops.
    pub fn dense_layer(&self, l: usize, h: MatRef<'_>, mut z: MatMut<'_>) {
        let beta = self.bscale[l];
        let b = self.bias(l);
        let scale = self.wscale[l];
        // GEMM with β_gemm = 0, then the bias: a point's result then does not depend on the
        // batch it is in (matrixmultiply rounds α·AB + C differently on the masked edge rows of a
        // batch, whose position depends on the batch), so any row subset of a batch gives the
        // same bits (kernel tiles and distributed row blocks rely on it).
        par_gemm(scale, h, self.weight_view(l).t(), 0.0, z.reborrow());
        for i in 0..z.rows() {
            for (j, bj) in b.iter().enumerate() {
                let v = z.at(i, j) + beta * bj;
                z.set(i, j, v);
            }
        }
    }

    /// Forward pass of a batch (rows of `x` are points, N × n_0), keeping every layer for the
    /// backward pass. Must run inside [`crate::parallel::install`] to use the library's threads.
    ///
    /// Cost: as [`Network::forward`], memory N·Σ_l n_l doubles.
    ///
    /// # Errors
    /// As [`Network::forward`] (columns, `NonFinite` input, `Allocation`).
    pub fn forward_cache(&self, x: MatRef<'_>) -> Result<ForwardCache> {
        self.check_input(x, "x")?;
        let n = x.rows();
        let w = &self.arch.widths;
        let depth = self.depth();
        let mut pre: Vec<Vec<f64>> = Vec::with_capacity(depth);
        let mut post: Vec<Vec<f64>> = Vec::with_capacity(depth.saturating_sub(1));
        for l in 0..depth {
            let mut z = try_zeroed(checked_mul(n, w[l + 1], "layer output")?, "layer output")?;
            {
                let h = if l == 0 {
                    x
                } else {
                    MatRef::from_row_major(&post[l - 1], n, w[l])
                };
                self.dense_layer(l, h, MatMut::from_row_major(&mut z, n, w[l + 1]));
            }
            if l + 1 < depth {
                let mut a = try_zeroed(z.len(), "layer activation")?;
                a.copy_from_slice(&z);
                self.arch.activation(l).apply_slice(&mut a, None);
                post.push(a);
            }
            pre.push(z);
        }
        Ok(ForwardCache { n, pre, post })
    }

    /// Backward pass: for cotangents `cot` on the outputs (N × n_L), returns δ^(l) = ∂(Σ_i cot_i ·
    /// f(x_i)) / ∂α̃^(l) for l = 1 … L (element l−1, each N × n_l row-major):
    ///   δ^(L) = cot,  δ^(l) = s_w^(l) (δ^(l+1) W^(l)) ⊙ σ_l′(α̃^(l))  (s_w: [`Network::weight_scale`]).
    /// Cost 2·N·Σ n_l n_{l+1} flops. Must run inside [`crate::parallel::install`].
    ///
    /// # Errors
    /// `InvalidArgument` when `cot` is not N × n_L, `Allocation`.
    pub fn backward_deltas(&self, cache: &ForwardCache, cot: MatRef<'_>) -> Result<Vec<Vec<f64>>> {
        let n = cache.n;
        let w = &self.arch.widths;
        let depth = self.depth();
        assert_eq!(
            (cot.rows(), cot.cols()),
            (n, self.output_dim()),
            "backward: cotangent shape"
        );
        let mut deltas: Vec<Vec<f64>> = vec![Vec::new(); depth];
        let mut top = try_zeroed(checked_mul(n, w[depth], "cotangent")?, "cotangent")?;
        MatMut::from_row_major(&mut top, n, w[depth]).copy_from(cot);
        deltas[depth - 1] = top;
        for l in (1..depth).rev() {
            let mut g = try_zeroed(checked_mul(n, w[l], "delta")?, "delta")?;
            par_gemm(
                self.wscale[l],
                MatRef::from_row_major(&deltas[l], n, w[l + 1]),
                self.weight_view(l),
                0.0,
                MatMut::from_row_major(&mut g, n, w[l]),
            );
            let act = self.arch.activation(l - 1);
            for (gi, zi) in g.iter_mut().zip(&cache.pre[l - 1]) {
                *gi *= act.dsigma(*zi);
            }
            deltas[l - 1] = g;
        }
        Ok(deltas)
    }

    /// Gradient of Σ_i cot_i · f(x_i) with respect to θ (length P, in the documented order), from
    /// the deltas of [`Network::backward_deltas`]:
    ///   ∂/∂W^(l) = s_w^(l) δ^(l+1)ᵀ α^(l),  ∂/∂b^(l) = s_b^(l) Σ_i δ^(l+1)_i.
    pub fn param_gradient(
        &self,
        x: MatRef<'_>,
        cache: &ForwardCache,
        deltas: &[Vec<f64>],
        grad: &mut [f64],
    ) {
        let n = cache.n;
        let w = &self.arch.widths;
        assert_eq!(grad.len(), self.num_params());
        for l in 0..self.depth() {
            let (n_in, n_out) = (w[l], w[l + 1]);
            let o = self.offsets[l];
            let (gw, rest) = grad[o..].split_at_mut(n_out * n_in);
            let h = if l == 0 {
                x
            } else {
                MatRef::from_row_major(&cache.post[l - 1], n, n_in)
            };
            let d = MatRef::from_row_major(&deltas[l], n, n_out);
            par_gemm(
                self.wscale[l],
                d.t(),
                h,
                0.0,
                MatMut::from_row_major(gw, n_out, n_in),
            );
            let gb = &mut rest[..n_out];
            gb.fill(0.0);
            for i in 0..n {
                for (k, g) in gb.iter_mut().enumerate() {
                    *g += self.bscale[l] * deltas[l][i * n_out + k];
                }
            }
        }
    }

    /// f_θ(X) for the rows of `x` (N × n_0), written into `out` (N × n_L): layer by layer
    /// α̃^(l+1) = σ_w W^(l) α^(l) / √n_l + σ_b b^(l) (NTK parameterization; W α + b in the
    /// standard one), α^(l) = σ(α̃^(l)), f = α̃^(L).
    ///
    /// Cost: one GEMM per layer, 2·N·Σ_l n_l·n_{l+1} flops, on the library pool (bits
    /// independent of the thread count).
    ///
    /// # Errors
    /// `InvalidArgument` when `x` does not have n_0 columns or `out` is not N × n_L, `NonFinite`
    /// for NaN/±Inf in `x`, `Numerical` when an output overflows, `Allocation`. `out` is written
    /// only on success.
    ///
    /// ```
    /// use ntk::{Activation, MatMut, MatRef, Network, NetworkConfig};
    ///
    /// // L = 1 (no hidden layer): f(x) = w·x/√2 + β b is affine, so f(a + c) − f(c) = f(a) − f(0).
    /// let net = Network::new(NetworkConfig { widths: vec![2, 1], activation: Activation::Relu, beta: 0.5, seed: 3 })?;
    /// let x = [0.0, 0.0, 1.0, -2.0, 0.5, 0.25, 1.5, -1.75]; // 0, a, c, a + c
    /// let mut f = [0.0; 4];
    /// net.forward(MatRef::from_row_major(&x, 4, 2), MatMut::from_row_major(&mut f, 4, 1))?;
    /// assert!(((f[3] - f[2]) - (f[1] - f[0])).abs() < 1e-14);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn forward(&self, x: MatRef<'_>, mut out: MatMut<'_>) -> Result<()> {
        if out.rows() != x.rows() || out.cols() != self.output_dim() {
            return invalid!(
                "out is {}x{}, expected {}x{} (N x n_L)",
                out.rows(),
                out.cols(),
                x.rows(),
                self.output_dim()
            );
        }
        let cache = crate::parallel::install(|| self.forward_cache(x))??;
        let f = cache.output();
        out.copy_from(MatRef::from_row_major(f, x.rows(), self.output_dim()));
        Ok(())
    }

    /// Checks that `x` has n_0 columns and finite entries.
    pub(crate) fn check_input(&self, x: MatRef<'_>, name: &str) -> Result<()> {
        if x.cols() != self.input_dim() {
            return invalid!(
                "{name} has {} columns, the network's input dimension n_0 is {}",
                x.cols(),
                self.input_dim()
            );
        }
        check_finite(x, name)
    }
}

/// Kept at its old path (limit kernels and the C API use it); defined in [`crate::linalg::finite`].
pub(crate) use crate::linalg::finite::check_finite;

#[cfg(test)]
mod tests {
    use super::*;

    fn small(act: Activation) -> Network {
        Network::new(NetworkConfig {
            widths: vec![3, 5, 4, 2],
            activation: act,
            beta: 0.3,
            seed: 7,
        })
        .unwrap()
    }

    /// The forward pass written out with scalar loops, from the formula.
    fn naive_forward(net: &Network, x: &[f64]) -> Vec<f64> {
        let mut a = x.to_vec();
        for l in 0..net.depth() {
            let w = net.weight(l);
            let b = net.bias(l);
            let n_in = a.len() as f64;
            let mut z: Vec<f64> = (0..w.nrows())
                .map(|i| {
                    (0..w.ncols()).map(|j| w[[i, j]] * a[j]).sum::<f64>() / n_in.sqrt()
                        + net.beta() * b[i]
                })
                .collect();
            if l + 1 < net.depth() {
                z.iter_mut().for_each(|v| *v = net.activation().sigma(*v));
            }
            a = z;
        }
        a
    }

    #[test]
    fn forward_matches_formula() {
        let net = small(Activation::Tanh);
        let x = [0.3, -1.2, 0.8, 1.5, 0.1, -0.4];
        let mut out = vec![0.0; 4];
        net.forward(
            MatRef::from_row_major(&x, 2, 3),
            MatMut::from_row_major(&mut out, 2, 2),
        )
        .unwrap();
        for i in 0..2 {
            let r = naive_forward(&net, &x[3 * i..3 * i + 3]);
            for k in 0..2 {
                assert!((out[2 * i + k] - r[k]).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn gradient_matches_central_differences() {
        let mut net = small(Activation::Tanh);
        let x = [0.3, -1.2, 0.8, 1.5, 0.1, -0.4];
        let xv = MatRef::from_row_major(&x, 2, 3);
        let cot = [0.7, -1.1, 0.4, 2.0];
        let objective = |net: &Network| {
            let mut out = vec![0.0; 4];
            net.forward(xv, MatMut::from_row_major(&mut out, 2, 2))
                .unwrap();
            out.iter().zip(&cot).map(|(a, b)| a * b).sum::<f64>()
        };
        let cache = net.forward_cache(xv).unwrap();
        let deltas = net
            .backward_deltas(&cache, MatRef::from_row_major(&cot, 2, 2))
            .unwrap();
        let mut grad = vec![0.0; net.num_params()];
        net.param_gradient(xv, &cache, &deltas, &mut grad);
        let h = 1e-6;
        for p in 0..net.num_params() {
            let orig = net.params()[p];
            net.params_mut()[p] = orig + h;
            let up = objective(&net);
            net.params_mut()[p] = orig - h;
            let down = objective(&net);
            net.params_mut()[p] = orig;
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - grad[p]).abs() < 1e-8 * (1.0 + fd.abs()),
                "param {p}: {fd} vs {}",
                grad[p]
            );
        }
    }

    #[test]
    fn same_seed_same_params_and_layer_streams_independent() {
        let a = small(Activation::Relu);
        let b = small(Activation::Relu);
        assert_eq!(a.params(), b.params());
        // Changing a later width leaves the first layer's draw unchanged.
        let c = Network::new(NetworkConfig {
            widths: vec![3, 5, 9, 2],
            activation: Activation::Relu,
            beta: 0.3,
            seed: 7,
        })
        .unwrap();
        assert_eq!(a.params()[..20], c.params()[..20]);
    }

    #[test]
    fn rejects_bad_configs() {
        let bad = |widths: Vec<usize>, beta: f64| {
            Network::new(NetworkConfig {
                widths,
                activation: Activation::Relu,
                beta,
                seed: 0,
            })
            .is_err()
        };
        assert!(bad(vec![3], 0.1));
        assert!(bad(vec![3, 0, 1], 0.1));
        assert!(bad(vec![3, 1], -1.0));
        assert!(bad(vec![3, 1], f64::NAN));
        assert!(bad(vec![usize::MAX, usize::MAX, 1], 0.1));
    }

    #[test]
    fn uniform_architecture_is_the_original_configuration_to_the_bit() {
        let old = small(Activation::Tanh);
        let arch = Architecture::uniform(
            vec![3, 5, 4, 2],
            Activation::Tanh,
            1.0,
            0.3,
            Parameterization::Ntk,
            7,
        );
        assert!(arch.as_legacy().is_some());
        let new = Network::with_architecture(arch).unwrap();
        assert_eq!(old.params(), new.params());
        let x = [0.3, -1.2, 0.8, 1.5, 0.1, -0.4];
        let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 4]);
        old.forward(
            MatRef::from_row_major(&x, 2, 3),
            MatMut::from_row_major(&mut a, 2, 2),
        )
        .unwrap();
        new.forward(
            MatRef::from_row_major(&x, 2, 3),
            MatMut::from_row_major(&mut b, 2, 2),
        )
        .unwrap();
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn standard_parameterization_scales_the_same_draws() {
        let mut arch = Architecture::uniform(
            vec![3, 5, 2],
            Activation::Relu,
            1.7,
            0.4,
            Parameterization::Standard,
            9,
        );
        arch.layers[1].sigma_w = 0.6;
        let std = Network::with_architecture(arch).unwrap();
        let unit = Network::new(NetworkConfig {
            widths: vec![3, 5, 2],
            activation: Activation::Relu,
            beta: 1.0,
            seed: 9,
        })
        .unwrap();
        for l in 0..2 {
            let sw = [1.7, 0.6][l] / ([3.0f64, 5.0][l]).sqrt();
            for (a, b) in std.weight(l).iter().zip(unit.weight(l).iter()) {
                assert_eq!(*a, b * sw);
            }
            for (a, b) in std.bias(l).iter().zip(unit.bias(l).iter()) {
                assert_eq!(*a, b * 0.4);
            }
        }
    }

    #[test]
    fn per_layer_errors_name_the_layer_and_field() {
        let base = || {
            Architecture::uniform(
                vec![3, 4, 4, 1],
                Activation::Erf,
                1.0,
                0.1,
                Parameterization::Ntk,
                0,
            )
        };
        let msg = |a: Architecture| Network::with_architecture(a).unwrap_err().to_string();
        let mut a = base();
        a.layers[2].sigma_w = 0.0;
        assert!(msg(a).contains("layers[2].sigma_w"));
        let mut a = base();
        a.layers[1].sigma_b = f64::NAN;
        assert!(msg(a).contains("layers[1].sigma_b"));
        let mut a = base();
        a.layers[0].sigma_b = -1.0;
        assert!(msg(a).contains("layers[0].sigma_b"));
        let mut a = base();
        a.layers[2].activation = Some(Activation::Relu);
        assert!(msg(a).contains("layers[2].activation"));
        let mut a = base();
        a.layers[1].activation = None;
        assert!(msg(a).contains("layers[1].activation"));
        let mut a = base();
        a.layers.pop();
        assert!(msg(a).contains("layers: 2 entries for 3 weight layers"));
    }
}
