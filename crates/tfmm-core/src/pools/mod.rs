//! Pools: how reserves respond to prices and weights, minute by minute.

mod g3m;

pub use g3m::{G3mZeroFee, TradeWindow, zero_fee_ratio};

use crate::scalar::Scalar;

/// A pool as a streaming step function over simulated minutes.
pub trait Pool<S: Scalar> {
    fn n_assets(&self) -> usize;

    /// The deposit at the first simulated minute, at the weights and prices in force then.
    fn init(&mut self, weights: &[S], prices: &[f64]);

    /// Simulated minute `minute >= 1`: arbitrageurs trade against `prices` with `weights`
    /// now in force.
    fn step(&mut self, minute: usize, weights: &[S], prices: &[f64]);

    fn reserves(&self) -> &[S];

    /// Pool value at `prices`.
    fn value(&self, prices: &[f64]) -> S {
        self.reserves()
            .iter()
            .zip(prices)
            .fold(S::from(0.0), |acc, (&r, &p)| acc + r * p)
    }
}
