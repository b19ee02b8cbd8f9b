//! One code path for value and gradient: the same engine and pool run on dual numbers give
//! the f64 value and a derivative that agrees with finite differences.

use num_dual::Dual64;
use tfmm_core::params::{ParamArray, Params};
use tfmm_core::pools::G3mZeroFee;
use tfmm_core::rules::RuleSettings;
use tfmm_core::simulate::{self, Market};
use tfmm_core::weights::{Interpolation, WeightEngine, WeightSettings};
use tfmm_core::{Scalar, scalar::cst};

const N: usize = 3;
const MINUTES: usize = 20 * 1440;
const START: usize = 5 * 1440;

fn prices() -> Vec<f64> {
    (0..MINUTES)
        .flat_map(|t| {
            let d = t as f64 / 1440.0;
            [
                30000.0 * (1.0 + 0.05 * (d / 3.0).sin() + 0.002 * d),
                2000.0 * (1.0 + 0.04 * (d / 2.0).cos()),
                1.0 + 0.001 * (d / 5.0).sin(),
            ]
        })
        .collect()
}

fn settings() -> WeightSettings {
    WeightSettings {
        rule: RuleSettings {
            chunk_period: 60,
            ..RuleSettings::default()
        },
        weight_interpolation_period: 60,
        interpolation: Interpolation::ApproxOptimal,
        // Guardrails idle, so the objective is smooth in the parameters.
        maximum_change: 1.0,
        minimum_weight: Some(0.001),
        ..WeightSettings::default()
    }
}

fn params(log_k0: f64) -> Params<f64> {
    Params::new()
        .with("logit_lamb", ParamArray::vector(vec![4.0, 4.2, 3.9]))
        .with("log_k", ParamArray::vector(vec![log_k0, 1.0, 0.5]))
        .with(
            "initial_weights_logits",
            ParamArray::vector(vec![0.1, 0.0, -0.1]),
        )
}

fn final_value<S: Scalar>(params: &Params<S>) -> S {
    let p = prices();
    let mut engine = WeightEngine::build("momentum", params, N, &settings(), START).unwrap();
    let mut pool = G3mZeroFee::new(N, 1e6);
    let mut last = cst(0.0);
    simulate::simulate(
        &mut engine,
        &mut pool,
        &Market::new(N, &p),
        MINUTES - START,
        |row| last = row.value,
    )
    .unwrap();
    last
}

#[test]
fn dual_run_gives_the_value_and_its_derivative() {
    let x = 1.5;
    let mut dual = params(x).map(Dual64::from);
    let mut log_k = dual.get("log_k").unwrap().clone();
    log_k.data[0] = Dual64::new(x, 1.0);
    dual.insert("log_k", log_k);

    let v = final_value(&dual);
    let plain = final_value(&params(x));
    assert!((v.re / plain - 1.0).abs() < 1e-13, "{} vs {plain}", v.re);

    // The objective is strongly curved in log_k: a small step keeps truncation error low
    // (about 4e-4 here, from the steps 1e-4 and 1e-5), while the run's own rounding (~1e-14
    // of the value, summed over thousands of minutes) moves the difference by ~1e-3: the
    // comparison is good to about 1e-7 relative, so it is held to 1e-6.
    let h = 1e-5;
    let fd = (final_value(&params(x + h)) - final_value(&params(x - h))) / (2.0 * h);
    assert!(fd.abs() > 1.0, "the parameter should matter: {fd}");
    assert!(
        (v.eps / fd - 1.0).abs() < 1e-6,
        "dual {} vs finite difference {fd}",
        v.eps
    );
}
