//! Conformance with quantammsim: every reference case whose rule tfmm simulates, against the
//! golden rows copied into testdata/reference (see its README for the subsampling).

mod common;

use common::*;
use serde_json::{Value, json};
use tfmm_core::params::ParamReader;
use tfmm_core::pools::arbitrage::Validity;
use tfmm_core::pools::{G3mPool, G3mSettings, G3mZeroFee, Pool};
use tfmm_core::rules::{Observation, Rule, RuleKind, build_rule};
use tfmm_core::simulate::{self, Market, Series, Trajectory};
use tfmm_core::weights::{Guardrails, Schedule, WeightEngine};
use tfmm_run::RunConfig;

/// Pools with their own conformance tests (tests/pool_*.rs).
const OWN_TESTS: &[&str] = &["cow", "gyroscope", "reclamm"];
/// Pools without a strategy rule.
const RULELESS: &[&str] = &["balancer", "hodl"];

fn all_cases() -> Vec<(String, Value)> {
    cases()
        .into_iter()
        .map(|dir| {
            (
                dir.file_name().unwrap().to_string_lossy().to_string(),
                case_json(&dir),
            )
        })
        .filter(|(_, case)| !OWN_TESTS.contains(&base_rule(case).as_str()))
        .collect()
}

fn tfmm_cases() -> Vec<(String, Value)> {
    all_cases()
        .into_iter()
        .filter(|(_, case)| !RULELESS.contains(&base_rule(case).as_str()))
        .collect()
}

/// The case as given, with quantammsim's validity test for fee-path arbitrage: its
/// numbers can only be compared with that test (reserves.md §2.9).
fn config(case: &Value) -> RunConfig {
    let mut case = case.clone();
    case["run_fingerprint"]["arb_validity"] = json!("exact");
    tfmm_run::config::parse(&case).unwrap()
}

/// The case's config with fees set to zero: for checks of weights and rule outputs, which do
/// not depend on fees.
fn weight_config(case: &Value) -> RunConfig {
    let mut case = case.clone();
    for key in ["fees", "gas_cost", "arb_fees"] {
        case["run_fingerprint"][key] = json!(0.0);
    }
    tfmm_run::config::parse(&case).unwrap()
}

fn golden(name: &str) -> Table {
    Table::read(
        &testdata()
            .join("reference/cases")
            .join(name)
            .join("golden.csv.gz"),
    )
}

struct Diff {
    weights: f64,
    value: f64,
    reserves: f64,
}

/// Largest differences over the golden rows (matched by row index).
fn diff(traj: &Trajectory<f64>, golden: &Table) -> Diff {
    let row = golden.col("row");
    let value = golden.col("value");
    let (wc, rc) = (golden.cols("weight_"), golden.cols("reserve_"));
    let mut d = Diff {
        weights: 0.0,
        value: 0.0,
        reserves: 0.0,
    };
    for g in &golden.rows {
        let r = g[row] as usize;
        let want_w: Vec<f64> = wc.iter().map(|&c| g[c]).collect();
        let want_r: Vec<f64> = rc.iter().map(|&c| g[c]).collect();
        d.weights = worst(max_abs(traj.weights_at(r), &want_w), d.weights);
        d.reserves = worst(max_rel(traj.reserves_at(r), &want_r), d.reserves);
        d.value = worst((traj.values[r] / g[value] - 1.0).abs(), d.value);
    }
    d
}

/// Rule rows of difference momentum are differences of nearly equal EWMAs, so the
/// reference's ulp-level error in lambda shows at ~1e-7 there, and ~3e-10 in weights.
fn rule_output_tolerance(rule: &str) -> f64 {
    if rule == "difference_momentum" {
        1e-6
    } else {
        1e-10
    }
}

fn weight_tolerance(rule: &str) -> f64 {
    // The reference's logit form of difference momentum round-trips lambda through its
    // ill-conditioned memory-days formula (spec weights.md §9.2).
    if rule == "difference_momentum" {
        1e-9
    } else {
        1e-10
    }
}

/// Fee paths: the reference decides trade / no trade by a coin toss (reserves.md §2.9), so
/// its fee-path values move ~5e-5 by themselves; tfmm's arbitrage is deterministic.
const FEE_FINAL_VALUE: f64 = 1e-3;
const FEE_ROW: f64 = 1e-2;
const FEE_RESERVES: f64 = 1e-1;

#[test]
fn weights_values_and_reserves_match_reference() {
    let mut failures = vec![];
    let mut checked = 0;
    for (name, case) in all_cases() {
        let rule = base_rule(&case);
        if rule == "min_variance" {
            continue; // its own test: the reference has a look-ahead we do not reproduce
        }
        let out = tfmm_run::run(&config(&case), &reference_prices())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let g = golden(&name);
        assert_eq!(
            out.n_rows(),
            case["alignment"]["n_rows_full"].as_u64().unwrap() as usize,
            "{name}"
        );
        let d = diff(&out.trajectory, &g);
        let zero_fee = is_zero_fee(&case);
        let final_value = g.rows.last().unwrap()[g.col("value")];
        let final_diff = out.final_value() / final_value - 1.0;
        let tolerant = if zero_fee {
            String::new()
        } else {
            // tfmm's default validity test: the deviation, reported.
            let out = tfmm_run::run(
                &tfmm_run::config::parse(&case).unwrap(),
                &reference_prices(),
            )
            .unwrap();
            format!(
                "  tolerant final {:+.1e}",
                out.final_value() / final_value - 1.0
            )
        };
        eprintln!(
            "{name:55} |dw| {:.1e}  value {:.1e}  reserves {:.1e}  final {:+.1e}{tolerant}",
            d.weights, d.value, d.reserves, final_diff,
        );
        if !(d.weights <= weight_tolerance(&rule)) {
            failures.push(format!("{name}: max |dw| = {:e}", d.weights));
        }
        if zero_fee && !(d.value <= 1e-9 && d.reserves <= 1e-9) {
            failures.push(format!(
                "{name}: value {:e}, reserves {:e} (relative)",
                d.value, d.reserves
            ));
        }
        // Single-minute reserves of the reference move by ~1% under 1-ulp perturbations
        // (reserves.md §2.9), so rows are compared on value; reserves only loosely.
        let close =
            final_diff.abs() <= FEE_FINAL_VALUE && d.value <= FEE_ROW && d.reserves <= FEE_RESERVES;
        if !zero_fee && !close {
            failures.push(format!(
                "{name}: final {final_diff:e}, rows: value {:e}, reserves {:e}",
                d.value, d.reserves
            ));
        }
        checked += 1;
    }
    assert_eq!(
        checked, 32,
        "cases other than min variance and the own-test pools"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn final_values_match_reference_on_zero_fee_cases() {
    let mut checked = 0;
    for (name, case) in tfmm_cases() {
        if !is_zero_fee(&case) || base_rule(&case) == "min_variance" {
            continue;
        }
        let out = tfmm_run::run(&weight_config(&case), &reference_prices()).unwrap();
        let path = testdata()
            .join("reference/cases")
            .join(&name)
            .join("final.json");
        let want: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let value = want["final_value"].as_f64().unwrap();
        assert!(
            (out.final_value() / value - 1.0).abs() < 1e-9,
            "{name}: {} vs {value}",
            out.final_value()
        );
        let reserves: Vec<f64> = want["final_reserves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(max_rel(out.final_reserves(), &reserves) < 1e-9, "{name}");
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} zero-fee cases");
}

/// Chunk prices of a case from its first data row, and its rule built from the case params.
fn rule_and_chunks(config: &RunConfig) -> (Box<dyn Rule<f64>>, Vec<Vec<f64>>) {
    let table = tfmm_data::load_prices(&reference_prices(), &config.tokens).unwrap();
    let start = tfmm_data::parse_utc(&config.start).unwrap();
    let end = tfmm_data::parse_utc(&config.end).unwrap();
    let window =
        tfmm_data::select_window(&table, start, end, config.weights.rule.max_memory_days).unwrap();
    let cp = config.weights.rule.chunk_period;
    let chunks = (window.lo..window.lo + window.reference_data_len())
        .step_by(cp)
        .map(|r| table.row(r).to_vec())
        .collect();
    let mut reader = ParamReader::new(&config.params, &config.rule, config.n_assets());
    let rule = build_rule(&config.rule, &mut reader, &config.weights.rule).unwrap();
    (rule, chunks)
}

/// Rule rows `R_i` after each chunk price `P_{i+1}` (the reference's `rule_outputs`), with the
/// output after `P_0` first.
fn rule_rows(rule: &mut dyn Rule<f64>, chunks: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = chunks[0].len();
    let mut out = vec![0.0; n];
    rule.init(&Observation::prices(&chunks[0]), &mut out);
    let mut rows = vec![out.clone()];
    for c in &chunks[1..] {
        rule.step(&Observation::prices(c), &mut out);
        rows.push(out.clone());
    }
    rows
}

#[test]
fn rule_outputs_match_reference() {
    let mut failures = vec![];
    for (name, case) in tfmm_cases() {
        let config = weight_config(&case);
        let (mut rule, chunks) = rule_and_chunks(&config);
        let rows = rule_rows(rule.as_mut(), &chunks);
        let want = Table::read(
            &testdata()
                .join("reference/cases")
                .join(&name)
                .join("rule_outputs.csv.gz"),
        );
        assert_eq!(
            rows.len() - 1,
            case["array_shapes"]["rule_outputs"][0].as_u64().unwrap() as usize,
            "{name}"
        );
        let scale = want
            .rows
            .iter()
            .flat_map(|r| r[1..].iter())
            .fold(0.0f64, |m, x| m.max(x.abs()));
        let tol = rule_output_tolerance(&base_rule(&case));
        let mut largest = 0.0f64;
        for w in &want.rows {
            let got = &rows[w[0] as usize + 1];
            for (g, x) in got.iter().zip(&w[1..]) {
                // Relative, with an absolute floor: rule rows cross zero.
                largest = worst((g - x).abs() / x.abs().max(1e-3 * scale), largest);
            }
        }
        eprintln!("{name:55} rule outputs: max relative difference {largest:.1e}");
        if !(largest <= tol) {
            failures.push(format!("{name}: {largest:e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Replays rule rows one chunk early: quantammsim's timing for target-weight rules, used
/// here only to check tfmm's guardrails, interpolation and reserves against its numbers.
struct LookAhead {
    rows: Vec<Vec<f64>>,
    blend: Vec<f64>,
    next: usize,
}

impl Rule<f64> for LookAhead {
    fn n_assets(&self) -> usize {
        self.blend.len()
    }
    fn kind(&self) -> RuleKind<'_, f64> {
        RuleKind::Target { blend: &self.blend }
    }
    fn init(&mut self, _: &Observation<'_>, out: &mut [f64]) {
        self.next = 1;
        out.copy_from_slice(&self.rows[1]);
    }
    fn step(&mut self, _: &Observation<'_>, out: &mut [f64]) {
        self.next = (self.next + 1).min(self.rows.len() - 1);
        out.copy_from_slice(&self.rows[self.next]);
    }
}

#[test]
fn min_variance_matches_reference_given_its_look_ahead() {
    let mut checked = 0;
    let mut causal_gap = 0.0f64;
    for (name, case) in tfmm_cases() {
        if base_rule(&case) != "min_variance" {
            continue;
        }
        let config = config(&case);
        let causal = tfmm_run::run(&config, &reference_prices()).unwrap();
        let (mut rule, chunks) = rule_and_chunks(&config);
        let RuleKind::Target { blend } = rule.kind() else {
            panic!("min variance outputs target weights")
        };
        let blend = blend.to_vec();
        let rows = rule_rows(rule.as_mut(), &chunks);

        let n = config.n_assets();
        let w = &config.weights;
        let guard = Guardrails {
            minimum_weight: w.minimum_weight(n),
            maximum_change: w.maximum_change,
            interpol_num: w.weight_interpolation_period + 1,
            bounds: None,
            ste_min_max_weight: false,
            ste_max_change: false,
        };
        let schedule = Schedule {
            chunk_period: w.rule.chunk_period,
            interpolation: w.interpolation,
            start: causal.window.start,
        };
        let mut engine = WeightEngine::new(
            Box::new(LookAhead {
                rows,
                blend,
                next: 0,
            }),
            guard,
            schedule,
            vec![0.0; n],
        )
        .unwrap();
        let table = tfmm_data::load_prices(&reference_prices(), &config.tokens).unwrap();
        let rows = causal.window.data_rows();
        let data = table.slice(rows.start, rows.end);
        let p = &config.pool;
        let zero_fee = is_zero_fee(&case);
        let mut pool: Box<dyn Pool<f64>> = if zero_fee {
            Box::new(G3mZeroFee::new(n, p.initial_pool_value))
        } else {
            let settings = G3mSettings {
                validity: Validity::ReferenceExact,
                ..G3mSettings::new(p.initial_pool_value)
            };
            Box::new(G3mPool::new(n, settings))
        };
        let market = Market {
            fees: Series::Constant(p.fees),
            gas_cost: Series::Constant(p.gas_cost),
            arb_fees: Series::Constant(p.arb_fees),
            ..Market::new(n, &data.prices)
        };
        let replay =
            simulate::run(&mut engine, pool.as_mut(), &market, causal.window.n_rows).unwrap();

        let g = golden(&name);
        let d = diff(&replay, &g);
        assert!(d.weights <= 1e-10, "{name}: |dw| {:e}", d.weights);
        let final_value = g.rows.last().unwrap()[g.col("value")];
        let final_diff = replay.values.last().unwrap() / final_value - 1.0;
        if zero_fee {
            assert!(
                d.value <= 1e-9 && d.reserves <= 1e-9,
                "{name}: value {:e} reserves {:e}",
                d.value,
                d.reserves
            );
        } else {
            assert!(
                final_diff.abs() <= FEE_FINAL_VALUE && d.value <= FEE_ROW,
                "{name}: final {final_diff:e}, rows {:e}",
                d.value
            );
        }
        // tfmm itself uses each target only once it is known: a chunk later than the reference.
        let fixed = diff(&causal.trajectory, &g);
        eprintln!(
            "{name}: with the look-ahead |dw| {:.1e}; tfmm (causal) |dw| {:.2e}, value {:.2e} relative{}",
            d.weights,
            fixed.weights,
            fixed.value,
            if is_zero_fee(&case) {
                ""
            } else {
                " (fee case)"
            }
        );
        causal_gap = causal_gap.max(fixed.weights);
        checked += 1;
    }
    assert_eq!(checked, 2);
    // Where weights move at all (the 3-asset daily case sits on its guardrails), dropping the
    // look-ahead must show.
    assert!(
        causal_gap > 1e-5,
        "the causal engine should differ from the look-ahead: {causal_gap:e}"
    );
}

#[test]
fn user_facing_parameters_run_like_internal_ones() {
    // momentum_3a_f30_vec_1m: memory_days [5, 15, 30], k_per_day [0.5, 2, 4], weights
    // [.5, .3, .2], given the way quantammsim's web front end sends them.
    let dir = testdata().join("reference/cases/momentum_3a_f30_vec_1m");
    let case = case_json(&dir);
    let mut user = case.clone();
    user["params"] = json!({
        "memory_days": [5.0, 15.0, 30.0],
        "k_per_day": [0.5, 2.0, 4.0],
        "weights": [0.5, 0.3, 0.2],
    });
    user.as_object_mut().unwrap().remove("params_internal");
    let internal = tfmm_run::run(&weight_config(&case), &reference_prices()).unwrap();
    let facing = tfmm_run::run(&weight_config(&user), &reference_prices()).unwrap();
    let d = max_abs(&internal.trajectory.weights, &facing.trajectory.weights);
    // `k_per_day` becomes `k` (times memory days) rather than `log_k` (2^log_k times memory
    // days): equal up to rounding.
    assert!(d < 1e-12, "{d:e}");
    assert!(max_rel(&internal.trajectory.values, &facing.trajectory.values) < 1e-12);
}

/// `readouts.csv` against the reference's estimator readouts: reference row `r` is the state
/// after the rule consumed the price `r + 1` chunks into the bout (tfmm's row `r + 1`, keyed
/// by that minute). Columns are compared by name; difference momentum's reference readouts
/// come from an estimator its rule does not use, so it shares no column with tfmm's
/// (`ewma_1`, `ewma_2`).
#[test]
fn readouts_match_reference() {
    let mut checked = 0;
    let mut failures = vec![];
    for (name, case) in tfmm_cases() {
        let path = testdata()
            .join("reference/cases")
            .join(&name)
            .join("readouts.csv.gz");
        if !path.exists() {
            continue;
        }
        let want = Table::read(&path);
        let mut config = weight_config(&case);
        config.output.readouts = true;
        let out = tfmm_run::run(&config, &reference_prices()).unwrap();
        let got = out.readouts.clone().expect("readouts were asked for");
        let cp = config.weights.rule.chunk_period as i64;
        assert_eq!(
            got.unix_ms[0],
            out.unix_ms(0),
            "{name}: first readout at the bout start"
        );
        assert!(
            got.unix_ms.windows(2).all(|w| w[1] - w[0] == cp * 60_000),
            "{name}: one readout per chunk"
        );
        assert_eq!(
            got.unix_ms.len(),
            out.n_rows().div_ceil(cp as usize),
            "{name}"
        );
        let shared: Vec<(usize, usize)> = want.header[1..]
            .iter()
            .enumerate()
            .filter_map(|(w, col)| {
                got.columns
                    .iter()
                    .position(|c| c == col)
                    .map(|g| (w + 1, g))
            })
            .collect();
        if shared.is_empty() {
            assert!(
                base_rule(&case) == "difference_momentum",
                "{name}: no shared readouts"
            );
            continue;
        }
        let mut largest = 0.0f64;
        let mut rows = 0;
        for w in &want.rows {
            let g = w[0] as usize + 1;
            if g >= got.unix_ms.len() {
                continue;
            }
            for &(wc, gc) in &shared {
                let (x, y) = (got.row(g)[gc], w[wc]);
                largest = worst((x - y).abs() / y.abs().max(1e-300), largest);
            }
            rows += 1;
        }
        eprintln!(
            "{name:55} readouts: {} columns, {rows} rows, max relative difference {largest:.1e}",
            shared.len()
        );
        assert!(
            rows + 2 >= want.rows.len(),
            "{name}: only {rows} rows compared"
        );
        if !(largest <= 1e-9) {
            failures.push(format!("{name}: {largest:e}"));
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} cases with readouts");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
