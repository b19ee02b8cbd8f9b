//! Weights and reserves together over one year of minutes (525,600), the workloads the
//! targets are stated for: 3 assets, momentum, 30 bp fees, arbitrage every minute (<= 40 ms)
//! and 2 assets at zero fees (<= 5 ms).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tfmm_core::params::{ParamArray, Params};
use tfmm_core::pools::{G3mPool, G3mSettings, G3mZeroFee, Pool};
use tfmm_core::rules::RuleSettings;
use tfmm_core::simulate::{self, Market, Series};
use tfmm_core::weights::{WeightEngine, WeightSettings};

const YEAR: usize = 525_600;

/// A seeded random walk with roughly 60-80% annual volatility per asset.
fn prices(n: usize) -> Vec<f64> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut p: Vec<f64> = [30000.0, 2000.0, 100.0, 1.0][..n].to_vec();
    let mut out = Vec::with_capacity(YEAR * n);
    for _ in 0..YEAR {
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

fn momentum(n: usize) -> WeightEngine<f64> {
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
    WeightEngine::build("momentum", &params, n, &settings, 0).unwrap()
}

fn final_value(n: usize, prices: &[f64], pool: &mut dyn Pool<f64>, fees: f64) -> f64 {
    let market = Market {
        fees: Series::Constant(fees),
        ..Market::new(n, prices)
    };
    let mut last = 0.0;
    simulate::simulate(&mut momentum(n), pool, &market, YEAR, |row| {
        last = row.value
    })
    .unwrap();
    last
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_year");
    group.sample_size(10);
    let p3 = prices(3);
    group.bench_function("momentum_3_assets_fees_30bp", |b| {
        b.iter(|| {
            black_box(final_value(
                3,
                &p3,
                &mut G3mPool::new(3, G3mSettings::new(1e6)),
                0.003,
            ))
        })
    });
    let p2 = prices(2);
    group.bench_function("momentum_2_assets_zero_fees", |b| {
        b.iter(|| black_box(final_value(2, &p2, &mut G3mZeroFee::new(2, 1e6), 0.0)))
    });
    group.bench_function("momentum_2_assets_weights_and_driver_only", |b| {
        b.iter(|| {
            black_box(final_value(
                2,
                &p2,
                &mut tfmm_core::pools::Hodl::new(2, 1e6),
                0.0,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
