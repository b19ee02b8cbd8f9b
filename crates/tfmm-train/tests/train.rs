//! Training end to end on the embedded data: it improves the objective, is deterministic
//! across thread counts, resumes, and refuses bad settings with clear errors.

use serde_json::{Value, json};
use tfmm_train::{Method, Problem, TrainingConfig, train};

/// A momentum pool over BTC/ETH/SOL trained on 2023 and tested on January 2024, small enough
/// for a debug build: daily rule updates, no fees, short windows.
fn config(train_table: Value) -> TrainingConfig {
    let value = json!({
        "pool": {
            "tokens": ["BTC", "ETH", "SOL"],
            "rule": "momentum",
            "memory_days": 20,
            "k_per_day": 1,
            "chunk_period": 1440,
            "weight_interpolation_period": 1440,
        },
        "market": { "fees": 0.0 },
        "window": { "start": "2023-01-01", "end": "2024-01-01", "burn_in_days": 30 },
        "train": train_table,
    });
    TrainingConfig::from_value(value, std::path::Path::new(".")).unwrap()
}

fn base_train() -> Value {
    json!({
        "objective": "daily_log_sharpe",
        "test_end": "2024-02-01",
        "bout_offset_days": 330,
        "val_fraction": 0.0,
        "n_iterations": 4,
        "batch_size": 2,
        "n_parameter_sets": 2,
        "base_lr": 0.05,
        "iterations_per_print": 1,
        "seed": 7,
    })
}

fn problem(t: &TrainingConfig) -> Problem {
    let table = tfmm_data::load(tfmm_data::Source::Embedded, &t.config.tokens).unwrap();
    Problem::new(&t.config, &table, &t.settings.objective).unwrap()
}

#[test]
fn gradient_ascent_improves_the_training_objective_and_reports_the_test_period() {
    let t = config(base_train());
    let p = problem(&t);
    let outcome = train(&p, &t.settings, None, &mut ()).unwrap();
    let start = outcome.initial_metrics[0].train("daily_log_sharpe");
    let best = outcome.best.metrics.train("daily_log_sharpe");
    eprintln!(
        "train daily_log_sharpe {start:.5} -> {best:.5} (step {}, set {}); test (January 2024) {:.5} -> {:.5}",
        outcome.best.step,
        outcome.best.set,
        outcome.initial_metrics[0].test("daily_log_sharpe"),
        outcome.best.metrics.test("daily_log_sharpe"),
    );
    assert!(start.is_finite() && best > start, "{start} -> {best}");
    assert!(
        outcome.best.step > 0,
        "a trained set, not the start, is best"
    );
    assert_eq!(outcome.steps_taken, 5, "n_iterations + 1 steps");
    let test = outcome.best.metrics.test("return");
    assert!(test.is_finite(), "the test period is evaluated: {test}");
    // The test slice is January 2024: 31 days of minutes.
    assert_eq!(outcome.geometry.test_rows, 31 * 1440);
    // The best set, written into a config, runs with `tfmm run` and reproduces its metric.
    let params = outcome.best_params(&p);
    let written = t.with_params(&params);
    let run_config = tfmm_run::config::parse(&written).unwrap();
    assert_eq!(run_config.params, params);
}

#[test]
fn training_is_deterministic_across_thread_counts() {
    let t = config(json!({
        "objective": "returns_over_hodl",
        "bout_offset_days": 330,
        "val_fraction": 0.0,
        "n_iterations": 2,
        "batch_size": 2,
        "n_parameter_sets": 2,
        "seed": 3,
    }));
    let p = problem(&t);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| train(&p, &t.settings, None, &mut ()).unwrap())
    };
    let (one, two) = (run(1), run(2));
    let bits = |o: &tfmm_train::Outcome| -> Vec<u64> {
        o.history
            .iter()
            .flat_map(|r| r.objective.iter().chain(&r.selection))
            .chain(&o.best.theta)
            .map(|x| x.to_bits())
            .collect()
    };
    assert_eq!(bits(&one), bits(&two));
    assert!(bits(&one).len() > 8);
}

#[test]
fn fixed_window_methods_improve_their_objective() {
    for method in ["cma_es", "lbfgs"] {
        let mut table = base_train();
        table["method"] = json!(method);
        table["n_parameter_sets"] = json!(1);
        table["n_evaluation_points"] = json!(2);
        table["cma_es_n_generations"] = json!(3);
        table["cma_es_population_size"] = json!(4);
        table["lbfgs_max_iterations"] = json!(3);
        let t = config(table);
        assert_eq!(
            t.settings.method,
            if method == "cma_es" {
                Method::CmaEs
            } else {
                Method::Lbfgs
            }
        );
        let p = problem(&t);
        let outcome = train(&p, &t.settings, None, &mut ()).unwrap();
        let start = outcome.initial_metrics[0].train("daily_log_sharpe");
        let best = outcome.best.metrics.train("daily_log_sharpe");
        eprintln!("{method}: train daily_log_sharpe {start:.5} -> {best:.5}");
        assert!(best >= start, "{method}: {start} -> {best}");
        assert_ne!(
            outcome.best.theta, outcome.initial[0],
            "{method} moved the parameters"
        );
    }
}

fn error(train_table: Value) -> String {
    let value = json!({
        "pool": { "tokens": ["BTC", "ETH"], "rule": "momentum", "chunk_period": 1440,
                  "weight_interpolation_period": 1440 },
        "window": { "start": "2023-01-01", "end": "2023-03-01", "burn_in_days": 10 },
        "train": train_table,
    });
    let t = match TrainingConfig::from_value(value, std::path::Path::new(".")) {
        Ok(t) => t,
        Err(e) => return e.to_string(),
    };
    let table = tfmm_data::load(tfmm_data::Source::Embedded, &t.config.tokens).unwrap();
    let p = match Problem::new(&t.config, &table, &t.settings.objective) {
        Ok(p) => p,
        Err(e) => return e.to_string(),
    };
    train(&p, &t.settings, None, &mut ())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn bad_training_settings_are_clear_errors() {
    let e = error(json!({ "objective": "daily_log_sharp" }));
    assert!(
        e.contains("daily_log_sharp") && e.contains("daily_log_sharpe"),
        "{e}"
    );
    let e = error(json!({ "base_lr": 0.0 }));
    assert!(e.contains("base_lr") && e.contains('0'), "{e}");
    let e = error(json!({ "base_lr": -0.1 }));
    assert!(e.contains("base_lr"), "{e}");
    let e = error(json!({ "bout_offset_days": 0.001, "batch_size": 8 }));
    assert!(
        e.contains("batch_size") && e.contains('8') && e.contains("at most 1"),
        "{e}"
    );
    let e = error(json!({ "n_iteration": 5 }));
    assert!(
        e.contains("train.n_iteration") && e.contains("n_iterations"),
        "{e}"
    );
    let e = error(json!({ "early_stopping_metric": "sortino" }));
    assert!(
        e.contains("early_stopping_metric") && e.contains("calmar"),
        "{e}"
    );
    let e = error(json!({ "bout_offset_days": 200 }));
    assert!(
        e.contains("bout_offset_days") && e.contains("training span"),
        "{e}"
    );
}

#[test]
fn a_parameter_the_rule_does_not_have_is_refused() {
    let value = json!({
        "pool": { "tokens": ["BTC", "ETH"], "rule": "momentum" },
        "params": { "logit_lamb": [4.0, 4.0], "log_k": [0.0, 0.0], "initial_weights_logits": [0.0, 0.0],
                    "width": [1.0, 1.0] },
        "window": { "start": "2023-01-01", "end": "2023-03-01" },
        "train": {},
    });
    let e = TrainingConfig::from_value(value, std::path::Path::new("."))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("width") && e.contains("momentum"), "{e}");
}

/// Walk-forward over 2023 in three cycles, and a two-trial tune: every cycle trained and
/// tested on its own segment, each warm-started, with both out-of-sample views.
#[test]
fn walk_forward_and_tuning() {
    let mut table = base_train();
    table["test_end"] = json!("2024-01-01");
    table["bout_offset_days"] = json!(20);
    table["val_fraction"] = json!(0.2);
    table["n_iterations"] = json!(1);
    table["n_cycles"] = json!(3);
    table["batch_size"] = json!(1);
    table["n_parameter_sets"] = json!(1);
    let mut t = config(table);
    t.config.end = "2023-04-01 00:00:00".into();
    let data = tfmm_data::load(tfmm_data::Source::Embedded, &t.config.tokens).unwrap();
    let result =
        tfmm_train::walk::walk(&t.config, &data, &t.settings, &t.settings.walk, &mut ()).unwrap();
    assert_eq!(result.cycles.len(), 3);
    let starts: Vec<&str> = result
        .cycles
        .iter()
        .map(|c| c.train_start.as_str())
        .collect();
    // 365 days in four segments, cut at midnights.
    assert_eq!(
        starts,
        [
            "2023-01-01 00:00:00",
            "2023-04-02 00:00:00",
            "2023-07-02 00:00:00"
        ]
    );
    assert_eq!(result.cycles[2].test_end, "2024-01-01 00:00:00");
    for c in &result.cycles {
        let (is, oos, fresh) = (c.is("sharpe"), c.oos("sharpe"), c.fresh_oos("sharpe"));
        assert!(
            is.is_finite() && oos.is_finite() && fresh.is_finite(),
            "{c:?}"
        );
        // Carried on from training or freshly deposited, the same parameters over the same
        // prices give different but related paths.
        assert_ne!(oos, fresh);
        let expected = if is > 0.0 { oos / is } else { f64::NAN };
        assert!(
            c.walk_forward_efficiency.to_bits() == expected.to_bits()
                || (c.walk_forward_efficiency - expected).abs() < 1e-12
        );
        assert!((c.is_oos_gap - (is - oos)).abs() < 1e-12);
    }
    let worst = result
        .cycles
        .iter()
        .map(|c| c.oos("sharpe"))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(result.worst_oos_sharpe, worst);
    assert_eq!(result.is_effective, result.mean_wfe >= 0.5 && worst > 0.0);

    let space = tfmm_train::tune::default_space(&t.settings, 91.0, 2);
    assert_eq!(space.len(), 5);
    let tuned = tfmm_train::tune::tune(
        &t.config,
        &data,
        &t.settings,
        &space,
        "worst_oos_sharpe",
        2,
        &mut (),
    )
    .unwrap();
    assert_eq!(tuned.trials.len(), 2);
    let best = &tuned.trials[tuned.best];
    assert!(tuned.trials.iter().all(|tr| tr.value <= best.value));
    for tr in &tuned.trials {
        for (d, (name, v)) in space.iter().zip(&tr.settings) {
            assert_eq!(d.name, *name);
            assert!((d.low..=d.high).contains(v), "{name} = {v}");
        }
    }
    let err = tfmm_train::tune::tune(
        &t.config,
        &data,
        &t.settings,
        &space,
        "mean_oos_sortino",
        2,
        &mut (),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("mean_oos_sortino"), "{err}");
}

/// docs/training.md's key table is the one the code reads (regenerate with
/// `TFMM_BLESS=1 cargo test -p tfmm-train --test train docs`).
#[test]
fn docs_list_every_training_key() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/training.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- keys:begin -->\n", "<!-- keys:end -->");
    let from = doc.find(begin).expect("key table markers") + begin.len();
    let to = doc.find(end).expect("key table markers");
    let want = tfmm_train::settings::keys_markdown();
    if std::env::var_os("TFMM_BLESS").is_some() {
        std::fs::write(&path, format!("{}{want}{}", &doc[..from], &doc[to..])).unwrap();
        return;
    }
    assert_eq!(
        &doc[from..to],
        want,
        "docs/training.md is out of step: run with TFMM_BLESS=1"
    );
}

/// Every quantammsim reference case's training settings are read (their
/// `optimisation_settings` carry every default key).
#[test]
fn reference_cases_training_settings_are_read() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reference/cases");
    let mut read = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let case = entry.unwrap().path().join("case.json");
        if !case.exists() {
            continue;
        }
        let t = TrainingConfig::load(&case).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        assert_eq!(t.settings.ascent.n_iterations, 1000);
        assert_eq!(t.settings.method, Method::GradientDescent);
        read += 1;
    }
    assert_eq!(read, 40);
}

/// The shipped training configs load, and their objective has a gradient at the start.
#[test]
fn shipped_training_configs_load_and_differentiate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/train");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let t = TrainingConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let p = problem(&t);
        let geometry = tfmm_train::Geometry::new(&p, &t.settings).unwrap();
        let layout = p.layout(&p.config.params, t.settings.learn_initial_weights);
        let span = tfmm_train::Span {
            start: p.window.start,
            n_rows: 10 * 1440,
        };
        let (value, gradient) = p
            .value_and_gradient(&p.config.params, &layout, span)
            .unwrap();
        assert!(
            value.is_finite() && gradient.iter().any(|g| *g != 0.0),
            "{}",
            path.display()
        );
        assert!(geometry.test_rows > 0 && geometry.sample_rows > 0);
        seen += 1;
    }
    assert!(seen >= 1);
}
