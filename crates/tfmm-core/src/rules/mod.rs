//! Strategy rules: step functions from chunk prices to a raw weight change or a target weight.
//!
//! A rule sees one observation per chunk (every `chunk_period` minutes, on a grid anchored at
//! the first price it is given) and writes one output row per observation. What happens to
//! that row (guardrails, interpolation, timing) is the weight engine's business
//! (`crate::weights`), identical for every rule, built-in or user-written.

mod difference_momentum;
mod ensemble;
mod index_market_cap;
mod mean_reversion_channel;
mod min_variance;
mod momentum;
mod power_channel;
mod seeds;
mod triple_threat;

pub use difference_momentum::DifferenceMomentum;
pub use ensemble::Ensemble;
pub use index_market_cap::IndexMarketCap;
pub use mean_reversion_channel::MeanReversionChannel;
pub use min_variance::MinVariance;
pub use momentum::Momentum;
pub use power_channel::PowerChannel;
pub use seeds::{Seeds, USER_FACING, internal_params, internalize};
pub use triple_threat::TripleThreat;

use crate::error::{Error, Result, did_you_mean};
use crate::params::{ParamReader, lamb_to_memory_days_clipped, max_lamb};
use crate::scalar::{Scalar, cst, logistic, squareplus};

/// What the market shows a rule at one chunk.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// Price per asset, in pool order.
    pub prices: &'a [f64],
    /// Circulating supply per asset, for the market-cap rules.
    pub supply: Option<&'a [f64]>,
}

impl<'a> Observation<'a> {
    pub fn prices(prices: &'a [f64]) -> Self {
        Self {
            prices,
            supply: None,
        }
    }
}

/// How the weight engine reads a rule's output rows.
#[derive(Clone, Copy, Debug)]
pub enum RuleKind<'a, S> {
    /// Rows are weight changes added to the current position (they sum to zero).
    Delta,
    /// Rows are target weights, blended into the position with weight `blend` on the old one.
    Target { blend: &'a [S] },
}

/// A strategy rule as a streaming step function. Implement this to run your own strategy
/// through the same guardrails, interpolation and reserves as the built-in ones
/// (see `examples/custom_rule.rs`).
pub trait Rule<S: Scalar>: Send {
    fn n_assets(&self) -> usize;

    fn kind(&self) -> RuleKind<'_, S>;

    /// Starts the estimators at the first chunk observation and writes the rule's output before
    /// any change has been seen (zeros for delta rules; the starting target for target rules).
    fn init(&mut self, obs: &Observation<'_>, out: &mut [S]);

    /// Consumes the next chunk observation and writes the new output row.
    fn step(&mut self, obs: &Observation<'_>, out: &mut [S]);

    /// Whether observations must carry a supply series.
    fn needs_supply(&self) -> bool {
        false
    }

    /// Estimator state after the latest step, by name (for readouts and debugging).
    fn readout(&self, _visit: &mut dyn FnMut(&'static str, &[S])) {}
}

impl<S: Scalar, R: Rule<S> + ?Sized> Rule<S> for Box<R> {
    fn n_assets(&self) -> usize {
        (**self).n_assets()
    }
    fn kind(&self) -> RuleKind<'_, S> {
        (**self).kind()
    }
    fn init(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        (**self).init(obs, out)
    }
    fn step(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        (**self).step(obs, out)
    }
    fn needs_supply(&self) -> bool {
        (**self).needs_supply()
    }
    fn readout(&self, visit: &mut dyn FnMut(&'static str, &[S])) {
        (**self).readout(visit)
    }
}

/// Settings the built-in rules read (quantammsim run-fingerprint names).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSettings {
    /// Minutes between rule evaluations.
    pub chunk_period: usize,
    /// Caps every estimator's memory and the memory used to scale `k`.
    pub max_memory_days: f64,
    /// Momentum family: divide the slope by a second, longer EWMA (`logit_delta_lamb`).
    pub use_alt_lamb: bool,
    /// Channel rules: honour a learnable pre-exponential scaling (else 0.5).
    pub use_pre_exp_scaling: bool,
    /// Index rules: cap on any single target weight, excess redistributed.
    pub cap_weights: Option<f64>,
}

impl Default for RuleSettings {
    fn default() -> Self {
        Self {
            chunk_period: 1440,
            max_memory_days: 365.0,
            use_alt_lamb: false,
            use_pre_exp_scaling: true,
            cap_weights: None,
        }
    }
}

impl RuleSettings {
    pub fn chunk_period_f64(&self) -> f64 {
        self.chunk_period as f64
    }

    pub fn max_lamb(&self) -> f64 {
        max_lamb(self.chunk_period_f64(), self.max_memory_days)
    }

    /// Memory in days of (uncapped) decay `lamb`, clipped to `max_memory_days`: the scale
    /// of `k` and of channel amplitudes.
    pub fn memory_days<S: Scalar>(&self, lamb: S) -> S {
        lamb_to_memory_days_clipped(lamb, self.chunk_period_f64(), self.max_memory_days)
    }
}

/// The base rules tfmm computes weights for.
pub const WEIGHT_RULES: &[&str] = &[
    "momentum",
    "anti_momentum",
    "power_channel",
    "mean_reversion_channel",
    "triple_threat_mean_reversion_channel",
    "difference_momentum",
    "min_variance",
    "index_market_cap",
    "hodling_index_market_cap",
];

/// Builds a base rule (no hook prefixes) from its parameters.
pub fn build_rule<S: Scalar>(
    name: &str,
    reader: &mut ParamReader<'_, S>,
    settings: &RuleSettings,
) -> Result<Box<dyn Rule<S>>> {
    Ok(match name {
        "momentum" => Box::new(Momentum::build(reader, settings, 1.0)?),
        "anti_momentum" => Box::new(Momentum::build(reader, settings, -1.0)?),
        "power_channel" => Box::new(PowerChannel::build(reader, settings)?),
        "mean_reversion_channel" => Box::new(MeanReversionChannel::build(reader, settings)?),
        "triple_threat_mean_reversion_channel" => Box::new(TripleThreat::build(reader, settings)?),
        "difference_momentum" => Box::new(DifferenceMomentum::build(reader, settings)?),
        "min_variance" => Box::new(MinVariance::build(reader, settings)?),
        "index_market_cap" | "hodling_index_market_cap" => {
            Box::new(IndexMarketCap::build(reader, settings)?)
        }
        _ => return Err(unknown_rule(name)),
    })
}

pub(crate) fn unknown_rule(name: &str) -> Error {
    Error::UnknownRule {
        name: name.to_string(),
        suggestion: did_you_mean(name, WEIGHT_RULES.iter().copied())
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default(),
        known: WEIGHT_RULES.join(", "),
    }
}

/// Turns a per-asset signal into weight changes that sum to zero: each asset moves by
/// `k_i` times its signal's excess over the `k`-weighted mean signal. With `mask_zero_k`,
/// assets with `k_i = 0` do not move at all (the momentum family's behaviour).
pub fn zero_sum<S: Scalar>(signal: &[S], k: &[S], mask_zero_k: bool, out: &mut [S]) {
    let mut weighted = cst::<S>(0.0);
    let mut total_k = cst::<S>(0.0);
    for (&s, &ki) in signal.iter().zip(k) {
        weighted += ki * s;
        total_k += ki;
    }
    let offset = -weighted / total_k;
    for ((o, &s), &ki) in out.iter_mut().zip(signal).zip(k) {
        *o = if mask_zero_k && ki.value() == 0.0 {
            cst(0.0)
        } else {
            ki * (s + offset)
        };
    }
}

/// `k` (aggressiveness, weight change per unit signal) from `log_k` (`2^log_k` per memory
/// day), `absolute_k` (as is) or `k` (per memory day), in the reference's order.
pub(crate) fn read_k<S: Scalar>(
    reader: &mut ParamReader<'_, S>,
    memory_days: &[S],
) -> Result<Vec<S>> {
    read_k_from(reader, memory_days, &["log_k", "absolute_k", "k"])
}

/// As [`read_k`], with `sp_k` (`squareplus(sp_k)` per memory day) tried first.
pub(crate) fn read_k_or_sp_k<S: Scalar>(
    reader: &mut ParamReader<'_, S>,
    memory_days: &[S],
) -> Result<Vec<S>> {
    read_k_from(reader, memory_days, &["sp_k", "log_k", "absolute_k", "k"])
}

fn read_k_from<S: Scalar>(
    reader: &mut ParamReader<'_, S>,
    memory_days: &[S],
    names: &[&'static str],
) -> Result<Vec<S>> {
    let Some(name) = reader.choose(names)? else {
        return Err(Error::MissingParam {
            rule: reader.rule().to_string(),
            name: names[0].to_string(),
            alternatives: names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let raw = reader.require(name)?;
    Ok(raw
        .into_iter()
        .zip(memory_days)
        .map(|(x, &md)| match name {
            "sp_k" => squareplus(x) * md,
            "log_k" => x.exp2() * md,
            "absolute_k" => x,
            _ => x * md,
        })
        .collect())
}

/// Decay of the rule's main estimator: `logistic(logit_lamb)`, before the cap.
pub(crate) fn read_lamb<S: Scalar>(reader: &mut ParamReader<'_, S>) -> Result<Vec<S>> {
    Ok(reader
        .require("logit_lamb")?
        .into_iter()
        .map(logistic)
        .collect())
}

/// The channel rules' pre-exponential scaling: `squareplus(sp_)`, `logistic(logit_)` or
/// `2^raw_`, when `use_pre_exp_scaling`; 0.5 otherwise.
pub(crate) fn read_pre_exp_scaling<S: Scalar>(
    reader: &mut ParamReader<'_, S>,
    settings: &RuleSettings,
    names: &[&'static str],
) -> Result<Vec<S>> {
    let n = reader.n_assets();
    if !settings.use_pre_exp_scaling {
        for name in names {
            reader.accept(name);
        }
        return Ok(vec![cst(0.5); n]);
    }
    let Some(name) = reader.choose(names)? else {
        return Ok(vec![cst(0.5); n]);
    };
    let raw = reader.require(name)?;
    Ok(raw
        .into_iter()
        .map(|x| match name {
            "sp_pre_exp_scaling" => squareplus(x),
            "logit_pre_exp_scaling" => logistic(x),
            _ => x.exp2(),
        })
        .collect())
}

/// One required parameter out of alternatives, with the name that was found.
pub(crate) fn require_one_of<S: Scalar>(
    reader: &mut ParamReader<'_, S>,
    names: &[&'static str],
) -> Result<(&'static str, Vec<S>)> {
    match reader.choose(names)? {
        Some(name) => Ok((name, reader.require(name)?)),
        None => Err(Error::MissingParam {
            rule: reader.rule().to_string(),
            name: names[0].to_string(),
            alternatives: names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_sum_rows_sum_to_zero_and_mask_zero_k() {
        let mut out = [0.0; 3];
        zero_sum(&[0.3, -0.1, 0.05], &[2.0, 1.0, 4.0], false, &mut out);
        assert!(out.iter().sum::<f64>().abs() < 1e-16);
        zero_sum(&[0.3, -0.1, 0.05], &[2.0, 0.0, 4.0], true, &mut out);
        assert_eq!(out[1], 0.0);
        assert!(out.iter().sum::<f64>().abs() < 1e-16);
    }

    #[test]
    fn unknown_rule_suggests() {
        let err = unknown_rule("momentun").to_string();
        assert!(err.contains("did you mean \"momentum\""), "{err}");
    }
}
