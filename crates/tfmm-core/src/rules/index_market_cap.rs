//! Market-cap index: target weights proportional to price times circulating supply,
//! optionally capped per asset.

use super::min_variance::capped_blend;
use super::{Observation, Rule, RuleKind, RuleSettings};
use crate::error::{Error, Result};
use crate::params::ParamReader;
use crate::scalar::{Scalar, cst, logistic};

pub struct IndexMarketCap<S> {
    blend: Vec<S>,
    cap: Option<f64>,
    weights: Vec<f64>,
}

/// Redistribution passes for the per-asset cap (the reference's bound).
const CAP_PASSES: usize = 10;

impl<S: Scalar> IndexMarketCap<S> {
    pub fn build(reader: &mut ParamReader<'_, S>, settings: &RuleSettings) -> Result<Self> {
        let logit_lamb = reader.require("logit_lamb")?;
        let delta = reader
            .vector("logit_delta_lamb")?
            .unwrap_or_else(|| vec![cst(0.0); logit_lamb.len()]);
        let blend = logit_lamb
            .iter()
            .zip(&delta)
            .map(|(&l, &d)| logistic(l + d))
            .collect();
        let n = logit_lamb.len();
        if let Some(cap) = settings.cap_weights
            && !(cap > 0.0 && cap <= 1.0 && cap * n as f64 >= 1.0)
        {
            return Err(Error::invalid(
                "cap_weights",
                cap,
                format!(
                    "must lie in [1/n, 1] = [{}, 1] for {n} assets",
                    1.0 / n as f64
                ),
            ));
        }
        Ok(Self {
            blend: capped_blend(blend, settings.max_lamb()),
            cap: settings.cap_weights,
            weights: vec![0.0; n],
        })
    }

    fn write_target(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        // The runner refuses a market-cap rule without a supply series; an observation
        // without one here is a programming error, shown as NaN weights rather than a panic.
        let supply = obs.supply.unwrap_or(&[]);
        let w = &mut self.weights;
        for (i, wi) in w.iter_mut().enumerate() {
            *wi = obs.prices[i] * supply.get(i).copied().unwrap_or(f64::NAN);
        }
        let total: f64 = w.iter().sum();
        w.iter_mut().for_each(|x| *x /= total);
        if let Some(cap) = self.cap {
            cap_and_redistribute(w, cap);
        }
        for (o, &x) in out.iter_mut().zip(w.iter()) {
            *o = cst(x);
        }
    }
}

/// Caps weights at `cap`, handing the excess to the uncapped assets in proportion to their
/// weight; repeats while anything is over the cap (at most [`CAP_PASSES`] times).
fn cap_and_redistribute(w: &mut [f64], cap: f64) {
    for _ in 0..CAP_PASSES {
        if !w.iter().any(|&x| x > cap + 1e-6) {
            break;
        }
        let excess: f64 = w.iter().filter(|&&x| x > cap).map(|&x| x - cap).sum();
        let uncapped: f64 = w.iter().filter(|&&x| x <= cap).sum();
        for x in w.iter_mut() {
            *x = if *x > cap {
                cap
            } else {
                *x + *x / (uncapped + 1e-10) * excess
            };
        }
    }
    let total: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= total);
}

impl<S: Scalar> Rule<S> for IndexMarketCap<S> {
    fn n_assets(&self) -> usize {
        self.blend.len()
    }

    fn kind(&self) -> RuleKind<'_, S> {
        RuleKind::Target { blend: &self.blend }
    }

    fn init(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.write_target(obs, out);
    }

    fn step(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.write_target(obs, out);
    }

    fn needs_supply(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_moves_excess_to_the_rest() {
        let mut w = [0.7, 0.2, 0.1];
        cap_and_redistribute(&mut w, 0.4);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(w[0] <= 0.4 + 1e-6, "{w:?}");
        // The uncapped assets keep their ratio.
        assert!((w[1] / w[2] - 2.0).abs() < 1e-9, "{w:?}");
    }
}
