//! Bounded load test on loopback: starts the server in-process, fires N (default 200)
//! concurrent runSimulation requests for a one-month pool, and prints requests per second,
//! latency percentiles, how many succeeded or were refused with 503, and peak memory.
//!
//!     cargo run --release -p tfmm-server --example load [-- REQUESTS [MAX_QUEUE]]

use std::time::{Duration, Instant};

use serde_json::json;
use tfmm_server::client::{Client, StatusCode};
use tfmm_server::{Limits, Settings};

/// Peak resident memory of this process (Linux), MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let defaults = Limits::default();
    let max_queue: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(defaults.max_queue);
    let jobs = tempfile::tempdir().expect("a temporary folder");
    let settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        jobs_dir: jobs.path().join("jobs"),
        audit_dir: jobs.path().join("audit"),
        limits: Limits {
            max_queue,
            ..defaults
        },
        ..Settings::default()
    };
    let limits = settings.limits.clone();
    let server = tfmm_server::spawn(settings).await.expect("server starts");
    let client = Client::new(server.addr);
    let body = json!({
        "startUnix": 0, "endUnix": 0,
        "startDateString": "2024-05-01 00:00:00",
        "endDateString": "2024-05-31 23:59:00",
        "pool": {
            "id": "load",
            "poolConstituents": [
                {"coinCode": "BTC", "marketValue": 400000.0},
                {"coinCode": "ETH", "marketValue": 300000.0},
                {"coinCode": "SOL", "marketValue": 300000.0}
            ],
            "updateRule": {"name": "momentum", "UpdateRuleParameters": [
                {"name": "memory_days", "value": [10]},
                {"name": "k_per_day", "value": [1]},
                {"name": "chunk_period", "value": [60]},
                {"name": "weight_interpolation_period", "value": [60]}
            ]},
            "enableAutomaticArbBots": true,
            "poolNumeraireCoinCode": null
        },
        "feeHooks": [{"hookName": "timeSeriesFeeImport", "hookTimeSteps": [{"unix": 1714521600000_i64, "value": 30}], "unit": "bps"}]
    });
    // One request first so the price cache is warm, as it is on a running server.
    let warm = client
        .post("/api/runSimulation", &body)
        .await
        .expect("warm-up");
    assert_eq!(warm.status, StatusCode::OK, "{}", warm.text());

    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (c, b) = (client.clone(), body.clone());
            tokio::spawn(async move {
                let t = Instant::now();
                let r = c.post("/api/runSimulation", &b).await;
                (r.map(|r| r.status), t.elapsed())
            })
        })
        .collect();
    let mut ok = vec![];
    let mut refused = vec![];
    let mut other = 0;
    for t in tasks {
        match t.await.expect("task") {
            (Ok(StatusCode::OK), d) => ok.push(d),
            (Ok(StatusCode::SERVICE_UNAVAILABLE), d) => refused.push(d),
            (s, _) => {
                eprintln!("unexpected: {s:?}");
                other += 1;
            }
        }
    }
    let wall = started.elapsed();
    let pct = |v: &mut Vec<Duration>, q: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        v.sort();
        v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3
    };
    println!(
        "{n} concurrent runSimulation (one month, 3 tokens, 1-hour chunks, 30 bp), max_concurrent {} + max_queue {}",
        limits.max_concurrent, limits.max_queue
    );
    println!(
        "  200 OK: {}   503 refused: {}   other: {other}",
        ok.len(),
        refused.len()
    );
    println!(
        "  wall {:.2} s; {:.1} completed simulations/s; {:.1} answered requests/s",
        wall.as_secs_f64(),
        ok.len() as f64 / wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64()
    );
    println!(
        "  latency of 200s: p50 {:.0} ms, p99 {:.0} ms; of 503s: p50 {:.1} ms",
        pct(&mut ok, 0.5),
        pct(&mut ok, 0.99),
        pct(&mut refused, 0.5)
    );
    if let Some(m) = peak_rss_mib() {
        println!("  peak RSS {m:.0} MiB");
    }
    server.stop().await.expect("server stops");
    if other > 0 {
        std::process::exit(1);
    }
}
