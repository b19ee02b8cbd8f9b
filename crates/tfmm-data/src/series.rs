//! One token's time series and the rules every reader enforces on it.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Position};
use crate::time::{MS_PER_MINUTE, format_utc};
use crate::{csv, parquet, ticks};

/// A token's observations: strictly increasing whole-minute timestamps and
/// positive finite values (closes, or supplies for supply files).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub unix_ms: Vec<i64>,
    pub close: Vec<f64>,
}

impl Series {
    pub fn len(&self) -> usize {
        self.unix_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.unix_ms.is_empty()
    }
}

/// `v` as an integer when it is one and fits in i64. quantammsim's pipelines
/// sometimes carry timestamps as floats.
pub(crate) fn exact_i64(v: f64) -> Option<i64> {
    // i64::MAX rounds up to 2^63 as f64, the first value that does not fit.
    (v.is_finite() && v.fract() == 0.0 && v.abs() < i64::MAX as f64).then_some(v as i64)
}

/// Accumulates rows while checking them, so that every reader reports the
/// same rule the same way and with its own notion of position.
pub(crate) struct SeriesBuilder<'a> {
    file: &'a Path,
    time_field: String,
    value_field: String,
    /// "price" or "supply": only changes the wording of errors.
    quantity: &'static str,
    series: Series,
}

impl<'a> SeriesBuilder<'a> {
    pub fn new(
        file: &'a Path,
        time_field: &str,
        value_field: &str,
        quantity: &'static str,
    ) -> Self {
        SeriesBuilder {
            file,
            time_field: time_field.to_string(),
            value_field: value_field.to_string(),
            quantity,
            series: Series::default(),
        }
    }

    pub fn reserve(&mut self, additional: usize) {
        self.series.unix_ms.reserve(additional);
        self.series.close.reserve(additional);
    }

    pub fn push(&mut self, at: Position, unix_ms: i64, value: f64) -> Result<(), DataError> {
        if unix_ms.rem_euclid(MS_PER_MINUTE) != 0 {
            return Err(DataError::value(
                self.file,
                at,
                &self.time_field,
                unix_ms,
                format!(
                    "is not on a whole minute ({}, {} ms past the minute; timestamps are unix milliseconds)",
                    format_utc(unix_ms),
                    unix_ms.rem_euclid(MS_PER_MINUTE)
                ),
            ));
        }
        if let Some(&prev) = self.series.unix_ms.last() {
            if unix_ms == prev {
                return Err(DataError::value(
                    self.file,
                    at,
                    &self.time_field,
                    unix_ms,
                    format!("repeats the previous timestamp ({})", format_utc(unix_ms)),
                ));
            }
            if unix_ms < prev {
                return Err(DataError::value(
                    self.file,
                    at,
                    &self.time_field,
                    unix_ms,
                    format!(
                        "is earlier than the previous row's {prev} ({} < {}): timestamps must increase",
                        format_utc(unix_ms),
                        format_utc(prev)
                    ),
                ));
            }
        }
        if !value.is_finite() {
            return Err(DataError::value(
                self.file,
                at,
                &self.value_field,
                value,
                format!("is not a finite {}", self.quantity),
            ));
        }
        if value <= 0.0 {
            return Err(DataError::value(
                self.file,
                at,
                &self.value_field,
                value,
                format!("is not a positive {}", self.quantity),
            ));
        }
        self.series.unix_ms.push(unix_ms);
        self.series.close.push(value);
        Ok(())
    }

    pub fn finish(self) -> Result<Series, DataError> {
        if self.series.is_empty() {
            return Err(DataError::Empty {
                file: self.file.to_path_buf(),
            });
        }
        Ok(self.series)
    }
}

/// Reads a price file, choosing the format by its name: `.ticks`, `.csv.gz`,
/// `.csv` or `.parquet`. The result is validated (see [`Series`]).
pub fn read_series(path: &Path) -> Result<Series, DataError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".ticks") {
        ticks::read_ticks(path)
    } else if name.ends_with(".csv.gz") || name.ends_with(".csv") {
        csv::read_csv_series(path, "close", "price")
    } else if name.ends_with(".parquet") {
        parquet::read_parquet(path)
    } else {
        Err(DataError::format(
            path,
            "unknown price file type (expected .ticks, .csv.gz, .csv or .parquet)",
        ))
    }
}

/// File names tried for a token, in order of preference: the compact archive
/// first, quantammsim's parquet last.
pub fn candidate_names(token: &str) -> [String; 4] {
    [
        format!("{token}.ticks"),
        format!("{token}.csv.gz"),
        format!("{token}.csv"),
        format!("{token}_USD.parquet"),
    ]
}

pub(crate) fn find_first(
    dir: &Path,
    token: &str,
    names: &[String],
    what: &'static str,
) -> Result<PathBuf, DataError> {
    if token.is_empty() || token.contains(['/', '\\']) || token == "." || token == ".." {
        return Err(DataError::Tokens {
            detail: format!("`{token}` is not a token name"),
        });
    }
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::NotFound {
            what,
            token: token.to_string(),
            dir: dir.to_path_buf(),
            tried: names.join(", "),
        })
}

/// Finds a token's price file in `dir`, trying `<T>.ticks`, `<T>.csv.gz`,
/// `<T>.csv` and `<T>_USD.parquet` in that order.
pub fn find_token_file(dir: &Path, token: &str) -> Result<PathBuf, DataError> {
    find_first(dir, token, &candidate_names(token), "price")
}
