//! Walk-forward evaluation (spec runners §5.12, §4.5): cut the span from the window start to
//! the test end into `n_cycles + 1` day-aligned segments; cycle `i` trains on segment `i` (or
//! on segments `0..=i` with an expanding window) and tests on segment `i + 1`, starting from
//! the previous cycle's parameters. Out-of-sample metrics come from the pool carried on from
//! training (as the reference) and, next to them, from a fresh deposit at the test start.

use serde_json::{Value, json};
use tfmm_data::{MS_PER_DAY, PriceTable, format_utc, parse_utc};
use tfmm_run::{Result, RunConfig, RunError};

use crate::problem::Problem;
use crate::settings::TrainSettings;
use crate::train::{Observer, SliceMetrics, evaluate, train};

#[derive(Clone, Debug, PartialEq)]
pub struct WalkSettings {
    pub n_cycles: usize,
    /// Train every cycle from the first segment's start (an expanding window).
    pub keep_fixed_start: bool,
    /// The metric of walk-forward efficiency and the IS-OOS gap.
    pub wfe_metric: String,
}

impl Default for WalkSettings {
    fn default() -> Self {
        WalkSettings {
            n_cycles: 5,
            keep_fixed_start: false,
            wfe_metric: "sharpe".into(),
        }
    }
}

/// One cycle's result.
#[derive(Clone, Debug)]
pub struct Cycle {
    pub number: usize,
    pub train_start: String,
    pub train_end: String,
    pub test_end: String,
    /// In-sample: the selected set on its training slice.
    pub in_sample: Vec<(&'static str, f64)>,
    /// Out of sample, the pool carried on from training.
    pub out_of_sample: Vec<(&'static str, f64)>,
    /// Out of sample, a fresh deposit at the test start with the trained parameters.
    pub fresh_out_of_sample: Vec<(&'static str, f64)>,
    /// `OOS_m / IS_m`, NaN when `IS_m <= 0`.
    pub walk_forward_efficiency: f64,
    /// `IS_m - OOS_m`.
    pub is_oos_gap: f64,
    pub steps_taken: usize,
    pub theta: Vec<f64>,
}

fn get(table: &[(&'static str, f64)], name: &str) -> f64 {
    table
        .iter()
        .find(|(k, _)| *k == name)
        .map_or(f64::NAN, |&(_, v)| v)
}

impl Cycle {
    pub fn is(&self, name: &str) -> f64 {
        get(&self.in_sample, name)
    }

    pub fn oos(&self, name: &str) -> f64 {
        get(&self.out_of_sample, name)
    }

    pub fn fresh_oos(&self, name: &str) -> f64 {
        get(&self.fresh_out_of_sample, name)
    }
}

/// The cycles and their aggregate.
#[derive(Clone, Debug)]
pub struct WalkResult {
    pub cycles: Vec<Cycle>,
    pub mean_wfe: f64,
    pub mean_oos_sharpe: f64,
    pub std_oos_sharpe: f64,
    pub worst_oos_sharpe: f64,
    pub mean_fresh_oos_sharpe: f64,
    pub mean_is_oos_gap: f64,
    /// Mean WFE at least 0.5 and every cycle's OOS Sharpe positive.
    pub is_effective: bool,
    pub reasons: Vec<String>,
}

/// Segment boundaries (unix ms) of `[start, end]` in `parts` equal pieces floored to midnight.
pub fn boundaries(start_ms: i64, end_ms: i64, parts: usize) -> Vec<i64> {
    let step = (end_ms - start_ms) as f64 / parts as f64;
    (0..=parts)
        .map(|i| {
            let t = start_ms + (step * i as f64) as i64;
            if i == 0 || i == parts {
                t
            } else {
                t.div_euclid(MS_PER_DAY) * MS_PER_DAY
            }
        })
        .collect()
}

/// Told when a cycle starts and ends.
pub trait WalkObserver: Observer {
    fn cycle(&mut self, _number: usize, _of: usize) {}
}

impl WalkObserver for () {}

/// Walks `config` forward over `[window.start, settings.test_end]` on `table`.
pub fn walk(
    config: &RunConfig,
    table: &PriceTable,
    settings: &TrainSettings,
    walk: &WalkSettings,
    observer: &mut dyn WalkObserver,
) -> Result<WalkResult> {
    let Some(test_end) = &settings.test_end else {
        return Err(RunError::config(
            "train.test_end",
            "none",
            "walk-forward divides window.start .. train.test_end into cycles: give test_end",
        ));
    };
    if walk.n_cycles == 0 {
        return Err(RunError::config("train.n_cycles", 0, "must be at least 1"));
    }
    let start = parse_utc(&config.start)?;
    let end = parse_utc(test_end)?;
    let b = boundaries(start, end, walk.n_cycles + 1);
    if b.windows(2).any(|w| w[1] - w[0] < MS_PER_DAY) {
        return Err(RunError::config(
            "train.n_cycles",
            walk.n_cycles,
            format!(
                "cuts {} .. {} into segments shorter than a day",
                format_utc(start),
                format_utc(end)
            ),
        ));
    }
    let mut cycles = Vec::with_capacity(walk.n_cycles);
    let mut previous: Option<Vec<f64>> = None;
    for i in 0..walk.n_cycles {
        observer.cycle(i + 1, walk.n_cycles);
        let mut cfg = config.clone();
        cfg.start = format_utc(if walk.keep_fixed_start { b[0] } else { b[i] });
        cfg.end = format_utc(b[i + 1]);
        let mut s = settings.clone();
        s.test_end = Some(format_utc(b[i + 2]));
        let problem = Problem::new(&cfg, table, &s.objective)?;
        let layout = problem.layout(&cfg.params, s.learn_initial_weights);
        // Warm start: the previous cycle's parameters, spread by noise_scale.
        let start_sets = previous.as_ref().map(|theta| {
            crate::train::spread(theta, s.n_parameter_sets, s.noise_scale, s.seed + i as u64)
        });
        let outcome = train(&problem, &s, start_sets, observer)?;
        let params = outcome.best_params(&problem);
        // A fresh deposit at the test start, the rule warmed on the history before it.
        let mut fresh_cfg = cfg.clone();
        fresh_cfg.start = format_utc(b[i + 1]);
        fresh_cfg.end = format_utc(b[i + 2]);
        fresh_cfg.params = params.clone();
        let fresh_problem = Problem::new(&fresh_cfg, table, &s.objective)?;
        let whole = fresh_problem.window;
        let fresh_geometry = crate::train::Geometry {
            window: whole,
            train_rows: whole.n_rows,
            test_rows: 0,
            sample_rows: whole.n_rows,
            bout_offset: 0,
        };
        let fresh: SliceMetrics = evaluate(&fresh_problem, &fresh_geometry, &params)?;
        let m = &walk.wfe_metric;
        let is = outcome.best.metrics.train.clone();
        let oos = outcome.best.metrics.test.clone();
        let (is_m, oos_m) = (get(&is, m), get(&oos, m));
        cycles.push(Cycle {
            number: i + 1,
            train_start: cfg.start.clone(),
            train_end: cfg.end.clone(),
            test_end: format_utc(b[i + 2]),
            in_sample: is,
            out_of_sample: oos,
            fresh_out_of_sample: fresh.train,
            walk_forward_efficiency: if is_m > 0.0 { oos_m / is_m } else { f64::NAN },
            is_oos_gap: is_m - oos_m,
            steps_taken: outcome.steps_taken,
            theta: outcome.best.theta.clone(),
        });
        debug_assert_eq!(layout.len(), outcome.best.theta.len());
        previous = Some(outcome.best.theta);
    }
    Ok(aggregate(cycles))
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn aggregate(cycles: Vec<Cycle>) -> WalkResult {
    let oos: Vec<f64> = cycles.iter().map(|c| c.oos("sharpe")).collect();
    let fresh: Vec<f64> = cycles.iter().map(|c| c.fresh_oos("sharpe")).collect();
    let wfe: Vec<f64> = cycles.iter().map(|c| c.walk_forward_efficiency).collect();
    let gap: Vec<f64> = cycles.iter().map(|c| c.is_oos_gap).collect();
    let mean_oos = mean(&oos);
    let std_oos =
        (oos.iter().map(|x| (x - mean_oos).powi(2)).sum::<f64>() / oos.len() as f64).sqrt();
    let worst = oos.iter().copied().fold(f64::INFINITY, f64::min);
    let mean_wfe = mean(&wfe);
    let mut reasons = vec![];
    let wfe_ok = mean_wfe >= 0.5;
    reasons.push(if wfe_ok {
        format!("mean walk-forward efficiency {mean_wfe:.3} >= 0.5")
    } else {
        format!("mean walk-forward efficiency {mean_wfe:.3} < 0.5 (or undefined)")
    });
    let worst_ok = worst > 0.0;
    reasons.push(if worst_ok {
        format!("every cycle's out-of-sample Sharpe is positive (worst {worst:.3})")
    } else {
        format!("a cycle's out-of-sample Sharpe is {worst:.3} <= 0")
    });
    let mean_gap = mean(&gap);
    if mean_gap >= 0.5 {
        reasons.push(format!(
            "mean IS-OOS gap {mean_gap:.3} >= 0.5: significant overfitting"
        ));
    }
    WalkResult {
        mean_wfe,
        mean_oos_sharpe: mean_oos,
        std_oos_sharpe: std_oos,
        worst_oos_sharpe: worst,
        mean_fresh_oos_sharpe: mean(&fresh),
        mean_is_oos_gap: mean_gap,
        is_effective: wfe_ok && worst_ok,
        reasons,
        cycles,
    }
}

impl WalkResult {
    pub fn to_json(&self) -> Value {
        let table = |t: &[(&'static str, f64)]| -> serde_json::Map<String, Value> {
            t.iter().map(|&(k, v)| (k.to_string(), json!(v))).collect()
        };
        json!({
            "mean_wfe": self.mean_wfe,
            "mean_oos_sharpe": self.mean_oos_sharpe,
            "std_oos_sharpe": self.std_oos_sharpe,
            "worst_oos_sharpe": self.worst_oos_sharpe,
            "mean_fresh_oos_sharpe": self.mean_fresh_oos_sharpe,
            "mean_is_oos_gap": self.mean_is_oos_gap,
            "is_effective": self.is_effective,
            "effectiveness_reasons": self.reasons,
            "cycles": self.cycles.iter().map(|c| json!({
                "cycle": c.number,
                "train_start": c.train_start,
                "train_end": c.train_end,
                "test_end": c.test_end,
                "in_sample": table(&c.in_sample),
                "out_of_sample": table(&c.out_of_sample),
                "fresh_out_of_sample": table(&c.fresh_out_of_sample),
                "walk_forward_efficiency": c.walk_forward_efficiency,
                "is_oos_gap": c.is_oos_gap,
                "steps_taken": c.steps_taken,
                "theta": c.theta,
            })).collect::<Vec<_>>(),
        })
    }
}
