//! What a run means: the HODL and uniform-HODL benchmarks, every objective and report metric
//! (tfmm-core's `metrics`), and the terminal summary table. Shared by `summary.json`, the
//! plots and the CLI.

use tfmm_core::metrics::{self, HodlEnds, OBJECTIVES, Objective, Path};

use crate::run::RunOutput;

#[derive(Clone, Debug)]
pub struct Report {
    /// Value each minute of the initial reserves held: `R_0 · P_t`.
    pub hodl: Vec<f64>,
    /// Value each minute of the initial value split equally across the tokens at the first
    /// prices and held: `Σ_i V_0 / (n P_0,i) · P_t,i`.
    pub uniform_hodl: Vec<f64>,
    /// Every training objective (quantammsim's `return_val` names); NaN where the window is
    /// too short (a weekly metric on a three-day run).
    pub objectives: Vec<(&'static str, f64)>,
    /// The report metrics of a back-test (quantammsim's evaluation names), then
    /// `fee_revenue_over_value` and `turnover`.
    pub evaluation: Vec<(&'static str, f64)>,
}

impl Report {
    pub fn new(out: &RunOutput) -> Report {
        let n = out.config.n_assets();
        let traj = &out.trajectory;
        let r0 = traj.reserves_at(0);
        let p0 = &out.prices[..n];
        let v0: f64 = dot(r0, p0);
        let uniform: Vec<f64> = p0.iter().map(|p| v0 / (n as f64 * p)).collect();
        let rows = out.prices.chunks_exact(n);
        let hodl: Vec<f64> = rows.clone().map(|p| dot(r0, p)).collect();
        let uniform_hodl: Vec<f64> = rows.map(|p| dot(&uniform, p)).collect();

        let ends = HodlEnds {
            hodl: hodl[hodl.len() - 1],
            uniform_hodl: uniform_hodl[uniform_hodl.len() - 1],
        };
        let implied = metrics::implied_weights(&traj.reserves, &out.prices, n);
        let path = Path::new(&traj.values, ends)
            .with_fee_revenue(&traj.lp_fees)
            .with_implied_weights(&implied, n);
        let objectives = OBJECTIVES
            .iter()
            .map(|&name| {
                let objective = Objective::parse(name).expect("OBJECTIVES are objective names");
                (name, objective.evaluate(&path))
            })
            .collect();
        Report {
            hodl,
            uniform_hodl,
            objectives,
            evaluation: metrics::evaluation(&path),
        }
    }

    pub fn objective(&self, name: &str) -> Option<f64> {
        lookup(&self.objectives, name)
    }

    pub fn metric(&self, name: &str) -> Option<f64> {
        lookup(&self.evaluation, name)
    }

    /// The summary a user reads first, as aligned text lines.
    pub fn table(&self, out: &RunOutput) -> String {
        let first = out.trajectory.values[0];
        let last = out.final_value();
        let hodl = self.hodl[self.hodl.len() - 1];
        let uniform = self.uniform_hodl[self.uniform_hodl.len() - 1];
        let days = out.n_rows() as f64 / metrics::MINUTES_PER_DAY as f64;
        let fees = |v: &[f64]| v.iter().sum::<f64>();
        let mut rows: Vec<(String, String)> = vec![
            (
                "pool".into(),
                format!("{} over {}", out.config.rule, out.config.tokens.join("/")),
            ),
            (
                "window".into(),
                format!(
                    "{} .. {} ({days:.1} days, {} minutes)",
                    tfmm_data::format_utc(out.unix_ms(0)),
                    tfmm_data::format_utc(out.unix_ms(out.n_rows() - 1)),
                    out.n_rows()
                ),
            ),
            ("initial value".into(), money(first)),
            (
                // With `lvr__` / `rvr__` the simulated path is the benchmark's.
                match out.config.baseline() {
                    Some(b) => format!("{} benchmark final value", b.name()),
                    None => "final value".into(),
                },
                format!("{} ({})", money(last), percent(last / first - 1.0)),
            ),
            (
                "HODL".into(),
                format!("{} ({})", money(hodl), percent(hodl / first - 1.0)),
            ),
            (
                "uniform HODL".into(),
                format!("{} ({})", money(uniform), percent(uniform / first - 1.0)),
            ),
            ("return over HODL".into(), percent(last / hodl - 1.0)),
            (
                "return over uniform HODL".into(),
                percent(last / uniform - 1.0),
            ),
        ];
        let metric = |name: &str| self.metric(name).unwrap_or(f64::NAN);
        rows.push((
            "annualised return".into(),
            percent(metric("annualised_returns")),
        ));
        rows.push((
            "Sharpe (daily, annualised)".into(),
            format!("{:.3}", metric("sharpe")),
        ));
        let drawdown = max_drawdown(&out.trajectory.values);
        rows.push(("max drawdown".into(), percent(-drawdown)));
        rows.push(("calmar".into(), format!("{:.3}", metric("calmar"))));
        // A benchmark earns no fees: report the pool's.
        let earner = out.pool.as_ref().unwrap_or(&out.trajectory);
        rows.push((
            "fee revenue (LP / protocol)".into(),
            format!(
                "{} / {}",
                money(fees(&earner.lp_fees)),
                money(fees(&earner.protocol_fees))
            ),
        ));
        rows.push((
            "turnover (per minute)".into(),
            format!("{:.3e}", metric("turnover")),
        ));
        if let (Some(b), Some(pool)) = (out.config.baseline(), out.pool_values()) {
            let end = pool[pool.len() - 1];
            rows.push((
                "pool final value".into(),
                format!("{} ({})", money(end), percent(end / first - 1.0)),
            ));
            rows.push((
                format!("{} benchmark gap", b.name()),
                money(last - pool[pool.len() - 1]),
            ));
        }
        if out.trades_applied + out.trades_outside > 0 {
            rows.push((
                "user trades".into(),
                format!(
                    "{} applied, {} outside the window (not applied)",
                    out.trades_applied, out.trades_outside
                ),
            ));
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("  {k:<width$}  {v}\n"))
            .collect()
    }
}

fn lookup(table: &[(&'static str, f64)], name: &str) -> Option<f64> {
    table.iter().find(|(k, _)| *k == name).map(|&(_, v)| v)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The largest fall from a running peak, as a fraction of the peak.
pub fn max_drawdown(values: &[f64]) -> f64 {
    drawdown(values).into_iter().fold(0.0, f64::max)
}

/// Fall below the running peak each minute, as a fraction of the peak (0 at a new high).
pub fn drawdown(values: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    values
        .iter()
        .map(|&v| {
            peak = peak.max(v);
            1.0 - v / peak
        })
        .collect()
}

fn money(x: f64) -> String {
    // Thousands separated, cents kept: pool values are read as money.
    let cents = (x.abs() * 100.0).round();
    if !cents.is_finite() || cents > 1e17 {
        return format!("{x:.2}");
    }
    let cents = cents as u64;
    let digits = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}{grouped}.{:02}", cents % 100)
}

fn percent(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.2}%", 100.0 * x)
    } else {
        "n/a".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(1_234_567.891), "1,234,567.89");
        assert_eq!(money(-999.999), "-1,000.00");
        assert_eq!(money(0.004), "0.00");
        assert_eq!(money(12.5), "12.50");
    }

    #[test]
    fn drawdown_is_from_the_running_peak() {
        let d = drawdown(&[100.0, 120.0, 90.0, 130.0, 117.0]);
        let want = [0.0, 0.0, 0.25, 0.0, 0.1];
        for (g, w) in d.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{d:?}");
        }
        assert!((max_drawdown(&[100.0, 120.0, 90.0, 130.0, 117.0]) - 0.25).abs() < 1e-15);
    }
}
