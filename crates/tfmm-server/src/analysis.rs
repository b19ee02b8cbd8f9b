//! quantammsim's financial analysis of daily returns (spec §4.7): the scalar metrics of a
//! portfolio, its comparison with a benchmark, and weekly / monthly drawdown series. Periods
//! are real calendar weeks (ending Sunday) and months of the series' own dates.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use tfmm_core::metrics::DAYS_PER_YEAR;

/// Daily risk-free returns and how they are labelled in the output.
pub struct RiskFree {
    pub label: String,
    /// (day number since 1970-01-01, annual rate in percent), ascending.
    points: Arc<[(i64, f64)]>,
}

impl RiskFree {
    /// The rates of `DTB3.csv` (FRED: a date column, then the 3-month T-bill rate in
    /// percent, `.` for holidays) in `dir`, if there is one: read once per server.
    pub fn read_rates(dir: Option<&Path>) -> Arc<[(i64, f64)]> {
        dir.map(|d| d.join("DTB3.csv"))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|text| parse_dtb3(&text))
            .unwrap_or_default()
            .into()
    }

    /// Those rates under `label`; a zero rate, labelled as such, without any.
    pub fn new(rates: &Arc<[(i64, f64)]>, label: &str) -> RiskFree {
        let label = if rates.is_empty() {
            "zero (no DTB3.csv in the data folder)"
        } else {
            label
        };
        RiskFree {
            label: label.to_string(),
            points: rates.clone(),
        }
    }

    /// The daily rate of each day: the latest observation at or before it, else the first.
    pub fn daily(&self, days: &[i64]) -> Vec<f64> {
        days.iter()
            .map(|&d| {
                let i = self.points.partition_point(|&(pd, _)| pd <= d);
                let annual = match (i, self.points.first()) {
                    (_, None) => 0.0,
                    (0, Some(first)) => first.1,
                    _ => self.points[i - 1].1,
                };
                (1.0 + annual / 100.0).powf(1.0 / DAYS_PER_YEAR) - 1.0
            })
            .collect()
    }
}

fn parse_dtb3(text: &str) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split(',');
            let day = parse_day(cols.next()?.trim())?;
            let rate: f64 = cols.next()?.trim().parse().ok()?;
            rate.is_finite().then_some((day, rate))
        })
        .collect();
    out.sort_by_key(|p| p.0);
    out
}

/// `YYYY-MM-DD` (anything after the date ignored) to a day number; `None` if it is not a
/// calendar date.
pub fn parse_day(s: &str) -> Option<i64> {
    let ms = tfmm_data::parse_utc(s.get(..10)?).ok()?;
    Some(ms.div_euclid(tfmm_data::MS_PER_DAY))
}

pub use tfmm_data::{civil_from_days, days_from_civil};

pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.iter().sum::<f64>() / x.len() as f64
}

fn std(x: &[f64], ddof: usize) -> f64 {
    if x.len() <= ddof {
        return f64::NAN;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - ddof) as f64).sqrt()
}

/// numpy's default (linear) percentile, `q` in 0..=100.
fn percentile(x: &[f64], q: f64) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

fn diff(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// OLS slope of `y` on `x` over the pairs where both are finite.
fn slope(x: &[f64], y: &[f64]) -> f64 {
    let (xs, ys): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    let (mx, my) = (mean(&xs), mean(&ys));
    let sxy: f64 = xs.iter().zip(&ys).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = xs.iter().map(|a| (a - mx).powi(2)).sum();
    sxy / sxx
}

/// Drawdown of each day from the running peak of the compounded returns.
fn drawdowns(r: &[f64]) -> Vec<f64> {
    let mut cum = 1.0;
    let mut peak = f64::NEG_INFINITY;
    r.iter()
        .map(|x| {
            cum *= 1.0 + x;
            peak = peak.max(cum);
            (cum - peak) / peak
        })
        .collect()
}

fn max_drawdown(r: &[f64]) -> f64 {
    drawdowns(r).into_iter().fold(0.0, f64::min).abs()
}

fn ulcer(r: &[f64]) -> f64 {
    let dd = drawdowns(r);
    mean(&dd.iter().map(|d| (100.0 * d).powi(2)).collect::<Vec<_>>()).sqrt()
}

fn sterling(r: &[f64], rf: &[f64]) -> f64 {
    let negative: Vec<f64> = drawdowns(r).into_iter().filter(|d| *d < 0.0).collect();
    mean(&diff(r, rf)) / mean(&negative).abs()
}

fn cdar(r: &[f64]) -> f64 {
    let negative: Vec<f64> = drawdowns(r).into_iter().filter(|d| *d < 0.0).collect();
    if negative.is_empty() {
        return 0.0;
    }
    let threshold = percentile(&negative, 5.0);
    let tail: Vec<f64> = negative.into_iter().filter(|d| *d <= threshold).collect();
    mean(&tail).abs()
}

/// Compounded return of each calendar period, in order.
fn period_returns(days: &[i64], r: &[f64], period: Period) -> Vec<f64> {
    groups(days, period)
        .into_iter()
        .map(|g| r[g].iter().map(|x| 1.0 + x).product::<f64>() - 1.0)
        .collect()
}

#[derive(Clone, Copy)]
enum Period {
    Week,
    Month,
}

/// Index ranges of consecutive days in the same week (Monday to Sunday) or month.
fn groups(days: &[i64], period: Period) -> Vec<std::ops::Range<usize>> {
    let key = |d: i64| match period {
        // 1970-01-01 was a Thursday: (d + 3) mod 7 is 0 on Mondays.
        Period::Week => d - (d + 3).rem_euclid(7),
        Period::Month => {
            let (y, m, _) = civil_from_days(d);
            y * 12 + m as i64
        }
    };
    let mut out = vec![];
    let mut start = 0;
    for i in 1..=days.len() {
        if i == days.len() || key(days[i]) != key(days[start]) {
            out.push(start..i);
            start = i;
        }
    }
    out
}

/// A metric per period with at least two days (shorter ones are skipped), stamped with the
/// period's first day (unix seconds).
fn per_period(
    days: &[i64],
    period: Period,
    f: impl Fn(std::ops::Range<usize>) -> f64,
) -> Vec<(i64, f64)> {
    groups(days, period)
        .into_iter()
        .filter(|g| g.len() >= 2)
        .map(|g| (days[g.start] * 86_400, f(g)))
        .collect()
}

/// The analysis of one return series.
pub struct ReturnAnalysis {
    pub scalars: Vec<(&'static str, f64)>,
    pub series: Vec<(&'static str, Vec<(i64, f64)>)>,
}

/// quantammsim's return analysis of daily returns `p` (first entry 0 when built from values)
/// on days `days`, with daily risk-free returns `rf`.
pub fn return_analysis(days: &[i64], p: &[f64], rf: &[f64]) -> ReturnAnalysis {
    let excess = diff(p, rf);
    let sharpe = mean(&excess) / std(&excess, 1);
    let negative: Vec<f64> = excess.iter().copied().filter(|x| *x < 0.0).collect();
    let sortino = mean(&excess) / std(&negative, 1) * DAYS_PER_YEAR.sqrt();
    let gains: f64 = excess.iter().filter(|x| **x > 0.0).sum();
    let losses: f64 = excess.iter().filter(|x| **x <= 0.0).map(|x| x.abs()).sum();
    let var = -percentile(&excess, 5.0);
    let return_on_var = mean(&excess) / var.abs();
    let tracking = std(&excess, 1);
    let absolute = (p.iter().map(|x| 1.0 + x).product::<f64>() - 1.0) * 100.0;
    let weekly = period_returns(days, p, Period::Week);
    let monthly = period_returns(days, p, Period::Month);
    let dd_of = |g: std::ops::Range<usize>| drawdowns(&p[g]);
    let m4 = {
        let m = mean(p);
        let m2 = mean(&p.iter().map(|x| (x - m).powi(2)).collect::<Vec<_>>());
        let m3 = mean(&p.iter().map(|x| (x - m).powi(3)).collect::<Vec<_>>());
        let m4 = mean(&p.iter().map(|x| (x - m).powi(4)).collect::<Vec<_>>());
        (m, m2, m3, m4)
    };
    let (m, m2, m3, m4) = m4;
    let scalars = vec![
        ("Absolute Return (%)", absolute),
        ("Sharpe Ratio", sharpe),
        ("Annualized Sharpe Ratio", sharpe * DAYS_PER_YEAR.sqrt()),
        ("Annualized Sortino Ratio", sortino),
        ("Annualized Omega Ratio", gains / losses),
        ("Return on VaR", return_on_var),
        (
            "Annualized Return on VaR",
            return_on_var * DAYS_PER_YEAR.sqrt(),
        ),
        (
            "Annualized Information Ratio",
            mean(&excess) / tracking * DAYS_PER_YEAR.sqrt(),
        ),
        ("Tracking Error", tracking),
        ("Daily Returns Maximum Drawdown", max_drawdown(p)),
        ("Weekly Returns Maximum Drawdown", max_drawdown(&weekly)),
        ("Monthly Returns Maximum Drawdown", max_drawdown(&monthly)),
        (
            "Conditional Drawdown at Risk",
            cdar(p) * DAYS_PER_YEAR.sqrt(),
        ),
        ("Ulcer Index", ulcer(p)),
        ("Sterling Ratio", sterling(p, rf)),
        ("mean", m),
        ("std", m2.sqrt()),
        ("kurtosis", m4 / (m2 * m2) - 3.0),
        ("skewness", m3 / m2.powf(1.5)),
    ];
    let mut series = vec![];
    for (period, name_avg, name_max, name_cdar, name_ulcer, name_sterling) in [
        (
            Period::Week,
            "Avg Daily Drawdown per week",
            "Daily Maximum Drawdown per week",
            "Weekly CDaR",
            "Weekly Ulcer Index",
            "Weekly Sterling Ratio",
        ),
        (
            Period::Month,
            "Avg Daily Drawdown per month",
            "Daily Maximum Drawdown per month",
            "Monthly CDaR",
            "Monthly Ulcer Index",
            "Monthly Sterling Ratio",
        ),
    ] {
        series.push((name_avg, per_period(days, period, |g| mean(&dd_of(g)))));
        series.push((name_max, per_period(days, period, |g| max_drawdown(&p[g]))));
        series.push((name_cdar, per_period(days, period, |g| cdar(&p[g]))));
        series.push((name_ulcer, per_period(days, period, |g| ulcer(&p[g]))));
        series.push((
            name_sterling,
            per_period(days, period, |g| sterling(&p[g.clone()], &rf[g])),
        ));
    }
    ReturnAnalysis { scalars, series }
}

/// Portfolio `p` against benchmark `b`: capture ratios, Jensen's alpha, information ratio,
/// tracking error, VaR, volatility and beta.
pub fn benchmark_comparison(p: &[f64], b: &[f64], rf: &[f64]) -> Vec<(&'static str, f64)> {
    let pick = |up: bool| -> (Vec<f64>, Vec<f64>) {
        p.iter()
            .zip(b)
            .filter(|(_, bb)| (**bb > 0.0) == up)
            .map(|(pp, bb)| (*pp, *bb))
            .unzip()
    };
    let (p_up, b_up) = pick(true);
    let (p_down, b_down) = pick(false);
    let upside = match mean(&b_up) {
        m if m != 0.0 && !b_up.is_empty() => mean(&p_up) / m * 100.0,
        _ => f64::NAN,
    };
    let downside = match mean(&b_down) {
        m if m != 0.0 && !b_down.is_empty() => mean(&p_down) / m.abs() * 100.0,
        _ => f64::NAN,
    };
    let total = if downside.is_finite() && downside.abs() > 0.0 {
        upside.abs() / downside.abs()
    } else {
        f64::NAN
    };
    let beta_excess = slope(&diff(b, rf), &diff(p, rf));
    let alpha = mean(p) - (mean(rf) + beta_excess * (mean(b) - mean(rf)));
    let active = diff(p, b);
    let tracking = std(&active, 1);
    vec![
        ("Upside Capture Ratio", upside),
        ("Downside Capture Ratio", downside),
        ("Total Capture Ratio", total),
        (
            "Annualized Jensen's Alpha",
            (1.0 + alpha).powf(DAYS_PER_YEAR) - 1.0,
        ),
        (
            "Annualized Information Ratio",
            mean(&active) / tracking * DAYS_PER_YEAR.sqrt(),
        ),
        ("Tracking Error", tracking),
        ("Daily VaR (95)", -percentile(p, 5.0)),
        ("Volatility", std(p, 1)),
        ("Beta", slope(b, p)),
    ]
}

fn number(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

fn metric(rf: &str, name: &str, value: f64, benchmark: &str) -> Value {
    json!({
        "Rf": rf,
        "metricName": name,
        "metricValue": number(value),
        "benchmarkName": benchmark,
        "metricTimePeriod": "Daily",
    })
}

/// The `analysis` object of runSimulation / runFinancialAnalysis: the portfolio's metrics,
/// each benchmark's own metrics then the portfolio against it, and the period series.
pub fn analysis_json(
    days: &[i64],
    portfolio: &[f64],
    benchmarks: &[(String, Vec<f64>)],
    rf: &[f64],
    rf_label: &str,
) -> serde_json::Map<String, Value> {
    let own = return_analysis(days, portfolio, rf);
    let return_analysis: Vec<Value> = own
        .scalars
        .iter()
        .map(|(n, v)| metric(rf_label, n, *v, ""))
        .collect();
    let mut benchmark_analysis = vec![];
    for (name, b) in benchmarks {
        let theirs = self::return_analysis(days, b, rf);
        benchmark_analysis.extend(
            theirs
                .scalars
                .iter()
                .map(|(n, v)| metric(rf_label, n, *v, "benchmark_return_analysis")),
        );
        benchmark_analysis.extend(
            benchmark_comparison(portfolio, b, rf)
                .iter()
                .map(|(n, v)| metric(rf_label, n, *v, name)),
        );
    }
    let series: Vec<Value> = own
        .series
        .iter()
        .map(|(name, points)| {
            json!({
                "timeSteps": points
                    .iter()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(t, v)| json!({"unix": t, "coinsHeld": null, "timeStepTotal": v}))
                    .collect::<Vec<_>>(),
                "Rf": rf_label,
                "metricName": name,
                "benchmarkName": "",
            })
        })
        .collect();
    let mut out = serde_json::Map::new();
    out.insert("return_analysis".into(), Value::Array(return_analysis));
    out.insert(
        "benchmark_analysis".into(),
        Value::Array(benchmark_analysis),
    );
    out.insert("return_timeseries_analysis".into(), Value::Array(series));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for d in [-1000, 0, 19_358, 20_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(parse_day("2023-01-01"), Some(19_358));
        assert_eq!(format_day(19_358), "2023-01-01");
        assert_eq!(parse_day("2023-02-31"), None);
    }

    #[test]
    fn risk_free_rates_come_from_dtb3() {
        let dir = tempfile::tempdir().unwrap();
        let rates = RiskFree::read_rates(Some(dir.path()));
        let zero = RiskFree::new(&rates, "3M");
        assert!(zero.label.starts_with("zero"), "{}", zero.label);
        assert_eq!(zero.daily(&[19_358]), vec![0.0]);
        std::fs::write(
            dir.path().join("DTB3.csv"),
            "DATE,DTB3\n2023-01-03,4.0\n2023-01-04,.\n2023-02-31,9.0\n2023-01-05,5.0\n",
        )
        .unwrap();
        let rf = RiskFree::new(&RiskFree::read_rates(Some(dir.path())), "3M");
        assert_eq!(rf.label, "3M");
        // Before the first point its rate; a holiday keeps the last; Feb 31 is skipped.
        let daily = rf.daily(&[19_358, 19_360, 19_361, 19_362]);
        let at = |annual: f64| (1.0 + annual / 100.0f64).powf(1.0 / 365.0) - 1.0;
        assert_eq!(daily, vec![at(4.0), at(4.0), at(4.0), at(5.0)]);
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        // Three days: 0, +10 %, -10 %.
        let p = [0.0, 0.1, -0.1];
        let rf = [0.0; 3];
        let a = return_analysis(&[19_358, 19_359, 19_360], &p, &rf);
        let get = |n: &str| a.scalars.iter().find(|(k, _)| *k == n).unwrap().1;
        assert!((get("Absolute Return (%)") - (-1.0)).abs() < 1e-12);
        assert!((get("Daily Returns Maximum Drawdown") - 0.1).abs() < 1e-12);
        assert!((get("Annualized Omega Ratio") - 1.0).abs() < 1e-12);
        assert_eq!(get("mean"), 0.0);
        assert!((percentile(&[1.0, 2.0, 3.0, 4.0], 5.0) - 1.15).abs() < 1e-12);
        // Beta of a series on itself is 1; no difference, no tracking error.
        let c = benchmark_comparison(&p, &p, &rf);
        let get = |n: &str| c.iter().find(|(k, _)| *k == n).unwrap().1;
        assert!((get("Beta") - 1.0).abs() < 1e-12);
        assert_eq!(get("Tracking Error"), 0.0);
    }
}
