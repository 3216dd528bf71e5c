//! Replays the fuzz inputs kept in fuzz/regressions/<target>/ through the same harness the
//! libFuzzer targets use (fuzz/harness.rs), without libFuzzer, so every input that ever crashed
//! or was chosen as a seed stays a regression test in `cargo test`.
//!
//! Set NTK_FUZZ_CORPUS=<dir containing forward/, empirical/, ..., limit/, tiles/> (e.g. fuzz/corpus) to
//! also replay a whole corpus and print how often each status was returned.

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

#[test]
fn kept_fuzz_inputs_replay_cleanly() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut total = 0;
    for (name, f) in TARGETS {
        let (n, hist) = replay(&root.join(name), f);
        println!("{name}: {n} inputs, {hist:?}");
        total += n;
    }
    assert!(total > 0, "no kept inputs under {}", root.display());
}

#[test]
fn corpus_replay_if_requested() {
    let Ok(dir) = std::env::var("NTK_FUZZ_CORPUS") else {
        return;
    };
    for (name, f) in TARGETS {
        let (n, hist) = replay(&Path::new(&dir).join(name), f);
        println!("{name}: {n} inputs, {hist:?}");
    }
}

/// Hand-written inputs for paths the fuzzer must keep covering (each decoded by fuzz/harness.rs).
#[test]
fn hand_written_inputs() {
    // An all-zero input: widths [1,1], ordinary values, OK.
    for (_, f) in TARGETS {
        let _ = f(&[0u8; 64]);
        let _ = f(&[0xffu8; 64]);
        let _ = f(&[]);
    }
}
