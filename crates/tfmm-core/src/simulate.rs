//! Drives a price history through a weight engine and a pool: the whole-history run is a
//! loop over the same step functions a live keeper would call minute by minute.

use crate::error::{Error, Result};
use crate::pools::Pool;
use crate::rules::Observation;
use crate::scalar::Scalar;
use crate::weights::WeightEngine;

/// Minute-by-minute market data from the first burn-in minute on (row-major, pool order).
#[derive(Clone, Copy, Debug)]
pub struct Market<'a> {
    pub n_assets: usize,
    pub prices: &'a [f64],
    /// Circulating supply, same layout as `prices` (market-cap rules only).
    pub supply: Option<&'a [f64]>,
}

impl<'a> Market<'a> {
    pub fn new(n_assets: usize, prices: &'a [f64]) -> Self {
        Self {
            n_assets,
            prices,
            supply: None,
        }
    }

    pub fn n_rows(&self) -> usize {
        self.prices.len() / self.n_assets
    }

    pub fn prices_at(&self, t: usize) -> &'a [f64] {
        &self.prices[t * self.n_assets..(t + 1) * self.n_assets]
    }

    pub fn observation(&self, t: usize) -> Observation<'a> {
        let n = self.n_assets;
        Observation {
            prices: self.prices_at(t),
            supply: self.supply.map(|s| &s[t * n..(t + 1) * n]),
        }
    }
}

/// The state after one simulated minute.
#[derive(Clone, Copy, Debug)]
pub struct MinuteRow<'a, S> {
    /// Minute of the bout (0 = start).
    pub minute: usize,
    pub prices: &'a [f64],
    pub weights: &'a [S],
    pub reserves: &'a [S],
    pub value: S,
}

/// Runs `n_rows` bout minutes, handing each to `sink`. Fails if the market is too short, a
/// market-cap rule has no supply, or the path turns NaN (naming the minute).
pub fn simulate<S: Scalar>(
    engine: &mut WeightEngine<S>,
    pool: &mut dyn Pool<S>,
    market: &Market<'_>,
    n_rows: usize,
    mut sink: impl FnMut(MinuteRow<'_, S>),
) -> Result<()> {
    let start = engine.schedule().start;
    let needed = start + n_rows;
    if market.n_rows() < needed {
        return Err(Error::invalid(
            "prices",
            format!("{} rows", market.n_rows()),
            format!("need {needed} (burn-in {start} + {n_rows} simulated minutes)"),
        ));
    }
    if engine.rule().needs_supply() && market.supply.is_none() {
        return Err(Error::invalid(
            "supply",
            "none",
            "a market-cap rule needs a circulating-supply series for every token",
        ));
    }
    for t in 0..needed {
        let obs = market.observation(t);
        let Some(weights) = engine.step(&obs) else {
            continue;
        };
        let minute = t - start;
        if minute == 0 {
            pool.init(weights, obs.prices);
        } else {
            pool.step(minute, weights, obs.prices);
        }
        let value = pool.value(obs.prices);
        if value.value().is_nan() {
            let bad = if weights.iter().any(|w| w.value().is_nan()) {
                "weights"
            } else {
                "reserves"
            };
            return Err(Error::invalid(
                bad,
                "NaN",
                format!(
                    "the simulation broke down at bout minute {minute} (e.g. a rule dividing by a zero \
                     variance on constant prices)"
                ),
            ));
        }
        sink(MinuteRow {
            minute,
            prices: obs.prices,
            weights,
            reserves: pool.reserves(),
            value,
        });
    }
    Ok(())
}

/// Every simulated minute kept in memory (row-major `n_rows x n_assets`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trajectory<S> {
    pub n_assets: usize,
    pub weights: Vec<S>,
    pub reserves: Vec<S>,
    pub values: Vec<S>,
}

impl<S: Scalar> Trajectory<S> {
    pub fn with_capacity(n_assets: usize, n_rows: usize) -> Self {
        Self {
            n_assets,
            weights: Vec::with_capacity(n_rows * n_assets),
            reserves: Vec::with_capacity(n_rows * n_assets),
            values: Vec::with_capacity(n_rows),
        }
    }

    pub fn push(&mut self, row: &MinuteRow<'_, S>) {
        self.weights.extend_from_slice(row.weights);
        self.reserves.extend_from_slice(row.reserves);
        self.values.push(row.value);
    }

    pub fn n_rows(&self) -> usize {
        self.values.len()
    }

    pub fn weights_at(&self, t: usize) -> &[S] {
        &self.weights[t * self.n_assets..(t + 1) * self.n_assets]
    }

    pub fn reserves_at(&self, t: usize) -> &[S] {
        &self.reserves[t * self.n_assets..(t + 1) * self.n_assets]
    }
}

/// [`simulate`] collecting a [`Trajectory`].
pub fn run<S: Scalar>(
    engine: &mut WeightEngine<S>,
    pool: &mut dyn Pool<S>,
    market: &Market<'_>,
    n_rows: usize,
) -> Result<Trajectory<S>> {
    let mut out = Trajectory::with_capacity(market.n_assets, n_rows);
    simulate(engine, pool, market, n_rows, |row| out.push(&row))?;
    Ok(out)
}
