//! Replays the fuzz inputs kept in fuzz/regressions/<target>/ through the same harness the
//! libFuzzer targets use (fuzz/harness.rs), without libFuzzer, so every input that ever crashed
//! or was chosen as a seed stays a regression test in `cargo test`.
//!
//! `corpus_replay` replays NTK_FUZZ_CORPUS=<dir containing forward/, empirical/, ..., tiles/>
//! (e.g. fuzz/corpus) when it is set, the committed fuzz/regressions otherwise, and prints how
//! often each status was returned; a corpus with no input fails it.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Target = fn(&[u8]) -> Option<ntk::ffi::ntk_status>;

const TARGETS: [(&str, Target); 8] = [
    ("forward", harness::fuzz_forward),
    ("empirical", harness::fuzz_empirical),
    ("jacobian", harness::fuzz_jacobian),
    ("flow", harness::fuzz_flow),
    ("spectrum", harness::fuzz_spectrum),
    ("train", harness::fuzz_train),
    ("limit", harness::fuzz_limit),
    ("tiles", harness::fuzz_tiles),
];

fn replay(dir: &Path, f: Target) -> (usize, BTreeMap<String, usize>) {
    let mut hist = BTreeMap::new();
    let mut n = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, hist);
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for file in files.iter().filter(|p| p.is_file()) {
        if file.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = std::fs::read(file).unwrap();
        if std::env::var_os("NTK_FUZZ_LIST").is_some() {
            println!("START {}", file.display());
        }
        let st = f(&data);
        if std::env::var_os("NTK_FUZZ_LIST").is_some() {
            println!("STATUS {st:?} {}", file.display());
        }
        n += 1;
        *hist
            .entry(st.map_or("network rejected".into(), |s| format!("{s:?}")))
            .or_default() += 1;
    }
    (n, hist)
}

/// Replays every target's directory under `root`, printing the status histograms; returns the
/// number of inputs per target.
fn replay_all(root: &Path) -> Vec<(&'static str, usize)> {
    TARGETS
        .iter()
        .map(|&(name, f)| {
            let (n, hist) = replay(&root.join(name), f);
            println!("{name}: {n} inputs, {hist:?}");
            (name, n)
        })
        .collect()
}

#[test]
fn kept_fuzz_inputs_replay_cleanly() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for (name, n) in replay_all(&root) {
        assert!(n > 0, "no kept inputs under {}/{name}", root.display());
    }
}

/// Replays `NTK_FUZZ_CORPUS` when it is set (e.g. `fuzz/corpus` after `scripts/fuzz-smoke.sh`,
/// or `fuzz/known-slow`), and otherwise the committed corpus `fuzz/regressions`, so that the test
/// always replays something: a corpus that holds no input at all fails it.
#[test]
fn corpus_replay() {
    let dir = std::env::var_os("NTK_FUZZ_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions"),
        PathBuf::from,
    );
    let total: usize = replay_all(&dir).iter().map(|&(_, n)| n).sum();
    assert!(total > 0, "no fuzz inputs under {}", dir.display());
}

use ntk::ffi::ntk_status as S;

/// A network input for the harness's `make_network`: widths [2, 3] (count byte 3 → 2 + 3 % 3;
/// each width `size`: byte 5 → 1 + next % 5), activation code 0, parameter 1.0 (byte ≥ 8, then
/// (160 − 128) / 32), β = 64/128, the tanh pair for custom slots, a non-NULL widths pointer,
/// seed 0.
const NET_2_3: [u8; 20] = [
    3, 5, 1, 5, 2, 0, 8, 160, 2, 64, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// A forward-pass input after `NET_2_3`: N = 3 (bytes 1, 2), X of shape `x_shape` (3 → 3×2,
/// 0 → 4×2) row-major with one padding element, filled with the value bytes `v` (≥ 8 then k:
/// (k − 128) / 32; a byte < 8 then 0: NaN), Y 3×3 row-major padded, then the NULL selector.
fn forward_input(x_shape: u8, v: [u8; 2], nulls: u8) -> Vec<u8> {
    let mut b = NET_2_3.to_vec();
    b.extend([1, 2, x_shape, 9, 0, 1, 1]);
    // shape_near: byte 0 → one row more than N, any other byte < 16 → N rows.
    let values = if x_shape % 16 == 0 { 8 } else { 6 };
    for k in 0..values {
        b.extend([v[0], v[1].wrapping_add(k)]);
    }
    b.extend([3, 9, 1, 1, 1, nulls]);
    b
}

/// Hand-written inputs for paths the fuzzer must keep covering (each decoded by fuzz/harness.rs).
/// The harness itself asserts the C contract on each call (status, message, untouched buffers,
/// repeatable bits); here the status each input must reach is pinned.
#[test]
fn hand_written_inputs() {
    // All-zero and empty inputs read zeros. The network targets then get a width count of 0
    // (tiles and limit decode β first: byte 0 → NaN), so ntk_network_create rejects the
    // network and the target returns None before its call; all-0xff decodes widths [1, 1]
    // with a NULL widths pointer (pointer byte 255), rejected as well, except for limit, whose
    // network is fine and whose NNGP output is 4×3 where 3×3 is expected.
    for (name, f) in TARGETS {
        let (zero, ones, empty) = (f(&[0u8; 64]), f(&[0xffu8; 64]), f(&[]));
        match name {
            // No network. Zeros give the flow options.rtol = NaN and the spectrum k[0,0] = NaN
            // (non-finite); all-0xff gives the flow cost = -1 (not an ntk_cost) and the
            // spectrum a condition number it computes.
            "flow" => assert_eq!(
                (zero, ones, empty),
                (
                    Some(S::NonFinite),
                    Some(S::InvalidArgument),
                    Some(S::NonFinite)
                ),
                "{name}"
            ),
            "spectrum" => assert_eq!(
                (zero, ones, empty),
                (Some(S::NonFinite), Some(S::Ok), Some(S::NonFinite)),
                "{name}"
            ),
            "limit" => assert_eq!(
                (zero, ones, empty),
                (None, Some(S::InvalidArgument), None),
                "{name}"
            ),
            _ => assert_eq!((zero, ones, empty), (None, None, None), "{name}"),
        }
    }
    // A valid network and forward pass: OK; the same with a NULL network, a NaN in X, and X
    // with one row too many.
    assert_eq!(
        harness::fuzz_forward(&forward_input(3, [200, 160], 0)),
        Some(S::Ok)
    );
    assert_eq!(
        harness::fuzz_forward(&forward_input(3, [200, 160], 1)),
        Some(S::NullPointer)
    );
    assert_eq!(
        harness::fuzz_forward(&forward_input(3, [0, 0], 0)),
        Some(S::NonFinite)
    );
    assert_eq!(
        harness::fuzz_forward(&forward_input(0, [200, 160], 0)),
        Some(S::InvalidArgument)
    );
}
