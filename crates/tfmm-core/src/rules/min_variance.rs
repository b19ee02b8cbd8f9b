//! Minimum variance: target weights proportional to the inverse EWMA variance of each
//! asset's chunk returns (a diagonal risk-parity allocation).

use super::{Observation, Rule, RuleKind, RuleSettings, read_lamb};
use crate::error::{Error, Result};
use crate::estimators::ReturnVariance;
use crate::params::{ParamReader, memory_days_to_lamb};
use crate::scalar::{Scalar, clip, cst, logistic, straight_through};

pub struct MinVariance<S> {
    variance: ReturnVariance<S>,
    blend: Vec<S>,
}

/// Memories given in days must be positive (a zero memory makes the variance zero and the
/// weights NaN).
pub(crate) fn positive_memory<S: Scalar>(
    reader: &ParamReader<'_, S>,
    name: &str,
    days: &[S],
) -> Result<()> {
    match days.iter().find(|d| !(d.value() > 0.0)) {
        Some(d) => Err(Error::invalid(
            format!("params.{name}"),
            d.value(),
            format!("rule `{}` needs a positive memory in days", reader.rule()),
        )),
        None => Ok(()),
    }
}

/// Decay with which target weights are blended into the position: the cap is a
/// straight-through clip, so training still sees the slope of the uncapped value.
pub(crate) fn capped_blend<S: Scalar>(raw: Vec<S>, cap: f64) -> Vec<S> {
    raw.into_iter()
        .map(|a| straight_through(a, clip(a, 0.0, cap)))
        .collect()
}

impl<S: Scalar> MinVariance<S> {
    pub fn build(reader: &mut ParamReader<'_, S>, settings: &RuleSettings) -> Result<Self> {
        let cp = settings.chunk_period_f64();
        let cap = settings.max_lamb();
        // The variance memory: `memory_days_1`, else `logit_lamb`. The blend: `memory_days_2`,
        // else `logit_lamb + logit_delta_lamb` (so `memory_days_1` may come with the logits).
        let lamb: Vec<S> = match reader.vector("memory_days_1")? {
            Some(days) => {
                positive_memory(reader, "memory_days_1", &days)?;
                days.into_iter()
                    .map(|md| memory_days_to_lamb(md, cp))
                    .collect()
            }
            None => read_lamb(reader)?,
        };
        let lamb: Vec<S> = lamb.into_iter().map(|l| clip(l, 0.0, cap)).collect();
        let blend = match reader.vector("memory_days_2")? {
            Some(days) => {
                positive_memory(reader, "memory_days_2", &days)?;
                days.into_iter()
                    .map(|md| memory_days_to_lamb(md, cp))
                    .collect()
            }
            None => {
                let rule = reader.rule().to_string();
                let missing = || Error::MissingParam {
                    rule: rule.clone(),
                    name: "memory_days_2".into(),
                    alternatives: "`memory_days_2`, or `logit_lamb` with `logit_delta_lamb`".into(),
                };
                let logit_lamb = reader.vector("logit_lamb")?.ok_or_else(missing)?;
                let delta = reader.vector("logit_delta_lamb")?.ok_or_else(missing)?;
                logit_lamb
                    .iter()
                    .zip(&delta)
                    .map(|(&l, &d)| logistic(l + d))
                    .collect()
            }
        };
        Ok(Self {
            variance: ReturnVariance::new(&lamb),
            blend: capped_blend(blend, cap),
        })
    }

    fn write_target(&self, out: &mut [S]) {
        let v = self.variance.variance();
        let total = v.iter().fold(cst::<S>(0.0), |acc, &x| acc + x.recip());
        for (o, &x) in out.iter_mut().zip(v) {
            *o = x.recip() / total;
        }
    }
}

impl<S: Scalar> Rule<S> for MinVariance<S> {
    fn n_assets(&self) -> usize {
        self.blend.len()
    }

    fn kind(&self) -> RuleKind<'_, S> {
        RuleKind::Target { blend: &self.blend }
    }

    fn init(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.variance.init(obs.prices);
        self.write_target(out);
    }

    fn step(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.variance.update(obs.prices);
        self.write_target(out);
    }

    fn readout(&self, visit: &mut dyn FnMut(&'static str, &[S])) {
        visit("variance", self.variance.variance());
    }
}
