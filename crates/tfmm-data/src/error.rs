//! The crate's single error type.
//!
//! Every message is one line that says where (file, and line or row when there
//! is one), what (field and value) and which rule was broken, so a user can fix
//! the input without reading the source.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in a file a problem sits: text files count physical lines (the header
/// is line 1), binary files count data rows from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Line(usize),
    Row(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Row(n) => write!(f, "row {n}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: cannot write: {source}", file.display())]
    Write {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} line {line}: header `{header}` {rule}", file.display())]
    Header {
        file: PathBuf,
        line: usize,
        header: String,
        rule: String,
    },

    /// A single value that breaks a rule: a price that is not positive, a
    /// timestamp off the minute grid, a field that is not a number, ...
    #[error("{} {at}: {field} = {value} {rule}", file.display())]
    Value {
        file: PathBuf,
        at: Position,
        field: String,
        value: String,
        rule: String,
    },

    /// A structural problem with no single offending value (wrong number of
    /// fields, bad magic, truncation, missing column, ...).
    #[error("{} {at}: {detail}", file.display())]
    Malformed {
        file: PathBuf,
        at: Position,
        detail: String,
    },

    #[error("{}: {detail}", file.display())]
    Format { file: PathBuf, detail: String },

    #[error("{}: contains no data rows", file.display())]
    Empty { file: PathBuf },

    #[error("no {what} file for token {token} in {} (tried {tried})", dir.display())]
    NotFound {
        what: &'static str,
        token: String,
        dir: PathBuf,
        tried: String,
    },

    #[error("invalid token list: {detail}")]
    Tokens { detail: String },

    #[error("the tokens' date ranges do not overlap: {ranges}")]
    NoOverlap { ranges: String },

    #[error("price table row {row}, {token}: price = {value} {rule}")]
    Table {
        row: usize,
        token: String,
        value: String,
        rule: String,
    },

    #[error("price table: {detail}")]
    Shape { detail: String },

    #[error("date `{input}` {rule}")]
    Date { input: String, rule: String },

    #[error("window: {detail}")]
    Window { detail: String },

    #[error("supply for {token} starts at {first} (in {}), after the first price minute {table_start}", file.display())]
    SupplyStartsLate {
        token: String,
        file: PathBuf,
        first: String,
        table_start: String,
    },
}

impl DataError {
    pub(crate) fn io(file: &Path, source: std::io::Error) -> Self {
        DataError::Io {
            file: file.to_path_buf(),
            source,
        }
    }

    pub(crate) fn value(
        file: &Path,
        at: Position,
        field: &str,
        value: impl fmt::Display,
        rule: impl Into<String>,
    ) -> Self {
        DataError::Value {
            file: file.to_path_buf(),
            at,
            field: field.to_string(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }

    pub(crate) fn malformed(file: &Path, at: Position, detail: impl Into<String>) -> Self {
        DataError::Malformed {
            file: file.to_path_buf(),
            at,
            detail: detail.into(),
        }
    }

    pub(crate) fn format(file: &Path, detail: impl Into<String>) -> Self {
        DataError::Format {
            file: file.to_path_buf(),
            detail: detail.into(),
        }
    }
}
