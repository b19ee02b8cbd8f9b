//! quantammsim cases: `{"run_fingerprint": {...}, "params": {...}}` with quantammsim's key
//! names and defaults (`default_run_fingerprint.py`).
//!
//! Every fingerprint key is either used, known to have no effect on a run (training-only
//! settings, other pool types' settings), or rejected: a setting that would change the
//! result is never silently ignored.

use serde_json::{Map, Value};
use tfmm_core::error::did_you_mean;
use tfmm_core::params::{ParamArray, Params};
use tfmm_core::pools::arbitrage::Validity;
use tfmm_core::rules::{RuleSettings, Seeds, WEIGHT_RULES, internal_params, internalize};
use tfmm_core::weights::{Interpolation, WeightSettings};

use super::value::{Fields, show};
use super::{DataSettings, OutputSettings, PoolSettings, ReclammConfig, RunConfig};
use crate::error::{Result, RunError};
use crate::market::{MarketSeries, SeriesSpec, TradesSpec, in_dir};
use std::path::Path;
use tfmm_core::pools::reclamm::{ReclammInterpolation, ReclammState};
use tfmm_data::TradeRow;

/// Keys a run reads.
const RUN_KEYS: &[&str] = &[
    "tokens",
    "rule",
    "startDateString",
    "endDateString",
    "chunk_period",
    "weight_interpolation_period",
    "weight_interpolation_method",
    "maximum_change",
    "minimum_weight",
    "max_memory_days",
    "use_alt_lamb",
    "use_pre_exp_scaling",
    "ste_max_change",
    "ste_min_max_weight",
    "weight_calculation_method",
    "n_ensemble_members",
    "learnable_bounds_settings",
    "cap_weights",
    "initial_pool_value",
    "arb_frequency",
    "do_arb",
    "fees",
    "gas_cost",
    "arb_fees",
    "noise_trader_ratio",
    "protocol_fee_split",
    "freq",
    "subsidary_pools",
    "n_assets",
    "arb_quality",
    // tfmm's own: "tolerant" (default) or "exact" (quantammsim's validity test).
    "arb_validity",
    "numeraire",
    "reclamm_interpolation_method",
    "reclamm_arc_length_speed",
    "reclamm_centeredness_scaling",
    "reclamm_initial_state",
    "rvr_spread",
    // tfmm's own: the longest forward-filled gap tolerated, in minutes.
    "max_gap_minutes",
];

/// Starting values, used only when the case gives no `params`.
const SEED_KEYS: &[&str] = &[
    "initial_memory_length",
    "initial_memory_length_delta",
    "initial_k_per_day",
    "initial_weights_logits",
    "initial_log_amplitude",
    "initial_raw_width",
    "initial_raw_exponents",
    "initial_pre_exp_scaling",
];

/// Keys that cannot change a run's result: training and tuning settings, other pool
/// types' settings, memory/compilation strategies, and keys quantammsim adds at run time.
const NO_EFFECT_KEYS: &[&str] = &[
    "endTestDateString",
    "optimisation_settings",
    "bout_offset",
    "return_val",
    "turnover_penalty",
    "price_noise_sigma",
    "ensemble_init_method",
    "ensemble_init_scale",
    "ensemble_init_seed",
    "do_trades",
    "reclamm_learn_arc_length_speed",
    "reclamm_use_shift_exponent",
    "reclamm_learn_fees",
    "initial_arc_length_speed",
    "initial_shift_exponent",
    "initial_price_ratio",
    "initial_centeredness_margin",
    "initial_daily_price_shift_base",
    "use_fused_reserves",
    "checkpoint_fused",
    "alphabetic",
    "training_method",
    "bout_length",
    "all_sig_variations",
    "run_type",
    "training_data_kind",
    "evaluation_starts",
    "test_fraction",
    "holdoutEndDateString",
    "_arc_length_speed_config",
];

/// Time-varying market inputs, named like quantammsim's `do_run_on_historic_data` arguments:
/// a CSV path (relative to the config file), or inline columns.
const MARKET_KEYS: &[&str] = &["fees_df", "gas_cost_df", "arb_fees_df", "raw_trades"];

/// Top-level keys of a reference case other than the fingerprint and parameters: what the
/// case generator recorded for reading.
const CASE_INFO_KEYS: &[&str] = &[
    "name",
    "description",
    "quantammsim_call",
    "tokens_sorted",
    "params_internal",
    "params_user_facing",
    "params_derived",
    "alignment",
    "array_shapes",
    "metrics",
    "nan_counts",
    "wall_seconds",
    "versions",
];

/// Pool types quantammsim has that this version does not simulate yet.
const OTHER_POOLS: &[&str] = &["trad_hodling_index_market_cap"];

fn unknown_key(path: &str, key: &str, value: &Value, known: &[&[&str]]) -> RunError {
    let all = known.iter().flat_map(|k| k.iter().copied());
    let hint = did_you_mean(key, all)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    RunError::config(
        format!("{path}.{key}"),
        show(value),
        format!("is not a known key{hint}"),
    )
}

pub fn from_case_json(case: &Map<String, Value>, base_dir: &Path) -> Result<RunConfig> {
    for (key, value) in case {
        if !["run_fingerprint", "params"].contains(&key.as_str())
            && !MARKET_KEYS.contains(&key.as_str())
            && !CASE_INFO_KEYS.contains(&key.as_str())
        {
            return Err(unknown_key(
                "case",
                key,
                value,
                &[&["run_fingerprint", "params"], MARKET_KEYS, CASE_INFO_KEYS],
            ));
        }
    }
    let Some(Value::Object(fp_map)) = case.get("run_fingerprint") else {
        return Err(RunError::config(
            "run_fingerprint",
            show(case.get("run_fingerprint").unwrap_or(&Value::Null)),
            "must be an object",
        ));
    };
    let fp = Fields::new("run_fingerprint", fp_map);
    for (key, value) in fp_map {
        if !(RUN_KEYS.contains(&key.as_str())
            || SEED_KEYS.contains(&key.as_str())
            || NO_EFFECT_KEYS.contains(&key.as_str()))
        {
            return Err(unknown_key(
                "run_fingerprint",
                key,
                value,
                &[RUN_KEYS, SEED_KEYS, NO_EFFECT_KEYS],
            ));
        }
    }

    let tokens = tokens(&fp)?;
    let n = tokens.len();
    let rule = fp.str_or("rule", "mean_reversion_channel")?.to_string();
    check_rule(&fp, &rule)?;
    check_no_effect_values(&fp)?;

    let weights = weight_settings(&fp, n)?;
    let pool = pool_settings(&fp)?;

    let base_rule = rule.rsplit("__").next().unwrap_or(&rule);
    if rule.starts_with("rvr__") && fp.get("rvr_spread").is_none() {
        return Err(fp.error(
            "rule",
            &Value::from(rule.as_str()),
            "an rvr__ benchmark needs run_fingerprint.rvr_spread (bid-ask spread per asset, a fraction)",
        ));
    }
    let params = match case.get("params").or_else(|| case.get("params_internal")) {
        Some(Value::Object(map)) => {
            internalize(&rule, &params_from_json(map)?, n, weights.rule.chunk_period)
                .map_err(RunError::Core)?
        }
        Some(Value::Null) | None if base_rule == "reclamm" => reclamm_seeds(&fp)?,
        Some(Value::Null) | None
            if ["balancer", "hodl", "cow", "gyroscope"].contains(&base_rule) =>
        {
            let logits = seeds(&fp)?.weights_logits;
            let logits = match logits.as_slice() {
                [one] => ParamArray::scalar(*one),
                _ => ParamArray::vector(logits),
            };
            Params::new().with("initial_weights_logits", logits)
        }
        Some(Value::Null) | None => {
            internal_params(&rule, &seeds(&fp)?, n, weights.rule.chunk_period)
                .map_err(|e| seed_error(&fp, e))?
        }
        Some(other) => {
            return Err(RunError::config(
                "params",
                show(other),
                "must be an object of named arrays",
            ));
        }
    };
    let params = with_fixed_bounds(params, &fp, &rule)?;

    let market = MarketSeries {
        fees: series_spec(case, "fees_df", &["fees"], base_dir)?,
        gas_cost: series_spec(
            case,
            "gas_cost_df",
            &["trade_gas_cost_usd", "gas_cost"],
            base_dir,
        )?,
        arb_fees: series_spec(case, "arb_fees_df", &["arb_fees"], base_dir)?,
        trades: trades_spec(case, base_dir)?,
    };

    let data = DataSettings {
        max_gap_minutes: fp.usize_or("max_gap_minutes", DataSettings::default().max_gap_minutes)?,
        ..DataSettings::default()
    };

    Ok(RunConfig {
        data,
        output: OutputSettings::default(),
        market,
        name: case.get("name").and_then(Value::as_str).map(str::to_string),
        tokens,
        rule,
        params,
        start: fp
            .str_or("startDateString", "2023-01-01 00:00:00")?
            .to_string(),
        end: fp
            .str_or("endDateString", "2023-06-01 00:00:00")?
            .to_string(),
        weights,
        pool,
    })
}

fn tokens(fp: &Fields<'_>) -> Result<Vec<String>> {
    let field = fp.field("tokens");
    let mut tokens: Vec<String> = match fp.get("tokens") {
        None => vec!["BTC".into(), "ETH".into(), "USDC".into()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| t.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                RunError::config(
                    &field,
                    show(&Value::Array(items.clone())),
                    "must be a list of ticker strings",
                )
            })?,
        Some(v) => {
            return Err(RunError::config(
                &field,
                show(v),
                "must be a list of ticker strings",
            ));
        }
    };
    let given = tokens.clone();
    // quantammsim's pool order: alphabetical.
    tokens.sort();
    if let Some(w) = tokens.windows(2).find(|w| w[0] == w[1]) {
        return Err(RunError::config(
            &field,
            format!("{given:?}"),
            format!("lists {} twice", w[0]),
        ));
    }
    if tokens.len() < 2 {
        return Err(RunError::config(
            &field,
            format!("{given:?}"),
            "a pool needs at least 2 tokens",
        ));
    }
    if let Some(t) = tokens
        .iter()
        .find(|t| t.is_empty() || t.contains(['/', '\\', '.']))
    {
        return Err(RunError::config(
            &field,
            format!("{t:?}"),
            "is not a ticker",
        ));
    }
    if let Some(v) = fp.get("n_assets")
        && v.as_f64() != Some(tokens.len() as f64)
    {
        return Err(fp.error(
            "n_assets",
            v,
            format!("must equal the number of tokens ({})", tokens.len()),
        ));
    }
    let subsidiaries = fp.get("subsidary_pools");
    if let Some(v) = subsidiaries
        && v.as_array().is_none_or(|a| !a.is_empty())
    {
        return Err(fp.error(
            "subsidary_pools",
            v,
            "composite pools are not supported; give []",
        ));
    }
    Ok(tokens)
}

fn check_rule(fp: &Fields<'_>, rule: &str) -> Result<()> {
    let base = rule.rsplit("__").next().unwrap_or(rule);
    if OTHER_POOLS.contains(&base) {
        return Err(RunError::config(
            fp.field("rule"),
            format!("\"{rule}\""),
            format!(
                "pool type not simulated: it needs CEX volume and spread data quantammsim downloads (tfmm runs balancer, hodl, cow, gyroscope, reclamm and the TFMM rules: {})",
                WEIGHT_RULES.join(", ")
            ),
        ));
    }
    let freq = fp.str_or("freq", "minute")?;
    if freq != "minute" {
        return Err(fp.error(
            "freq",
            &Value::from(freq),
            "only minute data exists (\"minute\")",
        ));
    }
    let method = fp.str_or("weight_calculation_method", "auto")?;
    if !["auto", "vectorized", "scan"].contains(&method) {
        return Err(fp.error(
            "weight_calculation_method",
            &Value::from(method),
            "must be \"auto\", \"vectorized\" or \"scan\" (all give the same weights here)",
        ));
    }
    Ok(())
}

/// Settings that do nothing in a run still get their types checked, so a typo in a value
/// is not silently accepted either.
fn check_no_effect_values(fp: &Fields<'_>) -> Result<()> {
    for key in ["turnover_penalty", "price_noise_sigma"] {
        fp.opt_f64(key)?;
    }
    for key in ["do_trades", "use_fused_reserves"] {
        fp.bool_or(key, false)?;
    }
    if let Some(v) = fp.get("endTestDateString") {
        v.as_str()
            .ok_or_else(|| fp.error("endTestDateString", v, "must be a date string"))?;
    }
    Ok(())
}

fn weight_settings(fp: &Fields<'_>, n: usize) -> Result<WeightSettings> {
    let chunk_period = fp.usize_or("chunk_period", 1440)?;
    if chunk_period == 0 {
        return Err(fp.error(
            "chunk_period",
            &Value::from(0),
            "must be a positive number of minutes",
        ));
    }
    let method = fp.str_or("weight_interpolation_method", "linear")?;
    let interpolation: Interpolation = method.parse().map_err(|_| {
        fp.error(
            "weight_interpolation_method",
            &Value::from(method),
            "must be \"linear\" or \"approx_optimal\"",
        )
    })?;
    let settings = WeightSettings {
        rule: RuleSettings {
            chunk_period,
            max_memory_days: fp.f64_or("max_memory_days", 365.0)?,
            use_alt_lamb: fp.bool_or("use_alt_lamb", false)?,
            use_pre_exp_scaling: fp.bool_or("use_pre_exp_scaling", true)?,
            cap_weights: fp.opt_f64("cap_weights")?,
        },
        weight_interpolation_period: fp.usize_or("weight_interpolation_period", 1440)?,
        interpolation,
        maximum_change: fp.f64_or("maximum_change", 3e-4)?,
        minimum_weight: fp.opt_f64("minimum_weight")?,
        ste_max_change: fp.bool_or("ste_max_change", false)?,
        ste_min_max_weight: fp.bool_or("ste_min_max_weight", false)?,
        n_ensemble_members: fp.usize_or("n_ensemble_members", 1)?,
    };
    settings.validate(n).map_err(|e| match e {
        // Name the key where the user wrote it.
        tfmm_core::Error::Invalid { field, value, rule } => {
            RunError::config(fp.field(&field), value, rule)
        }
        other => RunError::Core(other),
    })?;
    Ok(settings)
}

fn pool_settings(fp: &Fields<'_>) -> Result<PoolSettings> {
    let pool = PoolSettings {
        initial_pool_value: fp.f64_or("initial_pool_value", 1e6)?,
        arb_frequency: fp.usize_or("arb_frequency", 1)?,
        do_arb: fp.bool_or("do_arb", true)?,
        fees: fp.f64_or("fees", 0.0)?,
        gas_cost: fp.f64_or("gas_cost", 0.0)?,
        arb_fees: fp.f64_or("arb_fees", 0.0)?,
        noise_trader_ratio: fp.f64_or("noise_trader_ratio", 0.0)?,
        protocol_fee_split: fp.f64_or("protocol_fee_split", 0.0)?,
        arb_quality: fp.f64_or("arb_quality", 1.0)?,
        numeraire: match fp.get("numeraire") {
            None => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(v) => return Err(fp.error("numeraire", v, "must be a token symbol")),
        },
        reclamm: reclamm_config(fp)?,
        rvr_spread: match fp.numbers("rvr_spread")? {
            Some(s) if s.iter().any(|x| !(x.is_finite() && (0.0..1.0).contains(x))) => {
                return Err(fp.error(
                    "rvr_spread",
                    fp.get("rvr_spread").unwrap(),
                    "spreads are fractions in [0, 1)",
                ));
            }
            other => other,
        },
        arb_validity: match fp.str_or("arb_validity", "tolerant")? {
            "tolerant" => Validity::Tolerant,
            "exact" => Validity::ReferenceExact,
            other => {
                return Err(fp.error(
                    "arb_validity",
                    &Value::from(other),
                    "must be \"tolerant\" or \"exact\" (quantammsim's test)",
                ));
            }
        },
    };
    let v = pool.initial_pool_value;
    if !(v.is_finite() && v > 0.0) {
        return Err(fp.error(
            "initial_pool_value",
            &Value::from(v),
            "must be a positive amount",
        ));
    }
    if pool.arb_frequency == 0 {
        return Err(fp.error(
            "arb_frequency",
            &Value::from(0),
            "must be at least 1 minute",
        ));
    }
    for (key, x) in [("fees", pool.fees), ("arb_fees", pool.arb_fees)] {
        if !(x.is_finite() && (0.0..1.0).contains(&x)) {
            return Err(fp.error(key, &Value::from(x), "must be a fraction in [0, 1)"));
        }
    }
    if !(pool.gas_cost.is_finite() && pool.gas_cost >= 0.0) {
        return Err(fp.error(
            "gas_cost",
            &Value::from(pool.gas_cost),
            "must be an amount >= 0",
        ));
    }
    if !(0.0..=1.0).contains(&pool.protocol_fee_split) {
        return Err(fp.error(
            "protocol_fee_split",
            &Value::from(pool.protocol_fee_split),
            "must lie in [0, 1]",
        ));
    }
    if !(pool.noise_trader_ratio.is_finite() && pool.noise_trader_ratio >= 0.0) {
        return Err(fp.error(
            "noise_trader_ratio",
            &Value::from(pool.noise_trader_ratio),
            "must be >= 0",
        ));
    }
    Ok(pool)
}

/// Seed names as the case spells them.
const SEED_NAMES: &[(&str, &str)] = &[
    ("memory_days", "initial_memory_length"),
    ("memory_days_delta", "initial_memory_length_delta"),
    ("k_per_day", "initial_k_per_day"),
    ("weights_logits", "initial_weights_logits"),
    ("log_amplitude", "initial_log_amplitude"),
    ("raw_width", "initial_raw_width"),
    ("raw_exponents", "initial_raw_exponents"),
    ("pre_exp_scaling", "initial_pre_exp_scaling"),
];

fn seed_error(fp: &Fields<'_>, e: tfmm_core::Error) -> RunError {
    match e {
        tfmm_core::Error::Invalid { field, value, rule } => {
            let key = SEED_NAMES
                .iter()
                .find(|(f, _)| *f == field)
                .map_or(field.as_str(), |(_, k)| k);
            RunError::config(fp.field(key), value, rule)
        }
        other => RunError::Core(other),
    }
}

fn reclamm_config(fp: &Fields<'_>) -> Result<ReclammConfig> {
    let method = fp.str_or("reclamm_interpolation_method", "geometric")?;
    let interpolation = ReclammInterpolation::parse(method).map_err(|_| {
        fp.error(
            "reclamm_interpolation_method",
            &Value::from(method),
            "must be \"geometric\" or \"constant_arc_length\"",
        )
    })?;
    let initial_state = match fp.object("reclamm_initial_state")? {
        None => None,
        Some(state) => {
            let get = |k: &str| -> Result<f64> {
                state.opt_f64(k)?.ok_or_else(|| {
                    RunError::config(state.field(k), "missing", "needs Ra, Rb, Va and Vb")
                })
            };
            Some(ReclammState {
                ra: get("Ra")?,
                rb: get("Rb")?,
                va: get("Va")?,
                vb: get("Vb")?,
            })
        }
    };
    Ok(ReclammConfig {
        interpolation,
        arc_length_speed: fp.opt_f64("reclamm_arc_length_speed")?,
        centeredness_scaling: fp.bool_or("reclamm_centeredness_scaling", false)?,
        initial_state,
    })
}

/// reCLAMM's starting parameters from the fingerprint's seeds.
fn reclamm_seeds(fp: &Fields<'_>) -> Result<Params<f64>> {
    let mut p = Params::new()
        .with(
            "price_ratio",
            ParamArray::scalar(fp.f64_or("initial_price_ratio", 4.0)?),
        )
        .with(
            "centeredness_margin",
            ParamArray::scalar(fp.f64_or("initial_centeredness_margin", 0.2)?),
        );
    if fp.bool_or("reclamm_use_shift_exponent", false)? {
        p.insert(
            "shift_exponent",
            ParamArray::scalar(fp.f64_or("initial_shift_exponent", 1.0)?),
        );
    } else {
        let base = fp.f64_or("initial_daily_price_shift_base", 1.0 - 1.0 / 124_000.0)?;
        p.insert("daily_price_shift_base", ParamArray::scalar(base));
    }
    Ok(p)
}

fn seeds(fp: &Fields<'_>) -> Result<Seeds> {
    let d = Seeds::default();
    let read = |key: &str, default: Vec<f64>| -> Result<Vec<f64>> {
        Ok(fp.numbers(key)?.unwrap_or(default))
    };
    Ok(Seeds {
        memory_days: read("initial_memory_length", d.memory_days)?,
        memory_days_delta: read("initial_memory_length_delta", d.memory_days_delta)?,
        k_per_day: read("initial_k_per_day", d.k_per_day)?,
        weights_logits: read("initial_weights_logits", d.weights_logits)?,
        log_amplitude: read("initial_log_amplitude", d.log_amplitude)?,
        raw_width: read("initial_raw_width", d.raw_width)?,
        raw_exponents: read("initial_raw_exponents", d.raw_exponents)?,
        pre_exp_scaling: read("initial_pre_exp_scaling", d.pre_exp_scaling)?,
    })
}

/// A fee-like series: a CSV path, `{"unix": [...], "<column>": [...]}` (timestamped,
/// forward-filled) or `{"<column>": [...]}` (one value per simulated minute).
fn series_spec(
    case: &Map<String, Value>,
    key: &str,
    columns: &[&str],
    base_dir: &Path,
) -> Result<Option<SeriesSpec>> {
    let field = key.to_string();
    let bad = |v: &Value, rule: String| RunError::config(&field, show(v), rule);
    match case.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(path)) => Ok(Some(SeriesSpec::File {
            path: in_dir(base_dir, path),
            column: columns[0].to_string(),
        })),
        Some(v @ Value::Object(map)) => {
            let Some((_, values)) = columns.iter().find_map(|c| map.get(*c).map(|v| (c, v))) else {
                return Err(bad(v, format!("needs a `{}` column", columns[0])));
            };
            let values = numbers(values)
                .ok_or_else(|| bad(v, format!("`{}` must be a list of numbers", columns[0])))?;
            match map.get("unix").or_else(|| map.get("unix_ms")) {
                None => Ok(Some(SeriesSpec::PerMinute(values))),
                Some(t) => {
                    let unix_ms = timestamps(t).ok_or_else(|| {
                        bad(
                            v,
                            "`unix` must be a list of whole-minute millisecond timestamps".into(),
                        )
                    })?;
                    if unix_ms.len() != values.len() || unix_ms.windows(2).any(|w| w[1] <= w[0]) {
                        return Err(bad(
                            v,
                            "`unix` must increase and match the values one to one".into(),
                        ));
                    }
                    Ok(Some(SeriesSpec::Points { unix_ms, values }))
                }
            }
        }
        Some(v) => Err(bad(v, "must be a CSV path or an object of columns".into())),
    }
}

/// User trades: a CSV path or `{"unix": [...], "token_in": [...], "token_out": [...], "amount_in": [...]}`.
fn trades_spec(case: &Map<String, Value>, base_dir: &Path) -> Result<Option<TradesSpec>> {
    let bad = |v: &Value, rule: &str| RunError::config("raw_trades", show(v), rule);
    match case.get("raw_trades") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(path)) => Ok(Some(TradesSpec::File(in_dir(base_dir, path)))),
        Some(v @ Value::Object(map)) => {
            let column = |name: &str| {
                map.get(name).and_then(Value::as_array).ok_or_else(|| {
                    bad(
                        v,
                        "needs lists `unix`, `token_in`, `token_out`, `amount_in`",
                    )
                })
            };
            let (unix, token_in, token_out, amount) = (
                column("unix")?,
                column("token_in")?,
                column("token_out")?,
                column("amount_in")?,
            );
            if [token_in.len(), token_out.len(), amount.len()]
                .iter()
                .any(|&l| l != unix.len())
            {
                return Err(bad(
                    v,
                    "`unix`, `token_in`, `token_out` and `amount_in` must have equal lengths",
                ));
            }
            let mut rows = Vec::with_capacity(unix.len());
            for i in 0..unix.len() {
                let (Some(t), Some(a), Some(b), Some(x)) = (
                    timestamps(&unix[i]).and_then(|t| t.first().copied()),
                    token_in[i].as_str(),
                    token_out[i].as_str(),
                    amount[i].as_f64(),
                ) else {
                    return Err(bad(
                        v,
                        &format!("row {i}: needs a timestamp, two token symbols and an amount"),
                    ));
                };
                rows.push(TradeRow {
                    unix_ms: t,
                    token_in: a.into(),
                    token_out: b.into(),
                    amount_in: x,
                    origin: format!("raw_trades row {i}"),
                });
            }
            Ok(Some(TradesSpec::Rows(rows)))
        }
        Some(v) => Err(bad(v, "must be a CSV path or an object of columns")),
    }
}

fn numbers(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(Value::as_f64).collect()
}

/// Millisecond timestamps on whole minutes (one number or a list).
fn timestamps(v: &Value) -> Option<Vec<i64>> {
    let one = |x: &Value| {
        x.as_i64()
            .or_else(|| x.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .filter(|t| t % 60_000 == 0)
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|t| vec![t]),
    }
}

/// `bounded__` rules take fixed bounds from `learnable_bounds_settings` when the parameters
/// carry none (quantammsim's initialisation does the same).
fn with_fixed_bounds(mut params: Params<f64>, fp: &Fields<'_>, rule: &str) -> Result<Params<f64>> {
    let Some(settings) = fp.object("learnable_bounds_settings")? else {
        return Ok(params);
    };
    settings.bool_or("freeze_bounds", false)?;
    let bounded = rule.split("__").any(|h| h == "bounded");
    for key in ["min_weights_per_asset", "max_weights_per_asset"] {
        let Some(values) = settings.numbers(key)? else {
            continue;
        };
        if !bounded {
            return Err(settings.error(
                key,
                settings.get(key).unwrap_or(&Value::Null),
                "per-asset bounds need a `bounded__` rule",
            ));
        }
        if !params.contains(key) && !params.contains("raw_min_budget") {
            params.insert(key, ParamArray::vector(values));
        }
    }
    Ok(params)
}

/// `params`: each entry a number, a list or a rectangular nested list of numbers.
pub fn params_from_json(map: &Map<String, Value>) -> Result<Params<f64>> {
    let mut params = Params::new();
    for (name, v) in map {
        let field = format!("params.{name}");
        let mut shape = vec![];
        let mut data = vec![];
        flatten(v, 0, &mut shape, &mut data)
            .map_err(|rule| RunError::config(&field, show(v), rule))?;
        if data.iter().any(|x| !x.is_finite()) {
            return Err(RunError::config(&field, show(v), "must be finite numbers"));
        }
        params.insert(name.clone(), ParamArray { shape, data });
    }
    Ok(params)
}

fn flatten(
    v: &Value,
    depth: usize,
    shape: &mut Vec<usize>,
    data: &mut Vec<f64>,
) -> Result<(), &'static str> {
    const RAGGED: &str = "must be a rectangular array of numbers";
    match v {
        Value::Number(x) => {
            // Leaves all sit at the depth of the first one.
            if data.is_empty() {
                shape.truncate(depth);
            } else if depth != shape.len() {
                return Err(RAGGED);
            }
            data.push(x.as_f64().ok_or("must be numbers")?);
            Ok(())
        }
        Value::Array(items) => {
            if items.is_empty() {
                return Err("must not be empty");
            }
            match shape.get(depth) {
                None if data.is_empty() => shape.push(items.len()),
                Some(&len) if len == items.len() => {}
                _ => return Err(RAGGED),
            }
            for item in items {
                flatten(item, depth + 1, shape, data)?;
            }
            Ok(())
        }
        _ => Err("must be a number or an array of numbers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape_of(v: Value) -> Result<(Vec<usize>, Vec<f64>), &'static str> {
        let (mut shape, mut data) = (vec![], vec![]);
        flatten(&v, 0, &mut shape, &mut data)?;
        Ok((shape, data))
    }

    #[test]
    fn params_are_rectangular_arrays() {
        assert_eq!(shape_of(json!(2.5)).unwrap(), (vec![], vec![2.5]));
        assert_eq!(shape_of(json!([1, 2])).unwrap(), (vec![2], vec![1.0, 2.0]));
        assert_eq!(
            shape_of(json!([[1, 2], [3, 4], [5, 6]])).unwrap().0,
            vec![3, 2]
        );
        assert!(shape_of(json!([[1, 2], [3]])).is_err());
        assert!(shape_of(json!([1, [2]])).is_err());
        assert!(shape_of(json!([[1], 2])).is_err());
        assert!(shape_of(json!([])).is_err());
        assert!(shape_of(json!(["a"])).is_err());
    }
}
