//! Uniform vs general (per-layer) limit path, same run, interleaved rounds, one thread:
//! ReLU, L = 5, N points in d = 100 (N from argv, default 1500). The uniform row is today's
//! network (σ_w = 1, σ_b = 0.1, NTK parameterization, the fused chain); the general rows are
//! per-layer architectures doing the same work per entry (σ_w² = 2, σ_b = 0.1, NTK and standard
//! parameterization), which go through `general_row`. Prints the per-row median of R rounds and
//! the ratio general / uniform. Times are the process's CPU seconds (CLOCK_PROCESS_CPUTIME_ID):
//! on a shared machine the wall clock also counts the time the one worker waits for a core.
//!
//!     cargo run --release --example general_path_bench -- [N] [ROUNDS]

use ntk::activation::Activation;
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Architecture, LayerSpec, Parameterization};
use ntk::parallel::Progress;
use std::time::Instant;

fn arch(d: usize, sw: f64, sb: f64, p: Parameterization) -> Architecture {
    let depth = 5;
    let mut widths = vec![d];
    widths.extend(std::iter::repeat(512).take(depth - 1));
    widths.push(1);
    Architecture {
        widths,
        layers: (0..depth)
            .map(|l| LayerSpec {
                sigma_w: sw,
                sigma_b: sb,
                activation: (l + 1 < depth).then_some(Activation::Relu),
            })
            .collect(),
        parameterization: p,
        seed: 1,
    }
}

/// Seconds this process has run on a CPU (all threads; one worker here), or the wall clock
/// where the CPU clock is missing.
fn cpu_seconds(start: Instant) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    } else {
        start.elapsed().as_secs_f64()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(1500, |s| s.parse().expect("N"));
    let rounds: usize = args.get(2).map_or(7, |s| s.parse().expect("ROUNDS"));
    let d = 100;
    ntk::parallel::set_num_threads(1).unwrap();
    let mut state = 3u64;
    let x: Vec<f64> = (0..n * d)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect();
    let rows: Vec<(&str, LimitSpec)> = vec![
        (
            "uniform (sw=1, sb=0.1, ntk)",
            LimitSpec::of_architecture(&arch(d, 1.0, 0.1, Parameterization::Ntk)),
        ),
        (
            "general (sw2=2, sb=0.1, ntk)",
            LimitSpec::of_architecture(&arch(d, 2f64.sqrt(), 0.1, Parameterization::Ntk)),
        ),
        (
            "general (sw2=2, sb=0.1, standard)",
            LimitSpec::of_architecture(&arch(d, 2f64.sqrt(), 0.1, Parameterization::Standard)),
        ),
    ];
    let mut times = vec![Vec::new(); rows.len()];
    let mut sums = vec![0u64; rows.len()];
    let (mut a, mut b, mut c) = (vec![0.0; n * n], vec![0.0; n * n], vec![0.0; n * n]);
    for _ in 0..rounds {
        for (r, (_, spec)) in rows.iter().enumerate() {
            let t = Instant::now();
            let c0 = cpu_seconds(t);
            limit_kernel(
                spec,
                MatRef::from_row_major(&x, n, d),
                None,
                LimitOutputs {
                    nngp: Some(MatMut::from_row_major(&mut a, n, n)),
                    sigma_dot: Some(MatMut::from_row_major(&mut b, n, n)),
                    ntk: Some(MatMut::from_row_major(&mut c, n, n)),
                },
                &mut Progress::none(),
            )
            .unwrap();
            times[r].push(cpu_seconds(t) - c0);
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for v in a.iter().chain(&b).chain(&c) {
                h = (h ^ v.to_bits()).wrapping_mul(0x100_0000_01b3);
            }
            sums[r] = h;
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // FNV-1a of the output bits of the last round, per row: compares revisions bit for bit.
    let base = med(&mut times[0].clone());
    println!("N = {n}, d = {d}, L = 5, ReLU, 1 thread, {rounds} interleaved rounds");
    for (r, (name, _)) in rows.iter().enumerate() {
        let m = med(&mut times[r].clone());
        let (lo, hi) = (
            times[r].iter().cloned().fold(f64::INFINITY, f64::min),
            times[r].iter().cloned().fold(0.0, f64::max),
        );
        println!(
            "{name:36} median {m:.4} s  (min {lo:.4}, max {hi:.4})  ratio {:.3}  outputs {:016x}",
            m / base,
            sums[r]
        );
    }
}
