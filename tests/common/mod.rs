//! Helpers shared by the integration tests (each test file is its own crate and says
//! `mod common;`): test inputs, networks built through the Rust and the C API, the C last-error
//! message, and the directory of the built libraries. Nothing here computes a reference value.
#![allow(dead_code)]

use ntk::activation::Activation;
use ntk::ffi::network::{ntk_network, ntk_network_config, ntk_network_create, ntk_network_free};
use ntk::ffi::{ntk_last_error, ntk_status};
use ntk::network::{Network, NetworkConfig};
use std::ffi::{c_int, CStr};
use std::path::PathBuf;
use std::ptr::null_mut;

/// `n` points in R^d, row-major: x_k = sin(0.377 k + shift)·1.1 + 0.05 (k mod 7) for
/// k < n·d, so that rows differ in direction and norm and `shift` gives a second, distinct set.
pub fn points(n: usize, d: usize, shift: f64) -> Vec<f64> {
    (0..n * d)
        .map(|k| (k as f64 * 0.377 + shift).sin() * 1.1 + 0.05 * (k % 7) as f64)
        .collect()
}

/// `len` samples of a wave: v_k = f(k·freq + shift)·amp (f = sin or cos).
pub fn wave(len: usize, f: fn(f64) -> f64, freq: f64, shift: f64, amp: f64) -> Vec<f64> {
    (0..len).map(|k| f(k as f64 * freq + shift) * amp).collect()
}

/// A network through the Rust API (`Network::new`), panicking on a bad configuration.
pub fn net(widths: Vec<usize>, activation: Activation, beta: f64, seed: u64) -> Network {
    Network::new(NetworkConfig {
        widths,
        activation,
        beta,
        seed,
    })
    .unwrap()
}

/// An owned C network handle, freed on drop.
pub struct CNet(pub *mut ntk_network);

impl Drop for CNet {
    fn drop(&mut self) {
        // SAFETY: the handle came from ntk_network_create and is freed once.
        unsafe { ntk_network_free(self.0) }
    }
}

impl CNet {
    /// Gives up ownership: the caller frees the handle with `ntk_network_free`.
    pub fn into_raw(self) -> *mut ntk_network {
        let h = self.0;
        std::mem::forget(self);
        h
    }
}

/// The C configuration of a network without custom activation (borrows `widths`).
pub fn c_config(
    widths: &[usize],
    activation: c_int,
    activation_param: f64,
    beta: f64,
    seed: u64,
) -> ntk_network_config {
    ntk_network_config {
        widths: widths.as_ptr(),
        num_widths: widths.len(),
        activation,
        activation_param,
        beta,
        seed,
        custom_sigma: None,
        custom_dsigma: None,
        custom_user_data: null_mut(),
    }
}

/// A network through the C API (`ntk_network_create`), panicking with the last error on failure.
pub fn c_net(
    widths: &[usize],
    activation: c_int,
    activation_param: f64,
    beta: f64,
    seed: u64,
) -> CNet {
    let cfg = c_config(widths, activation, activation_param, beta, seed);
    let mut h = null_mut();
    // SAFETY: `cfg` points at `widths`, alive for the call; `h` is a valid out-pointer.
    let st = unsafe { ntk_network_create(&cfg, &mut h) };
    assert_eq!(st, ntk_status::Ok, "{}", last_error());
    CNet(h)
}

/// The calling thread's last C API error message ("" after a success).
pub fn last_error() -> String {
    // SAFETY: ntk_last_error returns a NUL-terminated thread-local string that stays valid
    // until the next call on this thread; it is copied at once.
    unsafe { CStr::from_ptr(ntk_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// The directory holding the crate's `libntk.so` and `libntk.a`, which `cargo test` builds next
/// to (or one level above) the test binary.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("test binary has a parent directory");
    let candidates = [
        deps.to_path_buf(),
        deps.parent().unwrap_or(deps).to_path_buf(),
    ];
    candidates
        .iter()
        .find(|d| d.join("libntk.so").is_file() && d.join("libntk.a").is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "libntk.so / libntk.a not found in {} or its parent: the crate's cdylib and \
                 staticlib should be built by `cargo test`",
                deps.display()
            )
        })
}

/// The flags every C test program is compiled with: C99, all warnings as errors.
pub const C_TEST_CFLAGS: &[&str] = &[
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-O1",
    "-g",
];

/// Compiles the C test program `bindings/c/tests/NAME.c` against this build's `libntk.a` with
/// [`C_TEST_CFLAGS`] into `CARGO_TARGET_TMPDIR/SUBDIR/NAME` and returns
/// the executable's path; panics with the compiler's messages when it does not compile.
pub fn compile_c_test(name: &str, subdir: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(subdir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let tests = root.join("bindings/c/tests");
    let out = std::process::Command::new(&cc)
        .args(C_TEST_CFLAGS)
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(&tests)
        .arg(tests.join(format!("{name}.c")))
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
    exe
}

/// The N of the last `PROGRAM: all N checks passed` line in `out`, the line a C test program's
/// `ntk_test_summary` prints (bindings/c/tests/ntk_test.h) when every check passed; None when
/// there is no such line or N is 0 (a program that checked nothing).
pub fn c_checks_count(out: &str) -> Option<usize> {
    out.lines()
        .filter_map(|l| {
            let rest = &l[l.find(": all ")? + ": all ".len()..];
            rest.strip_suffix(" checks passed")?.parse::<usize>().ok()
        })
        .last()
        .filter(|&n| n > 0)
}

/// [`c_checks_count`], panicking (naming `what`, showing `out`) when it is None.
pub fn c_checks_passed(out: &str, what: &str) -> usize {
    c_checks_count(out)
        .unwrap_or_else(|| panic!("{what}: no \"all N checks passed\" line with N > 0 in:\n{out}"))
}

/// The activations the mpmath reference files name (tools/limit_reference*.py): tanh, sigmoid,
/// softplus, gelu, and `custom` = tanh(2x − 1) with σ′ = 2(1 − tanh²(2x − 1)), a user function
/// (rounding noise in the tails on purpose).
pub fn reference_activation(name: &str) -> Activation {
    match name {
        "tanh" => Activation::Tanh,
        "sigmoid" => Activation::Sigmoid,
        "softplus" => Activation::Softplus,
        "gelu" => Activation::Gelu,
        "custom" => Activation::Custom(std::sync::Arc::new(ntk::activation::FnActivation {
            sigma: |x: f64| (2.0 * x - 1.0).tanh(),
            dsigma: |x: f64| {
                let t = (2.0 * x - 1.0).tanh();
                2.0 * (1.0 - t * t)
            },
        })),
        other => panic!("unknown activation {other}"),
    }
}

/// (Σ, Σ̇, Θ) of the n×n limit kernel of the rows of `x` (row-major, n rows) through
/// `limit_kernel`: the symmetric path, or with `two_sets` x against a copy of itself given as
/// the second set.
pub fn limit_kernels(
    spec: &ntk::kernel::limit::LimitSpec,
    x: &[f64],
    n: usize,
    two_sets: bool,
) -> [Vec<f64>; 3] {
    use ntk::kernel::limit::{limit_kernel, LimitOutputs};
    use ntk::linalg::{MatMut, MatRef};
    let d = x.len() / n;
    let (mut s, mut sd, mut t) = (vec![0.0; n * n], vec![0.0; n * n], vec![0.0; n * n]);
    let x2 = x.to_vec();
    limit_kernel(
        spec,
        MatRef::from_row_major(x, n, d),
        two_sets.then(|| MatRef::from_row_major(&x2, n, d)),
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(&mut s, n, n)),
            sigma_dot: Some(MatMut::from_row_major(&mut sd, n, n)),
            ntk: Some(MatMut::from_row_major(&mut t, n, n)),
        },
        &mut ntk::parallel::Progress::none(),
    )
    .unwrap();
    [s, sd, t]
}

/// The kernels ([`limit_kernels`]) of three rows in R^5: x = (0.3, −1.2, 0.7, 2.5, −0.4), an
/// exact copy of x and −x, after checking that exact copies take the diagonal chain: the copy's
/// Σ, Σ̇ and Θ against x (entries 1 and 3) equal the diagonal entries (0 and 4) bit for bit, and
/// that x's diagonal and its entry against −x are finite. `what` names the case in failures.
pub fn exact_copy_kernels(
    spec: &ntk::kernel::limit::LimitSpec,
    two_sets: bool,
    what: &str,
) -> [Vec<f64>; 3] {
    let x = [0.3, -1.2, 0.7, 2.5, -0.4];
    let rows: Vec<f64> = x
        .iter()
        .chain(x.iter())
        .copied()
        .chain(x.iter().map(|v| -v))
        .collect();
    let k = limit_kernels(spec, &rows, 3, two_sets);
    for (q, m) in k.iter().enumerate() {
        assert_eq!(m[1].to_bits(), m[0].to_bits(), "{what} {two_sets} {q}");
        assert_eq!(m[3].to_bits(), m[4].to_bits(), "{what} {two_sets} {q}");
        assert!(
            m[0].is_finite() && m[2].is_finite(),
            "{what} {two_sets} {q}"
        );
    }
    k
}

/// Every `.rs` file below `dir`, in sorted order (the source scans of unsafe_safety and
/// ffi_docs).
pub fn rust_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}
