//! `POST /api/runSimulation` and `POST /api/runFinancialAnalysis`: quantammsim's request
//! shapes, translated into a quantammsim case that tfmm-run executes; the response is the
//! same double-encoded document the front end parses.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tfmm_core::params::{ParamArray, Params, lamb_to_memory_days_clipped};
use tfmm_core::scalar::{sigmoid, squareplus};
use tfmm_data::{MS_PER_DAY, MS_PER_MINUTE, parse_utc};
use tfmm_run::{RunConfig, RunOutput};

use crate::AppState;
use crate::analysis::analysis_json;
use crate::error::{ApiError, ApiResult, Body, ErrorBody, parse_body};

/// A number, or a number written as a string (the front end sends both).
#[derive(Deserialize, Clone, Debug, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Numeric {
    Number(f64),
    Text(String),
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SimulationRunDto {
    /// Accepted and unused, as the reference.
    #[schema(value_type = Option<f64>)]
    pub start_unix: Option<Value>,
    #[schema(value_type = Option<f64>)]
    pub end_unix: Option<Value>,
    /// First simulated minute, UTC `YYYY-MM-DD HH:MM:SS`.
    pub start_date_string: String,
    /// End minute (not simulated); `23:59:00` of the last day or midnight after it.
    pub end_date_string: String,
    pub pool: PoolDto,
    #[serde(default)]
    pub fee_hooks: Vec<FeeHookDto>,
    #[serde(default)]
    pub swap_imports: Vec<SwapDto>,
    #[serde(default)]
    pub gas_price_imports: Vec<UnixValueDto>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolDto {
    pub id: Option<String>,
    pub pool_constituents: Vec<ConstituentDto>,
    pub update_rule: UpdateRuleDto,
    #[serde(default = "yes")]
    pub enable_automatic_arb_bots: bool,
    pub pool_numeraire_coin_code: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConstituentDto {
    pub coin_code: String,
    /// Deposit in this coin, in the quote currency; sets the initial weights and pool value.
    pub market_value: f64,
    pub current_price: Option<f64>,
    pub amount: Option<f64>,
    pub weight: Option<f64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateRuleDto {
    /// A quantammsim rule (`momentum`, `mean_reversion_channel`, `balancer`, ...).
    pub name: String,
    #[serde(rename = "UpdateRuleParameters", default)]
    pub update_rule_parameters: Vec<RuleParameterDto>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RuleParameterDto {
    pub name: String,
    /// One value, or one per constituent in request order.
    pub value: Vec<Numeric>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeeHookDto {
    pub hook_name: String,
    #[serde(default)]
    pub hook_target_tokens: Vec<String>,
    #[serde(default)]
    pub hook_time_steps: Vec<UnixValueDto>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    /// `bps`, `%`, or anything else for a plain fraction.
    #[serde(default)]
    pub unit: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UnixValueDto {
    /// Unix milliseconds, on a whole minute.
    pub unix: i64,
    pub value: f64,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwapDto {
    pub unix: i64,
    pub token_in: String,
    pub token_out: String,
    pub amount_in: f64,
}

/// Rule parameters that are pool settings, not strategy parameters.
const SETTING_PARAMS: &[&str] = &[
    "chunk_period",
    "weight_interpolation_period",
    "arb_quality",
    "noise_trader_ratio",
];

/// The request as tfmm's run config, plus the request-order permutation of the pool's
/// (alphabetical) tokens.
pub struct Translated {
    pub config: RunConfig,
    /// The requested span (unix ms, end exclusive), as in the config.
    pub start_ms: i64,
    pub end_ms: i64,
    /// `order[i]`: the pool index of the request's i-th constituent.
    pub order: Vec<usize>,
    pub request_tokens: Vec<String>,
}

fn numbers(field: &str, values: &[Numeric]) -> ApiResult<Vec<f64>> {
    values
        .iter()
        .enumerate()
        .map(|(j, v)| {
            let x = match v {
                Numeric::Number(x) => Some(*x),
                Numeric::Text(s) => s.trim().parse::<f64>().ok(),
            };
            x.filter(|x| x.is_finite()).ok_or_else(|| {
                ApiError::field(
                    &format!("{field}[{j}]"),
                    format!("{v:?}"),
                    "must be a finite number",
                )
            })
        })
        .collect()
}

fn check_minute(field: &str, unix: i64) -> ApiResult<()> {
    if unix % MS_PER_MINUTE != 0 {
        return Err(ApiError::field(
            field,
            unix,
            "must be unix milliseconds on a whole minute",
        ));
    }
    Ok(())
}

/// The request as a quantammsim case (tokens sorted, per-token values reordered to match),
/// parsed by tfmm-run like any case file.
pub fn translate(state: &AppState, dto: &SimulationRunDto) -> ApiResult<Translated> {
    let pool = &dto.pool;
    let request_tokens: Vec<String> = pool
        .pool_constituents
        .iter()
        .map(|c| c.coin_code.clone())
        .collect();
    let n = request_tokens.len();
    if n < 2 {
        return Err(ApiError::field(
            "pool.poolConstituents",
            format!("{request_tokens:?}"),
            "a pool needs at least 2 constituents",
        ));
    }
    for (i, c) in pool.pool_constituents.iter().enumerate() {
        let field = format!("pool.poolConstituents[{i}].coinCode");
        if request_tokens[..i].contains(&c.coin_code) {
            return Err(ApiError::field(&field, &c.coin_code, "is listed twice"));
        }
        state.check_token(&field, &c.coin_code)?;
        if !(c.market_value.is_finite() && c.market_value > 0.0) {
            return Err(ApiError::field(
                &format!("pool.poolConstituents[{i}].marketValue"),
                c.market_value,
                "must be a positive amount",
            ));
        }
    }
    let mut sorted = request_tokens.clone();
    sorted.sort();
    let order: Vec<usize> = request_tokens
        .iter()
        .map(|t| sorted.iter().position(|s| s == t).unwrap_or(0))
        .collect();
    // Request-order values into pool order.
    let reorder = |values: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; n];
        for (i, &j) in order.iter().enumerate() {
            out[j] = values[i];
        }
        out
    };

    let start = parse_utc(&dto.start_date_string).map_err(|e| {
        ApiError::field(
            "startDateString",
            format!("{:?}", dto.start_date_string),
            &e.to_string(),
        )
    })?;
    let end = parse_utc(&dto.end_date_string).map_err(|e| {
        ApiError::field(
            "endDateString",
            format!("{:?}", dto.end_date_string),
            &e.to_string(),
        )
    })?;
    if end <= start {
        return Err(ApiError::field(
            "endDateString",
            format!("{:?}", dto.end_date_string),
            "must be after startDateString",
        ));
    }
    let max_days = state.settings.limits.max_simulation_days;
    if (end - start) as f64 / MS_PER_DAY as f64 > max_days {
        return Err(ApiError::unprocessable(format!(
            "endDateString = {:?}: the window is longer than this server's limit of {max_days} days",
            dto.end_date_string
        )));
    }

    let total: f64 = pool.pool_constituents.iter().map(|c| c.market_value).sum();
    let weights: Vec<f64> = pool
        .pool_constituents
        .iter()
        .map(|c| c.market_value / total)
        .collect();

    let rule = pool.update_rule.name.clone();
    let base_rule = rule.rsplit("__").next().unwrap_or(&rule);
    let tfmm_rule = tfmm_run::PoolKind::of(base_rule) == tfmm_run::PoolKind::Tfmm;
    let mut fp = Map::new();
    fp.insert("tokens".into(), json!(sorted));
    fp.insert("rule".into(), json!(rule));
    fp.insert("startDateString".into(), json!(dto.start_date_string));
    fp.insert("endDateString".into(), json!(dto.end_date_string));
    fp.insert("initial_pool_value".into(), json!(total));
    fp.insert("do_arb".into(), json!(pool.enable_automatic_arb_bots));
    fp.insert("use_alt_lamb".into(), json!(false));
    // The reference's REST path defaults arb_quality to 0 (it matters to CowAMM pools only).
    fp.insert("arb_quality".into(), json!(0.0));
    if let Some(num) = &pool.pool_numeraire_coin_code {
        if !request_tokens.contains(num) {
            return Err(ApiError::field(
                "pool.poolNumeraireCoinCode",
                format!("{num:?}"),
                "must be one of the pool's constituents",
            ));
        }
        fp.insert("numeraire".into(), json!(num));
    }
    let mut params = Map::new();
    let mut seen = vec![];
    for (i, p) in pool.update_rule.update_rule_parameters.iter().enumerate() {
        let field = format!("pool.updateRule.UpdateRuleParameters[{i}]");
        if seen.contains(&p.name) {
            return Err(ApiError::field(
                &format!("{field}.name"),
                &p.name,
                "is given twice",
            ));
        }
        seen.push(p.name.clone());
        let values = numbers(&format!("{field}.value"), &p.value)?;
        if values.is_empty() {
            return Err(ApiError::field(
                &format!("{field}.value"),
                "[]",
                "needs at least one number",
            ));
        }
        if SETTING_PARAMS.contains(&p.name.as_str()) {
            let v = values[0];
            let setting = if p.name.ends_with("period") {
                if !(v >= 1.0 && v.fract() == 0.0) {
                    return Err(ApiError::field(
                        &format!("{field}.value"),
                        v,
                        "must be a whole number of minutes ≥ 1",
                    ));
                }
                json!(v as u64)
            } else {
                json!(v)
            };
            fp.insert(p.name.clone(), setting);
            continue;
        }
        let value = match values.len() {
            m if m == n => json!(reorder(&values)),
            1 if tfmm_rule => json!(vec![values[0]; n]),
            1 => json!(values[0]),
            _ => json!(values),
        };
        params.insert(p.name.clone(), value);
    }
    for key in ["chunk_period", "weight_interpolation_period"] {
        if !fp.contains_key(key) {
            return Err(ApiError::bad_request(format!(
                "pool.updateRule.UpdateRuleParameters: `{key}` is required (a list with one whole number of minutes)"
            )));
        }
    }
    if !params.contains_key("initial_weights_logits") && !params.contains_key("weights") {
        params.insert("weights".into(), json!(reorder(&weights)));
    }

    let mut case = Map::new();
    // Only the first time-series fee hook with steps counts, as in the reference.
    if let Some((h, hook)) = dto
        .fee_hooks
        .iter()
        .enumerate()
        .find(|(_, h)| h.hook_name == "timeSeriesFeeImport" && !h.hook_time_steps.is_empty())
    {
        let divisor = match hook.unit.as_str() {
            "bps" => 10_000.0,
            "%" => 100.0,
            _ => 1.0,
        };
        let (unix, fees) = points(
            &format!("feeHooks[{h}].hookTimeSteps"),
            &hook.hook_time_steps,
            divisor,
        )?;
        if fees.windows(2).all(|w| w[0] == w[1]) {
            fp.insert("fees".into(), json!(fees[0]));
        } else {
            case.insert("fees_df".into(), json!({"unix": unix, "fees": fees}));
        }
    }
    if !dto.gas_price_imports.is_empty() {
        let (unix, gas) = points("gasPriceImports", &dto.gas_price_imports, 1.0)?;
        if gas.windows(2).all(|w| w[0] == w[1]) {
            fp.insert("gas_cost".into(), json!(gas[0]));
        } else {
            case.insert(
                "gas_cost_df".into(),
                json!({"unix": unix, "trade_gas_cost_usd": gas}),
            );
        }
    }
    if !dto.swap_imports.is_empty() {
        let mut cols: [Vec<Value>; 4] = Default::default();
        for (i, s) in dto.swap_imports.iter().enumerate() {
            check_minute(&format!("swapImports[{i}].unix"), s.unix)?;
            for (name, t) in [("tokenIn", &s.token_in), ("tokenOut", &s.token_out)] {
                if !request_tokens.contains(t) {
                    return Err(ApiError::field(
                        &format!("swapImports[{i}].{name}"),
                        format!("{t:?}"),
                        "is not one of the pool's constituents",
                    ));
                }
            }
            if !(s.amount_in.is_finite() && s.amount_in > 0.0) {
                return Err(ApiError::field(
                    &format!("swapImports[{i}].amountIn"),
                    s.amount_in,
                    "must be a positive amount",
                ));
            }
            cols[0].push(json!(s.unix));
            cols[1].push(json!(s.token_in));
            cols[2].push(json!(s.token_out));
            cols[3].push(json!(s.amount_in));
        }
        let [unix, token_in, token_out, amount_in] = cols;
        case.insert(
            "raw_trades".into(),
            json!({"unix": unix, "token_in": token_in, "token_out": token_out, "amount_in": amount_in}),
        );
    }
    case.insert("run_fingerprint".into(), Value::Object(fp));
    case.insert("params".into(), Value::Object(params));
    if let Some(id) = &pool.id {
        case.insert("name".into(), json!(id));
    }
    let config = tfmm_run::config::parse(&Value::Object(case)).map_err(|e| {
        ApiError::unprocessable(format!(
            "the pool this request describes is not runnable: {e}"
        ))
    })?;
    Ok(Translated {
        config,
        start_ms: start,
        end_ms: end,
        order,
        request_tokens,
    })
}

fn points(field: &str, steps: &[UnixValueDto], divisor: f64) -> ApiResult<(Vec<i64>, Vec<f64>)> {
    let mut unix = Vec::with_capacity(steps.len());
    let mut values = Vec::with_capacity(steps.len());
    for (i, s) in steps.iter().enumerate() {
        check_minute(&format!("{field}[{i}].unix"), s.unix)?;
        if unix.last().is_some_and(|&u| s.unix <= u) {
            return Err(ApiError::field(
                &format!("{field}[{i}].unix"),
                s.unix,
                "must be later than the step before",
            ));
        }
        if !(s.value.is_finite() && s.value >= 0.0) {
            return Err(ApiError::field(
                &format!("{field}[{i}].value"),
                s.value,
                "must be a non-negative number",
            ));
        }
        unix.push(s.unix);
        values.push(s.value / divisor);
    }
    Ok((unix, values))
}

/// quantammsim's decimal strings for on-chain parameters: 18 decimals, point removed.
pub fn bd18(x: f64) -> String {
    if !x.is_finite() {
        return "0".into();
    }
    let s = format!("{:.18}", x.abs()).replace('.', "");
    let digits = s.trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if x < 0.0 && digits != "0" {
        format!("-{digits}")
    } else {
        digits.to_string()
    }
}

/// Pool-order values back into the request's constituent order.
fn request_order(order: &[usize], pool: &[f64]) -> Vec<f64> {
    order.iter().map(|&j| pool[j]).collect()
}

/// A parameter's values with its per-asset axis (the last, when it has one per token) in
/// request order; other parameters as they are.
fn request_order_of(arr: &ParamArray<f64>, order: &[usize]) -> Vec<f64> {
    let n = order.len();
    if arr.shape.last() == Some(&n) {
        arr.data
            .chunks_exact(n)
            .flat_map(|row| request_order(order, row))
            .collect()
    } else {
        arr.data.clone()
    }
}

/// Each parameter as a list (a matrix as nested lists), per-asset axes in request order.
fn parameters_json(params: &Params<f64>, order: &[usize]) -> Map<String, Value> {
    params
        .iter()
        .filter(|(name, _)| !["initial_weights_logits", "initial_pool_value"].contains(name))
        .map(|(name, arr)| {
            let data = request_order_of(arr, order);
            let value = if arr.shape.len() >= 2 {
                tfmm_run::config::array_json(&arr.shape, &data)
            } else {
                json!(data)
            };
            (name.to_string(), value)
        })
        .collect()
}

/// What the pool's parameters mean on chain: λ, memory, k, and the channel rules' shape.
fn smart_contract_parameters(config: &RunConfig, order: &[usize]) -> Value {
    let p = &config.params;
    let n = order.len();
    let get = |name: &str| -> Option<Vec<f64>> {
        let arr = p.get(name)?;
        Some(match arr.data.len() {
            1 => vec![arr.data[0]; n],
            _ => request_order_of(arr, order),
        })
    };
    let chunk = config.weights.rule.chunk_period as f64;
    let max_days = config.weights.rule.max_memory_days;
    let mut values = Map::new();
    let memory = get("logit_lamb").map(|l| {
        let lamb: Vec<f64> = l.iter().map(|&x| sigmoid(x)).collect();
        let days: Vec<f64> = lamb
            .iter()
            .map(|&x| lamb_to_memory_days_clipped(x, chunk, max_days))
            .collect();
        values.insert("lamb".into(), json!(lamb));
        values.insert("memory_days".into(), json!(days));
        days
    });
    let per_day = |v: Vec<f64>| -> Vec<f64> {
        match &memory {
            Some(m) => v.iter().zip(m).map(|(a, b)| a * b).collect(),
            None => v,
        }
    };
    if let Some(lk) = get("log_k") {
        values.insert(
            "k".into(),
            json!(per_day(lk.iter().map(|x| x.exp2()).collect())),
        );
    } else if let Some(k) = get("k") {
        values.insert("k".into(), json!(per_day(k)));
    }
    if let Some(e) = get("raw_exponents") {
        values.insert(
            "exponents".into(),
            json!(e.iter().map(|&x| squareplus(x)).collect::<Vec<_>>()),
        );
    }
    if let Some(w) = get("raw_width") {
        values.insert(
            "width".into(),
            json!(w.iter().map(|x| x.exp2()).collect::<Vec<_>>()),
        );
    }
    if let Some(a) = get("log_amplitude") {
        values.insert(
            "amplitude".into(),
            json!(per_day(a.iter().map(|x| x.exp2()).collect())),
        );
    }
    if let Some(s) = get("logit_pre_exp_scaling") {
        values.insert(
            "pre_exp_scaling".into(),
            json!(s.iter().map(|&x| sigmoid(x)).collect::<Vec<_>>()),
        );
    } else if let Some(s) = get("raw_pre_exp_scaling") {
        values.insert(
            "pre_exp_scaling".into(),
            json!(s.iter().map(|x| x.exp2()).collect::<Vec<_>>()),
        );
    }
    let strings: Map<String, Value> = values
        .iter()
        .map(|(k, v)| {
            let s: Vec<String> = v
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).map(bd18).collect())
                .unwrap_or_default();
            (k.clone(), json!(s))
        })
        .collect();
    json!({"values": values, "strings": strings})
}

/// Daily returns of values sampled every 1440 minutes from the first: a leading 0 (the
/// reference's analysis has a return for the first day too), then the day-on-day change.
fn daily_returns(values: &[f64]) -> Vec<f64> {
    std::iter::once(0.0)
        .chain(tfmm_core::metrics::daily_returns(values))
        .collect()
}

fn run(state: &AppState, config: &RunConfig) -> ApiResult<RunOutput> {
    let table = state
        .prices(&config.tokens)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    Ok(tfmm_run::run_on_table(
        config,
        &table,
        state.settings.data_dir.as_deref(),
        None,
    )?)
}

/// The whole computation of one runSimulation request: pool, HODL benchmark, analysis.
pub fn simulate(state: &AppState, dto: &SimulationRunDto) -> ApiResult<Value> {
    let Translated {
        config,
        start_ms,
        end_ms,
        order,
        request_tokens,
    } = translate(state, dto)?;
    // The weights a pool started with these settings would hold now: the run goes on to the
    // last midnight of the data when that is later (and within the length limit). Nothing
    // looks ahead, so its first minutes are the requested run; one simulation serves both.
    let table = state
        .prices(&config.tokens)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let last_ms = table.last_ms();
    let last_midnight = last_ms.div_euclid(MS_PER_DAY) * MS_PER_DAY;
    let limit_ms = (state.settings.limits.max_simulation_days * MS_PER_DAY as f64) as i64;
    let mut run_config = config.clone();
    if last_midnight > end_ms && last_midnight - start_ms <= limit_ms {
        run_config.end = tfmm_data::format_utc(last_midnight);
    }
    let out = run(state, &run_config)?;
    let n = order.len();
    let traj = &out.trajectory;
    let rows =
        usize::try_from((end_ms - out.start_ms) / MS_PER_MINUTE).map_or(0, |r| r.min(out.n_rows()));
    let values = &traj.values[..rows];

    let mut hodl_config = config.clone();
    hodl_config.rule = "hodl".into();
    hodl_config.market = Default::default();
    hodl_config.params = Params::new().with(
        "initial_weights_logits",
        config
            .params
            .get("initial_weights_logits")
            .cloned()
            .unwrap_or_else(|| tfmm_core::params::ParamArray::vector(vec![0.0; n])),
    );
    let hodl = run(state, &hodl_config)?;

    let time_steps: Vec<Value> = (0..rows)
        .step_by(1440)
        .map(|row| {
            let value = values[row];
            let coins: Vec<Value> = (0..n)
                .map(|i| {
                    let j = order[i];
                    let price = out.prices[row * n + j];
                    let amount = traj.reserves[row * n + j];
                    json!({
                        "coinCode": request_tokens[i],
                        "currentPrice": price,
                        "amount": amount,
                        "weight": amount * price / value,
                        "marketValue": amount * price,
                    })
                })
                .collect();
            json!({"unix": out.unix_ms(row), "coinsHeld": coins, "timeStepTotal": value})
        })
        .collect();

    let first_day = out.start_ms.div_euclid(MS_PER_DAY);
    let p = daily_returns(values);
    let b = daily_returns(&hodl.trajectory.values);
    let days: Vec<i64> = (0..p.len() as i64).map(|k| first_day + k).collect();
    let rf = state.risk_free("3M TBill (DTB3)");
    let mut analysis = analysis_json(
        &days,
        &p,
        &[("hodl".into(), b)],
        &rf.daily(&days),
        &rf.label,
    );

    let final_weights = request_order(&order, out.final_weights());
    analysis.insert("readouts".into(), Value::Null);
    analysis.insert("final_unix_timestamp".into(), json!(last_ms));
    analysis.insert(
        "final_weights_strings".into(),
        json!(final_weights.iter().map(|&w| bd18(w)).collect::<Vec<_>>()),
    );
    analysis.insert("final_weights".into(), json!(final_weights));
    analysis.insert(
        "jax_parameters".into(),
        Value::Object(parameters_json(&config.params, &order)),
    );
    analysis.insert(
        "smart_contract_parameters".into(),
        smart_contract_parameters(&config, &order),
    );
    // tfmm's additions: the exact end of the run, for clients that check it.
    analysis.insert("final_value".into(), json!(values.last()));
    analysis.insert("hodl_final_value".into(), json!(hodl.final_value()));
    analysis.insert("tokens".into(), json!(request_tokens));
    Ok(json!({"timeSteps": time_steps, "analysis": analysis}))
}

/// The reference's wire format: the document as JSON text, sent as a JSON string.
fn double_encoded(doc: &Value) -> Response {
    let inner = doc.to_string();
    let outer = Value::String(inner).to_string();
    ([(header::CONTENT_TYPE, "application/json")], outer).into_response()
}

/// Runs a pool and a HODL benchmark over historic prices: daily snapshots and financial
/// metrics.
#[utoipa::path(
    post,
    path = "/api/runSimulation",
    request_body = SimulationRunDto,
    responses(
        (status = 200, description = "A JSON string whose content is the document {timeSteps, analysis} (decode twice)", body = String),
        (status = 400, description = "Malformed or invalid request", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Valid JSON that describes no runnable pool", body = ErrorBody),
        (status = 503, description = "Too many simulations queued; see Retry-After", body = ErrorBody),
    )
)]
pub async fn run_simulation(
    State(state): State<Arc<AppState>>,
    Body(body): Body,
) -> ApiResult<Response> {
    let dto: SimulationRunDto = parse_body(&body)?;
    let doc = state.compute(move |s| simulate(s, &dto)).await?;
    Ok(double_encoded(&doc))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FinancialAnalysisRequestDto {
    pub start_date_string: Option<String>,
    pub end_date_string: Option<String>,
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Rows `[unix_ms, portfolio_return, benchmark_1_return, ...]` of daily returns.
    pub returns: Vec<Vec<f64>>,
    #[serde(default)]
    pub benchmarks: Vec<String>,
}

/// The financial analysis of given daily returns, against each named benchmark.
pub fn financial_analysis(state: &AppState, dto: &FinancialAnalysisRequestDto) -> ApiResult<Value> {
    let width = 2 + dto.benchmarks.len();
    let mut by_day: Vec<(i64, &[f64])> = Vec::with_capacity(dto.returns.len());
    for (i, row) in dto.returns.iter().enumerate() {
        if row.len() != width {
            return Err(ApiError::field(
                &format!("returns[{i}]"),
                format!("{} numbers", row.len()),
                &format!(
                    "each row must be [unix_ms, portfolio, one per benchmark] ({width} numbers)"
                ),
            ));
        }
        let day = (row[0] as i64).div_euclid(MS_PER_DAY);
        if row.iter().any(|x| !x.is_finite()) {
            return Err(ApiError::field(
                &format!("returns[{i}]"),
                format!("{row:?}"),
                "must be finite numbers",
            ));
        }
        by_day.push((day, &row[1..]));
    }
    // The first row of each day counts: a stable sort keeps rows of a day in their order.
    by_day.sort_by_key(|r| r.0);
    by_day.dedup_by_key(|r| r.0);
    if by_day.len() < 2 {
        return Err(ApiError::field(
            "returns",
            format!("{} days", by_day.len()),
            "needs at least 2 days",
        ));
    }
    let (first, last) = (by_day[0].0, by_day[by_day.len() - 1].0);
    if (last - first) as f64 > state.settings.limits.max_simulation_days {
        return Err(ApiError::unprocessable(
            "returns: spans more days than this server's limit",
        ));
    }
    let days: Vec<i64> = (first..=last).collect();
    // Missing days are days without a return.
    let mut columns = vec![vec![0.0; days.len()]; width - 1];
    for (d, values) in &by_day {
        for (c, v) in values.iter().enumerate() {
            columns[c][(d - first) as usize] = *v;
        }
    }
    let rf = state.risk_free("3M T-Bill Returns");
    let benchmarks: Vec<(String, Vec<f64>)> = dto
        .benchmarks
        .iter()
        .cloned()
        .zip(columns[1..].iter().cloned())
        .collect();
    let analysis = analysis_json(&days, &columns[0], &benchmarks, &rf.daily(&days), &rf.label);
    Ok(json!({"analysis": analysis}))
}

/// quantammsim's financial analysis of a daily return series (and benchmarks).
#[utoipa::path(
    post,
    path = "/api/runFinancialAnalysis",
    request_body = FinancialAnalysisRequestDto,
    responses(
        (status = 200, description = "A JSON string whose content is {analysis} (decode twice)", body = String),
        (status = 400, description = "Malformed or invalid request", body = ErrorBody),
    )
)]
pub async fn run_financial_analysis(
    State(state): State<Arc<AppState>>,
    Body(body): Body,
) -> ApiResult<Response> {
    let dto: FinancialAnalysisRequestDto = parse_body(&body)?;
    let doc = state.compute(move |s| financial_analysis(s, &dto)).await?;
    Ok(double_encoded(&doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_come_back_in_request_order_and_shape() {
        // Pool order (BTC, ETH); the request listed ETH first.
        let params = Params::new()
            .with("k", ParamArray::vector(vec![1.0, 2.0]))
            .with(
                "logit_lamb",
                ParamArray::stack(&[vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]),
            )
            .with("width", ParamArray::scalar(0.5));
        let order = [1, 0];
        let json = Value::Object(parameters_json(&params, &order));
        assert_eq!(
            json,
            json!({"k": [2.0, 1.0], "logit_lamb": [[2.0, 1.0], [4.0, 3.0], [6.0, 5.0]], "width": [0.5]})
        );
    }

    #[test]
    fn bd18_strings_match_the_reference() {
        assert_eq!(bd18(0.5), "500000000000000000");
        assert_eq!(bd18(0.0), "0");
        assert_eq!(bd18(20.0), "20000000000000000000");
    }
}
