//! Market-cap index pools: supply files next to the prices, and the hodling variant's trade
//! window.

use std::path::Path;

use serde_json::{Value, json};

const START: i64 = 1_672_531_200_000; // 2023-01-01
const MINUTES: i64 = 4 * 1440;

/// BTC trends up, ETH down; supply of ETH grows by a tenth halfway through.
fn write_data(dir: &Path, with_eth_supply: bool) {
    let mut btc = String::from("unix_ms,close\n");
    let mut eth = String::from("unix_ms,close\n");
    for i in 0..MINUTES {
        let t = START + 60_000 * i;
        let x = i as f64 / MINUTES as f64;
        btc.push_str(&format!(
            "{t},{}\n",
            20000.0 * (1.0 + 0.2 * x + 0.01 * (i as f64 / 37.0).sin())
        ));
        eth.push_str(&format!(
            "{t},{}\n",
            1500.0 * (1.0 - 0.1 * x + 0.01 * (i as f64 / 23.0).cos())
        ));
    }
    std::fs::write(dir.join("BTC.csv"), btc).unwrap();
    std::fs::write(dir.join("ETH.csv"), eth).unwrap();
    std::fs::write(
        dir.join("BTC_supply.csv"),
        format!("unix_ms,supply\n{START},19000000\n"),
    )
    .unwrap();
    if with_eth_supply {
        let half = START + 60_000 * MINUTES / 2;
        std::fs::write(
            dir.join("ETH_supply.csv"),
            format!("unix_ms,supply\n{START},120000000\n{half},132000000\n"),
        )
        .unwrap();
    }
}

fn case(rule: &str) -> Value {
    json!({
        "run_fingerprint": {
            "tokens": ["ETH", "BTC"],
            "rule": rule,
            "startDateString": "2023-01-02 00:00:00",
            "endDateString": "2023-01-04 00:00:00",
            "chunk_period": 60,
            "weight_interpolation_period": 10,
            "maximum_change": 1.0,
            "minimum_weight": 0.05,
            "max_memory_days": 1,
        },
        "params": {"logit_lamb": -4.0, "logit_delta_lamb": 0.0, "initial_weights_logits": 0.0}
    })
}

fn market_cap_share(dir: &Path, out: &tfmm_run::RunOutput, row: usize) -> f64 {
    let supply = tfmm_data::load_supply(dir, &out.config.tokens, &{
        let t = tfmm_data::load_prices(dir, &out.config.tokens).unwrap();
        let at = t.index_of(out.unix_ms(row)).unwrap();
        t.slice(at, at + 1)
    })
    .unwrap();
    let p = &out.prices[row * 2..row * 2 + 2];
    let caps = [p[0] * supply[0], p[1] * supply[1]];
    caps[0] / (caps[0] + caps[1])
}

#[test]
fn index_weights_follow_market_caps() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path(), true);
    let config = tfmm_run::config::parse(&case("index_market_cap")).unwrap();
    assert_eq!(config.tokens, ["BTC", "ETH"]);
    let out = tfmm_run::run(&config, dir.path()).unwrap();
    assert_eq!(out.n_rows(), 2 * 1440);
    // The blend decay is small (logistic(-4) = 0.018), so after a ramp the weight sits
    // within about 2% of the cap share of the chunk's first minute.
    for row in [600, 1500, 2800] {
        let block_start = row - row % 60;
        let share = market_cap_share(dir.path(), &out, block_start);
        let w = out.trajectory.weights_at(row)[0];
        assert!(
            (w - share).abs() < 0.02 * share,
            "row {row}: weight {w} vs cap share {share}"
        );
    }
}

#[test]
fn hodling_index_trades_only_inside_its_window() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path(), true);
    let config = tfmm_run::config::parse(&case("hodling_index_market_cap")).unwrap();
    let out = tfmm_run::run(&config, dir.path()).unwrap();
    let traj = &out.trajectory;
    let mut traded = 0;
    for row in 1..out.n_rows() {
        let same = traj.reserves_at(row) == traj.reserves_at(row - 1);
        if row % 60 >= 10 {
            assert!(same, "row {row}: reserves moved outside the window");
        } else if !same {
            traded += 1;
        }
    }
    assert!(traded > 400, "traded in {traded} minutes");
    // A plain index pool trades every minute and ends elsewhere.
    let plain = tfmm_run::run(
        &tfmm_run::config::parse(&case("index_market_cap")).unwrap(),
        dir.path(),
    )
    .unwrap();
    assert_ne!(plain.final_value(), out.final_value());
}

#[test]
fn missing_supply_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path(), false);
    let config = tfmm_run::config::parse(&case("index_market_cap")).unwrap();
    let err = tfmm_run::run(&config, dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("ETH") && err.contains("ETH_supply.csv"),
        "{err}"
    );
}
