//! Drives a price history through a weight engine and a pool: the whole-history run is a
//! loop over the same step functions a live keeper would call minute by minute. Weights,
//! and pools with a block path on frictionless markets, go a block of minutes at a time, with
//! the minute-by-minute results bit for bit (tests/streaming.rs).

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
    let mut report = Report::new(&*pool);
    let frictionless = !market.has_frictions() && market.do_arb && market.arb_frequency <= 1;
    if frictionless && pool.steps_frictionless_blocks() {
        return in_blocks(weights, pool, market, n_rows, &mut report, &mut sink);
    }
    let n = market.n_assets;
    let frequency = market.arb_frequency.max(1);
    let mut next_trade = 0;
    let mut arb_offset = 0usize;
    burn_in(weights, market);
    let mut block_weights = vec![S::from(0.0); BLOCK_MINUTES * n];
    let mut first_minute = 0;
    while first_minute < n_rows {
        let rows = BLOCK_MINUTES.min(n_rows - first_minute);
        let block_weights = &mut block_weights[..rows * n];
        fetch_weights(weights, market, first_minute, block_weights)?;
        for (i, w) in block_weights.chunks_exact(n).enumerate() {
            let minute = first_minute + i;
            let prices = market.prices_at(start + minute);
            let first = next_trade;
            while next_trade < market.trades.minutes.len()
                && market.trades.minutes[next_trade] <= minute
            {
                next_trade += 1;
            }
            let step = MarketStep {
                minute,
                prices,
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
            let row = MinuteRow {
                minute,
                prices,
                weights: w,
                reserves: pool.reserves(),
                value: pool.value(prices),
                fees: pool.fee_revenue(),
            };
            check_value(&row)?;
            report.deliver(row, &mut sink);
        }
        first_minute += rows;
    }
    Ok(())
}

/// Feeds the burn-in minutes to the weight path.
fn burn_in<S: Scalar, W: WeightPath<S> + ?Sized>(weights: &mut W, market: &Market<'_>) {
    for t in 0..weights.start() {
        weights.step(&market.observation(t));
    }
}

/// The weights of bout minutes `first_minute..` into `out`, row by row, a block at a time.
fn fetch_weights<S: Scalar, W: WeightPath<S> + ?Sized>(
    weights: &mut W,
    market: &Market<'_>,
    first_minute: usize,
    out: &mut [S],
) -> Result<()> {
    let n = market.n_assets;
    let from = weights.start() + first_minute;
    let span = from * n..from * n + out.len();
    let supply = market.supply.map(|s| &s[span.clone()]);
    if weights.step_rows(n, &market.prices[span], supply, out) {
        return Ok(());
    }
    Err(Error::invalid(
        "weights",
        "none",
        format!("the weight path gave no weights in the block from bout minute {first_minute}"),
    ))
}

/// Hands rows to the sink, with value shares in place of weights for pools that do not
/// follow them.
struct Report<S> {
    /// `None` when the pool follows its weights.
    shares: Option<Vec<S>>,
}

impl<S: Scalar> Report<S> {
    fn new<P: Pool<S> + ?Sized>(pool: &P) -> Self {
        Self {
            shares: (!pool.follows_weights()).then(|| vec![S::from(0.0); pool.n_assets()]),
        }
    }

    #[inline(always)]
    fn deliver(&mut self, row: MinuteRow<'_, S>, sink: &mut impl FnMut(MinuteRow<'_, S>)) {
        let Some(shares) = &mut self.shares else {
            sink(row);
            return;
        };
        for (i, s) in shares.iter_mut().enumerate() {
            *s = row.reserves[i] * row.prices[i] / row.value;
        }
        sink(MinuteRow {
            weights: shares,
            ..row
        });
    }
}

/// Minutes handed to a pool at once on the frictionless path: small enough to stay in the
/// first-level cache, large enough that per-block costs vanish.
const BLOCK_MINUTES: usize = 128;

/// [`simulate`] for a frictionless market and a pool that steps whole blocks of minutes
/// ([`Pool::step_frictionless`]), weights a block at a time too ([`WeightPath::step_rows`]).
fn in_blocks<S: Scalar, W: WeightPath<S> + ?Sized, P: Pool<S> + ?Sized>(
    weights: &mut W,
    pool: &mut P,
    market: &Market<'_>,
    n_rows: usize,
    report: &mut Report<S>,
    sink: &mut impl FnMut(MinuteRow<'_, S>),
) -> Result<()> {
    let n = market.n_assets;
    let start = weights.start();
    burn_in(weights, market);
    if n_rows == 0 {
        return Ok(());
    }
    // Row 0 of the weight buffer is the minute before the block.
    let mut block_weights = vec![S::from(0.0); (BLOCK_MINUTES + 1) * n];
    fetch_weights(weights, market, 0, &mut block_weights[..n])?;
    let obs = market.observation(start);
    let w = &block_weights[..n];
    pool.init(w, &MarketStep::frictionless(0, obs.prices));
    let mut block_reserves = vec![S::from(0.0); BLOCK_MINUTES * n];
    let mut block_values = [S::from(0.0); BLOCK_MINUTES];
    let row = MinuteRow {
        minute: 0,
        prices: obs.prices,
        weights: w,
        reserves: pool.reserves(),
        value: pool.value(obs.prices),
        fees: FeeRevenue::zero(),
    };
    check_value(&row)?;
    report.deliver(row, sink);
    let mut minute = 1;
    while minute < n_rows {
        let rows = BLOCK_MINUTES.min(n_rows - minute);
        fetch_weights(
            weights,
            market,
            minute,
            &mut block_weights[n..(rows + 1) * n],
        )?;
        let first = start + minute - 1;
        let prices = &market.prices[first * n..(first + rows + 1) * n];
        let (w, r, v) = (
            &block_weights[..(rows + 1) * n],
            &mut block_reserves[..rows * n],
            &mut block_values[..rows],
        );
        pool.step_frictionless(minute, w, prices, r, v);
        let rows_of = |i: usize| MinuteRow {
            minute: minute + i,
            prices: &prices[(i + 1) * n..(i + 2) * n],
            weights: &w[(i + 1) * n..(i + 2) * n],
            reserves: &r[i * n..(i + 1) * n],
            value: v[i],
            fees: FeeRevenue::zero(),
        };
        // One pass over the block's values; the error names the first bad minute.
        if !v.iter().all(|x| x.value() > 0.0) {
            for i in 0..rows {
                check_value(&rows_of(i))?;
            }
        }
        for i in 0..rows {
            report.deliver(rows_of(i), sink);
        }
        block_weights.copy_within(rows * n..(rows + 1) * n, 0);
        minute += rows;
    }
    Ok(())
}

/// A positive, finite value, or an error naming the minute and the likely culprit.
fn check_value<S: Scalar>(row: &MinuteRow<'_, S>) -> Result<()> {
    let value = row.value.value();
    if value > 0.0 {
        return Ok(());
    }
    let bad = if row.weights.iter().any(|x| x.value().is_nan()) {
        "weights"
    } else {
        "reserves"
    };
    Err(Error::invalid(
        bad,
        if value.is_nan() {
            "NaN"
        } else {
            "not positive"
        },
        format!(
            "the simulation broke down at bout minute {} (e.g. a rule dividing by a zero \
             variance on constant prices, or a trade draining the pool)",
            row.minute
        ),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pools::G3mZeroFee;
    use crate::weights::ConstantWeights;

    /// A pool stepped minute by minute, optionally through the trait's default block path.
    struct Stepped {
        inner: G3mZeroFee<f64>,
        blocks: bool,
    }

    impl Pool<f64> for Stepped {
        fn n_assets(&self) -> usize {
            self.inner.n_assets()
        }
        fn init(&mut self, weights: &[f64], market: &MarketStep<'_>) {
            self.inner.init(weights, market);
        }
        fn step(&mut self, weights: &[f64], market: &MarketStep<'_>) {
            self.inner.step(weights, market);
        }
        fn reserves(&self) -> &[f64] {
            self.inner.reserves()
        }
        fn steps_frictionless_blocks(&self) -> bool {
            self.blocks
        }
    }

    /// The default `step_frictionless` (minute steps inside a block) gives the minute-by-minute
    /// driver's rows exactly, across several blocks.
    #[test]
    fn default_block_path_equals_minute_steps() {
        let minutes = 3 * BLOCK_MINUTES + 17;
        let prices: Vec<f64> = (0..minutes)
            .flat_map(|t| {
                let f = t as f64;
                [
                    100.0 * (1.0 + 0.01 * (f * 0.3).sin()),
                    5.0 * (1.0 + 0.02 * (f * 0.17).cos()),
                ]
            })
            .collect();
        let market = Market::new(2, &prices);
        let run_with = |blocks: bool| {
            let mut weights = ConstantWeights::new(vec![0.3, 0.7], 0);
            let mut pool = Stepped {
                inner: G3mZeroFee::new(2, 1e6),
                blocks,
            };
            run(&mut weights, &mut pool, &market, minutes).expect("a valid run")
        };
        let (blocked, stepped) = (run_with(true), run_with(false));
        assert_eq!(blocked, stepped);
        assert_eq!(blocked.n_rows(), minutes);
        assert!(blocked.values[minutes - 1] != blocked.values[0]);
    }
}
