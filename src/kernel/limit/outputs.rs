//! The output views of the limit kernels: one type for the whole kernel ([`super::limit_kernel`])
//! and for one block ([`super::LimitPlan::compute_block`]).

use crate::linalg::MatMut;

/// Output views of [`super::limit_kernel`] (each N1×N2; at least one present) and of
/// [`super::LimitPlan::compute_block`] (each (i1−i0)×(j1−j0)): any subset of Σ^(L), Σ̇^(L), Θ^(L).
pub struct LimitOutputs<'o> {
    /// Σ^(L), the NNGP kernel.
    pub nngp: Option<MatMut<'o>>,
    /// Σ̇^(L), the derivative kernel (all zeros when L = 1).
    pub sigma_dot: Option<MatMut<'o>>,
    /// Θ^(L)_∞, the neural tangent kernel.
    pub ntk: Option<MatMut<'o>>,
}

/// The block outputs of [`super::LimitPlan::compute_block`]: the same type as [`LimitOutputs`]
/// (kept at its old name).
pub type BlockOutputs<'o> = LimitOutputs<'o>;
