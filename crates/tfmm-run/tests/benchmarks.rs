//! Rebalancing benchmarks: `lvr__` and `rvr__` rules run the pool and a portfolio rebalanced
//! to the same weights every minute.

mod common;

use common::*;
use serde_json::{Value, json};

fn case(rule: &str, fees: f64) -> Value {
    let mut case = case_json(&testdata().join("reference/cases/momentum_3a_f0_arb1_cp60_lin_1m"));
    case["run_fingerprint"]["rule"] = json!(rule);
    case["run_fingerprint"]["fees"] = json!(fees);
    case["run_fingerprint"]["endDateString"] = json!("2023-01-11 00:00:00");
    case
}

fn run(case: &Value) -> tfmm_run::RunOutput {
    tfmm_run::run(&tfmm_run::config::parse(case).unwrap(), &reference_prices()).unwrap()
}

#[test]
fn frictionless_rebalancing_beats_the_pool_by_the_loss_versus_rebalancing() {
    let out = run(&case("lvr__momentum", 0.0));
    let pool = run(&case("momentum", 0.0));
    let pool_values = out.pool_values().unwrap();
    assert_eq!(pool_values, pool.trajectory.values);
    // Arbitrage is the pool's only cost at zero fees: the benchmark ends above it, and the
    // gap grows over time (it is a running loss).
    let gap: Vec<f64> = out
        .trajectory
        .values
        .iter()
        .zip(pool_values)
        .map(|(b, p)| b - p)
        .collect();
    let last = gap.len() - 1;
    assert!(gap[last] > 0.0, "{}", gap[last]);
    assert!(gap[last] > gap[last / 2] && gap[last / 2] > gap[last / 10]);
    // The benchmark holds the pool's weights exactly.
    assert_eq!(out.trajectory.weights, pool.trajectory.weights);
}

#[test]
fn spreads_make_rebalancing_cost_more() {
    let lvr = run(&case("lvr__momentum", 0.003));
    let mut rvr_case = case("rvr__momentum", 0.003);
    rvr_case["run_fingerprint"]["rvr_spread"] = json!([0.0005, 0.0005, 0.0001]);
    let rvr = run(&rvr_case);
    assert!(rvr.final_value() < lvr.final_value());
    assert_eq!(rvr.pool_values(), lvr.pool_values());

    let missing = case("rvr__momentum", 0.003);
    let err = tfmm_run::config::parse(&missing).unwrap_err().to_string();
    assert!(err.contains("rvr_spread"), "{err}");
}
