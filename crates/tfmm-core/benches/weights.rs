//! The weight path of a 3-asset momentum pool over one year of minutes (chunk_period 60),
//! alone and with zero-fee reserves. Target for the weight path: <= 10 ms on 2 cores.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tfmm_core::params::{ParamArray, Params};
use tfmm_core::pools::G3mZeroFee;
use tfmm_core::rules::{Observation, RuleSettings};
use tfmm_core::simulate::{self, Market};
use tfmm_core::weights::{WeightEngine, WeightSettings};

const YEAR: usize = 525_600;
const N: usize = 3;

fn prices() -> Vec<f64> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut p = [30000.0, 2000.0, 100.0];
    let mut out = Vec::with_capacity(YEAR * N);
    for _ in 0..YEAR {
        for x in p.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            *x *= 1.0 + 2e-3 * (u - 0.5);
        }
        out.extend_from_slice(&p);
    }
    out
}

fn engine() -> WeightEngine<f64> {
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
    WeightEngine::build("momentum", &params, N, &settings, 0).unwrap()
}

fn bench(c: &mut Criterion) {
    let p = prices();
    let mut group = c.benchmark_group("momentum_3_assets_one_year_cp60");
    group.sample_size(20);
    group.bench_function("weights", |b| {
        b.iter(|| {
            let mut e = engine();
            let mut acc = 0.0;
            for row in p.chunks_exact(N) {
                if let Some(w) = e.step(&Observation::prices(row)) {
                    acc += w[0];
                }
            }
            black_box(acc)
        })
    });
    group.bench_function("weights_and_zero_fee_reserves", |b| {
        b.iter(|| {
            let mut pool = G3mZeroFee::new(N, 1e6);
            let mut last = 0.0;
            simulate::simulate(&mut engine(), &mut pool, &Market::new(N, &p), YEAR, |row| {
                last = row.value
            })
            .unwrap();
            black_box(last)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
