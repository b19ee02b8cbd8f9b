//! `summary.json`: headline numbers, every metric, the benchmarks, the resolved config and
//! where the prices came from.

use serde_json::{Map, Value, json};

use crate::report::{Report, max_drawdown};
use crate::run::RunOutput;

/// Where one token's prices came from: the file, its hash and what loading filled in.
pub fn provenance_json(p: &tfmm_data::TokenProvenance) -> Value {
    json!({
        "token": p.token,
        "path": p.path.display().to_string(),
        "sha256": p.sha256,
        "rows_read": p.rows_read,
        "first": tfmm_data::format_utc(p.first_ms),
        "last": tfmm_data::format_utc(p.last_ms),
        "minutes_filled": p.minutes_filled,
        "longest_gap_minutes": p.longest_gap_minutes,
    })
}

/// The run's summary. Metrics a window is too short for are `null`.
pub fn summary(out: &RunOutput, report: &Report) -> Value {
    let tokens = &out.config.tokens;
    let last = out.n_rows() - 1;
    let first_value = out.trajectory.values[0];
    let data: Vec<Value> = out.provenance.iter().map(provenance_json).collect();
    let held = |values: &[f64]| {
        let end = values[values.len() - 1];
        json!({
            "final_value": end,
            "return": end / first_value - 1.0,
            "max_drawdown": max_drawdown(values),
        })
    };
    let table = |pairs: &[(&'static str, f64)]| -> Map<String, Value> {
        pairs
            .iter()
            .map(|&(k, v)| (k.to_string(), json!(v)))
            .collect()
    };
    json!({
        "tfmm_version": env!("CARGO_PKG_VERSION"),
        "name": out.config.name,
        "tokens": tokens,
        "rule": out.config.rule,
        "n_rows": out.n_rows(),
        "start": tfmm_data::format_utc(out.unix_ms(0)),
        "last_minute": tfmm_data::format_utc(out.unix_ms(last)),
        "burn_in_minutes": out.window.start,
        "initial_value": first_value,
        "final_value": out.final_value(),
        "max_drawdown": max_drawdown(&out.trajectory.values),
        "final_reserves": out.final_reserves(),
        "final_weights": out.final_weights(),
        "final_prices": &out.prices[last * tokens.len()..],
        "fee_revenue": {
            "lp": out.trajectory.lp_fees.iter().sum::<f64>(),
            "protocol": out.trajectory.protocol_fees.iter().sum::<f64>(),
        },
        "trades": {
            "applied": out.trades_applied,
            "outside_window": out.trades_outside,
        },
        "hodl": held(&report.hodl),
        "uniform_hodl": held(&report.uniform_hodl),
        "metrics": table(&report.objectives),
        "evaluation": table(&report.evaluation),
        "benchmark": out.config.baseline().zip(out.pool.as_ref()).map(|(b, pool)| {
            let gap = out.final_value() - pool.values[last];
            let days = out.n_rows() as f64 / 1440.0;
            json!({
                "kind": b.name(),
                "final_pool_value": pool.values[last],
                "pool_fee_revenue": {
                    "lp": pool.lp_fees.iter().sum::<f64>(),
                    "protocol": pool.protocol_fees.iter().sum::<f64>(),
                },
                "final_gap": gap,
                "gap_per_day_relative_to_initial": gap / first_value / days,
            })
        }),
        "config": out.config.to_json(),
        "data": data,
    })
}
