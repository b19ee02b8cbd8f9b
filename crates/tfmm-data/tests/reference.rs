//! The reference fixtures (testdata/reference): the `.ticks` prices decode to
//! exactly the values quantammsim read, and window selection reproduces the
//! index arithmetic recorded in every case's `alignment` block.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use tfmm_data::ticks::{decode_ticks, encode_ticks};
use tfmm_data::{PriceTable, load_prices, parse_utc, read_series, select_window};

const ROWS: usize = 789_120;
const FIRST_MS: i64 = 1_640_995_200_000;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reference")
}

fn tokens(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn table() -> &'static PriceTable {
    static TABLE: OnceLock<PriceTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        load_prices(&testdata().join("prices"), &tokens(&["BTC", "ETH", "USDC"])).unwrap()
    })
}

#[test]
fn ticks_decode_to_the_check_values_bit_for_bit() {
    let text = std::fs::read_to_string(testdata().join("prices/check.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("unix_ms,BTC,ETH,USDC"));
    let t = table();
    let mut n = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let ms: i64 = f[0].parse().unwrap();
        let row = t.index_of(ms).unwrap();
        for (asset, text) in f[1..].iter().enumerate() {
            let want: f64 = text.parse().unwrap();
            let got = t.row(row)[asset];
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{ms} asset {asset}: {got} vs {text}"
            );
        }
        n += 1;
    }
    assert!(n > 1000, "{n} check rows");
}

#[test]
fn load_prices_covers_the_reference_range() {
    let t = table();
    assert_eq!(t.n_rows(), ROWS);
    assert_eq!(t.n_assets(), 3);
    assert_eq!(t.start_ms, FIRST_MS);
    assert_eq!(t.start_ms, parse_utc("2022-01-01").unwrap());
    // 548 days: the six-month cases' data_len (end day + 1 extra day).
    assert_eq!(t.last_ms(), parse_utc("2023-07-02 23:59:00").unwrap());
    assert_eq!(t.row(1), &[40010.07, 2998.819, 1.00000517]);
    for p in &t.provenance {
        assert_eq!(p.rows_read, ROWS, "{}", p.token);
        assert_eq!(
            (p.minutes_filled, p.longest_gap_minutes),
            (0, 0),
            "{}",
            p.token
        );
        assert!(p.path.ends_with(format!("{}.ticks", p.token)));
    }
}

/// The Python encoder and ours produce the same stream, byte for byte.
#[test]
fn rust_encoder_reproduces_the_python_stream() {
    let path = testdata().join("prices/USDC.ticks");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let series = decode_ticks(&raw, &path).unwrap();
    assert_eq!(series, read_series(&path).unwrap());
    assert_eq!(encode_ticks(&series, raw[8], &path).unwrap(), raw);
}

fn read_case(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap()
}

#[test]
fn select_window_matches_every_case_alignment() {
    let t = table();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(testdata().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 40);
    let mut noon_seen = false;
    for dir in &cases {
        let case = read_case(dir);
        let name = case["name"].as_str().unwrap();
        let fp = &case["run_fingerprint"];
        let al = &case["alignment"];
        let start = parse_utc(fp["startDateString"].as_str().unwrap()).unwrap();
        let end = parse_utc(fp["endDateString"].as_str().unwrap()).unwrap();
        let mmd = fp["max_memory_days"].as_f64().unwrap();
        let w = select_window(t, start, end, mmd).unwrap();
        let int = |k: &str| al[k].as_i64().unwrap_or_else(|| panic!("{name}: {k}"));

        assert_eq!(w.start as i64, int("start_idx_in_data"), "{name}");
        assert_eq!(w.bout_length as i64, int("bout_length"), "{name}");
        assert_eq!(w.n_rows as i64, int("n_rows_full"), "{name}");
        assert_eq!(t.unix_ms(w.lo), int("data_first_unix_ms"), "{name}");
        assert_eq!(
            t.unix_ms(w.sim_rows().start),
            int("start_unix_ms"),
            "{name}"
        );
        assert_eq!(
            t.unix_ms(w.sim_rows().end - 1),
            int("last_row_unix_ms"),
            "{name}"
        );
        assert_eq!(w.reference_data_len() as i64, int("data_len"), "{name}");
        assert_eq!(
            w.max_memory_days_effective,
            al["max_memory_days_effective"].as_f64().unwrap(),
            "{name}"
        );
        if name == "momentum_3a_f30_noon_start_1m" {
            // 2023-03-15 12:00 with 365 days of memory keeps data from
            // 2022-03-15 12:00: row 105,840 of data that starts 2022-01-01.
            assert_eq!(w.lo, 73 * 1440 + 720, "{name}");
            assert_eq!(w.start, 525_600, "{name}");
            noon_seen = true;
        } else {
            assert_eq!(w.lo, 0, "{name}");
        }
    }
    assert!(noon_seen);
}

#[test]
fn worked_example_from_the_brief() {
    let w = select_window(
        table(),
        parse_utc("2023-01-01").unwrap(),
        parse_utc("2023-02-01").unwrap(),
        365.0,
    )
    .unwrap();
    assert_eq!(
        (w.lo, w.start, w.bout_length, w.n_rows),
        (0, 525_600, 44_641, 44_640)
    );
}

#[test]
fn golden_rows_index_the_price_table() {
    // The golden files dropped their price columns; `row` + start recovers
    // the minute, which must be a table minute inside the simulated range.
    let dir = testdata().join("cases/momentum_3a_f30_noon_start_1m");
    let case = read_case(&dir);
    let start = case["alignment"]["start_unix_ms"].as_i64().unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(dir.join("golden.csv.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("row,unix_ms,value,weight_BTC"),
        "{header}"
    );
    assert!(!header.contains("price_"));
    let t = table();
    for line in lines {
        let mut f = line.split(',');
        let r: i64 = f.next().unwrap().parse().unwrap();
        let ms: i64 = f.next().unwrap().parse().unwrap();
        assert_eq!(ms, start + 60_000 * r);
        assert!(t.index_of(ms).is_some());
    }
}
