//! Executing a resolved config: data window, weight engine, pool, trajectory.

use std::path::Path;

use tfmm_core::pools::cow::CowPool;
use tfmm_core::pools::gyroscope::{GyroscopePool, GyroscopeSettings};
use tfmm_core::pools::reclamm::ReclammPool;
use tfmm_core::pools::{G3mPool, G3mZeroFee, Hodl, Pool, Rebalancing, TradeWindow};
use tfmm_core::simulate::{self, Market, Trajectory};
use tfmm_core::weights::{ConstantWeights, WeightEngine, WeightPath};
use tfmm_data::{
    PriceTable, Source, TokenProvenance, Window, load, load_supply, parse_utc, select_window,
};

use crate::config::{Baseline, PoolKind, RunConfig};
use crate::error::{Result, RunError};
use crate::readouts::{Readouts, Recorder};

/// Told the minutes simulated so far and the total, every few thousand minutes.
pub type Progress<'a> = &'a dyn Fn(u64, u64);

/// What one run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub config: RunConfig,
    /// Unix ms of the first simulated minute.
    pub start_ms: i64,
    /// The data rows used and where the bout lies in them.
    pub window: Window,
    /// Prices of the simulated minutes (row-major, pool order).
    pub prices: Vec<f64>,
    pub trajectory: Trajectory<f64>,
    pub provenance: Vec<TokenProvenance>,
    /// For `lvr__` / `rvr__` rules: the trajectory above is the rebalancing benchmark, and
    /// this is the pool's own.
    pub pool: Option<Trajectory<f64>>,
    /// The rule's estimator state per chunk, when `output.readouts` asks for it.
    pub readouts: Option<Readouts>,
    /// User trades applied, and those whose time lies outside the simulated minutes.
    pub trades_applied: usize,
    pub trades_outside: usize,
}

impl RunOutput {
    pub fn n_rows(&self) -> usize {
        self.trajectory.n_rows()
    }

    pub fn unix_ms(&self, row: usize) -> i64 {
        self.start_ms + row as i64 * tfmm_data::MS_PER_MINUTE
    }

    pub fn final_value(&self) -> f64 {
        self.trajectory.values.last().copied().unwrap_or(f64::NAN)
    }

    pub fn final_reserves(&self) -> &[f64] {
        self.trajectory.reserves_at(self.n_rows() - 1)
    }

    pub fn final_weights(&self) -> &[f64] {
        self.trajectory.weights_at(self.n_rows() - 1)
    }

    /// With a rebalancing benchmark, the pool's own value per minute.
    pub fn pool_values(&self) -> Option<&[f64]> {
        self.pool.as_ref().map(|p| p.values.as_slice())
    }
}

/// Loads the config's tokens from `data_dir` and runs it.
pub fn run(config: &RunConfig, data_dir: &Path) -> Result<RunOutput> {
    run_on(config, Source::Dir(data_dir))
}

/// Loads the config's tokens from `source` (a folder or the embedded data) and runs it.
pub fn run_on(config: &RunConfig, source: Source<'_>) -> Result<RunOutput> {
    run_with(config, source, None)
}

/// [`run_on`], reporting progress.
pub fn run_with(
    config: &RunConfig,
    source: Source<'_>,
    progress: Option<Progress<'_>>,
) -> Result<RunOutput> {
    let table = load(source, &config.tokens)?;
    let supply_dir = match source {
        Source::Dir(dir) if needs_supply(&config.rule) => Some(dir),
        _ => None,
    };
    run_on_table(config, &table, supply_dir, progress)
}

/// The source a config names: its data folder, else the embedded data.
pub fn config_source(config: &RunConfig) -> Source<'_> {
    config
        .data
        .dir
        .as_deref()
        .map_or(Source::Embedded, Source::Dir)
}

/// Refuses forward-filled gaps longer than `max_gap_minutes` in the minutes a run uses.
fn check_gaps(config: &RunConfig, table: &PriceTable, window: &Window) -> Result<()> {
    let rows = window.data_rows();
    let (from, to) = (
        table.unix_ms(rows.start),
        table.unix_ms(rows.end.max(1) - 1),
    );
    let limit = config.data.max_gap_minutes;
    for p in &table.provenance {
        let span = |&&(start, len): &&(i64, usize)| {
            start <= to && start + len as i64 * tfmm_data::MS_PER_MINUTE > from
        };
        if let Some(&(start, len)) = p.gaps.iter().filter(span).find(|g| g.1 > limit) {
            return Err(RunError::config(
                "max_gap_minutes",
                limit,
                format!(
                    "{} has {len} missing minutes from {} inside the window (prices would stand still; \
                     raise max_gap_minutes to accept them)",
                    p.path.display(),
                    tfmm_data::format_utc(start)
                ),
            ));
        }
    }
    Ok(())
}

fn needs_supply(rule: &str) -> bool {
    rule.ends_with("index_market_cap")
}

/// Runs on prices already in memory (`table` columns in the config's token order). Supply
/// series for market-cap rules are read from `supply_dir`. A `lvr__` / `rvr__` rule runs the
/// pool and the rebalancing benchmark over the same weights.
pub fn run_on_table(
    config: &RunConfig,
    table: &PriceTable,
    supply_dir: Option<&Path>,
    progress: Option<Progress<'_>>,
) -> Result<RunOutput> {
    let Some(baseline) = config.baseline() else {
        return run_pool(config, table, supply_dir, None, progress.map(|p| (p, 0, 1)));
    };
    let mut pool_config = config.clone();
    pool_config.rule = config.pool_rule().to_string();
    // Two simulations of the same length: the pool, then the benchmark.
    let pool_run = run_pool(
        &pool_config,
        table,
        supply_dir,
        None,
        progress.map(|p| (p, 0, 2)),
    )?;
    let n = config.n_assets();
    let spread = match baseline {
        Baseline::Lvr => vec![0.0; n],
        Baseline::Rvr => match config.pool.rvr_spread.as_deref() {
            Some([one]) => vec![*one; n],
            Some(s) if s.len() == n => s.to_vec(),
            other => {
                return Err(RunError::config(
                    "rvr_spread",
                    format!("{other:?}"),
                    format!("give one spread or one per asset ({n})"),
                ));
            }
        },
    };
    let benchmark = Rebalancing::new(n, config.pool.initial_pool_value, spread);
    let mut out = run_pool(
        config,
        table,
        supply_dir,
        Some(Box::new(benchmark)),
        progress.map(|p| (p, 1, 2)),
    )?;
    out.pool = Some(pool_run.trajectory);
    Ok(out)
}

/// One simulation; `pool` replaces the pool the config names (the rebalancing benchmark).
/// `progress` is reported as simulation `part` of `parts` of equal length.
fn run_pool(
    config: &RunConfig,
    table: &PriceTable,
    supply_dir: Option<&Path>,
    replacement: Option<Box<dyn Pool<f64>>>,
    progress: Option<(Progress<'_>, u64, u64)>,
) -> Result<RunOutput> {
    if table.tokens != config.tokens {
        return Err(RunError::config(
            "tokens",
            format!("{:?}", config.tokens),
            format!("the price table holds {:?}", table.tokens),
        ));
    }
    let start_ms = parse_utc(&config.start)?;
    let end_ms = parse_utc(&config.end)?;
    let window = select_window(table, start_ms, end_ms, config.weights.rule.max_memory_days)?;
    check_gaps(config, table, &window)?;
    let data = table.slice(window.data_rows().start, window.data_rows().end);
    let n = config.n_assets();

    let needs_supply = weight_path(config, window.start)?.needs_supply();
    let supply = match (needs_supply, supply_dir) {
        (true, Some(dir)) => Some(load_supply(dir, &config.tokens, &data)?),
        (true, None) => {
            return Err(RunError::config(
                "rule",
                &config.rule,
                "a market-cap rule needs circulating-supply files (<TICKER>_supply.csv)",
            ));
        }
        (false, _) => None,
    };
    let inputs = config
        .market
        .resolve(&config.tokens, start_ms, window.n_rows)?;
    let market = Market {
        supply: supply.as_deref(),
        ..inputs.market(&config.pool, n, &data.prices)
    };
    let mut pool = match replacement {
        Some(p) => p,
        None => pool(config, &market)?,
    };
    let first_ms = start_ms - window.start as i64 * tfmm_data::MS_PER_MINUTE;
    let mut recorder = match config.pool_kind() {
        PoolKind::Tfmm if config.output.readouts => Some(Recorder::new(
            tfmm_engine(config, window.start)?,
            &config.tokens,
            first_ms,
        )),
        _ => None,
    };
    let mut built;
    let weights: &mut dyn WeightPath<f64> = match recorder.as_mut() {
        Some(r) => r,
        None => {
            built = weight_path(config, window.start)?;
            built.as_mut()
        }
    };
    let trajectory = match progress {
        None => simulate::run(weights, pool.as_mut(), &market, window.n_rows)?,
        Some((report, part, parts)) => {
            let total = (window.start + window.n_rows) as u64;
            let mut ticking = Ticking {
                inner: weights,
                minute: 0,
                report: &|m| report(part * total + m, parts * total),
            };
            simulate::run(&mut ticking, pool.as_mut(), &market, window.n_rows)?
        }
    };
    let bout = window.start * n..(window.start + window.n_rows) * n;
    Ok(RunOutput {
        config: config.clone(),
        start_ms,
        window,
        prices: data.prices[bout].to_vec(),
        trajectory,
        provenance: table.provenance.clone(),
        pool: None,
        readouts: recorder.map(|r| r.readouts),
        trades_applied: inputs.trades.len(),
        trades_outside: inputs.trades_outside,
    })
}

/// A weight path that reports the minutes it has consumed every 2^14 minutes (about a
/// third of a second of a slow run): cheap enough to leave on for any run with a progress bar.
struct Ticking<'a> {
    inner: &'a mut dyn WeightPath<f64>,
    minute: u64,
    report: &'a dyn Fn(u64),
}

impl WeightPath<f64> for Ticking<'_> {
    fn start(&self) -> usize {
        self.inner.start()
    }
    fn step(&mut self, obs: &tfmm_core::rules::Observation<'_>) -> Option<&[f64]> {
        self.minute += 1;
        if self.minute & 0x3fff == 0 {
            (self.report)(self.minute);
        }
        self.inner.step(obs)
    }
    fn step_rows(
        &mut self,
        n: usize,
        prices: &[f64],
        supply: Option<&[f64]>,
        out: &mut [f64],
    ) -> bool {
        let before = self.minute;
        self.minute += (out.len() / n) as u64;
        if self.minute >> 14 != before >> 14 {
            (self.report)(self.minute);
        }
        self.inner.step_rows(n, prices, supply, out)
    }
    fn needs_supply(&self) -> bool {
        self.inner.needs_supply()
    }
}

/// The strategy rule's weight engine.
fn tfmm_engine(config: &RunConfig, start: usize) -> Result<WeightEngine<f64>> {
    Ok(WeightEngine::build(
        config.pool_rule(),
        &config.params,
        config.n_assets(),
        &config.weights,
        start,
    )?)
}

/// Where the pool's weights come from: a strategy rule, or fixed weights.
fn weight_path(config: &RunConfig, start: usize) -> Result<Box<dyn WeightPath<f64>>> {
    let n = config.n_assets();
    Ok(match config.pool_kind() {
        PoolKind::Tfmm => Box::new(tfmm_engine(config, start)?),
        // These pools hold their own shape; their weights are value shares, not inputs.
        PoolKind::Reclamm | PoolKind::Gyroscope => {
            Box::new(ConstantWeights::new(vec![1.0 / n as f64; n], start))
        }
        PoolKind::Balancer | PoolKind::Hodl | PoolKind::Cow => Box::new(
            ConstantWeights::from_params(config.pool_rule(), &config.params, n, start)?,
        ),
    })
}

fn pool(config: &RunConfig, market: &Market<'_>) -> Result<Box<dyn Pool<f64>>> {
    let n = config.n_assets();
    let p = &config.pool;
    // A hodling index trades only while it is moving to a new target.
    let window = config
        .rule
        .ends_with("hodling_index_market_cap")
        .then_some(TradeWindow {
            chunk_period: config.weights.rule.chunk_period,
            open_minutes: config.weights.weight_interpolation_period,
        });
    Ok(match config.pool_kind() {
        PoolKind::Hodl => Box::new(Hodl::new(n, p.initial_pool_value)),
        PoolKind::Cow => {
            if p.protocol_fee_split != 0.0 {
                return Err(RunError::config(
                    "protocol_fee_split",
                    p.protocol_fee_split,
                    "CowAMM pools have no protocol fee share; give 0",
                ));
            }
            Box::new(CowPool::from_params(&config.params, n, p.cow())?)
        }
        PoolKind::Reclamm => Box::new(ReclammPool::from_params(&config.params, n, p.reclamm())?),
        PoolKind::Gyroscope => {
            let settings = GyroscopeSettings {
                noise_trader_ratio: p.noise_trader_ratio,
                protocol_fee_split: p.protocol_fee_split,
                numeraire: GyroscopeSettings::numeraire_index(
                    &config.tokens,
                    p.numeraire.as_deref(),
                )?,
                ..GyroscopeSettings::new(p.initial_pool_value)
            };
            Box::new(GyroscopePool::new(&config.params, n, settings)?)
        }
        _ if !market.has_frictions() => {
            let pool = G3mZeroFee::new(n, p.initial_pool_value);
            Box::new(match window {
                Some(w) => pool.with_trade_window(w),
                None => pool,
            })
        }
        _ => Box::new(G3mPool::new(n, p.g3m(window))),
    })
}
