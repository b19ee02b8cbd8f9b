//! tfmm's own config format, in user-facing units: TOML, or the same structure as JSON.
//!
//! ```toml
//! [pool]
//! tokens = ["BTC", "ETH", "SOL"]
//! rule = "momentum"
//! memory_days = 10
//! k_per_day = 1
//!
//! [market]
//! fees = 0.003
//!
//! [window]
//! start = "2024-01-01"
//! end = "2024-06-20"
//! ```
//!
//! [`KEYS`] is the one list of keys: the parser reads no key that is not listed there, and
//! `docs/config.md` carries the same table (a test keeps the two equal). Every key has a
//! default, and an empty config is the default run (`configs/default.toml`). A key that is
//! not known, or that would have no effect on the configured pool, is an error naming its
//! path; so is a value of the wrong type or outside its range.
//!
//! The rule's parameters are given in a quant's units (`memory_days`, `k_per_day`, ...) and
//! converted as quantammsim initialises parameters from its `initial_*` seeds, or by their
//! internal names in a `[params]` table to reproduce a run exactly.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};
use tfmm_core::error::did_you_mean;
use tfmm_core::params::{ParamArray, Params};
use tfmm_core::pools::arbitrage::Validity;
use tfmm_core::pools::cow::CowPool;
use tfmm_core::pools::gyroscope::{GyroscopePool, GyroscopeSettings};
use tfmm_core::pools::reclamm::{ReclammInterpolation, ReclammPool, ReclammState};
use tfmm_core::rules::{RuleSettings, Seeds, WEIGHT_RULES, internal_params, internalize};
use tfmm_core::scalar::inverse_squareplus;
use tfmm_core::weights::{ConstantWeights, Interpolation, WeightEngine, WeightSettings};
use tfmm_data::{DataError, MS_PER_MINUTE, TradeRow, format_utc, parse_utc};

use super::quantammsim::params_from_json;
use super::value::show;
use super::{DataSettings, OutputSettings, PoolKind, PoolSettings, ReclammConfig, RunConfig};
use crate::error::{Result, RunError};
use crate::market::{MarketSeries, SeriesSpec, TradesSpec, in_dir};

/// The documented default run; an empty config gives the same run.
pub const DEFAULT_TOML: &str = include_str!("../../../../configs/default.toml");

/// One config key: where it lives, its default, unit and meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyDoc {
    /// Dotted path: `section.key` (`name` and `params` sit at the top).
    pub path: &'static str,
    /// A TOML value (shown as code in the docs), or words when the default depends on
    /// other keys.
    pub default: &'static str,
    pub unit: &'static str,
    /// The pools or rules it applies to; given elsewhere it is an error.
    pub applies: &'static str,
    pub meaning: &'static str,
}

const fn key(
    path: &'static str,
    default: &'static str,
    unit: &'static str,
    applies: &'static str,
    meaning: &'static str,
) -> KeyDoc {
    KeyDoc {
        path,
        default,
        unit,
        applies,
        meaning,
    }
}

const ALL: &str = "all";
const TFMM: &str = "TFMM rules";
const CHANNELS: &str =
    "power_channel, mean_reversion_channel, triple_threat_mean_reversion_channel";
const MRC: &str = "mean_reversion_channel, triple_threat_mean_reversion_channel";

/// Every key of the native format. The parser reads keys only through this list.
pub const KEYS: &[KeyDoc] = &[
    key(
        "name",
        "none",
        "text",
        ALL,
        "Run name, recorded in `summary.json`.",
    ),
    key(
        "pool.tokens",
        r#"["BTC", "ETH", "SOL"]"#,
        "ticker symbols, in alphabetical order",
        ALL,
        "Pool tokens. Pool order is alphabetical (as quantammsim's) and every per-token list follows it. USDT, USD and USDC without a price file are priced 1.",
    ),
    key(
        "pool.rule",
        r#""momentum""#,
        "rule or pool name",
        ALL,
        "A TFMM rule (momentum, anti_momentum, power_channel, mean_reversion_channel, triple_threat_mean_reversion_channel, difference_momentum, min_variance, index_market_cap, hodling_index_market_cap) or a pool type (balancer, hodl, cow, gyroscope, reclamm), with optional prefixes `lvr__`/`rvr__` (a rebalancing benchmark) and, for TFMM rules, `bounded__`, `ensemble__`.",
    ),
    key(
        "pool.initial_pool_value",
        "1000000",
        "quote currency",
        ALL,
        "Value deposited at the first simulated minute.",
    ),
    key(
        "pool.weights",
        "equal weights",
        "fractions summing to 1, one per token",
        "all but reclamm",
        "TFMM: initial weights. balancer, cow: the constant weights. hodl: the deposit's split. gyroscope: target value shares at the deposit (instead of `lam` and `phi`).",
    ),
    key(
        "pool.chunk_period",
        "60",
        "minutes",
        TFMM,
        "Minutes between strategy updates.",
    ),
    key(
        "pool.weight_interpolation_period",
        "= chunk_period",
        "minutes",
        TFMM,
        "Minutes over which each weight change is spread; at most `chunk_period`.",
    ),
    key(
        "pool.interpolation",
        r#""linear""#,
        r#""linear" or "approx_optimal""#,
        TFMM,
        "Shape of the weight ramp within a chunk.",
    ),
    key(
        "pool.maximum_change",
        "0.0003",
        "weight per minute",
        TFMM,
        "Largest change of any weight in one minute (the whole change is scaled down to it).",
    ),
    key(
        "pool.minimum_weight",
        "0.1 / number of tokens",
        "weight, at most 1 / number of tokens",
        TFMM,
        "Floor on every weight.",
    ),
    key(
        "pool.memory_days",
        "10",
        "days; a number or one per token",
        TFMM,
        "Memory of the rule's exponentially weighted estimators (price gradient, variance or market cap).",
    ),
    key(
        "pool.memory_days_delta",
        "0",
        "days; a number or one per token",
        "momentum, anti_momentum, power_channel, mean_reversion_channel with `use_alt_lamb`; difference_momentum; min_variance",
        "Extra memory of the second, longer estimator: its memory is `memory_days + memory_days_delta`.",
    ),
    key(
        "pool.use_alt_lamb",
        "false",
        "true or false",
        "momentum, anti_momentum, power_channel, mean_reversion_channel",
        "Divide the price gradient by a second average of memory `memory_days + memory_days_delta` (quantammsim's `use_alt_lamb`).",
    ),
    key(
        "pool.k_per_day",
        "1",
        "weight change per unit signal per memory day; a number or one per token, > 0",
        "momentum, anti_momentum, power_channel, mean_reversion_channel, triple_threat_mean_reversion_channel, difference_momentum",
        "Aggressiveness: how far weights move for a given signal.",
    ),
    key(
        "pool.exponent",
        "1",
        "> 0; a number or one per token",
        CHANNELS,
        "Exponent of the power response to the price gradient.",
    ),
    key(
        "pool.pre_exp_scaling",
        "0.5",
        "> 0; a number or one per token",
        CHANNELS,
        "Scale applied to the price gradient before the exponent.",
    ),
    key(
        "pool.width",
        "1",
        "> 0, in units of the price gradient; a number or one per token",
        MRC,
        "Width of the mean-reversion channel.",
    ),
    key(
        "pool.amplitude",
        "= memory_days (1 per memory day)",
        "> 0; a number or one per token",
        MRC,
        "Amplitude of the mean-reversion channel.",
    ),
    key(
        "pool.cap_weights",
        "none",
        "weight",
        "index_market_cap, hodling_index_market_cap",
        "Cap on any single target weight; the excess is spread over the others.",
    ),
    key(
        "pool.min_weights",
        "required",
        "fractions, one per token",
        "`bounded__` rules",
        "Per-token lower bound on the weights.",
    ),
    key(
        "pool.max_weights",
        "required",
        "fractions, one per token",
        "`bounded__` rules",
        "Per-token upper bound on the weights.",
    ),
    key(
        "pool.members",
        "required",
        "list of tables",
        "`ensemble__` rules",
        "Parameter sets whose weight changes are averaged. Each may set `memory_days`, `memory_days_delta`, `k_per_day`, `exponent`, `pre_exp_scaling`, `width`, `amplitude`; the rest come from `[pool]`.",
    ),
    key(
        "pool.numeraire",
        "last token in pool order",
        "token symbol",
        "gyroscope",
        "The token `alpha` and `beta` price the other one in.",
    ),
    key(
        "pool.alpha",
        "required",
        "price of the other token in the numeraire",
        "gyroscope",
        "Lower end of the price range.",
    ),
    key(
        "pool.beta",
        "required",
        "price of the other token in the numeraire",
        "gyroscope",
        "Upper end of the price range.",
    ),
    key(
        "pool.lam",
        "from `weights`",
        ">= 1",
        "gyroscope",
        "Stretch of the ellipse (λ); give with `phi`, instead of `weights`.",
    ),
    key(
        "pool.phi",
        "from `weights`",
        "radians, in (0, π/2)",
        "gyroscope",
        "Rotation of the ellipse (φ); give with `lam`, instead of `weights`.",
    ),
    key(
        "pool.price_ratio",
        "4",
        "highest over lowest price, > 1",
        "reclamm without `initial_state`",
        "Width of the price range at the deposit.",
    ),
    key(
        "pool.centeredness_margin",
        "0.2",
        "in [0, 1]",
        "reclamm",
        "The range moves while the pool's centeredness is below this.",
    ),
    key(
        "pool.daily_price_shift_base",
        "1 - 1/124000",
        "decay base per second, in (0, 1]",
        "reclamm",
        "Speed of the geometric thermostat (quantammsim's `daily_price_shift_base`).",
    ),
    key(
        "pool.shift_exponent",
        "none",
        "in [0, 124649)",
        "reclamm",
        "The same speed as an exponent: base = 1 - shift_exponent / 124649. Give this or `daily_price_shift_base`.",
    ),
    key(
        "pool.thermostat",
        r#""geometric""#,
        r#""geometric" or "constant_arc_length""#,
        "reclamm",
        "How the virtual balances move (quantammsim's `reclamm_interpolation_method`).",
    ),
    key(
        "pool.arc_length_speed",
        "calibrated",
        "per second, >= 0",
        r#"reclamm with thermostat = "constant_arc_length""#,
        "Fixed arc-length speed; by default calibrated to one geometric step where the thermostat first acts.",
    ),
    key(
        "pool.centeredness_scaling",
        "false",
        "true or false",
        "reclamm",
        "Speed the thermostat up by `centeredness_margin / centeredness`.",
    ),
    key(
        "pool.initial_state",
        "fresh deposit",
        "table {Ra, Rb, Va, Vb}: token amounts",
        "reclamm",
        "Start from these real (Ra, Rb) and virtual (Va, Vb) balances instead of depositing `initial_pool_value`.",
    ),
    key(
        "market.fees",
        "0.003",
        "a fraction: 0.003 = 30 bp",
        ALL,
        "Swap fee.",
    ),
    key(
        "market.gas_cost",
        "0",
        "quote currency per trade",
        ALL,
        "Smallest profit for which an arbitrageur trades.",
    ),
    key(
        "market.arb_fees",
        "0",
        "a fraction: 0.0005 = 5 bp",
        ALL,
        "The arbitrageur's own cost to unwind on the external market.",
    ),
    key(
        "market.arb_frequency",
        "1",
        "minutes",
        ALL,
        "Minutes between arbitrage opportunities.",
    ),
    key(
        "market.do_arb",
        "true",
        "true or false",
        ALL,
        "Whether arbitrageurs trade at all (false: reserves stay as deposited).",
    ),
    key(
        "market.noise_trader_ratio",
        "0",
        "volume per unit of arbitrage volume, >= 0",
        ALL,
        "Noise-trader volume; its fees accrue to the pool.",
    ),
    key(
        "market.protocol_fee_split",
        "0",
        "a fraction in [0, 1]",
        "all but cow",
        "Share of swap fees paid to the protocol instead of the pool.",
    ),
    key(
        "market.arb_quality",
        "1",
        "in [0, 1]",
        "cow",
        "Share of the perfect batch-auction model in the blend with the single-arbitrageur model.",
    ),
    key(
        "market.arb_validity",
        r#""tolerant""#,
        r#""tolerant" or "exact""#,
        ALL,
        "How arbitrage trades are validated: tfmm's tolerant test, or quantammsim's exact comparison (to reproduce its numbers).",
    ),
    key(
        "market.rvr_spread",
        "required",
        "a fraction of price; a number or one per token",
        "`rvr__` rules",
        "Bid-ask spread; the rebalancing benchmark pays half of it on every trade.",
    ),
    key(
        "market.fees_series",
        "none",
        "CSV path (column `fees`) or inline table",
        ALL,
        "Swap fee over time, replacing `fees`.",
    ),
    key(
        "market.gas_cost_series",
        "none",
        "CSV path (column `trade_gas_cost_usd`) or inline table",
        ALL,
        "Gas cost over time, replacing `gas_cost`.",
    ),
    key(
        "market.arb_fees_series",
        "none",
        "CSV path (column `arb_fees`) or inline table",
        ALL,
        "Arbitrage fee over time, replacing `arb_fees`.",
    ),
    key(
        "market.trades",
        "none",
        "CSV path or inline trades",
        ALL,
        "User swaps applied at their minutes: time, token_in, token_out, amount_in.",
    ),
    key(
        "window.start",
        r#""2024-01-01 00:00:00""#,
        "UTC date or date and time",
        ALL,
        "First simulated minute.",
    ),
    key(
        "window.end",
        r#""2024-06-20 00:00:00""#,
        "UTC date or date and time",
        ALL,
        "End of the run (this minute is not simulated).",
    ),
    key(
        "window.burn_in_days",
        "365",
        "days",
        ALL,
        "History loaded before `start` to warm the estimators (less where the data starts later); also the longest memory (quantammsim's `max_memory_days`).",
    ),
    key(
        "data.dir",
        "the embedded data",
        "folder, relative to the config file",
        ALL,
        "Per-token price files. The embedded data: Binance 1-minute closes of BTC, ETH and SOL in USDT, 2022-11-01 to 2024-06-25.",
    ),
    key(
        "data.max_gap_minutes",
        "1440",
        "minutes",
        ALL,
        "Longest run of forward-filled minutes allowed in the data used; a longer gap is an error.",
    ),
    key(
        "output.dir",
        "out (or the command line's `--out`)",
        "folder, relative to the working directory",
        ALL,
        "Where `timeseries.csv`, `summary.json` and the charts go.",
    ),
    key(
        "output.plots",
        "true",
        "true or false",
        ALL,
        "Value, weights, reserves and drawdown charts (SVG and PNG).",
    ),
    key(
        "output.readouts",
        "false",
        "true or false",
        ALL,
        "Estimator state per chunk in `readouts.csv`.",
    ),
    key(
        "params",
        "none",
        "internal units",
        ALL,
        "The rule's parameters by internal name (`logit_lamb`, `log_k`, `initial_weights_logits`, ...), as in a quantammsim case, to reproduce a run exactly; they replace the parameter keys of `[pool]`.",
    ),
];

/// Tables of the format.
const SECTIONS: &[&str] = &["pool", "market", "window", "data", "output"];

/// `[pool]` keys that set the rule's or pool's parameters (replaced by a `[params]` table).
pub const PARAM_KEYS: &[&str] = &[
    "weights",
    "memory_days",
    "memory_days_delta",
    "k_per_day",
    "exponent",
    "pre_exp_scaling",
    "width",
    "amplitude",
    "min_weights",
    "max_weights",
    "members",
    "alpha",
    "beta",
    "lam",
    "phi",
    "price_ratio",
    "centeredness_margin",
    "daily_price_shift_base",
    "shift_exponent",
];

/// Keys an ensemble member may set.
const MEMBER_KEYS: &[&str] = &[
    "memory_days",
    "memory_days_delta",
    "k_per_day",
    "exponent",
    "pre_exp_scaling",
    "width",
    "amplitude",
];

/// quantammsim's names for keys of this format, to point users at the right one.
const QUANTAMMSIM_NAMES: &[(&str, &str)] = &[
    ("startDateString", "window.start"),
    ("endDateString", "window.end"),
    ("max_memory_days", "window.burn_in_days"),
    ("initial_memory_length", "pool.memory_days"),
    ("initial_memory_length_delta", "pool.memory_days_delta"),
    ("initial_k_per_day", "pool.k_per_day"),
    ("initial_weights_logits", "pool.weights"),
    ("initial_weights", "pool.weights"),
    ("initial_raw_exponents", "pool.exponent"),
    ("initial_raw_width", "pool.width"),
    ("initial_log_amplitude", "pool.amplitude"),
    ("initial_pre_exp_scaling", "pool.pre_exp_scaling"),
    ("weight_interpolation_method", "pool.interpolation"),
    ("reclamm_interpolation_method", "pool.thermostat"),
    ("reclamm_arc_length_speed", "pool.arc_length_speed"),
    ("reclamm_centeredness_scaling", "pool.centeredness_scaling"),
    ("reclamm_initial_state", "pool.initial_state"),
    ("initial_price_ratio", "pool.price_ratio"),
    ("initial_centeredness_margin", "pool.centeredness_margin"),
    (
        "initial_daily_price_shift_base",
        "pool.daily_price_shift_base",
    ),
    ("initial_shift_exponent", "pool.shift_exponent"),
    ("n_ensemble_members", "pool.members"),
    ("min_weights_per_asset", "pool.min_weights"),
    ("max_weights_per_asset", "pool.max_weights"),
    ("fees_df", "market.fees_series"),
    ("gas_cost_df", "market.gas_cost_series"),
    ("arb_fees_df", "market.arb_fees_series"),
    ("raw_trades", "market.trades"),
    (
        "run_fingerprint",
        "the sections pool, market, window, data, output",
    ),
];

fn doc(path: &str) -> &'static KeyDoc {
    KEYS.iter()
        .find(|k| k.path == path)
        .unwrap_or_else(|| panic!("config key `{path}` is read but not in KEYS"))
}

#[cfg(test)]
thread_local! {
    /// Documented keys the parser has read (to test that every documented key is used).
    static READ: RefCell<std::collections::BTreeSet<&'static str>> = RefCell::default();
}

/// A table being read: its keys are checked against [`KEYS`] and every key present must be
/// read, or it is reported as having no effect.
struct Table<'a> {
    /// Path shown in errors (`pool`, `pool.members[1]`).
    path: String,
    /// Section whose keys it holds (`pool`); empty at the top.
    section: &'static str,
    map: &'a Map<String, Value>,
    used: RefCell<Vec<&'a str>>,
    /// What the keys are read for, to say why an unread key has no effect.
    context: String,
}

impl<'a> Table<'a> {
    fn new(path: impl Into<String>, section: &'static str, map: &'a Map<String, Value>) -> Self {
        Self {
            path: path.into(),
            section,
            map,
            used: RefCell::default(),
            context: "here".to_string(),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn doc(&self, key: &str) -> &'static KeyDoc {
        if self.section.is_empty() {
            doc(key)
        } else {
            doc(&format!("{}.{key}", self.section))
        }
    }

    fn error(&self, key: &str, v: &Value, rule: impl Into<String>) -> RunError {
        RunError::config(self.field(key), show(v), rule)
    }

    /// A value of the wrong type: what it must be, and the key's unit.
    fn type_error(&self, key: &str, v: &Value, expected: &str) -> RunError {
        let unit = self.doc(key).unit;
        self.error(key, v, format!("must be {expected} ({unit})"))
    }

    fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// The value under `key` (JSON `null` counts as absent); the key counts as read.
    fn get(&self, key: &str) -> Option<&'a Value> {
        // Panics on a key missing from KEYS: the parser reads documented keys only.
        let _path = self.doc(key).path;
        #[cfg(test)]
        READ.with(|r| r.borrow_mut().insert(_path));
        let (k, v) = self.map.get_key_value(key)?;
        self.used.borrow_mut().push(k.as_str());
        Some(v).filter(|v| !v.is_null())
    }

    fn f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.type_error(key, v, "a number")),
        }
    }

    /// A number that must satisfy `ok`; `rule` says what it must be.
    fn checked(
        &self,
        key: &str,
        default: f64,
        ok: impl Fn(f64) -> bool,
        rule: &str,
    ) -> Result<f64> {
        match self.f64(key)? {
            None => Ok(default),
            Some(x) if x.is_finite() && ok(x) => Ok(x),
            Some(_) => {
                let v = self.get(key).unwrap_or(&Value::Null);
                let unit = self.doc(key).unit;
                Err(self.error(key, v, format!("must be {rule} ({unit})")))
            }
        }
    }

    /// A whole number >= `min`; `60.0` counts as 60.
    fn whole(&self, key: &str, default: usize, min: usize) -> Result<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if x >= min as f64 && x.fract() == 0.0 && x < 1e15 => Ok(x as usize),
                Some(_) => Err(self.type_error(key, v, &format!("a whole number >= {min}"))),
                None => Err(self.type_error(key, v, "a whole number")),
            },
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.type_error(key, v, "true or false")),
        }
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.type_error(key, v, "a string")),
        }
    }

    /// One of `choices`.
    fn choice(
        &self,
        key: &str,
        default: &'static str,
        choices: &[&'static str],
    ) -> Result<&'a str> {
        let Some(s) = self.str(key)? else {
            return Ok(default);
        };
        if choices.contains(&s) {
            return Ok(s);
        }
        let hint = did_you_mean(s, choices.iter().copied())
            .map(|c| format!(" (did you mean \"{c}\"?)"))
            .unwrap_or_default();
        let list: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
        Err(self.error(
            key,
            &Value::from(s),
            format!("must be {}{hint}", list.join(" or ")),
        ))
    }

    /// A number for every token, or one list entry per token (pool order), each finite and
    /// passing `ok`.
    fn per_token(
        &self,
        key: &str,
        tokens: &[String],
        ok: impl Fn(f64) -> bool,
        rule: &str,
    ) -> Result<Option<Vec<f64>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n = tokens.len();
        let unit = self.doc(key).unit;
        let values = match v {
            Value::Array(items) => items.iter().map(Value::as_f64).collect::<Option<Vec<_>>>(),
            other => other.as_f64().map(|x| vec![x]),
        }
        .ok_or_else(|| {
            self.error(
                key,
                v,
                format!("must be a number or a list of {n} numbers, one per token ({unit})"),
            )
        })?;
        if v.is_array() && values.len() != n {
            return Err(self.error(
                key,
                v,
                format!(
                    "has {} values: give one number, or one per token in pool order ({})",
                    values.len(),
                    tokens.join(", ")
                ),
            ));
        }
        if values.iter().any(|&x| !(x.is_finite() && ok(x))) {
            return Err(self.error(key, v, format!("must be {rule} ({unit})")));
        }
        Ok(Some(values))
    }

    /// Fractions, one per token, summing to 1.
    fn weights(&self, key: &str, tokens: &[String], sum_to_one: bool) -> Result<Option<Vec<f64>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n = tokens.len();
        let values = v
            .as_array()
            .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<_>>>())
            .filter(|w| w.len() == n)
            .ok_or_else(|| {
                self.error(
                    key,
                    v,
                    format!(
                        "must be a list of {n} fractions, one per token in pool order ({})",
                        tokens.join(", ")
                    ),
                )
            })?;
        if sum_to_one {
            let total: f64 = values.iter().sum();
            if values.iter().any(|w| !(*w > 0.0 && *w < 1.0)) || (total - 1.0).abs() > 1e-9 {
                return Err(self.error(key, v, "weights must be positive and sum to 1"));
            }
        } else if values
            .iter()
            .any(|w| !(w.is_finite() && (0.0..=1.0).contains(w)))
        {
            return Err(self.error(key, v, "bounds must be fractions in [0, 1]"));
        }
        Ok(Some(values))
    }

    /// Every key is known: a typo is an error with the closest key, before anything else.
    fn check_known(&self, known: &[&'a str]) -> Result<()> {
        for (key, value) in self.map {
            if known.contains(&key.as_str()) {
                continue;
            }
            return Err(self.error(
                key,
                value,
                format!("is not a known key{}", hint(self, key, known)),
            ));
        }
        Ok(())
    }

    /// Keys given but not read have no effect on this run: an error.
    fn finish(&self) -> Result<()> {
        let used = self.used.borrow();
        for (key, value) in self.map {
            if value.is_null() || used.contains(&key.as_str()) {
                continue;
            }
            let applies = if self.section.is_empty() {
                ALL
            } else {
                self.doc(key).applies
            };
            return Err(self.error(
                key,
                value,
                format!(
                    "has no effect {} (it applies to: {applies}); remove it",
                    self.context
                ),
            ));
        }
        Ok(())
    }
}

/// `(did you mean ...?)` for an unknown key: a close key of the same table, the same key in
/// another section, or the name of a quantammsim key here.
fn hint(table: &Table<'_>, key: &str, known: &[&str]) -> String {
    if let Some((q, ours)) = QUANTAMMSIM_NAMES.iter().find(|(q, _)| *q == key) {
        return format!(" (quantammsim's `{q}` is {ours} here)");
    }
    if let Some(close) = did_you_mean(key, known.iter().copied()) {
        return format!(" (did you mean `{close}`?)");
    }
    let elsewhere = KEYS
        .iter()
        .find(|k| k.path.rsplit('.').next() == Some(key) && k.path.contains('.'));
    if let Some(k) = elsewhere {
        return format!(" (did you mean `{}`?)", k.path);
    }
    let all = KEYS.iter().map(|k| k.path);
    if let Some(close) = did_you_mean(key, all.filter(|p| !p.starts_with(table.section))) {
        return format!(" (did you mean `{close}`?)");
    }
    String::new()
}

/// Keys of `section` in [`KEYS`].
fn section_keys(section: &str) -> Vec<&'static str> {
    KEYS.iter()
        .filter_map(|k| k.path.strip_prefix(section)?.strip_prefix('.'))
        .collect()
}

/// TOML text as JSON: dates and times become strings; `origin` names the text in errors.
pub fn toml_to_json(text: &str, origin: &str) -> Result<Value> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_column(text, s.start));
        RunError::config(
            origin,
            format!("line {line} column {column}"),
            format!("is not valid TOML ({})", e.message().trim()),
        )
    })?;
    convert(toml::Value::Table(table), "")
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn convert(v: toml::Value, path: &str) -> Result<Value> {
    let child = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    Ok(match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| RunError::config(path, f, "must be a finite number"))?,
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, x)| convert(x, &format!("{path}[{i}]")))
                .collect::<Result<_>>()?,
        ),
        toml::Value::Table(t) => Value::Object(
            t.into_iter()
                .map(|(k, x)| {
                    let value = convert(x, &child(&k))?;
                    Ok((k, value))
                })
                .collect::<Result<_>>()?,
        ),
    })
}

/// A native config from TOML text; relative paths are taken from `base_dir`.
pub fn from_toml(text: &str, base_dir: &Path) -> Result<RunConfig> {
    match toml_to_json(text, "config")? {
        Value::Object(map) => from_native(&map, base_dir),
        _ => unreachable!("a TOML document is a table"),
    }
}

/// The documented default run (`configs/default.toml`): momentum over BTC, ETH and SOL on
/// the embedded data, 30 bp, 2024-01-01 to 2024-06-20.
pub fn default_config() -> RunConfig {
    from_toml(DEFAULT_TOML, Path::new(".")).expect("configs/default.toml is a valid config")
}

/// The key table of `docs/config.md`, generated from [`KEYS`].
pub fn keys_markdown() -> String {
    let mut out =
        String::from("| Key | Default | Unit | Applies to | Meaning |\n|---|---|---|---|---|\n");
    for k in KEYS {
        let default = if is_literal(k.default) {
            format!("`{}`", k.default)
        } else {
            k.default.to_string()
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            k.path,
            default,
            k.unit.replace('|', "\\|"),
            k.applies,
            k.meaning.replace('|', "\\|"),
        ));
    }
    out
}

/// Whether a documented default is a TOML value (else words).
pub fn is_literal(default: &str) -> bool {
    toml::from_str::<toml::Table>(&format!("x = {default}")).is_ok()
}

const POOL_TYPES: &[&str] = &["balancer", "hodl", "cow", "gyroscope", "reclamm"];
const HOOKS: &[&str] = &["lvr", "rvr", "bounded", "ensemble"];
const K_RULES: &[&str] = &[
    "momentum",
    "anti_momentum",
    "power_channel",
    "mean_reversion_channel",
    "triple_threat_mean_reversion_channel",
    "difference_momentum",
];
const ALT_LAMB_RULES: &[&str] = &[
    "momentum",
    "anti_momentum",
    "power_channel",
    "mean_reversion_channel",
];
const EXPONENT_RULES: &[&str] = &[
    "power_channel",
    "mean_reversion_channel",
    "triple_threat_mean_reversion_channel",
];
const CHANNEL_RULES: &[&str] = &[
    "mean_reversion_channel",
    "triple_threat_mean_reversion_channel",
];
const INDEX_RULES: &[&str] = &["index_market_cap", "hodling_index_market_cap"];

/// A rule name split into its hooks and base, checked.
struct Rule<'a> {
    hooks: Vec<&'a str>,
    base: &'a str,
    kind: PoolKind,
}

fn parse_rule<'a>(pool: &Table<'_>, rule: &'a str) -> Result<Rule<'a>> {
    let value = Value::from(rule);
    let mut parts: Vec<&str> = rule.split("__").collect();
    let base = parts.pop().unwrap_or_default();
    let kind = match base {
        "balancer" => PoolKind::Balancer,
        "hodl" => PoolKind::Hodl,
        "cow" => PoolKind::Cow,
        "gyroscope" => PoolKind::Gyroscope,
        "reclamm" => PoolKind::Reclamm,
        b if WEIGHT_RULES.contains(&b) => PoolKind::Tfmm,
        "trad_hodling_index_market_cap" => {
            return Err(pool.error(
                "rule",
                &value,
                "pool type not simulated: it needs CEX volume and spread data",
            ));
        }
        other => {
            let names = WEIGHT_RULES.iter().chain(POOL_TYPES).copied();
            let hint = did_you_mean(other, names.clone())
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            let known: Vec<&str> = names.collect();
            return Err(pool.error(
                "rule",
                &value,
                format!("unknown rule{hint} (known: {})", known.join(", ")),
            ));
        }
    };
    for (i, hook) in parts.iter().enumerate() {
        let problem = match *hook {
            "lvr" | "rvr" if i > 0 => Some(format!("`{hook}__` must come first")),
            "bounded" | "ensemble" if kind != PoolKind::Tfmm => {
                Some(format!("`{hook}__` applies to TFMM rules only"))
            }
            h if parts[..i].contains(&h) => Some(format!("`{hook}__` is given twice")),
            h if HOOKS.contains(&h) => None,
            other => Some(format!(
                "unknown prefix `{other}__`{} (known: lvr__, rvr__, bounded__, ensemble__)",
                did_you_mean(other, HOOKS.iter().copied())
                    .map(|s| format!(" (did you mean `{s}__`?)"))
                    .unwrap_or_default()
            )),
        };
        if let Some(problem) = problem {
            return Err(pool.error("rule", &value, problem));
        }
    }
    Ok(Rule {
        hooks: parts,
        base,
        kind,
    })
}

fn tokens(pool: &Table<'_>) -> Result<Vec<String>> {
    let Some(v) = pool.get("tokens") else {
        return Ok(["BTC", "ETH", "SOL"].map(String::from).to_vec());
    };
    let tokens: Vec<String> = v
        .as_array()
        .and_then(|a| a.iter().map(|t| t.as_str().map(str::to_string)).collect())
        .ok_or_else(|| pool.type_error("tokens", v, "a list of strings"))?;
    if let Some(t) = tokens
        .iter()
        .find(|t| t.is_empty() || t.contains(['/', '\\', '.']))
    {
        return Err(pool.error("tokens", v, format!("{t:?} is not a ticker")));
    }
    let mut sorted = tokens.clone();
    sorted.sort();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(pool.error("tokens", v, format!("lists {} twice", w[0])));
    }
    if tokens.len() < 2 {
        return Err(pool.error("tokens", v, "a pool needs at least 2 tokens"));
    }
    if sorted != tokens {
        return Err(pool.error(
            "tokens",
            v,
            format!(
                "list them in pool order, alphabetical ({}): every per-token list follows it",
                sorted.join(", ")
            ),
        ));
    }
    Ok(tokens)
}

/// User-facing values of a TFMM rule's parameters (each one value or one per token).
#[derive(Clone)]
struct RuleValues {
    memory_days: Vec<f64>,
    memory_days_delta: Vec<f64>,
    k_per_day: Vec<f64>,
    exponent: Vec<f64>,
    pre_exp_scaling: Vec<f64>,
    width: Vec<f64>,
    /// Absolute; `None`: one per memory day.
    amplitude: Option<Vec<f64>>,
}

impl Default for RuleValues {
    fn default() -> Self {
        Self {
            memory_days: vec![10.0],
            memory_days_delta: vec![0.0],
            k_per_day: vec![1.0],
            exponent: vec![1.0],
            pre_exp_scaling: vec![0.5],
            width: vec![1.0],
            amplitude: None,
        }
    }
}

/// Reads a rule's parameter keys from `t` (the pool or an ensemble member), over `base`.
fn rule_values(
    t: &Table<'_>,
    base: &str,
    use_alt_lamb: bool,
    tokens: &[String],
    defaults: &RuleValues,
) -> Result<RuleValues> {
    let mut v = defaults.clone();
    let positive = |x: f64| x > 0.0;
    if let Some(m) = t.per_token("memory_days", tokens, positive, "a positive number of days")? {
        v.memory_days = m;
    }
    let has_delta = ["difference_momentum", "min_variance"].contains(&base)
        || (use_alt_lamb && ALT_LAMB_RULES.contains(&base));
    if has_delta
        && let Some(d) = t.per_token("memory_days_delta", tokens, |_| true, "a number of days")?
    {
        v.memory_days_delta = d;
    }
    if has_delta {
        let n = tokens.len();
        let at = |x: &[f64], i: usize| if x.len() == 1 { x[0] } else { x[i] };
        if (0..n).any(|i| at(&v.memory_days, i) + at(&v.memory_days_delta, i) <= 0.0) {
            let shown = t.get("memory_days_delta").cloned().unwrap_or(Value::Null);
            return Err(t.error(
                "memory_days_delta",
                &shown,
                "memory_days + memory_days_delta must be > 0",
            ));
        }
    }
    if K_RULES.contains(&base)
        && let Some(k) = t.per_token(
            "k_per_day",
            tokens,
            positive,
            "> 0 (anti_momentum moves the other way)",
        )?
    {
        v.k_per_day = k;
    }
    if EXPONENT_RULES.contains(&base) {
        if let Some(e) = t.per_token("exponent", tokens, positive, "> 0")? {
            v.exponent = e;
        }
        if let Some(s) = t.per_token("pre_exp_scaling", tokens, positive, "> 0")? {
            v.pre_exp_scaling = s;
        }
    }
    if CHANNEL_RULES.contains(&base) {
        if let Some(w) = t.per_token("width", tokens, positive, "> 0")? {
            v.width = w;
        }
        if let Some(a) = t.per_token("amplitude", tokens, positive, "> 0")? {
            v.amplitude = Some(a);
        }
    }
    Ok(v)
}

/// The rule's internal parameters, initialised from user-facing values as quantammsim
/// initialises them from its `initial_*` seeds.
fn seeded_params(
    field: &str,
    base: &str,
    v: &RuleValues,
    weights_logits: &[f64],
    n: usize,
    chunk_period: usize,
) -> Result<Params<f64>> {
    let each = |x: &[f64]| -> Vec<f64> {
        match x.len() {
            1 => vec![x[0]; n],
            _ => x.to_vec(),
        }
    };
    let log_amplitude = match &v.amplitude {
        // Stored per memory day, in log2.
        Some(a) => each(a)
            .iter()
            .zip(each(&v.memory_days))
            .map(|(a, m)| (a / m).log2())
            .collect(),
        None => vec![0.0],
    };
    let seeds = Seeds {
        memory_days: v.memory_days.clone(),
        memory_days_delta: v.memory_days_delta.clone(),
        k_per_day: v.k_per_day.clone(),
        weights_logits: weights_logits.to_vec(),
        log_amplitude,
        raw_width: v.width.iter().map(|w| w.log2()).collect(),
        raw_exponents: v.exponent.iter().map(|&e| inverse_squareplus(e)).collect(),
        pre_exp_scaling: v.pre_exp_scaling.clone(),
    };
    internal_params(base, &seeds, n, chunk_period).map_err(|e| match e {
        tfmm_core::Error::Invalid {
            field: f,
            value,
            rule,
        } => {
            let key = match f.as_str() {
                "weights_logits" => "weights",
                "log_amplitude" => "amplitude",
                "raw_width" => "width",
                "raw_exponents" => "exponent",
                other => other,
            };
            RunError::config(format!("{field}.{key}"), value, rule)
        }
        other => RunError::Core(other),
    })
}

/// Parameters of an `ensemble__` rule: each member's parameters stacked along a leading axis;
/// the initial weights are shared.
fn ensemble_params(
    pool: &Table<'_>,
    base: &str,
    use_alt_lamb: bool,
    tokens: &[String],
    pool_values: &RuleValues,
    weights_logits: &[f64],
    chunk_period: usize,
) -> Result<(Params<f64>, usize)> {
    let Some(v) = pool.get("members") else {
        return Err(pool.error(
            "members",
            &Value::Null,
            "an ensemble__ rule needs its members: a list of parameter tables",
        ));
    };
    let members = v
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| pool.type_error("members", v, "a non-empty list of tables"))?;
    let mut sets = Vec::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        let path = format!("{}[{i}]", pool.field("members"));
        let Value::Object(map) = m else {
            return Err(RunError::config(
                path,
                show(m),
                "must be a table of parameters",
            ));
        };
        let mut member = Table::new(path.clone(), "pool", map);
        member.context = format!("for rule \"{base}\"");
        member.check_known(MEMBER_KEYS)?;
        let values = rule_values(&member, base, use_alt_lamb, tokens, pool_values)?;
        member.finish()?;
        sets.push(seeded_params(
            &path,
            base,
            &values,
            weights_logits,
            tokens.len(),
            chunk_period,
        )?);
    }
    let mut params = Params::new();
    for (name, first) in sets[0].iter() {
        if name == "initial_weights_logits" {
            params.insert(name, first.clone());
            continue;
        }
        let mut shape = vec![sets.len()];
        shape.extend(&first.shape);
        let data = sets
            .iter()
            .flat_map(|s| s.get(name).map_or(&[][..], |a| &a.data[..]))
            .copied()
            .collect();
        params.insert(name, ParamArray { shape, data });
    }
    Ok((params, sets.len()))
}

fn logits(weights: &[f64]) -> Vec<f64> {
    Seeds::weights_to_logits(weights)
}

/// A time: UTC text (`2024-01-01`, `2024-01-01 12:00:00`) or unix milliseconds.
fn time_ms(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_utc(s).ok(),
        Value::Number(x) => x
            .as_i64()
            .or_else(|| x.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        _ => None,
    }
}

/// The times of an inline table: `time` (UTC text) or `unix` (milliseconds), on whole
/// minutes.
fn times(field: &str, table: &Map<String, Value>) -> Result<Option<Vec<i64>>> {
    let bad = |v: &Value, rule: &str| RunError::config(field, show(v), rule);
    let Some(column) = table.get("time").or_else(|| table.get("unix")) else {
        return Ok(None);
    };
    if table.contains_key("time") && table.contains_key("unix") {
        return Err(bad(column, "give `time` or `unix`, not both"));
    }
    let list = column
        .as_array()
        .ok_or_else(|| bad(column, "times must be a list"))?;
    let mut out = Vec::with_capacity(list.len());
    for t in list {
        match time_ms(t) {
            Some(ms) if ms % MS_PER_MINUTE == 0 => out.push(ms),
            _ => {
                return Err(bad(
                    t,
                    "is not a time on a whole minute (UTC \"YYYY-MM-DD HH:MM:SS\" in `time`, or unix milliseconds in `unix`)",
                ));
            }
        }
    }
    Ok(Some(out))
}

/// A fee-like series: a CSV path (relative to the config file), or an inline table of
/// `time` (or `unix`) and `column` lists; without times, one value per simulated minute.
fn series(
    market: &Table<'_>,
    key: &str,
    column: &str,
    csv_column: &str,
    base_dir: &Path,
) -> Result<Option<SeriesSpec>> {
    let field = market.field(key);
    match market.get(key) {
        None => Ok(None),
        Some(Value::String(path)) => Ok(Some(SeriesSpec::File {
            path: in_dir(base_dir, path),
            column: csv_column.to_string(),
        })),
        Some(v @ Value::Object(map)) => {
            let bad = |rule: String| RunError::config(&field, show(v), rule);
            if let Some(k) = map
                .keys()
                .find(|k| !["time", "unix", column].contains(&k.as_str()))
            {
                return Err(bad(format!(
                    "`{k}` is not a column here (give `time` or `unix`, and `{column}`)"
                )));
            }
            let values = map
                .get(column)
                .and_then(Value::as_array)
                .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
                .ok_or_else(|| bad(format!("needs `{column}`: a list of numbers")))?;
            match times(&field, map)? {
                None => Ok(Some(SeriesSpec::PerMinute(values))),
                Some(unix_ms) => {
                    if unix_ms.len() != values.len() || unix_ms.windows(2).any(|w| w[1] <= w[0]) {
                        return Err(bad(format!(
                            "times must increase and match `{column}` one to one"
                        )));
                    }
                    Ok(Some(SeriesSpec::Points { unix_ms, values }))
                }
            }
        }
        Some(v) => Err(market.type_error(key, v, "a CSV path or a table")),
    }
}

/// User trades: a CSV path, a table of columns (`time`/`unix`, `token_in`, `token_out`,
/// `amount_in`) or a list of trades (`[[market.trades]]`).
fn trades(market: &Table<'_>, base_dir: &Path) -> Result<Option<TradesSpec>> {
    let field = market.field("trades");
    let needs = "needs `time` (or `unix`), `token_in`, `token_out` and `amount_in`";
    let row = |at: String, t: Option<i64>, a: Option<&str>, b: Option<&str>, x: Option<f64>| match (
        t, a, b, x,
    ) {
        (Some(t), Some(a), Some(b), Some(x)) if t % MS_PER_MINUTE == 0 => Ok(TradeRow {
            unix_ms: t,
            token_in: a.into(),
            token_out: b.into(),
            amount_in: x,
            origin: at,
        }),
        _ => Err(at),
    };
    match market.get("trades") {
        None => Ok(None),
        Some(Value::String(path)) => Ok(Some(TradesSpec::File(in_dir(base_dir, path)))),
        Some(Value::Array(items)) => {
            let mut rows = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = format!("{field}[{i}]");
                let get = |k: &str| item.get(k);
                if let Some(k) = item.as_object().and_then(|m| {
                    m.keys().find(|k| {
                        !["time", "unix", "token_in", "token_out", "amount_in"]
                            .contains(&k.as_str())
                    })
                }) {
                    return Err(RunError::config(
                        &at,
                        show(item),
                        format!("`{k}` is not a trade key ({needs})"),
                    ));
                }
                let t = get("time").or_else(|| get("unix")).and_then(time_ms);
                rows.push(
                    row(
                        at,
                        t,
                        get("token_in").and_then(Value::as_str),
                        get("token_out").and_then(Value::as_str),
                        get("amount_in").and_then(Value::as_f64),
                    )
                    .map_err(|at| {
                        RunError::config(
                            at,
                            show(item),
                            format!("{needs}; the time on a whole minute"),
                        )
                    })?,
                );
            }
            Ok(Some(TradesSpec::Rows(rows)))
        }
        Some(v @ Value::Object(map)) => {
            let bad = |rule: String| RunError::config(&field, show(v), rule);
            let column = |name: &str| {
                map.get(name)
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad(needs.to_string()))
            };
            let unix = times(&field, map)?.ok_or_else(|| bad(needs.to_string()))?;
            let (token_in, token_out, amount) = (
                column("token_in")?,
                column("token_out")?,
                column("amount_in")?,
            );
            if [token_in.len(), token_out.len(), amount.len()]
                .iter()
                .any(|&l| l != unix.len())
            {
                return Err(bad("the columns must have equal lengths".into()));
            }
            let mut rows = Vec::with_capacity(unix.len());
            for i in 0..unix.len() {
                rows.push(
                    row(
                        format!("{field} row {i}"),
                        Some(unix[i]),
                        token_in[i].as_str(),
                        token_out[i].as_str(),
                        amount[i].as_f64(),
                    )
                    .map_err(|at| bad(format!("{at}: needs two token symbols and an amount")))?,
                );
            }
            Ok(Some(TradesSpec::Rows(rows)))
        }
        Some(v) => Err(market.type_error("trades", v, "a CSV path, a table or a list of trades")),
    }
}

/// A window bound as `YYYY-MM-DD HH:MM:SS`.
fn window_time(window: &Table<'_>, key: &str, default: &str) -> Result<(String, i64)> {
    let text = window.str(key)?.unwrap_or(default);
    let ms = parse_utc(text).map_err(|e| {
        let rule = match e {
            DataError::Date { rule, .. } => rule,
            other => other.to_string(),
        };
        window.error(key, &Value::from(text), rule)
    })?;
    Ok((format_utc(ms), ms))
}

/// Where a core error's field lives in this format.
fn native_field(field: &str, from_params: bool) -> String {
    let key = field.strip_prefix("params.").unwrap_or(field);
    let mapped = match key {
        "max_memory_days" => "window.burn_in_days",
        "n_ensemble_members" => "pool.members",
        "min/max_weights_per_asset" => "pool.min_weights / pool.max_weights",
        "initial_weights" | "initial_weights_logits" | "weights" => "pool.weights",
        "reclamm_arc_length_speed" => "pool.arc_length_speed",
        "reclamm_initial_state" => "pool.initial_state",
        "reclamm_interpolation_method" => "pool.thermostat",
        "noise_trader_ratio" | "protocol_fee_split" | "arb_quality" => {
            return format!("market.{key}");
        }
        _ => "",
    };
    if from_params && field.starts_with("params.") {
        return field.to_string();
    }
    if !mapped.is_empty() {
        return mapped.to_string();
    }
    if KEYS.iter().any(|k| k.path == format!("pool.{key}")) {
        return format!("pool.{key}");
    }
    field.to_string()
}

fn core_error(e: tfmm_core::Error, from_params: bool) -> RunError {
    match e {
        tfmm_core::Error::Invalid { field, value, rule } => {
            RunError::config(native_field(&field, from_params), value, rule)
        }
        other => RunError::Core(other),
    }
}

/// Builds the weight path and pool once, so that a config that cannot run fails here, with
/// its keys' names, rather than when run.
fn check_builds(config: &RunConfig, from_params: bool) -> Result<()> {
    let n = config.n_assets();
    let p = &config.pool;
    let rule = config.pool_rule();
    let params = &config.params;
    let built = match config.pool_kind() {
        PoolKind::Tfmm => {
            WeightEngine::<f64>::build(rule, params, n, &config.weights, 0).map(|_| ())
        }
        PoolKind::Balancer | PoolKind::Hodl => {
            ConstantWeights::<f64>::from_params(rule, params, n, 0).map(|_| ())
        }
        PoolKind::Cow => CowPool::<f64>::from_params(params, n, p.cow()).map(|_| ()),
        PoolKind::Reclamm => ReclammPool::<f64>::from_params(params, n, p.reclamm()).map(|_| ()),
        PoolKind::Gyroscope => {
            GyroscopeSettings::numeraire_index(&config.tokens, p.numeraire.as_deref()).and_then(
                |numeraire| {
                    let settings = GyroscopeSettings {
                        noise_trader_ratio: p.noise_trader_ratio,
                        protocol_fee_split: p.protocol_fee_split,
                        numeraire,
                        ..GyroscopeSettings::new(p.initial_pool_value)
                    };
                    GyroscopePool::<f64>::new(params, n, settings).map(|_| ())
                },
            )
        }
    };
    built.map_err(|e| core_error(e, from_params))
}

/// A native config from its parsed form (TOML converted, or JSON); relative paths are
/// taken from `base_dir`.
pub fn from_native(map: &Map<String, Value>, base_dir: &Path) -> Result<RunConfig> {
    let top = Table::new("", "", map);
    let mut top_keys: Vec<&str> = SECTIONS.to_vec();
    top_keys.extend(["name", "params"]);
    top.check_known(&top_keys)?;
    let empty = Map::new();
    let mut sections = Vec::with_capacity(SECTIONS.len());
    for name in SECTIONS {
        let table = match map.get(*name) {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(v) => {
                return Err(RunError::config(
                    *name,
                    show(v),
                    format!("must be a table ([{name}])"),
                ));
            }
        };
        let t = Table::new(*name, name, table);
        t.check_known(&section_keys(name))?;
        sections.push(t);
        top.used.borrow_mut().push(name);
    }
    let [mut pool, mut market, window, data, output] =
        <[Table<'_>; 5]>::try_from(sections).unwrap_or_else(|_| unreachable!("five sections"));

    let name = match top.get("name") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(top.type_error("name", v, "a string")),
    };
    let tokens = tokens(&pool)?;
    let n = tokens.len();
    let rule_name = pool.str("rule")?.unwrap_or("momentum").to_string();
    let rule = parse_rule(&pool, &rule_name)?;
    let base = rule.base;
    let kind = rule.kind;
    pool.context = format!("for rule \"{rule_name}\"");
    market.context = pool.context.clone();
    let tfmm = kind == PoolKind::Tfmm;

    // Window.
    let (start, start_ms) = window_time(&window, "start", "2024-01-01 00:00:00")?;
    let (end, end_ms) = window_time(&window, "end", "2024-06-20 00:00:00")?;
    if start_ms >= end_ms {
        return Err(window.error(
            "start",
            &Value::from(start.as_str()),
            format!("must be before window.end ({end})"),
        ));
    }
    let burn_in_days = window.checked("burn_in_days", 365.0, |x| x > 0.0, "a positive number")?;

    // Weight settings.
    let chunk_period = if tfmm {
        pool.whole("chunk_period", 60, 1)?
    } else {
        60
    };
    let mut weights = WeightSettings {
        rule: RuleSettings {
            chunk_period,
            max_memory_days: burn_in_days,
            ..RuleSettings::default()
        },
        weight_interpolation_period: chunk_period,
        ..WeightSettings::default()
    };
    if tfmm {
        weights.weight_interpolation_period =
            pool.whole("weight_interpolation_period", chunk_period, 1)?;
        let method = pool.choice("interpolation", "linear", &["linear", "approx_optimal"])?;
        weights.interpolation = method
            .parse::<Interpolation>()
            .map_err(|_| pool.error("interpolation", &Value::from(method), "is not known"))?;
        weights.maximum_change = pool.checked("maximum_change", 3e-4, |x| x >= 0.0, ">= 0")?;
        weights.minimum_weight = pool.f64("minimum_weight")?;
        if ALT_LAMB_RULES.contains(&base) {
            weights.rule.use_alt_lamb = pool.bool("use_alt_lamb", false)?;
        }
        if INDEX_RULES.contains(&base) {
            weights.rule.cap_weights = pool.f64("cap_weights")?;
        }
    }

    // Parameters.
    let given_params = top.get("params");
    if given_params.is_some()
        && let Some(key) = PARAM_KEYS.iter().find(|k| pool.has(k))
    {
        return Err(pool.error(
            key,
            &pool.map[*key],
            "[params] gives the parameters by internal name: give them there or in [pool], not both",
        ));
    }
    let params = match given_params {
        Some(Value::Object(p)) => internalize(&rule_name, &params_from_json(p)?, n, chunk_period)
            .map_err(RunError::Core)?,
        Some(v) => return Err(top.type_error("params", v, "a table of named arrays")),
        None => pool_params(
            &pool,
            &rule,
            weights.rule.use_alt_lamb,
            &tokens,
            chunk_period,
            &mut weights.n_ensemble_members,
        )?,
    };
    if given_params.is_some() && rule.hooks.contains(&"ensemble") {
        weights.n_ensemble_members = members_in(&params);
    }
    if tfmm {
        weights.validate(n).map_err(|e| core_error(e, false))?;
    }

    // Pool and market settings.
    let defaults = PoolSettings::default();
    let fraction = |x: f64| (0.0..1.0).contains(&x);
    let mut settings = PoolSettings {
        initial_pool_value: pool.checked(
            "initial_pool_value",
            defaults.initial_pool_value,
            |x| x > 0.0,
            "a positive amount",
        )?,
        fees: market.checked("fees", 0.003, fraction, "a fraction in [0, 1)")?,
        gas_cost: market.checked("gas_cost", 0.0, |x| x >= 0.0, "an amount >= 0")?,
        arb_fees: market.checked("arb_fees", 0.0, fraction, "a fraction in [0, 1)")?,
        arb_frequency: market.whole("arb_frequency", 1, 1)?,
        do_arb: market.bool("do_arb", true)?,
        noise_trader_ratio: market.checked("noise_trader_ratio", 0.0, |x| x >= 0.0, ">= 0")?,
        arb_validity: match market.choice("arb_validity", "tolerant", &["tolerant", "exact"])? {
            "exact" => Validity::ReferenceExact,
            _ => Validity::Tolerant,
        },
        ..defaults
    };
    if kind != PoolKind::Cow {
        settings.protocol_fee_split = market.checked(
            "protocol_fee_split",
            0.0,
            |x| (0.0..=1.0).contains(&x),
            "a fraction in [0, 1]",
        )?;
    } else {
        settings.arb_quality = market.checked(
            "arb_quality",
            1.0,
            |x| (0.0..=1.0).contains(&x),
            "in [0, 1]",
        )?;
    }
    if rule.hooks.first() == Some(&"rvr") {
        settings.rvr_spread = Some(
            market
                .per_token("rvr_spread", &tokens, fraction, "fractions in [0, 1)")?
                .ok_or_else(|| {
                    market.error(
                        "rvr_spread",
                        &Value::Null,
                        "an rvr__ benchmark needs the bid-ask spread (a fraction of price)",
                    )
                })?,
        );
    }
    if kind == PoolKind::Gyroscope {
        settings.numeraire = pool.str("numeraire")?.map(str::to_string);
        if let Some(t) = &settings.numeraire
            && !tokens.contains(t)
        {
            return Err(pool.error(
                "numeraire",
                &Value::from(t.as_str()),
                format!("must be one of the pool's tokens ({})", tokens.join(", ")),
            ));
        }
    }
    if kind == PoolKind::Reclamm {
        settings.reclamm = reclamm_config(&pool)?;
    }
    let market_series = MarketSeries {
        fees: series(&market, "fees_series", "fees", "fees", base_dir)?,
        gas_cost: series(
            &market,
            "gas_cost_series",
            "gas_cost",
            "trade_gas_cost_usd",
            base_dir,
        )?,
        arb_fees: series(&market, "arb_fees_series", "arb_fees", "arb_fees", base_dir)?,
        trades: trades(&market, base_dir)?,
    };
    for (constant, series) in [
        ("fees", "fees_series"),
        ("gas_cost", "gas_cost_series"),
        ("arb_fees", "arb_fees_series"),
    ] {
        if market.has(constant) && market.has(series) {
            return Err(market.error(
                constant,
                &market.map[constant],
                format!("market.{series} replaces it: give one of the two"),
            ));
        }
    }

    let data_settings = DataSettings {
        dir: data.str("dir")?.map(|d| in_dir(base_dir, d)),
        max_gap_minutes: data.whole("max_gap_minutes", 1440, 0)?,
    };
    let output_settings = OutputSettings {
        dir: output.str("dir")?.map(PathBuf::from),
        plots: output.bool("plots", true)?,
        readouts: output.bool("readouts", false)?,
    };

    for t in [&top, &pool, &market, &window, &data, &output] {
        t.finish()?;
    }
    let config = RunConfig {
        name,
        tokens,
        rule: rule_name,
        params,
        start,
        end,
        weights,
        pool: settings,
        market: market_series,
        data: data_settings,
        output: output_settings,
    };
    check_builds(&config, given_params.is_some())?;
    Ok(config)
}

/// Parameters shared by the members of an ensemble rather than stacked per member.
const SHARED_PARAMS: &[&str] = &[
    "initial_weights_logits",
    "initial_weights",
    "min_weights_per_asset",
    "max_weights_per_asset",
    "raw_min_budget",
    "raw_min_logits",
    "raw_gap_logits",
];

/// Members of an ensemble given by internal parameters: the leading axis the per-member
/// parameters share (1 when they have none).
fn members_in(params: &Params<f64>) -> usize {
    let stacked: Vec<usize> = params
        .iter()
        .filter(|(name, _)| !SHARED_PARAMS.contains(name))
        .map(|(_, a)| if a.shape.len() >= 2 { a.shape[0] } else { 0 })
        .collect();
    match stacked.first() {
        Some(&m) if m > 0 && stacked.iter().all(|&s| s == m) => m,
        _ => 1,
    }
}

/// The rule's or pool's parameters from the `[pool]` keys.
fn pool_params(
    pool: &Table<'_>,
    rule: &Rule<'_>,
    use_alt_lamb: bool,
    tokens: &[String],
    chunk_period: usize,
    n_members: &mut usize,
) -> Result<Params<f64>> {
    let n = tokens.len();
    let base = rule.base;
    let weights = if rule.kind == PoolKind::Reclamm {
        None
    } else {
        pool.weights("weights", tokens, true)?
    };
    let weight_logits = |default: Vec<f64>| weights.as_deref().map_or(default, logits);
    match rule.kind {
        PoolKind::Tfmm => {
            let logits = weight_logits(Seeds::default().weights_logits);
            let values = rule_values(pool, base, use_alt_lamb, tokens, &RuleValues::default())?;
            let mut params = if rule.hooks.contains(&"ensemble") {
                let (params, members) = ensemble_params(
                    pool,
                    base,
                    use_alt_lamb,
                    tokens,
                    &values,
                    &logits,
                    chunk_period,
                )?;
                *n_members = members;
                params
            } else {
                seeded_params("pool", base, &values, &logits, n, chunk_period)?
            };
            if rule.hooks.contains(&"bounded") {
                for (key, name) in [
                    ("min_weights", "min_weights_per_asset"),
                    ("max_weights", "max_weights_per_asset"),
                ] {
                    let bounds = pool.weights(key, tokens, false)?.ok_or_else(|| {
                        pool.error(
                            key,
                            &Value::Null,
                            "a bounded__ rule needs min_weights and max_weights (one per token)",
                        )
                    })?;
                    params.insert(name, ParamArray::vector(bounds));
                }
            }
            Ok(params)
        }
        PoolKind::Balancer | PoolKind::Hodl | PoolKind::Cow => Ok(Params::new().with(
            "initial_weights_logits",
            ParamArray::vector(weight_logits(vec![0.0; n])),
        )),
        PoolKind::Gyroscope => {
            let required = |key: &str| -> Result<f64> {
                pool.f64(key)?.ok_or_else(|| {
                    pool.error(
                        key,
                        &Value::Null,
                        "a gyroscope pool needs alpha and beta: its price range, in the numeraire",
                    )
                })
            };
            let mut params = Params::new()
                .with("alpha", ParamArray::scalar(required("alpha")?))
                .with("beta", ParamArray::scalar(required("beta")?));
            let (lam, phi) = (pool.f64("lam")?, pool.f64("phi")?);
            match (lam, phi, &weights) {
                (Some(lam), Some(phi), None) => {
                    params.insert("lam", ParamArray::scalar(lam));
                    params.insert("phi", ParamArray::scalar(phi));
                }
                (None, None, _) => {
                    params.insert(
                        "initial_weights_logits",
                        ParamArray::vector(weight_logits(vec![0.0; n])),
                    );
                }
                (_, _, Some(_)) => {
                    let key = if lam.is_some() { "lam" } else { "phi" };
                    return Err(pool.error(
                        key,
                        &pool.map[key],
                        "give the curve's shape either as lam and phi or as weights, not both",
                    ));
                }
                (lam, _, None) => {
                    let (given, missing) = if lam.is_some() {
                        ("lam", "phi")
                    } else {
                        ("phi", "lam")
                    };
                    return Err(pool.error(
                        given,
                        &pool.map[given],
                        format!("needs {missing} as well"),
                    ));
                }
            }
            Ok(params)
        }
        PoolKind::Reclamm => {
            let mut params = Params::new();
            if !pool.has("initial_state") {
                params.insert(
                    "price_ratio",
                    ParamArray::scalar(pool.checked("price_ratio", 4.0, |x| x > 1.0, "> 1")?),
                );
            }
            params.insert(
                "centeredness_margin",
                ParamArray::scalar(pool.checked(
                    "centeredness_margin",
                    0.2,
                    |x| (0.0..=1.0).contains(&x),
                    "in [0, 1]",
                )?),
            );
            if pool.has("shift_exponent") {
                if pool.has("daily_price_shift_base") {
                    return Err(pool.error(
                        "shift_exponent",
                        &pool.map["shift_exponent"],
                        "give shift_exponent or daily_price_shift_base, not both",
                    ));
                }
                let e = pool.checked(
                    "shift_exponent",
                    1.0,
                    |x| (0.0..124_649.0).contains(&x),
                    "in [0, 124649)",
                )?;
                params.insert("shift_exponent", ParamArray::scalar(e));
            } else {
                let b = pool.checked(
                    "daily_price_shift_base",
                    1.0 - 1.0 / 124_000.0,
                    |x| x > 0.0 && x <= 1.0,
                    "in (0, 1]",
                )?;
                params.insert("daily_price_shift_base", ParamArray::scalar(b));
            }
            Ok(params)
        }
    }
}

fn reclamm_config(pool: &Table<'_>) -> Result<ReclammConfig> {
    let method = pool.choice(
        "thermostat",
        "geometric",
        &["geometric", "constant_arc_length"],
    )?;
    let interpolation = ReclammInterpolation::parse(method).map_err(RunError::Core)?;
    let arc_length_speed = if interpolation == ReclammInterpolation::ConstantArcLength {
        match pool.f64("arc_length_speed")? {
            Some(_) => Some(pool.checked("arc_length_speed", 0.0, |x| x >= 0.0, ">= 0")?),
            None => None,
        }
    } else {
        None
    };
    let initial_state = match pool.get("initial_state") {
        None => None,
        Some(v @ Value::Object(state)) => {
            let field = pool.field("initial_state");
            if let Some(k) = state
                .keys()
                .find(|k| !["Ra", "Rb", "Va", "Vb"].contains(&k.as_str()))
            {
                return Err(RunError::config(
                    field,
                    show(v),
                    format!("`{k}` is not a balance (give Ra, Rb, Va and Vb)"),
                ));
            }
            let get = |k: &str| {
                state.get(k).and_then(Value::as_f64).ok_or_else(|| {
                    RunError::config(&field, show(v), "needs numbers Ra, Rb, Va and Vb")
                })
            };
            Some(ReclammState {
                ra: get("Ra")?,
                rb: get("Rb")?,
                va: get("Va")?,
                vb: get("Vb")?,
            })
        }
        Some(v) => return Err(pool.type_error("initial_state", v, "a table")),
    };
    Ok(ReclammConfig {
        interpolation,
        arc_length_speed,
        centeredness_scaling: pool.bool("centeredness_scaling", false)?,
        initial_state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RunConfig> {
        from_toml(text, Path::new("."))
    }

    fn example_texts() -> Vec<(PathBuf, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut files = vec![dir.join("default.toml")];
        for e in std::fs::read_dir(dir.join("examples")).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "toml") {
                files.push(path);
            }
        }
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p, text)
            })
            .collect()
    }

    /// Configs that between them set the keys the examples leave out.
    const MORE: &[&str] = &[
        r#"name = "all settings"
           params = { logit_lamb = 4.0, log_k = 1.0, logit_delta_lamb = 0.0 }
           [pool]
           rule = "momentum"
           initial_pool_value = 1000
           chunk_period = 1440
           weight_interpolation_period = 1440
           interpolation = "approx_optimal"
           maximum_change = 0.001
           minimum_weight = 0.05
           [market]
           gas_cost_series = { unix = [1704067200000], gas_cost = [1.0] }
           arb_fees_series = "arb_fees.csv"
           do_arb = true
           noise_trader_ratio = 0.1
           protocol_fee_split = 0.5
           arb_validity = "exact"
           arb_frequency = 5
           [window]
           burn_in_days = 30
           [data]
           dir = "prices"
           max_gap_minutes = 60
           [output]
           dir = "out"
           plots = false
           readouts = true"#,
        r#"[pool]
           rule = "rvr__bounded__power_channel"
           use_alt_lamb = true
           memory_days_delta = 5
           min_weights = [0.1, 0.1, 0.1]
           max_weights = [0.8, 0.8, 0.8]
           [market]
           rvr_spread = 0.001
           gas_cost = 1
           arb_fees = 0.0005"#,
        r#"[pool]
           rule = "index_market_cap"
           cap_weights = 0.5"#,
        r#"[pool]
           tokens = ["ETH", "USDT"]
           rule = "gyroscope"
           alpha = 2000
           beta = 5000
           lam = 2
           phi = 0.7
           numeraire = "USDT""#,
        r#"[pool]
           tokens = ["BTC", "ETH"]
           rule = "reclamm"
           thermostat = "constant_arc_length"
           arc_length_speed = 0.0001
           centeredness_scaling = true
           shift_exponent = 2
           initial_state = { Ra = 1.0, Rb = 20.0, Va = 2.0, Vb = 30.0 }"#,
        r#"[pool]
           tokens = ["BTC", "ETH"]
           rule = "reclamm"
           price_ratio = 3
           daily_price_shift_base = 0.99999"#,
    ];

    #[test]
    fn every_documented_key_is_read() {
        READ.with(|r| r.borrow_mut().clear());
        for (path, text) in example_texts() {
            parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        for text in MORE {
            parse(text).unwrap_or_else(|e| panic!("{text}\n{e}"));
        }
        let read = READ.with(|r| r.borrow().clone());
        let unread: Vec<&str> = KEYS
            .iter()
            .map(|k| k.path)
            .filter(|p| !read.contains(p))
            .collect();
        assert!(unread.is_empty(), "documented keys never read: {unread:?}");
    }

    #[test]
    fn documented_defaults_are_the_defaults() {
        // Each key whose documented default is a value: setting it to that value changes
        // nothing, in a config where it applies.
        let bases = [
            "",
            "[pool]\nrule = \"mean_reversion_channel\"",
            "[pool]\nrule = \"min_variance\"",
            "[pool]\nrule = \"cow\"\ntokens = [\"BTC\", \"ETH\"]",
            "[pool]\nrule = \"reclamm\"\ntokens = [\"BTC\", \"ETH\"]",
        ];
        let mut checked = std::collections::BTreeSet::new();
        for base in bases {
            let reference = parse(base).unwrap();
            for k in KEYS.iter().filter(|k| is_literal(k.default)) {
                let (section, key) = k.path.split_once('.').unwrap();
                let text = if base.contains(&format!("[{section}]")) {
                    base.replace(
                        &format!("[{section}]"),
                        &format!("[{section}]\n{key} = {}", k.default),
                    )
                } else {
                    format!("{base}\n[{section}]\n{key} = {}", k.default)
                };
                if let Ok(config) = parse(&text) {
                    assert_eq!(config, reference, "{}", k.path);
                    checked.insert(k.path);
                }
            }
        }
        let missed: Vec<&str> = KEYS
            .iter()
            .filter(|k| is_literal(k.default) && !checked.contains(k.path))
            .map(|k| k.path)
            .collect();
        assert!(missed.is_empty(), "defaults not checked: {missed:?}");
    }

    #[test]
    fn an_empty_config_is_the_default_run() {
        let mut empty = parse("").unwrap();
        let default = default_config();
        empty.name = default.name.clone();
        assert_eq!(empty, default);
    }
}
