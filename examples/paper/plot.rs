//! Line charts for the paper job, drawn twice from one layout: as SVG (written by hand, with
//! `class` attributes that tests/paper_figures.rs parses) and as PNG (tiny-skia, anti-aliased,
//! text drawn from the glyph outlines of the bundled DejaVu Sans: no system font or library).
//!
//! Layout decisions that the figures rely on:
//! - every axis range is computed from the data plus a margin, so all data lies inside the plot
//!   area (tested on the SVG);
//! - linear ticks are 1, 2, 2.5 or 5 × 10^k, printed with the decimals the step needs (never a
//!   float's shortest representation, which gave "9999999999e-5");
//! - log ticks are decades labelled 10^k (every 2nd or 3rd decade when the range is wide) with
//!   unlabelled minor ticks at 2…9 × 10^k;
//! - the legend sits in its own column right of the plot area, so it never hides data.

use std::fmt::Write as _;
use std::path::Path;

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Color(pub u8, pub u8, pub u8);

impl Color {
    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

pub const BLACK: Color = Color(0, 0, 0);
pub const GREY: Color = Color(100, 100, 100);
pub const LIGHT: Color = Color(215, 215, 215);
/// Quantities that are not a width (Figures 3 and 5).
pub const INK: Color = Color(30, 30, 30);
pub const MAGENTA: Color = Color(190, 30, 140);
pub const TEAL: Color = Color(0, 140, 150);
pub const OLIVE: Color = Color(128, 128, 0);
pub const RED: Color = Color(214, 39, 40);

/// The colour of a network width, the same in every figure.
pub fn width_color(n: usize) -> Color {
    match n {
        50 => Color(44, 160, 44),
        100 => Color(148, 103, 189),
        500 => Color(31, 119, 180),
        1000 => Color(255, 127, 14),
        10000 => Color(140, 86, 75),
        _ => {
            const OTHER: [Color; 4] = [
                Color(23, 190, 207),
                Color(188, 189, 34),
                Color(227, 119, 194),
                Color(127, 127, 127),
            ];
            OTHER[n.trailing_zeros() as usize % OTHER.len()]
        }
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// A solid line (2 px).
    Line,
    /// A solid line with a marker at each point.
    LinePoints,
    /// A thin, translucent line (one of many random initializations).
    Thin,
    /// A dashed line.
    Dashed,
    /// Markers only.
    Points,
}

impl Style {
    fn name(self) -> &'static str {
        match self {
            Style::Line => "line",
            Style::LinePoints => "line-points",
            Style::Thin => "thin",
            Style::Dashed => "dashed",
            Style::Points => "points",
        }
    }
}

/// One curve. Curves with the same `key` form one series (e.g. ten initializations); only the
/// first curve of a key with a non-empty `label` gets a legend entry.
pub struct Series {
    pub key: String,
    pub label: String,
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub color: Color,
    pub style: Style,
}

/// One panel: title, axis labels, optional log scales, curves.
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// Fixed x ticks (value, label) instead of the automatic ones.
    pub x_ticks: Option<Vec<(f64, String)>>,
    pub series: Vec<Series>,
}

/// Panels side by side, each `panel_size` pixels (CSS px in the SVG; the PNG is drawn at
/// `png_scale` device pixels per px).
pub struct Figure {
    pub panels: Vec<Chart>,
    pub panel_size: (f64, f64),
}

pub const TITLE_PX: f64 = 16.0;
pub const AXIS_PX: f64 = 15.0;
pub const TICK_PX: f64 = 14.0;
pub const LEGEND_PX: f64 = 13.0;
const PNG_SCALE: f32 = 2.0;

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn font() -> ttf_parser::Face<'static> {
    ttf_parser::Face::parse(FONT_BYTES, 0).expect("bundled DejaVu Sans parses")
}

/// Advance width of `s` at `px` pixels in DejaVu Sans (for layout in both outputs).
pub fn text_width(s: &str, px: f64) -> f64 {
    let f = font();
    let scale = px / f.units_per_em() as f64;
    s.chars()
        .map(|c| {
            f.glyph_index(c)
                .and_then(|g| f.glyph_hor_advance(g))
                .unwrap_or(f.units_per_em() / 2) as f64
                * scale
        })
        .sum()
}

#[derive(Clone, Copy, PartialEq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// The drawing primitives both outputs implement, in px with y downwards.
trait Canvas {
    fn begin(&mut self, class: &str, attrs: &[(&str, &str)]);
    fn end(&mut self);
    fn rect(&mut self, class: &str, r: [f64; 4], fill: Option<Color>, stroke: Option<Color>);
    fn polyline(&mut self, pts: &[(f64, f64)], c: Color, alpha: f64, width: f64, dash: bool);
    fn circle(&mut self, cx: f64, cy: f64, r: f64, c: Color);
    #[allow(clippy::too_many_arguments)]
    fn text(&mut self, class: &str, x: f64, y: f64, s: &str, px: f64, a: Anchor, rot: bool);
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Svg(String);

impl Canvas for Svg {
    fn begin(&mut self, class: &str, attrs: &[(&str, &str)]) {
        let _ = write!(self.0, "<g class=\"{class}\"");
        for (k, v) in attrs {
            let _ = write!(self.0, " {k}=\"{}\"", esc(v));
        }
        self.0.push_str(">\n");
    }
    fn end(&mut self) {
        self.0.push_str("</g>\n");
    }
    fn rect(&mut self, class: &str, r: [f64; 4], fill: Option<Color>, stroke: Option<Color>) {
        let _ = writeln!(
            self.0,
            "<rect class=\"{class}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\" stroke=\"{}\"/>",
            r[0],
            r[1],
            r[2],
            r[3],
            fill.map_or("none".into(), Color::hex),
            stroke.map_or("none".into(), Color::hex)
        );
    }
    fn polyline(&mut self, pts: &[(f64, f64)], c: Color, alpha: f64, width: f64, dash: bool) {
        let _ = write!(
            self.0,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-opacity=\"{alpha}\" stroke-width=\"{width}\" stroke-linejoin=\"round\"{} points=\"",
            c.hex(),
            if dash { " stroke-dasharray=\"7 4\"" } else { "" }
        );
        for (i, (x, y)) in pts.iter().enumerate() {
            let _ = write!(self.0, "{}{x:.2},{y:.2}", if i > 0 { " " } else { "" });
        }
        self.0.push_str("\"/>\n");
    }
    fn circle(&mut self, cx: f64, cy: f64, r: f64, c: Color) {
        let _ = writeln!(
            self.0,
            "<circle cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"{r}\" fill=\"{}\"/>",
            c.hex()
        );
    }
    fn text(&mut self, class: &str, x: f64, y: f64, s: &str, px: f64, a: Anchor, rot: bool) {
        let anchor = match a {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let transform = if rot {
            format!(" transform=\"rotate(-90 {x:.2} {y:.2})\"")
        } else {
            String::new()
        };
        let _ = writeln!(
            self.0,
            "<text class=\"{class}\" x=\"{x:.2}\" y=\"{y:.2}\" font-size=\"{px}\" text-anchor=\"{anchor}\"{transform}>{}</text>",
            esc(s)
        );
    }
}

struct Png {
    pix: tiny_skia::Pixmap,
    face: ttf_parser::Face<'static>,
}

struct Outline(tiny_skia::PathBuilder);

impl ttf_parser::OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x, y)
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x, y)
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1, y1, x, y)
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.cubic_to(x1, y1, x2, y2, x, y)
    }
    fn close(&mut self) {
        self.0.close()
    }
}

impl Png {
    fn paint(c: Color, alpha: f64) -> tiny_skia::Paint<'static> {
        let mut p = tiny_skia::Paint::default();
        p.set_color_rgba8(c.0, c.1, c.2, (alpha * 255.0).round() as u8);
        p.anti_alias = true;
        p
    }
    fn scale() -> tiny_skia::Transform {
        tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE)
    }
}

impl Canvas for Png {
    fn begin(&mut self, _: &str, _: &[(&str, &str)]) {}
    fn end(&mut self) {}
    fn rect(&mut self, _: &str, r: [f64; 4], fill: Option<Color>, stroke: Option<Color>) {
        let Some(rect) =
            tiny_skia::Rect::from_xywh(r[0] as f32, r[1] as f32, r[2] as f32, r[3] as f32)
        else {
            return;
        };
        if let Some(c) = fill {
            self.pix
                .fill_rect(rect, &Png::paint(c, 1.0), Png::scale(), None);
        }
        if let Some(c) = stroke {
            let path = tiny_skia::PathBuilder::from_rect(rect);
            let stroke = tiny_skia::Stroke {
                width: 1.0,
                ..Default::default()
            };
            self.pix
                .stroke_path(&path, &Png::paint(c, 1.0), &stroke, Png::scale(), None);
        }
    }
    fn polyline(&mut self, pts: &[(f64, f64)], c: Color, alpha: f64, width: f64, dash: bool) {
        let mut pb = tiny_skia::PathBuilder::new();
        for (i, &(x, y)) in pts.iter().enumerate() {
            if i == 0 {
                pb.move_to(x as f32, y as f32)
            } else {
                pb.line_to(x as f32, y as f32)
            }
        }
        let Some(path) = pb.finish() else { return };
        let stroke = tiny_skia::Stroke {
            width: width as f32,
            line_join: tiny_skia::LineJoin::Round,
            dash: if dash {
                tiny_skia::StrokeDash::new(vec![7.0, 4.0], 0.0)
            } else {
                None
            },
            ..Default::default()
        };
        self.pix
            .stroke_path(&path, &Png::paint(c, alpha), &stroke, Png::scale(), None);
    }
    fn circle(&mut self, cx: f64, cy: f64, r: f64, c: Color) {
        if let Some(path) = tiny_skia::PathBuilder::from_circle(cx as f32, cy as f32, r as f32) {
            self.pix.fill_path(
                &path,
                &Png::paint(c, 1.0),
                tiny_skia::FillRule::Winding,
                Png::scale(),
                None,
            );
        }
    }
    fn text(&mut self, _: &str, x: f64, y: f64, s: &str, px: f64, a: Anchor, rot: bool) {
        let w = text_width(s, px);
        let dx = match a {
            Anchor::Start => 0.0,
            Anchor::Middle => -w / 2.0,
            Anchor::End => -w,
        };
        let em = self.face.units_per_em() as f32;
        let k = (px as f32) / em;
        // Text space: glyph units, y up; placed at the anchor, then rotated about (x, y).
        let mut base = Png::scale().pre_translate(x as f32, y as f32);
        if rot {
            base = base.pre_rotate(-90.0);
        }
        let mut pen = dx as f32;
        for ch in s.chars() {
            let Some(g) = self.face.glyph_index(ch) else {
                pen += px as f32 / 2.0;
                continue;
            };
            let mut o = Outline(tiny_skia::PathBuilder::new());
            if self.face.outline_glyph(g, &mut o).is_some() {
                if let Some(path) = o.0.finish() {
                    let t = base.pre_translate(pen, 0.0).pre_scale(k, -k);
                    self.pix.fill_path(
                        &path,
                        &Png::paint(BLACK, 1.0),
                        tiny_skia::FillRule::Winding,
                        t,
                        None,
                    );
                }
            }
            pen += self.face.glyph_hor_advance(g).unwrap_or(0) as f32 * k;
        }
    }
}

/// An axis: data range, scale, and the map to pixels.
#[derive(Clone, Copy, Debug)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    fn from_data(values: impl Iterator<Item = f64>, log: bool) -> Axis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            return Axis {
                lo: if log { 0.1 } else { -1.0 },
                hi: if log { 10.0 } else { 1.0 },
                log,
            };
        }
        if log {
            let (a, b) = (lo.log10(), hi.log10());
            let pad = 0.05 * (b - a).max(0.2);
            Axis {
                lo: 10f64.powf(a - pad),
                hi: 10f64.powf(b + pad),
                log,
            }
        } else {
            let span = (hi - lo).max(1e-12 * hi.abs().max(1.0));
            let pad = 0.06 * span;
            Axis {
                lo: lo - pad,
                hi: hi + pad,
                log,
            }
        }
    }

    /// Position in [0, 1] along the axis.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// (major ticks with labels, minor ticks).
    fn ticks(&self) -> (Vec<(f64, String)>, Vec<f64>) {
        if self.log {
            log_ticks(self.lo, self.hi)
        } else {
            (linear_ticks(self.lo, self.hi), Vec::new())
        }
    }
}

/// Ticks at multiples of a 1, 2, 2.5 or 5 × 10^k step (4 to 8 of them), labelled with exactly
/// the decimals the step needs.
pub fn linear_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let raw = (hi - lo) / 6.0;
    let e = raw.log10().floor();
    let base = 10f64.powf(e);
    let (m, extra) = [(1.0, 0), (2.0, 0), (2.5, 1), (5.0, 0), (10.0, 0)]
        .into_iter()
        .find(|(m, _)| m * base >= raw)
        .unwrap_or((10.0, 0));
    let step = m * base;
    let decimals = ((-(step.log10().floor())) as i64 + extra).max(0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            let mut s = format!("{v:.decimals$}");
            if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
                s.remove(0);
            }
            (v, s.replace('-', "−"))
        })
        .collect()
}

/// 10^k with superscript digits.
pub fn decade_label(k: i32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::from("10");
    if k < 0 {
        s.push('⁻');
    }
    for d in k.unsigned_abs().to_string().bytes() {
        s.push(SUP[(d - b'0') as usize]);
    }
    s
}

/// Decade ticks labelled 10^k, every `step`-th decade when there are many; minor ticks at
/// m × 10^k (m = 2…9) when the range spans few decades, else at the unlabelled decades. A range
/// with fewer than two decades inside also labels 2 × 10^k and 5 × 10^k ("2×10⁻¹").
pub fn log_ticks(lo: f64, hi: f64) -> (Vec<(f64, String)>, Vec<f64>) {
    let (a, b) = (lo.log10(), hi.log10());
    let (k0, k1) = (a.floor() as i32, b.ceil() as i32);
    let decades: Vec<i32> = (k0..=k1)
        .filter(|k| {
            let v = 10f64.powi(*k);
            v >= lo && v <= hi
        })
        .collect();
    let step = match decades.len() {
        0..=7 => 1,
        8..=14 => 2,
        15..=21 => 3,
        _ => 5,
    };
    let mut major = Vec::new();
    let mut minor = Vec::new();
    for &k in &decades {
        if k.rem_euclid(step) == 0 {
            major.push((10f64.powi(k), decade_label(k)));
        } else {
            minor.push(10f64.powi(k));
        }
    }
    if step == 1 && b - a < 8.0 {
        for k in k0..=k1 {
            for m in 2..=9 {
                let v = m as f64 * 10f64.powi(k);
                if v >= lo && v <= hi {
                    if decades.len() < 2 && (m == 2 || m == 5) {
                        major.push((v, format!("{m}×{}", decade_label(k))));
                    } else {
                        minor.push(v);
                    }
                }
            }
        }
    }
    major.sort_by(|x, y| x.0.total_cmp(&y.0));
    (major, minor)
}

/// Margins of a panel around its plot area, in px.
const LEFT: f64 = 86.0;
const BOTTOM: f64 = 58.0;
const TOP: f64 = 34.0;
const RIGHT_GAP: f64 = 14.0;

fn legend_entries(c: &Chart) -> Vec<(&str, Color, Style)> {
    let mut seen = std::collections::HashSet::new();
    c.series
        .iter()
        .filter(|s| !s.label.is_empty() && seen.insert(s.key.as_str()))
        .map(|s| (s.label.as_str(), s.color, s.style))
        .collect()
}

fn draw_panel(cv: &mut dyn Canvas, c: &Chart, ox: f64, size: (f64, f64)) {
    let entries = legend_entries(c);
    let legend_w = entries
        .iter()
        .map(|e| text_width(e.0, LEGEND_PX))
        .fold(0.0, f64::max)
        + if entries.is_empty() { 0.0 } else { 46.0 };
    // The legend takes a column right of the plot area, or rows below it when it is wide.
    let below = legend_w > 0.32 * size.0;
    let row_h = LEGEND_PX * 1.6;
    let px0 = ox + LEFT;
    let py0 = TOP;
    let pw = size.0 - LEFT - RIGHT_GAP - if below { 0.0 } else { legend_w };
    let ph = size.1
        - TOP
        - BOTTOM
        - if below {
            entries.len() as f64 * row_h + 6.0
        } else {
            0.0
        };
    let xa = Axis::from_data(c.series.iter().flat_map(|s| s.xs.iter().copied()), c.log_x);
    let ya = Axis::from_data(c.series.iter().flat_map(|s| s.ys.iter().copied()), c.log_y);
    let to_px = |x: f64, y: f64| (px0 + pw * xa.frac(x), py0 + ph * (1.0 - ya.frac(y)));
    cv.begin("panel", &[("data-title", &c.title)]);
    cv.text(
        "title",
        ox + size.0 / 2.0,
        TOP - 12.0,
        &c.title,
        TITLE_PX,
        Anchor::Middle,
        false,
    );
    // Ticks: grid lines inside, tick marks and labels outside.
    let (xmaj, xmin) = match &c.x_ticks {
        Some(t) => (
            t.iter()
                .filter(|(v, _)| *v >= xa.lo && *v <= xa.hi)
                .cloned()
                .collect(),
            Vec::new(),
        ),
        None => xa.ticks(),
    };
    let (ymaj, ymin) = ya.ticks();
    for (v, label) in &xmaj {
        let (x, _) = to_px(*v, ya.lo.max(1e-300));
        cv.polyline(&[(x, py0), (x, py0 + ph)], LIGHT, 1.0, 1.0, false);
        cv.polyline(
            &[(x, py0 + ph), (x, py0 + ph + 6.0)],
            BLACK,
            1.0,
            1.0,
            false,
        );
        cv.text(
            "tick-x",
            x,
            py0 + ph + 8.0 + TICK_PX,
            label,
            TICK_PX,
            Anchor::Middle,
            false,
        );
    }
    for v in &xmin {
        let (x, _) = to_px(*v, ya.lo.max(1e-300));
        cv.polyline(
            &[(x, py0 + ph), (x, py0 + ph + 3.5)],
            BLACK,
            1.0,
            1.0,
            false,
        );
    }
    for (v, label) in &ymaj {
        let (_, y) = to_px(xa.lo.max(1e-300), *v);
        cv.polyline(&[(px0, y), (px0 + pw, y)], LIGHT, 1.0, 1.0, false);
        cv.polyline(&[(px0 - 6.0, y), (px0, y)], BLACK, 1.0, 1.0, false);
        cv.text(
            "tick-y",
            px0 - 9.0,
            y + 0.36 * TICK_PX,
            label,
            TICK_PX,
            Anchor::End,
            false,
        );
    }
    for v in &ymin {
        let (_, y) = to_px(xa.lo.max(1e-300), *v);
        cv.polyline(&[(px0 - 3.5, y), (px0, y)], BLACK, 1.0, 1.0, false);
    }
    cv.text(
        "axis-x",
        px0 + pw / 2.0,
        py0 + ph + 22.0 + TICK_PX + AXIS_PX * 0.5,
        &c.x_label,
        AXIS_PX,
        Anchor::Middle,
        false,
    );
    let widest_y = ymaj
        .iter()
        .map(|t| text_width(&t.1, TICK_PX))
        .fold(0.0, f64::max);
    cv.text(
        "axis-y",
        (px0 - 16.0 - widest_y - 0.3 * AXIS_PX).max(ox + AXIS_PX),
        py0 + ph / 2.0,
        &c.y_label,
        AXIS_PX,
        Anchor::Middle,
        true,
    );
    // Data.
    for s in &c.series {
        let pts: Vec<(f64, f64)> = s
            .xs
            .iter()
            .zip(&s.ys)
            .filter(|(x, y)| {
                x.is_finite() && y.is_finite() && (!c.log_x || **x > 0.0) && (!c.log_y || **y > 0.0)
            })
            .map(|(&x, &y)| to_px(x, y))
            .collect();
        cv.begin(
            "series",
            &[("data-key", &s.key), ("data-style", s.style.name())],
        );
        match s.style {
            Style::Line => cv.polyline(&pts, s.color, 1.0, 2.0, false),
            Style::Thin => cv.polyline(&pts, s.color, 0.5, 1.2, false),
            Style::Dashed => cv.polyline(&pts, s.color, 1.0, 2.0, true),
            Style::LinePoints => {
                cv.polyline(&pts, s.color, 1.0, 2.0, false);
                pts.iter().for_each(|p| cv.circle(p.0, p.1, 3.5, s.color));
            }
            Style::Points => pts.iter().for_each(|p| cv.circle(p.0, p.1, 4.0, s.color)),
        }
        cv.end();
    }
    cv.rect("plot-area", [px0, py0, pw, ph], None, Some(BLACK));
    // Legend, in its own column.
    if !entries.is_empty() {
        cv.begin("legend", &[]);
        let (lx, ly) = if below {
            (px0, py0 + ph + BOTTOM)
        } else {
            (px0 + pw + 12.0, py0 + 8.0 + LEGEND_PX * 0.5)
        };
        for (i, (label, color, style)) in entries.iter().enumerate() {
            let y = ly + i as f64 * row_h;
            match style {
                Style::Points => cv.circle(lx + 11.0, y, 4.0, *color),
                Style::Dashed => cv.polyline(&[(lx, y), (lx + 24.0, y)], *color, 1.0, 2.0, true),
                Style::Thin => cv.polyline(&[(lx, y), (lx + 24.0, y)], *color, 0.7, 2.0, false),
                Style::LinePoints => {
                    cv.polyline(&[(lx, y), (lx + 24.0, y)], *color, 1.0, 2.0, false);
                    cv.circle(lx + 12.0, y, 3.5, *color);
                }
                Style::Line => cv.polyline(&[(lx, y), (lx + 24.0, y)], *color, 1.0, 2.0, false),
            }
            cv.text(
                "legend-label",
                lx + 30.0,
                y + 0.36 * LEGEND_PX,
                label,
                LEGEND_PX,
                Anchor::Start,
                false,
            );
        }
        cv.end();
    }
    cv.end();
}

impl Figure {
    fn size(&self) -> (f64, f64) {
        (
            self.panel_size.0 * self.panels.len() as f64,
            self.panel_size.1,
        )
    }

    fn draw(&self, cv: &mut dyn Canvas) {
        let (w, h) = self.size();
        cv.rect(
            "background",
            [0.0, 0.0, w, h],
            Some(Color(255, 255, 255)),
            None,
        );
        for (i, p) in self.panels.iter().enumerate() {
            draw_panel(cv, p, i as f64 * self.panel_size.0, self.panel_size);
        }
    }

    /// The figure as SVG text.
    pub fn svg(&self) -> String {
        let (w, h) = self.size();
        let mut cv = Svg(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n"
        ));
        self.draw(&mut cv);
        cv.0.push_str("</svg>\n");
        cv.0
    }

    /// Writes `<stem>.svg` and `<stem>.png` (PNG at 2 device pixels per px).
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(), Box<dyn std::error::Error>> {
        std::fs::write(dir.join(format!("{stem}.svg")), self.svg())?;
        let (w, h) = self.size();
        let pix = tiny_skia::Pixmap::new(
            (w * PNG_SCALE as f64).round() as u32,
            (h * PNG_SCALE as f64).round() as u32,
        )
        .ok_or("figure size")?;
        let mut cv = Png { pix, face: font() };
        self.draw(&mut cv);
        cv.pix.save_png(dir.join(format!("{stem}.png")))?;
        Ok(())
    }
}

#[allow(dead_code)]
/// The characters of `s` that the bundled font has no glyph for (drawn as blanks in the PNG).
pub fn missing_glyphs(s: &str) -> Vec<char> {
    let f = font();
    s.chars()
        .filter(|c| !c.is_whitespace() && f.glyph_index(*c).is_none())
        .collect()
}
