//! A small SVG line plot, written by hand: panels side by side, each with a
//! log-scale x axis, a linear or log y axis, a grid, ticks, and one
//! polyline with markers per series, and a legend. Enough for per-event
//! cost against rule count and list size; no plotting crate.

use std::fmt::Write as _;

/// One line of a panel.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub color: &'static str,
    pub dashed: bool,
    /// (x, y), x > 0.
    pub points: Vec<(f64, f64)>,
}

/// One panel.
#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_y: bool,
    pub series: Vec<Series>,
    /// Horizontal reference lines: (label, y).
    pub references: Vec<(String, f64)>,
}

const PANEL_W: f64 = 470.0;
const PANEL_H: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const LEGEND_H: f64 = 20.0;

/// Renders `panels` side by side.
pub fn render(panels: &[Panel]) -> String {
    let legend_rows = panels.iter().map(|p| p.series.len()).max().unwrap_or(0) as f64;
    let width = PANEL_W * panels.len() as f64;
    let height = PANEL_H + legend_rows * LEGEND_H + 10.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, panel) in panels.iter().enumerate() {
        draw_panel(&mut svg, panel, i as f64 * PANEL_W);
    }
    svg.push_str("</svg>\n");
    svg
}

struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    from: f64,
    to: f64,
}

impl Scale {
    fn map(&self, v: f64) -> f64 {
        let t = if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.from + t * (self.to - self.from)
    }
}

/// Powers of ten covering `lo..=hi`.
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    )
}

/// A linear range starting at zero with a round top, and its tick step.
fn linear_range(hi: f64) -> (f64, f64) {
    let raw = hi.max(1e-9) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    ((hi / step).ceil().max(1.0) * step, step)
}

fn label_number(v: f64) -> String {
    if v >= 1000.0 && (v / 1000.0).fract() == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v}")
    } else {
        format!("{v:.1}")
    }
}

fn draw_panel(svg: &mut String, panel: &Panel, x0: f64) {
    let points: Vec<(f64, f64)> = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .chain(panel.references.iter().map(|(_, y)| (f64::NAN, *y)))
        .collect();
    let xs: Vec<f64> = points
        .iter()
        .map(|p| p.0)
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    let ys: Vec<f64> = points
        .iter()
        .map(|p| p.1)
        .filter(|y| y.is_finite() && *y > 0.0)
        .collect();
    let (x_lo, x_hi) = decades(
        xs.iter().copied().fold(f64::INFINITY, f64::min).min(1.0),
        xs.iter().copied().fold(1.0, f64::max).max(10.0),
    );
    let y_max = ys.iter().copied().fold(1.0, f64::max);
    let y_min = ys.iter().copied().fold(f64::INFINITY, f64::min).min(y_max);
    let (y_lo, y_hi, y_step) = if panel.log_y {
        let (lo, hi) = decades(y_min, y_max);
        (lo, if hi <= lo { lo * 10.0 } else { hi }, 0.0)
    } else {
        let (hi, step) = linear_range(y_max * 1.05);
        (0.0, hi, step)
    };
    let plot_left = x0 + LEFT;
    let plot_right = x0 + PANEL_W - RIGHT;
    let plot_top = TOP;
    let plot_bottom = PANEL_H - BOTTOM;
    let x = Scale {
        lo: x_lo,
        hi: x_hi,
        log: true,
        from: plot_left,
        to: plot_right,
    };
    let y = Scale {
        lo: y_lo,
        hi: y_hi,
        log: panel.log_y,
        from: plot_bottom,
        to: plot_top,
    };
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
        (plot_left + plot_right) / 2.0,
        escape(&panel.title)
    );
    // Grid and ticks.
    let mut decade = x_lo;
    while decade <= x_hi * 1.0001 {
        let px = x.map(decade);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{plot_top}" x2="{px:.1}" y2="{plot_bottom}" stroke="#ddd"/><text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"##,
            plot_bottom + 16.0,
            label_number(decade)
        );
        decade *= 10.0;
    }
    let y_ticks: Vec<f64> = if panel.log_y {
        let mut ticks = Vec::new();
        let mut d = y_lo;
        while d <= y_hi * 1.0001 {
            for m in [1.0, 2.0, 5.0] {
                if d * m <= y_hi * 1.0001 {
                    ticks.push(d * m);
                }
            }
            d *= 10.0;
        }
        ticks
    } else {
        (0..=((y_hi / y_step).round() as usize))
            .map(|i| i as f64 * y_step)
            .collect()
    };
    for tick in y_ticks {
        let py = y.map(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{plot_left}" y1="{py:.1}" x2="{plot_right}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            plot_left - 6.0,
            py + 4.0,
            label_number(tick)
        );
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{plot_left}" y="{plot_top}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        plot_right - plot_left,
        plot_bottom - plot_top
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (plot_left + plot_right) / 2.0,
        plot_bottom + 36.0,
        escape(&panel.x_label)
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        x0 + 18.0,
        (plot_top + plot_bottom) / 2.0,
        escape(&panel.y_label)
    );
    for (label, value) in &panel.references {
        let py = y.map(*value);
        let _ = writeln!(
            svg,
            r##"<line x1="{plot_left}" y1="{py:.1}" x2="{plot_right}" y2="{py:.1}" stroke="#888" stroke-dasharray="2,3"/><text x="{}" y="{:.1}" text-anchor="end" fill="#666" font-size="10">{}</text>"##,
            plot_right - 4.0,
            py - 3.0,
            escape(label)
        );
    }
    // Series.
    for (i, series) in panel.series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = series
            .points
            .iter()
            .filter(|(px, py)| *px > 0.0 && py.is_finite() && (!panel.log_y || *py > 0.0))
            .map(|(px, py)| (x.map(*px), y.map(*py)))
            .collect();
        let dash = if series.dashed {
            r#" stroke-dasharray="6,4""#
        } else {
            ""
        };
        if pts.len() > 1 {
            let path: Vec<String> = pts.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
                path.join(" "),
                series.color
            );
        }
        for (a, b) in &pts {
            let _ = writeln!(
                svg,
                r#"<circle cx="{a:.1}" cy="{b:.1}" r="3" fill="{}"/>"#,
                series.color
            );
        }
        let ly = PANEL_H + i as f64 * LEGEND_H;
        let _ = writeln!(
            svg,
            r#"<line x1="{plot_left}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            plot_left + 30.0,
            series.color,
            plot_left + 38.0,
            ly + 4.0,
            escape(&series.label)
        );
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_has_a_line_per_series_and_log_ticks() {
        let panel = Panel {
            title: "t".into(),
            x_label: "rules".into(),
            y_label: "ns".into(),
            log_y: true,
            series: vec![
                Series {
                    label: "polc".into(),
                    color: "#1f77b4",
                    dashed: false,
                    points: vec![(1.0, 300.0), (10.0, 400.0), (10_000.0, 9_000.0)],
                },
                Series {
                    label: "clang".into(),
                    color: "#d62728",
                    dashed: true,
                    points: vec![(1.0, 280.0), (100.0, 2_000.0)],
                },
            ],
            references: vec![("floor".into(), 40.0)],
        };
        let svg = render(&[
            panel.clone(),
            Panel {
                log_y: false,
                ..panel
            },
        ]);
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains(">10k<"), "{svg}");
        assert!(svg.contains("stroke-dasharray=\"6,4\""));
    }

    #[test]
    fn linear_ranges_are_round() {
        assert_eq!(linear_range(97.0), (100.0, 20.0));
        assert_eq!(linear_range(430.0), (500.0, 100.0));
    }
}
