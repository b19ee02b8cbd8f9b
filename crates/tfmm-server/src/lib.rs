//! tfmm's HTTP API: quantammsim's Flask endpoints (same paths, methods and JSON shapes, its
//! client-visible bugs fixed), asynchronous training jobs persisted across restarts, and an
//! OpenAPI document generated from the handlers. `tfmm serve` runs [`serve`]; tests and the
//! load test start one in-process with [`spawn`].

pub mod analysis;
pub mod api;
pub mod client;
pub mod error;
pub mod jobs;
pub mod openapi;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tfmm_data::{PriceTable, Source};
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::{ApiError, ApiResult};
use crate::jobs::Jobs;

/// What a client may ask of the server at once.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body, bytes (413 past it).
    pub max_body_bytes: usize,
    /// Longest simulation window a request may ask for, days.
    pub max_simulation_days: f64,
    /// Simulations computed at once (CPU-bound: about one per core).
    pub max_concurrent: usize,
    /// Simulations waiting for a slot; past it, 503 with Retry-After.
    pub max_queue: usize,
    /// Whole-request limit, waiting included (504 past it).
    pub timeout: Duration,
    /// Training jobs waiting to run (one runs at a time); past it, 503 with Retry-After.
    pub max_training_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 2 << 20,
            // Three years of minutes: quantammsim's front end asks for at most a few months.
            max_simulation_days: 3.0 * 365.0,
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_queue: 64,
            timeout: Duration::from_secs(120),
            max_training_queue: 16,
        }
    }
}

/// How the server is started.
#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: SocketAddr,
    /// Price files (`<TOKEN>.csv`, ...), `DTB3.csv`, `stubs/`; `None`: the embedded data.
    pub data_dir: Option<PathBuf>,
    /// Training jobs and their progress, kept across restarts.
    pub jobs_dir: PathBuf,
    /// Audit-log rows (`POST /api/runAuditLog`), one JSON-lines file per UTC day.
    pub audit_dir: PathBuf,
    /// Origins allowed by CORS; empty: any origin (as the reference).
    pub cors_origins: Vec<String>,
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 5001)),
            data_dir: None,
            jobs_dir: PathBuf::from("jobs"),
            audit_dir: PathBuf::from("audit_logs"),
            cors_origins: vec![],
            limits: Limits::default(),
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub settings: Settings,
    pub jobs: Jobs,
    /// Loaded price tables by token set, most recently used first.
    prices: Mutex<Vec<(Vec<String>, Arc<PriceTable>)>>,
    slots: Arc<Semaphore>,
    /// Simulations admitted and not yet finished: running plus waiting.
    admitted: Arc<AtomicUsize>,
    pub(crate) audit: Mutex<api::data::AuditTail>,
    pub(crate) coin_comparison: tokio::sync::OnceCell<serde_json::Value>,
    risk_free_rates: std::sync::OnceLock<Arc<[(i64, f64)]>>,
}

/// Price tables kept in memory: a few token sets cover a front end's traffic, and loading the
/// embedded archives costs more than a one-month simulation.
const PRICE_CACHE_ENTRIES: usize = 8;

impl AppState {
    pub fn new(settings: Settings) -> std::io::Result<Arc<AppState>> {
        let jobs = Jobs::open(
            &settings.jobs_dir,
            settings.data_dir.clone(),
            settings.limits.max_training_queue,
        )?;
        Ok(Arc::new(AppState {
            slots: Arc::new(Semaphore::new(settings.limits.max_concurrent.max(1))),
            admitted: Arc::new(AtomicUsize::new(0)),
            prices: Mutex::new(Vec::new()),
            audit: Mutex::new(Default::default()),
            coin_comparison: tokio::sync::OnceCell::new(),
            risk_free_rates: std::sync::OnceLock::new(),
            jobs,
            settings,
        }))
    }

    pub fn source(&self) -> Source<'_> {
        self.settings
            .data_dir
            .as_deref()
            .map_or(Source::Embedded, Source::Dir)
    }

    /// The prices of `tokens` (pool order), from the cache or loaded. Blocking. The cache
    /// keeps the most recently used token sets: a full cache drops the least recent one.
    pub fn prices(&self, tokens: &[String]) -> Result<Arc<PriceTable>, tfmm_data::DataError> {
        {
            let mut cache = lock(&self.prices);
            if let Some(i) = cache.iter().position(|(k, _)| k == tokens) {
                let hit = cache.remove(i);
                let table = hit.1.clone();
                cache.insert(0, hit);
                return Ok(table);
            }
        }
        let table = Arc::new(tfmm_data::load(self.source(), tokens)?);
        let mut cache = lock(&self.prices);
        cache.truncate(PRICE_CACHE_ENTRIES - 1);
        cache.insert(0, (tokens.to_vec(), table.clone()));
        Ok(table)
    }

    /// The risk-free rate of the data folder's `DTB3.csv` under `label` (read once).
    pub fn risk_free(&self, label: &str) -> analysis::RiskFree {
        let rates = self
            .risk_free_rates
            .get_or_init(|| analysis::RiskFree::read_rates(self.settings.data_dir.as_deref()));
        analysis::RiskFree::new(rates, label)
    }

    /// Refuses a `token` (request field `field`) that is not a ticker (letters, digits, `_`,
    /// `-`: nothing that could reach outside the data folder) or has no price data.
    pub fn check_token(&self, field: &str, token: &str) -> ApiResult<()> {
        let ticker = !token.is_empty()
            && token
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        if ticker && self.has_token(token) {
            return Ok(());
        }
        Err(ApiError::field(
            field,
            format!("{token:?}"),
            &format!(
                "unknown token: no price data (available: {})",
                self.available_tokens().join(", ")
            ),
        ))
    }

    /// Whether the data has a price file for `token` (quote currencies are priced 1).
    pub fn has_token(&self, token: &str) -> bool {
        tfmm_data::QUOTE_TOKENS.contains(&token)
            || match &self.settings.data_dir {
                None => tfmm_data::embedded::bytes(token).is_some(),
                Some(dir) => tfmm_data::find_token_file(dir, token).is_ok(),
            }
    }

    /// The tokens the data offers, for error messages: by file name (reading and hashing
    /// every file would make each unknown-token request cost a full data scan).
    pub fn available_tokens(&self) -> Vec<String> {
        tfmm_data::tokens(self.source()).unwrap_or_default()
    }

    /// Runs CPU-bound `work` on the blocking pool once a slot is free; refuses with 503 when
    /// more than `max_concurrent + max_queue` are already admitted. The slot is held until
    /// `work` ends even if the client has gone (a timed-out request still occupies a core).
    pub async fn compute<T, F>(self: &Arc<Self>, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&AppState) -> ApiResult<T> + Send + 'static,
    {
        let l = &self.settings.limits;
        let capacity = l.max_concurrent.max(1) + l.max_queue;
        let admitted = Admitted::try_new(&self.admitted, capacity).ok_or_else(|| {
            ApiError::busy(
                format!(
                    "server busy: {capacity} simulations running or queued (max_concurrent {} + max_queue {}); retry later",
                    l.max_concurrent, l.max_queue
                ),
                1,
            )
        })?;
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("the simulation queue is closed"))?;
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let _held = (permit, admitted);
            work(&state)
        })
        .await
        .map_err(|e| ApiError::internal(format!("simulation failed: {e}")))?
    }
}

/// One admitted simulation; released on drop, wherever that happens.
struct Admitted(Arc<AtomicUsize>);

impl Admitted {
    fn try_new(counter: &Arc<AtomicUsize>, capacity: usize) -> Option<Admitted> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .ok()
            .map(|_| Admitted(counter.clone()))
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A poisoned lock only means another request panicked mid-update of a cache or log; the
/// data is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The application: every endpoint and the limit, CORS and logging layers.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.settings.limits.clone();
    let cors = if state.settings.cors_origins.is_empty() {
        CorsLayer::new().allow_origin(Any)
    } else {
        let origins: Vec<HeaderValue> = state
            .settings
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        CorsLayer::new().allow_origin(AllowOrigin::list(origins))
    }
    .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
    .allow_headers(Any);
    api::routes()
        .with_state(state.clone())
        .fallback(|| async { ApiError::not_found("no such endpoint (see GET /openapi.json)") })
        .layer(middleware::from_fn_with_state(limits.timeout, timeout))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(cors)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
}

async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "request took longer than the server's limit of {} s",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

/// A running server: its address, and a handle to stop it.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Stops accepting requests and waits for those in flight. Running training jobs go on
    /// in their thread until the process ends; a new server on the same jobs folder reports
    /// them as interrupted.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.state.jobs.shut_down();
        self.task
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }
}

/// Binds `settings.addr` (port 0: any free port) and serves in the background.
pub async fn spawn(settings: Settings) -> std::io::Result<Server> {
    let state = AppState::new(settings)?;
    let listener = tokio::net::TcpListener::bind(state.settings.addr).await?;
    let addr = listener.local_addr()?;
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(Server {
        addr,
        state,
        shutdown: Some(tx),
        task,
    })
}

/// Serves until Ctrl-C: `tfmm serve`.
pub async fn serve(settings: Settings) -> std::io::Result<()> {
    let server = spawn(settings).await?;
    tracing::info!(addr = %server.addr, "tfmm serve listening");
    eprintln!(
        "tfmm serve: listening on http://{} (GET /openapi.json for the API)",
        server.addr
    );
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    server.stop().await
}

/// Structured logs, one line per request: `json` or human-readable text; `RUST_LOG` filters.
pub fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// [`serve`] on a runtime of its own, for callers without one (the CLI).
pub fn serve_blocking(settings: Settings) -> std::io::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_cache_drops_the_least_recently_used_set() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::new(Settings {
            jobs_dir: dir.path().join("jobs"),
            ..Settings::default()
        })
        .unwrap();
        // Nine token sets (orders differ), one more than the cache holds.
        let sets: Vec<Vec<String>> = [
            "BTC", "ETH", "SOL", "BTC ETH", "ETH BTC", "BTC SOL", "SOL BTC", "ETH SOL", "SOL ETH",
        ]
        .iter()
        .map(|s| s.split(' ').map(String::from).collect())
        .collect();
        let first = state.prices(&sets[0]).unwrap();
        for set in &sets[1..PRICE_CACHE_ENTRIES] {
            state.prices(set).unwrap();
        }
        // Using sets 0, 1 and 2 again leaves set 3 the least recent; the ninth pushes it out.
        assert!(Arc::ptr_eq(&first, &state.prices(&sets[0]).unwrap()));
        let second = state.prices(&sets[1]).unwrap();
        state.prices(&sets[2]).unwrap();
        state.prices(&sets[PRICE_CACHE_ENTRIES]).unwrap();
        assert!(Arc::ptr_eq(&first, &state.prices(&sets[0]).unwrap()));
        let cached: Vec<_> = lock(&state.prices).iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(cached.len(), PRICE_CACHE_ENTRIES);
        assert!(
            !cached.contains(&sets[3]),
            "set 3 was the least recent: {cached:?}"
        );
        assert!(Arc::ptr_eq(&second, &state.prices(&sets[1]).unwrap()));
    }
}
