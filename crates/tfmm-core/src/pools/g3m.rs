//! Geometric mean market makers (invariant `prod R_i^w_i`): TFMM pools with time-varying
//! weights, Balancer pools with constant ones, and the hodling index.
//!
//! [`G3mZeroFee`] is the closed-form path for frictionless markets; [`G3mPool`] handles fees,
//! gas, arbitrageur costs, noise traders, the protocol's fee share and user trades. Each
//! arbitrage minute has the reference's two sub-steps: the price move at the old weights,
//! then the weight change at the new prices.

use super::arbitrage::{Arbitrageur, Validity, swap_out};
use super::{FeeRevenue, MarketStep, Pool, Trade, deposit};
use crate::scalar::{Scalar, cst, exp_near_zeros, ln_1p_near_zeros, ln_ratios};

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
    /// The last arbitrage's weights and prices, then the current minute's: the per-minute
    /// step is a block of one minute.
    pair_weights: Vec<S>,
    pair_prices: Vec<f64>,
    scratch: BlockScratch<S>,
}

impl<S: Scalar> G3mZeroFee<S> {
    pub fn new(n_assets: usize, initial_value: f64) -> Self {
        Self {
            initial_value,
            window: None,
            value: cst(initial_value),
            reserves: vec![cst(0.0); n_assets],
            pair_weights: vec![cst(0.0); 2 * n_assets],
            pair_prices: vec![0.0; 2 * n_assets],
            scratch: BlockScratch {
                inv_prices: Vec::new(),
                price_moves: Vec::new(),
                weight_moves: Vec::new(),
            },
        }
    }

    pub fn with_trade_window(mut self, window: TradeWindow) -> Self {
        self.window = Some(window);
        self
    }
}

/// Per-minute working rows of [`zero_fee_block`], grown once and reused.
#[derive(Clone, Debug)]
struct BlockScratch<S> {
    inv_prices: Vec<f64>,
    price_moves: Vec<f64>,
    weight_moves: Vec<S>,
}

/// Zero-fee arbitrage every minute of a block: `weights` and `prices` hold `values.len() + 1`
/// rows (row-major), the first being the last arbitrage's. From `value` there, writes each
/// minute's value and equilibrium reserves `w V / p`.
///
/// Per minute the value grows by `exp(sum_j w_prev_j ln(p_j / p_prev_j) - KL(w || w_prev))`
/// (price move at the old weights, then the weight change at the new prices; both logs of
/// ratios near 1). Minutes are independent of each other except through the running value,
/// so the logs, exponentials and reserves run as loops over the whole block that vectorise;
/// the one division per price serves both the log and the reserves.
fn zero_fee_block<S: Scalar>(
    weights: &[S],
    prices: &[f64],
    value: S,
    scratch: &mut BlockScratch<S>,
    reserves: &mut [S],
    values: &mut [S],
) -> S {
    // The same operations in wider registers where the CPU has them: IEEE arithmetic without
    // fused multiply-adds, so the results are bit for bit those of the portable build.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been found to support AVX2.
        return unsafe { zero_fee_block_avx2(weights, prices, value, scratch, reserves, values) };
    }
    zero_fee_block_body(weights, prices, value, scratch, reserves, values)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn zero_fee_block_avx2<S: Scalar>(
    weights: &[S],
    prices: &[f64],
    value: S,
    scratch: &mut BlockScratch<S>,
    reserves: &mut [S],
    values: &mut [S],
) -> S {
    zero_fee_block_body(weights, prices, value, scratch, reserves, values)
}

#[inline(always)]
fn zero_fee_block_body<S: Scalar>(
    weights: &[S],
    prices: &[f64],
    value: S,
    scratch: &mut BlockScratch<S>,
    reserves: &mut [S],
    values: &mut [S],
) -> S {
    let m = reserves.len();
    let n = prices.len() - m;
    let BlockScratch {
        inv_prices,
        price_moves,
        weight_moves,
    } = scratch;
    inv_prices.resize(m + n, 0.0);
    price_moves.resize(m, 0.0);
    weight_moves.resize(m, cst(0.0));
    let (inv_prices, price_moves, weight_moves) = (
        &mut inv_prices[..m + n],
        &mut price_moves[..m],
        &mut weight_moves[..m],
    );
    for (q, &p) in inv_prices.iter_mut().zip(prices) {
        *q = 1.0 / p;
    }
    for (((x, &p), &before), &q) in price_moves
        .iter_mut()
        .zip(&prices[n..])
        .zip(prices)
        .zip(inv_prices.iter())
    {
        *x = (p - before) * q;
    }
    ln_1p_near_zeros(price_moves);
    // An unchanged weight contributes an exact zero (and no 0/0 for a zero weight).
    ln_ratios(&weights[n..], &weights[..m], weight_moves);
    // Each token's share of the minute's log growth, then the minute's sum.
    for (((x, &dp), &before), &after) in weight_moves
        .iter_mut()
        .zip(price_moves.iter())
        .zip(weights)
        .zip(&weights[n..])
    {
        *x = before * dp - after * *x;
    }
    // The per-row passes with the row length a constant for the usual two to four tokens
    // (after inlining), so they unroll instead of looping a couple of times per minute.
    let (w, q) = (&weights[n..], &inv_prices[n..]);
    match n {
        2 => row_passes(2, w, q, weight_moves, value, reserves, values),
        3 => row_passes(3, w, q, weight_moves, value, reserves, values),
        4 => row_passes(4, w, q, weight_moves, value, reserves, values),
        _ => row_passes(n, w, q, weight_moves, value, reserves, values),
    }
}

/// Sums each minute's terms into its log growth, exponentiates, runs the value on and writes
/// the equilibrium reserves `w V / p`; returns the last value.
#[inline(always)]
fn row_passes<S: Scalar>(
    n: usize,
    weights: &[S],
    inv_prices: &[f64],
    terms: &[S],
    mut value: S,
    reserves: &mut [S],
    values: &mut [S],
) -> S {
    for (log_growth, terms) in values.iter_mut().zip(terms.chunks_exact(n)) {
        *log_growth = terms.iter().fold(cst::<S>(0.0), |g, &x| g + x);
    }
    exp_near_zeros(values);
    let rows = reserves
        .chunks_exact_mut(n)
        .zip(weights.chunks_exact(n).zip(inv_prices.chunks_exact(n)));
    for (v, (r, (w, q))) in values.iter_mut().zip(rows) {
        value *= *v;
        *v = value;
        for j in 0..n {
            r[j] = w[j] * value * q[j];
        }
    }
    value
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
        let n = self.reserves.len();
        self.pair_weights[..n].copy_from_slice(weights);
        self.pair_prices[..n].copy_from_slice(market.prices);
    }

    fn step(&mut self, weights: &[S], market: &MarketStep<'_>) {
        if !(market.arbitrage && TradeWindow::is_open(self.window, market.minute)) {
            return;
        }
        let n = self.reserves.len();
        self.pair_weights[n..].copy_from_slice(weights);
        self.pair_prices[n..].copy_from_slice(market.prices);
        let mut value = [self.value];
        self.value = zero_fee_block(
            &self.pair_weights,
            &self.pair_prices,
            self.value,
            &mut self.scratch,
            &mut self.reserves,
            &mut value,
        );
        self.pair_weights.copy_within(n.., 0);
        self.pair_prices.copy_within(n.., 0);
    }

    fn steps_frictionless_blocks(&self) -> bool {
        self.window.is_none()
    }

    fn step_frictionless(
        &mut self,
        _minute: usize,
        weights: &[S],
        prices: &[f64],
        reserves: &mut [S],
        values: &mut [S],
    ) {
        self.value = zero_fee_block(
            weights,
            prices,
            self.value,
            &mut self.scratch,
            reserves,
            values,
        );
        let n = self.reserves.len();
        let (last, end) = (values.len() * n, (values.len() + 1) * n);
        self.reserves.copy_from_slice(&reserves[last - n..last]);
        self.pair_weights[..n].copy_from_slice(&weights[last..end]);
        self.pair_prices[..n].copy_from_slice(&prices[last..end]);
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
    /// Reciprocals of `last_weights` (values), and room for the new minute's: each weight
    /// is divided by once, not once per sub-step.
    inv_last_weights: Vec<f64>,
    inv_weights: Vec<f64>,
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
            inv_last_weights: vec![0.0; n_assets],
            inv_weights: vec![0.0; n_assets],
            arbitrageur: Arbitrageur::with_validity(n_assets, settings.validity),
            delta: vec![cst(0.0); n_assets],
            revenue: FeeRevenue::zero(),
        }
    }

    /// One arbitrage against the pool at `weights` (its last arbitrage's if `at_last`),
    /// executed if it pays for gas and the arbitrageur's own costs. `prices` are the
    /// market's, sliced to the pool's tokens.
    #[inline(always)]
    fn arbitrage(&mut self, at_last: bool, weights: &[S], prices: &[f64], market: &MarketStep<'_>) {
        let n = prices.len();
        let Self {
            settings,
            reserves,
            last_weights,
            inv_last_weights,
            inv_weights,
            arbitrageur,
            delta,
            revenue,
        } = self;
        let (reserves, delta) = (&mut reserves[..n], &mut delta[..n]);
        let (weights, inv) = if at_last {
            (&last_weights[..n], &inv_last_weights[..n])
        } else {
            (weights, &inv_weights[..n])
        };
        let gamma = market.gamma();
        let Some(profit) =
            arbitrageur.optimal_trade_with(reserves, weights, inv, prices, gamma, delta)
        else {
            return;
        };
        let unwind_cost = if market.arb_fees == 0.0 {
            0.0
        } else {
            let volume: f64 = delta
                .iter()
                .zip(prices)
                .map(|(d, p)| d.value().abs() * p)
                .sum();
            0.5 * market.arb_fees * volume
        };
        if profit.value() - market.gas_cost < unwind_cost {
            return;
        }
        let split = settings.protocol_fee_split;
        let fee = 1.0 - gamma;
        let mut inbound = cst::<S>(0.0);
        for ((r, &d), &p) in reserves.iter_mut().zip(delta.iter()).zip(prices) {
            // A 0/1 mask rather than a branch (which legs are inbound is a coin toss to a
            // branch predictor); the masked-out terms add exact zeros.
            let d_in = d * f64::from(u8::from(d.value() > 0.0));
            *r += d;
            *r -= d_in * (split * fee);
            inbound += d_in * p;
        }
        revenue.lp += inbound * ((1.0 - split) * fee);
        revenue.protocol += inbound * (split * fee);
        let nu = settings.noise_trader_ratio;
        if nu > 0.0 && fee > 0.0 {
            // Noise traders' fees (net of the protocol's share) grow every reserve alike.
            let income = inbound * (nu * fee * (1.0 - split));
            let value = reserves
                .iter()
                .zip(prices)
                .fold(cst::<S>(0.0), |acc, (&r, &p)| acc + r * p);
            let scale = income / value + 1.0;
            reserves.iter_mut().for_each(|r| *r *= scale);
            revenue.lp += income;
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
        for (q, w) in self.inv_last_weights.iter_mut().zip(weights) {
            *q = 1.0 / w.value();
        }
        self.revenue = FeeRevenue::zero();
    }

    fn step(&mut self, weights: &[S], market: &MarketStep<'_>) {
        // The token count a constant for the usual two to four tokens (after inlining), so
        // the arbitrage's many short loops unroll.
        match self.reserves.len() {
            2 => self.step_n(2, weights, market),
            3 => self.step_n(3, weights, market),
            4 => self.step_n(4, weights, market),
            n => self.step_n(n, weights, market),
        }
    }

    fn reserves(&self) -> &[S] {
        &self.reserves
    }

    fn fee_revenue(&self) -> FeeRevenue<S> {
        self.revenue
    }
}

impl<S: Scalar> G3mPool<S> {
    #[inline(always)]
    fn step_n(&mut self, n: usize, weights: &[S], market: &MarketStep<'_>) {
        let (weights, prices) = (&weights[..n], &market.prices[..n]);
        self.revenue = FeeRevenue::zero();
        let arbitrage =
            market.arbitrage && TradeWindow::is_open(self.settings.window, market.minute);
        if arbitrage {
            self.arbitrage(true, weights, prices, market);
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
            for (q, w) in self.inv_weights[..n].iter_mut().zip(weights) {
                *q = 1.0 / w.value();
            }
            self.arbitrage(false, weights, prices, market);
            self.last_weights[..n].copy_from_slice(weights);
            std::mem::swap(&mut self.inv_last_weights, &mut self.inv_weights);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute<'a>(t: usize, p: &'a [f64]) -> MarketStep<'a> {
        MarketStep::frictionless(t, p)
    }

    // spec reserves.md §6.3: the reference's reserve multipliers for one zero-fee step.
    #[test]
    fn ratio_matches_reference() {
        let (w0, p0, w1, p1) = ([0.5, 0.5], [100.0, 2000.0], [0.6, 0.4], [105.0, 1950.0]);
        let mut pool = G3mZeroFee::new(2, 1e6);
        pool.init(&w0, &minute(0, &p0));
        let before = pool.reserves().to_vec();
        pool.step(&w1, &minute(1, &p1));
        let out: Vec<f64> = (0..2).map(|i| pool.reserves()[i] / before[i]).collect();
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

    /// Blocks of minutes give the minute-by-minute rows bit for bit, also across price
    /// jumps and weight jumps too large for the series (their fallbacks) and held weights.
    #[test]
    fn blocks_equal_minute_steps() {
        let n = 3;
        let minutes = 300;
        let mut prices = Vec::new();
        let mut weights = Vec::new();
        for t in 0..minutes {
            let f = t as f64;
            let jump = if t >= 150 { 0.93 } else { 1.0 };
            prices.extend([
                30000.0 * (1.0 + 1e-3 * (f * 0.7).sin()) * jump,
                2000.0 * (1.0 + 2e-3 * (f * 1.3).cos()),
                if t == 90 { 1.05 } else { 1.0 },
            ]);
            // A ramp, a hold, then a jump of weights.
            let a = match t {
                0..100 => 0.3 + 1e-4 * f,
                100..200 => 0.31,
                _ => 0.45,
            };
            weights.extend([a, 0.5 - a / 2.0, 0.5 - a / 2.0]);
        }
        let mut stepped = G3mZeroFee::new(n, 1e6);
        stepped.init(&weights[..n], &minute(0, &prices[..n]));
        let mut blocked = stepped.clone();
        let rows = minutes - 1;
        let (mut reserves, mut values) = (vec![0.0; rows * n], vec![0.0; rows]);
        for (start, len) in [(1, 40), (41, 200), (241, 59)] {
            let span = (start - 1) * n..(start + len) * n;
            blocked.step_frictionless(
                start,
                &weights[span.clone()],
                &prices[span],
                &mut reserves[(start - 1) * n..(start - 1 + len) * n],
                &mut values[start - 1..start - 1 + len],
            );
        }
        // An independent value path: the textbook growth with library logs.
        let mut value = 1e6;
        for t in 1..minutes {
            let (row, prev) = (t * n..(t + 1) * n, (t - 1) * n..t * n);
            let p = &prices[row.clone()];
            stepped.step(&weights[row.clone()], &minute(t, p));
            assert_eq!(stepped.reserves(), &reserves[prev.clone()], "minute {t}");
            assert_eq!(stepped.value, values[t - 1], "minute {t}");
            let (w0, p0, w1) = (&weights[prev.clone()], &prices[prev], &weights[row]);
            let kl: f64 = (0..n).map(|j| w1[j] * (w1[j] / w0[j]).ln()).sum();
            let moves: f64 = (0..n).map(|j| w0[j] * (p[j] / p0[j]).ln()).sum();
            value *= (moves - kl).exp();
            assert!((values[t - 1] / value - 1.0).abs() < 1e-13, "minute {t}");
        }
        assert_eq!(stepped.reserves(), blocked.reserves());
        // Equilibrium reserves are worth the carried value.
        let last = &prices[(minutes - 1) * n..];
        assert!((blocked.value(last) / values[rows - 1] - 1.0).abs() < 1e-14);
    }

    /// The wide-register build of the block kernel (where the CPU has one) gives the portable
    /// build's numbers bit for bit: plain IEEE operations, no fused multiply-adds.
    #[test]
    fn block_kernel_is_the_same_on_every_cpu() {
        let (n, rows) = (3, 200);
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut prices, mut weights) = (Vec::new(), Vec::new());
        let mut p = [100.0, 20.0, 1.0];
        for _ in 0..=rows {
            p.iter_mut()
                .for_each(|x| *x *= 1.0 + 0.01 * (uniform() - 0.5));
            prices.extend(p);
            let a = 0.2 + 0.1 * uniform();
            weights.extend([a, 0.4, 0.6 - a]);
        }
        type Kernel =
            fn(&[f64], &[f64], f64, &mut BlockScratch<f64>, &mut [f64], &mut [f64]) -> f64;
        let run = |kernel: Kernel| {
            let mut scratch = G3mZeroFee::<f64>::new(n, 1.0).scratch;
            let (mut r, mut v) = (vec![0.0; rows * n], vec![0.0; rows]);
            let last = kernel(&weights, &prices, 1e6, &mut scratch, &mut r, &mut v);
            (last, r, v)
        };
        let dispatched = run(zero_fee_block);
        assert_eq!(dispatched, run(zero_fee_block_body));
        assert!(dispatched.0 > 0.0 && dispatched.0 != 1e6);
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
