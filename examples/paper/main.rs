//! The main job: reproduce the experiments of Jacot, Gabriel & Hongler (2018), section 6, and the
//! random-function model of its section 3, with figures, in one command:
//!
//!     cargo run --release --example paper -- [--out DIR] [--paper | --quick] [--threads N] [--quiet]
//!         [--w-std S[,S...]] [--b-std S[,S...]] [--activation A[,A...]]
//!         [--parameterization ntk|standard] [--lr-fraction C]
//!
//! The architecture options (conventions of the MPI program, bindings/c/mpi/ntk_mpi_arch.h: one
//! value for every layer, or L per weight layer for σ_w / σ_b and L − 1 per hidden layer for the
//! activation) set the network of every experiment that trains; the default is the paper's
//! (σ_w = 1, σ_b = β = 0.1, ReLU, NTK parameterization) and gives the same bits as before the
//! options existed. Learning rate: η = 1 in the NTK parameterization; in the standard one
//! η = C·2N/λ_max(Θ_∞(X, X)) per width (Θ_∞ grows with the widths there; 2N/λ_max is the
//! stability bound of f ← f − (η/N)Θ(f − y)), C = --lr-fraction (default 0.5).
//!
//! Writes `fig1_kernel`, `fig2_functions`, `fig3_convergence`, `fig4_spectrum` and `fig5_flin`
//! as `.svg` and `.png`, plus `summary.json` and `convergence.csv`, into DIR (default
//! `out/paper`), and prints a summary table. Progress: one live line per phase (what runs,
//! done/total, elapsed, ETA), plain lines every 2 s when stdout is not a terminal, nothing with
//! `--quiet`. Ctrl-C stops at the next training step and keeps the figures already written (a
//! second Ctrl-C exits at once). `--paper` uses the paper's sizes (Figure 1 at widths 500 and
//! 10000: 1.6 GB per network) and prints its time and memory estimate first; the default run uses
//! width 1000 for Figure 1's large width and stops the convergence table at width 1024
//! (see `Settings::default_run`).

mod core;
mod figures;
mod plot;
mod progress;

use core::{Monitor, Settings, Stopped};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

struct Args {
    out: PathBuf,
    settings: Settings,
    preset: &'static str,
    threads: usize,
    quiet: bool,
}

const USAGE: &str = "usage: paper [--out DIR] [--paper | --quick] [--threads N] [--quiet]\n\
    \x20            [--w-std S[,S...]] [--b-std S[,S...]] [--activation A[,A...]]\n\
    \x20            [--parameterization ntk|standard] [--lr-fraction C]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: PathBuf::from("out/paper"),
        settings: Settings::default_run(),
        preset: "default",
        threads: 0,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    let (mut w_std, mut b_std, mut act, mut param, mut lr) = (None, None, None, None, None);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--w-std" => w_std = Some(value("--w-std")?),
            "--b-std" => b_std = Some(value("--b-std")?),
            "--activation" => act = Some(value("--activation")?),
            "--parameterization" => param = Some(value("--parameterization")?),
            "--lr-fraction" => lr = Some(value("--lr-fraction")?),
            "--out" => args.out = it.next().ok_or("--out needs a directory")?.into(),
            "--paper" => {
                args.settings = Settings::paper();
                args.preset = "paper";
            }
            "--quick" => {
                args.settings = Settings::test();
                args.preset = "quick";
            }
            "--quiet" | "-q" => args.quiet = true,
            "--threads" => {
                args.threads = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--threads needs a number")?
            }
            "-h" | "--help" => {
                println!(
                    "{USAGE}\n\
                     Reproduces Jacot et al. (2018), sections 3 and 6; writes SVG and PNG figures,\n\
                     summary.json and convergence.csv into DIR (default out/paper).\n\
                     Ctrl-C stops cleanly and keeps the figures already written.\n\
                     \n\
                     Network of every experiment that trains (default: the paper's, sigma_w = 1,\n\
                     sigma_b = 0.1, ReLU, NTK parameterization); one value for all layers, or one\n\
                     per weight layer (L = 4: --w-std/--b-std) / per hidden layer (--activation):\n\
                     \x20 --w-std S[,S...]          sigma_w > 0\n\
                     \x20 --b-std S[,S...]          sigma_b >= 0\n\
                     \x20 --activation A[,A...]     {}\n\
                     \x20 --parameterization ntk|standard\n\
                     \x20 --lr-fraction C           learning rate of the standard parameterization\n\
                     Learning rate eta: 1 in the NTK parameterization; in the standard one\n\
                     eta = C * 2N / lambda_max of the limit NTK Gram on the N training points, per\n\
                     width (that NTK grows with the widths; 2N/lambda_max is the stability bound\n\
                     of gradient descent), C = 0.5 unless --lr-fraction. The limit kernels and\n\
                     laws are those of the same architecture. Figure 5 uses the first layer\n\
                     (sigma_w, sigma_b, activation); the positive-definiteness check stays ReLU\n\
                     vs identity.",
                    core::ACTIVATION_NAMES
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    let s = &mut args.settings;
    let depth = s.fig1_depth;
    if s.fig2_depth != depth || s.conv_depth != depth {
        return Err("the presets' depths differ; per-layer options need one depth".into());
    }
    s.arch = core::arch_from_options(
        depth,
        w_std.as_deref(),
        b_std.as_deref(),
        act.as_deref(),
        param.as_deref(),
    )?;
    if let Some(v) = lr {
        s.lr_fraction = core::parse_lr_fraction(&v)?;
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("paper: {e}");
            std::process::exit(2);
        }
    };
    match run(&args) {
        Ok(()) => {}
        Err(e) if e.is::<Stopped>() => std::process::exit(130),
        Err(e) => {
            eprintln!("paper: {e}");
            std::process::exit(1);
        }
    }
}

fn human_bytes(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else {
        format!("{:.0} MB", b / 1e6)
    }
}

fn human_secs(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    ntk::parallel::set_num_threads(args.threads)?;
    std::fs::create_dir_all(&args.out)?;
    let s = &args.settings;
    let threads = ntk::parallel::num_threads();
    let start = Instant::now();
    progress::install_sigint();
    if !args.quiet {
        println!(
            "ntk {} — reproducing Jacot, Gabriel & Hongler (2018), sections 3 and 6 ({} sizes, {} threads)",
            env!("CARGO_PKG_VERSION"),
            args.preset,
            threads
        );
        println!(
            "network: {} (depth {}); learning rate: {}",
            s.network_name(),
            s.fig1_depth,
            learning_rate_rule(s)
        );
        let (secs, bytes) = core::estimate(s, threads);
        println!(
            "estimate for this machine: about {} and {} of memory at peak (calibrated just now; \
             Ctrl-C stops and keeps the finished figures)",
            human_secs(secs),
            human_bytes(bytes)
        );
    }
    let live = progress::Live::new(args.quiet);
    let mon: &dyn Monitor = &*live;
    let mut written: Vec<String> = Vec::new();
    let result = (|| -> Result<_, Box<dyn std::error::Error>> {
        let mut write = |fig: plot::Figure, stem: &str| -> Result<(), Box<dyn std::error::Error>> {
            fig.write(&args.out, stem)?;
            written.push(stem.to_string());
            Ok(())
        };
        let t = Instant::now();
        let spectra = core::spectra(s);
        let t_spectra = t.elapsed().as_secs_f64();
        live.say(&format!(
            "positive definiteness: λ_min(ReLU) = {:.3e}, identity-σ rank = {} of {}",
            spectra.relu.last().unwrap(),
            spectra.identity_rank,
            s.pd_points
        ));
        write(figures::figure4(s, &spectra), "fig4_spectrum")?;
        let t = Instant::now();
        let fig1 = core::figure1(s, mon)?;
        let t_fig1 = t.elapsed().as_secs_f64();
        write(figures::figure1(s, &fig1), "fig1_kernel")?;
        let t = Instant::now();
        let fig2 = core::figure2(s, mon)?;
        let t_fig2 = t.elapsed().as_secs_f64();
        write(figures::figure2(s, &fig2), "fig2_functions")?;
        let t = Instant::now();
        let conv = core::convergence(s, mon)?;
        let t_conv = t.elapsed().as_secs_f64();
        write(figures::figure3(s, &conv), "fig3_convergence")?;
        let t = Instant::now();
        let fig5 = core::random_features(s, mon)?;
        let t_fig5 = t.elapsed().as_secs_f64();
        write(figures::figure5(s, &fig5, Some(&conv)), "fig5_flin")?;
        Ok((
            spectra,
            fig1,
            fig2,
            conv,
            fig5,
            [t_spectra, t_fig1, t_fig2, t_conv, t_fig5],
        ))
    })();
    live.finish();
    let (spectra, fig1, fig2, conv, fig5, times) = match result {
        Ok(r) => r,
        Err(e) if e.is::<Stopped>() => {
            println!(
                "interrupted after {:.1} s; figures kept in {}: {}",
                start.elapsed().as_secs_f64(),
                args.out.display(),
                if written.is_empty() {
                    "none".to_string()
                } else {
                    written.join(", ")
                }
            );
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let [t_spectra, t_fig1, t_fig2, t_conv, t_fig5] = times;

    let mut csv = String::from("width,deviation_init,drift,flow_gap,lazy_gap\n");
    for r in &conv.rows {
        writeln!(
            csv,
            "{},{:.6e},{:.6e},{:.6e},{:.6e}",
            r.width, r.deviation_init, r.drift, r.flow_gap, r.lazy_gap
        )?;
    }
    std::fs::write(args.out.join("convergence.csv"), &csv)?;
    let fig1_dev: Vec<String> = fig1
        .widths
        .iter()
        .map(|w| {
            let mean_dev = |ks: &Vec<Vec<f64>>| {
                ks.iter().map(|k| max_abs_diff(k, &w.limit)).sum::<f64>() / ks.len() as f64
            };
            format!(
                "{{\"width\": {}, \"eta\": {}, \"max_dev_init\": {:.6e}, \"max_dev_trained\": {:.6e}}}",
                w.width,
                w.eta,
                mean_dev(&w.at_init),
                mean_dev(&w.trained)
            )
        })
        .collect();
    let coverage = |w: &core::Fig2Width| -> Vec<(String, f64)> {
        // Each width against its own law (the same for every width in the NTK parameterization).
        w.bands
            .iter()
            .map(|b| (core::fmt_t(b.t), b.coverage(&w.functions)))
            .collect()
    };
    let fig2_cov: Vec<String> = fig2
        .widths
        .iter()
        .map(|w| {
            let c: Vec<String> = coverage(w)
                .iter()
                .map(|(t, f)| format!("\"t={t}\": {f:.4}"))
                .collect();
            format!(
                "{{\"width\": {}, \"fraction_inside_10_90\": {{{}}}}}",
                w.width,
                c.join(", ")
            )
        })
        .collect();
    let fig5_rows: Vec<String> = fig5
        .rows
        .iter()
        .map(|r| {
            format!(
                "{{\"P\": {}, \"kernel_deviation\": {:.6e}, \"gd_gap\": {:.3e}}}",
                r.features, r.kernel_deviation, r.gd_gap
            )
        })
        .collect();
    let json = format!(
        "{{\n  \"preset\": \"{}\",\n  \"threads\": {},\n  \"network\": {},\n  \"convergence\": {{\"slope_deviation\": {:.4}, \"slope_drift\": {:.4}, \"slope_flow_gap\": {:.4}, \"slope_lazy_gap\": {:.4}, \"rows\": [{}]}},\n  \"figure1\": [{}],\n  \"figure2\": [{}],\n  \"figure5\": {{\"slope_kernel_deviation\": {:.4}, \"rows\": [{}]}},\n  \"spectra\": {{\"relu_min\": {:.6e}, \"relu_max\": {:.6e}, \"identity_rank\": {}, \"points\": {}}},\n  \"seconds\": {{\"spectra\": {:.3}, \"figure1\": {:.3}, \"figure2\": {:.3}, \"convergence\": {:.3}, \"figure5\": {:.3}, \"total\": {:.3}}}\n}}\n",
        args.preset,
        threads,
        network_json(s),
        conv.slope_deviation,
        conv.slope_drift,
        conv.slope_flow_gap,
        conv.slope_lazy_gap,
        conv.rows
            .iter()
            .map(|r| format!(
                "{{\"width\": {}, \"eta\": {}, \"deviation_init\": {:.6e}, \"drift\": {:.6e}, \"flow_gap\": {:.6e}, \"lazy_gap\": {:.6e}}}",
                r.width, r.eta, r.deviation_init, r.drift, r.flow_gap, r.lazy_gap
            ))
            .collect::<Vec<_>>()
            .join(", "),
        fig1_dev.join(", "),
        fig2_cov.join(", "),
        fig5.slope_kernel_deviation,
        fig5_rows.join(", "),
        spectra.relu.last().unwrap(),
        spectra.relu[0],
        spectra.identity_rank,
        s.pd_points,
        t_spectra,
        t_fig1,
        t_fig2,
        t_conv,
        t_fig5,
        start.elapsed().as_secs_f64()
    );
    std::fs::write(args.out.join("summary.json"), &json)?;

    println!("\nSummary");
    println!(
        "  width   ‖Θ(0)−Θ∞‖/‖Θ∞‖   drift ‖Θ(t)−Θ(0)‖/‖Θ(0)‖   network vs GD(Θ∞)   vs GD(Θ(0))"
    );
    for r in &conv.rows {
        println!(
            "  {:5}   {:14.3e}   {:24.3e}   {:17.3e}   {:11.3e}",
            r.width, r.deviation_init, r.drift, r.flow_gap, r.lazy_gap
        );
    }
    println!(
        "  fitted log-log slopes (expected ≈ −0.5): deviation {:.3}, drift {:.3}, flow gap {:.3}",
        conv.slope_deviation, conv.slope_drift, conv.slope_flow_gap
    );
    println!(
        "  Θ∞ on {} points: ReLU λ_min = {:.3e} (positive definite), identity σ rank {} (≤ n_0 + 1 = 3)",
        s.pd_points,
        spectra.relu.last().unwrap(),
        spectra.identity_rank
    );
    for w in &fig2.widths {
        let c: Vec<String> = coverage(w)
            .iter()
            .map(|(t, f)| format!("{:.0} % at t = {t}", 100.0 * f))
            .collect();
        println!(
            "  figure 2: width {}: inside the limit law's 10–90 % band {} (80 % expected as n → ∞)",
            w.width,
            c.join(", ")
        );
    }
    println!(
        "  figure 5 (F^lin): ‖K̃ − K‖/‖K‖ slope {:.3} over P = {}…{} (−0.5 expected); parameter GD = kernel GD with K̃ to {:.1e}",
        fig5.slope_kernel_deviation,
        fig5.rows[0].features,
        fig5.rows.last().unwrap().features,
        fig5.rows.iter().map(|r| r.gd_gap).fold(0.0, f64::max)
    );
    println!(
        "  timings: spectra {t_spectra:.2} s, figure 1 {t_fig1:.2} s, figure 2 {t_fig2:.2} s, convergence {t_conv:.2} s, figure 5 {t_fig5:.2} s, total {:.2} s",
        start.elapsed().as_secs_f64()
    );
    println!("  wrote {}", args.out.display());
    Ok(())
}

/// The network and the learning-rate rule, as JSON.
fn network_json(s: &Settings) -> String {
    let a = &s.arch;
    let nums = |f: fn(&ntk::network::LayerSpec) -> f64| {
        a.layers
            .iter()
            .map(|l| format!("{}", f(l)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let acts: Vec<String> = a.layers[..a.layers.len() - 1]
        .iter()
        .map(|l| format!("\"{}\"", l.activation.as_ref().map_or("none", |x| x.name())))
        .collect();
    let standard = a.parameterization == ntk::network::Parameterization::Standard;
    format!(
        "{{\"parameterization\": \"{}\", \"sigma_w\": [{}], \"sigma_b\": [{}], \"activations\": [{}], \"learning_rate\": \"{}\"}}",
        if standard { "standard" } else { "ntk" },
        nums(|l| l.sigma_w),
        nums(|l| l.sigma_b),
        acts.join(", "),
        learning_rate_rule(s)
    )
}

/// The learning-rate rule in words.
fn learning_rate_rule(s: &Settings) -> String {
    if s.arch.parameterization == ntk::network::Parameterization::Standard {
        format!(
            "eta = {} * 2N / lambda_max(limit NTK Gram on the N training points), per width",
            s.lr_fraction
        )
    } else {
        "eta = 1 (NTK parameterization)".into()
    }
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
