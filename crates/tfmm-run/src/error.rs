//! Errors of a run. Each prints as one line naming the field, the value and the rule broken.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    /// A config value outside its domain, of the wrong type, unknown or unsupported.
    #[error("{field} = {value}: {rule}")]
    Config {
        field: String,
        value: String,
        rule: String,
    },
    #[error(transparent)]
    Data(#[from] tfmm_data::DataError),
    #[error(transparent)]
    Core(#[from] tfmm_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    pub fn config(field: impl Into<String>, value: impl ToString, rule: impl Into<String>) -> Self {
        RunError::Config {
            field: field.into(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RunError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = RunError> = std::result::Result<T, E>;
