//! quantammsim-style parquet files (testdata/parquet, made by
//! scripts/make_parquet_fixtures.py with pandas + pyarrow).

use std::path::{Path, PathBuf};

use tfmm_data::{Series, find_token_file, load_prices, read_series};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/parquet")
}

fn variant(name: &str) -> PathBuf {
    dir().join("variants").join(name)
}

fn assert_bits_eq(got: &Series, want: &Series) {
    assert_eq!(got.unix_ms, want.unix_ms);
    assert_eq!(got.close.len(), want.close.len());
    for (i, (g, w)) in got.close.iter().zip(&want.close).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "row {i}: {g} vs {w}");
    }
}

#[test]
fn reads_quantammsim_parquet_with_unix_column() {
    let got = read_series(&dir().join("BTC_USD.parquet")).unwrap();
    let want = read_series(&dir().join("expected/BTC.csv")).unwrap();
    assert_eq!(got.len(), 300);
    assert_bits_eq(&got, &want);
}

#[test]
fn reads_parquet_with_unix_as_stored_pandas_index() {
    let got = read_series(&dir().join("ETH_USD.parquet")).unwrap();
    let want = read_series(&dir().join("expected/ETH.csv")).unwrap();
    assert_bits_eq(&got, &want);
}

#[test]
fn find_token_file_falls_back_to_parquet() {
    let p = find_token_file(&dir(), "BTC").unwrap();
    assert!(p.ends_with("BTC_USD.parquet"), "{}", p.display());
}

#[test]
fn load_prices_forward_fills_holes_and_reports_them() {
    let tokens = vec!["ETH".to_string(), "BTC".to_string()];
    let t = load_prices(&dir(), &tokens).unwrap();
    // BTC covers minutes 0..=299, ETH 10..=309 with minutes 60-62 and 130 missing.
    let first = 1_640_995_200_000 + 10 * 60_000;
    assert_eq!(t.start_ms, first);
    assert_eq!(t.n_rows(), 290);
    assert_eq!(t.tokens, tokens);
    let eth = &t.provenance[0];
    assert_eq!((eth.token.as_str(), eth.rows_read), ("ETH", 296));
    assert_eq!((eth.minutes_filled, eth.longest_gap_minutes), (4, 3));
    let btc = &t.provenance[1];
    assert_eq!(
        (btc.rows_read, btc.minutes_filled, btc.longest_gap_minutes),
        (300, 0, 0)
    );
    assert_eq!(btc.first_ms, 1_640_995_200_000);

    let eth_series = read_series(&dir().join("expected/ETH.csv")).unwrap();
    let btc_series = read_series(&dir().join("expected/BTC.csv")).unwrap();
    // Minute 59 is ETH's last close before the hole; 60..=62 repeat it.
    let before = eth_series
        .unix_ms
        .iter()
        .position(|&m| m == first + 49 * 60_000)
        .unwrap();
    for minute in 49..=52 {
        assert_eq!(
            t.row(minute)[0],
            eth_series.close[before],
            "minute {minute}"
        );
    }
    assert_ne!(t.row(53)[0], eth_series.close[before]);
    for row in 0..t.n_rows() {
        assert_eq!(t.row(row)[1], btc_series.close[row + 10]);
    }
}

#[test]
fn reads_every_accepted_variant() {
    let want = read_series(&variant("expected.csv")).unwrap();
    for name in [
        "gzip.parquet",
        "uncompressed.parquet",
        "row_groups.parquet",
        "unix_float64.parquet",
        "unix_timestamp_ns.parquet",
        "unix_timestamp_ms.parquet",
    ] {
        let got = read_series(&variant(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_bits_eq(&got, &want);
    }
    // int32 can only hold small millisecond values: the fixture stores
    // offsets from 2022-01-01.
    let got = read_series(&variant("unix_int32.parquet")).unwrap();
    let shifted: Vec<i64> = want.unix_ms.iter().map(|m| m - 1_640_995_200_000).collect();
    assert_eq!(got.unix_ms, shifted);
    assert_eq!(got.close, want.close);
}

fn err(name: &str) -> String {
    read_series(&variant(name)).unwrap_err().to_string()
}

#[test]
fn null_close_names_the_row() {
    let e = err("null_close.parquet");
    assert!(
        e.contains("null_close.parquet row 6: `close` is null"),
        "{e}"
    );
}

#[test]
fn nan_close_is_not_a_finite_price() {
    let e = err("nan_close.parquet");
    assert!(
        e.contains("nan_close.parquet row 8: close = NaN is not a finite price"),
        "{e}"
    );
}

#[test]
fn unsorted_parquet_names_the_row() {
    let e = err("unsorted.parquet");
    assert!(e.contains("unsorted.parquet row 12: unix = "), "{e}");
    assert!(e.contains("timestamps must increase"), "{e}");
}

#[test]
fn missing_close_column_lists_the_columns() {
    let e = err("no_close.parquet");
    assert!(e.contains("no_close.parquet: has no `close` column"), "{e}");
    assert!(e.contains("Volume USD"), "{e}");
}

#[test]
fn text_close_column_is_rejected() {
    let e = err("close_text.parquet");
    assert!(
        e.contains("close_text.parquet: column `close` has type BYTE_ARRAY"),
        "{e}"
    );
}

#[test]
fn zstd_is_reported_not_panicked() {
    let e = err("zstd.parquet");
    assert!(
        e.starts_with(&format!("{}: ", variant("zstd.parquet").display())),
        "{e}"
    );
    assert!(
        e.contains("compressed with zstd, which tfmm does not read"),
        "{e}"
    );
}

#[test]
fn garbage_and_truncated_parquet_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(dir().join("BTC_USD.parquet")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.parquet", Vec::new()),
        ("text.parquet", b"unix,close\n1,2\n".to_vec()),
        ("head.parquet", bytes[..bytes.len() / 2].to_vec()),
        ("tail.parquet", bytes[bytes.len() / 2..].to_vec()),
    ];
    for (name, data) in cases {
        let p = tmp.path().join(name);
        std::fs::write(&p, data).unwrap();
        let e = read_series(&p).unwrap_err().to_string();
        assert!(e.starts_with(&p.display().to_string()), "{name}: {e}");
    }
}

/// Flipping bytes anywhere in a valid file must give errors (or, where the
/// flip only touches ignored columns or statistics, a valid series) and
/// never a panic escaping to the caller.
#[test]
fn corrupted_parquet_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(variant("row_groups.parquet")).unwrap();
    let p = tmp.path().join("x.parquet");
    for pos in (0..bytes.len()).step_by(97) {
        let mut b = bytes.clone();
        b[pos] ^= 0x5a;
        std::fs::write(&p, &b).unwrap();
        let _ = read_series(&p);
    }
}

/// tfmm's own output tables read back through the parquet crate's row API, column by column.
#[test]
fn written_tables_read_back_exactly() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let unix_ms: Vec<i64> = (0..1000).map(|k| 1_700_000_000_000 + k * 60_000).collect();
    let value: Vec<f64> = (0..1000)
        .map(|k| 1e6 * (1.0 + 1e-4 * k as f64).ln_1p())
        .collect();
    let weight: Vec<f64> = (0..1000).map(|k| 1.0 / (k + 3) as f64).collect();
    tfmm_data::parquet::write_table(
        &path,
        &unix_ms,
        &[("value", &value), ("weight_BTC", &weight)],
    )
    .unwrap();

    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(names, ["unix_ms", "value", "weight_BTC"]);
    let mut rows = 0;
    for (i, row) in reader.get_row_iter(None).unwrap().enumerate() {
        let row = row.unwrap();
        let cells: Vec<&Field> = row.get_column_iter().map(|(_, f)| f).collect();
        match cells[0] {
            Field::TimestampMillis(t) => assert_eq!(*t, unix_ms[i]),
            other => panic!("unix_ms is {other:?}"),
        }
        assert_eq!(cells[1], &Field::Double(value[i]));
        assert_eq!(cells[2], &Field::Double(weight[i]));
        rows += 1;
    }
    assert_eq!(rows, 1000);

    let err = tfmm_data::parquet::write_table(&path, &unix_ms, &[("short", &value[..3])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("short") && err.contains("1000"), "{err}");
}
