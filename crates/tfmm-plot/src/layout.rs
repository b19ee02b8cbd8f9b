//! Lays a chart out as a scene: margins from measured labels, ticks, decimated series,
//! legend and titles.

use crate::decimate::{Run, decimate};
use crate::scene::{Anchor, Prim, Rect, Rgba, Scene};
use crate::ticks::{self, Tick};
use crate::{Chart, Style, XAxis, text};

/// Okabe & Ito's colour-blind-safe palette, ordered for lines on white (yellow last, black
/// softened to dark grey). Series past the eighth reuse it, dashed.
pub const PALETTE: [Rgba; 8] = [
    Rgba::hex(0x0072B2), // blue
    Rgba::hex(0xD55E00), // vermillion
    Rgba::hex(0x009E73), // bluish green
    Rgba::hex(0xE69F00), // orange
    Rgba::hex(0xCC79A7), // reddish purple
    Rgba::hex(0x56B4E9), // sky blue
    Rgba::hex(0x333333), // (black)
    Rgba::hex(0xF0E442), // yellow
];

const WHITE: Rgba = Rgba::hex(0xFFFFFF);
const TITLE: Rgba = Rgba::hex(0x1A1A1A);
const LABEL: Rgba = Rgba::hex(0x333333);
const TICK_LABEL: Rgba = Rgba::hex(0x4D4D4D);
const AXIS: Rgba = Rgba::hex(0x707070);
const GRID: Rgba = Rgba::hex(0xE4E4E4);

/// A coordinate on which a line `width` px wide falls on whole pixels.
fn crisp(v: f64, width: f64) -> f64 {
    if (width.round() as i64) % 2 == 1 {
        v.floor() + 0.5
    } else {
        v.round()
    }
}

/// Least and greatest finite value.
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A non-empty range around a single value.
fn widen(v: f64) -> (f64, f64) {
    let d = if v == 0.0 { 1.0 } else { v.abs() * 0.05 };
    (v - d, v + d)
}

/// One legend entry laid out: label (maybe cut) and width with its swatch.
struct LegendItem {
    label: String,
    color: Rgba,
    dash: Option<[f64; 2]>,
    width: f64,
}

fn series_color(i: usize) -> Rgba {
    PALETTE[i % PALETTE.len()]
}

fn series_dash(i: usize, s: f64) -> Option<[f64; 2]> {
    ((i / PALETTE.len()) % 2 == 1).then_some([6.0 * s, 3.5 * s])
}

/// Cumulative sums of the series at `i` up to (not including) series `k`, or NaN where any
/// series has no finite value (a gap in the whole stack).
fn stack_value(chart: &Chart, valid: &[bool], k: usize, i: usize) -> f64 {
    if !valid[i] {
        return f64::NAN;
    }
    chart.series[..k].iter().map(|s| s.values[i]).sum()
}

pub fn build(chart: &Chart, width: u32, height: u32) -> Scene {
    let (wf, hf) = (f64::from(width), f64::from(height));
    // Sizes are for an 800×450 chart and grow with it.
    let s = (wf / 800.0).min(hf / 450.0).clamp(0.85, 4.0);
    let fs_title = 16.0 * s;
    let fs_label = 13.0 * s;
    let fs_tick = 11.0 * s;
    let fs_legend = 12.0 * s;
    let pad = 12.0 * s;
    let tick_len = 4.0 * s;
    let line_w = 1.5 * s;
    let hair = s.round().max(1.0);
    let stacked = chart.style == Style::StackedArea;
    let n = chart.x.len();

    // ---- Data ranges.
    let (x_lo, x_hi, t_range) = match &chart.x {
        XAxis::Time { unix_ms } => {
            let (t0, t1) = match (unix_ms.iter().min(), unix_ms.iter().max()) {
                (Some(&a), Some(&b)) if a < b => (a, b),
                (Some(&a), _) => (a.saturating_sub(3_600_000), a.saturating_add(3_600_000)),
                _ => (0, ticks::MS_PER_DAY),
            };
            (t0 as f64, t1 as f64, Some((t0, t1)))
        }
        XAxis::Plain { values, .. } => {
            let (lo, hi) = match extent(values.iter().copied()) {
                Some((a, b)) if a < b => (a, b),
                Some((a, _)) => widen(a),
                None => (0.0, 1.0),
            };
            (lo, hi, None)
        }
    };
    let valid: Vec<bool> = if stacked {
        (0..n)
            .map(|i| chart.series.iter().all(|s| s.values[i].is_finite()))
            .collect()
    } else {
        Vec::new()
    };
    let (y_lo, y_hi) = if stacked {
        let mut lo = 0.0f64;
        let mut hi = f64::NEG_INFINITY;
        for i in (0..n).filter(|&i| valid[i]) {
            let mut acc = 0.0;
            for s in &chart.series {
                acc += s.values[i];
                lo = lo.min(acc);
                hi = hi.max(acc);
            }
        }
        if hi > lo { (lo, hi) } else { widen(lo.max(hi)) }
    } else {
        match extent(chart.series.iter().flat_map(|s| s.values.iter().copied())) {
            Some((a, b)) if a < b => {
                let m = (b - a) * 0.05;
                (a - m, b + m)
            }
            Some((a, _)) => widen(a),
            None => (0.0, 1.0),
        }
    };

    // ---- Vertical layout: title, legend, plot, x tick labels, x title.
    let mut y = pad;
    let title = text::truncate(&chart.title, fs_title, wf - 2.0 * pad);
    let title_baseline = y + text::ascent(fs_title);
    if !title.is_empty() {
        y += text::ascent(fs_title) + text::descent(fs_title) + 6.0 * s;
    }

    let swatch_w = if stacked { 11.0 * s } else { 20.0 * s };
    let swatch_gap = 6.0 * s;
    let item_gap = 18.0 * s;
    let max_label_w = (wf - 2.0 * pad - swatch_w - swatch_gap).max(0.0);
    let mut items: Vec<LegendItem> = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, ser)| {
            let label = text::truncate(&ser.label, fs_legend, max_label_w);
            let width = swatch_w + swatch_gap + text::width(&label, fs_legend);
            LegendItem {
                label,
                color: series_color(i),
                dash: if stacked { None } else { series_dash(i, s) },
                width,
            }
        })
        .collect();
    if stacked {
        items.reverse(); // top band first, as stacked
    }
    let mut rows: Vec<Vec<LegendItem>> = Vec::new();
    let mut row_w = 0.0;
    for item in items {
        match rows.last_mut() {
            Some(row) if row_w + item_gap + item.width <= wf - 2.0 * pad => {
                row_w += item_gap + item.width;
                row.push(item);
            }
            _ => {
                row_w = item.width;
                rows.push(vec![item]);
            }
        }
    }
    let row_h = fs_legend * 1.45;
    let legend_top = y;
    y += rows.len() as f64 * row_h + 8.0 * s;
    let plot_top = y;

    let x_title_baseline = hf - pad - text::descent(fs_label);
    let x_tick_baseline = x_title_baseline - text::ascent(fs_label) - 7.0 * s;
    let plot_bottom =
        (x_tick_baseline - text::cap_height(fs_tick) - tick_len - 5.0 * s).max(plot_top + 1.0);
    let plot_h = plot_bottom - plot_top;

    // ---- Horizontal layout: y title, y tick labels, plot.
    let y_ticks = ticks::value_ticks(y_lo, y_hi, plot_h, 40.0 * s, chart.y_percent);
    let y_tick_w = y_ticks
        .iter()
        .map(|t| text::width(&t.label, fs_tick))
        .fold(0.0, f64::max);
    let y_title_x = pad + text::ascent(fs_label);
    let plot_left =
        pad + if chart.y_label.is_empty() {
            0.0
        } else {
            text::ascent(fs_label) + text::descent(fs_label) + 8.0 * s
        } + y_tick_w
            + 5.0 * s
            + tick_len;

    let measure = |l: &str| text::width(l, fs_tick);
    let x_ticks_for = |plot_w: f64| -> (Vec<Tick>, String) {
        match (&chart.x, t_range) {
            (XAxis::Time { .. }, Some((t0, t1))) => {
                ticks::time_ticks(t0, t1, plot_w, 70.0 * s, 14.0 * s, &measure)
            }
            (XAxis::Plain { label, .. }, _) => (
                ticks::fitted_ticks(x_lo, x_hi, plot_w, 70.0 * s, 14.0 * s, &measure),
                label.clone(),
            ),
            _ => (Vec::new(), String::new()),
        }
    };
    // Leave room on the right for half the last tick label, then tick again for that width.
    let mut plot_right = (wf - pad).max(plot_left + 1.0);
    let (mut x_ticks, mut x_title) = x_ticks_for(plot_right - plot_left);
    let overhang = |ticks: &[Tick], right: f64| {
        ticks
            .iter()
            .map(|t| {
                let x = plot_left + (t.value - x_lo) / (x_hi - x_lo) * (right - plot_left);
                x + measure(&t.label) / 2.0 - (wf - 3.0 * s)
            })
            .fold(0.0, f64::max)
    };
    let over = overhang(&x_ticks, plot_right);
    if over > 0.0 {
        plot_right = (plot_right - over).max(plot_left + 1.0);
        (x_ticks, x_title) = x_ticks_for(plot_right - plot_left);
    }
    let plot_w = plot_right - plot_left;

    let px = |x: f64| plot_left + (x - x_lo) / (x_hi - x_lo) * plot_w;
    let py = |v: f64| plot_bottom - (v - y_lo) / (y_hi - y_lo) * plot_h;

    let mut prims = Vec::new();
    let plot = Rect {
        x: plot_left,
        y: plot_top,
        w: plot_w,
        h: plot_h,
    };

    // ---- Grid.
    let grid = {
        let mut runs = Vec::new();
        for t in &y_ticks {
            let y = crisp(py(t.value), hair);
            runs.push(vec![(plot_left, y), (plot_right, y)]);
        }
        for t in &x_ticks {
            let x = crisp(px(t.value), hair);
            runs.push(vec![(x, plot_top), (x, plot_bottom)]);
        }
        runs
    };
    if !stacked {
        prims.push(Prim::Lines {
            runs: grid.clone(),
            color: GRID,
            width: hair,
            dash: None,
            clip: false,
        });
    }

    // ---- Series.
    let xpx: Vec<f64> = match &chart.x {
        XAxis::Time { unix_ms } => unix_ms.iter().map(|&t| px(t as f64)).collect(),
        XAxis::Plain { values, .. } => values.iter().map(|&x| px(x)).collect(),
    };
    let to_px = |runs: Vec<Run>| -> Vec<Vec<(f64, f64)>> {
        runs.into_iter()
            .map(|r| r.into_iter().map(|(x, v)| (x, py(v))).collect())
            .collect()
    };
    if stacked {
        // Band k is painted from the baseline up to its top, top band first: each lower band
        // covers the one above up to their shared edge, so no seams show.
        let base = py(0.0);
        for k in (0..chart.series.len()).rev() {
            let rings = to_px(decimate(&xpx, |i| stack_value(chart, &valid, k + 1, i)))
                .into_iter()
                .map(|mut ring| {
                    let (first, last) = (ring[0].0, ring[ring.len() - 1].0);
                    ring.extend([(last, base), (first, base)]);
                    ring
                })
                .collect();
            prims.push(Prim::Area {
                rings,
                fill: series_color(k),
                clip: true,
            });
        }
        prims.push(Prim::Lines {
            runs: grid,
            color: WHITE.with_alpha(110),
            width: hair,
            dash: None,
            clip: false,
        });
    } else {
        for (i, ser) in chart.series.iter().enumerate() {
            let runs = to_px(decimate(&xpx, |j| ser.values[j]));
            prims.push(Prim::Lines {
                runs,
                color: series_color(i),
                width: line_w,
                dash: series_dash(i, s),
                clip: true,
            });
        }
    }

    // ---- Axes, ticks and their labels.
    let bottom = crisp(plot_bottom, hair);
    let left = crisp(plot_left, hair);
    let mut axis_runs = vec![
        vec![(left, plot_top), (left, bottom)],
        vec![(left, bottom), (plot_right, bottom)],
    ];
    for t in &y_ticks {
        let y = crisp(py(t.value), hair);
        axis_runs.push(vec![(left - tick_len, y), (left, y)]);
        prims.push(Prim::Text {
            x: plot_left - tick_len - 4.0 * s,
            y: py(t.value) + text::cap_height(fs_tick) / 2.0,
            text: t.label.clone(),
            size: fs_tick,
            color: TICK_LABEL,
            anchor: Anchor::End,
            vertical: false,
        });
    }
    for t in &x_ticks {
        let x = crisp(px(t.value), hair);
        axis_runs.push(vec![(x, bottom), (x, bottom + tick_len)]);
        let half = measure(&t.label) / 2.0;
        let cx = px(t.value).min(wf - 2.0 * s - half).max(2.0 * s + half);
        prims.push(Prim::Text {
            x: cx,
            y: x_tick_baseline,
            text: t.label.clone(),
            size: fs_tick,
            color: TICK_LABEL,
            anchor: Anchor::Middle,
            vertical: false,
        });
    }
    prims.push(Prim::Lines {
        runs: axis_runs,
        color: AXIS,
        width: hair,
        dash: None,
        clip: false,
    });
    if !x_title.is_empty() {
        prims.push(Prim::Text {
            x: plot_left + plot_w / 2.0,
            y: x_title_baseline,
            text: text::truncate(&x_title, fs_label, wf - 2.0 * pad),
            size: fs_label,
            color: LABEL,
            anchor: Anchor::Middle,
            vertical: false,
        });
    }
    if !chart.y_label.is_empty() {
        prims.push(Prim::Text {
            x: y_title_x,
            y: plot_top + plot_h / 2.0,
            text: text::truncate(&chart.y_label, fs_label, hf - 2.0 * pad),
            size: fs_label,
            color: LABEL,
            anchor: Anchor::Middle,
            vertical: true,
        });
    }

    // ---- Legend: rows above the plot, centred on it where they fit.
    let centre = plot_left + plot_w / 2.0;
    for (r, row) in rows.iter().enumerate() {
        let row_w: f64 =
            row.iter().map(|it| it.width).sum::<f64>() + item_gap * (row.len() - 1) as f64;
        let mut x = (centre - row_w / 2.0).min(wf - pad - row_w).max(pad);
        let baseline = legend_top + r as f64 * row_h + text::ascent(fs_legend);
        let mid = baseline - text::cap_height(fs_legend) / 2.0;
        for it in row {
            if stacked {
                prims.push(Prim::Rect {
                    rect: Rect {
                        x,
                        y: mid - swatch_w / 2.0,
                        w: swatch_w,
                        h: swatch_w,
                    },
                    fill: it.color,
                });
            } else {
                prims.push(Prim::Lines {
                    runs: vec![vec![(x, mid), (x + swatch_w, mid)]],
                    color: it.color,
                    width: line_w * 1.6,
                    dash: it.dash,
                    clip: false,
                });
            }
            prims.push(Prim::Text {
                x: x + swatch_w + swatch_gap,
                y: baseline,
                text: it.label.clone(),
                size: fs_legend,
                color: LABEL,
                anchor: Anchor::Start,
                vertical: false,
            });
            x += it.width + item_gap;
        }
    }

    // ---- Title, centred on the plot where it fits.
    let half = text::width(&title, fs_title) / 2.0;
    prims.push(Prim::Text {
        x: centre.min(wf - pad - half).max(pad + half),
        y: title_baseline,
        text: title,
        size: fs_title,
        color: TITLE,
        anchor: Anchor::Middle,
        vertical: false,
    });

    Scene {
        width,
        height,
        title: chart.title.clone(),
        background: WHITE,
        clip: plot,
        prims,
    }
}
