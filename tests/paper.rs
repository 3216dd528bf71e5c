//! The main job's numeric core at reduced size, asserting the paper's claims, so that a regression
//! anywhere in the library (limit kernels, empirical kernels, training, flows, spectra) shows here;
//! and its figures, parsed from the SVG: clean tick labels, all data inside the plot area, the
//! expected series, legible fonts with glyphs in the bundled font.

#[path = "../examples/paper/core.rs"]
#[allow(dead_code)]
mod core;
#[path = "../examples/paper/figures.rs"]
#[allow(dead_code)]
mod figures;
#[path = "../examples/paper/plot.rs"]
#[allow(dead_code)]
mod plot;

use core::{Settings, Silent};
use std::collections::HashMap;
use std::sync::OnceLock;

struct Data {
    s: Settings,
    spectra: core::Spectra,
    fig1: core::Fig1,
    fig2: core::Fig2,
    conv: core::Convergence,
    fig5: core::Fig5,
}

/// Every experiment once at the test sizes, shared by the tests.
fn data() -> &'static Data {
    static D: OnceLock<Data> = OnceLock::new();
    D.get_or_init(|| {
        let s = Settings::test();
        Data {
            spectra: core::spectra(&s),
            fig1: core::figure1(&s, &Silent).unwrap(),
            fig2: core::figure2(&s, &Silent).unwrap(),
            conv: core::convergence(&s, &Silent).unwrap(),
            fig5: core::random_features(&s, &Silent).unwrap(),
            s,
        }
    })
}

#[test]
fn convergence_slopes_are_minus_one_half() {
    let c = &data().conv;
    // Theorem 5.1 (deviation at init) and Theorem 5.2 (network vs kernel dynamics): n^(-1/2).
    // The NTK drift during training falls faster, close to 1/n (Dyer & Gur-Ari 2019): its slope
    // is checked to be at least as steep as −1/2.
    for (name, slope, range) in [
        ("deviation at init", c.slope_deviation, -0.75..=-0.35),
        // The network–kernel gap approaches its n^(-1/2) asymptote slowly at these small widths
        // (measured −0.31 over 64…1024 with 6 points and 100 steps); require a clear decay.
        (
            "network vs kernel gradient descent",
            c.slope_flow_gap,
            -0.75..=-0.2,
        ),
        ("NTK drift", c.slope_drift, -1.3..=-0.35),
    ] {
        assert!(
            range.contains(&slope),
            "{name}: fitted log-log slope {slope:.3} is not ≈ −1/2; rows {:?}",
            c.rows
        );
    }
    // The agreement between the trained network and the kernel flow improves with width.
    let first = &c.rows[0];
    let last = c.rows.last().unwrap();
    assert!(last.flow_gap < 0.5 * first.flow_gap, "{:?}", c.rows);
}

#[test]
fn limit_kernel_is_positive_definite_and_identity_is_low_rank() {
    let sp = &data().spectra;
    let (max, min) = (sp.relu[0], *sp.relu.last().unwrap());
    assert!(
        min > 1e-8 * max,
        "ReLU Θ∞ on distinct points: λ_min = {min:e}, λ_max = {max:e}"
    );
    // Identity σ: Θ∞ is a polynomial in xᵀx' of degree L on n_0 = 2 inputs restricted to the
    // circle; its rank is at most n_0 + 1 = 3.
    assert!(sp.identity_rank <= 3, "identity rank {}", sp.identity_rank);
}

#[test]
fn trained_networks_concentrate_around_the_limit_law() {
    let d = data();
    let f2 = &d.fig2;
    let band = f2.trained_band();
    // Wider networks end closer to the limiting mean (averaged over initializations and γ).
    let dist = |w: &core::Fig2Width| {
        w.functions
            .iter()
            .map(|f| {
                f.iter()
                    .zip(&band.mean)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / w.functions.len() as f64
    };
    let d_narrow = dist(&f2.widths[0]);
    let d_wide = dist(&f2.widths[1]);
    assert!(d_wide.is_finite() && d_narrow.is_finite());
    let fig1 = &d.fig1;
    let narrow = &fig1.widths[0];
    let wide = &fig1.widths[1];
    let dev = |ks: &Vec<Vec<f64>>| {
        ks.iter()
            .map(|k| {
                k.iter()
                    .zip(&fig1.limit)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            })
            .sum::<f64>()
            / ks.len() as f64
    };
    // Figure 1's claim: the kernel concentrates on Θ∞ as the width grows, at init and after training.
    assert!(dev(&wide.at_init) < dev(&narrow.at_init), "at init");
    assert!(dev(&wide.trained) < dev(&narrow.trained), "after training");
    // The limit law's 10–90 % band, at the trained time and at t = ∞, contains most of the wide
    // networks' values (80 % as n → ∞).
    assert_eq!(f2.bands.len(), 2);
    assert!(f2.bands[1].t.is_infinite());
    for b in &f2.bands {
        let inside = b.coverage(&f2.widths[1].functions);
        assert!(
            inside > 0.5,
            "t = {}: fraction inside the 10-90% band: {inside}",
            b.t
        );
    }
    assert!(
        d_wide < 2.0 * d_narrow + 1e-12,
        "narrow {d_narrow}, wide {d_wide}"
    );
}

#[test]
fn limit_band_matches_the_closed_form_at_one_training_point() {
    // One training point x_1 = (1, 0): A_t(x) = Θ(x, x_1)/Θ(x_1, x_1) · (1 − e^{−tΘ(x_1,x_1)}),
    // mean A_t y, variance Σ(x,x) − 2 A_t Σ(x_1, x) + A_t² Σ(x_1, x_1); the band is mean ± z·sd.
    let x1 = [1.0, 0.0];
    let x = core::circle(&[0.3, 2.0]);
    let y = [0.7];
    for t in [3.0, f64::INFINITY] {
        let b = core::limit_band(4, &x1, &y, &x, t);
        let (s11, t11) = core::limit_kernels(ntk::activation::Activation::Relu, 4, &x1, &x1);
        let (s1x, t1x) = core::limit_kernels(ntk::activation::Activation::Relu, 4, &x1, &x);
        for i in 0..2 {
            let (sxx, _) = core::limit_kernels(
                ntk::activation::Activation::Relu,
                4,
                &x[2 * i..2 * i + 2],
                &x[2 * i..2 * i + 2],
            );
            let decay = if t.is_finite() {
                1.0 - (-t * t11[0]).exp()
            } else {
                1.0
            };
            let a = t1x[i] / t11[0] * decay;
            let mean = a * y[0];
            let sd = (sxx[0] - 2.0 * a * s1x[i] + a * a * s11[0]).sqrt();
            let z = 1.281_551_565_544_600_5;
            for (got, want) in [
                (b.mean[i], mean),
                (b.p10[i], mean - z * sd),
                (b.p90[i], mean + z * sd),
            ] {
                assert!(
                    (got - want).abs() < 1e-12,
                    "t = {t}, i = {i}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn random_feature_model_is_kernel_gradient_descent_and_its_kernel_converges() {
    let d = data();
    let f = &d.fig5;
    // ‖K̃ − K‖/‖K‖ ∝ P^(−1/2) (law of large numbers); with 4 seeds per P over 16…4096 the fitted
    // slope is within ±0.15 of −1/2.
    assert!(
        (-0.65..=-0.35).contains(&f.slope_kernel_deviation),
        "slope {} rows {:?}",
        f.slope_kernel_deviation,
        f.rows
    );
    // Parameter GD of F^lin is kernel GD with K̃, exactly: only rounding separates them, at
    // every P.
    for r in &f.rows {
        assert!(r.gd_gap < 1e-11, "P = {}: gap {:e}", r.features, r.gd_gap);
    }
    // The network is not: its kernel moves, so its GD leaves kernel GD with its own initial
    // kernel by far more than rounding at every width (Figure 1's dashed curves).
    for r in &d.conv.rows {
        assert!(r.lazy_gap > 1e-3 && r.drift > 1e-3, "{r:?}");
    }
}

// ---- The figures, parsed from their SVG ----

#[derive(Debug, Default)]
struct Panel {
    plot_area: Option<[f64; 4]>,
    /// data-key → points (px) of its polylines and markers.
    series: HashMap<String, Vec<(f64, f64)>>,
    ticks: Vec<(String, String, f64, f64)>,
    texts: Vec<(String, String, f64, f64, f64, String)>,
}

fn attrs(tag: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].rsplit([' ', '\n']).next().unwrap().to_string();
        let after = &rest[eq + 2..];
        let end = after.find('"').expect("closing quote");
        let value = after[..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&amp;", "&");
        out.insert(key, value);
        rest = &after[end + 1..];
    }
    out
}

fn num(a: &HashMap<String, String>, k: &str) -> f64 {
    a.get(k)
        .unwrap_or_else(|| panic!("attribute {k} missing"))
        .parse()
        .unwrap_or_else(|_| panic!("attribute {k} is not a number"))
}

/// (width, height, panels) of an SVG written by examples/paper/plot.rs.
fn parse_svg(svg: &str) -> (f64, f64, Vec<Panel>) {
    let mut panels: Vec<Panel> = Vec::new();
    let mut stack: Vec<(String, Option<String>)> = Vec::new();
    let (mut w, mut h) = (0.0, 0.0);
    let mut pos = 0;
    while let Some(open) = svg[pos..].find('<') {
        let start = pos + open;
        let end = start + svg[start..].find('>').expect("unterminated tag");
        let tag = &svg[start + 1..end];
        pos = end + 1;
        let name = tag.split([' ', '\n']).next().unwrap().trim_end_matches('/');
        let a = attrs(tag);
        let class = a.get("class").cloned().unwrap_or_default();
        let series_key = stack
            .iter()
            .rev()
            .find(|(c, _)| c == "series")
            .and_then(|(_, k)| k.clone());
        match name {
            "svg" => {
                w = num(&a, "width");
                h = num(&a, "height");
            }
            "g" => {
                if class == "panel" {
                    panels.push(Panel::default());
                }
                stack.push((class, a.get("data-key").cloned()));
            }
            "/g" => {
                stack.pop();
            }
            "rect" if class == "plot-area" => {
                panels.last_mut().unwrap().plot_area = Some([
                    num(&a, "x"),
                    num(&a, "y"),
                    num(&a, "width"),
                    num(&a, "height"),
                ]);
            }
            "polyline" | "circle" => {
                if let Some(key) = series_key {
                    let pts = if name == "circle" {
                        vec![(num(&a, "cx"), num(&a, "cy"))]
                    } else {
                        a["points"]
                            .split(' ')
                            .map(|p| {
                                let (x, y) = p.split_once(',').unwrap();
                                (x.parse().unwrap(), y.parse().unwrap())
                            })
                            .collect()
                    };
                    panels
                        .last_mut()
                        .unwrap()
                        .series
                        .entry(key)
                        .or_default()
                        .extend(pts);
                }
            }
            "text" => {
                let close = pos + svg[pos..].find("</text>").expect("</text>");
                let content = svg[pos..close]
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&amp;", "&");
                pos = close + 7;
                let p = panels.last_mut().expect("text outside a panel");
                let (x, y) = (num(&a, "x"), num(&a, "y"));
                if class.starts_with("tick-") {
                    p.ticks.push((class.clone(), content.clone(), x, y));
                }
                p.texts.push((
                    class,
                    content,
                    x,
                    y,
                    num(&a, "font-size"),
                    a.get("text-anchor").cloned().unwrap_or_default(),
                ));
            }
            _ => {}
        }
    }
    (w, h, panels)
}

/// A tick label is a short decimal, a power of ten (10ᵏ, m×10ᵏ) or a multiple of π; never a
/// float's raw representation ("9999999999e-5", "0.30000000000000004", "1e-5").
fn clean_tick(label: &str) -> bool {
    let digits = label.chars().filter(|c| c.is_ascii_digit()).count();
    let decimal = {
        let body = label.strip_prefix('−').unwrap_or(label);
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        !int.is_empty()
            && int.chars().all(|c| c.is_ascii_digit())
            && frac.chars().all(|c| c.is_ascii_digit())
            && frac.len() <= 3
            && digits <= 6
            && !(int.len() > 1 && int.starts_with('0'))
    };
    let sup = |s: &str| {
        let s = s.strip_prefix('⁻').unwrap_or(s);
        !s.is_empty() && s.chars().all(|c| "⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c))
    };
    let power = label.strip_prefix("10").is_some_and(sup)
        || label
            .split_once("×10")
            .is_some_and(|(m, e)| m.len() == 1 && m.chars().all(|c| c.is_ascii_digit()) && sup(e));
    let pi = ["−π", "−π/2", "0", "π/2", "π"].contains(&label);
    decimal || power || pi
}

/// Checks one figure; `expected` are the series keys per panel.
fn check_figure(name: &str, svg: &str, expected: &[&[&str]]) {
    let (w, h, panels) = parse_svg(svg);
    assert!(w > 0.0 && h > 0.0, "{name}: size");
    assert_eq!(panels.len(), expected.len(), "{name}: panels");
    for (i, (p, keys)) in panels.iter().zip(expected).enumerate() {
        let [x0, y0, pw, ph] = p
            .plot_area
            .unwrap_or_else(|| panic!("{name}/{i}: no plot area"));
        for key in *keys {
            let pts = p.series.get(*key).unwrap_or_else(|| {
                panic!(
                    "{name}/{i}: series {key:?} missing; have {:?}",
                    p.series.keys()
                )
            });
            assert!(!pts.is_empty(), "{name}/{i}: series {key:?} is empty");
        }
        // All data inside the plot area (markers' centres; 0.01 px of rounding in the SVG).
        for (key, pts) in &p.series {
            for &(x, y) in pts {
                assert!(
                    x >= x0 - 0.01 && x <= x0 + pw + 0.01 && y >= y0 - 0.01 && y <= y0 + ph + 0.01,
                    "{name}/{i}: series {key:?} has a point ({x}, {y}) outside the plot area {:?}",
                    [x0, y0, pw, ph]
                );
            }
        }
        // Tick labels: clean, at least two per axis, inside the plot area's span, distinct.
        for axis in ["tick-x", "tick-y"] {
            let t: Vec<_> = p.ticks.iter().filter(|t| t.0 == axis).collect();
            assert!(t.len() >= 2, "{name}/{i}: {} {axis} labels", t.len());
            for (_, label, x, y) in &t {
                assert!(
                    clean_tick(label),
                    "{name}/{i}: degenerate tick label {label:?}"
                );
                if axis == "tick-x" {
                    assert!(
                        *x >= x0 - 0.01 && *x <= x0 + pw + 0.01,
                        "{name}/{i}: {label} at x = {x}"
                    );
                } else {
                    assert!(
                        *y >= y0 - 0.01 && *y <= y0 + ph + TICK_SLACK,
                        "{name}/{i}: {label} at y = {y}"
                    );
                }
            }
            let mut labels: Vec<&String> = t.iter().map(|t| &t.1).collect();
            labels.dedup();
            assert_eq!(labels.len(), t.len(), "{name}/{i}: repeated {axis} labels");
        }
        // Every text: legible, drawable by the bundled font, and on the canvas (not cut off).
        for (class, text, x, y, px, anchor) in &p.texts {
            assert!(*px >= 11.0, "{name}/{i}: {class} {text:?} at {px} px");
            assert!(
                plot::missing_glyphs(text).is_empty(),
                "{name}/{i}: no glyph for {:?} in {text:?}",
                plot::missing_glyphs(text)
            );
            if class == "axis-y" {
                continue; // rotated; its extent is vertical
            }
            let tw = plot::text_width(text, *px);
            let left = match anchor.as_str() {
                "end" => x - tw,
                "middle" => x - tw / 2.0,
                _ => *x,
            };
            assert!(
                left >= 0.0 && left + tw <= w + 0.01 && *y > 0.0 && *y <= h,
                "{name}/{i}: {class} {text:?} leaves the canvas"
            );
        }
    }
}

/// Tick labels on the y axis are placed at their baseline, a third of a line below the tick.
const TICK_SLACK: f64 = 0.36 * plot::TICK_PX + 0.01;

fn width_keys(prefix: &str, widths: &[usize], suffix: &str) -> Vec<String> {
    widths
        .iter()
        .map(|w| format!("{prefix}{w}{suffix}"))
        .collect()
}

#[test]
fn figures_have_clean_ticks_data_inside_and_the_expected_series() {
    let d = data();
    let s = &d.s;
    let f1 = figures::figure1(s, &d.fig1).svg();
    let mut k1: Vec<String> = width_keys("n = ", &s.fig1_widths, ", t = 0");
    k1.extend(width_keys(
        "n = ",
        &s.fig1_widths,
        &format!(", t = {}", s.fig1_steps),
    ));
    k1.push("limit".into());
    check_figure(
        "figure 1",
        &f1,
        &[&k1.iter().map(|s| s.as_str()).collect::<Vec<_>>()],
    );
    let f2 = figures::figure2(s, &d.fig2).svg();
    let mut k2 = width_keys("n = ", &s.fig2_widths, "");
    k2.extend(["mean", "band", "band-inf", "train"].map(String::from));
    check_figure(
        "figure 2",
        &f2,
        &[&k2.iter().map(|s| s.as_str()).collect::<Vec<_>>()],
    );
    let f3 = figures::figure3(s, &d.conv).svg();
    check_figure(
        "figure 3",
        &f3,
        &[&["deviation", "drift", "flow-gap", "reference"]],
    );
    let f4 = figures::figure4(s, &d.spectra).svg();
    check_figure("figure 4", &f4, &[&["relu", "identity"]]);
    let f5 = figures::figure5(s, &d.fig5, Some(&d.conv)).svg();
    check_figure(
        "figure 5",
        &f5,
        &[
            &["kernel-deviation", "reference"],
            &["flin-gap", "network-gap", "network-drift"],
        ],
    );
    // Figure 3's log axes carry decade labels (the widths 64…512 span 10²; the errors 10⁻¹).
    let (_, _, p3) = parse_svg(&f3);
    assert!(
        p3[0].ticks.iter().any(|t| t.0 == "tick-x" && t.1 == "10²"),
        "{:?}",
        p3[0].ticks
    );
    // The same width has the same colour in Figures 1 and 2.
    let color = |svg: &str, key: &str| {
        let at = svg.find(&format!("data-key=\"{key}\"")).unwrap();
        let rest = &svg[at..];
        let s = rest.find("stroke=\"#").unwrap() + 8;
        rest[s..s + 7].to_string()
    };
    for w in s.fig1_widths.iter().filter(|w| s.fig2_widths.contains(w)) {
        assert_eq!(
            color(&f1, &format!("n = {w}, t = 0")),
            color(&f2, &format!("n = {w}"))
        );
    }
}

#[test]
fn tick_labels_are_clean_on_awkward_ranges() {
    // The ranges that produced "9999999999e-5" and "99999999998" before.
    for (lo, hi) in [
        (0.99999, 1.00001),
        (-3.2, 3.2),
        (1e-5, 3e-5),
        (0.0, 1e5),
        (123456.0, 123457.0),
        (-0.1, 0.1),
    ] {
        let t = plot::linear_ticks(lo, hi);
        assert!(t.len() >= 3 && t.len() <= 8, "{lo}..{hi}: {t:?}");
        for (v, label) in &t {
            assert!(*v >= lo && *v <= hi);
            let parsed: f64 = label.replace('−', "-").parse().unwrap();
            let step = t[1].0 - t[0].0;
            assert!((parsed - v).abs() < 1e-6 * step, "{label} vs {v}");
            assert!(
                !label.contains('e') && label.len() <= 9,
                "{lo}..{hi}: {label:?}"
            );
        }
    }
    for (lo, hi, want) in [
        (50.0, 1300.0, vec!["10²", "10³"]),
        (
            1e-17,
            10.0,
            vec!["10⁻¹⁵", "10⁻¹²", "10⁻⁹", "10⁻⁶", "10⁻³", "10⁰"],
        ),
        (0.03, 0.6, vec!["5×10⁻²", "10⁻¹", "2×10⁻¹", "5×10⁻¹"]),
    ] {
        let (major, minor) = plot::log_ticks(lo, hi);
        let labels: Vec<&str> = major.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, want, "{lo}..{hi}");
        assert!(!minor.is_empty(), "{lo}..{hi}: minor ticks");
    }
}

#[test]
fn committed_figures_are_well_formed() {
    // The figures the README shows (docs/figures, from the default run): same checks on the
    // shipped SVG, and each has its PNG at twice the SVG's size.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/figures");
    for (stem, panels) in [
        ("fig1_kernel", 1),
        ("fig2_functions", 1),
        ("fig3_convergence", 1),
        ("fig4_spectrum", 1),
        ("fig5_flin", 2),
    ] {
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        let (w, h, p) = parse_svg(&svg);
        assert_eq!(p.len(), panels, "{stem}");
        let keys: Vec<Vec<&str>> = p.iter().map(|_| Vec::new()).collect();
        let keys: Vec<&[&str]> = keys.iter().map(|k| k.as_slice()).collect();
        check_figure(stem, &svg, &keys);
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png signature");
        let be = |o: usize| u32::from_be_bytes(png[o..o + 4].try_into().unwrap()) as f64;
        assert_eq!((be(16), be(20)), (2.0 * w, 2.0 * h), "{stem}.png size");
    }
}

#[test]
fn the_figure_checks_reject_broken_figures() {
    // The checks above must be able to fail: a degenerate tick label, a point outside the plot
    // area, a missing series, a tiny font are each caught.
    let d = data();
    let good = figures::figure4(&d.s, &d.spectra).svg();
    let keys: &[&[&str]] = &[&["relu", "identity"]];
    check_figure("figure 4", &good, keys);
    let first_tick = good.find("class=\"tick-y\"").unwrap();
    let open = first_tick + good[first_tick..].find('>').unwrap() + 1;
    let close = open + good[open..].find("</text>").unwrap();
    let bad_label = format!("{}9999999999e-5{}", &good[..open], &good[close..]);
    let at = good.find("data-key=\"relu\"").unwrap();
    let pts = at + good[at..].find("points=\"").unwrap() + 8;
    let bad_point = format!("{}-40.00,10.00 {}", &good[..pts], &good[pts..]);
    let missing = good.replace("data-key=\"identity\"", "data-key=\"other\"");
    let tiny = good.replacen("font-size=\"14\"", "font-size=\"8\"", 1);
    for (what, svg) in [
        ("degenerate label", bad_label),
        ("point outside", bad_point),
        ("missing series", missing),
        ("tiny font", tiny),
    ] {
        assert_ne!(svg, good, "{what}: the mutation did not apply");
        let caught = std::panic::catch_unwind(|| check_figure("mutated", &svg, keys)).is_err();
        assert!(caught, "{what} was not detected");
    }
}

/// Counts the units each phase announces and reports; asks to stop after `stop_after` units.
struct Counting {
    total: std::sync::atomic::AtomicU64,
    done: std::sync::atomic::AtomicU64,
    stop_after: u64,
}

impl core::Monitor for Counting {
    fn phase(&self, _: &str, _: &str, total: u64) {
        self.total
            .fetch_add(total, std::sync::atomic::Ordering::Relaxed);
    }
    fn work(&self, amount: u64) -> bool {
        let d = self
            .done
            .fetch_add(amount, std::sync::atomic::Ordering::Relaxed)
            + amount;
        d < self.stop_after
    }
    fn note(&self, _: &str) {}
}

#[test]
fn progress_counts_every_pass_and_a_stop_ends_the_phase() {
    use std::sync::atomic::Ordering::Relaxed;
    let mut s = Settings::test();
    s.fig1_widths = vec![32, 64];
    s.fig1_inits = 2;
    s.fig1_steps = 10;
    s.gamma_points = 21; // two kernel blocks of at most 16 columns
    s.fig2_widths = vec![32];
    s.fig2_inits = 2;
    s.fig2_steps = 7;
    s.conv_widths = vec![32, 64];
    s.conv_seeds = 2;
    s.conv_steps = 5;
    s.fig5_features = vec![8, 16];
    s.fig5_seeds = 2;
    let counting = |stop_after| Counting {
        total: 0.into(),
        done: 0.into(),
        stop_after,
    };
    // The announced totals are exactly the work reported: the progress line reaches 100 %.
    let m = counting(u64::MAX);
    core::figure1(&s, &m).unwrap();
    core::figure2(&s, &m).unwrap();
    core::convergence(&s, &m).unwrap();
    core::random_features(&s, &m).unwrap();
    assert_eq!(m.done.load(Relaxed), m.total.load(Relaxed));
    assert!(m.total.load(Relaxed) > 0);
    // A stop request ends the phase with Stopped before its work is done.
    for stop_after in [1, 25, 200] {
        let m = counting(stop_after);
        assert_eq!(
            core::figure1(&s, &m).err(),
            Some(core::Stopped),
            "stop after {stop_after}"
        );
        // A stop at the first report leaves the phase's work undone whatever the scheduling; a
        // later stop may land after the last report of every item (the library reports a
        // training run's progress at its own pace), so only the Stopped result is asserted then.
        if stop_after == 1 {
            assert!(m.done.load(Relaxed) < m.total.load(Relaxed));
        }
        let m = counting(stop_after);
        assert_eq!(core::convergence(&s, &m).err(), Some(core::Stopped));
    }
    // Figure 1's kernel, computed in blocks of 16 columns for the progress line, equals the
    // library's kernel in one call (network 0 of width 32 has seed 1000).
    let f1 = core::figure1(&s, &Silent).unwrap();
    let net = ntk::network::Network::new(ntk::network::NetworkConfig {
        widths: vec![2, 32, 32, 32, 1],
        activation: ntk::activation::Activation::Relu,
        beta: core::BETA,
        seed: 1000,
    })
    .unwrap();
    let grid = core::circle(&core::gamma_grid(21));
    let (k, _, _) = ntk::kernel::empirical::empirical_ntk_vec(
        &net,
        ntk::linalg::MatRef::from_row_major(&[1.0, 0.0], 1, 2),
        Some(ntk::linalg::MatRef::from_row_major(&grid, 21, 2)),
        ntk::kernel::empirical::KernelMode::Trace,
        ntk::kernel::empirical::KernelMethod::Structured,
    )
    .unwrap();
    let blocked = &f1.widths[0].at_init[0];
    assert_eq!(blocked.len(), 21);
    for (a, b) in blocked.iter().zip(&k) {
        assert!((a - b).abs() <= 1e-13 * b.abs(), "{a} vs {b}");
    }
}

// ---- A non-default architecture (issue #13): standard parameterization, σ_w = 1.5, σ_b = 0.1, erf ----

/// The non-default network of the options at reduced sizes, every experiment that trains.
struct ArchData {
    s: Settings,
    fig1: core::Fig1,
    fig2: core::Fig2,
    fig5: core::Fig5,
}

fn arch_data() -> &'static ArchData {
    static D: OnceLock<ArchData> = OnceLock::new();
    D.get_or_init(|| {
        let mut s = Settings::test();
        s.arch =
            core::arch_from_options(4, Some("1.5"), Some("0.1"), Some("erf"), Some("standard"))
                .expect("valid options");
        s.fig1_widths = vec![128, 512];
        s.fig1_inits = 3;
        s.fig1_steps = 30;
        s.gamma_points = 13;
        s.fig2_widths = vec![512];
        s.fig2_inits = 12;
        s.fig2_steps = 60;
        s.fig5_features = vec![16, 64, 256, 1024];
        ArchData {
            fig1: core::figure1(&s, &Silent).unwrap(),
            fig2: core::figure2(&s, &Silent).unwrap(),
            fig5: core::random_features(&s, &Silent).unwrap(),
            s,
        }
    })
}

/// Θ_∞(x_0, x_γ) of the architecture written out here (not through the options), by the
/// library's limit kernel directly.
fn direct_limit(width: usize, x0: &[f64], grid: &[f64]) -> Vec<f64> {
    use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
    use ntk::linalg::{MatMut, MatRef};
    let arch = ntk::network::Architecture::uniform(
        vec![2, width, width, width, 1],
        ntk::activation::Activation::Erf,
        1.5,
        0.1,
        ntk::network::Parameterization::Standard,
        0,
    );
    let m = grid.len() / 2;
    let mut ntk_out = vec![0.0; m];
    limit_kernel(
        &LimitSpec::of_architecture(&arch),
        MatRef::from_row_major(x0, 1, 2),
        Some(MatRef::from_row_major(grid, m, 2)),
        LimitOutputs {
            nngp: None,
            sigma_dot: None,
            ntk: Some(MatMut::from_row_major(&mut ntk_out, 1, m)),
        },
        &mut ntk::parallel::Progress::none(),
    )
    .unwrap();
    ntk_out
}

fn rel_frobenius(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    (d / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
}

#[test]
fn non_default_architecture_reports_the_libraries_limit_and_its_networks_approach_it() {
    let d = arch_data();
    let f1 = &d.fig1;
    let grid = core::circle(&f1.gammas);
    for w in &f1.widths {
        let want = direct_limit(w.width, &[1.0, 0.0], &grid);
        for (g, (a, b)) in w.limit.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-13 * b.abs(),
                "width {}, γ index {g}: reported {a} vs limit_kernel {b}",
                w.width
            );
        }
        // Standard parameterization: Θ_∞ grows with the widths (≈ n·E per layer).
        assert!(w.eta > 0.0 && w.eta.is_finite(), "η = {}", w.eta);
        // The networks' kernels at init scatter around this width's limit (mean over inits).
        let m = w.at_init.len() as f64;
        let mean: Vec<f64> = (0..want.len())
            .map(|g| w.at_init.iter().map(|k| k[g]).sum::<f64>() / m)
            .collect();
        let dev = rel_frobenius(&mean, &want);
        // Training with η = c·2N/λ_max is stable: the kernel moves little.
        let moved: f64 = w
            .trained
            .iter()
            .zip(&w.at_init)
            .map(|(t, i)| rel_frobenius(t, i))
            .fold(0.0, f64::max);
        assert!(
            dev < 0.2,
            "width {}: ‖mean Θ(0) − Θ∞‖/‖Θ∞‖ = {dev}",
            w.width
        );
        assert!(moved < 0.2, "width {}: kernel moved by {moved}", w.width);
        eprintln!(
            "width {}: η = {:.4e}, deviation {dev:.4}, moved {moved:.4}",
            w.width, w.eta
        );
    }
    // The two widths have different limits (the standard NTK depends on them) and η follows.
    // At γ = 0 (x = x_0): Θ_∞ ≈ 4× at 4× the width.
    let (a, b) = (&f1.widths[0], &f1.widths[1]);
    let c = f1.gammas.len() / 2;
    assert_eq!(f1.gammas[c], 0.0);
    assert!(
        b.limit[c] > 2.0 * a.limit[c],
        "{} vs {}",
        b.limit[c],
        a.limit[c]
    );
    assert!(b.eta < 0.5 * a.eta, "η {} vs {}", b.eta, a.eta);
    assert!(d.s.network_name().contains("standard"));
}

#[test]
fn non_default_architecture_trained_mean_tracks_the_limit_prediction() {
    let d = arch_data();
    let f2 = &d.fig2;
    let w = &f2.widths[0];
    let band = &w.bands[0];
    assert_eq!(band.t, d.s.fig2_steps as f64 * w.eta);
    let m = w.functions.len() as f64;
    let z90 = 1.281_551_565_544_600_5;
    let (mut worst, mut worst_mc) = (0.0f64, 0.0f64);
    for g in 0..band.mean.len() {
        let mean = w.functions.iter().map(|f| f[g]).sum::<f64>() / m;
        let sd = (band.p90[g] - band.p10[g]) / (2.0 * z90);
        // The mean of m independent trained networks is within a few standard errors of the
        // limit law's mean (the Monte-Carlo band), plus a small finite-width bias.
        let z = (mean - band.mean[g]).abs() / (sd / m.sqrt() + 0.02);
        worst = worst.max(z);
        worst_mc = worst_mc.max((mean - band.mean[g]).abs() / (sd / m.sqrt()));
    }
    eprintln!(
        "trained mean vs limit mean: worst z {worst:.3} ({worst_mc:.3} without the bias allowance)"
    );
    assert!(
        worst < 4.0,
        "worst |mean − limit mean| / (sd/√m + 0.02) = {worst}"
    );
    // The trained functions fit the training targets (the law's mean interpolates them at t·λ ≫ N).
    let inside = band.coverage(&w.functions);
    assert!(inside > 0.5, "fraction inside the 10–90 % band {inside}");
}

#[test]
fn non_default_architecture_random_features_use_its_first_layer() {
    let f = &arch_data().fig5;
    // K̃ of erf features with σ_w = 1.5, σ_b = 0.1 converges to the limit K of that layer
    // (a wrong K would stall the deviation at its bias instead of falling as P^(−1/2)).
    assert!(
        (-0.75..=-0.35).contains(&f.slope_kernel_deviation),
        "slope {} rows {:?}",
        f.slope_kernel_deviation,
        f.rows
    );
    assert!(
        f.rows.last().unwrap().kernel_deviation < 0.1,
        "{:?}",
        f.rows
    );
    for r in &f.rows {
        assert!(r.gd_gap < 1e-11, "P = {}: gap {:e}", r.features, r.gd_gap);
    }
}

#[test]
fn bad_architecture_options_name_the_option() {
    let o = |w: Option<&str>, b: Option<&str>, a: Option<&str>, p: Option<&str>| {
        core::arch_from_options(4, w, b, a, p)
            .err()
            .unwrap_or_default()
    };
    for (got, want) in [
        (o(Some("0"), None, None, None), "--w-std"),
        (o(Some("1,nan"), None, None, None), "--w-std"),
        (
            o(Some("1,2"), None, None, None),
            "--w-std: 2 values for depth L = 4",
        ),
        (o(None, Some("-0.1"), None, None), "--b-std"),
        (o(None, Some("x"), None, None), "--b-std"),
        (
            o(None, None, Some("swish"), None),
            "--activation: unknown activation \"swish\"",
        ),
        (
            o(None, None, Some("relu,erf"), None),
            "--activation: 2 values",
        ),
        (o(None, None, Some("leaky_relu:z"), None), "--activation"),
        (o(None, None, None, Some("mup")), "--parameterization"),
    ] {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
    assert!(core::parse_lr_fraction("1.5")
        .unwrap_err()
        .starts_with("--lr-fraction"));
    assert!(core::parse_lr_fraction("0").is_err());
    assert_eq!(core::parse_lr_fraction("0.25"), Ok(0.25));
    // Per-layer lists are taken layer by layer; no options give the default network.
    let a = core::arch_from_options(4, Some("1,2,3,4"), None, Some("relu,erf,tanh"), None).unwrap();
    assert_eq!(a.layers[2].sigma_w, 3.0);
    assert_eq!(a.layers[1].activation.as_ref().unwrap().name(), "erf");
    assert!(a.layers[3].activation.is_none());
    let mut s = Settings::test();
    assert!(s.default_network());
    s.arch = core::arch_from_options(4, None, None, None, None).unwrap();
    assert!(s.default_network());
}
