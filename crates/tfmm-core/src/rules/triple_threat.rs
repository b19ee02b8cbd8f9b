//! Triple-threat mean-reversion channel: the mean-reversion channel with three separately
//! remembered slopes, one each for the envelope, the channel and the trend, all measured
//! against a common EWMA (`logit_lamb_for_ewma`) in the denominator.

use super::mean_reversion_channel::{ChannelShape, channel_signal};
use super::{Observation, Rule, RuleKind, RuleSettings, read_k, read_pre_exp_scaling, zero_sum};
use crate::error::Result;
use crate::estimators::GradientEstimator;
use crate::params::ParamReader;
use crate::scalar::{Scalar, clip, cst, logistic, squareplus};

const CHANNEL: usize = 0;
const TREND: usize = 1;
const ENVELOPE: usize = 2;

pub struct TripleThreat<S> {
    /// Channel, trend and envelope estimators (rows of `logit_lamb`).
    estimators: [GradientEstimator<S>; 3],
    k: Vec<S>,
    shape: ChannelShape<S>,
    signal: Vec<S>,
}

impl<S: Scalar> TripleThreat<S> {
    pub fn build(reader: &mut ParamReader<'_, S>, settings: &RuleSettings) -> Result<Self> {
        let pre_exp_scaling = read_pre_exp_scaling(
            reader,
            settings,
            &["logit_pre_exp_scaling", "raw_pre_exp_scaling"],
        )?;
        let lamb_ewma: Vec<S> = reader
            .require("logit_lamb_for_ewma")?
            .into_iter()
            .map(logistic)
            .collect();
        let memory_days: Vec<S> = lamb_ewma.iter().map(|&l| settings.memory_days(l)).collect();
        let k = read_k(reader, &memory_days)?;
        let cap = settings.max_lamb();
        let denominator: Vec<S> = lamb_ewma.iter().map(|&l| clip(l, 0.0, cap)).collect();
        let rows = reader.rows("logit_lamb", 3)?;
        let estimator = |row: &Vec<S>| {
            let lamb: Vec<S> = row.iter().map(|&x| clip(logistic(x), 0.0, cap)).collect();
            GradientEstimator::new(&lamb, Some(&denominator))
        };
        let estimators = [
            estimator(&rows[0]),
            estimator(&rows[1]),
            estimator(&rows[2]),
        ];
        // The rule always uses its own denominator EWMA; a delta decay has no role here.
        reader.accept("logit_delta_lamb");
        let exponents = reader
            .require("raw_exponents")?
            .into_iter()
            .map(squareplus)
            .collect();
        let amplitude = reader
            .require("log_amplitude")?
            .into_iter()
            .zip(&memory_days)
            .map(|(x, &md)| x.exp2() * md)
            .collect();
        let width = reader
            .require("raw_width")?
            .into_iter()
            .map(|x| x.exp2())
            .collect();
        let n = k.len();
        Ok(Self {
            estimators,
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

impl<S: Scalar> Rule<S> for TripleThreat<S> {
    fn n_assets(&self) -> usize {
        self.k.len()
    }

    fn kind(&self) -> RuleKind<'_, S> {
        RuleKind::Delta
    }

    fn init(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        for e in &mut self.estimators {
            e.init(obs.prices);
        }
        out.iter_mut().for_each(|o| *o = cst(0.0));
    }

    fn step(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        for e in &mut self.estimators {
            e.update(obs.prices);
        }
        let [channel, trend, envelope] =
            [CHANNEL, TREND, ENVELOPE].map(|r| self.estimators[r].gradient());
        for i in 0..self.k.len() {
            self.signal[i] = channel_signal(&self.shape, i, envelope[i], channel[i], trend[i]);
        }
        zero_sum(&self.signal, &self.k, false, out);
    }

    fn readout(&self, visit: &mut dyn FnMut(&'static str, &[S])) {
        visit("gradients_channel", self.estimators[CHANNEL].gradient());
        visit("gradients_trend", self.estimators[TREND].gradient());
        visit("gradients_envelope", self.estimators[ENVELOPE].gradient());
    }
}
