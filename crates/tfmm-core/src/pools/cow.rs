//! CoW AMM / FM-AMM (function-maximising AMM, Canidio & Fritsch, arXiv 2307.02074): a
//! two-asset pool that trades in batches, each cleared at one price, after which the pool's
//! quoted price equals that clearing price.
//!
//! With weights `(ω, 1 − ω)` the pool quotes token 0 at `c = (R1 / R0) · ω / (1 − ω)` units of
//! token 1. A batch cleared at price `P` leaves `R0' = ω (R0 + R1 / P)`,
//! `R1' = (1 − ω) (R1 + R0 P)`: the pool's value at `P` is unchanged and its quote becomes `P`.
//!
//! Arbitrage follows two models, run as independent scans and blended by `arb_quality`
//! (spec reserves.md §3.4, the reference's fixed path):
//! - perfect arbitrage: competing arbitrageurs clear the batch at the edge of the no-arbitrage
//!   band `[m γ (1 − af), m / (γ (1 − af))]` around the market price `m`;
//! - one arbitrageur: a monopolist picks the batch size that maximises its profit (paper §6).
//!
//! The single-arbitrageur fee model differs from quantammsim's inside the band (B7): there
//! the reference still trades, taking value from the pool; here nothing trades.

use super::{FeeRevenue, MarketStep, Pool, deposit};
use crate::error::{Error, Result};
use crate::params::{ParamReader, Params};
use crate::scalar::{Scalar, cst};
use crate::weights::initial_weights;

/// Market settings of a [`CowPool`] beyond the per-minute fees and gas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CowSettings {
    pub initial_value: f64,
    /// Weight of the perfect-arbitrage model in the reserves, in `[0, 1]`; the rest is the
    /// single-arbitrageur model.
    pub arb_quality: f64,
    /// Noise-trader volume per unit of arbitrage volume; its fees accrue to the pool.
    pub noise_trader_ratio: f64,
}

impl CowSettings {
    /// Perfect arbitrage only (quantammsim's default `arb_quality = 1`), no noise traders.
    pub fn new(initial_value: f64) -> Self {
        Self {
            initial_value,
            arb_quality: 1.0,
            noise_trader_ratio: 0.0,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let v = self.initial_value;
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::invalid(
                "initial_pool_value",
                v,
                "must be a positive finite amount",
            ));
        }
        let q = self.arb_quality;
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::invalid(
                "arb_quality",
                q,
                "must lie in [0, 1] (1 = perfect arbitrage, 0 = a single arbitrageur)",
            ));
        }
        let nu = self.noise_trader_ratio;
        if !(nu.is_finite() && nu >= 0.0) {
            return Err(Error::invalid(
                "noise_trader_ratio",
                nu,
                "must be a finite number >= 0",
            ));
        }
        Ok(())
    }
}

/// The pool's quote for token 0 in units of token 1.
fn quoted_price<S: Scalar>(r: &[S; 2], omega: S) -> S {
    r[1] / r[0] * (omega / (cst::<S>(1.0) - omega))
}

/// Noise traders' fees, `ν` times the fee on the arbitrage's inbound legs (`delta > 0`),
/// grow every reserve alike (spec §2.5, with the plain `γ`). Returns the income.
fn add_noise_fees<S: Scalar>(
    delta: &[S; 2],
    out: &mut [S; 2],
    p: &[f64],
    nu: f64,
    gamma: f64,
) -> S {
    let mut inbound = cst::<S>(0.0);
    let mut value = cst::<S>(0.0);
    for i in 0..2 {
        if delta[i].value() > 0.0 {
            inbound += delta[i] * p[i];
        }
        value += out[i] * p[i];
    }
    let income = inbound * (nu * (1.0 - gamma));
    let scale = income / value + 1.0;
    out.iter_mut().for_each(|r| *r *= scale);
    income
}

/// Perfect arbitrage: when the pool's quote is outside the no-arbitrage band, the batch
/// clears at the nearer band edge; the inbound leg is grossed up by the fee, which the pool
/// keeps. Returns the new reserves and the LP fees (quote currency, noise traders'
/// included), or `None` inside the band. Gas does not enter (many competing solvers).
pub fn batch_auction<S: Scalar>(
    r: &[S; 2],
    omega: S,
    market: &MarketStep<'_>,
    noise_trader_ratio: f64,
) -> Option<([S; 2], S)> {
    let p = market.prices;
    let gamma = market.gamma();
    let m = p[0] / p[1];
    let lo = m * gamma * (1.0 - market.arb_fees);
    let hi = m / gamma / (1.0 - market.arb_fees);
    let c = quoted_price(r, omega).value();
    // The upper edge is checked second and wins, as in the reference (both hold only when
    // the band has collapsed to one point).
    let clearing = if hi <= c {
        hi
    } else if c <= lo {
        lo
    } else {
        return None;
    };
    let rest = cst::<S>(1.0) - omega;
    let mut out = [
        omega * (r[0] + r[1] / clearing),
        rest * (r[1] + r[0] * clearing),
    ];
    let mut fees = cst::<S>(0.0);
    for i in 0..2 {
        let d = out[i] - r[i];
        if d.value() > 0.0 {
            let fee = d * (1.0 - gamma) / gamma;
            out[i] += fee;
            fees += fee * p[i];
        }
    }
    if noise_trader_ratio > 0.0 {
        let delta = [out[0] - r[0], out[1] - r[1]];
        fees += add_noise_fees(&delta, &mut out, p, noise_trader_ratio, gamma);
    }
    Some((out, fees))
}

/// A single arbitrageur's profit-maximising batch against the pool (FM-AMM paper §6): the
/// change of the pool's reserves (positive = into the pool), or `None` inside the fee band.
///
/// Zero fee: `T0 = sqrt(ω(1−ω) k / m) − (1−ω) R0`, `T1 = sqrt(ω(1−ω) k m) − ω R1` with
/// `k = R0 R1`, the reference's formula verbatim (no band test; its profit is never negative).
/// With a fee the pool sees `γ` of the inbound amount: token 0 goes in when `c > m / γ`,
/// token 1 when `c < m γ`, and nothing trades in between. (quantammsim evaluates both
/// cases' formulas and keeps the one with the smaller profit: outside the band that is the
/// right one, inside it is a trade that takes value from the pool, B7.)
pub fn single_arbitrage_trade<S: Scalar>(
    r: &[S; 2],
    omega: S,
    p: &[f64],
    gamma: f64,
) -> Option<[S; 2]> {
    let m = p[0] / p[1];
    let rest = cst::<S>(1.0) - omega;
    let k = r[0] * r[1];
    if gamma == 1.0 {
        let pw = omega * rest;
        return Some([
            (pw * k / m).sqrt() - rest * r[0],
            (pw * k * m).sqrt() - omega * r[1],
        ]);
    }
    let pw = rest * omega;
    let root0 = (pw * k / (gamma * m)).sqrt();
    let root1 = (pw * k * m / gamma).sqrt();
    // Token 0 goes in when the pool quotes it above the market, token 1 otherwise.
    let (t, into) = if quoted_price(r, omega).value() > m {
        ([root0 - rest * r[0] / gamma, root1 - omega * r[1]], 0)
    } else {
        ([root0 - rest * r[0], root1 - omega * r[1] / gamma], 1)
    };
    // Both legs change sign together, exactly at the band edge: a trade in the other
    // direction means the pool is inside the band.
    (t[into].value() > 0.0 && t[1 - into].value() < 0.0).then_some(t)
}

/// [`single_arbitrage_trade`], executed if its profit pays for gas and the arbitrageur's
/// unwinding costs (`0.5 · arb_fees` of the traded notional). Returns the new reserves and
/// the LP fees (quote currency, noise traders' included), or `None`.
pub fn single_arbitrage<S: Scalar>(
    r: &[S; 2],
    omega: S,
    market: &MarketStep<'_>,
    noise_trader_ratio: f64,
) -> Option<([S; 2], S)> {
    let p = market.prices;
    let gamma = market.gamma();
    let t = single_arbitrage_trade(r, omega, p, gamma)?;
    let profit = -(t[0] * p[0] + t[1] * p[1]);
    let unwind_cost =
        0.5 * market.arb_fees * (t[0].value().abs() * p[0] + t[1].value().abs() * p[1]);
    if !(profit.value() - market.gas_cost >= unwind_cost) {
        return None;
    }
    let mut out = [r[0] + t[0], r[1] + t[1]];
    let mut fees = cst::<S>(0.0);
    if gamma != 1.0 {
        for i in 0..2 {
            if t[i].value() > 0.0 {
                fees += t[i] * ((1.0 - gamma) * p[i]);
            }
        }
        if noise_trader_ratio > 0.0 {
            fees += add_noise_fees(&t, &mut out, p, noise_trader_ratio, gamma);
        }
    }
    Some((out, fees))
}

/// An exact-in FM-AMM swap: `amount_in` of token `i` (weight `w_in`) for token `o`, the pool
/// seeing `γ · amount_in`; the batch clears at the pool's post-trade quote. Returns the amount
/// of `o` paid out (spec §3.4, dynamic path).
pub fn fm_amm_swap_out<S: Scalar>(
    r: &[S],
    w_in: S,
    i: usize,
    o: usize,
    amount_in: f64,
    gamma: f64,
) -> S {
    r[o] * amount_in
        / ((r[i] / gamma) * ((cst::<S>(1.0) - w_in) / w_in) + cst::<S>(amount_in) / w_in)
}

/// CoW AMM reserves: the blend `arb_quality · R_perfect + (1 − arb_quality) · R_one_arb` of two
/// independent scans, with fees, arbitrageur costs, noise traders and user trades.
#[derive(Clone, Debug)]
pub struct CowPool<S> {
    settings: CowSettings,
    perfect: [S; 2],
    one_arb: [S; 2],
    reserves: [S; 2],
    revenue: FeeRevenue<S>,
}

impl<S: Scalar> CowPool<S> {
    pub fn new(settings: CowSettings) -> Result<Self> {
        settings.validate()?;
        Ok(Self {
            settings,
            perfect: [cst(0.0); 2],
            one_arb: [cst(0.0); 2],
            reserves: [cst(0.0); 2],
            revenue: FeeRevenue::zero(),
        })
    }

    /// A pool for the parameter set of rule `cow`: its only parameters are the weights
    /// (`initial_weights_logits` or `initial_weights`), which must give two weights strictly
    /// between 0 and 1. The weights themselves reach the pool through [`Pool::init`] and
    /// [`Pool::step`] (a `ConstantWeights` path built from the same parameters).
    pub fn from_params(params: &Params<S>, n_assets: usize, settings: CowSettings) -> Result<Self> {
        if n_assets != 2 {
            return Err(Error::invalid(
                "tokens",
                n_assets,
                "a CoW AMM pool holds exactly 2 assets",
            ));
        }
        let mut reader = ParamReader::new(params, "cow", n_assets);
        let weights = initial_weights(&mut reader)?;
        reader.finish()?;
        let omega = weights[0].value();
        if !(omega > 0.0 && omega < 1.0) {
            return Err(Error::invalid(
                "weights",
                format!("[{omega}, {}]", weights[1].value()),
                "a CoW AMM needs both weights strictly between 0 and 1",
            ));
        }
        Self::new(settings)
    }

    fn blend(&mut self) {
        let q = self.settings.arb_quality;
        // The unused model is not simulated; the blend's other term would be exactly zero.
        if q == 1.0 {
            self.reserves = self.perfect;
        } else if q == 0.0 {
            self.reserves = self.one_arb;
        } else {
            for i in 0..2 {
                self.reserves[i] = self.perfect[i] * q + self.one_arb[i] * (1.0 - q);
            }
        }
    }
}

impl<S: Scalar> Pool<S> for CowPool<S> {
    fn n_assets(&self) -> usize {
        2
    }

    /// The deposit, then the minute's arbitrage and trades like any other minute (the
    /// reference's scan starts at the deposit's prices).
    fn init(&mut self, weights: &[S], market: &MarketStep<'_>) {
        deposit(
            weights,
            market.prices,
            self.settings.initial_value,
            &mut self.perfect,
        );
        self.one_arb = self.perfect;
        self.step(weights, market);
    }

    fn step(&mut self, weights: &[S], market: &MarketStep<'_>) {
        let q = self.settings.arb_quality;
        let nu = self.settings.noise_trader_ratio;
        let omega = weights[0];
        let mut lp = cst::<S>(0.0);
        if market.arbitrage {
            if q > 0.0
                && let Some((r, fees)) = batch_auction(&self.perfect, omega, market, nu)
            {
                self.perfect = r;
                lp += fees * q;
            }
            if q < 1.0
                && let Some((r, fees)) = single_arbitrage(&self.one_arb, omega, market, nu)
            {
                self.one_arb = r;
                lp += fees * (1.0 - q);
            }
        }
        let gamma = market.gamma();
        for trade in market.trades {
            let a = trade.amount_in;
            if a == 0.0 {
                continue;
            }
            let (i, o) = (trade.token_in, trade.token_out);
            // A user's swap reaches the pool whichever arbitrage model describes it.
            for (r, used) in [(&mut self.perfect, q > 0.0), (&mut self.one_arb, q < 1.0)] {
                if used {
                    let out = fm_amm_swap_out(r, weights[i], i, o, a, gamma);
                    r[i] += a;
                    r[o] -= out;
                }
            }
            lp += cst::<S>(a * (1.0 - gamma) * market.prices[i]);
        }
        self.revenue = FeeRevenue {
            lp,
            protocol: cst(0.0),
        };
        self.blend();
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
    use crate::params::ParamArray;
    use crate::pools::Trade;
    use crate::pools::arbitrage::equilibrium_trade;
    use num_dual::Dual64;

    const HALF: [f64; 2] = [0.5, 0.5];
    // spec reserves.md §6.3: R = (10, 200), the deposit of 400 at prices (20, 1).
    const P: [[f64; 2]; 4] = [[20.0, 1.0], [25.0, 1.0], [24.0, 1.0], [18.0, 1.0]];

    fn settings(arb_quality: f64) -> CowSettings {
        CowSettings {
            arb_quality,
            ..CowSettings::new(400.0)
        }
    }

    /// Reserves after each minute of `prices`, every minute's market edited by `edit`.
    fn rows(
        settings: CowSettings,
        w: &[f64; 2],
        prices: &[[f64; 2]],
        edit: impl Fn(&mut MarketStep<'_>),
    ) -> Vec<[f64; 2]> {
        let mut pool = CowPool::new(settings).unwrap();
        let mut out = vec![];
        for (t, p) in prices.iter().enumerate() {
            let mut m = MarketStep::frictionless(t, p);
            edit(&mut m);
            if t == 0 {
                pool.init(w, &m);
            } else {
                pool.step(w, &m);
            }
            out.push([pool.reserves()[0], pool.reserves()[1]]);
        }
        out
    }

    fn fee(fees: f64) -> impl Fn(&mut MarketStep<'_>) {
        move |m| m.fees = fees
    }

    fn assert_close(got: [f64; 2], want: [f64; 2], tol: f64, what: &str) {
        for i in 0..2 {
            assert!(
                (got[i] / want[i] - 1.0).abs() <= tol,
                "{what}: {got:?} vs {want:?}"
            );
        }
    }

    /// splitmix64 on [0, 1): seeded states without an RNG crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }

        fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * self.next()
        }

        /// `exp(±u)` with `u` in `[lo, hi]`.
        fn factor(&mut self, lo: f64, hi: f64) -> f64 {
            let u = self.uniform(lo, hi);
            if self.next() < 0.5 {
                u.exp()
            } else {
                (-u).exp()
            }
        }
    }

    #[test]
    fn perfect_arbitrage_matches_reference_rows() {
        let got = rows(settings(1.0), &HALF, &P, fee(0.0));
        let want = [
            [10.0, 200.0],
            [9.0, 225.0],
            [9.1875, 220.5],
            [10.71875, 192.9375],
        ];
        for t in 0..4 {
            assert_close(got[t], want[t], 1e-15, &format!("row {t}"));
        }
        // At zero fee the batch clears at the market price: the pool's value is unchanged.
        for t in 1..4 {
            let v = |r: [f64; 2]| r[0] * P[t][0] + r[1] * P[t][1];
            assert!((v(got[t]) / v(got[t - 1]) - 1.0).abs() < 1e-15);
        }
    }

    #[test]
    fn perfect_arbitrage_with_fee_matches_reference_row() {
        let got = rows(settings(1.0), &HALF, &P[..2], fee(0.003));
        assert_eq!(got[0], [10.0, 200.0], "aligned pool inside the band");
        assert_close(
            got[1],
            [9.012036108324974, 224.69909729187563],
            1e-15,
            "row 1",
        );
    }

    #[test]
    fn single_arbitrageur_zero_fee_matches_reference_row() {
        let got = rows(settings(0.0), &HALF, &P[..2], fee(0.0));
        assert_close(got[0], [10.0, 200.0], 1e-15, "row 0");
        assert_close(
            got[1],
            [9.47213595499958, 211.80339887498948],
            1e-15,
            "row 1",
        );
    }

    // The reference's row 0 here is (9.999988699190865, 199.9997739838173): at aligned prices
    // it sums both cases' formulas and takes 2.3e-4 of value from the pool (B7).
    #[test]
    fn single_arbitrageur_with_fee_leaves_an_aligned_pool_alone() {
        let got = rows(settings(0.0), &HALF, &P[..2], fee(0.003));
        assert_eq!(got[0], [10.0, 200.0]);
        // Outside the band the trade is the reference's (its formula from (10, 200)).
        assert_close(
            got[1],
            [9.478859290223893, 211.67057954747295],
            1e-15,
            "token 1 in",
        );
        let got = rows(settings(0.0), &HALF, &[P[0], P[3]], fee(0.003));
        assert_close(
            got[1],
            [10.263341158089919, 195.01095328293047],
            1e-15,
            "token 0 in",
        );
    }

    #[test]
    fn inside_the_fee_band_nothing_trades() {
        let mut rng = Rng(7);
        let mut prices = vec![[3.0, 1.0]];
        for _ in 0..200 {
            // Within ±0.25% of the start: inside the 30 bp band.
            prices.push([3.0 * rng.uniform(0.9975, 1.0025), 1.0]);
        }
        let w = [0.3, 0.7];
        for q in [1.0, 0.0, 0.4] {
            let mut pool = CowPool::new(settings(q)).unwrap();
            for (t, p) in prices.iter().enumerate() {
                let mut m = MarketStep::frictionless(t, p);
                m.fees = 0.003;
                if t == 0 {
                    pool.init(&w, &m);
                } else {
                    pool.step(&w, &m);
                }
                assert_eq!(pool.reserves(), &[40.0, 280.0], "q {q}, minute {t}");
                assert_eq!(pool.fee_revenue().lp, 0.0);
            }
        }
    }

    // arXiv 2307.02074: against one arbitrageur and without fees, the FM-AMM loses exactly
    // half of what a constant-product pool loses to the same arbitrage.
    #[test]
    fn single_arbitrageur_earns_half_the_constant_product_profit() {
        let mut rng = Rng(2307_02074);
        let mut worst = 0.0f64;
        for case in 0..50 {
            let r = [rng.uniform(0.01, 1e6), rng.uniform(0.01, 1e6)];
            // Market price 2% to 100% (in log) away from the pool's.
            let c = r[1] / r[0];
            let p = [c * rng.factor(0.02, 1.0) * 7.0, 7.0];
            let t = single_arbitrage_trade(&r, 0.5, &p, 1.0).unwrap();
            let fm_profit = -(t[0] * p[0] + t[1] * p[1]);
            let mut d = [0.0; 2];
            let cp_profit = equilibrium_trade(&r, &HALF, &p, &mut d);
            worst = worst.max((fm_profit / (0.5 * cp_profit) - 1.0).abs());
            assert!(
                (fm_profit / (0.5 * cp_profit) - 1.0).abs() < 1e-12,
                "case {case}: {fm_profit} vs {cp_profit} / 2"
            );
        }
        eprintln!("largest relative difference from half: {worst:.1e}");
    }

    // The single arbitrageur's trade is an FM-AMM swap, and no other swap size earns more.
    #[test]
    fn single_arbitrageur_trade_is_the_best_fm_amm_swap() {
        let mut rng = Rng(11);
        for case in 0..50 {
            let omega = rng.uniform(0.1, 0.9);
            let w = [omega, 1.0 - omega];
            let gamma = if case % 5 == 0 {
                1.0
            } else {
                1.0 - rng.uniform(1e-4, 0.02)
            };
            let r = [rng.uniform(1.0, 1e4), rng.uniform(1.0, 1e4)];
            let c = r[1] / r[0] * omega / (1.0 - omega);
            // Outside the band by 1% to 50% in log.
            let p = [c * rng.factor(-gamma.ln() + 0.01, -gamma.ln() + 0.5), 1.0];
            let t = single_arbitrage_trade(&r, omega, &p, gamma).unwrap();
            let (i, o) = if t[0] > 0.0 { (0, 1) } else { (1, 0) };
            let out = |a: f64| fm_amm_swap_out(&r, w[i], i, o, a, gamma);
            assert!(
                (out(t[i]) / -t[o] - 1.0).abs() < 1e-12,
                "case {case}: {t:?} vs {}",
                out(t[i])
            );
            let profit = |a: f64| out(a) * p[o] - a * p[i];
            let best = profit(t[i]);
            assert!(best > 0.0);
            for f in [0.99, 0.999, 1.001, 1.01] {
                assert!(profit(t[i] * f) < best, "case {case}: size x{f}");
            }
        }
    }

    #[test]
    fn fee_path_at_zero_fee_trades_once() {
        // quantammsim's fee path sums its two identical cases at fee 0 and trades twice the
        // amount; a tiny gas threshold must not change the zero-fee trade.
        let got = rows(settings(0.0), &HALF, &P[..2], |m| m.gas_cost = 1e-9);
        assert_close(
            got[1],
            [9.47213595499958, 211.80339887498948],
            1e-15,
            "row 1",
        );
    }

    #[test]
    fn gas_gates_the_single_arbitrageur_only() {
        // From (10, 200) at (25, 1) the single arbitrageur earns 25 (5 - sqrt 20) - 100 (sqrt 1.25 - 1)
        // = 1.3932.
        let profit = 25.0 * (5.0 - 20f64.sqrt()) - 100.0 * (1.25f64.sqrt() - 1.0);
        for (gas, trades) in [(profit - 1e-6, true), (profit + 1e-6, false)] {
            let got = rows(settings(0.0), &HALF, &P[..2], |m| m.gas_cost = gas);
            assert_eq!(got[1] != [10.0, 200.0], trades, "gas {gas}");
            let got = rows(settings(1.0), &HALF, &P[..2], |m| m.gas_cost = gas);
            assert_eq!(got[1], [9.0, 225.0], "the batch auction ignores gas");
        }
    }

    #[test]
    fn arb_fees_widen_the_batch_auction_band() {
        // Pool quote 20, market 25: the band's lower edge is 25 (1 - af).
        let got = rows(settings(1.0), &HALF, &P[..2], |m| m.arb_fees = 0.25);
        assert_eq!(got[1], [10.0, 200.0]);
        let got = rows(settings(1.0), &HALF, &P[..2], |m| m.arb_fees = 0.1);
        assert_close(
            got[1],
            [0.5 * (10.0 + 200.0 / 22.5), 0.5 * (200.0 + 10.0 * 22.5)],
            1e-15,
            "cleared at 22.5",
        );
    }

    #[test]
    fn arb_quality_blends_two_independent_scans() {
        let mut rng = Rng(3);
        let mut prices = vec![[1800.0, 1.0]];
        for t in 1..300 {
            let last = prices[t - 1][0];
            prices.push([last * rng.factor(0.0, 0.01), 1.0]);
        }
        let w = [0.6, 0.4];
        let perfect = rows(settings(1.0), &w, &prices, fee(0.003));
        let one_arb = rows(settings(0.0), &w, &prices, fee(0.003));
        let blend = rows(settings(0.3), &w, &prices, fee(0.003));
        let mut differ = 0;
        for t in 0..prices.len() {
            for i in 0..2 {
                let want = perfect[t][i] * 0.3 + one_arb[t][i] * 0.7;
                assert!((blend[t][i] / want - 1.0).abs() < 1e-15, "minute {t}");
            }
            differ += usize::from(perfect[t] != one_arb[t]);
        }
        assert!(
            differ > 200,
            "the two models agree on {differ} minutes only"
        );
    }

    // spec reserves.md §6.3 noise-scaling golden value.
    #[test]
    fn noise_scaling_matches_reference() {
        let mut out = [1010.0, 49.6];
        let income = add_noise_fees(&[10.0, -0.4], &mut out, &[1.0, 22.0], 1.5, 0.997);
        assert_close(out, [1010.021630496859, 49.601062250142775], 1e-15, "noise");
        assert!((income - 1.5 * 0.003 * 10.0).abs() < 1e-15);
    }

    #[test]
    fn fees_and_noise_income_stay_in_the_pool() {
        let nu = 1.5;
        for q in [1.0, 0.0] {
            let run = |nu: f64| {
                let mut pool = CowPool::new(CowSettings {
                    noise_trader_ratio: nu,
                    ..settings(q)
                })
                .unwrap();
                let mut m = MarketStep::frictionless(0, &P[0]);
                m.fees = 0.003;
                pool.init(&HALF, &m);
                let mut m = MarketStep::frictionless(1, &P[1]);
                m.fees = 0.003;
                pool.step(&HALF, &m);
                (pool.value(&P[1]), pool.fee_revenue())
            };
            let (v0, r0) = run(0.0);
            let (v1, r1) = run(nu);
            assert!(r0.lp > 0.0 && r0.protocol == 0.0);
            // Noise income is nu times the arbitrage's fees, and all of it is in the pool.
            assert!((r1.lp / r0.lp - (1.0 + nu)).abs() < 1e-12, "q {q}");
            assert!(
                ((v1 - v0) / (nu * r0.lp) - 1.0).abs() < 1e-9,
                "q {q}: {v0} {v1}"
            );
        }
    }

    // Reference values from quantammsim's FM-AMM exact-in formula, R = (1000, 2000), 100 in,
    // gamma 0.99.
    #[test]
    fn user_swap_matches_reference_formula() {
        let r = [1000.0f64, 2000.0];
        let out = fm_amm_swap_out(&r, 0.5, 0, 1, 100.0, 0.99);
        assert!((out / 165.2754590984975 - 1.0).abs() < 1e-15, "{out}");
        let out = fm_amm_swap_out(&r, 0.2, 0, 1, 100.0, 0.99);
        assert!((out / 44.048943270300335 - 1.0).abs() < 1e-15, "{out}");
        let out = fm_amm_swap_out(&r, 0.8, 1, 0, 100.0, 0.99);
        assert!((out / 158.7174348697395 - 1.0).abs() < 1e-15, "{out}");
        // Without a fee the swap's price is the pool's quote after it.
        let (a, w) = (100.0, [0.3, 0.7]);
        let y = fm_amm_swap_out(&r, w[0], 0, 1, a, 1.0);
        let after = [r[0] + a, r[1] - y];
        assert!(((after[1] / after[0]) * (w[0] / w[1]) / (y / a) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn user_trades_reach_both_models_and_pay_the_fee() {
        let trades = [
            Trade {
                token_in: 1,
                token_out: 0,
                amount_in: 30.0,
            },
            Trade {
                token_in: 0,
                token_out: 1,
                amount_in: 0.0,
            },
        ];
        for q in [1.0, 0.0, 0.5] {
            let mut pool = CowPool::new(settings(q)).unwrap();
            let mut m = MarketStep::frictionless(0, &P[0]);
            m.fees = 0.003;
            pool.init(&HALF, &m);
            m.minute = 1;
            m.trades = &trades;
            pool.step(&HALF, &m);
            let out = fm_amm_swap_out(&[10.0, 200.0], 0.5, 1, 0, 30.0, 0.997);
            assert_close(
                [pool.reserves()[0], pool.reserves()[1]],
                [10.0 - out, 230.0],
                1e-15,
                &format!("q {q}"),
            );
            assert!((pool.fee_revenue().lp - 30.0 * 0.003).abs() < 1e-15);
        }
    }

    #[test]
    fn no_arbitrage_minutes_hold_the_reserves() {
        let got = rows(settings(0.5), &HALF, &P, |m| m.arbitrage = m.minute == 0);
        assert!(got.iter().all(|r| *r == [10.0, 200.0]), "{got:?}");
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let mut rng = Rng(5);
        let mut prices = vec![[20.0, 1.0]];
        for t in 1..40 {
            let last = prices[t - 1][0];
            prices.push([last * rng.factor(0.0, 0.02), 1.0]);
        }
        let value = |omega: Dual64| {
            let w = [omega, Dual64::from(1.0) - omega];
            let mut pool = CowPool::new(CowSettings {
                noise_trader_ratio: 0.5,
                ..settings(0.4)
            })
            .unwrap();
            for (t, p) in prices.iter().enumerate() {
                let mut m = MarketStep::frictionless(t, p);
                m.fees = 0.003;
                if t == 0 {
                    pool.init(&w, &m);
                } else {
                    pool.step(&w, &m);
                }
            }
            pool.value(prices.last().unwrap())
        };
        let omega = 0.35;
        let v = value(Dual64::new(omega, 1.0));
        let h = 1e-6;
        let fd =
            (value(Dual64::from(omega + h)).re - value(Dual64::from(omega - h)).re) / (2.0 * h);
        assert!((v.eps / fd - 1.0).abs() < 1e-6, "{} vs {fd}", v.eps);
    }

    #[test]
    fn bad_settings_and_parameters_are_clear_errors() {
        let logits =
            Params::new().with("initial_weights_logits", ParamArray::vector(vec![0.0, 0.0]));
        assert!(CowPool::from_params(&logits, 2, CowSettings::new(1e6)).is_ok());
        let err = |r: Result<CowPool<f64>>| r.unwrap_err().to_string();
        let e = err(CowPool::from_params(&logits, 3, CowSettings::new(1e6)));
        assert!(e.contains("tokens = 3") && e.contains("exactly 2"), "{e}");
        let typo = logits.clone().with("k", ParamArray::scalar(1.0));
        let e = err(CowPool::from_params(&typo, 2, CowSettings::new(1e6)));
        assert!(e.contains("params.k") && e.contains("`cow`"), "{e}");
        let extreme = Params::new().with(
            "initial_weights_logits",
            ParamArray::vector(vec![800.0, -800.0]),
        );
        let e = err(CowPool::from_params(&extreme, 2, CowSettings::new(1e6)));
        assert!(e.contains("strictly between 0 and 1"), "{e}");
        for (s, field) in [
            (settings(1.5), "arb_quality = 1.5"),
            (settings(f64::NAN), "arb_quality = NaN"),
            (CowSettings::new(0.0), "initial_pool_value = 0"),
            (
                CowSettings {
                    noise_trader_ratio: -1.0,
                    ..CowSettings::new(1e6)
                },
                "noise_trader_ratio = -1",
            ),
        ] {
            let e = err(CowPool::new(s));
            assert!(e.starts_with(field), "{e}");
        }
    }
}
