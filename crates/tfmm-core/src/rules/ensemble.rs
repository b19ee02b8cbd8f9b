//! Ensembles: several parameter sets of one rule, whose weight changes are averaged before
//! the guardrails.

use super::{Observation, Rule, RuleKind};
use crate::scalar::{Scalar, cst};

pub struct Ensemble<S> {
    members: Vec<Box<dyn Rule<S>>>,
    row: Vec<S>,
}

impl<S: Scalar> Ensemble<S> {
    /// Members must be non-empty delta rules over the same assets (the caller checks).
    pub fn new(members: Vec<Box<dyn Rule<S>>>) -> Self {
        let n = members.first().map_or(0, |m| m.n_assets());
        Self {
            members,
            row: vec![cst(0.0); n],
        }
    }

    fn average(&mut self, out: &mut [S], mut each: impl FnMut(&mut dyn Rule<S>, &mut [S])) {
        out.iter_mut().for_each(|o| *o = cst(0.0));
        for m in &mut self.members {
            each(m.as_mut(), &mut self.row);
            for (o, &r) in out.iter_mut().zip(&self.row) {
                *o += r;
            }
        }
        let count = self.members.len() as f64;
        out.iter_mut().for_each(|o| *o /= count);
    }
}

impl<S: Scalar> Rule<S> for Ensemble<S> {
    fn n_assets(&self) -> usize {
        self.row.len()
    }

    fn kind(&self) -> RuleKind<'_, S> {
        RuleKind::Delta
    }

    fn init(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.average(out, |m, row| m.init(obs, row));
    }

    fn step(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.average(out, |m, row| m.step(obs, row));
    }

    fn needs_supply(&self) -> bool {
        self.members.iter().any(|m| m.needs_supply())
    }
}
