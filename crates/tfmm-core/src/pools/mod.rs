//! Pools: how reserves respond to prices, weights, fees and traders, minute by minute.
//!
//! Every pool is a step function ([`Pool`]): deposit at the first simulated minute, then one
//! [`MarketStep`] per minute. Arbitrage maths shared by the weighted pools lives in
//! [`arbitrage`]; each pool type has its own file.

pub mod arbitrage;
pub mod cow;
mod g3m;
pub mod gyroscope;
mod hodl;
mod rebalancing;
pub mod reclamm;

pub use g3m::{G3mPool, G3mSettings, G3mZeroFee, TradeWindow};
pub use hodl::Hodl;
pub use rebalancing::Rebalancing;

use crate::scalar::{Scalar, cst};

/// A swap a user sends to the pool: `amount_in` of `token_in` for as much `token_out` as the
/// pool gives (exact in).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trade {
    pub token_in: usize,
    pub token_out: usize,
    pub amount_in: f64,
}

/// What the market brings to a pool in one simulated minute.
#[derive(Clone, Copy, Debug)]
pub struct MarketStep<'a> {
    /// Bout minute (0 = the deposit).
    pub minute: usize,
    /// Market price per asset in the quote currency, pool order.
    pub prices: &'a [f64],
    /// Swap fee as a fraction (0.003 = 30 bp).
    pub fees: f64,
    /// Smallest arbitrage profit worth a transaction, in the quote currency.
    pub gas_cost: f64,
    /// The arbitrageur's own cost rate for unwinding elsewhere, as a fraction.
    pub arb_fees: f64,
    /// Whether arbitrageurs act this minute (`arb_frequency`, `do_arb`).
    pub arbitrage: bool,
    /// User swaps this minute, in order.
    pub trades: &'a [Trade],
}

impl<'a> MarketStep<'a> {
    /// A minute with no fees, no gas, arbitrage on and no user trades.
    pub fn frictionless(minute: usize, prices: &'a [f64]) -> Self {
        Self {
            minute,
            prices,
            fees: 0.0,
            gas_cost: 0.0,
            arb_fees: 0.0,
            arbitrage: true,
            trades: &[],
        }
    }

    /// `1 - fees`: the share of an inbound amount the invariant sees.
    pub fn gamma(&self) -> f64 {
        1.0 - self.fees
    }
}

/// Fees a pool earned in one minute, in the quote currency at that minute's prices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeeRevenue<S> {
    /// Kept in the pool for liquidity providers (including imputed noise-trader fees).
    pub lp: S,
    /// Diverted to the protocol (`protocol_fee_split`).
    pub protocol: S,
}

impl<S: Scalar> FeeRevenue<S> {
    pub fn zero() -> Self {
        Self {
            lp: cst(0.0),
            protocol: cst(0.0),
        }
    }
}

/// A pool as a streaming step function over simulated minutes.
pub trait Pool<S: Scalar>: Send {
    fn n_assets(&self) -> usize;

    /// The deposit at the first simulated minute, at the weights and prices in force then.
    fn init(&mut self, weights: &[S], market: &MarketStep<'_>);

    /// One simulated minute (`market.minute >= 1`) with `weights` now in force.
    fn step(&mut self, weights: &[S], market: &MarketStep<'_>);

    fn reserves(&self) -> &[S];

    /// Fees earned in the latest step.
    fn fee_revenue(&self) -> FeeRevenue<S> {
        FeeRevenue::zero()
    }

    /// Whether the pool trades toward the weights it is given. Pools that do not (HODL,
    /// Gyroscope, reCLAMM) report their value shares as weights.
    fn follows_weights(&self) -> bool {
        true
    }

    /// Whether [`Pool::step_frictionless`] takes whole blocks of minutes at once.
    fn steps_frictionless_blocks(&self) -> bool {
        false
    }

    /// Minutes `minute..minute + values.len()` of a frictionless market (no fees, gas or user
    /// trades; arbitrage every minute) in one call, for pools whose
    /// [`Pool::steps_frictionless_blocks`] is true. `weights` and `prices` hold one row more
    /// than the block: first the minute before it. Writes each minute's reserves (row-major)
    /// and value; the result is the one minute-by-minute [`Pool::step`]s give.
    fn step_frictionless(
        &mut self,
        minute: usize,
        weights: &[S],
        prices: &[f64],
        reserves: &mut [S],
        values: &mut [S],
    ) {
        let n = self.n_assets();
        for (i, value) in values.iter_mut().enumerate() {
            let p = &prices[(i + 1) * n..(i + 2) * n];
            self.step(
                &weights[(i + 1) * n..(i + 2) * n],
                &MarketStep::frictionless(minute + i, p),
            );
            reserves[i * n..(i + 1) * n].copy_from_slice(self.reserves());
            *value = self.value(p);
        }
    }

    /// Pool value at `prices`.
    fn value(&self, prices: &[f64]) -> S {
        self.reserves()
            .iter()
            .zip(prices)
            .fold(cst::<S>(0.0), |acc, (&r, &p)| acc + r * p)
    }
}

/// Reserves worth `value` split by `weights` at `prices`: every weighted pool's deposit.
pub fn deposit<S: Scalar>(weights: &[S], prices: &[f64], value: f64, out: &mut [S]) {
    for i in 0..prices.len() {
        out[i] = weights[i] * value / prices[i];
    }
}
