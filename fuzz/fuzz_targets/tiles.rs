//! libFuzzer target: see fuzz/harness/tiles.rs (fuzz_tiles) for what is generated and asserted.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::fuzz_tiles(data);
});
