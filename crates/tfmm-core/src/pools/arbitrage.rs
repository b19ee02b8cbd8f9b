//! The arbitrageur's best trade against a geometric mean market maker (invariant
//! `prod R_i^w_i`) that charges a fee on inbound amounts.
//!
//! For a trade signature (which tokens go in, which come out) the optimum has a closed form
//! (Willetts & Harrington, arXiv 2402.06731): in-tokens are added until `fee-adjusted
//! marginal value = mu`, out-tokens removed until `marginal value = mu`, for one `mu`. The
//! problem is convex, so the in-set is a top set and the out-set a bottom set of the tokens
//! ordered by `u_i = w_i / (R_i p_i)` (how dear the pool prices token i against the market):
//! only `n(n-1)/2` signatures can be optimal, and the best consistent one is the global
//! optimum. (quantammsim tries only single pairs, which leaves profit on the table for
//! three or more tokens.)

use crate::copy_row;
use crate::scalar::{Scalar, cst, exp_near_zero, ln_ratio};

/// A trade is accepted when the pool invariant does not fall by more than this, relative.
/// The optimum keeps the invariant exactly in exact arithmetic; the tolerance absorbs
/// rounding (the reference compares two numbers equal in exact arithmetic and so rejects
/// about 15% of correct trades at random).
pub const INVARIANT_TOLERANCE: f64 = 1e-12;

/// How a candidate arbitrage is judged valid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Validity {
    /// tfmm: the optimum over every signature, accepted unless the invariant falls by more
    /// than [`INVARIANT_TOLERANCE`].
    #[default]
    Tolerant,
    /// quantammsim's own procedure, to reproduce its numbers: single-pair signatures in its
    /// order, its arithmetic, and acceptance only if the post-trade invariant is not below
    /// the pre-trade one in floating point (a coin toss for correct trades).
    ReferenceExact,
}

/// Pools whose prices are inside the fee band by less than this (relative) are left alone:
/// such trades would earn about this share of the pool's value, i.e. nothing.
const BAND_SLACK: f64 = 1e-12;

/// Whether a token with `v` would not trade once the traded ones sit at `level`: inside its
/// fee band there, `gamma level <= v <= level` (to [`BAND_SLACK`]).
#[inline(always)]
fn stays_idle(v: f64, level: f64, gamma: f64) -> bool {
    let slack = 1.0 + BAND_SLACK;
    (gamma * level <= v * slack) & (v <= level * slack)
}

/// Whether a trade's change of the invariant's log (fee-adjusted) is within the tolerance.
#[inline(always)]
fn keeps_invariant<S: Scalar>(change: S) -> bool {
    change.value() >= -INVARIANT_TOLERANCE
}

/// What the single-pair closed form says about the optimum.
enum Pair<S> {
    /// The pair trade is the optimum.
    Optimal(S),
    /// Other tokens would trade at this post-trade level: a larger signature.
    Widen(f64),
    /// The pair's legs contradict its signature or earn nothing.
    Unprofitable,
}

/// Reusable buffers for [`Arbitrageur::optimal_trade`]; hot loops allocate nothing.
#[derive(Clone, Debug)]
pub struct Arbitrageur<S> {
    validity: Validity,
    order: Vec<usize>,
    /// `v_k = R_k p_k / w_k`, the inverse of how dear the pool prices token k: the dearest
    /// has the smallest. Products only, so no division sits on the minute-to-minute chain
    /// of reserves (the weights' reciprocals do not depend on it).
    v: Vec<f64>,
    /// Scratch for the weights' reciprocals when the caller does not keep them.
    inv_weights: Vec<f64>,
    /// Indices of the smallest and the largest `v` (set by [`Arbitrageur::in_band`]).
    dearest: usize,
    cheapest: usize,
    /// `ln(u_top / u_k)` for the dearest token `top`: all a candidate's closed form needs
    /// from the state besides `1 / u_top`. Near the fee band these are small, so they come
    /// from cheap series rather than library logs.
    rel_ln_u: Vec<S>,
    /// Bit k set: `rel_ln_u[k]` is computed for this call (tokens are few: n <= 64).
    rel_ready: u64,
    /// The fee factor of the last call and its log (constant over most runs).
    gamma: f64,
    ln_gamma: f64,
    inv_gamma: f64,
    candidate: Vec<S>,
}

impl<S: Scalar> Arbitrageur<S> {
    pub fn new(n_assets: usize) -> Self {
        Self::with_validity(n_assets, Validity::Tolerant)
    }

    pub fn with_validity(n_assets: usize, validity: Validity) -> Self {
        Self {
            validity,
            order: (0..n_assets).collect(),
            v: vec![0.0; n_assets],
            inv_weights: vec![0.0; n_assets],
            dearest: 0,
            cheapest: 0,
            rel_ln_u: vec![cst(0.0); n_assets],
            rel_ready: 0,
            gamma: 1.0,
            ln_gamma: 0.0,
            inv_gamma: 1.0,
            candidate: vec![cst(0.0); n_assets],
        }
    }

    /// Whether prices sit inside the no-arbitrage band: for every pair, depositing one
    /// token (paying the fee) to withdraw another earns nothing at the margin.
    #[inline(always)]
    pub fn in_band(&mut self, r: &[S], w: &[S], p: &[f64], gamma: f64) -> bool {
        self.with_inverse_weights(w, |arb, inv| arb.in_band_with(r, inv, p, gamma))
    }

    /// Runs `f` with the reciprocals of `w` (values), computed into the scratch row.
    #[inline(always)]
    fn with_inverse_weights<T>(&mut self, w: &[S], f: impl FnOnce(&mut Self, &[f64]) -> T) -> T {
        let mut inv = std::mem::take(&mut self.inv_weights);
        for (q, x) in inv.iter_mut().zip(w) {
            *q = 1.0 / x.value();
        }
        let out = f(self, &inv);
        self.inv_weights = inv;
        out
    }

    /// [`Arbitrageur::in_band`] given the weights' reciprocals `inv_w`.
    #[inline(always)]
    fn in_band_with(&mut self, r: &[S], inv_w: &[f64], p: &[f64], gamma: f64) -> bool {
        // Slices of one known length: no bounds checks in the loop. The dearest token
        // (smallest v, first on ties) and the cheapest (largest v, last on ties) are the pair
        // the sorted order would give, found in the same pass.
        let n = p.len();
        let (r, inv_w, vs) = (&r[..n], &inv_w[..n], &mut self.v[..n]);
        let (mut hi, mut lo) = (f64::NEG_INFINITY, f64::INFINITY);
        let (mut cheapest, mut dearest) = (0, 0);
        for i in 0..n {
            let v = r[i].value() * p[i] * inv_w[i];
            vs[i] = v;
            // Selects by masks: which token is dearest changes at random from call to call.
            cheapest ^= (cheapest ^ i) & usize::from(v >= hi).wrapping_neg();
            dearest ^= (dearest ^ i) & usize::from(v < lo).wrapping_neg();
            hi = hi.max(v);
            lo = lo.min(v);
        }
        (self.dearest, self.cheapest) = (dearest, cheapest);
        gamma * hi <= lo * (1.0 + BAND_SLACK)
    }

    /// The profit-maximising change of the pool's reserves (positive = into the pool) for
    /// reserves `r`, weights `w`, market prices `p` and `gamma = 1 - fee`. Writes it to
    /// `delta` and returns the arbitrageur's profit, or `None` when no trade earns anything.
    #[inline(always)]
    pub fn optimal_trade(
        &mut self,
        r: &[S],
        w: &[S],
        p: &[f64],
        gamma: f64,
        delta: &mut [S],
    ) -> Option<S> {
        self.with_inverse_weights(w, |arb, inv| {
            arb.optimal_trade_with(r, w, inv, p, gamma, delta)
        })
    }

    /// [`Arbitrageur::optimal_trade`] given the weights' reciprocals `inv_w` (values only):
    /// a pool that keeps them from one minute to the next saves a division per token.
    #[inline(always)]
    pub fn optimal_trade_with(
        &mut self,
        r: &[S],
        w: &[S],
        inv_w: &[f64],
        p: &[f64],
        gamma: f64,
        delta: &mut [S],
    ) -> Option<S> {
        let n = p.len();
        let (r, w, delta) = (&r[..n], &w[..n], &mut delta[..n]);
        if self.in_band_with(r, inv_w, p, gamma) {
            return None;
        }
        if gamma == 1.0 {
            return Some(equilibrium_trade(r, w, p, delta));
        }
        if self.validity == Validity::ReferenceExact {
            return self.reference_trade(r, w, p, gamma, delta);
        }
        self.set_gamma(gamma);
        // Most minutes the optimum is the single pair dearest-in, cheapest-out: try its
        // short closed form first. If tokens it leaves out would trade at its post-trade
        // level, the optimality conditions name the larger signature to try.
        let best = match self.pair_trade(r, w, p, gamma, delta) {
            Pair::Optimal(profit) => {
                // The invariant check below over the two legs known to trade, in the same
                // order; on its own branch, so the pair-or-wider choice is predicted once.
                let (i, o) = (self.dearest, self.cheapest);
                let into = w[i] * ln_ratio(r[i] + delta[i] * gamma, r[i]);
                let out_of = w[o] * ln_ratio(r[o] + delta[o], r[o]);
                return keeps_invariant(if i < o { into + out_of } else { out_of + into })
                    .then_some(profit);
            }
            Pair::Widen(level) if n == 3 => self.widen_three(level, r, w, p, gamma, delta),
            Pair::Widen(level) => {
                self.sort(n);
                self.widen(level, r, w, p, gamma, delta)
            }
            Pair::Unprofitable => None,
        };
        let profit = match best {
            Some(profit) => profit,
            None => {
                self.sort(n);
                self.search(r, w, p, gamma, delta)?
            }
        };
        // The invariant, over all tokens with the fee on inbound legs, must not fall. Idle
        // tokens add exact zeros (`ln_ratio` of equal numbers is 0); no branch on which legs
        // go in, a coin toss between calls.
        let mut change = cst::<S>(0.0);
        for k in 0..n {
            let g = [1.0, gamma][usize::from(delta[k].value() > 0.0)];
            change += w[k] * ln_ratio(r[k] + delta[k] * g, r[k]);
        }
        keeps_invariant(change).then_some(profit)
    }

    /// The fee factor, its log and inverse (constant over most runs, so kept).
    #[inline(always)]
    fn set_gamma(&mut self, gamma: f64) {
        if gamma != self.gamma {
            self.gamma = gamma;
            self.ln_gamma = gamma.ln();
            self.inv_gamma = 1.0 / gamma;
        }
    }

    /// Orders tokens dearest first (ties by index) for the larger signatures; `v`, `dearest`
    /// and `cheapest` must be fresh from [`Arbitrageur::in_band`].
    fn sort(&mut self, n: usize) {
        // Logs relative to the dearest token, computed as candidates need them.
        self.rel_ready = 0;
        if n == 3 {
            // The band test found both ends (first of the smallest, last of the largest), so
            // the middle is the third: the order a stable sort gives.
            let (i, o) = (self.dearest, self.cheapest);
            self.order[..3].copy_from_slice(&[i, 3 - i - o, o]);
            return;
        }
        // An insertion sort, n being a handful.
        for i in 0..n {
            self.order[i] = i;
        }
        for i in 1..n {
            let mut j = i;
            while j > 0 && self.v[self.order[j]] < self.v[self.order[j - 1]] {
                self.order.swap(j, j - 1);
                j -= 1;
            }
        }
    }

    /// Every consistent signature, smallest sets first: when the tokens left out would not
    /// trade at the post-trade level either (the optimality conditions hold), that
    /// candidate is the optimum and the search stops. In-set: the `ins` tokens the pool
    /// prices dearest; out-set: the `outs` cheapest.
    #[inline(never)]
    fn search(&mut self, r: &[S], w: &[S], p: &[f64], gamma: f64, delta: &mut [S]) -> Option<S> {
        let n = p.len();
        let mut best: Option<S> = None;
        for ins in 1..n {
            for outs in 1..=n - ins {
                let Some((profit, level)) = self.candidate_trade(ins, outs, r, w, p, gamma) else {
                    continue;
                };
                if best.is_none_or(|b| profit.value() > b.value()) {
                    best = Some(profit);
                    copy_row(delta, &self.candidate);
                }
                if self.idle_hold(ins, outs, level, gamma) {
                    return best;
                }
            }
        }
        best
    }

    /// Whether the tokens outside the top `ins` and bottom `outs` would not trade when the
    /// traded ones sit at `level` (the post-trade `v` of the out-tokens): inside their fee
    /// band there, `gamma level <= v_k <= level`.
    #[inline(always)]
    fn idle_hold(&self, ins: usize, outs: usize, level: f64, gamma: f64) -> bool {
        self.order[ins..self.order.len() - outs]
            .iter()
            .all(|&k| stays_idle(self.v[k], level, gamma))
    }

    /// From a signature's post-trade level, the signature the optimality conditions call
    /// for: the leading tokens dear enough to deposit even after the fee, the trailing ones
    /// cheap enough to withdraw. Its candidate is the optimum once the
    /// conditions hold for it too; a few rounds settle it, else `None`.
    #[inline(never)]
    fn widen(
        &mut self,
        mut level: f64,
        r: &[S],
        w: &[S],
        p: &[f64],
        gamma: f64,
        delta: &mut [S],
    ) -> Option<S> {
        let n = p.len();
        let slack = 1.0 + BAND_SLACK;
        for _ in 0..n {
            let middle = &self.order[1..n - 1];
            let ins = 1 + middle
                .iter()
                .take_while(|&&k| gamma * level > self.v[k] * slack)
                .count();
            let outs = 1 + self.order[ins..n - 1]
                .iter()
                .rev()
                .take_while(|&&k| self.v[k] > level * slack)
                .count();
            let (profit, next) = self.candidate_trade(ins, outs, r, w, p, gamma)?;
            level = next;
            if self.idle_hold(ins, outs, level, gamma) {
                copy_row(delta, &self.candidate);
                return Some(profit);
            }
        }
        None
    }

    /// [`Arbitrageur::widen`] for three tokens, where it settles in one step: the middle
    /// token trades too, in if dear enough to deposit after the fee at the pair's `level`,
    /// else out, so every token trades and no idle token is left to check. Written without
    /// loops or branches on that choice (a coin toss from minute to minute). The legs are
    /// `R_k (exp(E' - ln(v_k / v_top)) - c_k)`, `c_k = 1 / gamma` for deposits and 1 for
    /// withdrawals ([`Arbitrageur::candidate_trade`]'s, without its divisions). `None` if the
    /// legs contradict the signature (the full search then decides).
    #[inline(never)]
    fn widen_three(
        &mut self,
        level: f64,
        r: &[S],
        w: &[S],
        p: &[f64],
        gamma: f64,
        delta: &mut [S],
    ) -> Option<S> {
        let (i, o) = (self.dearest, self.cheapest);
        let m = 3 - i - o;
        let m_in = gamma * level > self.v[m] * (1.0 + BAND_SLACK);
        let top_value = r[i] * p[i];
        let rel_m = ln_ratio(r[m] * p[m] * w[i], top_value * w[m]);
        let rel_o = ln_ratio(r[o] * p[o] * w[i], top_value * w[o]);
        let total_in = w[i] + w[m] * f64::from(u8::from(m_in));
        let total = w[i] + w[m] + w[o];
        let exponent = (w[m] * rel_m + w[o] * rel_o - total_in * self.ln_gamma) * total.recip();
        let refund_m = [1.0, self.inv_gamma][usize::from(m_in)];
        let d_i = r[i] * (exp_near_zero(exponent) - self.inv_gamma);
        let d_m = r[m] * (exp_near_zero(exponent - rel_m) - refund_m);
        let d_o = r[o] * (exp_near_zero(exponent - rel_o) - 1.0);
        let profit = -(d_i * p[i] + d_m * p[m] + d_o * p[o]);
        let consistent = (d_i.value() > 0.0)
            & ((d_m.value() > 0.0) == m_in)
            & (d_m.value() != 0.0)
            & (d_o.value() < 0.0)
            & (profit.value() > 0.0);
        if !consistent {
            return None;
        }
        (delta[i], delta[m], delta[o]) = (d_i, d_m, d_o);
        Some(profit)
    }

    /// The optimum for depositing only the dearest token and withdrawing only the cheapest.
    /// With `e = exp(E')`, `E' = (w_o ln(u_i/u_o) - w_i ln gamma)/(w_i+w_o)`: the inbound leg
    /// is `R_i (e - 1/gamma)`, the outbound `e R_i p_i w_o/(w_i p_o) - R_o`. It is the global
    /// optimum when the other tokens would not trade at its post-trade level `v_i e`.
    #[inline(always)]
    fn pair_trade(&mut self, r: &[S], w: &[S], p: &[f64], gamma: f64, delta: &mut [S]) -> Pair<S> {
        let (i, o) = (self.dearest, self.cheapest);
        // Reserves carry the dependency from minute to minute; weights and prices do not, so
        // divisions among the latter are taken off that chain.
        let rel = ln_ratio(r[o] * p[o] * w[i], r[i] * p[i] * w[o]);
        let e = exp_near_zero((w[o] * rel - w[i] * self.ln_gamma) * (w[i] + w[o]).recip());
        let level = self.v[i] * e.value();
        // The other tokens by a bit set: as many rounds as tokens besides the pair, whichever
        // they are, so the loop's branch is predictable. They trade nothing if the pair is
        // the optimum (and `delta` is overwritten if not).
        let mut others = (u64::MAX >> (64 - p.len())) & !(1 << i) & !(1 << o);
        let mut idle = true;
        while others != 0 {
            let k = others.trailing_zeros() as usize;
            others &= others - 1;
            idle &= stays_idle(self.v[k], level, gamma);
            delta[k] = cst(0.0);
        }
        if !idle {
            return Pair::Widen(level);
        }
        let d_in = r[i] * (e - self.inv_gamma);
        let d_out = e * r[i] * (w[o] * p[i] / (w[i] * p[o])) - r[o];
        let profit = -(d_in * p[i] + d_out * p[o]);
        if !(d_in.value() > 0.0 && d_out.value() < 0.0 && profit.value() > 0.0) {
            return Pair::Unprofitable;
        }
        delta[i] = d_in;
        delta[o] = d_out;
        Pair::Optimal(profit)
    }

    /// quantammsim's sifter: every single-pair signature in its order (its product over
    /// `[1, 0, -1]`, first token most significant), its closed form and its exact-comparison
    /// validity test; the most profitable valid candidate wins.
    #[inline(never)]
    fn reference_trade(
        &mut self,
        r: &[S],
        w: &[S],
        p: &[f64],
        gamma: f64,
        delta: &mut [S],
    ) -> Option<S> {
        let n = p.len();
        let mut best: Option<S> = None;
        // Signature (+1 at `i`, -1 at `o`) in lexicographic order of (1, 0, -1) per token.
        let rank = |i: usize, o: usize| -> Vec<i8> {
            (0..n)
                .map(|k| {
                    if k == i {
                        0
                    } else if k == o {
                        2
                    } else {
                        1
                    }
                })
                .collect()
        };
        let mut pairs: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| (0..n).filter(move |&o| o != i).map(move |o| (i, o)))
            .collect();
        pairs.sort_by_key(|&(i, o)| rank(i, o));
        for (i, o) in pairs {
            let total = w[i] + w[o];
            let (wi, wo) = (w[i] / total, w[o] / total);
            let per_asset_in = (wi * gamma / p[i]).powd(cst::<S>(1.0) - wi);
            let per_asset_out = (wo / p[o]).powd(cst::<S>(1.0) - wo);
            let others_of_in = (cst::<S>(p[o]) / wo).powd(wo);
            let others_of_out = (cst::<S>(p[i]) / (wi * gamma)).powd(wi);
            let constant = if i < o {
                r[i].powd(wi) * r[o].powd(wo)
            } else {
                r[o].powd(wo) * r[i].powd(wi)
            };
            self.candidate.iter_mut().for_each(|d| *d = cst(0.0));
            self.candidate[i] = (constant * per_asset_in * others_of_in - r[i]) * (1.0 / gamma);
            self.candidate[o] = constant * per_asset_out * others_of_out - r[o];
            // Valid: reserves stay positive and the fee-adjusted invariant does not fall, in
            // floating point, over all tokens with the original weights.
            let (mut before, mut after) = (1.0f64, 1.0f64);
            let mut positive = true;
            for k in 0..n {
                let d = self.candidate[k].value();
                let rk = r[k].value();
                positive &= rk + d > 0.0;
                let g = if d > 0.0 { gamma } else { 1.0 };
                after *= (rk + d * g).powf(w[k].value());
                before *= rk.powf(w[k].value());
            }
            if !positive || after - before < 0.0 {
                continue;
            }
            let profit = self
                .candidate
                .iter()
                .zip(p)
                .fold(cst::<S>(0.0), |acc, (&d, &pk)| acc - d * pk);
            if profit.value() > 0.0 && best.is_none_or(|b| profit.value() > b.value()) {
                best = Some(profit);
                delta.copy_from_slice(&self.candidate);
            }
        }
        best
    }

    /// The closed-form optimum for one signature and its Lagrange level (the post-trade `v`
    /// of its out-tokens, the inverse of their marginal value); `None` if its signs
    /// contradict it (then another signature is the optimum) or it earns nothing.
    // Out of line, as are the other rare paths: they keep the inlined per-minute step small
    // (with dual numbers its size decides what else the optimiser inlines).
    #[inline(never)]
    fn candidate_trade(
        &mut self,
        ins: usize,
        outs: usize,
        r: &[S],
        w: &[S],
        p: &[f64],
        gamma: f64,
    ) -> Option<(S, f64)> {
        let n = p.len();
        let (in_set, rest) = self.order.split_at(ins);
        let out_set = &rest[rest.len() - outs..];
        // The Lagrange level: post-trade invariant reserves are X_k = e^E w_k g_k / p_k with
        // E = (sum_A w_k ln(R_k p_k / w_k) - ln(gamma) sum_in w_k) / sum_A w_k, which keeps the
        // sub-pool invariant (fee-adjusted) and equalises marginal values. Measured from the
        // dearest token `top` (always in the in-set): e^E = (R_top p_top / w_top) e^E'.
        let (mut total, mut total_in, mut weighted) = (cst::<S>(0.0), cst::<S>(0.0), cst::<S>(0.0));
        let top = self.order[0];
        let top_value = r[top] * p[top];
        for &k in in_set.iter().chain(out_set) {
            if self.rel_ready & (1 << k) == 0 {
                self.rel_ln_u[k] = if k == top {
                    cst(0.0)
                } else {
                    ln_ratio(r[k] * p[k] * w[top], top_value * w[k])
                };
                self.rel_ready |= 1 << k;
            }
        }
        for &k in in_set {
            total_in += w[k];
            weighted += w[k] * self.rel_ln_u[k];
        }
        total += total_in;
        for &k in out_set {
            total += w[k];
            weighted += w[k] * self.rel_ln_u[k];
        }
        let scale = exp_near_zero((weighted - total_in * self.ln_gamma) * total.recip())
            * r[top]
            * (w[top].recip() * p[top]);
        for &k in &self.order[ins..n - outs] {
            self.candidate[k] = cst(0.0);
        }
        let mut profit = cst::<S>(0.0);
        for &k in in_set {
            let x = scale * w[k] * (gamma / p[k]);
            let d = (x - r[k]) * self.inv_gamma;
            if d.value() <= 0.0 {
                return None;
            }
            self.candidate[k] = d;
            profit -= d * p[k];
        }
        for &k in out_set {
            let x = scale * w[k] / p[k];
            let d = x - r[k];
            if d.value() >= 0.0 {
                return None;
            }
            self.candidate[k] = d;
            profit -= d * p[k];
        }
        debug_assert!(n >= ins + outs);
        (profit.value() > 0.0).then_some((profit, scale.value()))
    }
}

/// Zero fees: the trade that brings every marginal price to the market price (all tokens
/// at once), `Delta = R (exp(sum_j w_j ln x_j) / x) - R` with `x_i = p_i / q_i` and pool
/// prices `q_i = V w_i / R_i`. Returns the arbitrageur's profit.
pub fn equilibrium_trade<S: Scalar>(r: &[S], w: &[S], p: &[f64], delta: &mut [S]) -> S {
    let value = r
        .iter()
        .zip(p)
        .fold(cst::<S>(0.0), |acc, (&ri, &pi)| acc + ri * pi);
    let mut log_level = cst::<S>(0.0);
    for j in 0..p.len() {
        // x_j = p_j / q_j = p_j R_j / (V w_j)
        log_level += w[j] * (r[j] * p[j] / (value * w[j])).ln();
    }
    let level = log_level.exp();
    let mut profit = cst::<S>(0.0);
    for i in 0..p.len() {
        let x = r[i] * p[i] / (value * w[i]);
        delta[i] = r[i] * (level / x) - r[i];
        profit -= delta[i] * p[i];
    }
    profit
}

/// An exact-in swap of `amount_in` of token `i` for token `o` (weights `w`, fee `1 - gamma`):
/// the amount of `o` the pool pays out.
pub fn swap_out<S: Scalar>(r: &[S], w: &[S], i: usize, o: usize, amount_in: f64, gamma: f64) -> S {
    let grown = (r[i] + gamma * amount_in) / r[i];
    r[o] * (cst::<S>(1.0) - grown.recip().powd(w[i] / w[o]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invariant(r: &[f64], w: &[f64]) -> f64 {
        r.iter().zip(w).map(|(r, w)| w * r.ln()).sum::<f64>()
    }

    // spec reserves.md §6.3: R = (1000, 50), w = (.5, .5), p = (1, 22), gamma = 0.997.
    #[test]
    fn two_token_trade_matches_reference() {
        let mut arb = Arbitrageur::new(2);
        let mut d = [0.0f64; 2];
        let profit = arb
            .optimal_trade(&[1000.0, 50.0], &[0.5, 0.5], &[1.0, 22.0], 0.997, &mut d)
            .unwrap();
        assert!((d[0] - 47.37658296364267).abs() < 1e-10, "{d:?}");
        assert!((d[1] + 2.2551995434142498).abs() < 1e-12, "{d:?}");
        assert!((profit - (-d[0] - 22.0 * d[1])).abs() < 1e-12);
    }

    #[test]
    fn no_trade_inside_the_band() {
        let mut arb = Arbitrageur::new(2);
        let mut d = [0.0f64; 2];
        // Pool price 50/1000*... at equilibrium for p = (1, 20): 0.5/(1000*1) = 0.5/(50*20).
        assert!(
            arb.optimal_trade(&[1000.0, 50.0], &[0.5, 0.5], &[1.0, 20.0], 0.997, &mut d)
                .is_none()
        );
        // A move smaller than the fee: still nothing.
        assert!(
            arb.optimal_trade(&[1000.0, 50.0], &[0.5, 0.5], &[1.0, 20.05], 0.997, &mut d)
                .is_none()
        );
    }

    #[test]
    fn trade_lands_on_the_band_edge_and_keeps_the_invariant() {
        let (r, w, p, gamma) = (
            [10.0, 200.0, 5000.0],
            [0.2, 0.3, 0.5],
            [900.0, 40.0, 1.1],
            0.99,
        );
        let mut arb = Arbitrageur::new(3);
        let mut d = [0.0f64; 3];
        arb.optimal_trade(&r, &w, &p, gamma, &mut d).unwrap();
        let eff: Vec<f64> = (0..3)
            .map(|i| r[i] + d[i] * if d[i] > 0.0 { gamma } else { 1.0 })
            .collect();
        assert!((invariant(&eff, &w) - invariant(&r, &w)).abs() < 1e-13);
        let post: Vec<f64> = (0..3).map(|i| r[i] + d[i]).collect();
        let mut again = [0.0; 3];
        assert!(
            arb.optimal_trade(&post, &w, &p, gamma, &mut again)
                .is_none(),
            "{again:?}"
        );
    }

    #[test]
    fn zero_fee_trade_reaches_market_prices() {
        let (r, w, p) = ([10.0, 200.0, 5000.0], [0.2, 0.3, 0.5], [900.0, 40.0, 1.1]);
        let mut d = [0.0f64; 3];
        let profit = equilibrium_trade(&r, &w, &p, &mut d);
        assert!(profit > 0.0);
        let post: Vec<f64> = (0..3).map(|i| r[i] + d[i]).collect();
        let value: f64 = post.iter().zip(&p).map(|(a, b)| a * b).sum();
        for i in 0..3 {
            assert!((post[i] * p[i] / value - w[i]).abs() < 1e-14, "{post:?}");
        }
        assert!((invariant(&post, &w) - invariant(&r, &w)).abs() < 1e-13);
    }

    /// The pair shortcut and the optimality-condition widening find what the search over
    /// every signature finds, on random pools of 2 to 6 tokens, fees and mispricings.
    #[test]
    fn shortcuts_agree_with_the_full_search() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut widened, mut widened_three, mut traded) = (0, 0, 0);
        for case in 0..4000 {
            let n = 2 + case % 5;
            let gamma = 1.0 - [0.0005, 0.003, 0.01, 0.05][case % 4];
            let mut w: Vec<f64> = (0..n).map(|_| 0.2 + uniform()).collect();
            let total: f64 = w.iter().sum();
            w.iter_mut().for_each(|x| *x /= total);
            let p: Vec<f64> = (0..n).map(|_| 10f64.powf(4.0 * uniform() - 2.0)).collect();
            // Equilibrium reserves, then every price knocked by up to ±4%.
            let r: Vec<f64> = (0..n)
                .map(|i| w[i] * 1e6 / p[i] * (1.0 + 0.08 * (uniform() - 0.5)))
                .collect();
            let mut fast = Arbitrageur::new(n);
            let mut d_fast = vec![0.0; n];
            let got = fast.optimal_trade(&r, &w, &p, gamma, &mut d_fast);
            let mut full = Arbitrageur::new(n);
            let mut d_full = vec![0.0; n];
            let want = if full.in_band(&r, &w, &p, gamma) {
                None
            } else {
                full.set_gamma(gamma);
                full.sort(n);
                full.search(&r, &w, &p, gamma, &mut d_full)
            };
            match (got, want) {
                (Some(a), Some(b)) => {
                    traded += 1;
                    let wide = d_fast.iter().filter(|d| **d != 0.0).count() > 2;
                    widened += usize::from(wide);
                    widened_three += usize::from(wide && n == 3);
                    // Profits agree to rounding of the pool's value (1e6).
                    assert!((a - b).abs() <= 1e-7, "case {case}: {a} vs {b}");
                    for i in 0..n {
                        let scale = r[i].abs() * 1e-12;
                        assert!(
                            (d_fast[i] - d_full[i]).abs() <= scale,
                            "case {case} token {i}"
                        );
                    }
                }
                (None, None) => {}
                other => panic!("case {case}: {other:?}"),
            }
        }
        // The test has teeth only if both shortcuts and multi-token optima occur (three
        // tokens have a widening of their own).
        assert!(
            traded > 3000 && widened > 300 && widened_three > 300,
            "{traded} trades, {widened} widened, {widened_three} of three tokens"
        );
    }

    // spec reserves.md §6.3: exact-in swap of 100 token-0 into R = (1000, 50), w = (.6, .4).
    #[test]
    fn swap_matches_reference() {
        let out: f64 = swap_out(&[1000.0, 50.0], &[0.6, 0.4], 0, 1, 100.0, 0.997);
        assert!((out - 6.643055675549759).abs() < 1e-12, "{out}");
    }
}
