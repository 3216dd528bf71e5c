//! Limit-kernel benchmark: `cargo bench --bench limit` (optionally `-- CASE` to run one case).
//!
//! Workloads (f64, L = 5 weight layers, input dimension d = n_0 (100 unless the case says
//! otherwise), β = 0.1, X1 = X2, NNGP + NTK outputs, inputs i.i.d. N(0, 1) from the crate's
//! generator): relu N = 2000 and 4000, erf N = 2000, tanh N = 400 and 2000, tanh N = 2000 at
//! d = 5 and d = 2 (low-dimensional inputs have large pair correlations at every layer, the hard
//! case of the numerical path), sigmoid and softplus N = 2000 at d = 5, GELU N = 2000 (closed
//! form) and a custom σ (tanh(x) as a user function, so the numerical path without the built-in
//! activation's identity) N = 2000 at d = 100 and 5. Each case runs in a fresh subprocess of this
//! binary so that its peak RSS (VmHWM from /proc/self/status) is its own; it prints the median
//! wall time of ≥ 5 runs (3 for the N = 2000 numerical cases) and the peak RSS relative to the
//! size of the two outputs.

use ntk::activation::Activation;
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::Progress;
use std::time::Instant;

/// (name, activation, N, d, runs)
const CASES: &[(&str, &str, usize, usize, usize)] = &[
    ("relu2000", "relu", 2000, 100, 5),
    ("relu4000", "relu", 4000, 100, 5),
    ("erf2000", "erf", 2000, 100, 5),
    ("gelu2000", "gelu", 2000, 100, 5),
    ("tanh400", "tanh", 400, 100, 5),
    ("tanh2000", "tanh", 2000, 100, 3),
    ("tanh2000d5", "tanh", 2000, 5, 3),
    ("tanh2000d2", "tanh", 2000, 2, 3),
    ("sigmoid2000d5", "sigmoid", 2000, 5, 3),
    ("softplus2000d5", "softplus", 2000, 5, 3),
    ("custom2000", "custom", 2000, 100, 3),
    ("custom2000d5", "custom", 2000, 5, 3),
];

fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn run_case(act: &str, n: usize, d: usize, reps: usize) {
    let mut rng = ntk::rng::Rng::new(2024);
    let mut x = vec![0.0; n * d];
    rng.fill_normal(&mut x);
    let activation = match act {
        "relu" => Activation::Relu,
        "erf" => Activation::Erf,
        "gelu" => Activation::Gelu,
        "sigmoid" => Activation::Sigmoid,
        "softplus" => Activation::Softplus,
        "custom" => Activation::Custom(std::sync::Arc::new(ntk::activation::FnActivation {
            sigma: |x: f64| x.tanh(),
            dsigma: |x: f64| {
                let t = x.tanh();
                1.0 - t * t
            },
        })),
        _ => Activation::Tanh,
    };
    let spec = LimitSpec::new(5, activation, 0.1);
    let mut nngp = vec![0.0; n * n];
    let mut ntk = vec![0.0; n * n];
    let base = vm_hwm_kib();
    let mut times = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        limit_kernel(
            &spec,
            MatRef::from_row_major(&x, n, d),
            None,
            LimitOutputs {
                nngp: Some(MatMut::from_row_major(&mut nngp, n, n)),
                sigma_dot: None,
                ntk: Some(MatMut::from_row_major(&mut ntk, n, n)),
            },
            &mut Progress::none(),
        )
        .unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let out_kib = (2 * n * n * 8) as f64 / 1024.0;
    let hwm = vm_hwm_kib();
    println!(
        "{act:>8} N={n:>5} d={d:>3}: median {:.4} s (min {:.4}, max {:.4}, {reps} runs, {} threads); peak RSS {:.1} MiB = {:.3} x outputs ({:.1} MiB; {:.1} MiB before the first call)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        ntk::parallel::num_threads(),
        hwm as f64 / 1024.0,
        hwm as f64 / out_kib,
        out_kib / 1024.0,
        base as f64 / 1024.0,
    );
    std::hint::black_box((&nngp, &ntk));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--case") {
        let name = &args[pos + 1];
        let (_, act, n, d, reps) = CASES.iter().find(|c| c.0 == name).expect("known case");
        run_case(act, *n, *d, *reps);
        return;
    }
    let filter: Option<&String> = args.iter().skip(1).find(|a| !a.starts_with("--"));
    let exe = std::env::current_exe().unwrap();
    for (name, ..) in CASES {
        if let Some(f) = filter {
            if !name.contains(f.as_str()) {
                continue;
            }
        }
        let status = std::process::Command::new(&exe)
            .args(["--case", name])
            .status()
            .expect("subprocess runs");
        assert!(status.success(), "case {name} failed");
    }
}
