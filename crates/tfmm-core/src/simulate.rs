//! Drives a price history through a weight engine and a pool: the whole-history run is a
//! loop over the same step functions a live keeper would call minute by minute.

use crate::error::{Error, Result};
use crate::pools::{FeeRevenue, MarketStep, Pool, Trade};
use crate::rules::Observation;
use crate::scalar::Scalar;
use crate::weights::WeightPath;

/// User trades with the bout minute of each, sorted by minute (two parallel lists, so a
/// minute's trades are a plain slice).
#[derive(Clone, Copy, Debug, Default)]
pub struct Trades<'a> {
    pub minutes: &'a [usize],
    pub trades: &'a [Trade],
}

/// A per-minute quantity: one value for the whole run, or one per bout minute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Series<'a> {
    Constant(f64),
    PerMinute(&'a [f64]),
}

impl Series<'_> {
    pub fn at(&self, minute: usize) -> f64 {
        match self {
            Series::Constant(x) => *x,
            Series::PerMinute(v) => v[minute],
        }
    }

    fn covers(&self, n_rows: usize) -> bool {
        match self {
            Series::Constant(_) => true,
            Series::PerMinute(v) => v.len() >= n_rows,
        }
    }
}

/// Everything the market does during a run: prices from the first burn-in minute on
/// (row-major, pool order), and per bout minute the costs arbitrageurs face and user trades.
#[derive(Clone, Copy, Debug)]
pub struct Market<'a> {
    pub n_assets: usize,
    pub prices: &'a [f64],
    /// Circulating supply, same layout as `prices` (market-cap rules only).
    pub supply: Option<&'a [f64]>,
    pub fees: Series<'a>,
    pub gas_cost: Series<'a>,
    pub arb_fees: Series<'a>,
    /// User trades, in bout-minute order.
    pub trades: Trades<'a>,
    /// Arbitrageurs act every `arb_frequency` minutes.
    pub arb_frequency: usize,
    /// Whether arbitrageurs act at all.
    pub do_arb: bool,
}

impl<'a> Market<'a> {
    /// Prices only: no fees, no gas, arbitrage every minute, no user trades.
    pub fn new(n_assets: usize, prices: &'a [f64]) -> Self {
        Self {
            n_assets,
            prices,
            supply: None,
            fees: Series::Constant(0.0),
            gas_cost: Series::Constant(0.0),
            arb_fees: Series::Constant(0.0),
            trades: Trades::default(),
            arb_frequency: 1,
            do_arb: true,
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

    /// Whether any friction makes arbitrage a fee-path problem.
    pub fn has_frictions(&self) -> bool {
        !self.trades.trades.is_empty()
            || [self.fees, self.gas_cost, self.arb_fees]
                .iter()
                .any(|s| !matches!(s, Series::Constant(x) if *x == 0.0))
    }
}

/// The state after one simulated minute.
#[derive(Clone, Copy, Debug)]
pub struct MinuteRow<'a, S> {
    /// Minute of the bout (0 = start).
    pub minute: usize,
    pub prices: &'a [f64],
    /// The weights in force; the value shares for pools that do not follow weights.
    pub weights: &'a [S],
    pub reserves: &'a [S],
    pub value: S,
    pub fees: FeeRevenue<S>,
}

/// Runs `n_rows` bout minutes, handing each to `sink`. Fails if the market is too short, a
/// market-cap rule has no supply, or the path turns NaN (naming the minute).
pub fn simulate<S: Scalar, W: WeightPath<S> + ?Sized, P: Pool<S> + ?Sized>(
    weights: &mut W,
    pool: &mut P,
    market: &Market<'_>,
    n_rows: usize,
    mut sink: impl FnMut(MinuteRow<'_, S>),
) -> Result<()> {
    let start = weights.start();
    let needed = start + n_rows;
    if market.n_rows() < needed {
        return Err(Error::invalid(
            "prices",
            format!("{} rows", market.n_rows()),
            format!("need {needed} (burn-in {start} + {n_rows} simulated minutes)"),
        ));
    }
    for (name, series) in [
        ("fees", market.fees),
        ("gas_cost", market.gas_cost),
        ("arb_fees", market.arb_fees),
    ] {
        if !series.covers(n_rows) {
            return Err(Error::invalid(
                name,
                "a per-minute series",
                format!("is shorter than the {n_rows} simulated minutes"),
            ));
        }
    }
    if weights.needs_supply() && market.supply.is_none() {
        return Err(Error::invalid(
            "supply",
            "none",
            "a market-cap rule needs a circulating-supply series for every token",
        ));
    }
    let frequency = market.arb_frequency.max(1);
    let mut shares = vec![S::from(0.0); market.n_assets];
    let mut next_trade = 0;
    let mut arb_offset = 0usize;
    let follows = pool.follows_weights();
    for t in 0..needed {
        let obs = market.observation(t);
        let Some(w) = weights.step(&obs) else {
            continue;
        };
        let minute = t - start;
        let first = next_trade;
        while next_trade < market.trades.minutes.len()
            && market.trades.minutes[next_trade] <= minute
        {
            next_trade += 1;
        }
        let step = MarketStep {
            minute,
            prices: obs.prices,
            fees: market.fees.at(minute),
            gas_cost: market.gas_cost.at(minute),
            arb_fees: market.arb_fees.at(minute),
            arbitrage: market.do_arb && arb_offset == 0,
            trades: &market.trades.trades[first..next_trade],
        };
        // Arbitrage minutes counted incrementally (no division per minute).
        arb_offset += 1;
        if arb_offset == frequency {
            arb_offset = 0;
        }
        if minute == 0 {
            pool.init(w, &step);
        } else {
            pool.step(w, &step);
        }
        let value = pool.value(obs.prices);
        if value.value().is_nan() || value.value() <= 0.0 {
            let bad = if w.iter().any(|x| x.value().is_nan()) {
                "weights"
            } else {
                "reserves"
            };
            return Err(Error::invalid(
                bad,
                if value.value().is_nan() {
                    "NaN"
                } else {
                    "not positive"
                },
                format!(
                    "the simulation broke down at bout minute {minute} (e.g. a rule dividing by a zero \
                     variance on constant prices, or a trade draining the pool)"
                ),
            ));
        }
        let reported = if follows {
            w
        } else {
            for (i, s) in shares.iter_mut().enumerate() {
                *s = pool.reserves()[i] * obs.prices[i] / value;
            }
            &shares
        };
        sink(MinuteRow {
            minute,
            prices: obs.prices,
            weights: reported,
            reserves: pool.reserves(),
            value,
            fees: pool.fee_revenue(),
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
    /// Fees kept by the pool each minute (quote currency).
    pub lp_fees: Vec<S>,
    /// Fees diverted to the protocol each minute (quote currency).
    pub protocol_fees: Vec<S>,
}

impl<S: Scalar> Trajectory<S> {
    pub fn with_capacity(n_assets: usize, n_rows: usize) -> Self {
        Self {
            n_assets,
            weights: Vec::with_capacity(n_rows * n_assets),
            reserves: Vec::with_capacity(n_rows * n_assets),
            values: Vec::with_capacity(n_rows),
            lp_fees: Vec::with_capacity(n_rows),
            protocol_fees: Vec::with_capacity(n_rows),
        }
    }

    pub fn push(&mut self, row: &MinuteRow<'_, S>) {
        self.weights.extend_from_slice(row.weights);
        self.reserves.extend_from_slice(row.reserves);
        self.values.push(row.value);
        self.lp_fees.push(row.fees.lp);
        self.protocol_fees.push(row.fees.protocol);
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
pub fn run<S: Scalar, W: WeightPath<S> + ?Sized, P: Pool<S> + ?Sized>(
    weights: &mut W,
    pool: &mut P,
    market: &Market<'_>,
    n_rows: usize,
) -> Result<Trajectory<S>> {
    let mut out = Trajectory::with_capacity(market.n_assets, n_rows);
    simulate(weights, pool, market, n_rows, |row| out.push(&row))?;
    Ok(out)
}
