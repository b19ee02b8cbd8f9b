//! Hyper-parameter tuning (spec runners §5.13): a CMA-ES search over training settings, each
//! trial scored by a walk-forward evaluation. The search runs on the unit cube; every
//! dimension maps to a setting on a linear or log scale (rounded for whole numbers).

use serde_json::{Value, json};
use tfmm_data::PriceTable;
use tfmm_run::{Result, RunConfig, RunError};

use crate::optim::{CmaEs, CmaEsSettings, Optimiser};
use crate::settings::TrainSettings;
use crate::walk::{WalkObserver, WalkResult, walk};

/// One tuned setting: its name, range and scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Dimension {
    pub name: &'static str,
    pub low: f64,
    pub high: f64,
    pub log: bool,
    pub integer: bool,
}

impl Dimension {
    /// The setting at `u` in [0, 1].
    pub fn at(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        let x = if self.log {
            (self.low.ln() + u * (self.high.ln() - self.low.ln())).exp()
        } else {
            self.low + u * (self.high - self.low)
        };
        // exp(ln) may land an ulp outside the range.
        let x = x.clamp(self.low, self.high);
        if self.integer { x.round() } else { x }
    }
}

/// The default space of §5.13 (learning rate by optimiser, iterations capped at
/// `max_iterations`, window slack from the cycle length, validation share, the guardrail's
/// maximum change).
pub fn default_space(
    settings: &TrainSettings,
    cycle_days: f64,
    max_iterations: usize,
) -> Vec<Dimension> {
    let (lr_low, lr_high) = match settings.ascent.optimiser {
        Optimiser::Sgd => (1e-3, 1.0),
        _ => (1e-5, 0.1),
    };
    let m = (cycle_days * 0.7 * 0.9).floor().max(1.0);
    vec![
        Dimension {
            name: "base_lr",
            low: lr_low,
            high: lr_high,
            log: true,
            integer: false,
        },
        Dimension {
            name: "n_iterations",
            low: 100f64.min(max_iterations as f64),
            high: max_iterations as f64,
            log: true,
            integer: true,
        },
        Dimension {
            name: "bout_offset_days",
            low: 7f64.min(m),
            high: m,
            log: true,
            integer: true,
        },
        Dimension {
            name: "val_fraction",
            low: 0.1,
            high: 0.3,
            log: false,
            integer: false,
        },
        Dimension {
            name: "maximum_change",
            low: 1e-4,
            high: 1e-2,
            log: true,
            integer: false,
        },
    ]
}

/// Writes one trial's settings into a config and training settings.
fn apply(config: &mut RunConfig, settings: &mut TrainSettings, name: &str, x: f64) {
    match name {
        "base_lr" => settings.ascent.base_lr = x,
        "n_iterations" => settings.ascent.n_iterations = x as usize,
        "bout_offset_days" => settings.bout_offset = (x * 1440.0) as usize,
        "val_fraction" => settings.val_fraction = x,
        "maximum_change" => config.weights.maximum_change = x,
        _ => unreachable!("dimensions come from default_space"),
    }
}

/// What a trial's walk-forward is scored by.
#[derive(Clone, Debug, PartialEq)]
enum Base {
    Wfe,
    Gap,
    FreshSharpe,
    Oos(String),
    Is(String),
}

/// A tuning objective: `[neg_][mean_|worst_]<cycle metric>`, e.g. `mean_oos_sharpe`,
/// `worst_oos_sharpe`, `mean_wfe`, `neg_is_oos_gap`, `mean_oos_fresh_sharpe`.
#[derive(Clone, Debug, PartialEq)]
pub struct TuneObjective {
    sign: f64,
    worst: bool,
    base: Base,
}

impl TuneObjective {
    pub fn parse(objective: &str) -> Result<TuneObjective> {
        let (sign, rest) = match objective.strip_prefix("neg_") {
            Some(r) => (-1.0, r),
            None => (1.0, objective),
        };
        let (worst, name) = match rest.strip_prefix("worst_") {
            Some(b) => (true, b),
            None => (false, rest.strip_prefix("mean_").unwrap_or(rest)),
        };
        let metric = |m: &str| {
            let m = if m == "returns" { "return" } else { m };
            tfmm_core::metrics::EVALUATION_METRICS
                .contains(&m)
                .then(|| m.to_string())
        };
        let base = match name {
            "wfe" => Some(Base::Wfe),
            "is_oos_gap" => Some(Base::Gap),
            "oos_fresh_sharpe" => Some(Base::FreshSharpe),
            other => match (other.strip_prefix("oos_"), other.strip_prefix("is_")) {
                (Some(m), _) => metric(m).map(Base::Oos),
                (_, Some(m)) => metric(m).map(Base::Is),
                _ => None,
            },
        };
        let base = base.ok_or_else(|| {
            RunError::config(
                "train.tune_objective",
                format!("\"{objective}\""),
                "must be [neg_][mean_|worst_] and then wfe, is_oos_gap, oos_fresh_sharpe, or oos_ / is_ with a report metric (sharpe, daily_log_sharpe, returns, calmar, ...)",
            )
        })?;
        Ok(TuneObjective { sign, worst, base })
    }

    /// The score of a walk; cycles where it is undefined are left out, and none defined
    /// scores `-inf`.
    pub fn score(&self, result: &WalkResult) -> f64 {
        let finite: Vec<f64> = result
            .cycles
            .iter()
            .map(|c| match &self.base {
                Base::Wfe => c.walk_forward_efficiency,
                Base::Gap => c.is_oos_gap,
                Base::FreshSharpe => c.fresh_oos("sharpe"),
                Base::Oos(m) => c.oos(m),
                Base::Is(m) => c.is(m),
            })
            .filter(|v| v.is_finite())
            .collect();
        if finite.is_empty() {
            return f64::NEG_INFINITY;
        }
        let v = if self.worst {
            finite.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            finite.iter().sum::<f64>() / finite.len() as f64
        };
        self.sign * v
    }
}

/// One trial: its settings and score (`-inf` when the walk failed, with the reason).
#[derive(Clone, Debug)]
pub struct Trial {
    pub number: usize,
    pub settings: Vec<(&'static str, f64)>,
    pub value: f64,
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
pub struct TuneResult {
    pub trials: Vec<Trial>,
    pub best: usize,
}

impl TuneResult {
    pub fn to_json(&self) -> Value {
        let trial = |t: &Trial| {
            json!({
                "number": t.number,
                "settings": t.settings.iter().map(|&(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "value": t.value,
                "error": t.error,
            })
        };
        json!({
            "n_trials": self.trials.len(),
            "n_failed": self.trials.iter().filter(|t| t.error.is_some()).count(),
            "best": trial(&self.trials[self.best]),
            "trials": self.trials.iter().map(trial).collect::<Vec<_>>(),
        })
    }
}

/// Told after each trial.
pub trait TuneObserver: WalkObserver {
    fn trial(&mut self, _trial: &Trial, _best: &Trial, _of: usize) {}
}

impl TuneObserver for () {}

/// Searches `space` for the training settings whose walk-forward `objective` is highest,
/// within `n_trials` walk-forward evaluations.
pub fn tune(
    config: &RunConfig,
    table: &PriceTable,
    settings: &TrainSettings,
    space: &[Dimension],
    objective: &str,
    n_trials: usize,
    observer: &mut dyn TuneObserver,
) -> Result<TuneResult> {
    let objective = TuneObjective::parse(objective)?;
    if n_trials == 0 {
        return Err(RunError::config(
            "train.tune_trials",
            0,
            "must be at least 1",
        ));
    }
    let cma = CmaEsSettings {
        sigma0: 0.3,
        seed: settings.seed,
        n_generations: usize::MAX,
        tol: 1e-12,
        ..CmaEsSettings::default()
    };
    let mut es = CmaEs::new(vec![0.5; space.len()], &cma)
        .map_err(|e| RunError::config("train.tune", "cma_es", e.to_string()))?;
    let mut trials: Vec<Trial> = Vec::with_capacity(n_trials);
    let mut best = 0;
    'search: loop {
        let candidates = es.ask();
        let mut fitness = Vec::with_capacity(candidates.len());
        for u in &candidates {
            if trials.len() == n_trials {
                break 'search;
            }
            let mut cfg = config.clone();
            let mut s = settings.clone();
            let chosen: Vec<(&'static str, f64)> = space
                .iter()
                .zip(u)
                .map(|(d, &ui)| {
                    let x = d.at(ui);
                    apply(&mut cfg, &mut s, d.name, x);
                    (d.name, x)
                })
                .collect();
            // Settings outside their own rules (a slack longer than a cycle) fail the trial.
            let (value, error) = match walk(&cfg, table, &s, &s.walk, observer) {
                Ok(r) => (objective.score(&r), None),
                Err(e) => (f64::NEG_INFINITY, Some(e.to_string())),
            };
            let trial = Trial {
                number: trials.len() + 1,
                settings: chosen,
                value,
                error,
            };
            if trial.value
                > trials
                    .get(best)
                    .map_or(f64::NEG_INFINITY, |b: &Trial| b.value)
                || trials.is_empty()
            {
                best = trials.len();
            }
            trials.push(trial);
            observer.trial(&trials[trials.len() - 1], &trials[best], n_trials);
            fitness.push(-value);
        }
        es.tell(&fitness)
            .map_err(|e| RunError::config("train.tune", "cma_es", e.to_string()))?;
        if es.stop().is_some() {
            break;
        }
    }
    Ok(TuneResult { trials, best })
}
