//! Training objectives and report metrics over a pool's per-minute value path (spec
//! runners.md §4; formulas, units and edge cases in docs/metrics.md).
//!
//! Names and arithmetic are quantammsim's, including its oddities: the objective `sharpe` is
//! the minute Sharpe ratio while the report metric `sharpe` is the daily one, and
//! `greatest_draw_down` is measured from the initial value rather than the running peak.
//!
//! Everything is generic over [`Scalar`] so a training run can take derivatives through the
//! value path. Percentiles, minima and maxima compare real parts and return the chosen element
//! itself, so the derivative of a percentile is that of the (interpolated) elements it picks.
//! HODL references are plain `f64`: the reference stops gradients through them.

use crate::error::{Error, Result, did_you_mean};
use crate::scalar::{Scalar, abs, cst};

/// A "day" is 1440 consecutive rows; daily samples stride the minute grid, never a calendar.
pub const MINUTES_PER_DAY: usize = 1440;
pub const MINUTES_PER_WEEK: usize = 7 * MINUTES_PER_DAY;
/// The reference's "month" for chunked metrics.
pub const MINUTES_PER_MONTH: usize = 30 * MINUTES_PER_DAY;
/// Annualisation uses the 365-day calendar year.
pub const DAYS_PER_YEAR: f64 = 365.0;
pub const MINUTES_PER_YEAR: f64 = DAYS_PER_YEAR * MINUTES_PER_DAY as f64;

/// Keeps `ln` finite on a path that reaches zero value.
const LOG_FLOOR: f64 = 1e-12;
/// Added to the standard deviation of the daily log Sharpe only (the others have none).
const LOG_SHARPE_EPS: f64 = 1e-8;
/// Below this daily standard deviation the report `sharpe` is 0 rather than a huge ratio.
const FLAT_STD: f64 = 1e-12;

/// Pool value at the last minute had the pool not traded: [`hodl_ends`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HodlEnds {
    /// The initial reserves held: `R_0 · P_last`.
    pub hodl: f64,
    /// The initial value split equally by value at the first prices, held:
    /// `Σ_i V_0 / (n P_0,i) · P_last,i`.
    pub uniform_hodl: f64,
}

/// HODL and uniform-HODL end values from the initial reserves and the first and last prices of
/// the window (all in pool order).
pub fn hodl_ends(initial_reserves: &[f64], first_prices: &[f64], last_prices: &[f64]) -> HodlEnds {
    let n = initial_reserves.len();
    assert!(
        first_prices.len() == n && last_prices.len() == n,
        "one reserve and one price per asset"
    );
    let hodl = dot(initial_reserves, last_prices);
    let initial_value = dot(initial_reserves, first_prices);
    let uniform_hodl = first_prices
        .iter()
        .zip(last_prices)
        .map(|(&p0, &p1)| initial_value / (n as f64 * p0) * p1)
        .sum();
    HodlEnds { hodl, uniform_hodl }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Implied weights `w_t,i = R_t,i P_t,i / V_t` (row-major `n_rows × n_assets`), the input of
/// [`turnover`]. They differ from a pool's target weights wherever fees leave the pool off its
/// weights.
pub fn implied_weights<S: Scalar>(reserves: &[S], prices: &[f64], n_assets: usize) -> Vec<S> {
    assert_eq!(reserves.len(), prices.len(), "reserves and prices per row");
    let mut out = Vec::with_capacity(reserves.len());
    for (r, p) in reserves
        .chunks_exact(n_assets)
        .zip(prices.chunks_exact(n_assets))
    {
        let held: Vec<S> = r.iter().zip(p).map(|(&ri, &pi)| ri * pi).collect();
        let value = held.iter().fold(cst::<S>(0.0), |acc, &x| acc + x);
        out.extend(held.into_iter().map(|x| x / value));
    }
    out
}

/// Mean per-minute L1 change of the weights: `(1/(T−1)) Σ_t Σ_i |w_t+1,i − w_t,i|` (NaN for
/// fewer than two rows).
pub fn turnover<S: Scalar>(weights: &[S], n_assets: usize) -> S {
    let rows: Vec<&[S]> = weights.chunks_exact(n_assets).collect();
    let changes: Vec<S> = rows
        .windows(2)
        .map(|w| {
            w[1].iter()
                .zip(w[0])
                .fold(cst::<S>(0.0), |acc, (&b, &a)| acc + abs(b - a))
        })
        .collect();
    mean(&changes)
}

/// `metric − λ·turnover` (spec §4.2). λ = 0 leaves the metric untouched, as the reference
/// skips the penalty then; a positive λ needs the path's implied weights.
pub fn apply_turnover_penalty<S: Scalar>(metric: S, path: &Path<'_, S>, lambda: f64) -> Result<S> {
    if !(lambda >= 0.0 && lambda.is_finite()) {
        return Err(Error::invalid(
            "turnover_penalty",
            lambda,
            "must be a finite number >= 0",
        ));
    }
    if lambda == 0.0 {
        return Ok(metric);
    }
    let Some(weights) = path.implied_weights else {
        return Err(Error::invalid(
            "turnover_penalty",
            lambda,
            "needs the implied weights of the path (Path::with_implied_weights)",
        ));
    };
    Ok(metric - turnover(weights, path.n_assets) * lambda)
}

/// One simulated window: what every objective and metric reads.
#[derive(Clone, Copy, Debug)]
pub struct Path<'a, S> {
    /// Pool value each minute, `V_0 … V_T−1`.
    pub values: &'a [S],
    /// [`HodlEnds::hodl`] of the window.
    pub hodl_end: f64,
    /// [`HodlEnds::uniform_hodl`] of the window.
    pub uniform_hodl_end: f64,
    /// Fee revenue per minute (quote currency), if the pool reports it.
    pub fee_revenue: Option<&'a [S]>,
    /// Implied weights per minute, row-major, for [`turnover`].
    pub implied_weights: Option<&'a [S]>,
    /// Assets per row of `implied_weights`.
    pub n_assets: usize,
}

impl<'a, S: Scalar> Path<'a, S> {
    pub fn new(values: &'a [S], ends: HodlEnds) -> Self {
        assert!(!values.is_empty(), "a value path has at least one minute");
        Self {
            values,
            hodl_end: ends.hodl,
            uniform_hodl_end: ends.uniform_hodl,
            fee_revenue: None,
            implied_weights: None,
            n_assets: 0,
        }
    }

    pub fn with_fee_revenue(self, fee_revenue: &'a [S]) -> Self {
        assert_eq!(
            fee_revenue.len(),
            self.values.len(),
            "fee revenue per minute"
        );
        Self {
            fee_revenue: Some(fee_revenue),
            ..self
        }
    }

    pub fn with_implied_weights(self, weights: &'a [S], n_assets: usize) -> Self {
        assert!(
            n_assets > 0 && weights.len() == self.values.len() * n_assets,
            "implied weights: one row of n_assets per minute"
        );
        Self {
            implied_weights: Some(weights),
            n_assets,
            ..self
        }
    }
}

/// A scalar training objective (`return_val`); every one is maximised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Objective {
    DailyLogSharpe,
    /// `sharpe`: minute returns, no epsilon.
    MinuteSharpe,
    DailySharpe,
    Returns,
    AnnualisedReturns,
    ReturnsOverHodl,
    AnnualisedReturnsOverHodl,
    ReturnsOverUniformHodl,
    AnnualisedReturnsOverUniformHodl,
    GreatestDrawDown,
    WeeklyMaxDrawdown,
    DailyVar95,
    DailyVar99,
    WeeklyVar95,
    WeeklyVar99,
    DailyVar95Trad,
    DailyVar99Trad,
    WeeklyVar95Trad,
    WeeklyVar99Trad,
    DailyRaroc,
    WeeklyRaroc,
    DailyRovar,
    WeeklyRovar,
    MonthlyRovar,
    DailyRovarTrad,
    WeeklyRovarTrad,
    MonthlyRovarTrad,
    Ulcer,
    Sterling,
    Calmar,
    FeeRevenueOverValue,
}

const TABLE: [(Objective, &str); 31] = {
    use Objective::*;
    [
        (DailyLogSharpe, "daily_log_sharpe"),
        (MinuteSharpe, "sharpe"),
        (DailySharpe, "daily_sharpe"),
        (Returns, "returns"),
        (AnnualisedReturns, "annualised_returns"),
        (ReturnsOverHodl, "returns_over_hodl"),
        (AnnualisedReturnsOverHodl, "annualised_returns_over_hodl"),
        (ReturnsOverUniformHodl, "returns_over_uniform_hodl"),
        (
            AnnualisedReturnsOverUniformHodl,
            "annualised_returns_over_uniform_hodl",
        ),
        (GreatestDrawDown, "greatest_draw_down"),
        (WeeklyMaxDrawdown, "weekly_max_drawdown"),
        (DailyVar95, "daily_var_95%"),
        (DailyVar99, "daily_var_99%"),
        (WeeklyVar95, "weekly_var_95%"),
        (WeeklyVar99, "weekly_var_99%"),
        (DailyVar95Trad, "daily_var_95%_trad"),
        (DailyVar99Trad, "daily_var_99%_trad"),
        (WeeklyVar95Trad, "weekly_var_95%_trad"),
        (WeeklyVar99Trad, "weekly_var_99%_trad"),
        (DailyRaroc, "daily_raroc"),
        (WeeklyRaroc, "weekly_raroc"),
        (DailyRovar, "daily_rovar"),
        (WeeklyRovar, "weekly_rovar"),
        (MonthlyRovar, "monthly_rovar"),
        (DailyRovarTrad, "daily_rovar_trad"),
        (WeeklyRovarTrad, "weekly_rovar_trad"),
        (MonthlyRovarTrad, "monthly_rovar_trad"),
        (Ulcer, "ulcer"),
        (Sterling, "sterling"),
        (Calmar, "calmar"),
        (FeeRevenueOverValue, "fee_revenue_over_value"),
    ]
};

const fn table_names<const N: usize>(table: [(Objective, &'static str); N]) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = table[i].1;
        i += 1;
    }
    names
}

/// Every scalar `return_val`, by its quantammsim name.
pub const OBJECTIVES: &[&str] = &table_names(TABLE);

/// `return_val`s that return arrays rather than a scalar: a runner's business, not an objective.
const ARRAY_RETURN_VALS: &[&str] = &["value", "reserves", "reserves_and_values"];

/// The report metrics of spec §4.4, in the reference's order (fee revenue and turnover follow
/// when the path carries them).
pub const EVALUATION_METRICS: &[&str] = &[
    "sharpe",
    "jax_sharpe",
    "daily_log_sharpe",
    "return",
    "returns_over_hodl",
    "returns_over_uniform_hodl",
    "annualised_returns",
    "annualised_returns_over_hodl",
    "annualised_returns_over_uniform_hodl",
    "ulcer",
    "calmar",
    "sterling",
];

impl Objective {
    pub fn parse(name: &str) -> Result<Objective> {
        if let Some(&(objective, _)) = TABLE.iter().find(|(_, n)| *n == name) {
            return Ok(objective);
        }
        if ARRAY_RETURN_VALS.contains(&name) {
            return Err(Error::invalid(
                "return_val",
                name,
                "returns arrays, not a scalar objective: take them from the run's output",
            ));
        }
        let suggestion = did_you_mean(name, OBJECTIVES.iter().copied())
            .map(|s| format!("did you mean \"{s}\"? "))
            .unwrap_or_default();
        Err(Error::invalid(
            "return_val",
            name,
            format!(
                "unknown objective ({suggestion}known: {})",
                OBJECTIVES.join(", ")
            ),
        ))
    }

    pub fn name(self) -> &'static str {
        TABLE
            .iter()
            .find(|(o, _)| *o == self)
            .map(|(_, n)| *n)
            .expect("every objective is in the table")
    }

    pub fn evaluate<S: Scalar>(self, path: &Path<'_, S>) -> S {
        use Objective::*;
        let v = path.values;
        match self {
            DailyLogSharpe => daily_log_sharpe(v),
            MinuteSharpe => minute_sharpe(v),
            DailySharpe => daily_sharpe(v),
            Returns => total_return(v),
            AnnualisedReturns => annualise_growth(last(v) / v[0], v.len()),
            ReturnsOverHodl => last(v) / path.hodl_end - 1.0,
            AnnualisedReturnsOverHodl => annualise_growth(last(v) / path.hodl_end, v.len()),
            ReturnsOverUniformHodl => last(v) / path.uniform_hodl_end - 1.0,
            AnnualisedReturnsOverUniformHodl => {
                annualise_growth(last(v) / path.uniform_hodl_end, v.len())
            }
            GreatestDrawDown => greatest_draw_down(v),
            WeeklyMaxDrawdown => chunked_max_drawdown(v, MINUTES_PER_WEEK),
            DailyVar95 => intraday_var(v, 5.0, MINUTES_PER_DAY),
            DailyVar99 => intraday_var(v, 1.0, MINUTES_PER_DAY),
            WeeklyVar95 => intraday_var(v, 5.0, MINUTES_PER_WEEK),
            WeeklyVar99 => intraday_var(v, 1.0, MINUTES_PER_WEEK),
            DailyVar95Trad => chunk_end_var(v, 5.0, MINUTES_PER_DAY),
            DailyVar99Trad => chunk_end_var(v, 1.0, MINUTES_PER_DAY),
            WeeklyVar95Trad => chunk_end_var(v, 5.0, MINUTES_PER_WEEK),
            WeeklyVar99Trad => chunk_end_var(v, 1.0, MINUTES_PER_WEEK),
            DailyRaroc => raroc(v, MINUTES_PER_DAY),
            WeeklyRaroc => raroc(v, MINUTES_PER_WEEK),
            DailyRovar => rovar(v, MINUTES_PER_DAY, false),
            WeeklyRovar => rovar(v, MINUTES_PER_WEEK, false),
            MonthlyRovar => rovar(v, MINUTES_PER_MONTH, false),
            DailyRovarTrad => rovar(v, MINUTES_PER_DAY, true),
            WeeklyRovarTrad => rovar(v, MINUTES_PER_WEEK, true),
            MonthlyRovarTrad => rovar(v, MINUTES_PER_MONTH, true),
            Ulcer => ulcer(v, MINUTES_PER_MONTH),
            Sterling => sterling(v, MINUTES_PER_MONTH),
            Calmar => calmar(v),
            FeeRevenueOverValue => match path.fee_revenue {
                Some(fees) => sum(fees) / v[0],
                None => cst(0.0),
            },
        }
    }
}

/// The objective `name` (a quantammsim `return_val`) of the path.
pub fn objective<S: Scalar>(name: &str, path: &Path<'_, S>) -> Result<S> {
    Ok(Objective::parse(name)?.evaluate(path))
}

/// The report metrics of spec §4.4 in [`EVALUATION_METRICS`] order, then
/// `fee_revenue_over_value` if the path has fee revenue and `turnover` if it has implied weights.
pub fn evaluation<S: Scalar>(path: &Path<'_, S>) -> Vec<(&'static str, f64)> {
    use Objective::*;
    let v = path.values;
    let d = daily_returns(v);
    let daily_std = std(&d);
    // The reference's guard also maps a NaN deviation (under two daily samples) to 0.
    let sharpe = if daily_std.value() > FLAT_STD {
        (mean(&d) / daily_std * DAYS_PER_YEAR.sqrt()).value()
    } else {
        0.0
    };
    let mut out = vec![("sharpe", sharpe)];
    for (name, objective) in [
        ("jax_sharpe", MinuteSharpe),
        ("daily_log_sharpe", DailyLogSharpe),
        ("return", Returns),
        ("returns_over_hodl", ReturnsOverHodl),
        ("returns_over_uniform_hodl", ReturnsOverUniformHodl),
        ("annualised_returns", AnnualisedReturns),
        ("annualised_returns_over_hodl", AnnualisedReturnsOverHodl),
        (
            "annualised_returns_over_uniform_hodl",
            AnnualisedReturnsOverUniformHodl,
        ),
        ("ulcer", Ulcer),
        ("calmar", Calmar),
        ("sterling", Sterling),
    ] {
        out.push((name, objective.evaluate(path).value()));
    }
    if path.fee_revenue.is_some() {
        out.push((
            "fee_revenue_over_value",
            FeeRevenueOverValue.evaluate(path).value(),
        ));
    }
    if let Some(w) = path.implied_weights {
        out.push(("turnover", turnover(w, path.n_assets).value()));
    }
    out
}

/// Arithmetic returns between daily samples `V_0, V_1440, …` (kept by the reference for
/// bootstrap intervals and the deflated Sharpe ratio).
pub fn daily_returns<S: Scalar>(values: &[S]) -> Vec<S> {
    let daily: Vec<S> = values.iter().step_by(MINUTES_PER_DAY).copied().collect();
    simple_returns(&daily)
}

// ---- building blocks -------------------------------------------------------------------

fn last<S: Scalar>(v: &[S]) -> S {
    v[v.len() - 1]
}

fn sum<S: Scalar>(xs: &[S]) -> S {
    xs.iter().fold(cst::<S>(0.0), |acc, &x| acc + x)
}

/// Empty input gives 0/0 = NaN, the reference's mean of an empty set.
fn mean<S: Scalar>(xs: &[S]) -> S {
    sum(xs) / xs.len() as f64
}

/// Population standard deviation (ddof = 0).
fn std<S: Scalar>(xs: &[S]) -> S {
    let m = mean(xs);
    let squares: Vec<S> = xs.iter().map(|&x| (x - m) * (x - m)).collect();
    mean(&squares).sqrt()
}

/// `(x_t+1 − x_t) / x_t`: the reference's difference-then-divide form.
fn simple_returns<S: Scalar>(x: &[S]) -> Vec<S> {
    x.windows(2).map(|w| (w[1] - w[0]) / w[0]).collect()
}

/// Complete chunks only; a trailing partial chunk is dropped.
fn chunks<S>(v: &[S], len: usize) -> std::slice::ChunksExact<'_, S> {
    v.chunks_exact(len)
}

/// The element with the smallest real part; NaN wins, as in `jnp.min`.
fn min_by_value<S: Scalar>(xs: impl IntoIterator<Item = S>) -> S {
    let mut it = xs.into_iter();
    let Some(mut best) = it.next() else {
        return cst(f64::NAN);
    };
    for x in it {
        if best.value().is_nan() {
            break;
        }
        if x.value() < best.value() || x.value().is_nan() {
            best = x;
        }
    }
    best
}

/// `p`-th percentile with linear interpolation between the order statistics around
/// `(n−1)·p/100` (numpy's default); NaN for an empty set or any NaN.
fn percentile<S: Scalar>(xs: &[S], p: f64) -> S {
    if xs.is_empty() || xs.iter().any(|x| x.value().is_nan()) {
        return cst(f64::NAN);
    }
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_unstable_by(|&a, &b| xs[a].value().total_cmp(&xs[b].value()));
    let h = (xs.len() - 1) as f64 * p / 100.0;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(xs.len() - 1);
    let t = h - lo as f64;
    let (a, b) = (xs[order[lo]], xs[order[hi]]);
    a + (b - a) * t
}

/// Drawdowns `(V − M) / M` from the running maximum `M` (NaN propagates, as in
/// `jnp.maximum`).
fn drawdowns<S: Scalar>(v: &[S]) -> Vec<S> {
    let mut peak = v[0];
    v.iter()
        .map(|&x| {
            if x.value() > peak.value() || x.value().is_nan() {
                peak = x;
            }
            (x - peak) / peak
        })
        .collect()
}

fn total_return<S: Scalar>(v: &[S]) -> S {
    last(v) / v[0] - 1.0
}

/// `g^(525600/(T−1)) − 1`: the per-minute exponent of the `annualised_*` returns.
fn annualise_growth<S: Scalar>(growth: S, n_rows: usize) -> S {
    growth.powf(MINUTES_PER_YEAR / (n_rows - 1) as f64) - 1.0
}

/// `365 / (T/1440)`: the drawdown ratios and RAROC count rows, not intervals.
fn years_factor(n_rows: usize) -> f64 {
    DAYS_PER_YEAR / (n_rows as f64 / MINUTES_PER_DAY as f64)
}

/// `(1 + R)^(365/(T/1440)) − 1` with `R` the total return.
fn annualised_total_return<S: Scalar>(v: &[S]) -> S {
    (total_return(v) + 1.0).powf(years_factor(v.len())) - 1.0
}

fn minute_sharpe<S: Scalar>(v: &[S]) -> S {
    let r = simple_returns(v);
    mean(&r) / std(&r) * MINUTES_PER_YEAR.sqrt()
}

fn daily_sharpe<S: Scalar>(v: &[S]) -> S {
    let d = daily_returns(v);
    mean(&d) / std(&d) * DAYS_PER_YEAR.sqrt()
}

fn daily_log_sharpe<S: Scalar>(v: &[S]) -> S {
    let logs: Vec<S> = v
        .iter()
        .step_by(MINUTES_PER_DAY)
        .map(|&x| (x + LOG_FLOOR).ln())
        .collect();
    let l: Vec<S> = logs.windows(2).map(|w| w[1] - w[0]).collect();
    mean(&l) / (std(&l) + LOG_SHARPE_EPS) * DAYS_PER_YEAR.sqrt()
}

fn greatest_draw_down<S: Scalar>(v: &[S]) -> S {
    min_by_value(v.iter().map(|&x| x - v[0])) / v[0]
}

/// Worst drawdown within any complete chunk (the running peak restarts in each chunk).
fn chunked_max_drawdown<S: Scalar>(v: &[S], len: usize) -> S {
    min_by_value(chunks(v, len).map(|c| min_by_value(drawdowns(c))))
}

/// Per complete chunk, the `p`-th percentile of its minute returns; mean over chunks.
fn intraday_var<S: Scalar>(v: &[S], p: f64, len: usize) -> S {
    let per_chunk: Vec<S> = chunks(v, len)
        .map(|c| percentile(&simple_returns(c), p))
        .collect();
    mean(&per_chunk)
}

/// `p`-th percentile of the returns between the last minutes of consecutive complete chunks.
fn chunk_end_var<S: Scalar>(v: &[S], p: f64, len: usize) -> S {
    percentile(&simple_returns(&chunk_ends(v, len)), p)
}

fn chunk_ends<S: Scalar>(v: &[S], len: usize) -> Vec<S> {
    chunks(v, len).map(|c| c[len - 1]).collect()
}

/// VaR scaled to a year of chunks: `VaR · √(a · 1440 / len)` with `a = 365 / (T/1440)`.
fn annualised_var<S: Scalar>(var: S, n_rows: usize, len: usize) -> S {
    var * (years_factor(n_rows) * MINUTES_PER_DAY as f64 / len as f64).sqrt()
}

fn raroc<S: Scalar>(v: &[S], len: usize) -> S {
    let var = intraday_var(v, 5.0, len);
    -annualised_total_return(v) / annualised_var(var, v.len(), len)
}

fn rovar<S: Scalar>(v: &[S], len: usize, trad: bool) -> S {
    let exponent = MINUTES_PER_YEAR / len as f64;
    let per_chunk: Vec<S> = chunks(v, len)
        // `(1 + ρ)` with `ρ = last/first − 1` formed first, as the reference rounds it.
        .map(|c| (c[len - 1] / c[0] - 1.0 + 1.0).powf(exponent) - 1.0)
        .collect();
    let var = if trad {
        chunk_end_var(v, 5.0, len)
    } else {
        intraday_var(v, 5.0, len)
    };
    -mean(&per_chunk) / annualised_var(var, v.len(), len)
}

fn ulcer<S: Scalar>(v: &[S], len: usize) -> S {
    let per_chunk: Vec<S> = chunks(v, len)
        .map(|c| {
            let squares: Vec<S> = drawdowns(c).into_iter().map(|d| d * d).collect();
            mean(&squares).sqrt()
        })
        .collect();
    -mean(&per_chunk)
}

fn sterling<S: Scalar>(v: &[S], len: usize) -> S {
    let worst: Vec<S> = chunks(v, len).map(|c| min_by_value(drawdowns(c))).collect();
    let denominator = -mean(&worst);
    if denominator.value() <= 0.0 {
        return cst(f64::INFINITY);
    }
    annualised_total_return(v) / denominator
}

fn calmar<S: Scalar>(v: &[S]) -> S {
    let max_drawdown = min_by_value(drawdowns(v));
    if max_drawdown.value() >= 0.0 {
        return cst(f64::INFINITY);
    }
    annualised_total_return(v) / -max_drawdown
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::Dual64;

    fn wave(n: usize) -> Vec<f64> {
        (0..n)
            .map(|t| {
                let d = t as f64 / 1440.0;
                1e6 * (1.0 + 0.1 * (d / 3.0).sin() + 0.02 * (t as f64 / 37.0).sin() + 0.003 * d)
            })
            .collect()
    }

    fn path(v: &[f64]) -> Path<'_, f64> {
        Path::new(
            v,
            HodlEnds {
                hodl: 1.1e6,
                uniform_hodl: 0.9e6,
            },
        )
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(OBJECTIVES.len(), 31);
        for &name in OBJECTIVES {
            assert_eq!(Objective::parse(name).unwrap().name(), name);
        }
        assert_eq!(Objective::parse("sharpe").unwrap(), Objective::MinuteSharpe);
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let err = Objective::parse("daily_log_sharp").unwrap_err().to_string();
        assert!(
            err.starts_with("return_val = daily_log_sharp: unknown objective"),
            "{err}"
        );
        assert!(err.contains("did you mean \"daily_log_sharpe\"?"), "{err}");
        assert!(err.contains("known: daily_log_sharpe, sharpe,"), "{err}");
        let err = Objective::parse("zzz").unwrap_err().to_string();
        assert!(!err.contains("did you mean"), "{err}");
        let err = objective("reserves", &path(&wave(10)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("returns arrays"), "{err}");
    }

    #[test]
    fn every_objective_is_finite_on_a_long_wavy_path() {
        let v = wave(70 * 1440 + 17);
        let p = path(&v);
        for &name in OBJECTIVES {
            let x = objective(name, &p).unwrap();
            assert!(x.is_finite(), "{name} = {x}");
        }
        let fees = vec![1.0; v.len()];
        let x = objective("fee_revenue_over_value", &p.with_fee_revenue(&fees)).unwrap();
        assert!((x - v.len() as f64 / v[0]).abs() < 1e-15);
    }

    #[test]
    fn short_windows_give_nan_and_monotone_paths_inf() {
        // Three weeks: no complete 30-day chunk.
        let v = wave(21 * 1440);
        let p = path(&v);
        for name in ["ulcer", "sterling", "monthly_rovar", "monthly_rovar_trad"] {
            assert!(objective(name, &p).unwrap().is_nan(), "{name}");
        }
        assert!(objective("weekly_max_drawdown", &p).unwrap().is_finite());
        // Exactly one week: one chunk, so no chunk-end return.
        let week = wave(7 * 1440);
        assert!(
            objective("weekly_var_95%_trad", &path(&week))
                .unwrap()
                .is_nan()
        );
        assert!(
            objective("weekly_var_95%", &path(&week))
                .unwrap()
                .is_finite()
        );
        // Under a day: no daily return; the report sharpe guards it to 0.
        let day = wave(1000);
        assert!(objective("daily_sharpe", &path(&day)).unwrap().is_nan());
        assert!(objective("daily_log_sharpe", &path(&day)).unwrap().is_nan());
        assert_eq!(evaluation(&path(&day))[0], ("sharpe", 0.0));
        // A path that never falls has no drawdown.
        let up: Vec<f64> = (0..31 * 1440).map(|t| 1.0 + t as f64 * 1e-6).collect();
        assert_eq!(objective("calmar", &path(&up)).unwrap(), f64::INFINITY);
        assert_eq!(objective("sterling", &path(&up)).unwrap(), f64::INFINITY);
        assert_eq!(objective("greatest_draw_down", &path(&up)).unwrap(), 0.0);
        // Flat: the minute and daily Sharpe ratios have no epsilon.
        let flat = vec![5.0; 3 * 1440];
        assert!(objective("sharpe", &path(&flat)).unwrap().is_nan());
        assert!(objective("daily_sharpe", &path(&flat)).unwrap().is_nan());
        assert_eq!(objective("daily_log_sharpe", &path(&flat)).unwrap(), 0.0);
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        let xs = [4.0f64, 1.0, 3.0, 2.0, 10.0];
        // numpy.percentile(xs, 5) = 1.2; (…, 50) = 3; (…, 99) = 9.76
        assert!((percentile(&xs, 5.0) - 1.2).abs() < 1e-15);
        assert_eq!(percentile(&xs, 50.0), 3.0);
        assert!((percentile(&xs, 99.0) - 9.76).abs() < 1e-14);
        assert!(percentile::<f64>(&[], 5.0).is_nan());
        assert!(percentile(&[1.0, f64::NAN], 5.0).is_nan());
    }

    /// Derivatives flow through sorting, minima and chunking: a dual path whose tangent is
    /// `dV/dx` for `V(x) = wave · (1 + x·ramp)` agrees with central differences.
    #[test]
    fn derivatives_match_finite_differences() {
        let base = wave(95 * 1440 + 11);
        let ramp: Vec<f64> = (0..base.len())
            .map(|t| (t as f64 / 5000.0).sin() * 0.05)
            .collect();
        let at = |x: f64| -> Vec<f64> {
            base.iter()
                .zip(&ramp)
                .map(|(&b, &r)| b * (1.0 + x * r))
                .collect()
        };
        let x0 = 0.3;
        let dual: Vec<Dual64> = base
            .iter()
            .zip(&ramp)
            .map(|(&b, &r)| Dual64::new(b * (1.0 + x0 * r), b * r))
            .collect();
        let ends = HodlEnds {
            hodl: 1.1e6,
            uniform_hodl: 0.9e6,
        };
        let h = 1e-6;
        for &name in OBJECTIVES {
            if name == "fee_revenue_over_value" {
                continue;
            }
            let d = objective(name, &Path::new(&dual, ends)).unwrap();
            let (up, down) = (at(x0 + h), at(x0 - h));
            let fd = (objective(name, &Path::new(&up, ends)).unwrap()
                - objective(name, &Path::new(&down, ends)).unwrap())
                / (2.0 * h);
            let plain = objective(name, &Path::new(&at(x0), ends)).unwrap();
            // Dual division rounds differently from f64's by an ulp or two.
            assert!(
                (d.re - plain).abs() <= 1e-13 * plain.abs(),
                "{name}: value {} vs {plain}",
                d.re
            );
            let scale = d.eps.abs().max(1e-3 * plain.abs()).max(1e-6);
            assert!(
                (d.eps - fd).abs() <= 1e-4 * scale,
                "{name}: dual {} vs finite difference {fd}",
                d.eps
            );
        }
    }

    #[test]
    fn turnover_and_penalty() {
        // Two assets: 0.5/0.5 → 0.6/0.4 → 0.6/0.4: changes 0.2 and 0.
        let w = [0.5f64, 0.5, 0.6, 0.4, 0.6, 0.4];
        assert!((turnover(&w, 2) - 0.1).abs() < 1e-15);
        let v = [1.0, 1.1, 1.2];
        let p = path(&v);
        assert!(apply_turnover_penalty(2.0, &p, 1.0).is_err());
        assert_eq!(apply_turnover_penalty(2.0, &p, 0.0).unwrap(), 2.0);
        assert!(apply_turnover_penalty(2.0, &p, -1.0).is_err());
        let p = p.with_implied_weights(&w, 2);
        assert!((apply_turnover_penalty(2.0, &p, 3.0).unwrap() - 1.7).abs() < 1e-15);
        let names: Vec<&str> = evaluation(&p).iter().map(|(n, _)| *n).collect();
        assert_eq!(names[..12], *EVALUATION_METRICS);
        assert_eq!(names[12], "turnover");
        // Implied weights from reserves and prices.
        let iw = implied_weights(&[1.0, 2.0, 3.0, 1.0], &[2.0, 1.0, 1.0, 1.0], 2);
        assert_eq!(iw, vec![0.5, 0.5, 0.75, 0.25]);
    }

    #[test]
    fn hodl_ends_hold_reserves_or_an_equal_split() {
        // Initial value 2·10 + 100·1 = 120; uniform: 60/10 = 6 and 60/1 = 60 units.
        let e = hodl_ends(&[2.0, 100.0], &[10.0, 1.0], &[20.0, 2.0]);
        assert_eq!(e.hodl, 2.0 * 20.0 + 100.0 * 2.0);
        assert!((e.uniform_hodl - (6.0 * 20.0 + 60.0 * 2.0)).abs() < 1e-12);
    }
}
