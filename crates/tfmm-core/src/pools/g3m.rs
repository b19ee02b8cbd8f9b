//! Geometric mean market maker (Balancer-style invariant `prod R_i^w_i`) with time-varying
//! weights and zero fees: arbitrage moves the pool to the market price, in closed form.

use super::Pool;
use crate::scalar::{Scalar, cst};

/// Reserve multipliers for one arbitrage step at zero fees: first the price move
/// `p_prev -> p` at the old weights, then the weight change `w_prev -> w` at the new prices.
/// Both parts are products taken in log space, as in the reference.
pub fn zero_fee_ratio<S: Scalar>(w_prev: &[S], p_prev: &[f64], w: &[S], p: &[f64], out: &mut [S]) {
    let mut log_price = cst::<S>(0.0);
    for j in 0..p.len() {
        log_price += w_prev[j] * (p[j] / p_prev[j]).ln();
    }
    let price_move = log_price.exp();
    for (i, o) in out.iter_mut().enumerate() {
        *o = price_move / (p[i] / p_prev[i]);
    }
    // Unchanged weights (most minutes) make the weight part exactly 1: skip it.
    if w.iter().zip(w_prev).all(|(a, b)| a.value() == b.value()) {
        return;
    }
    let mut log_weight = cst::<S>(0.0);
    for j in 0..w.len() {
        log_weight += w[j] * (w[j] / w_prev[j]).ln();
    }
    let weight_move = log_weight.exp();
    for (i, o) in out.iter_mut().enumerate() {
        *o *= (w[i] / w_prev[i]) / weight_move;
    }
}

/// Minutes in which a hodling index pool may trade: the first
/// `weight_interpolation_period` minutes of every chunk of the bout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradeWindow {
    pub chunk_period: usize,
    pub open_minutes: usize,
}

/// Zero-fee G3M reserves. Arbitrage happens every `arb_frequency` minutes (and, with a
/// trade window, only inside it); between arbitrages reserves stay put, and the next
/// arbitrage starts from the prices and weights of the last one.
#[derive(Clone, Debug)]
pub struct G3mZeroFee<S> {
    initial_value: f64,
    arb_frequency: usize,
    do_arb: bool,
    window: Option<TradeWindow>,
    initial: Vec<S>,
    growth: Vec<S>,
    reserves: Vec<S>,
    last_weights: Vec<S>,
    last_prices: Vec<f64>,
    ratio: Vec<S>,
}

impl<S: Scalar> G3mZeroFee<S> {
    pub fn new(n_assets: usize, initial_value: f64, arb_frequency: usize, do_arb: bool) -> Self {
        Self {
            initial_value,
            arb_frequency: arb_frequency.max(1),
            do_arb,
            window: None,
            initial: vec![cst(0.0); n_assets],
            growth: vec![cst(1.0); n_assets],
            reserves: vec![cst(0.0); n_assets],
            last_weights: vec![cst(0.0); n_assets],
            last_prices: vec![0.0; n_assets],
            ratio: vec![cst(1.0); n_assets],
        }
    }

    pub fn with_trade_window(mut self, window: TradeWindow) -> Self {
        self.window = Some(window);
        self
    }

    fn may_trade(&self, minute: usize) -> bool {
        self.do_arb
            && minute.is_multiple_of(self.arb_frequency)
            && self
                .window
                .is_none_or(|w| minute % w.chunk_period < w.open_minutes)
    }
}

impl<S: Scalar> Pool<S> for G3mZeroFee<S> {
    fn n_assets(&self) -> usize {
        self.reserves.len()
    }

    fn init(&mut self, weights: &[S], prices: &[f64]) {
        for i in 0..prices.len() {
            self.initial[i] = weights[i] * self.initial_value / prices[i];
        }
        self.reserves.copy_from_slice(&self.initial);
        self.growth.iter_mut().for_each(|g| *g = cst(1.0));
        self.last_weights.copy_from_slice(weights);
        self.last_prices.copy_from_slice(prices);
    }

    fn step(&mut self, minute: usize, weights: &[S], prices: &[f64]) {
        if !self.may_trade(minute) {
            return;
        }
        zero_fee_ratio(
            &self.last_weights,
            &self.last_prices,
            weights,
            prices,
            &mut self.ratio,
        );
        // Reserves are the deposit times the running product of ratios (the reference's
        // order of operations).
        for i in 0..prices.len() {
            self.growth[i] *= self.ratio[i];
            self.reserves[i] = self.initial[i] * self.growth[i];
        }
        self.last_weights.copy_from_slice(weights);
        self.last_prices.copy_from_slice(prices);
    }

    fn reserves(&self) -> &[S] {
        &self.reserves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // spec reserves.md §6.3.
    #[test]
    fn ratio_matches_reference() {
        let mut out = [0.0f64; 2];
        zero_fee_ratio(
            &[0.5, 0.5],
            &[100.0, 2000.0],
            &[0.6, 0.4],
            &[105.0, 1950.0],
            &mut out,
        );
        assert!((out[0] - 1.1332981033216312).abs() < 1e-15, "{out:?}");
        assert!((out[1] - 0.8136499203334787).abs() < 1e-15, "{out:?}");
    }

    #[test]
    fn reserve_path_matches_reference() {
        let w = [
            [0.5, 0.5],
            [0.5, 0.5],
            [0.52, 0.48],
            [0.54, 0.46],
            [0.54, 0.46],
        ];
        let p = [
            [1.0, 20.0],
            [1.0, 20.4],
            [1.0, 20.4],
            [1.0, 19.5],
            [1.0, 19.5],
        ];
        let want = [
            [5e5, 25000.0],
            [504975.24691810383, 24753.688574416858],
            [524754.1733810715, 23744.532732175187],
            [532834.0774312993, 23276.7023379295],
            [532834.0774312993, 23276.7023379295],
        ];
        let mut pool = G3mZeroFee::<f64>::new(2, 1e6, 1, true);
        pool.init(&w[0], &p[0]);
        for t in 0..5 {
            if t > 0 {
                pool.step(t, &w[t], &p[t]);
            }
            for i in 0..2 {
                let r = pool.reserves()[i];
                assert!(
                    (r / want[t][i] - 1.0).abs() < 1e-13,
                    "row {t}: {r} vs {}",
                    want[t][i]
                );
            }
        }
    }

    #[test]
    fn weight_change_at_fixed_prices_costs_the_kl_divergence() {
        let (w0, w1) = ([0.3f64, 0.7], [0.5f64, 0.5]);
        let p = [2.0, 3.0];
        let mut pool = G3mZeroFee::new(2, 1000.0, 1, true);
        pool.init(&w0, &p);
        pool.step(1, &w1, &p);
        let kl: f64 = w1.iter().zip(&w0).map(|(a, b)| a * (a / b).ln()).sum();
        assert!((pool.value(&p) / 1000.0 - (-kl).exp()).abs() < 1e-14);
    }

    #[test]
    fn trading_resumes_from_the_last_traded_state() {
        // At zero fees and fixed weights the result does not depend on skipped minutes.
        let w = [0.4f64, 0.6];
        let prices = [[1.0, 1.0], [1.1, 0.9], [1.3, 0.8], [0.9, 1.2], [1.0, 1.05]];
        let mut every = G3mZeroFee::new(2, 100.0, 1, true);
        let mut sparse = G3mZeroFee::new(2, 100.0, 2, true);
        every.init(&w, &prices[0]);
        sparse.init(&w, &prices[0]);
        for (t, p) in prices.iter().enumerate().skip(1) {
            every.step(t, &w, p);
            sparse.step(t, &w, p);
        }
        for i in 0..2 {
            assert!((every.reserves()[i] / sparse.reserves()[i] - 1.0).abs() < 1e-14);
        }
        let mut frozen = G3mZeroFee::new(2, 100.0, 1, false);
        frozen.init(&w, &prices[0]);
        frozen.step(1, &w, &prices[1]);
        assert_eq!(frozen.reserves(), &[40.0, 60.0]);
    }
}
