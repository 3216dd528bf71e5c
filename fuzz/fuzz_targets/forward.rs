//! libFuzzer target: see fuzz/harness/forward.rs (fuzz_forward) for what is generated and asserted.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::fuzz_forward(data);
});
