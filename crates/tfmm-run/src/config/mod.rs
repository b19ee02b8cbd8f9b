//! Run configs. Every accepted form (quantammsim cases; tfmm's native format, TOML or JSON)
//! resolves to one plain [`RunConfig`], which is what a run executes and what `summary.json`
//! records.

mod native;
mod quantammsim;
mod value;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tfmm_core::params::Params;
use tfmm_core::pools::arbitrage::Validity;
use tfmm_core::pools::cow::CowSettings;
use tfmm_core::pools::reclamm::{ReclammInterpolation, ReclammSettings, ReclammState};
use tfmm_core::pools::{G3mSettings, TradeWindow};
use tfmm_core::weights::WeightSettings;

use crate::error::{Result, RunError};
use crate::market::MarketSeries;

pub use native::{
    DEFAULT_TOML, KEYS, KeyDoc, PARAM_KEYS, default_config, from_native, from_toml, keys_markdown,
    toml_to_json,
};
pub use quantammsim::from_case_json;

/// Market and pool settings beyond the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSettings {
    /// Value deposited at the first simulated minute, in the quote currency.
    pub initial_pool_value: f64,
    /// Minutes between arbitrage opportunities.
    pub arb_frequency: usize,
    /// Whether arbitrageurs trade at all (false: reserves stay as deposited).
    pub do_arb: bool,
    /// Swap fee as a fraction (0.003 = 30 bp).
    pub fees: f64,
    /// Smallest profit (quote currency) for which an arbitrageur trades.
    pub gas_cost: f64,
    /// The arbitrageur's own cost rate to unwind, as a fraction.
    pub arb_fees: f64,
    pub noise_trader_ratio: f64,
    pub protocol_fee_split: f64,
    /// CowAMM: the share of the perfect batch-auction model in the blend with the
    /// single-arbitrageur model.
    pub arb_quality: f64,
    /// How arbitrage trades are validated: tfmm's tolerant test, or quantammsim's exact
    /// comparison (to reproduce its numbers).
    pub arb_validity: Validity,
    /// Gyroscope: the token prices are quoted in (default: the last in pool order).
    pub numeraire: Option<String>,
    /// reCLAMM: thermostat, its speed, centeredness scaling and an optional starting state.
    pub reclamm: ReclammConfig,
    /// `rvr__` benchmarks: bid-ask spread per asset, as a fraction of price.
    pub rvr_spread: Option<Vec<f64>>,
}

/// reCLAMM settings beyond its parameters (quantammsim's `reclamm_*` keys).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReclammConfig {
    pub interpolation: ReclammInterpolation,
    pub arc_length_speed: Option<f64>,
    pub centeredness_scaling: bool,
    pub initial_state: Option<ReclammState<f64>>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            initial_pool_value: 1e6,
            arb_frequency: 1,
            do_arb: true,
            fees: 0.0,
            gas_cost: 0.0,
            arb_fees: 0.0,
            noise_trader_ratio: 0.0,
            protocol_fee_split: 0.0,
            arb_quality: 1.0,
            arb_validity: Validity::Tolerant,
            numeraire: None,
            reclamm: ReclammConfig::default(),
            rvr_spread: None,
        }
    }
}

impl PoolSettings {
    pub fn cow(&self) -> CowSettings {
        CowSettings {
            arb_quality: self.arb_quality,
            noise_trader_ratio: self.noise_trader_ratio,
            ..CowSettings::new(self.initial_pool_value)
        }
    }

    pub fn reclamm(&self) -> ReclammSettings {
        let r = &self.reclamm;
        ReclammSettings {
            interpolation: r.interpolation,
            arc_length_speed: r.arc_length_speed,
            centeredness_scaling: r.centeredness_scaling,
            initial_state: r.initial_state,
            noise_trader_ratio: self.noise_trader_ratio,
            protocol_fee_split: self.protocol_fee_split,
            validity: self.arb_validity,
            ..ReclammSettings::new(self.initial_pool_value)
        }
    }

    /// A TFMM / Balancer pool with fees; `window` limits trading to the start of each chunk
    /// (hodling index pools).
    pub fn g3m(&self, window: Option<TradeWindow>) -> G3mSettings {
        G3mSettings {
            initial_value: self.initial_pool_value,
            noise_trader_ratio: self.noise_trader_ratio,
            protocol_fee_split: self.protocol_fee_split,
            window,
            validity: self.arb_validity,
        }
    }
}

/// Which pool a rule name runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// A TFMM pool: weights from a strategy rule.
    Tfmm,
    /// Constant weights.
    Balancer,
    /// The deposit, held.
    Hodl,
    /// CowAMM / FM-AMM: constant weights, batch-auction arbitrage.
    Cow,
    /// reCLAMM: concentrated liquidity with moving virtual balances.
    Reclamm,
    /// Gyroscope E-CLP: elliptic concentrated liquidity.
    Gyroscope,
}

impl PoolKind {
    /// The pool a base rule name (hooks removed) runs: a strategy rule's name is a TFMM
    /// pool's.
    pub fn of(base_rule: &str) -> PoolKind {
        match base_rule {
            "balancer" => PoolKind::Balancer,
            "hodl" => PoolKind::Hodl,
            "cow" => PoolKind::Cow,
            "reclamm" => PoolKind::Reclamm,
            "gyroscope" => PoolKind::Gyroscope,
            _ => PoolKind::Tfmm,
        }
    }
}

/// Rebalancing benchmarks reported beside a pool (rule prefixes `lvr__`, `rvr__`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// Loss versus rebalancing: rebalance every minute paying the swap fee.
    Lvr,
    /// Rebalancing versus rebalancing: also paying half the bid-ask spread (`rvr_spread`).
    Rvr,
}

impl Baseline {
    pub fn name(self) -> &'static str {
        match self {
            Baseline::Lvr => "lvr",
            Baseline::Rvr => "rvr",
        }
    }
}

/// A fully resolved run: what is simulated, over which window, with which settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub name: Option<String>,
    /// Pool tokens in pool order (sorted alphabetically, as quantammsim orders them); every
    /// per-asset parameter follows this order.
    pub tokens: Vec<String>,
    /// Rule or pool type, with optional hook prefixes (`bounded__momentum`).
    pub rule: String,
    /// Internal parameters (`logit_lamb`, `log_k`, ...).
    pub params: Params<f64>,
    /// First simulated minute, UTC `YYYY-MM-DD HH:MM:SS`.
    pub start: String,
    /// End minute (not simulated), UTC.
    pub end: String,
    pub weights: WeightSettings,
    pub pool: PoolSettings,
    /// Fee, gas and arbitrage-fee series and user trades, when given.
    pub market: MarketSeries,
    pub data: DataSettings,
    pub output: OutputSettings,
}

/// Where prices come from and how much filling is tolerated.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSettings {
    /// A folder of per-token price files; `None`: the embedded data (or `--data-dir`).
    pub dir: Option<PathBuf>,
    /// Longest run of forward-filled minutes allowed inside the window used (burn-in
    /// included): a longer gap is an error rather than prices standing still.
    pub max_gap_minutes: usize,
}

impl Default for DataSettings {
    fn default() -> Self {
        Self {
            dir: None,
            max_gap_minutes: 1440,
        }
    }
}

/// What a run writes besides `timeseries.csv` and `summary.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSettings {
    /// Output folder; `None`: `out` (or `--out`).
    pub dir: Option<PathBuf>,
    /// Value, weights, reserves and drawdown charts (SVG and PNG).
    pub plots: bool,
    /// Estimator state per chunk in `readouts.csv`.
    pub readouts: bool,
}

impl Default for OutputSettings {
    fn default() -> Self {
        Self {
            dir: None,
            plots: true,
            readouts: false,
        }
    }
}

impl RunConfig {
    pub fn n_assets(&self) -> usize {
        self.tokens.len()
    }

    pub fn pool_kind(&self) -> PoolKind {
        PoolKind::of(self.pool_rule())
    }

    /// The benchmark a `lvr__` / `rvr__` rule asks for.
    pub fn baseline(&self) -> Option<Baseline> {
        match self.rule.split("__").next() {
            Some("lvr") => Some(Baseline::Lvr),
            Some("rvr") => Some(Baseline::Rvr),
            _ => None,
        }
    }

    /// The rule without a benchmark prefix: what the pool itself runs.
    pub fn pool_rule(&self) -> &str {
        match self.baseline() {
            Some(_) => &self.rule[5..],
            None => &self.rule,
        }
    }

    /// The resolved config as JSON, for `summary.json`.
    pub fn to_json(&self) -> Value {
        let w = &self.weights;
        let p = &self.pool;
        json!({
            "name": self.name,
            "tokens": self.tokens,
            "rule": self.rule,
            "start": self.start,
            "end": self.end,
            "params": params_json(&self.params),
            "chunk_period": w.rule.chunk_period,
            "weight_interpolation_period": w.weight_interpolation_period,
            "weight_interpolation_method": w.interpolation.to_string(),
            "maximum_change": w.maximum_change,
            "minimum_weight": w.minimum_weight(self.n_assets()),
            "max_memory_days": w.rule.max_memory_days,
            "use_alt_lamb": w.rule.use_alt_lamb,
            "use_pre_exp_scaling": w.rule.use_pre_exp_scaling,
            "cap_weights": w.rule.cap_weights,
            "ste_max_change": w.ste_max_change,
            "ste_min_max_weight": w.ste_min_max_weight,
            "n_ensemble_members": w.n_ensemble_members,
            "initial_pool_value": p.initial_pool_value,
            "arb_frequency": p.arb_frequency,
            "do_arb": p.do_arb,
            "fees": p.fees,
            "gas_cost": p.gas_cost,
            "arb_fees": p.arb_fees,
            "noise_trader_ratio": p.noise_trader_ratio,
            "protocol_fee_split": p.protocol_fee_split,
            "arb_quality": p.arb_quality,
            "arb_validity": match p.arb_validity {
                Validity::Tolerant => "tolerant",
                Validity::ReferenceExact => "exact",
            },
            "numeraire": p.numeraire,
            "rvr_spread": p.rvr_spread,
            "reclamm": {
                "interpolation": match p.reclamm.interpolation {
                    ReclammInterpolation::Geometric => "geometric",
                    ReclammInterpolation::ConstantArcLength => "constant_arc_length",
                },
                "arc_length_speed": p.reclamm.arc_length_speed,
                "centeredness_scaling": p.reclamm.centeredness_scaling,
                "initial_state": p.reclamm.initial_state.map(|s| json!({
                    "ra": s.ra, "rb": s.rb, "va": s.va, "vb": s.vb,
                })),
            },
            "market": self.market.to_json(),
            "data": {
                "dir": self.data.dir.as_ref().map(|d| d.display().to_string()),
                "max_gap_minutes": self.data.max_gap_minutes,
            },
            "output": {
                "dir": self.output.dir.as_ref().map(|d| d.display().to_string()),
                "plots": self.output.plots,
                "readouts": self.output.readouts,
            },
        })
    }
}

/// Parameters as named arrays nested to their shapes (the form configs give them in).
pub fn params_json(params: &Params<f64>) -> Value {
    Value::Object(
        params
            .iter()
            .map(|(name, arr)| (name.to_string(), array_json(&arr.shape, &arr.data)))
            .collect(),
    )
}

/// Row-major `data` of `shape` as nested JSON arrays (a scalar for shape `[]`).
pub fn array_json(shape: &[usize], data: &[f64]) -> Value {
    match shape {
        [] => json!(data[0]),
        [_] => json!(data),
        [_, rest @ ..] => {
            let inner: usize = rest.iter().product();
            Value::Array(data.chunks(inner).map(|c| array_json(rest, c)).collect())
        }
    }
}

/// Reads a config file: TOML (`.toml`, or any text not starting with `{`) is a native config;
/// JSON with a `run_fingerprint` is a quantammsim case, other JSON a native config. Relative file
/// paths inside it are relative to the config file.
pub fn load(path: &Path) -> Result<RunConfig> {
    parse_in(&read_value(path)?, path.parent().unwrap_or(Path::new(".")))
}

/// A config file as JSON (TOML converted), before any key is checked.
pub fn read_value(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::io(path, e))?;
    let origin = path.display().to_string();
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    let is_toml = extension.eq_ignore_ascii_case("toml")
        || (!extension.eq_ignore_ascii_case("json") && !first.starts_with('{'));
    let value = if is_toml {
        toml_to_json(&text, &origin)?
    } else {
        serde_json::from_str(&text).map_err(|e| {
            RunError::config(
                origin,
                format!("line {} column {}", e.line(), e.column()),
                format!("is not valid JSON ({e})"),
            )
        })?
    };
    Ok(value)
}

/// A config from parsed JSON; relative paths are taken from the working directory.
pub fn parse(value: &Value) -> Result<RunConfig> {
    parse_in(value, Path::new("."))
}

/// A config from parsed JSON (or TOML converted by [`toml_to_json`]): a quantammsim case if
/// it has `run_fingerprint`, else a native config. Relative paths are taken from `base_dir`.
pub fn parse_in(value: &Value, base_dir: &Path) -> Result<RunConfig> {
    match value {
        Value::Object(map) if map.contains_key("run_fingerprint") => from_case_json(map, base_dir),
        Value::Object(map) => from_native(map, base_dir),
        other => Err(RunError::config(
            "config",
            value::show(other),
            "must be an object: a native config ({\"pool\": {...}, ...}) or a quantammsim case ({\"run_fingerprint\": {...}})",
        )),
    }
}
