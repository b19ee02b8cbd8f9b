//! Circulating-supply series (market-cap rules), forward-filled onto a price
//! table's minutes.

use std::path::Path;

use crate::align::PriceTable;
use crate::csv::read_csv_series;
use crate::error::DataError;
use crate::series::find_first;
use crate::time::format_utc;

/// Supply file names tried for a token, in order.
pub fn supply_candidate_names(token: &str) -> [String; 2] {
    [
        format!("{token}_supply.csv"),
        format!("{token}_supply.csv.gz"),
    ]
}

/// Loads `<T>_supply.csv` (or `.csv.gz`, header `unix_ms,supply`) for each
/// token and forward-fills it onto `table`'s minutes; row-major like
/// `table.prices`. Every table minute needs an observation at or before it.
pub fn load_supply(
    dir: &Path,
    tokens: &[String],
    table: &PriceTable,
) -> Result<Vec<f64>, DataError> {
    let n_assets = tokens.len();
    let n_rows = table.n_rows();
    let mut out = vec![0.0; n_rows * n_assets];
    for (asset, token) in tokens.iter().enumerate() {
        let path = find_first(dir, token, &supply_candidate_names(token), "supply")?;
        let series = read_csv_series(&path, "supply", "supply")?;
        if series.unix_ms[0] > table.start_ms {
            return Err(DataError::SupplyStartsLate {
                token: token.clone(),
                file: path,
                first: format_utc(series.unix_ms[0]),
                table_start: format_utc(table.start_ms),
            });
        }
        let mut k = 0;
        for row in 0..n_rows {
            let minute = table.unix_ms(row);
            while k + 1 < series.len() && series.unix_ms[k + 1] <= minute {
                k += 1;
            }
            out[row * n_assets + asset] = series.close[k];
        }
    }
    Ok(out)
}
