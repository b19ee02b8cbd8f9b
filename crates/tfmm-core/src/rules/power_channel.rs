//! Power channel: momentum whose signal is the slope raised to a power (>= 1), so small
//! moves are damped and large ones amplified.

use super::momentum::gradient_estimator;
use super::{
    Observation, Rule, RuleKind, RuleSettings, read_k_or_sp_k, read_lamb, read_pre_exp_scaling,
    require_one_of, zero_sum,
};
use crate::error::Result;
use crate::estimators::GradientEstimator;
use crate::params::ParamReader;
use crate::scalar::{Scalar, abs, cst, max, pow_nonneg, sign, squareplus};

pub struct PowerChannel<S> {
    estimator: GradientEstimator<S>,
    k: Vec<S>,
    exponents: Vec<S>,
    pre_exp_scaling: Vec<S>,
    signal: Vec<S>,
}

pub(crate) const PRE_EXP_NAMES: &[&str] = &[
    "sp_pre_exp_scaling",
    "logit_pre_exp_scaling",
    "raw_pre_exp_scaling",
];

/// `sign(g) * |g / (2 * pre_exp_scaling)|^exponent`: the trend part of the channel rules.
#[inline]
pub(crate) fn power_signal<S: Scalar>(gradient: S, pre_exp_scaling: S, exponent: S) -> S {
    pow_nonneg(abs(gradient / (pre_exp_scaling * 2.0)), exponent) * sign(gradient)
}

impl<S: Scalar> PowerChannel<S> {
    pub fn build(reader: &mut ParamReader<'_, S>, settings: &RuleSettings) -> Result<Self> {
        let pre_exp_scaling = read_pre_exp_scaling(reader, settings, PRE_EXP_NAMES)?;
        let lamb = read_lamb(reader)?;
        let memory_days: Vec<S> = lamb.iter().map(|&l| settings.memory_days(l)).collect();
        let k = read_k_or_sp_k(reader, &memory_days)?;
        let estimator = gradient_estimator(reader, settings, &lamb)?;
        let (_, raw) = require_one_of(reader, &["sp_exponents", "raw_exponents"])?;
        let exponents = raw
            .into_iter()
            .map(|x| max(squareplus(x), cst(1.0)))
            .collect();
        let n = k.len();
        Ok(Self {
            estimator,
            k,
            exponents,
            pre_exp_scaling,
            signal: vec![cst(0.0); n],
        })
    }
}

impl<S: Scalar> Rule<S> for PowerChannel<S> {
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
        for i in 0..g.len() {
            self.signal[i] = power_signal(g[i], self.pre_exp_scaling[i], self.exponents[i]);
        }
        zero_sum(&self.signal, &self.k, false, out);
    }

    fn readout(&self, visit: &mut dyn FnMut(&'static str, &[S])) {
        visit("ewma", self.estimator.ewma());
        visit("running_a", self.estimator.running_a());
        visit("gradients", self.estimator.gradient());
    }
}
