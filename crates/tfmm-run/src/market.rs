//! Time-varying market inputs of a run (fee, gas and arbitrage-fee series; user trades), as
//! configured and as laid onto the simulated minutes.

use std::path::{Path, PathBuf};

use tfmm_core::pools::Trade;
use tfmm_data::{MS_PER_MINUTE, format_utc, read_points, read_trades};

use crate::error::{Result, RunError};

/// A per-minute quantity as configured.
#[derive(Clone, Debug, PartialEq)]
pub enum SeriesSpec {
    /// Timestamped values: each minute takes the latest value at or before it (minutes
    /// before the first point take the first point's value). Zero is a value like any other.
    Points { unix_ms: Vec<i64>, values: Vec<f64> },
    /// One value per simulated minute, from the start minute on.
    PerMinute(Vec<f64>),
    /// A CSV file of timestamped values in column `column`.
    File { path: PathBuf, column: String },
}

/// User trades as configured: inline or a CSV file.
#[derive(Clone, Debug, PartialEq)]
pub enum TradesSpec {
    Rows(Vec<tfmm_data::TradeRow>),
    File(PathBuf),
}

/// Market inputs beyond constant settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MarketSeries {
    pub fees: Option<SeriesSpec>,
    pub gas_cost: Option<SeriesSpec>,
    pub arb_fees: Option<SeriesSpec>,
    pub trades: Option<TradesSpec>,
}

impl MarketSeries {
    /// The first input read from a file, by its role (`fees`, `gas_cost`, `arb_fees`,
    /// `trades`): a server taking configs from clients refuses these.
    pub fn first_file(&self) -> Option<(&'static str, &Path)> {
        let series = [
            ("fees", &self.fees),
            ("gas_cost", &self.gas_cost),
            ("arb_fees", &self.arb_fees),
        ];
        let from_series = series.into_iter().find_map(|(role, spec)| match spec {
            Some(SeriesSpec::File { path, .. }) => Some((role, path.as_path())),
            _ => None,
        });
        from_series.or(match &self.trades {
            Some(TradesSpec::File(path)) => Some(("trades", path.as_path())),
            _ => None,
        })
    }

    /// As given (files by path, inline values in full), for `summary.json`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let series = |s: &Option<SeriesSpec>| match s {
            None => serde_json::Value::Null,
            Some(SeriesSpec::Points { unix_ms, values }) => {
                json!({"unix_ms": unix_ms, "values": values})
            }
            Some(SeriesSpec::PerMinute(values)) => json!({ "per_minute": values }),
            Some(SeriesSpec::File { path, column }) => {
                json!({"file": path.display().to_string(), "column": column})
            }
        };
        let trades = match &self.trades {
            None => serde_json::Value::Null,
            Some(TradesSpec::File(path)) => json!({ "file": path.display().to_string() }),
            Some(TradesSpec::Rows(rows)) => rows
                .iter()
                .map(|t| {
                    json!({
                        "unix_ms": t.unix_ms,
                        "token_in": t.token_in,
                        "token_out": t.token_out,
                        "amount_in": t.amount_in,
                    })
                })
                .collect(),
        };
        json!({
            "fees": series(&self.fees),
            "gas_cost": series(&self.gas_cost),
            "arb_fees": series(&self.arb_fees),
            "trades": trades,
        })
    }
}

/// The inputs laid onto the `n_rows` simulated minutes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvedMarket {
    pub fees: Option<Vec<f64>>,
    pub gas_cost: Option<Vec<f64>>,
    pub arb_fees: Option<Vec<f64>>,
    pub trade_minutes: Vec<usize>,
    pub trades: Vec<Trade>,
    /// Trades whose time lies outside the simulated minutes (counted, not applied).
    pub trades_outside: usize,
}

impl ResolvedMarket {
    /// The simulation's market over `prices`: these inputs where given, the pool's constant
    /// settings otherwise.
    pub fn market<'a>(
        &'a self,
        pool: &crate::config::PoolSettings,
        n_assets: usize,
        prices: &'a [f64],
    ) -> tfmm_core::simulate::Market<'a> {
        use tfmm_core::simulate::{Market, Series, Trades};
        let series = |s: &'a Option<Vec<f64>>, constant: f64| {
            s.as_deref()
                .map_or(Series::Constant(constant), Series::PerMinute)
        };
        Market {
            fees: series(&self.fees, pool.fees),
            gas_cost: series(&self.gas_cost, pool.gas_cost),
            arb_fees: series(&self.arb_fees, pool.arb_fees),
            trades: Trades {
                minutes: &self.trade_minutes,
                trades: &self.trades,
            },
            arb_frequency: pool.arb_frequency,
            do_arb: pool.do_arb,
            ..Market::new(n_assets, prices)
        }
    }
}

/// Which values a quantity allows.
#[derive(Clone, Copy)]
pub enum Domain {
    /// A fraction in [0, 1).
    Fraction,
    /// An amount >= 0.
    Amount,
}

impl Domain {
    fn check(self, field: &str, at: &str, x: f64) -> Result<()> {
        let ok = match self {
            Domain::Fraction => (0.0..1.0).contains(&x),
            Domain::Amount => x.is_finite() && x >= 0.0,
        };
        if ok {
            return Ok(());
        }
        let rule = match self {
            Domain::Fraction => "must be a fraction in [0, 1)",
            Domain::Amount => "must be an amount >= 0",
        };
        Err(RunError::config(format!("{field} ({at})"), x, rule))
    }
}

/// One value per simulated minute.
pub fn per_minute(
    spec: &SeriesSpec,
    field: &str,
    domain: Domain,
    start_ms: i64,
    n_rows: usize,
) -> Result<Vec<f64>> {
    let (unix_ms, values) = match spec {
        SeriesSpec::PerMinute(v) => {
            if v.len() < n_rows {
                return Err(RunError::config(
                    field,
                    format!("{} values", v.len()),
                    format!("a per-minute series must cover the {n_rows} simulated minutes"),
                ));
            }
            for (m, &x) in v.iter().take(n_rows).enumerate() {
                domain.check(field, &format!("minute {m}"), x)?;
            }
            return Ok(v[..n_rows].to_vec());
        }
        SeriesSpec::Points { unix_ms, values } => (unix_ms.clone(), values.clone()),
        SeriesSpec::File { path, column } => {
            let p = read_points(path, column)?;
            (p.unix_ms, p.values)
        }
    };
    if unix_ms.is_empty() {
        return Err(RunError::config(
            field,
            "[]",
            "a series needs at least one value",
        ));
    }
    for (t, &x) in unix_ms.iter().zip(&values) {
        domain.check(field, &format_utc(*t), x)?;
    }
    let mut out = Vec::with_capacity(n_rows);
    let mut next = 0;
    let mut current = values[0];
    for m in 0..n_rows {
        let t = start_ms + m as i64 * MS_PER_MINUTE;
        while next < unix_ms.len() && unix_ms[next] <= t {
            current = values[next];
            next += 1;
        }
        out.push(current);
    }
    Ok(out)
}

/// Trades on the simulated minutes, tokens resolved to pool order.
fn resolve_trades(
    spec: &TradesSpec,
    tokens: &[String],
    start_ms: i64,
    n_rows: usize,
    out: &mut ResolvedMarket,
) -> Result<()> {
    let rows = match spec {
        TradesSpec::Rows(rows) => rows.clone(),
        TradesSpec::File(path) => read_trades(path)?,
    };
    let index = |symbol: &str, which: &str, origin: &str| {
        tokens.iter().position(|t| t == symbol).ok_or_else(|| {
            RunError::config(
                format!("trade {which} ({origin})"),
                format!("\"{symbol}\""),
                format!("is not a pool token ({})", tokens.join(", ")),
            )
        })
    };
    let end_ms = start_ms + n_rows as i64 * MS_PER_MINUTE;
    for row in rows {
        let token_in = index(&row.token_in, "token_in", &row.origin)?;
        let token_out = index(&row.token_out, "token_out", &row.origin)?;
        if token_in == token_out {
            return Err(RunError::config(
                format!("trade ({})", row.origin),
                format!("{} -> {}", row.token_in, row.token_out),
                "a trade needs two different tokens",
            ));
        }
        if !(row.amount_in.is_finite() && row.amount_in >= 0.0) {
            return Err(RunError::config(
                format!("trade amount_in ({})", row.origin),
                row.amount_in,
                "must be an amount >= 0",
            ));
        }
        if row.unix_ms < start_ms || row.unix_ms >= end_ms {
            out.trades_outside += 1;
            continue;
        }
        if (row.unix_ms - start_ms) % MS_PER_MINUTE != 0 {
            return Err(RunError::config(
                format!("trade time ({})", row.origin),
                row.unix_ms,
                "must be on a whole minute",
            ));
        }
        out.trade_minutes
            .push(((row.unix_ms - start_ms) / MS_PER_MINUTE) as usize);
        out.trades.push(Trade {
            token_in,
            token_out,
            amount_in: row.amount_in,
        });
    }
    Ok(())
}

impl MarketSeries {
    pub fn resolve(
        &self,
        tokens: &[String],
        start_ms: i64,
        n_rows: usize,
    ) -> Result<ResolvedMarket> {
        let mut out = ResolvedMarket::default();
        let series = |spec: &Option<SeriesSpec>, field: &str, domain| {
            spec.as_ref()
                .map(|s| per_minute(s, field, domain, start_ms, n_rows))
                .transpose()
        };
        out.fees = series(&self.fees, "fees_df", Domain::Fraction)?;
        out.gas_cost = series(&self.gas_cost, "gas_cost_df", Domain::Amount)?;
        out.arb_fees = series(&self.arb_fees, "arb_fees_df", Domain::Fraction)?;
        if let Some(spec) = &self.trades {
            resolve_trades(spec, tokens, start_ms, n_rows, &mut out)?;
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        *self == MarketSeries::default()
    }
}

/// Resolves a relative path against the config file's folder.
pub fn in_dir(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_672_531_200_000;

    #[test]
    fn points_fill_forward_and_zero_is_a_value() {
        let spec = SeriesSpec::Points {
            unix_ms: vec![T0 - 60_000, T0 + 2 * 60_000, T0 + 4 * 60_000],
            values: vec![0.003, 0.0, 0.01],
        };
        let v = per_minute(&spec, "fees_df", Domain::Fraction, T0, 6).unwrap();
        assert_eq!(v, vec![0.003, 0.003, 0.0, 0.0, 0.01, 0.01]);
        // Before the first point: the first point's value.
        let late = SeriesSpec::Points {
            unix_ms: vec![T0 + 60_000],
            values: vec![0.002],
        };
        assert_eq!(
            per_minute(&late, "fees_df", Domain::Fraction, T0, 2).unwrap(),
            vec![0.002, 0.002]
        );
    }

    #[test]
    fn bad_series_are_refused() {
        let short = SeriesSpec::PerMinute(vec![0.003; 5]);
        let err = per_minute(&short, "fees_df", Domain::Fraction, T0, 6)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fees_df = 5 values") && err.contains("6 simulated minutes"),
            "{err}"
        );
        let big = SeriesSpec::PerMinute(vec![1.5; 6]);
        let err = per_minute(&big, "fees_df", Domain::Fraction, T0, 6)
            .unwrap_err()
            .to_string();
        assert!(err.contains("fees_df (minute 0) = 1.5"), "{err}");
    }

    #[test]
    fn trades_resolve_to_pool_tokens() {
        let row = |unix_ms, token_in: &str, token_out: &str| tfmm_data::TradeRow {
            unix_ms,
            token_in: token_in.into(),
            token_out: token_out.into(),
            amount_in: 1.0,
            origin: "trades line 2".into(),
        };
        let tokens = vec!["BTC".to_string(), "ETH".to_string()];
        let spec = TradesSpec::Rows(vec![
            row(T0 + 60_000, "ETH", "BTC"),
            row(T0 + 600_000, "BTC", "ETH"),
        ]);
        let r = MarketSeries {
            trades: Some(spec),
            ..Default::default()
        }
        .resolve(&tokens, T0, 5)
        .unwrap();
        assert_eq!(r.trade_minutes, vec![1]);
        assert_eq!((r.trades[0].token_in, r.trades[0].token_out), (1, 0));
        assert_eq!(r.trades_outside, 1);
        let spec = TradesSpec::Rows(vec![row(T0, "SOL", "BTC")]);
        let err = MarketSeries {
            trades: Some(spec),
            ..Default::default()
        }
        .resolve(&tokens, T0, 5)
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("\"SOL\"") && err.contains("is not a pool token (BTC, ETH)"),
            "{err}"
        );
    }
}
