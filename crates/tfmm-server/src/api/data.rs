//! The data and housekeeping endpoints: daily prices, the coin comparison table, the product
//! and filter stubs, the audit log and the liveness checks.

use std::io::{Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tfmm_data::{MS_PER_DAY, MS_PER_MINUTE, PriceTable};

use crate::analysis::format_day;
use crate::error::{ApiError, ApiResult, Body, ErrorBody, parse_body};
use crate::{AppState, lock};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoinRequest {
    /// A token the server has prices for (`BTC`).
    pub coin_code: String,
}

/// Daily open, high, low and close of one token's minute column (UTC days; `unix` is the
/// day's last minute, as the reference's files).
fn daily_rows(table: &PriceTable, col: usize, symbol: &str) -> Vec<Value> {
    let prices = table.column(col);
    let mut out = vec![];
    let mut i = 0;
    while i < prices.len() {
        let day = (table.unix_ms(i)).div_euclid(MS_PER_DAY);
        let end = (((day + 1) * MS_PER_DAY - table.start_ms) / MS_PER_MINUTE) as usize;
        let slice = &prices[i..end.min(prices.len())];
        let (lo, hi) = slice
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &p| {
                (lo.min(p), hi.max(p))
            });
        out.push(json!({
            "date": format_day(day),
            "unix": table.unix_ms(i + slice.len() - 1),
            "symbol": format!("{symbol}/USD"),
            "open": slice[0],
            "high": hi,
            "low": lo,
            "close": slice[slice.len() - 1],
        }));
        i += slice.len();
    }
    out
}

/// Every day of a token's price history: `[{date, unix, symbol, open, high, low, close}]`.
#[utoipa::path(
    post,
    path = "/api/loadHistoricDailyPrices",
    request_body = CoinRequest,
    responses(
        (status = 200, description = "Daily price records", body = Object),
        (status = 400, description = "Missing or unknown coinCode", body = ErrorBody),
    )
)]
pub async fn load_historic_daily_prices(
    State(state): State<Arc<AppState>>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let req: CoinRequest = parse_body(&body)?;
    let coin = req.coin_code;
    state.check_token("coinCode", &coin)?;
    let rows = state
        .compute(move |s| {
            let table = s
                .prices(std::slice::from_ref(&coin))
                .map_err(|e| ApiError::unprocessable(e.to_string()))?;
            Ok(daily_rows(&table, 0, &coin))
        })
        .await?;
    Ok(Json(Value::Array(rows)))
}

/// Covariance and tracking error of daily returns for every pair of tokens in the data.
fn coin_comparison(state: &AppState) -> ApiResult<Value> {
    // Computed once per server: the readable files only, so one stray file does not sink it.
    let tokens: Vec<String> = tfmm_data::inventory(state.source())
        .map_err(|e| ApiError::unprocessable(e.to_string()))?
        .into_iter()
        .filter_map(|(t, file)| file.is_ok().then_some(t))
        .collect();
    let table = state
        .prices(&tokens)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let returns: Vec<Vec<f64>> = (0..tokens.len())
        .map(|c| tfmm_core::metrics::daily_returns(&table.column(c)))
        .collect();
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len().max(1) as f64;
    let mut rows = vec![];
    for i in 0..tokens.len() {
        for j in i + 1..tokens.len() {
            let (a, b) = (&returns[i], &returns[j]);
            let m = a.len().min(b.len());
            let (ma, mb) = (mean(&a[..m]), mean(&b[..m]));
            let denom = m.saturating_sub(1).max(1) as f64;
            let cov = (0..m).map(|k| (a[k] - ma) * (b[k] - mb)).sum::<f64>() / denom;
            let d: Vec<f64> = (0..m).map(|k| a[k] - b[k]).collect();
            let md = mean(&d);
            let te = (d.iter().map(|x| (x - md).powi(2)).sum::<f64>() / denom).sqrt();
            rows.push(json!({
                "coinPair": format!("{}/{}", tokens[i], tokens[j]),
                "covariance": cov,
                "trackingError": te,
            }));
        }
    }
    Ok(Value::Array(rows))
}

/// `[{coinPair, covariance, trackingError}]` over the daily returns of the data's tokens.
#[utoipa::path(
    post,
    path = "/api/loadCoinComparisonData",
    responses((status = 200, description = "One record per pair of tokens", body = Object))
)]
pub async fn load_coin_comparison_data(
    State(state): State<Arc<AppState>>,
) -> ApiResult<Json<Value>> {
    let st = state.clone();
    let value = state
        .coin_comparison
        .get_or_try_init(|| async move { st.compute(coin_comparison).await })
        .await?;
    Ok(Json(value.clone()))
}

const DEFAULT_FILTERS: &str = r#"[
  {"chain": ["ARBITRUM", "AVALANCHE", "BASE", "FANTOM", "FRAXTAL", "GNOSIS", "MAINNET", "MODE", "OPTIMISM", "POLYGON", "SEPOLIA", "SONIC", "ZKEVM"]},
  {"poolType": ["QUANT_AMM_WEIGHTED", "COMPOSABLE_STABLE", "COW_AMM", "ELEMENT", "FX", "GYRO", "GYRO3", "GYROE", "INVESTMENT", "LIQUIDITY_BOOTSTRAPPING", "META_STABLE", "PHANTOM_STABLE", "STABLE", "UNKNOWN", "WEIGHTED"]}
]"#;

/// `<data-dir>/stubs/<name>` if present, else `default`.
fn stub(state: &AppState, name: &str, default: &str) -> ApiResult<Json<Value>> {
    let file = state
        .settings
        .data_dir
        .as_ref()
        .map(|d| d.join("stubs").join(name))
        .filter(|p| p.exists());
    let text = match &file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?,
        None => default.to_string(),
    };
    serde_json::from_str(&text)
        .map(Json)
        .map_err(|e| ApiError::internal(format!("stubs/{name}: not JSON: {e}")))
}

/// The front end's pool list: `<data-dir>/stubs/productStubs.json`, else no pools.
#[utoipa::path(get, path = "/api/products", responses((status = 200, description = "{\"poolGetPools\": [...]}", body = Object)))]
pub async fn products(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    stub(&state, "productStubs.json", r#"{"poolGetPools": []}"#)
}

/// The front end's filter lists (chains, pool types).
#[utoipa::path(get, path = "/api/filters", responses((status = 200, description = "[{\"chain\": [...]}, {\"poolType\": [...]}]", body = Object)))]
pub async fn filters(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    stub(&state, "filterStubs.json", DEFAULT_FILTERS)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogRequest {
    /// The visitor id the front end computed.
    pub user: String,
    pub page: String,
    pub tos_agreement: bool,
    pub is_mobile: bool,
    /// `<anything>, <timezone>`.
    pub timestamp: String,
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key client addresses are hashed with: `IP_HASH_PEPPER`, else one drawn at start (so
/// no fixed secret ships with the code; hashes then change across restarts).
fn pepper() -> &'static [u8] {
    static PEPPER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PEPPER.get_or_init(|| match std::env::var("IP_HASH_PEPPER") {
        Ok(p) if !p.is_empty() => p.into_bytes(),
        _ => {
            use std::hash::{BuildHasher, RandomState};
            (0..4)
                .flat_map(|i| RandomState::new().hash_one(i).to_le_bytes())
                .collect()
        }
    })
}

/// Records a page view: one row per (minute, user, page, agreement, device, timezone, client),
/// counted, in `<audit-dir>/<UTC midnight, epoch s>.jsonl`.
#[utoipa::path(
    post,
    path = "/api/runAuditLog",
    request_body = AuditLogRequest,
    responses(
        (status = 200, description = "{\"message\": \"Audit log updated successfully.\"}", body = Object),
        (status = 400, description = "Missing or mistyped field", body = ErrorBody),
    )
)]
pub async fn run_audit_log(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let req: AuditLogRequest = parse_body(&body)?;
    for (field, text) in [
        ("user", &req.user),
        ("page", &req.page),
        ("timestamp", &req.timestamp),
    ] {
        if text.len() > MAX_AUDIT_TEXT {
            return Err(ApiError::field(
                field,
                format!("{} bytes", text.len()),
                &format!("at most {MAX_AUDIT_TEXT} bytes"),
            ));
        }
    }
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let ip = match forwarded {
        Some(f) => f
            .parse::<SocketAddr>()
            .map(|a| a.ip())
            .or_else(|_| f.parse::<std::net::IpAddr>())
            .map(|ip| ip.to_canonical().to_string())
            .unwrap_or(f),
        None => peer.ip().to_canonical().to_string(),
    };
    let timezone = match req.timestamp.rsplit_once(',') {
        Some((_, tz)) => tz.trim().to_string(),
        None => "Unknown".to_string(),
    };
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let minute = now_s - now_s % 60;
    let row = json!({
        "timestamp": minute,
        "user": req.user,
        "page": req.page,
        "tosAgreement": req.tos_agreement,
        "isMobile": req.is_mobile,
        "timezone": timezone,
        "flask_user": hmac_sha256(pepper(), ip.as_bytes()),
    });
    let dir = state.settings.audit_dir.clone();
    let file = dir.join(format!("{}.jsonl", now_s - now_s.rem_euclid(86_400)));
    let st = state.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        lock(&st.audit).upsert(&file, minute, row)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(format!("audit log: {e}")))?;
    Ok(Json(json!({"message": "Audit log updated successfully."})))
}

/// The longest `user`, `page` or `timestamp` an audit row keeps (a visitor id, a path and a
/// date with a timezone are far shorter).
const MAX_AUDIT_TEXT: usize = 512;

/// The audit log's rows of the current minute. A row's identity includes its minute, so
/// only these can still be counted up: a request rewrites them alone, at the end of the
/// day's file, rather than the whole file. (A server restarted within a minute starts that
/// minute's rows afresh; the earlier ones stay, their counts intact.)
#[derive(Debug, Default)]
pub struct AuditTail {
    file: PathBuf,
    minute: i64,
    /// Where the minute's rows start in the file.
    offset: u64,
    rows: Vec<Value>,
}

impl AuditTail {
    /// Counts `row` (without `count`) in `file`: one more on an identical row of this
    /// minute, else a new row with count 1.
    fn upsert(&mut self, file: &Path, minute: i64, row: Value) -> std::io::Result<()> {
        if self.file != file || self.minute != minute {
            self.offset = std::fs::metadata(file).map_or(0, |m| m.len());
            self.file = file.to_path_buf();
            self.minute = minute;
            self.rows.clear();
        }
        let same = |r: &Value| {
            r.as_object().is_some_and(|o| {
                row.as_object()
                    .is_some_and(|n| n.iter().all(|(k, v)| o.get(k) == Some(v)))
            })
        };
        match self.rows.iter_mut().find(|r| same(r)) {
            Some(r) => r["count"] = json!(r["count"].as_u64().unwrap_or(0) + 1),
            None => {
                let mut r = row;
                r["count"] = json!(1);
                self.rows.push(r);
            }
        }
        let tail: String = self.rows.iter().map(|r| r.to_string() + "\n").collect();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(file)?;
        f.set_len(self.offset)?;
        f.seek(SeekFrom::Start(self.offset))?;
        f.write_all(tail.as_bytes())
    }
}

#[utoipa::path(get, path = "/api/test", responses((status = 200, description = "Hello World", body = String)))]
pub async fn test() -> &'static str {
    "Hello World"
}

#[utoipa::path(get, path = "/health", responses((status = 200, description = "OK", body = String)))]
pub async fn health() -> &'static str {
    "OK"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(file: &Path) -> Vec<Value> {
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn audit_rows_are_counted_within_their_minute_and_earlier_rows_stay() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("0.jsonl");
        // A row written before this server started.
        std::fs::write(&file, "{\"timestamp\":0,\"user\":\"old\",\"count\":4}\n").unwrap();
        let mut tail = AuditTail::default();
        let row = |minute: i64, user: &str| json!({"timestamp": minute, "user": user});
        tail.upsert(&file, 60, row(60, "a")).unwrap();
        tail.upsert(&file, 60, row(60, "b")).unwrap();
        tail.upsert(&file, 60, row(60, "a")).unwrap();
        let want = |rows: &[(i64, &str, u64)]| -> Vec<Value> {
            rows.iter()
                .map(|&(t, u, c)| json!({"timestamp": t, "user": u, "count": c}))
                .collect()
        };
        assert_eq!(
            lines(&file),
            want(&[(0, "old", 4), (60, "a", 2), (60, "b", 1)])
        );
        // The next minute: the same user is a new row; the last minute's rows are final.
        tail.upsert(&file, 120, row(120, "a")).unwrap();
        tail.upsert(&file, 120, row(120, "a")).unwrap();
        assert_eq!(
            lines(&file),
            want(&[(0, "old", 4), (60, "a", 2), (60, "b", 1), (120, "a", 2)])
        );
    }
}
