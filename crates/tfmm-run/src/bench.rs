//! The standard workloads behind `tfmm bench` and the criterion benches: a year of minutes
//! through the weight engine and the pools, on seeded synthetic prices so any machine can
//! run them and compare.

use std::hint::black_box;

use tfmm_core::params::{ParamArray, Params};
use tfmm_core::pools::{G3mPool, G3mSettings, G3mZeroFee, Pool};
use tfmm_core::rules::{Observation, RuleSettings};
use tfmm_core::simulate::{self, Market, Series};
use tfmm_core::weights::{WeightEngine, WeightSettings};

/// Minutes in a year.
pub const YEAR: usize = 525_600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// The weight path alone.
    Weights,
    /// Weights and reserves, zero fees (closed form).
    ZeroFee,
    /// Weights and reserves with fees: arbitrage searched every minute.
    Fees,
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub name: &'static str,
    pub n_assets: usize,
    pub fees: f64,
    pub minutes: usize,
    pub job: Job,
}

/// The workloads the performance targets are stated for.
pub fn standard() -> Vec<Workload> {
    vec![
        Workload {
            name: "momentum weights, cp 60",
            n_assets: 3,
            fees: 0.0,
            minutes: YEAR,
            job: Job::Weights,
        },
        Workload {
            name: "momentum pool, zero fees",
            n_assets: 2,
            fees: 0.0,
            minutes: YEAR,
            job: Job::ZeroFee,
        },
        Workload {
            name: "momentum pool, 30 bp, arb every minute",
            n_assets: 3,
            fees: 0.003,
            minutes: YEAR,
            job: Job::Fees,
        },
    ]
}

/// A seeded geometric random walk, about 75% annual volatility per asset.
pub fn synthetic_prices(n_assets: usize, minutes: usize) -> Vec<f64> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut p: Vec<f64> = (0..n_assets)
        .map(|a| 30000.0 / 10f64.powi(a as i32))
        .collect();
    let mut out = Vec::with_capacity(minutes * n_assets);
    for _ in 0..minutes {
        for x in p.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            *x *= 1.0 + 3.5e-3 * (u - 0.5);
        }
        out.extend_from_slice(&p);
    }
    out
}

/// A momentum pool (10-day memory at chunk_period 60, k = 16 per day, equal start).
fn engine(n_assets: usize) -> WeightEngine<f64> {
    let params = Params::new()
        .with("logit_lamb", ParamArray::scalar(4.180117994737377))
        .with("log_k", ParamArray::scalar(4.0))
        .with("initial_weights_logits", ParamArray::scalar(0.0));
    let settings = WeightSettings {
        rule: RuleSettings {
            chunk_period: 60,
            ..RuleSettings::default()
        },
        weight_interpolation_period: 60,
        ..WeightSettings::default()
    };
    WeightEngine::build("momentum", &params, n_assets, &settings, 0).expect("a valid workload")
}

impl Workload {
    fn simulate(
        &self,
        engine: &mut WeightEngine<f64>,
        pool: &mut impl Pool<f64>,
        prices: &[f64],
    ) -> f64 {
        let market = Market {
            fees: Series::Constant(self.fees),
            ..Market::new(self.n_assets, prices)
        };
        let mut last = 0.0;
        simulate::simulate(engine, pool, &market, self.minutes, |row| last = row.value)
            .expect("a valid workload");
        last
    }

    pub fn prices(&self) -> Vec<f64> {
        synthetic_prices(self.n_assets, self.minutes)
    }

    /// Runs once over `prices` and returns the final value (or a weight, for the weight
    /// path) so the work cannot be optimised away.
    pub fn run(&self, prices: &[f64]) -> f64 {
        let n = self.n_assets;
        let mut engine = engine(n);
        let mut last = 0.0;
        match self.job {
            Job::Weights => {
                for row in prices.chunks_exact(n) {
                    if let Some(w) = engine.step(&Observation::prices(row)) {
                        last += w[0];
                    }
                }
            }
            Job::ZeroFee => last = self.simulate(&mut engine, &mut G3mZeroFee::new(n, 1e6), prices),
            Job::Fees => {
                last = self.simulate(
                    &mut engine,
                    &mut G3mPool::new(n, G3mSettings::new(1e6)),
                    prices,
                )
            }
        }
        black_box(last)
    }
}
