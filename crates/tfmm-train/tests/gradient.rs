//! Gradients against quantammsim's (`testdata/reference/cases/*/gradient.json`: jax
//! value_and_grad of the forward pass) and against finite differences of tfmm's own objective.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tfmm_train::Problem;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

struct Case {
    name: String,
    case: Value,
    gradient: Value,
}

fn gradient_cases() -> Vec<Case> {
    let mut out = vec![];
    let dir = testdata().join("reference/cases");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let g = path.join("gradient.json");
        if g.exists() {
            out.push(Case {
                name: path.file_name().unwrap().to_string_lossy().to_string(),
                case: read_json(&path.join("case.json")),
                gradient: read_json(&g),
            });
        }
    }
    out
}

fn is_zero_fee(case: &Value) -> bool {
    let fp = &case["run_fingerprint"];
    ["fees", "gas_cost", "arb_fees"]
        .iter()
        .all(|k| fp[*k].as_f64().unwrap_or(0.0) == 0.0)
}

/// The case with the reference's parameters (gradient.json `params_internal`) and its
/// arbitrage test, whose trade decisions the reference gradient follows.
fn problem(c: &Case, objective: &str) -> Problem {
    let mut case = c.case.clone();
    case["params"] = c.gradient["params_internal"].clone();
    case["run_fingerprint"]["arb_validity"] = json!("exact");
    let config = tfmm_run::config::parse(&case).unwrap();
    let table =
        tfmm_data::load_prices(&testdata().join("reference/prices"), &config.tokens).unwrap();
    Problem::new(&config, &table, objective).unwrap()
}

/// Fee cases whose path tfmm does not reproduce closely enough for the objective to compare:
/// the reference's arbitrage test decides trades by rounding (docs/deviations.md §2), and
/// this mean-reversion pool trades so often that its values differ by up to 1.1e-3 and its
/// daily log Sharpe by 2.6e-2 (as in tests/metrics.rs of tfmm-run).
const PATH_DIVERGES: &[&str] = &["mean_reversion_channel_3a_f30_arb1_cp60_lin_1m"];

#[test]
fn gradients_match_the_reference() {
    let cases = gradient_cases();
    assert_eq!(cases.len(), 6);
    let mut failures = vec![];
    for c in &cases {
        let zero_fee = is_zero_fee(&c.case);
        for (key, o) in c.gradient["objectives"].as_object().unwrap() {
            if key.ends_with("__fused") {
                continue;
            }
            let objective = o["return_val"].as_str().unwrap();
            let p = problem(c, objective);
            let params = &p.config.params;
            let layout = p.layout(params, false);
            let (value, gradient) = p.value_and_gradient(params, &layout, p.window).unwrap();
            let got = layout.to_json(params, &gradient);
            let want_value = o["value"].as_f64().unwrap();
            // Objectives of the form V_a / V_b - 1 compare as growth factors (their value
            // can be near 0).
            let value_rel = if objective.starts_with("returns") {
                ((1.0 + value) / (1.0 + want_value) - 1.0).abs()
            } else {
                (value / want_value - 1.0).abs()
            };
            // Relative to the largest component: tiny components (1e-11) are noise in both.
            let scale = o["grad"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|v| {
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap().abs())
                })
                .fold(0.0, f64::max);
            let mut worst = 0.0f64;
            let mut large_components_agree = true;
            for (name, want) in o["grad"].as_object().unwrap() {
                for (i, w) in want.as_array().unwrap().iter().enumerate() {
                    let w = w.as_f64().unwrap();
                    let g = got[name][i].as_f64().unwrap();
                    let rel = (g - w).abs() / w.abs().max(1e-3 * scale);
                    worst = worst.max(rel);
                    if w.abs() > 0.02 * scale && !(g * w > 0.0 && rel < 0.15) {
                        large_components_agree = false;
                    }
                }
            }
            eprintln!(
                "{:50} {key:32} value {value_rel:.1e}  gradient {worst:.1e}",
                c.name
            );
            if PATH_DIVERGES.contains(&c.name.as_str()) {
                // The simulated path itself differs (see PATH_DIVERGES): the gradient must
                // still point the same way, component by component.
                if !large_components_agree {
                    failures.push(format!("{} {key}: gradient {got}", c.name));
                }
                continue;
            }
            let (value_tol, grad_tol) = if zero_fee { (1e-9, 1e-6) } else { (1e-3, 1e-2) };
            if !(value_rel <= value_tol && worst <= grad_tol) {
                failures.push(format!(
                    "{} {key}: value {value} vs {want_value}, gradient worst {worst:e}: {got}",
                    c.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// On the fee path the objective is piecewise smooth: arbitrage decisions switch, and each
/// switch moves the value by a rounding-sized step. Over eight hours of minutes, central
/// differences at two step sizes that agree show a smooth piece; there they agree with the
/// dual-number gradient.
#[test]
fn fee_path_gradients_match_finite_differences() {
    let mut checked = 0;
    for c in gradient_cases().iter().filter(|c| !is_zero_fee(&c.case)) {
        let mut case = c.case.clone();
        case["params"] = c.gradient["params_internal"].clone();
        let config = tfmm_run::config::parse(&case).unwrap();
        let table =
            tfmm_data::load_prices(&testdata().join("reference/prices"), &config.tokens).unwrap();
        let p = Problem::new(&config, &table, "returns").unwrap();
        let params = &p.config.params;
        let layout = p.layout(params, false);
        let span = tfmm_train::Span {
            start: p.window.start,
            n_rows: 8 * 60,
        };
        let (_, gradient) = p.value_and_gradient(params, &layout, span).unwrap();
        let scale = gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(scale > 0.0, "{}: the parameters matter", c.name);
        let theta = layout.get(params);
        let mut worst = 0.0f64;
        for (i, &g) in gradient.iter().enumerate() {
            let at = |x: f64| {
                let mut q = params.clone();
                let mut t = theta.clone();
                t[i] = x;
                layout.set(&mut q, &t);
                p.value(&q, span).unwrap()
            };
            let fd: Vec<f64> = [1e-4, 1e-5, 1e-6]
                .iter()
                .map(|&h| (at(theta[i] + h) - at(theta[i] - h)) / (2.0 * h))
                .collect();
            // Components under 1% of the largest are compared on that 1%.
            let floor = 1e-2 * scale;
            let smooth = fd
                .windows(2)
                .find(|w| (w[0] - w[1]).abs() <= 1e-5 * w[1].abs().max(floor));
            let Some(pair) = smooth else {
                panic!(
                    "{} {:?}: no smooth piece: {fd:?}",
                    c.name, layout.entries[i]
                );
            };
            let rel = (pair[1] - g).abs() / g.abs().max(floor);
            worst = worst.max(rel);
            assert!(
                rel <= 1e-5,
                "{} {:?}: dual {g:e}, finite differences {fd:?}",
                c.name,
                layout.entries[i]
            );
            checked += 1;
        }
        eprintln!("{:50} finite differences: worst {worst:.1e}", c.name);
    }
    assert!(checked >= 20, "{checked}");
}
