//! Plain and gzip CSV: `unix_ms,close` (tfmm), `unix,...,close,...`
//! (quantammsim's legacy `<T>_USD.csv`) and `unix_ms,supply` (supply files).
//!
//! Columns are found by header name, so extra columns and any order work.
//! Quoted fields are understood well enough to skip quantammsim's text columns.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, Position};
use crate::series::{Series, SeriesBuilder, exact_i64};

const TIME_COLUMNS: [&str; 2] = ["unix_ms", "unix"];

pub(crate) fn open_text(path: &Path) -> Result<Box<dyn BufRead>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let gz = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(".gz"));
    Ok(if gz {
        // Multi-member so that concatenated or bgzip-style files read whole.
        Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(BufReader::new(file)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    })
}

/// A field's byte range in its line, and whether it contained quotes.
pub(crate) type Span = (usize, usize, bool);

/// Splits one CSV record on commas, honouring double quotes (`""` inside a
/// quoted field is a literal quote). Spans index into `line`; ranges rather
/// than slices let one buffer serve every line.
pub(crate) fn split_fields(line: &str, out: &mut Vec<Span>) {
    out.clear();
    let mut start = 0;
    let mut in_quotes = false;
    let mut has_quotes = false;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b'"' => {
                in_quotes = !in_quotes;
                has_quotes = true;
            }
            b',' if !in_quotes => {
                out.push((start, i, has_quotes));
                start = i + 1;
                has_quotes = false;
            }
            _ => {}
        }
    }
    out.push((start, line.len(), has_quotes));
}

/// The text of a field: trimmed, surrounding quotes removed, `""` unescaped.
pub(crate) fn field(line: &str, (start, end, has_quotes): Span) -> Cow<'_, str> {
    // Spans come from splitting on ASCII commas, so they are char boundaries.
    let t = line[start..end].trim();
    if !has_quotes {
        return t.into();
    }
    let inner = t
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t);
    inner.replace("\"\"", "\"").into()
}

/// Parses a timestamp field. quantammsim's CSV pipeline reads `unix` as float,
/// so `1640995200000.0` is accepted when it is an exact integer.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    if let Ok(v) = text.parse::<i64>() {
        return Some(v);
    }
    exact_i64(text.parse::<f64>().ok()?)
}

/// Reads a CSV series whose value column is `value_column` (e.g. `close`,
/// `supply`); `quantity` words the errors ("price", "supply").
pub(crate) fn read_csv_series(
    path: &Path,
    value_column: &str,
    quantity: &'static str,
) -> Result<Series, DataError> {
    let mut reader = open_text(path)?;
    let mut raw = Vec::new();
    let mut fields = Vec::new();
    let mut line_no = 0usize;

    let next_line = |reader: &mut dyn BufRead,
                     raw: &mut Vec<u8>,
                     line_no: &mut usize|
     -> Result<bool, DataError> {
        raw.clear();
        let n = reader
            .read_until(b'\n', raw)
            .map_err(|e| DataError::io(path, e))?;
        *line_no += 1;
        while matches!(raw.last(), Some(b'\n' | b'\r')) {
            raw.pop();
        }
        Ok(n > 0)
    };

    // Header: the first non-blank line.
    let header: String = loop {
        if !next_line(&mut *reader, &mut raw, &mut line_no)? {
            return Err(DataError::Empty {
                file: path.to_path_buf(),
            });
        }
        let text = std::str::from_utf8(&raw).map_err(|_| {
            DataError::malformed(path, Position::Line(line_no), "header is not valid UTF-8")
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if !text.trim().is_empty() {
            break text.to_string();
        }
    };
    let header_line = line_no;
    split_fields(&header, &mut fields);
    let names: Vec<String> = fields
        .iter()
        .map(|&f| field(&header, f).into_owned())
        .collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    let time_idx = TIME_COLUMNS.iter().find_map(|c| find(c).map(|i| (i, *c)));
    let value_idx = find(value_column);
    let (Some((t_idx, t_name)), Some(v_idx)) = (time_idx, value_idx) else {
        let missing = match (time_idx, value_idx) {
            (None, None) => format!("`unix_ms` (or `unix`) column and no `{value_column}` column"),
            (None, Some(_)) => "`unix_ms` (or `unix`) column".to_string(),
            _ => format!("`{value_column}` column"),
        };
        return Err(DataError::Header {
            file: path.to_path_buf(),
            line: header_line,
            header: header.trim().to_string(),
            rule: format!("has no {missing} (expected e.g. `unix_ms,{value_column}`)"),
        });
    };
    let needed = t_idx.max(v_idx) + 1;

    let mut builder = SeriesBuilder::new(path, t_name, value_column, quantity);
    while next_line(&mut *reader, &mut raw, &mut line_no)? {
        let at = Position::Line(line_no);
        let text = std::str::from_utf8(&raw)
            .map_err(|_| DataError::malformed(path, at, "is not valid UTF-8"))?;
        if text.trim().is_empty() {
            continue;
        }
        split_fields(text, &mut fields);
        if fields.len() < needed {
            return Err(DataError::malformed(
                path,
                at,
                format!(
                    "has {} field(s), but the header puts `{t_name}` in column {} and `{value_column}` in column {}",
                    fields.len(),
                    t_idx + 1,
                    v_idx + 1
                ),
            ));
        }
        let t_text = field(text, fields[t_idx]);
        let unix_ms = parse_time(&t_text).ok_or_else(|| {
            DataError::value(
                path,
                at,
                t_name,
                format_args!("`{t_text}`"),
                "is not an integer timestamp in unix milliseconds",
            )
        })?;
        let v_text = field(text, fields[v_idx]);
        let value = v_text.parse::<f64>().map_err(|_| {
            DataError::value(
                path,
                at,
                value_column,
                format_args!("`{v_text}`"),
                "is not a number",
            )
        })?;
        builder.push(at, unix_ms, value)?;
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields() {
        let line = r#"1, "a,b" ,"say ""hi""",,x"#;
        let mut spans = Vec::new();
        split_fields(line, &mut spans);
        let got: Vec<_> = spans.iter().map(|&s| field(line, s)).collect();
        assert_eq!(got, vec!["1", "a,b", r#"say "hi""#, "", "x"]);
    }

    #[test]
    fn float_timestamps_must_be_integral() {
        assert_eq!(parse_time("1640995200000"), Some(1_640_995_200_000));
        assert_eq!(parse_time("1640995200000.0"), Some(1_640_995_200_000));
        assert_eq!(parse_time("1.6409952e12"), Some(1_640_995_200_000));
        assert_eq!(parse_time("1640995200000.5"), None);
        assert_eq!(parse_time("nan"), None);
        assert_eq!(parse_time("1e300"), None);
        assert_eq!(parse_time(""), None);
    }
}
