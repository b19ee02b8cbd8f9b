//! Objectives and report metrics (tfmm_core::metrics): against independent, literal
//! computations on synthetic paths, against the reference's own golden rows, and against the
//! metrics quantammsim reported for every reference case, computed from tfmm's full run.

mod common;

use std::sync::OnceLock;

use common::*;
use serde_json::{Value, json};
use tfmm_core::metrics::{
    self, EVALUATION_METRICS, HodlEnds, OBJECTIVES, Objective, Path, evaluation, hodl_ends,
    implied_weights, objective, turnover,
};

// ---- independent computations --------------------------------------------------------------

/// Literal transcriptions of spec runners.md §4.1 / §4.4, sharing no code with the module:
/// index arithmetic instead of slices and iterators, `V_t+1/V_t − 1` instead of
/// difference-then-divide, a sorted copy for percentiles.
mod literal {
    pub const DAY: usize = 1440;

    pub fn mean(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for v in x {
            s += v;
        }
        s / x.len() as f64
    }

    pub fn std(x: &[f64]) -> f64 {
        let m = mean(x);
        let mut s = 0.0;
        for v in x {
            s += (v - m).powi(2);
        }
        (s / x.len() as f64).sqrt()
    }

    pub fn returns(v: &[f64]) -> Vec<f64> {
        (0..v.len().saturating_sub(1))
            .map(|t| v[t + 1] / v[t] - 1.0)
            .collect()
    }

    pub fn daily(v: &[f64]) -> Vec<f64> {
        (0..=(v.len() - 1) / DAY).map(|k| v[k * DAY]).collect()
    }

    /// numpy.percentile, method "linear"; NaN for no data.
    pub fn percentile(x: &[f64], p: f64) -> f64 {
        if x.is_empty() {
            return f64::NAN;
        }
        let mut s = x.to_vec();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let h = (s.len() - 1) as f64 * p / 100.0;
        let i = h as usize;
        let j = if i + 1 < s.len() { i + 1 } else { i };
        s[i] * (1.0 - (h - i as f64)) + s[j] * (h - i as f64)
    }

    /// Complete chunks of `len` minutes.
    pub fn chunk(v: &[f64], len: usize) -> Vec<Vec<f64>> {
        (0..v.len() / len)
            .map(|c| v[c * len..(c + 1) * len].to_vec())
            .collect()
    }

    pub fn max_drawdown(v: &[f64]) -> f64 {
        let mut peak = v[0];
        let mut worst = 0.0f64;
        for &x in v {
            peak = peak.max(x);
            worst = worst.min((x - peak) / peak);
        }
        worst
    }

    pub fn ulcer_index(v: &[f64]) -> f64 {
        let mut peak = v[0];
        let mut s = 0.0;
        for &x in v {
            peak = peak.max(x);
            s += ((x - peak) / peak).powi(2);
        }
        (s / v.len() as f64).sqrt()
    }

    fn min(x: &[f64]) -> f64 {
        x.iter().copied().fold(f64::NAN, f64::min)
    }

    fn ann_total(v: &[f64]) -> f64 {
        let years = (v.len() as f64 / DAY as f64) / 365.0;
        (v[v.len() - 1] / v[0]).powf(1.0 / years) - 1.0
    }

    fn ann_minutes(growth: f64, n: usize) -> f64 {
        growth.powf(525_600.0 / (n - 1) as f64) - 1.0
    }

    fn intraday_var(v: &[f64], p: f64, len: usize) -> f64 {
        let per: Vec<f64> = chunk(v, len)
            .iter()
            .map(|c| percentile(&returns(c), p))
            .collect();
        mean(&per)
    }

    fn end_var(v: &[f64], p: f64, len: usize) -> f64 {
        let ends: Vec<f64> = chunk(v, len).iter().map(|c| c[len - 1]).collect();
        percentile(&returns(&ends), p)
    }

    fn var_scale(v: &[f64], len: usize) -> f64 {
        let a = 365.0 / (v.len() as f64 / DAY as f64);
        (a * DAY as f64 / len as f64).sqrt()
    }

    fn raroc(v: &[f64], len: usize) -> f64 {
        -ann_total(v) / (intraday_var(v, 5.0, len) * var_scale(v, len))
    }

    fn rovar(v: &[f64], len: usize, trad: bool) -> f64 {
        let per: Vec<f64> = chunk(v, len)
            .iter()
            .map(|c| (c[len - 1] / c[0]).powf(525_600.0 / len as f64) - 1.0)
            .collect();
        let var = if trad {
            end_var(v, 5.0, len)
        } else {
            intraday_var(v, 5.0, len)
        };
        -mean(&per) / (var * var_scale(v, len))
    }

    pub fn daily_log_sharpe(v: &[f64]) -> f64 {
        let d = daily(v);
        let l: Vec<f64> = (1..d.len())
            .map(|k| (d[k] + 1e-12).ln() - (d[k - 1] + 1e-12).ln())
            .collect();
        365f64.sqrt() * mean(&l) / (std(&l) + 1e-8)
    }

    pub fn sterling(v: &[f64]) -> f64 {
        let dd: Vec<f64> = chunk(v, 30 * DAY).iter().map(|c| max_drawdown(c)).collect();
        let avg = mean(&dd);
        if -avg <= 0.0 {
            f64::INFINITY
        } else {
            ann_total(v) / -avg
        }
    }

    pub fn calmar(v: &[f64]) -> f64 {
        let dd = max_drawdown(v);
        if dd >= 0.0 {
            f64::INFINITY
        } else {
            ann_total(v) / -dd
        }
    }

    pub fn ulcer(v: &[f64]) -> f64 {
        let per: Vec<f64> = chunk(v, 30 * DAY).iter().map(|c| ulcer_index(c)).collect();
        -mean(&per)
    }

    pub fn objective(name: &str, v: &[f64], hodl: f64, uniform: f64, fees: &[f64]) -> f64 {
        let (n, last) = (v.len(), v[v.len() - 1]);
        let (week, month) = (7 * DAY, 30 * DAY);
        match name {
            "daily_log_sharpe" => daily_log_sharpe(v),
            "sharpe" => {
                let r = returns(v);
                525_600f64.sqrt() * mean(&r) / std(&r)
            }
            "daily_sharpe" => {
                let d = returns(&daily(v));
                365f64.sqrt() * mean(&d) / std(&d)
            }
            "returns" => last / v[0] - 1.0,
            "annualised_returns" => ann_minutes(last / v[0], n),
            "returns_over_hodl" => last / hodl - 1.0,
            "annualised_returns_over_hodl" => ann_minutes(last / hodl, n),
            "returns_over_uniform_hodl" => last / uniform - 1.0,
            "annualised_returns_over_uniform_hodl" => ann_minutes(last / uniform, n),
            "greatest_draw_down" => min(v) / v[0] - 1.0,
            "weekly_max_drawdown" => {
                let dd: Vec<f64> = chunk(v, week).iter().map(|c| max_drawdown(c)).collect();
                min(&dd)
            }
            "daily_var_95%" => intraday_var(v, 5.0, DAY),
            "daily_var_99%" => intraday_var(v, 1.0, DAY),
            "weekly_var_95%" => intraday_var(v, 5.0, week),
            "weekly_var_99%" => intraday_var(v, 1.0, week),
            "daily_var_95%_trad" => end_var(v, 5.0, DAY),
            "daily_var_99%_trad" => end_var(v, 1.0, DAY),
            "weekly_var_95%_trad" => end_var(v, 5.0, week),
            "weekly_var_99%_trad" => end_var(v, 1.0, week),
            "daily_raroc" => raroc(v, DAY),
            "weekly_raroc" => raroc(v, week),
            "daily_rovar" => rovar(v, DAY, false),
            "weekly_rovar" => rovar(v, week, false),
            "monthly_rovar" => rovar(v, month, false),
            "daily_rovar_trad" => rovar(v, DAY, true),
            "weekly_rovar_trad" => rovar(v, week, true),
            "monthly_rovar_trad" => rovar(v, month, true),
            "ulcer" => ulcer(v),
            "sterling" => sterling(v),
            "calmar" => calmar(v),
            "fee_revenue_over_value" => fees.iter().sum::<f64>() / v[0],
            _ => panic!("no literal form of {name}"),
        }
    }
}

/// Equal, both NaN, or both the same infinity; else within `rel` relative (absolute below
/// 1e-3: several objectives cross zero).
fn close(got: f64, want: f64, rel: f64) -> bool {
    (got.is_nan() && want.is_nan())
        || got == want
        || (got - want).abs() <= rel * want.abs().max(1e-3)
}

/// A deterministic random walk (xorshift, sum-of-uniforms noise) with a slow swing, so every
/// chunk has both gains and drawdowns.
fn synthetic_path(n: usize, seed: u64, vol: f64) -> Vec<f64> {
    let mut s = seed;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut v = Vec::with_capacity(n);
    let mut x = 1e6;
    for t in 0..n {
        v.push(x);
        let z: f64 = (0..4).map(|_| uniform()).sum::<f64>() - 2.0;
        let swing = 2e-5 * (t as f64 / 20_000.0).sin();
        x *= (vol * z + swing).exp();
    }
    v
}

#[test]
fn objectives_equal_literal_formulas_on_synthetic_paths() {
    // Lengths: under a day, ten days (no 30-day chunk), 40 days plus a partial day, 95 days
    // (three 30-day chunks) plus a partial week.
    let lengths = [1000, 10 * 1440, 40 * 1440 + 123, 95 * 1440 + 4000];
    let mut worst_rel = 0.0f64;
    for (i, &n) in lengths.iter().enumerate() {
        let v = synthetic_path(n, 7 + i as u64, 4e-4);
        let fees: Vec<f64> = (0..n).map(|t| 0.5 + (t % 7) as f64).collect();
        let ends = HodlEnds {
            hodl: v[n - 1] * 1.03,
            uniform_hodl: v[n - 1] * 0.98,
        };
        let path = Path::new(&v, ends).with_fee_revenue(&fees);
        for &name in OBJECTIVES {
            let got = objective(name, &path).unwrap();
            let want = literal::objective(name, &v, ends.hodl, ends.uniform_hodl, &fees);
            assert!(close(got, want, 1e-11), "n = {n}, {name}: {got} vs {want}");
            if got.is_finite() {
                worst_rel = worst_rel.max((got - want).abs() / want.abs().max(1e-3));
            }
        }
    }
    eprintln!("objectives vs literal formulas: worst relative difference {worst_rel:.1e}");
}

#[test]
fn chunked_objectives_are_nan_when_no_chunk_fits() {
    // Three weeks: no 30-day chunk; one day: no complete week.
    let v = synthetic_path(21 * 1440, 3, 4e-4);
    let ends = HodlEnds {
        hodl: 1e6,
        uniform_hodl: 1e6,
    };
    let path = Path::new(&v, ends);
    for name in ["ulcer", "sterling", "monthly_rovar", "monthly_rovar_trad"] {
        assert!(objective(name, &path).unwrap().is_nan(), "{name}");
    }
    let v = synthetic_path(1440, 3, 4e-4);
    let path = Path::new(&v, ends);
    for name in [
        "weekly_max_drawdown",
        "weekly_var_95%",
        "weekly_var_99%_trad",
        "weekly_raroc",
        "weekly_rovar",
        "daily_var_95%_trad", // one day: one chunk end, no return between chunk ends
        "daily_rovar_trad",
        "daily_sharpe", // a single daily sample
    ] {
        assert!(objective(name, &path).unwrap().is_nan(), "{name}");
    }
    assert!(objective("daily_var_95%", &path).unwrap().is_finite());
    assert!(objective("daily_raroc", &path).unwrap().is_finite());
}

#[test]
fn evaluation_metrics_equal_literal_formulas() {
    let n = 40 * 1440 + 77;
    let v = synthetic_path(n, 11, 3e-4);
    // Two assets whose implied weights wander: reserves from a value split that drifts.
    let prices: Vec<f64> = (0..n)
        .flat_map(|t| [30_000.0 * (1.0 + 0.1 * (t as f64 / 9000.0).sin()), 2000.0])
        .collect();
    let reserves: Vec<f64> = (0..n)
        .flat_map(|t| {
            let w = 0.5 + 0.3 * (t as f64 / 5000.0).cos();
            [
                v[t] * w / prices[2 * t],
                v[t] * (1.0 - w) / prices[2 * t + 1],
            ]
        })
        .collect();
    let ends = hodl_ends(&reserves[..2], &prices[..2], &prices[2 * n - 2..]);
    let weights = implied_weights(&reserves, &prices, 2);
    let fees = vec![2.5; n];
    let path = Path::new(&v, ends)
        .with_fee_revenue(&fees)
        .with_implied_weights(&weights, 2);
    let got = evaluation(&path);

    let mut want: Vec<(&str, f64)> = vec![];
    let d = literal::returns(&literal::daily(&v));
    let sd = literal::std(&d);
    want.push((
        "sharpe",
        if sd > 1e-12 {
            365f64.sqrt() * literal::mean(&d) / sd
        } else {
            0.0
        },
    ));
    let (h, u) = (ends.hodl, ends.uniform_hodl);
    for (name, objective) in [
        ("jax_sharpe", "sharpe"),
        ("daily_log_sharpe", "daily_log_sharpe"),
        ("return", "returns"),
        ("returns_over_hodl", "returns_over_hodl"),
        ("returns_over_uniform_hodl", "returns_over_uniform_hodl"),
        ("annualised_returns", "annualised_returns"),
        (
            "annualised_returns_over_hodl",
            "annualised_returns_over_hodl",
        ),
        (
            "annualised_returns_over_uniform_hodl",
            "annualised_returns_over_uniform_hodl",
        ),
        ("ulcer", "ulcer"),
        ("calmar", "calmar"),
        ("sterling", "sterling"),
    ] {
        want.push((name, literal::objective(objective, &v, h, u, &fees)));
    }
    want.push(("fee_revenue_over_value", 2.5 * n as f64 / v[0]));
    // Implied weights by hand: w_BTC = R·P / V.
    let w0: Vec<f64> = (0..n)
        .map(|t| {
            let a = reserves[2 * t] * prices[2 * t];
            a / (a + reserves[2 * t + 1] * prices[2 * t + 1])
        })
        .collect();
    let l1: Vec<f64> = (1..n).map(|t| 2.0 * (w0[t] - w0[t - 1]).abs()).collect();
    want.push(("turnover", literal::mean(&l1)));

    let names: Vec<&str> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(names[..12], *EVALUATION_METRICS);
    assert_eq!(names.len(), want.len());
    for ((name, g), (wname, w)) in got.iter().zip(&want) {
        assert_eq!(name, wname);
        assert!(close(*g, *w, 1e-11), "{name}: {g} vs {w}");
    }
    // The report's `sharpe` is the daily objective; its `jax_sharpe` the minute one.
    let daily = objective("daily_sharpe", &path).unwrap();
    assert!(close(got[0].1, daily, 1e-14));
    assert_eq!(got[1].1, objective("sharpe", &path).unwrap());

    // HODL ends by hand: hold the initial reserves, or split V_0 equally by value.
    let v0 = reserves[0] * prices[0] + reserves[1] * prices[1];
    let last = &prices[2 * n - 2..];
    assert!(close(
        ends.hodl,
        reserves[0] * last[0] + reserves[1] * last[1],
        1e-15
    ));
    let uniform = v0 / (2.0 * prices[0]) * last[0] + v0 / (2.0 * prices[1]) * last[1];
    assert!(close(ends.uniform_hodl, uniform, 1e-15));
    assert!(close(turnover(&weights, 2), literal::mean(&l1), 1e-13));
}

#[test]
fn turnover_penalty_subtracts_lambda_times_turnover() {
    let v = [100.0f64, 101.0, 99.0, 102.0];
    let w = [0.5f64, 0.5, 0.7, 0.3, 0.6, 0.4, 0.6, 0.4];
    let ends = HodlEnds {
        hodl: 100.0,
        uniform_hodl: 100.0,
    };
    let path = Path::new(&v, ends).with_implied_weights(&w, 2);
    // L1 changes 0.4, 0.2, 0 over three steps.
    let t = turnover(&w, 2);
    assert!((t - 0.2).abs() < 1e-15);
    let base = objective("returns", &path).unwrap();
    let penalised = metrics::apply_turnover_penalty(base, &path, 0.5).unwrap();
    assert!((penalised - (0.02 - 0.1)).abs() < 1e-15);
    let err = metrics::apply_turnover_penalty(base, &Path::new(&v, ends), 0.5).unwrap_err();
    assert!(err.to_string().contains("implied weights"), "{err}");
}

#[test]
fn unknown_objectives_are_errors_with_a_suggestion() {
    let err = Objective::parse("weekly_var_95").unwrap_err().to_string();
    assert!(err.contains("did you mean \"weekly_var_95%\"?"), "{err}");
    assert!(err.contains("known: daily_log_sharpe"), "{err}");
}

// ---- the reference cases -------------------------------------------------------------------

/// One reference case run by tfmm, with what the metrics need.
struct CaseRun {
    name: String,
    case: Value,
    values: Vec<f64>,
    ends: HodlEnds,
    /// First and last minutes' prices (pool order).
    first_prices: Vec<f64>,
    last_prices: Vec<f64>,
    /// `metrics` of the run's summary.json.
    summary_metrics: Value,
}

/// Every case, run once for all tests of this file (they run in parallel threads).
fn runs() -> &'static [CaseRun] {
    static RUNS: OnceLock<Vec<CaseRun>> = OnceLock::new();
    RUNS.get_or_init(|| {
        cases()
            .iter()
            .map(|dir| {
                let name = dir.file_name().unwrap().to_string_lossy().to_string();
                let case = case_json(dir);
                let mut exact = case.clone();
                // The reference's validity test for fee-path arbitrage (reserves.md §2.9):
                // fee-case numbers compare only under it.
                exact["run_fingerprint"]["arb_validity"] = json!("exact");
                let config = tfmm_run::config::parse(&exact).unwrap();
                let out = tfmm_run::run(&config, &reference_prices())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let n = config.n_assets();
                let rows = out.n_rows();
                let first_prices = out.prices[..n].to_vec();
                let last_prices = out.prices[(rows - 1) * n..].to_vec();
                let ends = hodl_ends(out.trajectory.reserves_at(0), &first_prices, &last_prices);
                let report = tfmm_run::Report::new(&out);
                let summary_metrics = tfmm_run::output::summary(&out, &report)["metrics"].clone();
                CaseRun {
                    summary_metrics,
                    name,
                    case,
                    values: out.trajectory.values,
                    ends,
                    first_prices,
                    last_prices,
                }
            })
            .collect()
    })
}

/// Cases whose values tfmm deliberately does not reproduce (docs/deviations.md).
fn deliberate_deviation(case: &Value) -> Option<&'static str> {
    let name = case["name"].as_str().unwrap();
    match base_rule(case).as_str() {
        "min_variance" => Some("look-ahead fixed (deviations §1)"),
        "gyroscope" if !is_zero_fee(case) => Some("reference bug B4 (deviations §16)"),
        "reclamm" if name.contains("outofrange") => {
            Some("reCLAMM out of range (deviations §8, §17)")
        }
        _ => None,
    }
}

/// The reference's metric keys follow the *objective* names (§4.1): its `sharpe` is the
/// minute Sharpe ratio (checked below against the daily one).
fn reported(run: &CaseRun) -> Vec<(String, f64)> {
    run.case["metrics"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN)))
        .collect()
}

/// Metrics of the form `V_a / V_b − 1` (returns, drawdowns, chunk-end VaR): a relative value
/// error `ε` moves them by `ε·(1 + x)` however close `x` is to zero (`returns_over_hodl` of
/// the HODL case is exactly 0), so they are compared as growth factors `1 + x`. The intraday
/// VaR is not among them: it averages minute returns, where the errors of adjacent values
/// cancel, so it is held to a plain relative tolerance.
const GROWTH: &[&str] = &[
    "returns",
    "returns_over_hodl",
    "returns_over_uniform_hodl",
    "greatest_draw_down",
    "weekly_max_drawdown",
    "daily_var_95%_trad",
];

/// Zero-fee paths agree with the reference to ~1e-12 per row (reference.rs).
const ZERO_FEE: f64 = 1e-9;
/// Fee paths: the reference decides trade / no trade by a coin toss and its values move by
/// ~5e-5 when merely recompiled (reserves.md §2.9); reference.rs asserts the final value
/// within 1e-3. Every metric below is a function of values, so this is its yardstick.
const FEE_VALUE: f64 = 1e-3;

/// How far `got` is from `want`, in units where the case's tolerance is 1.
///
/// Zero-fee cases: relative (growth factors for [`GROWTH`]) over 1e-9.
///
/// Fee cases: [`GROWTH`] metrics as growth factors over 1e-3. The others (Sharpe ratios,
/// annualised return, calmar, sterling, ulcer, intraday VaR) are ratios that can amplify a
/// value difference by about 1/|window return| or 1/(daily volatility), so 1e-3 relative is
/// out of reach when the values themselves agree to 1e-3; they get 1e-3 relative plus
/// `sensitivity`: how far the metric moves when tfmm's own path is tilted by a ramp reaching
/// ±2e-3 at its end (two values each within 1e-3).
fn scaled_difference(key: &str, got: f64, want: f64, zero_fee: bool, sensitivity: f64) -> f64 {
    if (got.is_nan() && want.is_nan()) || got == want {
        return 0.0;
    }
    let growth = GROWTH.contains(&key);
    let growth_diff = ((1.0 + got) / (1.0 + want) - 1.0).abs();
    let rel = ((got - want) / want).abs();
    match (zero_fee, growth) {
        (true, true) => growth_diff / ZERO_FEE,
        (true, false) => rel / ZERO_FEE,
        (false, true) => growth_diff / FEE_VALUE,
        (false, false) => (got - want).abs() / (FEE_VALUE * want.abs() + sensitivity),
    }
}

/// The largest change of metric `key` when the path is tilted by `V_t·(1 ± 2e-3·t/(T−1))`.
fn ramp_sensitivity(key: &str, values: &[f64], ends: HodlEnds) -> f64 {
    let base = objective(key, &Path::new(values, ends)).unwrap();
    let n = values.len();
    [1.0, -1.0]
        .iter()
        .map(|s| {
            let tilted: Vec<f64> = values
                .iter()
                .enumerate()
                .map(|(t, v)| v * (1.0 + s * 2.0 * FEE_VALUE * t as f64 / (n - 1) as f64))
                .collect();
            (objective(key, &Path::new(&tilted, ends)).unwrap() - base).abs()
        })
        .fold(0.0, f64::max)
}

struct Worst {
    key: String,
    rel: f64,
    rel_case: String,
    scaled: f64,
    scaled_case: String,
}

#[test]
fn reported_metrics_match_tfmm_runs() {
    let mut failures = vec![];
    // Per metric, separately for zero-fee and fee cases.
    let mut worst: [Vec<Worst>; 2] = [vec![], vec![]];
    let mut checked_cases = 0;
    for run in runs() {
        let path = Path::new(&run.values, run.ends);
        let zero_fee = is_zero_fee(&run.case);
        let skip = deliberate_deviation(&run.case);
        let mut line = vec![];
        for (key, want) in reported(run) {
            // What a user reads: summary.json, where a metric the window is too short for
            // is null.
            let got = run.summary_metrics[&key].as_f64().unwrap_or(f64::NAN);
            let direct = objective(&key, &path).unwrap();
            assert!(
                got.to_bits() == direct.to_bits() || (got.is_nan() && direct.is_nan()),
                "{}: summary {key} = {got}, the objective is {direct}",
                run.name
            );
            let sensitivity = if zero_fee {
                0.0
            } else {
                ramp_sensitivity(&key, &run.values, run.ends)
            };
            let scaled = scaled_difference(&key, got, want, zero_fee, sensitivity);
            let rel = if got == want {
                0.0
            } else {
                ((got - want) / want).abs()
            };
            line.push(format!("{key} {rel:.0e}"));
            if skip.is_some() {
                continue;
            }
            if !(scaled <= 1.0) {
                failures.push(format!(
                    "{}: {key} = {got} vs {want} (relative {rel:.1e}, {scaled:.2} of its tolerance)",
                    run.name
                ));
            }
            let table = &mut worst[usize::from(!zero_fee)];
            let entry = match table.iter().position(|w| w.key == key) {
                Some(i) => &mut table[i],
                None => {
                    table.push(Worst {
                        key: key.clone(),
                        rel: 0.0,
                        rel_case: String::new(),
                        scaled: 0.0,
                        scaled_case: String::new(),
                    });
                    table.last_mut().unwrap()
                }
            };
            if rel > entry.rel {
                (entry.rel, entry.rel_case) = (rel, run.name.clone());
            }
            if scaled > entry.scaled {
                (entry.scaled, entry.scaled_case) = (scaled, run.name.clone());
            }
        }
        let fee = if zero_fee { "zero fee" } else { "fee" };
        match skip {
            Some(why) => eprintln!(
                "{:55} SKIPPED, {why}; relative: {}",
                run.name,
                line.join("  ")
            ),
            None => {
                checked_cases += 1;
                eprintln!("{:55} {fee}; relative: {}", run.name, line.join("  "))
            }
        }
    }
    for (label, table) in ["zero-fee", "fee"].iter().zip(&worst) {
        eprintln!("worst per metric, {label} cases: relative difference; share of tolerance");
        for w in table {
            eprintln!(
                "  {:26} {:.1e} ({})  {:.3} ({})",
                w.key, w.rel, w.rel_case, w.scaled, w.scaled_case
            );
        }
    }
    assert_eq!(
        checked_cases, 36,
        "every case but the four deliberate deviations"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// quantammsim's `sharpe` key is the minute objective, not the daily report metric: tfmm's
/// minute Sharpe matches it and the daily arithmetic Sharpe does not.
#[test]
fn reported_sharpe_is_the_minute_objective() {
    for run in runs().iter().filter(|r| is_zero_fee(&r.case)) {
        if deliberate_deviation(&run.case).is_some() {
            continue;
        }
        let path = Path::new(&run.values, run.ends);
        let want = run.case["metrics"]["sharpe"].as_f64().unwrap();
        let minute = objective("sharpe", &path).unwrap();
        let daily = evaluation(&path)[0].1;
        assert!((minute / want - 1.0).abs() < 1e-9, "{}", run.name);
        assert!((daily / want - 1.0).abs() > 1e-3, "{}", run.name);
    }
}

/// From the reference's own golden rows: the metrics that need only the first and last
/// minutes (every case, deviations included, keeps both rows).
#[test]
fn golden_end_rows_give_the_reported_returns() {
    let mut worst_rel = 0.0f64;
    for run in runs() {
        let golden = Table::read(
            &testdata()
                .join("reference/cases")
                .join(&run.name)
                .join("golden.csv.gz"),
        );
        let (first, last) = (&golden.rows[0], golden.rows.last().unwrap());
        let n_rows = run.case["alignment"]["n_rows_full"].as_u64().unwrap() as usize;
        assert_eq!(first[golden.col("row")], 0.0);
        assert_eq!(last[golden.col("row")] as usize, n_rows - 1);
        let reserves: Vec<f64> = golden.cols("reserve_").iter().map(|&c| first[c]).collect();
        let ends = hodl_ends(&reserves, &run.first_prices, &run.last_prices);
        // A path with the golden end values; the minutes between do not enter these metrics.
        let mut values = vec![first[golden.col("value")]; n_rows];
        values[n_rows - 1] = last[golden.col("value")];
        let path = Path::new(&values, ends);
        for key in [
            "returns",
            "returns_over_hodl",
            "returns_over_uniform_hodl",
            "annualised_returns",
        ] {
            let want = run.case["metrics"][key].as_f64().unwrap();
            let got = objective(key, &path).unwrap();
            // Ratios minus one: compared as growth factors, since some are near zero.
            let rel = ((1.0 + got) / (1.0 + want) - 1.0).abs();
            worst_rel = worst_rel.max(rel);
            assert!(rel < 1e-13, "{}: {key} {got} vs {want}", run.name);
        }
    }
    eprintln!("golden end rows: worst difference {worst_rel:.1e}");
}
