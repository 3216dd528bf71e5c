//! The fully connected network of Jacot et al. (2018), section 1, in NTK parameterization.
//!
//! Layers n_0 (input) … n_L (output), L ≥ 1 weight layers:
//!   α̃^(l+1) = W^(l) α^(l) / √n_l + β b^(l),  α^(l) = σ(α̃^(l)),  α^(0) = x,  f_θ(x) = α̃^(L)(x).
//! W^(l) ∈ R^{n_{l+1}×n_l} and b^(l) ∈ R^{n_{l+1}} are drawn i.i.d. N(0, 1).
//!
//! # Parameter ordering
//! θ is stored as one flat vector, layer by layer: W^(0) in row-major order, then b^(0), then
//! W^(1), b^(1), …, W^(L−1), b^(L−1). This is also the order of the columns of the parameter
//! Jacobian and the order in which the generator stream of [`crate::rng`] produces the values
//! (each layer from its own stream, see [`Rng::for_layer`]).

use crate::activation::Activation;
use crate::error::{checked_mul, try_zeroed};
use crate::linalg::{par_gemm, MatMut, MatRef};
use crate::rng::Rng;
use crate::{invalid, Result};
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};

/// Architecture and initialization of a network.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// n_0 … n_L (at least two entries, all ≥ 1).
    pub widths: Vec<usize>,
    pub activation: Activation,
    /// β ≥ 0, finite.
    pub beta: f64,
    pub seed: u64,
}

impl NetworkConfig {
    /// Checks the configuration and returns the parameter count P = Σ n_{l+1}(n_l + 1).
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
        if !self.beta.is_finite() || self.beta < 0.0 {
            return invalid!("beta = {}: must be finite and >= 0", self.beta);
        }
        if let Activation::LeakyRelu(a) = self.activation {
            if !a.is_finite() {
                return invalid!("activation_param (leaky slope) = {a}: must be finite");
            }
        }
        let mut p = 0usize;
        for l in 0..self.widths.len() - 1 {
            let overflow = || {
                crate::Error::Allocation(format!(
                    "widths: the parameter count overflows at layer {l} (widths[{l}] = {}, widths[{}] = {})",
                    self.widths[l],
                    l + 1,
                    self.widths[l + 1]
                ))
            };
            let fan_in = self.widths[l].checked_add(1).ok_or_else(overflow)?;
            let layer = self.widths[l + 1]
                .checked_mul(fan_in)
                .ok_or_else(overflow)?;
            p = p.checked_add(layer).ok_or_else(overflow)?;
        }
        Ok(p)
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
    config: NetworkConfig,
    /// θ, flat, in the documented order.
    params: Vec<f64>,
    /// Offset of W^(l) in `params`, for l = 0..L (offsets[L] = P).
    offsets: Vec<usize>,
}

impl Network {
    /// Builds the network and draws θ from the seeded stream.
    pub fn new(config: NetworkConfig) -> Result<Network> {
        let p = config.validate()?;
        let mut params = try_zeroed(p, "network parameters")?;
        let w = &config.widths;
        let mut offsets = Vec::with_capacity(w.len());
        let mut off = 0;
        for l in 0..w.len() - 1 {
            offsets.push(off);
            off += w[l + 1] * (w[l] + 1);
        }
        offsets.push(off);
        for l in 0..w.len() - 1 {
            let mut rng = Rng::for_layer(config.seed, l);
            rng.fill_normal(&mut params[offsets[l]..offsets[l + 1]]);
        }
        Ok(Network {
            config,
            params,
            offsets,
        })
    }

    /// A copy of the network, with fallible allocation of the parameters.
    pub fn try_clone(&self) -> Result<Network> {
        let mut params = try_zeroed(self.params.len(), "network parameters")?;
        params.copy_from_slice(&self.params);
        Ok(Network {
            config: self.config.clone(),
            params,
            offsets: self.offsets.clone(),
        })
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }
    pub fn widths(&self) -> &[usize] {
        &self.config.widths
    }
    /// Number of weight layers L.
    pub fn depth(&self) -> usize {
        self.config.widths.len() - 1
    }
    pub fn input_dim(&self) -> usize {
        self.config.widths[0]
    }
    pub fn output_dim(&self) -> usize {
        *self.config.widths.last().unwrap()
    }
    pub fn activation(&self) -> &Activation {
        &self.config.activation
    }
    pub fn beta(&self) -> f64 {
        self.config.beta
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
        let (n_in, n_out) = (self.config.widths[l], self.config.widths[l + 1]);
        let o = self.offsets[l];
        ArrayView2::from_shape((n_out, n_in), &self.params[o..o + n_out * n_in]).unwrap()
    }

    /// b^(l), of length n_{l+1}.
    pub fn bias(&self, l: usize) -> ArrayView1<'_, f64> {
        let (n_in, n_out) = (self.config.widths[l], self.config.widths[l + 1]);
        let o = self.offsets[l] + n_out * n_in;
        ArrayView1::from(&self.params[o..o + n_out])
    }

    /// W^(l) and b^(l), mutable.
    pub fn layer_mut(&mut self, l: usize) -> (ArrayViewMut2<'_, f64>, ArrayViewMut1<'_, f64>) {
        let (n_in, n_out) = (self.config.widths[l], self.config.widths[l + 1]);
        let o = self.offsets[l];
        let (w, b) = self.params[o..o + n_out * (n_in + 1)].split_at_mut(n_out * n_in);
        (
            ArrayViewMut2::from_shape((n_out, n_in), w).unwrap(),
            ArrayViewMut1::from(b),
        )
    }

    /// W^(l) as a strided view (for GEMM).
    pub fn weight_view(&self, l: usize) -> MatRef<'_> {
        let (n_in, n_out) = (self.config.widths[l], self.config.widths[l + 1]);
        let o = self.offsets[l];
        MatRef::from_row_major(&self.params[o..o + n_out * n_in], n_out, n_in)
    }

    /// One dense layer on a batch: z = h W^(l)ᵀ / √n_l + β b^(l) for the rows h of `h`
    /// (N × n_l), written to `z` (N × n_{l+1}). Cost 2·N·n_l·n_{l+1} flops.
    pub fn dense_layer(&self, l: usize, h: MatRef<'_>, mut z: MatMut<'_>) {
        let n_in = self.config.widths[l];
        let beta = self.config.beta;
        let b = self.bias(l);
        let scale = 1.0 / (n_in as f64).sqrt();
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
    pub fn forward_cache(&self, x: MatRef<'_>) -> Result<ForwardCache> {
        self.check_input(x, "x")?;
        let n = x.rows();
        let w = &self.config.widths;
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
                self.config.activation.apply_slice(&mut a, None);
                post.push(a);
            }
            pre.push(z);
        }
        Ok(ForwardCache { n, pre, post })
    }

    /// Backward pass: for cotangents `cot` on the outputs (N × n_L), returns δ^(l) = ∂(Σ_i cot_i ·
    /// f(x_i)) / ∂α̃^(l) for l = 1 … L (element l−1, each N × n_l row-major):
    ///   δ^(L) = cot,  δ^(l) = (δ^(l+1) W^(l) / √n_l) ⊙ σ′(α̃^(l)).
    /// Cost 2·N·Σ n_l n_{l+1} flops. Must run inside [`crate::parallel::install`].
    pub fn backward_deltas(&self, cache: &ForwardCache, cot: MatRef<'_>) -> Result<Vec<Vec<f64>>> {
        let n = cache.n;
        let w = &self.config.widths;
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
                1.0 / (w[l] as f64).sqrt(),
                MatRef::from_row_major(&deltas[l], n, w[l + 1]),
                self.weight_view(l),
                0.0,
                MatMut::from_row_major(&mut g, n, w[l]),
            );
            let act = &self.config.activation;
            for (gi, zi) in g.iter_mut().zip(&cache.pre[l - 1]) {
                *gi *= act.dsigma(*zi);
            }
            deltas[l - 1] = g;
        }
        Ok(deltas)
    }

    /// Gradient of Σ_i cot_i · f(x_i) with respect to θ (length P, in the documented order), from
    /// the deltas of [`Network::backward_deltas`]:
    ///   ∂/∂W^(l) = δ^(l+1)ᵀ α^(l) / √n_l,  ∂/∂b^(l) = β Σ_i δ^(l+1)_i.
    pub fn param_gradient(
        &self,
        x: MatRef<'_>,
        cache: &ForwardCache,
        deltas: &[Vec<f64>],
        grad: &mut [f64],
    ) {
        let n = cache.n;
        let w = &self.config.widths;
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
                1.0 / (n_in as f64).sqrt(),
                d.t(),
                h,
                0.0,
                MatMut::from_row_major(gw, n_out, n_in),
            );
            let gb = &mut rest[..n_out];
            gb.fill(0.0);
            for i in 0..n {
                for (k, g) in gb.iter_mut().enumerate() {
                    *g += self.config.beta * deltas[l][i * n_out + k];
                }
            }
        }
    }

    /// f_θ(X) for the rows of `x` (N × n_0), written into `out` (N × n_L).
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
        let cache = crate::parallel::install(|| self.forward_cache(x))?;
        let f = cache.output();
        out.copy_from(MatRef::from_row_major(f, x.rows(), self.output_dim()));
        Ok(())
    }

    /// Checks that `x` has n_0 columns and finite entries.
    pub fn check_input(&self, x: MatRef<'_>, name: &str) -> Result<()> {
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

/// Fails with `NonFinite` naming the first NaN/Inf entry of `x`.
pub fn check_finite(x: MatRef<'_>, name: &str) -> Result<()> {
    for i in 0..x.rows() {
        for j in 0..x.cols() {
            let v = x.at(i, j);
            if !v.is_finite() {
                return Err(crate::Error::NonFinite(format!("{name}[{i},{j}] = {v}")));
            }
        }
    }
    Ok(())
}

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
}
