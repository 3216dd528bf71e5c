//! Fuzz harness shared by the cargo-fuzz targets (fuzz/fuzz_targets/*.rs) and by the replay of
//! kept inputs in tests/reliability_regressions.rs (which runs without libFuzzer).
//!
//! Each target decodes the fuzzer's bytes into a network configuration, matrix shapes, strides
//! (row-major, column-major, negative, zero, padded, overflowing) and values (NaN, ±Inf, huge,
//! denormal, ordinary), calls the `extern "C"` functions with buffers sized to the views, and
//! asserts the C API contract:
//! - no panic escapes: the status is never `NTK_STATUS_INTERNAL`;
//! - success clears the last error, failure sets a non-empty message;
//! - on success every element of the output view is finite and nothing outside the view (padding
//!   of the buffer) is written;
//! - on failure (other than CANCELLED) the whole output buffer is untouched;
//! - inputs are never modified;
//! - after a CANCELLED call the same handle gives the same bits as an uncancelled call.
//!
//! One module per target (fuzz/harness/<target>.rs, each `fuzz_<target>`), on the shared decoders
//! and checks of `common`. Every item is re-exported here, so that `harness::fuzz_<target>` and
//! the shared helpers are reached through this file alone.
#![allow(dead_code)]

#[path = "harness/common.rs"]
mod common;
#[path = "harness/empirical.rs"]
mod empirical;
#[path = "harness/flow.rs"]
mod flow;
#[path = "harness/forward.rs"]
mod forward;
#[path = "harness/jacobian.rs"]
mod jacobian;
#[path = "harness/limit.rs"]
mod limit;
#[path = "harness/spectrum.rs"]
mod spectrum;
#[path = "harness/tiles.rs"]
mod tiles;
#[path = "harness/train.rs"]
mod train;

// Each includer (one fuzz target, or the replay test) uses only some of these.
#[allow(unused_imports)]
pub use {
    common::*, empirical::*, flow::*, forward::*, jacobian::*, limit::*, spectrum::*, tiles::*,
    train::*,
};
