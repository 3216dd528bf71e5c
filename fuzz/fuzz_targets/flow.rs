//! libFuzzer target: see fuzz/harness/flow.rs (fuzz_flow) for what is generated and asserted.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::fuzz_flow(data);
});
