//! The rebalancing benchmark: a portfolio held at the pool's weights by trading on an
//! exchange every minute, paying the swap fee (and, for RVR, half the bid-ask spread) on what
//! it trades. Loss-versus-rebalancing (Milionis et al., arXiv 2208.06046) is its value minus
//! the pool's.

use super::{MarketStep, Pool, deposit};
use crate::scalar::{Scalar, cst};

#[derive(Clone, Debug)]
pub struct Rebalancing<S> {
    initial_value: f64,
    /// Bid-ask spread per asset (fraction); zero for LVR.
    spread: Vec<f64>,
    reserves: Vec<S>,
    last_weights: Vec<S>,
}

impl<S: Scalar> Rebalancing<S> {
    pub fn new(n_assets: usize, initial_value: f64, spread: Vec<f64>) -> Self {
        Self {
            initial_value,
            spread,
            reserves: vec![cst(0.0); n_assets],
            last_weights: vec![cst(0.0); n_assets],
        }
    }

    /// Trades to `weights` at `prices`, paying `fee` on amounts sold and half the spread on
    /// every amount traded.
    fn rebalance(&mut self, weights: &[S], prices: &[f64], fee: f64) {
        let value = self.value(prices);
        let mut cost = cst::<S>(0.0);
        for i in 0..prices.len() {
            let target = weights[i] * value / prices[i];
            let d = target - self.reserves[i];
            let traded = if d.value() < 0.0 { -d } else { d } * prices[i];
            if d.value() < 0.0 {
                cost += traded * fee;
            }
            cost += traded * (0.5 * self.spread[i]);
        }
        let after = value - cost;
        for i in 0..prices.len() {
            self.reserves[i] = weights[i] * after / prices[i];
        }
    }
}

impl<S: Scalar> Pool<S> for Rebalancing<S> {
    fn n_assets(&self) -> usize {
        self.reserves.len()
    }

    fn init(&mut self, weights: &[S], market: &MarketStep<'_>) {
        deposit(
            weights,
            market.prices,
            self.initial_value,
            &mut self.reserves,
        );
        self.last_weights.copy_from_slice(weights);
    }

    /// Back to the old weights after the price move, then to the new weights: two legs,
    /// each paying its costs (the reference's order).
    fn step(&mut self, weights: &[S], market: &MarketStep<'_>) {
        let previous = std::mem::take(&mut self.last_weights);
        self.rebalance(&previous, market.prices, market.fees);
        self.last_weights = previous;
        if weights
            .iter()
            .zip(&self.last_weights)
            .any(|(a, b)| a.value() != b.value())
        {
            self.rebalance(weights, market.prices, market.fees);
        }
        self.last_weights.copy_from_slice(weights);
    }

    fn reserves(&self) -> &[S] {
        &self.reserves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frictionless_rebalancing_grows_with_the_weighted_mean_of_returns() {
        let w = [0.5f64, 0.5];
        let mut p = Rebalancing::new(2, 100.0, vec![0.0, 0.0]);
        p.init(&w, &MarketStep::frictionless(0, &[1.0, 1.0]));
        p.step(&w, &MarketStep::frictionless(1, &[1.2, 1.0]));
        // Each minute the value grows by sum_i w_i x_i.
        assert!((p.value(&[1.2, 1.0]) - 110.0).abs() < 1e-12);
        p.step(&w, &MarketStep::frictionless(2, &[1.2, 0.9]));
        assert!((p.value(&[1.2, 0.9]) - 110.0 * 0.95).abs() < 1e-12);
    }

    #[test]
    fn fees_and_spreads_cost_what_is_traded() {
        let w = [0.5f64, 0.5];
        let mut m = MarketStep::frictionless(1, &[1.2, 1.0]);
        m.fees = 0.01;
        let mut p = Rebalancing::new(2, 100.0, vec![0.002, 0.002]);
        p.init(&w, &MarketStep::frictionless(0, &[1.0, 1.0]));
        p.step(&w, &m);
        // Before costs: 60 + 50 = 110, rebalance sells 5 of asset 0 and buys 5 of asset 1:
        // fee 1% of 5 sold, half-spread 0.1% of 10 traded.
        assert!((p.value(&[1.2, 1.0]) - (110.0 - 0.05 - 0.01)).abs() < 1e-12);
    }
}
