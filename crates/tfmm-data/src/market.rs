//! Market inputs beside prices: per-minute fee, gas and arbitrage-fee series, and user
//! trades, as CSV files (gzip allowed) in quantammsim's column names.

use std::path::Path;

use crate::csv::{Span, field, open_text, parse_time, split_fields};
use crate::error::{DataError, Position};

/// Timestamped values of one quantity (`unix` or `unix_ms`, plus a value column).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Points {
    pub unix_ms: Vec<i64>,
    pub values: Vec<f64>,
}

/// A user trade read from a file, tokens by symbol.
#[derive(Clone, Debug, PartialEq)]
pub struct TradeRow {
    pub unix_ms: i64,
    pub token_in: String,
    pub token_out: String,
    pub amount_in: f64,
    /// Where it came from, for error messages: `file line N`.
    pub origin: String,
}

/// Calls `row` with each record's fields in the order of `columns` (found by header name;
/// the first of `time_columns` present is the timestamp, given as field 0).
fn read_records(
    path: &Path,
    time_columns: &[&str],
    columns: &[&str],
    mut row: impl FnMut(Position, i64, &[String]) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let mut lines = open_text(path)?;
    let mut text = String::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut line_no = 0usize;
    let mut header: Option<(usize, Vec<usize>)> = None;
    let mut fields = vec![String::new(); columns.len()];
    loop {
        text.clear();
        let n = std::io::BufRead::read_line(&mut lines, &mut text)
            .map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line = text
            .trim_end_matches(['\n', '\r'])
            .trim_start_matches('\u{feff}');
        if line.trim().is_empty() {
            continue;
        }
        split_fields(line, &mut spans);
        let Some((time, cols)) = &header else {
            let names: Vec<String> = spans.iter().map(|&s| field(line, s).into_owned()).collect();
            let find = |name: &str| names.iter().position(|n| n == name);
            let time = time_columns.iter().find_map(|c| find(c));
            let cols: Option<Vec<usize>> = columns.iter().map(|c| find(c)).collect();
            let (Some(time), Some(cols)) = (time, cols) else {
                return Err(DataError::Header {
                    file: path.to_path_buf(),
                    line: line_no,
                    header: line.trim().to_string(),
                    rule: format!(
                        "needs columns `{}` and {}",
                        time_columns.join("` or `"),
                        columns
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            };
            header = Some((time, cols));
            continue;
        };
        let at = Position::Line(line_no);
        let get = |i: usize| spans.get(i).map(|&s| field(line, s).into_owned());
        let Some(t_text) = get(*time) else {
            return Err(DataError::malformed(path, at, "has too few fields"));
        };
        let unix_ms = parse_time(&t_text).ok_or_else(|| {
            DataError::value(
                path,
                at,
                time_columns[0],
                format_args!("`{t_text}`"),
                "is not an integer timestamp in unix milliseconds",
            )
        })?;
        for (slot, &c) in fields.iter_mut().zip(cols) {
            *slot = get(c).ok_or_else(|| DataError::malformed(path, at, "has too few fields"))?;
        }
        row(at, unix_ms, &fields)?;
    }
    if header.is_none() {
        return Err(DataError::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok(())
}

/// A timestamped series of one value column (e.g. `fees`, `trade_gas_cost_usd`,
/// `arb_fees`). Timestamps must increase and sit on whole minutes; values must be finite.
pub fn read_points(path: &Path, value_column: &str) -> Result<Points, DataError> {
    let mut points = Points::default();
    read_records(
        path,
        &["unix_ms", "unix"],
        &[value_column],
        |at, unix_ms, f| {
            let value: f64 = f[0].parse().map_err(|_| {
                DataError::value(
                    path,
                    at,
                    value_column,
                    format_args!("`{}`", f[0]),
                    "is not a number",
                )
            })?;
            if !value.is_finite() {
                return Err(DataError::value(
                    path,
                    at,
                    value_column,
                    value,
                    "is not finite",
                ));
            }
            if unix_ms % crate::MS_PER_MINUTE != 0 {
                return Err(DataError::value(
                    path,
                    at,
                    "unix",
                    unix_ms,
                    "is not on a whole minute",
                ));
            }
            if points.unix_ms.last().is_some_and(|&prev| unix_ms <= prev) {
                return Err(DataError::value(
                    path,
                    at,
                    "unix",
                    unix_ms,
                    "is not after the previous row's timestamp",
                ));
            }
            points.unix_ms.push(unix_ms);
            points.values.push(value);
            Ok(())
        },
    )?;
    Ok(points)
}

/// User trades: columns `unix` (or `unix_ms`), `token_in`, `token_out`, `amount_in`, in
/// time order (several in one minute are applied in file order).
pub fn read_trades(path: &Path) -> Result<Vec<TradeRow>, DataError> {
    let mut trades: Vec<TradeRow> = Vec::new();
    read_records(
        path,
        &["unix_ms", "unix"],
        &["token_in", "token_out", "amount_in"],
        |at, unix_ms, f| {
            let amount_in: f64 = f[2].parse().map_err(|_| {
                DataError::value(
                    path,
                    at,
                    "amount_in",
                    format_args!("`{}`", f[2]),
                    "is not a number",
                )
            })?;
            if trades.last().is_some_and(|t| unix_ms < t.unix_ms) {
                return Err(DataError::value(
                    path,
                    at,
                    "unix",
                    unix_ms,
                    "is earlier than the previous trade: trades must be in time order",
                ));
            }
            trades.push(TradeRow {
                unix_ms,
                token_in: f[0].clone(),
                token_out: f[1].clone(),
                amount_in,
                origin: format!("{} {at}", path.display()),
            });
            Ok(())
        },
    )?;
    Ok(trades)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_points_and_trades() {
        let dir = tempfile::tempdir().unwrap();
        let fees = dir.path().join("fees.csv");
        std::fs::write(&fees, "unix,fees\n1672531200000,0.003\n1672531260000,0\n").unwrap();
        let p = read_points(&fees, "fees").unwrap();
        assert_eq!(p.values, vec![0.003, 0.0]);
        let trades = dir.path().join("trades.csv");
        std::fs::write(
            &trades,
            "unix,token_in,token_out,amount_in\n1672531200000,ETH,BTC,2.5\n",
        )
        .unwrap();
        let t = read_trades(&trades).unwrap();
        assert_eq!((t[0].token_in.as_str(), t[0].amount_in), ("ETH", 2.5));

        std::fs::write(&fees, "unix,fees\n1672531200000,abc\n").unwrap();
        let err = read_points(&fees, "fees").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("`abc`"), "{err}");
        std::fs::write(&fees, "unix,fee\n1672531200000,0.1\n").unwrap();
        let err = read_points(&fees, "fees").unwrap_err().to_string();
        assert!(err.contains("`fees`"), "{err}");
    }
}
