//! Infinite-width kernels.
pub mod fastmath;
