//! Training jobs over HTTP: submitted, polled to completion, and still known (with the same
//! result) by a new server on the same jobs folder; an interrupted job resumes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tfmm_server::client::{Client, StatusCode};
use tfmm_server::{Limits, Server, Settings};

async fn start(dir: &std::path::Path) -> (Server, Client) {
    start_with(dir, Limits::default()).await
}

async fn start_with(dir: &std::path::Path, limits: Limits) -> (Server, Client) {
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

/// Two gradient steps on a month of BTC/ETH: seconds in a debug build.
fn tiny_training() -> Value {
    json!({
        "pool": {
            "tokens": ["BTC", "ETH"], "rule": "momentum", "memory_days": 10, "k_per_day": 1,
            "chunk_period": 1440, "weight_interpolation_period": 1440,
        },
        "market": {"fees": 0.0},
        "window": {"start": "2023-06-01", "end": "2023-07-01", "burn_in_days": 20},
        "train": {
            "objective": "daily_log_sharpe", "n_iterations": 2, "batch_size": 1,
            "n_parameter_sets": 1, "base_lr": 0.05, "bout_offset_days": 10,
            "val_fraction": 0.0, "seed": 3,
        },
    })
}

async fn wait_until_finished(client: &Client, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let r = client
            .get(&format!("/api/retrieveTraining/{id}"))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        if !["queued", "running"].contains(&v["status"].as_str().unwrap()) {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "job {id} still {}",
            v["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_survives_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let r = client
        .post("/api/runTraining", &tiny_training())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["totalSteps"], json!(3));

    let done = wait_until_finished(&client, &id).await;
    assert_eq!(done["status"], json!("done"), "{done}");
    assert_eq!(done["latestStep"], json!(3));
    assert_eq!(done["totalSteps"], json!(3));
    assert!(done["latestObjective"].as_f64().unwrap().is_finite());
    let result = &done["result"];
    assert!(result["bestParams"]["logit_lamb"].is_array(), "{result}");
    assert!(result["metrics"]["train"]["daily_log_sharpe"].is_number());
    assert_eq!(result["results"]["steps_taken"], json!(3));
    server.stop().await.unwrap();

    // A new server on the same folder: the same job, the same result.
    let (server, client) = start(dir.path()).await;
    let again = client
        .get(&format!("/api/retrieveTraining/{id}"))
        .await
        .unwrap()
        .json();
    assert_eq!(again, done);

    // Deleting a finished job removes it.
    let r = client
        .delete(&format!("/api/retrieveTraining/{id}"))
        .await
        .unwrap();
    assert_eq!(r.json()["deleted"], json!(true));
    let r = client
        .get(&format!("/api/retrieveTraining/{id}"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_running_when_the_server_died_is_interrupted_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    // What a killed server leaves: a job marked running, with a checkpoint after step 1.
    let id = "18f00000000-1";
    let job = dir.path().join("jobs").join(id);
    std::fs::create_dir_all(&job).unwrap();
    std::fs::write(job.join("request.json"), tiny_training().to_string()).unwrap();
    let status = json!({
        "id": id, "status": "running", "latestStep": 1, "totalSteps": 3,
        "latestObjective": 0.5, "bestScore": null, "error": null, "resumed": 0,
        "createdMs": 0, "updatedMs": 0,
    });
    std::fs::write(job.join("status.json"), status.to_string()).unwrap();

    let (server, client) = start(dir.path()).await;
    let r = client
        .get(&format!("/api/retrieveTraining/{id}"))
        .await
        .unwrap()
        .json();
    assert_eq!(r["status"], json!("interrupted"));
    assert_eq!(r["latestStep"], json!(1));
    assert!(r.get("result").is_none());

    let r = client
        .post(&format!("/api/resumeTraining/{id}"), &json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let done = wait_until_finished(&client, id).await;
    assert_eq!(done["status"], json!("done"), "{done}");
    assert_eq!(done["resumed"], json!(1));
    assert!(done["result"]["bestParams"].is_object());

    // A done job does not resume again.
    let r = client
        .post(&format!("/api/resumeTraining/{id}"), &json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CONFLICT);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_is_cancelled_after_its_current_step() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let mut long = tiny_training();
    long["train"]["n_iterations"] = json!(100_000);
    let r = client.post("/api/runTraining", &long).await.unwrap();
    let id = r.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/retrieveTraining/{id}");
    let started = Instant::now();
    while client.get(&path).await.unwrap().json()["latestStep"] == json!(0) {
        assert!(started.elapsed() < Duration::from_secs(120), "no step yet");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = client.delete(&path).await.unwrap();
    assert_eq!(r.json()["cancelled"], json!(true), "{}", r.text());
    let v = wait_until_finished(&client, &id).await;
    assert_eq!(v["status"], json!("cancelled"), "{v}");
    assert!(v["latestStep"].as_u64().unwrap() < 100_000);
    // A cancelled job can be resumed (and cancelled again).
    let r = client
        .post(&format!("/api/resumeTraining/{id}"), &json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::ACCEPTED);
    client.delete(&path).await.unwrap();
    assert_eq!(
        wait_until_finished(&client, &id).await["status"],
        json!("cancelled")
    );
    server.stop().await.unwrap();
}

/// A training request may not make the server read files: neither a data folder nor a
/// series or trades file (inline values are fine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_naming_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let secret = dir.path().join("secret.csv");
    std::fs::write(&secret, "unix,fees\n0,0.5\n").unwrap();
    let secret = secret.display().to_string();
    let mut fees_file = tiny_training();
    fees_file["market"] = json!({"fees_series": secret});
    let mut trades_file = tiny_training();
    trades_file["market"]["trades"] = json!(secret);
    let mut data_dir = tiny_training();
    data_dir["data"] = json!({"dir": dir.path().display().to_string()});
    for (request, field) in [
        (fees_file, "fees = "),
        (trades_file, "trades = "),
        (data_dir, "data.dir = "),
    ] {
        let r = client.post("/api/runTraining", &request).await.unwrap();
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(r.text().contains(field), "{}", r.text());
    }
    // Inline fees are accepted.
    let mut inline = tiny_training();
    inline["market"] = json!({"fees_series": {"unix": [0], "fees": [0.001]}});
    let r = client.post("/api/runTraining", &inline).await.unwrap();
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    server.stop().await.unwrap();
}

/// Past `max_training_queue` waiting jobs, submissions get 503 with Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_past_the_training_queue_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_training_queue: 1,
        ..Limits::default()
    };
    let (server, client) = start_with(dir.path(), limits).await;
    let mut long = tiny_training();
    long["train"]["n_iterations"] = json!(100_000);
    // One runs, one waits; whether the worker has taken the first yet or not, the third
    // finds the queue full.
    let mut accepted = vec![];
    let mut refused = 0;
    for _ in 0..3 {
        let r = client.post("/api/runTraining", &long).await.unwrap();
        match r.status {
            StatusCode::ACCEPTED => accepted.push(r.json()["id"].as_str().unwrap().to_string()),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(r.headers.contains_key("retry-after"));
                assert!(r.text().contains("max_training_queue 1"), "{}", r.text());
                refused += 1;
            }
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert!(
        !accepted.is_empty() && refused >= 1,
        "{accepted:?}, {refused} refused"
    );
    for id in &accepted {
        client
            .delete(&format!("/api/retrieveTraining/{id}"))
            .await
            .unwrap();
    }
    server.stop().await.unwrap();
}
