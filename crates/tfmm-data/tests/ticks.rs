//! The `.ticks` codec: exact decoding, round trips, and errors (never panics)
//! on corrupt or truncated archives.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use tfmm_data::ticks::{
    MAX_TICK, decode_ticks, encode_ticks, grid_decimals, price_to_tick, tick_to_price,
};
use tfmm_data::{Series, read_series, write_ticks};

/// A small deterministic generator (splitmix64), enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` for test data.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The decimal text of `tick / 10^decimals`, written out digit by digit.
fn decimal_text(tick: i64, decimals: u8) -> String {
    let digits = tick.unsigned_abs().to_string();
    let d = usize::from(decimals);
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (int, frac) = padded.split_at(padded.len() - d);
    let sign = if tick < 0 { "-" } else { "" };
    if d == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// The claim the format rests on: dividing the exact tick by the exact power
/// of ten gives the same float64 as parsing the decimal text.
#[test]
fn tick_division_equals_parsing_the_decimal_text() {
    let mut rng = Rng(42);
    let mut checked = 0;
    for decimals in 0..=18u8 {
        for _ in 0..20_000 {
            // Mix magnitudes: small ticks, mid-size, and up to 2^53.
            let bits = 1 + rng.next() % 53;
            let tick = (rng.next() % (1u64 << bits)) as i64;
            let tick = if rng.below(2) == 0 { tick } else { -tick };
            let text = decimal_text(tick, decimals);
            let parsed: f64 = text.parse().unwrap();
            assert_eq!(
                tick_to_price(tick, decimals).to_bits(),
                parsed.to_bits(),
                "{text}"
            );
            checked += 1;
        }
    }
    for tick in [MAX_TICK, -MAX_TICK, MAX_TICK - 1, 1, 0] {
        for decimals in 0..=18u8 {
            let parsed: f64 = decimal_text(tick, decimals).parse().unwrap();
            assert_eq!(tick_to_price(tick, decimals).to_bits(), parsed.to_bits());
        }
    }
    assert!(checked > 300_000);
}

#[test]
fn price_to_tick_inverts_tick_to_price() {
    let mut rng = Rng(7);
    for _ in 0..50_000 {
        let decimals = (rng.next() % 9) as u8;
        let tick = (rng.next() % (1 << 40)) as i64 + 1;
        let price = tick_to_price(tick, decimals);
        assert_eq!(price_to_tick(price, decimals), Some(tick));
    }
}

fn minute_series(n: usize, seed: u64, decimals: u8) -> Series {
    let mut rng = Rng(seed);
    let mut t = 1_640_995_200_000i64;
    let mut tick = 4_000_000i64;
    let mut s = Series::default();
    for _ in 0..n {
        s.unix_ms.push(t);
        s.close.push(tick_to_price(tick, decimals));
        // Mostly consecutive minutes, sometimes a gap of up to a day.
        t += 60_000
            * if rng.below(50) == 0 {
                1 + (rng.next() % 1440) as i64
            } else {
                1
            };
        tick = (tick + (rng.next() % 20_001) as i64 - 10_000).max(1);
    }
    s
}

#[test]
fn write_then_read_round_trips_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    for (n, decimals) in [(1, 0), (2, 2), (1000, 2), (5000, 8), (300, 18)] {
        let s = minute_series(n, n as u64, decimals);
        let p = tmp.path().join(format!("X{n}.ticks"));
        write_ticks(&p, &s, decimals).unwrap();
        let back = read_series(&p).unwrap();
        assert_eq!(back.unix_ms, s.unix_ms);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.close), bits(&s.close));
        assert_eq!(grid_decimals(&s.close).map(|d| d <= decimals), Some(true));
    }
}

#[test]
fn archive_is_much_smaller_than_csv_gz() {
    let tmp = tempfile::tempdir().unwrap();
    let s = minute_series(20_000, 3, 2);
    let p = tmp.path().join("A.ticks");
    write_ticks(&p, &s, 2).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    for (t, c) in s.unix_ms.iter().zip(&s.close) {
        writeln!(gz, "{t},{c}").unwrap();
    }
    let csv_gz = gz.finish().unwrap().len();
    let ticks = std::fs::metadata(&p).unwrap().len() as usize;
    assert!(ticks * 2 < csv_gz, "ticks {ticks} bytes vs csv.gz {csv_gz}");
}

#[test]
fn write_rejects_values_off_the_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("BTC.ticks");
    let s = Series {
        unix_ms: vec![0, 60_000, 120_000],
        close: vec![1.0, 1.005, 1.01],
    };
    let e = write_ticks(&p, &s, 2).unwrap_err().to_string();
    assert!(
        e.contains("BTC.ticks row 2: close = 1.005 is not on the 2-decimal tick grid"),
        "{e}"
    );
    assert!(!p.exists(), "nothing is written on error");
}

#[test]
fn write_rejects_what_readers_would_reject() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("T.ticks");
    let cases = [
        (Series::default(), "contains no data rows"),
        (
            Series {
                unix_ms: vec![0, 60_000],
                close: vec![1.0],
            },
            "series has 2 timestamps but 1 closes",
        ),
        (
            Series {
                unix_ms: vec![0, 0],
                close: vec![1.0, 1.0],
            },
            "row 2: unix_ms = 0 repeats the previous timestamp",
        ),
        (
            Series {
                unix_ms: vec![0, 90_000],
                close: vec![1.0, 1.0],
            },
            "row 2: unix_ms = 90000 is not on a whole minute",
        ),
        (
            Series {
                unix_ms: vec![0],
                close: vec![-2.0],
            },
            "row 1: close = -2 is not a positive price",
        ),
    ];
    for (s, want) in cases {
        let e = write_ticks(&p, &s, 2).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
    let e = write_ticks(&p, &minute_series(3, 1, 2), 19)
        .unwrap_err()
        .to_string();
    assert!(e.contains("decimals = 19 exceeds the maximum of 18"), "{e}");
}

fn stream(series: &Series, decimals: u8) -> Vec<u8> {
    encode_ticks(series, decimals, Path::new("t")).unwrap()
}

fn decode_err(bytes: &[u8]) -> String {
    decode_ticks(bytes, Path::new("X.ticks"))
        .unwrap_err()
        .to_string()
}

#[test]
fn decode_errors_on_bad_headers() {
    let good = stream(&minute_series(10, 5, 2), 2);
    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    assert!(decode_err(&bad_magic).contains("not a tick archive: magic is \"XFMMTCK1\""));
    assert!(
        decode_err(&good[..5])
            .contains("truncated tick archive: stream ends inside the header's magic")
    );
    assert!(decode_err(&good[..20]).contains("header's step_ms"));
    let mut decimals = good.clone();
    decimals[8] = 40;
    assert!(decode_err(&decimals).contains("decimals = 40 exceeds the maximum of 18"));
    let mut step = good.clone();
    step[17..21].copy_from_slice(&0u32.to_le_bytes());
    assert!(decode_err(&step).contains("step_ms = 0"));
    let mut zero_rows = good[..37].to_vec();
    zero_rows[21..29].copy_from_slice(&0u64.to_le_bytes());
    assert!(decode_err(&zero_rows).contains("X.ticks: contains no data rows"));
    let mut huge = good.clone();
    huge[21..29].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = decode_err(&huge);
    assert!(
        e.contains("truncated tick archive: n_rows = 18446744073709551615"),
        "{e}"
    );
}

#[test]
fn decode_errors_on_bad_bodies() {
    let s = minute_series(10, 5, 2);
    let good = stream(&s, 2);
    // Every proper prefix of the body is an error naming a row or the count.
    for cut in 37..good.len() {
        let e = decode_err(&good[..cut]);
        assert!(e.contains("truncated tick archive"), "cut {cut}: {e}");
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(decode_err(&trailing).contains("1 unexpected byte(s) after the last row"));

    // A first tick of zero decodes to a price the readers reject.
    let mut zero = good.clone();
    zero[29..37].copy_from_slice(&0i64.to_le_bytes());
    let e = decode_err(&zero);
    assert!(
        e.contains("X.ticks row 1: close = 0 is not a positive price"),
        "{e}"
    );

    let mut big = good.clone();
    big[29..37].copy_from_slice(&(MAX_TICK + 1).to_le_bytes());
    assert!(
        decode_err(&big)
            .contains("row 1: corrupt tick archive: tick 9007199254740993 exceeds 2^53")
    );

    // Time gap varint of 2^63 overflows the timestamp.
    let mut overflow = good[..37].to_vec();
    overflow[21..29].copy_from_slice(&2u64.to_le_bytes());
    overflow.extend_from_slice(&[
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00,
    ]);
    let e = decode_err(&overflow);
    assert!(
        e.contains("X.ticks row 2: corrupt tick archive: timestamp overflows"),
        "{e}"
    );

    let mut long = good[..37].to_vec();
    long[21..29].copy_from_slice(&2u64.to_le_bytes());
    long.extend_from_slice(&[0xff; 11]);
    long.push(0);
    let e = decode_err(&long);
    assert!(
        e.contains("row 2: corrupt tick archive: varint in the time column exceeds 64 bits"),
        "{e}"
    );
}

#[test]
fn corrupt_or_truncated_files_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("ETH.ticks");
    write_ticks(&p, &minute_series(2000, 9, 3), 3).unwrap();
    let bytes = std::fs::read(&p).unwrap();

    let q = tmp.path().join("cut.ticks");
    std::fs::write(&q, &bytes[..bytes.len() - 100]).unwrap();
    let e = read_series(&q).unwrap_err().to_string();
    assert!(e.contains("cut.ticks: truncated tick archive"), "{e}");

    std::fs::write(&q, b"TFMMTCK1 not gzip").unwrap();
    let e = read_series(&q).unwrap_err().to_string();
    assert!(e.contains("cut.ticks: corrupt tick archive: gzip"), "{e}");

    // Flip bytes through the whole file: always an error or a valid series
    // (CRC32 catches nearly all), never a panic.
    for pos in (0..bytes.len()).step_by(13) {
        let mut b = bytes.clone();
        b[pos] ^= 0x21;
        std::fs::write(&q, &b).unwrap();
        if let Ok(s) = read_series(&q) {
            assert!(!s.is_empty());
        }
    }
}
