//! Kernels of the network: infinite-width limits and finite-width (empirical) tangent kernels.
pub mod empirical;
pub(crate) mod hash;
pub mod limit;
