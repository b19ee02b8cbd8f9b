//! Gyroscope E-CLP conformance: reference case gyroscope_2a_f30_arb1_1m (ETH/USDC, alpha 2500,
//! beta 8000, lam 2, phi pi/4, 30 bp, one month of minutes) through `simulate::run`.
//!
//! The reference's fee path has bug B4 (it takes `R1/R0` for the pool's price, so it trades
//! every minute), which tfmm does not reproduce. The reference's numbers are explained by a
//! replica of its step below; tfmm's correct arbitrage is checked on its own terms (the
//! marginal price never leaves the fee band) and its distance to the reference is measured.
//! The zero-fee path is the reference's, checked against the curve itself and against the
//! golden weight columns (the reference reports zero-fee value shares as weights).

mod common;

use common::*;
use serde_json::Value;
use tfmm_core::params::{ParamArray, Params};
use tfmm_core::pools::gyroscope::{Eclp, GyroscopePool, GyroscopeSettings};
use tfmm_core::simulate::{self, Market, Series, Trajectory};
use tfmm_core::weights::ConstantWeights;

const CASE: &str = "gyroscope_2a_f30_arb1_1m";

struct Case {
    json: Value,
    /// Minute prices of the bout (ETH, USDC).
    prices: Vec<f64>,
    n_rows: usize,
    golden: Table,
    final_value: f64,
}

impl Case {
    fn load() -> Case {
        let dir = testdata().join("reference/cases").join(CASE);
        let json = case_json(&dir);
        let tokens = strings(&json["tokens_sorted"]);
        let table = tfmm_data::load_prices(&reference_prices(), &tokens).unwrap();
        let start = json["alignment"]["start_unix_ms"].as_i64().unwrap();
        let n_rows = json["alignment"]["n_rows_full"].as_u64().unwrap() as usize;
        let first = table.index_of(start).unwrap();
        let fin: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("final.json")).unwrap())
                .unwrap();
        Case {
            prices: table.slice(first, first + n_rows).prices,
            golden: Table::read(&dir.join("golden.csv.gz")),
            final_value: fin["final_value"].as_f64().unwrap(),
            json,
            n_rows,
        }
    }

    fn prices_at(&self, t: usize) -> &[f64] {
        &self.prices[2 * t..2 * t + 2]
    }

    fn fingerprint(&self) -> &Value {
        &self.json["run_fingerprint"]
    }

    fn pool(&self) -> GyroscopePool<f64> {
        let mut params = Params::new();
        for (k, v) in self.json["params"].as_object().unwrap() {
            params.insert(k.clone(), ParamArray::scalar(v.as_f64().unwrap()));
        }
        let fp = self.fingerprint();
        let tokens = strings(&fp["tokens"]);
        let settings = GyroscopeSettings {
            numeraire: GyroscopeSettings::numeraire_index(&tokens, fp["numeraire"].as_str())
                .unwrap(),
            ..GyroscopeSettings::new(fp["initial_pool_value"].as_f64().unwrap())
        };
        GyroscopePool::new(&params, 2, settings).unwrap()
    }

    fn curve(&self) -> Eclp<f64> {
        let p = &self.json["params"];
        let get = |k: &str| p[k].as_f64().unwrap();
        Eclp::new(get("alpha"), get("beta"), get("phi"), get("lam"))
    }

    fn run(&self, fees: f64) -> Trajectory<f64> {
        let mut pool = self.pool();
        let market = Market {
            fees: Series::Constant(fees),
            ..Market::new(2, &self.prices)
        };
        let mut weights = ConstantWeights::new(vec![0.5, 0.5], 0);
        simulate::run(&mut weights, &mut pool, &market, self.n_rows).unwrap()
    }

    /// Largest relative differences over the golden rows: (value, reserves).
    fn against_golden(
        &self,
        value: &dyn Fn(usize) -> f64,
        reserves: &dyn Fn(usize) -> [f64; 2],
    ) -> (f64, f64) {
        let g = &self.golden;
        let (row, v) = (g.col("row"), g.col("value"));
        let rc = g.cols("reserve_");
        let (mut dv, mut dr) = (0.0f64, 0.0f64);
        for r in &g.rows {
            let t = r[row] as usize;
            dv = worst((value(t) / r[v] - 1.0).abs(), dv);
            let want: Vec<f64> = rc.iter().map(|&c| r[c]).collect();
            dr = worst(max_rel(&reserves(t), &want), dr);
        }
        (dv, dr)
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// quantammsim's fee step as written (reserves.md §3.5, bug B4): the pool's price is taken
/// as `R1/R0`; outside `[gamma m, m / gamma]` of *that* the pool moves to the curve point at
/// the band edge with a gross-up that assumes the trade's direction from the band side.
/// Applied at every minute from the deposit on, as the reference's scan does.
fn reference_b4_path(case: &Case, gamma: f64) -> Vec<[f64; 2]> {
    let e = case.curve();
    let p0 = case.prices_at(0);
    let unit = e.point_at_price(1.0, p0[0] / p0[1]);
    let scale = 1e6 / (unit[0] * p0[0] + unit[1] * p0[1]);
    let mut r = [unit[0] * scale, unit[1] * scale];
    let mut rows = Vec::with_capacity(case.n_rows);
    for t in 0..case.n_rows {
        let p = case.prices_at(t);
        let m = p[0] / p[1];
        let inv = e.invariant(r[0], r[1]);
        let cp = r[1] / r[0];
        let (lo, hi) = (m * gamma, m / gamma);
        let (below, above) = (cp <= lo, hi <= cp);
        let edge = if above {
            hi
        } else if below {
            lo
        } else {
            cp
        };
        let pt = e.point_at_price(inv, edge);
        let d = [pt[0] - r[0], pt[1] - r[1]];
        let delta = if above {
            [d[0] / gamma, d[1]]
        } else if below {
            [d[0], d[1] / gamma]
        } else {
            [0.0, 0.0]
        };
        let profit = -(delta[0] * p[0] + delta[1] * p[1]);
        let next = [r[0] + delta[0], r[1] + delta[1]];
        if profit >= 0.0 && next[0] >= 0.0 && next[1] >= 0.0 {
            r = next;
        }
        rows.push(r);
    }
    rows
}

#[test]
fn zero_fee_run_sits_on_the_curve_and_matches_the_reference_weights() {
    let case = Case::load();
    let traj = case.run(0.0);
    assert_eq!(traj.n_rows(), case.n_rows);
    let e = case.curve();
    let r0 = traj.reserves_at(0);
    assert!((traj.values[0] / 1e6 - 1.0).abs() < 1e-12);
    let inv = e.invariant(r0[0], r0[1]);
    let (mut on_curve, mut drift) = (0.0f64, 0.0f64);
    for t in 0..case.n_rows {
        let p = case.prices_at(t);
        let r = traj.reserves_at(t);
        // Every minute: the point of the deposit's invariant at that minute's price.
        let want = e.point_at_price(inv, p[0] / p[1]);
        on_curve = worst(max_rel(r, &want), on_curve);
        drift = worst((e.invariant(r[0], r[1]) / inv - 1.0).abs(), drift);
    }
    // The reference's weights are the value shares of its zero-fee reserves. Its literal
    // `chi - A^-1 tau(m)` keeps only ~8 digits of the ETH reserve on this curve (2e-8 per unit
    // invariant out of terms of 1.6), so its shares carry ~1e-8 of rounding noise.
    let g = &case.golden;
    let (row, wc) = (g.col("row"), g.cols("weight_"));
    let mut weights = 0.0f64;
    for r in &g.rows {
        let want: Vec<f64> = wc.iter().map(|&c| r[c]).collect();
        weights = worst(max_abs(traj.weights_at(r[row] as usize), &want), weights);
    }
    eprintln!(
        "{CASE} zero fee: reserves vs curve point {on_curve:.1e}, invariant drift {drift:.1e}, \
         weights vs reference {weights:.1e}, final value {:.2}",
        traj.values[case.n_rows - 1]
    );
    assert!(on_curve < 1e-10, "{on_curve:e}");
    assert!(drift < 1e-10, "{drift:e}");
    assert!(weights < 2e-8, "{weights:e}");
}

#[test]
fn fee_run_arbitrages_to_the_band_edge_and_differs_from_the_reference_by_b4() {
    let case = Case::load();
    let gamma = 1.0 - case.fingerprint()["fees"].as_f64().unwrap();
    let traj = case.run(1.0 - gamma);
    let zero = case.run(0.0);
    let e = case.curve();
    let n = case.n_rows;

    // tfmm on its own terms: after every minute the curve's marginal price is inside the
    // band (within its 1e-12 slack and the price's conditioning here), and it trades only
    // when the price leaves it.
    let mut traded = 0;
    let mut outside = 0.0f64;
    for t in 0..n {
        let (p, r) = (case.prices_at(t), traj.reserves_at(t));
        let m = p[0] / p[1];
        let q = e.marginal_price(r[0], r[1], e.invariant(r[0], r[1]));
        outside = outside.max((gamma * m / q - 1.0).max(q / (m / gamma) - 1.0));
        if t > 0 && traj.reserves_at(t) != traj.reserves_at(t - 1) {
            traded += 1;
        }
    }
    assert!(
        outside < 1e-10,
        "marginal price left the band by {outside:e}"
    );
    let lp_fees: f64 = traj.lp_fees.iter().sum();
    let (fee_final, zero_final) = (traj.values[n - 1], zero.values[n - 1]);

    // The reference's numbers: its step replicated (with tfmm's accurate curve maths).
    let replica = reference_b4_path(&case, gamma);
    let replica_value = |t: usize| {
        let p = case.prices_at(t);
        replica[t][0] * p[0] + replica[t][1] * p[1]
    };
    let (rv, rr) = case.against_golden(&replica_value, &|t| replica[t]);
    let replica_final = replica_value(n - 1) / case.final_value - 1.0;

    let (dv, dr) = case.against_golden(&|t| traj.values[t], &|t| {
        [traj.reserves_at(t)[0], traj.reserves_at(t)[1]]
    });
    let final_diff = fee_final / case.final_value - 1.0;
    eprintln!(
        "{CASE} fee path: tfmm vs reference: rows value {dv:.2e}, reserves {dr:.2e}, final \
         {final_diff:+.3e} ({fee_final:.2} vs {:.2}); B4 replica vs reference: rows value \
         {rv:.1e}, reserves {rr:.1e}, final {replica_final:+.1e}; tfmm traded in {traded} of \
         {} minutes, LP fees {lp_fees:.2}, zero-fee final {zero_final:.2}",
        case.final_value,
        n - 1
    );
    // The replica reproduces the reference up to the reference's own rounding: on this curve
    // its literal `chi - A^-1 tau(m)` keeps ~8 digits of the ETH reserve, and the invariant
    // recomputed from those reserves every minute walks (6e-5 over this month at zero fees).
    // A replica with that literal f64 arithmetic lands +3.3e-5 from the reference, this one
    // (accurate) -1.9e-5: the reference's XLA arithmetic sits in between.
    assert!(
        rv < 5e-5 && rr < 1e-3 && replica_final.abs() < 5e-5,
        "{rv:e} {rr:e} {replica_final:e}"
    );
    // So the gap between tfmm and the reference is B4's, up to that noise: tfmm against the
    // replica, re-based on the reference.
    let gap_to_replica = fee_final / replica_value(n - 1) - 1.0;
    assert!((final_diff - gap_to_replica).abs() < 5e-5);
    // B4 makes the reference trade every minute and pay the fee back when the price rises
    // (it grosses up the outbound leg): it ends below even the zero-fee pool, tfmm ends above
    // it by about the fees it earned.
    assert!(case.final_value < zero_final && zero_final < fee_final);
    assert!(((fee_final - zero_final) / lp_fees - 1.0).abs() < 0.05);
    assert!(final_diff > 0.01 && final_diff < 0.02, "{final_diff:e}");
    assert!(traded < n / 4, "{traded}");
}
