//! libFuzzer target: see fuzz/harness/empirical.rs (fuzz_empirical) for what is generated and asserted.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::fuzz_empirical(data);
});
