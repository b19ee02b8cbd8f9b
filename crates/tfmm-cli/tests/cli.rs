//! The `tfmm run` contract and its errors, through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn case_path(name: &str) -> PathBuf {
    testdata()
        .join("reference/cases")
        .join(name)
        .join("case.json")
}

fn tfmm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tfmm"))
        .args(args)
        .output()
        .unwrap()
}

fn run(config: &Path, data_dir: &Path, out: &Path) -> Output {
    tfmm(&[
        "run",
        config.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn run_writes_the_timeseries_and_summary_contract() {
    let out = tempfile::tempdir().unwrap();
    let result = run(
        &case_path("momentum_3a_f0_arb1_cp60_lin_1m"),
        &testdata().join("reference/prices"),
        out.path(),
    );
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );

    let csv = std::fs::read_to_string(out.path().join("timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "unix_ms,value,weight_BTC,weight_ETH,weight_USDC,reserve_BTC,reserve_ETH,reserve_USDC,\
         price_BTC,price_ETH,price_USDC,fee_revenue,protocol_fee_revenue"
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 44640);
    assert_eq!(rows[0][0], 1672531200000.0, "row 0 is the start minute");
    assert_eq!(rows[1][0] - rows[0][0], 60000.0);
    assert_eq!(rows[0][1], 1e6);
    // Prices are printed so they read back to the exact inputs (reference golden row 1).
    assert_eq!(&rows[1][8..11], &[37542.54, 4471.28, 0.999848]);
    // A zero-fee pool earns no fees.
    assert!(rows.iter().all(|r| r[11] == 0.0 && r[12] == 0.0));
    for r in &rows {
        let value: f64 = (0..3).map(|a| r[5 + a] * r[8 + a]).sum();
        assert!((value / r[1] - 1.0).abs() < 1e-14);
    }

    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["tokens"], json!(["BTC", "ETH", "USDC"]));
    assert_eq!(summary["n_rows"], json!(44640));
    let last = rows.last().unwrap();
    assert_eq!(summary["final_value"].as_f64().unwrap(), last[1]);
    let reserves: Vec<f64> = summary["final_reserves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(reserves, last[5..8].to_vec());
    // quantammsim's final value for this case (returns 0.13977301536473052).
    assert!((last[1] / 1_139_773.015_364_730_5 - 1.0).abs() < 1e-9);
}

/// Runs a (possibly edited) case and returns the error line.
fn failure(case: Value, data_dir: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("case.json");
    std::fs::write(&config, case.to_string()).unwrap();
    let result = run(&config, data_dir, &dir.path().join("out"));
    assert!(!result.status.success(), "expected a failure");
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8(result.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn base_case() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(case_path("momentum_3a_f0_arb1_cp60_lin_1m")).unwrap(),
    )
    .unwrap()
}

fn edited(edit: impl FnOnce(&mut Value)) -> Value {
    let mut case = base_case();
    edit(&mut case);
    case
}

fn prices_dir() -> PathBuf {
    testdata().join("reference/prices")
}

/// A data directory of small CSVs for BTC/ETH/USDC with one edited ETH line.
fn small_data(eth_line_10: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_672_531_200_000i64;
    for (token, price) in [("BTC", 20000.0), ("ETH", 1500.0), ("USDC", 1.0)] {
        let mut text = String::from("unix_ms,close\n");
        for i in 0..3000 {
            let line = if token == "ETH" && i == 10 {
                eth_line_10.replace("{t}", &(start + 60_000 * i).to_string())
            } else {
                format!("{},{}", start + 60_000 * i, price + i as f64 * 0.01)
            };
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(dir.path().join(format!("{token}.csv")), text).unwrap();
    }
    dir
}

fn small_case() -> Value {
    edited(|c| {
        let fp = &mut c["run_fingerprint"];
        fp["startDateString"] = json!("2023-01-01 00:00:00");
        fp["endDateString"] = json!("2023-01-02 00:00:00");
    })
}

#[test]
fn nan_price_is_refused() {
    let data = small_data("{t},NaN");
    let err = failure(small_case(), data.path());
    assert!(
        err.contains("ETH.csv line 12") && err.contains("close = NaN"),
        "{err}"
    );
}

#[test]
fn zero_price_is_refused() {
    let data = small_data("{t},0");
    let err = failure(small_case(), data.path());
    assert!(
        err.contains("ETH.csv line 12") && err.contains("close = 0"),
        "{err}"
    );
}

#[test]
fn negative_price_is_refused() {
    let data = small_data("{t},-3.5");
    let err = failure(small_case(), data.path());
    assert!(
        err.contains("ETH.csv line 12") && err.contains("-3.5"),
        "{err}"
    );
}

#[test]
fn missing_token_file_is_named() {
    let data = small_data("{t},1500");
    // A quote currency without a file is priced 1; any other token needs its file.
    std::fs::remove_file(data.path().join("ETH.csv")).unwrap();
    let err = failure(small_case(), data.path());
    assert!(err.contains("ETH") && err.contains("ETH.csv"), "{err}");
}

#[test]
fn window_outside_the_data_is_refused() {
    let case = edited(|c| c["run_fingerprint"]["endDateString"] = json!("2025-01-01 00:00:00"));
    let err = failure(case, &prices_dir());
    assert!(err.contains("2025-01-01"), "{err}");
    let case = edited(|c| c["run_fingerprint"]["startDateString"] = json!("2019-01-01 00:00:00"));
    let err = failure(case, &prices_dir());
    assert!(err.contains("2019-01-01"), "{err}");
}

#[test]
fn non_positive_memory_is_refused() {
    let case = edited(|c| {
        // Without parameters the run starts from the fingerprint's seeds.
        let case = c.as_object_mut().unwrap();
        case.remove("params");
        case.remove("params_internal");
        c["run_fingerprint"]["initial_memory_length"] = json!(0.0);
    });
    let err = failure(case, &prices_dir());
    assert!(
        err.contains("run_fingerprint.initial_memory_length = 0"),
        "{err}"
    );
    let case = edited(|c| {
        c["run_fingerprint"]["rule"] = json!("min_variance");
        c["params"] = json!({"memory_days_1": [-1.0, 5.0, 5.0], "memory_days_2": 5.0});
    });
    let err = failure(case, &prices_dir());
    assert!(err.contains("params.memory_days_1 = -1"), "{err}");
}

#[test]
fn zero_chunk_period_is_refused() {
    let case = edited(|c| c["run_fingerprint"]["chunk_period"] = json!(0));
    let err = failure(case, &prices_dir());
    assert!(err.contains("run_fingerprint.chunk_period = 0"), "{err}");
}

#[test]
fn per_asset_vector_of_wrong_length_is_refused() {
    let case = edited(|c| c["params"]["log_k"] = json!([1.0, 2.0]));
    let err = failure(case, &prices_dir());
    assert!(
        err.contains("params.log_k has shape [2]") && err.contains("(3)"),
        "{err}"
    );
}

#[test]
fn unknown_rule_is_refused_with_a_suggestion() {
    let case = edited(|c| c["run_fingerprint"]["rule"] = json!("momentun"));
    let err = failure(case, &prices_dir());
    assert!(
        err.contains("\"momentun\"") && err.contains("did you mean \"momentum\""),
        "{err}"
    );
}

#[test]
fn unknown_key_is_refused_with_a_suggestion() {
    let case = edited(|c| c["run_fingerprint"]["chunk_perod"] = json!(60));
    let err = failure(case, &prices_dir());
    assert!(
        err.contains("run_fingerprint.chunk_perod") && err.contains("did you mean `chunk_period`"),
        "{err}"
    );
}

#[test]
fn wrong_type_is_refused() {
    let case = edited(|c| c["run_fingerprint"]["chunk_period"] = json!("60"));
    let err = failure(case, &prices_dir());
    assert!(
        err.contains("run_fingerprint.chunk_period = \"60\""),
        "{err}"
    );
}

#[test]
fn unsupported_result_changing_setting_is_refused() {
    let case = edited(|c| c["run_fingerprint"]["subsidary_pools"] = json!([{"tokens": ["SOL"]}]));
    let err = failure(case, &prices_dir());
    assert!(err.contains("run_fingerprint.subsidary_pools"), "{err}");
}

#[test]
fn fees_outside_zero_to_one_are_refused() {
    let case = edited(|c| c["run_fingerprint"]["fees"] = json!(1.0));
    let err = failure(case, &prices_dir());
    assert!(
        err.contains("run_fingerprint.fees = 1.0") && err.contains("[0, 1)"),
        "{err}"
    );
    let case = edited(|c| c["run_fingerprint"]["gas_cost"] = json!(-5));
    let err = failure(case, &prices_dir());
    assert!(err.contains("run_fingerprint.gas_cost = -5"), "{err}");
    let case = edited(|c| c["run_fingerprint"]["arb_frequency"] = json!(0));
    let err = failure(case, &prices_dir());
    assert!(err.contains("run_fingerprint.arb_frequency = 0"), "{err}");
}

#[test]
fn malformed_json_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("case.json");
    std::fs::write(&config, "{\"run_fingerprint\": {").unwrap();
    let result = run(&config, &prices_dir(), &dir.path().join("out"));
    assert_eq!(result.status.code(), Some(1));
    let err = String::from_utf8(result.stderr).unwrap();
    assert!(err.contains("not valid JSON"), "{err}");
}

#[test]
fn bench_prints_a_row_per_workload() {
    let out = tfmm(&["bench", "--runs", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("525600")).collect();
    assert_eq!(rows.len(), 3, "{text}");
    for row in rows {
        let fields: Vec<&str> = row.split_whitespace().collect();
        let n = fields.len();
        let (ms, ns_per_minute): (f64, f64) = (
            fields[n - 3].parse().unwrap(),
            fields[n - 2].parse().unwrap(),
        );
        assert!(
            ms > 0.0 && (ns_per_minute - ms * 1e6 / 525600.0).abs() < 0.2,
            "{row}"
        );
    }
}

/// Runs a native TOML config and returns the error line.
fn native_failure(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(&config, toml).unwrap();
    let out = dir.path().join("out");
    let result = tfmm(&[
        "run",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1), "expected a failure");
    let stderr = String::from_utf8(result.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!out.exists(), "nothing written on a failed run");
    stderr
}

#[test]
fn native_unknown_key_is_refused_with_a_suggestion() {
    let err = native_failure("[pool]\nmemory_dayz = 5\n");
    assert!(
        err.contains("pool.memory_dayz") && err.contains("memory_days"),
        "{err}"
    );
}

#[test]
fn native_wrong_unit_is_refused() {
    let err = native_failure("[market]\nfees = \"30bp\"\n");
    assert!(err.contains("market.fees") && err.contains("30bp"), "{err}");
}

#[test]
fn start_after_end_is_refused() {
    let err = native_failure("[window]\nstart = \"2024-03-01\"\nend = \"2024-02-01\"\n");
    assert!(
        err.contains("window.start") && err.contains("window.end"),
        "{err}"
    );
}

#[test]
fn token_without_embedded_data_is_named() {
    let err = native_failure("[pool]\ntokens = [\"BTC\", \"DOGE\"]\n");
    assert!(
        err.contains("DOGE") && err.contains("BTC, ETH, SOL"),
        "{err}"
    );
}

#[test]
fn window_outside_the_embedded_data_is_refused() {
    let err = native_failure("[window]\nstart = \"2025-01-01\"\nend = \"2025-02-01\"\n");
    assert!(
        err.contains("2025-01-01") && err.contains("2024-06-25"),
        "{err}"
    );
}

/// A two-day hole in one token: refused at the default limit, named by file and minute, and
/// accepted once `data.max_gap_minutes` allows it.
#[test]
fn gap_longer_than_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_704_067_200_000i64; // 2024-01-01
    for (token, price) in [("AAA", 100.0), ("BBB", 50.0)] {
        let mut text = String::from("unix_ms,close\n");
        for i in 0..(10 * 1440) {
            // AAA has no rows on days 5 and 6.
            if token == "AAA" && (5 * 1440..7 * 1440).contains(&i) {
                continue;
            }
            let p = price * (1.0 + 0.01 * ((i as f64) / 500.0).sin());
            text.push_str(&format!("{},{p}\n", start + 60_000 * i));
        }
        std::fs::write(dir.path().join(format!("{token}.csv")), text).unwrap();
    }
    let config = |limit: &str| {
        format!(
            "[pool]\ntokens = [\"AAA\", \"BBB\"]\nmemory_days = 1\n\
             [window]\nstart = \"2024-01-03\"\nend = \"2024-01-09\"\nburn_in_days = 2\n\
             [data]\ndir = \"{}\"\n{limit}",
            dir.path().display()
        )
    };
    let err = native_failure(&config(""));
    assert!(
        err.contains("max_gap_minutes")
            && err.contains("AAA.csv")
            && err.contains("2880 missing minutes from 2024-01-06 00:00:00"),
        "{err}"
    );
    let ok_dir = tempfile::tempdir().unwrap();
    let path = ok_dir.path().join("run.toml");
    std::fs::write(&path, config("max_gap_minutes = 2880\n")).unwrap();
    let out = ok_dir.path().join("out");
    let result = tfmm(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["data"][0]["minutes_filled"], 2880);
    assert_eq!(summary["data"][0]["longest_gap_minutes"], 2880);
}

/// `tfmm grad` prints the objective and its gradient over the internal parameter names.
#[test]
fn grad_prints_the_objective_and_gradient_as_json() {
    let case = "momentum_3a_f0_arb1_cp60_lin_1m";
    let out = tfmm(&[
        "grad",
        case_path(case).to_str().unwrap(),
        "--data-dir",
        prices_dir().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(
            testdata()
                .join("reference/cases")
                .join(case)
                .join("gradient.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let want = &reference["objectives"]["daily_log_sharpe__unfused"];
    assert_eq!(got["objective"], "daily_log_sharpe");
    let value = got["value"].as_f64().unwrap();
    assert!(
        (value / want["value"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{value}"
    );
    let names: Vec<&String> = got["gradient"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "initial_weights_logits",
            "log_k",
            "logit_delta_lamb",
            "logit_lamb"
        ]
    );
    for (name, w) in want["grad"].as_object().unwrap() {
        for (g, w) in got["gradient"][name]
            .as_array()
            .unwrap()
            .iter()
            .zip(w.as_array().unwrap())
        {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1e-3),
                "{name}: {g} vs {w}"
            );
        }
    }
    let err = tfmm(&[
        "grad",
        case_path(case).to_str().unwrap(),
        "--data-dir",
        prices_dir().to_str().unwrap(),
        "--objective",
        "sharpie",
    ]);
    assert_eq!(err.status.code(), Some(1));
    let text = String::from_utf8_lossy(&err.stderr);
    assert!(
        text.contains("sharpie") && text.contains("sharpe"),
        "{text}"
    );
}

/// `tfmm train` writes results, a runnable best config and the training curve, and resumes.
#[test]
fn train_writes_results_and_a_runnable_best_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("train.toml");
    std::fs::write(
        &config,
        "[pool]\ntokens = [\"BTC\", \"ETH\"]\nrule = \"momentum\"\nchunk_period = 1440\n\
         weight_interpolation_period = 1440\n[market]\nfees = 0\n\
         [window]\nstart = \"2023-06-01\"\nend = \"2023-08-01\"\nburn_in_days = 20\n\
         [train]\ntest_end = \"2023-08-15\"\nbout_offset_days = 30\nn_iterations = 3\n\
         batch_size = 2\nn_parameter_sets = 2\nval_fraction = 0.25\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let args = [
        "train",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let first = tfmm(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("return (test)") && stdout.contains("4 steps"),
        "{stdout}"
    );
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["history"].as_array().unwrap().len(), 4);
    assert_eq!(results["selection"], "best_val");
    assert_eq!(results["geometry"]["test_minutes"], 14 * 1440);
    for name in [
        "training_curve.svg",
        "training_curve.png",
        "best_config.json",
    ] {
        assert!(out.join(name).exists(), "{name}");
    }
    // The best config runs, with the trained parameters.
    let run_dir = dir.path().join("run");
    let run = tfmm(&[
        "run",
        out.join("best_config.json").to_str().unwrap(),
        "--out",
        run_dir.to_str().unwrap(),
        "--no-plots",
        "-q",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        summary["config"]["params"]["log_k"],
        results["best"]["params"]["log_k"]
    );
    // A second run resumes from the first one's best parameters.
    let second = tfmm(&args);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(String::from_utf8_lossy(&second.stdout).contains("(resumed)"));
    let resumed: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(resumed["initial"][0], results["best"]["theta"]);
}
