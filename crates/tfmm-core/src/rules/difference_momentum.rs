//! Difference momentum: the signal is the gap between a short and a long EWMA of price,
//! `1 - ewma_long / ewma_short`, in place of a slope.

use super::min_variance::positive_memory;
use super::{Observation, Rule, RuleKind, RuleSettings, read_k, zero_sum};
use crate::error::{Error, Result};
use crate::estimators::Ewma;
use crate::params::{ParamReader, memory_days_to_lamb};
use crate::scalar::{Scalar, clip, cst, logistic, max};

pub struct DifferenceMomentum<S> {
    first: Ewma<S>,
    second: Ewma<S>,
    k: Vec<S>,
    signal: Vec<S>,
}

impl<S: Scalar> DifferenceMomentum<S> {
    pub fn build(reader: &mut ParamReader<'_, S>, settings: &RuleSettings) -> Result<Self> {
        let cp = settings.chunk_period_f64();
        let (md1, md2, k) = if reader.has("memory_days_1") || reader.has("memory_days_2") {
            // The human-readable form: memories in days, `k` per day of the longer memory.
            let md1 = reader.require("memory_days_1")?;
            let md2 = reader.require("memory_days_2")?;
            positive_memory(reader, "memory_days_1", &md1)?;
            positive_memory(reader, "memory_days_2", &md2)?;
            let k_per_day = reader.vector("k")?.ok_or_else(|| Error::MissingParam {
                rule: reader.rule().to_string(),
                name: "k".into(),
                alternatives: "`k` (with memory_days_1 and memory_days_2)".into(),
            })?;
            let k = k_per_day
                .iter()
                .zip(md1.iter().zip(&md2))
                .map(|(&k, (&a, &b))| k * max(a, b))
                .collect();
            (md1, md2, k)
        } else {
            let logit_lamb = reader.require("logit_lamb")?;
            let delta = reader.require("logit_delta_lamb")?;
            let md1: Vec<S> = logit_lamb
                .iter()
                .map(|&l| settings.memory_days(logistic(l)))
                .collect();
            let md2: Vec<S> = logit_lamb
                .iter()
                .zip(&delta)
                .map(|(&l, &d)| settings.memory_days(logistic(l + d)))
                .collect();
            let k = read_k(reader, &md1)?;
            (md1, md2, k)
        };
        // The EWMA decays go through memory days and back (as in the reference); a memory of
        // zero days makes that EWMA the price itself.
        let cap = settings.max_lamb();
        let lamb = |md: &[S]| -> Vec<S> {
            md.iter()
                .map(|&m| clip(memory_days_to_lamb(max(m, cst(0.0)), cp), 0.0, cap))
                .collect()
        };
        let n = k.len();
        Ok(Self {
            first: Ewma::new(&lamb(&md1)),
            second: Ewma::new(&lamb(&md2)),
            k,
            signal: vec![cst(0.0); n],
        })
    }
}

impl<S: Scalar> Rule<S> for DifferenceMomentum<S> {
    fn n_assets(&self) -> usize {
        self.k.len()
    }

    fn kind(&self) -> RuleKind<'_, S> {
        RuleKind::Delta
    }

    fn init(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.first.init(obs.prices);
        self.second.init(obs.prices);
        out.iter_mut().for_each(|o| *o = cst(0.0));
    }

    fn step(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.first.update(obs.prices);
        self.second.update(obs.prices);
        let (e1, e2) = (self.first.value(), self.second.value());
        for i in 0..self.k.len() {
            self.signal[i] = cst::<S>(1.0) - e2[i] / e1[i];
        }
        zero_sum(&self.signal, &self.k, true, out);
    }

    fn readout(&self, visit: &mut dyn FnMut(&'static str, &[S])) {
        visit("ewma_1", self.first.value());
        visit("ewma_2", self.second.value());
    }
}
