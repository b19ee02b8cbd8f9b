//! Executing a resolved config: data window, weight engine, pool, trajectory.

use std::path::Path;

use tfmm_core::pools::{G3mZeroFee, Pool, TradeWindow};
use tfmm_core::simulate::{self, Market, Trajectory};
use tfmm_core::weights::WeightEngine;
use tfmm_data::{
    PriceTable, TokenProvenance, Window, load_prices, load_supply, parse_utc, select_window,
};

use crate::config::RunConfig;
use crate::error::{Result, RunError};

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
}

/// Loads the config's tokens from `data_dir` and runs it.
pub fn run(config: &RunConfig, data_dir: &Path) -> Result<RunOutput> {
    let table = load_prices(data_dir, &config.tokens)?;
    let supply_dir = needs_supply(&config.rule).then_some(data_dir);
    run_on_table(config, &table, supply_dir)
}

fn needs_supply(rule: &str) -> bool {
    rule.ends_with("index_market_cap")
}

/// Runs on prices already in memory (`table` columns in the config's token order). Supply
/// series for market-cap rules are read from `supply_dir`.
pub fn run_on_table(
    config: &RunConfig,
    table: &PriceTable,
    supply_dir: Option<&Path>,
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
    let data = table.slice(window.data_rows().start, window.data_rows().end);
    let n = config.n_assets();

    let mut engine = WeightEngine::build(
        &config.rule,
        &config.params,
        n,
        &config.weights,
        window.start,
    )?;
    let supply = match (engine.rule().needs_supply(), supply_dir) {
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
    let mut pool = zero_fee_pool(config);
    let market = Market {
        n_assets: n,
        prices: &data.prices,
        supply: supply.as_deref(),
    };
    let trajectory = simulate::run(&mut engine, &mut pool, &market, window.n_rows)?;
    let bout = window.start * n..(window.start + window.n_rows) * n;
    Ok(RunOutput {
        config: config.clone(),
        start_ms,
        window,
        prices: data.prices[bout].to_vec(),
        trajectory,
        provenance: table.provenance.clone(),
    })
}

fn zero_fee_pool(config: &RunConfig) -> impl Pool<f64> {
    let p = &config.pool;
    let pool = G3mZeroFee::new(
        config.n_assets(),
        p.initial_pool_value,
        p.arb_frequency,
        p.do_arb,
    );
    if config.rule.ends_with("hodling_index_market_cap") {
        // A hodling index trades only while it is moving to a new target.
        pool.with_trade_window(TradeWindow {
            chunk_period: config.weights.rule.chunk_period,
            open_minutes: config.weights.weight_interpolation_period,
        })
    } else {
        pool
    }
}
