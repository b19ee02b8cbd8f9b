//! A strategy of your own, run through tfmm's engine: the same guardrails, interpolation,
//! burn-in and reserves as the built-in rules.
//!
//! The rule here is a simple mean reversion: move weight toward assets trading below their
//! EWMA and away from those above it. Run with `cargo run --example custom_rule`.

use tfmm_core::Scalar;
use tfmm_core::estimators::Ewma;
use tfmm_core::pools::G3mZeroFee;
use tfmm_core::rules::{Observation, Rule, RuleKind, zero_sum};
use tfmm_core::scalar::cst;
use tfmm_core::simulate::{self, Market};
use tfmm_core::weights::{Guardrails, Interpolation, Schedule, WeightEngine};

/// Weight changes proportional to how far each price sits below its EWMA.
struct RevertToAverage<S> {
    average: Ewma<S>,
    strength: Vec<S>,
    signal: Vec<S>,
}

impl<S: Scalar> RevertToAverage<S> {
    fn new(decay: f64, strength: f64, n_assets: usize) -> Self {
        Self {
            average: Ewma::new(&vec![cst(decay); n_assets]),
            strength: vec![cst(strength); n_assets],
            signal: vec![cst(0.0); n_assets],
        }
    }
}

impl<S: Scalar> Rule<S> for RevertToAverage<S> {
    fn n_assets(&self) -> usize {
        self.strength.len()
    }

    fn kind(&self) -> RuleKind<'_, S> {
        RuleKind::Delta
    }

    fn init(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.average.init(obs.prices);
        out.iter_mut().for_each(|o| *o = cst(0.0));
    }

    fn step(&mut self, obs: &Observation<'_>, out: &mut [S]) {
        self.average.update(obs.prices);
        for (i, s) in self.signal.iter_mut().enumerate() {
            // Relative discount to the average: positive when the price is below it.
            *s = self.average.value()[i] / obs.prices[i] - 1.0;
        }
        // Changes that sum to zero, so weights stay normalised.
        zero_sum(&self.signal, &self.strength, true, out);
    }
}

/// Two assets oscillating against each other around a slow drift.
fn synthetic_prices(minutes: usize) -> Vec<f64> {
    (0..minutes)
        .flat_map(|t| {
            let day = t as f64 / 1440.0;
            let swing = (day * std::f64::consts::TAU / 5.0).sin();
            [2000.0 * (1.0 + 0.1 * swing + 0.01 * day), 1.0]
        })
        .collect()
}

fn main() -> tfmm_core::Result<()> {
    let n_assets = 2;
    let burn_in = 10 * 1440;
    let minutes = burn_in + 60 * 1440;
    let prices = synthetic_prices(minutes);

    let rule = RevertToAverage::<f64>::new(0.95, 0.5, n_assets);
    let guard = Guardrails {
        minimum_weight: 0.1,
        maximum_change: 3e-4,
        interpol_num: 61,
        bounds: None,
        ste_min_max_weight: false,
        ste_max_change: false,
    };
    let schedule = Schedule {
        chunk_period: 60,
        interpolation: Interpolation::Linear,
        start: burn_in,
    };
    let mut engine = WeightEngine::new(Box::new(rule), guard, schedule, vec![0.5, 0.5])?;
    let mut pool = G3mZeroFee::new(n_assets, 1_000_000.0);
    let market = Market::new(n_assets, &prices);
    let path = simulate::run(&mut engine, &mut pool, &market, minutes - burn_in)?;

    let last = path.n_rows() - 1;
    let hodl: f64 = (0..n_assets)
        .map(|a| {
            0.5 * 1_000_000.0 / prices[burn_in * n_assets + a]
                * prices[(burn_in + last) * n_assets + a]
        })
        .sum();
    println!("custom rule over {} days", path.n_rows() / 1440);
    println!("  final weights {:.4?}", path.weights_at(last));
    println!("  final value   {:.2} (HODL {hodl:.2})", path.values[last]);
    Ok(())
}
