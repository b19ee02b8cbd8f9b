//! Run outputs on disk: `timeseries.csv` (one row per simulated minute) and `summary.json`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Value, json};

use crate::error::{Result, RunError};
use crate::run::RunOutput;

/// Writes `timeseries.csv` and `summary.json` into `dir` (created if needed).
pub fn write_all(out: &RunOutput, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| RunError::io(dir, e))?;
    write_timeseries(out, &dir.join("timeseries.csv"))?;
    let path = dir.join("summary.json");
    let text = serde_json::to_string_pretty(&summary(out)).expect("summary is plain JSON");
    std::fs::write(&path, text + "\n").map_err(|e| RunError::io(&path, e))
}

/// `unix_ms,value,weight_<T>...,reserve_<T>...,price_<T>...,fee_revenue,protocol_fee_revenue`,
/// floats in shortest round-trip form.
pub fn write_timeseries(out: &RunOutput, path: &Path) -> Result<()> {
    let io = |e| RunError::io(path, e);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).map_err(io)?);
    let tokens = &out.config.tokens;
    let mut header = String::from("unix_ms,value");
    for prefix in ["weight", "reserve", "price"] {
        for t in tokens {
            header.push_str(&format!(",{prefix}_{t}"));
        }
    }
    // Fees earned that minute: kept by LPs, and diverted to the protocol.
    header.push_str(",fee_revenue,protocol_fee_revenue");
    // Rebalancing benchmarks: the pool's own value and the gap (benchmark minus pool).
    let benchmark = out.config.baseline().zip(out.pool_values.as_deref());
    if let Some((baseline, _)) = benchmark {
        header.push_str(&format!(",pool_value,{}", baseline.name()));
    }
    writeln!(w, "{header}").map_err(io)?;
    let n = tokens.len();
    let traj = &out.trajectory;
    let mut buf = ryu::Buffer::new();
    let mut line = String::with_capacity(32 * (2 + 3 * n));
    for row in 0..out.n_rows() {
        line.clear();
        line.push_str(itoa::Buffer::new().format(out.unix_ms(row)));
        let fields = std::iter::once(traj.values[row])
            .chain(traj.weights_at(row).iter().copied())
            .chain(traj.reserves_at(row).iter().copied())
            .chain(out.prices[row * n..(row + 1) * n].iter().copied())
            .chain([traj.lp_fees[row], traj.protocol_fees[row]])
            .chain(
                benchmark
                    .iter()
                    .flat_map(|(_, pool)| [pool[row], traj.values[row] - pool[row]]),
            );
        for x in fields {
            line.push(',');
            line.push_str(buf.format(x));
        }
        line.push('\n');
        w.write_all(line.as_bytes()).map_err(io)?;
    }
    w.flush().map_err(io)
}

/// The run's headline numbers, resolved config and data provenance.
pub fn summary(out: &RunOutput) -> Value {
    let tokens = &out.config.tokens;
    let last = out.n_rows() - 1;
    let data: Vec<Value> = out
        .provenance
        .iter()
        .map(|p| {
            json!({
                "token": p.token,
                "path": p.path.display().to_string(),
                "rows_read": p.rows_read,
                "first": tfmm_data::format_utc(p.first_ms),
                "last": tfmm_data::format_utc(p.last_ms),
                "minutes_filled": p.minutes_filled,
                "longest_gap_minutes": p.longest_gap_minutes,
            })
        })
        .collect();
    json!({
        "tokens": tokens,
        "rule": out.config.rule,
        "n_rows": out.n_rows(),
        "start": tfmm_data::format_utc(out.unix_ms(0)),
        "last_minute": tfmm_data::format_utc(out.unix_ms(last)),
        "initial_value": out.trajectory.values[0],
        "final_value": out.final_value(),
        "final_reserves": out.final_reserves(),
        "final_weights": out.final_weights(),
        "final_prices": &out.prices[last * tokens.len()..],
        "fee_revenue": {
            "lp": out.trajectory.lp_fees.iter().sum::<f64>(),
            "protocol": out.trajectory.protocol_fees.iter().sum::<f64>(),
        },
        "burn_in_minutes": out.window.start,
        "benchmark": out.config.baseline().zip(out.pool_values.as_deref()).map(|(b, pool)| {
            let gap = out.final_value() - pool[last];
            let days = out.n_rows() as f64 / 1440.0;
            json!({
                "kind": b.name(),
                "final_pool_value": pool[last],
                "final_gap": gap,
                "gap_per_day_relative_to_initial": gap / out.trajectory.values[0] / days,
            })
        }),
        "config": out.config.to_json(),
        "data": data,
    })
}
