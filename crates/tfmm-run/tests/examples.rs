//! Every config shipped in configs/ loads and runs on the embedded data, with a sane result.

use std::path::{Path, PathBuf};

use tfmm_data::Source;

/// configs/default.toml and configs/examples/*.toml, sorted.
fn shipped_configs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut files = vec![root.join("default.toml")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .expect("configs/examples")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    examples.sort();
    files.extend(examples);
    files
}

fn check(path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy();
    let config = tfmm_run::config::load(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        config.data.dir.is_none(),
        "{name}: examples use the embedded data"
    );
    let out = tfmm_run::run_on(&config, Source::Embedded).unwrap_or_else(|e| panic!("{name}: {e}"));
    let initial = out.trajectory.values[0];
    let last = out.final_value();
    assert!(last.is_finite() && last > 0.0, "{name}: final value {last}");
    assert!(
        last / initial < 3.0 && initial / last < 3.0,
        "{name}: final value {last} against {initial} at the start"
    );
    let weights = out.final_weights();
    let total: f64 = weights.iter().sum();
    assert!(
        weights.iter().all(|w| w.is_finite() && *w >= 0.0) && (total - 1.0).abs() < 1e-9,
        "{name}: final weights {weights:?}"
    );
    if let Some(pool) = out.pool_values() {
        let last = *pool.last().unwrap();
        assert!(
            last.is_finite() && last > 0.0,
            "{name}: pool's final value {last}"
        );
    }

    // The summary a user reads, written with every output.
    let report = tfmm_run::Report::new(&out);
    let dir = tempfile::tempdir().unwrap();
    let written = tfmm_run::output::write_all(&out, &report, dir.path())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(written.len(), 11, "{name}: {written:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    let get = |section: &str, key: &str| {
        summary[section][key]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: {section}.{key} = {}", summary[section][key]))
    };
    let ret = get("metrics", "returns");
    assert!(
        (ret - (last / initial - 1.0)).abs() < 1e-12,
        "{name}: returns {ret}"
    );
    for key in [
        "sharpe",
        "daily_sharpe",
        "annualised_returns",
        "returns_over_hodl",
        "calmar",
    ] {
        assert!(get("metrics", key).is_finite(), "{name}: {key}");
    }
    let hodl = get("hodl", "final_value");
    let uniform = get("uniform_hodl", "final_value");
    assert!(
        hodl > 0.0 && uniform > 0.0,
        "{name}: HODL {hodl}, uniform {uniform}"
    );
    // Over three weeks a pool stays within a few tens of percent of holding.
    assert!(
        (last / hodl - 1.0).abs() < 0.5,
        "{name}: {last} against HODL {hodl}"
    );
    let drawdown = summary["max_drawdown"].as_f64().unwrap();
    assert!(
        (0.0..1.0).contains(&drawdown),
        "{name}: max drawdown {drawdown}"
    );
    // A rebalancing benchmark earns no fees; its pool does.
    let fees = match summary["benchmark"].get("pool_fee_revenue") {
        Some(pool) => pool["lp"].as_f64().unwrap(),
        None => summary["fee_revenue"]["lp"].as_f64().unwrap(),
    };
    let turnover = get("evaluation", "turnover");
    // Turnover is measured on implied weights, which drift with prices even in HODL.
    assert!(
        turnover > 0.0 && turnover < 0.01,
        "{name}: turnover {turnover}"
    );
    if config.rule == "hodl" {
        assert_eq!(fees, 0.0, "{name}: a HODL pool does not trade");
    } else {
        assert!(
            fees > 0.0 && fees < 0.05 * initial,
            "{name}: fee revenue {fees}"
        );
    }
}

#[test]
fn every_shipped_config_runs() {
    let files = shipped_configs();
    // One example per TFMM rule we ship data for, per pool type, and the market inputs.
    for example in [
        "momentum",
        "anti_momentum",
        "power_channel",
        "mean_reversion_channel",
        "triple_threat_mean_reversion_channel",
        "difference_momentum",
        "min_variance",
        "balancer",
        "hodl",
        "cow",
        "gyroscope",
        "reclamm",
        "market_inputs",
    ] {
        assert!(
            files
                .iter()
                .any(|f| f.ends_with(format!("examples/{example}.toml"))),
            "configs/examples/{example}.toml is missing"
        );
    }
    for file in &files {
        check(file);
    }
}

#[test]
fn the_default_config_is_configs_default_toml() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/default.toml");
    let loaded = tfmm_run::config::load(&path).unwrap();
    let default = tfmm_run::config::default_config();
    assert_eq!(loaded, default);
    assert_eq!(default.rule, "momentum");
    assert_eq!(default.tokens, ["BTC", "ETH", "SOL"]);
    assert_eq!(default.pool.fees, 0.003);
    assert_eq!(
        (default.start.as_str(), default.end.as_str()),
        ("2024-01-01 00:00:00", "2024-06-20 00:00:00")
    );
    assert_eq!(default.weights.rule.chunk_period, 60);
    assert_eq!(default.weights.weight_interpolation_period, 60);
}
