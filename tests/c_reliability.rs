//! Compiles the C reliability programs `tests/c/reliability_*.c` against the static library this
//! `cargo test` built and runs them (each exits non-zero on any failed check):
//! - `reliability_contract.c`: the bad-input contract from C (statuses, messages naming the
//!   argument, outputs untouched);
//! - `reliability_threads.c`: 4 pthreads on one shared network get the serial bits; per-thread
//!   last error; 1/2/8 library threads bit-identical; cancel at every progress call leaves the
//!   handle usable with unchanged results.
//!
//! The same programs run under valgrind and AddressSanitizer in scripts/sanitizers.sh.

use std::path::PathBuf;
use std::process::Command;

/// The directory holding libntk.a of this build: cargo test builds the crate's staticlib next to
/// the test binary (target/<profile>/deps); `cargo build` also copies it one level up.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let up = deps.parent().unwrap().to_path_buf();
    [deps, up]
        .into_iter()
        .find(|d| d.join("libntk.a").is_file())
        .expect("libntk.a next to the test binary (built by cargo test)")
}

fn compile_and_run(name: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_reliability");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-O1",
            "-g",
        ])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c").join(format!("{name}.c")))
        .arg("-o")
        .arg(&exe)
        .arg(lib_dir().join("libntk.a"))
        .args(["-lpthread", "-ldl", "-lm"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(
        out.status.success(),
        "compiling {name}.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(
        run.status.success(),
        "{name} failed ({}):\n{}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    print!("{}", String::from_utf8_lossy(&run.stdout));
}

#[test]
fn c_bad_input_contract() {
    compile_and_run("reliability_contract");
}

#[test]
fn c_threads_determinism_and_cancel() {
    compile_and_run("reliability_threads");
}
