//! Time-varying fees, gas and user trades in a run.

mod common;

use common::*;
use serde_json::{Value, json};

/// A 3-asset momentum case over January 2023 (30 bp in its fingerprint).
fn case() -> Value {
    let mut case = case_json(&testdata().join("reference/cases/momentum_3a_f30_arb1_cp60_lin_1m"));
    // One week keeps the test quick.
    case["run_fingerprint"]["endDateString"] = json!("2023-01-08 00:00:00");
    case
}

fn run(case: &Value) -> tfmm_run::RunOutput {
    tfmm_run::run(&tfmm_run::config::parse(case).unwrap(), &reference_prices()).unwrap()
}

const START: i64 = 1_672_531_200_000;
const WEEK: usize = 7 * 1440;

#[test]
fn a_constant_series_equals_the_constant_setting() {
    let base = run(&case());
    let mut per_minute = case();
    per_minute["fees_df"] = json!({"fees": vec![0.003; WEEK]});
    let out = run(&per_minute);
    assert_eq!(out.trajectory.values, base.trajectory.values);
    assert!(base.trajectory.lp_fees.iter().sum::<f64>() > 100.0);
}

#[test]
fn fees_follow_the_series_and_zero_means_zero() {
    let mut halves = case();
    // 30 bp, then free from day 4 on (a genuine zero, not a gap to fill).
    halves["fees_df"] = json!({"unix": [START, START + 3 * 86_400_000], "fees": [0.003, 0.0]});
    let out = run(&halves);
    let fees = &out.trajectory.lp_fees;
    assert!(fees[..3 * 1440].iter().sum::<f64>() > 10.0);
    assert_eq!(fees[3 * 1440..].iter().sum::<f64>(), 0.0);
    // From a CSV file, relative to the config's folder.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fees.csv"),
        format!("unix,fees\n{START},0.003\n{},0.0\n", START + 3 * 86_400_000),
    )
    .unwrap();
    let mut from_file = case();
    from_file["fees_df"] = json!("fees.csv");
    let config = tfmm_run::config::parse_in(&from_file, dir.path()).unwrap();
    let file_out = tfmm_run::run(&config, &reference_prices()).unwrap();
    assert_eq!(file_out.trajectory.values, out.trajectory.values);
}

#[test]
fn user_trades_move_reserves_and_pay_fees() {
    let base = run(&case());
    let mut traded = case();
    let minute = 100;
    traded["raw_trades"] = json!({
        "unix": [START + minute as i64 * 60_000],
        "token_in": ["USDC"],
        "token_out": ["BTC"],
        "amount_in": [50_000.0],
    });
    let out = run(&traded);
    let (n, t) = (3, &out.trajectory);
    assert_eq!(
        t.reserves[..minute * n],
        base.trajectory.reserves[..minute * n]
    );
    // The trade's 30 bp fee (150 USDC at ~1), and the fee of the arbitrage that brings the
    // pool back to market prices in the same minute, show in that minute's revenue.
    assert!(t.lp_fees[minute] - base.trajectory.lp_fees[minute] > 150.0);
    // The swap was priced against the market: LPs end that minute richer.
    assert!(t.values[minute] > base.trajectory.values[minute]);

    // Without arbitrageurs the trade stays in the reserves: USDC (index 2) up by the amount
    // in, BTC (index 0) paid out.
    let mut idle = traded.clone();
    idle["run_fingerprint"]["do_arb"] = json!(false);
    let still = run(&idle);
    let before = still.trajectory.reserves_at(minute - 1).to_vec();
    let after = still.trajectory.reserves_at(minute);
    assert!(
        (after[2] - before[2] - 50_000.0).abs() < 1e-6,
        "{}",
        after[2] - before[2]
    );
    assert!(after[0] < before[0]);
}

#[test]
fn bad_market_inputs_are_named() {
    let err = |case: &Value| {
        tfmm_run::config::parse(case)
            .and_then(|c| tfmm_run::run(&c, &reference_prices()))
            .unwrap_err()
            .to_string()
    };
    let mut short = case();
    short["fees_df"] = json!({"fees": [0.003, 0.003]});
    let e = err(&short);
    assert!(
        e.contains("fees_df = 2 values") && e.contains("10080 simulated minutes"),
        "{e}"
    );

    let mut unknown = case();
    unknown["raw_trades"] =
        json!({"unix": [START], "token_in": ["SOL"], "token_out": ["BTC"], "amount_in": [1.0]});
    let e = err(&unknown);
    assert!(
        e.contains("\"SOL\"") && e.contains("is not a pool token (BTC, ETH, USDC)"),
        "{e}"
    );

    let mut negative = case();
    negative["gas_cost_df"] = json!({"trade_gas_cost_usd": vec![-1.0; WEEK]});
    let e = err(&negative);
    assert!(e.contains("gas_cost_df (minute 0) = -1"), "{e}");
}
