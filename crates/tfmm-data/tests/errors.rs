//! One test per user-input error: each checks the one-line message names the
//! file (and line), the field and value, and the rule broken.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use tempfile::TempDir;
use tfmm_data::{
    DataError, PriceTable, find_token_file, load_prices, load_supply, parse_utc, read_series,
    select_window,
};

const T0: i64 = 1_640_995_200_000; // 2022-01-01 00:00
const MIN: i64 = 60_000;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if name.ends_with(".gz") {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
    } else {
        std::fs::write(&p, text).unwrap();
    }
    p
}

/// Error text of reading `text` as file `name`, with the directory stripped
/// so assertions can start at the file name.
fn csv_err(name: &str, text: &str) -> String {
    let tmp = TempDir::new().unwrap();
    let p = write(tmp.path(), name, text);
    let e = read_series(&p).unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    let prefix = format!("{}/", tmp.path().display());
    e.strip_prefix(&prefix).unwrap_or(&e).to_string()
}

fn minutes(rows: &[(i64, &str)]) -> String {
    let mut s = String::from("unix_ms,close\n");
    for (m, c) in rows {
        s.push_str(&format!("{},{c}\n", T0 + m * MIN));
    }
    s
}

// ---- CSV readers -----------------------------------------------------------

#[test]
fn negative_price_names_file_line_field_and_rule() {
    let mut text = minutes(&[(0, "1.5"), (1, "2")]);
    text.push_str(&format!("{},-3\n", T0 + 2 * MIN));
    assert_eq!(
        csv_err("BTC.csv.gz", &text),
        "BTC.csv.gz line 4: close = -3 is not a positive price"
    );
}

#[test]
fn zero_price() {
    let e = csv_err("BTC.csv", &minutes(&[(0, "0.0")]));
    assert_eq!(e, "BTC.csv line 2: close = 0 is not a positive price");
}

#[test]
fn nan_price() {
    let e = csv_err("BTC.csv", &minutes(&[(0, "1"), (1, "NaN")]));
    assert_eq!(e, "BTC.csv line 3: close = NaN is not a finite price");
}

#[test]
fn infinite_price() {
    let e = csv_err("BTC.csv", &minutes(&[(0, "inf")]));
    assert_eq!(e, "BTC.csv line 2: close = inf is not a finite price");
}

#[test]
fn non_numeric_price() {
    let e = csv_err("BTC.csv", &minutes(&[(0, "1"), (1, "abc")]));
    assert_eq!(e, "BTC.csv line 3: close = `abc` is not a number");
}

#[test]
fn non_numeric_timestamp() {
    let e = csv_err("BTC.csv", "unix_ms,close\n2022-01-01,1.0\n");
    assert_eq!(
        e,
        "BTC.csv line 2: unix_ms = `2022-01-01` is not an integer timestamp in unix milliseconds"
    );
}

#[test]
fn timestamp_not_on_a_whole_minute() {
    let e = csv_err("BTC.csv", &format!("unix_ms,close\n{},1.0\n", T0 + 30_500));
    assert!(
        e.starts_with(&format!(
            "BTC.csv line 2: unix_ms = {} is not on a whole minute",
            T0 + 30_500
        )),
        "{e}"
    );
    assert!(
        e.contains("2022-01-01 00:00:30, 30500 ms past the minute"),
        "{e}"
    );
}

#[test]
fn timestamp_in_seconds_is_off_the_minute_grid() {
    let e = csv_err("ETH.csv", "unix_ms,close\n1640995230,1.0\n");
    assert!(
        e.starts_with("ETH.csv line 2: unix_ms = 1640995230 is not on a whole minute"),
        "{e}"
    );
}

#[test]
fn duplicate_timestamp() {
    let e = csv_err("BTC.csv", &minutes(&[(0, "1"), (1, "2"), (1, "3")]));
    assert_eq!(
        e,
        format!(
            "BTC.csv line 4: unix_ms = {} repeats the previous timestamp (2022-01-01 00:01:00)",
            T0 + MIN
        )
    );
}

#[test]
fn unsorted_timestamps() {
    let e = csv_err("BTC.csv", &minutes(&[(0, "1"), (5, "2"), (3, "3")]));
    assert!(
        e.starts_with(&format!(
            "BTC.csv line 4: unix_ms = {} is earlier than the previous row's {}",
            T0 + 3 * MIN,
            T0 + 5 * MIN
        )),
        "{e}"
    );
    assert!(e.ends_with("timestamps must increase"), "{e}");
}

#[test]
fn empty_file() {
    assert_eq!(csv_err("BTC.csv", ""), "BTC.csv: contains no data rows");
    assert_eq!(
        csv_err("BTC.csv.gz", ""),
        "BTC.csv.gz: contains no data rows"
    );
    assert_eq!(
        csv_err("BTC.csv", "\n\n  \n"),
        "BTC.csv: contains no data rows"
    );
}

#[test]
fn header_without_rows() {
    assert_eq!(
        csv_err("BTC.csv", "unix_ms,close\n"),
        "BTC.csv: contains no data rows"
    );
}

#[test]
fn header_without_close_column() {
    let e = csv_err("BTC.csv", "unix_ms,price\n1,2\n");
    assert_eq!(
        e,
        "BTC.csv line 1: header `unix_ms,price` has no `close` column (expected e.g. `unix_ms,close`)"
    );
}

#[test]
fn header_without_time_column() {
    let e = csv_err("BTC.csv", "time,close\n1,2\n");
    assert!(
        e.starts_with("BTC.csv line 1: header `time,close` has no `unix_ms` (or `unix`) column"),
        "{e}"
    );
}

#[test]
fn header_without_either_column() {
    let e = csv_err("BTC.csv", "a,b\n1,2\n");
    assert_eq!(
        e,
        "BTC.csv line 1: header `a,b` has no `unix_ms` (or `unix`) column and no `close` column (expected e.g. `unix_ms,close`)"
    );
}

#[test]
fn data_line_with_too_few_fields() {
    let e = csv_err("BTC.csv", &format!("unix_ms,close\n{T0},1\n{}\n", T0 + MIN));
    assert_eq!(
        e,
        "BTC.csv line 3: has 1 field(s), but the header puts `unix_ms` in column 1 and `close` in column 2"
    );
}

#[test]
fn invalid_utf8() {
    let tmp = TempDir::new().unwrap();
    let p = tmp.path().join("BTC.csv");
    std::fs::write(&p, b"unix_ms,close\n1640995200000,1\xff\n").unwrap();
    let e = read_series(&p).unwrap_err().to_string();
    assert!(e.ends_with("BTC.csv line 2: is not valid UTF-8"), "{e}");
}

#[test]
fn gz_file_that_is_not_gzip() {
    let tmp = TempDir::new().unwrap();
    let p = tmp.path().join("BTC.csv.gz");
    std::fs::write(&p, "unix_ms,close\n1,2\n").unwrap();
    let e = read_series(&p).unwrap_err().to_string();
    assert!(
        e.contains("BTC.csv.gz: cannot read: invalid gzip header"),
        "{e}"
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let e = read_series(Path::new("/nonexistent/BTC.csv")).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/BTC.csv: cannot read: "),
        "{e}"
    );
}

#[test]
fn unknown_extension() {
    let e = csv_err("BTC.json", "{}");
    assert_eq!(
        e,
        "BTC.json: unknown price file type (expected .ticks, .csv.gz, .csv or .parquet)"
    );
}

// ---- CSV flexibility (not errors) ------------------------------------------

#[test]
fn quantammsim_csv_with_unix_float_and_extra_columns() {
    let tmp = TempDir::new().unwrap();
    let text = format!(
        "\u{feff}unix,date,symbol,open,high,low,close,Volume USD,Volume BTC\r\n\
         {}.0,2022-01-01 00:00:00,\"BTC/USD\",1,1,1,40000.0,5,6\r\n\
         \r\n\
         {}.0,\"2022-01-01 00:01:00\",\"BTC,USD\",1,1,1,40010.07,5,6\r\n",
        T0,
        T0 + MIN
    );
    let p = write(tmp.path(), "BTC_USD.csv", &text);
    let s = read_series(&p).unwrap();
    assert_eq!(s.unix_ms, vec![T0, T0 + MIN]);
    assert_eq!(s.close, vec![40000.0, 40010.07]);
}

#[test]
fn unix_ms_is_preferred_over_unix_and_columns_found_by_name() {
    let tmp = TempDir::new().unwrap();
    let p = write(
        tmp.path(),
        "X.csv.gz",
        &format!("close,unix,unix_ms\n2.5,0,{T0}\n"),
    );
    let s = read_series(&p).unwrap();
    assert_eq!((s.unix_ms[0], s.close[0]), (T0, 2.5));
}

// ---- finding files -----------------------------------------------------------

#[test]
fn token_file_not_found_lists_names_tried() {
    let tmp = TempDir::new().unwrap();
    let e = find_token_file(tmp.path(), "SOL").unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "no price file for token SOL in {} (tried SOL.ticks, SOL.csv.gz, SOL.csv, SOL_USD.parquet)",
            tmp.path().display()
        )
    );
}

#[test]
fn token_files_are_tried_in_order() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "BTC.csv", &minutes(&[(0, "1")]));
    assert!(
        find_token_file(tmp.path(), "BTC")
            .unwrap()
            .ends_with("BTC.csv")
    );
    write(tmp.path(), "BTC.csv.gz", &minutes(&[(0, "1")]));
    assert!(
        find_token_file(tmp.path(), "BTC")
            .unwrap()
            .ends_with("BTC.csv.gz")
    );
}

#[test]
fn token_name_with_path_separator_is_refused() {
    let tmp = TempDir::new().unwrap();
    let e = find_token_file(tmp.path(), "../BTC")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "invalid token list: `../BTC` is not a token name");
}

// ---- alignment -----------------------------------------------------------------

#[test]
fn disjoint_ranges_name_tokens_and_ranges() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "A.csv", &minutes(&[(0, "1"), (10, "1")]));
    write(tmp.path(), "B.csv", &minutes(&[(20, "1"), (30, "1")]));
    let e = load_prices(tmp.path(), &["A".into(), "B".into()])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "the tokens' date ranges do not overlap: A 2022-01-01 00:00:00 .. 2022-01-01 00:10:00, \
         B 2022-01-01 00:20:00 .. 2022-01-01 00:30:00"
    );
}

#[test]
fn load_prices_names_the_bad_file() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "A.csv", &minutes(&[(0, "1")]));
    write(tmp.path(), "B.csv.gz", &minutes(&[(0, "1"), (1, "-1")]));
    let e = load_prices(tmp.path(), &["A".into(), "B".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("B.csv.gz line 3: close = -1 is not a positive price"),
        "{e}"
    );
}

#[test]
fn load_prices_intersects_and_fills() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "A.csv",
        &minutes(&[(0, "1"), (1, "2"), (5, "3"), (9, "4")]),
    );
    write(
        tmp.path(),
        "B.csv",
        &minutes(&[
            (1, "10"),
            (2, "20"),
            (3, "30"),
            (4, "40"),
            (5, "50"),
            (6, "60"),
        ]),
    );
    let t = load_prices(tmp.path(), &["B".into(), "A".into()]).unwrap();
    assert_eq!((t.start_ms, t.n_rows()), (T0 + MIN, 6));
    assert_eq!(t.column(1), vec![2.0, 2.0, 2.0, 2.0, 3.0, 3.0]);
    assert_eq!(t.column(0), vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
    let a = &t.provenance[1];
    assert_eq!(
        (a.rows_read, a.minutes_filled, a.longest_gap_minutes),
        (4, 4, 3)
    );
    assert_eq!((a.first_ms, a.last_ms), (T0, T0 + 9 * MIN));
}

#[test]
fn duplicate_or_empty_token_list() {
    let tmp = TempDir::new().unwrap();
    let e = load_prices(tmp.path(), &["A".into(), "A".into()])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "invalid token list: token A is listed twice");
    let e = load_prices(tmp.path(), &[]).unwrap_err().to_string();
    assert_eq!(e, "invalid token list: no tokens given");
}

#[test]
fn from_rows_rejects_bad_prices_and_shapes() {
    let tk = || vec!["A".to_string(), "B".to_string()];
    let e = PriceTable::from_rows(tk(), 0, vec![1.0, 2.0, 3.0, f64::NAN]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "price table row 1, B: price = NaN is not finite"
    );
    let e = PriceTable::from_rows(tk(), 0, vec![1.0, 0.0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "price table row 0, B: price = 0 is not a positive price"
    );
    let e = PriceTable::from_rows(tk(), 0, vec![-1.0, 1.0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "price table row 0, A: price = -1 is not a positive price"
    );
    let e = PriceTable::from_rows(tk(), 0, vec![1.0, 2.0, 3.0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "price table: 3 prices do not form whole rows of 2 assets (need a positive multiple of 2)"
    );
    let e = PriceTable::from_rows(tk(), 0, vec![]).unwrap_err();
    assert!(e.to_string().contains("0 prices do not form whole rows"));
    let e = PriceTable::from_rows(tk(), 1, vec![1.0, 1.0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "price table: start_ms = 1 (1970-01-01 00:00:00) is not on a whole minute"
    );
}

// ---- window selection ------------------------------------------------------------

fn days_table(days: usize) -> PriceTable {
    PriceTable::from_rows(vec!["A".into()], T0, vec![1.0; days * 1440]).unwrap()
}

fn at(s: &str) -> i64 {
    parse_utc(s).unwrap()
}

#[test]
fn window_start_outside_the_data() {
    let t = days_table(10);
    let e = select_window(&t, at("2021-12-31"), at("2022-01-02"), 1.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "window: start 2021-12-31 00:00:00 is outside the data (data covers 2022-01-01 00:00:00 .. 2022-01-10 23:59:00)"
    );
}

#[test]
fn window_end_beyond_the_data() {
    let t = days_table(10);
    // Ending at the first minute after the data is fine (end is not simulated).
    assert!(select_window(&t, at("2022-01-05"), at("2022-01-11"), 1.0).is_ok());
    let e = select_window(&t, at("2022-01-05"), at("2022-01-11 00:01:00"), 1.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "window: end 2022-01-11 00:01:00 needs data through 2022-01-11 00:00:00 (the last simulated minute) \
         but the data covers 2022-01-01 00:00:00 .. 2022-01-10 23:59:00"
    );
}

#[test]
fn window_end_not_after_start() {
    let t = days_table(10);
    let e = select_window(&t, at("2022-01-05"), at("2022-01-05"), 1.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "window: end 2022-01-05 00:00:00 is not after start 2022-01-05 00:00:00"
    );
}

#[test]
fn window_times_off_the_minute() {
    let t = days_table(10);
    let e = select_window(&t, at("2022-01-05") + 1, at("2022-01-06"), 1.0).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "window: start 1641340800001 (2022-01-05 00:00:00) is not on a whole minute"
        )
    );
    let e = select_window(&t, at("2022-01-05"), at("2022-01-06") + 30_000, 1.0).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "window: end 1641427230000 (2022-01-06 00:00:30) is not on a whole minute"
        )
    );
}

#[test]
fn window_bad_memory() {
    let t = days_table(10);
    for bad in [f64::NAN, -1.0, f64::INFINITY] {
        let e = select_window(&t, at("2022-01-05"), at("2022-01-06"), bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("window: max_memory_days = {bad} is not a non-negative number of days")
        );
    }
}

// ---- supply ----------------------------------------------------------------------

fn supply_table() -> PriceTable {
    PriceTable::from_rows(
        vec!["A".into(), "B".into()],
        T0 + 10 * MIN,
        vec![1.0; 2 * 5],
    )
    .unwrap()
}

#[test]
fn supply_is_forward_filled() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "A_supply.csv",
        &format!("unix_ms,supply\n{T0},100\n{},200\n", T0 + 12 * MIN),
    );
    write(
        tmp.path(),
        "B_supply.csv.gz",
        &format!("unix_ms,supply\n{},7\n", T0 + 10 * MIN),
    );
    let s = load_supply(tmp.path(), &["A".into(), "B".into()], &supply_table()).unwrap();
    assert_eq!(
        s,
        vec![100.0, 7.0, 100.0, 7.0, 200.0, 7.0, 200.0, 7.0, 200.0, 7.0]
    );
}

#[test]
fn supply_starting_after_the_table() {
    let tmp = TempDir::new().unwrap();
    let p = write(
        tmp.path(),
        "A_supply.csv",
        &format!("unix_ms,supply\n{},100\n", T0 + 11 * MIN),
    );
    let e = load_supply(tmp.path(), &["A".into()], &supply_table()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "supply for A starts at 2022-01-01 00:11:00 (in {}), after the first price minute 2022-01-01 00:10:00",
            p.display()
        )
    );
}

#[test]
fn supply_missing_file() {
    let tmp = TempDir::new().unwrap();
    let e = load_supply(tmp.path(), &["A".into()], &supply_table()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "no supply file for token A in {} (tried A_supply.csv, A_supply.csv.gz)",
            tmp.path().display()
        )
    );
}

#[test]
fn supply_bad_value() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "A_supply.csv",
        &format!("unix_ms,supply\n{T0},100\n{},-5\n", T0 + MIN),
    );
    let e = load_supply(tmp.path(), &["A".into()], &supply_table())
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("A_supply.csv line 3: supply = -5 is not a positive supply"),
        "{e}"
    );
    write(tmp.path(), "A_supply.csv", "unix_ms,close\n1,2\n");
    let e = load_supply(tmp.path(), &["A".into()], &supply_table())
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("A_supply.csv line 1: header `unix_ms,close` has no `supply` column (expected e.g. `unix_ms,supply`)"), "{e}");
}

#[test]
fn absurd_spans_are_errors_not_overflows() {
    let tmp = TempDir::new().unwrap();
    let lo = i64::MIN / MIN * MIN + MIN; // whole minutes near the i64 limits
    let hi = i64::MAX / MIN * MIN;
    write(
        tmp.path(),
        "A.csv",
        &format!("unix_ms,close\n{lo},1\n{hi},1\n"),
    );
    let e = load_prices(tmp.path(), &["A".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("price table: ") && e.contains("cell limit"),
        "{e}"
    );

    let t = days_table(1);
    let e = select_window(&t, T0, hi, 1.0).unwrap_err().to_string();
    assert!(e.contains("the last simulated minute"), "{e}");

    let tk = tempfile::tempdir().unwrap();
    let s = tfmm_data::Series {
        unix_ms: vec![lo, hi],
        close: vec![1.0, 1.0],
    };
    tfmm_data::write_ticks(&tk.path().join("A.ticks"), &s, 0).unwrap();
    assert_eq!(read_series(&tk.path().join("A.ticks")).unwrap(), s);
}
