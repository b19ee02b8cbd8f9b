//! tfmm-run: one run of a pool, from a config to outputs. Reads configs (quantammsim cases),
//! loads and windows the prices, drives tfmm-core's engine and writes `timeseries.csv` and
//! `summary.json`. Shared by the CLI, and later the Python package and the HTTP server.

pub mod bench;
pub mod config;
mod error;
pub mod market;
pub mod output;
pub mod readouts;
pub mod report;
mod run;

pub use config::{Baseline, PoolKind, PoolSettings, RunConfig};
pub use error::{Result, RunError};
pub use report::Report;
pub use run::{Progress, RunOutput, config_source, run, run_on, run_on_table, run_with};
