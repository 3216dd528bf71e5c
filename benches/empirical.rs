//! Benchmark of the empirical NTK: `cargo bench --bench empirical`.
//!
//! MLP 100 → 512 → 512 → 512 → 1, ReLU, β = 0.1, trace mode, X1 = X2, structured method, at
//! N = 256 and N = 1024 (targets 0.03 s and 0.25 s), next to a plain dgemm rate measured in the
//! same run; the Jacobian contraction at N = 256; 10 outputs in full mode at N = 256 with peak RSS.
//! Times are medians of ≥ 5 runs.

use ntk::activation::Activation;
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::linalg::{gemm, par_gemm, MatMut, MatRef};
use ntk::network::{Network, NetworkConfig};
use ntk::parallel::Progress;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn time_runs(runs: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn inputs(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut x = vec![0.0; n * d];
    ntk::rng::Rng::new(seed).fill_normal(&mut x);
    x
}

/// Flops of the structured symmetric trace-mode kernel, counted as implemented: forward
/// 2·N·Σ n_l n_{l+1}, n_L backward passes 2·N·n_L·Σ_{l≥1} n_l n_{l+1}, and per layer the
/// lower-triangle Grams N²·(n_l + n_L·n_{l+1}) (the last layer's cotangent Gram is the identity).
fn structured_flops(w: &[usize], n: usize) -> f64 {
    let (n, depth, k) = (n as f64, w.len() - 1, w[w.len() - 1] as f64);
    let wf: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    let fwd: f64 = (0..depth).map(|l| wf[l] * wf[l + 1]).sum();
    let bwd: f64 = (1..depth).map(|l| wf[l] * wf[l + 1]).sum();
    let a: f64 = wf[..depth].iter().sum();
    let h: f64 = wf[1..depth].iter().sum();
    2.0 * n * fwd + 2.0 * n * k * bwd + n * n * (a + k * h)
}

fn status_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let threads = ntk::parallel::num_threads();
    println!("empirical NTK benchmark ({threads} threads; medians)");

    // Plain dgemm rates with matrixmultiply, shape of the N = 1024 Grams (1024 x 512 x 1024).
    let (m, k, n) = (1024, 512, 1024);
    let a = inputs(m, k, 1);
    let b = inputs(k, n, 2);
    let mut c = vec![0.0; m * n];
    let gflop = 2.0 * (m * k * n) as f64 / 1e9;
    let t1 = time_runs(5, || {
        gemm(
            1.0,
            MatRef::from_row_major(&a, m, k),
            MatRef::from_row_major(&b, k, n),
            0.0,
            MatMut::from_row_major(&mut c, m, n),
        )
    });
    let tp = time_runs(5, || {
        ntk::parallel::install(|| {
            par_gemm(
                1.0,
                MatRef::from_row_major(&a, m, k),
                MatRef::from_row_major(&b, k, n),
                0.0,
                MatMut::from_row_major(&mut c, m, n),
            )
        })
        .expect("the thread pool starts")
    });
    let (rate1, ratep) = (gflop / t1, gflop / tp);
    println!("dgemm 1024x512x1024: 1 thread {rate1:.1} GFLOP/s, par_gemm ({threads} threads) {ratep:.1} GFLOP/s");

    let widths = vec![100, 512, 512, 512, 1];
    let net = Network::new(NetworkConfig {
        widths: widths.clone(),
        activation: Activation::Relu,
        beta: 0.1,
        seed: 0,
    })
    .unwrap();
    for (n, target) in [(256usize, 0.03), (1024, 0.25)] {
        let x = inputs(n, 100, 3);
        let mut out = vec![0.0; n * n];
        let t = time_runs(7, || {
            empirical::empirical_ntk(
                &net,
                MatRef::from_row_major(&x, n, 100),
                None,
                KernelMode::Trace,
                KernelMethod::Structured,
                MatMut::from_row_major(&mut out, n, n),
                &mut Progress::none(),
            )
            .unwrap()
        });
        let f = structured_flops(&widths, n) / 1e9;
        println!(
            "structured trace N={n}: {t:.4} s (target {target} s) {f:.2} GFLOP -> {:.1} GFLOP/s = {:.0}% of par_gemm, {:.0}% of 1-thread dgemm",
            f / t,
            100.0 * f / t / ratep,
            100.0 * f / t / rate1
        );
    }

    {
        // The same at one thread, against the one-thread dgemm rate.
        let n = 1024;
        let x = inputs(n, 100, 3);
        let mut out = vec![0.0; n * n];
        ntk::parallel::set_num_threads(1).unwrap();
        let t = time_runs(5, || {
            empirical::empirical_ntk(
                &net,
                MatRef::from_row_major(&x, n, 100),
                None,
                KernelMode::Trace,
                KernelMethod::Structured,
                MatMut::from_row_major(&mut out, n, n),
                &mut Progress::none(),
            )
            .unwrap()
        });
        ntk::parallel::set_num_threads(0).unwrap();
        let f = structured_flops(&widths, n) / 1e9;
        println!(
            "structured trace N={n}, 1 thread: {t:.4} s -> {:.1} GFLOP/s = {:.0}% of 1-thread dgemm",
            f / t,
            100.0 * f / t / rate1
        );
    }

    {
        let n = 256;
        let x = inputs(n, 100, 3);
        let mut out = vec![0.0; n * n];
        let t = time_runs(5, || {
            empirical::empirical_ntk(
                &net,
                MatRef::from_row_major(&x, n, 100),
                None,
                KernelMode::Trace,
                KernelMethod::JacobianContraction,
                MatMut::from_row_major(&mut out, n, n),
                &mut Progress::none(),
            )
            .unwrap()
        });
        let c = empirical::flop_count(&net, n, n, true, KernelMode::Trace).contraction / 1e9;
        println!(
            "jacobian contraction trace N={n}: {t:.3} s ({c:.1} GFLOP -> {:.1} GFLOP/s)",
            c / t
        );
    }

    {
        let n = 256;
        let w10 = vec![100, 512, 512, 512, 10];
        let net10 = Network::new(NetworkConfig {
            widths: w10,
            activation: Activation::Relu,
            beta: 0.1,
            seed: 0,
        })
        .unwrap();
        let x = inputs(n, 100, 3);
        // Reset the peak-RSS counter (Linux ≥ 4.0) so VmHWM covers this case only.
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let base = status_kib("VmRSS:");
        let t = time_runs(5, || {
            let (v, _, _) = empirical::empirical_ntk_vec(
                &net10,
                MatRef::from_row_major(&x, n, 100),
                None,
                KernelMode::Full,
                KernelMethod::Structured,
            )
            .unwrap();
            std::hint::black_box(v);
        });
        let peak = status_kib("VmHWM:");
        let mib = |v: Option<u64>| v.map_or("?".into(), |v| format!("{:.0}", v as f64 / 1024.0));
        let f = empirical::flop_count(&net10, n, n, true, KernelMode::Full).structured / 1e9;
        println!(
            "structured full, 10 outputs, N={n} (output 2560x2560 = 50 MiB): {t:.3} s ({f:.1} GFLOP -> {:.1} GFLOP/s), peak RSS {} MiB, RSS before the case {} MiB{}",
            f / t,
            mib(peak),
            mib(base),
            if reset { "" } else { " (VmHWM could not be reset: process peak)" }
        );
    }
}
