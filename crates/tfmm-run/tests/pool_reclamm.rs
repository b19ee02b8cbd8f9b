//! Conformance of the reCLAMM pool with quantammsim's reference runs (BTC/ETH, January 2023,
//! synthetic prices): zero fee to 1e-9 on every golden row; 25 bp fee cases to 1e-3 on the
//! final value and 1e-2 on every row, LP fee revenue compared, with the two places where the
//! reference's rounding coin toss (B0) prevents that measured and explained at their tests.

mod common;

use common::*;
use serde_json::Value;
use tfmm_core::params::{ParamArray, Params};
use tfmm_core::pools::arbitrage::Validity;
use tfmm_core::pools::reclamm::{ReclammInterpolation, ReclammPool, ReclammSettings, ReclammState};
use tfmm_core::simulate::{self, Market, Series, Trajectory};
use tfmm_core::weights::ConstantWeights;

struct Case {
    json: Value,
    trajectory: Trajectory<f64>,
    golden: Table,
    final_value: f64,
    prices: Vec<f64>,
}

fn number(fp: &Value, key: &str, default: f64) -> f64 {
    fp.get(key).and_then(Value::as_f64).unwrap_or(default)
}

/// The pool settings a case's run fingerprint carries.
fn settings(fp: &Value, validity: Validity) -> ReclammSettings {
    let interpolation = fp
        .get("reclamm_interpolation_method")
        .and_then(Value::as_str)
        .map_or(
            Ok(ReclammInterpolation::Geometric),
            ReclammInterpolation::parse,
        )
        .unwrap();
    let initial_state = fp
        .get("reclamm_initial_state")
        .filter(|v| !v.is_null())
        .map(|s| ReclammState {
            ra: s["Ra"].as_f64().unwrap(),
            rb: s["Rb"].as_f64().unwrap(),
            va: s["Va"].as_f64().unwrap(),
            vb: s["Vb"].as_f64().unwrap(),
        });
    ReclammSettings {
        initial_value: number(fp, "initial_pool_value", 1e6),
        interpolation,
        arc_length_speed: fp.get("reclamm_arc_length_speed").and_then(Value::as_f64),
        centeredness_scaling: fp
            .get("reclamm_centeredness_scaling")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        initial_state,
        noise_trader_ratio: number(fp, "noise_trader_ratio", 0.0),
        protocol_fee_split: number(fp, "protocol_fee_split", 0.0),
        validity,
    }
}

fn run_case(name: &str, validity: Validity) -> Case {
    let dir = testdata().join("reference/cases").join(name);
    let json = case_json(&dir);
    let fp = fingerprint(&json).clone();
    let tokens: Vec<String> = serde_json::from_value(json["tokens_sorted"].clone()).unwrap();
    let table = tfmm_data::load_prices(&reference_prices(), &tokens).unwrap();
    let start = tfmm_data::parse_utc(fp["startDateString"].as_str().unwrap()).unwrap();
    let end = tfmm_data::parse_utc(fp["endDateString"].as_str().unwrap()).unwrap();
    // The pool needs no history: no burn-in.
    let window = tfmm_data::select_window(&table, start, end, 0.0).unwrap();
    let rows = window.sim_rows();
    let data = table.slice(rows.start, rows.end);
    assert_eq!(
        window.n_rows,
        json["alignment"]["n_rows_full"].as_u64().unwrap() as usize
    );
    let mut params = Params::new();
    for (key, v) in json["params"].as_object().unwrap() {
        let values: Vec<f64> = serde_json::from_value(v.clone()).unwrap();
        params.insert(key.clone(), ParamArray::vector(values));
    }
    let mut pool = ReclammPool::from_params(&params, 2, settings(&fp, validity)).unwrap();
    let market = Market {
        fees: Series::Constant(number(&fp, "fees", 0.0)),
        gas_cost: Series::Constant(number(&fp, "gas_cost", 0.0)),
        arb_fees: Series::Constant(number(&fp, "arb_fees", 0.0)),
        arb_frequency: fp["arb_frequency"].as_u64().unwrap() as usize,
        do_arb: fp["do_arb"].as_bool().unwrap(),
        ..Market::new(2, &data.prices)
    };
    let mut weights = ConstantWeights::new(vec![0.5, 0.5], 0);
    let trajectory = simulate::run(&mut weights, &mut pool, &market, window.n_rows).unwrap();
    let golden = Table::read(&dir.join("golden.csv.gz"));
    let fin: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("final.json")).unwrap()).unwrap();
    Case {
        json,
        trajectory,
        golden,
        final_value: fin["final_value"].as_f64().unwrap(),
        prices: data.prices.clone(),
    }
}

/// Largest differences over the golden rows.
#[derive(Debug, Default)]
struct Diff {
    value: f64,
    reserves: f64,
    /// Reserve differences in value: `max_i |R_i - R_i'|·p_i / V'`. A reserve drained to
    /// dust (1e-7 BTC) in one run and not yet in the other is a large relative difference
    /// of an amount worth nothing.
    reserve_value: f64,
    /// Golden rows whose reserves differ by more than 1e-2 of the pool's value.
    rows_over: usize,
    rows: usize,
    weights: f64,
    final_value: f64,
}

fn diff(case: &Case) -> Diff {
    let g = &case.golden;
    let t = &case.trajectory;
    let (row, value) = (g.col("row"), g.col("value"));
    let (wc, rc) = (g.cols("weight_"), g.cols("reserve_"));
    let mut d = Diff::default();
    for r in &g.rows {
        let i = r[row] as usize;
        let want_r: Vec<f64> = rc.iter().map(|&c| r[c]).collect();
        let want_w: Vec<f64> = wc.iter().map(|&c| r[c]).collect();
        d.value = d.value.max((t.values[i] / r[value] - 1.0).abs());
        d.reserves = d.reserves.max(max_rel(t.reserves_at(i), &want_r));
        let p = &case.prices[i * 2..i * 2 + 2];
        let worth = (0..2)
            .map(|k| (t.reserves_at(i)[k] - want_r[k]).abs() * p[k] / r[value])
            .fold(0.0, f64::max);
        d.reserve_value = d.reserve_value.max(worth);
        d.rows += 1;
        d.rows_over += usize::from(worth > 1e-2);
        d.weights = d.weights.max(max_abs(t.weights_at(i), &want_w));
    }
    d.final_value = (t.values[t.n_rows() - 1] / case.final_value - 1.0).abs();
    d
}

/// LP fee revenue summed over the golden rows in `rows` (ours, the reference's).
fn fee_sums(case: &Case, rows: std::ops::Range<usize>) -> (f64, f64) {
    let g = &case.golden;
    let (row, fee) = (g.col("row"), g.col("fee_revenue"));
    g.rows
        .iter()
        .filter(|r| rows.contains(&(r[row] as usize)))
        .fold((0.0, 0.0), |(ours, theirs), r| {
            (
                ours + case.trajectory.lp_fees[r[row] as usize],
                theirs + r[fee],
            )
        })
}

#[test]
fn zero_fee_case_matches_every_golden_row() {
    let case = run_case("reclamm_2a_f0_arb1_1m", Validity::Tolerant);
    let d = diff(&case);
    eprintln!(
        "reclamm_2a_f0_arb1_1m: value {:.1e}, reserves {:.1e}, |dw| {:.1e}, final value {:.1e}",
        d.value, d.reserves, d.weights, d.final_value
    );
    assert!(
        d.value < 1e-9 && d.reserves < 1e-9 && d.final_value < 1e-9,
        "{d:?}"
    );
    // At zero fees the reported weights are ours too: value shares of the same reserves.
    assert!(d.weights < 1e-9, "{d:?}");
    assert!(case.trajectory.lp_fees.iter().all(|&f| f == 0.0));
}

/// Fee cases: the reference drops about 15 % of correct arbitrage trades on a rounding coin
/// toss (B0) and trades a minute later; tfmm makes them. Rows then differ by what the pool
/// earned on the extra volume, and single-minute fee revenue moves between neighbouring
/// minutes, so fees are compared as sums over runs of consecutive minutes. The reference's
/// own validity test (`Validity::ReferenceExact`) is run too, to show where the gap comes
/// from. Returns the differences and the fee-sum differences (tolerant, then exact).
fn fee_case(name: &str) -> Vec<(Diff, Vec<f64>)> {
    let mut out = vec![];
    for validity in [Validity::Tolerant, Validity::ReferenceExact] {
        let case = run_case(name, validity);
        let d = diff(&case);
        let n = case.trajectory.n_rows();
        let blocks = [
            ("first 240 min", 0..240),
            ("last 240 min", n - 240..n),
            ("all golden rows", 0..n),
        ];
        let mut fee_text = String::new();
        let mut fee_diffs = vec![];
        for (label, rows) in &blocks {
            let (ours, theirs) = fee_sums(&case, rows.clone());
            fee_diffs.push(ours / theirs - 1.0);
            fee_text += &format!(
                " {label} {ours:.3}/{theirs:.3} ({:+.1e});",
                ours / theirs - 1.0
            );
        }
        let t = &case.trajectory;
        let signed = t.values[n - 1] / case.final_value - 1.0;
        eprintln!(
            "{name} [{validity:?}]: final value {signed:+.1e}; max over rows: value {:.1e}, \
             reserves {:.1e} relative, {:.1e} of pool value ({} of {} rows over 1e-2); LP fees ours/ref:{fee_text} total \
             LP fees {:.2}",
            d.value,
            d.reserves,
            d.reserve_value,
            d.rows_over,
            d.rows,
            t.lp_fees.iter().sum::<f64>()
        );
        assert!(fingerprint(&case.json)["fees"].as_f64().unwrap() > 0.0);
        out.push((d, fee_diffs));
    }
    out
}

#[test]
fn fee_case_matches_reference() {
    let runs = fee_case("reclamm_2a_f25_arb1_1m");
    for (d, fees) in &runs {
        assert!(d.final_value < 1e-3, "{d:?}");
        assert!(d.value < 1e-2 && d.reserves < 1e-2, "{d:?}");
        // Fees over blocks of consecutive minutes agree to the dropped trades' share.
        assert!(fees.iter().all(|f| f.abs() < 0.1), "{fees:?}");
    }
}

// A narrow range (price ratio 1.05) the market leaves on both sides: most minutes trade and
// fee income is ~10 % of the pool's value over the month, so the trades B0 drops show in the
// final value (~3e-3); with the reference's own validity test tfmm is within 1e-3. In a 5 %
// wide range a 0.1 % price move shifts ~4 % of the value between the tokens, so one
// accept/reject decision taken a minute apart moves a row's reserves by up to ~4 % of the
// pool's value (the same with the reference's test: its decisions are rounding noise).
#[test]
fn out_of_range_fee_case_matches_reference() {
    let runs = fee_case("reclamm_2a_f25_outofrange_1m");
    let (tolerant, exact) = (&runs[0].0, &runs[1].0);
    assert!(tolerant.final_value < 5e-3, "{tolerant:?}");
    assert!(exact.final_value < 1e-3, "{exact:?}");
    for (d, fees) in &runs {
        assert!(d.value < 1e-2, "{d:?}");
        assert!(d.reserve_value < 0.06 && d.rows_over * 10 < d.rows, "{d:?}");
        assert!(fees.iter().all(|f| f.abs() < 0.1), "{fees:?}");
    }
}
