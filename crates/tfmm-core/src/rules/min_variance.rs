//! Minimum variance: target weights proportional to the inverse EWMA variance of each
//! asset's chunk returns (a diagonal risk-parity allocation).

use super::{Observation, Rule, RuleKind, RuleSettings, require_one_of};
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
        let (name, raw) = require_one_of(reader, &["memory_days_1", "logit_lamb"])?;
        if name == "memory_days_1" {
            positive_memory(reader, name, &raw)?;
        }
        let lamb: Vec<S> = raw
            .into_iter()
            .map(|x| {
                if name == "memory_days_1" {
                    memory_days_to_lamb(x, cp)
                } else {
                    logistic(x)
                }
            })
            .map(|l| clip(l, 0.0, cap))
            .collect();
        let blend = if reader.has("memory_days_2") {
            let raw = reader.require("memory_days_2")?;
            positive_memory(reader, "memory_days_2", &raw)?;
            raw.into_iter()
                .map(|md| memory_days_to_lamb(md, cp))
                .collect()
        } else {
            let logit_lamb = reader.require("logit_lamb")?;
            let delta = reader
                .vector("logit_delta_lamb")?
                .ok_or_else(|| Error::MissingParam {
                    rule: reader.rule().to_string(),
                    name: "memory_days_2".into(),
                    alternatives: "`memory_days_2` or `logit_delta_lamb` (with `logit_lamb`)"
                        .into(),
                })?;
            logit_lamb
                .iter()
                .zip(&delta)
                .map(|(&l, &d)| logistic(l + d))
                .collect()
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
