//! Gradient ascent as quantammsim's `gradient_descent` method does it (spec runners §5.2).
//!
//! Two paths:
//! * plain SGD: `θ ← θ + lr·∇J`, with `lr` lowered by the trainer-driven plateau rule
//!   ([`Ascent::report_improvement`]); no clipping, schedule or weight decay;
//! * the Optax-style chain for Adam / AdamW, fed the *negated* gradient (the chain minimises
//!   `−J`): optional clipping by global norm, Adam or AdamW at unit learning rate, scaling by
//!   the learning-rate schedule, and an optional reduce-on-plateau stage that watches `−J`.

use std::fmt;
use std::str::FromStr;

use super::OptimError;

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;
/// Absolute improvement the reduce-on-plateau stage requires (its relative tolerance is 0).
const PLATEAU_ATOL: f64 = 1e-4;

/// Which update rule moves the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Optimiser {
    /// Plain ascent `θ ← θ + lr·∇J`.
    Sgd,
    /// Adam (β1 = 0.9, β2 = 0.999, ε = 1e-8) in the Optax chain.
    Adam,
    /// Adam with decoupled weight decay, in the Optax chain (quantammsim's default).
    #[default]
    AdamW,
}

impl Optimiser {
    const ALLOWED: &'static str = "\"sgd\", \"adam\", \"adamw\"";

    /// Parses quantammsim's `optimiser` setting.
    pub fn parse(name: &str) -> Result<Optimiser, OptimError> {
        match name {
            "sgd" => Ok(Optimiser::Sgd),
            "adam" => Ok(Optimiser::Adam),
            "adamw" => Ok(Optimiser::AdamW),
            _ => Err(OptimError::UnknownName {
                field: "optimiser",
                value: name.to_string(),
                allowed: Self::ALLOWED,
            }),
        }
    }

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Optimiser::Sgd => "sgd",
            Optimiser::Adam => "adam",
            Optimiser::AdamW => "adamw",
        }
    }
}

impl FromStr for Optimiser {
    type Err = OptimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Optimiser::parse(s)
    }
}

impl fmt::Display for Optimiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The learning-rate schedule of the Optax chain (§5.2 table). With `N = n_iterations`,
/// `η = base_lr` and `η_min = base_lr / lr_decay_ratio`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LrSchedule {
    /// `η` at every step.
    #[default]
    Constant,
    /// Cosine decay from `η` to `η_min` over `N` steps, then `η_min`.
    Cosine,
    /// `η·ρ^t` with `ρ = (η_min/η)^(1/N)`; keeps decaying past `N`.
    Exponential,
    /// Linear `η_min → η` over `warmup_steps`, then cosine decay to `η_min` at `N`.
    WarmupCosine,
}

impl LrSchedule {
    const ALLOWED: &'static str = "\"constant\", \"cosine\", \"exponential\", \"warmup_cosine\"";

    /// Parses quantammsim's `lr_schedule_type` setting.
    pub fn parse(name: &str) -> Result<LrSchedule, OptimError> {
        match name {
            "constant" => Ok(LrSchedule::Constant),
            "cosine" => Ok(LrSchedule::Cosine),
            "exponential" => Ok(LrSchedule::Exponential),
            "warmup_cosine" => Ok(LrSchedule::WarmupCosine),
            _ => Err(OptimError::UnknownName {
                field: "lr_schedule_type",
                value: name.to_string(),
                allowed: Self::ALLOWED,
            }),
        }
    }

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Cosine => "cosine",
            LrSchedule::Exponential => "exponential",
            LrSchedule::WarmupCosine => "warmup_cosine",
        }
    }

    /// The learning rate at schedule step `t` (0 at the first update).
    ///
    /// The arithmetic follows Optax's schedule functions (`cosine_decay_schedule`,
    /// `warmup_cosine_decay_schedule` = linear warm-up joined to a cosine decay), which equal
    /// the §5.2 formulas up to rounding. Settings that [`AscentSettings::validate`] rejects
    /// give a finite or non-finite number, never a panic.
    pub fn lr(&self, settings: &AscentSettings, t: usize) -> f64 {
        let eta = settings.base_lr;
        let eta_min = eta / settings.lr_decay_ratio;
        let n = settings.n_iterations;
        match self {
            LrSchedule::Constant => eta,
            LrSchedule::Cosine => cosine_decay(eta, eta_min, t, n),
            LrSchedule::Exponential => {
                let rho = (eta_min / eta).powf(1.0 / n as f64);
                eta * rho.powf(t as f64)
            }
            LrSchedule::WarmupCosine => {
                let w = settings.warmup_steps;
                if t < w {
                    // Linear from η_min (t = 0) to η (t = W), written as Optax's degree-one
                    // polynomial schedule.
                    let frac = 1.0 - t as f64 / w as f64;
                    (eta_min - eta) * frac + eta
                } else {
                    cosine_decay(eta, eta_min, t - w, n.saturating_sub(w))
                }
            }
        }
    }
}

/// `η·[(1−α)·½(1+cos(π·min(t,N)/N)) + α]` with `α = η_min/η`.
fn cosine_decay(eta: f64, eta_min: f64, t: usize, n: usize) -> f64 {
    let alpha = if eta == 0.0 { 0.0 } else { eta_min / eta };
    let n = n as f64;
    let count = (t as f64).min(n);
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * count / n).cos());
    eta * ((1.0 - alpha) * cosine + alpha)
}

impl FromStr for LrSchedule {
    type Err = OptimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LrSchedule::parse(s)
    }
}

impl fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The gradient settings of quantammsim's `optimisation_settings` (§2.2), same names and
/// defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AscentSettings {
    /// `optimiser`: `sgd`, `adam` or `adamw` (default `adamw`).
    pub optimiser: Optimiser,
    /// `base_lr`: peak / initial learning rate (0.1).
    pub base_lr: f64,
    /// `weight_decay`: decoupled weight decay, AdamW only (0.01).
    pub weight_decay: f64,
    /// `use_gradient_clipping`: clip by global norm, Optax paths only (true).
    pub use_gradient_clipping: bool,
    /// `clip_norm`: the clipping threshold (10).
    pub clip_norm: f64,
    /// `lr_schedule_type` (constant).
    pub lr_schedule_type: LrSchedule,
    /// `lr_decay_ratio`: schedule floor `η_min = base_lr / lr_decay_ratio` (1000).
    pub lr_decay_ratio: f64,
    /// `warmup_steps`: warm-up length of `warmup_cosine` (100); must be < `n_iterations`.
    pub warmup_steps: usize,
    /// `n_iterations`: the schedule horizon `N` (1000).
    pub n_iterations: usize,
    /// `use_plateau_decay`: append reduce-on-plateau to the Optax chain (false).
    pub use_plateau_decay: bool,
    /// `decay_lr_ratio`: multiplicative decay on a plateau (0.8).
    pub decay_lr_ratio: f64,
    /// `decay_lr_plateau`: steps without improvement before a plateau decay (100).
    pub decay_lr_plateau: usize,
    /// `min_lr`: floor of the SGD plateau decay (1e-6).
    pub min_lr: f64,
}

impl Default for AscentSettings {
    fn default() -> Self {
        AscentSettings {
            optimiser: Optimiser::AdamW,
            base_lr: 0.1,
            weight_decay: 0.01,
            use_gradient_clipping: true,
            clip_norm: 10.0,
            lr_schedule_type: LrSchedule::Constant,
            lr_decay_ratio: 1000.0,
            warmup_steps: 100,
            n_iterations: 1000,
            use_plateau_decay: false,
            decay_lr_ratio: 0.8,
            decay_lr_plateau: 100,
            min_lr: 1e-6,
        }
    }
}

impl AscentSettings {
    /// Checks every setting the chosen optimiser and schedule use; the error names the first
    /// field that breaks a rule, its value and the rule.
    pub fn validate(&self) -> Result<(), OptimError> {
        let positive = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(OptimError::setting(field, v, "must be a finite number > 0"))
            }
        };
        let non_negative = |field: &'static str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(OptimError::setting(
                    field,
                    v,
                    "must be a finite number >= 0",
                ))
            }
        };
        positive("base_lr", self.base_lr)?;
        non_negative("weight_decay", self.weight_decay)?;
        if self.use_gradient_clipping {
            positive("clip_norm", self.clip_norm)?;
        }
        if self.lr_schedule_type != LrSchedule::Constant {
            positive("lr_decay_ratio", self.lr_decay_ratio)?;
            if self.n_iterations == 0 {
                return Err(OptimError::setting(
                    "n_iterations",
                    0,
                    format!(
                        "must be >= 1 for lr_schedule_type \"{}\" (it is the decay horizon)",
                        self.lr_schedule_type
                    ),
                ));
            }
        }
        if self.lr_schedule_type == LrSchedule::WarmupCosine
            && self.warmup_steps >= self.n_iterations
        {
            return Err(OptimError::setting(
                "warmup_steps",
                self.warmup_steps,
                format!(
                    "must be < n_iterations ({}) for lr_schedule_type \"warmup_cosine\"",
                    self.n_iterations
                ),
            ));
        }
        positive("decay_lr_ratio", self.decay_lr_ratio)?;
        if self.use_plateau_decay && self.optimiser != Optimiser::Sgd && self.decay_lr_ratio >= 1.0
        {
            return Err(OptimError::setting(
                "decay_lr_ratio",
                self.decay_lr_ratio,
                "must be in (0, 1) when use_plateau_decay is on (the reduce-on-plateau factor)",
            ));
        }
        non_negative("min_lr", self.min_lr)?;
        Ok(())
    }
}

/// Euclidean norm of the whole vector: `√Σ g²` (Optax's global norm over one parameter set).
pub fn global_norm(g: &[f64]) -> f64 {
    g.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// One parameter set's optimiser state.
#[derive(Clone, Debug)]
pub struct Ascent {
    settings: AscentSettings,
    n_params: usize,
    /// Adam first and second moments (empty for SGD).
    mu: Vec<f64>,
    nu: Vec<f64>,
    /// Updates made so far (Adam's bias-correction count and the schedule's step counter).
    count: usize,
    /// Reduce-on-plateau stage: current scale, best loss seen, steps since the best.
    plateau_scale: f64,
    plateau_best: f64,
    plateau_count: usize,
    /// The trainer's carried learning rate (§5.2 step 6): used by SGD, logged otherwise.
    lr: f64,
    lr_counter: usize,
}

impl Ascent {
    /// Fresh state (moments zero, schedule at step 0, carried learning rate `base_lr`).
    /// Call [`AscentSettings::validate`] first; invalid settings are not rejected here.
    pub fn new(settings: &AscentSettings, n_params: usize) -> Ascent {
        let moments = if settings.optimiser == Optimiser::Sgd {
            0
        } else {
            n_params
        };
        Ascent {
            settings: settings.clone(),
            n_params,
            mu: vec![0.0; moments],
            nu: vec![0.0; moments],
            count: 0,
            plateau_scale: 1.0,
            plateau_best: f64::INFINITY,
            plateau_count: 0,
            lr: settings.base_lr,
            lr_counter: 0,
        }
    }

    /// The settings this state was made with.
    pub fn settings(&self) -> &AscentSettings {
        &self.settings
    }

    /// Number of [`Ascent::step`] calls so far.
    pub fn steps(&self) -> usize {
        self.count
    }

    /// The carried learning rate of §5.2 step 6: the SGD learning rate, logged (but unused)
    /// for Adam / AdamW.
    pub fn carried_lr(&self) -> f64 {
        self.lr
    }

    /// Steps since the last improvement reported to [`Ascent::report_improvement`].
    pub fn plateau_counter(&self) -> usize {
        self.lr_counter
    }

    /// The reduce-on-plateau stage's current multiplier (1 unless `use_plateau_decay`).
    pub fn plateau_scale(&self) -> f64 {
        self.plateau_scale
    }

    /// One step: moves `theta` uphill given the gradient of the objective at `theta` and the
    /// objective value (the plateau stage sees `loss = −objective`, rounded to `f32` as the
    /// reference passes it). Returns the learning rate used: the carried rate for SGD, the
    /// schedule's rate times the plateau scale for Adam / AdamW. Allocates nothing.
    ///
    /// A zero gradient leaves Adam's update at zero (AdamW still applies weight decay); a
    /// non-finite gradient propagates into `theta`, which the trainer repairs.
    ///
    /// # Panics
    /// If `theta` or `gradient` does not have the length given to [`Ascent::new`].
    pub fn step(&mut self, theta: &mut [f64], gradient: &[f64], objective: f64) -> f64 {
        assert_eq!(theta.len(), self.n_params, "theta length");
        assert_eq!(gradient.len(), self.n_params, "gradient length");
        if self.settings.optimiser == Optimiser::Sgd {
            self.count += 1;
            let lr = self.lr;
            for (p, g) in theta.iter_mut().zip(gradient) {
                *p += lr * g;
            }
            return lr;
        }

        // Clipping by global norm: kept as is below the threshold (so a zero gradient stays
        // zero), otherwise rescaled to norm `clip_norm`.
        let clip = if self.settings.use_gradient_clipping {
            let norm = global_norm(gradient);
            if norm < self.settings.clip_norm {
                None
            } else {
                Some(norm)
            }
        } else {
            None
        };

        let t = self.count;
        self.count += 1;
        let count = i32::try_from(self.count).unwrap_or(i32::MAX);
        let bias1 = 1.0 - BETA1.powi(count);
        let bias2 = 1.0 - BETA2.powi(count);
        let lr = self.settings.lr_schedule_type.lr(&self.settings, t);
        let scale = if self.settings.use_plateau_decay {
            self.plateau_update(-objective)
        } else {
            1.0
        };
        let decay = if self.settings.optimiser == Optimiser::AdamW {
            self.settings.weight_decay
        } else {
            0.0
        };

        for i in 0..self.n_params {
            // The chain minimises −J: its input is the negated gradient.
            let mut g = -gradient[i];
            if let Some(norm) = clip {
                g = (g / norm) * self.settings.clip_norm;
            }
            let mu = (1.0 - BETA1) * g + BETA1 * self.mu[i];
            let nu = (1.0 - BETA2) * (g * g) + BETA2 * self.nu[i];
            self.mu[i] = mu;
            self.nu[i] = nu;
            let mut u = (mu / bias1) / ((nu / bias2).sqrt() + EPS);
            if decay != 0.0 {
                u += decay * theta[i];
            }
            // Unit learning rate (descent: −1), then the schedule, then the plateau scale.
            let u = scale * (lr * -u);
            theta[i] += u;
        }
        lr * scale
    }

    /// The reduce-on-plateau stage for one loss value (accumulation 1, no cooldown, relative
    /// tolerance 0, absolute 1e-4); returns the scale for this step's update.
    fn plateau_update(&mut self, loss: f64) -> f64 {
        let loss = loss as f32 as f64;
        if loss < self.plateau_best - PLATEAU_ATOL {
            self.plateau_best = loss;
            self.plateau_count = 0;
        } else {
            self.plateau_count = self.plateau_count.saturating_add(1);
        }
        // Optax compares the count with the patience for equality, after resetting it on an
        // improvement: a patience of 0 therefore decays on every improving step.
        if self.plateau_count == self.settings.decay_lr_plateau {
            self.plateau_scale *= self.settings.decay_lr_ratio;
            self.plateau_count = 0;
        }
        self.plateau_scale
    }

    /// The trainer's plateau rule (§5.2 step 6), after each step's tracker update: the
    /// counter resets on an improvement, otherwise grows; once it exceeds `decay_lr_plateau`,
    /// `lr ← max(lr·decay_lr_ratio, min_lr)` and the counter resets. Moves the SGD learning
    /// rate; for Adam / AdamW it only changes [`Ascent::carried_lr`].
    pub fn report_improvement(&mut self, improved: bool) {
        if improved {
            self.lr_counter = 0;
        } else {
            self.lr_counter = self.lr_counter.saturating_add(1);
        }
        if self.lr_counter > self.settings.decay_lr_plateau {
            self.lr = (self.lr * self.settings.decay_lr_ratio).max(self.settings.min_lr);
            self.lr_counter = 0;
        }
    }
}
