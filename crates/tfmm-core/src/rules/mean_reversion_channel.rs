//! Mean-reversion channel: inside a band of width `w` around zero slope, trade against the
//! move (a cubic "channel" scaled by `amplitude`); outside it, follow the trend like the
//! power channel. A Gaussian envelope blends the two.

use super::momentum::gradient_estimator;
use super::power_channel::{PRE_EXP_NAMES, power_signal};
use super::{
    Observation, Rule, RuleKind, RuleSettings, read_k_or_sp_k, read_lamb, read_pre_exp_scaling,
    require_one_of, zero_sum,
};
use crate::error::Result;
use crate::estimators::GradientEstimator;
use crate::params::ParamReader;
use crate::scalar::{Scalar, cst, squareplus};

/// Normalises the cubic `z - z^3/6` so the channel's peak response is about `amplitude`.
const CHANNEL_SCALE: f64 = 0.5415;

/// The channel rules' shape parameters per asset.
#[derive(Clone, Debug)]
pub(crate) struct ChannelShape<S> {
    pub width: Vec<S>,
    pub amplitude: Vec<S>,
    pub exponents: Vec<S>,
    pub pre_exp_scaling: Vec<S>,
}

/// Channel plus trend signal for one asset. `envelope_g` sets the Gaussian envelope,
/// `channel_g` the cubic and `trend_g` the trend part (all the same gradient except in the
/// triple-threat rule).
#[inline]
pub(crate) fn channel_signal<S: Scalar>(
    shape: &ChannelShape<S>,
    i: usize,
    envelope_g: S,
    channel_g: S,
    trend_g: S,
) -> S {
    let w = shape.width[i];
    let envelope = (-(envelope_g * envelope_g) / ((w * w) * 2.0)).exp();
    let z = channel_g * std::f64::consts::PI / (w * 3.0);
    let channel = -shape.amplitude[i] * envelope * (z - z * z * z / 6.0) / CHANNEL_SCALE;
    let trend = (cst::<S>(1.0) - envelope)
        * power_signal(trend_g, shape.pre_exp_scaling[i], shape.exponents[i]);
    channel + trend
}

pub struct MeanReversionChannel<S> {
    estimator: GradientEstimator<S>,
    k: Vec<S>,
    shape: ChannelShape<S>,
    signal: Vec<S>,
}

impl<S: Scalar> MeanReversionChannel<S> {
    pub fn build(reader: &mut ParamReader<'_, S>, settings: &RuleSettings) -> Result<Self> {
        let pre_exp_scaling = read_pre_exp_scaling(reader, settings, PRE_EXP_NAMES)?;
        let lamb = read_lamb(reader)?;
        let memory_days: Vec<S> = lamb.iter().map(|&l| settings.memory_days(l)).collect();
        let k = read_k_or_sp_k(reader, &memory_days)?;
        let estimator = gradient_estimator(reader, settings, &lamb)?;
        let (_, raw) = require_one_of(reader, &["sp_exponents", "raw_exponents"])?;
        let exponents = raw.into_iter().map(squareplus).collect();
        let (name, raw) = require_one_of(reader, &["sp_amplitude", "log_amplitude"])?;
        let amplitude = raw
            .into_iter()
            .zip(&memory_days)
            .map(|(x, &md)| {
                if name == "sp_amplitude" {
                    squareplus(x) * md
                } else {
                    x.exp2() * md
                }
            })
            .collect();
        let (name, raw) = require_one_of(reader, &["sp_width", "raw_width"])?;
        let width = raw
            .into_iter()
            .map(|x| {
                if name == "sp_width" {
                    squareplus(x)
                } else {
                    x.exp2()
                }
            })
            .collect();
        let n = k.len();
        Ok(Self {
            estimator,
            k,
            shape: ChannelShape {
                width,
                amplitude,
                exponents,
                pre_exp_scaling,
            },
            signal: vec![cst(0.0); n],
        })
    }
}

impl<S: Scalar> Rule<S> for MeanReversionChannel<S> {
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
            self.signal[i] = channel_signal(&self.shape, i, g[i], g[i], g[i]);
        }
        zero_sum(&self.signal, &self.k, false, out);
    }

    fn readout(&self, visit: &mut dyn FnMut(&'static str, &[S])) {
        visit("ewma", self.estimator.ewma());
        visit("running_a", self.estimator.running_a());
        visit("gradients", self.estimator.gradient());
    }
}
