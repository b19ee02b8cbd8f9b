//! What a price source holds: per token, the file, its range, rows and holes (`tfmm data info`).

use std::path::PathBuf;

use crate::align::{Source, sha256_file, sha256_hex};
use crate::error::DataError;
use crate::series::{candidate_names, find_token_file, read_series};
use crate::time::MS_PER_MINUTE;

/// One token's price file as read, before any alignment.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenFile {
    pub token: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub rows: usize,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Minutes between the first and last row with no row of their own.
    pub missing_minutes: u64,
    /// Runs of consecutive missing minutes.
    pub gaps: usize,
    /// The longest run: its first missing minute (unix ms) and length.
    pub longest_gap: Option<(i64, u64)>,
    pub min_close: f64,
    pub max_close: f64,
}

/// A token and its file, or why the file cannot be read.
pub type Listing = (String, Result<TokenFile, DataError>);

/// Every token a source offers, sorted by token, each with its file or why it cannot be read
/// (a stray `notes.csv` is listed as unreadable rather than hiding the rest).
pub fn inventory(source: Source<'_>) -> Result<Vec<Listing>, DataError> {
    Ok(tokens(source)?
        .into_iter()
        .map(|t| {
            let file = token_file(source, &t);
            (t, file)
        })
        .collect())
}

/// The tokens a source has price files for, sorted, by file name alone (nothing is read).
pub fn tokens(source: Source<'_>) -> Result<Vec<String>, DataError> {
    Ok(match source {
        Source::Embedded => crate::embedded::TOKENS
            .iter()
            .map(|t| t.to_string())
            .collect(),
        Source::Dir(dir) => {
            let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
            let mut tokens = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| DataError::io(dir, e))?;
                let name = entry.file_name().to_string_lossy().to_string();
                if let Some(token) = token_of(&name)
                    && !tokens.contains(&token)
                {
                    tokens.push(token);
                }
            }
            tokens.sort();
            tokens
        }
    })
}

/// The token a price file name is for (`BTC.csv.gz` → `BTC`); supply files and others are not.
fn token_of(name: &str) -> Option<String> {
    let suffixes = candidate_names("");
    let token = suffixes
        .iter()
        .find_map(|s| name.strip_suffix(s.as_str()))?;
    (!token.is_empty()
        && !token.ends_with("_supply")
        && candidate_names(token).iter().any(|c| c == name))
    .then(|| token.to_string())
}

fn token_file(source: Source<'_>, token: &str) -> Result<TokenFile, DataError> {
    let (path, series, bytes, sha256) = match source {
        Source::Dir(dir) => {
            // The file a run would use when several formats are present.
            let path = find_token_file(dir, token)?;
            let series = read_series(&path)?;
            let bytes = std::fs::metadata(&path)
                .map_err(|e| DataError::io(&path, e))?
                .len();
            let hash = sha256_file(&path)?;
            (path, series, bytes, hash)
        }
        Source::Embedded => {
            let raw = crate::embedded::bytes(token).unwrap_or_default();
            let (path, series) =
                crate::embedded::series(token).ok_or_else(|| DataError::NotFound {
                    what: "price",
                    token: token.to_string(),
                    dir: PathBuf::from("embedded"),
                    tried: crate::embedded::TOKENS.join(", "),
                })??;
            (path, series, raw.len() as u64, sha256_hex(raw))
        }
    };
    let mut missing = 0;
    let mut gaps = 0;
    let mut longest: Option<(i64, u64)> = None;
    for pair in series.unix_ms.windows(2) {
        let run = ((pair[1] - pair[0]) / MS_PER_MINUTE - 1) as u64;
        if run > 0 {
            missing += run;
            gaps += 1;
            if longest.is_none_or(|(_, len)| run > len) {
                longest = Some((pair[0] + MS_PER_MINUTE, run));
            }
        }
    }
    let close = &series.close;
    Ok(TokenFile {
        token: token.to_string(),
        path,
        bytes,
        sha256,
        rows: series.len(),
        first_ms: series.unix_ms[0],
        last_ms: series.unix_ms[series.len() - 1],
        missing_minutes: missing,
        gaps,
        longest_gap: longest,
        min_close: close.iter().copied().fold(f64::INFINITY, f64::min),
        max_close: close.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_tokens() {
        assert_eq!(token_of("BTC.csv.gz").as_deref(), Some("BTC"));
        assert_eq!(token_of("ETH_USD.parquet").as_deref(), Some("ETH"));
        assert_eq!(token_of("SOL.ticks").as_deref(), Some("SOL"));
        assert_eq!(token_of("BTC_supply.csv"), None);
        assert_eq!(token_of("notes.txt"), None);
        assert_eq!(token_of(".csv"), None);
    }

    #[test]
    fn a_folder_lists_each_token_once_with_its_holes() {
        let dir = tempfile::tempdir().unwrap();
        let m = MS_PER_MINUTE;
        // Minutes 0, 1, 4, 5, 9: holes of 2 and 3 minutes.
        let rows: String = [0, 1, 4, 5, 9]
            .iter()
            .map(|k| format!("{},{}\n", k * m, 100 + k))
            .collect();
        std::fs::write(dir.path().join("AAA.csv"), format!("unix_ms,close\n{rows}")).unwrap();
        std::fs::write(dir.path().join("BBB.csv"), "unix_ms,close\n0,2\n60000,3\n").unwrap();
        std::fs::write(dir.path().join("AAA_supply.csv"), "unix_ms,supply\n0,1\n").unwrap();
        std::fs::write(dir.path().join("README"), "not data").unwrap();
        std::fs::write(dir.path().join("notes.csv"), "a,b\n1,2\n").unwrap();
        let listed = inventory(Source::Dir(dir.path())).unwrap();
        let names: Vec<&str> = listed.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(names, ["AAA", "BBB", "notes"]);
        let err = listed[2].1.as_ref().unwrap_err().to_string();
        assert!(err.contains("notes.csv") && err.contains("close"), "{err}");
        let files: Vec<&TokenFile> = listed.iter().filter_map(|(_, f)| f.as_ref().ok()).collect();
        let a = &files[0];
        assert_eq!((a.rows, a.missing_minutes, a.gaps), (5, 5, 2));
        assert_eq!(a.longest_gap, Some((6 * m, 3)));
        assert_eq!((a.first_ms, a.last_ms), (0, 9 * m));
        assert_eq!((a.min_close, a.max_close), (100.0, 109.0));
        assert_eq!(files[1].longest_gap, None);
        assert_eq!(files[1].sha256.len(), 64);
    }

    #[test]
    fn embedded_data_matches_its_archive_hashes() {
        let files = inventory(Source::Embedded).unwrap();
        assert_eq!(files.len(), 3);
        for (_, f) in &files {
            let f = f.as_ref().unwrap();
            assert_eq!(f.rows as u64 + f.missing_minutes, 603 * 1440, "{}", f.token);
            assert_eq!(
                f.sha256,
                sha256_hex(crate::embedded::bytes(&f.token).unwrap())
            );
        }
    }
}
