//! `ntk`: Neural Tangent Kernels (Jacot, Gabriel & Hongler 2018) as a native library.
//!
//! The pure-Rust core is organised by concept:
//! - [`activation`]: nonlinearities σ with their derivatives σ′, including user-supplied pairs;
//! - [`rng`]: the documented, platform-independent parameter stream;
//! - [`network`]: the fully connected network in NTK parameterization and its forward pass;
//! - [`linalg`]: strided matrix views and the GEMM wrapper (on `matrixmultiply`);
//! - [`parallel`]: the thread pool and the deterministic tiled work loop with progress/cancel;
//! - [`kernel`]: infinite-width (limit) and finite-width (empirical) kernels.
//!
//! The `extern "C"` layer lives in [`ffi`] and only converts and checks.

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
pub mod solve;
pub mod spectrum;
pub mod train;

pub use error::{Error, Result};

/// The header cbindgen generated for this build (compared with `include/ntk.h` by a test).
#[doc(hidden)]
pub const GENERATED_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/ntk.h"));
