//! The real server on a loopback port, every endpoint called over HTTP: answers match tfmm's
//! own run bit for bit, and bad requests get 4xx JSON errors naming the field.

use std::time::Duration;

use serde_json::{Value, json};
use tfmm_server::client::{Client, Method, StatusCode};
use tfmm_server::{Limits, Server, Settings};

async fn start(dir: &std::path::Path, limits: Limits) -> (Server, Client) {
    let settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        jobs_dir: dir.join("jobs"),
        audit_dir: dir.join("audit"),
        limits,
        ..Settings::default()
    };
    let server = tfmm_server::spawn(settings).await.unwrap();
    let client = Client::new(server.addr);
    (server, client)
}

/// A one-month momentum pool, constituents deliberately not in alphabetical order.
fn simulation_request() -> Value {
    json!({
        "startUnix": 0, "endUnix": 0,
        "startDateString": "2024-01-01 00:00:00",
        "endDateString": "2024-01-31 23:59:00",
        "pool": {
            "id": "test-momentum",
            "poolConstituents": [
                {"coinCode": "ETH", "marketValue": 400000.0, "currentPrice": 1.0, "amount": 1.0, "weight": 0.4},
                {"coinCode": "BTC", "marketValue": 600000.0, "currentPrice": 1.0, "amount": 1.0, "weight": 0.6}
            ],
            "updateRule": {
                "name": "momentum",
                "UpdateRuleParameters": [
                    {"name": "memory_days", "value": [20.0, "10"]},
                    {"name": "k_per_day", "value": [2.0, 1.0]},
                    {"name": "chunk_period", "value": [1440]},
                    {"name": "weight_interpolation_period", "value": [1440]}
                ]
            },
            "enableAutomaticArbBots": true,
            "poolNumeraireCoinCode": null
        },
        "feeHooks": [{"hookName": "timeSeriesFeeImport", "hookTargetTokens": ["BTC"],
                      "hookTimeSteps": [{"unix": 1704067200000_i64, "value": 30}], "unit": "bps"}],
        "swapImports": [],
        "gasPriceImports": []
    })
}

/// The same pool as a quantammsim case, in pool (alphabetical) order, for `tfmm run`.
fn equivalent_case() -> Value {
    json!({
        "run_fingerprint": {
            "tokens": ["BTC", "ETH"],
            "rule": "momentum",
            "startDateString": "2024-01-01 00:00:00",
            "endDateString": "2024-01-31 23:59:00",
            "chunk_period": 1440,
            "weight_interpolation_period": 1440,
            "initial_pool_value": 1_000_000.0,
            "fees": 0.003,
            "arb_quality": 0.0,
        },
        "params": {"memory_days": [10.0, 20.0], "k_per_day": [1.0, 2.0], "weights": [0.6, 0.4]}
    })
}

/// The wire format: a JSON string whose content is the document.
fn decode_twice(body: &[u8]) -> Value {
    let outer: Value = serde_json::from_slice(body).unwrap();
    serde_json::from_str(outer.as_str().expect("a JSON string")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_simulation_matches_tfmm_run_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path(), Limits::default()).await;
    let reply = client
        .post("/api/runSimulation", &simulation_request())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let doc = decode_twice(&reply.body);

    let config = tfmm_run::config::parse(&equivalent_case()).unwrap();
    let out = tfmm_run::run_on(&config, tfmm_data::Source::Embedded).unwrap();
    let analysis = &doc["analysis"];
    assert_eq!(
        analysis["final_value"].as_f64().unwrap().to_bits(),
        out.final_value().to_bits()
    );

    // One snapshot per day, labelled in request order with the pool's own numbers.
    let steps = doc["timeSteps"].as_array().unwrap();
    assert_eq!(steps.len(), 31);
    assert_eq!(steps[0]["unix"], json!(1_704_067_200_000_i64));
    let last = &steps[30];
    assert_eq!(last["unix"], json!(1_704_067_200_000_i64 + 30 * 86_400_000));
    let row = 30 * 1440;
    for (i, coin) in ["ETH", "BTC"].iter().enumerate() {
        let j = 1 - i; // pool order is BTC, ETH
        let held = &last["coinsHeld"][i];
        assert_eq!(held["coinCode"], json!(coin));
        assert_eq!(
            held["amount"].as_f64().unwrap(),
            out.trajectory.reserves[row * 2 + j]
        );
        assert_eq!(
            held["currentPrice"].as_f64().unwrap(),
            out.prices[row * 2 + j]
        );
    }
    assert_eq!(
        last["timeStepTotal"].as_f64().unwrap(),
        out.trajectory.values[row]
    );
    let w0 = steps[0]["coinsHeld"][0]["weight"].as_f64().unwrap();
    assert!((w0 - 0.4).abs() < 1e-9, "ETH starts at 40 %: {w0}");

    // The analysis: the reference's metric lists, the HODL benchmark, on-chain parameters.
    let metric = |list: &str, name: &str, bench: &str| {
        analysis[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metricName"] == name && m["benchmarkName"] == bench)
            .unwrap_or_else(|| panic!("{list} has no {name} ({bench})"))["metricValue"]
            .clone()
    };
    let values = &out.trajectory.values;
    let daily: Vec<f64> = values.iter().step_by(1440).copied().collect();
    let expected = (daily[daily.len() - 1] / daily[0] - 1.0) * 100.0;
    let absolute = metric("return_analysis", "Absolute Return (%)", "")
        .as_f64()
        .unwrap();
    assert!(
        (absolute - expected).abs() < 1e-9,
        "{absolute} vs {expected}"
    );
    assert!(
        metric("benchmark_analysis", "Beta", "hodl")
            .as_f64()
            .is_some()
    );
    assert!(
        metric(
            "benchmark_analysis",
            "Sharpe Ratio",
            "benchmark_return_analysis"
        )
        .is_number()
    );
    assert!(
        !analysis["return_timeseries_analysis"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let sc = &analysis["smart_contract_parameters"];
    let memory = sc["values"]["memory_days"].as_array().unwrap();
    assert!(
        (memory[0].as_f64().unwrap() - 20.0).abs() < 1e-6,
        "ETH memory in request order"
    );
    assert_eq!(analysis["final_weights"].as_array().unwrap().len(), 2);
    assert_eq!(
        analysis["final_weights_strings"].as_array().unwrap().len(),
        2
    );
    // Final weights: the same pool run on to the last midnight of the data, request order.
    let table = tfmm_data::load(tfmm_data::Source::Embedded, &config.tokens).unwrap();
    let day = 86_400_000;
    let mut longer = equivalent_case();
    longer["run_fingerprint"]["endDateString"] =
        json!(tfmm_data::format_utc(table.last_ms().div_euclid(day) * day));
    let longer = tfmm_run::config::parse(&longer).unwrap();
    let on = tfmm_run::run_on(&longer, tfmm_data::Source::Embedded).unwrap();
    let w = on.final_weights();
    assert_eq!(analysis["final_weights"], json!([w[1], w[0]]));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_other_endpoint_answers_in_the_reference_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path(), Limits::default()).await;

    assert_eq!(client.get("/health").await.unwrap().text(), "OK");
    assert_eq!(client.get("/api/test").await.unwrap().text(), "Hello World");

    let products = client.get("/api/products").await.unwrap().json();
    assert!(products["poolGetPools"].is_array());
    let filters = client.get("/api/filters").await.unwrap().json();
    assert_eq!(filters[0]["chain"].as_array().unwrap().len(), 13);
    assert_eq!(filters[1]["poolType"].as_array().unwrap().len(), 15);

    let prices = client
        .post("/api/loadHistoricDailyPrices", &json!({"coinCode": "BTC"}))
        .await
        .unwrap();
    assert_eq!(prices.status, StatusCode::OK, "{}", prices.text());
    let rows = prices.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 603, "the embedded data's days");
    assert_eq!(rows[0]["date"], json!("2022-11-01"));
    assert_eq!(rows[0]["open"], json!(20475.59));
    assert_eq!(
        rows[0]["unix"],
        json!(1_667_260_800_000_i64 + 1439 * 60_000)
    );
    assert_eq!(rows[0]["symbol"], json!("BTC/USD"));
    let (h, l) = (
        rows[5]["high"].as_f64().unwrap(),
        rows[5]["low"].as_f64().unwrap(),
    );
    assert!(h >= l);

    let pairs = client
        .post("/api/loadCoinComparisonData", &json!({}))
        .await
        .unwrap()
        .json();
    let pairs = pairs.as_array().unwrap();
    assert_eq!(pairs.len(), 3, "BTC/ETH, BTC/SOL, ETH/SOL");
    assert_eq!(pairs[0]["coinPair"], json!("BTC/ETH"));
    assert!(pairs[0]["covariance"].as_f64().unwrap() > 0.0);

    // Daily returns of a week, one benchmark, latest first; a later row of a day (here an
    // hour into day 3) does not count.
    let mut returns: Vec<Value> = (0..7)
        .rev()
        .map(|d| {
            json!([
                1_704_067_200_000_i64 + d * 86_400_000,
                0.01 * (d % 3) as f64 - 0.01,
                0.005
            ])
        })
        .collect();
    returns.push(json!([
        1_704_067_200_000_i64 + 3 * 86_400_000 + 3_600_000,
        0.5,
        0.5
    ]));
    let fa = client
        .post(
            "/api/runFinancialAnalysis",
            &json!({"startDateString": "2024-01-01 00:00:00", "endDateString": "2024-01-07 00:00:00",
                    "tokens": ["BTC"], "returns": returns, "benchmarks": ["flat"]}),
        )
        .await
        .unwrap();
    assert_eq!(fa.status, StatusCode::OK, "{}", fa.text());
    let doc = decode_twice(&fa.body);
    let ra = doc["analysis"]["return_analysis"].as_array().unwrap();
    let abs = ra
        .iter()
        .find(|m| m["metricName"] == "Absolute Return (%)")
        .unwrap();
    let expected = ((0..7)
        .map(|d| 1.0 + 0.01 * (d % 3) as f64 - 0.01)
        .product::<f64>()
        - 1.0)
        * 100.0;
    assert!((abs["metricValue"].as_f64().unwrap() - expected).abs() < 1e-9);
    assert!(
        doc["analysis"]["benchmark_analysis"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["benchmarkName"] == "flat")
    );

    let audit = json!({"user": "u1", "page": "/sim", "tosAgreement": true, "isMobile": false,
                       "timestamp": "Mon Jan 01 2024, Europe/London"});
    for _ in 0..2 {
        let r = client.post("/api/runAuditLog", &audit).await.unwrap();
        assert_eq!(
            r.json(),
            json!({"message": "Audit log updated successfully."})
        );
    }
    let mut long = audit.clone();
    long["page"] = json!("/".repeat(513));
    let r = client.post("/api/runAuditLog", &long).await.unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().contains("page = 513 bytes: at most 512 bytes"),
        "{}",
        r.text()
    );
    let files: Vec<_> = std::fs::read_dir(dir.path().join("audit"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    let counts: u64 = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .inspect(|r| assert_eq!(r["timezone"], json!("Europe/London")))
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counts, 2);

    let spec = client.get("/openapi.json").await.unwrap().json();
    for path in [
        "/api/runSimulation",
        "/api/runFinancialAnalysis",
        "/api/loadHistoricDailyPrices",
        "/api/loadCoinComparisonData",
        "/api/products",
        "/api/filters",
        "/api/runAuditLog",
        "/api/test",
        "/health",
        "/api/runTraining",
        "/api/retrieveTraining/{id}",
        "/api/resumeTraining/{id}",
    ] {
        assert!(spec["paths"][path].is_object(), "openapi.json lacks {path}");
    }
    assert!(spec["paths"]["/api/retrieveTraining/{id}"]["delete"].is_object());
    server.stop().await.unwrap();
}

async fn error_of(
    client: &Client,
    method: Method,
    path: &str,
    body: &[u8],
) -> (StatusCode, String) {
    let r = client
        .send(method, path, Some(body.to_vec()))
        .await
        .unwrap();
    let msg = r.json()["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not a JSON error: {}", r.text()))
        .to_string();
    (r.status, msg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_json_errors_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_body_bytes: 16 * 1024,
        ..Limits::default()
    };
    let (server, client) = start(dir.path(), limits).await;
    let post = Method::POST;

    let (s, e) = error_of(&client, post.clone(), "/api/runSimulation", b"{\"pool\": ").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.contains("malformed JSON"), "{e}");

    let mut wrong_type = simulation_request();
    wrong_type["pool"]["poolConstituents"][1]["marketValue"] = json!("lots");
    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/runSimulation",
        wrong_type.to_string().as_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.contains("pool.poolConstituents[1].marketValue"), "{e}");

    let mut missing = simulation_request();
    missing.as_object_mut().unwrap().remove("startDateString");
    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/runSimulation",
        missing.to_string().as_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.contains("startDateString"), "{e}");

    let mut unknown = simulation_request();
    unknown["pool"]["poolConstituents"][0]["coinCode"] = json!("DOGE");
    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/runSimulation",
        unknown.to_string().as_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e.contains("poolConstituents[0].coinCode") && e.contains("DOGE"),
        "{e}"
    );

    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/loadHistoricDailyPrices",
        br#"{"coinCode": "DOGE"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.contains("coinCode"), "{e}");
    // Not a ticker: refused before any file is looked for; the message lists real tokens.
    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/loadHistoricDailyPrices",
        br#"{"coinCode": "../BTC"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e.contains("unknown token") && e.contains("BTC, ETH, SOL"),
        "{e}"
    );

    let mut bad_value = simulation_request();
    bad_value["pool"]["updateRule"]["UpdateRuleParameters"][0]["value"] = json!(["ten", 10]);
    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/runSimulation",
        bad_value.to_string().as_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.contains("UpdateRuleParameters[0].value[0]"), "{e}");

    let mut swap = simulation_request();
    swap["swapImports"] = json!([{"unix": 1_704_067_260_000_i64, "tokenIn": "SOL", "tokenOut": "BTC", "amountIn": 1.0}]);
    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/runSimulation",
        swap.to_string().as_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.contains("swapImports[0].tokenIn"), "{e}");

    let mut long = simulation_request();
    long["endDateString"] = json!("2030-01-01 00:00:00");
    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/runSimulation",
        long.to_string().as_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e.contains("endDateString"), "{e}");

    let big = vec![b' '; 64 * 1024];
    let (s, e) = error_of(&client, post.clone(), "/api/runSimulation", &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(e.contains("body"), "{e}");
    // The unread rest of the body makes the connection unusable: the server says so.
    let r = client
        .send(post.clone(), "/api/runSimulation", Some(big.clone()))
        .await
        .unwrap();
    assert_eq!(r.headers.get("connection").unwrap(), "close");

    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/runFinancialAnalysis",
        br#"{"returns": [[1, 0.1]], "benchmarks": ["b"]}"#,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.contains("returns[0]"), "{e}");

    let (s, e) = error_of(
        &client,
        post.clone(),
        "/api/runAuditLog",
        br#"{"user": "u", "page": 3}"#,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.contains("page"), "{e}");

    for (method, path) in [
        (Method::GET, "/api/retrieveTraining/nosuchjob"),
        (Method::DELETE, "/api/retrieveTraining/nosuchjob"),
        (Method::POST, "/api/resumeTraining/nosuchjob"),
        (Method::GET, "/api/retrieveTraining/..%2F..%2Fetc"),
    ] {
        let (s, e) = error_of(&client, method, path, b"").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert!(e.contains("id"), "{e}");
    }

    let (s, e) = error_of(&client, post.clone(), "/api/runTraining", br#"{"pool": {"tokens": ["BTC", "ETH"], "rule": "momentum"}, "train": {"n_iterations": "many"}}"#).await;
    assert!(s.is_client_error(), "{s}");
    assert!(e.contains("n_iterations"), "{e}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulations_past_the_queue_are_refused_with_503_and_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_concurrent: 1,
        max_queue: 1,
        timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let (server, client) = start(dir.path(), limits).await;
    let body = simulation_request();
    let replies = futures_join(&client, &body, 6).await;
    let ok = replies.iter().filter(|r| r.0 == StatusCode::OK).count();
    let busy: Vec<_> = replies
        .iter()
        .filter(|r| r.0 == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert_eq!(
        ok + busy.len(),
        6,
        "only 200 or 503: {:?}",
        replies.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert!(ok >= 2 && !busy.is_empty(), "{ok} ok, {} busy", busy.len());
    assert!(busy.iter().all(|r| r.1), "503s carry Retry-After");
    server.stop().await.unwrap();
}

async fn futures_join(client: &Client, body: &Value, n: usize) -> Vec<(StatusCode, bool)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (c, b) = (client.clone(), body.clone());
            tokio::spawn(async move {
                let r = c.post("/api/runSimulation", &b).await.unwrap();
                (r.status, r.headers.contains_key("retry-after"))
            })
        })
        .collect();
    let mut out = vec![];
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
