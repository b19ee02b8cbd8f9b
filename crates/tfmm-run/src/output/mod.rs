//! Run outputs on disk: `timeseries.csv` (the contract: one row per simulated minute), the
//! same table as `timeseries.parquet`, `summary.json`, `readouts.csv` and the plots.

mod plots;
mod summary;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub use plots::{charts, write_plots};
pub use summary::{provenance_json, summary};

use crate::error::{Result, RunError};
use crate::report::Report;
use crate::run::RunOutput;

/// Writes every output of a run into `dir` (created if needed); returns the files written.
/// Plots are written when the config's `output.plots` is on.
pub fn write_all(out: &RunOutput, report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| RunError::io(dir, e))?;
    let mut written = vec![];
    let csv = dir.join("timeseries.csv");
    write_timeseries(out, &csv)?;
    written.push(csv);
    let parquet = dir.join("timeseries.parquet");
    write_parquet(out, &parquet)?;
    written.push(parquet);
    if let Some(readouts) = out.readouts.as_ref().filter(|r| !r.columns.is_empty()) {
        let path = dir.join("readouts.csv");
        write_readouts(readouts, &path)?;
        written.push(path);
    }
    if out.config.output.plots {
        written.extend(write_plots(out, report, &dir.join("plots"))?);
    }
    let path = dir.join("summary.json");
    let text = serde_json::to_string_pretty(&summary(out, report)).expect("summary is plain JSON");
    std::fs::write(&path, text + "\n").map_err(|e| RunError::io(&path, e))?;
    written.push(path);
    Ok(written)
}

/// A column of the timeseries table.
#[derive(Clone, Copy)]
enum Column {
    Value,
    Weight(usize),
    Reserve(usize),
    Price(usize),
    /// Fees earned that minute and kept by LPs.
    FeeRevenue,
    /// Fees earned that minute and diverted to the protocol.
    ProtocolFeeRevenue,
    /// With a rebalancing benchmark (`lvr__`, `rvr__`): the pool's own value, its fees kept
    /// by LPs, and the benchmark minus the pool.
    PoolValue,
    PoolFeeRevenue,
    BenchmarkGap,
}

/// `value, weight_<T>..., reserve_<T>..., price_<T>..., fee_revenue, protocol_fee_revenue`
/// [, `pool_value, pool_fee_revenue, lvr|rvr`].
fn columns(out: &RunOutput) -> Vec<(String, Column)> {
    let tokens = &out.config.tokens;
    let mut cols = vec![("value".to_string(), Column::Value)];
    type PerToken = fn(usize) -> Column;
    let per_token: [(&str, PerToken); 3] = [
        ("weight", Column::Weight),
        ("reserve", Column::Reserve),
        ("price", Column::Price),
    ];
    for (prefix, column) in per_token {
        for (i, t) in tokens.iter().enumerate() {
            cols.push((format!("{prefix}_{t}"), column(i)));
        }
    }
    cols.push(("fee_revenue".into(), Column::FeeRevenue));
    cols.push(("protocol_fee_revenue".into(), Column::ProtocolFeeRevenue));
    if let (Some(b), Some(_)) = (out.config.baseline(), &out.pool) {
        cols.push(("pool_value".into(), Column::PoolValue));
        cols.push(("pool_fee_revenue".into(), Column::PoolFeeRevenue));
        cols.push((b.name().into(), Column::BenchmarkGap));
    }
    cols
}

fn cell(out: &RunOutput, column: Column, row: usize) -> f64 {
    let traj = &out.trajectory;
    let n = traj.n_assets;
    let pool = |series: fn(&tfmm_core::simulate::Trajectory<f64>) -> &Vec<f64>| {
        out.pool.as_ref().map_or(f64::NAN, |p| series(p)[row])
    };
    match column {
        Column::Value => traj.values[row],
        Column::Weight(i) => traj.weights[row * n + i],
        Column::Reserve(i) => traj.reserves[row * n + i],
        Column::Price(i) => out.prices[row * n + i],
        Column::FeeRevenue => traj.lp_fees[row],
        Column::ProtocolFeeRevenue => traj.protocol_fees[row],
        Column::PoolValue => pool(|p| &p.values),
        Column::PoolFeeRevenue => pool(|p| &p.lp_fees),
        Column::BenchmarkGap => traj.values[row] - pool(|p| &p.values),
    }
}

/// `unix_ms` then [`columns`], floats in shortest round-trip form.
pub fn write_timeseries(out: &RunOutput, path: &Path) -> Result<()> {
    let cols = columns(out);
    let names: Vec<&str> = cols.iter().map(|(name, _)| name.as_str()).collect();
    write_csv(path, &names, out.n_rows(), |row, line| {
        line.push_str(itoa::Buffer::new().format(out.unix_ms(row)));
        let mut buf = ryu::Buffer::new();
        for &(_, c) in &cols {
            line.push(',');
            line.push_str(buf.format(cell(out, c, row)));
        }
    })
}

/// The timeseries table as parquet: `unix_ms` (timestamp, ms) then the same double columns.
pub fn write_parquet(out: &RunOutput, path: &Path) -> Result<()> {
    let unix_ms: Vec<i64> = (0..out.n_rows()).map(|r| out.unix_ms(r)).collect();
    let data: Vec<(String, Vec<f64>)> = columns(out)
        .into_iter()
        .map(|(name, c)| (name, (0..out.n_rows()).map(|r| cell(out, c, r)).collect()))
        .collect();
    let named: Vec<(&str, &[f64])> = data
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    tfmm_data::parquet::write_table(path, &unix_ms, &named)?;
    Ok(())
}

/// `unix_ms` (the minute whose price the rule had just consumed) then the state columns.
pub fn write_readouts(readouts: &crate::readouts::Readouts, path: &Path) -> Result<()> {
    let names: Vec<&str> = readouts.columns.iter().map(String::as_str).collect();
    write_csv(path, &names, readouts.unix_ms.len(), |row, line| {
        line.push_str(itoa::Buffer::new().format(readouts.unix_ms[row]));
        let mut buf = ryu::Buffer::new();
        for &x in readouts.row(row) {
            line.push(',');
            line.push_str(buf.format(x));
        }
    })
}

/// A CSV with a `unix_ms` column first; `fill(row, line)` writes a row without its newline.
fn write_csv(
    path: &Path,
    names: &[&str],
    n_rows: usize,
    mut fill: impl FnMut(usize, &mut String),
) -> Result<()> {
    let io = |e| RunError::io(path, e);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).map_err(io)?);
    writeln!(w, "unix_ms,{}", names.join(",")).map_err(io)?;
    let mut line = String::with_capacity(32 * (names.len() + 1));
    for row in 0..n_rows {
        line.clear();
        fill(row, &mut line);
        line.push('\n');
        w.write_all(line.as_bytes()).map_err(io)?;
    }
    w.flush().map_err(io)
}
