//! The main job: reproduce the experiments of Jacot, Gabriel & Hongler (2018), section 6, with
//! figures, in one command:
//!
//!     cargo run --release --example paper -- [--out DIR] [--paper] [--threads N]
//!
//! Writes `fig1_kernel.svg`, `fig2_functions.svg`, `fig3_convergence.svg`, `fig4_spectrum.svg`,
//! `summary.json` and `convergence.csv` into DIR (default `out/paper`) and prints a summary table.
//! `--paper` uses the paper's sizes (Figure 1 at widths 500 and 10000: 1.6 GB per network and
//! many minutes); the default run (70 s on two cores) uses width 1000 for Figure 1's large width
//! and stops the convergence table at width 1024 (see `Settings::default_run`).

mod core;
mod plot;

use core::Settings;
use plot::{Chart, Series, Style};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

struct Args {
    out: PathBuf,
    settings: Settings,
    preset: &'static str,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: PathBuf::from("out/paper"),
        settings: Settings::default_run(),
        preset: "default",
        threads: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => args.out = it.next().ok_or("--out needs a directory")?.into(),
            "--paper" => {
                args.settings = Settings::paper();
                args.preset = "paper";
            }
            "--quick" => {
                args.settings = Settings::test();
                args.preset = "quick";
            }
            "--threads" => {
                args.threads = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--threads needs a number")?
            }
            "-h" | "--help" => {
                println!(
                    "usage: paper [--out DIR] [--paper | --quick] [--threads N]\n\
                     Reproduces Jacot et al. (2018), section 6; writes SVG figures, summary.json and\n\
                     convergence.csv into DIR (default out/paper)."
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
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
    if let Err(e) = run(&args) {
        eprintln!("paper: {e}");
        std::process::exit(1);
    }
}

fn elapsed(start: Instant) -> String {
    format!("{:6.1} s", start.elapsed().as_secs_f64())
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    ntk::parallel::set_num_threads(args.threads)?;
    std::fs::create_dir_all(&args.out)?;
    let s = &args.settings;
    let start = Instant::now();
    let say = |msg: &str| println!("[{}] {msg}", elapsed(start));
    println!(
        "ntk {} — reproducing Jacot, Gabriel & Hongler (2018), section 6 ({} sizes, {} threads)",
        env!("CARGO_PKG_VERSION"),
        args.preset,
        ntk::parallel::num_threads()
    );

    let t = Instant::now();
    let spectra = core::spectra(s);
    say(&format!(
        "positive definiteness: λ_min(ReLU) = {:.3e}, identity-σ rank = {} of {}",
        spectra.relu.last().unwrap(),
        spectra.identity_rank,
        s.pd_points
    ));
    let t_spectra = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let fig1 = core::figure1(s, say);
    let t_fig1 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let fig2 = core::figure2(s, say);
    let t_fig2 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let conv = core::convergence(s, say);
    let t_conv = t.elapsed().as_secs_f64();

    // Figure 1.
    let colors = [plot::BLUE_, plot::ORANGE_];
    let mut series = Vec::new();
    for (w, color) in fig1.widths.iter().zip(colors) {
        for (i, k) in w.at_init.iter().enumerate() {
            series.push(Series {
                label: if i == 0 {
                    format!("n = {}, t = 0", w.width)
                } else {
                    String::new()
                },
                xs: fig1.gammas.clone(),
                ys: k.clone(),
                color,
                style: Style::Thin,
            });
        }
        for (i, k) in w.trained.iter().enumerate() {
            series.push(Series {
                label: if i == 0 {
                    format!("n = {}, t = {}", w.width, s.fig1_steps)
                } else {
                    String::new()
                },
                xs: fig1.gammas.clone(),
                ys: k.clone(),
                color,
                style: Style::Dashed,
            });
        }
    }
    series.push(Series {
        label: "limit Θ∞".into(),
        xs: fig1.gammas.clone(),
        ys: fig1.limit.clone(),
        color: plot::GREY_,
        style: Style::Line,
    });
    Chart {
        title: format!(
            "Figure 1: NTK Θ(x0, x) of depth {} (ReLU), x0 = (1, 0)",
            s.fig1_depth
        ),
        x_label: "γ (x = (cos γ, sin γ))".into(),
        y_label: "Θ(x0, x)".into(),
        log_x: false,
        log_y: false,
        series,
    }
    .write_svg(&args.out.join("fig1_kernel.svg"), (900, 560))?;

    // Figure 2.
    let mut series = Vec::new();
    for (w, color) in fig2.widths.iter().zip(colors) {
        for (i, f) in w.functions.iter().enumerate() {
            series.push(Series {
                label: if i == 0 {
                    format!("n = {}", w.width)
                } else {
                    String::new()
                },
                xs: fig2.gammas.clone(),
                ys: f.clone(),
                color,
                style: Style::Thin,
            });
        }
    }
    for (label, ys, style) in [
        ("limit mean", &fig2.mean, Style::Line),
        ("limit 10% / 90%", &fig2.p10, Style::Dashed),
        ("", &fig2.p90, Style::Dashed),
    ] {
        series.push(Series {
            label: label.into(),
            xs: fig2.gammas.clone(),
            ys: ys.clone(),
            color: plot::GREY_,
            style,
        });
    }
    series.push(Series {
        label: "training points".into(),
        xs: fig2.train_gammas.clone(),
        ys: fig2.train_y.clone(),
        color: plot::RED_,
        style: Style::Points,
    });
    Chart {
        title: format!(
            "Figure 2: trained networks (t = {}) vs the limiting Gaussian law",
            s.fig2_steps
        ),
        x_label: "γ".into(),
        y_label: "f(x)".into(),
        log_x: false,
        log_y: false,
        series,
    }
    .write_svg(&args.out.join("fig2_functions.svg"), (900, 560))?;

    // Convergence.
    let ws: Vec<f64> = conv.rows.iter().map(|r| r.width as f64).collect();
    let line = |f: fn(&core::ConvergenceRow) -> f64| conv.rows.iter().map(f).collect::<Vec<f64>>();
    let reference: Vec<f64> = ws
        .iter()
        .map(|w| conv.rows[0].deviation_init * (w / ws[0]).powf(-0.5))
        .collect();
    Chart {
        title: "Convergence with width (log-log)".into(),
        x_label: "width n".into(),
        y_label: "relative error".into(),
        log_x: true,
        log_y: true,
        series: vec![
            Series {
                label: format!("‖Θ(0) − Θ∞‖/‖Θ∞‖, slope {:.2}", conv.slope_deviation),
                xs: ws.clone(),
                ys: line(|r| r.deviation_init),
                color: plot::BLUE_,
                style: Style::Line,
            },
            Series {
                label: format!("drift ‖Θ(t) − Θ(0)‖/‖Θ(0)‖, slope {:.2}", conv.slope_drift),
                xs: ws.clone(),
                ys: line(|r| r.drift),
                color: plot::ORANGE_,
                style: Style::Line,
            },
            Series {
                label: format!("network vs kernel flow, slope {:.2}", conv.slope_flow_gap),
                xs: ws.clone(),
                ys: line(|r| r.flow_gap),
                color: plot::GREEN_,
                style: Style::Line,
            },
            Series {
                label: "n^(-1/2)".into(),
                xs: ws.clone(),
                ys: reference,
                color: plot::GREY_,
                style: Style::Dashed,
            },
        ],
    }
    .write_svg(&args.out.join("fig3_convergence.svg"), (900, 560))?;

    // Spectrum.
    let idx: Vec<f64> = (1..=s.pd_points).map(|i| i as f64).collect();
    let floor = |v: &Vec<f64>| v.iter().map(|x| x.abs().max(1e-18)).collect::<Vec<f64>>();
    Chart {
        title: format!(
            "Spectrum of Θ∞ (depth {}) on {} points of the circle",
            s.pd_depth, s.pd_points
        ),
        x_label: "index".into(),
        y_label: "|eigenvalue|".into(),
        log_x: false,
        log_y: true,
        series: vec![
            Series {
                label: "ReLU".into(),
                xs: idx.clone(),
                ys: floor(&spectra.relu),
                color: plot::BLUE_,
                style: Style::Line,
            },
            Series {
                label: "identity σ".into(),
                xs: idx,
                ys: floor(&spectra.identity),
                color: plot::PURPLE_,
                style: Style::Line,
            },
        ],
    }
    .write_svg(&args.out.join("fig4_spectrum.svg"), (900, 560))?;

    // Tables.
    let mut csv = String::from("width,deviation_init,drift,flow_gap\n");
    for r in &conv.rows {
        writeln!(
            csv,
            "{},{:.6e},{:.6e},{:.6e}",
            r.width, r.deviation_init, r.drift, r.flow_gap
        )?;
    }
    std::fs::write(args.out.join("convergence.csv"), &csv)?;
    let fig1_dev: Vec<String> = fig1
        .widths
        .iter()
        .map(|w| {
            let mean_dev = |ks: &Vec<Vec<f64>>| {
                ks.iter().map(|k| max_abs_diff(k, &fig1.limit)).sum::<f64>() / ks.len() as f64
            };
            format!(
                "{{\"width\": {}, \"max_dev_init\": {:.6e}, \"max_dev_trained\": {:.6e}}}",
                w.width,
                mean_dev(&w.at_init),
                mean_dev(&w.trained)
            )
        })
        .collect();
    let fig2_dev: Vec<String> = fig2
        .widths
        .iter()
        .map(|w| {
            let inside = w
                .functions
                .iter()
                .flat_map(|f| f.iter().enumerate())
                .filter(|(i, v)| **v >= fig2.p10[*i] && **v <= fig2.p90[*i])
                .count() as f64
                / (w.functions.len() * fig2.gammas.len()) as f64;
            format!(
                "{{\"width\": {}, \"fraction_inside_10_90\": {:.4}}}",
                w.width, inside
            )
        })
        .collect();
    let json = format!(
        "{{\n  \"preset\": \"{}\",\n  \"threads\": {},\n  \"convergence\": {{\"slope_deviation\": {:.4}, \"slope_drift\": {:.4}, \"slope_flow_gap\": {:.4}, \"rows\": [{}]}},\n  \"figure1\": [{}],\n  \"figure2\": [{}],\n  \"spectra\": {{\"relu_min\": {:.6e}, \"relu_max\": {:.6e}, \"identity_rank\": {}, \"points\": {}}},\n  \"seconds\": {{\"spectra\": {:.3}, \"figure1\": {:.3}, \"figure2\": {:.3}, \"convergence\": {:.3}, \"total\": {:.3}}}\n}}\n",
        args.preset,
        ntk::parallel::num_threads(),
        conv.slope_deviation,
        conv.slope_drift,
        conv.slope_flow_gap,
        conv.rows
            .iter()
            .map(|r| format!(
                "{{\"width\": {}, \"deviation_init\": {:.6e}, \"drift\": {:.6e}, \"flow_gap\": {:.6e}}}",
                r.width, r.deviation_init, r.drift, r.flow_gap
            ))
            .collect::<Vec<_>>()
            .join(", "),
        fig1_dev.join(", "),
        fig2_dev.join(", "),
        spectra.relu.last().unwrap(),
        spectra.relu[0],
        spectra.identity_rank,
        s.pd_points,
        t_spectra,
        t_fig1,
        t_fig2,
        t_conv,
        start.elapsed().as_secs_f64()
    );
    std::fs::write(args.out.join("summary.json"), &json)?;

    println!("\nSummary");
    println!("  width   ‖Θ(0)−Θ∞‖/‖Θ∞‖   drift ‖Θ(t)−Θ(0)‖/‖Θ(0)‖   network vs flow");
    for r in &conv.rows {
        println!(
            "  {:5}   {:14.3e}   {:24.3e}   {:15.3e}",
            r.width, r.deviation_init, r.drift, r.flow_gap
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
    for line in fig2_dev {
        println!("  figure 2: {line}");
    }
    println!(
        "  timings: spectra {t_spectra:.2} s, figure 1 {t_fig1:.2} s, figure 2 {t_fig2:.2} s, convergence {t_conv:.2} s, total {:.2} s",
        start.elapsed().as_secs_f64()
    );
    println!("  wrote {}", args.out.display());
    Ok(())
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
