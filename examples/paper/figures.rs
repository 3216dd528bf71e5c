//! The five figures, built from the numeric results of `core` (shared by the example and by
//! tests/paper.rs, which parses the SVG).

use crate::core::{Convergence, Fig1, Fig2, Fig5, Settings, Spectra};
use crate::plot::{self, Chart, Figure, Series, Style};
use std::f64::consts::PI;

const PANEL: (f64, f64) = (900.0, 540.0);

fn series(
    key: &str,
    label: &str,
    xs: &[f64],
    ys: &[f64],
    color: plot::Color,
    style: Style,
) -> Series {
    Series {
        key: key.into(),
        label: label.into(),
        xs: xs.to_vec(),
        ys: ys.to_vec(),
        color,
        style,
    }
}

/// A number with two decimals and a typographic minus.
fn signed(v: f64) -> String {
    format!("{v:.2}").replace('-', "−")
}

/// γ ticks at multiples of π/2.
fn pi_ticks() -> Option<Vec<(f64, String)>> {
    Some(
        [
            (-PI, "−π"),
            (-PI / 2.0, "−π/2"),
            (0.0, "0"),
            (PI / 2.0, "π/2"),
            (PI, "π"),
        ]
        .into_iter()
        .map(|(v, s)| (v, s.to_string()))
        .collect(),
    )
}

/// Figure 1: the empirical NTK at initialization and after training, against the limit.
pub fn figure1(s: &Settings, f: &Fig1) -> Figure {
    let mut v = Vec::new();
    for w in &f.widths {
        let c = plot::width_color(w.width);
        for k in &w.at_init {
            let key = format!("n = {}, t = 0", w.width);
            v.push(series(&key, &key, &f.gammas, k, c, Style::Thin));
        }
        for k in &w.trained {
            let key = format!("n = {}, t = {}", w.width, s.fig1_steps);
            v.push(series(&key, &key, &f.gammas, k, c, Style::Dashed));
        }
    }
    if s.arch.parameterization == ntk::network::Parameterization::Standard {
        // The standard parameterization's Θ∞ grows with the widths: one limit per width.
        for w in &f.widths {
            v.push(series(
                "limit",
                &format!("limit Θ∞, n = {}", w.width),
                &f.gammas,
                &w.limit,
                plot::BLACK,
                Style::Line,
            ));
        }
    } else {
        v.push(series(
            "limit",
            "limit Θ∞",
            &f.gammas,
            &f.limit,
            plot::BLACK,
            Style::Line,
        ));
    }
    Figure {
        panels: vec![Chart {
            title: format!(
                "Figure 1: NTK of a depth-{} {} network, {} initializations per width",
                s.fig1_depth,
                s.network_name(),
                s.fig1_inits
            ),
            x_label: "γ  (x = (cos γ, sin γ), x₀ = (1, 0))".into(),
            y_label: "Θ(x₀, x)".into(),
            log_x: false,
            log_y: false,
            x_ticks: pi_ticks(),
            series: v,
        }],
        panel_size: PANEL,
    }
}

/// Figure 2: trained functions against the limiting Gaussian law at the trained time and t = ∞.
pub fn figure2(s: &Settings, f: &Fig2) -> Figure {
    let mut v = Vec::new();
    for w in &f.widths {
        let key = format!("n = {}", w.width);
        for g in &w.functions {
            v.push(series(
                &key,
                &format!("n = {}, t = {}", w.width, s.fig2_steps),
                &f.gammas,
                g,
                plot::width_color(w.width),
                Style::Thin,
            ));
        }
    }
    let b = f.trained_band();
    // t = steps·η (= steps for η = 1, printed as before).
    let t = crate::core::fmt_t(b.t);
    v.push(series(
        "mean",
        &format!("limit mean, t = {t}"),
        &f.gammas,
        &b.mean,
        plot::BLACK,
        Style::Line,
    ));
    v.push(series(
        "band",
        &format!("limit 10 % / 90 %, t = {t}"),
        &f.gammas,
        &b.p10,
        plot::BLACK,
        Style::Dashed,
    ));
    v.push(series(
        "band",
        "",
        &f.gammas,
        &b.p90,
        plot::BLACK,
        Style::Dashed,
    ));
    if let Some(inf) = f.bands.iter().find(|b| b.t.is_infinite()) {
        v.push(series(
            "band-inf",
            "limit 10 % / 90 %, t = ∞",
            &f.gammas,
            &inf.p10,
            plot::GREY,
            Style::Thin,
        ));
        v.push(series(
            "band-inf",
            "",
            &f.gammas,
            &inf.p90,
            plot::GREY,
            Style::Thin,
        ));
    }
    v.push(series(
        "train",
        "training points",
        &f.train_gammas,
        &f.train_y,
        plot::RED,
        Style::Points,
    ));
    Figure {
        panels: vec![Chart {
            title: if s.default_network() {
                format!(
                    "Figure 2: depth-{} ReLU networks trained to t = {} vs the limit law",
                    s.fig2_depth, s.fig2_steps
                )
            } else {
                // η (and in the standard parameterization the law) depends on the width; the
                // band is the widest width's at t = steps·η.
                format!(
                    "Figure 2: depth-{} {} networks, {} steps, vs the limit law (n = {}, η = {:.3e})",
                    s.fig2_depth,
                    s.network_name(),
                    s.fig2_steps,
                    f.widths.last().map_or(0, |w| w.width),
                    f.widths.last().map_or(1.0, |w| w.eta)
                )
            },
            x_label: "γ  (x = (cos γ, sin γ))".into(),
            y_label: "f(x)".into(),
            log_x: false,
            log_y: false,
            x_ticks: pi_ticks(),
            series: v,
        }],
        panel_size: PANEL,
    }
}

/// Figure 3: convergence with width, log-log.
pub fn figure3(s: &Settings, c: &Convergence) -> Figure {
    let ws: Vec<f64> = c.rows.iter().map(|r| r.width as f64).collect();
    let col =
        |f: fn(&crate::core::ConvergenceRow) -> f64| c.rows.iter().map(f).collect::<Vec<f64>>();
    let reference: Vec<f64> = ws
        .iter()
        .map(|w| c.rows[0].deviation_init * (w / ws[0]).powf(-0.5))
        .collect();
    Figure {
        panels: vec![Chart {
            title: format!(
                "Figure 3: convergence with width (depth {}, {} seeds, t = {})",
                s.conv_depth, s.conv_seeds, s.conv_steps
            ),
            x_label: "width n".into(),
            y_label: "relative error".into(),
            log_x: true,
            log_y: true,
            x_ticks: None,
            series: vec![
                series(
                    "deviation",
                    &format!("‖Θ(0) − Θ∞‖/‖Θ∞‖ (slope {})", signed(c.slope_deviation)),
                    &ws,
                    &col(|r| r.deviation_init),
                    plot::INK,
                    Style::LinePoints,
                ),
                series(
                    "drift",
                    &format!("‖Θ(t) − Θ(0)‖/‖Θ(0)‖ (slope {})", signed(c.slope_drift)),
                    &ws,
                    &col(|r| r.drift),
                    plot::MAGENTA,
                    Style::LinePoints,
                ),
                series(
                    "flow-gap",
                    &format!(
                        "network vs kernel GD with Θ∞ (slope {})",
                        signed(c.slope_flow_gap)
                    ),
                    &ws,
                    &col(|r| r.flow_gap),
                    plot::TEAL,
                    Style::LinePoints,
                ),
                series(
                    "reference",
                    "n^(−1/2)",
                    &ws,
                    &reference,
                    plot::GREY,
                    Style::Dashed,
                ),
            ],
        }],
        panel_size: PANEL,
    }
}

/// Figure 4: spectra of Θ∞ (positive definite for ReLU, rank ≤ 3 for the identity).
pub fn figure4(s: &Settings, sp: &Spectra) -> Figure {
    let idx: Vec<f64> = (1..=s.pd_points).map(|i| i as f64).collect();
    // Rounding leaves |λ| ≈ 1e-16 λ_max where the exact eigenvalue is 0; floor there so that
    // a zero does not stretch the log axis.
    let floor = |v: &Vec<f64>| {
        let top = v[0].abs();
        v.iter()
            .map(|x| x.abs().max(1e-17 * top))
            .collect::<Vec<f64>>()
    };
    Figure {
        panels: vec![Chart {
            title: format!(
                "Figure 4: eigenvalues of Θ∞ (depth {}) on {} distinct points of the circle",
                s.pd_depth, s.pd_points
            ),
            x_label: "index k".into(),
            y_label: "|λₖ|".into(),
            log_x: false,
            log_y: true,
            x_ticks: None,
            series: vec![
                series(
                    "relu",
                    "ReLU: all λₖ > 0",
                    &idx,
                    &floor(&sp.relu),
                    plot::INK,
                    Style::LinePoints,
                ),
                series(
                    "identity",
                    &format!("identity σ: rank {}", sp.identity_rank),
                    &idx,
                    &floor(&sp.identity),
                    plot::MAGENTA,
                    Style::LinePoints,
                ),
            ],
        }],
        panel_size: PANEL,
    }
}

/// Figure 5: the seed's Fˡⁱⁿ: K̃ → K as P^(−1/2); its GD is kernel GD with K̃ to rounding, while
/// the network's GD leaves kernel GD with its initial kernel (its kernel moves).
pub fn figure5(s: &Settings, f: &Fig5, c: Option<&Convergence>) -> Figure {
    let ps: Vec<f64> = f.rows.iter().map(|r| r.features as f64).collect();
    let dev: Vec<f64> = f.rows.iter().map(|r| r.kernel_deviation).collect();
    let reference: Vec<f64> = ps.iter().map(|p| dev[0] * (p / ps[0]).powf(-0.5)).collect();
    let left = Chart {
        title: "(a) Fˡⁱⁿ: K̃ → K as P grows".into(),
        x_label: "number of random functions P".into(),
        y_label: "‖K̃ − K‖/‖K‖".into(),
        log_x: true,
        log_y: true,
        x_ticks: None,
        series: vec![
            series(
                "kernel-deviation",
                &format!("measured (slope {})", signed(f.slope_kernel_deviation)),
                &ps,
                &dev,
                plot::INK,
                Style::LinePoints,
            ),
            series(
                "reference",
                "P^(−1/2)",
                &ps,
                &reference,
                plot::GREY,
                Style::Dashed,
            ),
        ],
    };
    let mut right = vec![series(
        "flin-gap",
        "Fˡⁱⁿ: parameter GD vs kernel GD with K̃ (x = P)",
        &ps,
        &f.rows
            .iter()
            .map(|r| r.gd_gap.max(1e-17))
            .collect::<Vec<_>>(),
        plot::OLIVE,
        Style::LinePoints,
    )];
    if let Some(c) = c {
        let ws: Vec<f64> = c.rows.iter().map(|r| r.width as f64).collect();
        right.push(series(
            "network-gap",
            "network: GD vs kernel GD with Θ(0) (x = n)",
            &ws,
            &c.rows.iter().map(|r| r.lazy_gap).collect::<Vec<_>>(),
            plot::TEAL,
            Style::LinePoints,
        ));
        right.push(series(
            "network-drift",
            "network: ‖Θ(t) − Θ(0)‖/‖Θ(0)‖ (x = n)",
            &ws,
            &c.rows.iter().map(|r| r.drift).collect::<Vec<_>>(),
            plot::MAGENTA,
            Style::LinePoints,
        ));
    }
    let right = Chart {
        title: format!("(b) after t = {} steps of gradient descent", s.conv_steps),
        x_label: "P (Fˡⁱⁿ) or width n (network)".into(),
        y_label: "relative gap".into(),
        log_x: true,
        log_y: true,
        x_ticks: None,
        series: right,
    };
    Figure {
        panels: vec![left, right],
        panel_size: (760.0, 500.0),
    }
}
