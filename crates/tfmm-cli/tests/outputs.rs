//! What a user gets from `tfmm run`: the default run on the embedded data, its table, files
//! and plots; readouts; `--quiet`; `tfmm data info`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn tfmm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tfmm"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Width and height from a PNG's IHDR chunk, after checking the signature and chunk order.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "IHDR first");
    assert!(bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The README's first command: no config, no data directory.
#[test]
fn default_run_prints_the_table_and_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let stdout = ok(tfmm(&["run", "--out", out_dir.to_str().unwrap()]));
    for row in [
        "momentum over BTC/ETH/SOL",
        "2024-01-01 00:00:00 .. 2024-06-19 23:59:00",
        "final value",
        "uniform HODL",
        "return over HODL",
        "Sharpe",
        "max drawdown",
        "fee revenue",
    ] {
        assert!(stdout.contains(row), "table lacks {row:?}:\n{stdout}");
    }

    let summary = read_json(&out_dir.join("summary.json"));
    assert_eq!(summary["n_rows"], 171 * 1440);
    assert_eq!(summary["rule"], "momentum");
    let value = summary["final_value"].as_f64().unwrap();
    let hodl = summary["hodl"]["final_value"].as_f64().unwrap();
    assert!(value > 0.0 && hodl > 0.0);
    // The table and summary.json agree, and the metrics agree with the values.
    let metrics = &summary["metrics"];
    let ret = metrics["returns"].as_f64().unwrap();
    assert!((ret - (value / 1e6 - 1.0)).abs() < 1e-12, "{ret}");
    assert!((metrics["returns_over_hodl"].as_f64().unwrap() - (value / hodl - 1.0)).abs() < 1e-12);
    assert!(
        stdout.contains(&format!("({:+.2}%)", 100.0 * ret)),
        "{stdout}"
    );
    // Fees are earned on a 30 bp pool, and every reported metric is a number or null.
    assert!(summary["fee_revenue"]["lp"].as_f64().unwrap() > 0.0);
    for (k, v) in metrics.as_object().unwrap() {
        assert!(v.is_null() || v.as_f64().unwrap().is_finite(), "{k} = {v}");
    }
    assert!(summary["evaluation"]["turnover"].as_f64().unwrap() > 0.0);
    // Provenance: the embedded archives, each with its SHA-256.
    let data = summary["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for d in data {
        let hash = d["sha256"].as_str().unwrap();
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hash}"
        );
        assert!(d["path"].as_str().unwrap().starts_with("embedded/"));
    }
    assert_eq!(
        summary["config"]["tokens"],
        serde_json::json!(["BTC", "ETH", "SOL"])
    );

    // The parquet table has the CSV's columns and rows.
    let csv = std::fs::read_to_string(out_dir.join("timeseries.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert_eq!(csv.lines().count() - 1, 171 * 1440);
    let parquet = std::fs::read(out_dir.join("timeseries.parquet")).unwrap();
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    for column in header.split(',') {
        assert!(
            parquet
                .windows(column.len())
                .any(|w| w == column.as_bytes()),
            "parquet schema lacks {column}"
        );
    }

    // Plots: valid PNG of the documented size and SVG with axis titles and a legend.
    for (name, legend) in [
        ("value", &["pool", "HODL"][..]),
        ("weights", &["BTC", "ETH", "SOL"][..]),
        ("reserves", &["BTC", "ETH", "SOL"][..]),
        ("drawdown", &["pool", "HODL"][..]),
    ] {
        let png = std::fs::read(out_dir.join("plots").join(format!("{name}.png"))).unwrap();
        assert_eq!(png_size(&png), (1200, 675), "{name}.png");
        assert!(png.len() > 10_000, "{name}.png is nearly empty");
        let svg =
            std::fs::read_to_string(out_dir.join("plots").join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}.svg"
        );
        assert!(svg.contains("Date (UTC)"), "{name}.svg has no x-axis title");
        assert!(svg.matches("<path").count() + svg.matches("<polyline").count() >= legend.len());
        for label in legend {
            assert!(
                svg.contains(&format!(">{label}")),
                "{name}.svg legend lacks {label}"
            );
        }
    }
    let y_titles = [
        "Value (USD)",
        "Weight",
        "Reserve / initial reserve",
        "Drawdown",
    ];
    for (name, title) in ["value", "weights", "reserves", "drawdown"]
        .iter()
        .zip(y_titles)
    {
        let svg =
            std::fs::read_to_string(out_dir.join("plots").join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.contains(title),
            "{name}.svg has no y-axis title {title}"
        );
    }
}

#[test]
fn readouts_quiet_and_no_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/examples/momentum.toml");
    let result = tfmm(&[
        "run",
        config.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--readouts",
        "--no-plots",
        "--quiet",
    ]);
    assert_eq!(ok(result), "", "--quiet prints nothing");
    assert!(!out_dir.join("plots").exists());
    let readouts = std::fs::read_to_string(out_dir.join("readouts.csv")).unwrap();
    let mut lines = readouts.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "unix_ms");
    for state in ["ewma", "running_a", "gradients"] {
        for token in ["BTC", "ETH", "SOL"] {
            assert!(
                header.contains(&format!("{state}_{token}").as_str()),
                "{header:?}"
            );
        }
    }
    let summary = read_json(&out_dir.join("summary.json"));
    let rows = summary["n_rows"].as_u64().unwrap() as usize;
    let chunk = summary["config"]["chunk_period"].as_u64().unwrap() as usize;
    let times: Vec<i64> = lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(times.len(), rows.div_ceil(chunk));
    assert!(
        times
            .windows(2)
            .all(|w| w[1] - w[0] == chunk as i64 * 60_000)
    );
}

#[test]
fn progress_bar_stays_off_when_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/examples/hodl.toml");
    let out = tfmm(&[
        "run",
        config.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "nothing on stderr"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("final value"));
}

#[test]
fn data_info_lists_tokens_ranges_and_gaps() {
    let text = ok(tfmm(&["data", "info"]));
    for token in ["BTC", "ETH", "SOL"] {
        let line = text.lines().find(|l| l.starts_with(token)).unwrap();
        assert!(
            line.contains("2022-11-01 00:00:00") && line.contains("2024-06-25 23:59:00"),
            "{line}"
        );
        assert!(line.contains("80 min from 2023-03-24 12:40:00"), "{line}");
    }
    assert!(text.contains("603.0 days"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..10)
        .filter(|k| !(3..6).contains(k))
        .map(|k| {
            format!(
                "{},{}\n",
                1_700_000_000_000i64 - 20_000 + k * 60_000,
                10 + k
            )
        })
        .collect();
    std::fs::write(dir.path().join("AAA.csv"), format!("unix_ms,close\n{rows}")).unwrap();
    std::fs::write(dir.path().join("junk.csv"), "a,b\n").unwrap();
    let text = ok(tfmm(&["data", "info", dir.path().to_str().unwrap()]));
    let aaa = text.lines().find(|l| l.starts_with("AAA")).unwrap();
    let fields: Vec<&str> = aaa.split_whitespace().collect();
    assert_eq!(&fields[5..8], ["7", "3", "1"], "{aaa}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("junk") && l.contains("unreadable")),
        "{text}"
    );

    let empty = tempfile::tempdir().unwrap();
    let out = tfmm(&["data", "info", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no price files"));
}
