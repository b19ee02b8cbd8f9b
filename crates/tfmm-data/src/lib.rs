//! Price data for tfmm: reading token price files (CSV, gzip CSV,
//! quantammsim's parquet, tfmm's `.ticks` archives), aligning tokens on one
//! minute grid, and choosing a simulation window the way quantammsim does.
//!
//! Nothing here prints; every failure is a [`DataError`] whose message is one
//! line naming the file, the position, the value and the rule it breaks.

mod align;
mod csv;
pub mod embedded;
mod error;
mod info;
mod market;
pub mod parquet;
mod series;
mod supply;
pub mod ticks;
mod time;
mod window;

pub use align::{
    PriceTable, QUOTE_TOKENS, Source, TokenProvenance, load, load_prices, sha256_file, sha256_hex,
};
pub use error::{DataError, Position};
pub use info::{TokenFile, inventory, tokens};
pub use market::{Points, TradeRow, read_points, read_trades};
pub use series::{Series, candidate_names, find_token_file, read_series};
pub use supply::{load_supply, supply_candidate_names};
pub use ticks::{read_ticks, write_ticks};
pub use time::{
    MS_PER_DAY, MS_PER_MINUTE, civil_from_days, days_from_civil, format_utc, parse_utc,
};
pub use window::{Window, select_window};
