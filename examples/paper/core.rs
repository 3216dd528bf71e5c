//! The numeric core of the paper job: the experiments of Jacot, Gabriel & Hongler (2018),
//! section 6, on this library's public Rust API. By default ReLU, β = 0.1, η = 1, MSE, one
//! output, inputs on the unit circle x = (cos γ, sin γ), NTK parameterization, θ ~ N(0, 1); the
//! network of every experiment that trains is [`Settings::arch`] (σ_w, σ_b and activation per
//! layer, either parameterization), with the learning rate of [`Settings::learning_rate`].
//!
//! Shared by `examples/paper/main.rs` (full size, figures) and `tests/paper.rs` (reduced size,
//! asserting the scientific claims).

use ntk::activation::Activation;
use ntk::flow::Cost;
use ntk::kernel::empirical::{empirical_ntk_vec, KernelMethod, KernelMode};
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Architecture, LayerSpec, Network, NetworkConfig, Parameterization};
use ntk::parallel::Progress;
use ntk::predict::{ensemble_law_points, CovKind, Law, Ridge};
use std::f64::consts::PI;

pub const BETA: f64 = 0.1;

/// Where the experiments report progress and learn that they should stop (Ctrl-C in the
/// example; nothing in the tests). Implementations are called from the worker threads.
pub trait Monitor: Sync {
    /// A new phase of `total` units (`unit` names them, e.g. "training steps").
    fn phase(&self, name: &str, unit: &str, total: u64);
    /// `amount` more units done; `false` asks the work to stop.
    fn work(&self, amount: u64) -> bool;
    /// A finished intermediate result, one line.
    fn note(&self, msg: &str);
}

/// No display, never stops.
pub struct Silent;

impl Monitor for Silent {
    fn phase(&self, _: &str, _: &str, _: u64) {}
    fn work(&self, _: u64) -> bool {
        true
    }
    fn note(&self, _: &str) {}
}

/// The run was interrupted (the monitor asked to stop); finished phases keep their results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Stopped {}

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
    /// Figure 5 (the seed's section 3, F^lin): numbers of random features P, repetitions per P.
    pub fig5_features: Vec<usize>,
    pub fig5_seeds: usize,
    /// The network of every experiment that trains: σ_w, σ_b and activation per weight layer
    /// and the parameterization (its widths are a template `[2, 1, …, 1]`; each experiment sets
    /// its own, and its seeds). Default: σ_w = 1, σ_b = β, ReLU, NTK parameterization.
    pub arch: Architecture,
    /// c of the standard parameterization's learning rate η = c·2N/λ_max (see
    /// [`Settings::learning_rate`]); unused in the NTK parameterization.
    pub lr_fraction: f64,
}

/// The default network: depth L, σ_w = 1, σ_b = β, ReLU, NTK parameterization.
pub fn default_arch(depth: usize) -> Architecture {
    let mut widths = vec![2];
    widths.extend(std::iter::repeat_n(1, depth));
    Architecture::uniform(
        widths,
        Activation::Relu,
        1.0,
        BETA,
        Parameterization::Ntk,
        0,
    )
}

/// Activation names of the options (those of bindings/c/mpi/ntk_mpi_arch.h).
pub const ACTIVATION_NAMES: &str =
    "relu, erf, tanh, sigmoid, softplus, gelu, sin, cos, identity, leaky_relu:a";

fn parse_activation(v: &str) -> Result<Activation, String> {
    Ok(match v {
        "relu" => Activation::Relu,
        "erf" => Activation::Erf,
        "tanh" => Activation::Tanh,
        "sigmoid" => Activation::Sigmoid,
        "softplus" => Activation::Softplus,
        "gelu" => Activation::Gelu,
        "sin" => Activation::Sin,
        "cos" => Activation::Cos,
        "identity" => Activation::Identity,
        _ => match v.strip_prefix("leaky_relu:").map(str::parse::<f64>) {
            Some(Ok(a)) if a.is_finite() => Activation::LeakyRelu(a),
            Some(_) => {
                return Err(format!(
                    "--activation: {v:?} needs a finite slope (leaky_relu:0.1)"
                ))
            }
            None => {
                return Err(format!(
                    "--activation: unknown activation {v:?} (one of {ACTIVATION_NAMES})"
                ))
            }
        },
    })
}

/// Parses "v" or "v0,v1,…" of option `opt`: finite numbers, > 0 (`positive`) or ≥ 0.
fn parse_scales(opt: &str, v: &str, positive: bool) -> Result<Vec<f64>, String> {
    v.split(',')
        .enumerate()
        .map(|(l, t)| {
            let x: f64 = t
                .trim()
                .parse()
                .map_err(|_| format!("{opt}: {t:?} (entry {l} of {v:?}) is not a number"))?;
            if !x.is_finite() || x < 0.0 || (positive && x == 0.0) {
                return Err(format!(
                    "{opt}: entry {l} = {x} must be finite and {}",
                    if positive { "> 0" } else { "≥ 0" }
                ));
            }
            Ok(x)
        })
        .collect()
}

/// The architecture of the options `--w-std`, `--b-std`, `--activation`, `--parameterization`
/// (`None`: not given) for networks of `depth` weight layers, with ntk_mpi's conventions: σ lists
/// take 1 (uniform) or L values, activations 1 or L − 1 (one per hidden layer); defaults σ_w = 1,
/// σ_b = β, ReLU, NTK. Errors name the option.
pub fn arch_from_options(
    depth: usize,
    w_std: Option<&str>,
    b_std: Option<&str>,
    activation: Option<&str>,
    parameterization: Option<&str>,
) -> Result<Architecture, String> {
    let w = w_std.map_or(Ok(vec![1.0]), |v| parse_scales("--w-std", v, true))?;
    let b = b_std.map_or(Ok(vec![BETA]), |v| parse_scales("--b-std", v, false))?;
    let acts = activation.map_or(Ok(vec![Activation::Relu]), |v| {
        v.split(',').map(|t| parse_activation(t.trim())).collect()
    })?;
    let p = match parameterization.unwrap_or("ntk") {
        "ntk" => Parameterization::Ntk,
        "standard" => Parameterization::Standard,
        other => {
            return Err(format!(
                "--parameterization: {other:?} is not ntk or standard"
            ))
        }
    };
    for (opt, n, want) in [("--w-std", w.len(), depth), ("--b-std", b.len(), depth)] {
        if n != 1 && n != want {
            return Err(format!(
                "{opt}: {n} values for depth L = {depth} (give 1 or {want}, one per weight layer)"
            ));
        }
    }
    if acts.len() != 1 && acts.len() + 1 != depth {
        return Err(format!(
            "--activation: {} values for depth L = {depth} (give 1 or {}, one per hidden layer)",
            acts.len(),
            depth - 1
        ));
    }
    let pick = |v: &[f64], l: usize| if v.len() == 1 { v[0] } else { v[l] };
    let mut arch = default_arch(depth);
    arch.parameterization = p;
    arch.layers = (0..depth)
        .map(|l| LayerSpec {
            sigma_w: pick(&w, l),
            sigma_b: pick(&b, l),
            activation: (l + 1 < depth).then(|| acts[if acts.len() == 1 { 0 } else { l }].clone()),
        })
        .collect();
    arch.validate_layers()
        .map_err(|e| format!("architecture: {e}"))?;
    Ok(arch)
}

/// `--lr-fraction C`: 0 < C < 1 (C ≥ 1 is at or past the stability bound η = 2N/λ_max).
pub fn parse_lr_fraction(v: &str) -> Result<f64, String> {
    match v.trim().parse::<f64>() {
        Ok(c) if c > 0.0 && c < 1.0 => Ok(c),
        _ => Err(format!(
            "--lr-fraction: {v:?} must be a number in (0, 1) (η = C·2N/λ_max; C ≥ 1 diverges)"
        )),
    }
}

impl Settings {
    /// The architecture for an experiment of `depth` weight layers, hidden width `width`
    /// (widths [2, width, …, width, 1]) and `seed`. A uniform [`Settings::arch`] extends to any
    /// depth; a per-layer one must have `depth` layers (the option parser checks it).
    pub fn arch_for(&self, depth: usize, width: usize, seed: u64) -> Architecture {
        let t = &self.arch;
        let layers = if t.layers.len() == depth {
            t.layers.clone()
        } else {
            let (h, o) = (&t.layers[0], t.layers.last().expect("a layer"));
            assert!(
                t.layers[..t.layers.len() - 1]
                    .iter()
                    .all(|l| l.sigma_w == h.sigma_w
                        && l.sigma_b == h.sigma_b
                        && format!("{:?}", l.activation) == format!("{:?}", h.activation))
                    && o.sigma_w == h.sigma_w
                    && o.sigma_b == h.sigma_b,
                "a per-layer architecture of depth {} used at depth {depth}",
                t.layers.len()
            );
            (0..depth)
                .map(|l| LayerSpec {
                    activation: if l + 1 < depth {
                        h.activation.clone().or(Some(Activation::Identity))
                    } else {
                        None
                    },
                    ..h.clone()
                })
                .collect()
        };
        Architecture {
            widths: hidden(depth, width),
            layers,
            parameterization: t.parameterization,
            seed,
        }
    }

    /// True for the default network (σ_w = 1, σ_b = β, ReLU, NTK parameterization).
    pub fn default_network(&self) -> bool {
        matches!(self.arch.as_legacy(), Some((Activation::Relu, b)) if b == BETA)
    }

    /// "ReLU" for the default network, else its activations, parameterization and scales.
    pub fn network_name(&self) -> String {
        if self.default_network() {
            return "ReLU".into();
        }
        let a = &self.arch;
        let list = |f: &dyn Fn(&LayerSpec) -> String| {
            let v: Vec<String> = a.layers.iter().map(f).collect();
            if v.iter().all(|x| *x == v[0]) {
                v[0].clone()
            } else {
                v.join(",")
            }
        };
        let acts: Vec<String> = a.layers[..a.layers.len() - 1]
            .iter()
            .map(|l| {
                l.activation
                    .as_ref()
                    .map_or("-".into(), |x| x.name().to_string())
            })
            .collect();
        let acts = if acts.iter().all(|x| *x == acts[0]) {
            acts[0].clone()
        } else {
            acts.join(",")
        };
        format!(
            "{acts}, {} param., σ_w = {}, σ_b = {}",
            match a.parameterization {
                Parameterization::Ntk => "NTK",
                Parameterization::Standard => "standard",
            },
            list(&|l| format!("{}", l.sigma_w)),
            list(&|l| format!("{}", l.sigma_b))
        )
    }

    /// The learning rate of gradient descent on the training points `xtrain` for networks of
    /// architecture `arch` (its widths matter in the standard parameterization):
    /// - NTK parameterization: η = 1 (the paper's; Θ_∞ is O(1) in the widths);
    /// - standard parameterization: η = c·2N/λ_max(Θ_∞(X, X)), c = [`Settings::lr_fraction`]:
    ///   Θ_∞ grows like the widths there (Θ^(l+1) = Θ^(l)Σ̇ + n_l E + 1), and a step
    ///   f ← f − (η/N)Θ(f − y) is stable iff η λ_max/N < 2, so η is that bound times c.
    ///
    /// Cost: one limit Gram on N points and its eigenvalues, O(N²·L + N³).
    pub fn learning_rate(&self, arch: &Architecture, xtrain: &[f64]) -> f64 {
        if arch.parameterization == Parameterization::Ntk {
            return 1.0;
        }
        let n = xtrain.len() / 2;
        let (_, theta) = limit_kernels_arch(arch, xtrain, xtrain);
        let ev = ntk::spectrum::eigenvalues(MatRef::from_row_major(&theta, n, n))
            .expect("eigenvalues of the training Gram");
        let lmax = ev.iter().cloned().fold(0.0, f64::max);
        self.lr_fraction * 2.0 * n as f64 / lmax
    }

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
            fig5_features: vec![16, 64, 256, 1024, 4096, 16384, 65536],
            fig5_seeds: 6,
            arch: default_arch(4),
            lr_fraction: 0.5,
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
            fig5_features: vec![16, 64, 256, 1024, 4096],
            fig5_seeds: 4,
            arch: default_arch(4),
            lr_fraction: 0.5,
        }
    }
}

/// A training time t = steps·η: as an integer when it is one (η = 1: "200"), else 4 digits.
pub fn fmt_t(t: f64) -> String {
    if t.is_infinite() {
        "inf".into()
    } else if t.fract() == 0.0 {
        format!("{t}")
    } else {
        format!("{t:.4}")
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

/// The network of `arch` (θ from `arch.seed`).
fn arch_net(arch: Architecture) -> Network {
    Network::with_architecture(arch).expect("valid network")
}

/// Limit NNGP Σ and NTK Θ_∞ between two sets of points on the plane (row-major N1 × N2 each)
/// of the depth-L network with σ_w = 1, σ_b = β and activation `act`, NTK parameterization.
pub fn limit_kernels(
    act: Activation,
    depth: usize,
    x1: &[f64],
    x2: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    limit_kernels_spec(&LimitSpec::new(depth, act, BETA), x1, x2)
}

/// [`limit_kernels`] of an architecture (its widths matter in the standard parameterization;
/// the default architecture gives exactly [`limit_kernels`] of ReLU).
pub fn limit_kernels_arch(arch: &Architecture, x1: &[f64], x2: &[f64]) -> (Vec<f64>, Vec<f64>) {
    limit_kernels_spec(&LimitSpec::of_architecture(arch), x1, x2)
}

fn limit_kernels_spec(spec: &LimitSpec, x1: &[f64], x2: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (n1, n2) = (x1.len() / 2, x2.len() / 2);
    let mut nngp = vec![0.0; n1 * n2];
    let mut ntk = vec![0.0; n1 * n2];
    limit_kernel(
        spec,
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
        KernelMethod::Structured,
    )
    .expect("empirical kernel")
    .0
}

/// The empirical kernel K(x1, x2) computed in blocks of 16 columns, each reported to `mon` as
/// its number of points (one forward-backward pass per point), so that progress moves and Ctrl-C
/// is honoured during the kernels of wide networks (tens of seconds at width 10000).
fn empirical_mon(
    net: &Network,
    x1: &[f64],
    x2: &[f64],
    mon: &dyn Monitor,
) -> Result<Vec<f64>, Stopped> {
    let (n1, n2) = (x1.len() / 2, x2.len() / 2);
    let mut k = vec![0.0; n1 * n2];
    let mut j0 = 0;
    while j0 < n2 {
        let j1 = (j0 + 16).min(n2);
        let block = empirical(net, x1, &x2[2 * j0..2 * j1]);
        for i in 0..n1 {
            k[i * n2 + j0..i * n2 + j1].copy_from_slice(&block[i * (j1 - j0)..(i + 1) * (j1 - j0)]);
        }
        let passes = (j1 - j0) + if j0 == 0 { n1 } else { 0 };
        if !mon.work(passes as u64) {
            return Err(Stopped);
        }
        j0 = j1;
    }
    Ok(k)
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

/// Full-batch gradient descent with learning rate `eta` for `steps` steps (t = steps·η) on MSE; each step on N
/// points is N units (forward-backward passes) of `mon`, which can stop it between steps (the
/// library's progress callback).
fn train(
    net: &mut Network,
    x: &[f64],
    y: &[f64],
    eta: f64,
    steps: usize,
    mon: &dyn Monitor,
) -> Result<(), Stopped> {
    let n = x.len() / 2;
    let mut last = 0u64;
    let mut cb = |done: u64, _total: u64| {
        let go = mon.work(done.saturating_sub(last) * n as u64);
        last = done;
        go
    };
    match ntk::train::train(
        net,
        MatRef::from_row_major(x, n, 2),
        MatRef::from_row_major(y, n, 1),
        Cost::Mse,
        eta,
        steps,
        None,
        &mut Progress::new(&mut cb),
    ) {
        Ok(()) => Ok(()),
        Err(ntk::error::Error::Cancelled) => Err(Stopped),
        Err(e) => panic!("training: {e}"),
    }
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
///
/// Items run in waves of one per thread: a rayon thread that waits inside an item's own parallel
/// work (training uses the pool too) may steal another item and start it, so without waves more
/// than one network per thread could be alive at once; at width 10000 (4.8 GB per network in
/// training) the memory bound of [`estimate`] relies on this.
fn par_map<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    use rayon::prelude::*;
    let wave = ntk::parallel::num_threads().max(1);
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(wave) {
        let end = (start + wave).min(n);
        // Without a thread pool (threads refused by the system) the wave runs on this thread:
        // each item is computed the same way, so the results are the same.
        match ntk::parallel::install(|| (start..end).into_par_iter().map(&work).collect::<Vec<T>>())
        {
            Ok(items) => out.extend(items),
            Err(_) => out.extend((start..end).map(&work)),
        }
    }
    out
}

/// The unit of progress: one forward-backward pass of one point through a network (a training
/// step on N points is N passes; an empirical kernel between N1 and N2 points is N1 + N2).
const PASSES: &str = "forward-backward passes";

/// Passes per width of each phase (all its networks).
fn fig1_passes(s: &Settings) -> usize {
    s.fig1_inits * (s.fig1_steps * s.fig1_train_points + 2 * (1 + s.gamma_points))
}
fn fig2_passes(s: &Settings) -> usize {
    s.fig2_inits * s.fig2_steps * 4
}
fn conv_passes(s: &Settings) -> usize {
    let n = s.conv_points;
    s.conv_seeds * (s.conv_steps * n + 2 * n + (9 + n) + 2 * n)
}

/// Figure 1 data for one width.
#[derive(Clone, Debug)]
pub struct Fig1Width {
    pub width: usize,
    /// Θ(x_0, x_γ) per initialization at t = 0 and after training.
    pub at_init: Vec<Vec<f64>>,
    pub trained: Vec<Vec<f64>>,
    /// Θ_∞(x_0, x_γ) of this width's architecture (the same for every width in the NTK
    /// parameterization; it grows with the widths in the standard one).
    pub limit: Vec<f64>,
    /// The learning rate of the training ([`Settings::learning_rate`]).
    pub eta: f64,
}

#[derive(Clone, Debug)]
pub struct Fig1 {
    pub gammas: Vec<f64>,
    /// Θ_∞(x_0, x_γ) of the first width (every width's in the NTK parameterization).
    pub limit: Vec<f64>,
    pub widths: Vec<Fig1Width>,
}

/// Figure 1: Θ^(L)(x_0, x_γ), x_0 = (1, 0), at t = 0 and t = steps, against Θ_∞.
pub fn figure1(s: &Settings, mon: &dyn Monitor) -> Result<Fig1, Stopped> {
    let gammas = gamma_grid(s.gamma_points);
    let grid = circle(&gammas);
    let x0 = [1.0, 0.0];
    let xtrain = circle(&angles(11, s.fig1_train_points));
    let ytrain = normals(12, s.fig1_train_points);
    let mut widths: Vec<Fig1Width> = Vec::new();
    let standard = s.arch.parameterization == Parameterization::Standard;
    for &n in &s.fig1_widths {
        // The limit of this width's architecture: computed once in the NTK parameterization,
        // where it does not depend on the widths.
        let arch_n = s.arch_for(s.fig1_depth, n, 0);
        let limit = match widths.first() {
            Some(w) if !standard => w.limit.clone(),
            _ => limit_kernels_arch(&arch_n, &x0, &grid).1,
        };
        let eta = s.learning_rate(&arch_n, &xtrain);
        mon.phase(
            &format!("figure 1, width {n}, {} networks", s.fig1_inits),
            PASSES,
            fig1_passes(s) as u64,
        );
        let runs = par_map(s.fig1_inits, |i| {
            // An item that starts after Ctrl-C stops before building its network.
            if !mon.work(0) {
                return Err(Stopped);
            }
            let mut net = arch_net(s.arch_for(s.fig1_depth, n, 1000 + i as u64));
            let before = empirical_mon(&net, &x0, &grid, mon)?;
            train(&mut net, &xtrain, &ytrain, eta, s.fig1_steps, mon)?;
            let after = empirical_mon(&net, &x0, &grid, mon)?;
            Ok((before, after))
        })
        .into_iter()
        .collect::<Result<Vec<_>, Stopped>>()?;
        mon.note(&format!(
            "figure 1: width {n}, {} initializations trained to t = {}",
            s.fig1_inits,
            fmt_t(s.fig1_steps as f64 * eta)
        ));
        let (at_init, trained) = runs.into_iter().unzip();
        widths.push(Fig1Width {
            width: n,
            at_init,
            trained,
            limit,
            eta,
        });
    }
    Ok(Fig1 {
        gammas,
        limit: widths[0].limit.clone(),
        widths,
    })
}

#[derive(Clone, Debug)]
pub struct Fig2Width {
    pub width: usize,
    /// f_θ(x_γ) after training, per initialization.
    pub functions: Vec<Vec<f64>>,
    /// The limit law of this width's architecture at t = steps·η and t = ∞ (the same for every
    /// width in the NTK parameterization).
    pub bands: Vec<Band>,
    /// The learning rate of the training ([`Settings::learning_rate`]).
    pub eta: f64,
}

/// The limiting Gaussian law of f_t on a set of points: mean and 10th / 90th percentiles.
#[derive(Clone, Debug)]
pub struct Band {
    /// Training time (f64::INFINITY for the end of training).
    pub t: f64,
    pub mean: Vec<f64>,
    pub p10: Vec<f64>,
    pub p90: Vec<f64>,
}

impl Band {
    /// Fraction of the values f[i] (over all curves) with p10[i] ≤ f[i] ≤ p90[i].
    pub fn coverage(&self, curves: &[Vec<f64>]) -> f64 {
        let inside = curves
            .iter()
            .flat_map(|f| f.iter().enumerate())
            .filter(|(i, v)| **v >= self.p10[*i] && **v <= self.p90[*i])
            .count();
        inside as f64 / (curves.len() * self.mean.len()).max(1) as f64
    }
}

#[derive(Clone, Debug)]
pub struct Fig2 {
    pub gammas: Vec<f64>,
    pub train_gammas: Vec<f64>,
    pub train_y: Vec<f64>,
    /// The limit law at the trained time t = steps·η and at t = ∞, of the widest width (every
    /// width's in the NTK parameterization).
    pub bands: Vec<Band>,
    pub widths: Vec<Fig2Width>,
}

impl Fig2 {
    /// The band at the trained time (t = steps).
    pub fn trained_band(&self) -> &Band {
        &self.bands[0]
    }
}

/// z with Φ(z) = 0.9.
const Z90: f64 = 1.281_551_565_544_600_5;

/// The law of the trained function f_t at the points `x` (row-major, 2 columns) of an
/// infinitely wide ReLU network of depth `depth`, trained on (`xtrain`, `ytrain`) by MSE gradient
/// flow for time t (t = ∞ allowed), from the library's predictive law
/// ([`ntk::predict::ensemble_law_points`], the NTK-GP law of Theorem 5.2):
///
/// at infinite width f_0 ~ GP(0, Σ) and the flow ∂_t f = −(1/N) Θ (f − y) gives
/// f_t(x) = f_0(x) + A_t(x) (y − f_0(X)) with A_t(x) = Θ(x, X) Θ(X, X)⁻¹ (I − e^{−tΘ(X,X)/N}):
/// a Gaussian with mean A_t(x) y and variance Σ(x, x) − 2 A_t(x) Σ(X, x) + A_t(x) Σ(X, X) A_t(x)ᵀ.
/// The band is mean ± z₀.₉·√variance. Cost: O(N³ + M N²) for M points, N training points.
#[allow(dead_code)] // used by tests/paper.rs
pub fn limit_band(depth: usize, xtrain: &[f64], ytrain: &[f64], x: &[f64], t: f64) -> Band {
    limit_band_spec(
        &LimitSpec::new(depth, Activation::Relu, BETA),
        xtrain,
        ytrain,
        x,
        t,
    )
}

/// [`limit_band`] of any network's limit kernels.
pub fn limit_band_spec(
    spec: &LimitSpec,
    xtrain: &[f64],
    ytrain: &[f64],
    x: &[f64],
    t: f64,
) -> Band {
    let (nt, g) = (ytrain.len(), x.len() / 2);
    let law = ensemble_law_points(
        spec,
        Law::Ntk,
        MatRef::from_row_major(xtrain, nt, 2),
        MatRef::from_row_major(ytrain, nt, 1),
        MatRef::from_row_major(x, g, 2),
        &[t],
        CovKind::Diagonal,
        Ridge::Absolute(0.0),
        &mut Progress::none(),
    )
    .expect("predictive law of Figure 2");
    let law = &law[0];
    let mut band = Band {
        t,
        mean: vec![0.0; g],
        p10: vec![0.0; g],
        p90: vec![0.0; g],
    };
    for i in 0..g {
        let (m, sd) = (law.mean[i], law.cov[i].max(0.0).sqrt());
        band.mean[i] = m;
        band.p10[i] = m - Z90 * sd;
        band.p90[i] = m + Z90 * sd;
    }
    band
}

/// Figure 2: trained networks against the limiting Gaussian distribution of the trained function
/// at the trained time and at t = ∞ ([`limit_band`]).
pub fn figure2(s: &Settings, mon: &dyn Monitor) -> Result<Fig2, Stopped> {
    let gammas = gamma_grid(s.gamma_points);
    let grid = circle(&gammas);
    let train_gammas = vec![-2.2, -0.9, 0.6, 1.9];
    let xtrain = circle(&train_gammas);
    let train_y = vec![-0.6, 0.4, 0.8, -0.3];
    let depth = s.fig2_depth;
    let standard = s.arch.parameterization == Parameterization::Standard;
    // The law at t = steps·η (the flow time of `steps` steps) and at t = ∞.
    let bands_of = |arch: &Architecture, eta: f64| -> Vec<Band> {
        let spec = LimitSpec::of_architecture(arch);
        [s.fig2_steps as f64 * eta, f64::INFINITY]
            .into_iter()
            .map(|t| limit_band_spec(&spec, &xtrain, &train_y, &grid, t))
            .collect()
    };
    let mut widths: Vec<Fig2Width> = Vec::new();
    for &n in &s.fig2_widths {
        let arch_n = s.arch_for(depth, n, 0);
        let eta = s.learning_rate(&arch_n, &xtrain);
        let bands = match widths.first() {
            Some(w) if !standard => w.bands.clone(),
            _ => bands_of(&arch_n, eta),
        };
        mon.phase(
            &format!("figure 2, width {n}, {} networks", s.fig2_inits),
            PASSES,
            fig2_passes(s) as u64,
        );
        let functions = par_map(s.fig2_inits, |i| {
            // An item that starts after Ctrl-C stops before building its network.
            if !mon.work(0) {
                return Err(Stopped);
            }
            let mut net = arch_net(s.arch_for(depth, n, 2000 + i as u64));
            train(&mut net, &xtrain, &train_y, eta, s.fig2_steps, mon)?;
            Ok(outputs(&net, &grid))
        })
        .into_iter()
        .collect::<Result<Vec<_>, Stopped>>()?;
        mon.note(&format!(
            "figure 2: width {n}, {} initializations trained to t = {}",
            s.fig2_inits,
            fmt_t(s.fig2_steps as f64 * eta)
        ));
        widths.push(Fig2Width {
            width: n,
            functions,
            bands,
            eta,
        });
    }
    Ok(Fig2 {
        gammas,
        train_gammas,
        train_y,
        bands: widths.last().expect("a width").bands.clone(),
        widths,
    })
}

/// `steps` steps of kernel gradient descent with learning rate η on MSE:
/// f ← f − (η/N) K (f − y) on the training points and f* ← f* − (η/N) K(X*, X) (f − y) on test
/// points; returns the test outputs. (η = 1 multiplies exactly: the paper's bits.)
pub fn kernel_gradient_descent(
    k_train: &[f64],
    k_test: &[f64],
    y: &[f64],
    f0_train: &[f64],
    f0_test: &[f64],
    eta: f64,
    steps: usize,
) -> Vec<f64> {
    let n = y.len();
    let m = f0_test.len();
    let (mut f, mut ft) = (f0_train.to_vec(), f0_test.to_vec());
    for _ in 0..steps {
        let r: Vec<f64> = f.iter().zip(y).map(|(a, b)| a - b).collect();
        for i in 0..n {
            f[i] -= eta * ((0..n).map(|j| k_train[i * n + j] * r[j]).sum::<f64>() / n as f64);
        }
        for i in 0..m {
            ft[i] -= eta * ((0..n).map(|j| k_test[i * n + j] * r[j]).sum::<f64>() / n as f64);
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
    /// The same gap with the network's own initial kernel Θ_emp(0) instead of Θ_∞: what remains
    /// is only the kernel's motion during training (zero for a linear model, Figure 5).
    pub lazy_gap: f64,
    /// The learning rate of network and kernel gradient descent ([`Settings::learning_rate`]).
    pub eta: f64,
}

#[derive(Clone, Debug)]
pub struct Convergence {
    pub rows: Vec<ConvergenceRow>,
    pub slope_deviation: f64,
    pub slope_drift: f64,
    pub slope_flow_gap: f64,
    pub slope_lazy_gap: f64,
}

/// ‖f − g‖ / ‖g − f0‖: the distance of f from the prediction g, relative to how far g moved.
fn relative_gap(f: &[f64], g: &[f64], f0: &[f64]) -> f64 {
    let moved: Vec<f64> = g.iter().zip(f0).map(|(a, b)| a - b).collect();
    rel_diff(f, g) * frobenius(g) / frobenius(&moved)
}

/// Deviation at initialization, drift during training and network-vs-kernel-flow gap as functions
/// of width, with fitted log-log slopes (Theorems 5.1 and 5.2 predict −1/2).
pub fn convergence(s: &Settings, mon: &dyn Monitor) -> Result<Convergence, Stopped> {
    let depth = s.conv_depth;
    let xtrain = circle(&angles(21, s.conv_points));
    let ytrain = normals(22, s.conv_points);
    let xtest = circle(&gamma_grid(9));
    let standard = s.arch.parameterization == Parameterization::Standard;
    // Θ_∞ on (train, train) and (test, train) of a width's architecture: the same for every
    // width in the NTK parameterization (computed once), per width in the standard one.
    let limits = |w: usize| {
        let a = s.arch_for(depth, w, 0);
        (
            limit_kernels_arch(&a, &xtrain, &xtrain).1,
            limit_kernels_arch(&a, &xtest, &xtrain).1,
        )
    };
    let first = limits(s.conv_widths[0]);
    let mut rows = Vec::new();
    for &w in &s.conv_widths {
        let own;
        let (theta_inf, theta_test) = if standard {
            own = limits(w);
            (&own.0, &own.1)
        } else {
            (&first.0, &first.1)
        };
        let eta = s.learning_rate(&s.arch_for(depth, w, 0), &xtrain);
        mon.phase(
            &format!("convergence, width {w}, {} networks", s.conv_seeds),
            PASSES,
            conv_passes(s) as u64,
        );
        let per_seed = par_map(s.conv_seeds, |seed| {
            // An item that starts after Ctrl-C stops before building its network.
            if !mon.work(0) {
                return Err(Stopped);
            }
            let mut net = arch_net(s.arch_for(depth, w, 5000 + seed as u64));
            let k0 = empirical_mon(&net, &xtrain, &xtrain, mon)?;
            let k0_test = empirical_mon(&net, &xtest, &xtrain, mon)?;
            let f0_train = outputs(&net, &xtrain);
            let f0_test = outputs(&net, &xtest);
            train(&mut net, &xtrain, &ytrain, eta, s.conv_steps, mon)?;
            let kt = empirical_mon(&net, &xtrain, &xtrain, mon)?;
            let ft_test = outputs(&net, &xtest);
            // Kernel gradient descent with the limit kernel, from the network's own initial
            // outputs, with the same learning rate: the discrete dynamics that the trained
            // network follows as n → ∞ (the continuous flow differs from both by an
            // η-discretization error that does not shrink with width).
            let pred = kernel_gradient_descent(
                theta_inf,
                theta_test,
                &ytrain,
                &f0_train,
                &f0_test,
                eta,
                s.conv_steps,
            );
            let lazy = kernel_gradient_descent(
                &k0,
                &k0_test,
                &ytrain,
                &f0_train,
                &f0_test,
                eta,
                s.conv_steps,
            );
            Ok([
                rel_diff(&k0, theta_inf),
                rel_diff(&kt, &k0),
                relative_gap(&ft_test, &pred, &f0_test),
                relative_gap(&ft_test, &lazy, &f0_test),
            ])
        })
        .into_iter()
        .collect::<Result<Vec<_>, Stopped>>()?;
        let m = per_seed.len() as f64;
        let mean = |j: usize| per_seed.iter().map(|r| r[j]).sum::<f64>() / m;
        let row = ConvergenceRow {
            width: w,
            deviation_init: mean(0),
            drift: mean(1),
            flow_gap: mean(2),
            lazy_gap: mean(3),
            eta,
        };
        mon.note(&format!(
            "convergence: width {w}: deviation {:.3e}, drift {:.3e}, flow gap {:.3e}, gap to Θ(0) flow {:.3e}",
            row.deviation_init, row.drift, row.flow_gap, row.lazy_gap
        ));
        rows.push(row);
    }
    let xs: Vec<f64> = rows.iter().map(|r| r.width as f64).collect();
    let slope =
        |f: fn(&ConvergenceRow) -> f64| loglog_slope(&xs, &rows.iter().map(f).collect::<Vec<_>>());
    Ok(Convergence {
        slope_deviation: slope(|r| r.deviation_init),
        slope_drift: slope(|r| r.drift),
        slope_flow_gap: slope(|r| r.flow_gap),
        slope_lazy_gap: slope(|r| r.lazy_gap),
        rows,
    })
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

/// Always ReLU and the identity at σ_w = 1, σ_b = β (NTK parameterization), whatever
/// [`Settings::arch`]: Proposition 5.2 contrasts these two activations, and nothing trains here.
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

/// Figure 5: the seed's section 3, the random-function model
/// F^lin: f_θ(x) = (1/√P) Σ_p θ_p f^(p)(x), with P random functions
/// f^(p)(x) = σ(w_p·x/√n_0 + β b_p), w_p ~ N(0, I), b_p ~ N(0, 1): the units of a random first
/// layer (NTK parameterization). Its kernel K̃ = (1/P) Σ_p f^(p) ⊗ f^(p) tends to
/// K = E[f^(p) ⊗ f^(p)] = Σ^(2) − β² (the depth-2 NNGP minus the bias) at the rate P^(−1/2)
/// (law of large numbers), and gradient descent on θ is kernel gradient descent with K̃, exactly:
/// one step changes f by −(1/N) K̃(·, X)(f(X) − y) for any P.
#[derive(Clone, Debug)]
pub struct Fig5Row {
    pub features: usize,
    /// ‖K̃ − K‖_F / ‖K‖_F on training and test points (mean over seeds).
    pub kernel_deviation: f64,
    /// ‖f_θ(t) − f_K̃(t)‖ / ‖f_K̃(t) − f_0‖ on the test points after `conv_steps` steps: parameter
    /// GD against kernel GD with K̃ (maximum over seeds; rounding only).
    pub gd_gap: f64,
}

#[derive(Clone, Debug)]
pub struct Fig5 {
    pub rows: Vec<Fig5Row>,
    pub slope_kernel_deviation: f64,
}

/// Figure 5's numbers (see [`Fig5Row`]). The random functions are the units of the first layer
/// of [`Settings::arch`]: f^(p)(x) = σ_0(σ_w^(0) w_p·x/√n_0 + σ_b^(0) b_p) with its activation σ_0,
/// and K = E[f^(p) ⊗ f^(p)] is the depth-2 NNGP of that layer followed by a layer with σ_w = 1,
/// σ_b = 0 (for the default network Σ^(2) − β², as the paper). The parameterization does not
/// enter: the first layer's pre-activations have the law N(0, σ_w²|x|²/n_0 + σ_b²) in both, and
/// the model trains only θ under its own 1/√P scaling, so K̃ is O(1) and η = 1 stays stable.
/// Cost O(Σ P · (N + M) · (N + M + steps)).
pub fn random_features(s: &Settings, mon: &dyn Monitor) -> Result<Fig5, Stopped> {
    let xtrain = circle(&angles(21, s.conv_points));
    let ytrain = normals(22, s.conv_points);
    let xtest = circle(&gamma_grid(9));
    let (n, m) = (s.conv_points, 9);
    let all: Vec<f64> = xtrain.iter().chain(&xtest).copied().collect();
    let q = n + m;
    let l0 = s.arch.layers[0].clone();
    let (sw, sb) = (l0.sigma_w, l0.sigma_b);
    let act0 = l0.activation.clone().unwrap_or(Activation::Identity);
    let default = s.default_network();
    let k: Vec<f64> = if default {
        let (sigma2, _) = limit_kernels(Activation::Relu, 2, &all, &all);
        sigma2.iter().map(|v| v - BETA * BETA).collect()
    } else {
        let arch2 = Architecture {
            widths: vec![2, 1, 1],
            layers: vec![
                LayerSpec {
                    activation: Some(act0.clone()),
                    ..l0.clone()
                },
                LayerSpec {
                    sigma_w: 1.0,
                    sigma_b: 0.0,
                    activation: None,
                },
            ],
            parameterization: Parameterization::Ntk,
            seed: 0,
        };
        limit_kernels_arch(&arch2, &all, &all).0
    };
    mon.phase(
        &format!("figure 5, F^lin, {} values of P", s.fig5_features.len()),
        "feature sets",
        (s.fig5_features.len() * s.fig5_seeds) as u64,
    );
    let mut rows = Vec::new();
    for &p in &s.fig5_features {
        let per_seed = par_map(s.fig5_seeds, |seed| {
            let mut rng = ntk::rng::Rng::new(7000 + 100 * p as u64 + seed as u64);
            // Features φ[i][p] = f^(p)(x_i) / √P, so that K̃ = φ φᵀ and f = φ θ.
            let mut phi = vec![0.0; q * p];
            for j in 0..p {
                let (w0, w1, b) = (rng.normal(), rng.normal(), rng.normal());
                for i in 0..q {
                    // σ_w = 1 multiplies exactly: the default network's bits.
                    let pre = sw * ((w0 * all[2 * i] + w1 * all[2 * i + 1]) / 2f64.sqrt()) + sb * b;
                    let f = if default {
                        pre.max(0.0)
                    } else {
                        act0.sigma(pre)
                    };
                    phi[i * p + j] = f / (p as f64).sqrt();
                }
            }
            let mut kt = vec![0.0; q * q];
            for i in 0..q {
                for l in 0..q {
                    kt[i * q + l] = (0..p).map(|j| phi[i * p + j] * phi[l * p + j]).sum();
                }
            }
            // Parameter gradient descent on C = (1/2N) Σ_i (f(x_i) − y_i)², η = 1.
            let mut theta: Vec<f64> = (0..p).map(|_| rng.normal()).collect();
            let f_of = |theta: &[f64], i: usize| -> f64 {
                (0..p).map(|j| phi[i * p + j] * theta[j]).sum()
            };
            let f0: Vec<f64> = (0..q).map(|i| f_of(&theta, i)).collect();
            for _ in 0..s.conv_steps {
                let r: Vec<f64> = (0..n).map(|i| f_of(&theta, i) - ytrain[i]).collect();
                for j in 0..p {
                    let g: f64 = (0..n).map(|i| r[i] * phi[i * p + j]).sum::<f64>() / n as f64;
                    theta[j] -= g;
                }
            }
            let ft: Vec<f64> = (n..q).map(|i| f_of(&theta, i)).collect();
            let k_train: Vec<f64> = (0..n)
                .flat_map(|i| (0..n).map(move |l| (i, l)))
                .map(|(i, l)| kt[i * q + l])
                .collect();
            let k_test: Vec<f64> = (n..q)
                .flat_map(|i| (0..n).map(move |l| (i, l)))
                .map(|(i, l)| kt[i * q + l])
                .collect();
            let pred = kernel_gradient_descent(
                &k_train,
                &k_test,
                &ytrain,
                &f0[..n],
                &f0[n..],
                1.0,
                s.conv_steps,
            );
            let go = mon.work(1);
            let out = (rel_diff(&kt, &k), relative_gap(&ft, &pred, &f0[n..]));
            if go {
                Ok(out)
            } else {
                Err(Stopped)
            }
        })
        .into_iter()
        .collect::<Result<Vec<_>, Stopped>>()?;
        let row = Fig5Row {
            features: p,
            kernel_deviation: per_seed.iter().map(|r| r.0).sum::<f64>() / per_seed.len() as f64,
            gd_gap: per_seed.iter().map(|r| r.1).fold(0.0, f64::max),
        };
        rows.push(row);
    }
    let ps: Vec<f64> = rows.iter().map(|r| r.features as f64).collect();
    let devs: Vec<f64> = rows.iter().map(|r| r.kernel_deviation).collect();
    let fig = Fig5 {
        slope_kernel_deviation: loglog_slope(&ps, &devs),
        rows,
    };
    mon.note(&format!(
        "figure 5: F^lin, ‖K̃ − K‖/‖K‖ slope {:.3} over P = {}…{}, parameter GD vs kernel GD with K̃ ≤ {:.1e}",
        fig.slope_kernel_deviation,
        s.fig5_features[0],
        s.fig5_features.last().unwrap(),
        fig.rows.iter().map(|r| r.gd_gap).fold(0.0, f64::max)
    ));
    Ok(fig)
}

/// Number of parameters of the depth-L, width-n network on 2 inputs with one output.
pub fn params(depth: usize, width: usize) -> usize {
    let w = hidden(depth, width);
    w.windows(2).map(|p| p[0] * p[1] + p[1]).sum()
}

/// The run's predicted time (s) and peak memory (bytes) on this machine. Each phase costs its
/// forward-backward passes × parameters × c(P), where c, the time per pass and parameter at full
/// occupancy (`threads` networks at once, the experiments' own parallelism), is measured here in
/// about 0.5 s at two sizes: a network whose parameters fit in cache (width 512) and one whose do
/// not (width 2048, memory-bound like the widest ones). Widths up to 1024 use the first (this
/// predicted the default run to 2 %), widths from 2048 on the second, and c is interpolated in
/// log P between. The prediction scales with the machine's load at calibration time. Memory: each network being trained holds θ, its gradient and the
/// previous θ (24 bytes per parameter), and `threads` networks are in flight.
pub fn estimate(s: &Settings, threads: usize) -> (f64, f64) {
    let calibrate = |width: usize, steps: usize| {
        let (cd, cp) = (4, 8);
        let xc = circle(&angles(1, cp));
        let yc = normals(2, cp);
        let mut nets: Vec<Network> = (0..threads)
            .map(|i| relu_net(hidden(cd, width), 90 + i as u64))
            .collect();
        let t0 = std::time::Instant::now();
        ntk::parallel::install(|| {
            use rayon::prelude::*;
            nets.par_iter_mut().for_each(|net| {
                train(net, &xc, &yc, 1.0, steps, &Silent).expect("calibration");
            })
        })
        .expect("the thread pool starts (calibration)");
        let p = params(cd, width) as f64;
        (
            p,
            t0.elapsed().as_secs_f64() / (threads * cp * steps) as f64 / p,
        )
    };
    let widest_width = s
        .fig1_widths
        .iter()
        .chain(&s.fig2_widths)
        .chain(&s.conv_widths)
        .copied()
        .max()
        .unwrap_or(0);
    let (_, c_small) = calibrate(512, 6);
    // The memory-bound calibration (400 MB for two width-2048 networks) only when needed.
    let (p_big, c_big) = if widest_width > 1024 {
        calibrate(2048, 3)
    } else {
        (params(4, 2048) as f64, c_small)
    };
    let p_small = params(4, 1024) as f64;
    let c = |p: f64| {
        let u = ((p.ln() - p_small.ln()) / (p_big.ln() - p_small.ln())).clamp(0.0, 1.0);
        c_small * (1.0 - u) + c_big * u
    };
    let mut seconds = 0.0;
    for &w in &s.fig1_widths {
        let p = params(s.fig1_depth, w) as f64;
        seconds += fig1_passes(s) as f64 * p * c(p);
    }
    for &w in &s.fig2_widths {
        let p = params(s.fig2_depth, w) as f64;
        seconds += fig2_passes(s) as f64 * p * c(p);
    }
    for &w in &s.conv_widths {
        let p = params(s.conv_depth, w) as f64;
        seconds += conv_passes(s) as f64 * p * c(p);
    }
    let widest = s
        .fig1_widths
        .iter()
        .chain(&s.fig2_widths)
        .chain(&s.conv_widths)
        .map(|&w| params(4, w))
        .max()
        .unwrap_or(0);
    let bytes = 80e6 + (threads * widest * 24) as f64;
    (seconds, bytes)
}
