//! Training settings: a native `[train]` table, or a quantammsim case's `return_val`,
//! `bout_offset`, `endTestDateString` and `optimisation_settings` (spec runners §2.2). One key
//! table drives both readers and `docs/training.md`.

use serde_json::{Map, Value};
use tfmm_run::{Result, RunError};

use crate::optim::{AscentSettings, CmaEsSettings, LrSchedule, Optimiser};

/// How parameters are searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Gradient ascent on sampled windows (quantammsim's `gradient_descent`).
    GradientDescent,
    /// CMA-ES on fixed evaluation windows, no gradients.
    CmaEs,
    /// L-BFGS on fixed evaluation windows (in place of quantammsim's `bfgs`).
    Lbfgs,
}

/// How training windows are drawn from the `bout_offset` possible starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleMethod {
    /// `batch_size` distinct starts, uniformly.
    Uniform,
    /// Distinct starts weighted by `exp(5 i / m)`: recent windows more often.
    Exponential,
    /// One uniform start inside each of `batch_size` equal segments.
    Stratified,
}

/// How parameter sets 1.. are spread around set 0 (the config's parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitMethod {
    /// Independent standard normal noise per element.
    Gaussian,
    /// Latin hypercube samples mapped through the normal inverse CDF.
    Lhs,
    /// Latin hypercube at the centres of the strata.
    CenteredLhs,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrainSettings {
    pub method: Method,
    /// The objective maximised (a quantammsim `return_val`).
    pub objective: String,
    /// End of the out-of-sample test period, UTC; `None`: no test period.
    pub test_end: Option<String>,
    /// Training windows start anywhere in the first `bout_offset` minutes of the training
    /// span and are that much shorter than it.
    pub bout_offset: usize,
    pub ascent: AscentSettings,
    pub batch_size: usize,
    pub sample_method: SampleMethod,
    pub n_parameter_sets: usize,
    pub parameter_init_method: InitMethod,
    /// Spread of sets 1.. on a warm start or resume (a fresh start uses 1, as the reference).
    pub noise_scale: f64,
    pub seed: u64,
    pub early_stopping: bool,
    pub early_stopping_patience: usize,
    /// Also the metric the best parameters are chosen by.
    pub early_stopping_metric: String,
    /// Tail of the training span held out for validation and selection.
    pub val_fraction: f64,
    /// Steps between early-stopping checks (the reference checks between printed chunks).
    pub iterations_per_print: usize,
    /// Differentiate the initial weights too (the reference stops their gradient).
    pub learn_initial_weights: bool,
    pub cma_es: CmaEsSettings,
    /// Fixed windows for CMA-ES and L-BFGS.
    pub n_evaluation_points: usize,
    pub lbfgs_max_iterations: u64,
    pub lbfgs_tol: f64,
    /// Walk-forward evaluation (`tfmm walk`, `tfmm tune`).
    pub walk: crate::walk::WalkSettings,
    /// Tuning (`tfmm tune`): walk-forward evaluations, their score, and the cap on tuned
    /// `n_iterations`.
    pub tune_trials: usize,
    pub tune_objective: String,
    pub tune_max_iterations: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            method: Method::GradientDescent,
            objective: "daily_log_sharpe".into(),
            test_end: None,
            bout_offset: 10_080,
            ascent: AscentSettings::default(),
            batch_size: 8,
            sample_method: SampleMethod::Uniform,
            n_parameter_sets: 4,
            parameter_init_method: InitMethod::Gaussian,
            noise_scale: 0.1,
            seed: 0,
            early_stopping: true,
            early_stopping_patience: 200,
            early_stopping_metric: "daily_log_sharpe".into(),
            val_fraction: 0.2,
            iterations_per_print: 10,
            learn_initial_weights: false,
            cma_es: CmaEsSettings::default(),
            n_evaluation_points: 20,
            lbfgs_max_iterations: 100,
            lbfgs_tol: 1e-8,
            walk: crate::walk::WalkSettings::default(),
            tune_trials: 20,
            tune_objective: "mean_oos_sharpe".into(),
            tune_max_iterations: 500,
        }
    }
}

/// Metrics the best parameters may be selected by (quantammsim's list).
pub const SELECTION_METRICS: &[&str] = &[
    "sharpe",
    "daily_log_sharpe",
    "return",
    "returns_over_hodl",
    "returns_over_uniform_hodl",
    "calmar",
    "sterling",
    "ulcer",
];

/// One training key: its native name (`[train]`), its quantammsim name (in
/// `optimisation_settings` unless marked top-level), default and meaning.
#[derive(Clone, Copy, Debug)]
pub struct TrainKey {
    pub native: &'static str,
    pub quantammsim: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

const fn k(
    native: &'static str,
    quantammsim: &'static str,
    default: &'static str,
    meaning: &'static str,
) -> TrainKey {
    TrainKey {
        native,
        quantammsim,
        default,
        meaning,
    }
}

/// Every training key. `^name`: a top-level key of a quantammsim case.
pub const TRAIN_KEYS: &[TrainKey] = &[
    k(
        "method",
        "method",
        r#""gradient_descent""#,
        "`gradient_descent`, `cma_es` or `lbfgs` (quantammsim's `bfgs` is read as `lbfgs`).",
    ),
    k(
        "objective",
        "^return_val",
        r#""daily_log_sharpe""#,
        "The objective maximised: any name of docs/metrics.md's objectives.",
    ),
    k(
        "test_end",
        "^endTestDateString",
        "none",
        "End of the out-of-sample test period (UTC); it starts at `window.end`.",
    ),
    k(
        "bout_offset_days",
        "^bout_offset",
        "7 (quantammsim: 10080 minutes)",
        "Training windows start anywhere in the first this-many days of the training span and are that much shorter than it.",
    ),
    k(
        "optimiser",
        "optimiser",
        r#""adamw""#,
        "`sgd`, `adam` or `adamw`.",
    ),
    k("base_lr", "base_lr", "0.1", "Peak learning rate."),
    k(
        "weight_decay",
        "weight_decay",
        "0.01",
        "Decoupled weight decay (AdamW).",
    ),
    k(
        "use_gradient_clipping",
        "use_gradient_clipping",
        "true",
        "Clip each set's gradient by its global norm (Adam, AdamW).",
    ),
    k("clip_norm", "clip_norm", "10", "Clipping threshold."),
    k(
        "lr_schedule",
        "lr_schedule_type",
        r#""constant""#,
        "`constant`, `cosine`, `warmup_cosine` or `exponential`.",
    ),
    k(
        "lr_decay_ratio",
        "lr_decay_ratio",
        "1000",
        "Schedules decay to `base_lr / lr_decay_ratio`.",
    ),
    k(
        "warmup_steps",
        "warmup_steps",
        "100",
        "Warm-up steps of `warmup_cosine` (fewer than `n_iterations`).",
    ),
    k(
        "use_plateau_decay",
        "use_plateau_decay",
        "false",
        "Scale the learning rate by `decay_lr_ratio` after `decay_lr_plateau` steps without improvement (Adam, AdamW).",
    ),
    k(
        "decay_lr_ratio",
        "decay_lr_ratio",
        "0.8",
        "Plateau decay factor.",
    ),
    k(
        "decay_lr_plateau",
        "decay_lr_plateau",
        "100",
        "Steps without improvement before a plateau decay.",
    ),
    k(
        "min_lr",
        "min_lr",
        "1e-6",
        "Floor of the SGD plateau decay.",
    ),
    k(
        "n_iterations",
        "n_iterations",
        "1000",
        "Gradient steps (n_iterations + 1 are taken, as the reference).",
    ),
    k(
        "batch_size",
        "batch_size",
        "8",
        "Windows per step, shared by every parameter set.",
    ),
    k(
        "sample_method",
        "sample_method",
        r#""uniform""#,
        "`uniform`, `exponential` (recent windows more often) or `stratified`.",
    ),
    k(
        "n_parameter_sets",
        "n_parameter_sets",
        "4",
        "Parameter sets trained side by side (CMA-ES: restarts; L-BFGS: starts).",
    ),
    k(
        "parameter_init_method",
        "parameter_init_method",
        r#""gaussian""#,
        "How sets 1.. are spread around the config's parameters: `gaussian`, `lhs` or `centered_lhs`.",
    ),
    k(
        "noise_scale",
        "noise_scale",
        "0.1",
        "Spread of sets 1.. when resuming (a fresh start uses 1, as the reference).",
    ),
    k(
        "seed",
        "initial_random_key",
        "0",
        "Seed of window sampling, initialisation and CMA-ES.",
    ),
    k(
        "early_stopping",
        "early_stopping",
        "true",
        "Stop when the validation metric has not improved for `early_stopping_patience` steps.",
    ),
    k(
        "early_stopping_patience",
        "early_stopping_patience",
        "200",
        "Patience, in steps.",
    ),
    k(
        "early_stopping_metric",
        "early_stopping_metric",
        r#""daily_log_sharpe""#,
        "Metric for early stopping and for choosing the best parameters: sharpe, daily_log_sharpe, return, returns_over_hodl, returns_over_uniform_hodl, calmar, sterling, ulcer.",
    ),
    k(
        "val_fraction",
        "val_fraction",
        "0.2",
        "Tail of the training span held out for validation and selection, in [0, 1).",
    ),
    k(
        "iterations_per_print",
        "iterations_per_print",
        "10",
        "Steps between early-stopping checks and progress lines.",
    ),
    k(
        "learn_initial_weights",
        "learn_initial_weights",
        "false",
        "Also train the initial weights (the reference stops their gradient; tfmm extension).",
    ),
    k(
        "cma_es_population_size",
        "cma_es_settings.population_size",
        "4 + floor(3 ln n)",
        "CMA-ES population.",
    ),
    k(
        "cma_es_sigma0",
        "cma_es_settings.sigma0",
        "0.5",
        "CMA-ES initial step size.",
    ),
    k(
        "cma_es_tol",
        "cma_es_settings.tol",
        "1e-8",
        "CMA-ES stops when its step size times the largest axis falls below this.",
    ),
    k(
        "cma_es_n_generations",
        "cma_es_settings.n_generations",
        "300",
        "CMA-ES generation limit per restart.",
    ),
    k(
        "n_evaluation_points",
        "n_evaluation_points",
        "20",
        "Fixed windows of CMA-ES and L-BFGS (half random, half evenly spaced).",
    ),
    k(
        "lbfgs_max_iterations",
        "bfgs_settings.maxiter",
        "100",
        "L-BFGS iteration limit.",
    ),
    k(
        "lbfgs_tol",
        "bfgs_settings.tol",
        "1e-8",
        "L-BFGS gradient tolerance.",
    ),
    k(
        "n_cycles",
        "n_cycles",
        "5",
        "Walk-forward: cycles over `window.start .. test_end` (cut into n_cycles + 1 day-aligned segments).",
    ),
    k(
        "keep_fixed_start",
        "keep_fixed_start",
        "false",
        "Walk-forward: every cycle trains from the first segment's start (an expanding window).",
    ),
    k(
        "wfe_metric",
        "wfe_metric",
        r#""sharpe""#,
        "Walk-forward: the metric of the efficiency OOS/IS and of the IS-OOS gap.",
    ),
    k(
        "tune_trials",
        "tune_trials",
        "20",
        "Tuning: walk-forward evaluations the search may spend.",
    ),
    k(
        "tune_objective",
        "tune_objective",
        r#""mean_oos_sharpe""#,
        "Tuning: the score, `[neg_][mean_|worst_]` then `wfe`, `is_oos_gap`, `oos_fresh_sharpe` or `oos_`/`is_` and a report metric.",
    ),
    k(
        "tune_max_iterations",
        "tune_max_iterations",
        "500",
        "Tuning: the largest `n_iterations` tried (the space is 100 up to this, log scale).",
    ),
];

/// quantammsim `optimisation_settings` keys tfmm reads nowhere, with the value that means
/// "off": any other value is refused rather than silently ignored.
const INERT: &[(&str, &str)] = &[
    ("training_data_kind", r#""historic""#),
    ("max_mc_version", "any"),
    ("include_flipped_training_data", "false"),
    ("force_scalar", "false"),
    ("train_on_hessian_trace", "false"),
    ("use_swa", "false"),
    ("swa_start_frac", "any"),
    ("swa_freq", "any"),
    ("track_checkpoints", "false"),
    ("checkpoint_interval", "any"),
    ("optuna_settings", "any"),
    ("per_param_noise_scale", "any"),
];

fn bad(field: &str, value: &Value, rule: impl Into<String>) -> RunError {
    RunError::config(field, value, rule)
}

/// Reads values by name, remembering which were read.
struct Reader<'a> {
    map: &'a Map<String, Value>,
    prefix: &'static str,
}

impl Reader<'_> {
    fn field(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn f64(&self, key: &str, into: &mut f64) -> Result<()> {
        if let Some(v) = self.map.get(key) {
            *into = v
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(&self.field(key), v, "must be a finite number"))?;
        }
        Ok(())
    }

    fn usize(&self, key: &str, into: &mut usize) -> Result<()> {
        if let Some(v) = self.map.get(key) {
            *into = v
                .as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| bad(&self.field(key), v, "must be a whole number >= 0"))?;
        }
        Ok(())
    }

    fn bool(&self, key: &str, into: &mut bool) -> Result<()> {
        if let Some(v) = self.map.get(key) {
            *into = v
                .as_bool()
                .ok_or_else(|| bad(&self.field(key), v, "must be true or false"))?;
        }
        Ok(())
    }

    fn text(&self, key: &str) -> Result<Option<&str>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(bad(&self.field(key), v, "must be text")),
        }
    }
}

fn choice<T: Copy>(field: &str, value: &str, options: &[(&str, T)]) -> Result<T> {
    options
        .iter()
        .find(|(name, _)| *name == value)
        .map(|&(_, t)| t)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            RunError::config(
                field,
                format!("\"{value}\""),
                format!("must be one of {}", names.join(", ")),
            )
        })
}

const METHODS: &[(&str, Method)] = &[
    ("gradient_descent", Method::GradientDescent),
    ("cma_es", Method::CmaEs),
    ("lbfgs", Method::Lbfgs),
    ("bfgs", Method::Lbfgs),
];
const SAMPLES: &[(&str, SampleMethod)] = &[
    ("uniform", SampleMethod::Uniform),
    ("exponential", SampleMethod::Exponential),
    ("stratified", SampleMethod::Stratified),
];
const INITS: &[(&str, InitMethod)] = &[
    ("gaussian", InitMethod::Gaussian),
    ("lhs", InitMethod::Lhs),
    ("centered_lhs", InitMethod::CenteredLhs),
];

impl TrainSettings {
    /// A native `[train]` table (names in [`TRAIN_KEYS`]`.native`).
    pub fn from_native(map: &Map<String, Value>) -> Result<TrainSettings> {
        let known: Vec<&str> = TRAIN_KEYS.iter().map(|k| k.native).collect();
        if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(unknown("train.", key, &known));
        }
        let r = Reader {
            map,
            prefix: "train.",
        };
        let mut s = TrainSettings::default();
        if let Some(m) = r.text("method")? {
            s.method = choice("train.method", m, METHODS)?;
        }
        if let Some(o) = r.text("objective")? {
            s.objective = o.to_string();
        }
        s.test_end = r.text("test_end")?.map(str::to_string);
        let mut days = s.bout_offset as f64 / 1440.0;
        r.f64("bout_offset_days", &mut days)?;
        if !(days >= 0.0) {
            return Err(bad(
                "train.bout_offset_days",
                &map["bout_offset_days"],
                "must be >= 0",
            ));
        }
        s.bout_offset = (days * 1440.0).round() as usize;
        s.read_common(&r, "lr_schedule", "seed")?;
        let mut pop = 0usize;
        if map.contains_key("cma_es_population_size") {
            r.usize("cma_es_population_size", &mut pop)?;
            s.cma_es.population_size = Some(pop);
        }
        r.f64("cma_es_sigma0", &mut s.cma_es.sigma0)?;
        r.f64("cma_es_tol", &mut s.cma_es.tol)?;
        r.usize("cma_es_n_generations", &mut s.cma_es.n_generations)?;
        let mut iters = s.lbfgs_max_iterations as usize;
        r.usize("lbfgs_max_iterations", &mut iters)?;
        s.lbfgs_max_iterations = iters as u64;
        r.f64("lbfgs_tol", &mut s.lbfgs_tol)?;
        s.validate()?;
        Ok(s)
    }

    /// The training keys of a quantammsim case: top-level `return_val`, `bout_offset`,
    /// `endTestDateString`, and `optimisation_settings`.
    pub fn from_case(case: &Map<String, Value>) -> Result<TrainSettings> {
        let mut s = TrainSettings::default();
        let top = case
            .get("run_fingerprint")
            .and_then(Value::as_object)
            .unwrap_or(case);
        let r = Reader {
            map: top,
            prefix: "run_fingerprint.",
        };
        if let Some(o) = r.text("return_val")? {
            s.objective = o.to_string();
        }
        s.test_end = r.text("endTestDateString")?.map(str::to_string);
        r.usize("bout_offset", &mut s.bout_offset)?;
        let empty = Map::new();
        let opt = match top.get("optimisation_settings") {
            None => &empty,
            Some(Value::Object(m)) => m,
            Some(v) => {
                return Err(bad(
                    "run_fingerprint.optimisation_settings",
                    v,
                    "must be an object",
                ));
            }
        };
        let r = Reader {
            map: opt,
            prefix: "optimisation_settings.",
        };
        let mut known: Vec<&str> = TRAIN_KEYS
            .iter()
            .filter(|k| !k.quantammsim.starts_with('^'))
            .map(|k| k.quantammsim.split('.').next().unwrap_or(k.quantammsim))
            .collect();
        known.extend(INERT.iter().map(|(k, _)| *k));
        if let Some(key) = opt.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(unknown("optimisation_settings.", key, &known));
        }
        for (key, off) in INERT {
            if let Some(v) = opt.get(*key)
                && *off != "any"
                && serde_json::from_str::<Value>(off).ok().as_ref() != Some(v)
            {
                return Err(bad(
                    &format!("optimisation_settings.{key}"),
                    v,
                    format!("is not supported by tfmm (only {off})"),
                ));
            }
        }
        if let Some(m) = r.text("method")? {
            s.method = choice("optimisation_settings.method", m, METHODS)?;
        }
        s.read_common(&r, "lr_schedule_type", "initial_random_key")?;
        if let Some(Value::Object(c)) = opt.get("cma_es_settings") {
            let r = Reader {
                map: c,
                prefix: "optimisation_settings.cma_es_settings.",
            };
            if let Some(v) = c.get("population_size").filter(|v| !v.is_null()) {
                let mut pop = 0;
                r.usize("population_size", &mut pop).map_err(|_| {
                    bad(
                        "optimisation_settings.cma_es_settings.population_size",
                        v,
                        "must be a whole number",
                    )
                })?;
                s.cma_es.population_size = Some(pop);
            }
            r.f64("sigma0", &mut s.cma_es.sigma0)?;
            r.f64("tol", &mut s.cma_es.tol)?;
            r.usize("n_generations", &mut s.cma_es.n_generations)?;
            r.usize("n_evaluation_points", &mut s.n_evaluation_points)?;
        }
        if let Some(Value::Object(b)) = opt.get("bfgs_settings") {
            let r = Reader {
                map: b,
                prefix: "optimisation_settings.bfgs_settings.",
            };
            let mut iters = s.lbfgs_max_iterations as usize;
            r.usize("maxiter", &mut iters)?;
            s.lbfgs_max_iterations = iters as u64;
            r.f64("tol", &mut s.lbfgs_tol)?;
            r.usize("n_evaluation_points", &mut s.n_evaluation_points)?;
        }
        s.validate()?;
        Ok(s)
    }

    /// Keys with the same name in both formats (the schedule and seed keys differ).
    fn read_common(&mut self, r: &Reader<'_>, schedule_key: &str, seed_key: &str) -> Result<()> {
        let a = &mut self.ascent;
        if let Some(o) = r.text("optimiser")? {
            a.optimiser = Optimiser::parse(o).map_err(|e| {
                RunError::config(r.field("optimiser"), format!("\"{o}\""), e.to_string())
            })?;
        }
        r.f64("base_lr", &mut a.base_lr)?;
        r.f64("weight_decay", &mut a.weight_decay)?;
        r.bool("use_gradient_clipping", &mut a.use_gradient_clipping)?;
        r.f64("clip_norm", &mut a.clip_norm)?;
        if let Some(name) = r.text(schedule_key)? {
            a.lr_schedule_type = LrSchedule::parse(name).map_err(|e| {
                RunError::config(r.field(schedule_key), format!("\"{name}\""), e.to_string())
            })?;
        }
        r.f64("lr_decay_ratio", &mut a.lr_decay_ratio)?;
        r.usize("warmup_steps", &mut a.warmup_steps)?;
        r.bool("use_plateau_decay", &mut a.use_plateau_decay)?;
        r.f64("decay_lr_ratio", &mut a.decay_lr_ratio)?;
        r.usize("decay_lr_plateau", &mut a.decay_lr_plateau)?;
        r.f64("min_lr", &mut a.min_lr)?;
        r.usize("n_iterations", &mut a.n_iterations)?;
        r.usize("batch_size", &mut self.batch_size)?;
        if let Some(m) = r.text("sample_method")? {
            self.sample_method = choice(&r.field("sample_method"), m, SAMPLES)?;
        }
        r.usize("n_parameter_sets", &mut self.n_parameter_sets)?;
        if let Some(m) = r.text("parameter_init_method")? {
            self.parameter_init_method = choice(&r.field("parameter_init_method"), m, INITS)?;
        }
        r.f64("noise_scale", &mut self.noise_scale)?;
        let mut seed = self.seed as usize;
        r.usize(seed_key, &mut seed)?;
        self.seed = seed as u64;
        r.bool("early_stopping", &mut self.early_stopping)?;
        r.usize("early_stopping_patience", &mut self.early_stopping_patience)?;
        if let Some(m) = r.text("early_stopping_metric")? {
            self.early_stopping_metric = m.to_string();
        }
        r.f64("val_fraction", &mut self.val_fraction)?;
        r.usize("iterations_per_print", &mut self.iterations_per_print)?;
        r.bool("learn_initial_weights", &mut self.learn_initial_weights)?;
        r.usize("n_cycles", &mut self.walk.n_cycles)?;
        r.bool("keep_fixed_start", &mut self.walk.keep_fixed_start)?;
        if let Some(m) = r.text("wfe_metric")? {
            self.walk.wfe_metric = m.to_string();
        }
        r.usize("tune_trials", &mut self.tune_trials)?;
        if let Some(m) = r.text("tune_objective")? {
            self.tune_objective = m.to_string();
        }
        r.usize("tune_max_iterations", &mut self.tune_max_iterations)?;
        Ok(())
    }

    pub fn validate(&self) -> Result<()> {
        self.ascent
            .validate()
            .map_err(|e| RunError::config("train", "settings", e.to_string()))?;
        tfmm_core::metrics::Objective::parse(&self.objective)?;
        let positive = [
            ("batch_size", self.batch_size),
            ("n_parameter_sets", self.n_parameter_sets),
            ("iterations_per_print", self.iterations_per_print),
            ("tune_trials", self.tune_trials),
            ("tune_max_iterations", self.tune_max_iterations),
        ];
        if let Some((name, v)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(RunError::config(
                format!("train.{name}"),
                v,
                "must be at least 1",
            ));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(RunError::config(
                "train.val_fraction",
                self.val_fraction,
                "must lie in [0, 1)",
            ));
        }
        if !SELECTION_METRICS.contains(&self.early_stopping_metric.as_str()) {
            return Err(RunError::config(
                "train.early_stopping_metric",
                format!("\"{}\"", self.early_stopping_metric),
                format!("must be one of {}", SELECTION_METRICS.join(", ")),
            ));
        }
        if !SELECTION_METRICS.contains(&self.walk.wfe_metric.as_str()) {
            return Err(RunError::config(
                "train.wfe_metric",
                format!("\"{}\"", self.walk.wfe_metric),
                format!("must be one of {}", SELECTION_METRICS.join(", ")),
            ));
        }
        crate::tune::TuneObjective::parse(&self.tune_objective)?;
        if !(self.noise_scale >= 0.0) {
            return Err(RunError::config(
                "train.noise_scale",
                self.noise_scale,
                "must be >= 0",
            ));
        }
        Ok(())
    }
}

fn unknown(prefix: &str, key: &str, known: &[&str]) -> RunError {
    let hint = tfmm_core::error::did_you_mean(key, known.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    RunError::config(
        format!("{prefix}{key}"),
        "…",
        format!("is not a known training key{hint}"),
    )
}

/// `docs/training.md`'s key table.
pub fn keys_markdown() -> String {
    let mut out = String::from(
        "| `[train]` key | quantammsim key | default | meaning |\n|---|---|---|---|\n",
    );
    for k in TRAIN_KEYS {
        let q = match k.quantammsim.strip_prefix('^') {
            Some(top) => format!("`{top}` (top level)"),
            None => format!("`optimisation_settings.{}`", k.quantammsim),
        };
        out.push_str(&format!(
            "| `{}` | {q} | {} | {} |\n",
            k.native, k.default, k.meaning
        ));
    }
    out
}
