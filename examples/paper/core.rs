//! The numeric core of the paper job: the experiments of Jacot, Gabriel & Hongler (2018),
//! section 6, on this library's public Rust API. ReLU, β = 0.1, η = 1, MSE, one output,
//! inputs on the unit circle x = (cos γ, sin γ), NTK parameterization, θ ~ N(0, 1).
//!
//! Shared by `examples/paper/main.rs` (full size, figures) and `tests/paper.rs` (reduced size,
//! asserting the scientific claims).

use ntk::activation::Activation;
use ntk::flow::{Cost, Flow, FlowOptions};
use ntk::kernel::empirical::{empirical_ntk_vec, KernelMode, Method};
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Network, NetworkConfig};
use ntk::parallel::Progress;
use std::f64::consts::PI;

pub const BETA: f64 = 0.1;

/// Sizes of every experiment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Figure 1: widths, initializations per width, depth, training steps (t = steps·η).
    pub fig1_widths: Vec<usize>,
    pub fig1_inits: usize,
    pub fig1_depth: usize,
    pub fig1_steps: usize,
    /// Number of random training points for Figure 1's training.
    pub fig1_train_points: usize,
    /// Points of the γ sweep over [−π, π].
    pub gamma_points: usize,
    /// Figure 2: widths, initializations, depth, steps.
    pub fig2_widths: Vec<usize>,
    pub fig2_inits: usize,
    pub fig2_depth: usize,
    pub fig2_steps: usize,
    /// Convergence table: widths, seeds per width, depth, steps, points.
    pub conv_widths: Vec<usize>,
    pub conv_seeds: usize,
    pub conv_depth: usize,
    pub conv_steps: usize,
    pub conv_points: usize,
    /// Positive definiteness: number of distinct points on the circle, depth.
    pub pd_points: usize,
    pub pd_depth: usize,
}

impl Settings {
    /// The sizes of the paper (Figure 1 at n = 10000 takes several minutes on 2 cores).
    pub fn paper() -> Settings {
        Settings {
            fig1_widths: vec![500, 10000],
            fig1_inits: 10,
            fig1_depth: 4,
            fig1_steps: 200,
            fig1_train_points: 8,
            gamma_points: 121,
            fig2_widths: vec![50, 1000],
            fig2_inits: 10,
            fig2_depth: 4,
            fig2_steps: 1000,
            conv_widths: vec![64, 128, 256, 512, 1024, 2048],
            conv_seeds: 6,
            conv_depth: 4,
            conv_steps: 200,
            conv_points: 8,
            pd_points: 24,
            pd_depth: 4,
        }
    }

    /// The default run (under two minutes on two cores): the paper's experiments with Figure 1's
    /// large width 1000 instead of 10000 (a width-10000 network has 2·10⁸ parameters, 1.6 GB, per
    /// initialization) and the convergence table up to width 1024. Figure 2 is at the paper's sizes.
    pub fn default_run() -> Settings {
        Settings {
            fig1_widths: vec![500, 1000],
            conv_widths: vec![64, 128, 256, 512, 1024],
            ..Settings::paper()
        }
    }

    /// Reduced sizes for the test suite.
    pub fn test() -> Settings {
        Settings {
            fig1_widths: vec![100, 500],
            fig1_inits: 3,
            fig1_depth: 4,
            fig1_steps: 100,
            fig1_train_points: 6,
            gamma_points: 25,
            fig2_widths: vec![50, 500],
            fig2_inits: 4,
            fig2_depth: 4,
            fig2_steps: 200,
            conv_widths: vec![64, 128, 256, 512],
            conv_seeds: 4,
            conv_depth: 4,
            conv_steps: 100,
            conv_points: 6,
            pd_points: 16,
            pd_depth: 4,
        }
    }
}

/// Points (cos γ, sin γ) as an N × 2 row-major matrix.
pub fn circle(gammas: &[f64]) -> Vec<f64> {
    gammas.iter().flat_map(|g| [g.cos(), g.sin()]).collect()
}

/// γ_k evenly spaced over [−π, π].
pub fn gamma_grid(points: usize) -> Vec<f64> {
    (0..points)
        .map(|k| -PI + 2.0 * PI * k as f64 / (points - 1) as f64)
        .collect()
}

fn relu_net(widths: Vec<usize>, seed: u64) -> Network {
    Network::new(NetworkConfig {
        widths,
        activation: Activation::Relu,
        beta: BETA,
        seed,
    })
    .expect("valid network")
}

fn hidden(depth: usize, width: usize) -> Vec<usize> {
    let mut w = vec![2];
    w.extend(std::iter::repeat_n(width, depth - 1));
    w.push(1);
    w
}

/// Limit NNGP Σ and NTK Θ_∞ between two sets of points on the plane (row-major N1 × N2 each).
pub fn limit_kernels(
    act: Activation,
    depth: usize,
    x1: &[f64],
    x2: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let (n1, n2) = (x1.len() / 2, x2.len() / 2);
    let mut nngp = vec![0.0; n1 * n2];
    let mut ntk = vec![0.0; n1 * n2];
    limit_kernel(
        &LimitSpec::new(depth, act, BETA),
        MatRef::from_row_major(x1, n1, 2),
        Some(MatRef::from_row_major(x2, n2, 2)),
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(&mut nngp, n1, n2)),
            sigma_dot: None,
            ntk: Some(MatMut::from_row_major(&mut ntk, n1, n2)),
        },
        &mut Progress::none(),
    )
    .expect("limit kernels");
    (nngp, ntk)
}

/// Empirical NTK (trace mode, one output) between two point sets.
fn empirical(net: &Network, x1: &[f64], x2: &[f64]) -> Vec<f64> {
    let (n1, n2) = (x1.len() / 2, x2.len() / 2);
    empirical_ntk_vec(
        net,
        MatRef::from_row_major(x1, n1, 2),
        Some(MatRef::from_row_major(x2, n2, 2)),
        KernelMode::Trace,
        Method::Structured,
    )
    .expect("empirical kernel")
    .0
}

fn outputs(net: &Network, x: &[f64]) -> Vec<f64> {
    let n = x.len() / 2;
    let mut f = vec![0.0; n];
    net.forward(
        MatRef::from_row_major(x, n, 2),
        MatMut::from_row_major(&mut f, n, 1),
    )
    .expect("forward");
    f
}

/// Full-batch gradient descent with η = 1 for `steps` steps (t = steps) on MSE.
fn train(net: &mut Network, x: &[f64], y: &[f64], steps: usize) {
    let n = x.len() / 2;
    ntk::train::train(
        net,
        MatRef::from_row_major(x, n, 2),
        MatRef::from_row_major(y, n, 1),
        Cost::Mse,
        1.0,
        steps,
        None,
        &mut Progress::none(),
    )
    .expect("training");
}

/// Deterministic standard normals for targets (the library's documented stream).
fn normals(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = ntk::rng::Rng::new(seed);
    (0..n).map(|_| rng.normal()).collect()
}

/// Uniform angles in [−π, π) from the library's stream.
fn angles(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = ntk::rng::Rng::new(seed);
    (0..n).map(|_| -PI + 2.0 * PI * rng.uniform()).collect()
}

fn frobenius(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    frobenius(&d) / frobenius(b)
}

/// Least-squares slope of log y against log x.
pub fn loglog_slope(x: &[f64], y: &[f64]) -> f64 {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

/// Runs `work(i)` for i < n on the library's pool and returns the results in order
/// (each item is independent, so the results do not depend on the thread count).
fn par_map<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    use rayon::prelude::*;
    ntk::parallel::install(|| (0..n).into_par_iter().map(&work).collect())
}

/// Figure 1 data for one width.
#[derive(Clone, Debug)]
pub struct Fig1Width {
    pub width: usize,
    /// Θ(x_0, x_γ) per initialization at t = 0 and after training.
    pub at_init: Vec<Vec<f64>>,
    pub trained: Vec<Vec<f64>>,
}

#[derive(Clone, Debug)]
pub struct Fig1 {
    pub gammas: Vec<f64>,
    pub limit: Vec<f64>,
    pub widths: Vec<Fig1Width>,
}

/// Figure 1: Θ^(L)(x_0, x_γ), x_0 = (1, 0), at t = 0 and t = steps, against Θ_∞.
pub fn figure1(s: &Settings, mut report: impl FnMut(&str)) -> Fig1 {
    let gammas = gamma_grid(s.gamma_points);
    let grid = circle(&gammas);
    let x0 = [1.0, 0.0];
    let (_, limit) = limit_kernels(Activation::Relu, s.fig1_depth, &x0, &grid);
    let xtrain = circle(&angles(11, s.fig1_train_points));
    let ytrain = normals(12, s.fig1_train_points);
    let mut widths = Vec::new();
    for &n in &s.fig1_widths {
        let runs = par_map(s.fig1_inits, |i| {
            let mut net = relu_net(hidden(s.fig1_depth, n), 1000 + i as u64);
            let before = empirical(&net, &x0, &grid);
            train(&mut net, &xtrain, &ytrain, s.fig1_steps);
            let after = empirical(&net, &x0, &grid);
            (before, after)
        });
        report(&format!(
            "figure 1: width {n}, {} initializations trained to t = {}",
            s.fig1_inits, s.fig1_steps
        ));
        let (at_init, trained) = runs.into_iter().unzip();
        widths.push(Fig1Width {
            width: n,
            at_init,
            trained,
        });
    }
    Fig1 {
        gammas,
        limit,
        widths,
    }
}

#[derive(Clone, Debug)]
pub struct Fig2Width {
    pub width: usize,
    /// f_θ(x_γ) after training, per initialization.
    pub functions: Vec<Vec<f64>>,
}

#[derive(Clone, Debug)]
pub struct Fig2 {
    pub gammas: Vec<f64>,
    pub train_gammas: Vec<f64>,
    pub train_y: Vec<f64>,
    /// Mean and 10th / 90th percentiles of the limiting Gaussian law of f_∞.
    pub mean: Vec<f64>,
    pub p10: Vec<f64>,
    pub p90: Vec<f64>,
    pub widths: Vec<Fig2Width>,
}

/// z with Φ(z) = 0.9.
const Z90: f64 = 1.281_551_565_544_600_5;

/// Figure 2: trained networks against the limiting Gaussian distribution of the trained function.
///
/// At infinite width f_0 ~ GP(0, Σ) and training to t = ∞ gives
/// f_∞(x) = f_0(x) + Θ(x, X) Θ(X, X)⁻¹ (y − f_0(X)), a Gaussian with mean A(x) y, A = Θ(x, X)Θ⁻¹,
/// and variance Σ(x, x) − 2 A(x) Σ(X, x) + A(x) Σ(X, X) A(x)ᵀ. A is obtained from the library's
/// MSE flow at t = ∞ with the identity as targets (kernel regression of each unit vector).
pub fn figure2(s: &Settings, mut report: impl FnMut(&str)) -> Fig2 {
    let gammas = gamma_grid(s.gamma_points);
    let grid = circle(&gammas);
    let train_gammas = vec![-2.2, -0.9, 0.6, 1.9];
    let xtrain = circle(&train_gammas);
    let train_y = vec![-0.6, 0.4, 0.8, -0.3];
    let nt = train_gammas.len();
    let g = gammas.len();
    let depth = s.fig2_depth;
    let (sig_xx, theta_xx) = limit_kernels(Activation::Relu, depth, &xtrain, &xtrain);
    let (sig_gx, theta_gx) = limit_kernels(Activation::Relu, depth, &grid, &xtrain);
    let sig_gg_diag: Vec<f64> = (0..g)
        .map(|i| {
            limit_kernels(
                Activation::Relu,
                depth,
                &grid[2 * i..2 * i + 2],
                &grid[2 * i..2 * i + 2],
            )
            .0[0]
        })
        .collect();
    // A = Θ(grid, X) Θ(X, X)⁻¹ via kernel regression of the identity targets.
    let eye: Vec<f64> = (0..nt * nt)
        .map(|i| if i % (nt + 1) == 0 { 1.0 } else { 0.0 })
        .collect();
    let zeros_train = vec![0.0; nt * nt];
    let zeros_test = vec![0.0; g * nt];
    let mut flow = Flow::new(
        MatRef::from_row_major(&theta_xx, nt, nt),
        MatRef::from_row_major(&eye, nt, nt),
        MatRef::from_row_major(&zeros_train, nt, nt),
        Some((
            MatRef::from_row_major(&theta_gx, g, nt),
            MatRef::from_row_major(&zeros_test, g, nt),
        )),
        Cost::Mse,
        FlowOptions::default(),
    )
    .expect("flow");
    flow.set_time(f64::INFINITY).expect("t = inf");
    let a = flow.predictions().to_vec(); // g × nt
    let mut mean = vec![0.0; g];
    let mut p10 = vec![0.0; g];
    let mut p90 = vec![0.0; g];
    for i in 0..g {
        let ai = &a[i * nt..(i + 1) * nt];
        let m: f64 = ai.iter().zip(&train_y).map(|(p, q)| p * q).sum();
        let cross: f64 = ai
            .iter()
            .enumerate()
            .map(|(j, v)| v * sig_gx[i * nt + j])
            .sum();
        let mut quad = 0.0;
        for j in 0..nt {
            for k in 0..nt {
                quad += ai[j] * sig_xx[j * nt + k] * ai[k];
            }
        }
        let var = (sig_gg_diag[i] - 2.0 * cross + quad).max(0.0);
        mean[i] = m;
        p10[i] = m - Z90 * var.sqrt();
        p90[i] = m + Z90 * var.sqrt();
    }
    let mut widths = Vec::new();
    for &n in &s.fig2_widths {
        let functions = par_map(s.fig2_inits, |i| {
            let mut net = relu_net(hidden(depth, n), 2000 + i as u64);
            train(&mut net, &xtrain, &train_y, s.fig2_steps);
            outputs(&net, &grid)
        });
        report(&format!(
            "figure 2: width {n}, {} initializations trained to t = {}",
            s.fig2_inits, s.fig2_steps
        ));
        widths.push(Fig2Width {
            width: n,
            functions,
        });
    }
    Fig2 {
        gammas,
        train_gammas,
        train_y,
        mean,
        p10,
        p90,
        widths,
    }
}

/// `steps` steps of kernel gradient descent with η = 1 on MSE:
/// f ← f − (1/N) K (f − y) on the training points and f* ← f* − (1/N) K(X*, X) (f − y) on test
/// points; returns the test outputs.
pub fn kernel_gradient_descent(
    k_train: &[f64],
    k_test: &[f64],
    y: &[f64],
    f0_train: &[f64],
    f0_test: &[f64],
    steps: usize,
) -> Vec<f64> {
    let n = y.len();
    let m = f0_test.len();
    let (mut f, mut ft) = (f0_train.to_vec(), f0_test.to_vec());
    for _ in 0..steps {
        let r: Vec<f64> = f.iter().zip(y).map(|(a, b)| a - b).collect();
        for i in 0..n {
            f[i] -= (0..n).map(|j| k_train[i * n + j] * r[j]).sum::<f64>() / n as f64;
        }
        for i in 0..m {
            ft[i] -= (0..n).map(|j| k_test[i * n + j] * r[j]).sum::<f64>() / n as f64;
        }
    }
    ft
}

/// Convergence in numbers, per width (averages over seeds).
#[derive(Clone, Debug)]
pub struct ConvergenceRow {
    pub width: usize,
    /// ‖Θ_emp(0) − Θ_∞‖_F / ‖Θ_∞‖_F
    pub deviation_init: f64,
    /// ‖Θ_emp(t) − Θ_emp(0)‖_F / ‖Θ_emp(0)‖_F
    pub drift: f64,
    /// ‖f_θ(t) − f_K(t)‖ / ‖f_K(t) − f_0‖ on held-out points: the trained network vs kernel
    /// gradient descent with Θ_∞ from the same initial outputs.
    pub flow_gap: f64,
}

#[derive(Clone, Debug)]
pub struct Convergence {
    pub rows: Vec<ConvergenceRow>,
    pub slope_deviation: f64,
    pub slope_drift: f64,
    pub slope_flow_gap: f64,
}

/// Deviation at initialization, drift during training and network-vs-kernel-flow gap as functions
/// of width, with fitted log-log slopes (Theorems 5.1 and 5.2 predict −1/2).
pub fn convergence(s: &Settings, mut report: impl FnMut(&str)) -> Convergence {
    let depth = s.conv_depth;
    let xtrain = circle(&angles(21, s.conv_points));
    let ytrain = normals(22, s.conv_points);
    let xtest = circle(&gamma_grid(9));
    let (_, theta_inf) = limit_kernels(Activation::Relu, depth, &xtrain, &xtrain);
    let (_, theta_test) = limit_kernels(Activation::Relu, depth, &xtest, &xtrain);
    let mut rows = Vec::new();
    for &w in &s.conv_widths {
        let per_seed = par_map(s.conv_seeds, |seed| {
            let mut net = relu_net(hidden(depth, w), 5000 + seed as u64);
            let k0 = empirical(&net, &xtrain, &xtrain);
            let f0_train = outputs(&net, &xtrain);
            let f0_test = outputs(&net, &xtest);
            train(&mut net, &xtrain, &ytrain, s.conv_steps);
            let kt = empirical(&net, &xtrain, &xtrain);
            let ft_test = outputs(&net, &xtest);
            // Kernel gradient descent with the limit kernel, from the network's own initial
            // outputs, with the same learning rate: the discrete dynamics that the trained
            // network follows as n → ∞ (the continuous flow differs from both by an
            // η-discretization error that does not shrink with width).
            let pred = kernel_gradient_descent(
                &theta_inf,
                &theta_test,
                &ytrain,
                &f0_train,
                &f0_test,
                s.conv_steps,
            );
            let moved: Vec<f64> = pred.iter().zip(&f0_test).map(|(a, b)| a - b).collect();
            let gap = rel_diff(&ft_test, &pred) * frobenius(&pred) / frobenius(&moved);
            (rel_diff(&k0, &theta_inf), rel_diff(&kt, &k0), gap)
        });
        let m = per_seed.len() as f64;
        let row = ConvergenceRow {
            width: w,
            deviation_init: per_seed.iter().map(|r| r.0).sum::<f64>() / m,
            drift: per_seed.iter().map(|r| r.1).sum::<f64>() / m,
            flow_gap: per_seed.iter().map(|r| r.2).sum::<f64>() / m,
        };
        report(&format!(
            "convergence: width {w}: deviation {:.3e}, drift {:.3e}, flow gap {:.3e}",
            row.deviation_init, row.drift, row.flow_gap
        ));
        rows.push(row);
    }
    let xs: Vec<f64> = rows.iter().map(|r| r.width as f64).collect();
    let slope =
        |f: fn(&ConvergenceRow) -> f64| loglog_slope(&xs, &rows.iter().map(f).collect::<Vec<_>>());
    Convergence {
        slope_deviation: slope(|r| r.deviation_init),
        slope_drift: slope(|r| r.drift),
        slope_flow_gap: slope(|r| r.flow_gap),
        rows,
    }
}

/// Positive definiteness (Proposition 5.2): eigenvalues of Θ_∞ on distinct points of the circle.
#[derive(Clone, Debug)]
pub struct Spectra {
    /// Eigenvalues in descending order.
    pub relu: Vec<f64>,
    pub identity: Vec<f64>,
    /// Numerical rank of the identity-σ kernel (eigenvalues above 1e-10 · λ_max).
    pub identity_rank: usize,
}

pub fn spectra(s: &Settings) -> Spectra {
    let pts = circle(
        &(0..s.pd_points)
            .map(|k| -PI + 2.0 * PI * k as f64 / s.pd_points as f64)
            .collect::<Vec<_>>(),
    );
    let n = s.pd_points;
    let eig = |act: Activation| {
        let (_, k) = limit_kernels(act, s.pd_depth, &pts, &pts);
        let mut e =
            ntk::spectrum::eigenvalues(MatRef::from_row_major(&k, n, n)).expect("eigenvalues");
        e.sort_by(|a, b| b.partial_cmp(a).unwrap());
        e
    };
    let relu = eig(Activation::Relu);
    let identity = eig(Activation::Identity);
    let identity_rank = identity
        .iter()
        .filter(|&&v| v > 1e-10 * identity[0])
        .count();
    Spectra {
        relu,
        identity,
        identity_rank,
    }
}
