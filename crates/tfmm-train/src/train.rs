//! Training a pool's parameters (spec runners §5): the window geometry, parameter sets,
//! gradient ascent on sampled windows, CMA-ES and L-BFGS on fixed windows, evaluation on the
//! train / validation / test slices of one continuous run, and best-parameter selection.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use tfmm_core::metrics::{self, Path};
use tfmm_core::params::Params;
use tfmm_run::{Result, RunError};

use crate::optim::{Ascent, CmaEsSettings, cma_es_minimise, lbfgs_maximise};
use crate::problem::{Layout, Problem, Span};
use crate::settings::{InitMethod, Method, SampleMethod, TrainSettings};

/// Where training, validation and test minutes lie, in the problem's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The config's window: training and validation.
    pub window: Span,
    /// Minutes of `window` trained on; the rest validate.
    pub train_rows: usize,
    /// Minutes after the window held out for testing (0: none).
    pub test_rows: usize,
    /// Length of each sampled training window.
    pub sample_rows: usize,
    /// Training windows start at `window.start + s`, `s < bout_offset`.
    pub bout_offset: usize,
}

impl Geometry {
    pub fn new(problem: &Problem, settings: &TrainSettings) -> Result<Geometry> {
        let window = problem.window;
        let chunk = problem.config.weights.rule.chunk_period;
        let val_rows = (window.n_rows as f64 * settings.val_fraction).floor() as usize;
        if settings.val_fraction > 0.0 && val_rows < chunk {
            return Err(RunError::config(
                "train.val_fraction",
                settings.val_fraction,
                format!(
                    "holds out {val_rows} minutes of the {}-minute window, fewer than one chunk_period ({chunk})",
                    window.n_rows
                ),
            ));
        }
        let train_rows = window.n_rows - val_rows;
        if settings.bout_offset >= train_rows.saturating_sub(1) {
            return Err(RunError::config(
                "train.bout_offset_days",
                settings.bout_offset as f64 / 1440.0,
                format!(
                    "must leave training windows of at least 2 minutes: the training span is {:.2} days",
                    train_rows as f64 / 1440.0
                ),
            ));
        }
        let test_rows = match &settings.test_end {
            None => 0,
            Some(end) => {
                let end_ms = tfmm_data::parse_utc(end)?;
                let start_ms = problem.unix_ms(window.start + window.n_rows);
                if end_ms <= start_ms {
                    return Err(RunError::config(
                        "train.test_end",
                        end,
                        format!(
                            "must be after the window's end ({})",
                            tfmm_data::format_utc(start_ms)
                        ),
                    ));
                }
                let rows = ((end_ms - start_ms) / tfmm_data::MS_PER_MINUTE) as usize;
                let available = problem.n_data_rows() - (window.start + window.n_rows);
                if rows > available {
                    return Err(RunError::config(
                        "train.test_end",
                        end,
                        format!(
                            "lies after the last price ({})",
                            tfmm_data::format_utc(problem.unix_ms(problem.n_data_rows() - 1))
                        ),
                    ));
                }
                rows
            }
        };
        let sampling = match settings.method {
            Method::GradientDescent => settings.bout_offset,
            _ => settings.bout_offset.max(1),
        };
        if settings.method == Method::GradientDescent
            && settings.sample_method != SampleMethod::Stratified
            && settings.batch_size > sampling
        {
            return Err(RunError::config(
                "train.batch_size",
                settings.batch_size,
                format!(
                    "draws distinct window starts from the {sampling} minutes of bout_offset: at most {sampling}"
                ),
            ));
        }
        Ok(Geometry {
            window,
            train_rows,
            test_rows,
            sample_rows: train_rows - settings.bout_offset,
            bout_offset: settings.bout_offset,
        })
    }

    /// The training window starting `offset` minutes into the window.
    pub fn sample(&self, offset: usize) -> Span {
        Span {
            start: self.window.start + offset,
            n_rows: self.sample_rows,
        }
    }

    /// The continuous evaluation run: window and test period.
    pub fn continuous(&self) -> Span {
        Span {
            start: self.window.start,
            n_rows: self.window.n_rows + self.test_rows,
        }
    }
}

/// Report metrics of the three slices of one continuous run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SliceMetrics {
    pub train: Vec<(&'static str, f64)>,
    pub validation: Vec<(&'static str, f64)>,
    pub test: Vec<(&'static str, f64)>,
}

impl SliceMetrics {
    fn get(table: &[(&'static str, f64)], name: &str) -> f64 {
        table
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(f64::NAN, |&(_, v)| v)
    }

    pub fn train(&self, name: &str) -> f64 {
        Self::get(&self.train, name)
    }

    pub fn validation(&self, name: &str) -> f64 {
        Self::get(&self.validation, name)
    }

    pub fn test(&self, name: &str) -> f64 {
        Self::get(&self.test, name)
    }
}

/// The report metrics of `params` on the train, validation and test slices of one run from
/// the window start (the pool carries on from one slice into the next, as the reference's
/// continuous evaluation).
pub fn evaluate(
    problem: &Problem,
    geometry: &Geometry,
    params: &Params<f64>,
) -> Result<SliceMetrics> {
    let span = geometry.continuous();
    let run = problem.run(params, span)?;
    let n = problem.n_assets();
    let slice = |from: usize, to: usize| -> Vec<(&'static str, f64)> {
        if to <= from + 1 {
            return vec![];
        }
        let reserves = &run.reserves[from * n..(from + 1) * n];
        let ends = problem.hodl_ends(reserves, span, from, to);
        metrics::evaluation(&Path::new(&run.values[from..to], ends))
    };
    let window = geometry.window.n_rows;
    Ok(SliceMetrics {
        train: slice(0, geometry.train_rows),
        validation: slice(geometry.train_rows, window),
        test: slice(window, window + geometry.test_rows),
    })
}

/// The best parameter set seen, by the selection metric.
#[derive(Clone, Debug)]
pub struct Best {
    pub step: usize,
    pub set: usize,
    /// Mean of the selection metric over the sets at that step.
    pub score: f64,
    pub theta: Vec<f64>,
    pub metrics: SliceMetrics,
}

/// One training step, as recorded.
#[derive(Clone, Debug)]
pub struct StepRecord {
    pub step: usize,
    /// The training objective of each set (mean over the step's windows).
    pub objective: Vec<f64>,
    /// The selection metric of each set on the selection slice.
    pub selection: Vec<f64>,
    pub learning_rate: f64,
}

/// What training produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub layout: Layout,
    pub geometry: Geometry,
    /// Parameters at the start (set 0 is the config's).
    pub initial: Vec<Vec<f64>>,
    pub initial_metrics: Vec<SliceMetrics>,
    pub best: Best,
    pub history: Vec<StepRecord>,
    pub steps_taken: usize,
    pub stopped_early: bool,
}

impl Outcome {
    /// The config's parameters with the best set written in.
    pub fn best_params(&self, problem: &Problem) -> Params<f64> {
        let mut params = problem.config.params.clone();
        self.layout.set(&mut params, &self.best.theta);
        params
    }
}

/// Told after each step (gradient descent) or evaluation round (CMA-ES, L-BFGS).
pub trait Observer {
    fn step(&mut self, _record: &StepRecord, _best: &Best, _total: usize) {}
    /// Asked after each step: `true` ends training there, keeping the best set so far (a
    /// cancelled server job). Fixed-window methods finish their one round regardless.
    fn should_stop(&self) -> bool {
        false
    }
}

impl Observer for () {}

/// Trains `problem`'s parameters as `settings` say; `start` gives the starting sets (their
/// first is set 0), `None`: the config's parameters spread as the reference does.
pub fn train(
    problem: &Problem,
    settings: &TrainSettings,
    start: Option<Vec<Vec<f64>>>,
    observer: &mut dyn Observer,
) -> Result<Outcome> {
    settings.validate()?;
    let geometry = Geometry::new(problem, settings)?;
    let layout = problem.layout(&problem.config.params, settings.learn_initial_weights);
    if layout.is_empty() {
        return Err(RunError::config(
            "rule",
            &problem.config.rule,
            "has no parameter the objective depends on to train",
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let sets = match start {
        Some(sets) => sets,
        None => initial_sets(&layout, &problem.config.params, settings, &mut rng, 1.0),
    };
    let params_of = |theta: &[f64]| with_theta(problem, &layout, theta);
    let selection = |m: &SliceMetrics| selection_metric(settings, m);
    let initial_metrics = sets
        .par_iter()
        .map(|t| evaluate(problem, &geometry, &params_of(t)))
        .collect::<Result<Vec<_>>>()?;
    let mut best = pick_best(0, &sets, &initial_metrics, &selection);
    let mut outcome = Outcome {
        layout: layout.clone(),
        geometry,
        initial: sets.clone(),
        initial_metrics,
        best: best.clone(),
        history: vec![],
        steps_taken: 0,
        stopped_early: false,
    };
    match settings.method {
        Method::GradientDescent => gradient_ascent(
            problem,
            settings,
            &geometry,
            &layout,
            sets,
            &mut rng,
            &mut best,
            &mut outcome,
            observer,
        )?,
        Method::CmaEs | Method::Lbfgs => fixed_window_search(
            problem,
            settings,
            &geometry,
            &layout,
            sets,
            &mut best,
            &mut outcome,
            observer,
        )?,
    }
    outcome.best = best;
    Ok(outcome)
}

/// The config's parameters with `theta` written into the tuned elements.
fn with_theta(problem: &Problem, layout: &Layout, theta: &[f64]) -> Params<f64> {
    let mut p = problem.config.params.clone();
    layout.set(&mut p, theta);
    p
}

/// The metric sets are selected by: on the validation slice, or on the training slice when
/// there is none.
fn selection_metric(settings: &TrainSettings, m: &SliceMetrics) -> f64 {
    let name = &settings.early_stopping_metric;
    if settings.val_fraction > 0.0 {
        m.validation(name)
    } else {
        m.train(name)
    }
}

fn pick_best(
    step: usize,
    sets: &[Vec<f64>],
    metrics: &[SliceMetrics],
    selection: &dyn Fn(&SliceMetrics) -> f64,
) -> Best {
    let scores: Vec<f64> = metrics.iter().map(selection).collect();
    let set = nan_argmax(&scores);
    Best {
        step,
        set,
        score: nan_mean(&scores),
        theta: sets[set].clone(),
        metrics: metrics[set].clone(),
    }
}

/// Starting sets: set 0 is the config's parameters; sets 1.. add noise of scale `scale`
/// (standard normal, or a Latin hypercube through the normal quantile).
fn initial_sets(
    layout: &Layout,
    params: &Params<f64>,
    settings: &TrainSettings,
    rng: &mut ChaCha8Rng,
    scale: f64,
) -> Vec<Vec<f64>> {
    let base = layout.get(params);
    let s = settings.n_parameter_sets;
    let dims = base.len();
    // Latin hypercube: per dimension, one draw in each of the s - 1 strata, shuffled.
    let strata: Vec<Vec<f64>> = (0..dims)
        .map(|_| {
            let m = s.saturating_sub(1).max(1);
            let mut u: Vec<f64> = (0..m)
                .map(|i| {
                    let offset = match settings.parameter_init_method {
                        InitMethod::CenteredLhs => 0.5,
                        _ => rng.random::<f64>(),
                    };
                    ((i as f64 + offset) / m as f64).clamp(1e-6, 1.0 - 1e-6)
                })
                .collect();
            for i in (1..u.len()).rev() {
                let j = rng.random_range(0..=i);
                u.swap(i, j);
            }
            u
        })
        .collect();
    (0..s)
        .map(|j| {
            if j == 0 {
                return base.clone();
            }
            base.iter()
                .enumerate()
                .map(|(d, &x)| {
                    let z = match settings.parameter_init_method {
                        InitMethod::Gaussian => StandardNormal.sample(rng),
                        _ => normal_quantile(strata[d][j - 1]),
                    };
                    x + scale * z
                })
                .collect()
        })
        .collect()
}

/// `n_sets` starting sets around `theta`: `theta` itself, then `theta` plus standard normal
/// noise of scale `noise_scale` (a warm start or a resume, as the reference).
pub fn spread(theta: &[f64], n_sets: usize, noise_scale: f64, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n_sets)
        .map(|j| {
            theta
                .iter()
                .map(|&x| {
                    if j == 0 {
                        x
                    } else {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        x + noise_scale * z
                    }
                })
                .collect()
        })
        .collect()
}

/// Starts for gradient ascent: `batch_size` offsets in `0..bout_offset` (`bout_offset` 0: the
/// single window at the start).
fn sample_offsets(settings: &TrainSettings, m: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let b = settings.batch_size;
    if m == 0 {
        return vec![0; b.min(1)];
    }
    match settings.sample_method {
        SampleMethod::Uniform => {
            // Partial Fisher-Yates over 0..m without materialising it when m is large.
            let mut picked: Vec<usize> = Vec::with_capacity(b);
            while picked.len() < b.min(m) {
                let x = rng.random_range(0..m);
                if !picked.contains(&x) {
                    picked.push(x);
                }
            }
            picked
        }
        SampleMethod::Exponential => {
            let weight = |i: usize| (5.0 * i as f64 / m as f64).exp();
            let total: f64 = (0..m).map(weight).sum();
            let mut picked: Vec<usize> = Vec::with_capacity(b);
            while picked.len() < b.min(m) {
                let mut u = rng.random::<f64>() * total;
                let mut i = 0;
                while i + 1 < m && u >= weight(i) {
                    u -= weight(i);
                    i += 1;
                }
                if !picked.contains(&i) {
                    picked.push(i);
                }
            }
            picked
        }
        SampleMethod::Stratified => (0..b)
            .map(|k| {
                let lo = k * m / b;
                let hi = ((k + 1) * m / b).max(lo + 1);
                rng.random_range(lo..hi.min(m).max(lo + 1))
            })
            .collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn gradient_ascent(
    problem: &Problem,
    settings: &TrainSettings,
    geometry: &Geometry,
    layout: &Layout,
    mut sets: Vec<Vec<f64>>,
    rng: &mut ChaCha8Rng,
    best: &mut Best,
    outcome: &mut Outcome,
    observer: &mut dyn Observer,
) -> Result<()> {
    let mut optimisers: Vec<Ascent> = sets
        .iter()
        .map(|_| Ascent::new(&settings.ascent, layout.len()))
        .collect();
    let params_of = |theta: &[f64]| with_theta(problem, layout, theta);
    let selection = |m: &SliceMetrics| selection_metric(settings, m);
    let total = settings.ascent.n_iterations + 1;
    let (mut es_best, mut es_count) = (f64::NEG_INFINITY, 0usize);
    for step in 0..total {
        let offsets = sample_offsets(settings, geometry.bout_offset, rng);
        // Every (set, window) pair is independent: one flat parallel map, then per-set means
        // in a fixed order (the same bits whatever the thread count).
        let jobs: Vec<(usize, usize)> = (0..sets.len())
            .flat_map(|j| offsets.iter().map(move |&o| (j, o)))
            .collect();
        let results: Vec<Result<(f64, Vec<f64>)>> = jobs
            .par_iter()
            .map(|&(j, o)| {
                problem.value_and_gradient(&params_of(&sets[j]), layout, geometry.sample(o))
            })
            .collect();
        let mut objective = vec![0.0; sets.len()];
        let mut gradients = vec![vec![0.0; layout.len()]; sets.len()];
        for (&(j, _), r) in jobs.iter().zip(results) {
            let (v, g) = r?;
            objective[j] += v / offsets.len() as f64;
            for (acc, x) in gradients[j].iter_mut().zip(g) {
                *acc += x / offsets.len() as f64;
            }
        }
        let mut lr = f64::NAN;
        for j in 0..sets.len() {
            lr = optimisers[j].step(&mut sets[j], &gradients[j], objective[j]);
            if sets[j].iter().any(|x| !x.is_finite()) {
                // A set that went NaN restarts from a fresh draw (its optimiser state is kept,
                // as the reference does).
                let fresh = initial_sets(layout, &problem.config.params, settings, rng, 1.0);
                sets[j] = fresh[1.min(fresh.len() - 1)].clone();
            }
        }
        let metrics = sets
            .par_iter()
            .map(|t| evaluate(problem, geometry, &params_of(t)))
            .collect::<Result<Vec<_>>>()?;
        let candidate = pick_best(step + 1, &sets, &metrics, &selection);
        let improved =
            candidate.score > best.score || best.score.is_nan() && !candidate.score.is_nan();
        if improved {
            *best = candidate;
        }
        for o in optimisers.iter_mut() {
            o.report_improvement(improved);
        }
        // Early stopping watches the validation metric, or the training one without a
        // validation slice (the reference watches the test slice then: look-ahead).
        let watched = nan_mean(&metrics.iter().map(&selection).collect::<Vec<_>>());
        if watched > es_best {
            (es_best, es_count) = (watched, 0);
        } else {
            es_count += 1;
        }
        let record = StepRecord {
            step: step + 1,
            objective,
            selection: metrics.iter().map(&selection).collect(),
            learning_rate: lr,
        };
        observer.step(&record, best, total);
        outcome.history.push(record);
        outcome.steps_taken = step + 1;
        if observer.should_stop() {
            break;
        }
        if settings.early_stopping
            && (step + 1) % settings.iterations_per_print == 0
            && es_count >= settings.early_stopping_patience
        {
            outcome.stopped_early = true;
            break;
        }
    }
    Ok(())
}

/// Window starts for the fixed-window methods: up to `n` random offsets and `n` evenly spaced
/// ones in `0..m`, sorted and distinct (§5.4 evaluation points).
fn evaluation_offsets(m: usize, n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    if m == 0 {
        return vec![0];
    }
    let mut points: Vec<usize> = (0..n).map(|_| rng.random_range(0..m)).collect();
    points.extend((0..n).map(|i| if n > 1 { i * (m - 1) / (n - 1) } else { 0 }));
    points.sort_unstable();
    points.dedup();
    points
}

#[allow(clippy::too_many_arguments)]
fn fixed_window_search(
    problem: &Problem,
    settings: &TrainSettings,
    geometry: &Geometry,
    layout: &Layout,
    sets: Vec<Vec<f64>>,
    best: &mut Best,
    outcome: &mut Outcome,
    observer: &mut dyn Observer,
) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let offsets = evaluation_offsets(geometry.bout_offset, settings.n_evaluation_points, &mut rng);
    let params_of = |theta: &[f64]| with_theta(problem, layout, theta);
    // Mean objective over the fixed windows; a failed simulation counts as the worst.
    let value = |theta: &[f64]| -> f64 {
        let p = params_of(theta);
        let values: Vec<f64> = offsets
            .par_iter()
            .map(|&o| problem.value(&p, geometry.sample(o)).unwrap_or(f64::NAN))
            .collect();
        values.iter().sum::<f64>() / values.len() as f64
    };
    let value_and_gradient = |theta: &[f64]| -> (f64, Vec<f64>) {
        let p = params_of(theta);
        let results: Vec<Option<(f64, Vec<f64>)>> = offsets
            .par_iter()
            .map(|&o| {
                problem
                    .value_and_gradient(&p, layout, geometry.sample(o))
                    .ok()
            })
            .collect();
        let k = results.len() as f64;
        let mut v = 0.0;
        let mut g = vec![0.0; layout.len()];
        for r in results {
            match r {
                Some((x, d)) => {
                    v += x / k;
                    for (a, b) in g.iter_mut().zip(d) {
                        *a += b / k;
                    }
                }
                None => return (f64::NAN, vec![f64::NAN; layout.len()]),
            }
        }
        (v, g)
    };
    let mut finals = Vec::with_capacity(sets.len());
    let mut objectives = Vec::with_capacity(sets.len());
    for (k, x0) in sets.iter().enumerate() {
        let (theta, objective) = match settings.method {
            Method::CmaEs => {
                let cma = CmaEsSettings {
                    seed: settings.seed + k as u64,
                    ..settings.cma_es.clone()
                };
                let result = cma_es_minimise(|x| -value(x), x0.clone(), &cma)
                    .map_err(|e| RunError::config("train.method", "cma_es", e.to_string()))?;
                (result.best_x, -result.best_f)
            }
            _ => {
                let result = lbfgs_maximise(
                    value_and_gradient,
                    x0.clone(),
                    settings.lbfgs_max_iterations,
                    settings.lbfgs_tol,
                )
                .map_err(|e| RunError::config("train.method", "lbfgs", e.to_string()))?;
                (result.x, result.objective)
            }
        };
        finals.push(theta);
        objectives.push(objective);
    }
    let metrics = finals
        .par_iter()
        .map(|t| evaluate(problem, geometry, &params_of(t)))
        .collect::<Result<Vec<_>>>()?;
    let selection = |m: &SliceMetrics| selection_metric(settings, m);
    let candidate = pick_best(1, &finals, &metrics, &selection);
    if candidate.score > best.score || best.score.is_nan() {
        *best = candidate;
    }
    let record = StepRecord {
        step: 1,
        objective: objectives,
        selection: metrics.iter().map(&selection).collect(),
        learning_rate: f64::NAN,
    };
    observer.step(&record, best, 1);
    outcome.history.push(record);
    outcome.steps_taken = 1;
    Ok(())
}

fn nan_mean(x: &[f64]) -> f64 {
    let finite: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
    if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    }
}

fn nan_argmax(x: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if !v.is_nan() && (x[best].is_nan() || v > x[best]) {
            best = i;
        }
    }
    best
}

/// The standard normal quantile by Acklam's rational approximation (relative error below
/// 1.2e-9: ample for spreading starting points).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}
