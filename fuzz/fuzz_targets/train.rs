//! libFuzzer target: see fuzz/harness/train.rs (fuzz_train) for what is generated and asserted.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::fuzz_train(data);
});
