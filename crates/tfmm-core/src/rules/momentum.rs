//! Momentum and anti-momentum: move weight toward (away from) assets whose EWMA price slope,
//! relative to price, beats the pool's `k`-weighted average.

use super::{Observation, Rule, RuleKind, RuleSettings, read_k, read_lamb, zero_sum};
use crate::error::Result;
use crate::estimators::GradientEstimator;
use crate::params::ParamReader;
use crate::scalar::{Scalar, clip, cst, logistic};

pub struct Momentum<S> {
    estimator: GradientEstimator<S>,
    /// Signed aggressiveness: `-k` for anti-momentum, which makes its rows exactly the
    /// negated momentum rows.
    k: Vec<S>,
}

impl<S: Scalar> Momentum<S> {
    /// `direction` is 1 for momentum and -1 for anti-momentum.
    pub fn build(
        reader: &mut ParamReader<'_, S>,
        settings: &RuleSettings,
        direction: f64,
    ) -> Result<Self> {
        let lamb = read_lamb(reader)?;
        let memory_days: Vec<S> = lamb.iter().map(|&l| settings.memory_days(l)).collect();
        let k = read_k(reader, &memory_days)?;
        let estimator = gradient_estimator(reader, settings, &lamb)?;
        Ok(Self {
            estimator,
            k: k.into_iter().map(|k| k * direction).collect(),
        })
    }

    pub fn new(estimator: GradientEstimator<S>, k: Vec<S>) -> Self {
        Self { estimator, k }
    }
}

/// The momentum family's estimator: decays capped at `max_memory_days`, and with
/// `use_alt_lamb` a denominator EWMA of decay `logistic(logit_lamb + logit_delta_lamb)`.
pub(crate) fn gradient_estimator<S: Scalar>(
    reader: &mut ParamReader<'_, S>,
    settings: &RuleSettings,
    lamb: &[S],
) -> Result<GradientEstimator<S>> {
    let cap = settings.max_lamb();
    let capped: Vec<S> = lamb.iter().map(|&l| clip(l, 0.0, cap)).collect();
    let alt = if settings.use_alt_lamb {
        let logit_lamb = reader.require("logit_lamb")?;
        let delta = reader.require("logit_delta_lamb")?;
        Some(
            logit_lamb
                .iter()
                .zip(&delta)
                .map(|(&l, &d)| clip(logistic(d + l), 0.0, cap))
                .collect::<Vec<S>>(),
        )
    } else {
        reader.accept("logit_delta_lamb");
        None
    };
    Ok(GradientEstimator::new(&capped, alt.as_deref()))
}

impl<S: Scalar> Rule<S> for Momentum<S> {
    fn n_assets(&self) -> usize {
        self.k.len()
    }

    fn kind(&self) -> RuleKind<'_, S> {
        RuleKind::Delta
    }

    fn init(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.estimator.init(obs.prices);
        out.iter_mut().for_each(|o| *o = cst(0.0));
    }

    fn step(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        let g = self.estimator.update(obs.prices);
        zero_sum(g, &self.k, true, out);
    }

    fn readout(&self, visit: &mut dyn FnMut(&'static str, &[S])) {
        visit("ewma", self.estimator.ewma());
        visit("running_a", self.estimator.running_a());
        visit("gradients", self.estimator.gradient());
    }
}
