//! The run's charts, as SVG and PNG: value against HODL and uniform HODL, weights, reserves
//! and drawdown.

use std::path::{Path, PathBuf};

use tfmm_plot::{Chart, Series, Style, XAxis, render_png, render_svg};

use crate::error::{Result, RunError};
use crate::report::{Report, drawdown};
use crate::run::RunOutput;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 675;

/// The charts of a run by file stem: `value`, `weights`, `reserves`, `drawdown`.
pub fn charts(out: &RunOutput, report: &Report) -> Vec<(&'static str, Chart)> {
    let n = out.config.n_assets();
    let tokens = &out.config.tokens;
    let rows = out.n_rows();
    let x = XAxis::Time {
        unix_ms: (0..rows).map(|r| out.unix_ms(r)).collect(),
    };
    let subject = format!("{} on {}", out.config.pool_rule(), tokens.join("/"));
    let column =
        |data: &[f64], i: usize| -> Vec<f64> { data.iter().skip(i).step_by(n).copied().collect() };
    let traj = &out.trajectory;

    // With a rebalancing benchmark the trajectory is the benchmark; the pool is pool_values.
    let (pool_values, benchmark) = match (out.config.baseline(), out.pool_values()) {
        (Some(b), Some(pool)) => (pool.to_vec(), Some((b, traj.values.clone()))),
        _ => (traj.values.clone(), None),
    };
    // Equal initial weights make the two HODLs one line; one legend entry says so.
    let same_hodl = report
        .hodl
        .iter()
        .zip(&report.uniform_hodl)
        .all(|(a, b)| (a - b).abs() <= 1e-9 * a.abs());
    let hodls = |f: &dyn Fn(&[f64]) -> Vec<f64>| {
        if same_hodl {
            vec![Series::new("HODL = uniform HODL", f(&report.hodl))]
        } else {
            vec![
                Series::new("HODL", f(&report.hodl)),
                Series::new("uniform HODL", f(&report.uniform_hodl)),
            ]
        }
    };
    // The pool is drawn last, on top: it often runs close to HODL.
    let mut value_series = hodls(&|v| v.to_vec());
    if let Some((b, values)) = &benchmark {
        value_series.push(Series::new(
            format!("{} benchmark", b.name().to_uppercase()),
            values.clone(),
        ));
    }
    value_series.push(Series::new("pool", pool_values.clone()));
    let value = Chart {
        title: format!("Pool value: {subject}"),
        x: x.clone(),
        y_label: "Value (USD)".into(),
        series: value_series,
        ..Chart::default()
    };

    let weights = Chart {
        title: format!("Weights: {subject}"),
        x: x.clone(),
        y_label: "Weight".into(),
        series: (0..n)
            .map(|i| Series::new(tokens[i].clone(), column(&traj.weights, i)))
            .collect(),
        y_percent: true,
        style: Style::StackedArea,
    };

    let r0 = traj.reserves_at(0);
    let reserves = Chart {
        title: format!("Reserves relative to the start: {subject}"),
        x: x.clone(),
        y_label: "Reserve / initial reserve".into(),
        series: (0..n)
            .map(|i| {
                let r = column(&traj.reserves, i);
                Series::new(tokens[i].clone(), r.iter().map(|v| v / r0[i]).collect())
            })
            .collect(),
        ..Chart::default()
    };

    let fall = |v: &[f64]| drawdown(v).into_iter().map(|d| -d).collect::<Vec<f64>>();
    let drawdowns = Chart {
        title: format!("Drawdown from the running peak: {subject}"),
        x,
        y_label: "Drawdown".into(),
        series: hodls(&fall)
            .into_iter()
            .chain([Series::new("pool", fall(&pool_values))])
            .collect(),
        y_percent: true,
        ..Chart::default()
    };
    vec![
        ("value", value),
        ("weights", weights),
        ("reserves", reserves),
        ("drawdown", drawdowns),
    ]
}

/// Renders [`charts`] into `dir` as `<name>.svg` and `<name>.png`, one thread per chart.
pub fn write_plots(out: &RunOutput, report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| RunError::io(dir, e))?;
    let charts = charts(out, report);
    let results: Vec<Result<Vec<PathBuf>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = charts
            .iter()
            .map(|(name, chart)| scope.spawn(move || write_chart(chart, dir, name)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("chart rendering does not panic"))
            .collect()
    });
    let mut written = vec![];
    for r in results {
        written.extend(r?);
    }
    Ok(written)
}

fn write_chart(chart: &Chart, dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let plot_error = |e: tfmm_plot::PlotError| RunError::config("plots", name, e.to_string());
    let svg_path = dir.join(format!("{name}.svg"));
    let svg = render_svg(chart, WIDTH, HEIGHT).map_err(plot_error)?;
    std::fs::write(&svg_path, svg).map_err(|e| RunError::io(&svg_path, e))?;
    let png_path = dir.join(format!("{name}.png"));
    let png = render_png(chart, WIDTH, HEIGHT).map_err(plot_error)?;
    std::fs::write(&png_path, png).map_err(|e| RunError::io(&png_path, e))?;
    Ok(vec![svg_path, png_path])
}
