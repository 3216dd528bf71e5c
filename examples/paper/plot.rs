//! Minimal SVG line charts for the paper job, on `plotters` (SVG backend only: no fonts or system
//! libraries needed; text is emitted as SVG <text> and rendered by the viewer).

use plotters::prelude::*;
use std::path::Path;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// A solid line.
    Line,
    /// A thin, light line (one of many random initializations).
    Thin,
    /// A dashed line.
    Dashed,
    /// Markers only.
    Points,
}

/// One curve.
pub struct Series {
    /// Legend label; empty for no legend entry.
    pub label: String,
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub color: RGBColor,
    pub style: Style,
}

/// A chart: title, axis labels, optional log scales.
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
}

pub const BLUE_: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE_: RGBColor = RGBColor(255, 127, 14);
pub const GREEN_: RGBColor = RGBColor(44, 160, 44);
pub const RED_: RGBColor = RGBColor(214, 39, 40);
pub const PURPLE_: RGBColor = RGBColor(148, 103, 189);
pub const GREY_: RGBColor = RGBColor(90, 90, 90);

fn bounds(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (if log { 0.1 } else { -1.0 }, 1.0);
    }
    if log {
        (lo / 1.3, hi * 1.3)
    } else {
        let pad = 0.06 * (hi - lo).max(1e-12);
        (lo - pad, hi + pad)
    }
}

impl Chart {
    /// Writes the chart as an SVG file of `size` pixels.
    pub fn write_svg(
        &self,
        path: &Path,
        size: (u32, u32),
    ) -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, size).into_drawing_area();
        root.fill(&WHITE)?;
        let xr = bounds(
            self.series.iter().flat_map(|s| s.xs.iter().copied()),
            self.log_x,
        );
        let yr = bounds(
            self.series.iter().flat_map(|s| s.ys.iter().copied()),
            self.log_y,
        );
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64);
        // plotters types the coordinate system by scale; four combinations, one drawing routine.
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(self.x_label.as_str())
                    .y_desc(self.y_label.as_str())
                    .light_line_style(WHITE.mix(0.0))
                    .draw()?;
                let mut any_label = false;
                for s in &self.series {
                    let pts: Vec<(f64, f64)> =
                        s.xs.iter()
                            .zip(&s.ys)
                            .map(|(&x, &y)| (x, y))
                            .filter(|(x, y)| {
                                x.is_finite()
                                    && y.is_finite()
                                    && (!self.log_x || *x > 0.0)
                                    && (!self.log_y || *y > 0.0)
                            })
                            .collect();
                    let color = s.color;
                    let anno = match s.style {
                        Style::Line => {
                            chart.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                        }
                        Style::Thin => chart
                            .draw_series(LineSeries::new(pts, color.mix(0.45).stroke_width(1)))?,
                        Style::Dashed => chart.draw_series(DashedLineSeries::new(
                            pts,
                            6,
                            4,
                            color.stroke_width(2),
                        ))?,
                        Style::Points => chart.draw_series(
                            pts.into_iter().map(|p| Circle::new(p, 4, color.filled())),
                        )?,
                    };
                    if !s.label.is_empty() {
                        any_label = true;
                        anno.label(s.label.as_str()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                        });
                    }
                }
                if any_label {
                    chart
                        .configure_series_labels()
                        .background_style(WHITE.mix(0.85))
                        .border_style(BLACK.mix(0.4))
                        .position(SeriesLabelPosition::UpperRight)
                        .draw()?;
                }
            }};
        }
        match (self.log_x, self.log_y) {
            (false, false) => draw!(builder.build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)?),
            (true, false) => {
                draw!(builder.build_cartesian_2d((xr.0..xr.1).log_scale(), yr.0..yr.1)?)
            }
            (false, true) => {
                draw!(builder.build_cartesian_2d(xr.0..xr.1, (yr.0..yr.1).log_scale())?)
            }
            (true, true) => {
                draw!(builder
                    .build_cartesian_2d((xr.0..xr.1).log_scale(), (yr.0..yr.1).log_scale())?)
            }
        }
        root.present()?;
        Ok(())
    }
}
