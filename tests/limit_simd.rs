//! The limit kernels give the same bits at every instruction-set level of `crate::simd` and at
//! every thread count (what src/simd.rs promises: the copies evaluate the same operations, with
//! explicit, exactly rounded FMAs).
//!
//! `same_bits_at_every_simd_level` runs this test binary again once per level
//! (`NTK_SIMD=scalar|avx2|avx512`, each clamped to what the CPU has), each child running
//! `same_bits_at_every_thread_count` and writing its outputs' bits to a file, and compares the
//! files bit for bit. Cases: ReLU, leaky ReLU, erf, GELU (fused closed-form chains), tanh (the
//! numerical method: Mehler series and pair quadrature), L = 2..5, β = 0 and 0.3, points with
//! exact copies, near-duplicates, antipodal and near-antipodal pairs (the near-duplicate
//! fix-up), over more than one tile (off-diagonal and mirrored tiles), and one X1 ≠ X2 call.

use ntk::activation::Activation;
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::{set_num_threads, Progress};
use ntk::simd::{self, Isa};
use std::path::PathBuf;
use std::process::Command;

const D: usize = 7;

/// `n` points in R^D: random normal ones, then (replacing the last ones) an exact copy of point
/// 0, point 1 moved by 1e-9, the negation of point 2, the negation of point 3 moved by 1e-8,
/// point 4 scaled by 1 + 1e-12 and point 5 moved by 3e-6.
fn points(n: usize, seed: u64) -> Vec<f64> {
    let mut r = ntk::rng::Rng::new(seed);
    let mut x: Vec<f64> = (0..n * D).map(|_| r.normal()).collect();
    let row = |x: &[f64], k: usize| x[k * D..(k + 1) * D].to_vec();
    let near: [Vec<f64>; 6] = [
        row(&x, 0),
        row(&x, 1)
            .iter()
            .enumerate()
            .map(|(c, v)| v + 1e-9 * (c as f64 - 3.0))
            .collect(),
        row(&x, 2).iter().map(|v| -v).collect(),
        row(&x, 3)
            .iter()
            .enumerate()
            .map(|(c, v)| -v + 1e-8 * (c % 2) as f64)
            .collect(),
        row(&x, 4).iter().map(|v| v * (1.0 + 1e-12)).collect(),
        row(&x, 5)
            .iter()
            .enumerate()
            .map(|(c, v)| v - 3e-6 * (c % 3) as f64)
            .collect(),
    ];
    for (k, p) in near.iter().enumerate() {
        let at = n - 1 - k;
        x[at * D..(at + 1) * D].copy_from_slice(p);
    }
    x
}

/// Σ, Σ̇ and Θ of every case, concatenated.
fn compute_all() -> Vec<f64> {
    let mut all = Vec::new();
    let acts = [
        (Activation::Relu, 140),
        (Activation::LeakyRelu(0.2), 140),
        (Activation::Erf, 140),
        (Activation::Gelu, 140),
        (Activation::Tanh, 10),
    ];
    for (act, n) in acts {
        for depth in 2..=5 {
            for beta in [0.0, 0.3] {
                let spec = LimitSpec::new(depth, act.clone(), beta);
                let x = points(n, 7 + depth as u64);
                all.extend(run(&spec, &x, n, None));
            }
        }
    }
    // X1 ≠ X2 (no mirror): ReLU and tanh.
    for (act, n1, n2) in [(Activation::Relu, 140, 131), (Activation::Tanh, 12, 9)] {
        let spec = LimitSpec::new(3, act, 0.3);
        let x1 = points(n1, 21);
        let x2 = points(n2, 22);
        all.extend(run(&spec, &x1, n1, Some((&x2, n2))));
    }
    all
}

fn run(spec: &LimitSpec, x1: &[f64], n1: usize, x2: Option<(&[f64], usize)>) -> Vec<f64> {
    let n2 = x2.map_or(n1, |(_, n)| n);
    let (mut a, mut b, mut c) = (vec![0.0; n1 * n2], vec![0.0; n1 * n2], vec![0.0; n1 * n2]);
    limit_kernel(
        spec,
        MatRef::from_row_major(x1, n1, D),
        x2.map(|(x, n)| MatRef::from_row_major(x, n, D)),
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(&mut a, n1, n2)),
            sigma_dot: Some(MatMut::from_row_major(&mut b, n1, n2)),
            ntk: Some(MatMut::from_row_major(&mut c, n1, n2)),
        },
        &mut Progress::none(),
    )
    .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    assert!(a.iter().chain(&b).chain(&c).all(|v| v.is_finite()));
    a.extend(b);
    a.extend(c);
    a
}

fn first_difference(a: &[f64], b: &[f64]) -> Option<(usize, f64, f64)> {
    assert_eq!(a.len(), b.len(), "different numbers of outputs");
    a.iter()
        .zip(b)
        .enumerate()
        .find(|(_, (p, q))| p.to_bits() != q.to_bits())
        .map(|(k, (p, q))| (k, *p, *q))
}

/// At the level this process runs at: the same bits at 1 and 3 threads. With
/// `NTK_SIMD_TEST_DUMP` set (by `same_bits_at_every_simd_level`), also writes the level's name
/// and the bits to that file.
#[test]
fn same_bits_at_every_thread_count() {
    set_num_threads(1).unwrap();
    let one = compute_all();
    for threads in [3] {
        set_num_threads(threads).unwrap();
        let other = compute_all();
        if let Some((k, p, q)) = first_difference(&one, &other) {
            panic!(
                "output {k}: {p:e} at 1 thread, {q:e} at {threads} ({:?})",
                simd::active()
            );
        }
    }
    if let Some(path) = std::env::var_os("NTK_SIMD_TEST_DUMP") {
        let mut bytes = Vec::with_capacity(8 + 8 * one.len());
        bytes.extend_from_slice(format!("{:<8}", simd::active().name()).as_bytes());
        for v in &one {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        std::fs::write(path, bytes).unwrap();
    }
}

#[test]
fn same_bits_at_every_simd_level() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let exe = std::env::current_exe().unwrap();
    let mut results: Vec<(Isa, Vec<f64>)> = Vec::new();
    for requested in Isa::all() {
        let path = dir.join(format!(
            "limit_simd_{}_{}.bin",
            std::process::id(),
            requested.name()
        ));
        let out = Command::new(&exe)
            .args([
                "--exact",
                "same_bits_at_every_thread_count",
                "--test-threads=1",
            ])
            .env("NTK_SIMD", requested.name())
            .env("NTK_SIMD_TEST_DUMP", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "NTK_SIMD={}: {}{}",
            requested.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "NTK_SIMD={}: no dump ({e}); did the child run?",
                requested.name()
            )
        });
        std::fs::remove_file(&path).ok();
        let ran = Isa::from_name(std::str::from_utf8(&bytes[..8]).unwrap()).unwrap();
        // The override lowers the level to the one asked for, and never above the CPU's.
        assert_eq!(
            ran,
            requested.min(simd::detected()),
            "NTK_SIMD={}",
            requested.name()
        );
        let vals: Vec<f64> = bytes[8..]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        results.push((ran, vals));
    }
    let (base_isa, base) = &results[0];
    assert_eq!(*base_isa, Isa::Scalar);
    assert!(base.len() > 300_000, "{} outputs", base.len());
    for (isa, vals) in &results[1..] {
        if let Some((k, p, q)) = first_difference(base, vals) {
            panic!("output {k}: {p:e} at {base_isa:?}, {q:e} at {isa:?}");
        }
    }
    eprintln!(
        "limit_simd: {} outputs bit-identical at {:?}",
        base.len(),
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
}
