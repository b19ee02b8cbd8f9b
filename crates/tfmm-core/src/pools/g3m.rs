//! Geometric mean market makers (invariant `prod R_i^w_i`): TFMM pools with time-varying
//! weights, Balancer pools with constant ones, and the hodling index.
//!
//! [`G3mZeroFee`] is the closed-form path for frictionless markets; [`G3mPool`] handles fees,
//! gas, arbitrageur costs, noise traders, the protocol's fee share and user trades. Each
//! arbitrage minute has the reference's two sub-steps: the price move at the old weights,
//! then the weight change at the new prices.

use super::arbitrage::{Arbitrageur, Validity, swap_out};
use super::{FeeRevenue, MarketStep, Pool, Trade, deposit};
use crate::scalar::{Scalar, cst, exp_near_zero, ln_ratio};

/// Growth of a zero-fee G3M pool's value over one arbitrage step: the price move
/// `p_prev -> p` at the old weights keeps the invariant (`prod x_j^w_prev_j`, `x = p / p_prev`),
/// then the weight change `w_prev -> w` at the new prices costs `exp(-KL(w || w_prev))`.
/// Both in log space, the ratios being close to 1 minute to minute.
pub fn zero_fee_growth<S: Scalar>(w_prev: &[S], p_prev: &[f64], w: &[S], p: &[f64]) -> S {
    let mut log_growth = cst::<S>(0.0);
    for j in 0..p.len() {
        log_growth += w_prev[j] * ln_ratio(cst::<S>(p[j]), cst::<S>(p_prev[j]));
    }
    // Unchanged weights (most minutes) cost nothing: skip the logs.
    if w.iter().zip(w_prev).any(|(a, b)| a.value() != b.value()) {
        for j in 0..w.len() {
            log_growth -= w[j] * ln_ratio(w[j], w_prev[j]);
        }
    }
    exp_near_zero(log_growth)
}

/// Reserve multipliers for one zero-fee arbitrage step (the reference's closed form):
/// the pool ends at equilibrium, `R_i = w_i V / p_i`.
pub fn zero_fee_ratio<S: Scalar>(w_prev: &[S], p_prev: &[f64], w: &[S], p: &[f64], out: &mut [S]) {
    let growth = zero_fee_growth(w_prev, p_prev, w, p);
    for (i, o) in out.iter_mut().enumerate() {
        *o = growth * (w[i] / w_prev[i]) / (p[i] / p_prev[i]);
    }
}

/// Minutes in which a hodling index pool may trade: the first
/// `weight_interpolation_period` minutes of every chunk of the bout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradeWindow {
    pub chunk_period: usize,
    pub open_minutes: usize,
}

impl TradeWindow {
    fn is_open(window: Option<TradeWindow>, minute: usize) -> bool {
        window.is_none_or(|w| minute % w.chunk_period < w.open_minutes)
    }
}

/// Zero-fee G3M reserves. After every arbitrage the pool sits at equilibrium,
/// `R_i = w_i V / p_i`, so only its value needs carrying. Between arbitrages reserves stay
/// put, and the next arbitrage starts from the prices and weights of the last one.
#[derive(Clone, Debug)]
pub struct G3mZeroFee<S> {
    initial_value: f64,
    window: Option<TradeWindow>,
    value: S,
    reserves: Vec<S>,
    last_weights: Vec<S>,
    last_prices: Vec<f64>,
}

impl<S: Scalar> G3mZeroFee<S> {
    pub fn new(n_assets: usize, initial_value: f64) -> Self {
        Self {
            initial_value,
            window: None,
            value: cst(initial_value),
            reserves: vec![cst(0.0); n_assets],
            last_weights: vec![cst(0.0); n_assets],
            last_prices: vec![0.0; n_assets],
        }
    }

    pub fn with_trade_window(mut self, window: TradeWindow) -> Self {
        self.window = Some(window);
        self
    }
}

impl<S: Scalar> Pool<S> for G3mZeroFee<S> {
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
        self.value = cst(self.initial_value);
        self.last_weights.copy_from_slice(weights);
        self.last_prices.copy_from_slice(market.prices);
    }

    fn step(&mut self, weights: &[S], market: &MarketStep<'_>) {
        if !(market.arbitrage && TradeWindow::is_open(self.window, market.minute)) {
            return;
        }
        let prices = market.prices;
        self.value *= zero_fee_growth(&self.last_weights, &self.last_prices, weights, prices);
        for i in 0..prices.len() {
            self.reserves[i] = weights[i] * self.value / prices[i];
        }
        self.last_weights.copy_from_slice(weights);
        self.last_prices.copy_from_slice(prices);
    }

    fn reserves(&self) -> &[S] {
        &self.reserves
    }
}

/// Market settings of a [`G3mPool`] beyond the per-minute fees and gas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct G3mSettings {
    pub initial_value: f64,
    /// Noise-trader volume per unit of arbitrage volume; its fees accrue to the pool.
    pub noise_trader_ratio: f64,
    /// Share of swap fees diverted from the pool to the protocol.
    pub protocol_fee_split: f64,
    pub window: Option<TradeWindow>,
    /// How arbitrage candidates are validated (tfmm's tolerant test by default).
    pub validity: Validity,
}

impl G3mSettings {
    pub fn new(initial_value: f64) -> Self {
        Self {
            initial_value,
            noise_trader_ratio: 0.0,
            protocol_fee_split: 0.0,
            window: None,
            validity: Validity::Tolerant,
        }
    }
}

/// G3M reserves with fees, gas, arbitrageur costs, noise traders, a protocol fee share and
/// user trades.
#[derive(Clone, Debug)]
pub struct G3mPool<S> {
    settings: G3mSettings,
    reserves: Vec<S>,
    /// Weights at the last arbitrage minute: the pool arbitrageurs last saw.
    last_weights: Vec<S>,
    arbitrageur: Arbitrageur<S>,
    delta: Vec<S>,
    revenue: FeeRevenue<S>,
}

impl<S: Scalar> G3mPool<S> {
    pub fn new(n_assets: usize, settings: G3mSettings) -> Self {
        Self {
            settings,
            reserves: vec![cst(0.0); n_assets],
            last_weights: vec![cst(0.0); n_assets],
            arbitrageur: Arbitrageur::with_validity(n_assets, settings.validity),
            delta: vec![cst(0.0); n_assets],
            revenue: FeeRevenue::zero(),
        }
    }

    /// One arbitrage against the pool at `weights`, executed if it pays for gas and the
    /// arbitrageur's own costs.
    fn arbitrage(&mut self, weights: &[S], market: &MarketStep<'_>) {
        let gamma = market.gamma();
        let p = market.prices;
        let Some(profit) =
            self.arbitrageur
                .optimal_trade(&self.reserves, weights, p, gamma, &mut self.delta)
        else {
            return;
        };
        let unwind_cost: f64 = 0.5
            * market.arb_fees
            * self
                .delta
                .iter()
                .zip(p)
                .map(|(d, p)| d.value().abs() * p)
                .sum::<f64>();
        if profit.value() - market.gas_cost < unwind_cost {
            return;
        }
        let split = self.settings.protocol_fee_split;
        let fee = 1.0 - gamma;
        let mut inbound = cst::<S>(0.0);
        for i in 0..p.len() {
            let d = self.delta[i];
            self.reserves[i] += d;
            if d.value() > 0.0 {
                inbound += d * p[i];
                self.reserves[i] -= d * (split * fee);
            }
        }
        self.revenue.lp += inbound * ((1.0 - split) * fee);
        self.revenue.protocol += inbound * (split * fee);
        let nu = self.settings.noise_trader_ratio;
        if nu > 0.0 && fee > 0.0 {
            // Noise traders' fees (net of the protocol's share) grow every reserve alike.
            let income = inbound * (nu * fee * (1.0 - split));
            let value = self.value(p);
            let scale = income / value + 1.0;
            self.reserves.iter_mut().for_each(|r| *r *= scale);
            self.revenue.lp += income;
        }
    }

    fn swap(&mut self, weights: &[S], trade: &Trade, market: &MarketStep<'_>) {
        let gamma = market.gamma();
        let out = swap_out(
            &self.reserves,
            weights,
            trade.token_in,
            trade.token_out,
            trade.amount_in,
            gamma,
        );
        let split = self.settings.protocol_fee_split;
        let fee = trade.amount_in * (1.0 - gamma);
        self.reserves[trade.token_in] += trade.amount_in - fee * split;
        self.reserves[trade.token_out] -= out;
        let fee_value = fee * market.prices[trade.token_in];
        self.revenue.lp += cst::<S>(fee_value * (1.0 - split));
        self.revenue.protocol += cst::<S>(fee_value * split);
    }
}

impl<S: Scalar> Pool<S> for G3mPool<S> {
    fn n_assets(&self) -> usize {
        self.reserves.len()
    }

    fn init(&mut self, weights: &[S], market: &MarketStep<'_>) {
        deposit(
            weights,
            market.prices,
            self.settings.initial_value,
            &mut self.reserves,
        );
        self.last_weights.copy_from_slice(weights);
        self.revenue = FeeRevenue::zero();
    }

    fn step(&mut self, weights: &[S], market: &MarketStep<'_>) {
        self.revenue = FeeRevenue::zero();
        let arbitrage =
            market.arbitrage && TradeWindow::is_open(self.settings.window, market.minute);
        if arbitrage {
            let previous = std::mem::take(&mut self.last_weights);
            self.arbitrage(&previous, market);
            self.last_weights = previous;
        }
        for trade in market.trades {
            self.swap(weights, trade, market);
        }
        // With unchanged weights the pool already sits in the band after the first sub-step.
        let moved = weights
            .iter()
            .zip(&self.last_weights)
            .any(|(a, b)| a.value() != b.value());
        if arbitrage && (moved || !market.trades.is_empty()) {
            self.arbitrage(weights, market);
            self.last_weights.copy_from_slice(weights);
        }
    }

    fn reserves(&self) -> &[S] {
        &self.reserves
    }

    fn fee_revenue(&self) -> FeeRevenue<S> {
        self.revenue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute<'a>(t: usize, p: &'a [f64]) -> MarketStep<'a> {
        MarketStep::frictionless(t, p)
    }

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

    const W: [[f64; 2]; 5] = [
        [0.5, 0.5],
        [0.5, 0.5],
        [0.52, 0.48],
        [0.54, 0.46],
        [0.54, 0.46],
    ];
    const P: [[f64; 2]; 5] = [
        [1.0, 20.0],
        [1.0, 20.4],
        [1.0, 20.4],
        [1.0, 19.5],
        [1.0, 19.5],
    ];

    fn check_path(pool: &mut dyn Pool<f64>, fees: f64, want: &[[f64; 2]], tol: f64) {
        for t in 0..5 {
            let mut m = minute(t, &P[t]);
            m.fees = fees;
            if t == 0 {
                pool.init(&W[t], &m);
            } else {
                pool.step(&W[t], &m);
            }
            for i in 0..2 {
                let r = pool.reserves()[i];
                assert!(
                    (r / want[t][i] - 1.0).abs() < tol,
                    "row {t}: {r} vs {}",
                    want[t][i]
                );
            }
        }
    }

    const ZERO_FEE_ROWS: [[f64; 2]; 5] = [
        [5e5, 25000.0],
        [504975.24691810383, 24753.688574416858],
        [524754.1733810715, 23744.532732175187],
        [532834.0774312993, 23276.7023379295],
        [532834.0774312993, 23276.7023379295],
    ];

    #[test]
    fn zero_fee_paths_match_reference() {
        check_path(&mut G3mZeroFee::new(2, 1e6), 0.0, &ZERO_FEE_ROWS, 1e-13);
        // The fee machinery at zero fee takes the closed-form branch: the same rows.
        check_path(
            &mut G3mPool::new(2, G3mSettings::new(1e6)),
            0.0,
            &ZERO_FEE_ROWS,
            1e-12,
        );
    }

    #[test]
    fn fee_path_matches_reference_where_it_is_not_a_coin_toss() {
        // The reference's rows for fee 0.003 (§6.3) come from knife-edge accept/reject
        // decisions; tfmm accepts every correct trade, so rows agree to ~1e-3.
        let want = [
            [5e5, 25000.0],
            [504229.90481126093, 24790.902860386414],
            [524032.7163868976, 23780.541078083606],
            [532205.2153053676, 23316.829185334318],
            [532205.2153053676, 23316.829185334318],
        ];
        check_path(
            &mut G3mPool::new(2, G3mSettings::new(1e6)),
            0.003,
            &want,
            2e-3,
        );
    }

    #[test]
    fn weight_change_at_fixed_prices_costs_the_kl_divergence() {
        let (w0, w1) = ([0.3f64, 0.7], [0.5f64, 0.5]);
        let p = [2.0, 3.0];
        let mut pool = G3mZeroFee::new(2, 1000.0);
        pool.init(&w0, &minute(0, &p));
        pool.step(&w1, &minute(1, &p));
        let kl: f64 = w1.iter().zip(&w0).map(|(a, b)| a * (a / b).ln()).sum();
        assert!((pool.value(&p) / 1000.0 - (-kl).exp()).abs() < 1e-14);
    }

    #[test]
    fn trading_resumes_from_the_last_traded_state() {
        // At zero fees and fixed weights the result does not depend on skipped minutes.
        let w = [0.4f64, 0.6];
        let prices = [[1.0, 1.0], [1.1, 0.9], [1.3, 0.8], [0.9, 1.2], [1.0, 1.05]];
        let mut every = G3mZeroFee::new(2, 100.0);
        let mut sparse = G3mZeroFee::new(2, 100.0);
        every.init(&w, &minute(0, &prices[0]));
        sparse.init(&w, &minute(0, &prices[0]));
        for (t, p) in prices.iter().enumerate().skip(1) {
            every.step(&w, &minute(t, p));
            let mut m = minute(t, p);
            m.arbitrage = t % 2 == 0;
            sparse.step(&w, &m);
        }
        for i in 0..2 {
            assert!((every.reserves()[i] / sparse.reserves()[i] - 1.0).abs() < 1e-14);
        }
    }

    #[test]
    fn fees_stay_in_the_pool_and_the_protocol_share_leaves_it() {
        let w = [0.5f64, 0.5];
        let p0 = [1.0, 20.0];
        let p1 = [1.0, 21.0];
        let run = |split: f64| {
            let mut pool = G3mPool::new(
                2,
                G3mSettings {
                    protocol_fee_split: split,
                    ..G3mSettings::new(1e6)
                },
            );
            let mut m = minute(0, &p0);
            m.fees = 0.003;
            pool.init(&w, &m);
            let mut m = minute(1, &p1);
            m.fees = 0.003;
            pool.step(&w, &m);
            (pool.value(&p1), pool.fee_revenue())
        };
        let (v0, r0) = run(0.0);
        let (v5, r5) = run(0.5);
        assert!(r0.lp > 0.0 && r0.protocol == 0.0);
        assert!((r5.lp - r0.lp / 2.0).abs() < 1e-9 && (r5.protocol - r0.lp / 2.0).abs() < 1e-9);
        // The protocol's half leaves the pool.
        assert!(
            (v0 - v5 - r5.protocol).abs() < 1e-6,
            "{v0} {v5} {}",
            r5.protocol
        );
    }

    #[test]
    fn gas_threshold_blocks_small_arbitrage() {
        let w = [0.5f64, 0.5];
        let (p0, p1) = ([1.0, 20.0], [1.0, 20.2]);
        for (gas, trades) in [(0.0, true), (1e9, false)] {
            let mut pool = G3mPool::new(2, G3mSettings::new(1e6));
            let mut m = minute(0, &p0);
            m.fees = 0.003;
            pool.init(&w, &m);
            let before = pool.reserves().to_vec();
            let mut m = minute(1, &p1);
            m.fees = 0.003;
            m.gas_cost = gas;
            pool.step(&w, &m);
            assert_eq!(pool.reserves() != before.as_slice(), trades, "gas {gas}");
        }
    }
}
