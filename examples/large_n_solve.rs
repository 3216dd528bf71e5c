//! Measures the library's kernel-regression solver (src/solve) at large N: limit NTK, ReLU,
//! L = 3, β = 0.1, N points on the unit sphere in d = 8, targets sin(3 x_0) + x_1 x_2, ridge
//! λ = lambda_frac · tr(K)/N, predictions at M test points. Prints iterations, kernel passes, the
//! true residual, setup / solve / predict times, the kernel rate and the peak resident memory
//! (VmHWM, this process). Used for the figures in docs/large-n.md.
//!
//!   cargo run --release --example large_n_solve -- N [rank] [rtol] [lambda_frac] [cache_mb] [max_it] [M]
use ntk::activation::Activation;
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Network, NetworkConfig};
use ntk::parallel::Progress;
use ntk::solve::{KernelSolver, KernelSource, SolverConfig, SolverKernel};
use std::time::Instant;

fn vmhwm_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(-1.0, |kb| kb / 1024.0)
}

fn sphere(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut x = vec![0.0; n * d];
    for i in 0..n {
        let row = &mut x[i * d..(i + 1) * d];
        for v in row.iter_mut() {
            let mut u = 0.0;
            for _ in 0..3 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                u += (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            }
            *v = u;
        }
        let nr = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= nr);
    }
    x
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, def: &str| a.get(i).cloned().unwrap_or_else(|| def.to_string());
    let n: usize = arg(0, "10000").parse().unwrap();
    let rank: usize = arg(1, "100").parse().unwrap();
    let rtol: f64 = arg(2, "1e-6").parse().unwrap();
    let lf: f64 = arg(3, "1e-4").parse().unwrap();
    let cache_mb: usize = arg(4, "0").parse().unwrap();
    let max_it: usize = arg(5, "2000").parse().unwrap();
    let m: usize = arg(6, "1000").parse().unwrap();
    let d = 8;
    let net = Network::new(NetworkConfig {
        widths: vec![d, 1, 1, 1],
        activation: Activation::Relu,
        beta: 0.1,
        seed: 2018,
    })
    .unwrap();
    let x = sphere(n, d, 1);
    let xt = sphere(m, d, 2);
    let y: Vec<f64> = (0..n)
        .map(|i| (3.0 * x[i * d]).sin() + x[i * d + 1] * x[i * d + 2])
        .collect();
    let t = Instant::now();
    let src = KernelSource::new(
        &net,
        MatRef::from_row_major(&x, n, d),
        SolverKernel::LimitNtk,
        &mut Progress::none(),
    )
    .unwrap();
    let s = KernelSolver::new(
        src,
        SolverConfig {
            cache_bytes: cache_mb << 20,
            precond_rank: rank,
        },
        &mut Progress::none(),
    )
    .unwrap();
    let t_setup = t.elapsed().as_secs_f64();
    let lambda = lf * s.trace() / n as f64;
    let mut alpha = vec![0.0; n];
    let t = Instant::now();
    let res = s.solve(
        lambda,
        MatRef::from_col_major(&y, n, 1),
        rtol,
        max_it,
        MatMut::from_col_major(&mut alpha, n, 1),
        &mut Progress::none(),
    );
    let t_solve = t.elapsed().as_secs_f64();
    let (its, passes, resid, status) = match &res {
        Ok(i) => (
            i.iterations,
            i.kernel_passes,
            i.residual,
            "converged".to_string(),
        ),
        Err(e) => (max_it, max_it, f64::NAN, format!("{e}")),
    };
    let mut pred = vec![0.0; m];
    let t = Instant::now();
    if res.is_ok() {
        s.predict(
            MatRef::from_row_major(&xt, m, d),
            MatRef::from_col_major(&alpha, n, 1),
            MatMut::from_col_major(&mut pred, m, 1),
            &mut Progress::none(),
        )
        .unwrap();
    }
    let t_pred = t.elapsed().as_secs_f64();
    let rows_uncached = n - s.cached_rows();
    // entries per pass: the upper block triangle of the uncached row blocks
    let entries: f64 = (0..n.div_ceil(256))
        .filter(|b| (b + 1) * 256 > s.cached_rows() || s.cached_rows() < n)
        .map(|b| {
            let r0 = b * 256;
            let h = (n - r0).min(256);
            if r0 + h <= s.cached_rows() {
                0.0
            } else {
                (h * (n - r0)) as f64
            }
        })
        .sum();
    println!(
        "library N = {n} threads = {} rank = {} (trace left {:.2e} of {:.2e}) cache {} rows, lambda = {lambda:.3e}, rtol = {rtol:e}: {status}; {its} iterations, {passes} kernel passes, residual {resid:.3e}; setup {t_setup:.2} s, solve {t_solve:.2} s ({:.3} s per pass, {:.2} ns per kernel entry, {:.3e} entries per pass over {rows_uncached} uncached rows), predict {m} points {t_pred:.2} s; VmHWM {:.1} MiB",
        ntk::parallel::num_threads(),
        s.rank(),
        s.trace_residual(),
        s.trace(),
        s.cached_rows(),
        t_solve / passes.max(1) as f64,
        if entries > 0.0 { 1e9 * t_solve / (passes.max(1) as f64 * entries) } else { 0.0 },
        entries,
        vmhwm_mib()
    );
}
