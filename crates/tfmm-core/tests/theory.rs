//! Theory checks for the geometric-mean pools on seeded synthetic paths: what the maths says
//! a G3M must do (value as a weighted geometric price index, loss-versus-rebalancing, the
//! no-arbitrage band with fees, the two-token closed form, Balancer's on-chain swap maths),
//! measured against the pool code rather than restated from it.

use balancer_maths_rust::common::maths::mul_up_fixed;
use balancer_maths_rust::pools::weighted::{MIN_WEIGHT, compute_out_given_exact_in};
use std::f64::consts::PI;
use std::fmt::{Debug, Display};
use std::str::FromStr;
use tfmm_core::pools::arbitrage::{Arbitrageur, Validity, swap_out};
use tfmm_core::pools::{G3mPool, G3mSettings, G3mZeroFee, Pool};
use tfmm_core::simulate::{self, Market, Series};
use tfmm_core::weights::ConstantWeights;

/// xorshift64* with Box–Muller normals: seeded, dependency-free, good enough for test paths.
struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            spare: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform on [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.uniform()).exp()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize
    }

    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // 1 - u lies in (0, 1], so the log is finite.
        let radius = (-2.0 * (1.0 - self.uniform()).ln()).sqrt();
        let angle = 2.0 * PI * self.uniform();
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

/// Row-major GBM prices: per-minute log-returns `drift - sigma^2/2 + sigma z`, so `drift` is
/// the arithmetic drift and `drift = 0` makes each price a martingale.
fn gbm(rng: &mut Rng, p0: &[f64], sigma: &[f64], drift: &[f64], minutes: usize) -> Vec<f64> {
    let mut p = p0.to_vec();
    let mut out = Vec::with_capacity(minutes * p0.len());
    out.extend_from_slice(&p);
    for _ in 1..minutes {
        for a in 0..p.len() {
            p[a] *= (drift[a] - 0.5 * sigma[a] * sigma[a] + sigma[a] * rng.normal()).exp();
        }
        out.extend_from_slice(&p);
    }
    out
}

fn relative(a: f64, b: f64) -> f64 {
    (a / b - 1.0).abs()
}

// ---------------------------------------------------------------------------------------
// (a) Zero fees, constant weights: the pool holds the weighted geometric price index.
// ---------------------------------------------------------------------------------------

/// At zero fees arbitrage keeps `prod R_i^w_i` fixed and value shares at `w`, so
/// `V = k prod (p_i / w_i)^w_i`: the value is the deposit times the weighted geometric mean
/// of price relatives, whatever path the prices took.
#[test]
fn zero_fee_value_is_the_weighted_geometric_price_index() {
    const MINUTES: usize = 3000;
    const V0: f64 = 1e6;
    let weight_sets: [&[f64]; 9] = [
        &[0.5, 0.5],
        &[0.8, 0.2],
        &[0.03, 0.97],
        &[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
        &[0.6, 0.3, 0.1],
        &[0.15, 0.05, 0.8],
        &[0.2, 0.2, 0.2, 0.2, 0.2],
        &[0.4, 0.3, 0.15, 0.1, 0.05],
        &[0.02, 0.08, 0.5, 0.25, 0.15],
    ];
    let p0_all = [30000.0, 2000.0, 1.0, 0.35, 150.0];
    let mut rng = Rng::new(11);
    // Worst relative error per (pool, arbitrage every minute / every 7th minute).
    let mut worst = [[0.0f64; 2]; 2];
    for w in weight_sets {
        let n = w.len();
        let p0 = &p0_all[..n];
        let sigma: Vec<f64> = (0..n).map(|_| rng.range(5e-4, 5e-3)).collect();
        let drift: Vec<f64> = (0..n).map(|_| rng.range(-2e-5, 2e-5)).collect();
        let prices = gbm(&mut rng, p0, &sigma, &drift, MINUTES);
        for (f, frequency) in [1usize, 7].into_iter().enumerate() {
            let mut market = Market::new(n, &prices);
            market.arb_frequency = frequency;
            let pools: [Box<dyn Pool<f64>>; 2] = [
                Box::new(G3mZeroFee::new(n, V0)),
                Box::new(G3mPool::new(n, G3mSettings::new(V0))),
            ];
            for (k, mut pool) in pools.into_iter().enumerate() {
                let mut weights = ConstantWeights::new(w.to_vec(), 0);
                let path = simulate::run(&mut weights, pool.as_mut(), &market, MINUTES).unwrap();
                // Between arbitrages reserves are stale, so the identity holds only at
                // arbitrage minutes; there it must hold regardless of the skipped moves.
                for t in (0..MINUTES).step_by(frequency) {
                    let pt = &prices[t * n..(t + 1) * n];
                    let log_index: f64 = (0..n).map(|i| w[i] * (pt[i] / p0[i]).ln()).sum();
                    let err = relative(path.values[t], V0 * log_index.exp());
                    worst[k][f] = worst[k][f].max(err);
                }
            }
        }
    }
    eprintln!(
        "index identity, worst rel err: G3mZeroFee {:.2e} (every 7th: {:.2e}), \
         G3mPool fee 0 {:.2e} (every 7th: {:.2e})",
        worst[0][0], worst[0][1], worst[1][0], worst[1][1]
    );
    for (k, name) in ["G3mZeroFee", "G3mPool at zero fee"].iter().enumerate() {
        for f in 0..2 {
            assert!(worst[k][f] < 1e-9, "{name}: {:e}", worst[k][f]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// (b) Loss-versus-rebalancing (Milionis, Moallemi, Roughgarden & Zhang, arXiv 2208.06046).
// ---------------------------------------------------------------------------------------

/// LVR per unit value of a G3M is `w(1-w) sigma^2 / 2` per unit time (`sigma^2/8` at 50/50).
/// One minute with log-return x earns the arbitrageur `V (w e^x + 1 - w - e^{wx})`, whose
/// expectation under a martingale price is `V (1 - exp(-w(1-w) s^2/2))`: the continuous rate
/// up to a relative `O(s^2) ~ 1e-7`, far below the statistical error.
struct LvrEstimate {
    per_day: f64,
    standard_error: f64,
}

fn measure_lvr(pool: &mut dyn Pool<f64>, w: f64, prices: &[f64], minutes: usize) -> LvrEstimate {
    let market = Market::new(2, prices);
    let mut weights = ConstantWeights::new(vec![w, 1.0 - w], 0);
    let (mut prev, mut prev_value) = ([0.0f64; 2], 0.0);
    let (mut sum, mut sum_sq) = (0.0f64, 0.0f64);
    simulate::simulate(&mut weights, pool, &market, minutes, |row| {
        if row.minute > 0 {
            // The arbitrageur's profit: the old reserves at new prices less the new value.
            let before = prev[0] * row.prices[0] + prev[1] * row.prices[1];
            let loss = (before - row.value) / prev_value;
            sum += loss;
            sum_sq += loss * loss;
        }
        prev.copy_from_slice(row.reserves);
        prev_value = row.value;
    })
    .unwrap();
    let count = (minutes - 1) as f64;
    let mean = sum / count;
    let variance = (sum_sq / count - mean * mean) * count / (count - 1.0);
    LvrEstimate {
        per_day: mean * 1440.0,
        standard_error: (variance / count).sqrt() * 1440.0,
    }
}

#[test]
fn zero_fee_loss_versus_rebalancing_matches_theory() {
    // Each minute's loss is ~ w(1-w) x^2 / 2, a chi-square with relative sd sqrt(2), so the
    // relative standard error is sqrt(2 / N): 2^20 minutes (~2 years) give ~0.14%.
    const MINUTES: usize = 1 << 20;
    const SIGMA_DAILY: f64 = 0.05;
    let s = SIGMA_DAILY / 1440f64.sqrt();
    for (seed, w) in [(2208, 0.5), (608, 0.8)] {
        // A path per weight: on a shared path both estimates err by the same relative
        // amount (the loss is ~ w(1-w) x^2 / 2 minute by minute), one check, not two.
        let prices = gbm(
            &mut Rng::new(seed),
            &[2000.0, 1.0],
            &[s, 0.0],
            &[0.0, 0.0],
            MINUTES,
        );
        let theory = w * (1.0 - w) * SIGMA_DAILY * SIGMA_DAILY / 2.0;
        let pools: [(&str, Box<dyn Pool<f64>>); 2] = [
            ("G3mZeroFee", Box::new(G3mZeroFee::new(2, 1e6))),
            (
                "G3mPool fee 0",
                Box::new(G3mPool::new(2, G3mSettings::new(1e6))),
            ),
        ];
        for (name, mut pool) in pools {
            let lvr = measure_lvr(pool.as_mut(), w, &prices, MINUTES);
            let rel_se = lvr.standard_error / lvr.per_day;
            let z = (lvr.per_day - theory) / lvr.standard_error;
            eprintln!(
                "LVR {name} w={w}: {:.5e}/day (theory {theory:.5e}), rel err {:+.3}%, \
                 rel se {:.3}%, z {z:+.2}",
                lvr.per_day,
                100.0 * (lvr.per_day / theory - 1.0),
                100.0 * rel_se
            );
            assert!(
                rel_se < 0.005,
                "{name} w={w}: standard error {rel_se} too large"
            );
            assert!(
                relative(lvr.per_day, theory) < 0.02,
                "{name} w={w}: LVR {} vs {theory}",
                lvr.per_day
            );
            // The discretisation bias is ~1e-7, so the estimate must also sit within
            // sampling noise of the theory, not merely within 2%.
            assert!(z.abs() < 5.0, "{name} w={w}: z = {z}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// (c) Fees: the no-arbitrage band, the invariant, and a brute-force optimum.
// ---------------------------------------------------------------------------------------

/// `u_i = w_i / (R_i p_i)`: how dear the pool prices token i against the market.
fn band_violation(r: &[f64], w: &[f64], p: &[f64], gamma: f64) -> f64 {
    let u: Vec<f64> = (0..r.len()).map(|i| w[i] / (r[i] * p[i])).collect();
    let (hi, lo) = u
        .iter()
        .fold((0.0f64, f64::INFINITY), |(h, l), &x| (h.max(x), l.min(x)));
    // > 0 when depositing the dearest token (paying the fee) to withdraw the cheapest pays.
    gamma * hi / lo - 1.0
}

/// `sum_i w_i ln(1 + g_i Delta_i / R_i)`: the change of the log invariant the fee rule keeps.
fn fee_adjusted_log_change(r: &[f64], w: &[f64], delta: &[f64], gamma: f64) -> f64 {
    (0..r.len())
        .map(|i| {
            let g = if delta[i] > 0.0 { gamma } else { 1.0 };
            w[i] * (g * delta[i] / r[i]).ln_1p()
        })
        .sum()
}

/// The arbitrage problem posed numerically, knowing nothing of signatures or closed forms:
/// maximise `-sum Delta_i p_i` over trades with `prod (R_i + g_i Delta_i)^w_i >= prod R_i^w_i`.
/// The trade is parametrised by the relative amounts `z_k = Delta_k / R_k` of every token but
/// one (`dep`), whose amount is solved from the invariant held with equality (more of it
/// would only cost). The problem is convex, so its profit is concave in `z`, with kinks
/// where an amount changes sign; line searches along axes and random directions climb it.
struct BruteForce<'a> {
    r: &'a [f64],
    w: &'a [f64],
    p: &'a [f64],
    gamma: f64,
    value: f64,
}

impl BruteForce<'_> {
    /// Profit over pool value of the trade `z` with `dep` solved; -inf if a reserve would
    /// not stay positive.
    fn profit(&self, dep: usize, z: &[f64]) -> f64 {
        let n = self.r.len();
        let mut log_growth = 0.0;
        let mut cost = 0.0;
        let mut j = 0;
        for k in 0..n {
            if k == dep {
                continue;
            }
            let zk = z[j];
            j += 1;
            if !(zk > -1.0) {
                return f64::NEG_INFINITY;
            }
            let g = if zk > 0.0 { self.gamma } else { 1.0 };
            log_growth += self.w[k] * (g * zk).ln_1p();
            cost += zk * self.r[k] * self.p[k];
        }
        // (R_dep + g Delta_dep) / R_dep - 1 from the invariant.
        let x = (-log_growth / self.w[dep]).exp_m1();
        let d = self.r[dep] * if x > 0.0 { x / self.gamma } else { x };
        let profit = -(cost + d * self.p[dep]) / self.value;
        if profit.is_finite() {
            profit
        } else {
            f64::NEG_INFINITY
        }
    }

    /// The best profit (over pool value) found, with every token in turn as `dep`, from the
    /// zero trade, a random trade and, if given, `start` (a full trade).
    fn maximise(&self, rng: &mut Rng, start: Option<&[f64]>) -> f64 {
        let n = self.r.len();
        let mut best = 0.0f64;
        for dep in 0..n {
            let mut starts: Vec<Vec<f64>> = vec![vec![0.0; n - 1]];
            starts.push((0..n - 1).map(|_| 0.05 * rng.normal()).collect());
            if let Some(s) = start {
                starts.push(
                    (0..n)
                        .filter(|&k| k != dep)
                        .map(|k| s[k] / self.r[k])
                        .collect(),
                );
            }
            for z in starts {
                best = best.max(self.climb(rng, dep, z));
            }
        }
        best
    }

    fn climb(&self, rng: &mut Rng, dep: usize, mut z: Vec<f64>) -> f64 {
        let m = z.len();
        let mut current = self.profit(dep, &z);
        let mut trial = vec![0.0; m];
        for round in 0..400 {
            let before = current;
            let mut directions: Vec<Vec<f64>> = (0..m)
                .map(|k| (0..m).map(|j| if j == k { 1.0 } else { 0.0 }).collect())
                .collect();
            for _ in 0..2 * m {
                let d: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
                let norm = d.iter().map(|x| x * x).sum::<f64>().sqrt();
                directions.push(d.iter().map(|x| x / norm).collect());
            }
            for d in &directions {
                for sign in [1.0, -1.0] {
                    // Largest step that keeps every free reserve positive, capped.
                    let mut hi = 20.0f64;
                    for j in 0..m {
                        if sign * d[j] < 0.0 {
                            hi = hi.min((z[j] + 1.0) / (-sign * d[j]));
                        }
                    }
                    let hi = hi * (1.0 - 1e-12);
                    let mut f = |t: f64| {
                        for j in 0..m {
                            trial[j] = z[j] + sign * t * d[j];
                        }
                        self.profit(dep, &trial)
                    };
                    let (t, ft) = ray_max(&mut f, current, hi);
                    if ft > current {
                        for j in 0..m {
                            z[j] += sign * t * d[j];
                        }
                        current = ft;
                    }
                }
            }
            if round >= 3 && current - before < 1e-16 {
                break;
            }
        }
        current
    }
}

/// Maximises a concave `f` on `t in [0, hi]` given `f(0) = f0`: doubling steps bracket the
/// peak, golden section narrows it.
fn ray_max(f: &mut dyn FnMut(f64) -> f64, f0: f64, hi: f64) -> (f64, f64) {
    let (mut a, mut b) = (0.0f64, 1e-10f64.min(hi));
    let mut fb = f(b);
    if !(fb > f0) {
        return golden(f, 0.0, b);
    }
    loop {
        let c = (2.0 * b).min(hi);
        if c <= b {
            return (b, fb);
        }
        let fc = f(c);
        if fc <= fb {
            return golden(f, a, c);
        }
        (a, b, fb) = (b, c, fc);
    }
}

fn golden(f: &mut dyn FnMut(f64) -> f64, mut a: f64, mut c: f64) -> (f64, f64) {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let mut x1 = c - ratio * (c - a);
    let mut x2 = a + ratio * (c - a);
    let (mut f1, mut f2) = (f(x1), f(x2));
    while c - a > 1e-15 + 1e-13 * c.abs() {
        if f1 < f2 {
            a = x1;
            (x1, f1) = (x2, f2);
            x2 = a + ratio * (c - a);
            f2 = f(x2);
        } else {
            c = x2;
            (x2, f2) = (x1, f1);
            x1 = c - ratio * (c - a);
            f1 = f(x1);
        }
    }
    if f1 >= f2 { (x1, f1) } else { (x2, f2) }
}

/// A pool of `n` tokens with random weights and reserves: `(R, w, q)` with `q` its marginal
/// prices, which callers move to make market prices.
fn random_pool(rng: &mut Rng, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let raw: Vec<f64> = (0..n).map(|_| rng.range(0.1, 1.0)).collect();
    let total: f64 = raw.iter().sum();
    let w: Vec<f64> = raw.iter().map(|x| x / total).collect();
    let value = rng.log_uniform(1e2, 1e8);
    let q: Vec<f64> = (0..n).map(|_| rng.log_uniform(1e-3, 1e5)).collect();
    let r: Vec<f64> = (0..n).map(|i| value * w[i] / q[i]).collect();
    (r, w, q)
}

struct BandStats {
    trades: usize,
    no_trades: usize,
    worst_band: f64,
    worst_edge: f64,
    worst_invariant: f64,
    worst_gain_over_ours: f64,
    worst_shortfall: f64,
}

/// Runs the arbitrage on one state and checks it against the band, the invariant and the
/// brute-force optimum. `expect_trade`: Some(b) to insist the pool does (not) trade.
fn check_arbitrage(
    rng: &mut Rng,
    stats: &mut BandStats,
    (r, w, p): (&[f64], &[f64], &[f64]),
    gamma: f64,
    expect_trade: Option<bool>,
) {
    let n = r.len();
    let value: f64 = (0..n).map(|i| r[i] * p[i]).sum();
    let mut delta = vec![0.0; n];
    let ours = Arbitrageur::<f64>::new(n).optimal_trade(r, w, p, gamma, &mut delta);
    let ctx = format!("r {r:?} w {w:?} p {p:?} gamma {gamma}");
    let brute = BruteForce {
        r,
        w,
        p,
        gamma,
        value,
    };
    if let Some(want) = expect_trade {
        assert_eq!(ours.is_some(), want, "{ctx}: {ours:?} {delta:?}");
    }
    match ours {
        Some(profit) => {
            stats.trades += 1;
            let paid: f64 = -(0..n).map(|i| delta[i] * p[i]).sum::<f64>();
            assert!(
                (profit - paid).abs() < 1e-12 * value,
                "{ctx}: profit {profit} vs {paid}"
            );
            let post: Vec<f64> = (0..n).map(|i| r[i] + delta[i]).collect();
            assert!(post.iter().all(|&x| x > 0.0), "{ctx}: {post:?}");
            // The fee-adjusted invariant is kept with equality (any slack is lost profit);
            // the plain invariant of the reserves grows by the fees kept.
            let change = fee_adjusted_log_change(r, w, &delta, gamma);
            stats.worst_invariant = stats.worst_invariant.max(change.abs());
            assert!(change.abs() < 1e-12, "{ctx}: invariant change {change:e}");
            assert!(
                fee_adjusted_log_change(r, w, &delta, 1.0) >= -1e-15,
                "{ctx}"
            );
            let violation = band_violation(&post, w, p, gamma);
            stats.worst_band = stats.worst_band.max(violation);
            // The fee kept in the pool puts the reserves strictly inside the band; the
            // reserves the invariant sees (inbound amounts net of fee) sit on its edge.
            let seen: Vec<f64> = (0..n)
                .map(|i| r[i] + delta[i] * if delta[i] > 0.0 { gamma } else { 1.0 })
                .collect();
            let edge = band_violation(&seen, w, p, gamma);
            stats.worst_edge = stats.worst_edge.max(edge.abs());
            assert!(edge.abs() <= 1e-9, "{ctx}: {edge:e} off the band edge");
            assert!(
                violation <= 1e-9,
                "{ctx}: after the trade {violation:e} outside the band"
            );
            let from_scratch = brute.maximise(rng, None);
            let from_ours = brute.maximise(rng, Some(&delta));
            let ours_rel = profit / value;
            let gain = from_scratch.max(from_ours) - ours_rel;
            stats.worst_gain_over_ours = stats.worst_gain_over_ours.max(gain);
            assert!(
                gain <= 1e-9,
                "{ctx}: brute force beats ours by {gain:e} of value"
            );
            // The optimiser must reach our optimum on its own, or the check above is empty.
            let shortfall = ours_rel - from_scratch;
            stats.worst_shortfall = stats.worst_shortfall.max(shortfall);
            assert!(
                shortfall <= 1e-9,
                "{ctx}: brute force short by {shortfall:e}"
            );
        }
        None => {
            stats.no_trades += 1;
            let best = brute.maximise(rng, None);
            stats.worst_gain_over_ours = stats.worst_gain_over_ours.max(best);
            assert!(
                best <= 1e-9,
                "{ctx}: no trade, yet {best:e} of value is there"
            );
        }
    }
}

const FEES: [f64; 6] = [1e-4, 5e-4, 0.003, 0.01, 0.05, 0.2];

#[test]
fn fee_arbitrage_lands_in_the_band_and_is_optimal() {
    let mut rng = Rng::new(2402);
    let mut stats = BandStats {
        trades: 0,
        no_trades: 0,
        worst_band: f64::NEG_INFINITY,
        worst_edge: 0.0,
        worst_invariant: 0.0,
        worst_gain_over_ours: f64::NEG_INFINITY,
        worst_shortfall: f64::NEG_INFINITY,
    };
    for fee in FEES {
        let gamma = 1.0 - fee;
        let band = -gamma.ln();
        for n in 2..=4 {
            for spread in [0.5 * band, 2.0 * band, 10.0 * band, 0.3] {
                for _ in 0..3 {
                    let (r, w, q) = random_pool(&mut rng, n);
                    let p: Vec<f64> = q
                        .iter()
                        .map(|x| x * (spread * rng.normal()).exp())
                        .collect();
                    check_arbitrage(&mut rng, &mut stats, (&r, &w, &p), gamma, None);
                }
            }
            // Every pool price inside the band: nothing to do. Just outside: a trade.
            for (width, trades) in [(0.999, false), (1.001, true)] {
                let (r, w, q) = random_pool(&mut rng, n);
                let mut moves: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
                moves[0] = 0.0;
                moves[n - 1] = 1.0;
                let p: Vec<f64> = (0..n)
                    .map(|i| q[i] * (width * band * moves[i]).exp())
                    .collect();
                check_arbitrage(&mut rng, &mut stats, (&r, &w, &p), gamma, Some(trades));
            }
        }
    }
    eprintln!(
        "band: {} trades, {} no-trades; worst band excess {:.2e}, |off edge| {:.2e}, \
         |invariant change| {:.2e}, brute-force gain over ours {:.2e}, brute-force shortfall \
         {:.2e} (of value)",
        stats.trades,
        stats.no_trades,
        stats.worst_band,
        stats.worst_edge,
        stats.worst_invariant,
        stats.worst_gain_over_ours,
        stats.worst_shortfall
    );
    assert!(stats.trades > 50 && stats.no_trades > 10);
}

/// The brute force has teeth: quantammsim's own procedure (single token pairs, exact-compare
/// acceptance) leaves profit on the table with three or more tokens, and it must see that.
#[test]
fn brute_force_catches_the_single_pair_reference_procedure() {
    let mut rng = Rng::new(3);
    let (mut cases, mut beaten, mut most) = (0, 0, 0.0f64);
    for fee in [0.003, 0.01] {
        let gamma = 1.0 - fee;
        for n in [3, 4] {
            for _ in 0..10 {
                let (r, w, q) = random_pool(&mut rng, n);
                let p: Vec<f64> = q.iter().map(|x| x * (0.05 * rng.normal()).exp()).collect();
                let value: f64 = (0..n).map(|i| r[i] * p[i]).sum();
                let mut delta = vec![0.0; n];
                let theirs = Arbitrageur::<f64>::with_validity(n, Validity::ReferenceExact)
                    .optimal_trade(&r, &w, &p, gamma, &mut delta)
                    .unwrap_or(0.0);
                let brute = BruteForce {
                    r: &r,
                    w: &w,
                    p: &p,
                    gamma,
                    value,
                };
                let gain = brute.maximise(&mut rng, None) - theirs / value;
                cases += 1;
                beaten += usize::from(gain > 1e-9);
                most = most.max(gain);
            }
        }
    }
    eprintln!(
        "reference procedure: beaten by > 1e-9 of value in {beaten}/{cases}, by up to {most:.2e}"
    );
    assert!(beaten >= cases / 4, "{beaten}/{cases}");
}

/// The pool itself, arbitraged every minute with fees, ends every minute inside the band
/// and its plain invariant never falls (fees stay in the pool).
#[test]
fn fee_pool_stays_in_the_band_along_a_path() {
    const MINUTES: usize = 3000;
    let mut rng = Rng::new(7);
    let w = [0.5, 0.3, 0.2];
    let p0 = [30000.0, 2000.0, 1.0];
    let prices = gbm(&mut rng, &p0, &[3e-3, 4e-3, 1e-4], &[0.0; 3], MINUTES);
    for fee in [5e-4, 0.003, 0.03] {
        let mut market = Market::new(3, &prices);
        market.fees = Series::Constant(fee);
        let mut pool = G3mPool::new(3, G3mSettings::new(1e6));
        let mut weights = ConstantWeights::new(w.to_vec(), 0);
        let path = simulate::run(&mut weights, &mut pool, &market, MINUTES).unwrap();
        let (mut worst, mut traded) = (f64::NEG_INFINITY, 0);
        let mut last_invariant = f64::NEG_INFINITY;
        for t in 0..MINUTES {
            let r = path.reserves_at(t);
            let p = &prices[t * 3..(t + 1) * 3];
            worst = worst.max(band_violation(r, &w, p, 1.0 - fee));
            let invariant: f64 = (0..3).map(|i| w[i] * r[i].ln()).sum();
            assert!(invariant >= last_invariant - 1e-13, "fee {fee} minute {t}");
            traded += usize::from(t > 0 && r != path.reserves_at(t - 1));
            last_invariant = invariant;
        }
        let fees: f64 = path.lp_fees.iter().sum();
        eprintln!("path fee {fee}: {traded} trades, worst band excess {worst:.2e}, fees {fees:.2}");
        assert!(worst <= 1e-9, "fee {fee}: {worst:e}");
        assert!(traded > 100 && fees > 0.0, "fee {fee}: {traded} trades");
    }
}

// ---------------------------------------------------------------------------------------
// (d) Two tokens with a fee: the textbook closed form.
// ---------------------------------------------------------------------------------------

/// The optimal arbitrage sending `x` of token `a` into a two-token pool (`w_a + w_b = 1`) and
/// taking `y` of token `b`, fee on the input. Derivation: the invariant
/// `(R_a + g x)^w_a (R_b - y)^w_b = R_a^w_a R_b^w_b` gives
/// `y(x) = R_b (1 - (R_a / (R_a + g x))^(w_a/w_b))`; setting `d/dx [p_b y(x) - p_a x] = 0`,
/// `p_b R_b (w_a/w_b) g R_a^(w_a/w_b) (R_a + g x)^(-1/w_b) = p_a`, so with
/// `m = g w_a p_b R_b / (w_b p_a R_a)` (`= g u_a / u_b`):
/// `R_a + g x = R_a m^w_b` and `R_b - y = R_b m^(-w_a)`, i.e.
/// `x = R_a (m^w_b - 1) / g`, `y = R_b (1 - m^(-w_a))`. Profit is concave in x, so this is
/// the maximum; it is a trade iff `m > 1`.
fn two_token_closed_form(r: [f64; 2], w: [f64; 2], p: [f64; 2], g: f64, a: usize) -> (f64, f64) {
    let b = 1 - a;
    let ln_m = (g * w[a] * p[b] * r[b] / (w[b] * p[a] * r[a])).ln();
    let x = r[a] * (w[b] * ln_m).exp_m1() / g;
    let y = -r[b] * (-w[a] * ln_m).exp_m1();
    (x, y)
}

#[test]
fn two_token_trade_is_the_textbook_closed_form() {
    let mut worst = 0.0f64;
    let mut cases = 0;
    let mut rng = Rng::new(31);
    for w0 in [0.5, 0.2, 0.8, 0.05, 0.95, 0.37] {
        let w = [w0, 1.0 - w0];
        for fee in [1e-4, 0.003, 0.01, 0.1, 0.3] {
            let g: f64 = 1.0 - fee;
            let band = -g.ln();
            for a in [0usize, 1] {
                for beyond in [1e-3, 0.05, 0.5] {
                    let value = rng.log_uniform(1e3, 1e7);
                    let q = [rng.log_uniform(1e-2, 1e4), rng.log_uniform(1e-2, 1e4)];
                    let r = [value * w[0] / q[0], value * w[1] / q[1]];
                    // Token a dearer in the pool than the band allows: the market price of
                    // a falls (or b rises) by more than the fee.
                    let mut p = q;
                    p[a] *= (-(band + beyond)).exp();
                    let mut delta = [0.0; 2];
                    let profit = Arbitrageur::<f64>::new(2)
                        .optimal_trade(&r, &w, &p, g, &mut delta)
                        .unwrap_or_else(|| panic!("no trade: r {r:?} w {w:?} p {p:?} g {g}"));
                    let (x, y) = two_token_closed_form(r, w, p, g, a);
                    let b = 1 - a;
                    let ctx = format!("r {r:?} w {w:?} p {p:?} g {g} in {a}");
                    let errs = [
                        relative(delta[a], x),
                        relative(-delta[b], y),
                        // Profit is a small difference of the legs: compare it on their scale.
                        (profit - (p[b] * y - p[a] * x)).abs() / (p[a] * x),
                        // The trade is an ordinary exact-in swap of x.
                        relative(swap_out(&r, &w, a, b, x, g), y),
                    ];
                    for e in errs {
                        worst = worst.max(e);
                        assert!(e < 1e-10, "{ctx}: {errs:?}; ours {delta:?}, closed {x} {y}");
                    }
                    // The derivative test: nearby amounts earn less.
                    let earn = |x: f64| p[b] * swap_out(&r, &w, a, b, x, g) - p[a] * x;
                    for s in [1.0 - 1e-4, 1.0 + 1e-4] {
                        assert!(earn(x * s) < earn(x), "{ctx}");
                    }
                    cases += 1;
                }
            }
        }
    }
    eprintln!("two-token closed form: {cases} cases, worst rel err {worst:.2e}");
}

// ---------------------------------------------------------------------------------------
// (f) Balancer's on-chain weighted maths (18-decimal fixed point).
// ---------------------------------------------------------------------------------------

/// An 18-decimal integer in the fixed-point type the Balancer crate uses (named by inference,
/// since its integer crate is not ours to depend on).
fn fixed<T: FromStr>(x: u128) -> T
where
    T::Err: Debug,
{
    x.to_string().parse().unwrap()
}

fn to_f64<T: Display>(x: &T) -> f64 {
    x.to_string().parse().unwrap()
}

/// Exact-in swaps against `compute_out_given_exact_in`. Its `pow_up_fixed` adds a relative
/// 1e-14 (MAX_POW_RELATIVE_ERROR) to `power = (B_in/(B_in+a))^(w_in/w_out)`, and the output
/// is `B_out (1 - power)`, so its relative error is ~1e-14 power / (1 - power): for tiny
/// swaps this rounding, not the formula, dominates. Cases whose budget exceeds 1e-10 are
/// compared at their budget instead of 1e-9. Swaps above MAX_IN_RATIO (30% of the balance)
/// revert on chain and are not drawn.
#[test]
fn swap_out_matches_balancer_weighted_math() {
    let mut rng = Rng::new(18);
    let wad = 1e18f64;
    let (mut strict, mut loose, mut worst_strict, mut worst_loose_ratio) = (0, 0, 0.0f64, 0.0f64);
    for case in 0..4000 {
        // Normalised weights of an n-token pool summing to exactly 1e18, each >= 1%.
        let n = 2 + rng.below(7);
        let raw: Vec<f64> = (0..n).map(|_| rng.range(0.05, 1.0)).collect();
        let total: f64 = raw.iter().sum();
        let min_weight = to_f64(&MIN_WEIGHT) as u128;
        let mut weights: Vec<u128> = raw
            .iter()
            .map(|x| ((x / total * wad) as u128).max(min_weight))
            .collect();
        let others: u128 = weights[1..].iter().sum();
        weights[0] = 10u128.pow(18) - others;
        assert!(weights[0] >= min_weight && weights.iter().sum::<u128>() == 10u128.pow(18));
        let i = rng.below(n);
        let o = (i + 1 + rng.below(n - 1)) % n;
        let balance_in = (rng.log_uniform(1.0, 1e9) * wad) as u128;
        let balance_out = (rng.log_uniform(1.0, 1e9) * wad) as u128;
        let ratio = rng.log_uniform(1e-5, 0.3);
        let amount = (balance_in as f64 * ratio) as u128;
        // Raw maths (no fee) and the vault's exact-in fee (amount - mulUp(amount, fee)).
        let fee = [0.0, 0.003, 0.01][case % 3];
        let fee_fixed = (fee * wad).round() as u128;
        let a = fixed(amount);
        let charged = mul_up_fixed(&a, &fixed(fee_fixed)).unwrap();
        let out = compute_out_given_exact_in(
            &fixed(balance_in),
            &fixed(weights[i]),
            &fixed(balance_out),
            &fixed(weights[o]),
            &(a - charged),
        )
        .unwrap();
        let theirs = to_f64(&out) / wad;
        let r = [balance_in as f64 / wad, balance_out as f64 / wad];
        let wf = [weights[i] as f64 / wad, weights[o] as f64 / wad];
        let ours = swap_out(&r, &wf, 0, 1, amount as f64 / wad, 1.0 - fee);
        let err = relative(ours, theirs);
        let power = (r[0] / (r[0] + (1.0 - fee) * amount as f64 / wad)).powf(wf[0] / wf[1]);
        let budget = 2e-14 * power / (1.0 - power) + 4.0 / to_f64(&out) + 1e-15;
        let ctx =
            format!("B {r:?} w {wf:?} amount {amount} fee {fee}: ours {ours} theirs {theirs}");
        if budget < 1e-10 {
            strict += 1;
            worst_strict = worst_strict.max(err);
            assert!(err < 1e-9, "{ctx}: {err:e}");
        } else {
            loose += 1;
            worst_loose_ratio = worst_loose_ratio.max(err / budget);
            assert!(err < budget, "{ctx}: {err:e} > budget {budget:e}");
        }
    }
    // The on-chain limit the comparison avoids.
    let b: u128 = 1000 * 10u128.pow(18);
    let w: u128 = 5 * 10u128.pow(17);
    assert!(
        compute_out_given_exact_in(&fixed(b), &fixed(w), &fixed(b), &fixed(w), &fixed(b / 3))
            .is_err()
    );
    eprintln!(
        "balancer: {strict} cases at 1e-9 (worst rel err {worst_strict:.2e}), {loose} tiny swaps \
         at their rounding budget (worst err/budget {worst_loose_ratio:.2})"
    );
    assert!(strict > 2500, "{strict}");
}
