//! Several tokens' series on one gap-free minute grid.
//!
//! quantammsim joins the tokens on their timestamps and drops rows where any
//! is missing, then assumes the rows are consecutive minutes. Its data builder
//! guarantees that by forward-filling each file; we do the same fill here, so
//! files with holes still give a true minute grid, and we record how much was
//! filled so a user can see it.

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::series::{Series, find_token_file, read_series};
use crate::time::{MS_PER_MINUTE, format_utc};

/// Where a token's column came from and how much of it was filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenProvenance {
    pub token: String,
    pub path: PathBuf,
    /// Rows in the file (its whole range, not only the table's).
    pub rows_read: usize,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Table minutes absent from the file, filled with the previous close.
    pub minutes_filled: usize,
    /// Longest run of consecutive filled minutes inside the table.
    pub longest_gap_minutes: usize,
    /// Every run of filled minutes: its first filled minute (unix ms) and its length.
    pub gaps: Vec<(i64, usize)>,
    /// SHA-256 of the file's bytes, lower-case hex (`sha256sum` prints the same); `None` for a
    /// quote token priced 1.
    pub sha256: Option<String>,
}

/// Prices of several tokens, one row per consecutive minute.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    /// In the order requested.
    pub tokens: Vec<String>,
    /// Unix ms of row 0.
    pub start_ms: i64,
    /// Row-major, `n_rows x n_assets`.
    pub prices: Vec<f64>,
    /// One entry per token when loaded from files; empty for tables built in
    /// memory with [`PriceTable::from_rows`].
    pub provenance: Vec<TokenProvenance>,
}

/// Refuse tables beyond 2^28 cells (2 GiB of f64): a pair of files whose
/// timestamps span centuries is a data error, not something to allocate.
const MAX_CELLS: usize = 1 << 28;

fn check_tokens(tokens: &[String]) -> Result<(), DataError> {
    if tokens.is_empty() {
        return Err(DataError::Tokens {
            detail: "no tokens given".to_string(),
        });
    }
    for (i, t) in tokens.iter().enumerate() {
        if tokens[..i].contains(t) {
            return Err(DataError::Tokens {
                detail: format!("token {t} is listed twice"),
            });
        }
    }
    Ok(())
}

impl PriceTable {
    /// Builds a table from row-major prices, checking the shape and that
    /// every price is finite and positive.
    pub fn from_rows(
        tokens: Vec<String>,
        start_ms: i64,
        prices: Vec<f64>,
    ) -> Result<Self, DataError> {
        check_tokens(&tokens)?;
        if start_ms.rem_euclid(MS_PER_MINUTE) != 0 {
            return Err(DataError::Shape {
                detail: format!(
                    "start_ms = {start_ms} ({}) is not on a whole minute",
                    format_utc(start_ms)
                ),
            });
        }
        let n = tokens.len();
        let rows = prices.len() / n;
        if rows == 0 || rows * n != prices.len() {
            return Err(DataError::Shape {
                detail: format!(
                    "{} prices do not form whole rows of {n} assets (need a positive multiple of {n})",
                    prices.len()
                ),
            });
        }
        let last_ms = i64::try_from(rows - 1)
            .ok()
            .and_then(|r| r.checked_mul(MS_PER_MINUTE))
            .and_then(|d| start_ms.checked_add(d));
        if last_ms.is_none() {
            return Err(DataError::Shape {
                detail: format!("{rows} minutes from {start_ms} overflow the timestamp range"),
            });
        }
        for (i, &p) in prices.iter().enumerate() {
            let rule = if !p.is_finite() {
                "is not finite"
            } else if p <= 0.0 {
                "is not a positive price"
            } else {
                continue;
            };
            return Err(DataError::Table {
                row: i / n,
                token: tokens[i % n].clone(),
                value: p.to_string(),
                rule: rule.to_string(),
            });
        }
        Ok(PriceTable {
            tokens,
            start_ms,
            prices,
            provenance: Vec::new(),
        })
    }

    pub fn n_assets(&self) -> usize {
        self.tokens.len()
    }

    pub fn n_rows(&self) -> usize {
        self.prices.len().checked_div(self.n_assets()).unwrap_or(0)
    }

    /// Prices of row `i`, in token order. Panics if `i >= n_rows()`.
    pub fn row(&self, i: usize) -> &[f64] {
        let n = self.n_assets();
        &self.prices[i * n..(i + 1) * n]
    }

    /// The prices of one token, all rows (a strided copy).
    pub fn column(&self, asset: usize) -> Vec<f64> {
        self.prices
            .iter()
            .skip(asset)
            .step_by(self.n_assets().max(1))
            .copied()
            .collect()
    }

    /// Unix ms of row `i`.
    pub fn unix_ms(&self, i: usize) -> i64 {
        self.start_ms + MS_PER_MINUTE * i as i64
    }

    /// Unix ms of the last row.
    pub fn last_ms(&self) -> i64 {
        self.unix_ms(self.n_rows().saturating_sub(1))
    }

    /// Row holding minute `ms`, if the table covers it and `ms` is on the grid.
    pub fn index_of(&self, ms: i64) -> Option<usize> {
        let offset = ms.checked_sub(self.start_ms)?;
        if offset < 0 || offset % MS_PER_MINUTE != 0 {
            return None;
        }
        let i = usize::try_from(offset / MS_PER_MINUTE).ok()?;
        (i < self.n_rows()).then_some(i)
    }

    /// Rows `lo..hi` as a new table (provenance is kept: it describes the
    /// files). Panics if `lo > hi` or `hi > n_rows()`, like slicing.
    pub fn slice(&self, lo: usize, hi: usize) -> PriceTable {
        let n = self.n_assets();
        PriceTable {
            tokens: self.tokens.clone(),
            start_ms: self.unix_ms(lo),
            prices: self.prices[lo * n..hi * n].to_vec(),
            provenance: self.provenance.clone(),
        }
    }

    /// The date range as text, for messages.
    pub fn range_text(&self) -> String {
        format!(
            "{} .. {}",
            format_utc(self.start_ms),
            format_utc(self.last_ms())
        )
    }
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of a file's bytes, streamed.
pub fn sha256_file(path: &Path) -> Result<String, DataError> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| DataError::io(path, e))?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Forward-fills `series` onto `n_rows` minutes from `lo` (on the grid, with
/// an observation at or before it), writing column `asset` of the row-major
/// `out`. Returns (minutes filled, longest filled run, every filled run).
fn fill_column(
    series: &Series,
    lo: i64,
    n_rows: usize,
    asset: usize,
    n_assets: usize,
    out: &mut [f64],
) -> (usize, usize, Vec<(i64, usize)>) {
    // Last observation at or before `lo`.
    let mut k = series.unix_ms.partition_point(|&t| t <= lo) - 1;
    let (mut filled, mut run, mut longest) = (0, 0, 0);
    let mut gaps: Vec<(i64, usize)> = Vec::new();
    for row in 0..n_rows {
        let minute = lo + MS_PER_MINUTE * row as i64;
        while k + 1 < series.len() && series.unix_ms[k + 1] <= minute {
            k += 1;
        }
        if series.unix_ms[k] == minute {
            run = 0;
        } else {
            filled += 1;
            run += 1;
            longest = longest.max(run);
            match gaps.last_mut() {
                Some(gap) if run > 1 => gap.1 = run,
                _ => gaps.push((minute, 1)),
            }
        }
        out[row * n_assets + asset] = series.close[k];
    }
    (filled, longest, gaps)
}

/// Where prices come from: a folder of per-token files, or the data built into tfmm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source<'a> {
    Dir(&'a Path),
    /// Binance 1-minute closes of BTC, ETH and SOL (USDT), 2022-11-01 to 2024-06-25.
    Embedded,
}

impl Source<'_> {
    /// `<dir>` or `embedded`, for messages and provenance.
    pub fn describe(&self) -> String {
        match self {
            Source::Dir(d) => d.display().to_string(),
            Source::Embedded => "embedded".to_string(),
        }
    }
}

/// Quote currencies priced 1 when no file is given for them (USDT, the embedded data's quote,
/// and its common stand-ins).
pub const QUOTE_TOKENS: &[&str] = &["USDT", "USD", "USDC"];

/// Loads each token's file from `dir` (see [`find_token_file`]) and aligns
/// them on the minutes common to all: `[max(first), min(last)]`, forward-
/// filling holes inside each file.
pub fn load_prices(dir: &Path, tokens: &[String]) -> Result<PriceTable, DataError> {
    load(Source::Dir(dir), tokens)
}

/// A token's file, its series and content hash.
type Found = (PathBuf, Series, String);

/// A token's series from a source; `None` for a quote token without data (priced 1).
fn token_series(source: Source<'_>, token: &str) -> Result<Option<Found>, DataError> {
    let found = match source {
        Source::Dir(dir) => find_token_file(dir, token).and_then(|path| {
            let series = read_series(&path)?;
            let hash = sha256_file(&path)?;
            Ok((path, series, hash))
        }),
        Source::Embedded => match crate::embedded::series(token) {
            Some(found) => found.map(|(path, series)| {
                let hash = sha256_hex(crate::embedded::bytes(token).unwrap_or_default());
                (path, series, hash)
            }),
            None => Err(DataError::NotFound {
                what: "price",
                token: token.to_string(),
                dir: PathBuf::from("embedded"),
                tried: format!("the embedded tokens {}", crate::embedded::TOKENS.join(", ")),
            }),
        },
    };
    match found {
        Ok(found) => Ok(Some(found)),
        Err(DataError::NotFound { .. }) if QUOTE_TOKENS.contains(&token) => Ok(None),
        Err(e) => Err(e),
    }
}

/// [`load_prices`] from any [`Source`]; quote tokens without data are priced 1.
pub fn load(source: Source<'_>, tokens: &[String]) -> Result<PriceTable, DataError> {
    check_tokens(tokens)?;
    let mut with_data = Vec::with_capacity(tokens.len());
    for token in tokens {
        with_data.push(token_series(source, token)?);
    }
    if with_data.iter().all(Option::is_none) {
        return Err(DataError::Tokens {
            detail: format!(
                "no price data for any of {} in {}",
                tokens.join(", "),
                source.describe()
            ),
        });
    }
    let loaded: Vec<&Series> = with_data.iter().flatten().map(|(_, s, _)| s).collect();
    // Readers guarantee non-empty, increasing, whole-minute series.
    let first = |s: &Series| s.unix_ms[0];
    let last = |s: &Series| s.unix_ms[s.len() - 1];
    let lo = loaded.iter().map(|s| first(s)).max().unwrap_or(0);
    let hi = loaded.iter().map(|s| last(s)).min().unwrap_or(0);
    if lo > hi {
        let ranges: Vec<String> = tokens
            .iter()
            .zip(&with_data)
            .filter_map(|(t, found)| found.as_ref().map(|(_, s, _)| (t, s)))
            .map(|(t, s)| format!("{t} {} .. {}", format_utc(first(s)), format_utc(last(s))))
            .collect();
        return Err(DataError::NoOverlap {
            ranges: ranges.join(", "),
        });
    }
    let n_assets = tokens.len();
    // Both ends are whole minutes, so this is exact; u64 because the span
    // of two i64 timestamps may exceed i64.
    let minutes = hi.abs_diff(lo) / MS_PER_MINUTE as u64;
    let n_rows = usize::try_from(minutes)
        .ok()
        .and_then(|m| m.checked_add(1))
        .filter(|r| r.saturating_mul(n_assets) <= MAX_CELLS)
        .ok_or_else(|| DataError::Shape {
            detail: format!(
                "{} .. {} is {} minutes for {n_assets} tokens, more than the {MAX_CELLS}-cell limit",
                format_utc(lo),
                format_utc(hi),
                u128::from(minutes) + 1
            ),
        })?;

    let mut prices = vec![0.0; n_rows * n_assets];
    let mut provenance = Vec::with_capacity(n_assets);
    for (asset, (token, found)) in tokens.iter().zip(with_data).enumerate() {
        let Some((path, series, hash)) = found else {
            // A quote token: 1 throughout.
            for row in 0..n_rows {
                prices[row * n_assets + asset] = 1.0;
            }
            provenance.push(TokenProvenance {
                token: token.clone(),
                path: PathBuf::from("constant 1"),
                rows_read: 0,
                first_ms: lo,
                last_ms: hi,
                minutes_filled: 0,
                longest_gap_minutes: 0,
                gaps: Vec::new(),
                sha256: None,
            });
            continue;
        };
        let (filled, longest, gaps) =
            fill_column(&series, lo, n_rows, asset, n_assets, &mut prices);
        provenance.push(TokenProvenance {
            token: token.clone(),
            path,
            rows_read: series.len(),
            first_ms: first(&series),
            last_ms: last(&series),
            minutes_filled: filled,
            longest_gap_minutes: longest,
            gaps,
            sha256: Some(hash),
        });
    }
    Ok(PriceTable {
        tokens: tokens.to_vec(),
        start_ms: lo,
        prices,
        provenance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_counts_holes_inside_the_table_only() {
        let m = MS_PER_MINUTE;
        // Observations at minutes 0, 1, 4, 5, 9; the table spans minutes 1..=8.
        let s = Series {
            unix_ms: [0, 1, 4, 5, 9].iter().map(|k| k * m).collect(),
            close: vec![1.0, 2.0, 3.0, 4.0, 5.0],
        };
        let mut out = vec![0.0; 8];
        let (filled, longest, gaps) = fill_column(&s, m, 8, 0, 1, &mut out);
        assert_eq!(out, vec![2.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 4.0]);
        assert_eq!((filled, longest), (5, 3));
        assert_eq!(gaps, vec![(2 * m, 2), (6 * m, 3)]);
    }

    #[test]
    fn index_arithmetic() {
        let t = PriceTable::from_rows(
            vec!["A".into(), "B".into()],
            120_000,
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        )
        .unwrap();
        assert_eq!((t.n_rows(), t.n_assets()), (3, 2));
        assert_eq!(t.row(1), &[3.0, 4.0]);
        assert_eq!(t.column(1), vec![2.0, 4.0, 6.0]);
        assert_eq!(t.unix_ms(2), 240_000);
        assert_eq!(t.index_of(180_000), Some(1));
        assert_eq!(t.index_of(180_001), None);
        assert_eq!(t.index_of(60_000), None);
        assert_eq!(t.index_of(300_000), None);
        assert_eq!(t.index_of(i64::MIN), None);
        let s = t.slice(1, 3);
        assert_eq!(
            (s.start_ms, s.prices.clone()),
            (180_000, vec![3.0, 4.0, 5.0, 6.0])
        );
    }
}
