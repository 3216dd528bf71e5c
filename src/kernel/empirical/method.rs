//! Flop counts of the two methods and the AUTO choice.
//!
//! With F = N1 + N2 points in the batches (N when X2 = X1), s = 1/2 in the symmetric case (one
//! block-triangle) and 1 otherwise, k = n_L in trace mode and n_L² in full mode,
//! H = Σ_{l=1}^{L−1} n_l (hidden widths), A = Σ_{l=0}^{L−1} n_l (layer inputs) and
//! P = Σ_l n_{l+1}(n_l + 1):
//!
//! - shared by both (forward + n_L backward passes):
//!   `C_pass = 2·F·Σ_l n_l n_{l+1} + 2·F·n_L·Σ_{l=1}^{L−1} n_l n_{l+1}`;
//! - structured: `C_S = C_pass + 2·s·N1·N2·(A + k·H) + 2·s·N1·N2·k·L`
//!   (one Gram of the layer inputs and one of the cotangents per layer, plus the Hadamard
//!   products);
//! - Jacobian contraction: `C_J = C_pass + F·n_L·P + 2·s·N1·N2·k·P`
//!   (building J, then J1·J2ᵀ; only the trace-mode k = n_L concatenation of outputs is shared).
//!
//! Since P ≥ A + H for every architecture, the structured form wins except for very small widths
//! where its per-layer Hadamard term dominates; AUTO picks the smaller count (ties → structured).

use super::{KernelMethod, KernelMode};
use crate::network::Network;

/// Estimated flops of both methods.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlopCount {
    /// Flops of the structured per-layer form.
    pub structured: f64,
    /// Flops of the Jacobian contraction J₁·J₂ᵀ.
    pub contraction: f64,
}

/// The flop counts of the module documentation.
pub fn flop_count(
    net: &Network,
    n1: usize,
    n2: usize,
    symmetric: bool,
    mode: KernelMode,
) -> FlopCount {
    let w: Vec<f64> = net.widths().iter().map(|&v| v as f64).collect();
    let depth = net.depth();
    let n_out = w[depth];
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let f = if symmetric { n1f } else { n1f + n2f };
    let s = if symmetric { 0.5 } else { 1.0 };
    let k = match mode {
        KernelMode::Trace => n_out,
        KernelMode::Full => n_out * n_out,
    };
    let fwd: f64 = (0..depth).map(|l| w[l] * w[l + 1]).sum();
    let bwd: f64 = (1..depth).map(|l| w[l] * w[l + 1]).sum();
    let pass = 2.0 * f * fwd + 2.0 * f * n_out * bwd;
    let a: f64 = (0..depth).map(|l| w[l]).sum();
    let h: f64 = (1..depth).map(|l| w[l]).sum();
    let p = net.num_params() as f64;
    let pairs = 2.0 * s * n1f * n2f;
    FlopCount {
        structured: pass + pairs * (a + k * h) + pairs * k * depth as f64,
        contraction: pass + f * n_out * p + pairs * k * p,
    }
}

/// Resolves [`KernelMethod::Auto`] by [`flop_count`]; other methods are returned unchanged.
pub fn choose_method(
    net: &Network,
    n1: usize,
    n2: usize,
    symmetric: bool,
    mode: KernelMode,
    method: KernelMethod,
) -> KernelMethod {
    match method {
        KernelMethod::Auto => {
            let c = flop_count(net, n1, n2, symmetric, mode);
            if c.contraction < c.structured {
                KernelMethod::JacobianContraction
            } else {
                KernelMethod::Structured
            }
        }
        m => m,
    }
}
